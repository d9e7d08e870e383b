// SPDX-License-Identifier: MIT
/*
 * service/client_mm.c: a client connection's address space in the kernel
 * model. Its files and enclaves go when the connection goes; outside a
 * request of the client (service/dispatch_mm.c) nothing can be mapped in
 * it, and a client's pointer is never read in the service's own memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/mm.h"
#include "service/server.h"
#include "softsgx/sgx_uapi.h"

static struct softsgx_platform *platform(void)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 64 * 4096;
	cfg.section_size[1] = 0;
	p = softsgx_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

static unsigned int nr_enclaves(struct softsgx_platform *p)
{
	unsigned int e = 0, v = 0;

	softsgx_get_usage(p, NULL, 0, &e, NULL, 0, &v);
	return e + v;
}

static void test_files_go_with_the_client(void **state)
{
	struct softsgx_platform *p = platform();
	struct sgx_kernel *k = softsgx_kernel(p);
	struct svc_conn c = {.fd = -1};
	struct sgx_file *encl, *vepc;
	struct softsgx_stats st;
	int err = 0;

	(void)state;
	assert_int_equal(svc_conn_attach_mm(&c), 0);
	assert_non_null(c.mm);
	encl = sgx_file_open_mm(k, c.mm, SGX_FILE_ENCLAVE, &err);
	assert_non_null(encl);
	vepc = sgx_file_open_mm(k, c.mm, SGX_FILE_VEPC, &err);
	assert_non_null(vepc);
	/* The client's descriptors 3 and 4 hold the references now. */
	assert_int_equal(sgx_mm_fd_install(c.mm, 3, encl), 0);
	assert_int_equal(sgx_mm_fd_install(c.mm, 4, vepc), 0);
	assert_int_equal(nr_enclaves(p), 2);

	/* The client disconnects (or is killed): as Linux's exit, its files close. */
	svc_conn_release(&c);
	assert_null(c.mm);
	assert_int_equal(nr_enclaves(p), 0);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.free_pages, st.total_pages);
	svc_conn_release(&c); /* twice is harmless */
	softsgx_platform_free(p);
}

static void test_nothing_maps_yet(void **state)
{
	struct softsgx_platform *p = platform();
	struct sgx_kernel *k = softsgx_kernel(p);
	struct svc_conn c = {.fd = -1};
	struct sgx_enclave_create create = {0};
	struct sgx_file *encl, *vepc;
	uint64_t addr = 0;
	int err = 0;

	(void)state;
	assert_int_equal(svc_conn_attach_mm(&c), 0);
	vepc = sgx_file_open_mm(k, c.mm, SGX_FILE_VEPC, &err);
	assert_non_null(vepc);
	/* Outside a request of the client, no way to reach its address space: no VMA appears. */
	assert_int_equal(
		sgx_file_mmap_mm(vepc, c.mm, &addr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0),
		-EOPNOTSUPP);
	assert_int_equal(c.mm->nr_vmas, 0);
	sgx_file_put(vepc);

	/*
	 * An ioctl for the client reads the client's memory, never the
	 * service's: a pointer valid here is -EFAULT there.
	 */
	encl = sgx_file_open_mm(k, c.mm, SGX_FILE_ENCLAVE, &err);
	assert_non_null(encl);
	assert_int_equal(
		sgx_file_ioctl_mm(encl, c.mm, SGX_IOC_ENCLAVE_CREATE, (unsigned long)&create),
		-EFAULT);
	sgx_file_put(encl);
	svc_conn_release(&c);
	assert_int_equal(nr_enclaves(p), 0);
	softsgx_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_go_with_the_client),
		cmocka_unit_test(test_nothing_maps_yet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
