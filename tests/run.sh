#!/bin/sh
# run.sh - the test runner behind `make check`: every cmocka binary given on
# the command line, every scenario script under tests/scripts (expected to
# pass) and tests/bad (expected to be refused with exit 2), then one summary.
# CHECK_FAST=1 (make check-fast): only what needs no QEMU, no Xen and no clang.  Otherwise a part whose
# tools cannot be had here (qemu, fuzz: their packages are not installed; xen: no hypervisor image) is
# reported "not run" and is not a failure, unless CHECK_REQUIRE names it (make check as root, .ci/run).
set -u
BUILD=${BUILD:-build}
CLI="$BUILD/san/pvmmu"
npol=$("$CLI" policies 2>/dev/null | wc -l)   # the policies each differential boots
groups=0; gfail=0; cases=0; cfail=0; scripts=0; sfail=0; bad=0; bfail=0
failed_list=""; notrun_list=""; nfail=0
FAST=${CHECK_FAST:-}
fastmsg="not run (make check-fast; make check runs it)"
qemu=yes; command -v qemu-system-x86_64 >/dev/null 2>&1 || qemu=""
# unavailable PART WHY: PART cannot run here; a failure if CHECK_REQUIRE names it.  Sets $why, the summary text.
unavailable() {
    case " ${CHECK_REQUIRE:-} " in
        *" $1 "*) nfail=1; why="FAILED, required but unavailable: $2"
                  case "$failed_list " in *" $1(unavailable) "*) ;; *) failed_list="$failed_list $1(unavailable)" ;; esac ;;
        *) case "$notrun_list " in *" $1 "*) ;; *) notrun_list="$notrun_list $1" ;; esac; why="not run: $2" ;;
    esac
}
noqemu="qemu-system-x86_64 is not on the PATH (Debian package qemu-system-x86; as root: make deps)"

for t in "$@"; do
    groups=$((groups + 1))
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -E '^\[  (PASSED|FAILED)  \]|^\[  ERROR   \]|AUDIT|ERROR: AddressSanitizer|runtime error' || true
    n=$(printf '%s\n' "$out" | sed -n 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -n 1)
    cases=$((cases + ${n:-0})); cfail=$((cfail + ${f:-0}))
    if [ $rc -ne 0 ]; then
        gfail=$((gfail + 1)); failed_list="$failed_list $(basename "$t")"
        printf '%s\n' "$out" | tail -n 40
    fi
done

