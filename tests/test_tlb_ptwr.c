/*
 * test_tlb_ptwr.c - the software MMU: page walks, accessed/dirty bits, the
 * per-vCPU TLB and its flushes (including Xen's type-change flush with the
 * tlbflush clock filter), and ptwr, the emulation of guest stores into its
 * own read-only L1 tables.  Reference: xen-pv-mmu.md sections 1.8, 3.2, 5.
 *
 * tm_space maps its four tables read-only in l1 slots 1-4, so
 * va 0x1000 is the L1, 0x2000 the L2, 0x3000 the L3 and 0x4000 the L4.
 */
#include "harness.h"

#include <string.h>

#define VA_L1 0x1000ULL
#define VA_L2 0x2000ULL
#define VA_L4 0x4000ULL
#define PFEC_RO_WRITE (PFEC_page_present | PFEC_write_access | PFEC_user_mode)

static uint64_t frame_of(uint64_t e) { return (e & PVM_PTE_FRAME_MASK) >> XEN_PAGE_SHIFT; }

/* Address of slot s of the L1 through its read-only self mapping. */
static uint64_t l1_slot_va(unsigned int s) { return VA_L1 + 8ULL * s; }

/*
 * A store of bytes at va by d1v0 faults as a write to a read-only page (P|W|U at level 1) and changes nothing;
 * the auditor stays clean.  Returns the fault.
 */
static struct pvm_fault ro_store_faults(struct tm *t, uint64_t va, uint64_t val)
{
    struct pvm_fault f;
    memset(&f, 0, sizeof(f));
    TM_REFUSED(t, pvm_guest_store(t->v, va, val, 8, &f), PVM_ACCESS_FAULT);
    assert_int_equal(f.error_code, PFEC_RO_WRITE);
    assert_int_equal(f.level, 1);
    return f;
}

/* d1v0's load of va gives want; the auditor stays clean. */
static void load_reads(struct tm *t, uint64_t va, uint64_t want)
{
    struct pvm_fault f;
    uint64_t val = 0;
    TM_RC(t, pvm_guest_load(t->v, va, &val, &f), PVM_ACCESS_OK);
    assert_int_equal(val, want);
}

/* ---- walks ----------------------------------------------------------------- */

/* Loads through tm_space's read-only mappings return the tables' contents; translate gives the machine address. */
static void loads_through_ro_mappings(void **state)
{
    struct tm *t = *state;
    struct pvm_fault f;
    uint64_t val = 0, maddr = 0;
    TM_RC(t, pvm_guest_load(t->v, VA_L2, &val, &f), PVM_ACCESS_OK);
    assert_int_equal(val, pvm_peek(&t->m, t->l2, 0));
    assert_int_equal(frame_of(val), t->l1);
    TM_RC(t, pvm_translate(t->v, VA_L4 + 258 * 8, false, &maddr, &f), PVM_ACCESS_OK);
    assert_int_equal(maddr, (t->l4 << 12) + 258 * 8);
    TM_RC(t, pvm_guest_load(t->v, VA_L4 + 258 * 8, &val, &f), PVM_ACCESS_OK);
    assert_int_equal(frame_of(val), t->l4);   /* Xen's self linear slot */
}

/* A store to a read-only page faults with P|W|U at level 1 (no vm_assist, so no ptwr). */
static void store_to_ro_faults(void **state)
{
    struct tm *t = *state;
    uint64_t faults = t->m.stats.page_faults;
    struct pvm_fault f = ro_store_faults(t, VA_L2 + 8, 0x1234);
    assert_int_equal(f.va, VA_L2 + 8);
    assert_int_equal(f.table_mfn, t->l1);
    assert_int_equal(frame_of(f.entry), t->l2);
    assert_int_equal(pvm_peek(&t->m, t->l2, 1), 0);
    assert_int_equal(t->m.stats.page_faults, faults + 1);
}

