/*
 * boot.S - from QEMU's multiboot loader (32-bit protected mode, paging off)
 * to hv_main in 64-bit mode at the hypervisor's high address.
 *
 * The image is a flat binary loaded at 1 MiB through the multiboot a.out
 * fields (QEMU will not load an ELF64 itself).  The boot tables map the first
 * 4 GiB twice with 2 MiB pages: at 0 (identity, for these few instructions)
 * and at HV_DIRECTMAP (L4 slot 262, where Xen keeps its direct map), which is
 * where the rest of the hypervisor is linked and where it sees all memory.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003   /* page-aligned modules, memory map, a.out load fields */

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .long mb_header, _load_start_phys, _load_end_phys, _bss_end_phys, _start32

    .section .boot, "ax"
    .code32
    .global _start32
_start32:
    cli
    mov %eax, %edi                  /* multiboot magic */
    mov %ebx, %esi                  /* multiboot info (physical) */
    mov $boot_stack_top32, %esp

    /* boot_pd[0..2047] = 2 MiB pages over the first 4 GiB */
    mov $boot_pd, %ebx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                  /* P | RW | PS */
    mov %eax, (%ebx,%ecx,8)
    mov %ecx, %eax
    shr $11, %eax                   /* the high half of (ecx << 21) */
    mov %eax, 4(%ebx,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b
    /* boot_pdpt[0..3] -> the four PDs; boot_pml4[0] and [262] -> boot_pdpt */
    mov $boot_pdpt, %ebx
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $12, %eax
    add $boot_pd, %eax
    or $0x23, %eax                  /* P | RW | A */
    mov %eax, (%ebx,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jne 2b
    mov $boot_pdpt, %eax
    or $0x23, %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + 262 * 8

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax                  /* PAE */
    mov %eax, %cr4
    mov $0xC0000080, %ecx           /* EFER: LME | NXE | SCE */
    rdmsr
    or $0x0901, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax            /* PG | WP | PE */
    mov %eax, %cr0
    lgdt boot_gdtr
    ljmp $0x08, $long_mode

    .code64
long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov %edi, %edi                  /* upper halves are undefined after the switch */
    mov %esi, %esi
    movabs $hv_stack_top, %rsp
    movabs $hv_main, %rax
    call *%rax
3:  hlt
    jmp 3b

    .section .boot.data, "aw"
    .balign 4096
    .global boot_pml4, boot_pdpt, boot_pd
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4 * 4096
    .skip 1024
boot_stack_top32:
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00209A0000000000        /* 0x08: 64-bit code, ring 0 */
    .quad 0x0000920000000000        /* 0x10: data, ring 0 */
boot_gdtr:
    .word 3 * 8 - 1
    .long boot_gdt

    .section .note.GNU-stack, "", @progbits
