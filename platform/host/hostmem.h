/*
 * hostmem.h - machine memory for the simulator: a frame table plus sparse
 * frame contents.  Frames never written read as zeros and cost nothing; a
 * frame's 4 KiB come from large zeroed slabs the first time it is written.
 * Optionally a generator describes frames whose contents follow a formula
 * (a p2m list): single reads compute them, and they become real pages the
 * first time anyone maps them (so no pointer ever refers to a copy).  The M2P is a formula too (m2p_default)
 * plus a sparse table of entries that differ from it.
 */
#ifndef PVMMU_HOSTMEM_H
#define PVMMU_HOSTMEM_H

#include <stdio.h>

#include "pvmmu/pvmmu.h"

struct hostmem_slab;

#define HOSTMEM_LOG_KEEP 8      /* log lines kept for reports */

struct hostmem {
    uint64_t nr_frames;
    struct pvm_page_info *frames; /* the frame table handed to the core */
    uint64_t ***chunk;          /* per 512 frames: NULL, or 512 page pointers */
    uint64_t backed;            /* frames that hold data */
    struct hostmem_slab *slabs; /* where page storage comes from */
    /* generated frames: gen(ctx, mfn, NULL) says whether mfn is one; gen(ctx, mfn, page) fills it */
    bool (*gen)(void *ctx, uint64_t mfn, uint64_t *page);
    void *gen_ctx;
    uint64_t gen_page[512];     /* the last generated frame read entry by entry */
    uint64_t gen_real;          /* how many generated frames became real pages (copies check it) */
    uint64_t gen_mfn;           /* which frame that is (~0: none) */
    /* the M2P: a formula, and the entries that differ from it */
    uint64_t (*m2p_default)(void *ctx, uint64_t mfn);
    void *m2p_ctx;
    uint64_t *m2p_keys, *m2p_vals;
    size_t m2p_cap, m2p_used;
    FILE *log;                  /* where log lines go (NULL: dropped) */
    const char *log_prefix;     /* printed before each line */
    unsigned long log_lines;    /* lines received since the counter was reset */
    char last_log[HOSTMEM_LOG_KEEP][256]; /* the most recent lines: use hostmem_log_first / hostmem_log_line */
    /* guest handles (pvm_ops.copy_from_guest/copy_to_guest): see hostmem_guest_view */
    bool guest_is_host;         /* the in-process guest kernel: its handles are its own pointers */
    struct hostmem_view { uintptr_t base; size_t len; } *views;
    size_t nviews, views_cap;
};

/*
 * Set up nr_frames of memory and a machine over it.  Returns 0; when the host
 * has no memory for the frame table it does not return (host_out_of_memory).
 */
int hostmem_init(struct hostmem *h, struct pvm_machine *m, uint64_t nr_frames);

/* The contents of frame mfn, made real if need be (for tests and builders); NULL if mfn is beyond memory. */
uint64_t *hostmem_page(struct hostmem *h, uint64_t mfn);

/* The storage of frame mfn if it already has some; NULL otherwise (never allocates nor generates). */
static inline uint64_t *hostmem_peek(const struct hostmem *h, uint64_t mfn)
{
    uint64_t **c = mfn < h->nr_frames ? h->chunk[mfn >> 9] : NULL;
    return c ? c[mfn & 511] : NULL;
}

/* Bytes of host memory held for frame contents. */
uint64_t hostmem_bytes(const struct hostmem *h);

/*
 * Guest memory as the core's copy_from_guest/copy_to_guest see it.  A
 * simulated machine has no guest address space between its caller and the
 * core, so a guest handle is a host address, and only these are accepted:
 * those inside a buffer registered with hostmem_guest_view (a script's vCPU
 * masks and multicall arguments, a fuzzer's), or, after
 * hostmem_guest_is_host, any address outside the first page (the simulator's
 * compiled-in guest kernel, whose handles are its own pointers).  Anything
 * else faults, so a guest value such as update_va_mapping's flags can never
 * make the host read or write memory it chose.  Returns 0 or -1 (no memory).
 */
int hostmem_guest_view(struct hostmem *h, const void *p, size_t len);
void hostmem_guest_views_clear(struct hostmem *h);
static inline void hostmem_guest_is_host(struct hostmem *h) { h->guest_is_host = true; }

/* Free everything hostmem_init allocated. */
void hostmem_free(struct hostmem *h);

/* The oldest line still kept of those received since the counter stood at mark. */
static inline unsigned long hostmem_log_first(const struct hostmem *h, unsigned long mark)
{
    return h->log_lines - mark > HOSTMEM_LOG_KEEP ? h->log_lines - HOSTMEM_LOG_KEEP : mark;
}

/* Line number i, for i in [hostmem_log_first(h, mark), h->log_lines). */
static inline const char *hostmem_log_line(const struct hostmem *h, unsigned long i)
{
    return h->last_log[i % HOSTMEM_LOG_KEEP];
}

/* ---- host allocations ------------------------------------------------------
 *
 * Everything the simulator keeps lives in host memory.  When the host refuses
 * an allocation the run cannot go on, and what it would print next (a guest
 * outcome, an audit result) would be false: so every host allocation of the
 * CLI, the simulator and the script runner goes through these helpers, and a
 * refusal ends the process at once with one line on stderr naming the request
 * (bytes and MiB, what it was for) and exit status PVMMU_EXIT_OOM.  The core
 * never sees it: the simulator's map(write) never returns NULL for lack of memory.
 */
#define PVMMU_EXIT_OOM 3

/* Print "pvmmu: out of host memory: ..." for a failed request of `bytes` for `what`, and exit(3). */
_Noreturn void host_out_of_memory(size_t bytes, const char *what);

/* malloc, calloc, realloc and strdup that never return NULL: host_out_of_memory instead. */
void *host_malloc(size_t bytes, const char *what);
void *host_calloc(size_t n, size_t size, const char *what);
void *host_realloc(void *p, size_t bytes, const char *what);
char *host_strdup(const char *s, const char *what);

#endif
