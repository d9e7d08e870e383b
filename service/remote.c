// SPDX-License-Identifier: MIT
/*
 * The client library of the platform service's kernel work (remote.h).
 *
 * Two threads touch the page tables of the SGX ranges: the caller's, which
 * applies the PTE operations of a reply (a fault's install), and the notify
 * thread, which applies the service's zaps. A zap may overtake the reply
 * that installed the page it drops (the service zaps under the enclave's
 * lock, after the fault's reply has left but before the faulting thread
 * has applied it). So both work under one lock, every zap is recorded in a
 * ring with a generation number, and an install is skipped when a zap of
 * its address arrived after the request was sent: the access faults again
 * and the service installs the page anew. Skipping is always safe; the
 * stale mapping of a page the service has evicted (and handed to someone
 * else) is what must never happen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "service/client.h"
#include "service/proto.h"
#include "service/remote.h"
#include "service/remote_pte.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

#define PAGE	 4096ul
#define ZAP_RING 256
#define MAX_RANGES 1024

_Static_assert(SVC_FAULT_EPCM == SVC_FAULT_VERDICT_MAX, "verdicts of kernel/driver.h");

struct zap_rec {
	uint64_t addr, len;
};

static struct remote {
	struct svc_client c; /* requests */
	struct svc_client n; /* the notify channel, read by @thread */
	uint64_t token;	     /* our notify token: names us to a child's FORK */
	bool connected;
	_Atomic bool dead; /* the service went away: every call is -EIO */
	pthread_t thread;
	int epc_fd[SOFTSGX_MAX_SECTIONS];
	uint64_t epc_size[SOFTSGX_MAX_SECTIONS];
	unsigned int nr_sections;
	/* The CPU model as this process sees it: ENCLU runs here (GET_EPC). */
	struct sgx_hw *view;
	/* One call at a time: the thread id of the caller inside, 0 when none. */
	_Atomic int call_owner;
	/* Page-table changes of both threads; zaps recorded by generation. */
	atomic_flag pte_lock;
	_Atomic uint64_t zap_gen;
	struct zap_rec ring[ZAP_RING];
	_Atomic bool paused;
	_Atomic uint64_t zaps;
	_Atomic uint64_t kicks;
	/*
	 * The fault channel (proto.h: struct svc_fchan), mapped here; NULL
	 * when the service gave none. Faults go through it while it works
	 * (@fchan_off once a reply timed out in it: the late reply must not
	 * be taken for the next request's, so the socket takes them).
	 */
	struct svc_fchan *fchan;
	bool fchan_off;
	_Atomic uint64_t fchan_faults;
	/*
	 * The SGX ranges mapped (under call_owner): at disconnect they become
	 * inaccessible, as at a process's exit, so no page the service hands
	 * to someone else stays mapped here; the shim asks them which calls
	 * and faults are the service's (svc_remote_maps()). A mmap or munmap
	 * that would need more is ENOMEM, as Linux's beyond max_map_count.
	 */
	struct zap_rec ranges[MAX_RANGES];
	unsigned int nr_ranges;
	/* Odd while @ranges change: svc_remote_maps() reads them in signal handlers. */
	_Atomic unsigned int ranges_seq;
	/* Static: a signal handler allocates nothing. Under call_owner. */
	uint8_t req[SVC_MSG_MAX] __attribute__((aligned(8)));
	uint8_t rep[SVC_MSG_MAX + 1] __attribute__((aligned(8)));
} R = {.c = {.fd = -1}, .n = {.fd = -1}, .pte_lock = ATOMIC_FLAG_INIT};

/*
 * Straight to the kernel. Linked into the shim, mmap(), munmap() and
 * close() are its own wrappers, which would send an SGX range back here
 * (a zap's munmap waiting for the call it interrupts) or take the
 * descriptor table's locks in a signal handler. syscall() reaches the
 * kernel untouched from the shim's own code (shim/syscalls.c).
 */
static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static void sys_close(int fd)
{
	syscall(SYS_close, fd);
}

/*
 * How long a call looks for its reply before it sleeps: rcall() asking
 * recvmsg(), fchan_wait() reading the fault channel's word.
 */
#define REPLY_SPIN_NS 100000

static int call_lock(void)
{
	int self = (int)syscall(SYS_gettid);

	for (;;) {
		int expected = 0;

		if (atomic_compare_exchange_weak(&R.call_owner, &expected, self))
			return 0;
		if (expected == self)
			return -EDEADLK; /* a signal handler of a thread inside a call */
		sched_yield();
	}
}

static void call_unlock(void)
{
	atomic_store(&R.call_owner, 0);
}

static void pte_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&R.pte_lock, memory_order_acquire))
		sched_yield();
}

static void pte_unlock(void)
{
	atomic_flag_clear_explicit(&R.pte_lock, memory_order_release);
}

/* Close whatever descriptors came with a message we expect none with. */
static void drop_fds(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			sys_close(fd);
		}
	}
}

/*
 * The reply to request @h in R.rep (@n bytes, @trunc: cut short): its
 * status, with *@body and *@body_len its payload after the status; -EIO,
 * and the connection dead, when it is not the reply to @h.
 */
