#!/bin/sh
# replay-bench.sh PVMMU [REPEAT] - how fast pvmmu replays each record under build/linux/ (make linux-trace):
# the median of REPEAT runs (default 5) of the replay itself (events and validated entries per second, as
# `pvmmu replay` measures them) and of the whole command (reading the record, the initial state, the audit).
set -u
P=$1
n=${2:-5}
recs=$(ls build/linux/trace-*.txt 2>/dev/null)
[ -n "$recs" ] || { echo "replay-bench: no record under build/linux/ (make linux-trace)"; exit 0; }
for rec in $recs; do
    runs=""
    i=0
    while [ $i -lt "$n" ]; do
        t0=$(date +%s%N)
        line=$("$P" replay "$rec" | sed -n 's/^replay: //p')
        t1=$(date +%s%N)
        [ -n "$line" ] || { echo "replay-bench: $rec does not replay (run pvmmu replay $rec)"; exit 1; }
        runs="$runs$(echo "$line" | awk '{print $1}') $(( (t1 - t0) / 1000000 )) $line
"
        i=$((i + 1))
    done
    med=$(printf '%s' "$runs" | sort -n -k1,1 | sed -n "$(( (n + 1) / 2 ))p")
    whole=$(printf '%s' "$runs" | sort -n -k2,2 | sed -n "$(( (n + 1) / 2 ))p" | awk '{print $2}')
    echo "replay $(basename "$rec"), median of $n: $(echo "$med" | cut -d' ' -f3-); the whole command $whole ms"
done
