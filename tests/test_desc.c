/*
 * test_desc.c - descriptor-table frames (pvm_set_gdt, pvm_update_descriptor,
 * the seg_desc type): a GDT frame holds a general and a seg_desc type
 * reference, is validated by Xen's check_descriptor rules (DPL fixed up in
 * place), can be neither mapped writable nor put in a GDT while mapped
 * writable, and is let go by the next set_gdt; update_descriptor writes one
 * checked descriptor under a transient type reference.  The auditor runs
 * after every operation.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

#define PG_P  _PAGE_PRESENT
#define PG_RW _PAGE_RW

/* Descriptors (high word << 32 | low word), and what Xen stores for them. */
#define CODE64_DPL0   0x00209a0000000000ULL   /* 64-bit code, DPL 0 */
#define CODE64_DPL3   0x0020fa0000000000ULL   /* ...as Xen stores it */
#define DATA_DPL0     0x00cf92000000ffffULL   /* flat data, DPL 0 */
#define DATA_DPL3     0x00cff2000000ffffULL
#define CODE64_USER   0x00affa000000ffffULL   /* DPL 3 already: kept */
#define NOT_PRESENT   0xffff7fffffffffffULL   /* anything, with P clear: kept */
#define TYPE0_DPL0    0x0000800000000000ULL   /* present system type 0 (a gate's upper half): kept, DPL too */
#define TSS64         0x0000890000001000ULL   /* a 64-bit TSS: refused */
#define GATE_KERNEL   0x0000ec00e0331000ULL   /* call gate to FLAT_KERNEL_CS, DPL 3 */
#define GATE_KERNEL_X 0x00008c00e0331000ULL   /* ...DPL 0, RPL 3 */
#define GATE_GUEST    0x00008c0000102000ULL   /* call gate to guest selector 0x10, DPL 0 */
#define GATE_GUEST_X  0x00008c0000132000ULL   /* ...DPL 0, the meant DPL (3) in the selector's RPL */
#define GATE_LDT      0x0000ec00e00c3000ULL   /* call gate to LDT selector 0xe00c (past the guest's GDT) */
#define GATE_LDT_X    0x00008c00e00f3000ULL
#define GATE_XEN      0x0000ec00e0081000ULL   /* call gate to Xen's reserved entry 0xe008: refused */
#define GATE_KERNEL0  0x0000ec00e0301000ULL   /* FLAT_KERNEL_CS with RPL 0 is not FLAT_KERNEL_CS: refused */
#define GATE_IST      0x0000ec0100102000ULL   /* call gate with a reserved bit set: refused */

#define GDT_MAX_ENTRIES (14u * 512u)   /* Xen's FIRST_RESERVED_GDT_ENTRY */

/* A fresh frame of d1 holding descriptors descs[0..n) in slots 0..n-1; the auditor stays clean. */
static uint64_t desc_frame(struct tm *t, const uint64_t *descs, unsigned int n)
{
    uint64_t f = tm_frame(t, 1);
    for (unsigned int i = 0; i < n; i++)
        TM_OK(t, pvm_poke(&t->m, f, i, descs[i]));
    return f;
}

/* v's GDT is exactly frames[0..n) with entries; every other gdt_frames[] slot is 0. */
static void assert_gdt(const struct pvm_vcpu *v, const uint64_t *frames, unsigned int n, unsigned int entries)
{
    assert_int_equal(v->gdt_ents, entries);
    for (unsigned int i = 0; i < PVM_MAX_GDT_FRAMES; i++)
        assert_int_equal(v->gdt_frames[i], i < n ? frames[i] : 0);
}

/* A call that must fail with rc, leave every frame and d1v0's GDT as they were; the auditor stays clean. */
#define GDT_REFUSED(t, call, rc)                                                          \
    do {                                                                                  \
        struct pvm_vcpu old_ = *(t)->v;                                                   \
        TM_REFUSED(t, call, rc);                                                          \
        assert_int_equal((t)->v->gdt_ents, old_.gdt_ents);                                \
        assert_memory_equal((t)->v->gdt_frames, old_.gdt_frames, sizeof(old_.gdt_frames)); \
    } while (0)

/*
 * A GDT frame takes a general and a seg_desc type reference and is validated; v's gdt_frames[]/gdt_ents hold it,
 * pvm_frame_query names the vCPU, and v's TLB is flushed (do_set_gdt's flush_tlb_local).
 */
