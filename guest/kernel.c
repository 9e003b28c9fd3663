/*
 * kernel.c - the guest's fatal events, memory accesses, p2m/M2P lookups,
 * hypercall wrappers, and the Xen mmu hooks that do not depend on a policy
 * (pin_pagetable_pfn, make_lowmem_page_readonly, the *_hyper setters).
 */
#include "kernel.h"

static bool die(struct kernel *k, enum guest_fail how, uint64_t va, uint64_t pfn)
{
    if (k->dead)
        return false;
    k->dead = true;
    k->r->outcome = how;
    k->r->phase = k->phase;
    k->r->function = k->func;
    k->r->va = va;
    k->r->pfn = pfn;
    k->r->table_va = k->table_va;
    k->r->table_level = k->table_level;
    fmt_snprintf(k->r->advice, sizeof(k->r->advice), "%s", policy_advice(k));
    return false;
}

/* A hypercall the kernel cannot do without failed: Linux BUG()s. */
bool kernel_bug(struct kernel *k, const char *call, long rc, uint64_t va, uint64_t pfn)
{
    if (k->dead)
        return false;
    k->r->hypercall = call;
    k->r->rc = rc;
    fmt_snprintf(k->r->message, sizeof(k->r->message), "kernel BUG in %s: %s failed with %ld", k->func, call, rc);
    return die(k, GUEST_BUG, va, pfn);
}

/* An unhandled page fault in kernel mode. */
bool kernel_fault(struct kernel *k, uint64_t va, bool write)
{
    if (k->dead)
        return false;
    fmt_snprintf(k->r->message, sizeof(k->r->message),
                 "BUG: unable to handle kernel paging request at %016llx (%s) in %s", (unsigned long long)va,
                 write ? "write" : "read", k->func);
    uint64_t pfn = va >= GUEST_PAGE_OFFSET && va < GUEST_PAGE_OFFSET + (1ULL << 45) ? (va - GUEST_PAGE_OFFSET) >> 12
                                                                                  : ~0ULL;
    return die(k, GUEST_PAGE_FAULT, va, pfn);
}

bool kernel_panic(struct kernel *k, const char *msg)
{
    if (k->dead)
        return false;
    fmt_snprintf(k->r->message, sizeof(k->r->message), "Kernel panic - not syncing: %s", msg);
    return die(k, GUEST_PANIC, 0, ~0ULL);
}

void printk(struct kernel *k, const char *fmt, ...)
{
    if (!k->p->log)
        return;
    char line[192];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    k->p->log(k->p->ctx, line);
}

bool ld(struct kernel *k, uint64_t va, uint64_t *v)
{
    return k->p->load(k->p->ctx, va, v) == 0 || kernel_fault(k, va, false);
}

bool st(struct kernel *k, uint64_t va, uint64_t v)
{
    return k->p->store(k->p->ctx, va, v) == 0 || kernel_fault(k, va, true);
}

bool clear_page(struct kernel *k, uint64_t va)
{
    return k->p->clear_page(k->p->ctx, va) == 0 || kernel_fault(k, va, true);
}

/* The p2m list the domain builder left at start_info.mfn_list. */
bool pfn_to_mfn(struct kernel *k, uint64_t pfn, uint64_t *mfn)
{
    if (pfn >= k->nr_pages) {
        *mfn = INVALID_P2M;
        return true;
    }
    return ld(k, k->mfn_list_va + pfn * 8, mfn);
}

uint64_t mfn_to_pfn(struct kernel *k, uint64_t mfn)
{
    return k->p->m2p(k->p->ctx, mfn);
}

/* xen_make_pte: a pseudo-physical pte becomes a machine one (empty if the pfn has no mfn). */
bool pfn_pte(struct kernel *k, uint64_t pfn, uint64_t prot, uint64_t *pte)
{
    uint64_t mfn;
    if (!pfn_to_mfn(k, pfn, &mfn))
        return false;
    *pte = mfn == INVALID_P2M ? 0 : (mfn << 12) | prot;
    return true;
}

long hypercall(struct kernel *k, unsigned long op, xen_ulong_t a0, xen_ulong_t a1, xen_ulong_t a2, xen_ulong_t a3)
{
    const xen_ulong_t args[6] = { a0, a1, a2, a3, 0, 0 };
    return k->p->hypercall(k->p->ctx, op, args);
}

static long mmuext1(struct kernel *k, unsigned int cmd, uint64_t arg1)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = arg1;
    return hypercall(k, __HYPERVISOR_mmuext_op, (xen_ulong_t)(uintptr_t)&op, 1, 0, DOMID_SELF);
}

/* pin_pagetable_pfn: one mmuext_op; BUG on failure. */
bool pin_pagetable_pfn(struct kernel *k, unsigned int cmd, uint64_t pfn)
{
    uint64_t mfn;
    if (!pfn_to_mfn(k, pfn, &mfn))
        return false;
    long rc = mmuext1(k, cmd, mfn);
    return rc == 0 || kernel_bug(k, cmd == MMUEXT_UNPIN_TABLE ? "MMUEXT_UNPIN_TABLE" : "MMUEXT_PIN_L1..L4_TABLE", rc,
                                 pfn_va(pfn), pfn);
}

/*
 * Where the kernel reads a table page: through the kernel map while it lies
 * in Xen's initial region (mapped from the start), through __va otherwise.
 */
uint64_t table_va_of(const struct kernel *k, uint64_t pfn)
{
    return pfn < k->init_end_pfn ? kimg_va(pfn) : pfn_va(pfn);
}

