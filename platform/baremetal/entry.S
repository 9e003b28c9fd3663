/*
 * entry.S - every way into the hypervisor, and the one way back to the guest.
 *
 * A hypercall arrives by `syscall` from the guest kernel (ring 3, as a 64-bit
 * PV kernel runs); an exception by the IDT.  Both build the same struct regs
 * (hv.h) on the hypervisor stack, call hv_entry(regs), and return with iretq
 * from whatever the C code left in that frame, so a hypercall result, an
 * emulated store and a bounce to the guest's trap handler are all just edits
 * of the frame.
 */
#include "hv.h"

.macro PUSH_REGS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm

.macro POP_REGS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
.endm

/*
 * A syscall entry: the CPU saved rip in rcx and rflags in r11 and switched
 * nothing else, so build the frame an interrupt would have, with the
 * guest's code segment cs, and tell hv_entry it came by vector vec.
 */
.macro SYSCALL_ENTRY name, cs, vec
    .global \name
\name:
    mov %rsp, guest_rsp_scratch(%rip)
    lea hv_stack_top(%rip), %rsp
    push $FLAT_RING3_SS64           /* ss: what the guest runs with */
    push guest_rsp_scratch(%rip)    /* rsp */
    push %r11                       /* rflags */
    push $\cs                       /* cs */
    push %rcx                       /* rip */
    push $0                         /* error code */
    push $\vec
    jmp common
.endm

    .text
SYSCALL_ENTRY syscall_entry, FLAT_RING3_CS64, SYSCALL_VECTOR
/* syscall from a 32-bit code segment (only a guest process can be there): its own vector. */
SYSCALL_ENTRY cstar_entry, FLAT_RING3_CS32, SYSCALL32_VECTOR

.macro EXC vec
    .global exc_\vec
exc_\vec:
    push $0
    push $\vec
    jmp common
.endm
.macro EXC_ERR vec
    .global exc_\vec
exc_\vec:
    push $\vec
    jmp common
.endm

EXC 0
EXC 1
EXC 2
EXC 3
EXC 4
EXC 5
EXC 6
EXC 7
EXC_ERR 8
EXC 9
EXC_ERR 10
EXC_ERR 11
EXC_ERR 12
EXC_ERR 13
EXC_ERR 14
EXC 15
EXC 16
EXC_ERR 17
EXC 18
EXC 19
EXC 20
EXC_ERR 21

/* The local APIC timer and the spurious vector: interrupts, no error code. */
    .global timer_entry, spurious_entry
timer_entry:
    push $0
    push $TIMER_VECTOR
    jmp common
spurious_entry:
    push $0
    push $SPURIOUS_VECTOR
    jmp common

common:
    cld
    PUSH_REGS
    mov %rsp, %rdi
    movabs $hv_entry, %rax
    call *%rax
    .global return_to_guest
return_to_guest:
    POP_REGS
    add $16, %rsp                   /* vector, error code */
    iretq

/* enter_guest(regs): start (or resume) the guest from a frame built in C. */
    .global enter_guest
enter_guest:
    mov %rdi, %rsp
    jmp return_to_guest

/* hv_guarded(fn, arg): call fn(arg); a fault in ring 0 while it runs returns here with -EFAULT. */
    .global hv_guarded, hv_guard_fault
hv_guarded:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, guard_rsp(%rip)
    movl $1, guard_armed(%rip)
    mov %rdi, %rax
    mov %rsi, %rdi
    call *%rax
    jmp 1f
hv_guard_fault:
    mov guard_rsp(%rip), %rsp
    mov $-XEN_EFAULT, %rax
1:  movl $0, guard_armed(%rip)
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

    .bss
    .balign 16
    .global guard_armed
guard_rsp:          .quad 0
guard_armed:        .long 0
    .balign 8
guest_rsp_scratch:  .quad 0
    .balign 4096
    .global hv_stack_top, hv_ist_top
hv_stack:           .skip 65536
hv_stack_top:
hv_ist:             .skip 16384         /* NMI, #DF, #MC: a known-good stack whatever rsp was */
hv_ist_top:

    .section .rodata
    .balign 8
    .global exc_table
exc_table:
    .quad exc_0, exc_1, exc_2, exc_3, exc_4, exc_5, exc_6, exc_7, exc_8, exc_9, exc_10
    .quad exc_11, exc_12, exc_13, exc_14, exc_15, exc_16, exc_17, exc_18, exc_19, exc_20, exc_21

    .section .note.GNU-stack, "", @progbits
