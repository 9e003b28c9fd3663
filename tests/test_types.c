/*
 * test_types.c - the type system and reference counts (Xen's get/put page and
 * type) seen through the public API: mappings, pins, recursive validation and
 * demotion, rollback of a failed validation, and frame release.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#define PG_P  _PAGE_PRESENT
#define PG_RW _PAGE_RW

/*
 * Poke an untyped 4-level tree of fresh d1 frames, allocated in the order l4, l3, l2, l1, data:
 * tree[4][0] -> tree[3], tree[3][0] -> tree[2], tree[2][0] -> tree[1], tree[1][0] -> tree[0] (RW).
 * Nothing is typed yet.
 */
static void poke_tree(struct tm *t, uint64_t tree[5])
{
    for (int lvl = 4; lvl >= 0; lvl--)
        tree[lvl] = tm_frame(t, 1);
    for (unsigned int lvl = 4; lvl >= 1; lvl--)
        TM_OK(t, pvm_poke(&t->m, tree[lvl], 0, pte(tree[lvl - 1], PG_P | PG_RW)));
}

/* Each level's counter (promotions, demotions) moved by delta from before, levels 1-4. */
static void assert_per_level(const uint64_t now[5], const uint64_t before[5], uint64_t delta)
{
    for (unsigned int lvl = 1; lvl <= 4; lvl++)
        assert_int_equal(now[lvl], before[lvl] + delta);
}

/*
 * The tree of poke_tree held by its L4's pin (held 1: every table of its level, validated, only the L4 pinned,
 * the data frame writable, each with one type ref) or no longer (held 0: type counts 0, not validated, nothing
 * pinned); each frame's count is its allocation plus held.
 */
static void tree_held(struct tm *t, const uint64_t tree[5], unsigned int held)
{
    for (unsigned int lvl = 1; lvl <= 4; lvl++)
        TM_FRAME(t, tree[lvl], "type=l%u tc=%u %svalidated %spinned count=%u", lvl, held, held ? "" : "!",
                 held && lvl == 4 ? "" : "!", 1 + held);
    TM_FRAME(t, tree[0], "type=writable tc=%u count=%u", held, 1 + held);
}

/* A frame just assigned to a domain has type none, count 0, and only the allocation reference. */
static void fresh_frame_is_untyped(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_FRAME(t, f, "owner=d1 type=none tc=0 count=1 allocated !validated !pinned type_info=0 count_info=%#llx",
             (unsigned long long)(PGC_allocated | 1));
}

/* Each RW L1 mapping takes one writable type ref and one general ref; dropping one gives back exactly one of each. */
static void rw_mapping_takes_writable_type_per_mapping(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | PG_RW);
    TM_FRAME(t, d, "type=writable tc=1 count=2 validated");
    TM_OK(t, tm_set(t->v, t->l1, 7, pte(d, PG_P | PG_RW)));
    TM_FRAME(t, d, "tc=2 count=3");
    TM_OK(t, tm_set(t->v, t->l1, 0, 0));
    TM_FRAME(t, d, "type=writable tc=1 count=2");
}

/* A read-only L1 mapping takes a general ref only: the frame stays type none, count 0. */
static void ro_mapping_takes_only_general_ref(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P);
    TM_OK(t, tm_set(t->v, t->l1, 9, pte(d, PG_P)));
    TM_FRAME(t, d, "type=none tc=0 count=3");
    /* One RW mapping on top: one type ref, one more general ref. */
    TM_OK(t, tm_set(t->v, t->l1, 10, pte(d, PG_P | PG_RW)));
    TM_FRAME(t, d, "type=writable tc=1 count=4");
}

/* Pinning as L1 a frame mapped RW fails with -EINVAL and Xen's exact "Bad type" line; nothing changes. */
static void pin_l1_of_rw_mapped_frame_is_bad_type(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | PG_RW);
    TM_REFUSED(t, tm_pin(t->v, 1, d), -XEN_EINVAL);
    assert_int_equal(tm_bad_type_logs(t, 0xe400000000000001ULL, 0x2000000000000000ULL, d), 1);
    assert_int_equal(tm_log_countf(t, "Error -22 while pinning mfn %05llx", (unsigned long long)(d)), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(t->m.last.saw, 0xe400000000000001ULL);
    assert_int_equal(t->m.last.exp, PGT_l1_page_table);
    TM_FRAME(t, d, "type=writable !pinned");
}

