// SPDX-License-Identifier: MIT
/*
 * Views of the CPU model in other processes (hw/share.c, issue 16): the
 * EPCM in shared memory, ENCLU on a view, owner tokens in the TCS busy flag
 * and their release when a view's process is gone, the reset of a page's
 * stuck locks, the bounded wait of a leaf on shared holders, and a fork()
 * child's own copy of the EPCM in private mode.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/enclu_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)

/* Two sections, the second of two chunks: a chunk the owner never uses. */
#define SECTION_PAGES (2 * EPCM_CHUNK_PAGES)
#define VIEW_OWNER    7
#define CHILD_OWNER   42

static struct sgx_hw *owner_new(bool keep_fds)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 2;
	cfg.section_size[0] = SECTION_PAGES * SGX_PAGE_SIZE;
	cfg.section_size[1] = SECTION_PAGES * SGX_PAGE_SIZE;
	cfg.keep_fds = keep_fds;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	return hw;
}

static struct sgx_hw *view_of(struct sgx_hw *hw, uint32_t owner)
{
	struct sgx_hw_share share;
	int fds[2 * SGX_HW_MAX_SECTIONS];
	struct sgx_hw *view;

	assert_int_equal(sgx_hw_share_get(hw, &share, fds), 0);
	view = sgx_hw_attach(&share, fds, owner);
	assert_non_null(view);
	return view;
}

static struct epcm_entry *epcm(struct sgx_hw *hw, void *page)
{
	struct epc_ref ref;

	assert_true(epc_resolve(hw, page, false, &ref));
	assert_non_null(ref.e);
	return ref.e;
}

/* Section 0's page number of an owner's EPC page. */
static uint64_t page_index(struct sgx_hw *hw, const void *page)
{
	struct sgx_hw_section s;

	assert_true(hw_epc_section(hw, 0, &s));
	return (uint64_t)((const uint8_t *)page - (const uint8_t *)s.virt) / SGX_PAGE_SIZE;
}

/* @e's MMU, but mapping each linear page to @view's address of its EPC page. */
static void view_mmu(struct ef_enclave *e, struct sgx_hw *view, struct ef_mmu *state,
		     struct hw_mmu *mmu)
{
	*state = e->mmu_state;
	for (unsigned int n = 0; n < EF_PAGES; n++) {
		state->map[n] = hw_epc_page_addr(view, 0, page_index(e->hw, e->page[n]));
		assert_non_null(state->map[n]);
		assert_ptr_not_equal(state->map[n], e->page[n]);
	}
	mmu->translate = ef_translate;
	mmu->ctx = state;
}

static void remove_enclave(struct ef_enclave *e)
{
	for (unsigned int n = 0; n < EF_PAGES; n++)
		assert_int_equal(encls_eremove(e->hw, e->page[n]), SGX_SUCCESS);
	assert_int_equal(encls_eremove(e->hw, e->secs), SGX_SUCCESS);
}

struct round_trip {
	struct sgx_hw *owner, *view;
	struct ef_enclave *e;
	struct hw_mmu *mmu;
	int enter, exit;
	uint32_t busy_inside, threads_inside;
};

/* EENTER and EEXIT on the view; what the owner saw in between. */
static void *round_trip(void *arg)
{
	struct round_trip *rt = arg;
	struct sgx_lp lp;
	struct sgx_cpu_regs *regs = malloc(sizeof(*regs));

	if (!regs)
		return NULL;
	sgx_lp_init(&lp);
	ef_regs_outside(regs, SGX_EENTER);
	rt->enter = enclu_eenter(rt->view, &lp, rt->mmu, regs);
	rt->busy_inside = atomic_load(&epcm(rt->owner, rt->e->page[EF_TCS])->tcs_busy);
	rt->threads_inside = atomic_load(&epcm(rt->owner, rt->e->secs)->threads);
	regs->rax = SGX_EEXIT;
	regs->rbx = EF_EXIT_TARGET;
	rt->exit = enclu_eexit(rt->view, &lp, rt->mmu, regs);
	free(regs);
	return NULL;
}

