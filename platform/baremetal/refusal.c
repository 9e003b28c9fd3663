/*
 * refusal.c - the core's refusals explained on the console.  After an operation the guest asked
 * for (a hypercall, an emulated store), hv_explain_refusal prints the account `pvmmu script` and
 * `pvmmu boot` print on the host for the same refusal: the same code (explain/account.c), wrapped
 * to 100 columns as the host wraps it (explain/wrap.c), beside Xen's terse "(XEN)" lines.  A
 * refusal's kind is what was refused, its errno and its cause; the first HV_EXPLAINED_PER_KIND of
 * each kind are explained, HV_REFUSALS_EXPLAINED in all (every one with "verbose"), so a kind a
 * guest meets by the hundred (Linux's own faulting stores to its read-only p2m pages) leaves room
 * for the others.  hv_refusal_report, at the end of the run, counts them all, by kind.
 */
#include "account.h"
#include "fmt.h"
#include "hv.h"

#define HV_REFUSALS_EXPLAINED 20   /* accounts printed in a run */
#define HV_EXPLAINED_PER_KIND 3    /* ...of one kind */
#define HV_KINDS              32   /* kinds counted apart; later ones count together as "other" */

/* Refusals of one kind: what was refused (hv_explain_refusal's what), with which errno and cause. */
struct kind {
    char what[48];
    int rc;
    enum pvm_why why;
    unsigned long ops, refusals, explained;
};

static uint64_t seen_refusals;   /* machine.stats.refusals at the last look */
static bool seen_set;            /* machine.last_set at the last look */
static struct pvm_refusal seen;  /* machine.last at the last look, if seen_set */
static struct kind kinds[HV_KINDS + 1];   /* [HV_KINDS]: every kind past the first HV_KINDS */
static unsigned int nkinds;
static unsigned long noticed, reports, explained;   /* refusals, operations with one, accounts printed */
static struct explain_wrapper wrapper;

/* explain_sink.write onto the serial console. */
static void console_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    hv_write(s, n);
}

/* Write the NUL-terminated s to out. */
static void say(const struct explain_sink *out, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    out->write(out->ctx, s, n);
}

/* Are a and b the same refusal record, field by field? */
static bool same_refusal(const struct pvm_refusal *a, const struct pvm_refusal *b)
{
    return a->rc == b->rc && a->why == b->why && a->domid == b->domid && a->mfn == b->mfn &&
           a->table_mfn == b->table_mfn && a->level == b->level && a->slot == b->slot && a->entry == b->entry &&
           a->saw == b->saw && a->exp == b->exp;
}

/*
 * How many refusals the core made since the last look: the hypercall sub-operations it counted
 * (machine.stats.refusals), else 1 if machine.last holds a record other than the one seen then (an
 * emulated store, which the core does not count), else 0.  Takes the new look.
 */
static uint64_t new_refusals(void)
{
    uint64_t counted = machine.stats.refusals - seen_refusals;
    bool fresh = machine.last_set && (!seen_set || !same_refusal(&machine.last, &seen));
    seen_refusals = machine.stats.refusals;
    seen_set = machine.last_set;
    if (seen_set)
        seen = machine.last;
    return counted ? counted : fresh;
}

/* Are the NUL-terminated a and b the same text? */
static bool same_text(const char *a, const char *b)
{
    for (; *a && *a == *b; a++)
        b++;
    return *a == *b;
}

/*
 * The kind of a refusal of what (its first 47 bytes) with rc and why: found, or added, or the
 * "other" kind once the table is full.
 */
static struct kind *kind_of(const char *what, int rc, enum pvm_why why)
{
    char key[sizeof(kinds[0].what)];
    fmt_snprintf(key, sizeof(key), "%s", what);
    for (unsigned int k = 0; k < nkinds; k++)
        if (kinds[k].rc == rc && kinds[k].why == why && same_text(kinds[k].what, key))
            return &kinds[k];
    if (nkinds == HV_KINDS)
        return &kinds[HV_KINDS];
    struct kind *k = &kinds[nkinds++];
    fmt_snprintf(k->what, sizeof(k->what), "%s", key);
    k->rc = rc;
    k->why = why;
    return k;
}

void hv_explain_refusal(const char *op, const char *name)
{
    uint64_t n = new_refusals();
    if (!n)
        return;
    char label[64];   /* "a hypercall (mmu_update)": made only when there is something to say */
    if (name)
        fmt_snprintf(label, sizeof(label), "%s (%s)", op, name);
    const char *what = name ? label : op;
    bool cause = machine.last_set && machine.last.why != PVM_WHY_NONE;
    struct kind *k = kind_of(what, cause ? machine.last.rc : 0, cause ? machine.last.why : PVM_WHY_NONE);
    noticed += n;
    reports++;
    k->ops++;
    k->refusals += n;
    if (!log_verbose && (explained >= HV_REFUSALS_EXPLAINED || k->explained >= HV_EXPLAINED_PER_KIND))
        return;
    explained++;
    k->explained++;
    struct explain_sink out = explain_wrapper_start(&wrapper, (struct explain_sink){ console_write, NULL });
    if (!hv_console_at_line_start())
        say(&out, "\n");
    say(&out, "pvmmu hv: ");
    say(&out, what);
    say(&out, " refused:\n");
    if (!cause) {
        say(&out, "    (the core recorded no cause for it)\n");
    } else if (n > 1) {
        char line[96];
        fmt_snprintf(line, sizeof(line), "    (%llu of its requests were refused; the account is of the last)\n",
                     (unsigned long long)n);
        say(&out, line);
    }
    explain_refusal_to(&out, &machine, "    ", NULL);
    explain_wrapper_flush(&wrapper);
}

void hv_refusal_report(void)
{
    if (!reports)
        return;
    hv_printf("pvmmu hv: %lu refusal%s in %lu operation%s, %lu explained above", noticed, noticed == 1 ? "" : "s",
              reports, reports == 1 ? "" : "s", explained);
    if (reports > explained)
        hv_printf(" (at most %u of a kind, %u in all; verbose explains every one)", HV_EXPLAINED_PER_KIND,
                  HV_REFUSALS_EXPLAINED);
    hv_printf("\n");
    for (unsigned int i = 0; i < nkinds; i++) {
        const struct kind *k = &kinds[i];
        hv_printf("pvmmu hv:   %lu x %s: %s %s (%lu explained)\n", k->refusals, k->what,
                  k->why == PVM_WHY_NONE ? "no cause" : xen_errno_name(k->rc),
                  k->why == PVM_WHY_NONE ? "recorded" : why_cause_name(k->why), k->explained);
    }
    if (kinds[HV_KINDS].ops)
        hv_printf("pvmmu hv:   %lu x of other kinds (%lu explained)\n", kinds[HV_KINDS].refusals,
                  kinds[HV_KINDS].explained);
}

void hv_explain_frame(uint64_t mfn)
{
    const struct explain_sink out = { console_write, NULL };
    explain_frame_to(&out, &machine, mfn, "    ");
}
