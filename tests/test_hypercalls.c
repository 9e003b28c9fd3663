/*
 * test_hypercalls.c - batch semantics and argument checking of the PV MMU
 * hypercalls: mmu_update, mmuext_op, update_va_mapping(_otherdomain),
 * vm_assist, multicall and the pvm_hypercall dispatcher.
 * Reference: xen-pv-mmu.md sections 3 and 4.
 */
#include "harness.h"

#include <string.h>

#define SENTINEL ((xen_ulong_t)0x5e5e5e5e5e5e5e5eULL)

/* One mmuext_op of vCPU v with the given foreigndom. */
static int ext_fd(struct pvm_vcpu *v, unsigned int cmd, uint64_t arg1, uint64_t arg2, unsigned int fd)
{
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = cmd;
    op.arg1.mfn = arg1;
    op.arg2.src_mfn = arg2;
    unsigned int done = 99;
    int rc = pvm_mmuext_op(v, &op, 1, &done, fd);
    assert_int_equal(done, rc ? 0 : 1);
    return rc;
}

static int ext(struct pvm_vcpu *v, unsigned int cmd, uint64_t arg1, uint64_t arg2)
{
    return ext_fd(v, cmd, arg1, arg2, DOMID_SELF);
}

/* One mmu_update request with the given foreigndom; checks *pdone. */
static int set_fd(struct pvm_vcpu *v, uint64_t table, unsigned int slot, uint64_t val, unsigned int fd)
{
    struct mmu_update u = { (table << 12) | (slot * 8ULL), val };
    unsigned int done = 99;
    int rc = pvm_mmu_update(v, &u, 1, &done, fd);
    assert_int_equal(done, rc ? 0 : 1);
    return rc;
}

static uint64_t frame_of(uint64_t e) { return (e & PVM_PTE_FRAME_MASK) >> XEN_PAGE_SHIFT; }

/* ---- mmu_update batches ---------------------------------------------------- */

/* mmu_update stops at the first failing request: rc is its error, *pdone its index, the prefix is kept. */
static void mmu_update_batch_stops_at_failure(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1), c = tm_frame(t, 1);
    uint64_t before = t->m.stats.mmu_update_reqs;
    struct mmu_update reqs[4] = {
        { (t->l1 << 12) | 5 * 8, pte(a, _PAGE_PRESENT | _PAGE_RW) },
        { (t->l1 << 12) | 6 * 8, pte(b, _PAGE_PRESENT) },
        { (t->l1 << 12) | 7 * 8, pte(t->l2, _PAGE_PRESENT | _PAGE_RW) },   /* RW map of a page table */
        { (t->l1 << 12) | 8 * 8, pte(c, _PAGE_PRESENT) },
    };
    unsigned int done = 99;
    TM_RC(t, pvm_mmu_update(t->v, reqs, 4, &done, DOMID_SELF), -XEN_EBUSY);
    assert_int_equal(done, 2);
    assert_int_equal(t->m.stats.mmu_update_reqs - before, 3);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), a);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 6)), b);
    assert_int_equal(pvm_peek(&t->m, t->l1, 7), 0);
    assert_int_equal(pvm_peek(&t->m, t->l1, 8), 0);
    TM_FRAME(t, a, "count=2 type=writable tc=1");
    TM_FRAME(t, b, "count=2");
    TM_FRAME(t, c, "count=1");
    TM_FRAME(t, t->l2, "type=l2 tc=1 count=3");   /* alloc + l3 entry + RO map in l1[2] */
}

/* An unknown mmu_update command (ptr & 7 == 5) ends the batch with -ENOSYS at its index. */
static void mmu_update_bad_cmd_enosys(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    struct mmu_update reqs[3] = {
        { (t->l1 << 12) | 5 * 8, pte(a, _PAGE_PRESENT) },
        { (t->l1 << 12) | 6 * 8 | 5, pte(b, _PAGE_PRESENT) },
        { (t->l1 << 12) | 7 * 8, pte(b, _PAGE_PRESENT) },
    };
    unsigned int done = 99;
    TM_RC(t, pvm_mmu_update(t->v, reqs, 3, &done, DOMID_SELF), -XEN_ENOSYS);
    assert_int_equal(done, 1);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), a);
    assert_int_equal(pvm_peek(&t->m, t->l1, 6), 0);
    assert_int_equal(pvm_peek(&t->m, t->l1, 7), 0);
    TM_FRAME(t, b, "count=1");
}

