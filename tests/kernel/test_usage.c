// SPDX-License-Identifier: MIT
/*
 * softsgx_get_usage(): EPC pages per enclave and per vEPC instance match
 * what was added, evicted by the reclaimer and faulted back, the rows add up
 * to the pages in use, they go when the enclave or instance is released, and
 * a report runs safely beside ksgxd and the fault path.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "softsgx/sgx_arch.h"
#include "tests/common/leak_guard.h"

#define MAX_ROWS 8

struct usage {
	struct softsgx_enclave_usage encls[MAX_ROWS];
	struct softsgx_vepc_usage vepcs[MAX_ROWS];
	unsigned int nr_encls, nr_vepcs;
};

static void get_usage(struct softsgx_platform *p, struct usage *u)
{
	memset(u, 0, sizeof(*u));
	softsgx_get_usage(p, u->encls, MAX_ROWS, &u->nr_encls, u->vepcs, MAX_ROWS, &u->nr_vepcs);
}

static struct softsgx_platform *platform(uint64_t pages, bool ksgxd)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = pages * SGX_PAGE_SIZE;
	cfg.no_ksgxd = !ksgxd;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

static struct softsgx_stats stats(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	softsgx_get_stats(p, &st);
	return st;
}

/* Every in-use page belongs to some row (no vEPC, no page in flight here). */
static void assert_rows_add_up(struct softsgx_platform *p, const struct usage *u)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < u->nr_encls && i < MAX_ROWS; i++)
		sum += u->encls[i].epc_pages;
	for (unsigned int i = 0; i < u->nr_vepcs && i < MAX_ROWS; i++)
		sum += u->vepcs[i].epc_pages;
	assert_int_equal(sum, stats(p).in_use_pages);
}

static void test_no_enclaves(void **state)
{
	struct softsgx_platform *p = platform(64, false);
	struct usage u;

	(void)state;
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 0);
	assert_int_equal(u.nr_vepcs, 0);
	/* An open enclave file is listed before ECREATE, with nothing in it. */
	int fd = softsgx_open(p, "/dev/sgx_enclave", O_RDWR);
	assert_true(fd >= 0);
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 1);
	assert_int_equal(u.encls[0].flags, 0);
	assert_int_equal(u.encls[0].epc_pages, 0);
	assert_int_equal(u.encls[0].base, 0);
	assert_int_equal(softsgx_close(p, fd), 0);
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 0);
	lg_platform_free(p);
}

/* ECREATE + ADD: SECS, one VA page, the TCS and the REG pages are resident. */
static void test_added_pages(void **state)
{
	struct softsgx_platform *p = platform(256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct usage u;

	(void)state;
	assert_non_null(e);
	ek_create_and_add(p, e, 20);
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 1);
	assert_true(u.encls[0].id > 0);
	assert_int_equal(u.encls[0].flags, SOFTSGX_ENCL_CREATED | SOFTSGX_ENCL_DEBUG);
	assert_int_equal(u.encls[0].base, e->base);
	assert_int_equal(u.encls[0].size, e->size);
	assert_int_equal(u.encls[0].added_pages, 21);
	assert_int_equal(u.encls[0].va_pages, 1);
	assert_int_equal(u.encls[0].epc_pages, 21 + 1 + 1);
	assert_int_equal(u.encls[0].evicted_pages, 0);
	assert_int_equal(u.encls[0].lost_pages, 0);
	assert_rows_add_up(p, &u);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 0);
	assert_int_equal(stats(p).in_use_pages, 0);
	free(e);
	lg_platform_free(p);
}

struct touch {
	volatile uint8_t *page;
	uint8_t v;
};

static void touch_page(void *arg)
{
	struct touch *t = arg;

	t->v = t->page[0];
}

/* Evictions move pages from epc_pages to evicted_pages; faults move them back. */
static void test_evicted_and_reloaded(void **state)
{
	struct softsgx_platform *p = platform(256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	const uint64_t nr_reg = 40;
	unsigned int evicted = 0;
	struct usage u;

	(void)state;
	assert_non_null(e);
	ek_build(p, e, nr_reg);
	get_usage(p, &u);
	assert_true(u.encls[0].flags & SOFTSGX_ENCL_INITIALIZED);
	assert_int_equal(u.encls[0].epc_pages, nr_reg + 3);

	/* Two reclaimer batches of 16 (the first one may only age pages). */
	for (int i = 0; i < 20 && evicted < 32; i++)
		evicted += softsgx_reclaim(p);
	assert_int_equal(evicted, 32);
	get_usage(p, &u);
	assert_int_equal(u.encls[0].evicted_pages, 32);
	assert_int_equal(u.encls[0].epc_pages, nr_reg + 3 - 32);
	assert_int_equal(u.encls[0].added_pages, nr_reg + 1);
	assert_int_equal(stats(p).evictions, 32);
	assert_rows_add_up(p, &u);

	/* Touch every page: all come back. */
	ek_fault_handler_install(p);
	for (uint64_t i = 0; i <= nr_reg; i++) {
		struct touch t = {(uint8_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE), 0};

		assert_true(ek_try(touch_page, &t));
	}
	ek_fault_handler_remove();
	get_usage(p, &u);
	assert_int_equal(u.encls[0].evicted_pages, 0);
	assert_int_equal(u.encls[0].epc_pages, nr_reg + 3);
	assert_int_equal(stats(p).reloads, 32);
	assert_rows_add_up(p, &u);

	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 0);
	free(e);
	lg_platform_free(p);
}

