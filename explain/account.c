/*
 * account.c - accounts of refusals and frames through an output sink (see account.h).
 * Freestanding: it builds into the host's pvmmu and into pvmmu's hypervisor alike, so it uses
 * no libc; numbers are formatted by lib/fmt.c, strings go to the sink whole.
 */
#include "account.h"

#include <stdarg.h>

#include "fmt.h"

/* The length of the NUL-terminated s. */
static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* Are the NUL-terminated a and b the same text? */
static bool str_eq(const char *a, const char *b)
{
    for (; *a && *a == *b; a++)
        b++;
    return *a == *b;
}

/* Write s[0..n) to out (nothing for n == 0). */
static void put(const struct explain_sink *out, const char *s, size_t n)
{
    if (n)
        out->write(out->ctx, s, n);
}

/*
 * printf onto out, for the conversions this file uses: %s (the string goes to the sink whole,
 * however long, right-justified in a width if one is given), %d %i %u %x with the flags '#' and
 * '0', a width and the l/ll/z modifiers (each number formatted by fmt_snprintf, as printf would),
 * and %%.  Any other conversion is written as it stands.
 */
__attribute__((format(printf, 2, 3)))
static void say(const struct explain_sink *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p;) {
        const char *q = p;
        while (*q && *q != '%')
            q++;
        put(out, p, (size_t)(q - p));
        if (!*q)
            break;
        const char *e = q + 1;
        char spec[24];   /* the conversion rewritten for fmt_snprintf: %, flags, width, ll, letter */
        size_t k = 0;
        spec[k++] = '%';
        while ((*e == '#' || *e == '0') && k < 8)
            spec[k++] = *e++;
        unsigned int width = 0;
        while (*e >= '0' && *e <= '9' && k < 16) {
            width = width * 10 + (unsigned int)(*e - '0');
            spec[k++] = *e++;
        }
        unsigned int lng = 0;
        bool size = false;
        for (; *e == 'l' || *e == 'z'; e++) {
            if (*e == 'z')
                size = true;
            else
                lng++;
        }
        char num[64];
        switch (*e) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            s = s ? s : "(null)";
            size_t n = str_len(s);
            for (; width > n; width--)
                put(out, " ", 1);
            put(out, s, n);
            break;
        }
        case 'd':
        case 'i': {
            long long v;
            if (size)
                v = (long long)va_arg(ap, size_t);
            else if (lng >= 2)
                v = va_arg(ap, long long);
            else if (lng)
                v = va_arg(ap, long);
            else
                v = va_arg(ap, int);
            spec[k++] = 'l', spec[k++] = 'l', spec[k++] = 'd', spec[k] = '\0';
            int n = fmt_snprintf(num, sizeof(num), spec, v);
            put(out, num, n < (int)sizeof(num) ? (size_t)n : sizeof(num) - 1);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v;
            if (size)
                v = va_arg(ap, size_t);
            else if (lng >= 2)
                v = va_arg(ap, unsigned long long);
            else if (lng)
                v = va_arg(ap, unsigned long);
            else
                v = va_arg(ap, unsigned int);
            spec[k++] = 'l', spec[k++] = 'l', spec[k++] = *e, spec[k] = '\0';
            int n = fmt_snprintf(num, sizeof(num), spec, v);
            put(out, num, n < (int)sizeof(num) ? (size_t)n : sizeof(num) - 1);
            break;
        }
        case '%':
            put(out, "%", 1);
            break;
        default:
            put(out, q, (size_t)(e - q) + (*e != '\0'));
        }
        if (!*e)
            break;
        p = e + 1;
    }
    va_end(ap);
}

static const struct {
    long rc;
    const char *name;
} errnos[] = {
    { XEN_EPERM, "EPERM" },   { XEN_ENOENT, "ENOENT" }, { XEN_ESRCH, "ESRCH" },   { XEN_EINTR, "EINTR" },
    { XEN_EACCES, "EACCES" }, { XEN_EFAULT, "EFAULT" }, { XEN_EBUSY, "EBUSY" },   { XEN_EINVAL, "EINVAL" },
    { XEN_ENOSPC, "ENOSPC" }, { XEN_ERANGE, "ERANGE" }, { XEN_ENOSYS, "ENOSYS" }, { XEN_ERESTART, "ERESTART" },
    { XEN_EOPNOTSUPP, "EOPNOTSUPP" },
};

