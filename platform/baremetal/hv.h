/*
 * hv.h - what the bare-metal hypervisor's files share: the machine-level
 * pieces (the register frame entry.S builds, port I/O, control registers,
 * MSRs, the symbols of entry.S, boot.S and hv.ld), and every function and
 * variable one file defines and another uses, grouped by the defining file:
 *
 *   console.c       serial console, printf, QEMU's exit port, panic, the core's log and BUG_ON
 *   refusal.c       the core's refusals explained on the console, as pvmmu explains them on the host
 *   cpu.c           GDT, TSS, IDT, the syscall MSRs
 *   traps.c         every entry from the guest: hypercall or exception; bounce to its handler
 *   ptwr.c          a store into a read-only L1: decoded, then emulated by the core
 *   emulate.c       privileged instructions (MSRs, control registers, port I/O) and forced CPUID
 *   vcpu.c          the PV vCPU's state: mode, trap table, callbacks, stacks, segment bases
 *   descriptor.c    the GDT area (Xen's layout), set_gdt and update_descriptor through the core
 *   memory.c        memory_op: reservations, memory maps, the M2P's place, exchange
 *   events.c        time, timers, event channels and upcalls, block, shutdown
 *   hypercall.c     the hypercalls the PV kernel makes
 *   guest_access.c  guest memory from the hypervisor: range-checked, with fault recovery
 *   mm.c            the page allocator, the frame table, Xen's M2P, the core's memory callbacks
 *   elf.c           the kernel's ELF image and Xen notes, as Xen's libelf reads them
 *   build.c         the domain builder: the kernel, initrd, p2m, start_info, bootstrap tables
 *   hv.c            start of day, the command line, the auditor, the end of a run
 */
#ifndef PVMMU_HV_H
#define PVMMU_HV_H

/* The numbers up to struct regs serve entry.S too (gcc defines __ASSEMBLER__ there). */
#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvmmu/pvmmu.h"
#include "xen_names.h"
#endif
#include "pvmmu/xen.h"
#include "xen_abi.h"

#define HV_DIRECTMAP   0xffff830000000000ULL   /* all memory, supervisor only: L4 slot 262, as Xen's direct map */
#define SYSCALL_VECTOR 0x100
#define SYSCALL32_VECTOR 0x101   /* syscall from a 32-bit code segment (MSR_CSTAR) */
#define TIMER_VECTOR    0x20   /* the local APIC timer (entry.S's timer_entry) */
#define SPURIOUS_VECTOR 0xff
#define QEMU_EXIT_PORT 0xf4                     /* QEMU's isa-debug-exit */

/* The hypervisor's selectors, in Xen's reserved GDT page (descriptor.c); the guest runs on FLAT_RING3_*. */
#define SEL_KCODE 0xe008
#define SEL_KDATA 0xe010
#define SEL_TSS   0xe040

/* RFLAGS bits, with Xen's names. */
#define X86_EFLAGS_MBS  0x00000002ULL   /* always 1 */
#define X86_EFLAGS_TF   0x00000100ULL
#define X86_EFLAGS_IF   0x00000200ULL
#define X86_EFLAGS_DF   0x00000400ULL
#define X86_EFLAGS_IOPL 0x00003000ULL
#define X86_EFLAGS_NT   0x00004000ULL
#define X86_EFLAGS_RF   0x00010000ULL
#define X86_EFLAGS_VM   0x00020000ULL
#define X86_EFLAGS_AC   0x00040000ULL

/* Exception vectors, with Xen's names. */
#define X86_EXC_NMI  2
#define X86_EXC_BP   3
#define X86_EXC_OF   4
#define X86_EXC_UD   6
#define X86_EXC_DF   8
#define X86_EXC_TS  10
#define X86_EXC_NP  11
#define X86_EXC_SS  12
#define X86_EXC_GP  13
#define X86_EXC_PF  14
#define X86_EXC_AC  17
#define X86_EXC_MC  18
#define X86_EXC_NUM 32   /* vectors the CPU reserves for exceptions */
#define HV_NR_EXC   22   /* vectors 0 (#DE) to 21 (#CP) have an IDT entry: entry.S's exc_table */

