# Fig. 13: arrival rate (SWE-bench, 7.5 s between turns, 100 GB).
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 560, 400)
  set output sprintf("%s/fig13.%s", out, fmt)
  set title "Arrival rate (SWE-bench, 7.5 s between turns, 100 GB)"
  set style data histogram; set style histogram clustered gap 1; set style fill solid 0.9 border -1
  set xlabel "sessions per second"; set ylabel "token hit rate (%)"; set yrange [0:*]
  plot data.'/fig13.dat' using ($4*100):xtic(2) title "SGLang+" lc rgb '#e66101', '' using ($3*100) title "Marconi" lc rgb '#1f78b4'
  unset output
}
