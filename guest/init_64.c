/*
 * init_64.c - the kernel's own page tables: xen_setup_kernel_pagetable, then
 * the direct map three ways: the 2011 path (find_early_table_space,
 * alloc_low_page through early_memremap, kernel_physical_mapping_init with
 * the Xen hooks, under each policy's mask_rw_pte / pagetable_reserve /
 * deferred RO), Linux 3.9's top-down path, and pvmmu's batched design.
 */
#include "kernel.h"

static void progress(struct kernel *k, uint64_t pages)
{
    k->r->mapped_pages += pages;
    if (k->p->progress && (k->r->mapped_pages & 0xFFFF) < pages)
        k->p->progress(k->p->ctx, k->r->mapped_pages, k->progress_total);
}

/* ---- Xen's bootstrap tables -> the kernel's own --------------------------- */

static bool kernel_table_entry(struct kernel *k, uint64_t table_pfn, unsigned int slot, uint64_t target_pfn)
{
    uint64_t pte;
    TRY(pfn_pte(k, target_pfn, PAGE_TABLE, &pte));
    return st(k, kimg_va(table_pfn) + 8ULL * slot, pte);
}

static const uint64_t kernel_tables[] = {
    GUEST_PFN_INIT_L4, GUEST_PFN_L3_IDENT, GUEST_PFN_L3_KERNEL, GUEST_PFN_L2_IDENT,
    GUEST_PFN_L2_KERNEL, GUEST_PFN_L2_FIXMAP, GUEST_PFN_L1_FIXMAP,
};
#define NR_KERNEL_TABLES (sizeof(kernel_tables) / sizeof(kernel_tables[0]))

/* Make the kernel-map pages of the static tables RO: one update_va_mapping each, or one batch. */
static bool protect_kernel_tables(struct kernel *k)
{
    if (!k->k.batched) {
        for (unsigned int i = 0; i < NR_KERNEL_TABLES; i++)
            TRY(set_kernel_page_prot(k, kernel_tables[i], true));
        return true;
    }
    struct mmu_update u[NR_KERNEL_TABLES];
    for (unsigned int i = 0; i < NR_KERNEL_TABLES; i++) {
        uint64_t ptep, pte;
        bool found;
        TRY(lookup_address(k, kimg_va(kernel_tables[i]), &ptep, &found));
        TRY(ld(k, ptep, &pte));
        TRY(virt_to_machine(k, ptep, &u[i].ptr));
        u[i].val = pte & ~_PAGE_RW;
    }
    long rc = hypercall(k, __HYPERVISOR_mmu_update, (xen_ulong_t)(uintptr_t)u, NR_KERNEL_TABLES, 0, DOMID_SELF);
    return rc == 0 || kernel_bug(k, "HYPERVISOR_mmu_update", rc, kimg_va(kernel_tables[0]), kernel_tables[0]);
}

/*
 * Build init_level4_pgt beside Xen's tables: the direct map's first GiB and
 * the kernel map share Xen's L1s through copies of its L2, the fixmap gets
 * bm_pte.  Make the new tables RO, pin them, unpin Xen's L4, switch cr3.
 */
