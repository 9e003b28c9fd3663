/*
 * trace.c - reading a "pvmmu-trace 2" record (trace.h, docs/trace.md): every
 * line parsed by its tag's field list, then the hypercall brackets linked.
 */
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hostmem.h"
#include "trace_check.h"

/*
 * Each tag's fields, one letter each: x a hex number (into a[]), X hex
 * numbers to the end of the line, d a signed decimal (rc), t a TYPE, w an
 * owner, F frame flags, e ENTRIES to the end, s a STORED or '-', r a pw's
 * RES, k a pw's CMP or '-', c an EC or '-', C a CR2 or '-', m a MODE, o a
 * tr's SRC, W an
 * xref's WHAT, * free text to the end.
 */
static const struct tag_spec {
    const char *name, *fields, *usage;
} specs[TR_NTAGS] = {
    [TR_REC] = { "rec", "*", "rec TEXT" },
    [TR_MACHINE] = { "machine", "xx", "machine MAXPAGE PADDRBITS" },
    [TR_OWN] = { "own", "xxw", "own MFN N WHO" },
    [TR_IOMEM] = { "iomem", "xx", "iomem FIRST LAST" },
    [TR_MMIO_RO] = { "mmio_ro", "xx", "mmio_ro FIRST LAST" },
    [TR_DOM] = { "dom", "xxx", "dom 0 TOT MAX" },
    [TR_M2P] = { "m2p", "xxx", "m2p MFN PFN N" },
    [TR_FRAME] = { "frame", "xxtxxF", "frame MFN N TYPE TC REF FLAGS" },
    [TR_PT] = { "pt", "xte", "pt MFN TYPE ENTRIES" },
    [TR_CR3] = { "cr3", "xx", "cr3 KERNEL USER" },
    [TR_VM_ASSIST] = { "vm_assist", "x", "vm_assist BITS" },
    [TR_INIT_END] = { "init-end", "", "init-end" },
    [TR_HC] = { "hc", "xX", "hc NR A1 .. An" },
    [TR_HR] = { "hr", "xd", "hr NR RC" },
    [TR_HP] = { "hp", "xX", "hp NR A1 .. An" },
    [TR_MC] = { "mc", "xxX", "mc I NR A1 .. An" },
    [TR_MR] = { "mr", "xxd", "mr I NR RC" },
    [TR_MP] = { "mp", "xxX", "mp I NR A1 .. An" },
    [TR_MU] = { "mu", "xxds", "mu PTR VAL RC STORED" },
    [TR_MX] = { "mx", "xxxd", "mx CMD ARG1 ARG2 RC" },
    [TR_DN] = { "dn", "x", "dn DONE" },
    [TR_GDT] = { "gdt", "xX", "gdt ENTRIES MFN .." },
    [TR_VB] = { "vb", "xtxe", "vb MFN TYPE FROM ENTRIES" },
    [TR_VE] = { "ve", "xtd", "ve MFN TYPE RC" },
    [TR_DB] = { "db", "xtx", "db MFN TYPE FROM" },
    [TR_DE] = { "de", "xtd", "de MFN TYPE RC" },
    [TR_PW] = { "pw", "xxxxsrxxk", "pw L1MFN SLOT OLD NEW STORED RES ADDR BYTES CMP" },
    [TR_TR] = { "tr", "xcCxmo", "tr VEC EC CR2 RIP MODE SRC" },
    [TR_XIN] = { "xin", "xx", "xin MFN PFN" },
    [TR_XOUT] = { "xout", "xxx", "xout MFN PFN ORDER" },
    [TR_DEC] = { "dec", "x", "dec MFN" },
    [TR_INC] = { "inc", "xx", "inc MFN ORDER" },
    [TR_POP] = { "pop", "xxx", "pop PFN MFN ORDER" },
    [TR_SHARE] = { "share", "xx", "share MFN W" },
    [TR_CON] = { "con", "*", "con TEXT" },
    [TR_UV] = { "uv", "xxs", "uv L1MFN SLOT STORED" },
    [TR_XREF] = { "xref", "xWd", "xref MFN WHAT RC" },
    [TR_XPUT] = { "xput", "xW", "xput MFN WHAT" },
    [TR_FIN] = { "fin", "", "fin" },
    [TR_END] = { "end", "", "end" },
};

