/*
 * replay_call.c - one PV MMU hypercall of the record on the core.
 *
 * The core does not preempt.  A call Xen preempted (hp, then the guest's
 * re-issue, a later hc with the rewritten arguments; mp for a multicall
 * entry) is run once, at its first hc, with the guest's original arguments
 * and the work of every re-issue taken in: its requests (a request whose own
 * line says -85 was not finished and runs again in the re-issue, so that line
 * is dropped), its multicall entries (the re-issued multicall's entry 0 is
 * the preempted entry, or the one after), its validations (a "ve ... -85" and
 * the later "vb ... FROM" that resumes it are Xen's bookkeeping and are
 * dropped, as are "de ... -85" and the "db ... FROM" that resumes it), and its
 * final result.  The re-issues are then skipped where they come.
 *
 * The guest's arrays are rebuilt from the lines that recorded them (a
 * request's mu/mx line, an entry's mc line) and reached by the core only
 * through pvm_ops.copy_from_guest/copy_to_guest, which also tell which
 * request and which entry the core is at.  Validations are matched live,
 * through pvm_ops.validate: each must be the record's next vb/ve/db/de line of
 * the call; at a vb the frame's recorded contents are loaded (or compared,
 * when the replay already knows them).
 */
#include <stdlib.h>
#include <string.h>

#include "replay_int.h"

#define PREEMPTED_RC (-85)   /* -ERESTART: Xen's own, never the guest's */
#define EINTR_RC     (-4)    /* a validation interrupted before it started */
#define MC_SIZE      sizeof(struct multicall_entry)

static bool is_batch(uint64_t op)
{
    return op == __HYPERVISOR_mmu_update || op == __HYPERVISOR_mmuext_op;
}

static size_t req_size(uint64_t op)
{
    return op == __HYPERVISOR_mmu_update ? sizeof(struct mmu_update) : sizeof(struct mmuext_op);
}

/* ---- building a call from its brackets ---- */

#define GROW(p, n, cap, what)                                                        \
    do {                                                                             \
        if ((n) == (cap)) {                                                          \
            (cap) = (cap) ? 2 * (cap) : 16;                                          \
            (p) = host_realloc((p), (cap) * sizeof(*(p)), what);                     \
        }                                                                            \
    } while (0)

/* A set of frames whose preempted (de)validation waits for the line that resumes it. */
struct pending {
    uint64_t *mfn;
    size_t n, cap;
};

struct build {
    struct lsub *cur;               /* where mu, mx and dn lines go: the top, or the open entry */
    size_t entry_off;               /* this bracket's entry 0 is entry entry_off of the call */
    long mp_entry;                  /* the entry a bracket's mp preempted, or -1 */
    struct pending pval, pdev;      /* validations and devalidations preempted in this call */
};

static void use(struct lcall *c, size_t ev, enum use_kind kind, size_t idx, const struct lsub *sub)
{
    GROW(c->uses, c->nuse, c->capuse, "a replayed call");
    int32_t entry = sub && sub != &c->top ? (int32_t)(sub - c->entries) : -1;
    c->uses[c->nuse++] = (struct use){ (uint32_t)ev, (uint8_t)kind, (uint32_t)idx, entry };
}

/* Take mfn out of a pending set; true if it was there. */
static bool take_pending(struct pending *p, uint64_t mfn)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->mfn[i] == mfn) {
            p->mfn[i] = p->mfn[--p->n];
            return true;
        }
    return false;
}

/* Put mfn in a pending set (it grows as needed: no preempted frame is forgotten). */
static void add_pending(struct pending *p, uint64_t mfn)
{
    GROW(p->mfn, p->n, p->cap, "a replayed call's preempted validations");
    p->mfn[p->n++] = mfn;
}

static void add_vline(struct lcall *c, size_t ev)
{
    GROW(c->vl, c->nvl, c->capvl, "a replayed call's validations");
    use(c, ev, USE_VAL, c->nvl, NULL);
    c->vl[c->nvl++] = (uint32_t)ev;
}

/*
 * A vb/ve/db/de line of the call: kept, or dropped as Xen's preemption
 * bookkeeping (seg validations are not modelled: dropped too).  Returns
 * whether it was kept.
 */
