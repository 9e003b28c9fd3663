/*
 * test_entries.c - the per-level entry rules of mmu_update on validated tables:
 * flag masks, targets, ownership, Xen's L4 slots, Xen's entry adjustments, the
 * fast path (XSA-148/182), PRESERVE_AD, and plain writes into non-tables.
 */
#include "harness.h"

#include <stdio.h>

#define PG_P   _PAGE_PRESENT
#define PG_RW  _PAGE_RW
#define PG_US  _PAGE_USER
#define PG_A   _PAGE_ACCESSED
#define PG_D   _PAGE_DIRTY
#define PG_GK  _PAGE_GUEST_KERNEL
#define AVAIL_HIGH_BIT (1ULL << 60)

/* One mmu_update request with an explicit command in the low bits of ptr. */
static int update_cmd(struct pvm_vcpu *v, uint64_t table, unsigned int slot, unsigned int cmd, uint64_t val,
                      unsigned int *done)
{
    struct mmu_update u = { (table << 12) | (slot * 8ULL) | cmd, val };
    return pvm_mmu_update(v, &u, 1, done, DOMID_SELF);
}

/* PWT, PCD and PAT in an L1 entry of an unprivileged domain are -EINVAL "Bad L1 flags 18" (4.17's %x, no 0x). */
static void l1_cache_flags_refused_unprivileged(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    const uint64_t flags[4] = { _PAGE_PWT, _PAGE_PCD, _PAGE_PAT, _PAGE_PWT | _PAGE_PCD };
    void *snap = tm_snapshot(t);
    for (unsigned int i = 0; i < 4; i++) {
        unsigned long before = tm_log_countf(t, "Bad L1 flags %llx", (unsigned long long)(flags[i]));
        assert_int_equal(tm_set(t->v, l1, 0, pte(d, PG_P | PG_RW | flags[i])), -XEN_EINVAL);
        AUDIT_CLEAN(t);
        assert_int_equal(tm_log_countf(t, "Bad L1 flags %llx", (unsigned long long)(flags[i])), before + 1);
        assert_int_equal(t->m.last.why, PVM_WHY_BAD_FLAGS);
        assert_int_equal(t->m.last.rc, -XEN_EINVAL);
        assert_int_equal(pvm_peek(&t->m, l1, 0), 0);
    }
    assert_int_equal(tm_log_count(t, "Bad L1 flags 0x"), 0);
    tm_assert_unchanged(t, snap);
    tm_free(t);
}

/* A privileged domain may set PWT/PCD/PAT in its L1 entries (they are stored as given, plus Xen's adjustment). */
static void l1_cache_flags_allowed_privileged(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    TM_OK(t, pvm_domain_create(&t->m, 3, 1, PVM_DOM_PRIVILEGED));
    struct pvm_vcpu *v3 = pvm_vcpu(&t->m, 3, 0);
    assert_non_null(v3);
    uint64_t l1;
    tm_space(t, v3, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 3);
    AUDIT_CLEAN(t);
    uint64_t e = pte(d, PG_P | PG_RW | _PAGE_PWT | _PAGE_PCD | _PAGE_PAT);
    TM_OK(t, tm_set(v3, l1, 0, e));
    assert_int_equal(pvm_peek(&t->m, l1, 0), e | PG_US | PG_GK);
    struct pvm_frame_state s = tm_state(t, d);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.type, PVM_TYPE_WRITABLE);
    assert_int_equal(s.type_count, 1);
    tm_free(t);
}

/* A domain with I/O memory permission may set cache attributes in L1 entries too. */
static void l1_cache_flags_allowed_with_iomem(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    assert_int_equal(tm_set(t->v, l1, 0, pte(d, PG_P | _PAGE_PCD)), -XEN_EINVAL);
    AUDIT_CLEAN(t);
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x1f0, 0x1f3));
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | _PAGE_PCD)));
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(d, PG_P | _PAGE_PCD | PG_US) | PG_GK);
    assert_int_equal(tm_state(t, d).count, 2);
    tm_free(t);
}

