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
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"
#include "softsgx/softsgx.h"
#include "tools/lib/sigstruct_sign.h"
#include "tests/common/test_keys.h"

/* The platform's defaults from our environment: the tests decide those. */
#define PLATFORM_VARS CLI_ARGS("SOFTSGX_EPC=", "SOFTSGX_SECTIONS=", "SOFTSGX_SGX1=")

/* softsgx @args with @extra_env ("NAME=value"s) on the platform of the command line. */
static void run_env(struct cli_result *r, const char *const *extra_env, const char *const *args)
{
	cli_exec_env(r, extra_env, PLATFORM_VARS, args);
}

static void run(struct cli_result *r, const char *const *args)
{
	run_env(r, NULL, args);
}

static void test_top_level(void **state)
{
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("--help"));
	cli_assert_usage(&r, "Usage: softsgx ");
	cli_assert_contains(r.out, "  info ");
	cli_assert_contains(r.out, "  keygen ");
	cli_assert_contains(r.out, "  guest ");
	cli_result_free(&r);

	run(&r, CLI_ARGS("help"));
	cli_assert_usage(&r, "Usage: softsgx ");
	cli_result_free(&r);

	run(&r, CLI_NOARGS);
	cli_assert_usage_error(&r, NULL, "missing command");
	cli_result_free(&r);

	run(&r, CLI_ARGS("frobnicate"));
	cli_assert_usage_error(&r, NULL, "unknown command 'frobnicate'");
	cli_result_free(&r);

	run(&r, CLI_ARGS("--frobnicate"));
	cli_assert_usage_error(&r, NULL, "unknown option '--frobnicate'");
	cli_result_free(&r);

	run(&r, CLI_ARGS("help", "frobnicate"));
	cli_assert_usage_error(&r, NULL, "unknown command 'frobnicate'");
	cli_result_free(&r);
}

static void test_help(void **state)
{
	struct cli_result r;

	(void)state;
	cli_assert_help("info");
	cli_assert_help("keygen");
	cli_assert_help("guest");
	cli_assert_help("run");
	/* --help wins over anything after it, as it is handled when parsed. */
	run(&r, CLI_ARGS("info", "--help", "--epc", "junk"));
	cli_assert_usage(&r, "Usage: softsgx info");
	cli_result_free(&r);
	/* The platform options are documented where they apply. */
	run(&r, CLI_ARGS("guest", "--help"));
	cli_assert_contains(r.out, "--epc SIZE");
	cli_assert_contains(r.out, "SOFTSGX_SECTIONS");
	cli_assert_contains(r.out, "--enclave-pages N");
	cli_result_free(&r);
}

static void test_info_bad_arguments(void **state)
{
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("info", "--bogus"));
	cli_assert_usage_error(&r, "info", "unknown option '--bogus'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "-q"));
	cli_assert_usage_error(&r, "info", "unknown option '-q'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--epc"));
	cli_assert_usage_error(&r, "info", "option '--epc' needs an argument");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--json=yes"));
	cli_assert_usage_error(&r, "info", "option '--json' takes no argument");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--epc", "12Q"));
	cli_assert_usage_error(&r, "info", "--epc '12Q' is not a size");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--epc", "-1M"));
	cli_assert_usage_error(&r, "info", "--epc '-1M' is not a size");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--epc", "2T"));
	cli_assert_usage_error(&r, "info", "--epc '2T' is larger than");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--sections", "0"));
	cli_assert_usage_error(&r, "info", "--sections '0' is not a number of EPC sections");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--sections", "9"));
	cli_assert_usage_error(&r, "info", "--sections '9'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "--epc", "100K", "--sections", "3"));
	cli_assert_usage_error(&r, "info", "does not split into 3 sections");
	cli_result_free(&r);
	run(&r, CLI_ARGS("info", "extra"));
	cli_assert_usage_error(&r, "info", "unexpected argument 'extra'");
	cli_result_free(&r);
	/* Bad environment values are named as such. */
	run_env(&r, CLI_ARGS("SOFTSGX_EPC=lots"), CLI_ARGS("info"));
	cli_assert_usage_error(&r, "info", "SOFTSGX_EPC 'lots' is not a size");
	cli_result_free(&r);
	run_env(&r, CLI_ARGS("SOFTSGX_SECTIONS=many"), CLI_ARGS("info"));
	cli_assert_usage_error(&r, "info", "SOFTSGX_SECTIONS 'many'");
	cli_result_free(&r);
	run_env(&r, CLI_ARGS("SOFTSGX_SGX1=yes"), CLI_ARGS("info"));
	cli_assert_usage_error(&r, "info", "SOFTSGX_SGX1 'yes'");
	cli_result_free(&r);
}

