#!/bin/sh
# linux-hv.sh HV LINUX_DIR MEM [LOG] - boot Debian's stock Linux (scripts/linux-fetch.sh) as dom0 of
# pvmmu's own hypervisor (HV, build/baremetal/hv.bin) under QEMU: the same kernel, initramfs, kernel
# command line and QEMU machine as scripts/linux-run.sh gives real Xen.  MEM is dom0's memory: 256M,
# 2G (at most 3G: the hypervisor's direct map covers 4 GiB) or MiB.
#
# Without LOG the console (the hypervisor's and Linux's) is on the terminal; with LOG it goes to LOG
# and the script prints one line: how far Linux got, the hypervisor's verdict and the wall time.
# The exit status is QEMU's: 33 when the guest powered off and the auditor was clean (see
# docs/hypervisor.md for the others).  LINUX_HV_AUDIT=each runs the auditor after every PV MMU
# operation and emulated store (=to-memory: until Linux's "Memory:" line); LINUX_HV_ARGS adds hypervisor options (withhold=NAME, boot_anyway,
# verbose); LINUX_HV_RAM sets QEMU's memory in MiB (default: dom0's + 768, at least 1024, as for real Xen);
# LINUX_TIMEOUT (seconds, default 600) bounds a run.
set -u
[ $# -ge 3 ] || { echo "usage: linux-hv.sh HV LINUX_DIR MEM [LOG]" >&2; exit 2; }
hv=$1 ldir=$2 mem=$3 log=${4:-}
case $mem in
    *[Gg]) mib=$(( ${mem%[Gg]} * 1024 )) ;;
    *[Mm]) mib=${mem%[Mm]} ;;
    *)     mib=$mem ;;
esac
case $mib in ''|*[!0-9]*) echo "linux-hv: bad memory size '$mem' (expected 256M, 2G or a number of MiB)" >&2; exit 2 ;; esac
[ "$mib" -ge 192 ] && [ "$mib" -le 3072 ] || {
    echo "linux-hv: dom0 memory must be 192M to 3G for this kernel on this hypervisor (asked: $mem)" >&2; exit 2; }
for f in "$hv" "$ldir/vmlinux" "$ldir/initrd.gz"; do
    [ -s "$f" ] || { echo "linux-hv: $f is missing (make linux-fetch, make build/baremetal/hv.bin)" >&2; exit 1; }
done
ram=$(( mib + 768 )); [ $ram -ge 1024 ] || ram=1024
[ $ram -le 4000 ] || ram=4000
ram=${LINUX_HV_RAM:-$ram}   # QEMU's memory in MiB (a smaller machine makes audit=each faster)
args="mem=$mib privileged${LINUX_HV_AUDIT:+ audit=$LINUX_HV_AUDIT}${LINUX_HV_ARGS:+ $LINUX_HV_ARGS}"
run() {
    timeout "${LINUX_TIMEOUT:-600}" qemu-system-x86_64 -cpu qemu64,+nx -m ${ram}M -serial stdio -display none \
        -no-reboot -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$hv" \
        -initrd "$ldir/vmlinux console=hvc0 earlyprintk=xen panic=-1,$ldir/initrd.gz" -append "$args"
}
if [ -z "$log" ]; then
    run
    exit $?
fi
t0=$(date +%s.%N)
run > "$log.raw" 2>&1
rc=$?
t1=$(date +%s.%N)
tr -d '\r' < "$log.raw" > "$log" && rm -f "$log.raw"
secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
reached="nothing"
grep -q '^mapping kernel into physical memory' "$log" && reached="xen_start_kernel"
grep -q 'Memory: [0-9]*K/' "$log" && reached="'Memory:'"
grep -q 'Run /init as init process' "$log" && reached="/init"
grep -qx 'pvmmu-init: done' "$log" && reached="/init's last marker"
verdict=$(grep -m1 -E "^pvmmu hv: (the guest |PANIC)|^hv: " "$log" || echo "no verdict from the hypervisor")
echo "linux-hv: dom0 $mib MiB on pvmmu's hypervisor: reached $reached; $verdict; $(grep -m1 '^hv audit' "$log" || echo 'no audit line'); QEMU exit $rc after $secs s (console in $log)"
exit $rc