/* GLOBAL is allowed in an L1 entry, even of an unprivileged domain. */
static void l1_global_allowed(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | _PAGE_GLOBAL)));
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(d, PG_P | _PAGE_GLOBAL | PG_US) | PG_GK);
    assert_int_equal(tm_state(t, d).count, 2);
    tm_free(t);
}

/* L2, L3 and L4 entries refuse PSE, GLOBAL, PWT and PCD with -EINVAL "Bad Ln flags <hex>"; the target is untouched. */
static void lN_disallowed_flags_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l4, l3, l2;
    tm_space(t, t->v, &l4, &l3, &l2, NULL);
    uint64_t f = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    const uint64_t tabs[5] = { 0, 0, l2, l3, l4 };
    const uint64_t flags[4] = { _PAGE_PSE, _PAGE_GLOBAL, _PAGE_PWT, _PAGE_PCD };
    void *snap = tm_snapshot(t);
    for (unsigned int lvl = 2; lvl <= 4; lvl++) {
        for (unsigned int i = 0; i < 4; i++) {
            char line[64];
            snprintf(line, sizeof(line), "Bad L%u flags %llx", lvl, (unsigned long long)flags[i]);
            unsigned long before = tm_log_count(t, line);
            assert_int_equal(tm_set(t->v, tabs[lvl], 1, pte(f, PG_P | PG_RW | flags[i])), -XEN_EINVAL);
            AUDIT_CLEAN(t);
            assert_int_equal(tm_log_count(t, line), before + 1);
            assert_int_equal(t->m.last.why, PVM_WHY_BAD_FLAGS);
            assert_int_equal(pvm_peek(&t->m, tabs[lvl], 1), 0);
        }
    }
    tm_assert_unchanged(t, snap);
    assert_int_equal(tm_state(t, f).type, PVM_TYPE_NONE);
    tm_free(t);
}

/* NX and the AVAIL bits (low and high) are accepted at every level and kept in the stored entry. */
static void nx_and_avail_allowed_every_level(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l4, l3, l2, l1;
    tm_space(t, t->v, &l4, &l3, &l2, &l1);
    uint64_t d = tm_frame(t, 1), f2 = tm_frame(t, 1), f3 = tm_frame(t, 1), f4 = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    const uint64_t extra = _PAGE_NX | _PAGE_AVAIL | AVAIL_HIGH_BIT;
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | PG_RW) | extra));
    TM_OK(t, tm_set(t->v, l2, 1, pte(f2, PG_P | PG_RW) | extra));
    TM_OK(t, tm_set(t->v, l3, 1, pte(f3, PG_P | PG_RW) | extra));
    TM_OK(t, tm_set(t->v, l4, 1, pte(f4, PG_P | PG_RW) | extra));
    assert_int_equal(pvm_peek(&t->m, l1, 0) & extra, extra);
    assert_int_equal(pvm_peek(&t->m, l2, 1) & extra, extra);
    assert_int_equal(pvm_peek(&t->m, l3, 1) & extra, extra);
    assert_int_equal(pvm_peek(&t->m, l4, 1) & extra, extra);
    assert_int_equal(tm_state(t, f2).type, PVM_TYPE_L1);
    assert_int_equal(tm_state(t, f3).type, PVM_TYPE_L2);
    assert_int_equal(tm_state(t, f4).type, PVM_TYPE_L3);
    assert_int_equal(tm_state(t, d).type, PVM_TYPE_WRITABLE);
    tm_free(t);
}

/* An L2 entry to a writable-typed frame is -EINVAL ("Bad type"): a frame is never writable and a table at once. */
static void l2_entry_to_writable_frame_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l2, l1;
    tm_space(t, t->v, NULL, NULL, &l2, &l1);
    uint64_t w = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_set(t->v, l1, 0, pte(w, PG_P | PG_RW)));
    TM_SET_REFUSED(t, t->v, l2, 1, pte(w, PG_P), -XEN_EINVAL);
    assert_int_equal(tm_log_countf(t, "Bad type (saw e400000000000001 != exp 2000000000000000) for mfn %05llx", (unsigned long long)(w)), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(pvm_peek(&t->m, l2, 1), 0);
    tm_free(t);
}

