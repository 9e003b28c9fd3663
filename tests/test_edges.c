/*
 * test_edges.c - the edges of the public API: argument errors of the
 * machine and domain calls, NULL guest handles, a platform whose map()
 * cannot give a frame storage (-EFAULT, nothing changed), the optional
 * platform callbacks (read, log), and the guest-access corners of the
 * software MMU (I/O space beyond memory, misaligned loads, Xen's own L4
 * slot seen through a recursive mapping, ptwr on what is not a read-only
 * L1 mapping).  Reference: xen-pv-mmu.md sections 3 and 5.
 *
 * tm_space maps its four tables read-only in l1 slots 1-4 (va 0x1000 is the
 * L1, 0x4000 the L4); slot 0 and slots 5 and up are free for the tests.
 */
#include "harness.h"

#include <string.h>

#define P   _PAGE_PRESENT
#define RW  _PAGE_RW
#define IO_MFN 0x1000ULL   /* beyond the 512 frames of every machine here: I/O space */
#define PFEC_RO_WRITE (PFEC_page_present | PFEC_write_access | PFEC_user_mode)

/*
 * call, made while the platform cannot give frame nomem storage, fails with -EFAULT after one map failure and leaves
 * nothing the core keeps changed, but for frame retyped (if not PVM_INVALID_MFN) typed type_info at count 0; the
 * auditor stays clean.
 */
#define REFUSED_WITHOUT_STORAGE(t, nomem, retyped, type_info, call)     \
    do {                                                                \
        tm_map_fail((t), (nomem));                                      \
        void *snap_ = tm_snapshot(t);                                   \
        if ((retyped) != PVM_INVALID_MFN)                               \
            tm_snapshot_set_type(snap_, (retyped), (type_info));        \
        TM_RC(t, call, -XEN_EFAULT);                                    \
        tm_assert_unchanged((t), snap_);                                \
        assert_int_equal((t)->map_failures, 1);                         \
    } while (0)

/* Is va's translation in v's TLB? */
static bool cached(const struct pvm_vcpu *v, uint64_t va)
{
    const struct pvm_tlb_entry *e = &v->tlb[(va >> 12) % PVM_TLB_ENTRIES];
    return e->valid && e->vpn == ((va & ((1ULL << 48) - 1)) >> 12);
}

static int flush_op(struct pvm_vcpu *v, unsigned int cmd, uint64_t va, const unsigned long *mask)
{
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = cmd;
    op.arg1.linear_addr = va;
    if (mask)   /* guest memory the core may read the bitmap from */
        assert_int_equal(hostmem_guest_view(v->m->ops.ctx, mask, sizeof(*mask)), 0);
    op.arg2.vcpumask = (xen_ulong_t)(uintptr_t)mask;
    return pvm_mmuext_op(v, &op, 1, NULL, DOMID_SELF);
}

/* ---- machine and domain calls ------------------------------------------------ */

/* pvm_domain_create refuses reserved ids and bad vCPU counts (-EINVAL), an existing id (-EBUSY); creates nothing. */
static void domain_create_bad_args(void **state)
{
    struct tm *t = *state;
    assert_int_equal(pvm_domain_create(&t->m, DOMID_FIRST_RESERVED, 1, 0), -XEN_EINVAL);
    assert_int_equal(pvm_domain_create(&t->m, DOMID_IO, 1, 0), -XEN_EINVAL);
    assert_int_equal(pvm_domain_create(&t->m, 3, 0, 0), -XEN_EINVAL);
    assert_int_equal(pvm_domain_create(&t->m, 3, PVM_MAX_VCPUS + 1, 0), -XEN_EINVAL);
    assert_null(pvm_domain(&t->m, DOMID_IO));
    assert_null(pvm_domain(&t->m, 3));
    /* d1 exists with 2 vCPUs: asking again for 1 privileged vCPU changes nothing. */
    assert_int_equal(pvm_domain_create(&t->m, 1, 1, PVM_DOM_PRIVILEGED), -XEN_EBUSY);
    struct pvm_domain *d1 = pvm_domain(&t->m, 1);
    assert_non_null(d1);
    assert_int_equal(d1->nr_vcpus, 2);
    assert_int_equal(d1->flags, 0);
    assert_non_null(pvm_vcpu(&t->m, 1, 1));
}

/*
 * A domain whose preferred slot (id % PVM_MAX_DOMAINS) is taken lands in the next free one and is found there,
 * by the API and by the core's own lookups (a whole address space of it audits clean).  A full table is -EBUSY.
 */
static void domain_slot_collision_and_full_table(void **state)
{
    struct tm *t = *state;
    /* d9 prefers slot 1 (d1), then slot 2 (d2): it gets slot 3. */
    assert_int_equal(pvm_domain_create(&t->m, 9, 1, 0), 0);
    struct pvm_domain *d9 = pvm_domain(&t->m, 9);
    assert_ptr_equal(d9, &t->m.doms[3]);
    assert_int_equal(d9->id, 9);
    assert_ptr_equal(pvm_domain(&t->m, 1), &t->m.doms[1]);
    assert_ptr_equal(pvm_domain(&t->m, 2), &t->m.doms[2]);
    struct pvm_vcpu *v9 = pvm_vcpu(&t->m, 9, 0);
    assert_ptr_equal(v9, &d9->vcpu[0]);
    assert_null(pvm_vcpu(&t->m, 9, 1));
    assert_null(pvm_domain(&t->m, 17));   /* prefers slot 1 too, exists nowhere */
    uint64_t l4, l1;
    tm_space(t, v9, &l4, NULL, NULL, &l1);
    TM_FRAME(t, l4, "owner=d9");
    assert_int_equal(d9->nr_l4_pages, 1);
    assert_int_equal(d9->tot_pages, 4);
    uint64_t a = tm_frame(t, 9);
    TM_OK(t, tm_set(v9, l1, 5, pte(a, P | RW)));
    TM_FRAME(t, a, "type=writable");
    /* Fill the table: 3 domains now, 5 more fit. */
    for (domid_t id = 20; id < 25; id++)
        assert_int_equal(pvm_domain_create(&t->m, id, 1, 0), 0);
    assert_int_equal(pvm_domain_create(&t->m, 25, 1, 0), -XEN_EBUSY);
    assert_null(pvm_domain(&t->m, 25));
    for (domid_t id = 20; id < 25; id++)
        assert_int_equal(pvm_domain(&t->m, id)->id, id);
    AUDIT_CLEAN(t);
}

