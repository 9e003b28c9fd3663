/*
 * replay.h - `pvmmu replay`: a "pvmmu-trace 2" record of a real guest on a
 * real Xen (docs/trace.md), replayed on the simulator's core.  The initial
 * state is rebuilt with the core's own operations and compared with the
 * record's frames; then every PV MMU hypercall runs on the core through
 * pvm_hypercall, every ptwr write through pvm_ptwr_emulate and every memory
 * event through pvm_assign_page/pvm_release_page, and every result, request
 * result, multicall entry result, done count, validation and devalidation
 * must be the recorded one.  The first disagreement stops the replay.
 */
#ifndef PVMMU_REPLAY_H
#define PVMMU_REPLAY_H

#include <stdbool.h>
#include <stdio.h>

#include "pvmmu/pvmmu.h"

/* A record's phases, split as scripts/trace-stats.py splits them: to "Memory:", to "Run /init", to the end. */
#define REPLAY_PHASES 3

/* What a replay that agreed leaves for a report of its own (pvmmu compare --replay). */
struct replay_summary {
    uint64_t dom0_bytes;                   /* dom0's memory when the record starts (its dom line) */
    char rec[64];                          /* the record's rec line */
    struct pvm_stats core[REPLAY_PHASES];  /* the core's counters, per phase */
};

struct replay_opts {
    bool verbose;     /* every event beside the core's answer */
    FILE *out;        /* the report */
    FILE *err;        /* a malformed record's one line */
    struct replay_summary *summary;   /* filled when the replay agrees, if not NULL */
};

/*
 * Replay the record at path.  Returns the exit status: 0 every event agreed
 * and the auditor is clean (the per-phase counts and the throughput are
 * printed), 1 a disagreement (the first one is explained) or an auditor
 * issue, 2 a record that cannot be read or does not follow the format (one
 * line "PATH:LINE: what was expected" on err).  Out of host memory, the
 * process ends with status 3.
 */
int replay_run(const char *path, const struct replay_opts *o);

#endif
