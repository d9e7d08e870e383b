// SPDX-License-Identifier: MIT
/*
 * The shim-level companion of tests/fuzz/fuzz_vdso_entry: a program under
 * `softsgx run` that replays byte-stream inputs through the real
 * __vdso_sgx_enter_enclave (shim/vdso_enter.S) on the test enclave. libFuzzer
 * cannot host the shim, so the inputs are the files of
 * tests/fuzz/corpus/vdso_shim/ (one cmocka test each) and inputs drawn from
 * a fixed-seed generator (one more test).
 *
 * Each input is a sequence of calls with a TCS (good, unaligned, not a TCS,
 * NULL, any value), a function (EENTER, ERESUME, any), garbage in the
 * reserved and exception fields, an enclave operation with arguments (host
 * pointers only into a scratch buffer, NULL or an unmapped page; enclave
 * writes only into the enclave's buffer), and a user handler that returns
 * 0, a negative value, or ERESUME/EENTER a bounded number of times.
 *
 * Checked: the process survives every call; the vDSO returns -EINVAL for a
 * bad function or non-zero reserved bytes, else 0 (an exception is reported
 * in struct sgx_enclave_run) or what the handler returned; and afterwards a
 * fresh copy of the enclave builds and runs.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/lib/enclave_image.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/test_image.h"
#include "tests/shim/vdso_call.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/enclaves/test_enclave.h"

#define CORPUS_DIR   "tests/fuzz/corpus/vdso_shim"
#define MAX_CALLS    32
#define NR_RANDOM    1000
#define SCRATCH_SIZE (4 * SGX_PAGE_SIZE)

static const char *const run_opts[] = {"--epc", "512K", "--sections", "1", NULL};

static vdso_sgx_enter_enclave_t vdso_enter;
static struct enclave_image image;
static struct sgx_sigstruct *sig;
static uint8_t *scratch;  /* host memory the enclave may read and write */
static uint8_t *unmapped; /* a page nothing maps */

/* The input, front to back; zeros past the end. */
struct in {
	const uint8_t *p;
	size_t n, pos;
};

static uint64_t take(struct in *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)(in->pos < in->n ? in->p[in->pos++] : 0) << (8 * i);
	return v;
}

/* What the user handler does, and what it saw. */
struct handler_ctl {
	unsigned int mode;   /* 0: return 0, 1: return -value, 2: ERESUME, 3: EENTER */
	unsigned int budget; /* re-entries left before returning 0 */
	int value;
	unsigned int calls;
};

static int handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
		   struct sgx_enclave_run *run)
{
	struct handler_ctl *c = (struct handler_ctl *)(uintptr_t)run->user_data;

	(void)rdi, (void)rsi, (void)rdx, (void)rsp, (void)r8, (void)r9;
	c->calls++;
	switch (c->mode) {
	case 1:
		return -c->value;
	case 2:
	case 3:
		if (c->budget) {
			c->budget--;
			/* ERESUME only makes sense after an exception. */
			return c->mode == 2 && run->function != SGX_EEXIT ? SGX_ERESUME
									  : SGX_EENTER;
		}
		return 0;
	default:
		return 0;
	}
}

/* What the calls came to, printed after the generated inputs. */
static struct {
	unsigned long calls, einval, exits, exceptions, handler;
} tally;

static uint64_t host_ptr(struct in *in)
{
	uint8_t b = (uint8_t)take(in, 1);

	if (b < 0xF0)
		return (uintptr_t)scratch + take(in, 2) % SCRATCH_SIZE;
	return (b & 1) ? (uintptr_t)unmapped : 0;
}

