/*
 * pvmmu/xen.h - the slice of Xen's public x86-64 PV ABI that pvmmu speaks.
 *
 * Names, values and argument order follow Xen's public headers (xen.h,
 * arch-x86/xen-x86_64.h, errno.h) so a Xen or Linux developer recognises
 * every one.  This file is freestanding: it needs only <stdint.h>.
 *
 * Names: only names of Xen's public ABI, as Xen's public headers spell them
 * (domid_t, xen_pfn_t, struct mmu_update, struct mmuext_op, struct
 * multicall_entry, struct start_info, __HYPERVISOR_*, MMU_*, MMUEXT_*,
 * UVMF_*, VMASST_*, DOMID_*, SIF_*, CONSOLEIO_*, XENMEM_*, PHYSDEVOP_*,
 * MAX_GUEST_CMDLINE, HYPERVISOR_VIRT_*, xen_pfn_to_cr3), and XEN_/PVM_-
 * prefixed names.  Generic names a system header may also define
 * (PAGE_SIZE, PAGE_SHIFT in <sys/user.h>, ...) are never defined here:
 * XEN_PAGE_SIZE and XEN_PAGE_SHIFT as in Linux's Xen headers.  Names Xen
 * keeps private to the hypervisor get PVM_ before Xen's spelling: the x86
 * PTE bits are PVM_PAGE_* (Xen's and Linux's _PAGE_*), and mmu_update's
 * preemption mark is PVM_MMU_UPDATE_PREEMPTED.  pvmmu's own code spells them
 * as Xen does through a private header that is not installed.
 */
#ifndef PVMMU_XEN_H
#define PVMMU_XEN_H

/* The numbers below serve assembly too (gcc defines __ASSEMBLER__ there); the types are C's. */
#ifndef __ASSEMBLER__
#include <stdint.h>

typedef uint16_t domid_t;
typedef uint64_t xen_pfn_t;
typedef uint64_t xen_ulong_t;
#endif

/* Hypercall numbers. */
#define __HYPERVISOR_set_trap_table               0
#define __HYPERVISOR_mmu_update                  1
#define __HYPERVISOR_set_gdt                     2
#define __HYPERVISOR_platform_op                 7
#define __HYPERVISOR_update_descriptor          10
#define __HYPERVISOR_memory_op                  12
#define __HYPERVISOR_multicall                  13
#define __HYPERVISOR_update_va_mapping          14
#define __HYPERVISOR_xen_version                17
#define __HYPERVISOR_console_io                 18
#define __HYPERVISOR_vm_assist                  21
#define __HYPERVISOR_update_va_mapping_otherdomain 22
#define __HYPERVISOR_iret                       23
#define __HYPERVISOR_mmuext_op                  26
#define __HYPERVISOR_sched_op                   29
#define __HYPERVISOR_physdev_op                 33

/* Sub-commands of the other hypercalls pvmmu's kernels and hypervisor use. */
#define CONSOLEIO_write                          0
#define XENMEM_decrease_reservation              1
#define PHYSDEVOP_set_iopl                       6

/* Xen's errno values (public/errno.h); hypercalls return their negation. */
#define XEN_EPERM        1
#define XEN_ENOENT       2
#define XEN_ESRCH        3
#define XEN_EINTR        4
#define XEN_EACCES      13
#define XEN_EFAULT      14
#define XEN_EBUSY       16
#define XEN_EINVAL      22
#define XEN_ENOSPC      28
#define XEN_ERANGE      34
#define XEN_ENOSYS      38
#define XEN_ERESTART    85
#define XEN_EOPNOTSUPP  95

/* Reserved domain ids. */
#define DOMID_FIRST_RESERVED 0x7FF0U
#define DOMID_SELF           0x7FF0U
#define DOMID_IO             0x7FF1U
#define DOMID_XEN            0x7FF2U
#define DOMID_COW            0x7FF3U
#define DOMID_INVALID        0x7FF4U

