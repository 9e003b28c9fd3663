/*
 * kernel.h - the guest kernel's internal state and helpers, shared by its
 * files.  Names follow Linux (memblock_*, alloc_low_page, xen_alloc_pte_init).
 *
 * Error style: a function that can hit a fatal event returns false after
 * recording it (kernel_bug / kernel_fault / kernel_panic); callers return
 * false at once, so the first failure is what gets reported.
 */
#ifndef PVMMU_GUEST_KERNEL_H
#define PVMMU_GUEST_KERNEL_H

#include "fmt.h"
#include "guest.h"
#include "xen_names.h"

/* The error style above, in one place: return false as soon as a step fails. */
#define TRY(x) do { if (!(x)) return false; } while (0)

/* What one entry maps at each level, as Linux names it (a page is XEN_PAGE_SIZE, xen.h). */
#define PMD_SIZE    (1ULL << PVM_L2_PAGETABLE_SHIFT)
#define PUD_SIZE    (PMD_SIZE * PVM_L1_PAGETABLE_ENTRIES)
#define PGDIR_SIZE  (1ULL << PVM_L4_PAGETABLE_SHIFT)
#define ISA_END     0x100000ULL
#define INVALID_P2M (~0ULL)

/* Linux's protections (x86-64; _PAGE_GLOBAL is masked off under Xen), from the _PAGE_* bits (xen_names.h). */
#define PAGE_KERNEL    (_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX)
#define PAGE_KERNEL_RO (_PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX)
#define PAGE_TABLE     (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY)

#define MB_MAX 8192          /* memblock regions (Linux doubles its arrays; a fixed ample size here) */
#define MC_BATCH 32          /* multicall entries per batch (Linux's MC_BATCH) */
#define BATCH_REQS 2048      /* mmu_update requests per call in the batched policy */

struct mb_region {
    uint64_t base, size;
};

enum mask_mode { MASK_NONE, MASK_JEREMY, MASK_HACK, MASK_ALIAS_ONLY };
enum defer_mode { DEFER_NONE, DEFER_CR3, DEFER_TABLE, DEFER_POSTALLOC };

struct policy_knobs {
    enum mask_mode mask;        /* mask_rw_pte flavour */
    bool xen_reserve;           /* xen_mapping_pagetable_reserve, else native reserve only */
    enum defer_mode defer;      /* when the thread's proposals make tables RO */
    bool rework39;              /* v3.9 top-down mapping from mapped memory */
    bool batched;               /* pvmmu's batched design */
};

struct kernel {
    const struct guest_platform *p;
    enum guest_policy pol;
    struct policy_knobs k;
    struct guest_result *r;
    const char *phase, *func;
    bool dead;
    uint64_t table_va;          /* the table being pinned or hooked: what its slot 0 maps */
    unsigned int table_level;

    /* start_info and the layout it implies */
    uint64_t nr_pages, pt_base_va, nr_pt_frames, mfn_list_va, pt_base_pfn, init_end_pfn;
    uint64_t first_p2m_pfn, nr_p2m_frames;   /* a p2m list mapped outside the initial region, or 0 */
    uint64_t max_pfn, max_pfn_mapped, min_pfn_mapped;

    /* memblock */
    struct mb_region mem[MB_MAX], res[MB_MAX];
    unsigned int nmem, nres;
    bool mb_full;               /* a reservation did not fit: panic at the next allocation */
    uint64_t current_limit;

    /* the 2011 early table buffer and its fixmap aliases */
    uint64_t pgt_buf_start, pgt_buf_end, pgt_buf_top;
    bool slot_used[GUEST_FIXMAP_SLOTS];
    uint64_t deferred_next;     /* defer policies: next buffer page not yet made RO */
    uint64_t bufs[4][2];        /* every early table buffer [start, top) found, for free_all_bootmem */
    unsigned int nbufs;

    /* v3.9 */
    bool can_use_brk;
    uint64_t brk_next, brk_end;

