/*
 * test_audit.c - the auditor must catch corruption, or "audit clean" proves
 * nothing.  Each test builds a clean state, corrupts the core's bookkeeping
 * (or page contents, or a TLB) directly, and checks that pvm_audit reports
 * the expected PVM_AUDIT_* kind for the expected frame.  Also the reverse
 * map, pvm_find_mappings.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ISSUES 1024

/* What a pvm_audit callback was told: the first MAX_ISSUES issues, and how many there were. */
struct issues {
    unsigned long n;
    struct pvm_audit_issue is[MAX_ISSUES];
};

static void collect_issue(void *ctx, const struct pvm_audit_issue *is)
{
    struct issues *c = ctx;
    tm_keep(c->is, sizeof(*is), MAX_ISSUES, &c->n, is);
}

/* Run the auditor, keeping every issue until the next run; checks the count returned matches the callbacks. */
static const struct issues *audit(struct tm *t)
{
    static struct issues c;
    memset(&c, 0, sizeof(c));
    unsigned long n = pvm_audit(&t->m, t->scratch, collect_issue, &c);
    assert_int_equal(n, c.n);
    return &c;
}

/* The auditor reports exactly one issue, of kind about mfn; returns it (valid until the next audit). */
static const struct pvm_audit_issue *one_issue(struct tm *t, enum pvm_audit_kind kind, uint64_t mfn)
{
    const struct issues *c = audit(t);
    assert_int_equal(c->n, 1);
    assert_int_equal(c->is[0].kind, kind);
    assert_int_equal(c->is[0].mfn, mfn);
    return &c->is[0];
}

/* How many issues of kind about mfn were reported. */
static unsigned long count_kind(const struct issues *c, enum pvm_audit_kind kind, uint64_t mfn)
{
    unsigned long k = 0;
    for (unsigned long i = 0; i < c->n && i < MAX_ISSUES; i++)
        if (c->is[i].kind == kind && c->is[i].mfn == mfn)
            k++;
    return k;
}

/* ---- the auditor --------------------------------------------------------------- */

/* A freshly built space audits clean, with and without a callback. */
static void audit_clean_baseline(void **state)
{
    struct tm *t = *state;
    const struct issues *c = audit(t);
    assert_int_equal(c->n, 0);
    assert_int_equal(pvm_audit(&t->m, t->scratch, NULL, NULL), 0);
}

/* A general count one too high is reported as PVM_AUDIT_COUNT with expected/actual. */
static void audit_catches_raised_count(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)));
    t->m.frames[a].count_info++;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_COUNT, a);
    assert_int_equal(is->expected, 2);
    assert_int_equal(is->actual, 3);
    assert_non_null(strstr(is->text, "general count"));
}

/* A type count one too low (the L4: pin + cr3 = 2) is reported as PVM_AUDIT_TYPE_COUNT. */
static void audit_catches_lowered_type_count(void **state)
{
    struct tm *t = *state;
    t->m.frames[t->l4].type_info--;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_TYPE_COUNT, t->l4);
    assert_int_equal(is->expected, 2);
    assert_int_equal(is->actual, 1);
}

/* A validated L1 whose type bits are flipped to writable is caught: its L2 entry needs an L1 (PVM_AUDIT_TYPE). */
static void audit_catches_l1_flipped_writable(void **state)
{
    struct tm *t = *state;
    struct page_info *pg = &t->m.frames[t->l1];
    pg->type_info = (pg->type_info & ~PGT_type_mask) | PGT_writable_page;
    const struct issues *c = audit(t);
    assert_true(c->n > 0);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE, t->l1), 1);
}

/* PGT_validated on an L1 whose type count is 0 is reported as PVM_AUDIT_VALIDATED (invariant 3). */
static void audit_catches_validated_at_count_zero(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1);
    TM_OK(t, tm_pin(t->v, 1, x));
    TM_OK(t, tm_unpin(t->v, x));
    TM_FRAME(t, x, "type=l1 tc=0 !validated");
    t->m.frames[x].type_info |= PGT_validated;
    one_issue(t, PVM_AUDIT_VALIDATED, x);
}

/* An L2 in use but with PGT_validated cleared is reported as PVM_AUDIT_VALIDATED. */
static void audit_catches_unvalidated_in_use(void **state)
{
    struct tm *t = *state;
    t->m.frames[t->l2].type_info &= ~PGT_validated;
    const struct issues *c = audit(t);
    assert_true(c->n > 0);
    assert_int_equal(count_kind(c, PVM_AUDIT_VALIDATED, t->l2), 1);
}

/* A changed linear_pt_count on a table in use is reported as PVM_AUDIT_LINEAR (XSA-240 accounting). */
static void audit_catches_linear_count(void **state)
{
    struct tm *t = *state;
    t->m.frames[t->l2].type_info = (t->m.frames[t->l2].type_info & ~PGT_aux_mask) | (1ULL << PGT_aux_shift);
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_LINEAR, t->l2);
    assert_int_equal((int64_t)is->expected, 0);
    assert_int_equal((int64_t)is->actual, 1);
}

/* Junk in an L4 Xen slot (258, the linear self map) is reported as PVM_AUDIT_XEN_SLOT. */
static void audit_catches_xen_slot_junk(void **state)
{
    struct tm *t = *state;
    assert_non_null(hostmem_page(&t->h, t->l4));
    uint64_t want = hostmem_page(&t->h, t->l4)[258];
    hostmem_page(&t->h, t->l4)[258] = 0;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_XEN_SLOT, t->l4);
    assert_int_equal(is->expected, want);
    assert_int_equal(is->actual, 0);
    /* Junk in another Xen slot too. */
    hostmem_page(&t->h, t->l4)[258] = want;
    hostmem_page(&t->h, t->l4)[271] = pte(t->l4, _PAGE_PRESENT | _PAGE_USER);
    one_issue(t, PVM_AUDIT_XEN_SLOT, t->l4);
}