/* pvm_domain_iomem_permit on a domain that does not exist is -ESRCH and touches no other domain. */
static void iomem_permit_unknown_domain(void **state)
{
    struct tm *t = *state;
    assert_int_equal(pvm_domain_iomem_permit(&t->m, 7, 0x100, 0x1FF), -XEN_ESRCH);
    for (domid_t id = 1; id <= 2; id++) {
        const struct pvm_domain *d = pvm_domain(&t->m, id);
        assert_int_equal(d->nr_iomem, 0);   /* still no I/O range */
    }
}

/* pvm_assign_pages: unknown domain -ESRCH, a range off the end (or wrapping) -EINVAL, a busy frame -EBUSY; atomic. */
static void assign_pages_errors(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);   /* 0x10 */
    struct pvm_domain *d2 = pvm_domain(&t->m, 2);
    uint64_t tot = d2->tot_pages;
    assert_int_equal(pvm_assign_pages(&t->m, 0x20, 1, 7), -XEN_ESRCH);
    assert_int_equal(pvm_assign_pages(&t->m, 512, 1, 2), -XEN_EINVAL);
    assert_int_equal(pvm_assign_pages(&t->m, 500, 13, 2), -XEN_EINVAL);
    assert_int_equal(pvm_assign_pages(&t->m, 500, UINT64_MAX, 2), -XEN_EINVAL);
    /* 0x0E..0x11 includes d1's frame 0x10: nothing of the range is taken. */
    assert_int_equal(pvm_assign_pages(&t->m, a - 2, 4, 2), -XEN_EBUSY);
    for (uint64_t f = a - 2; f < a + 2; f++)
        TM_FRAME(t, f, "owner=%s", f == a ? "d1" : "none");
    TM_FRAME(t, a, "count=1");
    assert_int_equal(d2->tot_pages, tot);
    /* pvm_assign_page fails the same way and leaves the M2P alone. */
    assert_int_equal(pvm_assign_page(&t->m, a, 2, 77), -XEN_EBUSY);
    TM_FRAME(t, a, "m2p=0");
    TM_RC(t, pvm_assign_page(&t->m, 512, 2, 77), -XEN_EINVAL);
    /* The range just short of the end is fine. */
    assert_int_equal(pvm_assign_pages(&t->m, 500, 12, 2), 0);
    assert_int_equal(d2->tot_pages, tot + 12);
    AUDIT_CLEAN(t);
}

/* pvm_mark_io: a frame beyond the table is -EINVAL; a frame owned by a domain, or already by DOMID_IO, -EBUSY. */
static void mark_io_errors(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    assert_int_equal(pvm_mark_io(&t->m, 512), -XEN_EINVAL);
    assert_int_equal(pvm_mark_io(&t->m, a), -XEN_EBUSY);
    struct pvm_frame_state s = tm_state(t, a);
    assert_false(s.io);
    TM_FRAME(t, a, "owner=d1 count=1 type=none");
    assert_int_equal(pvm_mark_io(&t->m, 0x1F0), 0);
    TM_RC(t, pvm_mark_io(&t->m, 0x1F0), -XEN_EBUSY);
    assert_true(tm_state(t, 0x1F0).io);
    TM_FRAME(t, 0x1F0, "count=1");
}

/* pvm_poke refuses a frame beyond the table or a slot past 511 (-EINVAL, no storage taken); pvm_peek reads 0 there. */
static void poke_peek_bad_args(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    assert_int_equal(pvm_poke(&t->m, a, 511, 0xABC), 0);
    uint64_t bytes = hostmem_bytes(&t->h);
    assert_int_equal(pvm_poke(&t->m, 512, 0, 1), -XEN_EINVAL);
    assert_int_equal(pvm_poke(&t->m, a, 512, 1), -XEN_EINVAL);
    assert_int_equal(hostmem_bytes(&t->h), bytes);
    assert_int_equal(pvm_peek(&t->m, a, 511), 0xABC);
    assert_int_equal(pvm_peek(&t->m, a, 512), 0);
    assert_int_equal(pvm_peek(&t->m, 512, 0), 0);
    assert_int_equal(pvm_peek(&t->m, UINT64_MAX, 0), 0);
}

/* pvm_release_page of a frame beyond the table, an I/O frame or another domain's frame: -EINVAL, nothing changed. */
static void release_page_bad_args(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    assert_int_equal(pvm_mark_io(&t->m, 0x1F0), 0);
    void *snap = tm_snapshot(t);
    assert_int_equal(pvm_release_page(&t->m, 1, 512), -XEN_EINVAL);
    assert_int_equal(pvm_release_page(&t->m, 1, 0x1F0), -XEN_EINVAL);
    TM_RC(t, pvm_release_page(&t->m, 2, a), -XEN_EINVAL);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_domain(&t->m, 1)->tot_pages, 1);
}

/* Every refusal cause and every frame type has its own name; values past the end read "unknown" and "?". */
static void why_and_type_names(void **state)
{
    (void)state;
    for (int i = 0; i < PVM_WHY_COUNT; i++) {
        const char *n = pvm_why_name((enum pvm_why)i);
        assert_non_null(n);
        assert_true(n[0] != 0);
        assert_string_not_equal(n, "unknown");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, pvm_why_name((enum pvm_why)j));
    }
    assert_string_equal(pvm_why_name(PVM_WHY_NONE), "no refusal");
    assert_string_equal(pvm_why_name(PVM_WHY_COUNT), "unknown");
    const char *types[] = { "none", "l1", "l2", "l3", "l4", "seg_desc", "shared", "writable" };
    for (int i = 0; i < 8; i++)
        assert_string_equal(pvm_type_name((enum pvm_type)i), types[i]);
    assert_string_equal(pvm_type_name((enum pvm_type)8), "?");
}

/* ---- NULL guest handles ------------------------------------------------------- */

/* The last refusal was the -EFAULT of a guest handle that names no guest memory. */
static void last_refusal_is_handle_fault(struct tm *t)
{
    assert_int_equal(t->m.last.rc, -XEN_EFAULT);
    assert_int_equal(t->m.last.why, PVM_WHY_FAULT);
}

