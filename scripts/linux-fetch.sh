#!/bin/sh
# linux-fetch.sh DIR - Debian's stock Linux PV kernel and a tiny busybox initramfs, for booting
# as dom0 of Xen under QEMU (docs/trace.md).  Everything lands in DIR and is never committed:
#   DIR/vmlinuz    the kernel package's bzImage, as shipped
#   DIR/vmlinux    the ELF inside it (what QEMU hands Xen as dom0's kernel)
#   DIR/initrd.gz  bin/busybox and an /init (cpio newc, gzip)
#   DIR/KERNEL     the kernel package's name and version
# A second run with everything present does nothing (and says so); a changed /init rebuilds only
# the initramfs.  Only apt fetches (apt-get download: nothing is installed); needs dpkg-deb, xz,
# cpio, gzip.
#
# Why unpack the ELF on the host: Xen's loader takes the bzImage as it is, but spends about 4 s of
# every boot under QEMU decompressing it, and pvmmu's own hypervisor reads only ELF kernels.  The
# bzImage's boot header says where the compressed kernel is: the byte at 0x1f1 counts the setup
# sectors after the boot sector (0 means 4), and the 32-bit words at 0x248 and 0x24c give the
# payload's offset from the end of the setup code and its length.  Debian compresses it with xz;
# the payload ends with a 4-byte size word after the xz stream, which --single-stream ignores.
set -eu
dir=$(realpath -m "${1:?usage: linux-fetch.sh DIR}")
mkdir -p "$dir"
for t in apt-get dpkg-deb xz cpio gzip od; do
    command -v $t >/dev/null 2>&1 || { echo "linux-fetch: $t is missing (scripts/deps.sh --linux installs it)" >&2; exit 1; }
done

# The /init the initramfs runs: markers on the console, /proc/meminfo, a few forks and execs,
# memory mapped and unmapped, then power off.
init=$(cat <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
echo "pvmmu-init: start"
mount -t proc proc /proc
mount -t sysfs sys /sys
cat /proc/meminfo
# fork and exec: each external command is a new process (new page tables, then torn down)
uname -a
ls -l /bin/busybox
for i in 1 2 3; do /bin/busybox true; done
cat /proc/self/maps | wc -l
# map and unmap memory: dd's 8 MiB buffer is an anonymous mmap, touched and then unmapped
dd if=/dev/zero of=/dev/null bs=8M count=4
head -c 4194304 /dev/zero | md5sum
grep -E '^(MemFree|PageTables)' /proc/meminfo
echo "pvmmu-init: done"
poweroff -f
EOF
)

kernel_ok() { [ -s "$dir/vmlinuz" ] && [ -s "$dir/vmlinux" ] && [ -s "$dir/KERNEL" ]; }
initrd_ok() { [ -s "$dir/initrd.gz" ] && [ -f "$dir/rootfs/init" ] &&
              [ "$(cat "$dir/rootfs/init")" = "$init" ] && [ -x "$dir/rootfs/bin/busybox" ]; }
if kernel_ok && initrd_ok; then
    echo "linux-fetch: $dir is complete ($(cat "$dir/KERNEL")); nothing to do" >&2
    exit 0
fi

aptq="-q -o APT::Sandbox::User=root"   # the download directory is ours, not _apt's
tmp=$(mktemp -d "$dir/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# fetch PKG: download one named package into $tmp (never a glob: that fetches every version).
fetch() {
    ( cd "$tmp" && apt-get $aptq download "$1" >/dev/null 2>"$tmp/apt.err" ) || {
        echo "linux-fetch: apt-get download $1 failed: $(grep -m1 '^E:' "$tmp/apt.err" || echo '?') (apt-get update first?)" >&2
        exit 1
    }
}

if ! kernel_ok; then
    # The package linux-image-amd64 depends on, by its exact name.
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -1)
    [ -n "$pkg" ] || { echo "linux-fetch: apt-cache knows no linux-image-amd64 (apt-get update first?)" >&2; exit 1; }
    fetch "$pkg"
    deb=$(ls "$tmp"/"$pkg"_*.deb)
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
    bz=$(ls "$tmp"/boot/vmlinuz-*)
    setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
    [ "$setup" -ne 0 ] || setup=4
    poff=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
    plen=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
    start=$(( (setup + 1) * 512 + poff ))
    tail -c +$((start + 1)) "$bz" | head -c "$plen" | xz -dc --single-stream > "$tmp/vmlinux" || {
        echo "linux-fetch: $bz: the payload at $start ($plen bytes) is not xz" >&2; exit 1; }
    [ "$(head -c 4 "$tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] || {
        echo "linux-fetch: $bz: the unpacked payload is not an ELF file" >&2; exit 1; }
    mv "$bz" "$dir/vmlinuz"
    mv "$tmp/vmlinux" "$dir/vmlinux"
    echo "$(basename "$deb" .deb)" > "$dir/KERNEL"
    echo "linux-fetch: $(cat "$dir/KERNEL"): vmlinuz $(wc -c < "$dir/vmlinuz") bytes, vmlinux (ELF) $(wc -c < "$dir/vmlinux") bytes" >&2
fi

if ! initrd_ok; then
    if [ ! -x "$dir/rootfs/bin/busybox" ]; then
        fetch busybox-static
        dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb"
        mkdir -p "$dir/rootfs/bin"
        cp "$tmp/bb/bin/busybox" "$dir/rootfs/bin/busybox"
    fi
    mkdir -p "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev"
    printf '%s\n' "$init" > "$dir/rootfs/init"
    chmod 755 "$dir/rootfs/init"
    # The same bytes every time (fixed times, sorted names): its size decides where things land in dom0.
    find "$dir/rootfs" -exec touch -h -d @0 {} +
    ( cd "$dir/rootfs" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible ) | gzip -9n > "$tmp/initrd.gz"
    [ "$(wc -c < "$tmp/initrd.gz")" -gt 100000 ] || { echo "linux-fetch: the initramfs came out empty" >&2; exit 1; }
    mv "$tmp/initrd.gz" "$dir/initrd.gz"
    echo "linux-fetch: initrd.gz $(wc -c < "$dir/initrd.gz") bytes (busybox and /init)" >&2
fi
