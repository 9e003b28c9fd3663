/*
 * script_parse.c - lexer and parser of scenario scripts (see script.h and
 * docs/scripts.md).  Every name is resolved here: the parsed steps carry
 * machine frame numbers and ready-made hypercall arguments.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "hostmem.h"
#include "script_int.h"
#include "xen_names.h"

enum tok_kind { T_END, T_WORD, T_STR, T_PUNCT, T_ARROW };

struct tok {
    enum tok_kind kind;
    char text[128];
};

struct parser {
    struct script *s;
    const char *name;
    int line;
    struct tok toks[256];
    int ntok, pos;
    FILE *err;
    jmp_buf fail;
    struct step *mc;          /* open multicall block */
    uint64_t next_mfn;
};

__attribute__((format(printf, 2, 3), noreturn))
static void perr(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    fprintf(p->err, "%s:%d: ", p->name, p->line);
    va_start(ap, fmt);
    vfprintf(p->err, fmt, ap);
    va_end(ap);
    fputc('\n', p->err);
    longjmp(p->fail, 1);
}

/*
 * Room for element n of an array that holds n elements of size bytes: the
 * array doubles whenever n reaches a power of two, so appending is amortised
 * constant time.  Returns the (possibly moved) array.
 */
static void *grow(void *arr, size_t n, size_t size)
{
    if (n & (n - 1))
        return arr;
    return host_realloc(arr, (n ? 2 * n : 1) * size, "the parsed script");
}

/* ---- lexer ---- */

static bool word_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '@' || c == '!' || c == '-' || c == '#';
}

static void lex(struct parser *p, const char *l, size_t n)
{
    p->ntok = p->pos = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)l[i];
        if (c == ' ' || c == '\t' || c == '\r') {
            i++;
            continue;
        }
        bool after_arrow = p->ntok && p->toks[p->ntok - 1].kind == T_ARROW;
        if (c == '#' && !after_arrow)
            break;
        if (p->ntok >= (int)(sizeof(p->toks) / sizeof(p->toks[0])) - 1)
            perr(p, "too many tokens on one line (at most 255)");
        struct tok *t = &p->toks[p->ntok++];
        size_t len = 0;
        if (c == '-' && i + 1 < n && l[i + 1] == '>') {
            t->kind = T_ARROW;
            strcpy(t->text, "->");
            i += 2;
        } else if (c == '"') {
            t->kind = T_STR;
            for (i++; i < n && l[i] != '"'; i++) {
                if (l[i] == '\\' && i + 1 < n)
                    i++;
                if (len + 1 >= sizeof(t->text))
                    perr(p, "string longer than %zu characters", sizeof(t->text) - 1);
                t->text[len++] = l[i];
            }
            if (i >= n)
                perr(p, "expected a closing '\"'");
            i++;
            t->text[len] = 0;
        } else if (strchr("[]=,|()+", c)) {
            t->kind = T_PUNCT;
            t->text[0] = (char)c;
            t->text[1] = 0;
            i++;
        } else if (word_char(c)) {
            t->kind = T_WORD;
            while (i < n && word_char((unsigned char)l[i]) && !(l[i] == '-' && i + 1 < n && l[i + 1] == '>')) {
                if (len + 1 >= sizeof(t->text))
                    perr(p, "word longer than %zu characters", sizeof(t->text) - 1);
                t->text[len++] = l[i++];
            }
            t->text[len] = 0;
        } else if (isprint(c)) {
            perr(p, "unexpected character '%c'", c);
        } else {
            perr(p, "unexpected byte 0x%02x (not a text script?)", c);
        }
    }
    p->toks[p->ntok].kind = T_END;
    p->toks[p->ntok].text[0] = 0;
}

static struct tok *peek(struct parser *p) { return &p->toks[p->pos]; }
/* A token as an error message quotes it: its text, or "end of line". */
static const char *shown(const struct tok *t) { return t->kind == T_END ? "end of line" : t->text; }
static struct tok *next(struct parser *p) { return &p->toks[p->pos < p->ntok ? p->pos++ : p->pos]; }
static bool at_end(struct parser *p) { return peek(p)->kind == T_END; }

static bool accept_punct(struct parser *p, char c)
{
    struct tok *t = peek(p);
    if (t->kind == T_PUNCT && t->text[0] == c) {
        p->pos++;
        return true;
    }
    return false;
}

static void expect_punct(struct parser *p, char c, const char *what)
{
    if (!accept_punct(p, c))
        perr(p, "expected '%c' %s, got '%s'", c, what, shown(peek(p)));
}

static bool accept_word(struct parser *p, const char *w)
{
    struct tok *t = peek(p);
    if (t->kind == T_WORD && !strcmp(t->text, w)) {
        p->pos++;
        return true;
    }
    return false;
}

static const char *expect_word(struct parser *p, const char *what)
{
    struct tok *t = next(p);
    if (t->kind != T_WORD)
        perr(p, "expected %s, got '%s'", what, shown(t));
    return t->text;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

static uint64_t expect_number(struct parser *p, const char *what, uint64_t max)
{
    const char *w = expect_word(p, what);
    uint64_t v;
    if (!parse_u64(w, &v))
        perr(p, "expected %s (a number), got '%s'", what, w);
    if (v > max)
        perr(p, "%s %s is out of range (at most %" PRIu64 ")", what, w, max);
    return v;
}

/* key=value word split: returns true and *val if the next tokens are KEY = VALUE. */
static bool accept_key(struct parser *p, const char *key, const char **val)
{
    struct tok *t = peek(p);
    if (t->kind != T_WORD || strcmp(t->text, key) || p->toks[p->pos + 1].kind != T_PUNCT ||
        p->toks[p->pos + 1].text[0] != '=')
        return false;
    p->pos += 2;
    *val = expect_word(p, key);
    return true;
}

/* ---- names ---- */

static const struct {
    const char *name;
    uint64_t bits;
} flag_names[] = {
    { "P", _PAGE_PRESENT }, { "RW", _PAGE_RW },     { "US", _PAGE_USER },    { "USER", _PAGE_USER },
    { "PWT", _PAGE_PWT },   { "PCD", _PAGE_PCD },   { "A", _PAGE_ACCESSED }, { "D", _PAGE_DIRTY },
    { "PSE", _PAGE_PSE },   { "PAT", _PAGE_PAT },   { "G", _PAGE_GLOBAL },   { "NX", _PAGE_NX },
    { "GK", _PAGE_GUEST_KERNEL }, { "AVAIL", _PAGE_AVAIL },
};

static bool flag_value(const char *w, uint64_t *bits)
{
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (!strcmp(w, flag_names[i].name)) {
            *bits = flag_names[i].bits;
            return true;
        }
    return false;
}

/* ---- the frame indexes: by name and by mfn, so a script of n frames parses in O(n) ---- */

static size_t name_hash(const char *w)
{
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a */
    for (; *w; w++)
        h = (h ^ (unsigned char)*w) * 0x100000001b3ULL;
    return (size_t)(h ^ (h >> 32));
}

static size_t mfn_hash(uint64_t mfn)
{
    uint64_t h = mfn * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h ^ (h >> 29));
}

