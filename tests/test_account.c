/*
 * test_account.c - explain/'s freestanding accounts (account.h): what explain_refusal_to writes
 * through a sink into memory is, byte for byte, what the FILE* path (explain_refusal) prints, and
 * both are the text the libc implementation printed before the accounts became freestanding (the
 * expected strings below were taken from it).  So are the wrapped forms: explain_wrap_to, and the
 * line-by-line wrapper the hypervisor's console writes through, fed whole or a byte at a time.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "explain.h"

#define PG_P  _PAGE_PRESENT
#define PG_RW _PAGE_RW
#define TSS64 0x0000890000001000ULL   /* a 64-bit TSS descriptor: check_descriptor refuses it */

/* A memory sink: everything written, in order, NUL-terminated; a test fails rather than overflow. */
struct membuf {
    char text[32768];
    size_t len;
};

/* explain_sink.write into a struct membuf. */
static void mem_write(void *ctx, const char *s, size_t n)
{
    struct membuf *b = ctx;
    assert_true(n < sizeof(b->text) - b->len);
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}

/* A sink onto b, emptied first. */
static struct explain_sink mem_sink(struct membuf *b)
{
    b->len = 0;
    b->text[0] = '\0';
    return (struct explain_sink){ mem_write, b };
}

/*
 * t's latest refusal, with indent "    " (as `pvmmu script` and `boot` give it): through a memory
 * sink it is want, byte for byte, and so is the FILE* path; wrapped (explain_wrap_to, explain_wrap,
 * and explain_wrapper fed the account as one write and a byte at a time) it is want_wrapped.
 */
static void check_account(struct tm *t, const struct explain_names *names, const char *want, const char *want_wrapped)
{
    static struct membuf mem, wrapped;
    struct explain_sink sink = mem_sink(&mem);
    explain_refusal_to(&sink, &t->m, "    ", names);
    assert_string_equal(mem.text, want);
    char *file = tm_explanation(t, "    ", names);
    assert_int_equal(strlen(file), mem.len);
    assert_memory_equal(file, mem.text, mem.len);
    free(file);

    struct explain_sink out = mem_sink(&wrapped);
    explain_wrap_to(&out, mem.text);
    assert_string_equal(wrapped.text, want_wrapped);
    char *fw = tm_wrapped(mem.text);
    assert_string_equal(fw, want_wrapped);
    free(fw);

    static struct explain_wrapper w;
    struct explain_sink ws = explain_wrapper_start(&w, mem_sink(&wrapped));
    explain_refusal_to(&ws, &t->m, "    ", names);
    explain_wrapper_flush(&w);
    assert_string_equal(wrapped.text, want_wrapped);
    ws = explain_wrapper_start(&w, mem_sink(&wrapped));
    for (size_t i = 0; i < mem.len; i++)
        ws.write(ws.ctx, mem.text + i, 1);
    explain_wrapper_flush(&w);
    assert_string_equal(wrapped.text, want_wrapped);
}

/* explain_names.frame: names for three of d1v0's tables (ctx is the struct tm). */
static const char *frame_name(void *ctx, uint64_t mfn)
{
    struct tm *t = ctx;
    return mfn == t->l1 ? "l1" : mfn == t->l4 ? "root" : mfn == t->l2 ? "the-l2" : NULL;
}

/* explain_names.va: the low virtual pages have a name. */
static const char *va_name(void *ctx, uint64_t va)
{
    (void)ctx;
    return va < 0x8000 ? "the low pages" : NULL;
}

/* A pin of a frame mapped writable twice (slots 0 and 7 of d1v0's L1): Bad type, both mappings listed. */
static void refuse_pin_of_writable(struct tm *t)
{
    uint64_t f = tm_map_frame(t, 0, PG_P | PG_RW);
    TM_OK(t, tm_set(t->v, t->l1, 7, pte(f, PG_P | PG_RW)));
    TM_RC(t, tm_pin(t->v, 1, f), -XEN_EINVAL);
}

