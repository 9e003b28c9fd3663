/*
 * compile.c - a scenario script as a program for our PV kernel (xenprog.h):
 * which of its steps one dom0 can issue on real Xen or pvmmu's hypervisor,
 * and why each other step is skipped; each step that can run, with the
 * frames it names relocated to the frames dom0 is given there.  The run and
 * the comparison are script_xen.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "hostmem.h"
#include "xen_names.h"
#include "xenprog.h"

const char *const skip_text[K_COUNT] = {
    [K_ASSERT] = "asserts simulator state (counts, counters, log text, causes, mappings) a guest cannot read on Xen",
    [K_OTHER_DOMAIN] = "issued by a second domain: one dom0 cannot act as two domains",
    [K_VCPU] = "runs on a second vCPU: dom0 boots with one",
    [K_ROOT] = "loads a null kernel root: dom0 cannot run without one",
    [K_USER_ROOT] = "sets the user root of a script whose kernel root dom0 already keeps as its user root",
    [K_MODE] = "switches to guest user mode: dom0 has no user mode to run in",
    [K_VA_SLOT] = "uses a virtual address in an L4 slot that Xen or dom0's own kernel occupies",
    [K_MC_VA] = "a multicall entry through the page tables: dom0 links the script's tables for single steps only",
    [K_FRAME] = "names a frame dom0 does not own (another domain's, an I/O frame, or an undeclared machine frame)",
    [K_FOREIGN] = "names a foreign or I/O page owner (fd=, pfd=): dom0 has no second domain here",
    [K_XEN_SLOT] = "reads a Xen-private L4 slot other than 258: pvmmu does not model their contents",
    [K_RAW] = "a raw hypercall or iret: not safe to issue as dom0",
    [K_BIG] = "a batch longer than the compiled form carries",
    [K_ALLOC] = "hands a given frame to a domain: on Xen the allocator, not the script, picks the frame",
    [K_GONE] = "names a frame dom0 gave back earlier: it is no longer dom0's to read or write",
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = host_realloc(b->p, cap, "the compiled program");
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static int frame_index(const struct xscript *x, uint64_t mfn)
{
    for (size_t i = 0; i < x->nframes; i++)
        if (x->frames[i] == mfn)
            return (int)i;
    return -1;
}

/* A whole frame number: it must be one of ours. */
static enum skip rel_mfn(const struct xscript *x, uint64_t mfn, uint64_t *reloc)
{
    int f = frame_index(x, mfn);
    if (f < 0)
        return K_FRAME;
    *reloc = XP_RELOC(f, XP_R_MFN);
    return K_RUN;
}

/* QEMU's physical-address width (-cpu max under TCG): real Xen's dom0 may map the I/O frames below 2^28. */
#define ORACLE_PADDR_BITS 40

/*
 * A frame no one may map on either side: not RAM, at or above 2^paddr_bits
 * of both the oracle's host and the script's machine, and outside the I/O
 * range the script gives its first domain.  Xen and the simulator refuse it
 * without touching anything, so it goes to Xen as it is, unrelocated.
 */
static bool unmappable_frame(const struct xscript *x, uint64_t mfn)
{
    const struct domain_decl *d = x->s->ndoms ? &x->s->doms[0] : NULL;
    uint64_t first = 0, last = (1ULL << (x->s->paddr_bits - 12)) - 1;   /* the simulator's dom0 (pvm_domain_create) */
    if (d && d->iomem_set) {
        first = d->iomem_first;
        last = d->iomem_last;
    }
    return mfn >= x->s->nr_frames && mfn >= (1ULL << (ORACLE_PADDR_BITS - 12)) && (mfn < first || mfn > last);
}

/* An entry or an entry's address: a present entry must map one of our frames, or one no one may map. */
static enum skip rel_addr(const struct xscript *x, uint64_t v, bool must, uint64_t *reloc)
{
    *reloc = 0;
    uint64_t mfn = (v & PVM_PTE_FRAME_MASK) >> 12;
    int f = frame_index(x, mfn);
    if (f >= 0)
        *reloc = XP_RELOC(f, XP_R_ADDR);
    else if (must && !unmappable_frame(x, mfn))
        return K_FRAME;
    return K_RUN;
}

/* Is mfn a frame the script declares for another domain or as I/O? */
static bool declared_elsewhere(const struct xscript *x, uint64_t mfn)
{
    return script_frame_at(x->s, mfn) && frame_index(x, mfn) < 0;
}

static bool own_fd(const struct xscript *x, unsigned int fd)
{
    return fd == DOMID_SELF || fd == x->dom;
}