/* A store to an unmapped va faults without P, at the level whose entry is missing. */
static void store_unmapped_fault_level(void **state)
{
    struct tm *t = *state;
    struct pvm_fault f;
    static const struct { uint64_t va; unsigned int level; } cases[] = {
        { 0, 1 }, { 1ULL << 21, 2 }, { 1ULL << 30, 3 }, { 1ULL << 39, 4 },
    };
    const uint64_t tables[5] = { 0, t->l1, t->l2, t->l3, t->l4 };
    for (unsigned int i = 0; i < 4; i++) {
        memset(&f, 0, sizeof(f));
        TM_RC(t, pvm_guest_store(t->v, cases[i].va, 1, 8, &f), PVM_ACCESS_FAULT);
        assert_int_equal(f.error_code, PFEC_write_access | PFEC_user_mode);
        assert_int_equal(f.level, cases[i].level);
        assert_int_equal(f.table_mfn, tables[cases[i].level]);
        assert_int_equal(f.entry, 0);
    }
}

/* A walk sets _PAGE_ACCESSED at every level and _PAGE_DIRTY only on the leaf of a write. */
static void walk_sets_accessed_dirty(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)));
    TM_OK(t, tm_set(t->v, t->l1, 6, pte(b, _PAGE_PRESENT | _PAGE_RW)));
    assert_int_equal(pvm_peek(&t->m, t->l3, 0) & _PAGE_ACCESSED, 0);
    assert_int_equal(pvm_peek(&t->m, t->l2, 0) & _PAGE_ACCESSED, 0);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5) & (_PAGE_ACCESSED | _PAGE_DIRTY), 0);
    struct pvm_fault f;
    uint64_t val;
    TM_RC(t, pvm_guest_load(t->v, 5ULL << 12, &val, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_peek(&t->m, t->l3, 0) & _PAGE_ACCESSED, _PAGE_ACCESSED);
    assert_int_equal(pvm_peek(&t->m, t->l2, 0) & (_PAGE_ACCESSED | _PAGE_DIRTY), _PAGE_ACCESSED);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5) & (_PAGE_ACCESSED | _PAGE_DIRTY), _PAGE_ACCESSED);
    TM_RC(t, pvm_guest_store(t->v, 6ULL << 12, 0x77, 8, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_peek(&t->m, t->l1, 6) & (_PAGE_ACCESSED | _PAGE_DIRTY), _PAGE_ACCESSED | _PAGE_DIRTY);
    assert_int_equal(pvm_peek(&t->m, t->l2, 0) & _PAGE_DIRTY, 0);
    assert_int_equal(pvm_peek(&t->m, b, 0), 0x77);
}

/* The first store through a TLB entry a load filled still sets _PAGE_DIRTY (the CPU re-walks a clean entry). */
static void store_after_load_sets_dirty(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT | _PAGE_RW)));
    struct pvm_fault f;
    uint64_t val;
    TM_RC(t, pvm_guest_load(t->v, 5ULL << 12, &val, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5) & _PAGE_DIRTY, 0);
    TM_RC(t, pvm_guest_store(t->v, 5ULL << 12, 0x99, 8, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_peek(&t->m, a, 0), 0x99);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5) & _PAGE_DIRTY, _PAGE_DIRTY);
}

/* ---- the TLB ------------------------------------------------------------------ */

/* A repeated translation hits the TLB; a flush makes the next one miss and walk again. */
static void tlb_hits_and_misses(void **state)
{
    struct tm *t = *state;
    struct pvm_fault f;
    uint64_t maddr;
    struct pvm_stats s0 = t->m.stats;
    TM_RC(t, pvm_translate(t->v, 0x3010, false, &maddr, &f), PVM_ACCESS_OK);
    TM_RC(t, pvm_translate(t->v, 0x3018, false, &maddr, &f), PVM_ACCESS_OK);
    assert_int_equal(maddr, (t->l3 << 12) | 0x18);
    assert_int_equal(t->m.stats.tlb_misses, s0.tlb_misses + 1);
    assert_int_equal(t->m.stats.tlb_hits, s0.tlb_hits + 1);
    TM_OK(t, tm_ext(t->v, MMUEXT_TLB_FLUSH_LOCAL, 0));
    TM_RC(t, pvm_translate(t->v, 0x3010, false, &maddr, &f), PVM_ACCESS_OK);
    assert_int_equal(t->m.stats.tlb_misses, s0.tlb_misses + 2);
    assert_int_equal(t->m.stats.tlb_hits, s0.tlb_hits + 1);
}

