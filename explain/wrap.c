/*
 * wrap.c - prose for a 100-column terminal (see account.h): every account of a refusal, hint,
 * "should have" line and counter line that pvmmu prints for a person goes through explain_wrap_to
 * (explain.h's explain_wrap on the host), so all of it breaks the same way, on the host and on
 * pvmmu's hypervisor's console alike.  Freestanding, as account.c is: no libc.
 */
#include "account.h"

/* Is c an ASCII letter, or a digit?  (What isalpha and isdigit answer in the C locale.) */
static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Write s[0..n) to out (nothing for n == 0). */
static void put(const struct explain_sink *out, const char *s, size_t n)
{
    if (n)
        out->write(out->ctx, s, n);
}

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
    static const char tag[] = "(XEN) ";
    if (n - indent < sizeof(tag) - 1)
        return false;
    for (size_t i = 0; i < sizeof(tag) - 1; i++)
        if (s[indent + i] != tag[i])
            return false;
    return true;
}

/* Is s[0..n) a word without a letter or a digit ("-", "=", "->"), which stays with its neighbours? */
static bool operator_word(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_alpha(s[i]) || is_digit(s[i]))
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
    bool label_number = is_digit(s[j]) && is_alpha(s[i - 1]);
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

/* n spaces to out. */
static void spaces(const struct explain_sink *out, size_t n)
{
    static const char blank[16] = "                ";
    for (; n > sizeof(blank); n -= sizeof(blank))
        put(out, blank, sizeof(blank));
    put(out, blank, n);
}

/* One line s[0..n) (without its '\n') to out, broken at spaces to fit EXPLAIN_COLUMNS (explain_wrap_to). */
static void wrap_line(const struct explain_sink *out, const char *s, size_t n)
{
    size_t indent = 0;
    while (indent < n && s[indent] == ' ')
        indent++;
    if (columns(s, n) <= EXPLAIN_COLUMNS || xen_quotation(s, n, indent)) {
        put(out, s, n);
        return;
    }
    size_t pos = indent, lead = indent;   /* lead: the indentation of the line being written */
    put(out, s, indent);
    for (;;) {
        size_t room = EXPLAIN_COLUMNS > lead ? EXPLAIN_COLUMNS - lead : 0;
        size_t len = piece_end(s + pos, n - pos, room);
        put(out, s + pos, len);
        pos += len;
        while (pos < n && s[pos] == ' ')
            pos++;
        if (pos >= n)
            return;
        lead = indent + 2;
        put(out, "\n", 1);
        spaces(out, lead);
    }
}

void explain_wrap_to(const struct explain_sink *out, const char *text)
{
    while (*text) {
        size_t n = 0;
        while (text[n] && text[n] != '\n')
            n++;
        wrap_line(out, text, n);
        if (!text[n])
            return;
        put(out, "\n", 1);
        text += n + 1;
    }
}

/* explain_wrapper_start's sink: collect a line, and wrap it onto w->out when its '\n' comes. */
static void wrapper_write(void *ctx, const char *s, size_t n)
{
    struct explain_wrapper *w = ctx;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            if (w->spilled)
                put(&w->out, w->line, w->len);
            else
                wrap_line(&w->out, w->line, w->len);
            put(&w->out, "\n", 1);
            w->len = 0;
            w->spilled = false;
            continue;
        }
        if (w->len == sizeof(w->line)) {   /* too long to wrap: out as it is, up to its end */
            put(&w->out, w->line, w->len);
            w->len = 0;
            w->spilled = true;
        }
        w->line[w->len++] = s[i];
    }
}

struct explain_sink explain_wrapper_start(struct explain_wrapper *w, struct explain_sink out)
{
    w->out = out;
    w->len = 0;
    w->spilled = false;
    return (struct explain_sink){ wrapper_write, w };
}

void explain_wrapper_flush(struct explain_wrapper *w)
{
    if (w->spilled)
        put(&w->out, w->line, w->len);
    else
        wrap_line(&w->out, w->line, w->len);
    w->len = 0;
    w->spilled = false;
}
