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
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    const uint64_t flags[4] = { _PAGE_PWT, _PAGE_PCD, _PAGE_PAT, _PAGE_PWT | _PAGE_PCD };
    void *snap = tm_snapshot(t);
    for (unsigned int i = 0; i < 4; i++) {
        unsigned long before = tm_log_countf(t, "Bad L1 flags %llx", (unsigned long long)(flags[i]));
        TM_RC(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | PG_RW | flags[i])), -XEN_EINVAL);
        assert_int_equal(tm_log_countf(t, "Bad L1 flags %llx", (unsigned long long)(flags[i])), before + 1);
        assert_int_equal(t->m.last.why, PVM_WHY_BAD_FLAGS);
        assert_int_equal(t->m.last.rc, -XEN_EINVAL);
        assert_int_equal(pvm_peek(&t->m, t->l1, 0), 0);
    }
    assert_int_equal(tm_log_count(t, "Bad L1 flags 0x"), 0);
    tm_assert_unchanged(t, snap);
}

/* A privileged domain may set PWT/PCD/PAT in its L1 entries (they are stored as given, plus Xen's adjustment). */
static void l1_cache_flags_allowed_privileged(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, &l1);
    uint64_t d = tm_frame(t, 3);
    uint64_t e = pte(d, PG_P | PG_RW | _PAGE_PWT | _PAGE_PCD | _PAGE_PAT);
    TM_OK(t, tm_set(v3, l1, 0, e));
    assert_int_equal(pvm_peek(&t->m, l1, 0), e | PG_US | PG_GK);
    TM_FRAME(t, d, "count=2 type=writable tc=1");
}

/* A domain with I/O memory permission may set cache attributes in L1 entries too. */
static void l1_cache_flags_allowed_with_iomem(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    TM_RC(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | _PAGE_PCD)), -XEN_EINVAL);
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x1f0, 0x1f3));
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | _PAGE_PCD)));
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), pte(d, PG_P | _PAGE_PCD | PG_US) | PG_GK);
    TM_FRAME(t, d, "count=2");
}

/* GLOBAL is allowed in an L1 entry, even of an unprivileged domain. */
static void l1_global_allowed(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | _PAGE_GLOBAL);
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), pte(d, PG_P | _PAGE_GLOBAL | PG_US) | PG_GK);
    TM_FRAME(t, d, "count=2");
}

/* L2, L3 and L4 entries refuse PSE, GLOBAL, PWT and PCD with -EINVAL "Bad Ln flags <hex>"; the target is untouched. */
static void lN_disallowed_flags_refused(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    const uint64_t tabs[5] = { 0, 0, t->l2, t->l3, t->l4 };
    const uint64_t flags[4] = { _PAGE_PSE, _PAGE_GLOBAL, _PAGE_PWT, _PAGE_PCD };
    void *snap = tm_snapshot(t);
    for (unsigned int lvl = 2; lvl <= 4; lvl++) {
        for (unsigned int i = 0; i < 4; i++) {
            char line[64];
            snprintf(line, sizeof(line), "Bad L%u flags %llx", lvl, (unsigned long long)flags[i]);
            unsigned long before = tm_log_count(t, line);
            TM_RC(t, tm_set(t->v, tabs[lvl], 1, pte(f, PG_P | PG_RW | flags[i])), -XEN_EINVAL);
            assert_int_equal(tm_log_count(t, line), before + 1);
            assert_int_equal(t->m.last.why, PVM_WHY_BAD_FLAGS);
            assert_int_equal(pvm_peek(&t->m, tabs[lvl], 1), 0);
        }
    }
    tm_assert_unchanged(t, snap);
    TM_FRAME(t, f, "type=none");
}

/* NX and the AVAIL bits (low and high) are accepted at every level and kept in the stored entry. */
static void nx_and_avail_allowed_every_level(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1), f2 = tm_frame(t, 1), f3 = tm_frame(t, 1), f4 = tm_frame(t, 1);
    const uint64_t extra = _PAGE_NX | _PAGE_AVAIL | AVAIL_HIGH_BIT;
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | PG_RW) | extra));
    TM_OK(t, tm_set(t->v, t->l2, 1, pte(f2, PG_P | PG_RW) | extra));
    TM_OK(t, tm_set(t->v, t->l3, 1, pte(f3, PG_P | PG_RW) | extra));
    TM_OK(t, tm_set(t->v, t->l4, 1, pte(f4, PG_P | PG_RW) | extra));
    assert_int_equal(pvm_peek(&t->m, t->l1, 0) & extra, extra);
    assert_int_equal(pvm_peek(&t->m, t->l2, 1) & extra, extra);
    assert_int_equal(pvm_peek(&t->m, t->l3, 1) & extra, extra);
    assert_int_equal(pvm_peek(&t->m, t->l4, 1) & extra, extra);
    TM_FRAME(t, f2, "type=l1");
    TM_FRAME(t, f3, "type=l2");
    TM_FRAME(t, f4, "type=l3");
    TM_FRAME(t, d, "type=writable");
}

