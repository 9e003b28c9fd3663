/*
 * dom0.c - pvmmu's own 64-bit PV kernel for Debian's real Xen 4.17 under
 * QEMU: the oracle the simulator is checked against.  It boots as dom0 and
 * has two jobs, chosen by its command line:
 *   (none)          run PV MMU steps on pages of its own .bss and print one
 *                   line per step ("step NAME rc=N"), checking each code;
 *   guest=POLICY    run the unchanged guest/ code as this dom0, on Xen's own
 *                   start_info, tables, p2m and M2P, and print its outcome,
 *                   place and counters ("guest POLICY ...").
 * A page fault reaches a trap handler that reports it the same way.  QEMU
 * ends through the isa-debug-exit port: status 33 when everything went as
 * expected, 3 otherwise.  Freestanding; hypercalls through Xen's page.
 */
#include <stdint.h>

#include "fmt.h"
#include "guest.h"
#include "pvmmu/xen.h"

#define VIRT_BASE 0xffffffff80000000ULL
#define HYPERVISOR_console_io 18
#define HYPERVISOR_physdev_op 33
#define CONSOLEIO_write 0
#define PHYSDEVOP_set_iopl 6

/* ELF notes Xen's loader reads, the hypercall page Xen fills, and the entry point. */
__asm__(".section .note.Xen, \"a\"\n"
        ".macro xennote type, desc:vararg\n"
        "  .balign 4\n"
        "  .long 4, 2f - 1f, \\type\n"
        "  .asciz \"Xen\"\n"
        "  .balign 4\n"
        "1: \\desc\n"
        "2: .balign 4\n"
        ".endm\n"
        "xennote 6, .asciz \"pvmmu\"\n"
        "xennote 7, .asciz \"0.1\"\n"
        "xennote 5, .asciz \"xen-3.0\"\n"
        "xennote 8, .asciz \"generic\"\n"
        "xennote 3, .quad 0xffffffff80000000\n"
        "xennote 4, .quad 0\n"
        "xennote 1, .quad _start\n"
        "xennote 2, .quad hypercall_page\n"
        ".section .text.entry, \"ax\"\n"
        ".global _start\n"
        "_start:\n"
        "  lea boot_stack_top(%rip), %rsp\n"
        "  mov %rsi, %rdi\n"
        "  call kmain\n"
        "1: jmp 1b\n"
        ".balign 4096\n"
        ".global hypercall_page\n"
        "hypercall_page: .skip 4096\n"
        /* #PF (vector 14): Xen bounces it here with rcx, r11, error code, rip, cs, rflags, rsp, ss on the stack */
        ".global page_fault_entry\n"
        "page_fault_entry:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call page_fault\n"
        "2: jmp 2b\n"
        ".section .bss\n"
        ".balign 16\n"
        "boot_stack: .skip 16384\n"
        "boot_stack_top:\n"
        ".text\n");

extern char hypercall_page[];
void kmain(const struct start_info *si);

static long hcall(unsigned int nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    register uint64_t r10 __asm__("r10") = a4;
    register uint64_t r8 __asm__("r8") = a5;
    long ret;
    __asm__ volatile("call *%[fn]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [fn] "r"(hypercall_page + nr * 32)
                     : "memory", "rcx", "r11");
    return ret;
}

static void print(const char *s)
{
    uint64_t n = 0;
    while (s[n])
        n++;
    hcall(HYPERVISOR_console_io, CONSOLEIO_write, n, (uint64_t)(uintptr_t)s, 0, 0);
}

__attribute__((format(printf, 1, 2))) static void printf_(const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    print(buf);
}

/* Leave QEMU with status (code << 1) | 1 through isa-debug-exit at port 0xf4. */
static void qemu_exit(uint8_t code)
{
    uint32_t iopl = 1;
    hcall(HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, (uint64_t)(uintptr_t)&iopl, 0, 0, 0);
    __asm__ volatile("outb %0, $0xf4" : : "a"(code));
    for (;;)
        ;
}

