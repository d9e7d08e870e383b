// SPDX-License-Identifier: MIT
/*
 * The address space of a client process as the service's kernel model sees
 * it (kernel/mm.h): one struct sgx_mm per client connection, created at
 * HELLO, torn down when the connection goes, which is how a client killed
 * at any moment loses its references (sgx_mm_exit(): its VMAs and files go,
 * and the last reference to an enclave releases it as Linux's last close).
 *
 * The operations act on a process the service cannot touch, so each one is
 * either a record in the reply of the client's own request or a message:
 *   - reserve and install, made only inside a request of the client (mmap,
 *     mprotect, a fault: struct svc_req_ctx on the dispatching thread), are
 *     PTE operations returned in its reply, which the client applies before
 *     it returns. The client reserved an mmap's range itself, so reserve
 *     takes its address. Outside a request of this mm they fail.
 *   - zap goes to the client's notify thread and waits for its
 *     acknowledgement, from whichever thread zaps (ksgxd under encl->lock,
 *     a fault of another client reclaiming): a TLB shootdown. The
 *     reclaimer zaps a whole batch at once: one ZAP message (up to
 *     SVC_ZAP_MAX_PAGES addresses) and one acknowledgement. Never longer
 *     than SVC_ZAP_TIMEOUT_MS: a client that does not answer makes the zap
 *     fail (-ETIMEDOUT) and the reclaimer keeps the page. A client whose
 *     socket is gone has nothing left to zap: success, as Linux zaps an
 *     exiting mm without asking it.
 *   - unmap inside the client's own request is its own to do (munmap after
 *     MUNMAP, dropping its reservation after a failed MMAP); outside one
 *     (munmap of a shared VMA in another process) it is a message as zap.
 *   - access_user reads and writes the windows of user memory the client
 *     sent with its IOCTL; any other pointer is -EFAULT. It must never be
 *     NULL here: NULL means the service's own memory, and a client's pointer
 *     read there would be a confused deputy.
 *
 * The kernel's kick (its IPI, k->kick) is a KICK on every client's notify
 * channel, bounded as zaps are (svc_kick_clients()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hw/hw.h"
#include "kernel/mm.h"
#include "service/server.h"
#include "kernel/sgx.h"

#define PAGE 4096ull
/* The top of a user address space on x86-64 with 4-level paging. */
#define USER_TOP (1ull << 47)

static __thread struct svc_req_ctx *cur_req;

void svc_req_begin(struct svc_req_ctx *r)
{
	cur_req = r;
}

void svc_req_end(void)
{
	cur_req = NULL;
}

/* The request of @mm's client being served on this thread, or NULL. */
static struct svc_req_ctx *req_of(struct sgx_mm *mm)
{
	return cur_req && cur_req->mm == mm ? cur_req : NULL;
}

static struct svc_pte_op *add_op(struct svc_req_ctx *r)
{
	struct svc_pte_op *op;

	if (r->nr_ops == r->cap_ops)
		return NULL;
	op = &r->ops[r->nr_ops++];
	memset(op, 0, sizeof(*op));
	return op;
}

static int client_reserve(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed)
{
	struct svc_req_ctx *r = req_of(mm);
	struct svc_pte_op *op;

	(void)fixed; /* the client chose the address when it reserved the range */
	if (!r)
		return -EOPNOTSUPP;
	if (!*addr || *addr % PAGE || !len || len % PAGE || *addr + len < *addr ||
	    *addr + len > USER_TOP)
		return -ENOMEM;
	op = add_op(r);
	if (!op)
		return -ENOMEM;
	op->op = SVC_PTE_RESERVE;
	op->addr = *addr;
	op->len = len;
	return 0;
}

