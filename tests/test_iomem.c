/*
 * test_iomem.c - a domain's I/O permission as Xen's iomem_caps rangeset:
 * pvm_domain_iomem_add (union, merging what overlaps or touches),
 * pvm_domain_iomem_deny (subtraction, a range split in two), the limit of
 * PVM_MAX_IOMEM_RANGES (-ENOSPC, nothing changed), pvm_domain_iomem_permit
 * replacing them all, and mapping an I/O frame in a range, in a hole between
 * two and just outside it.  The auditor checks the ranges' order after
 * every call (TM_OK, TM_RC).
 */
#include "harness.h"

#include <string.h>

#define P  _PAGE_PRESENT
#define RW _PAGE_RW
#define TOP (~0ULL)   /* the highest frame number a range may name */

/* mmu_update of one entry by v for itself; returns rc. */
static int update(struct pvm_vcpu *v, uint64_t table, unsigned int slot, uint64_t val)
{
    struct mmu_update u = { (table << 12) | (slot * 8ULL), val };
    return pvm_mmu_update(v, &u, 1, NULL, DOMID_SELF);
}

/*
 * Domain id's ranges must be exactly the n (first, last) pairs of want, in
 * that order; a mismatch fails at the caller's line with both lists.
 */
static void assert_ranges(struct tm *t, domid_t id, const uint64_t *want, unsigned int n, const char *file, int line)
{
    const struct pvm_domain *d = pvm_domain(&t->m, id);
    assert_non_null(d);
    bool same = d->nr_iomem == n;
    for (unsigned int i = 0; same && i < n; i++)
        same = d->iomem[i].first == want[2 * i] && d->iomem[i].last == want[2 * i + 1];
    if (same)
        return;
    char have[400] = "", exp[400] = "";
    for (unsigned int i = 0; i < d->nr_iomem && i < PVM_MAX_IOMEM_RANGES; i++)
        snprintf(have + strlen(have), sizeof(have) - strlen(have), " %llx-%llx", (unsigned long long)d->iomem[i].first,
                 (unsigned long long)d->iomem[i].last);
    for (unsigned int i = 0; i < n; i++)
        snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), " %llx-%llx", (unsigned long long)want[2 * i],
                 (unsigned long long)want[2 * i + 1]);
    fail_msg("%s:%d: d%u's I/O ranges are [%s ] (%u), expected [%s ] (%u)", file, line, id, have, d->nr_iomem, exp, n);
}

