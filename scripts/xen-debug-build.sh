#!/bin/sh
# xen-debug-build.sh [--trace] DIR [VERSION] - build a CONFIG_DEBUG=y Xen 4.17 hypervisor from
# Debian's own source package (Debian patches applied, Debian's kconfig + CONFIG_DEBUG=y), fetched
# only through apt with a private apt configuration (nothing under /etc/apt is touched).
#
# --trace builds the recording hypervisor instead (docs/trace.md): Debian's release kconfig as it
# is (CONFIG_DEBUG=n: no self-test countdown, release speed) plus scripts/xen-trace.patch, which
# writes the record to QEMU's debug console (port 0xe9).  VERSION then defaults to the source the
# patch is written against ($TRACE_BASE below).  DIR/out/PATCH keeps the patch built in: when the
# patch changes, the old one is reversed and the new one applied in the unpacked tree, and the
# rebuild is incremental (seconds, not minutes).
#
# Result: DIR/out/xen       multiboot ELF32 image for QEMU -kernel (same kind as zcat xen-4.17-amd64.gz)
#         DIR/out/xen-syms  unstripped 64-bit ELF with symbols/debug info (for addr2line/gdb)
#         DIR/out/config    the .config used;  DIR/out/VERSION  the Debian source version built
#
# VERSION defaults to the candidate version of the binary xen-hypervisor-4.17-amd64.  If that
# source cannot be fetched and ALLOW_FALLBACK=1 (default), the newest source version that *can* be
# fetched is used instead, with a warning (on this machine debian-security's pool returns 404 for
# the xen source files, so bookworm's 4.17.5+72-g01140da4e8-1 is what gets built).
#
# Needs (Debian 12): gcc make binutils libc6-dev python3 dpkg-dev xz-utils bison flex
#   `scripts/deps.sh --xen-debug` installs them
set -eu
TRACE_BASE=4.17.5+72-g01140da4e8-1
trace=0
[ "${1:-}" = --trace ] && { trace=1; shift; }
me=xen-debug-build; [ $trace = 1 ] && me=xen-trace-build
patchfile=$(realpath "$(dirname "$0")/xen-trace.patch")
dir=$(realpath -m "${1:?usage: xen-debug-build.sh [--trace] DIR [VERSION]}")
if [ $trace = 1 ]; then want=${2:-$TRACE_BASE}
else want=${2:-$(apt-cache policy xen-hypervisor-4.17-amd64 | sed -n 's/^ *Candidate: //p')}; fi
ALLOW_FALLBACK=${ALLOW_FALLBACK:-1}
if [ -s "$dir/out/xen" ] && [ "${FORCE:-0}" != 1 ]; then     # already built (FORCE=1 rebuilds)
    [ $trace = 0 ] && exit 0
    cmp -s "$patchfile" "$dir/out/PATCH" && { echo "$me: $dir/out/xen is up to date" >&2; exit 0; }
    # The patch changed: reverse the old one, apply the new one, rebuild incrementally.
    src="$dir/src/xen-$(cat "$dir/out/VERSION")"
    if [ -d "$src" ] && patch -s -d "$src" -p1 -R < "$dir/out/PATCH" && patch -s -d "$src" -p1 < "$patchfile"; then
        cp "$patchfile" "$dir/out/PATCH"     # the tree now has it, whatever the build says
        t0=$(date +%s)
        unset CFLAGS CPPFLAGS LDFLAGS || true   # as below, step 3
        export DEB_VERSION="$(cat "$dir/out/VERSION")" DEB_MAINTAINER="$(sed -n 's/^Maintainer: //p' "$src/debian/control")"
        make -C "$src/xen" -j"$(nproc)" XEN_TARGET_ARCH=x86_64 XEN_COMPILE_ARCH=x86_64 CC=x86_64-linux-gnu-gcc \
            LD=x86_64-linux-gnu-ld PYTHON=/usr/bin/python3 \
            EXTRA_CFLAGS_XEN_CORE="-ffile-prefix-map=$src=. -fdebug-prefix-map=$src=." >"$dir/build.log" 2>&1 ||
            { tail -30 "$dir/build.log" >&2; rm -f "$dir/out/xen"; exit 1; }
        cp "$src/xen/xen" "$dir/out/xen.part" && mv "$dir/out/xen.part" "$dir/out/xen"
        cp "$src/xen/xen-syms" "$dir/out/xen-syms"
        echo "$me: patch changed; rebuilt $dir/out/xen in $(( $(date +%s) - t0 )) s" >&2
        exit 0
    fi
    echo "$me: the patch changed and the tree cannot be switched; unpacking again" >&2