/* mmu_update with a NULL request list is -EFAULT before any request (done 0); with count 0 there is nothing to read. */
static void mmu_update_null_requests(void **state)
{
    struct tm *t = *state;
    struct pvm_stats s0 = t->m.stats;
    unsigned int done = 99;
    TM_REFUSED(t, pvm_mmu_update(t->v, NULL, 3, &done, DOMID_SELF), -XEN_EFAULT);
    assert_int_equal(done, 0);
    assert_true(t->m.last_set);
    last_refusal_is_handle_fault(t);
    assert_int_equal(t->m.last.domid, 1);
    assert_int_equal(t->m.stats.hc_mmu_update, s0.hc_mmu_update + 1);
    assert_int_equal(t->m.stats.mmu_update_reqs, s0.mmu_update_reqs);
    assert_int_equal(t->m.stats.refusals, s0.refusals + 1);
    done = 99;
    assert_int_equal(pvm_mmu_update(t->v, NULL, 0, &done, DOMID_SELF), 0);
    assert_int_equal(done, 0);
    assert_int_equal(t->m.stats.refusals, s0.refusals + 1);
}

/* mmuext_op with a NULL op list is -EFAULT with nothing done. */
static void mmuext_op_null_ops(void **state)
{
    struct tm *t = *state;
    struct pvm_stats s0 = t->m.stats;
    unsigned int done = 99;
    TM_REFUSED(t, pvm_mmuext_op(t->v, NULL, 2, &done, DOMID_SELF), -XEN_EFAULT);
    assert_int_equal(done, 0);
    last_refusal_is_handle_fault(t);
    assert_int_equal(t->m.stats.mmuext_ops, s0.mmuext_ops);
    assert_int_equal(t->m.stats.refusals, s0.refusals + 1);
    assert_int_equal(pvm_mmuext_op(t->v, NULL, 0, &done, DOMID_SELF), 0);
    assert_int_equal(done, 0);
}

/* multicall with a NULL list is -EFAULT, runs nothing and leaves the vCPU free to make the next multicall. */
static void multicall_null_list(void **state)
{
    struct tm *t = *state;
    struct pvm_stats s0 = t->m.stats;
    assert_int_equal(pvm_multicall(t->v, NULL, 2), -XEN_EFAULT);
    last_refusal_is_handle_fault(t);
    assert_int_equal(t->m.stats.multicall_entries, s0.multicall_entries);
    assert_false(t->v->in_multicall);
    assert_int_equal(pvm_multicall(t->v, NULL, 0), 0);
    struct multicall_entry mc = { .op = __HYPERVISOR_vm_assist, .result = 99,
                                  .args = { VMASST_CMD_enable, VMASST_TYPE_writable_pagetables } };
    assert_int_equal(pvm_multicall(t->v, &mc, 1), 0);
    assert_int_equal(mc.result, 0);
    assert_true(pvm_domain(&t->m, 1)->vm_assist & (1UL << VMASST_TYPE_writable_pagetables));
}

/* MMU_MACHPHYS_UPDATE with DOMID_IO as owner: no RAM frame is DOMID_IO's, so -EINVAL and the M2P stays. */
static void machphys_update_domid_io(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    struct mmu_update u = { (a << 12) | MMU_MACHPHYS_UPDATE, 0x4242 };
    unsigned int done = 99;
    TM_REFUSED(t, pvm_mmu_update(t->v, &u, 1, &done, DOMID_IO), -XEN_EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(t->m.last.why, PVM_WHY_NO_PAGE);
    assert_int_equal(t->m.last.mfn, a);
    TM_FRAME(t, a, "m2p=%llu", (unsigned long long)(a - 0x10));
    assert_int_equal(tm_log_count(t, "Could not get page for mach->phys update"), 1);
}

/* ---- a platform that cannot give a frame storage ------------------------------ */

/* pvm_poke into a frame the platform has no storage for is -EFAULT and leaves it without data. */
static void poke_map_failure(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    tm_map_fail(t, a);
    assert_int_equal(pvm_poke(&t->m, a, 3, 0x1234), -XEN_EFAULT);
    assert_int_equal(t->map_failures, 1);
    assert_null(hostmem_peek(&t->h, a));
    assert_int_equal(pvm_peek(&t->m, a, 3), 0);
    tm_map_fail(t, PVM_INVALID_MFN);
    assert_int_equal(pvm_poke(&t->m, a, 3, 0x1234), 0);
    assert_int_equal(pvm_peek(&t->m, a, 3), 0x1234);
}

/*
 * An L1 update whose table cannot be written is -EFAULT with nothing held: the new target's references are
 * dropped again (its type stays writable at count 0, as after any failure past get_page_from_l1e).
 */
static void mod_l1_entry_map_failure(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1), a = tm_frame(t, 1);
    TM_OK(t, tm_pin(t->v, 1, x));   /* an empty L1: no data yet */
    assert_null(hostmem_peek(&t->h, x));
    struct pvm_stats s0 = t->m.stats;
    struct mmu_update u = { (x << 12) | (5 * 8), pte(a, P | RW) };
    unsigned int done = 99;
    REFUSED_WITHOUT_STORAGE(t, x, a, PGT_writable_page | PGT_validated, pvm_mmu_update(t->v, &u, 1, &done, DOMID_SELF));
    assert_int_equal(done, 0);
    assert_false(t->m.last_set);   /* a platform failure, not a refusal of Xen's */
    assert_int_equal(t->m.stats.refusals, s0.refusals + 1);
    assert_int_equal(pvm_peek(&t->m, x, 5), 0);
    /* With storage the same update goes through. */
    tm_map_fail(t, PVM_INVALID_MFN);
    TM_OK(t, pvm_mmu_update(t->v, &u, 1, &done, DOMID_SELF));
    TM_FRAME(t, a, "count=2 tc=1");
}

/*
 * An L2 update whose table cannot be written is -EFAULT: the L1 it would hook was validated for it and is
 * demoted again (type L1 at count 0), and there is no flush, since no L2 entry changed.
 */
static void mod_l2_entry_map_failure(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1), y = tm_frame(t, 1);
    TM_OK(t, tm_pin(t->v, 2, x));   /* an empty L2: no data yet */
    struct pvm_stats s0 = t->m.stats;
    struct mmu_update u = { x << 12, pte(y, P | RW) };
    unsigned int done = 99;
    REFUSED_WITHOUT_STORAGE(t, x, y, PGT_l1_page_table, pvm_mmu_update(t->v, &u, 1, &done, DOMID_SELF));
    assert_int_equal(done, 0);
    TM_FRAME(t, y, "type=l1 tc=0 !validated");
    assert_int_equal(t->m.stats.promotions[1], s0.promotions[1] + 1);
    assert_int_equal(t->m.stats.demotions[1], s0.demotions[1] + 1);
    assert_int_equal(t->m.stats.tlb_flushes_linear_pt, s0.tlb_flushes_linear_pt);
    assert_null(hostmem_peek(&t->h, x));
    tm_map_fail(t, PVM_INVALID_MFN);
    TM_OK(t, pvm_mmu_update(t->v, &u, 1, &done, DOMID_SELF));
    TM_FRAME(t, y, "tc=1 validated");
    assert_int_equal(t->m.stats.tlb_flushes_linear_pt, s0.tlb_flushes_linear_pt + 2);   /* d1's two vCPUs */
}

