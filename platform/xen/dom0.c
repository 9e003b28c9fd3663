/*
 * dom0.c - pvmmu's own 64-bit PV kernel for Debian's real Xen 4.17 under
 * QEMU: the oracle the simulator is checked against.  The same ELF boots on
 * pvmmu's own bare-metal hypervisor (platform/baremetal).  It boots as dom0 and
 * has two jobs, chosen by its command line:
 *   (none)          run PV MMU steps on pages of its own .bss and print one
 *                   line per step ("step NAME rc=N"), checking each code;
 *   guest=POLICY    run the unchanged guest/ code as this dom0, on Xen's own
 *                   start_info, tables, p2m and M2P, and print its outcome,
 *                   place and counters ("guest POLICY ...").
 * and, when Xen hands it a module (our initrd), a third:
 *   (module)        run compiled scenario scripts (xenprog.h) on frames
 *                   taken from the top of its own memory, which no table
 *                   maps, and print one line per step ("x SCEN LINE TEXT").
 * A page fault reaches a trap handler that reports it the same way.  QEMU
 * ends through the isa-debug-exit port: status 33 when everything went as
 * expected, 3 otherwise.  Freestanding; hypercalls through Xen's page.
 */
#include <stdint.h>

#include "fmt.h"
#include "guest.h"
#include "pvbuild.h"
#include "pvmmu/xen.h"
#include "xen_names.h"
#include "xenprog.h"

#define STR(x) #x
#define XSTR(x) STR(x)   /* a macro's value as a string, for the assembly below */

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
        "xennote " XSTR(XEN_ELFNOTE_GUEST_OS) ", .asciz \"pvmmu\"\n"
        "xennote " XSTR(XEN_ELFNOTE_GUEST_VERSION) ", .asciz \"0.1\"\n"
        "xennote " XSTR(XEN_ELFNOTE_XEN_VERSION) ", .asciz \"xen-3.0\"\n"
        "xennote " XSTR(XEN_ELFNOTE_LOADER) ", .asciz \"generic\"\n"
        "xennote " XSTR(XEN_ELFNOTE_VIRT_BASE) ", .quad " XSTR(XP_DOM0_VIRT_BASE) "\n"
        "xennote " XSTR(XEN_ELFNOTE_PADDR_OFFSET) ", .quad 0\n"
        "xennote " XSTR(XEN_ELFNOTE_ENTRY) ", .quad _start\n"
        "xennote " XSTR(XEN_ELFNOTE_HYPERCALL_PAGE) ", .quad hypercall_page\n"
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
        /* guarded_access(va, value, bytes, load, &loaded): a store or load that may fault; 0, or 1 after a #PF */
        ".global guarded_access\n"
        "guarded_access:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  mov %rsp, pf_resume_rsp(%rip)\n"
        "  movl $1, pf_armed(%rip)\n"
        "  test %rcx, %rcx\n  jnz 5f\n"
        "  cmp $1, %rdx\n  je 1f\n  cmp $2, %rdx\n  je 2f\n  cmp $4, %rdx\n  je 3f\n"
        "  mov %rsi, (%rdi)\n  jmp 8f\n"
        "1: mov %sil, (%rdi)\n  jmp 8f\n"
        "2: mov %si, (%rdi)\n  jmp 8f\n"
        "3: mov %esi, (%rdi)\n  jmp 8f\n"
        "5: mov (%rdi), %rax\n  mov %rax, (%r8)\n"
        "8: movl $0, pf_armed(%rip)\n  xor %eax, %eax\n  jmp 9f\n"
        ".global pf_resume\n"
        "pf_resume:\n"
        "  mov pf_resume_rsp(%rip), %rsp\n  movl $0, pf_armed(%rip)\n  mov $1, %eax\n"
        "9: pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n  ret\n"
        ".section .bss\n"
        ".balign 16\n"
        "boot_stack: .skip 16384\n"
        "boot_stack_top:\n"
        ".text\n");

extern char hypercall_page[];
void kmain(const struct start_info *si);

/* Hypercall nr with up to five arguments, through the stub Xen wrote in our hypercall page: its result. */
static long hcall(unsigned int nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    register uint64_t r10 __asm__("r10") = a4;
    register uint64_t r8 __asm__("r8") = a5;
    long ret;
    __asm__ volatile("call *%[fn]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [fn] "r"(hypercall_page + nr * HYPERCALL_STUB_SIZE)
                     : "memory", "rcx", "r11");
    return ret;
}

/* Write s to Xen's console (console_io); no newline added. */
static void print(const char *s)
{
    uint64_t n = 0;
    while (s[n])
        n++;
    hcall(__HYPERVISOR_console_io, CONSOLEIO_write, n, (uint64_t)(uintptr_t)s, 0, 0);
}

/* printf to Xen's console; output past 719 bytes is cut. */
__attribute__((format(printf, 1, 2))) static void printf_(const char *fmt, ...)
{
    char buf[720];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    print(buf);
}