/* An L2 entry must point at an L1: pointing at a validated L3 is -EINVAL (Bad type, and no linear escape). */
static void l2_entry_to_l3_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l3, l2;
    tm_space(t, t->v, NULL, &l3, &l2, NULL);
    TM_SET_REFUSED(t, t->v, l2, 1, pte(l3, PG_P), -XEN_EINVAL);
    assert_int_equal(tm_log_countf(t, "Bad type (saw 6400000000000001 != exp 2000000000000000) for mfn %05llx", (unsigned long long)(l3)), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(pvm_peek(&t->m, l2, 1), 0);
    tm_free(t);
}

/* L2-L4 entries may only point at the domain's own frames: another domain's frame is -EINVAL. */
static void l2_entry_to_foreign_frame_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l2;
    tm_space(t, t->v, NULL, NULL, &l2, NULL);
    uint64_t f2 = tm_frame(t, 2);
    AUDIT_CLEAN(t);
    TM_SET_REFUSED(t, t->v, l2, 1, pte(f2, PG_P | PG_RW), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(tm_log_countf(t, "Could not get page ref for mfn %05llx", (unsigned long long)(f2)), 1);
    /* The linear fallback is tried after -EINVAL and stops at the RW bit. */
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. with write perms"), 1);
    assert_int_equal(tm_state(t, f2).type, PVM_TYPE_NONE);
    tm_free(t);
}

/* An RW L1 mapping of a page table is -EBUSY with "Could not get page type PGT_writable_page" and "Error getting mfn". */
static void l1_rw_to_pagetable_busy(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l2, l1;
    tm_space(t, t->v, NULL, NULL, &l2, &l1);
    TM_SET_REFUSED(t, t->v, l1, 0, pte(l2, PG_P | PG_RW), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "Could not get page type PGT_writable_page"), 1);
    char line[120];
    snprintf(line, sizeof(line), "Error getting mfn %05llx (pfn %05llx) from L1 entry ", (unsigned long long)l2,
             (unsigned long long)(l2 - 0x10));
    assert_int_equal(tm_log_count(t, line), 1);
    assert_int_equal(tm_log_count(t, "for l1e_owner d1, pg_owner d1"), 1);
    assert_int_equal(t->m.last.rc, -XEN_EBUSY);
    assert_int_equal(pvm_peek(&t->m, l1, 0), 0);
    tm_free(t);
}

