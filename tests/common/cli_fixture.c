// SPDX-License-Identifier: MIT
/*
 * Running programs from a test (cli_fixture.h). Output goes to memory files
 * read after the program ended: nothing to poll, and a program that leaves
 * a child holding its stdout behind cannot make us wait.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"
#include "tests/common/json_check.h"

extern char **environ;

const char *cli_env_path(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		fail_msg("%s is not set: run the tests with `make check`", name);
	return v;
}

const char *cli_bin(void)
{
	return cli_env_path("SOFTSGX_BIN");
}

/* true when @var ("NAME=value") is one of @env's names or starts with a prefix of @unset. */
static bool left_out(const char *var, const char *const *env, const char *const *unset)
{
	for (; env && *env; env++) {
		size_t n = strcspn(*env, "=");

		if (!strncmp(var, *env, n) && var[n] == '=')
			return true;
	}
	for (; unset && *unset; unset++)
		if (!strncmp(var, *unset, strlen(*unset)))
			return true;
	return false;
}

static char **child_env(const struct cli_cmd *c)
{
	size_t n = 0, k = 0;
	char **envp;

	for (char **e = environ; *e; e++)
		n++;
	for (const char *const *e = c->env; e && *e; e++)
		n++;
	envp = calloc(n + 1, sizeof(*envp));
	assert_non_null(envp);
	for (const char *const *e = c->env; e && *e; e++)
		envp[k++] = (char *)*e;
	for (char **e = environ; *e; e++)
		if (!left_out(*e, c->env, c->unset))
			envp[k++] = *e;
	envp[k] = NULL;
	return envp;
}

pid_t cli_start(const struct cli_cmd *c, int in, int out, int err)
{
	const char *path = c->path ? c->path : c->argv[0];
	posix_spawn_file_actions_t fa;
	char **envp = child_env(c);
	pid_t pid;
	int ret;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	if (in >= 0)
		assert_int_equal(posix_spawn_file_actions_adddup2(&fa, in, 0), 0);
	if (out >= 0)
		assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out, 1), 0);
	if (err >= 0)
		assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err, 2), 0);
	if (c->cwd)
		assert_int_equal(posix_spawn_file_actions_addchdir_np(&fa, c->cwd), 0);
	ret = posix_spawn(&pid, path, &fa, NULL, (char *const *)c->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	if (ret)
		fail_msg("cannot start %s: %s", path, strerror(ret));
	return pid;
}

int cli_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *cli_slurp(int fd, size_t *len)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf;

	assert_true(n >= 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

char *cli_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;

	if (fd < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	buf = cli_slurp(fd, len);
	close(fd);
	return buf;
}

void cli_run(struct cli_result *r, const struct cli_cmd *c)
{
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = memfd_create("cli-stdout", MFD_CLOEXEC);
	int err = memfd_create("cli-stderr", MFD_CLOEXEC);

	assert_true(in >= 0 && out >= 0 && err >= 0);
	r->status = cli_wait(cli_start(c, in, out, err));
	r->out = cli_slurp(out, NULL);
	r->err = cli_slurp(err, NULL);
	close(in);
	close(out);
	close(err);
}

void cli_result_free(struct cli_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void cli_exec_env(struct cli_result *r, const char *const *env, const char *const *unset,
		  const char *const *args)
{
	size_t nargs = 0;
	const char **argv;
	struct cli_cmd c = {.path = cli_bin(), .env = env, .unset = unset};

	while (args[nargs])
		nargs++;
	argv = calloc(nargs + 2, sizeof(*argv));
	assert_non_null(argv);
	argv[0] = "softsgx";
	memcpy(argv + 1, args, nargs * sizeof(*argv));
	c.argv = argv;
	cli_run(r, &c);
	free(argv);
}

void cli_exec(struct cli_result *r, const char *const *args)
{
	cli_exec_env(r, NULL, NULL, args);
}

const char *cli_assert_contains(const char *haystack, const char *needle)
{
	const char *p = strstr(haystack, needle);

	if (!p)
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
	return p;
}

void cli_assert_status(const struct cli_result *r, int status)
{
	/* stderr first: cmocka cuts long messages, and the reason is there. */
	if (r->status != status)
		fail_msg("exit status %d, expected %d\nstderr:\n%s\nstdout:\n%s", r->status, status,
			 r->err, r->out);
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
	snprintf(try, sizeof(try), "Try 'softsgx%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	cli_assert_contains(r->err, try);
	if (count_lines(r->err) != 2)
		fail_msg("expected two lines on stderr:\n%s", r->err);
}

void cli_assert_usage(const struct cli_result *r, const char *line)
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
	cli_assert_usage(&r, line);
	cli_exec(&h, CLI_ARGS("help", cmd));
	cli_assert_usage(&h, line);
	assert_string_equal(r.out, h.out);
	cli_result_free(&h);
	cli_exec(&h, CLI_ARGS(cmd, "-h"));
	cli_assert_usage(&h, line);
	assert_string_equal(r.out, h.out);
	cli_result_free(&h);
	cli_result_free(&r);
}

bool cli_json_is_object(const char *s)
{
	return s[strspn(s, " \t\n\r")] == '{' && json_valid(s, strlen(s));
}

void cli_tmpdir_make(char *path, size_t size, const char *name)
{
	if ((size_t)snprintf(path, size, "/tmp/softsgx-%s-XXXXXX", name) >= size)
		fail_msg("no room for the directory name %s", name);
	if (!mkdtemp(path))
		fail_msg("mkdtemp %s: %s", path, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path))
		fail_msg("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

void cli_tmpdir_remove(const char *path)
{
	assert_int_equal(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

unsigned int cli_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned int n = 0;

	if (!d)
		fail_msg("cannot open %s: %s", dir, strerror(errno));
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}
