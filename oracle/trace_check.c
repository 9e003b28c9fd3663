/*
 * trace_check.c - a record's consistency with itself (trace_check.h).
 */
#include "trace_check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hostmem.h"
#include "pvmmu/xen.h"

/* One line "PATH:LINE: what" on err; returns -1. */
__attribute__((format(printf, 4, 5)))
static int refuse(const struct trace *t, FILE *err, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    fprintf(err, "%s:%u: ", t->path, line);
    va_start(ap, fmt);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputc('\n', err);
    return -1;
}

/* ---- argument counts ---- */

/*
 * The arguments each hypercall takes on 64-bit PV, from its prototype in Xen 4.17's
 * xen/include/hypercall-defs.c (the recorder writes as many as that table's pv64 column says).  `built`:
 * the hypercall is in the table only in a Xen configured with it (CONFIG_GRANT_TABLE, CONFIG_HVM,
 * CONFIG_KEXEC, ...); one built without it has 0 there, and so has its record.
 */
static const struct hypercall_args {
    uint8_t nr, args;
    bool built;
} hypercall_args[] = {
    { 0, 1, false },    /* set_trap_table */
    { 2, 2, false },    /* set_gdt */
    { 3, 2, false },    /* stack_switch */
    { 4, 3, false },    /* set_callbacks */
    { 5, 1, false },    /* fpu_taskswitch */
    { 6, 2, false },    /* sched_op_compat */
    { 7, 1, true },     /* platform_op */
    { 8, 2, false },    /* set_debugreg */
    { 9, 1, false },    /* get_debugreg */
    { 10, 2, false },   /* update_descriptor */
    { 12, 2, false },   /* memory_op */
    { 15, 1, false },   /* set_timer_op */
    { 16, 1, false },   /* event_channel_op_compat */
    { 17, 2, false },   /* xen_version */
    { 18, 3, false },   /* console_io */
    { 19, 1, false },   /* physdev_op_compat */
    { 20, 3, true },    /* grant_table_op */
    { 23, 0, false },   /* iret */
    { 24, 3, false },   /* vcpu_op */
    { 25, 2, false },   /* set_segment_base */
    { 27, 1, false },   /* xsm_op */
    { 28, 2, false },   /* nmi_op */
    { 29, 2, false },   /* sched_op */
    { 30, 2, false },   /* callback_op */
    { 31, 2, true },    /* xenoprof_op */
    { 32, 2, false },   /* event_channel_op */
    { 33, 2, false },   /* physdev_op */
    { 34, 2, true },    /* hvm_op */
    { 35, 1, true },    /* sysctl */
    { 36, 1, true },    /* domctl */
    { 37, 2, true },    /* kexec_op */
    { 39, 5, true },    /* argo_op */
    { 40, 2, false },   /* xenpmu_op */
    { 41, 3, true },    /* dm_op */
    { 42, 5, true },    /* hypfs_op */
    { 48, 1, false },   /* mca (arch_0) */
    { 49, 1, true },    /* paging_domctl_cont (arch_1) */
};

int trace_check_args(const struct trace *t, FILE *err, uint32_t line, uint64_t nr, unsigned int have)
{
    for (size_t i = 0; i < sizeof(hypercall_args) / sizeof(hypercall_args[0]); i++) {
        const struct hypercall_args *h = &hypercall_args[i];
        if (h->nr != nr || have == h->args || (h->built && have == 0))
            continue;
        return refuse(t, err, line, "hypercall %llx takes %u argument%s%s, this line gives %u", (unsigned long long)nr,
                      h->args, h->args == 1 ? "" : "s", h->built ? " (0 in a Xen built without it)" : "", have);
    }
    return 0;
}

/* ---- the calls: requests and entries against their counts, Xen's continuations ---- */

#define PREEMPTED 0x80000000u     /* MMU_UPDATE_PREEMPTED: bit 31 of a continued batch's count */
#define RESTART_RC (-85)          /* -ERESTART: a request Xen did not finish */
#define MULTICALL_ENTRY_SIZE 64   /* struct multicall_entry on 64-bit: op, result, six arguments */

/* The hypercall a hc, hp, mc or mp line names, and its arguments. */
static uint64_t call_nr(const struct trace_ev *e)
{
    return e->tag == TR_MC || e->tag == TR_MP ? e->a[1] : e->a[0];
}