static int client_install(struct sgx_mm *mm, struct sgx_kernel *k, const struct sgx_epc_page *page,
			  uint64_t addr, int prot, int walk_prot)
{
	struct svc_req_ctx *r = req_of(mm);
	struct svc_pte_op *op;

	if (!r)
		return -EOPNOTSUPP;
	/* A guest's alias section has no memfd of its own to pass. */
	if (page->section >= k->nr_sections || page->section >= SOFTSGX_MAX_SECTIONS)
		return -EFAULT;
	op = add_op(r);
	if (!op)
		return -ENOMEM;
	op->op = SVC_PTE_INSTALL;
	op->prot = prot & 7;
	op->walk_prot = (uint32_t)((walk_prot | prot) & 7);
	op->addr = addr;
	op->len = PAGE;
	op->section = page->section;
	op->index = page->index;
	return 0;
}

/*
 * The client is gone: nothing of it is left to zap, and none of its threads
 * is inside an enclave any more. Its notify channel's end of file says so
 * first (the process's descriptors close once its last thread is dead),
 * often before the server thread sees its request connection close; a kick
 * waiting for it, or a reclaimer's EWB after that kick, must not count its
 * killed threads inside (NOT_TRACKED, a lost page, EREMOVE's ENCLAVE_ACT).
 * notify_lock held.
 */
static void notify_gone(struct svc_conn *c)
{
	if (c->notify_fd >= 0)
		close(c->notify_fd);
	c->notify_fd = -2;
	if (c->hw_owner)
		sgx_hw_owner_gone(c->hw, c->hw_owner);
}

/*
 * Wait for the acknowledgement of notification @seq (a ZAP or a KICK, @type)
 * until @deadline (ms): 0, or -ETIMEDOUT. A late acknowledgement of an
 * earlier one is skipped.
 */
static int notify_wait_ack(struct svc_conn *c, unsigned int type, uint32_t seq, uint64_t deadline)
{
	struct pollfd p = {.fd = c->notify_fd, .events = POLLIN};

	for (;;) {
		uint64_t now = svc_now_ms();
		uint8_t buf[64] __attribute__((aligned(8)));
		const struct svc_hdr *h = (const void *)buf;
		ssize_t n;
		int ready;

		if (now >= deadline)
			return -ETIMEDOUT;
		ready = poll(&p, 1, (int)(deadline - now));
		if (ready < 0 && errno != EINTR)
			return -errno;
		if (ready <= 0)
			continue;
		n = recv(c->notify_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			notify_gone(c);
			return 0;
		}
		if ((size_t)n >= sizeof(*h) + sizeof(struct svc_reply_hdr) && h->magic == SVC_MAGIC &&
		    h->type == (type | SVC_REPLY) && h->seq == seq)
			return 0;
		/* Not ours (late, or garbage from a broken client): keep waiting. */
	}
}