for s in tests/scripts/*.pvm examples/*.pvm; do
    [ -e "$s" ] || continue
    scripts=$((scripts + 1))
    out=$("$CLI" script "$s" 2>&1); rc=$?
    if [ $rc -ne 0 ]; then
        sfail=$((sfail + 1)); failed_list="$failed_list $s"
        printf 'FAIL %s (exit %d)\n%s\n' "$s" $rc "$out"
    fi
done

# Security regressions: one script per PV page-table advisory, then each check taken out of a copy of
# core/ to show its script catches the loss (tests/xsa-mutants.sh).
xsa=0; xfailn=0
for s in tests/xsa/*.pvm; do
    xsa=$((xsa + 1))
    out=$("$CLI" script "$s" 2>&1); rc=$?
    if [ $rc -ne 0 ]; then
        xfailn=$((xfailn + 1)); failed_list="$failed_list $s"
        printf 'FAIL %s (exit %d)\n%s\n' "$s" $rc "$out"
    fi
done
mout=$( ([ -z "$FAST" ] || unset HV_FLAGS; ./tests/xsa-mutants.sh "$BUILD/mutants") 2>&1); mrc=$?
[ $mrc -eq 0 ] || { printf '%s\n' "$mout"; failed_list="$failed_list xsa-mutants"; xfailn=$((xfailn + 1)); }
mutants=$(printf '%s\n' "$mout" | sed -n 's/^mutants: //p')

for s in tests/bad/*.pvm; do
    [ -e "$s" ] || continue
    bad=$((bad + 1))
    want=$(sed -n 's/^# error: //p' "$s" | head -n 1)
    out=$("$CLI" script "$s" 2>&1); rc=$?
    lines=$(printf '%s\n' "$out" | grep -c . || true)
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! printf '%s' "$out" | grep -qF -- "$want"; then
        bfail=$((bfail + 1)); failed_list="$failed_list $s"
        printf 'FAIL %s: exit %d, %s line(s), wanted exit 2 and one line containing "%s"\n%s\n' \
            "$s" $rc "$lines" "$want" "$out"
    fi
done

# Bad input through the command line: one message, exit 2, for every case.
cout=$(./tests/cli.sh "$CLI" 2>&1); crc=$?
printf '%s\n' "$cout" | grep -v '^cli: [0-9]* cases' || true
cli_n=$(printf '%s\n' "$cout" | sed -n 's/^cli: \([0-9]*\) cases, \([0-9]*\) failed/\1/p')
cli_f=$(printf '%s\n' "$cout" | sed -n 's/^cli: \([0-9]*\) cases, \([0-9]*\) failed/\2/p')
[ $crc -eq 0 ] || failed_list="$failed_list cli"
bad=$((bad + ${cli_n:-0})); bfail=$((bfail + ${cli_f:-1}))

# What pvmmu says is true: exit statuses and verdict lines (a script's own expectations on every side,
# nothing to run or compare), a full disk under every printing command, --json against its documentation.
vnoqemu=""; [ -n "$FAST" ] || [ -z "$qemu" ] && vnoqemu=1
vnoxen=""; [ -s "${XEN_CACHE:-$BUILD/xen-cache}/xen" ] || vnoxen=1
vout=$(BUILD=$BUILD VERDICTS_NO_QEMU=$vnoqemu VERDICTS_NO_XEN=$vnoxen PVMMU_XEN="${XEN_CACHE:-$BUILD/xen-cache}/xen" ./tests/verdicts.sh "$CLI" 2>&1); vrc=$?
printf '%s\n' "$vout" | grep -v '^verdicts: [0-9]* cases' || true
verdicts=$(printf '%s\n' "$vout" | sed -n 's/^verdicts: //p')
[ $vrc -eq 0 ] || failed_list="$failed_list verdicts"

# Running out of host memory is never a verdict: boot, compare and script under sweeps of ulimit -v
# (with the build without sanitizers: ASan cannot run under an address-space limit).
ofail=0
if [ -n "$FAST" ]; then
    oom=$fastmsg
else
    oout=$(./tests/oom.sh "$BUILD/pvmmu" 2>&1); orc=$?
    printf '%s\n' "$oout" | grep -v '^oom: [0-9]* cases' || true
    oom=$(printf '%s\n' "$oout" | sed -n 's/^oom: \([0-9]* cases.*\)/\1/p')
    [ $orc -eq 0 ] || { ofail=1; failed_list="$failed_list oom"; }
fi

# The library as others embed it: only the PVM_API functions exported, no undefined symbol, only prefixed
# and Xen public names in the headers, a program's own put_page beside it (.so and .a), the public headers
# beside <sys/user.h>, a C++ caller.
eout=$(BUILD=$BUILD ./tests/embed.sh 2>&1); erc=$?
printf '%s\n' "$eout" | grep -v '^embed: [0-9]* checks' || true
embed=$(printf '%s\n' "$eout" | sed -n 's/^embed: //p')
[ $erc -eq 0 ] || failed_list="$failed_list embed"

# Every relative link and anchor in README.md and docs/ leads somewhere.
lout=$(./tests/doc-links.sh 2>&1); lrc=$?
printf '%s\n' "$lout" | grep -v '^doc-links: [0-9]* links' || true
links=$(printf '%s\n' "$lout" | sed -n 's/^doc-links: //p')
[ $lrc -eq 0 ] || failed_list="$failed_list doc-links"
# Every #include follows docs/architecture.md's table of which folder may include which.
iout=$(./tests/include-edges.sh 2>&1); irc=$?
printf '%s\n' "$iout" | grep -v '^include-edges: [0-9]* includes' || true
edges=$(printf '%s\n' "$iout" | sed -n 's/^include-edges: \([0-9]* includes.*\) (self-check.*/\1/p')
[ $irc -eq 0 ] || failed_list="$failed_list include-edges"

