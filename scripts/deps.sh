#!/bin/sh
# deps.sh - make sure the Debian packages a make target needs are installed.
# Usage: scripts/deps.sh [--check|--have] [GROUP] [--xen-debug] [--linux] [--afl] [--coverage]
#   GROUP  build: a C compiler and libc (make run)
#          fast:  build + cmocka and python3-jsonschema (make check-fast)
#          check: fast + pkgconf, and what the QEMU, real-Xen and fuzzer runs need (make check,
#                 make deps, .ci/run; the default)
#          qemu, fuzz, linux: one of those optional parts alone (for --have; linux: recording real Linux)
# As root it installs what is missing with apt-get.  Otherwise, if a required package is missing,
# it prints the exact command to run and fails; an optional one (QEMU, clang: make check runs
# without them and says so) is only reported.  --check fails on anything missing, installing
# nothing; --have answers quietly (exit 0 if every package of GROUP is installed).
set -eu

# Package lists: the single source of truth.
BUILD="gcc libc6-dev make"
FAST="$BUILD g++ libcmocka-dev python3-jsonschema"
QEMU="qemu-system-x86"
FUZZ="clang libclang-rt-14-dev"
# Building Debian's Xen source (the recording Xen of make linux-trace, make xen-debug), unpacking Debian's
# kernel and building an initramfs (busybox-static is downloaded by scripts/linux-fetch.sh, not installed).
XENSRC="bison flex dpkg-dev python3 xz-utils"
LINUX="$XENSRC cpio gzip"

mode=install
case "${1:-}" in --check|--have) mode=${1#--}; shift ;; esac
group=check
case "${1:-}" in build|fast|check|qemu|fuzz|linux) group=$1; shift ;; esac
case $group in
    build) need=$BUILD; optional="" ;;
    fast)  need=$FAST; optional="" ;;
    check) need="$FAST pkgconf"; optional="$QEMU $FUZZ $LINUX" ;;
    qemu)  need=$QEMU; optional="" ;;
    fuzz)  need=$FUZZ; optional="" ;;
    linux) need="$QEMU $LINUX"; optional="" ;;
esac
# `make xen-debug` only: what building Debian's Xen source needs.
if [ "${1:-}" = "--xen-debug" ]; then
    need="$need $optional $XENSRC"; optional=""
    shift
fi
# `make linux-xen`, `make linux-trace` only (make check has them among its optional parts).
if [ "${1:-}" = "--linux" ]; then
    need="$need $LINUX"
    shift
fi
# `make fuzz-afl` only: AFL++ (the same harnesses, its own driver).
if [ "${1:-}" = "--afl" ]; then
    need="$need $FUZZ afl++"
    shift
fi
# `make coverage` only: the report generator for gcc's gcov data.
if [ "${1:-}" = "--coverage" ]; then
    need="$need gcovr"
    shift
fi
[ $# -eq 0 ] || { echo "deps: unknown argument '$1'" >&2; exit 2; }

if ! command -v dpkg-query >/dev/null 2>&1; then
    # Not Debian: nothing to ask.  The build itself says what is missing.
    [ "$mode" = have ] || echo "deps: no dpkg-query (not Debian?); make sure these are installed: $need $optional" >&2
    exit 0
fi

# missing PKG...: print the packages of the list that are not installed.
missing() {
    for p in "$@"; do
        case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
            *"install ok installed"*) ;;
            *) printf ' %s' "$p" ;;
        esac
    done
}
# shellcheck disable=SC2086
miss_need=$(missing $need)
# shellcheck disable=SC2086
miss_opt=$(missing $optional)
all="$miss_need$miss_opt"
[ -z "$all" ] && exit 0

case $mode in
have)
    exit 1 ;;
check)
    echo "deps: missing Debian packages:$all" >&2
    exit 1 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    if [ -n "$miss_need" ]; then
        echo "deps: missing Debian packages:$all" >&2
        echo "deps: run as root:  apt-get install -y --no-install-recommends$all" >&2
        exit 1
    fi
    echo "deps: not installed:$miss_opt; make check runs without what needs them" \
         "(as root:  apt-get install -y --no-install-recommends$miss_opt)" >&2
    exit 0
fi

echo "deps: installing$all" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { echo "deps: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $all >&2 || {
    echo "deps: apt-get install failed for:$all" >&2
    exit 1
}
