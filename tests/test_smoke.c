/* test_smoke.c - the harness itself: a minimal address space builds and audits clean. */
#include "harness.h"

/* Building, pinning and loading a 4-level space leaves every count as the auditor recomputes it. */
static void space_builds_clean(void **state)
{
    (void)state;
    struct tm *t = tm_new(256);
    uint64_t l4, l3, l2, l1;
    tm_space(t, t->v, &l4, &l3, &l2, &l1);
    TM_FRAME(t, l4, "type=l4 tc=2 pinned validated");   /* tc: pin + cr3 */
    TM_FRAME(t, l1, "type=l1 tc=1 count=3");            /* count: allocation + L2 entry + RO self-mapping in l1[1] */
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
