/* qemu.c - run a command with a deadline and collect its output (see qemu.h). */
#include "qemu.h"
#include "hostmem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* In the child: stdin on /dev/null, stdout and stderr on the pipe's write end fds[1], then argv.  Never returns. */
__attribute__((noreturn))
static void exec_child(char *const argv[], const int fds[2])
{
    int nul = open("/dev/null", O_RDONLY);   /* QEMU's -serial stdio must not read (or change) our terminal */
    if (nul >= 0) {
        dup2(nul, 0);
        close(nul);
    }
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv);
    fprintf(stderr, "\nexec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Start argv with its output on a pipe: its pid and the pipe's read end in *fd, or -1 with a message in err. */
static pid_t spawn(char *const argv[], int *fd, char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds)) {
        snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0)
        exec_child(argv, fds);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    *fd = fds[0];
    return pid;
}

/* What the child printed so far, and why reading stopped. */
struct capture {
    char *text;                   /* NUL-terminated once reading stops; NULL if the host refused memory */
    size_t len, cap;
    size_t failed;                /* the request the host refused */
    bool timed_out;
};

/* Room for one more read in c->text: false (text freed, c->failed set) if the host has no memory. */
static bool capture_room(struct capture *c)
{
    if (c->len + 4096 <= c->cap)
        return true;
    char *t = realloc(c->text, c->cap * 2);
    if (!t) {
        c->failed = c->cap * 2;
        free(c->text);
        c->text = NULL;
        return false;
    }
    c->text = t;
    c->cap *= 2;
    return true;
}

/* Read fd into c until its end, an error, or the deadline (c->timed_out). */
static void capture_until(struct capture *c, int fd, time_t deadline)
{
    c->cap = 1 << 16;
    c->text = malloc(c->cap);
    if (!c->text)
        c->failed = c->cap;
    while (c->text) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int left = (int)(deadline - time(NULL));
        if (left <= 0) {
            c->timed_out = true;
            break;
        }
        int pr = poll(&pfd, 1, left * 1000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            c->timed_out = pr == 0;
            break;
        }
        if (!capture_room(c))
            break;
        ssize_t n = read(fd, c->text + c->len, c->cap - c->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        c->len += (size_t)n;
    }
}

/* The result of qemu_run for a child that ended with status after printing text. */
static int exit_verdict(char *const argv[], int status, const char *text, char *err, size_t errlen)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && strstr(text, "\nexec ")) {
        snprintf(err, errlen, "cannot run %s (install it: scripts/deps.sh)", argv[0]);
        return -1;
    }
    if (!WIFEXITED(status)) {
        snprintf(err, errlen, "%s was killed by signal %d (%s)", argv[0], WTERMSIG(status), strsignal(WTERMSIG(status)));
        return -1;
    }
    return WEXITSTATUS(status);
}

int qemu_run(char *const argv[], unsigned int timeout_s, char **out, size_t *outlen, char *err, size_t errlen)
{
    int fd;
    *out = NULL;
    *outlen = 0;
    if (errlen)
        err[0] = 0;
    pid_t pid = spawn(argv, &fd, err, errlen);
    if (pid < 0)
        return -1;
    struct capture c = { 0 };
    capture_until(&c, fd, time(NULL) + timeout_s);
    close(fd);
    if (c.timed_out || !c.text)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!c.text)   /* QEMU is gone by now: nothing is left running */
        host_out_of_memory(c.failed, "QEMU's output");
    c.text[c.len] = 0;
    *out = c.text;
    *outlen = c.len;
    if (c.timed_out) {
        snprintf(err, errlen, "%s did not finish within %u s", argv[0], timeout_s);
        return -2;
    }
    return exit_verdict(argv, status, c.text, err, errlen);
}