/* Bad type, the frame still mapped writable: every writable mapping listed, without names and with them. */
static void bad_type_lists_writable_mappings(void **state)
{
    struct tm *t = *state;
    refuse_pin_of_writable(t);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_TYPE);
    check_account(t, NULL,
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2, validated, general count 3 (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted l1\n"
        "      writable mappings of it:\n"
        "      L1 mfn 0x13 slot 0 (pte 0010000000014007) maps va 0 under root mfn 0x10\n"
        "      L1 mfn 0x13 slot 7 (pte 0010000000014007) maps va 0x7000 under root mfn 0x10\n"
        "      hint: the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush) before it is pinned, hooked into a validated table or loaded as a root\n",
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2, validated, general count 3\n"
        "        (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted l1\n"
        "      writable mappings of it:\n"
        "      L1 mfn 0x13 slot 0 (pte 0010000000014007) maps va 0 under root mfn 0x10\n"
        "      L1 mfn 0x13 slot 7 (pte 0010000000014007) maps va 0x7000 under root mfn 0x10\n"
        "      hint: the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush)\n"
        "        before it is pinned, hooked into a validated table or loaded as a root\n");
    const struct explain_names names = { frame_name, va_name, t };
    check_account(t, &names,
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2, validated, general count 3 (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted l1\n"
        "      writable mappings of it:\n"
        "      L1 mfn 0x13 l1 slot 0 (pte 0010000000014007) maps va 0 under root mfn 0x10 root: the low pages\n"
        "      L1 mfn 0x13 l1 slot 7 (pte 0010000000014007) maps va 0x7000 under root mfn 0x10 root: the low pages\n"
        "      hint: the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush) before it is pinned, hooked into a validated table or loaded as a root\n",
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2, validated, general count 3\n"
        "        (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted l1\n"
        "      writable mappings of it:\n"
        "      L1 mfn 0x13 l1 slot 0 (pte 0010000000014007) maps va 0 under root mfn 0x10 root: the low pages\n"
        "      L1 mfn 0x13 l1 slot 7 (pte 0010000000014007) maps va 0x7000 under root mfn 0x10 root: the low\n"
        "        pages\n"
        "      hint: the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush)\n"
        "        before it is pinned, hooked into a validated table or loaded as a root\n");
}

/* An L2 entry with PSE: bad flags, the table and slot named. */
static void bad_flags_names_table_and_slot(void **state)
{
    struct tm *t = *state;
    uint64_t g = tm_frame(t, 1);
    TM_RC(t, tm_set(t->v, t->l2, 1, pte(g, PG_P | PG_RW | _PAGE_PSE)), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_FLAGS);
    const struct explain_names names = { frame_name, va_name, t };
    check_account(t, &names,
        "    why: -EINVAL: disallowed flags for this level\n"
        "      where: L2 table mfn 0x12 the-l2, slot 1, entry 0000000000014083\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type none, type count 0, general count 1 (incl. allocation) [caf=8000000000000001 taf=0000000000000000]\n"
        "      hint: PV guests get no superpages (PSE), GLOBAL only in L1, and cache attributes only with I/O rights\n",
        "    why: -EINVAL: disallowed flags for this level\n"
        "      where: L2 table mfn 0x12 the-l2, slot 1, entry 0000000000014083\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type none, type count 0, general count 1 (incl. allocation)\n"
        "        [caf=8000000000000001 taf=0000000000000000]\n"
        "      hint: PV guests get no superpages (PSE), GLOBAL only in L1, and cache attributes only with I/O\n"
        "        rights\n");
}

/* A writable mapping of a frame in d1v0's GDT: Bad type (seg_desc), the GDT holding it named. */
static void gdt_frame_names_its_gdt(void **state)
{
    struct tm *t = *state;
    uint64_t d = tm_frame(t, 1);
    TM_OK(t, pvm_set_gdt(t->v, &d, 1, 512));
    TM_RC(t, tm_set(t->v, t->l1, 9, pte(d, PG_P | PG_RW)), -XEN_EBUSY);
    assert_int_equal(t->m.last.saw & PGT_type_mask, PGT_seg_desc_page);
    check_account(t, NULL,
        "    why: -EBUSY: frame already in use with another type\n"
        "      where: L1 table mfn 0x13, slot 9, entry 0010000000014007\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type seg_desc, type count 1 (1 in the GDT of d1v0), validated, general count 2 (incl. allocation) [caf=8000000000000002 taf=a400000000000001]\n"
        "      type: saw a400000000000001, wanted writable\n"
        "      GDTs holding it:\n"
        "        frame of d1 v0's GDT (set_gdt)\n"
        "      hint: the frame is a descriptor page in a vCPU's GDT (set_gdt): it cannot be mapped writable or become a page table until every GDT holding it is replaced; change its descriptors with update_descriptor, or map it read-only\n",
        "    why: -EBUSY: frame already in use with another type\n"
        "      where: L1 table mfn 0x13, slot 9, entry 0010000000014007\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type seg_desc, type count 1 (1 in the GDT of d1v0), validated,\n"
        "        general count 2 (incl. allocation) [caf=8000000000000002 taf=a400000000000001]\n"
        "      type: saw a400000000000001, wanted writable\n"
        "      GDTs holding it:\n"
        "        frame of d1 v0's GDT (set_gdt)\n"
        "      hint: the frame is a descriptor page in a vCPU's GDT (set_gdt): it cannot be mapped writable\n"
        "        or become a page table until every GDT holding it is replaced; change its descriptors with\n"
        "        update_descriptor, or map it read-only\n");
}

/* set_gdt of a frame mapped writable, and of one holding a descriptor Xen refuses. */
static void set_gdt_refusals(void **state)
{
    struct tm *t = *state;
    refuse_pin_of_writable(t);
    uint64_t f = t->m.last.mfn;
    TM_RC(t, pvm_set_gdt(t->v, &f, 1, 512), -XEN_EINVAL);
    check_account(t, NULL,
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2, validated, general count 3 (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted seg_desc\n"
        "      writable mappings of it:\n"
        "      L1 mfn 0x13 slot 0 (pte 0010000000014007) maps va 0 under root mfn 0x10\n"
        "      L1 mfn 0x13 slot 7 (pte 0010000000014007) maps va 0x7000 under root mfn 0x10\n"
        "      hint: the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush) before it goes into a GDT (set_gdt)\n",
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2, validated, general count 3\n"
        "        (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted seg_desc\n"
        "      writable mappings of it:\n"
        "      L1 mfn 0x13 slot 0 (pte 0010000000014007) maps va 0 under root mfn 0x10\n"
        "      L1 mfn 0x13 slot 7 (pte 0010000000014007) maps va 0x7000 under root mfn 0x10\n"
        "      hint: the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush)\n"
        "        before it goes into a GDT (set_gdt)\n");
    uint64_t b = tm_frame(t, 1);
    TM_OK(t, pvm_poke(&t->m, b, 3, TSS64));
    TM_RC(t, pvm_set_gdt(t->v, &b, 1, 512), -XEN_EINVAL);
    assert_int_equal(t->m.last.why, PVM_WHY_BAD_DESC);
    check_account(t, NULL,
        "    why: -EINVAL: segment descriptor refused by Xen's check_descriptor\n"
        "      frame: mfn 0x15 (pfn 0x5, d1): type none, type count 0, general count 1 (incl. allocation) [caf=8000000000000001 taf=0000000000000000]\n"
        "      descriptor: slot 3 (byte 0x18) holds 0000890000001000\n"
        "      hint: a 64-bit PV guest's descriptor may be not present, a code or data segment (its DPL becomes 3), type 0 (a call gate's upper half) or a 64-bit call gate (type 12, reserved bits 0) whose target is one of the guest's GDT entries, an LDT selector or FLAT_KERNEL_CS (0xe033); Xen refuses any other\n",
        "    why: -EINVAL: segment descriptor refused by Xen's check_descriptor\n"
        "      frame: mfn 0x15 (pfn 0x5, d1): type none, type count 0, general count 1 (incl. allocation)\n"
        "        [caf=8000000000000001 taf=0000000000000000]\n"
        "      descriptor: slot 3 (byte 0x18) holds 0000890000001000\n"
        "      hint: a 64-bit PV guest's descriptor may be not present, a code or data segment\n"
        "        (its DPL becomes 3), type 0 (a call gate's upper half) or a 64-bit call gate\n"
        "        (type 12, reserved bits 0) whose target is one of the guest's GDT entries, an LDT selector\n"
        "        or FLAT_KERNEL_CS (0xe033); Xen refuses any other\n");
}

/* Frames Xen holds writable (pvm_xen_map_frame): twice, pinned as an L2; once, put into a GDT. */
static void xen_held_frames(void **state)
{
    struct tm *t = *state;
    uint64_t x = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, x));
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, x));
    TM_RC(t, tm_pin(t->v, 2, x), -XEN_EINVAL);
    check_account(t, NULL,
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2 (2 held by Xen), validated, general count 3 (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted l2\n"
        "      writable mappings of it:\n"
        "        Xen holds 2 writable references on this frame for its own use (pvm_xen_map_frame: vcpu_info, event channel or EOI pages)\n"
        "      hint: Xen keeps the frame writable for as long as it uses it (a registered vcpu_info, FIFO event channel page or pirq EOI bitmap), so it cannot become a page table until Xen lets it go; build the table in another frame\n",
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x14 (pfn 0x4, d1): type writable, type count 2 (2 held by Xen), validated, general\n"
        "        count 3 (incl. allocation) [caf=8000000000000003 taf=e400000000000002]\n"
        "      type: saw e400000000000002, wanted l2\n"
        "      writable mappings of it:\n"
        "        Xen holds 2 writable references on this frame for its own use\n"
        "          (pvm_xen_map_frame: vcpu_info, event channel or EOI pages)\n"
        "      hint: Xen keeps the frame writable for as long as it uses it\n"
        "        (a registered vcpu_info, FIFO event channel page or pirq EOI bitmap), so it cannot become a\n"
        "        page table until Xen lets it go; build the table in another frame\n");
    uint64_t y = tm_frame(t, 1);
    TM_OK(t, pvm_xen_map_frame(&t->m, 1, y));
    TM_RC(t, pvm_set_gdt(t->v, &y, 1, 512), -XEN_EINVAL);
    check_account(t, NULL,
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x15 (pfn 0x5, d1): type writable, type count 1 (1 held by Xen), validated, general count 2 (incl. allocation) [caf=8000000000000002 taf=e400000000000001]\n"
        "      type: saw e400000000000001, wanted seg_desc\n"
        "      writable mappings of it:\n"
        "        Xen holds a writable reference on this frame for its own use (pvm_xen_map_frame: vcpu_info, event channel or EOI page)\n"
        "      hint: Xen keeps the frame writable for as long as it uses it (a registered vcpu_info, FIFO event channel page or pirq EOI bitmap), so it cannot become a descriptor page until Xen lets it go; put the GDT in another frame\n",
        "    why: -EINVAL: frame already in use with another type\n"
        "      frame: mfn 0x15 (pfn 0x5, d1): type writable, type count 1 (1 held by Xen), validated, general\n"
        "        count 2 (incl. allocation) [caf=8000000000000002 taf=e400000000000001]\n"
        "      type: saw e400000000000001, wanted seg_desc\n"
        "      writable mappings of it:\n"
        "        Xen holds a writable reference on this frame for its own use\n"
        "          (pvm_xen_map_frame: vcpu_info, event channel or EOI page)\n"
        "      hint: Xen keeps the frame writable for as long as it uses it\n"
        "        (a registered vcpu_info, FIFO event channel page or pirq EOI bitmap), so it cannot become a\n"
        "        descriptor page until Xen lets it go; put the GDT in another frame\n");
}

