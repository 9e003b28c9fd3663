/*
 * boot.c - `pvmmu boot` (one guest, one policy) and `pvmmu compare` (every
 * policy): outcome, where it failed and why, and the counters of what the
 * guest asked of the hypervisor.
 */
#include "boot.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "baremetal.h"
#include "explain.h"
#include "replay.h"
#include "sim.h"
#include "xen_names.h"

#define MAX_BYTES (1ULL << 40)   /* 1 TiB */
#define DEFAULT_COMPARE_BYTES (8ULL << 30)
#define DEFAULT_BAREMETAL_BYTES (128ULL << 20)   /* compare --baremetal: what `make qemu` boots */
#define JSON_SCHEMA_VERSION 1     /* docs/json.md: raise it when a field changes meaning, is renamed or goes */
/* The auditor's scratch: the whole machine's counts up to here, region by region above (pvm_audit_bounded). */
#ifndef BOOT_AUDIT_SCRATCH
#define BOOT_AUDIT_SCRATCH (256ULL << 20)
#endif

int parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
    const char *p = s;
    if (!*p || !isdigit((unsigned char)*p)) {
        snprintf(err, errlen, "bad size '%s': expected a number with an optional unit (512M, 8G, 1T)", s);
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long n = strtoull(p, &end, 10);
    unsigned int shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
        end += strlen(end);
    if (errno || *end) {
        snprintf(err, errlen, "bad size '%s': expected a number with an optional unit (512M, 8G, 1T)", s);
        return -1;
    }
    if (n == 0) {
        snprintf(err, errlen, "bad size '%s': must be more than zero", s);
        return -1;
    }
    if (n > (MAX_BYTES >> shift)) {
        snprintf(err, errlen, "bad size '%s': at most 1T is supported", s);
        return -1;
    }
    *bytes = (uint64_t)n << shift;
    if (*bytes % (2ULL << 20) || *bytes < (64ULL << 20)) {
        snprintf(err, errlen, "bad size '%s': must be a multiple of 2 MiB and at least 64M", s);
        return -1;
    }
    return 0;
}

struct run {
    enum guest_policy pol;
    struct guest_result r;
    struct pvm_stats st;
    double seconds;
    unsigned long audit_issues;
    bool audited;
    double audit_seconds;         /* how long the audit took */
    size_t audit_scratch, audit_need;   /* bytes of scratch it had, and would need for one pass */
    char xen_log[HOSTMEM_LOG_KEEP][256];
    unsigned int nlog;
    char explanation[4096];
    bool faulted;                 /* the guest's last page fault, as the CPU reported it */
    struct pvm_fault fault;
    bool refused;                 /* the core's record of its latest refusal, and that frame's pfn */
    struct pvm_refusal last;
    uint64_t last_pfn;
    char phase[64], function[64];   /* storage for r.phase/r.function of a bare-metal run */
};

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    const char *name = ctx;
    if (total)
        fprintf(stderr, "\r  %-16s mapping: %3u%% (%" PRIu64 " of %" PRIu64 " pages)", name,
                (unsigned int)(done * 100 / total), done, total);
}

struct naming {
    const struct sim *s;
    const struct guest_result *r;
};

/* Name a frame by the role its pfn plays in the guest. */
static const char *frame_name(void *ctx, uint64_t mfn)
{
    static char buf[96];
    const struct naming *nc = ctx;
    const struct sim *s = nc->s;
    static const char *const statics[] = { NULL, "init_level4_pgt", "level3_ident_pgt", "level3_kernel_pgt",
                                           "level2_ident_pgt", "level2_kernel_pgt", "level2_fixmap_pgt",
                                           "level1_fixmap_pgt (bm_pte)" };
    uint64_t pfn = s->m.ops.m2p_get(s->m.ops.ctx, mfn);
    if (pfn < sizeof(statics) / sizeof(statics[0]) && statics[pfn])
        snprintf(buf, sizeof(buf), "%s (pfn %#" PRIx64 ")", statics[pfn], pfn);
    else if (pfn >= s->lay.pt_pfn && pfn < s->lay.pt_pfn + s->lay.nr_pt)
        snprintf(buf, sizeof(buf), "Xen's bootstrap table (pfn %#" PRIx64 ")", pfn);
    else if (pfn >= s->lay.p2m_pfn && pfn < s->lay.p2m_pfn + s->lay.p2m_pages)
        snprintf(buf, sizeof(buf), "p2m list (pfn %#" PRIx64 ")", pfn);
    else if ((nc->r->nbufs > 0 && pfn >= nc->r->bufs[0][0] && pfn < nc->r->bufs[0][1]) ||
             (nc->r->nbufs > 1 && pfn >= nc->r->bufs[1][0] && pfn < nc->r->bufs[1][1]))
        snprintf(buf, sizeof(buf), "early page-table buffer page (pfn %#" PRIx64 ")", pfn);
    else if (pfn != PVM_INVALID_M2P)
        snprintf(buf, sizeof(buf), "(pfn %#" PRIx64 ")", pfn);
    else
        return NULL;
    return buf;
}

