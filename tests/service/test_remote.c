// SPDX-License-Identifier: MIT
/*
 * service/remote.c: client processes build, map and use enclaves through
 * the platform service, with one EPC shared between them. Every test starts
 * its own service in a temporary SOFTSGX_RUNTIME_DIR (svc_fixture.h); the
 * clients are this process or children forked before they connect, each
 * with its own connection. A SIGSEGV handler sends faults on the SGX
 * mappings to svc_remote_fault(), as the shim will.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/service/remote_fixture.h"
#include "tests/service/svc_fixture.h"

/* ---- fixture ---- */

/* What forked clients tell the test while they run (shared memory). */
struct progress {
	_Atomic uint64_t rounds[2], zaps[2];
	_Atomic int stop;
};
static struct progress *progress;


static int setup(void **state)
{
	struct svc_fx *fx = malloc(sizeof(*fx));

	if (!fx)
		return -1;
	fx_init(fx, "remote");
	*state = fx;
	progress = mmap(NULL, sizeof(*progress), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return progress == MAP_FAILED ? -1 : 0;
}

static int teardown(void **state)
{
	struct svc_fx *fx = *state;

	svc_remote_disconnect();
	handler_remove();
	fx_fini(fx);
	free(fx);
	munmap(progress, sizeof(*progress));
	return 0;
}

static void assert_invariant(const struct svc_status_rep *st)
{
	assert_int_equal(st->free_pages + st->in_use_pages + st->leaked_pages + st->zombie_pages,
			 st->total_pages);
}

/* ---- tests ---- */

/*
 * STATUS until every enclave is gone and its pages are free again, for at
 * most 5 s. An enclave leaves the registry first thing at its release
 * (kernel/usage.h) and frees its pages after: a snapshot in between shows
 * no enclave and pages in use (seen with the service under TSan).
 */
static void released_wait(struct svc_fx *fx, struct svc_status_rep *st)
{
	for (uint64_t end = fx_now_ms() + 5000; fx_now_ms() < end; usleep(10000)) {
		fx_status(fx, st);
		if (!st->enclaves && st->free_pages == st->total_pages)
			break;
	}
}

struct one_client {
	struct ek_enclave e __attribute__((aligned(4096)));
	long ret;
	uint64_t bad;
};

static void *build_and_use(void *arg)
{
	struct one_client *oc = arg;

	oc->ret = remote_build(&oc->e, 48);
	if (oc->ret)
		return NULL;
	oc->bad = check_built(&oc->e);
	for (uint64_t r = 0; r < 3 && !oc->bad; r++)
		oc->bad = pattern_round(&oc->e, 0xC0FFEE, r);
	return NULL;
}

/*
 * One client builds the fixture enclave through the service, maps it, and
 * reads and writes it through its own page tables; on this thread and on a
 * freshly created one. Closing and unmapping release it.
 */
static void test_build_and_use(void **state)
{
	struct svc_fx *fx = *state;
	static struct one_client oc[2];
	struct svc_status_rep st;
	pthread_t t;
	int h;

	memset(oc, 0, sizeof(oc));
	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), -EALREADY);
	handler_install();
	build_and_use(&oc[0]);
	assert_int_equal(oc[0].ret, 0);
	assert_int_equal(oc[0].bad, 0);
	assert_int_equal(pthread_create(&t, NULL, build_and_use, &oc[1]), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(oc[1].ret, 0);
	assert_int_equal(oc[1].bad, 0);
	fx_status(fx, &st);
	assert_int_equal(st.enclaves, 2);
	assert_invariant(&st);

	/* Linux's answers for a bad handle, a bad pointer, an unknown command. */
	assert_int_equal(svc_remote_ioctl(999, SGX_IOC_ENCLAVE_INIT, &(uint64_t){0}), -EBADF);
	h = svc_remote_open(SVC_OPEN_ENCLAVE);
	assert_true(h >= 0);
	assert_int_equal(svc_remote_ioctl(h, SGX_IOC_ENCLAVE_CREATE, (void *)16), -EFAULT);
	assert_int_equal(svc_remote_close(h), 0);
	assert_int_equal(svc_remote_ioctl(oc[0].e.fd, 0x1234, NULL), -ENOTTY);

	/* mprotect read-only: reads still work (installs come back read-only). */
	assert_int_equal(svc_remote_mprotect((void *)(uintptr_t)oc[0].e.base, oc[0].e.size,
					     PROT_READ),
			 0);
	assert_int_equal(check_built(&oc[0].e), 0);

	/*
	 * SGX2: EMODT to TRIM of a mapped page. The argument struct comes back
	 * written (count), and the page's PTE is dropped through the notify
	 * channel.
	 */
	{
		struct sgx_enclave_modify_types mt = {
			.offset = 2 * PAGE, .length = PAGE, .page_type = SGX_PAGE_TYPE_TRIM};
		uint64_t v, zaps;

		assert_true(try_read(page_at(&oc[0].e, 2), &v));
		zaps = svc_remote_zaps();
		assert_int_equal(svc_remote_ioctl(oc[0].e.fd, SGX_IOC_ENCLAVE_MODIFY_TYPES, &mt), 0);
		assert_int_equal(mt.count, PAGE);
		assert_int_equal(mt.result, 0);
		assert_true(svc_remote_zaps() > zaps);
	}

	for (int i = 0; i < 2; i++) {
		assert_int_equal(svc_remote_munmap((void *)(uintptr_t)oc[i].e.base, oc[i].e.size),
				 0);
		assert_int_equal(svc_remote_close(oc[i].e.fd), 0);
		assert_int_equal(svc_remote_close(oc[i].e.fd), -EBADF);
	}
	fx_status(fx, &st);
	assert_int_equal(st.enclaves, 0);
	assert_int_equal(st.free_pages, st.total_pages);
}

