/*
 * ptwr.c - a guest write into a read-only L1 table, as Xen's ptwr does it:
 * the instruction at the faulting rip is decoded and its effect on the
 * entry computed, then the core validates the new entry and writes it, or
 * refuses (the fault is then the guest's).  Like Xen's x86_emulate under
 * ptwr, it takes what a kernel uses on its page tables: mov (from a
 * register or an immediate), xchg, lock cmpxchg, bts/btr/btc and and/or,
 * 1 to 8 bytes wide.  A locked read-modify-write (xchg is always locked)
 * reaches the core as a cmpxchg against the value read, as Xen's does.
 */
#include "hv.h"

#define PREFIX_OPSIZE 0x66
#define PREFIX_LOCK   0xF0
#define REX_W         8
#define REX_R         4
#define X86_EFLAGS_CF 0x001ULL
#define X86_EFLAGS_ZF 0x040ULL
#define X86_EFLAGS_SF 0x080ULL
#define X86_EFLAGS_OF 0x800ULL

enum rmw { RMW_MOV, RMW_XCHG, RMW_CMPXCHG, RMW_BTS, RMW_BTR, RMW_BTC, RMW_AND, RMW_OR };

/* A decoded write: what it does, its width, its source (register number or immediate), its length. */
struct insn {
    enum rmw op;
    unsigned int bytes, len, reg;
    bool lock, src_imm, byte_regs;   /* byte_regs: a byte register without REX (ah..bh for 4-7) */
    uint64_t imm;
};

/* The value of register n as an operand of i's width (ah..bh for a byte operand without REX). */
static uint64_t reg_read(struct regs *r, const struct insn *i, unsigned int n)
{
    if (i->bytes == 1 && i->byte_regs && n >= 4 && n < 8)
        return (*regs_gpr(r, n - 4) >> 8) & 0xff;
    return *regs_gpr(r, n);
}

/* Write v into register n at i's width, as the CPU does (a 32-bit write clears the upper half). */
static void reg_write(struct regs *r, const struct insn *i, unsigned int n, uint64_t v)
{
    if (i->bytes == 1 && i->byte_regs && n >= 4 && n < 8) {
        uint64_t *g = regs_gpr(r, n - 4);
        *g = (*g & ~0xff00ULL) | (v & 0xff) << 8;
        return;
    }
    uint64_t *g = regs_gpr(r, n);
    if (i->bytes == 8)
        *g = v;
    else if (i->bytes == 4)
        *g = (uint32_t)v;
    else
        *g = (*g & ~((1ULL << (i->bytes * 8)) - 1)) | (v & ((1ULL << (i->bytes * 8)) - 1));
}

