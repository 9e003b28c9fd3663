/*
 * clash.c - a program that embeds libpvmmu and has functions of its own
 * named like the core's internal ones (with other signatures).  Linked
 * against libpvmmu.so and libpvmmu.a by tests/embed.sh: both links must
 * succeed, the library must never call these, and the program's own calls
 * must reach them.  Exit 0 if all held; prints what went wrong otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <pvmmu/pvmmu.h>

/* The core's internal names (core/internal.h, lib/fmt.h), as this program's own functions. */
int get_page(int x);
int put_page(int x);
int refuse(int x);
int write_entry(int x);
int frame_map(int x);
int switch_root(int x);
int guest_walk(int x);
int fmt_snprintf(int x);
int fmt_vsnprintf(int x);
int pvm_bug(int x);

static int calls;
int get_page(int x) { calls++; return x + 1; }
int put_page(int x) { calls++; return x + 2; }
int refuse(int x) { calls++; return x + 3; }
int write_entry(int x) { calls++; return x + 4; }
int frame_map(int x) { calls++; return x + 5; }
int switch_root(int x) { calls++; return x + 6; }
int guest_walk(int x) { calls++; return x + 7; }
int fmt_snprintf(int x) { calls++; return x + 8; }
int fmt_vsnprintf(int x) { calls++; return x + 9; }
int pvm_bug(int x) { calls++; return x + 10; }

#define NR 16
static struct pvm_page_info frames[NR];
static uint64_t memory[NR][512];
static int log_lines;

static uint64_t *map(void *ctx, uint64_t mfn, int write)
{
    (void)ctx;
    (void)write;
    return mfn < NR ? memory[mfn] : NULL;
}

static void log_line(void *ctx, const struct pvm_log_msg *msg)
{
    (void)ctx;
    if (msg->text && msg->text[0])
        log_lines++;
}

static int fails;
static void expect(const char *what, long got, long want)
{
    if (got != want) {
        printf("clash: %s: got %ld, want %ld\n", what, got, want);
        fails++;
    }
}

int main(void)
{
    static struct pvm_machine m;
    struct pvm_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.map = map;
    ops.log = log_line;
    pvm_init(&m, frames, NR, &ops);
    expect("domain_create", pvm_domain_create(&m, 1, 1, 0), 0);
    struct pvm_vcpu *v = pvm_vcpu(&m, 1, 0);
    for (uint64_t mfn = 1; mfn <= 3; mfn++)
        expect("assign_page", pvm_assign_page(&m, mfn, 1, mfn), 0);
    pvm_poke(&m, 2, 0, (3ULL << XEN_PAGE_SHIFT) | PVM_PAGE_PRESENT | PVM_PAGE_RW);   /* L1[0] -> data, RW */
    pvm_poke(&m, 1, 0, (2ULL << XEN_PAGE_SHIFT) | PVM_PAGE_PRESENT | PVM_PAGE_RW);   /* L2[0] -> L1 */

    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_PIN_L2_TABLE;
    op.arg1.mfn = 1;
    expect("pin L2", pvm_mmuext_op(v, &op, 1, NULL, DOMID_SELF), 0);

    /* Refused: the L1 mapped writable by itself (refuse(), a log line through fmt_vsnprintf). */
    struct mmu_update u = { (2ULL << XEN_PAGE_SHIFT) | 8, (2ULL << XEN_PAGE_SHIFT) | PVM_PAGE_PRESENT | PVM_PAGE_RW };
    expect("map the L1 RW", pvm_mmu_update(v, &u, 1, NULL, DOMID_SELF), -XEN_EBUSY);
    expect("refusal cause", m.last.why, PVM_WHY_BAD_TYPE);
    expect("log lines > 0", log_lines > 0, 1);

    /* Unpin: put_page_type and put_page on the whole tree. */
    op.cmd = MMUEXT_UNPIN_TABLE;
    expect("unpin", pvm_mmuext_op(v, &op, 1, NULL, DOMID_SELF), 0);
    struct pvm_frame_state st;
    pvm_frame_query(&m, 2, &st);
    expect("L1 type count after unpin", (long)st.type_count, 0);
    expect("L1 general count after unpin", (long)st.count, 1);
    expect("release", pvm_release_page(&m, 1, 3), 0);
    pvm_frame_query(&m, 3, &st);
    expect("released frame is free", st.owner, DOMID_INVALID);

    expect("library called the program's functions", calls, 0);
    int sum = get_page(0) + put_page(0) + refuse(0) + write_entry(0) + frame_map(0) + switch_root(0) +
              guest_walk(0) + fmt_snprintf(0) + fmt_vsnprintf(0) + pvm_bug(0);
    expect("the program's own functions", sum, 55);
    expect("the program's own calls", calls, 10);
    if (fails == 0)
        printf("clash: the library and the program's own put_page, refuse ... live side by side\n");
    return fails != 0;
}
