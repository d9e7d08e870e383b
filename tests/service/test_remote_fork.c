// SPDX-License-Identifier: MIT
/*
 * fork() of a client of the platform service (svc_remote_fork_child(), the
 * service's FORK): the child shares its parent's enclave as on Linux — it
 * reads what the parent stored, the parent reads what the child stores, the
 * reclaimer's zaps reach both while they page the enclave against an EPC
 * smaller than it, the enclave outlives the child, and goes with the last
 * of them. TOP lists it under both pids.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "tests/service/remote_fixture.h"
#include "tests/service/svc_fixture.h"

#define ENCL_PAGES 300 /* more than the 256-page EPC: both processes fault it in, turn by turn */

static int setup(void **state)
{
	struct svc_fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx_init(fx, "svcfork");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	handler_remove();
	svc_remote_disconnect();
	fx_fini(*state);
	free(*state);
	return 0;
}

static void test_child_shares_the_enclave(void **state)
{
	struct svc_fx *fx = *state;
	int to_child[2], to_parent[2], code;
	struct svc_status_rep st;
	struct ek_enclave e;
	char want[64], *json;
	uint64_t r;
	pid_t pid;

	fx_start(fx, CLI_ARGS("--epc", "1M", "--sections", "1", "--idle-timeout", "0"));
	handler_install();
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	assert_int_equal(remote_build(&e, ENCL_PAGES), 0);
	assert_int_equal(pattern_round(&e, 0xA, 1), 0);
	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(to_parent), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char b = 0;

		CHILD_CHECK(svc_remote_fork_child(fx->dir) == 0);
		/* The parent's stores, through the same handle and mapping. */
		CHILD_CHECK(verify_round(&e, 0xA, 1) == 0);
		/* Ours, for the parent; then both page the enclave at once. */
		CHILD_CHECK(pattern_round(&e, 0xC, 2) == 0);
		CHILD_CHECK(write(to_parent[1], "c", 1) == 1);
		for (r = 0; r < 20; r++)
			CHILD_CHECK(check_built(&e) == 0);
		CHILD_CHECK(read(to_child[0], &b, 1) == 1 && b == 'p');
		svc_remote_disconnect();
		_exit(0);
	}
	{
		char b = 0;

		assert_int_equal(read(to_parent[0], &b, 1), 1);
		assert_int_equal(b, 'c');
	}
	assert_int_equal(verify_round(&e, 0xC, 2), 0);
	for (r = 0; r < 20; r++)
		assert_int_equal(check_built(&e), 0);
	json = fx_top(fx);
	snprintf(want, sizeof(want), "{\"pid\": %d, ", (int)pid);
	cli_assert_contains(json, want);
	/* The enclave under both pids: its id appears twice. */
	assert_non_null(strstr(strstr(json, "\"id\": 1,") + 1, "\"id\": 1,"));
	free(json);
	assert_int_equal(write(to_child[1], "p", 1), 1);
	assert_int_equal(waitpid(pid, &code, 0), pid);
	assert_true(WIFEXITED(code));
	assert_int_equal(WEXITSTATUS(code), 0);

	/* The child is gone; the enclave is the parent's still, stores intact. */
	assert_int_equal(verify_round(&e, 0xC, 2), 0);
	fx_status(fx, &st);
	assert_true(st.evictions > 0);
	assert_true(st.in_use_pages > 0);
	assert_int_equal(svc_remote_munmap((void *)(uintptr_t)e.base, e.size), 0);
	assert_int_equal(svc_remote_close(e.fd), 0);
	svc_remote_disconnect();
	/* The last reference went with the parent's close. */
	for (int i = 0; i < 500; i++) {
		fx_status(fx, &st);
		if (!st.in_use_pages && !st.clients)
			break;
		usleep(10000);
	}
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.free_pages, st.total_pages);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

/* FORK's refusals: an unknown parent token, and a client that did something first. */
static void test_fork_errors(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_fork_req req = {.parent_token = 2}; /* tokens are odd: names nobody */
	struct svc_hello_rep parent_info;
	struct svc_client parent = {0}, child = {0};
	struct svc_open_req open_req = {.type = SVC_OPEN_ENCLAVE};
	struct svc_open_rep open_rep;

	fx_start(fx, CLI_ARGS("--epc", "1M", "--sections", "1", "--idle-timeout", "0"));
	assert_int_equal(svc_connect(&parent, fx->dir, NULL, 0, &parent_info), 0);
	assert_int_equal(svc_connect(&child, fx->dir, NULL, 0, NULL), 0);
	assert_int_equal(svc_call(&child, SVC_FORK, &req, sizeof(req), NULL, 0, NULL, NULL, NULL),
			 -ESRCH);
	/* Not the first thing this client does: its mm is no longer empty. */
	assert_int_equal(svc_call(&child, SVC_OPEN, &open_req, sizeof(open_req), &open_rep,
				  sizeof(open_rep), NULL, NULL, NULL),
			 0);
	req.parent_token = parent_info.notify_token;
	assert_int_equal(svc_call(&child, SVC_FORK, &req, sizeof(req), NULL, 0, NULL, NULL, NULL),
			 -EBUSY);
	svc_close(&child);
	svc_close(&parent);
}

/* A child whose parent was never connected has nothing to share. */
static void test_fork_without_connection(void **state)
{
	(void)state;
	assert_int_equal(svc_remote_fork_child("/nonexistent"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_child_shares_the_enclave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_without_connection, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