/* An L2 entry to a writable-typed frame is -EINVAL ("Bad type"): a frame is never writable and a table at once. */
static void l2_entry_to_writable_frame_refused(void **state)
{
    struct tm *t = *state;
    uint64_t w = tm_map_frame(t, 0, PG_P | PG_RW);
    TM_SET_REFUSED(t, t->v, t->l2, 1, pte(w, PG_P), -XEN_EINVAL);
    assert_int_equal(tm_bad_type_logs(t, 0xe400000000000001ULL, 0x2000000000000000ULL, w), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(pvm_peek(&t->m, t->l2, 1), 0);
}

/* An L2 entry must point at an L1: pointing at a validated L3 is -EINVAL (Bad type, and no linear escape). */
static void l2_entry_to_l3_refused(void **state)
{
    struct tm *t = *state;
    TM_SET_REFUSED(t, t->v, t->l2, 1, pte(t->l3, PG_P), -XEN_EINVAL);
    assert_int_equal(tm_bad_type_logs(t, 0x6400000000000001ULL, 0x2000000000000000ULL, t->l3), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(pvm_peek(&t->m, t->l2, 1), 0);
}

/* L2-L4 entries may only point at the domain's own frames: another domain's frame is -EINVAL. */
static void l2_entry_to_foreign_frame_refused(void **state)
{
    struct tm *t = *state;
    uint64_t f2 = tm_frame(t, 2);
    TM_SET_REFUSED(t, t->v, t->l2, 1, pte(f2, PG_P | PG_RW), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(tm_log_countf(t, "Could not get page ref for mfn %05llx", (unsigned long long)(f2)), 1);
    /* The linear fallback is tried after -EINVAL and stops at the RW bit. */
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. with write perms"), 1);
    TM_FRAME(t, f2, "type=none");
}

/* An RW L1 mapping of a page table is -EBUSY with "Could not get page type PGT_writable_page" and "Error getting mfn". */
static void l1_rw_to_pagetable_busy(void **state)
{
    struct tm *t = *state;
    TM_SET_REFUSED(t, t->v, t->l1, 0, pte(t->l2, PG_P | PG_RW), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "Could not get page type PGT_writable_page"), 1);
    assert_int_equal(tm_log_countf(t, "Error getting mfn %05llx (pfn %05llx) from L1 entry ", (unsigned long long)t->l2,
                                   (unsigned long long)(t->l2 - 0x10)), 1);
    assert_int_equal(tm_log_count(t, "for l1e_owner d1, pg_owner d1"), 1);
    assert_int_equal(t->m.last.rc, -XEN_EBUSY);
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), 0);
}

