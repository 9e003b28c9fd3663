/*
 * script_run.c - runs a parsed scenario script on a fresh simulated machine,
 * the auditor after every operation (or every Nth, see script.h), and
 * reports each failure with Xen's log lines and an explanation of the refusal.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "hostmem.h"
#include "script_int.h"
#include "xenprog.h"

#define STAT(n) { #n, offsetof(struct pvm_stats, n) }
static const struct {
    const char *name;
    size_t off;
} stats[] = {
    STAT(hc_mmu_update), STAT(hc_mmuext_op), STAT(hc_update_va_mapping), STAT(hc_multicall),
    STAT(hc_vm_assist), STAT(hc_other), STAT(mmu_update_reqs), STAT(mmuext_ops), STAT(multicall_entries),
    STAT(entries_validated), STAT(fastpath), STAT(pins), STAT(unpins), STAT(baseptr_loads),
    STAT(ptwr_emulations), STAT(page_faults), STAT(tlb_flushes), STAT(tlb_flushes_typechange),
    STAT(tlb_flushes_linear_pt), STAT(tlb_flushes_alloc), STAT(tlb_invlpg), STAT(tlb_hits), STAT(tlb_misses), STAT(tlb_stale_hits),
    STAT(refusals),
    { "promotions_l1", offsetof(struct pvm_stats, promotions) + 1 * sizeof(uint64_t) },
    { "promotions_l2", offsetof(struct pvm_stats, promotions) + 2 * sizeof(uint64_t) },
    { "promotions_l3", offsetof(struct pvm_stats, promotions) + 3 * sizeof(uint64_t) },
    { "promotions_l4", offsetof(struct pvm_stats, promotions) + 4 * sizeof(uint64_t) },
    { "demotions_l1", offsetof(struct pvm_stats, demotions) + 1 * sizeof(uint64_t) },
    { "demotions_l2", offsetof(struct pvm_stats, demotions) + 2 * sizeof(uint64_t) },
    { "demotions_l3", offsetof(struct pvm_stats, demotions) + 3 * sizeof(uint64_t) },
    { "demotions_l4", offsetof(struct pvm_stats, demotions) + 4 * sizeof(uint64_t) },
};

int script_stat_index(const char *name)
{
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
        if (!strcmp(name, stats[i].name))
            return (int)i;
    return -1;
}

uint64_t script_stat_value(const struct pvm_stats *st, int idx)
{
    uint64_t v;
    memcpy(&v, (const char *)st + stats[idx].off, sizeof(v));
    return v;
}

const char *script_stat_name(int idx)
{
    return stats[idx].name;
}

struct runner {
    const struct script *s;
    const struct script_opts *o;
    FILE *out;
    struct hostmem h;
    struct pvm_machine m;
    void *scratch;
    unsigned long steps, failed, audit_issues;
    unsigned long every, audits;    /* audit cadence (script_audit_cadence) and audits run */
    int audited_line;               /* line of the operation after which the last audit ran (0: none yet) */
    bool at_end;                    /* the final audit is running */
    unsigned long log_mark;         /* log line count when the last operation began */
    bool cur_failed;
    bool quiet;                     /* differential run: results are recorded, not checked */
    struct xp_result res;           /* what the current step gave */
    const struct step *cur;
    struct explain_names names;
};

static const char *frame_label(void *ctx, uint64_t mfn)
{
    const struct frame_name *f = script_frame_at(ctx, mfn);
    return f ? f->name : NULL;
}

static const char *kind_name(enum step_kind k)
{
    static const char *const n[] = {
        "domain", "frame", "io", "set", "vm_assist", "set_cr3", "release", "mode", "mmu_update", "mmuext",
        "update_va_mapping", "update_va_mapping_otherdomain", "store", "load", "multicall", "op",
        "expect", "expect", "expect stat", "expect log", "expect why", "expect mappings", "audit", "assign",
    };
    return n[k];
}

static void print_step_logs(struct runner *r, const char *indent)
{
    for (unsigned long i = hostmem_log_first(&r->h, r->log_mark); i < r->h.log_lines; i++)
        fprintf(r->out, "%s%s\n", indent, hostmem_log_line(&r->h, i));
}

__attribute__((format(printf, 2, 3)))
static void step_fail(struct runner *r, const char *fmt, ...)
{
    va_list ap;
    if (r->quiet)
        return;
    fprintf(r->out, "%s:%d: FAIL %s: ", r->s->name, r->cur->line, kind_name(r->cur->kind));
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
    if (!r->cur_failed && !r->o->verbose)
        print_step_logs(r, "    ");
    r->cur_failed = true;
}

