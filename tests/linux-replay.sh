#!/bin/sh
# linux-replay.sh - real Linux's page-table stream, recorded on real Xen (make linux-trace, docs/trace.md),
# replayed on the core: every record under build/linux/ must agree event for event (pvmmu replay exits 0).
# Then deliberately wrong rules, each a one-place edit to a copy of core/ (as tests/xsa-mutants.sh makes
# them, never committed), must make the replay stop (exit 1) at the first line of the record they change,
# which this script finds in the record on its own.  Without a record it says so and passes.  Before all
# that, tests/replay/synthetic.trace, written by hand, must agree, and copies of it with one line changed
# must stop at that line.
# Usage: tests/linux-replay.sh CLI [OUTDIR]     Prints one line per record and mutant, then a summary.
set -u
CLI=$1
out=${2:-build/replay-mutants}
CC=${CC:-cc}
mkdir -p "$out"

# First a record written by hand (tests/replay/synthetic.trace: every kind of event, each of Xen's preemption
# patterns), which must agree; then copies of it with one line changed, which must stop at that line.
syn=tests/replay/synthetic.trace
planted=0; pcaught=0; fail=0
if ! res=$("$CLI" replay "$syn" 2>&1) || ! printf '%s\n' "$res" | grep -q '^agreement: .*auditor clean$'; then
    fail=1; echo "replay $syn: does not agree"; printf '%s\n' "$res" | tail -n 15
