/*
 * pvlayout.h - where Xen's PV domain builder puts things in a new guest's
 * initial virtual region, in pseudo-physical frames from the kernel's base:
 * kernel, p2m list, start_info, bootstrap page tables, stack, then padding
 * to a 4 MiB boundary with at least 512 KiB spare.  The number of table
 * frames is found by Xen's search (enough L1s for the whole region, plus an
 * L2, an L3 and the L4).  Shared by the simulator's builder and the
 * bare-metal hypervisor's, so both lay a guest out exactly alike.
 */
#ifndef PVMMU_PVLAYOUT_H
#define PVMMU_PVLAYOUT_H

#include <stdbool.h>
#include <stdint.h>

struct pv_layout {
    uint64_t kernel_pages;      /* in: pages from the kernel's base to the end of its image */
    uint64_t nr_pages;          /* in: the domain's memory */
    bool p2m_separate;          /* in: map the p2m list on its own (XEN_ELFNOTE_INIT_P2M) */
    uint64_t unmapped_pages;    /* in, with p2m_separate: pages between v_end and the p2m (an unmapped initrd) */
    uint64_t p2m_pfn, p2m_pages, si_pfn, pt_pfn, nr_pt, stack_pfn, v_end_pfn;
    uint64_t p2m_tables;        /* with p2m_separate: its L3, L2s and L1s, after its pages */
};

/* Fill in l's outputs from its inputs.  The region ends at v_end_pfn, at most nr_pages. */
static inline void pv_layout(struct pv_layout *l)
{
    l->p2m_pages = (l->nr_pages * 8 + 4095) / 4096;
    l->p2m_pfn = l->kernel_pages;
    l->si_pfn = l->p2m_separate ? l->kernel_pages : l->p2m_pfn + l->p2m_pages;
    l->pt_pfn = l->si_pfn + 1;
    for (l->nr_pt = 4;; l->nr_pt++) {
        l->stack_pfn = l->pt_pfn + l->nr_pt;
        l->v_end_pfn = ((l->stack_pfn + 1 + 128 + 1023) / 1024) * 1024;
        if (3 + (l->v_end_pfn + 511) / 512 <= l->nr_pt)
            break;
    }
    if (l->v_end_pfn > l->nr_pages)
        l->v_end_pfn = l->nr_pages;
    l->p2m_tables = 0;
    if (l->p2m_separate) {
        uint64_t l1s = (l->p2m_pages + 511) / 512, l2s = (l1s + 511) / 512;
        l->p2m_pfn = l->v_end_pfn + l->unmapped_pages;
        l->p2m_tables = 1 + l2s + l1s;
    }
}

#endif
