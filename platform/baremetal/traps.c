/*
 * traps.c - every way into the hypervisor after boot, as entry.S hands it
 * over: a hypercall (syscall), or an exception from the guest or from the
 * hypervisor itself.  A guest's write fault on a read-only L1 goes to ptwr,
 * its `out` under the virtual IOPL is done here, and any other exception is
 * bounced to the guest's handler in Xen's 64-bit PV frame, or reported.
 * On the way back the guest's own L4 is in cr3.
 */
#include "hv.h"

static const char *const exc_name[HV_NR_EXC] = { "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "-",
                                                 "#TS", "#NP", "#SS", "#GP", "#PF", "-", "#MF", "#AC", "#MC", "#XM",
                                                 "#VE", "#CP" };

/* The mnemonic of an exception vector ("#PF"), "?" past the ones the IDT handles. */
static const char *exc_label(uint64_t vector) { return vector < HV_NR_EXC ? exc_name[vector] : "?"; }

/* Does the CPU push an error code for this vector (of the ones the guest may get bounced)? */
static bool exc_has_error_code(uint64_t v)
{
    return v == X86_EXC_DF || (v >= X86_EXC_TS && v <= X86_EXC_PF) || v == X86_EXC_AC;
}

/*
 * Xen's create_bounce_frame: enter the guest kernel at handler as an
 * exception, event or syscall would, with Xen's 64-bit PV frame on the
 * kernel's stack, lowest address first: rcx, r11, the error code if
 * has_error, rip, cs (bits 32-39: the upcall mask it replaces), rflags
 * (IF: events were unmasked; IOPL: the virtual IOPL), rsp, ss.  From user
 * mode the vCPU switches to kernel mode and the kernel stack of
 * stack_switch; in kernel mode the frame goes below the current rsp and its
 * cs has RPL 0 ("the kernel was interrupted").  mask_events sets the upcall
 * mask.  A frame the stack cannot take ends the run (Xen crashes the domain).
 */
void bounce_to_guest(struct regs *r, uint64_t handler, bool mask_events, bool has_error, uint64_t error,
                     const char *what)
{
    struct vcpu_info *vi = pv_vcpu_info();
    uint64_t saved_mask = vi->evtchn_upcall_mask, cs = r->cs, sp;
    if (!pv.kernel_mode) {
        pv_toggle_guest_mode();
        sp = pv.kernel_sp;
    } else {
        sp = r->rsp;
        cs &= ~3ULL;
    }
    sp &= ~0xFULL;
    uint64_t f[8];
    unsigned int n = 0;
    f[n++] = r->rcx;
    f[n++] = r->r11;
    if (has_error)
        f[n++] = error;
    f[n++] = r->rip;
    f[n++] = (cs & 0xFFFF) | saved_mask << 32;
    f[n++] = (r->rflags & ~(X86_EFLAGS_IF | X86_EFLAGS_IOPL)) | (uint64_t)pv.iopl << 12 |
             (saved_mask ? 0 : X86_EFLAGS_IF);
    f[n++] = r->rsp;
    f[n++] = r->ss;
    sp -= n * 8;
    if (!handler || !guest_range_ok(handler, 1) || copy_to_guest(sp, f, n * 8)) {
        hv_printf("hv: guest %s at rip %#llx: %s\n", what, (unsigned long long)r->rip,
                  !handler ? "and no handler for it" : !guest_range_ok(handler, 1) ?
                  "and its handler is not a guest address" : "and its kernel stack cannot take the frame");
        hv_printf("hv: error code %#llx, cr2 %#llx, rsp %#llx, kernel stack %#llx\n", (unsigned long long)error,
                  (unsigned long long)vi->cr2, (unsigned long long)r->rsp, (unsigned long long)pv.kernel_sp);
        finish(3);
    }
    if (mask_events)
        vi->evtchn_upcall_mask = 1;
    r->rsp = sp;
    r->rip = handler;
    r->cs = FLAT_KERNEL_CS64;
    r->ss = FLAT_KERNEL_SS64;
    r->rflags &= ~(X86_EFLAGS_TF | X86_EFLAGS_NT | X86_EFLAGS_RF | X86_EFLAGS_VM | X86_EFLAGS_AC);
}

