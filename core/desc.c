/*
 * desc.c - descriptor-table frames (Xen's pv/descriptor-tables.c for a
 * 64-bit PV guest): the check of one segment descriptor, the validation of
 * a frame becoming a descriptor page (PGT_seg_desc_page), a vCPU's GDT and
 * the update of one descriptor.  A descriptor is 8 bytes: its low word
 * (Xen's a) in bits 0-31, its high word (b) in bits 32-63.
 */
#include "internal.h"

/* The high word's fields (Xen's _SEGMENT_*). */
#define _SEGMENT_TYPE (15u << 8)
#define _SEGMENT_S    (1u << 12)   /* code or data (clear: a system descriptor) */
#define _SEGMENT_DPL  (3u << 13)
#define _SEGMENT_P    (1u << 15)
#define SEGMENT_CALL_GATE (12u << 8)   /* the 64-bit call gate's type */

/* Xen's flat kernel code selector (public arch-x86/xen-x86_64.h). */
#define FLAT_KERNEL_CS           0xe033u
#define GUEST_KERNEL_RPL         3u   /* a 64-bit PV kernel runs in ring 3 */

/*
 * May a call gate send the guest to code selector sel?  Only to one of its
 * own GDT entries, to an LDT selector, or to Xen's flat kernel code segment;
 * never to another entry of Xen's reserved page.
 */
static bool guest_gate_selector_okay(unsigned int sel)
{
    return (sel >> 3) < FIRST_RESERVED_GDT_ENTRY || sel == FLAT_KERNEL_CS || (sel & 4);
}

/*
 * Xen's check_descriptor, 64-bit PV only: true if *desc may sit in a
 * descriptor page, then rewritten as Xen stores it; false leaves it as it
 * was.  Checking a descriptor it wrote again changes nothing.
 */
bool check_descriptor(uint64_t *desc)
{
    uint32_t lo = (uint32_t)*desc, hi = (uint32_t)(*desc >> 32);
    if (!(hi & _SEGMENT_P))
        return true;   /* loading it faults, whatever else it says */
    unsigned int dpl = (hi & _SEGMENT_DPL) >> 13;
    if (dpl < GUEST_KERNEL_RPL)
        dpl = GUEST_KERNEL_RPL;
    hi = (hi & ~_SEGMENT_DPL) | (dpl << 13);
    if (!(hi & _SEGMENT_S)) {
        if (!(hi & _SEGMENT_TYPE))
            return true;   /* type 0: the upper half of a call gate; kept as it is, DPL included */
        if ((hi & _SEGMENT_TYPE) != SEGMENT_CALL_GATE)
            return false;
        unsigned int cs = lo >> 16;
        if (!guest_gate_selector_okay(cs))
            return false;
        /* DPL 0, so every use faults and Xen emulates it; the DPL the guest meant goes into the selector's RPL. */
        hi &= ~_SEGMENT_DPL;
        lo = (lo & 0xffffu) | (((cs & ~3u) | dpl) << 16);
        if (hi & 0xffu)
            return false;
    }
    *desc = ((uint64_t)hi << 32) | lo;
    return true;
}

/*
 * Xen's validate_segdesc_page (4.17's name for alloc_segdesc_page): each
 * descriptor in slot order is checked and written back fixed up, up to the
 * first refused one, whose slot and value m.last keeps.  A frame that holds
 * no data is all not-present descriptors.  Returns 0, -EINVAL or -EFAULT.
 */
int validate_segdesc_page(struct pvm_machine *m, struct page_info *pg)
{
    uint64_t mfn = page_to_mfn(m, pg);
    uint64_t *t = frame_map(m, mfn, 0);
    bool writable = false;
    for (unsigned int i = 0; t && i < L1_PAGETABLE_ENTRIES; i++) {
        uint64_t d = t[i];
        if (!check_descriptor(&d)) {
            refuse(m, -XEN_EINVAL, PVM_WHY_BAD_DESC, mfn);
            if (m->last.why == PVM_WHY_BAD_DESC && m->last.mfn == mfn) {
                m->last.slot = i;
                m->last.entry = t[i];
            }
            return -XEN_EINVAL;
        }
        if (d == t[i])
            continue;
        if (!writable) {
            t = frame_map(m, mfn, 1);   /* the frame holds data, so this is its storage */
            writable = true;
            if (!t)
                return -XEN_EFAULT;
        }
        t[i] = d;
    }
    return 0;
}