/* MSRs, with Xen's names. */
#define MSR_STAR         0xc0000081U
#define MSR_LSTAR        0xc0000082U
#define MSR_CSTAR        0xc0000083U
#define MSR_SYSCALL_MASK 0xc0000084U

#ifndef __ASSEMBLER__
/* What entry.S saves, lowest address first; the last five words are the CPU's iret frame. */
struct regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* The general register numbered n in ModRM/REX order (rax, rcx, rdx, rbx, rsp, ...), in r. */
static inline uint64_t *regs_gpr(struct regs *r, unsigned int n)
{
    uint64_t *const map[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
                                &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15 };
    return map[n & 15];
}

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t read_cr2(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
static inline uint64_t read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* The hypervisor's address of physical address phys (its direct map covers the first 4 GiB). */
static inline void *dm(uint64_t phys) { return (void *)(uintptr_t)(HV_DIRECTMAP + phys); }

/* Little-endian loads from bytes at any alignment (ELF fields, instruction immediates). */
static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* entry.S */
void syscall_entry(void);
void cstar_entry(void);
void timer_entry(void);
void spurious_entry(void);
__attribute__((noreturn)) void enter_guest(struct regs *r);
long hv_guarded(long (*fn)(void *), void *arg);
void hv_guard_fault(void);
extern volatile int guard_armed;
extern void (*const exc_table[HV_NR_EXC])(void);
extern char hv_stack_top[], hv_ist_top[];
/* boot.S and hv.ld */
extern uint64_t boot_pml4[512], boot_pdpt[512];
extern char _bss_end_phys[], _hv_end[];

/* ---- console.c ---- */

/* Program COM1 for 115200 8n1.  Call before any output. */
void serial_init(void);
/* Write s[0..n) to the serial console, waiting for the transmitter; no newline added. */
void hv_write(const char *s, uint64_t n);
/* Did the console's output so far end a line (or is there none)?  Guest text and the hypervisor's alike. */
bool hv_console_at_line_start(void);
/* printf to the serial console; output past 511 bytes is cut. */
__attribute__((format(printf, 1, 2))) void hv_printf(const char *fmt, ...);
/* Stop QEMU: its process exits with (code << 1) | 1.  Does not print anything. */
__attribute__((noreturn)) void qemu_exit(uint8_t code);
/* A hypervisor-side failure: one "pvmmu hv: PANIC:" line, then QEMU exits 5. */
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);
/* Print every core log line (set by the command line's "verbose"), not only warnings and errors. */
extern bool log_verbose;
/* pvm_ops.log: one "(XEN)" line per core message, as log_verbose says. */
void op_log(void *ctx, const struct pvm_log_msg *msg);
/* pvm_ops.bug: the core's BUG_ON, which panics. */
__attribute__((noreturn)) void op_bug(void *ctx, const char *file, unsigned int line, const char *what);

/* ---- refusal.c ---- */

/*
 * Call after an operation the guest asked for (a hypercall, a multicall, an emulated store), once
 * it has its result.  If the core refused something since the previous call (machine.stats.refusals
 * grew, or machine.last holds a record other than the one seen then), print on the console, at the
 * start of a line, "pvmmu hv: <what> refused:" and, indented by four, the account of machine.last
 * that pvmmu prints on the host (explain_refusal_to, wrapped to 100 columns); else print nothing.
 * what is op, or "op (name)" with a name ("a hypercall" and "mmu_update"; "an emulated store" and
 * NULL): its first 47 bytes name a kind of refusal, with the errno and cause.  At most 3 of a kind and 20 in all are
 * printed (every one with "verbose"); all are counted for hv_refusal_report.  A refusal the core
 * does not count (an emulated store) that repeats the previous record exactly, with no counted or
 * successful operation seen between, is taken for the same one.  Changes nothing the core keeps.
 */
