// SPDX-License-Identifier: MIT
/*
 * softsgx sign: the SIGSTRUCT that lets EINIT accept an enclave ELF built by
 * softsgx's loader, signed with an RSA-3072 key with public exponent 3 (the
 * kind `softsgx keygen` makes), through the public softsgx/loader.h and
 * softsgx/sign.h. softsgx_sign() checks the SIGSTRUCT the way EINIT checks
 * it; it is written atomically: a temporary file next to the output, renamed
 * over it once complete.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"
#include "softsgx/loader.h"
#include "softsgx/sign.h"

#define NAME "sign"

static void usage(FILE *out)
{
	fputs("Usage: softsgx sign -k KEY -o FILE [--isvprodid N] [--isvsvn N]\n"
	      "                    [--date YYYYMMDD] ENCLAVE\n"
	      "\n"
	      "Measure the enclave ELF file ENCLAVE as softsgx's loader builds it, sign\n"
	      "the measurement with KEY, and write the 1808-byte SIGSTRUCT to FILE\n"
	      "(replaced atomically if it exists). Prints MRENCLAVE and the MRSIGNER\n"
	      "that EINIT will give the enclave.\n"
	      "\n"
	      "The SIGSTRUCT asks for what the loader's SECS has: ATTRIBUTES DEBUG and\n"
	      "MODE64BIT under the mask of all bits but INIT, XFRM 0x3 (x87, SSE) under\n"
	      "mask 0x3, MISCSELECT EXINFO under all bits; vendor 0.\n"
	      "\n"
	      "Options:\n"
	      "  -k, --key KEY        the signing key: a PEM RSA-3072 private key with\n"
	      "                       public exponent 3, as 'softsgx keygen' writes (required)\n"
	      "  -o, --output FILE    where to write the SIGSTRUCT (required)\n"
	      "  --isvprodid N        ISVPRODID, the product ID, 0-65535 (default 0)\n"
	      "  --isvsvn N           ISVSVN, the security version, 0-65535 (default 0)\n"
	      "  --date YYYYMMDD      the signing date (default: today, UTC)\n"
	      "  -h, --help           show this help and exit\n"
	      "\n"
	      "Exit status: 0 success; 1 ENCLAVE or KEY cannot be used (not an enclave the\n"
	      "loader accepts, not an RSA-3072 e=3 private key) or FILE cannot be\n"
	      "written, and then no file is left behind; 2 bad arguments.\n",
	      out);
}

static bool leap_year(unsigned int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * YYYYMMDD, a real date, into SIGSTRUCT's DATE: the same decimal digits as
 * BCD nibbles (20261130 becomes 0x20261130). 0 or -EINVAL.
 */
static int parse_date(const char *s, uint32_t *bcd)
{
	static const unsigned int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned int y, m, d;

	if (strlen(s) != 8 || strspn(s, "0123456789") != 8)
		return -EINVAL;
	if (sscanf(s, "%4u%2u%2u", &y, &m, &d) != 3 || y < 1 || m < 1 || m > 12 || d < 1)
		return -EINVAL;
	if (d > days[m - 1] + (m == 2 && leap_year(y)))
		return -EINVAL;
	*bcd = (uint32_t)strtoul(s, NULL, 16);
	return 0;
}

static int parse_u16(const char *opt, const char *arg, uint16_t *out)
{
	uint64_t v;

	if (cli_parse_uint(arg, 0, UINT16_MAX, &v))
		return cli_usage_error(NAME, "%s '%s' is not a number from 0 to 65535", opt, arg);
	*out = (uint16_t)v;
	return 0;
}

/* All @len bytes of @buf to @fd. 0, or -1 with errno set. */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * @sig to @path through a temporary file in the same directory: on any
 * failure the temporary file is removed and @path is as it was.
 */
static int write_sigstruct(const char *path, const struct sgx_sigstruct *sig)
{
	mode_t mask = umask(0);
	char *tmp;
	int fd;

	umask(mask);
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return cli_fail(NAME, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		cli_fail(NAME, "cannot create a file next to %s: %m", path);
		free(tmp);
		return CLI_EXIT_FAILURE;
	}
	/* mkstemp() makes it 0600; a SIGSTRUCT is public, so the usual 0666 & ~umask. */
	if (fchmod(fd, 0666 & ~mask) || write_all(fd, sig, sizeof(*sig)) || fsync(fd)) {
		cli_fail(NAME, "writing %s failed: %m", path);
		close(fd);
		goto err_unlink;
	}
	if (close(fd)) {
		cli_fail(NAME, "writing %s failed: %m", path);
		goto err_unlink;
	}
	if (rename(tmp, path)) {
		cli_fail(NAME, "cannot write %s: %m", path);
		goto err_unlink;
	}
	free(tmp);
	return 0;

err_unlink:
	unlink(tmp);
	free(tmp);
	return CLI_EXIT_FAILURE;
}

