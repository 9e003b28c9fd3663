/*
 * script_xen.c - scenario scripts on real Xen: each script's steps that one
 * dom0 can express are compiled (compile.c, xenprog.h), run by our PV
 * kernel as dom0 of Debian's Xen 4.17 under QEMU, and run on the simulator
 * too, with the script's first domain as the control domain, as dom0 is.
 * Both sides skip the same steps, so both see the same state; every
 * compared step must give the same text (return code, done count, results
 * of a batch, an entry's stored value).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "explain.h"
#include "hostmem.h"
#include "script_int.h"
#include "script_xen.h"
#include "qemu.h"
#include "xenprog.h"

/* ---- QEMU ---- */

static char *module_arg(const char *dom0, const char *prog)
{
    size_t n = strlen(dom0) * 2 + strlen(prog) * 2 + 2;
    char *a = host_malloc(n, "QEMU's command line"), *q = a;
    for (const char *p = dom0; *p; p++)
        if ((*q++ = *p) == ',')
            *q++ = ',';
    *q++ = ',';
    for (const char *p = prog; *p; p++)
        if ((*q++ = *p) == ',')
            *q++ = ',';
    *q = 0;
    return a;
}

/* Who runs the program: for headers and messages. */
static const char *target_name(const struct script_xen_opts *o) { return o->baremetal ? "pvmmu's hypervisor" : "real Xen 4.17"; }
static const char *cmd_name(const struct script_xen_opts *o) { return o->baremetal ? "pvmmu script --baremetal" : "pvmmu script --xen"; }

/*
 * Boot Xen (or pvmmu's hypervisor) with dom0 and the program; collect the serial output.  Returns
 * QEMU's exit status, or -1 (with errno-style message in err) if it could
 * not be started or did not finish in time.
 */
static int boot_xen(const struct script_xen_opts *o, const char *prog, bool linear_pt, char **out, size_t *outlen,
                    char *err, size_t errlen)
{
    char append[256], mem[32];
    if (o->baremetal) {   /* our dom0 as pvmmu's one domain, privileged as Xen's dom0 is */
        snprintf(append, sizeof(append), "mem=%u privileged%s", o->dom0_mib, linear_pt ? "" : " linear_pt=off");
        snprintf(mem, sizeof(mem), "%uM", o->dom0_mib + 128);
    } else {
        snprintf(append, sizeof(append),
                 "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=%uM dom0_max_vcpus=1%s",
                 o->dom0_mib, linear_pt ? "" : " pv-linear-pt=false");
        snprintf(mem, sizeof(mem), "%uM", o->dom0_mib + 448);
    }
    char *mods = module_arg(o->dom0, prog);
    char *argv[] = { "qemu-system-x86_64", "-cpu", "max", "-m", mem, "-serial", "stdio", "-display", "none",
                     "-no-reboot", "-monitor", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel",
                     (char *)(o->baremetal ? o->hv_image : o->xen_image), "-initrd", mods, "-append", append, NULL };
    int rc = qemu_run(argv, o->timeout_s, out, outlen, err, errlen);
    free(mods);
    if (rc == -2)
        snprintf(err, errlen, "%s did not finish within %u s", target_name(o), o->timeout_s);
    return rc < 0 ? -1 : rc;
}

/* The line of a failed boot that says why: Xen's panic reason, the line before it, or our kernel's complaint. */
static const char *serial_reason(const char *text, char *buf, size_t n)
{
    const char *mine = strstr(text, "pvmmu dom0: bad program");
    const char *panic = strstr(text, "Panic on CPU");
    buf[0] = 0;
    if (mine || panic) {
        const char *p = mine ? mine : strchr(panic, '\n');
        if (p && !mine)
            p++;
        size_t k = 0;
        while (p && p[k] && p[k] != '\n' && p[k] != '\r' && k + 4 < n)
            k++;
        if (p)
            snprintf(buf, n, ": %.*s", (int)k, p);
    }
    if (!buf[0])
        snprintf(buf, n, " (run with -v for the serial output)");
    return buf;
}

