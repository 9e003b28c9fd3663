/*
 * entry.c - the rules for one page-table entry at each level (Xen's
 * get_page_from_lNe / put_page_from_lNe), linear page tables, whole-table
 * promotion and demotion, and single-entry updates (mod_lN_entry).
 */
#include "internal.h"

uint64_t *frame_map(struct pvm_machine *m, uint64_t mfn, int write)
{
    return m->ops.map(m->ops.ctx, mfn, write);
}

int write_entry(struct pvm_machine *m, uint64_t mfn, unsigned int slot, uint64_t val)
{
    uint64_t *t = frame_map(m, mfn, 1);
    if (!t)
        return -XEN_EFAULT;
    t[slot] = val;
    return 0;
}

/* Domains with I/O resources may set cache attributes in L1 entries. */
static bool cache_flush_permitted(const struct pvm_domain *d)
{
    return is_privileged(d) || d->nr_iomem;
}

unsigned int l1_disallow_mask(const struct pvm_machine *m, const struct pvm_domain *d)
{
    (void)m;
    return cache_flush_permitted(d) ? (L1_DISALLOW_MASK & ~F_CACHE_ATTRS) : L1_DISALLOW_MASK;
}

/*
 * Xen's iomem_access_permitted(d, mfn, mfn), a rangeset_contains_range on
 * iomem_caps: is mfn in one of the domain's ranges?  dom0's are set at
 * creation (pvm_domain_create).
 */
bool iomem_access_permitted(const struct pvm_domain *d, uint64_t mfn)
{
    for (unsigned int i = 0; i < d->nr_iomem && i < PVM_MAX_IOMEM_RANGES; i++)
        if (mfn >= d->iomem[i].first && mfn <= d->iomem[i].last)
            return true;
    return false;
}

/* A 64-bit PV kernel runs in ring 3: Xen marks kernel mappings and makes user ones global. */
uint64_t adjust_guest_l1e(uint64_t e)
{
    if (!pte_present(e))
        return e;
    if (!(e & _PAGE_USER))
        e |= _PAGE_GUEST_KERNEL | _PAGE_USER;
    if (!(e & _PAGE_GUEST_KERNEL))
        e |= _PAGE_GLOBAL | _PAGE_USER;
    return e;
}

static uint64_t adjust_guest_lNe(uint64_t e, unsigned int level)
{
    if (!pte_present(e))
        return e;
    if (level == 1)
        return adjust_guest_l1e(e);
    e |= _PAGE_USER;
    if (level == 4)
        e |= _PAGE_ACCESSED;
    return e;
}

static unsigned int lN_disallow_mask(unsigned int level)
{
    return level == 2 ? L2_DISALLOW_MASK : level == 3 ? L3_DISALLOW_MASK : L4_DISALLOW_MASK;
}

/* Xen's PAT (XEN_MSR_PAT): PTE cache index -> memory type; UC, UC- and WC are uncacheable. */
static bool uncacheable(unsigned int l1f)
{
    unsigned int idx = ((l1f >> 5) & 4) | ((l1f >> 3) & 3);
    return idx == 2 || idx == 3 || idx == 4 || idx >= 6;
}

/* Is I/O frame mfn in Xen's mmio_ro_ranges? */
bool mmio_ro(const struct pvm_machine *m, uint64_t mfn)
{
    for (unsigned int i = 0; i < m->nr_mmio_ro; i++)
        if (mfn >= m->mmio_ro[i].first && mfn <= m->mmio_ro[i].last)
            return true;
    return false;
}

/*
 * References for a present L1 entry written into a table of l1e_owner and
 * mapping a frame of pg_owner (NULL stands for DOMID_IO): a general
 * reference, plus a writable type reference if the entry has _PAGE_RW.
 * I/O frames take none, are forced uncacheable, and read-only for Xen's
 * mmio_ro_ranges.  Returns 0, the flag
 * bits the caller must flip (> 0), -EINVAL (flags, or INVALID_MFN: a frame
 * field of all ones, outside the range), -EPERM (I/O without permission) or
 * -EBUSY (not mappable, e.g. an RW mapping of a page table).  Holds nothing
 * on failure.
 */