bool xen_setup_kernel_pagetable(struct kernel *k)
{
    k->phase = "xen_setup_kernel_pagetable";
    k->func = "xen_setup_kernel_pagetable";
    uint64_t e, xl3, xl2;
    TRY(ld(k, k->pt_base_va + 511 * 8, &e));
    xl3 = mfn_to_pfn(k, (e & PVM_PTE_FRAME_MASK) >> 12);
    TRY(ld(k, kimg_va(xl3) + 510 * 8, &e));
    xl2 = mfn_to_pfn(k, (e & PVM_PTE_FRAME_MASK) >> 12);

    TRY(kernel_table_entry(k, GUEST_PFN_INIT_L4, idx(GUEST_PAGE_OFFSET, 4), GUEST_PFN_L3_IDENT));
    TRY(kernel_table_entry(k, GUEST_PFN_INIT_L4, 511, GUEST_PFN_L3_KERNEL));
    TRY(kernel_table_entry(k, GUEST_PFN_L3_IDENT, 0, GUEST_PFN_L2_IDENT));
    TRY(kernel_table_entry(k, GUEST_PFN_L3_KERNEL, 510, GUEST_PFN_L2_KERNEL));
    TRY(kernel_table_entry(k, GUEST_PFN_L3_KERNEL, 511, GUEST_PFN_L2_FIXMAP));
    TRY(kernel_table_entry(k, GUEST_PFN_L2_FIXMAP, idx(GUEST_FIXMAP_BASE, 2), GUEST_PFN_L1_FIXMAP));
    if (k->nr_p2m_frames) {
        /* keep the separately mapped p2m list reachable: share Xen's L4 entry for it */
        TRY(ld(k, k->pt_base_va + 8ULL * idx(k->mfn_list_va, 4), &e));
        TRY(st(k, kimg_va(GUEST_PFN_INIT_L4) + 8ULL * idx(k->mfn_list_va, 4), e));
    }
    for (unsigned int i = 0; i < 512; i++) {
        TRY(ld(k, kimg_va(xl2) + 8ULL * i, &e));
        if (!e)
            continue;
        TRY(st(k, kimg_va(GUEST_PFN_L2_IDENT) + 8ULL * i, e));
        TRY(st(k, kimg_va(GUEST_PFN_L2_KERNEL) + 8ULL * i, e));
    }
    k->max_pfn_mapped = k->init_end_pfn;
    TRY(protect_kernel_tables(k));

    uint64_t l4mfn, xmfn;
    TRY(pfn_to_mfn(k, GUEST_PFN_INIT_L4, &l4mfn));
    TRY(pfn_to_mfn(k, k->pt_base_pfn, &xmfn));
    if (k->k.batched) {
        /* pin ours, unpin Xen's, switch: one mmuext_op of three */
        struct mmuext_op ops[3] = { { .cmd = MMUEXT_PIN_L4_TABLE }, { .cmd = MMUEXT_UNPIN_TABLE },
                                    { .cmd = MMUEXT_NEW_BASEPTR } };
        ops[0].arg1.mfn = l4mfn;
        ops[1].arg1.mfn = xmfn;
        ops[2].arg1.mfn = l4mfn;
        long rc = hypercall(k, __HYPERVISOR_mmuext_op, (xen_ulong_t)(uintptr_t)ops, 3, 0, DOMID_SELF);
        return rc == 0 || kernel_bug(k, "HYPERVISOR_mmuext_op", rc, kimg_va(GUEST_PFN_INIT_L4), GUEST_PFN_INIT_L4);
    }
    k->func = "pin_pagetable_pfn";
    TRY(pin_pagetable_pfn(k, MMUEXT_PIN_L4_TABLE, GUEST_PFN_INIT_L4));
    TRY(pin_pagetable_pfn(k, MMUEXT_UNPIN_TABLE, k->pt_base_pfn));
    k->func = "xen_write_cr3";
    return write_cr3(k, GUEST_PFN_INIT_L4);
}

/*
 * The set_pmd / set_pud / set_pgd of pmd_populate_kernel, pud_populate and
 * pgd_populate: point the entry at entry_va to table pfn, at once, through
 * xen_set_p?d_hyper (an mmu_update).
 */
static bool populate(struct kernel *k, const char *setter, uint64_t entry_va, uint64_t pfn)
{
    uint64_t val;
    k->func = setter;
    TRY(pfn_pte(k, pfn, PAGE_TABLE, &val));
    return set_entry_hyper(k, entry_va, val);
}

/* ---- the 2011 path --------------------------------------------------------- */

static bool is_early_ioremap_ptep(uint64_t ptep)
{
    uint64_t bm = kimg_va(GUEST_PFN_L1_FIXMAP);
    return ptep >= bm && ptep < bm + XEN_PAGE_SIZE;
}

/*
 * mask_rw_pte, in the flavour of the policy.  pfn is the pte's target.  A
 * separately mapped p2m list brings its own page tables: every kernel since
 * that layout exists (2015) maps [first_p2m_pfn, +nr_p2m_frames) read-only.
 */
static uint64_t mask_rw_pte(struct kernel *k, uint64_t ptep, uint64_t pte, uint64_t pfn)
{
    bool io = is_early_ioremap_ptep(ptep), ro = pfn - k->first_p2m_pfn < k->nr_p2m_frames;
    switch (k->k.mask) {
    case MASK_JEREMY:   /* v2.6.37: only what was allocated so far, never the fixmap */
        ro |= !io && pfn >= k->pgt_buf_start && pfn < k->pgt_buf_end;
        break;
    case MASK_HACK:     /* v2.6.39-rc5 / v3.0: the whole buffer, and every fixmap alias but the newest page */
        ro |= (!io && pfn >= k->pgt_buf_start && pfn < k->pgt_buf_top) || (io && pfn != k->pgt_buf_end - 1);
        break;
    case MASK_ALIAS_ONLY:   /* the thread's proposals: aliases handled, the buffer left RW until "later" */
        ro |= io && pfn != k->pgt_buf_end - 1;
        break;
    case MASK_NONE:
        break;
    }
    return ro ? pte & ~_PAGE_RW : pte;
}

/* xen_set_pte_init: mask, then a plain store (Xen emulates it if the page is an RO L1). */
static bool set_pte_init(struct kernel *k, uint64_t ptep, uint64_t pte, uint64_t pfn)
{
    return st(k, ptep, pte ? mask_rw_pte(k, ptep, pte, pfn) : 0);
}

