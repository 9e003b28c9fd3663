/*
 * replay.c - `pvmmu replay` (replay.h): the record's stream, event by event,
 * on the simulator's core; the first disagreement and its explanation; the
 * auditor at the end.
 */
#include "replay.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain.h"
#include "replay_int.h"

const char *replay_rc(char *buf, size_t len, int64_t rc)
{
    const char *name = rc < 0 && rc > -4096 ? xen_errno_name((long)rc) : NULL;
    if (name && name[0] == '-' && name[1] > '9')
        snprintf(buf, len, "%s (%lld)", name, (long long)rc);
    else
        snprintf(buf, len, "%lld", (long long)rc);
    return buf;
}

/* The core's explanation of its latest refusal, as text (allocated). */
static char *refusal_text(struct replay *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        host_out_of_memory(0, "an explanation");
    explain_refusal(f, &r->m, "    ", NULL);
    if (fclose(f))
        host_out_of_memory(len, "an explanation");
    return text;
}

void replay_miss(struct replay *r, long ev, uint64_t frame, bool refused, const char *xen, const char *core_fmt, ...)
{
    struct mismatch *m = &r->miss;
    if (m->ev >= 0 && m->ev <= ev)
        return;
    free(m->why);
    *m = (struct mismatch){ .ev = ev, .call_ev = r->cur_ev, .frame = frame, .log_mark = r->h.log_lines };
    snprintf(m->xen, sizeof(m->xen), "%s", xen);
    va_list ap;
    va_start(ap, core_fmt);
    vsnprintf(m->core, sizeof(m->core), core_fmt, ap);
    va_end(ap);
    if (refused && r->m.last_set)
        m->why = refusal_text(r);
}

/* The columns s takes on a terminal: one per character (a UTF-8 continuation byte takes none). */
static size_t columns(const char *s)
{
    size_t c = 0;
    for (; *s; s++)
        c += ((unsigned char)*s & 0xC0) != 0x80;
    return c;
}

void replay_quote(FILE *out, const char *lead, const char *text, const char *tail)
{
    size_t used = columns(lead) + columns(tail), room = used < EXPLAIN_COLUMNS ? EXPLAIN_COLUMNS - used : 0;
    size_t len = strlen(text);
    if (columns(text) > room) {   /* the longest start of text that leaves room for " ...", cut between characters */
        size_t c = 0;
        for (len = 0; text[len] && (c < (room > 4 ? room - 4 : 0) || ((unsigned char)text[len] & 0xC0) == 0x80); len++)
            c += ((unsigned char)text[len] & 0xC0) != 0x80;
    }
    fprintf(out, "%s%.*s%s%s\n", lead, (int)len, text, text[len] ? " ..." : "", tail);
}

void replay_print_line(struct replay *r, long ev, const char *answer)
{
    const struct trace_ev *e = &r->t.ev[ev];
    char lead[16], tail[96] = "";
    snprintf(lead, sizeof(lead), "%7u  ", e->line);
    if (answer)
        snprintf(tail, sizeof(tail), "   | pvmmu: %s", answer);
    replay_quote(r->o->out, lead, trace_text(&r->t, e), tail);
}

const char *replay_entry_diff(char *buf, size_t len, uint64_t a, uint64_t b)
{
    static const struct { uint64_t bit; const char *name; } bits[] = {
        { _PAGE_PRESENT, "P" }, { _PAGE_RW, "RW" }, { _PAGE_USER, "USER" }, { _PAGE_PWT, "PWT" },
        { _PAGE_PCD, "PCD" }, { _PAGE_PSE, "PSE/PAT" }, { _PAGE_GLOBAL, "GLOBAL" },
        { _PAGE_GUEST_KERNEL, "GUEST_KERNEL (bit 52)" }, { _PAGE_NX, "NX" }, { PVM_PTE_FRAME_MASK, "frame" },
    };
    uint64_t d = (a ^ b) & ~AD_BITS;
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        if ((d & bits[i].bit) && n < len)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", bits[i].name);
    if (!n)
        snprintf(buf, len, "other bits %#llx", (unsigned long long)d);
    return buf;
}

