/*
 * test_script.c - the scenario-script parser and runner API (script/script.h)
 * driven directly: malformed buffers give NULL and exactly one
 * "NAME:LINE: ..." line, valid ones the right number of steps, script_load
 * and script_run report the way the CLI relies on, and random buffers never
 * crash the parser (ASan/UBSan watch) and always end in one of the two
 * outcomes.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "script.h"

/* ---- helpers ---- */

/* A memory stream and its buffer. */
struct mem {
    FILE *f;
    char *buf;
    size_t len;
};

static void mem_open(struct mem *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
}

/* Close the stream; m->buf stays valid (NUL-terminated) until mem_free. */
static void mem_close(struct mem *m)
{
    assert_int_equal(fclose(m->f), 0);
    m->f = NULL;
    assert_non_null(m->buf);
}

static void mem_free(struct mem *m)
{
    free(m->buf);
    m->buf = NULL;
}

/* Number of '\n'-terminated lines in s (a trailing unterminated piece counts too). */
static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || i + 1 == len)
            n++;
    return n;
}

/* Parse buf[0..len) as NAME; returns the script and fills *err with what was printed. */
static struct script *parse_buf(const char *name, const char *buf, size_t len, struct mem *err)
{
    mem_open(err);
    struct script *s = script_parse(name, buf, len, err->f);
    mem_close(err);
    return s;
}

static struct script *parse_str(const char *buf, struct mem *err)
{
    return parse_buf("t.pvm", buf, strlen(buf), err);
}

/* Assert buf is refused with exactly one line "t.pvm:LINE: ...FRAGMENT...". */
static void assert_refused(const char *buf, size_t len, int line, const char *fragment)
{
    struct mem err;
    struct script *s = parse_buf("t.pvm", buf, len, &err);
    if (s) {
        script_free(s);
        fail_msg("accepted a malformed script (expected line %d: %s):\n%s", line, fragment, buf);
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "t.pvm:%d: ", line);
    if (err.len == 0 || err.buf[err.len - 1] != '\n' || count_lines(err.buf, err.len) != 1 ||
        strncmp(err.buf, prefix, strlen(prefix)) || !strstr(err.buf, fragment))
        fail_msg("for input:\n%s\nexpected one line \"%s...%s...\", got:\n%s", buf, prefix, fragment, err.buf);
    mem_free(&err);
}

static void assert_refused_str(const char *buf, int line, const char *fragment)
{
    assert_refused(buf, strlen(buf), line, fragment);
}

/* Assert buf parses, prints nothing, and has `steps` top-level steps. */
static void assert_parses(const char *buf, size_t len, size_t steps)
{
    struct mem err;
    struct script *s = parse_buf("ok.pvm", buf, len, &err);
    if (!s)
        fail_msg("refused a valid script:\n%s\nerror: %s", buf, err.buf);
    assert_int_equal(err.len, 0);
    assert_int_equal(script_steps(s), steps);
    script_free(s);
    mem_free(&err);
}

static void assert_parses_str(const char *buf, size_t steps)
{
    assert_parses(buf, strlen(buf), steps);
}

/* Run a (valid) script buffer; returns script_run's status and the output in *out. */
static int run_str_audit(const char *buf, bool verbose, unsigned long audit_every, struct mem *out)
{
    struct mem err;
    struct script *s = parse_str(buf, &err);
    if (!s)
        fail_msg("refused a valid script: %s", err.buf);
    mem_free(&err);
    mem_open(out);
    struct script_opts o = { .verbose = verbose, .out = out->f, .audit_every = audit_every };
    int rc = script_run(s, &o);
    mem_close(out);
    script_free(s);
    return rc;
}

/* The same with the default audit cadence. */
static int run_str(const char *buf, bool verbose, struct mem *out)
{
    return run_str_audit(buf, verbose, SCRIPT_AUDIT_AUTO, out);
}

/* ---- malformed input: one line, the right line number ---- */