static struct frame_name *find_frame(const struct script *s, const char *w)
{
    size_t mask = s->index_cap - 1;
    for (size_t i = name_hash(w) & mask; s->index_cap && s->by_name[i]; i = (i + 1) & mask)
        if (!strcmp(s->frames[s->by_name[i] - 1].name, w))
            return &s->frames[s->by_name[i] - 1];
    return NULL;
}

const struct frame_name *script_frame_at(const struct script *s, uint64_t mfn)
{
    size_t mask = s->index_cap - 1;
    for (size_t i = mfn_hash(mfn) & mask; s->index_cap && s->by_mfn[i]; i = (i + 1) & mask)
        if (s->frames[s->by_mfn[i] - 1].mfn == mfn)
            return &s->frames[s->by_mfn[i] - 1];
    return NULL;
}

/* Enter frames[idx] in both indexes (there is room: index_cap > 2 * nframes). */
static void index_frame(struct script *s, size_t idx)
{
    size_t mask = s->index_cap - 1, i;
    for (i = name_hash(s->frames[idx].name) & mask; s->by_name[i]; i = (i + 1) & mask)
        ;
    s->by_name[i] = (uint32_t)(idx + 1);
    for (i = mfn_hash(s->frames[idx].mfn) & mask; s->by_mfn[i]; i = (i + 1) & mask)
        ;
    s->by_mfn[i] = (uint32_t)(idx + 1);
}

/* Append a declared frame (its name and mfn checked unique by the caller) and index it. */
static void add_frame(struct script *s, const char *name, uint64_t mfn)
{
    s->frames = grow(s->frames, s->nframes, sizeof(*s->frames));
    struct frame_name *f = &s->frames[s->nframes++];
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->mfn = mfn;
    if (s->nframes * 2 <= s->index_cap) {
        index_frame(s, s->nframes - 1);
        return;
    }
    s->index_cap = s->index_cap ? s->index_cap * 2 : 64;
    free(s->by_name);
    free(s->by_mfn);
    s->by_name = host_calloc(s->index_cap, sizeof(*s->by_name), "the script's frame index");
    s->by_mfn = host_calloc(s->index_cap, sizeof(*s->by_mfn), "the script's frame index");
    for (size_t i = 0; i < s->nframes; i++)
        index_frame(s, i);
}