/* Pinning an L4 whose frame cannot be written (Xen's slots go in) is -EFAULT; the frame is left untyped. */
static void pin_l4_map_failure(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1);
    struct pvm_stats s0 = t->m.stats;
    REFUSED_WITHOUT_STORAGE(t, x, PVM_INVALID_MFN, 0, tm_pin(t->v, 4, x));
    TM_FRAME(t, x, "type=none");
    assert_int_equal(pvm_domain(&t->m, 1)->nr_l4_pages, 0);
    assert_int_equal(t->m.stats.promotions[4], s0.promotions[4]);
    assert_int_equal(t->m.stats.pins, s0.pins);
    assert_int_equal(tm_log_countf(t, "Error -14 while pinning mfn %05llx", (unsigned long long)x), 1);
    tm_map_fail(t, PVM_INVALID_MFN);
    TM_OK(t, tm_pin(t->v, 4, x));
    assert_int_equal(pvm_domain(&t->m, 1)->nr_l4_pages, 1);
    assert_int_equal(pvm_peek(&t->m, x, PVM_LINEAR_PT_SLOT) & PVM_PTE_FRAME_MASK, x << 12);   /* Xen's self map went in */
}

/* MMUEXT_CLEAR_PAGE of a frame that cannot be given storage is -EFAULT; its temporary writable type is dropped. */
static void clear_page_map_failure(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1);
    REFUSED_WITHOUT_STORAGE(t, x, x, PGT_writable_page | PGT_validated, tm_ext(t->v, MMUEXT_CLEAR_PAGE, x));
    TM_FRAME(t, x, "tc=0");
    assert_null(hostmem_peek(&t->h, x));
    tm_map_fail(t, PVM_INVALID_MFN);
    TM_OK(t, tm_ext(t->v, MMUEXT_CLEAR_PAGE, x));
    assert_non_null(hostmem_peek(&t->h, x));
}

/*
 * ptwr into an L1 that cannot be given storage is -EFAULT with the new entry's references dropped; the guest's
 * store then faults as an unhandled #PF would.  l1b is an empty L1 hooked at L2 slot 1, mapped read-only at va 0x6000.
 */
static void ptwr_map_failure(void **state)
{
    struct tm *t = *state;
    uint64_t l1b = tm_frame(t, 1), a = tm_frame(t, 1);
    assert_int_equal(tm_set(t->v, t->l2, 1, pte(l1b, P | RW)), 0);
    assert_int_equal(tm_set(t->v, t->l1, 6, pte(l1b, P)), 0);
    tm_enable_ptwr(t);
    assert_null(hostmem_peek(&t->h, l1b));
    tm_map_fail(t, l1b);
    void *snap = tm_snapshot(t);
    tm_snapshot_set_type(snap, a, PGT_writable_page | PGT_validated);
    struct pvm_stats s0 = t->m.stats;
    TM_RC(t, pvm_ptwr_emulate(t->v, 0x6000 + 3 * 8, 0, pte(a, P | RW), 8, false), -XEN_EFAULT);
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, 0x6000 + 3 * 8, pte(a, P | RW), 8, &f), PVM_ACCESS_FAULT);
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->map_failures, 2);
    assert_int_equal(f.error_code, PFEC_RO_WRITE);
    assert_int_equal(f.level, 1);
    assert_int_equal(t->m.stats.ptwr_emulations, s0.ptwr_emulations);
    assert_int_equal(t->m.stats.page_faults, s0.page_faults + 1);
    assert_int_equal(pvm_peek(&t->m, l1b, 3), 0);
    tm_map_fail(t, PVM_INVALID_MFN);
    TM_RC(t, pvm_guest_store(t->v, 0x6000 + 3 * 8, pte(a, P | RW), 8, &f), PVM_ACCESS_EMULATED);
    TM_FRAME(t, a, "count=2");
    assert_int_equal(pvm_peek(&t->m, l1b, 3) & PVM_PTE_FRAME_MASK, a << 12);
}

/* ---- optional platform callbacks ---------------------------------------------- */

/* The same steps on two machines, one whose platform has no read callback; returns the load results. */
static void read_steps(struct tm *t, uint64_t out[2])
{
    uint64_t l1;
    tm_space(t, t->v, NULL, NULL, NULL, &l1);
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, l1, 5, pte(a, P)));
    TM_OK(t, pvm_update_va_mapping(t->v, 0x6000, pte(b, P | RW), UVMF_INVLPG));
    struct pvm_fault f;
    assert_int_equal(pvm_guest_store(t->v, 0x6010, 0x5A5A, 8, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_guest_load(t->v, 0x5008, &out[0], &f), PVM_ACCESS_OK);   /* a holds no data */
    TM_RC(t, pvm_guest_load(t->v, 0x6010, &out[1], &f), PVM_ACCESS_OK);
}

/* pvm_ops.read is optional: without it the core reads entries through map(), a frame with no data as zeros. */
static void no_read_callback(void **state)
{
    struct tm *t = *state, *u = tm_new(512);
    u->m.ops.read = NULL;
    uint64_t rt[2], ru[2];
    read_steps(t, rt);
    read_steps(u, ru);
    assert_int_equal(ru[0], 0);
    assert_int_equal(ru[1], 0x5A5A);
    assert_memory_equal(rt, ru, sizeof(rt));
    assert_memory_equal(t->m.frames, u->m.frames, 512 * sizeof(struct page_info));
    assert_memory_equal(&t->m.stats, &u->m.stats, sizeof(t->m.stats));
    tm_free(u);
}