/* An L1 entry mapping another domain's frame is -EBUSY "pg_owner d1 l1e_owner d1, but real_pg_owner d2". */
static void l1_to_foreign_frame_busy(void **state)
{
    struct tm *t = *state;
    uint64_t f2 = tm_frame(t, 2);
    TM_SET_REFUSED(t, t->v, t->l1, 0, pte(f2, PG_P), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d1 l1e_owner d1, but real_pg_owner d2"), 1);
    assert_int_equal(tm_log_countf(t, "Error getting mfn %05llx", (unsigned long long)(f2)), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
}

/* An L1 entry mapping a free frame is -EBUSY with "real_pg_owner d-1". */
static void l1_to_free_frame_busy(void **state)
{
    struct tm *t = *state;
    const uint64_t free_mfn = 0x1f0;
    TM_FRAME(t, free_mfn, "owner=none");
    TM_SET_REFUSED(t, t->v, t->l1, 0, pte(free_mfn, PG_P), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d1 l1e_owner d1, but real_pg_owner d-1"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
}

/* L4 slots 256..271 belong to Xen: any update there is -EINVAL "L4 update in Xen-private area"; 255 and 272 are guest slots. */
static void l4_xen_slots_refused(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1), g = tm_frame(t, 1);
    uint64_t self = pvm_peek(&t->m, t->l4, PVM_LINEAR_PT_SLOT);
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_set(t->v, t->l4, 256, pte(f, PG_P | PG_RW)), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "L4 update in Xen-private area, slot 0x100"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_XEN_SLOT);
    TM_RC(t, tm_set(t->v, t->l4, 271, pte(f, PG_P | PG_RW)), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "L4 update in Xen-private area, slot 0x10f"), 1);
    /* Even clearing Xen's self map is refused. */
    TM_RC(t, tm_set(t->v, t->l4, PVM_LINEAR_PT_SLOT, 0), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "L4 update in Xen-private area, slot 0x102"), 1);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l4, PVM_LINEAR_PT_SLOT), self);
    assert_int_equal(pvm_peek(&t->m, t->l4, 256), 0);
    TM_OK(t, tm_set(t->v, t->l4, 255, pte(f, PG_P | PG_RW)));
    TM_OK(t, tm_set(t->v, t->l4, 272, pte(g, PG_P | PG_RW)));
    TM_FRAME(t, f, "type=l3");
    TM_FRAME(t, g, "type=l3");
}

/* Validating an L4 overwrites guest junk in slots 256-271: slot 258 becomes Xen's self map, the others 0, and the junk takes no refs. */
static void l4_validation_clobbers_xen_slots(void **state)
{
    struct tm *t = *state;
    uint64_t r = tm_frame(t, 1), d = tm_frame(t, 1), x = tm_frame(t, 1);
    TM_OK(t, pvm_poke(&t->m, r, 255, pte(x, PG_P | PG_RW)));
    for (unsigned int s = 256; s <= 271; s++)
        TM_OK(t, pvm_poke(&t->m, r, s, pte(d, PG_P | PG_RW | PG_US)));
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
    TM_FRAME(t, d, "count=1 type=none");
    TM_FRAME(t, r, "count=2 tc=1");
    TM_FRAME(t, x, "type=l3");
}

/* Xen's L1 adjustment: a kernel entry gets USER|GUEST_KERNEL, a user entry gets GLOBAL. */
static void l1_entry_adjustment(void **state)
{
    struct tm *t = *state;
    uint64_t k = tm_frame(t, 1), u = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(k, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), pte(k, PG_P | PG_RW | PG_US) | PG_GK);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(u, PG_P | PG_US)));
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), pte(u, PG_P | PG_US | _PAGE_GLOBAL));
    /* Entries written at validation were adjusted the same way. */
    assert_int_equal(pvm_peek(&t->m, t->l1, 1), pte(t->l1, PG_P | PG_US) | PG_GK);
}

/* Xen's L2/L3 adjustment adds USER, the L4 adjustment USER|ACCESSED (both via mmu_update and at validation). */
static void lN_entry_adjustment(void **state)
{
    struct tm *t = *state;
    uint64_t f2 = tm_frame(t, 1), f3 = tm_frame(t, 1), f4 = tm_frame(t, 1);
    assert_int_equal(pvm_peek(&t->m, t->l2, 0), pte(t->l1, PG_P | PG_RW | PG_US));
    assert_int_equal(pvm_peek(&t->m, t->l3, 0), pte(t->l2, PG_P | PG_RW | PG_US));
    assert_int_equal(pvm_peek(&t->m, t->l4, 0), pte(t->l3, PG_P | PG_RW | PG_US | PG_A));
    TM_OK(t, tm_set(t->v, t->l2, 1, pte(f2, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, t->l2, 1), pte(f2, PG_P | PG_RW | PG_US));
    TM_OK(t, tm_set(t->v, t->l3, 1, pte(f3, PG_P)));
    assert_int_equal(pvm_peek(&t->m, t->l3, 1), pte(f3, PG_P | PG_US));
    TM_OK(t, tm_set(t->v, t->l4, 1, pte(f4, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, t->l4, 1), pte(f4, PG_P | PG_RW | PG_US | PG_A));
}

/* Same frame with only A/D/AVAIL/NX changed takes the L1 fast path: stats.fastpath +1, no reference moves. */
static void l1_fastpath_ad_avail_nx(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | PG_RW);
    uint64_t fp = t->m.stats.fastpath;
    void *snap = tm_snapshot(t);
    uint64_t e = pte(d, PG_P | PG_RW | PG_A | PG_D | _PAGE_AVAIL) | _PAGE_NX;
    TM_OK(t, tm_set(t->v, t->l1, 0, e));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.fastpath, fp + 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), e | PG_US | PG_GK);
    TM_FRAME(t, d, "count=2 tc=1");
}

