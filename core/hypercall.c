/*
 * hypercall.c - Xen's PV MMU hypercalls: mmu_update, mmuext_op,
 * update_va_mapping(_otherdomain), multicall, vm_assist, and the dispatcher.
 */
#include "internal.h"

static int fail(struct pvm_machine *m, int rc, enum pvm_why why, uint64_t mfn)
{
    refuse(m, rc, why, mfn);
    return rc;
}

/* ---- guest handles: reached only through the platform's copy callbacks ---- */

/* Xen's copy_from_guest: 0, or -EFAULT (no callback, or a byte not accessible). */
static int copy_from_guest(struct pvm_machine *m, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t n)
{
    return m->ops.copy_from_guest && m->ops.copy_from_guest(m->ops.ctx, v, dst, gaddr, n) == 0 ? 0 : -XEN_EFAULT;
}

static int copy_to_guest(struct pvm_machine *m, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t n)
{
    return m->ops.copy_to_guest && m->ops.copy_to_guest(m->ops.ctx, v, gaddr, src, n) == 0 ? 0 : -XEN_EFAULT;
}

/*
 * Xen's guest_handle_okay (array_access_ok): the array's size does not
 * overflow and its start is a guest address (canonical, outside the
 * hypervisor's range).  Only the start is checked, even for count 0; each
 * element is then copied on its own and the first one that cannot be read
 * ends the batch.
 */
static bool guest_handle_okay(uint64_t h, uint64_t count, uint64_t size)
{
    return count < ~0ULL / size && addr_ok(h);
}

/*
 * Where a batch's elements come from: the caller's own array (host), or a
 * guest handle read element by element, as Xen's __copy_from_guest does.
 */
struct batch_src {
    const void *host;        /* the caller's array (NULL: none) */
    uint64_t handle;         /* or, with guest set, the guest's (0 is an address like any other) */
    bool guest;
};

/* Element i of size bytes into out: 0, or -EFAULT (a guest element that cannot be read). */
static int fetch(struct pvm_machine *m, const struct pvm_vcpu *v, const struct batch_src *src, unsigned int i,
                 size_t size, void *out)
{
    if (!src->guest) {
        const unsigned char *from = (const unsigned char *)src->host + (size_t)i * size;
        unsigned char *to = out;
        for (size_t k = 0; k < size; k++)
            to[k] = from[k];
        return 0;
    }
    return copy_from_guest(m, v, out, src->handle + (uint64_t)i * size, size);
}

/*
 * Xen's vcpumask_to_pcpumask: the vCPUs of d named by the bitmap at guest
 * handle h (bits beyond d's vCPUs ignored).  0, or -EFAULT with *mask 0.
 */
static int read_vcpumask(struct pvm_machine *m, const struct pvm_vcpu *v, const struct pvm_domain *d, uint64_t h,
                         uint64_t *mask)
{
    _Static_assert(PVM_MAX_VCPUS <= 64, "one bitmap word covers every vCPU");
    uint64_t w;
    *mask = 0;
    if (copy_from_guest(m, v, &w, h, sizeof(w)))
        return -XEN_EFAULT;
    *mask = d->nr_vcpus >= 64 ? w : w & ((1ULL << d->nr_vcpus) - 1);
    return 0;
}

/*
 * Resolve a foreign-domain id the way Xen's get_pg_owner does: DOMID_SELF is
 * the caller; the caller's own id is refused; DOMID_IO yields NULL (and
 * only DOMID_IO does).  Returns 0 or -ESRCH / -EPERM.
 */
static int get_pg_owner(struct pvm_machine *m, struct pvm_domain *curr, unsigned int fd,
                        struct pvm_domain **out)
{
    if (fd == DOMID_SELF) {
        *out = curr;
        return 0;
    }
    if (fd == curr->id) {
        gdprintk(m, "Cannot specify itself as foreign domain");
        return fail(m, -XEN_ESRCH, PVM_WHY_BAD_DOMAIN, PVM_INVALID_MFN);
    }
    if (fd == DOMID_IO) {
        *out = NULL;
        return 0;
    }
    struct pvm_domain *d = fd < DOMID_FIRST_RESERVED ? domain_of(m, (domid_t)fd) : NULL;
    if (!d) {
        if (fd == DOMID_XEN && !is_privileged(curr))
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, PVM_INVALID_MFN);
        gdprintk(m, "Unknown domain d%u", fd);
        return fail(m, -XEN_ESRCH, PVM_WHY_BAD_DOMAIN, PVM_INVALID_MFN);
    }
    *out = d;
    return 0;
}

