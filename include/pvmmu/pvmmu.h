/*
 * pvmmu.h - the hypervisor side of Xen's x86-64 paravirtualised MMU as a
 * freestanding library.
 *
 * A caller (simulator, fuzzer, bare-metal hypervisor) owns all memory: it
 * hands pvm_init() the frame table (one struct pvm_page_info per machine
 * frame) and a pvm_ops telling the core how to reach a frame's 4 KiB of
 * contents and where log lines go.  The core never allocates and never calls
 * libc: libpvmmu.a, as the Makefile builds it, refers to no symbol it does
 * not define (tests/embed.sh checks with nm).  Built with other compilers or
 * flags it may refer to memcpy, memmove, memset and memcmp, which GCC and
 * Clang may call from any freestanding code: a program without libc then
 * provides those four.
 *
 * Vocabulary is Xen's (xen/arch/x86/mm.c): a frame has an owner, a general
 * count (count_info) and a type with a type count (type_info); a frame is
 * writable, or an L1..L4 table, never both at once.  Hypercalls take Xen's
 * public structures (pvmmu/xen.h) and return Xen's negative errno values.
 *
 * Names: this header defines only pvm_/PVM_/PVMMU_ names.  Where the name
 * is Xen's own, hypervisor-private one it is Xen's spelling behind PVM_:
 * the frame-table record the caller allocates is struct pvm_page_info
 * (Xen's struct page_info), its bits PVM_PGC_* and PVM_PGT_* (PGC_*, PGT_*),
 * the CPU's page-fault code bits PVM_PFEC_* (PFEC_*).  pvmmu/xen.h states
 * its own rule.  Nothing here collides with libc or <sys/user.h>.
 *
 * ABI: the shared library is libpvmmu.so.3.  Its soname changes (.so.4, ...)
 * whenever the ABI breaks: a public function's signature, the layout or size
 * of a public struct, or the meaning of a constant changes.  Adding a
 * function keeps it.  A new callback appended to struct pvm_ops breaks it
 * too: pvm_ops grows, and struct pvm_machine (which the caller allocates and
 * which holds a copy of the ops) grows and moves every field after ops.  That
 * is why .so.0 became .so.1 (pvm_ops.validate); .so.1 became .so.2 when
 * struct pvm_domain grew the frames Xen holds writable (xen_maps[]) and
 * struct pvm_frame_state their count; .so.2 became .so.3 when struct pvm_vcpu
 * grew its GDT (gdt_frames[], gdt_ents), struct pvm_frame_state the GDTs that
 * hold a frame, and enum pvm_why a cause (PVM_WHY_BAD_DESC) before
 * PVM_WHY_COUNT; in the same release, still .so.3, struct pvm_domain's one
 * I/O range (iomem_first, iomem_last) became up to PVM_MAX_IOMEM_RANGES
 * ranges (nr_iomem, iomem[]), which moved every field after it.  Only the
 * functions marked PVM_API below are exported; everything else the library
 * holds is hidden (local in libpvmmu.a as well), so a caller may define its
 * own put_page, refuse, fmt_snprintf ...
 */
#ifndef PVMMU_H
#define PVMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen.h"

/* Marks the library's exported functions (the core is built with -fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define PVM_API __attribute__((visibility("default")))
#else
#define PVM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PVMMU_VERSION "0.1.0"

/*
 * Fixed limits: the core keeps its state inside struct pvm_machine, sized at
 * build time (changing them changes the ABI).
 *   PVM_MAX_DOMAINS  domains alive at once; pvm_domain_create answers -EBUSY
 *                    for the ninth (any domid below DOMID_FIRST_RESERVED is
 *                    accepted while a slot is free).
 *   PVM_MAX_VCPUS    vCPUs per domain; pvm_domain_create answers -EINVAL for
 *                    0 or more than PVM_MAX_VCPUS.
 *   PVM_TLB_ENTRIES  software-TLB entries per vCPU (direct-mapped by va);
 *                    a miss walks the tables again, so it limits speed only.
 *   PVM_MAX_MMIO_RO  ranges of read-only MMIO frames (pvm_mmio_ro_add).
 *   PVM_MAX_XEN_MAPS frames Xen holds writable for its own use, per domain
 *                    (pvm_xen_map_frame answers -ENOSPC beyond): room for a
 *                    vcpu_info and a FIFO control block per vCPU, Xen's 128
 *                    FIFO event array pages and the pirq EOI bitmap.
 *   PVM_MAX_GDT_FRAMES room for a vCPU's GDT frames (gdt_frames[]), as Xen's
 *                    do_set_gdt list; a guest GDT has at most 14 (Xen's
 *                    FIRST_RESERVED_GDT_PAGE: entries up to 14 * 512).
 *   PVM_MAX_IOMEM_RANGES disjoint ranges of I/O frames a domain may map
 *                    (iomem[], Xen's iomem_caps rangeset, which allocates
 *                    without a fixed bound): pvm_domain_iomem_add and
 *                    pvm_domain_iomem_deny answer -ENOSPC beyond.
 */
#define PVM_MAX_DOMAINS  8
#define PVM_MAX_MMIO_RO  8
#define PVM_MAX_VCPUS    4
#define PVM_TLB_ENTRIES  64
#define PVM_MAX_XEN_MAPS 256
#define PVM_MAX_GDT_FRAMES 16
#define PVM_MAX_IOMEM_RANGES 8
#define PVM_INVALID_MFN (~0ULL)

/*
 * count_info: PVM_PGC_allocated (Xen's PGC_allocated, bit 63 as in Xen), the
 * owner (bits 62-48: domid+1, 0 = free; Xen keeps it in a separate field)
 * and the general count (bits 47-0; Xen allows 57 bits).
 */
#define PVM_PGC_allocated   (1ULL << 63)
#define PVM_PGC_owner_shift 48
#define PVM_PGC_owner_mask  (0x7FFFULL << PVM_PGC_owner_shift)
#define PVM_PGC_count_mask  ((1ULL << 48) - 1)