/* An L1 entry mapping another domain's frame is -EBUSY "pg_owner d1 l1e_owner d1, but real_pg_owner d2". */
static void l1_to_foreign_frame_busy(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t f2 = tm_frame(t, 2);
    AUDIT_CLEAN(t);
    TM_SET_REFUSED(t, t->v, l1, 0, pte(f2, PG_P), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d1 l1e_owner d1, but real_pg_owner d2"), 1);
    assert_int_equal(tm_log_countf(t, "Error getting mfn %05llx", (unsigned long long)(f2)), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    tm_free(t);
}

/* An L1 entry mapping a free frame is -EBUSY with "real_pg_owner d-1". */
static void l1_to_free_frame_busy(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    const uint64_t free_mfn = 0x1f0;
    assert_int_equal(tm_state(t, free_mfn).owner, DOMID_INVALID);
    TM_SET_REFUSED(t, t->v, l1, 0, pte(free_mfn, PG_P), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d1 l1e_owner d1, but real_pg_owner d-1"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    tm_free(t);
}

/* L4 slots 256..271 belong to Xen: any update there is -EINVAL "L4 update in Xen-private area"; 255 and 272 are guest slots. */
static void l4_xen_slots_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l4;
    tm_space(t, t->v, &l4, NULL, NULL, NULL);
    uint64_t f = tm_frame(t, 1), g = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    uint64_t self = pvm_peek(&t->m, l4, PVM_LINEAR_PT_SLOT);
    void *snap = tm_snapshot(t);
    assert_int_equal(tm_set(t->v, l4, 256, pte(f, PG_P | PG_RW)), -XEN_EINVAL);
    AUDIT_CLEAN(t);
    assert_int_equal(tm_log_count(t, "L4 update in Xen-private area, slot 0x100"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_XEN_SLOT);
    assert_int_equal(tm_set(t->v, l4, 271, pte(f, PG_P | PG_RW)), -XEN_EINVAL);
    AUDIT_CLEAN(t);
    assert_int_equal(tm_log_count(t, "L4 update in Xen-private area, slot 0x10f"), 1);
    /* Even clearing Xen's self map is refused. */
    assert_int_equal(tm_set(t->v, l4, PVM_LINEAR_PT_SLOT, 0), -XEN_EINVAL);
    AUDIT_CLEAN(t);
    assert_int_equal(tm_log_count(t, "L4 update in Xen-private area, slot 0x102"), 1);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, l4, PVM_LINEAR_PT_SLOT), self);
    assert_int_equal(pvm_peek(&t->m, l4, 256), 0);
    TM_OK(t, tm_set(t->v, l4, 255, pte(f, PG_P | PG_RW)));
    TM_OK(t, tm_set(t->v, l4, 272, pte(g, PG_P | PG_RW)));
    assert_int_equal(tm_state(t, f).type, PVM_TYPE_L3);
    assert_int_equal(tm_state(t, g).type, PVM_TYPE_L3);
    tm_free(t);
}

/* Validating an L4 overwrites guest junk in slots 256-271: slot 258 becomes Xen's self map, the others 0, and the junk takes no refs. */
static void l4_validation_clobbers_xen_slots(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t r = tm_frame(t, 1), d = tm_frame(t, 1), x = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, pvm_poke(&t->m, r, 255, pte(x, PG_P | PG_RW)));
    for (unsigned int s = 256; s <= 271; s++) {
        TM_OK(t, pvm_poke(&t->m, r, s, pte(d, PG_P | PG_RW | PG_US)));
    }
    TM_OK(t, tm_pin(t->v, 4, r));
    for (unsigned int s = 256; s <= 271; s++) {
        uint64_t e = pvm_peek(&t->m, r, s);
        if (s == PVM_LINEAR_PT_SLOT) {
            assert_int_equal(e & PVM_PTE_FRAME_MASK, r << XEN_PAGE_SHIFT);
            assert_int_equal(e & (PG_P | PG_RW | PG_US), PG_P | PG_RW);   /* supervisor-only */
        } else {
            assert_int_equal(e, 0);
        }
    }
    assert_int_equal(pvm_peek(&t->m, r, 255), pte(x, PG_P | PG_RW | PG_US | PG_A));
    struct pvm_frame_state s = tm_state(t, d);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.type, PVM_TYPE_NONE);
    s = tm_state(t, r);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.type_count, 1);
    assert_int_equal(tm_state(t, x).type, PVM_TYPE_L3);
    tm_free(t);
}

