// SPDX-License-Identifier: MIT
/*
 * --trace FILE of the commands that run a platform: the file is checked when
 * the options are read, so a typo fails at once rather than after the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"

int cli_trace_file(const char *cmd, const char *arg, char **abs)
{
	char cwd[PATH_MAX], *path = NULL, *dir_copy;
	struct stat st;
	int ret = 0;

	*abs = NULL;
	if (!*arg)
		return cli_usage_error(cmd, "--trace needs a file name");
	/* getopt hands the next word to --trace whatever it is: "--" or an option. */
	if (arg[0] == '-')
		return cli_usage_error(cmd,
				       "--trace needs a file name, not '%s' (write ./%s for a "
				       "file of that name)",
				       arg, arg);
	if (arg[0] == '/') {
		path = strdup(arg);
	} else {
		/* Absolute: the program may change directory before it exits. */
		if (!getcwd(cwd, sizeof(cwd)))
			return cli_setting_error(cmd, "cannot use the trace file %s: %m", arg);
		if (asprintf(&path, "%s/%s", cwd, arg) < 0)
			path = NULL;
	}
	dir_copy = path ? strdup(path) : NULL;
	if (!dir_copy) {
		free(path);
		return cli_fail(cmd, "cannot use the trace file %s: %s", arg, strerror(ENOMEM));
	}
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		ret = cli_setting_error(cmd, "cannot write the trace to %s: %s", arg,
					strerror(EISDIR));
	else if (access(dirname(dir_copy), W_OK | X_OK))
		ret = cli_setting_error(cmd, "cannot write the trace to %s: %m", arg);
	free(dir_copy);
	if (ret)
		free(path);
	else
		*abs = path;
	return ret;
}
