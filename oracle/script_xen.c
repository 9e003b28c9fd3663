/*
 * script_xen.c - scenario scripts on real Xen: each script's steps that one
 * dom0 can express are compiled (xenprog.h), run by our PV kernel as dom0
 * of Debian's Xen 4.17 under QEMU, and run on the simulator too, with the
 * script's first domain as the control domain, as dom0 is.  Both sides skip
 * the same steps, so both see the same state; every compared step must give
 * the same text (return code, done count, results of a batch, an entry's
 * stored value).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "explain.h"
#include "hostmem.h"
#include "script_int.h"
#include "script_xen.h"
#include "qemu.h"
#include "xenprog.h"

/* Why a step is not run on Xen (and so not on the simulator either). */
enum skip {
    K_RUN, K_SETUP, K_ASSERT, K_OTHER_DOMAIN, K_VCPU, K_ROOT, K_USER_ROOT, K_MODE, K_VA_SLOT, K_MC_VA, K_FRAME,
    K_FOREIGN, K_XEN_SLOT, K_RAW, K_BIG, K_ALLOC, K_GONE, K_COUNT
};
static const char *const skip_text[K_COUNT] = {
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

struct buf {
    uint8_t *p;
    size_t len, cap;
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

/* One script as the differential sees it. */
struct xscript {
    const struct script *s;
    domid_t dom;                  /* the domain dom0 stands for */
    uint64_t *frames;             /* the simulator's numbers of that domain's frames */
    size_t nframes;
    signed char *plan;            /* per step: -1 skip, 0 run on the simulator only (setup), 1 compare */
    unsigned char *why;           /* per step: enum skip */
    char **own, **sim, **xen;     /* per compared step: result text of the script's own run, as dom0, on the target */
    char **rec;                   /* where record() puts the run in progress: own or sim */
    bool kernel_root;             /* the script loads a kernel root (dom0 keeps it as its user root) */
    bool own_failed, dom0_failed; /* the script as written failed on the simulator; the auditor, as dom0 */
    size_t compared, agreed, differed, missing;
    size_t checked, unmet;        /* compared steps judged by the script's expectations on the target, and failed */
    size_t context;               /* compared steps whose result as dom0 differs from the script's own run */
};

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
    uint64_t mfn = (v & XP_ADDR_MASK) >> 12;
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

/* dom0 links a script's L4 slot into its own for a va step: not Xen's slots, not its kernel's (511). */
static bool va_slot_ok(uint64_t va)
{
    unsigned int slot = (unsigned int)((va >> 39) & 511);
    return slot < 256 || (slot >= 272 && slot < 511);
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
        declared_elsewhere(x, (st->val & XP_ADDR_MASK) >> 12))
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

/* Decide each step's fate; with b, also write the compiled steps. */
static size_t compile(struct xscript *x, struct buf *b)
{
    const struct script *s = x->s;
    size_t n = 0;
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct step *st = &s->steps[i];
        struct xp_step h = { .line = (uint64_t)st->line, .count = 1 };
        struct xp_item it;
        memset(&it, 0, sizeof(it));
        enum skip k = K_RUN;
        switch (st->kind) {
        case S_DOMAIN: case S_FRAME: case S_IO:
            k = K_SETUP;
            break;
        case S_SET: case S_EXPECT_ENTRY: case S_RELEASE:
            h.kind = xp_kind_of(st->kind);
            h.aux = st->slot;
            it.w[0] = st->mfn;
            it.w[1] = st->val;
            if (st->kind == S_RELEASE && st->dom != x->dom)
                k = K_OTHER_DOMAIN;
            else if (st->kind == S_EXPECT_ENTRY && st->slot >= 256 && st->slot < 272 && st->slot != 258)
                k = K_XEN_SLOT;
            if (k == K_RUN && st->kind != S_RELEASE && released_before(s, i, x->dom, st->mfn))
                k = K_GONE;
            if (k == K_RUN)
                k = rel_mfn(x, st->mfn, &it.reloc[0]);
            if (k == K_RUN && st->kind == S_SET)
                k = rel_addr(x, st->val, (st->val & _PAGE_PRESENT) != 0, &it.reloc[1]);
            if (k == K_RUN && b) {
                put(b, &h, sizeof(h));
                put(b, &it, sizeof(it));
            }
            break;
        case S_VM_ASSIST: case S_MMU_UPDATE: case S_MMUEXT: case S_UVM: case S_STORE: case S_LOAD: case S_SET_CR3:
            k = compile_call(x, st, b);
            break;
        case S_MULTICALL:
            if (st->dom != x->dom)
                k = K_OTHER_DOMAIN;
            else if (st->vcpu)
                k = K_VCPU;
            else if (st->nsub > XP_MAX_BATCH)
                k = K_BIG;
            for (size_t e = 0; e < st->nsub && k == K_RUN; e++) {
                struct step sub = st->sub[e];
                sub.dom = st->dom;
                sub.vcpu = st->vcpu;
                k = sub.kind == S_UVM || sub.kind == S_UVM_OTHER ? K_MC_VA : compile_call(x, &sub, NULL);
            }
            if (k == K_RUN && b) {
                h.kind = xp_kind_of(S_MULTICALL);
                h.count = st->nsub;
                put(b, &h, sizeof(h));
                for (size_t e = 0; e < st->nsub; e++) {
                    struct step sub = st->sub[e];
                    sub.dom = st->dom;
                    sub.vcpu = st->vcpu;
                    compile_call(x, &sub, b);
                }
            }
            break;
        case S_MODE:
            k = K_MODE;
            break;
        case S_UVM_OTHER:
            k = K_FOREIGN;
            break;
        case S_RAW_OP:
            k = K_RAW;
            break;
        case S_ASSIGN:
            k = K_ALLOC;
            break;
        default:
            k = K_ASSERT;
            break;
        }
        x->plan[i] = k == K_RUN ? 1 : k == K_SETUP ? 0 : -1;
        x->why[i] = (unsigned char)k;
        n += k == K_RUN;
    }
    return n;
}

/* A step's result, as text, into x->rec (the script's own run or the run as dom0), for compared steps only. */
static void record(void *ctx, size_t i, const struct xp_result *res)
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

static void xscript_free(struct xscript *x);

/*
 * Set x up for script s and plan its steps.  dom0 stands for the script's first domain, or, if none of
 * that domain's steps can run as dom0 (a toolstack declared first, say), for the first domain whose can.
 * Returns the number of steps to compare (0: nothing can be compared), or -1 if out of memory or a
 * domain has more frames than a program carries.
 */
static long xscript_plan(struct xscript *x, const struct script *s)
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

static void xscript_free(struct xscript *x)
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

/* ---- QEMU ---- */

static char *module_arg(const char *dom0, const char *prog)
{
    size_t n = strlen(dom0) * 2 + strlen(prog) * 2 + 2;
    char *a = host_malloc(n, "QEMU's command line"), *q = a;
    for (const char *p = dom0; *p; p++)
        if ((*q++ = *p) == ',')
            *q++ = ',';
    *q++ = ',';
    for (const char *p = prog; *p; p++)
        if ((*q++ = *p) == ',')
            *q++ = ',';
    *q = 0;
    return a;
}

/* Who runs the program: for headers and messages. */
static const char *target_name(const struct script_xen_opts *o) { return o->baremetal ? "pvmmu's hypervisor" : "real Xen 4.17"; }
static const char *cmd_name(const struct script_xen_opts *o) { return o->baremetal ? "pvmmu script --baremetal" : "pvmmu script --xen"; }

/*
 * Boot Xen (or pvmmu's hypervisor) with dom0 and the program; collect the serial output.  Returns
 * QEMU's exit status, or -1 (with errno-style message in err) if it could
 * not be started or did not finish in time.
 */
static int boot_xen(const struct script_xen_opts *o, const char *prog, bool linear_pt, char **out, size_t *outlen,
                    char *err, size_t errlen)
{
    char append[256], mem[32];
    if (o->baremetal) {   /* our dom0 as pvmmu's one domain, privileged as Xen's dom0 is */
        snprintf(append, sizeof(append), "mem=%u privileged%s", o->dom0_mib, linear_pt ? "" : " linear_pt=off");
        snprintf(mem, sizeof(mem), "%uM", o->dom0_mib + 128);
    } else {
        snprintf(append, sizeof(append),
                 "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=%uM dom0_max_vcpus=1%s",
                 o->dom0_mib, linear_pt ? "" : " pv-linear-pt=false");
        snprintf(mem, sizeof(mem), "%uM", o->dom0_mib + 448);
    }
    char *mods = module_arg(o->dom0, prog);
    char *argv[] = { "qemu-system-x86_64", "-cpu", "max", "-m", mem, "-serial", "stdio", "-display", "none",
                     "-no-reboot", "-monitor", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel",
                     (char *)(o->baremetal ? o->hv_image : o->xen_image), "-initrd", mods, "-append", append, NULL };
    int rc = qemu_run(argv, o->timeout_s, out, outlen, err, errlen);
    free(mods);
    if (rc == -2)
        snprintf(err, errlen, "%s did not finish within %u s", target_name(o), o->timeout_s);
    return rc < 0 ? -1 : rc;
}

/* The line of a failed boot that says why: Xen's panic reason, the line before it, or our kernel's complaint. */
static const char *serial_reason(const char *text, char *buf, size_t n)
{
    const char *mine = strstr(text, "pvmmu dom0: bad program");
    const char *panic = strstr(text, "Panic on CPU");
    buf[0] = 0;
    if (mine || panic) {
        const char *p = mine ? mine : strchr(panic, '\n');
        if (p && !mine)
            p++;
        size_t k = 0;
        while (p && p[k] && p[k] != '\n' && p[k] != '\r' && k + 4 < n)
            k++;
        if (p)
            snprintf(buf, n, ": %.*s", (int)k, p);
    }
    if (!buf[0])
        snprintf(buf, n, " (run with -v for the serial output)");
    return buf;
}

/* Take "x SCEN LINE TEXT" lines into the scripts of this boot, in order. */
static void collect(char *text, struct xscript **grp, size_t ngrp)
{
    size_t *next = host_calloc(ngrp + 1, sizeof(*next), "the differential's state");
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        unsigned long sc, ln;
        int off = 0;
        if (sscanf(line, "x %lu %lu %n", &sc, &ln, &off) < 2 || !off || sc >= ngrp)
            continue;
        struct xscript *x = grp[sc];
        while (next[sc] < x->s->nsteps && x->plan[next[sc]] <= 0)
            next[sc]++;
        if (next[sc] >= x->s->nsteps || (unsigned long)x->s->steps[next[sc]].line != ln)
            continue;
        x->xen[next[sc]++] = host_strdup(line + off, "a step's result");
    }
    free(next);
}

