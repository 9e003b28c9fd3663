/*
 * traps.c - every way into the hypervisor after boot, as entry.S hands it
 * over: a hypercall (syscall), or an exception from the guest or from the
 * hypervisor itself.  A guest's write fault on a read-only L1 goes to ptwr,
 * its `out` under the virtual IOPL is done here, and any other exception is
 * bounced to the guest's handler in Xen's 64-bit PV frame, or reported.
 * On the way back the guest's own L4 is in cr3.
 */
#include "hv.h"

#define OP_OUT_IMM8 0xE6   /* out %al, $imm8 */
#define OP_OUT_DX   0xEE   /* out %al, %dx */

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
 * Xen's 64-bit PV exception frame for r, lowest address first: rcx, r11,
 * the error code if the vector has one, then the CPU's iret frame.  Writes
 * f[0..8) at most; returns the number of words.
 */
static unsigned int bounce_frame(const struct regs *r, uint64_t f[8])
{
    unsigned int n = 0;
    f[n++] = r->rcx;
    f[n++] = r->r11;
    if (exc_has_error_code(r->vector))
        f[n++] = r->error;
    f[n++] = r->rip;
    f[n++] = r->cs;
    f[n++] = r->rflags;
    f[n++] = r->rsp;
    f[n++] = r->ss;
    return n;
}

/*
 * Deliver the exception to the guest's handler (set_trap_table) with Xen's
 * frame on the guest's stack and cr2 in shared_info, as Xen's bounce does.
 * With no usable handler or stack: report it and end the run (exit 3).
 */
static void bounce(struct regs *r, uint64_t cr2)
{
    uint64_t handler = r->vector < X86_EXC_NUM ? trap_handler[r->vector] : 0;
    if (handler && !guest_range_ok(handler, 1)) {
        hv_printf("hv: guest %s at rip %#llx, and its handler %#llx is not a guest address\n", exc_label(r->vector),
                  (unsigned long long)r->rip, (unsigned long long)handler);
        finish(3);
    }
    if (!handler) {
        hv_printf("hv: guest %s (vector %llu) at rip %#llx, error code %#llx, cr2 %#llx, and no handler for it\n",
                  exc_label(r->vector), (unsigned long long)r->vector, (unsigned long long)r->rip,
                  (unsigned long long)r->error, (unsigned long long)cr2);
        finish(3);
    }
    if (r->vector == X86_EXC_PF)
        arch_set_cr2(cr2);
    uint64_t f[8];
    unsigned int n = bounce_frame(r, f);
    uint64_t sp = (r->rsp & ~0xFULL) - n * 8;
    if (copy_to_guest(sp, f, n * 8)) {
        hv_printf("hv: guest %s at rip %#llx, and its stack %#llx cannot take the frame\n", exc_label(r->vector),
                  (unsigned long long)r->rip, (unsigned long long)r->rsp);
        finish(3);
    }
    r->rsp = sp;
    r->rip = handler;
    r->cs = SEL_UCODE;
    r->ss = SEL_UDATA;
    r->rflags &= ~(X86_EFLAGS_TF | X86_EFLAGS_NT | X86_EFLAGS_RF | X86_EFLAGS_VM | X86_EFLAGS_AC);
}

/*
 * The #GP of a guest `out` (ring 3, IOPL 0) with the virtual IOPL set: to
 * QEMU's exit port it ends the run (finish, with al as the code); to any
 * other port it does nothing and skips the instruction.  false: not an out.
 */
static bool emulate_port_out(struct regs *r)
{
    uint8_t b[2];
    if (copy_from_guest(b, r->rip, 2) || (b[0] != OP_OUT_IMM8 && b[0] != OP_OUT_DX))
        return false;
    uint16_t port = b[0] == OP_OUT_IMM8 ? b[1] : (uint16_t)r->rdx;
    if (port == QEMU_EXIT_PORT)
        finish((uint8_t)r->rax);
    r->rip += b[0] == OP_OUT_IMM8 ? 2 : 1;
    return true;
}

/* An exception in the guest: emulated (ptwr, out), else bounced to the guest or reported. */
static void guest_exception(struct regs *r)
{
    uint64_t cr2 = r->vector == X86_EXC_PF ? read_cr2() : 0;
    const uint64_t write_to_present = PFEC_page_present | PFEC_write_access;
    if (r->vector == X86_EXC_PF && (r->error & write_to_present) == write_to_present && pv_ro_page_fault(r, cr2))
        return;
    if (r->vector == X86_EXC_GP && virtual_iopl && emulate_port_out(r))
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
    if (guard_armed && (r->vector == X86_EXC_PF || r->vector == X86_EXC_GP || r->vector == X86_EXC_SS)) {
        r->rip = (uint64_t)(uintptr_t)hv_guard_fault;
        return;
    }
    panic("%s in the hypervisor at rip %#llx, error code %#llx, cr2 %#llx", exc_label(r->vector),
          (unsigned long long)r->rip, (unsigned long long)r->error, (unsigned long long)read_cr2());
}

void hv_entry(struct regs *r)
{
    if (r->vector == X86_EXC_NMI || r->vector == X86_EXC_DF || r->vector == X86_EXC_MC)   /* never the guest's */
        panic("%s at rip %#llx (%s)", exc_label(r->vector), (unsigned long long)r->rip,
              r->cs & 3 ? "in the guest" : "in the hypervisor");
    if (!(r->cs & 3)) {
        hypervisor_exception(r);
        return;
    }
    if (r->vector == SYSCALL_VECTOR)
        do_hypercall(r);
    else
        guest_exception(r);
    uint64_t root = vcpu->guest_table << XEN_PAGE_SHIFT;
    if (read_cr3() != root)
        write_cr3(root);
    if (!guest_range_ok(r->rip, 1)) {   /* iretq to it would fault in ring 0 */
        hv_printf("hv: the guest would resume at %#llx, which is not a guest address\n", (unsigned long long)r->rip);
        finish(3);
    }
}
