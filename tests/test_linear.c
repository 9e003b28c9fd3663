/*
 * test_linear.c - linear (recursive, same-level) page tables: self maps,
 * read-only same-level entries and their linear_pt_count accounting, the
 * one-level/same-owner rules of XSA-240, the pv-linear-pt switch, and teardown.
 */
#include "harness.h"

#define PG_P  _PAGE_PRESENT
#define PG_RW _PAGE_RW
#define PG_US _PAGE_USER
#define PG_A  _PAGE_ACCESSED
#define PG_D  _PAGE_DIRTY

/* An RO self-map in an L4 guest slot is accepted and takes no references at all. */
static void ro_self_map_l4_takes_no_refs(void **state)
{
    struct tm *t = *state;
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, t->l4, 5, pte(t->l4, PG_P)));
    assert_int_equal(pvm_peek(&t->m, t->l4, 5), pte(t->l4, PG_P | PG_US | PG_A));
    TM_FRAME(t, t->l4, "linear=0 tc=2");
    tm_assert_unchanged(t, snap);
    snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, t->l4, 5, 0));
    tm_assert_unchanged(t, snap);
}

/* RO self-maps are equally accepted, reference-free, in an L2 and an L3. */
static void ro_self_map_l2_l3_takes_no_refs(void **state)
{
    struct tm *t = *state;
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, t->l2, 9, pte(t->l2, PG_P)));
    TM_OK(t, tm_set(t->v, t->l3, 9, pte(t->l3, PG_P)));
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l2, 9), pte(t->l2, PG_P | PG_US));
    assert_int_equal(pvm_peek(&t->m, t->l3, 9), pte(t->l3, PG_P | PG_US));
}

/* An RW self-map is -EINVAL "Attempt to create linear p.t. with write perms" (a writable view of the table). */
static void rw_self_map_refused(void **state)
{
    struct tm *t = *state;
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_set(t->v, t->l4, 5, pte(t->l4, PG_P | PG_RW)), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. with write perms"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_RW);
    TM_RC(t, tm_set(t->v, t->l2, 5, pte(t->l2, PG_P | PG_RW)), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. with write perms"), 2);
    tm_assert_unchanged(t, snap);
    assert_int_equal(pvm_peek(&t->m, t->l4, 5), 0);
    assert_int_equal(pvm_peek(&t->m, t->l2, 5), 0);
}

/* An RO L2 entry to another validated L2 of the domain is accepted: target type count +1, container linear +1, target -1. */
static void l2_linear_entry_accounting(void **state)
{
    struct tm *t = *state;
    uint64_t a = t->l2, b = tm_pinned(t, 2);
    struct pvm_frame_state b0 = tm_state(t, b), a0 = tm_state(t, a);
    TM_OK(t, tm_set(t->v, a, 7, pte(b, PG_P)));
    TM_FRAME(t, b, "type=l2 tc=%llu count=%llu linear=-1", (unsigned long long)b0.type_count + 1,
             (unsigned long long)b0.count + 1);
    TM_FRAME(t, a, "linear=1 tc=%llu count=%llu", (unsigned long long)a0.type_count, (unsigned long long)a0.count);
    assert_int_equal(pvm_peek(&t->m, a, 7), pte(b, PG_P | PG_US));
}

/* Same-level RO entries work at L3 and L4 too, with the same accounting. */
static void l3_l4_linear_entry_accounting(void **state)
{
    struct tm *t = *state;
    uint64_t c = tm_pinned(t, 3), r = tm_pinned(t, 4);
    TM_OK(t, tm_set(t->v, t->l3, 7, pte(c, PG_P)));
    TM_OK(t, tm_set(t->v, t->l4, 7, pte(r, PG_P)));
    TM_FRAME(t, c, "tc=2 linear=-1");
    TM_FRAME(t, t->l3, "linear=1");
    TM_FRAME(t, r, "tc=2 linear=-1");
    TM_FRAME(t, t->l4, "linear=1");
}

/* An RW same-level entry to another L2 is refused like an RW self-map; the target is untouched. */
static void rw_linear_entry_refused(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2);
    TM_SET_REFUSED(t, t->v, t->l2, 7, pte(b, PG_P | PG_RW), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_RW);
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. with write perms"), 1);
}

/* XSA-240: a table holding a linear entry cannot itself become a linear target (no chains). */
static void xsa240_container_cannot_be_target(void **state)
{
    struct tm *t = *state;
    uint64_t a = t->l2, b = tm_pinned(t, 2), c = tm_pinned(t, 2);
    TM_OK(t, tm_set(t->v, a, 7, pte(b, PG_P)));
    TM_SET_REFUSED(t, t->v, c, 3, pte(a, PG_P), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_CHAIN);
    TM_FRAME(t, a, "linear=1");
    TM_FRAME(t, c, "linear=0");
    assert_int_equal(pvm_peek(&t->m, c, 3), 0);
}

