/*
 * replay_init.c - the initial state of a record (docs/trace.md, "Header and
 * initial state") rebuilt with the core's own operations, as Xen's domain
 * builder left it: dom0 privileged with one vCPU and its iomem ranges, its
 * frames assigned, the I/O frames marked, the M2P, the tables' contents written while untyped,
 * then the pinned tables pinned and the root loaded, so that the core
 * validates the whole tree itself.  Then every frame of the record's frame
 * lines is compared with the core's: type, type count, general count,
 * allocated, pinned, validated, partial.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "replay_int.h"

#define PVM_STR_(x) #x
#define PVM_STR(x) PVM_STR_(x)

/* What the header said beyond the frames. */
struct header {
    uint64_t iomem_lines;
    uint64_t xen_frames, other_frames, io_frames, tables, validated, xenheap, superpages;
    const struct trace_ev *machine, *dom, *cr3, *vm_assist;
};

/* "TRACE:LINE: what" for a header line the replay cannot take; returns 2. */
static int bad_header(struct replay *r, const struct trace_ev *e, const char *what)
{
    fprintf(r->o->err, "%s:%u: %s\n", r->t.path, e->line, what);
    return 2;
}

/* The machine (frames, address width) and dom0 on it, with the replay's own callbacks. */
static int make_machine(struct replay *r, struct header *hd)
{
    const struct trace_ev *e = hd->machine;
    uint64_t frames = e->a[0];
    if (!frames || frames > (1ULL << 32) || e->a[1] < 32 || e->a[1] > 52)
        return bad_header(r, e, "expected 'machine MAXPAGE PADDRBITS' with 1 to 2^32 frames and 32 to 52 bits");
    hostmem_init(&r->h, &r->m, frames);
    r->m.paddr_bits = (unsigned int)e->a[1];
    r->m.ops.copy_from_guest = replay_copy_from;
    r->m.ops.copy_to_guest = replay_copy_to;
    r->m.ops.validate = replay_validate;
    r->synced = host_calloc(frames, 1, "the replay's frame notes");
    r->pt_level = host_calloc(frames, 1, "the replay's frame notes");
    if (pvm_domain_create(&r->m, 0, 1, PVM_DOM_PRIVILEGED))
        return bad_header(r, e, "cannot create dom0");
    r->v = pvm_vcpu(&r->m, 0, 0);
    return 0;
}

/* Is [mfn, mfn + n) inside the machine? */
static bool in_machine(const struct replay *r, uint64_t mfn, uint64_t n)
{
    return mfn < r->m.nr_frames && n <= r->m.nr_frames - mfn;
}

/* own: I/O frames become DOMID_IO's; Xen's and other domains' frames are counted (not modelled). */
static int take_owner(struct replay *r, struct header *hd, const struct trace_ev *e)
{
    if (e->type == TRACE_OWN_HOLE || e->type == TRACE_OWN_NONE || e->type == TRACE_OWN_D0)
        return 0;
    if (!in_machine(r, e->a[0], e->a[1]))
        return bad_header(r, e, "expected own's frames inside the machine line's MAXPAGE");
    if (e->type == TRACE_OWN_XEN)
        hd->xen_frames += e->a[1];
    else if (e->type == TRACE_OWN_DOM)
        hd->other_frames += e->a[1];
    for (uint64_t k = 0; e->type == TRACE_OWN_IO && k < e->a[1]; k++)
        if (pvm_mark_io(&r->m, e->a[0] + k))
            return bad_header(r, e, "an I/O frame that is already someone's");
    hd->io_frames += e->type == TRACE_OWN_IO ? e->a[1] : 0;
    return 0;
}

/* frame: dom0's frames, given to it as Xen's allocator does (types come later, from the core). */
static int take_frames(struct replay *r, struct header *hd, const struct trace_ev *e)
{
    if (!in_machine(r, e->a[0], e->a[1]))
        return bad_header(r, e, "expected frame's frames inside the machine line's MAXPAGE");
    if (pvm_assign_pages(&r->m, e->a[0], e->a[1], 0))
        return bad_header(r, e, "expected frames that are free (each frame in one frame line, none of them I/O)");
    hd->xenheap += e->flags & TRACE_F_XENHEAP ? e->a[1] : 0;
    return 0;
}