/* early_memremap of one page into a free FIX_BTMAP slot; returns its virtual address. */
static bool early_memremap(struct kernel *k, uint64_t pfn, uint64_t *va)
{
    const char *saved = k->func;
    unsigned int s = 0;
    while (s < GUEST_FIXMAP_SLOTS && k->slot_used[s])
        s++;
    if (s == GUEST_FIXMAP_SLOTS)
        return kernel_panic(k, "early_memremap: no free FIX_BTMAP slot");
    uint64_t pte;
    k->func = "early_memremap";
    TRY(pfn_pte(k, pfn, PAGE_KERNEL, &pte));
    TRY(set_pte_init(k, kimg_va(GUEST_PFN_L1_FIXMAP) + 8ULL * idx(fixmap_va(s), 1), pte, pfn));
    TRY(flush_tlb_one(k, fixmap_va(s)));
    k->slot_used[s] = true;
    k->func = saved;
    *va = fixmap_va(s);
    return true;
}

static bool early_iounmap(struct kernel *k, uint64_t va)
{
    const char *saved = k->func;
    unsigned int s = (unsigned int)((va - GUEST_FIXMAP_BASE) >> 12);
    k->func = "early_iounmap";
    TRY(set_pte_init(k, kimg_va(GUEST_PFN_L1_FIXMAP) + 8ULL * idx(fixmap_va(s), 1), 0, 0));
    TRY(flush_tlb_one(k, va));
    k->slot_used[s] = false;
    k->func = saved;
    return true;
}

/* alloc_low_page: the next page of the early table buffer, cleared through a fresh alias. */
static bool alloc_low_page(struct kernel *k, uint64_t *pfn, uint64_t *va, unsigned int level)
{
    if (k->pgt_buf_end >= k->pgt_buf_top)
        return kernel_panic(k, "alloc_low_page: ran out of memory");
    *pfn = k->pgt_buf_end++;
    k->r->pt_pages[level]++;
    TRY(early_memremap(k, *pfn, va));
    return clear_page(k, *va);
}

/* map_low_page: an alias of an existing table (it may not be in the direct map yet). */
static bool map_low_page(struct kernel *k, uint64_t entry, uint64_t *va)
{
    uint64_t pfn = mfn_to_pfn(k, (entry & PVM_PTE_FRAME_MASK) >> 12);
    const char *saved = k->func;
    k->func = "map_low_page";
    TRY(early_memremap(k, pfn, va));
    k->func = saved;
    return true;
}

/* The deferred RO of the thread's proposals: every buffer page allocated so far, if it is mapped now. */
bool make_deferred_ro_all(struct kernel *k)
{
    for (; k->deferred_next < k->pgt_buf_end; k->deferred_next++) {
        uint64_t ptep;
        bool found;
        TRY(lookup_address(k, pfn_va(k->deferred_next), &ptep, &found));
        if (!found)
            break;   /* not mapped yet: try again at the next occasion */
        TRY(make_lowmem_page_readonly(k, pfn_va(k->deferred_next)));
    }
    return true;
}

/* The paravirt hooks run by *_populate before the entry is set. */
static bool xen_alloc_pte_init(struct kernel *k, uint64_t pfn)
{
    const char *saved = k->func;
    k->func = "xen_alloc_pte_init";
    TRY(make_lowmem_page_readonly(k, pfn_va(pfn)));
    k->func = "pin_pagetable_pfn";
    TRY(pin_pagetable_pfn(k, MMUEXT_PIN_L1_TABLE, pfn));
    k->func = saved;
    return true;
}

static bool xen_alloc_pmd_init(struct kernel *k, uint64_t pfn)
{
    const char *saved = k->func;
    k->func = "xen_alloc_pmd_init";
    TRY(make_lowmem_page_readonly(k, pfn_va(pfn)));
    k->func = saved;
    return true;
}

/* A finished table: the defer-table proposal makes tables RO now. */
static bool table_finished(struct kernel *k)
{
    if (k->k.defer != DEFER_TABLE)
        return true;
    const char *saved = k->func;
    k->func = "make_deferred_tables_ro";
    TRY(make_deferred_ro_all(k));
    k->func = saved;
    return true;
}

/* No RAM from a on?  (All of [0, max_pfn) is RAM here, so any range starting at a holds none.) */
static bool no_ram(const struct kernel *k, uint64_t a)
{
    return (a >> 12) >= k->max_pfn;
}

/*
 * Fill ptes of [addr, end) in the pte page at va; keep existing ones.  Past
 * end, the 2011 code clears the rest of the page; v3.9 clears only slots
 * that are not RAM (zero_tail false: here all of [0, max_pfn) is RAM).
 */
static bool phys_pte_init(struct kernel *k, uint64_t pte_va, uint64_t addr, uint64_t end, bool zero_tail)
{
    const char *saved = k->func;
    k->func = "phys_pte_init";
    for (unsigned int i = idx(pa_va(addr), 1); i < 512; i++, addr += XEN_PAGE_SIZE) {
        uint64_t ptep = pte_va + 8ULL * i, cur, pte;
        if (addr >= end) {
            for (; i < 512; i++, addr += XEN_PAGE_SIZE)
                if (zero_tail || no_ram(k, addr))
                    TRY(set_pte_init(k, pte_va + 8ULL * i, 0, 0));
            break;
        }
        TRY(ld(k, ptep, &cur));
        if (cur)
            continue;   /* "We will re-use the existing mapping" (Xen's RO table pages) */
        uint64_t pfn = addr >> 12;
        TRY(pfn_pte(k, pfn, PAGE_KERNEL, &pte));
        TRY(set_pte_init(k, ptep, pte, pfn));
        k->r->pte_stores++;
        progress(k, 1);
    }
    k->func = saved;
    return true;
}

