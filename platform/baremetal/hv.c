/*
 * hv.c - pvmmu as a real hypervisor: a multiboot kernel for QEMU that owns
 * the machine, builds one PV domain from the ELF module it is given (our PV
 * kernel, the same one real Xen boots), runs it in ring 3 on page tables the
 * CPU walks for real, and serves its hypercalls with the unchanged core/.
 *
 * What it implements of Xen's PV ABI is what that kernel uses: the
 * hypercall page (syscall stubs), set_trap_table, console_io, xen_version,
 * physdev_op(set_iopl), and the PV MMU calls, which go straight to
 * pvm_hypercall.  A store into a read-only L1 table faults for real and is
 * emulated (ptwr); any other guest fault is bounced to the guest's handler
 * with Xen's frame, or reported.  The guest's `out` to QEMU's exit port
 * faults (ring 3, IOPL 0) and is done here, after the hypervisor prints its
 * own counters and runs the auditor.
 *
 * Command line (multiboot): mem=MiB (the domain's memory, default 128),
 * verbose (print every core log line), audit=each (the auditor after every
 * hypercall and emulated store, not only at the end), privileged (the domain
 * is the control and hardware domain, as Xen's dom0), linear_pt=off (Xen's
 * pv-linear-pt=false).  A second module is the kernel's initrd.  Freestanding; one CPU, no interrupts.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "fmt.h"
#include "hv.h"
#include "pvbuild.h"
#include "pvmmu/pvmmu.h"
#include "pvmmu/xen.h"

#define PAGE        4096ULL
#define DOMID       1          /* the simulator's domain id, so both report alike */
#define M2P_SLOT    256        /* Xen's read-only M2P at HYPERVISOR_VIRT_START */
#define DIRECT_SLOT 262

static void *dm(uint64_t phys) { return (void *)(uintptr_t)(HV_DIRECTMAP + phys); }

/* ---- console and exit ---- */

static void serial_init(void)
{
    outb(0x3f9, 0);
    outb(0x3fb, 0x80);
    outb(0x3f8, 1);          /* 115200 baud */
    outb(0x3f9, 0);
    outb(0x3fb, 3);          /* 8n1 */
    outb(0x3fa, 0xc7);
    outb(0x3fc, 3);
}

static void hv_write(const char *s, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        while (!(inb(0x3fd) & 0x20))
            ;
        outb(0x3f8, (uint8_t)s[i]);
    }
}

__attribute__((format(printf, 1, 2))) static void hv_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hv_write(buf, n < (int)sizeof(buf) ? (uint64_t)n : sizeof(buf) - 1);
}

/* QEMU's isa-debug-exit: the process exits with (code << 1) | 1. */
__attribute__((noreturn)) static void qemu_exit(uint8_t code)
{
    outb(0xf4, code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* A hypervisor-side failure: QEMU exits 5, which no guest outcome uses. */
__attribute__((noreturn, format(printf, 1, 2))) static void panic(const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hv_printf("pvmmu hv: PANIC: %s\n", buf);
    qemu_exit(2);
}

/* The core's BUG_ON: one line, and the run ends as a hypervisor failure. */
__attribute__((noreturn)) static void op_bug(void *ctx, const char *file, unsigned int line, const char *what)
{
    (void)ctx;
    panic("core BUG at %s:%u: %s", file, line, what);
}

/* ---- CPU: GDT, TSS, IDT, syscall ---- */

static struct __attribute__((packed)) {
    uint32_t reserved0;
    uint64_t rsp0, rsp1, rsp2, reserved1, ist[7], reserved2;
    uint16_t reserved3, iomap;
} tss;
static uint64_t gdt[8] __attribute__((aligned(16)));
static uint64_t idt[2 * 256] __attribute__((aligned(16)));

static void cpu_init(void)
{
    gdt[1] = 0x00209A0000000000ULL;   /* 0x08 kernel code64 */
    gdt[2] = 0x0000920000000000ULL;   /* 0x10 kernel data */
    gdt[3] = 0x00CFFA000000FFFFULL;   /* 0x18 user code32 (sysret's base, unused) */
    gdt[4] = 0x0000F20000000000ULL;   /* 0x20 user data */
    gdt[5] = 0x0020FA0000000000ULL;   /* 0x28 user code64 */
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;
    tss.rsp0 = (uint64_t)(uintptr_t)hv_stack_top;
    tss.ist[0] = (uint64_t)(uintptr_t)hv_ist_top;
    tss.iomap = sizeof(tss);          /* no I/O bitmap: every port faults from ring 3 */
    gdt[6] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ULL << 40) | (((limit >> 16) & 0xF) << 48) |
             (((base >> 24) & 0xFF) << 56);
    gdt[7] = base >> 32;
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0\n"
                     "pushq $0x08\n"
                     "movabs $1f, %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1: mov $0x10, %%eax\n"
                     "mov %%eax, %%ds\n mov %%eax, %%es\n mov %%eax, %%ss\n"
                     "mov $0x30, %%eax\n ltr %%ax\n"
                     : : "m"(gdtr) : "rax", "memory");
    for (unsigned int v = 0; v < 22; v++) {
        uint64_t h = (uint64_t)(uintptr_t)exc_table[v];
        uint64_t ist = v == 2 || v == 8 || v == 18 ? 1 : 0;   /* NMI, #DF, #MC on their own stack */
        idt[2 * v] = (h & 0xFFFF) | ((uint64_t)SEL_KCODE << 16) | (ist << 32) | (0x8EULL << 40) |
                     (((h >> 16) & 0xFFFF) << 48);
        idt[2 * v + 1] = h >> 32;
    }
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
    wrmsr(0xC0000081, (0x18ULL << 48) | ((uint64_t)SEL_KCODE << 32));   /* STAR */
    wrmsr(0xC0000082, (uint64_t)(uintptr_t)syscall_entry);             /* LSTAR */
    wrmsr(0xC0000084, 0x47700);       /* FMASK: TF IF DF IOPL NT AC */
    outb(0x21, 0xff);                 /* the BIOS's 8259s: all masked; we run with IF=0 */
    outb(0xa1, 0xff);
}

