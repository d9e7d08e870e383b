// SPDX-License-Identifier: MIT
/*
 * The fault channel (proto.h: struct svc_fchan; service/fault_chan.c and
 * service/remote.c): a client's faults through memory it shares with the
 * service instead of its socket.
 *
 * - A client's faults take the channel, from a fresh thread too, with
 *   signals arriving; with SOFTSGX_FAULT_CHANNEL=0 they take the socket and
 *   give the same pages.
 * - The channel is the service's to trust nothing of: a raw client that
 *   writes requests of the wrong type, of the wrong length, for addresses
 *   it never mapped, or that asks twice, gets the socket's answers; it
 *   cannot shrink the memfd; a client that leaves with a request pending
 *   takes nothing of the service with it.
 * - A service killed while a fault waits in the channel answers SIGBUS at
 *   once, not after the client's timeout.
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
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/service/remote_fixture.h"
#include "tests/service/svc_fixture.h"

static int setup(void **state)
{
	struct svc_fx *fx = malloc(sizeof(*fx));

	if (!fx)
		return -1;
	fx_init(fx, "fchan");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct svc_fx *fx = *state;

	svc_remote_disconnect();
	handler_remove();
	unsetenv("SOFTSGX_FAULT_CHANNEL");
	fx_fini(fx);
	free(fx);
	return 0;
}

/* ---- a client's faults ---- */

static _Atomic unsigned long alarms;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alarms, 1);
}

