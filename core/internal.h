/*
 * internal.h - shared helpers of the PV MMU core.  Not installed.
 *
 * Entries are 64-bit x86 PTEs.  Like Xen, flag checks work on a 24-bit
 * "flags" view: PTE bits 0-11 stay where they are, PTE bits 52-63 move down
 * to flag bits 12-23 (get_pte_flags).
 */
#ifndef PVMMU_CORE_INTERNAL_H
#define PVMMU_CORE_INTERNAL_H

#include <stdarg.h>

#include "pvmmu/pvmmu.h"
#include "xen_names.h"

/* The short names Xen uses inside the hypervisor (the public headers prefix them). */
#define PAGE_SHIFT           XEN_PAGE_SHIFT
#define PAGE_SIZE            XEN_PAGE_SIZE
#define L1_PAGETABLE_ENTRIES PVM_L1_PAGETABLE_ENTRIES
#define PADDR_BITS           PVM_PADDR_BITS
#define PADDR_MASK           PVM_PADDR_MASK
#define PTE_FRAME_MASK       PVM_PTE_FRAME_MASK
#define ROOT_PAGETABLE_FIRST_XEN_SLOT PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT
#define ROOT_PAGETABLE_LAST_XEN_SLOT  PVM_ROOT_PAGETABLE_LAST_XEN_SLOT
#define LINEAR_PT_SLOT       PVM_LINEAR_PT_SLOT

/* Xen's 24-bit flag view. */
#define F_PRESENT     0x000001u
#define F_RW          0x000002u
#define F_USER        0x000004u
#define F_PWT         0x000008u
#define F_PCD         0x000010u
#define F_ACCESSED    0x000020u
#define F_DIRTY       0x000040u
#define F_PSE         0x000080u
#define F_PAT         0x000080u
#define F_GLOBAL      0x000100u
#define F_AVAIL       0x000E00u
#define F_GUEST_KERNEL 0x001000u
#define F_AVAIL_HIGH  0x7FF000u
#define F_NX          0x800000u
#define F_CACHE_ATTRS (F_PAT | F_PCD | F_PWT)

#define BASE_DISALLOW_MASK (0xFFFFFFu & ~(F_PRESENT | F_RW | F_USER | F_ACCESSED | F_DIRTY | \
                                          F_AVAIL | F_AVAIL_HIGH | F_NX))
#define L1_DISALLOW_MASK   (BASE_DISALLOW_MASK & ~F_GLOBAL)
#define L2_DISALLOW_MASK   BASE_DISALLOW_MASK
#define L3_DISALLOW_MASK   BASE_DISALLOW_MASK
#define L4_DISALLOW_MASK   BASE_DISALLOW_MASK
#define FASTPATH_FLAG_WHITELIST (F_NX | F_AVAIL_HIGH | F_AVAIL | F_GLOBAL | F_DIRTY | F_ACCESSED | F_USER)
#define FASTPATH_PDE_FLAG_WHITELIST FASTPATH_FLAG_WHITELIST

static inline unsigned int get_pte_flags(uint64_t e)
{
    return (unsigned int)(((e >> 40) & ~0xFFFULL) | (e & 0xFFFULL));
}

static inline uint64_t put_pte_flags(unsigned int f)
{
    return (((uint64_t)f & ~0xFFFULL) << 40) | ((uint64_t)f & 0xFFFULL);
}

static inline uint64_t pte_mfn(uint64_t e) { return (e & PTE_FRAME_MASK) >> PAGE_SHIFT; }
static inline bool pte_present(uint64_t e) { return (e & _PAGE_PRESENT) != 0; }

/* Did the frame or any flag outside `ignore` change between o and n? */
static inline bool pte_has_changed(uint64_t o, uint64_t n, unsigned int ignore)
{
    return ((o ^ n) & (PTE_FRAME_MASK | put_pte_flags(0xFFFFFFu & ~ignore))) != 0;
}

static inline bool mfn_valid(const struct pvm_machine *m, uint64_t mfn) { return mfn < m->nr_frames; }

static inline struct page_info *mfn_to_page(const struct pvm_machine *m, uint64_t mfn)
{
    return &m->frames[mfn];
}

static inline uint64_t page_to_mfn(const struct pvm_machine *m, const struct page_info *pg)
{
    return (uint64_t)(pg - m->frames);
}