/* The type changes only at type count 0: once the RW mapping is gone the same frame pins as L1, and then cannot be mapped RW. */
static void type_changes_only_at_count_zero(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | PG_RW);
    TM_RC(t, tm_pin(t->v, 1, d), -XEN_EINVAL);
    TM_OK(t, tm_set(t->v, t->l1, 0, 0));
    TM_FRAME(t, d, "tc=0");
    TM_OK(t, tm_pin(t->v, 1, d));
    TM_FRAME(t, d, "type=l1 tc=1 validated pinned count=2");
    /* Now the other direction is refused. */
    TM_RC(t, tm_set(t->v, t->l1, 0, pte(d, PG_P | PG_RW)), -XEN_EBUSY);
    assert_int_equal(tm_bad_type_logs(t, PGT_l1_page_table | PGT_pinned | PGT_validated | 1, PGT_writable_page, d), 1);
    TM_FRAME(t, d, "count=2");
}

/* At type count 0 a writable frame keeps PGT_validated (the next writable get is free), unlike a page table. */
static void writable_keeps_validated_at_count_zero(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | PG_RW);
    TM_OK(t, tm_set(t->v, t->l1, 0, 0));
    TM_FRAME(t, d, "type=writable tc=0 validated type_info=%#llx count=1",
             (unsigned long long)(PGT_writable_page | PGT_validated));
}

/* A page-table type loses PGT_validated when its count drops to 0 (demotion), keeping the type bits. */
static void pagetable_loses_validated_at_count_zero(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1);
    uint64_t dem = t->m.stats.demotions[1];
    TM_OK(t, tm_pin(t->v, 1, x));
    TM_FRAME(t, x, "type_info=%#llx", (unsigned long long)(PGT_l1_page_table | PGT_pinned | PGT_validated | 1));
    TM_OK(t, tm_unpin(t->v, x));
    TM_FRAME(t, x, "type=l1 tc=0 !validated !pinned type_info=%#llx count=1", (unsigned long long)PGT_l1_page_table);
    assert_int_equal(t->m.stats.demotions[1], dem + 1);
}

/* Pinning an L4 validates the whole tree L4->L3->L2->L1, one promotion per level, each child holding one type ref. */
static void pin_l4_validates_whole_tree(void **state)
{
    struct tm *t = *state;
    uint64_t tree[5];
    poke_tree(t, tree);
    struct pvm_stats before = t->m.stats;
    uint64_t nl4 = pvm_domain(&t->m, 1)->nr_l4_pages;
    TM_OK(t, tm_pin(t->v, 4, tree[4]));
    assert_int_equal(pvm_domain(&t->m, 1)->nr_l4_pages, nl4 + 1);
    assert_per_level(t->m.stats.promotions, before.promotions, 1);
    assert_int_equal(t->m.stats.entries_validated, before.entries_validated + 4);
    assert_int_equal(t->m.stats.pins, before.pins + 1);
    tree_held(t, tree, 1);   /* count: allocation + parent entry (or the pin for l4) */
}

/* Unpinning the only holder of a tree demotes it recursively: every table back to count 0, unvalidated, one demotion per level. */
static void unpin_l4_demotes_whole_tree(void **state)
{
    struct tm *t = *state;
    uint64_t tree[5];
    poke_tree(t, tree);
    TM_OK(t, tm_pin(t->v, 4, tree[4]));
    struct pvm_stats before = t->m.stats;
    uint64_t nl4 = pvm_domain(&t->m, 1)->nr_l4_pages;
    TM_OK(t, tm_unpin(t->v, tree[4]));
    assert_int_equal(pvm_domain(&t->m, 1)->nr_l4_pages, nl4 - 1);
    assert_per_level(t->m.stats.demotions, before.demotions, 1);
    tree_held(t, tree, 0);
}

/* After the tree is demoted its former tables can be mapped RW (retyped writable), which was refused while validated. */
static void demoted_tables_can_be_mapped_rw(void **state)
{
    struct tm *t = *state;
    uint64_t tree[5];
    poke_tree(t, tree);
    TM_OK(t, tm_pin(t->v, 4, tree[4]));
    for (unsigned int i = 0; i < 4; i++)
        TM_RC(t, tm_set(t->v, t->l1, 20 + i, pte(tree[i + 1], PG_P | PG_RW)), -XEN_EBUSY);
    TM_OK(t, tm_unpin(t->v, tree[4]));
    for (unsigned int i = 0; i < 4; i++) {
        TM_OK(t, tm_set(t->v, t->l1, 20 + i, pte(tree[i + 1], PG_P | PG_RW)));
        TM_FRAME(t, tree[i + 1], "type=writable tc=1 validated count=2");
    }
}

