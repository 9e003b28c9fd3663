/*
 * xen_abi.h - the part of Xen's public x86-64 PV ABI that only the
 * bare-metal hypervisor speaks (the core's slice is pvmmu/xen.h): hypercall
 * and sub-command numbers, the selectors a PV guest runs with, and the
 * layouts of vcpu_info, shared_info, trap_info and the other structures a
 * PV kernel hands the hypervisor.  Names and values as Xen's public headers
 * (xen.h, arch-x86/xen-x86_64.h, vcpu.h, memory.h, callback.h, physdev.h,
 * platform.h, elfnote.h, features.h); never installed.
 */
#ifndef PVMMU_XEN_ABI_H
#define PVMMU_XEN_ABI_H

#include "pvmmu/xen.h"

/* Hypercall numbers pvmmu/xen.h does not carry. */
#define __HYPERVISOR_stack_switch         3
#define __HYPERVISOR_set_callbacks        4
#define __HYPERVISOR_fpu_taskswitch       5
#define __HYPERVISOR_sched_op_compat      6
#define __HYPERVISOR_set_debugreg         8
#define __HYPERVISOR_get_debugreg         9
#define __HYPERVISOR_set_timer_op        15
#define __HYPERVISOR_event_channel_op_compat 16
#define __HYPERVISOR_physdev_op_compat   19
#define __HYPERVISOR_grant_table_op      20
#define __HYPERVISOR_vcpu_op             24
#define __HYPERVISOR_set_segment_base    25
#define __HYPERVISOR_xsm_op              27
#define __HYPERVISOR_nmi_op              28
#define __HYPERVISOR_callback_op         30
#define __HYPERVISOR_xenoprof_op         31
#define __HYPERVISOR_event_channel_op    32
#define __HYPERVISOR_hvm_op              34
#define __HYPERVISOR_sysctl              35
#define __HYPERVISOR_domctl              36
#define __HYPERVISOR_kexec_op            37
#define __HYPERVISOR_argo_op             39
#define __HYPERVISOR_xenpmu_op           40
#define __HYPERVISOR_dm_op               41
#define __HYPERVISOR_hypfs_op            42

/* Xen's errno values past pvmmu/xen.h's. */
#define XEN_ENXIO   6
#define XEN_ENOMEM 12
#define XEN_EEXIST 17
#define XEN_ENODEV 19

/* The flat selectors of Xen's reserved GDT page (entries 0xe000 onwards), as a 64-bit PV guest uses them. */
#define FLAT_RING3_CS32  0xe023
#define FLAT_RING3_CS64  0xe033
#define FLAT_RING3_DS32  0xe02b
#define FLAT_RING3_SS64  0xe02b
#define FLAT_KERNEL_CS64 FLAT_RING3_CS64
#define FLAT_KERNEL_SS64 FLAT_RING3_SS64
#define FLAT_USER_CS64   FLAT_RING3_CS64
#define FLAT_USER_SS64   FLAT_RING3_SS64
#define FIRST_RESERVED_GDT_PAGE  14
#define FIRST_RESERVED_GDT_BYTE  (FIRST_RESERVED_GDT_PAGE * 4096)
#define FIRST_RESERVED_GDT_ENTRY (FIRST_RESERVED_GDT_BYTE / 8)

/* XEN_ELFNOTE_* past pvmmu/xen.h's. */
#define XEN_ELFNOTE_PAE_MODE            9
#define XEN_ELFNOTE_FEATURES           10
#define XEN_ELFNOTE_BSD_SYMTAB         11
#define XEN_ELFNOTE_HV_START_LOW       12
#define XEN_ELFNOTE_L1_MFN_VALID       13
#define XEN_ELFNOTE_SUSPEND_CANCEL     14
#define XEN_ELFNOTE_INIT_P2M           15
#define XEN_ELFNOTE_MOD_START_PFN      16
#define XEN_ELFNOTE_SUPPORTED_FEATURES 17
#define XEN_ELFNOTE_PHYS32_ENTRY       18

/* XENFEAT_* bits (features.h): what xen_version(XENVER_get_features) answers and FEATURES names. */
#define XENFEAT_writable_page_tables       0
#define XENFEAT_writable_descriptor_tables 1
#define XENFEAT_auto_translated_physmap    2
#define XENFEAT_supervisor_mode_kernel     3
#define XENFEAT_pae_pgdir_above_4gb        4
#define XENFEAT_mmu_pt_update_preserve_ad  5
#define XENFEAT_highmem_assist             6
#define XENFEAT_gnttab_map_avail_bits      7
#define XENFEAT_hvm_callback_vector        8
#define XENFEAT_dom0                       11
#define XENFEAT_memory_op_vnode_supported  13
#define XENFEAT_direct_mapped              17

/* start_info flags past pvmmu/xen.h's. */
#define SIF_MOD_START_PFN (1u << 3)

/* xen_version sub-commands. */
#define XENVER_version      0
#define XENVER_extraversion 1
#define XENVER_compile_info 2
#define XENVER_capabilities 3
#define XENVER_changeset    4
#define XENVER_platform_parameters 5
#define XENVER_get_features 6
#define XENVER_pagesize     7
#define XENVER_guest_handle 8
#define XENVER_commandline  9
#define XENVER_build_id    10