/* A record's first line: the format and its version. */
#define FIRST_LINE "pvmmu-trace 2"
#define FIRST_LEN  (sizeof(FIRST_LINE) - 1)

static const char *const xref_names[] = { "vcpu_info", "evtchn", "eoi" };

static const char *const type_names[] = { "none", "l1", "l2", "l3", "l4", "seg", "shared", "writable" };

/* How many arguments PV MMU hypercall nr takes on 64-bit PV (Xen's table); -1 for a hypercall the core does not replay. */
static int pv_mmu_args(uint64_t nr)
{
    switch (nr) {
    case __HYPERVISOR_mmu_update:
    case __HYPERVISOR_mmuext_op:
    case __HYPERVISOR_update_va_mapping_otherdomain:
        return 4;
    case __HYPERVISOR_update_va_mapping:
        return 3;
    case __HYPERVISOR_multicall:
    case __HYPERVISOR_vm_assist:
        return 2;
    default:
        return -1;
    }
}

bool trace_is_pv_mmu(uint64_t nr)
{
    return pv_mmu_args(nr) >= 0;
}

const char *trace_tag_name(enum trace_tag tag)
{
    return tag < TR_NTAGS ? specs[tag].name : "?";
}

const char *trace_type_name(unsigned int type)
{
    return type < 8 ? type_names[type] : "?";
}

/* The reader's state while it goes through the file. */
struct reader {
    struct trace *t;
    FILE *err;
    uint32_t line;
    char *word;          /* the field being parsed, for messages */
    int phase;           /* the phase the con lines have reached */
    size_t cap_ev, cap_ents;
};

/* One line "PATH:LINE: what" on err; returns -1. */
__attribute__((format(printf, 3, 4)))
static int bad(struct reader *r, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    fprintf(r->err, "%s:%u: ", r->t->path, line);
    va_start(ap, fmt);
    vfprintf(r->err, fmt, ap);
    va_end(ap);
    fputc('\n', r->err);
    return -1;
}

/* Hex, lower case, 1 to 16 digits, no 0x: 0 and *v, or -1. */
static int parse_hex(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        unsigned int d = c >= '0' && c <= '9' ? (unsigned int)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned int)(c - 'a' + 10) : 16;
        if (d == 16 || n == 16)
            return -1;
        x = x << 4 | d;
    }
    if (!n)
        return -1;
    *v = x;
    return 0;
}

