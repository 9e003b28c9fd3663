/*
 * memory.c - memory_op, as Xen 4.17 answers a PV domain: its reservation
 * (current, maximum), the machine's largest frame, where the M2P is
 * mapped, the memory maps (the domain's pseudo-physical one, and for a
 * privileged domain the machine's, from the loader), giving pages back
 * (decrease_reservation), and exchanging pages for machine-contiguous ones
 * (exchange, which Linux's swiotlb-xen asks for).  Every frame changes
 * hands through the core, so the auditor sees each move.
 */
#include "hv.h"

#define MAX_E820 64

/* Xen's struct xen_memory_reservation (extent_start is a guest pointer to an array of frames). */
struct xen_memory_reservation {
    uint64_t extent_start, nr_extents;
    uint32_t extent_order, mem_flags;
    uint16_t domid;
};

/* Xen's struct xen_memory_exchange: what the guest gives (in), what it gets (out), how far it got. */
struct xen_memory_exchange {
    struct xen_memory_reservation in, out;
    uint64_t nr_exchanged;
};

#define XENMEMF_address_bits(f) ((f) & 0xff)

static struct e820entry host_e820[MAX_E820];
static unsigned int host_e820_n;

void memory_set_host_map(const struct e820entry *map, unsigned int n)
{
    host_e820_n = n < MAX_E820 ? n : MAX_E820;
    for (unsigned int i = 0; i < host_e820_n; i++)
        host_e820[i] = map[i];
}


/*
 * XENMEM_decrease_reservation: give back each extent (order 0, our
 * domain); returns the number done, which stops at the first extent that
 * cannot be read or released.
 */
static long decrease_reservation(uint64_t arg)
{
    struct xen_memory_reservation r;
    if (copy_from_guest(&r, arg, sizeof(r)))
        return -XEN_EFAULT;
    if (r.extent_order || !pv_own_domid(r.domid))
        return -XEN_ENOSYS;
    long done = 0;
    for (uint64_t i = 0; i < r.nr_extents; i++) {
        uint64_t mfn;
        if (copy_from_guest(&mfn, r.extent_start + i * sizeof(mfn), sizeof(mfn)))
            break;
        if (pvm_release_page(&machine, vcpu->d->id, mfn))
            break;
        done++;
    }
    return done;
}

/* ---- the machine's map, as Xen shows it to dom0 ---- */

#define IOAPIC_MFN 0xfec00   /* the IO-APIC QEMU's pc machine has (Xen finds each in the MADT) */

/* Where XENMEM_machine_memory_map's entries go, and where the scan of the holes stands (Xen's ctxt). */
struct map_out {
    struct e820entry *buf;
    unsigned int n, room;
    uint64_t s;   /* the first pfn not yet accounted for */
};

/* Xen's _handle_iomem_range: the part of a hole before permitted range [s, e] becomes a reserved entry. */
static bool hole_before(struct map_out *o, uint64_t s, uint64_t e)
{
    if (s > o->s && !(s >> (machine.paddr_bits - XEN_PAGE_SHIFT))) {
        if (o->n + 1 >= o->room)
            return false;
        o->buf[o->n++] = (struct e820entry){ o->s << XEN_PAGE_SHIFT, (s - o->s) << XEN_PAGE_SHIFT, E820_RESERVED };
    }
    o->s = e + 1;
    return true;
}

/* Xen's handle_iomem_range: a permitted range, less the IO-APIC's page (which dom0 sees as reserved). */
static bool permitted(struct map_out *o, uint64_t s, uint64_t e)
{
    if (IOAPIC_MFN >= s && IOAPIC_MFN <= e) {
        if (s < IOAPIC_MFN && !hole_before(o, s, IOAPIC_MFN - 1))
            return false;
        s = IOAPIC_MFN + 1;
    }
    return s > e || hole_before(o, s, e);
}

