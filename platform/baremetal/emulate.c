/*
 * emulate.c - what a PV kernel running in ring 3 cannot do itself, done as
 * Xen's emulate_privileged_op and its forced-CPUID path do it: rdmsr and
 * wrmsr (the segment bases, and a few MSRs a kernel reads at boot), moves
 * from and to control registers, clts, wbinvd, port I/O for a domain with
 * I/O rights, and `ud2; .ascii "xen"; cpuid` (the CPUID a PV kernel asks
 * the hypervisor for).  Anything else is the guest's own #GP or #UD.
 */
#include "hv.h"

#define MSR_EFER            0xc0000080U
#define MSR_FS_BASE         0xc0000100U
#define MSR_GS_BASE         0xc0000101U
#define MSR_SHADOW_GS_BASE  0xc0000102U
#define MSR_IA32_APICBASE   0x0000001bU
#define MSR_IA32_MISC_ENABLE 0x000001a0U
#define MSR_IA32_PLATFORM_ID 0x00000017U
#define MSR_IA32_UCODE_REV  0x0000008bU
#define MSR_IA32_PAT        0x00000277U
#define MSR_MTRRcap         0x000000feU
#define MSR_MTRRdefType     0x000002ffU
#define MSR_IA32_MCG_CAP    0x00000179U
#define MSR_IA32_MCG_STATUS 0x0000017aU
#define MSR_IA32_TSC        0x00000010U
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define XEN_PAT  0x050100070406ULL   /* the PAT Xen programs and shows a PV guest */

#define X86_CR0_PE 0x00000001ULL
#define X86_CR0_MP 0x00000002ULL
#define X86_CR0_TS 0x00000008ULL
#define X86_CR0_ET 0x00000010ULL
#define X86_CR0_NE 0x00000020ULL
#define X86_CR0_WP 0x00010000ULL
#define X86_CR0_AM 0x00040000ULL
#define X86_CR0_PG 0x80000000ULL
#define X86_CR4_PAE 0x00000020ULL
#define X86_CR4_OSFXSR 0x00000200ULL
#define X86_CR4_OSXMMEXCPT 0x00000400ULL

#define CPUID_HV_BASE   0x40000000U
#define FEAT1_ECX_HYPERVISOR (1U << 31)
/* Leaf 1 ECX bits Xen hides from a PV guest: DTES64, MONITOR, DS-CPL, VMX, SMX, EST, TM2, PDCM, PCID, x2APIC. */
#define FEAT1_ECX_HIDDEN ((1U << 2) | (1U << 3) | (1U << 4) | (1U << 5) | (1U << 6) | (1U << 7) | (1U << 8) | \
                          (1U << 15) | (1U << 17) | (1U << 21))
/* Leaf 1 EDX bits Xen hides from a PV guest: VME, PSE, PGE, MTRR, PSE36, DS, ACPI, TM, PBE. */
#define FEAT1_EDX_HIDDEN ((1U << 1) | (1U << 3) | (1U << 12) | (1U << 13) | (1U << 17) | (1U << 21) | (1U << 22) | \
                          (1U << 29) | (1U << 31))
/* Leaf 1 ECX: TSC-deadline too.  Leaf 7 EBX: SMEP, INVPCID, SMAP.  Leaf 0x80000001: SVM (ECX), 1 GiB pages (EDX). */
#define FEAT1_ECX_TSC_DEADLINE (1U << 24)
#define FEAT7_EBX_HIDDEN ((1U << 7) | (1U << 10) | (1U << 20))
#define EXT1_ECX_SVM (1U << 2)
#define EXT1_EDX_PAGE1GB (1U << 26)

static const uint8_t forced_cpuid[] = { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2 };

static inline void native_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(sub));
}

/*
 * CPUID as Xen's PV policy answers it, in outline: the host's leaves with
 * the hypervisor bit set and what a PV guest cannot use hidden, and Xen's
 * leaves at 0x40000000 ("XenVMMXenVMM", the version, the hypercall MSR).
 */
static void pv_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    if (leaf >= CPUID_HV_BASE && leaf < CPUID_HV_BASE + 0x100) {
        out[0] = out[1] = out[2] = out[3] = 0;
        switch (leaf - CPUID_HV_BASE) {
        case 0:
            out[0] = CPUID_HV_BASE + 5;
            out[1] = 0x566e6558U;   /* "XenV" */
            out[2] = 0x65584d4dU;   /* "MMXe" */
            out[3] = 0x4d4d566eU;   /* "nVMM" */
            break;
        case 1: out[0] = (4U << 16) | 17; break;   /* Xen 4.17 */
        case 2: out[0] = 1; out[1] = CPUID_HV_BASE; out[2] = 1; break;   /* hypercall page MSR; preserve-AD */
        default: break;
        }
        return;
    }
    native_cpuid(leaf, sub, out);
    if (leaf == 1) {
        out[1] &= 0x00ffffffU;   /* no APIC id */
        out[2] = (out[2] & ~(FEAT1_ECX_HIDDEN | FEAT1_ECX_TSC_DEADLINE)) | FEAT1_ECX_HYPERVISOR;
        out[3] &= ~FEAT1_EDX_HIDDEN;
    } else if (leaf == 7 && sub == 0) {
        out[1] &= ~FEAT7_EBX_HIDDEN;
    } else if (leaf == 0x80000001U) {
        out[2] &= ~EXT1_ECX_SVM;
        out[3] &= ~EXT1_EDX_PAGE1GB;
    }
}

