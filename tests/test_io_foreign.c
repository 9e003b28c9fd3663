/*
 * test_io_foreign.c - I/O frames, foreign mappings and the rarer refusal
 * paths: MMIO permission and forced uncacheability, the privileged
 * map-transfer rule, DOMID_XEN, foreign-domain limits on mmuext, PRESERVE_AD
 * at L2, and the type-count overflow check.
 */
#include "harness.h"

#include <string.h>

#define P   _PAGE_PRESENT
#define RW  _PAGE_RW
#define IO_MFN 0x1000ULL   /* beyond the 512 frames of every machine here: I/O space */

static int update(struct pvm_vcpu *v, uint64_t table, unsigned int slot, uint64_t val, unsigned int fd)
{
    struct mmu_update u = { (table << 12) | (slot * 8ULL), val };
    return pvm_mmu_update(v, &u, 1, NULL, fd);
}

static int ext(struct pvm_vcpu *v, unsigned int cmd, uint64_t mfn, unsigned int fd)
{
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = cmd;
    op.arg1.mfn = mfn;
    return pvm_mmuext_op(v, &op, 1, NULL, fd);
}

/* MMIO mapped write-back is forced to UC (PCD|PWT) and takes no reference (Xen: XEN_MSR_PAT check, XSA-154). */
static void mmio_forced_uncacheable(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    void *snap = tm_snapshot(t);
    TM_OK(t, update(v, l1, 0, pte(IO_MFN, P | RW), DOMID_SELF));
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, l1, 0),
                     pte(IO_MFN, P | RW | _PAGE_PCD | _PAGE_PWT | _PAGE_USER | _PAGE_GUEST_KERNEL));
}

/* An uncacheable (UC, PCD|PWT) or WC (PAT index 4 = PAT bit) MMIO mapping is stored as asked. */
static void mmio_uncacheable_kept(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    TM_OK(t, update(v, l1, 0, pte(IO_MFN, P | _PAGE_PCD | _PAGE_PWT), DOMID_SELF));
    assert_int_equal(pvm_peek(&t->m, l1, 0) & (_PAGE_PCD | _PAGE_PWT | _PAGE_PAT), _PAGE_PCD | _PAGE_PWT);
    TM_OK(t, update(v, l1, 5, pte(IO_MFN, P | _PAGE_PAT), DOMID_SELF));
    assert_int_equal(pvm_peek(&t->m, l1, 5) & (_PAGE_PCD | _PAGE_PWT | _PAGE_PAT), _PAGE_PAT);
}

/* Validation applies the same flip: an L1 pinned with a write-back MMIO entry stores it UC. */
static void mmio_flip_at_validation(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v = tm_privileged(t, 3);
    uint64_t l1 = tm_frame(t, 3);
    TM_OK(t, pvm_poke(&t->m, l1, 9, pte(IO_MFN, P)));
    TM_OK(t, tm_pin(v, 1, l1));
    assert_int_equal(pvm_peek(&t->m, l1, 9),
                     pte(IO_MFN, P | _PAGE_PCD | _PAGE_PWT | _PAGE_USER | _PAGE_GUEST_KERNEL));
}

/*
 * Xen's mmio_ro_ranges (the HPET, an IO-APIC, read-only PCI config space): any domain allowed to map the frame
 * gets it read-only, a writable mapping forced read-only (Xen: get_page_from_l1e, "Forcing read-only access");
 * the cache bits are forced as for any MMIO, and no reference is taken.  Seen replaying real Linux (its HPET).
 */
