/*
 * tlb.c - the software MMU: a page walk over the guest's tables as the CPU
 * does it (setting accessed/dirty bits), a small per-vCPU TLB, Xen's TLB
 * clock for flushes at type changes, guest loads and stores, and the ptwr
 * emulation of stores into read-only L1 tables.
 */
#include "internal.h"

/* The virtual page number a TLB entry is tagged with: va's 48 translated bits, page-aligned. */
static uint64_t vpn_of(uint64_t va)
{
    return (va & ((1ULL << 48) - 1)) >> PAGE_SHIFT;
}

static struct pvm_tlb_entry *tlb_slot(struct pvm_vcpu *v, uint64_t vpn)
{
    return &v->tlb[vpn % PVM_TLB_ENTRIES];
}

static void tlb_drop_all(struct pvm_vcpu *v)
{
    for (unsigned int i = 0; i < PVM_TLB_ENTRIES; i++)
        v->tlb[i].valid = 0;
}

/*
 * Flush all of v's translations and stamp it with a new TLB clock tick.  The
 * clock is PVM_TLBCLOCK_BITS wide; when it wraps every vCPU is flushed, as
 * Xen does, so stamps from before the wrap never ask for a flush again.
 */
void tlb_flush_one(struct pvm_vcpu *v)
{
    struct pvm_machine *m = v->m;
    tlb_drop_all(v);
    m->stats.tlb_flushes++;
    if (++m->tlbflush_clock == (1u << PVM_TLBCLOCK_BITS)) {
        for (unsigned int i = 0; i < PVM_MAX_DOMAINS; i++)
            for (unsigned int j = 0; m->doms[i].exists && j < m->doms[i].nr_vcpus; j++) {
                tlb_drop_all(&m->doms[i].vcpu[j]);
                m->doms[i].vcpu[j].tlbflush_time = 0;
                if (m->ops.tlb_flush && &m->doms[i].vcpu[j] != v)
                    m->ops.tlb_flush(m->ops.ctx, &m->doms[i].vcpu[j], 0, true);
            }
        m->tlbflush_clock = 1;
    }
    v->tlbflush_time = m->tlbflush_clock;
    if (m->ops.tlb_flush)
        m->ops.tlb_flush(m->ops.ctx, v, 0, true);
}

void pvm_tlb_flush_vcpu(struct pvm_vcpu *v)
{
    tlb_flush_one(v);
}

void pvm_set_guest_mode(struct pvm_vcpu *v, bool kernel)
{
    if (v->kernel_mode == kernel)
        return;
    v->kernel_mode = kernel;
    for (unsigned int i = 0; i < PVM_TLB_ENTRIES; i++)
        if (!v->tlb[i].global)
            v->tlb[i].valid = 0;
}

void tlb_invlpg_one(struct pvm_vcpu *v, uint64_t va)
{
    uint64_t vpn = vpn_of(va);
    struct pvm_tlb_entry *e = tlb_slot(v, vpn);
    if (e->valid && e->vpn == vpn)
        e->valid = 0;
    v->m->stats.tlb_invlpg++;
    if (v->m->ops.tlb_flush)
        v->m->ops.tlb_flush(v->m->ops.ctx, v, va, false);
}

/* Xen's NEED_FLUSH: has cpu not flushed since the page was last in use? */
static bool need_flush(uint32_t clock, uint32_t cpu_stamp, uint32_t lastuse)
{
    return clock == 0 || (cpu_stamp <= lastuse && lastuse <= clock);
}

/*
 * A frame's type is changing: flush the owner's vCPUs that have not flushed
 * since the frame was last in use, so no stale (writable) translation of a
 * frame about to become a page table survives.
 */
void flush_for_type_change(struct pvm_machine *m, struct page_info *pg)
{
    struct pvm_domain *d = page_owner_dom(m, pg);
    if (!d)
        return;
    for (unsigned int i = 0; i < d->nr_vcpus; i++) {
        struct pvm_vcpu *v = &d->vcpu[i];
        if (need_flush(m->tlbflush_clock, v->tlbflush_time, tlb_stamp(pg))) {
            tlb_flush_one(v);
            m->stats.tlb_flushes_typechange++;
        }
    }
}

