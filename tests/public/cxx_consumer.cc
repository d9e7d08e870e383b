// SPDX-License-Identifier: MIT
/*
 * A C++ program that includes every public header and uses the library
 * (issue 19): the headers compile as C++ and their declarations have C
 * linkage, so the link against libsoftsgx.so resolves. Exits 0 on success.
 */
#include <cstdio>
#include <cstring>

#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

int main()
{
	softsgx_config cfg;
	softsgx_stats st;

	if (std::strcmp(softsgx_version(), SOFTSGX_VERSION) != 0) {
		std::fprintf(stderr, "library %s, header %s\n", softsgx_version(), SOFTSGX_VERSION);
		return 1;
	}
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 16 * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true;
	softsgx_platform *p = softsgx_platform_new(&cfg);
	if (!p) {
		std::perror("softsgx_platform_new");
		return 1;
	}
	softsgx_get_stats(p, &st);
	softsgx_platform_free(p);
	return st.total_pages == 16 ? 0 : 1;
}