/* ---- memory ---- */

static uint64_t alloc_next, alloc_end;   /* physical, page-aligned bump allocator */

static uint64_t alloc_pages(uint64_t n, uint64_t align)
{
    uint64_t p = (alloc_next + align - 1) & ~(align - 1);
    if (p + n * PAGE > alloc_end || p + n * PAGE < p)
        panic("out of memory for the hypervisor (%llu pages)", (unsigned long long)n);
    alloc_next = p + n * PAGE;
    uint64_t *q = dm(p);
    for (uint64_t i = 0; i < n * 512; i++)
        q[i] = 0;
    return p;
}

/* ---- the core, on real memory ---- */

static struct pvm_machine machine;
static struct pvm_vcpu *vcpu;
static uint64_t *m2p;                     /* Xen's M2P, also mapped read-only for the guest */
static uint64_t m2p_l3, direct_l3;        /* tables behind the hypervisor's own L4 slots */
static bool verbose, audit_each;
static void audit_now(const char *after);

static uint64_t *op_map(void *ctx, uint64_t mfn, int write)
{
    (void)ctx;
    (void)write;
    return dm(mfn << 12);
}
static uint64_t op_m2p_get(void *ctx, uint64_t mfn) { (void)ctx; return m2p[mfn]; }
static void op_m2p_set(void *ctx, uint64_t mfn, uint64_t gpfn) { (void)ctx; m2p[mfn] = gpfn; }
static uint64_t op_xen_l4e(void *ctx, unsigned int slot)
{
    (void)ctx;
    if (slot == M2P_SLOT)
        return m2p_l3 | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
    if (slot == DIRECT_SLOT)
        return direct_l3 | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    return 0;
}
/* The core flushed: so does the CPU.  One vCPU, always the running one. */
static void op_tlb_flush(void *ctx, const struct pvm_vcpu *v, uint64_t va, bool all)
{
    (void)ctx;
    (void)v;
    if (all)
        write_cr3(read_cr3());
    else
        invlpg(va);
}
static void op_log(void *ctx, const struct pvm_log_msg *msg)
{
    (void)ctx;
    if (verbose || msg->level <= PVM_LOG_WARN)
        hv_printf("(XEN) %s\n", msg->text);
}

/* ---- the domain ---- */

struct elf_info {
    uint64_t entry, hypercall_page, virt_base, image_end;   /* image_end: highest vaddr + memsz */
};

static uint64_t nr_pages, first_mfn, shinfo_mfn;
static uint64_t pfn_to_mfn(uint64_t pfn) { return first_mfn + (pfn ^ 1); }   /* not the identity, as on the simulator */
static uint64_t *guest_page(uint64_t pfn)
{
    if (pfn >= nr_pages)
        panic("the domain builder reached past the domain's %llu pages (pfn %#llx)", (unsigned long long)nr_pages,
              (unsigned long long)pfn);
    return dm(pfn_to_mfn(pfn) << 12);
}
static uint64_t *build_page(void *ctx, uint64_t pfn) { (void)ctx; return guest_page(pfn); }
static uint64_t build_mfn(void *ctx, uint64_t pfn) { (void)ctx; return pfn_to_mfn(pfn); }