/* The guest's view of CR0 and CR4, as Xen builds them for a PV vCPU. */
static uint64_t guest_cr0(void)
{
    return X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | X86_CR0_PG |
           (pv.cr0_ts ? X86_CR0_TS : 0);
}
#define X86_CR4_TSD 0x00000004ULL
#define X86_CR4_DE  0x00000008ULL
#define X86_CR4_MCE 0x00000040ULL
/* Xen's pv_fixup_guest_cr4: the bits a guest may choose (of those the CPU here has, TSD and DE), and Xen's own. */
static uint64_t guest_cr4(void)
{
    return (pv.cr4 & (X86_CR4_TSD | X86_CR4_DE)) | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
}

/* rdmsr of msr for the guest: 0 with *val, or -1 for a #GP (an MSR a PV guest may not read). */
static int guest_rdmsr(uint32_t msr, uint64_t *val)
{
    switch (msr) {
    case MSR_FS_BASE: *val = pv.fs_base; return 0;
    case MSR_GS_BASE: *val = pv.kernel_mode ? pv.gs_base_kernel : pv.gs_base_user; return 0;
    case MSR_SHADOW_GS_BASE: *val = pv.kernel_mode ? pv.gs_base_user : pv.gs_base_kernel; return 0;
    case MSR_EFER: *val = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE; return 0;
    case MSR_IA32_PAT: *val = XEN_PAT; return 0;
    case MSR_IA32_MISC_ENABLE: *val = 1ULL << 0 | 1ULL << 11 | 1ULL << 12; return 0;   /* fast strings; no BTS, PEBS */
    case MSR_IA32_PLATFORM_ID: case MSR_IA32_UCODE_REV: case MSR_MTRRcap: case MSR_MTRRdefType:
    case MSR_IA32_MCG_CAP: case MSR_IA32_MCG_STATUS:
        *val = 0;
        return 0;
    default: return -1;
    }
}

/* wrmsr for the guest: the segment bases take effect now; others: -1 for a #GP. */
static int guest_wrmsr(uint32_t msr, uint64_t val)
{
    if ((msr == MSR_FS_BASE || msr == MSR_GS_BASE || msr == MSR_SHADOW_GS_BASE) && !guest_range_ok(val, 0))
        return -1;   /* not canonical, or inside the hypervisor */
    switch (msr) {
    case MSR_FS_BASE: pv_set_segment_base(SEGBASE_FS, val); return 0;
    case MSR_GS_BASE: pv_set_segment_base(pv.kernel_mode ? SEGBASE_GS_KERNEL : SEGBASE_GS_USER, val); return 0;
    case MSR_SHADOW_GS_BASE: pv_set_segment_base(pv.kernel_mode ? SEGBASE_GS_USER : SEGBASE_GS_KERNEL, val); return 0;
    case MSR_IA32_PAT: return val == XEN_PAT ? 0 : -1;
    case MSR_IA32_MCG_STATUS: return 0;
    default: return -1;
    }
}

/* Do ports [p, p + width) overlap [lo, hi]? */
static bool ports_hit(unsigned int p, unsigned int width, unsigned int lo, unsigned int hi)
{
    return p + width > lo && p <= hi;
}

/*
 * Does port p (width bytes) reach the hardware?  A domain with I/O rights,
 * less what the hypervisor keeps, as Xen keeps it from dom0: its serial
 * console, the 8259 interrupt controllers and their edge/level registers
 * (the hypervisor's interrupts stay its own).  A read of the rest is all ones.
 */
static bool port_ok(unsigned int p, unsigned int width)
{
    return pv.io_ports && !ports_hit(p, width, 0x3f8, 0x3ff) && !ports_hit(p, width, 0x20, 0x21) &&
           !ports_hit(p, width, 0xa0, 0xa1) && !ports_hit(p, width, 0x4d0, 0x4d1);
}

static uint32_t port_in(unsigned int p, unsigned int width)
{
    uint32_t v = 0;
    if (!port_ok(p, width))
        return width == 4 ? 0xffffffffU : width == 2 ? 0xffffU : 0xffU;
    if (width == 1) {
        uint8_t b;
        __asm__ volatile("inb %w1, %0" : "=a"(b) : "Nd"((uint16_t)p));
        v = b;
    } else if (width == 2) {
        uint16_t w;
        __asm__ volatile("inw %w1, %0" : "=a"(w) : "Nd"((uint16_t)p));
        v = w;
    } else {
        __asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"((uint16_t)p));
    }
    return v;
}