/* Xen's L1 adjustment: a kernel entry gets USER|GUEST_KERNEL, a user entry gets GLOBAL. */
static void l1_entry_adjustment(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t k = tm_frame(t, 1), u = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_set(t->v, l1, 0, pte(k, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(k, PG_P | PG_RW | PG_US) | PG_GK);
    TM_OK(t, tm_set(t->v, l1, 5, pte(u, PG_P | PG_US)));
    assert_int_equal(pvm_peek(&t->m, l1, 5), pte(u, PG_P | PG_US | _PAGE_GLOBAL));
    /* Entries written at validation were adjusted the same way. */
    assert_int_equal(pvm_peek(&t->m, l1, 1), pte(l1, PG_P | PG_US) | PG_GK);
    tm_free(t);
}

/* Xen's L2/L3 adjustment adds USER, the L4 adjustment USER|ACCESSED (both via mmu_update and at validation). */
static void lN_entry_adjustment(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l4, l3, l2, l1;
    tm_space(t, t->v, &l4, &l3, &l2, &l1);
    uint64_t f2 = tm_frame(t, 1), f3 = tm_frame(t, 1), f4 = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    assert_int_equal(pvm_peek(&t->m, l2, 0), pte(l1, PG_P | PG_RW | PG_US));
    assert_int_equal(pvm_peek(&t->m, l3, 0), pte(l2, PG_P | PG_RW | PG_US));
    assert_int_equal(pvm_peek(&t->m, l4, 0), pte(l3, PG_P | PG_RW | PG_US | PG_A));
    TM_OK(t, tm_set(t->v, l2, 1, pte(f2, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, l2, 1), pte(f2, PG_P | PG_RW | PG_US));
    TM_OK(t, tm_set(t->v, l3, 1, pte(f3, PG_P)));
    assert_int_equal(pvm_peek(&t->m, l3, 1), pte(f3, PG_P | PG_US));
    TM_OK(t, tm_set(t->v, l4, 1, pte(f4, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, l4, 1), pte(f4, PG_P | PG_RW | PG_US | PG_A));
    tm_free(t);
}

/* Same frame with only A/D/AVAIL/NX changed takes the L1 fast path: stats.fastpath +1, no reference moves. */
static void l1_fastpath_ad_avail_nx(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | PG_RW)));
    uint64_t fp = t->m.stats.fastpath;
    void *snap = tm_snapshot(t);
    uint64_t e = pte(d, PG_P | PG_RW | PG_A | PG_D | _PAGE_AVAIL) | _PAGE_NX;
    TM_OK(t, tm_set(t->v, l1, 0, e));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.fastpath, fp + 1);
    assert_int_equal(pvm_peek(&t->m, l1, 0), e | PG_US | PG_GK);
    struct pvm_frame_state s = tm_state(t, d);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.type_count, 1);
    tm_free(t);
}

/* An L2 entry rewritten to the same L1 with only A/D/NX changes takes the fast path, no ref change. */
static void l2_fastpath_ad_nx(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l2, l1;
    tm_space(t, t->v, NULL, NULL, &l2, &l1);
    uint64_t fp = t->m.stats.fastpath;
    void *snap = tm_snapshot(t);
    uint64_t e = pte(l1, PG_P | PG_RW | PG_A | PG_D) | _PAGE_NX;
    TM_OK(t, tm_set(t->v, l2, 0, e));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.fastpath, fp + 1);
    assert_int_equal(pvm_peek(&t->m, l2, 0), e | PG_US);
    tm_free(t);
}

/* Flipping RW onto an L1 entry never takes the fast path: onto a RO mapping of a page table it is re-checked and refused (-EBUSY). */
static void l1_rw_flip_not_fastpath(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    uint64_t fp = t->m.stats.fastpath, old = pvm_peek(&t->m, l1, 1);
    void *snap = tm_snapshot(t);
    assert_int_equal(tm_set(t->v, l1, 1, pte(l1, PG_P | PG_RW)), -XEN_EBUSY);   /* l1[1] maps l1 itself RO */
    AUDIT_CLEAN(t);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, l1, 1), old);
    assert_int_equal(t->m.stats.fastpath, fp);
    /* On a data frame the flip goes the slow way and takes (then drops) the writable type. */
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P)));
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | PG_RW)));
    assert_int_equal(tm_state(t, d).type_count, 1);
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P)));
    assert_int_equal(tm_state(t, d).type_count, 0);
    assert_int_equal(tm_state(t, d).count, 2);
    assert_int_equal(t->m.stats.fastpath, fp);
    tm_free(t);
}