static const struct {
    const char *text;
    int line;
    const char *fragment;
} bad_cases[] = {
    { "frobnicate\n", 1, "expected a command (machine, domain" },
    { "domain d1\n\n# comment\nfrobnicate d1\n", 4, "got 'frobnicate'" },
    { "domain d1\nframe d1 a\nmmuext d1 pin_l1 b\n", 3, "got 'b', which no 'frame' or 'io' line declared" },
    { "domain d1\nframe d2 a\n", 2, "domain d2 is not declared" },
    { "domain d1 vcpus=2\nload d1v2 0\n", 2, "domain d1 has 2 vCPU(s); v2 does not exist" },
    { "domain d1\nload d1v4 0\n", 2, "vCPU 4 is out of range (below 4)" },
    { "domain d1\nload d1v 0\n", 2, "expected a vCPU number after 'v' in 'd1v'" },
    { "domain d1x\n", 1, "expected a domain (dN or dNvM), got 'd1x'" },
    { "domain d1\nmmuext d1 tlb_flush_multi\n", 2, "expected mask=BITS (a vCPU bitmap) or nomask, got 'end of line'" },
    { "domain d1\nmmuext d1 invlpg_multi 0x1000\n", 2, "or nomask, got 'end of line'" },
    { "domain d1v99999999999999999999\n", 1, "vCPU 99999999999999999999 is out of range (below 4)" },
    { "domain d18446744073709551616\n", 1, "domain id 18446744073709551616 is out of range (below 32752)" },
    { "domain d1\nmmuext d1 tlb_flush_local -> -9223372036854775809\n", 2,
      "result '-9223372036854775809' is out of range (a hypercall returns a signed 64-bit value)" },
    { "domain d99999999999999999999999\n", 1, "is out of range (below 32752)" },
    { "domain d1\nframe d1 t\nset t[512] = 0\n", 3, "a slot 512 is out of range (at most 511)" },
    { "domain d1\nframe d1 t\nset t[-1] = 0\n", 3, "expected a slot (a number), got '-1'" },
    { "domain d1\nframe d1 t\nset t[1] = P|FOO\n", 3, "expected an entry value (frame name, flag or number), got 'FOO'" },
    { "domain d1\nframe d1 t\nset t[1] = P|\n", 3, "expected an entry value (frame name, flag or number), got 'end of line'" },
    { "domain d1\nframe d1 t a\nset t[1] = a|@0x5\n", 3, "an entry value names one frame, got a second one '@0x5'" },
    { "domain d1\nload d1 va(0,0,0,512)\n", 2, "a table index 512 is out of range (at most 511)" },
    { "domain d1\nload d1 va(0,0,0)\n", 2, "expected ',' between va() indexes, got ')'" },
    { "domain d1\nload d1 va 0\n", 2, "expected '(' after va, got '0'" },
    { "domain d1\nload d1 va(0,0,0,0)+4096\n", 2, "an offset 4096 is out of range (at most 4095)" },
    { "domain d1\nframe d1 t\nset t[1] 0\n", 3, "expected '=' after NAME[SLOT], got '0'" },
    { "domain d1\nframe d1 t\nset t[1 = 0\n", 3, "expected ']' after the slot, got '='" },
    { "domain d1\nframe d1 t\nset t = 0\n", 3, "expected '[' after the frame name (NAME[SLOT]), got '='" },
    { "domain d1\nframe d1 t\nset t[0] = 0 -> -EFOO\n", 3, "expected a result like 0 or -EINVAL after '->', got '-EFOO'" },
    { "domain d1\nframe d1 t\nset t[0] = 0 ->\n", 3, "expected an expected result after '->', got 'end of line'" },
    { "domain d1\nframe d1 t\nmmuext d1 pin_l1 t -> 0 done=x\n", 3, "expected a count after done=, got 'x'" },
    { "expect stat pins=0 nosuch=1\n", 1, "unknown counter 'nosuch'" },
    { "expect stat pins\n", 1, "expected '=' after the counter name, got 'end of line'" },
    { "expect stat\n", 1, "expected NAME=N after 'expect stat'" },
    { "expect why bad\n", 1, "unknown refusal cause 'bad'" },
    { "domain d1\nframe d1 t\nexpect why bad_type t extra\n", 3, "unexpected 'extra' at the end of the line" },
    { "domain d1\nframe d1 t\nexpect t type=l0\n", 3, "expected type=none|l1|l2|l3|l4|seg_desc|shared|writable, got 'l0'" },
    { "domain d1\nframe d1 t\nexpect t dirty\n", 3, "got 'dirty'" },
    { "domain d1\nframe d1 t\nexpect t\n", 3, "expected a frame attribute" },
    { "domain d1\nframe d1 t\nexpect t tc=x\n", 3, "expected tc=N, got 'x'" },
    { "domain d1\nframe d1 t\nexpect t owner=d99999\n", 3, "expected owner=dN, none or io, got 'd99999'" },
    { "domain d1\nframe d1 t\nexpect t linear=1x\n", 3, "expected linear=N with -32768 <= N <= 32767, got '1x'" },
    { "domain d1\nframe d1 t\nexpect t linear=32768\n", 3, "expected linear=N with -32768 <= N <= 32767, got '32768'" },
    { "domain d1\nframe d1 t\nexpect t linear=-32769\n", 3, "got '-32769'" },
    { "domain d1\nframe d1 t\nexpect t linear=99999999999999999999\n", 3, "got '99999999999999999999'" },
    { "domain d1\nframe d1 t\nexpect t tc=7 tc=0\n", 3, "'tc=0': the attribute tc is already given on this line" },
    { "domain d1\nframe d1 t\nexpect t count=9 type=none count=1\n", 3, "'count=1': the attribute count is already" },
    { "domain d1\nframe d1 t\nexpect t validated !validated\n", 3, "'!validated': the attribute validated is already" },
    { "domain d1\nframe d1 t\nexpect t !pinned !pinned\n", 3, "'!pinned': the attribute pinned is already" },
    { "domain d1\nframe d1 t\nexpect t owner=d1 owner=none\n", 3, "'owner=none': the attribute owner is already" },
    { "domain d1\nframe d1 t\nexpect t linear=0 linear=1\n", 3, "'linear=1': the attribute linear is already" },
    { "domain d1\nframe d1 t\nexpect t m2p=0 m2p=0\n", 3, "'m2p=0': the attribute m2p is already" },
    { "expect stat pins=0 pins=0\n", 1, "'pins=0': the counter pins is already given on this line" },
    { "expect log Bad\n", 1, "expected a quoted text after 'expect log'" },
    { "expect log \"Bad\" \"type\"\n", 1, "unexpected 'type' at the end of the line" },
    { "io a=0xffffffffffffffff\n", 1, "mfn 0xffffffffffffffff is beyond what a page-table entry can hold" },
    { "io a=0x10000000000\n", 1, "mfn 0x10000000000 is beyond what a page-table entry can hold (at most 0xffffffffff)" },
    { "domain d1\nframe d1 a=0x10000000100\n", 2, "mfn 0x10000000100 is beyond what a page-table entry can hold" },
    { "domain d1\nframe d1 a\nframe d1 a\n", 3, "frame 'a' is declared twice" },
    { "domain d1\nio a\nframe d1 a\n", 3, "frame 'a' is declared twice" },
    { "domain d1\ndomain d1\n", 2, "domain d1 is declared twice" },
    { "domain d1\nframe d1 RW\n", 2, "'RW' is reserved (a flag or keyword); choose another frame name" },
    { "domain d1\nframe d1 GK\n", 2, "'GK' is reserved" },
    { "domain d1\nframe d1 va\n", 2, "'va' is reserved" },
    { "domain d1\nframe d1 d1\n", 2, "'d1' looks like a domain; choose another frame name" },
    { "domain d1\nframe d1 x.y-z\n", 2, "expected a frame name (letters, digits, '_'; at most 63), got 'x.y-z'" },
    { "domain d1\nframe d1\n", 2, "expected at least one frame name" },
    { "domain d1\nmachine frames=512\n", 2, "'machine' must come once, before every other line" },
    { "io a\nmachine\n", 2, "'machine' must come once, before every other line" },
    { "machine frames=15\n", 1, "expected frames=N with 16 <= N <= 16777216, got '15'" },
    { "machine frames=16777217\n", 1, "got '16777217'" },
    { "machine frames=-1\n", 1, "got '-1'" },
    { "machine tlb_check=maybe\n", 1, "expected tlb_check=on or tlb_check=off, got 'maybe'" },
    { "machine linear_pt=1\n", 1, "expected linear_pt=on or linear_pt=off, got '1'" },
    { "machine paddr_bits=35\n", 1, "expected paddr_bits=N with 36 <= N <= 52, got '35'" },
    { "machine paddr_bits=53\n", 1, "expected paddr_bits=N with 36 <= N <= 52, got '53'" },
    { "machine paddr_bits=forty\n", 1, "expected paddr_bits=N with 36 <= N <= 52, got 'forty'" },
    { "machine turbo\n", 1, "expected frames=N, paddr_bits=N, linear_pt=on|off or tlb_check=on|off, got 'turbo'" },
    { "domain d1\nmulticall d1\nmmuext tlb_flush_local\n", 2, "'multicall' is never closed (expected an 'end' line)" },
    { "domain d1\nmulticall d1\nend\nmulticall d1\n\n\n", 4, "'multicall' is never closed" },
    { "domain d1\nmulticall d1\nset @0x100[0] = 0\nend\n", 3, "expected a hypercall inside the multicall" },
    { "domain d1\nmulticall d1 extra\nend\n", 2, "unexpected 'extra' at the end of the line" },
    { "end\n", 1, "'end' without an open 'multicall'" },
    { "domain d1\nmulticall d1\nend\nend -> 0\n", 4, "'end' without an open 'multicall'" },
    { "expect log \"unterminated\n", 1, "expected a closing '\"'" },
    { "expect log \"ends in a backslash\\", 1, "expected a closing '\"'" },
    { "domain d1\nframe d1 a=4096\n", 2, "mfn 0x1000 is beyond machine memory (4096 frames" },
    { "machine frames=300\ndomain d1\nframe d1 a b c d e f g h i j k l m n o p q r s t u v w x y z "
      "a1 a2 a3 a4 a5 a6 a7 a8 a9 b1 b2 b3 b4 b5 b6 b7 b8 b9 c1 c2 c3 c4 c5 c6\n",
      3, "mfn 0x12c is beyond machine memory (300 frames" },
    { "domain d1\nio m=0x200\nframe d1 a=0x200\n", 3, "mfn 0x200 is already used by another frame" },
    { "domain d1\nframe d1 t\nset t[0] = 5 $\n", 3, "unexpected character '$'" },
    { "domain d1\nframe d1 t\nmmuext d1 pin_l9 t\n", 3, "expected an mmuext operation (pin_l1..pin_l4" },
    { "domain d1\nmmuext d1 tlb_flush_multi mask=zz\n", 2, "expected mask=BITS (a vCPU bitmap), got 'zz'" },
    { "domain d1\nframe d1 t\nmmu_update d1 cmd=8 t[0] = 0\n", 3, "expected cmd=0..7, got '8'" },
    { "domain d1\nframe d1 t\nmmu_update d1 fd=nobody t[0] = 0\n", 3, "expected a foreign domain (self, io, xen, dN or a number), got 'nobody'" },
    { "domain d1\nframe d1 t\nmmu_update d1 fd=0x10000 t[0] = 0\n", 3, "expected a foreign domain" },
    { "domain d1\nstore d1 0 0 bytes=16\n", 2, "expected bytes=1, 2, 4 or 8, got '16'" },
    { "domain d1\nstore d1 0 0 -> fine\n", 2, "expected ok, emulated or #PF after '->', got 'fine'" },
    { "domain d1\nload d1 0 -> ok\n", 2, "expected an entry value (frame name, flag or number), got 'ok'" },
    { "domain d1\nmode d1 root\n", 2, "expected kernel or user, got 'root'" },
    { "domain d1\nvm_assist d1 toggle writable_pagetables\n", 2, "expected enable, disable or a command number, got 'toggle'" },
    { "domain d1\nvm_assist d1 enable writable\n", 2, "expected a vm_assist type" },
    { "domain d1 vcpus=0\n", 1, "expected vcpus=1..4, got '0'" },
    { "domain d1 iomem=5\n", 1, "expected iomem=FIRST-LAST (machine frame numbers) or iomem=none, got '5'" },
    { "domain d1 iomem=nothing\n", 1, "or iomem=none, got 'nothing'" },
    { "domain d1 iomem=9-5\n", 1, "expected iomem=FIRST-LAST (machine frame numbers) or iomem=none, got '9-5'" },
    { "domain d1 root\n", 1, "expected privileged, vcpus=N or iomem=A-B|none, got 'root'" },
    { "domain d1\ndomain d2\ndomain d3\ndomain d4\ndomain d5\ndomain d6\ndomain d7\ndomain d8\ndomain d9\n", 9,
      "at most 8 domains" },
    { "set @0x1g[0] = 0\n", 1, "expected a machine frame number after '@', got '@0x1g'" },
    { "set @[0] = 0\n", 1, "expected a machine frame number after '@', got '@'" },
    { "set @0x10000000000000[0] = 0\n", 1, "expected a machine frame number after '@'" },
    { "domain d1\nupdate_va_mapping_otherdomain d1 0 0\n", 2,
      "expected the domain that owns the frame (dN, io, self), got 'end of line'" },
    { "domain d1\nupdate_va_mapping d1 0 0 flags=x\n", 2, "expected flags=N, got 'x'" },
    { "domain d1\nmmuext d1 set_ldt 0\n", 2, "expected an entry count, got 'end of line'" },
    { "domain d1\nmmuext d1 cmd 5\n", 2, "expected '=' after cmd, got '5'" },
};