/* A pin of the pinned root, named: the frame line takes the caller's name as its prefix. */
static void named_frame_prefix(void **state)
{
    struct tm *t = *state;
    TM_RC(t, tm_pin(t->v, 4, t->l4), -XEN_EINVAL);
    const struct explain_names names = { frame_name, va_name, t };
    check_account(t, &names,
        "    why: -EINVAL: frame already pinned\n"
        "      frame: root = mfn 0x10 (pfn 0, d1): type l4, type count 2, validated, pinned, general count 4 (incl. allocation) [caf=8000000000000004 taf=8c00000000000002]\n"
        "      hint: unpin it first\n",
        "    why: -EINVAL: frame already pinned\n"
        "      frame: root = mfn 0x10 (pfn 0, d1): type l4, type count 2, validated, pinned, general count 4\n"
        "        (incl. allocation) [caf=8000000000000004 taf=8c00000000000002]\n"
        "      hint: unpin it first\n");
}

/* No refusal (none yet, or the latest operation succeeded): nothing is written. */
static void no_refusal_writes_nothing(void **state)
{
    struct tm *t = *state;
    static struct membuf mem;
    struct explain_sink sink = mem_sink(&mem);
    explain_refusal_to(&sink, &t->m, "    ", NULL);
    TM_RC(t, tm_pin(t->v, 4, t->l4), -XEN_EINVAL);
    TM_OK(t, tm_unpin(t->v, t->l4));
    explain_refusal_to(&sink, &t->m, "    ", NULL);
    assert_int_equal(mem.len, 0);
}

