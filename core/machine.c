/*
 * machine.c - setting up a machine and its domains, handing frames to
 * domains, Xen's own writable mappings of a domain's frames, builder-side
 * access to frame contents, and frame queries.
 */
#include "internal.h"

/*
 * Zero n bytes at p, through a volatile pointer so that no compiler turns the
 * loop back into a call to memset: the library calls nothing it does not
 * define (tests/embed.sh checks libpvmmu.a with nm).
 */
static void zero_bytes(void *p, size_t n)
{
    volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = 0;
}

void pvm_init(struct pvm_machine *m, struct page_info *frames, uint64_t nr_frames, const struct pvm_ops *ops)
{
    zero_bytes(m, sizeof(*m));
    m->frames = frames;
    m->nr_frames = nr_frames;
    m->ops = *ops;
    m->opt_pv_linear_pt = true;
    m->tlbflush_clock = 1;
    m->paddr_bits = 40;
    for (unsigned int i = 0; i < PVM_MAX_DOMAINS; i++) {
        struct pvm_domain *d = &m->doms[i];
        for (unsigned int j = 0; j < PVM_MAX_VCPUS; j++) {
            struct pvm_vcpu *v = &d->vcpu[j];
            v->m = m;
            v->d = d;
            v->id = j;
            v->guest_table = PVM_INVALID_MFN;
            v->guest_table_user = PVM_INVALID_MFN;
        }
    }
}

struct pvm_domain *pvm_domain(struct pvm_machine *m, domid_t id)
{
    struct pvm_domain *d = &m->doms[id % PVM_MAX_DOMAINS];   /* where pvm_domain_create prefers to put it */
    if (d->exists && d->id == id)
        return d;
    for (unsigned int i = 0; i < PVM_MAX_DOMAINS; i++)
        if (m->doms[i].exists && m->doms[i].id == id)
            return &m->doms[i];
    return NULL;
}

struct pvm_vcpu *pvm_vcpu(struct pvm_machine *m, domid_t id, unsigned int vcpu_id)
{
    struct pvm_domain *d = pvm_domain(m, id);
    return d && vcpu_id < d->nr_vcpus ? &d->vcpu[vcpu_id] : NULL;
}

/*
 * The frames below 2^paddr_bits, Xen's I/O range for dom0, as d's one range;
 * none if paddr_bits cannot hold a frame number, clamped to PADDR_BITS.
 */
static void host_iomem_range(const struct pvm_machine *m, struct pvm_domain *d)
{
    unsigned int bits = m->paddr_bits < PADDR_BITS ? m->paddr_bits : PADDR_BITS;
    if (bits <= PAGE_SHIFT)
        return;
    d->iomem[0].first = 0;
    d->iomem[0].last = (1ULL << (bits - PAGE_SHIFT)) - 1;
    d->nr_iomem = 1;
}

int pvm_domain_create(struct pvm_machine *m, domid_t id, unsigned int nr_vcpus, unsigned int flags)
{
    if (id >= DOMID_FIRST_RESERVED || nr_vcpus == 0 || nr_vcpus > PVM_MAX_VCPUS)
        return -XEN_EINVAL;
    if (pvm_domain(m, id))
        return -XEN_EBUSY;
    for (unsigned int n = 0; n < PVM_MAX_DOMAINS; n++) {
        struct pvm_domain *d = &m->doms[(id + n) % PVM_MAX_DOMAINS];
        if (d->exists)
            continue;
        d->exists = true;
        d->id = id;
        d->flags = flags;
        d->nr_vcpus = nr_vcpus;
        d->vm_assist = 0;
        d->nr_iomem = 0;
        if (flags & PVM_DOM_PRIVILEGED)   /* dom0_setup_permissions: every frame the host can address */
            host_iomem_range(m, d);
        d->tot_pages = d->nr_l4_pages = 0;
        d->nr_xen_maps = 0;
        for (unsigned int j = 0; j < nr_vcpus; j++) {
            d->vcpu[j].online = true;
            d->vcpu[j].kernel_mode = true;
        }
        return 0;
    }
    return -XEN_EBUSY;
}

