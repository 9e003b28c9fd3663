/*
 * log.c - a small printf for the freestanding core, Xen-style log lines,
 * and the record of why the latest operation was refused.
 */
#include "internal.h"

struct out {
    char *buf;
    size_t size, len;
};

static void put_char(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, unsigned long long v, unsigned int base, bool neg, bool alt,
                    bool zero, int width)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned int d = (unsigned int)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    int prefix = neg ? 1 : (alt && base == 16 ? 2 : 0);
    int pad = width - n - prefix;
    if (!zero)
        for (; pad > 0; pad--)
            put_char(o, ' ');
    if (neg)
        put_char(o, '-');
    else if (prefix == 2) {
        put_char(o, '0');
        put_char(o, 'x');
    }
    for (; pad > 0; pad--)
        put_char(o, '0');
    while (n)
        put_char(o, tmp[--n]);
}

/*
 * vsnprintf for %d %i %u %x %s %% with flags '#' '0', a width and the
 * l/ll/z length modifiers.  Always NUL-terminates when size > 0; returns the
 * length the full output would have.
 */
int pvm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put_char(&o, *p);
            continue;
        }
        bool alt = false, zero = false;
        int width = 0, lng = 0;
        for (p++;; p++) {
            if (*p == '#')
                alt = true;
            else if (*p == '0')
                zero = true;
            else
                break;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') {
            lng++;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            put_num(&o, u, 10, v < 0, false, zero, width);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
            put_num(&o, v, *p == 'u' ? 10 : 16, false, alt && v != 0, zero, width);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = 0;
            while (s[n])
                n++;
            for (int pad = width - n; pad > 0; pad--)
                put_char(&o, ' ');
            while (*s)
                put_char(&o, *s++);
            break;
        }
        case '%':
            put_char(&o, '%');
            break;
        default:
            put_char(&o, '%');
            if (!*p)
                p--;
            else
                put_char(&o, *p);
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int pvm_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = pvm_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Send one line to the sink, tagged with the current vCPU (as gdprintk's %pv). */
void xen_log(struct pvm_machine *m, int level, const char *fmt, ...)
{
    if (!m->ops.log)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    pvm_vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct pvm_log_msg msg = {
        .domid = m->current ? m->current->d->id : (domid_t)DOMID_INVALID,
        .vcpu = m->current ? m->current->id : 0,
        .level = level,
        .text = text,
    };
    m->ops.log(m->ops.ctx, &msg);
}

const char *fmt_dom(char *buf, domid_t id)
{
    if (id == DOMID_IO)
        return "d[IO]";
    if (id == DOMID_XEN)
        return "d[XEN]";
    if (id == DOMID_INVALID)
        return "NULL";
    pvm_snprintf(buf, 16, "d%u", id);
    return buf;
}

void refuse_reset(struct pvm_machine *m)
{
    m->last_set = false;
    m->last_weak = false;
}

void refuse(struct pvm_machine *m, int rc, enum pvm_why why, uint64_t mfn)
{
    if (m->last_set && !m->last_weak)
        return;
    m->last_set = true;
    m->last_weak = false;
    m->last = (struct pvm_refusal){
        .rc = rc, .why = why,
        .domid = m->current ? m->current->d->id : (domid_t)DOMID_INVALID,
        .mfn = mfn, .table_mfn = PVM_INVALID_MFN,
    };
}

void refuse_type(struct pvm_machine *m, uint64_t mfn, uint64_t saw, uint64_t exp, bool weak)
{
    if (m->last_set && !m->last_weak)
        return;
    refuse(m, -XEN_EINVAL, PVM_WHY_BAD_TYPE, mfn);
    m->last.saw = saw;
    m->last.exp = exp;
    m->last_weak = weak;
}

void refuse_where(struct pvm_machine *m, uint64_t table_mfn, unsigned int level, unsigned int slot,
                  uint64_t entry)
{
    if (!m->last_set || m->last.table_mfn != PVM_INVALID_MFN)
        return;
    m->last.table_mfn = table_mfn;
    m->last.level = level;
    m->last.slot = slot;
    m->last.entry = entry;
}

const char *pvm_why_name(enum pvm_why why)
{
    static const char *const names[PVM_WHY_COUNT] = {
        [PVM_WHY_NONE] = "no refusal",
        [PVM_WHY_BAD_FLAGS] = "disallowed flags for this level",
        [PVM_WHY_BAD_TYPE] = "frame already in use with another type",
        [PVM_WHY_NOT_OWNER] = "frame belongs to another domain or is free",
        [PVM_WHY_NO_PAGE] = "no such frame for this domain",
        [PVM_WHY_MMIO] = "I/O frame without permission",
        [PVM_WHY_XEN_SLOT] = "L4 slot reserved for Xen",
        [PVM_WHY_LINEAR_DISABLED] = "linear page tables are disabled",
        [PVM_WHY_LINEAR_RW] = "linear page-table entry with write permission",
        [PVM_WHY_LINEAR_CHAIN] = "linear page-table entry breaks the one-level rule",
        [PVM_WHY_ALREADY_PINNED] = "frame already pinned",
        [PVM_WHY_NOT_PINNED] = "frame not pinned",
        [PVM_WHY_NOT_TABLE] = "target is neither a page table nor typeable writable",
        [PVM_WHY_NOT_L1] = "no L1 table maps this address",
        [PVM_WHY_BAD_VA] = "address not canonical or in Xen's range",
        [PVM_WHY_BAD_CMD] = "unknown command",
        [PVM_WHY_BAD_DOMAIN] = "bad foreign domain",
        [PVM_WHY_PERM] = "not permitted for this domain",
        [PVM_WHY_BAD_ARG] = "bad argument",
        [PVM_WHY_OVERFLOW] = "reference count would overflow",
        [PVM_WHY_FAULT] = "argument not readable",
        [PVM_WHY_NOT_SUPPORTED] = "operation not supported",
    };
    return (unsigned int)why < PVM_WHY_COUNT ? names[why] : "unknown";
}

const char *pvm_type_name(enum pvm_type t)
{
    static const char *const names[] = { "none", "l1", "l2", "l3", "l4", "seg_desc", "shared", "writable" };
    return (unsigned int)t < 8 ? names[t] : "?";
}