static uint64_t rd64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Read the ELF64 header, program headers and Xen's notes of the module at elf[0..len). */
static void elf_parse(const uint8_t *elf, uint64_t len, struct elf_info *e)
{
    if (len < 64 || rd32(elf) != 0x464C457F || elf[4] != 2 || rd16(elf + 18) != 62)
        panic("the module is not an x86-64 ELF kernel");
    uint64_t phoff = rd64(elf + 32), phnum = rd16(elf + 56), phent = rd16(elf + 54);
    if (phent < 56 || phoff > len || phnum * phent > len - phoff)
        panic("the kernel's program headers lie outside it");
    e->entry = rd64(elf + 24);
    e->image_end = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = elf + phoff + i * phent;
        uint32_t type = rd32(ph);
        uint64_t off = rd64(ph + 8), vaddr = rd64(ph + 16), filesz = rd64(ph + 32), memsz = rd64(ph + 40);
        if (off > len || filesz > len - off)
            panic("a kernel segment lies outside the file");
        if (type == 1 && (filesz > memsz || vaddr + memsz < vaddr))
            panic("a kernel segment is larger in the file than in memory, or wraps");
        if (type == 1 && vaddr + memsz > e->image_end)
            e->image_end = vaddr + memsz;
        for (uint64_t n = off; type == 4 && n + 12 <= off + filesz;) {   /* PT_NOTE */
            uint32_t namesz = rd32(elf + n), descsz = rd32(elf + n + 4), ntype = rd32(elf + n + 8);
            uint64_t name = n + 12, desc = name + ((namesz + 3) & ~3u);
            if (desc + descsz > off + filesz)
                break;
            if (namesz == 4 && rd32(elf + name) == 0x006E6558 /* "Xen" */ && descsz == 8) {
                uint64_t v = rd64(elf + desc);
                if (ntype == 1)
                    e->entry = v;
                else if (ntype == 2)
                    e->hypercall_page = v;
                else if (ntype == 3)
                    e->virt_base = v;
            }
            n = desc + ((descsz + 3) & ~3u);
        }
    }
    if (!e->virt_base || !e->hypercall_page || e->image_end <= e->virt_base)
        panic("the kernel has no Xen notes (VIRT_BASE, HYPERCALL_PAGE), or no segment above VIRT_BASE");
    /* As Xen's loader: every segment, the entry point and the hypercall page inside [virt_base, image_end). */
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = elf + phoff + i * phent;
        if (rd32(ph) == 1 && rd64(ph + 16) < e->virt_base)
            panic("a kernel segment lies below VIRT_BASE");
    }
    if (e->entry < e->virt_base || e->entry >= e->image_end || e->hypercall_page < e->virt_base ||
        e->hypercall_page + PAGE > e->image_end || (e->hypercall_page & (PAGE - 1)))
        panic("the kernel's entry point or hypercall page lies outside its image");
}

/* Copy the kernel's PT_LOAD segments into the domain's frames (pfn = (vaddr - virt_base) / 4 KiB). */
static void elf_load(const uint8_t *elf, const struct elf_info *e)
{
    uint64_t phoff = rd64(elf + 32), phnum = rd16(elf + 56), phent = rd16(elf + 54);
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = elf + phoff + i * phent;
        if (rd32(ph) != 1)
            continue;
        uint64_t off = rd64(ph + 8), vaddr = rd64(ph + 16), filesz = rd64(ph + 32);
        for (uint64_t b = 0; b < filesz; b++) {
            uint64_t at = vaddr - e->virt_base + b;
            ((uint8_t *)guest_page(at >> 12))[at & 4095] = elf[off + b];
        }
    }
}

/* Xen's 64-bit PV hypercall page: entry i is push %rcx; push %r11; mov $i,%eax; syscall; pop %r11; pop %rcx; ret. */
static void write_hypercall_page(uint8_t *p)
{
    for (unsigned int i = 0; i < 128; i++) {
        uint8_t *s = p + i * 32;
        const uint8_t stub[14] = { 0x51, 0x41, 0x53, 0xb8, (uint8_t)i, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3 };
        for (unsigned int k = 0; k < 32; k++)
            s[k] = k < sizeof(stub) ? stub[k] : 0xcc;
    }
}

static struct pvm_stats built, mark;   /* counters when the guest starts, and at its xen_version mark */
static bool marked;
static uint64_t guest_rsp0, guest_entry, guest_si;

/*
 * Build the domain as Xen's PV builder (and the simulator's) does: frames,
 * the kernel, the p2m list, start_info, bootstrap tables with every table
 * frame read-only, the hypercall page; then pin and load the L4.
 */