/* m2p: the M2P entries of dom0's frames. */
static int take_m2p(struct replay *r, const struct trace_ev *e)
{
    if (!in_machine(r, e->a[0], e->a[2]))
        return bad_header(r, e, "expected m2p's frames inside the machine line's MAXPAGE");
    for (uint64_t k = 0; k < e->a[2]; k++)
        r->m.ops.m2p_set(r->m.ops.ctx, e->a[0] + k, e->a[1] == PVM_INVALID_M2P ? e->a[1] : e->a[1] + k);
    return 0;
}

/* Is entry val of a level-`level` table one of the builder's superpages (the p2m's, at 2 MiB or 1 GiB)? */
static bool builder_superpage(unsigned int level, uint64_t val)
{
    return (level == 2 || level == 3) && (val & _PAGE_PRESENT) && (val & _PAGE_PSE);
}

/*
 * pt: a table's contents, written while it is untyped (the builder's writes
 * to guest RAM), but for superpages, which no validation takes: they are put
 * in once the table is validated (take_superpages).
 */
static int take_table(struct replay *r, struct header *hd, const struct trace_ev *e)
{
    uint64_t mfn = e->a[0];
    if (!in_machine(r, mfn, 1) || e->type < 1 || e->type > 4)
        return bad_header(r, e, "expected 'pt MFN TYPE' of a frame inside the machine, of type l1 to l4");
    for (uint32_t k = 0; k < e->nent; k++) {
        const struct trace_ent *x = &r->t.ents[e->ent + k];
        hd->superpages += builder_superpage(e->type, x->val);
        if (!builder_superpage(e->type, x->val) && pvm_poke(&r->m, mfn, x->slot, x->val))
            return bad_header(r, e, "cannot write the table's contents");
    }
    r->pt_level[mfn] = e->type;
    r->synced[mfn] = 1;
    hd->tables++;
    return 0;
}

/*
 * iomem: dom0's I/O ranges exactly as the record has them (Xen's
 * iomem_caps): the first line replaces the default, each later one is
 * added to them (a union, as iomem_permit_access).
 */
static int take_iomem(struct replay *r, struct header *hd, const struct trace_ev *e)
{
    int rc = hd->iomem_lines++ ? pvm_domain_iomem_add(&r->m, 0, e->a[0], e->a[1])
                               : pvm_domain_iomem_permit(&r->m, 0, e->a[0], e->a[1]);
    if (rc)
        return bad_header(r, e, "expected at most " PVM_STR(PVM_MAX_IOMEM_RANGES) " iomem ranges (once those that "
                                "overlap or touch are merged)");
    return 0;
}

/* One header line. */
static int take_line(struct replay *r, struct header *hd, const struct trace_ev *e)
{
    switch (e->tag) {
    case TR_OWN: return take_owner(r, hd, e);
    case TR_FRAME: return take_frames(r, hd, e);
    case TR_M2P: return take_m2p(r, e);
    case TR_PT: return take_table(r, hd, e);
    case TR_IOMEM: return take_iomem(r, hd, e);
    case TR_MMIO_RO:
        if (pvm_mmio_ro_add(&r->m, e->a[0], e->a[1]))
            return bad_header(r, e, "expected at most " PVM_STR(PVM_MAX_MMIO_RO) " mmio_ro ranges, each FIRST <= LAST");
        return 0;
    case TR_DOM: hd->dom = e; r->dom0_pages = e->a[1]; return 0;
    case TR_CR3: hd->cr3 = e; return 0;
    case TR_VM_ASSIST: hd->vm_assist = e; return 0;
    default: return 0;
    }
}

/* In the final state, before its first difference: the line that says where the replay stops. */
static void final_heading(struct replay *r, uint32_t line)
{
    if (r->final && !r->final_headed)
        explain_printf(r->o->out, "pvmmu replay: %s:%u: the core disagrees with Xen (dom0's final state)\n",
                       r->t.path, line);
    r->final_headed |= r->final;
}