static void mmio_ro_range_forced_read_only(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    assert_int_equal(pvm_mmio_ro_add(&t->m, IO_MFN, IO_MFN), 0);
    void *snap = tm_snapshot(t);
    TM_OK(t, update(v, l1, 0, pte(IO_MFN, P | RW), DOMID_SELF));
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(IO_MFN, P | _PAGE_PCD | _PAGE_PWT | _PAGE_USER | _PAGE_GUEST_KERNEL));
    /* The frame next to it is MMIO like any other: writable. */
    TM_OK(t, update(v, l1, 0, pte(IO_MFN + 1, P | RW | _PAGE_PCD), DOMID_SELF));
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(IO_MFN + 1, P | RW | _PAGE_PCD | _PAGE_USER | _PAGE_GUEST_KERNEL));
    /* Read-only and uncacheable already: stored as asked. */
    TM_OK(t, update(v, l1, 0, pte(IO_MFN, P | _PAGE_PCD), DOMID_SELF));
    assert_int_equal(pvm_peek(&t->m, l1, 0), pte(IO_MFN, P | _PAGE_PCD | _PAGE_USER | _PAGE_GUEST_KERNEL));
    /* Privilege still decides who may map it at all; the table of ranges is bounded. */
    assert_int_equal(pvm_mmio_ro_add(&t->m, 5, 4), -XEN_EINVAL);
    for (unsigned int i = 1; i < PVM_MAX_MMIO_RO; i++)
        assert_int_equal(pvm_mmio_ro_add(&t->m, IO_MFN + 2 * i, IO_MFN + 2 * i), 0);
    assert_int_equal(pvm_mmio_ro_add(&t->m, IO_MFN + 100, IO_MFN + 100), -XEN_EBUSY);
}

/*
 * The hardware domain's kernel writing through a read-only mapping of an mmio_ro frame: Xen drops
 * the write (pv_ro_page_fault, mmio_ro_emulated_write) instead of a #PF; a write that is not naturally
 * aligned, one to read-only MMIO outside the ranges, or one from user mode faults.
 */
static void mmio_ro_kernel_write_dropped(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    struct pvm_fault f;
    assert_int_equal(pvm_mmio_ro_add(&t->m, IO_MFN, IO_MFN), 0);
    TM_OK(t, update(v, l1, 5, pte(IO_MFN, P | RW), DOMID_SELF));           /* stored read-only */
    TM_OK(t, update(v, l1, 6, pte(IO_MFN + 1, P | _PAGE_PCD), DOMID_SELF));
    TM_RC(t, pvm_guest_store(v, 5ULL << 12, 0x1234, 8, &f), PVM_ACCESS_EMULATED);
    assert_int_equal(pvm_peek(&t->m, IO_MFN, 0), 0);                        /* dropped */
    TM_RC(t, pvm_guest_store(v, (5ULL << 12) + 4, 0x1234, 8, &f), PVM_ACCESS_FAULT);
    TM_RC(t, pvm_guest_store(v, 6ULL << 12, 0x1234, 8, &f), PVM_ACCESS_FAULT);
    pvm_set_guest_mode(v, false);
    TM_RC(t, pvm_guest_store(v, 5ULL << 12, 0x1234, 8, &f), PVM_ACCESS_FAULT);
}

/* An unprivileged domain mapping MMIO gets -EPERM and Xen's "non-privileged attempt" line. */
static void mmio_unprivileged_eperm(void **state)
{
    struct tm *t = *state;
    TM_REFUSED(t, update(t->v, t->l1, 0, pte(IO_MFN, P), DOMID_SELF), -XEN_EPERM);
    assert_int_equal(tm_log_count(t, "d1 non-privileged attempt to map MMIO space 01000"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_MMIO);
}

/* The all-ones frame number (INVALID_MFN's pattern) is -EINVAL, not -EPERM, and logs nothing. */
static void mmio_invalid_mfn_einval(void **state)
{
    struct tm *t = *state;
    unsigned long before = tm_log_count(t, "MMIO");
    TM_RC(t, update(t->v, t->l1, 0, pte(PVM_PADDR_MASK >> XEN_PAGE_SHIFT, P), DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "MMIO"), before);
}

/*
 * A privileged domain's I/O range is the host's physical address space (dom0's iomem_caps): with Xen's default
 * paddr_bits of 40 it may map mfn 2^28-1 but not 2^28 nor 2^39 (-EPERM, as real Xen 4.17 under QEMU), and
 * INVALID_MFN (the all-ones frame field) is -EINVAL and never stored.  A wider host moves the bound.
 */
static void mmio_privileged_bounded_by_paddr_bits(void **state)
{
    struct tm *t = *state;
    assert_int_equal(t->m.paddr_bits, 40);
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    TM_OK(t, update(v, l1, 0, pte((1ULL << 28) - 1, P | _PAGE_PCD), DOMID_SELF));
    void *snap = tm_snapshot(t);
    const uint64_t eperm[] = { 1ULL << 28, 1ULL << 39, (PVM_PADDR_MASK >> XEN_PAGE_SHIFT) - 1 };
    for (size_t i = 0; i < sizeof(eperm) / sizeof(eperm[0]); i++) {
        TM_RC(t, update(v, l1, 5, pte(eperm[i], P), DOMID_SELF), -XEN_EPERM);
        assert_int_equal(tm_log_countf(t, "d3 non-privileged attempt to map MMIO space %05llx",
                                       (unsigned long long)eperm[i]), 1);
    }
    unsigned long before = tm_log_count(t, "MMIO");
    TM_RC(t, update(v, l1, 5, pte(PVM_PADDR_MASK >> XEN_PAGE_SHIFT, P | RW), DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "MMIO"), before);
    assert_int_equal(t->m.last.why, PVM_WHY_MMIO);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, l1, 5), 0);
    tm_free(t);

    /* paddr_bits 52 (set before the domain is created): 2^39 is host address space now, and so is INVALID_MFN. */
    *state = t = tm_new(512);
    t->m.paddr_bits = 52;
    v = tm_privileged_space(t, 3, &l1);
    TM_OK(t, update(v, l1, 0, pte(1ULL << 39, P | _PAGE_PCD), DOMID_SELF));
    TM_OK(t, update(v, l1, 5, pte(PVM_PADDR_MASK >> XEN_PAGE_SHIFT, P | _PAGE_PCD), DOMID_SELF));
}

