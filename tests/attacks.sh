#!/bin/sh
# attacks.sh - attacks only hardware shows, run by our PV kernel ("attack" mode of platform/xen/dom0.c)
# on pvmmu's own hypervisor and, when its image is there, on real Xen 4.17: stores into its own L4,
# L3 and L2 take real #PFs; a store into its own L1 is emulated when safe and refused when it would
# map the L4 writable; a remap without a flush leaves the CPU's stale TLB entry until INVLPG.
# Both must give every expected result, and the same lines.  Usage: BUILD=build tests/attacks.sh
set -u
BUILD=${BUILD:-build}
XEN=${XEN_CACHE:-$BUILD/xen-cache}/xen
./scripts/baremetal-run.sh "$BUILD/baremetal/hv.bin" "$BUILD/xen/dom0.elf attack" 64 > "$BUILD/baremetal/attacks.raw"; rc=$?
tr -d '\r' < "$BUILD/baremetal/attacks.raw" > "$BUILD/baremetal/attacks.log"
hv=$(grep '^attack ' "$BUILD/baremetal/attacks.log")
n=$(printf '%s\n' "$hv" | grep -c '^attack ')
printf '%s\n' "$hv" | sed 's/^/  /'
fail=0
[ $rc -eq 33 ] || { echo "attacks: FAILED on pvmmu's hypervisor (QEMU exit $rc; log in $BUILD/baremetal/attacks.log)"; fail=1; }
if [ -s "$XEN" ]; then
    ./scripts/xen-run.sh "$XEN" "$BUILD/xen/dom0.elf attack" 64 > "$BUILD/xen/attacks.raw"; xrc=$?
    tr -d '\r' < "$BUILD/xen/attacks.raw" > "$BUILD/xen/attacks.log"
    # Whether the CPU kept the stale entry is the emulated TLB's business: that one line may differ.
    xen=$(grep '^attack ' "$BUILD/xen/attacks.log" | grep -v '^attack stale_tlb_after_skipped_flush')
    hv_cmp=$(printf '%s\n' "$hv" | grep -v '^attack stale_tlb_after_skipped_flush')
    if [ $xrc -eq 33 ] && [ "$xen" = "$hv_cmp" ]; then
        if [ "$(grep '^attack ' "$BUILD/xen/attacks.log")" = "$hv" ]; then
            xs="real Xen 4.17 gave the same $n lines"
        else
            xs="real Xen 4.17 gave the same lines, apart from whether the emulated TLB kept the stale entry"
        fi
    else
        xs="real Xen 4.17 DIFFERS (QEMU exit $xrc)"; fail=1
        printf '%s\n' "$xen" | diff -u - "$BUILD/baremetal/attacks.log" | grep '^[-+]attack' | sed 's/^/  /'
    fi
else
    xs="real Xen not run (no image)"
fi
echo "attacks: $n steps on pvmmu's hypervisor$( [ $rc -eq 33 ] && echo ' as expected' || echo ' NOT as expected'); $xs"
exit $fail