fi
[ -n "$want" ] && [ "$want" != "(none)" ] || { echo "$me: no version (apt-get update?)" >&2; exit 1; }
for t in dpkg-source bison flex gcc make python3; do
    command -v $t >/dev/null 2>&1 || { echo "$me: $t missing; apt-get install -y --no-install-recommends dpkg-dev bison flex build-essential python3" >&2; exit 1; }
done

mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/src" "$dir/out"
kr=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$dir/apt/sources.list" <<EOF
deb-src [signed-by=$kr] http://deb.debian.org/debian bookworm main
deb-src [signed-by=$kr] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=$kr] http://deb.debian.org/debian-security bookworm-security main
EOF
aptopts="-o Dir::Etc::SourceList=$dir/apt/sources.list -o Dir::Etc::SourceParts=/nonexistent
 -o Dir::State::Lists=$dir/apt/lists -o Dir::Cache=$dir/apt/cache -o APT::Sandbox::User=root"

t0=$(date +%s)
# 1. private index update + source download (only .dsc/.orig.tar.xz/.debian.tar.xz; no unpack yet)
apt-get -q $aptopts update >&2
cd "$dir/src"
got= tried=
for v in "$want" $( [ "$ALLOW_FALLBACK" = 1 ] && apt-cache $aptopts showsrc xen | sed -n 's/^Version: //p' | sort -urV ); do
    [ -n "$got" ] && break
    case " $tried " in *" $v "*) continue;; esac; tried="$tried $v"
    [ -s "xen_$v.dsc" ] && { got=$v; break; }
    if apt-get -q $aptopts source --download-only "xen=$v" >&2; then got=$v
    else echo "$me: WARNING: cannot fetch source xen=$v" >&2; fi
done
[ -n "$got" ] || { echo "$me: no xen source could be fetched" >&2; exit 1; }
[ "$got" = "$want" ] || echo "$me: WARNING: building xen $got, NOT the binary's version $want" >&2

echo "$me: download done after $(( $(date +%s) - t0 )) s" >&2
# 2. unpack with Debian's patch queue applied (dpkg-source -x applies debian/patches/*)
src="$dir/src/xen-$got"
rm -rf "$src"
dpkg-source -q -x "xen_$got.dsc" "$src" >&2
cd "$src"

# 3. configure exactly like debian/rules (cp debian/xen-kconfig xen/.config; make olddefconfig),
#    except CONFIG_DEBUG=y (the trace build keeps Debian's config as it is and adds the patch)
unset CFLAGS CPPFLAGS LDFLAGS || true   # debian/rules: CFLAGS in the env breaks Xen's build
export DEB_VERSION="$got" DEB_MAINTAINER="$(sed -n 's/^Maintainer: //p' debian/control)"
set -- XEN_TARGET_ARCH=x86_64 XEN_COMPILE_ARCH=x86_64 CC=x86_64-linux-gnu-gcc LD=x86_64-linux-gnu-ld \
       PYTHON=/usr/bin/python3
if [ $trace = 1 ]; then
    patch -s -p1 < "$patchfile" ||
        { echo "$me: scripts/xen-trace.patch does not apply to xen $got (written for $TRACE_BASE)" >&2; exit 1; }
    cp debian/xen-kconfig xen/.config
else
    sed 's/^CONFIG_DEBUG=n$/CONFIG_DEBUG=y/' debian/xen-kconfig > xen/.config
fi
make -s -C xen olddefconfig "$@"
if [ $trace = 1 ]; then grep -qx '# CONFIG_DEBUG is not set' xen/.config
else grep -qx CONFIG_DEBUG=y xen/.config; fi || { echo "$me: CONFIG_DEBUG is not what was asked" >&2; exit 1; }

echo "$me: unpack+config done after $(( $(date +%s) - t0 )) s" >&2
# 4. build the hypervisor only (xen/xen, xen/xen.gz, xen/xen-syms, xen/xen.efi)
make -C xen -j"$(nproc)" "$@" \
    EXTRA_CFLAGS_XEN_CORE="-ffile-prefix-map=$src=. -fdebug-prefix-map=$src=." >"$dir/build.log" 2>&1 ||
    { tail -30 "$dir/build.log" >&2; exit 1; }

cp xen/xen "$dir/out/xen.part" && mv "$dir/out/xen.part" "$dir/out/xen"
cp xen/xen-syms "$dir/out/xen-syms"
cp xen/.config "$dir/out/config"
echo "$got" > "$dir/out/VERSION"
[ $trace = 1 ] && cp "$patchfile" "$dir/out/PATCH"
echo "$me: xen $got ($([ $trace = 1 ] && echo release config + xen-trace.patch || echo CONFIG_DEBUG=y)) -> $dir/out/xen after $(( $(date +%s) - t0 )) s" >&2
