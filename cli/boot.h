/* boot.h - `pvmmu boot` and `pvmmu compare`: run the guest under each policy on the simulator. */
#ifndef PVMMU_BOOT_H
#define PVMMU_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse a size like 512M, 8G, 1T, 64MiB or a byte count.  Returns 0, or -1 with a message in err. */
int parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

int cmd_boot(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif
