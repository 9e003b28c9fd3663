/* hostmem.c - sparse machine memory for the simulator (see hostmem.h). */
#include "hostmem.h"

#include <stdlib.h>
#include <string.h>

static uint64_t *hostmem_map(void *ctx, uint64_t mfn, int write)
{
    struct hostmem *h = ctx;
    if (mfn >= h->nr_frames)
        return NULL;
    if (!h->data[mfn] && write) {
        h->data[mfn] = calloc(L1_PAGETABLE_ENTRIES, sizeof(uint64_t));
        if (h->data[mfn])
            h->backed++;
    }
    return h->data[mfn];
}

static uint64_t hostmem_m2p_get(void *ctx, uint64_t mfn)
{
    const struct hostmem *h = ctx;
    return mfn < h->nr_frames ? h->m2p[mfn] : PVM_INVALID_M2P;
}

static void hostmem_m2p_set(void *ctx, uint64_t mfn, uint64_t gpfn)
{
    struct hostmem *h = ctx;
    if (mfn < h->nr_frames)
        h->m2p[mfn] = gpfn;
}

static void hostmem_log(void *ctx, const struct pvm_log_msg *msg)
{
    struct hostmem *h = ctx;
    char *slot = h->last_log[h->log_lines % 8];
    if (msg->domid == DOMID_INVALID)
        snprintf(slot, sizeof(h->last_log[0]), "(XEN) %s", msg->text);
    else
        snprintf(slot, sizeof(h->last_log[0]), "(XEN) d%uv%u %s", msg->domid, msg->vcpu, msg->text);
    h->log_lines++;
    if (h->log)
        fprintf(h->log, "%s%s\n", h->log_prefix ? h->log_prefix : "", slot);
}

int hostmem_init(struct hostmem *h, struct pvm_machine *m, uint64_t nr_frames)
{
    memset(h, 0, sizeof(*h));
    h->nr_frames = nr_frames;
    h->frames = calloc(nr_frames ? nr_frames : 1, sizeof(*h->frames));
    h->data = calloc(nr_frames ? nr_frames : 1, sizeof(*h->data));
    h->m2p = malloc((nr_frames ? nr_frames : 1) * sizeof(*h->m2p));
    if (!h->frames || !h->data || !h->m2p) {
        hostmem_free(h);
        return -1;
    }
    for (uint64_t i = 0; i < nr_frames; i++)
        h->m2p[i] = PVM_INVALID_M2P;
    struct pvm_ops ops = { .ctx = h, .map = hostmem_map, .log = hostmem_log,
                           .m2p_get = hostmem_m2p_get, .m2p_set = hostmem_m2p_set };
    pvm_init(m, h->frames, nr_frames, &ops);
    return 0;
}

void hostmem_free(struct hostmem *h)
{
    if (h->data)
        for (uint64_t i = 0; i < h->nr_frames; i++)
            free(h->data[i]);
    free(h->data);
    free(h->frames);
    free(h->m2p);
    h->data = NULL;
    h->frames = NULL;
    h->m2p = NULL;
}
