/*
 * harness.h - shared fixture for the cmocka tests: a simulated machine with
 * sparse memory (TM_TEST, TM_SPACE_TEST), helpers to build page tables and
 * check frames (TM_FRAME), and the auditor, which every test runs after every
 * operation (AUDIT_CLEAN, TM_OK, TM_RC, TM_REFUSED; tm_frame and the other
 * helpers that change the machine run it too).
 */
#ifndef PVMMU_TEST_HARNESS_H
#define PVMMU_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostmem.h"
#include "pvmmu/pvmmu.h"
#include "xen_names.h"

struct tm {
    struct hostmem h;
    struct pvm_machine m;
    void *scratch;
    struct pvm_vcpu *v;      /* d1v0 */
    struct pvm_vcpu *v2;     /* d2v0 */
    uint64_t next;           /* next mfn handed out by tm_frame */
    uint64_t l4, l3, l2, l1; /* d1v0's tables, when tm_setup_space built them */
    struct snap *snaps;      /* tm_snapshot's not yet checked by tm_assert_unchanged (tm_free frees them) */
    /* tm_map_fail: the platform's own map, the frame it cannot give storage to, and how often it said no */
    uint64_t *(*platform_map)(void *ctx, uint64_t mfn, int write);
    uint64_t map_fail_mfn;
    unsigned long map_failures;
};

/* New machine of nr_frames with domains d1 (2 vCPUs) and d2 (1 vCPU), neither privileged. */
struct tm *tm_new(uint64_t nr_frames);
void tm_free(struct tm *t);

/* cmocka fixture: *state is tm_new(512). */
int tm_setup(void **state);
/* cmocka fixture: tm_setup, then tm_space for d1v0 with its tables in t->l4 .. t->l1. */
int tm_setup_space(void **state);
/* cmocka fixture: tm_free(*state), also after a failed test. */
int tm_teardown(void **state);
/* A test named f that starts with struct tm *t = *state: a fresh machine (TM_SPACE_TEST: d1v0's space built). */
#define TM_TEST(f)       cmocka_unit_test_setup_teardown(f, tm_setup, tm_teardown)
#define TM_SPACE_TEST(f) cmocka_unit_test_setup_teardown(f, tm_setup_space, tm_teardown)

/* A fresh frame of domain dom (1 or 2, or any created domain); the auditor stays clean. */
uint64_t tm_frame(struct tm *t, domid_t dom);

/* PTE for frame mfn with flags. */
static inline uint64_t pte(uint64_t mfn, uint64_t flags) { return (mfn << 12) | flags; }

/* mmu_update of one entry (machine address of slot) by v; returns rc. */
int tm_set(struct pvm_vcpu *v, uint64_t table, unsigned int slot, uint64_t val);
int tm_pin(struct pvm_vcpu *v, unsigned int level, uint64_t mfn);
int tm_unpin(struct pvm_vcpu *v, uint64_t mfn);
int tm_baseptr(struct pvm_vcpu *v, uint64_t mfn);
/* One mmuext_op cmd with arg1 mfn by v for itself; returns rc. */
int tm_ext(struct pvm_vcpu *v, unsigned int cmd, uint64_t mfn);

/* A fresh d1 frame mapped with flags at t->l1[slot] by d1v0 (after tm_setup_space); the auditor stays clean. */
uint64_t tm_map_frame(struct tm *t, unsigned int slot, uint64_t flags);

/* A fresh d1 frame pinned by d1v0 as an (empty) table of level; the auditor stays clean. */
uint64_t tm_pinned(struct tm *t, unsigned int level);

/* Create domain id, privileged, with one vCPU; returns its vCPU 0.  The auditor stays clean. */
struct pvm_vcpu *tm_privileged(struct tm *t, domid_t id);
/* tm_privileged, then tm_space for its vCPU 0, the L1 in *l1 (may be NULL); returns that vCPU. */
struct pvm_vcpu *tm_privileged_space(struct tm *t, domid_t id, uint64_t *l1);
/* d1 turns on VMASST_TYPE_writable_pagetables (ptwr); the auditor stays clean. */
void tm_enable_ptwr(struct tm *t);

