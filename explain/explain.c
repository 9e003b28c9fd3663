/*
 * explain.c - the host's face of explain/ (see explain.h): the accounts of account.c and the
 * wrapping of wrap.c written to a FILE*, and errno names parsed with libc's strtol.
 */
#include "explain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

/* explain_sink.write for a FILE*: fwrite, whose errors the stream keeps for the caller's fclose or ferror. */
static void file_write(void *ctx, const char *s, size_t n)
{
    fwrite(s, 1, n, ctx);
}

int xen_errno_parse(const char *s, long *rc)
{
    if (!xen_errno_lookup(s[0] == '-' ? s + 1 : s, rc))
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (*s && !*end && errno == ERANGE)
        return -2;
    if (*s && !*end && !errno) {
        *rc = v;
        return 0;
    }
    return -1;
}

void explain_frame(FILE *out, const struct pvm_machine *m, uint64_t mfn, const char *indent)
{
    const struct explain_sink sink = { file_write, out };
    explain_frame_to(&sink, m, mfn, indent);
}

void explain_refusal(FILE *out, const struct pvm_machine *m, const char *indent, const struct explain_names *names)
{
    const struct explain_sink sink = { file_write, out };
    explain_refusal_to(&sink, m, indent, names);
}

void explain_wrap(FILE *out, const char *text)
{
    const struct explain_sink sink = { file_write, out };
    explain_wrap_to(&sink, text);
}

void explain_printf(FILE *out, const char *fmt, ...)
{
    char text[EXPLAIN_PRINTF_MAX];   /* on the stack: printing never allocates, even on a host out of memory */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    explain_wrap(out, text);
}
