/*
 * rt.c - the four memory routines a C compiler may call on its own (struct
 * copies and zeroing), for freestanding links where no libc provides them.
 * Hosted builds take libc's and do not link this file.
 */
#include <stddef.h>

void *memset(void *s, int c, size_t n);
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memset(void *s, int c, size_t n)
{
    unsigned char *p = s;
    while (n--)
        *p++ = (unsigned char)c;
    return s;
}

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
    unsigned char *o = d;
    const unsigned char *i = s;
    while (n--)
        *o++ = *i++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *o = d;
    const unsigned char *i = s;
    if (o < i)
        while (n--)
            *o++ = *i++;
    else
        while (n--)
            o[n] = i[n];
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}
