/*
 * ptwr.c - a guest store into a read-only L1 table, as Xen's ptwr does it:
 * the store at the faulting rip is decoded (a plain mov of 1 to 8 bytes,
 * from a register or an immediate), and the core's ptwr emulation validates
 * the new entry and writes it, or refuses (then the fault is the guest's).
 */
#include "hv.h"

#define PREFIX_OPSIZE 0x66
#define MOV_RM8_R8    0x88   /* mov r/m8, r8 */
#define MOV_RM_R      0x89   /* mov r/m16/32/64, r */
#define MOV_RM8_IMM8  0xC6   /* mov r/m8, imm8 */
#define MOV_RM_IMM    0xC7   /* mov r/m16/32/64, imm16/32 */
#define REX_W         8
#define REX_R         4

/* The general register numbered n in ModRM.reg/REX.R order (rax, rcx, rdx, rbx, rsp, ...). */
static uint64_t reg_value(const struct regs *r, unsigned int n)
{
    const uint64_t v[16] = { r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
                             r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15 };
    return v[n & 15];
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

/*
 * The value a mov of the given opcode stores, bytes wide: register reg
 * (ah..bh for a byte store without REX), or the immediate at imm.  Returns
 * the immediate's length (0 for a register).  Not yet truncated to bytes.
 */
static unsigned int store_value(const struct regs *r, uint8_t op, unsigned int reg, unsigned int rex, unsigned int bytes,
                                const uint8_t *imm, uint64_t *val)
{
    if (op == MOV_RM8_R8 || op == MOV_RM_R) {
        *val = op == MOV_RM8_R8 && !rex && reg >= 4 ? reg_value(r, reg - 4) >> 8 : reg_value(r, reg);
        return 0;
    }
    if (op == MOV_RM8_IMM8) {
        *val = imm[0];
        return 1;
    }
    if (bytes == 2) {
        *val = (uint64_t)(int64_t)(int16_t)(imm[0] | imm[1] << 8);
        return 2;
    }
    *val = (uint64_t)(int64_t)(int32_t)rd32(imm);
    return 4;
}

/*
 * Decode the store at the guest's rip (mov r/m,reg or mov r/m,imm; 8 to 64
 * bits): its length, value and size.  0 if it is something else, or if the
 * instruction cannot be read.
 */
static unsigned int decode_store(const struct regs *r, uint64_t *val, unsigned int *bytes)
{
    uint8_t b[16];
    if (copy_from_guest(b, r->rip, sizeof(b)))
        return 0;
    unsigned int i = 0, rex = 0;
    bool op16 = false;
    if (b[i] == PREFIX_OPSIZE)
        op16 = true, i++;
    if ((b[i] & 0xF0) == 0x40)
        rex = b[i++];
    uint8_t op = b[i++];
    if (op != MOV_RM8_R8 && op != MOV_RM_R && op != MOV_RM8_IMM8 && op != MOV_RM_IMM)
        return 0;
    uint8_t modrm = b[i++];
    unsigned int mod = modrm >> 6, reg = ((modrm >> 3) & 7) | (rex & REX_R ? 8 : 0), rm = modrm & 7;
    if (mod == 3)
        return 0;
    i += modrm_operand_len(mod, rm, b[i]);
    *bytes = op == MOV_RM8_R8 || op == MOV_RM8_IMM8 ? 1 : rex & REX_W ? 8 : op16 ? 2 : 4;   /* REX.W wins over 0x66 */
    i += store_value(r, op, reg, rex, *bytes, b + i, val);
    if (*bytes < 8)
        *val &= (1ULL << (*bytes * 8)) - 1;
    return i;
}

struct ptwr_call {
    uint64_t va, val;
    unsigned int bytes;
};

/* hv_guarded's callee: the core's ptwr emulation of the decoded store (it reads the guest's tables). */
static long do_ptwr(void *arg)
{
    struct ptwr_call *c = arg;
    return pvm_ptwr_emulate(vcpu, c->va, 0, c->val, c->bytes, false);
}

bool pv_ro_page_fault(struct regs *r, uint64_t cr2)
{
    struct ptwr_call c = { cr2, 0, 0 };
    unsigned int len = decode_store(r, &c.val, &c.bytes);
    if (!len || (cr2 & (c.bytes - 1)) != 0 || hv_guarded(do_ptwr, &c) != 0)
        return false;
    audit_after("an emulated store");
    r->rip += len;
    return true;
}