/* XSA-240: a linear target cannot hold linear entries itself (no chains). */
static void xsa240_target_cannot_hold_linear(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2), c = tm_pinned(t, 2);
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(b, PG_P)));
    TM_SET_REFUSED(t, t->v, b, 3, pte(c, PG_P), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_CHAIN);
    TM_FRAME(t, b, "linear=-1");
    TM_FRAME(t, c, "linear=0");
    /* A self-map in the target is still fine: it is not a linear reference. */
    TM_OK(t, tm_set(t->v, b, 4, pte(b, PG_P)));
    TM_FRAME(t, b, "linear=-1");
}

/* One level deep may still fan out: several entries and several containers may share one target. */
static void many_linear_entries_one_target(void **state)
{
    struct tm *t = *state;
    uint64_t a = t->l2, b = tm_pinned(t, 2), c = tm_pinned(t, 2);
    TM_OK(t, tm_set(t->v, a, 7, pte(b, PG_P)));
    TM_OK(t, tm_set(t->v, a, 8, pte(b, PG_P)));
    TM_OK(t, tm_set(t->v, c, 3, pte(b, PG_P)));
    TM_FRAME(t, a, "linear=2");
    TM_FRAME(t, c, "linear=1");
    TM_FRAME(t, b, "linear=-3 tc=4 count=5");   /* tc: pin + 3 linear entries; count: allocation + pin + 3 */
}

/* A linear entry to another domain's validated L2 is refused (XSA-240: same owner only). */
static void cross_domain_linear_refused(void **state)
{
    struct tm *t = *state;
    uint64_t b2;
    tm_space(t, t->v2, NULL, NULL, &b2, NULL);
    TM_SET_REFUSED(t, t->v, t->l2, 7, pte(b2, PG_P), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    TM_FRAME(t, t->l2, "linear=0");
    TM_FRAME(t, b2, "linear=0");
    assert_int_equal(pvm_peek(&t->m, t->l2, 7), 0);
}

/* A linear entry to a table of another level (L3 entry to an L4) is refused. */
static void linear_needs_same_level(void **state)
{
    struct tm *t = *state;
    TM_SET_REFUSED(t, t->v, t->l3, 7, pte(t->l4, PG_P), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(pvm_peek(&t->m, t->l3, 7), 0);
}

/* No validation via the linear path: an RO L2 entry to an unvalidated ex-L2 is not linear; the frame is validated as an L1 instead. */
static void unvalidated_l2_target_not_linear(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2);
    TM_OK(t, tm_unpin(t->v, b));
    TM_FRAME(t, b, "type_info=%#llx", (unsigned long long)PGT_l2_page_table);
    uint64_t prom2 = t->m.stats.promotions[2], prom1 = t->m.stats.promotions[1];
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(b, PG_P)));
    TM_FRAME(t, b, "type=l1 tc=1 linear=0");
    TM_FRAME(t, t->l2, "linear=0");
    assert_int_equal(t->m.stats.promotions[2], prom2);
    assert_int_equal(t->m.stats.promotions[1], prom1 + 1);
}

/* An RO L2 entry to an unvalidated ex-L2 that is no valid L1 is refused (-EINVAL), never validated as a linear L2; counts unchanged. */
static void unvalidated_l2_target_refused(void **state)
{
    struct tm *t = *state;
    uint64_t a = t->l2, b = tm_pinned(t, 2), d = tm_frame(t, 1);
    TM_OK(t, tm_unpin(t->v, b));
    TM_OK(t, pvm_poke(&t->m, b, 9, pte(d, PG_P | _PAGE_PWT)));
    struct pvm_frame_state a0 = tm_state(t, a), b0 = tm_state(t, b), d0 = tm_state(t, d);
    uint64_t prom2 = t->m.stats.promotions[2];
    TM_RC(t, tm_set(t->v, a, 7, pte(b, PG_P)), -XEN_EINVAL);
    assert_int_equal(t->m.stats.promotions[2], prom2);
    TM_FRAME(t, b, "count=%llu tc=0 !validated linear=0", (unsigned long long)b0.count);
    TM_FRAME(t, a, "count_info=%#llx type_info=%#llx linear=0", (unsigned long long)a0.count_info,
             (unsigned long long)a0.type_info);
    TM_FRAME(t, d, "count_info=%#llx type_info=%#llx", (unsigned long long)d0.count_info,
             (unsigned long long)d0.type_info);
    assert_int_equal(pvm_peek(&t->m, a, 7), 0);
}