/* Report the domain's permitted I/O ranges inside [s, e], in order (rangeset_report_ranges). */
static bool report_permitted(struct map_out *o, uint64_t s, uint64_t e)
{
    const struct pvm_domain *d = vcpu->d;
    for (unsigned int i = 0; i < d->nr_iomem; i++) {
        uint64_t a = d->iomem[i].first > s ? d->iomem[i].first : s, b = d->iomem[i].last < e ? d->iomem[i].last : e;
        if (a <= b && !permitted(o, a, b))
            return false;
    }
    return true;
}

/*
 * XENMEM_machine_memory_map as Xen 4.17 writes it: the machine's e820 (the
 * loader's), and before each entry (and after the last) the parts of the
 * hole below 2^paddr_bits that dom0 may not map as I/O, as reserved
 * entries (the IO-APIC's page among them).  Needs room for the map and one
 * more.  The number of entries, or -1 when the room ran out.
 */
static long machine_map(struct e820entry *buf, unsigned int room)
{
    struct map_out o = { buf, 0, room, 0 };
    for (unsigned int i = 0; i < host_e820_n; i++) {
        uint64_t s = host_e820[i].addr >> XEN_PAGE_SHIFT;
        if (s > o.s && (!report_permitted(&o, o.s, s - 1) || !permitted(&o, s, s)))
            return -1;
        if (o.n >= room || room <= o.n + (host_e820_n - i))
            return -1;
        o.buf[o.n++] = host_e820[i];
        o.s = (host_e820[i].addr + host_e820[i].size + XEN_PAGE_SIZE - 1) >> XEN_PAGE_SHIFT;
    }
    if (o.s && (!report_permitted(&o, o.s, ~0ULL) || !permitted(&o, ~0ULL, ~0ULL)))
        return -1;
    return o.n;
}

/*
 * XENMEM_memory_map (the domain's own map: its pages as one RAM range) or,
 * for a privileged domain, XENMEM_machine_memory_map (machine_map).  The
 * buffer's nr_entries is the room in, the count out.
 */
static long memory_map(uint64_t arg, bool whole)
{
    struct xen_memory_map map;
    if (whole && !(vcpu->d->flags & PVM_DOM_PRIVILEGED))
        return -XEN_EPERM;
    if (copy_from_guest(&map, arg, sizeof(map)))
        return -XEN_EFAULT;
    struct e820entry out[2 * MAX_E820 + 2] = { { 0, vcpu->d->tot_pages << XEN_PAGE_SHIFT, E820_RAM } };
    long n = 1;
    if (whole) {
        if (map.nr_entries < host_e820_n + 1)
            return -XEN_EINVAL;   /* as Xen: room for the map and one more */
        unsigned int room = sizeof(out) / sizeof(out[0]);
        n = machine_map(out, map.nr_entries < room ? map.nr_entries : room);
        if (n < 0)
            return -XEN_EINVAL;
    }
    if (copy_to_guest(map.buffer, out, (uint64_t)n * sizeof(out[0])))
        return -XEN_EFAULT;
    map.nr_entries = (uint32_t)n;
    return copy_to_guest(arg, &map, sizeof(map.nr_entries)) ? -XEN_EFAULT : 0;
}

/*
 * XENMEM_exchange, as Xen's memory_exchange for order-0 input pages: the
 * guest gives up in.nr_extents frames and gets out.nr_extents extents of
 * 2^out.extent_order machine-contiguous frames (below 2^address_bits),
 * mapped at the gpfns the out list names; the new mfns are written back
 * into the out list.  Each given frame must be the domain's with no other
 * reference (else -EINVAL, as Xen's steal_page fails); nr_exchanged says
 * how far it got.
 */
