// SPDX-License-Identifier: MIT
/*
 * KICK, the model's IPI in the platform service (service/client_mm.c
 * svc_kick_clients(), service/remote.c svc_remote_set_kick()): what the
 * kernel model kicks for (here an SGX2 EMODPR's ETRACK, and a munmap that
 * drops the last VMA of an enclave) reaches every client with a notify
 * channel, whose notify thread runs the kick function it registered before
 * it acknowledges; a client that does not acknowledge holds the service up
 * once for at most the bound and is skipped afterwards, until it reads
 * again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/service/remote_fixture.h"
#include "tests/service/svc_fixture.h"

/* Kicks each process's function ran, and what the other client does next (shared memory). */
struct shared {
	_Atomic uint64_t kicks[2]; /* [0] this process, [1] the other client */
	_Atomic int child_cmd;	   /* CMD_* the test asks of the other client */
	_Atomic int child_done;	   /* the last CMD_* it carried out */
};
#define CMD_NONE   0
#define CMD_PAUSE  1 /* stop reading the notify channel */
#define CMD_RESUME 2
#define CMD_EXIT   3

static struct shared *sh;
static unsigned int my_slot;
static pid_t other_pid; /* the other client, reaped at teardown if a test failed first */

/* The kick function: on the notify thread, before the acknowledgement. */
static void count_kick(void)
{
	atomic_fetch_add(&sh->kicks[my_slot], 1);
}

static int setup(void **state)
{
	struct svc_fx *fx = malloc(sizeof(*fx));

	if (!fx)
		return -1;
	fx_init(fx, "kick");
	*state = fx;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return sh == MAP_FAILED ? -1 : 0;
}

static int teardown(void **state)
{
	struct svc_fx *fx = *state;

	if (other_pid > 0) {
		kill(other_pid, SIGKILL);
		waitpid(other_pid, NULL, 0);
		other_pid = 0;
	}
	svc_remote_set_kick(NULL);
	svc_remote_disconnect();
	handler_remove();
	fx_fini(fx);
	free(fx);
	munmap(sh, sizeof(*sh));
	return 0;
}

/* The other client: connected, counting its kicks, doing what the test asks until EXIT. */
static void __attribute__((noreturn)) other_client(struct svc_fx *fx, int ready)
{
	int done = CMD_NONE;

	my_slot = 1;
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
	CHILD_CHECK(svc_remote_connect(fx->dir, NULL, NULL) == 0);
	svc_remote_set_kick(count_kick);
	CHILD_CHECK(write(ready, "c", 1) == 1);
	while (done != CMD_EXIT) {
		int cmd = atomic_load(&sh->child_cmd);

		if (cmd == done) {
			usleep(1000);
			continue;
		}
		if (cmd == CMD_PAUSE)
			svc_remote_notify_pause(true);
		else if (cmd == CMD_RESUME)
			svc_remote_notify_pause(false);
		done = cmd;
		atomic_store(&sh->child_done, done);
	}
	svc_remote_disconnect();
	_exit(0);
}

static pid_t spawn_other(struct svc_fx *fx)
{
	int p[2];
	char b = 0;
	pid_t pid;

	atomic_store(&sh->child_cmd, CMD_NONE);
	atomic_store(&sh->child_done, CMD_NONE);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(p[0]);
		other_client(fx, p[1]);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &b, 1), 1);
	assert_int_equal(b, 'c');
	close(p[0]);
	other_pid = pid;
	return pid;
}

static void tell_other(int cmd)
{
	atomic_store(&sh->child_cmd, cmd);
	for (uint64_t end = fx_now_ms() + 5000; fx_now_ms() < end; usleep(1000))
		if (atomic_load(&sh->child_done) == cmd)
			return;
	fail_msg("the other client did not carry out command %d", cmd);
}

static int exit_status(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	other_pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct restrict_call {
	const struct ek_enclave *e;
	uint64_t page;
	long ret;
	uint64_t ms;
};

/* EMODPR of one page to read-only: ETRACK, so the kernel kicks every client. */
static void *restrict_page(void *arg)
{
	struct restrict_call *rc = arg;
	struct sgx_enclave_restrict_permissions rp = {
		.offset = rc->page * PAGE,
		.length = PAGE,
		.permissions = SGX_SECINFO_R,
	};
	uint64_t t0 = fx_now_ms();

	rc->ret = svc_remote_ioctl(rc->e->fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp);
	if (!rc->ret && (rp.result || rp.count != PAGE))
		rc->ret = -ERANGE;
	rc->ms = fx_now_ms() - t0;
	return NULL;
}

static void restrict_on_new_thread(struct restrict_call *rc)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, restrict_page, rc), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/*
 * A kick reaches both clients and runs their kick functions: an SGX2
 * ioctl's ETRACK (made on this thread and on a new one), and the munmap
 * that drops the enclave's last VMA. A process without a kick function
 * acknowledges all the same.
 */
