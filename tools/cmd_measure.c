// SPDX-License-Identifier: MIT
/*
 * softsgx measure: the MRENCLAVE of an enclave ELF as the public loader
 * (softsgx/loader.h, softsgx/sign.h) lays it out and builds it, with a short
 * description of that layout. Nothing is built: the measurement is computed
 * from the ECREATE, EADD and EEXTEND sequence the loader's ioctls cause.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "softsgx/loader.h"
#include "softsgx/sign.h"

#define NAME "measure"

static void usage(FILE *out)
{
	fputs("Usage: softsgx measure [--json | --quiet] ENCLAVE\n"
	      "\n"
	      "Print the MRENCLAVE of the enclave ELF file ENCLAVE as softsgx's loader\n"
	      "builds it (the layout of docs/enclave-abi.md: every page of every PT_LOAD\n"
	      "segment added and measured, TCS pages from the layout note), then the\n"
	      "ELRANGE size, the number of pages and TCSs, and the SECS attributes.\n"
	      "\n"
	      "Options:\n"
	      "  --json           print one JSON object instead\n"
	      "  -q, --quiet      print only the MRENCLAVE (64 hex digits)\n"
	      "  -h, --help       show this help and exit\n"
	      "\n"
	      "Exit status: 0 success, 1 ENCLAVE cannot be read or is not an enclave\n"
	      "the loader accepts, 2 bad arguments.\n",
	      out);
}

enum output { OUT_TEXT, OUT_JSON, OUT_QUIET };

/* The names of the set bits of @v among @names (bit i named names[i]), space separated. */
static const char *bit_names(char *buf, size_t len, uint64_t v, const char *const *names,
			     unsigned int nr)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < nr && n < len; i++)
		if ((v >> i & 1) && names[i])
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", names[i]);
	return buf;
}

static void print_text(const char *path, const struct softsgx_image_info *in, const char *mr)
{
	/* SDM Vol. 3D, SECS.ATTRIBUTES and MISCSELECT bits. */
	static const char *const attrs[] = {"INIT", "DEBUG", "MODE64BIT", NULL, "PROVISIONKEY",
					    "EINITTOKENKEY", "CET", "KSS", NULL, NULL,
					    "AEXNOTIFY"};
	static const char *const misc[] = {"EXINFO"};
	char size[32], stack[32], an[96], mn[32];

	printf("MRENCLAVE: %s\n", mr);
	printf("Enclave:   %s\n", path);
	printf("ELRANGE:   %s (SECS.SIZE %#llx)\n", cli_format_size(in->size, size),
	       (unsigned long long)in->size);
	printf("Pages:     %llu added and measured (%u TCS, %llu regular)\n",
	       (unsigned long long)in->nr_pages, in->nr_tcs,
	       (unsigned long long)(in->nr_pages - in->nr_tcs));
	printf("TCS:       %u, each with %u SSA frame%s of %u page%s and a %s stack; "
	       "entry %#llx\n",
	       in->nr_tcs, in->nssa, in->nssa == 1 ? "" : "s", in->ssa_frame_pages,
	       in->ssa_frame_pages == 1 ? "" : "s", cli_format_size(in->stack_size, stack),
	       (unsigned long long)in->entry);
	printf("SECS:      ATTRIBUTES %#llx (%s), XFRM %#llx, MISCSELECT %#x (%s)\n",
	       (unsigned long long)in->attributes,
	       bit_names(an, sizeof(an), in->attributes, attrs, sizeof(attrs) / sizeof(attrs[0])),
	       (unsigned long long)in->xfrm, in->miscselect,
	       bit_names(mn, sizeof(mn), in->miscselect, misc, 1));
}

/* Sizes and counts are numbers; the entry point and SECS fields hex strings, as in info. */
static void print_json(const char *path, const struct softsgx_image_info *in, const char *mr)
{
	printf("{\n  \"file\": ");
	cli_json_string(path);
	printf(",\n  \"mrenclave\": \"%s\",\n", mr);
	printf("  \"size\": %llu,\n", (unsigned long long)in->size);
	printf("  \"pages\": %llu,\n  \"tcs\": %u,\n  \"regular_pages\": %llu,\n",
	       (unsigned long long)in->nr_pages, in->nr_tcs,
	       (unsigned long long)(in->nr_pages - in->nr_tcs));
	printf("  \"nssa\": %u,\n  \"ssa_frame_pages\": %u,\n  \"stack_size\": %llu,\n", in->nssa,
	       in->ssa_frame_pages, (unsigned long long)in->stack_size);
	printf("  \"entry\": \"0x%llx\",\n", (unsigned long long)in->entry);
	printf("  \"attributes\": \"0x%016llx\",\n  \"xfrm\": \"0x%016llx\",\n",
	       (unsigned long long)in->attributes, (unsigned long long)in->xfrm);
	printf("  \"miscselect\": \"0x%08x\"\n}\n", in->miscselect);
}

static int measure(const char *path, enum output how)
{
	struct softsgx_image *img;
	struct softsgx_image_info info;
	uint8_t mr[SGX_HASH_SIZE];
	char hex[2 * SGX_HASH_SIZE + 1];

	if (softsgx_image_load_file(path, &img))
		return cli_fail(NAME, "%s", softsgx_error_detail());
	if (softsgx_image_get_info(img, &info) || softsgx_image_mrenclave(img, mr)) {
		softsgx_image_free(img);
		return cli_fail(NAME, "%s", softsgx_error_detail());
	}
	softsgx_image_free(img);
	cli_hex(hex, mr, sizeof(mr));
	if (how == OUT_JSON)
		print_json(path, &info, hex);
	else if (how == OUT_QUIET)
		printf("%s\n", hex);
	else
		print_text(path, &info, hex);
	if (fflush(stdout))
		return cli_fail(NAME, "writing the output failed: %m");
	return CLI_EXIT_OK;
}

static int run(int argc, char **argv)
{
	enum { OPT_JSON = CLI_OPT_FIRST_FREE };
	static const char optstring[] = ":hq";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, OPT_JSON},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	bool json = false, quiet = false;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case OPT_JSON:
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return cli_getopt_error(NAME, opt, argv, optstring, longopts);
		}
	}
	if (json && quiet)
		return cli_usage_error(NAME, "--json and --quiet exclude each other");
	if (optind >= argc)
		return cli_usage_error(NAME, "missing ENCLAVE: the enclave ELF file to measure");
	if (optind + 1 < argc)
		return cli_usage_error(NAME, "unexpected argument '%s': one ENCLAVE at a time",
				       argv[optind + 1]);
	if (!*argv[optind])
		return cli_usage_error(NAME, "ENCLAVE must be a file name, not an empty string");
	return measure(argv[optind], json ? OUT_JSON : quiet ? OUT_QUIET : OUT_TEXT);
}

const struct cli_cmd cmd_measure = {
	.name = NAME,
	.summary = "print the MRENCLAVE and layout of an enclave ELF as the loader builds it",
	.usage = usage,
	.run = run,
};