/* ---- what the replay knows of frame contents ---- */

void replay_watch(struct replay *r, uint64_t mfn)
{
    if (r->synced[mfn] != SYNC_KNOWN)
        return;
    if (r->nwatch == r->capwatch) {
        r->capwatch = r->capwatch ? 2 * r->capwatch : 256;
        r->watch = host_realloc(r->watch, r->capwatch * sizeof(*r->watch), "the replay's watched frames");
    }
    r->watch[r->nwatch++] = mfn;
    r->synced[mfn] = SYNC_WATCHED;
}

/*
 * After an event: a watched frame that is free or mapped writable now (the
 * guest may write it before the next event) is no longer known; one that is
 * a validated table again stays known and is no longer watched.  The guest
 * writes only between events, so looking after each one misses no write.
 */
static void check_watched(struct replay *r)
{
    for (size_t i = 0; i < r->nwatch;) {
        uint64_t mfn = r->watch[i];
        struct pvm_frame_state st;
        pvm_frame_query(&r->m, mfn, &st);
        bool table = st.type >= PVM_TYPE_L1 && st.type <= PVM_TYPE_L4 && st.validated && st.type_count;
        bool lost = r->synced[mfn] != SYNC_WATCHED || st.owner != 0 ||
                    (st.type == PVM_TYPE_WRITABLE && st.type_count);
        if (!lost && !table) {
            i++;
            continue;
        }
        if (r->synced[mfn] == SYNC_WATCHED)
            r->synced[mfn] = lost ? SYNC_UNKNOWN : SYNC_KNOWN;
        r->watch[i] = r->watch[--r->nwatch];
    }
}

/* ---- ptwr ---- */

void replay_walk(const struct replay *r, uint64_t root, uint64_t va, struct replay_walk *w)
{
    *w = (struct replay_walk){ .level = 4, .table = root, .allowed = _PAGE_RW | _PAGE_USER };
    for (;;) {
        if (w->table >= r->m.nr_frames)
            return;   /* no such table: entry 0, not present */
        w->entry = pvm_peek(&r->m, w->table, (unsigned int)((va >> (12 + 9 * (w->level - 1))) & 511));
        if (!(w->entry & _PAGE_PRESENT))
            return;
        w->allowed &= w->entry;
        if (w->level == 1 || (w->entry & _PAGE_PSE))
            return;
        w->table = (w->entry & PVM_PTE_FRAME_MASK) >> XEN_PAGE_SHIFT;
        w->level--;
    }
}

/* Does va reach frame l1 through v's kernel tables, every level present and user, the leaf read-only? */
static bool maps_ro(struct replay *r, uint64_t va, uint64_t l1)
{
    struct replay_walk w;
    replay_walk(r, r->v->guest_table, va, &w);
    return w.level == 1 && (w.entry & _PAGE_PRESENT) && (w.allowed & _PAGE_USER) && !(w.entry & _PAGE_RW) &&
           ((w.entry & PVM_PTE_FRAME_MASK) >> XEN_PAGE_SHIFT) == l1;
}

/*
 * The value a cmpxchg of pw line e expects, for the core: Xen compared the
 * guest's CMP with the live entry, Accessed and Dirty bits included, which
 * the CPU sets as the guest runs and the core never sees.  Where CMP and the
 * entry differ only in those bits, the core's entry is what the guest
 * expected; a mismatch Xen found only in them the core cannot see (it is
 * made to fail, as Xen's did).
 */
static uint64_t cmpxchg_expected(const struct trace_ev *e, uint64_t cur)
{
    uint64_t cmp = e->a[7], found = e->a[2];
    if (e->type == TRACE_PW_MISMATCH && !((cmp ^ found) & ~AD_BITS))
        return ~cur;
    return (cmp ^ cur) & ~AD_BITS ? cmp : cur;
}