/* The rc the script expects of st: its `-> RC`, or 0. */
static long want_rc(const struct step *st)
{
    return st->has_expect ? st->expect_rc : 0;
}

/* The done count the script expects of a batch that returned rc after done items. */
static unsigned int want_done(const struct step *st, long rc, unsigned int done)
{
    return st->has_done ? st->expect_done : (rc == 0 ? st->count : done);
}

/* Does a store that gave access a meet the script's `-> ok|emulated|#PF` (without one: no fault)? */
static bool store_meets(const struct step *st, int a)
{
    return st->has_expect ? a == st->expect_access : a != PVM_ACCESS_FAULT;
}

/* Does a load that gave access a and value val meet the script's `-> VALUE|#PF` (without one: no fault)? */
static bool load_meets(const struct step *st, int a, uint64_t val)
{
    if (st->has_expect ? a != st->expect_access : a != PVM_ACCESS_OK)
        return false;
    return !st->has_expect_val || val == st->expect_val;
}

static const char *access_name(int a)
{
    return a == PVM_ACCESS_OK ? "ok" : a == PVM_ACCESS_EMULATED ? "emulated" : "#PF";
}

static int access_of_xp(unsigned int a)
{
    return a == XP_ACC_OK ? PVM_ACCESS_OK : a == XP_ACC_EMULATED ? PVM_ACCESS_EMULATED : PVM_ACCESS_FAULT;
}

/* An rc and, for a batch, a done count against st's expectations; "" or what was wrong in msg. */
static bool rc_meets(const struct step *st, bool batch, long rc, unsigned int done, char *msg, size_t n)
{
    if (rc != want_rc(st)) {
        char w[32];
        snprintf(w, sizeof(w), "%s", xen_errno_name(want_rc(st)));
        snprintf(msg, n, "returned %s, expected %s", xen_errno_name(rc), w);
        return false;
    }
    if (batch && done != want_done(st, rc, done)) {
        snprintf(msg, n, "done count %u, expected %u", done, want_done(st, rc, done));
        return false;
    }
    return true;
}

/* The result field of a multicall entry before the call: an entry the batch never reached keeps it. */
#define MC_NOT_RUN ((long)0xDEADBEEF)

/*
 * What multicall entry e gave (rc, its result field) against what the script
 * wants, as one phrase into buf: "did not run (the batch stopped before it),
 * expected 0", "result -EINVAL, expected 0", "result 0, expected not to run".
 */
static const char *entry_mismatch(const struct step *e, long rc, char *buf, size_t n)
{
    long want = want_rc(e);
    char w[64];
    if (want == MC_NOT_RUN)
        snprintf(w, sizeof(w), "expected not to run (-> 0xDEADBEEF)");
    else
        snprintf(w, sizeof(w), "expected %s", xen_errno_name(want));
    if (rc == MC_NOT_RUN)
        snprintf(buf, n, "did not run (the batch stopped before it), %s", w);
    else
        snprintf(buf, n, "result %s, %s", xen_errno_name(rc), w);
    return buf;
}

bool script_result_meets(const struct step *st, const struct xp_result *res, char *msg, size_t n)
{
    msg[0] = 0;
    if (res->link_rc) {
        snprintf(msg, n, "dom0 could not link the script's tables (rc=%ld)", res->link_rc);
        return false;
    }
    switch (st->kind) {
    case S_STORE:
        if (store_meets(st, access_of_xp(res->access)))
            return true;
        snprintf(msg, n, "store gave %s, expected %s", access_name(access_of_xp(res->access)),
                 st->has_expect ? access_name(st->expect_access) : "ok or emulated");
        return false;
    case S_LOAD:
        if (load_meets(st, access_of_xp(res->access), res->val))
            return true;
        if (access_of_xp(res->access) == PVM_ACCESS_FAULT || !st->has_expect_val)
            snprintf(msg, n, "load gave %s, expected %s", access_name(access_of_xp(res->access)),
                     st->has_expect && !st->has_expect_val ? access_name(st->expect_access) : "no fault");
        else
            snprintf(msg, n, "load read %016" PRIx64 ", expected %016" PRIx64, res->val, st->expect_val);
        return false;
    case S_EXPECT_ENTRY:
        if (res->val == st->val)
            return true;
        snprintf(msg, n, "entry is %016" PRIx64 ", expected %016" PRIx64, res->val, st->val);
        return false;
    case S_MMU_UPDATE:
    case S_MMUEXT:
        return rc_meets(st, true, res->rc, res->done, msg, n);
    case S_MULTICALL:
        if (!rc_meets(st, false, res->rc, 0, msg, n))
            return false;
        for (size_t i = 0; i < st->nsub && i < XP_MAX_BATCH; i++) {
            const struct step *e = &st->sub[i];
            bool batch = (e->kind == S_MMU_UPDATE || e->kind == S_MMUEXT) && res->sub_rc[i] != MC_NOT_RUN;
            char m[112];
            if (i < res->n && res->sub_rc[i] != want_rc(e))
                entry_mismatch(e, res->sub_rc[i], m, sizeof(m));
            if (i >= res->n || !rc_meets(e, batch, res->sub_rc[i], res->sub_done[i], m, sizeof(m))) {
                snprintf(msg, n, "entry %zu (line %d) %s", i, e->line, i >= res->n ? "has no result" : m);
                return false;
            }
        }
        return true;
    default:
        return rc_meets(st, false, res->rc, 0, msg, n);
    }
}