/* The text of a script line, trimmed, in buf. */
static const char *source_line(const struct script *s, int line, char *buf, size_t n)
{
    const char *p = s->source, *end = s->source + s->source_len;
    for (int l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t k = 0;
    while (p < end && *p != '\n' && *p != '\r' && k + 1 < n)
        buf[k++] = *p++;
    buf[k] = 0;
    return buf;
}

/* rc=-22 reads better as rc=-EINVAL: rewrite every "rc=N" of a result for display. */
static const char *pretty(const char *t, char *buf, size_t n)
{
    size_t k = 0;
    if (!t)
        return "(no result)";
    while (*t && k + 24 < n) {
        if (!strncmp(t, "rc=", 3)) {
            char *e;
            long v = strtol(t + 3, &e, 10);
            k += (size_t)snprintf(buf + k, n - k, "rc=%s", xen_errno_name(v));
            t = e;
        } else {
            buf[k++] = *t++;
        }
    }
    buf[k] = 0;
    return buf;
}

/*
 * Read back a result text (xp_result_text) of step st into *r: the fields the
 * script's expectations look at.  Returns false if the text is not a result
 * of that step's kind (then it meets no expectation).
 */
static bool parse_result(const struct step *st, const char *t, struct xp_result *r)
{
    memset(r, 0, sizeof(*r));
    char *e;
    if (!strncmp(t, "dom0 could not link the script's tables: rc=", 45)) {
        r->link_rc = strtol(t + 45, &e, 10);
        return r->link_rc != 0;
    }
    if (st->kind == S_STORE || st->kind == S_LOAD) {
        r->access = !strcmp(t, "ok") ? XP_ACC_OK : !strcmp(t, "emulated") ? XP_ACC_EMULATED : XP_ACC_FAULT;
        if (st->kind == S_STORE)
            return !strcmp(t, "ok") || !strcmp(t, "emulated") || !strcmp(t, "#PF");
        if (!strcmp(t, "#PF"))
            return true;
        r->access = XP_ACC_OK;
    }
    if (st->kind == S_LOAD || st->kind == S_EXPECT_ENTRY) {
        if (strncmp(t, "val=", 4))
            return false;
        r->val = strtoull(t + 4, &e, 16);
        return e != t + 4 && !*e;
    }
    /* "rc=N[ done=N]", a multicall's followed by " [ENTRY; ENTRY ...]" */
    if (strncmp(t, "rc=", 3))
        return false;
    r->rc = strtol(t + 3, &e, 10);
    if (!strncmp(e, " done=", 6))
        r->done = (unsigned int)strtoul(e + 6, &e, 10);
    if (st->kind != S_MULTICALL || !*e)
        return !*e;
    if (strncmp(e, " [", 2))
        return false;
    for (e += 2; r->n < XP_MAX_BATCH && !strncmp(e, "rc=", 3); r->n++) {
        r->sub_rc[r->n] = strtol(e + 3, &e, 10);
        if (!strncmp(e, " done=", 6))
            r->sub_done[r->n] = (unsigned int)strtoul(e + 6, &e, 10);
        if (!strncmp(e, "; ", 2))
            e += 2;
    }
    return !strcmp(e, "]");
}

/*
 * Does the target's result of compared step i meet the script's expectations?  They apply where the step
 * gave the same result as dom0 on the simulator as in the script's own run (the skipped steps and dom0's
 * privilege changed nothing); elsewhere the target is held to the simulator only.  Returns true when
 * they hold or do not apply (*applies tells which), false with what was wrong in msg.
 */
static bool target_meets(const struct xscript *x, size_t i, bool *applies, char *msg, size_t n)
{
    const struct step *st = &x->s->steps[i];
    struct xp_result r;
    msg[0] = 0;
    *applies = x->own[i] && x->sim[i] && !strcmp(x->own[i], x->sim[i]);
    if (!*applies || !x->xen[i])
        return true;
    if (!parse_result(st, x->xen[i], &r)) {
        snprintf(msg, n, "unreadable result");
        return false;
    }
    return script_result_meets(st, &r, msg, n);
}

/* Count and print one script's steps: those that differ or miss the script's expectations (all with -v). */
static void report(const struct script_xen_opts *o, struct xscript *x)
{
    const struct script *s = x->s;
    FILE *out = o->out;
    bool header = false;
    for (size_t i = 0; i < s->nsteps; i++) {
        if (x->plan[i] < 0 && x->why[i] == K_ASSERT && !o->verbose)
            continue;
        if (x->plan[i] == 0)
            continue;
        bool same = x->plan[i] > 0 && x->sim[i] && x->xen[i] && !strcmp(x->sim[i], x->xen[i]);
        bool applies = false, meets = true;
        char msg[160] = "";
        if (x->plan[i] > 0) {
            x->compared++;
            if (same)
                x->agreed++;
            else if (!x->xen[i])
                x->missing++;
            else
                x->differed++;
            meets = target_meets(x, i, &applies, msg, sizeof(msg));
            x->checked += applies && x->xen[i];
            x->unmet += !meets;
            x->context += !applies;
        }
        if (!o->verbose && ((same && meets) || x->plan[i] < 0))
            continue;
        if (!header) {
            fprintf(out, "%s\n  %-5s %-44s %-30s %-30s\n", s->name, "line", "step", "simulator (as dom0)",
                    target_name(o));
            header = true;
        }
        char src[45], a[128], b[128], c[128];
        source_line(s, s->steps[i].line, src, sizeof(src));
        if (x->plan[i] < 0) {
            fprintf(out, "  %-5d %-44s SKIP: %s\n", s->steps[i].line, src, skip_text[x->why[i]]);
            continue;
        }
        fprintf(out, "  %-5d %-44s %-30s %-30s %s", s->steps[i].line, src, pretty(x->sim[i], a, sizeof(a)),
                pretty(x->xen[i], b, sizeof(b)), same ? "same" : "DIFFERENT");
        if (!meets)
            fprintf(out, "; FAIL on %s: %s", target_name(o), msg);
        else if (!applies)
            fprintf(out, " (the script's own run: %s)", pretty(x->own[i], c, sizeof(c)));
        fputc('\n', out);
    }
}

/* Is script i's verdict a pass: its expectations hold on every side, every compared step agrees? */
static bool script_ok(const struct xscript *x)
{
    return !x->own_failed && !x->dom0_failed && x->compared && x->agreed == x->compared && !x->unmet;
}

/*
 * A script that gives the target nothing to compare is not a differential: one line saying why (the
 * first operation skipped and its reason), for exit status 2.
 */
static void nothing_to_compare(const struct script_xen_opts *o, const struct xscript *x)
{
    const struct script *s = x->s;
    for (size_t i = 0; i < s->nsteps; i++)
        if (x->plan[i] < 0 && x->why[i] != K_ASSERT) {
            fprintf(stderr, "%s: nothing to compare on %s: no step can run there (line %d: %s)\n", s->name,
                    target_name(o), s->steps[i].line, skip_text[x->why[i]]);
            return;
        }
    fprintf(stderr, "%s: nothing to compare on %s: the script has no operation a guest can issue there, only "
                    "declarations and assertions on simulator state\n", s->name, target_name(o));
}

/* Does path start like an ELF file for x86 (EM_386 or EM_X86_64; with only64, an ELF64 for x86-64 only)? */
static bool elf_x86(const char *path, bool only64)
{
    unsigned char h[20];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(h, 1, sizeof(h), f) : 0;
    if (f)
        fclose(f);
    if (n < sizeof(h) || memcmp(h, "\177ELF", 4) || h[5] != 1 /* little-endian */)
        return false;
    unsigned int machine = h[18] | (unsigned int)h[19] << 8;
    if (only64)
        return h[4] == 2 && machine == 62;
    return (h[4] == 1 && machine == 3) || (h[4] == 2 && machine == 62);
}

/* The hypervisor image and our dom0 kernel exist and are x86 ELF images: 0, or 2 after one line. */
static int images_ok(const struct script_xen_opts *o)
{
    const char *image = o->baremetal ? o->hv_image : o->xen_image;
    if (access(image, R_OK) || access(o->dom0, R_OK)) {
        fprintf(stderr, "%s: %s not readable (build it with `make %s`)\n", cmd_name(o),
                access(image, R_OK) ? image : o->dom0,
                access(image, R_OK) ? (o->baremetal ? "build/baremetal/hv.bin" : "xen-smoke") : "build/xen/dom0.elf");
        return 2;
    }
    const char *what = NULL, *bad_path = NULL;
    if (!o->baremetal && !elf_x86(o->xen_image, false))
        what = "the Xen hypervisor (an x86 ELF image, as Debian's xen-hypervisor package installs it)", bad_path = o->xen_image;
    else if (!elf_x86(o->dom0, true))
        what = "the test dom0 (an x86-64 ELF kernel, build/xen/dom0.elf)", bad_path = o->dom0;
    if (what) {
        fprintf(stderr, "%s: %s is not %s\n", cmd_name(o), bad_path, what);
        return 2;
    }
    return 0;
}

/* Decide every script's steps; a script with too many frames or nothing to compare: 2 after one line. */
static int plan_all(const struct script_xen_opts *o, struct xscript *xs, struct script *const *scripts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long k = xscript_plan(&xs[i], scripts[i]);
        if (k < 0) {
            fprintf(stderr, "%s: more than %d frames for one domain\n", scripts[i]->name, XP_MAX_FRAMES);
            return 2;
        }
        if (!k) {
            nothing_to_compare(o, &xs[i]);
            return 2;
        }
    }
    return 0;
}