/* SIGALRM every 200 µs of real time (@on), or none. */
static void alarms_every_200us(bool on)
{
	struct sigaction sa = {.sa_handler = on ? on_alarm : SIG_IGN};
	struct itimerval it = {.it_interval = {0, on ? 200 : 0}, .it_value = {0, on ? 200 : 0}};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

struct paging {
	struct ek_enclave *e;
	uint64_t rounds, bad;
};

static void *page_rounds(void *arg)
{
	struct paging *p = arg;

	for (uint64_t r = 0; r < p->rounds && !p->bad; r++)
		p->bad = pattern_round(p->e, 0xFA17, r);
	return NULL;
}

/*
 * An enclave of 300 pages on a 1 MiB EPC, paged through from this thread
 * and from a fresh one while SIGALRM arrives: every page intact, the
 * service evicted and reloaded, and svc_remote_channel_faults() counted
 * @channel or none. Returns the faults counted.
 */
static uint64_t page_through(struct svc_fx *fx, bool channel)
{
	static struct ek_enclave e __attribute__((aligned(4096)));
	struct paging p = {.e = &e, .rounds = 3};
	struct svc_status_rep st;
	uint64_t faults;
	pthread_t t;

	fx_start(fx, CLI_ARGS("--epc", "1M", "--sections", "1"));
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	handler_install();
	assert_int_equal(remote_build(&e, 300), 0);
	assert_int_equal(check_built(&e), 0);
	faults = svc_remote_channel_faults();
	atomic_store(&alarms, 0);
	alarms_every_200us(true);
	page_rounds(&p);
	assert_int_equal(p.bad, 0);
	assert_int_equal(pthread_create(&t, NULL, page_rounds, &p), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	alarms_every_200us(false);
	assert_int_equal(p.bad, 0);
	assert_int_equal(check_built(&e), 0);
	assert_true(atomic_load(&alarms) > 0);
	faults = svc_remote_channel_faults() - faults;
	if (channel)
		assert_true(faults >= 300); /* each round faults every page back in */
	else
		assert_int_equal(faults, 0);
	fx_status(fx, &st);
	assert_true(st.evictions >= 300);
	assert_true(st.reloads >= 300);
	fx_assert_invariant(fx, &st);
	printf("%llu faults through the channel, %lu signals, %llu evictions\n",
	       (unsigned long long)faults, atomic_load(&alarms), (unsigned long long)st.evictions);
	return faults;
}

static void test_faults_take_the_channel(void **state)
{
	page_through(*state, true);
}

static void test_faults_take_the_socket_when_told(void **state)
{
	setenv("SOFTSGX_FAULT_CHANNEL", "0", 1);
	page_through(*state, false);
}

/* ---- a raw client of the channel ---- */

struct raw {
	struct svc_client c;
	struct svc_fchan *ch;
	int fd;
	uint32_t seq;
};

static void raw_connect(struct svc_fx *fx, struct raw *r)
{
	struct svc_hello_rep info;

	memset(r, 0, sizeof(*r));
	r->c.fd = -1;
	assert_int_equal(svc_connect(&r->c, fx->dir, NULL, 0, &info), 0);
	assert_int_equal(svc_fault_channel(&r->c, &r->fd), 0);
	r->ch = mmap(NULL, SVC_FCHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	assert_true(r->ch != MAP_FAILED);
	assert_int_equal(atomic_load(&r->ch->state), SVC_FCHAN_IDLE);
}

static void raw_close(struct raw *r)
{
	munmap(r->ch, SVC_FCHAN_SIZE);
	close(r->fd);
	svc_close(&r->c);
}

struct fault_msg {
	struct svc_hdr h;
	struct svc_fault_req f;
};

static struct fault_msg fault_msg(struct raw *r, uint16_t type, uint64_t addr, uint32_t access)
{
	return (struct fault_msg){
		.h = {.magic = SVC_MAGIC,
		      .version = SVC_VERSION,
		      .type = type,
		      .len = sizeof(struct svc_fault_req),
		      .seq = ++r->seq},
		.f = {.addr = addr, .access = access}};
}

/*
 * @m as the channel's request, said to be @len bytes long, and its reply
 * (at most 5 s): its status; its header in *@rep_hdr, its mm reply in *@mm.
 */
static int raw_call(struct raw *r, const struct fault_msg *m, uint32_t len,
		    struct svc_hdr *rep_hdr, struct svc_mm_rep *mm)
{
	struct svc_reply_hdr rh;
	uint64_t end = fx_now_ms() + 5000;

	memcpy(r->ch->req, m, len < sizeof(*m) ? len : sizeof(*m));
	r->ch->req_len = len;
	atomic_store(&r->ch->state, SVC_FCHAN_REQ);
	svc_futex_wake(&r->ch->state);
	while (atomic_load(&r->ch->state) != SVC_FCHAN_REP) {
		assert_true(fx_now_ms() < end);
		usleep(100);
	}
	assert_true(r->ch->rep_len >= sizeof(*rep_hdr) + sizeof(rh));
	memcpy(rep_hdr, r->ch->rep, sizeof(*rep_hdr));
	memcpy(&rh, r->ch->rep + sizeof(*rep_hdr), sizeof(rh));
	assert_int_equal(rep_hdr->len, r->ch->rep_len - sizeof(*rep_hdr));
	if (mm) {
		assert_int_equal(r->ch->rep_len, sizeof(*rep_hdr) + sizeof(rh) + sizeof(*mm));
		memcpy(mm, r->ch->rep + sizeof(*rep_hdr) + sizeof(rh), sizeof(*mm));
	}
	atomic_store(&r->ch->state, SVC_FCHAN_IDLE);
	return rh.status;
}

static void test_raw_client_gets_the_sockets_answers(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_status_rep st;
	struct svc_mm_rep mm;
	struct svc_hdr h;
	struct fault_msg m;
	struct raw r, other;
	int fd;

	fx_start(fx, CLI_ARGS("--epc", "1M", "--sections", "1"));
	raw_connect(fx, &r);

	/* Sealed: the client cannot shrink (or grow) what the service maps. */
	assert_int_equal(ftruncate(r.fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(r.fd, 2 * (off_t)SVC_FCHAN_SIZE), -1);
	/* One channel per client; FAULT_CHANNEL has no payload. */
	assert_int_equal(svc_fault_channel(&r.c, &fd), -EBUSY);
	assert_int_equal(svc_call(&r.c, SVC_FAULT_CHANNEL, &fd, sizeof(fd), NULL, 0, NULL, NULL,
				  NULL),
			 -EINVAL);

	/* A FAULT where nothing is mapped: the process's own fault, as on the socket. */
	m = fault_msg(&r, SVC_FAULT, 0x10000000, PROT_READ);
	memset(&mm, 0xff, sizeof(mm));
	assert_int_equal(raw_call(&r, &m, sizeof(m), &h, &mm), 0);
	assert_int_equal(h.seq, m.h.seq);
	assert_int_equal(h.type, SVC_FAULT | SVC_REPLY);
	assert_int_equal(mm.verdict, SVC_FAULT_NOT_OURS);
	assert_int_equal(mm.nr_ops, 0);

	/* Bad access bits: refused by the same check as on the socket. */
	m = fault_msg(&r, SVC_FAULT, 0x10000000, 0x80000);
	assert_int_equal(raw_call(&r, &m, sizeof(m), &h, NULL), -EINVAL);
	assert_int_equal(h.seq, m.h.seq);
	/* Any other request: the channel is for faults. */
	m = fault_msg(&r, SVC_STATUS, 0, 0);
	m.h.len = 0;
	assert_int_equal(raw_call(&r, &m, sizeof(m.h), &h, NULL), -EINVAL);
	assert_int_equal(h.type, SVC_STATUS | SVC_REPLY);
	/* A length that does not match the header, one beyond the channel, none. */
	m = fault_msg(&r, SVC_FAULT, 0x10000000, PROT_READ);
	assert_int_equal(raw_call(&r, &m, sizeof(m) - 4, &h, NULL), -EPROTO);
	assert_int_equal(raw_call(&r, &m, 1u << 30, &h, NULL), -EPROTO);
	assert_int_equal(raw_call(&r, &m, 0, &h, NULL), -EPROTO);

	/* The socket still serves this client, and the service every other one. */
	assert_int_equal(svc_status(&r.c, &st), 0);
	raw_connect(fx, &other);
	m = fault_msg(&other, SVC_FAULT, 0x20000000, PROT_WRITE);
	assert_int_equal(raw_call(&other, &m, sizeof(m), &h, &mm), 0);
	assert_int_equal(mm.verdict, SVC_FAULT_NOT_OURS);

	/* Leaving with a request pending and the futex word scribbled on: nothing left behind. */
	m = fault_msg(&r, SVC_FAULT, 0x10000000, PROT_READ);
	memcpy(r.ch->req, &m, sizeof(m));
	r.ch->req_len = sizeof(m);
	atomic_store(&r.ch->state, SVC_FCHAN_REQ);
	svc_futex_wake(&r.ch->state);
	raw_close(&r);
	atomic_store(&other.ch->state, 77);
	svc_futex_wake(&other.ch->state);
	raw_close(&other);
	for (uint64_t end = fx_now_ms() + 5000;; usleep(10000)) {
		fx_status(fx, &st);
		if (!st.clients || fx_now_ms() > end)
			break;
	}
	assert_int_equal(st.clients, 0);
	fx_assert_invariant(fx, &st);
}

/* ---- the service gone while a fault waits ---- */

struct waiting_fault {
	void *addr;
	_Atomic int verdict; /* -1 while it waits */
};

static void *fault_in_thread(void *arg)
{
	struct waiting_fault *w = arg;

	atomic_store(&w->verdict, (int)svc_remote_fault(w->addr, PROT_READ));
	return NULL;
}

static void test_service_killed_while_fault_waits(void **state)
{
	struct svc_fx *fx = *state;
	static struct ek_enclave e __attribute__((aligned(4096)));
	struct waiting_fault w = {.verdict = -1};
	uint64_t t0, faults, v = 0;
	pthread_t t;

	fx_start(fx, CLI_ARGS("--epc", "1M", "--sections", "1"));
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	handler_install();
	assert_int_equal(remote_build(&e, 8), 0);
	faults = svc_remote_channel_faults();
	assert_true(try_read(page_at(&e, 1), &v));
	assert_int_equal(v, 1);
	assert_true(svc_remote_channel_faults() > faults);

	/* Stopped, the service answers nothing: a fault on page 3 (never touched) waits. */
	assert_int_equal(kill(fx->pid, SIGSTOP), 0);
	w.addr = (void *)page_at(&e, 3);
	assert_int_equal(pthread_create(&t, NULL, fault_in_thread, &w), 0);
	usleep(300000); /* long past its spin: asleep on the futex */
	assert_int_equal(atomic_load(&w.verdict), -1);
	t0 = fx_now_ms();
	assert_int_equal(kill(fx->pid, SIGKILL), 0);
	assert_int_equal(fx_wait_exit(fx->pid, 5000), 128 + SIGKILL);
	fx->pid = 0;
	assert_int_equal(pthread_join(t, NULL), 0);
	printf("the waiting fault answered %llu ms after the kill\n",
	       (unsigned long long)(fx_now_ms() - t0));
	assert_int_equal(atomic_load(&w.verdict), SVC_FAULT_SIGBUS);
	/* Its timeout is 10 s: it saw the service go. */
	assert_true(fx_now_ms() - t0 < 2000);
	/* The memory mapped already is this process's too. */
	assert_true(try_read(page_at(&e, 1), &v));
	assert_int_equal(v, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_faults_take_the_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults_take_the_socket_when_told, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_raw_client_gets_the_sockets_answers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_service_killed_while_fault_waits, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