/*
 * A client process: build @nr_reg pages, report, loop @rounds (0: until
 * progress->stop, or killed), publishing its rounds and zaps as slot @slot.
 */
struct client_plan {
	uint64_t nr_reg, rounds, tag;
	unsigned int slot;
	int report; /* pipe: 'b' built, then the zaps it got (u64) at the end */
	int go;	    /* pipe: a byte before the loop; another before exit (-1: none) */
	bool pause_acks;
};

static void wait_byte(int fd)
{
	char b;

	if (fd >= 0)
		CHILD_CHECK(read(fd, &b, 1) == 1);
}

static void __attribute__((noreturn)) client_main(struct svc_fx *fx, const struct client_plan *p)
{
	static struct ek_enclave e __attribute__((aligned(4096)));
	uint64_t zaps;

	CHILD_CHECK(svc_remote_connect(fx->dir, NULL, NULL) == 0);
	handler_install();
	CHILD_CHECK(remote_build(&e, p->nr_reg) == 0);
	CHILD_CHECK(check_built(&e) == 0);
	if (p->pause_acks) {
		/* Every page resident and mapped here, then no acknowledgement any more. */
		CHILD_CHECK(pattern_round(&e, p->tag, 0) == 0);
		svc_remote_notify_pause(true);
	}
	CHILD_CHECK(write(p->report, "b", 1) == 1);
	wait_byte(p->go);
	svc_remote_notify_pause(false);
	/* What it wrote before it went deaf survived the others' paging. */
	if (p->pause_acks)
		CHILD_CHECK(verify_round(&e, p->tag, 0) == 0);
	for (uint64_t r = 0; p->rounds ? r < p->rounds : !atomic_load(&progress->stop); r++) {
		CHILD_CHECK(pattern_round(&e, p->tag, r) == 0);
		atomic_store(&progress->rounds[p->slot], r + 1);
		atomic_store(&progress->zaps[p->slot], svc_remote_zaps());
	}
	zaps = svc_remote_zaps();
	CHILD_CHECK(write(p->report, &zaps, sizeof(zaps)) == sizeof(zaps));
	wait_byte(p->go);
	svc_remote_disconnect();
	_exit(0);
}

static pid_t spawn_client(struct svc_fx *fx, struct client_plan *p, int report[2], int go[2])
{
	pid_t pid;

	assert_int_equal(pipe(report), 0);
	if (go)
		assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(report[0]);
		if (go)
			close(go[1]);
		p->report = report[1];
		p->go = go ? go[0] : -1;
		client_main(fx, p);
	}
	close(report[1]);
	if (go)
		close(go[0]);
	return pid;
}

static void expect_byte(int fd, char want)
{
	char b = 0;

	assert_int_equal(read(fd, &b, 1), 1);
	assert_int_equal(b, want);
}