/* Each script as written, every expectation checked; then the steps dom0 can issue, as dom0.  0 or 2. */
static int run_on_simulator(const struct script_xen_opts *o, struct xscript *xs, struct script *const *scripts,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct script_opts own = { .out = o->out, .terse = true, .record = record, .record_ctx = &xs[i],
                                   .audit_every = o->audit_every };
        struct script_opts as0 = { .out = o->out, .plan = xs[i].plan, .record = record, .record_ctx = &xs[i],
                                   .privileged = xs[i].dom, .audit_every = o->audit_every };
        xs[i].rec = xs[i].own;
        int r = script_run(scripts[i], &own);
        xs[i].own_failed = r == 1;
        xs[i].rec = xs[i].sim;
        int r0 = r == 2 ? 2 : script_run(scripts[i], &as0);
        xs[i].dom0_failed = r0 == 1;
        if (r == 2 || r0 == 2)
            return 2;
    }
    return 0;
}

/* Write the compiled program to a new temporary file, its name in path: 0, or 2 after one line. */
static int write_program(const struct script_xen_opts *o, const struct buf *b, char *path, size_t pathlen)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/pvmmu-xenprog-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0 && write(fd, b->p, b->len) == (ssize_t)b->len) {
        close(fd);
        return 0;
    }
    fprintf(stderr, "%s: cannot write the program: %s\n", cmd_name(o), strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    return 2;
}

