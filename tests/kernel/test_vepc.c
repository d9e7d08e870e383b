// SPDX-License-Identifier: MIT
/*
 * /dev/sgx_vepc and the model guest: fault-time allocation, REMOVE_ALL's
 * return values and errors, release with the zombie SECS list, competition
 * with host enclaves, and a guest reboot cycle.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "tests/common/encl_fixture.h"
#include "hw/hw.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/leak_guard.h"

struct vepc {
	int fd;
	uint8_t *base;
	size_t size;
};

static void vepc_open(struct softsgx_platform *p, struct vepc *v, uint64_t pages)
{
	void *addr = NULL;

	v->size = pages * SGX_PAGE_SIZE;
	v->fd = softsgx_open(p, "/dev/sgx_vepc", 0);
	assert_true(v->fd >= 0);
	assert_int_equal(softsgx_mmap(p, &addr, v->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				      v->fd, 0),
			 0);
	v->base = addr;
}

static void vepc_close(struct softsgx_platform *p, struct vepc *v)
{
	assert_int_equal(softsgx_munmap(p, v->base, v->size), 0);
	assert_int_equal(softsgx_close(p, v->fd), 0);
}

static long remove_all(struct softsgx_platform *p, struct vepc *v)
{
	return softsgx_ioctl(p, v->fd, SGX_IOC_VEPC_REMOVE_ALL, NULL);
}

static struct softsgx_stats stats(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	softsgx_get_stats(p, &st);
	return st;
}

static void test_fault_allocates(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 64);
	struct vepc v;

	(void)state;
	vepc_open(p, &v, 16);
	assert_int_equal(stats(p).in_use_pages, 0);
	for (int i = 0; i < 16; i += 2)
		assert_int_equal(softsgx_handle_fault(p, v.base + i * SGX_PAGE_SIZE, PROT_READ),
				 SOFTSGX_FAULT_RETRY);
	assert_int_equal(stats(p).in_use_pages, 8);
	/* The page is really there: the VMM's mapping reads and writes it. */
	v.base[2 * SGX_PAGE_SIZE + 5] = 0x77;
	assert_int_equal(v.base[2 * SGX_PAGE_SIZE + 5], 0x77);
	/* A second fault on a present page allocates nothing. */
	assert_int_equal(softsgx_handle_fault(p, v.base, PROT_WRITE), SOFTSGX_FAULT_RETRY);
	assert_int_equal(stats(p).in_use_pages, 8);
	ek_assert_invariant(p);
	vepc_close(p, &v);
	assert_int_equal(stats(p).free_pages, stats(p).total_pages);
	lg_platform_free(p);
}

static void test_mmap_rules_and_ioctl_errors(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 64);
	void *addr = NULL;
	struct vepc v;

	(void)state;
	vepc_open(p, &v, 4);
	assert_int_equal(softsgx_mmap(p, &addr, 4096, PROT_READ, MAP_PRIVATE, v.fd, 0), -EINVAL);
	assert_int_equal(softsgx_mmap(p, &addr, 4096, PROT_READ, MAP_SHARED, v.fd, 100), -EINVAL);
	assert_int_equal(softsgx_ioctl(p, v.fd, SGX_IOC_VEPC_REMOVE_ALL, (void *)1), -EINVAL);
	assert_int_equal(softsgx_ioctl(p, v.fd, SGX_IOC_ENCLAVE_CREATE, NULL), -ENOTTY);
	assert_int_equal(softsgx_ioctl(p, v.fd, _IO(SGX_MAGIC, 0x42), NULL), -ENOTTY);
	vepc_close(p, &v);
	lg_platform_free(p);
}

static void test_remove_all_idle(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 64);
	struct vepc v;

	(void)state;
	vepc_open(p, &v, 8);
	for (int i = 0; i < 8; i++)
		softsgx_handle_fault(p, v.base + i * SGX_PAGE_SIZE, PROT_READ);
	assert_int_equal(remove_all(p, &v), 0);
	for (int i = 0; i < 8; i++)
		assert_false(softsgx_epc_page_valid(p, v.base + i * SGX_PAGE_SIZE));
	/* Pages stay allocated to the instance, and mapped. */
	assert_int_equal(stats(p).in_use_pages, 8);
	v.base[0] = 1;
	assert_int_equal(remove_all(p, &v), 0);
	ek_assert_invariant(p);
	vepc_close(p, &v);
	lg_platform_free(p);
}

