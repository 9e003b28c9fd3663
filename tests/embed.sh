#!/bin/sh
# embed.sh - the library as another program embeds it:
#  - build/libpvmmu.so exports, and build/libpvmmu.a defines globally, exactly the functions
#    include/pvmmu/pvmmu.h marks PVM_API, and neither needs a symbol from elsewhere (libc's memset ...);
#  - tests/embed/clash.c, which has its own put_page, refuse, fmt_snprintf ..., links against the .so
#    and the .a and runs correctly with both (the library never calls the program's functions);
#  - the public headers define and declare only the names xen.h's rule allows (tests/public-names.py),
#    and compile beside <sys/user.h> with -Wall -Werror in either order;
#  - tests/embed/cxx.cc, a C++ caller, links against the .so and the .a and runs.
# Prints a line per failure and a summary "embed: N checks, M failed"; exit 1 if any failed.
set -u
BUILD=${BUILD:-build}
CC=${CC:-cc}
CXX=${CXX:-g++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0; failed=0
CFLAGS="-std=c11 -Wall -Wextra -Werror -Iinclude"

# check NAME CMD...: run CMD (output kept in $tmp/out); a non-zero exit fails NAME.
check() {
    name=$1; shift
    checks=$((checks + 1))
    if ! "$@" >"$tmp/out" 2>&1; then
        failed=$((failed + 1))
        echo "FAIL embed: $name"; sed 's/^/  /' "$tmp/out" | head -n 20
    fi
}

# The exported set: what the header marks PVM_API, nothing more, nothing less.
sed -n 's/^PVM_API .*[ *]\(pvm_[a-z0-9_]*\)(.*/\1/p' include/pvmmu/pvmmu.h | sort > "$tmp/api"
nm -D --defined-only "$BUILD/libpvmmu.so" | awk '{ print $3 }' | sort > "$tmp/so"
nm -g --defined-only "$BUILD/libpvmmu.a" | awk 'NF == 3 { print $3 }' | sort > "$tmp/a"
check "the header marks pvm_init PVM_API" grep -qx pvm_init "$tmp/api"
check "nm -D libpvmmu.so lists exactly the PVM_API functions" diff "$tmp/api" "$tmp/so"
check "nm -g libpvmmu.a lists exactly the PVM_API functions" diff "$tmp/api" "$tmp/a"

# The library calls nothing it does not define (include/pvmmu/pvmmu.h): libpvmmu.a has no undefined symbol,
# libpvmmu.so none but the C runtime's weak ones (w: __cxa_finalize, __gmon_start__ ...).
strong_undefined() { ! nm -u "$1" | grep -E '^ +U '; }
check "nm -u libpvmmu.a lists no undefined symbol (no memset or other libc call)" strong_undefined "$BUILD/libpvmmu.a"
check "nm -u libpvmmu.so lists no undefined symbol but weak ones" strong_undefined "$BUILD/libpvmmu.so"

# Public names: every macro the public headers define (cc -E -dM, less the compiler's and the standard
# headers' own) and every tag, typedef, enumerator, function and object they declare is prefixed or one of
# Xen's public ABI names (the allow-list, each family with its Xen header, is in tests/public-names.py).
check "public headers define only prefixed names and Xen's public ABI names" \
    python3 tests/public-names.py "$CC" include include/pvmmu/*.h

# Beside <sys/user.h>, both orders.
check "<sys/user.h> then <pvmmu/pvmmu.h> with -Wall -Werror" $CC $CFLAGS -c tests/embed/sysuser.c -o "$tmp/su.o"
sed -e '/<sys\/user.h>/d' -e 's|#include <pvmmu/pvmmu.h>|&\n#include <sys/user.h>|' tests/embed/sysuser.c > "$tmp/su2.c"
check "<pvmmu/pvmmu.h> then <sys/user.h> with -Wall -Werror" $CC $CFLAGS -c "$tmp/su2.c" -o "$tmp/su2.o"

# A program with its own put_page, refuse ...: the shared library (through its soname) and the archive.
ln -s "$(cd "$BUILD" && pwd)/libpvmmu.so" "$tmp/libpvmmu.so"
ln -s "$(cd "$BUILD" && pwd)/libpvmmu.so" "$tmp/libpvmmu.so.3"
check "clash.c links against libpvmmu.so" $CC $CFLAGS tests/embed/clash.c -L"$tmp" -lpvmmu -o "$tmp/clash-so"
check "clash.c runs against libpvmmu.so" env LD_LIBRARY_PATH="$tmp" "$tmp/clash-so"
check "clash.c links against libpvmmu.a" $CC $CFLAGS tests/embed/clash.c "$BUILD/libpvmmu.a" -o "$tmp/clash-a"
check "clash.c runs against libpvmmu.a" "$tmp/clash-a"

# A C++ caller.
CXXFLAGS="-std=c++11 -Wall -Wextra -Werror -Iinclude"
check "cxx.cc links against libpvmmu.so" $CXX $CXXFLAGS tests/embed/cxx.cc -L"$tmp" -lpvmmu -o "$tmp/cxx-so"
check "cxx.cc runs against libpvmmu.so" env LD_LIBRARY_PATH="$tmp" "$tmp/cxx-so"
check "cxx.cc links against libpvmmu.a" $CXX $CXXFLAGS tests/embed/cxx.cc "$BUILD/libpvmmu.a" -o "$tmp/cxx-a"
check "cxx.cc runs against libpvmmu.a" "$tmp/cxx-a"

echo "embed: $checks checks, $failed failed"
[ $failed -eq 0 ]