/*
 * Build a minimal live address space for v: l4 -> l3 -> l2 -> l1, written
 * while untyped, pinned as L4 and loaded as v's root.  l1 maps each of the
 * four tables read-only at slots 1-4; slot 0 is left empty.  Outputs the
 * mfns (any may be NULL).
 */
void tm_space(struct tm *t, struct pvm_vcpu *v, uint64_t *l4, uint64_t *l3, uint64_t *l2, uint64_t *l1);

/*
 * The platform runs out of memory for frame mfn: while mfn holds no data,
 * map(mfn, write) returns NULL, the one case pvm_ops allows (the core then
 * fails with -EFAULT).  Reads, and frames that already hold data, work as
 * before.  PVM_INVALID_MFN ends it.  Each refusal counts in t->map_failures.
 */
void tm_map_fail(struct tm *t, uint64_t mfn);

/* Make [p, p + len) guest memory (a buffer a guest handle may name); its handle. */
xen_ulong_t tm_guest(struct tm *t, const void *p, size_t len);

/* Frame state shortcuts. */
struct pvm_frame_state tm_state(struct tm *t, uint64_t mfn);

/* Run the auditor; returns the number of issues and prints each. */
unsigned long tm_audit(struct tm *t);
#define AUDIT_CLEAN(t) assert_int_equal(tm_audit(t), 0)

/* A call that must return rc, after which the auditor must stay clean. */
#define TM_RC(t, call, rc)                  \
    do {                                    \
        assert_int_equal((call), (rc));     \
        AUDIT_CLEAN(t);                     \
    } while (0)

/* A call that must return 0, after which the auditor must stay clean. */
#define TM_OK(t, call) TM_RC(t, call, 0)

/* A call that must fail with rc and change nothing the core keeps; the auditor stays clean. */
#define TM_REFUSED(t, call, rc)                 \
    do {                                        \
        void *snap_ = tm_snapshot(t);           \
        TM_RC(t, call, rc);                     \
        tm_assert_unchanged((t), snap_);        \
    } while (0)

/* mmu_update of one entry by v must fail with rc and change nothing the core keeps; the auditor stays clean. */
#define TM_SET_REFUSED(t, v, table, slot, val, rc) TM_REFUSED(t, tm_set((v), (table), (slot), (val)), rc)

/*
 * Check frame mfn against the words of a printf-style attrs, as a script's expect line names them
 * (docs/scripts.md): type=T tc=N count=N [!]pinned [!]validated owner=dN|none|io linear=N m2p=N, and
 * [!]allocated type_info=N count_info=N.  One cmocka check per word, reported at the caller's line.
 */
#define TM_FRAME(t, mfn, ...) tm_frame_check((t), (mfn), __FILE__, __LINE__, __VA_ARGS__)
void tm_frame_check(struct tm *t, uint64_t mfn, const char *file, int line, const char *attrs, ...)
    __attribute__((format(printf, 5, 6)));

/* Assert the core's bookkeeping of every frame is byte-identical to a snapshot (freed by the check, or tm_free). */
void *tm_snapshot(struct tm *t);
/* Expect frame mfn's type_info to read type_info when compared (a failed L2-L4 keeps its type at count 0). */
void tm_snapshot_set_type(void *snap, uint64_t mfn, uint64_t type_info);
void tm_assert_unchanged(struct tm *t, void *snap);

/* For a callback that collects: item (size bytes) goes to array[*n] if *n < cap; *n counts it either way. */
void tm_keep(void *array, size_t size, unsigned long cap, unsigned long *n, const void *item);

/* How many log lines (since tm_new) contained text. */
unsigned long tm_log_count(struct tm *t, const char *text);

/* The same for a printf-style text. */
unsigned long tm_log_countf(struct tm *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How many log lines held Xen's exact "Bad type" line for mfn (without its pfn part). */
unsigned long tm_bad_type_logs(struct tm *t, uint64_t saw, uint64_t exp, uint64_t mfn);

struct explain_names;
/* What explain_refusal prints onto a FILE* for t's latest refusal, with indent and names (may be NULL); freed by
 * the caller. */
char *tm_explanation(struct tm *t, const char *indent, const struct explain_names *names);
/* What explain_wrap prints onto a FILE* for text; freed by the caller. */
char *tm_wrapped(const char *text);

#endif