/*
 * The core's account of its latest refusal (explain_refusal), indented under the step, through
 * explain_wrap so that it fits 100 columns as boot's and compare's do.  Without host memory for the
 * text it does not return (host_out_of_memory).
 */
static void print_refusal(struct runner *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        host_out_of_memory(sizeof(FILE), "a stream for an explanation");
    explain_refusal(f, &r->m, "    ", &r->names);
    if (fclose(f))
        host_out_of_memory(len, "an explanation");
    explain_wrap(r->out, text);
    free(text);
}

static void check_rc(struct runner *r, const struct step *st, long rc, const char *what)
{
    long want = want_rc(st);
    r->res.rc = rc;
    if (r->quiet)
        return;
    if (rc != want) {
        char w[32];
        snprintf(w, sizeof(w), "%s", xen_errno_name(want));
        step_fail(r, "%s returned %s, expected %s", what, xen_errno_name(rc), w);
        if (rc && !r->o->verbose)
            print_refusal(r);
    }
    if (rc && r->o->verbose)
        print_refusal(r);
}

static void check_done(struct runner *r, const struct step *st, long rc, unsigned int done)
{
    unsigned int want = want_done(st, rc, done);
    r->res.done = done;
    if (done != want)
        step_fail(r, "done count %u, expected %u", done, want);
}

static struct pvm_vcpu *vcpu_of(struct runner *r, const struct step *st)
{
    return pvm_vcpu(&r->m, st->dom, st->vcpu);
}

/*
 * Make a buffer of the runner's visible to the core as guest memory (a
 * script's guest handles: vCPU masks, multicall arguments) for the current
 * step; its guest handle.  Out of memory ends the step.
 */
static xen_ulong_t guest_buf(struct runner *r, const void *p, size_t len)
{
    if (hostmem_guest_view(&r->h, p, len))
        step_fail(r, "out of memory");
    return (xen_ulong_t)(uintptr_t)p;
}

static void fill_mmuext(struct runner *r, const struct step *st, struct mmuext_op *ops)
{
    for (unsigned int i = 0; i < st->count; i++) {
        ops[i] = st->ops[i];
        if (st->mask_used[i])
            ops[i].arg2.vcpumask = guest_buf(r, &st->masks[i], sizeof(st->masks[i]));
    }
}

static unsigned long uvm_flags(struct runner *r, const struct step *st)
{
    unsigned long f = st->flags;
    if (st->mask_used && st->mask_used[0])
        f = (f & UVMF_FLUSHTYPE_MASK) | (unsigned long)guest_buf(r, &st->masks[0], sizeof(st->masks[0]));
    return f;
}

/* The guest memory of a multicall in progress: its entries, each batch's done count and mmuext list. */
struct mc_call {
    const struct step *st;        /* the multicall: its entries are st->sub */
    size_t n;
    struct multicall_entry *mc;
    unsigned int *done;           /* ~0u until the batch writes it */
    struct mmuext_op **ops;
};

/* A batch entry (mmu_update or mmuext_op, hypercall op): its list, count, done count and foreign domain. */
static void mc_batch(struct runner *r, struct mc_call *c, size_t i, unsigned int op, xen_ulong_t list)
{
    const struct step *e = &c->st->sub[i];
    c->mc[i].op = op;
    c->mc[i].args[0] = list;
    c->mc[i].args[1] = e->count;
    c->mc[i].args[2] = guest_buf(r, &c->done[i], sizeof(c->done[i]));
    c->mc[i].args[3] = e->foreigndom;
}

