/*
 * sim.c - the domain builder and the guest platform on the simulated
 * machine (see sim.h).  The builder follows Xen's PV domain builder: the
 * initial region at virt_base holds the kernel, the p2m list, start_info,
 * the bootstrap page tables (mapped read-only) and a stack, padded to 4 MiB
 * with at least 512 KiB spare; the L4 is pinned and becomes the root.
 */
#include "sim.h"
#include "pvbuild.h"
#include "xen_names.h"

#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t n, const char *msg)
{
    snprintf(err, n, "%s", msg);
    return -1;
}


/* The storage of the domain's frame pfn (pfn < nr_pages: never NULL; no host memory ends the run). */
static uint64_t *frame(struct sim *s, uint64_t pfn)
{
    return hostmem_page(&s->h, sim_mfn(pfn));
}

/* The M2P the builder sets up: the inverse of sim_mfn for the domain's frames. */
static uint64_t m2p_formula(void *ctx, uint64_t mfn)
{
    const struct sim *s = ctx;
    return mfn >= SIM_MFN_BASE && mfn - SIM_MFN_BASE < s->nr_pages ? (mfn - SIM_MFN_BASE) ^ 1 : PVM_INVALID_M2P;
}

/* The p2m list's frames hold sim_mfn(i) for i = 0, 1, ...: generated, not stored, until written. */
static bool p2m_frame(void *ctx, uint64_t mfn, uint64_t *page)
{
    const struct sim *s = ctx;
    uint64_t pfn = m2p_formula(ctx, mfn);
    if (pfn < s->lay.p2m_pfn || pfn >= s->lay.p2m_pfn + s->lay.p2m_pages)
        return false;
    if (page) {
        uint64_t first = (pfn - s->lay.p2m_pfn) * 512;
        for (unsigned int j = 0; j < 512; j++)
            page[j] = first + j < s->nr_pages ? sim_mfn(first + j) : 0;
    }
    return true;
}

/*
 * The host CPU keeps the last page it touched: while no hypercall runs,
 * nothing can change that page's mapping (a page mapped writable is never a
 * page table), so repeated accesses skip the walk.  Only real pages are
 * kept, writes only once the core has done a writing access (A and D set).
 */
static void cpu_forget(struct sim *s)
{
    for (unsigned int i = 0; i < 16; i++)
        s->cpu[i].page = NULL;
}

/* Which of the 8 entries caches va's page. */
static unsigned int cpu_slot(uint64_t va)
{
    return (unsigned int)((va >> 12) & 7);
}

/* The cached host page for va, or NULL.  A copy of a generated frame is stale once any became real. */
static uint64_t *cpu_lookup(struct sim *s, uint64_t va, bool write)
{
    unsigned int set = cpu_slot(va);
    for (unsigned int w = 0; w < 2; w++) {
        unsigned int i = set + 8 * w;
        if (!s->cpu[i].page || s->cpu[i].vpn != va >> 12 || (write && !s->cpu[i].write))
            continue;
        if (s->cpu[i].copy && s->copy_gen[i] != s->h.gen_real)
            return NULL;
        s->cpu_lru[set] = (uint8_t)(1 - w);
        return s->cpu[i].page;
    }
    return NULL;
}

static void cpu_remember(struct sim *s, uint64_t va, bool write)
{
    uint64_t maddr, mfn;
    struct pvm_fault f;
    unsigned int set = cpu_slot(va), i = set + 8u * s->cpu_lru[set];
    for (unsigned int w = 0; w < 2; w++)
        if (s->cpu[set + 8 * w].page && s->cpu[set + 8 * w].vpn == va >> 12)
            i = set + 8 * w;   /* refresh the entry that already holds this page */
    s->cpu[i].page = NULL;
    if (pvm_translate(s->v, va, write, &maddr, &f) != PVM_ACCESS_OK || (mfn = maddr >> 12) >= s->h.nr_frames)
        return;
    uint64_t *page = hostmem_peek(&s->h, mfn);
    bool copy = false;
    if (!page && !write && s->h.gen && s->h.gen(s->h.gen_ctx, mfn, NULL)) {
        page = s->cpu_copy[i];   /* a generated frame: read a private copy, never stored through */
        if (s->copy_mfn[i] != mfn || s->copy_gen[i] != s->h.gen_real) {
            s->h.gen(s->h.gen_ctx, mfn, page);
            s->copy_mfn[i] = mfn;
            s->copy_gen[i] = s->h.gen_real;
        }
        copy = true;
    }
    if (!page)
        return;
    s->cpu[i].vpn = va >> 12;
    s->cpu[i].page = page;
    s->cpu[i].write = write;
    s->cpu[i].copy = copy;
    s->cpu_lru[set] = (uint8_t)(i < 8 ? 1 : 0);
}

static long plat_hypercall(void *ctx, unsigned long op, const xen_ulong_t args[6])
{
    struct sim *s = ctx;
    cpu_forget(s);
    return pvm_hypercall(s->v, op, args);
}

/*
 * The guest faulted: record it as Xen delivers it, the error code's user bit
 * from the vCPU's mode (a PV kernel runs in ring 3, but Xen's pv_inject_event
 * tells the kernel its own faults are the kernel's).
 */
static void guest_fault(struct sim *s)
{
    s->faulted = true;
    s->fault.error_code = (s->fault.error_code & ~(uint32_t)PFEC_user_mode) |
                          (s->v->kernel_mode ? 0 : (uint32_t)PFEC_user_mode);
}