/* An RW entry to a page-table frame written straight into a validated L1 is reported as PVM_AUDIT_TYPE. */
static void audit_catches_rw_pagetable_entry(void **state)
{
    struct tm *t = *state;
    hostmem_page(&t->h, t->l1)[5] = pte(t->l2, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER) | _PAGE_GUEST_KERNEL;
    const struct issues *c = audit(t);
    assert_true(c->n > 0);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE, t->l2), 1);
    /* ...and the references the entry should hold are missing. */
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, t->l2), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE_COUNT, t->l2), 1);
}

/* A TLB entry writable to a page-table frame is reported as PVM_AUDIT_TLB (the stale-TLB invariant, XSA-401). */
static void audit_catches_writable_tlb_to_pagetable(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    v1->tlb[9] = (struct pvm_tlb_entry){ .vpn = 9, .mfn = t->l2, .valid = 1, .rw = 1 };
    one_issue(t, PVM_AUDIT_TLB, t->l2);
    /* The same entry read-only is legitimate. */
    v1->tlb[9].rw = 0;
    AUDIT_CLEAN(t);
}

/* A vCPU root that is not a validated L4 is reported as PVM_AUDIT_ROOT. */
static void audit_catches_bad_root(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 2);
    /* Give the frame the references a root holds, so only the root itself is wrong. */
    t->m.frames[a].count_info++;
    t->m.frames[a].type_info = PGT_writable_page | PGT_validated | 1;
    t->v2->guest_table = a;
    one_issue(t, PVM_AUDIT_ROOT, a);
    t->v2->guest_table = PVM_INVALID_MFN;   /* let tm_free run on a sane state */
}

/* A validated L1 holding an entry Xen would refuse (PCD without I/O rights) is reported as PVM_AUDIT_ENTRY. */
static void audit_catches_disallowed_flags(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    hostmem_page(&t->h, t->l1)[6] = pte(a, _PAGE_PRESENT | _PAGE_USER | _PAGE_PCD) | _PAGE_GUEST_KERNEL;
    t->m.frames[a].count_info++;   /* the reference the entry would hold */
    one_issue(t, PVM_AUDIT_ENTRY, t->l1);
}

/* A validated L1 of d1 mapping a frame of d2 (d1 not privileged) is reported as PVM_AUDIT_OWNER. */
static void audit_catches_foreign_mapping(void **state)
{
    struct tm *t = *state;
    uint64_t f2 = tm_frame(t, 2);
    hostmem_page(&t->h, t->l1)[6] = pte(f2, _PAGE_PRESENT | _PAGE_USER) | _PAGE_GUEST_KERNEL;
    t->m.frames[f2].count_info++;
    one_issue(t, PVM_AUDIT_OWNER, f2);
}

/* A free frame with a reference is reported as PVM_AUDIT_FREE. */
static void audit_catches_free_frame_with_refs(void **state)
{
    struct tm *t = *state;
    uint64_t freemfn = 0x100;
    TM_FRAME(t, freemfn, "owner=none");
    t->m.frames[freemfn].count_info = 1;
    one_issue(t, PVM_AUDIT_FREE, freemfn);
}

/* An owned frame with no reference at all (not even PGC_allocated) is reported as PVM_AUDIT_FREE. */
static void audit_catches_owned_frame_without_refs(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    t->m.frames[a].count_info &= PGC_owner_mask;   /* no references, owner still d1 */
    const struct issues *c = audit(t);
    assert_true(c->n > 0);
    assert_int_equal(count_kind(c, PVM_AUDIT_FREE, a), 1);
}

/* An L1 entry mapping an I/O frame the domain has no permission for is reported as PVM_AUDIT_ENTRY (Xen: -EPERM). */
static void audit_catches_io_without_permission(void **state)
{
    struct tm *t = *state;
    uint64_t io = 0x1F0;
    TM_OK(t, pvm_mark_io(&t->m, io));
    uint64_t e = pte(io, _PAGE_PRESENT | _PAGE_USER) | _PAGE_GUEST_KERNEL;
    hostmem_page(&t->h, t->l1)[6] = e;   /* I/O frames take no reference: only the permission is wrong */
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_ENTRY, t->l1);
    assert_int_equal(is->actual, e);
    assert_non_null(strstr(is->text, "maps I/O mfn 001f0 without permission"));
    /* The same entry is legitimate once d1 may map that frame. */
    TM_OK(t, pvm_domain_iomem_permit(&t->m, 1, io, io));
}

/* A read-only self map in an L2 is legal; the same entry made writable is reported as PVM_AUDIT_ENTRY. */
static void audit_catches_writable_self_map(void **state)
{
    struct tm *t = *state;
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(t->l2, _PAGE_PRESENT)));
    hostmem_page(&t->h, t->l2)[7] |= _PAGE_RW;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_ENTRY, t->l2);
    assert_int_equal(is->actual, pvm_peek(&t->m, t->l2, 7));
    assert_non_null(strstr(is->text, "writable self-map"));
}

