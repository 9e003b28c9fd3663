/* fmt.h - snprintf for freestanding code (see fmt.c). */
#ifndef PVMMU_FMT_H
#define PVMMU_FMT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * vsnprintf for %d %i %u %x %s %% with flags '#' '0', a width and the
 * l/ll/z length modifiers.  Always NUL-terminates when size > 0; returns the
 * length the full output would have.
 */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