/* mmu_update: the command sits in the low bits of ptr. */
#define MMU_NORMAL_PT_UPDATE       0
#define MMU_MACHPHYS_UPDATE        1
#define MMU_PT_UPDATE_PRESERVE_AD  2
#define MMU_PT_UPDATE_NO_TRANSLATE 3
/* Xen-internal (asm/hypercall.h): the mark in a preempted batch's count. */
#define PVM_MMU_UPDATE_PREEMPTED   (~(~0U >> 1))

#ifndef __ASSEMBLER__
struct mmu_update {
    uint64_t ptr;   /* machine address of the PTE, command in bits 2:0 */
    uint64_t val;   /* new contents of the PTE (or a gpfn for MACHPHYS) */
};
typedef struct mmu_update mmu_update_t;
#endif

/* mmuext_op commands. */
#define MMUEXT_PIN_L1_TABLE        0
#define MMUEXT_PIN_L2_TABLE        1
#define MMUEXT_PIN_L3_TABLE        2
#define MMUEXT_PIN_L4_TABLE        3
#define MMUEXT_UNPIN_TABLE         4
#define MMUEXT_NEW_BASEPTR         5
#define MMUEXT_TLB_FLUSH_LOCAL     6
#define MMUEXT_INVLPG_LOCAL        7
#define MMUEXT_TLB_FLUSH_MULTI     8
#define MMUEXT_INVLPG_MULTI        9
#define MMUEXT_TLB_FLUSH_ALL      10
#define MMUEXT_INVLPG_ALL         11
#define MMUEXT_FLUSH_CACHE        12
#define MMUEXT_SET_LDT            13
#define MMUEXT_NEW_USER_BASEPTR   15
#define MMUEXT_CLEAR_PAGE         16
#define MMUEXT_COPY_PAGE          17
#define MMUEXT_FLUSH_CACHE_GLOBAL 18
#define MMUEXT_MARK_SUPER         19
#define MMUEXT_UNMARK_SUPER       20

/*
 * vcpumask is a guest handle, as in Xen: the guest address of a bitmap of
 * vCPU ids (one 64-bit word per 64 vCPUs).  The core reads it only through
 * the platform's copy_from_guest (struct pvm_ops); it never dereferences it.
 */
#ifndef __ASSEMBLER__
struct mmuext_op {
    unsigned int cmd;
    union {
        xen_pfn_t mfn;              /* PIN/UNPIN/BASEPTR/CLEAR/COPY */
        unsigned long linear_addr;  /* INVLPG, SET_LDT */
    } arg1;
    union {
        unsigned int nr_ents;           /* SET_LDT */
        xen_ulong_t vcpumask;           /* TLB_FLUSH_MULTI, INVLPG_MULTI: guest handle */
        xen_pfn_t src_mfn;              /* COPY_PAGE */
    } arg2;
};
typedef struct mmuext_op mmuext_op_t;
#endif

/* update_va_mapping flags. */
#define UVMF_NONE           0UL
#define UVMF_TLB_FLUSH      1UL
#define UVMF_INVLPG         2UL
#define UVMF_FLUSHTYPE_MASK 3UL
#define UVMF_MULTI          0UL
#define UVMF_LOCAL          0UL
#define UVMF_ALL            4UL

/* vm_assist. */
#define VMASST_CMD_enable               0
#define VMASST_CMD_disable              1
#define VMASST_TYPE_4gb_segments        0
#define VMASST_TYPE_4gb_segments_notify 1
#define VMASST_TYPE_writable_pagetables 2
#define VMASST_TYPE_pae_extended_cr3    3
#define VMASST_TYPE_architectural_iopl  4
#define VMASST_TYPE_runstate_update_flag 5
#define VMASST_TYPE_m2p_strict          32

/*
 * Multicall entry.  args[] hold what a guest would pass in registers; where
 * an argument is a guest pointer (the request array of mmu_update, pdone,
 * ...) it is a pointer in the caller's memory, cast to xen_ulong_t.
 */
#ifndef __ASSEMBLER__
struct multicall_entry {
    xen_ulong_t op, result;
    xen_ulong_t args[6];
};
typedef struct multicall_entry multicall_entry_t;
#endif