int get_page_from_l1e(struct pvm_machine *m, uint64_t l1e, struct pvm_domain *l1e_owner,
                      struct pvm_domain *pg_owner)
{
    if (!pte_present(l1e))
        return 0;
    unsigned int l1f = get_pte_flags(l1e), bad = l1f & l1_disallow_mask(m, l1e_owner);
    uint64_t mfn = pte_mfn(l1e);
    if (bad) {
        gdprintk(m, "Bad L1 flags %x", bad);   /* 4.20 made it %#x */
        refuse(m, -XEN_EINVAL, PVM_WHY_BAD_FLAGS, mfn);
        return -XEN_EINVAL;
    }
    if (is_io_frame(m, mfn)) {
        struct pvm_domain *pgo = pg_owner ? pg_owner : m->current->d;
        if (!iomem_access_permitted(pgo, mfn) ||
            (pgo != l1e_owner && !iomem_access_permitted(l1e_owner, mfn))) {
            bool invalid = mfn == (PADDR_MASK >> PAGE_SHIFT);
            refuse(m, invalid ? -XEN_EINVAL : -XEN_EPERM, PVM_WHY_MMIO, mfn);
            if (invalid)
                return -XEN_EINVAL;
            if (!iomem_access_permitted(pgo, mfn))
                gdprintk(m, "d%u non-privileged attempt to map MMIO space %05llx", pgo->id,
                         (unsigned long long)mfn);
            else
                gdprintk(m, "d%u attempted to map MMIO space %05llx in d%u to d%u", m->current->d->id,
                         (unsigned long long)mfn, pgo->id, l1e_owner->id);
            return -XEN_EPERM;
        }
        /* A read-only MMIO frame is never mapped writable; potentially cacheable MMIO is forced to UC. */
        unsigned int flip = mmio_ro(m, mfn) && (l1f & F_RW) ? F_RW : 0;
        if (flip)
            xen_log(m, PVM_LOG_INFO, "d%u: Forcing read-only access to MFN %llx", l1e_owner->id,
                    (unsigned long long)mfn);
        return (int)(flip | (uncacheable(l1f) ? 0 : (l1f & F_CACHE_ATTRS) ^ (F_PCD | F_PWT)));
    }
    struct page_info *pg = mfn_to_page(m, mfn);
    /* Xen's page_get_owner_and_reference: no owner for a free frame or a count about to overflow. */
    struct pvm_domain *real = gen_count(pg) && gen_count(pg) < PGC_count_mask - 2 ? page_owner_dom(m, pg) : NULL;
    domid_t pg_owner_id = pg_owner ? pg_owner->id : (domid_t)DOMID_IO;
    if (!real || real != pg_owner) {   /* real NULL (a free frame) must not match pg_owner NULL (DOMID_IO) */
        /* A privileged pg_owner may hand on the right to map its target's frames. */
        if (!real || pg_owner == l1e_owner || !pg_owner || !is_privileged(pg_owner)) {
            gdprintk(m, "pg_owner d%u l1e_owner d%u, but real_pg_owner d%d", pg_owner_id, l1e_owner->id,
                     real ? (int)real->id : -1);
            refuse(m, -XEN_EBUSY, PVM_WHY_NOT_OWNER, mfn);
            goto could_not_pin;
        }
        pg_owner = real;
        pg_owner_id = real->id;
    }
    pg->count_info++;
    if ((l1e & _PAGE_RW) && get_page_type(m, pg, PGT_writable_page)) {
        gdprintk(m, "Could not get page type PGT_writable_page");
        put_page(m, pg);
        goto could_not_pin;
    }
    return 0;

could_not_pin:
    gdprintk(m, "Error getting mfn %05llx (pfn %05llx) from L1 entry %016llx for l1e_owner d%u, pg_owner d%u",
             (unsigned long long)mfn, (unsigned long long)get_m2p(m, mfn), (unsigned long long)l1e, l1e_owner->id,
             pg_owner_id);
    m->last.rc = -XEN_EBUSY;
    return -XEN_EBUSY;
}