static const uint64_t *call_args(const struct trace_ev *e)
{
    return e->a + (e->tag == TR_MC || e->tag == TR_MP ? 2 : 1);
}

/*
 * The line that starts the re-issue of a preempted bracket ending at `end`: for an hp, the hc that re-issues
 * the call; for an mp, the first mc of the re-issued multicall (the hc mcall's).  -1 if there is none.
 */
static long reissue_of(const struct trace *t, size_t end, long mcall)
{
    const struct trace_ev *x = &t->ev[end];
    if (x->tag == TR_HP)
        return x->cont;
    const struct trace_ev *hp = mcall >= 0 && t->ev[mcall].end >= 0 ? &t->ev[t->ev[mcall].end] : NULL;
    if (!hp || hp->tag != TR_HP || hp->cont < 0)
        return -1;
    for (long j = hp->cont + 1; j < t->ev[hp->cont].end; j++)
        if (t->ev[j].tag == TR_MC)
            return j;
    return -1;
}

/*
 * An mmu_update or mmuext_op continued by "hp NR 0 80000000 0 RC" (or its mp) after a table's last reference
 * was deferred: the re-issue returns RC, the call's own result.
 */
static int check_deferred_result(const struct trace *t, FILE *err, size_t end, long mcall)
{
    long again = reissue_of(t, end, mcall);
    const struct trace_ev *x = &t->ev[end];
    const struct trace_ev *res = again >= 0 && t->ev[again].end >= 0 ? &t->ev[t->ev[again].end] : NULL;
    int32_t rc = (int32_t)(uint32_t)call_args(x)[3];
    if (res && (res->tag == TR_HR || res->tag == TR_MR) && res->rc != rc)
        return refuse(t, err, res->line, "expected the result %d, which the continuation at line %u carries in place "
                      "of its domain", rc, x->line);
    return 0;
}

/*
 * The continuation x (an hp or mp) of the mmu_update or mmuext_op bracket that starts at s and finished
 * `done` requests: Xen either re-issues it unchanged (a deferred drop before any request), or advances the
 * list past the finished requests with the rest of the count and bit 31 set, or, when only a deferred drop is
 * left, continues with no list and no done counter and the call's result in place of the domain.
 */
static int check_batch_continuation(const struct trace *t, FILE *err, size_t s, size_t end, unsigned int done,
                                    long mcall)
{
    const struct trace_ev *st = &t->ev[s], *x = &t->ev[end];
    const uint64_t *a = call_args(st), *c = call_args(x);
    uint64_t nr = call_nr(st), size = nr == __HYPERVISOR_mmu_update ? 16 : 24;
    uint32_t count = (uint32_t)a[1] & ~PREEMPTED;
    if (!done && c[0] == a[0] && ((uint32_t)c[1] & ~PREEMPTED) == count && c[2] == a[2] && c[3] == a[3])
        return 0;
    if (c[1] == PREEMPTED) {
        if (c[0] || c[2])
            return refuse(t, err, x->line, "expected no list and no done counter in a continuation whose count is "
                          "80000000 (only a deferred drop left): '%s ... 0 80000000 0 RESULT'",
                          x->tag == TR_HP ? "hp" : "mp");
        return check_deferred_result(t, err, end, mcall);
    }
    uint64_t list = a[0] + done * size, rest = (uint64_t)((count - done) | PREEMPTED);
    if (c[0] != list || c[1] != rest || c[2] != a[2] || c[3] != a[3])
        return refuse(t, err, x->line, "expected the arguments %llx %llx %llx %llx: the call at line %u finished %u "
                      "of its %u requests (%llu bytes each)", (unsigned long long)list, (unsigned long long)rest,
                      (unsigned long long)a[2], (unsigned long long)a[3], st->line, done, count,
                      (unsigned long long)size);
    return 0;
}

/*
 * One bracket of an mmu_update or mmuext_op, from its hc or mc line s to its end (hr, hp, mr or mp): at
 * most as many requests as its count, none after a failed one (Xen stops there and returns its result),
 * all of them when it returns 0, a dn line only with a done counter, and Xen's continuation when preempted.
 * mcall: the multicall whose entry it is, or -1.
 */
