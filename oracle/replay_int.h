/*
 * replay_int.h - the replay's own state, shared by replay.c (the stream),
 * replay_call.c (one PV MMU call on the core), replay_init.c (the initial
 * state) and replay_stats.c (the counts).  Not part of replay.h's API.
 */
#ifndef PVMMU_REPLAY_INT_H
#define PVMMU_REPLAY_INT_H

#include "hostmem.h"
#include "xen_names.h"
#include "replay.h"
#include "trace.h"

#define AD_BITS (_PAGE_ACCESSED | _PAGE_DIRTY)   /* the CPU sets them as the guest runs: compared masked */

/* One request of an mmu_update (PTR VAL) or mmuext_op (CMD ARG1 ARG2), and what the core made of it. */
struct lreq {
    uint64_t w[3];
    int64_t rc;           /* Xen's */
    uint32_t ev;          /* its mu/mx line */
    bool has_stored;      /* mu: the entry Xen left (STORED) is recorded */
    uint64_t stored;
    bool ran;             /* the core ran it (read it, and did not stop before it) */
    int64_t core;         /* the core's result for it */
};

/*
 * A hypercall as the guest made it once, whatever Xen's preemptions: the
 * top-level call, or one multicall entry.  Its requests and result gather
 * every bracket of its re-issues.
 */
struct lsub {
    uint64_t op, args[6];
    uint32_t ev;                      /* its first hc or mc line */
    struct lreq *reqs;
    size_t nreq, capreq;
    void *array;                      /* the requests laid out as the guest's array (built when it runs) */
    bool has_dn, has_result;
    uint64_t dn;
    int64_t result;
    uint32_t dn_ev, result_ev;        /* its (last) dn line, its hr or mr line */
    uint32_t uv_ev;                   /* update_va_mapping: its uv line (0: none) */
    /* what the core did */
    unsigned int fetched;             /* requests read */
    bool fetch_beyond;                /* it read a request past those the record has */
    bool core_ran, core_dn_set;
    int64_t core_result;
    uint32_t core_dn;
};

/* A guest address range the core may read or write during a call. */
enum region_kind { RG_REQS, RG_BEYOND, RG_DONE, RG_MASK, RG_LIST };
struct region {
    uint64_t gaddr;
    size_t len;
    enum region_kind kind;
    struct lsub *sub;
    void *host;
};

/* How one line of a call's brackets was used (for -v): its index in the record and what it is. */
enum use_kind { USE_CALL, USE_REQ, USE_ENTRY, USE_VAL, USE_TAKEN_IN, USE_OTHER };
struct use {
    uint32_t ev;
    uint8_t kind;
    uint32_t idx;         /* USE_REQ: the request in its sub; USE_ENTRY: the entry; USE_VAL: the line in vl */
    int32_t entry;        /* the sub it belongs to: a multicall entry's index, or -1 for the call itself (an index:
                             the entries array grows while the call is built) */
};

/* A PV MMU call on the core: built from the record, run, compared. */
struct lcall {
    struct lsub top;
    struct lsub *entries;             /* a multicall's */
    size_t nent, capent;
    struct multicall_entry *list;
    uint32_t *vl;                     /* its vb/ve/db/de lines, in order, preemptions taken out */
    size_t nvl, capvl, vcur;          /* ... and how far the core's validations matched them */
    bool vfailed;
    unsigned int reissues;            /* brackets after the first */
    struct region *rg;
    size_t nrg, caprg, ntop;          /* regions; the first ntop are the call's own, the rest the running entry's */
    struct use *uses;
    size_t nuse, capuse;
};

/* The first disagreement. */
struct mismatch {
    long ev;              /* the record line's event, -1 none */
    long call_ev;         /* the hc of the call it is in, or -1 */
    char xen[240], core[240];
    char *why;            /* explain_refusal's text when the core refused (allocated), or NULL */
    uint64_t frame;       /* a frame to describe, or PVM_INVALID_MFN */
    unsigned long log_mark;
};

/* Counts of one phase (record side, from its lines; core side, from the core's counters). */
struct replay_counts {
    uint64_t events, hc, reissued, calls, taken_in;
    uint64_t by_hc[64], skipped_by_hc[64], entries_by_hc[64];
    uint64_t mu_by_cmd[8], mx_by_cmd[32];
    uint64_t val[8], deval[8], val_preempted, deval_preempted;
    uint64_t pw[3], tr_pf[2], tr_other;
    uint64_t mem[6];
};

