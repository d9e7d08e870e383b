// SPDX-License-Identifier: MIT
/*
 * Power-on of the CPU model: EPC sections (shared memory mapped as the direct
 * map and one view per protection, hw/shm.h), platform keys, CPUID leaf 0x12
 * and the launch-control MSRs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "hw/hw_internal.h"

/* Physical base of the first section; later sections follow with a gap. */
#define EPC_PHYS_BASE 0x4000000000ULL
#define EPC_PHYS_GAP (1ULL << 30)

/* IA32_SGXLEPUBKEYHASH reset value: SHA-256 of Intel's launch-enclave key. */
static const uint64_t intel_lepubkeyhash[4] = {
	0xa6053e051270b7acULL,
	0x6cfbe8ba8b3b413dULL,
	0xc4916d99f2b3735dULL,
	0xd4f8c05909f9bb3bULL,
};

void sgx_hw_default_config(struct sgx_hw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_sections = 2;
	cfg->section_size[0] = 64ULL << 20;
	cfg->section_size[1] = 64ULL << 20;
	/*
	 * SGX2 in CPUID, the leaves, the ioctls and EAUG on fault, together:
	 * loaders take CPUID.(12H,0):EAX bit 1 as "EDMM available".
	 */
	cfg->sgx2 = true;
	cfg->flc = true;
}

static _Atomic bool keep_fds_default;

void sgx_hw_keep_fds_default(bool keep)
{
	atomic_store(&keep_fds_default, keep);
}

int hw_config_valid(const struct sgx_hw_config *cfg)
{
	uint64_t pages = 0;

	if (cfg->nr_sections == 0 || cfg->nr_sections > SGX_HW_MAX_SECTIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		uint64_t size = cfg->section_size[i];

		if (size == 0 || size % SGX_PAGE_SIZE || size > EPC_PHYS_GAP * 1024)
			return -EINVAL;
		pages += size >> SGX_PAGE_SHIFT;
	}
	if (pages > SGX_HW_MAX_EPC_PAGES)
		return -EINVAL;
	return 0;
}

/*
 * fork() copies the pages with a valid EPCM entry: no leaf reads any other
 * (EADD, EAUG, ELDU and EPA write a page whole before it becomes valid).
 */
static void section_data(void *ctx, sgx_shm_range_fn fn, void *arg)
{
	struct hw_section *s = ctx;
	uint64_t end = epcm_chunks_end(s);

	/* Chunks never initialised hold no page: O(pages used), not O(EPC). */
	for (uint64_t c = 0; c < end; c++) {
		struct epcm_entry *chunk = epcm_chunk(s, c);

		for (uint64_t i = 0; chunk && i < EPCM_CHUNK_PAGES; i++) {
			uint64_t page = c * EPCM_CHUNK_PAGES + i;

			if (page < s->npages && chunk[i].valid)
				fn(arg, page, 1);
		}
	}
}

void hw_section_geometry(struct hw_section *s, uint64_t size, uint64_t phys, uint64_t first_pfn)
{
	s->size = size;
	s->phys = phys;
	s->npages = size >> SGX_PAGE_SHIFT;
	s->first_pfn = first_pfn;
	s->nr_chunks = (s->npages + EPCM_CHUNK_PAGES - 1) / EPCM_CHUNK_PAGES;
}

static int section_init(struct hw_section *s, unsigned int index, uint64_t size,
			uint64_t phys, uint64_t first_pfn, bool keep_fd)
{
	char name[32];
	int ret;

	hw_section_geometry(s, size, phys, first_pfn);
	/*
	 * The direct map plus a view per protection, and no descriptor: the
	 * program may close any it did not open (hw/shm.h). A service keeps
	 * it, for its clients, and the EPCM's likewise.
	 */
	snprintf(name, sizeof(name), "softsgx-epc%u", index);
	ret = sgx_shm_create_fd(&s->shm, name, size, true, section_data, s, keep_fd);
	if (ret)
		return ret;
	s->virt = s->shm.map;
	return epcm_create(s, index, keep_fd);
}

/* Of a platform and of a view alike: each unmaps only its own mappings. */
static void section_destroy(struct hw_section *s)
{
	epcm_destroy(s);
	sgx_shm_destroy(&s->shm);
	s->virt = NULL;
}

struct sgx_hw *sgx_hw_new(const struct sgx_hw_config *cfg)
{
	struct sgx_hw *hw;
	uint64_t pfn = 0;
	int ret;

	ret = hw_config_valid(cfg);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	hw = calloc(1, sizeof(*hw));
	if (!hw) {
		errno = ENOMEM;
		return NULL;
	}
	hw->cfg = *cfg;
	hw->cfg.keep_fds |= atomic_load(&keep_fds_default);
	hw->owner = 1;
	hw_xstate_probe(&hw->xstate);
	pthread_rwlock_init(&hw->alias_lock, NULL);
	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		uint64_t phys = EPC_PHYS_BASE + i * (EPC_PHYS_GAP * 1024);

