/*
 * test_guest.c - the Linux-style guest on the simulated PV MMU: every policy
 * reaches the outcome the 2011 thread predicts, at the predicted place, and
 * the batched design's exact counters.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "sim.h"

#define GIB (1ULL << 30)

struct booted {
    struct sim *s;
    struct guest_result r;
    struct pvm_stats st;
    unsigned long audit;
};

/* The outcome the 2011 thread predicts for each policy, at every size. */
static const enum guest_fail predicted[POLICY_COUNT] = {
    [POLICY_LINUX_2_6_39] = GUEST_PAGE_FAULT, [POLICY_LINUX_3_0] = GUEST_OK, [POLICY_NO_RESERVE] = GUEST_PAGE_FAULT,
    [POLICY_DEFER_CR3] = GUEST_BUG, [POLICY_DEFER_TABLE] = GUEST_BUG, [POLICY_DEFER_POSTALLOC] = GUEST_BUG,
    [POLICY_LINUX_3_9] = GUEST_OK, [POLICY_BATCHED] = GUEST_OK,
};

/* Build a simulator of bytes with build, boot the guest under pol; keep its counters and the auditor's issue count. */
static void boot_with(struct booted *b, int (*build)(struct sim *, uint64_t, char *, size_t), uint64_t bytes,
                      enum guest_policy pol)
{
    char err[128];
    b->s = calloc(1, sizeof(*b->s));
    assert_non_null(b->s);
    assert_int_equal(build(b->s, bytes, err, sizeof(err)), 0);
    guest_boot(&b->s->plat, b->s->si_va, pol, &b->r);
    sim_guest_stats(b->s, &b->st);
    void *scratch = malloc(pvm_audit_scratch_bytes(&b->s->m));
    assert_non_null(scratch);
    b->audit = pvm_audit(&b->s->m, scratch, NULL, NULL);
    free(scratch);
}

/* boot_with the standard layout (sim_build). */
static void boot(struct booted *b, uint64_t bytes, enum guest_policy pol)
{
    boot_with(b, sim_build, bytes, pol);
}

/* boot, and the guest ended as outcome with the auditor clean. */
static void boot_ends(struct booted *b, uint64_t bytes, enum guest_policy pol, enum guest_fail outcome)
{
    boot(b, bytes, pol);
    assert_int_equal(b->r.outcome, outcome);
    assert_int_equal(b->audit, 0);
}

/* boot_ends (6 GiB) with outcome, in phase and (unless NULL) function of the guest. */
static void boot_ends_in(struct booted *b, enum guest_policy pol, enum guest_fail outcome, const char *phase,
                         const char *function)
{
    boot_ends(b, 6 * GIB, pol, outcome);
    assert_string_equal(b->r.phase, phase);
    if (function)
        assert_string_equal(b->r.function, function);
}

/* Does the boot's outcome match predicted[pol]?  If not, fail naming the policy and the guest's message. */
static void outcome_as_predicted(const struct booted *b, enum guest_policy pol)
{
    if (b->r.outcome != predicted[pol])
        fail_msg("%s: outcome %d, expected %d (%s)", guest_policy_name(pol), b->r.outcome, predicted[pol],
                 b->r.message);
}

static void done(struct booted *b)
{
    sim_free(b->s);
    free(b->s);
}

/* linux-3.0 (the hack + pagetable_reserve) boots a 6 GiB guest through both init_memory_mapping calls, auditor clean. */
static void linux_3_0_boots(void **state)
{
    (void)state;
    struct booted b;
    boot_ends(&b, 6 * GIB, POLICY_LINUX_3_0, GUEST_OK);
    assert_int_equal(b.r.mapped_pages, b.r.max_pfn - 4096);   /* all but Xen's 16 MiB initial mapping */
    assert_true(b.st.pins >= b.r.pt_pages[1]);                /* every L1 pinned by xen_alloc_pte_init */
    assert_true(b.st.ptwr_emulations > 0);                    /* early_memremap stores into bm_pte */
    done(&b);
}

/* linux-3.9 (top-down, tables from mapped memory, no hack) boots, auditor clean, no ptwr needed for new tables. */
static void linux_3_9_boots(void **state)
{
    (void)state;
    struct booted b;
    boot_ends(&b, 6 * GIB, POLICY_LINUX_3_9, GUEST_OK);
    assert_int_equal(b.r.mapped_pages, b.r.max_pfn - 4096);
    done(&b);
}