/* An L2 entry naming a frame beyond the frame table is reported as PVM_AUDIT_ENTRY (Xen: get_page_from_mfn fails). */
static void audit_catches_entry_outside_memory(void **state)
{
    struct tm *t = *state;
    uint64_t e = pte(0x1000, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER);
    hostmem_page(&t->h, t->l2)[7] = e;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_ENTRY, t->l2);
    assert_int_equal(is->actual, e);
    assert_non_null(strstr(is->text, "points outside memory (mfn 01000)"));
}

/* A read-only linear L2 -> L2 entry is legal; made writable it is reported as PVM_AUDIT_ENTRY (Xen's linear rule). */
static void audit_catches_writable_linear_entry(void **state)
{
    struct tm *t = *state;
    uint64_t l2b = tm_frame(t, 1);
    assert_int_equal(tm_pin(t->v, 2, l2b), 0);
    TM_OK(t, tm_set(t->v, t->l2, 7, pte(l2b, _PAGE_PRESENT)));
    TM_FRAME(t, t->l2, "linear=1");
    TM_FRAME(t, l2b, "linear=-1");
    hostmem_page(&t->h, t->l2)[7] |= _PAGE_RW;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_ENTRY, t->l2);
    assert_non_null(strstr(is->text, "writable linear entry to mfn"));
}

/* A validated table whose owner field names no existing domain is reported as PVM_AUDIT_OWNER. */
static void audit_catches_table_without_owner(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1);
    TM_OK(t, tm_pin(t->v, 1, x));
    struct page_info *pg = &t->m.frames[x];
    pg->count_info = (pg->count_info & ~PGC_owner_mask) | ((uint64_t)(5 + 1) << PGC_owner_shift);   /* d5: none */
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_OWNER, x);
    assert_int_equal(is->actual, 5 + 1);
    assert_non_null(strstr(is->text, "has no domain owner"));
}

/* A vCPU root beyond the frame table is reported as PVM_AUDIT_ROOT. */
static void audit_catches_root_outside_memory(void **state)
{
    struct tm *t = *state;
    t->v2->guest_table_user = 0x1000;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_ROOT, 0x1000);
    assert_non_null(strstr(is->text, "d2v0 user root 01000 is outside memory"));
    t->v2->guest_table_user = PVM_INVALID_MFN;
    AUDIT_CLEAN(t);
}

/* A vCPU whose root is another domain's validated L4 is reported as PVM_AUDIT_ROOT. */
static void audit_catches_root_of_other_domain(void **state)
{
    struct tm *t = *state;
    /* The references d2v0's root would hold are there: only whose L4 it is is wrong. */
    t->m.frames[t->l4].count_info++;
    t->m.frames[t->l4].type_info++;
    t->v2->guest_table = t->l4;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_ROOT, t->l4);
    assert_non_null(strstr(is->text, "d2v0 kernel root"));
    assert_non_null(strstr(is->text, "is not a validated L4 of the domain"));
}

/* An L1 entry mapping a free frame is reported twice: no owner (PVM_AUDIT_OWNER) and a referenced free frame (FREE). */
static void audit_catches_mapping_of_free_frame(void **state)
{
    struct tm *t = *state;
    const uint64_t freemfn = 0x100;
    TM_FRAME(t, freemfn, "owner=none");
    hostmem_page(&t->h, t->l1)[6] = pte(freemfn, _PAGE_PRESENT | _PAGE_USER) | _PAGE_GUEST_KERNEL;
    const struct issues *c = audit(t);
    assert_int_equal(c->n, 2);
    assert_int_equal(count_kind(c, PVM_AUDIT_OWNER, freemfn), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_FREE, freemfn), 1);
    for (unsigned long i = 0; i < c->n; i++)
        if (c->is[i].kind == PVM_AUDIT_FREE) {
            assert_int_equal(c->is[i].expected, 1);   /* references found */
            assert_int_equal(c->is[i].actual, 0);     /* count_info */
        } else {
            assert_int_equal(c->is[i].actual, DOMID_INVALID);
            assert_non_null(strstr(c->is[i].text, "owned by -1"));
        }
}

/* PGT_pinned on a frame of a non-table type is reported as PVM_AUDIT_VALIDATED (only page tables can be pinned). */
static void audit_catches_pinned_non_table(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    /* The references a pin holds are there: only the type is wrong. */
    t->m.frames[a].count_info++;
    t->m.frames[a].type_info = PGT_writable_page | PGT_validated | PGT_pinned | 1;
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_VALIDATED, a);
    assert_int_equal(is->actual, t->m.frames[a].type_info);
    assert_non_null(strstr(is->text, "is pinned but of type writable"));
}

/* The issues of the latest audit that mention text. */
static unsigned long count_text(const struct issues *c, const char *text)
{
    unsigned long k = 0;
    for (unsigned long i = 0; i < c->n && i < MAX_ISSUES; i++)
        k += strstr(c->is[i].text, text) != NULL;
    return k;
}

/*
 * The issues of a reference moved from frame f to untyped frame g: f's general and type counts one too
 * high, g's one too low and its type wrong, and one issue saying text: 5 in all.
 */
static void expect_moved_ref(const struct issues *c, uint64_t f, uint64_t g, const char *text)
{
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, f), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE_COUNT, f), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, g), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE_COUNT, g), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE, g), 1);
    assert_int_equal(count_text(c, text), 1);
    assert_int_equal(c->n, 5);
}

/* The issues of a reference held on frame other, another domain's: owner, counts, type and "not the domain's": 4. */
static void expect_foreign_ref(const struct issues *c, uint64_t other)
{
    assert_int_equal(count_kind(c, PVM_AUDIT_OWNER, other), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, other), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE_COUNT, other), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE, other), 1);
    assert_int_equal(count_text(c, "not the domain's"), 1);
    assert_int_equal(c->n, 4);
}

