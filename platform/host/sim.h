/*
 * sim.h - the simulated machine for one PV guest: sparse memory, the core,
 * a domain built the way Xen's domain builder does, and the guest platform
 * (loads, stores and hypercalls through the core's software MMU).
 */
#ifndef PVMMU_SIM_H
#define PVMMU_SIM_H

#include <stdio.h>

#include "guest.h"
#include "hostmem.h"
#include "pvlayout.h"

#define SIM_MFN_BASE 0x100ULL   /* machine frames below belong to no one */

struct sim {
    struct hostmem h;
    struct pvm_machine m;
    struct pvm_vcpu *v;
    uint64_t nr_pages;
    /* layout of Xen's initial region, in pfns; with lay.p2m_separate the p2m is mapped on its own
       (XEN_ELFNOTE_INIT_P2M) and its tables follow its pages */
    struct pv_layout lay;
    uint64_t si_va;
    struct pvm_stats built;       /* core counters when the guest starts */
    struct pvm_fault fault;       /* the guest's last page fault */
    bool faulted;
    FILE *klog;                   /* where the guest's printk goes (NULL: dropped) */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    struct guest_platform plat;
    /* the host CPU's small TLB in front of the core's (see sim.c) */
    struct {
        uint64_t vpn;
        uint64_t *page;
        bool write, copy;
    } cpu[16];                    /* 8 sets of 2 ways: entries i and i + 8 */
    uint8_t cpu_lru[8];           /* per set: the way to replace next */
    uint64_t cpu_copy[16][512];   /* copies of generated (never written) frames, read-only */
    uint64_t copy_mfn[16], copy_gen[16];   /* which frame each copy holds, valid while h.gen_real == copy_gen */
};

/* The machine frame the builder gives pseudo-physical frame pfn (deliberately not the identity). */
static inline uint64_t sim_mfn(uint64_t pfn) { return SIM_MFN_BASE + (pfn ^ 1); }

/*
 * Build a domain of mem_bytes (a multiple of 2 MiB, at least 64 MiB):
 * assign its frames, write the p2m list, start_info and Xen-style bootstrap
 * tables (page-table frames mapped read-only), pin the L4 and load it.
 * Returns 0, or -1 with a message in err.  When the host has no memory for
 * it the process ends (host_out_of_memory, exit status 3).
 */
int sim_build(struct sim *s, uint64_t mem_bytes, char *err, size_t errlen);

/* The same, forcing the separate p2m layout even where the 2011 one fits. */
int sim_build_p2m_separate(struct sim *s, uint64_t mem_bytes, char *err, size_t errlen);

/* Where a separately mapped p2m list lives (Linux's INIT_P2M note: 512 GiB, L4 slot 1). */
#define SIM_P2M_BASE 0x0000008000000000ULL

/* Free everything sim_build allocated. */
void sim_free(struct sim *s);

/* The guest's counters: the core's, minus what building the domain did. */
void sim_guest_stats(const struct sim *s, struct pvm_stats *out);

#endif