static void set_gdt_takes_seg_desc_refs(void **state)
{
    struct tm *t = *state;
    const uint64_t descs[] = { 0, CODE64_USER, DATA_DPL3 };
    uint64_t f = desc_frame(t, descs, 3);
    struct pvm_stats s0 = t->m.stats;
    TM_OK(t, pvm_set_gdt(t->v, &f, 1, 24));
    TM_FRAME(t, f, "owner=d1 type=seg_desc tc=1 validated count=2 allocated !pinned");
    assert_gdt(t->v, &f, 1, 24);
    struct pvm_frame_state st = tm_state(t, f);
    assert_int_equal(st.gdt_refs, 1);
    assert_int_equal(st.gdt_vcpus, 1u << 0);
    assert_int_equal(st.xen_maps, 0);
    /* one flush of v's own, besides those of the type change (the frame's stamp is older than both vCPUs') */
    assert_int_equal(t->m.stats.tlb_flushes - t->m.stats.tlb_flushes_typechange,
                     s0.tlb_flushes - s0.tlb_flushes_typechange + 1);
    assert_int_equal(t->m.stats.hc_other, s0.hc_other + 1);
    assert_int_equal(t->v->tlbflush_time, t->m.tlbflush_clock);
    /* the other vCPU's GDT is its own */
    struct pvm_vcpu *v1 = pvm_vcpu(&t->m, 1, 1);
    assert_gdt(v1, NULL, 0, 0);
    TM_OK(t, pvm_set_gdt(v1, &f, 1, 512));
    TM_FRAME(t, f, "type=seg_desc tc=2 count=3");
    st = tm_state(t, f);
    assert_int_equal(st.gdt_refs, 2);
    assert_int_equal(st.gdt_vcpus, 3u);
}

/*
 * The list gives (entries + 511) / 512 frames: 1 entry is one frame, 513 two, 14 * 512 fourteen; frames past those
 * are not read; a list shorter than the entries need is -EFAULT with nothing changed.
 */
static void frames_follow_entries(void **state)
{
    struct tm *t = *state;
    uint64_t fr[PVM_MAX_GDT_FRAMES];
    for (unsigned int i = 0; i < PVM_MAX_GDT_FRAMES; i++)
        fr[i] = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, fr, 3, 1));
    assert_gdt(t->v, fr, 1, 1);
    TM_FRAME(t, fr[1], "type=none tc=0 count=1");
    TM_OK(t, pvm_set_gdt(t->v, fr, 3, 513));
    assert_gdt(t->v, fr, 2, 513);
    TM_FRAME(t, fr[1], "type=seg_desc tc=1 count=2");
    TM_FRAME(t, fr[2], "type=none tc=0");
    TM_OK(t, pvm_set_gdt(t->v, fr, PVM_MAX_GDT_FRAMES, GDT_MAX_ENTRIES));
    assert_gdt(t->v, fr, 14, GDT_MAX_ENTRIES);
    TM_FRAME(t, fr[13], "type=seg_desc tc=1 count=2");
    TM_FRAME(t, fr[14], "type=none tc=0 count=1");
    GDT_REFUSED(t, pvm_set_gdt(t->v, fr, 1, 513), -XEN_EFAULT);
    assert_int_equal(t->m.last.why, PVM_WHY_FAULT);
    GDT_REFUSED(t, pvm_set_gdt(t->v, NULL, 0, 1), -XEN_EFAULT);
    /* no entries: no GDT, and the old one's references go */
    TM_OK(t, pvm_set_gdt(t->v, NULL, 0, 0));
    assert_gdt(t->v, NULL, 0, 0);
    for (unsigned int i = 0; i < 14; i++)
        TM_FRAME(t, fr[i], "type=seg_desc tc=0 count=1");
}

/* More entries than the guest's part of the GDT (14 * 512) is -EINVAL (Xen's check, before the list is read). */
static void too_many_entries_refused(void **state)
{
    struct tm *t = *state;
    uint64_t fr[PVM_MAX_GDT_FRAMES];
    for (unsigned int i = 0; i < PVM_MAX_GDT_FRAMES; i++)
        fr[i] = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, fr, 1, 100));
    uint64_t refusals = t->m.stats.refusals;
    GDT_REFUSED(t, pvm_set_gdt(t->v, fr, PVM_MAX_GDT_FRAMES, GDT_MAX_ENTRIES + 1), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_ARG);
    GDT_REFUSED(t, pvm_set_gdt(t->v, NULL, 0, 0xFFFFFFFFu), -XEN_EINVAL);   /* -EINVAL, not the list's -EFAULT */
    assert_int_equal(t->m.stats.refusals, refusals + 2);
    TM_FRAME(t, fr[15], "type=none tc=0");
    assert_gdt(t->v, fr, 1, 100);
}