/* Take "x SCEN LINE TEXT" lines into the scripts of this boot, in order. */
static void collect(char *text, struct xscript **grp, size_t ngrp)
{
    size_t *next = host_calloc(ngrp + 1, sizeof(*next), "the differential's state");
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        unsigned long sc, ln;
        int off = 0;
        if (sscanf(line, "x %lu %lu %n", &sc, &ln, &off) < 2 || !off || sc >= ngrp)
            continue;
        struct xscript *x = grp[sc];
        while (next[sc] < x->s->nsteps && x->plan[next[sc]] <= 0)
            next[sc]++;
        if (next[sc] >= x->s->nsteps || (unsigned long)x->s->steps[next[sc]].line != ln)
            continue;
        x->xen[next[sc]++] = host_strdup(line + off, "a step's result");
    }
    free(next);
}

/* The text of a script line, trimmed, in buf. */
static const char *source_line(const struct script *s, int line, char *buf, size_t n)
{
    const char *p = s->source, *end = s->source + s->source_len;
    for (int l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t k = 0;
    while (p < end && *p != '\n' && *p != '\r' && k + 1 < n)
        buf[k++] = *p++;
    buf[k] = 0;
    return buf;
}

/* rc=-22 reads better as rc=-EINVAL: rewrite every "rc=N" of a result for display. */
static const char *pretty(const char *t, char *buf, size_t n)
{
    size_t k = 0;
    if (!t)
        return "(no result)";
    while (*t && k + 24 < n) {
        if (!strncmp(t, "rc=", 3)) {
            char *e;
            long v = strtol(t + 3, &e, 10);
            k += (size_t)snprintf(buf + k, n - k, "rc=%s", xen_errno_name(v));
            t = e;
        } else {
            buf[k++] = *t++;
        }
    }
    buf[k] = 0;
    return buf;
}

/*
 * Read back a result text (xp_result_text) of step st into *r: the fields the
 * script's expectations look at.  Returns false if the text is not a result
 * of that step's kind (then it meets no expectation).
 */
static bool parse_result(const struct step *st, const char *t, struct xp_result *r)
{
    memset(r, 0, sizeof(*r));
    char *e;
    if (!strncmp(t, "dom0 could not link the script's tables: rc=", 45)) {
        r->link_rc = strtol(t + 45, &e, 10);
        return r->link_rc != 0;
    }
    if (st->kind == S_STORE || st->kind == S_LOAD) {
        r->access = !strcmp(t, "ok") ? XP_ACC_OK : !strcmp(t, "emulated") ? XP_ACC_EMULATED : XP_ACC_FAULT;
        if (st->kind == S_STORE)
            return !strcmp(t, "ok") || !strcmp(t, "emulated") || !strcmp(t, "#PF");
        if (!strcmp(t, "#PF"))
            return true;
        r->access = XP_ACC_OK;
    }
    if (st->kind == S_LOAD || st->kind == S_EXPECT_ENTRY) {
        if (strncmp(t, "val=", 4))
            return false;
        r->val = strtoull(t + 4, &e, 16);
        return e != t + 4 && !*e;
    }
    /* "rc=N[ done=N]", a multicall's followed by " [ENTRY; ENTRY ...]" */
    if (strncmp(t, "rc=", 3))
        return false;
    r->rc = strtol(t + 3, &e, 10);
    if (!strncmp(e, " done=", 6))
        r->done = (unsigned int)strtoul(e + 6, &e, 10);
    if (st->kind != S_MULTICALL || !*e)
        return !*e;
    if (strncmp(e, " [", 2))
        return false;
    for (e += 2; r->n < XP_MAX_BATCH && !strncmp(e, "rc=", 3); r->n++) {
        r->sub_rc[r->n] = strtol(e + 3, &e, 10);
        if (!strncmp(e, " done=", 6))
            r->sub_done[r->n] = (unsigned int)strtoul(e + 6, &e, 10);
        if (!strncmp(e, "; ", 2))
            e += 2;
    }
    return !strcmp(e, "]");
}

/*
 * Does the target's result of compared step i meet the script's expectations?  They apply where the step
 * gave the same result as dom0 on the simulator as in the script's own run (the skipped steps and dom0's
 * privilege changed nothing); elsewhere the target is held to the simulator only.  Returns true when
 * they hold or do not apply (*applies tells which), false with what was wrong in msg.
 */
static bool target_meets(const struct xscript *x, size_t i, bool *applies, char *msg, size_t n)
{
    const struct step *st = &x->s->steps[i];
    struct xp_result r;
    msg[0] = 0;
    *applies = x->own[i] && x->sim[i] && !strcmp(x->own[i], x->sim[i]);
    if (!*applies || !x->xen[i])
        return true;
    if (!parse_result(st, x->xen[i], &r)) {
        snprintf(msg, n, "unreadable result");
        return false;
    }
    return script_result_meets(st, &r, msg, n);
}

/* Count and print one script's steps: those that differ or miss the script's expectations (all with -v). */
static void report(const struct script_xen_opts *o, struct xscript *x)
{
    const struct script *s = x->s;
    FILE *out = o->out;
    bool header = false;
    for (size_t i = 0; i < s->nsteps; i++) {
        if (x->plan[i] < 0 && x->why[i] == K_ASSERT && !o->verbose)
            continue;
        if (x->plan[i] == 0)
            continue;
        bool same = x->plan[i] > 0 && x->sim[i] && x->xen[i] && !strcmp(x->sim[i], x->xen[i]);
        bool applies = false, meets = true;
        char msg[160] = "";
        if (x->plan[i] > 0) {
            x->compared++;
            if (same)
                x->agreed++;
            else if (!x->xen[i])
                x->missing++;
            else
                x->differed++;
            meets = target_meets(x, i, &applies, msg, sizeof(msg));
            x->checked += applies && x->xen[i];
            x->unmet += !meets;
            x->context += !applies;
        }
        if (!o->verbose && ((same && meets) || x->plan[i] < 0))
            continue;
        if (!header) {
            fprintf(out, "%s\n  %-5s %-44s %-30s %-30s\n", s->name, "line", "step", "simulator (as dom0)",
                    target_name(o));
            header = true;
        }
        char src[45], a[128], b[128], c[128];
        source_line(s, s->steps[i].line, src, sizeof(src));
        if (x->plan[i] < 0) {
            fprintf(out, "  %-5d %-44s SKIP: %s\n", s->steps[i].line, src, skip_text[x->why[i]]);
            continue;
        }
        fprintf(out, "  %-5d %-44s %-30s %-30s %s", s->steps[i].line, src, pretty(x->sim[i], a, sizeof(a)),
                pretty(x->xen[i], b, sizeof(b)), same ? "same" : "DIFFERENT");
        if (!meets)
            fprintf(out, "; FAIL on %s: %s", target_name(o), msg);
        else if (!applies)
            fprintf(out, " (the script's own run: %s)", pretty(x->own[i], c, sizeof(c)));
        fputc('\n', out);
    }
}

/* Is script i's verdict a pass: its expectations hold on every side, every compared step agrees? */
static bool script_ok(const struct xscript *x)
{
    return !x->own_failed && !x->dom0_failed && x->compared && x->agreed == x->compared && !x->unmet;
}

/*
 * A script that gives the target nothing to compare is not a differential: one line saying why (the
 * first operation skipped and its reason), for exit status 2.
 */
static void nothing_to_compare(const struct script_xen_opts *o, const struct xscript *x)
{
    const struct script *s = x->s;
    for (size_t i = 0; i < s->nsteps; i++)
        if (x->plan[i] < 0 && x->why[i] != K_ASSERT) {
            fprintf(stderr, "%s: nothing to compare on %s: no step can run there (line %d: %s)\n", s->name,
                    target_name(o), s->steps[i].line, skip_text[x->why[i]]);
            return;
        }
    fprintf(stderr, "%s: nothing to compare on %s: the script has no operation a guest can issue there, only "
                    "declarations and assertions on simulator state\n", s->name, target_name(o));
}

/* Does path start like an ELF file for x86 (EM_386 or EM_X86_64; with only64, an ELF64 for x86-64 only)? */
static bool elf_x86(const char *path, bool only64)
{
    unsigned char h[20];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(h, 1, sizeof(h), f) : 0;
    if (f)
        fclose(f);
    if (n < sizeof(h) || memcmp(h, "\177ELF", 4) || h[5] != 1 /* little-endian */)
        return false;
    unsigned int machine = h[18] | (unsigned int)h[19] << 8;
    if (only64)
        return h[4] == 2 && machine == 62;
    return (h[4] == 1 && machine == 3) || (h[4] == 2 && machine == 62);
}

/* The hypervisor image and our dom0 kernel exist and are x86 ELF images: 0, or 2 after one line. */
static int images_ok(const struct script_xen_opts *o)
{
    const char *image = o->baremetal ? o->hv_image : o->xen_image;
    if (access(image, R_OK) || access(o->dom0, R_OK)) {
        fprintf(stderr, "%s: %s not readable (build it with `make %s`)\n", cmd_name(o),
                access(image, R_OK) ? image : o->dom0,
                access(image, R_OK) ? (o->baremetal ? "build/baremetal/hv.bin" : "xen-smoke") : "build/xen/dom0.elf");
        return 2;
    }
    const char *what = NULL, *bad_path = NULL;
    if (!o->baremetal && !elf_x86(o->xen_image, false))
        what = "the Xen hypervisor (an x86 ELF image, as Debian's xen-hypervisor package installs it)", bad_path = o->xen_image;
    else if (!elf_x86(o->dom0, true))
        what = "the test dom0 (an x86-64 ELF kernel, build/xen/dom0.elf)", bad_path = o->dom0;
    if (what) {
        fprintf(stderr, "%s: %s is not %s\n", cmd_name(o), bad_path, what);
        return 2;
    }
    return 0;
}

/* Decide every script's steps; a script with too many frames or nothing to compare: 2 after one line. */
static int plan_all(const struct script_xen_opts *o, struct xscript *xs, struct script *const *scripts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long k = xscript_plan(&xs[i], scripts[i]);
        if (k < 0) {
            fprintf(stderr, "%s: more than %d frames for one domain\n", scripts[i]->name, XP_MAX_FRAMES);
            return 2;
        }
        if (!k) {
            nothing_to_compare(o, &xs[i]);
            return 2;
        }
    }
    return 0;
}

