/* SPDX-License-Identifier: MIT */
/*
 * Per-test cleanup for the tests that boot platforms or CPU models (hw and
 * kernel layers, stress, tools).
 *
 * A cmocka assertion that fails longjmps out of the test: whatever it had
 * created stays alive — a platform with its ksgxd thread still paging, its
 * mappings, the fixture's SIGSEGV handler pointing at it — and the next
 * test of the binary runs beside it. So every platform a test boots is
 * booted through lg_platform_new() (or a fixture that calls it), and every
 * test is registered with LG_TEST(), whose teardown frees what the test
 * left behind, newest first (a guest before its host), after taking the
 * fixture's fault handler away.
 */
#ifndef SOFTSGX_TESTS_LEAK_GUARD_H
#define SOFTSGX_TESTS_LEAK_GUARD_H

#include <stddef.h>

struct sgx_hw;
struct sgx_hw_config;
struct softsgx_config;
struct softsgx_platform;

/* softsgx_platform_new(), remembered until lg_platform_free(). */
struct softsgx_platform *lg_platform_new(const struct softsgx_config *cfg);
/* softsgx_guest_boot(), likewise. */
struct softsgx_platform *lg_guest_boot(struct softsgx_platform *host, unsigned int nr,
				       void *const base[], const size_t size[]);
/* softsgx_guest_reset(), which frees the guest: forgotten. */
void lg_guest_reset(struct softsgx_platform *guest);
/* softsgx_platform_free(), forgotten. */
void lg_platform_free(struct softsgx_platform *p);
/* The CPU model alone (tests of hw/): sgx_hw_new() and sgx_hw_free(), remembered. */
struct sgx_hw *lg_hw_new(const struct sgx_hw_config *cfg);
void lg_hw_free(struct sgx_hw *hw);

/* Platforms a test booted and has not freed (CPU models included). */
unsigned int lg_platforms_alive(void);

/* The teardown of every test: frees what is left; fails if anything was. */
int lg_teardown(void **state);

/* A cmocka test with the leak guard's teardown. */
#define LG_TEST(f) cmocka_unit_test_teardown(f, lg_teardown)

#endif /* SOFTSGX_TESTS_LEAK_GUARD_H */