/*
 * Frames freed at TLB-clock time `stamp` are being handed out again (to any
 * domain): flush every vCPU of every domain that has not flushed since, as
 * Xen's allocator does for all CPUs, so a translation cached under the old
 * owner cannot reach the frame's next life.  stamp 0: never owned, no flush.
 */
void flush_for_alloc(struct pvm_machine *m, uint32_t stamp)
{
    if (!stamp || stamp > m->tlbflush_clock)   /* never owned, or freed before the clock wrapped */
        return;
    for (unsigned int i = 0; i < PVM_MAX_DOMAINS; i++)
        for (unsigned int j = 0; m->doms[i].exists && j < m->doms[i].nr_vcpus; j++) {
            struct pvm_vcpu *v = &m->doms[i].vcpu[j];
            if (need_flush(m->tlbflush_clock, v->tlbflush_time, stamp)) {
                tlb_flush_one(v);
                m->stats.tlb_flushes_alloc++;
            }
        }
}

uint64_t current_root(const struct pvm_vcpu *v)
{
    return v->kernel_mode ? v->guest_table : v->guest_table_user;
}

/*
 * Walk va from root.  Every level must be present and have _PAGE_USER (the
 * guest runs in ring 3); a write needs _PAGE_RW at every level.  With set_ad
 * the accessed bits (and dirty on a written leaf) are set as hardware does.
 * Returns 0 with *mfn, *rw, *global, or -1 with *f.
 */
int guest_walk(struct pvm_vcpu *v, uint64_t root, uint64_t va, bool write, bool set_ad, uint64_t *mfn,
               bool *rw, bool *global, struct pvm_fault *f)
{
    struct pvm_machine *m = v->m;
    uint64_t table = root;
    bool w = true;
    f->va = va;
    f->error_code = PFEC_user_mode | (write ? PFEC_write_access : 0);
    f->level = 4;
    f->table_mfn = root;
    f->entry = 0;
    if (root == PVM_INVALID_MFN || !addr_ok(va) || !mfn_valid(m, root))
        return -1;
    /*
     * As the CPU walks: every present upper-level entry on the way gets its
     * accessed bit, even when the access then faults (real Xen under QEMU
     * shows it); the rights are combined over the levels and checked at the
     * end, so a read-only upper entry does not stop the walk, and a
     * not-present entry below it still makes the fault "not present".  The
     * fault names the first entry that denied the access.  The leaf gets A
     * (and D on a write) only when the access is allowed.
     */
    bool denied = false;
    struct pvm_fault first = *f;
    for (unsigned int level = 4; level >= 1; level--) {
        unsigned int idx = table_index(va, level);
        uint64_t e = read_entry(m, table, idx);
        f->level = level;
        f->table_mfn = table;
        f->entry = e;
        if (!pte_present(e))
            return -1;
        if (level > 1 && (e & _PAGE_PSE)) {   /* no PV superpages: treated as a reserved bit */
            f->error_code |= PFEC_page_present;
            return -1;
        }
        if (set_ad && level > 1 && !(e & _PAGE_ACCESSED))
            write_entry(m, table, idx, e |= _PAGE_ACCESSED);
        f->entry = e;
        w = w && (e & _PAGE_RW);
        if (!denied && (!(e & _PAGE_USER) || (write && !w))) {
            denied = true;
            first = *f;
        }
        if (level == 1) {
            if (denied) {
                *f = first;
                f->error_code |= PFEC_page_present;
                return -1;
            }
            uint64_t want = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
            if (set_ad && (e & want) != want)
                write_entry(m, table, idx, e | want);
            *mfn = pte_mfn(e);
            *rw = w;
            *global = (e & _PAGE_GLOBAL) != 0;
            return 0;
        }
        table = pte_mfn(e);
        if (!mfn_valid(m, table))
            return -1;
    }
    return -1;
}

