// SPDX-License-Identifier: MIT
/*
 * The SOFTSGX_* settings a program under `softsgx run` reads only when it
 * starts (the shim reads them as it loads): checked here, before the exec,
 * so that a bad value fails at once with exit 2 instead of becoming a
 * warning after the run or a directory made somewhere unexpected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"

int cli_setting_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fprintf(stderr, "softsgx %s: ", cmd);
	va_start(ap, fmt);
	errno = err;
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

int cli_trace_max_events(const char *cmd)
{
	const char *v = getenv("SOFTSGX_TRACE_MAX_EVENTS");
	uint64_t n;
	char buf[32];

	if (!v || !*v)
		return 0;
	if (cli_parse_uint(v, 1, CLI_TRACE_MAX_EVENTS_LIMIT, &n))
		return cli_setting_error(cmd,
					 "SOFTSGX_TRACE_MAX_EVENTS '%s' is not a number of events "
					 "from 1 to %llu",
					 v, (unsigned long long)CLI_TRACE_MAX_EVENTS_LIMIT);
	/* The shim reads decimal: hand it the number, however it was written. */
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
	if (setenv("SOFTSGX_TRACE_MAX_EVENTS", buf, 1))
		return cli_fail(cmd, "cannot set up the environment: %m");
	return 0;
}

/* @path relative to the current directory made absolute, into @out. */
static int absolute(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return snprintf(out, len, "%s", path) < (int)len ? 0 : -ENAMETOOLONG;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return snprintf(out, len, "%s/%s", cwd, path) < (int)len ? 0 : -ENAMETOOLONG;
}

/*
 * The rule (docs/softsgx.1, README): SOFTSGX_STATE_DIR names a directory
 * that exists, or whose parent exists, is a directory of the user's and is
 * writable; then the last component alone is created, mode 0700. A typo
 * never makes a tree of directories, and a path in someone else's directory
 * (/, /etc, /tmp) is never created on the user's behalf.
 */
int cli_state_dir(const char *cmd, char *create, size_t len)
{
	const char *v = getenv("SOFTSGX_STATE_DIR");
	char path[PATH_MAX], parent[PATH_MAX], key[PATH_MAX + 16];
	struct stat st;
	int ret;

	*create = '\0';
	if (!v || !*v)
		return 0;
	ret = absolute(v, path, sizeof(path));
	if (ret)
		return cli_setting_error(cmd, "cannot use SOFTSGX_STATE_DIR '%s': %s", v,
					 strerror(-ret));
	/* "dir/" and "dir" alike: dirname() would otherwise give "dir". */
	for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
		path[n - 1] = '\0';
	if (!stat(path, &st)) {
		if (!S_ISDIR(st.st_mode))
			return cli_setting_error(cmd, "SOFTSGX_STATE_DIR '%s' is not a directory",
						 v);
		/* The root key is read if there, else written: one of the two must work. */
		snprintf(key, sizeof(key), "%s/root-key", path);
		if (access(key, R_OK) && access(path, W_OK | X_OK))
			return cli_setting_error(cmd,
						 "cannot use SOFTSGX_STATE_DIR '%s': %m (it holds "
						 "no readable root-key and cannot be written)",
						 v);
		goto usable;
	}
	if (errno != ENOENT)
		return cli_setting_error(cmd, "cannot use SOFTSGX_STATE_DIR '%s': %m", v);
	snprintf(parent, sizeof(parent), "%s", path);
	dirname(parent);
	if (stat(parent, &st) || !S_ISDIR(st.st_mode))
		return cli_setting_error(cmd,
					 "SOFTSGX_STATE_DIR '%s' does not exist, nor does its "
					 "parent directory %s; softsgx creates only the last "
					 "component of the state directory",
					 v, parent);
	if (st.st_uid != geteuid() || access(parent, W_OK | X_OK))
		return cli_setting_error(cmd,
					 "SOFTSGX_STATE_DIR '%s' does not exist, and softsgx "
					 "creates it only in a writable directory of yours, which "
					 "%s is not",
					 v, parent);
	if (snprintf(create, len, "%s", path) >= (int)len)
		return cli_setting_error(cmd, "cannot use SOFTSGX_STATE_DIR '%s': %s", v,
					 strerror(ENAMETOOLONG));
usable:
	/* Absolute: the program may change directory before the shim needs it. */
	if (setenv("SOFTSGX_STATE_DIR", path, 1))
		return cli_fail(cmd, "cannot set up the environment: %m");
	return 0;
}

int cli_state_dir_create(const char *cmd, const char *create)
{
	if (!*create || !mkdir(create, 0700) || errno == EEXIST)
		return 0;
	return cli_fail(cmd, "cannot create the state directory %s: %m", create);
}
