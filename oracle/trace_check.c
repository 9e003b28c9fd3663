/*
 * trace_check.c - a record's consistency with itself (trace_check.h).
 */
#include "trace_check.h"

#include <stdarg.h>

/* One line "PATH:LINE: what" on err; returns -1. */
__attribute__((format(printf, 4, 5)))
static int refuse(const struct trace *t, FILE *err, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    fprintf(err, "%s:%u: ", t->path, line);
    va_start(ap, fmt);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputc('\n', err);
    return -1;
}

/* ---- argument counts ---- */

/*
 * The arguments each hypercall takes on 64-bit PV, from its prototype in Xen 4.17's
 * xen/include/hypercall-defs.c (the recorder writes as many as that table's pv64 column says).  `built`:
 * the hypercall is in the table only in a Xen configured with it (CONFIG_GRANT_TABLE, CONFIG_HVM,
 * CONFIG_KEXEC, ...); one built without it has 0 there, and so has its record.
 */
static const struct hypercall_args {
    uint8_t nr, args;
    bool built;
} hypercall_args[] = {
    { 0, 1, false },    /* set_trap_table */
    { 2, 2, false },    /* set_gdt */
    { 3, 2, false },    /* stack_switch */
    { 4, 3, false },    /* set_callbacks */
    { 5, 1, false },    /* fpu_taskswitch */
    { 6, 2, false },    /* sched_op_compat */
    { 7, 1, true },     /* platform_op */
    { 8, 2, false },    /* set_debugreg */
    { 9, 1, false },    /* get_debugreg */
    { 10, 2, false },   /* update_descriptor */
    { 12, 2, false },   /* memory_op */
    { 15, 1, false },   /* set_timer_op */
    { 16, 1, false },   /* event_channel_op_compat */
    { 17, 2, false },   /* xen_version */
    { 18, 3, false },   /* console_io */
    { 19, 1, false },   /* physdev_op_compat */
    { 20, 3, true },    /* grant_table_op */
    { 23, 0, false },   /* iret */
    { 24, 3, false },   /* vcpu_op */
    { 25, 2, false },   /* set_segment_base */
    { 27, 1, false },   /* xsm_op */
    { 28, 2, false },   /* nmi_op */
    { 29, 2, false },   /* sched_op */
    { 30, 2, false },   /* callback_op */
    { 31, 2, true },    /* xenoprof_op */
    { 32, 2, false },   /* event_channel_op */
    { 33, 2, false },   /* physdev_op */
    { 34, 2, true },    /* hvm_op */
    { 35, 1, true },    /* sysctl */
    { 36, 1, true },    /* domctl */
    { 37, 2, true },    /* kexec_op */
    { 39, 5, true },    /* argo_op */
    { 40, 2, false },   /* xenpmu_op */
    { 41, 3, true },    /* dm_op */
    { 42, 5, true },    /* hypfs_op */
    { 48, 1, false },   /* mca (arch_0) */
    { 49, 1, true },    /* paging_domctl_cont (arch_1) */
};

int trace_check_args(const struct trace *t, FILE *err, uint32_t line, uint64_t nr, unsigned int have)
{
    for (size_t i = 0; i < sizeof(hypercall_args) / sizeof(hypercall_args[0]); i++) {
        const struct hypercall_args *h = &hypercall_args[i];
        if (h->nr != nr || have == h->args || (h->built && have == 0))
            continue;
        return refuse(t, err, line, "hypercall %llx takes %u argument%s%s, this line gives %u", (unsigned long long)nr,
                      h->args, h->args == 1 ? "" : "s", h->built ? " (0 in a Xen built without it)" : "", have);
    }
    return 0;
}
