/*
 * hypercall.c - the hypercalls a PV kernel makes, from the registers
 * entry.S saved (number in rax, arguments in rdi rsi rdx r10 r8 r9), as
 * Xen 4.17 answers them: the PV MMU calls go to the core's pvm_hypercall
 * (multicalls too, whose other entries come back here through
 * pvm_ops.hypercall); the vCPU's own state (trap table, callbacks, stack,
 * segment bases, debug registers, FPU switch, iret), xen_version,
 * console_io, vcpu_op, physdev_op, sched_op and callback_op are here;
 * memory_op is in memory.c and the descriptor tables in descriptor.c.  What
 * is not served answers -ENOSYS, as Xen does for a hypercall it lacks.
 */
#include "fmt.h"
#include "hv.h"
#include "pvbuild.h"

#define HV_XEN_VERSION ((4 << 16) | 17)   /* xen_version's answer, major << 16 | minor: Xen 4.17 */
#define HV_EXTRAVERSION ".5"
#define MAX_TRAP_INFO  256                /* entries set_trap_table reads at most */
#define XEN_CAPABILITIES "xen-3.0-x86_64"

unsigned long hypercall_count[NR_COUNTED_HYPERCALLS + 1];

/* Replace the trap table with the guest's list at address list (0: none): 0, or -XEN_EFAULT. */
static long set_trap_table(uint64_t list)
{
    if (!list) {
        for (unsigned int v = 0; v < 256; v++)
            pv.trap[v] = (struct trap_info){ 0 };
        return 0;
    }
    for (unsigned int i = 0; i < MAX_TRAP_INFO; i++) {
        struct trap_info t;
        if (copy_from_guest(&t, list + i * sizeof(t), sizeof(t)))
            return -XEN_EFAULT;
        if (!t.address)
            break;
        if (!guest_range_ok(t.address, 0))
            return -XEN_EINVAL;
        t.cs |= 3;   /* fixup_guest_code_selector */
        pv.trap[t.vector] = t;
    }
    return 0;
}

/* ---- the boot's phases, as the recording Xen divides them (docs/trace.md) ---- */

/* What a phase ends with on the console: Linux's "Memory:" line, then "Run /init". */
static const char *const phase_mark[NR_PHASES - 1] = { "Memory: ", "Run /init as init process" };
static const char *const phase_label[NR_PHASES] = { "to-Memory:", "to-Run-/init", "/init-to-end" };
static unsigned int phase;
static struct phase_counts counts_at[NR_PHASES + 1];   /* [p]: the counters when phase p began */
static char console_tail[32];                          /* the console's last bytes, to match across writes */

unsigned long bounced_pf[2];   /* #PF bounced to the guest from kernel mode [0] and user mode [1] */

/* The counters a phase is measured with, now. */
static struct phase_counts counts_now(void)
{
    struct phase_counts c = { .st = machine.stats, .pf_kernel = bounced_pf[0], .pf_user = bounced_pf[1] };
    for (unsigned int op = 0; op <= NR_COUNTED_HYPERCALLS; op++)
        c.hypercalls += hypercall_count[op];
    return c;
}

/* Watch the console for the next phase's mark (text may be split across writes). */
static void watch_console(const char *s, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        unsigned int len = sizeof(console_tail) - 1;
        for (unsigned int k = 0; k + 1 < len; k++)
            console_tail[k] = console_tail[k + 1];
        console_tail[len - 1] = s[i];
        if (phase + 1 >= NR_PHASES)
            continue;
        const char *m = phase_mark[phase];
        unsigned int ml = 0;
        while (m[ml])
            ml++;
        unsigned int k = 0;
        while (k < ml && console_tail[len - ml + k] == m[k])
            k++;
        if (k == ml)
            counts_at[++phase] = counts_now();
    }
}

unsigned int hv_phase(void) { return phase; }