/* Leave QEMU with status (code << 1) | 1 through isa-debug-exit at port 0xf4. */
__attribute__((noreturn)) static void qemu_exit(uint8_t code)
{
    uint32_t iopl = 1;
    hcall(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, (uint64_t)(uintptr_t)&iopl, 0, 0, 0);
    __asm__ volatile("outb %0, $0xf4" : : "a"(code));
    for (;;)
        ;
}

static const uint64_t *mfn_list;
static const char *running_policy;
static volatile const uint64_t *shared_info_page;   /* vcpu_info[0].arch.cr2 is word 2 */

extern char page_fault_entry[];
void page_fault(const uint64_t *frame);
int guarded_access(uint64_t va, uint64_t val, uint64_t bytes, uint64_t load, uint64_t *loaded);
volatile int pf_armed;              /* a guarded access is running: a #PF resumes at pf_resume */
uint64_t pf_resume_rsp;
static void print_counters(const char *policy);

/* A page fault in dom0 (the guest faulted): report it as the guest's outcome and leave QEMU. */
void page_fault(const uint64_t *frame)
{
    if (pf_armed)
        __asm__ volatile("jmp pf_resume");
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

static uint8_t shared_info_slot[4096] __attribute__((aligned(4096)));
/* Install the #PF handler and map shared_info (for cr2) over a page of our own. */
static void setup_traps(const struct start_info *si)
{
    struct { uint8_t vector, flags; uint16_t cs; uint64_t address; } traps[2] = {
        { 14, 0, 0xe033, (uint64_t)(uintptr_t)page_fault_entry }, { 0, 0, 0, 0 } };
    hcall(__HYPERVISOR_set_trap_table, (uint64_t)(uintptr_t)traps, 0, 0, 0, 0);
    uint64_t pte = (si->shared_info & ~0xFFFULL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY;
    if (hcall(__HYPERVISOR_update_va_mapping, (uint64_t)(uintptr_t)shared_info_slot, pte, UVMF_INVLPG, 0, 0) == 0)
        shared_info_page = (volatile const uint64_t *)(uintptr_t)shared_info_slot;
}
static unsigned int failures;

/* The machine frame behind kernel address p, from the p2m list Xen gave us. */
static uint64_t mfn_of(const void *p)
{
    return mfn_list[((uint64_t)(uintptr_t)p - XP_DOM0_VIRT_BASE) >> 12];
}

/* One smoke step's line, "step NAME rc=N"; an rc other than expected is counted as a failure. */
static void step(const char *name, long rc, long expected)
{
    printf_("step %s rc=%ld%s\n", name, rc, rc == expected ? "" : " UNEXPECTED");
    if (rc != expected)
        failures++;
}

/* One mmuext_op cmd on frame mfn for ourselves: its rc. */
static long ext1(unsigned int cmd, uint64_t mfn)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = mfn;
    return hcall(__HYPERVISOR_mmuext_op, (uint64_t)(uintptr_t)&op, 1, 0, DOMID_SELF, 0);
}

/* Map page at its own address again, read-only or writable (rw), with an INVLPG: the call's rc. */
static long remap(void *page, int rw)
{
    uint64_t pte = (mfn_of(page) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | (rw ? _PAGE_RW : 0);
    return hcall(__HYPERVISOR_update_va_mapping, (uint64_t)(uintptr_t)page, pte, UVMF_INVLPG, 0, 0);
}

static uint8_t pages[2][4096] __attribute__((aligned(4096)));

/* ---- attacks only hardware shows: real faults on our own tables, a real stale TLB entry ---- */

static const uint64_t *m2p_table = (const uint64_t *)(uintptr_t)HYPERVISOR_VIRT_START;

/* The kernel-map address of the table at `level` on the walk to va (4 = our L4), through the M2P. */
static uint64_t *table_on_walk(const struct start_info *si, uint64_t va, unsigned int level)
{
    uint64_t *t = (uint64_t *)(uintptr_t)si->pt_base;
    for (unsigned int l = 4; l > level; l--) {
        uint64_t e = t[(va >> (12 + 9 * (l - 1))) & 511];
        t = (uint64_t *)(uintptr_t)(XP_DOM0_VIRT_BASE + (m2p_table[(e & PVM_PTE_FRAME_MASK) >> 12] << 12));
    }
    return t;
}

static unsigned int attack_failures;
/* One attack's line, "attack NAME WHAT=GOT"; a value other than want is counted as unexpected. */
static void attack_step(const char *name, uint64_t got, uint64_t want, const char *what)
{
    printf_("attack %s %s=%llu%s\n", name, what, (unsigned long long)got, got == want ? "" : " UNEXPECTED");
    if (got != want)
        attack_failures++;
}

/* 1. Plain stores into our own L4, L3 and L2 above va (mapped read-only by the builder): a real #PF each, and
      nothing emulates them (ptwr is for L1s only).  The value stored is what is there already. */
static void attack_upper_tables(const struct start_info *si, uint64_t va)
{
    for (unsigned int level = 4; level >= 2; level--) {
        uint64_t *t = table_on_walk(si, va, level);
        unsigned int slot = (unsigned int)((va >> (12 + 9 * (level - 1))) & 511);
        const char *names[] = { "", "", "store_into_own_l2", "store_into_own_l3", "store_into_own_l4" };
        attack_step(names[level], (uint64_t)guarded_access((uint64_t)(uintptr_t)&t[slot], t[slot], 8, 0, 0), 1,
                    "page_fault");
    }
}

/* Flush va from this vCPU's TLB (MMUEXT_INVLPG_LOCAL). */
static void invlpg_local(uint64_t va)
{
    struct mmuext_op inv = { .cmd = MMUEXT_INVLPG_LOCAL };
    inv.arg1.linear_addr = va;
    hcall(__HYPERVISOR_mmuext_op, (uint64_t)(uintptr_t)&inv, 1, 0, DOMID_SELF, 0);
}

/*
 * 2. A store into our own L1 is emulated (ptwr) when it is safe: make va (pages[0]) read-only that way, then
 *    a store to it faults for real (after the flush the guest owes).  3. The same emulated store asking for a
 *    writable mapping of our own L4 (l4_mfn): refused, so the #PF stands.  Leaves pages[0] writable again.
 */
static void attack_own_l1(const struct start_info *si, uint64_t va, uint64_t l4_mfn)
{
    uint64_t *l1 = table_on_walk(si, va, 1);
    unsigned int slot = (unsigned int)((va >> 12) & 511);
    uint64_t old = l1[slot];
    attack_step("ptwr_store_into_own_l1", (uint64_t)guarded_access((uint64_t)(uintptr_t)&l1[slot], old & ~(uint64_t)_PAGE_RW,
                                                                   8, 0, 0), 0, "page_fault");
    attack_step("ptwr_store_took_effect", l1[slot] & _PAGE_RW, 0, "rw");
    invlpg_local(va);
    attack_step("store_through_new_ro_mapping", (uint64_t)guarded_access(va, 1, 8, 0, 0), 1, "page_fault");
    attack_step("ptwr_map_own_l4_writable",
                (uint64_t)guarded_access((uint64_t)(uintptr_t)&l1[slot], (l4_mfn << 12) | _PAGE_PRESENT | _PAGE_RW, 8, 0, 0),
                1, "page_fault");
    attack_step("l1_entry_unchanged", l1[slot] == (old & ~(uint64_t)_PAGE_RW), 1, "same");
    remap(pages[0], 1);
}

/* 4. A skipped flush: remap va from pages[0] to pages[1] with no flush; the CPU's TLB still says pages[0].
      After an INVLPG the new mapping shows.  Leaves va on pages[0], writable. */
static void attack_stale_tlb(uint64_t va)
{
    uint64_t loaded = 0;
    ((volatile uint64_t *)pages[0])[0] = 0xAAAA;
    ((volatile uint64_t *)pages[1])[0] = 0xBBBB;
    guarded_access(va, 0, 8, 1, &loaded);
    uint64_t pte = (mfn_of(pages[1]) << 12) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY;
    hcall(__HYPERVISOR_update_va_mapping, va, pte, UVMF_NONE, 0, 0);
    guarded_access(va, 0, 8, 1, &loaded);
    if (loaded == 0xBBBB)
        printf_("attack stale_tlb_after_skipped_flush skip: the TLB did not keep the old entry this time\n");
    else
        attack_step("stale_tlb_after_skipped_flush", loaded, 0xAAAA, "read");
    invlpg_local(va);
    guarded_access(va, 0, 8, 1, &loaded);
    attack_step("after_invlpg", loaded, 0xBBBB, "read");
    remap(pages[0], 1);
}

/* 5. XSA-401 on hardware: keep a writable TLB entry for pages[1], drop the writable mapping without a
      flush, then pin the frame as an L1.  The type change must flush that entry, or a plain store through
      it would put a writable mapping of our L4 (l4_mfn) into a validated L1.  It must fault (and ptwr
      refuses).  Leaves pages[1] unpinned and writable. */
static void attack_xsa401(uint64_t l4_mfn)
{
    uint64_t va1 = (uint64_t)(uintptr_t)pages[1];
    for (unsigned int i = 0; i < 512; i++)
        ((volatile uint64_t *)pages[1])[i] = 0;       /* an empty L1 to be; the TLB now holds va1 writable */
    uint64_t ro = (mfn_of(pages[1]) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY;
    hcall(__HYPERVISOR_update_va_mapping, va1, ro, UVMF_NONE, 0, 0);
    attack_step("pin_l1_after_unflushed_remap", (uint64_t)ext1(MMUEXT_PIN_L1_TABLE, mfn_of(pages[1])), 0, "rc");
    attack_step("store_through_old_writable_tlb_entry",
                (uint64_t)guarded_access(va1, (l4_mfn << 12) | _PAGE_PRESENT | _PAGE_RW, 8, 0, 0), 1, "page_fault");
    attack_step("new_l1_still_empty", ((volatile uint64_t *)pages[1])[0], 0, "entry");
    ext1(MMUEXT_UNPIN_TABLE, mfn_of(pages[1]));
    remap(pages[1], 1);
}

/* Every attack in turn, one "attack NAME ..." line each; then qemu_exit(16) if all went as expected, else 1. */
static void run_attacks(const struct start_info *si)
{
    uint64_t va = (uint64_t)(uintptr_t)pages[0];
    uint64_t l4_mfn = mfn_of((const void *)(uintptr_t)si->pt_base);
    /* As every PV kernel does: ptwr is the hardware domain's anyway, but a kernel that is not needs this. */
    hcall(__HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables, 0, 0, 0);
    attack_upper_tables(si, va);
    attack_own_l1(si, va, l4_mfn);
    attack_stale_tlb(va);
    attack_xsa401(l4_mfn);
    printf_("pvmmu dom0: attacks done, %u unexpected\n", attack_failures);
    qemu_exit(attack_failures ? 1 : 16);
}

/* ---- the guest runner: guest/ as this dom0, on Xen's own start-of-day state ---- */

static uint64_t calls[64];
static struct guest_result result;

/* The guest's hypercalls by number and its table pages as one "guest POLICY hypercalls ..." line. */
static void print_counters(const char *policy)
{
    const struct guest_result *r = &result;
    printf_("guest %s hypercalls mmu_update=%llu mmuext_op=%llu update_va_mapping=%llu multicall=%llu vm_assist=%llu"
            " pt_pages=%llu pte_stores=%llu\n", policy, (unsigned long long)calls[__HYPERVISOR_mmu_update],
            (unsigned long long)calls[__HYPERVISOR_mmuext_op], (unsigned long long)calls[__HYPERVISOR_update_va_mapping],
            (unsigned long long)calls[__HYPERVISOR_multicall], (unsigned long long)calls[__HYPERVISOR_vm_assist],
            (unsigned long long)guest_pt_pages(r), (unsigned long long)r->pte_stores);
}

/* guest_platform.hypercall: counted by number, then made to Xen as it is. */
static long plat_hypercall(void *ctx, unsigned long op, const xen_ulong_t a[6])
{
    (void)ctx;
    if (op < 64)
        calls[op]++;
    return hcall((unsigned int)op, a[0], a[1], a[2], a[3], a[4]);
}

/* guest_platform.load: a plain load through our own tables; always 0. */
static int plat_load(void *ctx, uint64_t va, uint64_t *val)
{
    (void)ctx;
    *val = *(volatile const uint64_t *)(uintptr_t)va;
    return 0;
}

/* guest_platform.store: a plain store through our own tables; always 0. */
static int plat_store(void *ctx, uint64_t va, uint64_t val)
{
    (void)ctx;
    *(volatile uint64_t *)(uintptr_t)va = val;   /* a fault here crashes dom0: Xen reports it */
    return 0;
}

/* guest_platform.clear_page: zero the page that holds va; always 0. */
static int plat_clear_page(void *ctx, uint64_t va)
{
    (void)ctx;
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(va & ~0xFFFULL);
    for (unsigned int i = 0; i < 512; i++)
        p[i] = 0;
    return 0;
}

/* guest_platform.m2p: the gpfn of mfn, from Xen's read-only M2P. */
static uint64_t plat_m2p(void *ctx, uint64_t mfn)
{
    (void)ctx;
    return ((volatile const uint64_t *)(uintptr_t)HYPERVISOR_VIRT_START)[mfn];   /* Xen's RO M2P */
}

/* guest_platform.log: one "[guest] LINE" line. */
static void plat_log(void *ctx, const char *line)
{
    (void)ctx;
    printf_("[guest] %s\n", line);
}

/* Does s start with p? */
static int starts_with(const char *s, const char *p)
{
    while (*p)
        if (*s++ != *p++)
            return 0;
    return 1;
}

/* Boot guest/ under policy as this dom0 and print its outcome, place and counters; ends the run (qemu_exit). */
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
    /* A harmless call that marks where the guest's own hypercalls begin: pvmmu's bare-metal
       hypervisor counts from here, so its figures cover exactly what the simulator's do. */
    hcall(__HYPERVISOR_xen_version, 0, 0, 0, 0, 0);
    enum guest_fail out = guest_boot(&plat, (uint64_t)(uintptr_t)si, (enum guest_policy)pol, r);
    printf_("guest %s outcome=%d phase=%s function=%s rc=%ld\n", policy, (int)out, r->phase ? r->phase : "-",
            r->function ? r->function : "-", r->rc);
    print_counters(policy);
    if (out != GUEST_OK)
        printf_("guest %s message: %s\n", policy, r->message);
    qemu_exit(out == GUEST_OK ? 16 : 1);
}

/* ---- the scenario runner: compiled scripts (xenprog.h) on frames of our own ---- */

static uint8_t scratch_page[4096] __attribute__((aligned(4096)));
static uint64_t pool_next, pool_floor;          /* pfns handed out from the top down */
static const uint64_t *scen_sim;                /* the simulator's frame numbers */
static uint64_t scen_real[XP_MAX_FRAMES], scen_nframes;
static struct mmu_update xp_reqs[XP_MAX_BATCH + 1][XP_MAX_ITEMS];
static struct mmuext_op xp_ops[XP_MAX_BATCH + 1][XP_MAX_ITEMS];
static unsigned long xp_masks[XP_MAX_BATCH + 1][XP_MAX_ITEMS];
static unsigned int xp_done[XP_MAX_BATCH + 1];
static uint8_t xp_is_root[XP_MAX_BATCH + 1][XP_MAX_ITEMS];
static uint64_t cur_root, dom0_l4;    /* the script's kernel root (as our user root); our own L4 */
static struct multicall_entry xp_mc[XP_MAX_BATCH];

/* The program is ours, but a wrong one must be a clear message, not a wild pointer. */
__attribute__((noreturn)) static void bad_program(const char *what)
{
    printf_("pvmmu dom0: bad program: %s\n", what);
    qemu_exit(2);
}

/* Word w with relocation r (xenprog.h): our real frame in place of the scenario's, or for XP_R_MASK w in
   *mask and a pointer to it. */
static uint64_t reloc(uint64_t w, uint64_t r, unsigned long *mask)
{
    if (!r)
        return w;
    uint32_t f = XP_RELOC_FRAME(r);
    if (f >= scen_nframes)
        bad_program("relocation names no frame");
    switch (XP_RELOC_HOW(r)) {
    case XP_R_MFN:
        return scen_real[f];
    case XP_R_ADDR:
        return (w & ~PVM_PTE_FRAME_MASK) | (scen_real[f] << 12);
    case XP_R_MASK:
        *mask = (unsigned long)w;
        return (uint64_t)(uintptr_t)mask;
    default:
        bad_program("unknown relocation");
    }
}

/* Map a frame at the scratch page (read-only or writable); restore with scratch_unmap. */
static long scratch_map(uint64_t mfn, int rw)
{
    uint64_t pte = (mfn << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | (rw ? _PAGE_RW | _PAGE_DIRTY : 0);
    return hcall(__HYPERVISOR_update_va_mapping, (uint64_t)(uintptr_t)scratch_page, pte, UVMF_INVLPG, 0, 0);
}

/* Map the scratch page back onto its own frame, writable; if that fails, the program ends. */
static void scratch_unmap(void)
{
    if (remap(scratch_page, 1))
        bad_program("cannot restore the scratch mapping");
}

/* Hypercall arguments for one step into buffer b; returns the hypercall number. */
static unsigned int prepare(const struct xp_step *st, const struct xp_item *it, unsigned int b, uint64_t a[4])
{
    if (st->count > XP_MAX_ITEMS)
        bad_program("too many items in a step");
    switch (st->kind) {
    case XP_MMU_UPDATE:
        for (uint64_t i = 0; i < st->count; i++) {
            xp_reqs[b][i].ptr = reloc(it[i].w[0], it[i].reloc[0], 0);
            xp_reqs[b][i].val = reloc(it[i].w[1], it[i].reloc[1], 0);
        }
        a[0] = (uint64_t)(uintptr_t)xp_reqs[b];
        break;
    case XP_MMUEXT:
        for (uint64_t i = 0; i < st->count; i++) {
            struct mmuext_op *op = &xp_ops[b][i];
            op->cmd = (unsigned int)it[i].w[0];
            xp_is_root[b][i] = op->cmd == MMUEXT_NEW_BASEPTR;
            if (xp_is_root[b][i])   /* the script's kernel root becomes dom0's user root (xenprog.h) */
                op->cmd = MMUEXT_NEW_USER_BASEPTR;
            op->arg1.mfn = reloc(it[i].w[1], it[i].reloc[1], 0);
            uint64_t a2 = reloc(it[i].w[2], it[i].reloc[2], &xp_masks[b][i]);
            __builtin_memcpy(&op->arg2, &a2, sizeof(a2));
        }
        a[0] = (uint64_t)(uintptr_t)xp_ops[b];
        break;
    case XP_VM_ASSIST:
        a[0] = it[0].w[0];
        a[1] = it[0].w[1];
        return __HYPERVISOR_vm_assist;
    default:
        bad_program("step kind not allowed here");
    }
    xp_done[b] = 0;
    a[1] = st->count;
    a[2] = (uint64_t)(uintptr_t)&xp_done[b];
    a[3] = st->aux;
    return st->kind == XP_MMU_UPDATE ? __HYPERVISOR_mmu_update : __HYPERVISOR_mmuext_op;
}

static unsigned int xp_vmassist_used;   /* types enabled by the running scenario */
static int xp_ldt_used, xp_user_root_used;

/* After buffer b's mmuext batch: the last root it loaded successfully is the script's root now. */
static void note_roots(unsigned int b, const struct xp_step *st)
{
    if (st->kind != XP_MMUEXT)
        return;
    for (unsigned int i = 0; i < xp_done[b] && i < st->count; i++)
        if (xp_is_root[b][i])
            cur_root = xp_ops[b][i].arg1.mfn;
}

/* Before step st runs: note what it may change in dom0 itself (vm_assist types, the LDT, the user root). */
static void note_state(const struct xp_step *st, const struct xp_item *it)
{
    if (st->kind == XP_VM_ASSIST && it[0].w[0] == VMASST_CMD_enable && it[0].w[1] < 32)
        xp_vmassist_used |= 1u << it[0].w[1];
    if (st->kind == XP_MMUEXT)
        for (uint64_t i = 0; i < st->count; i++) {
            xp_ldt_used |= it[i].w[0] == MMUEXT_SET_LDT;
            xp_user_root_used |= it[i].w[0] == MMUEXT_NEW_USER_BASEPTR || it[i].w[0] == MMUEXT_NEW_BASEPTR;
        }
    xp_user_root_used |= st->kind == XP_ROOT;
}

/* Put back what a scenario may have changed in dom0 itself. */
static void scenario_reset(void)
{
    for (unsigned int t = 0; t < 32; t++)
        if (xp_vmassist_used & (1u << t))
            hcall(__HYPERVISOR_vm_assist, VMASST_CMD_disable, t, 0, 0, 0);
    struct mmuext_op op = { .cmd = MMUEXT_SET_LDT };
    if (xp_ldt_used)
        hcall(__HYPERVISOR_mmuext_op, (uint64_t)(uintptr_t)&op, 1, 0, DOMID_SELF, 0);
    if (xp_user_root_used)
        ext1(MMUEXT_NEW_USER_BASEPTR, 0);
    xp_vmassist_used = 0;
    xp_ldt_used = xp_user_root_used = 0;
    cur_root = 0;
}

/* An entry read back on Xen with the simulator's frame number in place of ours, so both sides print alike. */
static uint64_t unreloc(uint64_t v)
{
    uint64_t mfn = (v & PVM_PTE_FRAME_MASK) >> 12;
    for (uint64_t f = 0; f < scen_nframes; f++)
        if (scen_real[f] == mfn)
            return (v & ~PVM_PTE_FRAME_MASK) | (scen_sim[f] << 12);
    return v;
}

/* One entry of a frame, through a read-only mapping at the scratch page (0 if it cannot be mapped). */
static uint64_t read_entry(uint64_t mfn, unsigned int slot)
{
    if (scratch_map(mfn, 0))
        return 0;
    uint64_t e = ((volatile const uint64_t *)(uintptr_t)scratch_page)[slot];
    scratch_unmap();
    return e;
}

/* Would the CPU let a store through the script's tables at va, without Xen's help? */
static int natively_writable(uint64_t va)
{
    uint64_t e = read_entry(cur_root, (va >> 39) & 511);
    for (int level = 3; level >= 1; level--) {
        if (!(e & _PAGE_PRESENT) || !(e & _PAGE_RW))
            return 0;
        if (level < 3 && (e & _PAGE_PSE))
            return 1;
        e = read_entry((e & PVM_PTE_FRAME_MASK) >> 12, (va >> (12 + 9 * (level - 1))) & 511);
    }
    return (e & _PAGE_PRESENT) && (e & _PAGE_RW);
}

/* Write val into slot of our own L4 (mmu_update): its rc. */
static long set_own_l4(unsigned int slot, uint64_t val)
{
    struct mmu_update u = { (dom0_l4 << 12) | (slot * 8ULL), val };
    unsigned int done = 0;
    return hcall(__HYPERVISOR_mmu_update, (uint64_t)(uintptr_t)&u, 1, (uint64_t)(uintptr_t)&done, DOMID_SELF, 0);
}

/* update_va_mapping, a store or a load through the script's tables (see xenprog.h). */
static void run_va_step(const struct xp_step *st, const struct xp_item *it, struct xp_result *res)
{
    uint64_t va = it[0].w[0];
    unsigned int slot = (unsigned int)((va >> 39) & 511);
    uint64_t e = cur_root ? read_entry(cur_root, slot) : 0;
    int linked = 0;
    if (e & _PAGE_PRESENT) {
        long rc = set_own_l4(slot, e);
        if (rc) {
            res->link_rc = rc;
            return;
        }
        linked = 1;
    }
    if (st->kind == XP_UVM) {
        uint64_t flags = it[0].w[2];
        if (st->count > 1)
            flags = (flags & UVMF_FLUSHTYPE_MASK) | reloc(it[1].w[0], it[1].reloc[0], &xp_masks[0][0]);
        res->rc = hcall(__HYPERVISOR_update_va_mapping, va, reloc(it[0].w[1], it[0].reloc[1], 0), flags, 0, 0);
    } else if (st->kind == XP_STORE) {
        int native = natively_writable(va);
        uint64_t val = reloc(it[0].w[1], it[0].reloc[1], 0);
        if (guarded_access(va, val, it[0].w[2], 0, 0))
            res->access = XP_ACC_FAULT;
        else
            res->access = native ? XP_ACC_OK : XP_ACC_EMULATED;
    } else {
        uint64_t v = 0;
        res->access = guarded_access(va, 0, 8, 1, &v) ? XP_ACC_FAULT : XP_ACC_OK;
        res->val = unreloc(v);
    }
    if (linked && set_own_l4(slot, 0))
        bad_program("cannot unlink the script's tables from our L4");
}

/* XP_SET, XP_READ: one slot of a frame through the scratch page; a frame that cannot be mapped reads 0xbad.. */
static void run_slot(const struct xp_step *st, const struct xp_item *it, struct xp_result *res)
{
    if (!st->count || st->aux >= 512)
        bad_program("bad slot");
    res->rc = scratch_map(reloc(it[0].w[0], it[0].reloc[0], 0), st->kind == XP_SET);
    if (res->rc == 0) {
        volatile uint64_t *slot = (volatile uint64_t *)(uintptr_t)scratch_page + st->aux;
        if (st->kind == XP_SET)
            *slot = reloc(it[0].w[1], it[0].reloc[1], 0);
        else
            res->val = unreloc(*slot);
        scratch_unmap();
    } else if (st->kind == XP_READ) {
        res->val = 0xbad0000000000000ULL | (uint64_t)-res->rc;   /* cannot even map it read-only */
    }
}

/* XP_RELEASE: give the frame back (decrease_reservation); rc 0, Xen's error, or -EINVAL if none went back. */
static void run_release(const struct xp_item *it, struct xp_result *res)
{
    uint64_t gmfn = reloc(it[0].w[0], it[0].reloc[0], 0);
    struct { uint64_t extent_start, nr_extents; uint32_t extent_order, mem_flags; uint16_t domid; } rsv = {
        (uint64_t)(uintptr_t)&gmfn, 1, 0, 0, DOMID_SELF };
    long n = hcall(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, (uint64_t)(uintptr_t)&rsv, 0, 0, 0);
    res->rc = n == 1 ? 0 : n == 0 ? -XEN_EINVAL : n;
}

/* XP_MMU_UPDATE, XP_MMUEXT, XP_VM_ASSIST: one hypercall, from the buffer no multicall entry uses. */
static void run_call(const struct xp_step *st, const struct xp_item *it, struct xp_result *res)
{
    uint64_t a[4] = { 0, 0, 0, 0 };
    unsigned int op = prepare(st, it, XP_MAX_BATCH, a);
    res->rc = hcall(op, a[0], a[1], a[2], a[3], 0);
    res->done = xp_done[XP_MAX_BATCH];
    note_roots(XP_MAX_BATCH, st);
}

/* XP_ROOT: the frame becomes the script's kernel root, loaded as dom0's user root (xenprog.h). */
static void run_root(const struct xp_item *it, struct xp_result *res)
{
    uint64_t mfn = reloc(it[0].w[0], it[0].reloc[0], 0);
    res->rc = ext1(MMUEXT_NEW_USER_BASEPTR, mfn);
    if (res->rc == 0)
        cur_root = mfn;
}

/* The multicall entry (a nested step) at q, its items checked against end; *sit gets its items. */
static const struct xp_step *mc_entry(const uint8_t *q, const uint8_t *end, const struct xp_item **sit)
{
    const struct xp_step *sub = (const void *)q;
    if ((uint64_t)(end - q) < sizeof(*sub))
        bad_program("truncated multicall");
    *sit = (const void *)(sub + 1);
    if (sub->count > XP_MAX_ITEMS || (uint64_t)(end - (const uint8_t *)*sit) < sub->count * sizeof(**sit))
        bad_program("truncated multicall entry");
    return sub;
}

/* Fill xp_mc with multicall st's entries (entry i from buffer i) and res's sub_kind; returns the end of the last. */
static const uint8_t *mc_prepare(const struct xp_step *st, const uint8_t *end, struct xp_result *res)
{
    uint64_t a[4] = { 0, 0, 0, 0 };
    const uint8_t *q = (const uint8_t *)(st + 1);
    for (uint64_t i = 0; i < st->count; i++) {
        const struct xp_item *sit;
        const struct xp_step *sub = mc_entry(q, end, &sit);
        note_state(sub, sit);
        xp_mc[i].op = prepare(sub, sit, (unsigned int)i, a);
        for (unsigned int k = 0; k < 6; k++)
            xp_mc[i].args[k] = k < 4 ? a[k] : 0;
        xp_mc[i].result = 0xDEADBEEF;
        res->sub_kind[i] = (unsigned int)sub->kind;
        q = (const uint8_t *)(sit + sub->count);
    }
    return q;
}

/* XP_MULTICALL at p: its entries as one multicall, each entry's rc and done; returns the bytes it occupied. */
static uint64_t run_multicall(const uint8_t *p, const uint8_t *end, struct xp_result *res)
{
    const struct xp_step *st = (const void *)p;
    if (st->count > XP_MAX_BATCH)
        bad_program("multicall too long");
    const uint8_t *q = mc_prepare(st, end, res);
    res->n = (unsigned int)st->count;
    res->rc = hcall(__HYPERVISOR_multicall, (uint64_t)(uintptr_t)xp_mc, st->count, 0, 0, 0);
    const uint8_t *e = (const uint8_t *)(st + 1);
    for (uint64_t i = 0; i < st->count; i++) {
        const struct xp_step *sub = (const void *)e;
        res->sub_rc[i] = (long)xp_mc[i].result;
        res->sub_done[i] = xp_done[i];
        note_roots((unsigned int)i, sub);
        e = (const uint8_t *)((const struct xp_item *)(sub + 1) + sub->count);
    }
    return (uint64_t)(q - p);
}

/* Run one top-level step, checked against end, by its kind; returns the bytes it occupied. */
static uint64_t run_xp_step(const uint8_t *p, const uint8_t *end, struct xp_result *res)
{
    const struct xp_step *st = (const void *)p;
    if ((uint64_t)(end - p) < sizeof(*st))
        bad_program("truncated step");
    const struct xp_item *it = (const void *)(st + 1);
    uint64_t items = st->kind == XP_MULTICALL ? 0 : st->count;
    if (items > XP_MAX_ITEMS || (uint64_t)(end - (const uint8_t *)it) < items * sizeof(*it))
        bad_program("truncated items");
    res->kind = (unsigned int)st->kind;
    note_state(st, it);
    switch (st->kind) {
    case XP_SET: case XP_READ:
        run_slot(st, it, res);
        break;
    case XP_RELEASE:
        run_release(it, res);
        break;
    case XP_MMU_UPDATE: case XP_MMUEXT: case XP_VM_ASSIST:
        run_call(st, it, res);
        break;
    case XP_ROOT:
        run_root(it, res);
        break;
    case XP_UVM: case XP_STORE: case XP_LOAD:
        run_va_step(st, it, res);
        break;
    case XP_MULTICALL:
        return run_multicall(p, end, res);
    default:
        bad_program("unknown step kind");
    }
    return sizeof(*st) + items * sizeof(*it);
}

/* Run the compiled program in our module (xenprog.h), one "x SCEN LINE TEXT" line per step; ends the run. */
static void run_program(const struct start_info *si)
{
    const uint8_t *p = (const uint8_t *)(uintptr_t)si->mod_start, *end = p + si->mod_len;
    const struct xp_header *h = (const void *)p;
    if (si->mod_len < sizeof(*h) || h->magic != XP_MAGIC)
        bad_program("no program header");
    /* Frames come from the top of our memory, far above everything Xen's builder mapped. */
    uint64_t mapped = (si->pt_base - XP_DOM0_VIRT_BASE) + si->nr_pt_frames * 4096 + (2ULL << 20);
    pool_floor = ((mapped + (4ULL << 20) - 1) >> 22 << 22) >> 12;
    pool_next = si->nr_pages;
    dom0_l4 = mfn_of((const void *)(uintptr_t)si->pt_base);
    p += sizeof(*h);
    unsigned long steps = 0;
    for (uint64_t s = 0; s < h->nscen; s++) {
        const struct xp_scen *sc = (const void *)p;
        if ((uint64_t)(end - p) < sizeof(*sc) || sc->nframes > XP_MAX_FRAMES ||
            (uint64_t)(end - p) - sizeof(*sc) < sc->nframes * 8)
            bad_program("truncated scenario");
        scen_sim = (const uint64_t *)(sc + 1);
        scen_nframes = sc->nframes;
        for (uint64_t f = 0; f < sc->nframes; f++) {
            if (pool_next <= pool_floor) {
                printf_("pvmmu dom0: out of frames at scenario %llu (give dom0 more memory)\n", (unsigned long long)s);
                qemu_exit(2);
            }
            scen_real[f] = mfn_list[--pool_next];
            if (ext1(MMUEXT_CLEAR_PAGE, scen_real[f]))   /* Xen does not scrub dom0's memory for us */
                bad_program("cannot clear a frame");
        }
        p = (const uint8_t *)(scen_sim + sc->nframes);
        for (uint64_t i = 0; i < sc->nsteps; i++) {
            struct xp_result res = { 0 };
            uint64_t line = ((const struct xp_step *)p)->line;
            p += run_xp_step(p, end, &res);
            char text[600];
            printf_("x %llu %llu %s\n", (unsigned long long)s, (unsigned long long)line,
                    xp_result_text(&res, text, sizeof(text)));
            steps++;
        }
        scenario_reset();
    }
    printf_("pvmmu dom0: program done, %llu scenarios, %lu steps\n", (unsigned long long)h->nscen, steps);
    qemu_exit(16);
}

/* From _start, with Xen's start_info: the job the command line or the module asks for, else the smoke steps. */
void kmain(const struct start_info *si)
{
    mfn_list = (const uint64_t *)(uintptr_t)si->mfn_list;
    printf_("pvmmu dom0: %s, %llu pages, cmdline '%s'\n", si->magic, (unsigned long long)si->nr_pages,
            (const char *)si->cmd_line);
    setup_traps(si);
    if (starts_with((const char *)si->cmd_line, "attack"))
        run_attacks(si);
    if (starts_with((const char *)si->cmd_line, "guest="))
        run_guest(si, (const char *)si->cmd_line + 6);
    if (si->mod_len)
        run_program(si);
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