/* mmuext_op stops at the first failure: pin ok, pin of a foreign frame fails, the third pin never runs. */
static void mmuext_batch_stops_at_failure(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1), foreign = tm_frame(t, 2), y = tm_frame(t, 1);
    struct mmuext_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].cmd = MMUEXT_PIN_L1_TABLE;
    ops[0].arg1.mfn = x;
    ops[1].cmd = MMUEXT_PIN_L1_TABLE;
    ops[1].arg1.mfn = foreign;
    ops[2].cmd = MMUEXT_PIN_L1_TABLE;
    ops[2].arg1.mfn = y;
    unsigned int done = 99;
    TM_RC(t, pvm_mmuext_op(t->v, ops, 3, &done, DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(done, 1);
    TM_FRAME(t, x, "pinned validated type=l1 tc=1 count=2");
    TM_FRAME(t, foreign, "type=none count=1 owner=d2");
    TM_FRAME(t, y, "!pinned type=none tc=0 count=1");
}

/* ---- foreigndom ------------------------------------------------------------- */

/* Naming one's own numeric id as foreigndom is -ESRCH "Cannot specify itself as foreign domain". */
static void foreigndom_self_id_esrch(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_RC(t, set_fd(t->v, t->l1, 5, pte(a, _PAGE_PRESENT), 1), -XEN_ESRCH);
    assert_int_equal(tm_log_count(t, "Cannot specify itself as foreign domain"), 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    TM_RC(t, ext_fd(t->v, MMUEXT_PIN_L1_TABLE, a, 0, 1), -XEN_ESRCH);
    assert_int_equal(tm_log_count(t, "Cannot specify itself as foreign domain"), 2);
    TM_FRAME(t, a, "count=1");
}

/* A foreigndom naming no domain is -ESRCH "Unknown domain". */
static void foreigndom_unknown_esrch(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_RC(t, set_fd(t->v, t->l1, 5, pte(a, _PAGE_PRESENT), 5), -XEN_ESRCH);
    assert_int_equal(tm_log_count(t, "Unknown domain d5"), 1);
    TM_RC(t, ext_fd(t->v, MMUEXT_PIN_L1_TABLE, a, 0, 7), -XEN_ESRCH);
    assert_int_equal(tm_log_count(t, "Unknown domain d7"), 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    TM_FRAME(t, a, "type=none");
}

/* A non-privileged domain naming another existing domain as foreigndom gets -EPERM (XSM_TARGET). */
static void foreigndom_unprivileged_eperm(void **state)
{
    struct tm *t = *state;
    uint64_t f2 = tm_frame(t, 2);
    void *snap = tm_snapshot(t);
    TM_RC(t, set_fd(t->v, t->l1, 5, pte(f2, _PAGE_PRESENT), 2), -XEN_EPERM);
    TM_RC(t, ext_fd(t->v, MMUEXT_PIN_L1_TABLE, f2, 0, 2), -XEN_EPERM);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    /* Without foreigndom the foreign frame is simply not ours: -EBUSY. */
    TM_RC(t, tm_set(t->v, t->l1, 5, pte(f2, _PAGE_PRESENT)), -XEN_EBUSY);
    TM_FRAME(t, f2, "count=1");
}

/* A privileged domain may pin another domain's table with foreigndom = that domain. */
static void foreigndom_privileged_pins_foreign_table(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v3 = tm_privileged(t, 3);
    uint64_t l1 = tm_frame(t, 2), data = tm_frame(t, 2);
    assert_int_equal(pvm_poke(&t->m, l1, 3, pte(data, _PAGE_PRESENT)), 0);
    TM_OK(t, ext_fd(v3, MMUEXT_PIN_L1_TABLE, l1, 0, 2));
    TM_FRAME(t, l1, "owner=d2 type=l1 pinned validated tc=1 count=2");
    TM_FRAME(t, data, "count=2");
    /* ...and unpin it the same way. */
    TM_OK(t, ext_fd(v3, MMUEXT_UNPIN_TABLE, l1, 0, 2));
    TM_FRAME(t, l1, "!pinned count=1");
    TM_FRAME(t, data, "count=1");
}

/* A privileged domain maps another domain's frame into its own L1 only with fd = that domain. */
static void foreigndom_privileged_maps_foreign_frame(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, &l1);
    uint64_t f2 = tm_frame(t, 2);
    TM_RC(t, set_fd(v3, l1, 5, pte(f2, _PAGE_PRESENT), DOMID_SELF), -XEN_EBUSY);
    TM_FRAME(t, f2, "count=1");
    TM_OK(t, set_fd(v3, l1, 5, pte(f2, _PAGE_PRESENT | _PAGE_RW), 2));
    assert_int_equal(frame_of(pvm_peek(&t->m, l1, 5)), f2);
    TM_FRAME(t, f2, "owner=d2 count=2 type=writable tc=1");
    TM_OK(t, set_fd(v3, l1, 5, 0, DOMID_SELF));
    TM_FRAME(t, f2, "count=1 tc=0");
}

/* An L2-L4 update with a foreign fd is -EINVAL even for a privileged domain (pg_owner must equal pt_owner). */
static void foreigndom_l2_update_einval(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v3 = tm_privileged(t, 3);
    uint64_t l2, l1;
    tm_space(t, v3, NULL, NULL, &l2, &l1);
    void *snap = tm_snapshot(t);
    uint64_t flushes = t->m.stats.tlb_flushes;
    TM_RC(t, set_fd(v3, l2, 1, pte(l1, _PAGE_PRESENT | _PAGE_RW), 2), -XEN_EINVAL);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, l2, 1), 0);
    assert_int_equal(t->m.stats.tlb_flushes, flushes);
    TM_OK(t, set_fd(v3, l2, 1, pte(l1, _PAGE_PRESENT | _PAGE_RW), DOMID_SELF));
    TM_FRAME(t, l1, "tc=2");
}

/* ---- MMU_MACHPHYS_UPDATE ------------------------------------------------------- */

/* MMU_MACHPHYS_UPDATE sets the frame's M2P entry; another domain's frame is -EINVAL. */
static void machphys_update(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), f2 = tm_frame(t, 2);
    uint64_t m2p2 = tm_state(t, f2).m2p;
    struct mmu_update u = { (a << 12) | 0x18 | MMU_MACHPHYS_UPDATE, 0x4242 };
    unsigned int done = 99;
    TM_OK(t, pvm_mmu_update(t->v, &u, 1, &done, DOMID_SELF));
    assert_int_equal(done, 1);
    TM_FRAME(t, a, "m2p=0x4242 count=1");
    u.ptr = (f2 << 12) | MMU_MACHPHYS_UPDATE;
    TM_RC(t, pvm_mmu_update(t->v, &u, 1, &done, DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(tm_log_count(t, "Could not get page for mach->phys update"), 1);
    TM_FRAME(t, f2, "m2p=%llu count=1", (unsigned long long)m2p2);
}

/* ---- base pointers ------------------------------------------------------------- */

/* NEW_BASEPTR validates an unpinned L4, takes a general+L4 ref on it and drops the old root's refs. */
static void new_baseptr_switches_root(void **state)
{
    struct tm *t = *state;
    uint64_t l4b = tm_frame(t, 1);
    assert_int_equal(pvm_poke(&t->m, l4b, 0, pte(t->l3, _PAGE_PRESENT | _PAGE_RW)), 0);
    assert_int_equal(pvm_poke(&t->m, l4b, 258, 0xdeadULL << 12), 0);   /* junk in a Xen slot */
    uint64_t loads = t->m.stats.baseptr_loads, flushes = t->m.stats.tlb_flushes;
    TM_OK(t, tm_baseptr(t->v, l4b));
    assert_int_equal(t->v->guest_table, l4b);
    assert_int_equal(t->m.stats.baseptr_loads, loads + 1);
    assert_true(t->m.stats.tlb_flushes > flushes);
    TM_FRAME(t, l4b, "type=l4 validated !pinned tc=1 count=2");
    /* Xen's slot 258 was rewritten with the self linear map. */
    assert_int_equal(pvm_peek(&t->m, l4b, 258),
                     pte(l4b, _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX));
    TM_FRAME(t, t->l4, "count=3 tc=1 pinned validated");   /* alloc + pin + RO map in l1[4]; the cr3 ref is gone */
    TM_FRAME(t, t->l3, "tc=2");
}

/* Reloading the current root is a no-op on every count but still flushes the TLB. */
static void new_baseptr_same_mfn_reload(void **state)
{
    struct tm *t = *state;
    uint64_t flushes = t->m.stats.tlb_flushes, loads = t->m.stats.baseptr_loads;
    uint32_t time = t->v->tlbflush_time;
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_baseptr(t->v, t->l4));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.tlb_flushes, flushes + 1);
    assert_int_equal(t->m.stats.baseptr_loads, loads);
    assert_true(t->v->tlbflush_time != time);
    assert_int_equal(t->v->guest_table, t->l4);
}

