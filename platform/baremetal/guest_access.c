/*
 * guest_access.c - guest memory from the hypervisor, as Xen's
 * copy_from_guest/copy_to_guest: every guest address is range-checked
 * against the guest's half of the address space, and the copy runs under
 * hv_guarded so a fault (a page the guest has not mapped) returns -EFAULT
 * instead of stopping the hypervisor.  The core's guest handles (arrays,
 * done counts, vCPU masks, multicall lists) come through here too.
 */
#include "hv.h"

#define USER_END (1ULL << 47)   /* the end of the lower canonical half */

/*
 * As Xen's __addr_ok/guest_handle_okay: canonical, not wrapping, and outside
 * the hypervisor's range (L4 slots 256-271, which hold its direct map, the
 * M2P and the linear page tables).
 */
bool guest_range_ok(uint64_t va, uint64_t n)
{
    if (n == 0)
        return va < USER_END || va >= HYPERVISOR_VIRT_END;
    uint64_t last = va + n - 1;
    if (last < va)
        return false;
    return last < USER_END || va >= HYPERVISOR_VIRT_END;
}

struct copy {
    volatile uint8_t *dst;
    const volatile uint8_t *src;
    uint64_t n;
};

/* hv_guarded's callee: the byte copy a guest fault may cut short. */
static long do_copy(void *arg)
{
    struct copy *c = arg;
    for (uint64_t i = 0; i < c->n; i++)
        c->dst[i] = c->src[i];
    return 0;
}

long copy_from_guest(void *dst, uint64_t gva, uint64_t n)
{
    if (!guest_range_ok(gva, n))
        return -XEN_EFAULT;
    struct copy c = { dst, (const volatile uint8_t *)(uintptr_t)gva, n };
    return hv_guarded(do_copy, &c);
}

long copy_to_guest(uint64_t gva, const void *src, uint64_t n)
{
    if (!guest_range_ok(gva, n))
        return -XEN_EFAULT;
    struct copy c = { (volatile uint8_t *)(uintptr_t)gva, src, n };
    return hv_guarded(do_copy, &c);
}

int op_copy_from_guest(void *ctx, const struct pvm_vcpu *v, void *dst, uint64_t gaddr, size_t len)
{
    (void)ctx;
    (void)v;
    return copy_from_guest(dst, gaddr, len) ? -1 : 0;
}

int op_copy_to_guest(void *ctx, const struct pvm_vcpu *v, uint64_t gaddr, const void *src, size_t len)
{
    (void)ctx;
    (void)v;
    return copy_to_guest(gaddr, src, len) ? -1 : 0;
}