void phase_report(void)
{
    counts_at[phase + 1] = counts_now();
    for (unsigned int p = 0; p <= phase; p++) {
        const struct phase_counts *a = &counts_at[p], *b = &counts_at[p + 1];
        struct pvm_stats d;
        pvm_stats_since(&d, &b->st, &a->st);
        hv_printf("hv phase %s hypercalls=%lu multicall_entries=%llu mmu_update_reqs=%llu mmuext_ops=%llu "
                  "validated=%llu,%llu,%llu,%llu devalidated=%llu,%llu,%llu,%llu ptwr=%llu pf_bounced=%lu,%lu\n",
                  phase_label[p], b->hypercalls - a->hypercalls, (unsigned long long)d.multicall_entries,
                  (unsigned long long)d.mmu_update_reqs, (unsigned long long)d.mmuext_ops,
                  (unsigned long long)d.promotions[1], (unsigned long long)d.promotions[2],
                  (unsigned long long)d.promotions[3], (unsigned long long)d.promotions[4],
                  (unsigned long long)d.demotions[1], (unsigned long long)d.demotions[2],
                  (unsigned long long)d.demotions[3], (unsigned long long)d.demotions[4],
                  (unsigned long long)d.ptwr_emulations, b->pf_kernel - a->pf_kernel, b->pf_user - a->pf_user);
    }
}

/* CONSOLEIO_write of count bytes at guest address buf, in chunks; CONSOLEIO_read gives nothing. */
static long console_io(uint64_t cmd, uint64_t count, uint64_t buf)
{
    if (cmd == 1)   /* CONSOLEIO_read: no input */
        return 0;
    if (cmd != CONSOLEIO_write)
        return -XEN_ENOSYS;
    char chunk[128];
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < sizeof(chunk) ? count - done : sizeof(chunk);
        if (copy_from_guest(chunk, buf + done, n))
            return -XEN_EFAULT;
        hv_write(chunk, n);
        watch_console(chunk, n);
        done += n;
    }
    return 0;
}

/* Copy the NUL-terminated s into the guest's buffer of len bytes at dst (zero-filled): 0 or -EFAULT. */
static long put_guest_string(uint64_t dst, const char *s, unsigned int len)
{
    char buf[64] = { 0 };
    for (unsigned int i = 0; s[i] && i + 1 < len && i + 1 < sizeof(buf); i++)
        buf[i] = s[i];
    return copy_to_guest(dst, buf, len < sizeof(buf) ? len : sizeof(buf)) ? -XEN_EFAULT : 0;
}

uint32_t hv_withheld;

/* Xen 4.17's XENVER_get_features for a 64-bit PV domain with these pvm_domain_create flags and vm_assist bits. */
static uint32_t xenver_features(unsigned int flags, unsigned long vm_assist)
{
    uint32_t f = 1u << XENFEAT_mmu_pt_update_preserve_ad | 1u << XENFEAT_highmem_assist |
                 1u << XENFEAT_gnttab_map_avail_bits | 1u << XENFEAT_memory_op_vnode_supported |
                 1u << XENFEAT_direct_mapped;
    if (vm_assist & (1UL << VMASST_TYPE_pae_extended_cr3))
        f |= 1u << XENFEAT_pae_pgdir_above_4gb;
    if (flags & PVM_DOM_PRIVILEGED)
        f |= 1u << XENFEAT_dom0;
    return f & ~hv_withheld;
}

uint32_t hv_xenver_features(void)
{
    return xenver_features(vcpu->d->flags, vcpu->d->vm_assist);
}

uint32_t hv_given_features(unsigned int flags)
{
    return (xenver_features(flags, 1UL << VMASST_TYPE_pae_extended_cr3) | 1u << XENFEAT_writable_page_tables) &
           ~hv_withheld;
}

/* xen_version: the version, strings, features and parameters a PV kernel asks for. */
static long xen_version(uint64_t cmd, uint64_t arg)
{
    switch (cmd) {
    case XENVER_version:
        stats_mark();   /* our PV kernel calls it once, before its boot proper: the counters count from the first */
        return HV_XEN_VERSION;
    case XENVER_extraversion: return put_guest_string(arg, HV_EXTRAVERSION, 16);
    case XENVER_capabilities: return put_guest_string(arg, XEN_CAPABILITIES, 1024);
    case XENVER_compile_info: return put_guest_string(arg, "", 140);
    case XENVER_changeset: return put_guest_string(arg, "pvmmu", 64);
    case XENVER_guest_handle: return put_guest_string(arg, "", 16);
    case XENVER_pagesize: return XEN_PAGE_SIZE;
    case XENVER_platform_parameters: {
        uint64_t virt_start = HYPERVISOR_VIRT_START;
        return copy_to_guest(arg, &virt_start, sizeof(virt_start)) ? -XEN_EFAULT : 0;
    }
    case XENVER_get_features: {
        uint32_t fi[2];
        if (copy_from_guest(fi, arg, sizeof(fi)))
            return -XEN_EFAULT;
        if (fi[0] != 0)
            return -XEN_EINVAL;
        fi[1] = hv_xenver_features();
        return copy_to_guest(arg, fi, sizeof(fi)) ? -XEN_EFAULT : 0;
    }
    default: return -XEN_ENOSYS;
    }
}

