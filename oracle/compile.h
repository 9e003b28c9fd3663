/*
 * compile.h - a scenario script compiled for our PV kernel as dom0 of real
 * Xen or pvmmu's hypervisor (compile.c): the plan of each step, the program
 * (xenprog.h) and the results of each side, for script_xen.c to run and
 * compare.
 */
#ifndef PVMMU_COMPILE_H
#define PVMMU_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "script_int.h"

/* Why a step is not run on Xen (and so not on the simulator either). */
enum skip {
    K_RUN, K_SETUP, K_ASSERT, K_OTHER_DOMAIN, K_VCPU, K_ROOT, K_USER_ROOT, K_MODE, K_VA_SLOT, K_MC_VA, K_FRAME,
    K_FOREIGN, K_XEN_SLOT, K_RAW, K_BIG, K_ALLOC, K_GONE, K_COUNT
};

/* What each skip means, for reports: one phrase per reason (K_RUN and K_SETUP have none). */
extern const char *const skip_text[K_COUNT];

/* A program being written: p[0..len), room for cap bytes (host memory). */
struct buf {
    uint8_t *p;
    size_t len, cap;
};

/* One script as the differential sees it. */
struct xscript {
    const struct script *s;
    domid_t dom;                  /* the domain dom0 stands for */
    uint64_t *frames;             /* the simulator's numbers of that domain's frames */
    size_t nframes;
    signed char *plan;            /* per step: -1 skip, 0 run on the simulator only (setup), 1 compare */
    unsigned char *why;           /* per step: enum skip */
    char **own, **sim, **xen;     /* per compared step: result text of the script's own run, as dom0, on the target */
    char **rec;                   /* where xscript_record puts the run in progress: own or sim */
    bool kernel_root;             /* the script loads a kernel root (dom0 keeps it as its user root) */
    bool own_failed, dom0_failed; /* the script as written failed on the simulator; the auditor, as dom0 */
    size_t compared, agreed, differed, missing;
    size_t checked, unmet;        /* compared steps judged by the script's expectations on the target, and failed */
    size_t context;               /* compared steps whose result as dom0 differs from the script's own run */
};

/*
 * Set x up for script s and plan its steps.  dom0 stands for the script's first domain, or, if none of
 * that domain's steps can run as dom0 (a toolstack declared first, say), for the first domain whose can.
 * Returns the number of steps to compare (0: nothing can be compared), or -1 if out of memory or a
 * domain has more frames than a program carries.
 */
long xscript_plan(struct xscript *x, const struct script *s);

/* Free what xscript_plan allocated in x. */
void xscript_free(struct xscript *x);

struct xp_result;
/*
 * script_opts.record for a run of x's script (ctx is x): step i's result, as text, into x->rec (the
 * script's own run or the run as dom0), for compared steps only.
 */
void xscript_record(void *ctx, size_t i, const struct xp_result *res);

/*
 * The program of one boot (xenprog.h) into b (empty): every script of xs[0..n) whose pv-linear-pt
 * setting is linear_pt, with its frames and the steps that run, each script also into grp[] in program
 * order.  Returns how many scripts it holds; 0 (b left empty) if none wants this setting.
 */
size_t program_build(struct xscript *xs, size_t n, struct xscript **grp, bool linear_pt, struct buf *b);

#endif