fi
# plant NAME OLD NEW [NTH]: the NTH (default 1st) line OLD of the synthetic record becomes NEW; the replay must stop
# there (exit 1) with NEW as its record line.
plant() {
    awk -v old="$2" -v new="$3" -v nth="${4:-1}" '$0 == old && ++n == nth { $0 = new } { print }' "$syn" >"$out/$1.trace"
    stops_at "$1" "$(grep -n -x -F -- "$3" "$out/$1.trace" | head -n 1 | cut -d: -f1)"
}
# plant2 NAME OLD NEW OLD2 NEW2 [NTH2]: the first line OLD becomes NEW and the NTH2 (default 1st) OLD2 becomes NEW2,
# a later line; the replay must stop at NEW's line, the earlier of the two in the record (whatever order it replays
# them in).  A request's result with its call's, so that the record still agrees with itself.
plant2() {
    awk -v old="$2" -v new="$3" -v old2="$4" -v new2="$5" -v nth2="${6:-1}" \
        '$0 == old && !n++ { $0 = new } $0 == old2 && ++n2 == nth2 { $0 = new2 } { print }' "$syn" >"$out/$1.trace"
    stops_at "$1" "$(grep -n -x -F -- "$3" "$out/$1.trace" | head -n 1 | cut -d: -f1)"
}
# drop NAME OLD AT [NTH]: the NTH (default 1st) line OLD of the synthetic record is deleted; the replay must stop
# (exit 1) at the first line AT after where it was.
drop() {
    awk -v old="$2" -v nth="${4:-1}" '$0 == old && ++n == nth { next } { print }' "$syn" >"$out/$1.trace"
    stops_at "$1" "$(awk -v old="$2" -v at="$3" -v nth="${4:-1}" \
        '$0 == old && ++n == nth { gone = NR } gone && NR > gone && $0 == at { print NR - 1; exit }' "$syn")"
}
# stops_at NAME WANT: the replay of $out/NAME.trace must stop (exit 1) at line WANT.
stops_at() {
    planted=$((planted + 1))
    want=$2
    res=$("$CLI" replay "$out/$1.trace" 2>&1); rc=$?
    at=$(printf '%s\n' "$res" | sed -n 's/^pvmmu replay: .*:\([0-9]*\): the core disagrees with Xen.*/\1/p')
    if [ $rc -eq 1 ] && [ -n "$want" ] && [ "$at" = "$want" ]; then
        pcaught=$((pcaught + 1))
    else
        fail=1; echo "planted $1: NOT stopped at line '$want' (exit $rc, line '$at')"; printf '%s\n' "$res" | tail -n 10
    fi
}
plant2 result "mx 4 104 0 0" "mx 4 104 0 -22" "hr 1a 0" "hr 1a -22" 2
plant contents "vb 104 l1 0 0:10000000105025" "vb 104 l1 0 0:10000000106025" 2
plant stored "pw 104 1 0 106063 10000000106067 ok 4008 8 -" "pw 104 1 0 106063 10000000106063 ok 4008 8 -"
plant old "pw 104 1 0 106063 10000000106067 ok 4008 8 -" "pw 104 1 107063 106063 10000000106067 ok 4008 8 -"
plant pw-size "pw 104 1 0 106063 10000000106067 ok 4008 8 -" "pw 104 1 0 106063 10000000106067 ok 400c 4 -"
plant pw-cmpxchg "pw 104 1 0 106063 10000000106067 ok 4008 8 -" "pw 104 1 0 106063 10000000106067 ok 4008 8 5"
plant mu-stored "mu 102008 107067 0 107067" "mu 102008 107067 0 107063"
plant uv-slot "uv 103 5 10000000105027" "uv 103 6 10000000105027"
plant uv-stored "uv 103 5 10000000105027" "uv 103 5 10000000105025"
plant fault "tr e 2 200000 ffffffff81000000 k hw" "tr e 3 200000 ffffffff81000000 k hw"
plant final-frame "frame 106 1 writable 2 3 av" "frame 106 1 writable 1 2 av"
plant final-pages "dom 0 ff ffffffff" "dom 0 fe ffffffff"
plant final-root "cr3 100 0" "cr3 108 0" 2
plant freed "xin 1f0 f0" "xin 105 f0"
plant2 entry "mr 0 e 0" "mr 0 e -1" "uv 103 5 10000000105027" "uv 103 5 -"
plant2 reissued "mx 3 108 0 0" "mx 3 108 0 -16" "mr 0 1a 0" "mr 0 1a -16"
plant received "xout 200 f0 0" "xout 200 f0 3f"
plant xref-refused "xref 10d vcpu_info 0" "xref 10d vcpu_info -22"
plant xref-taken "xref 104 evtchn -22" "xref 104 evtchn 0"
plant xput-not-held "xput 10e evtchn" "xput 10c evtchn"
plant held-pin "mx 0 10d 0 -22" "mx 0 10d 0 0"
plant final-held "frame 10d 1 writable 1 2 av" "frame 10d 1 writable 0 1 av"
drop dn "dn 1" "hr 1a 0"
# A write between a preempted call and its re-issue (replayed after the whole call) and a later line of the re-issue.
plant2 gap "pw 104 2 0 106063 10000000106067 ok 4010 8 -" "pw 104 2 0 106063 10000000106063 ok 4010 8 -" "dn 2" "dn 3"
# initial NAME OLD NEW: a header line of the synthetic record changed; the replay must find the initial state differs
# (exit 1) and name that line, "line N:", in each difference it prints.
initial() {
    planted=$((planted + 1))
    awk -v old="$2" -v new="$3" '$0 == old { $0 = new } { print }' "$syn" >"$out/$1.trace"
    want=$(grep -n -x -F -- "$3" "$out/$1.trace" | head -n 1 | cut -d: -f1)
    res=$("$CLI" replay "$out/$1.trace" 2>&1); rc=$?
    # the differences: the lines between the first paragraph ("... read in T s") and "initial state:", each
    # "  line N: ..." or its continuation
    block=$(printf '%s\n' "$res" | sed -n '/read in [0-9.]* s$/,/^initial state:/p' | sed '1d;$d')
    named=$(printf '%s\n' "$block" | grep -c "^  line $want: ")
    other=$(printf '%s\n' "$block" | grep -v "^  line $want: " | grep -c -v '^    ')
    if [ $rc -eq 1 ] && [ -n "$want" ] && [ "$named" -ge 1 ] && [ "$other" -eq 0 ]; then
        pcaught=$((pcaught + 1))
    else
        fail=1; echo "planted $1: initial state NOT said to differ at line '$want' (exit $rc)"; printf '%s\n' "$res" | head -n 8
    fi
}
initial frameref "frame 104 1 none 0 2 a" "frame 104 1 none 0 3 a"
initial dompages "dom 0 100 ffffffff" "dom 0 101 ffffffff"
# No line the replay prints is wider than 100 columns (record lines are cut, prose wrapped): -v of a copy of the
# synthetic record whose L1 104 has 32 more entries, not present (a long vb line), the same with that line's last entry changed
# (a disagreement at it), and with a frame line changed (the initial state differs).
long=$(awk 'BEGIN { for (i = 8; i < 40; i++) printf " %x:10000000%x024", i, 336 + i - 8 }')
awk -v long="$long" '$0 == "vb 104 l1 0 0:10000000105025" { $0 = $0 long } { print }' "$syn" >"$out/wide.trace"
awk '/^vb 104 l1 0 0:.* 27:1000000016f024$/ && ++n == 2 { sub(/16f024$/, "16e024") } { print }' \
    "$out/wide.trace" >"$out/wide-miss.trace"
