/*
 * mm.c - the hypervisor's memory and the core's view of it: a bump
 * allocator over the RAM after the hypervisor and its modules, the frame
 * table, Xen's M2P (mapped read-only for the guest at HYPERVISOR_VIRT_START,
 * L4 slot 256), and the core's callbacks that reach frames, the M2P, the
 * hypervisor's own L4 slots and the TLB.
 */
#include "hv.h"

#define SUPERPAGE (1ULL << PVM_L2_PAGETABLE_SHIFT)   /* 2 MiB */

/* The hypervisor's own L4 slots, which the core writes into every L4 it validates. */
#define M2P_SLOT    ((HYPERVISOR_VIRT_START >> PVM_L4_PAGETABLE_SHIFT) & (PVM_L1_PAGETABLE_ENTRIES - 1))
#define PERDOMAIN_SLOT 260   /* the GDT area (descriptor.c), as Xen's per-domain mappings */
#define DIRECT_SLOT ((HV_DIRECTMAP >> PVM_L4_PAGETABLE_SHIFT) & (PVM_L1_PAGETABLE_ENTRIES - 1))
_Static_assert(M2P_SLOT == PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT && DIRECT_SLOT == 262, "Xen's M2P and direct-map slots");

static uint64_t alloc_next, alloc_end;   /* physical, page-aligned bump allocator */
static uint64_t *m2p;                    /* Xen's M2P, also mapped read-only for the guest */
static uint64_t m2p_l3, direct_l3;       /* tables behind the hypervisor's own L4 slots */

void alloc_init(uint64_t start, uint64_t end)
{
    alloc_next = start;
    alloc_end = end;
}

uint64_t alloc_pages_try(uint64_t n, uint64_t align, uint64_t below)
{
    uint64_t p = (alloc_next + align - 1) & ~(align - 1), end = p + n * XEN_PAGE_SIZE;
    if (p < alloc_next || end > alloc_end || end < p || (below && end > below))
        return 0;
    alloc_next = p + n * XEN_PAGE_SIZE;
    uint64_t *q = dm(p);
    for (uint64_t i = 0; i < n * PVM_L1_PAGETABLE_ENTRIES; i++)
        q[i] = 0;
    return p;
}

uint64_t alloc_free_bytes(void) { return alloc_end - alloc_next; }

uint64_t alloc_pages(uint64_t n, uint64_t align)
{
    uint64_t p = alloc_pages_try(n, align, 0);
    if (!p)
        panic("out of memory for the hypervisor (%llu pages)", (unsigned long long)n);
    return p;
}

/*
 * Allocate the M2P for nr_frames frames in 2 MiB pages, every entry
 * invalid, and the L3 and L2 that map it read-only, user-accessible and
 * not executable (the guest reads it; L4 slot 256 points at m2p_l3).
 */
static void m2p_init(uint64_t nr_frames)
{
    uint64_t m2p_bytes = (nr_frames * sizeof(*m2p) + SUPERPAGE - 1) & ~(SUPERPAGE - 1);
    uint64_t m2p_phys = alloc_pages(m2p_bytes / XEN_PAGE_SIZE, SUPERPAGE);
    m2p = dm(m2p_phys);
    for (uint64_t i = 0; i < nr_frames; i++)
        m2p[i] = PVM_INVALID_M2P;
    m2p_l3 = alloc_pages(1, XEN_PAGE_SIZE);
    uint64_t m2p_l2 = alloc_pages(1, XEN_PAGE_SIZE);
    ((uint64_t *)dm(m2p_l3))[0] = m2p_l2 | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
    for (uint64_t i = 0; i < m2p_bytes >> PVM_L2_PAGETABLE_SHIFT; i++)
        ((uint64_t *)dm(m2p_l2))[i] = (m2p_phys + (i << PVM_L2_PAGETABLE_SHIFT)) | _PAGE_PRESENT | _PAGE_USER |
                                      _PAGE_PSE | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX;
}

struct page_info *mm_init(uint64_t nr_frames)
{
    uint64_t table_pages = (nr_frames * sizeof(struct page_info) + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    struct page_info *frames = dm(alloc_pages(table_pages, XEN_PAGE_SIZE));
    m2p_init(nr_frames);
    direct_l3 = (uint64_t)(uintptr_t)boot_pdpt;
    return frames;
}

uint64_t get_gpfn_from_mfn(uint64_t mfn) { return m2p[mfn]; }
void set_gpfn_from_mfn(uint64_t mfn, uint64_t gpfn) { m2p[mfn] = gpfn; }

uint64_t *op_map(void *ctx, uint64_t mfn, int write)
{
    (void)ctx;
    (void)write;
    return dm(mfn << XEN_PAGE_SHIFT);
}

uint64_t op_m2p_get(void *ctx, uint64_t mfn)
{
    (void)ctx;
    return get_gpfn_from_mfn(mfn);
}

void op_m2p_set(void *ctx, uint64_t mfn, uint64_t gpfn)
{
    (void)ctx;
    set_gpfn_from_mfn(mfn, gpfn);
}

uint64_t op_xen_l4e(void *ctx, unsigned int slot)
{
    (void)ctx;
    if (slot == M2P_SLOT)
        return m2p_l3 | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
    if (slot == DIRECT_SLOT)
        return direct_l3 | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    if (slot == PERDOMAIN_SLOT)
        return gdt_area_l4e();
    return 0;
}

/* One vCPU, always the running one: its flush is the CPU's. */
void op_tlb_flush(void *ctx, const struct pvm_vcpu *v, uint64_t va, bool all)
{
    (void)ctx;
    (void)v;
    if (all)
        write_cr3(read_cr3());
    else
        invlpg(va);
}