static void malformed_inputs_give_one_line(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
        assert_refused_str(bad_cases[i].text, bad_cases[i].line, bad_cases[i].fragment);
}

/* Bytes no text script contains: NUL, control and high bytes, with the right line. */
static void binary_content_is_refused(void **state)
{
    (void)state;
    static const char nul[] = "domain d1\nframe d1 a\x00" "b\n";
    assert_refused(nul, sizeof(nul) - 1, 2, "unexpected NUL byte (not a text script?)");
    static const char nul_in_comment[] = "# c\x00mment\n";
    assert_refused(nul_in_comment, sizeof(nul_in_comment) - 1, 1, "unexpected NUL byte");
    assert_refused_str("domain d1\n\n\x01\x02\x03\n", 3, "unexpected byte 0x01 (not a text script?)");
    assert_refused_str("domain d1\x7f\n", 1, "unexpected byte 0x7f");
    assert_refused_str("\xef\xbb\xbf" "domain d1\n", 1, "unexpected byte 0xef");
    assert_refused_str("domain d1\nframe d1 caf\xc3\xa9\n", 2, "unexpected byte 0xc3");
    assert_refused_str("domain\x0b" "d1\n", 1, "unexpected byte 0x0b");
    /* Bytes after a comment marker are ignored, non-UTF-8 included. */
    assert_parses_str("domain d1 # caf\xc3\xa9 \x01\xff\n", 1);
}

/* Lines of exactly SCRIPT_MAX_LINE characters are fine; one more is refused. */
static void line_length_limit(void **state)
{
    (void)state;
    size_t n = SCRIPT_MAX_LINE;
    char *buf = malloc(n + 64);
    assert_non_null(buf);
    strcpy(buf, "domain d1\n#");
    size_t off = strlen(buf);
    memset(buf + off, 'x', n - 1);     /* the comment line is '#' + n-1 = n characters */
    strcpy(buf + off + n - 1, "\nframe d1 a\n");
    assert_parses_str(buf, 2);
    memset(buf + off, 'x', n);         /* n + 1 characters */
    strcpy(buf + off + n, "\nframe d1 a\n");
    assert_refused_str(buf, 2, "line longer than 4096 characters");
    /* A long line of blanks is still too long. */
    memset(buf, ' ', n + 1);
    strcpy(buf + n + 1, "\n");
    assert_refused_str(buf, 1, "line longer than 4096 characters");
    free(buf);
}

/* Token limits: 255 tokens per line, 127 characters per word or string. */
static void token_limits(void **state)
{
    (void)state;
    char buf[4096];
    /* set t[0] = P with K more "|P" is 7 + 2K tokens: K = 124 gives 255 (fine), K = 125 gives 257. */
    for (int k = 124; k <= 125; k++) {
        int len = snprintf(buf, sizeof(buf), "domain d1\nframe d1 t\nset t[0] = P");
        for (int i = 0; i < k; i++)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, " | P");
        snprintf(buf + len, sizeof(buf) - (size_t)len, "\n");
        if (k == 124)
            assert_parses_str(buf, 3);
        else
            assert_refused_str(buf, 3, "too many tokens on one line (at most 255)");
    }
    char word[200];
    memset(word, 'a', 127);
    word[127] = 0;
    snprintf(buf, sizeof(buf), "domain d1\nframe d1 x\nexpect log \"%s\"\n", word);
    assert_parses_str(buf, 3);
    snprintf(buf, sizeof(buf), "domain d1\nframe d1 x\nexpect log \"%sa\"\n", word);
    assert_refused_str(buf, 3, "string longer than 127 characters");
    snprintf(buf, sizeof(buf), "domain d1\nframe d1 %sa\n", word);
    assert_refused_str(buf, 2, "word longer than 127 characters");
    /* 127 is a valid word but not a valid frame name (63 at most). */
    snprintf(buf, sizeof(buf), "domain d1\nframe d1 %s\n", word);
    assert_refused_str(buf, 2, "at most 63");
}