/* Signed decimal that a 64-bit integer holds: 0 and *v, or -1. */
static int parse_dec(const char *s, int64_t *v)
{
    char *end;
    if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_type(const char *s, uint8_t *type)
{
    for (uint8_t i = 0; i < 8; i++)
        if (!strcmp(s, type_names[i])) {
            *type = i;
            return 0;
        }
    return -1;
}

/* own's WHO: d0, io, xen, none, hole, or dN (N hex). */
static int parse_owner(const char *s, struct trace_ev *e)
{
    static const struct { const char *name; uint8_t kind; } named[] = {
        { "d0", TRACE_OWN_D0 }, { "io", TRACE_OWN_IO }, { "xen", TRACE_OWN_XEN },
        { "none", TRACE_OWN_NONE }, { "hole", TRACE_OWN_HOLE },
    };
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (!strcmp(s, named[i].name)) {
            e->type = named[i].kind;
            return 0;
        }
    e->type = TRACE_OWN_DOM;
    return s[0] == 'd' ? parse_hex(s + 1, &e->a[e->n++]) : -1;
}

/* frame FLAGS: letters of a, h, p, v, r in that order, or '-'. */
static int parse_flags(const char *s, uint8_t *flags)
{
    static const char letters[] = "ahpvr";
    if (!strcmp(s, "-")) {
        *flags = 0;
        return 0;
    }
    *flags = 0;
    const char *p = letters;
    for (; *s; s++) {
        const char *at = strchr(p, *s);
        if (!at)
            return -1;
        *flags |= (uint8_t)(1u << (at - letters));
        p = at + 1;
    }
    return *flags ? 0 : -1;
}

/* Append one entry; the slots must rise and stay below 0x200. */
static int add_entry(struct reader *r, struct trace_ev *e, uint64_t slot, uint64_t val)
{
    struct trace *t = r->t;
    if (slot >= 0x200 || (e->nent && t->ents[t->nents - 1].slot >= slot))
        return -1;
    if (t->nents == r->cap_ents) {
        r->cap_ents = r->cap_ents ? 2 * r->cap_ents : 4096;
        t->ents = host_realloc(t->ents, r->cap_ents * sizeof(*t->ents), "the record's table contents");
    }
    t->ents[t->nents++] = (struct trace_ent){ (uint32_t)slot, val };
    e->nent++;
    return 0;
}

/* ENTRIES: the remaining words, each SLOT:VALUE. */
static int parse_entries(struct reader *r, struct trace_ev *e, char **words, int nwords)
{
    e->ent = (uint32_t)r->t->nents;
    for (int i = 0; i < nwords; i++) {
        char *colon = strchr(words[i], ':');
        uint64_t slot, val;
        r->word = words[i];
        if (!colon)
            return -1;
        *colon = 0;
        int rc = parse_hex(words[i], &slot) || parse_hex(colon + 1, &val) || add_entry(r, e, slot, val);
        *colon = ':';
        if (rc)
            return -1;
    }
    return 0;
}

/* A hex number into the next a[] slot. */
static int take_hex(struct trace_ev *e, const char *w)
{
    return e->n < TRACE_MAX_NUMS ? parse_hex(w, &e->a[e->n++]) : -1;
}

/* A hex number or '-' into the next a[] slot, setting `has` in flags for a number. */
static int take_optional(struct trace_ev *e, const char *w, uint8_t has)
{
    if (!strcmp(w, "-")) {
        e->a[e->n++] = 0;
        return 0;
    }
    e->flags |= has;
    return take_hex(e, w);
}

/*
 * One field of letter f from words[*i].  Returns 0, 1 when the field took
 * every remaining word, or -1.
 */
static int parse_field(struct reader *r, struct trace_ev *e, char f, char **words, int *i, int nwords)
{
    char *w = words[*i];
    r->word = w;
    switch (f) {
    case 'x': return take_hex(e, w);
    case 'd': return parse_dec(w, &e->rc);
    case 't': return parse_type(w, &e->type);
    case 'w': return parse_owner(w, e);
    case 'F': return parse_flags(w, &e->flags);
    case 's': return take_optional(e, w, TRACE_HAS_STORED);
    case 'k': return take_optional(e, w, TRACE_HAS_CMP);
    case 'W':
        for (uint8_t k = 0; k < sizeof(xref_names) / sizeof(xref_names[0]); k++)
            if (!strcmp(w, xref_names[k])) {
                e->type = k;
                return 0;
            }
        return -1;
    case 'c': return take_optional(e, w, TRACE_HAS_EC);
    case 'C': return take_optional(e, w, TRACE_HAS_CR2);
    case 'm': e->type = !strcmp(w, "k"); return !strcmp(w, "k") || !strcmp(w, "u") ? 0 : -1;
    case 'o':
        e->flags |= !strcmp(w, "hw") ? TRACE_TR_HW : 0;
        return !strcmp(w, "hw") || !strcmp(w, "xen") ? 0 : -1;
    case 'r':
        e->type = !strcmp(w, "ok") ? TRACE_PW_OK : !strcmp(w, "refused") ? TRACE_PW_REFUSED : TRACE_PW_MISMATCH;
        return !strcmp(w, "ok") || !strcmp(w, "refused") || !strcmp(w, "mismatch") ? 0 : -1;
    case 'X':
        for (; *i < nwords; (*i)++)
            if (take_hex(e, r->word = words[*i]))
                return -1;
        return 1;
    case 'e':
        return parse_entries(r, e, words + *i, nwords - *i) ? -1 : 1;
    default:
        return -1;
    }
}

/* The tag named w, or -1. */
static int find_tag(const char *w)
{
    for (int i = 0; i < TR_NTAGS; i++)
        if (!strcmp(w, specs[i].name))
            return i;
    return -1;
}

/* con TEXT: which phase it starts, as scripts/trace-stats.py decides. */
static uint8_t con_phase(struct reader *r, const char *text)
{
    if (r->phase == 0 && strstr(text, "Memory:"))
        return (uint8_t)(r->phase = TRACE_PHASE_MEMORY);
    if (r->phase == TRACE_PHASE_MEMORY && strstr(text, "Run /init"))
        return (uint8_t)(r->phase = TRACE_PHASE_INIT);
    return 0;
}

#define MAX_WORDS 600   /* an ENTRIES line has at most 512 pairs */

/* Split line at single spaces into words (at most MAX_WORDS); returns their number, or -1 if too many. */
static int split(char *line, char **words)
{
    int n = 0;
    for (char *p = line; *p;) {
        if (n == MAX_WORDS)
            return -1;
        words[n++] = p;
        char *sp = strchr(p, ' ');
        if (!sp)
            break;
        *sp = 0;
        p = sp + 1;
    }
    return n;
}

/* Put back the spaces split() took out of a line of len bytes. */
static void unsplit(char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!line[i])
            line[i] = ' ';
}

