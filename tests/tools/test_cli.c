// SPDX-License-Identifier: MIT
/*
 * The softsgx command, run as a program: usage and exit codes of every
 * subcommand, the platform options and their environment variables, and a
 * real run of each (info and its JSON, keygen's key file, the guest reboot
 * cycle). The binary is $SOFTSGX_BIN, which `make check` points at the
 * sanitized build/check/softsgx.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/sigstruct_sign.h"
#include "test_keys.h"

extern char **environ;

struct run {
	int status; /* exit code, or 128 + signal */
	char *out, *err;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static const char *cli_bin(void)
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

/*
 * The environment for the child: ours, without any SOFTSGX_EPC,
 * SOFTSGX_SECTIONS or SOFTSGX_SGX1 (the tests decide those), plus @extra
 * ("NAME=value" strings, NULL-terminated).
 */
static char **child_env(const char *const *extra)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	for (const char *const *e = extra; e && *e; e++)
		n++;
	env = calloc(n + 1, sizeof(*env));
	assert_non_null(env);
	/* @extra first: getenv() takes the first of duplicate names. */
	for (const char *const *e = extra; e && *e; e++)
		env[k++] = (char *)*e;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "SOFTSGX_EPC=", 12) && strncmp(*e, "SOFTSGX_SECTIONS=", 17) &&
		    strncmp(*e, "SOFTSGX_SGX1=", 13))
			env[k++] = *e;
	env[k] = NULL;
	return env;
}

/* Run softsgx with @args (NULL-terminated, without argv[0]) and @extra_env. */
static void run_env(struct run *r, const char *const *extra_env, const char *const *args)
{
	int out[2], err[2], status;
	size_t nargs = 0, out_len = 0, err_len = 0;
	posix_spawn_file_actions_t fa;
	bool out_open = true, err_open = true;
	char **argv, **envp;
	pid_t pid;

	while (args[nargs])
		nargs++;
	argv = calloc(nargs + 2, sizeof(*argv));
	assert_non_null(argv);
	argv[0] = (char *)"softsgx";
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = (char *)args[i];
	envp = child_env(extra_env);

	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], 1), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err[1], 2), 0);
	assert_int_equal(posix_spawn(&pid, cli_bin(), &fa, NULL, argv, envp), 0);
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
	free(envp);
	free(argv);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOARGS	  ((const char *const[]){NULL})
#define ENV(...)  ((const char *const[]){__VA_ARGS__, NULL})