/* ---- valid input ---- */

static void valid_buffers_count_steps(void **state)
{
    (void)state;
    assert_parses_str("", 0);
    assert_parses("", 0, 0);
    assert_parses_str("# only a comment\n", 0);
    assert_parses_str("# one\n\n   # two, indented\n\t\n#three", 0);
    assert_parses_str("\n\n\n", 0);
    /* machine is not a step; each domain and each frame is. */
    assert_parses_str("machine frames=512 tlb_check=on linear_pt=off\ndomain d1\nframe d1 a b c\n", 4);
    /* the largest frame number an entry holds, as io NAME=MFN and as @MFN */
    assert_parses_str("io a=0xffffffffff\ndomain d1\nexpect @0xffffffffff owner=io\n", 3);
    /* the linear count's whole range (a signed 16-bit value in the core) */
    assert_parses_str("domain d1\nframe d1 a\nexpect a linear=32767\nexpect a linear=-32768\n", 4);
    assert_parses_str("machine paddr_bits=36\ndomain d0 privileged iomem=none\n", 1);
    /* No trailing newline. */
    assert_parses_str("domain d1\nframe d1 a", 2);
    assert_parses_str("domain d1", 1);
    /* CRLF line ends and tabs. */
    assert_parses_str("domain d1\r\nframe\td1\ta\r\nset a[0] = 1\r\n", 3);
    /* A multicall block is one step whatever its size. */
    assert_parses_str("domain d1 vcpus=2\nframe d1 t\nmulticall d1\n  mmuext pin_l1 t\n"
                      "  mmu_update t[0] = 0 -> -EINVAL\n  op 99 -> -ENOSYS\n  iret\nend -> 0\naudit\n",
                      4);
    /* expect stat makes one step per counter. */
    assert_parses_str("expect stat pins=0 unpins=0 promotions_l4=0\n", 3);
    /* '#' after '->' is #PF, a later one a comment. */
    assert_parses_str("domain d1\nstore d1 0 0 -> #PF # comment\nload d1v0 va(0,0,0,1)+8 -> #PF\n", 3);
    /* Every documented form, once. */
    assert_parses_str(
        "machine frames=8192 paddr_bits=52\n"
        "domain d0 privileged\n"
        "domain d1 vcpus=4 iomem=0x1800-0x18ff\n"
        "frame d1 l4 l3 l2 l1=0x400 a\n"
        "io vga=0x1800 far=0x100000\n"
        "set l1[0] = a|P|RW|US|USER|PWT|PCD|A|D|PSE|PAT|G|NX|GK|AVAIL|0x800 -> -EBUSY\n"
        "set_cr3 d1v3 l4 -> -EINVAL\n"
        "release d1 a -> 0\n"
        "mode d1v1 user\n"
        "mmu_update d1 fd=self pfd=d1 l1[1] = preserve_ad a|P, m2p a = 5, cmd=3 l1[2] = @0x10|P -> -EINVAL done=1\n"
        "mmu_update d0 fd=io l1[1] = vga|P\n"
        "mmuext d1 fd=xen pin_l1 l1, pin_l2 l2, pin_l3 l3, pin_l4 l4, unpin l4, new_baseptr l4, "
        "new_user_baseptr 0, new_user_baseptr l4, tlb_flush_local, invlpg_local va(1,2,3,4)+8, "
        "tlb_flush_multi mask=3, invlpg_multi 0x1000 nomask, tlb_flush_all, invlpg_all 0, flush_cache, "
        "flush_cache_global, set_ldt 0x2000 16, clear_page a, copy_page a l1, mark_super a, unmark_super a, "
        "cmd = 14 a, cmd = 99 -> -ENOSYS done=20\n"
        "update_va_mapping d1v2 va(511,511,511,511) a|P invlpg all flags=0 -> 0\n"
        "update_va_mapping d1 0x1000 0 none local\n"
        "update_va_mapping d1 0x1000 0 tlb_flush mask=5\n"
        "update_va_mapping_otherdomain d0 0x1000 a|P d1 invlpg\n"
        "vm_assist d1 enable writable_pagetables\n"
        "vm_assist d1 disable 4gb_segments_notify -> 0\n"
        "vm_assist d1 0 33 -> -EINVAL\n"
        "store d1v0 va(0,0,0,0)+8 a|P bytes=4 -> emulated\n"
        "store d1 0x1000 1 -> ok\n"
        "load d1 0x1000 -> a|P\n"
        "load d1 0x2000\n"
        "multicall d1v1\n  vm_assist enable writable_pagetables\n  update_va_mapping 0 0 -> -EINVAL\n"
        "  update_va_mapping_otherdomain 0 0 io\n  iret\n  op 1\nend\n"
        "expect l4 type=l4 tc=2 count=3 pinned validated owner=d1 linear=-1 m2p=0\n"
        "expect a !pinned !validated owner=none type=writable\n"
        "expect vga owner=io type=seg_desc\n"
        "expect l1[511] = a|P|RW\n"
        "expect stat hc_mmu_update=1 demotions_l3=0 tlb_stale_hits=0\n"
        "expect log \"escaped \\\" quote\"\n"
        "expect why bad_type\n"
        "expect why not_owner a\n"
        "expect mappings a 2 writable\n"
        "expect mappings @0x5 0\n"
        "audit\n",
        /* 2 domains + 5 frames + 2 io frames; set, set_cr3, release, mode, 2 mmu_update,
           mmuext, 4 update_va_mapping(_otherdomain), 3 vm_assist, 2 store, 2 load and the
           multicall = 19 operations; 3 frame expects + 1 entry + 3 stat + log + 2 why +
           2 mappings + audit = 13 */
        2 + 5 + 2 + 19 + 13);
}

/* Declared names resolve to consecutive mfns from 0x100, skipping explicit ones. */
static void frames_get_consecutive_mfns(void **state)
{
    (void)state;
    struct mem out;
    /* a=0x100, b=0x101 (explicit), c skips to 0x102, the io frame m takes 0x103, e 0x104;
       the M2P entry is the declaration index, io frames included. */
    int rc = run_str("domain d1\nframe d1 a b=0x101 c\nio m\nframe d1 e\n"
                     "expect a m2p=0 owner=d1\nexpect @0x100 m2p=0\nexpect @0x101 m2p=1\n"
                     "expect @0x102 m2p=2\nexpect @0x104 m2p=4 owner=d1\nexpect m owner=io\n"
                     "expect @0x103 owner=io\n",
                     false, &out);
    if (rc != 0)
        fail_msg("%s", out.buf);
    mem_free(&out);
}

