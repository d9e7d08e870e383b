// SPDX-License-Identifier: MIT
/*
 * softsgx info: boot a platform and describe it the way software discovers
 * SGX: CPUID leaf 0x12 (capabilities, attribute and XFRM masks, EPC
 * sections), launch control and its MSRs, and the EPC the kernel model
 * manages.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hw.h"

#define NAME "info"

static void usage(FILE *out)
{
	fputs("Usage: softsgx info [--json] [PLATFORM OPTIONS]\n"
	      "\n"
	      "Boot a platform and print what CPUID leaf 0x12 reports (SGX1/SGX2,\n"
	      "MISCSELECT, maximum enclave sizes, the attribute and XFRM masks, every EPC\n"
	      "section), launch control with the IA32_SGXLEPUBKEYHASH0-3 MSRs, and the\n"
	      "total EPC pages.\n"
	      "\n"
	      "Options:\n"
	      "  --json           print the same as one JSON object\n"
	      "  -h, --help       show this help and exit\n"
	      "\n" CLI_PLATFORM_USAGE "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

struct bit_name {
	unsigned int bit;
	const char *name;
};

/* CPUID.(EAX=12H,ECX=0):EAX */
static const struct bit_name leaf0_eax_names[] = {
	{0, "SGX1"},
	{1, "SGX2"},
	{0, NULL},
};

static const struct bit_name miscselect_names[] = {
	{0, "EXINFO"},
	{0, NULL},
};

static const struct bit_name attribute_names[] = {
	{0, "INIT"}, {1, "DEBUG"}, {2, "MODE64BIT"},  {4, "PROVISIONKEY"}, {5, "EINITTOKENKEY"},
	{6, "CET"},  {7, "KSS"},   {10, "AEXNOTIFY"}, {0, NULL},
};

/* XCR0 components. */
static const struct bit_name xfrm_names[] = {
	{0, "x87"},    {1, "SSE"},	 {2, "AVX"},	    {3, "BNDREGS"},
	{4, "BNDCSR"}, {5, "opmask"},	 {6, "ZMM_Hi256"},  {7, "Hi16_ZMM"},
	{9, "PKRU"},   {17, "XTILECFG"}, {18, "XTILEDATA"}, {0, NULL},
};

static const char *bit_name(const struct bit_name *names, unsigned int bit)
{
	for (; names->name; names++)
		if (names->bit == bit)
			return names->name;
	return NULL;
}

struct epc_section {
	uint64_t base, size;
};

struct info {
	uint32_t leaf0[4], leaf1[4];
	uint64_t attributes, xfrm;
	unsigned int nr_sections;
	struct epc_section sections[SGX_HW_MAX_SECTIONS];
	bool flc;
	uint64_t lepubkeyhash[4];
	uint64_t total_pages;
};

static int collect(struct softsgx_platform *p, struct info *in)
{
	struct sgx_hw *hw = softsgx_hw(p);
	struct softsgx_stats st;

	memset(in, 0, sizeof(*in));
	hw_cpuid_sgx(hw, 0, in->leaf0);
	hw_cpuid_sgx(hw, 1, in->leaf1);
	in->attributes = (uint64_t)in->leaf1[1] << 32 | in->leaf1[0];
	in->xfrm = (uint64_t)in->leaf1[3] << 32 | in->leaf1[2];
	/* Subleaves 2, 3...: EAX[3:0] = 1 for an EPC section, 0 ends the list. */
	for (unsigned int i = 0; i < SGX_HW_MAX_SECTIONS; i++) {
		uint32_t r[4];

		hw_cpuid_sgx(hw, 2 + i, r);
		if ((r[0] & 0xF) != 1)
			break;
		in->sections[i].base = (uint64_t)(r[1] & 0xFFFFF) << 32 | (r[0] & 0xFFFFF000u);
		in->sections[i].size = (uint64_t)(r[3] & 0xFFFFF) << 32 | (r[2] & 0xFFFFF000u);
		in->nr_sections++;
	}
	in->flc = sgx_hw_config(hw)->flc;
	for (unsigned int i = 0; i < 4; i++)
		if (hw_rdmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, &in->lepubkeyhash[i]))
			return cli_fail(NAME, "RDMSR of IA32_SGXLEPUBKEYHASH%u faulted", i);
	softsgx_get_stats(p, &st);
	in->total_pages = st.total_pages;
	return 0;
}