/* Each script as written, every expectation checked; then the steps dom0 can issue, as dom0.  0 or 2. */
static int run_on_simulator(const struct script_xen_opts *o, struct xscript *xs, struct script *const *scripts,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct script_opts own = { .out = o->out, .terse = true, .record = xscript_record, .record_ctx = &xs[i],
                                   .audit_every = o->audit_every };
        struct script_opts as0 = { .out = o->out, .plan = xs[i].plan, .record = xscript_record, .record_ctx = &xs[i],
                                   .privileged = xs[i].dom, .audit_every = o->audit_every };
        xs[i].rec = xs[i].own;
        int r = script_run(scripts[i], &own);
        xs[i].own_failed = r == 1;
        xs[i].rec = xs[i].sim;
        int r0 = r == 2 ? 2 : script_run(scripts[i], &as0);
        xs[i].dom0_failed = r0 == 1;
        if (r == 2 || r0 == 2)
            return 2;
    }
    return 0;
}

/*
 * The temporary program file while it exists: a SIGINT, SIGTERM or SIGHUP removes it before the
 * signal ends the process as it would have (unlink is async-signal-safe), so an interrupted run leaves
 * nothing behind.
 */
static char temp_program[512];
static volatile sig_atomic_t temp_program_set;

static void remove_temp_program(int sig)
{
    if (temp_program_set)
        unlink(temp_program);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Start (path) or stop (NULL) removing the temporary program on a terminating signal. */
static void guard_temp_program(const char *path)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    temp_program_set = 0;
    if (path)
        snprintf(temp_program, sizeof(temp_program), "%s", path);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], path ? remove_temp_program : SIG_DFL);
    temp_program_set = path != NULL;
}

