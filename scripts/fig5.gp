# Fig. 5: FLOP efficiency (FLOPs a cached prefix saves per byte of state) by length and layer mix.
load 'scripts/fig_common.gp'
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 560, 400)
  set output sprintf("%s/fig5.%s", out, fmt)
  set title "FLOP efficiency by sequence length, (SSM, attention) layers"
  set logscale xy; set xlabel "sequence length (tokens)"; set ylabel "FLOPs saved per byte of state"
  set key bottom right
  plot for [i=2:6] data.'/fig5.dat' using 1:i with linespoints ls (i-1) title columnhead(i)
  unset output
}
