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
extern const struct cli_cmd cmd_cgroup;

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

/*
 * A number in [@min, @max], written in decimal, hexadecimal (0x10) or octal
 * (020); 0 or -EINVAL (-ERANGE when out of range).
 */
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
 * "softsgx CMD: MESSAGE" on stderr; returns CLI_EXIT_USAGE. For a setting
 * that cannot work (a path that cannot be written, a bad SOFTSGX_* value),
 * where "Try --help" would not help.
 */
int cli_setting_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Why the file @path, which the signer would not load as a key, is not
 * one SGX can use, when its content tells: a public key, an encrypted key,
 * DER instead of PEM, a certificate, an OpenSSH key. The sentence (naming
 * @path and what to do) is written to @out; NULL when there is nothing
 * more to say than the loader's message (a wrong size or exponent is
 * already named by it).
 */
const char *cli_key_problem(const char *path, char *out, size_t size);

/*
 * The argument of --trace FILE, checked before any work starts: *@abs gets
 * FILE as an absolute path (free() it). The trace is written as a temporary
 * file in FILE's directory and renamed, so that directory must be writable
 * and FILE must not be a directory. A FILE that starts with '-' ("--trace --
 * prog", "--trace --epc 1M") is an option taken for a name: refused (write
 * ./-name for such a file). Returns 0, or CLI_EXIT_USAGE after printing what
 * is wrong with FILE.
 */
int cli_trace_file(const char *cmd, const char *arg, char **abs);

/* The largest SOFTSGX_TRACE_MAX_EVENTS: 2^32 events (the buffer is reserved, not committed). */
#define CLI_TRACE_MAX_EVENTS_LIMIT (1ULL << 32)
/*
 * SOFTSGX_TRACE_MAX_EVENTS, if set, must be a number from 1 to
 * CLI_TRACE_MAX_EVENTS_LIMIT (any form cli_parse_uint() takes; re-exported
 * in decimal for the shim). 0, or CLI_EXIT_USAGE after saying why not.
 */
int cli_trace_max_events(const char *cmd);
/*
 * SOFTSGX_STATE_DIR, if set: an existing directory the root key can be read
 * from or written to, or a missing last component under an existing,
 * writable directory owned by the user, which @create (@len bytes) then
 * names ("" otherwise) for cli_state_dir_create() to make, mode 0700, when
 * every other check has passed. The variable is re-exported as an absolute
 * path. 0, or CLI_EXIT_USAGE after saying why the directory cannot be used.
 */
int cli_state_dir(const char *cmd, char *create, size_t len);
/* mkdir @create (mode 0700) unless it is ""; 0 or CLI_EXIT_FAILURE. */
int cli_state_dir_create(const char *cmd, const char *create);
/* Help text of --trace FILE. */
#define CLI_TRACE_USAGE                                                                            \
	"      --trace FILE write a timeline of the platform to FILE (Chrome/Perfetto\n"         \
	"                   trace-event JSON: open it in ui.perfetto.dev or\n"                   \
	"                   chrome://tracing)\n"

#endif /* SOFTSGX_CLI_H */
