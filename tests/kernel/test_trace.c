// SPDX-License-Identifier: MIT
/*
 * Tracing a platform through the embedding API (softsgx_trace_start/stop/
 * save): an enclave built, evicted and faulted back in gives a valid
 * trace-event file with every ENCLS leaf, the faults and the reclaim batches;
 * a vEPC gives REMOVE_ALL; stopping stops recording; a guest is traced
 * through its host only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "tests/common/json_check.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/leak_guard.h"

struct saved {
	char dir[32];
	char path[64];
	char *json;
	size_t len;
	struct trace_summary sum;
};

static struct softsgx_platform *platform(uint64_t pages)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = pages * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true; /* the test drives reclaim */
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

/* softsgx_trace_save() into a fresh directory, read back and checked as a trace. */
static void save(struct softsgx_platform *p, struct saved *s)
{
	FILE *f;
	long n;

	snprintf(s->dir, sizeof(s->dir), "/tmp/softsgx-trace-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/trace.json", s->dir);
	assert_int_equal(softsgx_trace_save(p, s->path), 0);
	f = fopen(s->path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	s->json = malloc((size_t)n + 1);
	assert_non_null(s->json);
	assert_int_equal(fread(s->json, 1, (size_t)n, f), (size_t)n);
	s->json[n] = '\0';
	s->len = (size_t)n;
	fclose(f);
	assert_true(trace_json_check(s->json, s->len, &s->sum));
	assert_true(s->sum.display_ns);
}

static void saved_free(struct saved *s)
{
	unlink(s->path);
	rmdir(s->dir);
	free(s->json);
}

static uint64_t stats_evictions(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	softsgx_get_stats(p, &st);
	return st.evictions;
}

static void read_page(void *arg)
{
	volatile uint8_t *page = arg;

	(void)page[0];
}

#define NR_REG 8

static void test_enclave_timeline(void **state)
{
	struct softsgx_platform *p = platform(64);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_stats st;
	struct saved s;

	(void)state;
	assert_non_null(e);
	assert_int_equal(softsgx_trace_save(p, "/tmp/never-written.json"), -ENOENT);
	assert_int_equal(softsgx_trace_start(p, 0), 0);
	ek_build(p, e, NR_REG);
	ek_fault_handler_install(p);
	/* First touches map the pages; reclaim writes them out; touches load them back. */
	for (uint64_t i = 1; i <= NR_REG; i++)
		assert_true(ek_try(read_page, (void *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE)));
	for (int i = 0; i < 100 && stats_evictions(p) < NR_REG; i++)
		softsgx_reclaim(p);
	for (uint64_t i = 1; i <= NR_REG; i++)
		assert_true(ek_try(read_page, (void *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE)));
	softsgx_get_stats(p, &st);
	assert_true(st.evictions >= NR_REG);
	assert_true(st.reloads >= NR_REG);

	save(p, &s);
	assert_int_equal(trace_json_count(s.json, "ECREATE"), 1);
	assert_int_equal(trace_json_count(s.json, "EADD"), NR_REG + 1);
	assert_int_equal(trace_json_count(s.json, "EEXTEND"), 16 * (NR_REG + 1));
	assert_int_equal(trace_json_count(s.json, "EINIT"), 1);
	/* An EWB that finds the page NOT_TRACKED is retried after ETRACK. */
	assert_true(trace_json_count(s.json, "EWB") >= st.evictions);
	assert_int_equal(trace_json_count(s.json, "ELDU"), st.reloads);
	assert_true(trace_json_count(s.json, "EBLOCK") >= NR_REG); /* the SECS needs none */
	assert_true(trace_json_count(s.json, "ETRACK") >= 1);
	assert_true(trace_json_count(s.json, "reclaim") >= 1);
	assert_true(trace_json_count(s.json, "fault") >= 2 * NR_REG);
	assert_non_null(strstr(s.json, "\"cat\":\"fault\""));
	assert_non_null(strstr(s.json, "\"access\":\"read\",\"result\":\"retry\""));
	assert_non_null(strstr(s.json, "\"name\":\"EWB\",\"cat\":\"encls,reclaim\""));
	assert_null(strstr(s.json, "trace truncated"));
	/* Enclave pages by their linear address: the TCS at the base. */
	{
		char want[64];

		snprintf(want, sizeof(want), "\"linaddr\":\"0x%llx\"", (unsigned long long)e->base);
		assert_non_null(strstr(s.json, want));
	}
	saved_free(&s);

	/* Stopped: nothing more is recorded, what was recorded stays. */
	softsgx_trace_stop(p);
	softsgx_reclaim(p);
	for (uint64_t i = 1; i <= NR_REG; i++)
		assert_true(ek_try(read_page, (void *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE)));
	{
		struct saved s2;
		size_t events = 0;

		save(p, &s2);
		events = s2.sum.events;
		saved_free(&s2);
		save(p, &s2);
		assert_int_equal(s2.sum.events, events);
		assert_int_equal(trace_json_count(s2.json, "ELDU"), st.reloads);
		saved_free(&s2);
	}
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

static void test_truncated(void **state)
{
	struct softsgx_platform *p = platform(64);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct saved s;

	(void)state;
	assert_non_null(e);
	assert_int_equal(softsgx_trace_start(p, 10), 0);
	ek_build(p, e, NR_REG);
	save(p, &s);
	/* The 10 kept and the marker, besides the process and thread names. */
	assert_int_equal(s.sum.events - trace_json_count(s.json, "process_name") -
				 trace_json_count(s.json, "thread_name"),
			 11);
	assert_int_equal(trace_json_count(s.json, "trace truncated"), 1);
	saved_free(&s);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	lg_platform_free(p);
	free(e);
}

static void test_vepc_remove_all(void **state)
{
	struct softsgx_platform *p = platform(64);
	size_t size = 4 * SGX_PAGE_SIZE;
	void *base = NULL;
	struct saved s;
	int fd;

	(void)state;
	assert_int_equal(softsgx_trace_start(p, 0), 0);
	fd = softsgx_open(p, "/dev/sgx_vepc", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(softsgx_mmap(p, &base, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
			 0);
	for (size_t off = 0; off < size; off += SGX_PAGE_SIZE)
		assert_int_equal(softsgx_handle_fault(p, (uint8_t *)base + off, PROT_WRITE),
				 SOFTSGX_FAULT_RETRY);
	assert_int_equal(softsgx_ioctl(p, fd, SGX_IOC_VEPC_REMOVE_ALL, NULL), 0);
	save(p, &s);
	assert_int_equal(trace_json_count(s.json, "REMOVE_ALL"), 1);
	assert_non_null(strstr(s.json, "\"name\":\"REMOVE_ALL\",\"cat\":\"vepc\""));
	assert_non_null(strstr(s.json, "\"args\":{\"ret\":0}"));
	assert_int_equal(trace_json_count(s.json, "fault"), 4);
	saved_free(&s);

	/* A guest shares the host's CPU model: it is traced through the host. */
	{
		void *bases[1] = {base};
		size_t sizes[1] = {size};
		struct softsgx_platform *g = lg_guest_boot(p, 1, bases, sizes);

		assert_non_null(g);
		assert_int_equal(softsgx_trace_start(g, 0), -EINVAL);
		lg_platform_free(g);
		save(p, &s);
		/* The guest's boot sanitized its EPC: EREMOVE of each page, via the alias. */
		assert_true(trace_json_count(s.json, "EREMOVE") >= 4);
		assert_non_null(strstr(s.json, "\"epc_va\":"));
		saved_free(&s);
	}
	assert_int_equal(softsgx_munmap(p, base, size), 0);
	assert_int_equal(softsgx_close(p, fd), 0);
	lg_platform_free(p);
}

/*
 * ksgxd and the faulting thread record at once (run under ThreadSanitizer by
 * `make check`): an enclave of twice the EPC, every page touched twice.
 */
static void test_concurrent_reclaim(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 64);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_stats st;
	struct saved s;

	(void)state;
	assert_non_null(e);
	assert_int_equal(softsgx_trace_start(p, 0), 0);
	ek_build(p, e, 120);
	ek_fault_handler_install(p);
	for (int round = 0; round < 2; round++)
		for (uint64_t i = 1; i <= 120; i++)
			assert_true(ek_try(read_page,
					   (void *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE)));
	softsgx_trace_stop(p);
	softsgx_get_stats(p, &st);
	assert_true(st.evictions > 0 && st.reloads > 0);
	save(p, &s);
	assert_true(trace_json_count(s.json, "EWB") >= st.evictions);
	assert_true(trace_json_count(s.json, "ELDU") >= st.reloads);
	assert_true(trace_json_count(s.json, "reclaim") >= 1);
	saved_free(&s);
	ek_fault_handler_remove();
	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	lg_platform_free(p);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_enclave_timeline),
		LG_TEST(test_truncated),
		LG_TEST(test_vepc_remove_all),
		LG_TEST(test_concurrent_reclaim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
