/*
 * account.h - the freestanding half of explain/: the account of a refusal and of a frame, the
 * errno and cause names, written through an output sink instead of a FILE*, so the host's CLI
 * (explain.h's FILE* functions wrap these) and pvmmu's hypervisor (its serial console) print the
 * same bytes.  No libc: only <stddef.h>, <stdint.h>, <stdbool.h>, the public API and lib/fmt.
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

#endif
