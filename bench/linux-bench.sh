#!/bin/sh
# linux-bench.sh [MEM [REPEAT]] - Debian's stock Linux (scripts/linux-fetch.sh) booted REPEAT times
# (default 3) as dom0 of real Xen 4.17 (scripts/linux-run.sh, Debian's hypervisor package) and of
# pvmmu's own hypervisor (scripts/linux-hv.sh), the same kernel, initramfs, command line and QEMU
# machine, in one run, alternating: the median wall time from QEMU's start to Linux's power-off,
# and the median of the kernel's own timestamp at "Run /init", for each, and their ratio.
set -u
mem=${1:-256M} n=${2:-3}
BUILD=${BUILD:-build} XEN=${XEN_CACHE:-$BUILD/xen-cache}/xen
for f in "$XEN" "$BUILD/baremetal/hv.bin" "$BUILD/linux/vmlinux" "$BUILD/linux/initrd.gz"; do
    [ -s "$f" ] || { echo "linux-bench: $f is missing (make linux-fetch, make build/baremetal/hv.bin; scripts/xen-fetch.sh)" >&2; exit 1; }
done
case $n in ''|*[!0-9]*|0) echo "linux-bench: REPEAT must be a number, 1 or more" >&2; exit 2 ;; esac
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
i=0
while [ $i -lt "$n" ]; do
    i=$((i + 1))
    t0=$(date +%s.%N)
    ./scripts/linux-run.sh "$XEN" "$BUILD/linux" "$mem" > "$tmp/xen.log" 2>&1 || { echo "linux-bench: real Xen's boot failed ($tmp/xen.log)" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }' >> "$tmp/xen.wall"
    sed -n 's/^.*\[ *\([0-9.]*\)\] Run \/init.*/\1/p' "$tmp/xen.log" | head -n 1 >> "$tmp/xen.init"
    t0=$(date +%s.%N)
    ./scripts/linux-hv.sh "$BUILD/baremetal/hv.bin" "$BUILD/linux" "$mem" "$tmp/hv.log" > /dev/null
    rc=$?
    t1=$(date +%s.%N)
    [ $rc -eq 33 ] || { echo "linux-bench: pvmmu's boot ended with $rc ($tmp/hv.log)" >&2; exit 1; }
    echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }' >> "$tmp/hv.wall"
    sed -n 's/^.*\[ *\([0-9.]*\)\] Run \/init.*/\1/p' "$tmp/hv.log" | head -n 1 >> "$tmp/hv.init"
done
xw=$(median < "$tmp/xen.wall") hw=$(median < "$tmp/hv.wall") xi=$(median < "$tmp/xen.init") hi=$(median < "$tmp/hv.init")
printf 'linux-bench: dom0 %s, %s boots each, medians (QEMU TCG):\n' "$mem" "$n"
printf '  %-22s %12s %12s %8s\n' "" "real Xen 4.17" "pvmmu" "ratio"
printf '  %-22s %11ss %11ss %8s\n' "QEMU start to power-off" "$xw" "$hw" "$(echo "$hw $xw" | awk '{ printf "%.2f", $1 / $2 }')"
printf '  %-22s %11ss %11ss %8s\n' "kernel's 'Run /init'" "$xi" "$hi" "$(echo "$hi $xi" | awk '{ printf "%.2f", $1 / $2 }')"
