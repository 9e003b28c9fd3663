/*
 * pvbuild.h - the parts of Xen's PV domain builder that do not depend on
 * where memory lives: start_info and the bootstrap page tables over the
 * initial region of lib/pvlayout.h.  The simulator's builder and the
 * bare-metal hypervisor's both use them, so a guest starts alike on both.
 */
#ifndef PVMMU_PVBUILD_H
#define PVMMU_PVBUILD_H

#include <stdint.h>

#include "pvlayout.h"
#include "pvmmu/xen.h"

/* Xen's 64-bit PV hypercall page: one stub per hypercall number ("call hypercall_page + hypercall-number * 32"). */
#define HYPERCALL_STUB_SIZE 32
/* The id of the one domain the simulator and pvmmu's hypervisor build, so both report it alike. */
#define PV_DOMID 1

struct pv_build_ops {
    void *ctx;
    uint64_t *(*page)(void *ctx, uint64_t pfn);   /* the 512 entries of the guest's frame pfn, or NULL */
    uint64_t (*mfn)(void *ctx, uint64_t pfn);     /* the machine frame behind pfn */
};

/*
 * Fill start_info for a region laid out by l at virt_base: magic, nr_pages,
 * pt_base, nr_pt_frames, mfn_list (at virt_base, or at p2m_va when
 * l->p2m_separate, with first_p2m_pfn and nr_p2m_frames), shared_info
 * (a machine address, 0 for none) and the command line (may be NULL).
 */
void pv_start_info(struct start_info *si, const struct pv_layout *l, uint64_t virt_base, uint64_t p2m_va,
                   uint64_t shared_info, const char *cmdline);

/*
 * Write the bootstrap tables: L4, L3, L2 and L1s at l->pt_pfn onwards, mapping
 * [0, v_end) at virt_base with every table frame read-only.  Returns 0, or -1
 * if ops->page gave no storage.  Does not pin or load anything.
 */
int pv_bootstrap_tables(const struct pv_layout *l, uint64_t virt_base, const struct pv_build_ops *ops);

/*
 * With l->p2m_separate: map the p2m list's pages at p2m_va (a 512 GiB
 * boundary: L4 slot of t4, the root) through their own L3, L2s and L1s, which
 * follow the pages (l->p2m_tables of them), as Xen does for a kernel's
 * XEN_ELFNOTE_INIT_P2M.  Returns 0, or -1 if p2m_va is not on such a
 * boundary or ops->page gave no storage.
 */
int pv_map_p2m(const struct pv_layout *l, uint64_t *t4, uint64_t p2m_va, const struct pv_build_ops *ops);

#endif