/* NEW_BASEPTR of a frame that cannot be an L4 fails with "Error while installing new baseptr", nothing changed. */
static void new_baseptr_failure(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), l4c = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT | _PAGE_RW)));
    TM_REFUSED(t, tm_baseptr(t->v, t->l1), -XEN_EINVAL);   /* an L1 in use */
    assert_int_equal(tm_log_count(t, "Error while installing new baseptr"), 1);
    assert_int_equal(t->v->guest_table, t->l4);
    /* An L4 whose validation fails (slot 0 -> a writable page) is left untyped. */
    assert_int_equal(pvm_poke(&t->m, l4c, 0, pte(a, _PAGE_PRESENT | _PAGE_RW)), 0);
    TM_RC(t, tm_baseptr(t->v, l4c), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Error while installing new baseptr"), 2);
    TM_FRAME(t, l4c, "type_info=0 count=1");
    assert_int_equal(t->v->guest_table, t->l4);
    TM_FRAME(t, a, "tc=1");
}

/* NEW_BASEPTR with a foreign fd is -EPERM even for a privileged domain (caller-only command). */
static void new_baseptr_foreign_eperm(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v3 = tm_privileged(t, 3);
    uint64_t l4 = tm_frame(t, 2);
    void *snap = tm_snapshot(t);
    TM_RC(t, ext_fd(v3, MMUEXT_NEW_BASEPTR, l4, 0, 2), -XEN_EPERM);
    TM_RC(t, ext_fd(v3, MMUEXT_NEW_USER_BASEPTR, l4, 0, 2), -XEN_EPERM);
    tm_assert_unchanged(t, snap);
    assert_int_equal(v3->guest_table, PVM_INVALID_MFN);
    assert_int_equal(v3->guest_table_user, PVM_INVALID_MFN);
}

/* NEW_USER_BASEPTR loads a user root with a general+L4 ref; mfn 0 clears it and drops them. */
static void new_user_baseptr_and_clear(void **state)
{
    struct tm *t = *state;
    TM_OK(t, ext(t->v, MMUEXT_NEW_USER_BASEPTR, t->l4, 0));
    assert_int_equal(t->v->guest_table_user, t->l4);
    TM_FRAME(t, t->l4, "tc=3 count=5");   /* pin + cr3 + user cr3 */
    /* Same mfn again: no-op. */
    TM_OK(t, ext(t->v, MMUEXT_NEW_USER_BASEPTR, t->l4, 0));
    TM_FRAME(t, t->l4, "tc=3");
    TM_OK(t, ext(t->v, MMUEXT_NEW_USER_BASEPTR, 0, 0));
    assert_int_equal(t->v->guest_table_user, PVM_INVALID_MFN);
    TM_FRAME(t, t->l4, "tc=2 count=4");
}

/* ---- other mmuext commands ----------------------------------------------------- */

/* MARK_SUPER/UNMARK_SUPER are -EOPNOTSUPP (XSA-167); unused or unknown commands are -ENOSYS. */
static void mmuext_unsupported_and_unknown(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    void *snap = tm_snapshot(t);
    TM_RC(t, ext(t->v, MMUEXT_MARK_SUPER, a, 0), -XEN_EOPNOTSUPP);
    TM_RC(t, ext(t->v, MMUEXT_UNMARK_SUPER, a, 0), -XEN_EOPNOTSUPP);
    TM_RC(t, ext(t->v, 14, a, 0), -XEN_ENOSYS);
    TM_RC(t, ext(t->v, 99, a, 0), -XEN_ENOSYS);
    tm_assert_unchanged(t, snap);
}

/*
 * FLUSH_CACHE(_GLOBAL) needs I/O resources (cache_flush_permitted), 0 with them; without, 4.17 says -EACCES
 * for FLUSH_CACHE but -EINVAL for FLUSH_CACHE_GLOBAL (-EACCES only from 4.21, 4.20.1, 4.19.3, 4.18.5).
 */
static void flush_cache_needs_io_rights(void **state)
{
    struct tm *t = *state;
    TM_RC(t, ext(t->v, MMUEXT_FLUSH_CACHE, 0, 0), -XEN_EACCES);
    TM_RC(t, ext(t->v, MMUEXT_FLUSH_CACHE_GLOBAL, 0, 0), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_PERM);
    assert_int_equal(pvm_domain_iomem_permit(&t->m, 1, 0x1f0, 0x1f0), 0);
    TM_OK(t, ext(t->v, MMUEXT_FLUSH_CACHE, 0, 0));
    TM_OK(t, ext(t->v, MMUEXT_FLUSH_CACHE_GLOBAL, 0, 0));
}

/* SET_LDT refuses an unaligned base or more than 8192 entries with "Bad args to SET_LDT"; good args are recorded. */
static void set_ldt_args(void **state)
{
    struct tm *t = *state;
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_SET_LDT;
    op.arg1.linear_addr = 0x10008;
    op.arg2.nr_ents = 16;
    TM_RC(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Bad args to SET_LDT"), 1);
    op.arg1.linear_addr = 0x10000;
    op.arg2.nr_ents = 8193;
    TM_RC(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Bad args to SET_LDT"), 2);
    assert_int_equal(t->v->ldt_ents, 0);
    op.arg2.nr_ents = 8192;
    TM_OK(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF));
    assert_int_equal(t->v->ldt_base, 0x10000);
    assert_int_equal(t->v->ldt_ents, 8192);
    assert_int_equal(tm_log_count(t, "Bad args to SET_LDT"), 2);
}

/* SET_LDT with no entries ignores the pointer (Xen never looks at it): unaligned or non-canonical, it is 0. */
static void set_ldt_no_entries_ignores_pointer(void **state)
{
    struct tm *t = *state;
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_SET_LDT;
    const uint64_t ptrs[] = { 0x10008, 0x0000800000000000ULL, HYPERVISOR_VIRT_START, 0x10000 };
    for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
        op.arg1.linear_addr = ptrs[i];
        op.arg2.nr_ents = 16;
        TM_RC(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF), i == 3 ? 0 : -XEN_EINVAL);
        op.arg2.nr_ents = 0;
        TM_OK(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF));
        assert_int_equal(t->v->ldt_ents, 0);
        assert_int_equal(t->v->ldt_base, 0);
    }
    assert_int_equal(tm_log_count(t, "Bad args to SET_LDT"), 3);
}

