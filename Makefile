# softsgx build. `make run` and `make check` do all set-up on Debian 12.
#
# Three build flavours share one source list:
#   build/check/   -O1 with ASan+UBSan, for the tests
#   build/tsan/    -O1 with ThreadSanitizer, for the kernel-model tests
#                  (`make check-tsan`; `make check` runs the threaded ones)
#   build/release/ -O2, for benchmarks, tools and installation

CC ?= cc
CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -fPIC -Iinclude -I. -pthread
CFLAGS_CHECK := $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS_TSAN := $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer -fsanitize=thread
CFLAGS_RELEASE := $(CFLAGS_COMMON) -O2 -g
LDLIBS := -lcrypto -pthread
TEST_LDLIBS := -lcmocka $(LDLIBS)

HW_SRC := $(wildcard hw/*.c)
KERNEL_SRC := $(wildcard kernel/*.c)
TOOLS_LIB_SRC := $(wildcard tools/lib/*.c)
# Observability (obs/): the trace recorder and the stats file, which hw/ and kernel/ feed.
OBS_SRC := $(wildcard obs/*.c)
LIB_SRC := $(HW_SRC) $(KERNEL_SRC) $(OBS_SRC) $(TOOLS_LIB_SRC)
TEST_COMMON_SRC := $(wildcard tests/common/*.c)
TEST_SRC := $(filter-out tests/common/% tests/shim/% tests/enclaves/% tests/public/%,$(wildcard tests/*/test_*.c))
# Programs of the shim tests are ordinary (unsanitized) programs run under
# LD_PRELOAD=libsoftsgx-preload.so, as users run theirs.
SHIM_SRC := $(wildcard shim/*.c)
# Assembly of the shim (the vDSO entry), built into the preload library only.
SHIM_ASM_SRC := $(wildcard shim/*.S)
SHIM_TEST_SRC := $(wildcard tests/shim/test_*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)
# libFuzzer harnesses (tests/fuzz/, docs/reliability.md): built with clang for
# `make fuzz` / `make fuzz-smoke`, and with $(CC) plus a replay main() as
# cmocka tests of `make check` that run every corpus file once.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_COMMON_SRC := tests/fuzz/harness.c
FUZZ_NAMES := $(notdir $(basename $(FUZZ_SRC)))
# The softsgx command: tools/*.c (tools/lib/ is part of the library).
CLI_SRC := $(wildcard tools/*.c)
# ---- svc: the platform service (service/, issue 16) ----
# Built into the softsgx command (its sources join CLI_SRC) and, for the
# tests of tests/service/ and the fuzz harness, into an archive of its own
# linked before libsoftsgx.a. Defined here, before the rules that expand
# CLI_SRC in their prerequisites.
SVC_SRC := $(wildcard service/*.c)
CLI_SRC += $(SVC_SRC)
# ---- end svc ----
# ---- shimsvc: the shim's service mode (shim/service.c, issue 16) ----
# The client side of the service joins the preload library: the shim of a
# program under `softsgx run --service` is a client of the platform service.
SHIM_SVC_CLIENT_SRC := service/client.c service/proto.c service/remote.c service/remote_pte.c \
	service/socket_dir.c
SHIM_SRC += $(SHIM_SVC_CLIENT_SRC)
# ---- end shimsvc ----

CHECK_DIR := build/check
TSAN_DIR := build/tsan
RELEASE_DIR := build/release

check_obj = $(patsubst %.c,$(CHECK_DIR)/%.o,$(1))
tsan_obj = $(patsubst %.c,$(TSAN_DIR)/%.o,$(1))
release_obj = $(patsubst %.c,$(RELEASE_DIR)/%.o,$(1))
release_asm_obj = $(patsubst %.S,$(RELEASE_DIR)/%.o,$(1))

CHECK_LIB := $(CHECK_DIR)/libsoftsgx.a
TSAN_LIB := $(TSAN_DIR)/libsoftsgx.a
RELEASE_LIB := $(RELEASE_DIR)/libsoftsgx.a
TEST_BINS := $(patsubst %.c,$(CHECK_DIR)/%,$(TEST_SRC))
# The kernel-model tests under ThreadSanitizer; `make check` runs the threaded subset.
TSAN_TEST_BINS := $(patsubst %.c,$(TSAN_DIR)/%,$(wildcard tests/kernel/test_*.c))
TSAN_CHECK_BINS := $(TSAN_DIR)/tests/kernel/test_reclaim_threads $(TSAN_DIR)/tests/kernel/test_smoke \
	$(TSAN_DIR)/tests/stress/test_stress $(TSAN_DIR)/tests/kernel/test_trace
TSAN_CHECK_BINS += $(TSAN_DIR)/tests/kernel/test_usage $(TSAN_DIR)/tests/kernel/test_stats_file
# mm (several address spaces): the mms racing the reclaimer, under TSan too.
TSAN_CHECK_BINS += $(TSAN_DIR)/tests/kernel/test_mm_threads
# Background sanitization races ksgxd against allocations (sanitize).
TSAN_CHECK_BINS += $(TSAN_DIR)/tests/kernel/test_sanitize
# crypto (issue 18): the CPU model's per-thread cipher contexts, EWB/ELDU on
# several threads and across platforms, under TSan as well.
TSAN_CHECK_BINS += $(TSAN_DIR)/tests/hw/test_paging_threads $(TSAN_DIR)/tests/hw/test_page_crypto_ctx
# cgroup (issue 17): EPC cgroups, tenants contending with ksgxd running, under TSan too.
TSAN_CHECK_BINS += $(TSAN_DIR)/tests/kernel/test_epc_cgroup
# epcm (issue 16): the EPCM shared with views of the model (hw/share.c), a view
# entering from a fresh thread while the owner reads the entries, under TSan too.
TSAN_CHECK_BINS += $(TSAN_DIR)/tests/hw/test_hw_share
# copyin (issue 18): ADD_PAGES holds the enclave's locks across a batch and
# drops them for the reclaimer; its ioctl tests (a reclaimer thread running
# through multi-batch calls) under TSan too.
TSAN_CHECK_BINS += $(TSAN_DIR)/tests/kernel/test_ioctl
# Stress tests (tests/stress/, docs/reliability.md): `make check` runs them for
# about a second each; `make check-stress` for longer (SOFTSGX_STRESS=long),
# under ASan and under TSan.
STRESS_SRC := $(wildcard tests/stress/test_*.c)
STRESS_BINS := $(patsubst %.c,$(CHECK_DIR)/%,$(STRESS_SRC)) $(patsubst %.c,$(TSAN_DIR)/%,$(STRESS_SRC))
BENCH_BINS := $(patsubst %.c,$(RELEASE_DIR)/%,$(BENCH_SRC))
FUZZ_REPLAY_BINS := $(patsubst %,$(CHECK_DIR)/tests/fuzz/replay_%,$(FUZZ_NAMES))
PRELOAD_LIB := $(RELEASE_DIR)/libsoftsgx-preload.so
SHIM_TEST_BINS := $(patsubst %.c,$(RELEASE_DIR)/%,$(SHIM_TEST_SRC))
# The shim tests `make check` runs a second time in service mode (SOFTSGX_SERVICE=1,
# tests/run-tests "svc:"), with the conformance programs: ENCLU, signals, the vDSO,
# SGX2, devfs, SDK-, selftest- and raw-ENCLU-style programs as clients of the
# platform service. Left out, with the reason: test_cpuid, test_enclave_exec,
# test_fork_inside, test_fork_ecall_storm and test_model_fds check private mode's
# copy of the EPC at fork() (the service shares it, as Linux does, so the child
# would find the parent's TCSs busy); test_fd_lifetime and test_threads read the
# per-program stats file, which service mode does not write.
SHIM_SVC_MODE_BINS := $(filter-out $(addprefix $(RELEASE_DIR)/tests/shim/,test_cpuid \
	test_enclave_exec test_fork_inside test_fork_ecall_storm test_model_fds \
	test_fd_lifetime test_threads test_service_%),$(SHIM_TEST_BINS))
# The reclaim storms of test_signals (2 and 8 threads), also run long by check-stress.
STORM_BIN := $(RELEASE_DIR)/tests/shim/test_signals
# Conformance programs (tests/conformance/): ordinary programs written the
# way other SGX stacks are (kernel selftests, the SDK's loader, runtimes with
# their own AEP), built like a user's (release, unsanitized) and re-executing
# themselves under `softsgx run`. The stress programs beside them are built
# that way too, and with ASan+UBSan in the program (not in the shim).
CONFORM_SRC := $(wildcard tests/conformance/*_style.c)
CONFORM_STRESS_SRC := $(wildcard tests/conformance/stress_*.c)
CONFORM_BINS := $(patsubst %.c,$(RELEASE_DIR)/%,$(CONFORM_SRC) $(CONFORM_STRESS_SRC))
CONFORM_STRESS_BINS := $(patsubst %.c,$(RELEASE_DIR)/%,$(CONFORM_STRESS_SRC))
CONFORM_ASAN_BINS := $(patsubst %.c,$(CHECK_DIR)/%,$(CONFORM_STRESS_SRC))
# The sanitized stress programs set their own ASan options
# (__asan_default_options() in tests/conformance/conform.h).
# `make check CONFORM=0` leaves the conformance and shim stress programs out
# (`make check-conform` runs them alone): while the features they check are
# being merged one branch at a time, the rest of `make check` stays usable.
CONFORM ?= 1
CHECK_CONFORM_BINS := $(if $(filter 1,$(CONFORM)),$(CONFORM_BINS))
CHECK_CONFORM_ASAN_BINS := $(if $(filter 1,$(CONFORM)),$(CONFORM_ASAN_BINS))
# What the conformance and shim stress programs need to run.
CONFORM_ENV = SOFTSGX_TEST_KEY=$(TEST_KEY) SOFTSGX_TEST_ENCLAVE=$(abspath $(TEST_ENCLAVE)) \
	SOFTSGX_TEST_ENCLAVE_XSAVE=$(abspath $(TEST_ENCLAVE_XSAVE)) \
	SOFTSGX_PRELOAD=$(abspath $(PRELOAD_LIB)) SOFTSGX_BIN=$(abspath $(CHECK_CLI)) \
	SOFTSGX_STATE_DIR=$(abspath build/state)
CONFORM_DEPS = $(TEST_KEY) $(TEST_ENCLAVE) $(TEST_ENCLAVE_XSAVE) $(PRELOAD_LIB) $(CHECK_CLI)
# A program that holds an enclave and a vEPC until stdin closes (tests/tools/test_top).
EPC_HOLDER := $(RELEASE_DIR)/tests/shim/epc_holder
# The command, for users (release) and for tests/tools/test_cli (sanitized).
RELEASE_CLI := $(RELEASE_DIR)/softsgx
CHECK_CLI := $(CHECK_DIR)/softsgx
TSAN_CLI := $(TSAN_DIR)/softsgx
# tests/service/ binaries run a second time with their services under
# ThreadSanitizer (tests/run-tests "tsan-svc:"): those that page and enter
# through the service's threads.
TSAN_SVC_TEST_BINS := $(addprefix $(CHECK_DIR)/tests/service/,test_fault_chan test_remote \
	test_remote_kick test_remote_fork)
# The `make run` demo (examples/demo.c): an ordinary SGX host program, built
# like a user's (release, unsanitized) and run under `softsgx run` on a small
# EPC that its enclaves oversubscribe.
DEMO_SRC := examples/demo.c
RELEASE_DEMO := $(RELEASE_DIR)/examples/demo
DEMO_EPC := 1M

# RSA-3072 keys with exponent 3 for the tests, made fresh on every machine.
TEST_KEY := build/keys/test-signer.pem
TEST_KEY2 := build/keys/other-signer.pem

# The project's own test enclave (tests/enclaves/): freestanding C and
# assembly linked as a static PIE at 0 by enclave.lds; no sanitizers, no libc,
# no dynamic relocations (docs/enclave-abi.md).
ENCLAVE_CC ?= gcc
ENCLAVE_DIR := build/enclaves
TEST_ENCLAVE := $(ENCLAVE_DIR)/test_enclave.elf
ENCLAVE_OBJ := $(patsubst tests/enclaves/%,$(ENCLAVE_DIR)/%.o, \
	$(basename $(wildcard tests/enclaves/*.c tests/enclaves/*.S)))
# The same enclave with SSA frames of 4 pages: room for the XSAVE area of
# an XFRM equal to the host's XCR0 (tests/enclaves/test_enclave.h).
TEST_ENCLAVE_XSAVE := $(ENCLAVE_DIR)/test_enclave_xsave.elf
ENCLAVE_XSAVE_OBJ := $(patsubst $(ENCLAVE_DIR)/%,$(ENCLAVE_DIR)/xsave/%,$(ENCLAVE_OBJ))
ENCLAVE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Itests/enclaves \
	-ffreestanding -fPIC -fvisibility=hidden -fno-stack-protector -fno-builtin \
	-fno-tree-loop-distribute-patterns -mgeneral-regs-only -fcf-protection=none \
	-fno-asynchronous-unwind-tables -fno-unwind-tables
ENCLAVE_LDFLAGS := -nostdlib -static-pie -Wl,-T,tests/enclaves/enclave.lds \
	-Wl,--orphan-handling=error -Wl,-z,max-page-size=4096 -Wl,--build-id=none \
	-Wl,-z,norelro -Wl,-z,noexecstack

.PHONY: all deps check bench run clean format
# The embedding API as a versioned shared library (soname libsoftsgx.so.0).
# The version is the one of include/softsgx/softsgx.h (SOFTSGX_VERSION_*).
softsgx_version_part = $(shell sed -n 's/^\#define SOFTSGX_VERSION_$(1) \([0-9]*\)$$/\1/p' \
	include/softsgx/softsgx.h)
SO_MAJOR := $(call softsgx_version_part,MAJOR)
SO_VERSION := $(SO_MAJOR).$(call softsgx_version_part,MINOR).$(call softsgx_version_part,PATCH)
RELEASE_SO := $(RELEASE_DIR)/libsoftsgx.so.$(SO_VERSION)
# The soname link, for the programs of `make check` linked against the .so.
RELEASE_SO_LINK := $(RELEASE_DIR)/libsoftsgx.so.$(SO_MAJOR)
PUBLIC_HDRS := $(wildcard include/softsgx/*.h)
# Every public header compiled alone, as C11 and as C++17 (issue 19): a
# translation unit per header and language (the typedef keeps a header of
# macros alone from being an empty unit); `make check` builds them.
HDRCHECK_DIR := build/hdrcheck
HDRCHECK_OBJ := $(patsubst include/softsgx/%.h,$(HDRCHECK_DIR)/%.c.o,$(PUBLIC_HDRS)) \
	$(patsubst include/softsgx/%.h,$(HDRCHECK_DIR)/%.cc.o,$(PUBLIC_HDRS))
CXX ?= g++
# Programs linked against libsoftsgx.so as an embedder's are (tests/public/):
# the export test, the loader and signer, the README's embedding snippet
# against a staged install, and a C++ program that includes every public
# header.
PUBLIC_TEST_BINS := $(patsubst %.c,$(RELEASE_DIR)/%,$(wildcard tests/public/test_*.c))
PUBLIC_CXX_BIN := $(RELEASE_DIR)/tests/public/cxx_consumer

# Quiet build (issue 19): `make` prints a short line per step ("CC
# build/check/hw/epcm.o", "LD build/release/softsgx", "AR ..."), `make V=1`
# every command. The compilers and ar are wrapped here, so rules stay plain
# `$(CC) ...` and new rules are quiet too: $(info) prints when make expands
# the recipe, and expands to nothing. Commands that are not compilers (ln,
# install, openssl) are silent without V=1.
V ?= 0
ifneq ($(V),1)
.SILENT:
quiet_empty :=
quiet_pad := $(quiet_empty)  $(quiet_empty)
# CC for a compile (an object, or a program built from its source in one
# step), LD for a link of objects alone.
quiet_tool = $(info $(quiet_pad)$(if $(filter %.o,$@)$(filter %.c %.cc %.S,$<),$(1),$(2))$(quiet_pad)$@)
QUIET_CC := $(CC)
QUIET_CXX := $(CXX)
QUIET_ENCLAVE_CC := $(ENCLAVE_CC)
QUIET_AR := $(AR)
override CC = $(call quiet_tool,CC,LD)$(QUIET_CC)
override CXX = $(call quiet_tool,CXX,LD)$(QUIET_CXX)
override ENCLAVE_CC = $(call quiet_tool,CC,LD)$(QUIET_ENCLAVE_CC)
override AR = $(call quiet_tool,AR,AR)$(QUIET_AR)
endif

all: $(RELEASE_LIB) $(RELEASE_SO) $(RELEASE_CLI) $(PRELOAD_LIB)

# Install the Debian packages the build needs, only when they are missing.
deps:
	@./.ci/install-deps

$(CHECK_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -MMD -MP -c $< -o $@

$(TSAN_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TSAN) -MMD -MP -c $< -o $@

$(RELEASE_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP -c $< -o $@

$(RELEASE_DIR)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP -c $< -o $@

$(CHECK_LIB): $(call check_obj,$(LIB_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

$(TSAN_LIB): $(call tsan_obj,$(LIB_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

$(RELEASE_LIB): $(call release_obj,$(LIB_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

$(CHECK_DIR)/tests/%: tests/%.c $(call check_obj,$(TEST_COMMON_SRC)) $(CHECK_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -MMD -MP $< $(call check_obj,$(TEST_COMMON_SRC)) \
		$(CHECK_LIB) -o $@ $(TEST_LDLIBS)

$(TSAN_DIR)/tests/%: tests/%.c $(call tsan_obj,$(TEST_COMMON_SRC)) $(TSAN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TSAN) -MMD -MP $< $(call tsan_obj,$(TEST_COMMON_SRC)) \
		$(TSAN_LIB) -o $@ $(TEST_LDLIBS)

# Everything in one shared object; only the interposed libc names are exported.
$(PRELOAD_LIB): $(call release_obj,$(LIB_SRC) $(SHIM_SRC)) \
		$(call release_asm_obj,$(SHIM_ASM_SRC)) shim/preload.map
	$(CC) -shared -Wl,--version-script=shim/preload.map -o $@ \
		$(call release_obj,$(LIB_SRC) $(SHIM_SRC)) \
		$(call release_asm_obj,$(SHIM_ASM_SRC)) $(LDLIBS) -ldl

$(RELEASE_DIR)/tests/shim/%: tests/shim/%.c $(RELEASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< $(RELEASE_LIB) -o $@ -lcmocka $(LDLIBS)

$(RELEASE_DIR)/tests/conformance/%: tests/conformance/%.c $(RELEASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< $(RELEASE_LIB) -o $@ \
		-lcmocka -lrt $(LDLIBS)

$(CHECK_DIR)/tests/conformance/%: tests/conformance/%.c $(CHECK_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -MMD -MP $< $(CHECK_LIB) -o $@ \
		-lcmocka -lrt $(LDLIBS)

$(RELEASE_CLI): $(call release_obj,$(CLI_SRC)) $(RELEASE_LIB)
	$(CC) $(CFLAGS_RELEASE) -o $@ $(call release_obj,$(CLI_SRC)) $(RELEASE_LIB) $(LDLIBS)

$(CHECK_CLI): $(call check_obj,$(CLI_SRC)) $(CHECK_LIB)
	$(CC) $(CFLAGS_CHECK) -o $@ $(call check_obj,$(CLI_SRC)) $(CHECK_LIB) $(LDLIBS)

# The command under ThreadSanitizer: the platform service's threads (the
# serving one, ksgxd, one per fault channel) for tests/service/ ("tsan-svc:").
$(TSAN_CLI): $(call tsan_obj,$(CLI_SRC)) $(TSAN_LIB)
	$(CC) $(CFLAGS_TSAN) -o $@ $(call tsan_obj,$(CLI_SRC)) $(TSAN_LIB) $(LDLIBS)

# The demo uses the loader and signer (libsoftsgx.a) and tools/cli.c's key
# generation and formatting helpers; the test enclave's ABI header.
$(RELEASE_DEMO): $(DEMO_SRC) $(call release_obj,tools/cli.c) $(RELEASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< $(call release_obj,tools/cli.c) \
		$(RELEASE_LIB) -o $@ $(LDLIBS)

$(RELEASE_DIR)/bench/%: bench/%.c $(RELEASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< $(RELEASE_LIB) -o $@ $(LDLIBS)

$(ENCLAVE_DIR)/%.o: tests/enclaves/%.c
	@mkdir -p $(dir $@)
	$(ENCLAVE_CC) $(ENCLAVE_CFLAGS) -MMD -MP -c $< -o $@

$(ENCLAVE_DIR)/%.o: tests/enclaves/%.S
	@mkdir -p $(dir $@)
	$(ENCLAVE_CC) $(ENCLAVE_CFLAGS) -MMD -MP -c $< -o $@

$(TEST_ENCLAVE): $(ENCLAVE_OBJ) tests/enclaves/enclave.lds
	$(ENCLAVE_CC) $(ENCLAVE_LDFLAGS) -o $@ $(ENCLAVE_OBJ)

$(ENCLAVE_DIR)/xsave/%.o: tests/enclaves/%.c
	@mkdir -p $(dir $@)
	$(ENCLAVE_CC) $(ENCLAVE_CFLAGS) -DTEST_ENCL_SSA_FRAME_PAGES=4 -MMD -MP -c $< -o $@

$(ENCLAVE_DIR)/xsave/%.o: tests/enclaves/%.S
	@mkdir -p $(dir $@)
	$(ENCLAVE_CC) $(ENCLAVE_CFLAGS) -DTEST_ENCL_SSA_FRAME_PAGES=4 -MMD -MP -c $< -o $@

$(TEST_ENCLAVE_XSAVE): $(ENCLAVE_XSAVE_OBJ) tests/enclaves/enclave.lds
	$(ENCLAVE_CC) $(ENCLAVE_LDFLAGS) -o $@ $(ENCLAVE_XSAVE_OBJ)

build/keys/%.pem:
	@mkdir -p $(dir $@)
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 \
		-pkeyopt rsa_keygen_pubexp:3 -out $@ 2>/dev/null

# ThreadSanitizer settings for the tests. report_signal_unsafe=0: the
# fixture's SIGSEGV handler is the model's page-fault entry, and like Linux's
# fault handler it takes locks and allocates (ELDU buffers); the signal is a
# synchronous fault on a plain load or store in test code, never one that
# interrupts malloc or a held lock, so those calls are safe there.
# halt_on_error=1: the first race fails the binary (exit code 66).
TSAN_ENV := TSAN_OPTIONS="report_signal_unsafe=0 halt_on_error=1 exitcode=66"

# SOFTSGX_CPUID_NOTICE_GIVEN: on a host without CPUID faulting the shim's
# one-line notice would otherwise land in the stderr that tests expect empty;
# tests/shim/test_cpuid checks the notice itself.
check: deps
	@$(MAKE) --no-print-directory check-build
	@SOFTSGX_CPUID_NOTICE_GIVEN=1 SOFTSGX_TEST_KEY=$(TEST_KEY) SOFTSGX_TEST_KEY2=$(TEST_KEY2) $(TSAN_ENV) \
		SOFTSGX_TEST_ENCLAVE=$(abspath $(TEST_ENCLAVE)) \
		SOFTSGX_TEST_ENCLAVE_XSAVE=$(abspath $(TEST_ENCLAVE_XSAVE)) \
		SOFTSGX_PRELOAD=$(abspath $(PRELOAD_LIB)) SOFTSGX_BIN=$(abspath $(CHECK_CLI)) \
		SOFTSGX_TSAN_BIN=$(abspath $(TSAN_CLI)) \
		SOFTSGX_STATE_DIR=$(abspath build/state) SOFTSGX_DEMO=$(abspath $(RELEASE_DEMO)) \
		SOFTSGX_EPC_HOLDER=$(abspath $(EPC_HOLDER)) \
		SOFTSGX_SO=$(abspath $(RELEASE_SO)) SOFTSGX_HEADER=$(abspath include/softsgx/softsgx.h) \
		SOFTSGX_CXX_CONSUMER=$(abspath $(PUBLIC_CXX_BIN)) \
		./tests/run-tests $(TEST_BINS) $(TSAN_CHECK_BINS) $(SHIM_TEST_BINS) $(FUZZ_REPLAY_BINS) \
		$(PUBLIC_TEST_BINS) $(CHECK_CONFORM_BINS) $(CHECK_CONFORM_ASAN_BINS) \
		$(addprefix svc:,$(SHIM_SVC_MODE_BINS) $(CHECK_CONFORM_BINS)) \
		$(addprefix tsan-svc:,$(TSAN_SVC_TEST_BINS))

# The conformance programs and the shim stress programs alone.
.PHONY: check-conform
check-conform: deps
	@$(MAKE) --no-print-directory $(CONFORM_BINS) $(CONFORM_ASAN_BINS) $(CONFORM_DEPS)
	@$(CONFORM_ENV) ./tests/run-tests $(CONFORM_BINS) $(CONFORM_ASAN_BINS)

.PHONY: check-build check-tsan check-tsan-build
check-build: $(TEST_BINS) $(TSAN_CHECK_BINS) $(TEST_KEY) $(TEST_KEY2) $(PRELOAD_LIB) $(CHECK_CLI) \
	$(TSAN_CLI) \
	$(TEST_ENCLAVE) $(TEST_ENCLAVE_XSAVE) $(FUZZ_REPLAY_BINS) \
	$(SHIM_TEST_BINS) $(RELEASE_DEMO) $(EPC_HOLDER) $(CONFORM_BINS) $(CONFORM_ASAN_BINS) \
	$(HDRCHECK_OBJ) $(PUBLIC_TEST_BINS) $(PUBLIC_CXX_BIN)

check-tsan: deps
	@$(MAKE) --no-print-directory check-tsan-build
	@SOFTSGX_TEST_KEY=$(TEST_KEY) SOFTSGX_TEST_KEY2=$(TEST_KEY2) $(TSAN_ENV) \
		./tests/run-tests $(TSAN_TEST_BINS)

check-tsan-build: $(TSAN_TEST_BINS) $(TEST_KEY) $(TEST_KEY2)

.PHONY: check-stress
check-stress: deps
	@$(MAKE) --no-print-directory $(STRESS_BINS) $(TEST_KEY) $(TEST_KEY2) \
		$(CONFORM_STRESS_BINS) $(CONFORM_ASAN_BINS) $(CONFORM_DEPS) $(STORM_BIN)
	@SOFTSGX_STRESS=long SOFTSGX_TEST_KEY=$(TEST_KEY) SOFTSGX_TEST_KEY2=$(TEST_KEY2) $(TSAN_ENV) \
		./tests/run-tests $(STRESS_BINS)
	@SOFTSGX_STRESS=long $(CONFORM_ENV) ./tests/run-tests $(CONFORM_STRESS_BINS) $(CONFORM_ASAN_BINS)
	@SOFTSGX_STRESS=long SOFTSGX_TEST_FILTER='test_signal_storm*' SOFTSGX_CPUID_NOTICE_GIVEN=1 \
		SOFTSGX_TEST_KEY2=$(TEST_KEY2) $(CONFORM_ENV) ./tests/run-tests $(STORM_BIN)
	@# The platform service's failure model: 1000 clients SIGKILLed at random points under load.
	@$(MAKE) --no-print-directory $(CHECK_DIR)/tests/service/test_kill_loop $(CHECK_CLI)
	@SOFTSGX_STRESS=long SOFTSGX_TEST_KEY=$(TEST_KEY) SOFTSGX_BIN=$(abspath $(CHECK_CLI)) \
		./tests/run-tests $(CHECK_DIR)/tests/service/test_kill_loop
	@# The same with ENCLU in the clients: 1000 programs under `run --service` killed at random
	@# moments, half of them inside an enclave or paging, while another pages all along.
	@$(MAKE) --no-print-directory $(RELEASE_DIR)/tests/shim/test_service_enclu $(CONFORM_DEPS)
	@SOFTSGX_STRESS=long SOFTSGX_TEST_FILTER=test_kill_loop_inside $(CONFORM_ENV) \
		./tests/run-tests $(RELEASE_DIR)/tests/shim/test_service_enclu

# bench_ecall re-executes itself with SOFTSGX_PRELOAD in LD_PRELOAD.
# bench/bench_startup times `softsgx run`: the command next to the benchmarks (sanitize).
$(RELEASE_DIR)/bench/bench_startup: | $(RELEASE_CLI)
# bench/bench_service_ecall runs itself under `softsgx run --private` and `--service`.
$(RELEASE_DIR)/bench/bench_service_ecall: | $(RELEASE_CLI)
# bench/bench_service is a client of the platform service (service/remote.c) and
# starts the service with the softsgx command next to the benchmarks.
$(RELEASE_DIR)/bench/bench_service: bench/bench_service.c $(call release_obj,$(SVC_SRC)) \
		$(RELEASE_LIB) | $(RELEASE_CLI)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< $(call release_obj,$(SVC_SRC)) $(RELEASE_LIB) -o $@ \
		$(LDLIBS)

bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BINS) $(PRELOAD_LIB)
	@SOFTSGX_SERVICE=0 SOFTSGX_PRELOAD=$(abspath $(PRELOAD_LIB)) \
		SOFTSGX_STATE_DIR=$(abspath build/state) ./bench/run-benchmarks $(BENCH_BINS)

# The demo: the platform as software sees it, a VMM's guest reboot cycle on
# /dev/sgx_vepc, then examples/demo.c under `softsgx run` on a 256-page EPC
# (the test enclave built, signed, entered, and copies of it paging). The
# platform root key (sealing keys) goes to build/state, as for `make check`,
# not to the user's ~/.local/state.
run: deps
	@$(MAKE) --no-print-directory all $(TEST_ENCLAVE) $(RELEASE_DEMO)
	@echo '$$ $(RELEASE_CLI) info'
	@$(RELEASE_CLI) info
	@echo
	@echo '$$ $(RELEASE_CLI) guest'
	@$(RELEASE_CLI) guest
	@echo
	@echo '$$ $(RELEASE_CLI) run --private --epc $(DEMO_EPC) --sections 1 -- $(RELEASE_DEMO) --epc $(DEMO_EPC) $(TEST_ENCLAVE)'
	@SOFTSGX_STATE_DIR=$(abspath build/state) $(RELEASE_CLI) run --private --epc $(DEMO_EPC) --sections 1 \
		-- $(RELEASE_DEMO) --epc $(DEMO_EPC) $(TEST_ENCLAVE)

# Corpus replay: the harness, its checks and replay.c's main(), for `make check`.
$(CHECK_DIR)/tests/fuzz/replay_%: tests/fuzz/%.c tests/fuzz/replay.c \
		$(call check_obj,$(FUZZ_COMMON_SRC)) $(CHECK_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -DFUZZ_CORPUS_DIR='"tests/fuzz/corpus/$*"' -MMD -MP \
		$< tests/fuzz/replay.c $(call check_obj,$(FUZZ_COMMON_SRC)) $(CHECK_LIB) -o $@ \
		$(TEST_LDLIBS)

# libFuzzer builds (clang from Debian; `make fuzz-deps` installs it). Not part
# of `make check`. FUZZ_SECONDS per harness for fuzz-smoke; new inputs go to
# build/fuzz/corpus/<harness>/, crashes to build/fuzz/artifacts/<harness>/.
FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
FUZZ_SECONDS ?= 60
CFLAGS_FUZZ := $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB := $(FUZZ_DIR)/libsoftsgx.a
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/bin/%,$(FUZZ_NAMES))
fuzz_obj = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))

.PHONY: fuzz fuzz-smoke fuzz-deps
# Objects only reached through pattern rules: keep them between builds.
.SECONDARY: $(call check_obj,$(FUZZ_COMMON_SRC)) $(call fuzz_obj,$(FUZZ_SRC) $(FUZZ_COMMON_SRC))
fuzz-deps:
	@command -v $(FUZZ_CC) >/dev/null || ./.ci/install-deps clang

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(call fuzz_obj,$(LIB_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/bin/%: $(call fuzz_obj,tests/fuzz/%.c $(FUZZ_COMMON_SRC)) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer -o $@ $(call fuzz_obj,tests/fuzz/$*.c \
		$(FUZZ_COMMON_SRC)) $(FUZZ_LIB) $(LDLIBS)

# Every harness for FUZZ_SECONDS on its committed seeds plus earlier finds.
fuzz-smoke: fuzz $(TEST_KEY)
	@for h in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$h $(FUZZ_DIR)/artifacts/$$h && \
		echo "fuzz-smoke: $$h for $(FUZZ_SECONDS) s" && \
		SOFTSGX_TEST_KEY=$(TEST_KEY) timeout $$(($(FUZZ_SECONDS) + 120)) \
			$(FUZZ_DIR)/bin/$$h -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
			-rss_limit_mb=4096 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$h/ \
			$(FUZZ_DIR)/corpus/$$h tests/fuzz/corpus/$$h || exit 1; \
	done

format:
	clang-format -i $(LIB_SRC) $(TEST_SRC) $(TEST_COMMON_SRC) $(BENCH_SRC) $(CLI_SRC) $(DEMO_SRC) \
		$(wildcard hw/*.h kernel/*.h obs/*.h include/softsgx/*.h tests/common/*.h tools/*.h bench/*.h)

# Only the public API is exported (libsoftsgx.map): the rest binds inside.
$(RELEASE_SO): $(call release_obj,$(LIB_SRC)) libsoftsgx.map
	$(CC) -shared -Wl,-soname,libsoftsgx.so.$(SO_MAJOR) -Wl,--version-script=libsoftsgx.map \
		-Wl,--no-undefined -o $@ $(call release_obj,$(LIB_SRC)) $(LDLIBS)

$(RELEASE_SO_LINK): $(RELEASE_SO)
	ln -sf $(notdir $<) $@

$(HDRCHECK_DIR)/%.c.o: include/softsgx/%.h $(PUBLIC_HDRS)
	@mkdir -p $(dir $@)
	printf '#include "softsgx/$*.h"\ntypedef int softsgx_hdrcheck_;\n' | $(CC) -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude \
		-x c -c - -o $@

$(HDRCHECK_DIR)/%.cc.o: include/softsgx/%.h $(PUBLIC_HDRS)
	@mkdir -p $(dir $@)
	printf '#include "softsgx/$*.h"\ntypedef int softsgx_hdrcheck_;\n' | $(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude \
		-x c++ -c - -o $@

# Linked against the .so, found through an rpath to build/release.
# -rdynamic: the program's own functions are in its dynamic symbol table, as
# in any program that loads plugins, so a library name left global would
# bind to the program's function of that name (test_exports checks it does not).
$(PUBLIC_TEST_BINS): $(RELEASE_DIR)/tests/public/%: tests/public/%.c $(RELEASE_SO_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< -o $@ -L$(RELEASE_DIR) -l:$(notdir $(RELEASE_SO)) \
		-Wl,-rpath,'$$ORIGIN/../..' -rdynamic -lcmocka

$(PUBLIC_CXX_BIN): tests/public/cxx_consumer.cc $(PUBLIC_HDRS) $(RELEASE_SO_LINK)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude $< -o $@ -L$(RELEASE_DIR) \
		-l:$(notdir $(RELEASE_SO)) -Wl,-rpath,'$$ORIGIN/../..'

# The public API as an embedder gets it (issue 19): `make check` installs
# into build/public-stage (PREFIX=/usr), and tests/public/test_readme
# compiles README.md's embedding snippet against it through pkg-config and
# runs it. Everything `install` needs is built first, so the nested make
# only copies.
PUBLIC_STAGE := build/public-stage
PUBLIC_STAGE_PC := $(PUBLIC_STAGE)/usr/lib/pkgconfig/softsgx.pc
$(PUBLIC_STAGE_PC): $(RELEASE_LIB) $(RELEASE_SO) $(RELEASE_CLI) $(PRELOAD_LIB) $(PUBLIC_HDRS) \
		softsgx.pc.in docs/softsgx.1 tools/softsgx-completion.bash
	@rm -rf $(PUBLIC_STAGE)
	@env -u MAKEFLAGS -u MFLAGS $(MAKE) -s install DESTDIR=$(abspath $(PUBLIC_STAGE)) PREFIX=/usr \
		>/dev/null
check-build: $(PUBLIC_STAGE_PC)

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the command, its shim
# (in LIBDIR/softsgx, where `softsgx run` looks), the library for embedding,
# public headers, a pkg-config file and the man page.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
# bash-completion loads completions/NAME when NAME is first completed.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
.PHONY: install
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/softsgx $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR)/softsgx $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(RELEASE_CLI) $(DESTDIR)$(BINDIR)/softsgx
	install -m 755 $(PRELOAD_LIB) $(DESTDIR)$(LIBDIR)/softsgx/libsoftsgx-preload.so
	install -m 755 $(RELEASE_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libsoftsgx.so.$(SO_VERSION) $(DESTDIR)$(LIBDIR)/libsoftsgx.so.$(SO_MAJOR)
	ln -sf libsoftsgx.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libsoftsgx.so
	install -m 644 $(RELEASE_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(PUBLIC_HDRS) $(DESTDIR)$(INCLUDEDIR)/softsgx/
	install -m 644 docs/softsgx.1 $(DESTDIR)$(MANDIR)/man1/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(SO_VERSION)|' \
		softsgx.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/softsgx.pc
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 tools/softsgx-completion.bash $(DESTDIR)$(BASHCOMPDIR)/softsgx

# make uninstall [PREFIX=...] [DESTDIR=...] (issue 19): removes exactly the
# files `make install` put there, with the same variables, and the two
# directories of softsgx's own when they are left empty; shared directories
# (bin, lib, man1...) stay.
.PHONY: uninstall
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/softsgx \
		$(DESTDIR)$(LIBDIR)/softsgx/libsoftsgx-preload.so \
		$(DESTDIR)$(LIBDIR)/libsoftsgx.so.$(SO_VERSION) \
		$(DESTDIR)$(LIBDIR)/libsoftsgx.so.$(SO_MAJOR) \
		$(DESTDIR)$(LIBDIR)/libsoftsgx.so \
		$(DESTDIR)$(LIBDIR)/libsoftsgx.a \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/softsgx/,$(notdir $(PUBLIC_HDRS))) \
		$(DESTDIR)$(MANDIR)/man1/softsgx.1 \
		$(DESTDIR)$(LIBDIR)/pkgconfig/softsgx.pc \
		$(DESTDIR)$(BASHCOMPDIR)/softsgx
	rmdir --ignore-fail-on-non-empty $(DESTDIR)$(LIBDIR)/softsgx \
		$(DESTDIR)$(INCLUDEDIR)/softsgx 2>/dev/null || true

# ---- svc: rules of the platform service's tests (see the block at CLI_SRC) ----
CHECK_SVC_LIB := $(CHECK_DIR)/libsoftsgx-service.a
$(CHECK_SVC_LIB): $(call check_obj,$(SVC_SRC))
	@rm -f $@
	ar rcs $@ $^

# Shorter stem than $(CHECK_DIR)/tests/%, so make picks this rule for them.
$(CHECK_DIR)/tests/service/%: tests/service/%.c $(call check_obj,$(TEST_COMMON_SRC)) \
		$(CHECK_SVC_LIB) $(CHECK_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -MMD -MP $< $(call check_obj,$(TEST_COMMON_SRC)) \
		$(CHECK_SVC_LIB) $(CHECK_LIB) -o $@ $(TEST_LDLIBS)

# The protocol harness also checks TOP replies with tests/common/json_check.c.
SVC_FUZZ_SRC := tests/fuzz/fuzz_service_proto.c $(FUZZ_COMMON_SRC) tests/common/json_check.c
$(CHECK_DIR)/tests/fuzz/replay_fuzz_service_proto: tests/fuzz/fuzz_service_proto.c \
		tests/fuzz/replay.c $(call check_obj,$(FUZZ_COMMON_SRC) tests/common/json_check.c) \
		$(CHECK_SVC_LIB) $(CHECK_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -DFUZZ_CORPUS_DIR='"tests/fuzz/corpus/fuzz_service_proto"' \
		-MMD -MP $< tests/fuzz/replay.c \
		$(call check_obj,$(FUZZ_COMMON_SRC) tests/common/json_check.c) \
		$(CHECK_SVC_LIB) $(CHECK_LIB) -o $@ $(TEST_LDLIBS)

$(FUZZ_DIR)/bin/fuzz_service_proto: $(call fuzz_obj,$(SVC_FUZZ_SRC) $(SVC_SRC)) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer -o $@ $(call fuzz_obj,$(SVC_FUZZ_SRC) $(SVC_SRC)) \
		$(FUZZ_LIB) $(LDLIBS)
# ---- end svc ----

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- cgsvc: the EPC cgroup experiment (issue 17, docs/epc-cgroups.md) ----
# examples/epc_pressure.c: a VMM's vEPC or host enclaves as a client of the
# platform service (service/remote.h), run by examples/cgroup-experiment.sh.
EPC_PRESSURE := $(RELEASE_DIR)/examples/epc_pressure
$(EPC_PRESSURE): examples/epc_pressure.c $(call release_obj,$(SVC_SRC)) $(RELEASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< $(call release_obj,$(SVC_SRC)) $(RELEASE_LIB) \
		-o $@ $(LDLIBS)
all: $(EPC_PRESSURE)
# ---- end cgsvc ----

# ---- shimsvc: rules of the service-mode shim tests (see the block at SHIM_SRC) ----
# Its tests (tests/shim/test_service_*.c) are shim test programs that also
# drive the service as tests/service/ does (svc_fixture.h): the command
# fixture and the client join them (a static pattern rule: before tests/shim/%).
SHIM_SVC_TEST_OBJ := $(call release_obj,tests/common/cli_fixture.c tests/common/json_check.c \
	$(SHIM_SVC_CLIENT_SRC))
SHIM_SVC_TEST_BINS := $(filter $(RELEASE_DIR)/tests/shim/test_service_%,$(SHIM_TEST_BINS))
$(SHIM_SVC_TEST_BINS): $(RELEASE_DIR)/tests/shim/%: tests/shim/%.c $(SHIM_SVC_TEST_OBJ) \
		$(RELEASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< \
		$(SHIM_SVC_TEST_OBJ) $(RELEASE_LIB) -o $@ -lcmocka $(LDLIBS)
# ---- end shimsvc ----
