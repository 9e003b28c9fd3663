/*
 * fuzz_hypercalls.c - libFuzzer (and AFL++) harness for the PV MMU core.
 *
 * The input decodes into up to 64 operations by two unprivileged domains
 * over 48 frames: mmu_update batches, pins, unpins, root loads,
 * update_va_mapping, multicalls, guest stores and loads (with ptwr), builder
 * writes, frame release and re-assignment, vm_assist.  Two machines run in
 * lockstep: A gets every operation as decoded; B gets only what A says
 * succeeded (a failed batch's completed prefix, nothing of a failed single
 * operation).  After every operation:
 *   - the auditor must agree with A's counts;
 *   - no page-table frame in use is mapped writable;
 *   - no validated table entry maps a frame its domain does not own;
 *   - Xen's L4 slots 256-271 of every L4 in use hold what Xen put there;
 *   - A and B must hold the same frames, counts, contents and roots: a
 *     failed operation changed nothing beyond its completed prefix.
 * A violation prints the operations so far as a scenario script
 * (docs/scripts.md) that reproduces it, then aborts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostmem.h"
#include "pvmmu/pvmmu.h"
#include "xen_names.h"

#define BASE 0x100u
#define NFR 48u              /* frames 0-23 belong to d1, 24-39 to d2, 40-47 are free */
#define MAX_OPS 64
#define MASK_REAL 1u         /* update_va_mapping's vCPU bitmap handle names a real bitmap */
/* Xen's self map in PVM_LINEAR_PT_SLOT of every L4: the L4's own mfn with these bits (__PAGE_HYPERVISOR_RW). */
#define LINEAR_PT_FLAGS (_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX)
/*
 * Xen writes each entry back adjusted (US, _PAGE_GUEST_KERNEL, G; A in an
 * L4) as it validates it, and keeps that even when a later entry fails the
 * validation: the one change a failed operation may leave behind.
 */
#define ADJUST_BITS (_PAGE_USER | _PAGE_ACCESSED | _PAGE_GLOBAL | (1ULL << 52))

enum opk { O_MMU, O_PIN, O_UNPIN, O_BASE, O_UBASE, O_UVM, O_MULTI, O_STORE, O_SET, O_RELEASE, O_ASSIGN,
           O_ASSIST, O_FLUSH, O_LOAD, O_COUNT };

struct op {
    enum opk k;
    domid_t dom;
    unsigned int vcpu, n, level;
    struct mmu_update req[3];
    uint64_t frame, va, val, flags;
    uint64_t mask;             /* O_UVM: 0, MASK_REAL (a bitmap in guest memory) or a guest address that is none */
    unsigned int mask_bits;
    unsigned int slot;
    int rc;                    /* A's result */
    unsigned int done;
    int sub_rc[2];
    unsigned int sub_done[2];
};

struct rd {
    const uint8_t *p;
    size_t n;
};