/* RANGES(t, id, first, last, ...): domain id has exactly these ranges. */
#define RANGES(t, id, ...)                                                                            \
    assert_ranges((t), (id), (const uint64_t[]){ __VA_ARGS__ },                                       \
                  (unsigned int)(sizeof((uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t) / 2), __FILE__, \
                  __LINE__)
/* Domain id has no range at all. */
#define NO_RANGES(t, id) assert_int_equal(pvm_domain(&(t)->m, (id))->nr_iomem, 0)

/* A copy of domain id's ranges, to show a refused call changed none of them. */
struct ranges {
    unsigned int n;
    struct pvm_iomem_range r[PVM_MAX_IOMEM_RANGES];
};

/* Domain id's ranges now. */
static struct ranges ranges_of(struct tm *t, domid_t id)
{
    struct ranges s;
    memset(&s, 0, sizeof(s));
    const struct pvm_domain *d = pvm_domain(&t->m, id);
    s.n = d->nr_iomem;
    memcpy(s.r, d->iomem, sizeof(s.r));
    return s;
}

/* Domain id's ranges are still those of s, byte for byte. */
static void assert_same_ranges(struct tm *t, domid_t id, const struct ranges *s)
{
    struct ranges now = ranges_of(t, id);
    assert_int_equal(now.n, s->n);
    assert_memory_equal(now.r, s->r, sizeof(now.r));
}

/*
 * Adding is a union: disjoint ranges are kept in ascending order whatever
 * order they come in; one that overlaps or touches (last + 1 == first)
 * another merges with it; a gap of one frame keeps two apart; a range
 * inside another changes nothing; bounds at 0 and the top do not wrap.
 */
static void add_union_merges(void **state)
{
    struct tm *t = *state;
    NO_RANGES(t, 1);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x300, 0x3ff));
    RANGES(t, 1, 0x300, 0x3ff);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x100, 0x1ff));   /* before: goes first */
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x500, 0x5ff));   /* after */
    RANGES(t, 1, 0x100, 0x1ff, 0x300, 0x3ff, 0x500, 0x5ff);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x201, 0x2fe));   /* a one-frame gap on either side: apart */
    RANGES(t, 1, 0x100, 0x1ff, 0x201, 0x2fe, 0x300, 0x3ff, 0x500, 0x5ff);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x200, 0x200));   /* fills the first gap: touches both sides */
    RANGES(t, 1, 0x100, 0x2fe, 0x300, 0x3ff, 0x500, 0x5ff);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x2ff, 0x2ff));   /* adjacent only (no overlap): merged */
    RANGES(t, 1, 0x100, 0x3ff, 0x500, 0x5ff);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x400, 0x450));   /* touches the range before it alone */
    RANGES(t, 1, 0x100, 0x450, 0x500, 0x5ff);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x120, 0x130));   /* inside: nothing changes */
    RANGES(t, 1, 0x100, 0x450, 0x500, 0x5ff);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x80, 0x700));    /* overlaps both and more: one range */
    RANGES(t, 1, 0x80, 0x700);

    /* The edges of the frame numbers: 0 and the top merge with their neighbours, no bound wraps. */
    TM_OK(t, pvm_domain_iomem_add(&t->m, 2, TOP, TOP));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 2, 0, 0));
    RANGES(t, 2, 0, 0, TOP, TOP);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 2, 1, 1));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 2, TOP - 1, TOP - 1));
    RANGES(t, 2, 0, 1, TOP - 1, TOP);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 2, 2, TOP - 2));
    RANGES(t, 2, 0, TOP);
}

/* first > last is -EINVAL and an unknown domain -ESRCH, for add and deny alike; nothing changes. */
static void add_deny_bad_arguments(void **state)
{
    struct tm *t = *state;
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x100, 0x1ff));
    struct ranges before = ranges_of(t, 1);
    TM_RC(t, pvm_domain_iomem_add(&t->m, 1, 0x300, 0x2ff), -XEN_EINVAL);
    TM_RC(t, pvm_domain_iomem_deny(&t->m, 1, 0x180, 0x17f), -XEN_EINVAL);
    TM_RC(t, pvm_domain_iomem_add(&t->m, 7, 0x300, 0x3ff), -XEN_ESRCH);
    TM_RC(t, pvm_domain_iomem_deny(&t->m, 7, 0x100, 0x1ff), -XEN_ESRCH);
    assert_same_ranges(t, 1, &before);
    NO_RANGES(t, 2);
}

/* Denying frames inside a range splits it in two around them. */
static void deny_splits_range(void **state)
{
    struct tm *t = *state;
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x100, 0x1ff));
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x140, 0x14f));
    RANGES(t, 1, 0x100, 0x13f, 0x150, 0x1ff);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x101, 0x101));   /* one frame: the split leaves one frame below */
    RANGES(t, 1, 0x100, 0x100, 0x102, 0x13f, 0x150, 0x1ff);
}

/*
 * Denying at a range's edge cuts it, denying all of it removes it, denying
 * across a gap cuts both neighbours, denying outside every range changes
 * nothing (rc 0, as rangeset_remove_range), and 0 and the top do not wrap.
 */