/* linux-2.6.39 (no hack): map_low_page gives the live level3_ident_pgt a writable fixmap alias; ptwr refuses it. */
static void linux_2_6_39_fails_at_first_alias(void **state)
{
    (void)state;
    struct booted b;
    boot_ends_in(&b, POLICY_LINUX_2_6_39, GUEST_PAGE_FAULT, "init_memory_mapping", "early_memremap");
    assert_int_equal(b.s->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(b.s->m.last.saw & PGT_type_mask, PGT_l3_page_table);   /* level3_ident_pgt */
    assert_int_equal(b.s->m.last.mfn, sim_mfn(GUEST_PFN_L3_IDENT));
    done(&b);
}

/* no-reserve: [pgt_buf_end, pgt_buf_top) stays RO and goes back to memblock; the first user of it faults. */
static void no_reserve_fails_at_reuse(void **state)
{
    (void)state;
    struct booted b;
    boot_ends_in(&b, POLICY_NO_RESERVE, GUEST_PAGE_FAULT, "setup_arch", NULL);
    uint64_t pfn = b.r.pfn;
    assert_true(pfn >= b.r.pgt_buf_end && pfn < b.r.pgt_buf_top);
    assert_int_equal(b.s->m.last.why, PVM_WHY_RO_MAPPING);
    done(&b);
}

/* The three deferred-RO proposals all die at the first pin that validates RW direct-map ptes of live tables (-EBUSY). */
static void deferred_proposals_fail_at_hook(void **state)
{
    (void)state;
    const enum guest_policy pols[] = { POLICY_DEFER_CR3, POLICY_DEFER_TABLE, POLICY_DEFER_POSTALLOC };
    for (size_t i = 0; i < 3; i++) {
        struct booted b;
        boot_ends_in(&b, pols[i], GUEST_BUG, "init_memory_mapping", "pin_pagetable_pfn");
        assert_int_equal(b.r.rc, -XEN_EBUSY);
        assert_int_equal(b.s->m.last.why, PVM_WHY_BAD_TYPE);
        assert_int_equal(b.s->m.last.saw & PGT_type_mask, PGT_l1_page_table);
        assert_int_equal(b.s->m.last.exp, PGT_writable_page);
        assert_int_equal(b.s->m.last.level, 1);
        done(&b);
    }
}

/* batched at 6 GiB: the exact counters (RO + hooks in four mmu_update batches, one pin). */
static void batched_exact_counters(void **state)
{
    (void)state;
    struct booted b;
    boot_ends(&b, 6 * GIB, POLICY_BATCHED, GUEST_OK);
    assert_int_equal(pvm_stats_hypercalls(&b.st), 7);
    assert_int_equal(b.st.hc_mmu_update, 5);
    assert_int_equal(b.st.hc_mmuext_op, 1);
    assert_int_equal(b.st.hc_vm_assist, 1);
    assert_int_equal(b.st.hc_update_va_mapping, 0);
    assert_int_equal(b.st.mmu_update_reqs, 3875);   /* 7 + 3069 RO + 799 hooks, four top-down steps */
    assert_int_equal(b.st.mmuext_ops, 3);
    assert_int_equal(b.st.pins, 1);
    assert_int_equal(b.st.ptwr_emulations, 0);
    assert_int_equal(b.st.entries_validated, 1571060);
    assert_int_equal(b.st.promotions[1], 3065);
    assert_int_equal(b.st.promotions[2], 8);
    assert_int_equal(b.st.promotions[3], 2);
    assert_int_equal(b.st.promotions[4], 1);
    assert_int_equal(b.st.tlb_flushes, 10);
    assert_int_equal(b.r.pt_pages[1], 3064);
    assert_int_equal(b.r.pt_pages[2], 5);
    assert_int_equal(b.r.pte_stores, 1568768);
    done(&b);
}

/* batched makes fewer hypercalls per GiB than every Linux policy that boots. */
static void batched_fewest_hypercalls(void **state)
{
    (void)state;
    struct booted a, b, c;
    boot(&a, 6 * GIB, POLICY_BATCHED);
    boot(&b, 6 * GIB, POLICY_LINUX_3_0);
    boot(&c, 6 * GIB, POLICY_LINUX_3_9);
    assert_true(pvm_stats_hypercalls(&a.st) * 100 < pvm_stats_hypercalls(&b.st));
    assert_true(pvm_stats_hypercalls(&a.st) * 100 < pvm_stats_hypercalls(&c.st));
    done(&a);
    done(&b);
    done(&c);
}

/* Below 4 GiB there is one init_memory_mapping call; the outcomes do not change. */
static void small_guest_outcomes(void **state)
{
    (void)state;
    for (int p = 0; p < POLICY_COUNT; p++) {
        struct booted b;
        boot(&b, 256ULL << 20, (enum guest_policy)p);
        outcome_as_predicted(&b, (enum guest_policy)p);
        assert_int_equal(b.audit, 0);
        done(&b);
    }
}

/* The separate p2m layout (Xen's INIT_P2M, needed past ~480 GiB) gives every policy the same outcome. */
static void separate_p2m_layout(void **state)
{
    (void)state;
    for (int p = 0; p < POLICY_COUNT; p++) {
        struct booted b;
        boot_with(&b, sim_build_p2m_separate, 2 * GIB, (enum guest_policy)p);
        assert_true(b.s->lay.p2m_separate);
        outcome_as_predicted(&b, (enum guest_policy)p);
        assert_int_equal(b.audit, 0);
        done(&b);
    }
}

/* Policy names round-trip; unknown names are refused. */
static void policy_names(void **state)
{
    (void)state;
    for (int p = 0; p < POLICY_COUNT; p++)
        assert_int_equal(guest_policy_parse(guest_policy_name((enum guest_policy)p)), p);
    assert_int_equal(guest_policy_parse("linux-4.0"), -1);
    assert_int_equal(guest_policy_parse(""), -1);
    assert_int_equal(guest_policy_parse("batched "), -1);
}

/* Sizes: units, limits, alignment; every bad form is refused with a message. */
static void size_parsing(void **state)
{
    (void)state;
    char err[256];
    uint64_t v;
    assert_int_equal(parse_size("512M", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 512ULL << 20);
    assert_int_equal(parse_size("8G", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 8ULL << 30);
    assert_int_equal(parse_size("1T", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 1ULL << 40);
    assert_int_equal(parse_size("64MiB", &v, err, sizeof(err)), 0);
    assert_int_equal(parse_size("2048m", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 2ULL << 30);
    const char *bad[] = { "", "0", "0G", "-1G", "G", "8X", "8G8", "1.5G", "2T", "99999999999999999999", "63M",
                          "65M", "100000", " 8G", "8 G" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        if (parse_size(bad[i], &v, err, sizeof(err)) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(strlen(err) > 10);
    }
}

/* ---- the auditor region by region on a booted guest ---- */

struct found {
    unsigned long n;
    struct pvm_audit_issue is[64];
};

static void keep_issue(void *ctx, const struct pvm_audit_issue *is)
{
    struct found *f = ctx;
    tm_keep(f->is, sizeof(*is), 64, &f->n, is);
}

static int by_text(const void *x, const void *y)
{
    const struct pvm_audit_issue *a = x, *b = y;
    return a->mfn != b->mfn ? (a->mfn < b->mfn ? -1 : 1) : strcmp(a->text, b->text);
}

/* The issues of the whole audit and of one with scratch for `frames` frames, sorted; both must be the same. */
static unsigned long audits_agree(struct sim *s, uint64_t frames)
{
    static struct found whole, part;
    memset(&whole, 0, sizeof(whole));
    memset(&part, 0, sizeof(part));
    void *scratch = malloc(pvm_audit_scratch_bytes(&s->m));
    assert_non_null(scratch);
    unsigned long n = pvm_audit(&s->m, scratch, keep_issue, &whole);
    assert_int_equal(pvm_audit_bounded(&s->m, scratch, frames * PVM_AUDIT_BYTES_PER_FRAME, keep_issue, &part), n);
    free(scratch);
    assert_true(n <= 64);
    qsort(whole.is, n, sizeof(whole.is[0]), by_text);
    qsort(part.is, n, sizeof(part.is[0]), by_text);
    for (unsigned long i = 0; i < n; i++)
        assert_string_equal(whole.is[i].text, part.is[i].text);
    return n;
}

/*
 * A booted 1 GiB guest audited in regions of 40,000 frames (7 passes, the table bitmap in use)
 * is clean like the whole audit, and after a count, a type count and an L4 entry are damaged
 * both report the same issues.
 */
static void bounded_audit_of_a_booted_guest(void **state)
{
    (void)state;
    struct booted b;
    boot(&b, GIB, POLICY_LINUX_3_0);
    assert_int_equal(b.r.outcome, GUEST_OK);
    assert_int_equal(audits_agree(b.s, 40000), 0);
    uint64_t root = b.s->v->guest_table, data = sim_mfn(0x20000);
    b.s->m.frames[data].count_info++;
    b.s->m.frames[root].type_info--;
    hostmem_page(&b.s->h, root)[300] = (sim_mfn(0x30000) << XEN_PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_RW;
    assert_true(audits_agree(b.s, 40000) >= 4);
    done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linux_3_0_boots),
        cmocka_unit_test(linux_3_9_boots),
        cmocka_unit_test(linux_2_6_39_fails_at_first_alias),
        cmocka_unit_test(no_reserve_fails_at_reuse),
        cmocka_unit_test(deferred_proposals_fail_at_hook),
        cmocka_unit_test(batched_exact_counters),
        cmocka_unit_test(batched_fewest_hypercalls),
        cmocka_unit_test(small_guest_outcomes),
        cmocka_unit_test(separate_p2m_layout),
        cmocka_unit_test(policy_names),
        cmocka_unit_test(size_parsing),
        cmocka_unit_test(bounded_audit_of_a_booted_guest),
    };
    return cmocka_run_group_tests_name("guest", tests, NULL, NULL);
}