static int reply_take(const struct svc_hdr *h, size_t n, bool trunc, const uint8_t **body,
		      size_t *body_len)
{
	struct svc_msg m = {.reply = true, .size = n, .trunc = trunc};
	const struct svc_reply_hdr *r;

	m.hdr = n >= sizeof(*h) ? (const struct svc_hdr *)R.rep : NULL;
	m.payload = R.rep + sizeof(*h);
	if (svc_msg_check(&m) || m.hdr->seq != h->seq || (m.hdr->type & ~SVC_REPLY) != h->type) {
		atomic_store(&R.dead, true);
		return -EIO;
	}
	r = m.payload;
	*body = (const uint8_t *)(r + 1);
	*body_len = m.hdr->len - sizeof(*r);
	return r->status;
}

/*
 * One request of @type made of @nparts pieces, and its reply in R.rep: the
 * reply's status, with *@body and *@body_len its payload after the status;
 * -EIO when the service is gone or answers nonsense, -ETIMEDOUT. Under
 * call_lock().
 */
static int rcall(unsigned int type, const struct iovec *parts, int nparts, const uint8_t **body,
		 size_t *body_len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SVC_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct svc_hdr h = {.magic = SVC_MAGIC, .version = SVC_VERSION, .type = (uint16_t)type};
	struct iovec iov[4] = {{&h, sizeof(h)}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)nparts + 1};
	uint64_t deadline, spin_until;
	size_t len = 0;
	ssize_t n;

	if (!R.connected || atomic_load(&R.dead) || R.c.fd < 0)
		return -EIO;
	for (int i = 0; i < nparts; i++) {
		iov[i + 1] = parts[i];
		len += parts[i].iov_len;
	}
	if (len > SVC_MSG_MAX - sizeof(h))
		return -E2BIG;
	h.len = (uint32_t)len;
	h.seq = ++R.c.seq;
	if (sendmsg(R.c.fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EAGAIN)
			return -ETIMEDOUT;
		atomic_store(&R.dead, true);
		return -EIO;
	}
	deadline = svc_now_ms() + (uint64_t)R.c.timeout_ms;
	spin_until = svc_now_ns() + REPLY_SPIN_NS;
	for (;;) {
		struct pollfd p = {.fd = R.c.fd, .events = POLLIN};
		struct iovec riov = {R.rep, sizeof(R.rep)};

		/*
		 * A fault's reply comes in tens of µs, about what putting this
		 * thread to sleep and waking it costs: for a moment, ask for
		 * the reply itself (one system call when it is there, where
		 * poll() and then recvmsg() would be two), then sleep in poll().
		 */
		if (!spin_until || svc_now_ns() >= spin_until) {
			uint64_t now = svc_now_ms();
			int ready;

			spin_until = 0;
			if (now >= deadline)
				return -ETIMEDOUT;
			ready = poll(&p, 1, (int)(deadline - now));
			if (ready < 0 && errno != EINTR)
				return -errno;
			if (ready <= 0)
				continue;
		}
		mh = (struct msghdr){.msg_iov = &riov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf)};
		n = recvmsg(R.c.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			/* The service died or closed us: documented as EIO (platform-service.md). */
			atomic_store(&R.dead, true);
			return -EIO;
		}
		drop_fds(&mh);
		return reply_take(&h, (size_t)n, mh.msg_flags & MSG_TRUNC, body, body_len);
	}
}

/* Has a zap of @addr been applied since generation @gen? pte_lock held. */
static bool zapped_since(uint64_t gen, uint64_t addr)
{
	uint64_t now = atomic_load(&R.zap_gen);

	if (now - gen > ZAP_RING)
		return true; /* the ring forgot: assume so */
	for (uint64_t g = gen; g < now; g++) {
		const struct zap_rec *z = &R.ring[g % ZAP_RING];

		if (addr >= z->addr && addr - z->addr < z->len)
			return true;
	}
	return false;
}

