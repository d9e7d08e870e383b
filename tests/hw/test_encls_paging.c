// SPDX-License-Identifier: MIT
/*
 * The paging leaves EPA, EBLOCK, ETRACK, EWB, ELDU and ELDB: success, every
 * return code and fault, and that a failing EWB/ELDU/ELDB changes nothing at
 * all (the whole EPC, the whole EPCM, the VA slots and the backing buffers
 * are compared before and after). Round trips of every page type, tampered
 * and replayed pages, and the tracking protocol with a thread inside.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/common/einit_fixture.h"
#include "tests/common/hw_fixture.h"
#include "hw/hw_internal.h"
#include "hw/page_crypto.h"
#include "tests/common/leak_guard.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

/* Two sections of 32 pages; the enclave lives in section 0. */
#define SECTION_PAGES 32
#define SECS_PAGE 0
#define TCS_PAGE 1
#define CODE_PAGE 2
#define DATA_PAGE 3
#define VA_PAGE 4
#define SPARE_PAGE 5  /* 5..15: free pages of section 0 */
#define OTHER_SECS 16 /* a second enclave, when a test makes one */
#define FAR_PAGE (SECTION_PAGES + 1) /* in section 1 */
#define UNTOUCHED_PAGE (SECTION_PAGES + 30)

#define TCS_ADDR FX_BASE
#define CODE_ADDR (FX_BASE + SGX_PAGE_SIZE)
#define DATA_ADDR (FX_BASE + 2 * SGX_PAGE_SIZE)

#define NR_BACKING 3

/* Where an evicted page goes: contents, PCMD, and the LINADDR EWB reported. */
struct backing {
	uint8_t *contents;
	struct sgx_pcmd *pcmd;
	uint64_t linaddr;
};

struct pg_test {
	struct sgx_hw *hw;
	uint64_t nr_pages;
	void *secs, *tcs, *code, *data, *va;
	struct backing bk[NR_BACKING];
};

/* Everything a failed leaf must leave alone. */
struct world {
	uint8_t *epc;
	struct epcm_entry *epcm;
	uint8_t *backing;
};

static void *pg(struct pg_test *t, uint64_t n)
{
	return fx_epc_page(t->hw, n);
}

static uint64_t *slot_of(void *va, unsigned int i)
{
	return (uint64_t *)va + i;
}

/* The EPCM entry of @page, NULL while no leaf has touched its chunk. */
static struct epcm_entry *epcm(struct pg_test *t, void *page)
{
	struct epc_ref ref;

	assert_true(epc_resolve(t->hw, page, false, &ref));
	return ref.e;
}

static uint64_t pfn_of(struct pg_test *t, void *page)
{
	struct epc_ref ref;

	assert_true(epc_resolve(t->hw, page, false, &ref));
	return ref.pfn;
}

/* The entry of @page, created if needed, for tests that hold its lock. */
static struct epcm_entry *lockable(struct pg_test *t, void *page)
{
	struct epc_ref ref;

	assert_true(epc_resolve(t->hw, page, true, &ref));
	return ref.e;
}

static struct world *world_take(struct pg_test *t)
{
	struct world *w = calloc(1, sizeof(*w));
	size_t bk_size = SGX_PAGE_SIZE + sizeof(struct sgx_pcmd);

	assert_non_null(w);
	w->epc = malloc(t->nr_pages * SGX_PAGE_SIZE);
	w->epcm = calloc(t->nr_pages, sizeof(*w->epcm));
	w->backing = malloc(NR_BACKING * bk_size);
	assert_non_null(w->epc);
	assert_non_null(w->epcm);
	assert_non_null(w->backing);
	for (uint64_t n = 0; n < t->nr_pages; n++) {
		struct epcm_entry *e = epcm(t, pg(t, n));

		memcpy(w->epc + n * SGX_PAGE_SIZE, pg(t, n), SGX_PAGE_SIZE);
		/* An entry not allocated yet is an invalid one. */
		if (e)
			memcpy(&w->epcm[n], e, sizeof(*e));
		else
			w->epcm[n].secs_pfn = NO_PFN;
		/* Tests may hold locks while the leaf runs; compare the rest. */
		atomic_store(&w->epcm[n].lock, 0);
	}
	for (unsigned int i = 0; i < NR_BACKING; i++) {
		memcpy(w->backing + i * bk_size, t->bk[i].contents, SGX_PAGE_SIZE);
		memcpy(w->backing + i * bk_size + SGX_PAGE_SIZE, t->bk[i].pcmd,
		       sizeof(struct sgx_pcmd));
	}
	return w;
}

static void world_free(struct world *w)
{
	free(w->epc);
	free(w->epcm);
	free(w->backing);
	free(w);
}

static void world_check(struct pg_test *t, struct world *w)
{
	size_t bk_size = SGX_PAGE_SIZE + sizeof(struct sgx_pcmd);
	struct world *now = world_take(t);

	for (uint64_t n = 0; n < t->nr_pages; n++) {
		if (memcmp(w->epc + n * SGX_PAGE_SIZE, now->epc + n * SGX_PAGE_SIZE,
			   SGX_PAGE_SIZE))
			fail_msg("EPC page %llu changed", (unsigned long long)n);
		if (memcmp(&w->epcm[n], &now->epcm[n], sizeof(w->epcm[n])))
			fail_msg("EPCM entry %llu changed", (unsigned long long)n);
	}
	if (memcmp(w->backing, now->backing, NR_BACKING * bk_size))
		fail_msg("backing storage changed");
	world_free(now);
	world_free(w);
}

/* @call must return @expected and leave the EPC, EPCM and backing untouched. */
#define EXPECT_NOCHANGE(t, expected, call)                                    \
	do {                                                                  \
		struct world *w_ = world_take(t);                             \
		assert_int_equal((call), (expected));                         \
		world_check((t), w_);                                         \
	} while (0)

/*
 * A leaf of another logical processor holding an EPCM entry shared for a
 * moment, as EENTER holds a TCS: taken here, let go by a thread 20 ms later.
 */
struct brief_hold {
	struct epcm_entry *e;
	pthread_t th;
	atomic_bool released;
};

static void *release_later(void *arg)
{
	struct brief_hold *h = arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	atomic_store(&h->released, true);
	epcm_unlock_shared(h->e);
	return NULL;
}

static void hold_shared_briefly(struct brief_hold *h, struct epcm_entry *e)
{
	h->e = e;
	atomic_store(&h->released, false);
	assert_true(epcm_trylock_shared(e));
	assert_int_equal(pthread_create(&h->th, NULL, release_later, h), 0);
}

/* The leaf that just returned waited for the holder rather than failing. */
static void assert_waited(struct brief_hold *h)
{
	assert_true(atomic_load(&h->released));
	assert_int_equal(pthread_join(h->th, NULL), 0);
}

static int do_ewb(struct pg_test *t, void *epc, uint64_t *slot, struct backing *b)
{
	struct sgx_pageinfo pi = {
		.contents = (uintptr_t)b->contents,
		.metadata = (uintptr_t)b->pcmd,
	};
	int ret = encls_ewb(t->hw, &pi, epc, slot);

	if (ret == SGX_SUCCESS)
		b->linaddr = pi.addr;
	else
		assert_int_equal(pi.addr, 0);
	return ret;
}

