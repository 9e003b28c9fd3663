/*
 * fmt.c - a small printf for freestanding code (core/ and guest/ share it):
 * no libc, no allocation.
 */
#include "fmt.h"

#include <stdbool.h>
#include <stdint.h>

struct out {
    char *buf;
    size_t size, len;
};

static void put_char(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, unsigned long long v, unsigned int base, bool neg, bool alt,
                    bool zero, int width)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned int d = (unsigned int)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    int prefix = neg ? 1 : (alt && base == 16 ? 2 : 0);
    int pad = width - n - prefix;
    if (!zero)
        for (; pad > 0; pad--)
            put_char(o, ' ');
    if (neg)
        put_char(o, '-');
    else if (prefix == 2) {
        put_char(o, '0');
        put_char(o, 'x');
    }
    for (; pad > 0; pad--)
        put_char(o, '0');
    while (n)
        put_char(o, tmp[--n]);
}

/*
 * vsnprintf for %d %i %u %x %s %% with flags '#' '0', a width and the
 * l/ll/z length modifiers.  Always NUL-terminates when size > 0; returns the
 * length the full output would have.
 */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put_char(&o, *p);
            continue;
        }
        bool alt = false, zero = false;
        int width = 0, lng = 0;
        for (p++;; p++) {
            if (*p == '#')
                alt = true;
            else if (*p == '0')
                zero = true;
            else
                break;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') {
            lng++;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            put_num(&o, u, 10, v < 0, false, zero, width);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
            put_num(&o, v, *p == 'u' ? 10 : 16, false, alt && v != 0, zero, width);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = 0;
            while (s[n])
                n++;
            for (int pad = width - n; pad > 0; pad--)
                put_char(&o, ' ');
            while (*s)
                put_char(&o, *s++);
            break;
        }
        case '%':
            put_char(&o, '%');
            break;
        default:
            put_char(&o, '%');
            if (!*p)
                p--;
            else
                put_char(&o, *p);
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