static void print_names(const struct bit_name *names, uint64_t mask)
{
	bool any = false;

	for (unsigned int bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(mask >> bit & 1))
			continue;
		name = bit_name(names, bit);
		if (name)
			printf(" %s", name);
		else
			printf(" bit%u", bit);
		any = true;
	}
	if (!any)
		printf(" (none)");
}

static void print_text(const struct info *in)
{
	unsigned int not64 = in->leaf0[3] & 0xFF, is64 = (in->leaf0[3] >> 8) & 0xFF;
	char buf[32];

	printf("CPUID leaf 0x12, subleaf 0\n");
	printf("  EAX 0x%08x  SGX1: %s, SGX2: %s\n", in->leaf0[0], in->leaf0[0] & 1 ? "yes" : "no",
	       in->leaf0[0] & 2 ? "yes" : "no");
	printf("  EBX 0x%08x  MISCSELECT:", in->leaf0[1]);
	print_names(miscselect_names, in->leaf0[1]);
	printf("\n  EDX 0x%08x  maximum enclave size: 2^%u bytes (%s) outside 64-bit mode,",
	       in->leaf0[3], not64, cli_format_size(1ULL << not64, buf));
	printf(" 2^%u bytes (%s) in 64-bit mode\n", is64, cli_format_size(1ULL << is64, buf));
	printf("CPUID leaf 0x12, subleaf 1\n");
	printf("  ATTRIBUTES mask 0x%016llx:", (unsigned long long)in->attributes);
	print_names(attribute_names, in->attributes);
	printf("\n  XFRM mask       0x%016llx:", (unsigned long long)in->xfrm);
	print_names(xfrm_names, in->xfrm);
	printf("\nCPUID leaf 0x12, subleaves 2-%u: EPC sections\n", in->nr_sections + 1);
	for (unsigned int i = 0; i < in->nr_sections; i++)
		printf("  section %u: physical base 0x%016llx, size 0x%llx (%s, %llu pages)\n", i,
		       (unsigned long long)in->sections[i].base,
		       (unsigned long long)in->sections[i].size,
		       cli_format_size(in->sections[i].size, buf),
		       (unsigned long long)(in->sections[i].size / SGX_PAGE_SIZE));
	printf("Launch control\n");
	printf("  flexible: %s\n", in->flc ? "yes (IA32_SGXLEPUBKEYHASH0-3 are writable; the "
					     "kernel writes them before EINIT)"
					   : "no (the MSRs are read-only; Linux registers no "
					     "/dev/sgx_enclave)");
	for (unsigned int i = 0; i < 4; i++)
		printf("  IA32_SGXLEPUBKEYHASH%u (MSR 0x%x): 0x%016llx\n", i,
		       MSR_IA32_SGXLEPUBKEYHASH0 + i, (unsigned long long)in->lepubkeyhash[i]);
	printf("EPC: %llu pages (%s) in %u section%s\n", (unsigned long long)in->total_pages,
	       cli_format_size(in->total_pages * SGX_PAGE_SIZE, buf), in->nr_sections,
	       in->nr_sections == 1 ? "" : "s");
}

static void json_names(const char *key, const struct bit_name *names, uint64_t mask)
{
	bool first = true;

	printf("\"%s\": [", key);
	for (unsigned int bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(mask >> bit & 1))
			continue;
		name = bit_name(names, bit);
		if (name)
			printf("%s\"%s\"", first ? "" : ", ", name);
		else
			printf("%s\"bit%u\"", first ? "" : ", ", bit);
		first = false;
	}
	printf("]");
}

static void json_regs(const char *key, const uint32_t r[4])
{
	printf("    \"%s\": {\"eax\": \"0x%08x\", \"ebx\": \"0x%08x\", \"ecx\": \"0x%08x\", "
	       "\"edx\": \"0x%08x\"}",
	       key, r[0], r[1], r[2], r[3]);
}

