/* SPDX-License-Identifier: MIT */
/*
 * Shared by the tests of tests/service/: a private socket directory per
 * test (SOFTSGX_RUNTIME_DIR, inherited by every command started), and a
 * service started in the foreground by the sanitized command ($SOFTSGX_BIN)
 * with its output in a file of the test's directory, stopped (or killed)
 * at teardown so nothing outlives the test.
 */
#ifndef SOFTSGX_TESTS_SVC_FIXTURE_H
#define SOFTSGX_TESTS_SVC_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"
#include "service/client.h"
#include "service/socket_dir.h"

struct svc_fx {
	char dir[128];
	char log[192];
	pid_t pid; /* the foreground service, 0 when none */
};

static inline uint64_t fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void fx_init(struct svc_fx *fx, const char *name)
{
	memset(fx, 0, sizeof(*fx));
	cli_tmpdir_make(fx->dir, sizeof(fx->dir), name);
	snprintf(fx->log, sizeof(fx->log), "%s/fg.log", fx->dir);
	setenv("SOFTSGX_RUNTIME_DIR", fx->dir, 1);
}

/* Start `softsgx platform start --foreground ARGS...` in the background. */
static inline pid_t fx_spawn(struct svc_fx *fx, const char *const *args)
{
	const char *argv[16];
	int i = 0, out;
	pid_t pid;

	argv[i++] = cli_bin();
	argv[i++] = "platform";
	argv[i++] = "start";
	argv[i++] = "--foreground";
	for (; args && *args && i < 15; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	out = open(fx->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	pid = cli_start(&(struct cli_cmd){.argv = argv}, -1, out, out);
	close(out);
	return pid;
}

/* Wait until a service answers in fx->dir; its HELLO reply in @info. */
static inline void fx_wait_serving(struct svc_fx *fx, struct svc_hello_rep *info)
{
	struct svc_client c = {0};
	uint64_t end = fx_now_ms() + 10000;
	int ret;

	for (;;) {
		ret = svc_connect(&c, fx->dir, NULL, SVC_HELLO_CONTROL, info);
		if (!ret)
			break;
		if (fx_now_ms() > end)
			fail_msg("no service in %s: %s", fx->dir, strerror(-ret));
		usleep(10000);
	}
	svc_close(&c);
}

/* A foreground service with @args (a 4 MiB, one-section platform unless they say). */
static inline void fx_start(struct svc_fx *fx, const char *const *args)
{
	struct svc_hello_rep info;

	fx->pid = fx_spawn(fx, args ? args : CLI_ARGS("--epc", "4M", "--sections", "1"));
	fx_wait_serving(fx, &info);
	assert_int_equal((pid_t)info.service_pid, fx->pid);
}

/* @pid's exit status within @ms, or -1 when it still runs. */
static inline int fx_wait_exit(pid_t pid, unsigned int ms)
{
	uint64_t end = fx_now_ms() + ms;
	int status;

	do {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		assert_int_equal(r, 0);
		usleep(5000);
	} while (fx_now_ms() < end);
	return -1;
}

/* The service's log so far (free() it). */
static inline char *fx_log(struct svc_fx *fx)
{
	return cli_read_file(fx->log, NULL);
}

/* Stop whatever the test left running, then remove the directory. */
static inline void fx_fini(struct svc_fx *fx)
{
	pid_t holder;

	if (fx->pid > 0) {
		kill(fx->pid, SIGCONT);
		kill(fx->pid, SIGTERM);
		if (fx_wait_exit(fx->pid, 5000) < 0) {
			kill(fx->pid, SIGKILL);
			waitpid(fx->pid, NULL, 0);
		}
		fx->pid = 0;
	}
	/* A daemon the test started through the client. */
	holder = svc_lock_holder(fx->dir);
	if (holder) {
		if (holder > 0)
			kill(holder, SIGTERM);
		for (int i = 0; i < 500 && svc_lock_holder(fx->dir); i++)
			usleep(10000);
	}
	cli_tmpdir_remove(fx->dir);
	unsetenv("SOFTSGX_RUNTIME_DIR");
}

/* STATUS of the running service, through a control connection. */
static inline void fx_status(struct svc_fx *fx, struct svc_status_rep *st)
{
	struct svc_client c = {0};

	assert_int_equal(svc_connect(&c, fx->dir, NULL, SVC_HELLO_CONTROL, NULL), 0);
	assert_int_equal(svc_status(&c, st), 0);
	svc_close(&c);
}

/* TOP of the running service (free() it). */
static inline char *fx_top(struct svc_fx *fx)
{
	struct svc_client c = {0};
	char *json = NULL;

	assert_int_equal(svc_connect(&c, fx->dir, NULL, SVC_HELLO_CONTROL, NULL), 0);
	assert_int_equal(svc_top(&c, &json), 0);
	svc_close(&c);
	return json;
}

/* A platform config of @mib MiB in one section. */
static inline void fx_config(struct softsgx_config *cfg, unsigned int mib)
{
	softsgx_default_config(cfg);
	cfg->nr_sections = 1;
	cfg->section_size[0] = (uint64_t)mib << 20;
	cfg->section_size[1] = 0;
}

static inline bool fx_balanced(const struct svc_status_rep *st)
{
	return st->free_pages + st->in_use_pages + st->leaked_pages + st->zombie_pages ==
	       st->total_pages;
}

/*
 * The EPC invariant (free + in use + leaked + zombie == total) with nothing
 * leaked and no zombie, in @st as STATUS gave it (a snapshot: the kernel's
 * sgx_epc_usage() waits out a page moving between two counters). The
 * service's log is shown when a page leaked or the sum is off.
 */
static inline void fx_assert_invariant(struct svc_fx *fx, struct svc_status_rep *st)
{
	if (!fx_balanced(st) || st->leaked_pages || st->zombie_pages) {
		char *log = fx_log(fx);

		fprintf(stderr, "the service's log:\n%s", log ? log : "");
		free(log);
	}
	assert_int_equal(st->free_pages + st->in_use_pages + st->leaked_pages + st->zombie_pages,
			 st->total_pages);
	assert_int_equal(st->leaked_pages, 0);
	assert_int_equal(st->zombie_pages, 0);
}

#endif /* SOFTSGX_TESTS_SVC_FIXTURE_H */
