/*
 * log.c - a small printf for the freestanding core, Xen-style log lines,
 * and the record of why the latest operation was refused.
 */
#include "internal.h"
#include "fmt.h"

/* Send one line to the sink, tagged with the current vCPU (as gdprintk's %pv). */
void xen_log(struct pvm_machine *m, int level, const char *fmt, ...)
{
    if (!m->ops.log)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct pvm_log_msg msg = {
        .domid = m->current ? m->current->d->id : (domid_t)DOMID_INVALID,
        .vcpu = m->current ? m->current->id : 0,
        .level = level,
        .text = text,
    };
    m->ops.log(m->ops.ctx, &msg);
}

void pvm_bug(const struct pvm_machine *m, const char *file, unsigned int line, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (m->ops.bug)
        m->ops.bug(m->ops.ctx, file, line, what);
    __builtin_trap();
}

const char *fmt_dom(char *buf, domid_t id)
{
    if (id == DOMID_IO)
        return "d[IO]";
    if (id == DOMID_XEN)
        return "d[XEN]";
    if (id == DOMID_INVALID)
        return "NULL";
    fmt_snprintf(buf, 16, "d%u", id);
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
        [PVM_WHY_RO_MAPPING] = "write through a read-only mapping (the frame is not an L1, so Xen does not emulate it)",
        [PVM_WHY_BAD_DESC] = "segment descriptor refused by Xen's check_descriptor",
    };
    return (unsigned int)why < PVM_WHY_COUNT ? names[why] : "unknown";
}

const char *pvm_type_name(enum pvm_type t)
{
    static const char *const names[] = { "none", "l1", "l2", "l3", "l4", "seg_desc", "shared", "writable" };
    return (unsigned int)t < 8 ? names[t] : "?";
}