/* A guest whose first EPC section is @a and second @b. */
static struct softsgx_platform *guest_boot(struct softsgx_platform *host, struct vepc *a,
					   struct vepc *b)
{
	void *base[2] = { a->base, b->base };
	size_t size[2] = { a->size, b->size };
	struct softsgx_platform *g = lg_guest_boot(host, 2, base, size);

	assert_non_null(g);
	return g;
}

/*
 * A guest enclave with its SECS in @a and children in @b: section A holds
 * exactly two pages, which ENCLAVE_CREATE takes for a VA page and the SECS.
 */
static void guest_enclave(struct softsgx_platform *g, struct ek_enclave *e)
{
	ek_build(g, e, 6);
}

static void all_valid_pages(struct softsgx_platform *p, struct vepc *v, unsigned int *n)
{
	*n = 0;
	for (size_t off = 0; off < v->size; off += SGX_PAGE_SIZE)
		*n += softsgx_epc_page_valid(p, v->base + off);
}

static void test_guest_reboot_cycle(void **state)
{
	struct softsgx_platform *host = ek_platform(2, 128);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_platform *g;
	struct vepc a, b;
	unsigned int valid;

	(void)state;
	vepc_open(host, &a, 2);
	vepc_open(host, &b, 80);
	g = guest_boot(host, &a, &b);
	/* Boot sanitization touched (and so allocated) every guest EPC page. */
	assert_int_equal(stats(host).in_use_pages, 82);
	assert_int_equal(stats(g).total_pages, 82);
	assert_int_equal(stats(g).sanitize_valid_pages, 0);

	ek_fault_handler_install(g);
	guest_enclave(g, e);
	{
		uint64_t v;

		memcpy(&v, (uint8_t *)(uintptr_t)e->base + 3 * SGX_PAGE_SIZE, sizeof(v));
		assert_int_equal(v, 3);
	}
	ek_fault_handler_remove();
	all_valid_pages(host, &a, &valid);
	assert_int_equal(valid, 2); /* VA + SECS */
	all_valid_pages(host, &b, &valid);
	assert_int_equal(valid, 7); /* TCS + 6 REG */

	lg_guest_reset(g);
	free(e);
	/* The reset left the EPCM as it was. */
	all_valid_pages(host, &b, &valid);
	assert_int_equal(valid, 7);

	/* VMM: REMOVE_ALL on every instance, again on those that said non-zero. */
	assert_int_equal(remove_all(host, &a), 1); /* the SECS, children in B */
	assert_int_equal(remove_all(host, &b), 0);
	assert_int_equal(remove_all(host, &a), 0);
	all_valid_pages(host, &a, &valid);
	assert_int_equal(valid, 0);
	all_valid_pages(host, &b, &valid);
	assert_int_equal(valid, 0);
	ek_assert_invariant(host);

	/* Boot again: sanitization finds every page uninitialized. */
	g = guest_boot(host, &a, &b);
	assert_int_equal(stats(g).sanitize_valid_pages, 0);
	assert_int_equal(stats(g).free_pages, stats(g).total_pages);
	lg_platform_free(g);

	vepc_close(host, &a);
	vepc_close(host, &b);
	assert_int_equal(stats(host).free_pages, stats(host).total_pages);
	lg_platform_free(host);
}

static void test_reboot_without_remove_all_leaves_state(void **state)
{
	struct softsgx_platform *host = ek_platform(2, 128);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_platform *g;
	struct vepc a, b;

	(void)state;
	vepc_open(host, &a, 2);
	vepc_open(host, &b, 80);
	g = guest_boot(host, &a, &b);
	ek_fault_handler_install(g);
	guest_enclave(g, e);
	ek_fault_handler_remove();
	lg_guest_reset(g);
	free(e);
	/* A guest that boots on dirty EPC cleans it itself, SECS in a second pass. */
	g = guest_boot(host, &a, &b);
	assert_int_equal(stats(g).sanitize_valid_pages, 9);
	assert_int_equal(stats(g).free_pages, stats(g).total_pages);
	lg_platform_free(g);
	vepc_close(host, &a);
	vepc_close(host, &b);
	lg_platform_free(host);
}

/* Find the guest TCS by asking the CPU to enter each page of @v. */
static uint8_t *enter_some_tcs(struct softsgx_platform *host, struct vepc *v)
{
	for (size_t off = 0; off < v->size; off += SGX_PAGE_SIZE)
		if (hw_enclave_enter(softsgx_hw(host), v->base + off) == SGX_SUCCESS)
			return v->base + off;
	fail_msg("no TCS in the vEPC");
	return NULL;
}