const char *xen_errno_name(long rc)
{
    static char buf[32];
    if (rc == 0)
        return "0";
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
        if (-rc == errnos[i].rc) {
            fmt_snprintf(buf, sizeof(buf), "-%s", errnos[i].name);
            return buf;
        }
    fmt_snprintf(buf, sizeof(buf), "%lld", (long long)rc);
    return buf;
}

int xen_errno_lookup(const char *name, long *rc)
{
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
        if (str_eq(name, errnos[i].name)) {
            *rc = -errnos[i].rc;
            return 0;
        }
    return -1;
}

static const char *const why_causes[PVM_WHY_COUNT] = {
    [PVM_WHY_NONE] = "none", [PVM_WHY_BAD_FLAGS] = "bad_flags", [PVM_WHY_BAD_TYPE] = "bad_type",
    [PVM_WHY_NOT_OWNER] = "not_owner", [PVM_WHY_NO_PAGE] = "no_page", [PVM_WHY_MMIO] = "mmio",
    [PVM_WHY_XEN_SLOT] = "xen_slot", [PVM_WHY_LINEAR_DISABLED] = "linear_disabled",
    [PVM_WHY_LINEAR_RW] = "linear_rw", [PVM_WHY_LINEAR_CHAIN] = "linear_chain",
    [PVM_WHY_ALREADY_PINNED] = "already_pinned", [PVM_WHY_NOT_PINNED] = "not_pinned",
    [PVM_WHY_NOT_TABLE] = "not_table", [PVM_WHY_NOT_L1] = "not_l1", [PVM_WHY_BAD_VA] = "bad_va",
    [PVM_WHY_BAD_CMD] = "bad_cmd", [PVM_WHY_BAD_DOMAIN] = "bad_domain", [PVM_WHY_PERM] = "perm",
    [PVM_WHY_BAD_ARG] = "bad_arg", [PVM_WHY_OVERFLOW] = "overflow", [PVM_WHY_FAULT] = "fault",
    [PVM_WHY_NOT_SUPPORTED] = "not_supported", [PVM_WHY_RO_MAPPING] = "ro_mapping",
    [PVM_WHY_BAD_DESC] = "bad_desc",
};

const char *why_cause_name(enum pvm_why why)
{
    return (unsigned int)why < PVM_WHY_COUNT && why_causes[why] ? why_causes[why] : "?";
}

int why_cause_parse(const char *s)
{
    for (int i = 0; i < PVM_WHY_COUNT; i++)
        if (why_causes[i] && str_eq(s, why_causes[i]))
            return i;
    return -1;
}

void explain_frame_to(const struct explain_sink *out, const struct pvm_machine *m, uint64_t mfn, const char *indent)
{
    struct pvm_frame_state st;
    pvm_frame_query(m, mfn, &st);
    if (!st.valid) {
        say(out, "%smfn %#llx is outside machine memory (I/O space)\n", indent, (unsigned long long)mfn);
        return;
    }
    if (st.io) {
        say(out, "%smfn %#llx is an I/O frame (owner DOMID_IO)\n", indent, (unsigned long long)mfn);
        return;
    }
    char owner[16];
    if (st.owner == DOMID_INVALID)
        fmt_snprintf(owner, sizeof(owner), "free");
    else
        fmt_snprintf(owner, sizeof(owner), "d%u", st.owner);
    char held[48] = "", gdts[96] = "";
    if (st.xen_maps)
        fmt_snprintf(held, sizeof(held), " (%u held by Xen)", st.xen_maps);
    if (st.gdt_refs) {
        int n = fmt_snprintf(gdts, sizeof(gdts), " (%u in the GDT of", st.gdt_refs);
        for (unsigned int j = 0; j < PVM_MAX_VCPUS && n > 0 && (size_t)n < sizeof(gdts); j++)
            if (st.gdt_vcpus & (1u << j))
                n += fmt_snprintf(gdts + n, sizeof(gdts) - (size_t)n, " d%uv%u", st.owner, j);
        if (n > 0 && (size_t)n < sizeof(gdts))
            fmt_snprintf(gdts + n, sizeof(gdts) - (size_t)n, ")");
    }
    say(out, "%smfn %#llx (pfn %#llx, %s): type %s, type count %llu%s%s%s%s, general count %llu%s"
             " [caf=%08llx taf=%016llx]\n",
        indent, (unsigned long long)mfn, (unsigned long long)st.m2p, owner, pvm_type_name(st.type),
        (unsigned long long)st.type_count, held, gdts, st.validated ? ", validated" : "", st.pinned ? ", pinned" : "",
        (unsigned long long)st.count, st.allocated ? " (incl. allocation)" : "",
        (unsigned long long)st.count_info, (unsigned long long)st.type_info);
}