static bool valid_ident(const char *w)
{
    if (!isalpha((unsigned char)w[0]) && w[0] != '_')
        return false;
    for (const char *c = w; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.')
            return false;
    return true;
}

/* A frame reference: a declared NAME or @MFN. */
static uint64_t parse_frame(struct parser *p, const char *what)
{
    const char *w = expect_word(p, what);
    uint64_t v;
    if (w[0] == '@') {
        if (!parse_u64(w + 1, &v) || v > (PVM_PADDR_MASK >> XEN_PAGE_SHIFT))
            perr(p, "expected a machine frame number after '@', got '%s'", w);
        return v;
    }
    struct frame_name *f = find_frame(p->s, w);
    if (!f)
        perr(p, "expected %s, got '%s', which no 'frame' or 'io' line declared", what, w);
    return f->mfn;
}

/* dN or dNvM. */
static void parse_dom(struct parser *p, domid_t *dom, unsigned int *vcpu)
{
    const char *w = expect_word(p, "a domain (dN or dNvM)");
    unsigned long d, v = 0;
    char *end;
    if (w[0] != 'd' || !isdigit((unsigned char)w[1]))
        perr(p, "expected a domain (dN or dNvM), got '%s'", w);
    errno = 0;
    d = strtoul(w + 1, &end, 10);   /* a number too large for strtoul is out of range too (ERANGE) */
    bool d_big = errno == ERANGE, v_big = false;
    int d_len = (int)(end - (w + 1)), v_len = 0;
    const char *vs = end + 1;
    if (*end == 'v') {
        if (!isdigit((unsigned char)end[1]))
            perr(p, "expected a vCPU number after 'v' in '%s'", w);
        errno = 0;
        v = strtoul(vs, &end, 10);
        v_big = errno == ERANGE;
        v_len = (int)(end - vs);
    }
    if (*end)
        perr(p, "expected a domain (dN or dNvM), got '%s'", w);
    if (d_big || d >= DOMID_FIRST_RESERVED)
        perr(p, "domain id %.*s is out of range (below %u)", d_len, w + 1, DOMID_FIRST_RESERVED);
    if (v_big || v >= PVM_MAX_VCPUS)
        perr(p, "vCPU %.*s is out of range (below %d)", v_len, vs, PVM_MAX_VCPUS);
    *dom = (domid_t)d;
    *vcpu = (unsigned int)v;
}

static struct domain_decl *find_dom(const struct script *s, domid_t id)
{
    for (size_t i = 0; i < s->ndoms; i++)
        if (s->doms[i].id == id)
            return &s->doms[i];
    return NULL;
}

static void parse_live_dom(struct parser *p, domid_t *dom, unsigned int *vcpu)
{
    parse_dom(p, dom, vcpu);
    struct domain_decl *d = find_dom(p->s, *dom);
    if (!d)
        perr(p, "domain d%u is not declared (expected a 'domain d%u' line before)", *dom, *dom);
    if (*vcpu >= d->vcpus)
        perr(p, "domain d%u has %u vCPU(s); v%u does not exist", *dom, d->vcpus, *vcpu);
}

/* VALUE := term ('|' term)*, term := FLAG | FRAME | @MFN | NUMBER */
static uint64_t parse_value(struct parser *p)
{
    uint64_t v = 0;
    bool frame_seen = false;
    do {
        struct tok *t = peek(p);
        uint64_t bits;
        if (t->kind != T_WORD)
            perr(p, "expected an entry value (frame name, flag or number), got '%s'", shown(t));
        if (flag_value(t->text, &bits)) {
            p->pos++;
            v |= bits;
        } else if (t->text[0] == '@' || find_frame(p->s, t->text)) {
            if (frame_seen)
                perr(p, "an entry value names one frame, got a second one '%s'", t->text);
            frame_seen = true;
            v |= parse_frame(p, "a frame") << XEN_PAGE_SHIFT;
        } else if (parse_u64(t->text, &bits)) {
            p->pos++;
            v |= bits;
        } else {
            perr(p, "expected an entry value (frame name, flag or number), got '%s'", t->text);
        }
    } while (accept_punct(p, '|'));
    return v;
}

/* VA := NUMBER | va(l4,l3,l2,l1) ['+' NUMBER] */
static uint64_t parse_va(struct parser *p)
{
    uint64_t va;
    if (accept_word(p, "va")) {
        expect_punct(p, '(', "after va");
        va = 0;
        for (int level = 4; level >= 1; level--) {
            uint64_t idx = expect_number(p, "a table index", 511);
            va |= idx << (12 + 9 * (level - 1));
            if (level > 1)
                expect_punct(p, ',', "between va() indexes");
        }
        expect_punct(p, ')', "to close va(");
        if (va & (1ULL << 47))
            va |= 0xFFFF000000000000ULL;
        if (accept_punct(p, '+'))
            va += expect_number(p, "an offset", 0xFFF);
        return va;
    }
    return expect_number(p, "a virtual address", UINT64_MAX);
}

/* NAME[SLOT] -> machine address of the entry. */
static uint64_t parse_slot_ref(struct parser *p, uint64_t *mfn, unsigned int *slot)
{
    *mfn = parse_frame(p, "a frame");
    expect_punct(p, '[', "after the frame name (NAME[SLOT])");
    *slot = (unsigned int)expect_number(p, "a slot", 511);
    expect_punct(p, ']', "after the slot");
    return (*mfn << XEN_PAGE_SHIFT) | ((uint64_t)*slot << 3);
}

static void parse_rc(struct parser *p, struct step *st)
{
    if (peek(p)->kind != T_ARROW)
        return;
    next(p);
    const char *w = expect_word(p, "an expected result after '->'");
    int bad = xen_errno_parse(w, &st->expect_rc);
    if (bad == -2)
        perr(p, "result '%s' is out of range (a hypercall returns a signed 64-bit value)", w);
    if (bad)
        perr(p, "expected a result like 0 or -EINVAL after '->', got '%s'", w);
    st->has_expect = true;
    const char *v;
    if (accept_key(p, "done", &v)) {
        uint64_t n;
        if (!parse_u64(v, &n) || n > UINT32_MAX)
            perr(p, "expected a count after done=, got '%s'", v);
        st->expect_done = (unsigned int)n;
        st->has_done = true;
    }
}

static void end_of_line(struct parser *p)
{
    if (!at_end(p))
        perr(p, "unexpected '%s' at the end of the line", peek(p)->text);
}

static struct step *new_step(struct parser *p, enum step_kind k)
{
    struct script *s = p->s;
    struct step **arr = p->mc ? &p->mc->sub : &s->steps;
    size_t *n = p->mc ? &p->mc->nsub : &s->nsteps;
    *arr = grow(*arr, *n, sizeof(**arr));
    struct step *st = &(*arr)[(*n)++];
    memset(st, 0, sizeof(*st));
    st->kind = k;
    st->line = p->line;
    if (p->mc) {
        st->dom = p->mc->dom;
        st->vcpu = p->mc->vcpu;
    }
    return st;
}

static unsigned int parse_foreigndom(struct parser *p, const char *v)
{
    if (!strcmp(v, "self"))
        return DOMID_SELF;
    if (!strcmp(v, "io"))
        return DOMID_IO;
    if (!strcmp(v, "xen"))
        return DOMID_XEN;
    uint64_t n;
    if (v[0] == 'd' && parse_u64(v + 1, &n) && n <= 0xFFFF)
        return (unsigned int)n;
    if (parse_u64(v, &n) && n <= 0xFFFF)
        return (unsigned int)n;
    perr(p, "expected a foreign domain (self, io, xen, dN or a number), got '%s'", v);
}

/* ---- commands ---- */

static void cmd_machine(struct parser *p)
{
    if (p->s->nsteps || p->s->ndoms || p->s->nframes || p->s->machine_seen)
        perr(p, "'machine' must come once, before every other line");
    p->s->machine_seen = true;
    const char *v;
    while (!at_end(p)) {
        if (accept_key(p, "frames", &v)) {
            uint64_t n;
            if (!parse_u64(v, &n) || n < 16 || n > (1ULL << 24))
                perr(p, "expected frames=N with 16 <= N <= %llu, got '%s'", 1ULL << 24, v);
            p->s->nr_frames = n;
        } else if (accept_key(p, "paddr_bits", &v)) {
            uint64_t n;
            if (!parse_u64(v, &n) || n < 36 || n > 52)
                perr(p, "expected paddr_bits=N with 36 <= N <= 52, got '%s'", v);
            p->s->paddr_bits = (unsigned int)n;
        } else if (accept_key(p, "linear_pt", &v)) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                perr(p, "expected linear_pt=on or linear_pt=off, got '%s'", v);
            p->s->linear_pt = !strcmp(v, "on");
        } else if (accept_key(p, "tlb_check", &v)) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                perr(p, "expected tlb_check=on or tlb_check=off, got '%s'", v);
            p->s->tlb_check = !strcmp(v, "on");
        } else {
            perr(p, "expected frames=N, paddr_bits=N, linear_pt=on|off or tlb_check=on|off, got '%s'", peek(p)->text);
        }
    }
}

static void cmd_domain(struct parser *p)
{
    domid_t id;
    unsigned int v;
    parse_dom(p, &id, &v);
    if (find_dom(p->s, id))
        perr(p, "domain d%u is declared twice", id);
    if (p->s->ndoms >= PVM_MAX_DOMAINS)
        perr(p, "at most %d domains", PVM_MAX_DOMAINS);
    struct domain_decl d = { .id = id, .vcpus = 1, .iomem_first = 1, .iomem_last = 0 };
    const char *val;
    while (!at_end(p)) {
        if (accept_word(p, "privileged")) {
            d.flags |= PVM_DOM_PRIVILEGED;
        } else if (accept_key(p, "vcpus", &val)) {
            uint64_t n;
            if (!parse_u64(val, &n) || n < 1 || n > PVM_MAX_VCPUS)
                perr(p, "expected vcpus=1..%d, got '%s'", PVM_MAX_VCPUS, val);
            d.vcpus = (unsigned int)n;
        } else if (accept_key(p, "iomem", &val)) {
            uint64_t a, b;
            d.iomem_set = true;
            if (!strcmp(val, "none"))
                continue;
            char buf[128];
            snprintf(buf, sizeof(buf), "%s", val);
            char *dash = strchr(buf + 1, '-');
            if (!dash)
                perr(p, "expected iomem=FIRST-LAST (machine frame numbers) or iomem=none, got '%s'", val);
            *dash = 0;
            if (!parse_u64(buf, &a) || !parse_u64(dash + 1, &b) || a > b)
                perr(p, "expected iomem=FIRST-LAST (machine frame numbers) or iomem=none, got '%s'", val);
            d.iomem_first = a;
            d.iomem_last = b;
        } else {
            perr(p, "expected privileged, vcpus=N or iomem=A-B|none, got '%s'", peek(p)->text);
        }
    }
    p->s->doms = grow(p->s->doms, p->s->ndoms, sizeof(*p->s->doms));
    p->s->doms[p->s->ndoms++] = d;
    struct step *st = new_step(p, S_DOMAIN);
    st->dom = id;
}