/* One difference from the record, as one indented line naming the record's line it is about (0: none). */
__attribute__((format(printf, 3, 4)))
static void differs(struct replay *r, uint32_t line, const char *fmt, ...)
{
    char text[512], where[32] = "";
    va_list ap;
    final_heading(r, line);
    r->init_diff++;
    if (line)
        snprintf(where, sizeof(where), "line %u: ", line);
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    explain_printf(r->o->out, "  %s%s\n", where, text);
}

/* vm_assist: each assist on, as the guest's own vm_assist hypercall turns it on. */
static int take_assists(struct replay *r, const struct header *hd)
{
    for (unsigned int b = 0; hd->vm_assist && b < 64; b++)
        if (((hd->vm_assist->a[0] >> b) & 1) && pvm_vm_assist(r->v, VMASST_CMD_enable, b))
            return bad_header(r, hd->vm_assist, "expected VM assists a 64-bit PV guest may turn on");
    return 0;
}

/* The types, as the builder left them: every pinned table pinned, the roots loaded. */
static int take_types(struct replay *r, struct header *hd)
{
    for (size_t i = 0; i < r->t.init_end; i++) {
        const struct trace_ev *e = &r->t.ev[i];
        for (uint64_t k = 0; e->tag == TR_FRAME && (e->flags & TRACE_F_PINNED) && k < e->a[1]; k++) {
            struct mmuext_op op = { .cmd = MMUEXT_PIN_L1_TABLE + e->type - 1u, .arg1.mfn = e->a[0] + k };
            if (e->type < 1 || e->type > 4 || pvm_mmuext_op(r->v, &op, 1, NULL, DOMID_SELF))
                differs(r, e->line, "frame %llx: pinned as %s by Xen's builder; the core refuses to pin it",
                        (unsigned long long)(e->a[0] + k), trace_type_name(e->type));
        }
    }
    if (hd->cr3->a[0] && pvm_set_guest_table(r->v, hd->cr3->a[0]))
        differs(r, hd->cr3->line, "cr3 %llx: the core refuses to load it as dom0's root",
                (unsigned long long)hd->cr3->a[0]);
    struct mmuext_op user = { .cmd = MMUEXT_NEW_USER_BASEPTR, .arg1.mfn = hd->cr3->a[1] };
    if (hd->cr3->a[1] && pvm_mmuext_op(r->v, &user, 1, NULL, DOMID_SELF))
        differs(r, hd->cr3->line, "user cr3 %llx: the core refuses to load it", (unsigned long long)hd->cr3->a[1]);
    return 0;
}

/* The builder's superpages, into the tables the core has validated: as Xen's builder left them, with their references. */
static void take_superpages(struct replay *r)
{
    for (size_t i = 0; i < r->t.init_end; i++) {
        const struct trace_ev *e = &r->t.ev[i];
        for (uint32_t k = 0; e->tag == TR_PT && k < e->nent; k++) {
            const struct trace_ent *x = &r->t.ents[e->ent + k];
            if (builder_superpage(e->type, x->val) && pvm_build_superpage(&r->m, 0, e->a[0], x->slot, x->val))
                differs(r, e->line, "frame %llx slot %x: the core refuses the builder's superpage %016llx",
                        (unsigned long long)e->a[0], x->slot, (unsigned long long)x->val);
        }
    }
}

/* The line of the record about frame mfn's initial state: its pt line, else its frame line; 0 if neither. */
static uint32_t frame_line(const struct replay *r, uint64_t mfn)
{
    uint32_t line = 0;
    for (size_t i = 0; i < r->t.init_end; i++) {
        const struct trace_ev *e = &r->t.ev[i];
        if (e->tag == TR_PT && e->a[0] == mfn)
            return e->line;
        if (e->tag == TR_FRAME && mfn >= e->a[0] && mfn - e->a[0] < e->a[1])
            line = e->line;
    }
    return line;
}

