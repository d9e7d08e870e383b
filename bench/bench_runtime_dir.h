/* SPDX-License-Identifier: MIT */
/*
 * The runtime directory a benchmark makes for a platform service of its own
 * (bench_service, bench_service_ecall), removed at the end with what a
 * service leaves in it: its pid file, which a stopped service empties but
 * keeps, its log, and a socket a killed one did not remove. rmdir() alone
 * failed on the pid file and left a directory in /tmp on every run.
 */
#ifndef SOFTSGX_BENCH_RUNTIME_DIR_H
#define SOFTSGX_BENCH_RUNTIME_DIR_H

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "service/socket_dir.h"

static inline void bench_runtime_dir_remove(const char *dir)
{
	static const char *const files[] = {SVC_LOCK_NAME, SVC_LOG_NAME, SVC_SOCK_NAME};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (snprintf(path, sizeof(path), "%s/%s", dir, files[i]) < (int)sizeof(path))
			unlink(path);
	if (rmdir(dir))
		fprintf(stderr, "could not remove %s: %m\n", dir);
}

#endif /* SOFTSGX_BENCH_RUNTIME_DIR_H */