/* frame dN NAME[=MFN] ...  |  io NAME[=MFN] ... */
static void cmd_frame(struct parser *p, bool io)
{
    domid_t id = 0;
    unsigned int v;
    if (!io)
        parse_live_dom(p, &id, &v);
    if (at_end(p))
        perr(p, "expected at least one frame name");
    while (!at_end(p)) {
        const char *w = expect_word(p, "a frame name");
        char name[64];
        uint64_t bits, mfn;
        if (!valid_ident(w) || strlen(w) >= sizeof(name))
            perr(p, "expected a frame name (letters, digits, '_'; at most 63), got '%s'", w);
        snprintf(name, sizeof(name), "%s", w);
        if (flag_value(name, &bits) || !strcmp(name, "va"))
            perr(p, "'%s' is reserved (a flag or keyword); choose another frame name", name);
        if (name[0] == 'd' && isdigit((unsigned char)name[1]))
            perr(p, "'%s' looks like a domain; choose another frame name", name);
        if (find_frame(p->s, name))
            perr(p, "frame '%s' is declared twice", name);
        if (accept_punct(p, '=')) {
            mfn = expect_number(p, "a machine frame number", UINT64_MAX);
            if (mfn > (PVM_PADDR_MASK >> XEN_PAGE_SHIFT))   /* the limit of @MFN: what an entry's frame field holds */
                perr(p, "mfn %#" PRIx64 " is beyond what a page-table entry can hold (at most %#llx)", mfn,
                     (unsigned long long)(PVM_PADDR_MASK >> XEN_PAGE_SHIFT));
            if (script_frame_at(p->s, mfn))
                perr(p, "mfn %#" PRIx64 " is already used by another frame", mfn);
        } else {
            while (script_frame_at(p->s, p->next_mfn))
                p->next_mfn++;
            mfn = p->next_mfn++;
        }
        uint64_t limit = p->s->nr_frames;
        if (mfn >= limit && !io)
            perr(p, "mfn %#" PRIx64 " is beyond machine memory (%" PRIu64 " frames; see 'machine frames=N')", mfn,
                 limit);
        add_frame(p->s, name, mfn);
        struct step *st = new_step(p, io ? S_IO : S_FRAME);
        st->dom = id;
        st->mfn = mfn;
        st->val = p->s->next_gpfn++;
    }
}

static void cmd_set(struct parser *p)
{
    struct step *st = new_step(p, S_SET);
    unsigned int slot;
    parse_slot_ref(p, &st->mfn, &slot);
    st->slot = slot;
    expect_punct(p, '=', "after NAME[SLOT]");
    st->val = parse_value(p);
    parse_rc(p, st);
}

static unsigned int parse_vmassist_type(struct parser *p)
{
    const char *w = expect_word(p, "a vm_assist type");
    static const struct {
        const char *n;
        unsigned int t;
    } types[] = { { "4gb_segments", VMASST_TYPE_4gb_segments },
                  { "4gb_segments_notify", VMASST_TYPE_4gb_segments_notify },
                  { "writable_pagetables", VMASST_TYPE_writable_pagetables },
                  { "pae_extended_cr3", VMASST_TYPE_pae_extended_cr3 },
                  { "architectural_iopl", VMASST_TYPE_architectural_iopl },
                  { "runstate_update_flag", VMASST_TYPE_runstate_update_flag },
                  { "m2p_strict", VMASST_TYPE_m2p_strict } };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(w, types[i].n))
            return types[i].t;
    uint64_t n;
    if (parse_u64(w, &n) && n <= UINT32_MAX)
        return (unsigned int)n;
    perr(p, "expected a vm_assist type (writable_pagetables, m2p_strict, ... or a number), got '%s'", w);
}

static void cmd_vm_assist(struct parser *p, struct step *st)
{
    const char *w = expect_word(p, "enable or disable");
    if (!strcmp(w, "enable"))
        st->cmd = VMASST_CMD_enable;
    else if (!strcmp(w, "disable"))
        st->cmd = VMASST_CMD_disable;
    else if (!parse_u64(w, &st->val) || st->val > UINT32_MAX)
        perr(p, "expected enable, disable or a command number, got '%s'", w);
    else
        st->cmd = (unsigned int)st->val;
    st->type = parse_vmassist_type(p);
    parse_rc(p, st);
}

/* mmu_update [fd=X] [pfd=dN] REQ (',' REQ)* */
static void cmd_mmu_update(struct parser *p, struct step *st)
{
    const char *v;
    st->foreigndom = DOMID_SELF;
    for (;;) {
        if (accept_key(p, "fd", &v))
            st->foreigndom = (st->foreigndom & 0xFFFF0000u) | parse_foreigndom(p, v);
        else if (accept_key(p, "pfd", &v))
            st->foreigndom = (st->foreigndom & 0xFFFF) | ((parse_foreigndom(p, v) + 1) << 16);
        else
            break;
    }
    do {
        struct mmu_update r = { 0, 0 };
        unsigned int cmd = MMU_NORMAL_PT_UPDATE;
        if (accept_key(p, "cmd", &v)) {
            uint64_t n;
            if (!parse_u64(v, &n) || n > 7)
                perr(p, "expected cmd=0..7, got '%s'", v);
            cmd = (unsigned int)n;
        }
        if (accept_word(p, "m2p")) {
            r.ptr = (parse_frame(p, "a frame") << XEN_PAGE_SHIFT) | MMU_MACHPHYS_UPDATE;
            expect_punct(p, '=', "after m2p FRAME");
            r.val = expect_number(p, "a pseudo-physical frame number", UINT64_MAX);
        } else {
            uint64_t mfn;
            unsigned int slot;
            r.ptr = parse_slot_ref(p, &mfn, &slot);
            expect_punct(p, '=', "after NAME[SLOT]");
            if (accept_word(p, "preserve_ad"))
                cmd = MMU_PT_UPDATE_PRESERVE_AD;
            r.val = parse_value(p);
            r.ptr |= cmd;
        }
        st->reqs = grow(st->reqs, st->count, sizeof(*st->reqs));
        st->reqs[st->count++] = r;
    } while (accept_punct(p, ','));
    parse_rc(p, st);
}

