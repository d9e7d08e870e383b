// SPDX-License-Identifier: MIT
/*
 * Platform configuration from the environment, for programs run under the
 * shim: SOFTSGX_EPC (total EPC size, e.g. 128M, 1G), SOFTSGX_SECTIONS
 * (sections to split it into), SOFTSGX_SGX1=1 (an SGX1 CPU: no SGX2 in CPUID,
 * leaves or ioctls).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "tools/lib/parse_size.h"
#include "shim/shim.h"

int shim_config_from_env(struct sgx_hw_config *cfg)
{
	const char *epc = getenv("SOFTSGX_EPC");
	const char *sections = getenv("SOFTSGX_SECTIONS");
	const char *sgx1 = getenv("SOFTSGX_SGX1");
	uint64_t total = 0, n = 0;

	sgx_hw_default_config(cfg);
	if (sections && *sections) {
		if (sgx_parse_size(sections, &n) || n == 0 || n > SGX_HW_MAX_SECTIONS)
			return -EINVAL;
	} else {
		n = cfg->nr_sections;
	}
	if (epc && *epc) {
		if (sgx_parse_size(epc, &total))
			return -EINVAL;
	} else {
		total = 0;
		for (unsigned int i = 0; i < cfg->nr_sections; i++)
			total += cfg->section_size[i];
	}
	/* The rules of tools/cli.c's --epc and --sections. */
	if (total == 0 || total % (n * SGX_PAGE_SIZE) || total / SGX_PAGE_SIZE > SGX_HW_MAX_EPC_PAGES)
		return -EINVAL;
	cfg->nr_sections = (unsigned int)n;
	for (unsigned int i = 0; i < n; i++)
		cfg->section_size[i] = total / n;
	if (sgx1 && !strcmp(sgx1, "1"))
		cfg->sgx2 = false;
	return 0;
}
