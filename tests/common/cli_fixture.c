// SPDX-License-Identifier: MIT
/*
 * Running the softsgx command from a test (cli_fixture.h). stdout and stderr
 * come through two pipes read with poll(), so a child that fills one pipe
 * while we wait on the other cannot deadlock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_fixture.h"

extern char **environ;

const char *cli_bin(void)
{
	const char *bin = getenv("SOFTSGX_BIN");

	if (!bin || !*bin)
		fail_msg("SOFTSGX_BIN is not set: run the tests with `make check`, which builds "
			 "build/check/softsgx and exports its path");
	return bin;
}

/* Append what is readable on @fd to *@buf; false at end of file. */
static bool drain(int fd, char **buf, size_t *len)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0 && errno == EINTR)
		return true;
	assert_true(n >= 0);
	if (n == 0)
		return false;
	*buf = realloc(*buf, *len + (size_t)n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, chunk, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return true;
}

void cli_exec(struct cli_result *r, const char *const *args)
{
	int out[2], err[2], status;
	size_t nargs = 0, out_len = 0, err_len = 0;
	posix_spawn_file_actions_t fa;
	bool out_open = true, err_open = true;
	char **argv;
	pid_t pid;

	while (args[nargs])
		nargs++;
	argv = calloc(nargs + 2, sizeof(*argv));
	assert_non_null(argv);
	argv[0] = (char *)"softsgx";
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = (char *)args[i];

	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], 1), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err[1], 2), 0);
	assert_int_equal(posix_spawn(&pid, cli_bin(), &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);

	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	assert_non_null(r->out);
	assert_non_null(r->err);
	while (out_open || err_open) {
		struct pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0},
				      {err_open ? err[0] : -1, POLLIN, 0}};

		if (poll(p, 2, -1) < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		if (out_open && p[0].revents)
			out_open = drain(out[0], &r->out, &out_len);
		if (err_open && p[1].revents)
			err_open = drain(err[0], &r->err, &err_len);
	}
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	free(argv);
}

void cli_result_free(struct cli_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void cli_assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

void cli_assert_status(const struct cli_result *r, int status)
{
	if (r->status != status)
		fail_msg("exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->status, status,
			 r->out, r->err);
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

void cli_assert_usage_error(const struct cli_result *r, const char *cmd, const char *what)
{
	char try[64];

	cli_assert_status(r, 2);
	assert_string_equal(r->out, "");
	cli_assert_contains(r->err, what);
	snprintf(try, sizeof(try), "Try 'softsgx %s --help'.\n", cmd);
	cli_assert_contains(r->err, try);
	if (count_lines(r->err) != 2)
		fail_msg("expected two lines on stderr:\n%s", r->err);
}

static void assert_usage(const struct cli_result *r, const char *line)
{
	cli_assert_status(r, 0);
	assert_string_equal(r->err, "");
	if (strncmp(r->out, line, strlen(line)))
		fail_msg("usage does not start with \"%s\":\n%s", line, r->out);
	cli_assert_contains(r->out, "Exit status:");
}

void cli_assert_help(const char *cmd)
{
	char line[64];
	struct cli_result r, h;

	snprintf(line, sizeof(line), "Usage: softsgx %s", cmd);
	cli_exec(&r, CLI_ARGS(cmd, "--help"));
	assert_usage(&r, line);
	cli_exec(&h, CLI_ARGS("help", cmd));
	assert_usage(&h, line);
	assert_string_equal(r.out, h.out);
	cli_result_free(&h);
	cli_exec(&h, CLI_ARGS(cmd, "-h"));
	assert_usage(&h, line);
	assert_string_equal(r.out, h.out);
	cli_result_free(&h);
	cli_result_free(&r);
}

/* A recursive-descent check of the JSON grammar, no semantics. */
struct json {
	const char *s;
	int depth;
};

static bool json_value(struct json *j);

static void json_ws(struct json *j)
{
	while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')
		j->s++;
}

static bool json_string(struct json *j)
{
	if (*j->s++ != '"')
		return false;
	for (;;) {
		unsigned char c = (unsigned char)*j->s++;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		c = (unsigned char)*j->s++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, j->s++)
				if (!*j->s || !strchr("0123456789abcdefABCDEF", *j->s))
					return false;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
}

static bool json_digits(struct json *j)
{
	const char *start = j->s;

	while (*j->s >= '0' && *j->s <= '9')
		j->s++;
	return j->s > start;
}

static bool json_number(struct json *j)
{
	if (*j->s == '-')
		j->s++;
	if (*j->s == '0')
		j->s++;
	else if (!json_digits(j))
		return false;
	if (*j->s == '.') {
		j->s++;
		if (!json_digits(j))
			return false;
	}
	if (*j->s == 'e' || *j->s == 'E') {
		j->s++;
		if (*j->s == '+' || *j->s == '-')
			j->s++;
		if (!json_digits(j))
			return false;
	}
	return true;
}

static bool json_members(struct json *j, bool object)
{
	char close = object ? '}' : ']';

	j->s++;
	if (++j->depth > 64)
		return false;
	json_ws(j);
	if (*j->s == close) {
		j->s++;
		j->depth--;
		return true;
	}
	for (;;) {
		json_ws(j);
		if (object) {
			if (!json_string(j))
				return false;
			json_ws(j);
			if (*j->s++ != ':')
				return false;
		}
		if (!json_value(j))
			return false;
		json_ws(j);
		if (*j->s == close) {
			j->s++;
			j->depth--;
			return true;
		}
		if (*j->s++ != ',')
			return false;
	}
}

static bool json_value(struct json *j)
{
	json_ws(j);
	switch (*j->s) {
	case '{':
		return json_members(j, true);
	case '[':
		return json_members(j, false);
	case '"':
		return json_string(j);
	case 't':
		return !strncmp(j->s, "true", 4) && (j->s += 4);
	case 'f':
		return !strncmp(j->s, "false", 5) && (j->s += 5);
	case 'n':
		return !strncmp(j->s, "null", 4) && (j->s += 4);
	default:
		return json_number(j);
	}
}

bool cli_json_is_object(const char *s)
{
	struct json j = {s, 0};

	json_ws(&j);
	if (*j.s != '{' || !json_value(&j))
		return false;
	json_ws(&j);
	return *j.s == '\0';
}