/* A pw line: the guest kernel's write into its read-only L1, emulated by the core's ptwr. */
static void replay_pw(struct replay *r, long ev)
{
    const struct trace_ev *e = &r->t.ev[ev];
    uint64_t l1 = e->a[0], slot = e->a[1], old = e->a[2], nl1e = e->a[3], addr = e->a[5], bytes = e->a[6];
    char x[64];
    if (l1 >= r->m.nr_frames || slot >= 512) {
        replay_miss(r, ev, PVM_INVALID_MFN, false, "a write into an L1", "no such frame or slot");
        return;
    }
    uint64_t cur = pvm_peek(&r->m, l1, (unsigned int)slot);
    char d[96];
    if (r->synced[l1] && ((cur ^ old) & ~AD_BITS)) {
        replay_miss(r, ev, l1, false, "the entry held OLD before the write",
                    "the entry holds %016llx (it differs in %s)", (unsigned long long)cur,
                    replay_entry_diff(d, sizeof(d), cur, old));
        return;
    }
    if (!maps_ro(r, addr, l1)) {
        struct replay_walk w;
        replay_walk(r, r->v->guest_table, addr, &w);
        char xen[96];
        snprintf(xen, sizeof(xen), "the guest wrote at %llx through a read-only mapping of frame %llx",
                 (unsigned long long)addr, (unsigned long long)l1);
        replay_miss(r, ev, l1, false, xen,
                    "the kernel's tables (root %llx) map ADDR otherwise: L%u entry %016llx of frame %llx",
                    (unsigned long long)r->v->guest_table, w.level, (unsigned long long)w.entry,
                    (unsigned long long)w.table);
        return;
    }
    unsigned int shift = (unsigned int)(addr & 7) * 8;
    uint64_t mask = bytes == 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1;
    bool cmpxchg = (e->flags & TRACE_HAS_CMP) != 0;
    uint64_t expect = cmpxchg ? cmpxchg_expected(e, cur) : 0;
    int rc = pvm_ptwr_emulate(r->v, addr, (expect >> shift) & mask, (nl1e >> shift) & mask, (unsigned int)bytes,
                              cmpxchg);
    uint64_t now = pvm_peek(&r->m, l1, (unsigned int)slot);
    int want = e->type == TRACE_PW_REFUSED ? -XEN_EINVAL : 0;
    uint64_t stored = e->type == TRACE_PW_OK ? e->a[4] : cur;
    char y[64];
    snprintf(y, sizeof(y), "stored %016llx", (unsigned long long)stored);
    if (rc != want)
        replay_miss(r, ev, l1, rc < 0, e->type == TRACE_PW_REFUSED ? "refused the write (the guest gets the #PF)"
                                                                    : "emulated the write",
                    "pvm_ptwr_emulate returned %s", replay_rc(x, sizeof(x), rc));
    else if ((now ^ stored) & ~AD_BITS)
        replay_miss(r, ev, l1, false, e->type == TRACE_PW_OK ? y : "left the entry as it was",
                    "stored %016llx (it differs in %s)", (unsigned long long)now,
                    replay_entry_diff(d, sizeof(d), now, stored));
    if (r->o->verbose)
        replay_print_line(r, ev, rc ? replay_rc(x, sizeof(x), rc) : "emulated, the same entry");
}

/* ---- memory events ---- */

/* dom0 gives frame mfn back; with must_free (an exchange) Xen freed it, so no reference may be left. */
static void give_back(struct replay *r, long ev, uint64_t mfn, bool must_free)
{
    char x[64];
    int rc = pvm_release_page(&r->m, 0, mfn);
    struct pvm_frame_state st;
    pvm_frame_query(&r->m, mfn, &st);
    if (rc)
        replay_miss(r, ev, mfn, false, "dom0 gave the frame back", "pvm_release_page refused: %s",
                    replay_rc(x, sizeof(x), rc));
    else if (must_free && st.owner != DOMID_INVALID)
        replay_miss(r, ev, mfn, false, "the frame is free again",
                    "the frame is not free: %llu references are left", (unsigned long long)st.count);
    if (mfn < r->m.nr_frames)
        r->synced[mfn] = 0;
}