/* ---- audit cadence ---- */

/* The automatic cadence audits every operation until frames x operations passes the budget, then every N. */
static void audit_cadence_by_size(void **state)
{
    (void)state;
    assert_int_equal(script_audit_cadence(4096, 1000, SCRIPT_AUDIT_AUTO), 1);
    assert_int_equal(script_audit_cadence(1 << 24, 0, SCRIPT_AUDIT_AUTO), 1);
    assert_int_equal(script_audit_cadence(1 << 24, 16, SCRIPT_AUDIT_AUTO), 1);    /* exactly the budget */
    assert_int_equal(script_audit_cadence(1 << 24, 17, SCRIPT_AUDIT_AUTO), 2);
    assert_int_equal(script_audit_cadence(1 << 24, 201, SCRIPT_AUDIT_AUTO), 13);  /* 16 audits of 2^24 frames */
    assert_int_equal(script_audit_cadence(1 << 24, 100000, SCRIPT_AUDIT_AUTO), 6250);
    /* what was asked for is kept */
    assert_int_equal(script_audit_cadence(1 << 24, 201, 1), 1);
    assert_int_equal(script_audit_cadence(4096, 10, 7), 7);
    assert_true(script_audit_cadence(4096, 10, SCRIPT_AUDIT_END) == SCRIPT_AUDIT_END);
}

/*
 * --audit=N audits after every Nth operation, at an `audit` line and at the end; end only at an
 * `audit` line and at the end; each after every operation.  The summary line says which ran.
 */
static void audit_cadence_counts(void **state)
{
    (void)state;
    /* 9 operations: domain, 5 frames, audit, 2 frames; expectations are not operations */
    const char *buf = "domain d1\nframe d1 a b c d e\naudit\nexpect a owner=d1\nframe d1 f g\nexpect g owner=d1\n";
    struct mem out;
    assert_int_equal(run_str_audit(buf, false, 3, &out), 0);   /* after b, after e, the audit line, the end */
    assert_non_null(strstr(out.buf, "t.pvm: 11 steps, 11 passed, 0 failed; auditor clean after every 3 operations "
                                    "and at the end, 4 audits (as --audit asked; --audit=each audits every step)"));
    mem_free(&out);
    assert_int_equal(run_str_audit(buf, false, SCRIPT_AUDIT_END, &out), 0);
    assert_non_null(strstr(out.buf, "t.pvm: 11 steps, 11 passed, 0 failed; auditor clean at the end (--audit=end)"));
    mem_free(&out);
    assert_int_equal(run_str_audit(buf, false, 1, &out), 0);
    assert_non_null(strstr(out.buf, "t.pvm: 11 steps, 11 passed, 0 failed; auditor clean after every step"));
    mem_free(&out);
}

/*
 * The default on a large machine is affordable: 2^20 frames and 257 operations pass the budget
 * (2^28 frame visits), so the auditor runs after every 2nd operation and at the end, and says so.
 */
static void audit_default_on_large_machine(void **state)
{
    (void)state;
    size_t cap = 8192, at = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    at += (size_t)snprintf(buf + at, cap - at, "machine frames=1048576\ndomain d1\n");
    for (int i = 0; i < 256; i++)
        at += (size_t)snprintf(buf + at, cap - at, "frame d1 f%d\n", i);
    struct mem out;
    assert_int_equal(run_str(buf, false, &out), 0);
    assert_non_null(strstr(out.buf, "t.pvm: 257 steps, 257 passed, 0 failed; auditor clean after every 2 operations "
                                    "and at the end, 129 audits (automatic: frames x operations is over 2^28;"));
    mem_free(&out);
    free(buf);
}

/* ---- parsing cost ---- */

/*
 * A script of n frames: every one declared on its own line (one in 50 at an explicit mfn), and every
 * tenth written with an entry naming another frame.  Returns the text (free it); *len its length.
 */
static char *frames_script(size_t n, size_t *len)
{
    size_t cap = 64 + n * 64;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t at = (size_t)snprintf(buf, cap, "machine frames=16777216\ndomain d1\n");
    for (size_t i = 0; i < n; i++) {
        if (i % 50 == 0)
            at += (size_t)snprintf(buf + at, cap - at, "frame d1 f%zu=%#zx\n", i, 0x800000 + i);
        else
            at += (size_t)snprintf(buf + at, cap - at, "frame d1 f%zu\n", i);
        if (i % 10 == 9)
            at += (size_t)snprintf(buf + at, cap - at, "set f%zu[1] = f%zu|P\n", i, (i * 7919) % i);
    }
    *len = at;
    return buf;
}

