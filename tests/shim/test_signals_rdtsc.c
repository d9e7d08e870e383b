// SPDX-License-Identifier: MIT
/*
 * RDTSC inside an enclave on a platform modelled without SGX2 (`softsgx
 * run --sgx1`): #UD through an AEX, as the SDM specifies for processors
 * with SGX1 only (Vol. 3D, "RDTSC and RDTSCP"), while the host's own RDTSC
 * (and clock_gettime() in the vDSO) keeps working on the same thread.
 *
 * The test enclave has no RDTSC operation: the test adds a few
 * instructions in the padding of its code page (RDTSC, then EEXIT to RCX)
 * and points TCS 1's entry there before signing.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

#include <cmocka.h>

#include "tests/shim/new_thread.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/encl_helper.h"

#define X86_TRAP_UD 6

static const char *const run_opts[] = { "--epc", "1M", "--sections", "1", "--sgx1", NULL };

/* rdtsc; mov %rcx, %rbx; mov $EEXIT, %eax; enclu */
static const uint8_t rdtsc_exit[] = { 0x0f, 0x31, 0x48, 0x89, 0xcb, 0xb8, 0x04,
				      0x00, 0x00, 0x00, 0x0f, 0x01, 0xd7 };

/* Put rdtsc_exit at the end of the first code page and enter TCS 1 there. */
static int patch_image(void)
{
	uint64_t tcs1 = enclave_image_tcs_offset(&th_image, 1), code = 0;
	struct sgx_tcs *tcs = NULL;
	uint8_t *tail = NULL;

	for (size_t i = 0; i < th_image.nr_pages; i++) {
		struct enclave_page *p = &th_image.pages[i];
		uint64_t type = (p->secinfo >> 8) & 0xff;

		if (p->offset == tcs1 && type == SGX_PAGE_TYPE_TCS)
			tcs = (struct sgx_tcs *)p->contents;
		if (!tail && type == SGX_PAGE_TYPE_REG && (p->secinfo & SGX_SECINFO_X)) {
			tail = p->contents + SGX_PAGE_SIZE - 16;
			code = p->offset + SGX_PAGE_SIZE - 16;
		}
	}
	if (!tcs || !tail) {
		fprintf(stderr, "test enclave: no TCS 1 or no code page\n");
		return -1;
	}
	for (int i = 0; i < 16; i++) {
		if (tail[i]) {
			fprintf(stderr, "test enclave: its code page has no free tail\n");
			return -1;
		}
	}
	memcpy(tail, rdtsc_exit, sizeof(rdtsc_exit));
	tcs->entry_offset = code;
	return 0;
}

static void rdtsc_is_ud(void)
{
	struct timespec ts;
	struct vdso_record c;
	uint64_t t0 = __rdtsc(), t1;

	assert_int_equal(th_ecall(&encl, 1, 0, 0, 0, &c), 0);
	if (c.exits)
		fail_msg("RDTSC ran inside the enclave");
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, X86_TRAP_UD);
	/* The host's RDTSC and the vDSO's clock on the same thread are untouched. */
	t1 = __rdtsc();
	assert_true(t1 >= t0);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	th_ecall_ok(&encl, 0, TEST_ENCL_OP_NOP, 0, 0);
	assert_true(__rdtsc() >= t1);
}

static void test_rdtsc_in_enclave_is_ud_sgx1(void **state)
{
	(void)state;
	rdtsc_is_ud();
}

static void *rdtsc_thread(void *arg)
{
	(void)arg;
	rdtsc_is_ud();
	return NULL;
}

static void test_rdtsc_in_enclave_is_ud_new_thread(void **state)
{
	(void)state;
	run_on_new_thread(rdtsc_thread, NULL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		th_unit_test(test_rdtsc_in_enclave_is_ud_sgx1),
		th_unit_test(test_rdtsc_in_enclave_is_ud_new_thread),
	};

	shim_test_reexec(argc, argv, run_opts);
	if (th_prepare_unsigned() || patch_image() || th_sign())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
