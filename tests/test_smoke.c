/* test_smoke.c - the harness itself: a minimal address space builds and audits clean. */
#include "harness.h"

/* Building, pinning and loading a 4-level space leaves every count as the auditor recomputes it. */
static void space_builds_clean(void **state)
{
    (void)state;
    struct tm *t = tm_new(256);
    uint64_t l4, l3, l2, l1;
    tm_space(t, t->v, &l4, &l3, &l2, &l1);
    struct pvm_frame_state s = tm_state(t, l4);
    assert_int_equal(s.type, PVM_TYPE_L4);
    assert_int_equal(s.type_count, 2);   /* pin + cr3 */
    assert_true(s.pinned && s.validated);
    s = tm_state(t, l1);
    assert_int_equal(s.type, PVM_TYPE_L1);
    assert_int_equal(s.type_count, 1);
    assert_int_equal(s.count, 3);        /* allocation + L2 entry + RO self-mapping in l1[1] */
    AUDIT_CLEAN(t);
    tm_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(space_builds_clean),
    };
    return cmocka_run_group_tests_name("smoke", tests, NULL, NULL);
}