static int do_eld(struct pg_test *t, bool block, struct backing *b, void *epc, void *secs,
		  uint64_t *slot)
{
	struct sgx_pageinfo pi = {
		.addr = b->linaddr,
		.contents = (uintptr_t)b->contents,
		.metadata = (uintptr_t)b->pcmd,
		.secs = (uintptr_t)secs,
	};

	return block ? encls_eldb(t->hw, &pi, epc, slot) : encls_eldu(t->hw, &pi, epc, slot);
}

static int do_eldu(struct pg_test *t, struct backing *b, void *epc, void *secs, uint64_t *slot)
{
	return do_eld(t, false, b, epc, secs, slot);
}

/* The whole protocol for an enclave page: EBLOCK, ETRACK, EWB. */
static void evict_child(struct pg_test *t, void *page, uint64_t *slot, struct backing *b)
{
	assert_int_equal(encls_eblock(t->hw, page), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(do_ewb(t, page, slot, b), SGX_SUCCESS);
}

static int setup(void **state)
{
	struct pg_test *t = calloc(1, sizeof(*t));
	struct sgx_tcs *tcs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*tcs));
	uint8_t *code = fx_page_buf(0), *data = fx_page_buf(0);

	assert_non_null(t);
	assert_non_null(tcs);
	t->hw = fx_hw_new(2, SECTION_PAGES);
	t->nr_pages = hw_epc_total_pages(t->hw);
	t->secs = pg(t, SECS_PAGE);
	t->tcs = pg(t, TCS_PAGE);
	t->code = pg(t, CODE_PAGE);
	t->data = pg(t, DATA_PAGE);
	t->va = pg(t, VA_PAGE);

	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++) {
		code[i] = (uint8_t)(i * 7 + 1);
		data[i] = (uint8_t)(i ^ (i >> 8));
	}
	fx_tcs_init(tcs);
	fx_ecreate_default(t->hw, t->secs);
	assert_int_equal(fx_eadd(t->hw, t->secs, t->tcs, TCS_ADDR, tcs, SGX_SECINFO_TCS),
			 SGX_SUCCESS);
	assert_int_equal(fx_eadd(t->hw, t->secs, t->code, CODE_ADDR, code,
				 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X),
			 SGX_SUCCESS);
	assert_int_equal(fx_eadd(t->hw, t->secs, t->data, DATA_ADDR, data,
				 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W),
			 SGX_SUCCESS);
	assert_int_equal(encls_epa(t->hw, t->va), SGX_SUCCESS);

	for (unsigned int i = 0; i < NR_BACKING; i++) {
		t->bk[i].contents = fx_page_buf(0);
		t->bk[i].pcmd = aligned_alloc(sizeof(struct sgx_pcmd), sizeof(struct sgx_pcmd));
		assert_non_null(t->bk[i].pcmd);
		memset(t->bk[i].pcmd, 0, sizeof(struct sgx_pcmd));
	}
	free(tcs);
	free(code);
	free(data);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct pg_test *t = *state;

	for (unsigned int i = 0; i < NR_BACKING; i++) {
		free(t->bk[i].contents);
		free(t->bk[i].pcmd);
	}
	lg_hw_free(t->hw);
	free(t);
	return 0;
}

/* ---- EPA ---- */

static void test_epa(void **state)
{
	struct pg_test *t = *state;
	uint8_t *page = pg(t, SPARE_PAGE);
	struct epcm_entry *e;

	memset(page, 0xAB, SGX_PAGE_SIZE);
	assert_int_equal(encls_epa(t->hw, page), SGX_SUCCESS);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		assert_int_equal(page[i], 0);
	e = epcm(t, page);
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_VA);
	assert_int_equal(e->secs_pfn, NO_PFN);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->blocked, 0);
	assert_int_equal(e->linaddr, 0);

	/* In a section nothing has touched yet. */
	assert_int_equal(encls_epa(t->hw, pg(t, UNTOUCHED_PAGE)), SGX_SUCCESS);
	assert_int_equal(epcm(t, pg(t, UNTOUCHED_PAGE))->type, SGX_PAGE_TYPE_VA);
}

static void test_epa_faults(void **state)
{
	struct pg_test *t = *state;
	uint8_t *page = pg(t, SPARE_PAGE);
	uint8_t *heap = fx_page_buf(0);
	struct epcm_entry *e = lockable(t, page);

	EXPECT_NOCHANGE(t, GP, encls_epa(t->hw, page + 8));
	EXPECT_NOCHANGE(t, PF, encls_epa(t->hw, heap));
	/* Valid pages of every kind. */
	EXPECT_NOCHANGE(t, PF, encls_epa(t->hw, t->va));
	EXPECT_NOCHANGE(t, PF, encls_epa(t->hw, t->secs));
	EXPECT_NOCHANGE(t, PF, encls_epa(t->hw, t->code));
	EXPECT_NOCHANGE(t, PF, encls_epa(t->hw, t->tcs));

	assert_true(epcm_trylock_excl(e));
	EXPECT_NOCHANGE(t, GP, encls_epa(t->hw, page));
	epcm_unlock_excl(e);
	assert_true(epcm_trylock_shared(e));
	EXPECT_NOCHANGE(t, GP, encls_epa(t->hw, page));
	epcm_unlock_shared(e);
	assert_int_equal(encls_epa(t->hw, page), SGX_SUCCESS);
	free(heap);
}

/* ---- EBLOCK ---- */

static void test_eblock(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *e = epcm(t, t->code);

	/* Record the current epoch, not zero: make it 2 first. */
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(encls_eblock(t->hw, t->code), SGX_SUCCESS);
	assert_int_equal(e->blocked, 1);
	assert_int_equal(e->blk_epoch, 2);
	/* Nothing else of the entry moves. */
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_REG);
	assert_int_equal(e->flags, SGX_SECINFO_R | SGX_SECINFO_X);
	assert_int_equal(e->linaddr, CODE_ADDR);

	assert_int_equal(encls_eblock(t->hw, t->tcs), SGX_SUCCESS);
	assert_int_equal(epcm(t, t->tcs)->blocked, 1);
}

static void test_eblock_faults(void **state)
{
	struct pg_test *t = *state;
	uint8_t *heap = fx_page_buf(0);

	EXPECT_NOCHANGE(t, GP, encls_eblock(t->hw, (uint8_t *)t->code + 64));
	EXPECT_NOCHANGE(t, PF, encls_eblock(t->hw, heap));
	free(heap);
}

static void test_eblock_invalid(void **state)
{
	struct pg_test *t = *state;

	/* No EPCM chunk at all, an invalid entry, and a page EREMOVE freed. */
	assert_null(epcm(t, pg(t, UNTOUCHED_PAGE)));
	EXPECT_NOCHANGE(t, SGX_PG_INVLD, encls_eblock(t->hw, pg(t, UNTOUCHED_PAGE)));
	EXPECT_NOCHANGE(t, SGX_PG_INVLD, encls_eblock(t->hw, pg(t, SPARE_PAGE)));
	assert_int_equal(encls_eremove(t->hw, t->data), SGX_SUCCESS);
	EXPECT_NOCHANGE(t, SGX_PG_INVLD, encls_eblock(t->hw, t->data));
}