/* XSM_TARGET for mmu_update: a domain acts on itself; the control domain on anyone; DOMID_IO is exempt. */
static bool xsm_target_ok(const struct pvm_domain *curr, const struct pvm_domain *target)
{
    return !target || target == curr || is_privileged(curr);
}

/*
 * get_pg_owner, then XSM_TARGET on the result: the whole owner check of a
 * single-owner hypercall (mmuext_op, update_va_mapping_otherdomain).  Unlike
 * mmu_update's hook, theirs does not exempt DOMID_IO: only the control domain
 * may name it.
 */
static int get_pg_owner_target(struct pvm_machine *m, struct pvm_domain *curr, unsigned int fd,
                               struct pvm_domain **out)
{
    int rc = get_pg_owner(m, curr, fd, out);
    if (!rc && (*out ? !xsm_target_ok(curr, *out) : !is_privileged(curr)))
        rc = fail(m, -XEN_EPERM, PVM_WHY_PERM, PVM_INVALID_MFN);
    return rc;
}

/* Frame gfn of domain d with a general reference (PV: gfn == mfn), or NULL. */
static struct page_info *get_page_from_gfn(struct pvm_machine *m, uint64_t gfn, const struct pvm_domain *d)
{
    if (!d || !mfn_valid(m, gfn) || owner_raw(&m->frames[gfn]) == PVM_OWNER_IO) {
        refuse(m, -XEN_EINVAL, PVM_WHY_NO_PAGE, gfn);
        return NULL;
    }
    struct page_info *pg = mfn_to_page(m, gfn);
    return get_page(m, pg, d) ? pg : NULL;
}

/* One NORMAL/PRESERVE_AD request: write entry `ptr` of a pt_owner frame. */
static int do_pt_update(struct pvm_machine *m, uint64_t ptr, uint64_t val, bool preserve_ad,
                        struct pvm_domain *pt_owner, struct pvm_domain *pg_owner, bool *flush_linear_pt)
{
    uint64_t mfn = ptr >> PAGE_SHIFT;
    unsigned int slot = (unsigned int)((ptr & (PAGE_SIZE - 1)) >> 3);
    struct page_info *pg = get_page_from_gfn(m, mfn, pt_owner);
    if (!pg) {
        gdprintk(m, "Could not get page for normal update");
        return -XEN_EINVAL;
    }
    int rc;
    if (page_lock_ok(pg)) {
        uint64_t t = page_type(pg);
        if (t == PGT_l1_page_table) {
            rc = mod_l1_entry(m, mfn, slot, val, preserve_ad, pt_owner, pg_owner);
        } else if (is_pt_type(t)) {
            if (pg_owner != pt_owner)
                rc = fail(m, -XEN_EINVAL, PVM_WHY_BAD_DOMAIN, mfn);
            else {
                rc = mod_lN_entry(m, mfn, type_level(t), slot, val, preserve_ad);
                if (!rc)
                    *flush_linear_pt = true;
            }
        } else if (t == PGT_writable_page) {
            rc = write_entry(m, mfn, slot, val);
        } else {
            rc = fail(m, -XEN_EINVAL, PVM_WHY_NOT_TABLE, mfn);
        }
    } else if (get_page_type(m, pg, PGT_writable_page) == 0) {
        rc = write_entry(m, mfn, slot, val);
        put_page_type(m, pg, NULL);
    } else {
        rc = fail(m, -XEN_EINVAL, PVM_WHY_NOT_TABLE, mfn);
    }
    put_page(m, pg);
    return rc;
}

static int do_machphys_update(struct pvm_machine *m, uint64_t ptr, uint64_t val, struct pvm_domain *curr,
                              struct pvm_domain *pt_owner, struct pvm_domain *pg_owner)
{
    uint64_t mfn = ptr >> PAGE_SHIFT;
    if (pt_owner != curr)
        return fail(m, -XEN_EPERM, PVM_WHY_PERM, mfn);
    if (pg_owner && !xsm_target_ok(curr, pg_owner))
        return fail(m, -XEN_EPERM, PVM_WHY_PERM, mfn);
    if (!pg_owner && mfn_valid(m, mfn) && owner_raw(mfn_to_page(m, mfn)) == PVM_OWNER_IO) {
        set_m2p(m, mfn, val);   /* DOMID_IO names its own frames: Xen's reference on them cannot fail */
        return 0;
    }
    struct page_info *pg = pg_owner ? get_page_from_mfn(m, mfn, pg_owner) : NULL;
    if (!pg) {
        refuse(m, -XEN_EINVAL, PVM_WHY_NO_PAGE, mfn);
        gdprintk(m, "Could not get page for mach->phys update");
        return -XEN_EINVAL;
    }
    set_m2p(m, mfn, val);
    put_page(m, pg);
    return 0;
}

