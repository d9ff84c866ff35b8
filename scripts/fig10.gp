# Fig. 10: token hit rate and TTFT by input length (SWE-bench).
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 1000, 380)
  set output sprintf("%s/fig10.%s", out, fmt)
  set multiplot layout 1,2 title "By input length (SWE-bench, 1 session/s, 7.5 s, 60 GB)"
  set xlabel "input length (thousand tokens)"; set style fill solid 0.8 border -1; set boxwidth 0.4 relative
  set title "token hit rate"; set ylabel "token hit rate (%)"; set yrange [0:*]
  plot data.'/fig10.dat' using (($1+$2)/2000):($4*100) with linespoints ls 2 title "SGLang+", \
       '' using (($1+$2)/2000):($3*100) with linespoints ls 3 title "Marconi"
  set title "P95 TTFT (prefill, Jamba profile)"; set ylabel "P95 TTFT (s)"
  plot data.'/fig10.dat' using (($1+$2)/2000):8 with linespoints ls 2 title "SGLang+", \
       '' using (($1+$2)/2000):7 with linespoints ls 3 title "Marconi"
  unset multiplot; unset output
}