static long exchange(uint64_t arg)
{
    struct xen_memory_exchange x;
    if (copy_from_guest(&x, arg, sizeof(x)))
        return -XEN_EFAULT;
    if (!pv_own_domid(x.in.domid) || x.in.domid != x.out.domid || x.in.extent_order != 0 || x.out.extent_order > 9 ||
        (x.in.nr_extents << x.in.extent_order) != (x.out.nr_extents << x.out.extent_order))
        return -XEN_EINVAL;
    unsigned int bits = XENMEMF_address_bits(x.out.mem_flags);
    uint64_t per = 1ULL << x.out.extent_order;
    long rc = 0;
    for (uint64_t o = x.nr_exchanged >> x.out.extent_order; o < x.out.nr_extents; o++) {
        uint64_t gpfn, base = alloc_pages_try(per, per * XEN_PAGE_SIZE, bits && bits < 64 ? 1ULL << bits : 0);
        if (!base) {
            rc = -XEN_ENOMEM;
            break;
        }
        if (copy_from_guest(&gpfn, x.out.extent_start + o * 8, 8)) {
            rc = -XEN_EFAULT;
            break;
        }
        for (uint64_t k = 0; k < per && rc == 0; k++) {
            uint64_t old;
            struct pvm_frame_state st;
            if (copy_from_guest(&old, x.in.extent_start + (o * per + k) * 8, 8)) {
                rc = -XEN_EFAULT;
                break;
            }
            /* Xen's steal_page: only a frame the domain holds by its allocation alone (unmapped, untyped) */
            pvm_frame_query(&machine, old, &st);
            if (!st.valid || st.owner != vcpu->d->id || !st.allocated || st.count != 1 || st.type_count ||
                pvm_release_page(&machine, vcpu->d->id, old))
                rc = -XEN_EINVAL;
        }
        if (rc)
            break;
        for (uint64_t k = 0; k < per; k++)
            if (pvm_assign_page(&machine, (base >> XEN_PAGE_SHIFT) + k, vcpu->d->id, gpfn + k))
                panic("XENMEM_exchange: the core refused a fresh frame");
        uint64_t mfn = base >> XEN_PAGE_SHIFT;
        if (copy_to_guest(x.out.extent_start + o * 8, &mfn, 8)) {
            rc = -XEN_EFAULT;
            break;
        }
        x.nr_exchanged += per;
    }
    if (copy_to_guest(arg + __builtin_offsetof(struct xen_memory_exchange, nr_exchanged), &x.nr_exchanged, 8))
        return -XEN_EFAULT;
    return rc;
}

long memory_op(uint64_t cmd, uint64_t arg)
{
    switch (cmd & XENMEM_cmd_mask) {
    case XENMEM_decrease_reservation: return decrease_reservation(arg);
    case XENMEM_current_reservation: case XENMEM_maximum_reservation: {
        uint16_t domid;
        if (copy_from_guest(&domid, arg, sizeof(domid)))
            return -XEN_EFAULT;
        if (!pv_own_domid(domid))
            return -XEN_ESRCH;
        /* current: the pages it has; maximum: as Xen's dom0 with no max given, all the machine's memory */
        return (cmd & XENMEM_cmd_mask) == XENMEM_current_reservation || !(vcpu->d->flags & PVM_DOM_PRIVILEGED) ?
               (long)vcpu->d->tot_pages : (long)machine.nr_frames;
    }
    case XENMEM_maximum_ram_page: return (long)machine.nr_frames - 1;
    case XENMEM_machphys_mapping: {   /* Xen's RO_MPT_VIRT_START..END: the read-only M2P's 256 GiB */
        struct xen_machphys_mapping mm = { HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_START + (1ULL << 38),
                                           machine.nr_frames - 1 };
        return copy_to_guest(arg, &mm, sizeof(mm)) ? -XEN_EFAULT : 0;
    }
    case XENMEM_memory_map:   /* a PV domain with no map of its own set: Xen has nothing to give */
        return vcpu->d->flags & PVM_DOM_PRIVILEGED ? -XEN_ENOSYS : memory_map(arg, false);
    case XENMEM_machine_memory_map: return memory_map(arg, true);
    case XENMEM_exchange: return exchange(arg);
    default: return -XEN_ENOSYS;
    }
}