void hv_explain_refusal(const char *op, const char *name);
/* At the end of a run (finish): the refusals hv_explain_refusal found, if any: one line, then one per kind. */
void hv_refusal_report(void);
/* Frame mfn's state (type, counts, owner) on the console, as the host's accounts describe a frame. */
void hv_explain_frame(uint64_t mfn);

/* ---- cpu.c ---- */

/* Load the GDT, TSS and IDT, point syscall at entry.S and mask the 8259s.  The hypervisor runs with IF=0. */
void cpu_init(void);

/* ---- traps.c ---- */

/* Every entry from entry.S (a hypercall or an exception, from the guest or from the hypervisor). */
void hv_entry(struct regs *r);
/* Give the guest exception vector (not #PF) with error code error, at r, as if its instruction raised it. */
void inject_exception(struct regs *r, unsigned int vector, uint64_t error);
/*
 * Xen's create_bounce_frame: enter the guest kernel at handler with Xen's
 * PV frame (error code if has_error), switching to kernel mode and stack
 * from user mode; mask_events sets the upcall mask.  With no handler or no
 * room for the frame, reports `what` and ends the run (exit 3).
 */
void bounce_to_guest(struct regs *r, uint64_t handler, bool mask_events, bool has_error, uint64_t error,
                     const char *what);

/* ---- ptwr.c ---- */

/*
 * A write fault on a present page at cr2: if the guest's instruction is a
 * plain mov store the core's ptwr emulation accepts, do it, advance rip and
 * return true.  false: the fault is the guest's (nothing done).
 */
bool pv_ro_page_fault(struct regs *r, uint64_t cr2);

/* ---- emulate.c ---- */

/* The #GP of a privileged instruction at the guest's rip: emulated and skipped (true), or the guest's own (false). */
bool emulate_privileged_op(struct regs *r);
/* The #UD of `ud2; .ascii "xen"; cpuid`: CPUID as Xen's PV policy answers, rip past it (true); false: not that. */
bool emulate_forced_cpuid(struct regs *r);

/* ---- vcpu.c ---- */

/* The one vCPU's PV state (Xen's v->arch.pv). */
struct pv_vcpu_state {
    bool kernel_mode;                 /* TF_kernel_mode */
    struct trap_info trap[256];       /* set_trap_table, by vector (address 0: none) */
    uint64_t callback[8];             /* callback_op, by CALLBACKTYPE_* */
    uint16_t callback_flags[8];       /* CALLBACKF_* */
    uint64_t kernel_ss, kernel_sp;    /* stack_switch: the stack for entries from user mode */
    uint64_t fs_base, gs_base_kernel, gs_base_user;
    unsigned int iopl;                /* PHYSDEVOP_set_iopl: the virtual IOPL, 0-3 */
    bool io_ports;                    /* the domain may reach real I/O ports (dom0) */
    bool cr0_ts;                      /* fpu_taskswitch / clts: the virtual CR0.TS */
    uint64_t cr4;                     /* the CR4 the guest last wrote (its view: emulate.c's guest_cr4) */
    uint64_t vcpu_info_maddr;         /* where its vcpu_info is: shared_info's slot 0, or registered */
    uint64_t dr[8];                   /* set_debugreg: kept, never loaded */
    bool vcpu_info_registered;        /* VCPUOP_register_vcpu_info was done (once only) */
    uint64_t runstate_va;             /* VCPUOP_register_runstate_memory_area */
};
extern struct pv_vcpu_state pv;
/* The vCPU's vcpu_info, through the direct map. */
struct vcpu_info *pv_vcpu_info(void);
/* set_segment_base's SEGBASE_FS, _GS_USER, _GS_KERNEL: remembered, and loaded if it is the current one. */
void pv_set_segment_base(unsigned int which, uint64_t base);
/* Xen's toggle_guest_mode: kernel <-> user (the core switches roots, cr3 follows; gs bases swap). */
void pv_toggle_guest_mode(void);
/* The root (mfn) of the current mode: the kernel's L4, or the user's. */
uint64_t pv_current_root(void);
/* Does domid name the guest's own domain (DOMID_SELF or its id)? */
bool pv_own_domid(uint16_t domid);
/* May the guest use I/O instructions now (its virtual IOPL against its mode's privilege)? */
bool pv_io_allowed(void);
/* HYPERVISOR_set_segment_base: 0 or -EINVAL (a base that is not a guest address, an unknown which). */
long set_segment_base(uint64_t which, uint64_t base);
/* SEGBASE_GS_USER_SEL: load the user's gs selector (null if the CPU refuses it); 0. */
long load_user_gs_selector(uint16_t sel);
/* HYPERVISOR_fpu_taskswitch: set or clear the virtual and real CR0.TS; 0. */
long fpu_taskswitch(bool set);
/* VCPUOP_register_vcpu_info (argument at guest address arg): 0, -EFAULT or -EINVAL. */
long register_vcpu_info(uint64_t arg);

