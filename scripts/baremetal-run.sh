#!/bin/sh
# baremetal-run.sh - boot pvmmu's own hypervisor under QEMU with our PV kernel as its one domain;
# the serial console goes to stdout and the exit status is QEMU's (33 = the kernel reported success,
# 3 = it reported a failure, 7 = the guest faulted with no handler, 5 = the hypervisor stopped).
# Usage: scripts/baremetal-run.sh HV.bin "KERNEL.elf [args]" MEM_MiB [extra QEMU arguments...]
[ $# -ge 3 ] || { echo "usage: baremetal-run.sh HV.bin \"KERNEL.elf [args]\" MEM_MiB [qemu args...]" >&2; exit 2; }
hv=$1 kernel=$2 mem=$3; shift 3
exec timeout "${BAREMETAL_TIMEOUT:-60}" qemu-system-x86_64 -m $((mem + 128))M -serial stdio -display none \
    -no-reboot -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$hv" -initrd "$kernel" -append "mem=$mem${BAREMETAL_VERBOSE:+ verbose}${BAREMETAL_AUDIT_EACH:+ audit=each}" "$@" 2>&1