/*
 * Registers, masks, addresses and MSR values are hex strings (64-bit values
 * do not survive a JSON reader that uses doubles); sizes and counts are
 * numbers.
 */
static void print_json(const struct info *in)
{
	unsigned int not64 = in->leaf0[3] & 0xFF, is64 = (in->leaf0[3] >> 8) & 0xFF;

	printf("{\n  \"cpuid_0x12\": {\n");
	json_regs("subleaf0", in->leaf0);
	printf(",\n");
	json_regs("subleaf1", in->leaf1);
	printf("\n  },\n");
	printf("  \"sgx1\": %s,\n  \"sgx2\": %s,\n  ", in->leaf0[0] & 1 ? "true" : "false",
	       in->leaf0[0] & 2 ? "true" : "false");
	json_names("leaf_functions", leaf0_eax_names, in->leaf0[0]);
	printf(",\n");
	printf("  \"miscselect\": \"0x%08x\",\n  ", in->leaf0[1]);
	json_names("miscselect_names", miscselect_names, in->leaf0[1]);
	printf(",\n  \"max_enclave_size_not64\": %llu,\n  \"max_enclave_size_64\": %llu,\n",
	       1ULL << not64, 1ULL << is64);
	printf("  \"attributes_mask\": \"0x%016llx\",\n  ", (unsigned long long)in->attributes);
	json_names("attributes", attribute_names, in->attributes);
	printf(",\n  \"xfrm_mask\": \"0x%016llx\",\n  ", (unsigned long long)in->xfrm);
	json_names("xfrm", xfrm_names, in->xfrm);
	printf(",\n  \"epc_sections\": [");
	for (unsigned int i = 0; i < in->nr_sections; i++)
		printf("%s\n    {\"index\": %u, \"phys_base\": \"0x%016llx\", \"size\": %llu, "
		       "\"pages\": %llu}",
		       i ? "," : "", i, (unsigned long long)in->sections[i].base,
		       (unsigned long long)in->sections[i].size,
		       (unsigned long long)(in->sections[i].size / SGX_PAGE_SIZE));
	printf("\n  ],\n  \"launch_control\": {\n    \"flexible\": %s,\n",
	       in->flc ? "true" : "false");
	printf("    \"lepubkeyhash\": [");
	for (unsigned int i = 0; i < 4; i++)
		printf("%s\"0x%016llx\"", i ? ", " : "", (unsigned long long)in->lepubkeyhash[i]);
	printf("]\n  },\n");
	printf("  \"epc_total_pages\": %llu,\n  \"epc_total_bytes\": %llu\n}\n",
	       (unsigned long long)in->total_pages,
	       (unsigned long long)(in->total_pages * SGX_PAGE_SIZE));
}

static int run(int argc, char **argv)
{
	enum { OPT_JSON = CLI_OPT_FIRST_FREE };
	static const char optstring[] = ":h";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, OPT_JSON},
		CLI_PLATFORM_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct cli_platform_opts popts = {0};
	struct softsgx_config cfg;
	struct softsgx_platform *p;
	struct info in;
	bool json = false;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (cli_platform_option(&popts, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_getopt_error(NAME, opt, argv, optstring, longopts);
		}
	}
	ret = cli_no_operands(NAME, argc, argv);
	if (ret)
		return ret;
	ret = cli_platform_config(NAME, &popts, &cfg);
	if (ret)
		return ret;

	p = softsgx_platform_new(&cfg);
	if (!p)
		return cli_fail(NAME, "the platform did not boot: %m");
	ret = collect(p, &in);
	softsgx_platform_free(p);
	if (ret)
		return ret;
	if (json)
		print_json(&in);
	else
		print_text(&in);
	if (fflush(stdout))
		return cli_fail(NAME, "writing the output failed: %m");
	return CLI_EXIT_OK;
}

const struct cli_cmd cmd_info = {
	.name = NAME,
	.summary = "boot a platform and show CPUID leaf 0x12, launch control and the EPC",
	.usage = usage,
	.run = run,
};