static void test_remove_all_busy_with_thread_inside(void **state)
{
	struct softsgx_platform *host = ek_platform(2, 128);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_platform *g;
	struct vepc a, b;
	uint8_t *tcs;

	(void)state;
	vepc_open(host, &a, 2);
	vepc_open(host, &b, 80);
	g = guest_boot(host, &a, &b);
	ek_fault_handler_install(g);
	guest_enclave(g, e);
	ek_fault_handler_remove();
	/* A vCPU is inside the guest enclave while the VMM asks: EBUSY. */
	tcs = enter_some_tcs(host, &b);
	assert_int_equal(remove_all(host, &b), -EBUSY);
	hw_enclave_leave(softsgx_hw(host), tcs);
	lg_guest_reset(g);
	free(e);
	assert_int_equal(remove_all(host, &b), 0);
	assert_int_equal(remove_all(host, &a), 0);
	ek_assert_invariant(host);
	vepc_close(host, &a);
	vepc_close(host, &b);
	assert_int_equal(stats(host).free_pages, stats(host).total_pages);
	assert_int_equal(stats(host).vepc_eremove_warnings, 0);
	lg_platform_free(host);
}

static void test_zombie_secs_freed_by_last_child_instance(void **state)
{
	struct softsgx_platform *host = ek_platform(2, 128);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_platform *g;
	struct vepc a, b;

	(void)state;
	vepc_open(host, &a, 2);
	vepc_open(host, &b, 80);
	g = guest_boot(host, &a, &b);
	ek_fault_handler_install(g);
	guest_enclave(g, e);
	ek_fault_handler_remove();
	lg_guest_reset(g);
	free(e);

	/* A goes first: its SECS still has children in B and becomes a zombie. */
	vepc_close(host, &a);
	assert_int_equal(stats(host).zombie_pages, 1);
	ek_assert_invariant(host);
	/* B's release removes the children, then retries the zombie. */
	vepc_close(host, &b);
	assert_int_equal(stats(host).zombie_pages, 0);
	assert_int_equal(stats(host).free_pages, stats(host).total_pages);
	ek_assert_invariant(host);
	lg_platform_free(host);
}

struct race {
	struct softsgx_platform *p;
	struct vepc *v;
	long ret;
};

static void *race_remove_all(void *arg)
{
	struct race *r = arg;

	r->ret = remove_all(r->p, r->v);
	return NULL;
}

static void test_close_races_remove_all(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 256);

	(void)state;
	for (int round = 0; round < 20; round++) {
		struct vepc v;
		struct race r = { p, &v, 0 };
		pthread_t t;

		vepc_open(p, &v, 64);
		for (int i = 0; i < 64; i++)
			softsgx_handle_fault(p, v.base + i * SGX_PAGE_SIZE, PROT_READ);
		assert_int_equal(pthread_create(&t, NULL, race_remove_all, &r), 0);
		vepc_close(p, &v);
		pthread_join(t, NULL);
		/* Either the ioctl ran on the live file, or the descriptor was gone. */
		assert_true(r.ret == 0 || r.ret == -EBADF);
		ek_assert_invariant(p);
		assert_int_equal(stats(p).free_pages, stats(p).total_pages);
	}
	lg_platform_free(p);
}