/* Who makes mappings in each part of the guest's address space. */
static const char *va_owner(void *ctx, uint64_t va)
{
    (void)ctx;
    if (va >= GUEST_FIXMAP_BASE && va < GUEST_FIXMAP_BASE + GUEST_FIXMAP_SLOTS * XEN_PAGE_SIZE)
        return "an early_memremap alias (FIX_BTMAP slot, made by early_memremap / map_low_page)";
    if (va >= GUEST_START_KERNEL_MAP)
        return "the kernel map (Xen's domain builder; RO by set_page_prot)";
    if (va >= GUEST_PAGE_OFFSET && va < GUEST_PAGE_OFFSET + (1ULL << 46))
        return "the direct map (kernel_physical_mapping_init, phys_pte_init)";
    return NULL;
}

/*
 * Why the guest failed: its page fault, the core's record of the refusal and
 * the table being built, written into out->explanation (cut at its size).
 */
static void explain_run(struct sim *s, struct run *out)
{
    FILE *f = fmemopen(out->explanation, sizeof(out->explanation) - 1, "w");   /* the last byte stays 0 */
    if (!f)
        host_out_of_memory(sizeof(FILE), "a stream for the explanation");
    struct naming nc = { s, &out->r };
    struct explain_names names = { .frame = frame_name, .va = va_owner, .ctx = &nc };
    if (s->faulted && out->r.outcome == GUEST_PAGE_FAULT) {
        const char *tn = frame_name(&nc, s->fault.table_mfn), *who = va_owner(s, s->fault.va);
        const char *what = !(s->fault.entry & _PAGE_PRESENT) ? " is not present"
                           : !(s->fault.entry & _PAGE_RW) ? " is read-only" : "";
        fprintf(f, "    page fault at va %#" PRIx64 " (%s), error code %#x: L%u entry %016" PRIx64
                   " in table mfn %#" PRIx64 " %s%s\n",
                s->fault.va, who ? who : "unknown region", s->fault.error_code, s->fault.level, s->fault.entry,
                s->fault.table_mfn, tn ? tn : "", what);
        if (s->fault.entry & _PAGE_PRESENT)
            explain_frame(f, &s->m, (s->fault.entry & PVM_PTE_FRAME_MASK) >> 12, "    mapped frame: ");
    }
    if (s->m.last_set)
        explain_refusal(f, &s->m, "    ", &names);
    if (out->r.table_va && s->m.last_set && s->m.last.table_mfn != PVM_INVALID_MFN &&
        s->m.last.level == out->r.table_level) {
        uint64_t va = out->r.table_va + ((uint64_t)s->m.last.slot << (12 + 9 * (out->r.table_level - 1)));
        fprintf(f, "      that table was being built for va %#" PRIx64 ": its slot %u maps va %#" PRIx64
                   " (%s)\n",
                out->r.table_va, s->m.last.slot, va, va_owner(s, va) ? va_owner(s, va) : "?");
    }
    fclose(f);
}

/*
 * The scratch of the final audit: at most BOOT_AUDIT_SCRATCH (region by region
 * on a machine whose counts need more), sized by the machine's frame count
 * alone, so it is taken before the guest boots: a host that cannot give it
 * stops the run (exit 3) before any -v line.  Sets *have; free() it.
 */
static void *audit_scratch(const struct sim *s, size_t *have)
{
    size_t need = pvm_audit_scratch_bytes(&s->m);
    *have = need < BOOT_AUDIT_SCRATCH ? need : BOOT_AUDIT_SCRATCH;
    return host_malloc(*have, "the auditor's scratch");
}

