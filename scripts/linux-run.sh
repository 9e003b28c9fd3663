#!/bin/sh
# linux-run.sh XEN LINUX_DIR MEM [RECORD] - boot Debian's stock Linux (scripts/linux-fetch.sh) as
# dom0 of Xen under QEMU, through scripts/xen-run.sh.  MEM is dom0's memory: 256M, 2G, or MiB.
#
# Without RECORD: the console (Xen's and Linux's) on the terminal; the exit status is QEMU's.
# With RECORD: XEN must be the recording hypervisor (scripts/xen-debug-build.sh --trace); the
# record (docs/trace.md) goes to RECORD, the serial console to RECORD's name with .log for .txt,
# and the script prints the record's size, lines and the boot's wall time.  A record that does
# not reach /init's last marker is left as RECORD.part, and the script fails.
#
# QEMU's CPU is qemu64 with NX: with -cpu max, Linux dies at its first exception bounce (SMAP).
# QEMU's memory is dom0's plus 768 MiB, at least 1 GiB.  A record is made with -icount (QEMU's
# clocks follow the instructions executed, not the host's clock) and a fixed, virtual-time RTC:
# timer interrupts, and so Xen's preemption points, the kernel's timestamps and its random seeds,
# then come out the same in every run, and two records are byte-identical.  LINUX_ICOUNT=0 turns
# that off (faster; preemption points and everything after the first one then vary).
# LINUX_TIMEOUT (seconds, default 900) bounds a run.
set -eu
[ $# -ge 3 ] || { echo "usage: linux-run.sh XEN LINUX_DIR MEM [RECORD]" >&2; exit 2; }
xen=$1 ldir=$2 mem=$3 rec=${4:-}
case $mem in
    *[Gg]) mib=$(( ${mem%[Gg]} * 1024 )) ;;
    *[Mm]) mib=${mem%[Mm]} ;;
    *)     mib=$mem ;;
esac
case $mib in ''|*[!0-9]*) echo "linux-run: bad memory size '$mem' (expected 256M, 2G or a number of MiB)" >&2; exit 2 ;; esac
[ "$mib" -ge 192 ] || { echo "linux-run: dom0 needs at least 192M for this kernel (asked: $mem)" >&2; exit 2; }
for f in "$xen" "$ldir/vmlinux" "$ldir/initrd.gz"; do
    [ -s "$f" ] || { echo "linux-run: $f is missing" >&2; exit 1; }
done
ram=$(( mib + 768 )); [ $ram -ge 1024 ] || ram=1024
export XEN_RUN_CPU=qemu64,+nx XEN_RUN_RAM=${ram}M XEN_RUN_TIMEOUT=${LINUX_TIMEOUT:-900}
kernel="$ldir/vmlinux console=hvc0 earlyprintk=xen panic=-1,$ldir/initrd.gz"

if [ -z "$rec" ]; then
    exec ./scripts/xen-run.sh "$xen" "$kernel" "$mib"
fi

log=${rec%.txt}.log
rm -f "$rec" "$rec.part"
set --
[ "${LINUX_ICOUNT:-1}" = 1 ] && set -- -icount shift=0,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm
t0=$(date +%s.%N)
rc=0
XEN_RUN_ARGS=pvtrace ./scripts/xen-run.sh "$xen" "$kernel" "$mib" "$@" -debugcon "file:$rec.part" \
    > "$log.raw" || rc=$?
t1=$(date +%s.%N)
tr -d '\r' < "$log.raw" > "$log" && rm -f "$log.raw"
secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
if ! head -1 "$rec.part" 2>/dev/null | grep -qx 'pvmmu-trace 2' || ! grep -qx 'con pvmmu-init: done' "$rec.part" ||
   [ "$(tail -1 "$rec.part")" != end ]; then
    echo "linux-run: FAILED: the record does not reach /init's last marker (QEMU exit $rc after $secs s);" \
         "partial record $rec.part, console $log" >&2
    exit 1
fi
mv "$rec.part" "$rec"
echo "linux-run: $rec: $(wc -c < "$rec") bytes, $(wc -l < "$rec") lines; boot to power-off $secs s" \
     "(dom0 $mib MiB$( [ "${LINUX_ICOUNT:-1}" = 1 ] && echo ', -icount'); console in $log)"