static void test_kick_reaches_every_client(void **state)
{
	struct svc_fx *fx = *state;
	static struct ek_enclave e __attribute__((aligned(4096)));
	struct restrict_call rc = {.e = &e, .page = 1};
	uint64_t mine, other, seen;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	my_slot = 0;
	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	pid = spawn_other(fx);
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	handler_install();
	assert_int_equal(remote_build(&e, 8), 0);
	assert_int_equal(check_built(&e), 0);

	/* No kick function yet: acknowledged, counted by the library only. */
	seen = svc_remote_kicks();
	other = atomic_load(&sh->kicks[1]);
	restrict_page(&rc);
	assert_int_equal(rc.ret, 0);
	assert_true(svc_remote_kicks() > seen);
	assert_int_equal(atomic_load(&sh->kicks[0]), 0);
	assert_true(atomic_load(&sh->kicks[1]) > other);

	svc_remote_set_kick(count_kick);
	other = atomic_load(&sh->kicks[1]);
	rc.page = 2;
	restrict_page(&rc);
	assert_int_equal(rc.ret, 0);
	mine = atomic_load(&sh->kicks[0]);
	assert_true(mine > 0);
	assert_true(atomic_load(&sh->kicks[1]) > other);

	/* From a freshly created thread. */
	other = atomic_load(&sh->kicks[1]);
	rc.page = 3;
	restrict_on_new_thread(&rc);
	assert_int_equal(rc.ret, 0);
	assert_true(atomic_load(&sh->kicks[0]) > mine);
	assert_true(atomic_load(&sh->kicks[1]) > other);
	/* The page reads still, read-only now. */
	assert_int_equal(page_at(&e, 3)[0], 3);

	/* munmap of the enclave's last VMA: threads inside it leave first. */
	mine = atomic_load(&sh->kicks[0]);
	other = atomic_load(&sh->kicks[1]);
	assert_int_equal(svc_remote_munmap((void *)(uintptr_t)e.base, e.size), 0);
	assert_true(atomic_load(&sh->kicks[0]) > mine);
	assert_true(atomic_load(&sh->kicks[1]) > other);
	assert_int_equal(svc_remote_close(e.fd), 0);

	tell_other(CMD_EXIT);
	assert_int_equal(exit_status(pid), 0);
}

/*
 * A client that does not acknowledge (its notify thread stopped) costs a
 * kick the bound once, then is skipped at once; the clients that answer
 * are kicked all the while. Reading again, it is kicked again.
 */
static void test_unacked_kick(void **state)
{
	struct svc_fx *fx = *state;
	static struct ek_enclave e __attribute__((aligned(4096)));
	struct restrict_call rc = {.e = &e};
	uint64_t mine, other;
	bool found;
	char *log;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	my_slot = 0;
	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	pid = spawn_other(fx);
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	svc_remote_set_kick(count_kick);
	handler_install();
	assert_int_equal(remote_build(&e, 8), 0);
	tell_other(CMD_PAUSE);

	/* Bounded: SVC_ZAP_TIMEOUT_MS for the deaf client, once. */
	mine = atomic_load(&sh->kicks[0]);
	rc.page = 1;
	restrict_page(&rc);
	printf("EMODPR with a deaf client: %llu ms\n", (unsigned long long)rc.ms);
	assert_int_equal(rc.ret, 0);
	assert_true(rc.ms < 3 * SVC_ZAP_TIMEOUT_MS);
	assert_true(atomic_load(&sh->kicks[0]) > mine);
	assert_int_equal(atomic_load(&sh->kicks[1]), 0);

	/* Then skipped: no wait at all. */
	mine = atomic_load(&sh->kicks[0]);
	rc.page = 2;
	restrict_on_new_thread(&rc);
	printf("EMODPR with a deaf client skipped: %llu ms\n", (unsigned long long)rc.ms);
	assert_int_equal(rc.ret, 0);
	assert_true(rc.ms < SVC_ZAP_TIMEOUT_MS / 2);
	assert_true(atomic_load(&sh->kicks[0]) > mine);

	/* Reading again, it runs the kicks it missed and is kicked again. */
	tell_other(CMD_RESUME);
	for (uint64_t end = fx_now_ms() + 5000; fx_now_ms() < end; usleep(1000))
		if (atomic_load(&sh->kicks[1]))
			break;
	other = atomic_load(&sh->kicks[1]);
	assert_true(other > 0);
	rc.page = 3;
	restrict_page(&rc);
	assert_int_equal(rc.ret, 0);
	assert_true(rc.ms < SVC_ZAP_TIMEOUT_MS / 2);
	assert_true(atomic_load(&sh->kicks[1]) > other);

	log = fx_log(fx);
	found = strstr(log, "does not acknowledge a kick") != NULL;
	if (!found)
		printf("service log:\n%s", log);
	free(log);
	assert_true(found);
	assert_int_equal(svc_remote_munmap((void *)(uintptr_t)e.base, e.size), 0);
	assert_int_equal(svc_remote_close(e.fd), 0);
	tell_other(CMD_EXIT);
	assert_int_equal(exit_status(pid), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kick_reaches_every_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unacked_kick, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