/* The final audit in mem (have bytes, from audit_scratch); records its result and time. */
static void audit_run(const struct sim *s, void *mem, size_t have, struct run *out)
{
    size_t need = pvm_audit_scratch_bytes(&s->m);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    out->audit_issues = pvm_audit_bounded(&s->m, mem, have, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    out->audit_seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    out->audit_scratch = have;
    out->audit_need = need;
    out->audited = true;
}

/*
 * Build a domain, boot the guest under pol, audit, keep everything for the report.  With log set, every
 * kernel message and Xen log line goes there as it happens (stdout, or stderr when stdout holds JSON).
 */
static int run_one(uint64_t bytes, enum guest_policy pol, FILE *log, bool show_progress, bool audit,
                   struct run *out)
{
    struct sim *s = host_calloc(1, sizeof(*s), "the simulated machine");
    char err[256] = "";
    s->klog = log;
    if (show_progress) {
        s->progress = progress_cb;
        s->progress_ctx = (void *)guest_policy_name(pol);
    }
    if (sim_build(s, bytes, err, sizeof(err))) {
        fprintf(stderr, "pvmmu: cannot build the domain: %s\n", err);
        sim_free(s);
        free(s);
        return 2;
    }
    if (log) {
        s->h.log = log;
        s->h.log_prefix = "";
    }
    size_t scratch_bytes = 0;
    void *scratch = audit ? audit_scratch(s, &scratch_bytes) : NULL;
    memset(out, 0, sizeof(*out));
    out->pol = pol;
    unsigned long log_before = s->h.log_lines;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    guest_boot(&s->plat, s->si_va, pol, &out->r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (show_progress)
        fprintf(stderr, "\r%78s\r", "");
    out->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    sim_guest_stats(s, &out->st);
    out->faulted = s->faulted;
    out->fault = s->fault;
    out->refused = s->m.last_set;
    out->last = s->m.last;
    struct pvm_frame_state fs;
    pvm_frame_query(&s->m, s->m.last.mfn, &fs);
    out->last_pfn = fs.valid ? fs.m2p : PVM_INVALID_M2P;
    for (unsigned long i = hostmem_log_first(&s->h, log_before); i < s->h.log_lines; i++)
        snprintf(out->xen_log[out->nlog++], sizeof(out->xen_log[0]), "%s", hostmem_log_line(&s->h, i));
    if (out->r.outcome != GUEST_OK)
        explain_run(s, out);
    if (audit)
        audit_run(s, scratch, scratch_bytes, out);
    free(scratch);
    sim_free(s);
    free(s);
    return 0;
}

/* The same run on pvmmu's own hypervisor under QEMU: what the kernel and the hypervisor reported. */
static int run_baremetal(uint64_t bytes, enum guest_policy pol, struct run *out)
{
    struct bm_run b;
    char err[300] = "";
    if (isatty(2))
        fprintf(stderr, "\r  %-16s booting on pvmmu's hypervisor under QEMU", guest_policy_name(pol));
    int rc = baremetal_boot(bytes >> 20, guest_policy_name(pol), &b, err, sizeof(err));
    if (isatty(2))
        fprintf(stderr, "\r%78s\r", "");
    if (rc) {
        fprintf(stderr, "pvmmu: %s on pvmmu's hypervisor: %s\n", guest_policy_name(pol), err);
        return 2;
    }
    memset(out, 0, sizeof(*out));
    out->pol = pol;
    out->r.outcome = (enum guest_fail)b.outcome;
    snprintf(out->phase, sizeof(out->phase), "%s", b.phase);
    snprintf(out->function, sizeof(out->function), "%s", b.function);
    out->r.phase = out->phase;
    out->r.function = out->function;
    out->r.rc = b.rc;
    out->r.max_pfn = bytes >> 12;
    snprintf(out->r.message, sizeof(out->r.message), "%s", b.message[0] ? b.message : b.fault);
    out->r.pt_pages[1] = b.pt_pages;
    out->r.pte_stores = b.pte_stores;
    out->st = b.st;
    out->seconds = b.seconds;
    out->audited = true;
    out->audit_issues = !b.audit_clean;
    if (b.refusal[0])
        snprintf(out->explanation, sizeof(out->explanation), "    the hypervisor's record of the refusal: %s\n",
                 b.refusal);
    /* The fault and the refusal record in the simulator's terms, so --json reads the same from both. */
    unsigned long long va, ec;
    if (sscanf(b.fault, "page fault at va %llx, error code %llx", &va, &ec) == 2) {
        out->faulted = true;
        out->fault.va = va;
        out->fault.error_code = (unsigned int)ec;
    }
    const char *why = strstr(b.refusal, " why="), *pfn = strstr(b.refusal, " pfn=");
    if (why && pfn && sscanf(b.refusal, "rc=%d", &out->last.rc) == 1) {
        out->refused = true;
        for (int w = 0; w < PVM_WHY_COUNT; w++)
            if (!strncmp(why + 5, pvm_why_name((enum pvm_why)w), (size_t)(pfn - why - 5)) &&
                strlen(pvm_why_name((enum pvm_why)w)) == (size_t)(pfn - why - 5))
                out->last.why = (enum pvm_why)w;
        sscanf(pfn, " pfn=%" SCNx64 " level=%u slot=%u", &out->last_pfn, &out->last.level, &out->last.slot);
    }
    return 0;
}

static const char *outcome_name(enum guest_fail f)
{
    switch (f) {
    case GUEST_OK: return "ok";
    case GUEST_BUG: return "BUG";
    case GUEST_PAGE_FAULT: return "page fault";
    default: return "panic";
    }
}

/*
 * Where and why the guest of run u failed, for a person (boot and compare): Xen's log lines (under
 * xen_head, if not NULL), the explanation (under why_head, if not NULL) and the policy's advice after
 * advice_head.  The prose goes through explain_wrap; the quoted Xen lines stay whole.
 */
static void print_account(const struct run *u, const char *xen_head, const char *why_head, const char *advice_head)
{
    if (u->nlog && xen_head)
        printf("%s", xen_head);
    for (unsigned int i = 0; i < u->nlog; i++)
        explain_printf(stdout, "    %s\n", u->xen_log[i]);
    if (u->explanation[0] && why_head)
        printf("%s", why_head);
    explain_wrap(stdout, u->explanation);
    if (u->r.advice[0])
        explain_printf(stdout, "%s%s\n", advice_head, u->r.advice);
}

/* boot's counters: hypercalls, requests, validation, ptwr, TLB flushes, page tables, times. */
static void print_counters(const struct run *u)
{
    const struct pvm_stats *st = &u->st;
    const struct guest_result *r = &u->r;
    printf("counters:\n");
    explain_printf(stdout, "  hypercalls          %" PRIu64 " (mmu_update %" PRIu64 ", mmuext_op %" PRIu64
                   ", update_va_mapping %" PRIu64 ", multicall %" PRIu64 ", vm_assist %" PRIu64 ", other %" PRIu64 ")\n",
                   pvm_stats_hypercalls(st), st->hc_mmu_update, st->hc_mmuext_op, st->hc_update_va_mapping,
                   st->hc_multicall, st->hc_vm_assist, st->hc_other);
    explain_printf(stdout, "  requests            mmu_update %" PRIu64 ", mmuext %" PRIu64 ", multicall entries %" PRIu64 "\n",
                   st->mmu_update_reqs, st->mmuext_ops, st->multicall_entries);
    explain_printf(stdout, "  validation          %" PRIu64 " entries; promotions L1 %" PRIu64 " L2 %" PRIu64 " L3 %" PRIu64
                   " L4 %" PRIu64 "; pins %" PRIu64 ", unpins %" PRIu64 "\n",
                   st->entries_validated, st->promotions[1], st->promotions[2], st->promotions[3], st->promotions[4],
                   st->pins, st->unpins);
    explain_printf(stdout, "  ptwr emulations     %" PRIu64 "\n", st->ptwr_emulations);
    /* The three causes the core counts are disjoint; what is left was asked for or came with a cr3 load. */
    uint64_t counted = st->tlb_flushes_typechange + st->tlb_flushes_linear_pt + st->tlb_flushes_alloc;
    uint64_t other = st->tlb_flushes >= counted ? st->tlb_flushes - counted : 0;
    explain_printf(stdout, "  TLB flushes         %" PRIu64 " (type change %" PRIu64 ", after L2+ updates %" PRIu64
                   ", frame reuse %" PRIu64 ", asked for or on a cr3 load %" PRIu64 "), invlpg %" PRIu64 "\n",
                   st->tlb_flushes, st->tlb_flushes_typechange, st->tlb_flushes_linear_pt, st->tlb_flushes_alloc,
                   other, st->tlb_invlpg);
    explain_printf(stdout, "  page-table pages    %" PRIu64 " (L1 %" PRIu64 ", L2 %" PRIu64 ", L3 %" PRIu64 ")\n",
                   guest_pt_pages(r), r->pt_pages[1], r->pt_pages[2], r->pt_pages[3]);
    explain_printf(stdout, "  PTEs stored         %" PRIu64 "\n", r->pte_stores);
    explain_printf(stdout, "  wall time           %.3f s\n", u->seconds);
    if (u->audited)
        explain_printf(stdout, "  audit               %.3f s, %zu MiB of scratch%s\n", u->audit_seconds,
                       u->audit_scratch >> 20,
                       u->audit_scratch < u->audit_need ? " (region by region: one pass would need more)" : "");
}

/* boot's report for a person: the guest, the outcome, where and why it failed, the counters. */
static void print_text(const struct run *u, uint64_t bytes)
{
    const struct guest_result *r = &u->r;
    explain_printf(stdout, "pvmmu boot: %.0f MiB guest (%" PRIu64 " pages), policy %s: %s\n", (double)bytes / (1 << 20),
                   r->max_pfn, guest_policy_name(u->pol), guest_policy_summary(u->pol));
    if (r->outcome == GUEST_OK) {
        printf("outcome: ok, auditor %s\n", !u->audited ? "not run (--no-audit)" : u->audit_issues ? "FOUND ISSUES" : "clean");
    } else {
        explain_printf(stdout, "outcome: FAILED (%s) in %s, %s\n", outcome_name(r->outcome), r->phase, r->function);
        explain_printf(stdout, "  guest: %s\n", r->message);
        print_account(u, "  Xen said:\n", "  why:\n", "  the policy should have: ");
    }
    print_counters(u);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

/*
 * The error code of a run's failure: a BUG's failed hypercall result; for a page fault, the code the
 * hypervisor refused the faulting access with (its refusal record), if it refused one.  Returns false
 * when the failure has none (a panic, a fault no hypercall or emulation answered); 0 for a boot.
 */
static bool failure_rc(const struct run *u, long *rc)
{
    const struct guest_result *r = &u->r;
    *rc = r->outcome == GUEST_PAGE_FAULT && u->refused ? u->last.rc : r->rc;
    return r->outcome == GUEST_OK || r->outcome == GUEST_BUG || (r->outcome == GUEST_PAGE_FAULT && u->refused);
}

/* One run as a JSON object (docs/json.md), on stdout; schema_version only at the top level (top). */
static void print_json(const struct run *u, uint64_t bytes, bool top)
{
    const struct pvm_stats *st = &u->st;
    const struct guest_result *r = &u->r;
    long rc;
    if (top)
        printf("{\"schema_version\":%d,\"policy\":", JSON_SCHEMA_VERSION);
    else
        printf("{\"policy\":");
    json_str(guest_policy_name(u->pol));
    printf(",\"mem_bytes\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"outcome\":", bytes, r->max_pfn);
    json_str(outcome_name(r->outcome));
    if (r->outcome != GUEST_OK) {
        printf(",\"phase\":");
        json_str(r->phase);
        printf(",\"function\":");
        json_str(r->function);
        printf(",\"message\":");
        json_str(r->message);
        printf(",\"advice\":");
        json_str(r->advice);
        printf(",\"xen_log\":[");
        for (unsigned int i = 0; i < u->nlog; i++) {
            printf(i ? "," : "");
            json_str(u->xen_log[i]);
        }
        printf("],\"explanation\":");
        json_str(u->explanation);
    }
    if (failure_rc(u, &rc))
        printf(",\"rc\":%ld", rc);
    else
        printf(",\"rc\":null");
    if (u->faulted && r->outcome == GUEST_PAGE_FAULT)
        printf(",\"fault\":{\"va\":\"%#" PRIx64 "\",\"error_code\":%u}", u->fault.va, u->fault.error_code);
    if (u->refused)
        printf(",\"refusal\":{\"rc\":%d,\"why\":\"%s\",\"pfn\":\"%#" PRIx64 "\",\"level\":%u,\"slot\":%u}",
               u->last.rc, why_cause_name(u->last.why), u->last_pfn, u->last.level, u->last.slot);
    printf(",\"audited\":%s,\"audit_issues\":%lu", u->audited ? "true" : "false", u->audit_issues);
    printf(",\"hypercalls\":%" PRIu64 ",\"mmu_update\":%" PRIu64 ",\"mmuext_op\":%" PRIu64 ",\"update_va_mapping\":%" PRIu64
           ",\"multicall\":%" PRIu64 ",\"vm_assist\":%" PRIu64 ",\"mmu_update_reqs\":%" PRIu64 ",\"mmuext_ops\":%" PRIu64
           ",\"multicall_entries\":%" PRIu64 ",\"entries_validated\":%" PRIu64 ",\"promotions\":[%" PRIu64 ",%" PRIu64
           ",%" PRIu64 ",%" PRIu64 "],\"pins\":%" PRIu64 ",\"ptwr_emulations\":%" PRIu64 ",\"tlb_flushes\":%" PRIu64
           ",\"pt_pages\":[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "],\"pte_stores\":%" PRIu64 ",\"seconds\":%.6f}",
           pvm_stats_hypercalls(st), st->hc_mmu_update, st->hc_mmuext_op, st->hc_update_va_mapping, st->hc_multicall,
           st->hc_vm_assist, st->mmu_update_reqs, st->mmuext_ops, st->multicall_entries, st->entries_validated,
           st->promotions[1], st->promotions[2], st->promotions[3], st->promotions[4], st->pins, st->ptwr_emulations,
           st->tlb_flushes, r->pt_pages[1], r->pt_pages[2], r->pt_pages[3], r->pte_stores, u->seconds);
}

struct opts {
    uint64_t bytes;
    int policy;
    bool json, verbose, no_audit, baremetal;
    const char *replay;   /* compare --replay: a record of real Linux, replayed for a row of its own */
};

/* "unknown policy" and the list of policies, as one line on stderr. */
static void unknown_policy(const char *cmd, const char *v)
{
    fprintf(stderr, "pvmmu %s: unknown policy '%s' (expected one of:", cmd, v);
    for (int p = 0; p < POLICY_COUNT; p++)
        fprintf(stderr, " %s", guest_policy_name((enum guest_policy)p));
    fprintf(stderr, ")\n");
}

/* --mem or --policy (option a) with its value v into o: 0, or 2 after one error line. */
static int parse_valued(const char *cmd, const char *a, const char *v, struct opts *o, bool want_policy)
{
    char err[256] = "";
    if (!strcmp(a, "--mem")) {
        if (parse_size(v, &o->bytes, err, sizeof(err))) {
            fprintf(stderr, "pvmmu %s: %s\n", cmd, err);
            return 2;
        }
    } else if (!want_policy) {
        fprintf(stderr, "pvmmu %s: --policy is not an option here (compare runs every policy)\n", cmd);
        return 2;
    } else if ((o->policy = guest_policy_parse(v)) < 0) {
        unknown_policy(cmd, v);
        return 2;
    }
    return 0;
}

/* The options together: --baremetal's limits and images, compare's default size, boot's --policy.  0 or 2. */
static int check_opts(const char *cmd, struct opts *o, bool want_policy)
{
    if (o->baremetal && o->no_audit) {   /* accepted and ignored, it would let the header promise nothing */
        fprintf(stderr, "pvmmu %s: --no-audit is not an option with --baremetal (pvmmu's hypervisor audits every "
                        "boot)\n", cmd);
        return 2;
    }
    if (o->replay && o->json) {
        fprintf(stderr, "pvmmu %s: --replay is not an option with --json (the JSON report has no row for it)\n", cmd);
        return 2;
    }
    if (!o->bytes && o->replay)   /* no --mem: the record's dom0 size, once the replay has read it */
        return 0;
    if (!o->bytes)   /* no --mem: compare's default for where it runs (boot's is preset) */
        o->bytes = o->baremetal ? DEFAULT_BAREMETAL_BYTES : DEFAULT_COMPARE_BYTES;
    if (o->baremetal && o->bytes > ((uint64_t)BAREMETAL_MAX_MIB << 20)) {
        fprintf(stderr, "pvmmu %s: --baremetal supports at most %uM (the hypervisor's direct map)\n", cmd,
                BAREMETAL_MAX_MIB);
        return 2;
    }
    if (o->baremetal && (access(baremetal_hv(), R_OK) || access(baremetal_kernel(), R_OK))) {
        fprintf(stderr, "pvmmu %s: %s not readable (build it with `make %s`)\n", cmd,
                access(baremetal_hv(), R_OK) ? baremetal_hv() : baremetal_kernel(),
                access(baremetal_hv(), R_OK) ? "build/baremetal/hv.bin" : "build/xen/dom0.elf");
        return 2;
    }
    if (want_policy && o->policy < 0) {
        fprintf(stderr, "pvmmu %s: --policy NAME is required\n", cmd);
        return 2;
    }
    return 0;
}

/*
 * The arguments of `pvmmu cmd` (boot when want_policy, else compare) into o.  Returns 0, or 2 after one
 * line on stderr naming the bad argument or combination.
 */
static int parse_opts(const char *cmd, int argc, char **argv, struct opts *o, bool want_policy)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--no-audit")) {
            o->no_audit = true;
        } else if (!strcmp(a, "--baremetal") && !want_policy) {
            o->baremetal = true;
        } else if ((!strcmp(a, "-v") || !strcmp(a, "--verbose")) && want_policy) {
            o->verbose = true;   /* compare has no -v: one guest's log at a time (boot -v) */
        } else if (!strcmp(a, "--replay") && !want_policy) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pvmmu %s: --replay needs a record file\n", cmd);
                return 2;
            }
            o->replay = argv[++i];
        } else if (!strcmp(a, "--mem") || !strcmp(a, "--policy")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pvmmu %s: %s needs a value\n", cmd, a);
                return 2;
            }
            if (parse_valued(cmd, a, argv[++i], o, want_policy))
                return 2;
        } else {
            fprintf(stderr, "pvmmu %s: unknown argument '%s'\n", cmd, a);
            return 2;
        }
    }
    return check_opts(cmd, o, want_policy);
}

