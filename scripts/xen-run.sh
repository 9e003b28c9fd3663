#!/bin/sh
# xen-run.sh - boot Debian's Xen 4.17 under QEMU with our PV kernel as dom0; the serial console
# goes to stdout and the exit status is QEMU's (33 = the dom0 kernel reported success).
# Usage: scripts/xen-run.sh XEN "DOM0.elf [args]" MEM_MiB
[ $# -eq 3 ] || { echo "usage: xen-run.sh XEN \"DOM0.elf [args]\" MEM_MiB" >&2; exit 2; }
exec timeout 60 qemu-system-x86_64 -cpu max -m 512M -serial stdio -display none -no-reboot -monitor none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$1" -initrd "$2" \
    -append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=${3}M dom0_max_vcpus=1" 2>&1