static int check_batch(const struct trace *t, FILE *err, size_t s, long mcall)
{
    const struct trace_ev *st = &t->ev[s];
    if (st->end < 0)
        return 0;
    size_t end = (size_t)st->end;
    const struct trace_ev *x = &t->ev[end];
    const uint64_t *a = call_args(st);
    uint32_t count = (uint32_t)a[1] & ~PREEMPTED;
    unsigned int n = 0, done = 0;
    long failed = -1, dn = -1;
    for (size_t j = s + 1; j < end; j++) {
        const struct trace_ev *e = &t->ev[j];
        if (e->tag == TR_DN && !a[2])
            return refuse(t, err, e->line, "expected no dn line: the call at line %u gave no done counter (PDONE 0)",
                          st->line);
        if (e->tag == TR_DN && dn >= 0)
            return refuse(t, err, e->line, "expected one dn line per call (Xen writes the done counter once), "
                          "another at line %u", t->ev[dn].line);
        dn = e->tag == TR_DN ? (long)j : dn;
        if (e->tag != TR_MU && e->tag != TR_MX)
            continue;
        if (failed >= 0)
            return refuse(t, err, e->line, "expected no request after the one at line %u, whose result %lld ends the "
                          "call", t->ev[failed].line, (long long)t->ev[failed].rc);
        n++;
        done += e->rc == 0;
        failed = e->rc ? (long)j : -1;
    }
    if (n > count)
        return refuse(t, err, st->line, "expected at most %u requests (this line's count), the record has %u before "
                      "line %u", count, n, x->line);
    bool cont = x->tag == TR_HP || x->tag == TR_MP;
    bool deferred = cont && call_args(x)[1] == PREEMPTED;
    int64_t result = deferred ? (int32_t)(uint32_t)call_args(x)[3] : x->rc;
    if (failed >= 0 && t->ev[failed].rc == RESTART_RC && (!cont || deferred))
        return refuse(t, err, x->line, "expected a continuation (hp or mp with the rest of the list): the request at "
                      "line %u was preempted (-85)", t->ev[failed].line);
    if (failed >= 0 && t->ev[failed].rc != RESTART_RC && ((cont && !deferred) || result != t->ev[failed].rc))
        return refuse(t, err, x->line, "expected the result %lld of the request at line %u (Xen stops there and "
                      "returns it)", (long long)t->ev[failed].rc, t->ev[failed].line);
    if ((!cont || deferred) && result == 0 && done != count)
        return refuse(t, err, st->line, "expected %u requests (this line's count) before the result 0 at line %u, "
                      "the record has %u", count, x->line, done);
    return cont ? check_batch_continuation(t, err, s, end, done, mcall) : 0;
}

/*
 * A multicall bracket from its hc line h: its entries against its count (all of them when it returns 0),
 * each mmu_update or mmuext_op entry as a batch, and when preempted Xen's continuation: the list advanced
 * past the finished entries with the rest of the count, and a preempted entry (mp) re-issued as entry 0
 * with the arguments the mp rewrote.
 */
static int check_multicall(const struct trace *t, FILE *err, size_t h)
{
    const struct trace_ev *st = &t->ev[h];
    if (st->end < 0)
        return 0;
    size_t end = (size_t)st->end;
    const struct trace_ev *x = &t->ev[end];
    uint32_t count = (uint32_t)st->a[2];
    unsigned int entries = 0, done = 0;
    long mp = -1;
    for (size_t j = h + 1; j < end; j++) {
        const struct trace_ev *e = &t->ev[j];
        if (e->tag == TR_MC && mp >= 0)
            return refuse(t, err, e->line, "expected no entry after the one preempted at line %u (the multicall "
                          "stops there)", t->ev[mp].line);
        if (e->tag == TR_MC && (e->a[1] == __HYPERVISOR_mmu_update || e->a[1] == __HYPERVISOR_mmuext_op) &&
            check_batch(t, err, j, (long)h))
            return -1;
        entries += e->tag == TR_MC;
        done += e->tag == TR_MR;
        mp = e->tag == TR_MP ? (long)j : mp;
    }
    if (entries > count)
        return refuse(t, err, st->line, "expected at most %u entries (this line's count), the record has %u",
                      count, entries);
    if (x->tag == TR_HR && mp >= 0)
        return refuse(t, err, x->line, "expected an hp: the entry at line %u was preempted", t->ev[mp].line);
    if (x->tag == TR_HR && x->rc == 0 && done != count)
        return refuse(t, err, st->line, "expected %u entries (this line's count) before the result 0 at line %u, the "
                      "record has %u", count, x->line, done);
    if (x->tag != TR_HP)
        return 0;
    uint64_t list = st->a[1] + (uint64_t)done * MULTICALL_ENTRY_SIZE, rest = count - done;
    if (x->a[1] != list || x->a[2] != rest)
        return refuse(t, err, x->line, "expected 'hp d %llx %llx': the multicall at line %u went through %u entries "
                      "(%u bytes each)", (unsigned long long)list, (unsigned long long)rest, st->line, done,
                      MULTICALL_ENTRY_SIZE);
    long again = mp >= 0 ? reissue_of(t, (size_t)mp, (long)h) : -1;
    const struct trace_ev *p = mp >= 0 ? &t->ev[mp] : NULL, *m = again >= 0 ? &t->ev[again] : NULL;
    if (p && (!m || m->a[0] != 0 || m->n != p->n || memcmp(m->a + 1, p->a + 1, (p->n - 1u) * sizeof(p->a[0]))))
        return refuse(t, err, m ? m->line : t->ev[x->cont].line, "expected the re-issued multicall's entry 0 to be the "
                      "entry the mp at line %u rewrote (its hypercall, with the mp's arguments)", p->line);
    return 0;
}

