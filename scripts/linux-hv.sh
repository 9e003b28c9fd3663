#!/bin/sh
# linux-hv.sh HV LINUX_DIR MEM [LOG] - boot Debian's stock Linux (scripts/linux-fetch.sh) as dom0 of
# pvmmu's own hypervisor (HV, build/baremetal/hv.bin) under QEMU: the same kernel, initramfs, kernel
# command line and QEMU machine as scripts/linux-run.sh gives real Xen.  MEM is dom0's memory: 256M,
# 2G or a number of MiB, from 192M to 2816M (the hypervisor's direct map covers the first 4 GiB, of
# which QEMU's pc machine gives at most about 3 GiB as RAM).
#
# Without LOG the console (the hypervisor's and Linux's) is on the terminal; with LOG it goes to LOG
# and the script prints one line: how far Linux got, the hypervisor's verdict and the wall time.
# Exit status: QEMU's (33: Linux powered off and the auditor was clean; 7: the guest crashed or
# stopped for good; 5: the hypervisor stopped; docs/hypervisor.md), 124 when LINUX_TIMEOUT cut the
# run short (the log is then partial), 2 for bad usage, 1 for a missing input or a QEMU that could
# not start.
#
# LINUX_HV_AUDIT=each runs the auditor after every PV MMU operation and emulated store
# (=to-memory: until Linux's "Memory:" line); LINUX_HV_ARGS adds hypervisor options (withhold=NAME,
# boot_anyway, verbose); LINUX_HV_RAM sets QEMU's memory in MiB (default: dom0's + 768, at least
# 1024, at most 3584, as for real Xen; a smaller machine makes audits faster); LINUX_TIMEOUT
# (seconds, default 600) bounds a run.
set -u
usage() { echo "linux-hv: $*" >&2; exit 2; }
[ $# -ge 3 ] && [ $# -le 4 ] || usage "usage: linux-hv.sh HV LINUX_DIR MEM [LOG]"
hv=$1 ldir=$2 mem=$3 log=${4:-}

# number TEXT: TEXT as a decimal number without leading zeros, or empty if it is not one.
number() {
    case $1 in ''|*[!0-9]*) return ;; esac
    n=$(printf '%s' "$1" | sed 's/^0*//')
    printf '%s' "${n:-0}"
}
case $mem in
    *[Gg]) mib=$(number "${mem%[Gg]}"); [ -n "$mib" ] && [ ${#mib} -le 6 ] && mib=$((mib * 1024)) ;;
    *[Mm]) mib=$(number "${mem%[Mm]}") ;;
    *)     mib=$(number "$mem") ;;
esac
[ -n "$mib" ] && [ ${#mib} -le 9 ] || usage "bad memory size '$mem' (expected 256M, 2G or a number of MiB)"
[ "$mib" -ge 192 ] && [ "$mib" -le 2816 ] ||
    usage "dom0 memory must be 192M to 2816M for this kernel on this hypervisor (asked: $mem)"
case ${LINUX_HV_AUDIT:-} in ''|each|to-memory) ;; *) usage "LINUX_HV_AUDIT must be each or to-memory (got '$LINUX_HV_AUDIT')" ;; esac
timeout_s=$(number "${LINUX_TIMEOUT:-600}")
[ -n "$timeout_s" ] && [ "$timeout_s" -ge 1 ] || usage "LINUX_TIMEOUT must be a number of seconds, 1 or more (got '${LINUX_TIMEOUT:-}')"
ram=$(( mib + 768 )); [ $ram -ge 1024 ] || ram=1024
[ $ram -le 3584 ] || ram=3584
if [ -n "${LINUX_HV_RAM:-}" ]; then
    ram=$(number "$LINUX_HV_RAM")
    [ -n "$ram" ] && [ ${#ram} -le 5 ] && [ "$ram" -ge 256 ] && [ "$ram" -le 3584 ] ||
        usage "LINUX_HV_RAM must be QEMU's memory in MiB, 256 to 3584 (got '$LINUX_HV_RAM')"
fi
for f in "$hv" "$ldir/vmlinux" "$ldir/initrd.gz"; do
    case $f in *,*|*' '*) usage "$f: QEMU cannot take a path with a comma or a space" ;; esac
    [ -f "$f" ] && [ -s "$f" ] || { echo "linux-hv: $f is missing or empty (make linux-fetch; make build/baremetal/hv.bin)" >&2; exit 1; }
done
if [ -n "$log" ]; then
    [ ! -d "$log" ] || usage "$log is a directory (LOG is the console's file)"
    rm -f "$log" "$log.raw" 2>/dev/null
    touch "$log.raw" 2>/dev/null && [ ! -e "$log" ] ||
        { echo "linux-hv: cannot write $log (or $log.raw): check its directory" >&2; exit 2; }
fi
case " ${LINUX_HV_ARGS:-} " in
    *" mem="*|*" privileged "*|*" audit="*) usage "LINUX_HV_ARGS may not set mem=, privileged or audit= (MEM and LINUX_HV_AUDIT do)" ;;
esac
args="mem=$mib privileged${LINUX_HV_AUDIT:+ audit=$LINUX_HV_AUDIT}${LINUX_HV_ARGS:+ $LINUX_HV_ARGS}"
run() {
    timeout "$timeout_s" qemu-system-x86_64 -cpu qemu64,+nx -m ${ram}M -serial stdio -display none \
        -no-reboot -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$hv" \
        -initrd "$ldir/vmlinux console=hvc0 earlyprintk=xen panic=-1,$ldir/initrd.gz" -append "$args"
}
if [ -z "$log" ]; then
    run
    rc=$?
    [ $rc -ne 124 ] || echo "linux-hv: stopped after LINUX_TIMEOUT=$timeout_s s" >&2
    exit $rc
fi
t0=$(date +%s.%N)
run > "$log.raw" 2>&1
rc=$?
t1=$(date +%s.%N)
if ! tr -d '\r' < "$log.raw" > "$log" || ! rm -f "$log.raw"; then
    echo "linux-hv: could not write the console to $log (QEMU exit $rc; what there is stays in $log.raw)" >&2
    exit 1
fi
secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
reached="nothing"
grep -q '^mapping kernel into physical memory' "$log" && reached="xen_start_kernel"
grep -q 'Memory: [0-9]*K/' "$log" && reached="'Memory:'"
grep -q 'Run /init as init process' "$log" && reached="/init"
grep -qx 'pvmmu-init: done' "$log" && reached="/init's last marker"
verdict=$(grep -m1 -E "^pvmmu hv: (the guest |PANIC)|^hv: the guest|^hv: guest" "$log" | cut -c1-160)
qerr=$(grep -m1 -E '^qemu(-system-x86_64)?:' "$log")
if [ $rc -eq 124 ]; then
    verdict="stopped after LINUX_TIMEOUT=$timeout_s s: the log is partial"
elif [ -n "$qerr" ] && [ -z "$verdict" ]; then
    verdict="QEMU: ${qerr#*: }"
    [ $rc -ne 0 ] || rc=1
fi
echo "linux-hv: dom0 $mib MiB on pvmmu's hypervisor: reached $reached; ${verdict:-no verdict from the hypervisor};" \
     "$(grep -m1 '^hv audit' "$log" || echo 'no audit line'); QEMU exit $rc after $secs s (console in $log)"
exit $rc
