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
 * Run each script as written on the simulator, every expectation checked;
 * then the steps one dom0 can issue on real Xen (or pvmmu's hypervisor) and,
 * as dom0, on the simulator, and compare them (see script_xen.c).  Where the
 * step gave the same result as dom0 as in the script's own run, the target's
 * result must also meet the script's expectations.  Prints the failures, the
 * steps that differ (every step with verbose) and a summary.  Returns 0 if
 * every script passes on every side and every compared step agrees, 1 if not,
 * 2 if a script gives nothing to compare or the target could not be run.
 */
int script_xen(struct script *const *scripts, size_t n, const struct script_xen_opts *o);

#endif
