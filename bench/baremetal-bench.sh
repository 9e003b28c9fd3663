#!/bin/sh
# baremetal-bench.sh - boot-to-exit wall time of every policy on pvmmu's own hypervisor under QEMU
# (QEMU start, firmware, hypervisor, domain build, the guest's boot, exit), as medians of REPEAT runs.
# Usage: BUILD=build bench/baremetal-bench.sh [MEM_MiB [REPEAT]]   (defaults 128, 5)
set -u
BUILD=${BUILD:-build}
MEM=${1:-128}; REPEAT=${2:-5}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
printf 'pvmmu hypervisor under QEMU (TCG), %s MiB guest, median of %s boots\n' "$MEM" "$REPEAT"
printf '%-16s %10s %10s %10s\n' policy "median ms" "min ms" "max ms"
sum=0
# Every policy the CLI knows (pvmmu policies), then the hardware attacks.
for p in $("$BUILD/pvmmu" policies | cut -f1) attack; do
    arg="guest=$p"; [ $p = attack ] && arg=attack
    times=""
    for i in $(seq "$REPEAT"); do
        t0=$(date +%s%N)
        ./scripts/baremetal-run.sh "$BUILD/baremetal/hv.bin" "$BUILD/xen/dom0.elf $arg" "$MEM" > /dev/null
        rc=$?
        [ $rc -eq 33 ] || [ $rc -eq 3 ] || { echo "baremetal-bench: $p exited $rc"; exit 1; }
        times="$times $(( ($(date +%s%N) - t0) / 1000000 ))"
    done
    med=$(printf '%s\n' $times | median)
    sum=$((sum + med))
    printf '%-16s %10s %10s %10s\n' "$p" "$med" "$(printf '%s\n' $times | sort -n | head -n 1)" "$(printf '%s\n' $times | sort -n | tail -n 1)"
done
printf '%-16s %10s\n' "all 9" "$sum"