int pvm_translate(struct pvm_vcpu *v, uint64_t va, bool write, uint64_t *maddr, struct pvm_fault *f)
{
    struct pvm_machine *m = v->m;
    m->current = v;   /* log lines (a stale TLB entry) name this vCPU; the refusal record is kept */
    uint64_t vpn = vpn_of(va), mfn;
    struct pvm_tlb_entry *t = tlb_slot(v, vpn);
    bool rw, global;
    /* A write through an entry cached clean re-walks, to set the dirty bit. */
    if (addr_ok(va) && t->valid && t->vpn == vpn && (!write || (t->rw && t->dirty))) {
        m->stats.tlb_hits++;
        if (m->opt_tlb_check) {
            struct pvm_fault tf;
            if (guest_walk(v, current_root(v), va, write, false, &mfn, &rw, &global, &tf) ||
                mfn != t->mfn || (t->rw && !rw)) {
                m->stats.tlb_stale_hits++;
                xen_log(m, PVM_LOG_WARN, "stale TLB entry used: va %llx -> mfn %05llx%s, tables now say %s",
                        (unsigned long long)va, (unsigned long long)t->mfn, t->rw ? " rw" : " ro",
                        tf.va == va && mfn != t->mfn ? "another frame" : "no such access");
            }
        }
        *maddr = (t->mfn << PAGE_SHIFT) | (va & (PAGE_SIZE - 1));
        return PVM_ACCESS_OK;
    }
    m->stats.tlb_misses++;
    if (guest_walk(v, current_root(v), va, write, true, &mfn, &rw, &global, f))
        return PVM_ACCESS_FAULT;
    *t = (struct pvm_tlb_entry){ .vpn = vpn, .mfn = mfn, .valid = 1, .rw = rw, .global = global,
                                 .dirty = write || (f->entry & _PAGE_DIRTY) };
    *maddr = (mfn << PAGE_SHIFT) | (va & (PAGE_SIZE - 1));
    return PVM_ACCESS_OK;
}

/* Merge a `bytes`-wide value at byte offset off into the 8-byte word w. */
static uint64_t merge(uint64_t w, unsigned int off, uint64_t val, unsigned int bytes)
{
    uint64_t mask = bytes == 8 ? ~0ULL : ((1ULL << (bytes * 8)) - 1);
    return (w & ~(mask << (off * 8))) | ((val & mask) << (off * 8));
}

int pvm_ptwr_emulate(struct pvm_vcpu *v, uint64_t va, uint64_t old, uint64_t val, unsigned int bytes,
                     bool do_cmpxchg)
{
    struct pvm_machine *m = enter_vcpu(v);
    struct pvm_fault f;
    uint64_t l1mfn;
    bool rw, global;
    if (bytes == 0 || bytes > 8 || (bytes & (bytes - 1)) || (va & (bytes - 1))) {
        gdprintk(m, "bad access (cr2=%llx, addr=%llx, bytes=%u)", (unsigned long long)va,
                 (unsigned long long)va, bytes);
        refuse(m, -XEN_EINVAL, PVM_WHY_BAD_ARG, PVM_INVALID_MFN);
        return -XEN_EINVAL;
    }
    /*
     * The kernel-mode L1e for va must be present and itself read-only (Xen
     * reads it through the linear map and looks at its own flags, whatever
     * the levels above say), mapping one of our L1s.
     */
    if (guest_walk(v, v->guest_table, va, false, false, &l1mfn, &rw, &global, &f) || (f.entry & _PAGE_RW)) {
        refuse(m, -XEN_EINVAL, PVM_WHY_NOT_TABLE, PVM_INVALID_MFN);
        return -XEN_EINVAL;
    }
    if (!mfn_valid(m, l1mfn)) {
        refuse(m, -XEN_EINVAL, PVM_WHY_NO_PAGE, l1mfn);
        return -XEN_EINVAL;
    }
    struct page_info *pg = mfn_to_page(m, l1mfn);
    if (!is_own_l1(pg, v->d->id)) {
        refuse(m, -XEN_EINVAL, PVM_WHY_RO_MAPPING, l1mfn);
        return -XEN_EINVAL;
    }
    unsigned int slot = (unsigned int)((va & (PAGE_SIZE - 1)) >> 3), off = (unsigned int)(va & 7);
    uint64_t cur = read_entry(m, l1mfn, slot);
    uint64_t nl1e = merge(cur, off, val, bytes);
    if (pte_present(nl1e)) {
        int flip = get_page_from_l1e(m, nl1e, v->d, v->d);
        if (flip < 0) {
            refuse_where(m, l1mfn, 1, slot, nl1e);
            gdprintk(m, "could not get_page_from_l1e()");
            return -XEN_EINVAL;
        }
        nl1e = adjust_guest_l1e(nl1e ^ put_pte_flags((unsigned int)flip));
    }
    if (do_cmpxchg && cur != merge(cur, off, old, bytes)) {
        put_page_from_l1e(m, nl1e);
        m->stats.ptwr_emulations++;
        return 0;
    }
    if (write_entry(m, l1mfn, slot, nl1e)) {
        put_page_from_l1e(m, nl1e);
        return -XEN_EFAULT;
    }
    put_page_from_l1e(m, cur);
    m->stats.ptwr_emulations++;
    return 0;
}