/* An L2 entry rewritten to the same L1 with only A/D/NX changes takes the fast path, no ref change. */
static void l2_fastpath_ad_nx(void **state)
{
    struct tm *t = *state;
    uint64_t fp = t->m.stats.fastpath;
    void *snap = tm_snapshot(t);
    uint64_t e = pte(t->l1, PG_P | PG_RW | PG_A | PG_D) | _PAGE_NX;
    TM_OK(t, tm_set(t->v, t->l2, 0, e));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.fastpath, fp + 1);
    assert_int_equal(pvm_peek(&t->m, t->l2, 0), e | PG_US);
}

/* Flipping RW onto an L1 entry never takes the fast path: onto a RO mapping of a page table it is re-checked and refused (-EBUSY). */
static void l1_rw_flip_not_fastpath(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    uint64_t fp = t->m.stats.fastpath, old = pvm_peek(&t->m, t->l1, 1);
    TM_SET_REFUSED(t, t->v, t->l1, 1, pte(t->l1, PG_P | PG_RW), -XEN_EBUSY);   /* l1[1] maps l1 itself RO */
    assert_int_equal(pvm_peek(&t->m, t->l1, 1), old);
    assert_int_equal(t->m.stats.fastpath, fp);
    /* On a data frame the flip goes the slow way and takes (then drops) the writable type. */
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, PG_P)));
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | PG_RW)));
    TM_FRAME(t, d, "tc=1");
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, PG_P)));
    TM_FRAME(t, d, "tc=0 count=2");
    assert_int_equal(t->m.stats.fastpath, fp);
}

/* A cache-attribute (PCD) change on an L1 entry is not fast-pathed (XSA-154), even where PCD is allowed. */
static void l1_pcd_flip_not_fastpath(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, &l1);
    uint64_t d = tm_frame(t, 3);
    TM_OK(t, tm_set(v3, l1, 0, pte(d, PG_P)));
    uint64_t fp = t->m.stats.fastpath;
    TM_OK(t, tm_set(v3, l1, 0, pte(d, PG_P | _PAGE_PCD)));
    assert_int_equal(t->m.stats.fastpath, fp);
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(d, PG_P | _PAGE_PCD | PG_US) | PG_GK);
    TM_FRAME(t, d, "count=2");
}

/* XSA-182: flipping RW onto an existing RO self-map L4 entry is re-validated and refused, the entry stays RO. */
static void xsa182_rw_onto_ro_self_l4e_refused(void **state)
{
    struct tm *t = *state;
    TM_OK(t, tm_set(t->v, t->l4, 5, pte(t->l4, PG_P)));
    uint64_t ro = pvm_peek(&t->m, t->l4, 5), fp = t->m.stats.fastpath;
    TM_SET_REFUSED(t, t->v, t->l4, 5, pte(t->l4, PG_P | PG_RW), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. with write perms"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_RW);
    assert_int_equal(t->m.stats.fastpath, fp);
    assert_int_equal(pvm_peek(&t->m, t->l4, 5), ro);
    assert_int_equal(ro & PG_RW, 0);
}

/* XSA-148: flipping PSE|RW onto an existing L2 entry that points at an L1 is refused ("Bad L2 flags 80"), entry unchanged. */
static void xsa148_pse_onto_l2e_refused(void **state)
{
    struct tm *t = *state;
    uint64_t old = pvm_peek(&t->m, t->l2, 0), fp = t->m.stats.fastpath;
    TM_SET_REFUSED(t, t->v, t->l2, 0, pte(t->l1, PG_P | PG_RW | _PAGE_PSE), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Bad L2 flags 80"), 1);
    assert_int_equal(pvm_peek(&t->m, t->l2, 0), old);
    assert_int_equal(t->m.stats.fastpath, fp);
}

/* An RW change on a normal L2 entry takes the slow path (XSA-182 whitelist) and keeps refs balanced. */
static void l2_rw_flip_not_fastpath(void **state)
{
    struct tm *t = *state;
    uint64_t fp = t->m.stats.fastpath;
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, t->l2, 0, pte(t->l1, PG_P)));
    assert_int_equal(pvm_peek(&t->m, t->l2, 0), pte(t->l1, PG_P | PG_US));
    TM_OK(t, tm_set(t->v, t->l2, 0, pte(t->l1, PG_P | PG_RW)));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.fastpath, fp);
    TM_FRAME(t, t->l1, "tc=1");
}

