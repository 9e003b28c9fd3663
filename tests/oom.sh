#!/bin/sh
# oom.sh - running out of host memory is never a verdict.  Each case runs once without a limit (the
# reference), then under address-space limits (ulimit -v) growing by 10% from the smallest that lets
# pvmmu start, until two runs in a row give the reference.  Every limited run must either print exactly
# the reference's stdout with its exit status and nothing on stderr, or print nothing on stdout, one
# line "pvmmu: out of host memory: N bytes ..." on stderr and exit 3.  A case must see both kinds.
# Usage: tests/oom.sh PVMMU   (a build without sanitizers: ASan cannot run under ulimit -v)
# Prints one line per failing run and a summary "oom: N cases, R runs, M failed".
set -u
P=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cases=0; runs=0; failed=0

# Drop what differs between two identical runs: wall and audit times.
steady() { sed -e '/wall time/d' -e '/^  audit  /d' -e 's/"seconds":[0-9.]*//g' "$1"; }

# The smallest limit (KiB, in steps of 10%) under which pvmmu starts at all.
base=4096
while ! (ulimit -v $base; exec "$P" version) >/dev/null 2>&1; do
    base=$((base + base / 10))
    [ $base -lt 1048576 ] || { echo "oom: pvmmu does not start under 1 GiB of address space"; exit 1; }
done

# sweep NAME RC FROM ARG...: the reference run (which must exit RC), then the limited runs from FROM KiB
# (0: from the smallest that starts).
sweep() {
    name=$1 want=$2 from=$3; shift 3
    cases=$((cases + 1))
    "$P" "$@" >"$tmp/ref" 2>"$tmp/referr"; ref_rc=$?
    steady "$tmp/ref" >"$tmp/ref.s"
    if [ $ref_rc -ne "$want" ] || [ ! -s "$tmp/ref.s" ]; then
        failed=$((failed + 1)); echo "FAIL oom $name: the unlimited run exited $ref_rc, not $want"
        head -n 3 "$tmp/referr"; return
    fi
    lim=$base; [ "$from" -gt $base ] && lim=$from
    full=0; ooms=0; first=0; last=""
    while [ $full -lt 2 ]; do
        runs=$((runs + 1))
        (ulimit -v $lim; exec "$P" "$@") >"$tmp/out" 2>"$tmp/err"; rc=$?
        steady "$tmp/out" >"$tmp/out.s"
        if [ $rc -eq $ref_rc ] && [ ! -s "$tmp/err" ] && cmp -s "$tmp/out.s" "$tmp/ref.s"; then
            [ $full -eq 0 ] && first=$lim
            full=$((full + 1))
        elif [ $rc -eq 3 ] && [ ! -s "$tmp/out" ] && [ "$(grep -c '' "$tmp/err")" -eq 1 ] &&
             grep -qE '^pvmmu: out of host memory: [0-9]+ bytes( \([0-9.]+ MiB\))? for .+ could not be allocated' "$tmp/err"; then
            full=0; ooms=$((ooms + 1))
        else
            full=0; failed=$((failed + 1))
            sig="$rc $(head -n 1 "$tmp/err") $(sed -n 2p "$tmp/out")"
            if [ "$sig" != "$last" ]; then   # each run of the same failure is shown once
                last=$sig
                printf 'FAIL oom %s under ulimit -v %s: exit %d (unlimited: %d), %s stderr line(s); wanted the unlimited output or one out-of-memory line and exit 3\n' \
                    "$name" $lim $rc $ref_rc "$(grep -c '' "$tmp/err")"
                { head -n 3 "$tmp/err"; head -n 3 "$tmp/out"; } | sed 's/^/    /'
            fi
        fi
        lim=$((lim + lim / 10))
        if [ $lim -gt 16777216 ]; then
            failed=$((failed + 1)); echo "FAIL oom $name: no full run under 16 GiB of address space"; return
        fi
    done
    if [ $ooms -eq 0 ]; then
        failed=$((failed + 1)); echo "FAIL oom $name: no limit ran out of memory (the sweep started too high)"
    fi
    echo "oom: $name: $ooms limits ran out of memory (exit 3), then the unlimited result from $((first / 1024)) MiB"
}

# A script with 1500 frames (each an M2P entry the table of exceptions must grow for) and a write to
# each (frame contents from the slabs), checked by expectations and the auditor.
awk 'BEGIN {
    print "machine frames=16384"; print "domain d1"
    for (i = 0; i < 1500; i++) { printf "frame d1 f%d\n", i }
    for (i = 0; i < 1500; i++) { printf "set f%d[%d] = %d\n", i, i % 512, i + 1 }
    for (i = 0; i < 1500; i += 97) { printf "expect f%d m2p=%d\nexpect f%d[%d] = %d\n", i, i, i, i % 512, i + 1 }
}' >"$tmp/big.pvm"

sweep "boot 16G linux-3.0" 0 0 boot --mem 16G --policy linux-3.0
sweep "boot 4G no-reserve" 1 0 boot --mem 4G --policy no-reserve
# -v prints as the boot goes: the auditor's scratch is taken before the guest boots, so a host that cannot
# give it stops the run before the first line
sweep "boot 64M no-reserve -v" 1 0 boot --mem 64M --policy no-reserve -v
sweep "compare 1G" 0 0 compare --mem 1G
sweep "script" 0 0 script "$tmp/big.pvm"
# 64 GiB from 256 MiB (its frame table alone): the guest runs out in the middle of its boot
sweep "boot 64G linux-3.0" 0 262144 boot --mem 64G --policy linux-3.0

# Several scripts: the verdicts printed for the scripts before the one that runs out stand, that one has none,
# the ones after it do not run, and the exit status is 3 (README, docs/scripts.md, pvmmu help).
cases=$((cases + 1)); runs=$((runs + 1))
printf 'domain d1\nframe d1 a\nexpect a type=none\n' >"$tmp/small.pvm"
printf 'machine frames=16777216\ndomain d1\nframe d1 a\n' >"$tmp/huge.pvm"   # a 256 MiB frame table
(ulimit -v 131072; exec "$P" script "$tmp/small.pvm" "$tmp/huge.pvm" "$tmp/small.pvm") >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -ne 3 ] || [ "$(grep -c '' "$tmp/out")" -ne 1 ] ||
   ! grep -q "small.pvm: 3 steps, 3 passed, 0 failed" "$tmp/out" || [ "$(grep -c '' "$tmp/err")" -ne 1 ] ||
   ! grep -q '^pvmmu: out of host memory: 268435456 bytes (256.0 MiB) for the frame table' "$tmp/err"; then
    failed=$((failed + 1))
    echo "FAIL oom script small huge small under ulimit -v 131072: exit $rc; wanted the first script's verdict, one out-of-memory line and exit 3"
    sed 's/^/    /' "$tmp/out" "$tmp/err" | head -n 6
fi

echo "oom: $cases cases, $runs runs, $failed failed"
[ $failed -eq 0 ]