# Real Linux on real Xen (a record of make linux-trace, if there is one) replayed on the core, event for event,
# and wrong rules in copies of core/ that the replay must stop at the first answer they change.
rout=$(./tests/linux-replay.sh "$CLI" "$BUILD/replay-mutants" 2>&1); rrc=$?
printf '%s\n' "$rout" | grep -v '^linux-replay: ' || true
replay=$(printf '%s\n' "$rout" | sed -n 's/^linux-replay: //p')
[ $rrc -eq 0 ] || failed_list="$failed_list linux-replay"
if [ -z "$FAST" ] && ! ls "$BUILD"/linux/trace-*.txt >/dev/null 2>&1; then
    unavailable linux "no record of real Linux on real Xen (make linux-trace; make check makes one when QEMU and the packages of scripts/deps.sh linux are there)"
    replay="$replay
  $why"
fi

# A short bounded pass of every fuzzer from its committed seeds (make fuzz runs them longer).
fuzz="not run"; ffail=0
if [ -n "$FAST" ]; then
    fuzz=$fastmsg
elif ! ./scripts/deps.sh --have fuzz; then
    unavailable fuzz "clang or libclang-rt-14-dev is not installed (as root: make deps)"; fuzz=$why
elif [ -x "$BUILD/fuzz/fuzz_hypercalls" ] && [ -x "$BUILD/fuzz/fuzz_script" ] && [ -x "$BUILD/fuzz/fuzz_replay" ]; then
    fout=$(BUILD=$BUILD ./tests/fuzz.sh "${FUZZ_CHECK_TIME:-10}" fuzz_hypercalls fuzz_script fuzz_replay 2>&1); frc=$?
    printf '%s\n' "$fout"
    fuzz=$(printf '%s\n' "$fout" | sed -n 's/^fuzz: \([0-9]* fuzzers.*\)/\1/p')
    [ $frc -eq 0 ] || { ffail=1; failed_list="$failed_list fuzz"; }
else
    ffail=1; failed_list="$failed_list fuzz(missing)"
fi

# The hardware differential: every policy on pvmmu's own hypervisor under QEMU against the simulator.
bm="not run"; bmfail=0
if [ -n "$FAST" ]; then
    bm=$fastmsg
elif [ -z "$qemu" ]; then
    unavailable qemu "$noqemu"; bm=$why
