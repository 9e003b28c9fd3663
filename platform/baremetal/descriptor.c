/*
 * descriptor.c - the descriptor tables, as Xen lays them out for a 64-bit
 * PV vCPU: one GDT of 16 pages at the start of the per-domain area (L4 slot
 * 260, mapped in every L4 the core validates, supervisor only).  Pages 0-13
 * are the guest's own GDT frames (set_gdt; a page it did not give maps a
 * zero page, so a selector there is simply not present); page 14 is the
 * hypervisor's reserved page, with Xen's selectors (0xe008 hypervisor code,
 * 0xe033 and 0xe02b the flat ring-3 code and data a PV kernel runs with,
 * 0xe040 the TSS).  The guest's frames hold a seg_desc type reference in
 * the core for as long as they are in the GDT, so the guest can never map
 * them writable; update_descriptor writes one entry through the core.
 */
#include "hv.h"

#define PERDOMAIN_SLOT   260
#define GDT_VIRT         (0xffff000000000000ULL | (uint64_t)PERDOMAIN_SLOT << PVM_L4_PAGETABLE_SHIFT)
#define GDT_PAGES        16
#define GDT_LIMIT        (FIRST_RESERVED_GDT_BYTE + XEN_PAGE_SIZE - 1)
#define DESC_TSS64       0x89ULL   /* present, DPL 0, available 64-bit TSS */

static uint64_t pd_l3[512] __attribute__((aligned(4096)));
static uint64_t pd_l2[512] __attribute__((aligned(4096)));
static uint64_t pd_l1[512] __attribute__((aligned(4096)));
static uint64_t zero_page[512] __attribute__((aligned(4096)));
static uint64_t reserved_gdt[512] __attribute__((aligned(4096)));

/* The physical address of a page of the hypervisor's image. */
static uint64_t hv_phys(const void *p) { return (uint64_t)(uintptr_t)p - HV_DIRECTMAP; }

/* Xen's reserved GDT page: entry (selector - 0xe000) / 8 holds the descriptor for that selector. */
static void fill_reserved_page(uint64_t tss_base, uint64_t tss_limit)
{
    reserved_gdt[(SEL_KCODE - FIRST_RESERVED_GDT_BYTE) / 8] = 0x00af9b000000ffffULL;       /* 64-bit, ring 0 */
    reserved_gdt[(SEL_KDATA - FIRST_RESERVED_GDT_BYTE) / 8] = 0x00cf93000000ffffULL;       /* data, ring 0 */
    reserved_gdt[(FLAT_RING3_CS32 - FIRST_RESERVED_GDT_BYTE) / 8] = 0x00cffb000000ffffULL; /* 32-bit, ring 3 */
    reserved_gdt[(FLAT_RING3_DS32 - FIRST_RESERVED_GDT_BYTE) / 8] = 0x00cff3000000ffffULL; /* data, ring 3 */
    reserved_gdt[(FLAT_RING3_CS64 - FIRST_RESERVED_GDT_BYTE) / 8] = 0x00affb000000ffffULL; /* 64-bit, ring 3 */
    unsigned int t = (SEL_TSS - FIRST_RESERVED_GDT_BYTE) / 8;
    reserved_gdt[t] = (tss_limit & 0xFFFF) | ((tss_base & 0xFFFFFF) << 16) | (DESC_TSS64 << 40) |
                      (((tss_limit >> 16) & 0xF) << 48) | (((tss_base >> 24) & 0xFF) << 56);
    reserved_gdt[t + 1] = tss_base >> 32;
}

/* Map GDT page i at frame mfn (supervisor, writable: the CPU sets accessed and busy bits), then flush it. */
static void map_gdt_page(unsigned int i, uint64_t mfn)
{
    pd_l1[i] = (mfn << XEN_PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX;
    invlpg(GDT_VIRT + i * XEN_PAGE_SIZE);
}

uint64_t gdt_area_l4e(void)
{
    return hv_phys(pd_l3) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
}

void gdt_init(uint64_t tss_base, uint64_t tss_limit)
{
    fill_reserved_page(tss_base, tss_limit);
    pd_l3[0] = hv_phys(pd_l2) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    pd_l2[0] = hv_phys(pd_l1) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    for (unsigned int i = 0; i < GDT_PAGES; i++)
        pd_l1[i] = hv_phys(zero_page) | _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_NX;
    pd_l1[FIRST_RESERVED_GDT_PAGE] = hv_phys(reserved_gdt) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED |
                                     _PAGE_DIRTY | _PAGE_NX;
    boot_pml4[PERDOMAIN_SLOT] = gdt_area_l4e();
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr = { GDT_LIMIT, GDT_VIRT };
    __asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
}

/* Show the vCPU's GDT frames (pvm_set_gdt's) in pages 0-13, the read-only zero page past them. */
static void map_guest_gdt(void)
{
    unsigned int n = (vcpu->gdt_ents + 511) / 512;
    for (unsigned int i = 0; i < FIRST_RESERVED_GDT_PAGE; i++) {
        if (i < n) {
            map_gdt_page(i, vcpu->gdt_frames[i]);
        } else {
            pd_l1[i] = hv_phys(zero_page) | _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_NX;
            invlpg(GDT_VIRT + i * XEN_PAGE_SIZE);
        }
    }
}

/*
 * HYPERVISOR_set_gdt(frame_list, entries): the guest's list of frames (at
 * most 14) becomes its GDT through the core (seg_desc references, every
 * descriptor checked), and the GDT area shows it.  0 or Xen's errno; on
 * failure the old GDT stays.
 */
long set_gdt(uint64_t list, uint64_t entries)
{
    uint64_t frames[FIRST_RESERVED_GDT_PAGE];
    if (entries > FIRST_RESERVED_GDT_ENTRY)
        return -XEN_EINVAL;
    unsigned int n = (unsigned int)((entries + 511) / 512);
    if (copy_from_guest(frames, list, n * sizeof(frames[0])))
        return -XEN_EFAULT;
    long rc = pvm_set_gdt(vcpu, frames, n, (unsigned int)entries);
    if (rc == 0)
        map_guest_gdt();
    return rc;
}

/* HYPERVISOR_update_descriptor(maddr, desc): one 8-byte descriptor, checked and written by the core. */
long update_descriptor(uint64_t maddr, uint64_t desc)
{
    return pvm_update_descriptor(vcpu, maddr, desc);
}