/*
 * type_info: type in bits 63-61 and flags in bits 60-55 exactly as Xen's
 * PGT_* (PVM_PGT_* here).  Bits 54-32 are the word Xen keeps in a union
 * beside it: linear_pt_count (int16, bits 47-32) while the type count is
 * non-zero, the TLB-clock stamp (23 bits) while it is zero.  The type count
 * is bits 31-0 (Xen: 55 bits).
 */
#define PVM_PGT_none            0x0000000000000000ULL
#define PVM_PGT_l1_page_table   0x2000000000000000ULL
#define PVM_PGT_l2_page_table   0x4000000000000000ULL
#define PVM_PGT_l3_page_table   0x6000000000000000ULL
#define PVM_PGT_l4_page_table   0x8000000000000000ULL
#define PVM_PGT_seg_desc_page   0xA000000000000000ULL
#define PVM_PGT_shared_page     0xC000000000000000ULL
#define PVM_PGT_writable_page   0xE000000000000000ULL
#define PVM_PGT_type_mask       0xE000000000000000ULL
#define PVM_PGT_root_page_table PVM_PGT_l4_page_table
#define PVM_PGT_locked          (1ULL << 60)
#define PVM_PGT_pinned          (1ULL << 59)
#define PVM_PGT_validated       (1ULL << 58)
#define PVM_PGT_pae_xen_l2      (1ULL << 57)
#define PVM_PGT_partial         (1ULL << 56)
#define PVM_PGT_non_coherent    (1ULL << 55)
#define PVM_PGT_aux_shift       32
#define PVM_PGT_aux_mask        (0x7FFFFFULL << PVM_PGT_aux_shift)
#define PVM_PGT_count_mask      0xFFFFFFFFULL
#define PVM_TLBCLOCK_BITS       23

/*
 * The per-frame record: Xen's struct page_info cut to what 64-bit PV uses,
 * packed into 16 bytes so a 1 TiB guest's 2^28 frames fit in 4 GiB.  Read
 * it through pvm_frame_query(); Xen's own view of the two words (caf/taf in
 * its log lines) is pvm_xen_caf()/pvm_xen_taf().
 */
struct pvm_page_info {
    uint64_t count_info;          /* PVM_PGC_allocated | owner | general count */
    uint64_t type_info;           /* PVM_PGT_* type and flags | aux | type count */
};

#define PVM_OWNER_NONE 0
#define PVM_OWNER_IO   ((uint16_t)(DOMID_IO + 1))
#define PVM_INVALID_M2P (~0ULL)

/* Xen's count_info of a free frame: PGC_state_free (bits 59-58); pvmmu keeps 0 there. */
#define PVM_PGC_state_free  (3ULL << 58)
static inline uint64_t pvm_xen_caf(const struct pvm_page_info *pg)
{
    uint64_t caf = pg->count_info & ~PVM_PGC_owner_mask;
    return caf ? caf : PVM_PGC_state_free;
}
static inline uint64_t pvm_xen_taf(const struct pvm_page_info *pg) { return pg->type_info & ~PVM_PGT_aux_mask; }

/* Where the core reaches memory and sends log lines. */
struct pvm_log_msg {
    domid_t domid;        /* current domain, or DOMID_INVALID outside hypercalls */
    unsigned int vcpu;
    int level;            /* PVM_LOG_* */
    const char *text;     /* one line, Xen's wording, no trailing newline */
};
#define PVM_LOG_WARN  1   /* gdprintk/gprintk of a refusal */
#define PVM_LOG_INFO  2
#define PVM_LOG_DEBUG 3

struct pvm_vcpu;

/* What pvm_ops.validate is told. */
enum pvm_validate_phase {
    PVM_VALIDATE_BEGIN, PVM_VALIDATE_END, PVM_DEVALIDATE_BEGIN, PVM_DEVALIDATE_END
};

struct pvm_ops {
    void *ctx;
    /*
     * Return the 512 entries of frame mfn (mfn < nr_frames).  With write == 0
     * the caller may return NULL for a frame that holds no data: it reads as
     * zeros.  With write != 0 it must return storage (or NULL only if it is
     * out of memory, which the core treats as an I/O error, -EFAULT).
     */
    uint64_t *(*map)(void *ctx, uint64_t mfn, int write);
    /*
     * Optional: read one entry of frame mfn (0 for a frame with no data).
     * The core uses it for single reads, and map() when it keeps a pointer.
     */
    uint64_t (*read)(void *ctx, uint64_t mfn, unsigned int slot);
    /* Receive one log line.  May be NULL. */
    void (*log)(void *ctx, const struct pvm_log_msg *msg);
    /*
     * The machine-to-phys table (Xen's M2P): read and write the gpfn of a
     * frame.  May be NULL: the M2P is then not kept and reads as
     * PVM_INVALID_M2P.
     */
    uint64_t (*m2p_get)(void *ctx, uint64_t mfn);
    void (*m2p_set)(void *ctx, uint64_t mfn, uint64_t gpfn);
    /*
     * Optional, for a platform whose CPU walks the tables for real: the
     * hypervisor's own entry for L4 slot 256-271 (not 258, the self map),
     * written into every L4 when it is validated, with PVM_PAGE_ACCESSED added
     * to a present one (as in Xen's, so no walk ever changes it); NULL means
     * 0 (not present).
     */
    uint64_t (*xen_l4e)(void *ctx, unsigned int slot);
    /*
     * Optional: the core flushed vCPU v's TLB (all, or the one page of va),
     * so the platform flushes the hardware's too.  NULL on the simulator.
     */
    void (*tlb_flush)(void *ctx, const struct pvm_vcpu *v, uint64_t va, bool all);
    /*
     * An invariant the core relies on is broken (Xen's BUG_ON): a count
     * would underflow or overflow into the owner bits, a type reference is
     * dropped from a frame of another type, an owner does not fit its field.
     * `what` names the invariant and the frame.  Must not return: the
     * machine's state can no longer be trusted (the simulator prints one line
     * and exits with status 3, the hypervisor panics).  If NULL, or if it
     * returns, the core traps (__builtin_trap).
     */
    void (*bug)(void *ctx, const char *file, unsigned int line, const char *what);
    /*
     * Guest memory, for every guest handle (Xen's copy_from_guest and
     * copy_to_guest): copy len bytes between the core's buffer and guest
     * address gaddr as vCPU v sees it.  Return 0, or non-zero if any byte is
     * not accessible (the core answers -EFAULT, or -EINVAL where Xen does).
     * The core never dereferences a guest-supplied value; a handle reaches
     * memory only through these.  NULL: every guest handle faults.
     */
    int (*copy_from_guest)(void *ctx, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t len);
    int (*copy_to_guest)(void *ctx, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t len);
    /*
     * Optional: the core begins or ends validating frame mfn as a level-
     * `level` table (Xen's validate_page, on a type count's 0->1 edge), or
     * devalidating it (devalidate_page, on 1->0); rc is the end's result (0,
     * or the refusal), 0 at a begin.  At PVM_VALIDATE_BEGIN no entry has been
     * read yet, so the platform may still fill the frame (a replay loads the
     * recorded contents there).  Validations nest as Xen's do: an L4's
     * begin, then each table it validates, then its end.  May be NULL.
     */
    void (*validate)(void *ctx, uint64_t mfn, unsigned int level, enum pvm_validate_phase phase, int rc);
    /*
     * Optional: a hypercall the core does not model (set_gdt, vcpu_op,
     * console_io, ...), reached through pvm_hypercall, so also as an entry
     * of a multicall: the platform serves it for vCPU v and returns its
     * result.  NULL: such a hypercall answers -ENOSYS.  iret never comes
     * here: a multicall ends at it (Xen's mc_exit).
     */
    long (*hypercall)(void *ctx, struct pvm_vcpu *v, unsigned long op, const xen_ulong_t args[6]);
};

