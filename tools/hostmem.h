/*
 * hostmem.h - machine memory for the simulator: a frame table plus sparse
 * frame contents, allocated on first write.  Frames never written read as
 * zeros and cost nothing but a pointer.
 */
#ifndef PVMMU_HOSTMEM_H
#define PVMMU_HOSTMEM_H

#include <stdio.h>

#include "pvmmu/pvmmu.h"

struct hostmem {
    uint64_t nr_frames;
    struct page_info *frames;   /* the frame table handed to the core */
    uint64_t **data;            /* per-frame contents, NULL until written */
    uint64_t *m2p;              /* the M2P table (gpfn per frame) */
    uint64_t backed;            /* frames that hold data */
    FILE *log;                  /* where log lines go (NULL: dropped) */
    const char *log_prefix;     /* printed before each line */
    unsigned long log_lines;    /* lines received since the counter was reset */
    char last_log[8][256];      /* the most recent lines, newest at (log_lines-1)%8 */
};

/* Set up nr_frames of memory and a machine over it.  Returns 0 or -1 (no memory). */
int hostmem_init(struct hostmem *h, struct pvm_machine *m, uint64_t nr_frames);

/* Free everything hostmem_init allocated. */
void hostmem_free(struct hostmem *h);

#endif