/*
 * Xen's own writable mappings (pvm_xen_map_frame) are references the auditor counts: a hold moved to another
 * frame, a hold forgotten, a hold of another domain's frame and a hold count past the array are each caught.
 */
static void audit_catches_corrupt_xen_map(void **state)
{
    struct tm *t = *state;
    struct pvm_domain *d = pvm_domain(&t->m, 1);
    uint64_t f = tm_frame(t, 1), g = tm_frame(t, 1), other = tm_frame(t, 2);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, f));
    d->xen_maps[0] = g;   /* f's references are no one's; g, untyped, is held writable */
    const struct issues *c = audit(t);
    expect_moved_ref(c, f, g, "Xen holds mfn");
    d->xen_maps[0] = f;
    AUDIT_CLEAN(t);
    d->nr_xen_maps = 0;   /* a hold forgotten */
    c = audit(t);
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, f), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE_COUNT, f), 1);
    assert_int_equal(c->n, 2);
    d->nr_xen_maps = 2;   /* and one of d2's frame */
    d->xen_maps[1] = other;
    c = audit(t);
    expect_foreign_ref(c, other);
    d->nr_xen_maps = PVM_MAX_XEN_MAPS + 1;   /* past the array: said so, and nothing read beyond it (ASan) */
    c = audit(t);
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, PVM_INVALID_MFN), 1);
    assert_int_equal(count_text(c, "more than PVM_MAX_XEN_MAPS"), 1);
    d->nr_xen_maps = 1;
    AUDIT_CLEAN(t);
}

/*
 * A vCPU's GDT (pvm_set_gdt) is references the auditor counts: a GDT frame moved to another frame, a type count off
 * by one, a GDT forgotten, a frame of another domain, entries past Xen's limit, a stale gdt_frames[] slot past the
 * GDT, a GDT frame that lost its validation, and a descriptor page holding a descriptor Xen would refuse or one
 * not fixed up are each caught.
 */
static void audit_catches_corrupt_gdt(void **state)
{
    struct tm *t = *state;
    struct pvm_vcpu *v = pvm_vcpu(&t->m, 1, 1);
    uint64_t f = tm_frame(t, 1), g = tm_frame(t, 1), other = tm_frame(t, 2);
    TM_OK(t, pvm_set_gdt(v, &f, 1, 512));
    v->gdt_frames[0] = g;   /* f's references are no one's; g, untyped, is in a GDT */
    const struct issues *c = audit(t);
    expect_moved_ref(c, f, g, "d1v1 GDT frame 0 is mfn");
    v->gdt_frames[0] = f;
    AUDIT_CLEAN(t);
    t->m.frames[f].type_info++;   /* a type reference no one holds */
    const struct pvm_audit_issue *is = one_issue(t, PVM_AUDIT_TYPE_COUNT, f);
    assert_int_equal(is->expected, 1);
    assert_int_equal(is->actual, 2);
    t->m.frames[f].type_info--;
    v->gdt_ents = 0;   /* a GDT forgotten */
    c = audit(t);
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, f), 2);   /* its general count, and its stale gdt_frames[0] */
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE_COUNT, f), 1);
    assert_int_equal(count_text(c, "general count 2, recomputed 1"), 1);
    assert_int_equal(count_text(c, "gdt_frames[0] holds mfn"), 1);
    assert_int_equal(count_text(c, "past the GDT's 0 frames"), 1);
    assert_int_equal(c->n, 3);
    v->gdt_ents = 1024;   /* and one of d2's frame */
    v->gdt_frames[1] = other;
    c = audit(t);
    expect_foreign_ref(c, other);
    v->gdt_frames[1] = 0;
    v->gdt_ents = 20u * 512u;   /* past Xen's limit and the array: said so, nothing read beyond it (ASan) */
    c = audit(t);
    assert_int_equal(count_kind(c, PVM_AUDIT_COUNT, PVM_INVALID_MFN), 1);
    assert_int_equal(count_text(c, "more than Xen's 7168"), 1);
    v->gdt_ents = 512;
    AUDIT_CLEAN(t);
    t->m.frames[f].type_info &= ~PGT_validated;
    c = audit(t);
    assert_int_equal(count_kind(c, PVM_AUDIT_VALIDATED, f), 1);
    assert_int_equal(count_kind(c, PVM_AUDIT_TYPE, f), 1);
    assert_int_equal(c->n, 2);
    t->m.frames[f].type_info |= PGT_validated;
    hostmem_page(&t->h, f)[9] = 0x0000890000001000ULL;   /* a TSS */
    is = one_issue(t, PVM_AUDIT_ENTRY, f);
    assert_non_null(strstr(is->text, "slot 9: descriptor 0000890000001000 is refused by check_descriptor"));
    hostmem_page(&t->h, f)[9] = 0x00209a0000000000ULL;   /* code at DPL 0: Xen would have made it DPL 3 */
    is = one_issue(t, PVM_AUDIT_ENTRY, f);
    assert_int_equal(is->expected, 0x0020fa0000000000ULL);
    assert_non_null(strstr(is->text, "is not as check_descriptor leaves it"));
    hostmem_page(&t->h, f)[9] = 0x0020fa0000000000ULL;
    AUDIT_CLEAN(t);
}

/* Without a callback the auditor still counts every issue: the same number as with one. */
static void audit_counts_without_callback(void **state)
{
    struct tm *t = *state;
    t->m.frames[t->l1].count_info++;
    t->m.frames[t->l4].type_info--;
    const struct issues *c = audit(t);
    assert_int_equal(c->n, 2);
    assert_int_equal(pvm_audit(&t->m, t->scratch, NULL, NULL), 2);
}

