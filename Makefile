# pvmmu - GNU make build.  `make` builds build/libpvmmu.{a,so} and build/pvmmu with only a C compiler and
# libc (it never runs apt); `make check-fast` runs the tests that need no QEMU, Xen or clang (cmocka);
# `make check` runs every test under ASan+UBSan; `make run` runs the main job.  Only `make run`,
# `make check-fast`, `make check` and `make deps` ask scripts/deps.sh for packages (installed when root).

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
ifeq ($(origin CC),default)
CC      := gcc
endif
# The binutils the library archive and the hypervisor image need (GNU make's defaults for LD and AR).
LD      ?= ld
AR      ?= ar
OBJCOPY ?= objcopy

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASEFLAGS:= -std=c11 $(WARN) -Iinclude -Ilib -g
OPT      ?= -O2
# -fvisibility=hidden: only the functions pvmmu.h marks PVM_API leave the library (see libpvmmu.a below).
CORE_FLAGS := -ffreestanding -fno-builtin -fno-stack-protector -fvisibility=hidden
HOST_FLAGS := -D_POSIX_C_SOURCE=200809L -Icli -Iscript -Ioracle -Iexplain -Iguest -Iplatform/host -Iplatform/xen
HOST_DIRS  := cli script oracle explain platform/host
SAN_FLAGS  := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Each object's headers come from the compiler (a .d file beside the .o, included at the end).  HEADERS
# is for the images built by one compiler call over many sources, which get no usable .d file.
DEPFLAGS   := -MMD -MP
HEADERS    := $(sort $(wildcard include/pvmmu/*.h lib/*.h core/*.h guest/*.h platform/*/*.h $(HOST_DIRS:%=%/*.h)))

# Freestanding code (no libc): the PV MMU core, the guest kernel, shared helpers.
CORE_SRC  := $(wildcard core/*.c) $(filter-out lib/rt.c,$(wildcard lib/*.c))
GUEST_SRC := $(wildcard guest/*.c)
# Host code (docs/architecture.md): the CLI's commands, the script language, the oracles, the explainer,
# the simulated platform, and the program format shared with our PV kernel.  cli/pvmmu.c holds main().
TOOL_SRC  := $(filter-out cli/pvmmu.c,$(wildcard $(HOST_DIRS:%=%/*.c))) platform/xen/xenprog.c
# The script language and what it runs on, without the CLI and the oracles (the script fuzzer's share).
SCRIPT_SRC := $(wildcard script/*.c explain/*.c) platform/host/hostmem.c platform/xen/xenprog.c
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_COMMON := tests/harness.c

# explain/account.c and wrap.c are freestanding too (the hypervisor links them): built as the core is, on the host as well.
EXPLAIN_FREE := explain/account.c explain/wrap.c
is_free = $(filter core/% lib/% guest/% $(EXPLAIN_FREE),$(1))
flags   = $(if $(call is_free,$(1)),$(CORE_FLAGS),$(HOST_FLAGS))

CORE_OBJ     := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
CORE_PIC_OBJ := $(CORE_SRC:%.c=$(BUILD)/pic/%.o)
APP_OBJ      := $(GUEST_SRC:%.c=$(BUILD)/obj/%.o) $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
SAN_OBJ      := $(CORE_SRC:%.c=$(BUILD)/san/%.o) $(GUEST_SRC:%.c=$(BUILD)/san/%.o) $(TOOL_SRC:%.c=$(BUILD)/san/%.o)
TEST_BIN     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_OBJ     := $(TEST_SRC:%.c=$(BUILD)/san/%.o) $(TEST_COMMON:%.c=$(BUILD)/san/%.o)

XEN_CACHE  := $(BUILD)/xen-cache

.PHONY: all deps run check check-fast check-build install-check freestanding install uninstall clean bench xen-smoke xen-check xen-boot fuzz \
        fuzz-build xen-debug coverage qemu qemu-gdb bench-baremetal bench-linux fuzz-afl
all: $(BUILD)/libpvmmu.a $(BUILD)/libpvmmu.so $(BUILD)/pvmmu

# Everything make check needs (as root: installed with apt-get).
deps:
	@./scripts/deps.sh check

# ---- library and CLI ------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(DEPFLAGS) $(OPT) $(call flags,$<) -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(DEPFLAGS) $(OPT) $(CORE_FLAGS) -fPIC -c $< -o $@

# The archive holds one object: the core linked together (ld -r) with every hidden symbol made local
# (objcopy --localize-hidden), so a program's own put_page or refuse neither clashes with nor replaces ours.
$(BUILD)/libpvmmu.a: $(CORE_OBJ)
	@rm -f $@
	$(LD) -r -o $(BUILD)/obj/libpvmmu-r.o $^
	$(OBJCOPY) --localize-hidden $(BUILD)/obj/libpvmmu-r.o $(BUILD)/obj/libpvmmu.o
	$(AR) rcs $@ $(BUILD)/obj/libpvmmu.o

# Soname libpvmmu.so.3: it changes whenever the ABI breaks (policy in include/pvmmu/pvmmu.h).
$(BUILD)/libpvmmu.so: $(CORE_PIC_OBJ)
	$(CC) -shared -Wl,-soname,libpvmmu.so.3 -o $@ $^

# The CLI uses the library and lib/'s helpers (fmt_snprintf, the PV builder), which the library keeps hidden.
LIB_HELPER_OBJ := $(filter $(BUILD)/obj/lib/%,$(CORE_OBJ))
$(BUILD)/pvmmu: $(BUILD)/obj/cli/pvmmu.o $(APP_OBJ) $(LIB_HELPER_OBJ) $(BUILD)/libpvmmu.a
	$(CC) -o $@ $(BUILD)/obj/cli/pvmmu.o $(APP_OBJ) $(LIB_HELPER_OBJ) $(BUILD)/libpvmmu.a

VERSION := $(shell sed -n 's/.*PVMMU_VERSION "\(.*\)"/\1/p' include/pvmmu/pvmmu.h)

# ---- sanitizer builds for tests -------------------------------------------
$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(DEPFLAGS) $(SAN_FLAGS) $(if $(call is_free,$<),-fno-builtin,$(HOST_FLAGS)) -c $< -o $@
# The cmocka tests also see the core's internal headers.
$(BUILD)/san/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(DEPFLAGS) $(SAN_FLAGS) $(HOST_FLAGS) -Icore -c $< -o $@

$(BUILD)/san/pvmmu: $(BUILD)/san/cli/pvmmu.o $(SAN_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^

$(BUILD)/tests/%: $(BUILD)/san/tests/%.o $(TEST_COMMON:%.c=$(BUILD)/san/%.o) $(SAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ -lcmocka

# ---- the two commands -----------------------------------------------------
# deps.sh first (as root on a fresh machine it installs the compiler), then the build in a second make.
run:
	@./scripts/deps.sh build
	@$(MAKE) -s --no-print-directory $(BUILD)/pvmmu
	$(BUILD)/pvmmu compare

# Median wall time and peak RSS of `pvmmu boot` from 1 GiB to 1 TiB (BENCH_ARGS to choose).
$(BUILD)/bootbench: bench/bootbench.c
	$(CC) -std=c11 $(WARN) -O2 -o $@ $<
# Then the replay of every record under build/linux/ (make linux-trace): events and validated entries per second.
bench: $(BUILD)/pvmmu $(BUILD)/bootbench
	$(BUILD)/bootbench --pvmmu $(BUILD)/pvmmu $(BENCH_ARGS)
	@./bench/replay-bench.sh $(BUILD)/pvmmu
# Debian's Linux on real Xen and on pvmmu's hypervisor, boot times side by side (medians): make bench-linux MEM=256M
bench-linux: linux-fetch $(BUILD)/baremetal/hv.bin
	@./scripts/xen-fetch.sh $(XEN_CACHE)
	@BUILD=$(BUILD) XEN_CACHE=$(XEN_CACHE) ./bench/linux-bench.sh $(LINUX_MEM) $(or $(REPEAT),3)
# Boot-to-exit time of every policy on pvmmu's own hypervisor under QEMU (medians): make bench-baremetal MEM=128
bench-baremetal: $(BUILD)/baremetal/hv.bin $(BUILD)/xen/dom0.elf $(BUILD)/pvmmu
	@BUILD=$(BUILD) ./bench/baremetal-bench.sh $(patsubst %M,%,$(MEM)) $(or $(REPEAT),5)

# make check: deps.sh (as root it installs everything; as another user it fails only for what every test
# needs), the build in a second make (after the packages), the Xen package, then tests/run.sh.  A part
# that cannot run here (no QEMU, no clang, the Xen download failed) is a "not run" line in the summary,
# not a failure, unless CHECK_REQUIRE names it: as root it names qemu and fuzz (deps.sh has just
# installed them, so their absence is a fault); .ci/run adds xen.
CHECK_REQUIRE ?= $(if $(filter 0,$(shell id -u)),qemu fuzz)
check:
	@./scripts/deps.sh check
	@$(MAKE) --no-print-directory check-build FUZZ_BUILD="$$(./scripts/deps.sh --have fuzz && echo fuzz-build)"
	@./scripts/xen-fetch.sh $(XEN_CACHE) || echo "check: no Xen hypervisor image; the real-Xen differential cannot run"
	@if ./scripts/deps.sh --have linux; then $(MAKE) --no-print-directory linux-record || \
	  echo "check: no record of real Linux on real Xen; its replay cannot run"; fi
	@BUILD=$(BUILD) XEN_CACHE=$(XEN_CACHE) HV_FLAGS="$(HV_FLAGS)" KERNEL=$(BUILD)/xen/dom0.elf \
	  CHECK_REQUIRE="$(CHECK_REQUIRE)" ./tests/run.sh $(TEST_BIN)
check-build: all $(TEST_BIN) $(BUILD)/san/pvmmu freestanding install-check $(BUILD)/xen/dom0.elf $(BUILD)/baremetal/hv.bin \
             $(FUZZ_BUILD)

# The tests that need no QEMU, no Xen and no clang: cmocka, every scenario and advisory script (and the
# advisories' mutants), bad input, the verdicts that run no QEMU.  Needs cmocka (deps.sh fast).
check-fast:
	@./scripts/deps.sh fast
	@$(MAKE) --no-print-directory all $(TEST_BIN) $(BUILD)/san/pvmmu $(BUILD)/xen/dom0.elf $(BUILD)/baremetal/hv.bin
	@BUILD=$(BUILD) CHECK_FAST=1 ./tests/run.sh $(TEST_BIN)

# Install into a staging prefix and build examples/embed.c with pkg-config, as a user would: with the staged
# headers alone (no -Iinclude, no -Ilib), so an installed header that needs a private one fails here.
STAGE := $(abspath $(BUILD)/stage)
install-check: all
	@rm -rf $(STAGE)
	@$(MAKE) --no-print-directory -s install PREFIX=$(STAGE) BUILD=$(BUILD) >/dev/null
	@PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig sh -c '$(CC) -std=c11 $(WARN) -g examples/embed.c $$(pkg-config --cflags --libs --static pvmmu) -o $(BUILD)/embed' \
	  && LD_LIBRARY_PATH=$(STAGE)/lib $(BUILD)/embed >/dev/null && echo "install-check: examples/embed.c builds with pkg-config --cflags --libs pvmmu and runs"

# ---- core and guest without libc ------------------------------------------
FS_CORE := $(CORE_SRC:%.c=$(BUILD)/fs/%.o) $(BUILD)/fs/lib/rt.o
FS_GUEST := $(GUEST_SRC:%.c=$(BUILD)/fs/%.o) $(BUILD)/fs/lib/fmt.o $(BUILD)/fs/lib/rt.o
$(BUILD)/fs/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(DEPFLAGS) -O2 $(CORE_FLAGS) -fno-pic -mno-red-zone -c $< -o $@

FS_EXPLAIN := $(EXPLAIN_FREE:%.c=$(BUILD)/fs/%.o)
freestanding: $(BUILD)/core-nostdlib.elf $(BUILD)/guest-nostdlib.elf $(BUILD)/explain-nostdlib.elf
$(BUILD)/core-nostdlib.elf: $(FS_CORE)
	$(CC) -nostdlib -static -no-pie -Wl,-e,pvm_init -o $@ $^
	@echo "freestanding: core/ links with -nostdlib ($@)"
$(BUILD)/guest-nostdlib.elf: $(FS_GUEST)
	$(CC) -nostdlib -static -no-pie -Wl,-e,guest_boot -o $@ $^
	@echo "freestanding: guest/ links with -nostdlib ($@)"
# explain/'s freestanding accounts, with the core they describe (the hypervisor links them so).
$(BUILD)/explain-nostdlib.elf: $(FS_EXPLAIN) $(FS_CORE)
	$(CC) -nostdlib -static -no-pie -Wl,-e,explain_refusal_to -o $@ $^
	@echo "freestanding: $(EXPLAIN_FREE) links with -nostdlib ($@)"

# ---- real Xen under QEMU: the oracle --------------------------------------
DOM0_FLAGS := -ffreestanding -fno-builtin -fno-stack-protector -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
              -mno-sse -mno-mmx -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
              -Wl,--no-warn-rwx-segments
$(BUILD)/xen/dom0.elf: platform/xen/dom0.c platform/xen/xenprog.c platform/xen/dom0.ld lib/fmt.c lib/rt.c $(GUEST_SRC) \
                      $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iguest -Iplatform/xen -O2 $(DOM0_FLAGS) -T platform/xen/dom0.ld -o $@ platform/xen/dom0.c \
	  platform/xen/xenprog.c lib/fmt.c lib/rt.c $(GUEST_SRC)

# ---- pvmmu's own hypervisor under QEMU: the core on hardware page tables -----
HV_FLAGS := -ffreestanding -fno-builtin -fno-stack-protector -fno-pic -fno-pie -mcmodel=large -mno-red-zone \
            -mgeneral-regs-only -fno-asynchronous-unwind-tables -nostdlib -static -no-pie -Wl,--build-id=none \
            -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments
# explain/'s freestanding accounts: the console explains the core's refusals as the host does (refusal.c).
HV_SRC   := platform/baremetal/boot.S platform/baremetal/entry.S $(wildcard platform/baremetal/*.c) lib/rt.c $(CORE_SRC) \
            $(EXPLAIN_FREE)
$(BUILD)/baremetal/hv.elf: $(HV_SRC) platform/baremetal/hv.ld $(HEADERS) platform/baremetal/hv.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iexplain -O2 $(HV_FLAGS) -T platform/baremetal/hv.ld -o $@ $(HV_SRC)
# QEMU loads the flat image through the multiboot header's a.out fields (it will not load an ELF64 itself).
$(BUILD)/baremetal/hv.bin: $(BUILD)/baremetal/hv.elf
	$(OBJCOPY) -O binary $< $@

# One policy on pvmmu's own hypervisor, console on the terminal: make qemu POLICY=linux-3.0 MEM=128
# (POLICY=attack runs the hardware attacks instead; QEMU_VERBOSE=1 prints every core log line)
QEMU_MEM = $(patsubst %M,%,$(patsubst %m,%,$(MEM)))
QEMU_KERNEL = $(BUILD)/xen/dom0.elf $(if $(filter attack,$(POLICY)),attack,guest=$(POLICY))
qemu: $(BUILD)/baremetal/hv.bin $(BUILD)/xen/dom0.elf
	@BAREMETAL_VERBOSE=$(QEMU_VERBOSE) ./scripts/baremetal-run.sh $(BUILD)/baremetal/hv.bin "$(QEMU_KERNEL)" $(QEMU_MEM); \
	rc=$$?; echo "qemu: exit status $$rc (33 = the kernel reported success, 3 = it reported a failure)"
# The same, stopped before the first instruction for gdb: symbols for both the hypervisor and the kernel.
qemu-gdb: $(BUILD)/baremetal/hv.bin $(BUILD)/xen/dom0.elf
	@echo "qemu-gdb: QEMU waits on :1234. In another terminal:"
	@echo "  gdb $(BUILD)/baremetal/hv.elf -ex 'add-symbol-file $(BUILD)/xen/dom0.elf' -ex 'target remote :1234' -ex 'hbreak hv_main'"
	@BAREMETAL_TIMEOUT=0 ./scripts/baremetal-run.sh $(BUILD)/baremetal/hv.bin "$(QEMU_KERNEL)" $(QEMU_MEM) -s -S; true

# Boot our PV kernel as dom0 of Debian's Xen 4.17 under QEMU; it checks its own results (exit 33 = all as expected).
xen-smoke: $(BUILD)/xen/dom0.elf
	@./scripts/xen-fetch.sh $(XEN_CACHE)
	@rc=0; ./scripts/xen-run.sh $(XEN_CACHE)/xen "$(BUILD)/xen/dom0.elf" 64 > $(BUILD)/xen/serial.log || rc=$$?; \
	grep -E '^(pvmmu|step)' $(BUILD)/xen/serial.log; \
	if [ $$rc -eq 33 ]; then echo "xen-smoke: real Xen 4.17 gave every expected result"; \
	else echo "xen-smoke: FAILED (qemu exit $$rc; serial log in $(BUILD)/xen/serial.log)"; exit 1; fi

# The differential: every scenario script and every policy on real Xen and on the simulator.
xen-check: xen-smoke $(BUILD)/pvmmu
	@PVMMU_XEN=$(XEN_CACHE)/xen PVMMU_DOM0=$(BUILD)/xen/dom0.elf $(BUILD)/pvmmu script --xen tests/scripts/*.pvm \
	  tests/xsa/*.pvm examples/*.pvm
	@BUILD=$(BUILD) ./tests/xen-guests.sh 128

# One policy on real Xen, its kernel log and result on the terminal: make xen-boot POLICY=linux-3.0 MEM=128
# (XEN_IMAGE=$(BUILD)/xen-debug/out/xen boots the debug hypervisor of `make xen-debug` instead)
POLICY ?= linux-3.0
MEM ?= 128
XEN_IMAGE ?= $(XEN_CACHE)/xen
xen-boot: $(BUILD)/xen/dom0.elf
	@./scripts/xen-fetch.sh $(XEN_CACHE)
	@./scripts/xen-run.sh $(XEN_IMAGE) "$(BUILD)/xen/dom0.elf guest=$(POLICY)" $(MEM) \
	  | tr -d '\r' | grep -E '^(pvmmu|guest|\[guest\]|\(XEN\) (d0|Dom0|Xen version|.*mm\.c:))' ; true

# A debug hypervisor from Debian's own xen source package (not part of check): Xen's (XEN) mm.c:LINE
# reason lines, to read beside pvmmu's.  Then the smoke steps on it, with those lines.
xen-debug: $(BUILD)/xen/dom0.elf
	@./scripts/deps.sh check --xen-debug
	@./scripts/xen-debug-build.sh $(BUILD)/xen-debug
	@rc=0; ./scripts/xen-run.sh $(BUILD)/xen-debug/out/xen "$(BUILD)/xen/dom0.elf" 64 > $(BUILD)/xen/serial-debug.log \
	  || rc=$$?; tr -d '\r' < $(BUILD)/xen/serial-debug.log | grep -E '^(pvmmu|step)|mm\.c:'; [ $$rc -eq 33 ]

# ---- fuzzing (libFuzzer via clang; the harnesses also build for AFL++) -------
FUZZ_CC    := clang
FUZZ_FLAGS := -std=c11 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -Iinclude -Ilib -Iscript -Iexplain -Iplatform/host -Iplatform/xen -D_POSIX_C_SOURCE=200809L
FUZZERS    := fuzz_hypercalls fuzz_script fuzz_replay
# pvmmu replay and what it runs on (the replay fuzzer's share).
REPLAY_SRC := $(wildcard oracle/trace*.c oracle/replay*.c explain/*.c) platform/host/hostmem.c
FUZZ_TIME  ?= 60
$(BUILD)/fuzz/fuzz_hypercalls: fuzz/fuzz_hypercalls.c platform/host/hostmem.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz_hypercalls.c platform/host/hostmem.c $(CORE_SRC)
$(BUILD)/fuzz/fuzz_script: fuzz/fuzz_script.c $(SCRIPT_SRC) $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz_script.c $(SCRIPT_SRC) $(CORE_SRC)
$(BUILD)/fuzz/fuzz_replay: fuzz/fuzz_replay.c $(REPLAY_SRC) $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Ioracle -o $@ fuzz/fuzz_replay.c $(REPLAY_SRC) $(CORE_SRC)
fuzz-build: $(FUZZERS:%=$(BUILD)/fuzz/%)

# Each fuzzer for FUZZ_TIME seconds (default 60), growing build/fuzz/corpus-NAME from the committed seeds.
fuzz: fuzz-build
	@BUILD=$(BUILD) ./tests/fuzz.sh $(FUZZ_TIME) $(FUZZERS)

# ---- coverage (gcov data from the whole suite, reported by Debian's gcovr) -----
COV_FLAGS := -O0 --coverage -fprofile-update=atomic
COV_OBJ   := $(SAN_OBJ:$(BUILD)/san/%=$(BUILD)/cov/%)
COV_TESTS := $(TEST_SRC:tests/%.c=$(BUILD)/cov/tests/%)
$(BUILD)/cov/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(DEPFLAGS) $(COV_FLAGS) $(if $(call is_free,$<),-fno-builtin,$(HOST_FLAGS)) -c $< -o $@
$(BUILD)/cov/pvmmu: $(BUILD)/cov/cli/pvmmu.o $(COV_OBJ)
	$(CC) $(COV_FLAGS) -o $@ $^
$(BUILD)/cov/tests/%: tests/%.c $(TEST_COMMON) tests/harness.h $(COV_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(COV_FLAGS) $(HOST_FLAGS) -Icore -o $@ $< $(TEST_COMMON) $(COV_OBJ) -lcmocka

# Line and branch coverage of core/ and guest/ from the cmocka tests, every scenario and XSA script,
# the command-line cases and every policy's boot; the HTML report is build/cov/html/index.html.
coverage:
	@./scripts/deps.sh check --coverage
	@$(MAKE) --no-print-directory $(BUILD)/cov/pvmmu $(COV_TESTS)
	@BUILD=$(BUILD) ./tests/coverage.sh $(COV_TESTS)

# The hypercall fuzzer under AFL++ instead (not part of check): make fuzz-afl FUZZ_TIME=600
$(BUILD)/afl/fuzz_hypercalls: fuzz/fuzz_hypercalls.c platform/host/hostmem.c $(CORE_SRC) $(HEADERS)
	@./scripts/deps.sh check --afl
	@mkdir -p $(dir $@)
	AFL_QUIET=1 afl-clang-fast -std=c11 $(WARN) -g -O1 -fsanitize=fuzzer -Iinclude -Ilib -Iscript -Iexplain -Iplatform/host -Iplatform/xen \
	  -D_POSIX_C_SOURCE=200809L -o $@ fuzz/fuzz_hypercalls.c platform/host/hostmem.c $(CORE_SRC)
fuzz-afl: $(BUILD)/afl/fuzz_hypercalls
	@rm -rf $(BUILD)/afl/out
	@AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
	  afl-fuzz -i fuzz/corpus/hypercalls -o $(BUILD)/afl/out -V $(FUZZ_TIME) -- $< > $(BUILD)/afl/afl.log 2>&1; \
	grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs) ' $(BUILD)/afl/out/default/fuzzer_stats; \
	test "$$(sed -n 's/^saved_crashes *: //p' $(BUILD)/afl/out/default/fuzzer_stats)" = 0

# ---- install --------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/pvmmu $(DESTDIR)$(PREFIX)/bin \
	        $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libpvmmu.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libpvmmu.so $(DESTDIR)$(PREFIX)/lib/libpvmmu.so.3
	ln -sf libpvmmu.so.3 $(DESTDIR)$(PREFIX)/lib/libpvmmu.so
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then ldconfig 2>/dev/null || true; fi
	install -m 644 include/pvmmu/*.h $(DESTDIR)$(PREFIX)/include/pvmmu/
	install -m 755 $(BUILD)/pvmmu $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' pvmmu.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pvmmu.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libpvmmu.a $(DESTDIR)$(PREFIX)/lib/libpvmmu.so* \
	      $(DESTDIR)$(PREFIX)/bin/pvmmu $(DESTDIR)$(PREFIX)/lib/pkgconfig/pvmmu.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/pvmmu

clean:
	rm -rf $(BUILD)

# The compiler's header lists for every object built so far (none yet on a clean tree).
-include $(wildcard $(sort $(patsubst %.o,%.d,$(CORE_OBJ) $(CORE_PIC_OBJ) $(APP_OBJ) $(BUILD)/obj/cli/pvmmu.o \
                    $(SAN_OBJ) $(BUILD)/san/cli/pvmmu.o $(TEST_OBJ) $(FS_CORE) $(FS_GUEST) $(FS_EXPLAIN) $(COV_OBJ) $(BUILD)/cov/cli/pvmmu.o)))

# ---- Debian's stock Linux on real Xen, and its record (docs/trace.md) ---------------------
# make linux-xen [MEM=256M]: Debian's kernel (linux-image-amd64's package) and a busybox /init as
# dom0 of Debian's Xen 4.17 under QEMU, the console on the terminal.
# make linux-trace [MEM=256M]: the same on the recording Xen (Debian's source + scripts/xen-trace.patch,
# built once into build/xen-trace/); the record goes to build/linux/trace-MEM.txt, its per-phase
# counts to build/linux/trace-MEM.stats (scripts/trace-stats.py).  make check makes the 256M one
# (linux-record) when QEMU and the packages are there, and replays every record it finds.
# make linux [MEM=256M]: the same kernel and /init as dom0 of pvmmu's own hypervisor (every page-table
# update checked by the core), the console on the terminal; LINUX_HV_AUDIT=each audits after every one.
.PHONY: linux-fetch linux-xen linux-trace xen-trace linux-record linux
linux: linux-fetch $(BUILD)/baremetal/hv.bin
	@./scripts/linux-hv.sh $(BUILD)/baremetal/hv.bin $(LINUX_DIR) $(LINUX_MEM); \
	rc=$$?; [ $$rc -eq 2 ] || echo "linux: exit status $$rc (33: Linux powered off and the auditor was clean; docs/hypervisor.md)"; \
	exit $$rc
LINUX_DIR := $(BUILD)/linux
LINUX_MEM = $(if $(filter command line environment,$(origin MEM)),$(MEM),256M)
linux-fetch:
	@./scripts/deps.sh qemu --linux
	@./scripts/linux-fetch.sh $(LINUX_DIR)
linux-xen: linux-fetch
	@./scripts/xen-fetch.sh $(XEN_CACHE)
	@./scripts/linux-run.sh $(XEN_CACHE)/xen $(LINUX_DIR) $(LINUX_MEM)
xen-trace:
	@./scripts/deps.sh qemu --xen-debug
	@./scripts/xen-debug-build.sh --trace $(BUILD)/xen-trace
# make check's record: made once, again only when the recorder or the guest's making changes.
CHECK_RECORD := $(LINUX_DIR)/trace-256M.txt
linux-record: $(CHECK_RECORD)
$(CHECK_RECORD): scripts/xen-trace.patch scripts/linux-fetch.sh scripts/linux-run.sh
	@rm -f $@
	@$(MAKE) --no-print-directory linux-trace MEM=256M
linux-trace: linux-fetch xen-trace
	@./scripts/linux-run.sh $(BUILD)/xen-trace/out/xen $(LINUX_DIR) $(LINUX_MEM) $(LINUX_DIR)/trace-$(LINUX_MEM).txt
	@python3 scripts/trace-stats.py $(LINUX_DIR)/trace-$(LINUX_MEM).txt > $(LINUX_DIR)/trace-$(LINUX_MEM).stats && \
	  cat $(LINUX_DIR)/trace-$(LINUX_MEM).stats