/* x86 page-table entry bits (PTE bits 0-11 and 63): Xen's _PAGE_* (asm/page.h). */
#define PVM_PAGE_PRESENT   0x001ULL
#define PVM_PAGE_RW        0x002ULL
#define PVM_PAGE_USER      0x004ULL
#define PVM_PAGE_PWT       0x008ULL
#define PVM_PAGE_PCD       0x010ULL
#define PVM_PAGE_ACCESSED  0x020ULL
#define PVM_PAGE_DIRTY     0x040ULL
#define PVM_PAGE_PSE       0x080ULL
#define PVM_PAGE_PAT       0x080ULL
#define PVM_PAGE_GLOBAL    0x100ULL
#define PVM_PAGE_AVAIL     0xE00ULL
#define PVM_PAGE_NX        (1ULL << 63)
/* Xen-internal marker in PTE bit 52 (_PAGE_GUEST_KERNEL): the mapping belongs to the guest kernel. */
#define PVM_PAGE_GUEST_KERNEL (1ULL << 52)

#define XEN_PAGE_SHIFT 12
#define XEN_PAGE_SIZE  4096ULL
#define PVM_L1_PAGETABLE_ENTRIES 512      /* entries in a table of any level */
#define PVM_L2_PAGETABLE_SHIFT 21         /* an L2 entry maps 2 MiB */
#define PVM_L4_PAGETABLE_SHIFT 39         /* an L4 entry maps 512 GiB */
#define PVM_PADDR_BITS 52
#define PVM_PADDR_MASK ((1ULL << PVM_PADDR_BITS) - 1)
#define PVM_PTE_FRAME_MASK (PVM_PADDR_MASK & ~(XEN_PAGE_SIZE - 1))

/* Xen's PML4 slots in every 64-bit PV L4. */
#define PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT 256
#define PVM_ROOT_PAGETABLE_LAST_XEN_SLOT  271
#define HYPERVISOR_VIRT_START 0xFFFF800000000000ULL
#define HYPERVISOR_VIRT_END   0xFFFF880000000000ULL
#define PVM_LINEAR_PT_SLOT 258

/* ELF note types of a PV kernel's "Xen" notes (public elfnote.h). */
#define XEN_ELFNOTE_ENTRY          1
#define XEN_ELFNOTE_HYPERCALL_PAGE 2
#define XEN_ELFNOTE_VIRT_BASE      3
#define XEN_ELFNOTE_PADDR_OFFSET   4
#define XEN_ELFNOTE_XEN_VERSION    5
#define XEN_ELFNOTE_GUEST_OS       6
#define XEN_ELFNOTE_GUEST_VERSION  7
#define XEN_ELFNOTE_LOADER         8

/*
 * start_info: what the domain builder hands a PV guest (pointer in rsi).
 * Layout as Xen's public xen.h for x86-64.
 */
#define MAX_GUEST_CMDLINE 1024
#ifndef __ASSEMBLER__
struct start_info {
    char magic[32];             /* "xen-3.0-x86_64" */
    uint64_t nr_pages;          /* total pages allocated to this domain */
    uint64_t shared_info;       /* machine address of the shared info page */
    uint32_t flags;             /* SIF_* */
    uint32_t pad0;
    xen_pfn_t store_mfn;
    uint32_t store_evtchn;
    uint32_t pad1;
    union {
        struct { xen_pfn_t mfn; uint32_t evtchn; uint32_t pad; } domU;
        struct { uint32_t info_off; uint32_t info_size; } dom0;
    } console;
    uint64_t pt_base;           /* virtual address of the bootstrap L4 */
    uint64_t nr_pt_frames;      /* number of bootstrap page-table frames */
    uint64_t mfn_list;          /* virtual address of the p2m list */
    uint64_t mod_start;
    uint64_t mod_len;
    int8_t cmd_line[MAX_GUEST_CMDLINE];
    uint64_t first_p2m_pfn;
    uint64_t nr_p2m_frames;
};
typedef struct start_info start_info_t;
#endif
#define SIF_PRIVILEGED (1u << 0)
#define SIF_INITDOMAIN (1u << 1)

#define xen_pfn_to_cr3(pfn) ((uint64_t)(pfn) << 12)
#define xen_cr3_to_pfn(cr3) ((uint64_t)(cr3) >> 12)

#endif /* PVMMU_XEN_H */