/*
 * A guest that takes the same exception at the same place, for the same
 * address, over and over without doing anything else in between makes no
 * progress (a kernel whose fault handler retries a write the hypervisor
 * will never allow): after REPEAT_LIMIT such bounces in a row the run ends.
 */
#define REPEAT_LIMIT 100000
static void check_repeat(const struct regs *r, uint64_t cr2)
{
    static uint64_t last_rip, last_cr2, last_vec, repeats;
    if (r->rip == last_rip && cr2 == last_cr2 && r->vector == last_vec) {
        if (++repeats == REPEAT_LIMIT) {
            hv_printf("hv: the guest took %s at rip %#llx (cr2 %#llx) %u times in a row without progress; "
                      "stopping\n", exc_label(r->vector), (unsigned long long)r->rip, (unsigned long long)cr2,
                      REPEAT_LIMIT);
            finish(3);
        }
        return;
    }
    last_rip = r->rip;
    last_cr2 = cr2;
    last_vec = r->vector;
    repeats = 0;
}

static void bounce(struct regs *r, uint64_t cr2);

void inject_exception(struct regs *r, unsigned int vector, uint64_t error)
{
    r->vector = vector;
    r->error = error;
    bounce(r, 0);
}

/* Deliver exception r->vector to the guest's trap table entry, cr2 in its vcpu_info for a #PF. */
static void bounce(struct regs *r, uint64_t cr2)
{
    check_repeat(r, cr2);
    const struct trap_info *t = &pv.trap[r->vector & 0xFF];
    if (r->vector == X86_EXC_PF) {
        pv_vcpu_info()->cr2 = cr2;
        bounced_pf[pv.kernel_mode ? 0 : 1]++;
        r->error = (r->error & ~PFEC_user_mode) | (pv.kernel_mode ? 0 : PFEC_user_mode);   /* as Xen's */
    }
    bounce_to_guest(r, t->address, TI_GET_IF(t) != 0, exc_has_error_code(r->vector), r->error,
                    exc_label(r->vector));
}

/*
 * The #GP of `int $n` (its error code names IDT entry n): as Xen's
 * do_general_protection, if the guest's trap table lets its current mode
 * raise n (the entry's DPL against kernel mode's 1 or user mode's 3), skip
 * the instruction and deliver vector n.  false: the #GP is the guest's.
 */
static bool software_interrupt(struct regs *r)
{
    unsigned int n = (unsigned int)(r->error >> 3) & 0xFF;
    const struct trap_info *t = &pv.trap[n];
    if (!t->address || TI_GET_DPL(t) < (pv.kernel_mode ? 1u : 3u))
        return false;
    r->rip += 2;
    bounce_to_guest(r, t->address, TI_GET_IF(t) != 0, false, 0, "int");
    return true;
}

/*
 * A syscall from guest user mode (64-bit, or from a 32-bit code segment):
 * bounced to the kernel's syscall (or syscall32) callback with DF clear, as
 * Xen's switch_to_kernel does; with no callback, #UD at the instruction.
 */
static void user_syscall(struct regs *r)
{
    unsigned int type = r->vector == SYSCALL32_VECTOR ? CALLBACKTYPE_syscall32 : CALLBACKTYPE_syscall;
    r->vector = SYSCALL_VECTOR;
    if (!pv.callback[type]) {
        r->rip -= 2;
        r->vector = X86_EXC_UD;
        bounce(r, 0);
        return;
    }
    r->rflags &= ~X86_EFLAGS_DF;
    bounce_to_guest(r, pv.callback[type], (pv.callback_flags[type] & CALLBACKF_mask_events) != 0, false, 0,
                    "syscall");
}