/* A child shared by two parents is demoted only when the last parent lets go. */
static void shared_child_demoted_by_last_parent(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1), c = tm_frame(t, 1);
    TM_OK(t, pvm_poke(&t->m, a, 0, pte(c, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, b, 3, pte(c, PG_P | PG_RW)));
    uint64_t prom = t->m.stats.promotions[1];
    TM_OK(t, tm_pin(t->v, 2, a));
    TM_OK(t, tm_pin(t->v, 2, b));
    assert_int_equal(t->m.stats.promotions[1], prom + 1);   /* validated once */
    TM_FRAME(t, c, "type=l1 tc=2 count=3");
    TM_OK(t, tm_unpin(t->v, a));
    TM_FRAME(t, c, "tc=1 validated count=2");
    TM_OK(t, tm_unpin(t->v, b));
    TM_FRAME(t, c, "tc=0 !validated count=1");
}

/* A second pin of a pinned frame is -EINVAL "already pinned" and leaves every count as it was. */
static void double_pin_refused_refs_unchanged(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_pinned(t, 1);
    uint64_t pins = t->m.stats.pins;
    TM_REFUSED(t, tm_pin(t->v, 1, x), -XEN_EINVAL);
    assert_int_equal(tm_log_countf(t, "mfn %05llx already pinned", (unsigned long long)(x)), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_ALREADY_PINNED);
    assert_int_equal(t->m.stats.pins, pins);
    TM_FRAME(t, x, "tc=1 count=2 pinned");
}

/* Unpinning a frame that is not pinned is -EINVAL "not pinned", even while it is a validated table in use. */
static void unpin_of_unpinned_refused(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1);
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_unpin(t->v, x), -XEN_EINVAL);
    assert_int_equal(tm_log_countf(t, "mfn %05llx not pinned", (unsigned long long)(x)), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_PINNED);
    /* l1 is a validated L1 held by l2's entry, but nobody pinned it. */
    TM_RC(t, tm_unpin(t->v, t->l1), -XEN_EINVAL);
    assert_int_equal(tm_log_countf(t, "mfn %05llx not pinned", (unsigned long long)(t->l1)), 1);
    tm_assert_unchanged(t, snap);
    TM_FRAME(t, t->l1, "tc=1 validated");
}

/* A domain cannot pin (or unpin) another domain's frame: -EINVAL and the frame is untouched. */
static void pin_of_foreign_frame_refused(void **state)
{
    struct tm *t = *state;
    uint64_t f2 = tm_frame(t, 2);
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_pin(t->v, 1, f2), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    tm_assert_unchanged(t, snap);
    /* d2 pins it itself; d1 still cannot unpin it. */
    TM_OK(t, tm_pin(t->v2, 1, f2));
    TM_REFUSED(t, tm_unpin(t->v, f2), -XEN_EINVAL);
    assert_int_equal(tm_log_countf(t, "mfn %05llx bad, or bad owner d1", (unsigned long long)(f2)), 1);
    TM_FRAME(t, f2, "pinned");
}

/* Pinning a validated L1 as an L2 is a type clash: -EINVAL with the "Bad type" line, counts unchanged. */
static void pin_at_other_level_refused(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_pinned(t, 1);
    TM_REFUSED(t, tm_pin(t->v, 2, x), -XEN_EINVAL);
    assert_int_equal(tm_bad_type_logs(t, PGT_l1_page_table | PGT_pinned | PGT_validated | 1, PGT_l2_page_table, x), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    /* The cause is the frame's own type: no table, slot or entry played a part, so none is named. */
    assert_int_equal(t->m.last.mfn, x);
    assert_int_equal(t->m.last.table_mfn, PVM_INVALID_MFN);
    assert_int_equal(t->m.last.level, 0);
}

/* Validation stops at a writable-typed child: pinning an L2 whose entry points at an RW-mapped frame is -EINVAL, no reference kept. */
static void pin_over_writable_child_refused(void **state)
{
    struct tm *t = *state;
    uint64_t w = tm_frame(t, 1), p = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(w, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, p, 4, pte(w, PG_P)));
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_pin(t->v, 2, p), -XEN_EINVAL);
    /* Failing at slot 4 (after slot 0), Xen tears p down as a partial page: type l2, count 0. */
    tm_snapshot_set_type(snap, p, PGT_l2_page_table);
    tm_assert_unchanged(t, snap);
    assert_int_equal(tm_bad_type_logs(t, PGT_writable_page | PGT_validated | 1, PGT_l1_page_table, w), 1);
    assert_int_equal(tm_log_countf(t, "Failure -22 in promote_l2_table: slot %#llx", (unsigned long long)(4)), 1);
    /* Here a slot did: the cause names the pinned table, slot 4 and its entry. */
    assert_int_equal(t->m.last.table_mfn, p);
    assert_int_equal(t->m.last.level, 2);
    assert_int_equal(t->m.last.slot, 4);
    assert_int_equal(t->m.last.entry, pte(w, PG_P));
    TM_FRAME(t, p, "type=l2 !validated tc=0");
}