/* Build a stale TLB entry: va 0x5000 cached -> a, then l1[5] changed to b without a flush. */
static void make_stale(struct tm *t, uint64_t *pa, uint64_t *pb)
{
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    assert_int_equal(pvm_poke(&t->m, a, 0, 0xAAAA), 0);
    assert_int_equal(pvm_poke(&t->m, b, 0, 0xBBBB), 0);
    t->m.opt_tlb_check = true;
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)));
    load_reads(t, 5ULL << 12, 0xAAAA);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(b, _PAGE_PRESENT)));
    *pa = a;
    *pb = b;
}

/* A load through the entry make_stale changed reads b's 0xBBBB, with no stale TLB hit ever counted. */
static void stale_is_cured(struct tm *t)
{
    load_reads(t, 5ULL << 12, 0xBBBB);
    assert_int_equal(t->m.stats.tlb_stale_hits, 0);
}

/* After an L1 change without a flush the TLB still returns the old frame; opt_tlb_check reports it. */
static void stale_tlb_without_flush(void **state)
{
    struct tm *t = *state;
    uint64_t a, b;
    make_stale(t, &a, &b);
    uint64_t stale = t->m.stats.tlb_stale_hits;
    load_reads(t, 5ULL << 12, 0xAAAA);
    assert_int_equal(t->m.stats.tlb_stale_hits, stale + 1);
    assert_int_equal(tm_log_count(t, "stale TLB entry used"), 1);
    struct pvm_fault f;
    uint64_t maddr = 0;
    TM_RC(t, pvm_translate(t->v, 5ULL << 12, false, &maddr, &f), PVM_ACCESS_OK);
    assert_int_equal(maddr >> 12, a);
    assert_int_equal(t->m.stats.tlb_stale_hits, stale + 2);
}

/* MMUEXT_INVLPG_LOCAL of the va cures a stale translation. */
static void stale_cured_by_invlpg_local(void **state)
{
    struct tm *t = *state;
    uint64_t a, b;
    make_stale(t, &a, &b);
    uint64_t invlpg = t->m.stats.tlb_invlpg;
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_INVLPG_LOCAL;
    op.arg1.linear_addr = 5ULL << 12;
    TM_OK(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF));
    assert_int_equal(t->m.stats.tlb_invlpg, invlpg + 1);
    stale_is_cured(t);
    assert_int_equal(tm_log_count(t, "stale TLB entry used"), 0);
}

/* MMUEXT_TLB_FLUSH_LOCAL cures a stale translation. */
static void stale_cured_by_flush_local(void **state)
{
    struct tm *t = *state;
    uint64_t a, b;
    make_stale(t, &a, &b);
    TM_OK(t, tm_ext(t->v, MMUEXT_TLB_FLUSH_LOCAL, 0));
    stale_is_cured(t);
}

/* update_va_mapping with UVMF_INVLPG changes the entry and drops the cached translation in one step. */
static void uvmf_invlpg_no_stale(void **state)
{
    struct tm *t = *state;
    uint64_t a, b;
    make_stale(t, &a, &b);
    TM_OK(t, pvm_update_va_mapping(t->v, 5ULL << 12, pte(a, _PAGE_PRESENT), UVMF_INVLPG));
    TM_OK(t, pvm_update_va_mapping(t->v, 5ULL << 12, pte(b, _PAGE_PRESENT), UVMF_INVLPG));
    stale_is_cured(t);
}