static const struct {
    const char *name;
    unsigned int cmd;
    enum { A_NONE, A_MFN, A_MFN0, A_VA, A_MASK, A_VA_MASK, A_VA_N, A_TWO } args;
} ext_ops[] = {
    { "pin_l1", MMUEXT_PIN_L1_TABLE, A_MFN },       { "pin_l2", MMUEXT_PIN_L2_TABLE, A_MFN },
    { "pin_l3", MMUEXT_PIN_L3_TABLE, A_MFN },       { "pin_l4", MMUEXT_PIN_L4_TABLE, A_MFN },
    { "unpin", MMUEXT_UNPIN_TABLE, A_MFN },         { "new_baseptr", MMUEXT_NEW_BASEPTR, A_MFN },
    { "new_user_baseptr", MMUEXT_NEW_USER_BASEPTR, A_MFN0 },
    { "tlb_flush_local", MMUEXT_TLB_FLUSH_LOCAL, A_NONE }, { "invlpg_local", MMUEXT_INVLPG_LOCAL, A_VA },
    { "tlb_flush_multi", MMUEXT_TLB_FLUSH_MULTI, A_MASK }, { "invlpg_multi", MMUEXT_INVLPG_MULTI, A_VA_MASK },
    { "tlb_flush_all", MMUEXT_TLB_FLUSH_ALL, A_NONE },     { "invlpg_all", MMUEXT_INVLPG_ALL, A_VA },
    { "flush_cache", MMUEXT_FLUSH_CACHE, A_NONE },         { "flush_cache_global", MMUEXT_FLUSH_CACHE_GLOBAL, A_NONE },
    { "set_ldt", MMUEXT_SET_LDT, A_VA_N },                 { "clear_page", MMUEXT_CLEAR_PAGE, A_MFN },
    { "copy_page", MMUEXT_COPY_PAGE, A_TWO },              { "mark_super", MMUEXT_MARK_SUPER, A_MFN },
    { "unmark_super", MMUEXT_UNMARK_SUPER, A_MFN },
};

/* The vCPU mask of a *_multi operation: mask=BITS into *mask (true), or nomask (false). */
static bool parse_ext_mask(struct parser *p, unsigned long *mask)
{
    const char *v;
    uint64_t bits;
    if (accept_word(p, "nomask"))
        return false;
    if (!accept_key(p, "mask", &v))
        perr(p, "expected mask=BITS (a vCPU bitmap) or nomask, got '%s'", shown(peek(p)));
    if (!parse_u64(v, &bits))
        perr(p, "expected mask=BITS (a vCPU bitmap), got '%s'", v);
    *mask = (unsigned long)bits;
    return true;
}

/*
 * The operation word w of an mmuext: a name from ext_ops, or `cmd = N` (any
 * command number, with an optional frame).  Sets op->cmd (and that frame);
 * returns the kind of arguments that follow.
 */
static int parse_ext_name(struct parser *p, const char *w, struct mmuext_op *op)
{
    if (!strcmp(w, "cmd")) {
        expect_punct(p, '=', "after cmd");
        op->cmd = (unsigned int)expect_number(p, "a command number", UINT32_MAX);
        if (!at_end(p) && peek(p)->kind == T_WORD && (find_frame(p->s, peek(p)->text) || peek(p)->text[0] == '@'))
            op->arg1.mfn = parse_frame(p, "a frame");
        return A_NONE;
    }
    for (size_t i = 0; i < sizeof(ext_ops) / sizeof(ext_ops[0]); i++)
        if (!strcmp(w, ext_ops[i].name)) {
            op->cmd = ext_ops[i].cmd;
            return ext_ops[i].args;
        }
    perr(p, "expected an mmuext operation (pin_l1..pin_l4, unpin, new_baseptr, new_user_baseptr, "
            "tlb_flush_local, invlpg_local, tlb_flush_multi, invlpg_multi, tlb_flush_all, invlpg_all, "
            "flush_cache, set_ldt, clear_page, copy_page, mark_super, cmd = N), got '%s'", w);
}

/* The arguments of one mmuext operation, as args says, into op; a vCPU mask into *mask (returns true). */
static bool parse_ext_args(struct parser *p, int args, struct mmuext_op *op, unsigned long *mask)
{
    switch (args) {
    case A_MFN:
        op->arg1.mfn = parse_frame(p, "a frame");
        return false;
    case A_MFN0:
        op->arg1.mfn = accept_word(p, "0") ? 0 : parse_frame(p, "a frame (or 0)");
        return false;
    case A_VA:
        op->arg1.linear_addr = (unsigned long)parse_va(p);
        return false;
    case A_VA_MASK:
        op->arg1.linear_addr = (unsigned long)parse_va(p);
        return parse_ext_mask(p, mask);
    case A_MASK:
        return parse_ext_mask(p, mask);
    case A_VA_N:
        op->arg1.linear_addr = (unsigned long)parse_va(p);
        op->arg2.nr_ents = (unsigned int)expect_number(p, "an entry count", UINT32_MAX);
        return false;
    case A_TWO:
        op->arg1.mfn = parse_frame(p, "a destination frame");
        op->arg2.src_mfn = parse_frame(p, "a source frame");
        return false;
    default:
        return false;
    }
}

/* Append op, its vCPU mask and whether the mask is used to the batch of st. */
static void add_ext_op(struct step *st, const struct mmuext_op *op, unsigned long mask, bool has_mask)
{
    st->ops = grow(st->ops, st->count, sizeof(*st->ops));
    st->masks = grow(st->masks, st->count, sizeof(*st->masks));
    st->mask_used = grow(st->mask_used, st->count, sizeof(*st->mask_used));
    st->ops[st->count] = *op;
    st->masks[st->count] = mask;
    st->mask_used[st->count] = has_mask;
    st->count++;
}

/* mmuext [fd=X] OP ARGS (',' OP ARGS)* [-> RC] ; a vcpumask is "mask=BITS". */
static void cmd_mmuext(struct parser *p, struct step *st)
{
    const char *v;
    st->foreigndom = DOMID_SELF;
    if (accept_key(p, "fd", &v))
        st->foreigndom = parse_foreigndom(p, v);
    do {
        struct mmuext_op op;
        memset(&op, 0, sizeof(op));
        unsigned long mask = 0;
        const char *w = expect_word(p, "an mmuext operation (pin_l1 ... unpin, new_baseptr, tlb_flush_local, ...)");
        int args = parse_ext_name(p, w, &op);
        bool has_mask = parse_ext_args(p, args, &op, &mask);
        add_ext_op(st, &op, mask, has_mask);
    } while (accept_punct(p, ','));
    parse_rc(p, st);
}