/* Remove the temporary program and stop guarding it. */
static void drop_temp_program(void)
{
    if (temp_program_set)
        unlink(temp_program);
    guard_temp_program(NULL);
}

/* Write the compiled program to a new temporary file, its name in path: 0, or 2 after one line. */
static int write_program(const struct script_xen_opts *o, const struct buf *b, char *path, size_t pathlen)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/pvmmu-xenprog-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0)
        guard_temp_program(path);
    if (fd >= 0 && write(fd, b->p, b->len) == (ssize_t)b->len) {
        close(fd);
        return 0;
    }
    fprintf(stderr, "%s: cannot write the program: %s\n", cmd_name(o), strerror(errno));
    if (fd >= 0) {
        close(fd);
        drop_temp_program();
    }
    return 2;
}

/*
 * One boot of the target for the scripts whose pv-linear-pt setting is lin:
 * compile them into one program, run it, and collect each step's result.
 * 0 (also when no script wants this setting), or 2 after one line.
 */
static int run_config(const struct script_xen_opts *o, struct xscript *xs, size_t n, struct xscript **grp, int lin)
{
    struct buf b = { 0 };
    size_t ng = program_build(xs, n, grp, lin == 1, &b);
    if (!ng)
        return 0;
    char path[512];
    int rc = write_program(o, &b, path, sizeof(path));
    free(b.p);
    if (rc)
        return rc;
    char err[160] = "", *text = NULL;
    size_t len = 0;
    int q = boot_xen(o, path, lin == 1, &text, &len, err, sizeof(err));
    drop_temp_program();
    if (q != 33) {
        char why[200];
        fprintf(stderr, "%s: %s%s%s\n", cmd_name(o), q < 0 ? err : target_name(o), q < 0 ? "" : " did not run the whole program",
                text ? serial_reason(text, why, sizeof(why)) : "");
        if (text && o->verbose)   /* the whole story */
            fprintf(stderr, "---- serial output ----\n%s\n", text);
        free(text);
        return 2;
    }
    collect(text, grp, ng);
    free(text);
    return 0;
}

