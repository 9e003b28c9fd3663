/*
 * audit.c - the auditor (recompute every count from page contents, pins,
 * roots, GDTs and Xen's own holds alone, and compare with the core's bookkeeping)
 * and the reverse map (where is a frame mapped, through which L1 slot and
 * virtual address).
 *
 * The auditor works on a region of frames at a time: a pass recomputes the
 * counts of the frames in [lo, hi) from every table entry that points into
 * them.  Each check belongs to exactly one frame (its key: the frame the
 * entry points to, or for a frame's own state, the frame itself), and a pass
 * reports only the checks whose key is in its region, so any number of
 * passes reports every issue exactly once.  With scratch for every frame
 * there is one pass, in the same order as ever.
 */
#include "internal.h"
#include "fmt.h"

struct expect {
    uint32_t count, tc;   /* recomputed counts (a real count above 2^32 shows up as a mismatch) */
    int32_t linear;
};

_Static_assert(sizeof(struct expect) == PVM_AUDIT_BYTES_PER_FRAME, "the header's promise");

size_t pvm_audit_scratch_bytes(const struct pvm_machine *m)
{
    return (size_t)m->nr_frames * sizeof(struct expect);
}

/* The first and last pass whose region holds a frame a table's entries point to (first > last: none). */
struct span {
    uint32_t first, last;
};

struct auditor {
    const struct pvm_machine *m;
    struct expect *exp;           /* exp[f - lo]: recomputed counts of frame f, for f in [lo, hi) */
    uint64_t lo, hi;
    uint64_t region;              /* frames per pass: pass k holds [k * region, (k + 1) * region) */
    uint32_t pass;
    uint32_t *tables;             /* with several passes: bit f set if f is a live table (NULL: scan the frames) */
    struct span *spans;           /* per table, in bitmap order: the passes its entries point into (NULL: none) */
    void (*cb)(void *ctx, const struct pvm_audit_issue *issue);
    void *ctx;
    unsigned long issues;
};

/* Is frame f in this pass's region?  (The first pass also owns checks about frames outside memory.) */
static bool mine(const struct auditor *a, uint64_t f)
{
    return mfn_valid(a->m, f) ? f >= a->lo && f < a->hi : a->lo == 0;
}

/* The recomputed counts of frame f, which must be in the region. */
static struct expect *exp_of(struct auditor *a, uint64_t f)
{
    return &a->exp[f - a->lo];
}

__attribute__((format(printf, 6, 7)))
static void report(struct auditor *a, enum pvm_audit_kind kind, uint64_t mfn, uint64_t expected, uint64_t actual,
                   const char *fmt, ...)
{
    a->issues++;
    if (!a->cb)
        return;
    struct pvm_audit_issue is = { .kind = kind, .mfn = mfn, .expected = expected, .actual = actual };
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(is.text, sizeof(is.text), fmt, ap);
    va_end(ap);
    a->cb(a->ctx, &is);
}

/*
 * An L1 may map another domain's frame only if a privileged domain put it
 * there: the table's owner, or one handing on its right to map (Xen's
 * xsm_priv_mapping).  Without a privileged domain on the machine, never.
 */
static bool foreign_l1_possible(const struct pvm_machine *m, const struct pvm_domain *d)
{
    if (is_privileged(d))
        return true;
    for (unsigned int i = 0; i < PVM_MAX_DOMAINS; i++)
        if (m->doms[i].exists && is_privileged(&m->doms[i]))
            return true;
    return false;
}

static const struct pvm_domain *owner_dom(const struct pvm_machine *m, const struct page_info *pg)
{
    return page_owner_dom((struct pvm_machine *)m, pg);
}

/*
 * The one count of a table entry that belongs to its table rather than to
 * the frame it points to: a same-level (linear) entry of L2-L4 table f adds
 * one to f's linear count.  For passes whose region holds f but not the target.
 */
static void audit_entry_source(struct auditor *a, uint64_t f, unsigned int level, uint64_t t)
{
    if (level > 1 && t != f && mfn_valid(a->m, t) && page_type(mfn_to_page(a->m, t)) == level_type(level))
        exp_of(a, f)->linear++;
}

/*
 * A superpage entry of table f (level 2 or 3, slot s), which only Xen's
 * domain builder makes (pvm_build_superpage): every frame it maps, in this
 * pass's region, holds a general reference, and a writable type reference if
 * the entry has _PAGE_RW; it must be the table owner's.
 */