static bool add_validation(struct lcall *c, struct build *b, const struct trace_ev *e, size_t ev)
{
    uint64_t mfn = e->a[0];
    if (e->type == TRACE_TYPE_SEG)
        return false;
    switch (e->tag) {
    case TR_VB:   /* a resume is known by its frame, not its FROM (records made before the recorder's fix say 0) */
        if (take_pending(&b->pval, mfn))
            return false;
        break;
    case TR_VE:
        if (e->rc == PREEMPTED_RC) {
            add_pending(&b->pval, mfn);
            return false;
        }
        if (e->rc == EINTR_RC && c->nvl && c->vl[c->nvl - 1] + 1 == ev) {   /* it never started: nor its vb */
            c->nvl--;
            return false;
        }
        break;
    case TR_DB:
        if (take_pending(&b->pdev, mfn))
            return false;
        break;
    default:   /* TR_DE */
        if (e->rc == PREEMPTED_RC) {
            add_pending(&b->pdev, mfn);
            return false;
        }
    }
    add_vline(c, ev);
    return true;
}

static void add_request(struct lcall *c, struct lsub *s, const struct trace_ev *e, size_t ev)
{
    GROW(s->reqs, s->nreq, s->capreq, "a replayed call's requests");
    use(c, ev, USE_REQ, s->nreq, s);
    bool mu = e->tag == TR_MU;
    s->reqs[s->nreq++] = (struct lreq){ .w = { e->a[0], e->a[1], !mu && e->n > 2 ? e->a[2] : 0 }, .rc = e->rc,
                                        .ev = (uint32_t)ev, .has_stored = mu && (e->flags & TRACE_HAS_STORED),
                                        .stored = mu ? e->a[2] : 0 };
}

static void set_sub(struct lsub *s, const uint64_t *nums, unsigned int n, size_t ev)
{
    *s = (struct lsub){ .op = nums[0], .ev = (uint32_t)ev };
    for (unsigned int k = 1; k < n && k <= 6; k++)
        s->args[k - 1] = nums[k];
}

/* An mc line: a new entry, or (in a re-issue) the preempted entry going on. */
static void add_entry(struct lcall *c, struct build *b, const struct trace_ev *e, size_t ev)
{
    size_t gi = b->entry_off + e->a[0];
    if (gi >= c->nent) {
        GROW(c->entries, c->nent, c->capent, "a replayed multicall's entries");
        set_sub(&c->entries[c->nent++], e->a + 1, e->n - 1u, ev);
    }
    b->cur = &c->entries[gi];
    use(c, ev, USE_ENTRY, gi, NULL);
}

/* One line inside a bracket of the call. */
static void add_line(struct lcall *c, struct build *b, const struct trace *t, size_t j)
{
    const struct trace_ev *e = &t->ev[j];
    switch (e->tag) {
    case TR_MU: case TR_MX:
        if (e->rc == PREEMPTED_RC) {   /* not finished: it runs again, first of the re-issue */
            use(c, j, USE_TAKEN_IN, 0, NULL);
            return;
        }
        add_request(c, b->cur, e, j);
        return;
    case TR_DN:
        b->cur->has_dn = true;
        b->cur->dn = e->a[0];
        b->cur->dn_ev = (uint32_t)j;
        use(c, j, USE_OTHER, 0, b->cur);
        return;
    case TR_UV:
        b->cur->uv_ev = (uint32_t)j;
        use(c, j, USE_OTHER, 0, b->cur);
        return;
    case TR_MC:
        add_entry(c, b, e, j);
        return;
    case TR_MR:
        b->cur->has_result = true;
        b->cur->result = e->rc;
        b->cur->result_ev = (uint32_t)j;
        use(c, j, USE_ENTRY, (size_t)(b->cur - c->entries), NULL);
        b->cur = &c->top;
        return;
    case TR_MP:
        b->mp_entry = (long)(b->cur - c->entries);
        use(c, j, USE_TAKEN_IN, 0, NULL);
        b->cur = &c->top;
        return;
    case TR_VB: case TR_VE: case TR_DB: case TR_DE:
        if (!add_validation(c, b, e, j))
            use(c, j, USE_TAKEN_IN, 0, NULL);
        return;
    default:
        use(c, j, USE_OTHER, 0, NULL);
    }
}

