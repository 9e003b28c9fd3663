/*
 * test_wrap.c - explain_wrap, the one way prose reaches a person: lines that fit are untouched,
 * longer ones break between words into lines of at most EXPLAIN_COLUMNS with a hanging indent,
 * no word is ever split, and a quoted "(XEN) ..." line stays whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "explain.h"
#include "harness.h"

/* The words of s (runs of non-spaces) joined by single spaces, so wrapping can be undone. */
static char *words(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    assert_non_null(out);
    for (const char *p = s; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (o != out)
            *o++ = ' ';
        while (*p && *p != ' ' && *p != '\n')
            *o++ = *p++;
    }
    *o = 0;
    return out;
}

/* The number of leading spaces of the line at s. */
static size_t indent_of(const char *s)
{
    size_t n = 0;
    while (s[n] == ' ')
        n++;
    return n;
}

/* explain_wrap prints t exactly as it is. */
static void assert_unchanged(const char *t)
{
    char *w = tm_wrapped(t);
    assert_string_equal(w, t);
    free(w);
}

/* Wrapping text gave w: the same words in the same order, only the spacing and line ends differ. */
static void assert_same_words(const char *text, const char *w)
{
    char *a = words(text), *b = words(w);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void fits_is_unchanged(void **state)
{
    (void)state;
    assert_unchanged("    why: -EBUSY: frame already in use with another type\n");
}

/* A long line becomes lines of at most 100 columns, each continuation 2 deeper, the same words. */
static void long_line_wraps_with_hanging_indent(void **state)
{
    (void)state;
    char text[1024] = "    hint: ";
    for (int i = 0; i < 40; i++)
        strcat(text, i % 3 ? "frame " : "0x1234abcd ");
    strcat(text, "end\n");
    char *w = tm_wrapped(text);
    size_t lines = 0;
    for (char *line = w; *line; lines++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true((size_t)(nl - line) <= EXPLAIN_COLUMNS);
        assert_int_equal(indent_of(line), lines ? 6 : 4);
        line = nl + 1;
    }
    assert_true(lines >= 3);
    assert_same_words(text, w);
    free(w);
}

/* A word wider than the room is not broken: it stands whole on a line of its own. */
static void wide_word_stays_whole(void **state)
{
    (void)state;
    char word[151];
    memset(word, 'f', 150);
    word[150] = 0;
    char text[400];
    snprintf(text, sizeof text, "  mapped at %s by the kernel\n", word);
    char *w = tm_wrapped(text);
    assert_non_null(strstr(w, word));
    assert_same_words(text, w);
    free(w);
}

/* "(XEN) ..." is a quotation of Xen's log: printed as it is, however long. */
static void xen_line_is_quoted_whole(void **state)
{
    (void)state;
    const char *t = "     (XEN) d1v0 Error getting mfn 00103 (pfn 00002) from L1 entry 8000000000103063 for "
                    "l1e_owner d1, pg_owner d1\n";
    assert_true(strlen(t) > EXPLAIN_COLUMNS);
    assert_unchanged(t);
}

/* An operator between two words (a - b, x = y) is not left at a line's end or start alone. */
static void operator_stays_with_its_words(void **state)
{
    (void)state;
    char text[512] = "  should have: ";
    while (strlen(text) < 80)
        strcat(text, "word ");
    strcat(text, "pgt_buf_end - 1 and the rest of the sentence that does not fit on the line\n");
    char *w = tm_wrapped(text);
    assert_non_null(strstr(w, "pgt_buf_end - 1"));
    free(w);
}

/* A label keeps its number, and a bracketed group stays whole, wherever the line would end. */
static void label_number_and_brackets_stay_together(void **state)
{
    (void)state;
    for (size_t pad = 60; pad < 100; pad++) {
        char text[512] = "  ";
        while (strlen(text) < pad)
            strcat(text, "w ");
        strcat(text, "general count 2 (incl. allocation) and more words after it\n");
        char *w = tm_wrapped(text);
        assert_non_null(strstr(w, "count 2"));
        assert_non_null(strstr(w, "(incl. allocation)"));
        free(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fits_is_unchanged),
        cmocka_unit_test(long_line_wraps_with_hanging_indent),
        cmocka_unit_test(wide_word_stays_whole),
        cmocka_unit_test(xen_line_is_quoted_whole),
        cmocka_unit_test(operator_stays_with_its_words),
        cmocka_unit_test(label_number_and_brackets_stay_together),
    };
    return cmocka_run_group_tests_name("wrap", tests, NULL, NULL);
}
