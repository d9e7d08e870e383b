// SPDX-License-Identifier: MIT
/*
 * softsgx measure: the MRENCLAVE of an enclave ELF as the project's loader
 * (tools/lib/enclave_image.c) lays it out and builds it, with a short
 * description of that layout. Nothing is built: the measurement is computed
 * from the ECREATE, EADD and EEXTEND sequence the loader's ioctls cause.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/enclave_image.h"

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

/* The text output names the loader's fixed SECS bits; keep the names true. */
_Static_assert(ENCLAVE_IMAGE_ATTRIBUTES == (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT) &&
		       ENCLAVE_IMAGE_MISCSELECT == SGX_MISC_EXINFO,
	       "update the attribute names print_text() prints");

static unsigned int tcs_pages(const struct enclave_image *img)
{
	unsigned int n = 0;

	for (size_t i = 0; i < img->nr_pages; i++)
		n += SGX_SECINFO_PAGE_TYPE(img->pages[i].secinfo) == SGX_PAGE_TYPE_TCS;
	return n;
}

static void print_text(const char *path, const struct enclave_image *img, const char *mr)
{
	const struct enclave_layout_note *l = &img->layout;
	const struct sgx_secs *secs = img->secs;
	unsigned int tcs = tcs_pages(img);
	char size[32], stack[32];

	printf("MRENCLAVE: %s\n", mr);
	printf("Enclave:   %s\n", path);
	printf("ELRANGE:   %s (SECS.SIZE %#llx)\n", cli_format_size(secs->size, size),
	       (unsigned long long)secs->size);
	printf("Pages:     %zu added and measured (%u TCS, %zu regular)\n", img->nr_pages, tcs,
	       img->nr_pages - tcs);
	printf("TCS:       %u, each with %u SSA frame%s of %u page%s and a %s stack; "
	       "entry %#llx\n",
	       l->nr_tcs, l->nssa, l->nssa == 1 ? "" : "s", l->ssa_frame_pages,
	       l->ssa_frame_pages == 1 ? "" : "s", cli_format_size(l->stack_size, stack),
	       (unsigned long long)img->entry);
	printf("SECS:      ATTRIBUTES %#llx (DEBUG MODE64BIT), XFRM %#llx, MISCSELECT %#x "
	       "(EXINFO)\n",
	       (unsigned long long)secs->attributes, (unsigned long long)secs->xfrm,
	       secs->miscselect);
}

/* Sizes and counts are numbers; the entry point and SECS fields hex strings, as in info. */
static void print_json(const char *path, const struct enclave_image *img, const char *mr)
{
	const struct enclave_layout_note *l = &img->layout;
	const struct sgx_secs *secs = img->secs;
	unsigned int tcs = tcs_pages(img);

	printf("{\n  \"file\": ");
	cli_json_string(path);
	printf(",\n  \"mrenclave\": \"%s\",\n", mr);
	printf("  \"size\": %llu,\n", (unsigned long long)secs->size);
	printf("  \"pages\": %zu,\n  \"tcs\": %u,\n  \"regular_pages\": %zu,\n", img->nr_pages, tcs,
	       img->nr_pages - tcs);
	printf("  \"nssa\": %u,\n  \"ssa_frame_pages\": %u,\n  \"stack_size\": %llu,\n", l->nssa,
	       l->ssa_frame_pages, (unsigned long long)l->stack_size);
	printf("  \"entry\": \"0x%llx\",\n", (unsigned long long)img->entry);
	printf("  \"attributes\": \"0x%016llx\",\n  \"xfrm\": \"0x%016llx\",\n",
	       (unsigned long long)secs->attributes, (unsigned long long)secs->xfrm);
	printf("  \"miscselect\": \"0x%08x\"\n}\n", secs->miscselect);
}

static int measure(const char *path, enum output how)
{
	struct enclave_image img;
	uint8_t mr[SGX_HASH_SIZE];
	char hex[2 * SGX_HASH_SIZE + 1];

	if (enclave_image_load_file(path, &img))
		return cli_fail(NAME, "%s", enclave_image_error());
	enclave_image_mrenclave(&img, mr);
	cli_hex(hex, mr, sizeof(mr));
	if (how == OUT_JSON)
		print_json(path, &img, hex);
	else if (how == OUT_QUIET)
		printf("%s\n", hex);
	else
		print_text(path, &img, hex);
	enclave_image_free(&img);
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
