/*
 * page.c - general and type reference counts (Xen's get_page/put_page,
 * _get_page_type/_put_page_type), with validation on the 0->1 type edge and
 * devalidation on 1->0.  No preemption: every walk completes inline.
 */
#include "internal.h"

static void free_page(struct pvm_machine *m, struct page_info *pg)
{
    struct pvm_domain *d = page_owner_dom(m, pg);
    if (d && d->tot_pages)
        d->tot_pages--;
    pg->count_info = 0;
    pg->type_info = 0;
    set_aux(pg, m->tlbflush_clock);
    set_m2p(m, page_to_mfn(m, pg), PVM_INVALID_M2P);
}

/*
 * Take a general reference on pg for domain d.  Fails (returns false, and
 * logs Xen's "Error mfn" line for an owned frame) if pg is free, would
 * overflow, or belongs to someone else.
 */
bool get_page(struct pvm_machine *m, struct page_info *pg, const struct pvm_domain *d)
{
    uint64_t count = gen_count(pg);
    if (count && count < PGC_count_mask - 2 && page_owned_by(pg, d->id)) {
        pg->count_info++;
        BUG_ON(m, gen_count(pg) != count + 1, "get_page: general count of mfn %05llx ran into the owner bits",
               (unsigned long long)page_to_mfn(m, pg));
        return true;
    }
    char rd[16], od[16];
    refuse(m, -XEN_EINVAL, count >= PGC_count_mask - 2 ? PVM_WHY_OVERFLOW : PVM_WHY_NOT_OWNER,
           page_to_mfn(m, pg));
    xen_log(m, PVM_LOG_INFO, "Error mfn %05llx: rd=%s od=%s caf=%08llx taf=%016llx",
            (unsigned long long)page_to_mfn(m, pg), fmt_dom(rd, d->id),
            count ? fmt_dom(od, page_owner_id(pg)) : "NULL", (unsigned long long)pvm_xen_caf(pg),
            (unsigned long long)pvm_xen_taf(pg));
    return false;
}

/* Drop a general reference; the frame is freed when the last one goes. */
void put_page(struct pvm_machine *m, struct page_info *pg)
{
    BUG_ON(m, gen_count(pg) == 0, "put_page: general count underflow on mfn %05llx (caf=%016llx)",
           (unsigned long long)page_to_mfn(m, pg), (unsigned long long)pg->count_info);
    pg->count_info--;
    if (gen_count(pg) == 0)
        free_page(m, pg);
}

/* Xen's get_page_from_mfn: a general reference for d on a valid frame, or NULL (logged). */
struct page_info *get_page_from_mfn(struct pvm_machine *m, uint64_t mfn, const struct pvm_domain *d)
{
    if (!mfn_valid(m, mfn))
        refuse(m, -XEN_EINVAL, PVM_WHY_NO_PAGE, mfn);
    if (!mfn_valid(m, mfn) || !get_page(m, mfn_to_page(m, mfn), d)) {
        gdprintk(m, "Could not get page ref for mfn %05llx", (unsigned long long)mfn);
        return NULL;
    }
    return mfn_to_page(m, mfn);
}

/* A page is "lockable" (Xen's page_lock) when validated with a type in use. */
bool page_lock_ok(const struct page_info *pg)
{
    return (pg->type_info & PGT_validated) && type_count(pg) > 0 && !(pg->type_info & PGT_partial);
}

/*
 * True for the wrong-type combinations Xen returns silently because the
 * caller will try a linear (same-level) mapping next.
 */
static bool looks_linear(uint64_t saw, uint64_t want)
{
    return (saw == PGT_l2_page_table && want == PGT_l1_page_table) ||
           (saw == PGT_l3_page_table && want == PGT_l2_page_table) ||
           (saw == PGT_l4_page_table && want == PGT_l3_page_table);
}

/*
 * Take a type reference of `type` on pg.  At type count 0 the type may change
 * (flushing TLBs that may hold stale mappings); a page-table type is then
 * validated, recursively, and a descriptor page has its descriptors checked.
 * Returns 0, or -EINVAL with nothing changed.
 */