sed 's/^frame 104 1 none 0 2 a$/frame 104 1 none 0 3 a/' "$out/wide.trace" >"$out/wide-init.trace"
for w in wide:0 wide-miss:1 wide-init:1; do
    planted=$((planted + 1))
    res=$("$CLI" replay -v "$out/${w%:*}.trace" 2>&1); rc=$?
    cols=$(printf '%s\n' "$res" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
    if [ $rc -eq "${w#*:}" ] && [ "$cols" -le 100 ]; then
        pcaught=$((pcaught + 1))
    else
        fail=1; echo "replay -v ${w%:*}: exit $rc (wanted ${w#*:}), lines up to $cols columns (wanted 100 at most)"
        printf '%s\n' "$res" | awk 'length($0) > 100' | head -n 5
    fi
done
# -v of a multicall of 17 entries (more than its first allocation of them) must agree and print every line.
awk '{ print } $0 == "init-end" { print "hc d 3000 11"
       for (k = 0; k < 17; k++) printf "mc %x 1a %x 1 0 7ff0\nmx 6 0 0 0\nmr %x 1a 0\n", k, 16384 + 24 * k, k
       print "hr d 0" }' "$syn" >"$out/mc17.trace"
res=$("$CLI" replay -v "$out/mc17.trace" 2>&1); rc=$?
if [ $rc -ne 0 ] || [ "$(printf '%s\n' "$res" | grep -c '^ *[0-9]*  mr .* | pvmmu: 0$')" -ne "$(grep -c '^mr ' "$out/mc17.trace")" ]; then
    fail=1; echo "replay -v mc17.trace: exit $rc, or not every entry's answer printed"; printf '%s\n' "$res" | tail -n 5
fi
# dom0's iomem ranges are taken as the record has them, holes included: a copy of the synthetic record whose two
# ranges leave out frame 80, and in which Xen refused (-EPERM) dom0's update_va_mapping of it (frame 105 then one
# mapping short at the end), must agree; the same copy with one range over the hole must stop at that entry's result
# (the core maps the frame).
awk '$0 == "iomem 0 ff" { print "iomem 0 7f"; $0 = "iomem 81 ff" }
     $0 == "mc 0 e 5000 10000000105027 0" { $0 = "mc 0 e 5000 80027 0" }
     $0 == "uv 103 5 10000000105027" { $0 = "uv 103 5 -" } $0 == "mr 0 e 0" { $0 = "mr 0 e -1" }
     $0 == "frame 105 1 writable 1 3 av" { $0 = "frame 105 1 writable 0 2 av" } { print }' "$syn" >"$out/iomem-hole.trace"