static void build_domain(const uint8_t *elf, uint64_t elf_len, const uint8_t *initrd, uint64_t initrd_len,
                         const char *cmdline, uint64_t mem_mib, unsigned int flags)
{
    struct elf_info e = { 0 };
    elf_parse(elf, elf_len, &e);
    nr_pages = mem_mib << 8;
    /* A second module is the kernel's initrd, right after its image in the initial mapping (as Xen puts it). */
    uint64_t image_pages = (e.image_end - e.virt_base + PAGE - 1) / PAGE, initrd_pages = (initrd_len + PAGE - 1) / PAGE;
    if (image_pages + initrd_pages >= nr_pages / 2 || image_pages + initrd_pages > 512 * 512)
        panic("the kernel and its initrd (%llu pages) do not fit a %llu MiB domain", (unsigned long long)(image_pages +
              initrd_pages), (unsigned long long)mem_mib);
    struct pv_layout l = { .kernel_pages = image_pages + initrd_pages, .nr_pages = nr_pages };
    pv_layout(&l);
    if (l.v_end_pfn > 512 * 512 || l.v_end_pfn >= nr_pages)
        panic("a %llu MiB domain does not fit its initial 1 GiB mapping", (unsigned long long)mem_mib);
    first_mfn = alloc_pages(nr_pages, 2 * 1024 * 1024) >> 12;
    if (pvm_domain_create(&machine, DOMID, 1, flags) || pvm_assign_pages(&machine, first_mfn, nr_pages, DOMID))
        panic("cannot create the domain");
    vcpu = pvm_vcpu(&machine, DOMID, 0);
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        m2p[pfn_to_mfn(pfn)] = pfn;
    shinfo_mfn = alloc_pages(1, PAGE) >> 12;      /* shared_info: the guest's to map (it reads cr2 there) */
    if (pvm_assign_pages(&machine, shinfo_mfn, 1, DOMID))
        panic("cannot give the domain its shared_info page");

    elf_load(elf, &e);
    for (uint64_t b = 0; b < initrd_len; b++)
        ((uint8_t *)guest_page(image_pages + b / PAGE))[b % PAGE] = initrd[b];
    write_hypercall_page((uint8_t *)guest_page((e.hypercall_page - e.virt_base) >> 12));
    uint64_t *p2m = guest_page(l.p2m_pfn);
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++) {
        if (pfn % 512 == 0)
            p2m = guest_page(l.p2m_pfn + pfn / 512);
        p2m[pfn % 512] = pfn_to_mfn(pfn);
    }
    struct start_info *si = (struct start_info *)guest_page(l.si_pfn);
    pv_start_info(si, &l, e.virt_base, 0, shinfo_mfn << 12, cmdline);
    if (initrd_len) {
        si->mod_start = e.virt_base + image_pages * PAGE;
        si->mod_len = initrd_len;
    }
    const struct pv_build_ops bops = { .page = build_page, .mfn = build_mfn };
    pv_bootstrap_tables(&l, e.virt_base, &bops);
    uint64_t l4 = l.pt_pfn;
    struct mmuext_op pin = { .cmd = MMUEXT_PIN_L4_TABLE };
    pin.arg1.mfn = pfn_to_mfn(l4);
    int rc = pvm_mmuext_op(vcpu, &pin, 1, 0, DOMID_SELF);
    if (rc || (rc = pvm_set_guest_table(vcpu, pfn_to_mfn(l4))))
        panic("the core refused the bootstrap page tables (%d)", rc);
    built = machine.stats;
    guest_entry = e.entry;
    guest_si = e.virt_base + l.si_pfn * PAGE;
    guest_rsp0 = e.virt_base + (l.stack_pfn + 1) * PAGE;
    hv_printf("pvmmu hv: domain %u: %llu MiB, kernel %llu pages at %#llx, tables at pfn %llu (%llu frames), "
              "mfn = %#llx + (pfn ^ 1)\n", DOMID, (unsigned long long)mem_mib, (unsigned long long)l.kernel_pages,
              (unsigned long long)e.virt_base, (unsigned long long)l.pt_pfn, (unsigned long long)l.nr_pt,
              (unsigned long long)first_mfn);
}

/* ---- guest memory from the hypervisor: range-checked, with fault recovery ---- */

/*
 * Is [va, va + n) guest memory, as Xen's __addr_ok/guest_handle_okay say:
 * canonical, not wrapping, and outside the hypervisor's range (L4 slots
 * 256-271, which hold its direct map, the M2P and the linear page tables)?
 */
static bool guest_range_ok(uint64_t va, uint64_t n)
{
    const uint64_t user_end = 1ULL << 47, guest_kernel = 0xffff880000000000ULL;
    if (n == 0)
        return va < user_end || va >= guest_kernel;
    uint64_t last = va + n - 1;
    if (last < va)
        return false;
    return last < user_end || va >= guest_kernel;
}