int cmd_boot(int argc, char **argv)
{
    struct opts o = { .bytes = 1ULL << 30, .policy = -1 };
    int rc = parse_opts("boot", argc, argv, &o, true);
    if (rc)
        return rc;
    struct run *u = host_calloc(1, sizeof(*u), "the report of a boot");
    FILE *log = !o.verbose ? NULL : o.json ? stderr : stdout;   /* with --json, stdout holds the JSON alone */
    rc = run_one(o.bytes, (enum guest_policy)o.policy, log, isatty(2) && !o.verbose, !o.no_audit, u);
    if (!rc) {
        if (o.json) {
            print_json(u, o.bytes, true);
            putchar('\n');
        } else {
            print_text(u, o.bytes);
        }
        rc = u->r.outcome == GUEST_OK && !u->audit_issues ? 0 : 1;
    }
    free(u);
    return rc;
}

/* Every policy at o->bytes on the simulator or, with --baremetal, the hypervisor, into runs[]: 0, or 2. */
static int run_all(const struct opts *o, struct run *runs)
{
    int rc = 0;
    for (int p = 0; p < POLICY_COUNT && !rc; p++)
        rc = o->baremetal ? run_baremetal(o->bytes, (enum guest_policy)p, &runs[p])
                          : run_one(o->bytes, (enum guest_policy)p, NULL, isatty(2), !o->no_audit, &runs[p]);
    return rc;
}