/* physdev_op: set_iopl (the virtual IOPL); the IO-APIC and IRQ calls are not served (Linux falls back). */
static long physdev_op(uint64_t cmd, uint64_t arg)
{
    if (cmd != PHYSDEVOP_set_iopl)
        return -XEN_ENOSYS;
    uint32_t iopl;
    if (copy_from_guest(&iopl, arg, sizeof(iopl)))
        return -XEN_EFAULT;
    if (iopl > 3)
        return -XEN_EINVAL;
    pv.iopl = iopl;
    return 0;
}

/* callback_op: register or unregister one callback (event, failsafe, syscall, ...). */
static long callback_op(uint64_t cmd, uint64_t arg)
{
    struct callback_register cb;
    if (cmd != CALLBACKOP_register && cmd != CALLBACKOP_unregister)
        return -XEN_ENOSYS;
    if (copy_from_guest(&cb, arg, cmd == CALLBACKOP_register ? sizeof(cb) : sizeof(cb.type)))
        return -XEN_EFAULT;
    if (cb.type >= 8 || cb.type == 5 || cb.type == 6)
        return -XEN_ENOSYS;
    if (cmd == CALLBACKOP_register && !guest_range_ok(cb.address, 0))
        return -XEN_EINVAL;
    if (cmd == CALLBACKOP_unregister) {
        if (cb.type != CALLBACKTYPE_nmi)
            return -XEN_EINVAL;   /* as Xen: only the NMI callback can be taken back */
        pv.callback[cb.type] = 0;
        return 0;
    }
    pv.callback[cb.type] = cb.address;
    pv.callback_flags[cb.type] = cb.flags;
    return 0;
}

/* vcpu_op for the one vCPU: is_up, the vcpu_info and runstate areas, and the timer calls. */
static long vcpu_op(uint64_t cmd, uint64_t id, uint64_t arg)
{
    if (id >= vcpu->d->nr_vcpus)
        return -XEN_ENOENT;
    switch (cmd) {
    case VCPUOP_is_up: return 1;
    case VCPUOP_down:   /* its only vCPU: the domain can never run again (a halt with events off, a panic) */
        hv_printf("pvmmu hv: the guest took its only vCPU down (VCPUOP_down): it has stopped for good\n");
        finish(3);
    case VCPUOP_register_vcpu_info: return register_vcpu_info(arg);
    case VCPUOP_register_runstate_memory_area: {
        uint64_t va;
        if (copy_from_guest(&va, arg, sizeof(va)))
            return -XEN_EFAULT;
        pv.runstate_va = va;
        return 0;
    }
    case VCPUOP_stop_periodic_timer: case VCPUOP_stop_singleshot_timer:
        return timer_stop(cmd == VCPUOP_stop_periodic_timer);
    case VCPUOP_set_singleshot_timer: return timer_set_singleshot(arg);
    default: return -XEN_ENOSYS;
    }
}

/* sched_op: yield, block (until an event), shutdown (the end of the run). */
static long sched_op(uint64_t cmd, uint64_t arg)
{
    switch (cmd) {
    case SCHEDOP_yield: return 0;
    case SCHEDOP_block: return sched_block();
    case SCHEDOP_shutdown: {
        uint32_t reason;
        if (copy_from_guest(&reason, arg, sizeof(reason)))
            return -XEN_EFAULT;
        guest_shutdown(reason);
    }
    default: return -XEN_ENOSYS;
    }
}