static void one_call(struct enclave_handle *h, uint64_t buffer, struct in *in)
{
	struct sgx_enclave_run run;
	struct handler_ctl ctl = {0};
	uint8_t tsel = (uint8_t)take(in, 1), fsel = (uint8_t)take(in, 1);
	uint8_t op = (uint8_t)take(in, 1), hsel = (uint8_t)take(in, 1);
	uint8_t junk = (uint8_t)take(in, 1);
	uint64_t rsi = 0, rdx = 0, tcs0 = h->base + enclave_image_tcs_offset(&image, 0);
	unsigned int function;
	bool bad = false;
	int ret;

	memset(&run, 0, sizeof(run));
	switch (tsel % 6) {
	case 0:
	case 1:
		run.tcs = h->base + enclave_image_tcs_offset(&image, tsel % 2);
		break;
	case 2:
		run.tcs = tcs0 + 8 * (1 + take(in, 1) % 64);
		break;
	case 3:
		run.tcs = h->base + SGX_PAGE_SIZE * (take(in, 1) % (h->size / SGX_PAGE_SIZE));
		break;
	case 4:
		run.tcs = 0;
		break;
	default:
		run.tcs = take(in, 8);
		break;
	}
	function = fsel % 4 == 0 || fsel % 4 == 1 ? SGX_EENTER
		   : fsel % 4 == 2		  ? SGX_ERESUME
						  : (unsigned int)take(in, 4);
	bad = function != SGX_EENTER && function != SGX_ERESUME;
	if (junk & 1) {
		run.exception_vector = (uint16_t)take(in, 2);
		run.exception_addr = take(in, 8);
	}
	if (junk & 2) {
		run.reserved[take(in, 1) % sizeof(run.reserved)] = (uint8_t)(take(in, 1) | 1);
		bad = true;
	}
	switch (op % 12) {
	case TEST_ENCL_OP_COPY_IN:
	case TEST_ENCL_OP_COPY_OUT:
		rsi = host_ptr(in);
		rdx = take(in, 2) % (TEST_ENCL_BUFFER_SIZE + 2048);
		break;
	case TEST_ENCL_OP_READ_U64:
		rsi = h->base + take(in, 4) % h->size;
		break;
	case TEST_ENCL_OP_WRITE_U64:
		rsi = buffer + take(in, 2) % TEST_ENCL_BUFFER_SIZE;
		rdx = take(in, 8);
		break;
	case TEST_ENCL_OP_EREPORT:
	case TEST_ENCL_OP_EGETKEY:
		rsi = host_ptr(in);
		rdx = host_ptr(in);
		break;
	default:
		break;
	}
	if (hsel & 0x80) {
		ctl.mode = hsel & 3;
		ctl.budget = (hsel >> 2) & 7;
		ctl.value = (int)(take(in, 1) % 200);
		run.user_handler = (uintptr_t)handler;
		run.user_data = (uintptr_t)&ctl;
	}
	ret = vdso_call(op % 12, rsi, rdx, function, &run, vdso_enter);
	tally.calls++;
	tally.einval += ret == -EINVAL;
	tally.exits += ret == 0 && run.function == SGX_EEXIT;
	tally.exceptions += ret == 0 && run.function != SGX_EEXIT;
	tally.handler += ctl.calls;
	if (bad) {
		assert_int_equal(ret, -EINVAL);
		return;
	}
	if (ret == 0)
		return;
	/* Only the handler's own negative value comes back otherwise. */
	assert_true(run.user_handler && ctl.mode == 1 && ret == -ctl.value);
}

static void build(struct enclave_handle *h)
{
	int ret = enclave_build(&enclave_sys_native, &image, sig, h);

	if (ret)
		fail_msg("enclave_build: %d: %s", ret, enclave_image_error());
}

static int buffer_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			  struct sgx_enclave_run *run)
{
	(void)rdx, (void)rsp, (void)r8, (void)r9;
	if (run->function == SGX_EEXIT && rdi == TEST_ENCL_OK)
		*(uint64_t *)(uintptr_t)run->user_data = (uint64_t)rsi;
	return 0;
}

/* The enclave's copy buffer (TEST_ENCL_OP_BUFFER), through a handler that sees RSI. */
static uint64_t enclave_buffer(struct enclave_handle *h)
{
	struct sgx_enclave_run run;
	uint64_t value = 0;

	memset(&run, 0, sizeof(run));
	run.tcs = h->base + enclave_image_tcs_offset(&image, 0);
	run.user_handler = (uintptr_t)buffer_handler;
	run.user_data = (uintptr_t)&value;
	assert_int_equal(vdso_call(TEST_ENCL_OP_BUFFER, 0, 0, SGX_EENTER, &run, vdso_enter), 0);
	assert_true(value >= h->base && value < h->base + h->size);
	return value;
}

/* NOP through both TCS of a fresh enclave: the platform survived. */
static void fresh_enclave_works(void)
{
	struct enclave_handle h;

	build(&h);
	for (unsigned int t = 0; t < TEST_ENCL_NR_TCS; t++) {
		struct sgx_enclave_run run;

		memset(&run, 0, sizeof(run));
		run.tcs = h.base + enclave_image_tcs_offset(&image, t);
		assert_int_equal(vdso_call(TEST_ENCL_OP_NOP, 0, 0, SGX_EENTER, &run, vdso_enter),
				 0);
		assert_int_equal(run.function, SGX_EEXIT);
	}
	enclave_unload(&enclave_sys_native, &h);
}

static void replay(const uint8_t *data, size_t size)
{
	struct in in = {.p = data, .n = size};
	struct enclave_handle h;
	uint64_t buffer;

	build(&h);
	buffer = enclave_buffer(&h);
	for (unsigned int i = 0; i < MAX_CALLS && in.pos < in.n; i++)
		one_call(&h, buffer, &in);
	enclave_unload(&enclave_sys_native, &h);
	fresh_enclave_works();
}

static void test_corpus_file(void **state)
{
	const char *path = *state;
	FILE *f = fopen(path, "rb");
	uint8_t buf[4096];
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	replay(buf, n);
}