/* Drop what a present L1 entry holds. */
void put_page_from_l1e(struct pvm_machine *m, uint64_t l1e)
{
    if (!pte_present(l1e) || is_io_frame(m, pte_mfn(l1e)))
        return;
    struct page_info *pg = mfn_to_page(m, pte_mfn(l1e));
    BUG_ON(m, (l1e & _PAGE_RW) && page_type(pg) != PGT_writable_page,
           "put_page_from_l1e: writable entry %016llx names a frame of type %016llx", (unsigned long long)l1e,
           (unsigned long long)page_type(pg));
    if (l1e & _PAGE_RW)
        put_page_and_type(m, pg);
    else
        put_page(m, pg);
}

/*
 * A same-level ("linear") entry at `level` in table ptmfn pointing at mfn:
 * read-only, same owner, target already validated at that level and not
 * itself holding linear entries, container not itself a linear target.  A
 * self-map is always fine and holds nothing.  Returns true if accepted.
 */
static bool get_linear_pagetable(struct pvm_machine *m, uint64_t e, uint64_t ptmfn, unsigned int level,
                                 const struct pvm_domain *d)
{
    uint64_t mfn = pte_mfn(e);
    if (!m->opt_pv_linear_pt) {
        gdprintk(m, "Attempt to create linear p.t. (feature disabled)");
        refuse(m, -XEN_EINVAL, PVM_WHY_LINEAR_DISABLED, mfn);
        return false;
    }
    if (e & _PAGE_RW) {
        gdprintk(m, "Attempt to create linear p.t. with write perms");
        refuse(m, -XEN_EINVAL, PVM_WHY_LINEAR_RW, mfn);
        return false;
    }
    if (mfn == ptmfn)
        return true;
    struct page_info *ptpg = mfn_to_page(m, ptmfn);
    if (!page_owned_by(ptpg, d->id)) {
        refuse(m, -XEN_EINVAL, PVM_WHY_LINEAR_CHAIN, mfn);
        return false;
    }
    struct page_info *pg = get_page_from_mfn(m, mfn, d);
    if (!pg)
        return false;
    /* The container must not be a linear target, the target must hold no linear entries. */
    if (linear_count(ptpg) < 0 || linear_count(ptpg) == INT16_MAX || linear_count(pg) > 0 ||
        linear_count(pg) == INT16_MIN ||
        (pg->type_info & (PGT_type_mask | PGT_validated)) != (level_type(level) | PGT_validated) ||
        type_count(pg) == PGT_count_mask) {
        refuse(m, -XEN_EINVAL, PVM_WHY_LINEAR_CHAIN, mfn);
        put_page(m, pg);
        return false;
    }
    set_linear_count(ptpg, (int16_t)(linear_count(ptpg) + 1));
    set_linear_count(pg, (int16_t)(linear_count(pg) - 1));
    pg->type_info++;
    return true;
}

/*
 * References for a present L2/L3/L4 entry in table ptmfn of domain d: the
 * target must be d's and typeable as the next level down (validated now if
 * needed), or else a legal linear entry.  Returns 0 or -EINVAL.
 */
static int get_page_from_lNe(struct pvm_machine *m, uint64_t e, uint64_t ptmfn, unsigned int level,
                             const struct pvm_domain *d)
{
    if (!pte_present(e))
        return 0;
    unsigned int bad = get_pte_flags(e) & lN_disallow_mask(level);
    if (bad) {
        gdprintk(m, "Bad L%u flags %x", level, bad);
        refuse(m, -XEN_EINVAL, PVM_WHY_BAD_FLAGS, pte_mfn(e));
        return -XEN_EINVAL;
    }
    int rc = get_page_and_type_from_mfn(m, pte_mfn(e), level_type(level - 1), d);
    if (rc == -XEN_EINVAL && get_linear_pagetable(m, e, ptmfn, level, d))
        rc = 0;
    return rc;
}