/* compare --json: one document, every policy's run (docs/json.md). */
static void print_compare_json(const struct run *runs, uint64_t bytes)
{
    printf("{\"schema_version\":%d,\"mem_bytes\":%" PRIu64 ",\"policies\":[", JSON_SCHEMA_VERSION, bytes);
    for (int p = 0; p < POLICY_COUNT; p++) {
        printf(p ? "," : "");
        print_json(&runs[p], bytes, false);
    }
    printf("]}\n");
}

/* compare's first line: the guest's size, where it ran, and what "ok" means (audited or not). */
static void print_compare_header(const struct opts *o, const struct run *runs)
{
    bool audited = true;   /* what "ok" means: every run audited (the hypervisor always audits), or none */
    for (int p = 0; p < POLICY_COUNT; p++)
        audited = audited && runs[p].audited;
    printf("pvmmu compare: %.0f MiB guest %s %s\n\n", (double)o->bytes / (1 << 20),
           o->baremetal ? "on pvmmu's hypervisor under QEMU" : "on the simulated PV MMU",
           audited ? "(ok = booted, auditor clean)" : "(--no-audit: ok = booted, auditor not run)");
}

/* The first table's row for real Linux's boot to "Memory:", replayed on the core (compare --replay); per GiB
 * of the recorded dom0, whatever size the policies ran at. */