/* The call whose first hc is event i, with every re-issue's bracket taken in. */
static void build_call(struct replay *r, struct lcall *c, size_t i)
{
    const struct trace *t = &r->t;
    struct build b = { .cur = &c->top, .mp_entry = -1 };
    set_sub(&c->top, t->ev[i].a, t->ev[i].n, i);
    for (long hc = (long)i; hc >= 0;) {
        const struct trace_ev *e = &t->ev[hc];
        use(c, (size_t)hc, USE_CALL, 0, &c->top);
        for (size_t j = (size_t)hc + 1; j < (size_t)e->end; j++)
            add_line(c, &b, t, j);
        const struct trace_ev *end = &t->ev[e->end];
        use(c, (size_t)e->end, USE_CALL, 0, &c->top);
        if (end->tag == TR_HR) {
            c->top.has_result = true;
            c->top.result = end->rc;
            c->top.result_ev = (uint32_t)e->end;
            free(b.pval.mfn);
            free(b.pdev.mfn);
            return;
        }
        b.entry_off = b.mp_entry >= 0 ? (size_t)b.mp_entry : c->nent;
        b.mp_entry = -1;
        b.cur = &c->top;
        c->reissues++;
        hc = end->cont;
    }
    free(b.pval.mfn);
    free(b.pdev.mfn);
}

/* ---- the guest's memory for the call ---- */

static void add_region(struct lcall *c, uint64_t gaddr, size_t len, enum region_kind kind, struct lsub *sub,
                       void *host)
{
    GROW(c->rg, c->nrg, c->caprg, "a replayed call's guest memory");
    c->rg[c->nrg++] = (struct region){ gaddr, len, kind, sub, host };
}

static uint64_t all_vcpus = ~0ULL;   /* a vCPU bitmap the record does not show: every vCPU (dom0 has one) */

/* The requests of s as the guest's array, and the memory its arguments name. */
static void add_sub_regions(struct lcall *c, struct lsub *s)
{
    if (s->op == __HYPERVISOR_update_va_mapping && s->args[2] > (UVMF_ALL | UVMF_FLUSHTYPE_MASK))
        add_region(c, s->args[2] & ~UVMF_FLUSHTYPE_MASK, sizeof(all_vcpus), RG_MASK, s, &all_vcpus);
    if (!is_batch(s->op))
        return;
    size_t size = req_size(s->op);
    if (!s->array) {
        s->array = host_calloc(s->nreq ? s->nreq : 1, size, "a replayed call's requests");
        for (size_t k = 0; k < s->nreq; k++) {
            const struct lreq *q = &s->reqs[k];
            if (s->op == __HYPERVISOR_mmu_update)
                ((struct mmu_update *)s->array)[k] = (struct mmu_update){ q->w[0], q->w[1] };
            else
                ((struct mmuext_op *)s->array)[k] = (struct mmuext_op){ (unsigned int)q->w[0], { q->w[1] },
                                                                      { .vcpumask = q->w[2] } };
        }
    }
    uint64_t count = s->args[1] & ~(uint64_t)MMU_UPDATE_PREEMPTED;
    add_region(c, s->args[0], s->nreq * size, RG_REQS, s, s->array);
    if (count > s->nreq)
        add_region(c, s->args[0] + s->nreq * size, (count - s->nreq) * size, RG_BEYOND, s, NULL);
    if (s->args[2])
        add_region(c, s->args[2], sizeof(uint32_t), RG_DONE, s, &s->core_dn);
    for (size_t k = 0; s->op == __HYPERVISOR_mmuext_op && k < s->nreq; k++)
        if (s->reqs[k].w[0] == MMUEXT_TLB_FLUSH_MULTI || s->reqs[k].w[0] == MMUEXT_INVLPG_MULTI)
            add_region(c, s->reqs[k].w[2], sizeof(all_vcpus), RG_MASK, s, &all_vcpus);
}