/* The next input byte; 0 once the input is used up. */
static uint8_t byte(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

/* One of the NFR frames, from one byte. */
static uint64_t frame_of(struct rd *r)
{
    return BASE + byte(r) % NFR;
}

/* A table slot: mostly one of a few near Xen's slots and the ends of a table, else any of the 512. */
static unsigned int slot_of(struct rd *r)
{
    static const unsigned int hot[] = { 0, 1, 2, 3, 255, 256, 258, 261, 271, 272, 510, 511 };
    uint8_t b = byte(r);
    return b < 192 ? hot[b % 12] : (unsigned int)(byte(r) | ((b & 1) << 8));
}

/* Entry flags from one byte: P unless bit 7, then RW, US, A, D, PSE or PCD|PWT, NX. */
static uint64_t flags_of(struct rd *r)
{
    uint8_t b = byte(r);
    uint64_t f = 0;
    if (!(b & 0x80)) f |= _PAGE_PRESENT;
    if (b & 0x01) f |= _PAGE_RW;
    if (b & 0x02) f |= _PAGE_USER;
    if (b & 0x04) f |= _PAGE_ACCESSED;
    if (b & 0x08) f |= _PAGE_DIRTY;
    if ((b & 0x30) == 0x30) f |= _PAGE_PSE;
    if ((b & 0x30) == 0x10) f |= _PAGE_PCD | _PAGE_PWT;
    if (b & 0x40) f |= 1ULL << 63;
    return f;
}

/* An entry: 0, any 64 bits, or one of the NFR frames with fuzzed flags. */
static uint64_t value_of(struct rd *r)
{
    uint8_t b = byte(r);
    if (b < 8)
        return 0;
    if (b < 12) {   /* anything at all */
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | byte(r);
        return v;
    }
    return (frame_of(r) << 12) | flags_of(r);
}

/* A canonical address whose table indexes are each 0, 1, 2 or 511, with a small offset in the page. */
static uint64_t va_of(struct rd *r)
{
    static const uint64_t idx[] = { 0, 1, 2, 511 };
    uint8_t a = byte(r), b = byte(r);
    uint64_t va = (idx[a & 3] << 39) | (idx[(a >> 2) & 3] << 30) | (idx[(a >> 4) & 3] << 21) |
                  (idx[(a >> 6) & 3] << 12) | ((uint64_t)(b & 0xF8) << 1);
    return va & (1ULL << 47) ? va | 0xFFFF000000000000ULL : va;
}

/* O_MMU, O_MULTI: one to three mmu_update requests (one in a multicall), then a level, a frame and (for the
   multicall's second entry) pin or unpin. */
static void decode_batch(struct rd *r, struct op *o)
{
    o->n = o->k == O_MULTI ? 1 : 1 + byte(r) % 3;
    for (unsigned int i = 0; i < o->n; i++) {
        uint8_t c = byte(r);
        unsigned int cmd = c < 230 ? MMU_NORMAL_PT_UPDATE : c < 245 ? MMU_PT_UPDATE_PRESERVE_AD : MMU_MACHPHYS_UPDATE;
        o->req[i].ptr = (frame_of(r) << 12) | ((uint64_t)slot_of(r) << 3) | cmd;
        o->req[i].val = cmd == MMU_MACHPHYS_UPDATE ? byte(r) : value_of(r);
    }
    o->level = 1 + byte(r) % 4;
    o->frame = frame_of(r);
    o->slot = byte(r) & 1;   /* multicall: pin (0) or unpin (1) */
}

/* O_UVM: a page's va, the new entry, the flush type and what stands for the vCPU mask (none, real, bad). */
static void decode_uvm(struct rd *r, struct op *o)
{
    o->va = va_of(r) & ~0xFFFULL;
    o->val = value_of(r);
    uint8_t fb = byte(r);
    o->flags = fb % 3;
    o->mask = fb < 160 ? 0 : (fb & 1) ? MASK_REAL : 8 + (fb & 0x78);
    o->mask_bits = (fb >> 1) & 3;
}

/* The next operation from r into o: its kind, domain and vCPU from one byte, then what the kind needs. */
static void decode(struct rd *r, struct op *o)
{
    memset(o, 0, sizeof(*o));
    uint8_t b = byte(r);
    o->k = (enum opk)(b % O_COUNT);
    o->dom = (b & 0x80) ? 2 : 1;
    o->vcpu = o->dom == 1 ? (b >> 6) & 1 : 0;
    switch (o->k) {
    case O_MMU:
    case O_MULTI:
        decode_batch(r, o);
        break;
    case O_PIN:
        o->level = 1 + byte(r) % 4;
        o->frame = frame_of(r);
        break;
    case O_UNPIN: case O_BASE: case O_RELEASE: case O_ASSIGN:
        o->frame = frame_of(r);
        break;
    case O_UBASE:
        o->frame = byte(r) < 32 ? 0 : frame_of(r);
        break;
    case O_UVM:
        decode_uvm(r, o);
        break;
    case O_STORE:
        o->va = va_of(r);
        o->val = value_of(r);
        break;
    case O_LOAD:
        o->va = va_of(r);
        break;
    case O_SET:
        o->frame = frame_of(r);
        o->slot = slot_of(r);
        o->val = value_of(r);
        break;
    case O_ASSIST:
        o->flags = byte(r) & 1;
        break;
    case O_FLUSH:
        o->flags = byte(r) & 1;
        o->va = va_of(r) & ~0xFFFULL;
        break;
    default:
        break;
    }
}

struct sys {
    uint64_t mask_word;        /* the guest's vCPU bitmap for update_va_mapping */
    struct hostmem h;
    struct pvm_machine m;
    void *scratch;
};

/* Machine s: d1 (two vCPUs) owns frames 0-23, d2 owns 24-39, 40-47 are free; 0, or -1. */
static int sys_init(struct sys *s)
{
    if (hostmem_init(&s->h, &s->m, BASE + NFR + 16))
        return -1;
    s->scratch = malloc(pvm_audit_scratch_bytes(&s->m));
    if (!s->scratch || pvm_domain_create(&s->m, 1, 2, 0) || pvm_domain_create(&s->m, 2, 1, 0))
        return -1;
    for (unsigned int i = 0; i < 40; i++)
        if (pvm_assign_page(&s->m, BASE + i, i < 24 ? 1 : 2, i))
            return -1;
    return 0;
}

/* Free what sys_init took. */
static void sys_free(struct sys *s)
{
    free(s->scratch);
    hostmem_free(&s->h);
}

/* An mmuext_op cmd on mfn, every other field 0. */
static struct mmuext_op ext(unsigned int cmd, uint64_t mfn)
{
    struct mmuext_op e;
    memset(&e, 0, sizeof(e));
    e.cmd = cmd;
    e.arg1.mfn = mfn;
    return e;
}

/* One mmuext_op cmd on mfn by v for its own domain: its rc. */
static int run_ext(struct pvm_vcpu *v, unsigned int cmd, uint64_t mfn)
{
    struct mmuext_op e = ext(cmd, mfn);
    unsigned int done = 0;
    return pvm_mmuext_op(v, &e, 1, &done, DOMID_SELF);
}

/* The single mmuext_op kinds (O_PIN, O_UNPIN, O_BASE, O_UBASE, O_FLUSH) on v: the call's rc; a flush
   leaves its done count in *done. */
static int apply_ext(struct pvm_vcpu *v, const struct op *o, unsigned int *done)
{
    switch (o->k) {
    case O_PIN:
        return run_ext(v, MMUEXT_PIN_L1_TABLE + o->level - 1, o->frame);
    case O_UNPIN:
        return run_ext(v, MMUEXT_UNPIN_TABLE, o->frame);
    case O_BASE:
        return run_ext(v, MMUEXT_NEW_BASEPTR, o->frame);
    case O_UBASE:
        return run_ext(v, MMUEXT_NEW_USER_BASEPTR, o->frame);
    default: {   /* O_FLUSH */
        struct mmuext_op e = ext(o->flags ? MMUEXT_INVLPG_LOCAL : MMUEXT_TLB_FLUSH_LOCAL, 0);
        e.arg1.linear_addr = o->va;
        return pvm_mmuext_op(v, &e, 1, done, DOMID_SELF);
    }
    }
}

/* O_UVM on v, with its vCPU mask in guest memory or a guest address that is none: the call's rc.  prefix (B)
   after A's -EFAULT: Xen kept the entry it wrote, so B writes it without a flush. */
static int apply_uvm(struct sys *s, struct pvm_vcpu *v, const struct op *o, bool prefix)
{
    uint64_t flags = o->flags;
    if (o->mask == MASK_REAL) {
        s->mask_word = o->mask_bits;
        if (hostmem_guest_view(&s->h, &s->mask_word, sizeof(s->mask_word)))
            abort();
        flags |= (uint64_t)(uintptr_t)&s->mask_word;
    } else {
        flags |= o->mask;   /* a guest address that is not guest memory: the mask cannot be read */
    }
    if (prefix && o->rc == -XEN_EFAULT)
        flags = UVMF_NONE;
    int rc = pvm_update_va_mapping(v, o->va, o->val, flags);
    hostmem_guest_views_clear(&s->h);
    return rc;
}

/* A two-entry multicall: mc[0] is mmu_update of one request req, mc[1] mmuext_op e; done counts into d[]. */
static void multicall_entries(struct multicall_entry mc[2], struct mmu_update *req, struct mmuext_op *e,
                              unsigned int d[2])
{
    memset(mc, 0, 2 * sizeof(mc[0]));
    mc[0].op = __HYPERVISOR_mmu_update;
    mc[0].args[0] = (xen_ulong_t)(uintptr_t)req;
    mc[0].args[1] = 1;
    mc[0].args[2] = (xen_ulong_t)(uintptr_t)&d[0];
    mc[0].args[3] = DOMID_SELF;
    mc[1].op = __HYPERVISOR_mmuext_op;
    mc[1].args[0] = (xen_ulong_t)(uintptr_t)e;
    mc[1].args[1] = 1;
    mc[1].args[2] = (xen_ulong_t)(uintptr_t)&d[1];
    mc[1].args[3] = DOMID_SELF;
}

/*
 * O_MULTI on v: o's first request and a pin or unpin as one multicall; A keeps each entry's rc and done in
 * o->sub_*; returns the multicall's rc.  prefix (B): each entry as its own call, as far as it got in A; 0.
 */
static int apply_multi(struct sys *s, struct pvm_vcpu *v, struct op *o, bool prefix)
{
    unsigned int d[2] = { 0, 0 };
    struct mmuext_op e = ext(o->slot ? MMUEXT_UNPIN_TABLE : MMUEXT_PIN_L1_TABLE + o->level - 1, o->frame);
    if (prefix) {
        pvm_mmu_update(v, o->req, o->sub_done[0], &d[0], DOMID_SELF);
        if (o->sub_rc[1] == 0)
            pvm_mmuext_op(v, &e, 1, &d[1], DOMID_SELF);
        return 0;
    }
    struct multicall_entry mc[2];
    multicall_entries(mc, o->req, &e, d);
    if (hostmem_guest_view(&s->h, o->req, sizeof(o->req[0])) || hostmem_guest_view(&s->h, d, sizeof(d)) ||
        hostmem_guest_view(&s->h, &e, sizeof(e)))
        abort();
    int rc = pvm_multicall(v, mc, 2);
    hostmem_guest_views_clear(&s->h);
    for (int i = 0; i < 2; i++) {
        o->sub_rc[i] = (int)(long)mc[i].result;
        o->sub_done[i] = d[i];
    }
    return rc;
}

/* O_STORE, O_LOAD: one 8-byte guest access on v; 0, or -1 for a page fault. */
static int apply_access(struct pvm_vcpu *v, const struct op *o)
{
    struct pvm_fault f;
    if (o->k == O_STORE)
        return pvm_guest_store(v, o->va, o->val, 8, &f) == PVM_ACCESS_FAULT ? -1 : 0;
    uint64_t val;
    return pvm_guest_load(v, o->va, &val, &f) == PVM_ACCESS_FAULT ? -1 : 0;
}

/* What the builder and the allocator do (O_SET, O_RELEASE, O_ASSIGN of a free frame only) on s: 0 or an error. */
static int apply_machine(struct sys *s, const struct op *o)
{
    switch (o->k) {
    case O_SET:
        return pvm_poke(&s->m, o->frame, o->slot, o->val);
    case O_RELEASE:
        return pvm_release_page(&s->m, o->dom, o->frame);
    default: {   /* O_ASSIGN */
        struct pvm_frame_state st;
        pvm_frame_query(&s->m, o->frame, &st);
        return st.owner == DOMID_INVALID && !st.count ? pvm_assign_page(&s->m, o->frame, o->dom, 0) : -1;
    }
    }
}

/* Run o on s.  prefix: B's replay, with what A did (o->rc, o->done, o->sub_*) deciding how much to run. */
static void apply(struct sys *s, struct op *o, bool prefix)
{
    struct pvm_vcpu *v = pvm_vcpu(&s->m, o->dom, o->vcpu);
    int rc = 0;
    unsigned int done = 0;
    /* A failed single operation: nothing to replay, except an update_va_mapping whose mask could not be read
       (Xen keeps the entry it wrote and returns -EFAULT): B writes the entry without a flush. */
    if (prefix && o->rc && o->k != O_MMU && o->k != O_MULTI && !(o->k == O_UVM && o->rc == -XEN_EFAULT))
        return;
    switch (o->k) {
    case O_MMU:
        rc = pvm_mmu_update(v, o->req, prefix ? o->done : o->n, &done, DOMID_SELF);
        break;
    case O_PIN: case O_UNPIN: case O_BASE: case O_UBASE: case O_FLUSH:
        rc = apply_ext(v, o, &done);
        break;
    case O_UVM:
        rc = apply_uvm(s, v, o, prefix);
        break;
    case O_MULTI:
        rc = apply_multi(s, v, o, prefix);
        break;
    case O_STORE: case O_LOAD:
        rc = apply_access(v, o);
        break;
    case O_SET: case O_RELEASE: case O_ASSIGN:
        rc = apply_machine(s, o);
        break;
    case O_ASSIST:
        rc = pvm_vm_assist(v, o->flags ? VMASST_CMD_disable : VMASST_CMD_enable, VMASST_TYPE_writable_pagetables);
        break;
    default:
        break;
    }
    if (!prefix) {
        o->rc = rc;
        o->done = done;
    }
}

/* ---- the reproducer ---- */

/* Entry v as a script writes it (@frame|P|RW...), or as a number when it maps no fuzzed frame. */
static void put_value(FILE *f, uint64_t v)
{
    uint64_t mfn = (v & PVM_PTE_FRAME_MASK) >> 12, fl = v & ~PVM_PTE_FRAME_MASK;
    static const struct { uint64_t bit; const char *name; } names[] = {
        { _PAGE_PRESENT, "P" }, { _PAGE_RW, "RW" }, { _PAGE_USER, "US" }, { _PAGE_PWT, "PWT" }, { _PAGE_PCD, "PCD" },
        { _PAGE_ACCESSED, "A" }, { _PAGE_DIRTY, "D" }, { _PAGE_PSE, "PSE" }, { 1ULL << 63, "NX" },
    };
    if (mfn < BASE || mfn >= BASE + NFR || (fl & ~0x80000000000001BFULL)) {
        fprintf(f, "%#" PRIx64, v);
        return;
    }
    fprintf(f, "@%#" PRIx64, mfn);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (fl & names[i].bit)
            fprintf(f, "|%s", names[i].name);
}

/* va as a script writes it: va(l4,l3,l2,l1)+offset. */
static void put_va(FILE *f, uint64_t va)
{
    fprintf(f, "va(%u,%u,%u,%u)+%u", (unsigned int)(va >> 39) & 511, (unsigned int)(va >> 30) & 511,
            (unsigned int)(va >> 21) & 511, (unsigned int)(va >> 12) & 511, (unsigned int)(va & 0xFFF));
}

/* rc as a script writes it ("-EINVAL"), or as a number; the text may be overwritten by the next call. */
static const char *errname(int rc)
{
    static char b[16];
    switch (rc) {
    case 0: return "0";
    case -XEN_EINVAL: return "-EINVAL";
    case -XEN_EBUSY: return "-EBUSY";
    case -XEN_EPERM: return "-EPERM";
    case -XEN_ENOSYS: return "-ENOSYS";
    case -XEN_ESRCH: return "-ESRCH";
    case -XEN_EFAULT: return "-EFAULT";
    case -XEN_EOPNOTSUPP: return "-EOPNOTSUPP";
    default: snprintf(b, sizeof(b), "%d", rc); return b;
    }
}

/* One mmu_update request as a script writes it. */
static void put_req(FILE *f, const struct mmu_update *q)
{
    unsigned int cmd = (unsigned int)(q->ptr & 7);
    uint64_t mfn = q->ptr >> 12;
    unsigned int slot = (unsigned int)((q->ptr & 0xFFF) >> 3);
    if (cmd == MMU_MACHPHYS_UPDATE) {
        fprintf(f, "m2p @%#" PRIx64 " = %" PRIu64, mfn, q->val);
        return;
    }
    fprintf(f, "@%#" PRIx64 "[%u] = %s", mfn, slot, cmd == MMU_PT_UPDATE_PRESERVE_AD ? "preserve_ad " : "");
    put_value(f, q->val);
}

/* The single mmuext_op kinds (O_PIN, O_UNPIN, O_BASE, O_UBASE, O_FLUSH) as script lines of domain d. */
static void put_ext(FILE *f, const struct op *o, unsigned int d)
{
    switch (o->k) {
    case O_PIN:
        fprintf(f, "mmuext d%u pin_l%u @%#" PRIx64 " -> %s\n", d, o->level, o->frame, errname(o->rc));
        break;
    case O_UNPIN:
        fprintf(f, "mmuext d%u unpin @%#" PRIx64 " -> %s\n", d, o->frame, errname(o->rc));
        break;
    case O_BASE:
        fprintf(f, "mmuext d%uv%u new_baseptr @%#" PRIx64 " -> %s\n", d, o->vcpu, o->frame, errname(o->rc));
        break;
    case O_UBASE:
        fprintf(f, "mmuext d%uv%u new_user_baseptr %s%#" PRIx64 " -> %s\n", d, o->vcpu, o->frame ? "@" : "",
                o->frame, errname(o->rc));
        break;
    default:   /* O_FLUSH */
        if (o->flags) {
            fprintf(f, "mmuext d%uv%u invlpg_local ", d, o->vcpu);
            put_va(f, o->va);
            fputc('\n', f);
        } else {
            fprintf(f, "mmuext d%uv%u tlb_flush_local\n", d, o->vcpu);
        }
        break;
    }
}

/* O_UVM as a script line of domain d: va, entry, flush type, the vCPU mask (or the bad flags) and A's result. */
static void put_uvm(FILE *f, const struct op *o, unsigned int d)
{
    fprintf(f, "update_va_mapping d%uv%u ", d, o->vcpu);
    put_va(f, o->va);
    fputc(' ', f);
    put_value(f, o->val);
    fprintf(f, " %s", o->flags == 0 ? "none" : o->flags == 1 ? "tlb_flush" : "invlpg");
    if (o->mask == MASK_REAL)
        fprintf(f, " mask=%u", o->mask_bits);
    else if (o->mask)
        fprintf(f, " flags=%" PRIu64, o->flags | o->mask);
    fprintf(f, " -> %s\n", errname(o->rc));
}

/* O_MMU and O_MULTI as script lines of domain d, with A's results (a multicall's per entry). */
static void put_batch(FILE *f, const struct op *o, unsigned int d)
{
    if (o->k == O_MMU) {
        fprintf(f, "mmu_update d%u ", d);
        for (unsigned int k = 0; k < o->n; k++) {
            fprintf(f, k ? ", " : "");
            put_req(f, &o->req[k]);
        }
        fprintf(f, " -> %s done=%u\n", errname(o->rc), o->done);
        return;
    }
    fprintf(f, "multicall d%uv%u\nmmu_update ", d, o->vcpu);
    put_req(f, &o->req[0]);
    fprintf(f, " -> %s\n", errname(o->sub_rc[0]));
    if (o->slot)
        fprintf(f, "mmuext unpin @%#" PRIx64 " -> %s\nend\n", o->frame, errname(o->sub_rc[1]));
    else
        fprintf(f, "mmuext pin_l%u @%#" PRIx64 " -> %s\nend\n", o->level, o->frame, errname(o->sub_rc[1]));
}

/* O_STORE and O_LOAD as script lines of domain d; A's page fault as "-> #PF". */
static void put_access(FILE *f, const struct op *o, unsigned int d)
{
    fprintf(f, "%s d%uv%u ", o->k == O_STORE ? "store" : "load", d, o->vcpu);
    put_va(f, o->va);
    if (o->k == O_STORE) {
        fputc(' ', f);
        put_value(f, o->val);
    }
    fprintf(f, "%s\n", o->rc ? " -> #PF" : "");
}

/* O_SET, O_RELEASE, O_ASSIGN (only one that succeeded) and O_ASSIST as script lines of domain d. */
static void put_machine(FILE *f, const struct op *o, unsigned int d)
{
    switch (o->k) {
    case O_SET:
        fprintf(f, "set @%#" PRIx64 "[%u] = ", o->frame, o->slot);
        put_value(f, o->val);
        fprintf(f, " -> %s\n", errname(o->rc));
        break;
    case O_RELEASE:
        fprintf(f, "release d%u @%#" PRIx64 " -> %s\n", d, o->frame, errname(o->rc));
        break;
    case O_ASSIGN:
        if (!o->rc)
            fprintf(f, "assign d%u @%#" PRIx64 "\n", d, o->frame);
        break;
    default:   /* O_ASSIST */
        fprintf(f, "vm_assist d%u %s writable_pagetables\n", d, o->flags ? "disable" : "enable");
        break;
    }
}

/* Print what went wrong and ops[0..n) as a scenario script that sets up the same machine and replays them; abort. */
static void reproducer(const struct op *ops, size_t n, const char *what)
{
    FILE *f = stderr;
    fprintf(f, "\n# fuzz_hypercalls found: %s\n# the operations so far, as a scenario script (docs/scripts.md):\n", what);
    fprintf(f, "machine frames=%u\ndomain d1 vcpus=2\ndomain d2\n", BASE + NFR + 16);
    for (unsigned int i = 0; i < 40; i++)
        fprintf(f, "frame d%u f%u=%#x\n", i < 24 ? 1 : 2, i, BASE + i);
    for (size_t i = 0; i < n; i++) {
        const struct op *o = &ops[i];
        switch (o->k) {
        case O_MMU: case O_MULTI:
            put_batch(f, o, o->dom);
            break;
        case O_PIN: case O_UNPIN: case O_BASE: case O_UBASE: case O_FLUSH:
            put_ext(f, o, o->dom);
            break;
        case O_UVM:
            put_uvm(f, o, o->dom);
            break;
        case O_STORE: case O_LOAD:
            put_access(f, o, o->dom);
            break;
        case O_SET: case O_RELEASE: case O_ASSIGN: case O_ASSIST:
            put_machine(f, o, o->dom);
            break;
        default:
            break;
        }
    }
    fprintf(f, "audit\n");
    abort();
}

/* FUZZ_PROFILE=1 in the environment: at exit, say where the time went (the auditor, the other invariants,
   the lockstep comparison, everything else), measured per operation with a monotonic clock. */
static struct { bool on; double audit, invariants, lockstep, total; } prof;

/* Seconds on the monotonic clock. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* At exit with FUZZ_PROFILE: one line saying where the time went. */
static void prof_report(void)
{
    if (prof.total > 0)
        fprintf(stderr, "fuzz_hypercalls: of %.1f s in inputs, auditor %.1f%%, other invariants %.1f%%, "
                "lockstep comparison %.1f%%, the two machines and decoding %.1f%%\n", prof.total,
                100 * prof.audit / prof.total, 100 * (prof.invariants - prof.audit) / prof.total, 100 * prof.lockstep / prof.total,
                100 * (prof.total - prof.invariants - prof.lockstep) / prof.total);
}

/* ---- the invariants ---- */

struct audit_ctx {
    char text[256];
    unsigned long n;
};

/* pvm_audit's callback: count the issues, keep the first one's text. */
static void on_issue(void *ctx, const struct pvm_audit_issue *is)
{
    struct audit_ctx *a = ctx;
    if (!a->n++)
        snprintf(a->text, sizeof(a->text), "auditor: %s", is->text);
}

/* Is the frame a validated L1-L4 that something references as a table? */
static bool in_use_table(const struct pvm_frame_state *st)
{
    return st->type >= PVM_TYPE_L1 && st->type <= PVM_TYPE_L4 && st->type_count > 0 && st->validated;
}

/* Returns NULL, or what is wrong with A. */
static const char *check(struct sys *a, char *buf, size_t n)
{
    struct audit_ctx ac = { .n = 0 };
    double t0 = prof.on ? now() : 0;
    bool issues = pvm_audit(&a->m, a->scratch, on_issue, &ac);
    if (prof.on)
        prof.audit += now() - t0;
    if (issues) {
        snprintf(buf, n, "%s", ac.text);
        return buf;
    }
    for (uint64_t mfn = BASE; mfn < BASE + NFR; mfn++) {
        struct pvm_frame_state st;
        pvm_frame_query(&a->m, mfn, &st);
        if (!in_use_table(&st))
            continue;
        const uint64_t *t = hostmem_peek(&a->h, mfn);
        for (unsigned int slot = 0; slot < 512; slot++) {
            uint64_t e = t ? t[slot] : 0;
            if (st.type == PVM_TYPE_L4 && slot >= PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT &&
                slot <= PVM_ROOT_PAGETABLE_LAST_XEN_SLOT) {
                uint64_t want = slot == PVM_LINEAR_PT_SLOT ? (mfn << 12) | LINEAR_PT_FLAGS : 0;
                if (e != want) {
                    snprintf(buf, n, "L4 %#" PRIx64 " slot %u holds %016" PRIx64 ", Xen's value is %016" PRIx64, mfn,
                             slot, e, want);
                    return buf;
                }
                continue;
            }
            if (!(e & _PAGE_PRESENT))
                continue;
            uint64_t tgt = (e & PVM_PTE_FRAME_MASK) >> 12;
            struct pvm_frame_state ts;
            pvm_frame_query(&a->m, tgt, &ts);
            if (ts.valid && !ts.io && ts.owner != st.owner) {
                snprintf(buf, n, "%s %#" PRIx64 " of d%u slot %u maps frame %#" PRIx64 " owned by %u",
                         pvm_type_name(st.type), mfn, st.owner, slot, tgt, ts.owner);
                return buf;
            }
            if (st.type == PVM_TYPE_L1 && (e & _PAGE_RW) && in_use_table(&ts)) {
                snprintf(buf, n, "L1 %#" PRIx64 " slot %u maps %s %#" PRIx64 " writable", mfn, slot,
                         pvm_type_name(ts.type), tgt);
                return buf;
            }
        }
    }
    return NULL;
}

/* A and B must be the same machine, up to what a type with no references remembers. */
static const char *same(struct sys *a, struct sys *b, char *buf, size_t n)
{
    for (uint64_t mfn = BASE; mfn < BASE + NFR; mfn++) {
        struct pvm_frame_state x, y;
        pvm_frame_query(&a->m, mfn, &x);
        pvm_frame_query(&b->m, mfn, &y);
        bool typed = x.type_count || y.type_count;
        if (x.owner != y.owner || x.count != y.count || x.allocated != y.allocated || x.type_count != y.type_count ||
            x.pinned != y.pinned || x.linear_pt_count != y.linear_pt_count || x.m2p != y.m2p ||
            (typed && (x.type != y.type || x.validated != y.validated))) {
            snprintf(buf, n, "frame %#" PRIx64 " differs from the replay of completed work: owner %u/%u count %" PRIu64
                     "/%" PRIu64 " type %s/%s tc %" PRIu64 "/%" PRIu64, mfn, x.owner, y.owner, x.count, y.count,
                     pvm_type_name(x.type), pvm_type_name(y.type), x.type_count, y.type_count);
            return buf;
        }
        const uint64_t *p = hostmem_peek(&a->h, mfn), *q = hostmem_peek(&b->h, mfn);
        if (p == q || (p && q && !memcmp(p, q, 4096)))   /* the common case, at memcmp speed */
            continue;
        for (unsigned int slot = 0; slot < 512; slot++)
            if (((p ? p[slot] : 0) ^ (q ? q[slot] : 0)) & ~ADJUST_BITS) {
                snprintf(buf, n, "frame %#" PRIx64 " slot %u differs from the replay of completed work", mfn, slot);
                return buf;
            }
    }
    for (domid_t d = 1; d <= 2; d++) {
        const struct pvm_domain *x = pvm_domain(&a->m, d), *y = pvm_domain(&b->m, d);
        if (x->vm_assist != y->vm_assist)
            return "vm_assist differs from the replay of completed work";
        for (unsigned int i = 0; i < x->nr_vcpus; i++)
            if (x->vcpu[i].guest_table != y->vcpu[i].guest_table ||
                x->vcpu[i].guest_table_user != y->vcpu[i].guest_table_user)
                return "a root differs from the replay of completed work";
    }
    return NULL;
}

/*
 * After an operation, give B the TLB state A has: every vCPU's cached
 * translations and flush time, the TLB clock, and the stamps of frames at
 * type count 0.  A failed operation may legitimately have flushed in A what B
 * never saw (flushes are not undone), and the lockstep compares only what a
 * guest can rely on.  Nothing is flushed: a stale translation stays in both,
 * so the invariants see it and later accesses through it behave alike.
 */
static void sync_tlbs(const struct sys *a, struct sys *b)
{
    b->m.tlbflush_clock = a->m.tlbflush_clock;
    for (domid_t d = 1; d <= 2; d++) {
        const struct pvm_domain *x = pvm_domain((struct pvm_machine *)&a->m, d);
        struct pvm_domain *y = pvm_domain(&b->m, d);
        for (unsigned int i = 0; i < x->nr_vcpus; i++) {
            memcpy(y->vcpu[i].tlb, x->vcpu[i].tlb, sizeof(y->vcpu[i].tlb));
            y->vcpu[i].tlbflush_time = x->vcpu[i].tlbflush_time;
        }
    }
    for (uint64_t mfn = 0; mfn < a->m.nr_frames; mfn++) {
        const struct page_info *p = &a->m.frames[mfn];
        struct page_info *q = &b->m.frames[mfn];
        if (!(p->type_info & PGT_count_mask) && !(q->type_info & PGT_count_mask))
            q->type_info = (q->type_info & ~PGT_aux_mask) | (p->type_info & PGT_aux_mask);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* libFuzzer's start: FUZZ_PROFILE set, and not 0, turns the profile on. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *e = getenv("FUZZ_PROFILE");
    if (e && *e && *e != '0') {
        prof.on = true;
        atexit(prof_report);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * One input: up to MAX_OPS operations, each run on A as decoded and on B as far as A got, then the invariants
 * checked; a violation prints a reproducer and aborts.  Always 0.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct op ops[MAX_OPS];
    double start = prof.on ? now() : 0;
    struct sys a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    if (sys_init(&a) || sys_init(&b)) {
        fprintf(stderr, "fuzz_hypercalls: cannot set up the machines\n");
        abort();
    }
    struct rd r = { data, size };
    size_t n = 0;
    char buf[320];
    while (r.n && n < MAX_OPS) {
        struct op *o = &ops[n++];
        decode(&r, o);
        apply(&a, o, false);
        apply(&b, o, true);
        sync_tlbs(&a, &b);
        double t0 = prof.on ? now() : 0;
        const char *bad = check(&a, buf, sizeof(buf));
        double t1 = prof.on ? now() : 0;
        if (!bad)
            bad = same(&a, &b, buf, sizeof(buf));
        if (prof.on) {
            double t2 = now();
            prof.invariants += t1 - t0;
            prof.lockstep += t2 - t1;
        }
        if (bad)
            reproducer(ops, n, bad);
    }
    sys_free(&a);
    sys_free(&b);
    if (prof.on)
        prof.total += now() - start;
    return 0;
}
