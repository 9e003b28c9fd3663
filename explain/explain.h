/*
 * explain.h - plain-language accounts of why the core refused something:
 * the frame, its type and counts, and every writable mapping of it.  The
 * accounts and names are account.h's (freestanding, through a sink, shared
 * with pvmmu's hypervisor); this header adds their FILE* form for the host,
 * errno parsing, and the wrapping of prose to a terminal's width.
 */
#ifndef PVMMU_EXPLAIN_H
#define PVMMU_EXPLAIN_H

#include <stdio.h>

#include "account.h"
#include "pvmmu/pvmmu.h"

/* Parse "-EINVAL" / "EINVAL" / "0" / "-22".  Returns 0 and *rc, -2 for a number a long cannot hold, or -1. */
int xen_errno_parse(const char *s, long *rc);

/* explain_frame_to (account.h) onto out: one line describing frame mfn. */
void explain_frame(FILE *out, const struct pvm_machine *m, uint64_t mfn, const char *indent);

/*
 * explain_refusal_to (account.h) onto out: m->last (the innermost cause of
 * the latest refusal), what was refused, which table and slot, the frame's
 * state, and, for a frame in use with another type, every writable mapping
 * of it or every vCPU whose GDT holds it.  names may be NULL.
 */
void explain_refusal(FILE *out, const struct pvm_machine *m, const char *indent, const struct explain_names *names);

/* explain_wrap_to (account.h) onto out: text with every line wider than EXPLAIN_COLUMNS broken at spaces. */
void explain_wrap(FILE *out, const char *text);

/*
 * explain_wrap of what printf(fmt, ...) would print, up to EXPLAIN_PRINTF_MAX - 1 bytes of it (the rest
 * is cut, as a boot's stored explanation is; every caller's text is far shorter).  Allocates nothing.
 */
#define EXPLAIN_PRINTF_MAX 4096
__attribute__((format(printf, 2, 3)))
void explain_printf(FILE *out, const char *fmt, ...);

#endif
