// SPDX-License-Identifier: MIT
/*
 * The SGX2 ENCLS leaves: EAUG, EMODPR, EMODT (SDM Vol. 3D, "Intel SGX
 * Instruction References"). Stubs for now: every leaf is #GP.
 */
#include "hw_internal.h"

int leaf_eaug(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc)
{
	(void)hw;
	(void)pginfo;
	(void)epc;
	return ENCLS_FAULT(X86_TRAP_GP);
}

int leaf_emodpr(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc)
{
	(void)hw;
	(void)secinfo;
	(void)epc;
	return ENCLS_FAULT(X86_TRAP_GP);
}

int leaf_emodt(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc)
{
	(void)hw;
	(void)secinfo;
	(void)epc;
	return ENCLS_FAULT(X86_TRAP_GP);
}

bool hw_epcm_accessible(struct sgx_hw *hw, const void *addr, int access)
{
	(void)hw;
	(void)addr;
	(void)access;
	return false;
}