static const uint64_t *mfn_list;
static const char *running_policy;
static volatile const uint64_t *shared_info_page;   /* vcpu_info[0].arch.cr2 is word 2 */

extern char page_fault_entry[];
void page_fault(const uint64_t *frame);
static void print_counters(const char *policy);

/* A page fault in dom0 (the guest faulted): report it as the guest's outcome and leave QEMU. */
void page_fault(const uint64_t *frame)
{
    const char *phase = "-", *func = "-";
    uint64_t cr2 = shared_info_page ? shared_info_page[2] : 0;
    if (running_policy)
        guest_where(&phase, &func);
    printf_("guest %s outcome=2 phase=%s function=%s rc=0\n", running_policy ? running_policy : "-", phase, func);
    printf_("guest %s page fault at va %llx, error code %llx, rip %llx\n", running_policy ? running_policy : "-",
            (unsigned long long)cr2, (unsigned long long)frame[2], (unsigned long long)frame[3]);
    if (running_policy)
        print_counters(running_policy);
    qemu_exit(1);
}

/* Install the #PF handler and map shared_info (for cr2) over a page of our own. */
static uint8_t shared_info_slot[4096] __attribute__((aligned(4096)));
static void setup_traps(const struct start_info *si)
{
    struct { uint8_t vector, flags; uint16_t cs; uint64_t address; } traps[2] = {
        { 14, 0, 0xe033, (uint64_t)(uintptr_t)page_fault_entry }, { 0, 0, 0, 0 } };
    hcall(0 /* set_trap_table */, (uint64_t)(uintptr_t)traps, 0, 0, 0, 0);
    uint64_t pte = (si->shared_info & ~0xFFFULL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY;
    if (hcall(__HYPERVISOR_update_va_mapping, (uint64_t)(uintptr_t)shared_info_slot, pte, UVMF_INVLPG, 0, 0) == 0)
        shared_info_page = (volatile const uint64_t *)(uintptr_t)shared_info_slot;
}
static unsigned int failures;

static uint64_t mfn_of(const void *p)
{
    return mfn_list[((uint64_t)(uintptr_t)p - VIRT_BASE) >> 12];
}

static void step(const char *name, long rc, long expected)
{
    printf_("step %s rc=%ld%s\n", name, rc, rc == expected ? "" : " UNEXPECTED");
    if (rc != expected)
        failures++;
}

static long ext1(unsigned int cmd, uint64_t mfn)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = mfn;
    return hcall(__HYPERVISOR_mmuext_op, (uint64_t)(uintptr_t)&op, 1, 0, DOMID_SELF, 0);
}

