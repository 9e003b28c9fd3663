/*
 * test_xen_maps.c - Xen's own writable mappings of a domain's frames
 * (pvm_xen_map_frame, pvm_xen_unmap_frame): the vcpu_info, FIFO event
 * channel and pirq EOI pages Xen holds with a general and a writable type
 * reference.  Such a frame never becomes a page table while held, a page
 * table is never held, each hold is a reference of its own, and the auditor,
 * pvm_release_page, pvm_frame_query and the explanation of a refusal all
 * know about the holds.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

#define PG_P  _PAGE_PRESENT
#define PG_RW _PAGE_RW

static unsigned int holds(struct tm *t, domid_t id)
{
    return pvm_domain(&t->m, id)->nr_xen_maps;
}

/* A call that must fail with rc and change nothing: no frame, and no domain's holds. */
#define XM_REFUSED(t, call, rc)                                                  \
    do {                                                                         \
        unsigned int h1_ = holds(t, 1), h2_ = holds(t, 2);                      \
        TM_REFUSED(t, call, rc);                                                 \
        assert_int_equal(holds(t, 1), h1_);                                      \
        assert_int_equal(holds(t, 2), h2_);                                      \
    } while (0)

/* A hold is a general and a writable type reference, kept in the domain and counted by pvm_frame_query. */
static void map_takes_general_and_writable_ref(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_FRAME(t, f, "owner=d1 type=writable tc=1 validated count=2 allocated !pinned");
    assert_int_equal(tm_state(t, f).xen_maps, 1);
    assert_int_equal(holds(t, 1), 1);
    assert_int_equal(pvm_domain(&t->m, 1)->xen_maps[0], f);
    assert_int_equal(holds(t, 2), 0);
    assert_int_equal(tm_state(t, tm_frame(t, 1)).xen_maps, 0);
}

/*
 * While Xen holds a frame it cannot become a page table: a pin at any level, a root load and an L2 entry
 * that would make it an L1 each fail the type change with Xen's "Bad type" line; nothing changes.
 */
static void held_frame_never_becomes_a_table(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    uint64_t taf = PGT_writable_page | PGT_validated | 1;
    for (unsigned int level = 1; level <= 4; level++) {
        XM_REFUSED(t, tm_pin(t->v, level, f), -XEN_EINVAL);
        assert_int_equal(tm_bad_type_logs(t, taf, (uint64_t)level << 61, f), 1);
        assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
        assert_int_equal(t->m.last.mfn, f);
        assert_int_equal(t->m.last.saw, taf);
        assert_int_equal(t->m.last.exp, (uint64_t)level << 61);
    }
    assert_int_equal(tm_log_countf(t, "Error -22 while pinning mfn %05llx", (unsigned long long)f), 4);
    XM_REFUSED(t, tm_baseptr(t->v, f), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    XM_REFUSED(t, tm_set(t->v, t->l2, 1, pte(f, PG_P | PG_RW)), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(t->m.last.exp, PGT_l1_page_table);
    TM_FRAME(t, f, "type=writable tc=1 count=2 !pinned");
}

/* A frame that is a page table in use (pinned, hooked, or a vCPU's root) cannot be held: -EINVAL, nothing changed. */
static void table_in_use_cannot_be_held(void **state)
{
    struct tm *t = *state;
    uint64_t pinned = tm_pinned(t, 1);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, pinned), -XEN_EINVAL);
    assert_int_equal(tm_bad_type_logs(t, PGT_l1_page_table | PGT_pinned | PGT_validated | 1, PGT_writable_page, pinned),
                     1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(t->m.last.exp, PGT_writable_page);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, t->l1), -XEN_EINVAL);   /* hooked into the L2, not pinned */
    assert_int_equal(t->m.last.saw & PGT_type_mask, PGT_l1_page_table);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, t->l4), -XEN_EINVAL);   /* pinned and the root */
    assert_int_equal(t->m.last.saw & PGT_type_mask, PGT_l4_page_table);
    TM_FRAME(t, pinned, "type=l1 tc=1 pinned count=2");
    assert_int_equal(tm_state(t, pinned).xen_maps, 0);
}

/* A table no longer in use (type count 0) keeps its type only until the next one: Xen may then hold it. */
static void unused_table_can_be_held(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_pinned(t, 1);
    TM_OK(t, tm_unpin(t->v, f));
    TM_FRAME(t, f, "type=l1 tc=0 !validated");
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_FRAME(t, f, "type=writable tc=1 validated count=2");
}