/* dom0 links a script's L4 slot into its own for a va step: not Xen's slots, not its kernel's (the last). */
static bool va_slot_ok(uint64_t va)
{
    unsigned int slot = (unsigned int)((va >> 39) & 511);
    return slot < PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT ||
           (slot > PVM_ROOT_PAGETABLE_LAST_XEN_SLOT && slot < XP_DOM0_L4_SLOT);
}

/* The program's step kind for a script step kind (0 for steps that never reach real Xen). */
static unsigned int xp_kind_of(int kind)
{
    switch (kind) {
    case S_SET: return XP_SET;
    case S_EXPECT_ENTRY: return XP_READ;
    case S_RELEASE: return XP_RELEASE;
    case S_MMU_UPDATE: return XP_MMU_UPDATE;
    case S_MMUEXT: return XP_MMUEXT;
    case S_VM_ASSIST: return XP_VM_ASSIST;
    case S_MULTICALL: return XP_MULTICALL;
    case S_SET_CR3: return XP_ROOT;
    case S_UVM: return XP_UVM;
    case S_STORE: return XP_STORE;
    case S_LOAD: return XP_LOAD;
    default: return 0;
    }
}

/* The items of a step that goes to Xen as one call, or why it cannot go. */
/* mmu_update's requests into it[]: each table address and each present entry's frame relocated. */
static enum skip compile_mmu_update(const struct xscript *x, const struct step *st, struct xp_item *it)
{
    if (!own_fd(x, st->foreigndom & 0xFFFF) || (st->foreigndom >> 16))
        return K_FOREIGN;
    if (st->count > XP_MAX_ITEMS)
        return K_BIG;
    enum skip k = K_RUN;
    for (unsigned int i = 0; i < st->count && k == K_RUN; i++) {
        uint64_t ptr = st->reqs[i].ptr, val = st->reqs[i].val;
        unsigned int cmd = (unsigned int)(ptr & 7);
        it[i].w[0] = ptr;
        it[i].w[1] = val;
        if (cmd <= MMU_PT_UPDATE_NO_TRANSLATE)
            k = rel_addr(x, ptr, true, &it[i].reloc[0]);
        if (k == K_RUN && cmd != MMU_MACHPHYS_UPDATE && cmd <= MMU_PT_UPDATE_NO_TRANSLATE)
            k = rel_addr(x, val, (val & _PAGE_PRESENT) != 0, &it[i].reloc[1]);
    }
    return k;
}

/* One mmuext operation (the script's i-th) into *it: its frames relocated, a vCPU mask carried as data. */
static enum skip compile_ext_op(const struct xscript *x, const struct step *st, unsigned int i, struct xp_item *it)
{
    const struct mmuext_op *op = &st->ops[i];
    enum skip k = K_RUN;
    it->w[0] = op->cmd;
    memcpy(&it->w[1], &op->arg1, sizeof(it->w[1]));
    memcpy(&it->w[2], &op->arg2, sizeof(it->w[2]));
    switch (op->cmd) {
    case MMUEXT_NEW_BASEPTR:   /* dom0 issues it as new_user_baseptr (xenprog.h) */
        return op->arg1.mfn ? rel_mfn(x, op->arg1.mfn, &it->reloc[1]) : K_ROOT;
    case MMUEXT_NEW_USER_BASEPTR:
        if (x->kernel_root)
            return K_USER_ROOT;
        return op->arg1.mfn ? rel_mfn(x, op->arg1.mfn, &it->reloc[1]) : K_RUN;
    case MMUEXT_COPY_PAGE:
        k = rel_mfn(x, op->arg2.src_mfn, &it->reloc[2]);
        /* fall through */
    case MMUEXT_PIN_L1_TABLE: case MMUEXT_PIN_L2_TABLE: case MMUEXT_PIN_L3_TABLE: case MMUEXT_PIN_L4_TABLE:
    case MMUEXT_UNPIN_TABLE: case MMUEXT_CLEAR_PAGE: case MMUEXT_MARK_SUPER: case MMUEXT_UNMARK_SUPER:
        return k == K_RUN ? rel_mfn(x, op->arg1.mfn, &it->reloc[1]) : k;
    case MMUEXT_TLB_FLUSH_MULTI: case MMUEXT_INVLPG_MULTI:
        if (st->mask_used[i]) {
            it->w[2] = st->masks[i];
            it->reloc[2] = XP_RELOC(0, XP_R_MASK);
        }
        return K_RUN;
    case MMUEXT_TLB_FLUSH_LOCAL: case MMUEXT_INVLPG_LOCAL: case MMUEXT_TLB_FLUSH_ALL: case MMUEXT_INVLPG_ALL:
    case MMUEXT_FLUSH_CACHE: case MMUEXT_FLUSH_CACHE_GLOBAL: case MMUEXT_SET_LDT:
        return K_RUN;
    default:   /* an unknown command: its frame argument, if it names one, is relocated */
        if (op->arg1.mfn)
            rel_mfn(x, op->arg1.mfn, &it->reloc[1]);
        return K_RUN;
    }
}