void replay_init_validate(struct replay *r, uint64_t mfn, unsigned int level, enum pvm_validate_phase phase, int rc)
{
    if (phase == PVM_VALIDATE_BEGIN && r->pt_level[mfn] != level)
        differs(r, frame_line(r, mfn), "frame %llx: the core validates it as l%u; the record has %s",
                (unsigned long long)mfn, level, r->pt_level[mfn] ? "a pt line of another level" : "no pt line for it");
    if (phase == PVM_VALIDATE_END && rc)
        differs(r, frame_line(r, mfn), "frame %llx: the core refuses it as l%u (%d)", (unsigned long long)mfn, level,
                rc);
}

/* "l4 tc=2 ref=4 a p v" of Xen's record or of the core, into buf. */
static const char *describe(char *buf, size_t len, unsigned int type, uint64_t tc, uint64_t ref, uint8_t flags)
{
    snprintf(buf, len, "%s tc=%llu ref=%llu%s%s%s%s%s", trace_type_name(type), (unsigned long long)tc,
             (unsigned long long)ref, flags & TRACE_F_ALLOCATED ? " allocated" : "",
             flags & TRACE_F_XENHEAP ? " xen-heap" : "", flags & TRACE_F_PINNED ? " pinned" : "",
             flags & TRACE_F_VALIDATED ? " validated" : "", flags & TRACE_F_PARTIAL ? " partial" : "");
    return buf;
}

/* The core's frame mfn in the record's terms. */
/*
 * The core's frame mfn in the record's terms, beside frame line e.  In the
 * final state, a frame without type references on either side is not held
 * to Xen's type and validated flag: Xen keeps a frame's last type, and paths
 * the record does not show (update_descriptor, a failed hold of Xen's own,
 * a descriptor page no longer in use) change it.
 */
static const char *core_frame(char *buf, size_t len, const struct replay *r, uint64_t mfn, const struct trace_ev *e)
{
    struct pvm_frame_state st;
    pvm_frame_query(&r->m, mfn, &st);
    unsigned int type = st.type;
    bool validated = st.validated;
    if (r->final && !st.type_count && !e->a[2]) {
        type = e->type;
        validated = e->flags & TRACE_F_VALIDATED;
    }
    uint8_t f = (uint8_t)((st.allocated ? TRACE_F_ALLOCATED : 0) | (e->flags & TRACE_F_XENHEAP) |
                          (st.pinned ? TRACE_F_PINNED : 0) | (validated ? TRACE_F_VALIDATED : 0) |
                          (st.partial ? TRACE_F_PARTIAL : 0));
    if (st.owner != 0)
        snprintf(buf, len, "not dom0's");
    else
        describe(buf, len, type, st.type_count, st.count, f);
    return buf;
}

/*
 * Why frame mfn may differ from Xen's frame line e as docs/xen-differences.md
 * says, or NULL: Xen holds one type reference of its own that the core does
 * not model, on a frame Xen shares with dom0 ('h': shared_info, the grant
 * table), or (with a general reference) on a frame of dom0's GDT (set_gdt:
 * descriptor tables are not modelled).  Everything else must be the same.
 */
static const char *documented(const struct replay *r, const struct trace_ev *e, uint64_t mfn)
{
    struct pvm_frame_state st;
    pvm_frame_query(&r->m, mfn, &st);
    uint64_t tc = e->a[2], ref = e->a[3];
    bool gdt = false;
    for (unsigned int k = 0; k < r->ngdt; k++)
        gdt |= r->gdt[k] == mfn;
    if (st.owner != 0 || tc != st.type_count + 1 || st.pinned != !!(e->flags & TRACE_F_PINNED))
        return NULL;
    if ((e->flags & TRACE_F_XENHEAP) && ref == st.count && (st.type_count ? st.type == e->type : true))
        return "Xen's own frame shared with dom0";
    if (gdt && e->type == TRACE_TYPE_SEG && tc == 1 && ref == st.count + 1)
        return "a frame of dom0's GDT: descriptor tables are not modelled";
    return NULL;
}