/* Bytes after ModRM that a memory operand (mod 0-2) takes: SIB and displacement.  sib: the byte after ModRM. */
static unsigned int modrm_operand_len(unsigned int mod, unsigned int rm, uint8_t sib)
{
    unsigned int n = 0;
    if (rm == 4) {
        n++;
        if (mod == 0 && (sib & 7) == 5)
            n += 4;
    } else if (mod == 0 && rm == 5) {
        n += 4;   /* rip-relative */
    }
    return n + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

/* A sign-extended immediate of n bytes at p. */
static uint64_t imm(const uint8_t *p, unsigned int n)
{
    if (n == 1)
        return (uint64_t)(int64_t)(int8_t)p[0];
    if (n == 2)
        return (uint64_t)(int64_t)(int16_t)rd16(p);
    return (uint64_t)(int64_t)(int32_t)rd32(p);
}

/*
 * Decode the write at the guest's rip into i.  Returns false for anything
 * that is not one of the forms above with a memory destination (or if the
 * instruction cannot be read).
 */
static bool decode(const struct regs *r, struct insn *i)
{
    uint8_t b[16];
    if (copy_from_guest(b, r->rip, sizeof(b)))
        return false;
    unsigned int at = 0, rex = 0;
    bool op16 = false;
    *i = (struct insn){ 0 };
    for (;; at++) {
        if (b[at] == PREFIX_OPSIZE)
            op16 = true;
        else if (b[at] == PREFIX_LOCK)
            i->lock = true;
        else if (!(b[at] == 0x2E || b[at] == 0x3E || b[at] == 0x26 || b[at] == 0x36 || b[at] == 0x64 ||
                   b[at] == 0x65))
            break;   /* a segment prefix changes nothing here: cr2 is the address (DS is how UP kernels spell lock) */
        if (at > 3)
            return false;
    }
    if ((b[at] & 0xF0) == 0x40)
        rex = b[at++];
    i->byte_regs = !rex;
    uint8_t op = b[at++], op2 = 0;
    if (op == 0x0F)
        op2 = b[at++];
    uint8_t modrm = b[at++];
    unsigned int mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (mod == 3)
        return false;
    at += modrm_operand_len(mod, rm, b[at]);
    bool byte_op = op == 0x88 || op == 0xC6 || op == 0x86 || op == 0x80 || op == 0x08 || op == 0x20 ||
                   (op == 0x0F && op2 == 0xB0);
    i->bytes = byte_op ? 1 : rex & REX_W ? 8 : op16 ? 2 : 4;
    i->reg = reg | (rex & REX_R ? 8 : 0);
    unsigned int imm_len = i->bytes == 8 ? 4 : i->bytes;
    switch (op) {
    case 0x88: case 0x89: i->op = RMW_MOV; break;
    case 0xC6: case 0xC7: i->op = RMW_MOV; i->src_imm = true; i->imm = imm(b + at, imm_len); at += imm_len; break;
    case 0x86: case 0x87: i->op = RMW_XCHG; i->lock = true; break;
    case 0x08: case 0x09: i->op = RMW_OR; break;
    case 0x20: case 0x21: i->op = RMW_AND; break;
    case 0x80: case 0x81: case 0x83:
        if (reg != 1 && reg != 4)
            return false;
        i->op = reg == 1 ? RMW_OR : RMW_AND;
        i->src_imm = true;
        imm_len = op == 0x83 ? 1 : imm_len;
        i->imm = imm(b + at, imm_len);
        at += imm_len;
        break;
    case 0x0F:
        if (op2 == 0xB0 || op2 == 0xB1) {
            i->op = RMW_CMPXCHG;
        } else if (op2 == 0xAB || op2 == 0xB3 || op2 == 0xBB) {
            i->op = op2 == 0xAB ? RMW_BTS : op2 == 0xB3 ? RMW_BTR : RMW_BTC;
        } else if (op2 == 0xBA && reg >= 5) {
            i->op = reg == 5 ? RMW_BTS : reg == 6 ? RMW_BTR : RMW_BTC;
            i->src_imm = true;
            i->imm = b[at++];
        } else {
            return false;
        }
        break;
    default: return false;
    }
    i->len = at;
    return true;
}

/*
 * The new value of an operand that held old, for i with source value src
 * (for a bit operation, the bit number); sets *write when memory changes
 * and updates the flags and registers the instruction defines.
 */
static uint64_t compute(struct regs *r, const struct insn *i, uint64_t old, uint64_t src, bool *write)
{
    uint64_t mask = i->bytes == 8 ? ~0ULL : (1ULL << (i->bytes * 8)) - 1, v = old;
    *write = true;
    switch (i->op) {
    case RMW_MOV: v = src; break;
    case RMW_XCHG: v = src; reg_write(r, i, i->reg, old); break;
    case RMW_CMPXCHG: {
        bool eq = (old & mask) == (r->rax & mask);
        r->rflags = (r->rflags & ~X86_EFLAGS_ZF) | (eq ? X86_EFLAGS_ZF : 0);
        if (!eq) {
            struct insn acc = *i;
            acc.byte_regs = false;
            reg_write(r, &acc, 0, old);   /* the accumulator gets what memory held */
            *write = false;
        }
        v = src;
        break;
    }
    case RMW_BTS: case RMW_BTR: case RMW_BTC: {
        uint64_t bit = 1ULL << (src & (i->bytes * 8 - 1));
        r->rflags = (r->rflags & ~X86_EFLAGS_CF) | (old & bit ? X86_EFLAGS_CF : 0);
        v = i->op == RMW_BTS ? old | bit : i->op == RMW_BTR ? old & ~bit : old ^ bit;
        break;
    }
    case RMW_AND: case RMW_OR:
        v = i->op == RMW_AND ? old & src : old | src;
        r->rflags &= ~(X86_EFLAGS_CF | X86_EFLAGS_OF | X86_EFLAGS_ZF | X86_EFLAGS_SF);
        r->rflags |= (v & mask) ? 0 : X86_EFLAGS_ZF;
        r->rflags |= (v >> (i->bytes * 8 - 1)) & 1 ? X86_EFLAGS_SF : 0;
        break;
    }
    return v & mask;
}

struct ptwr_call {
    uint64_t va, old, val;
    unsigned int bytes;
    bool cmpxchg;
};

/* hv_guarded's callee: the core's ptwr emulation of the decoded write (it reads the guest's tables). */
static long do_ptwr(void *arg)
{
    struct ptwr_call *c = arg;
    return pvm_ptwr_emulate(vcpu, c->va, c->old, c->val, c->bytes, c->cmpxchg);
}

/*
 * Would Xen try ptwr for this fault?  Only for the guest kernel, and only
 * with VMASST_TYPE_writable_pagetables or as the hardware domain (whose
 * write faults reach ptwr through the read-only MMIO path) - unless this
 * hypervisor was told to withhold writable page tables (withhold=).
 */
static bool ptwr_allowed(void)
{
    if (hv_withheld & (1u << XENFEAT_writable_page_tables))
        return false;
    return pv.kernel_mode && ((vcpu->d->vm_assist & (1UL << VMASST_TYPE_writable_pagetables)) ||
                              (vcpu->d->flags & PVM_DOM_PRIVILEGED));
}

/*
 * Walk the current tables for va through the hypervisor's direct map,
 * changing nothing (a walk through the guest's mapping would set accessed
 * bits, which Xen's ptwr never does): the L1 entry that maps va, and the
 * physical address of the frame it maps.  false if va is not mapped, or
 * the walk reaches a frame that is not RAM (never a page table, and not in
 * the direct map).
 */
static bool walk_leaf(uint64_t va, uint64_t *leaf, uint64_t *frame)
{
    uint64_t table = read_cr3() & PVM_PTE_FRAME_MASK;
    for (int level = 4; level >= 1; level--) {
        uint64_t e = ((const uint64_t *)dm(table))[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(e & _PAGE_PRESENT) || (level > 1 && (e & _PAGE_PSE)))
            return false;
        table = e & PVM_PTE_FRAME_MASK;
        if ((table >> XEN_PAGE_SHIFT) >= machine.nr_frames)
            return false;
        *leaf = e;
    }
    *frame = table;
    return true;
}

/* The entry at va as it is now (walk_leaf, then the direct map).  false if va is not mapped RAM. */
static bool read_entry(uint64_t va, unsigned int bytes, uint64_t *old)
{
    uint64_t leaf, frame;
    if (!walk_leaf(va, &leaf, &frame))
        return false;
    const uint8_t *p = (const uint8_t *)dm(frame) + (va & (XEN_PAGE_SIZE - 1));
    *old = 0;
    for (unsigned int k = 0; k < bytes; k++)
        *old |= (uint64_t)p[k] << (8 * k);
    return true;
}

/*
 * With writable page tables withheld: the first time the guest kernel's
 * write faults on a table it maps read-only, say what Xen with ptwr would
 * have done and what the guest must do instead, with the table's state.
 */
static void explain_withheld(uint64_t cr2, uint64_t rip)
{
    static bool told;
    uint64_t e, table;
    struct pvm_frame_state st;
    if (told || !pv.kernel_mode || !walk_leaf(cr2, &e, &table) || (e & _PAGE_RW))
        return;
    pvm_frame_query(&machine, table >> XEN_PAGE_SHIFT, &st);
    if (st.type < PVM_TYPE_L1 || st.type > PVM_TYPE_L4)
        return;
    told = true;
    hv_printf("pvmmu hv: the guest kernel's write to %#llx (rip %#llx) is a store into one of its page tables, "
              "which it maps read-only, as it must; Xen would emulate it (ptwr: writable page tables), but this "
              "hypervisor was told to withhold them, so the write faults and the guest gets the #PF; without "
              "ptwr a PV kernel must change the entry with mmu_update.  The table:\n",
              (unsigned long long)cr2, (unsigned long long)rip);
    hv_explain_frame(table >> XEN_PAGE_SHIFT);
}

bool pv_ro_page_fault(struct regs *r, uint64_t cr2)
{
    struct insn i;
    uint64_t old = 0;
    if (!ptwr_allowed() && (hv_withheld & (1u << XENFEAT_writable_page_tables))) {
        explain_withheld(cr2, r->rip);
    }
    if (!ptwr_allowed() || !decode(r, &i) || (cr2 & (i.bytes - 1)) != 0 || !read_entry(cr2, i.bytes, &old))
        return false;
    struct regs saved = *r;
    uint64_t src = i.src_imm ? i.imm : reg_read(r, &i, i.reg);
    bool bitop = i.op == RMW_BTS || i.op == RMW_BTR || i.op == RMW_BTC;
    if (bitop && !i.src_imm && src >= i.bytes * 8)
        return false;   /* a bit string reaching past the operand: another address, not this entry */
    bool write;
    uint64_t val = compute(r, &i, old, src, &write);
    struct ptwr_call c = { cr2, old, val, i.bytes, i.lock };
    if (write && hv_guarded(do_ptwr, &c) != 0) {
        hv_explain_refusal("an emulated store", NULL);
        *r = saved;   /* refused: the instruction did nothing, the fault is the guest's */
        return false;
    }
    if (write)
        audit_after("an emulated store");
    r->rip += i.len;
    return true;
}