static void deny_at_edges(void **state)
{
    struct tm *t = *state;
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x100, 0x1ff));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x300, 0x3ff));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x500, 0x5ff));
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x100, 0x10f));   /* the first frames */
    RANGES(t, 1, 0x110, 0x1ff, 0x300, 0x3ff, 0x500, 0x5ff);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x5f0, 0x5ff));   /* the last frames */
    RANGES(t, 1, 0x110, 0x1ff, 0x300, 0x3ff, 0x500, 0x5ef);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x1f0, 0x30f));   /* across the gap: both cut */
    RANGES(t, 1, 0x110, 0x1ef, 0x310, 0x3ff, 0x500, 0x5ef);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x400, 0x4ff));   /* exactly a gap: nothing */
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x600, TOP));     /* past every range: nothing */
    RANGES(t, 1, 0x110, 0x1ef, 0x310, 0x3ff, 0x500, 0x5ef);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x310, 0x3ff));   /* a whole range: gone */
    RANGES(t, 1, 0x110, 0x1ef, 0x500, 0x5ef);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x100, 0x5ff));   /* around all of them: none left */
    NO_RANGES(t, 1);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0, TOP));         /* no ranges: nothing to do */
    NO_RANGES(t, 1);

    TM_OK(t, pvm_domain_iomem_permit(&t->m, 2, 0, TOP));
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 2, 0, 0));
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 2, TOP, TOP));
    RANGES(t, 2, 1, TOP - 1);
}

/*
 * At PVM_MAX_IOMEM_RANGES ranges, an add that needs a ninth and a deny that
 * would split a range are -ENOSPC and change nothing; an add that merges, a
 * deny at an edge, and a deny that splits one range while it removes another
 * (eight either way) still work: the result counts, not the steps.
 */
static void limit_enospc_without_change(void **state)
{
    struct tm *t = *state;
    for (uint64_t i = 0; i < PVM_MAX_IOMEM_RANGES; i++)
        TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x1000 + i * 0x100, 0x100f + i * 0x100));
    assert_int_equal(pvm_domain(&t->m, 1)->nr_iomem, PVM_MAX_IOMEM_RANGES);
    struct ranges full = ranges_of(t, 1);
    TM_RC(t, pvm_domain_iomem_add(&t->m, 1, 0x10, 0x20), -XEN_ENOSPC);         /* a ninth, first */
    TM_RC(t, pvm_domain_iomem_add(&t->m, 1, 0x1080, 0x1090), -XEN_ENOSPC);     /* a ninth, in a gap */
    TM_RC(t, pvm_domain_iomem_add(&t->m, 1, 0x9000, 0x9000), -XEN_ENOSPC);     /* a ninth, last */
    TM_RC(t, pvm_domain_iomem_deny(&t->m, 1, 0x1004, 0x1004), -XEN_ENOSPC);    /* a split of the first */
    TM_RC(t, pvm_domain_iomem_deny(&t->m, 1, 0x1705, 0x170a), -XEN_ENOSPC);    /* a split of the last */
    assert_same_ranges(t, 1, &full);

    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x1010, 0x1010));                  /* touches the first: merged */
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x1700, 0x1703));                 /* an edge of the last: cut */
    RANGES(t, 1, 0x1000, 0x1010, 0x1100, 0x110f, 0x1200, 0x120f, 0x1300, 0x130f, 0x1400, 0x140f, 0x1500, 0x150f,
           0x1600, 0x160f, 0x1704, 0x170f);
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 1, 0x1105, 0x1300));                 /* splits one, removes one */
    RANGES(t, 1, 0x1000, 0x1010, 0x1100, 0x1104, 0x1301, 0x130f, 0x1400, 0x140f, 0x1500, 0x150f, 0x1600, 0x160f,
           0x1704, 0x170f);
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x1200, 0x1200));                  /* back to eight: fits */
    assert_int_equal(pvm_domain(&t->m, 1)->nr_iomem, PVM_MAX_IOMEM_RANGES);
}

/*
 * Xen's dom0: every frame the host can address but the local APIC / MSI
 * range fee00-feeff (the real-Xen record's iomem 0 fedff, iomem fef00
 * fcfffff).  A frame of the hole is refused as any I/O frame without
 * permission (-EPERM, PVM_WHY_MMIO, Xen's log line) and nothing changes; the
 * frames just outside it, and the hole's neighbours at its other edge, map.
 */
