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

int qemu_run(char *const argv[], unsigned int timeout_s, char **out, size_t *outlen, char *err, size_t errlen)
{
    int fds[2];
    *out = NULL;
    *outlen = 0;
    if (errlen)
        err[0] = 0;
    if (pipe(fds)) {
        snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
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
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0, failed = 0;   /* failed: the request the host refused */
    char *text = malloc(cap);
    if (!text)
        failed = cap;
    time_t deadline = time(NULL) + timeout_s;
    bool timed_out = false;
    while (text) {
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        int left = (int)(deadline - time(NULL));
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int pr = poll(&pfd, 1, left * 1000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        if (len + 4096 > cap) {
            char *t = realloc(text, cap * 2);
            if (!t) {
                failed = cap * 2;
                free(text);
                text = NULL;
                break;
            }
            text = t;
            cap *= 2;
        }
        ssize_t n = read(fds[0], text + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fds[0]);
    if (timed_out || !text)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!text)   /* QEMU is gone by now: nothing is left running */
        host_out_of_memory(failed, "QEMU's output");
    text[len] = 0;
    *out = text;
    *outlen = len;
    if (timed_out) {
        snprintf(err, errlen, "%s did not finish within %u s", argv[0], timeout_s);
        return -2;
    }
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
