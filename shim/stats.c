// SPDX-License-Identifier: MIT
/*
 * The platform's stats file (obs/stats_file.h) for `softsgx top`: a
 * thread refreshes it every SHIM_STATS_PERIOD_MS from the kernel model's
 * counters and usage rows, and the file goes away at exit. Files of
 * processes that ended without exit() are deleted when the next platform
 * starts. SOFTSGX_STATS=0 turns publication off.
 *
 * A forked child keeps its parent's platform only as a copy: it publishes
 * nothing (and leaves the parent's file alone) until it execs a program
 * that loads the shim afresh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim/shim.h"
#include "obs/stats_file.h"
#include "kernel/usage.h"

#define SHIM_STATS_PERIOD_MS 200

static struct {
	struct sgx_stats_writer w;
	struct sgx_kernel *k;
	pid_t pid; /* the process that owns the file */
	_Atomic bool stop;
} pub;

static void collect(struct sgx_kernel *k, struct sgx_stats_snapshot *snap)
{
	unsigned int nr_encls, nr_vepcs;

	memset(snap, 0, sizeof(*snap));
	sgx_get_stats(k, &snap->stats);
	sgx_usage(k, snap->encls, SGX_STATS_MAX_ENCLS, &nr_encls, snap->vepcs, SGX_STATS_MAX_VEPCS,
		  &nr_vepcs);
	snap->nr_encls = nr_encls;
	snap->nr_vepcs = nr_vepcs;
}

static void *updater(void *arg)
{
	const struct timespec period = {0, SHIM_STATS_PERIOD_MS * 1000000L};
	struct sgx_stats_snapshot *snap = arg;

	while (!atomic_load(&pub.stop)) {
		/* Inside the model like any other entry: fork() waits for it. */
		shim_model_get();
		collect(pub.k, snap);
		shim_model_put();
		/* Exit unlinks the file but keeps the mapping: a last write is harmless. */
		if (atomic_load(&pub.stop))
			break;
		sgx_stats_writer_publish(&pub.w, snap);
		nanosleep(&period, NULL);
	}
	free(snap);
	return NULL;
}

static int keep_going(const char *path, const struct sgx_stats_header *hdr,
		      const struct sgx_stats_snapshot *snap, void *data)
{
	(void)path;
	(void)hdr;
	(void)snap;
	(void)data;
	return 0;
}

/* In a forked child: the mapping is the parent's file, not ours to write. */
static void stats_atfork_child(void)
{
	atomic_store(&pub.stop, true);
	sgx_stats_writer_close(&pub.w, false);
}

__attribute__((destructor)) static void shim_stats_exit(void)
{
	atomic_store(&pub.stop, true);
	/*
	 * Unlink only: the updater may be in the middle of a publish, and
	 * waiting for it could wait on a lock another exiting thread holds.
	 */
	if (pub.w.file && pub.pid == getpid())
		unlink(pub.w.path);
}

void shim_stats_start(struct sgx_kernel *k)
{
	const char *env = getenv("SOFTSGX_STATS");
	struct sgx_stats_snapshot *snap;
	sigset_t all, old;
	char dir[4096];
	pthread_t t;
	int ret;

	if (env && !strcmp(env, "0"))
		return;
	if (sgx_stats_dir(dir, sizeof(dir)))
		return;
	snap = malloc(sizeof(*snap));
	if (!snap)
		return;
	pub.k = k;
	pub.pid = getpid();
	ret = sgx_stats_writer_open(&pub.w, dir, pub.pid, program_invocation_short_name);
	if (ret) {
		/* Observability only: the program runs on without it. */
		fprintf(stderr, "softsgx: no stats file in %s for softsgx top: %s\n", dir,
			strerror(-ret));
		free(snap);
		return;
	}
	/*
	 * Programs that end in _exit() (dash does) or are killed leave their
	 * file behind; a scan deletes those, so they do not pile up between
	 * runs of softsgx top. A few files at most: every start cleans up.
	 */
	sgx_stats_scan(dir, 0, keep_going, NULL);
	collect(k, snap);
	sgx_stats_writer_publish(&pub.w, snap);
	pthread_atfork(NULL, NULL, stats_atfork_child);
	/* No signal of the program's may land on our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&t, NULL, updater, snap);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		sgx_stats_writer_close(&pub.w, true);
		free(snap);
		return;
	}
	pthread_detach(t);
}
