/* harness.c - see harness.h. */
#include "harness.h"
#include "explain.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void snap_free(struct tm *t, struct snap *s);

struct logbook {
    char **lines;
    size_t n;
};
static struct logbook book;

static void collect(void *ctx, const struct pvm_log_msg *msg)
{
    (void)ctx;
    char **nl = realloc(book.lines, (book.n + 1) * sizeof(*nl));
    assert_non_null(nl);
    book.lines = nl;
    book.lines[book.n] = strdup(msg->text);
    assert_non_null(book.lines[book.n]);
    book.n++;
    if (getenv("PVMMU_TEST_LOG"))
        fprintf(stderr, "(XEN) d%uv%u %s\n", msg->domid, msg->vcpu, msg->text);
}

struct tm *tm_new(uint64_t nr_frames)
{
    struct tm *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(hostmem_init(&t->h, &t->m, nr_frames), 0);
    t->m.ops.log = collect;
    t->scratch = malloc(pvm_audit_scratch_bytes(&t->m));
    assert_non_null(t->scratch);
    assert_int_equal(pvm_domain_create(&t->m, 1, 2, 0), 0);
    assert_int_equal(pvm_domain_create(&t->m, 2, 1, 0), 0);
    t->v = pvm_vcpu(&t->m, 1, 0);
    t->v2 = pvm_vcpu(&t->m, 2, 0);
    t->next = 0x10;
    t->map_fail_mfn = PVM_INVALID_MFN;
    return t;
}

int tm_setup(void **state)
{
    *state = tm_new(512);
    return 0;
}

int tm_setup_space(void **state)
{
    struct tm *t = tm_new(512);
    tm_space(t, t->v, &t->l4, &t->l3, &t->l2, &t->l1);
    *state = t;
    return 0;
}

int tm_teardown(void **state)
{
    tm_free(*state);
    return 0;
}

void tm_free(struct tm *t)
{
    for (size_t i = 0; i < book.n; i++)
        free(book.lines[i]);
    free(book.lines);
    book.lines = NULL;
    book.n = 0;
    while (t->snaps)
        snap_free(t, t->snaps);
    free(t->scratch);
    hostmem_free(&t->h);
    free(t);
}

xen_ulong_t tm_guest(struct tm *t, const void *p, size_t len)
{
    assert_int_equal(hostmem_guest_view(&t->h, p, len), 0);
    return (xen_ulong_t)(uintptr_t)p;
}

uint64_t tm_frame(struct tm *t, domid_t dom)
{
    uint64_t mfn = t->next++;
    assert_true(mfn < t->m.nr_frames);
    TM_OK(t, pvm_assign_page(&t->m, mfn, dom, mfn - 0x10));
    return mfn;
}

int tm_set(struct pvm_vcpu *v, uint64_t table, unsigned int slot, uint64_t val)
{
    struct mmu_update u = { (table << 12) | (slot * 8ULL), val };
    unsigned int done = 99;
    int rc = pvm_mmu_update(v, &u, 1, &done, DOMID_SELF);
    assert_int_equal(done, rc ? 0 : 1);
    return rc;
}

int tm_ext(struct pvm_vcpu *v, unsigned int cmd, uint64_t mfn)
{
    struct mmuext_op op;
    memset(&op, 0, sizeof(op));
    op.cmd = cmd;
    op.arg1.mfn = mfn;
    return pvm_mmuext_op(v, &op, 1, NULL, DOMID_SELF);
}

int tm_pin(struct pvm_vcpu *v, unsigned int level, uint64_t mfn)
{
    return tm_ext(v, MMUEXT_PIN_L1_TABLE + level - 1, mfn);
}

int tm_unpin(struct pvm_vcpu *v, uint64_t mfn) { return tm_ext(v, MMUEXT_UNPIN_TABLE, mfn); }
int tm_baseptr(struct pvm_vcpu *v, uint64_t mfn) { return tm_ext(v, MMUEXT_NEW_BASEPTR, mfn); }

uint64_t tm_map_frame(struct tm *t, unsigned int slot, uint64_t flags)
{
    uint64_t mfn = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, slot, pte(mfn, flags)));
    return mfn;
}

uint64_t tm_pinned(struct tm *t, unsigned int level)
{
    uint64_t mfn = tm_frame(t, 1);
    TM_OK(t, tm_pin(t->v, level, mfn));
    return mfn;
}

struct pvm_vcpu *tm_privileged(struct tm *t, domid_t id)
{
    TM_OK(t, pvm_domain_create(&t->m, id, 1, PVM_DOM_PRIVILEGED));
    struct pvm_vcpu *v = pvm_vcpu(&t->m, id, 0);
    assert_non_null(v);
    return v;
}

