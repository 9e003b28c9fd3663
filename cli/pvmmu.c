/*
 * pvmmu - command-line front end.
 *
 *   pvmmu script [-v] FILE...   run scenario scripts on the simulated PV MMU
 *   pvmmu script --xen [-v] FILE...   and on real Xen 4.17 under QEMU, side by side
 *   pvmmu replay [-v] TRACE     a record of a real guest on real Xen, replayed on the core
 *   pvmmu policies | version | help
 *
 * Exit status: 0 everything passed (and, with --xen or --baremetal, agreed),
 * 1 a failure or a disagreement, 2 bad usage, bad input (a malformed script,
 * one with no steps, or nothing to compare), a run that could not be done, or
 * output that could not be written, 3 the host ran out of memory (one line on
 * stderr says how much was asked for; the run stopped there: verdicts already
 * printed for earlier scripts stand, the script that ran out has none).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvmmu/pvmmu.h"
#include "baremetal.h"
#include "boot.h"
#include "hostmem.h"
#include "guest.h"
#include "replay.h"
#include "script.h"
#include "script_xen.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pvmmu boot [--mem SIZE] --policy NAME [--json] [-v] [--no-audit]   boot one guest on the\n"
            "                                   simulator (default --mem 1G)\n"
            "       pvmmu compare [--mem SIZE] [--json] [--no-audit]   every policy side by side (default 8G)\n"
            "       pvmmu compare --replay TRACE [--mem SIZE]   the same, and a row for the real Linux of\n"
            "                                   a record (docs/trace.md) replayed on the core (default: its\n"
            "                                   dom0's size)\n"
            "       pvmmu compare --baremetal [--mem SIZE] [--json]   the same on pvmmu's own hypervisor under\n"
            "                                   QEMU (default 128M, at most %uM)\n"
            "       pvmmu script [-v] [--audit=each|end|N] FILE...   run scenario scripts (docs/scripts.md);\n"
            "                                   the auditor after every step (each), every Nth operation and at\n"
            "                                   the end, or only at the end; default each, or every N above\n"
            "                                   2^28 frames x operations (the summary line says which ran)\n"
            "       pvmmu script --xen [-v] [--xen-image PATH] [--dom0 PATH] FILE...\n"
            "                                   run them on real Xen 4.17 under QEMU too and compare every step\n"
            "       pvmmu script --baremetal [-v] [--dom0 PATH] FILE...   the same on pvmmu's own hypervisor\n"
            "                                   under QEMU\n"
            "       pvmmu replay [-v] TRACE     replay a record of a real guest on real Xen (docs/trace.md) on\n"
            "                                   the simulator's core: every hypercall's and request's result,\n"
            "                                   every validation, ptwr write and memory event must be Xen's;\n"
            "                                   stops at the first disagreement and explains it; -v: each event\n"
            "                                   beside the core's answer\n"
            "       pvmmu policies              every policy, one per line: its name, a tab, what it does\n"
            "       pvmmu version               print the version\n"
            "       pvmmu help                  this text\n"
            "exit status: 0  all passed: boot booted, auditor clean; compare ran every policy, auditor clean\n"
            "                (a policy that fails to boot is a result, not a failure); script met every\n"
            "                expectation (with --xen or --baremetal: on every side, and every compared step\n"
            "                agreed)\n"
            "             1  a failure or a disagreement\n"
            "             2  bad usage or input (a script that is malformed, has no steps or gives nothing to\n"
            "                compare, a record that is not pvmmu-trace 2), a run that could not be done (QEMU, an\n"
            "                image), or output that could not be written; one line on stderr says which\n"
            "             3  the host ran out of memory: one line on stderr with the size asked for; the run\n"
            "                stopped there and has no verdict (lines already printed, such as -v's, stay); with\n"
            "                several scripts, the verdicts already printed for the scripts before stand, the one\n"
            "                that ran out has none and the ones after it do not run\n",
            BAREMETAL_MAX_MIB);
}

/* --audit=VALUE: each, end or N >= 1 into *every.  Returns 0, or 2 after one error line. */
static int parse_audit(const char *v, unsigned long *every)
{
    char *end = NULL;
    unsigned long n = 0;
    errno = 0;
    if (!strcmp(v, "each"))
        n = 1;
    else if (!strcmp(v, "end"))
        n = SCRIPT_AUDIT_END;
    else if (isdigit((unsigned char)v[0]))
        n = strtoul(v, &end, 10);
    if (!n || errno || (end && *end) || (end && n == SCRIPT_AUDIT_END)) {
        fprintf(stderr, "pvmmu script: bad --audit value '%s' (expected each, end or a number of operations N >= 1)\n",
                v);
        return 2;
    }
    *every = n;
    return 0;
}