/* The guest's debug registers: kept for get_debugreg, never loaded (nothing here single-steps the guest). */
static long set_debugreg(uint64_t reg, uint64_t value)
{
    if (reg > 7 || reg == 4 || reg == 5)
        return -XEN_ENODEV;
    if (reg >= 6 && (value >> 32))
        return -XEN_EINVAL;
    if (reg < 4 && !guest_range_ok(value, 0))
        return -XEN_EPERM;
    pv.dr[reg] = value;
    return 0;
}

/*
 * HYPERVISOR_iret: the frame at the guest's rsp (rax, r11, rcx, flags, rip,
 * cs, rflags, rsp, ss) becomes the guest's state, as Xen's do_iret: a cs
 * with RPL 3 returns to user mode; rcx and r11 come back unless the frame
 * came from a syscall; the upcall mask follows the frame's IF.  Returns the
 * frame's rax (the guest's own).  A frame that cannot be read ends the run,
 * as Xen crashes the domain.
 */
/*
 * Would the CPU's iretq take selector sel for the guest (code for cs, a
 * writable data segment for ss)?  lar from ring 0 with RPL 3 reads the
 * descriptor the guest's GDT (or Xen's reserved page) holds: present, DPL 3.
 */
static bool selector_ok(uint16_t sel, bool code)
{
    uint32_t ar = 0;
    uint8_t ok = 0;
    if (!(sel & ~3u))
        return false;
    __asm__ volatile("lar %2, %0\n setz %1" : "+r"(ar), "=q"(ok) : "r"((uint32_t)sel | 3u) : "cc");
    if (!ok || !(ar & (1u << 15)) || ((ar >> 13) & 3) != 3 || !(ar & (1u << 12)))
        return false;   /* not there, not present, not DPL 3, or a system descriptor */
    return code ? (ar & (1u << 11)) != 0 : (ar & (1u << 11)) == 0 && (ar & (1u << 9)) != 0;
}

static long do_iret(struct regs *r)
{
    struct { uint64_t rax, r11, rcx, flags, rip, cs, rflags, rsp, ss; } f;
    if (copy_from_guest(&f, r->rsp, sizeof(f))) {
        hv_printf("hv: the guest's iret frame at %#llx cannot be read (Xen crashes the domain)\n",
                  (unsigned long long)r->rsp);
        finish(3);
    }
    /* A frame the CPU's iretq would refuse is the guest's #GP (Xen's iretq faults and redelivers it). */
    if (!selector_ok((uint16_t)f.cs, true) || !selector_ok((uint16_t)f.ss, false) || !guest_range_ok(f.rip, 1) ||
        !guest_range_ok(f.rsp, 0)) {
        uint16_t bad = !selector_ok((uint16_t)f.cs, true) ? (uint16_t)f.cs : !selector_ok((uint16_t)f.ss, false) ?
                       (uint16_t)f.ss : 0;
        inject_exception(r, X86_EXC_GP, bad & ~3u);
        return (long)r->rax;
    }
    if ((f.cs & 3) == 3) {
        if (vcpu->guest_table_user == PVM_INVALID_MFN) {
            hv_printf("hv: the guest irets to user mode with no user page tables (Xen crashes the domain)\n");
            finish(3);
        }
        pv_toggle_guest_mode();
    }
    if (!(f.flags & VGCF_in_syscall)) {
        r->r11 = f.r11;
        r->rcx = f.rcx;
    }
    r->rip = f.rip;
    r->cs = f.cs | 3;
    r->rflags = (f.rflags & ~(X86_EFLAGS_IOPL | X86_EFLAGS_VM | X86_EFLAGS_IF)) | GUEST_RFLAGS;
    r->rsp = f.rsp;
    r->ss = f.ss | 3;
    pv_vcpu_info()->evtchn_upcall_mask = !(f.rflags & X86_EFLAGS_IF);
    return (long)f.rax;
}

/* ---- what the guest asked for ---- */

