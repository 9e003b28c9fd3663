/*
 * console.c - the hypervisor's output and its ways out: the serial console
 * (COM1, which QEMU's -serial stdio shows), printf onto it, QEMU's exit
 * port, panic, and the two core callbacks that end up there (the log sink
 * and BUG_ON).
 */
#include <stdarg.h>

#include "fmt.h"
#include "hv.h"

#define COM1     0x3f8
#define UART_DLL 0      /* divisor latch, low byte (with LCR_DLAB); else the data register */
#define UART_IER 1      /* interrupt enable; divisor latch high byte with LCR_DLAB */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LCR_DLAB 0x80
#define LCR_8N1  0x03
#define FCR_FIFO 0xc7   /* enable and clear both FIFOs, 14-byte threshold */
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20   /* the transmitter can take a byte */

bool log_verbose;
static bool mid_line;   /* the last byte written was not a newline */

void serial_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1);          /* 115200 baud */
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_FIFO);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

void hv_write(const char *s, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        while (!(inb(COM1 + UART_LSR) & LSR_THRE))
            ;
        outb(COM1, (uint8_t)s[i]);
    }
    if (n)
        mid_line = s[n - 1] != '\n';
}

bool hv_console_at_line_start(void)
{
    return !mid_line;
}

void hv_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hv_write(buf, n < (int)sizeof(buf) ? (uint64_t)n : sizeof(buf) - 1);
}

void qemu_exit(uint8_t code)
{
    outb(QEMU_EXIT_PORT, code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* qemu_exit(2): QEMU exits 5, which no guest outcome uses. */
void panic(const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hv_printf("pvmmu hv: PANIC: %s\n", buf);
    qemu_exit(2);
}

void op_bug(void *ctx, const char *file, unsigned int line, const char *what)
{
    (void)ctx;
    panic("core BUG at %s:%u: %s", file, line, what);
}

void op_log(void *ctx, const struct pvm_log_msg *msg)
{
    (void)ctx;
    if (log_verbose || msg->level <= PVM_LOG_WARN)
        hv_printf("(XEN) %s\n", msg->text);
}