static void test_eblock_notblockable(void **state)
{
	struct pg_test *t = *state;

	EXPECT_NOCHANGE(t, SGX_NOTBLOCKABLE, encls_eblock(t->hw, t->secs));
	EXPECT_NOCHANGE(t, SGX_NOTBLOCKABLE, encls_eblock(t->hw, t->va));
}

static void test_eblock_conflict(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *e = epcm(t, t->code);

	struct brief_hold h;

	assert_true(epcm_trylock_excl(e));
	EXPECT_NOCHANGE(t, SGX_EPC_PAGE_CONFLICT, encls_eblock(t->hw, t->code));
	epcm_unlock_excl(e);
	/*
	 * A shared holder (EENTER on a TCS, EDBGRD) runs next to EBLOCK on
	 * the processor; the model waits it out instead of failing, which
	 * lost Linux's reclaimer the page (issue 14).
	 */
	hold_shared_briefly(&h, e);
	assert_int_equal(encls_eblock(t->hw, t->code), SGX_SUCCESS);
	assert_waited(&h);
	assert_true(epcm(t, t->code)->blocked);
}

/* ETRACK (or another leaf) holds the SECS: the epoch is in flux. */
static void test_eblock_entryepoch_locked(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *secs = epcm(t, t->secs);

	assert_true(epcm_trylock_excl(secs));
	EXPECT_NOCHANGE(t, SGX_ENTRYEPOCH_LOCKED, encls_eblock(t->hw, t->code));
	epcm_unlock_excl(secs);
	/* Other leaves sharing the SECS do not stop EBLOCK. */
	assert_true(epcm_trylock_shared(secs));
	assert_int_equal(encls_eblock(t->hw, t->code), SGX_SUCCESS);
	epcm_unlock_shared(secs);
}

static void test_eblock_blkstate(void **state)
{
	struct pg_test *t = *state;

	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	/* The second EBLOCK keeps the first one's epoch. */
	EXPECT_NOCHANGE(t, SGX_BLKSTATE, encls_eblock(t->hw, t->data));
	assert_int_equal(epcm(t, t->data)->blk_epoch, 0);
}

/* ---- ETRACK ---- */

static void test_etrack(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *secs = epcm(t, t->secs);

	assert_int_equal(atomic_load(&secs->epoch), 0);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(atomic_load(&secs->epoch), 1);
	assert_int_equal(atomic_load(&secs->trk_pending), 0);
	/* No thread inside: each cycle completes at once. */
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(atomic_load(&secs->epoch), 2);
}

static void test_etrack_faults(void **state)
{
	struct pg_test *t = *state;
	uint8_t *heap = fx_page_buf(0);

	EXPECT_NOCHANGE(t, GP, encls_etrack(t->hw, (uint8_t *)t->secs + 8));
	EXPECT_NOCHANGE(t, PF, encls_etrack(t->hw, heap));
	EXPECT_NOCHANGE(t, PF, encls_etrack(t->hw, pg(t, UNTOUCHED_PAGE)));
	EXPECT_NOCHANGE(t, PF, encls_etrack(t->hw, pg(t, SPARE_PAGE)));
	EXPECT_NOCHANGE(t, PF, encls_etrack(t->hw, t->code));
	EXPECT_NOCHANGE(t, PF, encls_etrack(t->hw, t->tcs));
	EXPECT_NOCHANGE(t, PF, encls_etrack(t->hw, t->va));
	free(heap);
}

static void test_etrack_conflict(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *secs = epcm(t, t->secs);

	struct brief_hold h;

	assert_true(epcm_trylock_excl(secs));
	EXPECT_NOCHANGE(t, SGX_EPC_PAGE_CONFLICT, encls_etrack(t->hw, t->secs));
	epcm_unlock_excl(secs);
	/*
	 * Entries, exits and the leaves on the children hold the SECS shared,
	 * briefly; ETRACK, which needs it alone, waits them out (issue 14: a
	 * failed ETRACK left EWB NOT_TRACKED and the page lost).
	 */
	hold_shared_briefly(&h, secs);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_waited(&h);
	assert_int_equal(atomic_load(&secs->epoch), 1);
}

/*
 * The tracking protocol with a logical processor inside the enclave: the
 * blocked page may go only after the thread counted by ETRACK has left.
 */
static void test_tracking_with_thread(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *secs = epcm(t, t->secs);

	fx_einit(t->hw, t->secs);
	assert_int_equal(hw_enclave_enter(t->hw, t->tcs), SGX_SUCCESS);
	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(atomic_load(&secs->trk_pending), 1);

	EXPECT_NOCHANGE(t, SGX_NOT_TRACKED, do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]));
	EXPECT_NOCHANGE(t, SGX_PREV_TRK_INCMPL, encls_etrack(t->hw, t->secs));
	assert_int_equal(atomic_load(&secs->epoch), 1);

	hw_enclave_leave(t->hw, t->tcs);
	assert_int_equal(atomic_load(&secs->trk_pending), 0);
	assert_int_equal(do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]), SGX_SUCCESS);
}

/* A thread that enters after ETRACK cannot hold a stale translation. */
static void test_tracking_thread_after_etrack(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *secs = epcm(t, t->secs);

	fx_einit(t->hw, t->secs);
	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(hw_enclave_enter(t->hw, t->tcs), SGX_SUCCESS);
	assert_int_equal(do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]), SGX_SUCCESS);
	hw_enclave_leave(t->hw, t->tcs);
	assert_int_equal(atomic_load(&secs->trk_pending), 0);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
}

/* ---- EWB ---- */

/* Decrypt @b with the platform key and the MAC header the SDM-style layout names. */
static void assert_sealed_as(struct pg_test *t, const struct backing *b, uint64_t version,
			     const uint8_t *expect)
{
	uint8_t aad[128];
	uint8_t *out = fx_page_buf(0);

	memcpy(aad, b->pcmd, 112);
	memcpy(aad + 112, &b->linaddr, 8);
	memcpy(aad + 120, &version, 8);
	assert_int_equal(page_unseal(t->hw->paging_key, version, aad, sizeof(aad), b->contents,
				     b->pcmd->mac, out),
			 PAGE_CRYPTO_OK);
	assert_memory_equal(out, expect, SGX_PAGE_SIZE);
	free(out);
}

