/* hostmem.c - sparse machine memory for the simulator (see hostmem.h). */
#include "hostmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLAB_PAGES 16384   /* 64 MiB of page storage per slab, zeroed lazily by the OS */

struct hostmem_slab {
    struct hostmem_slab *next;
    uint64_t used, size;
    uint64_t (*pages)[512];
};

/*
 * Storage for one more frame: the next page of the current slab, or a new
 * slab.  A slab the host will not give is tried again at half the size, down
 * to one page (a tight address-space limit may still leave room for that);
 * a page it will not give ends the run (host_out_of_memory).
 */
static uint64_t *page_alloc(struct hostmem *h)
{
    struct hostmem_slab *s = h->slabs;
    if (!s || s->used == s->size) {
        s = host_calloc(1, sizeof(*s), "a slab of frame contents");
        /* a small machine (tests, fuzzing) needs no more than its own size */
        for (s->size = h->nr_frames < SLAB_PAGES ? h->nr_frames : SLAB_PAGES;
             !(s->pages = calloc(s->size, sizeof(*s->pages))); s->size /= 2)
            if (s->size == 1)
                host_out_of_memory(sizeof(*s->pages), "a frame's contents");
        s->next = h->slabs;
        h->slabs = s;
    }
    h->backed++;
    return s->pages[s->used++];
}

/* Where frame mfn's page pointer lives, its chunk allocated if need be. */
static uint64_t **slot_of(struct hostmem *h, uint64_t mfn)
{
    uint64_t **c = h->chunk[mfn >> 9];
    if (!c)
        c = h->chunk[mfn >> 9] = host_calloc(512, sizeof(*c), "the page index of 512 frames");
    return &c[mfn & 511];
}

/* Give frame mfn real storage (filled by the generator if it is a generated frame). */
static uint64_t *fresh_page(struct hostmem *h, uint64_t mfn, bool generated)
{
    uint64_t **slot = slot_of(h, mfn);
    *slot = page_alloc(h);
    if (generated) {
        h->gen(h->gen_ctx, mfn, *slot);
        h->gen_real++;
    }
    if (h->gen_mfn == mfn)
        h->gen_mfn = ~0ULL;
    return *slot;
}

static uint64_t *hostmem_map(void *ctx, uint64_t mfn, int write)
{
    struct hostmem *h = ctx;
    if (mfn >= h->nr_frames)
        return NULL;
    uint64_t *page = hostmem_peek(h, mfn);
    if (page)
        return page;
    bool generated = h->gen && h->gen(h->gen_ctx, mfn, NULL);
    if (!write && !generated)
        return NULL;
    return fresh_page(h, mfn, generated);
}

static uint64_t hostmem_read(void *ctx, uint64_t mfn, unsigned int idx)
{
    struct hostmem *h = ctx;
    if (mfn >= h->nr_frames)
        return 0;
    uint64_t *page = hostmem_peek(h, mfn);
    if (page)
        return page[idx];
    if (h->gen_mfn != mfn) {
        if (!h->gen || !h->gen(h->gen_ctx, mfn, NULL))
            return 0;
        h->gen(h->gen_ctx, mfn, h->gen_page);
        h->gen_mfn = mfn;
    }
    return h->gen_page[idx];
}

/* ---- the M2P: formula plus an open-addressing table of exceptions ---- */

static size_t m2p_find(const struct hostmem *h, uint64_t mfn)
{
    size_t i = (size_t)(mfn * 0x9E3779B97F4A7C15ULL) & (h->m2p_cap - 1);
    while (h->m2p_keys[i] != ~0ULL && h->m2p_keys[i] != mfn)
        i = (i + 1) & (h->m2p_cap - 1);
    return i;
}

static uint64_t m2p_formula(const struct hostmem *h, uint64_t mfn)
{
    return h->m2p_default ? h->m2p_default(h->m2p_ctx, mfn) : PVM_INVALID_M2P;
}

