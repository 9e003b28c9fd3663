#!/bin/sh
# verdicts.sh - what pvmmu says about a run is true: the exit status and the verdict lines of
# `script` (plain, --xen, --baremetal) when a script's own expectations fail or when it has nothing
# to run or compare; every printing command with its standard output on a full disk (/dev/full);
# a closed standard output or input (with QEMU runs among them: its pipe must not take their place);
# and --json output: one document on stdout, valid against docs/pvmmu.schema.json, every field in
# docs/json.md (tests/json-check.py, Debian's python3-jsonschema).
# Usage: BUILD=build tests/verdicts.sh PVMMU   (PVMMU_HV, PVMMU_DOM0, PVMMU_XEN default to the build tree's)
# VERDICTS_NO_QEMU=1 (make check-fast, or no QEMU here) leaves out the cases that run --xen or --baremetal,
# VERDICTS_NO_XEN=1 (no Xen image here) those that run --xen.
# Prints one line per failing case and a summary "verdicts: N cases, M failed".
set -u
P=$1
BUILD=${BUILD:-build}
export PVMMU_HV=${PVMMU_HV:-$BUILD/baremetal/hv.bin} PVMMU_DOM0=${PVMMU_DOM0:-$BUILD/xen/dom0.elf}
export PVMMU_XEN=${PVMMU_XEN:-${XEN_CACHE:-$BUILD/xen-cache}/xen}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; failed=0; skipped=0

# qemu_case ARG...: true (and counted as skipped) if pvmmu ARG... would start QEMU and QEMU is left out,
# or real Xen and Xen is left out (VERDICTS_NO_XEN=1: no hypervisor image here).
qemu_case() {
    case " $* " in
        *" --baremetal "*) [ -n "${VERDICTS_NO_QEMU:-}" ] || return 1 ;;
        *" --xen "*) [ -n "${VERDICTS_NO_QEMU:-}${VERDICTS_NO_XEN:-}" ] || return 1 ;;
        *) return 1 ;;
    esac
    skipped=$((skipped + 1))
}

fail() {
    failed=$((failed + 1))
    printf 'FAIL verdicts: pvmmu %s: %s\n' "$args" "$1"
    sed -n '1,8s/^/    /p' "$tmp/out" "$tmp/err"
}

# verdict RC OUT ERR ARG...: run pvmmu ARG...; it must exit RC, its stdout must contain OUT (or be empty
# if OUT is "-"), and its stderr must be one line containing ERR (or be empty if ERR is "-").
verdict() {
    want=$1 out=$2 err=$3; shift 3
    qemu_case "$@" && return
    n=$((n + 1)); args="$*"
    "$P" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; rc=$?
    if [ $rc -ne "$want" ]; then fail "exit $rc, wanted $want"; return; fi
    if [ "$out" = - ]; then
        [ -s "$tmp/out" ] && { fail "printed on stdout, wanted nothing"; return; }
    elif ! grep -qF -- "$out" "$tmp/out"; then
        fail "no line on stdout contains \"$out\""; return
    fi
    if [ "$err" = - ]; then
        [ -s "$tmp/err" ] && { fail "printed on stderr, wanted nothing"; return; }
    elif [ "$(grep -c '' "$tmp/err")" -ne 1 ] || ! grep -qF -- "$err" "$tmp/err"; then
        fail "wanted one stderr line containing \"$err\""; return
    fi
}

# full ARG...: pvmmu ARG... with stdout on a full disk must say so in one line on stderr and exit 2.
full() {
    qemu_case "$@" && return
    n=$((n + 1)); args="$* >/dev/full"
    : >"$tmp/out"
    "$P" "$@" >/dev/full 2>"$tmp/err" </dev/null; rc=$?
    if [ $rc -ne 2 ] || [ "$(grep -c '' "$tmp/err")" -ne 1 ] ||
       ! grep -qF "cannot write standard output: No space left on device" "$tmp/err"; then
        fail "exit $rc; wanted exit 2 and one stderr line \"cannot write standard output: No space left on device\""
    fi
}

