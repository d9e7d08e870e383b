/* SPDX-License-Identifier: MIT */
/*
 * CPUID of the model's CPU: the one place that says which CPUID answers the
 * model overrides. The shim gives a program's own CPUID instruction these
 * answers (shim/cpuid.c) and `softsgx info` prints them, so the two cannot
 * disagree.
 *
 * The model's CPU is the host's CPU plus SGX: every leaf is the host's
 * except
 *   leaf 0      EAX (maximum basic leaf) raised to at least 0x12;
 *   leaf 7.0    EBX bit 2 (SGX), ECX bit 30 (SGX_LC with flexible launch
 *               control) set;
 *   leaf 0x12   every subleaf from hw_cpuid_sgx() (hw/platform.c);
 *   leaves between the host's maximum basic leaf and 0x12 (when the host's
 *               is lower): zero, as reserved leaves read.
 *
 * Named hw_cpuid.h, not cpuid.h: with -Ihw that name would hide the
 * compiler's <cpuid.h> (__get_cpuid, __cpuid_count) from every file.
 */
#ifndef SOFTSGX_HW_HW_CPUID_H
#define SOFTSGX_HW_HW_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

#define HW_CPUID_LEAF_BASIC	0x0
#define HW_CPUID_LEAF_FEATURES	0x7
#define HW_CPUID_LEAF_SGX	SGX_CPUID /* 0x12 */

/*
 * SDM Vol. 2A, CPUID, "Structured Extended Feature Flags Enumeration Leaf":
 * CPUID.(EAX=07H,ECX=0):EBX[2] SGX, ECX[30] SGX_LC. Linux:
 * X86_FEATURE_SGX (word 9 = 7.0:EBX, bit 2), X86_FEATURE_SGX_LC (word 16 =
 * 7.0:ECX, bit 30) in arch/x86/include/asm/cpufeatures.h.
 */
#define HW_CPUID_7_EBX_SGX	(1u << 2)
#define HW_CPUID_7_ECX_SGX_LC	(1u << 30)

/* Register indexes in the arrays below. */
enum { HW_CPUID_EAX, HW_CPUID_EBX, HW_CPUID_ECX, HW_CPUID_EDX };

/*
 * Whether hw_cpuid() reads @host for @leaf: false for the leaves the model
 * answers alone (0x12, and the reserved ones below it), so a caller can skip
 * running the host's CPUID. @host_max_basic is the host's CPUID.0:EAX.
 */
bool hw_cpuid_needs_host(uint32_t leaf, uint32_t host_max_basic);

/*
 * The model's answer to CPUID with EAX = @leaf, ECX = @subleaf, in @out
 * (EAX, EBX, ECX, EDX). @host is the host CPU's answer to the same
 * leaf and subleaf (ignored, may be NULL, when hw_cpuid_needs_host() says
 * so); @host_max_basic the host's CPUID.0:EAX. Returns true when @out is
 * the model's own answer, false when it is @host unchanged.
 */
bool hw_cpuid(const struct sgx_hw *hw, uint32_t leaf, uint32_t subleaf,
	      uint32_t host_max_basic, const uint32_t host[4], uint32_t out[4]);

#endif /* SOFTSGX_HW_HW_CPUID_H */