/*
 * Store `bytes` of val at machine address maddr, within one 8-byte word.
 * I/O space keeps nothing (the store goes to a device); a zero store to a
 * frame that holds no data changes nothing, so the frame stays sparse.
 */
static void store_in_word(struct pvm_machine *m, uint64_t maddr, uint64_t val, unsigned int bytes)
{
    uint64_t mfn = maddr >> PAGE_SHIFT;
    unsigned int slot = (unsigned int)((maddr & (PAGE_SIZE - 1)) >> 3), off = (unsigned int)(maddr & 7);
    if (!mfn_valid(m, mfn) || (!merge(0, off, val, bytes) && !frame_map(m, mfn, 0)))
        return;
    uint64_t *t = frame_map(m, mfn, 1);
    if (t)
        t[slot] = merge(t[slot], off, val, bytes);
}

static uint8_t load_byte(struct pvm_machine *m, uint64_t maddr)
{
    uint64_t mfn = maddr >> PAGE_SHIFT;
    if (!mfn_valid(m, mfn))
        return 0xFF;
    return (uint8_t)(read_entry(m, mfn, (unsigned int)((maddr & (PAGE_SIZE - 1)) >> 3)) >> (8 * (maddr & 7)));
}

/*
 * Translate both pages of an access of `bytes` at va that may cross a page
 * boundary: the machine address of va in *m1 and of the second page's start
 * in *m2 (== *m1's page if it does not cross).  0, or -1 with *f for the
 * first page that faults (nothing is written then, as on the CPU).
 */
static int translate_span(struct pvm_vcpu *v, uint64_t va, unsigned int bytes, bool write, uint64_t *m1,
                          uint64_t *m2, struct pvm_fault *f)
{
    if (pvm_translate(v, va, write, m1, f) != PVM_ACCESS_OK)
        return -1;
    uint64_t last = va + bytes - 1;
    if (!((va ^ last) >> PAGE_SHIFT)) {
        *m2 = *m1;
        return 0;
    }
    return pvm_translate(v, last & ~(PAGE_SIZE - 1), write, m2, f) == PVM_ACCESS_OK ? 0 : -1;
}

/* The machine address of byte i of an access at va translated by translate_span. */
static uint64_t span_byte(uint64_t va, uint64_t m1, uint64_t m2, unsigned int i)
{
    uint64_t first = PAGE_SIZE - (va & (PAGE_SIZE - 1));
    return i < first ? m1 + i : (m2 & ~(PAGE_SIZE - 1)) + (i - first);
}

/*
 * Xen's pv_ro_page_fault for the hardware domain's kernel: a naturally aligned
 * write through a present, read-only L1 entry to an I/O frame in mmio_ro_ranges
 * is "emulated" by dropping it (mmio_ro_emulated_write), not bounced as a #PF,
 * and ptwr is not tried for such a frame.  f is the fault the walk gave.
 */