/* MMUEXT_TLB_FLUSH_MULTI flushes exactly the vCPUs in the bitmap; an unreadable (NULL) bitmap is -EINVAL. */
static void flush_multi_bitmap(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    struct pvm_fault f;
    uint64_t maddr;
    TM_RC(t, pvm_translate(t->v, 0x3000, false, &maddr, &f), PVM_ACCESS_OK);
    assert_true(t->v->tlb[3].valid);
    static const unsigned long mask = 2;   /* vCPU 1 only */
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_TLB_FLUSH_MULTI;
    op.arg2.vcpumask = tm_guest(t, &mask, sizeof(mask));
    uint32_t t0 = t->v->tlbflush_time, t1 = v1->tlbflush_time;
    uint64_t fl = t->m.stats.tlb_flushes;
    TM_OK(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF));
    assert_int_equal(t->m.stats.tlb_flushes, fl + 1);
    assert_int_equal(t->v->tlbflush_time, t0);
    assert_true(v1->tlbflush_time != t1);
    assert_true(t->v->tlb[3].valid);
    op.arg2.vcpumask = 0;
    TM_RC(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(t->m.stats.tlb_flushes, fl + 1);
}

/*
 * Map a RW at va 0x5000, store through it (TLB holds a writable entry), then
 * remove the mapping without any flush.  Returns a.
 */
static uint64_t writable_then_unmapped(struct tm *t)
{
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT | _PAGE_RW)));
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, 5ULL << 12, 0x40, 8, &f), PVM_ACCESS_OK);
    const struct pvm_tlb_entry *e = &t->v->tlb[5 % PVM_TLB_ENTRIES];
    assert_true(e->valid && e->rw);
    assert_int_equal(e->mfn, a);
    TM_OK(t, tm_set(t->v, t->l1, 5, 0));
    TM_FRAME(t, a, "tc=0");
    assert_true(t->v->tlb[5 % PVM_TLB_ENTRIES].valid);   /* nobody flushed yet */
    return a;
}

/* Retyping a frame a TLB still maps writable (writable -> L1) flushes that TLB first (type-change flush, XSA-401). */
static void typechange_flushes_stale_writable(void **state)
{
    struct tm *t = *state;
    uint64_t a = writable_then_unmapped(t);
    uint64_t tc = t->m.stats.tlb_flushes_typechange;
    TM_OK(t, tm_pin(t->v, 1, a));   /* no TLB maps the new L1 writable */
    assert_true(t->m.stats.tlb_flushes_typechange > tc);
    assert_false(t->v->tlb[5 % PVM_TLB_ENTRIES].valid);
    TM_FRAME(t, a, "type=l1 validated pinned");
    /* The guest can no longer write through va 0x5000. */
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, 5ULL << 12, 0x41, 8, &f), PVM_ACCESS_FAULT);
    assert_int_equal(pvm_peek(&t->m, a, 0), 0x40);
}

/* The type-change flush skips a vCPU that already flushed after the frame was released (tlbflush clock filter). */
static void typechange_flush_filtered_by_clock(void **state)
{
    struct tm *t = *state;
    uint64_t a = writable_then_unmapped(t);
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    TM_OK(t, tm_ext(t->v, MMUEXT_TLB_FLUSH_LOCAL, 0));   /* v0 flushes after the release */
    uint32_t t0 = t->v->tlbflush_time, t1 = v1->tlbflush_time;
    uint64_t tc = t->m.stats.tlb_flushes_typechange, fl = t->m.stats.tlb_flushes;
    TM_OK(t, tm_pin(t->v, 1, a));
    assert_int_equal(t->v->tlbflush_time, t0);                   /* v0 not flushed again */
    assert_true(v1->tlbflush_time != t1);                        /* v1 had not flushed: flushed now */
    assert_int_equal(t->m.stats.tlb_flushes_typechange, tc + 1);
    assert_int_equal(t->m.stats.tlb_flushes, fl + 1);
}

