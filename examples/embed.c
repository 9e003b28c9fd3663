/*
 * embed.c - the smallest program against the installed library:
 *
 *   cc embed.c $(pkg-config --cflags --libs pvmmu) -o embed && ./embed
 *
 * It brings its own memory (a frame table and 16 frames of contents), builds
 * a two-level chain L2 -> L1 that maps one data frame writable, pins the L2,
 * and shows what Xen would say when the guest then maps the L1 writable.
 */
#include <stdio.h>
#include <string.h>

#include <pvmmu/pvmmu.h>

#define NR 16
static struct pvm_page_info frames[NR];
static uint64_t memory[NR][512];

static uint64_t *map(void *ctx, uint64_t mfn, int write)
{
    (void)ctx;
    (void)write;
    return mfn < NR ? memory[mfn] : NULL;
}

static void log_line(void *ctx, const struct pvm_log_msg *msg)
{
    (void)ctx;
    printf("(XEN) d%uv%u %s\n", msg->domid, msg->vcpu, msg->text);
}

int main(void)
{
    static struct pvm_machine m;
    struct pvm_ops ops = { .ctx = NULL, .map = map, .log = log_line };
    pvm_init(&m, frames, NR, &ops);
    pvm_domain_create(&m, 1, 1, 0);
    struct pvm_vcpu *v = pvm_vcpu(&m, 1, 0);
    for (uint64_t mfn = 1; mfn <= 3; mfn++)
        pvm_assign_page(&m, mfn, 1, mfn);

    pvm_poke(&m, 2, 0, (3ULL << 12) | PVM_PAGE_PRESENT | PVM_PAGE_RW); /* L1[0] -> data, RW */
    pvm_poke(&m, 1, 0, (2ULL << 12) | PVM_PAGE_PRESENT | PVM_PAGE_RW); /* L2[0] -> L1 */

    struct mmuext_op pin;
    memset(&pin, 0, sizeof(pin));
    pin.cmd = MMUEXT_PIN_L2_TABLE;
    pin.arg1.mfn = 1;
    int rc = pvm_mmuext_op(v, &pin, 1, NULL, DOMID_SELF);
    printf("pin L2: %d\n", rc);

    struct mmu_update u = { (2ULL << 12) | 8, (2ULL << 12) | PVM_PAGE_PRESENT | PVM_PAGE_RW };
    rc = pvm_mmu_update(v, &u, 1, NULL, DOMID_SELF);
    printf("map the L1 itself RW: %d (%s)\n", rc, pvm_why_name(m.last.why));

    struct pvm_frame_state st;
    pvm_frame_query(&m, 2, &st);
    printf("mfn 2: type %s, type count %llu, general count %llu\n", pvm_type_name(st.type),
           (unsigned long long)st.type_count, (unsigned long long)st.count);
    return rc == -XEN_EBUSY ? 0 : 1;
}
