# Fig. 9: P95 TTFT reduction against no caching, by arrival rate.
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 1260, 380)
  set output sprintf("%s/fig9.%s", out, fmt)
  set multiplot layout 1,3 title "P95 TTFT (prefill) reduction vs. no caching (mean over capacities, Jamba profile)"
  set logscale x; set xrange [0.2:12]; set xlabel "sessions per second"; set ylabel "P95 TTFT reduction (%)"; set yrange [*:*]
  names = "LMSys-like ShareGPT-like SWE-bench-like"
  do for [k=1:3] {
    ds = word("lmsys sharegpt swebench", k)
    set title word(names, k)
    plot data.'/fig9_'.ds.'.dat' using 1:($2*100) with linespoints ls 1 title "vLLM+", \
         '' using 1:($3*100) with linespoints ls 2 title "SGLang+", \
         '' using 1:($4*100) with linespoints ls 3 title "Marconi"
  }
  unset multiplot; unset output
}