#define ALL_VCPUS (~0ULL)

/* Apply a flush (full, or one va) to every vCPU of d whose bit is set in mask (ALL_VCPUS = all). */
static void flush_vcpus(struct pvm_domain *d, uint64_t mask, bool one, uint64_t va)
{
    for (unsigned int i = 0; i < d->nr_vcpus; i++) {
        if (!((mask >> i) & 1))
            continue;
        if (one)
            tlb_invlpg_one(&d->vcpu[i], va);
        else
            tlb_flush_one(&d->vcpu[i]);
    }
}

/*
 * mmu_update over a batch source: runs requests in order until the first
 * failure; *done gets the number completed.  A request that cannot be read
 * ends the batch with -EFAULT.
 */
static int mmu_update_from(struct pvm_vcpu *v, const struct batch_src *src, unsigned int count, unsigned int *pdone,
                           bool *report, unsigned int foreigndom)
{
    struct pvm_machine *m = enter_vcpu(v);
    struct pvm_domain *curr = v->d, *pt_owner = curr, *pg_owner;
    bool flush_linear_pt = false;
    unsigned int done = 0;
    int rc = 0;
    m->stats.hc_mmu_update++;

    unsigned int pfd = foreigndom >> 16;
    if (pfd) {
        pt_owner = domain_of(m, (domid_t)(pfd - 1));
        if (!pt_owner) {
            rc = fail(m, -XEN_ESRCH, PVM_WHY_BAD_DOMAIN, PVM_INVALID_MFN);
            *report = false;   /* Xen returns before its done count */
            goto out;
        }
    }
    *report = true;
    rc = get_pg_owner(m, curr, foreigndom & 0xFFFF, &pg_owner);
    if (rc)
        goto out;
    if (count && !src->guest && !src->host) {
        rc = fail(m, -XEN_EFAULT, PVM_WHY_FAULT, PVM_INVALID_MFN);
        goto out;
    }
    for (; done < count; done++) {
        struct mmu_update req;
        m->stats.mmu_update_reqs++;
        refuse_reset(m);
        if (fetch(m, v, src, done, sizeof(req), &req)) {
            rc = fail(m, -XEN_EFAULT, PVM_WHY_FAULT, PVM_INVALID_MFN);
            break;
        }
        uint64_t ptr = req.ptr, val = req.val;
        unsigned int cmd = (unsigned int)(ptr & 7);
        switch (cmd) {
        case MMU_NORMAL_PT_UPDATE:
        case MMU_PT_UPDATE_PRESERVE_AD:
        case MMU_PT_UPDATE_NO_TRANSLATE:
            /* XSM_TARGET on both owners. */
            if (!xsm_target_ok(curr, pt_owner) || !xsm_target_ok(curr, pg_owner)) {
                rc = fail(m, -XEN_EPERM, PVM_WHY_PERM, ptr >> PAGE_SHIFT);
                break;
            }
            rc = do_pt_update(m, ptr & ~7ULL, val, cmd == MMU_PT_UPDATE_PRESERVE_AD, pt_owner, pg_owner,
                              &flush_linear_pt);
            break;
        case MMU_MACHPHYS_UPDATE:
            rc = do_machphys_update(m, ptr, val, curr, pt_owner, pg_owner);
            break;
        default:
            rc = fail(m, -XEN_ENOSYS, PVM_WHY_BAD_CMD, ptr >> PAGE_SHIFT);
        }
        if (rc)
            break;
    }
    if (flush_linear_pt) {   /* every vCPU of the owner may cache translations (Xen's dirty mask) */
        flush_vcpus(pt_owner, ALL_VCPUS, false, 0);
        m->stats.tlb_flushes_linear_pt += pt_owner->nr_vcpus;
    }
out:
    if (rc)
        m->stats.refusals++;
    *pdone = done;
    return rc;
}

