/* SPDX-License-Identifier: MIT */
/*
 * Running the softsgx command from a test: $SOFTSGX_BIN (which `make check`
 * points at the sanitized build/check/softsgx) spawned with given arguments,
 * its exit status and everything it wrote collected, and the assertions the
 * command's conventions call for (cli.h: exit codes, usage errors on two
 * lines of stderr). Also a JSON well-formedness check for --json outputs.
 */
#ifndef SOFTSGX_CLI_FIXTURE_H
#define SOFTSGX_CLI_FIXTURE_H

#include <stdbool.h>

struct cli_result {
	int status; /* exit code, or 128 + signal */
	char *out, *err;
};

/* A NULL-terminated argument list for cli_exec(), without argv[0]. */
#define CLI_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The path of the command; fails the test when SOFTSGX_BIN is unset. */
const char *cli_bin(void);

/* Run softsgx with @args, stdin from /dev/null; free @r with cli_result_free(). */
void cli_exec(struct cli_result *r, const char *const *args);
void cli_result_free(struct cli_result *r);

void cli_assert_contains(const char *haystack, const char *needle);
/* Fails with the command's output when the exit status is not @status. */
void cli_assert_status(const struct cli_result *r, int status);
/*
 * Exit 2, nothing on stdout, and on stderr exactly two lines: one naming
 * @what, then "Try 'softsgx @cmd --help'.".
 */
void cli_assert_usage_error(const struct cli_result *r, const char *cmd, const char *what);
/* --help, -h and `help CMD` all print the same usage of @cmd and exit 0. */
void cli_assert_help(const char *cmd);

/* true when @s is exactly one well-formed JSON object (RFC 8259 grammar). */
bool cli_json_is_object(const char *s);

#endif /* SOFTSGX_CLI_FIXTURE_H */