/* The auditor only reads: the corrupted bookkeeping is left exactly as it was. */
static void audit_changes_nothing(void **state)
{
    struct tm *t = *state;
    t->m.frames[t->l1].count_info += 2;
    t->m.frames[t->l4].type_info =
        (t->m.frames[t->l4].type_info & ~PGT_aux_mask) | ((uint64_t)(uint16_t)-3 << PGT_aux_shift);
    void *snap = tm_snapshot(t);
    struct pvm_stats s0 = t->m.stats;
    const struct issues *c = audit(t);
    assert_int_equal(c->n, 2);
    tm_assert_unchanged(t, snap);
    assert_memory_equal(&s0, &t->m.stats, sizeof(s0));
}

/* ---- the auditor region by region (pvm_audit_bounded) ---------------------------- */

static int issue_cmp(const void *x, const void *y)
{
    const struct pvm_audit_issue *a = x, *b = y;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->mfn != b->mfn)
        return a->mfn < b->mfn ? -1 : 1;
    if (a->expected != b->expected)
        return a->expected < b->expected ? -1 : 1;
    if (a->actual != b->actual)
        return a->actual < b->actual ? -1 : 1;
    return strcmp(a->text, b->text);
}

/*
 * pvm_audit_bounded with scratch for 1, 2, 3, 7, 64, 255, 256 frames, all
 * but one, all, and more than all reports exactly the issues pvm_audit
 * reports (the same multiset; the same sequence once one region covers every
 * frame).  Returns how many issues the whole audit found.
 */
static unsigned long assert_regions_agree(struct tm *t)
{
    static struct issues whole, part, sorted;
    memset(&whole, 0, sizeof(whole));
    unsigned long n = pvm_audit(&t->m, t->scratch, collect_issue, &whole);
    assert_int_equal(n, whole.n);
    assert_true(n <= MAX_ISSUES);
    sorted = whole;
    qsort(sorted.is, n, sizeof(sorted.is[0]), issue_cmp);
    const uint64_t nr = t->m.nr_frames;
    const uint64_t regions[] = { 1, 2, 3, 7, 64, 255, 256, nr - 1, nr, nr + 10 };
    for (size_t r = 0; r < sizeof(regions) / sizeof(regions[0]); r++) {
        memset(&part, 0, sizeof(part));
        /* scratch a little over a whole number of frames: the remainder is unused */
        void *scratch = malloc(regions[r] * PVM_AUDIT_BYTES_PER_FRAME + 5);
        assert_non_null(scratch);
        unsigned long got = pvm_audit_bounded(&t->m, scratch, regions[r] * PVM_AUDIT_BYTES_PER_FRAME + 5,
                                              collect_issue, &part);
        free(scratch);
        if (got != n)
            fail_msg("region of %llu frames: %lu issues, the whole audit %lu", (unsigned long long)regions[r], got, n);
        assert_int_equal(part.n, n);
        if (regions[r] >= nr) {   /* one pass: the very same sequence */
            for (unsigned long i = 0; i < n; i++)
                assert_int_equal(issue_cmp(&whole.is[i], &part.is[i]), 0);
            continue;
        }
        qsort(part.is, n, sizeof(part.is[0]), issue_cmp);
        for (unsigned long i = 0; i < n; i++)
            if (issue_cmp(&sorted.is[i], &part.is[i]))
                fail_msg("region of %llu frames: issue %lu is \"%s\", the whole audit's \"%s\"",
                         (unsigned long long)regions[r], i, part.is[i].text, sorted.is[i].text);
    }
    assert_true(pvm_audit_bounded(&t->m, t->scratch, PVM_AUDIT_BYTES_PER_FRAME - 1, NULL, NULL) ==
                PVM_AUDIT_NO_SCRATCH);
    return n;
}

/* A machine with something of everything the auditor looks at, spread over many frames. */
struct rich {
    struct tm *t;
    uint64_t l4, l3, l2, l1, l2b, pinned_l1, unpinned_l1, io, io_denied;
    uint64_t d2_l4, d2_l1, data[16], d2_data, held, gdt[2];
};

