/* SPDX-License-Identifier: MIT */
/*
 * Running programs from a test: the softsgx command ($SOFTSGX_BIN, which
 * `make check` points at the sanitized build/check/softsgx), the demo or any
 * other, with given arguments, environment and working directory; their exit
 * status and everything they wrote collected; the assertions the command's
 * conventions call for (cli.h: exit codes, usage errors on two lines of
 * stderr); temporary directories and files read whole; and a JSON check for
 * --json outputs. One copy for every test of tests/tools.
 */
#ifndef SOFTSGX_CLI_FIXTURE_H
#define SOFTSGX_CLI_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cli_result {
	int status; /* exit code, or 128 + signal */
	char *out, *err;
};

/* A NULL-terminated list of strings: arguments, "NAME=value"s, prefixes. */
#define CLI_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CLI_NOARGS    ((const char *const[]){NULL})

/* A program to run. */
struct cli_cmd {
	const char *path;	  /* the program; NULL: argv[0] */
	const char *const *argv;  /* NULL-terminated, argv[0] included */
	const char *const *env;	  /* "NAME=value"s given to it, or NULL */
	const char *const *unset; /* prefixes of our variables it does not get, or NULL */
	const char *cwd;	  /* where it starts; NULL: where we are */
};

/*
 * Start @c with @in, @out and @err (-1: ours) as its standard streams. Its
 * environment: @c->env, then ours without the variables @c->env sets and
 * those that start with a prefix of @c->unset.
 */
pid_t cli_start(const struct cli_cmd *c, int in, int out, int err);
/* Wait for @pid: its exit code, or 128 + the signal that ended it. */
int cli_wait(pid_t pid);
/*
 * Run @c to its end, stdin from /dev/null, stdout and stderr to memory
 * files (which never fill up as a pipe would); free @r with cli_result_free().
 */
void cli_run(struct cli_result *r, const struct cli_cmd *c);
void cli_result_free(struct cli_result *r);

/* The value of @name, which `make check` sets; fails the test when unset. */
const char *cli_env_path(const char *name);
/* The path of the command, $SOFTSGX_BIN. */
const char *cli_bin(void);

/* softsgx @args (without argv[0]) in our environment. */
void cli_exec(struct cli_result *r, const char *const *args);
/* softsgx @args with @env set and our variables of prefixes @unset left out. */
void cli_exec_env(struct cli_result *r, const char *const *env, const char *const *unset,
		  const char *const *args);

/* Fails unless @needle is in @haystack; where it is. */
const char *cli_assert_contains(const char *haystack, const char *needle);
/* Fails with the command's output when the exit status is not @status. */
void cli_assert_status(const struct cli_result *r, int status);
/*
 * Exit 2, nothing on stdout, and on stderr exactly two lines: one naming
 * @what, then "Try 'softsgx @cmd --help'." ("Try 'softsgx --help'." for a
 * NULL @cmd).
 */
void cli_assert_usage_error(const struct cli_result *r, const char *cmd, const char *what);
/* Exit 0, nothing on stderr, a usage on stdout that starts with @line. */
void cli_assert_usage(const struct cli_result *r, const char *line);
/* --help, -h and `help CMD` all print the same usage of @cmd and exit 0. */
void cli_assert_help(const char *cmd);

/* true when @s is exactly one JSON object (json_valid() of json_check.h). */
bool cli_json_is_object(const char *s);

/* A fresh directory /tmp/softsgx-@name-XXXXXX, its path in @path (@size bytes). */
void cli_tmpdir_make(char *path, size_t size, const char *name);
/* Remove @path and everything below it. */
void cli_tmpdir_remove(const char *path);
/* How many entries @dir holds, besides . and .. */
unsigned int cli_dir_entries(const char *dir);

/* All of @fd from its start, NUL-terminated; *@len its length if @len. */
char *cli_slurp(int fd, size_t *len);
/* The file @path whole, NUL-terminated; fails the test when it cannot be read. */
char *cli_read_file(const char *path, size_t *len);

#endif /* SOFTSGX_CLI_FIXTURE_H */
