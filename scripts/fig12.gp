# Fig. 12: (a) layer composition, (b) SSM state size.
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 1000, 380)
  set output sprintf("%s/fig12.%s", out, fmt)
  set multiplot layout 1,2 title "Model shape (SWE-bench, 1 session/s, 7.5 s, 60 GB)"
  set style data histogram; set style histogram clustered gap 1; set style fill solid 0.9 border -1
  set ylabel "token hit rate (%)"; set yrange [0:*]
  set title "(a) (SSM, attention) layers"
  plot data.'/fig12a.dat' using ($5*100):xtic(2) title "vLLM+" lc rgb '#999999', '' using ($4*100) title "SGLang+" lc rgb '#e66101', \
       '' using ($3*100) title "Marconi" lc rgb '#1f78b4'
  set title "(b) SSM state size"
  plot data.'/fig12b.dat' using ($5*100):xtic(2) title "vLLM+" lc rgb '#999999', '' using ($4*100) title "SGLang+" lc rgb '#e66101', \
       '' using ($3*100) title "Marconi" lc rgb '#1f78b4'
  unset multiplot; unset output
}