/* set_page_prot of xen_setup_kernel_pagetable: the kernel-map pte of pfn, rebuilt RO or RW. */
bool set_kernel_page_prot(struct kernel *k, uint64_t pfn, bool ro)
{
    uint64_t pte;
    if (!pfn_pte(k, pfn, ro ? PAGE_KERNEL_RO : PAGE_KERNEL, &pte))
        return false;
    long rc = hypercall(k, __HYPERVISOR_update_va_mapping, kimg_va(pfn), pte, 0, 0);
    return rc == 0 || kernel_bug(k, "HYPERVISOR_update_va_mapping", rc, kimg_va(pfn), pfn);
}

/*
 * lookup_address: walk init_level4_pgt for va, reading each table through
 * the direct map (__va of its pfn), as Linux does.  *found says whether a
 * present 4 KiB pte exists; *ptep is its virtual address.
 */
bool lookup_address(struct kernel *k, uint64_t va, uint64_t *ptep, bool *found)
{
    uint64_t table_va = kimg_va(GUEST_PFN_INIT_L4);
    *found = false;
    for (unsigned int level = 4; level >= 1; level--) {
        uint64_t e_va = table_va + 8ULL * idx(va, level), e;
        if (level == 1) {
            if (!ld(k, e_va, &e))
                return false;
            *ptep = e_va;
            *found = (e & _PAGE_PRESENT) != 0;
            return true;
        }
        if (!ld(k, e_va, &e))
            return false;
        if (!(e & _PAGE_PRESENT))
            return true;
        table_va = table_va_of(k, mfn_to_pfn(k, (e & PVM_PTE_FRAME_MASK) >> 12));
    }
    return true;
}

/* HYPERVISOR_update_va_mapping of va's own pte with RW cleared or set; BUG on failure. */
bool set_page_prot(struct kernel *k, uint64_t va, bool ro)
{
    uint64_t ptep, pte;
    bool found;
    if (!lookup_address(k, va, &ptep, &found))
        return false;
    if (!found)
        return true;    /* vaddr missing: silently nothing, as in Linux */
    if (!ld(k, ptep, &pte))
        return false;
    pte = ro ? pte & ~_PAGE_RW : pte | _PAGE_RW;
    long rc = hypercall(k, __HYPERVISOR_update_va_mapping, va, pte, 0, 0);
    return rc == 0 || kernel_bug(k, "HYPERVISOR_update_va_mapping", rc, va, ~0ULL);
}

bool make_lowmem_page_readonly(struct kernel *k, uint64_t va) { return set_page_prot(k, va, true); }
bool make_lowmem_page_readwrite(struct kernel *k, uint64_t va) { return set_page_prot(k, va, false); }

/* arbitrary_virt_to_machine: direct map and kernel image through the p2m, anything else through its pte. */
bool virt_to_machine(struct kernel *k, uint64_t va, uint64_t *maddr)
{
    uint64_t mfn, off = va & (XEN_PAGE_SIZE - 1);
    if (va >= GUEST_PAGE_OFFSET && va < pfn_va(k->max_pfn)) {
        if (!pfn_to_mfn(k, (va - GUEST_PAGE_OFFSET) >> 12, &mfn))
            return false;
    } else if (va >= GUEST_START_KERNEL_MAP && va < kimg_va(k->init_end_pfn)) {
        if (!pfn_to_mfn(k, (va - GUEST_START_KERNEL_MAP) >> 12, &mfn))
            return false;
    } else {
        uint64_t ptep, pte;
        bool found;
        if (!lookup_address(k, va, &ptep, &found))
            return false;
        if (!found)
            return kernel_fault(k, va, false);
        if (!ld(k, ptep, &pte))
            return false;
        mfn = (pte & PVM_PTE_FRAME_MASK) >> 12;
    }
    *maddr = (mfn << 12) | off;
    return true;
}

/* xen_set_pmd_hyper / xen_set_pud_hyper / xen_set_pgd_hyper: an mmu_update at once; BUG on failure. */
bool set_entry_hyper(struct kernel *k, uint64_t entry_va, uint64_t val)
{
    struct mmu_update u;
    if (!virt_to_machine(k, entry_va, &u.ptr))
        return false;
    u.ptr |= MMU_NORMAL_PT_UPDATE;
    u.val = val;
    long rc = hypercall(k, __HYPERVISOR_mmu_update, (xen_ulong_t)(uintptr_t)&u, 1, 0, DOMID_SELF);
    return rc == 0 || kernel_bug(k, "HYPERVISOR_mmu_update", rc, entry_va, ~0ULL);
}

/* __flush_tlb_all under Xen: MMUEXT_TLB_FLUSH_LOCAL. */
bool flush_tlb_all(struct kernel *k)
{
    long rc = mmuext1(k, MMUEXT_TLB_FLUSH_LOCAL, 0);
    return rc == 0 || kernel_bug(k, "MMUEXT_TLB_FLUSH_LOCAL", rc, 0, ~0ULL);
}

/* __flush_tlb_one under Xen: MMUEXT_INVLPG_LOCAL. */
bool flush_tlb_one(struct kernel *k, uint64_t va)
{
    long rc = mmuext1(k, MMUEXT_INVLPG_LOCAL, va);
    return rc == 0 || kernel_bug(k, "MMUEXT_INVLPG_LOCAL", rc, va, ~0ULL);
}

/* xen_write_cr3 for the kernel root.  Proposal (a) makes the new tables RO here. */
bool write_cr3(struct kernel *k, uint64_t pfn)
{
    uint64_t mfn;
    if (k->k.defer == DEFER_CR3 && !make_deferred_ro_all(k))
        return false;
    if (!pfn_to_mfn(k, pfn, &mfn))
        return false;
    long rc = mmuext1(k, MMUEXT_NEW_BASEPTR, mfn);
    return rc == 0 || kernel_bug(k, "MMUEXT_NEW_BASEPTR", rc, pfn_va(pfn), pfn);
}
