// SPDX-License-Identifier: MIT
/*
 * A C++ program that includes every public header and uses the library,
 * the loader and signer included (issue 19): the headers compile as C++ and their declarations have C
 * linkage, so the link against libsoftsgx.so resolves. Exits 0 on success.
 */
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "softsgx/compiler.h"
#include "softsgx/loader.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/sign.h"
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
	if (st.total_pages != 16)
		return 1;

	/* The loader and signer (0.2): an image laid out by hand, measured. */
	softsgx_image *img = nullptr;
	softsgx_image_info info;
	uint8_t mr[SGX_HASH_SIZE];
	static uint8_t page[SGX_PAGE_SIZE];
	softsgx_sign_opts opts = {};

	if (softsgx_image_new(4 * SGX_PAGE_SIZE, 1, &img) ||
	    softsgx_image_add_pages(img, 0, page, sizeof(page),
				    SGX_SECINFO_REG | SGX_SECINFO_R, SOFTSGX_PAGE_MEASURE) ||
	    softsgx_image_get_info(img, &info) || softsgx_image_mrenclave(img, mr)) {
		std::fprintf(stderr, "loader: %s\n", softsgx_error_detail());
		softsgx_image_free(img);
		return 1;
	}
	softsgx_image_free(img);
	/* An image is not a key: -EINVAL, with the words to go with it. */
	softsgx_key *key = nullptr;
	if (softsgx_key_load(nullptr, &key) != -EINVAL || key || !*softsgx_error_detail())
		return 1;
	(void)opts;
	return info.nr_pages == 1 && info.size == 4 * SGX_PAGE_SIZE ? 0 : 1;
}