/* @a and @b name the same existing file. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

struct sign_args {
	const char *enclave, *key, *output;
	struct softsgx_sign_opts opts;
};

static int sign(const struct sign_args *a)
{
	struct sgx_sigstruct *sig = NULL;
	struct softsgx_image *img;
	struct softsgx_key *key = NULL;
	uint8_t mrsigner[SGX_HASH_SIZE];
	char hex[2 * SGX_HASH_SIZE + 1];
	int ret = CLI_EXIT_FAILURE, err;

	if (softsgx_image_load_file(a->enclave, &img))
		return cli_fail(NAME, "%s", softsgx_error_detail());
	err = softsgx_key_load(a->key, &key);
	if (err == -EINVAL) {
		char why[512];

		/* A file that is not a key SGX can use: say what it is, and which key would do. */
		if (cli_key_problem(a->key, why, sizeof(why)))
			cli_fail(NAME, "%s", why);
		else
			cli_fail(NAME, "%s; 'softsgx keygen' makes an RSA-3072 key with exponent 3",
				 softsgx_error_detail());
		goto out;
	}
	if (err) {
		cli_fail(NAME, "%s", softsgx_error_detail());
		goto out;
	}
	sig = malloc(sizeof(*sig));
	if (!sig) {
		cli_fail(NAME, "out of memory");
		goto out;
	}
	/* softsgx_sign() checks the result as EINIT would: never write one it would refuse. */
	if (softsgx_sign(img, key, &a->opts, sig) || softsgx_sigstruct_mrsigner(sig, mrsigner)) {
		cli_fail(NAME, "%s", softsgx_error_detail());
		goto out;
	}
	ret = write_sigstruct(a->output, sig);
	if (ret)
		goto out;

	printf("Wrote the SIGSTRUCT (%zu bytes) of %s to %s.\n", sizeof(*sig), a->enclave,
	       a->output);
	cli_hex(hex, sig->body.mrenclave, SGX_HASH_SIZE);
	printf("MRENCLAVE: %s\n", hex);
	cli_hex(hex, mrsigner, SGX_HASH_SIZE);
	printf("MRSIGNER: %s\n", hex);
	printf("ISVPRODID: %u, ISVSVN: %u, DATE: %08x\n", sig->body.isvprodid, sig->body.isvsvn,
	       sig->header.date);
	ret = fflush(stdout) ? cli_fail(NAME, "writing the output failed: %m") : CLI_EXIT_OK;
out:
	free(sig);
	softsgx_key_free(key);
	softsgx_image_free(img);
	return ret;
}

static int run(int argc, char **argv)
{
	enum { OPT_ISVPRODID = CLI_OPT_FIRST_FREE, OPT_ISVSVN, OPT_DATE };
	static const char optstring[] = ":hk:o:";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"key", required_argument, NULL, 'k'},
		{"output", required_argument, NULL, 'o'},
		{"isvprodid", required_argument, NULL, OPT_ISVPRODID},
		{"isvsvn", required_argument, NULL, OPT_ISVSVN},
		{"date", required_argument, NULL, OPT_DATE},
		{NULL, 0, NULL, 0},
	};
	struct sign_args a = {0};
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'k':
			a.key = optarg;
			break;
		case 'o':
			a.output = optarg;
			break;
		case OPT_ISVPRODID:
			ret = parse_u16("--isvprodid", optarg, &a.opts.isvprodid);
			if (ret)
				return ret;
			break;
		case OPT_ISVSVN:
			ret = parse_u16("--isvsvn", optarg, &a.opts.isvsvn);
			if (ret)
				return ret;
			break;
		case OPT_DATE:
			if (parse_date(optarg, &a.opts.date))
				return cli_usage_error(NAME, "--date '%s' is not YYYYMMDD", optarg);
			break;
		default:
			return cli_getopt_error(NAME, opt, argv, optstring, longopts);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NAME, "missing ENCLAVE: the enclave ELF file to sign");
	if (optind + 1 < argc)
		return cli_usage_error(NAME, "unexpected argument '%s': one ENCLAVE at a time",
				       argv[optind + 1]);
	a.enclave = argv[optind];
	if (!a.key)
		return cli_usage_error(NAME, "missing -k KEY: the signing key");
	if (!a.output)
		return cli_usage_error(NAME, "missing -o FILE: where to write the SIGSTRUCT");
	if (!*a.enclave || !*a.key || !*a.output)
		return cli_usage_error(NAME, "ENCLAVE, KEY and FILE must be file names, not empty "
					     "strings");
	/* Replacing the input or the key with the output would lose it for good. */
	if (same_file(a.output, a.enclave) || same_file(a.output, a.key))
		return cli_usage_error(NAME, "the output %s is the %s itself", a.output,
				       same_file(a.output, a.key) ? "key" : "enclave");
	return sign(&a);
}

const struct cli_cmd cmd_sign = {
	.name = NAME,
	.summary = "sign an enclave ELF with an RSA-3072 e=3 key, writing its SIGSTRUCT",
	.usage = usage,
	.run = run,
};