/* The toolstack may shrink a privileged domain's I/O range (Xen: iomem_deny_access on dom0); it then gets -EPERM. */
static void mmio_privileged_range_shrunk(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    assert_int_equal(pvm_domain_iomem_permit(&t->m, 3, IO_MFN, IO_MFN), 0);
    TM_OK(t, update(v, l1, 0, pte(IO_MFN, P | _PAGE_PCD), DOMID_SELF));
    TM_RC(t, update(v, l1, 5, pte(IO_MFN + 1, P), DOMID_SELF), -XEN_EPERM);
}

/* A domain with an iomem range may map exactly that range. */
static void mmio_iomem_range(void **state)
{
    struct tm *t = *state;
    assert_int_equal(pvm_domain_iomem_permit(&t->m, 1, IO_MFN, IO_MFN + 1), 0);
    TM_OK(t, update(t->v, t->l1, 0, pte(IO_MFN + 1, P), DOMID_SELF));
    TM_RC(t, update(t->v, t->l1, 1, pte(IO_MFN + 2, P), DOMID_SELF), -XEN_EPERM);
}

/* A privileged domain writing MMIO into an unprivileged domain's L1 is refused: "attempted to map MMIO space ... in d3 to d1". */
static void mmio_into_other_domain(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, NULL);
    TM_REFUSED(t, update(v3, t->l1, 0, pte(IO_MFN, P), ((1u + 1) << 16) | DOMID_IO), -XEN_EPERM);
    assert_int_equal(tm_log_count(t, "d3 attempted to map MMIO space 01000 in d3 to d1"), 1);
}

/* With DOMID_IO as foreign domain only I/O frames can be mapped: a RAM frame is -EBUSY. */
static void domid_io_maps_no_ram(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    uint64_t ram = tm_frame(t, 3);
    TM_RC(t, update(v, l1, 0, pte(ram, P), DOMID_IO), -XEN_EBUSY);
    TM_OK(t, update(v, l1, 0, pte(IO_MFN, P), DOMID_IO));
}

/*
 * DOMID_IO as the foreign domain of mmuext_op or update_va_mapping_otherdomain: their XSM hooks (XSM_TARGET,
 * no DOMID_IO exemption, unlike mmu_update's) let only the control domain name it.  Unprivileged: -EPERM,
 * nothing done; privileged: the call goes on (and fails or succeeds on its merits).
 */