# -- a script whose own expectations fail: a step written -> -EINVAL that returns 0 everywhere, and an
#    assertion on simulator state that no hypervisor can check
printf 'domain d1\nframe d1 a\nmmuext d1 tlb_flush_local -> -EINVAL\n' >"$tmp/wrong-rc.pvm"
printf 'domain d1\nframe d1 a\nmmuext d1 tlb_flush_local\nexpect stat pins=5\n' >"$tmp/wrong-stat.pvm"
verdict 1 "wrong-rc.pvm:3: FAIL mmuext: mmuext_op returned 0, expected -EINVAL" - script "$tmp/wrong-rc.pvm"
verdict 1 "FAIL on pvmmu's hypervisor: returned 0, expected -EINVAL" - script --baremetal "$tmp/wrong-rc.pvm"
verdict 1 "pvmmu's hypervisor: 0 of 1 scripts pass and agree; 1 of 1 steps compared agree; 0 of 1 meet the script's expectations" - \
    script --baremetal "$tmp/wrong-rc.pvm"
verdict 1 "simulator: 0 of 1 scripts pass as written" - script --baremetal "$tmp/wrong-stat.pvm"
verdict 1 "real Xen 4.17: 1 of 3 scripts pass and agree" - script --xen "$tmp/wrong-rc.pvm" tests/scripts/ptwr.pvm "$tmp/wrong-stat.pvm"
verdict 1 "FAIL on real Xen 4.17: returned 0, expected -EINVAL" - script --xen "$tmp/wrong-rc.pvm"
# ... and the same step written as it behaves passes everywhere
sed 's/ -> -EINVAL//' "$tmp/wrong-rc.pvm" >"$tmp/right.pvm"
verdict 0 "pvmmu's hypervisor: 1 of 1 scripts pass and agree; 1 of 1 steps compared agree; 1 of 1 meet" - \
    script --baremetal "$tmp/right.pvm"

# -- nothing to run is not a pass, in every mode; nothing to compare is not a differential
printf '# only a comment\n\n' >"$tmp/comments.pvm"
: >"$tmp/empty.pvm"
printf 'machine frames=64\n' >"$tmp/machine.pvm"
printf 'domain d1 vcpus=2\nframe d1 a\nexpect stat pins=0\nmmuext d1v1 pin_l1 a\n' >"$tmp/nothing.pvm"
for mode in "" --xen --baremetal; do
    # shellcheck disable=SC2086
    verdict 2 - "comments.pvm: no steps to run" script $mode "$tmp/comments.pvm"
    # shellcheck disable=SC2086
    verdict 2 - "empty.pvm: no steps to run" script $mode tests/scripts/ptwr.pvm "$tmp/empty.pvm"
done
verdict 2 - "machine.pvm: no steps to run" script "$tmp/machine.pvm"
verdict 2 - "nothing.pvm: nothing to compare on pvmmu's hypervisor: no step can run there (line 4: runs on a second vCPU" \
    script --baremetal "$tmp/nothing.pvm"
verdict 2 - "nothing.pvm: nothing to compare on real Xen 4.17" script --xen "$tmp/nothing.pvm"

# -- without --mem: boot 1G, compare 8G, compare --baremetal 128M (its 8G would be refused), as the usage says
verdict 0 "pvmmu compare: 128 MiB guest on pvmmu's hypervisor under QEMU" - compare --baremetal
verdict 0 "usage: pvmmu boot [--mem SIZE] --policy NAME" - help
verdict 0 "QEMU (default 128M, at most 2048M)" - help

# -- compare's header says what "ok" means: the auditor ran, or (--no-audit) it did not
verdict 0 "64 MiB guest on the simulated PV MMU (ok = booted, auditor clean)" - compare --mem 64M
verdict 0 "(--no-audit: ok = booted, auditor not run)" - compare --mem 64M --no-audit
verdict 0 "on pvmmu's hypervisor under QEMU (ok = booted, auditor clean)" - compare --baremetal --mem 64M

