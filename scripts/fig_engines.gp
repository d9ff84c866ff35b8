# fig_engines.gp -- token hit rate against capacity, a panel a workload:
# the engines' real rules (dashed) beside the paper's systems (solid).
# Called by scripts/engines_sweep.sh with fmt, out and dat set.
load 'scripts/fig_common.gp'
eval "set terminal ".term(fmt, 1200, 380)
set output out
set multiplot layout 1,3
set logscale x
set xlabel "cache capacity (GB)"
set ylabel "token hit rate (%)"
set yrange [0:100]
set key bottom right font ",8"
names = "lmsys sharegpt swebench"
do for [i=0:2] {
  set title word(names, i+1)
  plot dat index i using 1:2 with linespoints ls 1 title "vLLM+", \
       ''  index i using 1:3 with linespoints ls 1 dt 2 title "vllm:align", \
       ''  index i using 1:4 with linespoints ls 2 title "SGLang+", \
       ''  index i using 1:5 with linespoints ls 2 dt 2 title "sglang:extra\\_buffer", \
       ''  index i using 1:6 with linespoints ls 3 title "Marconi"
}
unset multiplot