static void test_competes_with_host_enclaves(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 128);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_stats st;
	struct vepc v;
	int got = 0;

	(void)state;
	vepc_open(p, &v, 64);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(softsgx_handle_fault(p, v.base + i * SGX_PAGE_SIZE, PROT_WRITE),
				 SOFTSGX_FAULT_RETRY);
		v.base[i * SGX_PAGE_SIZE] = (uint8_t)i;
	}
	/* A host enclave bigger than what is left: it must reclaim its own pages. */
	ek_fault_handler_install(p);
	ek_build(p, e, 100);
	for (uint64_t i = 1; i <= 100; i++) {
		uint64_t x;

		memcpy(&x, (uint8_t *)(uintptr_t)e->base + i * SGX_PAGE_SIZE, sizeof(x));
		assert_int_equal(x, i);
	}
	st = stats(p);
	assert_true(st.evictions > 0);
	/* The reclaimer never took a vEPC page. */
	for (int i = 0; i < 64; i++)
		assert_int_equal(v.base[i * SGX_PAGE_SIZE], (uint8_t)i);
	ek_assert_invariant(p);

	/* With the host enclave gone and vEPC holding everything, a fault gets SIGBUS. */
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	ek_fault_handler_remove();
	{
		struct vepc big;

		vepc_open(p, &big, 128);
		for (int i = 0; i < 128; i++) {
			uint64_t before = stats(p).vepc_faults;
			enum softsgx_fault r;

			/*
			 * RETRY without an allocation is Linux's -EBUSY: a reclaimer
			 * batch still holds pages of the closed enclave. Try again.
			 */
			for (int tries = 0; tries < 2000; tries++) {
				r = softsgx_handle_fault(p, big.base + i * SGX_PAGE_SIZE, PROT_READ);
				if (r != SOFTSGX_FAULT_RETRY || stats(p).vepc_faults > before)
					break;
				usleep(1000);
			}
			if (r == SOFTSGX_FAULT_SIGBUS)
				break;
			assert_int_equal(r, SOFTSGX_FAULT_RETRY);
			got++;
		}
		assert_int_equal(got, 128 - 64);
		/* Other instances are unharmed. */
		for (int i = 0; i < 64; i++)
			assert_int_equal(v.base[i * SGX_PAGE_SIZE], (uint8_t)i);
		vepc_close(p, &big);
	}
	vepc_close(p, &v);
	free(e);
	assert_int_equal(stats(p).free_pages, stats(p).total_pages);
	lg_platform_free(p);
}

/*
 * Found by tests/fuzz/fuzz_vepc: a guest booted on more vEPC than the host
 * has EPC used to come up with the unbacked pages "leaked" (its sanitizing
 * EREMOVE met #PF). The host now backs every page before the guest boots, as
 * a VMM preallocates guest EPC, and refuses the boot when it cannot.
 */
static void test_guest_boot_needs_backed_epc(void **state)
{
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_platform *host, *g;
	struct softsgx_config cfg;
	struct vepc v, small;
	void *base[1];
	size_t size[1];

	(void)state;
	/* No ksgxd: the free page counts below are exact. */
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 8 * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true;
	host = lg_platform_new(&cfg);
	assert_non_null(host);
	vepc_open(host, &v, 16);
	base[0] = v.base;
	size[0] = v.size;
	errno = 0;
	assert_null(lg_guest_boot(host, 1, base, size));
	assert_int_equal(errno, ENOMEM);
	ek_assert_invariant(host);
	assert_int_equal(stats(host).leaked_pages, 0);
	vepc_close(host, &v);
	assert_int_equal(stats(host).free_pages, stats(host).total_pages);

	/* Not a vEPC mapping. */
	base[0] = e;
	size[0] = SGX_PAGE_SIZE;
	errno = 0;
	assert_null(lg_guest_boot(host, 1, base, size));
	assert_int_equal(errno, EINVAL);

	/* Host enclave pages are reclaimed to back the guest. */
	ek_create_and_add(host, e, 4);
	/* VA, SECS, TCS and 4 REG pages: one page free, five reclaimable. */
	assert_int_equal(stats(host).free_pages, 1);
	vepc_open(host, &small, 5);
	base[0] = small.base;
	size[0] = small.size;
	g = lg_guest_boot(host, 1, base, size);
	assert_non_null(g);
	assert_int_equal(stats(g).leaked_pages, 0);
	assert_int_equal(stats(g).free_pages, 5);
	assert_true(stats(host).evictions > 0);
	ek_assert_invariant(host);
	lg_platform_free(g);
	vepc_close(host, &small);
	assert_int_equal(softsgx_close(host, e->fd), 0);
	free(e);
	assert_int_equal(stats(host).free_pages, stats(host).total_pages);
	lg_platform_free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_fault_allocates),
		LG_TEST(test_mmap_rules_and_ioctl_errors),
		LG_TEST(test_remove_all_idle),
		LG_TEST(test_guest_reboot_cycle),
		LG_TEST(test_reboot_without_remove_all_leaves_state),
		LG_TEST(test_remove_all_busy_with_thread_inside),
		LG_TEST(test_zombie_secs_freed_by_last_child_instance),
		LG_TEST(test_close_races_remove_all),
		LG_TEST(test_competes_with_host_enclaves),
		LG_TEST(test_guest_boot_needs_backed_epc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