/* ---- descriptor.c ---- */

/* Build the GDT area (Xen's reserved page with a TSS at tss_base) and load it; maps L4 slot 260 in boot_pml4. */
void gdt_init(uint64_t tss_base, uint64_t tss_limit);
/* The L4 entry of the per-domain slot (260), for every L4 the core validates. */
uint64_t gdt_area_l4e(void);
/* HYPERVISOR_set_gdt and HYPERVISOR_update_descriptor: 0 or Xen's errno. */
long set_gdt(uint64_t list, uint64_t entries);
long update_descriptor(uint64_t maddr, uint64_t desc);

/* ---- memory.c ---- */

/* HYPERVISOR_memory_op: 0, a count, or Xen's errno. */
long memory_op(uint64_t cmd, uint64_t arg);
/* The machine's memory map (the loader's), for XENMEM_machine_memory_map. */
void memory_set_host_map(const struct e820entry *map, unsigned int n);

/* ---- events.c ---- */

/* Calibrate the TSC against the PIT and fill a new vCPU's vcpu_time_info (Xen's pvclock). */
void time_init_vcpu(struct vcpu_time_info *t);

/* The rflags the guest always runs with, whatever it asks: interrupts on (they are the hypervisor's). */
#define GUEST_RFLAGS (X86_EFLAGS_MBS | X86_EFLAGS_IF)
/* The machine address of the domain's shared_info page (build.c sets it). */
extern uint64_t shared_info_maddr;
/* System time in ns (what the guest's pvclock reads). */
uint64_t system_time(void);
/* The guest's wallclock in shared_info, from the CMOS clock. */
void wallclock_init(struct shared_info *sh);
/* Make the event bound to virq pending (if bound). */
void send_virq(unsigned int virq);
/* On the way back to the guest: an upcall to its event callback if an event is pending and unmasked. */
void deliver_events(struct regs *r);
/* The local APIC timer's interrupt; and the start of the guest's default periodic timer. */
void timer_interrupt(void);
void timer_start(void);
/* Timers: VCPUOP_set_singleshot_timer (argument at arg), VCPUOP_stop_*, set_timer_op.  0 or Xen's errno. */
long timer_set_singleshot(uint64_t arg);
long timer_stop(bool periodic);
long timer_set(uint64_t deadline);
/* SCHEDOP_block: wait for an event; 0. */
long sched_block(void);
/* SCHEDOP_shutdown: the guest's end, with Xen's reason; ends the run. */
__attribute__((noreturn)) void guest_shutdown(uint32_t reason);
/* HYPERVISOR_event_channel_op. */
long event_channel_op(uint64_t cmd, uint64_t arg);

/* ---- hypercall.c ---- */