/* When every vCPU flushed after the release, the retype flushes nobody. */
static void typechange_no_flush_when_all_flushed(void **state)
{
    struct tm *t = *state;
    uint64_t a = writable_then_unmapped(t);
    TM_OK(t, tm_ext(t->v, MMUEXT_TLB_FLUSH_ALL, 0));
    uint64_t tc = t->m.stats.tlb_flushes_typechange, fl = t->m.stats.tlb_flushes;
    TM_OK(t, tm_pin(t->v, 1, a));
    assert_int_equal(t->m.stats.tlb_flushes_typechange, tc);
    assert_int_equal(t->m.stats.tlb_flushes, fl);
}

/* ---- ptwr ------------------------------------------------------------------------ */

/* With writable_pagetables, a store into a RO-mapped L1 is emulated exactly like mmu_update of that slot. */
static void ptwr_store_emulated(void **state)
{
    struct tm *t = *state;
    tm_enable_ptwr(t);
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    uint64_t emu = t->m.stats.ptwr_emulations;
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(5), pte(a, _PAGE_PRESENT | _PAGE_RW), 8, &f), PVM_ACCESS_EMULATED);
    assert_int_equal(t->m.stats.ptwr_emulations, emu + 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), pte(a, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER) | _PAGE_GUEST_KERNEL);
    TM_FRAME(t, a, "count=2 type=writable tc=1");
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(5), pte(b, _PAGE_PRESENT), 8, &f), PVM_ACCESS_EMULATED);
    assert_int_equal(t->m.stats.ptwr_emulations, emu + 2);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), b);
    TM_FRAME(t, a, "count=1 tc=0");
    TM_FRAME(t, b, "count=2");
    /* A store of 0 clears the entry and drops b's reference. */
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(5), 0, 8, &f), PVM_ACCESS_EMULATED);
    TM_FRAME(t, b, "count=1");
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
}

/* Without VMASST_TYPE_writable_pagetables the store into a RO L1 is a plain #PF. */
static void ptwr_needs_vm_assist(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    ro_store_faults(t, l1_slot_va(5), pte(a, _PAGE_PRESENT));
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    assert_int_equal(t->m.stats.ptwr_emulations, 0);
}

/* ptwr refuses a store that would map a page table RW: the guest gets the #PF, "could not get_page_from_l1e()". */
static void ptwr_refuses_rw_pagetable(void **state)
{
    struct tm *t = *state;
    tm_enable_ptwr(t);
    uint64_t faults = t->m.stats.page_faults;
    ro_store_faults(t, l1_slot_va(5), pte(t->l2, _PAGE_PRESENT | _PAGE_RW));
    assert_int_equal(tm_log_count(t, "could not get_page_from_l1e()"), 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    assert_int_equal(t->m.stats.page_faults, faults + 1);
    assert_int_equal(t->m.stats.ptwr_emulations, 0);
    /* Rewriting the RO self-map (slot 1) as RW is refused the same way. */
    uint64_t self = pvm_peek(&t->m, t->l1, 1);
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(1), self | _PAGE_RW, 8, &f), PVM_ACCESS_FAULT);
    assert_int_equal(pvm_peek(&t->m, t->l1, 1), self);
    assert_int_equal(tm_log_count(t, "could not get_page_from_l1e()"), 2);
}