static inline uint64_t page_type(const struct page_info *pg) { return pg->type_info & PGT_type_mask; }
static inline uint64_t type_count(const struct page_info *pg) { return pg->type_info & PGT_count_mask; }

/* The owner field packed into count_info: domid+1, or PVM_OWNER_NONE / PVM_OWNER_IO. */
static inline unsigned int owner_raw(const struct page_info *pg)
{
    return (unsigned int)((pg->count_info & PGC_owner_mask) >> PGC_owner_shift);
}
static inline void set_owner_raw(struct page_info *pg, unsigned int raw)
{
    /* Callers pass PVM_OWNER_NONE, PVM_OWNER_IO or domid+1 of a domid below DOMID_FIRST_RESERVED. */
    pg->count_info = (pg->count_info & ~PGC_owner_mask) | ((uint64_t)raw << PGC_owner_shift);
}
static inline bool page_owned_by(const struct page_info *pg, domid_t id) { return owner_raw(pg) == id + 1u; }
static inline uint64_t gen_count(const struct page_info *pg) { return pg->count_info & PGC_count_mask; }

/* The aux word of type_info: linear_pt_count while in use, TLB stamp at type count 0. */
static inline int16_t linear_count(const struct page_info *pg)
{
    return (int16_t)(uint16_t)(pg->type_info >> PGT_aux_shift);
}
static inline void set_aux(struct page_info *pg, uint64_t aux)
{
    pg->type_info = (pg->type_info & ~PGT_aux_mask) | ((aux << PGT_aux_shift) & PGT_aux_mask);
}
static inline void set_linear_count(struct page_info *pg, int16_t v) { set_aux(pg, (uint16_t)v); }
static inline uint32_t tlb_stamp(const struct page_info *pg)
{
    return (uint32_t)((pg->type_info & PGT_aux_mask) >> PGT_aux_shift);
}
static inline bool is_pt_type(uint64_t t) { return t >= PGT_l1_page_table && t <= PGT_l4_page_table; }
static inline unsigned int type_level(uint64_t t) { return (unsigned int)(t >> 61); }
static inline uint64_t level_type(unsigned int level) { return (uint64_t)level << 61; }

/* Owner of a frame as a domid, DOMID_IO, or DOMID_INVALID when free. */
static inline domid_t page_owner_id(const struct page_info *pg)
{
    return owner_raw(pg) == PVM_OWNER_NONE ? (domid_t)DOMID_INVALID : (domid_t)(owner_raw(pg) - 1);
}

static inline bool is_io_frame(const struct pvm_machine *m, uint64_t mfn)
{
    return !mfn_valid(m, mfn) || owner_raw(&m->frames[mfn]) == PVM_OWNER_IO;
}

/* Is I/O frame mfn in Xen's mmio_ro_ranges (pvm_mmio_ro_add)? */
bool mmio_ro(const struct pvm_machine *m, uint64_t mfn);

/* pvm_domain with its fast path inline: pvm_domain_create puts domain id in slot id % PVM_MAX_DOMAINS when it can. */
static inline struct pvm_domain *domain_of(struct pvm_machine *m, domid_t id)
{
    struct pvm_domain *d = &m->doms[id % PVM_MAX_DOMAINS];
    return d->exists && d->id == id ? d : pvm_domain(m, id);
}

/* The domain owning a frame; NULL when it is free or belongs to DOMID_IO or another reserved id. */
static inline struct pvm_domain *page_owner_dom(struct pvm_machine *m, const struct page_info *pg)
{
    domid_t id = page_owner_id(pg);
    return id < DOMID_FIRST_RESERVED ? domain_of(m, id) : NULL;
}

static inline bool is_privileged(const struct pvm_domain *d) { return (d->flags & PVM_DOM_PRIVILEGED) != 0; }

static inline bool is_guest_l4_slot(unsigned int s)
{
    return s < ROOT_PAGETABLE_FIRST_XEN_SLOT || s > ROOT_PAGETABLE_LAST_XEN_SLOT;
}

static inline bool vm_assist_on(const struct pvm_domain *d, unsigned int type)
{
    return type < 64 && ((d->vm_assist >> type) & 1UL);
}

/* The 4-level index of va at `level` (1-4). */
static inline unsigned int table_index(uint64_t va, unsigned int level)
{
    return (unsigned int)((va >> (12 + 9 * (level - 1))) & 511);
}

