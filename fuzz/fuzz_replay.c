/*
 * fuzz_replay.c - libFuzzer harness for pvmmu replay (oracle/replay.h): any
 * bytes as a record.  The replay must accept it (exit 0 or 1: agreement or a
 * disagreement, both printed on its report) or refuse it with exactly one
 * line on the error stream and nothing on the report (exit 2); never crash,
 * leak, or break the core's invariants.  A machine line of more than 65536
 * frames is left alone, to keep each input fast.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does the input name a machine of more than 65536 frames (a "machine N" line with N above 10000 hex)? */
static int too_big(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 8 <= size; i++)
        if ((i == 0 || data[i - 1] == '\n') && !memcmp(data + i, "machine ", 8)) {
            size_t k = i + 8, digits = 0;
            while (k < size && data[k] == '0')
                k++;
            while (k + digits < size && ((data[k + digits] >= '0' && data[k + digits] <= '9') ||
                                         (data[k + digits] >= 'a' && data[k + digits] <= 'f')))
                digits++;
            if (digits > 5 || (digits == 5 && data[k] > '1'))
                return 1;
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (too_big(data, size))
        return 0;
    char path[] = "/tmp/pvmmu-fuzz-replay-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    if (write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    char *out = NULL, *err = NULL;
    size_t outlen = 0, errlen = 0;
    FILE *fo = open_memstream(&out, &outlen), *fe = open_memstream(&err, &errlen);
    if (!fo || !fe)
        abort();
    struct replay_opts o = { .out = fo, .err = fe };
    int rc = replay_run(path, &o);
    fclose(fo);
    fclose(fe);
    unlink(path);
    size_t lines = 0;
    for (size_t i = 0; i < errlen; i++)
        lines += err[i] == '\n';
    if (rc < 0 || rc > 2 || (rc == 2 && (lines != 1 || outlen)) || (rc != 2 && errlen)) {
        fprintf(stderr, "replay exit %d, %zu error line(s), %zu bytes of report:\n%s", rc, lines, outlen, err);
        abort();
    }
    free(out);
    free(err);
    return 0;
}