static int plat_load(void *ctx, uint64_t va, uint64_t *val)
{
    struct sim *s = ctx;
    uint64_t *page = cpu_lookup(s, va, false);
    if (page) {
        *val = page[(va & 0xFFF) >> 3];
        return 0;
    }
    if (pvm_guest_load(s->v, va, val, &s->fault) == PVM_ACCESS_FAULT) {
        cpu_forget(s);
        guest_fault(s);
        return -1;
    }
    cpu_remember(s, va, false);
    return 0;
}

static int plat_store(void *ctx, uint64_t va, uint64_t val)
{
    struct sim *s = ctx;
    uint64_t *page = cpu_lookup(s, va, true);
    if (page) {
        page[(va & 0xFFF) >> 3] = val;
        return 0;
    }
    enum pvm_access a = pvm_guest_store(s->v, va, val, 8, &s->fault);
    if (a == PVM_ACCESS_FAULT) {
        cpu_forget(s);
        guest_fault(s);
        return -1;
    }
    if (a == PVM_ACCESS_OK)
        cpu_remember(s, va, true);
    else
        cpu_forget(s);   /* emulated (ptwr): the page is a page table, never cached */
    return 0;
}

static int plat_clear_page(void *ctx, uint64_t va)
{
    struct sim *s = ctx;
    uint64_t maddr;
    cpu_forget(s);
    if (pvm_translate(s->v, va & ~0xFFFULL, true, &maddr, &s->fault) != PVM_ACCESS_OK) {
        guest_fault(s);
        s->m.stats.page_faults++;
        return -1;
    }
    uint64_t *t = s->m.ops.map(s->m.ops.ctx, maddr >> 12, 0);   /* a frame with no data stays without */
    if (t)
        memset(t, 0, XEN_PAGE_SIZE);
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

/*
 * Xen's layout (lib/pvlayout.h): kernel, [p2m], start_info, bootstrap tables, stack, padding
 * to 4 MiB with 512 KiB spare; the number of table frames found by search.
 * With a separate p2m, its pages and then its tables follow v_end.
 */
static void layout(struct sim *s, bool p2m_separate)
{
    s->lay = (struct pv_layout){ .kernel_pages = GUEST_KERNEL_PAGES, .nr_pages = s->nr_pages,
                                 .p2m_separate = p2m_separate };
    pv_layout(&s->lay);
}

static uint64_t *build_page(void *ctx, uint64_t pfn) { return frame(ctx, pfn); }
static uint64_t build_mfn(void *ctx, uint64_t pfn) { (void)ctx; return sim_mfn(pfn); }

static int build(struct sim *s, uint64_t mem_bytes, bool force_separate, char *err, size_t errlen)
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
    s->nr_pages = mem_bytes >> XEN_PAGE_SHIFT;
    layout(s, force_separate);
    if (s->lay.v_end_pfn > 512 * 512)   /* the p2m list no longer fits the 1 GiB initial mapping: */
        layout(s, true);                 /* map it on its own, as Xen does with INIT_P2M */
    hostmem_init(&s->h, &s->m, SIM_MFN_BASE + s->nr_pages);   /* no memory: host_out_of_memory, exit 3 */
    hostmem_guest_is_host(&s->h);   /* the guest kernel is compiled in: its guest handles are its own pointers */
    memset(s->copy_mfn, 0xFF, sizeof(s->copy_mfn));
    s->h.m2p_default = m2p_formula;
    s->h.m2p_ctx = s;
    s->h.gen = p2m_frame;
    s->h.gen_ctx = s;
    if (pvm_domain_create(&s->m, PV_DOMID, 1, 0))
        return fail(err, errlen, "cannot create the domain");
    s->v = pvm_vcpu(&s->m, PV_DOMID, 0);
    /* sim_mfn maps [0, nr_pages) onto [SIM_MFN_BASE, +nr_pages); the M2P is its formula */
    if (pvm_assign_pages(&s->m, SIM_MFN_BASE, s->nr_pages, PV_DOMID))
        return fail(err, errlen, "cannot assign the frames");

    /* the p2m list is generated on demand (p2m_frame); start_info and the bootstrap tables as Xen writes them */
    struct start_info *sip = (struct start_info *)frame(s, s->lay.si_pfn);
    pv_start_info(sip, &s->lay, GUEST_START_KERNEL_MAP, SIM_P2M_BASE, 0, NULL);
    s->si_va = GUEST_START_KERNEL_MAP + (s->lay.si_pfn << 12);
    const struct pv_build_ops bops = { .ctx = s, .page = build_page, .mfn = build_mfn };
    if (pv_bootstrap_tables(&s->lay, GUEST_START_KERNEL_MAP, &bops))
        return fail(err, errlen, "the bootstrap tables do not fit the domain");
    uint64_t l4 = s->lay.pt_pfn, *t4 = frame(s, l4);
    if (s->lay.p2m_separate && pv_map_p2m(&s->lay, t4, SIM_P2M_BASE, &bops))
        return fail(err, errlen, "the p2m list's tables do not fit the domain");
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

int sim_build(struct sim *s, uint64_t mem_bytes, char *err, size_t errlen)
{
    return build(s, mem_bytes, false, err, errlen);
}

int sim_build_p2m_separate(struct sim *s, uint64_t mem_bytes, char *err, size_t errlen)
{
    return build(s, mem_bytes, true, err, errlen);
}

void sim_free(struct sim *s)
{
    hostmem_free(&s->h);
}

void sim_guest_stats(const struct sim *s, struct pvm_stats *out)
{
    pvm_stats_since(out, &s->m.stats, &s->built);
}
