// SPDX-License-Identifier: MIT
/*
 * The address space of a client process as the service's kernel model sees
 * it (kernel/mm.h): one struct sgx_mm per client connection, created at
 * HELLO, torn down when the connection goes, which is how a client killed
 * at any moment loses its references (sgx_mm_exit(): its VMAs and files go,
 * and the last reference to an enclave releases it as Linux's last close).
 *
 * The operations are those of a process the service cannot reach yet: the
 * shim does not forward (issue 16, next stage), so nothing of a client is
 * ever mapped. When it does, install, zap and unmap become messages to the
 * client (a zap like a TLB shootdown), and reserve and access_user requests
 * to it. Until then:
 *   - reserve and install fail (-EOPNOTSUPP), so no VMA or PTE can appear;
 *   - zap and unmap succeed: there is nothing to drop, and for a dead client
 *     there never is (Linux zaps an exiting mm without asking it);
 *   - access_user fails with -EFAULT. It must never be NULL here: NULL means
 *     the service's own memory, and a client's pointer read there would be
 *     a confused deputy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "mm.h"
#include "server.h"

static int client_reserve(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed)
{
	(void)mm, (void)addr, (void)len, (void)fixed;
	return -EOPNOTSUPP;
}

static int client_install(struct sgx_mm *mm, struct sgx_kernel *k, const struct sgx_epc_page *page,
			  uint64_t addr, int prot)
{
	(void)mm, (void)k, (void)page, (void)addr, (void)prot;
	return -EOPNOTSUPP;
}

static int client_zap(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n)
{
	(void)mm, (void)addrs, (void)n;
	return 0;
}

static int client_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	(void)mm, (void)addr, (void)len;
	return 0;
}

static int client_access_user(struct sgx_mm *mm, void *local, uint64_t remote, size_t n, bool write)
{
	(void)mm, (void)local, (void)remote, (void)n, (void)write;
	return -EFAULT;
}

const struct sgx_mm_ops svc_client_mm_ops = {
	.reserve = client_reserve,
	.install = client_install,
	.zap = client_zap,
	.unmap = client_unmap,
	.access_user = client_access_user,
};

int svc_conn_attach_mm(struct svc_conn *c)
{
	c->mm = sgx_mm_create(&svc_client_mm_ops, c);
	return c->mm ? 0 : -ENOMEM;
}

void svc_conn_release(struct svc_conn *c)
{
	if (!c->mm)
		return;
	/* The process is gone (or never was a client of the EPC): as Linux's exit. */
	sgx_mm_exit(c->mm);
	sgx_mm_put(c->mm);
	c->mm = NULL;
}
