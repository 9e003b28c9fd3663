/*
 * events.c - time and events for a PV kernel, as Xen gives them: system
 * time from the TSC (vcpu_time_info, Xen's pvclock), the wallclock, the
 * vCPU's timers (a 100 Hz periodic one until the guest stops it, a
 * singleshot one) driven by the local APIC's one-shot timer, 2-level event
 * channels (VIRQs, IPIs, unbound ports; FIFO's init_control is refused, so
 * the guest falls back to 2-level), the upcall into the guest's event
 * callback whenever an event is pending and unmasked, blocking until an
 * event, and the guest's shutdown, which ends the run.
 */
#include "hv.h"

/* ---- time ---- */

#define PIT_CH2     0x42
#define PIT_CMD     0x43
#define PIT_GATE    0x61
#define PIT_HZ      1193182ULL
#define CAL_MS      10
#define XEN_PVCLOCK_TSC_STABLE_BIT 1
#define NSEC        1000000000ULL
#define PERIODIC_NS 10000000ULL   /* Xen's default periodic timer for a PV vCPU: 100 Hz */

/* The local APIC, through the direct map, and its timer registers. */
#define LAPIC_BASE     0xfee00000ULL
#define LAPIC_EOI      0x0b0
#define LAPIC_SVR      0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3e0

static uint64_t tsc_hz, tsc_at_zero, lapic_hz;
static uint32_t tsc_mul;
static int8_t tsc_shift;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static volatile uint32_t *lapic(unsigned int reg) { return (volatile uint32_t *)dm(LAPIC_BASE + reg); }

/* System time in ns since the hypervisor's start, as the guest computes it from its vcpu_time_info. */
uint64_t system_time(void)
{
    uint64_t d = rdtsc() - tsc_at_zero;
    d = tsc_shift >= 0 ? d << tsc_shift : d >> -tsc_shift;
    return (uint64_t)(((unsigned __int128)d * tsc_mul) >> 32);
}

/* Linux's and Xen's pvclock scale: ns = ((tsc delta << shift, or >> -shift) * mul) >> 32, mul < 2^32. */
static void tsc_scale(uint64_t hz, uint32_t *mul, int8_t *shift)
{
    int s = 0;
    uint64_t f = hz;
    while (f <= NSEC) {
        f <<= 1;
        s++;
    }
    while (f > 2 * NSEC) {
        f >>= 1;
        s--;
    }
    *mul = (uint32_t)((NSEC << 32) / f);   /* 10^9 * 2^32 fits 64 bits */
    *shift = (int8_t)s;
}

/* The TSC's and the local APIC timer's rates, from PIT channel 2 counting CAL_MS milliseconds. */
static void calibrate(void)
{
    *lapic(LAPIC_SVR) = 0x1ff;               /* APIC on, spurious vector 0xff */
    *lapic(LAPIC_LVT_LINT0) = 1u << 16;      /* the 8259s' ExtINT line masked: no legacy IRQ reaches a vector */
    *lapic(LAPIC_TIMER_DCR) = 0xb;           /* divide by 1 */
    *lapic(LAPIC_LVT_TIMER) = 1u << 16;      /* masked while counting */
    *lapic(LAPIC_TIMER_ICR) = 0xffffffffU;
    outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02) | 0x01));   /* gate on, speaker off */
    outb(PIT_CMD, 0xb0);                                          /* channel 2, lobyte/hibyte, mode 0 */
    uint64_t latch = PIT_HZ * CAL_MS / 1000;
    outb(PIT_CH2, (uint8_t)latch);
    outb(PIT_CH2, (uint8_t)(latch >> 8));
    uint64_t t0 = rdtsc();
    uint32_t c0 = *lapic(LAPIC_TIMER_CCR);
    while (!(inb(PIT_GATE) & 0x20))
        ;
    tsc_hz = (rdtsc() - t0) * (1000 / CAL_MS);
    lapic_hz = (uint64_t)(c0 - *lapic(LAPIC_TIMER_CCR)) * (1000 / CAL_MS);
    *lapic(LAPIC_TIMER_ICR) = 0;
    *lapic(LAPIC_LVT_TIMER) = TIMER_VECTOR;  /* one-shot, unmasked */
}

