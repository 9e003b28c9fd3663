/*
 * vcpu.c - the PV vCPU's state beyond its page tables, as Xen keeps it in
 * v->arch.pv: kernel or user mode, the trap table and callbacks, the kernel
 * stack for entries from user mode, the segment bases, the virtual IOPL and
 * CR0.TS, and where its vcpu_info lives.  The segment bases live in the
 * CPU's MSRs while the guest runs (the hypervisor itself never uses fs or
 * gs), so a mode switch swaps the two gs bases as Xen's toggle_guest_mode
 * does.
 */
#include "hv.h"

#define MSR_FS_BASE 0xc0000100U
#define MSR_GS_BASE 0xc0000101U

struct pv_vcpu_state pv = { .kernel_mode = true, .dr = { [6] = 0xffff0ff0, [7] = 0x400 } };   /* DR6, DR7 at reset */

struct vcpu_info *pv_vcpu_info(void)
{
    return dm(pv.vcpu_info_maddr);
}

/* Load the gs base the CPU should hold now: the kernel's in kernel mode, the user's in user mode. */
static void load_gs_base(void)
{
    wrmsr(MSR_GS_BASE, pv.kernel_mode ? pv.gs_base_kernel : pv.gs_base_user);
}

void pv_set_segment_base(unsigned int which, uint64_t base)
{
    switch (which) {
    case SEGBASE_FS:
        pv.fs_base = base;
        wrmsr(MSR_FS_BASE, base);
        return;
    case SEGBASE_GS_USER:
        pv.gs_base_user = base;
        break;
    case SEGBASE_GS_KERNEL:
        pv.gs_base_kernel = base;
        break;
    default:
        return;
    }
    load_gs_base();
}

uint64_t pv_current_root(void)
{
    return pv.kernel_mode ? vcpu->guest_table : vcpu->guest_table_user;
}

void pv_toggle_guest_mode(void)
{
    pv.kernel_mode = !pv.kernel_mode;
    pvm_set_guest_mode(vcpu, pv.kernel_mode);
    load_gs_base();
    if (pv_current_root() != PVM_INVALID_MFN)
        write_cr3(pv_current_root() << XEN_PAGE_SHIFT);
}

bool pv_own_domid(uint16_t domid)
{
    return domid == DOMID_SELF || domid == vcpu->d->id;
}

bool pv_io_allowed(void)
{
    return pv.iopl >= (pv.kernel_mode ? 1u : 3u);
}

long set_segment_base(uint64_t which, uint64_t base)
{
    if (which == SEGBASE_GS_USER_SEL)
        return load_user_gs_selector((uint16_t)base);
    if (which > SEGBASE_GS_KERNEL)
        return -XEN_EINVAL;
    if (!guest_range_ok(base, 0))
        return -XEN_EINVAL;
    pv_set_segment_base((unsigned int)which, base);
    return 0;
}

/* hv_guarded's callee: load selector *arg into gs (a bad one faults, and the caller loads the null selector). */
static long load_gs(void *arg)
{
    uint16_t sel = *(uint16_t *)arg;
    __asm__ volatile("mov %0, %%gs" : : "r"(sel) : "memory");
    return 0;
}

/*
 * SEGBASE_GS_USER_SEL: the user's gs selector, as Xen loads it: a selector
 * the CPU refuses becomes the null selector; the user gs base becomes what
 * the load left (the descriptor's base, or 0).  The kernel's base stays.
 */
long load_user_gs_selector(uint16_t sel)
{
    if (sel > 3)
        sel |= 3;   /* as Xen: the guest's selectors have RPL 3 */
    if (hv_guarded(load_gs, &sel)) {
        sel = 0;
        load_gs(&sel);
    }
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_GS_BASE));
    pv.gs_base_user = (uint64_t)hi << 32 | lo;
    load_gs_base();
    return 0;
}

long fpu_taskswitch(bool set)
{
    pv.cr0_ts = set;
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = set ? cr0 | 8 : cr0 & ~8ULL;   /* CR0.TS: the guest's next FPU use raises #NM, bounced to it */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    return 0;
}

/*
 * VCPUOP_register_vcpu_info: move the vCPU's vcpu_info into the guest's
 * frame mfn at offset, as Xen does: the frame is held writable by the
 * hypervisor from now on (pvm_xen_map_frame, which refuses a frame that is
 * a page table), the current contents move with it, and a second
 * registration is refused.  0, -EFAULT or -EINVAL.
 */
long register_vcpu_info(uint64_t arg)
{
    struct vcpu_register_vcpu_info info;
    if (copy_from_guest(&info, arg, sizeof(info)))
        return -XEN_EFAULT;
    if (info.offset > XEN_PAGE_SIZE - sizeof(struct vcpu_info) || (info.offset & 7))
        return -XEN_ENXIO;
    if (pv.vcpu_info_registered)
        return -XEN_EINVAL;
    if (pvm_xen_map_frame(&machine, vcpu->d->id, info.mfn))
        return -XEN_EINVAL;
    struct vcpu_info *old = pv_vcpu_info(), *new = dm((info.mfn << XEN_PAGE_SHIFT) + info.offset);
    *new = *old;
    new->evtchn_upcall_pending = 1;   /* as Xen: make the guest look at its events once */
    new->evtchn_pending_sel = ~0ULL;
    pv.vcpu_info_maddr = (info.mfn << XEN_PAGE_SHIFT) + info.offset;
    pv.vcpu_info_registered = true;
    return 0;
}
