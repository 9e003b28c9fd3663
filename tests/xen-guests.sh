#!/bin/sh
# xen-guests.sh - the differential: boot the unchanged guest under every policy as dom0 of
# Debian's real Xen 4.17 (QEMU) and on the simulator, and compare outcomes and counters.
# Usage: BUILD=build tests/xen-guests.sh [MEM]   (MEM in MiB, default 128)
set -u
BUILD=${BUILD:-build}
MEM=${1:-128}
XEN=${XEN_CACHE:-$BUILD/xen-cache}/xen
DOM0=$BUILD/xen/dom0.elf
PVMMU=$BUILD/pvmmu
fail=0; agree=0
printf '%-16s %-12s %-12s %s\n' policy "real Xen" simulator "where, counters"
# Every policy the CLI knows (pvmmu policies), so a new one is compared without editing this list.
policies=$("$PVMMU" policies | cut -f1) || { echo "${0##*/}: $PVMMU policies failed"; exit 2; }
npol=$(printf '%s\n' "$policies" | wc -l)
for p in $policies; do
    log=$BUILD/xen/guest-$p.log
    ./scripts/xen-run.sh "$XEN" "$DOM0 guest=$p" "$MEM" | tr -d '\r' > "$log"
    line=$(sed -n "s/^guest $p outcome=\([0-9]\) phase=\([^ ]*\) function=\(.*\) rc=.*/\1|\2|\3/p" "$log" | head -n 1)
    xo=${line%%|*}
    case "$xo" in 0) xo=ok ;; 1) xo=BUG ;; 2) xo="page fault" ;; 3) xo=panic ;; *) xo="no result" ;; esac
    xw=$(printf '%s' "$line" | cut -d'|' -f2-3 | tr '|' '/')
    [ "$xo" = ok ] && xw="-"
    xc=$(sed -n "s/^guest $p hypercalls \(.*\)/\1/p" "$log" | sed 's/ multicall=[0-9]* vm_assist=[0-9]*//')
    sj=$("$PVMMU" boot --mem "${MEM}M" --policy "$p" --json --no-audit)
    so=$(printf '%s' "$sj" | sed -n 's/.*"outcome":"\([^"]*\)".*/\1/p')
    sc=$(printf '%s' "$sj" | sed -n 's/.*"mmu_update":\([0-9]*\),"mmuext_op":\([0-9]*\),"update_va_mapping":\([0-9]*\).*"pt_pages":\[\([0-9]*\),\([0-9]*\),\([0-9]*\)\],"pte_stores":\([0-9]*\).*/mmu_update=\1 mmuext_op=\2 update_va_mapping=\3 pt_pages=SUM(\4+\5+\6) pte_stores=\7/p')
    sc=$(printf '%s' "$sc" | awk '{ if (match($0, /SUM\([0-9+]*\)/)) { e = substr($0, RSTART + 4, RLENGTH - 5); split(e, a, "+"); $0 = substr($0, 1, RSTART - 1) (a[1] + a[2] + a[3]) substr($0, RSTART + RLENGTH) } print }')
    sw=$(printf '%s' "$sj" | sed -n 's/.*"phase":"\([^"]*\)","function":"\([^"]*\)".*/\1\/\2/p')
    [ -n "$sw" ] || sw="-"
    if [ "$xo" = "$so" ] && [ "$xw" = "$sw" ] && [ "$xc" = "$sc" ]; then
        agree=$((agree + 1)); printf '%-16s %-12s %-12s %s %s\n' "$p" "$xo" "$so" "$xw" "$xc (same)"
    else
        fail=1; printf '%-16s %-12s %-12s MISMATCH\n    xen: %s %s\n    sim: %s %s\n' "$p" "$xo" "$so" "$xw" "$xc" "$sw" "$sc"
    fi
done
echo "xen-guests: $agree of $npol policies agree with real Xen 4.17 at ${MEM} MiB"
exit $fail
