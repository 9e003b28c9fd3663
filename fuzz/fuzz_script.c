/*
 * fuzz_script.c - libFuzzer (and AFL++) harness for scenario scripts.
 *
 * Any bytes: the parser must either accept them or print exactly one line
 * saying why, never crash or leak.  An accepted script is run (the auditor
 * after every step) with its output discarded; a machine larger than 65536
 * frames is parsed but not run, to keep each input fast.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"
#include "script_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = NULL;
    size_t msglen = 0;
    FILE *err = open_memstream(&msg, &msglen);
    if (!err)
        abort();
    struct script *s = script_parse("fuzz.pvm", (const char *)data, size, err);
    fclose(err);
    size_t lines = 0;
    for (size_t i = 0; i < msglen; i++)
        lines += msg[i] == '\n';
    if (s ? msglen != 0 : lines != 1 || strncmp(msg, "fuzz.pvm:", 9)) {
        fprintf(stderr, "fuzz_script: %s with %zu line(s) of message:\n%s\n", s ? "accepted" : "refused", lines,
                msg ? msg : "");
        abort();
    }
    free(msg);
    if (s && s->nr_frames <= 65536) {
        FILE *out = fopen("/dev/null", "w");
        if (!out)
            abort();
        struct script_opts o = { .verbose = false, .out = out };
        script_run(s, &o);
        fclose(out);
    }
    script_free(s);
    return 0;
}
