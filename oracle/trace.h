/*
 * trace.h - a "pvmmu-trace 2" record (docs/trace.md) read into memory: one
 * event per line, every number parsed, hypercall brackets linked (each hc to
 * its hr or hp, each multicall entry's mc to its mr or mp, each preempted
 * call's hp to the hc that re-issues it).  A record that does not follow the
 * format is refused with one line "TRACE:LINE: what was expected".
 */
#ifndef PVMMU_TRACE_H
#define PVMMU_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum trace_tag {
    /* the initial state, before init-end */
    TR_REC, TR_MACHINE, TR_OWN, TR_IOMEM, TR_MMIO_RO, TR_DOM, TR_M2P, TR_FRAME, TR_PT, TR_CR3, TR_VM_ASSIST,
    TR_INIT_END,
    /* the stream */
    TR_HC, TR_HR, TR_HP, TR_MC, TR_MR, TR_MP, TR_MU, TR_MX, TR_DN, TR_GDT, TR_VB, TR_VE, TR_DB, TR_DE, TR_PW,
    TR_TR, TR_XIN, TR_XOUT, TR_DEC, TR_INC, TR_POP, TR_SHARE, TR_CON, TR_UV, TR_XREF, TR_XPUT,
    /* the final state: fin, then dom, frame and cr3 lines, then end */
    TR_FIN, TR_END,
    TR_NTAGS
};

/* TYPE fields (frame, pt, vb, ve, db, de): Xen's type number, bits 63-61 of type_info (enum pvm_type). */
#define TRACE_TYPE_SEG 5

/* own WHO */
enum trace_owner { TRACE_OWN_NONE, TRACE_OWN_HOLE, TRACE_OWN_D0, TRACE_OWN_IO, TRACE_OWN_XEN, TRACE_OWN_DOM };

/* frame FLAGS */
#define TRACE_F_ALLOCATED 0x01
#define TRACE_F_XENHEAP   0x02
#define TRACE_F_PINNED    0x04
#define TRACE_F_VALIDATED 0x08
#define TRACE_F_PARTIAL   0x10

/* pw RES */
enum trace_pw { TRACE_PW_OK, TRACE_PW_REFUSED, TRACE_PW_MISMATCH };

/* tr: which optional fields are there; a pw's, mu's or uv's STORED; a pw's CMP */
#define TRACE_HAS_EC     0x01
#define TRACE_HAS_CR2    0x02
#define TRACE_TR_HW      0x04   /* tr SRC hw: the processor's own page fault, bounced as it was */
#define TRACE_HAS_STORED 0x01
#define TRACE_HAS_CMP    0x02

/* xref, xput WHAT: what Xen holds dom0's frame for */
enum trace_xref { TRACE_XREF_VCPU_INFO, TRACE_XREF_EVTCHN, TRACE_XREF_EOI };

/* hc: it re-issues a preempted call (the hp's cont is this hc) */
#define TRACE_REISSUE 0x80

/* con: the phase the line starts (0: none), as scripts/trace-stats.py splits a record */
#define TRACE_PHASE_MEMORY 1   /* "Memory:", the end of Linux's mm_init */
#define TRACE_PHASE_INIT   2   /* "Run /init" */

/* A hc, hp, mc or mp line's arguments: the most any of them has (a multicall entry's six). */
#define TRACE_MAX_NUMS 8

/*
 * One line.  The numbers in a[], by tag (docs/trace.md's fields in order):
 *   hc, hp: NR A1..An            mc, mp: I NR A1..An        hr: NR   mr: I NR   (their RC in rc)
 *   mu: PTR VAL STORED (RC in rc; TRACE_HAS_STORED in flags)   uv: L1MFN SLOT STORED (TRACE_HAS_STORED)
 *   mx: CMD ARG1 ARG2 (RC in rc)   dn: DONE   gdt: ENTRIES MFN.. (the first 7)
 *   xref: MFN (WHAT in type, RC in rc)   xput: MFN (WHAT in type)
 *   vb: MFN FROM   db: MFN FROM   ve, de: MFN (RC in rc)   (their TYPE in type)
 *   pw: L1MFN SLOT OLD NEW STORED ADDR BYTES CMP (RES in type, TRACE_HAS_STORED and TRACE_HAS_CMP in flags)
 *   tr: VEC EC CR2 RIP (MODE in type: 1 kernel, 0 user; TRACE_HAS_* and TRACE_TR_HW in flags)
 *   xin: MFN PFN   xout: MFN PFN ORDER   dec: MFN   inc: MFN ORDER   pop: PFN MFN ORDER   share: MFN W
 *   machine: MAXPAGE PADDRBITS   own: MFN N (WHO in type, its domain in a[2])   iomem, mmio_ro: FIRST LAST
 *   dom: ID TOT MAX   m2p: MFN PFN N   frame: MFN N TC REF (TYPE in type, FLAGS in flags)
 *   pt: MFN (TYPE in type)   cr3: KERNEL USER   vm_assist: BITS   con: (its phase mark in type)
 */
struct trace_ev {
    uint32_t line;        /* 1-based */
    uint32_t text;        /* offset of the line in trace.buf */
    uint8_t tag;          /* enum trace_tag */
    uint8_t n;            /* numbers in a[] */
    uint8_t type;
    uint8_t flags;
    uint32_t ent, nent;   /* vb, pt: ENTRIES, in trace.ents */
    int32_t end;          /* hc, mc: index of its hr/hp (mr/mp); the hc itself for iret; -1 none */
    int32_t cont;         /* hp: index of the hc that re-issues the call; -1 none */
    int64_t rc;
    uint64_t a[TRACE_MAX_NUMS];
};

struct trace_ent {
    uint32_t slot;
    uint64_t val;
};

struct trace {
    const char *path;
    char *buf;               /* the whole file, each line NUL-terminated where its newline was */
    size_t len;
    struct trace_ev *ev;
    size_t nev, init_end;    /* init_end: index of the init-end line (the stream follows it) */
    size_t fin;              /* index of the fin line (the stream ends before it; the final state follows) */
    struct trace_ent *ents;
    size_t nents;
    uint32_t lines;          /* lines in the file */
    char rec[64];            /* the rec line's text */
};

/*
 * Read and check the record at path.  Returns 0, or -1 after one line on err
 * ("PATH:LINE: what was expected", or why the file cannot be read).  When the
 * host has no memory for it the process ends (host_out_of_memory, status 3).
 */
int trace_load(struct trace *t, const char *path, FILE *err);

/* Free what trace_load allocated. */
void trace_free(struct trace *t);

/* The text of event e's line (NUL-terminated, without its newline). */
static inline const char *trace_text(const struct trace *t, const struct trace_ev *e)
{
    return t->buf + e->text;
}

/*
 * Is hypercall nr one the core replays (mmu_update, multicall, update_va_mapping, vm_assist,
 * update_va_mapping_otherdomain, mmuext_op)?  Nothing but its requests, multicall entries and
 * (de)validations may happen inside one.
 */
bool trace_is_pv_mmu(uint64_t nr);

/* "hc", "vb", ... for a tag. */
const char *trace_tag_name(enum trace_tag tag);

/* "none", "l1" ... "writable" for a TYPE field. */
const char *trace_type_name(unsigned int type);

#endif