struct replay {
    struct hostmem h;                 /* first: the core's callbacks get &h and the replay's find the replay there */
    struct pvm_machine m;
    struct pvm_vcpu *v;
    struct trace t;
    const struct replay_opts *o;
    uint8_t *synced;                  /* per frame: its contents are known (loaded from a pt or vb line, and
                                         never writable nor free since), SYNC_* */
    uint64_t vb_known, vb_loaded;     /* validations whose contents the replay knew (compared), or loaded */
    uint64_t *watch;                  /* frames known but no longer tables: watched until they are again */
    size_t nwatch, capwatch;
    uint8_t *pt_level;                /* per frame: the level of its pt line (initial state) */
    bool init;                        /* building the initial state */
    struct lcall *call;               /* the PV MMU call the core is running */
    long cur_ev;                      /* the stream event being replayed */
    struct mismatch miss;
    int phase;
    struct replay_counts rec[REPLAY_PHASES];
    struct pvm_stats core[REPLAY_PHASES], base;
    unsigned long documented;         /* initial-state differences that docs/xen-differences.md lists */
    unsigned long init_diff;          /* ... and the others */
    double t_read;                    /* seconds to read the record */
    uint64_t dom0_pages;              /* the dom line's TOT */
    uint64_t xenheap;                 /* Xen's own frames shared with dom0 (counted apart from its pages) */
    uint64_t gdt[16];                 /* dom0's GDT frames, from the last gdt line (set_gdt is not modelled) */
    unsigned int ngdt;
    bool final, final_headed;         /* comparing the final state; its first difference announced */
};

/* replay.synced[]: a frame's contents unknown; known; known and no longer a table (in replay.watch). */
#define SYNC_UNKNOWN 0
#define SYNC_KNOWN   1
#define SYNC_WATCHED 2

/* ---- replay.c ---- */
/*
 * Frame mfn, whose contents the replay knows, stops being a table (it was
 * devalidated, or its validation refused): the guest may write it once it
 * is mapped writable, so it is watched after every event until then.
 */
void replay_watch(struct replay *r, uint64_t mfn);

/*
 * Note a disagreement at event ev (the first in record order wins): Xen's
 * answer and the core's, a frame to describe (PVM_INVALID_MFN: none); with
 * refused, the core's explanation of its latest refusal is kept too.
 */
__attribute__((format(printf, 6, 7)))
void replay_miss(struct replay *r, long ev, uint64_t frame, bool refused, const char *xen, const char *core_fmt, ...);

/* The bits entries a and b differ in, beyond the CPU's A/D bits ("PWT PCD", "frame" ...), into buf. */
const char *replay_entry_diff(char *buf, size_t len, uint64_t a, uint64_t b);

/*
 * A walk of va through the tables from root (pvm_peek: no TLB, no A/D bits
 * set): the level whose entry ended it (1: the L1 entry, present or not;
 * higher: a non-present or superpage entry there, or a table past memory,
 * whose entry reads 0), that entry and its table, and the _PAGE_RW and
 * _PAGE_USER bits every present entry on the way has.
 */
struct replay_walk {
    unsigned int level;
    uint64_t table, entry, allowed;
};
void replay_walk(const struct replay *r, uint64_t root, uint64_t va, struct replay_walk *w);

/*
 * One line: lead, text and tail, with text cut (" ..." after it) so that the line fits EXPLAIN_COLUMNS: how
 * the replay quotes a record line or a log line.
 */
void replay_quote(FILE *out, const char *lead, const char *text, const char *tail);

/* Print line ev as -v does: its number, its text (cut to the width), and then answer (may be NULL). */
void replay_print_line(struct replay *r, long ev, const char *answer);

/* "-16 (EBUSY)" for a result, into buf. */
const char *replay_rc(char *buf, size_t len, int64_t rc);

/* ---- replay_call.c ---- */
/* Replay the PV MMU call whose first hc is event i (and every re-issue of it) on the core. */
void replay_call(struct replay *r, size_t i);

/* pvm_ops callbacks: guest memory of the running call, and the validation brackets. */
int replay_copy_from(void *ctx, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t len);
int replay_copy_to(void *ctx, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t len);
void replay_validate(void *ctx, uint64_t mfn, unsigned int level, enum pvm_validate_phase phase, int rc);

/* ---- replay_init.c ---- */
/*
 * Build the initial state from the record's header on a fresh machine, with
 * the core's own operations, then compare every frame with the record's frame
 * lines.  Returns 0, 1 after printing every difference, or 2 after one line
 * on the error stream for a header the replay cannot take (nothing printed
 * on the report before it).
 */
int replay_init(struct replay *r);

/*
 * After the stream: dom0's final state (the record's fin section) against the
 * core's, each difference printed.  Returns 0, or 1 if any differs.
 */
int replay_final(struct replay *r);

/* During replay_init: the core validates frame mfn (checked against the pt lines). */
void replay_init_validate(struct replay *r, uint64_t mfn, unsigned int level, enum pvm_validate_phase phase, int rc);

/* ---- replay_stats.c ---- */
/* Count every stream line of the record into r->rec[phase]. */
void replay_count_record(struct replay *r);

/* Print the per-phase table and the throughput (seconds of replay). */
void replay_print_counts(struct replay *r, double seconds);

#endif