static unsigned long parse_uvm_flags(struct parser *p, struct step *st)
{
    unsigned long flags = 0;
    const char *v;
    for (;;) {
        if (accept_word(p, "none"))
            flags = (flags & ~UVMF_FLUSHTYPE_MASK) | UVMF_NONE;
        else if (accept_word(p, "tlb_flush"))
            flags = (flags & ~UVMF_FLUSHTYPE_MASK) | UVMF_TLB_FLUSH;
        else if (accept_word(p, "invlpg"))
            flags = (flags & ~UVMF_FLUSHTYPE_MASK) | UVMF_INVLPG;
        else if (accept_word(p, "local"))
            flags &= UVMF_FLUSHTYPE_MASK;
        else if (accept_word(p, "all"))
            flags = (flags & UVMF_FLUSHTYPE_MASK) | UVMF_ALL;
        else if (accept_key(p, "mask", &v)) {
            uint64_t b;
            if (!parse_u64(v, &b))
                perr(p, "expected mask=BITS, got '%s'", v);
            st->masks = host_realloc(st->masks, sizeof(*st->masks), "the parsed script");
            st->mask_used = host_realloc(st->mask_used, sizeof(*st->mask_used), "the parsed script");
            st->masks[0] = (unsigned long)b;
            st->mask_used[0] = true;
        } else if (accept_key(p, "flags", &v)) {
            uint64_t b;
            if (!parse_u64(v, &b))
                perr(p, "expected flags=N, got '%s'", v);
            flags = (unsigned long)b;
        } else
            break;
    }
    return flags;
}

static void cmd_uvm(struct parser *p, struct step *st, bool other)
{
    st->va = parse_va(p);
    st->val = parse_value(p);
    if (other) {
        const char *w = expect_word(p, "the domain that owns the frame (dN, io, self)");
        st->foreigndom = parse_foreigndom(p, w);
    }
    st->flags = parse_uvm_flags(p, st);
    parse_rc(p, st);
}

static void parse_access_result(struct parser *p, struct step *st, bool load)
{
    if (peek(p)->kind != T_ARROW) {
        st->expect_access = 0;
        return;
    }
    next(p);
    const char *w = expect_word(p, load ? "a value or #PF after '->'" : "ok, emulated or #PF after '->'");
    st->has_expect = true;
    if (!strcmp(w, "#PF"))
        st->expect_access = PVM_ACCESS_FAULT;
    else if (!strcmp(w, "ok") && !load)
        st->expect_access = PVM_ACCESS_OK;
    else if (!strcmp(w, "emulated") && !load)
        st->expect_access = PVM_ACCESS_EMULATED;
    else if (load) {
        p->pos--;
        st->expect_access = PVM_ACCESS_OK;
        st->expect_val = parse_value(p);
        st->has_expect_val = true;
    } else
        perr(p, "expected ok, emulated or #PF after '->', got '%s'", w);
}

static void cmd_store(struct parser *p, struct step *st)
{
    st->va = parse_va(p);
    st->val = parse_value(p);
    st->bytes = 8;
    const char *v;
    if (accept_key(p, "bytes", &v)) {
        uint64_t b;
        if (!parse_u64(v, &b) || (b != 1 && b != 2 && b != 4 && b != 8))
            perr(p, "expected bytes=1, 2, 4 or 8, got '%s'", v);
        st->bytes = (unsigned int)b;
    }
    parse_access_result(p, st, false);
}

static const char *const type_names[] = { "none", "l1", "l2", "l3", "l4", "seg_desc", "shared", "writable" };

/*
 * Record that an expect line gave frame attribute `attr` (bit in *seen), as
 * the word w (and =v if v is not NULL).  A second mention, repeated or
 * contradictory (pinned then !pinned), is refused: each attribute once.
 */
static void attr_once(struct parser *p, unsigned int *seen, unsigned int bit, const char *attr, const char *w,
                      const char *v)
{
    if (*seen & bit)
        perr(p, "'%s%s%s': the attribute %s is already given on this line (each attribute once)", w, v ? "=" : "",
             v ? v : "", attr);
    *seen |= bit;
}

/* expect FRAME attr...  |  expect FRAME[SLOT] = VALUE  |  expect stat|log|why|mappings ... */
/* expect stat NAME=N ...: one step per counter, each counter once. */
static void expect_stat_line(struct parser *p)
{
    if (at_end(p))
        perr(p, "expected NAME=N after 'expect stat'");
    size_t first = p->s->nsteps;
    while (!at_end(p)) {
        const char *name = expect_word(p, "a counter name");
        int idx = script_stat_index(name);
        if (idx < 0)
            perr(p, "unknown counter '%s' (see docs/scripts.md for the list)", name);
        expect_punct(p, '=', "after the counter name");
        uint64_t val = expect_number(p, "a count", UINT64_MAX);
        for (size_t i = first; i < p->s->nsteps; i++)   /* each counter once, as each frame attribute */
            if (p->s->steps[i].stat == idx)
                perr(p, "'%s=%s': the counter %s is already given on this line (each counter once)", name,
                     p->toks[p->pos - 1].text, name);
        struct step *st = new_step(p, S_EXPECT_STAT);
        st->stat = idx;
        st->val = val;
    }
}

/* expect log "TEXT" */
static void expect_log_line(struct parser *p)
{
    struct step *st = new_step(p, S_EXPECT_LOG);
    struct tok *t = next(p);
    if (t->kind != T_STR)
        perr(p, "expected a quoted text after 'expect log'");
    st->text = host_strdup(t->text, "the parsed script");
    end_of_line(p);
}

/* expect why CAUSE [NAME] */
static void expect_why_line(struct parser *p)
{
    struct step *st = new_step(p, S_EXPECT_WHY);
    const char *w = expect_word(p, "a refusal cause (bad_type, bad_flags, ...)");
    st->stat = why_cause_parse(w);
    if (st->stat < 0)
        perr(p, "unknown refusal cause '%s'", w);
    st->mfn = PVM_INVALID_MFN;
    if (!at_end(p))
        st->mfn = parse_frame(p, "the frame at issue");
    end_of_line(p);
}

/* expect mappings NAME N [writable] */
static void expect_mappings_line(struct parser *p)
{
    struct step *st = new_step(p, S_EXPECT_MAPPINGS);
    st->mfn = parse_frame(p, "a frame");
    st->val = expect_number(p, "a count of L1 slots", UINT64_MAX);
    st->bytes = accept_word(p, "writable");
    end_of_line(p);
}

/* expect NAME[SLOT] = VALUE, after NAME (mfn) */
static void expect_entry_line(struct parser *p, uint64_t mfn)
{
    struct step *st = new_step(p, S_EXPECT_ENTRY);
    st->mfn = mfn;
    st->slot = (unsigned int)expect_number(p, "a slot", 511);
    expect_punct(p, ']', "after the slot");
    expect_punct(p, '=', "after NAME[SLOT]");
    st->val = parse_value(p);
    end_of_line(p);
}

/* owner=dN|none|io */
static domid_t attr_owner(struct parser *p, const char *v)
{
    uint64_t n;
    if (!strcmp(v, "none"))
        return DOMID_INVALID;
    if (!strcmp(v, "io"))
        return DOMID_IO;
    if (v[0] == 'd' && parse_u64(v + 1, &n) && n < DOMID_FIRST_RESERVED)
        return (domid_t)n;
    perr(p, "expected owner=dN, none or io, got '%s'", v);
}