static void test_ewb(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *secs = epcm(t, t->secs);
	struct backing *b = &t->bk[0];
	uint8_t *plain = fx_page_buf(0);
	uint8_t zero[56] = { 0 };
	uint64_t version;

	memcpy(plain, t->data, SGX_PAGE_SIZE);
	assert_int_equal(atomic_load(&secs->child_cnt), 3);
	evict_child(t, t->data, slot_of(t->va, 5), b);

	version = *slot_of(t->va, 5);
	assert_int_not_equal(version, 0);
	assert_int_equal(b->linaddr, DATA_ADDR);
	assert_int_equal(b->pcmd->secinfo.flags,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
	assert_memory_equal(b->pcmd->secinfo.reserved, zero, sizeof(b->pcmd->secinfo.reserved));
	assert_int_equal(b->pcmd->enclave_id, secs_hidden(t->secs)->eid);
	assert_memory_equal(b->pcmd->reserved, zero, sizeof(b->pcmd->reserved));
	assert_memory_not_equal(b->contents, plain, SGX_PAGE_SIZE);
	assert_sealed_as(t, b, version, plain);

	assert_false(epcm(t, t->data)->valid);
	assert_int_equal(epcm(t, t->data)->secs_pfn, NO_PFN);
	assert_int_equal(atomic_load(&secs->child_cnt), 2);
	/* Only the one slot was written. */
	for (unsigned int i = 0; i < SGX_VA_SLOT_COUNT; i++)
		if (i != 5)
			assert_int_equal(*slot_of(t->va, i), 0);

	/* Versions never repeat. */
	evict_child(t, t->code, slot_of(t->va, 6), &t->bk[1]);
	assert_true(*slot_of(t->va, 6) > version);
	assert_int_equal(t->bk[1].pcmd->secinfo.flags,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X);
	free(plain);
}

static void test_ewb_operand_gp(void **state)
{
	struct pg_test *t = *state;
	struct backing *b = &t->bk[0];
	uint64_t *slot = slot_of(t->va, 0);
	struct sgx_pageinfo *pis = aligned_alloc(32, 2 * sizeof(*pis));
	struct sgx_pageinfo *pi = &pis[0];
	struct sgx_pageinfo *bad = (struct sgx_pageinfo *)((uint8_t *)pis + 8);

	assert_non_null(pis);
	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);

	memset(pis, 0, 2 * sizeof(*pis));
	EXPECT_NOCHANGE(t, GP, encls_ewb(t->hw, bad, t->data, slot));

	*pi = (struct sgx_pageinfo){ .contents = (uintptr_t)(b->contents + 64),
				     .metadata = (uintptr_t)b->pcmd };
	EXPECT_NOCHANGE(t, GP, encls_ewb(t->hw, pi, t->data, slot));
	*pi = (struct sgx_pageinfo){ .contents = (uintptr_t)b->contents,
				     .metadata = (uintptr_t)b->pcmd + 64 };
	EXPECT_NOCHANGE(t, GP, encls_ewb(t->hw, pi, t->data, slot));
	*pi = (struct sgx_pageinfo){ .contents = (uintptr_t)b->contents,
				     .metadata = (uintptr_t)b->pcmd };
	EXPECT_NOCHANGE(t, GP, encls_ewb(t->hw, pi, (uint8_t *)t->data + 8, slot));
	EXPECT_NOCHANGE(t, GP, encls_ewb(t->hw, pi, t->data, (void *)((uint8_t *)slot + 4)));
	/* LINADDR is EWB's output and SECS is not its input. */
	pi->addr = DATA_ADDR;
	EXPECT_NOCHANGE(t, GP, encls_ewb(t->hw, pi, t->data, slot));
	assert_int_equal(pi->addr, DATA_ADDR);
	pi->addr = 0;
	pi->secs = (uintptr_t)t->secs;
	EXPECT_NOCHANGE(t, GP, encls_ewb(t->hw, pi, t->data, slot));
	pi->secs = 0;
	assert_int_equal(encls_ewb(t->hw, pi, t->data, slot), SGX_SUCCESS);
	free(pis);
}

static void test_ewb_operand_pf(void **state)
{
	struct pg_test *t = *state;
	uint8_t *heap = fx_page_buf(0);

	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	EXPECT_NOCHANGE(t, PF, do_ewb(t, heap, slot_of(t->va, 0), &t->bk[0]));
	EXPECT_NOCHANGE(t, PF, do_ewb(t, t->data, (uint64_t *)heap, &t->bk[0]));
	free(heap);
}

static void test_ewb_locks(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *target = epcm(t, t->data), *va = epcm(t, t->va);
	uint64_t *slot = slot_of(t->va, 0);
	struct brief_hold h;

	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);

	assert_true(epcm_trylock_excl(target));
	EXPECT_NOCHANGE(t, GP, do_ewb(t, t->data, slot, &t->bk[0]));
	epcm_unlock_excl(target);

	assert_true(epcm_trylock_excl(va));
	EXPECT_NOCHANGE(t, GP, do_ewb(t, t->data, slot, &t->bk[0]));
	epcm_unlock_excl(va);
	/*
	 * Other EWBs and ELDUs share the VA page; a shared holder of the page
	 * itself (an EENTER about to find its TCS blocked) is waited out.
	 */
	assert_true(epcm_trylock_shared(va));
	hold_shared_briefly(&h, target);
	assert_int_equal(do_ewb(t, t->data, slot, &t->bk[0]), SGX_SUCCESS);
	assert_waited(&h);
	epcm_unlock_shared(va);
}

static void test_ewb_invalid_pages(void **state)
{
	struct pg_test *t = *state;

	/* Target invalid. */
	EXPECT_NOCHANGE(t, PF, do_ewb(t, pg(t, SPARE_PAGE), slot_of(t->va, 0), &t->bk[0]));
	EXPECT_NOCHANGE(t, PF, do_ewb(t, pg(t, UNTOUCHED_PAGE), slot_of(t->va, 0), &t->bk[0]));

	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	/* The slot is not in a VA page. */
	EXPECT_NOCHANGE(t, PF, do_ewb(t, t->data, slot_of(pg(t, SPARE_PAGE), 0), &t->bk[0]));
	EXPECT_NOCHANGE(t, PF, do_ewb(t, t->data, slot_of(pg(t, UNTOUCHED_PAGE), 0), &t->bk[0]));
	EXPECT_NOCHANGE(t, PF, do_ewb(t, t->data, slot_of(t->code, 0), &t->bk[0]));
	EXPECT_NOCHANGE(t, PF, do_ewb(t, t->data, slot_of(t->secs, 8), &t->bk[0]));
}

static void test_ewb_slot_in_target(void **state)
{
	struct pg_test *t = *state;

	EXPECT_NOCHANGE(t, GP, do_ewb(t, t->va, slot_of(t->va, 3), &t->bk[0]));
}

static void test_ewb_not_blocked(void **state)
{
	struct pg_test *t = *state;

	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	EXPECT_NOCHANGE(t, SGX_PAGE_NOT_BLOCKED, do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]));
	EXPECT_NOCHANGE(t, SGX_PAGE_NOT_BLOCKED, do_ewb(t, t->tcs, slot_of(t->va, 0), &t->bk[0]));
}

static void test_ewb_secs_locked(void **state)
{
	struct pg_test *t = *state;
	struct epcm_entry *secs = epcm(t, t->secs);

	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_true(epcm_trylock_excl(secs));
	EXPECT_NOCHANGE(t, GP, do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]));
	epcm_unlock_excl(secs);
	assert_int_equal(do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]), SGX_SUCCESS);
}