/*
 * One boot of the target for the scripts whose pv-linear-pt setting is lin:
 * compile them into one program, run it, and collect each step's result.
 * 0 (also when no script wants this setting), or 2 after one line.
 */
static int run_config(const struct script_xen_opts *o, struct xscript *xs, size_t n, struct xscript **grp, int lin)
{
    size_t ng = 0;
    struct buf b = { 0 };
    struct xp_header h = { XP_MAGIC, 0 };
    put(&b, &h, sizeof(h));
    for (size_t i = 0; i < n; i++) {
        if (xs[i].s->linear_pt != (lin == 1))
            continue;
        grp[ng++] = &xs[i];
        struct xp_scen sc = { xs[i].nframes, 0 };
        size_t at = b.len;
        put(&b, &sc, sizeof(sc));
        put(&b, xs[i].frames, xs[i].nframes * sizeof(uint64_t));
        sc.nsteps = compile(&xs[i], &b);
        memcpy(b.p + at, &sc, sizeof(sc));
    }
    if (!ng) {
        free(b.p);
        return 0;
    }
    ((struct xp_header *)(void *)b.p)->nscen = ng;
    char path[512];
    int rc = write_program(o, &b, path, sizeof(path));
    free(b.p);
    if (rc)
        return rc;
    char err[160] = "", *text = NULL;
    size_t len = 0;
    int q = boot_xen(o, path, lin == 1, &text, &len, err, sizeof(err));
    unlink(path);
    if (q != 33) {
        char why[200];
        fprintf(stderr, "%s: %s%s%s\n", cmd_name(o), q < 0 ? err : target_name(o), q < 0 ? "" : " did not run the whole program",
                text ? serial_reason(text, why, sizeof(why)) : "");
        if (text && o->verbose)   /* the whole story */
            fprintf(stderr, "---- serial output ----\n%s\n", text);
        free(text);
        return 2;
    }
    collect(text, grp, ng);
    free(text);
    return 0;
}

