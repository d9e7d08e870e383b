// SPDX-License-Identifier: MIT
/*
 * Corpus replay without libFuzzer, for `make check` (gcc, ASan+UBSan): a
 * cmocka test per file of the harness's corpus directory, each feeding the
 * file to LLVMFuzzerTestOneInput() once. The Makefile compiles the directory
 * in as FUZZ_CORPUS_DIR; arguments (files or directories) replace it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/fuzz/harness.h"

#ifndef FUZZ_CORPUS_DIR
#error "FUZZ_CORPUS_DIR: the harness's corpus directory"
#endif

struct corpus {
	char **paths;
	size_t n, cap;
};

static void add_path(struct corpus *c, char *path)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->paths = realloc(c->paths, c->cap * sizeof(*c->paths));
		if (!c->paths)
			abort();
	}
	c->paths[c->n++] = path;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* A file, or every regular file of a directory in name order. */
static int collect(struct corpus *c, const char *path)
{
	struct dirent **names;
	struct stat st;
	int n;

	if (stat(path, &st)) {
		fprintf(stderr, "replay: %s: %m\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		add_path(c, strdup(path));
		return 0;
	}
	n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %m\n", path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *file;

		if (names[i]->d_name[0] != '.' &&
		    asprintf(&file, "%s/%s", path, names[i]->d_name) >= 0) {
			if (!stat(file, &st) && S_ISREG(st.st_mode))
				add_path(c, file);
			else
				free(file);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

static void replay_one(void **state)
{
	const char *path = *state;
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	/* A copy of exactly @size bytes: ASan catches reads past the input. */
	buf = malloc(size ? (size_t)size : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	assert_int_equal(LLVMFuzzerTestOneInput(buf, (size_t)size), 0);
	free(buf);
}

int main(int argc, char **argv)
{
	struct corpus c = {0};
	struct CMUnitTest *tests;
	int ret;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (collect(&c, argv[i]))
				return 1;
	} else if (collect(&c, FUZZ_CORPUS_DIR)) {
		return 1;
	}
	if (!c.n) {
		fprintf(stderr, "replay: no corpus files\n");
		return 1;
	}
	tests = calloc(c.n, sizeof(*tests));
	if (!tests)
		return 1;
	for (size_t i = 0; i < c.n; i++) {
		tests[i].name = c.paths[i];
		tests[i].test_func = replay_one;
		tests[i].initial_state = c.paths[i];
	}
	ret = _cmocka_run_group_tests(FUZZ_CORPUS_DIR, tests, c.n, NULL, NULL);
	for (size_t i = 0; i < c.n; i++)
		free(c.paths[i]);
	free(c.paths);
	free(tests);
	return ret;
}