/* explain_frame_to: an I/O frame, one past memory, a free frame, a table; through the sink as onto a FILE*. */
static void frames_as_the_file_path(void **state)
{
    struct tm *t = *state;
    pvm_mark_io(&t->m, 5);
    static struct membuf mem;
    struct explain_sink sink = mem_sink(&mem);
    explain_frame_to(&sink, &t->m, 5, "  io: ");
    explain_frame_to(&sink, &t->m, 1ULL << 40, "  far: ");
    explain_frame_to(&sink, &t->m, 0x100, "");
    explain_frame_to(&sink, &t->m, t->l4, "x");
    const char *want = "  io: mfn 0x5 is an I/O frame (owner DOMID_IO)\n"
                       "  far: mfn 0x10000000000 is outside machine memory (I/O space)\n"
                       "mfn 0x100 (pfn 0xffffffffffffffff, free): type none, type count 0, general count 0 [caf=c00000000000000 taf=0000000000000000]\n"
                       "xmfn 0x10 (pfn 0, d1): type l4, type count 2, validated, pinned, general count 4 (incl. allocation) [caf=8000000000000004 taf=8c00000000000002]\n";
    assert_string_equal(mem.text, want);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    explain_frame(f, &t->m, 5, "  io: ");
    explain_frame(f, &t->m, 1ULL << 40, "  far: ");
    explain_frame(f, &t->m, 0x100, "");
    explain_frame(f, &t->m, t->l4, "x");
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf, want);
    free(buf);
}