/* Serve the hypercall in r (number in rax, arguments in rdi rsi rdx r10 r8 r9); the result goes to rax. */
void do_hypercall(struct regs *r);
/* How long a guest may make no hypercall, or block with nothing to wake it, before the run ends. */
#define STUCK_NS 30000000000ULL
/* System time (ns) of the guest's last hypercall: traps.c ends a run that makes none for long. */
extern uint64_t last_hypercall_ns;
/* pvm_ops.hypercall: every hypercall the core does not model (also as a multicall entry). */
long op_hypercall(void *ctx, struct pvm_vcpu *v, unsigned long op, const xen_ulong_t a[6]);
/* Hypercalls made, by number (the last slot counts every number past it), and those that failed. */
#define NR_COUNTED_HYPERCALLS 50   /* up to Xen's arch_0 (mca) and arch_1 */
extern unsigned long hypercall_count[NR_COUNTED_HYPERCALLS + 1];
/* Print the hypercalls asked for, by name, and every distinct refusal (hypercall, sub-command, errno). */
void hypercall_report(void);
/* A Linux boot's phases, split where the recording Xen splits them (console marks), and their counters. */
#define NR_PHASES 3
struct phase_counts {
    struct pvm_stats st;
    unsigned long hypercalls, pf_kernel, pf_user;
};
/* #PF bounced to the guest, from kernel mode [0] and from user mode [1]. */
extern unsigned long bounced_pf[2];
/* The phase the boot is in: 0 before Linux's "Memory:" line, 1 before "Run /init", 2 after. */
unsigned int hv_phase(void);
/* Print one "hv phase" line of counters per phase the boot reached. */
void phase_report(void);

/* ---- guest_access.c ---- */

/* Is [va, va + n) guest memory (canonical, no wrap, outside the hypervisor's L4 slots)?  n == 0 checks va alone. */
bool guest_range_ok(uint64_t va, uint64_t n);
/* Copy n bytes from the guest's virtual memory (current tables): 0, or -XEN_EFAULT. */
long copy_from_guest(void *dst, uint64_t gva, uint64_t n);
/* Copy n bytes to the guest's virtual memory: 0, or -XEN_EFAULT. */
long copy_to_guest(uint64_t gva, const void *src, uint64_t n);
/* pvm_ops.copy_from_guest / copy_to_guest: the above, 0 or -1. */
int op_copy_from_guest(void *ctx, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t len);
int op_copy_to_guest(void *ctx, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t len);

/* ---- mm.c ---- */

/* Start the page allocator on physical memory [start, end). */
void alloc_init(uint64_t start, uint64_t end);
/* n zeroed pages, aligned to align (a power of two): their physical address.  Panics when memory runs out. */
uint64_t alloc_pages(uint64_t n, uint64_t align);
/* What the allocator has left, in bytes. */
uint64_t alloc_free_bytes(void);
/* The same, ending at or below address `below` (0: anywhere), or 0 when none is left (the guest gets -ENOMEM). */
uint64_t alloc_pages_try(uint64_t n, uint64_t align, uint64_t below);
/*
 * Allocate the frame table for nr_frames frames and Xen's M2P (all invalid),
 * mapped read-only for the guest in 2 MiB pages behind L4 slot 256; returns
 * the frame table.  Call once, after alloc_init.
 */
struct page_info *mm_init(uint64_t nr_frames);
/* Xen's M2P: the gpfn of frame mfn (mfn < nr_frames), and setting it. */
uint64_t get_gpfn_from_mfn(uint64_t mfn);
void set_gpfn_from_mfn(uint64_t mfn, uint64_t gpfn);
/* pvm_ops.map: a frame's contents through the direct map (always storage). */
uint64_t *op_map(void *ctx, uint64_t mfn, int write);
/* pvm_ops.m2p_get / m2p_set: the M2P above. */
uint64_t op_m2p_get(void *ctx, uint64_t mfn);
void op_m2p_set(void *ctx, uint64_t mfn, uint64_t gpfn);
/* pvm_ops.xen_l4e: the hypervisor's own L4 entries (256: the M2P, read-only; 262: the direct map). */
uint64_t op_xen_l4e(void *ctx, unsigned int slot);
/* pvm_ops.tlb_flush: the core flushed, so does the CPU (invlpg, or a cr3 reload for all). */
void op_tlb_flush(void *ctx, const struct pvm_vcpu *v, uint64_t va, bool all);

/* ---- elf.c ---- */

/* A loadable or note program header. */
struct elf_phdr {
    uint32_t type;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};