static void rich_build(struct rich *r)
{
    struct tm *t = r->t = tm_new(512);
    t->m.opt_pv_linear_pt = true;
    tm_space(t, t->v, &r->l4, &r->l3, &r->l2, &r->l1);
    for (unsigned int i = 0; i < 16; i++) {   /* data frames, RW and RO, some mapped twice */
        r->data[i] = tm_frame(t, 1);
        t->next += i;                          /* spread the frames over the machine */
        assert_int_equal(tm_set(t->v, r->l1, 10 + i, pte(r->data[i], _PAGE_PRESENT | (i & 1 ? _PAGE_RW : 0))), 0);
        if (i % 3 == 0)
            assert_int_equal(tm_set(t->v, r->l1, 100 + i, pte(r->data[i], _PAGE_PRESENT | _PAGE_RW)), 0);
    }
    r->l2b = tm_frame(t, 1);                  /* a linear L2 -> L2 entry */
    assert_int_equal(tm_pin(t->v, 2, r->l2b), 0);
    assert_int_equal(tm_set(t->v, r->l2, 7, pte(r->l2b, _PAGE_PRESENT)), 0);
    r->pinned_l1 = tm_frame(t, 1);            /* a pinned L1 hooked nowhere */
    assert_int_equal(tm_pin(t->v, 1, r->pinned_l1), 0);
    r->unpinned_l1 = tm_frame(t, 1);          /* an L1 pinned and unpinned: type l1, count 0 */
    assert_int_equal(tm_pin(t->v, 1, r->unpinned_l1), 0);
    assert_int_equal(tm_unpin(t->v, r->unpinned_l1), 0);
    r->io = 0x1F0;                            /* an I/O frame d1 may map, mapped */
    r->io_denied = 0x1F1;
    assert_int_equal(pvm_mark_io(&t->m, r->io), 0);
    assert_int_equal(pvm_mark_io(&t->m, r->io_denied), 0);
    assert_int_equal(pvm_domain_iomem_permit(&t->m, 1, r->io, r->io), 0);
    assert_int_equal(tm_set(t->v, r->l1, 9, pte(r->io, _PAGE_PRESENT | _PAGE_RW)), 0);
    t->next = 0x120;                          /* d2's space higher up */
    tm_space(t, t->v2, &r->d2_l4, NULL, NULL, &r->d2_l1);
    r->d2_data = tm_frame(t, 2);
    assert_int_equal(tm_set(t->v2, r->d2_l1, 20, pte(r->d2_data, _PAGE_PRESENT | _PAGE_RW)), 0);
    r->held = tm_frame(t, 1);                 /* Xen's own writable mappings: a frame held twice, one of d2's */
    assert_int_equal(pvm_xen_map_frame(&t->m, 1, r->held), 0);
    assert_int_equal(pvm_xen_map_frame(&t->m, 1, r->held), 0);
    assert_int_equal(pvm_xen_map_frame(&t->m, 2, r->d2_data), 0);
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);   /* a TLB entry and a two-frame GDT on d1v1 */
    r->gdt[0] = tm_frame(t, 1);
    t->next += 20;
    r->gdt[1] = tm_frame(t, 1);
    assert_int_equal(pvm_poke(&t->m, r->gdt[1], 4, 0x0020fa0000000000ULL), 0);
    assert_int_equal(pvm_set_gdt(v1, r->gdt, 2, 1024), 0);
    v1->tlb[3] = (struct pvm_tlb_entry){ .vpn = 3, .mfn = r->data[1], .valid = 1, .rw = 1 };
    assert_int_equal(assert_regions_agree(t), 0);
}

static void set_aux_bits(struct page_info *pg, int16_t v)
{
    pg->type_info = (pg->type_info & ~PGT_aux_mask) | ((uint64_t)(uint16_t)v << PGT_aux_shift);
}

/* Each fault the auditor catches, injected into a rich machine. */
static void rich_fault(struct rich *r, int which)
{
    struct tm *t = r->t;
    struct page_info *fr = t->m.frames;
    switch (which) {
    case 0: fr[r->data[3]].count_info++; break;                                       /* COUNT */
    case 1: fr[r->l4].type_info--; break;                                             /* TYPE_COUNT */
    case 2: fr[r->l1].type_info = (fr[r->l1].type_info & ~PGT_type_mask) | PGT_writable_page; break;
    case 3: fr[r->unpinned_l1].type_info |= PGT_validated; break;                    /* VALIDATED */
    case 4: fr[r->l2].type_info &= ~PGT_validated; break;
    case 5: set_aux_bits(&fr[r->l2], 3); break;                                       /* LINEAR, source side */
    case 6: set_aux_bits(&fr[r->l2b], 0); break;                                      /* LINEAR, target side */
    case 7: hostmem_page(&t->h, r->l4)[258] = 0; break;                               /* XEN_SLOT */
    case 8: hostmem_page(&t->h, r->l1)[5] = pte(r->l2, _PAGE_PRESENT | _PAGE_RW); break;   /* TYPE */
    case 9:                                                                           /* TLB */
        pvm_vcpu(&t->m, 1, 1)->tlb[4] = (struct pvm_tlb_entry){ .vpn = 4, .mfn = r->l2, .valid = 1, .rw = 1 };
        break;
    case 10: t->v2->guest_table = r->data[5]; break;                                  /* ROOT */
    case 11: hostmem_page(&t->h, r->l1)[6] = pte(r->data[7], _PAGE_PRESENT | _PAGE_PCD); break;   /* ENTRY */
    case 12: hostmem_page(&t->h, r->l1)[6] = pte(r->d2_data, _PAGE_PRESENT); break;   /* OWNER */
    case 13: fr[500].count_info = 1; break;                                           /* FREE */
    case 14: fr[r->data[9]].count_info &= PGC_owner_mask; break;
    case 15: hostmem_page(&t->h, r->l1)[7] = pte(r->io_denied, _PAGE_PRESENT); break;
    case 16: hostmem_page(&t->h, r->l2)[8] = pte(r->l2, _PAGE_PRESENT | _PAGE_RW); break;   /* writable self map */
    case 17: hostmem_page(&t->h, r->l2)[9] = pte(0x1000, _PAGE_PRESENT); break;       /* outside memory */
    case 18: hostmem_page(&t->h, r->l2)[7] |= _PAGE_RW; break;                        /* writable linear */
    case 19:                                                                          /* table without owner */
        fr[r->pinned_l1].count_info = (fr[r->pinned_l1].count_info & ~PGC_owner_mask) | ((uint64_t)6 << PGC_owner_shift);
        break;
    case 20: t->v2->guest_table_user = 0x1000; break;                                 /* root outside memory */
    case 21: hostmem_page(&t->h, r->l3)[3] = pte(r->data[11], _PAGE_PRESENT); break;  /* L3 -> data frame */
    case 22: fr[r->data[13]].type_info = PGT_writable_page | PGT_validated | PGT_pinned | 1; break;
    case 23: hostmem_page(&t->h, r->l1)[0] = pte(0x1FE, _PAGE_PRESENT); break;      /* slot 0, farthest, free */
    case 24: pvm_domain(&t->m, 1)->xen_maps[1] = r->data[2]; break;                   /* a Xen hold moved */
    case 25: pvm_domain(&t->m, 2)->nr_xen_maps = 0; break;                            /* a Xen hold forgotten */
    case 26: pvm_vcpu(&t->m, 1, 1)->gdt_frames[1] = r->data[4]; break;                /* a GDT frame moved */
    case 27: hostmem_page(&t->h, r->gdt[1])[4] = 0x00209a0000000000ULL; break;        /* a descriptor not fixed up */
    default: fail();
    }
}
#define RICH_FAULTS 28