static void denied_hole_refused(void **state)
{
    struct tm *t = *state;
    uint64_t l1;
    struct pvm_vcpu *v = tm_privileged_space(t, 3, &l1);
    RANGES(t, 3, 0, 0xfffffff);   /* the default, paddr_bits 40 */
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 3, 0xfee00, 0xfeeff));
    TM_OK(t, pvm_domain_iomem_deny(&t->m, 3, 0xfd00000, 0xfffffff));
    RANGES(t, 3, 0, 0xfedff, 0xfef00, 0xfcfffff);
    const uint64_t refused[] = { 0xfee00, 0xfee80, 0xfeeff, 0xfd00000 };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        TM_REFUSED(t, update(v, l1, 5, pte(refused[i], P | RW | _PAGE_PCD)), -XEN_EPERM);
        assert_int_equal(t->m.last.why, PVM_WHY_MMIO);
        assert_int_equal(t->m.last.mfn, refused[i]);
        assert_int_equal(tm_log_countf(t, "d3 non-privileged attempt to map MMIO space %05llx",
                                       (unsigned long long)refused[i]), 1);
        assert_int_equal(pvm_peek(&t->m, l1, 5), 0);
    }
    TM_OK(t, update(v, l1, 5, pte(0xfedff, P | RW | _PAGE_PCD)));
    TM_OK(t, update(v, l1, 6, pte(0xfef00, P | RW | _PAGE_PCD)));
    TM_OK(t, update(v, l1, 7, pte(0xfcfffff, P | _PAGE_PCD)));
    assert_int_equal((pvm_peek(&t->m, l1, 6) & PVM_PTE_FRAME_MASK) >> 12, 0xfef00);
}

/* An unprivileged domain with two ranges maps a frame of either, not one of the gap between them. */
static void two_ranges_unprivileged(void **state)
{
    struct tm *t = *state;
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x1000, 0x100f));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x2000, 0x200f));
    TM_OK(t, update(t->v, t->l1, 5, pte(0x100f, P | _PAGE_PCD)));
    TM_OK(t, update(t->v, t->l1, 6, pte(0x2000, P | _PAGE_PCD)));
    TM_REFUSED(t, update(t->v, t->l1, 7, pte(0x1010, P | _PAGE_PCD)), -XEN_EPERM);
    assert_int_equal(t->m.last.why, PVM_WHY_MMIO);
    TM_REFUSED(t, update(t->v, t->l1, 7, pte(0x1fff, P | _PAGE_PCD)), -XEN_EPERM);
    TM_REFUSED(t, update(t->v, t->l1, 7, pte(0x2010, P | _PAGE_PCD)), -XEN_EPERM);
}

/*
 * pvm_domain_iomem_permit replaces every range with its one: frames of the
 * old ranges are refused after it; first > last leaves none, and the domain
 * then loses what any range gave it, cache attributes in its L1 entries.
 */
static void permit_replaces_all(void **state)
{
    struct tm *t = *state;
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x1000, 0x100f));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x2000, 0x200f));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x3000, 0x300f));
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x4000, 0x4000));
    RANGES(t, 1, 0x4000, 0x4000);
    TM_REFUSED(t, update(t->v, t->l1, 5, pte(0x1000, P | _PAGE_PCD)), -XEN_EPERM);
    TM_REFUSED(t, update(t->v, t->l1, 5, pte(0x3000, P | _PAGE_PCD)), -XEN_EPERM);
    TM_OK(t, update(t->v, t->l1, 5, pte(0x4000, P | _PAGE_PCD)));
    uint64_t ram = tm_frame(t, 1);
    TM_OK(t, update(t->v, t->l1, 6, pte(ram, P | _PAGE_PCD)));   /* a domain with I/O may set PCD on RAM */
    TM_OK(t, update(t->v, t->l1, 5, 0));
    TM_OK(t, update(t->v, t->l1, 6, 0));
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 1, 0));
    NO_RANGES(t, 1);
    TM_REFUSED(t, update(t->v, t->l1, 5, pte(0x4000, P | _PAGE_PCD)), -XEN_EINVAL);   /* PCD now a bad flag */
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_FLAGS);
    TM_REFUSED(t, update(t->v, t->l1, 5, pte(0x4000, P)), -XEN_EPERM);
    TM_REFUSED(t, update(t->v, t->l1, 6, pte(ram, P | _PAGE_PCD)), -XEN_EINVAL);
}