/* With pv-linear-pt off, any linear entry (even an RO self-map) is -EINVAL "(feature disabled)"; normal entries still work. */
static void linear_feature_disabled(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2), f = tm_frame(t, 1);
    t->m.opt_pv_linear_pt = false;
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_set(t->v, t->l4, 5, pte(t->l4, PG_P)), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. (feature disabled)"), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_DISABLED);
    TM_RC(t, tm_set(t->v, t->l2, 7, pte(b, PG_P)), -XEN_EINVAL);
    assert_int_equal(tm_log_count(t, "Attempt to create linear p.t. (feature disabled)"), 2);
    tm_assert_unchanged(t, snap);
    TM_OK(t, tm_set(t->v, t->l2, 8, pte(f, PG_P | PG_RW)));
    TM_FRAME(t, f, "type=l1 tc=1");
}

/* Removing every linear entry restores every frame's counts and linear counts exactly. */
static void removing_linear_entries_restores_counts(void **state)
{
    struct tm *t = *state;
    uint64_t a = t->l2, b = tm_pinned(t, 2), c = tm_pinned(t, 2), r = tm_pinned(t, 4);
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, a, 7, pte(b, PG_P)));
    TM_OK(t, tm_set(t->v, c, 3, pte(b, PG_P)));
    TM_OK(t, tm_set(t->v, t->l4, 7, pte(r, PG_P)));
    TM_OK(t, tm_set(t->v, a, 7, 0));
    TM_OK(t, tm_set(t->v, c, 3, 0));
    TM_OK(t, tm_set(t->v, t->l4, 7, 0));
    tm_assert_unchanged(t, snap);
}

/* Replacing a linear entry by a normal next-level entry moves the accounting cleanly. */
static void linear_entry_replaced_by_normal(void **state)
{
    struct tm *t = *state;
    uint64_t a = t->l2, b = tm_pinned(t, 2), f = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, a, 7, pte(b, PG_P)));
    TM_OK(t, tm_set(t->v, a, 7, pte(f, PG_P | PG_RW)));
    TM_FRAME(t, a, "linear=0");
    TM_FRAME(t, b, "linear=0 tc=1 count=2");
    TM_FRAME(t, f, "type=l1");
    /* A table that no longer holds linear entries may become a linear target. */
    uint64_t c = tm_pinned(t, 2);
    TM_OK(t, tm_set(t->v, c, 1, pte(a, PG_P)));
    TM_FRAME(t, a, "linear=-1");
}

/* A linear entry keeps its target validated after the target's pin goes; removing it then demotes the target. */
static void linear_ref_outlives_pin(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2);
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(b, PG_P)));
    TM_OK(t, tm_unpin(t->v, b));
    TM_FRAME(t, b, "tc=1 validated linear=-1");
    uint64_t dem = t->m.stats.demotions[2];
    TM_OK(t, tm_set(t->v, t->l2, 7, 0));
    TM_FRAME(t, b, "tc=0 !validated count=1 linear=0");
    TM_FRAME(t, t->l2, "linear=0");
    assert_int_equal(t->m.stats.demotions[2], dem + 1);
}