/* explain_names.va that names every va with the string ctx. */
static const char *long_va_name(void *ctx, uint64_t va)
{
    (void)va;
    return ctx;
}

/* A caller's va name much longer than any buffer of account.c, and a long indent: both reach the sink whole. */
static void long_indent_and_names_whole(void **state)
{
    struct tm *t = *state;
    refuse_pin_of_writable(t);
    static char indent[481], who[601];
    memset(indent, ' ', sizeof(indent) - 1);
    memset(who, 'w', sizeof(who) - 1);
    const struct explain_names names = { NULL, long_va_name, who };
    static struct membuf mem;
    struct explain_sink sink = mem_sink(&mem);
    explain_refusal_to(&sink, &t->m, indent, &names);
    char *file = tm_explanation(t, indent, &names);
    assert_string_equal(mem.text, file);
    free(file);
    size_t lines = 0;
    for (const char *p = mem.text; *p; p = strchr(p, '\n') + 1, lines++)
        assert_true(strspn(p, " ") >= sizeof(indent) - 1);
    assert_int_equal(lines, 7);
    assert_non_null(strstr(mem.text, "  frame: mfn 0x14 (pfn 0x4, d1): type writable"));
    const char *at = strstr(mem.text, "maps va 0x7000 under root mfn 0x10: ");
    assert_non_null(at);
    at += strlen("maps va 0x7000 under root mfn 0x10: ");
    assert_int_equal(strspn(at, "w"), sizeof(who) - 1);
    assert_int_equal(at[sizeof(who) - 1], '\n');
}

