# Fig. 3a: share of vLLM+'s cached KV blocks and SSM states ever reused.
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 520, 380)
  set output sprintf("%s/fig3a.%s", out, fmt)
  set title "What vLLM+ caches and later reuses (LMSys, 5 GB)"
  set style data histogram; set style histogram clustered gap 1; set style fill solid 0.9 border -1
  set ylabel "share ever reused (%)"; set xlabel "block size (tokens)"; set yrange [0:*]; set key top left
  plot data.'/fig3a.dat' using ($2*100):xtic(1) title "KV blocks" lc rgb '#e66101', \
       '' using ($3*100) title "SSM states" lc rgb '#1f78b4'
  unset output
}
