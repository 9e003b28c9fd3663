/*
 * hv.h - the bare-metal hypervisor's machine-level pieces: the register frame
 * entry.S builds, port I/O, control registers and MSRs.
 */
#ifndef PVMMU_HV_H
#define PVMMU_HV_H

#include <stdint.h>

#define HV_DIRECTMAP   0xffff830000000000ULL   /* all memory, supervisor only: L4 slot 262, as Xen's direct map */
#define SYSCALL_VECTOR 0x100

/* Segment selectors (the GDT in hv.c): sysret derives user CS/SS from STAR as 0x18 + 16 and + 8. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x23
#define SEL_UCODE 0x2b
#define SEL_TSS   0x30

/* What entry.S saves, lowest address first; the last five words are the CPU's iret frame. */
struct regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

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

/* entry.S */
void syscall_entry(void);
__attribute__((noreturn)) void enter_guest(struct regs *r);
long hv_guarded(long (*fn)(void *), void *arg);
void hv_guard_fault(void);
extern volatile int guard_armed;
extern void (*const exc_table[22])(void);
extern char hv_stack_top[], hv_ist_top[];
/* boot.S and hv.ld */
extern uint64_t boot_pml4[512], boot_pdpt[512];
extern char _bss_end_phys[], _hv_end[];

void hv_entry(struct regs *r);
void hv_main(uint32_t magic, uint32_t mbi_phys);

#endif