/* Entry i of the multicall as the hypercall its line names, its result not yet written. */
static void mc_entry(struct runner *r, struct mc_call *c, size_t i)
{
    const struct step *e = &c->st->sub[i];
    struct multicall_entry *m = &c->mc[i];
    c->done[i] = ~0u;
    switch (e->kind) {
    case S_MMU_UPDATE:
        mc_batch(r, c, i, __HYPERVISOR_mmu_update, e->count ? guest_buf(r, e->reqs, e->count * sizeof(*e->reqs)) : 0);
        break;
    case S_MMUEXT:
        c->ops[i] = host_calloc(e->count ? e->count : 1, sizeof(**c->ops), "an mmuext list");
        fill_mmuext(r, e, c->ops[i]);
        mc_batch(r, c, i, __HYPERVISOR_mmuext_op, guest_buf(r, c->ops[i], (e->count ? e->count : 1) * sizeof(**c->ops)));
        break;
    case S_UVM:
    case S_UVM_OTHER:
        m->op = e->kind == S_UVM ? __HYPERVISOR_update_va_mapping : __HYPERVISOR_update_va_mapping_otherdomain;
        m->args[0] = e->va;
        m->args[1] = e->val;
        m->args[2] = uvm_flags(r, e);
        m->args[3] = e->foreigndom;
        break;
    case S_VM_ASSIST:
        m->op = __HYPERVISOR_vm_assist;
        m->args[0] = e->cmd;
        m->args[1] = e->type;
        break;
    default:
        m->op = e->cmd;
        break;
    }
    m->result = (xen_ulong_t)MC_NOT_RUN;
}

/* Each entry's result and done count into r->res (what a differential records). */
static void mc_record(struct runner *r, const struct mc_call *c)
{
    for (size_t i = 0; i < c->n && i < XP_MAX_BATCH; i++) {
        r->res.sub_rc[i] = (long)c->mc[i].result;
        r->res.sub_done[i] = c->done[i] == ~0u ? 0 : c->done[i];
    }
    r->res.n = (unsigned int)c->n;
}

/* Entry i's result and done count against its line's expectations: a FAIL line or a note on a mismatch. */
static void mc_check_entry(struct runner *r, const struct mc_call *c, size_t i)
{
    const struct step *e = &c->st->sub[i];
    long res = (long)c->mc[i].result;
    if (res != want_rc(e)) {
        char m[112];
        fprintf(r->out, "%s:%d: FAIL multicall entry %zu (%s): %s\n", r->s->name, e->line, i, kind_name(e->kind),
                entry_mismatch(e, res, m, sizeof(m)));
        r->cur_failed = true;
    } else if (res == MC_NOT_RUN && (!r->o->terse || r->o->verbose)) {
        fprintf(r->out, "%s:%d: note: entry not run (the batch stopped before it)\n", r->s->name, e->line);
    }
    if ((e->kind == S_MMU_UPDATE || e->kind == S_MMUEXT) && c->done[i] != ~0u) {
        unsigned int wd = want_done(e, res, c->done[i]);
        if (c->done[i] != wd) {
            fprintf(r->out, "%s:%d: FAIL multicall entry %zu: done %u, expected %u\n", r->s->name, e->line, i,
                    c->done[i], wd);
            r->cur_failed = true;
        }
    }
}

/* A multicall step: its entries built in guest memory, issued, recorded and checked. */
static void run_multicall(struct runner *r, const struct step *st, struct pvm_vcpu *v)
{
    struct mc_call c = { .st = st, .n = st->nsub };
    c.mc = host_calloc(c.n, sizeof(*c.mc), "a multicall's entries");
    c.done = host_calloc(c.n, sizeof(*c.done), "a multicall's done counts");
    c.ops = host_calloc(c.n, sizeof(*c.ops), "a multicall's mmuext lists");
    for (size_t i = 0; i < c.n; i++)
        mc_entry(r, &c, i);
    long rc = pvm_multicall(v, c.mc, (unsigned int)c.n);
    check_rc(r, st, rc, "multicall");
    mc_record(r, &c);
    for (size_t i = 0; i < c.n && !r->quiet; i++)
        mc_check_entry(r, &c, i);
    for (size_t i = 0; i < c.n; i++)
        free(c.ops[i]);
    free(c.ops);
    free(c.done);
    free(c.mc);
}

