# Fig. 8: Marconi's token hit rate over SGLang+'s, by arrival rate.
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 560, 400)
  set output sprintf("%s/fig8.%s", out, fmt)
  set title "Marconi over SGLang+ (mean over capacities)"
  set logscale x; set xlabel "sessions per second"; set ylabel "token hit rate gain (%)"
  plot data.'/fig7_lmsys.dat' using 1:($3*100) with linespoints ls 1 title "LMSys", \
       data.'/fig7_sharegpt.dat' using 1:($3*100) with linespoints ls 2 title "ShareGPT", \
       data.'/fig7_swebench.dat' using 1:($3*100) with linespoints ls 3 title "SWE-bench"
  unset output
}