planted=$((planted + 1))
if res=$("$CLI" replay "$out/iomem-hole.trace" 2>&1) && printf '%s\n' "$res" | grep -q '^agreement: .*auditor clean$'; then
    pcaught=$((pcaught + 1))
else
    fail=1; echo "replay iomem-hole.trace: does not agree"; printf '%s\n' "$res" | tail -n 10
fi
sed '/^iomem 81 ff$/d; s/^iomem 0 7f$/iomem 0 ff/' "$out/iomem-hole.trace" >"$out/iomem-nohole.trace"
stops_at iomem-nohole "$(grep -n -x -F "mr 0 e -1" "$out/iomem-nohole.trace" | cut -d: -f1)"
# A final state that leaves out one of dom0's frames stops at fin (the count of frames listed).
grep -v -x -F "frame 104 1 l1 1 3 apv" "$syn" >"$out/final-missing.trace"
stops_at final-missing "$(grep -n -x fin "$out/final-missing.trace" | cut -d: -f1)"
# A record cut short (no end line), of the older format, with a final frame run past the machine or
# the flag h on a frame Xen never shared cannot be read: exit 2, one line.
head -n 120 "$syn" >"$out/cut.trace"
sed '1s/2$/1/' "$syn" >"$out/v1.trace"
sed 's/^frame 109 1 l3 1 2 av$/frame 109 ffffffffffffffff l3 1 2 av/' "$syn" >"$out/huge.trace"
sed 's/^frame 10f e1 none 0 1 a$/frame 10f e1 none 0 1 ah/' "$syn" >"$out/hflag.trace"
for bad in cut v1 huge hflag; do
    res=$("$CLI" replay "$out/$bad.trace" 2>&1); rc=$?
    if [ $rc -ne 2 ] || [ "$(printf '%s\n' "$res" | wc -l)" -ne 1 ]; then
        fail=1; echo "replay $bad.trace: expected exit 2 and one line, got exit $rc:"; printf '%s\n' "$res" | head -n 5
    fi
done
syn_line="synthetic record agrees, $pcaught of $planted planted differences stopped at their line"

records=$(ls build/linux/trace-*.txt 2>/dev/null)
if [ -z "$records" ]; then
    echo "linux-replay: $syn_line; real records not run: no record (make linux-trace)"
    [ $fail -eq 0 ] && [ $pcaught -eq $planted ]
    exit
fi

agree=0; nrec=0; lines=0
for rec in $records; do
    nrec=$((nrec + 1))
    res=$("$CLI" replay "$rec" 2>&1); rc=$?
    if [ $rc -eq 0 ] && printf '%s\n' "$res" | grep -q '^agreement: .*auditor clean$'; then
        agree=$((agree + 1))
        lines=$((lines + $(wc -l < "$rec")))
        echo "replay $rec: agrees on every event, auditor clean ($(printf '%s\n' "$res" | sed -n 's/^replay: //p'))"
    else
        fail=1
        echo "replay $rec: exit $rc"
        printf '%s\n' "$res" | sed -n '/disagrees\|DIFFER\|differences\|audit:/,$p' | head -n 30
    fi
done