/* An owner as a script writes it (dN, io, none; xen or the number for other reserved ids) into buf. */
static const char *owner_text(domid_t owner, char *buf, size_t n)
{
    if (owner == DOMID_INVALID)
        snprintf(buf, n, "none");
    else if (owner == DOMID_IO)
        snprintf(buf, n, "io");
    else if (owner == DOMID_XEN)
        snprintf(buf, n, "xen");
    else
        snprintf(buf, n, owner < DOMID_FIRST_RESERVED ? "d%u" : "%u", owner);
    return buf;
}

static void expect_frame(struct runner *r, const struct step *st)
{
    struct pvm_frame_state f;
    const struct frame_expect *e = &st->fe;
    pvm_frame_query(&r->m, st->mfn, &f);
    const char *name = frame_label((void *)r->s, st->mfn);
    char id[96];
    snprintf(id, sizeof(id), "%s (mfn %#" PRIx64 ")", name ? name : "frame", st->mfn);
    if (e->has_type && (int)f.type != e->type)
        step_fail(r, "%s has type %s, expected %s", id, pvm_type_name(f.type), pvm_type_name((enum pvm_type)e->type));
    if (e->has_tc && f.type_count != e->tc)
        step_fail(r, "%s has type count %" PRIu64 ", expected %" PRIu64, id, f.type_count, e->tc);
    if (e->has_count && f.count != e->count)
        step_fail(r, "%s has general count %" PRIu64 ", expected %" PRIu64, id, f.count, e->count);
    if (e->has_linear && f.linear_pt_count != e->linear)
        step_fail(r, "%s has linear_pt_count %d, expected %d", id, f.linear_pt_count, e->linear);
    if (e->has_m2p && f.m2p != e->m2p)
        step_fail(r, "%s has m2p %#" PRIx64 ", expected %#" PRIx64, id, f.m2p, e->m2p);
    domid_t owner = f.io ? (domid_t)DOMID_IO : f.owner;   /* a frame above memory is implicitly I/O */
    char have[16], want[16];
    if (e->has_owner && owner != e->owner)
        step_fail(r, "%s is owned by %s%s, expected %s", id, owner_text(owner, have, sizeof(have)),
                  f.valid ? "" : " (above machine memory: implicitly I/O)", owner_text(e->owner, want, sizeof(want)));
    if (e->pinned && f.pinned != (e->pinned > 0))
        step_fail(r, "%s is %s, expected %s", id, f.pinned ? "pinned" : "not pinned",
                  e->pinned > 0 ? "pinned" : "not pinned");
    if (e->validated && f.validated != (e->validated > 0))
        step_fail(r, "%s is %s, expected %s", id, f.validated ? "validated" : "not validated",
                  e->validated > 0 ? "validated" : "not validated");
}

static void count_mapping(void *ctx, const struct pvm_mapping *map)
{
    (void)ctx;
    (void)map;
}

static void audit_report(void *ctx, const struct pvm_audit_issue *is)
{
    struct runner *r = ctx;
    if (r->every == 1)
        fprintf(r->out, "%s:%d: AUDIT %s\n", r->s->name, r->cur->line, is->text);
    else   /* not audited after every operation: say where the cause can be */
        fprintf(r->out, "%s:%d: AUDIT %s (caused by a line from %d to %d%s)\n", r->s->name, r->cur->line, is->text,
                r->audited_line + 1, r->cur->line, r->at_end ? ", found by the audit at the end" : "");
    r->audit_issues++;
}

/* Run the auditor now, after the current step; its issues fail that step. */
static void audit_now(struct runner *r)
{
    unsigned long before = r->audit_issues;
    pvm_audit(&r->m, r->scratch, audit_report, r);
    r->audits++;
    r->audited_line = r->cur->line;
    if (r->audit_issues != before)
        r->cur_failed = true;
}

unsigned long script_audit_cadence(uint64_t nr_frames, size_t ops, unsigned long requested)
{
    if (requested != SCRIPT_AUDIT_AUTO)
        return requested;
    uint64_t work = nr_frames * ops;
    return work <= SCRIPT_AUDIT_BUDGET ? 1 : (unsigned long)((work + SCRIPT_AUDIT_BUDGET - 1) / SCRIPT_AUDIT_BUDGET);
}

/* How often the auditor ran, for the summary line. */
static void cadence_text(const struct runner *r, char *buf, size_t n)
{
    if (r->every == 1)
        snprintf(buf, n, "after every step");
    else if (r->every == SCRIPT_AUDIT_END)
        snprintf(buf, n, "at the end (--audit=end)");
    else
        snprintf(buf, n, "after every %lu operations and at the end, %lu audits (%s; --audit=each audits every step)",
                 r->every, r->audits,
                 r->o->audit_every == SCRIPT_AUDIT_AUTO ? "automatic: frames x operations is over 2^28" : "as --audit asked");
}

