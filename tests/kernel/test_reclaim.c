// SPDX-License-Identifier: MIT
/*
 * The reclaimer through the embedding API and the fault path: an enclave
 * three times the size of the EPC, SECS eviction and reload, and evicted
 * pages that were tampered with, replayed or swapped in backing storage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/encl.h"
#include "tests/common/encl_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

/* A value no other page or run has at offset MARK_OFF. */
#define MARK_OFF       2048
#define MARK(i, round) (0x9E3779B97F4A7C15ULL * ((i) + 1) ^ ((uint64_t)(round) << 56))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct softsgx_stats stats(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	softsgx_get_stats(p, &st);
	return st;
}

static struct softsgx_platform *platform(unsigned int nr_sections, uint64_t pages, bool ksgxd)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = nr_sections;
	for (unsigned int i = 0; i < nr_sections; i++)
		cfg.section_size[i] = pages * SGX_PAGE_SIZE;
	cfg.no_ksgxd = !ksgxd;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

/* The enclave behind @fd; the file's reference is dropped, @fd keeps it alive. */
static struct sgx_encl *encl_of(struct softsgx_platform *p, int fd)
{
	struct sgx_file *f = softsgx_fget(p, fd);
	struct sgx_encl *encl;

	assert_non_null(f);
	encl = sgx_file_encl(f);
	assert_non_null(encl);
	sgx_file_put(f);
	return encl;
}

