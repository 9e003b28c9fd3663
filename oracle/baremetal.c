/* baremetal.c - one boot on pvmmu's hypervisor under QEMU, parsed (see baremetal.h). */
#include "baremetal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qemu.h"

const char *env_path(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

const char *baremetal_hv(void) { return env_path("PVMMU_HV", "build/baremetal/hv.bin"); }
const char *baremetal_kernel(void) { return env_path("PVMMU_DOM0", "build/xen/dom0.elf"); }

/* The text after `prefix` on the first line that starts with it, up to the end of that line, in buf. */
static const char *line_after(const char *text, const char *prefix, char *buf, size_t n)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, prefix, pl))
            continue;
        const char *e = p + pl;
        size_t k = 0;
        while (e[k] && e[k] != '\n' && e[k] != '\r')
            k++;
        snprintf(buf, n, "%.*s", (int)k, e);
        return buf;
    }
    return NULL;
}

/* The number after " name=" (or "name=" at the start) in line, or 0. */
static uint64_t field(const char *line, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = line; (p = strstr(p, name)); p += n)
        if ((p == line || p[-1] == ' ') && p[n] == '=')
            return strtoull(p + n + 1, NULL, 10);
    return 0;
}

/*
 * Boot policy at mem_mib MiB under QEMU and time it (r->seconds, r->qemu_status).  Returns what it
 * printed (the caller frees it), or NULL with a message in err if QEMU could not run it to the end.
 */
static char *boot_qemu(uint64_t mem_mib, const char *policy, struct bm_run *r, char *err, size_t errlen)
{
    char ram[32], append[64], kernel[600];
    snprintf(ram, sizeof(ram), "%" PRIu64 "M", mem_mib + 128);
    snprintf(append, sizeof(append), "mem=%" PRIu64, mem_mib);
    snprintf(kernel, sizeof(kernel), "%s guest=%s", baremetal_kernel(), policy);
    char *argv[] = { "qemu-system-x86_64", "-m", ram, "-serial", "stdio", "-display", "none", "-no-reboot",
                     "-monitor", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                     "-kernel", (char *)baremetal_hv(), "-initrd", kernel, "-append", append, NULL };
    char *text = NULL;
    size_t len = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int st = qemu_run(argv, 120, &text, &len, err, errlen);
    clock_gettime(CLOCK_MONOTONIC, &b);
    r->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    r->qemu_status = st;
    if (st < 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The kernel's outcome line after its prefix (g): the outcome, and where and with what rc it failed. */
static void read_outcome(const char *g, struct bm_run *r)
{
    r->outcome = atoi(g);
    const char *ph = strstr(g, "phase="), *fn = strstr(g, "function="), *rc = strstr(g, " rc=");
    if (ph)
        sscanf(ph, "phase=%63s", r->phase);
    if (fn)
        sscanf(fn, "function=%63s", r->function);
    r->rc = rc ? strtol(rc + 4, NULL, 10) : 0;
}

/* The hypervisor's "hv stats" line (hs, after its prefix) into the core's counters. */
static void read_hv_stats(const char *hs, struct pvm_stats *s)
{
    s->hc_mmu_update = field(hs, "mmu_update");
    s->hc_mmuext_op = field(hs, "mmuext_op");
    s->hc_update_va_mapping = field(hs, "update_va_mapping");
    s->hc_multicall = field(hs, "multicall");
    s->hc_vm_assist = field(hs, "vm_assist");
    uint64_t all = field(hs, "hypercalls");
    s->hc_other = all - pvm_stats_hypercalls(s);
    s->mmu_update_reqs = field(hs, "mmu_update_reqs");
    s->mmuext_ops = field(hs, "mmuext_ops");
    s->entries_validated = field(hs, "entries_validated");
    s->pins = field(hs, "pins");
    s->ptwr_emulations = field(hs, "ptwr_emulations");
    s->tlb_flushes = field(hs, "tlb_flushes");
    const char *pr = strstr(hs, "promotions=");
    if (pr)
        sscanf(pr, "promotions=%" SCNu64 ",%" SCNu64 ",%" SCNu64 ",%" SCNu64, &s->promotions[1], &s->promotions[2],
               &s->promotions[3], &s->promotions[4]);
}

/* The optional lines of a boot: the guest's table counts, message, page fault, the refusal, the audit. */
static void read_details(const char *text, const char *policy, struct bm_run *r)
{
    char prefix[96], line[600];
    const char *g;
    snprintf(prefix, sizeof(prefix), "guest %s hypercalls ", policy);
    if ((g = line_after(text, prefix, line, sizeof(line)))) {
        r->pt_pages = field(g, "pt_pages");
        r->pte_stores = field(g, "pte_stores");
    }
    snprintf(prefix, sizeof(prefix), "guest %s message: ", policy);
    if ((g = line_after(text, prefix, line, sizeof(line))))
        snprintf(r->message, sizeof(r->message), "%s", g);
    snprintf(prefix, sizeof(prefix), "guest %s page fault ", policy);
    if ((g = line_after(text, prefix, line, sizeof(line))))
        snprintf(r->fault, sizeof(r->fault), "page fault %s", g);
    if ((g = line_after(text, "hv refusal ", line, sizeof(line))))
        snprintf(r->refusal, sizeof(r->refusal), "%s", g);
    r->audit_clean = line_after(text, "hv audit clean", line, sizeof(line)) != NULL;
}

int baremetal_boot(uint64_t mem_mib, const char *policy, struct bm_run *r, char *err, size_t errlen)
{
    char prefix[96], line[600], stats[600];
    memset(r, 0, sizeof(*r));
    char *text = boot_qemu(mem_mib, policy, r, err, errlen);
    if (!text)
        return -1;
    snprintf(prefix, sizeof(prefix), "guest %s outcome=", policy);
    const char *g = line_after(text, prefix, line, sizeof(line));
    const char *hs = line_after(text, "hv stats ", stats, sizeof(stats));
    if (!g || !hs) {
        const char *why = line_after(text, "pvmmu hv: PANIC: ", line, sizeof(line));
        snprintf(err, errlen, "the boot gave no complete report (QEMU exit %d)%s%s", r->qemu_status, why ? ": " : "",
                 why ? why : "");
        free(text);
        return -1;
    }
    read_outcome(g, r);
    read_hv_stats(hs, &r->st);
    read_details(text, policy, r);
    free(text);
    return 0;
}