static enum skip compile_mmuext(const struct xscript *x, const struct step *st, struct xp_item *it)
{
    if (!own_fd(x, st->foreigndom))
        return K_FOREIGN;
    if (st->count > XP_MAX_ITEMS)
        return K_BIG;
    enum skip k = K_RUN;
    for (unsigned int i = 0; i < st->count && k == K_RUN; i++)
        k = compile_ext_op(x, st, i, &it[i]);
    return k;
}

/* update_va_mapping: va, value and flags, and a vCPU mask as a second item; *count gets the items used. */
static enum skip compile_uvm(const struct xscript *x, const struct step *st, struct xp_item *it, uint64_t *count)
{
    it[0].w[0] = st->va;
    it[0].w[1] = st->val;
    it[0].w[2] = st->flags;
    *count = 1;
    if (st->mask_used && st->mask_used[0]) {
        it[0].w[2] = st->flags & UVMF_FLUSHTYPE_MASK;
        it[1].w[0] = st->masks[0];
        it[1].reloc[0] = XP_RELOC(0, XP_R_MASK);
        *count = 2;
    }
    return va_slot_ok(st->va) ? rel_addr(x, st->val, (st->val & _PAGE_PRESENT) != 0, &it[0].reloc[1]) : K_VA_SLOT;
}

/* A guest store or load: va, value and size; a stored entry naming another domain's frame cannot be carried. */
static enum skip compile_access(const struct xscript *x, const struct step *st, struct xp_item *it)
{
    it[0].w[0] = st->va;
    it[0].w[1] = st->val;
    it[0].w[2] = st->bytes;
    enum skip k = va_slot_ok(st->va) ? rel_addr(x, st->val, false, &it[0].reloc[1]) : K_VA_SLOT;
    /* A stored value may be data or an entry; one that maps a frame the script gives to someone else is
       an entry real Xen would see with a different frame number */
    if (k == K_RUN && st->kind == S_STORE && (st->val & _PAGE_PRESENT) && !it[0].reloc[1] &&
        declared_elsewhere(x, (st->val & PVM_PTE_FRAME_MASK) >> 12))
        k = K_FRAME;
    return k;
}

/* A hypercall or guest access step of dom0's domain into the program (with b), or why it cannot run there. */
static enum skip compile_call(const struct xscript *x, const struct step *st, struct buf *b)
{
    if (st->dom != x->dom)
        return K_OTHER_DOMAIN;
    if (st->vcpu)
        return K_VCPU;
    struct xp_step h = { .line = (uint64_t)st->line, .kind = xp_kind_of(st->kind), .count = st->count };
    struct xp_item it[XP_MAX_ITEMS];
    memset(it, 0, sizeof(it));
    enum skip k;
    switch (st->kind) {
    case S_VM_ASSIST:
        h.count = 1;
        it[0].w[0] = st->cmd;
        it[0].w[1] = st->type;
        k = K_RUN;
        break;
    case S_MMU_UPDATE:
        h.aux = DOMID_SELF;
        k = compile_mmu_update(x, st, it);
        break;
    case S_MMUEXT:
        h.aux = DOMID_SELF;
        k = compile_mmuext(x, st, it);
        break;
    case S_UVM:
        k = compile_uvm(x, st, it, &h.count);
        break;
    case S_STORE:
    case S_LOAD:
        h.count = 1;
        k = compile_access(x, st, it);
        break;
    case S_SET_CR3:
        h.count = 1;
        k = rel_mfn(x, st->mfn, &it[0].reloc[0]);
        break;
    default:
        return K_RAW;
    }
    if (k == K_RUN && b) {
        put(b, &h, sizeof(h));
        put(b, it, sizeof(it[0]) * h.count);
    }
    return k;
}

/* Did a step before step i give frame mfn of domain dom back?  Its contents are then Xen's, not the script's. */
static bool released_before(const struct script *s, size_t i, domid_t dom, uint64_t mfn)
{
    for (size_t j = 0; j < i; j++)
        if (s->steps[j].kind == S_RELEASE && s->steps[j].dom == dom && s->steps[j].mfn == mfn)
            return true;
    return false;
}

