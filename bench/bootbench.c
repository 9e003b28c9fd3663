/*
 * bootbench - median wall time and peak RSS of `pvmmu boot` per guest size
 * and policy, measured on this machine in one run.
 *
 *   bootbench [--pvmmu PATH] [--repeat N] [--audit] [--policy NAME]... [SIZE...]
 *
 * Each boot runs as its own process, `pvmmu boot --no-audit` (or, with
 * --audit, `pvmmu boot` with its final audit), timed with CLOCK_MONOTONIC
 * from fork to exit; its peak RSS comes from wait4().  Prints a Markdown
 * table whose mode column says which was measured.
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* Run one boot; returns its exit status, or -1 if it could not run. */
static int run(const char *pvmmu, const char *size, const char *policy, bool audit, double *secs, long *rss_kib)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        if (audit)
            execl(pvmmu, pvmmu, "boot", "--mem", size, "--policy", policy, (char *)NULL);
        else
            execl(pvmmu, pvmmu, "boot", "--mem", size, "--policy", policy, "--no-audit", (char *)NULL);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    *secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    *rss_kib = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
    const char *pvmmu = "build/pvmmu", *policies[16];
    const char *sizes[32];
    int npol = 0, nsize = 0, repeat = 3;
    bool audit = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pvmmu") && i + 1 < argc)
            pvmmu = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--audit"))
            audit = true;
        else if (!strcmp(argv[i], "--policy") && i + 1 < argc && npol < 16)
            policies[npol++] = argv[++i];
        else if (argv[i][0] != '-' && nsize < 32)
            sizes[nsize++] = argv[i];
        else {
            fprintf(stderr, "usage: bootbench [--pvmmu PATH] [--repeat N] [--audit] [--policy NAME]... [SIZE...]\n");
            return 2;
        }
    }
    if (repeat < 1 || repeat > 99) {
        fprintf(stderr, "bootbench: --repeat must be 1..99\n");
        return 2;
    }
    if (access(pvmmu, X_OK)) {
        fprintf(stderr, "bootbench: %s is not an executable (run make first)\n", pvmmu);
        return 2;
    }
    if (!npol) {
        policies[npol++] = "batched";
        policies[npol++] = "linux-3.0";
        policies[npol++] = "linux-3.9";
    }
    if (!nsize) {
        static const char *def[] = { "1G", "4G", "16G", "64G", "256G", "1T" };
        for (int i = 0; i < 6; i++)
            sizes[nsize++] = def[i];
    }
    printf("| guest | policy | mode | median wall time (s) | median peak RSS (MiB) | runs |\n");
    printf("|---|---|---|---:|---:|---:|\n");
    for (int s = 0; s < nsize; s++)
        for (int p = 0; p < npol; p++) {
            double t[99];
            long r[99];
            for (int k = 0; k < repeat; k++) {
                int rc = run(pvmmu, sizes[s], policies[p], audit, &t[k], &r[k]);
                if (rc != 0) {
                    fprintf(stderr, "bootbench: pvmmu boot --mem %s --policy %s exited with %d\n", sizes[s],
                            policies[p], rc);
                    return 1;
                }
            }
            qsort(t, (size_t)repeat, sizeof(t[0]), cmp_double);
            qsort(r, (size_t)repeat, sizeof(r[0]), cmp_long);
            printf("| %s | %s | %s | %.2f | %.0f | %d |\n", sizes[s], policies[p], audit ? "audited" : "--no-audit",
                   t[repeat / 2], (double)r[repeat / 2] / 1024.0, repeat);
            fflush(stdout);
        }
    return 0;
}