/* The call's own regions: its requests, or a multicall's list. */
static void add_call_regions(struct lcall *c)
{
    if (c->top.op != __HYPERVISOR_multicall) {
        add_sub_regions(c, &c->top);
    } else {
        c->list = host_calloc(c->nent ? c->nent : 1, MC_SIZE, "a replayed multicall's list");
        for (size_t i = 0; i < c->nent; i++) {
            c->list[i].op = c->entries[i].op;
            memcpy(c->list[i].args, c->entries[i].args, sizeof(c->list[i].args));
        }
        uint64_t nr = (uint32_t)c->top.args[1];
        add_region(c, c->top.args[0], c->nent * MC_SIZE, RG_LIST, &c->top, c->list);
        if (nr > c->nent)
            add_region(c, c->top.args[0] + c->nent * MC_SIZE, (nr - c->nent) * MC_SIZE, RG_BEYOND, &c->top, NULL);
    }
    c->ntop = c->nrg;
}

static struct region *find_region(struct lcall *c, uint64_t gaddr, size_t len)
{
    for (size_t i = c->nrg; i-- > 0;) {   /* the running entry's first */
        struct region *g = &c->rg[i];
        if (gaddr >= g->gaddr && gaddr - g->gaddr <= g->len && len <= g->len - (gaddr - g->gaddr))
            return g;
    }
    return NULL;
}

/* ---- checking what the core did ---- */

static const char *const phase_names[] = { "begins validating", "ends validating", "begins devalidating",
                                           "ends devalidating" };

/* A vb/ve/db/de line in words, into buf. */
static const char *vline_words(char *buf, size_t len, const struct trace_ev *e)
{
    static const uint8_t phase_of[TR_NTAGS] = { [TR_VE] = 1, [TR_DB] = 2, [TR_DE] = 3 };
    char x[64];
    bool end = e->tag == TR_VE || e->tag == TR_DE;
    snprintf(buf, len, "%s frame %llx as %s%s%s", phase_names[phase_of[e->tag]], (unsigned long long)e->a[0],
             trace_type_name(e->type), end ? ": " : "", end ? replay_rc(x, sizeof(x), e->rc) : "");
    return buf;
}


/*
 * Request k of mmu_update s has run (the core went on to the next, or the
 * call ended): the entry it wrote must be the one Xen left (STORED), A/D
 * masked.  A refused request wrote nothing, and Xen's line says "-".
 */
static void check_stored(struct replay *r, struct lsub *s, size_t k)
{
    struct lreq *q = &s->reqs[k];
    if (s->op != __HYPERVISOR_mmu_update || !q->has_stored)
        return;
    uint64_t mfn = q->w[0] >> XEN_PAGE_SHIFT, slot = (q->w[0] & (XEN_PAGE_SIZE - 1)) >> 3;
    if (mfn >= r->m.nr_frames)
        return;   /* the request's own result says what happened */
    uint64_t now = pvm_peek(&r->m, mfn, (unsigned int)slot);
    char d[96], xen[64];
    snprintf(xen, sizeof(xen), "left %016llx in slot %#llx", (unsigned long long)q->stored, (unsigned long long)slot);
    if ((now ^ q->stored) & ~AD_BITS)
        replay_miss(r, q->ev, mfn, false, xen, "the core left %016llx in slot %#llx "
                    "(it differs in %s)", (unsigned long long)now, (unsigned long long)slot,
                    replay_entry_diff(d, sizeof(d), now, q->stored));
}

/* The core's result for each request of s, then its done count and its result, against the record. */
static void check_sub(struct replay *r, struct lsub *s)
{
    char x[64], p[64];
    for (size_t k = 0; k < s->nreq; k++) {
        struct lreq *q = &s->reqs[k];
        q->ran = k < s->fetched;
        bool failed_here = q->ran && k + 1 == s->fetched && s->core_result;
        q->core = failed_here ? s->core_result : 0;
        if (!q->ran) {
            replay_miss(r, q->ev, PVM_INVALID_MFN, false, replay_rc(x, sizeof(x), q->rc),
                        "not run: the call stopped before this request (its result %s)",
                        replay_rc(p, sizeof(p), s->core_result));
            return;
        }
        if (q->core != q->rc) {
            uint64_t frame = s->op == __HYPERVISOR_mmu_update ? q->w[0] >> XEN_PAGE_SHIFT : q->w[1];
            replay_miss(r, q->ev, frame, q->core < 0, replay_rc(x, sizeof(x), q->rc), "%s",
                        replay_rc(p, sizeof(p), q->core));
            return;
        }
    }
    if (s->nreq && s->reqs[s->nreq - 1].ran && !s->reqs[s->nreq - 1].core)
        check_stored(r, s, s->nreq - 1);
    if (s->fetch_beyond)
        replay_miss(r, s->result_ev, PVM_INVALID_MFN, false, "stopped after the requests above",
                    "went on to request %zu, which Xen never ran", s->nreq);
    if (s->has_dn && (!s->core_dn_set || s->core_dn != s->dn))
        replay_miss(r, s->dn_ev, PVM_INVALID_MFN, false, "done count written", "%s %u",
                    s->core_dn_set ? "done count" : "no done count written", s->core_dn);
    else if (!s->has_dn && s->core_dn_set)   /* the record's call has no dn line: Xen wrote none */
        replay_miss(r, s->result_ev, PVM_INVALID_MFN, false, "no done count written", "wrote %u", s->core_dn);
}

