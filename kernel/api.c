// SPDX-License-Identifier: MIT
/*
 * The embedding API: a platform = CPU model + kernel model + a descriptor
 * table standing in for the process's file table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/api_internal.h"
#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/usage.h"
#include "obs/trace.h"
#include "kernel/virt.h"
#include "softsgx/softsgx.h"
#include "kernel/fault_inject.h"

#define SOFTSGX_MAX_FDS 1024

struct softsgx_platform {
	struct sgx_hw *hw;
	struct softsgx_platform *host; /* a model guest's host; NULL on a host */
	unsigned int nr_aliases;
	void *aliases[SOFTSGX_MAX_SECTIONS];
	struct sgx_kernel k;
	pthread_mutex_t fd_lock;
	struct sgx_file *fds[SOFTSGX_MAX_FDS];
	/* The recorder of softsgx_trace_start(); freed with the platform, when all is quiet. */
	struct sgx_trace *trace;
};

const char *softsgx_version(void)
{
	return SOFTSGX_VERSION;
}

void softsgx_default_config(struct softsgx_config *cfg)
{
	struct sgx_hw_config hw;

	sgx_hw_default_config(&hw);
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_sections = hw.nr_sections;
	for (unsigned int i = 0; i < hw.nr_sections; i++)
		cfg->section_size[i] = hw.section_size[i];
	cfg->sgx2 = hw.sgx2;
	cfg->flc = hw.flc;
}

static struct sgx_file *platform_fget(struct sgx_kernel *k, int fd, void *data)
{
	struct softsgx_platform *p = data;
	struct sgx_file *f = NULL;

	(void)k;
	pthread_mutex_lock(&p->fd_lock);
	if (fd >= 0 && fd < SOFTSGX_MAX_FDS && p->fds[fd]) {
		f = p->fds[fd];
		sgx_file_get(f);
	}
	pthread_mutex_unlock(&p->fd_lock);
	return f;
}

struct softsgx_platform *softsgx_platform_new(const struct softsgx_config *cfg)
{
	struct sgx_kernel_config kcfg;
	struct sgx_hw_config hcfg = { 0 };
	struct softsgx_platform *p;
	int ret;

	if (cfg->nr_sections > SOFTSGX_MAX_SECTIONS) {
		errno = EINVAL;
		return NULL;
	}
	hcfg.nr_sections = cfg->nr_sections;
	for (unsigned int i = 0; i < cfg->nr_sections; i++)
		hcfg.section_size[i] = cfg->section_size[i];
	hcfg.sgx2 = cfg->sgx2;
	hcfg.flc = cfg->flc;
	p = sgx_kcalloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->hw = sgx_hw_new(&hcfg);
	if (!p->hw) {
		ret = errno;
		free(p);
		errno = ret;
		return NULL;
	}
	sgx_kernel_config_from_hw(&kcfg, p->hw);
	kcfg.no_ksgxd = cfg->no_ksgxd;
	ret = sgx_kernel_init(&p->k, &kcfg);
	if (ret) {
		sgx_hw_free(p->hw);
		free(p);
		errno = -ret;
		return NULL;
	}
	pthread_mutex_init(&p->fd_lock, NULL);
	p->k.fget = platform_fget;
	p->k.fget_data = p;
	return p;
}

void softsgx_platform_free(struct softsgx_platform *p)
{
	struct list_head *pos, *tmp;

	if (!p)
		return;
	/* A reset guest runs no reclaimer and no ENCLS from here on. */
	if (p->k.powered_off)
		sgx_kernel_stop_ksgxd(&p->k);
	for (int fd = 0; fd < SOFTSGX_MAX_FDS; fd++)
		if (p->fds[fd])
			softsgx_close(p, fd);
	/* Unmapping drops the VMAs' references: the last one releases each enclave. */
	pthread_rwlock_wrlock(&p->k.mm.lock);
	list_for_each_safe(pos, tmp, &p->k.mm.vmas) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);
		struct sgx_file *f = vma->file;

		vma->file = NULL;
		sgx_file_put(f);
	}
	pthread_rwlock_unlock(&p->k.mm.lock);
	sgx_kernel_destroy(&p->k);
	for (unsigned int i = 0; i < p->nr_aliases; i++)
		hw_alias_remove(p->hw, p->aliases[i]);
	if (!p->host) {
		hw_set_trace(p->hw, NULL);
		sgx_trace_free(p->trace);
		sgx_hw_free(p->hw);
	}
	pthread_mutex_destroy(&p->fd_lock);
	free(p);
}