/* Each script's report, then the totals and the reasons for skipped steps.  0 all passed and agreed, or 1. */
static int summarize(const struct script_xen_opts *o, struct xscript *xs, size_t n)
{
    FILE *out = o->out;
    size_t compared = 0, agreed = 0, checked = 0, unmet = 0, context = 0, skipped[K_COUNT] = { 0 };
    size_t scripts_ok = 0, own_ok = 0;
    for (size_t i = 0; i < n; i++) {
        report(o, &xs[i]);
        compared += xs[i].compared;
        agreed += xs[i].agreed;
        checked += xs[i].checked;
        unmet += xs[i].unmet;
        context += xs[i].context;
        scripts_ok += script_ok(&xs[i]);
        own_ok += !xs[i].own_failed;
        for (size_t k = 0; k < xs[i].s->nsteps; k++)
            if (xs[i].plan[k] < 0)
                skipped[xs[i].why[k]]++;
    }
    size_t sk = 0;
    for (int k = K_OTHER_DOMAIN; k < K_COUNT; k++)
        sk += skipped[k];
    fprintf(out, "simulator: %zu of %zu scripts pass as written (every expectation, the auditor after every "
                 "step)\n", own_ok, n);
    char ctx[160] = "";
    if (context)
        snprintf(ctx, sizeof(ctx), " (%zu more give as dom0 another result than in the script's own run: "
                                   "compared only)", context);
    fprintf(out, "%s: %zu of %zu scripts pass and agree; %zu of %zu steps compared agree; %zu of %zu meet the "
                 "script's expectations%s; %zu skipped, %zu assertions on simulator state not comparable\n",
            target_name(o), scripts_ok, n, agreed, compared, checked - unmet, checked, ctx, sk, skipped[K_ASSERT]);
    for (int k = K_OTHER_DOMAIN; k < K_COUNT; k++)
        if (skipped[k])
            fprintf(out, "  skipped %4zu: %s\n", skipped[k], skip_text[k]);
    return scripts_ok == n ? 0 : 1;
}

int script_xen(struct script *const *scripts, size_t n, const struct script_xen_opts *o)
{
    int rc = images_ok(o);
    if (rc)
        return rc;
    struct xscript *xs = host_calloc(n + 1, sizeof(*xs), "the differential's state");
    struct xscript **grp = host_calloc(n + 1, sizeof(*grp), "the differential's state");
    rc = plan_all(o, xs, scripts, n);
    if (!rc)
        rc = run_on_simulator(o, xs, scripts, n);
    /* One boot per Xen configuration: pv-linear-pt on, and off for scripts that turn it off. */
    for (int lin = 1; lin >= 0 && !rc; lin--)
        rc = run_config(o, xs, n, grp, lin);
    if (!rc)
        rc = summarize(o, xs, n);
    for (size_t i = 0; i < n; i++)
        if (xs[i].s)
            xscript_free(&xs[i]);
    free(xs);
    free(grp);
    return rc;
}
