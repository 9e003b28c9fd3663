/*
 * xen_names.h - Xen's spellings of the hypervisor-private names that the
 * public headers give only with a PVM_ prefix, for pvmmu's own code.
 *
 * include/pvmmu/ defines nothing but prefixed names and Xen's public ABI
 * names (the rule at the top of pvmmu/xen.h), so a program that embeds the
 * library never meets a PGT_ or a _PAGE_ it did not ask for.  pvmmu's code
 * should still read beside Xen's mm.c, so this header defines each of Xen's
 * spellings as the prefixed public name: same value, one definition.  It is
 * never installed and no public header includes it.  Freestanding.
 */
#ifndef PVMMU_XEN_NAMES_H
#define PVMMU_XEN_NAMES_H

#include "pvmmu/pvmmu.h"

/*
 * struct page_info (Xen's asm/mm.h) is struct pvm_page_info.  C has no alias
 * for a struct tag: a typedef would name the type page_info without the
 * struct, and every use would stop reading like Xen's.  So this is a macro,
 * which renames the identifier page_info wherever it appears after this
 * header: nothing in pvmmu may use page_info for anything else (nothing
 * does), and a debugger shows struct pvm_page_info.
 */
#define page_info pvm_page_info

/* count_info (Xen's asm/mm.h). */
#define PGC_allocated   PVM_PGC_allocated
#define PGC_owner_shift PVM_PGC_owner_shift
#define PGC_owner_mask  PVM_PGC_owner_mask
#define PGC_count_mask  PVM_PGC_count_mask
#define PGC_state_free  PVM_PGC_state_free

/* type_info (Xen's asm/mm.h). */
#define PGT_none            PVM_PGT_none
#define PGT_l1_page_table   PVM_PGT_l1_page_table
#define PGT_l2_page_table   PVM_PGT_l2_page_table
#define PGT_l3_page_table   PVM_PGT_l3_page_table
#define PGT_l4_page_table   PVM_PGT_l4_page_table
#define PGT_seg_desc_page   PVM_PGT_seg_desc_page
#define PGT_shared_page     PVM_PGT_shared_page
#define PGT_writable_page   PVM_PGT_writable_page
#define PGT_type_mask       PVM_PGT_type_mask
#define PGT_root_page_table PVM_PGT_root_page_table
#define PGT_locked          PVM_PGT_locked
#define PGT_pinned          PVM_PGT_pinned
#define PGT_validated       PVM_PGT_validated
#define PGT_pae_xen_l2      PVM_PGT_pae_xen_l2
#define PGT_partial         PVM_PGT_partial
#define PGT_non_coherent    PVM_PGT_non_coherent
#define PGT_aux_shift       PVM_PGT_aux_shift
#define PGT_aux_mask        PVM_PGT_aux_mask
#define PGT_count_mask      PVM_PGT_count_mask

/* The x86 PTE bits (Xen's asm/page.h, Linux's pgtable_types.h). */
#define _PAGE_PRESENT  PVM_PAGE_PRESENT
#define _PAGE_RW       PVM_PAGE_RW
#define _PAGE_USER     PVM_PAGE_USER
#define _PAGE_PWT      PVM_PAGE_PWT
#define _PAGE_PCD      PVM_PAGE_PCD
#define _PAGE_ACCESSED PVM_PAGE_ACCESSED
#define _PAGE_DIRTY    PVM_PAGE_DIRTY
#define _PAGE_PSE      PVM_PAGE_PSE
#define _PAGE_PAT      PVM_PAGE_PAT
#define _PAGE_GLOBAL   PVM_PAGE_GLOBAL
#define _PAGE_AVAIL    PVM_PAGE_AVAIL
#define _PAGE_NX       PVM_PAGE_NX
/* Xen's asm/x86_64/page.h. */
#define _PAGE_GUEST_KERNEL PVM_PAGE_GUEST_KERNEL

/* Page-fault error code bits (Xen's asm/processor.h). */
#define PFEC_page_present PVM_PFEC_page_present
#define PFEC_write_access PVM_PFEC_write_access
#define PFEC_user_mode    PVM_PFEC_user_mode

/* mmu_update's preemption mark (Xen's asm/hypercall.h). */
#define MMU_UPDATE_PREEMPTED PVM_MMU_UPDATE_PREEMPTED

#endif /* PVMMU_XEN_NAMES_H */