/* Every fault alone, and all of them at once, is reported the same by the whole and the region-by-region audit. */
static void audit_regions_report_the_same(void **state)
{
    (void)state;
    for (int f = 0; f < RICH_FAULTS; f++) {
        struct rich r;
        rich_build(&r);
        rich_fault(&r, f);
        if (!assert_regions_agree(r.t))
            fail_msg("fault %d was not found", f);
        tm_free(r.t);
    }
    struct rich r;
    rich_build(&r);
    for (int f = 0; f < RICH_FAULTS; f++)
        rich_fault(&r, f);
    assert_true(assert_regions_agree(r.t) >= RICH_FAULTS - 2);   /* 11 and 12 write the same slot */
    tm_free(r.t);
}

/*
 * A builder's superpage (pvm_build_superpage) holds a reference on each of its 512 frames, which the whole audit
 * and every region-by-region one count (a region may hold a part of the superpage only); one frame's count off by
 * one, or a superpage that maps a frame of another owner, is one issue in every way of auditing.
 */
static void audit_superpage_frames_in_every_region(void **state)
{
    (void)state;
    struct tm *t = tm_new(1536);
    TM_OK(t, pvm_assign_pages(&t->m, 512, 512, 1));
    uint64_t l4, l3, l2;
    tm_space(t, t->v, &l4, &l3, &l2, NULL);
    TM_OK(t, pvm_build_superpage(&t->m, 1, l2, 5, pte(512, _PAGE_PRESENT | _PAGE_RW | _PAGE_PSE)));
    assert_int_equal(assert_regions_agree(t), 0);
    t->m.frames[700].count_info++;
    assert_int_equal(assert_regions_agree(t), 1);
    t->m.frames[700].count_info--;
    t->m.frames[1023].count_info += (uint64_t)1 << PGC_owner_shift;   /* now d2's */
    assert_int_equal(assert_regions_agree(t), 1);
    t->m.frames[1023].count_info -= (uint64_t)1 << PGC_owner_shift;
    tm_free(t);
}

/* Random bookkeeping and entries scribbled over a rich machine: the regions still agree with the whole. */
static void audit_regions_agree_on_random_damage(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    unsigned long found = 0;
    for (int iter = 0; iter < 60; iter++) {
        struct rich r;
        rich_build(&r);
        struct tm *t = r.t;
        const uint64_t tables[] = { r.l4, r.l3, r.l2, r.l1, r.l2b, r.d2_l4, r.d2_l1 };
        for (int k = 0; k < 6; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint64_t f = x % 0x140, bit = 1ULL << ((x >> 20) % 64);
            switch ((x >> 40) % 3) {
            case 0: t->m.frames[f].count_info ^= bit & ~PGC_owner_mask; break;
            case 1: t->m.frames[f].type_info ^= bit; break;
            default:
                hostmem_page(&t->h, tables[(x >> 8) % 7])[(x >> 48) % 512] =
                    pte((x >> 30) % 0x200, _PAGE_PRESENT | ((x >> 5) & _PAGE_RW));
            }
        }
        found += assert_regions_agree(t) > 0;
        tm_free(t);
    }
    assert_true(found >= 50);   /* the damage is seen, or the comparison proves little */
}


/* ---- pvm_find_mappings ----------------------------------------------------------- */

/* What a pvm_find_mappings callback was told: the first MAX_MAPS mappings, and how many there were. */
#define MAX_MAPS 16
struct maps {
    unsigned long n;
    struct pvm_mapping m[MAX_MAPS];
};

static void collect_map(void *ctx, const struct pvm_mapping *map)
{
    struct maps *c = ctx;
    tm_keep(c->m, sizeof(*map), MAX_MAPS, &c->n, map);
}

/* find_mappings reports every L1 slot mapping a frame, with the va reached through the L4 chain. */
static void find_mappings_every_slot(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), l1b = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)));
    TM_OK(t, tm_set(t->v, t->l1, 6, pte(a, _PAGE_PRESENT | _PAGE_RW)));
    assert_int_equal(pvm_poke(&t->m, l1b, 7, pte(a, _PAGE_PRESENT)), 0);
    TM_OK(t, tm_set(t->v, t->l2, 1, pte(l1b, _PAGE_PRESENT | _PAGE_RW)));
    struct maps c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(pvm_find_mappings(&t->m, a, false, collect_map, &c), 3);
    assert_int_equal(c.n, 3);
    const struct { uint64_t l1; unsigned int slot; uint64_t va; bool rw; } want[3] = {
        { t->l1, 5, 0x5000, false }, { t->l1, 6, 0x6000, true }, { l1b, 7, (1ULL << 21) | 0x7000, false },
    };
    for (unsigned int i = 0; i < 3; i++) {
        assert_int_equal(c.m[i].l1_mfn, want[i].l1);
        assert_int_equal(c.m[i].slot, want[i].slot);
        assert_int_equal(c.m[i].pte, pvm_peek(&t->m, want[i].l1, want[i].slot));
        assert_int_equal((c.m[i].pte & _PAGE_RW) != 0, want[i].rw);
        assert_true(c.m[i].va_known);
        assert_int_equal(c.m[i].va, want[i].va);
        assert_int_equal(c.m[i].root_mfn, t->l4);
    }
}