/* Once Xen lets go the frame may become a table: unmap drops both references, and the pin then succeeds. */
static void unmap_then_pin_succeeds(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_RC(t, tm_pin(t->v, 1, f), -XEN_EINVAL);
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, f));
    TM_FRAME(t, f, "type=writable tc=0 count=1 allocated");
    assert_int_equal(tm_state(t, f).xen_maps, 0);
    assert_int_equal(holds(t, 1), 0);
    TM_OK(t, tm_pin(t->v, 1, f));
    TM_FRAME(t, f, "type=l1 tc=1 validated pinned count=2");
    /* and now it is a table, Xen cannot have it again */
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, f), -XEN_EINVAL);
}

/*
 * Each hold is a reference of its own (two vCPUs' vcpu_info in one frame): two maps are two general and two type
 * references; the frame stays unusable as a table until the last unmap; a third unmap finds nothing.
 */
static void double_map_counts_each_hold(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1), g = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, g));
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_FRAME(t, f, "type=writable tc=2 count=3");
    assert_int_equal(tm_state(t, f).xen_maps, 2);
    assert_int_equal(holds(t, 1), 3);
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, f));
    TM_FRAME(t, f, "type=writable tc=1 count=2");
    assert_int_equal(tm_state(t, f).xen_maps, 1);
    XM_REFUSED(t, tm_pin(t->v, 1, f), -XEN_EINVAL);
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, f));
    TM_FRAME(t, f, "type=writable tc=0 count=1");
    XM_REFUSED(t, pvm_xen_unmap_frame(&t->m, 1, f), -XEN_EINVAL);
    TM_FRAME(t, g, "type=writable tc=1 count=2");   /* the other frame's hold is untouched */
    assert_int_equal(pvm_domain(&t->m, 1)->xen_maps[0], g);
    TM_OK(t, tm_pin(t->v, 1, f));
}

/* A hold and the guest's own RW mappings share the writable type; each drops its own reference. */
static void hold_and_rw_mapping_share_the_type(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_map_frame(t, 0, PG_P | PG_RW);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_FRAME(t, f, "type=writable tc=2 count=3");
    TM_OK(t, tm_set(t->v, t->l1, 0, 0));
    TM_FRAME(t, f, "type=writable tc=1 count=2");
    XM_REFUSED(t, tm_pin(t->v, 1, f), -XEN_EINVAL);
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(f, PG_P)));   /* read-only is fine, as for any writable frame */
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, f));
    TM_FRAME(t, f, "type=writable tc=0 count=2");
}

/*
 * Only the domain's own frames (Xen's get_page_from_gfn): another domain's, a free one, an I/O frame and one past
 * memory are -EINVAL, an unknown domain -ESRCH; nothing changes.
 */
static void foreign_free_io_frames_refused(void **state)
{
    struct tm *t = *state;
    uint64_t other = tm_frame(t, 2), io = 0x1F0, free_mfn = 0x1F8;
    TM_OK(t, pvm_mark_io(&t->m, io));
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, other), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(tm_log_countf(t, "Error mfn %05llx: rd=d1 od=d2", (unsigned long long)other), 1);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, free_mfn), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    TM_FRAME(t, free_mfn, "owner=none count=0");
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, io), -XEN_EINVAL);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, t->m.nr_frames), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NO_PAGE);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 9, other), -XEN_ESRCH);
    /* and the owner may */
    TM_OK(t, pvm_xen_map_frame(&t->m, 2, other));
    assert_int_equal(holds(t, 2), 1);
}

/* Unmap needs a hold of that domain on that frame: none, another domain's, or an unknown domain is refused. */
static void unmap_of_frame_not_held_refused(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1), never = tm_frame(t, 1);
    XM_REFUSED(t, pvm_xen_unmap_frame(&t->m, 1, f), -XEN_EINVAL);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    XM_REFUSED(t, pvm_xen_unmap_frame(&t->m, 1, never), -XEN_EINVAL);
    XM_REFUSED(t, pvm_xen_unmap_frame(&t->m, 2, f), -XEN_EINVAL);
    XM_REFUSED(t, pvm_xen_unmap_frame(&t->m, 9, f), -XEN_ESRCH);
    XM_REFUSED(t, pvm_xen_unmap_frame(&t->m, 1, t->m.nr_frames + 5), -XEN_EINVAL);
    TM_FRAME(t, f, "type=writable tc=1 count=2");
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, f));
}