/* Print a run of n frames from mfn that differ from the record alike. */
static void print_run(struct replay *r, const struct trace_ev *e, const char *xen, uint64_t mfn, uint64_t n,
                      const char *core)
{
    const char *doc = documented(r, e, mfn);
    if (!doc)
        final_heading(r, e->line);
    explain_printf(r->o->out, "  line %u: frame%s %llx%s%.0llx: Xen %s; pvmmu %s%s%s%s\n", e->line, n > 1 ? "s" : "",
                   (unsigned long long)mfn, n > 1 ? "-" : "", n > 1 ? (unsigned long long)(mfn + n - 1) : 0ULL, xen,
                   core, doc ? " (documented: " : "", doc ? doc : "", doc ? ")" : "");
    *(doc ? &r->documented : &r->init_diff) += n;
}

/* Compare one frame line with the core, a run of frames that differ alike printed as one line. */
static void compare_frames(struct replay *r, const struct trace_ev *e)
{
    char xen[96], core[96], run_core[96] = "";
    uint64_t run_start = 0, run = 0;
    describe(xen, sizeof(xen), e->type, e->a[2], e->a[3], e->flags);
    for (uint64_t k = 0; k < e->a[1]; k++) {
        core_frame(core, sizeof(core), r, e->a[0] + k, e);
        if (run && !strcmp(core, run_core)) {
            run++;
            continue;
        }
        if (run)
            print_run(r, e, xen, run_start, run, run_core);
        run = strcmp(core, xen) != 0;
        run_start = e->a[0] + k;
        snprintf(run_core, sizeof(run_core), "%s", core);
    }
    if (run)
        print_run(r, e, xen, run_start, run, run_core);
}

/* Xen counts the frames it shares with dom0 apart (xenheap_pages), not in its pages (tot_pages). */
static void compare_pages(struct replay *r, const struct trace_ev *dom)
{
    const struct pvm_domain *d = pvm_domain(&r->m, 0);
    if (dom && dom->a[1] != d->tot_pages - r->xenheap)
        differs(r, dom->line, "dom0's pages: Xen %llu, pvmmu %llu (and %llu of Xen's shared with it)",
                (unsigned long long)dom->a[1], (unsigned long long)(d->tot_pages - r->xenheap),
                (unsigned long long)r->xenheap);
}

/* Every frame line against the core; dom0's page count against the dom line. */
static void compare_state(struct replay *r, struct header *hd)
{
    for (size_t i = 0; i < r->t.init_end; i++)
        if (r->t.ev[i].tag == TR_FRAME)
            compare_frames(r, &r->t.ev[i]);
    r->xenheap = hd->xenheap;
    compare_pages(r, hd->dom);
}

/*
 * The frames the final state lists (disjoint and each checked to be dom0's
 * by compare_frames) against the core's: as many as the core has allocated
 * to dom0, or some of them are missing (Xen lists the frames dom0 owns and
 * that are allocated).
 */
static void compare_listed(struct replay *r)
{
    const struct trace *t = &r->t;
    uint64_t listed = 0, core = 0;
    for (size_t i = t->fin + 1; i < t->nev; i++)
        listed += t->ev[i].tag == TR_FRAME ? t->ev[i].a[1] : 0;
    for (uint64_t mfn = 0; mfn < r->m.nr_frames; mfn++) {
        struct pvm_frame_state st;
        pvm_frame_query(&r->m, mfn, &st);
        core += st.owner == 0 && st.allocated;
    }
    if (listed != core)
        differs(r, t->ev[t->fin].line, "dom0's frames in the final state: Xen lists %llu, pvmmu has %llu allocated",
                (unsigned long long)listed, (unsigned long long)core);
}