/* pvm_ops.log is optional: without a sink a refusal is the same (rc, recorded cause), only the line is gone. */
static void no_log_sink(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_frame(t, 2);
    void (*sink)(void *, const struct pvm_log_msg *) = t->m.ops.log;
    t->m.ops.log = NULL;
    TM_REFUSED(t, tm_pin(t->v, 1, b), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(t->m.last.mfn, b);
    assert_int_equal(tm_log_count(t, "Error mfn"), 0);
    t->m.ops.log = sink;
    assert_int_equal(tm_pin(t->v, 1, b), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(tm_log_countf(t, "Error mfn %05llx: rd=d1 od=d2", (unsigned long long)b), 1);
}

/* NEW_BASEPTR naming an I/O frame is refused (-EINVAL) with Xen's get_page line naming its owner d[IO]. */
static void baseptr_to_io_frame(void **state)
{
    struct tm *t = *state;
    assert_int_equal(pvm_mark_io(&t->m, 0x1F0), 0);
    TM_REFUSED(t, tm_ext(t->v, MMUEXT_NEW_BASEPTR, 0x1F0), -XEN_EINVAL);
    assert_int_equal(t->v->guest_table, t->l4);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(t->m.last.mfn, 0x1F0);
    assert_int_equal(tm_log_count(t, "Error mfn 001f0: rd=d1 od=d[IO] caf=00000001"), 1);
    assert_int_equal(tm_log_count(t, "Error while installing new baseptr 001f0"), 1);
}

/* What the platform's tlb_flush hook was told, in order. */
#define MAX_FLUSHES 32
static struct {
    unsigned int n;
    const struct pvm_vcpu *v[MAX_FLUSHES];
    uint64_t va[MAX_FLUSHES];
    bool all[MAX_FLUSHES];
} seen;

static void record_flush(void *ctx, const struct pvm_vcpu *v, uint64_t va, bool all)
{
    (void)ctx;
    if (seen.n < MAX_FLUSHES) {
        seen.v[seen.n] = v;
        seen.va[seen.n] = va;
        seen.all[seen.n] = all;
    }
    seen.n++;
}

static unsigned int seen_count(bool all)
{
    unsigned int k = 0;
    for (unsigned int i = 0; i < seen.n && i < MAX_FLUSHES; i++)
        k += seen.all[i] == all;
    return k;
}

/* d1v1 loads d1v0's root (tm_setup_space's L4); returns d1v1. */
static struct pvm_vcpu *second_vcpu_on_root(struct tm *t)
{
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    TM_OK(t, pvm_set_guest_table(v1, t->l4));
    return v1;
}

/*
 * pvm_ops.tlb_flush is told of every flush the core does, full or one page, for the vCPU it does it on:
 * as many full flushes as stats.tlb_flushes counts and one-page ones as tlb_invlpg, and nothing for an
 * ignored INVLPG or a mode switch.
 */
static void platform_sees_every_flush(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v1 = second_vcpu_on_root(t);
    memset(&seen, 0, sizeof(seen));
    t->m.ops.tlb_flush = record_flush;
    struct pvm_stats s0 = t->m.stats;
    assert_int_equal(flush_op(t->v, MMUEXT_TLB_FLUSH_LOCAL, 0, NULL), 0);
    assert_int_equal(seen.n, 1);
    assert_true(seen.v[0] == t->v && seen.all[0]);
    assert_int_equal(flush_op(t->v, MMUEXT_INVLPG_LOCAL, 0x1000, NULL), 0);
    assert_int_equal(seen.n, 2);
    assert_true(seen.v[1] == t->v && !seen.all[1] && seen.va[1] == 0x1000);
    assert_int_equal(flush_op(t->v, MMUEXT_INVLPG_ALL, 0x2000, NULL), 0);
    assert_int_equal(seen.n, 4);
    assert_true(seen.v[2] == t->v && seen.v[3] == v1 && seen.va[3] == 0x2000 && !seen.all[3]);
    const unsigned long only_v1 = 2;
    assert_int_equal(flush_op(t->v, MMUEXT_TLB_FLUSH_MULTI, 0, &only_v1), 0);
    assert_int_equal(seen.n, 5);
    assert_true(seen.v[4] == v1 && seen.all[4]);
    assert_int_equal(flush_op(t->v, MMUEXT_INVLPG_ALL, 0xFFFF000000001000ULL, NULL), 0);   /* ignored */
    pvm_set_guest_mode(t->v, false);
    pvm_set_guest_mode(t->v, true);
    assert_int_equal(seen.n, 5);
    uint64_t a = tm_frame(t, 1), l1b = tm_frame(t, 1);
    assert_int_equal(pvm_update_va_mapping(t->v, 0x5000, pte(a, P), UVMF_INVLPG), 0);
    assert_int_equal(seen.n, 6);
    assert_true(seen.v[5] == t->v && seen.va[5] == 0x5000 && !seen.all[5]);
    TM_OK(t, tm_set(t->v, t->l2, 1, pte(l1b, P | RW)));   /* an L2 change flushes both vCPUs */
    pvm_tlb_flush_vcpu(v1);
    assert_true(seen.v[seen.n - 1] == v1 && seen.all[seen.n - 1]);
    assert_true(seen.n <= MAX_FLUSHES);
    assert_int_equal(seen_count(true), t->m.stats.tlb_flushes - s0.tlb_flushes);
    assert_int_equal(seen_count(false), t->m.stats.tlb_invlpg - s0.tlb_invlpg);
    assert_true(t->m.stats.tlb_flushes_linear_pt - s0.tlb_flushes_linear_pt == 2);
}

/* Xen's L4 slots as the platform defines them (supervisor mappings of hypervisor memory), for slot 256-271. */
static uint64_t platform_l4e(void *ctx, unsigned int slot)
{
    (void)ctx;
    return slot == 256 || slot == 261 ? pte(0x2000 + slot, P | RW) : 0;
}

/*
 * pvm_ops.xen_l4e gives every validated L4 the hypervisor's own entries in slots 256-271 (258 stays the
 * self map), the auditor holds them to that, and the guest can neither change nor reach them.
 */
static void platform_xen_l4_slots(void **state)
{
    struct tm *t = *state;
    t->m.ops.xen_l4e = platform_l4e;
    uint64_t l4;
    tm_space(t, t->v, &l4, NULL, NULL, NULL);   /* audits clean with the platform's entries in place */
    uint64_t l4b = tm_frame(t, 1);
    TM_OK(t, tm_pin(t->v, 4, l4b));
    const uint64_t tables[2] = { l4, l4b };
    for (int i = 0; i < 2; i++)
        for (unsigned int s = PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT; s <= PVM_ROOT_PAGETABLE_LAST_XEN_SLOT; s++) {
            uint64_t want = s == PVM_LINEAR_PT_SLOT ? pte(tables[i], P | RW | _PAGE_ACCESSED | _PAGE_DIRTY) | _PAGE_NX
                          : platform_l4e(NULL, s) ? platform_l4e(NULL, s) | _PAGE_ACCESSED : 0;
            assert_int_equal(pvm_peek(&t->m, tables[i], s), want);
        }
    /* The guest cannot rewrite one ... */
    assert_int_equal(tm_set(t->v, l4, 256, 0), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_XEN_SLOT);
    /* ... nor reach it through a recursive entry: supervisor-only. */
    TM_OK(t, tm_set(t->v, l4, 1, pte(l4, P)));
    struct pvm_fault f;
    uint64_t maddr;
    assert_int_equal(pvm_translate(t->v, (1ULL << 39) | (256ULL << 30), false, &maddr, &f), PVM_ACCESS_FAULT);
    assert_int_equal(f.level, 3);
    assert_int_equal(f.entry, platform_l4e(NULL, 256) | _PAGE_ACCESSED);
    /* The auditor holds the slots to the platform's values. */
    hostmem_page(&t->h, l4b)[261] = 0;
    assert_int_equal(pvm_audit(&t->m, t->scratch, NULL, NULL), 1);
}

/* ---- guest accesses ------------------------------------------------------------ */

/* d1v0 translates va (the walk may only succeed). */
static void translate_ok(struct tm *t, uint64_t va)
{
    struct pvm_fault f;
    uint64_t maddr;
    assert_int_equal(pvm_translate(t->v, va, false, &maddr, &f), PVM_ACCESS_OK);
}

/* pvm_tlb_flush_vcpu drops every translation of that vCPU and stamps it with a new clock tick. */
static void tlb_flush_vcpu_api(void **state)
{
    struct tm *t = *state;
    translate_ok(t, 0x1000);
    struct pvm_stats s0 = t->m.stats;
    uint32_t clock = t->m.tlbflush_clock;
    translate_ok(t, 0x1000);
    assert_int_equal(t->m.stats.tlb_hits, s0.tlb_hits + 1);
    pvm_tlb_flush_vcpu(t->v);
    AUDIT_CLEAN(t);
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes + 1);
    assert_int_equal(t->m.tlbflush_clock, clock + 1);
    assert_int_equal(t->v->tlbflush_time, clock + 1);
    for (unsigned int i = 0; i < PVM_TLB_ENTRIES; i++)
        assert_false(t->v->tlb[i].valid);
    translate_ok(t, 0x1000);
    assert_int_equal(t->m.stats.tlb_misses, s0.tlb_misses + 1);
}

/* Switching a vCPU to the mode it is already in is no switch: its non-global translations survive. */
static void guest_mode_same_mode(void **state)
{
    struct tm *t = *state;
    translate_ok(t, 0x1000);
    assert_false(t->v->tlb[1].global);   /* a kernel mapping */
    struct pvm_stats s0 = t->m.stats;
    pvm_set_guest_mode(t->v, true);
    assert_true(t->v->kernel_mode);
    translate_ok(t, 0x1000);
    assert_int_equal(t->m.stats.tlb_hits, s0.tlb_hits + 1);
    assert_int_equal(t->m.stats.tlb_misses, s0.tlb_misses);
    /* A real switch drops it. */
    pvm_set_guest_mode(t->v, false);
    pvm_set_guest_mode(t->v, true);
    translate_ok(t, 0x1000);
    assert_int_equal(t->m.stats.tlb_misses, s0.tlb_misses + 1);
}

/*
 * A recursive L4 entry (slot 1, read-only) gives the guest its own tables, but Xen's slot 258 seen through it
 * is supervisor-only: the walk stops at level 3 with a protection fault, as the CPU would for a ring-3 guest.
 */
static void recursive_map_cannot_reach_xen_slot(void **state)
{
    struct tm *t = *state;
    TM_OK(t, tm_set(t->v, t->l4, 1, pte(t->l4, P)));
    const uint64_t base = 1ULL << 39;   /* L4 slot 1 */
    struct pvm_fault f;
    uint64_t maddr, val;
    /* base + 8 is slot 1 of the L1 reached through l4[1] -> l4[0] -> l3[0] -> l2[0]. */
    assert_int_equal(pvm_translate(t->v, base + 8, false, &maddr, &f), PVM_ACCESS_OK);
    assert_int_equal(maddr, (t->l1 << 12) | 8);
    assert_int_equal(pvm_guest_load(t->v, base + 8, &val, &f), PVM_ACCESS_OK);
    assert_int_equal(val, pvm_peek(&t->m, t->l1, 1));
    struct pvm_stats s0 = t->m.stats;
    const uint64_t xen = base | ((uint64_t)PVM_LINEAR_PT_SLOT << 30);
    assert_int_equal(pvm_translate(t->v, xen, false, &maddr, &f), PVM_ACCESS_FAULT);
    assert_int_equal(f.va, xen);
    assert_int_equal(f.level, 3);
    assert_int_equal(f.table_mfn, t->l4);
    assert_int_equal(f.entry, pvm_peek(&t->m, t->l4, PVM_LINEAR_PT_SLOT));
    assert_int_equal(f.entry & _PAGE_USER, 0);
    assert_int_equal(f.error_code, PFEC_page_present | PFEC_user_mode);
    assert_int_equal(pvm_guest_load(t->v, xen, &val, &f), PVM_ACCESS_FAULT);
    assert_int_equal(t->m.stats.page_faults, s0.page_faults + 1);
    AUDIT_CLEAN(t);
}

/* Global (user) translations survive a switch between kernel and user mode; kernel ones do not (toggle_guest_mode). */
static void global_translation_survives_mode_switch(void **state)
{
    struct tm *t = *state;
    assert_int_equal(tm_ext(t->v, MMUEXT_NEW_USER_BASEPTR, t->l4), 0);   /* the same tables in user mode */
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, P | _PAGE_USER)));   /* a user mapping: Xen makes it global */
    struct pvm_fault f;
    uint64_t maddr;
    translate_ok(t, 0x5000);
    translate_ok(t, 0x1000);
    assert_true(cached(t->v, 0x5000) && t->v->tlb[5].global);
    assert_true(cached(t->v, 0x1000) && !t->v->tlb[1].global);
    pvm_set_guest_mode(t->v, false);
    assert_true(cached(t->v, 0x5000));
    assert_false(cached(t->v, 0x1000));
    struct pvm_stats s0 = t->m.stats;
    assert_int_equal(pvm_translate(t->v, 0x5000, false, &maddr, &f), PVM_ACCESS_OK);
    assert_int_equal(maddr, a << 12);
    assert_int_equal(t->m.stats.tlb_hits, s0.tlb_hits + 1);
    assert_int_equal(t->m.stats.tlb_misses, s0.tlb_misses);
    assert_int_equal(t->m.stats.tlb_flushes, s0.tlb_flushes);   /* a mode switch is no flush */
    pvm_set_guest_mode(t->v, true);
    AUDIT_CLEAN(t);
}

