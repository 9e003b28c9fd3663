/* script_int.h - the parsed form of a scenario script, shared by parser and runner. */
#ifndef PVMMU_SCRIPT_INT_H
#define PVMMU_SCRIPT_INT_H

#include "pvmmu/pvmmu.h"
#include "script.h"

enum step_kind {
    S_DOMAIN, S_FRAME, S_IO, S_SET, S_VM_ASSIST, S_SET_CR3, S_RELEASE, S_MODE,
    S_MMU_UPDATE, S_MMUEXT, S_UVM, S_UVM_OTHER, S_STORE, S_LOAD, S_MULTICALL, S_RAW_OP,
    S_EXPECT_FRAME, S_EXPECT_ENTRY, S_EXPECT_STAT, S_EXPECT_LOG, S_EXPECT_WHY, S_EXPECT_MAPPINGS, S_AUDIT,
    S_ASSIGN,
};

struct frame_expect {
    bool has_type, has_tc, has_count, has_linear, has_m2p, has_owner;
    int type;
    uint64_t tc, count, m2p;
    int linear;
    domid_t owner;
    int pinned, validated;   /* 1 must be set, -1 must be clear, 0 don't care */
};

struct step {
    enum step_kind kind;
    int line;
    domid_t dom;
    unsigned int vcpu;
    unsigned int cmd, type, slot, bytes, count, foreigndom;
    uint64_t mfn, va, val;
    unsigned long flags;
    struct mmu_update *reqs;     /* S_MMU_UPDATE */
    struct mmuext_op *ops;       /* S_MMUEXT */
    unsigned long *masks;        /* vCPU bitmaps, per op (S_MMUEXT) or [0] (S_UVM) */
    bool *mask_used;
    bool has_expect, has_done, has_expect_val;
    long expect_rc;
    unsigned int expect_done;
    int expect_access;
    uint64_t expect_val;
    struct step *sub;            /* S_MULTICALL entries */
    size_t nsub;
    struct frame_expect fe;
    int stat;                    /* S_EXPECT_STAT counter index; S_EXPECT_WHY cause */
    char *text;
};

struct frame_name {
    char name[64];
    uint64_t mfn;
};

struct domain_decl {
    domid_t id;
    unsigned int vcpus, flags;
    bool iomem_set;              /* iomem= given: the range replaces the default (none; dom0: below 2^paddr_bits) */
    uint64_t iomem_first, iomem_last;
};

struct script {
    char *name;
    char *source;                /* the text parsed, for showing a step's line */
    size_t source_len;
    uint64_t nr_frames;
    unsigned int paddr_bits;     /* the host's physical-address width (machine paddr_bits=N, default 40) */
    bool linear_pt, tlb_check, machine_seen;
    struct step *steps;
    size_t nsteps;
    struct frame_name *frames;
    size_t nframes;
    uint32_t *by_name, *by_mfn;  /* hash indexes of frames (1 + index, 0 = empty slot), open addressing */
    size_t index_cap;            /* slots in each: a power of two, at least twice nframes */
    struct domain_decl *doms;
    size_t ndoms;
    uint64_t next_gpfn;
    int open_line;
};

/* The frame declared at mfn (by `frame` or `io`), or NULL.  Constant time. */
const struct frame_name *script_frame_at(const struct script *s, uint64_t mfn);

/* Index of a pvm_stats counter by name, or -1.  script_stat_value reads it. */
int script_stat_index(const char *name);
uint64_t script_stat_value(const struct pvm_stats *st, int idx);
const char *script_stat_name(int idx);

struct xp_result;
/*
 * Does res, what step st gave on one side (the simulator, real Xen or pvmmu's
 * hypervisor), meet the script's expectations of st: its `-> RC` and
 * `done=N` (without them: success, every item done), `-> ok|emulated|#PF`,
 * `-> VALUE`, or the entry of `expect NAME[SLOT] = VALUE`?  The same rules
 * script_run applies.  Returns true, or false with what was wrong in msg.
 */
bool script_result_meets(const struct step *st, const struct xp_result *res, char *msg, size_t n);

#endif