/* Canonical and guest-accessible, Xen's __addr_ok. */
static inline bool addr_ok(uint64_t va)
{
    return va < (1ULL << 47) || va >= HYPERVISOR_VIRT_END;
}

/* The M2P entry of mfn (PVM_INVALID_M2P if not kept). */
static inline uint64_t get_m2p(const struct pvm_machine *m, uint64_t mfn)
{
    return m->ops.m2p_get ? m->ops.m2p_get(m->ops.ctx, mfn) : PVM_INVALID_M2P;
}
static inline void set_m2p(struct pvm_machine *m, uint64_t mfn, uint64_t gpfn)
{
    if (m->ops.m2p_set)
        m->ops.m2p_set(m->ops.ctx, mfn, gpfn);
}

/* Tell the platform (pvm_ops.validate, if any) that a validation or devalidation of mfn begins or ends. */
static inline void validate_event(const struct pvm_machine *m, uint64_t mfn, unsigned int level,
                                  enum pvm_validate_phase phase, int rc)
{
    if (m->ops.validate)
        m->ops.validate(m->ops.ctx, mfn, level, phase, rc);
}

/* ---- log.c ---- */
/*
 * Xen's BUG_ON for the invariants the core relies on: report through the
 * platform's bug hook and never return.  Always compiled in.
 */
__attribute__((noreturn, format(printf, 4, 5)))
void pvm_bug(const struct pvm_machine *m, const char *file, unsigned int line, const char *fmt, ...);
#define BUG_ON(m, cond, ...) \
    do { if (__builtin_expect(!!(cond), 0)) pvm_bug((m), __FILE__, __LINE__, __VA_ARGS__); } while (0)