/* The fields of e's line (words[1..n)) by its tag's spec. */
static int parse_fields(struct reader *r, struct trace_ev *e, char **words, int n)
{
    const char *f = specs[e->tag].fields;
    int i = 1;
    for (; *f && *f != '*'; f++) {
        if (i >= n) {
            if (*f == 'X' || *f == 'e')
                break;
            return bad(r, r->line, "expected '%s': too few fields", specs[e->tag].usage);
        }
        int rc = parse_field(r, e, *f, words, &i, n);
        if (rc < 0)
            return bad(r, r->line, "expected '%s': '%.40s' is not a valid %s field (numbers are lower-case hex "
                                   "without 0x, results signed decimal)", specs[e->tag].usage, r->word, specs[e->tag].name);
        i = rc ? n : i + 1;
    }
    if (*f != '*' && i < n)
        return bad(r, r->line, "expected '%s': too many fields", specs[e->tag].usage);
    return 0;
}

/* Parse one line (NUL-terminated at off) into a new event, or skip it (a comment or an empty line). */
/*
 * A call or multicall entry line of a PV MMU hypercall the replay runs must carry exactly the
 * arguments Xen's 64-bit PV table gives it (docs/trace.md).  0, or -1 after a line.  Other hypercalls
 * are skipped by the replay; trace_check_args holds them to Xen's table too.
 */
static int check_call_args(struct reader *r, const struct trace_ev *e)
{
    bool entry = e->tag == TR_MC || e->tag == TR_MP;
    if (!entry && e->tag != TR_HC && e->tag != TR_HP)
        return 0;
    uint64_t nr = e->a[entry ? 1 : 0];
    unsigned int have = e->n - (entry ? 2u : 1u);
    int want = pv_mmu_args(nr);
    if (want < 0)
        return trace_check_args(r->t, r->err, r->line, nr, have);
    if (have != (unsigned int)want)
        return bad(r, r->line, "hypercall %llx takes %d arguments, this line gives %u",
                   (unsigned long long)nr, want, have);
    return 0;
}

static int parse_line(struct reader *r, size_t off)
{
    struct trace *t = r->t;
    char *line = t->buf + off, *words[MAX_WORDS];
    size_t len = strlen(line);
    if (!len || line[0] == '#')
        return 0;
    int n = split(line, words);
    int tag = n > 0 ? find_tag(words[0]) : -1;
    if (n < 0 || tag < 0) {
        if (n > 0 && !strcmp(words[0], "lost"))
            return bad(r, r->line, "the record is incomplete: the recorder lost events here (a 'lost' line)");
        return bad(r, r->line, "unknown line '%.20s' (this reader knows pvmmu-trace 2's tags, docs/trace.md)",
                   n > 0 ? words[0] : line);
    }
    if (t->nev == r->cap_ev) {
        r->cap_ev = r->cap_ev ? 2 * r->cap_ev : 65536;
        t->ev = host_realloc(t->ev, r->cap_ev * sizeof(*t->ev), "the record's events");
    }
    struct trace_ev *e = &t->ev[t->nev];
    *e = (struct trace_ev){ .line = r->line, .text = (uint32_t)off, .tag = (uint8_t)tag, .end = -1, .cont = -1 };
    if (parse_fields(r, e, words, n) || check_call_args(r, e))
        return -1;
    unsplit(line, len);
    if (tag == TR_CON)
        e->type = con_phase(r, line);
    if (tag == TR_REC)
        snprintf(t->rec, sizeof(t->rec), "%s", line + 4);
    t->nev++;
    return 0;
}