/* An entry's or a call's result against its hr/mr line. */
static void check_result(struct replay *r, const struct lsub *s)
{
    char x[64], p[64];
    if (s->has_result && s->core_result != s->result)
        replay_miss(r, s->result_ev, PVM_INVALID_MFN, s->core_result < 0, replay_rc(x, sizeof(x), s->result), "%s",
                    replay_rc(p, sizeof(p), s->core_result));
}

/*
 * update_va_mapping s has run: its uv line names the L1 entry Xen found for
 * the address (through the current kernel tables) and what it left there.
 */
static void check_uv(struct replay *r, const struct lsub *s)
{
    if ((s->op != __HYPERVISOR_update_va_mapping && s->op != __HYPERVISOR_update_va_mapping_otherdomain) || !s->uv_ev)
        return;
    const struct trace_ev *e = &r->t.ev[s->uv_ev];
    uint64_t va = s->args[0], slot = (va >> XEN_PAGE_SHIFT) & 511;
    struct replay_walk w;
    replay_walk(r, r->v->guest_table, va, &w);
    char d[96], found[96], left[64];
    snprintf(found, sizeof(found), "found the L1 entry of %llx at slot %llx of frame %llx", (unsigned long long)va,
             (unsigned long long)e->a[1], (unsigned long long)e->a[0]);
    snprintf(left, sizeof(left), "left %016llx there", (unsigned long long)e->a[2]);
    if (w.level != 1)
        replay_miss(r, s->uv_ev, e->a[0], false, found, "the walk of %llx stops at L%u (no L1 entry)",
                    (unsigned long long)va, w.level);
    else if (w.table != e->a[0] || slot != e->a[1])
        replay_miss(r, s->uv_ev, e->a[0], false, found, "the address's L1 entry is slot %llx of frame %llx",
                    (unsigned long long)slot, (unsigned long long)w.table);
    else if ((e->flags & TRACE_HAS_STORED) && ((w.entry ^ e->a[2]) & ~AD_BITS))
        replay_miss(r, s->uv_ev, w.table, false, left, "the core left %016llx (it differs in %s)",
                    (unsigned long long)w.entry, replay_entry_diff(d, sizeof(d), w.entry, e->a[2]));
}

/*
 * The core ran multicall entry i (its result is written): compare it with its lines.  An entry the core does
 * not model (it answers -ENOSYS) is not compared; the core cannot have done its work.
 */
static void entry_done(struct replay *r, struct lcall *c, size_t i, int64_t result)
{
    struct lsub *s = &c->entries[i];
    s->core_ran = true;
    s->core_result = result;
    if (!trace_is_pv_mmu(s->op))
        return;
    if (is_batch(s->op))
        check_sub(r, s);
    check_result(r, s);
    check_uv(r, s);
}

/* After the call: its requests, entries, result, and the validations the core did not do. */
static void check_call(struct replay *r, struct lcall *c, long rc)
{
    c->top.core_ran = true;
    c->top.core_result = rc;
    if (is_batch(c->top.op))
        check_sub(r, &c->top);
    check_uv(r, &c->top);
    for (size_t i = 0; i < c->nent; i++)
        if (!c->entries[i].core_ran)
            replay_miss(r, c->entries[i].ev, PVM_INVALID_MFN, false, "ran this entry",
                        "the multicall ended before it");
    if (!c->vfailed && c->vcur < c->nvl) {
        const struct trace_ev *e = &r->t.ev[c->vl[c->vcur]];
        char w[96];
        replay_miss(r, c->vl[c->vcur], e->a[0], false, vline_words(w, sizeof(w), e),
                    "no such %s, nor any more in this call",
                    e->tag == TR_VB || e->tag == TR_VE ? "validation" : "devalidation");
    }
    check_result(r, &c->top);
}