static void audit_superpage(struct auditor *a, uint64_t f, unsigned int level, unsigned int s, uint64_t e,
                            const struct pvm_domain *d)
{
    const struct pvm_machine *m = a->m;
    uint64_t t = pte_mfn(e), n = superpage_frames(level);
    if ((t & (n - 1)) || t >= m->nr_frames || n > m->nr_frames - t) {
        if (mine(a, f))
            report(a, PVM_AUDIT_ENTRY, f, 0, e, "L%u mfn %05llx slot %u: superpage %016llx misaligned or past memory",
                   level, (unsigned long long)f, s, (unsigned long long)e);
        return;
    }
    for (uint64_t g = t < a->lo ? a->lo : t; g < t + n && g < a->hi; g++) {
        const struct page_info *gp = mfn_to_page(m, g);
        if (owner_dom(m, gp) != d)
            report(a, PVM_AUDIT_OWNER, g, d->id, page_owner_id(gp), "L%u mfn %05llx (d%u) slot %u: superpage maps "
                   "mfn %05llx of another owner", level, (unsigned long long)f, d->id, s, (unsigned long long)g);
        struct expect *x = exp_of(a, g);
        x->count++;
        if (!(e & _PAGE_RW))
            continue;
        x->tc++;
        if (page_type(gp) != PGT_writable_page)
            report(a, PVM_AUDIT_TYPE, g, PGT_writable_page, gp->type_info, "mfn %05llx is mapped writable by "
                   "superpage L%u %05llx slot %u but has type %s", (unsigned long long)g, level,
                   (unsigned long long)f, s, pvm_type_name((enum pvm_type)(gp->type_info >> 61)));
    }
}

/*
 * Account one present entry of validated table f (level `level`, slot s):
 * its checks and counts belong to the frame it points to (to f if that is
 * outside memory), and are done in the pass whose region holds that frame.
 */
static void audit_entry(struct auditor *a, uint64_t f, unsigned int level, unsigned int s, uint64_t e,
                        const struct pvm_domain *d)
{
    const struct pvm_machine *m = a->m;
    uint64_t t = pte_mfn(e);
    if (is_superpage(e, level)) {
        audit_superpage(a, f, level, s, e, d);
        return;
    }
    if (!mine(a, mfn_valid(m, t) ? t : f)) {
        if (mine(a, f))
            audit_entry_source(a, f, level, t);
        return;
    }
    unsigned int mask = level == 1 ? l1_disallow_mask(m, d) : L2_DISALLOW_MASK;
    if (get_pte_flags(e) & mask)
        report(a, PVM_AUDIT_ENTRY, f, 0, e, "L%u mfn %05llx slot %u: entry %016llx has disallowed flags %#x", level,
               (unsigned long long)f, s, (unsigned long long)e, get_pte_flags(e) & mask);
    if (level == 1 && is_io_frame(m, t)) {
        if (!iomem_access_permitted(d, t))
            report(a, PVM_AUDIT_ENTRY, f, 0, e, "L1 mfn %05llx slot %u maps I/O mfn %05llx without permission",
                   (unsigned long long)f, s, (unsigned long long)t);
        return;
    }
    if (level > 1 && t == f) {
        if (e & _PAGE_RW)
            report(a, PVM_AUDIT_ENTRY, f, 0, e, "L%u mfn %05llx slot %u: writable self-map", level,
                   (unsigned long long)f, s);
        return;
    }
    if (!mfn_valid(m, t)) {
        report(a, PVM_AUDIT_ENTRY, f, 0, e, "L%u mfn %05llx slot %u points outside memory (mfn %05llx)", level,
               (unsigned long long)f, s, (unsigned long long)t);
        return;
    }
    const struct page_info *tp = mfn_to_page(m, t);
    const struct pvm_domain *td = owner_dom(m, tp);
    if (!td || (td != d && (level > 1 || !foreign_l1_possible(m, d))))
        report(a, PVM_AUDIT_OWNER, t, d->id, page_owner_id(tp),
               "L%u mfn %05llx (d%u) slot %u maps mfn %05llx owned by %s%d", level, (unsigned long long)f, d->id, s,
               (unsigned long long)t, td ? "d" : "", td ? (int)td->id : -1);
    struct expect *x = exp_of(a, t);
    x->count++;
    if (level == 1) {
        if (e & _PAGE_RW) {
            x->tc++;
            if (page_type(tp) != PGT_writable_page)
                report(a, PVM_AUDIT_TYPE, t, PGT_writable_page, tp->type_info,
                       "mfn %05llx is mapped writable by L1 %05llx slot %u but has type %s",
                       (unsigned long long)t, (unsigned long long)f, s, pvm_type_name((enum pvm_type)(tp->type_info >> 61)));
        }
        return;
    }
    x->tc++;
    if (page_type(tp) == level_type(level - 1))
        return;
    if (page_type(tp) == level_type(level)) {
        if (e & _PAGE_RW)
            report(a, PVM_AUDIT_ENTRY, f, 0, e, "L%u mfn %05llx slot %u: writable linear entry to mfn %05llx",
                   level, (unsigned long long)f, s, (unsigned long long)t);
        if (mine(a, f))
            exp_of(a, f)->linear++;
        x->linear--;
        return;
    }
    report(a, PVM_AUDIT_TYPE, t, level_type(level - 1), tp->type_info,
           "L%u mfn %05llx slot %u points at mfn %05llx of type %s, not l%u", level, (unsigned long long)f, s,
           (unsigned long long)t, pvm_type_name((enum pvm_type)(tp->type_info >> 61)), level - 1);
}

