/* SPDX-License-Identifier: MIT */
/*
 * The test enclave (docs/enclave-abi.md) for shim test programs: load,
 * sign, build through real system calls, and call through the vDSO with a
 * user handler that records what the enclave or the exception reported
 * (vdso_record.h).
 * Include once per program, after cmocka.h.
 */
#ifndef SOFTSGX_TESTS_ENCL_HELPER_H
#define SOFTSGX_TESTS_ENCL_HELPER_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/lib/enclave_image.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/shim/test_image.h"
#include "tests/shim/vdso_call.h"
#include "tests/shim/vdso_record.h"
#include "tests/enclaves/test_enclave.h"

static vdso_sgx_enter_enclave_t th_vdso;
static struct enclave_image th_image;
static struct sgx_sigstruct *th_sig;

struct th_encl {
	struct enclave_handle h;
};

/* EENTER TCS @tcs of @e for @op; 0 or the vDSO's error. */
static int th_ecall(const struct th_encl *e, unsigned int tcs, uint64_t op, uint64_t a1,
		    uint64_t a2, struct vdso_record *c)
{
	struct sgx_enclave_run run;

	c->on_exception = NULL;
	vdso_record_start(c, &run, e->h.base + enclave_image_tcs_offset(&th_image, tcs));
	return vdso_call(op, a1, a2, SGX_EENTER, &run, th_vdso);
}

/* An operation that must exit normally with TEST_ENCL_OK: its value. */
static long th_ecall_ok(const struct th_encl *e, unsigned int tcs, uint64_t op, uint64_t a1,
			uint64_t a2)
{
	struct vdso_record c;

	assert_int_equal(th_ecall(e, tcs, op, a1, a2, &c), 0);
	assert_int_equal(c.exceptions, 0);
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.status, TEST_ENCL_OK);
	return c.value;
}

static void th_build(struct th_encl *e)
{
	if (enclave_build(&enclave_sys_native, &th_image, th_sig, &e->h))
		fail_msg("enclave_build: %s", enclave_image_error());
}

static void th_unload(struct th_encl *e)
{
	enclave_unload(&enclave_sys_native, &e->h);
}

/*
 * The enclave most of a program's tests enter: th_setup builds it and
 * th_teardown unloads it, around each test or the group as cmocka is told.
 */
static struct th_encl encl;

static inline int th_setup(void **state)
{
	(void)state;
	th_build(&encl);
	return 0;
}

static inline int th_teardown(void **state)
{
	(void)state;
	th_unload(&encl);
	return 0;
}

/* A test with its own freshly built enclave. */
#define th_unit_test(f) cmocka_unit_test_setup_teardown(f, th_setup, th_teardown)

/* Load the test enclave and find the vDSO. 0 or -1 with a message. */
static inline int th_prepare_unsigned(void)
{
	th_vdso = vdso_find_enter();
	if (!th_vdso)
		return -1;
	return test_image_load("SOFTSGX_TEST_ENCLAVE", &th_image);
}

/* Sign the loaded image (as it is now) with SOFTSGX_TEST_KEY. */
static inline int th_sign(void)
{
	return test_image_sign(&th_image, &th_sig);
}

/* Load and sign the test enclave; find the vDSO. 0 or -1 with a message. */
static inline int th_prepare(void)
{
	if (th_prepare_unsigned())
		return -1;
	return th_sign();
}

#endif /* SOFTSGX_TESTS_ENCL_HELPER_H */