static void run(struct run *r, const char *const *args)
{
	run_env(r, NULL, args);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

static void assert_status(const struct run *r, int status)
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

/* Exit 2, nothing on stdout, a message naming @what and the Try line on stderr. */
static void assert_usage_error(const struct run *r, const char *cmd, const char *what)
{
	char try[64];

	assert_status(r, 2);
	assert_string_equal(r->out, "");
	assert_contains(r->err, what);
	snprintf(try, sizeof(try), "Try 'softsgx%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	assert_contains(r->err, try);
	assert_int_equal(count_lines(r->err), 2);
}

static void assert_usage(const struct run *r, const char *line)
{
	assert_status(r, 0);
	assert_string_equal(r->err, "");
	if (strncmp(r->out, line, strlen(line)))
		fail_msg("usage does not start with \"%s\":\n%s", line, r->out);
	assert_contains(r->out, "Exit status:");
}

static void test_top_level(void **state)
{
	struct run r;

	(void)state;
	run(&r, ARGS("--help"));
	assert_usage(&r, "Usage: softsgx ");
	assert_contains(r.out, "  info ");
	assert_contains(r.out, "  keygen ");
	assert_contains(r.out, "  guest ");
	run_free(&r);

	run(&r, ARGS("help"));
	assert_usage(&r, "Usage: softsgx ");
	run_free(&r);

	run(&r, NOARGS);
	assert_usage_error(&r, NULL, "missing command");
	run_free(&r);

	run(&r, ARGS("frobnicate"));
	assert_usage_error(&r, NULL, "unknown command 'frobnicate'");
	run_free(&r);

	run(&r, ARGS("--frobnicate"));
	assert_usage_error(&r, NULL, "unknown option '--frobnicate'");
	run_free(&r);

	run(&r, ARGS("help", "frobnicate"));
	assert_usage_error(&r, NULL, "unknown command 'frobnicate'");
	run_free(&r);
}

/* --help, -h and `help CMD` print the same usage to stdout and exit 0. */
static void check_help(const char *cmd)
{
	char line[64];
	struct run r, h;

	snprintf(line, sizeof(line), "Usage: softsgx %s", cmd);
	run(&r, ARGS(cmd, "--help"));
	assert_usage(&r, line);
	run(&h, ARGS("help", cmd));
	assert_usage(&h, line);
	assert_string_equal(r.out, h.out);
	run_free(&h);
	run(&h, ARGS(cmd, "-h"));
	assert_usage(&h, line);
	assert_string_equal(r.out, h.out);
	run_free(&h);
	run_free(&r);
}

static void test_help(void **state)
{
	struct run r;

	(void)state;
	check_help("info");
	check_help("keygen");
	check_help("guest");
	check_help("run");
	/* --help wins over anything after it, as it is handled when parsed. */
	run(&r, ARGS("info", "--help", "--epc", "junk"));
	assert_usage(&r, "Usage: softsgx info");
	run_free(&r);
	/* The platform options are documented where they apply. */
	run(&r, ARGS("guest", "--help"));
	assert_contains(r.out, "--epc SIZE");
	assert_contains(r.out, "SOFTSGX_SECTIONS");
	assert_contains(r.out, "--enclave-pages N");
	run_free(&r);
}

static void test_info_bad_arguments(void **state)
{
	struct run r;

	(void)state;
	run(&r, ARGS("info", "--bogus"));
	assert_usage_error(&r, "info", "unknown option '--bogus'");
	run_free(&r);
	run(&r, ARGS("info", "-q"));
	assert_usage_error(&r, "info", "unknown option '-q'");
	run_free(&r);
	run(&r, ARGS("info", "--epc"));
	assert_usage_error(&r, "info", "option '--epc' needs an argument");
	run_free(&r);
	run(&r, ARGS("info", "--json=yes"));
	assert_usage_error(&r, "info", "option '--json' takes no argument");
	run_free(&r);
	run(&r, ARGS("info", "--epc", "12Q"));
	assert_usage_error(&r, "info", "--epc '12Q' is not a size");
	run_free(&r);
	run(&r, ARGS("info", "--epc", "-1M"));
	assert_usage_error(&r, "info", "--epc '-1M' is not a size");
	run_free(&r);
	run(&r, ARGS("info", "--epc", "2T"));
	assert_usage_error(&r, "info", "--epc '2T' is larger than");
	run_free(&r);
	run(&r, ARGS("info", "--sections", "0"));
	assert_usage_error(&r, "info", "--sections '0' is not a number of EPC sections");
	run_free(&r);
	run(&r, ARGS("info", "--sections", "9"));
	assert_usage_error(&r, "info", "--sections '9'");
	run_free(&r);
	run(&r, ARGS("info", "--epc", "100K", "--sections", "3"));
	assert_usage_error(&r, "info", "does not split into 3 sections");
	run_free(&r);
	run(&r, ARGS("info", "extra"));
	assert_usage_error(&r, "info", "unexpected argument 'extra'");
	run_free(&r);
	/* Bad environment values are named as such. */
	run_env(&r, ENV("SOFTSGX_EPC=lots"), ARGS("info"));
	assert_usage_error(&r, "info", "SOFTSGX_EPC 'lots' is not a size");
	run_free(&r);
	run_env(&r, ENV("SOFTSGX_SECTIONS=many"), ARGS("info"));
	assert_usage_error(&r, "info", "SOFTSGX_SECTIONS 'many'");
	run_free(&r);
	run_env(&r, ENV("SOFTSGX_SGX1=yes"), ARGS("info"));
	assert_usage_error(&r, "info", "SOFTSGX_SGX1 'yes'");
	run_free(&r);
}

static void test_info(void **state)
{
	struct run r;

	(void)state;
	run(&r, ARGS("info"));
	assert_status(&r, 0);
	assert_string_equal(r.err, "");
	assert_contains(r.out, "SGX1: yes, SGX2: yes");
	assert_contains(r.out, "MISCSELECT: EXINFO");
	assert_contains(r.out, "2^47 bytes");
	assert_contains(r.out, "ATTRIBUTES mask 0x");
	assert_contains(r.out, " DEBUG MODE64BIT ");
	assert_contains(r.out, "XFRM mask");
	assert_contains(r.out, " x87 SSE");
	assert_contains(r.out,
			"section 0: physical base 0x0000004000000000, size 0x4000000 (64 MiB, "
			"16384 pages)");
	assert_contains(r.out, "section 1: physical base ");
	assert_null(strstr(r.out, "section 2:"));
	assert_contains(r.out, "flexible: yes");
	assert_contains(r.out, "IA32_SGXLEPUBKEYHASH0 (MSR 0x8c): 0x");
	assert_contains(r.out, "IA32_SGXLEPUBKEYHASH3 (MSR 0x8f): 0x");
	assert_contains(r.out, "EPC: 32768 pages (128 MiB) in 2 sections");
	run_free(&r);

	run(&r, ARGS("info", "--sgx1", "--epc", "8M", "--sections", "4"));
	assert_status(&r, 0);
	assert_contains(r.out, "SGX1: yes, SGX2: no");
	assert_contains(r.out, "section 3: physical base ");
	assert_contains(r.out, "(2 MiB, 512 pages)");
	assert_null(strstr(r.out, "section 4:"));
	assert_contains(r.out, "EPC: 2048 pages (8 MiB) in 4 sections");
	run_free(&r);
}

static void test_info_environment(void **state)
{
	struct run r;

	(void)state;
	run_env(&r, ENV("SOFTSGX_EPC=4MiB", "SOFTSGX_SECTIONS=1", "SOFTSGX_SGX1=1"), ARGS("info"));
	assert_status(&r, 0);
	assert_contains(r.out, "EPC: 1024 pages (4 MiB) in 1 section\n");
	assert_contains(r.out, "SGX2: no");
	run_free(&r);
	/* The command line wins over the environment. */
	run_env(&r, ENV("SOFTSGX_EPC=4M", "SOFTSGX_SECTIONS=1"),
		ARGS("info", "--epc", "16M", "--sections", "2"));
	assert_status(&r, 0);
	assert_contains(r.out, "EPC: 4096 pages (16 MiB) in 2 sections");
	run_free(&r);
	/* Only one given: the other from the environment. */
	run_env(&r, ENV("SOFTSGX_SECTIONS=4"), ARGS("info", "--epc", "16M"));
	assert_status(&r, 0);
	assert_contains(r.out, "EPC: 4096 pages (16 MiB) in 4 sections");
	run_free(&r);
}

/*
 * A JSON validator (RFC 8259 grammar, no semantic checks), enough to say
 * that the output is one well-formed value.
 */
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
			for (int i = 0; i < 4; i++)
				if (!strchr("0123456789abcdefABCDEF", *j->s) || !*j->s++)
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
		json_ws(j);
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

/* true when @s is exactly one JSON object, surrounded by whitespace only. */
static bool json_is_object(const char *s)
{
	struct json j = {s, 0};

	json_ws(&j);
	if (*j.s != '{' || !json_value(&j))
		return false;
	json_ws(&j);
	return *j.s == '\0';
}

static void test_json_validator(void **state)
{
	(void)state;
	assert_true(json_is_object("{}"));
	assert_true(json_is_object(" {\"a\": [1, -2.5e3, \"x\\n\\u00e9\", true, null, {}]}\n"));
	assert_false(json_is_object("[]"));
	assert_false(json_is_object("{\"a\": 1,}"));
	assert_false(json_is_object("{\"a\" 1}"));
	assert_false(json_is_object("{\"a\": 01}"));
	assert_false(json_is_object("{\"a\": \"x}"));
	assert_false(json_is_object("{} {}"));
	assert_false(json_is_object("{\"a\": tru}"));
}

static unsigned int count(const char *s, const char *needle)
{
	unsigned int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static void test_info_json(void **state)
{
	struct run r;

	(void)state;
	run(&r, ARGS("info", "--json"));
	assert_status(&r, 0);
	assert_string_equal(r.err, "");
	if (!json_is_object(r.out))
		fail_msg("not one JSON object:\n%s", r.out);
	assert_contains(r.out, "\"sgx1\": true");
	assert_contains(r.out, "\"sgx2\": true");
	assert_contains(r.out, "\"miscselect_names\": [\"EXINFO\"]");
	assert_contains(r.out, "\"epc_sections\": [");
	assert_int_equal(count(r.out, "\"phys_base\": "), 2);
	assert_contains(r.out, "\"phys_base\": \"0x0000004000000000\", \"size\": 67108864, "
			       "\"pages\": 16384");
	assert_contains(r.out, "\"flexible\": true");
	/* 8 CPUID registers, MISCSELECT, 2 masks, 2 section bases, 4 MSRs. */
	assert_int_equal(count(r.out, "\"0x"), 17);
	assert_contains(r.out, "\"epc_total_pages\": 32768");
	run_free(&r);

	run(&r, ARGS("info", "--json", "--sgx1", "--sections", "3", "--epc", "3M"));
	assert_status(&r, 0);
	assert_true(json_is_object(r.out));
	assert_contains(r.out, "\"sgx2\": false");
	assert_int_equal(count(r.out, "\"phys_base\": "), 3);
	assert_contains(r.out, "\"epc_total_pages\": 768");
	run_free(&r);
}

static void test_keygen_bad_arguments(void **state)
{
	struct run r;

	(void)state;
	run(&r, ARGS("keygen"));
	assert_usage_error(&r, "keygen", "missing -o FILE");
	run_free(&r);
	run(&r, ARGS("keygen", "-o"));
	assert_usage_error(&r, "keygen", "option '-o' needs an argument");
	run_free(&r);
	run(&r, ARGS("keygen", "--output"));
	assert_usage_error(&r, "keygen", "option '--output' needs an argument");
	run_free(&r);
	run(&r, ARGS("keygen", "-o", "/tmp/x.pem", "extra"));
	assert_usage_error(&r, "keygen", "unexpected argument 'extra'");
	run_free(&r);
	run(&r, ARGS("keygen", "--force=1", "-o", "/tmp/x.pem"));
	assert_usage_error(&r, "keygen", "option '--force' takes no argument");
	run_free(&r);
	run(&r, ARGS("keygen", "--bits", "2048"));
	assert_usage_error(&r, "keygen", "unknown option '--bits'");
	run_free(&r);
	run(&r, ARGS("keygen", "-o", ""));
	assert_usage_error(&r, "keygen", "-o needs a file name");
	run_free(&r);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The key at @path loads as an SGX signing key, and @out names its MRSIGNER. */
static void check_key(const char *path, const char *out)
{
	uint8_t mrsigner[SGX_HASH_SIZE];
	char hex[2 * SGX_HASH_SIZE + 16] = "MRSIGNER: ";
	EVP_PKEY *key = NULL;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sgx_sign_load_key(path, &key), 0);
	assert_int_equal(sgx_sign_check_key(key), 0);
	test_key_mrsigner(key, mrsigner);
	for (int i = 0; i < SGX_HASH_SIZE; i++)
		sprintf(hex + 10 + 2 * i, "%02x", mrsigner[i]);
	strcat(hex, "\n");
	assert_contains(out, hex);
	EVP_PKEY_free(key);
}

static void test_keygen(void **state)
{
	char dir[] = "/tmp/softsgx-test-cli-XXXXXX", path[128], bad[160];
	char *before, *after;
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/signer.pem", dir);

	run(&r, ARGS("keygen", "-o", path));
	assert_status(&r, 0);
	assert_string_equal(r.err, "");
	assert_contains(r.out, "RSA-3072");
	check_key(path, r.out);
	run_free(&r);

	/* An existing file is refused and left as it was. */
	before = read_file(path);
	run(&r, ARGS("keygen", "--output", path));
	assert_status(&r, 1);
	assert_string_equal(r.out, "");
	assert_contains(r.err, "already exists; use --force");
	after = read_file(path);
	assert_string_equal(before, after);
	free(after);
	run_free(&r);

	/* --force replaces it with a new key, mode 0600 even if it was not. */
	assert_int_equal(chmod(path, 0644), 0);
	run(&r, ARGS("keygen", "-f", "-o", path));
	assert_status(&r, 0);
	check_key(path, r.out);
	after = read_file(path);
	assert_string_not_equal(before, after);
	free(after);
	free(before);
	run_free(&r);

	/* A directory that does not exist: a runtime failure. */
	snprintf(bad, sizeof(bad), "%s/missing/key.pem", dir);
	run(&r, ARGS("keygen", "-o", bad));
	assert_status(&r, 1);
	assert_contains(r.err, "cannot create");
	assert_contains(r.err, "No such file or directory");
	run_free(&r);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_guest_bad_arguments(void **state)
{
	struct run r;

	(void)state;
	run(&r, ARGS("guest", "--pages", "many"));
	assert_usage_error(&r, "guest", "--pages 'many' is not a page count");
	run_free(&r);
	run(&r, ARGS("guest", "--pages", "1"));
	assert_usage_error(&r, "guest", "--pages '1'");
	run_free(&r);
	run(&r, ARGS("guest", "--enclave-pages", "0"));
	assert_usage_error(&r, "guest", "--enclave-pages '0'");
	run_free(&r);
	run(&r, ARGS("guest", "--pages", "10", "--enclave-pages", "10"));
	assert_usage_error(&r, "guest", "--enclave-pages 10 does not fit in instance B");
	run_free(&r);
	run(&r, ARGS("guest", "--pages", "40000"));
	assert_usage_error(&r, "guest", "need 40002 EPC pages but the host EPC has 32768");
	run_free(&r);
	run(&r, ARGS("guest", "--epc", "1M", "--pages", "300"));
	assert_usage_error(&r, "guest", "host EPC has 256");
	run_free(&r);
	run(&r, ARGS("guest", "now"));
	assert_usage_error(&r, "guest", "unexpected argument 'now'");
	run_free(&r);
}

static void test_guest(void **state)
{
	struct run r;

	(void)state;
	run(&r, ARGS("guest"));
	assert_status(&r, 0);
	assert_string_equal(r.err, "");
	assert_contains(r.out, "A with 2 pages, B with 256");
	assert_contains(r.out, "(258 pages)");
	assert_contains(r.out, "EINIT succeeded");
	assert_contains(r.out, "16 page faults went through the guest kernel's fault handler");
	assert_contains(r.out, "2 of 2 in A, 17 of 256 in B");
	assert_contains(r.out, "SGX_IOC_VEPC_REMOVE_ALL on each instance: A returned 1, B "
			       "returned 0");
	assert_contains(r.out, "Second round on the 1 instance that returned non-zero: A "
			       "returned 0");
	assert_contains(r.out, "round 1 A=1 B=0; round 2 A=0.");
	assert_contains(r.out, "Valid EPCM pages now: 0 in A, 0 in B");
	assert_contains(r.out, "sanitization found 0 valid pages of 258");
	assert_contains(r.out, "32768 of 32768 EPC pages free");
	assert_contains(r.out, "\nSummary: ");
	run_free(&r);

	/* Other sizes, on a one-section SGX1 host from the environment. */
	run_env(&r, ENV("SOFTSGX_EPC=1M", "SOFTSGX_SECTIONS=1"),
		ARGS("guest", "--sgx1", "--pages", "100", "--enclave-pages", "5"));
	assert_status(&r, 0);
	assert_contains(r.out, "256 EPC pages in 1 section, SGX1 only");
	assert_contains(r.out, "2 of 2 in A, 6 of 100 in B");
	assert_contains(r.out, "A returned 1, B returned 0");
	assert_contains(r.out, "found 0 valid pages of 102");
	assert_contains(r.out, "256 of 256 EPC pages free");
	run_free(&r);
}

static void test_run(void **state)
{
	char pre[512];
	struct run r;

	(void)state;
	run(&r, ARGS("run"));
	assert_usage_error(&r, "run", "no program to run");
	run_free(&r);
	run(&r, ARGS("run", "--epc", "junk", "true"));
	assert_usage_error(&r, "run", "junk");
	run_free(&r);
	run(&r, ARGS("run", "--", "/nonexistent/program"));
	assert_status(&r, 127);
	assert_contains(r.err, "/nonexistent/program");
	run_free(&r);
	/* The program's exit status is the command's: it became the program. */
	run(&r, ARGS("run", "sh", "-c", "exit 3"));
	assert_status(&r, 3);
	run_free(&r);
	/* Options after PROGRAM are the program's own. */
	run(&r, ARGS("run", "--epc", "1M", "--sections", "1", "--", "sh", "-c",
		     "echo \"$LD_PRELOAD|$SOFTSGX_EPC|$SOFTSGX_SECTIONS|$SOFTSGX_SGX1\"", "--epc"));
	assert_status(&r, 0);
	snprintf(pre, sizeof(pre), "%s|1048576|1|0\n", getenv("SOFTSGX_PRELOAD"));
	assert_string_equal(r.out, pre);
	run_free(&r);
	/* A shim that is not there is a runtime failure. */
	run_env(&r, ENV("SOFTSGX_PRELOAD=/nonexistent/lib.so"), ARGS("run", "true"));
	assert_status(&r, 1);
	assert_contains(r.err, "/nonexistent/lib.so");
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_info_bad_arguments),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_info_environment),
		cmocka_unit_test(test_json_validator),
		cmocka_unit_test(test_info_json),
		cmocka_unit_test(test_keygen_bad_arguments),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_guest_bad_arguments),
		cmocka_unit_test(test_guest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