/* The CMOS clock as seconds since 1970 (BCD or binary, 24-hour), for the guest's wallclock. */
static uint64_t cmos_seconds(void)
{
    uint8_t v[7];
    static const uint8_t reg[7] = { 0, 2, 4, 7, 8, 9, 0x32 };
    outb(0x70, 0x0b);
    bool bcd = !(inb(0x71) & 4);
    for (unsigned int i = 0; i < 7; i++) {
        outb(0x70, reg[i]);
        v[i] = inb(0x71);
        if (bcd)
            v[i] = (uint8_t)((v[i] >> 4) * 10 + (v[i] & 15));
    }
    uint64_t y = v[6] * 100ULL + v[5], m = v[4], d = v[3];
    if (m <= 2) {   /* days since 1970 by the civil-calendar formula */
        y--;
        m += 12;
    }
    uint64_t days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 719469;
    return days * 86400 + v[2] * 3600ULL + v[1] * 60ULL + v[0];
}

void time_init_vcpu(struct vcpu_time_info *t)
{
    if (!tsc_hz) {
        calibrate();
        tsc_at_zero = rdtsc();
        tsc_scale(tsc_hz, &tsc_mul, &tsc_shift);
        hv_printf("pvmmu hv: TSC %llu kHz, local APIC timer %llu kHz (PIT calibration)\n",
                  (unsigned long long)(tsc_hz / 1000), (unsigned long long)(lapic_hz / 1000));
    }
    t->version = 2;
    t->tsc_timestamp = tsc_at_zero;
    t->system_time = 0;
    t->tsc_to_system_mul = tsc_mul;
    t->tsc_shift = tsc_shift;
    t->flags = XEN_PVCLOCK_TSC_STABLE_BIT;
}

void wallclock_init(struct shared_info *sh)
{
    sh->wc_version = 2;
    sh->wc_sec = (uint32_t)cmos_seconds();
    sh->wc_nsec = 0;
}

/* ---- event channels (2-level) ---- */

#define NR_PORTS   4096   /* the 2-level ABI's 64 x 64 */
#define NR_VIRQS   24
#define VIRQ_TIMER 0
enum port_state { ECS_FREE, ECS_UNBOUND, ECS_INTERDOMAIN, ECS_PIRQ, ECS_VIRQ, ECS_IPI };
#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_bind_virq        1
#define EVTCHNOP_bind_pirq        2
#define EVTCHNOP_close            3
#define EVTCHNOP_send             4
#define EVTCHNOP_status           5
#define EVTCHNOP_alloc_unbound    6
#define EVTCHNOP_bind_ipi         7
#define EVTCHNOP_bind_vcpu        8
#define EVTCHNOP_unmask           9

static uint8_t port_state[NR_PORTS];
static uint32_t port_virq[NR_PORTS];
static uint32_t virq_port[NR_VIRQS];
uint64_t shared_info_maddr;

static struct shared_info *shinfo(void) { return dm(shared_info_maddr); }

/* Xen's evtchn_set_pending (2-level): pending bit, then, unless masked, the selector and the upcall flag. */
static void set_pending(uint32_t port)
{
    struct shared_info *sh = shinfo();
    uint64_t bit = 1ULL << (port % 64);
    if (sh->evtchn_pending[port / 64] & bit)
        return;
    sh->evtchn_pending[port / 64] |= bit;
    if (sh->evtchn_mask[port / 64] & bit)
        return;
    struct vcpu_info *vi = pv_vcpu_info();
    vi->evtchn_pending_sel |= 1ULL << (port / 64);
    vi->evtchn_upcall_pending = 1;
}

/* A free port (1 up: port 0 is never used), or 0 if none is left. */
static uint32_t alloc_port(enum port_state st)
{
    for (uint32_t p = 1; p < NR_PORTS; p++)
        if (port_state[p] == ECS_FREE) {
            port_state[p] = (uint8_t)st;
            return p;
        }
    return 0;
}

void send_virq(unsigned int virq)
{
    if (virq < NR_VIRQS && virq_port[virq])
        set_pending(virq_port[virq]);
}

