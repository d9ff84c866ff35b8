# regret.gp -- FLOPs saved by LRU and each tuner relative to the best static
# alpha in hindsight, per trace and capacity (scripts/regret.sh's OUT.dat).
#   gnuplot -e "dat='results/regret.dat'; out='results/figures'" scripts/regret.gp
load 'scripts/fig_common.gp'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -45 offset -1,0 font ',8'
set key bottom left opaque box lc rgb "#cccccc"
set ylabel "FLOPs saved vs best static α (%)"
set yrange [-60:20]
set grid ytics
ncol = 6
do for [fmt in "png svg"] {
  eval "set terminal ".term(fmt, 900, 420)
  set output sprintf("%s/regret.%s", out, fmt)
  set title "Regret: each method against the best static α in hindsight (logical timing)"
  plot for [i=2:ncol] dat using i:xtic(1) title columnheader(i)
  unset output
}