/* A validation failing half-way (3rd L1 under an L2 maps a page table RW) restores every count; the L2 keeps type l2 at count 0 (Xen's partial teardown). */
static void failed_validation_rolls_back_everything(void **state)
{
    struct tm *t = *state;
    uint64_t p = tm_frame(t, 1), a = tm_frame(t, 1), b = tm_frame(t, 1), c = tm_frame(t, 1);
    uint64_t da = tm_frame(t, 1), db = tm_frame(t, 1);
    /* a and b are already validated L1s (pinned), each mapping a data frame RW. */
    TM_OK(t, pvm_poke(&t->m, a, 0, pte(da, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, b, 0, pte(db, PG_P | PG_RW)));
    TM_OK(t, tm_pin(t->v, 1, a));
    TM_OK(t, tm_pin(t->v, 1, b));
    /* c maps data RW at slot 0 and the L2 being validated RW at slot 1. */
    TM_OK(t, pvm_poke(&t->m, c, 0, pte(da, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, c, 1, pte(p, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, p, 0, pte(a, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, p, 1, pte(b, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, p, 2, pte(c, PG_P | PG_RW)));
    void *snap = tm_snapshot(t);
    uint64_t prom1 = t->m.stats.promotions[1], prom2 = t->m.stats.promotions[2];
    TM_RC(t, tm_pin(t->v, 2, p), -XEN_EBUSY);
    tm_snapshot_set_type(snap, p, PGT_l2_page_table);
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.stats.promotions[1], prom1);
    assert_int_equal(t->m.stats.promotions[2], prom2);
    assert_int_equal(tm_log_count(t, "Could not get page type PGT_writable_page"), 1);
    assert_int_equal(tm_log_count(t, "Failure -16 in promote_l1_table: slot 0x1"), 1);
    assert_int_equal(tm_log_count(t, "Failure -16 in promote_l2_table: slot 0x2"), 1);
    assert_int_equal(tm_log_countf(t, "Error -16 while pinning mfn %05llx", (unsigned long long)(p)), 1);
    TM_FRAME(t, p, "type=l2 tc=0 type_info=%#llx count=1", (unsigned long long)PGT_l2_page_table);
    TM_FRAME(t, da, "tc=1 count=2");   /* only a's mapping, c's was undone */
}

/* Same half-way failure over fresh children: all counts restored, the failed L1 untyped, the L2 typed at count 0, validated siblings demoted as in Xen. */
static void failed_validation_with_fresh_children(void **state)
{
    struct tm *t = *state;
    uint64_t p = tm_frame(t, 1), a = tm_frame(t, 1), b = tm_frame(t, 1), c = tm_frame(t, 1);
    uint64_t d = tm_frame(t, 1);
    TM_OK(t, pvm_poke(&t->m, a, 0, pte(d, PG_P | PG_RW)));
    TM_OK(t, pvm_poke(&t->m, b, 0, pte(d, PG_P)));
    TM_OK(t, pvm_poke(&t->m, c, 5, pte(a, PG_P | PG_RW)));   /* a is an L1 by then */
    for (unsigned int i = 0; i < 3; i++)
        TM_OK(t, pvm_poke(&t->m, p, i, pte(i == 0 ? a : i == 1 ? b : c, PG_P | PG_RW)));
    TM_RC(t, tm_pin(t->v, 2, p), -XEN_EBUSY);
    assert_int_equal(tm_bad_type_logs(t, PGT_l1_page_table | PGT_validated | 1, PGT_writable_page, a), 1);
    const uint64_t all[5] = { p, a, b, c, d };
    for (unsigned int i = 0; i < 5; i++) {
        struct pvm_frame_state s = tm_state(t, all[i]);
        assert_int_equal(s.count, 1);
        assert_int_equal(s.type_count, 0);
        assert_false(s.validated && s.type != PVM_TYPE_WRITABLE);
        assert_int_equal(s.linear_pt_count, 0);
    }
    TM_FRAME(t, p, "type_info=%#llx", (unsigned long long)PGT_l2_page_table);
    TM_FRAME(t, c, "type_info=0");
    TM_FRAME(t, a, "type_info=%#llx", (unsigned long long)PGT_l1_page_table);
    TM_FRAME(t, b, "type_info=%#llx", (unsigned long long)PGT_l1_page_table);
    /* With the offending entry removed the same pin now succeeds. */
    TM_OK(t, pvm_poke(&t->m, c, 5, 0));
    TM_OK(t, tm_pin(t->v, 2, p));
    TM_FRAME(t, c, "type=l1");
    TM_FRAME(t, d, "tc=1 count=3");
}

/* At validation an L1 may map only its owner's frames: a foreign frame fails the pin with -EBUSY, even for a privileged owner. */
static void pin_l1_mapping_foreign_frame_busy(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v3 = tm_privileged(t, 3);
    uint64_t x1 = tm_frame(t, 1), x3 = tm_frame(t, 3), f2 = tm_frame(t, 2);
    TM_OK(t, pvm_poke(&t->m, x1, 0, pte(f2, PG_P)));
    TM_OK(t, pvm_poke(&t->m, x3, 0, pte(f2, PG_P)));
    void *snap = tm_snapshot(t);
    TM_RC(t, tm_pin(t->v, 1, x1), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d1 l1e_owner d1, but real_pg_owner d2"), 1);
    TM_RC(t, tm_pin(v3, 1, x3), -XEN_EBUSY);
    assert_int_equal(tm_log_count(t, "pg_owner d3 l1e_owner d3, but real_pg_owner d2"), 1);
    tm_assert_unchanged(t, snap);
    TM_FRAME(t, f2, "count=1");
}

/* Releasing a mapped frame drops only the allocation ref; the frame is freed when the last mapping goes. */
static void release_frees_at_last_ref(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_map_frame(t, 0, PG_P | PG_RW);
    uint64_t pages = pvm_domain(&t->m, 1)->tot_pages;
    TM_OK(t, pvm_release_page(&t->m, 1, d));
    TM_FRAME(t, d, "owner=d1 !allocated count=1 tc=1");
    assert_int_equal(pvm_domain(&t->m, 1)->tot_pages, pages);
    /* A second release has nothing to drop: done, as on real Xen, and nothing changes. */
    TM_OK(t, pvm_release_page(&t->m, 1, d));
    TM_FRAME(t, d, "owner=d1 !allocated count=1 tc=1");
    TM_OK(t, tm_set(t->v, t->l1, 0, 0));
    TM_FRAME(t, d, "owner=none count=0 count_info=%#llx type_info=0", (unsigned long long)PGC_state_free);
    assert_int_equal(pvm_domain(&t->m, 1)->tot_pages, pages - 1);
    /* The freed frame can no longer be mapped. */
    TM_RC(t, tm_set(t->v, t->l1, 0, pte(d, PG_P)), -XEN_EBUSY);
}

/* An unmapped frame is freed at once on release; another domain cannot release it (-EINVAL, untouched). */
static void release_unmapped_frame_and_foreign_release(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    TM_REFUSED(t, pvm_release_page(&t->m, 2, d), -XEN_EINVAL);
    TM_OK(t, pvm_release_page(&t->m, 1, d));
    TM_FRAME(t, d, "owner=none count_info=%#llx", (unsigned long long)PGC_state_free);
    /* Naming the free frame: Xen's get_page line shows a free frame's count_info, PGC_state_free (as 4.17.7 prints). */
    TM_RC(t, tm_pin(t->v, 1, d), -XEN_EINVAL);
    assert_int_equal(tm_log_countf(t, "Error mfn %05llx: rd=d1 od=NULL caf=c00000000000000 taf=0000000000000000",
                                   (unsigned long long)d), 1);
}

/* Releasing a pinned table does not unpin it (XSA-252): it stays validated until unpinned, then is freed. */
static void release_of_pinned_frame_keeps_pin(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1), d = tm_frame(t, 1);
    TM_OK(t, pvm_poke(&t->m, x, 0, pte(d, PG_P | PG_RW)));
    TM_OK(t, tm_pin(t->v, 1, x));
    TM_OK(t, pvm_release_page(&t->m, 1, x));
    TM_FRAME(t, x, "owner=d1 pinned validated count=1");
    TM_FRAME(t, d, "tc=1");
    TM_OK(t, tm_unpin(t->v, x));
    TM_FRAME(t, x, "owner=none count_info=%#llx type_info=0", (unsigned long long)PGC_state_free);
    TM_FRAME(t, d, "tc=0 count=1");
}

/* A vCPU root holds its own L4 type ref: unpinning a loaded root does not demote it, replacing the root does. */
static void root_holds_type_ref(void **state)
{
    struct tm *t = *state;
    TM_OK(t, tm_unpin(t->v, t->l4));
    TM_FRAME(t, t->l4, "tc=1 validated !pinned");
    TM_FRAME(t, t->l1, "tc=1");
    /* Load another (empty) root: the old tree loses its last holder and is demoted. */
    uint64_t r = tm_frame(t, 1);
    TM_OK(t, tm_baseptr(t->v, r));
    const uint64_t tabs[4] = { t->l1, t->l2, t->l3, t->l4 };
    for (unsigned int i = 0; i < 4; i++)
        TM_FRAME(t, tabs[i], "tc=0 !validated");
    TM_FRAME(t, r, "type=l4 tc=1");
}

/* What pvm_ops.validate saw: "v4 v3 ... e3:0 e4:0" (v begin, e end:rc, d / f the same for devalidation). */
static char hook_seen[512];
static uint64_t hook_tree[5];

static void record_validate(void *ctx, uint64_t mfn, unsigned int level, enum pvm_validate_phase phase, int rc)
{
    (void)ctx;
    static const char tag[] = "vedf";
    size_t n = strlen(hook_seen);
    assert_int_equal(mfn, hook_tree[level]);   /* the level is the frame's own */
    if (phase == PVM_VALIDATE_END || phase == PVM_DEVALIDATE_END)
        snprintf(hook_seen + n, sizeof(hook_seen) - n, "%s%c%u:%d", n ? " " : "", tag[phase], level, rc);
    else
        snprintf(hook_seen + n, sizeof(hook_seen) - n, "%s%c%u", n ? " " : "", tag[phase], level);
}

/*
 * pvm_ops.validate brackets every validation and devalidation, nested as Xen's validate_page and
 * devalidate_page are (the replay of a real Xen record matches its vb/ve/db/de lines against them);
 * a refused validation ends with its errno.
 */
static void validate_hook_brackets_nest(void **state)
{
    struct tm *t = *state;
    poke_tree(t, hook_tree);
    t->m.ops.validate = record_validate;
    hook_seen[0] = 0;
    TM_OK(t, tm_pin(t->v, 4, hook_tree[4]));
    assert_string_equal(hook_seen, "v4 v3 v2 v1 e1:0 e2:0 e3:0 e4:0");
    hook_seen[0] = 0;
    TM_OK(t, tm_unpin(t->v, hook_tree[4]));
    assert_string_equal(hook_seen, "d4 d3 d2 d1 f1:0 f2:0 f3:0 f4:0");
    /* The L1 now maps a frame of d2: its validation is refused, and so is each one above it. */
    TM_OK(t, pvm_poke(&t->m, hook_tree[1], 0, pte(tm_frame(t, 2), PG_P)));
    hook_seen[0] = 0;
    TM_RC(t, tm_pin(t->v, 4, hook_tree[4]), -XEN_EBUSY);
    assert_string_equal(hook_seen, "v4 v3 v2 v1 e1:-16 e2:-16 e3:-16 e4:-16");
}

/*
 * Xen's dom0 builder maps the initial p2m with 2 MiB pages (setup_pv_physmap): pvm_build_superpage puts such an
 * entry into a validated L2 and takes a general and a writable type reference on each of its 512 frames; replacing
 * the entry or devalidating its table drops them (Xen's put_data_pages), and the auditor counts them.  Replaying
 * real Linux at 2 GiB needs it: its p2m L2 holds two such entries, and Linux later unhooks it.
 */
static void builder_superpage_refs_and_release(void **state)
{
    (void)state;
    struct tm *t = tm_new(2048);
    const uint64_t sp = 1024, n = 512;
    TM_OK(t, pvm_assign_pages(&t->m, sp, n, 1));
    uint64_t tree[5];
    poke_tree(t, tree);   /* l4 -> l3 -> l2 -> l1 -> data, the L2's slot 0 taken */
    TM_OK(t, tm_pin(t->v, 4, tree[4]));
    uint64_t big = pte(sp, PG_P | PG_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_PSE);
    /* Refused: a table that is no validated L2/L3, a used slot, a misaligned frame, not PSE, frames not d1's. */
    TM_REFUSED(t, pvm_build_superpage(&t->m, 1, tree[1], 1, big), -XEN_EINVAL);
    TM_REFUSED(t, pvm_build_superpage(&t->m, 1, tree[2], 0, big), -XEN_EINVAL);
    TM_REFUSED(t, pvm_build_superpage(&t->m, 1, tree[2], 1, big + (1 << 12)), -XEN_EINVAL);
    TM_REFUSED(t, pvm_build_superpage(&t->m, 1, tree[2], 1, big & ~_PAGE_PSE), -XEN_EINVAL);
    TM_REFUSED(t, pvm_build_superpage(&t->m, 2, tree[2], 1, big), -XEN_EINVAL);
    TM_REFUSED(t, pvm_build_superpage(&t->m, 1, tree[2], 1, pte(0, PG_P | _PAGE_PSE)), -XEN_EBUSY);
    TM_OK(t, pvm_build_superpage(&t->m, 1, tree[2], 1, big));
    TM_FRAME(t, sp, "type=writable tc=1 count=2");
    TM_FRAME(t, sp + n - 1, "type=writable tc=1 count=2");
    /* A guest may not write such an entry, but may remove it: every frame is let go. */
    TM_RC(t, tm_set(t->v, tree[2], 2, big), -XEN_EINVAL);
    TM_OK(t, tm_set(t->v, tree[2], 1, 0));
    TM_FRAME(t, sp, "type=writable tc=0 count=1");
    TM_FRAME(t, sp + n - 1, "type=writable tc=0 count=1");
    /* Read-only this time, and the whole tree unpinned: the L2's devalidation lets the frames go. */
    TM_OK(t, pvm_build_superpage(&t->m, 1, tree[2], 1, big & ~PG_RW));
    TM_FRAME(t, sp + 7, "tc=0 count=2");
    TM_OK(t, tm_unpin(t->v, tree[4]));
    TM_FRAME(t, tree[2], "type=l2 tc=0 !validated");
    TM_FRAME(t, sp + 7, "tc=0 count=1");
    tm_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_TEST(fresh_frame_is_untyped),
        TM_SPACE_TEST(rw_mapping_takes_writable_type_per_mapping),
        TM_SPACE_TEST(ro_mapping_takes_only_general_ref),
        TM_SPACE_TEST(pin_l1_of_rw_mapped_frame_is_bad_type),
        TM_SPACE_TEST(type_changes_only_at_count_zero),
        TM_SPACE_TEST(writable_keeps_validated_at_count_zero),
        TM_TEST(pagetable_loses_validated_at_count_zero),
        TM_TEST(pin_l4_validates_whole_tree),
        TM_TEST(unpin_l4_demotes_whole_tree),
        TM_SPACE_TEST(demoted_tables_can_be_mapped_rw),
        TM_TEST(shared_child_demoted_by_last_parent),
        TM_TEST(double_pin_refused_refs_unchanged),
        TM_SPACE_TEST(unpin_of_unpinned_refused),
        TM_TEST(pin_of_foreign_frame_refused),
        TM_TEST(pin_at_other_level_refused),
        TM_SPACE_TEST(pin_over_writable_child_refused),
        TM_TEST(failed_validation_rolls_back_everything),
        TM_TEST(failed_validation_with_fresh_children),
        TM_TEST(pin_l1_mapping_foreign_frame_busy),
        TM_SPACE_TEST(release_frees_at_last_ref),
        TM_TEST(release_unmapped_frame_and_foreign_release),
        TM_TEST(release_of_pinned_frame_keeps_pin),
        TM_SPACE_TEST(root_holds_type_ref),
        TM_TEST(validate_hook_brackets_nest),
        cmocka_unit_test(builder_superpage_refs_and_release),
    };
    return cmocka_run_group_tests_name("types", tests, NULL, NULL);
}