/* Xen gives dom0 the 2^order frames from mfn, at pfn onwards in the M2P (PVM_INVALID_M2P: none). */
static void receive(struct replay *r, long ev, uint64_t mfn, uint64_t order, uint64_t pfn)
{
    char x[64];
    if (order >= 63 || mfn > r->m.nr_frames || (1ULL << order) > r->m.nr_frames - mfn) {
        replay_miss(r, ev, mfn, false, "dom0 receives the frames", "the machine has no 2^%llu frames from there "
                    "(it has %llu frames)", (unsigned long long)order, (unsigned long long)r->m.nr_frames);
        return;
    }
    for (uint64_t k = 0; k < (1ULL << order); k++) {
        int rc = pvm_assign_page(&r->m, mfn + k, 0, pfn == PVM_INVALID_M2P ? pfn : pfn + k);
        if (rc) {
            replay_miss(r, ev, mfn + k, false, "dom0 receives the frame", "pvm_assign_page refused: %s",
                        replay_rc(x, sizeof(x), rc));
            return;
        }
        r->synced[mfn + k] = 0;
    }
}

static void replay_memory(struct replay *r, long ev)
{
    const struct trace_ev *e = &r->t.ev[ev];
    switch (e->tag) {
    case TR_XIN: give_back(r, ev, e->a[0], true); break;
    case TR_DEC: give_back(r, ev, e->a[0], false); break;
    case TR_XOUT: receive(r, ev, e->a[0], e->a[2], e->a[1]); break;
    case TR_INC: receive(r, ev, e->a[0], e->a[1], PVM_INVALID_M2P); break;
    case TR_POP: receive(r, ev, e->a[1], e->a[2], e->a[0]); break;
    default:   /* share: Xen's type reference on the frame is not modelled (docs/xen-differences.md) */
        receive(r, ev, e->a[0], 0, PVM_INVALID_M2P);
        r->xenheap++;
    }
    if (r->o->verbose)
        replay_print_line(r, ev, "done");
}

/* ---- Xen's own writable references ---- */

/*
 * xref: Xen took a general and a writable type reference on dom0's frame for
 * its own use (RC 0), or could not (RC); xput: it dropped one.  The core must
 * answer the same through pvm_xen_map_frame and pvm_xen_unmap_frame.
 */
static void replay_xref(struct replay *r, long ev)
{
    static const char *const what[] = { "its vcpu_info", "a FIFO event channel page", "the pirq EOI bitmap" };
    const struct trace_ev *e = &r->t.ev[ev];
    bool put = e->tag == TR_XPUT;
    const char *for_what = e->type < sizeof(what) / sizeof(what[0]) ? what[e->type] : "?";
    int rc = put ? pvm_xen_unmap_frame(&r->m, 0, e->a[0]) : pvm_xen_map_frame(&r->m, 0, e->a[0]);
    int64_t want = put ? 0 : e->rc;
    char x[64], y[64], xen[128];
    if (put)
        snprintf(xen, sizeof(xen), "dropped its writable reference (%s)", for_what);
    else if (want)
        snprintf(xen, sizeof(xen), "could not take a writable reference (%s): %s", for_what,
                 replay_rc(y, sizeof(y), want));
    else
        snprintf(xen, sizeof(xen), "took a writable reference (%s)", for_what);
    if (rc != want)
        replay_miss(r, ev, e->a[0], rc < 0 && !put, xen, "%s returned %s",
                    put ? "pvm_xen_unmap_frame" : "pvm_xen_map_frame", replay_rc(x, sizeof(x), rc));
    if (r->o->verbose)
        replay_print_line(r, ev, rc ? replay_rc(x, sizeof(x), rc) : put ? "dropped" : "held");
}

/* ---- bounced page faults ---- */

#define PFEC_PRESENT 0x01u

