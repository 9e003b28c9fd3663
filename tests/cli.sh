#!/bin/sh
# cli.sh - bad input through the command line: every case must print exactly one line on
# stderr naming the problem, nothing on stdout, and exit with status 2.
# Usage: tests/cli.sh PVMMU   Prints one line per failing case and a summary "cli: N cases, M failed".
set -u
P=$1
tmp=$(mktemp -d)
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
n=0; failed=0

# bad WANT ARG...: run pvmmu ARG..., expect exit 2, no stdout, one stderr line containing WANT.
# bad_env VAR=VALUE WANT ARG...: the same with VAR set in pvmmu's environment.
bad() { bad_env "" "$@"; }
bad_env() {
    envset=$1 want=$2; shift 2
    n=$((n + 1))
    # shellcheck disable=SC2086
    env $envset "$P" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; rc=$?
    lines=$(grep -c '' "$tmp/err")
    if [ $rc -ne 2 ] || [ -s "$tmp/out" ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err"; then
        failed=$((failed + 1))
        printf 'FAIL cli: %spvmmu %s: exit %d, %s stderr line(s), %s bytes on stdout; wanted exit 2 and one line containing "%s"\n' \
            "${envset:+$envset }" "$*" $rc "$lines" "$(wc -c <"$tmp/out")" "$want"
        head -n 5 "$tmp/err"
    fi
}

# -- commands
bad "expected a command"                  # no arguments at all
bad "unknown command 'frobnicate'"        frobnicate
bad "unknown command ''"                  ""
bad "pvmmu version: unknown argument 'extra' (version takes none)"  version extra
bad "pvmmu help: unknown argument 'extra' (help takes none)"        help extra
bad "pvmmu --version: unknown argument ''"                           --version ""
bad "pvmmu policies: unknown argument 'x' (policies takes none)"   policies x
# -- sizes
bad "bad size '0': must be more than zero"            boot --mem 0 --policy batched
bad "bad size '0G': must be more than zero"           boot --mem 0G --policy batched
bad "bad size '-1G'"                                  boot --mem -1G --policy batched
bad "bad size '-0'"                                   boot --mem -0 --policy batched
bad "bad size 'lots'"                                 boot --mem lots --policy batched
bad "bad size ''"                                     boot --mem "" --policy batched
bad "bad size ' 1G'"                                  boot --mem " 1G" --policy batched
bad "bad size '1.5G'"                                 boot --mem 1.5G --policy batched
bad "bad size '0x40000000'"                           boot --mem 0x40000000 --policy batched
bad "bad size '8Q'"                                   boot --mem 8Q --policy batched
bad "bad size '8GG'"                                  boot --mem 8GG --policy batched
bad "bad size '1G '"                                  boot --mem "1G " --policy batched
bad "at most 1T is supported"                         boot --mem 2T --policy batched
bad "at most 1T is supported"                         boot --mem 1025G --policy batched
bad "at most 1T is supported"                         boot --mem 18446744073709551615 --policy batched
bad "bad size '99999999999999999999999G'"             boot --mem 99999999999999999999999G --policy batched
bad "must be a multiple of 2 MiB and at least 64M"    boot --mem 65M --policy batched
bad "must be a multiple of 2 MiB and at least 64M"    boot --mem 1000000K --policy batched
bad "must be a multiple of 2 MiB and at least 64M"    boot --mem 4095 --policy batched
bad "must be a multiple of 2 MiB and at least 64M"    boot --mem 32M --policy batched
bad "--mem needs a value"                             boot --policy batched --mem
bad "bad size '0': must be more than zero"            compare --mem 0
bad "at most 1T is supported"                         compare --mem 4T
# -- policies and arguments
bad "unknown policy 'nope' (expected one of: linux-2.6.39"  boot --mem 1G --policy nope
bad "unknown policy 'BATCHED'"                        boot --mem 1G --policy BATCHED
bad "unknown policy ''"                               boot --mem 1G --policy ""
bad "--policy needs a value"                          boot --mem 1G --policy
bad "--policy NAME is required"                       boot --mem 1G
bad "--policy is not an option here"                  compare --policy batched
bad "unknown argument '--frobnicate'"                 boot --mem 1G --policy batched --frobnicate
bad "unknown argument 'extra'"                        compare extra
bad "unknown argument '-v'"                           compare -v          # boot -v shows one guest's log
# -- the bare-metal runs
bad "--baremetal supports at most 2048M"              compare --baremetal --mem 4G
bad "unknown argument '--baremetal'"                  boot --baremetal --mem 1G --policy batched
bad "--no-audit is not an option with --baremetal"    compare --baremetal --mem 64M --no-audit
bad_env PVMMU_HV="$tmp/no-hv.bin" "no-hv.bin not readable" compare --baremetal --mem 64M
bad_env PVMMU_HV="$tmp/no-hv.bin" "script --baremetal: $tmp/no-hv.bin not readable" script --baremetal tests/scripts/ptwr.pvm
# -- QEMU killed by a signal: the reason is said, not an unfilled buffer (a stand-in QEMU that kills itself)
mkdir "$tmp/bin"
printf '#!/bin/sh\nkill -9 $$\n' >"$tmp/bin/qemu-system-x86_64"; chmod +x "$tmp/bin/qemu-system-x86_64"
bad_env PATH="$tmp/bin:$PATH" "script --baremetal: qemu-system-x86_64 was killed by signal 9 (Killed)" script --baremetal tests/scripts/ptwr.pvm
bad_env PATH="$tmp/bin:$PATH" "linux-2.6.39 on pvmmu's hypervisor: qemu-system-x86_64 was killed by signal 9 (Killed)" compare --baremetal --mem 64M
# -- script files
printf 'domain d1\nframe d1 a\nmultic' >"$tmp/truncated.pvm"            # cut off mid-word
printf 'domain d1\nframe d1 a\nmulticall d1\n' >"$tmp/unclosed.pvm"     # cut off inside a multicall
head -c 3000 /dev/urandom >"$tmp/random.bin"; printf '\0' >>"$tmp/random.bin"
awk 'BEGIN { printf "domain d1 # "; for (i = 0; i < 100000; i++) printf "x"; printf "\n" }' >"$tmp/huge-line.pvm"
awk 'BEGIN { for (i = 0; i < 70 * 1024; i++) { for (j = 0; j < 1023; j++) printf " "; printf "\n" } }' >"$tmp/huge.pvm"
printf '\357\273\277domain d1\n' >"$tmp/bom.pvm"
mkdir "$tmp/dir.pvm"
bad "expected at least one script file"               script
bad "expected at least one script file"               script -v
bad "$tmp/missing.pvm: cannot open: No such file or directory" script "$tmp/missing.pvm"
bad "$tmp/dir.pvm: cannot read: Is a directory"       script "$tmp/dir.pvm"
bad "truncated.pvm:3: expected a command (machine, domain" script "$tmp/truncated.pvm"
bad "unclosed.pvm:3: 'multicall' is never closed"     script "$tmp/unclosed.pvm"
bad "random.bin:"                                     script "$tmp/random.bin"
bad "huge-line.pvm:1: line longer than 4096 characters" script "$tmp/huge-line.pvm"
bad "huge.pvm: larger than 64 MiB; not a scenario script" script "$tmp/huge.pvm"
bad "bom.pvm:1: unexpected byte 0xef"                                    script "$tmp/bom.pvm"
bad "unknown option '--frobnicate'"                   script --frobnicate tests/scripts/ptwr.pvm
bad "bad --audit value '0' (expected each, end or a number of operations N >= 1)" script --audit=0 tests/scripts/ptwr.pvm
bad "bad --audit value 'sometimes'"                   script --audit=sometimes tests/scripts/ptwr.pvm
bad "bad --audit value ''"                            script --audit= tests/scripts/ptwr.pvm
bad "bad --audit value '-3'"                          script --audit=-3 tests/scripts/ptwr.pvm
bad "bad --audit value '2x'"                          script --audit=2x tests/scripts/ptwr.pvm
bad "bad --audit value '99999999999999999999999'"     script --audit=99999999999999999999999 tests/scripts/ptwr.pvm
bad "unknown option '--audit'"                        script --audit tests/scripts/ptwr.pvm
bad "--xen-image expects a path"                      script --xen --xen-image
bad "--xen and --baremetal are two runs: give one of them"  script --baremetal --xen tests/scripts/ptwr.pvm
bad "--xen-image is for --xen only"                  script --baremetal --xen-image x tests/scripts/ptwr.pvm
bad "--dom0 is for --xen or --baremetal only"        script --dom0 x tests/scripts/ptwr.pvm
bad "--dom0 expects a path"                           script --xen --dom0
bad "$tmp/missing-xen not readable"                   script --xen --xen-image "$tmp/missing-xen" tests/scripts/ptwr.pvm
bad "$tmp/random.bin is not the Xen hypervisor"       script --xen --xen-image "$tmp/random.bin" tests/scripts/ptwr.pvm
bad "$tmp/huge.pvm is not the test dom0"              script --xen --xen-image "$P" --dom0 "$tmp/huge.pvm" tests/scripts/ptwr.pvm
if [ "$(id -u)" -ne 0 ]; then       # root reads any file, so this case only exists for other users
    cp tests/scripts/ptwr.pvm "$tmp/unreadable.pvm"; chmod 000 "$tmp/unreadable.pvm"
    bad "unreadable.pvm: cannot open: Permission denied" script "$tmp/unreadable.pvm"
fi

# -- replay: the command line, then records that do not follow docs/trace.md (one line TRACE:LINE: expected ...)
bad "pvmmu replay: expected one record file"          replay
bad "not several"                                     replay a b
bad "pvmmu replay: unknown option '-x'"               replay -x a
bad "$tmp/missing.txt: cannot open the record"        replay "$tmp/missing.txt"
bad "$tmp: cannot read the record"                    replay "$tmp"
bad "pvmmu compare: --replay needs a record file"     compare --replay
bad "pvmmu compare: --replay is not an option with --json" compare --json --replay "$tmp/missing.txt"
bad "$tmp/missing.txt: cannot open the record"        compare --replay "$tmp/missing.txt"
bad "pvmmu boot: unknown argument '--replay'"         boot --policy batched --replay "$tmp/missing.txt"
# record NAME STREAM: a record with a minimal initial state and the lines of STREAM after init-end.
record() {
    printf 'pvmmu-trace 2\nmachine 100 28\nown 0 100 none\ncr3 0 0\ninit-end\n%bfin\ndom 0 0 0\ncr3 0 0\nend\n' "$2" >"$tmp/$1.txt"
}
printf 'pvmmu-trace 3\n' >"$tmp/v3.txt"
bad "v3.txt:1: expected 'pvmmu-trace 2' as the first line"    replay "$tmp/v3.txt"
printf 'pvmmu-trace 1\nmachine 100 28\n' >"$tmp/v1.txt"
bad "v1.txt:1: a 'pvmmu-trace 1' record: this reader takes version 2" replay "$tmp/v1.txt"
: >"$tmp/empty.txt"
bad "empty.txt:1: expected 'pvmmu-trace 2' as the first line" replay "$tmp/empty.txt"
bad "/dev/zero:1: expected 'pvmmu-trace 2' as the first line" replay /dev/zero
record nul 'hc 1 0 1 0 7ff0\nhr 1 0\0 -22\n'
bad "nul.txt:7: a NUL byte in the line"                replay "$tmp/nul.txt"
record args 'hc e 0 0\nhr e 0\n'
bad "args.txt:6: hypercall e takes 3 arguments, this line gives 2" replay "$tmp/args.txt"
# ... every hypercall in Xen's table, not only the ones the replay runs (a hc, hp, mc or mp line)
record argc 'hc 12 0 20\nhr 12 0\n'
bad "argc.txt:6: hypercall 12 takes 3 arguments, this line gives 2" replay "$tmp/argc.txt"
record iret 'hc 17 0\n'
bad "iret.txt:6: hypercall 17 takes 0 arguments, this line gives 1" replay "$tmp/iret.txt"
record argmc 'hc d 0 1\nmc 0 18 0 0\nmr 0 18 0\nhr d 0\n'
bad "argmc.txt:7: hypercall 18 takes 3 arguments, this line gives 2" replay "$tmp/argmc.txt"
record arghp 'hc c 0 7000\nhp c 0\nhc c 0\nhr c 0\n'
bad "arghp.txt:7: hypercall c takes 2 arguments, this line gives 1" replay "$tmp/arghp.txt"
record argbuilt 'hc 24 0 7000\nhr 24 0\n'
bad "argbuilt.txt:6: hypercall 24 takes 1 argument (0 in a Xen built without it), this line gives 2" replay "$tmp/argbuilt.txt"
# ... a preempted call's continuation (hp, mp) and re-issue must be Xen's (docs/trace.md, Continuations)
record contlist 'hc 1a 2000 2 0 7ff0\nmx 6 0 0 0\nhp 1a 2010 80000001 0 7ff0\nhc 1a 2010 80000001 0 7ff0\nmx 7 0 0 0\nhr 1a 0\n'
bad "contlist.txt:8: expected the arguments 2018 80000001 0 7ff0: the call at line 6 finished 1 of its 2 requests (24 bytes each)" replay "$tmp/contlist.txt"
record contcount 'hc 1 2000 3 7f00 7ff0\nmu 10 0 0 0\nhp 1 2010 80000001 7f00 7ff0\nhc 1 2010 80000001 7f00 7ff0\nmu 18 0 0 0\nhr 1 0\n'
bad "contcount.txt:8: expected the arguments 2010 80000002 7f00 7ff0: the call at line 6 finished 1 of its 3 requests (16 bytes each)" replay "$tmp/contcount.txt"
record contdefer 'hc 1 2000 1 0 7ff0\nmu 10 0 0 0\nhp 1 2000 80000000 0 0\nhc 1 2000 80000000 0 0\nhr 1 0\n'
bad "contdefer.txt:8: expected no list and no done counter in a continuation whose count is 80000000" replay "$tmp/contdefer.txt"
record contresult 'hc 1 2000 1 0 7ff0\nmu 10 0 0 0\nhp 1 0 80000000 0 0\nhc 1 0 80000000 0 0\nhr 1 -22\n'
bad "contresult.txt:10: expected the result 0, which the continuation at line 8 carries" replay "$tmp/contresult.txt"
record contmc 'hc d 3000 2\nmc 0 e 0 0 0\nmr 0 e -22\nhp d 3020 1\nhc d 3020 1\nmc 0 e 0 0 0\nmr 0 e -22\nhr d 0\n'
bad "contmc.txt:9: expected 'hp d 3040 1': the multicall at line 6 went through 1 entries (64 bytes each)" replay "$tmp/contmc.txt"
record contmp 'hc d 3000 1\nmc 0 1a 4000 2 0 7ff0\nmx 6 0 0 0\nmp 0 1a 4018 80000001 0 7ff0\nhp d 3000 1\nhc d 3000 1\nmc 0 1a 4000 2 0 7ff0\nmx 7 0 0 0\nmr 0 1a 0\nhr d 0\n'
bad "contmp.txt:12: expected the re-issued multicall's entry 0 to be the entry the mp at line 9 rewrote" replay "$tmp/contmp.txt"
# ... and a batch's requests (mu, mx) must fit the count its hc gives
record fewer 'hc 1 6000 2 0 7ff0\nmu 10 0 0 0\nhr 1 0\n'
bad "fewer.txt:6: expected 2 requests (this line's count) before the result 0 at line 8, the record has 1" replay "$tmp/fewer.txt"
record more 'hc 1 6000 1 0 7ff0\nmu 10 0 0 0\nmu 18 0 0 0\nhr 1 0\n'
bad "more.txt:6: expected at most 1 requests (this line's count), the record has 2 before line 9" replay "$tmp/more.txt"
record after 'hc 1 6000 2 0 7ff0\nmu 10 0 -22 -\nmu 18 0 0 0\nhr 1 -22\n'
bad "after.txt:8: expected no request after the one at line 7, whose result -22 ends the call" replay "$tmp/after.txt"
record failres 'hc 1 6000 2 0 7ff0\nmu 10 0 -22 -\nhr 1 0\n'
bad "failres.txt:8: expected the result -22 of the request at line 7" replay "$tmp/failres.txt"
record fewmc 'hc d 3000 2\nmc 0 e 0 0 0\nmr 0 e -22\nhr d 0\n'
bad "fewmc.txt:6: expected 2 entries (this line's count) before the result 0 at line 9, the record has 1" replay "$tmp/fewmc.txt"
record nodone 'hc 1a 2000 1 0 7ff0\nmx 6 0 0 0\ndn 1\nhr 1a 0\n'
bad "nodone.txt:8: expected no dn line: the call at line 6 gave no done counter" replay "$tmp/nodone.txt"
record tag 'hc 1 0 1 0 7ff0\nzz 1\n'
bad "tag.txt:7: unknown line 'zz'"                    replay "$tmp/tag.txt"
record hex 'hc 1 0 1 0 7ff0\nmu 0x10 0 0 0\nhr 1 0\n'
bad "hex.txt:7: expected 'mu PTR VAL RC STORED': '0x10' is not a valid mu field" replay "$tmp/hex.txt"
record upper 'hc 1 0 1 0 7ff0\nmu 1A 0 0 0\nhr 1 0\n'
bad "upper.txt:7: expected 'mu PTR VAL RC STORED': '1A' is not a valid mu field" replay "$tmp/upper.txt"
record dec 'hc 1 0 1 0 7ff0\nhr 1 -x\n'
bad "dec.txt:7: expected 'hr NR RC': '-x' is not a valid hr field" replay "$tmp/dec.txt"
record few 'hc 1 0 1 0 7ff0\nmu 10 0\nhr 1 0\n'
bad "few.txt:7: expected 'mu PTR VAL RC STORED': too few fields" replay "$tmp/few.txt"
record many 'vb 10 l1 0 0:1\nve 10 l1 0 0\n'
bad "many.txt:7: expected 've MFN TYPE RC': too many fields" replay "$tmp/many.txt"
record type 'vb 10 l5 0\n'
bad "type.txt:6: expected 'vb MFN TYPE FROM ENTRIES': 'l5' is not a valid vb field" replay "$tmp/type.txt"
record slots 'vb 10 l1 0 5:1 3:1\n'
bad "slots.txt:6: expected 'vb MFN TYPE FROM ENTRIES': '3:1' is not a valid vb field" replay "$tmp/slots.txt"
record lost 'lost 3\n'
bad "lost.txt:6: the record is incomplete"            replay "$tmp/lost.txt"
record open 'hc 1 0 1 0 7ff0\nmu 10 0 0 0\n'
bad "open.txt:6: expected an hr or hp for this hc (the record ends first)" replay "$tmp/open.txt"
record nested 'hc 1 0 1 0 7ff0\nhc 1 0 1 0 7ff0\n'
bad "nested.txt:7: expected the hr or hp of the hc at line 6 before another hc" replay "$tmp/nested.txt"
record other 'hc 1 0 1 0 7ff0\nhr 1a 0\n'
bad "other.txt:7: expected the hr of hypercall 1 (the hc at line 6)" replay "$tmp/other.txt"
record stray 'hr 1 0\n'
bad "stray.txt:6: expected an hc before this hr"      replay "$tmp/stray.txt"
record never 'hc 1 0 1 0 7ff0\nhp 1 10 80000001 0 7ff0\n'
bad "never.txt:7: expected a later hc re-issuing this preempted call" replay "$tmp/never.txt"
record mu 'mu 10 0 0 0\n'
bad "mu.txt:6: expected a mu line only inside an mmu_update (1)" replay "$tmp/mu.txt"
record mx 'hc 1 0 1 0 7ff0\nmx 5 10 0 0\nhr 1 0\n'
bad "mx.txt:7: expected a mx line only inside an mmuext_op (1a)" replay "$tmp/mx.txt"
record mc 'hc 1 0 1 0 7ff0\nmc 0 e 0 0 0\n'
bad "mc.txt:7: expected an mc line only inside a multicall (hc d)" replay "$tmp/mc.txt"
record entry 'hc d 0 2\nmc 1 e 0 0 0\n'
bad "entry.txt:7: expected multicall entry 0 next"    replay "$tmp/entry.txt"
record mr 'hc d 0 2\nmc 0 e 0 0 0\nmr 0 1a 0\n'
bad "mr.txt:8: expected this mr to end an open multicall entry with the same index and hypercall" replay "$tmp/mr.txt"
record xin 'hc 1 0 1 0 7ff0\nxin 10 0\nhr 1 0\n'
record mudash 'hc 1 0 1 0 7ff0\nmu 10 0 0 -\nhr 1 0\n'
bad "mudash.txt:7: expected STORED for a request that succeeded" replay "$tmp/mudash.txt"
record mufail 'hc 1 0 1 0 7ff0\nmu 10 0 -22 0\nhr 1 -22\n'
bad "mufail.txt:7: expected STORED '-' (command 1, or a request that failed)" replay "$tmp/mufail.txt"
record pwsame 'pw 10 1 5 6 - mismatch 8 8 5\n'
bad "pwsame.txt:6: expected a mismatch to have a CMP other than the value found (OLD)" replay "$tmp/pwsame.txt"
record pwok 'pw 10 1 5 6 - ok 8 8 -\n'
bad "pwok.txt:6: expected STORED for ok, '-' for refused and mismatch" replay "$tmp/pwok.txt"
record uvnone 'hc e 1000 0 0\nhr e 0\n'
bad "uvnone.txt:7: expected a uv line with STORED before an update_va_mapping's result 0" replay "$tmp/uvnone.txt"
record uvdash 'hc e 1000 0 0\nuv 10 1 -\nhr e 0\n'
bad "uvdash.txt:8: expected a uv line with STORED before an update_va_mapping's result 0" replay "$tmp/uvdash.txt"
record uvtwo 'hc e 1000 0 0\nuv 10 1 5\nuv 10 1 5\nhr e 0\n'
bad "uvtwo.txt:9: expected at most one uv line in an update_va_mapping (2 here)" replay "$tmp/uvtwo.txt"
record uvfail 'hc e 1000 0 0\nuv 10 1 5\nhr e -22\n'
bad "uvfail.txt:7: expected STORED '-': the update_va_mapping fails (line 8)" replay "$tmp/uvfail.txt"
record venovb 'hc 1a 0 1 0 7ff0\nve 10 l1 0\nmx 0 10 0 0\nhr 1a 0\n'
bad "venovb.txt:7: expected this ve to end the open vb of frame 10 as l1 (none is open)" replay "$tmp/venovb.txt"
record vbopen 'hc 1a 0 1 0 7ff0\nvb 10 l1 0\nmx 0 10 0 0\nhr 1a 0\n'
bad "vbopen.txt:7: expected this vb to end before line 9" replay "$tmp/vbopen.txt"
record dbfrom 'hc 1a 0 1 0 7ff0\ndb 10 l1 fff\nde 10 l1 0\nmx 4 10 0 0\nhr 1a 0\n'
bad "dbfrom.txt:7: expected FROM 0 to 200" replay "$tmp/dbfrom.txt"
record from5 'hc 1a 0 1 0 7ff0\nvb 10 l1 5\nve 10 l1 0\nmx 0 10 0 0\nhr 1a 0\n'
bad "from5.txt:7: expected FROM 0: no validation of frame 10 was preempted before this vb" replay "$tmp/from5.txt"
bad "xin.txt:7: expected no 'xin' line inside the PV MMU call of line 6" replay "$tmp/xin.txt"
printf 'pvmmu-trace 2\nmachine 100 28\nhc 1 0 1 0 7ff0\n' >"$tmp/early.txt"
bad "early.txt:3: expected the initial state (docs/trace.md) up to init-end before any 'hc' line" replay "$tmp/early.txt"
printf 'pvmmu-trace 2\nmachine 100 28\n' >"$tmp/noend.txt"
bad "noend.txt:2: expected an init-end line"          replay "$tmp/noend.txt"
printf 'pvmmu-trace 2\ninit-end\n' >"$tmp/nomachine.txt"
bad "nomachine.txt:2: expected a 'machine MAXPAGE PADDRBITS' line before init-end" replay "$tmp/nomachine.txt"
record late 'machine 100 28\n'
bad "late.txt:6: expected no 'machine' line in the stream" replay "$tmp/late.txt"
printf 'pvmmu-trace 2\nmachine 0 28\ncr3 0 0\ninit-end\nfin\ndom 0 0 0\ncr3 0 0\nend\n' >"$tmp/zero.txt"
bad "zero.txt:2: expected 'machine MAXPAGE PADDRBITS' with 1 to 2^32 frames" replay "$tmp/zero.txt"
printf 'pvmmu-trace 2\nmachine 100 28\nframe ff 2 none 0 1 a\ncr3 0 0\ninit-end\nfin\ndom 0 0 0\ncr3 0 0\nend\n' >"$tmp/beyond.txt"
bad "beyond.txt:3: expected frame's frames inside the machine" replay "$tmp/beyond.txt"
printf 'pvmmu-trace 2\nmachine 100 28\ncr3 0 0\nframe 10 1 none 0 1 xa\ninit-end\nfin\ndom 0 0 0\ncr3 0 0\nend\n' >"$tmp/flags.txt"
bad "flags.txt:4: expected 'frame MFN N TYPE TC REF FLAGS': 'xa' is not a valid frame field" replay "$tmp/flags.txt"
printf 'pvmmu-trace 2\nmachine 100 28\nown 0 100 none\ninit-end\nfin\ndom 0 0 0\ncr3 0 0\nend\n' >"$tmp/nocr3.txt"
bad "nocr3.txt:4: expected a 'cr3 KERNEL USER' line before init-end" replay "$tmp/nocr3.txt"
# header NAME LINES: a record whose initial state is LINES (then init-end), which contradicts itself at the line named.
header() {
    printf 'pvmmu-trace 2\n%binit-end\nfin\ndom 0 0 0\ncr3 0 0\nend\n' "$2" >"$tmp/$1.txt"
}
header owngap 'machine 100 28\nown 0 10 io\nown 20 e0 none\ncr3 0 0\n'
bad "owngap.txt:4: expected own runs from frame 0 in order without gaps: frames 10-1f have no owner" replay "$tmp/owngap.txt"
header ownover 'machine 100 28\nown 0 10 io\nown 8 f8 none\ncr3 0 0\n'
bad "ownover.txt:4: expected own runs in order without overlap: frame 8 is in the run at line 3" replay "$tmp/ownover.txt"
header ownorder 'machine 100 28\nown 10 f0 none\nown 0 10 io\ncr3 0 0\n'
bad "ownorder.txt:3: expected own runs from frame 0 in order without gaps: frames 0-f have no owner" replay "$tmp/ownorder.txt"
header ownshort 'machine 100 28\nown 0 80 none\ncr3 0 0\n'
bad "ownshort.txt:5: expected own runs up to MAXPAGE-1 (ff, machine at line 2): frames 80-ff have no owner" replay "$tmp/ownshort.txt"
header ownbeyond 'machine 100 28\nown 0 200 none\ncr3 0 0\n'
bad "ownbeyond.txt:3: expected own's frames inside the machine line's MAXPAGE (100)" replay "$tmp/ownbeyond.txt"
header machlate 'rec test\nown 0 100 none\nmachine 100 28\ncr3 0 0\n'
bad "machlate.txt:3: expected the machine line before any 'own' line" replay "$tmp/machlate.txt"
header machbits 'machine 200000 20\nown 0 200000 none\ncr3 0 0\n'
bad "machbits.txt:2: expected MAXPAGE frames within PADDRBITS: 200000 frames do not fit in 32 address bits" replay "$tmp/machbits.txt"
header machtwice 'machine 100 28\nown 0 100 none\nmachine 100 28\ncr3 0 0\n'
bad "machtwice.txt:4: expected one 'machine' line (another at line 2)" replay "$tmp/machtwice.txt"
header cr3twice 'machine 100 28\nown 0 100 none\ncr3 0 0\ncr3 0 0\n'
bad "cr3twice.txt:5: expected one 'cr3' line (another at line 4)" replay "$tmp/cr3twice.txt"
header domtwice 'machine 100 28\nown 0 100 none\ndom 0 0 10\ndom 0 0 10\ncr3 0 0\n'
bad "domtwice.txt:5: expected one 'dom' line (another at line 4)" replay "$tmp/domtwice.txt"
header vmtwice 'machine 100 28\nown 0 100 none\nvm_assist 0\nvm_assist 8\ncr3 0 0\n'
bad "vmtwice.txt:5: expected one 'vm_assist' line (another at line 4)" replay "$tmp/vmtwice.txt"
header rectwice 'rec a\nrec b\nmachine 100 28\nown 0 100 none\ncr3 0 0\n'
bad "rectwice.txt:3: expected one 'rec' line (another at line 2)" replay "$tmp/rectwice.txt"
header domid 'machine 100 28\nown 0 100 none\ndom 1 0 10\ncr3 0 0\n'
bad "domid.txt:4: expected 'dom 0 TOT MAX' (the record is dom0's)" replay "$tmp/domid.txt"
header iomemrev 'machine 100 28\nown 0 100 none\niomem 20 10\ncr3 0 0\n'
bad "iomemrev.txt:4: expected FIRST <= LAST" replay "$tmp/iomemrev.txt"
header iomemwide 'machine 100 28\nown 0 100 none\niomem 0 10000000\ncr3 0 0\n'
bad "iomemwide.txt:4: expected frames below 10000000 (PADDRBITS 28)" replay "$tmp/iomemwide.txt"
# Nine disjoint iomem ranges (the core keeps eight, PVM_MAX_IOMEM_RANGES): the ninth, at line 12, cannot be taken.
header iomemnine "machine 100 28\nown 0 100 none\n$(for f in 0 2 4 6 8 a c e 10; do printf 'iomem %s %s\\n' $f $f; done)cr3 0 0\n"
bad "iomemnine.txt:12: expected at most 8 iomem ranges (once those that overlap or touch are merged)" replay "$tmp/iomemnine.txt"
header mmiorev 'machine 100 28\nown 0 100 none\nmmio_ro fed00 fec00\ncr3 0 0\n'
bad "mmiorev.txt:4: expected FIRST <= LAST" replay "$tmp/mmiorev.txt"
header frameover 'machine 100 28\nown 0 100 d0\nframe 0 10 none 0 1 a\nframe 8 f8 none 0 1 a\ncr3 0 0\n'
bad "frameover.txt:5: expected each frame in one frame line: frame 8 is also in the one at line 4" replay "$tmp/frameover.txt"
header framenot 'machine 100 28\nown 0 80 d0\nown 80 80 none\nframe 0 100 none 0 1 a\ncr3 0 0\n'
bad "framenot.txt:5: expected frame lines for dom0's frames only (own d0): frame 80 is not" replay "$tmp/framenot.txt"
header framemiss 'machine 100 28\nown 0 100 d0\nframe 0 80 none 0 1 a\ncr3 0 0\n'
bad "framemiss.txt:3: expected a frame line for each of dom0's frames: frame 80 has none" replay "$tmp/framemiss.txt"
header m2pover 'machine 100 28\nown 0 100 d0\nframe 0 100 none 0 1 a\nm2p 0 0 10\nm2p 8 8 10\ncr3 0 0\n'
bad "m2pover.txt:6: expected each frame in one m2p line: frame 8 is also in the one at line 5" replay "$tmp/m2pover.txt"
header m2pbeyond 'machine 100 28\nown 0 100 d0\nframe 0 100 none 0 1 a\nm2p f0 0 20\ncr3 0 0\n'
bad "m2pbeyond.txt:5: expected m2p's frames inside the machine line's MAXPAGE" replay "$tmp/m2pbeyond.txt"
header pttwice 'machine 100 28\nown 0 100 d0\nframe 0 1 l1 1 2 av\nframe 1 ff none 0 1 a\npt 0 l1\npt 0 l1\ncr3 0 0\n'
bad "pttwice.txt:7: expected one pt line per frame: frame 0 has one at line 6" replay "$tmp/pttwice.txt"
header pttype 'machine 100 28\nown 0 100 d0\nframe 0 1 l1 1 2 av\nframe 1 ff none 0 1 a\npt 1 l1\ncr3 0 0\n'
bad "pttype.txt:6: expected pt's TYPE to be the frame line's: frame 1 is none there (line 5)" replay "$tmp/pttype.txt"

echo "cli: $n cases, $failed failed"
[ $failed -eq 0 ]