/*
 * A frame mapped writable cannot go into a GDT (Xen's "Bad type" line, -EINVAL, the old GDT kept); once a GDT
 * holds a frame, a writable mapping of it is refused through mmu_update (read-only is fine), and so is Xen's own
 * writable hold; the explanation names the GDT.
 */
static void writable_and_gdt_exclude_each_other(void **state)
{
    struct tm *t = *state;
    uint64_t old = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, &old, 1, 512));
    uint64_t f = tm_map_frame(t, 0, PG_P | PG_RW);
    GDT_REFUSED(t, pvm_set_gdt(t->v, &f, 1, 512), -XEN_EINVAL);
    assert_int_equal(tm_bad_type_logs(t, PGT_writable_page | PGT_validated | 1, PGT_seg_desc_page, f), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(t->m.last.mfn, f);
    assert_int_equal(t->m.last.exp, PGT_seg_desc_page);
    char *text = tm_explanation(t, "", NULL);
    assert_non_null(strstr(text, "hint: the frame is still mapped writable"));
    assert_non_null(strstr(text, "before it goes into a GDT"));
    free(text);
    assert_gdt(t->v, &old, 1, 512);
    TM_FRAME(t, old, "type=seg_desc tc=1 count=2");

    TM_OK(t, tm_set(t->v, t->l1, 0, pte(f, PG_P)));   /* read-only now: the writable type goes */
    TM_OK(t, pvm_set_gdt(t->v, &f, 1, 512));
    TM_FRAME(t, f, "type=seg_desc tc=1 validated count=3");
    TM_SET_REFUSED(t, t->v, t->l1, 0, pte(f, PG_P | PG_RW), -XEN_EBUSY);   /* get_page_from_l1e's -EBUSY */
    uint64_t taf = PGT_seg_desc_page | PGT_validated | 1;
    assert_int_equal(tm_bad_type_logs(t, taf, PGT_writable_page, f), 1);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    assert_int_equal(t->m.last.saw, taf);
    text = tm_explanation(t, "", NULL);
    assert_non_null(strstr(text, "type seg_desc, type count 1 (1 in the GDT of d1v0)"));
    assert_non_null(strstr(text, "GDTs holding it:\n    frame of d1 v0's GDT (set_gdt)"));
    assert_non_null(strstr(text, "hint: the frame is a descriptor page in a vCPU's GDT"));
    assert_null(strstr(text, "is a page table"));
    free(text);
    TM_SET_REFUSED(t, t->v, t->l1, 7, pte(f, PG_P | PG_RW), -XEN_EBUSY);   /* a new writable mapping too */
    TM_OK(t, tm_set(t->v, t->l1, 7, pte(f, PG_P)));
    TM_REFUSED(t, pvm_xen_map_frame(&t->m, 1, f), -XEN_EINVAL);
    TM_REFUSED(t, tm_pin(t->v, 1, f), -XEN_EINVAL);   /* nor a page table */
}

/*
 * A descriptor check_descriptor refuses fails set_gdt with Xen's "Error while validating" line: -EINVAL, the
 * frame untyped, the old GDT and its counts kept.  As in Xen, the descriptors before the refused one stay fixed
 * up, and a frame validated earlier in the list stays a descriptor page at type count 0.
 */