/* ---- pvm_ops callbacks ---- */

/* The running multicall entry i: its own arguments' memory replaces the previous entry's. */
static void enter_entry(struct lcall *c, size_t i)
{
    c->nrg = c->ntop;
    if (i < c->nent)
        add_sub_regions(c, &c->entries[i]);
}

/* The region of the running call's guest memory that holds [gaddr, gaddr+len), or NULL. */
static struct region *call_region(struct replay *r, uint64_t gaddr, size_t len)
{
    return r->call ? find_region(r->call, gaddr, len) : NULL;
}

int replay_copy_from(void *ctx, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t len)
{
    (void)v;
    struct replay *r = ctx;
    struct lcall *c = r->call;
    struct region *g = call_region(r, gaddr, len);
    if (!g)
        return -1;
    size_t off = (size_t)(gaddr - g->gaddr);
    switch (g->kind) {
    case RG_BEYOND:
        g->sub->fetch_beyond = true;
        return -1;
    case RG_REQS: {
        unsigned int k = (unsigned int)(off / req_size(g->sub->op)) + 1;
        for (unsigned int done = g->sub->fetched; done && done < k; done++)
            check_stored(r, g->sub, done - 1);   /* the requests before this one have run */
        if (k > g->sub->fetched)
            g->sub->fetched = k;
        break;
    }
    case RG_LIST:
        if (off % MC_SIZE == 0 && len == MC_SIZE)
            enter_entry(c, off / MC_SIZE);
        break;
    default:
        break;
    }
    memcpy(dst, (const char *)g->host + off, len);
    return 0;
}

int replay_copy_to(void *ctx, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t len)
{
    (void)v;
    struct replay *r = ctx;
    struct lcall *c = r->call;
    struct region *g = call_region(r, gaddr, len);
    if (!g)
        return -1;
    size_t off = (size_t)(gaddr - g->gaddr);
    if (g->kind == RG_DONE && len == sizeof(uint32_t)) {
        memcpy(&g->sub->core_dn, src, len);
        g->sub->core_dn_set = true;
        return 0;
    }
    if (g->kind == RG_LIST && off % MC_SIZE == offsetof(struct multicall_entry, result) && len == sizeof(xen_ulong_t)) {
        xen_ulong_t res;
        memcpy(&res, src, len);
        entry_done(r, c, off / MC_SIZE, (int64_t)res);
        return 0;
    }
    return -1;
}

/* Frame mfn's contents at a vb line: loaded if the replay does not know them, else compared. */
static void load_or_compare(struct replay *r, long ev, uint64_t mfn, unsigned int level)
{
    const struct trace_ev *e = &r->t.ev[ev];
    uint64_t *page = hostmem_page(&r->h, mfn);
    const struct trace_ent *ent = &r->t.ents[e->ent];
    bool known = r->synced[mfn];
    for (unsigned int s = 0, k = 0; s < XEN_PAGE_SIZE / 8; s++) {
        uint64_t want = k < e->nent && ent[k].slot == s ? ent[k++].val : 0;
        if (level == 4 && s >= PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT && s <= PVM_ROOT_PAGETABLE_LAST_XEN_SLOT)
            continue;   /* Xen's own, not recorded; the core writes its own there */
        if (!known)
            page[s] = want;
        else if ((page[s] ^ want) & ~AD_BITS) {
            replay_miss(r, ev, mfn, false, "validates the recorded contents",
                        "the frame's slot %#x holds %016llx, Xen's %016llx", s, (unsigned long long)page[s],
                        (unsigned long long)want);
            return;
        }
    }
    r->synced[mfn] = SYNC_KNOWN;
    r->vb_known += known;
    r->vb_loaded += !known;
}

