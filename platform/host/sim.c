/*
 * sim.c - the domain builder and the guest platform on the simulated
 * machine (see sim.h).  The builder follows Xen's PV domain builder: the
 * initial region at virt_base holds the kernel, the p2m list, start_info,
 * the bootstrap page tables (mapped read-only) and a stack, padded to 4 MiB
 * with at least 512 KiB spare; the L4 is pinned and becomes the root.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static uint64_t *frame(struct sim *s, uint64_t pfn)
{
    return s->m.ops.map(s->m.ops.ctx, sim_mfn(pfn), 1);
}

static long plat_hypercall(void *ctx, unsigned long op, const xen_ulong_t args[6])
{
    struct sim *s = ctx;
    return pvm_hypercall(s->v, op, args);
}

static int plat_load(void *ctx, uint64_t va, uint64_t *val)
{
    struct sim *s = ctx;
    if (pvm_guest_load(s->v, va, val, &s->fault) == PVM_ACCESS_FAULT) {
        s->faulted = true;
        return -1;
    }
    return 0;
}

static int plat_store(void *ctx, uint64_t va, uint64_t val)
{
    struct sim *s = ctx;
    if (pvm_guest_store(s->v, va, val, 8, &s->fault) == PVM_ACCESS_FAULT) {
        s->faulted = true;
        return -1;
    }
    return 0;
}

static int plat_clear_page(void *ctx, uint64_t va)
{
    struct sim *s = ctx;
    uint64_t maddr;
    if (pvm_translate(s->v, va & ~0xFFFULL, true, &maddr, &s->fault) != PVM_ACCESS_OK) {
        s->faulted = true;
        s->m.stats.page_faults++;
        return -1;
    }
    uint64_t *t = s->m.ops.map(s->m.ops.ctx, maddr >> 12, 0);
    if (t)
        memset(t, 0, PAGE_SIZE);
    return 0;
}

static uint64_t plat_m2p(void *ctx, uint64_t mfn)
{
    struct sim *s = ctx;
    return s->m.ops.m2p_get(s->m.ops.ctx, mfn);
}

static void plat_log(void *ctx, const char *line)
{
    struct sim *s = ctx;
    if (s->klog)
        fprintf(s->klog, "[guest] %s\n", line);
}

static void plat_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct sim *s = ctx;
    if (s->progress)
        s->progress(s->progress_ctx, done, total);
}

/* Xen's search for the number of bootstrap table frames covering [0, v_end). */
static void layout(struct sim *s)
{
    s->p2m_pfn = GUEST_KERNEL_PAGES;
    s->p2m_pages = (s->nr_pages * 8 + PAGE_SIZE - 1) / PAGE_SIZE;
    s->si_pfn = s->p2m_pfn + s->p2m_pages;
    s->pt_pfn = s->si_pfn + 1;
    for (s->nr_pt = 4;; s->nr_pt++) {
        s->stack_pfn = s->pt_pfn + s->nr_pt;
        s->v_end_pfn = ((s->stack_pfn + 1 + 128 + 1023) / 1024) * 1024;
        if (3 + (s->v_end_pfn + 511) / 512 <= s->nr_pt)
            break;
    }
    if (s->v_end_pfn > s->nr_pages)
        s->v_end_pfn = s->nr_pages;
}

static int fail(char *err, size_t n, const char *msg)
{
    snprintf(err, n, "%s", msg);
    return -1;
}