static void print_real_hypercalls(const struct replay_summary *real)
{
    const struct pvm_stats *st = &real->core[0];
    uint64_t hc = pvm_stats_hypercalls(st);
    printf("%-16s %-13s %10" PRIu64 " %8.1f %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %7" PRIu64 "\n", "real Linux",
           "replayed", hc, (double)hc / ((double)real->dom0_bytes / (1ULL << 30)), st->hc_mmu_update,
           st->hc_mmuext_op, st->hc_update_va_mapping, st->ptwr_emulations);
}

/* The first table: each policy's outcome and hypercalls, in all and per GiB of a guest of bytes. */
static void print_hypercall_table(const struct run *runs, uint64_t bytes, const struct replay_summary *real)
{
    double gib = (double)bytes / (1ULL << 30);
    printf("%-16s %-13s %10s %8s %10s %8s %8s %7s\n", "policy", "outcome", "hypercalls", "all/GiB", "mmu_update",
           "mmuext", "uva_map", "ptwr");
    for (int p = 0; p < POLICY_COUNT; p++) {
        const struct run *u = &runs[p];
        uint64_t hc = pvm_stats_hypercalls(&u->st);
        printf("%-16s %-13s %10" PRIu64 " %8.1f %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %7" PRIu64 "\n",
               guest_policy_name(u->pol),
               u->r.outcome == GUEST_OK ? (!u->audited ? "ok, unaudited" : u->audit_issues ? "ok, AUDIT!" : "ok")
                                        : outcome_name(u->r.outcome),
               hc, (double)hc / gib, u->st.hc_mmu_update, u->st.hc_mmuext_op, u->st.hc_update_va_mapping,
               u->st.ptwr_emulations);
    }
    if (real)
        print_real_hypercalls(real);
}