static void domid_io_needs_privilege_outside_mmu_update(void **state)
{
    struct tm *t = *state;
    uint64_t l1p;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, &l1p);
    uint64_t f = tm_frame(t, 1);
    void *snap = tm_snapshot(t);
    struct mmuext_op op = { .cmd = MMUEXT_CLEAR_PAGE };
    op.arg1.mfn = f;
    unsigned int done = 9;
    assert_int_equal(pvm_mmuext_op(t->v, &op, 1, &done, DOMID_IO), -XEN_EPERM);
    assert_int_equal(done, 0);
    assert_int_equal(t->m.last.why, PVM_WHY_PERM);
    AUDIT_CLEAN(t);
    assert_int_equal(pvm_update_va_mapping_otherdomain(t->v, 0x5000, pte(IO_MFN, P), UVMF_NONE, DOMID_IO),
                     -XEN_EPERM);
    assert_int_equal(t->m.last.why, PVM_WHY_PERM);
    AUDIT_CLEAN(t);
    tm_assert_unchanged(t, snap);
    /* mmu_update's hook exempts DOMID_IO: the same domain gets past it (and is stopped by the frame check). */
    assert_int_equal(update(t->v, t->l1, 5, pte(0x100, P), DOMID_IO), -XEN_EBUSY);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    /* The control domain passes the check: CLEAR_PAGE of a frame DOMID_IO does not own is -EINVAL. */
    assert_int_equal(pvm_mmuext_op(v3, &op, 1, &done, DOMID_IO), -XEN_EINVAL);
    assert_int_not_equal(t->m.last.why, PVM_WHY_PERM);
    AUDIT_CLEAN(t);
}

/*
 * Nor a free RAM frame: it has no owner, which is not DOMID_IO (Xen: real_pg_owner NULL != dom_io, -EBUSY).
 * Guards against taking a reference on a free frame, i.e. a guest mapping memory nobody gave it.
 */
static void domid_io_maps_no_free_frame(void **state)
{
    struct tm *t = *state;
    uint64_t l1p;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, &l1p);
    const uint64_t freemfn = 0x100;
    TM_FRAME(t, freemfn, "owner=none");
    void *snap = tm_snapshot(t);
    TM_RC(t, update(t->v, t->l1, 5, pte(freemfn, P | RW), DOMID_IO), -XEN_EBUSY);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(t->m.last.mfn, freemfn);
    assert_int_equal(tm_log_count(t, "pg_owner d32753 l1e_owner d1, but real_pg_owner d-1"), 1);
    TM_RC(t, update(t->v, t->l1, 5, pte(freemfn, P), DOMID_IO), -XEN_EBUSY);
    /* Privilege does not help: a privileged domain may map I/O frames, not free RAM. */
    TM_RC(t, update(v3, l1p, 5, pte(freemfn, P), DOMID_IO), -XEN_EBUSY);
    TM_RC(t, pvm_update_va_mapping_otherdomain(v3, 0x5000, pte(freemfn, P), UVMF_NONE, DOMID_IO), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d32753 l1e_owner d3, but real_pg_owner d-1"), 2);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    assert_int_equal(pvm_peek(&t->m, l1p, 5), 0);
    /* The frame is still free to give away. */
    TM_OK(t, pvm_assign_page(&t->m, freemfn, 2, 0));
}

/* A privileged pg_owner may hand the right to map its target's frame to another domain's table (Xen's stub-domain rule). */
static void privileged_map_transfer(void **state)
{
    struct tm *t = *state;
    uint64_t f2 = tm_frame(t, 2);
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, NULL);
    /* d3 writes into d1's L1 (pfd = d1) a mapping of d2's frame, as pg_owner itself. */
    TM_OK(t, update(v3, t->l1, 0, pte(f2, P | RW), ((1u + 1) << 16) | DOMID_SELF));
    TM_FRAME(t, f2, "owner=d2 type=writable tc=1 count=2");
    /* d1 itself cannot do that. */
    TM_RC(t, update(t->v, t->l1, 1, pte(f2, P), DOMID_SELF), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d1 l1e_owner d1, but real_pg_owner d2"), 1);
}

/* An unprivileged domain naming DOMID_XEN gets -EPERM; Xen-owned frames are not modelled (-ESRCH when privileged). */
static void domid_xen(void **state)
{
    struct tm *t = *state;
    uint64_t l1p;
    TM_RC(t, update(t->v, t->l1, 0, 0, DOMID_XEN), -XEN_EPERM);
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, &l1p);
    TM_RC(t, update(v3, l1p, 0, 0, DOMID_XEN), -XEN_ESRCH);
}