/* CLEAR_PAGE zeroes a frame through a temporary writable type and refuses a page table in use. */
static void clear_page(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    assert_int_equal(pvm_poke(&t->m, a, 0, 0x1111), 0);
    assert_int_equal(pvm_poke(&t->m, a, 511, 0x2222), 0);
    TM_OK(t, ext(t->v, MMUEXT_CLEAR_PAGE, a, 0));
    assert_int_equal(pvm_peek(&t->m, a, 0), 0);
    assert_int_equal(pvm_peek(&t->m, a, 511), 0);
    TM_FRAME(t, a, "count=1 tc=0");
    uint64_t e1 = pvm_peek(&t->m, t->l1, 1);
    TM_REFUSED(t, ext(t->v, MMUEXT_CLEAR_PAGE, t->l1, 0), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Error clearing mfn"), 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 1), e1);
}

/* COPY_PAGE copies all 512 slots; a page-table destination or a foreign source is -EINVAL. */
static void copy_page(void **state)
{
    struct tm *t = *state;
    uint64_t src = tm_frame(t, 1), dst = tm_frame(t, 1), f2 = tm_frame(t, 2);
    assert_int_equal(pvm_poke(&t->m, src, 3, 0x3333), 0);
    assert_int_equal(pvm_poke(&t->m, src, 400, 0x4444), 0);
    assert_int_equal(pvm_poke(&t->m, dst, 7, 0x7777), 0);
    TM_OK(t, ext(t->v, MMUEXT_COPY_PAGE, dst, src));
    assert_int_equal(pvm_peek(&t->m, dst, 3), 0x3333);
    assert_int_equal(pvm_peek(&t->m, dst, 400), 0x4444);
    assert_int_equal(pvm_peek(&t->m, dst, 7), 0);
    assert_int_equal(pvm_peek(&t->m, src, 3), 0x3333);
    TM_FRAME(t, src, "count=1");
    TM_FRAME(t, dst, "count=1");
    uint64_t e1 = pvm_peek(&t->m, t->l1, 1);
    void *snap = tm_snapshot(t);
    TM_RC(t, ext(t->v, MMUEXT_COPY_PAGE, t->l1, src), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Error copying to mfn"), 1);
    TM_RC(t, ext(t->v, MMUEXT_COPY_PAGE, dst, f2), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Error copying from mfn"), 1);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l1, 1), e1);
}

/* ---- update_va_mapping ----------------------------------------------------------- */

/* update_va_mapping replaces the L1 entry mapping va in the current tables, with mmu_update's refcounting. */
static void uvm_replaces_l1_entry(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    TM_OK(t, pvm_update_va_mapping(t->v, 5ULL << 12, pte(a, _PAGE_PRESENT | _PAGE_RW), UVMF_NONE));
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), a);
    assert_true(pvm_peek(&t->m, t->l1, 5) & _PAGE_RW);
    TM_FRAME(t, a, "count=2 type=writable tc=1");
    TM_OK(t, pvm_update_va_mapping(t->v, 5ULL << 12, pte(b, _PAGE_PRESENT), UVMF_NONE));
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), b);
    TM_FRAME(t, a, "count=1 tc=0");
    TM_FRAME(t, b, "count=2");
}

/* A failing update_va_mapping (no L1, non-canonical va, refused entry) flushes nothing (XSA-279). */
static void uvm_failure_no_flush(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    uint64_t flushes = t->m.stats.tlb_flushes, invlpg = t->m.stats.tlb_invlpg;
    void *snap = tm_snapshot(t);
    /* l2[1] is empty: no L1 maps 2 MiB. */
    const uint64_t all = UVMF_TLB_FLUSH | UVMF_ALL;
    TM_RC(t, pvm_update_va_mapping(t->v, 1ULL << 21, pte(a, _PAGE_PRESENT), all), -XEN_EINVAL);
    /* Non-canonical. */
    TM_RC(t, pvm_update_va_mapping(t->v, 0x0000800000000000ULL, pte(a, _PAGE_PRESENT), UVMF_INVLPG), -XEN_EINVAL);
    TM_RC(t, pvm_update_va_mapping(t->v, 0xFFFF800000001000ULL, pte(a, _PAGE_PRESENT), all), -XEN_EINVAL);
    /* The entry itself is refused: RW mapping of a page table. */
    TM_RC(t, pvm_update_va_mapping(t->v, 5ULL << 12, pte(t->l2, _PAGE_PRESENT | _PAGE_RW), all), -XEN_EBUSY);
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.tlb_flushes, flushes);
    assert_int_equal(t->m.stats.tlb_invlpg, invlpg);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
}

/* UVMF_INVLPG invalidates just va; UVMF_TLB_FLUSH|UVMF_ALL flushes every vCPU of the domain; LOCAL only this one. */
static void uvm_flush_flags(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    struct pvm_stats s0 = t->m.stats;
    TM_OK(t, pvm_update_va_mapping(t->v, 5ULL << 12, pte(a, _PAGE_PRESENT), UVMF_INVLPG));
    assert_int_equal(t->m.stats.tlb_invlpg, s0.tlb_invlpg + 1);
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes);
    uint32_t t0 = t->v->tlbflush_time, t1 = v1->tlbflush_time;
    TM_OK(t, pvm_update_va_mapping(t->v, 6ULL << 12, pte(b, _PAGE_PRESENT), UVMF_TLB_FLUSH | UVMF_ALL));
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes + 2);
    assert_true(t->v->tlbflush_time != t0);
    assert_true(v1->tlbflush_time != t1);
    t1 = v1->tlbflush_time;
    TM_OK(t, pvm_update_va_mapping(t->v, 6ULL << 12, 0, UVMF_TLB_FLUSH | UVMF_LOCAL));
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes + 3);
    assert_int_equal(v1->tlbflush_time, t1);
    /* A vCPU bitmap (a pointer in the flags) selects vCPU 1 only. */
    static unsigned long mask = 2;
    t0 = t->v->tlbflush_time;
    TM_OK(t, pvm_update_va_mapping(t->v, 6ULL << 12, pte(b, _PAGE_PRESENT),
                                           tm_guest(t, &mask, sizeof(mask)) | UVMF_TLB_FLUSH));
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes + 4);
    assert_int_equal(t->v->tlbflush_time, t0);
    assert_true(v1->tlbflush_time != t1);
}

/* update_va_mapping_otherdomain: a privileged domain maps a frame of domid; XSM and domid checks otherwise. */
static void uvm_otherdomain(void **state)
{
    struct tm *t = *state;
    uint64_t l1_3, l1;
    struct pvm_vcpu *v3 = tm_privileged_space(t, 3, &l1_3);
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t f2 = tm_frame(t, 2);
    TM_OK(t, pvm_update_va_mapping_otherdomain(v3, 5ULL << 12, pte(f2, _PAGE_PRESENT), 0, 2));
    assert_int_equal(frame_of(pvm_peek(&t->m, l1_3, 5)), f2);
    TM_FRAME(t, f2, "count=2");
    void *snap = tm_snapshot(t);
    TM_RC(t, pvm_update_va_mapping_otherdomain(t->v, 5ULL << 12, pte(f2, _PAGE_PRESENT), 0, 2), -XEN_EPERM);
    TM_RC(t, pvm_update_va_mapping_otherdomain(t->v, 5ULL << 12, pte(f2, _PAGE_PRESENT), 0, 1), -XEN_ESRCH);
    TM_RC(t, pvm_update_va_mapping_otherdomain(t->v, 5ULL << 12, pte(f2, _PAGE_PRESENT), 0, 6), -XEN_ESRCH);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, l1, 5), 0);
}