/* A cache-attribute (PCD) change on an L1 entry is not fast-pathed (XSA-154), even where PCD is allowed. */
static void l1_pcd_flip_not_fastpath(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    TM_OK(t, pvm_domain_create(&t->m, 3, 1, PVM_DOM_PRIVILEGED));
    struct pvm_vcpu *v3 = pvm_vcpu(&t->m, 3, 0);
    uint64_t l1;
    tm_space(t, v3, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 3);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_set(v3, l1, 0, pte(d, PG_P)));
    uint64_t fp = t->m.stats.fastpath;
    TM_OK(t, tm_set(v3, l1, 0, pte(d, PG_P | _PAGE_PCD)));
    assert_int_equal(t->m.stats.fastpath, fp);
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(d, PG_P | _PAGE_PCD | PG_US) | PG_GK);
    assert_int_equal(tm_state(t, d).count, 2);
    tm_free(t);
}

/* XSA-182: flipping RW onto an existing RO self-map L4 entry is re-validated and refused, the entry stays RO. */
static void xsa182_rw_onto_ro_self_l4e_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l4;
    tm_space(t, t->v, &l4, NULL, NULL, NULL);
    TM_OK(t, tm_set(t->v, l4, 5, pte(l4, PG_P)));
    uint64_t ro = pvm_peek(&t->m, l4, 5), fp = t->m.stats.fastpath;
    TM_SET_REFUSED(t, t->v, l4, 5, pte(l4, PG_P | PG_RW), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. with write perms"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_RW);
    assert_int_equal(t->m.stats.fastpath, fp);
    assert_int_equal(pvm_peek(&t->m, l4, 5), ro);
    assert_int_equal(ro & PG_RW, 0);
    tm_free(t);
}

/* XSA-148: flipping PSE|RW onto an existing L2 entry that points at an L1 is refused ("Bad L2 flags 80"), entry unchanged. */
static void xsa148_pse_onto_l2e_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l2, l1;
    tm_space(t, t->v, NULL, NULL, &l2, &l1);
    uint64_t old = pvm_peek(&t->m, l2, 0), fp = t->m.stats.fastpath;
    TM_SET_REFUSED(t, t->v, l2, 0, pte(l1, PG_P | PG_RW | _PAGE_PSE), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Bad L2 flags 80"), 1);
    assert_int_equal(pvm_peek(&t->m, l2, 0), old);
    assert_int_equal(t->m.stats.fastpath, fp);
    tm_free(t);
}

/* An RW change on a normal L2 entry takes the slow path (XSA-182 whitelist) and keeps refs balanced. */
static void l2_rw_flip_not_fastpath(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l2, l1;
    tm_space(t, t->v, NULL, NULL, &l2, &l1);
    uint64_t fp = t->m.stats.fastpath;
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, l2, 0, pte(l1, PG_P)));
    assert_int_equal(pvm_peek(&t->m, l2, 0), pte(l1, PG_P | PG_US));
    TM_OK(t, tm_set(t->v, l2, 0, pte(l1, PG_P | PG_RW)));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.fastpath, fp);
    assert_int_equal(tm_state(t, l1).type_count, 1);
    tm_free(t);
}

/* MMU_PT_UPDATE_PRESERVE_AD keeps the old entry's A/D bits; a normal update replaces them. */
static void preserve_ad_keeps_old_ad(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | PG_A | PG_D)));
    unsigned int done = 99;
    TM_OK(t, update_cmd(t->v, l1, 0, MMU_PT_UPDATE_PRESERVE_AD, pte(d, PG_P | PG_RW), &done));
    assert_int_equal(done, 1);
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(d, PG_P | PG_RW | PG_A | PG_D | PG_US) | PG_GK);
    assert_int_equal(tm_state(t, d).type_count, 1);
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(d, PG_P | PG_RW | PG_US) | PG_GK);
    /* With old A/D clear, PRESERVE_AD adds nothing. */
    TM_OK(t, update_cmd(t->v, l1, 0, MMU_PT_UPDATE_PRESERVE_AD, pte(d, PG_P), &done));
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(d, PG_P | PG_US) | PG_GK);
    assert_int_equal(tm_state(t, d).type_count, 0);
    tm_free(t);
}

