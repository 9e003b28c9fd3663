/*
 * guest.h - a Linux-style 64-bit PV kernel's early boot, freestanding.
 *
 * The guest sees only what a real PV guest sees: start_info (its address),
 * its memory through its own page tables, and hypercall return values.  It
 * touches memory and makes hypercalls only through struct guest_platform, so
 * the same code runs on the simulator, on our bare-metal hypervisor and as
 * a PV kernel on real Xen.  It reproduces the 2011 boot path
 * (xen_start_kernel, xen_setup_kernel_pagetable, init_memory_mapping) under
 * a chosen policy for making new page-table pages read-only.
 */
#ifndef PVMMU_GUEST_H
#define PVMMU_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "pvmmu/xen.h"

/* The guest's virtual layout (Linux x86-64 of the 2011 era). */
#define GUEST_PAGE_OFFSET      0xffff880000000000ULL   /* direct map, L4 slot 272 */
#define GUEST_START_KERNEL_MAP 0xffffffff80000000ULL   /* kernel image, L4 511 / L3 510 */
#define GUEST_FIXMAP_BASE      0xffffffffff400000ULL   /* FIX_BTMAP slots, L4 511 / L3 511 / L2 506 */
#define GUEST_FIXMAP_SLOTS     4                        /* early_memremap slots (FIX_BTMAPS_SLOTS) */

/* Kernel image layout, in pages from pfn 0 (the domain builder leaves them zeroed). */
#define GUEST_KERNEL_PAGES     128
#define GUEST_PFN_INIT_L4      1    /* init_level4_pgt */
#define GUEST_PFN_L3_IDENT     2    /* level3_ident_pgt */
#define GUEST_PFN_L3_KERNEL    3    /* level3_kernel_pgt */
#define GUEST_PFN_L2_IDENT     4    /* level2_ident_pgt */
#define GUEST_PFN_L2_KERNEL    5    /* level2_kernel_pgt */
#define GUEST_PFN_L2_FIXMAP    6    /* level2_fixmap_pgt */
#define GUEST_PFN_L1_FIXMAP    7    /* level1_fixmap_pgt: bm_pte, the early_ioremap PTE page */
#define GUEST_PFN_BRK          16   /* BRK page-table seed of the v3.9 path */
#define GUEST_BRK_PAGES        6    /* INIT_PGT_BUF_SIZE */

struct guest_platform {
    void *ctx;
    /* A hypercall from guest kernel mode; arguments as in registers, pointers are the guest's own. */
    long (*hypercall)(void *ctx, unsigned long op, const xen_ulong_t args[6]);
    /* 8-byte aligned loads and stores through the guest's page tables: 0, or -1 on a page fault. */
    int (*load)(void *ctx, uint64_t va, uint64_t *val);
    int (*store)(void *ctx, uint64_t va, uint64_t val);
    /* clear_page(): one instruction's worth of stores over a whole page: 0 or -1 (fault). */
    int (*clear_page)(void *ctx, uint64_t va);
    /* Read Xen's read-only M2P table (machine_to_phys_mapping): the pfn of mfn. */
    uint64_t (*m2p)(void *ctx, uint64_t mfn);
    /* The kernel log (printk); may be NULL. */
    void (*log)(void *ctx, const char *line);
    /* Progress of the direct map, in pages mapped of pages to map; may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
};

enum guest_policy {
    POLICY_LINUX_2_6_39,    /* buffer high, no hack */
    POLICY_LINUX_3_0,       /* mask_rw_pte range hack + pagetable_reserve */
    POLICY_NO_RESERVE,      /* the hack without pagetable_reserve */
    POLICY_DEFER_CR3,       /* thread proposal (a): make tables RO at cr3 load */
    POLICY_DEFER_TABLE,     /* thread proposal (b): make each table RO when it is finished */
    POLICY_DEFER_POSTALLOC, /* thread proposal (c): make tables RO at post-allocator time */
    POLICY_LINUX_3_9,       /* top-down rework, tables from mapped memory, no hack */
    POLICY_BATCHED,         /* pvmmu's own: RO and hook in large batches */
    POLICY_COUNT
};

const char *guest_policy_name(enum guest_policy p);
/* The policy named s, or -1. */
int guest_policy_parse(const char *s);
/* One line: what the policy does. */
const char *guest_policy_summary(enum guest_policy p);

enum guest_fail {
    GUEST_OK = 0,
    GUEST_BUG,          /* a hypercall the kernel cannot live without failed: BUG() */
    GUEST_PAGE_FAULT,   /* an unhandled page fault in the kernel */
    GUEST_PANIC,        /* the kernel gave up (out of memory for page tables ...) */
};

struct guest_result {
    enum guest_fail outcome;
    const char *phase;          /* boot phase of the failure ("init_memory_mapping" ...) */
    const char *function;       /* innermost kernel function */
    const char *hypercall;      /* for GUEST_BUG: which call */
    long rc;                    /* for GUEST_BUG: its result */
    uint64_t va;                /* the address involved (fault address, or mapped page) */
    uint64_t pfn;               /* the frame involved, pseudo-physical (~0 if none) */
    char message[192];          /* what Linux would print */
    char advice[512];           /* what the policy should have done (empty if ok) */
    uint64_t table_va;          /* for a failed pin or hook of a new table: the va its slot 0 maps, or 0 */
    unsigned int table_level;   /* ...and that table's level */
    /* Counters the guest itself knows. */
    uint64_t max_pfn, mapped_pages;
    uint64_t pt_pages[5];       /* page-table pages allocated, by level (1-4) */
    uint64_t pte_stores;        /* direct-map PTEs written with plain stores */
    uint64_t pgt_buf_start, pgt_buf_end, pgt_buf_top;   /* last early table buffer (pfns) */
    uint64_t bufs[2][2];        /* the first two early table buffers [start, top) */
    unsigned int nbufs;
};

/* Page-table pages the guest allocated, all levels together. */
static inline uint64_t guest_pt_pages(const struct guest_result *r)
{
    return r->pt_pages[1] + r->pt_pages[2] + r->pt_pages[3] + r->pt_pages[4];
}

/*
 * Boot the guest: from xen_start_kernel through init_memory_mapping to the
 * end of the early allocations that follow it in setup_arch.  start_info_va
 * is what the domain builder put in rsi.  Returns the outcome (also in
 * r->outcome); on failure r says where and why.
 */
/* Where the boot is right now (for a platform that catches a fault itself): phase and function. */
void guest_where(const char **phase, const char **function);

enum guest_fail guest_boot(const struct guest_platform *p, uint64_t start_info_va, enum guest_policy pol,
                           struct guest_result *r);

#endif