void replay_validate(void *ctx, uint64_t mfn, unsigned int level, enum pvm_validate_phase phase, int rc)
{
    static const uint8_t want[] = { TR_VB, TR_VE, TR_DB, TR_DE };
    struct replay *r = ctx;
    struct lcall *c = r->call;
    bool end = phase == PVM_VALIDATE_END || phase == PVM_DEVALIDATE_END;
    char p[64];
    if (r->init) {
        replay_init_validate(r, mfn, level, phase, rc);
        return;
    }
    if (!c) {   /* a ptwr write or a memory event never drops a table's last type reference in Xen */
        replay_miss(r, r->cur_ev, mfn, false, "no (de)validation here", "%s frame %llx as l%u", phase_names[phase],
                    (unsigned long long)mfn, level);
        return;
    }
    if (c->vfailed)
        return;
    long ev = c->vcur < c->nvl ? (long)c->vl[c->vcur] : (long)c->top.result_ev;
    const struct trace_ev *e = c->vcur < c->nvl ? &r->t.ev[ev] : NULL;
    if (!e || e->tag != want[phase] || e->a[0] != mfn || e->type != level || (end && e->rc != rc)) {
        char w[96];
        c->vfailed = true;
        replay_miss(r, ev, mfn, end && rc < 0, e ? vline_words(w, sizeof(w), e) : "no more (de)validations in this call",
                    "%s frame %llx as l%u%s%s", phase_names[phase], (unsigned long long)mfn, level, end ? ": " : "",
                    end ? replay_rc(p, sizeof(p), rc) : "");
        return;
    }
    c->vcur++;
    if (phase == PVM_VALIDATE_BEGIN)
        load_or_compare(r, ev, mfn, level);
    if ((phase == PVM_VALIDATE_END && rc) || phase == PVM_DEVALIDATE_END)
        replay_watch(r, mfn);   /* no longer a table: the guest may write it once it maps it writable */
}

/* ---- -v ---- */

/* What the core answered for one line of the call, into buf (NULL: nothing to say). */
static const char *answer(const struct lcall *c, const struct use *u, char *buf, size_t len)
{
    char x[64];
    switch (u->kind) {
    case USE_CALL:
        return u->ev == c->top.result_ev ? replay_rc(buf, len, c->top.core_result) : NULL;
    case USE_REQ: {
        const struct lsub *s = u->entry < 0 ? &c->top : &c->entries[u->entry];
        const struct lreq *q = &s->reqs[u->idx];
        if (!q->ran)
            return "not run";
        return replay_rc(buf, len, q->core);
    }
    case USE_ENTRY: {
        const struct lsub *s = &c->entries[u->idx];
        if (u->ev == s->ev)
            return NULL;
        if (!s->core_ran)
            return "not run";
        snprintf(buf, len, "%s", replay_rc(x, sizeof(x), s->core_result));
        return buf;
    }
    case USE_VAL:
        return u->idx < c->vcur ? "the same" : "-";
    case USE_TAKEN_IN:
        return "(Xen's preemption: taken into the one call)";
    default:
        return NULL;
    }
}

static void print_call(struct replay *r, const struct lcall *c)
{
    char buf[128];
    for (size_t k = 0; k < c->nuse; k++)
        replay_print_line(r, c->uses[k].ev, answer(c, &c->uses[k], buf, sizeof(buf)));
}

/* ---- the call ---- */

static void free_sub(struct lsub *s)
{
    free(s->reqs);
    free(s->array);
}

static void free_call(struct lcall *c)
{
    free_sub(&c->top);
    for (size_t i = 0; i < c->nent; i++)
        free_sub(&c->entries[i]);
    free(c->entries);
    free(c->list);
    free(c->vl);
    free(c->rg);
    free(c->uses);
}

void replay_call(struct replay *r, size_t i)
{
    struct lcall c = { 0 };
    build_call(r, &c, i);
    add_call_regions(&c);
    xen_ulong_t args[6];
    memcpy(args, c.top.args, sizeof(args));
    r->call = &c;
    long rc = pvm_hypercall(r->v, (unsigned long)c.top.op, args);
    r->call = NULL;
    check_call(r, &c, rc);
    r->rec[r->phase].calls++;
    r->rec[r->phase].taken_in += c.reissues;
    if (r->o->verbose)
        print_call(r, &c);
    free_call(&c);
}