/* Each script's report, then the totals and the reasons for skipped steps.  0 all passed and agreed, or 1. */
static int summarize(const struct script_xen_opts *o, struct xscript *xs, size_t n)
{
    FILE *out = o->out;
    size_t compared = 0, agreed = 0, checked = 0, unmet = 0, context = 0, skipped[K_COUNT] = { 0 };
    size_t scripts_ok = 0, own_ok = 0;
    for (size_t i = 0; i < n; i++) {
        report(o, &xs[i]);
        compared += xs[i].compared;
        agreed += xs[i].agreed;
        checked += xs[i].checked;
        unmet += xs[i].unmet;
        context += xs[i].context;
        scripts_ok += script_ok(&xs[i]);
        own_ok += !xs[i].own_failed;
        for (size_t k = 0; k < xs[i].s->nsteps; k++)
            if (xs[i].plan[k] < 0)
                skipped[xs[i].why[k]]++;
    }
    size_t sk = 0;
    for (int k = K_OTHER_DOMAIN; k < K_COUNT; k++)
        sk += skipped[k];
    fprintf(out, "simulator: %zu of %zu scripts pass as written (every expectation, the auditor after every "
                 "step)\n", own_ok, n);
    char ctx[160] = "";
    if (context)
        snprintf(ctx, sizeof(ctx), " (%zu more give as dom0 another result than in the script's own run: "
                                   "compared only)", context);
    fprintf(out, "%s: %zu of %zu scripts pass and agree; %zu of %zu steps compared agree; %zu of %zu meet the "
                 "script's expectations%s; %zu skipped, %zu assertions on simulator state not comparable\n",
            target_name(o), scripts_ok, n, agreed, compared, checked - unmet, checked, ctx, sk, skipped[K_ASSERT]);
    for (int k = K_OTHER_DOMAIN; k < K_COUNT; k++)
        if (skipped[k])
            fprintf(out, "  skipped %4zu: %s\n", skipped[k], skip_text[k]);
    return scripts_ok == n ? 0 : 1;
}

int script_xen(struct script *const *scripts, size_t n, const struct script_xen_opts *o)
{
    int rc = images_ok(o);
    if (rc)
        return rc;
    struct xscript *xs = host_calloc(n + 1, sizeof(*xs), "the differential's state");
    struct xscript **grp = host_calloc(n + 1, sizeof(*grp), "the differential's state");
    rc = plan_all(o, xs, scripts, n);
    if (!rc)
        rc = run_on_simulator(o, xs, scripts, n);
    /* One boot per Xen configuration: pv-linear-pt on, and off for scripts that turn it off. */
    for (int lin = 1; lin >= 0 && !rc; lin--)
        rc = run_config(o, xs, n, grp, lin);
    if (!rc)
        rc = summarize(o, xs, n);
    for (size_t i = 0; i < n; i++)
        if (xs[i].s)
            xscript_free(&xs[i]);
    free(xs);
    free(grp);
    return rc;
}
