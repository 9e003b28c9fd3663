/*
 * memblock.c - Linux's early memory allocator, top-down: RAM regions, reserved
 * regions, and first fit from the highest free address downwards.
 */
#include "kernel.h"

void memblock_add(struct kernel *k, uint64_t base, uint64_t size)
{
    if (k->nmem < MB_MAX)
        k->mem[k->nmem++] = (struct mb_region){ base, size };
}

/* Reserve [base, base+size), keeping the list sorted and merged. */
void memblock_reserve(struct kernel *k, uint64_t base, uint64_t size)
{
    uint64_t end = base + size;
    unsigned int i = 0, j;
    if (!size)
        return;
    while (i < k->nres && k->res[i].base + k->res[i].size < base)
        i++;
    /* merge every region overlapping or touching [base, end) */
    j = i;
    while (j < k->nres && k->res[j].base <= end) {
        if (k->res[j].base < base)
            base = k->res[j].base;
        if (k->res[j].base + k->res[j].size > end)
            end = k->res[j].base + k->res[j].size;
        j++;
    }
    unsigned int removed = j - i;
    if (removed == 0) {
        if (k->nres == MB_MAX) {
            k->mb_full = true;   /* never lose a reservation silently */
            return;
        }
        for (unsigned int n = k->nres; n > i; n--)
            k->res[n] = k->res[n - 1];
        k->nres++;
    } else {
        for (unsigned int n = i + 1; n + removed - 1 < k->nres; n++)
            k->res[n] = k->res[n + removed - 1];
        k->nres -= removed - 1;
    }
    k->res[i] = (struct mb_region){ base, end - base };
}

static uint64_t align_down(uint64_t x, uint64_t a) { return x & ~(a - 1); }

/* The highest aligned, nonzero start of `size` bytes inside the free gap [lo, top); 0 if none fits. */
static uint64_t fit_top(uint64_t lo, uint64_t top, uint64_t size, uint64_t align)
{
    if (top <= lo || top - lo < size)
        return 0;
    uint64_t cand = align_down(top - size, align);
    return cand >= lo ? cand : 0;
}

/*
 * Highest aligned block of `size` bytes inside [start, end) that is RAM and
 * not reserved, or 0 if none (0 is never free: the kernel lives there).
 */
uint64_t memblock_find_in_range(struct kernel *k, uint64_t start, uint64_t end, uint64_t size, uint64_t align)
{
    if (k->mb_full) {
        kernel_panic(k, "memblock: too many reserved regions");
        return 0;
    }
    for (unsigned int m = k->nmem; m-- > 0;) {
        uint64_t lo = k->mem[m].base, top = k->mem[m].base + k->mem[m].size;
        if (lo < start)
            lo = start;
        if (top > end)
            top = end;
        /* the free gaps of [lo, top), highest first: above each reservation, then below the lowest */
        for (unsigned int r = k->nres; r-- > 0 && top > lo;) {
            uint64_t rlo = k->res[r].base, rhi = rlo + k->res[r].size;
            if (rlo >= top)
                continue;
            uint64_t gap_lo = rhi > lo ? rhi : lo;
            uint64_t cand = fit_top(gap_lo, top, size, align);
            if (cand)
                return cand;
            top = rlo;
        }
        uint64_t cand = fit_top(lo, top, size, align);
        if (cand)
            return cand;
    }
    return 0;
}

/* memblock_alloc: find below current_limit and reserve; 0 on failure. */
uint64_t memblock_alloc(struct kernel *k, uint64_t size)
{
    uint64_t a = memblock_find_in_range(k, 0, k->current_limit, size, XEN_PAGE_SIZE);
    if (a)
        memblock_reserve(k, a, size);
    return a;
}

/* Bytes of RAM in [start, end) that are not reserved. */
uint64_t memblock_free_bytes(struct kernel *k, uint64_t start, uint64_t end)
{
    uint64_t total = 0;
    for (unsigned int m = 0; m < k->nmem; m++) {
        uint64_t lo = k->mem[m].base > start ? k->mem[m].base : start;
        uint64_t hi = k->mem[m].base + k->mem[m].size < end ? k->mem[m].base + k->mem[m].size : end;
        if (hi <= lo)
            continue;
        total += hi - lo;
        for (unsigned int r = 0; r < k->nres; r++) {
            uint64_t rlo = k->res[r].base > lo ? k->res[r].base : lo;
            uint64_t rhi = k->res[r].base + k->res[r].size < hi ? k->res[r].base + k->res[r].size : hi;
            if (rhi > rlo)
                total -= rhi - rlo;
        }
    }
    return total;
}

/* Is the byte at addr inside a reserved region? */
bool memblock_is_reserved(const struct kernel *k, uint64_t addr)
{
    unsigned int lo = 0, hi = k->nres;
    while (lo < hi) {
        unsigned int mid = (lo + hi) / 2;
        if (addr < k->res[mid].base)
            hi = mid;
        else if (addr >= k->res[mid].base + k->res[mid].size)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}