/* Frames whose validation Xen preempted (ve ... -85) and has not resumed. */
struct pending_vals {
    uint64_t *mfn;
    size_t n, cap;
};

/*
 * A vb line's FROM against the record's own preemptions: only a validation
 * Xen preempted resumes past slot 0 (at the slot it reached, which is 0 when
 * the table below its slot 0 was the one preempted); any other starts at 0.
 * A db of a preempted frame tears its partial validation down: the next vb
 * of it starts afresh.  0, or -1 after a line.
 */
static int check_from(const struct trace *t, FILE *err, const struct trace_ev *e, struct pending_vals *p)
{
    size_t k = 0;
    while (k < p->n && p->mfn[k] != e->a[0])
        k++;
    bool was = k < p->n;
    if (e->tag == TR_VE) {
        if (e->rc == -85 && !was) {
            if (p->n == p->cap) {
                p->cap = p->cap ? 2 * p->cap : 16;
                p->mfn = host_realloc(p->mfn, p->cap * sizeof(*p->mfn), "the record's preempted validations");
            }
            p->mfn[p->n++] = e->a[0];
        }
        return 0;
    }
    if (was)
        p->mfn[k] = p->mfn[--p->n];
    if (e->tag != TR_VB)
        return 0;
    if (!was && e->a[1] != 0)
        return refuse(t, err, e->line, "expected FROM 0: no validation of frame %llx was preempted before this vb",
                      (unsigned long long)e->a[0]);
    return 0;
}

/*
 * vb/ve and db/de lines nest like brackets, each end the open one's frame
 * and type; a preempted one (-85) closes too, and none is open at a
 * hypercall's return or at fin.  FROM is at most 200 (a db's) or below it (a
 * vb's).  0, or -1 after a line.
 */
/* The vb and db lines still open, by their index in the record. */
struct open_lines {
    size_t *ev;
    size_t n, cap;
};

static int check_nesting(const struct trace *t, FILE *err, size_t i, struct open_lines *open)
{
    const struct trace_ev *e = &t->ev[i];
    if (e->tag == TR_VB || e->tag == TR_DB) {
        if (e->a[1] > 0x200 || (e->tag == TR_VB && e->a[1] == 0x200))
            return refuse(t, err, e->line, "expected FROM 0 to %s", e->tag == TR_VB ? "1ff" : "200");
        if (open->n == open->cap) {
            open->cap = open->cap ? 2 * open->cap : 16;
            open->ev = host_realloc(open->ev, open->cap * sizeof(*open->ev), "the record's open validations");
        }
        open->ev[open->n++] = i;
        return 0;
    }
    if (e->tag == TR_VE || e->tag == TR_DE) {
        const struct trace_ev *b = open->n ? &t->ev[open->ev[open->n - 1]] : NULL;
        if (!b || b->tag != (e->tag == TR_VE ? TR_VB : TR_DB) || b->a[0] != e->a[0] || b->type != e->type)
            return refuse(t, err, e->line, "expected this %s to end the open %s of frame %llx as %s%s",
                          trace_tag_name(e->tag), e->tag == TR_VE ? "vb" : "db", (unsigned long long)e->a[0],
                          trace_type_name(e->type), b ? "" : " (none is open)");
        open->n--;
        return 0;
    }
    if ((e->tag == TR_HR || e->tag == TR_HP || e->tag == TR_FIN) && open->n)
        return refuse(t, err, t->ev[open->ev[open->n - 1]].line, "expected this %s to end before line %u",
                      trace_tag_name(t->ev[open->ev[open->n - 1]].tag), e->line);
    return 0;
}

