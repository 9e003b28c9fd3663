#!/bin/sh
# xen-fetch.sh DIR - put Debian's Xen 4.17 hypervisor, uncompressed for QEMU, at DIR/xen, and make
# sure qemu-system-x86 is installed.  The package is downloaded and unpacked, never installed
# (no toolstack, no boot-loader hooks).  Nothing fetched is ever committed.
set -eu
dir=${1:?usage: xen-fetch.sh DIR}
mkdir -p "$dir"
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "xen-fetch: qemu-system-x86_64 is missing; run as root: apt-get install -y --no-install-recommends qemu-system-x86" >&2
        exit 1
    fi
    echo "xen-fetch: installing qemu-system-x86" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >&2
fi
[ -s "$dir/xen" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && apt-get download xen-hypervisor-4.17-amd64 >/dev/null 2>&1 ) || {
    echo "xen-fetch: apt-get download xen-hypervisor-4.17-amd64 failed (apt-get update first?)" >&2
    exit 1
}
dpkg-deb -x "$tmp"/xen-hypervisor-4.17-amd64_*.deb "$tmp/pkg"
zcat "$tmp"/pkg/boot/xen-4.17-amd64.gz > "$dir/xen.part"
mv "$dir/xen.part" "$dir/xen"
echo "xen-fetch: $(ls "$tmp"/*.deb | sed 's|.*/||') -> $dir/xen" >&2