static void test_ewb_not_tracked(void **state)
{
	struct pg_test *t = *state;

	/* No ETRACK at all. */
	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	EXPECT_NOCHANGE(t, SGX_NOT_TRACKED, do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]));
	/* An ETRACK from before the EBLOCK does not count. */
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(encls_eblock(t->hw, t->code), SGX_SUCCESS);
	EXPECT_NOCHANGE(t, SGX_NOT_TRACKED, do_ewb(t, t->code, slot_of(t->va, 0), &t->bk[0]));
	assert_int_equal(do_ewb(t, t->data, slot_of(t->va, 0), &t->bk[0]), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(do_ewb(t, t->code, slot_of(t->va, 1), &t->bk[1]), SGX_SUCCESS);
}

static void test_ewb_child_present(void **state)
{
	struct pg_test *t = *state;

	EXPECT_NOCHANGE(t, SGX_CHILD_PRESENT, do_ewb(t, t->secs, slot_of(t->va, 0), &t->bk[0]));
	evict_child(t, t->code, slot_of(t->va, 1), &t->bk[1]);
	evict_child(t, t->data, slot_of(t->va, 2), &t->bk[2]);
	/* The TCS is still there. */
	EXPECT_NOCHANGE(t, SGX_CHILD_PRESENT, do_ewb(t, t->secs, slot_of(t->va, 0), &t->bk[0]));
}