struct pvm_vcpu *tm_privileged_space(struct tm *t, domid_t id, uint64_t *l1)
{
    struct pvm_vcpu *v = tm_privileged(t, id);
    tm_space(t, v, NULL, NULL, NULL, l1);
    return v;
}

void tm_enable_ptwr(struct tm *t)
{
    TM_OK(t, pvm_vm_assist(t->v, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables));
}

void tm_space(struct tm *t, struct pvm_vcpu *v, uint64_t *o4, uint64_t *o3, uint64_t *o2, uint64_t *o1)
{
    domid_t d = v->d->id;
    uint64_t l4 = tm_frame(t, d), l3 = tm_frame(t, d), l2 = tm_frame(t, d), l1 = tm_frame(t, d);
    assert_int_equal(pvm_poke(&t->m, l1, 1, pte(l1, _PAGE_PRESENT)), 0);
    assert_int_equal(pvm_poke(&t->m, l1, 2, pte(l2, _PAGE_PRESENT)), 0);
    assert_int_equal(pvm_poke(&t->m, l1, 3, pte(l3, _PAGE_PRESENT)), 0);
    assert_int_equal(pvm_poke(&t->m, l1, 4, pte(l4, _PAGE_PRESENT)), 0);
    assert_int_equal(pvm_poke(&t->m, l2, 0, pte(l1, _PAGE_PRESENT | _PAGE_RW)), 0);
    assert_int_equal(pvm_poke(&t->m, l3, 0, pte(l2, _PAGE_PRESENT | _PAGE_RW)), 0);
    assert_int_equal(pvm_poke(&t->m, l4, 0, pte(l3, _PAGE_PRESENT | _PAGE_RW)), 0);
    assert_int_equal(tm_pin(v, 4, l4), 0);
    assert_int_equal(tm_baseptr(v, l4), 0);
    AUDIT_CLEAN(t);
    if (o4) *o4 = l4;
    if (o3) *o3 = l3;
    if (o2) *o2 = l2;
    if (o1) *o1 = l1;
}

/* Frame s's attribute name as a number (TM_FRAME's vocabulary); fails the test for an unknown name. */
static uint64_t frame_attr(const struct pvm_frame_state *s, const char *name)
{
    const struct { const char *name; uint64_t v; } attrs[] = {
        { "type", s->type }, { "tc", s->type_count }, { "count", s->count }, { "pinned", s->pinned },
        { "validated", s->validated }, { "allocated", s->allocated }, { "owner", s->owner },
        { "linear", (uint64_t)(int64_t)s->linear_pt_count }, { "m2p", s->m2p }, { "type_info", s->type_info },
        { "count_info", s->count_info },
    };
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        if (!strcmp(attrs[i].name, name))
            return attrs[i].v;
    fail_msg("TM_FRAME: unknown attribute '%s'", name);
    return 0;
}

/* The number the text of attribute name stands for: a type name, dN/none/io for owner, else a C number. */
static uint64_t attr_value(const char *name, const char *text)
{
    if (!strcmp(name, "type")) {
        for (unsigned int i = 0; i < 8; i++)
            if (!strcmp(pvm_type_name((enum pvm_type)i), text))
                return i;
        fail_msg("TM_FRAME: unknown type '%s'", text);
    }
    if (!strcmp(name, "owner") && (!strcmp(text, "none") || !strcmp(text, "io")))
        return text[0] == 'n' ? DOMID_INVALID : DOMID_IO;
    if (!strcmp(name, "owner") && text[0] != 'd')
        fail_msg("TM_FRAME: owner=%s is not dN, none or io", text);
    return !strcmp(name, "owner") ? strtoull(text + 1, NULL, 10) : strtoull(text, NULL, 0);
}

/* One TM_FRAME word, name=value or a [!]flag, checked against s at the caller's file:line. */
static void check_word(const struct pvm_frame_state *s, char *word, const char *file, int line)
{
    char *eq = strchr(word, '=');
    bool neg = word[0] == '!';
    if (eq && neg)
        fail_msg("TM_FRAME: '%s': only a flag takes '!'", word);
    if (eq)
        *eq = 0;
    uint64_t got = frame_attr(s, word + neg), want = eq ? attr_value(word, eq + 1) : !neg;
    if (got != want)
        print_error("mfn %#llx: %s%s%s is %#llx\n", (unsigned long long)s->mfn, word, eq ? "=" : "", eq ? eq + 1 : "",
                    (unsigned long long)got);
    if (eq)
        _assert_int_equal(got, want, file, line);
    else
        _assert_true(neg ? !got : got, word, file, line);
}

