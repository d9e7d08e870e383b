// SPDX-License-Identifier: MIT
/*
 * The bash completion (tools/softsgx-completion.bash), sourced in a bash
 * without bash-completion installed: the words it offers for a command line
 * typed so far, with $SOFTSGX_BIN as the softsgx being completed (the
 * completion reads commands and options from its help).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"

#define SCRIPT "tools/softsgx-completion.bash"

/*
 * The completions of @line (words separated by single spaces; a trailing
 * space starts an empty word), one per line, as COMPREPLY holds them.
 */
static char *complete(const char *line, const char *cwd)
{
	static const char prog[] =
		"source \"$1\" || exit 9\n"
		"complete -p softsgx >/dev/null || exit 8\n"
		"read -r -a COMP_WORDS <<<\"$2\"\n"
		"[[ $2 == *' ' ]] && COMP_WORDS+=('')\n"
		"COMP_WORDS[0]=$3\n"
		"COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
		"COMP_LINE=$2 COMP_POINT=${#2}\n"
		"_softsgx softsgx \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
		"((${#COMPREPLY[@]} == 0)) || printf '%s\\n' \"${COMPREPLY[@]}\"\n";
	char script[4096];
	const char *argv[] = {"bash", "--norc", "--noprofile", "-c", prog, "bash", script, line,
			      cli_bin(), NULL};
	struct cli_cmd c = {.path = "/bin/bash", .argv = argv, .cwd = cwd};
	struct cli_result r;

	assert_non_null(realpath(SCRIPT, script));
	cli_run(&r, &c);
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	free(r.err);
	return r.out;
}

/* @line completes to exactly @want (lines, in order). */
static void expect(const char *line, const char *want)
{
	char *got = complete(line, NULL);

	if (strcmp(got, want))
		fail_msg("'%s' completed to:\n%s\nexpected:\n%s", line, got, want);
	free(got);
}

/* @line offers @word among others. */
static void expect_among(const char *line, const char *word)
{
	char *got = complete(line, NULL);
	char want[128];

	snprintf(want, sizeof(want), "\n%s\n", word);
	/* Line-delimited: "\nWORD\n" anywhere, or at the start. */
	if (strncmp(got, want + 1, strlen(want + 1)) && !strstr(got, want))
		fail_msg("'%s' did not offer '%s':\n%s", line, word, got);
	free(got);
}

/* The completion is bash's: without bash there is nothing to test. */
static void need_bash(void)
{
	if (access("/bin/bash", X_OK)) {
		print_message("skipped: no /bin/bash on this host\n");
		skip();
	}
}

static void test_commands(void **state)
{
	struct cli_result r;
	char *got;

	(void)state;
	need_bash();
	/* Every command of the help, plus help and version. */
	cli_exec(&r, CLI_ARGS("--help"));
	got = complete("softsgx ", NULL);
	for (const char *p = strstr(r.out, "Commands:\n"); p && (p = strstr(p, "\n  "));) {
		char name[32], want[40];

		p += 3;
		if (sscanf(p, "%31[a-z]", name) != 1)
			break;
		snprintf(want, sizeof(want), "%s\n", name);
		cli_assert_contains(got, want);
	}
	cli_assert_contains(got, "run\n");
	cli_assert_contains(got, "help\n");
	cli_assert_contains(got, "version\n");
	free(got);
	cli_result_free(&r);

	expect("softsgx ru", "run\n");
	expect("softsgx --v", "--version\n");
	expect("softsgx help to", "top\n");
	expect("softsgx version ", "");
}

static void test_options(void **state)
{
	(void)state;
	need_bash();
	expect("softsgx run --t", "--trace\n");
	expect("softsgx run --s", "--service\n--sections\n--sgx1\n");
	expect("softsgx top --i", "--interval\n--iterations\n");
	expect_among("softsgx top --", "--json");
	expect_among("softsgx top --", "--once");
	expect_among("softsgx sign --", "--isvprodid");
	expect_among("softsgx info --", "--epc");
	/* Options of the command only, not those of another. */
	expect("softsgx keygen --js", "");
	/* A size is no file: nothing offered. */
	expect("softsgx run --epc ", "");
}

static void test_arguments(void **state)
{
	char dir[64], path[96], *got;
	FILE *f;

	(void)state;
	need_bash();
	cli_tmpdir_make(dir, sizeof(dir), "test-completion");
	snprintf(path, sizeof(path), "%s/signer.pem", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	/* FILE and KEY arguments are file names. */
	got = complete("softsgx sign --key sig", dir);
	assert_string_equal(got, "signer.pem\n");
	free(got);
	got = complete("softsgx run --trace sig", dir);
	assert_string_equal(got, "signer.pem\n");
	free(got);
	got = complete("softsgx guest --trace = sig", dir);
	assert_string_equal(got, "signer.pem\n");
	free(got);
	/* After run's options, the program: a command, or a path. */
	expect_among("softsgx run --epc 1M --sections 1 ech", "echo");
	expect_among("softsgx run --trace t.json -- ech", "echo");
	got = complete("softsgx run -- ./sig", dir);
	assert_string_equal(got, "./signer.pem\n");
	free(got);
	/* Then the program's own arguments (files, without bash-completion). */
	got = complete("softsgx run sh sig", dir);
	assert_string_equal(got, "signer.pem\n");
	free(got);
	/* An option after the program is the program's: not one of run's. */
	expect("softsgx run sh --tr", "");
	cli_tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