static bool phys_pmd_init(struct kernel *k, uint64_t pmd_va, uint64_t addr, uint64_t end)
{
    for (unsigned int i = idx(pa_va(addr), 2); i < 512; i++) {
        uint64_t next = (addr & ~(PMD_SIZE - 1)) + PMD_SIZE, pmdp = pmd_va + 8ULL * i, cur, pte_pfn, pte_va;
        k->func = "phys_pmd_init";
        if (addr >= end) {
            for (; i < 512; i++)
                TRY(set_entry_hyper(k, pmd_va + 8ULL * i, 0));
            break;
        }
        TRY(ld(k, pmdp, &cur));
        if (cur) {
            TRY(map_low_page(k, cur, &pte_va));
            TRY(phys_pte_init(k, pte_va, addr, end, true));
            TRY(early_iounmap(k, pte_va));
            addr = next;
            continue;
        }
        TRY(alloc_low_page(k, &pte_pfn, &pte_va, 1));
        TRY(phys_pte_init(k, pte_va, addr, end, true));
        TRY(early_iounmap(k, pte_va));
        TRY(table_finished(k));
        /* pmd_populate_kernel: paravirt_alloc_pte, then set_pmd */
        k->table_va = pa_va(addr & ~(PMD_SIZE - 1));
        k->table_level = 1;
        TRY(xen_alloc_pte_init(k, pte_pfn));
        TRY(populate(k, "xen_set_pmd_hyper", pmdp, pte_pfn));
        k->table_va = 0;
        addr = next;
    }
    return true;
}

static bool phys_pud_init(struct kernel *k, uint64_t pud_va, uint64_t addr, uint64_t end)
{
    for (unsigned int i = idx(pa_va(addr), 3); i < 512; i++) {
        uint64_t next = (addr & ~(PUD_SIZE - 1)) + PUD_SIZE, pudp = pud_va + 8ULL * i, cur, pmd_pfn, pmd_va;
        k->func = "phys_pud_init";
        if (addr >= end)
            break;
        TRY(ld(k, pudp, &cur));
        if (cur) {
            TRY(map_low_page(k, cur, &pmd_va));
            TRY(phys_pmd_init(k, pmd_va, addr, end));
            TRY(early_iounmap(k, pmd_va));
            k->func = "phys_pud_init";
            TRY(flush_tlb_all(k));
            addr = next;
            continue;
        }
        TRY(alloc_low_page(k, &pmd_pfn, &pmd_va, 2));
        TRY(phys_pmd_init(k, pmd_va, addr, end));
        TRY(early_iounmap(k, pmd_va));
        TRY(table_finished(k));
        /* pud_populate: paravirt_alloc_pmd, then set_pud */
        k->table_va = pa_va(addr & ~(PUD_SIZE - 1));
        k->table_level = 2;
        TRY(xen_alloc_pmd_init(k, pmd_pfn));
        TRY(populate(k, "xen_set_pud_hyper", pudp, pmd_pfn));
        k->table_va = 0;
        addr = next;
    }
    k->func = "phys_pud_init";
    return flush_tlb_all(k);
}

static bool kernel_physical_mapping_init(struct kernel *k, uint64_t start, uint64_t end)
{
    for (uint64_t addr = start, next; addr < end; addr = next) {
        uint64_t pgdp = kimg_va(GUEST_PFN_INIT_L4) + 8ULL * idx(pa_va(addr), 4), cur, pud_pfn, pud_va;
        next = (addr & ~(PGDIR_SIZE - 1)) + PGDIR_SIZE;
        if (next > end)
            next = end;
        k->func = "kernel_physical_mapping_init";
        TRY(ld(k, pgdp, &cur));
        if (cur) {
            TRY(map_low_page(k, cur, &pud_va));
            TRY(phys_pud_init(k, pud_va, addr, next));
            TRY(early_iounmap(k, pud_va));
            continue;
        }
        TRY(alloc_low_page(k, &pud_pfn, &pud_va, 3));
        TRY(phys_pud_init(k, pud_va, addr, next));
        TRY(early_iounmap(k, pud_va));
        TRY(table_finished(k));
        /* pgd_populate: paravirt_alloc_pud (= xen_alloc_pmd_init), then set_pgd */
        TRY(xen_alloc_pmd_init(k, pud_pfn));
        TRY(populate(k, "xen_set_pgd_hyper", pgdp, pud_pfn));
    }
    k->func = "kernel_physical_mapping_init";
    return flush_tlb_all(k);
}

