/*
 * script.h - pvmmu scenario scripts: a line-oriented text format that sets
 * up domains and frames, issues hypercalls and guest accesses, and asserts
 * results and frame state.  The whole file is parsed (and every name
 * resolved) before anything runs, so a malformed script runs nothing.
 * The format is described in docs/scripts.md.
 */
#ifndef PVMMU_SCRIPT_H
#define PVMMU_SCRIPT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct script;

/* Longest line accepted. */
#define SCRIPT_MAX_LINE 4096

/*
 * Parse a script held in buf[0..len) named `name` (for messages).  Returns
 * the script, or NULL after printing exactly one "NAME:LINE: what was
 * expected" line to err.  Without host memory it does not return
 * (host_out_of_memory: one line on stderr, exit status 3).
 */
struct script *script_parse(const char *name, const char *buf, size_t len, FILE *err);

/* Read and parse the file at path (NULL on error, one message printed). */
struct script *script_load(const char *path, FILE *err);

struct xp_result;

/*
 * When the runner audits (script_opts.audit_every): after every Nth
 * operation (a line other than `expect`; an `audit` line always audits) and
 * once more at the end if operations ran since the last audit.  1 is after
 * every operation.  SCRIPT_AUDIT_END audits only at the end.
 * SCRIPT_AUDIT_AUTO picks 1 unless frames x operations exceeds
 * SCRIPT_AUDIT_BUDGET, and then the smallest N that keeps the frames visited
 * by all audits within it (about 1.3 s of auditing on this machine).
 */
#define SCRIPT_AUDIT_AUTO   0UL
#define SCRIPT_AUDIT_END    ULONG_MAX
#define SCRIPT_AUDIT_BUDGET (1ULL << 28)

/* The N that audit_every = requested means for a machine of nr_frames running ops operations. */
unsigned long script_audit_cadence(uint64_t nr_frames, size_t ops, unsigned long requested);

struct script_opts {
    bool verbose;     /* print every step, every Xen log line and every explanation */
    bool terse;       /* print failures only, and the summary line only if something failed */
    FILE *out;
    unsigned long audit_every;   /* SCRIPT_AUDIT_AUTO (0), N >= 1, or SCRIPT_AUDIT_END */
    /*
     * Differential runs (oracle/script_xen.c): when plan is set, step i is
     * skipped if plan[i] < 0, run if 0, and run with its result passed to
     * record() if > 0; expectations are not checked (only the auditor).
     * Without plan, every step runs, is checked, and goes to record() if set.
     * Domain `privileged` (if not 0) is created as the control domain, as
     * dom0 is on Xen.
     */
    const signed char *plan;
    void (*record)(void *ctx, size_t step, const struct xp_result *res);
    void *record_ctx;
    unsigned int privileged;
};

/*
 * Run the script on a fresh simulated machine, the auditor as o->audit_every
 * says.  Prints failures (and, verbose, every step) and a summary line that
 * says how often the auditor ran.
 * Returns 0 if every step passed and the auditor stayed clean, 1 otherwise.
 * Without host memory for the machine it does not return (host_out_of_memory).
 */
int script_run(const struct script *s, const struct script_opts *o);

/* Number of steps (for tests). */
size_t script_steps(const struct script *s);

void script_free(struct script *s);

#endif