static void bad_descriptor_keeps_old_gdt(void **state)
{
    struct tm *t = *state;
    uint64_t old = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, &old, 1, 512));
    const uint64_t bad[] = { TSS64, GATE_XEN, GATE_KERNEL0, GATE_IST };
    for (unsigned int k = 0; k < 4; k++) {
        const uint64_t descs[] = { CODE64_DPL0, 0, 0, 0, 0, 0, 0, bad[k], DATA_DPL0 };
        uint64_t f = desc_frame(t, descs, 9);
        GDT_REFUSED(t, pvm_set_gdt(t->v, &f, 1, 512), -XEN_EINVAL);
        assert_int_equal(t->m.last.why, PVM_WHY_BAD_DESC);
        assert_int_equal(t->m.last.mfn, f);
        assert_int_equal(t->m.last.slot, 7);
        assert_int_equal(t->m.last.entry, bad[k]);
        assert_int_equal(tm_log_countf(t, "Error while validating mfn %05llx (pfn %05llx) for type %016llx",
                                       (unsigned long long)f, (unsigned long long)(f - 0x10),
                                       (unsigned long long)PGT_seg_desc_page), 1);
        TM_FRAME(t, f, "type=none tc=0 !validated count=1");
        assert_int_equal(pvm_peek(&t->m, f, 0), CODE64_DPL3);   /* fixed up before the refusal */
        assert_int_equal(pvm_peek(&t->m, f, 7), bad[k]);
        assert_int_equal(pvm_peek(&t->m, f, 8), DATA_DPL0);    /* never reached */
    }
    char *text = tm_explanation(t, "", NULL);
    assert_non_null(strstr(text, "why: -EINVAL: segment descriptor refused by Xen's check_descriptor"));
    assert_non_null(strstr(text, "descriptor: slot 7 (byte 0x38) holds 0000ec0100102000"));
    assert_non_null(strstr(text, "hint: a 64-bit PV guest's descriptor"));
    free(text);
    assert_gdt(t->v, &old, 1, 512);
    TM_FRAME(t, old, "type=seg_desc tc=1 count=2");

    /* two frames, the second refused: the first's references go again; it stays a validated descriptor page */
    const uint64_t good[] = { CODE64_DPL0 }, worse[] = { 0, TSS64 };
    uint64_t two[2] = { desc_frame(t, good, 1), desc_frame(t, worse, 2) };
    void *snap = tm_snapshot(t);
    tm_snapshot_set_type(snap, two[0], PGT_seg_desc_page | PGT_validated);
    TM_RC(t, pvm_set_gdt(t->v, two, 2, 1024), -XEN_EINVAL);
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.last.mfn, two[1]);
    assert_int_equal(t->m.last.slot, 1);
    assert_gdt(t->v, &old, 1, 512);
    assert_int_equal(pvm_peek(&t->m, two[0], 0), CODE64_DPL3);
}

/* Validation writes every descriptor back as Xen stores it: DPL 3, call gates at DPL 0 with the DPL in the RPL. */
static void fixups_written_back(void **state)
{
    struct tm *t = *state;
    const uint64_t in[] = { CODE64_DPL0, DATA_DPL0, CODE64_USER, NOT_PRESENT, TYPE0_DPL0,
                            GATE_KERNEL, 0, GATE_GUEST, 0, GATE_LDT, 0 };
    const uint64_t out[] = { CODE64_DPL3, DATA_DPL3, CODE64_USER, NOT_PRESENT, TYPE0_DPL0,
                             GATE_KERNEL_X, 0, GATE_GUEST_X, 0, GATE_LDT_X, 0 };
    unsigned int n = sizeof(in) / sizeof(in[0]);
    uint64_t f = desc_frame(t, in, n);
    TM_OK(t, pvm_poke(&t->m, f, 511, DATA_DPL0));   /* the frame's last descriptor is checked too */
    TM_OK(t, pvm_set_gdt(t->v, &f, 1, 1));          /* one entry: the whole frame is validated */
    for (unsigned int i = 0; i < n; i++)
        assert_int_equal(pvm_peek(&t->m, f, i), out[i]);
    assert_int_equal(pvm_peek(&t->m, f, 511), DATA_DPL3);
}

/*
 * The next set_gdt lets the first GDT's frames go (type count back to 0, the seg_desc type kept with its
 * validation, as Xen keeps it), so they can be mapped writable again; a frame listed twice is two references.
 */