static const char *const hypercall_name[NR_COUNTED_HYPERCALLS] = {
    "set_trap_table", "mmu_update", "set_gdt", "stack_switch", "set_callbacks", "fpu_taskswitch",
    "sched_op_compat", "platform_op", "set_debugreg", "get_debugreg", "update_descriptor", "11", "memory_op",
    "multicall", "update_va_mapping", "set_timer_op", "event_channel_op_compat", "xen_version", "console_io",
    "physdev_op_compat", "grant_table_op", "vm_assist", "update_va_mapping_otherdomain", "iret", "vcpu_op",
    "set_segment_base", "mmuext_op", "xsm_op", "nmi_op", "sched_op", "callback_op", "xenoprof_op",
    "event_channel_op", "physdev_op", "hvm_op", "sysctl", "domctl", "kexec_op", "38", "argo_op", "xenpmu_op",
    "dm_op", "hypfs_op", "43", "44", "45", "46", "47", "mca", "paging_domctl_cont",
};

/* Does hypercall op take a sub-command as its first argument? */
static bool has_cmd(unsigned long op)
{
    return op == __HYPERVISOR_memory_op || op == __HYPERVISOR_xen_version || op == __HYPERVISOR_console_io ||
           op == __HYPERVISOR_vcpu_op || op == __HYPERVISOR_sched_op || op == __HYPERVISOR_callback_op ||
           op == __HYPERVISOR_event_channel_op || op == __HYPERVISOR_physdev_op || op == __HYPERVISOR_grant_table_op ||
           op == __HYPERVISOR_hvm_op;
}

/* The distinct refusals (hypercall, sub-command, errno) and how often each came. */
#define MAX_REFUSED 32
struct refusal_count {
    unsigned long op, n;
    uint64_t cmd;
    long rc;
};
static struct refusal_count refused[MAX_REFUSED];
static unsigned int nr_refused;

/* Count a hypercall (top level or in a multicall) and remember a refusal of it. */
static void account(unsigned long op, uint64_t cmd, long rc)
{
    hypercall_count[op < NR_COUNTED_HYPERCALLS ? op : NR_COUNTED_HYPERCALLS]++;
    if (rc >= 0 || op == __HYPERVISOR_iret)
        return;
    cmd = has_cmd(op) ? cmd & XENMEM_cmd_mask : ~0ULL;
    for (unsigned int i = 0; i < nr_refused; i++)
        if (refused[i].op == op && refused[i].cmd == cmd && refused[i].rc == rc) {
            refused[i].n++;
            return;
        }
    if (nr_refused < MAX_REFUSED)
        refused[nr_refused++] = (struct refusal_count){ op, 1, cmd, rc };
}

/* The name of hypercall op ("set_gdt"), or its number past the table. */
static const char *name_of(unsigned long op, char buf[24])
{
    if (op < NR_COUNTED_HYPERCALLS)
        return hypercall_name[op];
    fmt_snprintf(buf, 24, "%lu", op);
    return buf;
}

void hypercall_report(void)
{
    char line[1024], nb[24];
    int at = fmt_snprintf(line, sizeof(line), "hv hypercalls asked:");
    for (unsigned long op = 0; op <= NR_COUNTED_HYPERCALLS; op++)
        if (hypercall_count[op] && at < (int)sizeof(line) - 48)
            at += fmt_snprintf(line + at, sizeof(line) - (size_t)at, " %s=%lu",
                               op < NR_COUNTED_HYPERCALLS ? name_of(op, nb) : "other", hypercall_count[op]);
    hv_write(line, at < (int)sizeof(line) ? (uint64_t)at : sizeof(line) - 1);   /* past hv_printf's 511 bytes */
    hv_write("\n", 1);
    for (unsigned int i = 0; i < nr_refused; i++) {
        if (refused[i].cmd != ~0ULL)
            hv_printf("hv refused: %s(%llu) -> %ld, %lu times\n", name_of(refused[i].op, nb),
                      (unsigned long long)refused[i].cmd, refused[i].rc, refused[i].n);
        else
            hv_printf("hv refused: %s -> %ld, %lu times\n", name_of(refused[i].op, nb), refused[i].rc, refused[i].n);
    }
}

/* ---- dispatch ---- */

