/*
 * events.c - what a PV kernel needs of time and events: its timers
 * (VCPUOP_set_singleshot_timer, set_timer_op), blocking until an event, and
 * its shutdown, which ends the run with the reason Xen would log.  Event
 * channels are not served yet (-ENOSYS), so no upcall is ever delivered.
 */
#include "hv.h"

static uint64_t timer_deadline;   /* system time (ns) of the singleshot timer, 0 for none */

long timer_set_singleshot(uint64_t arg)
{
    uint64_t t[2];   /* struct vcpu_set_singleshot_timer: timeout_abs_ns, flags */
    if (copy_from_guest(t, arg, sizeof(t)))
        return -XEN_EFAULT;
    timer_deadline = t[0];
    return 0;
}

long timer_stop(bool periodic)
{
    if (!periodic)
        timer_deadline = 0;
    return 0;
}

long timer_set(uint64_t deadline)
{
    timer_deadline = deadline;
    return 0;
}

long sched_block(void)
{
    return 0;
}

long event_channel_op(uint64_t cmd, uint64_t arg)
{
    (void)cmd;
    (void)arg;
    return -XEN_ENOSYS;
}

void guest_shutdown(uint32_t reason)
{
    static const char *const why[] = { "poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset" };
    hv_printf("pvmmu hv: the guest shut down (SHUTDOWN_%s)\n", reason < 6 ? why[reason] : "?");
    finish(reason == SHUTDOWN_poweroff ? 16 : reason == SHUTDOWN_crash ? 3 : 4);
}

/* ---- time ---- */

#define PIT_CH2     0x42
#define PIT_CMD     0x43
#define PIT_GATE    0x61
#define PIT_HZ      1193182ULL
#define CAL_MS      10
#define XEN_PVCLOCK_TSC_STABLE_BIT 1

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint64_t tsc_hz, tsc_at_zero;   /* the TSC's rate, and its value at system time 0 */

/* The TSC's rate, from PIT channel 2 counting CAL_MS milliseconds (as Linux's and Xen's calibrations). */
static uint64_t calibrate_tsc(void)
{
    outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02) | 0x01));   /* gate on, speaker off */
    outb(PIT_CMD, 0xb0);                                          /* channel 2, lobyte/hibyte, mode 0 */
    uint64_t latch = PIT_HZ * CAL_MS / 1000;
    outb(PIT_CH2, (uint8_t)latch);
    outb(PIT_CH2, (uint8_t)(latch >> 8));
    uint64_t t0 = rdtsc();
    while (!(inb(PIT_GATE) & 0x20))
        ;
    return (rdtsc() - t0) * (1000 / CAL_MS);
}

/* Linux's and Xen's pvclock scale: ns = ((tsc delta << shift, or >> -shift) * mul) >> 32, mul < 2^32. */
static void tsc_scale(uint64_t hz, uint32_t *mul, int8_t *shift)
{
    int s = 0;
    uint64_t f = hz;
    while (f <= 1000000000ULL) {
        f <<= 1;
        s++;
    }
    while (f > 2000000000ULL) {
        f >>= 1;
        s--;
    }
    *mul = (uint32_t)(((unsigned __int128)1000000000ULL << 32) / f);
    *shift = (int8_t)s;
}

void time_init_vcpu(struct vcpu_time_info *t)
{
    if (!tsc_hz) {
        tsc_hz = calibrate_tsc();
        tsc_at_zero = rdtsc();
        hv_printf("pvmmu hv: TSC %llu kHz (PIT calibration)\n", (unsigned long long)(tsc_hz / 1000));
    }
    t->version = 2;
    t->tsc_timestamp = tsc_at_zero;
    t->system_time = 0;
    tsc_scale(tsc_hz, &t->tsc_to_system_mul, &t->tsc_shift);
    t->flags = XEN_PVCLOCK_TSC_STABLE_BIT;
}
