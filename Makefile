# softsgx build. `make run` and `make check` do all set-up on Debian 12.
#
# Two build flavours share one source list:
#   build/check/   -O1 with ASan+UBSan, for the tests
#   build/release/ -O2, for benchmarks, tools and installation

CC ?= cc
CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -fPIC -Iinclude -Ihw -Ikernel \
	-Itools -Itests/common -pthread
CFLAGS_CHECK := $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS_RELEASE := $(CFLAGS_COMMON) -O2 -g
LDLIBS := -lcrypto -pthread
TEST_LDLIBS := -lcmocka $(LDLIBS)

HW_SRC := $(wildcard hw/*.c)
KERNEL_SRC := $(wildcard kernel/*.c)
TOOLS_LIB_SRC := $(wildcard tools/lib/*.c)
LIB_SRC := $(HW_SRC) $(KERNEL_SRC) $(TOOLS_LIB_SRC)
TEST_COMMON_SRC := $(wildcard tests/common/*.c)
TEST_SRC := $(filter-out tests/common/%,$(wildcard tests/*/test_*.c))
BENCH_SRC := $(wildcard bench/bench_*.c)

CHECK_DIR := build/check
RELEASE_DIR := build/release

check_obj = $(patsubst %.c,$(CHECK_DIR)/%.o,$(1))
release_obj = $(patsubst %.c,$(RELEASE_DIR)/%.o,$(1))

CHECK_LIB := $(CHECK_DIR)/libsoftsgx.a
RELEASE_LIB := $(RELEASE_DIR)/libsoftsgx.a
TEST_BINS := $(patsubst %.c,$(CHECK_DIR)/%,$(TEST_SRC))
BENCH_BINS := $(patsubst %.c,$(RELEASE_DIR)/%,$(BENCH_SRC))

# RSA-3072 keys with exponent 3 for the tests, made fresh on every machine.
TEST_KEY := build/keys/test-signer.pem
TEST_KEY2 := build/keys/other-signer.pem

.PHONY: all deps check bench run clean format
all: $(RELEASE_LIB)

# Install the Debian packages the build needs, only when they are missing.
deps:
	@./.ci/install-deps

$(CHECK_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -MMD -MP -c $< -o $@

$(RELEASE_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP -c $< -o $@

$(CHECK_LIB): $(call check_obj,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

$(RELEASE_LIB): $(call release_obj,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

$(CHECK_DIR)/tests/%: tests/%.c $(call check_obj,$(TEST_COMMON_SRC)) $(CHECK_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CHECK) -MMD -MP $< $(call check_obj,$(TEST_COMMON_SRC)) \
		$(CHECK_LIB) -o $@ $(TEST_LDLIBS)

$(RELEASE_DIR)/bench/%: bench/%.c $(RELEASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_RELEASE) -MMD -MP $< $(RELEASE_LIB) -o $@ $(LDLIBS)

build/keys/%.pem:
	@mkdir -p $(dir $@)
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 \
		-pkeyopt rsa_keygen_pubexp:3 -out $@ 2>/dev/null

check: deps
	@$(MAKE) --no-print-directory check-build
	@SOFTSGX_TEST_KEY=$(TEST_KEY) SOFTSGX_TEST_KEY2=$(TEST_KEY2) \
		./tests/run-tests $(TEST_BINS)

.PHONY: check-build
check-build: $(TEST_BINS) $(TEST_KEY) $(TEST_KEY2)

bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BINS)
	@./bench/run-benchmarks $(BENCH_BINS)

run: deps
	@$(MAKE) --no-print-directory all
	@echo "softsgx: the demo arrives with the softsgx command (issue 6); library built in $(RELEASE_DIR)"

format:
	clang-format -i $(LIB_SRC) $(TEST_SRC) $(TEST_COMMON_SRC) $(BENCH_SRC) \
		$(wildcard hw/*.h kernel/*.h include/softsgx/*.h tests/common/*.h)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