/* Clearing an entry drops exactly the references it held (L1 RW mapping; L2 entry, which demotes its L1). */
static void clearing_entry_drops_its_refs(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l2, l1;
    tm_space(t, t->v, NULL, NULL, &l2, &l1);
    uint64_t d = tm_frame(t, 1), f = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    struct pvm_frame_state l1s = tm_state(t, l1), l2s = tm_state(t, l2);
    TM_OK(t, tm_set(t->v, l1, 0, pte(d, PG_P | PG_RW)));
    assert_int_equal(tm_state(t, d).count, 2);
    TM_OK(t, tm_set(t->v, l1, 0, 0));
    struct pvm_frame_state s = tm_state(t, d);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.type_count, 0);
    TM_OK(t, tm_set(t->v, l2, 1, pte(f, PG_P | PG_RW)));
    s = tm_state(t, f);
    assert_int_equal(s.type, PVM_TYPE_L1);
    assert_int_equal(s.type_count, 1);
    assert_int_equal(s.count, 2);
    /* A non-present value (junk bits kept, stored as given) drops the refs all the same. */
    TM_OK(t, tm_set(t->v, l2, 1, pte(f, PG_RW)));
    s = tm_state(t, f);
    assert_int_equal(s.type_count, 0);
    assert_false(s.validated);
    assert_int_equal(s.count, 1);
    assert_int_equal(pvm_peek(&t->m, l2, 1), pte(f, PG_RW));
    /* The tables themselves hold exactly what they held before. */
    s = tm_state(t, l1);
    assert_int_equal(s.count_info, l1s.count_info);
    assert_int_equal(s.type_info, l1s.type_info);
    s = tm_state(t, l2);
    assert_int_equal(s.count_info, l2s.count_info);
    assert_int_equal(s.type_info, l2s.type_info);
    tm_free(t);
}

/* mmu_update into an untyped frame is a plain write (no checks, no refs); it leaves the frame writable-typed at count 0. */
static void plain_write_into_untyped_frame(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t f = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    struct pvm_frame_state before = tm_state(t, l1);
    uint64_t raw = pte(l1, PG_P | PG_RW);
    TM_OK(t, tm_set(t->v, f, 3, raw));
    assert_int_equal(pvm_peek(&t->m, f, 3), raw);   /* not adjusted */
    struct pvm_frame_state s = tm_state(t, f);
    assert_int_equal(s.type, PVM_TYPE_WRITABLE);
    assert_int_equal(s.type_count, 0);
    assert_true(s.validated);
    assert_int_equal(s.count, 1);
    assert_int_equal(tm_state(t, l1).count, before.count);
    assert_int_equal(tm_state(t, l1).type_count, before.type_count);
    /* The content was never checked: using it as an L1 now fails (it maps a table RW). */
    assert_int_equal(tm_pin(t->v, 1, f), -XEN_EBUSY);
    AUDIT_CLEAN(t);
    assert_int_equal(tm_state(t, f).type, PVM_TYPE_NONE);
    tm_free(t);
}

/* A write into an ex-L1 (type l1, count 0) fails page_lock, so it is a plain write that retypes it writable; re-pinning validates it. */
static void write_into_count0_ex_l1(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t x = tm_frame(t, 1), d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_pin(t->v, 1, x));
    TM_OK(t, tm_unpin(t->v, x));
    assert_int_equal(tm_state(t, x).type_info, PGT_l1_page_table);
    uint64_t raw = pte(d, PG_P | PG_RW);
    TM_OK(t, tm_set(t->v, x, 2, raw));
    struct pvm_frame_state s = tm_state(t, x);
    assert_int_equal(s.type, PVM_TYPE_WRITABLE);
    assert_int_equal(s.type_count, 0);
    assert_true(s.validated);
    assert_int_equal(pvm_peek(&t->m, x, 2), raw);
    s = tm_state(t, d);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.type_count, 0);
    TM_OK(t, tm_pin(t->v, 1, x));
    assert_int_equal(pvm_peek(&t->m, x, 2), raw | PG_US | PG_GK);
    s = tm_state(t, d);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.type, PVM_TYPE_WRITABLE);
    assert_int_equal(s.type_count, 1);
    tm_free(t);
}