/* One ZAP message of at most SVC_ZAP_MAX_PAGES addresses. notify_lock held. */
static int notify_one(struct svc_conn *c, uint32_t kind, const uint64_t *addrs, unsigned int n,
		      uint64_t len)
{
	struct {
		struct svc_hdr h;
		struct svc_zap_req z;
	} msg = {.h = {.magic = SVC_MAGIC, .version = SVC_VERSION, .type = SVC_ZAP}};
	struct iovec iov[2] = {{&msg, sizeof(msg)}, {(void *)addrs, n * sizeof(*addrs)}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	uint64_t deadline = svc_now_ms() + SVC_ZAP_TIMEOUT_MS;

	msg.h.len = (uint32_t)(sizeof(msg.z) + n * sizeof(*addrs));
	msg.h.seq = ++c->notify_seq;
	msg.z.kind = kind;
	msg.z.n = n;
	msg.z.len = len;
	if (sendmsg(c->notify_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == EAGAIN || errno == ENOBUFS)
			return -ETIMEDOUT; /* its queue is full: it reads nothing */
		notify_gone(c);
		return 0;
	}
	return notify_wait_ack(c, SVC_ZAP, msg.h.seq, deadline);
}

/*
 * After a timeout the client is stalled (stopped, or its thread stuck):
 * further zaps fail at once instead of costing the reclaimer a timeout
 * each, and kicks skip it, until the acknowledgement of the last
 * notification sent (ZAP or KICK) has come in.
 */
static bool still_stalled(struct svc_conn *c)
{
	uint8_t buf[64] __attribute__((aligned(8)));
	const struct svc_hdr *h = (const void *)buf;
	ssize_t n;

	while ((n = recv(c->notify_fd, buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if ((size_t)n >= sizeof(*h) && h->magic == SVC_MAGIC && (h->type & SVC_REPLY) &&
		    h->seq == c->notify_seq)
			return false;
	}
	notify_gone(c); /* end of file: the client is gone, nothing to zap */
	return false;
}

/* Whether @c is still stalled (see above); clears the mark otherwise. notify_lock held. */
static bool notify_stalled(struct svc_conn *c)
{
	if (c->notify_stalled && c->notify_fd >= 0) {
		if (still_stalled(c))
			return true;
		c->notify_stalled = false;
	}
	return false;
}

static int notify(struct svc_conn *c, uint32_t kind, const uint64_t *addrs, unsigned int n,
		  uint64_t len)
{
	int ret = 0;

	if (!c || !c->notify_init)
		return 0;
	pthread_mutex_lock(&c->notify_lock);
	if (notify_stalled(c)) {
		pthread_mutex_unlock(&c->notify_lock);
		return -ETIMEDOUT;
	}
	while (!ret && n && c->notify_fd >= 0) {
		unsigned int batch = n < SVC_ZAP_MAX_PAGES ? n : SVC_ZAP_MAX_PAGES;

		ret = notify_one(c, kind, addrs, batch, len);
		addrs += batch;
		n -= batch;
	}
	if (ret == -ETIMEDOUT) {
		c->notify_stalled = true;
		svc_log("client pid %d does not acknowledge zaps: its pages stay resident",
			(int)c->pid);
	}
	pthread_mutex_unlock(&c->notify_lock);
	return ret;
}

/*
 * KICK every client that has a notify channel (server.h). All are sent
 * first, then the acknowledgements awaited until one deadline, so a kick
 * costs one round trip however many clients there are, and a stalled
 * client at most SVC_ZAP_TIMEOUT_MS once (it is skipped after that, as for
 * zaps). The notify locks of the clients kicked are held from send to
 * acknowledgement, so no zap reads a KICK's acknowledgement; conns_lock
 * keeps the connections alive and serializes kicks, so two kickers never
 * hold notify locks in different orders, and a zapper holds one at most.
 */
void svc_kick_clients(struct svc_server *s)
{
	struct svc_conn *sent[SVC_MAX_CONNS];
	uint32_t seq[SVC_MAX_CONNS];
	struct {
		struct svc_hdr h;
	} msg = {.h = {.magic = SVC_MAGIC, .version = SVC_VERSION, .type = SVC_KICK}};
	unsigned int nr = 0;
	uint64_t deadline;

	pthread_mutex_lock(&s->conns_lock);
	deadline = svc_now_ms() + SVC_ZAP_TIMEOUT_MS;
	for (unsigned int i = 0; i < s->nr_conns; i++) {
		struct svc_conn *c = s->conns[i];

		if (!c->notify_init)
			continue;
		pthread_mutex_lock(&c->notify_lock);
		if (c->notify_fd < 0 || notify_stalled(c)) {
			pthread_mutex_unlock(&c->notify_lock);
			continue;
		}
		msg.h.seq = ++c->notify_seq;
		if (send(c->notify_fd, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS)
				c->notify_stalled = true; /* its queue is full: it reads nothing */
			else
				notify_gone(c);
			pthread_mutex_unlock(&c->notify_lock);
			continue;
		}
		sent[nr] = c;
		seq[nr++] = msg.h.seq;
	}
	for (unsigned int i = 0; i < nr; i++) {
		struct svc_conn *c = sent[i];

		if (c->notify_fd >= 0 && notify_wait_ack(c, SVC_KICK, seq[i], deadline) == -ETIMEDOUT) {
			c->notify_stalled = true;
			svc_log("client pid %d does not acknowledge a kick: skipped", (int)c->pid);
		}
		pthread_mutex_unlock(&c->notify_lock);
	}
	pthread_mutex_unlock(&s->conns_lock);
}

static int client_zap(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n)
{
	uint64_t pages[SVC_ZAP_MAX_PAGES];
	unsigned int i = 0;
	int ret = 0;

	/* Page addresses: an enclave page's desc carries flags in its low bits. */
	while (!ret && i < n) {
		unsigned int k;

		for (k = 0; k < SVC_ZAP_MAX_PAGES && i < n; k++, i++)
			pages[k] = addrs[i] & ~(PAGE - 1);
		ret = notify(mm->ops_data, SVC_ZAP_PAGES, pages, k, 0);
	}
	return ret;
}

static int client_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	if (req_of(mm))
		return 0; /* the client unmaps after its own request */
	return notify(mm->ops_data, SVC_ZAP_UNMAP, &addr, 1, len);
}

static int client_access_user(struct sgx_mm *mm, void *local, uint64_t remote, size_t n, bool write)
{
	struct svc_req_ctx *r = req_of(mm);

	if (!r)
		return -EFAULT;
	for (uint32_t i = 0; i < r->nr_win; i++) {
		const struct svc_window *w = &r->win[i];
		uint64_t off = remote - w->addr;

		if (remote < w->addr || off > w->len || n > w->len - off)
			continue;
		if (write) {
			memcpy(r->data[i] + off, local, n);
			r->dirty[i] = true;
		} else {
			memcpy(local, r->data[i] + off, n);
		}
		return 0;
	}
	return -EFAULT;
}

const struct sgx_mm_ops svc_client_mm_ops = {
	.reserve = client_reserve,
	.install = client_install,
	.zap = client_zap,
	.unmap = client_unmap,
	.access_user = client_access_user,
};

int svc_conn_attach_mm(struct svc_conn *c)
{
	c->notify_fd = -1;
	c->next_handle = 3; /* as a process's first descriptors after stdio */
	if (getrandom(&c->notify_token, sizeof(c->notify_token), 0) !=
	    (ssize_t)sizeof(c->notify_token))
		return -ENOMEM;
	c->notify_token |= 1; /* never 0, which names no client */
	pthread_mutex_init(&c->notify_lock, NULL);
	c->notify_init = true;
	c->mm = sgx_mm_create(&svc_client_mm_ops, c);
	if (!c->mm) {
		pthread_mutex_destroy(&c->notify_lock);
		c->notify_init = false;
		return -ENOMEM;
	}
	return 0;
}

void svc_conn_set_notify(struct svc_conn *c, int fd)
{
	pthread_mutex_lock(&c->notify_lock);
	c->notify_fd = fd;
	pthread_mutex_unlock(&c->notify_lock);
}

void svc_conn_release(struct svc_conn *c)
{
	svc_fchan_close(c);
	if (c->mm) {
		/* The process is gone (or never was a client of the EPC): as Linux's exit. */
		sgx_mm_exit(c->mm);
		/*
		 * No enclave lists the mm now (its VMAs went, each under the
		 * enclave's lock), so no zap is under way or to come; whatever
		 * still holds the mm finds no connection behind it.
		 */
		pthread_rwlock_wrlock(&c->mm->lock);
		c->mm->ops_data = NULL;
		pthread_rwlock_unlock(&c->mm->lock);
		sgx_mm_put(c->mm);
		c->mm = NULL;
	}
	if (c->notify_init) {
		pthread_mutex_lock(&c->notify_lock);
		if (c->notify_fd >= 0)
			close(c->notify_fd);
		c->notify_fd = -1;
		pthread_mutex_unlock(&c->notify_lock);
		pthread_mutex_destroy(&c->notify_lock);
		c->notify_init = false;
	}
}