static void test_ewb_slot_occupied(void **state)
{
	struct pg_test *t = *state;
	uint64_t *slot = slot_of(t->va, 9);

	evict_child(t, t->code, slot, &t->bk[1]);
	assert_int_equal(encls_eblock(t->hw, t->data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	EXPECT_NOCHANGE(t, SGX_VA_SLOT_OCCUPIED, do_ewb(t, t->data, slot, &t->bk[0]));
	/* Whatever is in the slot counts, version or not. */
	*slot_of(t->va, 10) = 1;
	EXPECT_NOCHANGE(t, SGX_VA_SLOT_OCCUPIED,
			do_ewb(t, t->data, slot_of(t->va, 10), &t->bk[0]));
	assert_int_equal(do_ewb(t, t->data, slot_of(t->va, 11), &t->bk[0]), SGX_SUCCESS);
}

/* ---- ELDU / ELDB ---- */

struct epcm_view {
	uint8_t type, flags;
	uint64_t linaddr, secs_pfn;
};

static struct epcm_view view_of(struct epcm_entry *e)
{
	return (struct epcm_view){ e->type, e->flags, e->linaddr, e->secs_pfn };
}

static void assert_view(struct epcm_entry *e, struct epcm_view v)
{
	assert_true(e->valid);
	assert_int_equal(e->type, v.type);
	assert_int_equal(e->flags, v.flags);
	assert_int_equal(e->linaddr, v.linaddr);
	assert_int_equal(e->secs_pfn, v.secs_pfn);
}

/* Evict @page, load it back at @dest, and compare bytes and EPCM state. */
static void round_trip(struct pg_test *t, void *page, void *dest)
{
	struct epcm_entry *secs = epcm(t, t->secs);
	struct epcm_view before = view_of(epcm(t, page));
	uint8_t *plain = fx_page_buf(0);
	uint64_t children = atomic_load(&secs->child_cnt);

	memcpy(plain, page, SGX_PAGE_SIZE);
	evict_child(t, page, slot_of(t->va, 7), &t->bk[0]);
	assert_int_equal(atomic_load(&secs->child_cnt), children - 1);
	memset(dest, 0x5A, SGX_PAGE_SIZE);

	assert_int_equal(do_eldu(t, &t->bk[0], dest, t->secs, slot_of(t->va, 7)), SGX_SUCCESS);
	assert_memory_equal(dest, plain, SGX_PAGE_SIZE);
	assert_view(epcm(t, dest), before);
	assert_int_equal(epcm(t, dest)->blocked, 0);
	assert_int_equal(*slot_of(t->va, 7), 0);
	assert_int_equal(atomic_load(&secs->child_cnt), children);
	free(plain);
}

static void test_round_trip_reg(void **state)
{
	struct pg_test *t = *state;

	round_trip(t, t->data, pg(t, SPARE_PAGE));
	/* Back at the very same page, and into another section. */
	round_trip(t, pg(t, SPARE_PAGE), pg(t, SPARE_PAGE));
	round_trip(t, pg(t, SPARE_PAGE), pg(t, FAR_PAGE));
	round_trip(t, t->code, pg(t, SPARE_PAGE + 1));
}

static void test_round_trip_tcs(void **state)
{
	struct pg_test *t = *state;

	round_trip(t, t->tcs, pg(t, SPARE_PAGE));
	assert_int_equal(epcm(t, pg(t, SPARE_PAGE))->type, SGX_PAGE_TYPE_TCS);
}

/*
 * Page states the SGX2 leaves produce (EAUG's PENDING, EMODT's TRIM and
 * MODIFIED, EMODPR's PR) travel with the page. Set directly in the EPCM,
 * as those leaves would.
 */
static void test_round_trip_sgx2_states(void **state)
{
	struct pg_test *t = *state;

	epcm(t, t->code)->flags |= SGX_SECINFO_PENDING | SGX_SECINFO_PR;
	round_trip(t, t->code, pg(t, SPARE_PAGE));
	assert_int_equal(epcm(t, pg(t, SPARE_PAGE))->flags,
			 SGX_SECINFO_R | SGX_SECINFO_X | SGX_SECINFO_PENDING | SGX_SECINFO_PR);

	epcm(t, t->data)->type = SGX_PAGE_TYPE_TRIM;
	epcm(t, t->data)->flags = SGX_SECINFO_MODIFIED;
	round_trip(t, t->data, pg(t, SPARE_PAGE + 1));
	assert_int_equal(epcm(t, pg(t, SPARE_PAGE + 1))->type, SGX_PAGE_TYPE_TRIM);
	assert_int_equal(t->bk[0].pcmd->secinfo.flags,
			 SGX_SECINFO_TRIM | SGX_SECINFO_MODIFIED);
}

static void test_eldb(void **state)
{
	struct pg_test *t = *state;
	void *dest = pg(t, SPARE_PAGE);
	struct epcm_entry *e;

	evict_child(t, t->code, slot_of(t->va, 0), &t->bk[0]);
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	/* Epoch 2 now. */
	assert_int_equal(do_eld(t, true, &t->bk[0], dest, t->secs, slot_of(t->va, 0)),
			 SGX_SUCCESS);
	e = epcm(t, dest);
	assert_true(e->valid);
	assert_int_equal(e->blocked, 1);
	assert_int_equal(e->blk_epoch, 2);
	assert_int_equal(e->linaddr, CODE_ADDR);

	/* Loaded blocked: ready to go out again after a tracking cycle. */
	EXPECT_NOCHANGE(t, SGX_BLKSTATE, encls_eblock(t->hw, dest));
	EXPECT_NOCHANGE(t, SGX_NOT_TRACKED, do_ewb(t, dest, slot_of(t->va, 0), &t->bk[0]));
	assert_int_equal(encls_etrack(t->hw, t->secs), SGX_SUCCESS);
	assert_int_equal(do_ewb(t, dest, slot_of(t->va, 0), &t->bk[0]), SGX_SUCCESS);
	assert_int_equal(do_eldu(t, &t->bk[0], dest, t->secs, slot_of(t->va, 0)), SGX_SUCCESS);
	assert_int_equal(epcm(t, dest)->blocked, 0);
}

/* Evict the SECS after its children, reload it elsewhere, then the children. */
static void test_secs_round_trip(void **state)
{
	struct pg_test *t = *state;
	void *pages[3] = { t->tcs, t->code, t->data };
	struct epcm_view views[3];
	uint8_t *copies[3], *secs_copy = fx_page_buf(0);
	void *new_secs = pg(t, FAR_PAGE);
	struct backing *children = calloc(3, sizeof(*children));
	struct backing *sb = &t->bk[2];
	struct epcm_entry *e;
	uint64_t eid = secs_hidden(t->secs)->eid;

	assert_non_null(children);
	for (int i = 0; i < 3; i++) {
		children[i].contents = fx_page_buf(0);
		children[i].pcmd = aligned_alloc(128, sizeof(struct sgx_pcmd));
		assert_non_null(children[i].pcmd);
		copies[i] = fx_page_buf(0);
		memcpy(copies[i], pages[i], SGX_PAGE_SIZE);
		views[i] = view_of(epcm(t, pages[i]));
		evict_child(t, pages[i], slot_of(t->va, i), &children[i]);
	}
	/* Tracking state must not survive: leave an ETRACK count behind. */
	assert_int_not_equal(atomic_load(&epcm(t, t->secs)->epoch), 0);
	memcpy(secs_copy, t->secs, SGX_PAGE_SIZE);
	assert_int_equal(do_ewb(t, t->secs, slot_of(t->va, 3), sb), SGX_SUCCESS);
	assert_false(epcm(t, t->secs)->valid);
	assert_int_equal(sb->linaddr, 0);
	assert_int_equal(sb->pcmd->secinfo.flags, SGX_SECINFO_SECS);
	assert_int_equal(sb->pcmd->enclave_id, eid);
	assert_sealed_as(t, sb, *slot_of(t->va, 3), secs_copy);

	/* The children cannot come back against the old, now invalid, SECS page. */
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &children[1], t->code, t->secs, slot_of(t->va, 1)));

	memset(new_secs, 0x77, SGX_PAGE_SIZE);
	assert_int_equal(do_eldu(t, sb, new_secs, NULL, slot_of(t->va, 3)), SGX_SUCCESS);
	assert_memory_equal(new_secs, secs_copy, SGX_PAGE_SIZE);
	e = epcm(t, new_secs);
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_SECS);
	assert_int_equal(e->secs_pfn, NO_PFN);
	assert_int_equal(e->blocked, 0);
	assert_int_equal(atomic_load(&e->child_cnt), 0);
	assert_int_equal(atomic_load(&e->epoch), 0);
	assert_int_equal(atomic_load(&e->trk_pending), 0);
	assert_int_equal(atomic_load(&e->threads), 0);
	assert_int_equal(secs_hidden(new_secs)->eid, eid);

	for (int i = 0; i < 3; i++) {
		void *dest = pg(t, SPARE_PAGE + i);

		assert_int_equal(do_eldu(t, &children[i], dest, new_secs, slot_of(t->va, i)),
				 SGX_SUCCESS);
		views[i].secs_pfn = pfn_of(t, new_secs);
		assert_view(epcm(t, dest), views[i]);
		assert_memory_equal(dest, copies[i], SGX_PAGE_SIZE);
	}
	assert_int_equal(atomic_load(&e->child_cnt), 3);

	/* The reloaded enclave keeps working: paging, building, teardown. */
	t->secs = new_secs;
	round_trip(t, pg(t, SPARE_PAGE + 2), pg(t, SPARE_PAGE + 3));
	assert_int_equal(fx_eadd(t->hw, new_secs, pg(t, SPARE_PAGE + 4),
				 FX_BASE + 3 * SGX_PAGE_SIZE, copies[2],
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(encls_eremove(t->hw, new_secs), SGX_CHILD_PRESENT);
	for (int i = 0; i < 5; i++)
		if (i != 2)
			assert_int_equal(encls_eremove(t->hw, pg(t, SPARE_PAGE + i)), SGX_SUCCESS);
	assert_int_equal(encls_eremove(t->hw, new_secs), SGX_SUCCESS);

	for (int i = 0; i < 3; i++) {
		free(children[i].contents);
		free(children[i].pcmd);
		free(copies[i]);
	}
	free(children);
	free(secs_copy);
}

/* A VA page, with versions in it, evicted into another VA page and back. */
static void test_va_round_trip(void **state)
{
	struct pg_test *t = *state;
	void *va2 = pg(t, SPARE_PAGE), *va_new = pg(t, SPARE_PAGE + 1);
	struct backing *vb = &t->bk[1];
	uint64_t version;
	struct epcm_entry *e;

	evict_child(t, t->code, slot_of(t->va, 7), &t->bk[0]);
	version = *slot_of(t->va, 7);
	assert_int_equal(encls_epa(t->hw, va2), SGX_SUCCESS);

	/* No EBLOCK or ETRACK: no enclave can map a VA page. */
	assert_int_equal(do_ewb(t, t->va, slot_of(va2, 0), vb), SGX_SUCCESS);
	assert_false(epcm(t, t->va)->valid);
	assert_int_equal(vb->linaddr, 0);
	assert_int_equal(vb->pcmd->secinfo.flags, SGX_SECINFO_VA);
	assert_int_equal(vb->pcmd->enclave_id, 0);

	/* Its slots are out of reach while it is out. */
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], t->code, t->secs, slot_of(t->va, 7)));

	assert_int_equal(do_eldu(t, vb, va_new, NULL, slot_of(va2, 0)), SGX_SUCCESS);
	e = epcm(t, va_new);
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_VA);
	assert_int_equal(e->secs_pfn, NO_PFN);
	assert_int_equal(*slot_of(va_new, 7), version);
	assert_int_equal(*slot_of(va2, 0), 0);

	assert_int_equal(do_eldu(t, &t->bk[0], t->code, t->secs, slot_of(va_new, 7)), SGX_SUCCESS);
	assert_int_equal(*slot_of(va_new, 7), 0);
	assert_int_equal(epcm(t, t->code)->linaddr, CODE_ADDR);
}

/* ELDB of a SECS or VA page loads it unblocked: neither can be blocked. */
static void test_eldb_secs_va_unblocked(void **state)
{
	struct pg_test *t = *state;
	void *va2 = pg(t, SPARE_PAGE);

	assert_int_equal(encls_epa(t->hw, va2), SGX_SUCCESS);
	assert_int_equal(do_ewb(t, va2, slot_of(t->va, 0), &t->bk[0]), SGX_SUCCESS);
	assert_int_equal(do_eld(t, true, &t->bk[0], va2, NULL, slot_of(t->va, 0)), SGX_SUCCESS);
	assert_int_equal(epcm(t, va2)->blocked, 0);
}