long event_channel_op(uint64_t cmd, uint64_t arg)
{
    uint32_t a[6];   /* every argument struct used here fits in 24 bytes of u32 fields */
    if (cmd > EVTCHNOP_unmask)
        return -XEN_ENOSYS;   /* reset, init_control (FIFO: the guest falls back to 2-level), ... */
    if (copy_from_guest(a, arg, cmd == EVTCHNOP_status ? 24 : cmd == EVTCHNOP_bind_virq ? 12 : 8))
        return -XEN_EFAULT;
    uint32_t port;
    switch (cmd) {
    case EVTCHNOP_bind_virq:   /* virq, vcpu -> port */
        if (a[0] >= NR_VIRQS || a[1] != 0)
            return -XEN_EINVAL;
        if (virq_port[a[0]])
            return -XEN_EEXIST;
        if (!(port = alloc_port(ECS_VIRQ)))
            return -XEN_ENOSPC;
        port_virq[port] = a[0];
        virq_port[a[0]] = port;
        return copy_to_guest(arg + 8, &port, 4) ? -XEN_EFAULT : 0;
    case EVTCHNOP_bind_ipi:    /* vcpu -> port */
        if (a[0] != 0)
            return -XEN_ENOENT;
        if (!(port = alloc_port(ECS_IPI)))
            return -XEN_ENOSPC;
        return copy_to_guest(arg + 4, &port, 4) ? -XEN_EFAULT : 0;
    case EVTCHNOP_alloc_unbound:   /* dom, remote_dom (u16 each) -> port */
        if (!pv_own_domid((uint16_t)a[0]))
            return -XEN_ESRCH;
        if (!(port = alloc_port(ECS_UNBOUND)))
            return -XEN_ENOSPC;
        return copy_to_guest(arg + 4, &port, 4) ? -XEN_EFAULT : 0;
    case EVTCHNOP_close:
        if (a[0] == 0 || a[0] >= NR_PORTS || port_state[a[0]] == ECS_FREE)
            return -XEN_EINVAL;
        if (port_state[a[0]] == ECS_VIRQ)
            virq_port[port_virq[a[0]]] = 0;
        port_state[a[0]] = ECS_FREE;
        shinfo()->evtchn_pending[a[0] / 64] &= ~(1ULL << (a[0] % 64));   /* as Xen's evtchn_free */
        return 0;
    case EVTCHNOP_send:
        if (a[0] == 0 || a[0] >= NR_PORTS || port_state[a[0]] == ECS_FREE || port_state[a[0]] == ECS_VIRQ)
            return -XEN_EINVAL;
        if (port_state[a[0]] == ECS_IPI)
            set_pending(a[0]);
        return 0;   /* an unbound port: nobody at the other end */
    case EVTCHNOP_bind_vcpu:   /* port, vcpu: one vCPU only; as Xen, only unbound, interdomain and global ports */
        if (a[0] == 0 || a[0] >= NR_PORTS || port_state[a[0]] == ECS_FREE || port_state[a[0]] == ECS_IPI ||
            (port_state[a[0]] == ECS_VIRQ && port_virq[a[0]] == VIRQ_TIMER))
            return -XEN_EINVAL;
        return a[1] == 0 ? 0 : -XEN_ENOENT;
    case EVTCHNOP_unmask: {
        if (a[0] >= NR_PORTS)
            return -XEN_EINVAL;
        struct shared_info *sh = shinfo();
        uint64_t bit = 1ULL << (a[0] % 64);
        bool was_masked = (sh->evtchn_mask[a[0] / 64] & bit) != 0;
        sh->evtchn_mask[a[0] / 64] &= ~bit;
        if (was_masked && (sh->evtchn_pending[a[0] / 64] & bit)) {
            struct vcpu_info *vi = pv_vcpu_info();
            vi->evtchn_pending_sel |= 1ULL << (a[0] / 64);
            vi->evtchn_upcall_pending = 1;
        }
        return 0;
    }
    case EVTCHNOP_status: {   /* dom (u16), port -> status, vcpu, virq */
        uint32_t p = a[1];
        if (!pv_own_domid((uint16_t)a[0]))
            return -XEN_ESRCH;
        if (p >= NR_PORTS)
            return -XEN_EINVAL;
        uint32_t out[4] = { port_state[p], 0, port_state[p] == ECS_VIRQ ? port_virq[p] : 0, 0 };
        return copy_to_guest(arg + 8, out, 16) ? -XEN_EFAULT : 0;
    }
    default:
        return -XEN_ENOSYS;   /* interdomain and pirq bindings: no other domain, no physical IRQs */
    }
}