/*
 * The entries of live table f that belong to this pass (all of them if f is
 * in the region, else those pointing into it); in the first pass, records in
 * *span (if not NULL) which passes its entries point into.
 */
static void audit_table(struct auditor *a, uint64_t f, const struct page_info *pg, struct span *span)
{
    const struct pvm_machine *m = a->m;
    unsigned int level = type_level(page_type(pg));
    const struct pvm_domain *d = owner_dom(m, pg);
    if (!d) {
        if (mine(a, f))
            report(a, PVM_AUDIT_OWNER, f, 0, owner_raw(pg), "table mfn %05llx has no domain owner",
                   (unsigned long long)f);
        return;
    }
    const uint64_t *t = m->ops.map(m->ops.ctx, f, 0);
    bool own = mine(a, f);
    for (unsigned int s = 0; s < L1_PAGETABLE_ENTRIES; s++) {
        uint64_t e = t ? t[s] : 0;
        if (level == 4 && !is_guest_l4_slot(s)) {
            if (e != xen_l4_slot_value(m, f, s) && own)
                report(a, PVM_AUDIT_XEN_SLOT, f, xen_l4_slot_value(m, f, s), e,
                       "L4 mfn %05llx Xen slot %u holds %016llx", (unsigned long long)f, s, (unsigned long long)e);
            continue;
        }
        if (!pte_present(e))
            continue;
        uint64_t target = pte_mfn(e), n = is_superpage(e, level) ? superpage_frames(level) : 1;
        uint64_t last = target + n - 1 < m->nr_frames ? target + n - 1 : m->nr_frames - 1;
        if (span && target < m->nr_frames) {
            uint32_t k = (uint32_t)(target / a->region), l = (uint32_t)(last / a->region);
            span->first = k < span->first ? k : span->first;
            span->last = l > span->last ? l : span->last;
        }
        /* another region's table: only entries pointing into this region count (the common case, made fast) */
        if (own || target - a->lo < a->hi - a->lo || (n > 1 && target < a->hi && last >= a->lo))
            audit_entry(a, f, level, s, e, d);
    }
}

static void audit_root(struct auditor *a, const struct pvm_vcpu *v, uint64_t root, const char *which)
{
    const struct pvm_machine *m = a->m;
    if (root == PVM_INVALID_MFN || !mine(a, root))
        return;
    if (!mfn_valid(m, root)) {
        report(a, PVM_AUDIT_ROOT, root, 0, 0, "d%uv%u %s root %05llx is outside memory", v->d->id, v->id, which,
               (unsigned long long)root);
        return;
    }
    const struct page_info *pg = mfn_to_page(m, root);
    exp_of(a, root)->count++;
    exp_of(a, root)->tc++;
    if (page_type(pg) != PGT_l4_page_table || !(pg->type_info & PGT_validated) || !page_owned_by(pg, v->d->id))
        report(a, PVM_AUDIT_ROOT, root, PGT_l4_page_table, pg->type_info,
               "d%uv%u %s root %05llx is not a validated L4 of the domain", v->d->id, v->id, which,
               (unsigned long long)root);
}

