# Fig. 11: cache contention: token hit rate by capacity (SWE-bench, 5 sessions/s, 10 s).
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 560, 400)
  set output sprintf("%s/fig11.%s", out, fmt)
  set title "Contention (SWE-bench, 5 sessions/s, 10 s between turns)"
  set xlabel "cache capacity (GB)"; set ylabel "token hit rate (%)"; set yrange [0:*]
  plot data.'/fig11.dat' using 2:($4*100) with linespoints ls 2 title "SGLang+", \
       '' using 2:($3*100) with linespoints ls 3 title "Marconi"
  unset output
}