static uint64_t hostmem_m2p_get(void *ctx, uint64_t mfn)
{
    const struct hostmem *h = ctx;
    if (mfn >= h->nr_frames)
        return PVM_INVALID_M2P;
    if (h->m2p_used) {
        size_t i = m2p_find(h, mfn);
        if (h->m2p_keys[i] == mfn)
            return h->m2p_vals[i];
    }
    return m2p_formula(h, mfn);
}

/* Double the table of M2P exceptions (1024 entries the first time); no memory ends the run. */
static void m2p_grow(struct hostmem *h)
{
    size_t cap = h->m2p_cap ? h->m2p_cap * 2 : 1024;
    uint64_t *ok = h->m2p_keys, *ov = h->m2p_vals;
    size_t ocap = h->m2p_cap;
    h->m2p_keys = host_malloc(cap * sizeof(uint64_t), "the M2P exceptions");
    h->m2p_vals = host_malloc(cap * sizeof(uint64_t), "the M2P exceptions");
    memset(h->m2p_keys, 0xFF, cap * sizeof(uint64_t));
    h->m2p_cap = cap;
    h->m2p_used = 0;
    for (size_t i = 0; i < ocap; i++)
        if (ok[i] != ~0ULL) {
            size_t j = m2p_find(h, ok[i]);
            h->m2p_keys[j] = ok[i];
            h->m2p_vals[j] = ov[i];
            h->m2p_used++;
        }
    free(ok);
    free(ov);
}

static void hostmem_m2p_set(void *ctx, uint64_t mfn, uint64_t gpfn)
{
    struct hostmem *h = ctx;
    if (mfn >= h->nr_frames)
        return;
    bool is_default = gpfn == m2p_formula(h, mfn);
    if (h->m2p_used) {
        size_t i = m2p_find(h, mfn);
        if (h->m2p_keys[i] == mfn) {
            h->m2p_vals[i] = gpfn;   /* an exception equal to the formula is harmless */
            return;
        }
    }
    if (is_default)
        return;
    if ((h->m2p_used + 1) * 2 > h->m2p_cap)
        m2p_grow(h);
    size_t i = m2p_find(h, mfn);
    h->m2p_keys[i] = mfn;
    h->m2p_vals[i] = gpfn;
    h->m2p_used++;
}

static void hostmem_log(void *ctx, const struct pvm_log_msg *msg)
{
    struct hostmem *h = ctx;
    char *slot = h->last_log[h->log_lines % HOSTMEM_LOG_KEEP];
    if (msg->domid == DOMID_INVALID)
        snprintf(slot, sizeof(h->last_log[0]), "(XEN) %s", msg->text);
    else
        snprintf(slot, sizeof(h->last_log[0]), "(XEN) d%uv%u %s", msg->domid, msg->vcpu, msg->text);
    h->log_lines++;
    if (h->log)
        fprintf(h->log, "%s%s\n", h->log_prefix ? h->log_prefix : "", slot);
}

int hostmem_guest_view(struct hostmem *h, const void *p, size_t len)
{
    if (h->nviews == h->views_cap) {
        size_t cap = h->views_cap ? 2 * h->views_cap : 16;
        struct hostmem_view *v = realloc(h->views, cap * sizeof(*v));
        if (!v)
            return -1;
        h->views = v;
        h->views_cap = cap;
    }
    h->views[h->nviews++] = (struct hostmem_view){ (uintptr_t)p, len };
    return 0;
}

void hostmem_guest_views_clear(struct hostmem *h)
{
    h->nviews = 0;
}

/* The host address of guest range [gaddr, gaddr + len), or NULL if it is not guest memory. */
static void *guest_range(const struct hostmem *h, uint64_t gaddr, size_t len)
{
    if (gaddr + len < gaddr || gaddr > UINTPTR_MAX - len)
        return NULL;
    if (h->guest_is_host)
        return gaddr >= 4096 ? (void *)(uintptr_t)gaddr : NULL;
    for (size_t i = 0; i < h->nviews; i++)
        if (gaddr >= h->views[i].base && len <= h->views[i].len && gaddr - h->views[i].base <= h->views[i].len - len)
            return (void *)(uintptr_t)gaddr;
    return NULL;
}