/*
 * The frames Xen holds writable for its own use (pvm_xen_map_frame): each
 * hold is a general and a writable type reference on a frame of the domain.
 */
static void audit_xen_maps(struct auditor *a, const struct pvm_domain *d)
{
    const struct pvm_machine *m = a->m;
    for (unsigned int i = 0; i < d->nr_xen_maps && i < PVM_MAX_XEN_MAPS; i++) {
        uint64_t f = d->xen_maps[i];
        if (!mine(a, f))
            continue;
        if (!mfn_valid(m, f)) {
            report(a, PVM_AUDIT_OWNER, f, d->id, DOMID_INVALID, "d%u: Xen holds mfn %05llx writable, which is "
                   "outside memory", d->id, (unsigned long long)f);
            continue;
        }
        const struct page_info *pg = mfn_to_page(m, f);
        if (!page_owned_by(pg, d->id))
            report(a, PVM_AUDIT_OWNER, f, d->id, page_owner_id(pg), "d%u: Xen holds mfn %05llx writable, which is "
                   "not the domain's", d->id, (unsigned long long)f);
        exp_of(a, f)->count++;
        exp_of(a, f)->tc++;
        if (page_type(pg) != PGT_writable_page)
            report(a, PVM_AUDIT_TYPE, f, PGT_writable_page, pg->type_info, "d%u: Xen holds mfn %05llx writable but "
                   "it has type %s", d->id, (unsigned long long)f, pvm_type_name((enum pvm_type)(pg->type_info >> 61)));
    }
    if (d->nr_xen_maps > PVM_MAX_XEN_MAPS && a->lo == 0)
        report(a, PVM_AUDIT_COUNT, PVM_INVALID_MFN, PVM_MAX_XEN_MAPS, d->nr_xen_maps, "d%u holds %u of Xen's "
               "writable mappings, more than PVM_MAX_XEN_MAPS", d->id, d->nr_xen_maps);
}

/*
 * Domain d's I/O ranges (pvm_domain_iomem_*): at most PVM_MAX_IOMEM_RANGES,
 * each first <= last, ascending, none overlapping or adjacent to the one
 * before (a union would have merged them).  Checked in the first pass only.
 */
static void audit_iomem(struct auditor *a, const struct pvm_domain *d)
{
    if (a->lo != 0)
        return;
    if (d->nr_iomem > PVM_MAX_IOMEM_RANGES)
        report(a, PVM_AUDIT_COUNT, PVM_INVALID_MFN, PVM_MAX_IOMEM_RANGES, d->nr_iomem, "d%u has %u I/O ranges, "
               "more than PVM_MAX_IOMEM_RANGES", d->id, d->nr_iomem);
    for (unsigned int i = 0; i < d->nr_iomem && i < PVM_MAX_IOMEM_RANGES; i++) {
        const struct pvm_iomem_range *r = &d->iomem[i], *prev = i ? &d->iomem[i - 1] : NULL;
        if (r->first > r->last)
            report(a, PVM_AUDIT_COUNT, r->first, r->first, r->last, "d%u I/O range %u, %llx-%llx, is empty", d->id,
                   i, (unsigned long long)r->first, (unsigned long long)r->last);
        else if (prev && (prev->last == ~0ULL || r->first <= prev->last + 1))
            report(a, PVM_AUDIT_COUNT, r->first, prev->last, r->first, "d%u I/O range %u, %llx-%llx, overlaps or "
                   "touches range %u, %llx-%llx", d->id, i, (unsigned long long)r->first, (unsigned long long)r->last,
                   i - 1, (unsigned long long)prev->first, (unsigned long long)prev->last);
    }
}

/*
 * vCPU v's GDT (pvm_set_gdt): each of its frames holds a general and a
 * seg_desc type reference on a validated descriptor page of v's domain;
 * past its frames gdt_frames[] holds 0, and it has at most Xen's 14 * 512
 * entries.
 */