/* memory_op sub-commands (memory.h). */
#define XENMEM_increase_reservation 0
#define XENMEM_populate_physmap     6
#define XENMEM_maximum_ram_page     2
#define XENMEM_current_reservation  3
#define XENMEM_maximum_reservation  4
#define XENMEM_machphys_mfn_list    5
#define XENMEM_add_to_physmap       7
#define XENMEM_memory_map           9
#define XENMEM_machine_memory_map  10
#define XENMEM_exchange            11
#define XENMEM_machphys_mapping    12
#define XENMEM_get_pod_target      17
#define XENMEM_cmd_mask            0x3f   /* the sub-command; the bits above it are a continuation's start extent */

/* vcpu_op sub-commands (vcpu.h). */
#define VCPUOP_initialise                 0
#define VCPUOP_up                         1
#define VCPUOP_down                       2
#define VCPUOP_is_up                      3
#define VCPUOP_get_runstate_info          4
#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_set_periodic_timer         6
#define VCPUOP_stop_periodic_timer        7
#define VCPUOP_set_singleshot_timer       8
#define VCPUOP_stop_singleshot_timer      9
#define VCPUOP_register_vcpu_info        10
#define VCPUOP_send_nmi                  11
#define VCPUOP_get_physid                12
#define VCPUOP_register_vcpu_time_memory_area 13

/* callback_op (callback.h). */
#define CALLBACKOP_register   0
#define CALLBACKOP_unregister 1
#define CALLBACKTYPE_event    0
#define CALLBACKTYPE_failsafe 1
#define CALLBACKTYPE_syscall  2
#define CALLBACKTYPE_sysenter 3
#define CALLBACKTYPE_nmi      4
#define CALLBACKTYPE_syscall32 7
#define CALLBACKF_mask_events (1u << 0)

/* set_segment_base. */
#define SEGBASE_FS          0
#define SEGBASE_GS_USER     1
#define SEGBASE_GS_KERNEL   2
#define SEGBASE_GS_USER_SEL 3

/* physdev_op sub-commands (physdev.h) Linux's dom0 uses early. */
#define PHYSDEVOP_apic_read  8
#define PHYSDEVOP_apic_write 9

/* sched_op sub-commands (sched.h). */
#define SCHEDOP_yield    0
#define SCHEDOP_block    1
#define SCHEDOP_shutdown 2
#define SCHEDOP_poll     3
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_reboot   1
#define SHUTDOWN_suspend  2
#define SHUTDOWN_crash    3

/* The iret hypercall's frame flag: the frame came from a syscall (rcx and r11 are not restored). */
#define VGCF_in_syscall (1u << 8)

#ifndef __ASSEMBLER__
/* One trap_info entry of set_trap_table (flags: bits 0-1 the DPL, bit 2 "an interrupt gate": mask events). */
struct trap_info {
    uint8_t vector, flags;
    uint16_t cs;
    uint32_t pad;
    uint64_t address;
};
#define TI_GET_DPL(ti) ((ti)->flags & 3)
#define TI_GET_IF(ti)  ((ti)->flags & 4)

/* struct vcpu_time_info and struct vcpu_info (x86-64: 64 bytes). */
struct vcpu_time_info {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad1[2];
};
struct vcpu_info {
    uint8_t evtchn_upcall_pending, evtchn_upcall_mask, pad[6];
    uint64_t evtchn_pending_sel;
    uint64_t cr2, arch_pad;
    struct vcpu_time_info time;
};
_Static_assert(sizeof(struct vcpu_info) == 64, "Xen's x86-64 vcpu_info");

/* struct shared_info (x86-64): 32 legacy vcpu_info slots, the 2-level event words, the wallclock, arch. */
#define XEN_LEGACY_MAX_VCPUS 32
struct shared_info {
    struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
    uint64_t evtchn_pending[64], evtchn_mask[64];
    uint32_t wc_version, wc_sec, wc_nsec, wc_sec_hi;
    uint64_t max_pfn, pfn_to_mfn_frame_list_list, nmi_reason, p2m_cr3, p2m_vaddr, p2m_generation;
};
_Static_assert(__builtin_offsetof(struct shared_info, wc_version) == 3072, "Xen's shared_info layout");

/* XENMEM_machphys_mapping's answer: where the M2P is mapped for the guest, and its last entry. */
struct xen_machphys_mapping {
    uint64_t v_start, v_end, max_mfn;
};

/* XENMEM_memory_map / machine_memory_map: an e820 buffer (nr_entries in and out). */
struct xen_memory_map {
    uint32_t nr_entries, pad;
    uint64_t buffer;
};
struct e820entry {
    uint64_t addr, size;
    uint32_t type;
} __attribute__((packed));
#define E820_RAM      1
#define E820_RESERVED 2

/* callback_op's register argument. */
struct callback_register {
    uint16_t type, flags;
    uint32_t pad;
    uint64_t address;
};

/* VCPUOP_register_vcpu_info's argument: the frame and offset of the vCPU's new vcpu_info. */
struct vcpu_register_vcpu_info {
    uint64_t mfn;
    uint32_t offset, rsvd;
};
#endif /* __ASSEMBLER__ */

#endif
