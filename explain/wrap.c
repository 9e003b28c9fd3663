/*
 * wrap.c - prose for a 100-column terminal (see explain.h): every account of
 * a refusal, hint, "should have" line and counter line that pvmmu prints for
 * a person goes through explain_wrap, so all of it breaks the same way.
 */
#include "explain.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

/* The columns s[0..n) takes on a terminal: one per character (a UTF-8 continuation byte takes none). */
static size_t columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/*
 * Is the line s[0..n) a quotation of Xen's log, "(XEN) ..." after its indentation?  Those are printed
 * as Xen wrote them, whatever their length: a reader compares them with Xen's own console, and grep
 * finds them whole.
 */
static bool xen_quotation(const char *s, size_t n, size_t indent)
{
    return n - indent >= 6 && !memcmp(s + indent, "(XEN) ", 6);
}

/* Is s[0..n) a word without a letter or a digit ("-", "=", "->"), which stays with its neighbours? */
static bool operator_word(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isalnum((unsigned char)s[i]))
            return false;
    return n > 0;
}

/* How many brackets, ( or [, are open at the end of s[0..i)? */
static int open_brackets(const char *s, size_t i)
{
    int depth = 0;
    for (size_t k = 0; k < i; k++)
        depth += (s[k] == '(' || s[k] == '[') - (s[k] == ')' || s[k] == ']');
    return depth;
}

/*
 * May a line break at the spaces s[i..j) (the word before them ends at i, the next starts at j)?  Not
 * next to an operator ("pgt_buf_end - 1" and "l1 = mfn 0x100" stay on one line), not between a label
 * and the number after it ("general count 2", "error code 0x7"), and not inside brackets ("(incl.
 * allocation)", "[caf=... taf=...]").  Where no allowed break fits, the line breaks anyway.
 */
static bool break_allowed(const char *s, size_t n, size_t i, size_t j)
{
    size_t b = i, e = j;
    while (b > 0 && s[b - 1] != ' ')
        b--;
    while (e < n && s[e] != ' ')
        e++;
    bool label_number = isdigit((unsigned char)s[j]) && isalpha((unsigned char)s[i - 1]);
    return !operator_word(s + b, i - b) && !operator_word(s + j, e - j) && !label_number &&
           open_brackets(s, i) <= 0;
}

/*
 * Where to end the piece of s[0..n) (it starts with a word) that begins a line with room columns
 * left: after the last word that fits where a break is allowed, else after the last word that fits,
 * else after the first word (a word is never broken).  Returns the piece's length, the spaces after it
 * excluded; n if all of s fits, or is one word.
 */
static size_t piece_end(const char *s, size_t n, size_t room)
{
    if (columns(s, n) <= room)
        return n;
    size_t cut = 0, any = 0, used = 0;   /* the last fitting break: an allowed one, and any at all */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j < n && s[j] == ' ')
            j++;
        if (j > i && i && j < n) {   /* spaces s[i..j) between words; s[0..i) takes used columns */
            if (used > room)
                return cut ? cut : any ? any : i;
            any = i;
            if (break_allowed(s, n, i, j))
                cut = i;
            used += j - i;
            i = j - 1;
            continue;
        }
        used += columns(s + i, 1);
    }
    return cut ? cut : any ? any : n;
}

/* One line s[0..n) (without its '\n') to out, broken at spaces to fit EXPLAIN_COLUMNS (explain_wrap). */
static void wrap_line(FILE *out, const char *s, size_t n)
{
    size_t indent = 0;
    while (indent < n && s[indent] == ' ')
        indent++;
    if (columns(s, n) <= EXPLAIN_COLUMNS || xen_quotation(s, n, indent)) {
        fwrite(s, 1, n, out);
        return;
    }
    size_t pos = indent, lead = indent;   /* lead: the indentation of the line being written */
    fwrite(s, 1, indent, out);
    for (;;) {
        size_t room = EXPLAIN_COLUMNS > lead ? EXPLAIN_COLUMNS - lead : 0;
        size_t len = piece_end(s + pos, n - pos, room);
        fwrite(s + pos, 1, len, out);
        pos += len;
        while (pos < n && s[pos] == ' ')
            pos++;
        if (pos >= n)
            return;
        lead = indent + 2;
        fprintf(out, "\n%*s", (int)lead, "");
    }
}

void explain_wrap(FILE *out, const char *text)
{
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        wrap_line(out, text, n);
        if (!nl)
            return;
        fputc('\n', out);
        text = nl + 1;
    }
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