/* CPU seconds used by this process so far (other work on the machine does not count). */
static double cpu_seconds(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU seconds to parse buf, the best of `tries`; checks the script has the steps it should. */
static double parse_seconds(const char *buf, size_t len, size_t n, int tries)
{
    double best = 1e9;
    for (int k = 0; k < tries; k++) {
        struct mem err;
        double a = cpu_seconds();
        struct script *s = parse_buf("t.pvm", buf, len, &err);
        double t = cpu_seconds() - a;
        if (!s)
            fail_msg("a script of %zu frames was refused: %s", n, err.buf);
        assert_int_equal(script_steps(s), 1 + n + n / 10);
        mem_free(&err);
        script_free(s);
        best = t < best ? t : best;
    }
    return best;
}

/*
 * Parsing is linear in the number of frames: 200,000 frames take less than 20 times as long as
 * 20,000 in the same run (linear gives about 10, the quadratic name and mfn lookups gave 100).
 */
static void parse_time_is_linear_in_frames(void **state)
{
    (void)state;
    size_t small_len, large_len;
    char *small = frames_script(20000, &small_len), *large = frames_script(200000, &large_len);
    parse_seconds(small, small_len, 20000, 1);   /* warm up the allocator */
    double t_small = parse_seconds(small, small_len, 20000, 3);
    double t_large = parse_seconds(large, large_len, 200000, 2);
    print_message("parse: 20000 frames %.3f s, 200000 frames %.3f s (ratio %.1f)\n", t_small, t_large,
                  t_large / t_small);
    if (t_large >= 20 * t_small)
        fail_msg("200000 frames took %.3f s, 20000 took %.3f s: %.1f times as long (linear: about 10)", t_large,
                 t_small, t_large / t_small);
    free(small);
    free(large);
}

/* ---- script_load ---- */

/* script_load of path gives NULL and one line, holding fragment. */
static void load_refused(const char *path, const char *fragment)
{
    struct mem err;
    mem_open(&err);
    struct script *s = script_load(path, err.f);
    mem_close(&err);
    assert_null(s);
    assert_int_equal(count_lines(err.buf, err.len), 1);
    assert_non_null(strstr(err.buf, fragment));
    mem_free(&err);
}

static void load_missing_file(void **state)
{
    (void)state;
    load_refused("/nonexistent/dir/none.pvm", "/nonexistent/dir/none.pvm: cannot open");
}

static void load_real_file(void **state)
{
    (void)state;
    char path[] = "/tmp/pvmmu-test-script-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "domain d1\nframe d1 a\n\nbogus line\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    char want[128];
    snprintf(want, sizeof(want), "%s:4: expected a command", path);
    load_refused(path, want);

    /* Rewrite it valid: it loads with the steps counted. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("domain d1\nframe d1 a b\n", f);
    fclose(f);
    struct mem err;
    mem_open(&err);
    struct script *s = script_load(path, err.f);
    mem_close(&err);
    assert_non_null(s);
    assert_int_equal(err.len, 0);
    assert_int_equal(script_steps(s), 3);
    script_free(s);
    mem_free(&err);
    unlink(path);
}

/* A directory cannot be read as a script: NULL and one line. */
static void load_directory(void **state)
{
    (void)state;
    load_refused("/tmp", "/tmp: cannot");
}

/* ---- script_run ---- */

static const char tree[] = "domain d1\n"
                           "frame d1 l4 l3 l2 l1 a\n"
                           "set l1[0] = a|P|RW\n"
                           "set l2[0] = l1|P|RW\n"
                           "set l3[0] = l2|P|RW\n"
                           "set l4[0] = l3|P|RW\n"
                           "mmuext d1 pin_l4 l4\n";

/* The texts a run's output must hold (HAS) or must not hold (LACKS). */
#define HAS(...)   ((const char *const[]){ __VA_ARGS__, NULL })
#define LACKS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOTHING    ((const char *const[]){ NULL })

/* Run script (verbose or not): it returns rc, printing each text of has and none of lacks; returns its lines. */
static size_t run_expect(const char *script, bool verbose, int rc, const char *const has[], const char *const lacks[])
{
    struct mem out;
    assert_int_equal(run_str(script, verbose, &out), rc);
    for (size_t i = 0; has[i]; i++) {
        if (!strstr(out.buf, has[i]))
            print_error("the output lacks \"%s\":\n%s", has[i], out.buf);
        assert_non_null(strstr(out.buf, has[i]));
    }
    for (size_t i = 0; lacks[i]; i++) {
        if (strstr(out.buf, lacks[i]))
            print_error("the output has \"%s\":\n%s", lacks[i], out.buf);
        assert_null(strstr(out.buf, lacks[i]));
    }
    size_t lines = count_lines(out.buf, out.len);
    mem_free(&out);
    return lines;
}

/* run_expect of tree followed by rest. */
static size_t run_tree(const char *rest, bool verbose, int rc, const char *const has[], const char *const lacks[])
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s%s", tree, rest);
    return run_expect(buf, verbose, rc, has, lacks);
}

static void run_correct_script_returns_0(void **state)
{
    (void)state;
    const char *rest = "expect l4 type=l4 tc=1 count=2 pinned validated\n"
                       "expect a type=writable tc=1 count=2\n"
                       "mmu_update d1 l1[1] = l2|P|RW -> -EBUSY\n"
                       "expect why bad_type l2\n";
    size_t lines = run_tree(rest, false, 0, HAS("t.pvm: 15 steps, 15 passed, 0 failed; auditor clean after every step"),
                            LACKS("FAIL"));
    assert_int_equal(lines, 1);
    /* Verbose: one line per step, and the Xen log lines of the refusal. */
    run_tree(rest, true, 0,
             HAS("t.pvm:10: mmu_update\n", "Could not get page type PGT_writable_page", "t.pvm:11: expect why\n"),
             NOTHING);
}

static void run_wrong_expectation_returns_1(void **state)
{
    (void)state;
    /* Line 8: wrong type count; line 9: wrong rc; line 10 is right. */
    run_tree("expect l4 tc=5\nmmu_update d1 l1[1] = a|P -> -EINVAL\nexpect a count=3\n", false, 1,
             HAS("t.pvm:8: FAIL expect: l4 (mfn 0x100) has type count 1, expected 5",
                 "t.pvm:9: FAIL mmu_update: mmu_update returned 0, expected -EINVAL", "2 failed"),
             LACKS("t.pvm:10: FAIL"));
    /* A wrong log expectation and a wrong refusal cause. */
    run_tree("mmu_update d1 l1[1] = l2|P|RW -> -EBUSY\nexpect log \"no such text\"\n"
             "expect why not_owner\nexpect stat pins=2\nexpect l4[258] = 0\n",
             false, 1,
             HAS("t.pvm:9: FAIL expect log",
                 "t.pvm:10: FAIL expect why: last refusal cause is bad_type, expected not_owner",
                 "t.pvm:11: FAIL expect stat: counter pins is 1, expected 2",
                 "t.pvm:12: FAIL expect: entry 258 of mfn 0x100", "4 failed"),
             NOTHING);
}

/*
 * The account of a refused pin names only what played a part: a plain type clash of the pinned frame has no
 * table slot ("where:"), a validation that failed at a slot names that table, slot and entry.
 */
static void pin_refusal_names_no_invented_slot(void **state)
{
    (void)state;
    run_tree("mmuext d1 pin_l2 l1 -> -EINVAL\n", true, 0,
             HAS("why: -EINVAL: frame already in use with another type", "wanted l2"), LACKS("where:"));
    run_tree("frame d1 p\nset p[3] = a|P\nmmuext d1 pin_l2 p -> -EINVAL\n", true, 0,
             HAS("where: L2 table mfn 0x105 p, slot 3, entry 0000000000104001"), NOTHING);
}

/*
 * expect owner= names one owner: a frame above machine memory is implicitly I/O, so owner=io holds and
 * owner=none fails there (both passed once); a failure names owners as the script writes them.
 */
static void run_owner_expectations(void **state)
{
    (void)state;
    run_expect("domain d1\nframe d1 a\nio hi=0x5000 m\nexpect hi owner=io\nexpect @0x6000 owner=io\n"
               "expect m owner=io\nexpect a owner=d1\nrelease d1 a\nexpect a owner=none\n",
               false, 0, NOTHING, NOTHING);
    run_expect("domain d1\nframe d1 a\nio hi=0x5000 m\nexpect hi owner=none\nexpect @0x6000 owner=none\n"
               "expect m owner=d1\nexpect a owner=io\nrelease d1 a\nexpect a owner=d1\n",
               false, 1,
               HAS("t.pvm:4: FAIL expect: hi (mfn 0x5000) is owned by io (above machine memory: implicitly I/O), "
                   "expected none\n",
                   "t.pvm:5: FAIL expect: frame (mfn 0x6000) is owned by io (above machine memory",
                   "t.pvm:6: FAIL expect: m (mfn 0x101) is owned by io, expected d1\n",
                   "t.pvm:7: FAIL expect: a (mfn 0x100) is owned by d1, expected io\n",
                   "t.pvm:9: FAIL expect: a (mfn 0x100) is owned by none, expected d1\n", "5 failed"),
               NOTHING);
}

/* A multicall entry's own result is checked, with the entry's line. */
static void run_multicall_entry_failure(void **state)
{
    (void)state;
    run_tree("multicall d1\n  mmuext pin_l4 l4\n  op 99 -> -ENOSYS\nend\n", false, 1,
             HAS("t.pvm:9: FAIL multicall entry 0 (mmuext): result -EINVAL, expected 0"), LACKS("t.pvm:10: FAIL"));
    /* An entry after an iret never runs: said so, not as its result field's poison value (3735928559). */
    run_tree("multicall d1\n  iret -> -ENOSYS\n  mmuext tlb_flush_local\n"
             "  mmuext tlb_flush_local -> 0xDEADBEEF\nend -> -ENOSYS\n",
             false, 1,
             HAS("t.pvm:10: FAIL multicall entry 1 (mmuext): did not run (the batch stopped before it), expected 0\n"),
             LACKS("3735928559", "t.pvm:11: FAIL"));   /* -> 0xDEADBEEF: expected not to run */
}

/* ---- random buffers ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, so every run sees the same buffers. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static const char *const alphabet[] = {
    "machine", "frames=512", "frames=", "linear_pt=off", "tlb_check=on", "domain", "frame", "io", "set",
    "set_cr3", "release", "mode", "kernel", "user", "mmu_update", "mmuext", "update_va_mapping",
    "update_va_mapping_otherdomain", "vm_assist", "enable", "writable_pagetables", "store", "load",
    "multicall", "end", "iret", "op", "expect", "stat", "log", "why", "mappings", "audit", "pin_l1",
    "pin_l4", "unpin", "new_baseptr", "invlpg_local", "tlb_flush_multi", "mask=3", "nomask", "set_ldt",
    "copy_page", "cmd", "d1", "d2", "d1v0", "d1v9", "d0", "privileged", "vcpus=2", "iomem=1-2", "a", "b",
    "t", "a=0x100", "@0x100", "@", "P", "RW", "US", "GK", "PSE", "0", "1", "511", "512", "0x1000",
    "-1", "va", "(", ")", ",", "[", "]", "=", "|", "+", "->", "-EINVAL", "-EBUSY", "done=1", "#PF",
    "ok", "emulated", "bytes=4", "type=l1", "tc=1", "count=2", "pinned", "!validated", "owner=d1",
    "linear=-1", "m2p=5", "pins=1", "bad_type", "fd=d2", "pfd=d1", "preserve_ad", "m2p", "\"text\"",
    "\"", "#", "# comment", "\n", "\n", "\n", "\r\n", " ", "\t",
};

static size_t random_buffer(char *buf, size_t cap)
{
    size_t len = 0, n = 1 + rng() % 40;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng();
        const char *piece;
        char raw[2];
        if (r % 16 == 0) {
            raw[0] = (char)(rng() & 0xFF);    /* any byte, NUL included */
            raw[1] = 0;
            if (len + 1 >= cap)
                break;
            buf[len++] = raw[0];
            continue;
        }
        piece = alphabet[(r >> 8) % (sizeof(alphabet) / sizeof(alphabet[0]))];
        size_t pl = strlen(piece);
        if (len + pl + 1 >= cap)
            break;
        memcpy(buf + len, piece, pl);
        len += pl;
        if (rng() % 3)
            buf[len++] = ' ';
    }
    return len;
}