/*
 * A tr line of a page fault the processor raised in the guest and Xen
 * bounced as it was (SRC hw; faults Xen's emulators inject carry error codes
 * of their own and are not probed).  Its present bit says what the
 * processor's walk found, and the core's tables must say the same: a
 * not-present fault must end at a non-present entry (x86 caches no
 * not-present translation), a protection fault at a present leaf.  Which
 * permission refused it is not checked: on hardware a stale TLB entry (Linux
 * upgrades permissions without a flush) faults where the tables allow the
 * access, and Xen bounces that fault too.
 */
static void replay_tr(struct replay *r, long ev)
{
    const struct trace_ev *e = &r->t.ev[ev];
    if (e->a[0] != 14 || !(e->flags & TRACE_TR_HW) || !(e->flags & TRACE_HAS_EC) || !(e->flags & TRACE_HAS_CR2))
        return;
    uint64_t cr2 = e->a[2], ec = e->a[1], root = e->type ? r->v->guest_table : r->v->guest_table_user;
    unsigned int s4 = (unsigned int)((cr2 >> 39) & 511);
    if (root >= r->m.nr_frames || (s4 >= PVM_ROOT_PAGETABLE_FIRST_XEN_SLOT && s4 <= PVM_ROOT_PAGETABLE_LAST_XEN_SLOT))
        return;   /* no root of that mode, or Xen's own slots: nothing of the guest's to walk */
    struct replay_walk w;
    replay_walk(r, root, cr2, &w);
    bool present = (w.entry & _PAGE_PRESENT) != 0;
    char xen[96];
    snprintf(xen, sizeof(xen), "a %s fault at CR2 %llx (error code %llx)",
             ec & PFEC_PRESENT ? "protection" : "not-present", (unsigned long long)cr2, (unsigned long long)ec);
    if (!!(ec & PFEC_PRESENT) != present)
        replay_miss(r, ev, w.table, false, xen, "the %s tables (root %llx) %s: L%u entry %016llx of frame %llx",
                    e->type ? "kernel's" : "user's", (unsigned long long)root,
                    present ? "map it (not a not-present fault)" : "do not map it (not a protection fault)", w.level,
                    (unsigned long long)w.entry, (unsigned long long)w.table);
    if (r->o->verbose)
        replay_print_line(r, ev, present ? "the core's tables map it too" : "the core's tables do not map it either");
}

/*
 * A gdt line: set_gdt is not modelled, but the frames of dom0's GDT hold
 * Xen's seg type reference at the end.  The line is written before Xen
 * checks the frames: only a set_gdt that returns 0 replaces the GDT.
 */
static void replay_gdt(struct replay *r, size_t i)
{
    const struct trace *t = &r->t;
    const struct trace_ev *e = &t->ev[i];
    size_t j = i + 1;
    while (j < t->fin && !((t->ev[j].tag == TR_HR || t->ev[j].tag == TR_HP) && t->ev[j].a[0] == __HYPERVISOR_set_gdt))
        j++;
    if (j < t->fin && t->ev[j].tag == TR_HR && t->ev[j].rc == 0) {
        r->ngdt = e->n - 1u < 16 ? e->n - 1u : 16;
        memcpy(r->gdt, e->a + 1, r->ngdt * sizeof(r->gdt[0]));
    }
    if (r->o->verbose)
        replay_print_line(r, (long)i, NULL);
}

/* ---- the stream ---- */

/* A (de)validation outside any PV MMU call: a descriptor page's (not modelled), else one the core cannot have done. */
static void replay_lone_validation(struct replay *r, long ev)
{
    const struct trace_ev *e = &r->t.ev[ev];
    if (e->type == TRACE_TYPE_SEG) {
        if (r->o->verbose)
            replay_print_line(r, ev, "(descriptor tables are not modelled)");
        return;
    }
    replay_miss(r, ev, e->a[0], false, "this line", "no %s outside a PV MMU hypercall",
                e->tag == TR_VB || e->tag == TR_VE ? "validation" : "devalidation");
}