static bool mmio_ro_write_dropped(const struct pvm_vcpu *v, bool aligned, const struct pvm_fault *f)
{
    uint64_t mfn = pte_mfn(f->entry);
    return aligned && is_privileged(v->d) && v->kernel_mode && (f->error_code & PFEC_page_present) &&
           f->level == 1 && (f->entry & (_PAGE_PRESENT | _PAGE_RW)) == _PAGE_PRESENT &&
           mmio_ro(v->m, mfn) && is_io_frame(v->m, mfn);
}

enum pvm_access pvm_guest_store(struct pvm_vcpu *v, uint64_t va, uint64_t val, unsigned int bytes,
                                struct pvm_fault *f)
{
    struct pvm_machine *m = enter_vcpu(v);
    uint64_t maddr, m2;
    if (bytes == 0 || bytes > 8 || (bytes & (bytes - 1))) {
        *f = (struct pvm_fault){ .va = va, .error_code = PFEC_write_access | PFEC_user_mode };
        m->stats.page_faults++;
        return PVM_ACCESS_FAULT;
    }
    bool aligned = !(va & (bytes - 1));
    if (aligned && pvm_translate(v, va, true, &maddr, f) == PVM_ACCESS_OK) {
        store_in_word(m, maddr, val, bytes);
        return PVM_ACCESS_OK;
    }
    /* Not naturally aligned: the CPU does it, byte by byte here, across a page boundary too. */
    if (!aligned && translate_span(v, va, bytes, true, &maddr, &m2, f) == 0) {
        for (unsigned int i = 0; i < bytes; i++)
            store_in_word(m, span_byte(va, maddr, m2, i), (uint8_t)(val >> (8 * i)), 1);
        return PVM_ACCESS_OK;
    }
    /*
     * Xen's fixup_page_fault: a protection fault on a write, from the guest
     * kernel.  The hardware domain reaches the same emulation without the
     * assist: its write faults go through the read-only MMIO path, which
     * hands anything that is not MMIO to ptwr.  ptwr takes naturally aligned
     * writes only (a misaligned one stays a #PF, as in Xen).
     */
    if (mmio_ro_write_dropped(v, aligned, f))
        return PVM_ACCESS_EMULATED;
    if (aligned && (f->error_code & PFEC_page_present) && v->kernel_mode &&
        (vm_assist_on(v->d, VMASST_TYPE_writable_pagetables) || is_privileged(v->d)) &&
        pvm_ptwr_emulate(v, va, 0, val, bytes, false) == 0)
        return PVM_ACCESS_EMULATED;
    m->stats.page_faults++;
    return PVM_ACCESS_FAULT;
}

enum pvm_access pvm_guest_load(struct pvm_vcpu *v, uint64_t va, uint64_t *val, struct pvm_fault *f)
{
    uint64_t maddr;
    enter_vcpu(v);
    if (va & 7) {   /* not aligned: byte by byte, across a page boundary too, as the CPU does */
        uint64_t m2;
        if (translate_span(v, va, 8, false, &maddr, &m2, f)) {
            v->m->stats.page_faults++;
            return PVM_ACCESS_FAULT;
        }
        *val = 0;
        for (unsigned int i = 0; i < 8; i++)
            *val |= (uint64_t)load_byte(v->m, span_byte(va, maddr, m2, i)) << (8 * i);
        return PVM_ACCESS_OK;
    }
    if (pvm_translate(v, va, false, &maddr, f) != PVM_ACCESS_OK) {
        v->m->stats.page_faults++;
        return PVM_ACCESS_FAULT;
    }
    uint64_t mfn = maddr >> PAGE_SHIFT;
    *val = mfn_valid(v->m, mfn) ? read_entry(v->m, mfn, (unsigned int)((maddr & (PAGE_SIZE - 1)) >> 3)) : ~0ULL;
    return PVM_ACCESS_OK;
}