/* Even a privileged caller may not flush, load a root or set an LDT for another domain: -EPERM for each. */
static void foreign_mmuext_limits(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, NULL);
    const unsigned int cmds[] = { MMUEXT_NEW_BASEPTR, MMUEXT_NEW_USER_BASEPTR, MMUEXT_TLB_FLUSH_LOCAL,
                                  MMUEXT_INVLPG_LOCAL, MMUEXT_TLB_FLUSH_MULTI, MMUEXT_INVLPG_MULTI,
                                  MMUEXT_TLB_FLUSH_ALL, MMUEXT_INVLPG_ALL, MMUEXT_FLUSH_CACHE, MMUEXT_SET_LDT };
    void *snap = tm_snapshot(t);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        TM_RC(t, ext(v3, cmds[i], t->l4, 1), -XEN_EPERM);
    tm_assert_unchanged(t, snap);
    /* ... but it may pin and unpin the other domain's tables. */
    TM_OK(t, ext(v3, MMUEXT_UNPIN_TABLE, t->l4, 1));
    TM_OK(t, ext(v3, MMUEXT_PIN_L4_TABLE, t->l4, 1));
}

/* MMU_PT_UPDATE_PRESERVE_AD on an L2 entry keeps the accessed and dirty bits already there. */
static void preserve_ad_at_l2(void **state)
{
    struct tm *t = *state;
    uint64_t n = tm_frame(t, 1);
    TM_OK(t, update(t->v, t->l2, 0, pte(t->l1, P | RW | _PAGE_ACCESSED | _PAGE_DIRTY), DOMID_SELF));
    TM_OK(t, update(t->v, t->l2, 1, pte(n, P | RW), DOMID_SELF));
    struct mmu_update u = { (t->l2 << 12) | (0 * 8ULL) | MMU_PT_UPDATE_PRESERVE_AD, pte(t->l1, P | RW) };
    TM_OK(t, pvm_mmu_update(t->v, &u, 1, NULL, DOMID_SELF));
    assert_int_equal(pvm_peek(&t->m, t->l2, 0), pte(t->l1, P | RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY));
}

/* A type count at its 55-bit limit refuses one more reference: "Type count overflow", -EBUSY from an RW mapping. */
static void type_count_overflow(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    TM_OK(t, update(t->v, t->l1, 0, pte(d, P | RW), DOMID_SELF));
    /* Stand in for 2^55-1 mappings: raise the count, try once more, put it back. */
    uint64_t saved = t->m.frames[d].type_info;
    t->m.frames[d].type_info = (saved & ~PGT_count_mask) | PGT_count_mask;
    assert_int_equal(update(t->v, t->l1, 7, pte(d, P | RW), DOMID_SELF), -XEN_EBUSY);
    assert_int_equal(t->m.frames[d].type_info, (saved & ~PGT_count_mask) | PGT_count_mask);
    t->m.frames[d].type_info = saved;
    AUDIT_CLEAN(t);
    assert_int_equal(tm_log_count(t, "Type count overflow on mfn"), 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 7), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_TEST(mmio_ro_range_forced_read_only),
        TM_TEST(mmio_ro_kernel_write_dropped),
        TM_TEST(mmio_forced_uncacheable),
        TM_TEST(mmio_uncacheable_kept),
        TM_TEST(mmio_flip_at_validation),
        TM_SPACE_TEST(mmio_unprivileged_eperm),
        TM_SPACE_TEST(mmio_invalid_mfn_einval),
        TM_TEST(mmio_privileged_bounded_by_paddr_bits),
        TM_TEST(mmio_privileged_range_shrunk),
        TM_SPACE_TEST(mmio_iomem_range),
        TM_SPACE_TEST(mmio_into_other_domain),
        TM_TEST(domid_io_maps_no_ram),
        TM_SPACE_TEST(domid_io_maps_no_free_frame),
        TM_SPACE_TEST(privileged_map_transfer),
        TM_SPACE_TEST(domid_xen),
        TM_SPACE_TEST(foreign_mmuext_limits),
        TM_SPACE_TEST(domid_io_needs_privilege_outside_mmu_update),
        TM_SPACE_TEST(preserve_ad_at_l2),
        TM_SPACE_TEST(type_count_overflow),
    };
    return cmocka_run_group_tests_name("io_foreign", tests, NULL, NULL);
}