static bool is_operation(enum step_kind k)
{
    return k < S_EXPECT_FRAME || k == S_AUDIT || k == S_ASSIGN;
}

/* The operations of s that this run carries out (a differential's plan skips some). */
static size_t count_operations(const struct script *s, const struct script_opts *o)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nsteps; i++)
        n += is_operation(s->steps[i].kind) && !(o->plan && o->plan[i] < 0);
    return n;
}

static unsigned int xp_access_of(int a)
{
    return a == PVM_ACCESS_OK ? XP_ACC_OK : a == PVM_ACCESS_EMULATED ? XP_ACC_EMULATED : XP_ACC_FAULT;
}

/* A setup step: domains, frames, builder writes, roots, giving frames back and out, guest mode. */
static void run_setup(struct runner *r, const struct step *st, struct pvm_vcpu *v)
{
    struct pvm_machine *m = &r->m;
    switch (st->kind) {
    case S_DOMAIN: {
        const struct domain_decl *d = NULL;
        for (size_t i = 0; i < r->s->ndoms; i++)
            if (r->s->doms[i].id == st->dom)
                d = &r->s->doms[i];
        long rc = pvm_domain_create(m, d->id, d->vcpus,
                                    d->flags | (r->o->privileged && d->id == r->o->privileged ? PVM_DOM_PRIVILEGED : 0));
        if (!rc && d->iomem_set)
            rc = pvm_domain_iomem_permit(m, d->id, d->iomem_first, d->iomem_last);
        check_rc(r, st, rc, "domain creation");
        break;
    }
    case S_FRAME:
        check_rc(r, st, pvm_assign_page(m, st->mfn, st->dom, st->val), "frame assignment");
        break;
    case S_IO:
        if (st->mfn < m->nr_frames)
            check_rc(r, st, pvm_mark_io(m, st->mfn), "marking an I/O frame");
        break;
    case S_SET:
        check_rc(r, st, pvm_poke(m, st->mfn, st->slot, st->val), "set");
        break;
    case S_VM_ASSIST:
        check_rc(r, st, pvm_vm_assist(v, st->cmd, st->type), "vm_assist");
        break;
    case S_SET_CR3:
        check_rc(r, st, pvm_set_guest_table(v, st->mfn), "set_cr3");
        break;
    case S_RELEASE:
        check_rc(r, st, pvm_release_page(m, st->dom, st->mfn), "release");
        break;
    case S_ASSIGN:
        check_rc(r, st, pvm_assign_page(m, st->mfn, st->dom, st->val), "assign");
        break;
    case S_MODE:
        pvm_set_guest_mode(v, st->cmd != 0);
        break;
    default:
        break;
    }
}

/* A hypercall step: its result, its done count, a multicall's entries. */
static void run_hypercall(struct runner *r, const struct step *st, struct pvm_vcpu *v)
{
    unsigned int done = 0;
    long rc;
    switch (st->kind) {
    case S_MMU_UPDATE:
        rc = pvm_mmu_update(v, st->reqs, st->count, &done, st->foreigndom);
        check_rc(r, st, rc, "mmu_update");
        check_done(r, st, rc, done);
        break;
    case S_MMUEXT: {
        struct mmuext_op *ops = host_calloc(st->count ? st->count : 1, sizeof(*ops), "an mmuext list");
        fill_mmuext(r, st, ops);
        rc = pvm_mmuext_op(v, ops, st->count, &done, st->foreigndom);
        free(ops);
        check_rc(r, st, rc, "mmuext_op");
        check_done(r, st, rc, done);
        break;
    }
    case S_UVM:
        check_rc(r, st, pvm_update_va_mapping(v, st->va, st->val, uvm_flags(r, st)), "update_va_mapping");
        break;
    case S_UVM_OTHER:
        check_rc(r, st,
                 pvm_update_va_mapping_otherdomain(v, st->va, st->val, uvm_flags(r, st), (domid_t)st->foreigndom),
                 "update_va_mapping_otherdomain");
        break;
    case S_MULTICALL:
        run_multicall(r, st, v);
        break;
    default:
        break;
    }
}