int pvm_mmu_update(struct pvm_vcpu *v, const struct mmu_update *reqs, unsigned int count, unsigned int *pdone,
                   unsigned int foreigndom)
{
    struct batch_src src = { reqs, 0, false };
    unsigned int done;
    bool report;
    int rc = mmu_update_from(v, &src, count, &done, &report, foreigndom);
    if (pdone)
        *pdone = done;
    return rc;
}

/* Load mfn as v's kernel root (Xen's new_guest_cr3).  The TLB is flushed. */
static int new_guest_cr3(struct pvm_machine *m, struct pvm_vcpu *v, uint64_t mfn)
{
    if (mfn == v->guest_table && mfn != PVM_INVALID_MFN) {
        tlb_flush_one(v);
        return 0;
    }
    int rc = get_page_and_type_from_mfn(m, mfn, PGT_root_page_table, v->d);
    if (rc) {
        gdprintk(m, "Error while installing new baseptr %05llx", (unsigned long long)mfn);
        return rc;
    }
    switch_root(m, v, true, mfn);
    return 0;
}

static int new_user_baseptr(struct pvm_machine *m, struct pvm_vcpu *v, uint64_t mfn)
{
    if (mfn == 0) {
        switch_root(m, v, false, PVM_INVALID_MFN);
        return 0;
    }
    if (mfn == v->guest_table_user && mfn != PVM_INVALID_MFN)   /* ~0 is also our "no user root" */
        return 0;
    int rc = get_page_and_type_from_mfn(m, mfn, PGT_root_page_table, v->d);
    if (rc) {
        gdprintk(m, "Error %d installing new mfn %05llx", rc, (unsigned long long)mfn);
        return rc;
    }
    switch_root(m, v, false, mfn);
    return 0;
}

static int do_pin(struct pvm_machine *m, uint64_t mfn, unsigned int level, struct pvm_domain *pg_owner)
{
    struct page_info *pg = get_page_from_gfn(m, mfn, pg_owner);
    if (!pg)
        return -XEN_EINVAL;
    int rc = get_page_type(m, pg, level_type(level));
    if (rc) {   /* the cause names the frame, and the slot if its validation failed at one */
        gdprintk(m, "Error %d while pinning mfn %05llx", rc, (unsigned long long)mfn);
        put_page(m, pg);
        return rc;
    }
    if (pg->type_info & PGT_pinned) {
        gdprintk(m, "mfn %05llx already pinned", (unsigned long long)mfn);
        put_page_and_type(m, pg);
        return fail(m, -XEN_EINVAL, PVM_WHY_ALREADY_PINNED, mfn);
    }
    pg->type_info |= PGT_pinned;
    m->stats.pins++;
    return 0;
}

static int do_unpin(struct pvm_machine *m, uint64_t mfn, struct pvm_domain *pg_owner)
{
    struct page_info *pg = get_page_from_gfn(m, mfn, pg_owner);
    if (!pg) {
        gdprintk(m, "mfn %05llx bad, or bad owner d%u", (unsigned long long)mfn,
                 pg_owner ? pg_owner->id : DOMID_IO);
        return -XEN_EINVAL;
    }
    if (!(pg->type_info & PGT_pinned)) {
        put_page(m, pg);
        gdprintk(m, "mfn %05llx not pinned", (unsigned long long)mfn);
        return fail(m, -XEN_EINVAL, PVM_WHY_NOT_PINNED, mfn);
    }
    pg->type_info &= ~PGT_pinned;
    m->stats.unpins++;
    put_page_and_type(m, pg);
    put_page(m, pg);
    return 0;
}

/* CLEAR_PAGE / COPY_PAGE: the destination takes a temporary writable type. */
static int do_clear_copy(struct pvm_machine *m, const struct mmuext_op *op, struct pvm_domain *pg_owner)
{
    struct page_info *src = NULL;
    if (op->cmd == MMUEXT_COPY_PAGE) {
        src = get_page_from_gfn(m, op->arg2.src_mfn, pg_owner);
        if (!src) {
            gdprintk(m, "Error copying from mfn %05llx", (unsigned long long)op->arg2.src_mfn);
            return -XEN_EINVAL;
        }
    }
    struct page_info *dst = get_page_from_gfn(m, op->arg1.mfn, pg_owner);
    if (!dst || get_page_type(m, dst, PGT_writable_page)) {
        if (dst)
            put_page(m, dst);
        if (src)
            put_page(m, src);
        if (op->cmd == MMUEXT_COPY_PAGE)
            gdprintk(m, "Error copying to mfn %05llx", (unsigned long long)op->arg1.mfn);
        else
            gdprintk(m, "Error clearing mfn %05llx", (unsigned long long)op->arg1.mfn);
        return -XEN_EINVAL;
    }
    int rc = 0;
    uint64_t *to = frame_map(m, op->arg1.mfn, 1);
    const uint64_t *from = src ? frame_map(m, op->arg2.src_mfn, 0) : NULL;
    if (!to)
        rc = -XEN_EFAULT;
    else
        for (unsigned int i = 0; i < L1_PAGETABLE_ENTRIES; i++)
            to[i] = from ? from[i] : 0;
    put_page_and_type(m, dst);
    if (src)
        put_page(m, src);
    return rc;
}

