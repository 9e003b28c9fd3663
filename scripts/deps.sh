#!/bin/sh
# deps.sh - make sure the Debian packages pvmmu needs are installed.
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.  Usage: scripts/deps.sh [--check]
set -eu

# Package -> why.  Keep this list the single source of truth.
PKGS="gcc g++ libc6-dev make pkgconf libcmocka-dev qemu-system-x86 clang libclang-rt-14-dev python3-jsonschema"
# `make xen-debug` only: what building Debian's Xen source needs.
if [ "${1:-}" = "--xen-debug" ]; then
    PKGS="$PKGS bison flex dpkg-dev python3 xz-utils"
    shift
fi
# `make fuzz-afl` only: AFL++ (the same harnesses, its own driver).
if [ "${1:-}" = "--afl" ]; then
    PKGS="$PKGS afl++"
    shift
fi
# `make coverage` only: the report generator for gcc's gcov data.
if [ "${1:-}" = "--coverage" ]; then
    PKGS="$PKGS gcovr"
    shift
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

if [ "${1:-}" = "--check" ]; then
    echo "deps: missing Debian packages:$missing" >&2
    exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run as root:  apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { echo "deps: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2 || {
    echo "deps: apt-get install failed for:$missing" >&2
    exit 1
}