/* MMU_PT_UPDATE_PRESERVE_AD keeps the old entry's A/D bits; a normal update replaces them. */
static void preserve_ad_keeps_old_ad(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | PG_A | PG_D);
    unsigned int done = 99;
    TM_OK(t, update_cmd(t->v, t->l1, 0, MMU_PT_UPDATE_PRESERVE_AD, pte(d, PG_P | PG_RW), &done));
    assert_int_equal(done, 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), pte(d, PG_P | PG_RW | PG_A | PG_D | PG_US) | PG_GK);
    TM_FRAME(t, d, "tc=1");
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | PG_RW)));
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), pte(d, PG_P | PG_RW | PG_US) | PG_GK);
    /* With old A/D clear, PRESERVE_AD adds nothing. */
    TM_OK(t, update_cmd(t->v, t->l1, 0, MMU_PT_UPDATE_PRESERVE_AD, pte(d, PG_P), &done));
    assert_int_equal(pvm_peek(&t->m, t->l1, 0), pte(d, PG_P | PG_US) | PG_GK);
    TM_FRAME(t, d, "tc=0");
}

/* Clearing an entry drops exactly the references it held (L1 RW mapping; L2 entry, which demotes its L1). */
static void clearing_entry_drops_its_refs(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1), f = tm_frame(t, 1);
    struct pvm_frame_state l1s = tm_state(t, t->l1), l2s = tm_state(t, t->l2);
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | PG_RW)));
    TM_FRAME(t, d, "count=2");
    TM_OK(t, tm_set(t->v, t->l1, 0, 0));
    TM_FRAME(t, d, "count=1 tc=0");
    TM_OK(t, tm_set(t->v, t->l2, 1, pte(f, PG_P | PG_RW)));
    TM_FRAME(t, f, "type=l1 tc=1 count=2");
    /* A non-present value (junk bits kept, stored as given) drops the refs all the same. */
    TM_OK(t, tm_set(t->v, t->l2, 1, pte(f, PG_RW)));
    TM_FRAME(t, f, "tc=0 !validated count=1");
    assert_int_equal(pvm_peek(&t->m, t->l2, 1), pte(f, PG_RW));
    /* The tables themselves hold exactly what they held before. */
    TM_FRAME(t, t->l1, "count_info=%#llx type_info=%#llx", (unsigned long long)l1s.count_info,
             (unsigned long long)l1s.type_info);
    TM_FRAME(t, t->l2, "count_info=%#llx type_info=%#llx", (unsigned long long)l2s.count_info,
             (unsigned long long)l2s.type_info);
}

/* mmu_update into an untyped frame is a plain write (no checks, no refs); it leaves the frame writable-typed at count 0. */
static void plain_write_into_untyped_frame(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    struct pvm_frame_state before = tm_state(t, t->l1);
    uint64_t raw = pte(t->l1, PG_P | PG_RW);
    TM_OK(t, tm_set(t->v, f, 3, raw));
    assert_int_equal(pvm_peek(&t->m, f, 3), raw);   /* not adjusted */
    TM_FRAME(t, f, "type=writable tc=0 validated count=1");
    TM_FRAME(t, t->l1, "count=%llu tc=%llu", (unsigned long long)before.count, (unsigned long long)before.type_count);
    /* The content was never checked: using it as an L1 now fails (it maps a table RW). */
    TM_RC(t, tm_pin(t->v, 1, f), -XEN_EBUSY);
    TM_FRAME(t, f, "type=none");
}

/* A write into an ex-L1 (type l1, count 0) fails page_lock, so it is a plain write that retypes it writable; re-pinning validates it. */
static void write_into_count0_ex_l1(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1), d = tm_frame(t, 1);
    TM_OK(t, tm_pin(t->v, 1, x));
    TM_OK(t, tm_unpin(t->v, x));
    TM_FRAME(t, x, "type_info=%#llx", (unsigned long long)PGT_l1_page_table);
    uint64_t raw = pte(d, PG_P | PG_RW);
    TM_OK(t, tm_set(t->v, x, 2, raw));
    TM_FRAME(t, x, "type=writable tc=0 validated");
    assert_int_equal(pvm_peek(&t->m, x, 2), raw);
    TM_FRAME(t, d, "count=1 tc=0");
    TM_OK(t, tm_pin(t->v, 1, x));
    assert_int_equal(pvm_peek(&t->m, x, 2), raw | PG_US | PG_GK);
    TM_FRAME(t, d, "count=2 type=writable tc=1");
}