struct copy { volatile uint8_t *dst; const volatile uint8_t *src; uint64_t n; };
static long do_copy(void *arg)
{
    struct copy *c = arg;
    for (uint64_t i = 0; i < c->n; i++)
        c->dst[i] = c->src[i];
    return 0;
}
/* Copy n bytes from the guest's virtual memory (current tables): 0, or -XEN_EFAULT. */
static long copy_from_guest(void *dst, uint64_t gva, uint64_t n)
{
    if (!guest_range_ok(gva, n))
        return -XEN_EFAULT;
    struct copy c = { dst, (const volatile uint8_t *)(uintptr_t)gva, n };
    return hv_guarded(do_copy, &c);
}
/* Copy n bytes to the guest's virtual memory: 0, or -XEN_EFAULT. */
static long copy_to_guest(uint64_t gva, const void *src, uint64_t n)
{
    if (!guest_range_ok(gva, n))
        return -XEN_EFAULT;
    struct copy c = { (volatile uint8_t *)(uintptr_t)gva, src, n };
    return hv_guarded(do_copy, &c);
}

/* ---- hypercalls ---- */

static uint64_t trap_handler[32];
static uint32_t virtual_iopl;

static long set_trap_table(uint64_t list)
{
    for (unsigned int v = 0; v < 32; v++)
        trap_handler[v] = 0;
    for (unsigned int i = 0; list && i < 256; i++) {
        struct { uint8_t vector, flags; uint16_t cs; uint32_t pad; uint64_t address; } t;
        if (copy_from_guest(&t, list + i * 16, sizeof(t)))
            return -XEN_EFAULT;
        if (!t.address)
            break;
        if (t.vector < 32)
            trap_handler[t.vector] = t.address;
    }
    return 0;
}

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

/* XENMEM_decrease_reservation: give back each extent (order 0, our domain); the number done. */
static long decrease_reservation(uint64_t arg)
{
    struct { uint64_t extent_start, nr_extents; uint32_t extent_order, mem_flags; uint16_t domid; } r;
    if (copy_from_guest(&r, arg, sizeof(r)))
        return 0;   /* as Xen: nothing done */
    if (r.extent_order || (r.domid != DOMID_SELF && r.domid != DOMID))
        return -XEN_ENOSYS;
    long done = 0;
    for (uint64_t i = 0; i < r.nr_extents; i++) {
        uint64_t mfn;
        if (copy_from_guest(&mfn, r.extent_start + i * 8, 8))
            break;
        if (pvm_release_page(&machine, DOMID, mfn))
            break;
        done++;
    }
    return done;
}

/*
 * The core's guest handles (arrays, done counts, vCPU masks, multicall
 * lists) reach guest memory only through these: range-checked and with
 * fault recovery, as Xen's copy_from_guest/copy_to_guest.
 */
static int op_copy_from_guest(void *ctx, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t len)
{
    (void)ctx;
    (void)v;
    return copy_from_guest(dst, gaddr, len) ? -1 : 0;
}

static int op_copy_to_guest(void *ctx, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t len)
{
    (void)ctx;
    (void)v;
    return copy_to_guest(gaddr, src, len) ? -1 : 0;
}

static void hypercall(struct regs *r)
{
    struct { unsigned long op; xen_ulong_t args[6]; } c = { r->rax, { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 } };
    long rc;
    switch (c.op) {
    case __HYPERVISOR_set_trap_table:
        rc = set_trap_table(c.args[0]);
        break;
    case __HYPERVISOR_xen_version:   /* the PV kernel calls it just before its boot proper; count from here */
        mark = machine.stats;
        marked = true;
        rc = (4 << 16) | 17;
        break;
    case __HYPERVISOR_console_io:
        rc = console_io(c.args[0], c.args[1], c.args[2]);
        break;
    case __HYPERVISOR_memory_op:   /* only XENMEM_decrease_reservation, of single pages */
        rc = c.args[0] == XENMEM_decrease_reservation ? decrease_reservation(c.args[1]) : -XEN_ENOSYS;
        if (audit_each && c.args[0] == XENMEM_decrease_reservation)
            audit_now("a memory_op");
        break;
    case __HYPERVISOR_physdev_op:   /* only PHYSDEVOP_set_iopl */
        rc = -XEN_ENOSYS;
        if (c.args[0] == PHYSDEVOP_set_iopl)
            rc = copy_from_guest(&virtual_iopl, c.args[1], 4);
        break;
    case __HYPERVISOR_mmu_update: case __HYPERVISOR_multicall: case __HYPERVISOR_update_va_mapping:
    case __HYPERVISOR_vm_assist: case __HYPERVISOR_update_va_mapping_otherdomain: case __HYPERVISOR_mmuext_op:
        rc = pvm_hypercall(vcpu, c.op, c.args);
        if (audit_each)
            audit_now("a hypercall");
        break;
    default:
        rc = -XEN_ENOSYS;
    }
    r->rax = (uint64_t)rc;
}