static int do_one_mmuext(struct pvm_machine *m, struct pvm_vcpu *v, const struct mmuext_op *op,
                         struct pvm_domain *pg_owner)
{
    struct pvm_domain *curr = v->d;
    bool self = pg_owner == curr;
    switch (op->cmd) {
    case MMUEXT_PIN_L1_TABLE:
    case MMUEXT_PIN_L2_TABLE:
    case MMUEXT_PIN_L3_TABLE:
    case MMUEXT_PIN_L4_TABLE:
        return do_pin(m, op->arg1.mfn, op->cmd - MMUEXT_PIN_L1_TABLE + 1, pg_owner);
    case MMUEXT_UNPIN_TABLE:
        return do_unpin(m, op->arg1.mfn, pg_owner);
    case MMUEXT_NEW_BASEPTR:
        if (!self)
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, op->arg1.mfn);
        return new_guest_cr3(m, v, op->arg1.mfn);
    case MMUEXT_NEW_USER_BASEPTR:
        if (!self)
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, op->arg1.mfn);
        return new_user_baseptr(m, v, op->arg1.mfn);
    case MMUEXT_TLB_FLUSH_LOCAL:
    case MMUEXT_INVLPG_LOCAL:
        if (!self)
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, PVM_INVALID_MFN);
        if (op->cmd == MMUEXT_TLB_FLUSH_LOCAL)
            tlb_flush_one(v);
        else if (addr_ok(op->arg1.linear_addr))
            tlb_invlpg_one(v, op->arg1.linear_addr);
        return 0;
    case MMUEXT_TLB_FLUSH_MULTI:
    case MMUEXT_INVLPG_MULTI: {
        if (!self)
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, PVM_INVALID_MFN);
        uint64_t mask;
        if (read_vcpumask(m, v, curr, op->arg2.vcpumask, &mask))   /* Xen answers -EINVAL here */
            return fail(m, -XEN_EINVAL, PVM_WHY_FAULT, PVM_INVALID_MFN);
        if (op->cmd == MMUEXT_TLB_FLUSH_MULTI || addr_ok(op->arg1.linear_addr))
            flush_vcpus(curr, mask, op->cmd == MMUEXT_INVLPG_MULTI, op->arg1.linear_addr);
        return 0;
    }
    case MMUEXT_TLB_FLUSH_ALL:
    case MMUEXT_INVLPG_ALL:
        if (!self)
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, PVM_INVALID_MFN);
        if (op->cmd == MMUEXT_TLB_FLUSH_ALL || addr_ok(op->arg1.linear_addr))
            flush_vcpus(curr, ALL_VCPUS, op->cmd == MMUEXT_INVLPG_ALL, op->arg1.linear_addr);
        return 0;
    case MMUEXT_FLUSH_CACHE:
    case MMUEXT_FLUSH_CACHE_GLOBAL:
        if (!self)
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, PVM_INVALID_MFN);
        if (!is_privileged(curr) && !curr->nr_iomem)   /* Xen 4.21 made both -EACCES */
            return fail(m, op->cmd == MMUEXT_FLUSH_CACHE ? -XEN_EACCES : -XEN_EINVAL, PVM_WHY_PERM,
                        PVM_INVALID_MFN);
        return 0;
    case MMUEXT_SET_LDT: {
        if (!self)
            return fail(m, -XEN_EPERM, PVM_WHY_PERM, PVM_INVALID_MFN);
        unsigned int ents = op->arg2.nr_ents;
        uint64_t ptr = ents ? op->arg1.linear_addr : 0;   /* no entries: the pointer is not looked at */
        if ((ptr & (PAGE_SIZE - 1)) || !addr_ok(ptr) || ents > 8192) {
            gdprintk(m, "Bad args to SET_LDT: ptr=%llx, ents=%x", (unsigned long long)ptr, ents);
            return fail(m, -XEN_EINVAL, PVM_WHY_BAD_ARG, PVM_INVALID_MFN);
        }
        v->ldt_base = ptr;
        v->ldt_ents = ents;
        return 0;
    }
    case MMUEXT_CLEAR_PAGE:
    case MMUEXT_COPY_PAGE:
        return do_clear_copy(m, op, pg_owner);
    case MMUEXT_MARK_SUPER:
    case MMUEXT_UNMARK_SUPER:
        return fail(m, -XEN_EOPNOTSUPP, PVM_WHY_NOT_SUPPORTED, PVM_INVALID_MFN);
    default:
        return fail(m, -XEN_ENOSYS, PVM_WHY_BAD_CMD, PVM_INVALID_MFN);
    }
}