static void audit_gdt(struct auditor *a, const struct pvm_vcpu *v)
{
    const struct pvm_machine *m = a->m;
    unsigned int n = gdt_nr_frames(v);
    if (a->lo == 0 && v->gdt_ents > FIRST_RESERVED_GDT_ENTRY)
        report(a, PVM_AUDIT_COUNT, PVM_INVALID_MFN, FIRST_RESERVED_GDT_ENTRY, v->gdt_ents, "d%uv%u GDT has %u "
               "entries, more than Xen's %u", v->d->id, v->id, v->gdt_ents, FIRST_RESERVED_GDT_ENTRY);
    for (unsigned int i = n; a->lo == 0 && i < PVM_MAX_GDT_FRAMES; i++)
        if (v->gdt_frames[i])
            report(a, PVM_AUDIT_COUNT, v->gdt_frames[i], 0, v->gdt_frames[i], "d%uv%u gdt_frames[%u] holds mfn "
                   "%05llx past the GDT's %u frames", v->d->id, v->id, i, (unsigned long long)v->gdt_frames[i], n);
    for (unsigned int i = 0; i < n; i++) {
        uint64_t f = v->gdt_frames[i];
        if (!mine(a, f))
            continue;
        if (!mfn_valid(m, f)) {
            report(a, PVM_AUDIT_OWNER, f, v->d->id, DOMID_INVALID, "d%uv%u GDT frame %u is mfn %05llx, outside "
                   "memory", v->d->id, v->id, i, (unsigned long long)f);
            continue;
        }
        const struct page_info *pg = mfn_to_page(m, f);
        if (!page_owned_by(pg, v->d->id))
            report(a, PVM_AUDIT_OWNER, f, v->d->id, page_owner_id(pg), "d%uv%u GDT frame %u is mfn %05llx, which "
                   "is not the domain's", v->d->id, v->id, i, (unsigned long long)f);
        exp_of(a, f)->count++;
        exp_of(a, f)->tc++;
        if (page_type(pg) != PGT_seg_desc_page || !(pg->type_info & PGT_validated))
            report(a, PVM_AUDIT_TYPE, f, PGT_seg_desc_page, pg->type_info, "d%uv%u GDT frame %u is mfn %05llx, "
                   "which is %s%s", v->d->id, v->id, i, (unsigned long long)f,
                   pvm_type_name((enum pvm_type)(pg->type_info >> 61)),
                   page_type(pg) == PGT_seg_desc_page ? " but not validated" : ", not seg_desc");
    }
}

/* A validated descriptor page (frame f) holds only descriptors as Xen's check_descriptor leaves them. */
static void audit_segdesc(struct auditor *a, uint64_t f)
{
    const uint64_t *t = a->m->ops.map(a->m->ops.ctx, f, 0);
    for (unsigned int s = 0; t && s < L1_PAGETABLE_ENTRIES; s++) {
        uint64_t d = t[s];
        if (!check_descriptor(&d) || d != t[s])
            report(a, PVM_AUDIT_ENTRY, f, d, t[s], "seg_desc mfn %05llx slot %u: descriptor %016llx %s",
                   (unsigned long long)f, s, (unsigned long long)t[s],
                   d == t[s] ? "is refused by check_descriptor" : "is not as check_descriptor leaves it");
    }
}

static void audit_tlb(struct auditor *a, const struct pvm_vcpu *v)
{
    const struct pvm_machine *m = a->m;
    for (unsigned int i = 0; i < PVM_TLB_ENTRIES; i++) {
        const struct pvm_tlb_entry *t = &v->tlb[i];
        if (!t->valid || !t->rw || !mfn_valid(m, t->mfn) || !mine(a, t->mfn))
            continue;
        const struct page_info *pg = mfn_to_page(m, t->mfn);
        /* A free frame may stay cached until it is handed out again: the allocator flushes then. */
        if (owner_raw(pg) == PVM_OWNER_IO || owner_raw(pg) == PVM_OWNER_NONE)
            continue;
        if (page_type(pg) != PGT_writable_page)
            report(a, PVM_AUDIT_TLB, t->mfn, PGT_writable_page, pg->type_info,
                   "d%uv%u TLB maps va %llx writable to mfn %05llx, which is now %s", v->d->id, v->id,
                   (unsigned long long)(t->vpn << PAGE_SHIFT), (unsigned long long)t->mfn,
                   pvm_type_name((enum pvm_type)(pg->type_info >> 61)));
        else if (!page_owned_by(pg, v->d->id) && !is_privileged(v->d))
            report(a, PVM_AUDIT_TLB, t->mfn, v->d->id, page_owner_id(pg),
                   "d%uv%u TLB maps va %llx writable to mfn %05llx, which now belongs to d%u", v->d->id, v->id,
                   (unsigned long long)(t->vpn << PAGE_SHIFT), (unsigned long long)t->mfn, page_owner_id(pg));
    }
}

