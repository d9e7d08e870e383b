// SPDX-License-Identifier: MIT
/*
 * Shared memory of the model without descriptors (hw/shm.c): views are the
 * same pages, a page mapped from a view has the wanted protection, no
 * descriptor outlives creation, freed places stay reserved and are reused,
 * and a fork() child gets its own copy of the data pages wherever the
 * original was mapped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hw/shm.h"
#include "tests/common/leak_guard.h"

#define PAGE 4096ULL

static int open_descriptors(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* The protection /proc/self/maps shows for the mapping holding @addr, or -1. */
static int maps_prot(const void *addr, char *shared)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int prot = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3)
			continue;
		if ((uintptr_t)addr >= start && (uintptr_t)addr < end) {
			prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
			       (perms[2] == 'x' ? PROT_EXEC : 0);
			*shared = perms[3];
			break;
		}
	}
	fclose(f);
	return prot;
}

static void views_share_pages_and_no_descriptor_stays(void **state)
{
	int before = open_descriptors();
	struct sgx_shm m;

	(void)state;
	assert_int_equal(sgx_shm_create(&m, "softsgx-test", 16 * PAGE, true, NULL, NULL), 0);
	assert_int_equal(open_descriptors(), before);
	assert_ptr_equal(m.view[PROT_READ | PROT_WRITE], m.map);
	assert_null(m.view[0]);
	for (int prot = 1; prot < SGX_SHM_NR_VIEWS; prot++) {
		char shared = 0;

		assert_non_null(m.view[prot]);
		assert_int_equal(maps_prot(m.view[prot], &shared), prot);
		assert_int_equal(shared, 's');
	}
	m.map[5 * PAGE + 3] = 0x5a;
	assert_int_equal(m.view[PROT_READ][5 * PAGE + 3], 0x5a);
	m.view[PROT_READ | PROT_WRITE | PROT_EXEC][7 * PAGE] = 0xa5;
	assert_int_equal(m.map[7 * PAGE], 0xa5);
	sgx_shm_destroy(&m);
	assert_int_equal(sgx_shm_create(&m, "bad", PAGE + 1, false, NULL, NULL), -EINVAL);
	assert_int_equal(open_descriptors(), before);
}

/* A page-table entry: the page, with exactly the protection asked for. */
static void map_page_with_each_protection(void **state)
{
	struct sgx_shm m;
	uint8_t *dst;

	(void)state;
	assert_int_equal(sgx_shm_create(&m, "softsgx-test", 8 * PAGE, true, NULL, NULL), 0);
	dst = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(dst != MAP_FAILED);
	for (int prot = 0; prot < SGX_SHM_NR_VIEWS; prot++) {
		char shared = 0;

		m.map[prot * PAGE] = (uint8_t)(0x10 + prot);
		assert_int_equal(sgx_shm_map_page(&m, prot * PAGE, (uintptr_t)dst + prot * PAGE, prot),
				 0);
		assert_int_equal(maps_prot(dst + prot * PAGE, &shared), prot);
		assert_int_equal(shared, 's');
		if (prot & PROT_READ)
			assert_int_equal(dst[prot * PAGE], 0x10 + prot);
	}
	/* Writes through an entry reach the object. */
	dst[(PROT_READ | PROT_WRITE) * PAGE + 1] = 0x77;
	assert_int_equal(m.map[(PROT_READ | PROT_WRITE) * PAGE + 1], 0x77);
	assert_int_equal(sgx_shm_map_page(&m, 8 * PAGE, (uintptr_t)dst, PROT_READ), -EFAULT);
	munmap(dst, 8 * PAGE);
	sgx_shm_destroy(&m);
}

/* A destroyed object's place is reserved (no hole) and serves the next one. */
static void places_are_reserved_and_reused(void **state)
{
	struct sgx_shm a, b;
	uint8_t *where;
	char shared = 0;

	(void)state;
	assert_int_equal(sgx_shm_create(&a, "softsgx-test", 32 * PAGE, false, NULL, NULL), 0);
	where = a.map;
	sgx_shm_destroy(&a);
	assert_int_equal(maps_prot(where, &shared), 0);
	assert_int_equal(shared, 'p');
	assert_int_equal(sgx_shm_create(&b, "softsgx-test", 32 * PAGE, false, NULL, NULL), 0);
	assert_ptr_equal(b.map, where);
	sgx_shm_destroy(&b);
}

static void every_other_page(void *ctx, sgx_shm_range_fn fn, void *arg)
{
	(void)ctx;
	for (uint64_t p = 0; p < 16; p += 2)
		fn(arg, p, 1);
}

/*
 * fork(): the child's copy holds the data pages (every other one here), its
 * views and page-table entries map the copy, and nothing it writes reaches
 * the parent.
 */
static void child_gets_its_own_copy(void **state)
{
	struct sgx_shm m;
	uint8_t *pte;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(sgx_shm_create(&m, "softsgx-test", 16 * PAGE, true, every_other_page, NULL),
			 0);
	pte = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pte != MAP_FAILED);
	assert_int_equal(sgx_shm_map_page(&m, 4 * PAGE, (uintptr_t)pte, PROT_READ | PROT_WRITE), 0);
	for (uint64_t p = 0; p < 16; p++)
		m.map[p * PAGE] = (uint8_t)(p + 1);

	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int fds = open_descriptors();

		if (sgx_shm_unshare_all())
			_exit(1);
		if (open_descriptors() != fds)
			_exit(2);
		for (uint64_t p = 0; p < 16; p++)
			if (m.map[p * PAGE] != (p % 2 ? 0 : p + 1))
				_exit(3);
		pte[0] = 0xEE; /* the child's page 4 */
		if (m.view[PROT_READ][4 * PAGE] != 0xEE)
			_exit(4);
		m.map[0] = 0xCC;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (uint64_t p = 0; p < 16; p++)
		assert_int_equal(m.map[p * PAGE], p + 1);
	assert_int_equal(pte[0], 5);
	munmap(pte, PAGE);
	sgx_shm_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(views_share_pages_and_no_descriptor_stays),
		LG_TEST(map_page_with_each_protection),
		LG_TEST(places_are_reserved_and_reused),
		LG_TEST(child_gets_its_own_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
