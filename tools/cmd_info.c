// SPDX-License-Identifier: MIT
/*
 * softsgx info: boot a platform and describe it the way software discovers
 * SGX: CPUID leaf 0x12 (capabilities, attribute and XFRM masks, EPC
 * sections), launch control and its MSRs, and the EPC the kernel model
 * manages; then every CPUID register the model's CPU changes (hw/hw_cpuid.h),
 * as a program under `softsgx run` reads them, and the host mechanisms the
 * shim relies on.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "kernel/api_internal.h"
#include "tools/cli.h"
#include "hw/hw_cpuid.h"
#include "tools/host_cpu.h"
#include "hw/hw.h"

#define NAME "info"

static void usage(FILE *out)
{
	fputs("Usage: softsgx info [--json] [PLATFORM OPTIONS]\n"
	      "\n"
	      "Boot a platform and print what CPUID leaf 0x12 reports (SGX1/SGX2,\n"
	      "MISCSELECT, maximum enclave sizes, the attribute and XFRM masks, every EPC\n"
	      "section), launch control with the IA32_SGXLEPUBKEYHASH0-3 MSRs, and the\n"
	      "total EPC pages. Then the CPUID registers a program run by `softsgx run`\n"
	      "reads where the model's CPU differs from the host's (leaves 0, 7 and 0x12),\n"
	      "and which host mechanisms the shim can use: CPUID faulting, Syscall User\n"
	      "Dispatch, FSGSBASE, the host's XCR0, and whether the host shows SGX.\n"
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

/* Enough for every subleaf of leaf 7 a current CPU reports. */
#define MAX_LEAF7_SUBLEAVES 8
/* Subleaves 0 and 1, one per section, and the invalid one that ends the list. */
#define MAX_LEAF12_SUBLEAVES (SGX_HW_MAX_SECTIONS + 3)

/* The model's CPUID where it is not the host's: what a program reads. */
struct model_cpuid {
	uint32_t leaf0[4];
	unsigned int nr_leaf7;
	uint32_t leaf7[MAX_LEAF7_SUBLEAVES][4];
	unsigned int nr_leaf12;
	uint32_t leaf12[MAX_LEAF12_SUBLEAVES][4];
};

struct info {
	uint32_t leaf0[4], leaf1[4];
	uint64_t attributes, xfrm;
	unsigned int nr_sections;
	struct epc_section sections[SGX_HW_MAX_SECTIONS];
	bool flc;
	uint64_t lepubkeyhash[4];
	uint64_t total_pages;
	struct model_cpuid cpuid;
	struct host_mechanisms mech;
};

/* hw_cpuid() on the host's answer, as the shim computes it for a program. */
static void model_cpuid_leaf(const struct sgx_hw *hw, uint32_t leaf, uint32_t subleaf,
			     uint32_t max_basic, uint32_t out[4])
{
	uint32_t host[4] = { 0 };

	if (hw_cpuid_needs_host(leaf, max_basic))
		host_cpuid(leaf, subleaf, host);
	hw_cpuid(hw, leaf, subleaf, max_basic, host, out);
}

static void collect_cpuid(const struct sgx_hw *hw, struct model_cpuid *c)
{
	uint32_t host0[4], max_sub;

	host_cpuid(0, 0, host0);
	model_cpuid_leaf(hw, 0, 0, host0[0], c->leaf0);
	/* Leaf 7: subleaves 0 to CPUID.(7,0):EAX. */
	model_cpuid_leaf(hw, 7, 0, host0[0], c->leaf7[0]);
	max_sub = c->leaf7[0][0];
	for (c->nr_leaf7 = 1; c->nr_leaf7 <= max_sub && c->nr_leaf7 < MAX_LEAF7_SUBLEAVES;
	     c->nr_leaf7++)
		model_cpuid_leaf(hw, 7, c->nr_leaf7, host0[0], c->leaf7[c->nr_leaf7]);
	/* Leaf 0x12: to the first subleaf past 1 whose type (EAX[3:0]) is 0. */
	for (c->nr_leaf12 = 0; c->nr_leaf12 < MAX_LEAF12_SUBLEAVES; c->nr_leaf12++) {
		uint32_t *r = c->leaf12[c->nr_leaf12];

		model_cpuid_leaf(hw, 0x12, c->nr_leaf12, host0[0], r);
		if (c->nr_leaf12 >= 2 && (r[0] & 0xF) == 0) {
			c->nr_leaf12++;
			break;
		}
	}
}

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
	collect_cpuid(hw, &in->cpuid);
	host_mechanisms_probe(&in->mech);
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

static void print_regs(const char *label, const uint32_t r[4])
{
	printf("  %-12s EAX 0x%08x  EBX 0x%08x  ECX 0x%08x  EDX 0x%08x", label, r[0], r[1], r[2],
	       r[3]);
}