/* Is tag one of the initial state's? */
static bool is_header(int tag)
{
    return tag < TR_INIT_END;
}

/*
 * The final state, from the fin line at index i: dom, frame and cr3 lines
 * (one dom and one cr3), then end, the record's last line.
 */
static int check_final(struct reader *r, size_t i)
{
    struct trace *t = r->t;
    unsigned int dom = 0, cr3 = 0;
    t->fin = i;
    for (i++; i < t->nev; i++) {
        const struct trace_ev *e = &t->ev[i];
        if (e->tag == TR_END) {
            if (i + 1 < t->nev)
                return bad(r, t->ev[i + 1].line, "expected nothing after the end line");
            if (dom != 1 || cr3 != 1)
                return bad(r, e->line, "expected one 'dom' and one 'cr3' line in the final state (after fin)");
            return 0;
        }
        if (e->tag != TR_DOM && e->tag != TR_FRAME && e->tag != TR_CR3)
            return bad(r, e->line, "expected only dom, frame and cr3 lines after fin (the final state), then end");
        dom += e->tag == TR_DOM;
        cr3 += e->tag == TR_CR3;
    }
    return bad(r, r->line, "expected an end line: the record ends inside its final state (cut short?)");
}

/*
 * The header comes first (machine among it), then init-end, then the stream,
 * then fin and the final state up to end; nothing of one in the other.
 */
static int check_order(struct reader *r)
{
    struct trace *t = r->t;
    bool machine = false;
    size_t i = 0;
    for (; i < t->nev && t->ev[i].tag != TR_INIT_END; i++) {
        const struct trace_ev *e = &t->ev[i];
        if (!is_header(e->tag))
            return bad(r, e->line, "expected the initial state (docs/trace.md) up to init-end before any '%s' line",
                       specs[e->tag].name);
        machine |= e->tag == TR_MACHINE;
    }
    if (i == t->nev)
        return bad(r, r->line, "expected an init-end line (the record ends inside its initial state)");
    if (!machine)
        return bad(r, t->ev[i].line, "expected a 'machine MAXPAGE PADDRBITS' line before init-end");
    t->init_end = i;
    for (i++; i < t->nev; i++) {
        const struct trace_ev *e = &t->ev[i];
        if (e->tag == TR_FIN)
            return check_final(r, i);
        if (is_header(e->tag) || e->tag == TR_INIT_END || e->tag == TR_END)
            return bad(r, e->line, "expected no '%s' line in the stream (after init-end, before fin)",
                       specs[e->tag].name);
    }
    return bad(r, r->line, "expected a fin line and dom0's final state: the record ends in its stream "
                           "(cut short, or the boot did not reach its power-off)");
}

/* ---- linking the brackets ---- */

struct linker {
    struct reader *r;
    long call;            /* the open hc, or -1 */
    long entry;           /* the open mc, or -1 */
    uint64_t next_entry;  /* the index the next mc must have */
    long *pending;        /* hp lines whose re-issue is not yet seen */
    size_t npending, cap;
    long uv;              /* the open update_va_mapping's uv line, or -1 */
    unsigned int nuv;     /* ... and how many it has */
};

static bool is_uvm(uint64_t nr)
{
    return nr == __HYPERVISOR_update_va_mapping || nr == __HYPERVISOR_update_va_mapping_otherdomain;
}

