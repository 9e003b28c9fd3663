/*
 * hv.c - pvmmu as a real hypervisor: a multiboot kernel for QEMU that owns
 * the machine, builds one PV domain from the ELF module it is given (our PV
 * kernel, the same one real Xen boots, or Debian's stock Linux as dom0),
 * runs it in ring 3 on page tables the CPU walks for real, and serves its
 * hypercalls with the unchanged core/.  This file holds the start of day
 * (multiboot, the command line, the core on real memory), the auditor, and
 * the end of a run; hv.h lists the others.
 *
 * Of Xen's PV ABI it implements what those kernels use: the PV MMU calls
 * (straight to the core), descriptor tables (through the core's seg_desc
 * type), the vCPU's traps, callbacks, stacks and segment bases, iret,
 * time, timers and 2-level event channels, memory_op, console_io and the
 * rest in hypercall.c; privileged instructions and forced CPUID are
 * emulated (emulate.c), a store into a read-only L1 is emulated by the core
 * (ptwr.c), and other faults are bounced to the guest's handler with Xen's
 * frame.  Every refusal of the core is explained on the console
 * (refusal.c).  The guest's write to QEMU's exit port, or its shutdown
 * (SCHEDOP_shutdown), ends the run after the hypervisor prints its counters
 * and runs the auditor.
 *
 * Command line (multiboot): mem=MiB (the domain's memory, default 128),
 * privileged (the domain is the control and hardware domain, as Xen's
 * dom0), verbose (print every core log line, and explain every refusal),
 * audit=each (the auditor after every PV MMU hypercall and emulated store,
 * not only at the end), audit=to-memory (the same until Linux prints its
 * "Memory:" line), linear_pt=off (Xen's pv-linear-pt=false),
 * withhold=FEATURE (writable_page_tables, ...: not offered, to watch a
 * kernel that needs it), boot_anyway (boot a kernel that requires a
 * withheld feature).  A second module is the kernel's initrd.
 * Freestanding; one CPU; the guest runs with interrupts on (the local
 * APIC timer), the hypervisor with them off.
 */
#include "hv.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002U
#define MULTIBOOT_INFO_MEMORY      0x1U   /* mem_lower, mem_upper */
#define MULTIBOOT_INFO_CMDLINE     0x4U
#define MULTIBOOT_INFO_MODS        0x8U
#define DEFAULT_MEM_MIB            128
#define DIRECT_MAP_BYTES           (4ULL << 30)   /* what boot.S's direct map covers */

/* The start of the multiboot information structure, and one module entry. */
struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr, syms[4];
    uint32_t mmap_length, mmap_addr;
};
#define MULTIBOOT_INFO_MEM_MAP 0x40U
struct multiboot_mod {
    uint32_t mod_start, mod_end, string, reserved;
};

struct pvm_machine machine;
struct pvm_vcpu *vcpu;

static bool audit_each, audit_to_memory;
static uint8_t *audit_scratch;
static unsigned long audits;
static struct pvm_stats built, mark;   /* counters when the guest starts, and at its xen_version mark */
static bool marked;
/* Where the kernel starts: kept off the stack, which the first register frame overwrites. */
static struct domain_start guest_start;

/* ---- the command line ---- */

/* What the command line asks for (every word checked: an unknown one stops the run). */
struct options {
    uint64_t mem_mib;
    bool verbose, privileged, linear_pt_off, boot_anyway;
};

#define KNOWN_OPTIONS "mem=MiB, privileged, verbose, audit=each, audit=to-memory, linear_pt=off, " \
                      "withhold=FEATURE, boot_anyway"

/* Is the word w[0..n) exactly lit? */
static bool word_eq(const char *w, unsigned int n, const char *lit)
{
    unsigned int i = 0;
    while (i < n && lit[i] && w[i] == lit[i])
        i++;
    return i == n && !lit[i];
}

/* Does w[0..n) start with prefix p?  Returns the prefix's length, or 0. */
static unsigned int word_prefix(const char *w, unsigned int n, const char *p)
{
    unsigned int i = 0;
    while (p[i] && i < n && w[i] == p[i])
        i++;
    return p[i] ? 0 : i;
}