/* The second table: each policy's pins, validations, flushes and page-table pages (real Linux's: tables validated). */
static void print_page_table_counts(const struct run *runs, const struct replay_summary *real)
{
    printf("\n%-16s %8s %11s %9s %9s\n", "policy", "pins", "validated", "flushes", "pt pages");
    for (int p = 0; p < POLICY_COUNT; p++) {
        const struct run *u = &runs[p];
        printf("%-16s %8" PRIu64 " %11" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n", guest_policy_name(u->pol), u->st.pins,
               u->st.entries_validated, u->st.tlb_flushes, guest_pt_pages(&u->r));
    }
    if (!real)
        return;
    const struct pvm_stats *st = &real->core[0];
    printf("%-16s %8" PRIu64 " %11" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n", "real Linux", st->pins, st->entries_validated,
           st->tlb_flushes, st->promotions[1] + st->promotions[2] + st->promotions[3] + st->promotions[4]);
    explain_printf(stdout, "\nreal Linux: a record of real Linux as dom0 of real Xen (%s), from its first "
                           "hypercall to its \"Memory:\" line (the end of mm_init), replayed on the core, which agreed "
                           "with Xen on every event: the core's counters for it (its hypercalls that are not PV MMU "
                           "calls are not counted); pt pages: the tables the core validated\n", real->rec);
}

