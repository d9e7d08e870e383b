/* SPDX-License-Identifier: MIT */
/*
 * Shim test programs are ordinary programs: they re-execute themselves
 * under `softsgx run` (SOFTSGX_BIN, set by `make check`) with the platform
 * options given, exactly as a user runs an SGX program. SOFTSGX_PRELOAD
 * names the shim library for the command to use.
 */
#ifndef SOFTSGX_SHIM_TEST_H
#define SOFTSGX_SHIM_TEST_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void shim_test_reexec(int argc, char **argv, const char *const *run_options)
{
	const char *bin = getenv("SOFTSGX_BIN");
	char self[PATH_MAX];
	char *args[32];
	int n = 0;
	ssize_t len;

	if (getenv("SOFTSGX_SHIM_TEST_CHILD"))
		return;
	if (!bin || !getenv("SOFTSGX_PRELOAD")) {
		fprintf(stderr, "SOFTSGX_BIN and SOFTSGX_PRELOAD must be set: run with `make check`\n");
		exit(1);
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0) {
		perror("readlink");
		exit(1);
	}
	self[len] = '\0';
	setenv("SOFTSGX_SHIM_TEST_CHILD", "1", 1);
	args[n++] = (char *)bin;
	args[n++] = "run";
	for (; run_options && *run_options && n < 24; run_options++)
		args[n++] = (char *)*run_options;
	args[n++] = "--";
	args[n++] = self;
	for (int i = 1; i < argc && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	execv(bin, args);
	perror("execv softsgx");
	exit(1);
}

#endif /* SOFTSGX_SHIM_TEST_H */