/* Frames a superpage entry of an L2 (2 MiB) or L3 (1 GiB) maps. */
uint64_t superpage_frames(unsigned int level)
{
    return 1ULL << (9 * (level - 1));
}

/* Is e a superpage entry of a level-`level` table (only Xen's domain builder makes them)? */
bool is_superpage(uint64_t e, unsigned int level)
{
    return (level == 2 || level == 3) && pte_present(e) && (e & _PAGE_PSE);
}

/*
 * What a superpage entry holds, as Xen's domain builder gave it (see
 * pvm_build_superpage): a general reference on every frame it maps, and a
 * writable type reference too if it has _PAGE_RW.  Returns 0, or -EBUSY
 * (a frame not d's, or not typeable writable) holding nothing.
 */
int get_data_pages(struct pvm_machine *m, uint64_t e, unsigned int level, const struct pvm_domain *d)
{
    uint64_t first = pte_mfn(e), n = superpage_frames(level), k = 0;
    for (; k < n; k++) {
        struct page_info *pg = mfn_to_page(m, first + k);
        if (!get_page(m, pg, d))
            break;
        if ((e & _PAGE_RW) && get_page_type(m, pg, PGT_writable_page)) {
            put_page(m, pg);
            break;
        }
    }
    if (k == n)
        return 0;
    while (k-- > 0)
        if (e & _PAGE_RW)
            put_page_and_type(m, mfn_to_page(m, first + k));
        else
            put_page(m, mfn_to_page(m, first + k));
    return -XEN_EBUSY;
}

/* Xen's put_data_pages: drop what a superpage entry holds on each frame it maps. */
void put_data_pages(struct pvm_machine *m, uint64_t e, unsigned int level)
{
    uint64_t first = pte_mfn(e), n = superpage_frames(level);
    for (uint64_t k = 0; k < n; k++)
        if (e & _PAGE_RW)
            put_page_and_type(m, mfn_to_page(m, first + k));
        else
            put_page(m, mfn_to_page(m, first + k));
}

/* Drop what a present L2-L4 entry of table ptmfn holds (a self-map holds nothing). */
static void put_page_from_lNe(struct pvm_machine *m, uint64_t e, uint64_t ptmfn, unsigned int level)
{
    if (!pte_present(e) || pte_mfn(e) == ptmfn)
        return;
    if (is_superpage(e, level)) {
        put_data_pages(m, e, level);
        return;
    }
    struct page_info *pg = mfn_to_page(m, pte_mfn(e));
    put_page_type(m, pg, mfn_to_page(m, ptmfn));
    put_page(m, pg);
}

static int get_entry_refs(struct pvm_machine *m, uint64_t e, uint64_t ptmfn, unsigned int level,
                          struct pvm_domain *d)
{
    return level == 1 ? get_page_from_l1e(m, e, d, d) : get_page_from_lNe(m, e, ptmfn, level, d);
}

static void put_entry_refs(struct pvm_machine *m, uint64_t e, uint64_t ptmfn, unsigned int level)
{
    if (level == 1)
        put_page_from_l1e(m, e);
    else
        put_page_from_lNe(m, e, ptmfn, level);
}

static bool slot_checked(unsigned int level, unsigned int slot)
{
    return level != 4 || is_guest_l4_slot(slot);
}

/*
 * What Xen keeps in its L4 slot `slot` of table l4mfn: the self map
 * (__PAGE_HYPERVISOR_RW) in slot 258, and whatever the platform's xen_l4e
 * says for the others, accessed (nothing on the simulator).
 */
