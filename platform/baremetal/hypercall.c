/*
 * hypercall.c - the hypercalls our PV kernel makes, from the registers
 * entry.S saved: set_trap_table, xen_version (the counters' mark),
 * console_io (write), memory_op (decrease_reservation), physdev_op
 * (set_iopl), and the PV MMU calls, which go straight to the core's
 * pvm_hypercall.  Anything else is -ENOSYS.
 */
#include "hv.h"
#include "pvbuild.h"

#define HV_XEN_VERSION ((4 << 16) | 17)   /* xen_version's answer, major << 16 | minor: Xen 4.17 */
#define MAX_TRAP_INFO  256                /* entries set_trap_table reads at most */

uint64_t trap_handler[X86_EXC_NUM];
uint32_t virtual_iopl;

/* Xen's struct xen_memory_reservation (extent_start is a guest pointer to an array of mfns). */
struct xen_memory_reservation {
    uint64_t extent_start, nr_extents;
    uint32_t extent_order, mem_flags;
    uint16_t domid;
};

/* Replace the trap table with the guest's list at address list (0: none): 0, or -XEN_EFAULT. */
static long set_trap_table(uint64_t list)
{
    for (unsigned int v = 0; v < X86_EXC_NUM; v++)
        trap_handler[v] = 0;
    for (unsigned int i = 0; list && i < MAX_TRAP_INFO; i++) {
        struct trap_info t;
        if (copy_from_guest(&t, list + i * sizeof(t), sizeof(t)))
            return -XEN_EFAULT;
        if (!t.address)
            break;
        if (t.vector < X86_EXC_NUM)
            trap_handler[t.vector] = t.address;
    }
    return 0;
}

/* CONSOLEIO_write of count bytes at guest address buf, in chunks: 0, -XEN_EFAULT, or -XEN_ENOSYS for another cmd. */
static long console_io(uint64_t cmd, uint64_t count, uint64_t buf)
{
    if (cmd != CONSOLEIO_write)
        return -XEN_ENOSYS;
    char chunk[128];
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < sizeof(chunk) ? count - done : sizeof(chunk);
        if (copy_from_guest(chunk, buf + done, n))
            return -XEN_EFAULT;
        hv_write(chunk, n);
        done += n;
    }
    return 0;
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
        return 0;   /* as Xen: nothing done */
    if (r.extent_order || (r.domid != DOMID_SELF && r.domid != PV_DOMID))
        return -XEN_ENOSYS;
    long done = 0;
    for (uint64_t i = 0; i < r.nr_extents; i++) {
        uint64_t mfn;
        if (copy_from_guest(&mfn, r.extent_start + i * sizeof(mfn), sizeof(mfn)))
            break;
        if (pvm_release_page(&machine, PV_DOMID, mfn))
            break;
        done++;
    }
    return done;
}

/* memory_op: only XENMEM_decrease_reservation, of single pages (then the auditor, with audit=each). */
static long memory_op(uint64_t cmd, uint64_t arg)
{
    if (cmd != XENMEM_decrease_reservation)
        return -XEN_ENOSYS;
    long rc = decrease_reservation(arg);
    audit_after("a memory_op");
    return rc;
}

/* physdev_op: only PHYSDEVOP_set_iopl, whose argument is the new IOPL. */
static long physdev_op(uint64_t cmd, uint64_t arg)
{
    if (cmd != PHYSDEVOP_set_iopl)
        return -XEN_ENOSYS;
    return copy_from_guest(&virtual_iopl, arg, sizeof(virtual_iopl));
}

void do_hypercall(struct regs *r)
{
    struct { unsigned long op; xen_ulong_t args[6]; } c = { r->rax, { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 } };
    long rc;
    switch (c.op) {
    case __HYPERVISOR_set_trap_table:
        rc = set_trap_table(c.args[0]);
        break;
    case __HYPERVISOR_xen_version:   /* the PV kernel calls it just before its boot proper; count from here */
        stats_mark();
        rc = HV_XEN_VERSION;
        break;
    case __HYPERVISOR_console_io:
        rc = console_io(c.args[0], c.args[1], c.args[2]);
        break;
    case __HYPERVISOR_memory_op:
        rc = memory_op(c.args[0], c.args[1]);
        break;
    case __HYPERVISOR_physdev_op:
        rc = physdev_op(c.args[0], c.args[1]);
        break;
    case __HYPERVISOR_mmu_update: case __HYPERVISOR_multicall: case __HYPERVISOR_update_va_mapping:
    case __HYPERVISOR_vm_assist: case __HYPERVISOR_update_va_mapping_otherdomain: case __HYPERVISOR_mmuext_op:
        rc = pvm_hypercall(vcpu, c.op, c.args);
        audit_after("a hypercall");
        break;
    default:
        rc = -XEN_ENOSYS;
    }
    r->rax = (uint64_t)rc;
}