/* ---- vm_assist ------------------------------------------------------------------------ */

/* vm_assist: a type outside the valid mask is -EINVAL, a bad command -ENOSYS; enable/disable flip the bit. */
static void vm_assist_checks(void **state)
{
    struct tm *t = *state;
    struct pvm_domain *d = t->v->d;
    TM_RC(t, pvm_vm_assist(t->v, VMASST_CMD_enable, 6), -XEN_EINVAL);
    TM_RC(t, pvm_vm_assist(t->v, VMASST_CMD_enable, 64), -XEN_EINVAL);
    TM_RC(t, pvm_vm_assist(t->v, 2, VMASST_TYPE_writable_pagetables), -XEN_ENOSYS);
    assert_int_equal(d->vm_assist, 0);
    TM_OK(t, pvm_vm_assist(t->v, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables));
    TM_OK(t, pvm_vm_assist(t->v, VMASST_CMD_enable, VMASST_TYPE_m2p_strict));
    assert_int_equal(d->vm_assist, (1UL << VMASST_TYPE_writable_pagetables) | (1UL << VMASST_TYPE_m2p_strict));
    TM_OK(t, pvm_vm_assist(t->v, VMASST_CMD_disable, VMASST_TYPE_writable_pagetables));
    assert_int_equal(d->vm_assist, 1UL << VMASST_TYPE_m2p_strict);
    assert_int_equal(t->v2->d->vm_assist, 0);
}

/* A 64-bit PV domain may still set the 32-bit segment assists, types 0 and 1 (PV64_VM_ASSIST_MASK); 3-5 too. */
static void vm_assist_pv64_mask(void **state)
{
    struct tm *t = *state;
    struct pvm_domain *d = t->v->d;
    for (unsigned int type = 0; type < 64; type++) {
        bool valid = type <= 5 || type == VMASST_TYPE_m2p_strict;
        TM_RC(t, pvm_vm_assist(t->v, VMASST_CMD_enable, type), valid ? 0 : -XEN_EINVAL);
    }
    assert_int_equal(d->vm_assist, 0x3FUL | (1UL << VMASST_TYPE_m2p_strict));
    assert_int_equal(pvm_vm_assist(t->v, VMASST_CMD_disable, VMASST_TYPE_4gb_segments), 0);
    assert_int_equal(pvm_vm_assist(t->v, VMASST_CMD_disable, VMASST_TYPE_4gb_segments_notify), 0);
    assert_int_equal(d->vm_assist, 0x3CUL | (1UL << VMASST_TYPE_m2p_strict));
}

/* ---- multicall ------------------------------------------------------------------------------ */

static void mc_set(struct multicall_entry *e, xen_ulong_t op, xen_ulong_t a0, xen_ulong_t a1, xen_ulong_t a2,
                   xen_ulong_t a3)
{
    memset(e, 0, sizeof(*e));
    e->op = op;
    e->result = SENTINEL;
    e->args[0] = a0;
    e->args[1] = a1;
    e->args[2] = a2;
    e->args[3] = a3;
}

/* Multicall stores each entry's result in its own field, does not stop at failures, and returns 0. */
static void multicall_records_each_result(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1), f2 = tm_frame(t, 2);
    struct mmu_update u = { (t->l1 << 12) | 5 * 8, pte(a, _PAGE_PRESENT) };
    unsigned int done = 99;
    struct mmuext_op pin;
    memset(&pin, 0, sizeof(pin));
    pin.cmd = MMUEXT_PIN_L1_TABLE;
    pin.arg1.mfn = f2;
    struct multicall_entry mc[5];
    mc_set(&mc[0], __HYPERVISOR_mmu_update, tm_guest(t, &u, sizeof(u)), 1, tm_guest(t, &done, sizeof(done)), DOMID_SELF);
    mc_set(&mc[1], __HYPERVISOR_mmuext_op, tm_guest(t, &pin, sizeof(pin)), 1, 0, DOMID_SELF);
    mc_set(&mc[2], __HYPERVISOR_vm_assist, VMASST_CMD_enable, 6, 0, 0);
    mc_set(&mc[3], __HYPERVISOR_update_va_mapping, 6ULL << 12, pte(b, _PAGE_PRESENT), UVMF_NONE, 0);
    mc_set(&mc[4], 999, 0, 0, 0, 0);
    uint64_t entries = t->m.stats.multicall_entries;
    TM_OK(t, pvm_multicall(t->v, mc, 5));
    assert_int_equal((long)mc[0].result, 0);
    assert_int_equal(done, 1);
    assert_int_equal((long)mc[1].result, -XEN_EINVAL);
    assert_int_equal((long)mc[2].result, -XEN_EINVAL);
    assert_int_equal((long)mc[3].result, 0);
    assert_int_equal((long)mc[4].result, -XEN_ENOSYS);
    assert_int_equal(t->m.stats.multicall_entries, entries + 5);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), a);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 6)), b);
    TM_FRAME(t, f2, "!pinned");
    assert_false(t->v->in_multicall);
}