void softsgx_guest_reset(struct softsgx_platform *guest)
{
	guest->k.powered_off = true;
	softsgx_platform_free(guest);
}

/* Guest-physical base of guest EPC sections: any value works, this one reads well. */
#define GUEST_EPC_PHYS 0x80000000ULL

struct softsgx_platform *softsgx_guest_boot(struct softsgx_platform *host, unsigned int nr,
					    void *const base[], const size_t size[])
{
	struct sgx_kernel_config kcfg = { .hw = host->hw, .nr_sections = nr };
	struct softsgx_platform *g;
	int ret = -EINVAL;

	if (host->host || nr == 0 || nr > SOFTSGX_MAX_SECTIONS) {
		errno = EINVAL;
		return NULL;
	}
	g = sgx_kcalloc(1, sizeof(*g));
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->hw = host->hw;
	g->host = host;
	pthread_mutex_init(&g->fd_lock, NULL);
	for (unsigned int i = 0; i < nr; i++) {
		/*
		 * A VMM backs guest EPC before the guest runs: a vEPC page the
		 * host cannot give would otherwise be SIGBUS for the VMM halfway
		 * through the guest's boot.
		 */
		ret = sgx_vepc_populate(&host->k, (uintptr_t)base[i], size[i]);
		if (ret)
			goto err;
		/* The EPT: guest EPC addresses reach host EPC through the vEPC. */
		ret = hw_alias_add(host->hw, base[i], size[i], sgx_vepc_translate, &host->k);
		if (ret)
			goto err;
		g->aliases[g->nr_aliases++] = base[i];
		kcfg.sections[i].virt = base[i];
		kcfg.sections[i].size = size[i];
		kcfg.sections[i].phys = GUEST_EPC_PHYS + i * (1ULL << 32);
	}
	ret = sgx_kernel_init(&g->k, &kcfg);
	/*
	 * The guest's ksgxd sanitizes in the background; the boot returns
	 * when it is over, as callers read the guest's sanitization figures
	 * right away (softsgx guest, tests). An alias gives the model no hint
	 * of the pages in use, so this is a walk of the guest EPC, which the
	 * VMM has just populated page by page anyway.
	 */
	if (!ret)
		ret = sgx_sanitize_wait(&g->k);
	if (ret)
		goto err;
	g->k.fget = platform_fget;
	g->k.fget_data = g;
	return g;
err:
	for (unsigned int i = 0; i < g->nr_aliases; i++)
		hw_alias_remove(host->hw, g->aliases[i]);
	pthread_mutex_destroy(&g->fd_lock);
	free(g);
	errno = -ret;
	return NULL;
}

int softsgx_open(struct softsgx_platform *p, const char *path, int flags)
{
	enum sgx_file_type type;
	struct sgx_file *f;
	int ret;

	(void)flags;
	if (!path)
		return -EFAULT;
	/*
	 * Without flexible launch control Linux does not register the enclave
	 * driver (sgx_drv_init() fails), but still registers /dev/sgx_provision
	 * and the virtual EPC driver (sgx_init()).
	 */
	if (!strcmp(path, "/dev/sgx_enclave") && sgx_hw_config(p->hw)->flc)
		type = SGX_FILE_ENCLAVE;
	else if (!strcmp(path, "/dev/sgx_provision"))
		type = SGX_FILE_PROVISION;
	else if (!strcmp(path, "/dev/sgx_vepc") && !p->host)
		type = SGX_FILE_VEPC; /* no nested virtualization in a model guest */
	else
		return -ENOENT;
	f = sgx_file_open(&p->k, type, &ret);
	if (!f)
		return ret;
	pthread_mutex_lock(&p->fd_lock);
	for (int fd = 0; fd < SOFTSGX_MAX_FDS; fd++) {
		if (!p->fds[fd]) {
			p->fds[fd] = f;
			pthread_mutex_unlock(&p->fd_lock);
			return fd;
		}
	}
	pthread_mutex_unlock(&p->fd_lock);
	sgx_file_put(f);
	return -EMFILE;
}

int softsgx_close(struct softsgx_platform *p, int fd)
{
	struct sgx_file *f = NULL;

	pthread_mutex_lock(&p->fd_lock);
	if (fd >= 0 && fd < SOFTSGX_MAX_FDS) {
		f = p->fds[fd];
		p->fds[fd] = NULL;
	}
	pthread_mutex_unlock(&p->fd_lock);
	if (!f)
		return -EBADF;
	sgx_file_put(f);
	return 0;
}