# The line of the first event each wrong rule changes, found in the record: first_change RECORD KIND.
first_change() {
    python3 - "$1" "$2" <<'PY'
import sys
path, kind = sys.argv[1], sys.argv[2]
io, maxpage, first, uvm = [], 0, None, "0"
def mfn(v):
    return (int(v, 16) >> 12) & 0xffffffffff
def is_io(v):
    n = int(v, 16)
    return n & 1 and (mfn(v) >= maxpage or any(a <= mfn(v) < a + n_ for a, n_ in io))
for no, line in enumerate(open(path), 1):
    w = line.split()
    if not w:
        continue
    if w[0] == "machine":
        maxpage = int(w[1], 16)
    elif w[0] == "own" and w[3] == "io":
        io.append((int(w[1], 16), int(w[2], 16)))
    elif kind == "nodeval" and w[0] == "db" and w[2] != "seg":
        first = no
    elif kind == "ioram" and ((w[0] == "mu" and int(w[1], 16) & 5 == 0 and is_io(w[2])) or
                              (w[0] == "hc" and w[1] == "e" and is_io(w[3])) or
                              (w[0] == "mc" and w[2] == "e" and is_io(w[4])) or
                              (w[0] == "pw" and is_io(w[4]))):
        first = no
    elif kind == "mmiowb" and w[0] in ("hc", "mc") and w[1 + (w[0] == "mc")] == "e":
        uvm = w[3 + (w[0] == "mc")]      # the entry an update_va_mapping asks for; its uv line has what Xen stored
    elif kind == "mmiowb" and ((w[0] == "pw" and w[5] != "-" and (int(w[5], 16) ^ int(w[4], 16)) & 0x18) or
                               (w[0] == "mu" and w[4] != "-" and (int(w[4], 16) ^ int(w[2], 16)) & 0x18) or
                               (w[0] == "uv" and w[3] != "-" and (int(w[3], 16) ^ int(uvm, 16)) & 0x18)):
        first = no
    if first:
        print(first)
        break
PY
}

# pvmmu built against copies of core/ with one rule taken out (tests/mutant-build.sh).
MUTANT_FLAGS="-std=c11 -O1 -w -Iinclude -Ilib"
. ./tests/mutant-build.sh
mutant_host_objects "$out" || exit 2

rec=$(echo "$records" | head -n 1)
n=0; caught=0
# mutant NAME FILE SUBST WHAT: the replay of $rec must stop at the line first_change finds for NAME.
mutant() {
    n=$((n + 1))
    want=$(first_change "$rec" "$1")
    if ! mutant_build "$out" "$1" "$2" "$3" tests/linux-replay.sh; then
        fail=1; return
    fi
    res=$("$out/$1/pvmmu" replay "$rec" 2>&1); rc=$?
    at=$(printf '%s\n' "$res" | sed -n 's/^pvmmu replay: .*:\([0-9]*\): the core disagrees with Xen.*/\1/p')
    if [ $rc -eq 1 ] && [ -n "$want" ] && [ "$at" = "$want" ]; then
        caught=$((caught + 1))
        echo "mutant $1 ($4): stops at line $at, the first recorded answer it changes -"
        printf '%s\n' "$res" | sed -n '/disagrees/,/^  pvmmu:/p' | sed 's/^/    /'
    else
        fail=1
        echo "mutant $1 ($4): NOT stopped where it should be (exit $rc, line '${at}', the first it changes '${want}')"
        printf '%s\n' "$res" | tail -n 12
    fi
}

mutant nodeval page.c 's/(\n\s*pg->type_info = x & ~PGT_validated;\n)/\n        if (0) {$1/; s/(demote_table\([^\n]*\n[^\n]*PVM_DEVALIDATE_END, 0\);\n)/$1        }\n/' \
    "a table keeps its validation when its last type reference goes"
mutant ioram entry.c 's/if \(is_io_frame\(m, mfn\)\) \{\n(\s*struct pvm_domain \*pgo)/if (!mfn_valid(m, mfn)) {\n$1/' \
    "DOMID_IO's frames inside machine memory taken for RAM"
mutant mmiowb entry.c 's/\(uncacheable\(l1f\) \? 0 : \(l1f & F_CACHE_ATTRS\) \^ \(F_PCD \| F_PWT\)\)/0/' \
    "MMIO left cacheable (XSA-154's rule out: the first entry Xen stored with its cache bits forced)"

echo "linux-replay: $syn_line; $agree of $nrec real record(s) agree on every event ($lines lines); wrong rules $n, $caught stopped at the first recorded answer they change"
[ $fail -eq 0 ] && [ $pcaught -eq $planted ] && [ $agree -eq $nrec ] && [ $caught -eq $n ]