/* A multicall entry that is itself a multicall gets -EINVAL "Multicall reentry is disallowed."; the batch goes on. */
static void multicall_nested_refused(void **state)
{
    struct tm *t = *state;
    struct multicall_entry inner[1], mc[2];
    mc_set(&inner[0], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables, 0, 0);
    mc_set(&mc[0], __HYPERVISOR_multicall, (uintptr_t)inner, 1, 0, 0);
    mc_set(&mc[1], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_m2p_strict, 0, 0);
    TM_OK(t, pvm_multicall(t->v, mc, 2));
    assert_int_equal((long)mc[0].result, -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Multicall reentry is disallowed."), 1);
    assert_true(inner[0].result == SENTINEL);
    assert_int_equal((long)mc[1].result, 0);
    assert_int_equal(t->v->d->vm_assist, 1UL << VMASST_TYPE_m2p_strict);
    assert_false(t->v->in_multicall);
}

/* An __HYPERVISOR_iret entry ends the batch: later entries never run and keep their result field (XSA-213). */
static void multicall_iret_stops_batch(void **state)
{
    struct tm *t = *state;
    struct multicall_entry mc[3];
    mc_set(&mc[0], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables, 0, 0);
    mc_set(&mc[1], __HYPERVISOR_iret, 0, 0, 0, 0);
    mc_set(&mc[2], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_m2p_strict, 0, 0);
    pvm_multicall(t->v, mc, 3);
    AUDIT_CLEAN(t);
    assert_int_equal((long)mc[0].result, 0);
    assert_true(mc[2].result == SENTINEL);
    assert_int_equal(t->v->d->vm_assist, 1UL << VMASST_TYPE_writable_pagetables);
    assert_false(t->v->in_multicall);
    /* After the aborted batch, a new multicall is accepted (not mistaken for reentry). */
    mc_set(&mc[0], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_m2p_strict, 0, 0);
    TM_OK(t, pvm_multicall(t->v, mc, 1));
    assert_int_equal((long)mc[0].result, 0);
}

/* ---- dispatcher ------------------------------------------------------------------------------ */

/* pvm_hypercall routes each op number to its handler with register arguments; unknown ops are -ENOSYS. */
static void hypercall_dispatch(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1), c = tm_frame(t, 1), x = tm_frame(t, 1);
    struct pvm_stats s0 = t->m.stats;

    struct mmu_update u = { (t->l1 << 12) | 5 * 8, pte(a, _PAGE_PRESENT) };
    unsigned int done = 99;
    xen_ulong_t args[6] = { tm_guest(t, &u, sizeof(u)), 1, tm_guest(t, &done, sizeof(done)), DOMID_SELF, 0, 0 };
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_mmu_update, args));
    assert_int_equal(done, 1);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), a);
    assert_int_equal(t->m.stats.hc_mmu_update, s0.hc_mmu_update + 1);

    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_PIN_L1_TABLE;
    op.arg1.mfn = x;
    done = 99;
    xen_ulong_t a2[6] = { tm_guest(t, &op, sizeof(op)), 1, tm_guest(t, &done, sizeof(done)), DOMID_SELF, 0, 0 };
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_mmuext_op, a2));
    assert_int_equal(done, 1);
    TM_FRAME(t, x, "pinned");
    assert_int_equal(t->m.stats.hc_mmuext_op, s0.hc_mmuext_op + 1);

    xen_ulong_t a3[6] = { 6ULL << 12, pte(b, _PAGE_PRESENT), UVMF_NONE, 0, 0, 0 };
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_update_va_mapping, a3));
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 6)), b);

    xen_ulong_t a4[6] = { 7ULL << 12, pte(c, _PAGE_PRESENT), UVMF_NONE, DOMID_SELF, 0, 0 };
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_update_va_mapping_otherdomain, a4));
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 7)), c);
    a4[3] = 2;
    TM_RC(t, pvm_hypercall(t->v, __HYPERVISOR_update_va_mapping_otherdomain, a4), -XEN_EPERM);
    assert_int_equal(t->m.stats.hc_update_va_mapping, s0.hc_update_va_mapping + 3);

    xen_ulong_t a5[6] = { VMASST_CMD_enable, VMASST_TYPE_writable_pagetables, 0, 0, 0, 0 };
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_vm_assist, a5));
    assert_int_equal(t->v->d->vm_assist, 1UL << VMASST_TYPE_writable_pagetables);
    assert_int_equal(t->m.stats.hc_vm_assist, s0.hc_vm_assist + 1);

    struct multicall_entry mc[1];
    mc_set(&mc[0], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_m2p_strict, 0, 0);
    xen_ulong_t a6[6] = { tm_guest(t, mc, sizeof(mc)), 1, 0, 0, 0, 0 };
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_multicall, a6));
    assert_int_equal((long)mc[0].result, 0);
    assert_int_equal(t->m.stats.hc_multicall, s0.hc_multicall + 1);
    assert_int_equal(t->m.stats.hc_vm_assist, s0.hc_vm_assist + 2);

    xen_ulong_t none[6] = { 0, 0, 0, 0, 0, 0 };
    TM_RC(t, pvm_hypercall(t->v, __HYPERVISOR_set_gdt, none), -XEN_ENOSYS);
    TM_RC(t, pvm_hypercall(t->v, 4242, none), -XEN_ENOSYS);
    assert_int_equal(t->m.stats.hc_other, s0.hc_other + 2);
}

/* ---- guest handles: never dereferenced, only copied through the platform ---------------------- */

/*
 * update_va_mapping's flags above UVMF_ALL|3 are a guest handle.  One that names no guest memory
 * (flags=9: a TLB flush with bitmap handle 8) must not be read as a host pointer: the entry is
 * written, nothing is flushed, and the result is -EFAULT, as in Xen.
 */
static void uvm_bad_mask_handle(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    uint64_t flushes = t->m.stats.tlb_flushes;
    static const unsigned long bad[] = { 8, 0x1000, 0x7ffffffff000UL, ~0UL & ~3UL };
    for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        TM_RC(t, pvm_update_va_mapping(t->v, 6ULL << 12, pte(a, _PAGE_PRESENT), bad[i] | UVMF_TLB_FLUSH), -XEN_EFAULT);
        assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 6)), a);   /* the entry stays written */
        assert_int_equal(t->m.last.why, PVM_WHY_FAULT);
        TM_OK(t, pvm_update_va_mapping(t->v, 6ULL << 12, 0, UVMF_NONE));
    }
    assert_int_equal(t->m.stats.tlb_flushes, flushes);
    /* The same through the dispatcher and inside a multicall. */
    xen_ulong_t args[6] = { 6ULL << 12, pte(a, _PAGE_PRESENT), 9, 0, 0, 0 };
    TM_RC(t, pvm_hypercall(t->v, __HYPERVISOR_update_va_mapping, args), -XEN_EFAULT);
    struct multicall_entry mc[1];
    mc_set(&mc[0], __HYPERVISOR_update_va_mapping, 7ULL << 12, pte(a, _PAGE_PRESENT), 9, 0);
    TM_OK(t, pvm_multicall(t->v, mc, 1));
    assert_int_equal((long)mc[0].result, -XEN_EFAULT);
    assert_int_equal(t->m.stats.tlb_flushes, flushes);
    /* A platform without copy callbacks: every handle faults. */
    t->m.ops.copy_from_guest = NULL;
    static const unsigned long two = 2;
    const unsigned long flags = (unsigned long)(uintptr_t)&two | UVMF_TLB_FLUSH;
    TM_RC(t, pvm_update_va_mapping(t->v, 8ULL << 12, pte(a, _PAGE_PRESENT), flags), -XEN_EFAULT);
}