int softsgx_dup(struct softsgx_platform *p, int fd)
{
	struct sgx_file *f = platform_fget(&p->k, fd, p);

	if (!f)
		return -EBADF;
	pthread_mutex_lock(&p->fd_lock);
	for (int nfd = 0; nfd < SOFTSGX_MAX_FDS; nfd++) {
		if (!p->fds[nfd]) {
			p->fds[nfd] = f;
			pthread_mutex_unlock(&p->fd_lock);
			return nfd;
		}
	}
	pthread_mutex_unlock(&p->fd_lock);
	sgx_file_put(f);
	return -EMFILE;
}

long softsgx_ioctl(struct softsgx_platform *p, int fd, unsigned long cmd, void *arg)
{
	struct sgx_file *f = platform_fget(&p->k, fd, p);
	long ret;

	if (!f)
		return -EBADF;
	ret = sgx_file_ioctl(f, cmd, (unsigned long)(uintptr_t)arg);
	sgx_file_put(f);
	return ret;
}

int softsgx_mmap(struct softsgx_platform *p, void **addr, size_t len, int prot, int flags, int fd,
		 uint64_t offset)
{
	struct sgx_file *f = platform_fget(&p->k, fd, p);
	uint64_t a = (uintptr_t)*addr;
	int ret;

	if (!f)
		return -EBADF;
	ret = sgx_file_mmap(f, &a, len, prot, flags, offset);
	sgx_file_put(f);
	if (!ret)
		*addr = (void *)(uintptr_t)a;
	return ret;
}

int softsgx_munmap(struct softsgx_platform *p, void *addr, size_t len)
{
	return sgx_munmap(&p->k, (uintptr_t)addr, len);
}

int softsgx_mprotect(struct softsgx_platform *p, void *addr, size_t len, int prot)
{
	return sgx_mprotect(&p->k, (uintptr_t)addr, len, prot);
}

enum softsgx_fault softsgx_handle_fault(struct softsgx_platform *p, void *addr, int access)
{
	enum sgx_fault_result r = sgx_handle_fault(&p->k, (uintptr_t)addr, access);

	/* An EPCM refusal (SGX2) is a SIGSEGV for the program, as on Linux. */
	return r == SGX_FAULT_EPCM ? SOFTSGX_FAULT_SIGSEGV : (enum softsgx_fault)r;
}

void softsgx_get_stats(struct softsgx_platform *p, struct softsgx_stats *st)
{
	sgx_get_stats(&p->k, st);
}

void softsgx_get_usage(struct softsgx_platform *p, struct softsgx_enclave_usage *encls,
		       unsigned int max_encls, unsigned int *nr_encls,
		       struct softsgx_vepc_usage *vepcs, unsigned int max_vepcs,
		       unsigned int *nr_vepcs)
{
	sgx_usage(&p->k, encls, max_encls, nr_encls, vepcs, max_vepcs, nr_vepcs);
}

unsigned int softsgx_reclaim(struct softsgx_platform *p)
{
	return sgx_reclaim_pages(&p->k);
}

void softsgx_fork_prepare(struct softsgx_platform *p)
{
	sgx_fork_prepare(&p->k);
}

void softsgx_fork_parent(struct softsgx_platform *p)
{
	sgx_fork_parent(&p->k);
}

int softsgx_fork_child(struct softsgx_platform *p)
{
	return sgx_fork_child(&p->k);
}

int softsgx_trace_start(struct softsgx_platform *p, size_t max_events)
{
	if (p->host)
		return -EINVAL; /* a guest runs on its host's CPU model: trace the host */
	if (!p->trace) {
		p->trace = sgx_trace_new(max_events);
		if (!p->trace)
			return -errno;
	}
	hw_set_trace(p->hw, p->trace);
	return 0;
}

void softsgx_trace_stop(struct softsgx_platform *p)
{
	if (!p->host)
		hw_set_trace(p->hw, NULL);
}

int softsgx_trace_save(struct softsgx_platform *p, const char *path)
{
	if (!p->trace)
		return -ENOENT;
	return sgx_trace_write_file(p->trace, path);
}

struct sgx_hw *softsgx_hw(struct softsgx_platform *p)
{
	return p->hw;
}

bool softsgx_epc_page_valid(struct softsgx_platform *p, void *addr)
{
	void *epc = sgx_vepc_lookup(&p->k, (uintptr_t)addr);

	return hw_epc_page_valid(p->hw, epc ? epc : addr);
}

struct sgx_kernel *softsgx_kernel(struct softsgx_platform *p)
{
	return &p->k;
}

struct sgx_file *softsgx_fget(struct softsgx_platform *p, int fd)
{
	return platform_fget(&p->k, fd, p);
}