struct map_printer {
    const struct explain_sink *out;
    const char *indent;
    struct explain_names names;
};

/* The caller's name for frame mfn, or "" without one. */
static const char *nm(const struct map_printer *p, uint64_t mfn)
{
    const char *n = p->names.frame ? p->names.frame(p->names.ctx, mfn) : NULL;
    return n ? n : "";
}

/* pvm_find_mappings' callback: one line for one writable mapping (its L1 slot, and the va it makes). */
static void print_mapping(void *ctx, const struct pvm_mapping *map)
{
    struct map_printer *p = ctx;
    say(p->out, "%s  L1 mfn %#llx%s%s slot %u (pte %016llx)", p->indent, (unsigned long long)map->l1_mfn,
        *nm(p, map->l1_mfn) ? " " : "", nm(p, map->l1_mfn), map->slot, (unsigned long long)map->pte);
    const char *who = map->va_known && p->names.va ? p->names.va(p->names.ctx, map->va) : NULL;
    if (map->va_known)
        say(p->out, " maps va %#llx under root mfn %#llx%s%s%s%s\n", (unsigned long long)map->va,
            (unsigned long long)map->root_mfn, *nm(p, map->root_mfn) ? " " : "", nm(p, map->root_mfn),
            who ? ": " : "", who ? who : "");
    else
        say(p->out, " (not reachable from any validated L4)\n");
}

/*
 * What the guest could do about refusal r, or NULL for a cause without advice.  xen_held: Xen
 * holds the frame of r writable for its own use (pvm_xen_map_frame).
 */
static const char *hint(const struct pvm_refusal *r, bool xen_held)
{
    uint64_t saw = r->saw & PVM_PGT_type_mask;
    switch (r->why) {
    case PVM_WHY_BAD_TYPE:
        if (saw == PVM_PGT_writable_page && xen_held && r->exp == PVM_PGT_seg_desc_page)
            return "Xen keeps the frame writable for as long as it uses it (a registered vcpu_info, FIFO event "
                   "channel page or pirq EOI bitmap), so it cannot become a descriptor page until Xen lets it go; "
                   "put the GDT in another frame";
        if (saw == PVM_PGT_writable_page && xen_held)
            return "Xen keeps the frame writable for as long as it uses it (a registered vcpu_info, FIFO event "
                   "channel page or pirq EOI bitmap), so it cannot become a page table until Xen lets it go; "
                   "build the table in another frame";
        if (saw == PVM_PGT_writable_page && r->exp == PVM_PGT_seg_desc_page)
            return "the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush) "
                   "before it goes into a GDT (set_gdt)";
        if (saw == PVM_PGT_writable_page)
            return "the frame is still mapped writable: clear _PAGE_RW in every mapping of it (and flush) "
                   "before it is pinned, hooked into a validated table or loaded as a root";
        if (saw == PVM_PGT_seg_desc_page)
            return "the frame is a descriptor page in a vCPU's GDT (set_gdt): it cannot be mapped writable or "
                   "become a page table until every GDT holding it is replaced; change its descriptors with "
                   "update_descriptor, or map it read-only";
        if (r->exp == PVM_PGT_writable_page)
            return "the frame is a page table: a writable mapping of it is never allowed; map it read-only, "
                   "or unpin and unhook it first so its type count drops to 0";
        return "a frame has one type at a time; it can change only when no reference of the old type remains";
    case PVM_WHY_BAD_FLAGS:
        return "PV guests get no superpages (PSE), GLOBAL only in L1, and cache attributes only with I/O rights";
    case PVM_WHY_NOT_OWNER:
        return "a domain may map only its own frames (foreign frames need foreigndom and privilege)";
    case PVM_WHY_XEN_SLOT:
        return "L4 slots 256-271 belong to Xen; validation overwrites them and updates are refused";
    case PVM_WHY_LINEAR_RW:
        return "a same-level (linear) entry must be read-only, or it would be a writable page table";
    case PVM_WHY_LINEAR_CHAIN:
        return "linear entries go one level deep, to an already validated table of the same domain";
    case PVM_WHY_ALREADY_PINNED:
        return "unpin it first";
    case PVM_WHY_NOT_PINNED:
        return "only a pinned table can be unpinned";
    case PVM_WHY_NOT_L1:
        return "update_va_mapping needs a validated L1 reached from the current root";
    case PVM_WHY_BAD_DESC:
        return "a 64-bit PV guest's descriptor may be not present, a code or data segment (its DPL becomes 3), "
               "type 0 (a call gate's upper half) or a 64-bit call gate (type 12, reserved bits 0) whose target "
               "is one of the guest's GDT entries, an LDT selector or FLAT_KERNEL_CS (0xe033); Xen refuses any "
               "other";
    default:
        return NULL;
    }
}

