set terminal pngcairo size 1100,800 font ",10" noenhanced
set output "/work/main/bench/load/results/sqlite/soak.png"
set datafile separator ","
set datafile columnheaders
set key outside right
set multiplot layout 2,1 title "vouch soak on sqlite: 70% of peak, 600 s, 100,024 templates"
set grid
set lmargin at screen 0.08
set rmargin at screen 0.80
set xrange [0:600]
set xlabel "seconds"
set ylabel "server RSS (MiB)"
set yrange [0:*]
plot "/work/main/bench/load/results/sqlite/soak.csv" using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb "#1f3b73" title "VmRSS every 10 s"
set ylabel "answered requests/s (2xx), log scale"
set logscale y
set yrange [0.5:*]
plot "/work/main/bench/load/results/sqlite/soak.csv" every ::1 using 1:3 with lines lw 2 lc rgb "#1f77b4" title "session create", \
     "/work/main/bench/load/results/sqlite/soak.csv" every ::1 using 1:4 with lines lw 2 lc rgb "#2ca02c" title "session read", \
     "/work/main/bench/load/results/sqlite/soak.csv" every ::1 using 1:5 with lines lw 2 lc rgb "#9467bd" title "v3 start", \
     "/work/main/bench/load/results/sqlite/soak.csv" every ::1 using 1:6 with lines lw 2 lc rgb "#ff7f0e" dt 2 title "v3 validate", \
     "/work/main/bench/load/results/sqlite/soak.csv" every ::1 using 1:7 with lines lw 2 lc rgb "#d62728" title "1:N verify", \
     "/work/main/bench/load/results/sqlite/soak.csv" every ::1 using 1:($9 > 0 ? $9 : 1/0) with points pt 2 ps 1.5 lc rgb "black" title "errors in the interval"
unset multiplot