/* Stores into a RO-mapped L2 are never emulated ("NB1. Page-directory entries cannot be written"). */
static void ptwr_not_for_l2(void **state)
{
    struct tm *t = *state;
    tm_enable_ptwr(t);
    uint64_t l1b = tm_frame(t, 1);
    void *snap = tm_snapshot(t);
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, VA_L2 + 8, pte(l1b, _PAGE_PRESENT | _PAGE_RW), 8, &f), PVM_ACCESS_FAULT);
    assert_int_equal(f.error_code, PFEC_RO_WRITE);
    assert_int_equal(f.level, 1);
    TM_RC(t, pvm_ptwr_emulate(t->v, VA_L2 + 8, 0, pte(l1b, _PAGE_PRESENT | _PAGE_RW), 8, false), -XEN_EINVAL);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l2, 1), 0);
    assert_int_equal(t->m.stats.ptwr_emulations, 0);
    /* ...nor into the L4 (va 0x4000). */
    TM_RC(t, pvm_guest_store(t->v, VA_L4 + 8, 0, 8, &f), PVM_ACCESS_FAULT);
}

/* ptwr on, fresh frames *a (mapped read-only at t->l1[5]) and *b; returns the entry stored at l1[5]. */
static uint64_t ptwr_with_a_mapped(struct tm *t, uint64_t *a, uint64_t *b)
{
    tm_enable_ptwr(t);
    *a = tm_frame(t, 1);
    *b = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(*a, _PAGE_PRESENT)));
    return pvm_peek(&t->m, t->l1, 5);
}

/* 4-byte and 1-byte ptwr stores are merged into the current 8-byte entry before validation. */
static void ptwr_partial_stores_merge(void **state)
{
    struct tm *t = *state;
    uint64_t a, b, e = ptwr_with_a_mapped(t, &a, &b);
    assert_true(e & _PAGE_GUEST_KERNEL);
    struct pvm_fault f;
    /* Low half: new frame b, same low flags; the high half (GUEST_KERNEL, bit 52) is kept. */
    uint64_t lo = (pte(b, 0) | (e & 0xFFF)) & 0xFFFFFFFFULL;
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(5), lo, 4, &f), PVM_ACCESS_EMULATED);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), (e & ~PVM_PTE_FRAME_MASK) | pte(b, 0));
    TM_FRAME(t, a, "count=1");
    TM_FRAME(t, b, "count=2");
    /* One byte: the flags byte becomes P|RW; Xen's adjustment puts USER back. */
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(5), _PAGE_PRESENT | _PAGE_RW, 1, &f), PVM_ACCESS_EMULATED);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), pte(b, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER) | _PAGE_GUEST_KERNEL);
    TM_FRAME(t, b, "count=2 type=writable tc=1");
    /* High half: set NX (bit 63) with a 4-byte store at offset 4. */
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(5) + 4, 0x80100000ULL, 4, &f), PVM_ACCESS_EMULATED);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5),
                     pte(b, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER) | _PAGE_GUEST_KERNEL | _PAGE_NX);
    TM_FRAME(t, b, "tc=1");
}

/* A ptwr cmpxchg whose old value does not match writes nothing and leaks no reference; a matching one writes. */
static void ptwr_cmpxchg_mismatch(void **state)
{
    struct tm *t = *state;
    uint64_t a, b, cur = ptwr_with_a_mapped(t, &a, &b);
    struct pvm_frame_state sa = tm_state(t, a), sl1 = tm_state(t, t->l1);
    TM_OK(t, pvm_ptwr_emulate(t->v, l1_slot_va(5), cur ^ 0x1000, pte(b, _PAGE_PRESENT | _PAGE_RW), 8, true));
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), cur);
    /* b's references were taken for the new entry and given back (its type may stay writable at count 0). */
    TM_FRAME(t, b, "count=1 tc=0");
    TM_FRAME(t, a, "count_info=%#llx type_info=%#llx", (unsigned long long)sa.count_info,
             (unsigned long long)sa.type_info);
    TM_FRAME(t, t->l1, "count_info=%#llx type_info=%#llx", (unsigned long long)sl1.count_info,
             (unsigned long long)sl1.type_info);
    TM_OK(t, pvm_ptwr_emulate(t->v, l1_slot_va(5), cur, pte(b, _PAGE_PRESENT | _PAGE_RW), 8, true));
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), b);
    TM_FRAME(t, b, "count=2 tc=1");
    TM_FRAME(t, a, "count=1");
}

