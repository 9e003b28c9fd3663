/* qemu.h - run QEMU (or any command) to completion and keep everything it printed. */
#ifndef PVMMU_QEMU_H
#define PVMMU_QEMU_H

#include <stddef.h>

/*
 * Run argv[0] (looked up in PATH) with stdout and stderr captured, for at
 * most timeout_s seconds.  Returns its exit status with *out (malloc'd,
 * NUL-terminated, *outlen bytes; the caller frees it), or -1 with a message
 * in err (could not start, argv[0] not installed, killed by a signal), or -2
 * with a message in err if it was killed at the deadline (*out still holds
 * what it printed).  err is always a string, empty when nothing went wrong.
 * Runs out of host memory through host_out_of_memory (exit 3).
 */
int qemu_run(char *const argv[], unsigned int timeout_s, char **out, size_t *outlen, char *err, size_t errlen);

#endif