/* A REG page evicted to bk[0] from slot 0, for the ELDU error tests. */
static void evict_data(struct pg_test *t)
{
	evict_child(t, t->data, slot_of(t->va, 0), &t->bk[0]);
	memset(pg(t, SPARE_PAGE), 0x5A, SGX_PAGE_SIZE);
}

static void test_eldu_operand_gp(void **state)
{
	struct pg_test *t = *state;
	struct backing *b = &t->bk[0];
	void *dest = pg(t, SPARE_PAGE);
	uint64_t *slot = slot_of(t->va, 0);
	struct sgx_pageinfo *pis = aligned_alloc(32, 2 * sizeof(*pis));
	struct sgx_pageinfo *pi = &pis[0];
	struct sgx_pageinfo good;

	assert_non_null(pis);
	evict_data(t);
	good = (struct sgx_pageinfo){ .addr = b->linaddr,
				      .contents = (uintptr_t)b->contents,
				      .metadata = (uintptr_t)b->pcmd,
				      .secs = (uintptr_t)t->secs };
	memset(pis, 0, 2 * sizeof(*pis));
	EXPECT_NOCHANGE(t, GP,
			encls_eldu(t->hw, (struct sgx_pageinfo *)((uint8_t *)pis + 8), dest, slot));

	*pi = good;
	pi->contents += 8;
	EXPECT_NOCHANGE(t, GP, encls_eldu(t->hw, pi, dest, slot));
	*pi = good;
	pi->metadata += 64;
	EXPECT_NOCHANGE(t, GP, encls_eldu(t->hw, pi, dest, slot));
	*pi = good;
	pi->secs += 64;
	EXPECT_NOCHANGE(t, GP, encls_eldb(t->hw, pi, dest, slot));
	*pi = good;
	EXPECT_NOCHANGE(t, GP, encls_eldu(t->hw, pi, (uint8_t *)dest + 16, slot));
	EXPECT_NOCHANGE(t, GP, encls_eldu(t->hw, pi, dest, (void *)((uint8_t *)slot + 1)));
	assert_int_equal(encls_eldu(t->hw, pi, dest, slot), SGX_SUCCESS);
	free(pis);
}

static void test_eldu_operand_pf(void **state)
{
	struct pg_test *t = *state;
	uint8_t *heap = fx_page_buf(0);

	evict_data(t);
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], heap, t->secs, slot_of(t->va, 0)));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], pg(t, SPARE_PAGE), t->secs, (uint64_t *)heap));
	free(heap);
}

static void test_eldu_locks(void **state)
{
	struct pg_test *t = *state;
	void *dest = pg(t, SPARE_PAGE);
	struct epcm_entry *d = lockable(t, dest), *va = epcm(t, t->va);
	struct epcm_entry *secs = epcm(t, t->secs);
	uint64_t *slot = slot_of(t->va, 0);

	evict_data(t);
	assert_true(epcm_trylock_excl(d));
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
	epcm_unlock_excl(d);
	assert_true(epcm_trylock_shared(d));
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
	epcm_unlock_shared(d);

	assert_true(epcm_trylock_excl(va));
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
	epcm_unlock_excl(va);

	assert_true(epcm_trylock_excl(secs));
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
	epcm_unlock_excl(secs);

	/* Shared holders of the VA page and the SECS do not conflict. */
	assert_true(epcm_trylock_shared(va));
	assert_true(epcm_trylock_shared(secs));
	assert_int_equal(do_eldu(t, &t->bk[0], dest, t->secs, slot), SGX_SUCCESS);
	epcm_unlock_shared(secs);
	epcm_unlock_shared(va);
}

static void test_eldu_bad_pages(void **state)
{
	struct pg_test *t = *state;
	void *dest = pg(t, SPARE_PAGE);
	uint64_t *slot = slot_of(t->va, 0);
	uint8_t *heap = fx_page_buf(0);

	evict_data(t);
	/* The destination is valid. */
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], t->code, t->secs, slot));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], t->va, t->secs, slot_of(pg(t, 6), 0)));
	/* The slot is not in a VA page. */
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, t->secs, slot_of(pg(t, 6), 0)));
	EXPECT_NOCHANGE(t, PF,
			do_eldu(t, &t->bk[0], dest, t->secs, slot_of(pg(t, UNTOUCHED_PAGE), 0)));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, t->secs, slot_of(t->code, 0)));
	/* The slot lies in the destination page. */
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot_of(dest, 0)));
	/* PAGEINFO.SECS is no SECS. */
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, NULL, slot));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, heap, slot));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, t->code, slot));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, t->va, slot));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, pg(t, 6), slot));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, pg(t, UNTOUCHED_PAGE), slot));
	EXPECT_NOCHANGE(t, PF, do_eldu(t, &t->bk[0], dest, dest, slot));
	assert_int_equal(do_eldu(t, &t->bk[0], dest, t->secs, slot), SGX_SUCCESS);
	free(heap);
}

static void test_eldu_pcmd_reserved(void **state)
{
	struct pg_test *t = *state;
	struct sgx_pcmd *pcmd = t->bk[0].pcmd, saved;
	void *dest = pg(t, SPARE_PAGE);
	uint64_t *slot = slot_of(t->va, 0);
	static const uint64_t bad_flags[] = { 0x40, 0x80, 1ULL << 16, 1ULL << 63 };

	evict_data(t);
	saved = *pcmd;
	for (unsigned int i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		pcmd->secinfo.flags |= bad_flags[i];
		EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
		*pcmd = saved;
	}
	/* No such page type. */
	pcmd->secinfo.flags = (pcmd->secinfo.flags & 0xFF) | (5ULL << 8);
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
	*pcmd = saved;
	pcmd->secinfo.reserved[55] = 1;
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
	*pcmd = saved;
	pcmd->reserved[0] = 0x80;
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], dest, t->secs, slot));
	*pcmd = saved;
	assert_int_equal(do_eldu(t, &t->bk[0], dest, t->secs, slot), SGX_SUCCESS);
}

/* SECS and VA pages have no parent: PAGEINFO.SECS must be zero. */
static void test_eldu_parentless_with_secs(void **state)
{
	struct pg_test *t = *state;
	void *va2 = pg(t, SPARE_PAGE);

	assert_int_equal(encls_epa(t->hw, va2), SGX_SUCCESS);
	assert_int_equal(do_ewb(t, va2, slot_of(t->va, 0), &t->bk[0]), SGX_SUCCESS);
	EXPECT_NOCHANGE(t, GP, do_eldu(t, &t->bk[0], va2, t->secs, slot_of(t->va, 0)));
	assert_int_equal(do_eldu(t, &t->bk[0], va2, NULL, slot_of(t->va, 0)), SGX_SUCCESS);
}

/*
 * A tampered page fails the MAC and changes nothing: the destination keeps
 * its bytes and stays invalid, the slot keeps its version, and the genuine
 * page still loads afterwards.
 */