/*
 * INVLPG of an address guests cannot use (non-canonical, or Xen's range) is silently ignored, as Xen's __addr_ok
 * check does, even when it aliases a cached one in the TLB's 48 bits; INVLPG_ALL drops the page on every vCPU.
 */
static void invlpg_bad_address_ignored(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v1 = second_vcpu_on_root(t);
    struct pvm_fault f;
    uint64_t maddr;
    struct pvm_vcpu *vs[2] = { t->v, v1 };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pvm_translate(vs[i], 0x1000, false, &maddr, &f), PVM_ACCESS_OK);
        assert_int_equal(pvm_translate(vs[i], 0x2000, false, &maddr, &f), PVM_ACCESS_OK);
    }
    const uint64_t alias = 0xFFFF000000001000ULL;   /* non-canonical; its low 48 bits are 0x1000 */
    const unsigned long both = 3;
    struct pvm_stats s0 = t->m.stats;
    assert_int_equal(flush_op(t->v, MMUEXT_INVLPG_LOCAL, alias, NULL), 0);
    assert_int_equal(flush_op(t->v, MMUEXT_INVLPG_MULTI, alias, &both), 0);
    assert_int_equal(flush_op(t->v, MMUEXT_INVLPG_ALL, alias, NULL), 0);
    assert_int_equal(flush_op(t->v, MMUEXT_INVLPG_ALL, HYPERVISOR_VIRT_START + 0x1000, NULL), 0);
    assert_int_equal(t->m.stats.tlb_invlpg, s0.tlb_invlpg);
    for (int i = 0; i < 2; i++)
        assert_true(cached(vs[i], 0x1000) && cached(vs[i], 0x2000));
    TM_OK(t, flush_op(t->v, MMUEXT_INVLPG_ALL, 0x1000, NULL));
    assert_int_equal(t->m.stats.tlb_invlpg, s0.tlb_invlpg + 2);
    for (int i = 0; i < 2; i++) {
        assert_false(cached(vs[i], 0x1000));
        assert_true(cached(vs[i], 0x2000));
    }
}