/* Either a script (nothing printed) or NULL and one "fuzz.pvm:N: ..." line. */
static void check_outcome(const char *buf, size_t len, unsigned long *parsed, unsigned long *ran)
{
    struct mem err;
    struct script *s = parse_buf("fuzz.pvm", buf, len, &err);
    if (s) {
        assert_int_equal(err.len, 0);
        (*parsed)++;
        /* Small parsed scripts also run (the runner and core must survive them too). */
        if (script_steps(s) < 64) {
            struct mem out;
            mem_open(&out);
            struct script_opts o = { .verbose = true, .out = out.f };
            int rc = script_run(s, &o);
            mem_close(&out);
            assert_true(rc == 0 || rc == 1);
            mem_free(&out);
            (*ran)++;
        }
        script_free(s);
    } else {
        if (count_lines(err.buf, err.len) != 1 || strncmp(err.buf, "fuzz.pvm:", 9) ||
            err.buf[err.len - 1] != '\n')
            fail_msg("bad error output for a %zu-byte buffer: \"%s\"", len, err.buf);
        /* The line number is within the buffer. */
        long line = strtol(err.buf + 9, NULL, 10);
        assert_true(line >= 1 && (size_t)line <= count_lines(buf, len) + 1);
    }
    mem_free(&err);
}

static void random_buffers_never_crash(void **state)
{
    (void)state;
    char buf[1024];
    unsigned long parsed = 0, ran = 0;
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = random_buffer(buf, sizeof(buf));
        check_outcome(buf, len, &parsed, &ran);
    }
    /* Some buffers (blank lines, comments, a bare "audit") do parse. */
    assert_true(parsed > 0);
    print_message("random token buffers: 4000, parsed %lu, ran %lu\n", parsed, ran);
}

/* Mutations of a valid script: delete, duplicate, replace or insert one byte or token. */
static void mutated_scripts_never_crash(void **state)
{
    (void)state;
    static const char base[] =
        "machine frames=1024 tlb_check=on\n"
        "domain d1 vcpus=2\n"
        "domain d2 iomem=0x3f0-0x3ff\n"
        "frame d1 l4 l3 l2 l1 a\n"
        "io m=0x3f0\n"
        "set l1[1] = l1|P\n"
        "set l2[0] = l1|P|RW\n"
        "set l3[0] = l2|P|RW\n"
        "set l4[0] = l3|P|RW\n"
        "mmuext d1 pin_l4 l4, new_baseptr l4\n"
        "mmu_update d1 l1[0] = a|P|RW, l1[2] = l2|P|RW -> -EBUSY done=1\n"
        "update_va_mapping d1 va(0,0,0,0) a|P invlpg\n"
        "vm_assist d1 enable writable_pagetables\n"
        "store d1 va(0,0,0,1)+24 a|P -> emulated\n"
        "load d1 va(0,0,0,3) -> 0\n"
        "multicall d1\n  mmuext unpin l4\n  op 99 -> -ENOSYS\nend\n"
        "expect l4 type=l4 tc=1 count=3 !pinned validated\n"
        "expect stat pins=1 unpins=1\n"
        "expect why bad_type l2\n"
        "release d1 a\n"
        "audit\n";
    char buf[sizeof(base) + 64];
    unsigned long parsed = 0, ran = 0;
    rng_state = 0xD1B54A32D192ED03ULL;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = sizeof(base) - 1;
        memcpy(buf, base, len);
        int edits = 1 + (int)(rng() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(rng() % (len + 1));
            uint64_t r = rng();
            switch (r % 4) {
            case 0: /* delete a byte */
                if (at < len) {
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
                break;
            case 1: /* replace a byte with any byte */
                if (at < len)
                    buf[at] = (char)(rng() & 0xFF);
                break;
            case 2: /* replace a byte with a script character */
                if (at < len)
                    buf[at] = "[]=,|()+-#\"@ \n0123456789abdPRWv>!"[rng() % 34];
                break;
            default: /* duplicate a byte */
                if (at < len && len + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    len++;
                }
                break;
            }
        }
        check_outcome(buf, len, &parsed, &ran);
    }
    print_message("mutated scripts: 3000, parsed %lu, ran %lu\n", parsed, ran);
    /* Some edits leave a valid script behind (e.g. inside a number or at a blank). */
    assert_true(parsed > 0);
}