/* ptwr only fixes faults from guest kernel mode: the same store from user mode is a #PF. */
static void ptwr_not_in_user_mode(void **state)
{
    struct tm *t = *state;
    tm_enable_ptwr(t);
    TM_OK(t, tm_ext(t->v, MMUEXT_NEW_USER_BASEPTR, t->l4));   /* same tables in user mode */
    uint64_t a = tm_frame(t, 1);
    t->v->kernel_mode = false;
    ro_store_faults(t, l1_slot_va(5), pte(a, _PAGE_PRESENT));
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    assert_int_equal(t->m.stats.ptwr_emulations, 0);
    t->v->kernel_mode = true;
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, l1_slot_va(5), pte(a, _PAGE_PRESENT), 8, &f), PVM_ACCESS_EMULATED);
    TM_FRAME(t, a, "count=2");
}

/* ptwr refuses misaligned or odd-sized accesses ("bad access") and changes nothing. */
static void ptwr_bad_access(void **state)
{
    struct tm *t = *state;
    tm_enable_ptwr(t);
    uint64_t a = tm_frame(t, 1);
    void *snap = tm_snapshot(t);
    TM_RC(t, pvm_ptwr_emulate(t->v, l1_slot_va(5), 0, pte(a, _PAGE_PRESENT), 3, false), -XEN_EINVAL);
    TM_RC(t, pvm_ptwr_emulate(t->v, l1_slot_va(5) + 4, 0, pte(a, _PAGE_PRESENT), 8, false), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "bad access"), 2);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
}

/* The 23-bit TLB clock wraps by flushing every vCPU (as Xen does): stamps from before the wrap then need no flush. */
static void tlb_clock_wrap(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, _PAGE_PRESENT | _PAGE_RW)));
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, 0, 0x7000, 8, &f), PVM_ACCESS_OK);   /* d1v0 caches va 0; not a present PTE */
    /* Drop the mapping (d's writable count goes to 0, stamped now), then run the clock to its wrap. */
    TM_OK(t, tm_set(t->v, t->l1, 0, 0));
    t->m.tlbflush_clock = (1u << PVM_TLBCLOCK_BITS) - 2;
    struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
    uint64_t flushes = t->m.stats.tlb_flushes;
    TM_OK(t, pvm_mmuext_op(t->v2, &op, 1, NULL, DOMID_SELF));
    TM_OK(t, pvm_mmuext_op(t->v2, &op, 1, NULL, DOMID_SELF));
    assert_int_equal(t->m.tlbflush_clock, 1);
    assert_int_equal(t->m.stats.tlb_flushes, flushes + 2);
    for (unsigned int i = 0; i < PVM_TLB_ENTRIES; i++)
        assert_false(t->v->tlb[i].valid);   /* d1v0 was flushed by the wrap */
    assert_int_equal(t->v->tlbflush_time, 0);
    /* Retyping d now needs no flush: everyone flushed at the wrap, after d's stamp. */
    uint64_t typechange = t->m.stats.tlb_flushes_typechange;
    TM_OK(t, tm_pin(t->v, 1, d));
    assert_int_equal(t->m.stats.tlb_flushes_typechange, typechange);
}

/* ---- a frame's next life ------------------------------------------------------- */

/*
 * d1 caches a writable translation of its frame a, drops the mapping without a flush and gives a
 * back; a goes to d2, which pins it as an L1.  Handing a out again flushes d1's vCPUs (the
 * type change only flushes d2's), so d1's store through the old translation faults instead of
 * writing a writable mapping of d1's L4 into d2's validated L1.
 */
