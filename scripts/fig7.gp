# Fig. 7: token hit rate by arrival rate, Marconi against vLLM+ (and SGLang+, the static-alpha oracle).
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 1260, 380)
  set output sprintf("%s/fig7.%s", out, fmt)
  set multiplot layout 1,3 title "Token hit rate (mean over capacities) by sessions per second"
  set logscale x; set xrange [0.2:12]; set xlabel "sessions per second"; set ylabel "token hit rate (%)"; set yrange [0:*]
  names = "LMSys-like ShareGPT-like SWE-bench-like"
  do for [k=1:3] {
    ds = word("lmsys sharegpt swebench", k)
    set title word(names, k)
    plot data.'/fig7_'.ds.'.dat' using 1:($4*100) with linespoints ls 1 title "vLLM+", \
         '' using 1:($5*100) with linespoints ls 2 title "SGLang+", \
         '' using 1:($6*100) with linespoints ls 3 title "Marconi", \
         '' using 1:($7*100) with lines ls 4 title "static-alpha oracle"
  }
  unset multiplot; unset output
}