/* Copy the word w[0..n) into buf (cut to fit) for a message. */
static const char *word_str(const char *w, unsigned int n, char *buf, unsigned int size)
{
    unsigned int i = 0;
    for (; i < n && i + 1 < size; i++)
        buf[i] = w[i];
    buf[i] = 0;
    return buf;
}

/* withhold=NAME: take feature NAME (a FEATURES note's spelling) out of what the domain is given. */
static void withhold(const char *w, unsigned int n)
{
    for (unsigned int bit = 0; bit < 32; bit++) {
        const char *name = elf_feature_name(bit);
        if (name[0] != '?' && word_eq(w, n, name)) {
            hv_withheld |= 1u << bit;
            return;
        }
    }
    char buf[64];
    panic("withhold=%s: no such feature (writable_page_tables, writable_descriptor_tables, "
          "auto_translated_physmap, supervisor_mode_kernel, pae_pgdir_above_4gb, hvm_callback_vector, dom0)",
          word_str(w, n, buf, sizeof(buf)));
}

/* mem=MiB: a decimal number of MiB, 1 or more. */
static uint64_t mem_value(const char *w, unsigned int n)
{
    uint64_t v = 0;
    for (unsigned int i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9' || v > (1ULL << 40)) {
            char buf[64];
            panic("mem=%s: expected a number of MiB", word_str(w, n, buf, sizeof(buf)));
        }
        v = v * 10 + (uint64_t)(w[i] - '0');
    }
    if (!v)
        panic("mem= needs a number of MiB, 1 or more");
    return v;
}

/* Read the hypervisor's command line (its first word is the image's name): every word must be known. */
static struct options parse_options(const char *s)
{
    struct options o = { .mem_mib = DEFAULT_MEM_MIB };
    bool first = true;
    while (*s) {
        while (*s == ' ')
            s++;
        unsigned int n = 0;
        while (s[n] && s[n] != ' ')
            n++;
        if (!n)
            break;
        unsigned int k;
        if (first)
            first = false;   /* the image's own name, as the loader passes it */
        else if ((k = word_prefix(s, n, "mem=")))
            o.mem_mib = mem_value(s + k, n - k);
        else if ((k = word_prefix(s, n, "withhold=")))
            withhold(s + k, n - k);
        else if (word_eq(s, n, "verbose"))
            o.verbose = true;
        else if (word_eq(s, n, "privileged"))
            o.privileged = true;
        else if (word_eq(s, n, "audit=each"))
            audit_each = true;
        else if (word_eq(s, n, "audit=to-memory"))
            audit_to_memory = true;
        else if (word_eq(s, n, "linear_pt=off"))
            o.linear_pt_off = true;
        else if (word_eq(s, n, "boot_anyway"))
            o.boot_anyway = true;
        else {
            char buf[64];
            panic("unknown option '%s' on the command line (known: " KNOWN_OPTIONS ")",
                  word_str(s, n, buf, sizeof(buf)));
        }
        s += n;
    }
    return o;
}

/* A module's string is "FILE ARGS": the kernel's command line is ARGS. */
static const char *kernel_args(const char *s)
{
    while (*s && *s != ' ')
        s++;
    while (*s == ' ')
        s++;
    return s;
}

/* ---- the auditor and the end of a run ---- */

/* pvm_audit's sink: print the first five issues, count them all in *ctx. */
static void audit_issue(void *ctx, const struct pvm_audit_issue *is)
{
    unsigned long *n = ctx;
    if ((*n)++ < 5)
        hv_printf("hv audit: %s\n", is->text);
}

void audit_after(const char *after)
{
    if (!audit_each && !(audit_to_memory && hv_phase() == 0))
        return;
    unsigned long issues = 0;
    audits++;
    pvm_audit(&machine, audit_scratch, audit_issue, &issues);
    if (issues) {
        hv_printf("hv audit FOUND ISSUES after %s (audit %lu)\n", after, audits);
        qemu_exit(2);
    }
}