void explain_refusal_to(const struct explain_sink *out, const struct pvm_machine *m, const char *indent,
                        const struct explain_names *names)
{
    const struct pvm_refusal *r = &m->last;
    struct map_printer p = { out, indent, { NULL, NULL, NULL } };
    if (names)
        p.names = *names;
    if (!m->last_set || r->why == PVM_WHY_NONE)
        return;
    say(out, "%swhy: %s: %s\n", indent, xen_errno_name(r->rc), pvm_why_name(r->why));
    if (r->table_mfn != PVM_INVALID_MFN)
        say(out, "%s  where: L%u table mfn %#llx%s%s, slot %u, entry %016llx\n", indent, r->level,
            (unsigned long long)r->table_mfn, *nm(&p, r->table_mfn) ? " " : "", nm(&p, r->table_mfn), r->slot,
            (unsigned long long)r->entry);
    if (r->mfn != PVM_INVALID_MFN) {
        /* Room for any indent and name the callers give (script names are at most 63 bytes); a
         * prefix that would not fit drops the name rather than print a cut one. */
        char ind[512];
        int n = fmt_snprintf(ind, sizeof(ind), "%s  frame: %s%s", indent, nm(&p, r->mfn),
                             *nm(&p, r->mfn) ? " = " : "");
        if (n < 0 || (size_t)n >= sizeof(ind))
            fmt_snprintf(ind, sizeof(ind), "%s  frame: ", indent);
        explain_frame_to(out, m, r->mfn, ind);
    }
    if (r->why == PVM_WHY_BAD_TYPE)
        say(out, "%s  type: saw %016llx, wanted %s\n", indent, (unsigned long long)r->saw,
            pvm_type_name((enum pvm_type)(r->exp >> 61)));
    if (r->why == PVM_WHY_BAD_DESC)
        say(out, "%s  descriptor: slot %u (byte %#x) holds %016llx\n", indent, r->slot, r->slot * 8u,
            (unsigned long long)r->entry);
    struct pvm_frame_state st;
    pvm_frame_query(m, r->mfn, &st);
    if (r->why == PVM_WHY_BAD_TYPE && (r->saw & PVM_PGT_type_mask) == PVM_PGT_seg_desc_page) {
        say(out, "%s  GDTs holding it:\n", indent);
        for (unsigned int j = 0; j < PVM_MAX_VCPUS; j++)
            if (st.gdt_vcpus & (1u << j))
                say(out, "%s    frame of d%u v%u's GDT (set_gdt)\n", indent, st.owner, j);
        if (!st.gdt_vcpus)
            say(out, "%s    none (the seg_desc type is held elsewhere)\n", indent);
    }
    if (r->why == PVM_WHY_BAD_TYPE && (r->saw & PVM_PGT_type_mask) == PVM_PGT_writable_page &&
        r->mfn != PVM_INVALID_MFN) {
        say(out, "%s  writable mappings of it:\n", indent);
        unsigned long n = pvm_find_mappings(m, r->mfn, true, print_mapping, &p);
        if (st.xen_maps == 1)
            say(out, "%s    Xen holds a writable reference on this frame for its own use (pvm_xen_map_frame: "
                     "vcpu_info, event channel or EOI page)\n", indent);
        else if (st.xen_maps)
            say(out, "%s    Xen holds %u writable references on this frame for its own use (pvm_xen_map_frame: "
                     "vcpu_info, event channel or EOI pages)\n", indent, st.xen_maps);
        if (!n && !st.xen_maps)
            say(out, "%s    none in a validated L1 (the writable type is held elsewhere)\n", indent);
    }
    const char *h = hint(r, st.xen_maps > 0);
    if (h)
        say(out, "%s  hint: %s\n", indent, h);
}