/* type=NAME: the type's index in type_names, or one error line. */
static int attr_type(struct parser *p, const char *v)
{
    for (int i = 0; i < 8; i++)
        if (!strcmp(v, type_names[i]))
            return i;
    perr(p, "expected type=none|l1|l2|l3|l4|seg_desc|shared|writable, got '%s'", v);
}

/* linear=N: the core's linear count is a signed 16-bit value. */
static int attr_linear(struct parser *p, const char *v)
{
    char *end;
    errno = 0;
    long l = strtol(v, &end, 0);
    if (*end || !*v || errno || l < INT16_MIN || l > INT16_MAX)
        perr(p, "expected linear=N with %d <= N <= %d, got '%s'", INT16_MIN, INT16_MAX, v);
    return (int)l;
}

/* KEY=VALUE as the next attribute: true with its value in *v, refused if the line gave KEY before (bit). */
static bool key_attr(struct parser *p, const char *key, unsigned int bit, unsigned int *seen, const char **v)
{
    if (!accept_key(p, key, v))
        return false;
    attr_once(p, seen, bit, key, key, *v);
    return true;
}

/* A count attribute KEY=N (tc, count, m2p) as the next one: true with *has set and N in *n, once per line. */
static bool count_attr(struct parser *p, const char *key, unsigned int bit, unsigned int *seen, bool *has,
                       uint64_t *n)
{
    const char *v;
    if (!key_attr(p, key, bit, seen, &v))
        return false;
    if (!parse_u64(v, n))
        perr(p, "expected %s=N, got '%s'", key, v);
    *has = true;
    return true;
}

/* NAME or !NAME (pinned, validated) as the next attribute: true with *want 1 or -1, once per line (bit). */
static bool flag_attr(struct parser *p, const char *name, unsigned int bit, unsigned int *seen, int *want)
{
    const struct tok *t = peek(p);
    bool negated = t->text[0] == '!';
    if (t->kind != T_WORD || strcmp(t->text + negated, name))
        return false;
    p->pos++;
    attr_once(p, seen, bit, name, t->text, NULL);
    *want = negated ? -1 : 1;
    return true;
}

/* One frame attribute of an `expect NAME ...` line into fe; each attribute once per line (seen). */
static void frame_attr(struct parser *p, struct frame_expect *fe, unsigned int *seen)
{
    const char *v;
    if (key_attr(p, "type", 1u << 0, seen, &v)) {
        fe->has_type = true;
        fe->type = attr_type(p, v);
    } else if (key_attr(p, "linear", 1u << 3, seen, &v)) {
        fe->has_linear = true;
        fe->linear = attr_linear(p, v);
    } else if (key_attr(p, "owner", 1u << 5, seen, &v)) {
        fe->has_owner = true;
        fe->owner = attr_owner(p, v);
    } else if (!count_attr(p, "tc", 1u << 1, seen, &fe->has_tc, &fe->tc) &&
               !count_attr(p, "count", 1u << 2, seen, &fe->has_count, &fe->count) &&
               !count_attr(p, "m2p", 1u << 4, seen, &fe->has_m2p, &fe->m2p) &&
               !flag_attr(p, "pinned", 1u << 6, seen, &fe->pinned) &&
               !flag_attr(p, "validated", 1u << 7, seen, &fe->validated)) {
        perr(p, "expected a frame attribute (type=, tc=, count=, pinned, !pinned, validated, !validated, "
                "owner=, linear=, m2p=), got '%s'", peek(p)->text);
    }
}

/* The expect lines that start with a keyword instead of a frame. */
static const struct {
    const char *word;
    void (*parse)(struct parser *p);
} expect_keywords[] = {
    { "stat", expect_stat_line }, { "log", expect_log_line }, { "why", expect_why_line },
    { "mappings", expect_mappings_line },
};

/* expect stat|log|why|mappings ..., expect NAME[SLOT] = VALUE, or expect NAME ATTR... */
static void cmd_expect(struct parser *p)
{
    for (size_t i = 0; i < sizeof(expect_keywords) / sizeof(expect_keywords[0]); i++)
        if (accept_word(p, expect_keywords[i].word)) {
            expect_keywords[i].parse(p);
            return;
        }
    uint64_t mfn = parse_frame(p, "a frame, stat, log, why or mappings");
    if (accept_punct(p, '[')) {
        expect_entry_line(p, mfn);
        return;
    }
    struct step *st = new_step(p, S_EXPECT_FRAME);
    st->mfn = mfn;
    if (at_end(p))
        perr(p, "expected a frame attribute (type=, tc=, count=, pinned, validated, owner=, linear=, m2p=)");
    unsigned int seen = 0;
    while (!at_end(p))
        frame_attr(p, &st->fe, &seen);
}

/* A hypercall line, at top level (with a domain) or inside a multicall block. */
static bool hypercall_line(struct parser *p, const char *w)
{
    struct step *st;
    if (!strcmp(w, "mmu_update"))
        st = new_step(p, S_MMU_UPDATE);
    else if (!strcmp(w, "mmuext") || !strcmp(w, "mmuext_op"))
        st = new_step(p, S_MMUEXT);
    else if (!strcmp(w, "update_va_mapping"))
        st = new_step(p, S_UVM);
    else if (!strcmp(w, "update_va_mapping_otherdomain"))
        st = new_step(p, S_UVM_OTHER);
    else if (!strcmp(w, "vm_assist"))
        st = new_step(p, S_VM_ASSIST);
    else
        return false;
    if (!p->mc)
        parse_live_dom(p, &st->dom, &st->vcpu);
    switch (st->kind) {
    case S_MMU_UPDATE: cmd_mmu_update(p, st); break;
    case S_MMUEXT: cmd_mmuext(p, st); break;
    case S_UVM: cmd_uvm(p, st, false); break;
    case S_UVM_OTHER: cmd_uvm(p, st, true); break;
    default: cmd_vm_assist(p, st); break;
    }
    end_of_line(p);
    return true;
}

/* Inside a multicall block: `end [-> RC]`, `iret`, `op N`, or one of the hypercalls a multicall carries. */
static void multicall_line(struct parser *p, const char *w)
{
    if (!strcmp(w, "end")) {
        parse_rc(p, p->mc);
        end_of_line(p);
        p->mc = NULL;
        return;
    }
    if (!strcmp(w, "iret") || !strcmp(w, "op")) {
        struct step *st = new_step(p, S_RAW_OP);
        st->cmd = !strcmp(w, "iret") ? __HYPERVISOR_iret
                                     : (unsigned int)expect_number(p, "a hypercall number", UINT32_MAX);
        parse_rc(p, st);
        end_of_line(p);
        return;
    }
    if (!hypercall_line(p, w))
        perr(p, "expected a hypercall inside the multicall (mmu_update, mmuext, update_va_mapping, "
                "update_va_mapping_otherdomain, vm_assist, iret, op N) or 'end', got '%s'", w);
}