/* ---- the end of a run: counters, auditor, then QEMU's exit port ---- */

static uint8_t *audit_scratch;

static void audit_issue(void *ctx, const struct pvm_audit_issue *is)
{
    unsigned long *n = ctx;
    if ((*n)++ < 5)
        hv_printf("hv audit: %s\n", is->text);
}

static unsigned long audits;

/* audit=each: the auditor after every operation that reached the core; the first disagreement stops the run. */
static void audit_now(const char *after)
{
    unsigned long issues = 0;
    audits++;
    pvm_audit(&machine, audit_scratch, audit_issue, &issues);
    if (issues) {
        hv_printf("hv audit FOUND ISSUES after %s (audit %lu)\n", after, audits);
        qemu_exit(2);
    }
}

__attribute__((noreturn)) static void finish(uint8_t code)
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
    if (machine.last_set) {
        const struct pvm_refusal *f = &machine.last;
        hv_printf("hv refusal rc=%d why=%s pfn=%#llx level=%u slot=%u\n", f->rc, pvm_why_name(f->why),
                  (unsigned long long)(f->mfn < machine.nr_frames ? m2p[f->mfn] : ~0ULL), f->level, f->slot);
    }
    unsigned long issues = 0;
    pvm_audit(&machine, audit_scratch, audit_issue, &issues);
    if (audits)
        hv_printf("hv auditor ran after each of %lu operations: clean\n", audits);
    hv_printf("hv audit %s (%lu issues)\n", issues ? "FOUND ISSUES" : "clean", issues);
    qemu_exit(issues && code == 16 ? 1 : code);
}

/* ---- guest exceptions ---- */

static uint64_t reg_value(const struct regs *r, unsigned int n)
{
    const uint64_t v[16] = { r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
                             r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15 };
    return v[n & 15];
}

/*
 * Decode the store at the guest's rip (mov r/m,reg or mov r/m,imm; 8 to 64
 * bits): its length, value and size.  0 if it is something else.
 */
static unsigned int decode_store(const struct regs *r, uint64_t *val, unsigned int *bytes)
{
    uint8_t b[16];
    if (copy_from_guest(b, r->rip, sizeof(b)))
        return 0;
    unsigned int i = 0, rex = 0;
    bool op16 = false;
    if (b[i] == 0x66)
        op16 = true, i++;
    if ((b[i] & 0xF0) == 0x40)
        rex = b[i++];
    uint8_t op = b[i++];
    if (op != 0x88 && op != 0x89 && op != 0xC6 && op != 0xC7)
        return 0;
    uint8_t modrm = b[i++];
    unsigned int mod = modrm >> 6, reg = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0), rm = modrm & 7;
    if (mod == 3)
        return 0;
    if (rm == 4) {
        uint8_t sib = b[i++];
        if (mod == 0 && (sib & 7) == 5)
            i += 4;
    } else if (mod == 0 && rm == 5) {
        i += 4;   /* rip-relative */
    }
    i += mod == 1 ? 1 : mod == 2 ? 4 : 0;
    *bytes = op == 0x88 || op == 0xC6 ? 1 : rex & 8 ? 8 : op16 ? 2 : 4;   /* REX.W wins over 0x66 */
    if (op == 0x88 || op == 0x89) {
        *val = op == 0x88 && !rex && reg >= 4 ? reg_value(r, reg - 4) >> 8 : reg_value(r, reg);   /* ah..bh */
    } else if (op == 0xC6) {
        *val = b[i++];
    } else if (*bytes == 2) {
        *val = (uint64_t)(int64_t)(int16_t)(b[i] | b[i + 1] << 8);
        i += 2;
    } else {
        *val = (uint64_t)(int64_t)(int32_t)rd32(b + i);
        i += 4;
    }
    if (*bytes < 8)
        *val &= (1ULL << (*bytes * 8)) - 1;
    return i;
}

struct ptwr_call { uint64_t va, val; unsigned int bytes; };
static long do_ptwr(void *arg)
{
    struct ptwr_call *c = arg;
    return pvm_ptwr_emulate(vcpu, c->va, 0, c->val, c->bytes, false);
}

static const char *const exc_name[22] = { "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "-",
                                          "#TS", "#NP", "#SS", "#GP", "#PF", "-", "#MF", "#AC", "#MC", "#XM",
                                          "#VE", "#CP" };

