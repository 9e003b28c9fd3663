/*
 * xenprog.h - the compact form of scenario scripts that pvmmu hands to its
 * own PV kernel (platform/xen/dom0.c) as a second multiboot module, and the
 * result lines both sides print for each step.  Shared by the host tool
 * (oracle/compile.c), which writes programs and runs the same steps on the
 * simulator, and by the dom0 kernel, which runs them on real Xen.
 *
 * Layout (little-endian, every field 64-bit):
 *   header    magic, number of scenarios
 *   scenario  number of frames, number of steps, then one word per frame
 *             (the frame's machine number in the simulator), then the steps
 *   step      kind, script line, item count, aux, then `count` items
 *             (a multicall's items are its entries, each a nested step)
 *   item      three words and a relocation for each
 *
 * A relocation names a scenario frame: dom0 replaces the frame number in the
 * word with the machine frame it took from its own memory for that frame.
 * Results print frame numbers as the simulator's, so both sides print the
 * same text when they agree.
 */
#ifndef PVMMU_XENPROG_H
#define PVMMU_XENPROG_H

#include <stddef.h>
#include <stdint.h>

#include "pvmmu/xen.h"

#define XP_MAGIC 0x31475250584d5650ULL   /* "PVMXPRG1" */

enum xp_kind {
    XP_SET = 1,        /* w[0] frame (XP_R_MFN), w[1] value; aux slot */
    XP_READ,           /* w[0] frame (XP_R_MFN); aux slot -> "val=" */
    XP_MMU_UPDATE,     /* items: w[0] ptr, w[1] val; aux foreigndom */
    XP_MMUEXT,         /* items: w[0] cmd, w[1] arg1, w[2] arg2; aux foreigndom */
    XP_VM_ASSIST,      /* w[0] cmd, w[1] type */
    XP_RELEASE,        /* w[0] frame (XP_R_MFN): decrease_reservation */
    XP_MULTICALL,      /* count nested steps, each XP_MMU_UPDATE, XP_MMUEXT or XP_VM_ASSIST */
    XP_ROOT,           /* w[0] frame (XP_R_MFN): load it as the kernel root (arch_set_info_guest) */
    XP_UVM,            /* w[0] va, w[1] val, w[2] flags; a second item's w[0] is a vCPU mask (XP_R_MASK) */
    XP_STORE,          /* w[0] va, w[1] value, w[2] bytes -> "ok", "emulated" or "#PF" */
    XP_LOAD,           /* w[0] va -> "val=" or "#PF" */
};

/*
 * A script's kernel root cannot become dom0's running root, so dom0 loads it
 * as its *user* root (new_baseptr is issued as new_user_baseptr): the same
 * references and the same validation.  For a step through the script's
 * tables at va, dom0 copies that root's entry for va's L4 slot into the same
 * slot of its own L4 for the duration of the step, so the walk goes through
 * the script's L3, L2 and L1 (Xen flushes the TLB when the slot changes; the
 * simulator's vCPU TLB is flushed before such a step to match).
 */
enum xp_access { XP_ACC_OK, XP_ACC_EMULATED, XP_ACC_FAULT };

/*
 * dom0's kernel runs at XP_DOM0_VIRT_BASE (its XEN_ELFNOTE_VIRT_BASE note; dom0.ld links it there),
 * so L4 slot XP_DOM0_L4_SLOT is its own: a step through a script's tables cannot be linked there.
 */
#define XP_DOM0_VIRT_BASE 0xffffffff80000000   /* no suffix: dom0.c writes it into the note as text */
#define XP_DOM0_L4_SLOT ((XP_DOM0_VIRT_BASE >> PVM_L4_PAGETABLE_SHIFT) & (PVM_L1_PAGETABLE_ENTRIES - 1))

/* Relocation of one word: 0, or (frame index + 1) | (how << 32). */
enum xp_reloc {
    XP_R_MFN = 1,      /* the word is a frame number */
    XP_R_ADDR = 2,     /* bits 12-51 hold a frame number (an entry or an entry's address) */
    XP_R_MASK = 3,     /* the word is a vCPU bitmap passed by pointer */
};
#define XP_RELOC(frame, how) ((uint64_t)(frame) + 1 + ((uint64_t)(how) << 32))
#define XP_RELOC_FRAME(r) ((uint32_t)(r) - 1)
#define XP_RELOC_HOW(r) ((uint32_t)((r) >> 32))

struct xp_header {
    uint64_t magic, nscen;
};
struct xp_scen {
    uint64_t nframes, nsteps;
};
struct xp_step {
    uint64_t kind, line, count, aux;
};
struct xp_item {
    uint64_t w[3], reloc[3];
};

/* Longer batches and multicalls are not sent to Xen. */
#define XP_MAX_ITEMS 64
#define XP_MAX_BATCH 32
#define XP_MAX_FRAMES 512

/* What one step gave. */
struct xp_result {
    unsigned int kind;
    long rc;
    unsigned int done;        /* XP_MMU_UPDATE, XP_MMUEXT */
    uint64_t val;             /* XP_READ, XP_LOAD */
    unsigned int access;      /* XP_STORE, XP_LOAD: enum xp_access */
    long link_rc;             /* dom0 could not link the script's tables for a va step (xenprog.h) */
    unsigned int n;           /* XP_MULTICALL entries */
    long sub_rc[XP_MAX_BATCH];
    unsigned int sub_done[XP_MAX_BATCH];
    unsigned int sub_kind[XP_MAX_BATCH];
};

/* The result text (without the "x SCENARIO LINE " prefix dom0 puts before it); returns buf. */
char *xp_result_text(const struct xp_result *r, char *buf, size_t size);

#endif