static void compare(struct auditor *a, uint64_t f, const struct page_info *pg)
{
    const struct expect *e = exp_of(a, f);
    uint64_t count = gen_count(pg), tc = type_count(pg);
    if (owner_raw(pg) == PVM_OWNER_IO)
        return;
    if (owner_raw(pg) == PVM_OWNER_NONE) {
        if (pg->count_info || e->count)
            report(a, PVM_AUDIT_FREE, f, e->count, pg->count_info,
                   "free mfn %05llx: count_info %08llx, %llu references found", (unsigned long long)f,
                   (unsigned long long)pg->count_info, (unsigned long long)e->count);
        return;
    }
    if (count == 0)
        report(a, PVM_AUDIT_FREE, f, 1, 0, "mfn %05llx is owned by d%u but holds no reference (should be free)",
               (unsigned long long)f, page_owner_id(pg));
    else if (count != e->count)
        report(a, PVM_AUDIT_COUNT, f, e->count, count, "mfn %05llx: general count %llu, recomputed %llu",
               (unsigned long long)f, (unsigned long long)count, (unsigned long long)e->count);
    if (tc != e->tc)
        report(a, PVM_AUDIT_TYPE_COUNT, f, e->tc, tc, "mfn %05llx (%s): type count %llu, recomputed %llu",
               (unsigned long long)f, pvm_type_name((enum pvm_type)(pg->type_info >> 61)), (unsigned long long)tc,
               (unsigned long long)e->tc);
    if (tc && linear_count(pg) != e->linear)
        report(a, PVM_AUDIT_LINEAR, f, (uint64_t)e->linear, (uint64_t)(int64_t)linear_count(pg),
               "mfn %05llx: linear_pt_count %d, recomputed %lld", (unsigned long long)f, linear_count(pg),
               (long long)e->linear);
}

/*
 * A frame's own state (frame f is in the region): its allocation and pin
 * references, the validated flag, a descriptor page's descriptors.
 */
static void audit_frame(struct auditor *a, uint64_t f, const struct page_info *pg)
{
    uint64_t t = page_type(pg), tc = type_count(pg);
    bool validated = (pg->type_info & PGT_validated) != 0;
    struct expect *x = exp_of(a, f);
    if (pg->count_info & PGC_allocated)
        x->count++;
    if (pg->type_info & PGT_pinned) {
        x->count++;
        x->tc++;
        if (!is_pt_type(t))
            report(a, PVM_AUDIT_VALIDATED, f, 0, pg->type_info, "mfn %05llx is pinned but of type %s",
                   (unsigned long long)f, pvm_type_name((enum pvm_type)(t >> 61)));
    }
    if ((is_pt_type(t) || t == PGT_seg_desc_page) && tc && !validated)
        report(a, PVM_AUDIT_VALIDATED, f, 1, 0, "mfn %05llx: %s in use (count %llu) but not validated",
               (unsigned long long)f, pvm_type_name((enum pvm_type)(t >> 61)), (unsigned long long)tc);
    if (t == PGT_seg_desc_page && validated)
        audit_segdesc(a, f);
    if (is_pt_type(t) && !tc && validated)
        report(a, PVM_AUDIT_VALIDATED, f, 0, 1, "mfn %05llx: %s with type count 0 is still validated",
               (unsigned long long)f, pvm_type_name((enum pvm_type)(t >> 61)));
}

static bool is_owned(const struct page_info *pg)
{
    return owner_raw(pg) != PVM_OWNER_NONE && owner_raw(pg) != PVM_OWNER_IO;
}

/* Is f an owned table in use whose entries hold references (validated, type count above 0)? */
static bool is_live_table(const struct page_info *pg)
{
    return is_owned(pg) && is_pt_type(page_type(pg)) && type_count(pg) && (pg->type_info & PGT_validated);
}

/* Every frame, in order: its own state if it is in the region, its entries if it is a table. */
static void audit_all_frames(struct auditor *a)
{
    const struct pvm_machine *m = a->m;
    for (uint64_t f = 0; f < m->nr_frames; f++) {
        const struct page_info *pg = &m->frames[f];
        if (is_owned(pg) && mine(a, f))
            audit_frame(a, f, pg);
        if (is_live_table(pg))
            audit_table(a, f, pg, NULL);
    }
}