/* mmu_update into a frame mapped RW (type writable in use) is a plain write; its type count is unchanged. */
static void write_into_writable_frame(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t w = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_OK(t, tm_set(t->v, l1, 0, pte(w, PG_P | PG_RW)));
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, w, 511, 0x123456789abcdef0ULL));
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, w, 511), 0x123456789abcdef0ULL);
    assert_int_equal(tm_state(t, w).type_count, 1);
    tm_free(t);
}

/* mmu_update commands 4..7 are unknown: -ENOSYS, nothing done. */
static void unknown_mmu_update_cmd_enosys(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    void *snap = tm_snapshot(t);
    for (unsigned int cmd = 4; cmd <= 7; cmd++) {
        unsigned int done = 99;
        assert_int_equal(update_cmd(t->v, l1, 0, cmd, pte(d, PG_P), &done), -XEN_ENOSYS);
        AUDIT_CLEAN(t);
        assert_int_equal(done, 0);
        assert_int_equal(t->m.last.why, PVM_WHY_BAD_CMD);
        assert_int_equal(pvm_peek(&t->m, l1, 0), 0);
    }
    tm_assert_unchanged(t, snap);
    tm_free(t);
}

/* A domain cannot update another domain's page table: -EINVAL "Could not get page for normal update". */
static void update_of_foreign_table_refused(void **state)
{
    (void)state;
    struct tm *t = tm_new(512);
    uint64_t l1b;
    tm_space(t, t->v2, NULL, NULL, NULL, &l1b);
    uint64_t d = tm_frame(t, 1);
    AUDIT_CLEAN(t);
    TM_SET_REFUSED(t, t->v, l1b, 0, pte(d, PG_P), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Could not get page for normal update"), 1);
    assert_int_equal(pvm_peek(&t->m, l1b, 0), 0);
    tm_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(l1_cache_flags_refused_unprivileged),
        cmocka_unit_test(l1_cache_flags_allowed_privileged),
        cmocka_unit_test(l1_cache_flags_allowed_with_iomem),
        cmocka_unit_test(l1_global_allowed),
        cmocka_unit_test(lN_disallowed_flags_refused),
        cmocka_unit_test(nx_and_avail_allowed_every_level),
        cmocka_unit_test(l2_entry_to_writable_frame_refused),
        cmocka_unit_test(l2_entry_to_l3_refused),
        cmocka_unit_test(l2_entry_to_foreign_frame_refused),
        cmocka_unit_test(l1_rw_to_pagetable_busy),
        cmocka_unit_test(l1_to_foreign_frame_busy),
        cmocka_unit_test(l1_to_free_frame_busy),
        cmocka_unit_test(l4_xen_slots_refused),
        cmocka_unit_test(l4_validation_clobbers_xen_slots),
        cmocka_unit_test(l1_entry_adjustment),
        cmocka_unit_test(lN_entry_adjustment),
        cmocka_unit_test(l1_fastpath_ad_avail_nx),
        cmocka_unit_test(l2_fastpath_ad_nx),
        cmocka_unit_test(l1_rw_flip_not_fastpath),
        cmocka_unit_test(l1_pcd_flip_not_fastpath),
        cmocka_unit_test(xsa182_rw_onto_ro_self_l4e_refused),
        cmocka_unit_test(xsa148_pse_onto_l2e_refused),
        cmocka_unit_test(l2_rw_flip_not_fastpath),
        cmocka_unit_test(preserve_ad_keeps_old_ad),
        cmocka_unit_test(clearing_entry_drops_its_refs),
        cmocka_unit_test(plain_write_into_untyped_frame),
        cmocka_unit_test(write_into_count0_ex_l1),
        cmocka_unit_test(write_into_writable_frame),
        cmocka_unit_test(unknown_mmu_update_cmd_enosys),
        cmocka_unit_test(update_of_foreign_table_refused),
    };
    return cmocka_run_group_tests_name("entries", tests, NULL, NULL);
}
