// SPDX-License-Identifier: MIT
/*
 * `softsgx top` shows the platform service's machine-wide view when one
 * runs ("service" in each JSON line, a block in the text view), and does
 * not start one when none runs.
 */
#include "svc_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_top_without_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_with_service, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
