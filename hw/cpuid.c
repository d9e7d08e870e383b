// SPDX-License-Identifier: MIT
/*
 * CPUID of the model's CPU (hw/hw_cpuid.h): the host's answers with SGX added.
 */
#include <string.h>

#include "hw/hw_cpuid.h"

/*
 * Leaves the model answers without the host: leaf 0x12, and, on a host
 * whose maximum basic leaf is below 0x12 (AMD, some hypervisors), the
 * leaves between that maximum and 0x12. Those must read as reserved (zero)
 * rather than as whatever the host returns for a leaf beyond its maximum
 * (Intel returns the highest basic leaf's data there, SDM Vol. 2A CPUID).
 */
static bool model_only(uint32_t leaf, uint32_t host_max_basic)
{
	return leaf == HW_CPUID_LEAF_SGX ||
	       (leaf > host_max_basic && leaf < HW_CPUID_LEAF_SGX);
}

bool hw_cpuid_needs_host(uint32_t leaf, uint32_t host_max_basic)
{
	return !model_only(leaf, host_max_basic);
}

bool hw_cpuid(const struct sgx_hw *hw, uint32_t leaf, uint32_t subleaf,
	      uint32_t host_max_basic, const uint32_t host[4], uint32_t out[4])
{
	if (leaf == HW_CPUID_LEAF_SGX) {
		/* Leaf 0x12 is subleaf-indexed by ECX: all 32 bits of it. */
		hw_cpuid_sgx(hw, subleaf, out);
		return true;
	}
	if (leaf == HW_CPUID_LEAF_FEATURES) {
		bool host_has_leaf = leaf <= host_max_basic;

		/* A host without leaf 7 has no other feature flags in it. */
		if (host_has_leaf)
			memcpy(out, host, 4 * sizeof(uint32_t));
		else
			memset(out, 0, 4 * sizeof(uint32_t));
		/* Subleaf 0 only: SGX's bits are in 7.0; 7.1 and up are the host's. */
		if (subleaf != 0)
			return !host_has_leaf;
		out[HW_CPUID_EBX] |= HW_CPUID_7_EBX_SGX;
		/*
		 * SGX_LC: IA32_SGXLEPUBKEYHASH0-3 are writable (SDM Vol. 3D,
		 * "Intel SGX Launch Control Configuration"). Without it the
		 * MSRs hold Intel's hash and Linux registers no driver.
		 */
		if (sgx_hw_config(hw)->flc)
			out[HW_CPUID_ECX] |= HW_CPUID_7_ECX_SGX_LC;
		else
			out[HW_CPUID_ECX] &= ~HW_CPUID_7_ECX_SGX_LC;
		return true;
	}
	if (model_only(leaf, host_max_basic)) {
		memset(out, 0, 4 * sizeof(uint32_t));
		return true;
	}
	memcpy(out, host, 4 * sizeof(uint32_t));
	if (leaf == HW_CPUID_LEAF_BASIC && out[HW_CPUID_EAX] < HW_CPUID_LEAF_SGX) {
		/* The maximum basic leaf must reach 0x12 for software to read it. */
		out[HW_CPUID_EAX] = HW_CPUID_LEAF_SGX;
		return true;
	}
	return false;
}