/* Inputs from xorshift64 with a fixed seed: the same ones on every run. */
static void test_generated_inputs(void **state)
{
	uint64_t x = 0x5EED50F75C5ULL;
	uint8_t buf[160];

	(void)state;
	for (unsigned int i = 0; i < NR_RANDOM; i++) {
		for (size_t j = 0; j < sizeof(buf); j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = (uint8_t)x;
		}
		replay(buf, 16 + (x % (sizeof(buf) - 16)));
	}
	printf("generated: %u inputs, %lu calls: %lu EINVAL, %lu EEXIT, %lu exceptions, "
	       "%lu handler calls\n",
	       NR_RANDOM, tally.calls, tally.einval, tally.exits, tally.exceptions, tally.handler);
}

/* An enclave page at @off (not an ELRANGE hole): EENTER on it is an EPCM violation. */
static bool is_image_page(uint64_t off)
{
	for (size_t i = 0; i < image.nr_pages; i++)
		if (image.pages[i].offset == off)
			return true;
	return false;
}

/*
 * Found by replaying seed_bad_tcs: EENTER on an enclave page that is no TCS
 * is an EPCM violation, #PF with the SGX bit, which the shim used to hand to
 * the kernel's fault path; the page being present, that answered "retry"
 * and the program spun forever. Linux's vDSO reports the #PF (SGX bit set
 * in the error code) in struct sgx_enclave_run and returns 0.
 */
static void test_eenter_not_a_tcs(void **state)
{
	struct sgx_enclave_run run;
	struct enclave_handle h;
	int ret;

	(void)state;
	build(&h);
	for (uint64_t off = 0; off < h.size; off += SGX_PAGE_SIZE) {
		if (off == enclave_image_tcs_offset(&image, 0) ||
		    off == enclave_image_tcs_offset(&image, 1))
			continue;
		memset(&run, 0, sizeof(run));
		run.tcs = h.base + off;
		ret = vdso_call(TEST_ENCL_OP_NOP, 0, 0, SGX_EENTER, &run, vdso_enter);
		/* As Linux's vDSO: 0, and the exception in @run (leaf EENTER, #PF). */
		if (ret || run.function != SGX_EENTER || run.exception_vector != 14 ||
		    (is_image_page(off) && !(run.exception_error_code & 0x8000)) ||
		    run.exception_addr != h.base + off)
			fail_msg("EENTER at enclave offset %#llx: %d, leaf %u, vector %u, error "
				 "code %#x, address %#llx",
				 (unsigned long long)off, ret, run.function, run.exception_vector,
				 run.exception_error_code, (unsigned long long)run.exception_addr);
	}
	enclave_unload(&enclave_sys_native, &h);
	fresh_enclave_works();
}

static int setup(void)
{
	if (test_image_prepare("SOFTSGX_TEST_ENCLAVE", &image, &sig))
		return -1;
	scratch = mmap(NULL, SCRATCH_SIZE + SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED)
		return -1;
	unmapped = scratch + SCRATCH_SIZE;
	munmap(unmapped, SGX_PAGE_SIZE);
	return 0;
}

int main(int argc, char **argv)
{
	struct CMUnitTest *tests;
	struct dirent **names;
	size_t nr = 0;
	int n, ret;

	shim_test_reexec(argc, argv, run_opts);
	/* A hang is a failure too: the whole program gets two minutes. */
	alarm(120);
	vdso_enter = (vdso_sgx_enter_enclave_t)vdso_sym("__vdso_sgx_enter_enclave");
	if (!vdso_enter || setup()) {
		fprintf(stderr, "no __vdso_sgx_enter_enclave, or no test enclave\n");
		return 1;
	}
	/* Files named on the command line replace the corpus and the generator. */
	if (argc > 1) {
		tests = calloc((size_t)argc, sizeof(*tests));
		if (!tests)
			return 1;
		for (int i = 1; i < argc; i++) {
			tests[nr].name = strdup(argv[i]);
			tests[nr].test_func = test_corpus_file;
			tests[nr].initial_state = argv[i];
			nr++;
		}
		return _cmocka_run_group_tests("vdso_replay", tests, nr, NULL, NULL);
	}
	n = scandir(CORPUS_DIR, &names, NULL, alphasort);
	if (n < 0) {
		perror(CORPUS_DIR);
		return 1;
	}
	tests = calloc((size_t)n + 2, sizeof(*tests));
	if (!tests)
		return 1;
	for (int i = 0; i < n; i++) {
		char *p;

		if (names[i]->d_name[0] != '.' &&
		    asprintf(&p, "%s/%s", CORPUS_DIR, names[i]->d_name) >= 0) {
			tests[nr].name = p;
			tests[nr].test_func = test_corpus_file;
			tests[nr].initial_state = p;
			nr++;
		}
		free(names[i]);
	}
	free(names);
	tests[nr].name = "eenter_not_a_tcs";
	tests[nr].test_func = test_eenter_not_a_tcs;
	nr++;
	tests[nr].name = "generated_inputs";
	tests[nr].test_func = test_generated_inputs;
	nr++;
	ret = _cmocka_run_group_tests("vdso_replay", tests, nr, NULL, NULL);
	for (size_t i = 0; i + 2 < nr; i++)
		free((void *)tests[i].name);
	free(tests);
	test_image_free(&image, &sig);
	return ret;
}
