/*
 * baremetal.h - boot one policy on pvmmu's own hypervisor under QEMU
 * (platform/baremetal, with our PV kernel as its domain) and read back what
 * the kernel and the hypervisor reported.
 */
#ifndef PVMMU_BAREMETAL_H
#define PVMMU_BAREMETAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pvmmu/pvmmu.h"

#define BAREMETAL_MAX_MIB 2048   /* the hypervisor's direct map covers 4 GiB of RAM below the PCI hole */

struct bm_run {
    int outcome;                  /* enum guest_fail */
    char phase[64], function[64], message[192];
    long rc;
    struct pvm_stats st;          /* the core's counters for the guest's own hypercalls */
    uint64_t pt_pages, pte_stores;
    bool audit_clean;
    char fault[180], refusal[300];   /* the kernel's page-fault line and the hypervisor's refusal line, or "" */
    int qemu_status;
    double seconds;
};

/* The path in environment variable name, or dflt if it is unset or empty. */
const char *env_path(const char *name, const char *dflt);

/* Paths of the hypervisor image and our PV kernel (the one real Xen boots as dom0 too): $PVMMU_HV,
   $PVMMU_DOM0, or the build tree's. */
const char *baremetal_hv(void);
const char *baremetal_kernel(void);

/*
 * Boot policy at mem_mib MiB.  Returns 0 with *r filled, or -1 with a one-line
 * message in err (QEMU missing, timed out, or no complete report).
 */
int baremetal_boot(uint64_t mem_mib, const char *policy, struct bm_run *r, char *err, size_t errlen);

#endif