/* An mmuext_op's vcpumask is a guest handle too: one that names no guest memory is -EINVAL (Xen's answer), no flush. */
static void mmuext_bad_mask_handle(void **state)
{
    struct tm *t = *state;
    uint64_t flushes = t->m.stats.tlb_flushes;
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_TLB_FLUSH_MULTI;
    op.arg2.vcpumask = 8;
    TM_RC(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF), -XEN_EINVAL);
    op.cmd = MMUEXT_INVLPG_MULTI;
    op.arg2.vcpumask = 0xffff800000000000ULL;   /* a hypervisor address */
    TM_RC(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(t->m.stats.tlb_flushes, flushes);
    /* Bits beyond the domain's vCPUs are ignored. */
    static const unsigned long many = ~0UL;
    op.cmd = MMUEXT_TLB_FLUSH_MULTI;
    op.arg2.vcpumask = tm_guest(t, &many, sizeof(many));
    TM_OK(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF));
    assert_int_equal(t->m.stats.tlb_flushes, flushes + 2);
}

/*
 * pvm_hypercall takes register values: every array, done count and multicall list is a guest handle.
 * Handles outside guest memory fault before anything runs (guest_handle_okay); a readable array whose
 * elements stop being readable ends the batch at that element with -EFAULT; a done count that cannot be
 * written is ignored; a multicall list is read entry by entry and each result written back.
 */
static void dispatcher_guest_handles(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    struct mmu_update u[2] = { { (t->l1 << 12) | 5 * 8, pte(a, _PAGE_PRESENT) },
                               { (t->l1 << 12) | 6 * 8, pte(b, _PAGE_PRESENT) } };
    unsigned int done = 99;
    /* Not guest memory at all (never registered): -EFAULT, nothing done, done untouched. */
    xen_ulong_t args[6] = { (uintptr_t)u, 2, (uintptr_t)&done, DOMID_SELF, 0, 0 };
    TM_RC(t, pvm_hypercall(t->v, __HYPERVISOR_mmu_update, args), -XEN_EFAULT);
    assert_int_equal(done, 99);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    /* A range that reaches the hypervisor's half, or wraps: refused up front. */
    xen_ulong_t hv[6] = { 0xffff800000000000ULL, 1, 0, DOMID_SELF, 0, 0 };
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmu_update, hv), -XEN_EFAULT);
    xen_ulong_t wrap[6] = { ~0ULL - 8, 4, 0, DOMID_SELF, 0, 0 };
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmuext_op, wrap), -XEN_EFAULT);
    xen_ulong_t huge[6] = { 0x1000, 0xFFFFFFFF, 0, DOMID_SELF, 0, 0 };
    TM_RC(t, pvm_hypercall(t->v, __HYPERVISOR_mmu_update, huge), -XEN_EFAULT);
    /* Only the first request is guest memory: it runs, the second cannot be read. */
    args[0] = tm_guest(t, &u[0], sizeof(u[0]));
    args[2] = tm_guest(t, &done, sizeof(done));
    TM_RC(t, pvm_hypercall(t->v, __HYPERVISOR_mmu_update, args), -XEN_EFAULT);
    assert_int_equal(done, 1);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 5)), a);
    assert_int_equal(pvm_peek(&t->m, t->l1, 6), 0);
    /* A done count that is not guest memory is ignored: the call still succeeds. */
    tm_guest(t, &u[1], sizeof(u[1]));
    unsigned int elsewhere = 77;
    args[2] = (uintptr_t)&elsewhere;
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_mmu_update, args));
    assert_int_equal(elsewhere, 77);
    assert_int_equal(frame_of(pvm_peek(&t->m, t->l1, 6)), b);
    /* A multicall list: 100 entries (no limit), each result written back to guest memory. */
    struct multicall_entry mc[100];
    for (unsigned int i = 0; i < 100; i++)
        mc_set(&mc[i], __HYPERVISOR_vm_assist, VMASST_CMD_enable, i % 2 ? 6 : VMASST_TYPE_m2p_strict, 0, 0);
    xen_ulong_t ml[6] = { tm_guest(t, mc, sizeof(mc)), 100, 0, 0, 0, 0 };
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_multicall, ml));
    for (unsigned int i = 0; i < 100; i++)
        assert_int_equal((long)mc[i].result, i % 2 ? -XEN_EINVAL : 0);
    /* A list that is not guest memory: -EFAULT, nothing run. */
    uint64_t entries = t->m.stats.multicall_entries;
    struct multicall_entry other[2];
    mc_set(&other[0], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_m2p_strict, 0, 0);
    xen_ulong_t ol[6] = { (uintptr_t)other, 2, 0, 0, 0, 0 };
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_multicall, ol), -XEN_EFAULT);
    assert_int_equal(t->m.stats.multicall_entries, entries);
    /* An entry whose own array is not guest memory gets -EFAULT in its result; the batch goes on. */
    struct mmu_update stray = { (t->l1 << 12) | 7 * 8, pte(a, _PAGE_PRESENT) };
    mc_set(&mc[0], __HYPERVISOR_mmu_update, (uintptr_t)&stray, 1, 0, DOMID_SELF);
    mc_set(&mc[1], __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_m2p_strict, 0, 0);
    ml[1] = 2;
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_multicall, ml));
    assert_int_equal((long)mc[0].result, -XEN_EFAULT);
    assert_int_equal((long)mc[1].result, 0);
    assert_int_equal(pvm_peek(&t->m, t->l1, 7), 0);
}

/*
 * The guest ABI's corners, as Xen 4.17 answers them (found by review): guest_handle_okay checks only
 * the start of an array, even for count 0, so a batch that runs into unreadable memory does what it can
 * read and stops there; address 0 is a guest address like any other; MMU_UPDATE_PREEMPTED in the count
 * is a continuation; the done count is not written when Xen returns before it; ~0 is not "no root";
 * DOMID_IO may update the M2P of its own frames.
 */