void stats_mark(void)
{
    if (marked)
        return;
    mark = machine.stats;
    marked = true;
}

/* The "hv stats" line: every counter since the mark (or since the build), as the simulator's JSON names them. */
static void print_stats(void)
{
    const struct pvm_stats *base = marked ? &mark : &built;
    struct pvm_stats d;
    pvm_stats_since(&d, &machine.stats, base);
    hv_printf("hv stats hypercalls=%llu mmu_update=%llu mmuext_op=%llu update_va_mapping=%llu multicall=%llu "
              "vm_assist=%llu mmu_update_reqs=%llu mmuext_ops=%llu entries_validated=%llu promotions=%llu,%llu,%llu,%llu "
              "pins=%llu ptwr_emulations=%llu tlb_flushes=%llu\n",
              (unsigned long long)pvm_stats_hypercalls(&d), (unsigned long long)d.hc_mmu_update,
              (unsigned long long)d.hc_mmuext_op, (unsigned long long)d.hc_update_va_mapping,
              (unsigned long long)d.hc_multicall, (unsigned long long)d.hc_vm_assist,
              (unsigned long long)d.mmu_update_reqs, (unsigned long long)d.mmuext_ops,
              (unsigned long long)d.entries_validated, (unsigned long long)d.promotions[1],
              (unsigned long long)d.promotions[2], (unsigned long long)d.promotions[3],
              (unsigned long long)d.promotions[4], (unsigned long long)d.pins, (unsigned long long)d.ptwr_emulations,
              (unsigned long long)d.tlb_flushes);
}

void finish(uint8_t code)
{
    print_stats();
    hypercall_report();
    phase_report();
    hv_refusal_report();
    if (machine.last_set) {
        const struct pvm_refusal *f = &machine.last;
        hv_printf("hv refusal rc=%d why=%s pfn=%#llx level=%u slot=%u\n", f->rc, pvm_why_name(f->why),
                  (unsigned long long)(f->mfn < machine.nr_frames ? get_gpfn_from_mfn(f->mfn) : ~0ULL), f->level,
                  f->slot);
    }
    unsigned long issues = 0;
    pvm_audit(&machine, audit_scratch, audit_issue, &issues);
    if (audits)
        hv_printf("hv auditor ran after each of %lu operations%s: clean\n", audits,
                  audit_to_memory && !audit_each ? " (every PV MMU operation and emulated store to Linux's "
                                                   "'Memory:' line)" : "");
    hv_printf("hv audit %s (%lu issues)\n", issues ? "FOUND ISSUES" : "clean", issues);
    qemu_exit(issues && code == 16 ? 1 : code);
}

/* ---- start of day ---- */

/* The loader's memory map (multiboot mmap entries: size, addr, len, type) as e820 entries, for memory_op. */
static void host_memory_map(const struct multiboot_info *mbi)
{
    struct e820entry map[64];
    unsigned int n = 0;
    if (!(mbi->flags & MULTIBOOT_INFO_MEM_MAP))
        return;
    for (uint64_t at = mbi->mmap_addr; at + 24 <= (uint64_t)mbi->mmap_addr + mbi->mmap_length && n < 64;) {
        const uint8_t *e = dm(at);
        map[n++] = (struct e820entry){ rd64(e + 4), rd64(e + 12), rd32(e + 20) };
        at += rd32(e) + 4;
    }
    memory_set_host_map(map, n);
}

/*
 * Set up the core on RAM [0, ram_end): the allocator after the hypervisor
 * and every module, the frame table and M2P (mm.c), pvm_init with this
 * platform's callbacks, and the auditor's scratch space.
 */