int sim_build(struct sim *s, uint64_t mem_bytes, char *err, size_t errlen)
{
    FILE *klog = s->klog;
    void (*prog)(void *, uint64_t, uint64_t) = s->progress;
    void *pctx = s->progress_ctx;
    memset(s, 0, sizeof(*s));
    s->klog = klog;
    s->progress = prog;
    s->progress_ctx = pctx;
    if (mem_bytes % (2ULL << 20) || mem_bytes < (64ULL << 20))
        return fail(err, errlen, "memory must be a multiple of 2 MiB and at least 64 MiB");
    s->nr_pages = mem_bytes >> PAGE_SHIFT;
    layout(s);
    if (s->v_end_pfn > 512 * 512)
        return fail(err, errlen, "the p2m list does not fit the 1 GiB initial mapping of a 2011-era kernel "
                                 "(at most about 500 GiB)");
    if (hostmem_init(&s->h, &s->m, SIM_MFN_BASE + s->nr_pages))
        return fail(err, errlen, "out of memory for the frame table");
    if (pvm_domain_create(&s->m, SIM_DOMID, 1, 0))
        return fail(err, errlen, "cannot create the domain");
    s->v = pvm_vcpu(&s->m, SIM_DOMID, 0);
    for (uint64_t pfn = 0; pfn < s->nr_pages; pfn++)
        if (pvm_assign_page(&s->m, sim_mfn(pfn), SIM_DOMID, pfn))
            return fail(err, errlen, "cannot assign a frame");

    /* p2m list */
    for (uint64_t i = 0; i < s->p2m_pages; i++) {
        uint64_t *t = frame(s, s->p2m_pfn + i);
        if (!t)
            return fail(err, errlen, "out of memory for the p2m list");
        for (unsigned int j = 0; j < 512 && i * 512 + j < s->nr_pages; j++)
            t[j] = sim_mfn(i * 512 + j);
    }
    /* start_info */
    struct start_info si;
    memset(&si, 0, sizeof(si));
    memcpy(si.magic, "xen-3.0-x86_64", 15);
    si.nr_pages = s->nr_pages;
    si.pt_base = GUEST_START_KERNEL_MAP + (s->pt_pfn << 12);
    si.nr_pt_frames = s->nr_pt;
    si.mfn_list = GUEST_START_KERNEL_MAP + (s->p2m_pfn << 12);
    uint64_t *sip = frame(s, s->si_pfn);
    if (!sip)
        return fail(err, errlen, "out of memory for start_info");
    memcpy(sip, &si, sizeof(si));
    s->si_va = GUEST_START_KERNEL_MAP + (s->si_pfn << 12);

    /* bootstrap tables: L4, L3, L2, then L1s for [0, v_end) */
    const uint64_t tbl = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_USER;
    uint64_t l4 = s->pt_pfn, l3 = l4 + 1, l2 = l4 + 2, l1 = l4 + 3;
    uint64_t *t4 = frame(s, l4), *t3 = frame(s, l3), *t2 = frame(s, l2);
    if (!t4 || !t3 || !t2)
        return fail(err, errlen, "out of memory for page tables");
    t4[511] = (sim_mfn(l3) << 12) | tbl;
    t3[510] = (sim_mfn(l2) << 12) | tbl;
    for (uint64_t pfn = 0; pfn < s->v_end_pfn; pfn++) {
        uint64_t n = pfn / 512, *t1 = frame(s, l1 + n);
        if (!t1)
            return fail(err, errlen, "out of memory for page tables");
        t2[n] = (sim_mfn(l1 + n) << 12) | tbl;
        bool ro = pfn >= s->pt_pfn && pfn < s->pt_pfn + s->nr_pt;
        t1[pfn % 512] = (sim_mfn(pfn) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | (ro ? 0 : _PAGE_RW);
    }
    struct mmuext_op pin = { .cmd = MMUEXT_PIN_L4_TABLE };
    pin.arg1.mfn = sim_mfn(l4);
    if (pvm_mmuext_op(s->v, &pin, 1, NULL, DOMID_SELF) || pvm_set_guest_table(s->v, sim_mfn(l4)))
        return fail(err, errlen, "Xen refused the bootstrap page tables");
    s->built = s->m.stats;
    s->plat = (struct guest_platform){
        .ctx = s, .hypercall = plat_hypercall, .load = plat_load, .store = plat_store,
        .clear_page = plat_clear_page, .m2p = plat_m2p, .log = plat_log, .progress = plat_progress,
    };
    return 0;
}

void sim_free(struct sim *s)
{
    hostmem_free(&s->h);
}

void sim_guest_stats(const struct sim *s, struct pvm_stats *out)
{
    const uint64_t *now = (const uint64_t *)&s->m.stats, *base = (const uint64_t *)&s->built;
    uint64_t *o = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        o[i] = now[i] - base[i];
}