static void dispatcher_xen_corners(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    unsigned int done = 99;
    xen_ulong_t dh = tm_guest(t, &done, sizeof(done));
    /* Count 0 with a handle that is not a guest address: -EFAULT for all three batch calls. */
    static const uint64_t bad[] = { 0xffff800000000000ULL, 0x800000000000ULL };
    for (unsigned int i = 0; i < 2; i++) {
        xen_ulong_t z[6] = { bad[i], 0, 0, DOMID_SELF, 0, 0 };
        assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmu_update, z), -XEN_EFAULT);
        assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmuext_op, z), -XEN_EFAULT);
        assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_multicall, z), -XEN_EFAULT);
    }
    AUDIT_CLEAN(t);
    /* Two requests of which only the first is readable: one done, then -EFAULT, done=1. */
    struct mmu_update u[2] = { { (t->l1 << 12) | 5 * 8, pte(a, _PAGE_PRESENT) },
                               { (t->l1 << 12) | 6 * 8, pte(b, _PAGE_PRESENT) } };
    xen_ulong_t args[6] = { tm_guest(t, &u[0], sizeof(u[0])), 2, dh, DOMID_SELF, 0, 0 };
    TM_RC(t, pvm_hypercall(t->v, __HYPERVISOR_mmu_update, args), -XEN_EFAULT);
    assert_int_equal(done, 1);
    /* A continuation: the count carries MMU_UPDATE_PREEMPTED, done goes on from the guest's value. */
    assert_int_equal(tm_set(t->v, t->l1, 5, 0), 0);
    done = 7;
    args[1] = MMU_UPDATE_PREEMPTED | 1;
    TM_OK(t, pvm_hypercall(t->v, __HYPERVISOR_mmu_update, args));
    assert_int_equal(done, 8);
    xen_ulong_t cont[6] = { 0, MMU_UPDATE_PREEMPTED, 0, 5, 0, 0 };
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmu_update, cont), 5);
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmuext_op, cont), 5);
    /* No done count where Xen returns before writing it: an unknown pt owner, an unknown page owner for mmuext_op. */
    done = 99;
    xen_ulong_t pfd[6] = { args[0], 1, dh, (33u + 1) << 16 | DOMID_SELF, 0, 0 };
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmu_update, pfd), -XEN_ESRCH);
    assert_int_equal(done, 99);
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_TLB_FLUSH_LOCAL;
    xen_ulong_t fd[6] = { tm_guest(t, &op, sizeof(op)), 1, dh, 33, 0, 0 };
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmuext_op, fd), -XEN_ESRCH);
    assert_int_equal(done, 99);
    /* ...but mmu_update with an unknown page owner does write it (0). */
    pfd[3] = 33;
    assert_int_equal(pvm_hypercall(t->v, __HYPERVISOR_mmu_update, pfd), -XEN_ESRCH);
    assert_int_equal(done, 0);
    AUDIT_CLEAN(t);
    /* ~0 is a frame number like any other, not "no root": -EINVAL, as Xen. */
    op.cmd = MMUEXT_NEW_USER_BASEPTR;
    op.arg1.mfn = ~0ULL;
    TM_RC(t, pvm_mmuext_op(t->v, &op, 1, NULL, DOMID_SELF), -XEN_EINVAL);
    assert_int_equal(t->v->guest_table_user, PVM_INVALID_MFN);
}

/* MMU_MACHPHYS_UPDATE with foreigndom DOMID_IO on an I/O frame: Xen takes a reference of dom_io's own frame and succeeds. */
static void machphys_of_io_frame(void **state)
{
    struct tm *t = *state;
    uint64_t io = t->next++;
    assert_int_equal(pvm_mark_io(&t->m, io), 0);
    uint64_t ram = tm_frame(t, 1);
    struct mmu_update u = { (io << 12) | MMU_MACHPHYS_UPDATE, 0x1234 };
    TM_OK(t, pvm_mmu_update(t->v, &u, 1, NULL, DOMID_IO));
    TM_FRAME(t, io, "m2p=0x1234");
    /* Not a frame of DOMID_IO: refused as before. */
    u.ptr = (ram << 12) | MMU_MACHPHYS_UPDATE;
    TM_RC(t, pvm_mmu_update(t->v, &u, 1, NULL, DOMID_IO), -XEN_EINVAL);
}

/* ---- TLB flushes after mmu_update --------------------------------------------------------------- */

/* An L2+ change via mmu_update flushes every vCPU of the domain (XSA-286); an L1-only change flushes nothing. */
static void mmu_update_l2_change_flushes_domain(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    struct pvm_stats s0 = t->m.stats;
    /* L1 change: the guest must flush itself. */
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)));
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes);
    assert_int_equal(t->m.stats.tlb_flushes_linear_pt, s0.tlb_flushes_linear_pt);
    /* L2 change (hook the existing L1 a second time, no type change). */
    uint32_t t0 = t->v->tlbflush_time, t1 = v1->tlbflush_time;
    TM_OK(t, tm_set(t->v, t->l2, 1, pte(t->l1, _PAGE_PRESENT | _PAGE_RW)));
    TM_FRAME(t, t->l1, "tc=2");
    assert_int_equal(t->m.stats.tlb_flushes_linear_pt, s0.tlb_flushes_linear_pt + 2);
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes + 2);
    assert_true(t->v->tlbflush_time != t0);
    assert_true(v1->tlbflush_time != t1);
    /* d2 is untouched. */
    assert_int_equal(t->v2->tlbflush_time, 0);
    /* A failed L2 update flushes nothing. */
    TM_RC(t, tm_set(t->v, t->l2, 2, pte(a, _PAGE_PRESENT | _PAGE_PSE)), -XEN_EINVAL);
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_SPACE_TEST(mmu_update_batch_stops_at_failure),
        TM_SPACE_TEST(mmu_update_bad_cmd_enosys),
        TM_TEST(mmuext_batch_stops_at_failure),
        TM_SPACE_TEST(foreigndom_self_id_esrch),
        TM_SPACE_TEST(foreigndom_unknown_esrch),
        TM_SPACE_TEST(foreigndom_unprivileged_eperm),
        TM_TEST(foreigndom_privileged_pins_foreign_table),
        TM_TEST(foreigndom_privileged_maps_foreign_frame),
        TM_TEST(foreigndom_l2_update_einval),
        TM_TEST(machphys_update),
        TM_SPACE_TEST(new_baseptr_switches_root),
        TM_SPACE_TEST(new_baseptr_same_mfn_reload),
        TM_SPACE_TEST(new_baseptr_failure),
        TM_TEST(new_baseptr_foreign_eperm),
        TM_SPACE_TEST(new_user_baseptr_and_clear),
        TM_TEST(mmuext_unsupported_and_unknown),
        TM_TEST(flush_cache_needs_io_rights),
        TM_TEST(set_ldt_args),
        TM_TEST(set_ldt_no_entries_ignores_pointer),
        TM_SPACE_TEST(clear_page),
        TM_SPACE_TEST(copy_page),
        TM_SPACE_TEST(uvm_replaces_l1_entry),
        TM_SPACE_TEST(uvm_failure_no_flush),
        TM_SPACE_TEST(uvm_flush_flags),
        TM_TEST(uvm_otherdomain),
        TM_TEST(vm_assist_checks),
        TM_TEST(vm_assist_pv64_mask),
        TM_SPACE_TEST(multicall_records_each_result),
        TM_TEST(multicall_nested_refused),
        TM_TEST(multicall_iret_stops_batch),
        TM_SPACE_TEST(hypercall_dispatch),
        TM_SPACE_TEST(uvm_bad_mask_handle),
        TM_SPACE_TEST(mmuext_bad_mask_handle),
        TM_SPACE_TEST(dispatcher_guest_handles),
        TM_SPACE_TEST(dispatcher_xen_corners),
        TM_TEST(machphys_of_io_frame),
        TM_SPACE_TEST(mmu_update_l2_change_flushes_domain),
    };
    return cmocka_run_group_tests_name("hypercalls", tests, NULL, NULL);
}
