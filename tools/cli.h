/* SPDX-License-Identifier: MIT */
/*
 * The softsgx command: subcommand table and the helpers the subcommands
 * share (exit codes, error messages, size parsing, the platform options,
 * signing keys).
 *
 * Exit codes of every subcommand:
 *   0  success
 *   1  runtime failure (the platform did not boot, a file could not be
 *      written, an ioctl failed...)
 *   2  bad arguments, bad SOFTSGX_* environment values, or options that
 *      contradict each other; nothing was done
 */
#ifndef SOFTSGX_CLI_H
#define SOFTSGX_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "softsgx/softsgx.h"

#define CLI_EXIT_OK	 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE	 2

struct cli_cmd {
	const char *name;
	const char *summary;
	/* Print the full usage text (the first line starts "Usage: softsgx NAME"). */
	void (*usage)(FILE *out);
	/* @argv[0] is the command name; returns an exit code. */
	int (*run)(int argc, char **argv);
};

extern const struct cli_cmd cmd_info;
extern const struct cli_cmd cmd_keygen;
extern const struct cli_cmd cmd_guest;
extern const struct cli_cmd cmd_run;
extern const struct cli_cmd cmd_measure;
extern const struct cli_cmd cmd_sign;
extern const struct cli_cmd cmd_top;
extern const struct cli_cmd cmd_platform;

/*
 * "softsgx CMD: MESSAGE" and "Try 'softsgx CMD --help'." on stderr;
 * returns CLI_EXIT_USAGE.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "softsgx CMD: MESSAGE" on stderr; returns CLI_EXIT_FAILURE. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The message for a getopt_long() result of '?' or ':' (the optstring must
 * start with ':'), as a usage error; returns CLI_EXIT_USAGE.
 */
int cli_getopt_error(const char *cmd, int opt, char **argv, const char *optstring,
		     const struct option *longopts);

/* Usage error for the first operand left after option parsing, if any. */
int cli_no_operands(const char *cmd, int argc, char **argv);

/* A decimal number in [@min, @max]; 0 or -EINVAL (-ERANGE when out of range). */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* "64 MiB", "12 KiB", "5000 bytes": the largest binary unit that is exact. */
const char *cli_format_size(uint64_t bytes, char buf[32]);
/* Print @s to stdout as a JSON string: quotes, backslashes and control characters escaped. */
void cli_json_string(const char *s);
/* Lower-case hex of @len bytes into @out (2 * @len + 1 bytes). */
void cli_hex(char *out, const uint8_t *in, size_t len);

/*
 * Platform options, shared by the subcommands that boot a platform:
 *   --epc SIZE     total EPC, split evenly over the sections (SOFTSGX_EPC)
 *   --sections N   number of EPC sections, 1-8 (SOFTSGX_SECTIONS)
 *   --sgx1         SGX1 only: no SGX2 in CPUID, no SGX2 leaves or ioctls
 *                  (SOFTSGX_SGX1=1)
 * The command line wins over the environment, which wins over the default
 * platform (2 sections of 64 MiB, SGX1 and SGX2, flexible launch control).
 */
enum {
	CLI_OPT_EPC = 0x100,
	CLI_OPT_SECTIONS,
	CLI_OPT_SGX1,
	CLI_OPT_FIRST_FREE, /* first value free for a subcommand's own long options */
};

/* clang-format off */
#define CLI_PLATFORM_LONGOPTS						\
	{ "epc", required_argument, NULL, CLI_OPT_EPC },		\
	{ "sections", required_argument, NULL, CLI_OPT_SECTIONS },	\
	{ "sgx1", no_argument, NULL, CLI_OPT_SGX1 }
/* clang-format on */

#define CLI_PLATFORM_USAGE                                                                         \
	"Platform options:\n"                                                                      \
	"  --epc SIZE       total EPC size, split evenly over the sections\n"                      \
	"                   (suffixes K, M, G, T; default 128M, env SOFTSGX_EPC)\n"                \
	"  --sections N     number of EPC sections, 1-8 (default 2, env SOFTSGX_SECTIONS)\n"       \
	"  --sgx1           SGX1 only: no SGX2 in CPUID, leaves or ioctls (env SOFTSGX_SGX1=1)\n"

#define CLI_EXIT_USAGE_TEXT                                                                        \
	"Exit status: 0 success, 1 runtime failure, 2 bad arguments or environment.\n"

struct cli_platform_opts {
	const char *epc;      /* argument of --epc, NULL when not given */
	const char *sections; /* argument of --sections, NULL when not given */
	bool sgx1;
};

/*
 * Record @opt (a getopt_long() result) if it is a platform option: returns
 * true when it was one.
 */
bool cli_platform_option(struct cli_platform_opts *o, int opt, const char *arg);

/*
 * The platform configuration from the options, the environment and the
 * defaults. Returns 0, or CLI_EXIT_USAGE after printing what is wrong.
 */
int cli_platform_config(const char *cmd, const struct cli_platform_opts *o,
			struct softsgx_config *cfg);

/* Total EPC pages of @cfg. */
uint64_t cli_config_pages(const struct softsgx_config *cfg);

/*
 * A fresh RSA-3072 private key with public exponent 3, the only kind
 * SIGSTRUCT takes. Returns 0 or -EIO; free the key with EVP_PKEY_free().
 */
int cli_rsa3072_e3_keygen(EVP_PKEY **key);

/*
 * The argument of --trace FILE, checked before any work starts: *@abs gets
 * FILE as an absolute path (free() it). The trace is written as a temporary
 * file in FILE's directory and renamed, so that directory must be writable
 * and FILE must not be a directory. Returns 0, CLI_EXIT_USAGE for an empty
 * name, or CLI_EXIT_FAILURE after printing why FILE cannot be written.
 */
int cli_trace_file(const char *cmd, const char *arg, char **abs);
/* Help text of --trace FILE. */
#define CLI_TRACE_USAGE                                                                            \
	"      --trace FILE write a timeline of the platform to FILE (Chrome/Perfetto\n"         \
	"                   trace-event JSON: open it in ui.perfetto.dev or\n"                   \
	"                   chrome://tracing)\n"

#endif /* SOFTSGX_CLI_H */