/* A guest store through the software MMU: the access it gave, and on a fault where and why. */
static void run_store(struct runner *r, const struct step *st, struct pvm_vcpu *v)
{
    struct pvm_fault f;
    int a = pvm_guest_store(v, st->va, st->val, st->bytes, &f);
    r->res.access = xp_access_of(a);
    bool ok = store_meets(st, a);
    if (!ok)
        step_fail(r, "store to %#" PRIx64 " gave %s, expected %s", st->va, access_name(a),
                  st->has_expect ? access_name(st->expect_access) : "ok or emulated");
    if (a != PVM_ACCESS_FAULT || r->quiet || (ok && !r->o->verbose))
        return;
    explain_printf(r->out, "    #PF va %#" PRIx64 " error code %#x at L%u (table mfn %#" PRIx64 " entry %016" PRIx64 ")\n",
                   f.va, f.error_code, f.level, f.table_mfn, f.entry);
    if (r->m.last_set)
        print_refusal(r);
}

/* A guest load: the access and the value it read, against the step's expectation. */
static void run_load(struct runner *r, const struct step *st, struct pvm_vcpu *v)
{
    struct pvm_fault f;
    uint64_t val = 0;
    int a = pvm_guest_load(v, st->va, &val, &f);
    r->res.access = xp_access_of(a);
    r->res.val = val;
    if (load_meets(st, a, val))
        return;
    if (st->has_expect && a != st->expect_access)
        step_fail(r, "load from %#" PRIx64 " gave %s, expected %s", st->va, access_name(a),
                  access_name(st->expect_access));
    else if (!st->has_expect && a != PVM_ACCESS_OK)
        step_fail(r, "load from %#" PRIx64 " faulted (error code %#x at L%u)", st->va, f.error_code, f.level);
    else
        step_fail(r, "load from %#" PRIx64 " read %016" PRIx64 ", expected %016" PRIx64, st->va, val, st->expect_val);
}

/* Does a log line of the last operation contain text? */
static bool log_has(const struct runner *r, const char *text)
{
    for (unsigned long i = hostmem_log_first(&r->h, r->log_mark); i < r->h.log_lines; i++)
        if (strstr(hostmem_log_line(&r->h, i), text))
            return true;
    return false;
}

/* The cause of the last refusal (and the frame it was about) against an `expect why` step. */
static void expect_why(struct runner *r, const struct step *st)
{
    const struct pvm_machine *m = &r->m;
    if (st->stat == PVM_WHY_NONE ? m->last_set && m->last.why != PVM_WHY_NONE
                                 : !m->last_set || (int)m->last.why != st->stat)
        step_fail(r, "last refusal cause is %s, expected %s", m->last_set ? why_cause_name(m->last.why) : "none",
                  why_cause_name((enum pvm_why)st->stat));
    else if (st->mfn != PVM_INVALID_MFN && m->last.mfn != st->mfn)
        step_fail(r, "last refusal is about mfn %#" PRIx64 ", expected %#" PRIx64, m->last.mfn, st->mfn);
}

/* An assertion on the machine's state: a frame, an entry, a counter, a log line, a cause, mappings. */
static void run_expect(struct runner *r, const struct step *st)
{
    struct pvm_machine *m = &r->m;
    uint64_t val;
    switch (st->kind) {
    case S_EXPECT_FRAME:
        expect_frame(r, st);
        break;
    case S_EXPECT_ENTRY:
        r->res.val = val = pvm_peek(m, st->mfn, st->slot);
        if (val != st->val)
            step_fail(r, "entry %u of mfn %#" PRIx64 " is %016" PRIx64 ", expected %016" PRIx64, st->slot, st->mfn,
                      val, st->val);
        break;
    case S_EXPECT_STAT:
        val = script_stat_value(&m->stats, st->stat);
        if (val != st->val)
            step_fail(r, "counter %s is %" PRIu64 ", expected %" PRIu64, script_stat_name(st->stat), val, st->val);
        break;
    case S_EXPECT_LOG:
        if (!log_has(r, st->text)) {
            step_fail(r, "no log line of the last operation contains \"%s\"", st->text);
            print_step_logs(r, "    ");
        }
        break;
    case S_EXPECT_WHY:
        expect_why(r, st);
        break;
    case S_EXPECT_MAPPINGS:
        val = pvm_find_mappings(m, st->mfn, st->bytes != 0, count_mapping, NULL);
        if (val != st->val)
            step_fail(r, "%" PRIu64 " %smapping(s) of mfn %#" PRIx64 ", expected %" PRIu64, val,
                      st->bytes ? "writable " : "", st->mfn, st->val);
        break;
    default:
        break;
    }
}