/* At most PVM_MAX_XEN_MAPS holds per domain: the next is -ENOSPC with nothing changed; another domain still may. */
static void holds_are_bounded(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1), g = tm_frame(t, 1), h = tm_frame(t, 2), fresh = tm_frame(t, 1);
    for (unsigned int i = 0; i < PVM_MAX_XEN_MAPS; i++)
        assert_int_equal(pvm_xen_map_frame(&t->m, 1, i % 2 ? f : g), 0);
    AUDIT_CLEAN(t);
    TM_FRAME(t, f, "tc=%u count=%u", PVM_MAX_XEN_MAPS / 2, PVM_MAX_XEN_MAPS / 2 + 1);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, f), -XEN_ENOSPC);
    XM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, fresh), -XEN_ENOSPC);
    TM_OK(t, pvm_xen_map_frame(&t->m, 2, h));
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, g));
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    assert_int_equal(holds(t, 1), PVM_MAX_XEN_MAPS);
}

/*
 * The domain may give a held frame back (decrease_reservation): its allocation reference goes, Xen's keep the
 * frame alive, the domain's and writable, until the last unmap frees it; meanwhile no one else can have it.
 */
static void release_of_held_frame_frees_at_unmap(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_OK(t, pvm_release_page(&t->m, 1, f));
    TM_FRAME(t, f, "owner=d1 !allocated type=writable tc=2 count=2");
    TM_OK(t, pvm_release_page(&t->m, 1, f));   /* again: nothing to drop, as in Xen 4.17 */
    TM_FRAME(t, f, "owner=d1 !allocated tc=2 count=2");
    XM_REFUSED(t, pvm_assign_page(&t->m, f, 2, 0), -XEN_EBUSY);
    XM_REFUSED(t, tm_pin(t->v, 1, f), -XEN_EINVAL);
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, f));
    TM_FRAME(t, f, "owner=d1 tc=1 count=1");
    TM_OK(t, pvm_xen_unmap_frame(&t->m, 1, f));
    TM_FRAME(t, f, "owner=none count=0 tc=0");
    assert_int_equal(holds(t, 1), 0);
    TM_OK(t, pvm_assign_page(&t->m, f, 2, 0));
}

/*
 * The explanation of a refused pin names Xen's hold as the writer (not "held elsewhere"), with a hint that fits;
 * a frame mapped RW by an L1 but not held is explained as before.
 */
static void explanation_names_xen_hold(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_RC(t, tm_pin(t->v, 1, f), -XEN_EINVAL);
    char *text = tm_explanation(t, "", NULL);
    assert_non_null(strstr(text, "why: -EINVAL: frame already in use with another type"));
    assert_non_null(strstr(text, "type count 1 (1 held by Xen)"));
    assert_non_null(strstr(text, "Xen holds a writable reference on this frame for its own use (pvm_xen_map_frame: "
                                 "vcpu_info, event channel or EOI page)"));
    assert_null(strstr(text, "held elsewhere"));
    assert_non_null(strstr(text, "hint: Xen keeps the frame writable"));
    free(text);

    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(f, PG_P | PG_RW)));
    TM_RC(t, tm_pin(t->v, 2, f), -XEN_EINVAL);
    text = tm_explanation(t, "", NULL);
    assert_non_null(strstr(text, "Xen holds 2 writable references on this frame"));
    assert_non_null(strstr(text, "slot 0 (pte"));   /* the guest's own mapping is listed too */
    free(text);

    uint64_t g = tm_map_frame(t, 5, PG_P | PG_RW);
    TM_RC(t, tm_pin(t->v, 1, g), -XEN_EINVAL);
    text = tm_explanation(t, "", NULL);
    assert_null(strstr(text, "Xen holds"));
    assert_null(strstr(text, "held by Xen"));
    assert_non_null(strstr(text, "hint: the frame is still mapped writable"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_TEST(map_takes_general_and_writable_ref),
        TM_SPACE_TEST(held_frame_never_becomes_a_table),
        TM_SPACE_TEST(table_in_use_cannot_be_held),
        TM_SPACE_TEST(unused_table_can_be_held),
        TM_SPACE_TEST(unmap_then_pin_succeeds),
        TM_SPACE_TEST(double_map_counts_each_hold),
        TM_SPACE_TEST(hold_and_rw_mapping_share_the_type),
        TM_TEST(foreign_free_io_frames_refused),
        TM_TEST(unmap_of_frame_not_held_refused),
        TM_TEST(holds_are_bounded),
        TM_SPACE_TEST(release_of_held_frame_frees_at_unmap),
        TM_SPACE_TEST(explanation_names_xen_hold),
    };
    return cmocka_run_group_tests_name("xen_maps", tests, NULL, NULL);
}