/* Collects the kinds of the auditor's issues. */
struct kinds {
    unsigned long n;
    enum pvm_audit_kind kind[8];
};

/* pvm_audit callback: keep the issue's kind. */
static void keep_kind(void *ctx, const struct pvm_audit_issue *is)
{
    struct kinds *k = ctx;
    tm_keep(k->kind, sizeof(k->kind[0]), 8, &k->n, &is->kind);
}

/*
 * A mapping made before its frame is denied stays, as in Xen (pvm_audit
 * names it: an L1 entry mapping an I/O frame without permission); taking
 * the entry out needs no permission and leaves the auditor clean.
 */
static void deny_keeps_mapping(void **state)
{
    struct tm *t = *state;
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x1000, 0x100f));
    TM_OK(t, update(t->v, t->l1, 5, pte(0x1008, P | _PAGE_PCD)));
    assert_int_equal(pvm_domain_iomem_deny(&t->m, 1, 0x1008, 0x1008), 0);
    struct kinds k = { 0 };
    assert_int_equal(pvm_audit(&t->m, t->scratch, keep_kind, &k), 1);
    assert_int_equal(k.kind[0], PVM_AUDIT_ENTRY);
    assert_int_equal((pvm_peek(&t->m, t->l1, 5) & PVM_PTE_FRAME_MASK) >> 12, 0x1008);
    TM_OK(t, update(t->v, t->l1, 5, 0));
}

/*
 * The auditor holds a domain's ranges to what add and deny keep: ascending,
 * disjoint, none touching the one before, none empty, at most
 * PVM_MAX_IOMEM_RANGES (each a PVM_AUDIT_COUNT issue).
 */
static void audit_checks_ranges(void **state)
{
    struct tm *t = *state;
    struct pvm_domain *d = pvm_domain(&t->m, 1);
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, 0x100, 0x1ff));
    TM_OK(t, pvm_domain_iomem_add(&t->m, 1, 0x300, 0x3ff));
    const struct { uint64_t first, last; } bad[] = {
        { 0x200, 0x2ff },   /* touches the first */
        { 0x1f0, 0x2ff },   /* overlaps it */
        { 0x000, 0x0ff },   /* before it */
        { 0x3ff, 0x300 },   /* empty */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d->iomem[1].first = bad[i].first;
        d->iomem[1].last = bad[i].last;
        struct kinds k = { 0 };
        assert_int_equal(pvm_audit(&t->m, t->scratch, keep_kind, &k), 1);
        assert_int_equal(k.kind[0], PVM_AUDIT_COUNT);
    }
    d->iomem[1].first = 0x300;
    d->iomem[1].last = 0x3ff;
    AUDIT_CLEAN(t);
    for (uint64_t i = 2; i < PVM_MAX_IOMEM_RANGES; i++)
        TM_OK(t, pvm_domain_iomem_add(&t->m, 1, i * 0x200 + 0x100, i * 0x200 + 0x1ff));
    d->nr_iomem = PVM_MAX_IOMEM_RANGES + 1;   /* eight good ranges, and a count past them */
    struct kinds k = { 0 };
    assert_int_equal(pvm_audit(&t->m, t->scratch, keep_kind, &k), 1);
    assert_int_equal(k.kind[0], PVM_AUDIT_COUNT);
    d->nr_iomem = PVM_MAX_IOMEM_RANGES;
    AUDIT_CLEAN(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_TEST(add_union_merges),
        TM_TEST(add_deny_bad_arguments),
        TM_TEST(deny_splits_range),
        TM_TEST(deny_at_edges),
        TM_TEST(limit_enospc_without_change),
        TM_TEST(denied_hole_refused),
        TM_SPACE_TEST(two_ranges_unprivileged),
        TM_SPACE_TEST(permit_replaces_all),
        TM_SPACE_TEST(deny_keeps_mapping),
        TM_TEST(audit_checks_ranges),
    };
    return cmocka_run_group_tests_name("iomem", tests, NULL, NULL);
}