int get_page_type(struct pvm_machine *m, struct page_info *pg, uint64_t type)
{
    uint64_t x = pg->type_info, mfn = page_to_mfn(m, pg);
    if ((x & PGT_count_mask) == PGT_count_mask) {
        gdprintk(m, "Type count overflow on mfn %05llx", (unsigned long long)mfn);
        refuse(m, -XEN_EINVAL, PVM_WHY_OVERFLOW, mfn);
        return -XEN_EINVAL;
    }
    if ((x & PGT_count_mask) == 0) {
        bool changed = (x & PGT_type_mask) != type;
        if (changed)
            pg->type_info = (x & ~(PGT_type_mask | PGT_validated | PGT_count_mask)) | type | 1;
        else
            pg->type_info = x + 1;
        if (changed)
            flush_for_type_change(m, pg);
        set_aux(pg, 0);   /* the stamp is spent; the word now counts linear entries */
    } else {
        if ((x & PGT_type_mask) != type) {
            bool silent = looks_linear(x & PGT_type_mask, type);
            if (!silent)
                gdprintk(m, "Bad type (saw %016llx != exp %016llx) for mfn %05llx (pfn %05llx)",
                         (unsigned long long)pvm_xen_taf(pg), (unsigned long long)type, (unsigned long long)mfn,
                         (unsigned long long)get_m2p(m, mfn));
            refuse_type(m, mfn, pvm_xen_taf(pg), type, silent);
            return -XEN_EINVAL;
        }
        if (!(x & PGT_validated)) {
            /* Being validated right now: in Xen another CPU; here a cycle. */
            refuse_type(m, mfn, pvm_xen_taf(pg), type, false);
            return -XEN_EINVAL;
        }
        pg->type_info = x + 1;
        return 0;
    }
    if (pg->type_info & PGT_validated)
        return 0;
    if (!is_pt_type(type) && type != PGT_seg_desc_page) {
        pg->type_info |= PGT_validated;
        return 0;
    }
    unsigned int partial = 0;
    int rc;
    if (type == PGT_seg_desc_page) {   /* not a table: pvm_ops.validate is not told */
        rc = validate_segdesc_page(m, pg);
    } else {
        validate_event(m, mfn, type_level(type), PVM_VALIDATE_BEGIN, 0);
        rc = promote_table(m, pg, type_level(type), &partial);
        validate_event(m, mfn, type_level(type), PVM_VALIDATE_END, rc);
    }
    if (rc) {
        gdprintk(m, "Error while validating mfn %05llx (pfn %05llx) for type %016llx: caf=%08llx taf=%016llx",
                 (unsigned long long)mfn, (unsigned long long)get_m2p(m, mfn), (unsigned long long)type,
                 (unsigned long long)pvm_xen_caf(pg), (unsigned long long)pvm_xen_taf(pg));
        if (partial) {   /* Xen's partial page: its prefix goes as a devalidation of its own, after the validation */
            validate_event(m, mfn, type_level(type), PVM_DEVALIDATE_BEGIN, 0);
            demote_prefix(m, pg, type_level(type), partial);
            validate_event(m, mfn, type_level(type), PVM_DEVALIDATE_END, 0);
        }
        /*
         * Xen zeroes type_info, except when an L2-L4 failed after slot 0: that
         * page goes through the partial path (old_guest_table) and, once the
         * prefix is torn down, keeps its type with count 0.
         */
        pg->type_info = partial ? type : 0;
        set_aux(pg, m->tlbflush_clock);
        return rc;
    }
    pg->type_info |= PGT_validated;
    return 0;
}

static void dec_linear(struct pvm_machine *m, struct page_info *pg, struct page_info *ptpg)
{
    BUG_ON(m, linear_count(pg) >= 0 || linear_count(ptpg) <= 0,
           "put_page_type: linear entry from mfn %05llx to mfn %05llx was never counted (counts %d, %d)",
           (unsigned long long)page_to_mfn(m, ptpg), (unsigned long long)page_to_mfn(m, pg), linear_count(ptpg),
           linear_count(pg));
    set_linear_count(pg, (int16_t)(linear_count(pg) + 1));      /* one use fewer */
    set_linear_count(ptpg, (int16_t)(linear_count(ptpg) - 1));  /* one entry fewer */
}

/*
 * Drop a type reference.  ptpg is the table whose entry held it (NULL for
 * pins, roots and L1 mappings); a same-type ptpg means a linear entry.  At
 * 1->0 a page table is devalidated, dropping everything its entries hold.
 */
void put_page_type(struct pvm_machine *m, struct page_info *pg, struct page_info *ptpg)
{
    uint64_t x = pg->type_info;
    BUG_ON(m, (x & PGT_count_mask) == 0, "put_page_type: type count underflow on mfn %05llx (taf=%016llx)",
           (unsigned long long)page_to_mfn(m, pg), (unsigned long long)pvm_xen_taf(pg));
    BUG_ON(m, ptpg && page_type(ptpg) != page_type(pg) && type_level(page_type(ptpg)) != type_level(page_type(pg)) + 1,
           "put_page_type: mfn %05llx of type %016llx held by an entry of mfn %05llx of type %016llx",
           (unsigned long long)page_to_mfn(m, pg), (unsigned long long)page_type(pg),
           (unsigned long long)page_to_mfn(m, ptpg), (unsigned long long)page_type(ptpg));
    if (ptpg && page_type(ptpg) == page_type(pg))
        dec_linear(m, pg, ptpg);
    if ((x & PGT_count_mask) == 1 && is_pt_type(x & PGT_type_mask) && (x & PGT_validated)) {
        pg->type_info = x & ~PGT_validated;
        validate_event(m, page_to_mfn(m, pg), type_level(x & PGT_type_mask), PVM_DEVALIDATE_BEGIN, 0);
        demote_table(m, pg, type_level(x & PGT_type_mask));
        validate_event(m, page_to_mfn(m, pg), type_level(x & PGT_type_mask), PVM_DEVALIDATE_END, 0);
    }
    bool last = type_count(pg) == 1;
    pg->type_info--;
    if (last)
        set_aux(pg, m->tlbflush_clock);
}

/*
 * Xen's get_page_and_type_from_mfn: a general reference for d, then the
 * type.  Returns 0 or -EINVAL, holding nothing on failure.
 */
int get_page_and_type_from_mfn(struct pvm_machine *m, uint64_t mfn, uint64_t type, const struct pvm_domain *d)
{
    struct page_info *pg = get_page_from_mfn(m, mfn, d);
    if (!pg)
        return -XEN_EINVAL;
    int rc = get_page_type(m, pg, type);
    if (rc)
        put_page(m, pg);
    return rc;
}

void put_page_and_type(struct pvm_machine *m, struct page_info *pg)
{
    put_page_type(m, pg, NULL);
    put_page(m, pg);
}