/* A hypercall line: a PV MMU call runs on the core (its re-issues were taken in); any other is skipped. */
static size_t replay_hc(struct replay *r, size_t i)
{
    const struct trace_ev *e = &r->t.ev[i];
    bool reissue = (e->flags & TRACE_REISSUE) != 0;
    if (!trace_is_pv_mmu(e->a[0])) {
        r->rec[r->phase].skipped_by_hc[e->a[0] < 63 ? e->a[0] : 63]++;
        if (r->o->verbose)
            replay_print_line(r, (long)i, "(not modelled: skipped)");
        return i;
    }
    if (reissue)   /* taken into the call at its first hc (and printed there with -v) */
        return (size_t)e->end;
    replay_call(r, i);
    return (size_t)e->end;
}

/*
 * Replay the stream event by event until the end or the first disagreement.  A preempted call runs whole at its
 * first hc, so its disagreement may lie beyond events still to replay (those before its re-issue): the stream
 * goes on up to that line, and an earlier one's disagreement takes its place (replay_miss).
 */
static void replay_stream(struct replay *r)
{
    const struct trace *t = &r->t;
    for (size_t i = t->init_end + 1; i < t->fin && (r->miss.ev < 0 || (long)i < r->miss.ev); i++) {
        const struct trace_ev *e = &t->ev[i];
        r->cur_ev = (long)i;
        if (r->nwatch)
            check_watched(r);
        switch (e->tag) {
        case TR_HC: i = replay_hc(r, i); break;
        case TR_PW: replay_pw(r, (long)i); break;
        case TR_TR: replay_tr(r, (long)i); break;
        case TR_GDT: replay_gdt(r, i); break;
        case TR_XIN: case TR_XOUT: case TR_DEC: case TR_INC: case TR_POP: case TR_SHARE:
            replay_memory(r, (long)i);
            break;
        case TR_XREF: case TR_XPUT: replay_xref(r, (long)i); break;
        case TR_VB: case TR_VE: case TR_DB: case TR_DE: replay_lone_validation(r, (long)i); break;
        case TR_CON:
            if (e->type) {
                pvm_stats_since(&r->core[r->phase], &r->m.stats, &r->base);
                r->base = r->m.stats;
                r->phase = e->type;
            }
            /* fall through */
        default:
            if (r->o->verbose)
                replay_print_line(r, (long)i, NULL);
        }
    }
    pvm_stats_since(&r->core[r->phase], &r->m.stats, &r->base);
}

/* ---- the report ---- */

static const char *const phase_label[] = { "to Memory:", "Memory: to Run /init", "/init to the end" };

/* Frame mfn as explain_frame describes it, wrapped to the width. */
static void print_frame(FILE *out, struct replay *r, uint64_t mfn)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        host_out_of_memory(0, "a frame's description");
    explain_frame(f, &r->m, mfn, "    ");
    if (fclose(f))
        host_out_of_memory(len, "a frame's description");
    explain_wrap(out, text);
    free(text);
}