/* Deliver the exception to the guest's handler with Xen's 64-bit PV frame, or report it and stop. */
static void bounce(struct regs *r, uint64_t cr2)
{
    uint64_t handler = r->vector < 32 ? trap_handler[r->vector] : 0;
    if (handler && !guest_range_ok(handler, 1)) {
        hv_printf("hv: guest %s at rip %#llx, and its handler %#llx is not a guest address\n",
                  r->vector < 22 ? exc_name[r->vector] : "?", (unsigned long long)r->rip, (unsigned long long)handler);
        finish(3);
    }
    if (!handler) {
        hv_printf("hv: guest %s (vector %llu) at rip %#llx, error code %#llx, cr2 %#llx, and no handler for it\n",
                  r->vector < 22 ? exc_name[r->vector] : "?", (unsigned long long)r->vector,
                  (unsigned long long)r->rip, (unsigned long long)r->error, (unsigned long long)cr2);
        finish(3);
    }
    if (r->vector == 14)
        ((volatile uint64_t *)dm(shinfo_mfn << 12))[2] = cr2;   /* vcpu_info[0].arch.cr2 */
    bool err = r->vector == 8 || (r->vector >= 10 && r->vector <= 14) || r->vector == 17;
    uint64_t f[8];
    unsigned int n = 0;
    f[n++] = r->rcx;
    f[n++] = r->r11;
    if (err)
        f[n++] = r->error;
    f[n++] = r->rip;
    f[n++] = r->cs;
    f[n++] = r->rflags;
    f[n++] = r->rsp;
    f[n++] = r->ss;
    uint64_t sp = (r->rsp & ~0xFULL) - n * 8;
    if (copy_to_guest(sp, f, n * 8)) {
        hv_printf("hv: guest %s at rip %#llx, and its stack %#llx cannot take the frame\n", exc_name[r->vector],
                  (unsigned long long)r->rip, (unsigned long long)r->rsp);
        finish(3);
    }
    r->rsp = sp;
    r->rip = handler;
    r->cs = SEL_UCODE;
    r->ss = SEL_UDATA;
    r->rflags &= ~0x74100ULL;   /* TF, NT, RF, VM, AC, as Xen's bounce does */
}

static void guest_exception(struct regs *r)
{
    uint64_t cr2 = r->vector == 14 ? read_cr2() : 0;
    if (r->vector == 14 && (r->error & (PFEC_page_present | PFEC_write_access)) ==
                           (PFEC_page_present | PFEC_write_access)) {
        struct ptwr_call c = { cr2, 0, 0 };
        unsigned int len = decode_store(r, &c.val, &c.bytes);
        if (len && (cr2 & (c.bytes - 1)) == 0 && hv_guarded(do_ptwr, &c) == 0) {
            if (audit_each)
                audit_now("an emulated store");
            r->rip += len;
            return;
        }
    }
    if (r->vector == 13 && virtual_iopl) {
        uint8_t b[2];
        if (!copy_from_guest(b, r->rip, 2) && (b[0] == 0xE6 || b[0] == 0xEE)) {
            uint16_t port = b[0] == 0xE6 ? b[1] : (uint16_t)r->rdx;
            if (port == 0xf4)
                finish((uint8_t)r->rax);
            r->rip += b[0] == 0xE6 ? 2 : 1;   /* any other port: nothing there */
            return;
        }
    }
    bounce(r, cr2);
}

void hv_entry(struct regs *r)
{
    if (r->vector == 2 || r->vector == 8 || r->vector == 18)   /* never the guest's to handle */
        panic("%s at rip %#llx (%s)", exc_name[r->vector], (unsigned long long)r->rip,
              r->cs & 3 ? "in the guest" : "in the hypervisor");
    if (!(r->cs & 3)) {
        if (guard_armed && (r->vector == 14 || r->vector == 13 || r->vector == 12)) {
            r->rip = (uint64_t)(uintptr_t)hv_guard_fault;
            return;
        }
        panic("%s in the hypervisor at rip %#llx, error code %#llx, cr2 %#llx",
              r->vector < 22 ? exc_name[r->vector] : "?", (unsigned long long)r->rip, (unsigned long long)r->error,
              (unsigned long long)read_cr2());
    }
    if (r->vector == SYSCALL_VECTOR)
        hypercall(r);
    else
        guest_exception(r);
    uint64_t root = vcpu->guest_table << 12;
    if (read_cr3() != root)
        write_cr3(root);
    if (!guest_range_ok(r->rip, 1)) {   /* iretq to it would fault in ring 0 */
        hv_printf("hv: the guest would resume at %#llx, which is not a guest address\n", (unsigned long long)r->rip);
        finish(3);
    }
}

/* ---- start of day ---- */