static void expect_mac_fail(struct pg_test *t, struct backing *b, void *secs, uint64_t *slot)
{
	uint64_t version = *slot;

	EXPECT_NOCHANGE(t, SGX_MAC_COMPARE_FAIL, do_eldu(t, b, pg(t, SPARE_PAGE), secs, slot));
	EXPECT_NOCHANGE(t, SGX_MAC_COMPARE_FAIL,
			do_eld(t, true, b, pg(t, SPARE_PAGE), secs, slot));
	assert_false(epcm(t, pg(t, SPARE_PAGE))->valid);
	assert_int_equal(*slot, version);
}

static void test_tamper_child(void **state)
{
	struct pg_test *t = *state;
	struct backing *b = &t->bk[0];
	uint64_t *slot = slot_of(t->va, 0);
	void *other_secs = pg(t, OTHER_SECS);

	evict_data(t);
	b->contents[100] ^= 0x01;
	expect_mac_fail(t, b, t->secs, slot);
	b->contents[100] ^= 0x01;

	b->pcmd->secinfo.flags ^= SGX_SECINFO_X;
	expect_mac_fail(t, b, t->secs, slot);
	b->pcmd->secinfo.flags ^= SGX_SECINFO_X;
	/* The same page claiming to be a TCS. */
	b->pcmd->secinfo.flags ^= SGX_SECINFO_REG ^ SGX_SECINFO_TCS;
	expect_mac_fail(t, b, t->secs, slot);
	b->pcmd->secinfo.flags ^= SGX_SECINFO_REG ^ SGX_SECINFO_TCS;

	b->pcmd->mac[0] ^= 0x20;
	expect_mac_fail(t, b, t->secs, slot);
	b->pcmd->mac[0] ^= 0x20;

	b->linaddr += SGX_PAGE_SIZE;
	expect_mac_fail(t, b, t->secs, slot);
	b->linaddr -= SGX_PAGE_SIZE;

	/* The same layout in another enclave: only the EID differs. */
	fx_ecreate_default(t->hw, other_secs);
	expect_mac_fail(t, b, other_secs, slot);

	/* The version of another page, and an empty slot. */
	evict_child(t, t->code, slot_of(t->va, 1), &t->bk[1]);
	expect_mac_fail(t, b, t->secs, slot_of(t->va, 1));
	expect_mac_fail(t, b, t->secs, slot_of(t->va, 2));

	assert_int_equal(do_eldu(t, b, pg(t, SPARE_PAGE), t->secs, slot), SGX_SUCCESS);
	assert_int_equal(atomic_load(&epcm(t, other_secs)->child_cnt), 0);
}

/*
 * The enclave ID in the PCMD of a SECS or VA page is covered by the MAC. An
 * enclave page is bound to the EID of the SECS it is loaded into instead
 * (SDM ELDU: TMP_HEADER.EID comes from the SECS operand), so its PCMD copy is
 * informational and not checked.
 */
static void test_tamper_enclave_id(void **state)
{
	struct pg_test *t = *state;
	uint64_t *secs_slot = slot_of(t->va, 3), *va_slot = slot_of(t->va, 4);
	void *va2 = pg(t, SPARE_PAGE + 2);

	evict_child(t, t->tcs, slot_of(t->va, 0), &t->bk[0]);
	evict_child(t, t->code, slot_of(t->va, 1), &t->bk[1]);
	evict_child(t, t->data, slot_of(t->va, 2), &t->bk[2]);
	t->bk[2].pcmd->enclave_id ^= 0x100;
	assert_int_equal(do_eldu(t, &t->bk[2], t->data, t->secs, slot_of(t->va, 2)),
			 SGX_SUCCESS);
	evict_child(t, t->data, slot_of(t->va, 2), &t->bk[2]);

	assert_int_equal(do_ewb(t, t->secs, secs_slot, &t->bk[0]), SGX_SUCCESS);
	t->bk[0].pcmd->enclave_id ^= 0x1;
	expect_mac_fail(t, &t->bk[0], NULL, secs_slot);
	t->bk[0].pcmd->enclave_id ^= 0x1;
	assert_int_equal(do_eldu(t, &t->bk[0], t->secs, NULL, secs_slot), SGX_SUCCESS);

	assert_int_equal(encls_epa(t->hw, va2), SGX_SUCCESS);
	assert_int_equal(do_ewb(t, va2, va_slot, &t->bk[0]), SGX_SUCCESS);
	t->bk[0].pcmd->enclave_id = 1;
	expect_mac_fail(t, &t->bk[0], NULL, va_slot);
	t->bk[0].pcmd->enclave_id = 0;
	assert_int_equal(do_eldu(t, &t->bk[0], va2, NULL, va_slot), SGX_SUCCESS);
}

/* Each version loads once: an older copy of a page never comes back. */
static void test_replay(void **state)
{
	struct pg_test *t = *state;
	struct backing *a = &t->bk[0], *b = &t->bk[1];
	uint64_t *slot = slot_of(t->va, 0);
	uint64_t version_b;

	evict_child(t, t->data, slot, a);
	assert_int_equal(do_eldu(t, a, t->data, t->secs, slot), SGX_SUCCESS);
	/* Loading the same copy twice. */
	expect_mac_fail(t, a, t->secs, slot);

	evict_child(t, t->data, slot, b);
	version_b = *slot;
	/* The stale copy A against version B, in the same slot. */
	expect_mac_fail(t, a, t->secs, slot);
	assert_int_equal(*slot, version_b);
	assert_int_equal(do_eldu(t, b, t->data, t->secs, slot), SGX_SUCCESS);
	expect_mac_fail(t, b, t->secs, slot);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_epa),
		T(test_epa_faults),
		T(test_eblock),
		T(test_eblock_faults),
		T(test_eblock_invalid),
		T(test_eblock_notblockable),
		T(test_eblock_conflict),
		T(test_eblock_entryepoch_locked),
		T(test_eblock_blkstate),
		T(test_etrack),
		T(test_etrack_faults),
		T(test_etrack_conflict),
		T(test_tracking_with_thread),
		T(test_tracking_thread_after_etrack),
		T(test_ewb),
		T(test_ewb_operand_gp),
		T(test_ewb_operand_pf),
		T(test_ewb_locks),
		T(test_ewb_invalid_pages),
		T(test_ewb_slot_in_target),
		T(test_ewb_not_blocked),
		T(test_ewb_secs_locked),
		T(test_ewb_not_tracked),
		T(test_ewb_child_present),
		T(test_ewb_slot_occupied),
		T(test_round_trip_reg),
		T(test_round_trip_tcs),
		T(test_round_trip_sgx2_states),
		T(test_eldb),
		T(test_secs_round_trip),
		T(test_va_round_trip),
		T(test_eldb_secs_va_unblocked),
		T(test_eldu_operand_gp),
		T(test_eldu_operand_pf),
		T(test_eldu_locks),
		T(test_eldu_bad_pages),
		T(test_eldu_pcmd_reserved),
		T(test_eldu_parentless_with_secs),
		T(test_tamper_child),
		T(test_tamper_enclave_id),
		T(test_replay),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