elif [ -s "$BUILD/baremetal/hv.bin" ] && [ -s "$BUILD/xen/dom0.elf" ]; then
    bagree=0; bruns=0; bms=0
    for mem in 64 128 256; do
        # At 64 MiB the hypervisor runs the auditor after every operation on the real tables.
        each=""; [ $mem -eq 64 ] && each=1
        bout=$(BUILD=$BUILD BAREMETAL_AUDIT_EACH=$each ./tests/baremetal-guests.sh $mem 2>&1); brc=$?
        printf '%s\n' "$bout"
        n=$(printf '%s\n' "$bout" | sed -n 's/^baremetal-guests: \([0-9]*\) of.*/\1/p')
        ms=$(printf '%s\n' "$bout" | sed -n 's/.*; \([0-9]*\) ms of QEMU$/\1/p')
        bagree=$((bagree + ${n:-0})); bruns=$((bruns + npol)); bms=$((bms + ${ms:-0}))
        if [ $brc -ne 0 ]; then bmfail=1; failed_list="$failed_list baremetal-${mem}M"; fi
    done
    aout=$(BUILD=$BUILD ./tests/attacks.sh 2>&1); arc=$?
    printf '%s\n' "$aout"
    [ $arc -eq 0 ] || { bmfail=1; failed_list="$failed_list attacks"; }
    attacks=$(printf '%s\n' "$aout" | sed -n 's/^attacks: //p')
    # Every scenario script, step by step, on the hypervisor (one boot per configuration) and the simulator.
    sbout=$(PVMMU_HV="$BUILD/baremetal/hv.bin" PVMMU_DOM0="$BUILD/xen/dom0.elf" \
            "$CLI" script --baremetal tests/scripts/*.pvm tests/xsa/*.pvm examples/*.pvm 2>&1); sbrc=$?
    printf '%s\n' "$sbout" | grep -v '^  skipped' || true
    bscripts=$(printf '%s\n' "$sbout" | sed -n "s/^pvmmu's hypervisor: //p" | head -n 1)
    [ $sbrc -eq 0 ] || { bmfail=1; failed_list="$failed_list baremetal-scripts"; }
    bm="$bagree of $bruns policy boots ($npol policies x 64/128/256 MiB) agree with the simulator on outcome, place, fault, refusal, every counter and the auditor (after every operation at 64 MiB); $bms ms of QEMU in all
  scenario scripts: ${bscripts:-no result}
  attacks: ${attacks:-no result}"
else
    bmfail=1; failed_list="$failed_list baremetal(missing)"
    bm="hypervisor image or kernel missing"
fi

# Debian's stock Linux on pvmmu's own hypervisor, to /init and power-off, against the same kernel on real Xen.
lhv="not run"; hrc=0
if [ -n "$FAST" ]; then
    lhv=$fastmsg
elif [ -z "$qemu" ]; then
    unavailable qemu "$noqemu"; lhv=$why
elif [ ! -s "$BUILD/linux/vmlinux" ] || [ ! -s "$BUILD/linux/initrd.gz" ]; then
    unavailable linux "no kernel at $BUILD/linux (make linux-fetch; make check fetches it when the packages of scripts/deps.sh linux are there)"
    lhv=$why
else
    hout=$(./tests/linux-hv.sh "$BUILD/baremetal/hv.bin" "$BUILD/linux" "$BUILD/linux-hv" 2>&1); hrc=$?
    printf '%s\n' "$hout" | grep -v '^linux-hv: \(passed\|FAILED\): ' || true
    lhv=$(printf '%s\n' "$hout" | sed -n 's/^linux-hv: \(passed\|FAILED\): //p' | tail -n 1)
    [ $hrc -eq 0 ] || failed_list="$failed_list linux-hv"
fi

# The differential against Debian's real Xen 4.17 under QEMU: scripted steps, then every policy.
xen="not run"; xfail=0
if [ -n "$FAST" ]; then
    xen=$fastmsg
elif [ -z "$qemu" ]; then
    unavailable qemu "$noqemu"; xen=$why
elif [ ! -s "${XEN_CACHE:-$BUILD/xen-cache}/xen" ] && [ -s "$BUILD/xen/dom0.elf" ]; then
    unavailable xen "no hypervisor image at ${XEN_CACHE:-$BUILD/xen-cache}/xen (scripts/xen-fetch.sh could not download Debian's xen-hypervisor-4.17-amd64; its message is above)"
    xen=$why
elif [ -s "${XEN_CACHE:-$BUILD/xen-cache}/xen" ] && [ -s "$BUILD/xen/dom0.elf" ]; then
    out=$(./scripts/xen-run.sh "${XEN_CACHE:-$BUILD/xen-cache}/xen" "$BUILD/xen/dom0.elf" 64)
    rc=$?
    steps=$(printf '%s\n' "$out" | grep -c '^step ' || true)
    if [ $rc -ne 33 ]; then
        xfail=1; failed_list="$failed_list xen-smoke"
        printf 'FAIL xen-smoke (qemu exit %d)\n%s\n' $rc "$out" | tail -n 30
    fi
    # Every scenario script, step by step, on both (one boot per Xen configuration).
    sout=$(PVMMU_XEN="${XEN_CACHE:-$BUILD/xen-cache}/xen" PVMMU_DOM0="$BUILD/xen/dom0.elf" \
           "$CLI" script --xen tests/scripts/*.pvm tests/xsa/*.pvm examples/*.pvm 2>&1); src=$?
    printf '%s\n' "$sout"
    sline=$(printf '%s\n' "$sout" | sed -n 's/^real Xen 4.17: //p' | head -n 1)
    if [ $src -ne 0 ]; then xfail=1; failed_list="$failed_list xen-scripts"; fi
    agreed=0; runs=0
    for mem in 64 128 256; do
        gout=$(BUILD=$BUILD ./tests/xen-guests.sh $mem 2>&1); grc=$?
        printf '%s\n' "$gout"
        n=$(printf '%s\n' "$gout" | sed -n 's/^xen-guests: \([0-9]*\) of \([0-9]*\).*/\1/p')
        agreed=$((agreed + ${n:-0})); runs=$((runs + npol))
        if [ $grc -ne 0 ]; then xfail=1; failed_list="$failed_list xen-guests-${mem}M"; fi
    done
    xen="$steps smoke steps$( [ $rc -eq 33 ] && echo ' as expected' || echo ' FAILED')
  scenario scripts: ${sline:-no result}
  guest: $agreed of $runs policy boots ($npol policies x 64/128/256 MiB dom0) agree with the simulator on outcome, place and counters"
else
    xfail=1; failed_list="$failed_list xen(missing)"
    xen="Xen image or dom0 kernel missing"
fi

echo "======================================================================"
echo "SUMMARY: cmocka $groups groups, $cases tests, $cfail failed;" \
     "scenario scripts $scripts, $sfail failed; malformed-input cases (scripts and command line) $bad, $bfail failed"
echo "verdicts (exit statuses and verdict lines, a full disk, --json against docs/pvmmu.schema.json): ${verdicts:-not run}"
echo "host out of memory (ulimit -v sweeps of boot, compare, script; exit 3 or the unlimited result): ${oom:-not run}"
echo "library as embedded (exports, no undefined symbols, public names, name clashes with .so and .a, <sys/user.h>, C++): ${embed:-not run}"
echo "documentation: ${links:-not run}; layout (docs/architecture.md): ${edges:-not run}"
echo "security regressions: $xsa advisory scripts, $xfailn failed; mutants ${mutants:-not run}"
echo "real Linux replay (a record of real Linux on real Xen, on the core): ${replay:-not run}"
echo "fuzzers (${FUZZ_CHECK_TIME:-10} s each, auditor and invariants after every operation): $fuzz"
echo "bare metal (pvmmu's hypervisor, QEMU): $bm"
echo "real Linux on pvmmu's hypervisor (Debian's kernel to /init, against real Xen): ${lhv:-no result}"
echo "real Xen 4.17: $xen"
if [ $gfail -ne 0 ] || [ $sfail -ne 0 ] || [ $vrc -ne 0 ] || [ $xfailn -ne 0 ] || [ $bfail -ne 0 ] || [ $xfail -ne 0 ] || [ $ffail -ne 0 ] || [ $bmfail -ne 0 ] || [ $ofail -ne 0 ] || [ $nfail -ne 0 ] || [ $rrc -ne 0 ] || [ $erc -ne 0 ] || [ $lrc -ne 0 ] || [ $irc -ne 0 ] || [ $hrc -ne 0 ]; then
    echo "FAILED:$failed_list"
    exit 1
fi
if [ -n "$FAST" ]; then
    echo "ALL PASSED (check-fast: no QEMU, Xen, fuzzers or out-of-memory sweeps; ASan+UBSan, auditor after every step)"
elif [ -n "$notrun_list" ]; then
    echo "NOT RUN here (their tools cannot be had; not failures):$notrun_list"
    echo "PASSED, except what did not run (ASan+UBSan, auditor after every step)"
else
    echo "ALL PASSED (ASan+UBSan, auditor after every step)"
fi
