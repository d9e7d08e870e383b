// SPDX-License-Identifier: MIT
/*
 * Helpers shared by the subcommands of the softsgx command (cli.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rsa.h>

#include "tools/cli.h"
#include "tools/lib/parse_size.h"
#include "hw/hw.h"
#include "tools/lib/sigstruct_sign.h"

/* Messages may use %m: errno is the caller's, kept across the prefix. */
static void vmessage(const char *cmd, const char *fmt, va_list ap)
{
	int err = errno;

	fprintf(stderr, "softsgx %s: ", cmd);
	errno = err;
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'softsgx %s --help'.\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	return CLI_EXIT_FAILURE;
}

static const struct option *long_option_by_val(const struct option *longopts, int val)
{
	for (; longopts && longopts->name; longopts++)
		if (!longopts->flag && longopts->val == val)
			return longopts;
	return NULL;
}

static bool short_option_exists(const char *optstring, int c)
{
	return c > 0 && c < 256 && isgraph(c) && c != ':' && strchr(optstring, c);
}

/*
 * getopt_long() with opterr = 0 reports problems as '?' (unknown option, or
 * an argument given to an option that takes none) and ':' (missing
 * argument). optopt holds the short option or the long option's val; it is
 * 0 for an unknown long option. The element just scanned is argv[optind - 1]
 * for long options.
 */
int cli_getopt_error(const char *cmd, int opt, char **argv, const char *optstring,
		     const struct option *longopts)
{
	const char *elem = optind > 0 ? argv[optind - 1] : "";
	bool is_long = elem && !strncmp(elem, "--", 2);
	const struct option *lo = long_option_by_val(longopts, optopt);

	if (opt == ':') {
		if (is_long && lo)
			return cli_usage_error(cmd, "option '--%s' needs an argument", lo->name);
		return cli_usage_error(cmd, "option '-%c' needs an argument", optopt);
	}
	if (optopt == 0 || (is_long && !lo))
		return cli_usage_error(cmd, "unknown option '%s'", elem);
	if (is_long && lo && strchr(elem, '='))
		return cli_usage_error(cmd, "option '--%s' takes no argument", lo->name);
	if (short_option_exists(optstring, optopt))
		return cli_usage_error(cmd, "option '-%c' is not valid here", optopt);
	if (optopt > 0 && optopt < 256 && isgraph(optopt))
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", elem);
}

int cli_no_operands(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

void cli_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/*
 * One parser for every numeric option, so they all take the same forms: as
 * C and strtoul(base 0) write them, decimal, 0x hexadecimal (ISVPRODIDs are
 * often quoted in hex) or 0 octal. No sign, no spaces, nothing after it.
 */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	/* "0x" alone is no number (strtoull would take its "0"). */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && !isxdigit((unsigned char)s[2]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (*end)
		return -EINVAL;
	if (errno || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

const char *cli_format_size(uint64_t bytes, char buf[32])
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned int u = 0;

	while (bytes && !(bytes & 1023) && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes >>= 10;
		u++;
	}
	snprintf(buf, 32, "%llu %s", (unsigned long long)bytes, units[u]);
	return buf;
}

void cli_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

bool cli_platform_option(struct cli_platform_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_EPC:
		o->epc = arg;
		return true;
	case CLI_OPT_SECTIONS:
		o->sections = arg;
		return true;
	case CLI_OPT_SGX1:
		o->sgx1 = true;
		return true;
	default:
		return false;
	}
}

/* The value of environment variable @name, NULL when unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

uint64_t cli_config_pages(const struct softsgx_config *cfg)
{
	uint64_t pages = 0;

	for (unsigned int i = 0; i < cfg->nr_sections; i++)
		pages += cfg->section_size[i] / SGX_PAGE_SIZE;
	return pages;
}

int cli_platform_config(const char *cmd, const struct cli_platform_opts *o,
			struct softsgx_config *cfg)
{
	const char *epc = o->epc, *epc_name = "--epc";
	const char *sections = o->sections, *sections_name = "--sections";
	const char *sgx1 = env("SOFTSGX_SGX1");
	uint64_t total, n;
	char buf[32];

	softsgx_default_config(cfg);
	total = cli_config_pages(cfg) * SGX_PAGE_SIZE;
	n = cfg->nr_sections;

	if (!sections && env("SOFTSGX_SECTIONS")) {
		sections = env("SOFTSGX_SECTIONS");
		sections_name = "SOFTSGX_SECTIONS";
	}
	if (sections && cli_parse_uint(sections, 1, SOFTSGX_MAX_SECTIONS, &n))
		return cli_usage_error(cmd, "%s '%s' is not a number of EPC sections from 1 to %d",
				       sections_name, sections, SOFTSGX_MAX_SECTIONS);

	if (!epc && env("SOFTSGX_EPC")) {
		epc = env("SOFTSGX_EPC");
		epc_name = "SOFTSGX_EPC";
	}
	if (epc && sgx_parse_size(epc, &total))
		return cli_usage_error(cmd, "%s '%s' is not a size (examples: 64M, 1G)", epc_name,
				       epc);
	if (epc && total / SGX_PAGE_SIZE > SGX_HW_MAX_EPC_PAGES)
		return cli_usage_error(cmd, "%s '%s' is larger than the %s the model supports",
				       epc_name, epc,
				       cli_format_size(SGX_HW_MAX_EPC_PAGES * SGX_PAGE_SIZE, buf));
	if (total == 0 || total % (n * SGX_PAGE_SIZE))
		return cli_usage_error(cmd,
				       "an EPC of %llu bytes (%s %s) does not split into %llu "
				       "section%s of whole 4 KiB pages",
				       (unsigned long long)total, epc ? epc_name : "default",
				       epc ? epc : "size", (unsigned long long)n,
				       n == 1 ? "" : "s");

	cfg->nr_sections = (unsigned int)n;
	for (unsigned int i = 0; i < SOFTSGX_MAX_SECTIONS; i++)
		cfg->section_size[i] = i < n ? total / n : 0;
	if (o->sgx1) {
		cfg->sgx2 = false;
	} else if (sgx1) {
		if (strcmp(sgx1, "1") && strcmp(sgx1, "0"))
			return cli_usage_error(cmd, "SOFTSGX_SGX1 '%s' is neither 1 nor 0", sgx1);
		/* "0" keeps the default, SGX1 and SGX2. */
		if (!strcmp(sgx1, "1"))
			cfg->sgx2 = false;
	}
	return 0;
}

int cli_rsa3072_e3_keygen(EVP_PKEY **key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *e = BN_new();
	int ret = -EIO;

	*key = NULL;
	if (!ctx || !e || !BN_set_word(e, SGX_SIGN_KEY_EXPONENT))
		goto out;
	if (EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, SGX_SIGN_KEY_BITS) <= 0 ||
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) <= 0 || EVP_PKEY_keygen(ctx, key) <= 0)
		goto out;
	ret = 0;
out:
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}