# narrow WHICH ARG...: pvmmu ARG... fits a 100-column terminal: no line of its stdout (WHICH=all), or no
# indented line (WHICH=indented: a script's explanations, not its NAME:LINE verdicts), is longer than 100
# columns, except quotations of Xen's log ("(XEN) ..."), which stay whole.
narrow() {
    which=$1; shift
    qemu_case "$@" && return
    n=$((n + 1)); args="$*"
    "$P" "$@" >"$tmp/all" 2>"$tmp/err" </dev/null
    LC_ALL=C awk -v which="$which" 'length > 100 && !/^ *\(XEN\) / && (which == "all" || /^ /)' "$tmp/all" >"$tmp/out"
    [ -s "$tmp/out" ] && fail "$(grep -c '' "$tmp/out") line(s) longer than 100 columns:"
}

# -- a 100-column terminal: make run (compare), a failing boot (every kind of failure), the account of a
#    failed script step, plain and -v
printf 'domain d1\nframe d1 l1 data\nset l1[1] = l1|P|RW\nmmuext d1 pin_l1 l1 -> -EINVAL\n' >"$tmp/wrong-pin.pvm"
cat >"$tmp/wrong-store.pvm" <<'EOF'
# a store through a read-only mapping of an L4, then one that would map the pinned L4 writable
domain d1
frame d1 l4 l3 l2 l1 f
set l4[0] = l3|P|RW
set l3[0] = l2|P|RW
set l2[0] = l1|P|RW
set l1[0] = f|P
set l1[1] = l4|P
set l1[2] = l1|P
mmuext d1 pin_l4 l4
mmuext d1 new_baseptr l4
vm_assist d1 enable writable_pagetables
store d1 va(0,0,0,1) 7
store d1 va(0,0,0,2)+8 l4|P|RW
EOF
narrow all compare
narrow all help
narrow all boot --policy linux-2.6.39 --mem 1G
narrow all boot --policy no-reserve --mem 8G
narrow all boot --policy defer-table
narrow all compare --baremetal --mem 64M
narrow indented script "$tmp/wrong-pin.pvm"
narrow indented script -v "$tmp/wrong-pin.pvm"
narrow indented script "$tmp/wrong-store.pvm"

# -- a full disk: every command that prints
full compare --mem 128M
full compare --mem 128M --json
full boot --mem 128M --policy batched
full boot --mem 128M --policy defer-table
full boot --mem 128M --policy batched --json
full boot --mem 128M --policy batched -v
full script tests/scripts/ptwr.pvm
full script -v tests/scripts/ptwr.pvm
full script --baremetal tests/scripts/ptwr.pvm
full version
full help

# closed_out ARG...: pvmmu ARG... with stdout closed (>&-) must say so in one line on stderr and exit 2; a pipe
# or file opened on the free descriptor 1 (QEMU's output, a script) must not take stdout's place.
closed_out() {
    qemu_case "$@" && return
    n=$((n + 1)); args="$* >&-"
    : >"$tmp/out"
    "$P" "$@" >&- 2>"$tmp/err" </dev/null; rc=$?
    if [ $rc -ne 2 ] || [ "$(grep -c '' "$tmp/err")" -ne 1 ] ||
       ! grep -qF "pvmmu: cannot write standard output: Bad file descriptor" "$tmp/err"; then
        fail "exit $rc; wanted exit 2 and one stderr line \"pvmmu: cannot write standard output: Bad file descriptor\""
    fi
}