		ret = section_init(&hw->sec[i], i, cfg->section_size[i], phys, pfn,
				   hw->cfg.keep_fds);
		hw->nr_sections = i + 1;
		if (ret)
			goto err;
		pfn += hw->sec[i].npages;
	}
	hw->total_pages = pfn;
	for (int i = 0; i < 4; i++)
		atomic_store(&hw->lepubkeyhash[i], intel_lepubkeyhash[i]);
	atomic_store(&hw->next_eid, 1);
	atomic_store(&hw->next_version, 1);
	if (RAND_bytes(hw->paging_key, sizeof(hw->paging_key)) != 1 ||
	    RAND_bytes(hw->root_key, sizeof(hw->root_key)) != 1 ||
	    RAND_bytes(hw->report_keyid, sizeof(hw->report_keyid)) != 1) {
		ret = -EIO;
		goto err;
	}
	return hw;
err:
	sgx_hw_free(hw);
	errno = -ret;
	return NULL;
}

/* A platform, or a view (hw/share.c): the memory is shared, freed by whoever holds the last mapping. */
void sgx_hw_free(struct sgx_hw *hw)
{
	if (!hw)
		return;
	for (unsigned int i = 0; i < hw->nr_sections; i++)
		section_destroy(&hw->sec[i]);
	OPENSSL_cleanse(hw->paging_key, sizeof(hw->paging_key));
	OPENSSL_cleanse(hw->root_key, sizeof(hw->root_key));
	pthread_rwlock_destroy(&hw->alias_lock);
	free(hw);
}

const struct sgx_hw_config *sgx_hw_config(const struct sgx_hw *hw)
{
	return &hw->cfg;
}

bool hw_epc_section(const struct sgx_hw *hw, unsigned int index,
		    struct sgx_hw_section *out)
{
	if (index >= hw->nr_sections)
		return false;
	out->virt = hw->sec[index].virt;
	out->phys = hw->sec[index].phys;
	out->size = hw->sec[index].size;
	memcpy(out->view, hw->sec[index].shm.view, sizeof(out->view));
	out->fd = hw->sec[index].shm.fd;
	return true;
}

uint64_t hw_epc_total_pages(const struct sgx_hw *hw)
{
	return hw->total_pages;
}

/* Attributes ECREATE accepts (CPUID.(EAX=12H,ECX=1):EAX/EBX). */
#define HW_ATTRIBUTES_ALLOWED                                                  \
	(SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT |                  \
	 SGX_ATTR_PROVISIONKEY | SGX_ATTR_EINITTOKENKEY | SGX_ATTR_KSS |       \
	 SGX_ATTR_AEXNOTIFY)

void hw_cpuid_sgx(const struct sgx_hw *hw, uint32_t subleaf, uint32_t out[4])
{
	memset(out, 0, 4 * sizeof(uint32_t));
	if (subleaf == 0) {
		out[0] = 1u | (hw->cfg.sgx2 ? 2u : 0u);
		out[1] = SGX_MISC_EXINFO;
		/* MaxEnclaveSize_Not64 = 2^31, MaxEnclaveSize_64 = 2^47. */
		out[3] = 31u | (47u << 8);
	} else if (subleaf == 1) {
		out[0] = (uint32_t)HW_ATTRIBUTES_ALLOWED;
		out[1] = (uint32_t)((uint64_t)HW_ATTRIBUTES_ALLOWED >> 32);
		/* XFRM: the host's XCR0, which enclave code runs under (xstate.c). */
		out[2] = (uint32_t)hw_xfrm_supported(hw);
		out[3] = (uint32_t)(hw_xfrm_supported(hw) >> 32);
	} else if (subleaf - 2 < hw->nr_sections) {
		const struct hw_section *s = &hw->sec[subleaf - 2];

		out[0] = 0x1u | (uint32_t)(s->phys & 0xFFFFF000u);
		out[1] = (uint32_t)(s->phys >> 32) & 0xFFFFFu;
		out[2] = 0x1u | (uint32_t)(s->size & 0xFFFFF000u);
		out[3] = (uint32_t)(s->size >> 32) & 0xFFFFFu;
	}
	/* Beyond the last section: type 0, the end marker. */
}

static bool is_lepubkeyhash(uint32_t msr)
{
	return msr >= MSR_IA32_SGXLEPUBKEYHASH0 && msr <= MSR_IA32_SGXLEPUBKEYHASH3;
}

int hw_wrmsr(struct sgx_hw *hw, uint32_t msr, uint64_t value)
{
	if (!is_lepubkeyhash(msr) || !hw->cfg.flc)
		return ENCLS_FAULT(X86_TRAP_GP);
	atomic_store(&hw->lepubkeyhash[msr - MSR_IA32_SGXLEPUBKEYHASH0], value);
	return 0;
}

int hw_rdmsr(const struct sgx_hw *hw, uint32_t msr, uint64_t *value)
{
	if (!is_lepubkeyhash(msr))
		return ENCLS_FAULT(X86_TRAP_GP);
	*value = atomic_load(&hw->lepubkeyhash[msr - MSR_IA32_SGXLEPUBKEYHASH0]);
	return 0;
}

void hw_inject_einit_interrupts(struct sgx_hw *hw, unsigned int count)
{
	atomic_store(&hw->einit_interrupts, count);
}