/* Are the oracle options one consistent run?  --xen and --baremetal are one run each; --xen-image is for
 * real Xen only and --dom0 for either.  Prints one line and returns false when they are not. */
static bool script_modes_agree(bool real_xen, bool image, bool dom0, const struct script_xen_opts *xo)
{
    const char *bad = real_xen && xo->baremetal ? "--xen and --baremetal are two runs: give one of them"
                    : image && !real_xen ? "--xen-image is for --xen only"
                    : dom0 && !real_xen && !xo->baremetal ? "--dom0 is for --xen or --baremetal only" : NULL;
    if (bad)
        fprintf(stderr, "pvmmu script: %s\n", bad);
    return !bad;
}

/*
 * The options of `pvmmu script` (argv[0..argc), up to the first file) into o and xo, and whether to run
 * on real Xen or the hypervisor (*xen).  Returns the index of the first file, or -1 after one error line.
 */
static int script_options(int argc, char **argv, struct script_opts *o, struct script_xen_opts *xo, bool *xen)
{
    int first = 0;
    bool real_xen = false, image = false, dom0 = false;
    for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
        const char *a = argv[first];
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            o->verbose = xo->verbose = true;
        else if (!strcmp(a, "--xen"))
            *xen = real_xen = true;
        else if (!strcmp(a, "--baremetal"))
            *xen = xo->baremetal = true;
        else if (!strncmp(a, "--audit=", 8) && parse_audit(a + 8, &o->audit_every))
            return -1;
        else if (!strncmp(a, "--audit=", 8))
            xo->audit_every = o->audit_every;
        else if ((!strcmp(a, "--xen-image") || !strcmp(a, "--dom0")) && first + 1 < argc) {
            *(a[2] == 'x' ? &image : &dom0) = true;
            *(a[2] == 'x' ? &xo->xen_image : &xo->dom0) = argv[++first];
        } else if (!strcmp(a, "--xen-image") || !strcmp(a, "--dom0")) {
            fprintf(stderr, "pvmmu script: %s expects a path\n", a);
            return -1;
        } else if (!strcmp(a, "--")) {
            first++;
            break;
        } else {
            fprintf(stderr, "pvmmu script: unknown option '%s' (expected -v, --audit=each|end|N, --xen, --baremetal, "
                            "--xen-image PATH, --dom0 PATH)\n", a);
            return -1;
        }
    }
    return script_modes_agree(real_xen, image, dom0, xo) ? first : -1;
}

/* Load and parse the n scripts at paths[] into s[] (NULL where one fails): 0, or 2 if any is bad or empty. */
static int load_scripts(char **paths, int n, struct script **s)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!(s[i] = script_load(paths[i], stderr))) {
            rc = 2;
        } else if (!script_steps(s[i])) {   /* nothing run is not a pass */
            fprintf(stderr, "%s: no steps to run (the file is empty, or holds only comments, blank lines and "
                            "a machine line)\n", paths[i]);
            rc = 2;
        }
    }
    return rc;
}

/* pvmmu script [OPTIONS] FILE...: each script on the simulator, or the differential (--xen, --baremetal). */
static int cmd_script(int argc, char **argv)
{
    struct script_opts o = { .verbose = false, .out = stdout };
    struct script_xen_opts xo = { .hv_image = baremetal_hv(), .xen_image = env_path("PVMMU_XEN", "build/xen-cache/xen"),
                                  .dom0 = baremetal_kernel(), .dom0_mib = 64,
                                  .timeout_s = 120, .out = stdout };
    bool xen = false;
    int first = script_options(argc, argv, &o, &xo, &xen);
    if (first < 0)
        return 2;
    if (first >= argc) {
        fprintf(stderr, "pvmmu script: expected at least one script file\n");
        return 2;
    }
    int n = argc - first;
    struct script **s = host_calloc((size_t)n, sizeof(*s), "the list of scripts");
    int rc = load_scripts(argv + first, n, s);
    if (xen && rc != 2)
        rc = script_xen(s, (size_t)n, &xo);
    for (int i = 0; i < n && rc != 2 && !xen; i++) {
        int r = script_run(s[i], &o);
        if (r > rc)
            rc = r;
    }
    for (int i = 0; i < n; i++)
        script_free(s[i]);
    free(s);
    return rc;
}