/* Drop the references of v's GDT and forget it (Xen's pv_destroy_gdt). */
static void pv_destroy_gdt(struct pvm_machine *m, struct pvm_vcpu *v)
{
    unsigned int n = gdt_nr_frames(v);
    v->gdt_ents = 0;
    for (unsigned int i = 0; i < PVM_MAX_GDT_FRAMES; i++) {
        if (i < n)
            put_page_and_type(m, mfn_to_page(m, v->gdt_frames[i]));
        v->gdt_frames[i] = 0;
    }
}

/*
 * Xen's pv_set_gdt: a general and a seg_desc type reference on each new
 * frame first (all or none), then the old GDT goes and the new one is
 * recorded.  Returns 0 or -EINVAL with nothing held.
 */
static int pv_set_gdt(struct pvm_machine *m, struct pvm_vcpu *v, const uint64_t *frames, unsigned int entries)
{
    unsigned int i, n = (entries + 511) / 512;
    for (i = 0; i < n; i++) {
        uint64_t mfn = frames[i];
        if (!mfn_valid(m, mfn)) {
            refuse(m, -XEN_EINVAL, PVM_WHY_NO_PAGE, mfn);
            break;
        }
        struct page_info *pg = mfn_to_page(m, mfn);
        if (!get_page(m, pg, v->d))
            break;
        if (get_page_type(m, pg, PGT_seg_desc_page)) {
            put_page(m, pg);   /* the domain's frame, referenced before: never its last reference */
            break;
        }
    }
    if (i < n) {
        while (i-- > 0)
            put_page_and_type(m, mfn_to_page(m, frames[i]));
        return -XEN_EINVAL;
    }
    pv_destroy_gdt(m, v);
    v->gdt_ents = entries;
    for (i = 0; i < n; i++)
        v->gdt_frames[i] = frames[i];
    return 0;
}

int pvm_set_gdt(struct pvm_vcpu *v, const uint64_t *frames, unsigned int nr_frames, unsigned int entries)
{
    struct pvm_machine *m = enter_vcpu(v);
    int rc;
    m->stats.hc_other++;
    if (entries > FIRST_RESERVED_GDT_ENTRY) {
        refuse(m, -XEN_EINVAL, PVM_WHY_BAD_ARG, PVM_INVALID_MFN);
        rc = -XEN_EINVAL;
    } else if (nr_frames < (entries + 511) / 512 || (entries && !frames)) {
        refuse(m, -XEN_EFAULT, PVM_WHY_FAULT, PVM_INVALID_MFN);
        rc = -XEN_EFAULT;
    } else {
        rc = pv_set_gdt(m, v, frames, entries);
    }
    if (rc) {
        m->stats.refusals++;
        return rc;
    }
    tlb_flush_one(v);   /* do_set_gdt's flush_tlb_local */
    return 0;
}

/*
 * Write the checked descriptor d at byte offset off of frame pg, which holds
 * a general reference of v's domain: under a seg_desc type reference if pg
 * is a descriptor page, else under a writable one.  Returns 0, -EINVAL (the
 * type) or -EFAULT (no storage).
 */
static int write_descriptor(struct pvm_machine *m, struct page_info *pg, unsigned int off, uint64_t d)
{
    uint64_t type = page_type(pg) == PGT_seg_desc_page ? PGT_seg_desc_page : PGT_writable_page;
    int rc = get_page_type(m, pg, type);
    if (rc)
        return rc;
    rc = write_entry(m, page_to_mfn(m, pg), off / 8, d);
    if (rc)
        refuse(m, rc, PVM_WHY_FAULT, page_to_mfn(m, pg));
    put_page_type(m, pg, NULL);
    return rc;
}

int pvm_update_descriptor(struct pvm_vcpu *v, uint64_t maddr, uint64_t desc)
{
    struct pvm_machine *m = enter_vcpu(v);
    uint64_t mfn = maddr >> PAGE_SHIFT, d = desc;
    int rc = -XEN_EINVAL;
    m->stats.hc_other++;
    if (maddr & 7) {
        refuse(m, rc, PVM_WHY_BAD_ARG, mfn);
    } else if (!check_descriptor(&d)) {
        refuse(m, rc, PVM_WHY_BAD_DESC, mfn);
        m->last.slot = (unsigned int)(maddr & (PAGE_SIZE - 1)) / 8;
        m->last.entry = desc;
    } else if (!mfn_valid(m, mfn)) {
        refuse(m, rc, PVM_WHY_NO_PAGE, mfn);
    } else if (get_page(m, mfn_to_page(m, mfn), v->d)) {
        rc = write_descriptor(m, mfn_to_page(m, mfn), (unsigned int)(maddr & (PAGE_SIZE - 1)), d);
        put_page(m, mfn_to_page(m, mfn));
    }
    if (rc)
        m->stats.refusals++;
    return rc;
}