int trace_check_calls(const struct trace *t, FILE *err)
{
    struct pending_vals pv = { 0 };
    struct open_lines open = { 0 };
    for (size_t i = t->init_end + 1; i < t->nev; i++) {
        const struct trace_ev *e = &t->ev[i];
        if (((e->tag == TR_VB || e->tag == TR_VE || e->tag == TR_DB) && check_from(t, err, e, &pv)) ||
            check_nesting(t, err, i, &open)) {
            free(pv.mfn);
            free(open.ev);
            return -1;
        }
        if (e->tag != TR_HC)
            continue;
        if (((e->a[0] == __HYPERVISOR_mmu_update || e->a[0] == __HYPERVISOR_mmuext_op) && check_batch(t, err, i, -1)) ||
            (e->a[0] == __HYPERVISOR_multicall && check_multicall(t, err, i))) {
            free(pv.mfn);
            free(open.ev);
            return -1;
        }
    }
    free(pv.mfn);
    free(open.ev);
    return 0;
}

/* ---- the initial state ---- */

/* A run of frames of a header line: own (dom0's), frame, m2p, pt (n 1). */
struct run {
    uint64_t first, n;
    uint32_t line;
    uint8_t type;
};

struct runs {
    struct run *r;
    size_t n, cap;
};

static void add_run(struct runs *s, uint64_t first, uint64_t n, const struct trace_ev *e)
{
    if (!n)
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->r = host_realloc(s->r, s->cap * sizeof(*s->r), "the record's initial state");
    }
    s->r[s->n++] = (struct run){ first, n, e->line, e->type };
}

static int by_first(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first ? 1 : x->line < y->line ? -1 : x->line > y->line;
}

/* Sort the runs by their first frame (none: nothing to sort, and no array). */
static void sort_runs(struct runs *s)
{
    if (s->n > 1)
        qsort(s->r, s->n, sizeof(*s->r), by_first);
}

/* The runs sorted, none overlapping another ("expected each frame in one WHAT line"). */
static int sort_disjoint(const struct trace *t, FILE *err, struct runs *s, const char *what)
{
    sort_runs(s);
    for (size_t k = 1; k < s->n; k++) {
        const struct run *a = &s->r[k - 1], *b = &s->r[k];
        if (b->first - a->first < a->n)
            return refuse(t, err, a->line > b->line ? a->line : b->line, "expected each frame in one %s line: frame "
                          "%llx is also in the one at line %u", what, (unsigned long long)b->first,
                          a->line > b->line ? b->line : a->line);
    }
    return 0;
}

/* The first frame of runs a that no run of b holds (both sorted, disjoint), its run in *at; UINT64_MAX if none. */
static uint64_t first_outside(const struct runs *a, const struct runs *b, const struct run **at)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        for (uint64_t f = a->r[i].first, end = f + a->r[i].n; f < end; f = b->r[k].first + b->r[k].n) {
            while (k < b->n && b->r[k].first + b->r[k].n <= f)
                k++;
            if (k == b->n || b->r[k].first > f) {
                *at = &a->r[i];
                return f;
            }
        }
    return UINT64_MAX;
}

/* The run of s (sorted, disjoint) that holds frame f, or NULL. */
static const struct run *find_run(const struct runs *s, uint64_t f)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].first + s->r[mid].n <= f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->r[lo].first <= f ? &s->r[lo] : NULL;
}

/* What the header has gathered line by line. */
struct header_check {
    const struct trace *t;
    FILE *err;
    const struct trace_ev *machine, *once[TR_INIT_END];
    uint64_t maxpage, frames_limit, next_own;   /* frames_limit: 2^(PADDRBITS-12) */
    uint32_t last_own;                          /* the line of the latest own run */
    struct runs d0, frames, m2p, pt;
    struct runs shared, final, final_h;         /* frames Xen shared with dom0 (h, share); the final state's */
};

