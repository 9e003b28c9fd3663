/*
 * cpu.c - the CPU's tables and entry points: the GDT (kernel and user
 * segments, the TSS), the TSS's ring-0 and IST stacks, the IDT (entry.S's
 * exception stubs) and the syscall MSRs, with the 8259s masked.  One CPU,
 * no interrupts.
 */
#include "hv.h"

#define GATE_INTR64  0x8EULL   /* present, DPL 0, 64-bit interrupt gate */
#define DESC_TSS64   0x89ULL   /* present, DPL 0, available 64-bit TSS */
#define PIC1_DATA    0x21
#define PIC2_DATA    0xa1

static struct __attribute__((packed)) {
    uint32_t reserved0;
    uint64_t rsp0, rsp1, rsp2, reserved1, ist[7], reserved2;
    uint16_t reserved3, iomap;
} tss;
static uint64_t idt[2 * 256] __attribute__((aligned(16)));

struct __attribute__((packed)) desc_ptr {
    uint16_t limit;
    uint64_t base;
};

/*
 * The TSS (rsp0: the hypervisor stack; IST 1: the NMI/#DF/#MC stack; no I/O
 * bitmap, so every port faults from ring 3), the GDT area with Xen's
 * selectors (descriptor.c), then reload the segment registers and the task.
 */
static void gdt_load(void)
{
    tss.rsp0 = (uint64_t)(uintptr_t)hv_stack_top;
    tss.ist[0] = (uint64_t)(uintptr_t)hv_ist_top;
    tss.iomap = sizeof(tss);
    gdt_init((uint64_t)(uintptr_t)&tss, sizeof(tss) - 1);
    __asm__ volatile("pushq %0\n"
                     "movabs $1f, %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1: mov %1, %%eax\n"
                     "mov %%eax, %%ds\n mov %%eax, %%es\n mov %%eax, %%ss\n"
                     "mov %2, %%eax\n ltr %%ax\n"
                     : : "i"(SEL_KCODE), "i"(SEL_KDATA), "i"(SEL_TSS) : "rax", "memory");
}

/* IDT entry v: an interrupt gate to h in the hypervisor's code segment, with its DPL and IST bits. */
static void set_gate(unsigned int v, void (*fn)(void), uint64_t dpl, uint64_t ist)
{
    uint64_t h = (uint64_t)(uintptr_t)fn;
    idt[2 * v] = (h & 0xFFFF) | ((uint64_t)SEL_KCODE << 16) | (ist << 32) | ((GATE_INTR64 | dpl << 5) << 40) |
                 (((h >> 16) & 0xFFFF) << 48);
    idt[2 * v + 1] = h >> 32;
}

/*
 * Point every exception vector entry.S handles at its stub (NMI, #DF and #MC
 * on the IST stack; int3 and into reachable from the guest, as Xen's), the
 * timer and spurious vectors at theirs, and load the IDT.
 */
static void idt_load(void)
{
    for (unsigned int v = 0; v < HV_NR_EXC; v++)
        set_gate(v, exc_table[v], v == X86_EXC_BP || v == X86_EXC_OF ? 3 : 0,
                 v == X86_EXC_NMI || v == X86_EXC_DF || v == X86_EXC_MC ? 1 : 0);
    set_gate(TIMER_VECTOR, timer_entry, 0, 0);
    set_gate(SPURIOUS_VECTOR, spurious_entry, 0, 0);
    struct desc_ptr idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void cpu_init(void)
{
    uint64_t cr0, cr4;   /* SSE for the guest (the hypervisor itself uses general registers only) */
    __asm__ volatile("mov %%cr0, %0\n mov %%cr4, %1" : "=r"(cr0), "=r"(cr4));
    cr0 = (cr0 & ~(0x4ULL | 0x60000000ULL)) | 0x2ULL | 0x20ULL | 0x40000ULL;   /* EM, CD, NW off; MP, NE, AM on */
    cr4 |= 0x600ULL;                  /* OSFXSR, OSXMMEXCPT */
    __asm__ volatile("mov %0, %%cr0\n mov %1, %%cr4" : : "r"(cr0), "r"(cr4));
    gdt_load();
    idt_load();
    wrmsr(MSR_STAR, ((uint64_t)FLAT_RING3_CS32 << 48) | ((uint64_t)SEL_KCODE << 32));   /* as Xen's */
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_CSTAR, (uint64_t)(uintptr_t)cstar_entry);   /* a 32-bit process's syscall: its own entry, as Xen's */
    wrmsr(MSR_SYSCALL_MASK, X86_EFLAGS_TF | X86_EFLAGS_IF | X86_EFLAGS_DF | X86_EFLAGS_IOPL | X86_EFLAGS_NT |
                                X86_EFLAGS_AC);
    outb(PIC1_DATA, 0xff);            /* the BIOS's 8259s: all masked */
    outb(PIC2_DATA, 0xff);
}
