/*
 * boot.c - xen_start_kernel and the part of setup_arch that matters here:
 * read start_info, take over the page tables, build the direct map under the
 * chosen policy, then the early memblock allocations that follow it.
 */
#include "kernel.h"

static struct kernel kernel_state;   /* one boot at a time */

/* Allocate `pages` pages from memblock and clear the first word of each, as their first users do. */
static bool alloc_and_touch(struct kernel *k, const char *func, uint64_t pages)
{
    k->func = func;
    uint64_t a = memblock_alloc(k, pages << 12);
    if (!a)
        return kernel_panic(k, "memblock_alloc failed");
    printk(k, "%s: %llu pages at %#llx", func, (unsigned long long)pages, (unsigned long long)a);
    for (uint64_t i = 0; i < pages; i++)
        TRY(st(k, pa_va(a + (i << 12)), 0));
    return true;
}

/*
 * mem_init -> free_all_bootmem: every page memblock did not reserve goes to
 * the page allocator, whose first user writes it.  A free page the kernel
 * left read-only in the direct map (from the early table buffers) faults
 * then; report the first one as that fault.
 */
static bool free_all_bootmem(struct kernel *k)
{
    k->phase = "mem_init";
    k->func = "free_all_bootmem (first use of a freed page)";
    for (unsigned int b = 0; b < k->nbufs; b++)
        for (uint64_t pfn = k->bufs[b][0]; pfn < k->bufs[b][1]; pfn++) {
            uint64_t ptep, pte;
            bool found;
            if (memblock_is_reserved(k, pfn << 12))
                continue;
            TRY(lookup_address(k, pfn_va(pfn), &ptep, &found));
            if (!found)
                continue;
            TRY(ld(k, ptep, &pte));
            if (!(pte & _PAGE_RW))
                return st(k, pfn_va(pfn), 0);   /* the first user's write: faults */
        }
    return true;
}

/* setup_arch after the direct map: log buffer, NUMA data, mem_map sections, then post-allocator hooks. */
static bool after_direct_map(struct kernel *k)
{
    k->phase = "setup_arch";
    k->current_limit = k->max_pfn_mapped << 12;
    TRY(alloc_and_touch(k, "setup_log_buf", 32));
    TRY(alloc_and_touch(k, "initmem_init", 4));
    uint64_t sections = (k->max_pfn + 32767) / 32768;   /* 128 MiB sections, 64-byte struct page */
    for (uint64_t s = 0; s < sections; s++)
        TRY(alloc_and_touch(k, "sparse_init", 512));
    k->phase = "xen_pagetable_setup_done";
    k->func = "xen_post_allocator_init";
    if (k->k.defer == DEFER_POSTALLOC)
        TRY(make_deferred_ro_all(k));
    return free_all_bootmem(k);
}

static bool start_kernel(struct kernel *k, uint64_t si)
{
    k->phase = "xen_start_kernel";
    k->func = "xen_start_kernel";
    uint64_t magic;
    TRY(ld(k, si, &magic));
    if ((magic & 0xFFFFFFFFFFFFULL) != 0x2e332d6e6578ULL)   /* "xen-3." */
        return kernel_panic(k, "start_info has no xen-3.0 magic");
    TRY(ld(k, si + 32, &k->nr_pages));
    TRY(ld(k, si + 88, &k->pt_base_va));
    TRY(ld(k, si + 96, &k->nr_pt_frames));
    TRY(ld(k, si + 104, &k->mfn_list_va));
    if (k->mfn_list_va < GUEST_START_KERNEL_MAP) {
        /* XEN_ELFNOTE_INIT_P2M: the p2m list and its tables live in [first_p2m_pfn, +nr_p2m_frames) */
        TRY(ld(k, si + 1152, &k->first_p2m_pfn));
        TRY(ld(k, si + 1160, &k->nr_p2m_frames));
    }
    k->max_pfn = k->nr_pages;
    k->r->max_pfn = k->max_pfn;
    k->pt_base_pfn = (k->pt_base_va - GUEST_START_KERNEL_MAP) >> 12;
    /* Xen's initial mapping: kernel, p2m, start_info, tables, stack, then padding to 4 MiB. */
    uint64_t stack_end = k->pt_base_pfn + k->nr_pt_frames + 1;
    k->init_end_pfn = ((stack_end + 128 + 1023) / 1024) * 1024;
    if (k->init_end_pfn > k->max_pfn)
        k->init_end_pfn = k->max_pfn;
    long rc = hypercall(k, __HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables, 0, 0);
    if (rc)
        return kernel_bug(k, "HYPERVISOR_vm_assist", rc, 0, ~0ULL);
    printk(k, "mapping kernel into physical memory");
    TRY(xen_setup_kernel_pagetable(k));
    memblock_add(k, 0, k->max_pfn << 12);
    memblock_reserve(k, 0, stack_end << 12);
    memblock_reserve(k, k->first_p2m_pfn << 12, k->nr_p2m_frames << 12);
    k->current_limit = k->max_pfn << 12;
    printk(k, "about to get started...");
    return true;
}

void guest_where(const char **phase, const char **function)
{
    *phase = kernel_state.phase;
    *function = kernel_state.func;
}

enum guest_fail guest_boot(const struct guest_platform *p, uint64_t start_info_va, enum guest_policy pol,
                           struct guest_result *r)
{
    struct kernel *k = &kernel_state;
    *k = (struct kernel){ .p = p, .pol = pol, .r = r };
    *r = (struct guest_result){ .outcome = GUEST_OK, .pfn = ~0ULL };
    if ((unsigned int)pol >= POLICY_COUNT) {
        k->phase = k->func = "guest_boot";
        kernel_panic(k, "unknown policy");
        return r->outcome;
    }
    policy_knobs(pol, &k->k);
    if (!start_kernel(k, start_info_va))
        return r->outcome;
    k->progress_total = k->max_pfn > k->init_end_pfn ? k->max_pfn - k->init_end_pfn : 0;
    bool ok;
    if (k->k.rework39) {
        ok = init_mem_mapping_39(k);
    } else if (k->k.batched) {
        ok = init_mem_mapping_batched(k);
    } else {
        uint64_t low = k->max_pfn < (1ULL << 20) ? k->max_pfn : (1ULL << 20);
        ok = init_memory_mapping(k, 0, low << 12);
        if (ok && k->max_pfn > low)
            ok = init_memory_mapping(k, 1ULL << 32, k->max_pfn << 12);
    }
    if (ok)
        after_direct_map(k);
    return r->outcome;
}