static void second_set_gdt_releases_first(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1), g = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, &f, 1, 512));
    TM_OK(t, pvm_set_gdt(t->v, &g, 1, 512));
    assert_gdt(t->v, &g, 1, 512);
    TM_FRAME(t, f, "type=seg_desc tc=0 validated count=1");
    TM_FRAME(t, g, "type=seg_desc tc=1 count=2");
    assert_int_equal(tm_state(t, f).gdt_refs, 0);
    TM_OK(t, tm_set(t->v, t->l1, 0, pte(f, PG_P | PG_RW)));
    TM_FRAME(t, f, "type=writable tc=1 count=2");
    /* the same GDT again: the new references come before the old go, so the frame never drops to count 0 */
    uint64_t gg[2] = { g, g };
    TM_OK(t, pvm_set_gdt(t->v, gg, 2, 1024));
    TM_FRAME(t, g, "type=seg_desc tc=2 count=3");
    assert_int_equal(tm_state(t, g).gdt_refs, 2);
    TM_OK(t, pvm_set_gdt(t->v, &g, 1, 512));
    TM_FRAME(t, g, "type=seg_desc tc=1 count=2");
    /* a released frame given back is freed with the GDT's last reference */
    TM_OK(t, pvm_release_page(&t->m, 1, g));
    TM_FRAME(t, g, "owner=d1 !allocated tc=1 count=1");
    TM_OK(t, pvm_set_gdt(t->v, NULL, 0, 0));
    TM_FRAME(t, g, "owner=none count=0 tc=0");
}

/* Only the vCPU's domain's frames: another domain's, a free one, an I/O frame, one past memory are -EINVAL. */
static void foreign_frames_refused(void **state)
{
    struct tm *t = *state;
    uint64_t mine = tm_frame(t, 1), other = tm_frame(t, 2), io = 0x1F0, free_mfn = 0x1F8;
    TM_OK(t, pvm_mark_io(&t->m, io));
    TM_OK(t, pvm_set_gdt(t->v, &mine, 1, 512));
    uint64_t lists[][2] = { { mine, other }, { free_mfn, mine }, { io, mine }, { mine, t->m.nr_frames } };
    for (unsigned int k = 0; k < 4; k++)
        GDT_REFUSED(t, pvm_set_gdt(t->v, lists[k], 2, 1024), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NO_PAGE);
    GDT_REFUSED(t, pvm_set_gdt(t->v, &other, 1, 512), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(tm_log_countf(t, "Error mfn %05llx: rd=d1 od=d2", (unsigned long long)other), 2);
    TM_FRAME(t, mine, "type=seg_desc tc=1 count=2");
    TM_OK(t, pvm_set_gdt(t->v2, &other, 1, 512));   /* its owner may */
}

/* update_descriptor: maddr must be 8-byte aligned, the descriptor acceptable, the frame the domain's RAM. */
static void update_descriptor_refusals(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1), other = tm_frame(t, 2);
    uint64_t refusals = t->m.stats.refusals;
    for (unsigned int off = 1; off < 8; off++)
        TM_REFUSED(t, pvm_update_descriptor(t->v, (f << 12) + 0x40 + off, CODE64_USER), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_ARG);
    TM_REFUSED(t, pvm_update_descriptor(t->v, (f << 12) + 0x38, TSS64), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_DESC);
    assert_int_equal(t->m.last.slot, 7);
    assert_int_equal(t->m.last.entry, TSS64);
    TM_REFUSED(t, pvm_update_descriptor(t->v, (f << 12) + 0x38, GATE_XEN), -XEN_EINVAL);
    TM_REFUSED(t, pvm_update_descriptor(t->v, other << 12, CODE64_USER), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NOT_OWNER);
    assert_int_equal(tm_log_countf(t, "Error mfn %05llx: rd=d1 od=d2", (unsigned long long)other), 1);
    TM_REFUSED(t, pvm_update_descriptor(t->v, t->m.nr_frames << 12, CODE64_USER), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_NO_PAGE);
    assert_int_equal(t->m.stats.refusals, refusals + 11);
    TM_FRAME(t, f, "type=none tc=0 count=1");
    for (unsigned int i = 0; i < 512; i++)
        assert_int_equal(pvm_peek(&t->m, f, i), 0);
    assert_int_equal(pvm_peek(&t->m, other, 0), 0);
}

/*
 * update_descriptor into a GDT frame: the descriptor is checked, fixed up and written; the frame keeps its one
 * GDT reference.  A page table in use is refused (it takes the writable type: Xen's "Bad type" line).
 */
static void update_descriptor_writes_fixed_up(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, &f, 1, 512));
    TM_OK(t, pvm_update_descriptor(t->v, (f << 12) + 0x10, CODE64_DPL0));
    TM_OK(t, pvm_update_descriptor(t->v, (f << 12) + 0xff8, GATE_GUEST));
    assert_int_equal(pvm_peek(&t->m, f, 2), CODE64_DPL3);
    assert_int_equal(pvm_peek(&t->m, f, 511), GATE_GUEST_X);
    TM_FRAME(t, f, "type=seg_desc tc=1 validated count=2");
    uint64_t l1 = tm_pinned(t, 1);
    TM_REFUSED(t, pvm_update_descriptor(t->v, l1 << 12, CODE64_USER), -XEN_EINVAL);
    assert_int_equal(tm_bad_type_logs(t, PGT_l1_page_table | PGT_pinned | PGT_validated | 1, PGT_writable_page, l1),
                     1);
    assert_int_equal(pvm_peek(&t->m, l1, 0), 0);
}