int pvm_domain_iomem_permit(struct pvm_machine *m, domid_t id, uint64_t first, uint64_t last)
{
    struct pvm_domain *d = pvm_domain(m, id);
    if (!d)
        return -XEN_ESRCH;
    d->nr_iomem = 0;
    if (first <= last) {
        d->iomem[0].first = first;
        d->iomem[0].last = last;
        d->nr_iomem = 1;
    }
    return 0;
}

/*
 * Do ranges a and b (inclusive, each first <= last) overlap or touch, so
 * that their union is one range?  Written so that no bound near 0 or
 * UINT64_MAX wraps.
 */
static bool iomem_touch(uint64_t a_first, uint64_t a_last, uint64_t b_first, uint64_t b_last)
{
    bool a_before = a_last < b_first && b_first - a_last > 1;
    bool b_before = b_last < a_first && a_first - b_last > 1;
    return !a_before && !b_before;
}

/*
 * Domain d's ranges become the n ranges of r (ascending, disjoint, none
 * adjacent, n <= PVM_MAX_IOMEM_RANGES), copied field by field so that no
 * compiler turns the loop into a call to memcpy.
 */
static void iomem_store(struct pvm_domain *d, const struct pvm_iomem_range *r, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++) {
        d->iomem[i].first = r[i].first;
        d->iomem[i].last = r[i].last;
    }
    d->nr_iomem = n;
}

/*
 * The domain whose I/O ranges first..last is to change, and how many ranges
 * it has (at most PVM_MAX_IOMEM_RANGES are read); NULL with *rc -ESRCH (no
 * such domain) or -EINVAL (first > last).
 */
static struct pvm_domain *iomem_target(struct pvm_machine *m, domid_t id, uint64_t first, uint64_t last,
                                       unsigned int *nr, int *rc)
{
    struct pvm_domain *d = pvm_domain(m, id);
    *rc = !d ? -XEN_ESRCH : first > last ? -XEN_EINVAL : 0;
    if (*rc)
        return NULL;
    *nr = d->nr_iomem < PVM_MAX_IOMEM_RANGES ? d->nr_iomem : PVM_MAX_IOMEM_RANGES;
    return d;
}

/*
 * Xen's rangeset_add_range on iomem_caps: the ranges that overlap or touch
 * first..last (consecutive, as the ranges are sorted) become one with it;
 * the result is built aside and stored only if it fits.
 */
int pvm_domain_iomem_add(struct pvm_machine *m, domid_t id, uint64_t first, uint64_t last)
{
    unsigned int n = 0, i = 0, nr;
    int rc;
    struct pvm_domain *d = iomem_target(m, id, first, last, &nr, &rc);
    if (!d)
        return rc;
    struct pvm_iomem_range out[PVM_MAX_IOMEM_RANGES + 1];
    for (; i < nr && d->iomem[i].last < first && !iomem_touch(d->iomem[i].first, d->iomem[i].last, first, last); i++)
        out[n++] = d->iomem[i];
    for (; i < nr && iomem_touch(d->iomem[i].first, d->iomem[i].last, first, last); i++) {
        first = d->iomem[i].first < first ? d->iomem[i].first : first;
        last = d->iomem[i].last > last ? d->iomem[i].last : last;
    }
    out[n].first = first;
    out[n++].last = last;
    for (; i < nr; i++)
        out[n++] = d->iomem[i];
    if (n > PVM_MAX_IOMEM_RANGES)
        return -XEN_ENOSPC;
    iomem_store(d, out, n);
    return 0;
}

/*
 * Xen's rangeset_remove_range on iomem_caps: each range keeps what lies
 * below first and above last, a range around first..last both (the one
 * split); built aside and stored only if it fits.
 */