/* A linear entry present in the tree at pin time is accepted once its target is validated (an earlier slot). */
static void linear_entry_at_validation_time(void **state)
{
    struct tm *t = *state;
    uint64_t r = tm_frame(t, 1), x = tm_frame(t, 1), q = tm_frame(t, 1), p = tm_frame(t, 1);
    TM_OK(t, pvm_poke(&t->m, r, 0, pte(x, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, x, 0, pte(q, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, x, 1, pte(p, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, p, 5, pte(q, PG_P)));
    TM_OK(t, tm_pin(t->v, 4, r));
    TM_FRAME(t, q, "type=l2 tc=2 linear=-1");
    TM_FRAME(t, p, "type=l2 linear=1");
    /* Unpinning demotes the whole tree, linear entry included. */
    TM_OK(t, tm_unpin(t->v, r));
    const uint64_t all[4] = { r, x, q, p };
    for (unsigned int i = 0; i < 4; i++)
        TM_FRAME(t, all[i], "tc=0 !validated count=1 linear=0");
}

/* Unpinning a tree whose linear target's last ref is dropped while its container is being demoted tears down cleanly. */
static void unpin_tree_with_linear_entries(void **state)
{
    struct tm *t = *state;
    uint64_t r = tm_frame(t, 1), x = tm_frame(t, 1), p = tm_frame(t, 1), l1 = tm_frame(t, 1);
    uint64_t q = tm_pinned(t, 2);
    TM_OK(t, pvm_poke(&t->m, r, 0, pte(x, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, x, 0, pte(p, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, x, 1, pte(q, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, p, 0, pte(l1, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, p, 5, pte(q, PG_P)));
    TM_OK(t, tm_pin(t->v, 4, r));
    TM_FRAME(t, q, "tc=3");   /* pin + x[1] + p[5] */
    TM_OK(t, tm_unpin(t->v, q));
    struct pvm_stats before = t->m.stats;
    TM_OK(t, tm_unpin(t->v, r));
    assert_int_equal(t->m.stats.demotions[4], before.demotions[4] + 1);
    assert_int_equal(t->m.stats.demotions[3], before.demotions[3] + 1);
    assert_int_equal(t->m.stats.demotions[2], before.demotions[2] + 2);
    assert_int_equal(t->m.stats.demotions[1], before.demotions[1] + 1);
    const uint64_t all[5] = { r, x, p, q, l1 };
    for (unsigned int i = 0; i < 5; i++)
        TM_FRAME(t, all[i], "tc=0 !validated !pinned count=1 linear=0");
}

/* XSA-240 at validation time: pinning a table whose RO entry points at a linear container is refused, nothing kept. */
static void xsa240_chain_refused_at_validation(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2), d = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(b, PG_P)));
    TM_OK(t, pvm_poke(&t->m, d, 2, pte(t->l2, PG_P)));
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_pin(t->v, 2, d), -XEN_EINVAL);
    /* d failed after slot 0: Xen's partial teardown leaves it typed l2 with count 0. */
    tm_snapshot_set_type(snap, d, PGT_l2_page_table);
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_CHAIN);
    assert_int_equal(tm_log_count(t, "Failure -22 in promote_l2_table: slot 0x2"), 1);
}

/* XSA-182: flipping RW onto an existing RO linear L2 entry is re-validated and refused; the entry and counts stay. */
static void xsa182_rw_onto_ro_linear_l2e_refused(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2);
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(b, PG_P)));
    uint64_t ro = pvm_peek(&t->m, t->l2, 7), fp = t->m.stats.fastpath;
    TM_SET_REFUSED(t, t->v, t->l2, 7, pte(b, PG_P | PG_RW), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_LINEAR_RW);
    assert_int_equal(t->m.stats.fastpath, fp);
    assert_int_equal(pvm_peek(&t->m, t->l2, 7), ro);
}

/* An A/D-only change of an RO linear entry takes the fast path and moves no count. */
static void linear_entry_ad_fastpath(void **state)
{
    struct tm *t = *state;
    uint64_t b = tm_pinned(t, 2);
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(b, PG_P)));
    uint64_t fp = t->m.stats.fastpath;
    void *snap = tm_snapshot(t);
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(b, PG_P | PG_A | PG_D)));
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.fastpath, fp + 1);
    assert_int_equal(pvm_peek(&t->m, t->l2, 7), pte(b, PG_P | PG_US | PG_A | PG_D));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_SPACE_TEST(ro_self_map_l4_takes_no_refs),
        TM_SPACE_TEST(ro_self_map_l2_l3_takes_no_refs),
        TM_SPACE_TEST(rw_self_map_refused),
        TM_SPACE_TEST(l2_linear_entry_accounting),
        TM_SPACE_TEST(l3_l4_linear_entry_accounting),
        TM_SPACE_TEST(rw_linear_entry_refused),
        TM_SPACE_TEST(xsa240_container_cannot_be_target),
        TM_SPACE_TEST(xsa240_target_cannot_hold_linear),
        TM_SPACE_TEST(many_linear_entries_one_target),
        TM_SPACE_TEST(cross_domain_linear_refused),
        TM_SPACE_TEST(linear_needs_same_level),
        TM_SPACE_TEST(unvalidated_l2_target_not_linear),
        TM_SPACE_TEST(unvalidated_l2_target_refused),
        TM_SPACE_TEST(linear_feature_disabled),
        TM_SPACE_TEST(removing_linear_entries_restores_counts),
        TM_SPACE_TEST(linear_entry_replaced_by_normal),
        TM_SPACE_TEST(linear_ref_outlives_pin),
        TM_TEST(linear_entry_at_validation_time),
        TM_TEST(unpin_tree_with_linear_entries),
        TM_SPACE_TEST(xsa240_chain_refused_at_validation),
        TM_SPACE_TEST(xsa182_rw_onto_ro_linear_l2e_refused),
        TM_SPACE_TEST(linear_entry_ad_fastpath),
    };
    return cmocka_run_group_tests_name("linear", tests, NULL, NULL);
}