void xen_log(struct pvm_machine *m, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define gdprintk(m, ...) xen_log((m), PVM_LOG_WARN, __VA_ARGS__)

/* Xen's %pd: "d1", "d[IO]", "d[XEN]"; buf must hold 16 bytes. */
const char *fmt_dom(char *buf, domid_t id);

/* Record the innermost cause of a refusal (first one per operation wins). */
void refuse(struct pvm_machine *m, int rc, enum pvm_why why, uint64_t mfn);
/* weak: Xen is silent here (a linear entry may follow); a later cause replaces it. */
void refuse_type(struct pvm_machine *m, uint64_t mfn, uint64_t saw, uint64_t exp, bool weak);
/* Attach the table/slot/entry context if the cause has none yet. */
void refuse_where(struct pvm_machine *m, uint64_t table_mfn, unsigned int level, unsigned int slot,
                  uint64_t entry);
/* Start a new operation: forget the previous cause. */
void refuse_reset(struct pvm_machine *m);

/* Begin serving one request of vCPU v (a hypercall, a guest access, a root load). */
static inline struct pvm_machine *enter_vcpu(struct pvm_vcpu *v)
{
    v->m->current = v;
    refuse_reset(v->m);
    return v->m;
}

/* ---- page.c: references and types ---- */
bool get_page(struct pvm_machine *m, struct page_info *pg, const struct pvm_domain *d);
struct page_info *get_page_from_mfn(struct pvm_machine *m, uint64_t mfn, const struct pvm_domain *d);
void put_page(struct pvm_machine *m, struct page_info *pg);
int get_page_type(struct pvm_machine *m, struct page_info *pg, uint64_t type);
void put_page_type(struct pvm_machine *m, struct page_info *pg, struct page_info *ptpg);
int get_page_and_type_from_mfn(struct pvm_machine *m, uint64_t mfn, uint64_t type, const struct pvm_domain *d);
void put_page_and_type(struct pvm_machine *m, struct page_info *pg);
bool page_lock_ok(const struct page_info *pg);

/* Our own L1 table, in use (Xen's page_lock test included): what ptwr and update_va_mapping write into. */
static inline bool is_own_l1(const struct page_info *pg, domid_t id)
{
    return page_owned_by(pg, id) && page_lock_ok(pg) && page_type(pg) == PGT_l1_page_table;
}

/* ---- desc.c: descriptor pages ---- */
/* Xen's public limit (arch-x86/xen.h): a guest's GDT ends where Xen's reserved page, its 15th, begins. */
#define FIRST_RESERVED_GDT_PAGE  14u
#define FIRST_RESERVED_GDT_ENTRY (FIRST_RESERVED_GDT_PAGE * 512u)
/*
 * Xen's check_descriptor for a 64-bit PV guest: true if *desc may sit in a
 * descriptor page, *desc then fixed up as Xen stores it (DPL 3; a call
 * gate's DPL 0 and the meant DPL in its target's RPL); false leaves it.
 */
bool check_descriptor(uint64_t *desc);
/*
 * Check frame pg's 512 descriptors as it becomes a descriptor page, fixing
 * each up in place until the first refused one (recorded in m.last).
 * Returns 0, -EINVAL or -EFAULT (no storage for a fix-up).
 */
int validate_segdesc_page(struct pvm_machine *m, struct page_info *pg);
/* How many frames v's GDT holds: its entries, 512 a frame (at most PVM_MAX_GDT_FRAMES). */
static inline unsigned int gdt_nr_frames(const struct pvm_vcpu *v)
{
    unsigned int n = (v->gdt_ents + 511u) / 512u;
    return v->gdt_ents > PVM_MAX_GDT_FRAMES * 512u ? PVM_MAX_GDT_FRAMES : n;
}

/* ---- entry.c: per-level rules ---- */
unsigned int l1_disallow_mask(const struct pvm_machine *m, const struct pvm_domain *d);
bool iomem_access_permitted(const struct pvm_domain *d, uint64_t mfn);
int get_page_from_l1e(struct pvm_machine *m, uint64_t l1e, struct pvm_domain *l1e_owner,
                      struct pvm_domain *pg_owner);
void put_page_from_l1e(struct pvm_machine *m, uint64_t l1e);
uint64_t adjust_guest_l1e(uint64_t e);
uint64_t superpage_frames(unsigned int level);
bool is_superpage(uint64_t e, unsigned int level);
int get_data_pages(struct pvm_machine *m, uint64_t e, unsigned int level, const struct pvm_domain *d);
void put_data_pages(struct pvm_machine *m, uint64_t e, unsigned int level);
int promote_table(struct pvm_machine *m, struct page_info *pg, unsigned int level, unsigned int *partial);
void demote_prefix(struct pvm_machine *m, struct page_info *pg, unsigned int level, unsigned int n);
void demote_table(struct pvm_machine *m, struct page_info *pg, unsigned int level);
int mod_l1_entry(struct pvm_machine *m, uint64_t table_mfn, unsigned int slot, uint64_t nl1e,
                 bool preserve_ad, struct pvm_domain *pt_dom, struct pvm_domain *pg_dom);
int mod_lN_entry(struct pvm_machine *m, uint64_t table_mfn, unsigned int level, unsigned int slot,
                 uint64_t ne, bool preserve_ad);
void init_xen_l4_slots(const struct pvm_machine *m, uint64_t *l4, uint64_t l4mfn);
uint64_t xen_l4_slot_value(const struct pvm_machine *m, uint64_t l4mfn, unsigned int slot);

/* Frame contents. */
uint64_t *frame_map(struct pvm_machine *m, uint64_t mfn, int write);
static inline uint64_t read_entry(struct pvm_machine *m, uint64_t mfn, unsigned int slot)
{
    if (m->ops.read)
        return m->ops.read(m->ops.ctx, mfn, slot);
    const uint64_t *t = m->ops.map(m->ops.ctx, mfn, 0);
    return t ? t[slot] : 0;
}
int write_entry(struct pvm_machine *m, uint64_t mfn, unsigned int slot, uint64_t val);

/* ---- tlb.c ---- */
void tlb_flush_one(struct pvm_vcpu *v);
void tlb_invlpg_one(struct pvm_vcpu *v, uint64_t va);
void flush_for_type_change(struct pvm_machine *m, struct page_info *pg);
void flush_for_alloc(struct pvm_machine *m, uint32_t stamp);
int guest_walk(struct pvm_vcpu *v, uint64_t root, uint64_t va, bool write, bool set_ad,
               uint64_t *mfn, bool *rw, bool *global, struct pvm_fault *f);
uint64_t current_root(const struct pvm_vcpu *v);

/* ---- machine.c ---- */
/*
 * Make mfn (whose root reference the caller holds, or PVM_INVALID_MFN) v's
 * kernel or user root; a kernel root load flushes v's TLB before the old
 * root's reference is dropped (the order sets the TLB stamps).
 */
void switch_root(struct pvm_machine *m, struct pvm_vcpu *v, bool kernel, uint64_t mfn);

#endif
