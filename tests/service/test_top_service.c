// SPDX-License-Identifier: MIT
/*
 * `softsgx top` shows the platform service's machine-wide view when one
 * runs ("service" in each JSON line, a block in the text view), and does
 * not start one when none runs.
 */
#include <sys/mman.h>

#include "tests/common/encl_fixture.h"
#include "service/remote.h"
#include "softsgx/sgx_uapi.h"
#include "tests/service/svc_fixture.h"

static int setup(void **state)
{
	struct svc_fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx_init(fx, "svctop");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_fini(*state);
	free(*state);
	return 0;
}

static void test_top_without_service(void **state)
{
	struct svc_fx *fx = *state;
	struct cli_result r;
	char sock[256];

	cli_exec(&r, CLI_ARGS("top", "--once", "--json", "--interval", "0.1"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "\"service\": null}\n");
	assert_true(cli_json_is_object(r.out));
	cli_result_free(&r);
	/* Looking did not start one. */
	snprintf(sock, sizeof(sock), "%s/platform.sock", fx->dir);
	assert_int_equal(access(sock, F_OK), -1);
}

static void test_top_with_service(void **state)
{
	struct svc_fx *fx = *state;
	struct cli_result r;
	char *nl;

	fx_start(fx, CLI_ARGS("--epc", "8M", "--sections", "1", "--idle-timeout", "0"));
	cli_exec(&r, CLI_ARGS("top", "--once", "--json", "--interval", "0.1"));
	cli_assert_status(&r, 0);
	/* One line (JSON Lines), the service's object inside it. */
	nl = strchr(r.out, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, "");
	assert_true(cli_json_is_object(r.out));
	cli_assert_contains(r.out, "\"service\": {\"service_pid\": ");
	cli_assert_contains(r.out, "\"total_pages\": 2048, \"free_pages\": 2048");
	cli_assert_contains(r.out, "\"processes\": []");
	cli_result_free(&r);

	cli_exec(&r, CLI_ARGS("top", "--once", "--interval", "0.1"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "platform service: pid ");
	cli_assert_contains(r.out, "  EPC 2048 pages: 2048 free, 0 in use, 0 leaked, 0 zombie");
	cli_result_free(&r);
}

/* TOP lists each client's enclaves (here: SECS and a VA page) and vEPCs under its pid. */
static void test_top_lists_client_instances(void **state)
{
	struct svc_fx *fx = *state;
	struct sgx_secs *secs = aligned_alloc(4096, 4096);
	struct sgx_enclave_create create = {0};
	uint64_t size = 16 * 4096, base = ek_free_base(size);
	void *vaddr = NULL;
	char *json, want[96];
	int encl, vepc;

	assert_non_null(secs);
	fx_start(fx, CLI_ARGS("--epc", "8M", "--sections", "1", "--idle-timeout", "0"));
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	encl = svc_remote_open(SVC_OPEN_ENCLAVE);
	assert_true(encl >= 0);
	ek_secs(secs, base, size);
	create.src = (uintptr_t)secs;
	assert_int_equal(svc_remote_ioctl(encl, SGX_IOC_ENCLAVE_CREATE, &create), 0);
	vepc = svc_remote_open(SVC_OPEN_VEPC);
	assert_true(vepc >= 0);
	assert_int_equal(svc_remote_mmap(&vaddr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vepc, 0),
			 0);
	/* The fault a touch would take (this test has no SIGSEGV handler): one page. */
	assert_int_equal(svc_remote_fault(vaddr, PROT_WRITE), SVC_FAULT_RETRY);
	((volatile char *)vaddr)[0] = 1;

	json = fx_top(fx);
	assert_true(cli_json_is_object(json));
	snprintf(want, sizeof(want), "{\"pid\": %d, \"program\": ", (int)getpid());
	cli_assert_contains(json, want);
	snprintf(want, sizeof(want), "\"base\": %llu, \"size\": %llu, \"epc_pages\": 2, \"va_pages\": 1,",
		 (unsigned long long)base, (unsigned long long)size);
	cli_assert_contains(json, want);
	cli_assert_contains(json, "\"epc_pages\": 1, \"mapped_bytes\": 8192}");
	free(json);

	assert_int_equal(svc_remote_munmap(vaddr, 2 * 4096), 0);
	assert_int_equal(svc_remote_close(vepc), 0);
	assert_int_equal(svc_remote_close(encl), 0);
	svc_remote_disconnect();
	munmap((void *)(uintptr_t)base, size);
	free(secs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_top_without_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_with_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_lists_client_instances, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