/*
 * An update_va_mapping (call or multicall entry) ends with result rc at line
 * `line`: Xen wrote one uv line when it found the L1 entry, with STORED when
 * it replaced it, so 0 needs one uv line with STORED and a uv line with "-"
 * needs a failure.  The next update_va_mapping starts counting afresh.
 */
static int end_uvm(struct linker *k, uint64_t nr, uint32_t line, int64_t rc)
{
    const struct trace *t = k->r->t;
    long uv = k->uv;
    unsigned int n = k->nuv;
    k->uv = -1;
    k->nuv = 0;
    if (!is_uvm(nr))
        return 0;
    if (n > 1)
        return bad(k->r, line, "expected at most one uv line in an update_va_mapping (%u here)", n);
    if (!rc && !(uv >= 0 && (t->ev[uv].flags & TRACE_HAS_STORED)))
        return bad(k->r, line, "expected a uv line with STORED before an update_va_mapping's result 0");
    if (rc && uv >= 0 && (t->ev[uv].flags & TRACE_HAS_STORED))
        return bad(k->r, t->ev[uv].line, "expected STORED '-': the update_va_mapping fails (line %u)", line);
    return 0;
}

/* Do hp p and hc c name the same hypercall with the same arguments? */
static bool same_call(const struct trace_ev *p, const struct trace_ev *c)
{
    return p->n == c->n && !memcmp(p->a, c->a, p->n * sizeof(p->a[0]));
}

static int link_hc(struct linker *k, size_t i)
{
    struct trace *t = k->r->t;
    struct trace_ev *e = &t->ev[i];
    if (k->call >= 0)
        return bad(k->r, e->line, "expected the hr or hp of the hc at line %u before another hc", t->ev[k->call].line);
    for (size_t p = 0; p < k->npending; p++)
        if (same_call(&t->ev[k->pending[p]], e)) {
            t->ev[k->pending[p]].cont = (int32_t)i;
            e->flags |= TRACE_REISSUE;
            k->pending[p] = k->pending[--k->npending];
            break;
        }
    if (e->a[0] == 23) {   /* iret resumes the guest: no hr */
        e->end = (int32_t)i;
        return 0;
    }
    k->call = (long)i;
    k->next_entry = 0;
    return 0;
}

static int link_hr(struct linker *k, size_t i)
{
    struct trace *t = k->r->t;
    struct trace_ev *e = &t->ev[i];
    if (k->call < 0)
        return bad(k->r, e->line, "expected an hc before this %s", specs[e->tag].name);
    if (k->entry >= 0)
        return bad(k->r, e->line, "expected the mr or mp of the multicall entry at line %u first", t->ev[k->entry].line);
    if (t->ev[k->call].a[0] != e->a[0])
        return bad(k->r, e->line, "expected the %s of hypercall %llx (the hc at line %u)", specs[e->tag].name,
                   (unsigned long long)t->ev[k->call].a[0], t->ev[k->call].line);
    if (e->tag == TR_HR && end_uvm(k, e->a[0], e->line, e->rc))
        return -1;
    t->ev[k->call].end = (int32_t)i;
    k->call = -1;
    if (e->tag == TR_HP) {
        if (k->npending == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 16;
            k->pending = host_realloc(k->pending, k->cap * sizeof(*k->pending), "the record's preempted calls");
        }
        k->pending[k->npending++] = (long)i;
    }
    return 0;
}

static int link_mc(struct linker *k, size_t i)
{
    struct trace *t = k->r->t;
    struct trace_ev *e = &t->ev[i];
    if (k->call < 0 || t->ev[k->call].a[0] != 13)
        return bad(k->r, e->line, "expected an mc line only inside a multicall (hc d)");
    if (k->entry >= 0)
        return bad(k->r, e->line, "expected the mr or mp of the entry at line %u first", t->ev[k->entry].line);
    if (e->a[0] != k->next_entry)
        return bad(k->r, e->line, "expected multicall entry %llx next", (unsigned long long)k->next_entry);
    k->entry = (long)i;
    return 0;
}