static bool secs_resident(struct sgx_encl *encl)
{
	bool ret;

	pthread_mutex_lock(&encl->lock);
	ret = encl->secs.epc_page != NULL;
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

static bool page_resident(struct sgx_encl *encl, uint64_t i)
{
	struct sgx_encl_page *entry;
	bool ret;

	pthread_mutex_lock(&encl->lock);
	entry = page_array_load(&encl->page_array, encl->base / SGX_PAGE_SIZE + i);
	assert_non_null(entry);
	ret = entry->epc_page != NULL;
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

/*
 * The enclave most tests here use: a TCS and 20 REG pages built into @e,
 * its faults served by the platform's handler (ek_fault_handler_remove()
 * at the end). Returns the enclave behind @e's descriptor.
 */
static struct sgx_encl *build_20(struct softsgx_platform *p, struct ek_enclave *e)
{
	ek_build(p, e, 20);
	ek_fault_handler_install(p);
	return encl_of(p, e->fd);
}

/* Reclaim until every child and then the SECS are out (no ksgxd in these tests). */
static void evict_all(struct softsgx_platform *p, struct sgx_encl *encl)
{
	for (int i = 0; i < 10000 && secs_resident(encl); i++)
		softsgx_reclaim(p);
	assert_false(secs_resident(encl));
}

/* Close and unmap, then every EPC page is free (after ksgxd lets go, if it holds one). */
static void close_and_check(struct softsgx_platform *p, struct ek_enclave *e)
{
	double deadline = now() + 10;

	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	while (stats(p).free_pages != stats(p).total_pages && now() < deadline)
		usleep(1000);
	assert_int_equal(stats(p).free_pages, stats(p).total_pages);
	assert_int_equal(stats(p).in_use_pages, 0);
	ek_assert_invariant(p);
}

struct touch {
	uint8_t *page;
	uint64_t i;
	uint64_t mark;
	bool write;
	bool ok; /* contents as expected */
};

/* Read what EADD put there and the mark, optionally write a new mark first. */
static void touch_page(void *arg)
{
	struct touch *t = arg;
	volatile uint8_t *page = t->page;
	uint64_t v;

	if (t->write)
		memcpy((void *)(page + MARK_OFF), &t->mark, sizeof(t->mark));
	memcpy(&v, (void *)page, sizeof(v));
	t->ok = v == t->i && page[100] == ek_pattern(t->i) && page[4095] == ek_pattern(t->i);
	memcpy(&v, (void *)(page + MARK_OFF), sizeof(v));
	t->ok = t->ok && v == t->mark;
}

/* Touch page @i of @e; false when the fault path answered SIGBUS. */
static bool touch(struct ek_enclave *e, uint64_t i, uint64_t mark, bool write)
{
	struct touch t = {
		.page = (uint8_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE),
		.i = i,
		.mark = mark,
		.write = write,
	};

	if (!ek_try(touch_page, &t))
		return false;
	assert_true(t.ok);
	return true;
}

/* What EADD left at MARK_OFF: the page pattern. */
static uint64_t eadd_mark(uint64_t i)
{
	uint64_t v;

	memset(&v, ek_pattern(i), sizeof(v));
	return v;
}

/*
 * An enclave of three times the EPC: ADD_PAGES reclaims to make room, then
 * every page is written and read back through the fault path while ksgxd
 * keeps the EPC above its watermark.
 */
static void test_oversubscription(void **state)
{
	struct softsgx_platform *p = platform(2, 128, true);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	const uint64_t nr = 3 * 256 - 1; /* REG pages; with the TCS, 3x the EPC */
	struct softsgx_stats st;

	(void)state;
	assert_non_null(e);
	ek_build(p, e, nr);
	st = stats(p);
	assert_true(st.evictions > 0);
	ek_fault_handler_install(p);
	for (uint64_t i = 1; i <= nr; i++)
		assert_true(touch(e, i, MARK(i, 1), true));
	for (uint64_t i = 1; i <= nr; i++)
		assert_true(touch(e, i, MARK(i, 1), false));
	/* And once more in reverse, overwriting. */
	for (uint64_t i = nr; i >= 1; i--)
		assert_true(touch(e, i, MARK(i, 2), true));
	for (uint64_t i = 1; i <= nr; i++)
		assert_true(touch(e, i, MARK(i, 2), false));
	st = stats(p);
	print_message("%llu evictions, %llu reloads, %llu faults, %llu batches\n",
		      (unsigned long long)st.evictions, (unsigned long long)st.reloads,
		      (unsigned long long)st.faults, (unsigned long long)st.reclaim_batches);
	assert_true(st.evictions >= 2 * nr);
	assert_true(st.reloads >= nr);
	assert_int_equal(st.sigbus, 0);
	assert_int_equal(st.lost_pages, 0);
	assert_int_equal(st.eremove_failures, 0);
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

/*
 * The program the model lives in closes every descriptor from 3 up and puts
 * a file (0xCC bytes) on each number: paging goes on, and every page holds
 * its own contents, never the file's. The model holds no descriptor.
 */
static void test_descriptors_closed_under_the_model(void **state)
{
	struct softsgx_platform *p = platform(1, 128, true);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	const uint64_t nr = 2 * 128;
	uint8_t junk[SGX_PAGE_SIZE];
	FILE *tmp = tmpfile();
	int file;

	(void)state;
	assert_non_null(e);
	assert_non_null(tmp);
	file = dup(fileno(tmp));
	fclose(tmp);
	assert_true(file >= 0);
	memset(junk, 0xCC, sizeof(junk));
	for (int i = 0; i < 512; i++)
		assert_int_equal(write(file, junk, sizeof(junk)), sizeof(junk));
	for (int fd = 3; fd < 128; fd++)
		if (fd != file)
			assert_int_equal(dup2(file, fd), fd);
	ek_build(p, e, nr);
	ek_fault_handler_install(p);
	for (int round = 1; round <= 2; round++) {
		for (uint64_t i = 1; i <= nr; i++)
			assert_true(touch(e, i, MARK(i, round), true));
		for (uint64_t i = 1; i <= nr; i++)
			assert_true(touch(e, i, MARK(i, round), false));
	}
	assert_true(stats(p).evictions >= nr);
	assert_int_equal(stats(p).sigbus, 0);
	for (int fd = 3; fd < 128; fd++)
		close(fd);
	close(file);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

/* The SECS follows the last child out and comes back before the first one in. */
static void test_secs_evict_reload(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_encl *encl;
	struct softsgx_stats st;

	(void)state;
	assert_non_null(e);
	encl = build_20(p, e);
	evict_all(p, encl);
	st = stats(p);
	assert_int_equal(st.evictions, 22);   /* TCS, 20 REG, SECS */
	assert_int_equal(st.in_use_pages, 1); /* the VA page */
	for (uint64_t i = 0; i <= 20; i++)
		assert_false(page_resident(encl, i));

	assert_true(touch(e, 3, eadd_mark(3), false));
	st = stats(p);
	assert_int_equal(st.reloads, 2);
	assert_int_equal(st.in_use_pages, 3);
	assert_true(secs_resident(encl));
	assert_true(page_resident(encl, 3));
	assert_false(page_resident(encl, 4));

	for (uint64_t i = 1; i <= 20; i++)
		assert_true(touch(e, i, MARK(i, 1), true));
	assert_int_equal(stats(p).reloads, 2 + 19);
	/* Young pages get a second chance, then go; the SECS last. */
	evict_all(p, encl);
	assert_int_equal(stats(p).in_use_pages, 1);
	for (uint64_t i = 1; i <= 20; i++)
		assert_true(touch(e, i, MARK(i, 1), false));
	assert_int_equal(stats(p).reloads, 2 + 19 + 1 + 20);
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

/* Backing storage is a mapping the model holds (no descriptor): read and write it there. */
static void backing_read(struct sgx_encl *encl, uint64_t i, void *contents, void *pcmd)
{
	memcpy(contents, encl->backing.map + i * SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	memcpy(pcmd, encl->backing.map + sgx_encl_pcmd_offset(encl, i), sizeof(struct sgx_pcmd));
}

static void backing_write(struct sgx_encl *encl, uint64_t i, const void *contents, const void *pcmd)
{
	memcpy(encl->backing.map + i * SGX_PAGE_SIZE, contents, SGX_PAGE_SIZE);
	memcpy(encl->backing.map + sgx_encl_pcmd_offset(encl, i), pcmd, sizeof(struct sgx_pcmd));
}

static void flip_byte(struct sgx_encl *encl, off_t off)
{
	encl->backing.map[off] ^= 0x01;
}

/* Every page but those in @bad reads back with its mark. */
static void assert_others_intact(struct ek_enclave *e, uint64_t nr, const uint64_t *bad,
				 unsigned int nr_bad)
{
	for (uint64_t i = 1; i <= nr; i++) {
		bool skip = false;

		for (unsigned int b = 0; b < nr_bad; b++)
			skip |= bad[b] == i;
		if (!skip)
			assert_true(touch(e, i, MARK(i, 1), false));
	}
}

/*
 * Evicted pages altered in backing storage: a flipped ciphertext byte, a
 * flipped MAC byte in the PCMD, and a page swapped in from another address.
 * ELDU refuses each, the fault path answers SIGBUS, the rest of the enclave
 * is intact, and closing frees everything.
 */
static void test_tamper(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_pcmd pcmd;
	const uint64_t bad[] = {7, 9, 11};
	struct sgx_encl *encl;
	uint8_t *buf = malloc(SGX_PAGE_SIZE);

	(void)state;
	assert_non_null(e);
	assert_non_null(buf);
	encl = build_20(p, e);
	for (uint64_t i = 1; i <= 20; i++)
		assert_true(touch(e, i, MARK(i, 1), true));
	evict_all(p, encl);

	flip_byte(encl, 7 * SGX_PAGE_SIZE + 100);
	flip_byte(encl, (off_t)sgx_encl_pcmd_offset(encl, 9) + offsetof(struct sgx_pcmd, mac));
	/* Page 10's sealed copy, presented as page 11. */
	backing_read(encl, 10, buf, &pcmd);
	backing_write(encl, 11, buf, &pcmd);

	for (unsigned int b = 0; b < 3; b++) {
		uint64_t sigbus = stats(p).sigbus;

		assert_false(touch(e, bad[b], MARK(bad[b], 1), false));
		assert_int_equal(stats(p).sigbus, sigbus + 1);
		assert_false(page_resident(encl, bad[b]));
		/* Lost for good: every later touch fails the same way. */
		assert_false(touch(e, bad[b], MARK(bad[b], 1), true));
		ek_assert_invariant(p);
	}
	assert_others_intact(e, 20, bad, 3);
	/* Page 10 itself was not harmed by the copy. */
	assert_true(page_resident(encl, 10));
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(buf);
	free(e);
}

/*
 * A tampered SECS: no child can come back without it, so every evicted page
 * answers SIGBUS; the enclave still closes cleanly.
 */
static void test_tamper_secs(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_encl *encl;

	(void)state;
	assert_non_null(e);
	encl = build_20(p, e);
	evict_all(p, encl);
	/* The SECS is kept as page size / 4096 of the backing. */
	flip_byte(encl, (off_t)(e->size + 100));
	for (uint64_t i = 1; i <= 20; i++)
		assert_false(touch(e, i, eadd_mark(i), false));
	assert_int_equal(stats(p).sigbus, 20);
	assert_int_equal(stats(p).reloads, 0);
	assert_int_equal(stats(p).in_use_pages, 1); /* the VA page */
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

/*
 * Replay: an old sealed copy of a page, put back after the page was loaded,
 * changed and evicted again, carries a version the VA slot no longer holds.
 */
static void test_replay(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_pcmd old_pcmd, new_pcmd;
	struct sgx_encl *encl;
	uint8_t *old = malloc(SGX_PAGE_SIZE), *cur = malloc(SGX_PAGE_SIZE);
	const uint64_t bad[] = {5};

	(void)state;
	assert_non_null(e);
	assert_non_null(old);
	assert_non_null(cur);
	encl = build_20(p, e);
	for (uint64_t i = 1; i <= 20; i++)
		assert_true(touch(e, i, MARK(i, 1), true));
	evict_all(p, encl);
	backing_read(encl, 5, old, &old_pcmd);

	/* Load, change and evict page 5 again: a new version seals it. */
	assert_true(touch(e, 5, MARK(5, 2), true));
	evict_all(p, encl);
	backing_read(encl, 5, cur, &new_pcmd);
	assert_memory_not_equal(old, cur, SGX_PAGE_SIZE);

	backing_write(encl, 5, old, &old_pcmd);
	assert_false(touch(e, 5, MARK(5, 1), false));
	assert_false(page_resident(encl, 5));
	assert_int_equal(stats(p).sigbus, 1);
	assert_others_intact(e, 20, bad, 1);

	/*
	 * The current copy is still accepted: the failed ELDU left the VA
	 * slot as it was.
	 */
	backing_write(encl, 5, cur, &new_pcmd);
	assert_true(touch(e, 5, MARK(5, 2), false));
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(old);
	free(cur);
	free(e);
}

/* EPC address of page @i of @encl, which must be resident. */
static void *epc_of(struct sgx_encl *encl, uint64_t i)
{
	struct sgx_encl_page *entry;
	void *epc;

	pthread_mutex_lock(&encl->lock);
	entry = page_array_load(&encl->page_array, encl->base / SGX_PAGE_SIZE + i);
	assert_non_null(entry);
	assert_non_null(entry->epc_page);
	epc = sgx_get_epc_virt_addr(encl->k, entry->epc_page);
	pthread_mutex_unlock(&encl->lock);
	return epc;
}

/* A logical processor inside the enclave through @tcs, which the kick makes leave. */
struct inside {
	void *tcs;
	int kicks;
	bool in;
};

static void kick_out(struct sgx_kernel *k, void *data)
{
	struct inside *t = data;

	t->kicks++;
	if (t->in)
		hw_enclave_leave(k->hw, t->tcs);
	t->in = false;
}

/*
 * Issue 14: a thread inside, counted by an ETRACK that has not completed
 * (as after an SGX2 ioctl or an earlier batch), when the reclaimer needs a
 * new tracking cycle. Its ETRACK answers PREV_TRK_INCMPL; Linux's
 * sgx_encl_ewb() went on regardless, so no cycle began after the EBLOCKs
 * and the EWBs after the kick were NOT_TRACKED: every page of the batch
 * lost. The model checks ETRACK, kicks the thread out and tracks again.
 */
static void test_ewb_after_incomplete_tracking(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_kernel *k = softsgx_kernel(p);
	struct inside t = { 0 };
	struct sgx_encl *encl;
	struct softsgx_stats st;

	(void)state;
	assert_non_null(e);
	ek_build(p, e, 20);
	encl = encl_of(p, e->fd);
	t.tcs = epc_of(encl, 0);
	assert_int_equal(hw_enclave_enter(k->hw, t.tcs), SGX_SUCCESS);
	t.in = true;
	pthread_mutex_lock(&encl->lock);
	assert_int_equal(encls_etrack(k->hw, sgx_get_epc_virt_addr(k, encl->secs.epc_page)),
			 SGX_SUCCESS);
	pthread_mutex_unlock(&encl->lock);
	k->kick = kick_out;
	k->kick_data = &t;

	ek_fault_handler_install(p);
	evict_all(p, encl);
	st = stats(p);
	assert_false(t.in);
	assert_true(t.kicks >= 1);
	assert_int_equal(st.evictions, 22); /* TCS, 20 REG, SECS */
	assert_int_equal(st.lost_pages, 0);
	assert_int_equal(st.eremove_failures, 0);
	for (uint64_t i = 1; i <= 20; i++)
		assert_true(touch(e, i, eadd_mark(i), false));
	k->kick = NULL;
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

/*
 * The end of a build_20() test: every page reads back what EADD put there
 * (each a fault and a reload if it is out), none lost, no SIGBUS; then
 * everything is closed and freed.
 */
static void all_20_intact_then_close(struct softsgx_platform *p, struct ek_enclave *e)
{
	for (uint64_t i = 1; i <= 20; i++)
		assert_true(touch(e, i, eadd_mark(i), false));
	assert_int_equal(stats(p).lost_pages, 0);
	assert_int_equal(stats(p).sigbus, 0);
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

/*
 * Issue 14: EBLOCK refused a page (here: another leaf holds it alone).
 * Written out regardless, EWB answered PAGE_NOT_BLOCKED and the page was
 * removed, lost. Not blocked, it is still valid and resident: it goes back
 * on the LRU and leaves with a later batch, contents intact.
 */
static void test_eblock_refused_page_kept(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_encl *encl;
	struct epc_ref ref;

	(void)state;
	assert_non_null(e);
	encl = build_20(p, e);
	assert_true(epc_resolve(k->hw, epc_of(encl, 7), false, &ref));
	assert_true(epcm_trylock_excl(ref.e));
	for (int i = 0; i < 20; i++)
		softsgx_reclaim(p);
	assert_true(page_resident(encl, 7));
	assert_false(page_resident(encl, 6));
	assert_int_equal(stats(p).lost_pages, 0);
	epcm_unlock_excl(ref.e);

	evict_all(p, encl);
	assert_false(page_resident(encl, 7));
	all_20_intact_then_close(p, e);
}

/*
 * A page another leaf holds for good: a service client killed inside a
 * leaf leaves its shared hold on the EPCM entry until the enclave's
 * release clears the locks. Every batch that meets the page waits the
 * hold out in EBLOCK with the enclave's lock held, and keeps the page.
 * Taking that lock again at once for the next batch, the reclaimer kept
 * the service's main thread, which releases the dead client's enclave and
 * answers every other client, out for tens of seconds (svc:test_exit's
 * HELLO timeouts). After such a batch it now backs off holding nothing,
 * and a thread that wants the enclave's lock gets it between batches.
 */
static void test_stale_hold_reclaimer_backs_off(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_kernel *k = softsgx_kernel(p);
	struct ek_reclaimer r;
	double worst = 0;
	struct sgx_encl *encl;
	struct epc_ref ref;

	(void)state;
	assert_non_null(e);
	encl = build_20(p, e);
	/* Only page 7 (and its SECS) resident: every batch is that page. */
	evict_all(p, encl);
	assert_true(touch(e, 7, eadd_mark(7), false));
	assert_true(epc_resolve(k->hw, epc_of(encl, 7), false, &ref));
	assert_true(epcm_trylock_shared(ref.e));
	ek_reclaimer_start(&r, p);
	for (int i = 0; i < 10; i++) {
		double t0 = now();

		pthread_mutex_lock(&encl->lock);
		if (now() - t0 > worst)
			worst = now() - t0;
		pthread_mutex_unlock(&encl->lock);
		usleep(20000);
	}
	ek_reclaimer_stop(&r);
	print_message("enclave lock: longest wait %.1f ms behind a reclaimer meeting a stale "
		      "hold; %llu batches backed off\n",
		      worst * 1e3, (unsigned long long)atomic_load(&k->stats.reclaim_conflict_backoffs));
	/* Kept every time, never lost; a batch costs one EBLOCK's wait. */
	assert_true(atomic_load(&k->stats.reclaim_conflict_backoffs) > 0);
	assert_true(page_resident(encl, 7));
	assert_int_equal(stats(p).lost_pages, 0);
	assert_true(worst < 1.0);
	/* The hold gone, the page leaves and comes back intact. */
	epcm_unlock_shared(ref.e);
	evict_all(p, encl);
	all_20_intact_then_close(p, e);
}

/*
 * A page whose EPCM entry went invalid under the kernel (a guest's EPC
 * taken by the host's REMOVE_ALL; here an EREMOVE behind its back): EBLOCK
 * answers PG_INVLD forever. Kept on the LRU it was picked again by every
 * reclaim, and an allocation looping on direct reclaim never returned (a
 * fuzz_vepc timeout). It is lost instead: freed, SIGBUS at its next touch.
 */
static void test_invalid_page_lost_not_kept(void **state)
{
	struct softsgx_platform *p = platform(1, 256, false);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_encl *encl;

	(void)state;
	assert_non_null(e);
	encl = build_20(p, e);
	assert_int_equal(encls_eremove(k->hw, epc_of(encl, 7)), SGX_SUCCESS);
	evict_all(p, encl);
	assert_false(page_resident(encl, 7));
	assert_int_equal(stats(p).lost_pages, 1);
	assert_false(touch(e, 7, eadd_mark(7), false));
	for (uint64_t i = 1; i <= 20; i++)
		if (i != 7)
			assert_true(touch(e, i, eadd_mark(i), false));
	ek_assert_invariant(p);
	close_and_check(p, e);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_oversubscription), LG_TEST(test_secs_evict_reload),
		LG_TEST(test_tamper),		 LG_TEST(test_tamper_secs),
		LG_TEST(test_replay),
		LG_TEST(test_descriptors_closed_under_the_model),
		LG_TEST(test_ewb_after_incomplete_tracking),
		LG_TEST(test_eblock_refused_page_kept),
		LG_TEST(test_stale_hold_reclaimer_backs_off),
		LG_TEST(test_invalid_page_lost_not_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