# closed_in OUT ARG...: pvmmu ARG... with stdin closed (<&-) runs as with stdin on /dev/null: exit 0, a stdout
# line containing OUT, nothing on stderr (QEMU must not inherit the closed descriptor, nor the pipe on it).
closed_in() {
    want=$1; shift
    qemu_case "$@" && return
    n=$((n + 1)); args="$* <&-"
    "$P" "$@" >"$tmp/out" 2>"$tmp/err" <&-; rc=$?
    if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || ! grep -qF -- "$want" "$tmp/out"; then
        fail "exit $rc; wanted exit 0, nothing on stderr and a stdout line containing \"$want\""
    fi
}

# -- a closed standard output or input, with and without QEMU
closed_out version
closed_out script tests/scripts/ptwr.pvm
closed_out script --baremetal tests/scripts/ptwr.pvm
closed_out compare --baremetal --mem 64M
closed_in "pvmmu's hypervisor: 1 of 1 scripts pass and agree" script --baremetal tests/scripts/ptwr.pvm
closed_in "linux-2.6.39" compare --baremetal --mem 64M

# -- --json: stdout is one document, -v's lines go to stderr, and every document matches the documentation
n=$((n + 1)); args="boot --mem 128M --policy defer-table --json -v"
"$P" boot --mem 128M --policy defer-table --json -v >"$tmp/verbose.json" 2>"$tmp/verbose.err"
if [ "$(grep -c '' "$tmp/verbose.json")" -ne 1 ] || ! grep -q '^(XEN) ' "$tmp/verbose.err" ||
   ! grep -q '^\[guest\] ' "$tmp/verbose.err"; then
    cp "$tmp/verbose.json" "$tmp/out"; cp "$tmp/verbose.err" "$tmp/err"
    fail "wanted one line (the JSON) on stdout and the [guest] and (XEN) lines on stderr"
fi
for p in batched defer-table no-reserve linux-2.6.39; do
    "$P" boot --mem 128M --policy "$p" --json >"$tmp/boot-$p.json"
done
"$P" compare --mem 128M --json >"$tmp/compare.json"
[ -n "${VERDICTS_NO_QEMU:-}" ] || "$P" compare --baremetal --mem 64M --json >"$tmp/compare-baremetal.json"
n=$((n + 1)); args="boot/compare --json against docs/pvmmu.schema.json and docs/json.md"
if ! "$PY" tests/json-check.py docs/pvmmu.schema.json docs/json.md "$tmp/verbose.json" "$tmp"/boot-*.json \
        "$tmp/compare.json" $( [ -s "$tmp/compare-baremetal.json" ] && echo "$tmp/compare-baremetal.json") >"$tmp/out" 2>"$tmp/err"; then
    fail "output does not match the documentation"
fi

# A refused frame with the longest name a script allows is named whole in the explanation.
n=$((n + 1)); args="script (a 63-character frame name in an explanation)"
name=$(printf 'x%.0s' $(seq 63))
printf 'domain d1\nframe d1 %s b\nset %s[1] = %s|P|RW\nmmuext d1 pin_l1 %s -> -EINVAL\n' "$name" "$name" "$name" "$name" \
    >"$tmp/longname.pvm"
"$P" script "$tmp/longname.pvm" >"$tmp/out" 2>"$tmp/err"
tr -d '\n' <"$tmp/out" | grep -q "frame: $name = mfn" || fail "the frame line does not name the frame whole"

# `pvmmu policies` names the policies compare runs, in compare's order (the differentials loop over it).
n=$((n + 1)); args="policies"
"$P" policies | cut -f1 >"$tmp/out" 2>"$tmp/err"
"$PY" -c 'import json,sys; print("\n".join(r["policy"] for r in json.load(open(sys.argv[1]))["policies"]))' \
    "$tmp/compare.json" >"$tmp/want" 2>>"$tmp/err"
cmp -s "$tmp/out" "$tmp/want" || fail "pvmmu policies does not list compare's policies in its order"

echo "verdicts: $n cases, $failed failed$( [ $skipped -eq 0 ] || echo " ($skipped more run QEMU or Xen: not run)")"
[ $failed -eq 0 ]
