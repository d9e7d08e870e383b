// SPDX-License-Identifier: MIT
/*
 * A client's fault channel (proto.h: struct svc_fchan), the service's side:
 * a sealed memfd both processes map, and a thread that waits on its futex
 * word and dispatches each FAULT written there as the serving thread would
 * have dispatched it from the socket (svc_dispatch(), the same checks),
 * under the connection's dispatch_lock. The thread is the kernel's context
 * of the faulting client, as a page fault on Linux runs on the faulting
 * thread: the serving thread goes on with every other client meanwhile.
 *
 * The client can write the channel at any moment and is not trusted with
 * it: a request is copied out before it is looked at, the reply is written
 * from the thread's own buffer and never read back, and the seals keep the
 * client from shrinking the memfd under the service's mapping (a SIGBUS
 * here). A client that writes nonsense gets the socket's answer to
 * nonsense; one that keeps writing REQ keeps one thread of the service
 * busy, as many FAULT messages would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "service/server.h"

/* How long the thread sleeps on the futex before it looks at its stop flag again. */
#define FCHAN_WAIT_NS 100000000ull

struct svc_fchan_srv {
	struct svc_fchan *ch; /* shared with the client */
	pthread_t thread;
	_Atomic bool stop;
	struct svc_server *s;
	struct svc_conn *c;
	struct svc_out out;
	uint8_t req[SVC_FCHAN_REQ_MAX] __attribute__((aligned(8)));
};

/* One request of the channel, dispatched, and its reply written back. */
static void fchan_serve(struct svc_fchan_srv *f)
{
	struct svc_fchan *ch = f->ch;
	uint32_t len = *(volatile uint32_t *)&ch->req_len;
	struct svc_msg m = {0};
	const struct svc_hdr *h = (const void *)f->req;

	m.trunc = len > sizeof(f->req);
	m.size = m.trunc ? sizeof(f->req) : len;
	memcpy(f->req, ch->req, m.size);
	m.hdr = m.size >= sizeof(*h) ? h : NULL;
	m.payload = f->req + sizeof(*h);
	pthread_mutex_lock(&f->c->dispatch_lock);
	if (m.hdr && h->type == SVC_FAULT) {
		svc_dispatch(f->s, f->c, &m, &f->out);
	} else {
		/* The channel is for faults: anything else is refused as the socket refuses it. */
		int check = svc_msg_check(&m);

		svc_reply_start(&f->out, m.hdr, m.hdr ? h->type : 0, check ? check : -EINVAL);
	}
	pthread_mutex_unlock(&f->c->dispatch_lock);
	memcpy(ch->rep, f->out.buf, f->out.len);
	ch->rep_len = (uint32_t)f->out.len;
	atomic_store(&ch->state, SVC_FCHAN_REP);
	/* It set the flag before it looked at @state a last time: one of us sees the other. */
	if (atomic_exchange(&ch->client_sleeps, 0))
		svc_futex_wake(&ch->state);
}

static void *fchan_main(void *arg)
{
	struct svc_fchan_srv *f = arg;
	sigset_t all;

	/* The service's signals (SIGTERM...) are for its serving thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&f->stop)) {
		uint32_t state = atomic_load(&f->ch->state);

		if (state == SVC_FCHAN_REQ)
			fchan_serve(f);
		else
			svc_futex_wait(&f->ch->state, state, FCHAN_WAIT_NS);
	}
	return NULL;
}

/* A memfd of @size, sealed at that size, mapped here: its descriptor, or -errno. */
static int fchan_memfd(size_t size, void **map)
{
	int fd = memfd_create("softsgx-fault-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		ret = -errno;
	if (!ret) {
		*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (*map == MAP_FAILED)
			ret = -errno;
	}
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int svc_fchan_open(struct svc_server *s, struct svc_conn *c, int *fd)
{
	struct svc_fchan_srv *f;
	void *map = NULL;
	int ret;

	if (c->fchan)
		return -EBUSY;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	ret = fchan_memfd(SVC_FCHAN_SIZE, &map);
	if (ret < 0) {
		free(f);
		return ret;
	}
	*fd = ret;
	f->ch = map;
	f->s = s;
	f->c = c;
	ret = -pthread_create(&f->thread, NULL, fchan_main, f);
	if (ret) {
		munmap(map, SVC_FCHAN_SIZE);
		close(*fd);
		free(f);
		return ret;
	}
	c->fchan = f;
	return 0;
}

void svc_fchan_close(struct svc_conn *c)
{
	struct svc_fchan_srv *f = c->fchan;

	if (!f)
		return;
	atomic_store(&f->stop, true);
	/* Changed, the word wakes the thread even if it was about to sleep on it. */
	atomic_store(&f->ch->state, SVC_FCHAN_CLOSED);
	svc_futex_wake(&f->ch->state);
	pthread_join(f->thread, NULL);
	/* A client sleeping for a reply sees CLOSED: its socket closes next. */
	svc_futex_wake(&f->ch->state);
	munmap(f->ch, SVC_FCHAN_SIZE);
	free(f);
	c->fchan = NULL;
}