uint64_t xen_l4_slot_value(const struct pvm_machine *m, uint64_t l4mfn, unsigned int slot)
{
    if (slot == LINEAR_PT_SLOT)
        return (l4mfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX;
    uint64_t e = m->ops.xen_l4e ? m->ops.xen_l4e(m->ops.ctx, slot) : 0;
    return pte_present(e) ? e | _PAGE_ACCESSED : e;   /* as Xen's own entries: a walk never has to set A */
}

void init_xen_l4_slots(const struct pvm_machine *m, uint64_t *l4, uint64_t l4mfn)
{
    for (unsigned int s = ROOT_PAGETABLE_FIRST_XEN_SLOT; s <= ROOT_PAGETABLE_LAST_XEN_SLOT; s++)
        l4[s] = xen_l4_slot_value(m, l4mfn, s);
}

/* Drop what the first n checked slots of level-`level` table pg hold (a failed validation's prefix). */
void demote_prefix(struct pvm_machine *m, struct page_info *pg, unsigned int level, unsigned int n)
{
    uint64_t mfn = page_to_mfn(m, pg);
    const uint64_t *t = frame_map(m, mfn, 0);
    while (t && n-- > 0)
        if (slot_checked(level, n))
            put_entry_refs(m, t[n], mfn, level);
}

/*
 * Validate every present entry of table pg as a level-`level` table, taking
 * the references each holds, and rewrite the entries the way Xen adjusts
 * them.  On failure returns the error with the prefix undone, except when an
 * L2-L4 had validated slots first: then *partial is how many, and the caller
 * tears them down (demote_prefix) after the validation ends, as Xen's partial
 * path does (old_guest_table, a devalidation of its own).  An L4 gets Xen's
 * slots 256-271 overwritten.
 */
int promote_table(struct pvm_machine *m, struct page_info *pg, unsigned int level, unsigned int *partial)
{
    uint64_t mfn = page_to_mfn(m, pg);
    struct pvm_domain *d = domain_of(m, page_owner_id(pg));
    uint64_t *t = frame_map(m, mfn, level == 4);
    bool writable = level == 4;
    if (!t && level == 4)
        return -XEN_EFAULT;
    if (t) {
        for (unsigned int i = 0; i < L1_PAGETABLE_ENTRIES; i++) {
            uint64_t e = t[i];
            if (!pte_present(e) || !slot_checked(level, i))
                continue;
            m->stats.entries_validated++;
            int rc = get_entry_refs(m, e, mfn, level, d);
            if (rc > 0) {
                e ^= put_pte_flags((unsigned int)rc);
                rc = 0;
            }
            if (rc) {
                refuse_where(m, mfn, level, i, e);
                gdprintk(m, "Failure %d in promote_l%u_table: slot %#x", rc, level, i);
                *partial = level > 1 ? i : 0;
                if (!*partial)
                    demote_prefix(m, pg, level, i);
                return rc;
            }
            uint64_t a = adjust_guest_lNe(e, level);
            if (a != t[i]) {
                if (!writable) {
                    t = frame_map(m, mfn, 1);   /* once: the frame holds data, so this is its storage */
                    writable = true;
                }
                t[i] = a;
            }
        }
        if (level == 4) {
            init_xen_l4_slots(m, t, mfn);
            d->nr_l4_pages++;
        }
    }
    m->stats.promotions[level]++;
    return 0;
}

/* Drop every reference table pg holds through its entries (high slots first). */
void demote_table(struct pvm_machine *m, struct page_info *pg, unsigned int level)
{
    m->stats.demotions[level]++;
    if (level == 4) {
        struct pvm_domain *d = domain_of(m, page_owner_id(pg));
        if (d && d->nr_l4_pages)
            d->nr_l4_pages--;
    }
    demote_prefix(m, pg, level, L1_PAGETABLE_ENTRIES);
}

/*
 * Replace slot `slot` of validated L1 table_mfn with nl1e on behalf of
 * pt_dom, the new entry mapping a frame of pg_dom (NULL = DOMID_IO).  Same
 * frame/RW/cache bits is the fast path; otherwise take the new references,
 * write, drop the old ones.  Returns 0 or the refusal; nothing changes on
 * failure.  Does not flush the TLB.
 */
int mod_l1_entry(struct pvm_machine *m, uint64_t table_mfn, unsigned int slot, uint64_t nl1e,
                 bool preserve_ad, struct pvm_domain *pt_dom, struct pvm_domain *pg_dom)
{
    uint64_t ol1e = read_entry(m, table_mfn, slot);
    if (pte_present(nl1e)) {
        unsigned int bad = get_pte_flags(nl1e) & l1_disallow_mask(m, pt_dom);
        if (bad) {
            gdprintk(m, "Bad L1 flags %x", bad);   /* 4.20 made it %#x */
            refuse(m, -XEN_EINVAL, PVM_WHY_BAD_FLAGS, pte_mfn(nl1e));
            refuse_where(m, table_mfn, 1, slot, nl1e);
            return -XEN_EINVAL;
        }
        nl1e = adjust_guest_l1e(nl1e);
        if (preserve_ad)
            nl1e |= ol1e & (_PAGE_ACCESSED | _PAGE_DIRTY);
        if (pte_present(ol1e) && !pte_has_changed(ol1e, nl1e, FASTPATH_FLAG_WHITELIST)) {
            m->stats.fastpath++;
            return write_entry(m, table_mfn, slot, nl1e);
        }
        int rc = get_page_from_l1e(m, nl1e, pt_dom, pg_dom);
        if (rc < 0) {
            refuse_where(m, table_mfn, 1, slot, nl1e);
            return rc;
        }
        nl1e ^= put_pte_flags((unsigned int)rc);
    }
    int rc = write_entry(m, table_mfn, slot, nl1e);
    if (rc) {
        put_page_from_l1e(m, nl1e);
        return rc;
    }
    put_page_from_l1e(m, ol1e);
    return 0;
}

/*
 * Replace slot `slot` of validated level-`level` (2-4) table_mfn with ne.
 * Xen's L4 slots are refused; a changed frame, presence, RW or cache bit
 * re-validates (XSA-148/182).  Returns 0 or the refusal, nothing changed on
 * failure.  The caller flushes (XSA-286).
 */
int mod_lN_entry(struct pvm_machine *m, uint64_t table_mfn, unsigned int level, unsigned int slot,
                 uint64_t ne, bool preserve_ad)
{
    struct page_info *pg = mfn_to_page(m, table_mfn);
    struct pvm_domain *d = domain_of(m, page_owner_id(pg));
    if (level == 4 && !is_guest_l4_slot(slot)) {
        gdprintk(m, "L4 update in Xen-private area, slot %#x", slot);
        refuse(m, -XEN_EINVAL, PVM_WHY_XEN_SLOT, pte_mfn(ne));
        refuse_where(m, table_mfn, level, slot, ne);
        return -XEN_EINVAL;
    }
    uint64_t oe = read_entry(m, table_mfn, slot);
    if (pte_present(ne)) {
        unsigned int bad = get_pte_flags(ne) & lN_disallow_mask(level);
        if (bad) {
            gdprintk(m, "Bad L%u flags %x", level, bad);
            refuse(m, -XEN_EINVAL, PVM_WHY_BAD_FLAGS, pte_mfn(ne));
            refuse_where(m, table_mfn, level, slot, ne);
            return -XEN_EINVAL;
        }
        ne = adjust_guest_lNe(ne, level);
        if (preserve_ad)
            ne |= oe & (_PAGE_ACCESSED | _PAGE_DIRTY);
        if (pte_present(oe) && !pte_has_changed(oe, ne, FASTPATH_PDE_FLAG_WHITELIST)) {
            m->stats.fastpath++;
            return write_entry(m, table_mfn, slot, ne);
        }
        int rc = get_page_from_lNe(m, ne, table_mfn, level, d);
        if (rc) {
            refuse_where(m, table_mfn, level, slot, ne);
            return rc;
        }
    }
    int rc = write_entry(m, table_mfn, slot, ne);
    if (rc) {
        put_page_from_lNe(m, ne, table_mfn, level);
        return rc;
    }
    put_page_from_lNe(m, oe, table_mfn, level);
    return 0;
}
