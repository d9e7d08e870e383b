// SPDX-License-Identifier: MIT
/*
 * The platform service's failure model under load (issue 16, docs/
 * platform-service.md): a client SIGKILLed at a random moment — connecting,
 * in an ioctl of its build, mapping, in a fault, paging, while the
 * reclaimer zaps its pages — loses its references, and the service releases
 * its enclave as Linux's last close does. Meanwhile another client pages an
 * enclave larger than half the EPC and must stay correct. After each kill
 * the service's STATUS must show the EPC invariant (free + in use + leaked
 * + zombie == total) with nothing leaked and no zombie, and once every
 * client is gone nothing in use.
 *
 * 25 kills in `make check`; 1000 with SOFTSGX_STRESS=long (make check-stress).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "tests/service/remote_fixture.h"
#include "tests/service/svc_fixture.h"

#define EPC_PAGES     256 /* --epc 1M */
#define PAGER_PAGES   150 /* more than half the EPC: it pages against the victims */
#define VICTIM_PAGES  110 /* with the pager's, more than the EPC: they evict each other */

struct shared {
	_Atomic int stop;
	_Atomic uint64_t rounds; /* the pager's */
	_Atomic int victim_ready;
};

static struct shared *sh;

static unsigned int nr_kills(void)
{
	const char *s = getenv("SOFTSGX_STRESS");

	return s && !strcmp(s, "long") ? 1000 : 25;
}

/* A client: connect, build an enclave of @pages, then page it until told to stop (or killed). */
static void __attribute__((noreturn)) client(struct svc_fx *fx, uint64_t pages, bool pager)
{
	struct ek_enclave e;
	uint64_t tag = pager ? 0xAAAA : 0x5555;

	handler_install();
	CHILD_CHECK(svc_remote_connect(fx->dir, NULL, NULL) == 0);
	CHILD_CHECK(remote_build(&e, pages) == 0);
	CHILD_CHECK(check_built(&e) == 0);
	if (!pager)
		atomic_store(&sh->victim_ready, 1);
	for (uint64_t r = 1; !atomic_load(&sh->stop); r++) {
		CHILD_CHECK(pattern_round(&e, tag, r) == 0);
		if (pager)
			atomic_fetch_add(&sh->rounds, 1);
	}
	CHILD_CHECK(svc_remote_munmap((void *)(uintptr_t)e.base, e.size) == 0);
	CHILD_CHECK(svc_remote_close(e.fd) == 0);
	svc_remote_disconnect();
	_exit(0);
}

static pid_t spawn(struct svc_fx *fx, uint64_t pages, bool pager)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid)
		client(fx, pages, pager);
	return pid;
}

/* The service has seen @clients clients go: wait (boundedly) until that many remain. */
static void wait_clients(struct svc_fx *fx, unsigned int clients, struct svc_status_rep *st)
{
	uint64_t end = fx_now_ms() + 5000;

	do {
		fx_status(fx, st);
		if (st->clients == clients)
			return;
		usleep(1000);
	} while (fx_now_ms() < end);
	fail_msg("%u clients still connected after 5 s (want %u)", st->clients, clients);
}

static void test_clients_killed_at_random_points(void **state)
{
	struct svc_fx *fx = *state;
	unsigned int kills = nr_kills(), ready_kills = 0;
	struct svc_status_rep st;
	uint64_t rounds_before, t0, window_us;
	pid_t pager, victim;
	int status_code;

	fx_start(fx, CLI_ARGS("--epc", "1M", "--sections", "1", "--idle-timeout", "0"));
	pager = spawn(fx, PAGER_PAGES, true);
	while (!atomic_load(&sh->rounds))
		usleep(1000);
	/*
	 * How long a victim takes to connect and build: kills fall anywhere in
	 * twice that, so about half land in its build and half in its paging.
	 */
	t0 = fx_now_ms();
	victim = spawn(fx, VICTIM_PAGES, false);
	while (!atomic_load(&sh->victim_ready) && fx_now_ms() < t0 + 10000)
		usleep(200);
	assert_true(atomic_load(&sh->victim_ready));
	window_us = 2000 * (fx_now_ms() - t0) + 5000;
	usleep(20000); /* paging against the pager for a while */
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_int_equal(waitpid(victim, &status_code, 0), victim);
	wait_clients(fx, 1, &st);
	fx_assert_invariant(fx, &st);
	for (unsigned int i = 0; i < kills; i++) {
		unsigned int seed = i * 2654435761u;

		atomic_store(&sh->victim_ready, 0);
		victim = spawn(fx, VICTIM_PAGES, false);
		usleep((useconds_t)(rand_r(&seed) % window_us));
		ready_kills += atomic_load(&sh->victim_ready);
		assert_int_equal(kill(victim, SIGKILL), 0);
		assert_int_equal(waitpid(victim, &status_code, 0), victim);
		/* Killed, or (rarely) a build that failed first: never a check that failed. */
		assert_true(WIFSIGNALED(status_code) || WEXITSTATUS(status_code) != 2);
		wait_clients(fx, 1, &st);
		fx_assert_invariant(fx, &st);
	}
	rounds_before = atomic_load(&sh->rounds);
	/* The pager kept going through all of it, and still does. */
	while (atomic_load(&sh->rounds) < rounds_before + 2)
		usleep(1000);
	atomic_store(&sh->stop, 1);
	assert_int_equal(waitpid(pager, &status_code, 0), pager);
	assert_true(WIFEXITED(status_code));
	assert_int_equal(WEXITSTATUS(status_code), 0);
	wait_clients(fx, 0, &st);
	fx_assert_invariant(fx, &st);
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.free_pages, EPC_PAGES);
	print_message("%u clients killed at random in %llu ms (%u while paging), pager rounds %llu, "
		      "evictions %llu, reloads %llu\n",
		      kills, (unsigned long long)window_us / 1000, ready_kills, (unsigned long long)atomic_load(&sh->rounds),
		      (unsigned long long)st.evictions, (unsigned long long)st.reloads);
	assert_true(st.evictions > 0);
}

static int setup(void **state)
{
	struct svc_fx *fx = calloc(1, sizeof(*fx));

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!fx || sh == MAP_FAILED)
		return -1;
	fx_init(fx, "svckill");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_fini(*state);
	free(*state);
	munmap(sh, sizeof(*sh));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clients_killed_at_random_points, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