/* Set a->tables' bit of every live table; returns how many there are. */
static uint64_t mark_tables(struct auditor *a)
{
    const struct pvm_machine *m = a->m;
    uint64_t n = 0;
    for (uint64_t w = 0; w < (m->nr_frames + 31) / 32; w++)
        a->tables[w] = 0;
    for (uint64_t f = 0; f < m->nr_frames; f++)
        if (is_live_table(&m->frames[f])) {
            a->tables[f / 32] |= 1u << (f % 32);
            n++;
        }
    return n;
}

/*
 * The same from the bitmap (no scan of the frame table): the region's frames,
 * then the tables, skipping after the first pass those whose entries all point
 * into other regions (a->spans, filled by the first pass).
 */
static void audit_marked_frames(struct auditor *a)
{
    const struct pvm_machine *m = a->m;
    for (uint64_t f = a->lo; f < a->hi; f++)
        if (is_owned(&m->frames[f]))
            audit_frame(a, f, &m->frames[f]);
    uint64_t i = 0;   /* the table's index among the marked ones */
    for (uint64_t w = 0; w < (m->nr_frames + 31) / 32; w++)
        for (uint32_t bits = a->tables[w]; bits; bits &= bits - 1, i++) {
            uint64_t f = w * 32 + (uint64_t)__builtin_ctz(bits);
            struct span *sp = a->spans ? &a->spans[i] : NULL;
            if (!sp || a->pass == 0) {
                if (sp)
                    *sp = (struct span){ UINT32_MAX, 0 };
                audit_table(a, f, &m->frames[f], sp);
            } else if ((a->pass >= sp->first && a->pass <= sp->last) || mine(a, f)) {
                audit_table(a, f, &m->frames[f], NULL);
            }
        }
}

/* One pass: recompute and compare the frames of [a->lo, a->hi), checks keyed outside it skipped. */
static void audit_pass(struct auditor *a)
{
    const struct pvm_machine *m = a->m;
    for (uint64_t f = a->lo; f < a->hi; f++)
        *exp_of(a, f) = (struct expect){ 0, 0, 0 };
    if (a->tables)
        audit_marked_frames(a);
    else
        audit_all_frames(a);
    for (unsigned int i = 0; i < PVM_MAX_DOMAINS; i++) {
        const struct pvm_domain *d = &m->doms[i];
        if (!d->exists)
            continue;
        audit_xen_maps(a, d);
        audit_iomem(a, d);
        for (unsigned int j = 0; j < d->nr_vcpus; j++) {
            audit_root(a, &d->vcpu[j], d->vcpu[j].guest_table, "kernel");
            audit_root(a, &d->vcpu[j], d->vcpu[j].guest_table_user, "user");
            audit_tlb(a, &d->vcpu[j]);
            audit_gdt(a, &d->vcpu[j]);
        }
    }
    for (uint64_t f = a->lo; f < a->hi; f++)
        compare(a, f, &m->frames[f]);
}

/*
 * Lay out `bytes` of scratch for several passes: a bitmap of the live tables
 * (so passes need not scan the frame table) if it fits beside one frame's
 * counts, then each table's span (so passes skip the tables that do not
 * point into them) if that fits too, then the counts of as many frames per
 * pass as the rest holds.
 */
static void plan_passes(struct auditor *a, void *scratch, size_t bytes)
{
    const struct pvm_machine *m = a->m;
    size_t bitmap = (size_t)((m->nr_frames + 31) / 32) * sizeof(uint32_t), used = 0;
    if (bytes >= bitmap + sizeof(struct expect)) {
        a->tables = scratch;
        used = bitmap;
        size_t spans = (size_t)mark_tables(a) * sizeof(struct span);
        if (bytes - used >= spans + sizeof(struct expect)) {
            a->spans = (struct span *)(void *)((char *)scratch + used);
            used += spans;
        }
    }
    a->exp = (struct expect *)(void *)((char *)scratch + used);
    a->region = (bytes - used) / sizeof(struct expect);
}