/* mmuext_op over a batch source, as mmu_update_from. */
static int mmuext_op_from(struct pvm_vcpu *v, const struct batch_src *src, unsigned int count, unsigned int *pdone,
                          bool *report, unsigned int foreigndom)
{
    struct pvm_machine *m = enter_vcpu(v);
    struct pvm_domain *pg_owner;
    unsigned int done = 0;
    m->stats.hc_mmuext_op++;
    int rc = get_pg_owner_target(m, v->d, foreigndom & 0xFFFF, &pg_owner);
    *report = !rc;   /* Xen returns before its done count when the owner checks fail */
    if (!rc && count && !src->guest && !src->host)
        rc = fail(m, -XEN_EFAULT, PVM_WHY_FAULT, PVM_INVALID_MFN);
    for (; !rc && done < count; done++) {
        struct mmuext_op op;
        m->stats.mmuext_ops++;
        refuse_reset(m);
        rc = fetch(m, v, src, done, sizeof(op), &op);
        if (rc)
            rc = fail(m, rc, PVM_WHY_FAULT, PVM_INVALID_MFN);
        else
            rc = do_one_mmuext(m, v, &op, pg_owner);
        if (rc)
            break;
    }
    if (rc)
        m->stats.refusals++;
    *pdone = done;
    return rc;
}

int pvm_mmuext_op(struct pvm_vcpu *v, const struct mmuext_op *ops, unsigned int count, unsigned int *pdone,
                  unsigned int foreigndom)
{
    struct batch_src src = { ops, 0, false };
    unsigned int done;
    bool report;
    int rc = mmuext_op_from(v, &src, count, &done, &report, foreigndom);
    if (pdone)
        *pdone = done;
    return rc;
}

/* The validated L1 table that maps va in v's current tables (Xen's map_guest_l1e). */
static int guest_l1_table(struct pvm_machine *m, struct pvm_vcpu *v, uint64_t va, uint64_t *l1mfn)
{
    uint64_t root = current_root(v);
    if (!addr_ok(va))
        return fail(m, -XEN_EINVAL, PVM_WHY_BAD_VA, PVM_INVALID_MFN);
    if (root == PVM_INVALID_MFN)
        return fail(m, -XEN_EINVAL, PVM_WHY_NOT_L1, PVM_INVALID_MFN);
    uint64_t mfn = root;
    for (unsigned int level = 4; level > 1; level--) {
        uint64_t e = read_entry(m, mfn, table_index(va, level));
        if (!pte_present(e) || (level == 2 && (e & _PAGE_PSE)) || !mfn_valid(m, pte_mfn(e)))
            return fail(m, -XEN_EINVAL, PVM_WHY_NOT_L1, mfn);
        mfn = pte_mfn(e);
    }
    struct page_info *pg = mfn_to_page(m, mfn);
    if (!is_own_l1(pg, v->d->id))
        return fail(m, -XEN_EINVAL, PVM_WHY_NOT_L1, mfn);
    *l1mfn = mfn;
    return 0;
}