static long remap(void *page, int rw)
{
    uint64_t pte = (mfn_of(page) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | (rw ? _PAGE_RW : 0);
    return hcall(__HYPERVISOR_update_va_mapping, (uint64_t)(uintptr_t)page, pte, UVMF_INVLPG, 0, 0);
}

static uint8_t pages[2][4096] __attribute__((aligned(4096)));

/* ---- the guest runner: guest/ as this dom0, on Xen's own start-of-day state ---- */

static uint64_t calls[64];
static struct guest_result result;

static void print_counters(const char *policy)
{
    const struct guest_result *r = &result;
    printf_("guest %s hypercalls mmu_update=%llu mmuext_op=%llu update_va_mapping=%llu multicall=%llu vm_assist=%llu"
            " pt_pages=%llu pte_stores=%llu\n", policy, (unsigned long long)calls[__HYPERVISOR_mmu_update],
            (unsigned long long)calls[__HYPERVISOR_mmuext_op], (unsigned long long)calls[__HYPERVISOR_update_va_mapping],
            (unsigned long long)calls[__HYPERVISOR_multicall], (unsigned long long)calls[__HYPERVISOR_vm_assist],
            (unsigned long long)guest_pt_pages(r), (unsigned long long)r->pte_stores);
}

static long plat_hypercall(void *ctx, unsigned long op, const xen_ulong_t a[6])
{
    (void)ctx;
    if (op < 64)
        calls[op]++;
    return hcall((unsigned int)op, a[0], a[1], a[2], a[3], a[4]);
}

static int plat_load(void *ctx, uint64_t va, uint64_t *val)
{
    (void)ctx;
    *val = *(volatile const uint64_t *)(uintptr_t)va;
    return 0;
}

static int plat_store(void *ctx, uint64_t va, uint64_t val)
{
    (void)ctx;
    *(volatile uint64_t *)(uintptr_t)va = val;   /* a fault here crashes dom0: Xen reports it */
    return 0;
}

static int plat_clear_page(void *ctx, uint64_t va)
{
    (void)ctx;
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(va & ~0xFFFULL);
    for (unsigned int i = 0; i < 512; i++)
        p[i] = 0;
    return 0;
}

static uint64_t plat_m2p(void *ctx, uint64_t mfn)
{
    (void)ctx;
    return ((volatile const uint64_t *)(uintptr_t)HYPERVISOR_VIRT_START)[mfn];   /* Xen's RO M2P */
}

static void plat_log(void *ctx, const char *line)
{
    (void)ctx;
    printf_("[guest] %s\n", line);
}

static int starts_with(const char *s, const char *p)
{
    while (*p)
        if (*s++ != *p++)
            return 0;
    return 1;
}

static void run_guest(const struct start_info *si, const char *policy)
{
    int pol = guest_policy_parse(policy);
    if (pol < 0) {
        printf_("pvmmu dom0: unknown policy '%s'\n", policy);
        qemu_exit(2);
    }
    const struct guest_platform plat = {
        .hypercall = plat_hypercall, .load = plat_load, .store = plat_store, .clear_page = plat_clear_page,
        .m2p = plat_m2p, .log = plat_log,
    };
    struct guest_result *r = &result;
    running_policy = policy;
    enum guest_fail out = guest_boot(&plat, (uint64_t)(uintptr_t)si, (enum guest_policy)pol, r);
    printf_("guest %s outcome=%d phase=%s function=%s rc=%ld\n", policy, (int)out, r->phase ? r->phase : "-",
            r->function ? r->function : "-", r->rc);
    print_counters(policy);
    if (out != GUEST_OK)
        printf_("guest %s message: %s\n", policy, r->message);
    qemu_exit(out == GUEST_OK ? 16 : 1);
}

void kmain(const struct start_info *si)
{
    mfn_list = (const uint64_t *)(uintptr_t)si->mfn_list;
    printf_("pvmmu dom0: %s, %llu pages, cmdline '%s'\n", si->magic, (unsigned long long)si->nr_pages,
            (const char *)si->cmd_line);
    setup_traps(si);
    if (starts_with((const char *)si->cmd_line, "guest="))
        run_guest(si, (const char *)si->cmd_line + 6);
    void *f = pages[0];
    for (unsigned int i = 0; i < 4096; i++)
        pages[0][i] = 0;
    /* The RO-before-table rule, both ways (the same steps as tests/scripts/xen-oracle-steps.pvm). */
    step("pin_l1_while_rw", ext1(MMUEXT_PIN_L1_TABLE, mfn_of(f)), -XEN_EINVAL);
    step("remap_ro", remap(f, 0), 0);
    step("pin_l1", ext1(MMUEXT_PIN_L1_TABLE, mfn_of(f)), 0);
    step("pin_l1_again", ext1(MMUEXT_PIN_L1_TABLE, mfn_of(f)), -XEN_EINVAL);
    step("remap_rw_while_pinned", remap(f, 1), -XEN_EBUSY);
    step("unpin", ext1(MMUEXT_UNPIN_TABLE, mfn_of(f)), 0);
    step("unpin_again", ext1(MMUEXT_UNPIN_TABLE, mfn_of(f)), -XEN_EINVAL);
    step("remap_rw", remap(f, 1), 0);
    step("mark_super", ext1(MMUEXT_MARK_SUPER, mfn_of(f)), -XEN_EOPNOTSUPP);
    step("unknown_mmuext", ext1(99, mfn_of(f)), -XEN_ENOSYS);
    printf_("pvmmu dom0: %u unexpected\n", failures);
    qemu_exit(failures ? 1 : 16);
}