static void core_init(const struct multiboot_info *mbi, const struct multiboot_mod *mod, uint64_t ram_end)
{
    uint64_t free_start = (uint64_t)(uintptr_t)_bss_end_phys;
    for (uint32_t i = 0; i < mbi->mods_count; i++)
        if (mod[i].mod_end > free_start)
            free_start = mod[i].mod_end;
    alloc_init(free_start, ram_end);
    uint64_t nr_frames = ram_end >> XEN_PAGE_SHIFT;
    struct page_info *frames = mm_init(nr_frames);
    const struct pvm_ops ops = { .map = op_map, .log = op_log, .m2p_get = op_m2p_get, .m2p_set = op_m2p_set,
                                 .xen_l4e = op_xen_l4e, .tlb_flush = op_tlb_flush,
                                 .bug = op_bug, .copy_from_guest = op_copy_from_guest,
                                 .copy_to_guest = op_copy_to_guest, .hypercall = op_hypercall };
    pvm_init(&machine, frames, nr_frames, &ops);
    for (uint64_t mfn = 0; mfn < 0x100; mfn++)   /* as Xen: the first MiB (BIOS, VGA, ROMs) is I/O */
        pvm_mark_io(&machine, mfn);
    audit_scratch = dm(alloc_pages((pvm_audit_scratch_bytes(&machine) + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE + 1,
                                   XEN_PAGE_SIZE));
}

/* Enter the kernel at guest_start in ring 3 on its own L4, from a register frame at the top of the stack. */
__attribute__((noreturn)) static void start_guest(void)
{
    struct regs *r = (struct regs *)(uintptr_t)((uint64_t)(uintptr_t)hv_stack_top - sizeof(struct regs));
    for (unsigned int i = 0; i < sizeof(*r) / 8; i++)
        ((uint64_t *)r)[i] = 0;
    r->rip = guest_start.entry;
    r->rsp = guest_start.stack;
    r->rsi = guest_start.start_info;
    r->cs = FLAT_KERNEL_CS64;
    r->ss = FLAT_KERNEL_SS64;
    r->rflags = GUEST_RFLAGS;
    write_cr3(vcpu->guest_table << XEN_PAGE_SHIFT);
    timer_start();
    enter_guest(r);
}

void hv_main(uint32_t magic, uint32_t mbi_phys)
{
    serial_init();
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        panic("not started by a multiboot loader (magic %#x)", magic);
    const struct multiboot_info *mbi = dm(mbi_phys);
    const char *cmdline = mbi->flags & MULTIBOOT_INFO_CMDLINE ? dm(mbi->cmdline) : "";
    struct options opt = parse_options(cmdline);
    log_verbose = opt.verbose;
    uint64_t mem_mib = opt.mem_mib;
    if (!(mbi->flags & MULTIBOOT_INFO_MEMORY) || !(mbi->flags & MULTIBOOT_INFO_MODS) || mbi->mods_count < 1)
        panic("no memory size or no kernel module from the loader");
    const struct multiboot_mod *mod = dm(mbi->mods_addr);
    uint64_t ram_end = (1024ULL + mbi->mem_upper) * 1024;   /* mem_upper: KiB above 1 MiB */
    if (ram_end > DIRECT_MAP_BYTES)
        panic("more than 4 GiB of RAM: the direct map covers 4 GiB");
    cpu_init();
    hv_printf("pvmmu hv: %llu MiB of RAM, command line '%s', kernel module %u bytes: '%s'\n",
              (unsigned long long)(ram_end >> 20), cmdline, mod[0].mod_end - mod[0].mod_start,
              (const char *)dm(mod[0].string));
    core_init(mbi, mod, ram_end);
    host_memory_map(mbi);
    if (opt.linear_pt_off)
        machine.opt_pv_linear_pt = false;   /* Xen's pv-linear-pt=false */
    const struct multiboot_mod *initrd = mbi->mods_count >= 2 ? &mod[1] : NULL;
    build_domain(dm(mod[0].mod_start), mod[0].mod_end - mod[0].mod_start, initrd ? dm(initrd->mod_start) : NULL,
                 initrd ? initrd->mod_end - initrd->mod_start : 0, kernel_args(dm(mod[0].string)), mem_mib,
                 opt.privileged ? PVM_DOM_PRIVILEGED : 0, opt.boot_anyway,
                 &guest_start);
    built = machine.stats;
    start_guest();
}