/* pvmmu replay [-v] TRACE: a record of a real guest on real Xen, replayed on the core. */
static int cmd_replay(int argc, char **argv)
{
    struct replay_opts o = { .out = stdout, .err = stderr };
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            o.verbose = true;
        } else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else {
            fprintf(stderr, "pvmmu replay: unknown option '%s' (expected -v)\n", argv[i]);
            return 2;
        }
    }
    if (argc - i != 1) {
        fprintf(stderr, "pvmmu replay: expected one record file (pvmmu-trace 2, docs/trace.md)%s\n",
                argc - i > 1 ? ", not several" : "");
        return 2;
    }
    return replay_run(argv[i], &o);
}

/* `pvmmu policies`: each policy's name, a tab and its summary, one per line, in compare's order. */
static void print_policies(void)
{
    for (int p = 0; p < POLICY_COUNT; p++)
        printf("%s\t%s\n", guest_policy_name((enum guest_policy)p), guest_policy_summary((enum guest_policy)p));
}

/* Run the command argv[1] names; its exit status. */
static int run_command(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "pvmmu: expected a command: boot, compare, script, replay, policies, version or help ('pvmmu help' "
                        "explains them)\n");
        return 2;
    }
    if (!strcmp(argv[1], "boot"))
        return cmd_boot(argc - 2, argv + 2);
    if (!strcmp(argv[1], "compare"))
        return cmd_compare(argc - 2, argv + 2);
    if (!strcmp(argv[1], "script"))
        return cmd_script(argc - 2, argv + 2);
    if (!strcmp(argv[1], "replay"))
        return cmd_replay(argc - 2, argv + 2);
    bool version = !strcmp(argv[1], "version") || !strcmp(argv[1], "--version");
    bool help = !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
    bool policies = !strcmp(argv[1], "policies");
    if ((version || help || policies) && argc > 2) {   /* they take nothing: an extra word is a mistake, not ignored */
        fprintf(stderr, "pvmmu %s: unknown argument '%s' (%s takes none)\n", argv[1], argv[2], argv[1]);
        return 2;
    }
    if (version) {
        printf("pvmmu %s\n", PVMMU_VERSION);
        return 0;
    }
    if (help) {
        usage(stdout);
        return 0;
    }
    if (policies) {
        print_policies();
        return 0;
    }
    fprintf(stderr, "pvmmu: unknown command '%s' (expected boot, compare, script, replay, policies, version or help)\n",
            argv[1]);
    return 2;
}

/*
 * Every command writes its report to stdout through stdio, whose error flag
 * sticks: flush and close stdout once, at the end, and if any write failed
 * (a full disk, a closed pipe) say so in one line.  Returns rc, or 2 after a
 * write error, since the report the exit status stands for was lost.
 */
static int close_stdout(int rc)
{
    bool earlier = ferror(stdout) != 0;
    errno = 0;
    int flushed = fflush(stdout);
    int err = errno;
    if (fclose(stdout) != 0 && !flushed && !(errno == EBADF && !earlier)) {
        flushed = EOF;
        err = errno;
    }
    if (!earlier && !flushed)
        return rc;
    if (err)
        fprintf(stderr, "pvmmu: cannot write standard output: %s\n", strerror(err));
    else
        fprintf(stderr, "pvmmu: cannot write standard output: an earlier write failed\n");
    return 2;
}

/*
 * Make sure descriptors 0, 1 and 2 are open before anything else opens a file
 * or a pipe: one that was closed (`pvmmu ... >&-`) would be taken by the next
 * open() or pipe(), and stdout or QEMU's input would land there.  A closed one
 * becomes /dev/null opened read-only, so a write to a closed stdout still
 * fails and close_stdout reports it.  Returns false if that is impossible.
 */
static bool std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int got = open("/dev/null", O_RDONLY);   /* the lowest free descriptor: fd itself */
        if (got != fd) {
            if (got >= 0)
                close(got);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    if (!std_fds_open()) {
        fprintf(stderr, "pvmmu: cannot open /dev/null in place of a closed standard stream: %s\n", strerror(errno));
        return 2;
    }
    return close_stdout(run_command(argc, argv));
}
