#!/bin/sh
# xen-run.sh - boot Debian's Xen 4.17 under QEMU with our PV kernel as dom0; the serial console
# goes to stdout and the exit status is QEMU's (33 = the dom0 kernel reported success).
# Usage: scripts/xen-run.sh XEN "DOM0.elf [args][,INITRD]" MEM_MiB [extra QEMU arguments...]
# For a bigger dom0 such as Debian's Linux (make linux-xen): XEN_RUN_CPU (QEMU -cpu, default max),
# XEN_RUN_RAM (QEMU -m, default 512M), XEN_RUN_TIMEOUT (seconds, default 60) and XEN_RUN_ARGS
# (appended to Xen's command line).
[ $# -ge 3 ] || { echo "usage: xen-run.sh XEN \"DOM0.elf [args]\" MEM_MiB [qemu args...]" >&2; exit 2; }
xen=$1 dom0=$2 mem=$3; shift 3
exec timeout "${XEN_RUN_TIMEOUT:-60}" qemu-system-x86_64 -cpu "${XEN_RUN_CPU:-max}" -m "${XEN_RUN_RAM:-512M}" \
    -serial stdio -display none -no-reboot -monitor none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$xen" -initrd "$dom0" \
    -append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=${mem}M dom0_max_vcpus=1${XEN_RUN_ARGS:+ $XEN_RUN_ARGS}" \
    "$@" 2>&1