void tm_frame_check(struct tm *t, uint64_t mfn, const char *file, int line, const char *attrs, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, attrs);
    int len = vsnprintf(buf, sizeof(buf), attrs, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof(buf))
        fail_msg("TM_FRAME: attributes longer than %zu characters", sizeof(buf) - 1);
    struct pvm_frame_state s = tm_state(t, mfn);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        check_word(&s, w, file, line);
}

/* The platform's map, except that it cannot find storage for t->map_fail_mfn. */
static uint64_t *map_maybe_fail(void *ctx, uint64_t mfn, int write)
{
    struct tm *t = (struct tm *)((char *)ctx - offsetof(struct tm, h));
    if (write && mfn == t->map_fail_mfn && !hostmem_peek(&t->h, mfn)) {
        t->map_failures++;
        return NULL;
    }
    return t->platform_map(ctx, mfn, write);
}

void tm_map_fail(struct tm *t, uint64_t mfn)
{
    assert_ptr_equal(t->m.ops.ctx, &t->h);
    if (!t->platform_map) {
        t->platform_map = t->m.ops.map;
        t->m.ops.map = map_maybe_fail;
    }
    t->map_fail_mfn = mfn;
}

struct pvm_frame_state tm_state(struct tm *t, uint64_t mfn)
{
    struct pvm_frame_state s;
    pvm_frame_query(&t->m, mfn, &s);
    return s;
}

static void print_issue(void *ctx, const struct pvm_audit_issue *is)
{
    (void)ctx;
    print_error("AUDIT: %s\n", is->text);
}

unsigned long tm_audit(struct tm *t)
{
    return pvm_audit(&t->m, t->scratch, print_issue, NULL);
}

struct snap {
    struct snap *next;   /* t->snaps */
    size_t n;
    struct page_info frames[];
};

void *tm_snapshot(struct tm *t)
{
    struct snap *s = malloc(sizeof(*s) + t->m.nr_frames * sizeof(struct page_info));
    assert_non_null(s);
    s->n = t->m.nr_frames;
    memcpy(s->frames, t->m.frames, s->n * sizeof(struct page_info));
    s->next = t->snaps;
    t->snaps = s;
    return s;
}

/* Take snapshot s off t's list and free it. */
static void snap_free(struct tm *t, struct snap *s)
{
    struct snap **p = &t->snaps;
    while (*p && *p != s)
        p = &(*p)->next;
    if (*p)
        *p = s->next;
    free(s);
}

void tm_snapshot_set_type(void *p, uint64_t mfn, uint64_t type_info)
{
    struct snap *s = p;
    assert_true(mfn < s->n);
    s->frames[mfn].type_info = (s->frames[mfn].type_info & PGT_aux_mask) | type_info;
}

void tm_assert_unchanged(struct tm *t, void *p)
{
    struct snap *s = p;
    for (size_t i = 0; i < s->n; i++) {
        const struct page_info *a = &s->frames[i], *b = &t->m.frames[i];
        /* count_info holds the owner; type_info's aux word the linear count (or, at count 0, the TLB stamp). */
        uint64_t ta = a->type_info, tb = b->type_info;
        if (!(ta & PGT_count_mask) && !(tb & PGT_count_mask)) {
            ta &= ~PGT_aux_mask;
            tb &= ~PGT_aux_mask;
        }
        if (a->count_info != b->count_info || ta != tb)
            fail_msg("mfn %#zx changed: count_info %llx->%llx type_info %llx->%llx", i,
                     (unsigned long long)a->count_info, (unsigned long long)b->count_info, (unsigned long long)ta,
                     (unsigned long long)tb);
    }
    snap_free(t, s);
}

void tm_keep(void *array, size_t size, unsigned long cap, unsigned long *n, const void *item)
{
    if (*n < cap)
        memcpy((char *)array + *n * size, item, size);
    (*n)++;
}

unsigned long tm_log_count(struct tm *t, const char *text)
{
    (void)t;
    unsigned long n = 0;
    for (size_t i = 0; i < book.n; i++)
        if (strstr(book.lines[i], text))
            n++;
    return n;
}

unsigned long tm_log_countf(struct tm *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return tm_log_count(t, buf);
}

unsigned long tm_bad_type_logs(struct tm *t, uint64_t saw, uint64_t exp, uint64_t mfn)
{
    return tm_log_countf(t, "Bad type (saw %016llx != exp %016llx) for mfn %05llx", (unsigned long long)saw,
                         (unsigned long long)exp, (unsigned long long)mfn);
}

char *tm_explanation(struct tm *t, const char *indent, const struct explain_names *names)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    explain_refusal(f, &t->m, indent, names);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    return buf;
}

char *tm_wrapped(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    explain_wrap(f, text);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    return buf;
}