static void realloc_flushes_old_owner(void **state)
{
    struct tm *t = *state;
    tm_space(t, t->v2, NULL, NULL, NULL, NULL);
    uint64_t a = tm_frame(t, 1);
    struct pvm_fault f;
    assert_int_equal(tm_set(t->v, t->l1, 0, pte(a, _PAGE_PRESENT | _PAGE_RW)), 0);
    assert_int_equal(pvm_guest_store(t->v, 0, 0x1234, 8, &f), PVM_ACCESS_OK);
    assert_int_equal(tm_set(t->v, t->l1, 0, 0), 0);
    TM_OK(t, pvm_release_page(&t->m, 1, a));
    TM_FRAME(t, a, "owner=none");
    uint32_t v1_before = t->v->tlbflush_time;
    uint64_t alloc = t->m.stats.tlb_flushes_alloc;
    TM_OK(t, pvm_assign_page(&t->m, a, 2, 7));
    assert_true(t->v->tlbflush_time != v1_before);                 /* d1v0 flushed by the allocation */
    assert_int_equal(t->m.stats.tlb_flushes_alloc, alloc + 3);      /* d1v0, d1v1 and d2v0: none flushed since */
    TM_OK(t, tm_pin(t->v2, 1, a));
    TM_RC(t, pvm_guest_store(t->v, 0, pte(t->l4, _PAGE_PRESENT | _PAGE_RW), 8, &f), PVM_ACCESS_FAULT);
    assert_int_equal(pvm_peek(&t->m, a, 0), 0x1234);
}

/* The allocation flush is filtered by the frame's stamp: vCPUs that flushed since it was freed keep their TLBs. */
static void realloc_flush_filtered(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    assert_int_equal(pvm_release_page(&t->m, 1, a), 0);
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    pvm_tlb_flush_vcpu(t->v);
    pvm_tlb_flush_vcpu(v1);
    uint64_t alloc = t->m.stats.tlb_flushes_alloc;
    TM_OK(t, pvm_assign_page(&t->m, a, 1, 3));
    assert_int_equal(t->m.stats.tlb_flushes_alloc, alloc + 1);      /* d2v0 only */
    /* A frame that was never owned needs no flush. */
    uint64_t fresh = t->next + 5;
    assert_int_equal(pvm_assign_page(&t->m, fresh, 2, 9), 0);
    assert_int_equal(t->m.stats.tlb_flushes_alloc, alloc + 1);
    AUDIT_CLEAN(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_SPACE_TEST(loads_through_ro_mappings),
        TM_SPACE_TEST(store_to_ro_faults),
        TM_SPACE_TEST(store_unmapped_fault_level),
        TM_SPACE_TEST(walk_sets_accessed_dirty),
        TM_SPACE_TEST(store_after_load_sets_dirty),
        TM_SPACE_TEST(tlb_hits_and_misses),
        TM_SPACE_TEST(stale_tlb_without_flush),
        TM_SPACE_TEST(stale_cured_by_invlpg_local),
        TM_SPACE_TEST(stale_cured_by_flush_local),
        TM_SPACE_TEST(uvmf_invlpg_no_stale),
        TM_SPACE_TEST(flush_multi_bitmap),
        TM_SPACE_TEST(typechange_flushes_stale_writable),
        TM_SPACE_TEST(typechange_flush_filtered_by_clock),
        TM_SPACE_TEST(typechange_no_flush_when_all_flushed),
        TM_SPACE_TEST(ptwr_store_emulated),
        TM_SPACE_TEST(ptwr_needs_vm_assist),
        TM_SPACE_TEST(ptwr_refuses_rw_pagetable),
        TM_SPACE_TEST(ptwr_not_for_l2),
        TM_SPACE_TEST(ptwr_partial_stores_merge),
        TM_SPACE_TEST(ptwr_cmpxchg_mismatch),
        TM_SPACE_TEST(ptwr_not_in_user_mode),
        TM_SPACE_TEST(ptwr_bad_access),
        TM_SPACE_TEST(tlb_clock_wrap),
        TM_SPACE_TEST(realloc_flushes_old_owner),
        TM_TEST(realloc_flush_filtered),
    };
    return cmocka_run_group_tests_name("tlb_ptwr", tests, NULL, NULL);
}