static void port_out(unsigned int p, unsigned int width, uint32_t v)
{
    if (p == QEMU_EXIT_PORT)
        finish((uint8_t)v);
    if (!port_ok(p, width))
        return;
    if (width == 1)
        __asm__ volatile("outb %b0, %w1" : : "a"((uint8_t)v), "Nd"((uint16_t)p));
    else if (width == 2)
        __asm__ volatile("outw %w0, %w1" : : "a"((uint16_t)v), "Nd"((uint16_t)p));
    else
        __asm__ volatile("outl %0, %w1" : : "a"(v), "Nd"((uint16_t)p));
}

/* Merge an in's value of width bytes into rax as the CPU does (a 32-bit in clears the top half). */
static void set_in_result(struct regs *r, unsigned int width, uint32_t v)
{
    if (width == 4)
        r->rax = v;
    else if (width == 2)
        r->rax = (r->rax & ~0xffffULL) | v;
    else
        r->rax = (r->rax & ~0xffULL) | v;
}

/* The #GP of a privileged instruction at the guest's rip: emulated and skipped (true), or the guest's (false). */
bool emulate_privileged_op(struct regs *r)
{
    uint8_t b[16];
    if (copy_from_guest(b, r->rip, sizeof(b)) && copy_from_guest(b, r->rip, 4))
        return false;
    unsigned int i = 0, rex = 0, width = 4;
    bool rep = false;
    for (;; i++) {   /* legacy prefixes, then REX */
        if (b[i] == 0x66)
            width = 2;
        else if (b[i] == 0xf3 || b[i] == 0xf2)
            rep = true;
        else if (!(b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 || b[i] == 0x64 || b[i] == 0x65))
            break;
        if (i > 4)
            return false;
    }
    if ((b[i] & 0xf0) == 0x40)
        rex = b[i++];
    uint8_t op = b[i++];
    bool io = (op & 0xf4) == 0xe4;   /* in/out with an immediate or dx port */
    if (io && (rep || !pv_io_allowed()))
        return false;   /* string I/O is not emulated; without IOPL it is the guest's #GP */
    switch (op) {
    case 0xe4: case 0xe5: case 0xec: case 0xed: {   /* in */
        unsigned int w = op & 1 ? width : 1, port = op & 8 ? (uint16_t)r->rdx : b[i++];
        set_in_result(r, w, port_in(port, w));
        r->rip += i;
        return true;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: {   /* out */
        unsigned int w = op & 1 ? width : 1, port = op & 8 ? (uint16_t)r->rdx : b[i++];
        port_out(port, w, (uint32_t)r->rax);
        r->rip += i;
        return true;
    }
    case 0xfa: case 0xfb:   /* cli, sti: with IOPL, done as Xen does them for a PV guest, as no-ops */
        if (!pv_io_allowed())
            return false;
        r->rip += i;
        return true;
    case 0x0f: break;
    default: return false;
    }
    if (!pv.kernel_mode)
        return false;   /* as Xen: the rest needs the guest's ring 0 (its kernel), a user process gets the #GP */
    uint8_t op2 = b[i++];
    switch (op2) {
    case 0x30: {   /* wrmsr */
        if (guest_wrmsr((uint32_t)r->rcx, (r->rdx << 32) | (uint32_t)r->rax))
            return false;
        break;
    }
    case 0x32: {   /* rdmsr */
        uint64_t v;
        if (guest_rdmsr((uint32_t)r->rcx, &v))
            return false;
        r->rax = (uint32_t)v;
        r->rdx = v >> 32;
        break;
    }
    case 0x20: case 0x22: {   /* mov from / to a control register */
        uint8_t modrm = b[i++];
        unsigned int cr = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0), reg = (modrm & 7) | (rex & 1 ? 8 : 0);
        uint64_t *g = regs_gpr(r, reg);
        if (op2 == 0x20) {
            if (cr == 0)
                *g = guest_cr0();
            else if (cr == 2)
                *g = pv_vcpu_info()->cr2;
            else if (cr == 3)
                *g = xen_pfn_to_cr3(vcpu->guest_table);
            else if (cr == 4)
                *g = guest_cr4();
            else
                return false;
        } else {
            if (cr == 0 && (*g & ~X86_CR0_TS) == (guest_cr0() & ~X86_CR0_TS))
                pv.cr0_ts = (*g & X86_CR0_TS) != 0;
            else if (cr == 4)
                pv.cr4 = *g;   /* kept as the guest's view (TSD, DE); never loaded */
            else
                return false;
        }
        break;
    }
    case 0x06: pv.cr0_ts = false; break;   /* clts */
    case 0x09: break;                      /* wbinvd: nothing cached that matters under QEMU */
    default: return false;
    }
    r->rip += i;
    return true;
}

bool emulate_forced_cpuid(struct regs *r)
{
    uint8_t b[sizeof(forced_cpuid)];
    if (copy_from_guest(b, r->rip, sizeof(b)))
        return false;
    for (unsigned int k = 0; k < sizeof(b); k++)
        if (b[k] != forced_cpuid[k])
            return false;
    uint32_t out[4];
    pv_cpuid((uint32_t)r->rax, (uint32_t)r->rcx, out);
    r->rax = out[0];
    r->rbx = out[1];
    r->rcx = out[2];
    r->rdx = out[3];
    r->rip += sizeof(forced_cpuid);
    return true;
}