static int exit_status(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Two client processes each build an enclave larger than half the EPC and
 * loop writing and reading their patterns: both stay correct, and each is
 * evicted by the other (its notify thread applied zaps; the service counts
 * evictions and reloads).
 */
static void test_two_clients_evict_each_other(void **state)
{
	struct svc_fx *fx = *state;
	struct client_plan a = {.nr_reg = 300, .tag = 0xAAAA0000, .slot = 0};
	struct client_plan b = {.nr_reg = 300, .tag = 0xBBBB0000, .slot = 1};
	int ra[2], rb[2], ga[2], gb[2];
	struct svc_status_rep st;
	uint64_t za = 0, zb = 0;
	pid_t pa, pb;

	/* 512 pages of EPC: two enclaves of 301 pages each do not fit together. */
	fx_start(fx, CLI_ARGS("--epc", "2M", "--sections", "1"));
	pa = spawn_client(fx, &a, ra, ga);
	pb = spawn_client(fx, &b, rb, gb);
	expect_byte(ra[0], 'b');
	expect_byte(rb[0], 'b');
	assert_int_equal(write(ga[1], "g", 1), 1);
	assert_int_equal(write(gb[1], "g", 1), 1);
	/* Both loop until each has had pages taken while the other ran, and done 3 rounds. */
	for (uint64_t end = fx_now_ms() + 60000; fx_now_ms() < end; usleep(10000)) {
		if (atomic_load(&progress->zaps[0]) && atomic_load(&progress->zaps[1]) &&
		    atomic_load(&progress->rounds[0]) >= 3 && atomic_load(&progress->rounds[1]) >= 3)
			break;
	}
	atomic_store(&progress->stop, 1);
	assert_int_equal(read(ra[0], &za, sizeof(za)), sizeof(za));
	assert_int_equal(read(rb[0], &zb, sizeof(zb)), sizeof(zb));
	fx_status(fx, &st);
	assert_int_equal(st.enclaves, 2);
	assert_invariant(&st);
	assert_true(st.evictions > 0);
	assert_true(st.reloads > 0);
	assert_int_equal(write(ga[1], "x", 1), 1);
	assert_int_equal(write(gb[1], "x", 1), 1);
	assert_int_equal(exit_status(pa), 0);
	assert_int_equal(exit_status(pb), 0);
	printf("zaps applied: a %llu, b %llu; evictions %llu, reloads %llu\n",
	       (unsigned long long)za, (unsigned long long)zb, (unsigned long long)st.evictions,
	       (unsigned long long)st.reloads);
	/* Each lost pages to the other: more than it could have lost to itself alone. */
	assert_true(za > 0);
	assert_true(zb > 0);
	released_wait(fx, &st);
	assert_int_equal(st.enclaves, 0);
	assert_int_equal(st.free_pages, st.total_pages);
	for (int i = 0; i < 2; i++) {
		close((int[]){ra[0], rb[0]}[i]);
		close((int[]){ga[1], gb[1]}[i]);
	}
}

/*
 * A client SIGKILLed while the other pages: its enclave is released, the
 * survivor keeps working, the EPC invariant holds and in use is what the
 * survivor holds.
 */
static void test_client_killed(void **state)
{
	struct svc_fx *fx = *state;
	struct client_plan a = {.nr_reg = 300, .rounds = 6, .tag = 0xA0, .slot = 0};
	struct client_plan v = {.nr_reg = 300, .rounds = 0, .tag = 0xB0, .slot = 1};
	int ra[2], rv[2], ga[2], gv[2];
	struct svc_status_rep st;
	uint64_t za;
	pid_t pa, pv;

	fx_start(fx, CLI_ARGS("--epc", "2M", "--sections", "1"));
	pa = spawn_client(fx, &a, ra, ga);
	pv = spawn_client(fx, &v, rv, gv);
	expect_byte(ra[0], 'b');
	expect_byte(rv[0], 'b');
	assert_int_equal(write(gv[1], "g", 1), 1);
	assert_int_equal(write(ga[1], "g", 1), 1);
	usleep(200000); /* both paging against each other */
	kill(pv, SIGKILL);
	assert_int_equal(exit_status(pv), 128 + SIGKILL);
	/* The survivor finishes its rounds, every page correct. */
	assert_int_equal(read(ra[0], &za, sizeof(za)), sizeof(za));
	for (uint64_t end = fx_now_ms() + 5000; fx_now_ms() < end; usleep(10000)) {
		fx_status(fx, &st);
		if (st.enclaves == 1)
			break;
	}
	assert_int_equal(st.enclaves, 1);
	assert_invariant(&st);
	assert_int_equal(st.zombie_pages, 0);
	assert_int_equal(st.leaked_pages, 0);
	/* The survivor's pages: its 301, SECS and VA pages at most, resident or not. */
	assert_true(st.in_use_pages > 0);
	assert_true(st.in_use_pages <= 301 + 1 + 2);
	assert_int_equal(write(ga[1], "x", 1), 1);
	assert_int_equal(exit_status(pa), 0);
	released_wait(fx, &st);
	assert_int_equal(st.enclaves, 0);
	assert_int_equal(st.free_pages, st.total_pages);
	close(ra[0]);
	close(rv[0]);
	close(ga[1]);
	close(gv[1]);
}

/*
 * The service SIGKILLed: calls return EIO within a second, a fault that
 * needs the service is SIGBUS, a page already mapped stays readable.
 */
static void test_service_killed(void **state)
{
	struct svc_fx *fx = *state;
	static struct ek_enclave e __attribute__((aligned(4096)));
	struct sgx_enclave_init init = {0};
	uint64_t t0, v = 0;

	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	handler_install();
	assert_int_equal(remote_build(&e, 8), 0);
	assert_true(try_read(page_at(&e, 1), &v));
	assert_int_equal(v, 1);

	kill(fx->pid, SIGKILL);
	assert_int_equal(fx_wait_exit(fx->pid, 5000), 128 + SIGKILL);
	fx->pid = 0;
	t0 = fx_now_ms();
	assert_int_equal(svc_remote_ioctl(e.fd, SGX_IOC_ENCLAVE_INIT, &init), -EIO);
	assert_int_equal(svc_remote_open(SVC_OPEN_ENCLAVE), -EIO);
	assert_true(fx_now_ms() - t0 < 1000);
	/* Page 2 was never touched: its fault has nobody to answer. */
	assert_false(try_read(page_at(&e, 2), &v));
	assert_int_equal(svc_remote_fault((void *)page_at(&e, 3), PROT_READ), SVC_FAULT_SIGBUS);
	/* The memory mapped already is this process's too. */
	assert_true(try_read(page_at(&e, 1), &v));
	assert_int_equal(v, 1);
	assert_true(fx_now_ms() - t0 < 1000);
	/* Disconnected, as at exit, nothing of the EPC stays mapped. */
	svc_remote_disconnect();
	assert_false(try_read(page_at(&e, 1), &v));
}

/*
 * A client that never acknowledges a zap (its notify thread stopped) does
 * not hang the reclaimer: the other client pages through the EPC all the
 * same, and the stalled one's pages stay resident and intact.
 */
static void test_unacked_zap(void **state)
{
	struct svc_fx *fx = *state;
	struct client_plan a = {.nr_reg = 300, .rounds = 3, .tag = 0xA1};
	/* 251 + 301 pages and their SECS and VA pages do not fit in 512. */
	struct client_plan s = {.nr_reg = 250, .rounds = 2, .tag = 0x51, .pause_acks = true};
	int ra[2], rs[2], ga[2], gs[2];
	struct svc_status_rep st;
	uint64_t za, zs, t0;
	pid_t pa, ps;
	bool found;
	char *log;

	fx_start(fx, CLI_ARGS("--epc", "2M", "--sections", "1"));
	ps = spawn_client(fx, &s, rs, gs);
	expect_byte(rs[0], 'b'); /* resident, mapped, and deaf */
	t0 = fx_now_ms();
	pa = spawn_client(fx, &a, ra, ga);
	expect_byte(ra[0], 'b');
	assert_int_equal(write(ga[1], "g", 1), 1);
	assert_int_equal(read(ra[0], &za, sizeof(za)), sizeof(za));
	printf("the other client built and paged in %llu ms\n",
	       (unsigned long long)(fx_now_ms() - t0));
	assert_true(fx_now_ms() - t0 < 60000);
	fx_status(fx, &st);
	assert_invariant(&st);
	assert_int_equal(write(ga[1], "x", 1), 1);
	assert_int_equal(exit_status(pa), 0);
	/* Acknowledging again, the stalled client finds its data intact. */
	assert_int_equal(write(gs[1], "g", 1), 1);
	assert_int_equal(read(rs[0], &zs, sizeof(zs)), sizeof(zs));
	assert_int_equal(write(gs[1], "x", 1), 1);
	assert_int_equal(exit_status(ps), 0);
	log = fx_log(fx);
	found = strstr(log, "does not acknowledge zaps") != NULL;
	if (!found)
		printf("service log:\n%s", log);
	free(log);
	assert_true(found);
	assert_true(st.evictions > 0);
	close(ra[0]);
	close(rs[0]);
	close(ga[1]);
	close(gs[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_build_and_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_clients_evict_each_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unacked_zap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