/*
 * Xen 4.17 takes the writable type for any frame that is not a descriptor page: a frame mapped writable is written
 * (its type stays writable, held by the mapping), and an untyped one is left writable at type count 0; a
 * descriptor page out of any GDT is written under the seg_desc type, which it keeps.
 */
static void update_descriptor_type_by_frame(void **state)
{
    struct tm *t = *state;
    uint64_t w = tm_map_frame(t, 0, PG_P | PG_RW), fresh = tm_frame(t, 1), spare = tm_frame(t, 1);
    TM_OK(t, pvm_update_descriptor(t->v, w << 12, DATA_DPL0));
    assert_int_equal(pvm_peek(&t->m, w, 0), DATA_DPL3);
    TM_FRAME(t, w, "type=writable tc=1 count=2");
    TM_OK(t, pvm_update_descriptor(t->v, fresh << 12, CODE64_USER));
    TM_FRAME(t, fresh, "type=writable tc=0 validated count=1");
    assert_int_equal(pvm_peek(&t->m, fresh, 0), CODE64_USER);
    TM_OK(t, pvm_set_gdt(t->v, &spare, 1, 512));
    TM_OK(t, pvm_set_gdt(t->v, NULL, 0, 0));
    TM_FRAME(t, spare, "type=seg_desc tc=0 validated count=1");
    TM_OK(t, pvm_update_descriptor(t->v, spare << 12, GATE_KERNEL));
    TM_FRAME(t, spare, "type=seg_desc tc=0 validated count=1");
    assert_int_equal(pvm_peek(&t->m, spare, 0), GATE_KERNEL_X);
}

/*
 * pvm_poke: a GDT frame is -EBUSY; a descriptor page out of any GDT may be written but loses its validation, so
 * the next set_gdt checks it again (and refuses what the builder wrote).
 */
static void poke_respects_descriptor_pages(void **state)
{
    struct tm *t = *state;
    uint64_t f = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, &f, 1, 512));
    TM_REFUSED(t, pvm_poke(&t->m, f, 3, TSS64), -XEN_EBUSY);
    assert_int_equal(pvm_peek(&t->m, f, 3), 0);
    TM_OK(t, pvm_set_gdt(t->v, NULL, 0, 0));
    TM_FRAME(t, f, "type=seg_desc tc=0 validated");
    TM_OK(t, pvm_poke(&t->m, f, 3, TSS64));
    TM_FRAME(t, f, "type=seg_desc tc=0 !validated");
    void *snap = tm_snapshot(t);
    tm_snapshot_set_type(snap, f, PGT_none);   /* a failed validation leaves the frame untyped, as in Xen */
    TM_RC(t, pvm_set_gdt(t->v, &f, 1, 512), -XEN_EINVAL);
    tm_assert_unchanged(t, snap);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_DESC);
    assert_gdt(t->v, NULL, 0, 0);
    TM_OK(t, pvm_poke(&t->m, f, 3, CODE64_DPL0));
    TM_OK(t, pvm_set_gdt(t->v, &f, 1, 512));
    assert_int_equal(pvm_peek(&t->m, f, 3), CODE64_DPL3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_TEST(set_gdt_takes_seg_desc_refs),
        TM_TEST(frames_follow_entries),
        TM_TEST(too_many_entries_refused),
        TM_SPACE_TEST(writable_and_gdt_exclude_each_other),
        TM_TEST(bad_descriptor_keeps_old_gdt),
        TM_TEST(fixups_written_back),
        TM_SPACE_TEST(second_set_gdt_releases_first),
        TM_TEST(foreign_frames_refused),
        TM_TEST(update_descriptor_refusals),
        TM_TEST(update_descriptor_writes_fixed_up),
        TM_SPACE_TEST(update_descriptor_type_by_frame),
        TM_TEST(poke_respects_descriptor_pages),
    };
    return cmocka_run_group_tests_name("desc", tests, NULL, NULL);
}