/* An exception in the guest: emulated (ptwr, privileged instructions, forced CPUID), else bounced. */
static void guest_exception(struct regs *r)
{
    uint64_t cr2 = r->vector == X86_EXC_PF ? read_cr2() : 0;
    const uint64_t write_to_present = PFEC_page_present | PFEC_write_access;
    if (r->vector == X86_EXC_PF && (r->error & write_to_present) == write_to_present && pv_ro_page_fault(r, cr2))
        return;
    if (r->vector == X86_EXC_GP && r->error == 0 && emulate_privileged_op(r))
        return;
    if (r->vector == X86_EXC_GP && (r->error & 3) == 2 && software_interrupt(r))
        return;
    if (r->vector == X86_EXC_UD && emulate_forced_cpuid(r))
        return;
    bounce(r, cr2);
}

/*
 * An exception in the hypervisor: a fault inside hv_guarded (a guest
 * access) resumes at hv_guard_fault, which returns -EFAULT; anything else
 * panics.
 */
static void hypervisor_exception(struct regs *r)
{
    if (guard_armed && (r->vector == X86_EXC_PF || r->vector == X86_EXC_GP || r->vector == X86_EXC_SS ||
                        r->vector == X86_EXC_NP || r->vector == X86_EXC_TS)) {
        r->rip = (uint64_t)(uintptr_t)hv_guard_fault;
        return;
    }
    panic("%s in the hypervisor at rip %#llx, error code %#llx, cr2 %#llx", exc_label(r->vector),
          (unsigned long long)r->rip, (unsigned long long)r->error, (unsigned long long)read_cr2());
}

/*
 * A guest that has made no hypercall for STUCK_NS of system time, though
 * timer interrupts keep arriving, is stuck (spinning with events masked, or
 * looping on a fault): a PV kernel, busy or idle, makes hypercalls every
 * tick.  The run ends there, saying where the guest was.
 */
static void check_stuck(const struct regs *r)
{
    if (system_time() - last_hypercall_ns > STUCK_NS) {
        hv_printf("hv: the guest has made no hypercall for %llu s; it is stuck at rip %#llx in %s mode\n",
                  STUCK_NS / 1000000000ULL, (unsigned long long)r->rip, pv.kernel_mode ? "kernel" : "user");
        finish(3);
    }
}

void hv_entry(struct regs *r)
{
    if (r->vector == X86_EXC_NMI || r->vector == X86_EXC_DF || r->vector == X86_EXC_MC)   /* never the guest's */
        panic("%s at rip %#llx (%s)", exc_label(r->vector), (unsigned long long)r->rip,
              r->cs & 3 ? "in the guest" : "in the hypervisor");
    if (r->vector == TIMER_VECTOR || r->vector == SPURIOUS_VECTOR) {
        if (r->vector == TIMER_VECTOR)
            timer_interrupt();
        if (r->vector == TIMER_VECTOR && (r->cs & 3))
            check_stuck(r);
        if (!(r->cs & 3))   /* it woke the hypervisor from sched_block's hlt */
            return;
    } else if (!(r->cs & 3)) {
        hypervisor_exception(r);
        return;
    } else if (r->vector == SYSCALL_VECTOR && pv.kernel_mode && !(r->cs == FLAT_RING3_CS32))
        do_hypercall(r);
    else if (r->vector == SYSCALL_VECTOR || r->vector == SYSCALL32_VECTOR)   /* a user process's syscall */
        user_syscall(r);
    else
        guest_exception(r);
    deliver_events(r);
    uint64_t root = pv_current_root() << XEN_PAGE_SHIFT;
    if (read_cr3() != root)
        write_cr3(root);
    if (!guest_range_ok(r->rip, 1)) {   /* iretq to it would fault in ring 0 */
        hv_printf("hv: the guest would resume at %#llx, which is not a guest address\n", (unsigned long long)r->rip);
        finish(3);
    }
}