/* One cached translation of the software TLB. */
struct pvm_tlb_entry {
    uint64_t vpn;         /* va >> 12 */
    uint64_t mfn;
    uint8_t valid, rw, global;
    uint8_t dirty;        /* the leaf entry had PVM_PAGE_DIRTY set when cached */
};

struct pvm_machine;
struct pvm_domain;

/*
 * Public structs and their fields.  The caller allocates struct pvm_machine
 * (zeroed or not: pvm_init sets every field) and reaches domains and vCPUs
 * through pvm_domain()/pvm_vcpu().  Fields marked "API" below may be read at
 * any time between calls; "API, set" ones may also be set by the caller where
 * stated.  Every other field is the core's internal state: callers must not
 * write it, and reading it is at their own risk (its meaning may change
 * without a soname change, though the struct's layout may not).
 *
 * struct pvm_vcpu: API: m, d, id, guest_table, guest_table_user, gdt_frames[],
 * gdt_ents (the vCPU's GDT as pvm_set_gdt installed it, for a hypervisor
 * that maps those frames in its per-vCPU GDT area).
 */
struct pvm_vcpu {
    struct pvm_machine *m;
    struct pvm_domain *d;
    unsigned int id;
    bool online;
    bool kernel_mode;            /* TF_kernel_mode: hypercalls allowed */
    bool in_multicall;
    uint64_t guest_table;        /* kernel root mfn or PVM_INVALID_MFN */
    uint64_t guest_table_user;   /* user root mfn or PVM_INVALID_MFN */
    uint32_t tlbflush_time;      /* TLB clock at this vCPU's last full flush */
    uint64_t ldt_base;
    unsigned int ldt_ents;
    uint64_t gdt_frames[PVM_MAX_GDT_FRAMES];   /* the GDT's frames: the first (gdt_ents + 511) / 512, the rest 0 */
    unsigned int gdt_ents;                     /* GDT entries (0: no GDT of the guest's) */
    struct pvm_tlb_entry tlb[PVM_TLB_ENTRIES];
};

#define PVM_DOM_PRIVILEGED 0x1u   /* dom0, control and hardware domain: host iomem, foreign maps, ptwr always */

/* A range of machine frames, first to last inclusive (first <= last). */
struct pvm_iomem_range {
    uint64_t first, last;
};

/*
 * struct pvm_domain: API: exists, id, flags, nr_vcpus, vm_assist, nr_iomem, iomem[], vcpu[],
 * nr_xen_maps, xen_maps[].
 */
struct pvm_domain {
    bool exists;
    domid_t id;
    unsigned int flags;          /* PVM_DOM_* */
    unsigned int nr_vcpus;
    unsigned long vm_assist;     /* bit n = VMASST_TYPE n enabled */
    unsigned int nr_iomem;       /* I/O frames the domain may map: the ranges iomem[0..nr_iomem) (0: none) */
    struct pvm_iomem_range iomem[PVM_MAX_IOMEM_RANGES];   /* ascending, disjoint, none adjacent to the next */
    uint64_t tot_pages;
    uint64_t nr_l4_pages;
    struct pvm_vcpu vcpu[PVM_MAX_VCPUS];
    unsigned int nr_xen_maps;                /* holds of pvm_xen_map_frame in xen_maps[0..nr_xen_maps) */
    uint64_t xen_maps[PVM_MAX_XEN_MAPS];     /* the frame of each hold (a frame held twice is there twice) */
};

/* Exact event counts; every figure pvmmu reports about the core comes from here. */
struct pvm_stats {
    uint64_t hc_mmu_update, hc_mmuext_op, hc_update_va_mapping, hc_multicall, hc_vm_assist, hc_other;
    uint64_t mmu_update_reqs, mmuext_ops, multicall_entries;
    uint64_t entries_validated;      /* present entries checked by promote_lN_table */
    uint64_t promotions[5];          /* [level]: validations of an Ln table (0 unused) */
    uint64_t demotions[5];
    uint64_t fastpath;               /* mod_lN_entry fast-path hits */
    uint64_t pins, unpins, baseptr_loads;
    uint64_t ptwr_emulations, page_faults;
    uint64_t tlb_flushes;            /* whole-TLB flushes of one vCPU, any cause */
    uint64_t tlb_flushes_typechange; /* ...of which forced by a type change */
    uint64_t tlb_flushes_linear_pt;  /* ...of which after an L2+ update (XSA-286) */
    uint64_t tlb_flushes_alloc;      /* ...of which because a frame was handed out again (any domain's vCPU) */
    uint64_t tlb_invlpg;
    uint64_t tlb_hits, tlb_misses, tlb_stale_hits;
    uint64_t refusals;               /* hypercall sub-operations that failed */
};