/* When the rows do not fit, the total says so; ids follow creation order. */
static void test_more_enclaves_than_rows(void **state)
{
	struct softsgx_platform *p = platform(256, false);
	struct softsgx_enclave_usage rows[2];
	struct softsgx_vepc_usage vrow;
	unsigned int nr_encls, nr_vepcs;
	int fds[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		fds[i] = softsgx_open(p, "/dev/sgx_enclave", O_RDWR);
		assert_true(fds[i] >= 0);
	}
	memset(rows, 0, sizeof(rows));
	softsgx_get_usage(p, rows, 2, &nr_encls, &vrow, 1, &nr_vepcs);
	assert_int_equal(nr_encls, 3);
	assert_int_equal(nr_vepcs, 0);
	assert_true(rows[0].id > 0 && rows[1].id > rows[0].id);
	/* Closing the first one: the others keep their ids, a new one gets a new id. */
	assert_int_equal(softsgx_close(p, fds[0]), 0);
	uint64_t second = rows[1].id;
	fds[0] = softsgx_open(p, "/dev/sgx_enclave", O_RDWR);
	softsgx_get_usage(p, rows, 2, &nr_encls, &vrow, 1, &nr_vepcs);
	assert_int_equal(nr_encls, 3);
	assert_int_equal(rows[0].id, second);
	for (int i = 0; i < 3; i++)
		assert_int_equal(softsgx_close(p, fds[i]), 0);
	lg_platform_free(p);
}

struct vtouch {
	volatile uint8_t *addr;
};

static void vepc_touch(void *arg)
{
	struct vtouch *t = arg;

	t->addr[0] = 1;
}

/* A vEPC instance: mapped bytes from its mappings, pages as the guest touches them. */
static void test_vepc(void **state)
{
	struct softsgx_platform *p = platform(128, false);
	void *addr = NULL;
	struct usage u;
	int fd;

	(void)state;
	fd = softsgx_open(p, "/dev/sgx_vepc", O_RDWR);
	assert_true(fd >= 0);
	get_usage(p, &u);
	assert_int_equal(u.nr_vepcs, 1);
	assert_int_equal(u.vepcs[0].epc_pages, 0);
	assert_int_equal(u.vepcs[0].mapped_bytes, 0);
	assert_int_equal(softsgx_mmap(p, &addr, 16 * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
				      MAP_SHARED, fd, 0),
			 0);
	ek_fault_handler_install(p);
	for (int i = 0; i < 5; i++) {
		struct vtouch t = {(uint8_t *)addr + i * 2 * SGX_PAGE_SIZE};

		assert_true(ek_try(vepc_touch, &t));
	}
	ek_fault_handler_remove();
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 0);
	assert_int_equal(u.nr_vepcs, 1);
	assert_int_equal(u.vepcs[0].epc_pages, 5);
	assert_int_equal(u.vepcs[0].mapped_bytes, 16 * SGX_PAGE_SIZE);
	assert_rows_add_up(p, &u);
	/* Unmapping half: the mapping shrinks, the pages stay with the instance. */
	assert_int_equal(softsgx_munmap(p, (uint8_t *)addr + 8 * SGX_PAGE_SIZE, 8 * SGX_PAGE_SIZE),
			 0);
	get_usage(p, &u);
	assert_int_equal(u.vepcs[0].mapped_bytes, 8 * SGX_PAGE_SIZE);
	assert_int_equal(u.vepcs[0].epc_pages, 5);
	assert_int_equal(softsgx_close(p, fd), 0);
	assert_int_equal(softsgx_munmap(p, addr, 8 * SGX_PAGE_SIZE), 0);
	get_usage(p, &u);
	assert_int_equal(u.nr_vepcs, 0);
	assert_int_equal(stats(p).in_use_pages, 0);
	lg_platform_free(p);
}

struct reporter {
	struct softsgx_platform *p;
	_Atomic bool stop;
	unsigned long reports;
	bool bad;
};

static void *report_loop(void *arg)
{
	struct reporter *r = arg;
	struct usage u;

	while (!atomic_load(&r->stop)) {
		get_usage(r->p, &u);
		/* One enclave of 1 TCS + 300 REG pages, never more pages than it has. */
		if (u.nr_encls == 1 && (u.encls[0].epc_pages + u.encls[0].evicted_pages >
						301 + 1 + u.encls[0].va_pages ||
					u.encls[0].lost_pages))
			r->bad = true;
		r->reports++;
	}
	return NULL;
}

/* Reports while ksgxd evicts and faults reload: no race, no torn row (TSan build too). */
static void test_reports_beside_reclaim(void **state)
{
	struct softsgx_platform *p = platform(128, true);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct reporter r = {.p = p};
	pthread_t t;
	struct usage u;

	(void)state;
	assert_non_null(e);
	ek_build(p, e, 300);
	assert_int_equal(pthread_create(&t, NULL, report_loop, &r), 0);
	ek_fault_handler_install(p);
	for (int round = 0; round < 2; round++)
		for (uint64_t i = 0; i <= 300; i++) {
			struct touch tp = {(uint8_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE), 0};

			assert_true(ek_try(touch_page, &tp));
		}
	ek_fault_handler_remove();
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(r.bad);
	assert_true(r.reports > 0);
	get_usage(p, &u);
	assert_int_equal(u.nr_encls, 1);
	assert_int_equal(u.encls[0].added_pages, 301);
	/* All 301 children, the SECS and the VA page are accounted for, resident or not. */
	assert_int_equal(u.encls[0].epc_pages + u.encls[0].evicted_pages, 301 + 1 + 1);
	assert_true(stats(p).evictions > 0);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	free(e);
	lg_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_no_enclaves),
		LG_TEST(test_added_pages),
		LG_TEST(test_evicted_and_reloaded),
		LG_TEST(test_more_enclaves_than_rows),
		LG_TEST(test_vepc),
		LG_TEST(test_reports_beside_reclaim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