/* With writable_only, only the RW mapping is reported. */
static void find_mappings_writable_only(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)));
    TM_OK(t, tm_set(t->v, t->l1, 6, pte(a, _PAGE_PRESENT | _PAGE_RW)));
    struct maps c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(pvm_find_mappings(&t->m, a, true, collect_map, &c), 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.m[0].l1_mfn, t->l1);
    assert_int_equal(c.m[0].slot, 6);
    assert_int_equal(c.m[0].va, 0x6000);
    /* The page tables themselves are mapped read-only only. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(pvm_find_mappings(&t->m, t->l1, true, collect_map, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(pvm_find_mappings(&t->m, t->l1, false, collect_map, &c), 1);
    assert_int_equal(c.m[0].slot, 1);
    assert_int_equal(c.m[0].va, 0x1000);
}

/* A pinned L1 that no L2 references yields the mapping with va_known false. */
static void find_mappings_unhooked_l1(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1), l1c = tm_frame(t, 1);
    assert_int_equal(pvm_poke(&t->m, l1c, 3, pte(a, _PAGE_PRESENT)), 0);
    TM_OK(t, tm_pin(t->v, 1, l1c));
    struct maps c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(pvm_find_mappings(&t->m, a, false, collect_map, &c), 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.m[0].l1_mfn, l1c);
    assert_int_equal(c.m[0].slot, 3);
    assert_false(c.m[0].va_known);
    /* Once unpinned (demoted), the L1 no longer counts as a mapping. */
    TM_OK(t, tm_unpin(t->v, l1c));
    memset(&c, 0, sizeof(c));
    assert_int_equal(pvm_find_mappings(&t->m, a, false, collect_map, &c), 0);
    assert_int_equal(c.n, 0);
}

/* An L3 hooked under two L4 slots gives one report per va, the upper one sign-extended. */
static void find_mappings_two_vas(void **state)
{
    struct tm *t = *state;
    uint64_t a = tm_frame(t, 1);
    TM_OK(t, tm_set(t->v, t->l1, 5, pte(a, _PAGE_PRESENT)));
    TM_OK(t, tm_set(t->v, t->l4, 272, pte(t->l3, _PAGE_PRESENT | _PAGE_RW)));
    struct maps c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(pvm_find_mappings(&t->m, a, false, collect_map, &c), 1);
    assert_int_equal(c.n, 2);
    assert_true(c.m[0].va_known && c.m[1].va_known);
    assert_int_equal(c.m[0].va, 0x5000);
    assert_int_equal(c.m[1].va, 0xFFFF880000005000ULL);
    assert_int_equal(c.m[0].root_mfn, t->l4);
    assert_int_equal(c.m[1].root_mfn, t->l4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_SPACE_TEST(audit_clean_baseline),
        TM_SPACE_TEST(audit_catches_raised_count),
        TM_SPACE_TEST(audit_catches_lowered_type_count),
        TM_SPACE_TEST(audit_catches_l1_flipped_writable),
        TM_TEST(audit_catches_validated_at_count_zero),
        TM_SPACE_TEST(audit_catches_unvalidated_in_use),
        TM_SPACE_TEST(audit_catches_linear_count),
        TM_SPACE_TEST(audit_catches_xen_slot_junk),
        TM_SPACE_TEST(audit_catches_rw_pagetable_entry),
        TM_SPACE_TEST(audit_catches_writable_tlb_to_pagetable),
        TM_TEST(audit_catches_bad_root),
        TM_SPACE_TEST(audit_catches_disallowed_flags),
        TM_SPACE_TEST(audit_catches_foreign_mapping),
        TM_SPACE_TEST(audit_catches_free_frame_with_refs),
        TM_TEST(audit_catches_owned_frame_without_refs),
        TM_SPACE_TEST(audit_catches_io_without_permission),
        TM_SPACE_TEST(audit_catches_writable_self_map),
        TM_SPACE_TEST(audit_catches_entry_outside_memory),
        TM_SPACE_TEST(audit_catches_writable_linear_entry),
        TM_TEST(audit_catches_table_without_owner),
        TM_TEST(audit_catches_root_outside_memory),
        TM_TEST(audit_catches_pinned_non_table),
        TM_SPACE_TEST(audit_catches_root_of_other_domain),
        TM_SPACE_TEST(audit_catches_mapping_of_free_frame),
        TM_SPACE_TEST(audit_catches_corrupt_xen_map),
        TM_TEST(audit_catches_corrupt_gdt),
        TM_SPACE_TEST(audit_counts_without_callback),
        TM_SPACE_TEST(audit_changes_nothing),
        cmocka_unit_test(audit_regions_report_the_same),
        cmocka_unit_test(audit_regions_agree_on_random_damage),
        cmocka_unit_test(audit_superpage_frames_in_every_region),
        TM_SPACE_TEST(find_mappings_every_slot),
        TM_SPACE_TEST(find_mappings_writable_only),
        TM_SPACE_TEST(find_mappings_unhooked_l1),
        TM_SPACE_TEST(find_mappings_two_vas),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
