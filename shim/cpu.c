// SPDX-License-Identifier: MIT
/*
 * The CPU an ENCLU of this process runs on (struct shim_cpu): in private
 * mode the process's own platform, its leaves walking the kernel model's
 * page tables and faults resolved by the kernel model in the process; in
 * service mode (shim/service.c) a view of the service's CPU model over the
 * shared EPC and EPCM, its leaves walking this process's PTEs and faults
 * resolved by the service (service/remote.h). The enclave code of
 * shim/enclave.c is the same for both.
 */
#include <errno.h>

#include "service/remote.h"
#include "shim/shim.h"

static struct sgx_kernel *private_k;

/* The kernel model's walk of this process's mm: its page table first (kernel/translate.c). */
static int private_translate(uint64_t addr, int prot, void **epc)
{
	return sgx_translate_mm(private_k, &private_k->mm, addr, prot, epc);
}

static enum sgx_fault_result private_fault(uint64_t addr, int access)
{
	return sgx_handle_fault(private_k, addr, access);
}

/* The verdicts are the same enum (service/remote.c checks it). */
static enum sgx_fault_result service_fault(uint64_t addr, int access)
{
	return (enum sgx_fault_result)svc_remote_fault((void *)(uintptr_t)addr, access);
}

static struct shim_cpu private_cpu = {.translate = private_translate, .fault = private_fault};
static struct shim_cpu service_cpu = {.translate = svc_remote_translate, .fault = service_fault};

const struct shim_cpu *shim_cpu(void)
{
	struct sgx_kernel *k;
	struct sgx_hw *hw;

	if (shim_service_mode()) {
		/* A new view after a forked child's own connection. */
		hw = svc_remote_hw();
		if (!hw)
			return NULL;
		if (__atomic_load_n(&service_cpu.hw, __ATOMIC_ACQUIRE) != hw)
			__atomic_store_n(&service_cpu.hw, hw, __ATOMIC_RELEASE);
		return &service_cpu;
	}
	k = shim_kernel_if_up();
	if (!k)
		return NULL;
	if (__atomic_load_n(&private_cpu.hw, __ATOMIC_ACQUIRE) != k->hw) {
		private_k = k;
		__atomic_store_n(&private_cpu.hw, k->hw, __ATOMIC_RELEASE);
	}
	return &private_cpu;
}
