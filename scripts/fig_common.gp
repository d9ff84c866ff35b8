# fig_common.gp -- shared look of the figures (loaded by every fig*.gp).
set style line 1 lc rgb '#999999' lw 2 pt 5 ps 0.8   # vLLM+
set style line 2 lc rgb '#e66101' lw 2 pt 7 ps 0.8   # SGLang+
set style line 3 lc rgb '#1f78b4' lw 2 pt 9 ps 0.9   # Marconi
set style line 4 lc rgb '#1f78b4' lw 1 dt 2 pt 0     # static-alpha oracle
set style line 5 lc rgb '#33a02c' lw 2 pt 11 ps 0.8
set grid ytics lc rgb '#dddddd'
set key bottom right opaque box lc rgb "#cccccc"
set datafile missing "nan"
term(fmt, w, h) = fmt eq "png" ? sprintf("pngcairo size %d,%d font 'DejaVu Sans,10'", w, h) : sprintf("svg size %d,%d font 'DejaVu Sans,10' dynamic", w, h)