/* Audit with `bytes` of scratch (at least one frame's counts): one pass if it holds every frame's, else several. */
static unsigned long audit_regions(const struct pvm_machine *m, void *scratch, size_t bytes,
                                   void (*cb)(void *ctx, const struct pvm_audit_issue *issue), void *ctx)
{
    struct auditor a = { .m = m, .exp = scratch, .region = bytes / sizeof(struct expect), .cb = cb, .ctx = ctx };
    if (a.region < m->nr_frames)
        plan_passes(&a, scratch, bytes);
    do {   /* at least one pass: it owns the checks about frames outside memory */
        a.hi = m->nr_frames - a.lo < a.region ? m->nr_frames : a.lo + a.region;
        audit_pass(&a);
        a.lo = a.hi;
        a.pass++;
    } while (a.lo < m->nr_frames);
    return a.issues;
}

unsigned long pvm_audit(const struct pvm_machine *m, void *scratch,
                        void (*cb)(void *ctx, const struct pvm_audit_issue *issue), void *ctx)
{
    return audit_regions(m, scratch, m->nr_frames ? pvm_audit_scratch_bytes(m) : sizeof(struct expect), cb, ctx);
}

unsigned long pvm_audit_bounded(const struct pvm_machine *m, void *scratch, size_t scratch_bytes,
                                void (*cb)(void *ctx, const struct pvm_audit_issue *issue), void *ctx)
{
    if (scratch_bytes < sizeof(struct expect))
        return PVM_AUDIT_NO_SCRATCH;
    return audit_regions(m, scratch, scratch_bytes, cb, ctx);
}

/* ---- reverse map ---- */

struct finder {
    const struct pvm_machine *m;
    void (*cb)(void *ctx, const struct pvm_mapping *map);
    void *ctx;
    struct pvm_mapping map;
    unsigned int found;
};

static uint64_t sign_extend(uint64_t va)
{
    return (va & (1ULL << 47)) ? va | 0xFFFF000000000000ULL : va;
}

/* Find tables of level+1 whose (non-self) entries point at mfn, up to an L4. */
static void walk_up(struct finder *fd, uint64_t mfn, unsigned int level, uint64_t va)
{
    const struct pvm_machine *m = fd->m;
    if (level == 4) {
        if (fd->found < 8) {
            fd->map.va_known = true;
            fd->map.va = sign_extend(va);
            fd->map.root_mfn = mfn;
            fd->cb(fd->ctx, &fd->map);
        }
        fd->found++;
        return;
    }
    uint64_t want = level_type(level + 1);
    for (uint64_t p = 0; p < m->nr_frames && fd->found < 8; p++) {
        const struct page_info *pg = &m->frames[p];
        if (page_type(pg) != want || !type_count(pg) || !(pg->type_info & PGT_validated) || p == mfn)
            continue;
        const uint64_t *t = m->ops.map(m->ops.ctx, p, 0);
        if (!t)
            continue;
        for (unsigned int s = 0; s < L1_PAGETABLE_ENTRIES; s++)
            if (pte_present(t[s]) && pte_mfn(t[s]) == mfn && (level + 1 != 4 || is_guest_l4_slot(s)))
                walk_up(fd, p, level + 1, va | ((uint64_t)s << (12 + 9 * level)));
    }
}

unsigned long pvm_find_mappings(const struct pvm_machine *m, uint64_t mfn, bool writable_only,
                                void (*cb)(void *ctx, const struct pvm_mapping *map), void *ctx)
{
    unsigned long slots = 0;
    for (uint64_t f = 0; f < m->nr_frames; f++) {
        const struct page_info *pg = &m->frames[f];
        if (page_type(pg) != PGT_l1_page_table || !type_count(pg) || !(pg->type_info & PGT_validated))
            continue;
        const uint64_t *t = m->ops.map(m->ops.ctx, f, 0);
        if (!t)
            continue;
        for (unsigned int s = 0; s < L1_PAGETABLE_ENTRIES; s++) {
            uint64_t e = t[s];
            if (!pte_present(e) || pte_mfn(e) != mfn || (writable_only && !(e & _PAGE_RW)))
                continue;
            slots++;
            struct finder fd = { .m = m, .cb = cb, .ctx = ctx,
                                 .map = { .l1_mfn = f, .slot = s, .pte = e, .root_mfn = PVM_INVALID_MFN } };
            walk_up(&fd, f, 1, (uint64_t)s << 12);
            if (!fd.found) {
                fd.map.va_known = false;
                cb(ctx, &fd.map);
            }
        }
    }
    return slots;
}