/*
 * set, an entry's assertion or release (step i): one slot of one of dom0's own frames, the
 * frame (and a stored entry's frame) relocated; written to b (if not NULL) when it can run.
 */
static enum skip compile_slot_step(const struct xscript *x, size_t i, struct buf *b)
{
    const struct step *st = &x->s->steps[i];
    struct xp_step h = { .line = (uint64_t)st->line, .count = 1, .kind = xp_kind_of(st->kind), .aux = st->slot };
    struct xp_item it;
    memset(&it, 0, sizeof(it));
    it.w[0] = st->mfn;
    it.w[1] = st->val;
    enum skip k = K_RUN;
    if (st->kind == S_RELEASE && st->dom != x->dom)
        k = K_OTHER_DOMAIN;
    else if (st->kind == S_EXPECT_ENTRY && st->slot >= PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT &&
             st->slot <= PVM_ROOT_PAGETABLE_LAST_XEN_SLOT && st->slot != PVM_LINEAR_PT_SLOT)
        k = K_XEN_SLOT;
    if (k == K_RUN && st->kind != S_RELEASE && released_before(x->s, i, x->dom, st->mfn))
        k = K_GONE;
    if (k == K_RUN)
        k = rel_mfn(x, st->mfn, &it.reloc[0]);
    if (k == K_RUN && st->kind == S_SET)
        k = rel_addr(x, st->val, (st->val & _PAGE_PRESENT) != 0, &it.reloc[1]);
    if (k == K_RUN && b) {
        put(b, &h, sizeof(h));
        put(b, &it, sizeof(it));
    }
    return k;
}

/* Entry e of multicall st as a step of its own: it runs as the multicall's domain and vCPU. */
static struct step mc_sub(const struct step *st, size_t e)
{
    struct step sub = st->sub[e];
    sub.dom = st->dom;
    sub.vcpu = st->vcpu;
    return sub;
}

/* A multicall: every entry must go to Xen as one call, none through the page tables; written to b (if set). */
static enum skip compile_multicall(const struct xscript *x, const struct step *st, struct buf *b)
{
    enum skip k = K_RUN;
    if (st->dom != x->dom)
        k = K_OTHER_DOMAIN;
    else if (st->vcpu)
        k = K_VCPU;
    else if (st->nsub > XP_MAX_BATCH)
        k = K_BIG;
    for (size_t e = 0; e < st->nsub && k == K_RUN; e++) {
        struct step sub = mc_sub(st, e);
        k = sub.kind == S_UVM || sub.kind == S_UVM_OTHER ? K_MC_VA : compile_call(x, &sub, NULL);
    }
    if (k != K_RUN || !b)
        return k;
    struct xp_step h = { .line = (uint64_t)st->line, .count = st->nsub, .kind = xp_kind_of(S_MULTICALL) };
    put(b, &h, sizeof(h));
    for (size_t e = 0; e < st->nsub; e++) {
        struct step sub = mc_sub(st, e);
        compile_call(x, &sub, b);
    }
    return K_RUN;
}

/* Step i's fate on the target: K_RUN (then written to b, if not NULL), K_SETUP, or why it is skipped. */
static enum skip compile_step(const struct xscript *x, size_t i, struct buf *b)
{
    const struct step *st = &x->s->steps[i];
    switch (st->kind) {
    case S_DOMAIN: case S_FRAME: case S_IO:
        return K_SETUP;
    case S_SET: case S_EXPECT_ENTRY: case S_RELEASE:
        return compile_slot_step(x, i, b);
    case S_VM_ASSIST: case S_MMU_UPDATE: case S_MMUEXT: case S_UVM: case S_STORE: case S_LOAD: case S_SET_CR3:
        return compile_call(x, st, b);
    case S_MULTICALL:
        return compile_multicall(x, st, b);
    case S_MODE:
        return K_MODE;
    case S_UVM_OTHER:
        return K_FOREIGN;
    case S_RAW_OP:
        return K_RAW;
    case S_ASSIGN:
        return K_ALLOC;
    default:
        return K_ASSERT;
    }
}

/* Decide each step's fate (x->plan, x->why); with b, also write the compiled steps.  Returns how many run. */
static size_t compile(struct xscript *x, struct buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < x->s->nsteps; i++) {
        enum skip k = compile_step(x, i, b);
        x->plan[i] = k == K_RUN ? 1 : k == K_SETUP ? 0 : -1;
        x->why[i] = (unsigned char)k;
        n += k == K_RUN;
    }
    return n;
}