/* Serve one hypercall the core does not model. */
static long serve(unsigned long op, const xen_ulong_t a[6])
{
    switch (op) {
    case __HYPERVISOR_set_trap_table: return set_trap_table(a[0]);
    case __HYPERVISOR_set_gdt: return set_gdt(a[0], a[1]);
    case __HYPERVISOR_stack_switch:
        pv.kernel_ss = a[0] | 3;
        pv.kernel_sp = a[1];
        return 0;
    case __HYPERVISOR_set_callbacks:
        pv.callback[CALLBACKTYPE_event] = a[0];
        pv.callback[CALLBACKTYPE_failsafe] = a[1];
        pv.callback[CALLBACKTYPE_syscall] = a[2];
        return 0;
    case __HYPERVISOR_fpu_taskswitch: return fpu_taskswitch(a[0] != 0);
    case __HYPERVISOR_set_debugreg: return set_debugreg(a[0], a[1]);
    case __HYPERVISOR_get_debugreg: return a[0] < 8 && a[0] != 4 && a[0] != 5 ? (long)pv.dr[a[0]] : -XEN_ENODEV;
    case __HYPERVISOR_update_descriptor: return update_descriptor(a[0], a[1]);
    case __HYPERVISOR_memory_op: return memory_op(a[0], a[1]);
    case __HYPERVISOR_xen_version: return xen_version(a[0], a[1]);
    case __HYPERVISOR_console_io: return console_io(a[0], a[1], a[2]);
    case __HYPERVISOR_vcpu_op: return vcpu_op(a[0], a[1], a[2]);
    case __HYPERVISOR_set_segment_base: return set_segment_base(a[0], a[1]);
    case __HYPERVISOR_sched_op: return sched_op(a[0], a[1]);
    case __HYPERVISOR_callback_op: return callback_op(a[0], a[1]);
    case __HYPERVISOR_event_channel_op: return event_channel_op(a[0], a[1]);
    case __HYPERVISOR_set_timer_op: return timer_set(a[0]);
    case __HYPERVISOR_physdev_op: return physdev_op(a[0], a[1]);
    default: return -XEN_ENOSYS;
    }
}

long op_hypercall(void *ctx, struct pvm_vcpu *v, unsigned long op, const xen_ulong_t a[6])
{
    (void)ctx;
    (void)v;
    long rc = serve(op, a);
    account(op, a[0], rc);
    return rc;
}

uint64_t last_hypercall_ns;

void do_hypercall(struct regs *r)
{
    last_hypercall_ns = system_time();
    struct { unsigned long op; xen_ulong_t args[6]; } c = { r->rax, { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 } };
    if (c.op == __HYPERVISOR_iret) {
        account(c.op, 0, 0);
        r->rax = (uint64_t)do_iret(r);
        return;
    }
    if (c.op == __HYPERVISOR_vm_assist && c.args[1] == VMASST_TYPE_writable_pagetables &&
        (hv_withheld & (1u << XENFEAT_writable_page_tables))) {
        account(c.op, c.args[0], -XEN_EINVAL);   /* withheld (withhold=writable_page_tables): as a Xen without it */
        r->rax = (uint64_t)(long)-XEN_EINVAL;
        return;
    }
    /* The PV MMU calls go to the core, which counts them; the rest are served here, uncounted by the core
     * (as on the simulator, so the two agree on every counter), except as multicall entries. */
    bool mmu = c.op == __HYPERVISOR_mmu_update || c.op == __HYPERVISOR_mmuext_op || c.op == __HYPERVISOR_multicall ||
               c.op == __HYPERVISOR_update_va_mapping || c.op == __HYPERVISOR_update_va_mapping_otherdomain ||
               c.op == __HYPERVISOR_vm_assist;
    long rc = mmu ? pvm_hypercall(vcpu, c.op, c.args) : op_hypercall(NULL, vcpu, c.op, c.args);
    switch (c.op) {
    case __HYPERVISOR_mmu_update: case __HYPERVISOR_multicall: case __HYPERVISOR_update_va_mapping:
    case __HYPERVISOR_vm_assist: case __HYPERVISOR_update_va_mapping_otherdomain: case __HYPERVISOR_mmuext_op:
        account(c.op, c.args[0], rc);
        audit_after("a hypercall");
        break;
    case __HYPERVISOR_memory_op: case __HYPERVISOR_set_gdt: case __HYPERVISOR_update_descriptor:
    case __HYPERVISOR_vcpu_op:
        audit_after("a hypercall");
        break;
    default:
        break;
    }
    char nb[24];
    hv_explain_refusal("a hypercall", name_of(c.op, nb));
    r->rax = (uint64_t)rc;
}