/*
 * Random but well-formed scenarios: a few frames of d1 (and one of d2) wired
 * into each other by every operation the format has, at random.  Each one
 * must parse, run without a crash, and keep the auditor clean after every
 * step (no "AUDIT" line): whatever the guest does, the core's counts must
 * agree with the ones recomputed from page contents.
 */
static const char *const gen_frames[] = { "f0", "f1", "f2", "f3", "f4", "f5", "g0" };
static const unsigned int gen_slots[] = { 0, 1, 2, 3, 258, 510 };

static int gen_value(char *out, size_t cap)
{
    static const char *const flags[] = { "P", "P|RW", "P|RW|A|D", "P|US", "P|RW|PSE", "P|G", "P|NX", "RW", "P|PCD" };
    if (rng() % 8 == 0)
        return snprintf(out, cap, "0");
    return snprintf(out, cap, "%s|%s", gen_frames[rng() % 7], flags[rng() % 9]);
}

static size_t gen_script(char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "machine frames=512%s\ndomain d1 vcpus=2\ndomain d2\n"
                                            "frame d1 f0 f1 f2 f3 f4 f5\nframe d2 g0\n",
                                  rng() % 2 ? " tlb_check=on" : (rng() % 2 ? " linear_pt=off" : ""));
    int ops = 10 + (int)(rng() % 50);
    for (int i = 0; i < ops && len + 200 < cap; i++) {
        char v[64];
        const char *f = gen_frames[rng() % 6], *g = gen_frames[rng() % 6];
        unsigned int slot = gen_slots[rng() % 6];
        gen_value(v, sizeof(v));
        char *o = buf + len;
        size_t room = cap - len;
        int n;
        switch (rng() % 16) {
        case 0: n = snprintf(o, room, "set %s[%u] = %s -> %s\n", f, slot, v, "0"); break;
        case 1:
        case 2:
        case 3: n = snprintf(o, room, "mmu_update d1 %s[%u] = %s -> 0\n", f, slot, v); break;
        case 4: n = snprintf(o, room, "mmuext d1 pin_l%u %s -> 0\n", 1 + (unsigned int)(rng() % 4), f); break;
        case 5: n = snprintf(o, room, "mmuext d1 unpin %s -> 0\n", f); break;
        case 6: n = snprintf(o, room, "mmuext d1 new_baseptr %s -> 0\n", f); break;
        case 7: n = snprintf(o, room, "set_cr3 d1v1 %s -> 0\n", f); break;
        case 8: n = snprintf(o, room, "mmuext d1 new_user_baseptr %s -> 0\n", rng() % 2 ? f : "0"); break;
        case 9: n = snprintf(o, room, "update_va_mapping d1v%u va(0,0,%u,%u) %s %s -> 0\n", (unsigned int)(rng() % 2),
                             (unsigned int)(rng() % 2), slot, v, rng() % 2 ? "invlpg" : "none"); break;
        case 10: n = snprintf(o, room, "store d1v%u va(0,0,%u,%u)+%u %s -> ok\n", (unsigned int)(rng() % 2),
                              (unsigned int)(rng() % 2), (unsigned int)(rng() % 4), 8 * (unsigned int)(rng() % 4), v); break;
        case 11: n = snprintf(o, room, "load d1 va(0,0,0,%u) -> 0\n", (unsigned int)(rng() % 4)); break;
        case 12: n = snprintf(o, room, "release d1 %s -> 0\n", f); break;
        case 13: n = snprintf(o, room, "vm_assist d1 %s writable_pagetables\n", rng() % 4 ? "enable" : "disable"); break;
        case 14:
            if (rng() % 2)
                n = snprintf(o, room, "mmuext d1 clear_page %s -> 0\n", f);
            else
                n = snprintf(o, room, "mmuext d1 copy_page %s %s -> 0\n", f, g);
            break;
        default: n = snprintf(o, room, "multicall d1\n  mmu_update %s[%u] = %s -> 0\n  mmuext unpin %s -> 0\nend\n",
                              f, slot, v, g); break;
        }
        if (n < 0 || (size_t)n >= room)
            break;
        len += (size_t)n;
    }
    return len;
}

static void random_scenarios_keep_auditor_clean(void **state)
{
    (void)state;
    static char buf[16384];
    rng_state = 0x243F6A8885A308D3ULL;
    unsigned long failed_steps = 0;
    for (int iter = 0; iter < 1000; iter++) {
        size_t len = gen_script(buf, sizeof(buf));
        struct mem err;
        struct script *s = parse_buf("gen.pvm", buf, len, &err);
        if (!s)
            fail_msg("generated script refused: %s\n%.*s", err.buf, (int)len, buf);
        mem_free(&err);
        struct mem out;
        mem_open(&out);
        struct script_opts o = { .verbose = false, .out = out.f };
        int rc = script_run(s, &o);
        mem_close(&out);
        script_free(s);
        /* Steps may "fail" (their -> 0 is a guess); the auditor must never complain. */
        assert_true(rc == 0 || rc == 1);
        if (strstr(out.buf, "AUDIT"))
            fail_msg("auditor disagreement in generated scenario %d:\n%s\n--- script ---\n%.*s", iter, out.buf,
                     (int)len, buf);
        if (rc)
            failed_steps++;
        mem_free(&out);
    }
    print_message("generated scenarios: 1000, %lu with refused steps, auditor clean in all\n", failed_steps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_inputs_give_one_line),
        cmocka_unit_test(binary_content_is_refused),
        cmocka_unit_test(line_length_limit),
        cmocka_unit_test(token_limits),
        cmocka_unit_test(valid_buffers_count_steps),
        cmocka_unit_test(frames_get_consecutive_mfns),
        cmocka_unit_test(parse_time_is_linear_in_frames),
        cmocka_unit_test(audit_cadence_by_size),
        cmocka_unit_test(audit_cadence_counts),
        cmocka_unit_test(audit_default_on_large_machine),
        cmocka_unit_test(load_missing_file),
        cmocka_unit_test(load_real_file),
        cmocka_unit_test(load_directory),
        cmocka_unit_test(run_correct_script_returns_0),
        cmocka_unit_test(run_wrong_expectation_returns_1),
        cmocka_unit_test(pin_refusal_names_no_invented_slot),
        cmocka_unit_test(run_multicall_entry_failure),
        cmocka_unit_test(run_owner_expectations),
        cmocka_unit_test(random_buffers_never_crash),
        cmocka_unit_test(mutated_scripts_never_crash),
        cmocka_unit_test(random_scenarios_keep_auditor_clean),
    };
    return cmocka_run_group_tests_name("script", tests, NULL, NULL);
}