static int check_machine(struct header_check *h, const struct trace_ev *e)
{
    uint64_t frames = e->a[0], bits = e->a[1];
    if (!frames || frames > (1ULL << 32) || bits < 32 || bits > 52)
        return refuse(h->t, h->err, e->line, "expected 'machine MAXPAGE PADDRBITS' with 1 to 2^32 frames and 32 to 52 "
                      "bits");
    h->machine = e;
    h->maxpage = frames;
    h->frames_limit = 1ULL << (bits - 12);
    if (frames > h->frames_limit)
        return refuse(h->t, h->err, e->line, "expected MAXPAGE frames within PADDRBITS: %llx frames do not fit in %llu "
                      "address bits", (unsigned long long)frames, (unsigned long long)bits);
    return 0;
}

/* own runs: in order from frame 0, without gaps or overlaps, inside the machine (their end is checked last). */
static int check_own(struct header_check *h, const struct trace_ev *e)
{
    uint64_t mfn = e->a[0], n = e->a[1];
    if (mfn > h->next_own)
        return refuse(h->t, h->err, e->line, "expected own runs from frame 0 in order without gaps: frames %llx-%llx "
                      "have no owner", (unsigned long long)h->next_own, (unsigned long long)(mfn - 1));
    if (mfn < h->next_own)
        return refuse(h->t, h->err, e->line, "expected own runs in order without overlap: frame %llx is in the run at "
                      "line %u", (unsigned long long)mfn, h->last_own);
    if (n > h->maxpage - mfn)
        return refuse(h->t, h->err, e->line, "expected own's frames inside the machine line's MAXPAGE (%llx)",
                      (unsigned long long)h->maxpage);
    h->next_own = mfn + n;
    h->last_own = e->line;
    if (e->type == TRACE_OWN_D0)
        add_run(&h->d0, mfn, n, e);
    return 0;
}

/* frames of a frame or m2p line: inside the machine. */
static int check_inside(struct header_check *h, const struct trace_ev *e, uint64_t mfn, uint64_t n, struct runs *s)
{
    if (mfn >= h->maxpage || n > h->maxpage - mfn)
        return refuse(h->t, h->err, e->line, "expected %s's frames inside the machine line's MAXPAGE",
                      trace_tag_name(e->tag));
    add_run(s, mfn, n, e);
    return 0;
}

/* One header line. */
static int check_header_line(struct header_check *h, const struct trace_ev *e)
{
    bool unique = e->tag == TR_REC || e->tag == TR_MACHINE || e->tag == TR_DOM || e->tag == TR_CR3 ||
                  e->tag == TR_VM_ASSIST;
    if (unique && h->once[e->tag])
        return refuse(h->t, h->err, e->line, "expected one '%s' line (another at line %u)", trace_tag_name(e->tag),
                      h->once[e->tag]->line);
    h->once[e->tag] = e;
    if (!h->machine && e->tag != TR_REC && e->tag != TR_MACHINE)
        return refuse(h->t, h->err, e->line, "expected the machine line before any '%s' line", trace_tag_name(e->tag));
    switch (e->tag) {
    case TR_MACHINE: return check_machine(h, e);
    case TR_OWN: return check_own(h, e);
    case TR_IOMEM: case TR_MMIO_RO:
        if (e->a[0] > e->a[1])
            return refuse(h->t, h->err, e->line, "expected FIRST <= LAST");
        if (e->a[1] >= h->frames_limit)
            return refuse(h->t, h->err, e->line, "expected frames below %llx (PADDRBITS %llx)",
                          (unsigned long long)h->frames_limit, (unsigned long long)h->machine->a[1]);
        return 0;
    case TR_DOM:
        return e->a[0] ? refuse(h->t, h->err, e->line, "expected 'dom 0 TOT MAX' (the record is dom0's)") : 0;
    case TR_FRAME: return check_inside(h, e, e->a[0], e->a[1], &h->frames);
    case TR_M2P: return check_inside(h, e, e->a[0], e->a[2], &h->m2p);
    case TR_PT: return check_inside(h, e, e->a[0], 1, &h->pt);
    default: return 0;
    }
}

/*
 * After the last header line: the own runs reach MAXPAGE; the frame lines are exactly dom0's frames, each in
 * one line; each frame in one m2p line; each pt line a frame of a frame line of its TYPE, and one per frame.
 */