void xscript_record(void *ctx, size_t i, const struct xp_result *res)
{
    struct xscript *x = ctx;
    if (x->plan[i] <= 0)
        return;
    struct xp_result r = *res;
    const struct step *st = &x->s->steps[i];
    r.kind = xp_kind_of(st->kind);
    for (size_t e = 0; e < st->nsub && e < XP_MAX_BATCH; e++)
        r.sub_kind[e] = xp_kind_of(st->sub[e].kind);
    char text[600];
    free(x->rec[i]);
    x->rec[i] = host_strdup(xp_result_text(&r, text, sizeof(text)), "a step's result");
}

/* Set x up for script s with dom0 standing for domain dom: its frames and whether it loads a kernel root. */
static int xscript_init(struct xscript *x, const struct script *s, domid_t dom)
{
    memset(x, 0, sizeof(*x));
    x->s = s;
    x->dom = dom;
    x->frames = host_calloc(s->nsteps + 1, sizeof(*x->frames), "the differential's state");
    x->plan = host_calloc(s->nsteps + 1, 1, "the differential's state");
    x->why = host_calloc(s->nsteps + 1, 1, "the differential's state");
    x->own = host_calloc(s->nsteps + 1, sizeof(char *), "the differential's state");
    x->sim = host_calloc(s->nsteps + 1, sizeof(char *), "the differential's state");
    x->xen = host_calloc(s->nsteps + 1, sizeof(char *), "the differential's state");
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct step *st = &s->steps[i];
        if (st->kind == S_FRAME && st->dom == x->dom && frame_index(x, st->mfn) < 0)
            x->frames[x->nframes++] = st->mfn;
        if (st->dom == x->dom && st->kind == S_SET_CR3)
            x->kernel_root = true;
        for (unsigned int k = 0; st->dom == x->dom && st->kind == S_MMUEXT && k < st->count; k++)
            x->kernel_root |= st->ops[k].cmd == MMUEXT_NEW_BASEPTR;
        for (size_t e = 0; st->dom == x->dom && st->kind == S_MULTICALL && e < st->nsub; e++)
            for (unsigned int k = 0; st->sub[e].kind == S_MMUEXT && k < st->sub[e].count; k++)
                x->kernel_root |= st->sub[e].ops[k].cmd == MMUEXT_NEW_BASEPTR;
    }
    return x->nframes > XP_MAX_FRAMES ? -1 : 0;
}

void xscript_free(struct xscript *x)
{
    for (size_t i = 0; x->own && x->sim && x->xen && i < x->s->nsteps; i++) {
        free(x->own[i]);
        free(x->sim[i]);
        free(x->xen[i]);
    }
    free(x->own);
    free(x->sim);
    free(x->xen);
    free(x->frames);
    free(x->plan);
    free(x->why);
}

long xscript_plan(struct xscript *x, const struct script *s)
{
    long n = 0;
    for (size_t d = 0; d < (s->ndoms ? s->ndoms : 1); d++) {
        if (d)
            xscript_free(x);
        if (xscript_init(x, s, s->ndoms ? s->doms[d].id : 0))
            return -1;
        if ((n = (long)compile(x, NULL)))
            break;
    }
    if (!n && s->ndoms > 1) {   /* report the first domain's reasons */
        xscript_free(x);
        if (xscript_init(x, s, s->doms[0].id))
            return -1;
        compile(x, NULL);
    }
    return n;
}

size_t program_build(struct xscript *xs, size_t n, struct xscript **grp, bool linear_pt, struct buf *b)
{
    size_t ng = 0;
    struct xp_header h = { XP_MAGIC, 0 };
    put(b, &h, sizeof(h));
    for (size_t i = 0; i < n; i++) {
        if (xs[i].s->linear_pt != linear_pt)
            continue;
        grp[ng++] = &xs[i];
        struct xp_scen sc = { xs[i].nframes, 0 };
        size_t at = b->len;
        put(b, &sc, sizeof(sc));
        put(b, xs[i].frames, xs[i].nframes * sizeof(uint64_t));
        sc.nsteps = compile(&xs[i], b);
        memcpy(b->p + at, &sc, sizeof(sc));
    }
    if (!ng) {
        free(b->p);
        *b = (struct buf){ 0 };
        return 0;
    }
    ((struct xp_header *)(void *)b->p)->nscen = ng;
    return ng;
}