static uint64_t parse_mem(const char *s)
{
    for (; s && *s; s++) {
        if (s[0] == 'm' && s[1] == 'e' && s[2] == 'm' && s[3] == '=') {
            uint64_t v = 0;
            for (s += 4; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (uint64_t)(*s - '0');
            return v;
        }
    }
    return 128;
}

static bool has_word(const char *s, const char *w)
{
    for (; s && *s; s++) {
        unsigned int i = 0;
        while (w[i] && s[i] == w[i])
            i++;
        if (!w[i] && (s[i] == 0 || s[i] == ' '))
            return true;
    }
    return false;
}

void hv_main(uint32_t magic, uint32_t mbi_phys)
{
    serial_init();
    if (magic != 0x2BADB002)
        panic("not started by a multiboot loader (magic %#x)", magic);
    const uint32_t *mbi = dm(mbi_phys);
    const char *cmdline = mbi[0] & 4 ? dm(mbi[4]) : "";
    verbose = has_word(cmdline, "verbose");
    audit_each = has_word(cmdline, "audit=each");
    uint64_t mem_mib = parse_mem(cmdline);
    if (!(mbi[0] & 1) || !(mbi[0] & 8) || mbi[5] < 1)
        panic("no memory size or no kernel module from the loader");
    const uint32_t *mod = dm(mbi[6]);
    uint64_t ram_end = (1024ULL + mbi[2]) * 1024;
    if (ram_end > (4ULL << 30))
        panic("more than 4 GiB of RAM: the direct map covers 4 GiB");
    cpu_init();
    hv_printf("pvmmu hv: %llu MiB of RAM, command line '%s', kernel module %u bytes: '%s'\n",
              (unsigned long long)(ram_end >> 20), cmdline, mod[1] - mod[0], (const char *)dm(mod[2]));

    alloc_next = (uint64_t)(uintptr_t)_bss_end_phys;
    for (uint32_t i = 0; i < mbi[5]; i++)   /* after every module */
        if (mod[4 * i + 1] > alloc_next)
            alloc_next = mod[4 * i + 1];
    alloc_end = ram_end;
    uint64_t nr_frames = ram_end >> 12;
    struct page_info *frames = dm(alloc_pages((nr_frames * sizeof(struct page_info) + PAGE - 1) / PAGE, PAGE));
    /* The M2P, in 2 MiB pages the guest sees read-only at HYPERVISOR_VIRT_START. */
    uint64_t m2p_bytes = (nr_frames * 8 + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
    uint64_t m2p_phys = alloc_pages(m2p_bytes / PAGE, 2ULL << 20);
    m2p = dm(m2p_phys);
    for (uint64_t i = 0; i < nr_frames; i++)
        m2p[i] = PVM_INVALID_M2P;
    m2p_l3 = alloc_pages(1, PAGE);
    uint64_t m2p_l2 = alloc_pages(1, PAGE);
    ((uint64_t *)dm(m2p_l3))[0] = m2p_l2 | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
    for (uint64_t i = 0; i < m2p_bytes >> 21; i++)
        ((uint64_t *)dm(m2p_l2))[i] = (m2p_phys + (i << 21)) | _PAGE_PRESENT | _PAGE_USER | _PAGE_PSE |
                                      _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX;
    direct_l3 = (uint64_t)(uintptr_t)boot_pdpt;

    const struct pvm_ops ops = { .map = op_map, .log = op_log, .m2p_get = op_m2p_get, .m2p_set = op_m2p_set,
                                 .xen_l4e = op_xen_l4e, .tlb_flush = op_tlb_flush,
                                 .bug = op_bug, .copy_from_guest = op_copy_from_guest,
                                 .copy_to_guest = op_copy_to_guest };
    pvm_init(&machine, frames, nr_frames, &ops);
    audit_scratch = dm(alloc_pages((pvm_audit_scratch_bytes(&machine) + PAGE - 1) / PAGE + 1, PAGE));

    /* The module's string is "FILE ARGS": the kernel's command line is ARGS. */
    const char *args = dm(mod[2]);
    while (*args && *args != ' ')
        args++;
    while (*args == ' ')
        args++;
    const uint32_t *mod2 = mbi[5] >= 2 ? mod + 4 : NULL;
    if (has_word(cmdline, "linear_pt=off"))
        machine.opt_pv_linear_pt = false;   /* Xen's pv-linear-pt=false */
    build_domain(dm(mod[0]), mod[1] - mod[0], mod2 ? dm(mod2[0]) : NULL, mod2 ? mod2[1] - mod2[0] : 0, args, mem_mib,
                 has_word(cmdline, "privileged") ? PVM_DOM_PRIVILEGED : 0);

    struct regs *r = (struct regs *)(uintptr_t)((uint64_t)(uintptr_t)hv_stack_top - sizeof(struct regs));
    for (unsigned int i = 0; i < sizeof(*r) / 8; i++)
        ((uint64_t *)r)[i] = 0;
    r->rip = guest_entry;
    r->rsp = guest_rsp0;
    r->rsi = guest_si;
    r->cs = SEL_UCODE;
    r->ss = SEL_UDATA;
    r->rflags = 0x2;
    write_cr3(vcpu->guest_table << 12);
    enter_guest(r);
}