int pvm_domain_iomem_deny(struct pvm_machine *m, domid_t id, uint64_t first, uint64_t last)
{
    unsigned int n = 0, nr;
    int rc;
    struct pvm_domain *d = iomem_target(m, id, first, last, &nr, &rc);
    if (!d)
        return rc;
    struct pvm_iomem_range out[PVM_MAX_IOMEM_RANGES + 1];
    for (unsigned int i = 0; i < nr; i++) {
        struct pvm_iomem_range r = d->iomem[i];
        if (r.last < first || r.first > last) {
            out[n++] = r;
            continue;
        }
        if (r.first < first) {
            out[n].first = r.first;
            out[n++].last = first - 1;
        }
        if (r.last > last) {
            out[n].first = last + 1;
            out[n++].last = r.last;
        }
    }
    if (n > PVM_MAX_IOMEM_RANGES)
        return -XEN_ENOSPC;
    iomem_store(d, out, n);
    return 0;
}

int pvm_mmio_ro_add(struct pvm_machine *m, uint64_t first, uint64_t last)
{
    if (first > last)
        return -XEN_EINVAL;
    if (m->nr_mmio_ro == PVM_MAX_MMIO_RO)
        return -XEN_EBUSY;
    m->mmio_ro[m->nr_mmio_ro].first = first;
    m->mmio_ro[m->nr_mmio_ro++].last = last;
    return 0;
}

int pvm_assign_pages(struct pvm_machine *m, uint64_t mfn, uint64_t count, domid_t id)
{
    struct pvm_domain *d = pvm_domain(m, id);
    if (!d)
        return -XEN_ESRCH;
    if (mfn >= m->nr_frames || count > m->nr_frames - mfn)
        return -XEN_EINVAL;
    uint32_t newest = 0;   /* the latest free time of a frame that had an owner */
    for (uint64_t i = mfn; i < mfn + count; i++) {
        const struct page_info *pg = &m->frames[i];
        if (owner_raw(pg) != PVM_OWNER_NONE || gen_count(pg))
            return -XEN_EBUSY;
        uint32_t t = tlb_stamp(pg);
        if (t <= m->tlbflush_clock && t > newest)
            newest = t;
    }
    flush_for_alloc(m, newest);
    BUG_ON(m, ((uint64_t)(id + 1u) << PGC_owner_shift) & ~PGC_owner_mask, "assign_pages: d%u does not fit the owner field", id);
    for (uint64_t i = mfn; i < mfn + count; i++) {
        struct page_info *pg = &m->frames[i];
        pg->count_info = PGC_allocated | 1 | ((uint64_t)(id + 1u) << PGC_owner_shift);
        pg->type_info &= PGT_aux_mask;   /* type none, count 0; keep the TLB stamp */
    }
    d->tot_pages += count;
    return 0;
}

int pvm_assign_page(struct pvm_machine *m, uint64_t mfn, domid_t id, uint64_t gpfn)
{
    int rc = pvm_assign_pages(m, mfn, 1, id);
    if (!rc)
        set_m2p(m, mfn, gpfn);
    return rc;
}

int pvm_release_page(struct pvm_machine *m, domid_t id, uint64_t mfn)
{
    if (!mfn_valid(m, mfn) || !page_owned_by(&m->frames[mfn], id))
        return -XEN_EINVAL;
    struct page_info *pg = mfn_to_page(m, mfn);
    /* Already given back but still referenced: Xen counts the extent as done and drops nothing (XSA-287). */
    if (!(pg->count_info & PGC_allocated))
        return 0;
    pg->count_info &= ~PGC_allocated;
    put_page(m, pg);
    return 0;
}

/* Serve a request of Xen's own on domain d's behalf: its first vCPU is current (log lines, m.last). */
static void enter_domain(struct pvm_machine *m, struct pvm_domain *d)
{
    m->current = &d->vcpu[0];
    refuse_reset(m);
}

/*
 * Xen's map_vcpu_info, map_guest_page (FIFO event channels) and
 * PHYSDEVOP_pirq_eoi_gmfn: get_page_from_gfn, which for a PV domain is a
 * general reference on its own frame, then the writable type, and the
 * mapping kept until Xen is done with the frame.
 */
