#!/bin/sh
# fuzz.sh - run each fuzzer for a bounded time from its committed seeds and report.
# Usage: BUILD=build tests/fuzz.sh SECONDS FUZZER...   Exit 1 if any fuzzer found something.
set -u
BUILD=${BUILD:-build}
secs=$1; shift
fail=0; total=0
for f in "$@"; do
    corpus=$BUILD/fuzz/corpus-$f
    mkdir -p "$corpus" "$BUILD/fuzz/findings"
    case $f in
        fuzz_script) seeds="tests/scripts examples tests/bad" ;;
        *) seeds="fuzz/corpus/${f#fuzz_}" ;;
    esac
    # shellcheck disable=SC2086
    out=$("$BUILD/fuzz/$f" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/findings/$f-" \
          "$corpus" $seeds 2>&1); rc=$?
    runs=$(printf '%s\n' "$out" | sed -n 's/^stat::number_of_executed_units: *//p')
    eps=$(printf '%s\n' "$out" | sed -n 's/^stat::average_exec_per_sec: *//p')
    total=$((total + ${runs:-0}))
    if [ $rc -ne 0 ]; then
        fail=1
        printf '%s\n' "$out" | grep -v '^#' | tail -n 60
        echo "fuzz: $f FOUND A PROBLEM (input saved under $BUILD/fuzz/findings/)"
    else
        echo "fuzz: $f ${secs} s, ${runs:-0} inputs, ${eps:-0} inputs/s, no finding"
        printf '%s\n' "$out" | grep "^$f: of " || true
    fi
done
echo "fuzz: $# fuzzers, $total inputs in all$( [ $fail -eq 0 ] && echo ', no finding' || echo ', FINDINGS')"
exit $fail