/* Errno and cause names: the table's spellings, unknown codes as numbers, and parsing back. */
static void errno_and_cause_names(void **state)
{
    (void)state;
    const struct { long rc; const char *name; } names[] = {
        { -22, "-EINVAL" }, { 0, "0" }, { -999, "-999" }, { 7, "7" }, { -85, "-ERESTART" }, { -1, "-EPERM" },
        { -95, "-EOPNOTSUPP" }, { -16, "-EBUSY" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_string_equal(xen_errno_name(names[i].rc), names[i].name);
        long rc = 1;
        assert_int_equal(xen_errno_parse(names[i].name, &rc), 0);
        assert_int_equal(rc, names[i].rc);
    }
    long rc = 1;
    assert_int_equal(xen_errno_lookup("EBUSY", &rc), 0);
    assert_int_equal(rc, -16);
    assert_int_equal(xen_errno_lookup("-EBUSY", &rc), -1);
    assert_int_equal(xen_errno_lookup("EBUS", &rc), -1);
    assert_int_equal(xen_errno_lookup("EBUSYY", &rc), -1);
    assert_int_equal(xen_errno_parse("0x10", &rc), 0);
    assert_int_equal(rc, 16);
    assert_int_equal(xen_errno_parse("99999999999999999999", &rc), -2);
    assert_int_equal(xen_errno_parse("EWHAT", &rc), -1);
    assert_int_equal(xen_errno_parse("", &rc), -1);
    for (int w = 0; w < PVM_WHY_COUNT; w++)
        assert_int_equal(why_cause_parse(why_cause_name((enum pvm_why)w)), w);
    assert_string_equal(why_cause_name(PVM_WHY_BAD_DESC), "bad_desc");
    assert_string_equal(why_cause_name(PVM_WHY_COUNT), "?");
    assert_int_equal(why_cause_parse("bad_typ"), -1);
    assert_int_equal(why_cause_parse("bad_types"), -1);
}

/* The line wrapper: a last line without '\n' waits for the flush; a line past EXPLAIN_LINE_MAX goes out unwrapped. */
static void wrapper_edges(void **state)
{
    (void)state;
    static struct membuf out;
    static struct explain_wrapper w;
    static char text[EXPLAIN_LINE_MAX + 300];
    struct explain_sink s = explain_wrapper_start(&w, mem_sink(&out));
    s.write(s.ctx, "short\nno end yet", 16);
    assert_string_equal(out.text, "short\n");
    explain_wrapper_flush(&w);
    assert_string_equal(out.text, "short\nno end yet");
    for (size_t i = 0; i < sizeof(text) - 2; i++)
        text[i] = i % 10 == 9 ? ' ' : 'a';
    text[sizeof(text) - 2] = '\n';
    s = explain_wrapper_start(&w, mem_sink(&out));
    s.write(s.ctx, text, strlen(text));
    s.write(s.ctx, text, 150);
    s.write(s.ctx, "\n", 1);
    assert_int_equal(out.len, strlen(text) + 152 + 1);
    assert_memory_equal(out.text, text, strlen(text));
    char *fw = tm_wrapped("aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa "
                            "aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa \n");
    assert_string_equal(out.text + strlen(text), fw);
    free(fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TM_SPACE_TEST(bad_type_lists_writable_mappings),
        TM_SPACE_TEST(bad_flags_names_table_and_slot),
        TM_SPACE_TEST(gdt_frame_names_its_gdt),
        TM_SPACE_TEST(set_gdt_refusals),
        TM_SPACE_TEST(xen_held_frames),
        TM_SPACE_TEST(named_frame_prefix),
        TM_SPACE_TEST(no_refusal_writes_nothing),
        TM_SPACE_TEST(frames_as_the_file_path),
        TM_SPACE_TEST(long_indent_and_names_whole),
        cmocka_unit_test(errno_and_cause_names),
        cmocka_unit_test(wrapper_edges),
    };
    return cmocka_run_group_tests_name("account", tests, NULL, NULL);
}