static int check_header_end(struct header_check *h)
{
    const struct trace *t = h->t;
    const struct run *at;
    uint64_t f;
    if (h->next_own != h->maxpage)
        return refuse(t, h->err, t->ev[t->init_end].line, "expected own runs up to MAXPAGE-1 (%llx, machine at line "
                      "%u): frames %llx-%llx have no owner", (unsigned long long)(h->maxpage - 1), h->machine->line,
                      (unsigned long long)h->next_own, (unsigned long long)(h->maxpage - 1));
    if (sort_disjoint(t, h->err, &h->frames, "frame") || sort_disjoint(t, h->err, &h->m2p, "m2p"))
        return -1;
    if ((f = first_outside(&h->frames, &h->d0, &at)) != UINT64_MAX)
        return refuse(t, h->err, at->line, "expected frame lines for dom0's frames only (own d0): frame %llx is not",
                      (unsigned long long)f);
    if ((f = first_outside(&h->d0, &h->frames, &at)) != UINT64_MAX)
        return refuse(t, h->err, at->line, "expected a frame line for each of dom0's frames: frame %llx has none",
                      (unsigned long long)f);
    sort_runs(&h->pt);
    for (size_t k = 0; k < h->pt.n; k++) {
        const struct run *p = &h->pt.r[k], *fr = find_run(&h->frames, p->first);
        if (k && h->pt.r[k - 1].first == p->first)
            return refuse(t, h->err, p->line, "expected one pt line per frame: frame %llx has one at line %u",
                          (unsigned long long)p->first, h->pt.r[k - 1].line);
        if (!fr)
            return refuse(t, h->err, p->line, "expected pt lines only for dom0's frames: frame %llx has no frame line",
                          (unsigned long long)p->first);
        if (fr->type != p->type)
            return refuse(t, h->err, p->line, "expected pt's TYPE to be the frame line's: frame %llx is %s there "
                          "(line %u)", (unsigned long long)p->first, trace_type_name(fr->type), fr->line);
    }
    return 0;
}

/*
 * The final state (after fin): dom0's, its frame lines inside the machine,
 * each frame in one line, and the flag h only on a frame Xen shared with dom0
 * (h in the initial state, or a share line).
 */
static int check_final_state(struct header_check *h)
{
    const struct trace *t = h->t;
    const struct run *at;
    uint64_t f;
    for (size_t i = 0; i < t->fin; i++) {
        const struct trace_ev *e = &t->ev[i];
        if (e->tag == TR_FRAME && (e->flags & TRACE_F_XENHEAP))
            add_run(&h->shared, e->a[0], e->a[1], e);
        else if (e->tag == TR_SHARE)
            add_run(&h->shared, e->a[0], 1, e);
    }
    for (size_t i = t->fin + 1; i < t->nev; i++) {
        const struct trace_ev *e = &t->ev[i];
        if (e->tag == TR_DOM && e->a[0])
            return refuse(t, h->err, e->line, "expected 'dom 0 TOT MAX' (the record is dom0's)");
        if (e->tag == TR_FRAME && check_inside(h, e, e->a[0], e->a[1], &h->final))
            return -1;
        if (e->tag == TR_FRAME && (e->flags & TRACE_F_XENHEAP))
            add_run(&h->final_h, e->a[0], e->a[1], e);
    }
    if (sort_disjoint(t, h->err, &h->final, "final frame"))
        return -1;
    sort_runs(&h->shared);
    sort_runs(&h->final_h);
    if ((f = first_outside(&h->final_h, &h->shared, &at)) != UINT64_MAX)
        return refuse(t, h->err, at->line, "expected the flag h only on frames Xen shared with dom0 (h in the initial "
                      "state, or a share line): frame %llx is not one", (unsigned long long)f);
    return 0;
}

int trace_check_header(const struct trace *t, FILE *err)
{
    struct header_check h = { .t = t, .err = err };
    int rc = 0;
    for (size_t i = 0; i < t->init_end && !rc; i++)
        rc = check_header_line(&h, &t->ev[i]);
    if (!rc)
        rc = check_header_end(&h);
    if (!rc)
        rc = check_final_state(&h);
    struct runs *all[] = { &h.d0, &h.frames, &h.m2p, &h.pt, &h.shared, &h.final, &h.final_h };
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
        free(all[k]->r);
    return rc;
}