    /* batched policy: one pending mmu_update batch, RO requests first, hooks after them */
    struct mmu_update batch[BATCH_REQS], hooks[BATCH_REQS];
    unsigned int nbatch, nhooks;
    uint64_t progress_total;
};

/* Virtual addresses. */
static inline uint64_t pa_va(uint64_t pa) { return pa + GUEST_PAGE_OFFSET; }
static inline uint64_t pfn_va(uint64_t pfn) { return pa_va(pfn << 12); }
static inline uint64_t kimg_va(uint64_t pfn) { return GUEST_START_KERNEL_MAP + (pfn << 12); }
static inline uint64_t fixmap_va(unsigned int slot) { return GUEST_FIXMAP_BASE + ((uint64_t)slot << 12); }
static inline unsigned int idx(uint64_t va, unsigned int level) { return (unsigned int)((va >> (12 + 9 * (level - 1))) & 511); }

/* kernel.c: failures, memory, hypercalls */
bool kernel_bug(struct kernel *k, const char *call, long rc, uint64_t va, uint64_t pfn);
bool kernel_fault(struct kernel *k, uint64_t va, bool write);
bool kernel_panic(struct kernel *k, const char *msg);
void printk(struct kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ld(struct kernel *k, uint64_t va, uint64_t *v);
bool st(struct kernel *k, uint64_t va, uint64_t v);
bool clear_page(struct kernel *k, uint64_t va);
bool pfn_to_mfn(struct kernel *k, uint64_t pfn, uint64_t *mfn);
uint64_t mfn_to_pfn(struct kernel *k, uint64_t mfn);
bool pfn_pte(struct kernel *k, uint64_t pfn, uint64_t prot, uint64_t *pte);
long hypercall(struct kernel *k, unsigned long op, xen_ulong_t a0, xen_ulong_t a1, xen_ulong_t a2, xen_ulong_t a3);
bool pin_pagetable_pfn(struct kernel *k, unsigned int cmd, uint64_t pfn);
uint64_t table_va_of(const struct kernel *k, uint64_t pfn);
bool set_kernel_page_prot(struct kernel *k, uint64_t pfn, bool ro);
bool lookup_address(struct kernel *k, uint64_t va, uint64_t *ptep, bool *found);
bool set_page_prot(struct kernel *k, uint64_t va, bool ro);
bool make_lowmem_page_readonly(struct kernel *k, uint64_t va);
bool make_lowmem_page_readwrite(struct kernel *k, uint64_t va);
bool virt_to_machine(struct kernel *k, uint64_t va, uint64_t *maddr);
bool set_entry_hyper(struct kernel *k, uint64_t entry_va, uint64_t val);
bool flush_tlb_all(struct kernel *k);
bool flush_tlb_one(struct kernel *k, uint64_t va);
bool write_cr3(struct kernel *k, uint64_t pfn);

/* memblock.c */
void memblock_add(struct kernel *k, uint64_t base, uint64_t size);
void memblock_reserve(struct kernel *k, uint64_t base, uint64_t size);
uint64_t memblock_find_in_range(struct kernel *k, uint64_t start, uint64_t end, uint64_t size, uint64_t align);
uint64_t memblock_alloc(struct kernel *k, uint64_t size);
uint64_t memblock_free_bytes(struct kernel *k, uint64_t start, uint64_t end);
bool memblock_is_reserved(const struct kernel *k, uint64_t addr);

/* init_64.c: the direct map */
bool init_memory_mapping(struct kernel *k, uint64_t start, uint64_t end);
bool init_mem_mapping_39(struct kernel *k);
bool init_mem_mapping_batched(struct kernel *k);
bool xen_setup_kernel_pagetable(struct kernel *k);
bool make_deferred_ro_all(struct kernel *k);

/* policy.c */
void policy_knobs(enum guest_policy p, struct policy_knobs *kn);
const char *policy_advice(const struct kernel *k);

#endif