static int link_mr(struct linker *k, size_t i)
{
    struct trace *t = k->r->t;
    struct trace_ev *e = &t->ev[i];
    if (k->entry < 0 || t->ev[k->entry].a[0] != e->a[0] || t->ev[k->entry].a[1] != e->a[1])
        return bad(k->r, e->line, "expected this %s to end an open multicall entry with the same index and hypercall",
                   specs[e->tag].name);
    if (e->tag == TR_MR && end_uvm(k, e->a[1], e->line, e->rc))
        return -1;
    t->ev[k->entry].end = (int32_t)i;
    k->entry = -1;
    k->next_entry++;
    return 0;
}

/* The hypercall of the open multicall entry, else of the open call; ~0 outside any. */
static uint64_t open_nr(const struct linker *k)
{
    const struct trace *t = k->r->t;
    return k->entry >= 0 ? t->ev[k->entry].a[1] : k->call >= 0 ? t->ev[k->call].a[0] : ~0ULL;
}

/* mu (mmu_update's), mx (mmuext_op's) and dn (either's) only inside such a call or multicall entry. */
static int link_request(struct linker *k, const struct trace_ev *e)
{
    uint64_t nr = open_nr(k);
    bool ok = e->tag == TR_MU ? nr == 1 : e->tag == TR_MX ? nr == 26 : nr == 1 || nr == 26;
    if (!ok)
        return bad(k->r, e->line, "expected a %s line only inside %s", specs[e->tag].name,
                   e->tag == TR_MU ? "an mmu_update (1)" : e->tag == TR_MX ? "an mmuext_op (1a)"
                                                                       : "an mmu_update or mmuext_op");
    return 0;
}

/* One stream event's place in the brackets. */
static int link_one(struct linker *k, size_t i)
{
    struct trace *t = k->r->t;
    struct trace_ev *e = &t->ev[i];
    switch (e->tag) {
    case TR_HC: return link_hc(k, i);
    case TR_HR: case TR_HP: return link_hr(k, i);
    case TR_MC: return link_mc(k, i);
    case TR_MR: case TR_MP: return link_mr(k, i);
    case TR_MX: case TR_DN:
        return link_request(k, e);
    case TR_UV:
        if (!is_uvm(open_nr(k)))
            return bad(k->r, e->line, "expected a uv line only inside an update_va_mapping (e or 16)");
        k->uv = (long)i;
        k->nuv++;
        return 0;
    case TR_MU: {
        uint64_t cmd = e->a[0] & 7;
        bool stored = !e->rc && (cmd == MMU_NORMAL_PT_UPDATE || cmd == MMU_PT_UPDATE_PRESERVE_AD ||
                       cmd == MMU_PT_UPDATE_NO_TRANSLATE);
        if (stored != !!(e->flags & TRACE_HAS_STORED))
            return bad(k->r, e->line, "expected STORED %s", stored ? "for a request that succeeded (commands 0, 2, 3)"
                                                                   : "'-' (command 1, or a request that failed)");
        return link_request(k, e);
    }
    case TR_PW:
        if ((e->a[6] != 1 && e->a[6] != 2 && e->a[6] != 4 && e->a[6] != 8) || (e->a[5] & (e->a[6] - 1)) ||
            ((e->a[5] >> 3) & 511) != e->a[1])
            return bad(k->r, e->line, "expected BYTES 1, 2, 4 or 8, ADDR aligned to it and inside SLOT's 8 bytes");
        if ((e->type == TRACE_PW_OK) != !!(e->flags & TRACE_HAS_STORED))
            return bad(k->r, e->line, "expected STORED for ok, '-' for refused and mismatch");
        if (e->type == TRACE_PW_MISMATCH && (!(e->flags & TRACE_HAS_CMP) || e->a[7] == e->a[2]))
            return bad(k->r, e->line, "expected a mismatch to have a CMP other than the value found (OLD)");
        /* fall through */
    case TR_XREF: case TR_XPUT: case TR_GDT: case TR_XIN: case TR_XOUT: case TR_DEC: case TR_INC: case TR_POP: case TR_SHARE:
        if (k->call >= 0 && trace_is_pv_mmu(t->ev[k->call].a[0]))
            return bad(k->r, e->line, "expected no '%s' line inside the PV MMU call of line %u", specs[e->tag].name,
                       t->ev[k->call].line);
        return 0;
    default:
        return 0;
    }
}

