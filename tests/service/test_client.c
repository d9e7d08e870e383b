// SPDX-License-Identifier: MIT
/*
 * service/client.c: svc_connect_or_start() starting a daemon on demand
 * (and finding the one a racing client started), its errors, and calls on
 * a closed client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/service/svc_fixture.h"

static int setup(void **state)
{
	struct svc_fx *fx = calloc(1, sizeof(*fx));

	fx_init(fx, "svccl");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_fini(*state);
	free(*state);
	return 0;
}

static void test_start_on_demand(void **state)
{
	struct svc_fx *fx = *state;
	struct softsgx_config cfg;
	struct svc_hello_rep info;
	struct svc_status_rep st;
	struct svc_client c = {0};
	unsigned int clients = 9;
	char log[256];
	struct stat sb;

	fx_config(&cfg, 4);
	assert_int_equal(svc_connect(&c, fx->dir, &cfg, 0, &info), -ENOENT);
	assert_int_equal(svc_connect_or_start(&c, fx->dir, cli_bin(), &cfg, 0, &info), 0);
	assert_true(info.service_pid > 0);
	assert_true(svc_config_equal(&info.cfg, &(struct svc_config){0}) == false);
	assert_int_equal(info.cfg.section_size[0], 4u << 20);
	assert_int_equal((pid_t)info.service_pid, svc_lock_holder(fx->dir));
	/* A daemon: not our child, detached, logging into the directory. */
	assert_int_not_equal(getppid(), (pid_t)info.service_pid);
	svc_dir_file(fx->dir, SVC_LOG_NAME, log, sizeof(log));
	assert_int_equal(stat(log, &sb), 0);
	assert_int_equal(svc_status(&c, &st), 0);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.total_pages, 1024);

	/* A second client finds it running and starts nothing. */
	{
		struct svc_client c2 = {0};
		struct svc_hello_rep info2;

		assert_int_equal(
			svc_connect_or_start(&c2, fx->dir, "/nonexistent", &cfg, 0, &info2), 0);
		assert_int_equal(info2.service_pid, info.service_pid);
		svc_close(&c2);
	}
	/* Another platform: -EBUSY, not a second service. */
	{
		struct softsgx_config other;
		struct svc_client c3 = {0};

		fx_config(&other, 8);
		assert_int_equal(svc_connect_or_start(&c3, fx->dir, cli_bin(), &other, 0, &info),
				 -EBUSY);
		assert_int_equal(info.cfg.section_size[0], 4u << 20);
	}
	assert_int_equal(svc_shutdown(&c, false, &clients), 0);
	assert_int_equal(clients, 0);
	svc_close(&c);
	for (int i = 0; i < 500 && svc_lock_holder(fx->dir); i++)
		usleep(10000);
	assert_int_equal(svc_lock_holder(fx->dir), 0);
}

struct racer {
	const char *dir;
	struct softsgx_config cfg;
	int ret;
	uint32_t pid;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct svc_hello_rep info;
	struct svc_client c = {0};

	r->ret = svc_connect_or_start(&c, r->dir, cli_bin(), &r->cfg, 0, &info);
	r->pid = info.service_pid;
	svc_close(&c);
	return NULL;
}

/* Clients that start it at the same time all reach one service. */
static void test_start_race(void **state)
{
	struct svc_fx *fx = *state;
	struct racer r[3];
	pthread_t t[3];

	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){.dir = fx->dir};
		fx_config(&r[i].cfg, 4);
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].ret, 0);
		assert_int_equal(r[i].pid, r[0].pid);
	}
}

static void test_start_fails(void **state)
{
	struct svc_fx *fx = *state;
	struct softsgx_config cfg;
	struct svc_client c = {0};
	uint64_t t0 = fx_now_ms();

	fx_config(&cfg, 4);
	assert_int_equal(svc_connect_or_start(&c, fx->dir, "/nonexistent/softsgx", &cfg, 0, NULL),
			 -ECHILD);
	assert_true(fx_now_ms() - t0 < SVC_START_TIMEOUT_MS);
	/* Sections of different sizes cannot be asked for on a command line. */
	cfg.nr_sections = 2;
	cfg.section_size[1] = 8u << 20;
	assert_int_equal(svc_connect_or_start(&c, fx->dir, cli_bin(), &cfg, 0, NULL), -EINVAL);
	/* Calls on a closed client. */
	assert_int_equal(svc_call(&c, SVC_STATUS, NULL, 0, NULL, 0, NULL, NULL, NULL), -ENOTCONN);
}

/* A socket served by another user's process is refused by the client. */
static void test_foreign_service(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_client c = {0};
	char sub[192], env[256];
	pid_t pid;
	int ret = -ENOENT;

	if (geteuid() != 0) {
		printf("skip: running a service as another user needs root (setuid)\n");
		skip();
	}
	snprintf(sub, sizeof(sub), "%s/nobody", fx->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(chown(sub, 65534, 65534), 0);
	assert_int_equal(chmod(fx->dir, 0711), 0);
	snprintf(env, sizeof(env), "SOFTSGX_RUNTIME_DIR=%s", sub);
	pid = fork();
	if (!pid) {
		const char *argv[] = {cli_bin(),      "platform", "start",
				      "--foreground", "--epc",	  "4M",
				      "--sections",   "1",	  NULL};
		const char *envp[] = {env, NULL};
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (setgid(65534) || setuid(65534))
			_exit(10);
		execve(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	for (int i = 0; i < 1000 && (ret == -ENOENT || ret == -ECONNREFUSED); i++) {
		ret = svc_connect(&c, sub, NULL, SVC_HELLO_CONTROL, NULL);
		if (ret == -ENOENT || ret == -ECONNREFUSED)
			usleep(10000);
	}
	kill(pid, SIGTERM);
	if (fx_wait_exit(pid, 15000) < 0) {
		/* Where each of its threads waits, for whoever reads the failure. */
		char cmd[160];

		snprintf(cmd, sizeof(cmd),
			 "for t in /proc/%d/task/*; do echo \"$t $(cat $t/comm) $(cat $t/wchan)\"; "
			 "grep State $t/status; done; cat /proc/%d/stack 2>/dev/null",
			 (int)pid, (int)pid);
		fprintf(stderr, "the service (pid %d) is still running 15 s after SIGTERM:\n",
			(int)pid);
		if (system(cmd) < 0)
			perror("system");
		kill(pid, SIGKILL);
		fx_wait_exit(pid, 5000);
		fail_msg("the service did not stop on SIGTERM");
	}
	assert_int_equal(chmod(fx->dir, 0700), 0);
	assert_int_equal(ret, -EPERM);
	assert_int_equal(c.fd, -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_start_on_demand),
		T(test_start_race),
		T(test_start_fails),
		T(test_foreign_service),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