/* mmu_update into a frame mapped RW (type writable in use) is a plain write; its type count is unchanged. */
static void write_into_writable_frame(void **state)
{
    struct tm *t = *state;
    uint64_t w = tm_map_frame(t, 0, PG_P | PG_RW);
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, w, 511, 0x123456789abcdef0ULL));
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, w, 511), 0x123456789abcdef0ULL);
    TM_FRAME(t, w, "tc=1");
}

/* mmu_update commands 4..7 are unknown: -ENOSYS, nothing done. */
static void unknown_mmu_update_cmd_enosys(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    void *snap = tm_snapshot(t);
    for (unsigned int cmd = 4; cmd <= 7; cmd++) {
        unsigned int done = 99;
        TM_RC(t, update_cmd(t->v, t->l1, 0, cmd, pte(d, PG_P), &done), -XEN_ENOSYS);
        assert_int_equal(done, 0);
        assert_int_equal(t->m.last.why, PVM_WHY_BAD_CMD);
        assert_int_equal(pvm_peek(&t->m, t->l1, 0), 0);
    }
    tm_assert_unchanged(t, snap);
}

/* A domain cannot update another domain's page table: -EINVAL "Could not get page for normal update". */
static void update_of_foreign_table_refused(void **state)
{
    struct tm *t = *state;
    uint64_t l1b;
    tm_space(t, t->v2, NULL, NULL, NULL, &l1b);
    uint64_t d = tm_frame(t, 1);
    TM_SET_REFUSED(t, t->v, l1b, 0, pte(d, PG_P), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Could not get page for normal update"), 1);
    assert_int_equal(pvm_peek(&t->m, l1b, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_SPACE_TEST(l1_cache_flags_refused_unprivileged),
        TM_TEST(l1_cache_flags_allowed_privileged),
        TM_SPACE_TEST(l1_cache_flags_allowed_with_iomem),
        TM_SPACE_TEST(l1_global_allowed),
        TM_SPACE_TEST(lN_disallowed_flags_refused),
        TM_SPACE_TEST(nx_and_avail_allowed_every_level),
        TM_SPACE_TEST(l2_entry_to_writable_frame_refused),
        TM_SPACE_TEST(l2_entry_to_l3_refused),
        TM_SPACE_TEST(l2_entry_to_foreign_frame_refused),
        TM_SPACE_TEST(l1_rw_to_pagetable_busy),
        TM_SPACE_TEST(l1_to_foreign_frame_busy),
        TM_SPACE_TEST(l1_to_free_frame_busy),
        TM_SPACE_TEST(l4_xen_slots_refused),
        TM_TEST(l4_validation_clobbers_xen_slots),
        TM_SPACE_TEST(l1_entry_adjustment),
        TM_SPACE_TEST(lN_entry_adjustment),
        TM_SPACE_TEST(l1_fastpath_ad_avail_nx),
        TM_SPACE_TEST(l2_fastpath_ad_nx),
        TM_SPACE_TEST(l1_rw_flip_not_fastpath),
        TM_TEST(l1_pcd_flip_not_fastpath),
        TM_SPACE_TEST(xsa182_rw_onto_ro_self_l4e_refused),
        TM_SPACE_TEST(xsa148_pse_onto_l2e_refused),
        TM_SPACE_TEST(l2_rw_flip_not_fastpath),
        TM_SPACE_TEST(preserve_ad_keeps_old_ad),
        TM_SPACE_TEST(clearing_entry_drops_its_refs),
        TM_SPACE_TEST(plain_write_into_untyped_frame),
        TM_TEST(write_into_count0_ex_l1),
        TM_SPACE_TEST(write_into_writable_frame),
        TM_SPACE_TEST(unknown_mmu_update_cmd_enosys),
        TM_TEST(update_of_foreign_table_refused),
    };
    return cmocka_run_group_tests_name("entries", tests, NULL, NULL);
}
