/*
 * account.h - the freestanding half of explain/: the account of a refusal and of a frame, the
 * errno and cause names, and the wrapping of prose to a terminal's width, written through an
 * output sink instead of a FILE*, so the host's CLI (explain.h's FILE* functions wrap these) and
 * pvmmu's hypervisor (its serial console) print the same bytes.  account.c and wrap.c use no libc:
 * only <stddef.h>, <stdint.h>, <stdbool.h>, <stdarg.h>, the public API and lib/fmt.
 */
#ifndef PVMMU_EXPLAIN_ACCOUNT_H
#define PVMMU_EXPLAIN_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvmmu/pvmmu.h"

/* Where an account goes: write(ctx, s, n) takes s[0..n) (not NUL-terminated; n may be 0). */
struct explain_sink {
    void (*write)(void *ctx, const char *s, size_t n);
    void *ctx;
};

/* Optional labels that make an explanation speak the caller's language. */
struct explain_names {
    const char *(*frame)(void *ctx, uint64_t mfn);   /* a frame's name, or NULL */
    const char *(*va)(void *ctx, uint64_t va);       /* who makes mappings at va, or NULL */
    void *ctx;
};

/* "-EINVAL" for -22 etc.; "0" for 0; the number ("-999") for an unknown code.  The text lives until the next call. */
const char *xen_errno_name(long rc);

/* The negative errno named name ("EINVAL", no sign) in *rc: 0, or -1 for a name Xen's table lacks. */
int xen_errno_lookup(const char *name, long *rc);

/*
 * The short name of a refusal cause: "bad_type", "ro_mapping", ... ("none"
 * for PVM_WHY_NONE, "?" out of range).  The one table of these names: the
 * script language's `expect why CAUSE` and the JSON reports use it.
 */
const char *why_cause_name(enum pvm_why why);

/* The cause named s (as why_cause_name gives it), or -1. */
int why_cause_parse(const char *s);

/* One line describing frame mfn to out: type, counts, flags, owner, each line starting with indent. */
void explain_frame_to(const struct explain_sink *out, const struct pvm_machine *m, uint64_t mfn, const char *indent);

/*
 * Explain m->last (the innermost cause of the latest refusal) to out: what
 * was refused, which table and slot, the frame's state, and, for a frame in
 * use with another type, every writable mapping of it (Xen's own holds of
 * pvm_xen_map_frame included) or every vCPU whose GDT holds it (a
 * descriptor page).  names may be NULL.  Nothing when m holds no refusal.
 */
void explain_refusal_to(const struct explain_sink *out, const struct pvm_machine *m, const char *indent,
                        const struct explain_names *names);

/* The width prose is wrapped to: a 100-column terminal. */
#define EXPLAIN_COLUMNS 100

/*
 * Write text (lines ended by '\n') to out with every line longer than EXPLAIN_COLUMNS broken at
 * spaces into lines that fit, each continuation indented two more than the line it continues; a line
 * that fits is written unchanged.  A word (a hex number, an identifier, a path) is never broken: one
 * wider than the room stays whole on a line of its own.  A quoted Xen log line ("(XEN) ..." after its
 * indentation) is written whole, however long.  The one way pvmmu prints prose for a person: the
 * accounts of refusals, hints, "should have" lines, page faults, frames, counters (--json keeps
 * the text unbroken).
 */
void explain_wrap_to(const struct explain_sink *out, const char *text);

/*
 * A sink that wraps as explain_wrap_to does, line by line, for a writer that has no whole text to
 * hand (the hypervisor's console): each line goes out, wrapped, when its '\n' is written.  A line
 * longer than EXPLAIN_LINE_MAX bytes goes out as it is written, unwrapped.  Not reentrant: one
 * writer per struct, which lives as long as the sink is used.
 */
#define EXPLAIN_LINE_MAX 1024
struct explain_wrapper {
    struct explain_sink out;         /* where the wrapped lines go */
    size_t len;                      /* bytes of the current line in line[] */
    bool spilled;                    /* the current line outgrew line[]: it goes out unwrapped */
    char line[EXPLAIN_LINE_MAX];
};
/* Start w with no line pending; returns the sink to write to, which wraps onto out. */
struct explain_sink explain_wrapper_start(struct explain_wrapper *w, struct explain_sink out);
/* Write out the pending line that has no '\n' yet, wrapped (as explain_wrap_to does a text's last line). */
void explain_wrapper_flush(struct explain_wrapper *w);

#endif