int pvm_xen_map_frame(struct pvm_machine *m, domid_t id, uint64_t mfn)
{
    struct pvm_domain *d = pvm_domain(m, id);
    if (!d)
        return -XEN_ESRCH;
    enter_domain(m, d);
    if (d->nr_xen_maps == PVM_MAX_XEN_MAPS)
        return -XEN_ENOSPC;
    if (!mfn_valid(m, mfn)) {
        refuse(m, -XEN_EINVAL, PVM_WHY_NO_PAGE, mfn);
        return -XEN_EINVAL;
    }
    struct page_info *pg = mfn_to_page(m, mfn);
    if (!get_page(m, pg, d))
        return -XEN_EINVAL;
    if (get_page_type(m, pg, PGT_writable_page)) {
        put_page(m, pg);   /* the frame is d's and was referenced before: never its last reference */
        return -XEN_EINVAL;
    }
    d->xen_maps[d->nr_xen_maps++] = mfn;
    return 0;
}

/* Xen's put_page_and_type when it unmaps such a frame; the latest hold of mfn goes. */
int pvm_xen_unmap_frame(struct pvm_machine *m, domid_t id, uint64_t mfn)
{
    struct pvm_domain *d = pvm_domain(m, id);
    if (!d)
        return -XEN_ESRCH;
    enter_domain(m, d);
    unsigned int i = d->nr_xen_maps;
    while (i > 0 && d->xen_maps[i - 1] != mfn)
        i--;
    if (i == 0) {
        refuse(m, -XEN_EINVAL, PVM_WHY_BAD_ARG, mfn);
        return -XEN_EINVAL;
    }
    for (; i < d->nr_xen_maps; i++)
        d->xen_maps[i - 1] = d->xen_maps[i];
    d->nr_xen_maps--;
    put_page_and_type(m, mfn_to_page(m, mfn));
    return 0;
}

/*
 * How many seg_desc references the GDTs of the owner's vCPUs hold on frame
 * mfn (only the owner's vCPUs can hold it); *vcpus gets a bit per vCPU.
 */
static unsigned int gdt_refs_of(const struct pvm_machine *m, uint64_t mfn, unsigned int *vcpus)
{
    domid_t id = page_owner_id(mfn_to_page(m, mfn));
    const struct pvm_domain *d = id < DOMID_FIRST_RESERVED ? domain_of((struct pvm_machine *)m, id) : NULL;
    unsigned int n = 0;
    *vcpus = 0;
    for (unsigned int j = 0; d && j < d->nr_vcpus && j < PVM_MAX_VCPUS; j++)
        for (unsigned int i = 0; i < gdt_nr_frames(&d->vcpu[j]); i++)
            if (d->vcpu[j].gdt_frames[i] == mfn) {
                n++;
                *vcpus |= 1u << j;
            }
    return n;
}

/* How many holds of Xen's own writable mappings frame mfn has (only its owner can hold it). */
static unsigned int xen_maps_of(const struct pvm_machine *m, uint64_t mfn)
{
    domid_t id = page_owner_id(mfn_to_page(m, mfn));
    const struct pvm_domain *d = id < DOMID_FIRST_RESERVED ? domain_of((struct pvm_machine *)m, id) : NULL;
    unsigned int n = 0;
    for (unsigned int i = 0; d && i < d->nr_xen_maps && i < PVM_MAX_XEN_MAPS; i++)
        n += d->xen_maps[i] == mfn;
    return n;
}

int pvm_mark_io(struct pvm_machine *m, uint64_t mfn)
{
    if (!mfn_valid(m, mfn))
        return -XEN_EINVAL;
    struct page_info *pg = mfn_to_page(m, mfn);
    if (owner_raw(pg) != PVM_OWNER_NONE)
        return -XEN_EBUSY;
    pg->count_info = 1;
    set_owner_raw(pg, PVM_OWNER_IO);
    pg->type_info = PGT_writable_page | PGT_validated | 1;
    return 0;
}

