// SPDX-License-Identifier: MIT
/*
 * #PF error codes as Linux reports them through the vDSO
 * (struct sgx_enclave_run.exception_error_code) for the same access, with
 * the project's test enclave under `softsgx run`:
 *   not present (never mapped in)  0x4 | W | I
 *   write to a read-only present   0x7 (mprotect keeps present pages present)
 *   fetch from a present NX page   0x15
 *   PROT_NONE                      0x4 (no PTE is present on x86)
 *   EPCM violation (EENTER on a REG page as TCS): 0x8005, bit 15 = X86_PF_SGX
 * Every case runs on the main thread and on a freshly created one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/lib/enclave_image.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/test_image.h"
#include "tests/shim/vdso_call.h"
#include "tests/shim/vdso_record.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/enclaves/test_enclave.h"

#define PAGE	SGX_PAGE_SIZE
#define TRAP_PF 14
#define ERR_P	0x1
#define ERR_W	0x2
#define ERR_U	0x4
#define ERR_I	0x10
#define ERR_SGX 0x8000

static const char *const run_opts[] = {"--epc", "1M", "--sections", "1", NULL};
static vdso_sgx_enter_enclave_t vdso_enter;
static struct enclave_image image;
static struct sgx_sigstruct *sig;

struct encl {
	struct enclave_handle h;
};

/* On the first exception of a call: mprotect @page to @prot, then ERESUME. */
struct fix {
	void *page;
	int prot;
};

static int fix_first(struct vdso_record *c)
{
	const struct fix *f = c->ctx;

	if (!f->page || c->exceptions != 1)
		return 0;
	if (mprotect(f->page, PAGE, f->prot))
		return -errno;
	return SGX_ERESUME;
}

static void ecall(uint64_t tcs, long op, long a, long b, struct vdso_record *c)
{
	struct sgx_enclave_run run;

	vdso_record_start(c, &run, tcs);
	assert_int_equal(vdso_call((unsigned long)op, (unsigned long)a, (unsigned long)b,
				   SGX_EENTER, &run, vdso_enter),
			 0);
}

static void build(struct encl *e)
{
	int ret = enclave_build(&enclave_sys_native, &image, sig, &e->h);

	if (ret)
		fail_msg("enclave_build: %d: %s", ret, enclave_image_error());
}

static uint64_t tcs0(const struct encl *e)
{
	return e->h.base + enclave_image_tcs_offset(&image, 0);
}

static uint64_t buffer(const struct encl *e)
{
	struct vdso_record c = {0};

	ecall(tcs0(e), TEST_ENCL_OP_BUFFER, 0, 0, &c);
	assert_int_equal(c.status, TEST_ENCL_OK);
	return (uint64_t)c.value;
}

/* Replace the page at @addr by a fresh mapping of the enclave: no PTE present. */
static void remap(const struct encl *e, uint64_t addr, int prot)
{
	void *p = mmap((void *)(uintptr_t)addr, PAGE, prot, MAP_SHARED | MAP_FIXED, e->h.fd, 0);

	assert_ptr_equal(p, (void *)(uintptr_t)addr);
}

static void check_pf(const struct vdso_record *c, uint64_t addr, uint16_t code)
{
	assert_int_equal(c->exceptions, 1);
	assert_int_equal(c->vector, TRAP_PF);
	if (c->error_code != code)
		fail_msg("error code %#x, Linux reports %#x", c->error_code, code);
	assert_int_equal(c->addr, addr);
	/* The handler fixed the page and resumed: the operation completed. */
	assert_int_equal(c->status, TEST_ENCL_OK);
}

static void fault_codes(struct encl *ep)
{
	struct fix fix = {0};
	struct vdso_record c = { .on_exception = fix_first, .ctx = &fix };
	struct encl e = *ep;
	uint64_t buf, page, code;

	buf = buffer(&e);
	page = buf & ~(uint64_t)(PAGE - 1);

	/* Write to a present page made read-only: P | W | U. */
	ecall(tcs0(&e), TEST_ENCL_OP_WRITE_U64, (long)buf, 1, &c);
	assert_int_equal(c.status, TEST_ENCL_OK);
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_READ), 0);
	fix.page = (void *)(uintptr_t)page;
	fix.prot = PROT_READ | PROT_WRITE;
	ecall(tcs0(&e), TEST_ENCL_OP_WRITE_U64, (long)buf, 2, &c);
	check_pf(&c, buf, ERR_P | ERR_W | ERR_U);

	/* A read of a present read-only page does not fault at all. */
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_READ), 0);
	fix.page = NULL;
	ecall(tcs0(&e), TEST_ENCL_OP_READ_U64, (long)buf, 0, &c);
	assert_int_equal(c.exceptions, 0);
	assert_int_equal(c.value, 2);

	/* Write to a page not mapped in yet: W | U. */
	remap(&e, page, PROT_READ);
	fix.page = (void *)(uintptr_t)page;
	ecall(tcs0(&e), TEST_ENCL_OP_WRITE_U64, (long)buf, 3, &c);
	check_pf(&c, buf, ERR_W | ERR_U);

	/* PROT_NONE: not present on x86, a read is U only. */
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_NONE), 0);
	fix.prot = PROT_READ;
	ecall(tcs0(&e), TEST_ENCL_OP_READ_U64, (long)buf, 0, &c);
	check_pf(&c, buf, ERR_U);
	assert_int_equal(c.value, 3);

	/* Instruction fetch from the present entry page made NX: P | U | I. */
	code = (e.h.base + image.entry) & ~(uint64_t)(PAGE - 1);
	assert_int_equal(mprotect((void *)(uintptr_t)code, PAGE, PROT_READ), 0);
	fix.page = (void *)(uintptr_t)code;
	fix.prot = PROT_READ | PROT_EXEC;
	ecall(tcs0(&e), TEST_ENCL_OP_NOP, 0, 0, &c);
	check_pf(&c, e.h.base + image.entry, ERR_P | ERR_U | ERR_I);

	/* The same page not present: U | I. */
	remap(&e, code, PROT_READ);
	ecall(tcs0(&e), TEST_ENCL_OP_NOP, 0, 0, &c);
	check_pf(&c, e.h.base + image.entry, ERR_U | ERR_I);

	/* EENTER on a REG page: the EPCM check fails, P | U | SGX. */
	fix.page = NULL;
	ecall(page, TEST_ENCL_OP_NOP, 0, 0, &c);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, TRAP_PF);
	if (c.error_code != (ERR_SGX | ERR_P | ERR_U))
		fail_msg("EENTER on a REG page: error code %#x, Linux reports 0x8005",
			 c.error_code);
	assert_int_equal(c.addr, page);
}

static void test_fault_codes(void **state)
{
	struct encl e;

	(void)state;
	build(&e);
	fault_codes(&e);
	enclave_unload(&enclave_sys_native, &e.h);
}

static void fault_codes_body(void *e)
{
	fault_codes(e);
}

static void test_fault_codes_new_thread(void **state)
{
	struct encl e;

	(void)state;
	build(&e);
	run_body_on_new_thread(fault_codes_body, &e);
	enclave_unload(&enclave_sys_native, &e.h);
}

static int group_setup(void **state)
{
	(void)state;
	return test_image_prepare("SOFTSGX_TEST_ENCLAVE", &image, &sig);
}

static int group_teardown(void **state)
{
	(void)state;
	test_image_free(&image, &sig);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_codes),
		cmocka_unit_test(test_fault_codes_new_thread),
	};

	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