static void test_info(void **state)
{
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("info"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	cli_assert_contains(r.out, "SGX1: yes, SGX2: yes");
	cli_assert_contains(r.out, "MISCSELECT: EXINFO");
	cli_assert_contains(r.out, "2^47 bytes");
	cli_assert_contains(r.out, "ATTRIBUTES mask 0x");
	cli_assert_contains(r.out, " DEBUG MODE64BIT ");
	cli_assert_contains(r.out, "XFRM mask");
	cli_assert_contains(r.out, " x87 SSE");
	cli_assert_contains(r.out,
			    "section 0: physical base 0x0000004000000000, size 0x4000000 (64 MiB, "
			    "16384 pages)");
	cli_assert_contains(r.out, "section 1: physical base ");
	assert_null(strstr(r.out, "section 2:"));
	cli_assert_contains(r.out, "flexible: yes");
	cli_assert_contains(r.out, "IA32_SGXLEPUBKEYHASH0 (MSR 0x8c): 0x");
	cli_assert_contains(r.out, "IA32_SGXLEPUBKEYHASH3 (MSR 0x8f): 0x");
	cli_assert_contains(r.out, "EPC: 32768 pages (128 MiB) in 2 sections");
	cli_assert_contains(r.out, "CPUID as a program under softsgx run reads it");
	cli_assert_contains(r.out, "  SGX: yes, SGX_LC: yes\n");
	cli_assert_contains(r.out, "  leaf 0x12.0  EAX 0x0000000");
	cli_assert_contains(r.out, "  EBX 0x00000001  ECX 0x00000000  EDX 0x00002f1f\n");
	cli_assert_contains(r.out, "EDX 0x00000000  EPC section\n  leaf 0x12.4  EAX 0x00000000");
	cli_assert_contains(r.out, "  end of list\nHost mechanisms\n  CPUID faulting: ");
	cli_assert_contains(r.out, "  Syscall User Dispatch: ");
	cli_assert_contains(r.out, "  FSGSBASE: ");
	cli_assert_contains(r.out, "  XCR0: ");
	cli_assert_contains(r.out, "  host SGX: ");
	cli_result_free(&r);

	run(&r, CLI_ARGS("info", "--sgx1", "--epc", "8M", "--sections", "4"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "SGX1: yes, SGX2: no");
	cli_assert_contains(r.out, "section 3: physical base ");
	cli_assert_contains(r.out, "(2 MiB, 512 pages)");
	assert_null(strstr(r.out, "section 4:"));
	cli_assert_contains(r.out, "EPC: 2048 pages (8 MiB) in 4 sections");
	cli_result_free(&r);
}

static void test_info_environment(void **state)
{
	struct cli_result r;

	(void)state;
	run_env(&r, CLI_ARGS("SOFTSGX_EPC=4MiB", "SOFTSGX_SECTIONS=1", "SOFTSGX_SGX1=1"),
		CLI_ARGS("info"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "EPC: 1024 pages (4 MiB) in 1 section\n");
	cli_assert_contains(r.out, "SGX2: no");
	cli_result_free(&r);
	/* SOFTSGX_SGX1=0 keeps the default: SGX1 and SGX2. */
	run_env(&r, CLI_ARGS("SOFTSGX_SGX1=0"), CLI_ARGS("info"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "SGX1: yes, SGX2: yes");
	cli_result_free(&r);
	/* The command line wins over the environment. */
	run_env(&r, CLI_ARGS("SOFTSGX_EPC=4M", "SOFTSGX_SECTIONS=1"),
		CLI_ARGS("info", "--epc", "16M", "--sections", "2"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "EPC: 4096 pages (16 MiB) in 2 sections");
	cli_result_free(&r);
	/* Only one given: the other from the environment. */
	run_env(&r, CLI_ARGS("SOFTSGX_SECTIONS=4"), CLI_ARGS("info", "--epc", "16M"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "EPC: 4096 pages (16 MiB) in 4 sections");
	cli_result_free(&r);
}

static void test_json_validator(void **state)
{
	(void)state;
	assert_true(cli_json_is_object("{}"));
	assert_true(cli_json_is_object(" {\"a\": [1, -2.5e3, \"x\\n\\u00e9\", true, null, {}]}\n"));
	assert_false(cli_json_is_object("[]"));
	assert_false(cli_json_is_object("{\"a\": 1,}"));
	assert_false(cli_json_is_object("{\"a\" 1}"));
	assert_false(cli_json_is_object("{\"a\": 01}"));
	assert_false(cli_json_is_object("{\"a\": \"x}"));
	assert_false(cli_json_is_object("{} {}"));
	assert_false(cli_json_is_object("{\"a\": tru}"));
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
	struct cli_result r;
	const char *leaf12;
	char *cpuid;

	(void)state;
	run(&r, CLI_ARGS("info", "--json"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	if (!cli_json_is_object(r.out))
		fail_msg("not one JSON object:\n%s", r.out);
	cli_assert_contains(r.out, "\"sgx1\": true");
	cli_assert_contains(r.out, "\"sgx2\": true");
	cli_assert_contains(r.out, "\"miscselect_names\": [\"EXINFO\"]");
	cli_assert_contains(r.out, "\"epc_sections\": [");
	assert_int_equal(count(r.out, "\"phys_base\": "), 2);
	cli_assert_contains(r.out, "\"phys_base\": \"0x0000004000000000\", \"size\": 67108864, "
				   "\"pages\": 16384");
	cli_assert_contains(r.out, "\"flexible\": true");
	/*
	 * Before the model's CPUID: 8 CPUID registers, MISCSELECT, 2 masks, 2
	 * section bases, 4 MSRs.
	 */
	cpuid = strstr(r.out, "\"cpuid\": {");
	assert_non_null(cpuid);
	*cpuid = '\0';
	assert_int_equal(count(r.out, "\"0x"), 17);
	*cpuid = '"';
	cli_assert_contains(r.out, "\"epc_total_pages\": 32768");
	/* Leaf 0x12 as a program reads it: 0, 1, two sections, the end. */
	cli_assert_contains(r.out, "\"leaf_0x0\": {\"eax\": \"0x");
	cli_assert_contains(r.out, "\"leaf_0x7\": [\n      {\"subleaf\": 0, ");
	cli_assert_contains(r.out, "{\"subleaf\": 0, \"eax\": \"0x0000000");
	cli_assert_contains(r.out, "\", \"ebx\": \"0x00000001\", \"ecx\": \"0x00000000\", "
				   "\"edx\": \"0x00002f1f\"}");
	cli_assert_contains(r.out, "{\"subleaf\": 4, \"eax\": \"0x00000000\", \"ebx\": "
				   "\"0x00000000\", \"ecx\": \"0x00000000\", \"edx\": \"0x00000000\"}\n    ]");
	leaf12 = strstr(r.out, "\"leaf_0x12\": [");
	assert_non_null(leaf12);
	assert_null(strstr(leaf12, "{\"subleaf\": 5,"));
	cli_assert_contains(r.out, "\"mechanisms\": {\n    \"cpuid_faulting\": ");
	cli_assert_contains(r.out, "\"syscall_user_dispatch\": ");
	cli_assert_contains(r.out, "\"fsgsbase\": ");
	cli_assert_contains(r.out, "\"xcr0\": ");
	cli_assert_contains(r.out, "\"host_sgx\": ");
	cli_result_free(&r);

	run(&r, CLI_ARGS("info", "--json", "--sgx1", "--sections", "3", "--epc", "3M"));
	cli_assert_status(&r, 0);
	assert_true(cli_json_is_object(r.out));
	cli_assert_contains(r.out, "\"sgx2\": false");
	assert_int_equal(count(r.out, "\"phys_base\": "), 3);
	/* The program's leaf 0x12 on that platform: SGX1 only, 3 sections, then the end. */
	leaf12 = strstr(r.out, "\"leaf_0x12\": [");
	assert_non_null(leaf12);
	cli_assert_contains(leaf12, "{\"subleaf\": 0, \"eax\": \"0x00000001\"");
	cli_assert_contains(leaf12, "{\"subleaf\": 4, \"eax\": \"0x00000001\"");
	cli_assert_contains(leaf12, "{\"subleaf\": 5, \"eax\": \"0x00000000\", \"ebx\": "
				    "\"0x00000000\", \"ecx\": \"0x00000000\", \"edx\": \"0x00000000\"}\n    ]");
	cli_assert_contains(r.out, "\"epc_total_pages\": 768");
	cli_result_free(&r);
}

static void test_keygen_bad_arguments(void **state)
{
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("keygen"));
	cli_assert_usage_error(&r, "keygen", "missing -o FILE");
	cli_result_free(&r);
	run(&r, CLI_ARGS("keygen", "-o"));
	cli_assert_usage_error(&r, "keygen", "option '-o' needs an argument");
	cli_result_free(&r);
	run(&r, CLI_ARGS("keygen", "--output"));
	cli_assert_usage_error(&r, "keygen", "option '--output' needs an argument");
	cli_result_free(&r);
	run(&r, CLI_ARGS("keygen", "-o", "/tmp/x.pem", "extra"));
	cli_assert_usage_error(&r, "keygen", "unexpected argument 'extra'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("keygen", "--force=1", "-o", "/tmp/x.pem"));
	cli_assert_usage_error(&r, "keygen", "option '--force' takes no argument");
	cli_result_free(&r);
	run(&r, CLI_ARGS("keygen", "--bits", "2048"));
	cli_assert_usage_error(&r, "keygen", "unknown option '--bits'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("keygen", "-o", ""));
	cli_assert_usage_error(&r, "keygen", "-o needs a file name");
	cli_result_free(&r);
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
	cli_assert_contains(out, hex);
	EVP_PKEY_free(key);
}

static void test_keygen(void **state)
{
	char dir[64], path[128], bad[160];
	char *before, *after;
	struct cli_result r;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "test-cli");
	snprintf(path, sizeof(path), "%s/signer.pem", dir);

	run(&r, CLI_ARGS("keygen", "-o", path));
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	cli_assert_contains(r.out, "RSA-3072");
	check_key(path, r.out);
	cli_result_free(&r);

	/* An existing file is refused and left as it was. */
	before = cli_read_file(path, NULL);
	run(&r, CLI_ARGS("keygen", "--output", path));
	cli_assert_status(&r, 1);
	assert_string_equal(r.out, "");
	cli_assert_contains(r.err, "already exists; use --force");
	after = cli_read_file(path, NULL);
	assert_string_equal(before, after);
	free(after);
	cli_result_free(&r);

	/* --force replaces it with a new key, mode 0600 even if it was not. */
	assert_int_equal(chmod(path, 0644), 0);
	run(&r, CLI_ARGS("keygen", "-f", "-o", path));
	cli_assert_status(&r, 0);
	check_key(path, r.out);
	after = cli_read_file(path, NULL);
	assert_string_not_equal(before, after);
	free(after);
	free(before);
	cli_result_free(&r);

	/* A directory that does not exist: a runtime failure. */
	snprintf(bad, sizeof(bad), "%s/missing/key.pem", dir);
	run(&r, CLI_ARGS("keygen", "-o", bad));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "cannot create");
	cli_assert_contains(r.err, "No such file or directory");
	cli_result_free(&r);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_guest_bad_arguments(void **state)
{
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("guest", "--pages", "many"));
	cli_assert_usage_error(&r, "guest", "--pages 'many' is not a page count");
	cli_result_free(&r);
	run(&r, CLI_ARGS("guest", "--pages", "1"));
	cli_assert_usage_error(&r, "guest", "--pages '1'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("guest", "--enclave-pages", "0"));
	cli_assert_usage_error(&r, "guest", "--enclave-pages '0'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("guest", "--pages", "10", "--enclave-pages", "10"));
	cli_assert_usage_error(&r, "guest", "--enclave-pages 10 does not fit in instance B");
	cli_result_free(&r);
	run(&r, CLI_ARGS("guest", "--pages", "40000"));
	cli_assert_usage_error(&r, "guest", "need 40002 EPC pages but the host EPC has 32768");
	cli_result_free(&r);
	run(&r, CLI_ARGS("guest", "--epc", "1M", "--pages", "300"));
	cli_assert_usage_error(&r, "guest", "host EPC has 256");
	cli_result_free(&r);
	run(&r, CLI_ARGS("guest", "now"));
	cli_assert_usage_error(&r, "guest", "unexpected argument 'now'");
	cli_result_free(&r);
}

static void test_guest(void **state)
{
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("guest"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	cli_assert_contains(r.out, "A with 2 pages, B with 256");
	cli_assert_contains(r.out, "(258 pages)");
	cli_assert_contains(r.out, "EINIT succeeded");
	cli_assert_contains(r.out, "16 page faults went through the guest kernel's fault handler");
	cli_assert_contains(r.out, "2 of 2 in A, 17 of 256 in B");
	cli_assert_contains(r.out, "SGX_IOC_VEPC_REMOVE_ALL on each instance: A returned 1, B "
				   "returned 0");
	cli_assert_contains(r.out, "Second round on the 1 instance that returned non-zero: A "
				   "returned 0");
	cli_assert_contains(r.out, "round 1 A=1 B=0; round 2 A=0.");
	cli_assert_contains(r.out, "Valid EPCM pages now: 0 in A, 0 in B");
	cli_assert_contains(r.out, "sanitization found 0 valid pages of 258");
	cli_assert_contains(r.out, "32768 of 32768 EPC pages free");
	cli_assert_contains(r.out, "\nSummary: ");
	cli_result_free(&r);

	/* Other sizes, on a one-section SGX1 host from the environment. */
	run_env(&r, CLI_ARGS("SOFTSGX_EPC=1M", "SOFTSGX_SECTIONS=1"),
		CLI_ARGS("guest", "--sgx1", "--pages", "100", "--enclave-pages", "5"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "256 EPC pages in 1 section, SGX1 only");
	cli_assert_contains(r.out, "2 of 2 in A, 6 of 100 in B");
	cli_assert_contains(r.out, "A returned 1, B returned 0");
	cli_assert_contains(r.out, "found 0 valid pages of 102");
	cli_assert_contains(r.out, "256 of 256 EPC pages free");
	cli_result_free(&r);
}

static void test_run(void **state)
{
	char pre[512];
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("run"));
	cli_assert_usage_error(&r, "run", "no program to run");
	cli_result_free(&r);
	run(&r, CLI_ARGS("run", "--epc", "junk", "true"));
	cli_assert_usage_error(&r, "run", "junk");
	cli_result_free(&r);
	run(&r, CLI_ARGS("run", "--", "/nonexistent/program"));
	cli_assert_status(&r, 127);
	cli_assert_contains(r.err, "/nonexistent/program");
	cli_result_free(&r);
	/* The program's exit status is the command's: it became the program. */
	run(&r, CLI_ARGS("run", "sh", "-c", "exit 3"));
	cli_assert_status(&r, 3);
	cli_result_free(&r);
	/* Options after PROGRAM are the program's own. */
	run(&r,
	    CLI_ARGS("run", "--epc", "1M", "--sections", "1", "--", "sh", "-c",
		     "echo \"$LD_PRELOAD|$SOFTSGX_EPC|$SOFTSGX_SECTIONS|$SOFTSGX_SGX1\"", "--epc"));
	cli_assert_status(&r, 0);
	/* SGX1 and SGX2: the default platform. */
	snprintf(pre, sizeof(pre), "%s|1048576|1|0\n", getenv("SOFTSGX_PRELOAD"));
	assert_string_equal(r.out, pre);
	cli_result_free(&r);
	/* A shim that is not there is a runtime failure. */
	run_env(&r, CLI_ARGS("SOFTSGX_PRELOAD=/nonexistent/lib.so"), CLI_ARGS("run", "true"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "/nonexistent/lib.so");
	cli_result_free(&r);
}

static void test_version(void **state)
{
	struct cli_result r;

	(void)state;
	run(&r, CLI_ARGS("--version"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "softsgx " SOFTSGX_VERSION "\n");
	assert_string_equal(r.err, "");
	cli_result_free(&r);
	run(&r, CLI_ARGS("version"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "softsgx " SOFTSGX_VERSION "\n");
	cli_result_free(&r);
	run(&r, CLI_ARGS("version", "--json"));
	cli_assert_usage_error(&r, NULL, "version: unexpected argument '--json'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("--version=1"));
	cli_assert_usage_error(&r, NULL, "unknown option '--version=1'");
	cli_result_free(&r);
	run(&r, CLI_ARGS("--help"));
	cli_assert_contains(r.out, "--version");
	cli_assert_contains(r.out, "  version ");
	cli_result_free(&r);
}

/* Every numeric option goes through one parser: decimal, 0x hex, 0 octal. */
static void test_numbers(void **state)
{
	static const struct {
		const char *arg, *sections; /* NULL: refused */
	} cases[] = {
		{"2", "2"},   {"0x2", "2"}, {"0X4", "4"}, {"010", "8"}, {"0", NULL},
		{"0x", NULL}, {"09", NULL}, {"+2", NULL}, {"2 ", NULL}, {"0x10", NULL},
	};
	struct cli_result r;
	char want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run(&r, CLI_ARGS("run", "--epc", "1M", "--sections", cases[i].arg, "--", "sh", "-c",
				 "echo $SOFTSGX_SECTIONS"));
		if (cases[i].sections) {
			cli_assert_status(&r, 0);
			snprintf(want, sizeof(want), "%s\n", cases[i].sections);
			assert_string_equal(r.out, want);
		} else {
			cli_assert_usage_error(&r, "run", "is not a number of EPC sections");
		}
		cli_result_free(&r);
	}
	run(&r, CLI_ARGS("top", "--once", "-d", "0.1", "--pid", "0x7fffffff"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.out, "no softsgx platform with pid 2147483647");
	cli_result_free(&r);
}

/*
 * A script that records that it ran: settings that are checked before the
 * program starts must leave no marker behind.
 */
static void run_marked(struct cli_result *r, const char *marker, const char *const *env,
		       const char *const *opts)
{
	char script[512];
	const char *args[16];
	size_t n = 0;

	snprintf(script, sizeof(script),
		 "touch '%s'; echo \"$SOFTSGX_STATE_DIR|$SOFTSGX_TRACE_MAX_EVENTS|$SOFTSGX_TRACE\"",
		 marker);
	args[n++] = "run";
	for (; opts && *opts; opts++)
		args[n++] = *opts;
	args[n++] = "--";
	args[n++] = "sh";
	args[n++] = "-c";
	args[n++] = script;
	args[n] = NULL;
	run_env(r, env, args);
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* SOFTSGX_TRACE_MAX_EVENTS and --trace FILE: refused with exit 2 before the program starts. */
static void test_run_trace_settings(void **state)
{
	char dir[64], marker[96], file[96], missing[128], want[256];
	struct cli_result r;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "test-cli");
	snprintf(marker, sizeof(marker), "%s/ran", dir);
	snprintf(file, sizeof(file), "%s/t.json", dir);

	static const char *const bad_max[] = {"0", "-1", "many", "1e6", "4294967297", "0x"};
	for (size_t i = 0; i < sizeof(bad_max) / sizeof(bad_max[0]); i++) {
		char env[64];

		snprintf(env, sizeof(env), "SOFTSGX_TRACE_MAX_EVENTS=%s", bad_max[i]);
		run_marked(&r, marker, CLI_ARGS(env), CLI_ARGS("--trace", file));
		cli_assert_status(&r, 2);
		snprintf(want, sizeof(want),
			 "softsgx run: SOFTSGX_TRACE_MAX_EVENTS '%s' is not a number of events "
			 "from 1 to 4294967296\n",
			 bad_max[i]);
		assert_string_equal(r.err, want);
		assert_string_equal(r.out, "");
		cli_result_free(&r);
		assert_false(exists(marker));
	}
	/* Any form of number; the shim gets it in decimal. */
	run_marked(&r, marker, CLI_ARGS("SOFTSGX_TRACE_MAX_EVENTS=0x100"), NULL);
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "|256|");
	cli_result_free(&r);
	assert_int_equal(unlink(marker), 0);

	/* getopt gives --trace the next word, whatever it is: an option is no file name. */
	run_marked(&r, marker, NULL, CLI_ARGS("--trace"));
	cli_assert_usage_error(&r, "run",
			       "--trace needs a file name, not '--' (write ./-- for a file of "
			       "that name)");
	cli_result_free(&r);
	run_marked(&r, marker, NULL, CLI_ARGS("--trace", "--epc", "1M"));
	cli_assert_usage_error(&r, "run", "--trace needs a file name, not '--epc'");
	cli_result_free(&r);
	run_marked(&r, marker, NULL, CLI_ARGS("--trace="));
	cli_assert_usage_error(&r, "run", "--trace needs a file name");
	cli_result_free(&r);
	assert_false(exists(marker));
	assert_false(exists("--"));

	/* A file that cannot be written: a bad setting, exit 2, one clear line. */
	snprintf(missing, sizeof(missing), "%s/no/such/dir/t.json", dir);
	run_marked(&r, marker, NULL, CLI_ARGS("--trace", missing));
	cli_assert_status(&r, 2);
	snprintf(want, sizeof(want),
		 "softsgx run: cannot write the trace to %s: No such file or directory\n", missing);
	assert_string_equal(r.err, want);
	cli_result_free(&r);
	/* The same through SOFTSGX_TRACE in the environment. */
	snprintf(want, sizeof(want), "SOFTSGX_TRACE=%s", missing);
	run_marked(&r, marker, CLI_ARGS(want), NULL);
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err, "softsgx run: cannot write the trace to ");
	cli_result_free(&r);
	assert_false(exists(marker));

	/* A relative FILE reaches the program absolute. */
	run_marked(&r, marker, CLI_ARGS("SOFTSGX_TRACE_MAX_EVENTS="),
		   CLI_ARGS("--trace", "t.json"));
	cli_assert_status(&r, 0);
	snprintf(want, sizeof(want), "||%s/t.json\n", getcwd(file, sizeof(file)));
	cli_assert_contains(r.out, want);
	cli_result_free(&r);
	cli_tmpdir_remove(dir);
}

/*
 * SOFTSGX_STATE_DIR: an existing directory, or a last component made under
 * an existing writable directory of the user's; anything else is exit 2
 * before the program starts, and nothing is created.
 */
static void test_run_state_dir(void **state)
{
	char dir[64], marker[96], env[160], path[128], want[512];
	struct cli_result r;
	struct stat st;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "test-cli");
	snprintf(marker, sizeof(marker), "%s/ran", dir);

	/* Missing, and so is its parent: no tree of directories. */
	snprintf(path, sizeof(path), "%s/a/b", dir);
	snprintf(env, sizeof(env), "SOFTSGX_STATE_DIR=%s", path);
	run_marked(&r, marker, CLI_ARGS(env), NULL);
	cli_assert_status(&r, 2);
	snprintf(want, sizeof(want),
		 "softsgx run: SOFTSGX_STATE_DIR '%s' does not exist, nor does its parent "
		 "directory %s/a; softsgx creates only the last component of the state "
		 "directory\n",
		 path, dir);
	assert_string_equal(r.err, want);
	cli_result_free(&r);
	assert_false(exists(marker));
	snprintf(path, sizeof(path), "%s/a", dir);
	assert_false(exists(path));

	/* Not a directory. */
	snprintf(env, sizeof(env), "SOFTSGX_STATE_DIR=%s", marker);
	assert_int_equal(mkdir(marker, 0700), 0);
	assert_int_equal(rmdir(marker), 0);
	snprintf(env, sizeof(env), "SOFTSGX_STATE_DIR=/dev/null");
	run_marked(&r, marker, CLI_ARGS(env), NULL);
	cli_assert_status(&r, 2);
	assert_string_equal(r.err,
			    "softsgx run: SOFTSGX_STATE_DIR '/dev/null' is not a directory\n");
	cli_result_free(&r);
	assert_false(exists(marker));

	/*
	 * In a directory that is not the user's: a directory we own given to
	 * nobody when we are root, else / (root's).
	 */
	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/theirs", dir);
		assert_int_equal(mkdir(path, 0777), 0);
		snprintf(env, sizeof(env), "SOFTSGX_STATE_DIR=%s/theirs/state", dir);
		/* In a user namespace without uid 65534 mapped, root cannot give it away. */
		if (chown(path, 65534, 65534)) {
			print_message("note: chown to uid 65534 failed (%s): the case of another "
				      "user's directory is not checked here\n",
				      strerror(errno));
			env[0] = '\0';
		}
	} else {
		snprintf(path, sizeof(path), "/");
		snprintf(env, sizeof(env), "SOFTSGX_STATE_DIR=/softsgx-test-state");
	}
	if (env[0]) {
		run_marked(&r, marker, CLI_ARGS(env), NULL);
		cli_assert_status(&r, 2);
		snprintf(want, sizeof(want),
			 "does not exist, and softsgx creates it only in a writable directory of "
			 "yours, which %s is not\n",
			 path);
		cli_assert_contains(r.err, want);
		cli_result_free(&r);
		assert_false(exists(marker));
		assert_false(exists(strchr(env, '=') + 1));
	}

	/* The last component is made, 0700, and the program gets it absolute. */
	snprintf(env, sizeof(env), "SOFTSGX_STATE_DIR=%s/state/", dir);
	run_marked(&r, marker, CLI_ARGS(env), NULL);
	cli_assert_status(&r, 0);
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(want, sizeof(want), "%s||", path);
	assert_true(strncmp(r.out, want, strlen(want)) == 0);
	cli_result_free(&r);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(unlink(marker), 0);

	/* Relative names are resolved where softsgx run starts. */
	{
		const char *argv[] = {"softsgx", "run", "--", "sh", "-c", "echo $SOFTSGX_STATE_DIR",
				      NULL};
		struct cli_cmd c = {.path = cli_bin(),
				    .argv = argv,
				    .env = CLI_ARGS("SOFTSGX_STATE_DIR=state"),
				    .unset = PLATFORM_VARS,
				    .cwd = dir};

		cli_run(&r, &c);
		cli_assert_status(&r, 0);
		snprintf(want, sizeof(want), "%s\n", path);
		assert_string_equal(r.out, want);
		cli_result_free(&r);
	}

	/*
	 * The shim alone (LD_PRELOAD without softsgx run) keeps the same rule:
	 * the last component is made, missing parents are not (the program
	 * runs on with a root key of this run only, and says so).
	 */
	{
		char preload[4200], state_env[160];
		const char *argv[] = {"/bin/sh", "-c", "true", NULL};
		struct cli_cmd c = {.argv = argv,
				    .env = CLI_ARGS(preload, state_env),
				    .unset = PLATFORM_VARS};

		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", cli_env_path("SOFTSGX_PRELOAD"));
		snprintf(state_env, sizeof(state_env), "SOFTSGX_STATE_DIR=%s/p/q", dir);
		cli_run(&r, &c);
		cli_assert_status(&r, 0);
		cli_assert_contains(r.err, "softsgx: no usable root key in the state directory");
		cli_result_free(&r);
		snprintf(path, sizeof(path), "%s/p", dir);
		assert_false(exists(path));

		snprintf(state_env, sizeof(state_env), "SOFTSGX_STATE_DIR=%s/shim-state", dir);
		cli_run(&r, &c);
		cli_assert_status(&r, 0);
		assert_string_equal(r.err, "");
		cli_result_free(&r);
		snprintf(path, sizeof(path), "%s/shim-state/root-key", dir);
		assert_true(exists(path));
	}
	cli_tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_run_trace_settings),
		cmocka_unit_test(test_run_state_dir),
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