static int hostmem_copy_from_guest(void *ctx, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t len)
{
    (void)v;
    const void *src = guest_range(ctx, gaddr, len);
    if (!src)
        return -1;
    memcpy(dst, src, len);
    return 0;
}

static int hostmem_copy_to_guest(void *ctx, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t len)
{
    (void)v;
    void *dst = guest_range(ctx, gaddr, len);
    if (!dst)
        return -1;
    memcpy(dst, src, len);
    return 0;
}

/* The core found one of its invariants broken: nothing it says afterwards can be believed. */
static void hostmem_bug(void *ctx, const char *file, unsigned int line, const char *what)
{
    (void)ctx;
    fflush(stdout);
    fprintf(stderr, "pvmmu: internal error: core BUG at %s:%u: %s\n", file, line, what);
    exit(3);
}

int hostmem_init(struct hostmem *h, struct pvm_machine *m, uint64_t nr_frames)
{
    memset(h, 0, sizeof(*h));
    h->nr_frames = nr_frames;
    h->gen_mfn = ~0ULL;
    h->frames = host_calloc(nr_frames ? nr_frames : 1, sizeof(*h->frames), "the frame table");
    h->chunk = host_calloc((nr_frames + 511) / 512 + 1, sizeof(*h->chunk), "the page index");
    m2p_grow(h);
    struct pvm_ops ops = { .ctx = h, .map = hostmem_map, .read = hostmem_read, .log = hostmem_log,
                           .m2p_get = hostmem_m2p_get, .m2p_set = hostmem_m2p_set, .bug = hostmem_bug,
                           .copy_from_guest = hostmem_copy_from_guest, .copy_to_guest = hostmem_copy_to_guest };
    pvm_init(m, h->frames, nr_frames, &ops);
    return 0;
}

uint64_t *hostmem_page(struct hostmem *h, uint64_t mfn)
{
    return hostmem_map(h, mfn, 1);
}

uint64_t hostmem_bytes(const struct hostmem *h)
{
    return h->backed * XEN_PAGE_SIZE;
}

void hostmem_free(struct hostmem *h)
{
    if (h->chunk)
        for (uint64_t i = 0; i < (h->nr_frames + 511) / 512 + 1; i++)
            free(h->chunk[i]);
    while (h->slabs) {
        struct hostmem_slab *s = h->slabs;
        h->slabs = s->next;
        free(s->pages);
        free(s);
    }
    free(h->chunk);
    free(h->frames);
    free(h->views);
    h->views = NULL;
    h->nviews = h->views_cap = 0;
    free(h->m2p_keys);
    free(h->m2p_vals);
    h->chunk = NULL;
    h->frames = NULL;
    h->m2p_keys = h->m2p_vals = NULL;
}

/* ---- host allocations ---- */

_Noreturn void host_out_of_memory(size_t bytes, const char *what)
{
    if (isatty(2))
        fprintf(stderr, "\r%78s\r", "");   /* a progress line may be showing */
    char mib[32] = "";
    if (bytes >= 1 << 20)
        snprintf(mib, sizeof(mib), " (%.1f MiB)", (double)bytes / (1 << 20));
    fprintf(stderr, "pvmmu: out of host memory: %zu bytes%s for %s could not be allocated "
                    "(exit status %d; give the process more memory or choose a smaller machine)\n",
            bytes, mib, what, PVMMU_EXIT_OOM);
    exit(PVMMU_EXIT_OOM);
}

void *host_malloc(size_t bytes, const char *what)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        host_out_of_memory(bytes, what);
    return p;
}

void *host_calloc(size_t n, size_t size, const char *what)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        host_out_of_memory(SIZE_MAX, what);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        host_out_of_memory(bytes, what);
    return p;
}

void *host_realloc(void *p, size_t bytes, const char *what)
{
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q)
        host_out_of_memory(bytes, what);
    return q;
}

char *host_strdup(const char *s, const char *what)
{
    size_t n = strlen(s) + 1;
    return memcpy(host_malloc(n, what), s, n);
}