/* Every hypercall the guest made, of any kind. */
/* out = now - base, counter by counter: what happened since base was taken. */
static inline void pvm_stats_since(struct pvm_stats *out, const struct pvm_stats *now, const struct pvm_stats *base)
{
    const uint64_t *n = (const uint64_t *)now, *b = (const uint64_t *)base;
    uint64_t *o = (uint64_t *)out;
    for (unsigned int i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        o[i] = n[i] - b[i];
}

static inline uint64_t pvm_stats_hypercalls(const struct pvm_stats *st)
{
    return st->hc_mmu_update + st->hc_mmuext_op + st->hc_update_va_mapping + st->hc_multicall + st->hc_vm_assist +
           st->hc_other;
}

/* Why the core refused something: the innermost cause of the last failure. */
enum pvm_why {
    PVM_WHY_NONE = 0,
    PVM_WHY_BAD_FLAGS,        /* disallowed flag bits for the level */
    PVM_WHY_BAD_TYPE,         /* frame has another type in use (saw != exp) */
    PVM_WHY_NOT_OWNER,        /* frame belongs to another domain, or is free */
    PVM_WHY_NO_PAGE,          /* no such frame, or not RAM of the named domain */
    PVM_WHY_MMIO,             /* I/O frame without permission */
    PVM_WHY_XEN_SLOT,         /* L4 slot 256-271 belongs to Xen */
    PVM_WHY_LINEAR_DISABLED,  /* linear page tables switched off */
    PVM_WHY_LINEAR_RW,        /* linear entry with PVM_PAGE_RW */
    PVM_WHY_LINEAR_CHAIN,     /* linear entry breaks the one-level/same-owner rule */
    PVM_WHY_ALREADY_PINNED,
    PVM_WHY_NOT_PINNED,
    PVM_WHY_NOT_TABLE,        /* mmu_update target is not a page table nor typeable writable */
    PVM_WHY_NOT_L1,           /* update_va_mapping: no L1 maps va */
    PVM_WHY_BAD_VA,
    PVM_WHY_BAD_CMD,
    PVM_WHY_BAD_DOMAIN,       /* foreigndom names itself or no domain */
    PVM_WHY_PERM,             /* operation needs privilege or is caller-only */
    PVM_WHY_BAD_ARG,
    PVM_WHY_OVERFLOW,         /* count would overflow */
    PVM_WHY_FAULT,            /* unreadable argument */
    PVM_WHY_NOT_SUPPORTED,
    PVM_WHY_RO_MAPPING,       /* write through a read-only mapping of a frame that is not an L1: not emulated */
    PVM_WHY_BAD_DESC,         /* a segment descriptor Xen's check_descriptor refuses */
    PVM_WHY_COUNT
};

struct pvm_refusal {
    int rc;                 /* negative Xen errno */
    enum pvm_why why;
    domid_t domid;          /* the domain whose request it was */
    uint64_t mfn;           /* the frame at issue (target of the entry, pinned frame ...) */
    uint64_t table_mfn;     /* the table holding the entry, or PVM_INVALID_MFN */
    unsigned int level;     /* level of that table (1-4), 0 if none */
    unsigned int slot;      /* slot in that table (PVM_WHY_BAD_DESC: the descriptor's index in its frame) */
    uint64_t entry;         /* the entry value at issue (PVM_WHY_BAD_DESC: the descriptor) */
    uint64_t saw, exp;      /* for BAD_TYPE: type_info seen and type wanted */
};

/*
 * struct pvm_machine: API: frames, nr_frames, ops, doms[] (through
 * pvm_domain()), stats, last, last_set.  API, set after pvm_init and before
 * the first domain is created: opt_pv_linear_pt, opt_tlb_check, paddr_bits.
 * Internal: tlbflush_clock, last_weak, current, mmio_ro, nr_mmio_ro.
 */
struct pvm_machine {
    struct pvm_page_info *frames;
    uint64_t nr_frames;
    struct pvm_ops ops;
    bool opt_pv_linear_pt;       /* Xen's pv-linear-pt (default on) */
    bool opt_tlb_check;          /* re-walk on every TLB hit to catch stale entries */
    unsigned int paddr_bits;     /* host physical-address width (Xen's paddr_bits, at most 52): bounds dom0's I/O */
    uint32_t tlbflush_clock;
    struct pvm_domain doms[PVM_MAX_DOMAINS];
    struct pvm_stats stats;
    struct pvm_refusal last;     /* innermost cause of the latest refusal */
    bool last_set;               /* last holds the latest operation's cause (false: it was not refused) */
    bool last_weak;              /* ...but a later, more specific cause may replace it */
    struct pvm_vcpu *current;    /* vCPU whose request is being served */
    struct { uint64_t first, last; } mmio_ro[PVM_MAX_MMIO_RO];   /* Xen's mmio_ro_ranges */
    unsigned int nr_mmio_ro;
};

/* ---- machine and domains ------------------------------------------------ */

/*
 * Set up machine m over the caller's frame table of nr_frames entries, which
 * the caller zeroed (all frames free).  Linear page tables are on, TLB
 * re-walk checking is off, paddr_bits is 40 (QEMU's); the caller may change
 * it before creating domains.  Does not keep a copy of ops' pointers' targets.
 */
PVM_API void pvm_init(struct pvm_machine *m, struct pvm_page_info *frames, uint64_t nr_frames,
                      const struct pvm_ops *ops);

/*
 * Create domain `id` with nr_vcpus vCPUs (online, in kernel mode, no root).
 * A PVM_DOM_PRIVILEGED domain may map the I/O frames below 2^paddr_bits
 * (Xen's dom0 iomem_caps), as one range, any other domain none;
 * pvm_domain_iomem_permit, _add and _deny change that.  Returns 0, -EINVAL
 * (bad id or vCPU count) or -EBUSY (exists, or table full).
 */
PVM_API int pvm_domain_create(struct pvm_machine *m, domid_t id, unsigned int nr_vcpus,
                              unsigned int flags);

/* The domain with this id, or NULL. */
PVM_API struct pvm_domain *pvm_domain(struct pvm_machine *m, domid_t id);

/* vCPU vcpu_id of domain id, or NULL. */
PVM_API struct pvm_vcpu *pvm_vcpu(struct pvm_machine *m, domid_t id, unsigned int vcpu_id);

/*
 * Let domain id map I/O frames first..last (inclusive) and no others: its
 * ranges become that one, or none if first > last.  Returns 0 or -ESRCH.
 */
PVM_API int pvm_domain_iomem_permit(struct pvm_machine *m, domid_t id, uint64_t first, uint64_t last);

/*
 * Let domain id map I/O frames first..last (inclusive) as well (Xen's
 * iomem_permit_access, a rangeset_add_range): the union, ranges that overlap
 * or touch it merged into one.  Returns 0, -EINVAL (first > last), -ESRCH,
 * or -ENOSPC, nothing changed, if the union needs more than
 * PVM_MAX_IOMEM_RANGES ranges.
 */
PVM_API int pvm_domain_iomem_add(struct pvm_machine *m, domid_t id, uint64_t first, uint64_t last);

/*
 * Take I/O frames first..last (inclusive) away from domain id (Xen's
 * iomem_deny_access, a rangeset_remove_range): a range inside them goes, one
 * across an edge is cut, one around them is split in two.  Returns 0,
 * -EINVAL (first > last), -ESRCH, or -ENOSPC, nothing changed, if a split
 * needs more than PVM_MAX_IOMEM_RANGES.  Mappings already made stay, as in
 * Xen; pvm_audit then reports each as an L1 entry mapping an I/O frame
 * without permission (as after a pvm_domain_iomem_permit that drops it).
 */
PVM_API int pvm_domain_iomem_deny(struct pvm_machine *m, domid_t id, uint64_t first, uint64_t last);

/*
 * Add I/O frames first..last (inclusive) to Xen's mmio_ro_ranges: a domain
 * allowed to map them (its iomem ranges) maps them read-only only, a writable
 * mapping forced read-only, as Xen does for the HPET, an IO-APIC or read-only
 * PCI config space.  None at pvm_init.  Returns 0, -EINVAL (first > last) or
 * -EBUSY (PVM_MAX_MMIO_RO ranges already).
 */
PVM_API int pvm_mmio_ro_add(struct pvm_machine *m, uint64_t first, uint64_t last);

/*
 * Give free frame mfn to domain id as Xen's alloc_heap_pages and
 * assign_pages do: owner set, count_info = PVM_PGC_allocated|1, type none.  A
 * frame that had an owner before may still be cached by a TLB: every vCPU of
 * every domain that has not flushed since the frame was freed is flushed
 * first (Xen's need_tlbflush and tlbflush_filter).  Sets M2P to gpfn.
 * Returns 0, -EINVAL (mfn out of range), -EBUSY (frame not free), -ESRCH.
 */
PVM_API int pvm_assign_page(struct pvm_machine *m, uint64_t mfn, domid_t id, uint64_t gpfn);

/*
 * Give the free frames [mfn, mfn+count) to domain id, as pvm_assign_page
 * does for each (one flush for the whole range, filtered by its newest
 * stamp), but without touching the M2P (the caller keeps it).
 * Returns 0, or the first error with no frame assigned.
 */
PVM_API int pvm_assign_pages(struct pvm_machine *m, uint64_t mfn, uint64_t count, domid_t id);

/*
 * The domain gives frame mfn back (decrease_reservation): drops the
 * allocation reference; the frame is freed when its last reference goes.
 * Does not unpin (XSA-252), and does not take back a frame Xen holds
 * (pvm_xen_map_frame): such a frame stays the domain's, typed writable,
 * until its last hold goes.  Returns 0, or -EINVAL if the domain does not own
 * mfn (a freed frame has no owner).  Releasing a frame again while references
 * keep it alive returns 0 and drops nothing, as real Xen 4.17 does.
 */
PVM_API int pvm_release_page(struct pvm_machine *m, domid_t id, uint64_t mfn);

/*
 * Xen maps frame mfn of domain id writable for its own use, as it does for a
 * vCPU's vcpu_info (VCPUOP_register_vcpu_info), a FIFO event channel's
 * control block or event array page (EVTCHNOP_init_control, expand_array)
 * and the pirq EOI bitmap (PHYSDEVOP_pirq_eoi_gmfn_v2): it takes a general
 * and a writable type reference and holds them until pvm_xen_unmap_frame.
 * While held, the frame cannot become a page table: a pin, a table entry or
 * a root load of it fails the type change with Xen's "Bad type" line.  The
 * same frame may be held more than once, each hold a reference of its own.
 * The holds are the domain's xen_maps[] (pvm_frame_query counts a frame's).
 * Returns 0; -ESRCH (no domain id); -EINVAL if mfn is not a frame of id (as
 * Xen's get_page_from_gfn fails: free, another domain's, I/O, out of range)
 * or cannot take the writable type (an L1-L4 table or descriptor page in
 * use: logged and recorded in m.last as any type failure); -ENOSPC if the
 * domain holds PVM_MAX_XEN_MAPS already.  On failure nothing changed.
 */
PVM_API int pvm_xen_map_frame(struct pvm_machine *m, domid_t id, uint64_t mfn);

/*
 * Xen drops one hold of pvm_xen_map_frame on frame mfn of domain id (its
 * put_page_and_type, as when it unmaps a vcpu_info or resets the event
 * channels): the writable type reference (at the last one the type count is
 * 0 and the frame may change type again) and the general reference, which
 * frees the frame if the domain has released it.  Returns 0, -ESRCH (no
 * domain id) or -EINVAL (domain id holds no hold on mfn); on failure nothing
 * changed.
 */
PVM_API int pvm_xen_unmap_frame(struct pvm_machine *m, domid_t id, uint64_t mfn);

/* Mark frame mfn as I/O (owner DOMID_IO), as Xen does for non-RAM at boot. */
PVM_API int pvm_mark_io(struct pvm_machine *m, uint64_t mfn);

/*
 * Write one 8-byte slot of a frame directly, as a domain builder or the
 * toolstack writes guest RAM.  Refused with -EBUSY if the frame is currently
 * a page table or descriptor page (type L1-L4 or seg_desc in use): validated
 * contents change only through hypercalls.  A descriptor page not in use
 * loses its validation (its next use checks it again).  Returns 0, -EINVAL
 * (bad mfn/slot) or -EFAULT (no storage).
 */
PVM_API int pvm_poke(struct pvm_machine *m, uint64_t mfn, unsigned int slot, uint64_t val);

/*
 * Xen's PV dom0 builder maps the initial p2m list with superpages where it
 * can (setup_pv_physmap): write `entry` (present, _PAGE_PSE, its frame
 * aligned to the superpage) into empty slot `slot` of validated table
 * `table` of domain id, an L2 (2 MiB) or an L3 (1 GiB), and take on every
 * frame it maps what Xen's put_data_pages drops when the entry is replaced or
 * its table devalidated: a general reference, and a writable type reference
 * if the entry has _PAGE_RW.  No guest can make such an entry (L2 and L3
 * entries with _PAGE_PSE are refused, XSA-148); the software MMU does not walk
 * them (a fault) and pvm_find_mappings does not report them.  Returns 0,
 * -EINVAL (no such validated L2/L3 of id, slot in use, entry not present and
 * PSE, frame misaligned or past memory) or -EBUSY (a frame not id's, or not
 * typeable writable); on failure nothing changed.
 */
PVM_API int pvm_build_superpage(struct pvm_machine *m, domid_t id, uint64_t table, unsigned int slot,
                                uint64_t entry);

/* Read one 8-byte slot of a frame (zeros if it holds no data).  No checks. */
PVM_API uint64_t pvm_peek(const struct pvm_machine *m, uint64_t mfn, unsigned int slot);

/*
 * Load mfn as vCPU v's kernel root, as arch_set_info_guest does with
 * ctrlreg[3]: takes a general and an L4 type reference, validating the whole
 * tree if needed, and drops the previous root's references.  Returns 0 or
 * the validation error; on error nothing changed.
 */
PVM_API int pvm_set_guest_table(struct pvm_vcpu *v, uint64_t mfn);

/* ---- hypercalls (the caller is vCPU v; results are Xen's) --------------- */

/*
 * The hypercalls below take the caller's own arrays (reqs, ops, list, pdone:
 * host memory the caller owns, as after Xen's copy_from_guest).  Every value
 * inside them that Xen's ABI defines as a guest handle (an mmuext_op's
 * vcpumask, an update_va_mapping flags word above UVMF_ALL|3, a multicall
 * entry's pointer arguments) is a guest address, reached only through
 * pvm_ops.copy_from_guest/copy_to_guest.
 */

/*
 * HYPERVISOR_mmu_update.  Runs reqs[0..count) in order and stops at the first
 * failure, whose rc it returns; *pdone (if not NULL) gets the number
 * completed.  Completed requests are kept.  Flushes the domain's TLBs if any
 * L2-L4 entry changed.
 */
PVM_API int pvm_mmu_update(struct pvm_vcpu *v, const struct mmu_update *reqs, unsigned int count,
                           unsigned int *pdone, unsigned int foreigndom);

/* HYPERVISOR_mmuext_op.  Same batch rules as pvm_mmu_update. */
PVM_API int pvm_mmuext_op(struct pvm_vcpu *v, const struct mmuext_op *ops, unsigned int count,
                          unsigned int *pdone, unsigned int foreigndom);

/*
 * HYPERVISOR_update_va_mapping: replace the L1 entry mapping va in v's
 * current page tables with val, then flush per flags (UVMF_*) only if that
 * succeeded.  A flags value above UVMF_ALL|3 holds a guest handle of a vCPU
 * bitmap, as in Xen: if it cannot be read the entry stays written, nothing
 * is flushed and the result is -EFAULT.
 */
PVM_API int pvm_update_va_mapping(struct pvm_vcpu *v, uint64_t va, uint64_t val, unsigned long flags);

/* HYPERVISOR_update_va_mapping_otherdomain: val maps a frame of domid. */
PVM_API int pvm_update_va_mapping_otherdomain(struct pvm_vcpu *v, uint64_t va, uint64_t val,
                                              unsigned long flags, domid_t domid);

/*
 * HYPERVISOR_multicall over the caller's list: run each entry (its
 * arguments are guest values, dispatched as pvm_hypercall does), store its
 * return value in its own result field, and go on after failures.  Returns
 * 0, -EINVAL on nesting, -EFAULT for a NULL list.  An iret entry ends the
 * batch and its result (-ENOSYS: iret is not modelled) is returned, as Xen's
 * mc_exit does.  No limit on nr (Xen preempts long lists; the core runs them
 * to the end).
 */
PVM_API int pvm_multicall(struct pvm_vcpu *v, struct multicall_entry *list, unsigned int nr);

/* HYPERVISOR_vm_assist.  Returns 0, -EINVAL (type) or -ENOSYS (cmd). */
PVM_API int pvm_vm_assist(struct pvm_vcpu *v, unsigned int cmd, unsigned int type);

/*
 * HYPERVISOR_set_gdt for vCPU v (Xen's do_set_gdt and pv_set_gdt): the first
 * (entries + 511) / 512 mfns of frames[0..nr_frames) become v's GDT.  In list
 * order each takes a general and a seg_desc type reference; a frame becoming
 * a descriptor page has its 512 descriptors checked and fixed up in place
 * (check_descriptor: DPL 3, a call gate's DPL 0).  Then the old GDT's
 * references go, v->gdt_frames[] and v->gdt_ents take the new GDT (entries 0:
 * none) and v's TLB is flushed.  Returns 0; -EINVAL for entries above 14 *
 * 512 (Xen's FIRST_RESERVED_GDT_ENTRY), or a frame that is not v's domain's,
 * cannot take the seg_desc type (mapped writable, a page table: Xen's "Bad
 * type" line) or holds a descriptor check_descriptor refuses (Xen's "Error
 * while validating" line); -EFAULT if nr_frames is fewer than entries need
 * (Xen could not copy the guest's list).  On failure v's GDT and every count
 * are as before, but, as in Xen, a frame validated before the failing one
 * stays a descriptor page at type count 0, and descriptors fixed up before
 * the refused one stay fixed up.
 */
PVM_API int pvm_set_gdt(struct pvm_vcpu *v, const uint64_t *frames, unsigned int nr_frames, unsigned int entries);

/*
 * HYPERVISOR_update_descriptor for vCPU v (Xen's do_update_descriptor):
 * check desc (check_descriptor, fixing it up) and write it at machine
 * address maddr, in a frame of v's domain.  For the write the frame holds a
 * general reference and a type reference, seg_desc if it is a descriptor page
 * (in a GDT or not), writable otherwise: a frame mapped writable is written
 * too, a page table in use is refused (Xen's "Bad type" line), and a frame of
 * no type is left writable at type count 0, as in Xen.  Returns 0, -EINVAL
 * (maddr not 8-byte aligned, desc refused, the frame not v's domain's RAM or
 * of a type in use that is neither) or -EFAULT (the platform has no storage
 * for the frame); on failure nothing changed.
 */
PVM_API int pvm_update_descriptor(struct pvm_vcpu *v, uint64_t maddr, uint64_t desc);

/*
 * Dispatch hypercall `op` with the guest's register arguments args[0..5],
 * as the hypercall page would.  Every pointer argument is a guest handle:
 * arrays, done counts and multicall lists are read and written through
 * pvm_ops.copy_from_guest/copy_to_guest (a range outside guest memory, or a
 * copy that fails, gives -EFAULT as in Xen; a done count that cannot be
 * written is ignored, as in Xen).  Unknown ops return -ENOSYS.
 */
PVM_API long pvm_hypercall(struct pvm_vcpu *v, unsigned long op, const xen_ulong_t args[6]);

/* ---- guest memory access through the software MMU ----------------------- */

/* Page-fault error code bits, as the CPU pushes them (Xen's PFEC_*). */
#define PVM_PFEC_page_present 0x1u
#define PVM_PFEC_write_access 0x2u
#define PVM_PFEC_user_mode    0x4u

struct pvm_fault {
    uint64_t va;
    unsigned int error_code;    /* PVM_PFEC_* */
    unsigned int level;         /* level whose entry stopped the walk (1-4) */
    uint64_t table_mfn;         /* table holding that entry */
    uint64_t entry;             /* that entry */
};

enum pvm_access {
    PVM_ACCESS_OK = 0,          /* done by the (simulated) hardware */
    PVM_ACCESS_EMULATED = 1,    /* write to an RO L1, emulated by ptwr */
    PVM_ACCESS_FAULT = -1,      /* #PF delivered to the guest; *f says why */
};

/*
 * Translate va for vCPU v in its current mode (kernel root, or user root in
 * user mode), through the TLB, walking the tables on a miss and setting
 * accessed/dirty bits as hardware does.  A 64-bit PV kernel runs in ring 3,
 * so every level must have PVM_PAGE_USER.  Returns PVM_ACCESS_OK with *maddr, or
 * PVM_ACCESS_FAULT with *f.  Does not emulate anything.
 */
PVM_API int pvm_translate(struct pvm_vcpu *v, uint64_t va, bool write, uint64_t *maddr,
                          struct pvm_fault *f);

/*
 * A guest store of `bytes` (1, 2, 4 or 8) at va, at any alignment (one that
 * crosses a page boundary needs both pages writable, or nothing is written
 * and the fault names the first page that refused).  A naturally aligned
 * write fault on a read-only mapping of one of the domain's own L1 tables is
 * emulated (ptwr) when the domain enabled VMASST_TYPE_writable_pagetables;
 * a misaligned one stays a #PF, as in Xen.
 */
PVM_API enum pvm_access pvm_guest_store(struct pvm_vcpu *v, uint64_t va, uint64_t val, unsigned int bytes,
                                        struct pvm_fault *f);

/* A guest load of 8 bytes at va, at any alignment (across a page boundary too). */
PVM_API enum pvm_access pvm_guest_load(struct pvm_vcpu *v, uint64_t va, uint64_t *val, struct pvm_fault *f);

/*
 * ptwr: emulate a write of `bytes` at va (within the page of the faulting
 * address) into an L1 table that v maps read-only.  With do_cmpxchg the write
 * happens only if the entry equals old.  Returns 0 if emulated, -EINVAL if
 * Xen would leave the fault unhandled (the guest gets the #PF).
 */
PVM_API int pvm_ptwr_emulate(struct pvm_vcpu *v, uint64_t va, uint64_t old, uint64_t val,
                             unsigned int bytes, bool do_cmpxchg);

/* Drop all of v's TLB entries and tick the TLB clock (a full flush). */
PVM_API void pvm_tlb_flush_vcpu(struct pvm_vcpu *v);

/*
 * Switch v between guest kernel and guest user mode (Xen's
 * toggle_guest_mode, as on a syscall or iret): the other root becomes
 * current, non-global TLB entries are dropped, global (user) ones survive,
 * and the TLB clock does not tick.
 */
PVM_API void pvm_set_guest_mode(struct pvm_vcpu *v, bool kernel);

/* ---- introspection ------------------------------------------------------- */

enum pvm_type {
    PVM_TYPE_NONE = 0, PVM_TYPE_L1, PVM_TYPE_L2, PVM_TYPE_L3, PVM_TYPE_L4,
    PVM_TYPE_SEG_DESC, PVM_TYPE_SHARED, PVM_TYPE_WRITABLE
};

struct pvm_frame_state {
    uint64_t mfn;
    bool valid;                 /* mfn is inside the frame table */
    bool io;                    /* owned by DOMID_IO */
    domid_t owner;              /* DOMID_INVALID if free */
    uint64_t count;             /* general count */
    bool allocated;             /* PVM_PGC_allocated */
    enum pvm_type type;
    uint64_t type_count;
    bool validated, pinned, partial;
    int linear_pt_count;
    unsigned int xen_maps;      /* holds of Xen's own writable mappings (pvm_xen_map_frame) */
    unsigned int gdt_refs;      /* seg_desc references of the owner's vCPUs' GDTs (pvm_set_gdt) */
    unsigned int gdt_vcpus;     /* bit n set: the owner's vCPU n has the frame in its GDT */
    uint64_t m2p;
    uint64_t count_info, type_info;   /* as Xen would print them (caf, taf) */
};

/* Fill *out for frame mfn.  Frames beyond the table are reported !valid. */
PVM_API void pvm_frame_query(const struct pvm_machine *m, uint64_t mfn, struct pvm_frame_state *out);

/* "none", "l1", ... "writable". */
PVM_API const char *pvm_type_name(enum pvm_type t);

/* Short text for a refusal cause ("bad type", "linear entry with RW", ...). */
PVM_API const char *pvm_why_name(enum pvm_why why);

/* Where frame mfn is mapped: one L1 slot, and one virtual address reaching it. */
struct pvm_mapping {
    uint64_t l1_mfn;
    unsigned int slot;
    uint64_t pte;
    bool va_known;     /* false if no validated L4/L3/L2 chain reaches l1_mfn */
    uint64_t va;
    uint64_t root_mfn; /* the L4 the va belongs to */
};

/*
 * Report every mapping of mfn held by a validated L1 table (only RW ones if
 * writable_only), once per reaching virtual address (at most 8 per slot).
 * Returns the number of L1 slots found.  Scans the whole frame table.
 */
PVM_API unsigned long pvm_find_mappings(const struct pvm_machine *m, uint64_t mfn, bool writable_only,
                                        void (*cb)(void *ctx, const struct pvm_mapping *map), void *ctx);

/* ---- the auditor --------------------------------------------------------- */

enum pvm_audit_kind {
    PVM_AUDIT_COUNT,          /* general count differs from recomputed */
    PVM_AUDIT_TYPE_COUNT,     /* type count differs */
    PVM_AUDIT_TYPE,           /* an entry needs a type the frame does not have */
    PVM_AUDIT_VALIDATED,      /* validated flag inconsistent with the type count */
    PVM_AUDIT_ENTRY,          /* a validated table holds an entry Xen would refuse */
    PVM_AUDIT_OWNER,          /* entry maps a frame of another domain, or a free frame */
    PVM_AUDIT_XEN_SLOT,       /* L4 Xen slot differs from what Xen writes */
    PVM_AUDIT_LINEAR,         /* linear_pt_count differs */
    PVM_AUDIT_TLB,            /* a TLB holds a writable translation of a non-writable frame */
    PVM_AUDIT_ROOT,           /* a vCPU root is not a validated L4 */
    PVM_AUDIT_FREE,           /* free frame with references, or owned frame with none */
};

struct pvm_audit_issue {
    enum pvm_audit_kind kind;
    uint64_t mfn;
    uint64_t expected, actual;
    char text[200];           /* one line describing the disagreement */
};

/* Bytes of scratch memory pvm_audit needs for machine m: PVM_AUDIT_BYTES_PER_FRAME per frame. */
PVM_API size_t pvm_audit_scratch_bytes(const struct pvm_machine *m);
#define PVM_AUDIT_BYTES_PER_FRAME 12

/*
 * Recompute every frame's general count, type count, linear count and type
 * from page contents, pins, vCPU roots, vCPU GDTs (gdt_frames[]) and Xen's
 * own writable mappings (xen_maps[]) alone, check every validated
 * descriptor page's descriptors and each domain's I/O ranges (in order,
 * disjoint, not adjacent: PVM_AUDIT_COUNT), and report each disagreement
 * with the core's bookkeeping through cb (may be NULL).
 * scratch must hold pvm_audit_scratch_bytes(m) bytes.  Returns the number of
 * issues; 0 means clean.  Changes nothing.
 */
PVM_API unsigned long pvm_audit(const struct pvm_machine *m, void *scratch,
                                void (*cb)(void *ctx, const struct pvm_audit_issue *issue), void *ctx);

/*
 * pvm_audit within scratch_bytes of scratch (4-byte aligned), however large
 * the machine: one pass when the scratch holds every frame's counts, else
 * passes over regions of frames, each recomputing its frames' counts from
 * the table entries that point into it (part of the scratch then holds a bit
 * per frame and 8 bytes per table, if they fit, so passes skip the rest).
 * Reports the same issues as pvm_audit (in the same order when one pass
 * covers every frame, grouped by region otherwise).  Returns the number of
 * issues, or PVM_AUDIT_NO_SCRATCH without auditing if scratch_bytes is below
 * PVM_AUDIT_BYTES_PER_FRAME.  Changes nothing.
 */
#define PVM_AUDIT_NO_SCRATCH (~0UL)
PVM_API unsigned long pvm_audit_bounded(const struct pvm_machine *m, void *scratch, size_t scratch_bytes,
                                        void (*cb)(void *ctx, const struct pvm_audit_issue *issue), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* PVMMU_H */