static int do_update_va_mapping(struct pvm_vcpu *v, uint64_t va, uint64_t val, unsigned long flags,
                                struct pvm_domain *pg_owner)
{
    struct pvm_machine *m = v->m;
    uint64_t l1mfn;
    int rc = guest_l1_table(m, v, va, &l1mfn);
    if (!rc)
        rc = mod_l1_entry(m, l1mfn, table_index(va, 1), val, false, v->d, pg_owner);
    if (rc) {
        m->stats.refusals++;
        return rc;
    }
    unsigned long type = flags & UVMF_FLUSHTYPE_MASK, target = flags & ~UVMF_FLUSHTYPE_MASK;
    if (type != UVMF_TLB_FLUSH && type != UVMF_INVLPG)
        return 0;
    bool one = type == UVMF_INVLPG;
    if (target == UVMF_LOCAL) {
        if (one)
            tlb_invlpg_one(v, va);
        else
            tlb_flush_one(v);
        return 0;
    }
    uint64_t mask = ALL_VCPUS;
    if (target != UVMF_ALL && read_vcpumask(m, v, v->d, target, &mask)) {
        /* The entry stays written; nothing is flushed (Xen clears the mask it could not read). */
        m->stats.refusals++;
        return fail(m, -XEN_EFAULT, PVM_WHY_FAULT, PVM_INVALID_MFN);
    }
    flush_vcpus(v->d, mask, one, va);
    return 0;
}

int pvm_update_va_mapping(struct pvm_vcpu *v, uint64_t va, uint64_t val, unsigned long flags)
{
    struct pvm_machine *m = enter_vcpu(v);
    m->stats.hc_update_va_mapping++;
    return do_update_va_mapping(v, va, val, flags, v->d);
}

int pvm_update_va_mapping_otherdomain(struct pvm_vcpu *v, uint64_t va, uint64_t val, unsigned long flags,
                                      domid_t domid)
{
    struct pvm_machine *m = enter_vcpu(v);
    struct pvm_domain *pg_owner;
    m->stats.hc_update_va_mapping++;
    int rc = get_pg_owner_target(m, v->d, domid, &pg_owner);
    if (rc) {
        m->stats.refusals++;
        return rc;
    }
    return do_update_va_mapping(v, va, val, flags, pg_owner);
}

int pvm_vm_assist(struct pvm_vcpu *v, unsigned int cmd, unsigned int type)
{
    struct pvm_machine *m = enter_vcpu(v);
    /* PV64_VM_ASSIST_MASK: the 32-bit segment types stay accepted (and do nothing) on 64-bit */
    const unsigned long long valid = (1ULL << VMASST_TYPE_4gb_segments) |
                                     (1ULL << VMASST_TYPE_4gb_segments_notify) |
                                     (1ULL << VMASST_TYPE_writable_pagetables) |
                                     (1ULL << VMASST_TYPE_pae_extended_cr3) |
                                     (1ULL << VMASST_TYPE_architectural_iopl) |
                                     (1ULL << VMASST_TYPE_runstate_update_flag) |
                                     (1ULL << VMASST_TYPE_m2p_strict);
    m->stats.hc_vm_assist++;
    if (type >= 64 || !((valid >> type) & 1))
        return fail(m, -XEN_EINVAL, PVM_WHY_BAD_ARG, PVM_INVALID_MFN);
    if (cmd == VMASST_CMD_enable) {
        v->d->vm_assist |= 1UL << type;
        return 0;
    }
    if (cmd == VMASST_CMD_disable) {
        v->d->vm_assist &= ~(1UL << type);
        return 0;
    }
    return fail(m, -XEN_ENOSYS, PVM_WHY_BAD_CMD, PVM_INVALID_MFN);
}

/*
 * Run the multicall list at src (the caller's array, or a guest handle):
 * each entry is read, dispatched and its result written back, as Xen's
 * do_multicall.  list is where host results go (NULL for a guest list).
 */
static int multicall_from(struct pvm_vcpu *v, const struct batch_src *src, struct multicall_entry *list,
                          unsigned int nr)
{
    struct pvm_machine *m = enter_vcpu(v);
    m->stats.hc_multicall++;
    if (v->in_multicall) {
        xen_log(m, PVM_LOG_INFO, "Multicall reentry is disallowed.");
        return fail(m, -XEN_EINVAL, PVM_WHY_BAD_ARG, PVM_INVALID_MFN);
    }
    if (src->guest ? !guest_handle_okay(src->handle, nr, sizeof(*list)) : nr && !src->host)
        return fail(m, -XEN_EFAULT, PVM_WHY_FAULT, PVM_INVALID_MFN);
    int rc = 0;
    v->in_multicall = true;
    for (unsigned int i = 0; i < nr; i++) {
        struct multicall_entry call;
        if (fetch(m, v, src, i, sizeof(call), &call)) {
            rc = -XEN_EFAULT;
            break;
        }
        m->stats.multicall_entries++;
        bool exit = call.op == __HYPERVISOR_iret;
        /* mc_exit: the batch ends here with iret's result; iret itself is not modelled. */
        call.result = exit ? (xen_ulong_t)(long)-XEN_ENOSYS : (xen_ulong_t)pvm_hypercall(v, call.op, call.args);
        int wrote = 0;
        if (list)
            list[i].result = call.result;
        else
            wrote = copy_to_guest(m, v, src->handle + (uint64_t)i * sizeof(call) +
                                  __builtin_offsetof(struct multicall_entry, result), &call.result, sizeof(call.result));
        if (exit) {
            rc = (int)(long)call.result;   /* the result's copy is best effort here */
            break;
        }
        if (wrote) {
            rc = -XEN_EFAULT;
            break;
        }
        if (!v->kernel_mode)
            break;
    }
    v->in_multicall = false;
    m->current = v;
    return rc;
}