/*
 * KIND dN[vM] FRAME [-> RC]: set_cr3, release and assign, a step of kind k
 * on one frame.  An assigned frame takes the next pseudo-physical number, as
 * a declared one does.
 */
static void frame_op_line(struct parser *p, enum step_kind k)
{
    struct step *st = new_step(p, k);
    parse_live_dom(p, &st->dom, &st->vcpu);
    st->mfn = parse_frame(p, "a frame");
    if (k == S_ASSIGN)
        st->val = p->s->next_gpfn++;
    parse_rc(p, st);
    end_of_line(p);
}

static void cmd_frame_line(struct parser *p) { cmd_frame(p, false); }
static void cmd_io_line(struct parser *p) { cmd_frame(p, true); }
static void cmd_set_cr3(struct parser *p) { frame_op_line(p, S_SET_CR3); }
static void cmd_release(struct parser *p) { frame_op_line(p, S_RELEASE); }
static void cmd_assign(struct parser *p) { frame_op_line(p, S_ASSIGN); }

/* set NAME[SLOT] = VALUE [-> RC] */
static void cmd_set_line(struct parser *p)
{
    cmd_set(p);
    end_of_line(p);
}

/* mode dN[vM] kernel|user */
static void cmd_mode(struct parser *p)
{
    struct step *st = new_step(p, S_MODE);
    parse_live_dom(p, &st->dom, &st->vcpu);
    const char *m = expect_word(p, "kernel or user");
    if (strcmp(m, "kernel") && strcmp(m, "user"))
        perr(p, "expected kernel or user, got '%s'", m);
    st->cmd = !strcmp(m, "kernel");
    end_of_line(p);
}

/* store dN[vM] VA VALUE [bytes=N] [-> ok|emulated|#PF] */
static void cmd_store_line(struct parser *p)
{
    struct step *st = new_step(p, S_STORE);
    parse_live_dom(p, &st->dom, &st->vcpu);
    cmd_store(p, st);
    end_of_line(p);
}

/* load dN[vM] VA [-> VALUE|#PF] */
static void cmd_load(struct parser *p)
{
    struct step *st = new_step(p, S_LOAD);
    parse_live_dom(p, &st->dom, &st->vcpu);
    st->va = parse_va(p);
    parse_access_result(p, st, true);
    end_of_line(p);
}

/* multicall dN[vM]: opens a block that an `end` line closes. */
static void cmd_multicall(struct parser *p)
{
    struct step *st = new_step(p, S_MULTICALL);
    parse_live_dom(p, &st->dom, &st->vcpu);
    end_of_line(p);
    p->mc = st;
    p->s->open_line = p->line;
}

static void cmd_audit(struct parser *p)
{
    new_step(p, S_AUDIT);
    end_of_line(p);
}

static void cmd_end(struct parser *p) { perr(p, "'end' without an open 'multicall'"); }

/* The commands of a top-level line other than the hypercalls (hypercall_line), by their first word. */
static const struct {
    const char *name;
    void (*parse)(struct parser *p);
} commands[] = {
    { "machine", cmd_machine }, { "domain", cmd_domain },   { "frame", cmd_frame_line },  { "io", cmd_io_line },
    { "set", cmd_set_line },    { "set_cr3", cmd_set_cr3 }, { "release", cmd_release },   { "assign", cmd_assign },
    { "mode", cmd_mode },       { "store", cmd_store_line }, { "load", cmd_load },         { "multicall", cmd_multicall },
    { "expect", cmd_expect },   { "audit", cmd_audit },     { "end", cmd_end },
};

/* One lexed line: nothing for a blank one, else its command; one error line (perr) if it is malformed. */
static void parse_line(struct parser *p)
{
    if (at_end(p))
        return;
    const char *w = expect_word(p, "a command");
    if (p->mc) {
        multicall_line(p, w);
        return;
    }
    if (hypercall_line(p, w))
        return;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(w, commands[i].name)) {
            commands[i].parse(p);
            return;
        }
    perr(p, "expected a command (machine, domain, frame, io, set, set_cr3, release, assign, mode, mmu_update, "
            "mmuext, update_va_mapping, update_va_mapping_otherdomain, vm_assist, store, load, multicall, "
            "expect, audit), got '%s'", w);
}

struct script *script_parse(const char *name, const char *buf, size_t len, FILE *err)
{
    struct script *volatile s = host_calloc(1, sizeof(*s), "the parsed script");
    s->nr_frames = 4096;
    s->paddr_bits = 40;
    s->linear_pt = true;
    struct parser *p = host_calloc(1, sizeof(*p), "the script parser");
    s->name = host_strdup(name, "the script's name");
    s->source = host_malloc(len + 1, "the script's text");
    memcpy(s->source, buf, len);
    s->source[len] = 0;
    s->source_len = len;
    p->s = s;
    p->name = name;
    p->err = err;
    p->next_mfn = 0x100;
    if (setjmp(p->fail)) {
        script_free(s);
        free(p);
        return NULL;
    }
    size_t i = 0;
    while (i < len) {
        p->line++;
        size_t start = i;
        while (i < len && buf[i] != '\n') {
            if (buf[i] == '\0')
                perr(p, "unexpected NUL byte (not a text script?)");
            i++;
        }
        if (i - start > SCRIPT_MAX_LINE)
            perr(p, "line longer than %d characters", SCRIPT_MAX_LINE);
        lex(p, buf + start, i - start);
        parse_line(p);
        i++;
    }
    if (p->mc) {
        p->line = s->open_line;
        perr(p, "'multicall' is never closed (expected an 'end' line)");
    }
    free(p);
    return s;
}

struct script *script_load(const char *path, FILE *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(err, "%s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = host_malloc(cap, "the script's text");
    const size_t limit = 64u << 20;
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
        if (len == cap) {
            if (cap >= limit) {
                fprintf(err, "%s: larger than %zu MiB; not a scenario script\n", path, limit >> 20);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = host_realloc(buf, cap * 2, "the script's text");
            cap *= 2;
        }
    }
    if (ferror(f)) {
        fprintf(err, "%s: cannot read: %s\n", path, strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    struct script *s = script_parse(path, buf, len, err);
    free(buf);
    return s;
}

static void free_steps(struct step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(steps[i].reqs);
        free(steps[i].ops);
        free(steps[i].masks);
        free(steps[i].mask_used);
        free(steps[i].text);
        free_steps(steps[i].sub, steps[i].nsub);
        free(steps[i].sub);
    }
}

void script_free(struct script *s)
{
    if (!s)
        return;
    free_steps(s->steps, s->nsteps);
    free(s->steps);
    free(s->frames);
    free(s->by_name);
    free(s->by_mfn);
    free(s->doms);
    free(s->name);
    free(s->source);
    free(s);
}

size_t script_steps(const struct script *s)
{
    return s->nsteps;
}
