// SPDX-License-Identifier: MIT
/*
 * README.md's embedding snippet compiles and runs as written (issue 19): the
 * first C block of "## Using the embedding API" is built against the
 * library `make check` installs into build/public-stage (PREFIX=/usr),
 * through `pkg-config --cflags --libs softsgx` as a distribution's build
 * would, and run on the test enclave: it must build, sign and EINIT it and
 * print the MRENCLAVE `softsgx measure` prints.
 *
 * Run from the top of the source tree. Environment (the Makefile's check
 * target): SOFTSGX_TEST_ENCLAVE, SOFTSGX_TEST_KEY, SOFTSGX_BIN.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#define STAGE	"build/public-stage"
#define ROOT	STAGE "/usr"
#define SECTION "## Using the embedding API"
/* pkg-config over the staged tree, as in tests/tools/test_install.c. */
#define PKG_CONFIG "PKG_CONFIG_SYSROOT_DIR=$PWD PKG_CONFIG_LIBDIR=$PWD/usr/lib/pkgconfig pkg-config"

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v)
		fail_msg("%s is not set (run through `make check`)", name);
	return v;
}

static int sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* @cmd's whole output (at most @len - 1 bytes); returns its exit status. */
static int sh_output(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;
	int status;

	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The first ```c block after SECTION, into @path. */
static void extract_snippet(const char *path)
{
	FILE *in = fopen("README.md", "r"), *out;
	char line[1024];
	int state = 0; /* 0: before the section, 1: in it, 2: in the block */
	unsigned int lines = 0;

	if (!in)
		fail_msg("README.md not found: run from the top of the source tree");
	out = fopen(path, "w");
	assert_non_null(out);
	while (state < 3 && fgets(line, sizeof(line), in)) {
		if (state == 0 && !strncmp(line, SECTION, strlen(SECTION)))
			state = 1;
		else if (state == 1 && !strncmp(line, "## ", 3))
			break;
		else if (state == 1 && !strcmp(line, "```c\n"))
			state = 2;
		else if (state == 2 && !strcmp(line, "```\n"))
			state = 3;
		else if (state == 2) {
			fputs(line, out);
			lines++;
		}
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	if (state != 3)
		fail_msg("README.md has no complete ```c block under \"%s\"", SECTION);
	assert_true(lines > 10);
}

static int group_setup(void **state)
{
	struct stat st;

	(void)state;
	if (stat(ROOT "/lib/pkgconfig/softsgx.pc", &st)) {
		fprintf(stderr, "%s is missing: `make check` stages the install\n",
			ROOT "/lib/pkgconfig/softsgx.pc");
		return -1;
	}
	return 0;
}

static void need_pkg_config(void)
{
	if (sh("command -v pkg-config >/dev/null")) {
		print_message("skipped: no pkg-config on this host\n");
		skip();
	}
}

static void build_snippet(void)
{
	extract_snippet(STAGE "/embed.c");
	/* As written: strict C11, every warning an error, flags from pkg-config only. */
	if (sh("cd " STAGE " && cc -std=c11 -Wall -Wextra -Werror -pedantic embed.c -o embed "
	       "$(" PKG_CONFIG " --cflags --libs softsgx)"))
		fail_msg("README.md's snippet does not compile against the installed library");
}

static void test_snippet_builds_signs_and_einits(void **state)
{
	char cmd[4096], out[4096], mr[256];
	const char *line;

	(void)state;
	need_pkg_config();
	build_snippet();
	/* Linked against the installed shared library, not the build tree's. */
	assert_int_equal(sh("readelf -d " STAGE "/embed | grep -q 'NEEDED.*libsoftsgx.so.0'"), 0);

	snprintf(cmd, sizeof(cmd), "LD_LIBRARY_PATH=" ROOT "/lib " STAGE "/embed '%s' '%s' 2>&1",
		 env("SOFTSGX_TEST_ENCLAVE"), env("SOFTSGX_TEST_KEY"));
	if (sh_output(cmd, out, sizeof(out)))
		fail_msg("the snippet failed:\n%s", out);
	assert_non_null(strstr(out, "enclave at 0x"));
	line = strstr(out, "MRENCLAVE ");
	assert_non_null(line);

	snprintf(cmd, sizeof(cmd), "'%s' measure -q '%s'", env("SOFTSGX_BIN"),
		 env("SOFTSGX_TEST_ENCLAVE"));
	assert_int_equal(sh_output(cmd, mr, sizeof(mr)), 0);
	assert_int_equal(strlen(mr), 65);
	assert_memory_equal(line + strlen("MRENCLAVE "), mr, 65);
}

/* Its error paths say what the API says: usage, and a key that is not one. */
static void test_snippet_errors(void **state)
{
	char cmd[4096], out[4096];

	(void)state;
	need_pkg_config();
	build_snippet();
	assert_int_equal(sh("LD_LIBRARY_PATH=" ROOT "/lib " STAGE "/embed 2>/dev/null"), 2);
	/* The enclave as its own key: -EINVAL, and the reason in words. */
	snprintf(cmd, sizeof(cmd), "LD_LIBRARY_PATH=" ROOT "/lib " STAGE "/embed '%s' '%s' 2>&1",
		 env("SOFTSGX_TEST_ENCLAVE"), env("SOFTSGX_TEST_ENCLAVE"));
	assert_int_equal(sh_output(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "error -22: "));
	assert_non_null(strstr(out, "PEM"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snippet_builds_signs_and_einits),
		cmocka_unit_test(test_snippet_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