/* Deliver an upcall (Xen's test_guest_events) if an event is pending and the guest has not masked them. */
void deliver_events(struct regs *r)
{
    struct vcpu_info *vi = pv_vcpu_info();
    if (vi->evtchn_upcall_pending && !vi->evtchn_upcall_mask && pv.callback[CALLBACKTYPE_event])
        bounce_to_guest(r, pv.callback[CALLBACKTYPE_event], true, false, 0, "event upcall");
}

/* ---- timers ---- */

static uint64_t singleshot_at, periodic_next, periodic_ns = PERIODIC_NS;

/* Program the local APIC for the earliest deadline (or stop it). */
static void timer_program(void)
{
    uint64_t at = singleshot_at;
    if (periodic_ns && (!at || periodic_next < at))
        at = periodic_next;
    if (!at) {
        *lapic(LAPIC_TIMER_ICR) = 0;
        return;
    }
    uint64_t now = system_time(), ns = at > now ? at - now : 1000;
    if (ns > 10 * NSEC)
        ns = 10 * NSEC;   /* wake at least every 10 s: the count must fit 32 bits */
    uint64_t count = ns * (lapic_hz / 1000) / 1000000;
    *lapic(LAPIC_TIMER_ICR) = count ? (count > 0xffffffffULL ? 0xffffffffU : (uint32_t)count) : 1;
}

/* Fire what is due: VIRQ_TIMER for each timer that expired, then arm the next one. */
static void timer_check(void)
{
    uint64_t now = system_time();
    bool fire = false;
    if (singleshot_at && singleshot_at <= now) {
        singleshot_at = 0;
        fire = true;
    }
    if (periodic_ns && periodic_next <= now) {
        while (periodic_next <= now)
            periodic_next += periodic_ns;
        fire = true;
    }
    if (fire)
        send_virq(VIRQ_TIMER);
    timer_program();
}

void timer_interrupt(void)
{
    *lapic(LAPIC_EOI) = 0;
    timer_check();
}

void timer_start(void)
{
    periodic_next = system_time() + periodic_ns;
    timer_program();
}

long timer_set_singleshot(uint64_t arg)
{
    uint64_t t[2];   /* struct vcpu_set_singleshot_timer: timeout_abs_ns, flags */
    if (copy_from_guest(t, arg, sizeof(t)))
        return -XEN_EFAULT;
    singleshot_at = t[0] ? t[0] : 1;
    timer_check();   /* a deadline already past fires at once */
    return 0;
}

long timer_stop(bool periodic)
{
    if (periodic)
        periodic_ns = 0;
    else
        singleshot_at = 0;
    timer_program();
    return 0;
}

long timer_set(uint64_t deadline)
{
    singleshot_at = deadline;   /* set_timer_op: 0 stops it */
    if (deadline)
        timer_check();
    else
        timer_program();
    return 0;
}

/*
 * SCHEDOP_block: events are unmasked (as Xen's vcpu_block_enable_events),
 * then the CPU waits with interrupts on until an event is pending.
 */
long sched_block(void)
{
    struct vcpu_info *vi = pv_vcpu_info();
    uint64_t since = system_time();
    vi->evtchn_upcall_mask = 0;
    while (!vi->evtchn_upcall_pending) {
        __asm__ volatile("sti; hlt; cli" : : : "memory");
        bool timer_armed = virq_port[VIRQ_TIMER] && (singleshot_at || periodic_ns);
        if (!vi->evtchn_upcall_pending && !timer_armed && system_time() - since > STUCK_NS) {
            hv_printf("hv: the guest blocked (SCHEDOP_block) %llu s ago and no event can wake it (%s)\n",
                      STUCK_NS / NSEC, virq_port[VIRQ_TIMER] ? "its timer is stopped" : "it has bound no timer VIRQ");
            finish(3);
        }
    }
    return 0;
}

void guest_shutdown(uint32_t reason)
{
    static const char *const why[] = { "poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset" };
    hv_printf("pvmmu hv: the guest shut down (SHUTDOWN_%s)\n", reason < 6 ? why[reason] : "?");
    finish(reason == SHUTDOWN_poweroff ? 16 : reason == SHUTDOWN_crash ? 3 : 4);
}