/* Run one step on the machine and check it against the script; a failure is recorded, never fatal. */
static void run_step(struct runner *r, const struct step *st)
{
    struct pvm_vcpu *v = vcpu_of(r, st);
    hostmem_guest_views_clear(&r->h);   /* a step's guest buffers live for that step only */
    switch (st->kind) {
    case S_MMU_UPDATE: case S_MMUEXT: case S_UVM: case S_UVM_OTHER: case S_MULTICALL:
        run_hypercall(r, st, v);
        break;
    case S_STORE:
        run_store(r, st, v);
        break;
    case S_LOAD:
        run_load(r, st, v);
        break;
    case S_EXPECT_FRAME: case S_EXPECT_ENTRY: case S_EXPECT_STAT: case S_EXPECT_LOG: case S_EXPECT_WHY:
    case S_EXPECT_MAPPINGS:
        run_expect(r, st);
        break;
    case S_RAW_OP: case S_AUDIT:
        break;
    default:
        run_setup(r, st, v);
        break;
    }
}

/* A runner for s on a fresh simulated machine (the script's machine line), its auditor's scratch taken. */
static struct runner *runner_new(const struct script *s, const struct script_opts *o)
{
    struct runner *r = host_calloc(1, sizeof(*r), "the script runner");
    r->out = o->out ? o->out : stdout;
    hostmem_init(&r->h, &r->m, s->nr_frames);
    r->s = s;
    r->o = o;
    r->quiet = o->plan != NULL;
    r->names = (struct explain_names){ .frame = frame_label, .ctx = (void *)s };
    r->m.opt_pv_linear_pt = s->linear_pt;
    r->m.opt_tlb_check = s->tlb_check;
    r->m.paddr_bits = s->paddr_bits;
    r->scratch = host_malloc(pvm_audit_scratch_bytes(&r->m), "the auditor's scratch");
    r->every = script_audit_cadence(s->nr_frames, count_operations(s, o), o->audit_every);
    if (o->verbose) {
        r->h.log = r->out;
        r->h.log_prefix = "    ";
    }
    return r;
}

/*
 * Step i of the script: run and checked (or recorded, as the plan says), the
 * auditor after it when the cadence calls for it.  *since counts the
 * operations since the last audit.
 */
static void run_step_at(struct runner *r, size_t i, unsigned long *since)
{
    const struct script_opts *o = r->o;
    const struct step *st = &r->s->steps[i];
    r->cur = st;
    r->cur_failed = false;
    memset(&r->res, 0, sizeof(r->res));
    /* dom0 reaches a script's tables by linking them into its own L4, which flushes its TLB (xenprog.h) */
    if (o->plan && o->plan[i] > 0 && (st->kind == S_UVM || st->kind == S_STORE || st->kind == S_LOAD) &&
        vcpu_of(r, st))
        pvm_tlb_flush_vcpu(vcpu_of(r, st));
    if (is_operation(st->kind))
        r->log_mark = r->h.log_lines;
    if (o->verbose)
        fprintf(r->out, "%s:%d: %s\n", r->s->name, st->line, kind_name(st->kind));
    run_step(r, st);
    if (o->record && (!o->plan || o->plan[i] > 0))
        o->record(o->record_ctx, i, &r->res);
    if (is_operation(st->kind) && (++*since >= r->every || st->kind == S_AUDIT)) {
        audit_now(r);
        *since = 0;
    }
    r->steps++;
    if (r->cur_failed)
        r->failed++;
}

/* The summary line (unless terse and all passed, or a quiet run the auditor found nothing in). */
static void print_summary(const struct runner *r)
{
    char cadence[200];
    cadence_text(r, cadence, sizeof(cadence));
    if ((!r->quiet && (!r->o->terse || r->failed)) || r->audit_issues)
        fprintf(r->out, "%s%s: %lu steps, %lu passed, %lu failed; auditor %s %s\n", r->s->name,
                r->quiet ? " (steps run as dom0)" : "", r->steps, r->steps - r->failed, r->failed,
                r->audit_issues ? "found issues, audited" : "clean", cadence);
}

int script_run(const struct script *s, const struct script_opts *o)
{
    struct runner *r = runner_new(s, o);
    unsigned long since = 0;   /* operations since the last audit */
    for (size_t i = 0; i < s->nsteps; i++)
        if (!(o->plan && o->plan[i] < 0))
            run_step_at(r, i, &since);
    if (since) {
        r->at_end = true;
        audit_now(r);
    }
    print_summary(r);
    int rc = r->failed || r->audit_issues ? 1 : 0;
    free(r->scratch);
    hostmem_free(&r->h);
    free(r);
    return rc;
}
