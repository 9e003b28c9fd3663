/*
 * replay_stats.c - what the record asked, per phase (split as
 * scripts/trace-stats.py splits it: at the console lines "Memory:" and "Run
 * /init"), beside what the core counted while it replayed it, and the
 * replay's throughput.
 */
#include <stddef.h>
#include <string.h>

#include "replay_int.h"

static const char *const hc_names[64] = {
    [0] = "set_trap_table", [1] = "mmu_update", [2] = "set_gdt", [3] = "stack_switch", [4] = "set_callbacks",
    [5] = "fpu_taskswitch", [6] = "sched_op_compat", [7] = "platform_op", [8] = "set_debugreg",
    [9] = "get_debugreg", [10] = "update_descriptor", [12] = "memory_op", [13] = "multicall",
    [14] = "update_va_mapping", [15] = "set_timer_op", [16] = "event_channel_op_compat", [17] = "xen_version",
    [18] = "console_io", [19] = "physdev_op_compat", [20] = "grant_table_op", [21] = "vm_assist",
    [22] = "update_va_mapping_otherdomain", [23] = "iret", [24] = "vcpu_op", [25] = "set_segment_base",
    [26] = "mmuext_op", [27] = "xsm_op", [28] = "nmi_op", [29] = "sched_op", [30] = "callback_op",
    [31] = "xenoprof_op", [32] = "event_channel_op", [33] = "physdev_op", [34] = "hvm_op", [35] = "sysctl",
    [36] = "domctl", [37] = "kexec_op", [40] = "xenpmu_op", [41] = "dm_op", [48] = "arch_0 (mca)",
};

static const char *const mmuext_names[32] = {
    "PIN_L1_TABLE", "PIN_L2_TABLE", "PIN_L3_TABLE", "PIN_L4_TABLE", "UNPIN_TABLE", "NEW_BASEPTR",
    "TLB_FLUSH_LOCAL", "INVLPG_LOCAL", "TLB_FLUSH_MULTI", "INVLPG_MULTI", "TLB_FLUSH_ALL", "INVLPG_ALL",
    "FLUSH_CACHE", "SET_LDT", "14", "NEW_USER_BASEPTR", "CLEAR_PAGE", "COPY_PAGE", "FLUSH_CACHE_GLOBAL",
    "MARK_SUPER", "UNMARK_SUPER",
};

static const char *const mu_names[8] = { "NORMAL_PT_UPDATE", "MACHPHYS_UPDATE", "PT_UPDATE_PRESERVE_AD",
                                         "PT_UPDATE_NO_TRANSLATE", "4", "5", "6", "7" };

static const char *const mem_names[6] = {
    "memory: exchange, frames given", "memory: exchange, extents received", "memory: decrease_reservation",
    "memory: increase_reservation", "memory: populate_physmap", "memory: Xen's frames shared with dom0",
};

/* One stream line into c. */
static void count_line(struct replay_counts *c, const struct trace_ev *e)
{
    c->events++;
    switch (e->tag) {
    case TR_HC:
        c->hc++;
        c->by_hc[e->a[0] < 63 ? e->a[0] : 63]++;
        c->reissued += (e->flags & TRACE_REISSUE) != 0;
        break;
    case TR_MC: c->entries_by_hc[e->a[1] < 63 ? e->a[1] : 63]++; break;
    case TR_MU: c->mu_by_cmd[e->a[0] & 7] += e->rc != -85; break;
    case TR_MX: c->mx_by_cmd[e->a[0] < 31 ? e->a[0] : 31] += e->rc != -85; break;
    case TR_VE:
        c->val[e->type] += e->rc == 0;
        c->val_preempted += e->rc == -85;
        break;
    case TR_DE:
        c->deval[e->type] += e->rc == 0;
        c->deval_preempted += e->rc == -85;
        break;
    case TR_PW: c->pw[e->type]++; break;
    case TR_TR:
        if (e->a[0] == 14)
            c->tr_pf[e->type]++;
        else
            c->tr_other++;
        break;
    case TR_XIN: case TR_XOUT: case TR_DEC: case TR_INC: case TR_POP: case TR_SHARE:
        c->mem[e->tag - TR_XIN]++;
        break;
    default:
        break;
    }
}

void replay_count_record(struct replay *r)
{
    int p = 0;
    for (size_t i = r->t.init_end + 1; i < r->t.nev; i++) {
        const struct trace_ev *e = &r->t.ev[i];
        if (e->tag == TR_CON && e->type)
            p = e->type;
        count_line(&r->rec[p], e);
    }
}

/* One row: its label and a value per phase, then the total; rows that are 0 everywhere are left out. */
static void row(FILE *out, const char *label, const uint64_t v[REPLAY_PHASES])
{
    uint64_t total = v[0] + v[1] + v[2];
    if (total)
        fprintf(out, "%-50s %11llu %12llu %12llu %11llu\n", label, (unsigned long long)v[0],
                (unsigned long long)v[1], (unsigned long long)v[2], (unsigned long long)total);
}

