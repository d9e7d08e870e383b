/* SPDX-License-Identifier: MIT */
/*
 * Shim tests of `softsgx run --service` (issue 16): the program is both
 * sides. Run plainly it is the cmocka test, which gives each test its own
 * SOFTSGX_RUNTIME_DIR (tests/service/svc_fixture.h) and starts copies of
 * itself as workers under `softsgx run --service -- SELF worker ARGS...`;
 * a worker uses SGX through plain system calls, as any SGX program does,
 * and exits 0 when everything it saw was right (or says on stderr what was
 * not). Include once per program, after cmocka.h.
 */
#ifndef SOFTSGX_TESTS_SVC_WORKER_H
#define SOFTSGX_TESTS_SVC_WORKER_H

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/service/svc_fixture.h"

static char self[PATH_MAX];

/* This program's path, for its workers: 0, or -1 when /proc/self/exe does not say. */
static inline int svc_worker_self(void)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -1;
	self[n] = '\0';
	return 0;
}
/* Each test's service directory, and its workers: a failed test leaves nothing running. */
static struct svc_fx fx;
static pid_t workers[8];
static unsigned int nr_workers;

static inline int setup(void **state)
{
	(void)state;
	fx_init(&fx, "svcrun");
	nr_workers = 0;
	return 0;
}

static inline int teardown(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < nr_workers; i++)
		if (workers[i] > 0 && !kill(workers[i], SIGKILL))
			waitpid(workers[i], NULL, 0);
	fx_fini(&fx);
	return 0;
}

struct wproc {
	pid_t pid;
	int out; /* its stdout, a pipe */
	char err[256];
};

/* `softsgx run --service --epc @epc --sections 1 -- SELF worker ARGS...` */
static inline void wstart(struct svc_fx *f, struct wproc *w, const char *epc, const char *const *args)
{
	static unsigned int n;
	const char *argv[16];
	int i = 0, p[2], err;

	argv[i++] = cli_bin();
	argv[i++] = "run";
	argv[i++] = "--service";
	argv[i++] = "--epc";
	argv[i++] = epc;
	argv[i++] = "--sections";
	argv[i++] = "1";
	argv[i++] = "--";
	argv[i++] = self;
	argv[i++] = "worker";
	for (; *args && i < 15; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	snprintf(w->err, sizeof(w->err), "%s/worker%u.err", f->dir, n++);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	err = open(w->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(err >= 0);
	w->pid = cli_start(&(struct cli_cmd){.argv = argv}, -1, p[1], err);
	if (nr_workers < 8)
		workers[nr_workers++] = w->pid;
	close(p[1]);
	close(err);
	w->out = p[0];
}

/* Worker @pid has been waited for: teardown has nothing to kill. */
static inline void wgone(pid_t pid)
{
	for (unsigned int i = 0; i < nr_workers; i++)
		if (workers[i] == pid)
			workers[i] = 0;
}

/* The worker's exit status within @ms (its stderr shown when not 0), -1 if it still runs. */
static inline int wwait(struct wproc *w, unsigned int ms)
{
	int st = fx_wait_exit(w->pid, ms);

	if (st >= 0)
		wgone(w->pid);

	if (st != 0) {
		char *e = cli_read_file(w->err, NULL);

		fprintf(stderr, "worker %d: status %d, stderr:\n%s", (int)w->pid, st, e ? e : "");
		free(e);
	}
	if (st >= 0)
		close(w->out);
	return st;
}

/* Wait for "ready" on the worker's stdout. */
static inline void wready(struct wproc *w)
{
	char buf[16] = {0};
	struct pollfd p = {.fd = w->out, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 30000) != 1) {
		wwait(w, 0);
		fail_msg("worker %d not ready", (int)w->pid);
	}
	n = read(w->out, buf, sizeof(buf) - 1);
	if (n <= 0 || strncmp(buf, "ready", 5)) {
		wwait(w, 1000);
		fail_msg("worker %d: %zd bytes instead of ready", (int)w->pid, n);
	}
}

/* A line from the worker's stdout (30 s at most) into @buf; false on none. */
static inline bool wline(struct wproc *w, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = {.fd = w->out, .events = POLLIN};

		if (poll(&p, 1, 30000) != 1 || read(w->out, buf + n, 1) != 1)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return n && buf[n - 1] == '\n';
}

/* STATUS until the service holds no enclave and no page (5 s at most): none leaked. */
static inline void wait_released(struct svc_status_rep *st)
{
	uint64_t end = fx_now_ms() + 5000;

	do {
		fx_status(&fx, st);
		if (!st->enclaves && !st->in_use_pages)
			break;
		usleep(20000);
	} while (fx_now_ms() < end);
	assert_int_equal(st->enclaves, 0);
	assert_int_equal(st->in_use_pages, 0);
	assert_int_equal(st->free_pages, st->total_pages);
}

/* How often @needle occurs in @s. */
static inline unsigned int count(const char *s, const char *needle)
{
	unsigned int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/*
 * main() of a service shim test: "worker ARGS..." runs @worker (under the
 * shim, started by wstart()); otherwise the @n @tests, or those matching
 * argv[1] or SOFTSGX_TEST_FILTER.
 */
static inline int svc_worker_main(int argc, char **argv, const struct CMUnitTest *tests, size_t n,
				  int (*worker)(int argc, char **argv))
{
	if (argc > 2 && !strcmp(argv[1], "worker"))
		return worker(argc, argv);
	if (svc_worker_self())
		return 1;
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	else if (getenv("SOFTSGX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SOFTSGX_TEST_FILTER"));
	return _cmocka_run_group_tests(argv[0], tests, n, NULL, NULL);
}

#endif /* SOFTSGX_TESTS_SVC_WORKER_H */