/*
 * ECREATE/EADD/EINIT on the owner, EENTER/EEXIT on a view of it in the
 * same process: one EPCM, two mappings. From this thread, then from a
 * fresh one.
 */
static void view_same_process(void **state)
{
	struct sgx_hw *hw = owner_new(true), *view;
	struct ef_enclave e;
	struct ef_params p;
	struct ef_mmu vstate;
	struct hw_mmu vmmu;
	struct round_trip rt;
	pthread_t th;

	(void)state;
	ef_params_default(&p);
	ef_build(&e, hw, 0, &p);
	view = view_of(hw, VIEW_OWNER);
	assert_int_equal(sgx_hw_owner(hw), 1);
	assert_int_equal(sgx_hw_owner(view), VIEW_OWNER);
	assert_int_equal(hw_epc_total_pages(view), hw_epc_total_pages(hw));
	assert_int_equal(hw_xfrm_supported(view), hw_xfrm_supported(hw));
	assert_null(hw_epc_page_addr(view, 0, SECTION_PAGES));
	assert_null(hw_epc_page_addr(view, 2, 0));
	view_mmu(&e, view, &vstate, &vmmu);
	/* The same memory: what the owner wrote, the view reads. */
	assert_memory_equal(vstate.map[EF_RODATA], e.page[EF_RODATA], SGX_PAGE_SIZE);
	assert_true(hw_epc_page_valid(view, vstate.map[EF_TCS]));

	memset(&rt, 0, sizeof(rt));
	rt.owner = hw;
	rt.view = view;
	rt.e = &e;
	rt.mmu = &vmmu;
	round_trip(&rt);
	assert_int_equal(rt.enter, SGX_SUCCESS);
	assert_int_equal(rt.busy_inside, VIEW_OWNER);
	assert_int_equal(rt.threads_inside, 1);
	assert_int_equal(rt.exit, SGX_SUCCESS);
	assert_int_equal(atomic_load(&epcm(hw, e.page[EF_TCS])->tcs_busy), 0);
	assert_int_equal(atomic_load(&epcm(hw, e.secs)->threads), 0);

	memset(&rt, 0, sizeof(rt));
	rt.owner = hw;
	rt.view = view;
	rt.e = &e;
	rt.mmu = &vmmu;
	assert_int_equal(pthread_create(&th, NULL, round_trip, &rt), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(rt.enter, SGX_SUCCESS);
	assert_int_equal(rt.busy_inside, VIEW_OWNER);
	assert_int_equal(rt.threads_inside, 1);
	assert_int_equal(rt.exit, SGX_SUCCESS);
	assert_int_equal(atomic_load(&epcm(hw, e.secs)->threads), 0);

	/* The owner's own threads still hold their TCS with token 1. */
	{
		struct sgx_lp lp;
		struct sgx_cpu_regs *regs = malloc(sizeof(*regs));

		assert_non_null(regs);
		sgx_lp_init(&lp);
		ef_enter(&e, &lp, regs);
		assert_int_equal(atomic_load(&epcm(hw, e.page[EF_TCS])->tcs_busy), 1);
		ef_exit(&e, &lp, regs);
		free(regs);
	}
	sgx_hw_free(view);
	remove_enclave(&e);
	lg_hw_free(hw);
}

/*
 * A view in a forked child enters and dies inside (no EEXIT): its token
 * stays on the TCS until sgx_hw_owner_gone(), after which the enclave can
 * be removed.
 */
static void view_child_killed_inside(void **state)
{
	struct sgx_hw *hw = owner_new(true);
	struct sgx_hw_share share;
	int fds[2 * SGX_HW_MAX_SECTIONS];
	struct ef_enclave e;
	struct ef_params p;
	int status;
	pid_t pid;

	(void)state;
	ef_params_default(&p);
	ef_build(&e, hw, 0, &p);
	assert_int_equal(sgx_hw_share_get(hw, &share, fds), 0);
	for (unsigned int i = 0; i < 2 * SGX_HW_MAX_SECTIONS; i++)
		assert_true(i < 2 * 2 ? fds[i] >= 0 : fds[i] == -1);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child: no cmocka here, an exit code per failure. */
		struct sgx_hw *view = sgx_hw_attach(&share, fds, CHILD_OWNER);
		static struct sgx_cpu_regs regs;
		struct ef_mmu vstate;
		struct hw_mmu vmmu;
		struct sgx_lp lp;

		if (!view)
			_exit(2);
		vstate = e.mmu_state;
		for (unsigned int n = 0; n < EF_PAGES; n++)
			vstate.map[n] = hw_epc_page_addr(view, 0, page_index(hw, e.page[n]));
		vmmu.translate = ef_translate;
		vmmu.ctx = &vstate;
		sgx_lp_init(&lp);
		ef_regs_outside(&regs, SGX_EENTER);
		if (enclu_eenter(view, &lp, &vmmu, &regs) != SGX_SUCCESS || !lp.inside)
			_exit(3);
		_exit(0); /* inside the enclave, as if killed there */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_int_equal(atomic_load(&epcm(hw, e.page[EF_TCS])->tcs_busy), CHILD_OWNER);
	assert_int_equal(atomic_load(&epcm(hw, e.secs)->threads), 1);
	assert_int_equal(encls_eremove(hw, e.page[EF_DATA]), SGX_ENCLAVE_ACT);
	/* Nobody else's TCS. */
	assert_int_equal(sgx_hw_owner_gone(hw, CHILD_OWNER + 1), 0);
	assert_int_equal(sgx_hw_owner_gone(hw, CHILD_OWNER), 1);
	assert_int_equal(atomic_load(&epcm(hw, e.page[EF_TCS])->tcs_busy), 0);
	assert_int_equal(atomic_load(&epcm(hw, e.secs)->threads), 0);
	assert_int_equal(sgx_hw_owner_gone(hw, CHILD_OWNER), 0);
	remove_enclave(&e);
	lg_hw_free(hw);
}

/* An ETRACK that counted the gone thread completes once it is released. */
static void owner_gone_retires_tracking(void **state)
{
	struct sgx_hw *hw = owner_new(true), *view;
	struct ef_enclave e;
	struct ef_params p;
	struct ef_mmu vstate;
	struct hw_mmu vmmu;
	struct sgx_lp lp;
	struct sgx_cpu_regs *regs = malloc(sizeof(*regs));

	(void)state;
	assert_non_null(regs);
	ef_params_default(&p);
	ef_build(&e, hw, 0, &p);
	view = view_of(hw, VIEW_OWNER);
	view_mmu(&e, view, &vstate, &vmmu);
	sgx_lp_init(&lp);
	ef_regs_outside(regs, SGX_EENTER);
	assert_int_equal(enclu_eenter(view, &lp, &vmmu, regs), SGX_SUCCESS);
	assert_int_equal(encls_etrack(hw, e.secs), SGX_SUCCESS);
	assert_int_equal(atomic_load(&epcm(hw, e.secs)->trk_pending), 1);
	/* The view's process is gone: its lp with it. */
	sgx_hw_free(view);
	assert_int_equal(sgx_hw_owner_gone(hw, VIEW_OWNER), 1);
	assert_int_equal(atomic_load(&epcm(hw, e.secs)->trk_pending), 0);
	assert_int_equal(encls_etrack(hw, e.secs), SGX_SUCCESS);
	free(regs);
	remove_enclave(&e);
	lg_hw_free(hw);
}

/* A view never creates EPCM state: a page the owner never used is invalid to it. */
static void view_never_creates_epcm(void **state)
{
	struct sgx_hw *hw = owner_new(true), *view;
	struct epc_ref ref;
	uint8_t *page;

	(void)state;
	view = view_of(hw, VIEW_OWNER);
	/* Section 1, chunk 1: nobody touched it. */
	page = hw_epc_page_addr(view, 1, EPCM_CHUNK_PAGES + 3);
	assert_non_null(page);
	assert_true(epc_resolve(view, page, false, &ref));
	assert_null(ref.e);
	assert_false(epc_resolve(view, page, true, &ref));
	assert_false(hw_epc_page_valid(view, page));
	assert_int_equal(hw_enclave_enter(view, page), GP);
	assert_null(epcm_chunk(&hw->sec[1], 1));
	assert_int_equal(epcm_chunks_end(&hw->sec[1]), 0);
	assert_int_equal(hw_epc_used_pages(view, hw_epc_page_addr(view, 1, 0), SECTION_PAGES), 0);

	/* Once the owner uses the chunk, the view sees its entries. */
	fx_ecreate_default(hw, hw_epc_page_addr(hw, 1, EPCM_CHUNK_PAGES + 3));
	assert_true(epc_resolve(view, page, false, &ref));
	assert_non_null(ref.e);
	assert_true(ref.e->valid);
	assert_int_equal(ref.e->type, SGX_PAGE_TYPE_SECS);
	assert_int_equal(hw_epc_used_pages(view, hw_epc_page_addr(view, 1, 0), SECTION_PAGES),
			 SECTION_PAGES);
	sgx_hw_free(view);
	assert_int_equal(encls_eremove(hw, hw_epc_page_addr(hw, 1, EPCM_CHUNK_PAGES + 3)),
			 SGX_SUCCESS);
	lg_hw_free(hw);
}

/* What sgx_hw_share_get() and sgx_hw_attach() refuse. */
static void share_refusals(void **state)
{
	struct sgx_hw *hw = owner_new(false), *shared, *view;
	struct sgx_hw_share share;
	int fds[2 * SGX_HW_MAX_SECTIONS], swapped[2 * SGX_HW_MAX_SECTIONS];

	(void)state;
	/* No descriptors kept: nothing to share. */
	assert_int_equal(sgx_hw_share_get(hw, &share, fds), -ENOENT);
	lg_hw_free(hw);

	shared = owner_new(true);
	view = view_of(shared, VIEW_OWNER);
	/* A view holds no descriptor either. */
	assert_int_equal(sgx_hw_share_get(view, &share, fds), -ENOENT);
	assert_int_equal(sgx_hw_config(view)->keep_fds, false);
	sgx_hw_free(view);

	assert_int_equal(sgx_hw_share_get(shared, &share, fds), 0);
	assert_true(share.cfg.keep_fds);
	/* Tokens 0 and 1 are not a view's. */
	errno = 0;
	assert_null(sgx_hw_attach(&share, fds, 0));
	assert_int_equal(errno, EINVAL);
	assert_null(sgx_hw_attach(&share, fds, 1));
	assert_int_equal(errno, EINVAL);
	/* An EPCM where the memory should be: sizes differ. */
	memcpy(swapped, fds, sizeof(fds));
	swapped[0] = fds[1];
	swapped[1] = fds[0];
	errno = 0;
	assert_null(sgx_hw_attach(&share, swapped, VIEW_OWNER));
	assert_int_equal(errno, EINVAL);
	share.cfg.nr_sections = 0;
	assert_null(sgx_hw_attach(&share, fds, VIEW_OWNER));
	lg_hw_free(shared);
}

/*
 * hw_epcm_locks_reset(): a page whose lock words a killed process left held
 * (a shared page lock, the SGX2 lock, a TCS busy) becomes removable.
 */
static void locks_reset_makes_removable(void **state)
{
	struct sgx_hw *hw = owner_new(true);
	struct ef_enclave e;
	struct ef_params p;
	struct epcm_entry *data, *tcs;

	(void)state;
	ef_params_default(&p);
	ef_build(&e, hw, 0, &p);
	data = epcm(hw, e.page[EF_DATA]);
	tcs = epcm(hw, e.page[EF_TCS]);
	assert_true(epcm_trylock_shared(data));
	assert_true(epcm_sgx2_trylock(data));
	assert_true(epcm_trylock_shared(tcs));
	atomic_store(&tcs->tcs_busy, CHILD_OWNER);
	assert_int_equal(encls_eremove(hw, e.page[EF_DATA]), GP);
	assert_int_equal(encls_eremove(hw, e.page[EF_TCS]), GP);

	hw_epcm_locks_reset(hw, e.page[EF_DATA]);
	hw_epcm_locks_reset(hw, e.page[EF_TCS]);
	assert_int_equal(atomic_load(&data->lock), 0);
	assert_int_equal(atomic_load(&data->sgx2_busy), 0);
	assert_int_equal(atomic_load(&tcs->tcs_busy), 0);
	/* The counters are left alone: nobody was counted in. */
	assert_int_equal(atomic_load(&epcm(hw, e.secs)->threads), 0);
	remove_enclave(&e);
	/* A page no leaf ever used, and memory that is no EPC: nothing happens. */
	hw_epcm_locks_reset(hw, hw_epc_page_addr(hw, 1, EPCM_CHUNK_PAGES));
	hw_epcm_locks_reset(hw, &p);
	lg_hw_free(hw);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * A shared holder that never lets go (a view's thread killed in mid-leaf):
 * EBLOCK, which waits out shared holders, gives up after the bound with a
 * conflict instead of hanging; so does ETRACK on a SECS.
 */
static void excl_over_shared_bounded(void **state)
{
	const double bound = EPCM_SHARED_WAIT_NS / 1e9;
	struct sgx_hw *hw = owner_new(true);
	struct ef_enclave e;
	struct ef_params p;
	struct epcm_entry *tcs, *secs;
	struct timespec t0;
	double took;

	(void)state;
	ef_params_default(&p);
	ef_build(&e, hw, 0, &p);
	tcs = epcm(hw, e.page[EF_TCS]);
	secs = epcm(hw, e.secs);
	assert_true(epcm_trylock_shared(tcs));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(encls_eblock(hw, e.page[EF_TCS]), SGX_EPC_PAGE_CONFLICT);
	took = seconds_since(&t0);
	assert_true(took >= bound);
	assert_true(took < bound + 5);
	assert_false(tcs->blocked);
	/* The stuck holder is still counted; the lock was not taken over. */
	assert_int_equal(atomic_load(&tcs->lock), 1);

	assert_true(epcm_trylock_shared(secs));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(encls_etrack(hw, e.secs), SGX_EPC_PAGE_CONFLICT);
	took = seconds_since(&t0);
	assert_true(took >= bound && took < bound + 5);

	/* A holder that goes away in time: the wait succeeds, as before. */
	epcm_unlock_shared(secs);
	assert_int_equal(encls_etrack(hw, e.secs), SGX_SUCCESS);
	hw_epcm_locks_reset(hw, e.page[EF_TCS]);
	assert_int_equal(encls_eblock(hw, e.page[EF_TCS]), SGX_SUCCESS);
	remove_enclave(&e);
	lg_hw_free(hw);
}

/*
 * fork() of a platform in private mode: the child's sgx_shm_unshare_all()
 * copies the EPCM object too (its data callback), so the child changes its
 * own EPCM, not the parent's.
 */
static void fork_copies_epcm(void **state)
{
	struct sgx_hw *hw = owner_new(false);
	struct ef_enclave e;
	struct ef_params p;
	int status;
	pid_t pid;

	(void)state;
	ef_params_default(&p);
	ef_build(&e, hw, 0, &p);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (sgx_shm_unshare_all())
			_exit(2);
		/* The copy holds the entries: valid, and removable here. */
		if (!hw_epc_page_valid(hw, e.page[EF_DATA]))
			_exit(3);
		if (encls_eremove(hw, e.page[EF_DATA]) != SGX_SUCCESS)
			_exit(4);
		if (hw_epc_page_valid(hw, e.page[EF_DATA]))
			_exit(5);
		/* A chunk initialised in the child stays the child's. */
		fx_ecreate_default(hw, hw_epc_page_addr(hw, 1, EPCM_CHUNK_PAGES));
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(hw_epc_page_valid(hw, e.page[EF_DATA]));
	assert_null(epcm_chunk(&hw->sec[1], 1));
	assert_int_equal(epcm_chunks_end(&hw->sec[1]), 0);
	remove_enclave(&e);
	lg_hw_free(hw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(view_same_process),
		LG_TEST(view_child_killed_inside),
		LG_TEST(owner_gone_retires_tracking),
		LG_TEST(view_never_creates_epcm),
		LG_TEST(share_refusals),
		LG_TEST(locks_reset_makes_removable),
		LG_TEST(excl_over_shared_bounded),
		LG_TEST(fork_copies_epcm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