/* A row of the record's counts: the field at offset `off` (a uint64_t) of each phase's replay_counts. */
static void rec_row(FILE *out, const struct replay *r, const char *label, size_t off)
{
    uint64_t v[REPLAY_PHASES];
    for (int p = 0; p < REPLAY_PHASES; p++)
        memcpy(&v[p], (const char *)&r->rec[p] + off, sizeof(v[p]));
    row(out, label, v);
}

/* A row of the core's counters: the field at offset `off` of each phase's pvm_stats. */
static void core_row(FILE *out, const struct replay *r, const char *label, size_t off)
{
    uint64_t v[REPLAY_PHASES];
    for (int p = 0; p < REPLAY_PHASES; p++)
        memcpy(&v[p], (const char *)&r->core[p] + off, sizeof(v[p]));
    row(out, label, v);
}

#define REC(label, field) rec_row(out, r, label, offsetof(struct replay_counts, field))
#define CORE(label, field) core_row(out, r, label, offsetof(struct pvm_stats, field))
/* The same for element i of an array field. */
#define REC_AT(label, field, i) rec_row(out, r, label, offsetof(struct replay_counts, field) + (i) * sizeof(uint64_t))
#define CORE_AT(label, field, i) core_row(out, r, label, offsetof(struct pvm_stats, field) + (i) * sizeof(uint64_t))

static void hypercall_rows(FILE *out, const struct replay *r)
{
    char label[80];
    REC("hypercalls (hc lines)", hc);
    REC("  re-issued after Xen's preemption", reissued);
    REC("  PV MMU calls replayed on the core", calls);
    for (unsigned int nr = 0; nr < 64; nr++) {
        snprintf(label, sizeof(label), "hypercall %s%s", hc_names[nr] ? hc_names[nr] : "(other)",
                 trace_is_pv_mmu(nr) ? "" : " (skipped)");
        REC_AT(label, by_hc, nr);
    }
    for (unsigned int nr = 0; nr < 64; nr++) {
        snprintf(label, sizeof(label), "multicall entries: %s%s", hc_names[nr] ? hc_names[nr] : "(other)",
                 trace_is_pv_mmu(nr) ? "" : " (not compared)");
        REC_AT(label, entries_by_hc, nr);
    }
    for (unsigned int k = 0; k < 8; k++) {
        snprintf(label, sizeof(label), "mmu_update %s", mu_names[k]);
        REC_AT(label, mu_by_cmd, k);
    }
    for (unsigned int k = 0; k < 32; k++) {
        snprintf(label, sizeof(label), "mmuext %s", mmuext_names[k] ? mmuext_names[k] : "(other)");
        REC_AT(label, mx_by_cmd, k);
    }
}

static void validation_rows(FILE *out, const struct replay *r)
{
    char label[80];
    for (unsigned int l = 1; l <= 4; l++) {
        snprintf(label, sizeof(label), "validations l%u (Xen)", l);
        REC_AT(label, val, l);
        CORE_AT("  the core's", promotions, l);
    }
    for (unsigned int l = 1; l <= 4; l++) {
        snprintf(label, sizeof(label), "devalidations l%u (Xen)", l);
        REC_AT(label, deval, l);
        CORE_AT("  the core's", demotions, l);
    }
    REC("validations preempted by Xen (-85, taken in)", val_preempted);
    REC("devalidations preempted by Xen (-85, taken in)", deval_preempted);
    REC_AT("descriptor-page validations (not modelled)", val, TRACE_TYPE_SEG);
    CORE("entries validated by the core", entries_validated);
    CORE("pins by the core", pins);
    CORE("unpins by the core", unpins);
}

static void other_rows(FILE *out, const struct replay *r)
{
    REC_AT("ptwr writes, ok", pw, TRACE_PW_OK);
    REC_AT("ptwr writes, refused", pw, TRACE_PW_REFUSED);
    REC_AT("ptwr writes, cmpxchg mismatch", pw, TRACE_PW_MISMATCH);
    CORE("  the core's ptwr emulations", ptwr_emulations);
    REC_AT("bounced #PF from user mode (hw ones probed)", tr_pf, 0);
    REC_AT("bounced #PF from kernel mode (hw ones probed)", tr_pf, 1);
    REC("other bounced exceptions (not replayed)", tr_other);
    for (unsigned int k = 0; k < 6; k++)
        REC_AT(mem_names[k], mem, k);
    REC("record lines after the initial state", events);
}

void replay_print_counts(struct replay *r, double seconds)
{
    FILE *out = r->o->out;
    fprintf(out, "\n%-50s %11s %12s %12s %11s\n", "per phase", "to Memory:", "to Run /init", "/init to end",
            "total");
    hypercall_rows(out, r);
    validation_rows(out, r);
    other_rows(out, r);
    uint64_t events = r->t.nev - r->t.init_end - 1, entries = 0;
    for (int p = 0; p < REPLAY_PHASES; p++)
        entries += r->core[p].entries_validated;
    fprintf(out, "\nreplay: %.2f s for %llu events: %.0f events/s, %.0f validated entries/s\n", seconds,
            (unsigned long long)events, seconds > 0 ? (double)events / seconds : 0.0,
            seconds > 0 ? (double)entries / seconds : 0.0);
}
