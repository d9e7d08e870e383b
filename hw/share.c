// SPDX-License-Identifier: MIT
/*
 * Views of the CPU model in other processes (issue 16, hw.h "Sharing the
 * CPU model with other processes"): the platform service's model owns the
 * EPC and runs ENCLS; each client process attaches a view, which maps the
 * same sections and EPCM objects and runs the ENCLU leaves of its own
 * threads on them, without a round trip to the service.
 *
 * Everything a view and its owner both touch is in the shared objects and
 * holds page numbers and offsets only (hw_internal.h): each process finds
 * an EPC page at its own direct map, and an EPCM entry at its own mapping
 * of the section's EPCM. What stays per process: the addresses, the xstate
 * probe (the same host), the keys ENCLU derives from (copied at attach,
 * fixed afterwards), and no trace or alias.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw_internal.h"

int sgx_hw_share_get(struct sgx_hw *hw, struct sgx_hw_share *out,
		     int fds[2 * SGX_HW_MAX_SECTIONS])
{
	/* A platform in a program, or a view, holds no descriptor to give. */
	for (unsigned int i = 0; i < hw->nr_sections; i++)
		if (hw->view || hw->sec[i].shm.fd < 0 || hw->sec[i].epcm.fd < 0)
			return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->cfg = hw->cfg;
	for (unsigned int i = 0; i < 2 * SGX_HW_MAX_SECTIONS; i++)
		fds[i] = -1;
	for (unsigned int i = 0; i < hw->nr_sections; i++) {
		out->section_phys[i] = hw->sec[i].phys;
		fds[2 * i] = hw->sec[i].shm.fd;
		fds[2 * i + 1] = hw->sec[i].epcm.fd;
	}
	memcpy(out->root_key, hw->root_key, sizeof(out->root_key));
	memcpy(out->report_keyid, hw->report_keyid, sizeof(out->report_keyid));
	for (int i = 0; i < 4; i++)
		out->lepubkeyhash[i] = atomic_load(&hw->lepubkeyhash[i]);
	return 0;
}

static int attach_section(struct hw_section *s, unsigned int index, uint64_t size,
			  uint64_t phys, uint64_t first_pfn, const int fds[2])
{
	char name[32];
	int ret;

	hw_section_geometry(s, size, phys, first_pfn);
	/* The direct map only: a view's process maps pages from the fd itself. */
	snprintf(name, sizeof(name), "softsgx-epc%u", index);
	ret = sgx_shm_attach(&s->shm, name, fds[0], size);
	if (ret)
		return ret;
	s->virt = s->shm.map;
	return epcm_attach(s, index, fds[1]);
}

struct sgx_hw *sgx_hw_attach(const struct sgx_hw_share *share,
			     const int fds[2 * SGX_HW_MAX_SECTIONS], uint32_t owner)
{
	struct sgx_hw *hw;
	uint64_t pfn = 0;
	int ret;

	/* 0 is "not busy" and 1 the owner's own threads. */
	if (owner <= 1 || hw_config_valid(&share->cfg)) {
		errno = EINVAL;
		return NULL;
	}
	hw = calloc(1, sizeof(*hw));
	if (!hw) {
		errno = ENOMEM;
		return NULL;
	}
	hw->cfg = share->cfg;
	hw->cfg.keep_fds = false; /* a view keeps no descriptor of its own */
	hw->view = true;
	hw->owner = owner;
	hw_xstate_probe(&hw->xstate);
	pthread_rwlock_init(&hw->alias_lock, NULL);
	for (unsigned int i = 0; i < share->cfg.nr_sections; i++) {
		ret = attach_section(&hw->sec[i], i, share->cfg.section_size[i],
				     share->section_phys[i], pfn, &fds[2 * i]);
		hw->nr_sections = i + 1;
		if (ret)
			goto err;
		pfn += hw->sec[i].npages;
	}
	hw->total_pages = pfn;
	for (int i = 0; i < 4; i++)
		atomic_store(&hw->lepubkeyhash[i], share->lepubkeyhash[i]);
	memcpy(hw->root_key, share->root_key, sizeof(hw->root_key));
	memcpy(hw->report_keyid, share->report_keyid, sizeof(hw->report_keyid));
	return hw;
err:
	sgx_hw_free(hw);
	errno = -ret;
	return NULL;
}

void *hw_epc_page_addr(struct sgx_hw *hw, unsigned int section, uint64_t index)
{
	if (section >= hw->nr_sections || index >= hw->sec[section].npages)
		return NULL;
	return hw->sec[section].virt + (index << SGX_PAGE_SHIFT);
}
