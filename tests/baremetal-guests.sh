#!/bin/sh
# baremetal-guests.sh - the hardware differential: boot the unchanged guest under every policy on
# pvmmu's own hypervisor (QEMU, real page tables, real #PFs) and on the simulator, and compare the
# outcome, the place, the fault the CPU raised, the core's refusal record (errno, cause, frame, slot),
# every hypercall and validation counter, and the auditor's verdict.  A mismatch prints both sides.
# Usage: BUILD=build tests/baremetal-guests.sh [MEM_MiB]   (default 128)
#        BAREMETAL_AUDIT_EACH=1 runs the auditor after every hypercall and emulated store, not only at the end.
set -u
BUILD=${BUILD:-build}
MEM=${1:-128}
HV=$BUILD/baremetal/hv.bin
KERNEL=$BUILD/xen/dom0.elf
PVMMU=$BUILD/pvmmu
fail=0; agree=0; total_ms=0
printf '%-16s %-11s %-9s %s\n' policy outcome "boot ms" "where / counters (hardware = simulator)"
# Every policy the CLI knows (pvmmu policies), so a new one is compared without editing this list.
policies=$("$PVMMU" policies | cut -f1) || { echo "${0##*/}: $PVMMU policies failed"; exit 2; }
npol=$(printf '%s\n' "$policies" | wc -l)
for p in $policies; do
    log=$BUILD/baremetal/guest-$p-${MEM}M.log
    t0=$(date +%s%N)
    ./scripts/baremetal-run.sh "$HV" "$KERNEL guest=$p" "$MEM" > "$log.raw"; qrc=$?
    tr -d '\r' < "$log.raw" > "$log"; rm -f "$log.raw"
    ms=$(( ($(date +%s%N) - t0) / 1000000 )); total_ms=$((total_ms + ms))

    # The hardware side, from the kernel's and the hypervisor's lines.
    g=$(sed -n "s/^guest $p outcome=\([0-9]\) phase=\([^ ]*\) function=\([^ ]*\) rc=\(.*\)/\1 \2\/\3 rc=\4/p" "$log" | head -n 1)
    case "${g%% *}" in 0) ho=ok ;; 1) ho=BUG ;; 2) ho="page fault" ;; 3) ho=panic ;; *) ho="no result" ;; esac
    hw=$(printf '%s' "$g" | cut -d' ' -f2-)
    [ "$ho" = ok ] && hw="- rc=0"
    [ "$ho" = "page fault" ] && hw="${hw%% rc=*}"   # a fault stops the kernel where it is: no call's result
    hf=$(sed -n "s/^guest $p page fault at va \([0-9a-f]*\), error code \([0-9a-f]*\),.*/va=0x\1 error=\2/p" "$log")
    hg=$(sed -n "s/^guest $p hypercalls .* pt_pages=\([0-9]*\) pte_stores=\([0-9]*\)/pt_pages=\1 pte_stores=\2/p" "$log")
    hs=$(sed -n 's/^hv stats //p' "$log")
    hr=$(sed -n 's/^hv refusal \(.*\)/\1/p' "$log")
    ha=$(sed -n 's/^hv audit \([A-Z a-z]*\) (.*/\1/p' "$log")
    if [ -n "${BAREMETAL_AUDIT_EACH:-}" ] && ! grep -q '^hv auditor ran after each of [0-9]* operations: clean' "$log"; then
        ha="not after each operation"
    fi

    # The simulator's, from its JSON, in the same words.
    j=$("$PVMMU" boot --mem "${MEM}M" --policy "$p" --json)
    jv() { printf '%s' "$j" | sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" | tr -d '"'; }
    so=$(jv outcome)
    sw="$(jv phase)/$(jv function) rc=$(jv rc)"
    [ "$so" = ok ] && sw="- rc=0"
    [ "$so" = "page fault" ] && sw="${sw%% rc=*}"
    sf=""
    if printf '%s' "$j" | grep -q '"fault"'; then
        sf="va=$(printf '%s' "$j" | sed -n 's/.*"fault":{"va":"\([^"]*\)".*/\1/p') error=$(printf '%s' "$j" | sed -n 's/.*"fault":{[^}]*"error_code":\([0-9]*\)}.*/\1/p')"
    fi
    sg="pt_pages=$(printf '%s' "$j" | sed -n 's/.*"pt_pages":\[\([0-9]*\),\([0-9]*\),\([0-9]*\)\].*/\1 \2 \3/p' | awk '{ print $1 + $2 + $3 }') pte_stores=$(jv pte_stores)"
    ss="hypercalls=$(jv hypercalls) mmu_update=$(jv mmu_update) mmuext_op=$(jv mmuext_op) update_va_mapping=$(jv update_va_mapping) multicall=$(jv multicall) vm_assist=$(jv vm_assist) mmu_update_reqs=$(jv mmu_update_reqs) mmuext_ops=$(jv mmuext_ops) entries_validated=$(jv entries_validated) promotions=$(printf '%s' "$j" | sed -n 's/.*"promotions":\[\([0-9,]*\)\].*/\1/p') pins=$(jv pins) ptwr_emulations=$(jv ptwr_emulations) tlb_flushes=$(jv tlb_flushes)"
    sr=""
    if printf '%s' "$j" | grep -q '"refusal"'; then
        r=$(printf '%s' "$j" | sed -n 's/.*"refusal":{\([^}]*\)}.*/\1/p')
        rv() { printf '%s' "$r" | sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",]*\\).*/\\1/p"; }
        # The hypervisor names the cause in words, the JSON by its short name: take the words from the
        # simulator's explanation of the same refusal ("why: -EBUSY: frame already in use ...", its newlines written \u000a).
        sw_why=$(printf '%s' "$j" | sed -n 's/.*"explanation":"[^"]*why: [^:]*: \([^\]*\)\\u000a.*/\1/p')
        sr="rc=$(rv rc) why=$sw_why pfn=$(rv pfn) level=$(rv level) slot=$(rv slot)"
    fi
    sa=clean
    [ "$(jv audit_issues)" = 0 ] || sa="FOUND ISSUES"

    want_rc=3; [ "$ho" = ok ] && want_rc=33
    if [ "$ho" = "$so" ] && [ "$hw" = "$sw" ] && [ "$hf" = "$sf" ] && [ "$hg" = "$sg" ] && [ "$hs" = "$ss" ] &&
       [ "$hr" = "$sr" ] && [ "$ha" = clean ] && [ "$sa" = clean ] && [ $qrc -eq $want_rc ]; then
        agree=$((agree + 1))
        printf '%-16s %-11s %9s %s\n' "$p" "$ho" "$ms" "${hw%% rc=*} ${hf:+($hf) }$(printf '%s' "$hs" | cut -d' ' -f1,10)"
    else
        fail=1
        printf '%-16s MISMATCH (QEMU exit %d; serial log in %s)\n' "$p" $qrc "$log"
        printf '    hardware:  %s | %s | %s | %s | %s | %s | audit %s\n' "$ho" "$hw" "$hf" "$hg" "$hs" "$hr" "${ha:-none}"
        printf '    simulator: %s | %s | %s | %s | %s | %s | audit %s\n' "$so" "$sw" "$sf" "$sg" "$ss" "$sr" "$sa"
    fi
done
# The user's view: `pvmmu compare` prints the same table rows from both.
rows_sim=$("$PVMMU" compare --mem "${MEM}M" | sed -n '3,21p')
rows_bm=$(PVMMU_HV=$HV PVMMU_DOM0=$KERNEL "$PVMMU" compare --baremetal --mem "${MEM}M" | sed -n '3,21p')
if [ -n "$rows_sim" ] && [ "$rows_sim" = "$rows_bm" ]; then
    rows="pvmmu compare prints the same two tables of $npol rows from both"
else
    fail=1; rows="pvmmu compare rows DIFFER"
    printf '%s\n' "$rows_sim" > "$BUILD/baremetal/rows-sim.txt"
    printf '%s\n' "$rows_bm" > "$BUILD/baremetal/rows-baremetal.txt"
    diff -u "$BUILD/baremetal/rows-sim.txt" "$BUILD/baremetal/rows-baremetal.txt" | sed 's/^/  /'
fi
audited=$( [ -n "${BAREMETAL_AUDIT_EACH:-}" ] && echo "auditor after every operation" || echo "auditor at the end")
echo "baremetal-guests: $agree of $npol policies agree with the simulator at ${MEM} MiB (outcome, place, fault, refusal, every counter, $audited); $rows; ${total_ms} ms of QEMU"
exit $fail