/*
 * compare --replay: replay the record (its report is not printed), keep its counts in *real; without --mem the
 * policies run at the record's dom0 size.  0, or the replay's exit status after one line on stderr.
 */
static int replay_for_compare(struct opts *o, struct replay_summary *real)
{
    FILE *quiet = fopen("/dev/null", "w");
    if (!quiet) {
        fprintf(stderr, "pvmmu compare: cannot open /dev/null: %s\n", strerror(errno));
        return 2;
    }
    struct replay_opts ro = { .out = quiet, .err = stderr, .summary = real };
    int rc = replay_run(o->replay, &ro);
    fclose(quiet);
    if (rc == 1)
        fprintf(stderr, "pvmmu compare: the core does not agree with the record %s (pvmmu replay %s says where)\n",
                o->replay, o->replay);
    if (rc)
        return rc;
    char err[256] = "";
    uint64_t bytes;
    if (!o->bytes && (parse_size("64M", &bytes, err, sizeof(err)) || real->dom0_bytes < bytes ||
                      real->dom0_bytes % (2ULL << 20))) {
        fprintf(stderr, "pvmmu compare: %s: dom0 had %llu bytes, not a size the policies boot at (give --mem)\n",
                o->replay, (unsigned long long)real->dom0_bytes);
        return 2;
    }
    if (!o->bytes)
        o->bytes = real->dom0_bytes;
    return 0;
}

/* Below the tables, each policy that failed: where, Xen's log lines, why, and what it should have done. */
static void print_failures(const struct run *runs)
{
    for (int p = 0; p < POLICY_COUNT; p++) {
        const struct run *u = &runs[p];
        if (u->r.outcome == GUEST_OK)
            continue;
        explain_printf(stdout, "\n%s, in %s/%s: %s\n", guest_policy_name(u->pol), u->r.phase, u->r.function,
                       u->r.message);
        print_account(u, NULL, NULL, "  should have: ");
    }
}

int cmd_compare(int argc, char **argv)
{
    struct opts o = { .bytes = 0, .policy = -1 };
    int rc = parse_opts("compare", argc, argv, &o, false);
    if (rc)
        return rc;
    struct replay_summary real;
    if (o.replay && (rc = replay_for_compare(&o, &real)))
        return rc;
    struct run *runs = host_calloc(POLICY_COUNT, sizeof(*runs), "the reports of every boot");
    rc = run_all(&o, runs);
    if (rc) {
        free(runs);
        return rc;
    }
    int worst = 0;   /* the exit status: 1 if the auditor found something after any boot, whatever the format */
    for (int p = 0; p < POLICY_COUNT; p++)
        if (runs[p].audit_issues)
            worst = 1;
    if (o.json) {
        print_compare_json(runs, o.bytes);
    } else {
        print_compare_header(&o, runs);
        /* Two tables that fit 100 columns: the hypercalls, then the page tables; where a policy failed is below. */
        print_hypercall_table(runs, o.bytes, o.replay ? &real : NULL);
        print_page_table_counts(runs, o.replay ? &real : NULL);
        print_failures(runs);
    }
    free(runs);
    return worst;
}