int pvm_multicall(struct pvm_vcpu *v, struct multicall_entry *list, unsigned int nr)
{
    struct batch_src src = { list, 0, false };
    return multicall_from(v, &src, list, nr);
}

/*
 * A batch hypercall (mmu_update, mmuext_op) from the guest: the array at
 * handle a[0] (checked as Xen's guest_handle_okay), and the done count
 * written to handle a[2] if it is not null (a failed write is ignored), where
 * Xen writes it.  MMU_UPDATE_PREEMPTED in the count is a continuation, as in
 * Xen: with a null array the call returns foreigndom; otherwise the count
 * loses the flag and the done count goes on from the guest's *pdone.
 */
static long guest_batch(struct pvm_vcpu *v, bool ext, const xen_ulong_t a[6])
{
    struct pvm_machine *m = enter_vcpu(v);
    unsigned int count = (unsigned int)a[1], before = 0, done = 0;
    struct batch_src src = { NULL, a[0], true };
    bool report;
    int rc;
    uint64_t *calls = ext ? &m->stats.hc_mmuext_op : &m->stats.hc_mmu_update;   /* for the returns before the batch */
    if (count == MMU_UPDATE_PREEMPTED && !a[0]) {
        ++*calls;
        return (int)(unsigned int)a[3];
    }
    if (count & MMU_UPDATE_PREEMPTED) {
        count &= ~MMU_UPDATE_PREEMPTED;
        if (a[2] && copy_from_guest(m, v, &before, a[2], sizeof(before)))
            before = 0;
    }
    if (!guest_handle_okay(a[0], count, ext ? sizeof(struct mmuext_op) : sizeof(struct mmu_update))) {
        ++*calls;
        m->stats.refusals++;
        return fail(m, -XEN_EFAULT, PVM_WHY_FAULT, PVM_INVALID_MFN);
    }
    if (ext)
        rc = mmuext_op_from(v, &src, count, &done, &report, (unsigned int)a[3]);
    else
        rc = mmu_update_from(v, &src, count, &done, &report, (unsigned int)a[3]);
    done += before;
    if (a[2] && report)
        (void)copy_to_guest(m, v, a[2], &done, sizeof(done));
    return rc;
}

long pvm_hypercall(struct pvm_vcpu *v, unsigned long op, const xen_ulong_t a[6])
{
    switch (op) {
    case __HYPERVISOR_mmu_update:
        return guest_batch(v, false, a);
    case __HYPERVISOR_mmuext_op:
        return guest_batch(v, true, a);
    case __HYPERVISOR_update_va_mapping:
        return pvm_update_va_mapping(v, a[0], a[1], (unsigned long)a[2]);
    case __HYPERVISOR_update_va_mapping_otherdomain:
        return pvm_update_va_mapping_otherdomain(v, a[0], a[1], (unsigned long)a[2], (domid_t)a[3]);
    case __HYPERVISOR_vm_assist:
        return pvm_vm_assist(v, (unsigned int)a[0], (unsigned int)a[1]);
    case __HYPERVISOR_multicall: {
        struct batch_src src = { NULL, a[0], true };
        return multicall_from(v, &src, NULL, (unsigned int)a[1]);
    }
    default:
        v->m->stats.hc_other++;
        if (v->m->ops.hypercall) {
            long rc = v->m->ops.hypercall(v->m->ops.ctx, v, op, a);
            v->m->current = v;
            return rc;
        }
        return -XEN_ENOSYS;
    }
}