/* The first disagreement: where, both answers, the core's explanation, its last log lines. */
static void print_miss(struct replay *r)
{
    struct mismatch *m = &r->miss;
    FILE *out = r->o->out;
    const struct trace_ev *e = &r->t.ev[m->ev];
    int phase = 0;
    for (size_t i = r->t.init_end + 1; i < (size_t)m->ev; i++)
        if (r->t.ev[i].tag == TR_CON && r->t.ev[i].type)
            phase = r->t.ev[i].type;
    explain_printf(out, "pvmmu replay: %s:%u: the core disagrees with Xen (phase %s)\n", r->t.path, e->line,
                   phase_label[phase]);
    if (m->call_ev >= 0 && m->call_ev != m->ev && r->t.ev[m->call_ev].tag == TR_HC) {
        char lead[48];
        snprintf(lead, sizeof(lead), "  in the call of line %u: ", r->t.ev[m->call_ev].line);
        replay_quote(out, lead, trace_text(&r->t, &r->t.ev[m->call_ev]), "");
    }
    replay_quote(out, "  record: ", trace_text(&r->t, e), "");
    explain_printf(out, "  Xen:    %s\n", m->xen);
    explain_printf(out, "  pvmmu:  %s\n", m->core);
    if (m->why) {
        fprintf(out, "  pvmmu's explanation:\n");
        explain_wrap(out, m->why);
    }
    if (m->frame != PVM_INVALID_MFN) {
        fprintf(out, "  the frame now (pvmmu):\n");
        print_frame(out, r, m->frame);
    }
    unsigned long first = hostmem_log_first(&r->h, m->log_mark > 8 ? m->log_mark - 8 : 0);
    if (first < r->h.log_lines)
        fprintf(out, "  pvmmu's last log lines:\n");
    for (unsigned long i = first; i < r->h.log_lines; i++)   /* quoted as Xen's log is, cut to the width */
        replay_quote(out, "    ", hostmem_log_line(&r->h, i), "");
}

struct audit_print {
    FILE *out;
    unsigned long n;
};

static void print_issue(void *ctx, const struct pvm_audit_issue *issue)
{
    struct audit_print *p = ctx;
    if (p->n++ < 20)
        explain_printf(p->out, "  audit: %s\n", issue->text);
}

/* The auditor over the final state: 0 clean, else the number of issues (the first 20 printed). */
static unsigned long final_audit(struct replay *r)
{
    size_t bytes = pvm_audit_scratch_bytes(&r->m);
    void *scratch = host_malloc(bytes, "the auditor's scratch");
    struct audit_print p = { r->o->out, 0 };
    unsigned long issues = pvm_audit(&r->m, scratch, print_issue, &p);
    free(scratch);
    return issues;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void free_replay(struct replay *r)
{
    if (r->h.frames)
        hostmem_free(&r->h);
    free(r->synced);
    free(r->pt_level);
    free(r->watch);
    free(r->miss.why);
    trace_free(&r->t);
    free(r);
}

/* Everything after a record that reads: the initial state, the stream, the verdict.  The exit status. */
static int replay_loaded(struct replay *r, double t_read)
{
    FILE *out = r->o->out;
    r->t_read = t_read;
    int rc = replay_init(r);
    if (rc)
        return rc;
    replay_count_record(r);
    double t0 = now();
    replay_stream(r);
    double secs = now() - t0;
    if (r->miss.ev >= 0) {
        print_miss(r);
        return 1;
    }
    if (replay_final(r))
        return 1;
    unsigned long issues = final_audit(r);
    fprintf(out, "agreement: the core gave Xen's answer at every replayed event; auditor %s\n",
            issues ? "NOT clean" : "clean");
    explain_printf(out, "  (every hypercall, request, multicall entry, validation, devalidation and ptwr write the "
                        "replay runs)\n");
    explain_printf(out, "  contents at the validations: %llu as the core had kept them since the frame was last a "
                        "table, equal to Xen's; %llu loaded from the record (the frame had been writable or free "
                        "since)\n", (unsigned long long)r->vb_known, (unsigned long long)r->vb_loaded);
    replay_print_counts(r, secs);
    if (!issues && r->o->summary) {
        struct replay_summary *sum = r->o->summary;
        sum->dom0_bytes = r->dom0_pages << XEN_PAGE_SHIFT;
        snprintf(sum->rec, sizeof(sum->rec), "%s", r->t.rec);
        memcpy(sum->core, r->core, sizeof(sum->core));
    }
    return issues ? 1 : 0;
}

int replay_run(const char *path, const struct replay_opts *o)
{
    struct replay *r = host_calloc(1, sizeof(*r), "the replay");
    r->o = o;
    r->miss.ev = -1;
    r->cur_ev = -1;
    double t0 = now();
    if (trace_load(&r->t, path, o->err)) {
        free_replay(r);
        return 2;
    }
    int rc = replay_loaded(r, now() - t0);
    free_replay(r);
    return rc;
}