static void print_cpuid_text(const struct model_cpuid *c)
{
	char label[32];

	printf("CPUID as a program under softsgx run reads it, where it is not the host's\n");
	print_regs("leaf 0x0", c->leaf0);
	printf("  maximum basic leaf 0x%x\n", c->leaf0[0]);
	for (unsigned int i = 0; i < c->nr_leaf7; i++) {
		snprintf(label, sizeof(label), "leaf 0x7.%u", i);
		print_regs(label, c->leaf7[i]);
		if (i == 0)
			printf("  SGX: %s, SGX_LC: %s",
			       c->leaf7[0][1] & HW_CPUID_7_EBX_SGX ? "yes" : "no",
			       c->leaf7[0][2] & HW_CPUID_7_ECX_SGX_LC ? "yes" : "no");
		printf("\n");
	}
	for (unsigned int i = 0; i < c->nr_leaf12; i++) {
		snprintf(label, sizeof(label), "leaf 0x12.%u", i);
		print_regs(label, c->leaf12[i]);
		if (i >= 2)
			printf("  %s", (c->leaf12[i][0] & 0xF) == 1 ? "EPC section" : "end of list");
		printf("\n");
	}
}

static void print_mechanisms_text(const struct host_mechanisms *m)
{
	printf("Host mechanisms\n");
	printf("  CPUID faulting: %s\n",
	       m->cpuid_faulting ? "yes (a program's CPUID reads the model's CPU; CPUID inside "
				   "an enclave raises #UD)"
				 : "no (programs under softsgx run read the host's CPUID, without "
				   "SGX; CPUID inside an enclave runs instead of raising #UD)");
	printf("  Syscall User Dispatch: %s\n",
	       m->syscall_user_dispatch ? "yes" : "no (Linux before 5.11, or disabled)");
	printf("  FSGSBASE: %s\n",
	       m->fsgsbase ? "yes (enclave FS/GS bases switched by WRFSBASE/WRGSBASE)"
			   : "no (enclave FS/GS bases switched by arch_prctl())");
	if (m->osxsave) {
		printf("  XCR0: 0x%016llx:", (unsigned long long)m->xcr0);
		print_names(xfrm_names, m->xcr0);
		printf("\n");
	} else {
		printf("  XCR0: none (the OS has not enabled XSAVE)\n");
	}
	if (m->host_sgx)
		printf("  host SGX: visible (CPUID.(7,0):EBX[2] set; leaf 0x12.0 EAX 0x%08x)\n",
		       m->host_sgx_leaf0_eax);
	else
		printf("  host SGX: hidden (CPUID.(7,0):EBX[2] clear: no SGX, or not exposed)\n");
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
	print_cpuid_text(&in->cpuid);
	print_mechanisms_text(&in->mech);
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

static void json_subleaves(const char *key, const uint32_t regs[][4], unsigned int n)
{
	printf("    \"%s\": [", key);
	for (unsigned int i = 0; i < n; i++)
		printf("%s\n      {\"subleaf\": %u, \"eax\": \"0x%08x\", \"ebx\": \"0x%08x\", "
		       "\"ecx\": \"0x%08x\", \"edx\": \"0x%08x\"}",
		       i ? "," : "", i, regs[i][0], regs[i][1], regs[i][2], regs[i][3]);
	printf("\n    ]");
}

static void print_cpuid_json(const struct model_cpuid *c)
{
	printf("  \"cpuid\": {\n");
	json_regs("leaf_0x0", c->leaf0);
	printf(",\n");
	json_subleaves("leaf_0x7", c->leaf7, c->nr_leaf7);
	printf(",\n");
	json_subleaves("leaf_0x12", c->leaf12, c->nr_leaf12);
	printf("\n  },\n");
}

static void print_mechanisms_json(const struct host_mechanisms *m)
{
	printf("  \"mechanisms\": {\n    \"cpuid_faulting\": %s,\n"
	       "    \"syscall_user_dispatch\": %s,\n    \"fsgsbase\": %s,\n",
	       m->cpuid_faulting ? "true" : "false", m->syscall_user_dispatch ? "true" : "false",
	       m->fsgsbase ? "true" : "false");
	if (m->osxsave)
		printf("    \"xcr0\": \"0x%016llx\",\n", (unsigned long long)m->xcr0);
	else
		printf("    \"xcr0\": null,\n");
	printf("    \"host_sgx\": %s\n  }\n", m->host_sgx ? "true" : "false");
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
	printf("  \"epc_total_pages\": %llu,\n  \"epc_total_bytes\": %llu,\n",
	       (unsigned long long)in->total_pages,
	       (unsigned long long)(in->total_pages * SGX_PAGE_SIZE));
	print_cpuid_json(&in->cpuid);
	print_mechanisms_json(&in->mech);
	printf("}\n");
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