/* Link every bracket of the stream; every call must end and every preempted one be re-issued. */
static int link_brackets(struct reader *r)
{
    struct trace *t = r->t;
    struct linker k = { .r = r, .call = -1, .entry = -1, .uv = -1 };
    int rc = 0;
    for (size_t i = t->init_end + 1; i < t->fin && !rc; i++)
        rc = link_one(&k, i);
    /* the power-off call (sched_op shutdown, or platform_op's ACPI S5) does not return: the stream may end with it */
    if (!rc && k.call >= 0 && k.entry < 0 && (size_t)k.call + 1 == t->fin &&
        (t->ev[k.call].a[0] == __HYPERVISOR_platform_op || t->ev[k.call].a[0] == __HYPERVISOR_sched_op))
        t->ev[k.call].end = (int32_t)k.call;
    else if (!rc && k.call >= 0)
        rc = bad(r, t->ev[k.call].line, "expected an hr or hp for this hc (the record ends first)");
    if (!rc && k.npending)
        rc = bad(r, t->ev[k.pending[0]].line, "expected a later hc re-issuing this preempted call with the same "
                                              "arguments (the record ends first)");
    free(k.pending);
    return rc;
}

/* The file into t->buf, NUL-terminated.  0, or -1 after a line on err. */
static int read_file(struct trace *t, FILE *err)
{
    FILE *f = fopen(t->path, "rb");
    if (!f) {
        fprintf(err, "%s: cannot open the record: %s\n", t->path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 20;
    t->buf = host_malloc(cap, "the record");
    for (size_t got; (got = fread(t->buf + t->len, 1, cap - t->len - 1, f)) > 0;) {
        t->len += got;
        if (t->len > FIRST_LEN && memcmp(t->buf, FIRST_LINE "\n", FIRST_LEN + 1))
            break;   /* not a record: its first line says so, without reading the rest (/dev/zero has no end) */
        if (t->len + 1 == cap)
            t->buf = host_realloc(t->buf, cap *= 2, "the record");
    }
    int failed = ferror(f);
    fclose(f);
    t->buf[t->len] = 0;
    if (failed || t->len >= UINT32_MAX) {
        fprintf(err, "%s: cannot read the record%s\n", t->path, failed ? "" : ": larger than 4 GiB");
        return -1;
    }
    return 0;
}

int trace_load(struct trace *t, const char *path, FILE *err)
{
    *t = (struct trace){ .path = path };
    struct reader r = { .t = t, .err = err };
    if (read_file(t, err))
        return -1;
    char *nl = memchr(t->buf, '\n', t->len);
    if (nl && (size_t)(nl - t->buf) == FIRST_LEN && !memcmp(t->buf, "pvmmu-trace 1", FIRST_LEN))
        return bad(&r, 1, "a 'pvmmu-trace 1' record: this reader takes version 2 (docs/trace.md), which adds "
                          "what Xen stored and dom0's final state; record it again (make linux-trace)");
    if (!nl || (size_t)(nl - t->buf) != FIRST_LEN || memcmp(t->buf, FIRST_LINE, FIRST_LEN))
        return bad(&r, 1, "expected 'pvmmu-trace 2' as the first line (not a pvmmu record, or another version)");
    for (size_t off = 0; off < t->len;) {
        char *end = memchr(t->buf + off, '\n', t->len - off);
        size_t next = end ? (size_t)(end - t->buf) + 1 : t->len;
        if (end)
            *end = 0;
        r.line++;
        if (memchr(t->buf + off, 0, next - off - (end != NULL)))
            return bad(&r, r.line, "a NUL byte in the line (a record is text)");
        if (r.line > 1 && parse_line(&r, off))
            return -1;
        off = next;
    }
    t->lines = r.line;
    return check_order(&r) || trace_check_header(t, err) || link_brackets(&r) || trace_check_calls(t, err) ? -1 : 0;
}

void trace_free(struct trace *t)
{
    free(t->buf);
    free(t->ev);
    free(t->ents);
    *t = (struct trace){ 0 };
}