int replay_final(struct replay *r)
{
    const struct trace *t = &r->t;
    r->init_diff = r->documented = 0;
    r->final = true;
    compare_listed(r);
    for (size_t i = t->fin + 1; i < t->nev; i++) {
        const struct trace_ev *e = &t->ev[i];
        if (e->tag == TR_FRAME)
            compare_frames(r, e);
        else if (e->tag == TR_DOM)
            compare_pages(r, e);
        else if (e->tag == TR_CR3) {
            uint64_t k = r->v->guest_table, u = r->v->guest_table_user;
            k = k == PVM_INVALID_MFN ? 0 : k;
            u = u == PVM_INVALID_MFN ? 0 : u;
            if (k != e->a[0] || u != e->a[1])
                differs(r, e->line, "dom0's roots (kernel, user): Xen %llx %llx, pvmmu %llx %llx",
                        (unsigned long long)e->a[0], (unsigned long long)e->a[1], (unsigned long long)k,
                        (unsigned long long)u);
        }
    }
    if (r->init_diff)
        explain_printf(r->o->out, "final state (line %u): %lu difference%s from Xen's (above)\n", t->ev[t->fin].line,
                       r->init_diff, r->init_diff == 1 ? "" : "s");
    else
        explain_printf(r->o->out, "final state (line %u): every frame of dom0 agrees with Xen's at its power-off (type, "
                                  "type count, general count, pinned, validated)%s, and so do its page count and its "
                                  "roots\n", t->ev[t->fin].line,
                       r->documented ? ", but for Xen's own references (documented)" : "");
    return r->init_diff ? 1 : 0;
}

/* One paragraph on what the initial state is, and what of it the core does not model. */
static void print_state(struct replay *r, const struct header *hd)
{
    const struct pvm_domain *d = pvm_domain(&r->m, 0);
    char superpages[64] = "", verdict[160];
    if (hd->superpages)
        snprintf(superpages, sizeof(superpages), "%llu of the builder's superpages, ",
                 (unsigned long long)hd->superpages);
    if (r->init_diff)
        snprintf(verdict, sizeof(verdict), "%lu difference%s from the record (above)", r->init_diff,
                 r->init_diff == 1 ? "" : "s");
    else
        snprintf(verdict, sizeof(verdict), "every frame agrees with the record (type, type count, general count, "
                 "pinned, validated)%s", r->documented ? ", but Xen's own frames shared with dom0 (documented)" : "");
    explain_printf(r->o->out, "initial state: %llu frames of dom0, %llu tables, %s%llu I/O frames; the core validated "
                              "%llu tables as it pinned them and loaded the root %llx; %s\n",
                   (unsigned long long)d->tot_pages, (unsigned long long)hd->tables, superpages,
                   (unsigned long long)hd->io_frames, (unsigned long long)hd->validated,
                   (unsigned long long)r->v->guest_table, verdict);
    if (hd->xen_frames || hd->other_frames)
        explain_printf(r->o->out, "  not modelled: %llu frames of Xen's (the M2P), %llu of other domains\n",
                       (unsigned long long)hd->xen_frames, (unsigned long long)hd->other_frames);
}

int replay_init(struct replay *r)
{
    struct header hd = { 0 };
    for (size_t i = 0; i < r->t.init_end; i++)
        if (r->t.ev[i].tag == TR_MACHINE)
            hd.machine = &r->t.ev[i];
    int rc = make_machine(r, &hd);
    for (size_t i = 0; !rc && i < r->t.init_end; i++)
        rc = take_line(r, &hd, &r->t.ev[i]);
    if (!rc && !hd.cr3)
        rc = bad_header(r, &r->t.ev[r->t.init_end], "expected a 'cr3 KERNEL USER' line before init-end");
    if (!rc)
        rc = take_assists(r, &hd);
    if (rc)
        return rc;
    explain_printf(r->o->out, "pvmmu replay: %s (%s): %u lines (%zu events after the initial state), read in %.2f s\n",
                   r->t.path, r->t.rec, r->t.lines, r->t.nev - r->t.init_end - 1, r->t_read);
    uint64_t before = r->m.stats.promotions[1] + r->m.stats.promotions[2] + r->m.stats.promotions[3] +
                      r->m.stats.promotions[4];
    r->init = true;
    rc = take_types(r, &hd);
    r->init = false;
    if (!rc && hd.superpages)
        take_superpages(r);
    if (rc)
        return rc;
    hd.validated = r->m.stats.promotions[1] + r->m.stats.promotions[2] + r->m.stats.promotions[3] +
                   r->m.stats.promotions[4] - before;
    compare_state(r, &hd);
    print_state(r, &hd);
    r->base = r->m.stats;
    return r->init_diff ? 1 : 0;
}