/* What a number note that is absent reads as. */
#define ELF_UNSET (~0ULL)
/* A PV kernel's ELF image and what its Xen notes say (ELF_UNSET where a note is absent). */
struct elf_image {
    const uint8_t *data;
    uint64_t len, phoff, phnum, phent;
    uint64_t entry, hypercall_page, virt_base, paddr_offset, init_p2m, hv_start_low;
    bool mod_start_pfn;             /* MOD_START_PFN: the initrd is given as a pfn, not mapped */
    bool pae_extcr3;                /* PAE_MODE "yes": extended cr3 (Xen sets VMASST pae_extended_cr3) */
    uint32_t f_supported, f_required;   /* FEATURES (and SUPPORTED_FEATURES) bits; '!' marks required ones */
    uint64_t notes;                 /* bit n: a note of type n was there */
    uint64_t kstart, kend;          /* the image's virtual extent, segments placed by physical address */
};
/*
 * Read the ELF64 header, program headers and Xen notes of data[0..len) and
 * place the image (kstart, kend).  Panics with one line naming what is wrong
 * (a bzImage is named as such).
 */
void elf_parse(const uint8_t *data, uint64_t len, struct elf_image *e);
/* Program header i of e (inside the file: elf_parse checked). */
struct elf_phdr elf_phdr(const struct elf_image *e, uint64_t i);
/* Hand each loadable segment's file bytes to copy(virtual address, bytes, length), placed as Xen places them. */
void elf_load(const struct elf_image *e, void (*copy)(uint64_t va, const uint8_t *src, uint64_t n));
/* The FEATURES name of XENFEAT bit ("writable_page_tables"), "?" for one without a name. */
const char *elf_feature_name(unsigned int bit);

/* ---- build.c ---- */

/* Where the built domain's kernel starts: rip, rsp and rsi (start_info), as Xen's PV builder leaves them. */
struct domain_start {
    uint64_t entry, stack, start_info;
};
/*
 * Build the one domain from the ELF kernel elf[0..elf_len) and its initrd
 * (may be NULL), with mem_mib MiB, the kernel command line cmdline and the
 * pvm_domain_create flags; pins and sets its L4 and sets vcpu.  Panics on a
 * malformed kernel, a domain that does not fit, or a kernel that requires a
 * feature hv_features lacks (unless anyway).
 */
void build_domain(const uint8_t *elf, uint64_t elf_len, const uint8_t *initrd, uint64_t initrd_len,
                  const char *cmdline, uint64_t mem_mib, unsigned int flags, bool anyway, struct domain_start *start);
/* The features this hypervisor was told to withhold (withhold=NAME), by XENFEAT bit. */
extern uint32_t hv_withheld;
/* What XENVER_get_features answers for the domain, as Xen 4.17 for a 64-bit PV domain, less the withheld. */
uint32_t hv_xenver_features(void);
/* What a domain with these pvm_domain_create flags may count on: those, and writable_page_tables (ptwr, by
 * vm_assist), less the withheld. */
uint32_t hv_given_features(unsigned int flags);

/* ---- hv.c ---- */

/* The machine the core runs, and the one vCPU of the one domain (set by build_domain). */
extern struct pvm_machine machine;
extern struct pvm_vcpu *vcpu;
/* multiboot's entry point, from boot.S in long mode: the whole run.  Does not return. */
void hv_main(uint32_t magic, uint32_t mbi_phys);
/* With audit=each: the auditor now, after the operation named by after; issues end the run as panic's do. */
void audit_after(const char *after);
/* The counters printed at the end count from this call on (the kernel's xen_version mark). */
void stats_mark(void);
/*
 * End the run: print the counters since the mark (or since the build), the
 * refusals hv_explain_refusal counted, the core's last refusal and the
 * auditor's verdict, then qemu_exit(code), or 1 for the kernel's success (16)
 * if the auditor found issues.
 */
__attribute__((noreturn)) void finish(uint8_t code);

#endif /* __ASSEMBLER__ */
#endif
