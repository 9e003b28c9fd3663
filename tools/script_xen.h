/* script_xen.h - scenario scripts on Debian's real Xen 4.17 (or pvmmu's own hypervisor) under QEMU, beside the simulator. */
#ifndef PVMMU_SCRIPT_XEN_H
#define PVMMU_SCRIPT_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct script;

struct script_xen_opts {
    bool baremetal;           /* on pvmmu's own hypervisor (hv_image) instead of real Xen */
    const char *hv_image;     /* build/baremetal/hv.bin */
    const char *xen_image;    /* the decompressed hypervisor (scripts/xen-fetch.sh) */
    const char *dom0;         /* our PV kernel, build/xen/dom0.elf */
    unsigned int dom0_mib;    /* dom0's memory: frames come from its top */
    unsigned int timeout_s;   /* per boot */
    bool verbose;             /* every step, not only the ones that differ */
    unsigned long audit_every; /* the simulator's audit cadence (script_opts.audit_every) */
    FILE *out;
};

/*
 * Run the scripts on the simulator and on real Xen and compare every step
 * both can run (see script_xen.c).  Prints the steps that differ (all steps
 * with verbose) and a summary.  Returns 0 if every compared step agrees, 1 if
 * one differs, 2 if real Xen could not be run.
 */
int script_xen(struct script *const *scripts, size_t n, const struct script_xen_opts *o);

#endif
