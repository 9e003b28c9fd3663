#!/bin/sh
# coverage.sh - run the whole suite on the gcov build and report line and branch coverage of
# core/ and guest/ with gcovr.  Usage: BUILD=build tests/coverage.sh COV_TEST_BINARY...
# Exit status 1 if a test fails or core/ misses its targets (95 % of lines, 85 % of branches).
set -u
BUILD=${BUILD:-build}
P=$BUILD/cov/pvmmu
fail=0
find "$BUILD/cov" -name '*.gcda' -delete

for t in "$@"; do
    "$t" >/dev/null 2>&1 || { echo "coverage: $t failed"; fail=1; }
done
for s in tests/scripts/*.pvm tests/xsa/*.pvm examples/*.pvm; do
    [ -e "$s" ] || continue
    "$P" script -v "$s" >/dev/null 2>&1 || { echo "coverage: $s failed"; fail=1; }
done
for s in tests/bad/*.pvm; do
    "$P" script "$s" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "coverage: $s was not refused"; fail=1; }
done
./tests/cli.sh "$P" >/dev/null || { echo "coverage: command-line cases failed"; fail=1; }
# Every policy, at a size with one init_memory_mapping call and one with two, with the explanations.
for mem in 256M 6G; do
    "$P" compare --mem $mem >/dev/null || { echo "coverage: compare --mem $mem failed"; fail=1; }
done
for pol in linux-2.6.39 no-reserve defer-cr3; do
    "$P" boot -v --mem 256M --policy $pol >/dev/null 2>&1
    [ $? -eq 1 ] || { echo "coverage: boot --policy $pol did not fail as it should"; fail=1; }
done

mkdir -p "$BUILD/cov/html"
summary() {   # DIR -> "lines L% (a of b), branches B% (c of d)"
    gcovr -r . "$BUILD/cov" --filter "$1/" --exclude-unreachable-branches --print-summary -o "$BUILD/cov/summary-$1.txt" 2>/dev/null |
        awk 'function f(a, b) { sub(/^\(/, "", a); sub(/\)$/, "", b); return a " of " b } /^lines:/ { l = $2 " (" f($3, $6) ")" } /^branches:/ { b = $2 " (" f($3, $6) ")" }
             END { print "lines " l ", branches " b }'
}
gcovr -r . "$BUILD/cov" --filter core/ --filter guest/ --exclude-unreachable-branches \
      --html-details "$BUILD/cov/html/index.html" >/dev/null 2>&1
echo "coverage, per file (lines, then branches):"
gcovr -r . "$BUILD/cov" --filter core/ --filter guest/ --exclude-unreachable-branches 2>/dev/null |
    sed -n 's/^\(core\/[^ ]*\|guest\/[^ ]*\) *\([0-9]*\) *\([0-9]*\) *\([0-9]*%\).*/  \1 lines \4/p' > "$BUILD/cov/lines.txt"
gcovr -r . "$BUILD/cov" --filter core/ --filter guest/ --exclude-unreachable-branches --branches 2>/dev/null |
    sed -n 's/^\(core\/[^ ]*\|guest\/[^ ]*\) *\([0-9]*\) *\([0-9]*\) *\([0-9]*%\).*/\1 \4/p' > "$BUILD/cov/branches.txt"
while read -r f l rest; do
    printf '  %-22s lines %5s   branches %5s\n' "$f" "$rest" "$(awk -v f="$f" '$1 == f { print $2 }' "$BUILD/cov/branches.txt")"
done < "$BUILD/cov/lines.txt"
core=$(summary core); guest=$(summary guest)
echo "coverage: core/  $core"
echo "coverage: guest/ $guest"
echo "coverage: HTML report in $BUILD/cov/html/index.html"
lpct=$(echo "$core" | sed -n 's/^lines \([0-9.]*\)%.*/\1/p')
bpct=$(echo "$core" | sed -n 's/.*branches \([0-9.]*\)%.*/\1/p')
if ! awk -v l="${lpct:-0}" -v b="${bpct:-0}" 'BEGIN { exit !(l >= 95 && b >= 85) }'; then
    echo "coverage: core/ is below its targets (95 % of lines, 85 % of branches)"
    fail=1
fi
exit $fail