/*
 * A guest access outside the guest's range (non-canonical, or Xen's slots 256-271) faults at level 4 without
 * reading a table, and a non-canonical alias of a cached page does not hit the TLB.
 */
static void access_outside_guest_range(void **state)
{
    struct tm *t = *state;
    struct pvm_fault f;
    uint64_t val = 0x77;
    translate_ok(t, 0x1000);
    assert_true(cached(t->v, 0x1000));
    struct pvm_stats s0 = t->m.stats;
    const uint64_t bad[] = { 0xFFFF000000001000ULL, 0x0000800000000000ULL, HYPERVISOR_VIRT_START + 0x1000,
                             HYPERVISOR_VIRT_END - 0x1000 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pvm_guest_load(t->v, bad[i], &val, &f), PVM_ACCESS_FAULT);
        assert_int_equal(f.va, bad[i]);
        assert_int_equal(f.level, 4);
        assert_int_equal(f.entry, 0);
        assert_int_equal(f.error_code, PFEC_user_mode);
        assert_int_equal(pvm_guest_store(t->v, bad[i], 1, 8, &f), PVM_ACCESS_FAULT);
        assert_int_equal(f.error_code, PFEC_user_mode | PFEC_write_access);
    }
    assert_int_equal(val, 0x77);
    assert_int_equal(t->m.stats.tlb_hits, s0.tlb_hits);
    assert_int_equal(t->m.stats.page_faults, s0.page_faults + 8);
    AUDIT_CLEAN(t);
}

/* A store of 0, 3 or 16 bytes, or a misaligned one, faults (write, user) and writes nothing; 2 bytes at +2 is fine. */
static uint64_t pte_mfn_of(uint64_t e) { return (e & PVM_PTE_FRAME_MASK) >> 12; }

