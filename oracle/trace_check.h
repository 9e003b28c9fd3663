/*
 * trace_check.h - what a "pvmmu-trace 2" record (docs/trace.md) says of
 * itself beyond each line's fields, checked by trace_load (trace.c): a record
 * that contradicts itself is refused like one that does not parse, with one
 * line "TRACE:LINE: what was expected" on err.  Each check returns 0, or -1
 * after that line.
 */
#ifndef PVMMU_TRACE_CHECK_H
#define PVMMU_TRACE_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "trace.h"

/*
 * A hc, hp, mc or mp line at line `line` of hypercall nr with `have` arguments, for a hypercall the
 * replay does not run: as many as Xen 4.17's 64-bit PV table gives it.  A number the table does not
 * name is not checked.
 */
int trace_check_args(const struct trace *t, FILE *err, uint32_t line, uint64_t nr, unsigned int have);

/*
 * The initial state (the lines before init-end, which check_order has put in place, a machine line among
 * them): the machine line first (but rec) and within its PADDRBITS; rec, machine, dom, cr3 and vm_assist
 * once each; own runs in order from frame 0 to MAXPAGE-1 without gaps or overlaps; iomem and mmio_ro ranges
 * with FIRST <= LAST inside the address width; dom 0's; the frame lines exactly dom0's frames (own d0), each
 * frame in one; m2p runs inside the machine, each frame in one; one pt line per frame, of its frame line's
 * TYPE.
 */
int trace_check_header(const struct trace *t, FILE *err);

/*
 * Every mmu_update, mmuext_op and multicall of the stream, each bracket (hc or mc to its end) against itself:
 * its requests or entries against its count, none after a failed request, a dn line only with a done
 * counter, and when Xen preempted it, the arguments of its continuation (hp, mp) and its re-issue.
 */
int trace_check_calls(const struct trace *t, FILE *err);

#endif