static uint64_t roundup(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* find_early_table_space (v3.0, 4 KiB pages only): size from `end`, placed top-down below end. */
static bool find_early_table_space(struct kernel *k, uint64_t end)
{
    k->func = "find_early_table_space";
    uint64_t puds = (end + PUD_SIZE - 1) / PUD_SIZE, pmds = (end + PMD_SIZE - 1) / PMD_SIZE;
    uint64_t ptes = (end + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    uint64_t tables = roundup(puds * 8, XEN_PAGE_SIZE) + roundup(pmds * 8, XEN_PAGE_SIZE) +
                      roundup(ptes * 8, XEN_PAGE_SIZE);
    uint64_t base = memblock_find_in_range(k, 0, end, tables, XEN_PAGE_SIZE);
    if (!base)
        return kernel_panic(k, "Cannot find space for the kernel page tables");
    k->pgt_buf_start = k->pgt_buf_end = base >> 12;
    k->pgt_buf_top = k->pgt_buf_start + (tables >> 12);
    k->deferred_next = k->pgt_buf_start;
    printk(k, "kernel direct mapping tables up to %llx @ %llx-%llx", (unsigned long long)end,
           (unsigned long long)(k->pgt_buf_start << 12), (unsigned long long)(k->pgt_buf_top << 12));
    k->r->pgt_buf_start = k->pgt_buf_start;
    k->r->pgt_buf_top = k->pgt_buf_top;
    if (k->nbufs < 4) {
        k->bufs[k->nbufs][0] = k->pgt_buf_start;
        k->bufs[k->nbufs++][1] = k->pgt_buf_top;
    }
    if (k->r->nbufs < 2) {
        k->r->bufs[k->r->nbufs][0] = k->pgt_buf_start;
        k->r->bufs[k->r->nbufs++][1] = k->pgt_buf_top;
    }
    return true;
}

/* x86_init.mapping.pagetable_reserve: native reserves what was used; Xen's also makes the rest RW again. */
static bool pagetable_reserve(struct kernel *k)
{
    k->func = k->k.xen_reserve ? "xen_mapping_pagetable_reserve" : "native_pagetable_reserve";
    memblock_reserve(k, k->pgt_buf_start << 12, (k->pgt_buf_end - k->pgt_buf_start) << 12);
    k->r->pgt_buf_end = k->pgt_buf_end;
    k->r->pgt_buf_top = k->pgt_buf_top;
    if (!k->k.xen_reserve)
        return true;
    printk(k, "xen: setting RW the range %llx - %llx", (unsigned long long)(k->pgt_buf_end << 12),
           (unsigned long long)(k->pgt_buf_top << 12));
    for (uint64_t pfn = k->pgt_buf_end; pfn < k->pgt_buf_top; pfn++)
        TRY(make_lowmem_page_readwrite(k, pfn_va(pfn)));
    return true;
}

/* init_memory_mapping(start, end) of v2.6.39 / v3.0, 64-bit, no superpages. */
bool init_memory_mapping(struct kernel *k, uint64_t start, uint64_t end)
{
    k->phase = "init_memory_mapping";
    printk(k, "init_memory_mapping: %016llx-%016llx", (unsigned long long)start, (unsigned long long)end);
    TRY(find_early_table_space(k, end));
    TRY(kernel_physical_mapping_init(k, start, end));
    k->func = "init_memory_mapping";
    TRY(flush_tlb_all(k));
    if (k->pgt_buf_end > k->pgt_buf_start)
        TRY(pagetable_reserve(k));
    if ((end >> 12) > k->max_pfn_mapped)
        k->max_pfn_mapped = end >> 12;
    return true;
}

/* ---- v3.9: top-down, tables from memory that is already mapped ------------ */

/* alloc_low_pages(1) of v3.9: BRK first, then mapped memory; returns the page through the direct map. */
static bool alloc_low_page_39(struct kernel *k, uint64_t *pfn, unsigned int level)
{
    if (k->can_use_brk && k->brk_next < k->brk_end) {
        *pfn = k->brk_next++;
        printk(k, "BRK [%#010llx, %#010llx] PGTABLE", (unsigned long long)(*pfn << 12),
               (unsigned long long)((*pfn << 12) + XEN_PAGE_SIZE - 1));
    } else {
        if (k->min_pfn_mapped >= k->max_pfn_mapped)
            return kernel_panic(k, "alloc_low_page: ran out of memory");
        uint64_t a = memblock_find_in_range(k, k->min_pfn_mapped << 12, k->max_pfn_mapped << 12, XEN_PAGE_SIZE,
                                            XEN_PAGE_SIZE);
        if (!a)
            return kernel_panic(k, "alloc_low_page: can not alloc memory");
        memblock_reserve(k, a, XEN_PAGE_SIZE);
        *pfn = a >> 12;
    }
    k->r->pt_pages[level]++;
    return clear_page(k, table_va_of(k, *pfn));
}

static uint64_t table_va(struct kernel *k, uint64_t entry)
{
    return table_va_of(k, mfn_to_pfn(k, (entry & PVM_PTE_FRAME_MASK) >> 12));
}

static bool phys_pmd_init_39(struct kernel *k, uint64_t pmd_va, uint64_t addr, uint64_t end)
{
    for (unsigned int i = idx(pa_va(addr), 2); i < 512; i++) {
        uint64_t next = (addr & ~(PMD_SIZE - 1)) + PMD_SIZE, pmdp = pmd_va + 8ULL * i, cur, pfn;
        k->func = "phys_pmd_init";
        if (addr >= end) {
            /* v3.9 clears the pmds past end that cover no RAM: each an immediate mmu_update under Xen */
            if (no_ram(k, addr & ~(PMD_SIZE - 1)))
                TRY(set_entry_hyper(k, pmdp, 0));
            addr = next;
            continue;
        }
        TRY(ld(k, pmdp, &cur));
        if (cur) {
            TRY(phys_pte_init(k, table_va(k, cur), addr, end < next ? end : next, false));
            addr = next;
            continue;
        }
        TRY(alloc_low_page_39(k, &pfn, 1));
        TRY(phys_pte_init(k, pfn_va(pfn), addr, end < next ? end : next, false));
        TRY(xen_alloc_pte_init(k, pfn));
        TRY(populate(k, "xen_set_pmd_hyper", pmdp, pfn));
        addr = next;
    }
    return true;
}

static bool phys_pud_init_39(struct kernel *k, uint64_t pud_va, uint64_t addr, uint64_t end)
{
    for (unsigned int i = idx(pa_va(addr), 3); i < 512; i++) {
        uint64_t next = (addr & ~(PUD_SIZE - 1)) + PUD_SIZE, pudp = pud_va + 8ULL * i, cur, pfn;
        k->func = "phys_pud_init";
        if (addr >= end) {
            if (no_ram(k, addr & ~(PUD_SIZE - 1)))
                TRY(set_entry_hyper(k, pudp, 0));
            addr = next;
            continue;
        }
        TRY(ld(k, pudp, &cur));
        if (cur) {
            TRY(phys_pmd_init_39(k, table_va(k, cur), addr, end < next ? end : next));
            k->func = "phys_pud_init";
            TRY(flush_tlb_all(k));
            addr = next;
            continue;
        }
        TRY(alloc_low_page_39(k, &pfn, 2));
        TRY(phys_pmd_init_39(k, pfn_va(pfn), addr, end < next ? end : next));
        TRY(xen_alloc_pmd_init(k, pfn));
        TRY(populate(k, "xen_set_pud_hyper", pudp, pfn));
        addr = next;
    }
    k->func = "phys_pud_init";
    return flush_tlb_all(k);
}

/* init_memory_mapping(start, end) of v3.9: existing tables reached through __va, no aliases. */
static bool init_range_39(struct kernel *k, uint64_t start, uint64_t end)
{
    printk(k, "init_memory_mapping: [mem %#010llx-%#010llx]", (unsigned long long)start,
           (unsigned long long)(end - 1));
    for (uint64_t addr = start, next; addr < end; addr = next) {
        uint64_t pgdp = kimg_va(GUEST_PFN_INIT_L4) + 8ULL * idx(pa_va(addr), 4), cur, pfn;
        next = (addr & ~(PGDIR_SIZE - 1)) + PGDIR_SIZE;
        if (next > end)
            next = end;
        k->func = "kernel_physical_mapping_init";
        TRY(ld(k, pgdp, &cur));
        if (cur) {
            TRY(phys_pud_init_39(k, table_va(k, cur), addr, next));
            continue;
        }
        TRY(alloc_low_page_39(k, &pfn, 3));
        TRY(phys_pud_init_39(k, pfn_va(pfn), addr, next));
        TRY(xen_alloc_pmd_init(k, pfn));
        TRY(populate(k, "xen_set_pgd_hyper", pgdp, pfn));
    }
    k->func = "kernel_physical_mapping_init";
    TRY(flush_tlb_all(k));
    if ((end >> 12) > k->max_pfn_mapped)
        k->max_pfn_mapped = end >> 12;
    return true;
}

/* init_mem_mapping of v3.9: ISA range, then memory_map_top_down. */
bool init_mem_mapping_39(struct kernel *k)
{
    k->phase = "init_memory_mapping";
    uint64_t end = k->max_pfn << 12, map_start = ISA_END;
    k->can_use_brk = true;
    k->brk_next = GUEST_PFN_BRK;
    k->brk_end = GUEST_PFN_BRK + GUEST_BRK_PAGES;
    TRY(init_range_39(k, 0, ISA_END));
    k->func = "memory_map_top_down";
    uint64_t addr = memblock_find_in_range(k, map_start, end, PMD_SIZE, PMD_SIZE);
    if (!addr)
        return kernel_panic(k, "memory_map_top_down: no free 2 MiB block");
    uint64_t real_end = addr + PMD_SIZE, step = PMD_SIZE, last_start = real_end, mapped = 0;
    k->max_pfn_mapped = 0;
    k->min_pfn_mapped = real_end >> 12;
    while (last_start > map_start) {
        uint64_t start;
        if (last_start > step) {
            start = (last_start - 1) & ~(step - 1);
            if (start < map_start)
                start = map_start;
        } else {
            start = map_start;
        }
        TRY(init_range_39(k, start, last_start));
        uint64_t got = last_start - start;
        last_start = start;
        k->min_pfn_mapped = last_start >> 12;
        if (got > mapped)
            step <<= 5;
        mapped += got;
        k->can_use_brk = k->brk_next < k->brk_end;
    }
    if (real_end < end)
        TRY(init_range_39(k, real_end, end));
    k->max_pfn_mapped = k->max_pfn;
    k->func = "init_mem_mapping";
    TRY(write_cr3(k, GUEST_PFN_INIT_L4));   /* load_cr3(swapper_pg_dir) */
    return flush_tlb_all(k);
}

/* ---- batched: pvmmu's design ------------------------------------------------ */

/*
 * Tables come from memory that is already mapped (as v3.9), are filled with
 * plain stores while still ordinary writable pages, then made RO and hooked
 * in one mmu_update batch: the RO requests on their direct-map ptes first,
 * the hooks last, so every hook finds its tables read-only and Xen validates
 * whole subtrees at once.  No pins, no per-table hypercalls, no aliases.
 */
static bool batch_flush(struct kernel *k)
{
    printk(k, "batched: mmu_update of %u RO requests and %u hooks", k->nbatch, k->nhooks);
    for (unsigned int i = 0; i < k->nhooks; i++)
        k->batch[k->nbatch++] = k->hooks[i];
    k->nhooks = 0;
    if (!k->nbatch)
        return true;
    unsigned int done = 0;
    long rc = hypercall(k, __HYPERVISOR_mmu_update, (xen_ulong_t)(uintptr_t)k->batch, k->nbatch,
                        (xen_ulong_t)(uintptr_t)&done, DOMID_SELF);
    k->nbatch = 0;
    return rc == 0 || kernel_bug(k, "HYPERVISOR_mmu_update (batch)", rc, 0, ~0ULL);
}

/*
 * Queue one request.  Hooks go after every RO request of the batch: each
 * table is then retyped after all its writable mappings are gone, and Xen's
 * TLB-clock filter needs only one flush for the whole batch.
 */
static bool batch_add(struct kernel *k, uint64_t maddr, uint64_t val, bool hook)
{
    if (k->nbatch + k->nhooks == BATCH_REQS)
        return kernel_panic(k, "batched: request buffer overflow");
    struct mmu_update *u = hook ? &k->hooks[k->nhooks++] : &k->batch[k->nbatch++];
    u->ptr = maddr | MMU_NORMAL_PT_UPDATE;
    u->val = val;
    return true;
}

/* Queue "make the direct-map pte of pfn read-only". */
static bool batch_ro(struct kernel *k, uint64_t pfn)
{
    uint64_t ptep, pte, maddr;
    bool found;
    TRY(lookup_address(k, pfn_va(pfn), &ptep, &found));
    if (!found)
        return kernel_panic(k, "batched: table page outside the direct map");
    TRY(ld(k, ptep, &pte));
    TRY(virt_to_machine(k, ptep, &maddr));
    return batch_add(k, maddr, pte & ~_PAGE_RW, false);
}

/*
 * A page for a table, from memory that is already mapped: the top window
 * [min_pfn_mapped, max_pfn) mapped so far, else Xen's initial region.
 */
static bool batch_alloc(struct kernel *k, uint64_t *pfn, unsigned int level)
{
    uint64_t a = 0;
    if (k->min_pfn_mapped < k->max_pfn)
        a = memblock_find_in_range(k, k->min_pfn_mapped << 12, k->max_pfn << 12, XEN_PAGE_SIZE, XEN_PAGE_SIZE);
    if (!a)
        a = memblock_find_in_range(k, 0, k->init_end_pfn << 12, XEN_PAGE_SIZE, XEN_PAGE_SIZE);
    if (!a)
        return kernel_panic(k, "batched: no mapped memory left for page tables");
    memblock_reserve(k, a, XEN_PAGE_SIZE);
    *pfn = a >> 12;
    k->r->pt_pages[level]++;
    return clear_page(k, pfn_va(*pfn));
}

/*
 * A table being built in this batch: an ordinary page until the batch makes
 * it RO and hooks it.  `live` says whether its parent is already a live table
 * (then the hook is an mmu_update request) or itself pending (a plain store).
 */
struct pending {
    bool used;
    uint64_t pfn;
    uint64_t parent_entry_va;   /* where the entry pointing at it goes */
    bool parent_live;
};

/*
 * Make a finished table RO and point its parent's entry at it: a queued
 * hook if the parent is a live table, else a plain store (the parent is
 * itself still an ordinary page).
 */
static bool hook_table(struct kernel *k, uint64_t pfn, uint64_t entry_va, bool parent_live)
{
    uint64_t val, maddr;
    TRY(batch_ro(k, pfn));
    TRY(pfn_pte(k, pfn, PAGE_TABLE, &val));
    if (!parent_live)
        return st(k, entry_va, val);
    TRY(virt_to_machine(k, entry_va, &maddr));
    return batch_add(k, maddr, val, true);
}

/* Hook a pending table, if there is one. */
static bool finish_pending(struct kernel *k, struct pending *t)
{
    if (!t->used)
        return true;
    t->used = false;
    return hook_table(k, t->pfn, t->parent_entry_va, t->parent_live);
}

/* The table one level below `entry_va` (live or pending), creating a pending one if the slot is empty. */
static bool child_table(struct kernel *k, uint64_t entry_va, bool parent_live, struct pending *t, unsigned int level,
                        uint64_t *table_va_out, bool *live)
{
    uint64_t cur;
    if (t->used && t->parent_entry_va == entry_va) {
        *table_va_out = pfn_va(t->pfn);
        *live = false;
        return true;
    }
    TRY(finish_pending(k, t));
    TRY(ld(k, entry_va, &cur));
    if (cur) {
        *table_va_out = table_va(k, cur);
        *live = parent_live;
        return true;
    }
    TRY(batch_alloc(k, &t->pfn, level));
    t->used = true;
    t->parent_entry_va = entry_va;
    t->parent_live = parent_live;
    *table_va_out = pfn_va(t->pfn);
    *live = false;
    return true;
}

/*
 * Map [start, end) (2 MiB aligned start): a new L1 per 2 MiB, under live or
 * new L2s and L3s; queue every RO request, then every hook; flush.
 */
static bool batch_step(struct kernel *k, uint64_t start, uint64_t end)
{
    struct pending l3 = { 0 }, l2 = { 0 };
    for (uint64_t addr = start; addr < end; addr = (addr & ~(PMD_SIZE - 1)) + PMD_SIZE) {
        uint64_t va = pa_va(addr), l3_va, l2_va, l1;
        bool l3_live, l2_live;
        k->func = "batch_step";
        if (idx(va, 3) == 0 && idx(va, 2) == 0 && l2.used)
            TRY(finish_pending(k, &l2));   /* a new L3 slot: the previous L2 is complete */
        TRY(child_table(k, kimg_va(GUEST_PFN_INIT_L4) + 8ULL * idx(va, 4), true, &l3, 3, &l3_va, &l3_live));
        TRY(child_table(k, l3_va + 8ULL * idx(va, 3), l3_live, &l2, 2, &l2_va, &l2_live));
        /* a new L1 for this 2 MiB, filled while it is an ordinary page */
        TRY(batch_alloc(k, &l1, 1));
        uint64_t stop = (addr & ~(PMD_SIZE - 1)) + PMD_SIZE;
        if (stop > end)
            stop = end;
        TRY(phys_pte_init(k, pfn_va(l1), addr, stop, false));
        TRY(hook_table(k, l1, l2_va + 8ULL * idx(va, 2), l2_live));
        if (k->nbatch + k->nhooks + 8 >= BATCH_REQS && !l2.used && !l3.used)
            TRY(batch_flush(k));
    }
    TRY(finish_pending(k, &l2));
    TRY(finish_pending(k, &l3));
    return batch_flush(k);
}

/*
 * Top-down, like v3.9 (a separately mapped p2m list can fill the memory
 * right after the initial region): each step maps the highest unmapped
 * range whose tables fit the free mapped pages, so the room grows as fast as
 * the map.  One batch holds about BATCH_REQS / 2 tables.
 */
bool init_mem_mapping_batched(struct kernel *k)
{
    k->phase = "init_memory_mapping";
    uint64_t low = k->init_end_pfn << 12;
    printk(k, "batched: mapping %016llx-%016llx top-down", (unsigned long long)low,
           (unsigned long long)(k->max_pfn << 12));
    k->min_pfn_mapped = k->max_pfn;
    while ((k->min_pfn_mapped << 12) > low) {
        k->func = "init_mem_mapping_batched";
        uint64_t room = (memblock_free_bytes(k, k->min_pfn_mapped << 12, k->max_pfn << 12) +
                         memblock_free_bytes(k, 0, low)) >> 12;
        if (room < 4)
            return kernel_panic(k, "batched: no mapped memory left for page tables");
        uint64_t l1s = room - 3 - room / 512;
        if (l1s > BATCH_REQS / 2)
            l1s = BATCH_REQS / 2;
        uint64_t top = k->min_pfn_mapped << 12, span = l1s * PMD_SIZE;
        uint64_t start = top - low > span ? (top - span) & ~(PMD_SIZE - 1) : low;
        printk(k, "batched: step %#llx-%#llx, %llu free mapped pages", (unsigned long long)start,
               (unsigned long long)top, (unsigned long long)room);
        TRY(batch_step(k, start, top));
        k->min_pfn_mapped = start >> 12;
    }
    k->max_pfn_mapped = k->max_pfn;
    return true;
}