static void store_bad_sizes_fault(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, P | RW)));
    struct pvm_stats s0 = t->m.stats;
    struct pvm_fault f;
    const struct { uint64_t va; unsigned int bytes; } bad[] = { { 0x5000, 0 }, { 0x5000, 3 }, { 0x5000, 16 } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pvm_guest_store(t->v, bad[i].va, ~0ULL, bad[i].bytes, &f), PVM_ACCESS_FAULT);
        assert_int_equal(f.va, bad[i].va);
        assert_int_equal(f.error_code, PFEC_write_access | PFEC_user_mode);
    }
    assert_int_equal(t->m.stats.page_faults, s0.page_faults + 3);
    assert_int_equal(t->m.stats.tlb_misses, s0.tlb_misses);
    assert_int_equal(pvm_peek(&t->m, a, 0), 0);
    /* Misaligned sizes the CPU has are stores like any other, inside a word and across two. */
    assert_int_equal(pvm_guest_store(t->v, 0x5002, 0xBEEF, 2, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_peek(&t->m, a, 0), 0xBEEFULL << 16);
    assert_int_equal(pvm_guest_store(t->v, 0x5001, 0xCAFE, 2, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_peek(&t->m, a, 0), (0xBEULL << 24) | (0xCAFEULL << 8));
    assert_int_equal(pvm_guest_store(t->v, 0x5006, 0x11223344, 4, &f), PVM_ACCESS_OK);
    assert_int_equal(pvm_peek(&t->m, a, 0) >> 48, 0x3344);
    assert_int_equal(pvm_peek(&t->m, a, 1), 0x1122);
    AUDIT_CLEAN(t);
}

/*
 * A misaligned 8-byte load reads what the CPU would; one that crosses into a page that is not
 * mapped faults on that page with nothing read.
 */
static void load_misaligned(void **state)
{
    struct tm *t = *state;   /* va 0x1000-0x4fff map the four tables, read-only */
    uint64_t before = pvm_peek(&t->m, t->l1, 1), val = 0x77;
    struct pvm_fault f;
    assert_int_equal(pvm_guest_load(t->v, 0x5004 - 0x4000, &val, &f), PVM_ACCESS_OK);
    uint64_t w0 = pvm_peek(&t->m, pte_mfn_of(pvm_peek(&t->m, t->l1, 1)), 0);
    uint64_t w1 = pvm_peek(&t->m, pte_mfn_of(pvm_peek(&t->m, t->l1, 1)), 1);
    assert_int_equal(val, (w0 >> 32) | (w1 << 32));
    AUDIT_CLEAN(t);
    struct pvm_stats s0 = t->m.stats;
    val = 0x77;
    assert_int_equal(pvm_guest_load(t->v, 0x4ffc, &val, &f), PVM_ACCESS_FAULT);   /* 0x5000 is not mapped */
    assert_int_equal(f.va, 0x5000);
    assert_int_equal(val, 0x77);
    assert_int_equal(t->m.stats.page_faults, s0.page_faults + 1);
    assert_int_equal(pvm_peek(&t->m, t->l1, 1) & ~(uint64_t)_PAGE_ACCESSED, before & ~(uint64_t)_PAGE_ACCESSED);
    AUDIT_CLEAN(t);
}

/* d1 may map the I/O frame IO_MFN beyond memory, and does at t->l1[slot] with flags. */
static void io_mapped(struct tm *t, unsigned int slot, uint64_t flags)
{
    assert_int_equal(pvm_domain_iomem_permit(&t->m, 1, IO_MFN, IO_MFN), 0);
    TM_OK(t, tm_set(t->v, t->l1, slot, pte(IO_MFN, flags)));
}

/* A store through a writable mapping of I/O space beyond memory goes to the device: no frame changes or gains data. */
static void store_to_io_beyond_memory(void **state)
{
    struct tm *t = *state;
    io_mapped(t, 6, P | RW);
    void *snap = tm_snapshot(t);
    uint64_t bytes = hostmem_bytes(&t->h), val = 0;
    struct pvm_fault f;
    TM_RC(t, pvm_guest_store(t->v, 0x6008, 0xDEAD, 8, &f), PVM_ACCESS_OK);
    tm_assert_unchanged(t, snap);
    assert_int_equal(hostmem_bytes(&t->h), bytes);
    assert_int_equal(pvm_guest_load(t->v, 0x6008, &val, &f), PVM_ACCESS_OK);
    assert_int_equal(val, ~0ULL);   /* nothing answers: all ones */
}

/* ptwr declines (-EINVAL, "not a table") an unmapped address or a writable mapping: Xen leaves those #PFs alone. */
static void ptwr_needs_ro_mapping(void **state)
{
    struct tm *t = *state;
    tm_enable_ptwr(t);
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, P | RW)));
    void *snap = tm_snapshot(t);
    struct pvm_stats s0 = t->m.stats;
    assert_int_equal(pvm_ptwr_emulate(t->v, 0x9000, 0, pte(b, P), 8, false), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_TABLE);
    assert_int_equal(pvm_ptwr_emulate(t->v, 0x5000, 0, pte(b, P), 8, false), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_TABLE);
    AUDIT_CLEAN(t);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, a, 0), 0);
    assert_int_equal(t->m.stats.ptwr_emulations, s0.ptwr_emulations);
}

/* ptwr through a read-only mapping of I/O space beyond memory: no frame there to be an L1 (-EINVAL, no page). */
static void ptwr_io_beyond_memory(void **state)
{
    struct tm *t = *state;
    tm_enable_ptwr(t);
    io_mapped(t, 5, P);
    uint64_t a = tm_frame(t, 1);
    void *snap = tm_snapshot(t);
    struct pvm_stats s0 = t->m.stats;
    assert_int_equal(pvm_ptwr_emulate(t->v, 0x5000, 0, pte(a, P), 8, false), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NO_PAGE);
    assert_int_equal(t->m.last.mfn, IO_MFN);
    struct pvm_fault f;
    assert_int_equal(pvm_guest_store(t->v, 0x5000, pte(a, P), 8, &f), PVM_ACCESS_FAULT);
    assert_int_equal(f.error_code, PFEC_RO_WRITE);
    AUDIT_CLEAN(t);
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.ptwr_emulations, s0.ptwr_emulations);
    assert_int_equal(t->m.stats.page_faults, s0.page_faults + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_TEST(domain_create_bad_args),
        TM_TEST(domain_slot_collision_and_full_table),
        TM_TEST(iomem_permit_unknown_domain),
        TM_TEST(assign_pages_errors),
        TM_TEST(mark_io_errors),
        TM_TEST(poke_peek_bad_args),
        TM_TEST(release_page_bad_args),
        cmocka_unit_test(why_and_type_names),
        TM_SPACE_TEST(mmu_update_null_requests),
        TM_SPACE_TEST(mmuext_op_null_ops),
        TM_TEST(multicall_null_list),
        TM_TEST(machphys_update_domid_io),
        TM_TEST(poke_map_failure),
        TM_TEST(mod_l1_entry_map_failure),
        TM_TEST(mod_l2_entry_map_failure),
        TM_TEST(pin_l4_map_failure),
        TM_TEST(clear_page_map_failure),
        TM_SPACE_TEST(ptwr_map_failure),
        TM_TEST(no_read_callback),
        TM_TEST(no_log_sink),
        TM_SPACE_TEST(baseptr_to_io_frame),
        TM_SPACE_TEST(platform_sees_every_flush),
        TM_TEST(platform_xen_l4_slots),
        TM_SPACE_TEST(tlb_flush_vcpu_api),
        TM_SPACE_TEST(guest_mode_same_mode),
        TM_SPACE_TEST(recursive_map_cannot_reach_xen_slot),
        TM_SPACE_TEST(global_translation_survives_mode_switch),
        TM_SPACE_TEST(invlpg_bad_address_ignored),
        TM_SPACE_TEST(access_outside_guest_range),
        TM_SPACE_TEST(store_bad_sizes_fault),
        TM_SPACE_TEST(load_misaligned),
        TM_SPACE_TEST(store_to_io_beyond_memory),
        TM_SPACE_TEST(ptwr_needs_ro_mapping),
        TM_SPACE_TEST(ptwr_io_beyond_memory),
    };
    return cmocka_run_group_tests_name("edges", tests, NULL, NULL);
}
