# Latency percentiles from an h2load --log-file sorted by its third column, e.g.
#   LC_ALL=C sort -t "$(printf '\t')" -k3,3n LOG | awk -v n="$(wc -l <LOG)" -f bench/latency.awk
# Columns of the log: start time (µs since epoch), HTTP status, µs until the end of the response.
# Prints "p50_ms p99_ms max_ms non2xx" (nearest-rank percentiles over every logged request).
# Plain POSIX awk (Debian's mawk) over sort(1): nothing to build or install, and sorting the
# ~100 000-400 000 rows of one run takes well under a second.
BEGIN {
    FS = "\t"
    if (n <= 0) {
        print "- - - 0"
        exit
    }
    r50 = int(n * 0.50); if (r50 < n * 0.50) r50++
    r99 = int(n * 0.99); if (r99 < n * 0.99) r99++
    if (r50 < 1) r50 = 1
    if (r99 < 1) r99 = 1
}
$2 !~ /^2/ { bad++ }
NR == r50 { p50 = $3 }
NR == r99 { p99 = $3 }
{ last = $3 }
END {
    if (n <= 0)
        exit
    printf "%.3f %.3f %.3f %d\n", p50 / 1000, p99 / 1000, last / 1000, bad + 0
}