static void reserve_range(uint64_t addr, uint64_t len)
{
	/* The model's walk misses first, then the host's. */
	svc_pte_clear(addr, len);
	sys_mmap((void *)addr, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

/* The PTE operations of an MMAP, MPROTECT or FAULT reply (@gen: when it was asked). */
static void apply_ops(const uint8_t *body, size_t len, uint64_t gen)
{
	const struct svc_mm_rep *rep = (const void *)body;
	const struct svc_pte_op *op = (const void *)(rep + 1);

	if (len < sizeof(*rep))
		return;
	pte_lock();
	for (uint32_t i = 0; i < rep->nr_ops; i++, op++) {
		if (op->op == SVC_PTE_RESERVE) {
			reserve_range(op->addr, op->len);
			continue;
		}
		if (op->section >= R.nr_sections || op->index >= R.epc_size[op->section] / PAGE)
			continue;
		if (zapped_since(gen, op->addr))
			continue; /* faults again: the service installs it anew */
		/*
		 * The host's PTE with what native enclave code may do (maybe
		 * nothing: an ENCLU operand the EPCM keeps from it), the
		 * model's walk with what the VMA allows.
		 */
		if (sys_mmap((void *)op->addr, PAGE, op->prot, MAP_SHARED | MAP_FIXED,
			     R.epc_fd[op->section], (off_t)(op->index * PAGE)) != MAP_FAILED)
			svc_pte_set(op->addr, op->section, op->index, (int)op->walk_prot);
	}
	pte_unlock();
}

/*
 * An mm request's reply (@ret, its payload @body of @len bytes) taken: its
 * PTE operations applied (@gen: when it was asked), *@addr and *@verdict
 * set from it; @ret.
 */
static int mm_reply_apply(int ret, const uint8_t *body, size_t len, uint64_t gen, uint64_t *addr,
			  uint32_t *verdict)
{
	const struct svc_mm_rep *rep = (const void *)body;

	if (len < sizeof(*rep))
		return ret;
	apply_ops(body, len, gen);
	if (addr)
		*addr = rep->addr;
	if (verdict)
		*verdict = rep->verdict;
	return ret;
}

/* ---- the notify thread ---- */

/* What a KICK runs on the notify thread (svc_remote_set_kick()). */
static void (*_Atomic kick_fn)(void);

void svc_remote_set_kick(void (*fn)(void))
{
	atomic_store(&kick_fn, fn);
}

uint64_t svc_remote_kicks(void)
{
	return atomic_load(&R.kicks);
}

/* The acknowledgement of notification @seq of @type (ZAP or KICK). */
static void ack(unsigned int type, uint32_t seq)
{
	struct {
		struct svc_hdr h;
		struct svc_reply_hdr r;
	} a = {.h = {.magic = SVC_MAGIC,
		     .version = SVC_VERSION,
		     .type = (uint16_t)(type | SVC_REPLY),
		     .len = sizeof(struct svc_reply_hdr),
		     .seq = seq}};

	send(R.n.fd, &a, sizeof(a), MSG_NOSIGNAL);
}

static void apply_zap(const struct svc_zap_req *z)
{
	const uint64_t *addr = (const void *)(z + 1);

	pte_lock();
	/*
	 * A run of adjacent pages (the service sends a reclaim batch's pages
	 * sorted) is one mmap and one record: fewer system calls, and the ring
	 * forgets later.
	 */
	for (uint32_t i = 0, j; i < z->n; i = j) {
		uint64_t len = z->kind == SVC_ZAP_UNMAP ? z->len : PAGE;
		uint64_t g = atomic_load(&R.zap_gen);

		for (j = i + 1; z->kind == SVC_ZAP_PAGES && j < z->n && addr[j] == addr[i] + len; j++)
			len += PAGE;
		/* Not present: the next touch faults to the service. */
		if (z->kind == SVC_ZAP_UNMAP) {
			svc_pte_clear(addr[i], len);
			sys_munmap((void *)addr[i], len);
		} else {
			reserve_range(addr[i], len);
		}
		R.ring[g % ZAP_RING] = (struct zap_rec){addr[i], len};
		atomic_store(&R.zap_gen, g + 1);
	}
	pte_unlock();
	atomic_fetch_add(&R.zaps, z->n);
}

static void *notify_main(void *arg)
{
	static uint8_t buf[sizeof(struct svc_hdr) + sizeof(struct svc_zap_req) +
			   SVC_ZAP_MAX_PAGES * 8 + 1] __attribute__((aligned(8)));
	sigset_t all;

	(void)arg;
	/* The program's signals are for its own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p = {.fd = R.n.fd, .events = POLLIN};
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		struct svc_msg m = {0};
		ssize_t n;

		if (atomic_load(&R.paused)) {
			usleep(10000);
			continue;
		}
		if (poll(&p, 1, 100) <= 0 || atomic_load(&R.paused))
			continue; /* paused while it waited: leave the message unread */
		n = recvmsg(R.n.fd, &mh, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break; /* the service is gone, or we are disconnecting */
		m.hdr = (size_t)n >= sizeof(struct svc_hdr) ? (const void *)buf : NULL;
		m.payload = buf + sizeof(struct svc_hdr);
		m.size = (size_t)n;
		m.trunc = mh.msg_flags & MSG_TRUNC;
		if (svc_msg_check(&m))
			continue;
		if (m.hdr->type == SVC_KICK) {
			/* The model's IPI: threads inside an enclave leave it, then the ack. */
			void (*fn)(void) = atomic_load(&kick_fn);

			atomic_fetch_add(&R.kicks, 1);
			if (fn)
				fn();
			ack(SVC_KICK, m.hdr->seq);
			continue;
		}
		if (m.hdr->type != SVC_ZAP)
			continue;
		apply_zap(m.payload);
		ack(SVC_ZAP, m.hdr->seq);
	}
	return NULL;
}

/* ---- the fault channel ---- */

/* How long a client sleeps on the channel's futex before it looks at the service's socket. */
#define FCHAN_SLEEP_NS 10000000ull

/*
 * The service's reply in the channel: 0 when it is there, -EIO when the
 * service closed the channel or went away, -ETIMEDOUT.
 */
static int fchan_wait(struct svc_fchan *ch)
{
	uint64_t spin_until = svc_now_ns() + REPLY_SPIN_NS;
	uint64_t deadline = svc_now_ms() + (uint64_t)R.c.timeout_ms;

	/* As for a socket's reply: look for a moment first, here without a system call. */
	do {
		for (int i = 0; i < 16; i++) {
			if (atomic_load(&ch->state) == SVC_FCHAN_REP)
				return 0;
			__builtin_ia32_pause();
		}
	} while (svc_now_ns() < spin_until);
	for (;;) {
		struct pollfd p = {.fd = R.c.fd};
		uint32_t state;

		atomic_store(&ch->client_sleeps, 1);
		state = atomic_load(&ch->state);
		if (state == SVC_FCHAN_REP)
			return 0;
		if (state != SVC_FCHAN_REQ)
			return -EIO; /* closed: the connection goes next */
		if (svc_now_ms() >= deadline)
			return -ETIMEDOUT;
		svc_futex_wait(&ch->state, SVC_FCHAN_REQ, FCHAN_SLEEP_NS);
		/* A killed service writes no reply: its end of the socket says it is gone. */
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
			return -EIO;
	}
}

/*
 * A FAULT through the fault channel, as mm_call(SVC_FAULT) through the
 * socket. -EAGAIN: the channel cannot take it (send it on the socket).
 * Under call_lock().
 */
static int fchan_fault(const struct svc_fault_req *r, uint32_t *verdict)
{
	struct svc_fchan *ch = R.fchan;
	struct svc_hdr h = {.magic = SVC_MAGIC,
			    .version = SVC_VERSION,
			    .type = SVC_FAULT,
			    .len = sizeof(*r)};
	uint64_t gen = atomic_load(&R.zap_gen);
	const uint8_t *body = NULL;
	size_t len = 0;
	uint32_t n;
	int ret;

	if (!ch || R.fchan_off || atomic_load(&ch->state) != SVC_FCHAN_IDLE)
		return -EAGAIN;
	if (!R.connected || atomic_load(&R.dead))
		return -EIO;
	h.seq = ++R.c.seq;
	memcpy(ch->req, &h, sizeof(h));
	memcpy(ch->req + sizeof(h), r, sizeof(*r));
	ch->req_len = sizeof(h) + sizeof(*r);
	atomic_store(&ch->state, SVC_FCHAN_REQ);
	svc_futex_wake(&ch->state);
	ret = fchan_wait(ch);
	if (ret == -ETIMEDOUT)
		R.fchan_off = true;
	else if (ret)
		atomic_store(&R.dead, true);
	if (ret)
		return ret;
	n = ch->rep_len;
	if (n > SVC_MSG_MAX) {
		atomic_store(&R.dead, true);
		return -EIO;
	}
	memcpy(R.rep, ch->rep, n);
	atomic_store(&ch->state, SVC_FCHAN_IDLE);
	atomic_fetch_add(&R.fchan_faults, 1);
	ret = reply_take(&h, n, false, &body, &len);
	return mm_reply_apply(ret, body, len, gen, NULL, verdict);
}

/*
 * Ask for a fault channel and map it: on any failure (a service without
 * them, SOFTSGX_FAULT_CHANNEL=0) faults take the socket. The mapping is
 * not inherited: a forked child's faults are its own connection's.
 */
static void fchan_open(void)
{
	const char *env = getenv("SOFTSGX_FAULT_CHANNEL");
	struct stat st;
	void *p;
	int fd;

	R.fchan = NULL;
	R.fchan_off = false;
	if ((env && !strcmp(env, "0")) || svc_fault_channel(&R.c, &fd))
		return;
	p = MAP_FAILED;
	if (!syscall(SYS_fstat, fd, &st) && (uint64_t)st.st_size >= SVC_FCHAN_SIZE)
		p = sys_mmap(NULL, SVC_FCHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	sys_close(fd);
	if (p == MAP_FAILED)
		return;
	if (syscall(SYS_madvise, p, SVC_FCHAN_SIZE, MADV_DONTFORK)) {
		sys_munmap(p, SVC_FCHAN_SIZE);
		return;
	}
	R.fchan = p;
}

uint64_t svc_remote_channel_faults(void)
{
	return atomic_load(&R.fchan_faults);
}

static void fchan_unmap(void)
{
	if (R.fchan)
		sys_munmap(R.fchan, SVC_FCHAN_SIZE);
	R.fchan = NULL;
}

/* ---- connection ---- */

static void close_epc(void)
{
	for (unsigned int i = 0; i < R.nr_sections; i++)
		sys_close(R.epc_fd[i]);
	R.nr_sections = 0;
	if (R.view)
		sgx_hw_free(R.view);
	R.view = NULL;
}

/*
 * The EPC as GET_EPC gives it: the sections' memfds (kept, for the PTEs the
 * service's replies make) and a view of the CPU model over them and the
 * EPCM (whose memfds its mappings keep alive). 0 or -errno; the
 * descriptors are closed on failure.
 */
static int take_epc(const struct svc_get_epc_rep *e, int *fds)
{
	int ret = 0;

	R.view = sgx_hw_attach(&e->share, fds, e->owner);
	if (!R.view)
		ret = -errno;
	for (unsigned int i = 0; i < e->nr_sections; i++) {
		R.epc_fd[i] = fds[2 * i];
		R.epc_size[i] = e->section[i].size;
		sys_close(fds[2 * i + 1]);
	}
	R.nr_sections = e->nr_sections;
	if (ret)
		close_epc();
	return ret;
}

/*
 * A program may close every descriptor it did not open (closefrom(3),
 * close_range(), a daemon's loop over all numbers): this library's move
 * to the top of the descriptor space, out of the numbers a program hands
 * out, and the shim's close wrappers leave them alone (svc_remote_fds()).
 */
static int fd_high_base(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536)
		return 65536 - 64;
	return rl.rlim_cur > 256 ? (int)rl.rlim_cur - 64 : 192;
}

static void fd_move_high(int *fd)
{
	int to;

	if (*fd < 0)
		return;
	to = (int)syscall(SYS_fcntl, *fd, F_DUPFD_CLOEXEC, fd_high_base());
	if (to < 0)
		return; /* stays where it is: still ours */
	sys_close(*fd);
	*fd = to;
}

unsigned int svc_remote_fds(int *out, unsigned int cap)
{
	unsigned int n = 0;

	if (!R.connected)
		return 0;
	if (n < cap && R.c.fd >= 0)
		out[n++] = R.c.fd;
	if (n < cap && R.n.fd >= 0)
		out[n++] = R.n.fd;
	for (unsigned int i = 0; i < R.nr_sections && n < cap; i++)
		out[n++] = R.epc_fd[i];
	return n;
}

int svc_remote_connect(const char *dir, const char *bin, const struct softsgx_config *cfg)
{
	struct svc_hello_rep info;
	struct svc_get_epc_rep e;
	int fds[SVC_MAX_FDS], ret;

	if (R.connected)
		return -EALREADY;
	/* `softsgx run --cgroup PATH` exports it: the EPC cgroup to charge (issue 17). */
	R.c = (struct svc_client){.fd = -1, .cgroup = getenv("SOFTSGX_CGROUP")};
	R.n = (struct svc_client){.fd = -1};
	ret = bin ? svc_connect_or_start(&R.c, dir, bin, cfg, 0, &info)
		  : svc_connect(&R.c, dir, cfg, 0, &info);
	if (ret)
		return ret;
	ret = svc_get_epc(&R.c, &e, fds);
	if (!ret)
		ret = take_epc(&e, fds);
	if (ret)
		goto fail;
	R.token = info.notify_token;
	ret = svc_attach_notify(&R.n, dir, info.notify_token);
	if (ret)
		goto fail;
	fchan_open();
	atomic_store(&R.dead, false);
	atomic_store(&R.paused, false);
	fd_move_high(&R.c.fd);
	fd_move_high(&R.n.fd);
	for (unsigned int i = 0; i < R.nr_sections; i++)
		fd_move_high(&R.epc_fd[i]);
	ret = -pthread_create(&R.thread, NULL, notify_main, NULL);
	if (ret)
		goto fail;
	R.connected = true;
	return 0;
fail:
	fchan_unmap();
	svc_close(&R.n);
	close_epc();
	svc_close(&R.c);
	return ret;
}

void svc_remote_disconnect(void)
{
	if (!R.connected)
		return;
	atomic_store(&R.paused, false);
	/* Wakes the notify thread with end of file; the service sees both go. */
	shutdown(R.n.fd, SHUT_RDWR);
	pthread_join(R.thread, NULL);
	svc_close(&R.n);
	svc_close(&R.c);
	fchan_unmap();
	close_epc();
	/* As at exit: the service releases the pages, so nothing of them stays mapped. */
	pte_lock();
	for (unsigned int i = 0; i < R.nr_ranges; i++)
		reserve_range(R.ranges[i].addr, R.ranges[i].len);
	R.nr_ranges = 0;
	pte_unlock();
	R.connected = false;
}

void svc_remote_forget(void)
{
	if (!R.connected)
		return;
	/* Our copies only: the parent's connection stays open in the parent. */
	sys_close(R.c.fd);
	sys_close(R.n.fd);
	R.c.fd = R.n.fd = -1;
	/* Not mapped here (MADV_DONTFORK): its address may be someone else's by now. */
	R.fchan = NULL;
	close_epc();
	/* Held, perhaps, by a thread of the parent that does not exist here. */
	atomic_store(&R.call_owner, 0);
	atomic_flag_clear(&R.pte_lock);
	/* The pages stay the parent's: no access here, a fault is SIGBUS. */
	for (unsigned int i = 0; i < R.nr_ranges; i++)
		reserve_range(R.ranges[i].addr, R.ranges[i].len);
	R.connected = false;
	atomic_store(&R.dead, false);
}

void svc_remote_notify_pause(bool pause)
{
	atomic_store(&R.paused, pause);
}

uint64_t svc_remote_zaps(void)
{
	return atomic_load(&R.zaps);
}

/* ---- the SGX ranges of the process ---- */

static void range_add(uint64_t addr, uint64_t len)
{
	if (R.nr_ranges < sizeof(R.ranges) / sizeof(R.ranges[0]))
		R.ranges[R.nr_ranges++] = (struct zap_rec){addr, len};
}

/* [addr, addr + len) is no longer SGX memory: what is left of each range around it stays. */
static void range_remove(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	for (unsigned int i = 0; i < R.nr_ranges;) {
		struct zap_rec r = R.ranges[i];
		uint64_t rend = r.addr + r.len;

		if (rend <= addr || end <= r.addr) {
			i++;
			continue;
		}
		R.ranges[i] = R.ranges[--R.nr_ranges];
		if (r.addr < addr)
			range_add(r.addr, addr - r.addr);
		if (end < rend)
			range_add(end, rend - end);
	}
}

/* The start (@begin) or the end of a change of R.ranges: the count is odd in between. */
static void ranges_write(bool begin)
{
	(void)begin;
	atomic_fetch_add(&R.ranges_seq, 1);
}

bool svc_remote_maps(const void *addr, size_t len)
{
	uint64_t start = (uint64_t)(uintptr_t)addr, end = start + (len ? len : 1);
	unsigned int seq, tries = 0;
	bool hit;

	do {
		/*
		 * A handler of the thread that changes them would wait for
		 * ever: after a while, count the address as ours, and the
		 * fault's call_lock() then refuses it (SIGBUS).
		 */
		while ((seq = atomic_load(&R.ranges_seq)) & 1)
			if (++tries > 10000)
				return true;
		hit = false;
		for (unsigned int i = 0; i < R.nr_ranges && i < MAX_RANGES; i++)
			if (R.ranges[i].addr < end && start < R.ranges[i].addr + R.ranges[i].len)
				hit = true;
	} while (atomic_load(&R.ranges_seq) != seq);
	return hit;
}

/* ---- requests ---- */

int svc_remote_open(unsigned int type)
{
	struct svc_open_req r = {.type = type};
	struct iovec part = {&r, sizeof(r)};
	const uint8_t *body = NULL;
	size_t len = 0;
	int ret = call_lock();

	if (ret)
		return ret;
	ret = rcall(SVC_OPEN, &part, 1, &body, &len);
	if (!ret)
		ret = ((const struct svc_open_rep *)body)->handle;
	call_unlock();
	return ret;
}

int svc_remote_close(int handle)
{
	struct svc_close_req r = {.handle = handle};
	struct iovec part = {&r, sizeof(r)};
	const uint8_t *body = NULL;
	size_t len = 0;
	int ret = call_lock();

	if (ret)
		return ret;
	ret = rcall(SVC_CLOSE, &part, 1, &body, &len);
	call_unlock();
	return ret;
}

/* Copy between this process's memory and a buffer without faulting on a bad pointer. */
static bool user_copy(void *local, uint64_t remote, size_t n, bool write)
{
	struct iovec l = {local, n}, r = {(void *)remote, n};
	ssize_t done = write ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
			     : process_vm_readv(getpid(), &l, 1, &r, 1, 0);

	return done == (ssize_t)n;
}

/*
 * How much of [remote, remote + n) can be read, from its start, in whole
 * pages and the end: where copy_from_user() would stop. For a window that
 * does not copy whole, which is rare.
 */
static size_t readable_prefix(uint8_t *local, uint64_t remote, size_t n)
{
	size_t done = 0;

	while (done < n) {
		uint64_t at = remote + done;
		size_t step = PAGE - (at & (PAGE - 1));

		if (step > n - done)
			step = n - done;
		if (!user_copy(local + done, at, step, false))
			break;
		done += step;
	}
	return done;
}

struct windows {
	struct svc_window w[SVC_MAX_WINDOWS];
	const void *src[SVC_MAX_WINDOWS]; /* NULL: read from this process's memory */
	uint32_t n;
};

/*
 * Add [addr, addr + len) to the memory an ioctl sends. One contained in a
 * window already is there; a partial overlap is refused by the protocol, so
 * it is left out and the service answers -EFAULT, as for any unreadable
 * pointer. @src: the bytes to send instead of the process's.
 */
static void window_add(struct windows *ws, uint64_t addr, uint64_t len, const void *src)
{
	if (!len || ws->n == SVC_MAX_WINDOWS || addr + len < addr)
		return;
	for (uint32_t i = 0; i < ws->n; i++) {
		const struct svc_window *w = &ws->w[i];

		if (addr >= w->addr && addr + len <= w->addr + w->len)
			return;
		if (addr < w->addr + w->len && w->addr < addr + len)
			return;
	}
	ws->w[ws->n] = (struct svc_window){addr, len};
	ws->src[ws->n++] = src;
}

/*
 * One IOCTL with the windows @ws: the ioctl's result. The windows it wrote
 * come back to the process unless @keep (ADD_PAGES reads its count from
 * *@arg_out, the argument window as written).
 */
static long ioctl_call(int handle, unsigned long cmd, uint64_t arg, struct windows *ws,
		       bool keep, void *arg_out, size_t arg_len)
{
	struct svc_ioctl_req *r = (struct svc_ioctl_req *)R.req;
	struct svc_window *w = (struct svc_window *)(r + 1);
	const struct svc_ioctl_rep *rep;
	const struct svc_window *rw;
	const uint8_t *body = NULL, *data;
	uint8_t *p;
	struct iovec part;
	size_t len = 0;
	long ret;

	memset(r, 0, sizeof(*r));
	r->handle = handle;
	r->cmd = cmd;
	r->arg = arg;
	/*
	 * A window this process cannot read whole goes as far as it can be
	 * read: the service's copy of the first byte beyond fails with
	 * -EFAULT, where Linux's would (ADD_PAGES has then added the pages
	 * before it, and counts them). One not readable at all is left out.
	 */
	p = (uint8_t *)(w + ws->n);
	for (uint32_t i = 0; i < ws->n; i++) {
		struct svc_window win = ws->w[i];

		if (ws->src[i])
			memcpy(p, ws->src[i], win.len);
		else if (!user_copy(p, win.addr, win.len, false))
			win.len = readable_prefix(p, win.addr, win.len);
		if (!win.len)
			continue;
		w[r->nr_windows++] = win;
		p += win.len;
	}
	/* Close the gap the left-out windows' entries made before the data. */
	if (r->nr_windows < ws->n) {
		size_t data_len = (size_t)(p - (uint8_t *)(w + ws->n));

		memmove(w + r->nr_windows, w + ws->n, data_len);
		p = (uint8_t *)(w + r->nr_windows) + data_len;
	}
	part = (struct iovec){R.req, (size_t)(p - R.req)};
	ret = rcall(SVC_IOCTL, &part, 1, &body, &len);
	if (len < sizeof(*rep))
		return ret;
	rep = (const void *)body;
	rw = (const void *)(rep + 1);
	data = (const uint8_t *)(rw + rep->nr_windows);
	for (uint32_t i = 0; i < rep->nr_windows; data += rw[i].len, i++) {
		if (keep) {
			if (rw[i].addr == arg && rw[i].len == arg_len)
				memcpy(arg_out, data, arg_len);
			continue;
		}
		/* copy_to_user() of a pointer that went bad meanwhile: Linux's -EFAULT. */
		if (!user_copy((void *)data, rw[i].addr, rw[i].len, true) && !ret)
			ret = -EFAULT;
	}
	return ret;
}

/* ADD_PAGES in batches of SVC_IOCTL_BATCH_PAGES, with Linux's count on a partial failure. */
static long add_pages(int handle, unsigned long cmd, uint64_t arg)
{
	const uint64_t batch = SVC_IOCTL_BATCH_PAGES * PAGE;
	struct sgx_enclave_add_pages a, b, out;
	uint64_t done = 0;
	long ret = 0;
	bool aligned;

	if (!user_copy(&a, arg, sizeof(a), false))
		return -EFAULT;
	/* Misaligned arguments go whole (clipped): the service refuses them before any page. */
	aligned = !(a.src % PAGE) && !(a.offset % PAGE) && !(a.length % PAGE) && a.length;
	do {
		struct windows ws = {.n = 0};

		b = a;
		b.src = a.src + done;
		b.offset = a.offset + done;
		b.length = a.length - done;
		if (aligned && b.length > batch)
			b.length = batch;
		b.count = 0;
		out = b;
		window_add(&ws, arg, sizeof(b), &b);
		window_add(&ws, b.src, b.length < batch ? b.length : batch, NULL);
		window_add(&ws, b.secinfo, sizeof(struct sgx_secinfo), NULL);
		ret = ioctl_call(handle, cmd, arg, &ws, true, &out, sizeof(out));
		done += out.count;
		if (ret || !aligned || !out.count)
			break;
	} while (done < a.length);
	a.count = done;
	if (!user_copy(&a, arg, sizeof(a), true) && !ret)
		ret = -EFAULT;
	return ret;
}

long svc_remote_ioctl(int handle, unsigned long cmd, void *argp)
{
	uint64_t arg = (uint64_t)(uintptr_t)argp;
	struct windows ws = {.n = 0};
	long ret = call_lock();

	if (ret)
		return ret;
	if (cmd == SGX_IOC_ENCLAVE_ADD_PAGES) {
		ret = add_pages(handle, cmd, arg);
		goto out;
	}
	/* The argument struct, then the memory the command reads through it (the uAPI). */
	window_add(&ws, arg, _IOC_SIZE(cmd), NULL);
	if (cmd == SGX_IOC_ENCLAVE_CREATE) {
		struct sgx_enclave_create c;

		if (user_copy(&c, arg, sizeof(c), false))
			window_add(&ws, c.src, PAGE, NULL);
	} else if (cmd == SGX_IOC_ENCLAVE_INIT) {
		struct sgx_enclave_init i;

		if (user_copy(&i, arg, sizeof(i), false))
			window_add(&ws, i.sigstruct, sizeof(struct sgx_sigstruct), NULL);
	}
	ret = ioctl_call(handle, cmd, arg, &ws, false, NULL, 0);
out:
	call_unlock();
	return ret;
}

/* A request whose reply lists PTE operations: apply them; the status. */
static int mm_call(unsigned int type, const void *req, size_t req_len, uint64_t *addr,
		   uint32_t *verdict)
{
	struct iovec part = {(void *)req, req_len};
	uint64_t gen = atomic_load(&R.zap_gen);
	const uint8_t *body = NULL;
	size_t len = 0;
	int ret;

	ret = rcall(type, &part, 1, &body, &len);
	return mm_reply_apply(ret, body, len, gen, addr, verdict);
}

int svc_remote_mmap(void **addr, size_t len, int prot, int flags, int handle, off_t offset)
{
	struct svc_mmap_req r = {.handle = handle, .prot = prot, .offset = (uint64_t)offset};
	int rflags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint64_t start;
	void *p;
	int ret;

	if (!len)
		return -EINVAL;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	if (flags & MAP_FIXED_NOREPLACE)
		rflags |= MAP_FIXED_NOREPLACE;
	else if (flags & MAP_FIXED)
		rflags |= MAP_FIXED;
	/* The range is this process's to choose: reserved first, then recorded. */
	p = sys_mmap(*addr, len, PROT_NONE, rflags, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	svc_pte_clear((uint64_t)(uintptr_t)p, len); /* MAP_FIXED over PTEs of ours */
	ret = call_lock();
	if (!ret && R.nr_ranges + 2 > MAX_RANGES) {
		call_unlock();
		ret = -ENOMEM; /* one range in, one split in two */
	}
	if (ret) {
		sys_munmap(p, len);
		return ret;
	}
	r.addr = (uint64_t)(uintptr_t)p;
	r.len = len;
	r.flags = (flags & ~MAP_FIXED_NOREPLACE) | MAP_FIXED;
	ret = mm_call(SVC_MMAP, &r, sizeof(r), &start, NULL);
	if (!ret) {
		ranges_write(true);
		range_remove(start, len); /* MAP_FIXED over an SGX range replaced it */
		range_add(start, len);
		ranges_write(false);
	}
	call_unlock();
	if (ret) {
		sys_munmap(p, len);
		return ret;
	}
	*addr = (void *)(uintptr_t)start;
	return 0;
}

int svc_remote_munmap(void *addr, size_t len)
{
	struct svc_munmap_req r = {.addr = (uint64_t)(uintptr_t)addr, .len = len};
	int ret = call_lock();

	if (ret)
		return ret;
	if (R.nr_ranges + 1 > MAX_RANGES) {
		call_unlock();
		return -ENOMEM; /* a range split in two */
	}
	ret = mm_call(SVC_MUNMAP, &r, sizeof(r), NULL, NULL);
	/*
	 * No service (gone, or a forked child's inherited range): nothing
	 * there to tell, the range is plain memory to unmap, as Linux's
	 * munmap() never fails for a range it maps.
	 */
	if (ret == -EIO)
		ret = 0;
	if (!ret) {
		ranges_write(true);
		range_remove(r.addr, (len + PAGE - 1) & ~(PAGE - 1));
		ranges_write(false);
	}
	call_unlock();
	if (!ret) {
		svc_pte_clear(r.addr, (len + PAGE - 1) & ~(PAGE - 1));
		if (sys_munmap(addr, len))
			ret = -errno;
	}
	return ret;
}

int svc_remote_mprotect(void *addr, size_t len, int prot)
{
	struct svc_mprotect_req r = {.addr = (uint64_t)(uintptr_t)addr, .len = len, .prot = prot};
	int ret = call_lock();

	if (ret)
		return ret;
	ret = mm_call(SVC_MPROTECT, &r, sizeof(r), NULL, NULL);
	call_unlock();
	return ret;
}

enum svc_fault_verdict svc_remote_fault(void *addr, int access)
{
	struct svc_fault_req r = {.addr = (uint64_t)(uintptr_t)addr, .access = (uint32_t)access};
	uint32_t verdict = SVC_FAULT_SIGBUS;
	int saved = errno; /* a signal handler leaves errno as it found it */
	int ret = call_lock();

	if (!ret) {
		ret = fchan_fault(&r, &verdict);
		if (ret == -EAGAIN)
			ret = mm_call(SVC_FAULT, &r, sizeof(r), NULL, &verdict);
		call_unlock();
	}
	errno = saved;
	/* No service to answer: the access cannot be satisfied (platform-service.md). */
	return ret ? SVC_FAULT_SIGBUS : (enum svc_fault_verdict)verdict;
}

/* ---- ENCLU in this process ---- */

struct sgx_hw *svc_remote_hw(void)
{
	return R.connected ? R.view : NULL;
}

int svc_remote_translate(uint64_t addr, int prot, void **epc)
{
	unsigned int section;
	uint64_t index;
	int pte_prot;

	if (!R.view || !svc_pte_get(addr & ~(PAGE - 1), &section, &index, &pte_prot))
		return -EFAULT;
	if ((pte_prot & prot) != prot)
		return -EACCES;
	*epc = hw_epc_page_addr(R.view, section, index);
	return *epc ? 0 : -EFAULT;
}

/* ---- fork ---- */

int svc_remote_fork_child(const char *dir)
{
	struct svc_fork_req r = {.parent_token = R.token};
	struct iovec part = {&r, sizeof(r)};
	const uint8_t *body = NULL;
	size_t len = 0;
	int ret;

	if (!R.connected)
		return 0;
	/*
	 * The parent's connections stay the parent's, and the EPC pages it had
	 * mapped, mapped here too, go: the service could not zap them in this
	 * process. The ranges stay reserved; faults bring the pages back
	 * through our own mm, which every enclave then lists.
	 */
	svc_remote_forget();
	ret = svc_remote_connect(dir, NULL, NULL);
	if (ret)
		return ret;
	ret = call_lock();
	if (ret)
		return ret;
	ret = rcall(SVC_FORK, &part, 1, &body, &len);
	call_unlock();
	return ret;
}
