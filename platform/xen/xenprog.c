/* xenprog.c - result text of a compiled scenario step, the same on both sides (see xenprog.h). */
#include "xenprog.h"

#include "fmt.h"

static size_t put(size_t size, size_t at, int n)
{
    if (n < 0)
        return at;
    at += (size_t)n;
    return at < size ? at : size - 1;
}

static int one(char *buf, size_t size, unsigned int kind, long rc, unsigned int done)
{
    if (kind == XP_MMU_UPDATE || kind == XP_MMUEXT)
        return fmt_snprintf(buf, size, "rc=%ld done=%u", rc, done);
    return fmt_snprintf(buf, size, "rc=%ld", rc);
}

char *xp_result_text(const struct xp_result *r, char *buf, size_t size)
{
    if (!size)
        return buf;
    buf[0] = 0;
    if (r->link_rc) {
        fmt_snprintf(buf, size, "dom0 could not link the script's tables: rc=%ld", r->link_rc);
        return buf;
    }
    if (r->kind == XP_STORE || (r->kind == XP_LOAD && r->access == XP_ACC_FAULT)) {
        fmt_snprintf(buf, size, "%s", r->access == XP_ACC_OK ? "ok" : r->access == XP_ACC_EMULATED ? "emulated" : "#PF");
        return buf;
    }
    if (r->kind == XP_READ || r->kind == XP_LOAD) {
        fmt_snprintf(buf, size, "val=%016llx", (unsigned long long)r->val);
        return buf;
    }
    size_t at = put(size, 0, one(buf, size, r->kind, r->rc, r->done));
    if (r->kind != XP_MULTICALL)
        return buf;
    for (unsigned int i = 0; i < r->n && i < XP_MAX_BATCH; i++) {
        at = put(size, at, fmt_snprintf(buf + at, size - at, i ? "; " : " ["));
        at = put(size, at, one(buf + at, size - at, r->sub_kind[i], r->sub_rc[i], r->sub_done[i]));
    }
    if (r->n)
        put(size, at, fmt_snprintf(buf + at, size - at, "]"));
    return buf;
}
