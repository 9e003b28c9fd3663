/*
 * test_bug.c - the core's BUG_ON: the invariants it relies on are checked,
 * a broken one reaches the platform's bug hook with a line naming it, and
 * the core never goes on after it.  The simulator's own hook prints one line
 * and exits with status 3.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static jmp_buf bug_jmp;
static char bug_text[256];
static unsigned int bug_calls;

static void catch_bug(void *ctx, const char *file, unsigned int line, const char *what)
{
    (void)ctx;
    snprintf(bug_text, sizeof(bug_text), "%s:%u: %s", file, line, what);
    bug_calls++;
    longjmp(bug_jmp, 1);
}

/* The machine's BUG_ON goes to catch_bug, which has not been called yet. */
static void catch_bugs(struct tm *t)
{
    t->m.ops.bug = catch_bug;
    bug_calls = 0;
    bug_text[0] = 0;
}

/* cmocka fixtures: tm_setup or tm_setup_space, then catch_bugs. */
static int bug_setup(void **state)
{
    tm_setup(state);
    catch_bugs(*state);
    return 0;
}

static int bug_setup_space(void **state)
{
    tm_setup_space(state);
    catch_bugs(*state);
    return 0;
}

/* Run body; true if it hit BUG_ON (and the hook's text contains want). */
#define EXPECT_BUG(want, body)                                        \
    do {                                                              \
        if (setjmp(bug_jmp) == 0) {                                   \
            body;                                                     \
            fail_msg("no BUG for: %s", want);                         \
        }                                                             \
        assert_int_equal(bug_calls, 1);                               \
        assert_non_null(strstr(bug_text, want));                      \
    } while (0)

/* A general count that would go below zero would borrow from the owner bits: BUG, not a silent new owner. */
static void put_page_underflow(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    struct page_info *pg = &t->m.frames[a];
    pg->count_info &= ~PGC_count_mask;   /* corrupt: owned by d1, count 0 */
    EXPECT_BUG("general count underflow", put_page(&t->m, pg));
    assert_non_null(strstr(bug_text, "core/page.c"));
}

/* A type reference dropped from a frame whose type count is 0. */
static void put_page_type_underflow(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    EXPECT_BUG("type count underflow", put_page_type(&t->m, &t->m.frames[a], NULL));
}

/* A writable L1 entry must hold a writable type reference: dropping it from a frame of another type is a BUG. */
static void writable_entry_on_table(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(a, _PAGE_PRESENT | _PAGE_RW)));
    t->m.frames[a].type_info = (t->m.frames[a].type_info & ~PGT_type_mask) | PGT_l1_page_table;   /* corrupt */
    EXPECT_BUG("names a frame of type", tm_set(t->v, t->l1, 0, 0));
}

/* A linear entry that was never counted cannot be uncounted. */
static void linear_never_counted(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    struct page_info *pa = &t->m.frames[a], *pb = &t->m.frames[b];
    pa->type_info = PGT_l2_page_table | PGT_validated | 1;
    pb->type_info = PGT_l2_page_table | PGT_validated | 1;
    EXPECT_BUG("was never counted", put_page_type(&t->m, pb, pa));
}

/* A type reference held by an entry two levels up is impossible: BUG. */
static void type_held_by_wrong_level(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), b = tm_frame(t, 1);
    t->m.frames[a].type_info = PGT_l4_page_table | PGT_validated | 1;
    t->m.frames[b].type_info = PGT_l1_page_table | PGT_validated | 1;
    EXPECT_BUG("held by an entry of mfn", put_page_type(&t->m, &t->m.frames[b], &t->m.frames[a]));
}

/* Without a hook the core does not go on: it traps. */
static void no_hook_traps(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGILL, SIG_DFL);   /* cmocka catches it to fail a test: here it must end the process */
        signal(SIGTRAP, SIG_DFL);
        struct tm *t = tm_new(64);
        t->m.ops.bug = NULL;
        uint64_t a = tm_frame(t, 1);
        t->m.frames[a].count_info &= ~PGC_count_mask;
        put_page(&t->m, &t->m.frames[a]);
        _exit(0);   /* reached only if the core went on */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));   /* trapped */
}

/* The simulator's hook: one line on stderr naming the invariant, exit status 3, nothing else. */
static void simulator_hook_exits_3(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        struct hostmem h;
        struct pvm_machine m;
        if (hostmem_init(&h, &m, 64) || pvm_domain_create(&m, 1, 1, 0) || pvm_assign_page(&m, 0x10, 1, 0))
            _exit(9);
        m.frames[0x10].count_info &= ~PGC_count_mask;
        put_page(&m, &m.frames[0x10]);
        _exit(0);
    }
    close(fd[1]);
    char out[512] = { 0 };
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(out) - 1 && (k = read(fd[0], out + n, sizeof(out) - 1 - n)) > 0)
        n += (size_t)k;
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    assert_non_null(strstr(out, "pvmmu: internal error: core BUG at "));
    assert_non_null(strstr(out, "general count underflow on mfn 00010"));
    assert_non_null(strchr(out, '\n'));
    assert_int_equal(strchr(out, '\n')[1], 0);   /* one line */
}

/* A mapping whose general reference would overflow the count (into the owner bits) is refused as Xen does (-EBUSY), not taken. */
static void l1_mapping_count_overflow_refused(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    struct page_info *pg = &t->m.frames[a];
    uint64_t full = (pg->count_info & ~PGC_count_mask) | (PGC_count_mask - 2);
    pg->count_info = full;
    assert_int_equal(tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)), -XEN_EBUSY);
    assert_int_equal(pg->count_info, full);
    assert_int_equal(pvm_peek(&t->m, t->l1, 5), 0);
    assert_int_equal(bug_calls, 0);
    pg->count_info = (full & ~PGC_count_mask) | 1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_page_underflow, bug_setup, tm_teardown),
        cmocka_unit_test_setup_teardown(put_page_type_underflow, bug_setup, tm_teardown),
        cmocka_unit_test_setup_teardown(writable_entry_on_table, bug_setup_space, tm_teardown),
        cmocka_unit_test_setup_teardown(linear_never_counted, bug_setup, tm_teardown),
        cmocka_unit_test_setup_teardown(type_held_by_wrong_level, bug_setup, tm_teardown),
        cmocka_unit_test_setup_teardown(l1_mapping_count_overflow_refused, bug_setup_space, tm_teardown),
        cmocka_unit_test(no_hook_traps),
        cmocka_unit_test(simulator_hook_exits_3),
    };
    return cmocka_run_group_tests_name("bug", tests, NULL, NULL);
}
