#!/bin/sh
# xsa-mutants.sh - do the security regressions bite?  For each advisory, take out the core's
# check for it (a one-place edit to a copy of core/), build pvmmu against that copy, and run
# the advisory's script: it must now FAIL (exit 1).  A mutant whose edit no longer applies
# is an error too, so the list cannot silently rot when core/ changes.
# Usage: tests/xsa-mutants.sh [OUTDIR]   Prints one line per mutant and a summary.
set -u
out=${1:-build/mutants}
CC=${CC:-cc}
MUTANT_FLAGS="-std=c11 -O0 -w -Iinclude -Ilib"
. ./tests/mutant-build.sh
rm -rf "$out"; mkdir -p "$out"
mutant_host_objects "$out" || exit 2

n=0; caught=0; bad=0; bugs=0
# mutant NAME "FILE..." PERL-SUBSTITUTION SCRIPT WHAT   (the substitution must change every FILE)
mutant() {
    name=$1 file=$2 subst=$3 script=$4 what=$5
    n=$((n + 1))
    d="$out/$name"
    mutant_build "$out" "$name" "$file" "$subst" tests/xsa-mutants.sh || { bad=$((bad + 1)); return; }
    res=$("$d/pvmmu" script "$script" 2>&1); rc=$?
    first=$(printf '%s\n' "$res" | grep -m1 -E '^[^ ].*:[0-9]+: ' | cut -c1-150)
    bug=$(printf '%s\n' "$res" | grep -m1 'internal error: core BUG at' | cut -c1-150)
    if [ $rc -eq 1 ]; then
        caught=$((caught + 1))
        echo "mutant $name ($what): $script fails - ${first:-a step failed}"
    elif [ $rc -eq 3 ] && [ -n "$bug" ]; then
        caught=$((caught + 1)); bugs=$((bugs + 1))
        echo "mutant $name ($what): $script stops at the core's BUG_ON - $bug"
    else
        bad=$((bad + 1))
        echo "mutant $name ($what): NOT caught, $script exits $rc"
    fi
}

mutant xsa-148 internal.h 's/(#define L2_DISALLOW_MASK\s+)BASE_DISALLOW_MASK/$1(BASE_DISALLOW_MASK & ~F_PSE)/' \
    tests/xsa/xsa-148.pvm "PSE allowed in L2 entries"
mutant xsa-182 internal.h 's/(#define FASTPATH_PDE_FLAG_WHITELIST) FASTPATH_FLAG_WHITELIST/$1 0xFFFFFFu/' \
    tests/xsa/xsa-182.pvm "every flag change of an L2-L4 entry takes the fast path"
mutant xsa-240 entry.c 's/linear_count\(ptpg\) < 0 \|\| //; s/linear_count\(pg\) > 0 \|\|//' \
    tests/xsa/xsa-240.pvm "linear tables may chain"
mutant xsa-286 hypercall.c 's/if \(flush_linear_pt\) \{/if (0 && flush_linear_pt) {/' \
    tests/xsa/xsa-286.pvm "no flush after an L2-L4 update"
mutant xsa-279 hypercall.c 's/(rc = mod_l1_entry\(m, l1mfn[^;]*;\n\s*if \(rc\) \{\n)/$1        tlb_flush_one(v);\n/' \
    tests/xsa/xsa-279.pvm "update_va_mapping flushes even when it fails"
mutant xsa-213 hypercall.c 's/bool exit = call\.op == __HYPERVISOR_iret;/bool exit = false;/' \
    tests/xsa/xsa-213.pvm "iret does not end a multicall"
mutant xsa-401 tlb.c 's/if \(need_flush\(m->tlbflush_clock, v->tlbflush_time, tlb_stamp\(pg\)\)\) \{/if (0) {/' \
    tests/xsa/xsa-401.pvm "no flush when a frame changes type"
mutant xsa-167 hypercall.c 's/(case MMUEXT_UNMARK_SUPER:\n\s*)return fail\(m, -XEN_EOPNOTSUPP[^;]*;/${1}return 0;/' \
    tests/xsa/xsa-167.pvm "MARK_SUPER accepted"
mutant xsa-154 entry.c 's/\(uncacheable\(l1f\) \? 0 : \(l1f & F_CACHE_ATTRS\) \^ \(F_PCD \| F_PWT\)\)/0/' \
    tests/xsa/xsa-154.pvm "cacheable MMIO left cacheable"
mutant xsa-214 "page.c machine.c" 's/\n    pg->type_info = 0;\n/\n/; s/pg->type_info &= PGT_aux_mask;/(void)0;/' \
    tests/xsa/xsa-214.pvm "a freed frame keeps its type"
mutant xsa-287 machine.c 's/if \(!\(pg->count_info & PGC_allocated\)\)\n\s*return 0;\n//' \
    tests/xsa/xsa-287.pvm "a frame may be released twice"
mutant realloc-tlb machine.c 's/flush_for_alloc\(m, newest\);/(void)newest;/' \
    tests/scripts/tlb-realloc.pvm "a frame handed out again keeps its old owner's TLB entries"

# The same check taken out of the hypervisor that runs on real page tables (HV_FLAGS from the Makefile):
# our kernel's attack mode must then get a writable mapping of its L4 into a validated L1.
hw=""
if [ -n "${HV_FLAGS:-}" ] && [ -s "${KERNEL:-build/xen/dom0.elf}" ] && command -v qemu-system-x86_64 >/dev/null; then
    n=$((n + 1)); d=$out/xsa-401
    # shellcheck disable=SC2086
    if $CC -std=c11 -Iinclude -Ilib -Iexplain -g -O2 $HV_FLAGS -T platform/baremetal/hv.ld -o "$d/hv.elf" \
           platform/baremetal/boot.S platform/baremetal/entry.S platform/baremetal/*.c "$d"/core/*.c lib/*.c \
           explain/account.c explain/wrap.c &&
       objcopy -O binary "$d/hv.elf" "$d/hv.bin"; then
        res=$(./scripts/baremetal-run.sh "$d/hv.bin" "${KERNEL:-build/xen/dom0.elf} attack" 64 | tr -d '\r')
        if printf '%s\n' "$res" | grep -q '^attack store_through_old_writable_tlb_entry page_fault=0 UNEXPECTED'; then
            caught=$((caught + 1))
            hw=" (one on real page tables: $(printf '%s\n' "$res" | grep -m1 -E '^hv audit:|PANIC: core BUG' | sed 's/.*PANIC: //' | cut -c1-100))"
            echo "mutant xsa-401 on pvmmu's hypervisor: the attack kernel's stale writable TLB entry wrote into a validated L1 - $(printf '%s\n' "$res" | grep -m1 '^attack new_l1_still_empty')"
        else
            bad=$((bad + 1)); echo "mutant xsa-401 on pvmmu's hypervisor: NOT caught"
        fi
    else
        bad=$((bad + 1)); echo "mutant xsa-401 on pvmmu's hypervisor: does not build"
    fi
fi

echo "mutants: $n, $caught caught by their advisory's script ($bugs of them by the core's BUG_ON)$hw, $bad not"
[ $bad -eq 0 ]