int pvm_poke(struct pvm_machine *m, uint64_t mfn, unsigned int slot, uint64_t val)
{
    if (!mfn_valid(m, mfn) || slot >= L1_PAGETABLE_ENTRIES)
        return -XEN_EINVAL;
    struct page_info *pg = mfn_to_page(m, mfn);
    bool desc = page_type(pg) == PGT_seg_desc_page;
    if ((is_pt_type(page_type(pg)) || desc) && type_count(pg))
        return -XEN_EBUSY;
    int rc = write_entry(m, mfn, slot, val);
    if (!rc && desc)
        pg->type_info &= ~PGT_validated;   /* Xen keeps a descriptor page validated at count 0: no longer */
    return rc;
}

uint64_t pvm_peek(const struct pvm_machine *m, uint64_t mfn, unsigned int slot)
{
    if (!mfn_valid(m, mfn) || slot >= L1_PAGETABLE_ENTRIES)
        return 0;
    const uint64_t *t = m->ops.map(m->ops.ctx, mfn, 0);
    return t ? t[slot] : 0;
}

int pvm_build_superpage(struct pvm_machine *m, domid_t id, uint64_t table, unsigned int slot, uint64_t entry)
{
    struct pvm_domain *d = pvm_domain(m, id);
    const struct page_info *pg = mfn_valid(m, table) ? mfn_to_page(m, table) : NULL;
    unsigned int level = pg ? type_level(page_type(pg)) : 0;
    uint64_t n = level == 2 || level == 3 ? superpage_frames(level) : 0;
    if (!d || !pg || !n || !page_owned_by(pg, id) || !page_lock_ok(pg) || slot >= L1_PAGETABLE_ENTRIES ||
        pte_present(read_entry(m, table, slot)) || !is_superpage(entry, level) || (pte_mfn(entry) & (n - 1)) ||
        pte_mfn(entry) >= m->nr_frames || n > m->nr_frames - pte_mfn(entry))
        return -XEN_EINVAL;
    m->current = &d->vcpu[0];
    refuse_reset(m);
    int rc = get_data_pages(m, entry, level, d);
    if (!rc && (rc = write_entry(m, table, slot, entry)))
        put_data_pages(m, entry, level);
    return rc;
}

int pvm_set_guest_table(struct pvm_vcpu *v, uint64_t mfn)
{
    struct pvm_machine *m = enter_vcpu(v);
    int rc = get_page_and_type_from_mfn(m, mfn, PGT_root_page_table, v->d);
    if (!rc)
        switch_root(m, v, true, mfn);
    return rc;
}

void switch_root(struct pvm_machine *m, struct pvm_vcpu *v, bool kernel, uint64_t mfn)
{
    uint64_t *slot = kernel ? &v->guest_table : &v->guest_table_user, old = *slot;
    *slot = mfn;
    if (kernel) {
        m->stats.baseptr_loads++;
        tlb_flush_one(v);
    }
    if (old != PVM_INVALID_MFN)
        put_page_and_type(m, mfn_to_page(m, old));
}

void pvm_frame_query(const struct pvm_machine *m, uint64_t mfn, struct pvm_frame_state *out)
{
    *out = (struct pvm_frame_state){ .mfn = mfn, .owner = DOMID_INVALID, .m2p = PVM_INVALID_M2P };
    if (!mfn_valid(m, mfn)) {
        out->io = true;
        return;
    }
    const struct page_info *pg = mfn_to_page(m, mfn);
    out->valid = true;
    out->io = owner_raw(pg) == PVM_OWNER_IO;
    out->owner = page_owner_id(pg);
    out->count = gen_count(pg);
    out->allocated = (pg->count_info & PGC_allocated) != 0;
    out->type = (enum pvm_type)(pg->type_info >> 61);
    out->type_count = type_count(pg);
    out->validated = (pg->type_info & PGT_validated) != 0;
    out->pinned = (pg->type_info & PGT_pinned) != 0;
    out->partial = (pg->type_info & PGT_partial) != 0;
    out->linear_pt_count = type_count(pg) ? linear_count(pg) : 0;
    out->xen_maps = xen_maps_of(m, mfn);
    out->gdt_refs = gdt_refs_of(m, mfn, &out->gdt_vcpus);
    out->m2p = get_m2p(m, mfn);
    out->count_info = pvm_xen_caf(pg);
    out->type_info = pvm_xen_taf(pg);
}
