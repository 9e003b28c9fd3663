/*
 * policy.c - the strategies of the 2011 thread for making new page-table
 * pages read-only, as knobs on one kernel, and what each should have done.
 */
#include "kernel.h"

static const struct {
    const char *name, *summary;
    struct policy_knobs knobs;
} policies[POLICY_COUNT] = {
    [POLICY_LINUX_2_6_39] = { "linux-2.6.39", "v2.6.39-rc1..rc4: buffer at the top of memory, mask_rw_pte of v2.6.37, no hack",
                              { MASK_JEREMY, false, DEFER_NONE, false, false } },
    [POLICY_LINUX_3_0] = { "linux-3.0", "mask_rw_pte range hack up to pgt_buf_top + xen_mapping_pagetable_reserve",
                           { MASK_HACK, true, DEFER_NONE, false, false } },
    [POLICY_NO_RESERVE] = { "no-reserve", "the mask_rw_pte hack without xen_mapping_pagetable_reserve (v2.6.39-rc5)",
                            { MASK_HACK, false, DEFER_NONE, false, false } },
    [POLICY_DEFER_CR3] = { "defer-cr3", "thread proposal (a): make the new tables RO at the next cr3 load",
                           { MASK_ALIAS_ONLY, true, DEFER_CR3, false, false } },
    [POLICY_DEFER_TABLE] = { "defer-table", "thread proposal (b): make each table RO once it is finished",
                             { MASK_ALIAS_ONLY, true, DEFER_TABLE, false, false } },
    [POLICY_DEFER_POSTALLOC] = { "defer-postalloc", "thread proposal (c): make the tables RO at post-allocator time",
                                 { MASK_ALIAS_ONLY, true, DEFER_POSTALLOC, false, false } },
    [POLICY_LINUX_3_9] = { "linux-3.9", "top-down rework: tables from already-mapped memory, no hack",
                           { MASK_NONE, false, DEFER_NONE, true, false } },
    [POLICY_BATCHED] = { "batched", "pvmmu: tables from mapped memory, RO and hooked in large mmu_update batches",
                         { MASK_NONE, false, DEFER_NONE, false, true } },
};

const char *guest_policy_name(enum guest_policy p)
{
    return (unsigned int)p < POLICY_COUNT ? policies[p].name : "?";
}

const char *guest_policy_summary(enum guest_policy p)
{
    return (unsigned int)p < POLICY_COUNT ? policies[p].summary : "?";
}

int guest_policy_parse(const char *s)
{
    for (int i = 0; i < POLICY_COUNT; i++) {
        const char *a = policies[i].name, *b = s;
        while (*a && *a == *b) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return i;
    }
    return -1;
}

void policy_knobs(enum guest_policy p, struct policy_knobs *kn)
{
    *kn = policies[p].knobs;
}

/* What the policy should have done, given where it died. */
const char *policy_advice(const struct kernel *k)
{
    switch (k->pol) {
    case POLICY_LINUX_2_6_39:
        return "map_low_page() gave a live page table a writable early_ioremap alias. The rc5 hack makes every fixmap "
               "alias read-only except the page alloc_low_page just handed out (pgt_buf_end - 1), and makes the whole "
               "buffer [pgt_buf_start, pgt_buf_top) read-only in the direct map.";
    case POLICY_NO_RESERVE:
        return "[pgt_buf_end, pgt_buf_top) stayed read-only in the direct map but went back to memblock, which handed "
               "it out. xen_mapping_pagetable_reserve (279b706) reserves [pgt_buf_start, pgt_buf_end) and makes the "
               "unused tail writable again before anything reuses it.";
    case POLICY_DEFER_CR3:
    case POLICY_DEFER_TABLE:
    case POLICY_DEFER_POSTALLOC:
        return "x86-64 kernel_physical_mapping_init hooks each new table into the live page table at once and Xen "
               "validates it then, so the direct-map ptes of the table buffer must be read-only when they are "
               "written (mask_rw_pte up to pgt_buf_top), not later.";
    default:
        return "every page-table page must have no writable mapping left when it is pinned, hooked into a validated "
               "table or loaded as cr3.";
    }
}
