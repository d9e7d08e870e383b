// SPDX-License-Identifier: MIT
/*
 * The service process (server.h): start-up (directory, lock, socket,
 * daemon), the poll loop over the listening socket and the connections, and
 * the idle exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hw/hw.h"
#include "kernel/api_internal.h"
#include "service/server.h"
#include "service/socket_dir.h"

static int log_fd = STDERR_FILENO;

void svc_log_to(int fd)
{
	log_fd = fd;
}

void svc_log(const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;

	if (log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
			      ".%03ldZ softsgx-service[%d]: ", ts.tv_nsec / 1000000, (int)getpid());
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	/* One write per line: lines of concurrent writers do not interleave. */
	if (write(log_fd, line, n) < 0)
		return;
}

/* ---- connections ---- */

static void conn_drop(struct svc_server *s, unsigned int i, const char *why)
{
	struct svc_conn *c = s->conns[i];

	if (c->hello && !c->control)
		svc_log("client pid %d (%s) %s", (int)c->pid, c->program, why);
	/* Its fault channel's thread first: it may be dispatching a fault of @c. */
	svc_fchan_close(c);
	if (c->fd >= 0)
		close(c->fd);
	/* Out of the table first: its release (sgx_mm_exit()) kicks the others. */
	pthread_mutex_lock(&s->conns_lock);
	s->conns[i] = s->conns[--s->nr_conns];
	pthread_mutex_unlock(&s->conns_lock);
	/*
	 * Its threads are gone, those inside an enclave too (killed there):
	 * each TCS they held is free again and the SECS no longer counts them,
	 * before its enclaves are released (EREMOVE answers ENCLAVE_ACT while
	 * threads are counted inside).
	 */
	if (c->hw_owner)
		sgx_hw_owner_gone(c->hw, c->hw_owner);
	svc_conn_release(c);
	pthread_mutex_destroy(&c->dispatch_lock);
	free(c);
}

static void accept_one(struct svc_server *s, int lfd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct svc_conn *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		svc_log("connection without peer credentials refused: %m");
		close(fd);
		return;
	}
	/* One service per user: another uid never reaches this platform. */
	if (cred.uid != geteuid()) {
		svc_log("connection of pid %d refused: uid %u is not ours (%u)", (int)cred.pid,
			(unsigned int)cred.uid, (unsigned int)geteuid());
		close(fd);
		return;
	}
	if (s->nr_conns == SVC_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		svc_log("connection of pid %d refused: %u connections already", (int)cred.pid,
			s->nr_conns);
		close(fd);
		return;
	}
	pthread_mutex_init(&c->dispatch_lock, NULL);
	c->fd = fd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	pthread_mutex_lock(&s->conns_lock);
	s->conns[s->nr_conns++] = c;
	pthread_mutex_unlock(&s->conns_lock);
}

static int send_out(int fd, const struct svc_out *out)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SVC_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)out->buf, .iov_len = out->len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (out->nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)out->nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)out->nfds);
		memcpy(CMSG_DATA(cm), out->fds, sizeof(int) * (size_t)out->nfds);
	}
	/* Never wait for a client: one whose socket is full is dropped. */
	if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)out->len)
		return -errno;
	return 0;
}

/* Receive one message; -1 when the connection is to be closed. */
static int serve_one(struct svc_server *s, unsigned int i, uint8_t *buf, struct svc_out *out)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SVC_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct svc_conn *c = s->conns[i];
	struct iovec iov = {.iov_base = buf, .iov_len = SVC_MSG_MAX + 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct svc_msg m = {0};
	ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int ret;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1; /* peer closed (or sent an empty message, which is no message) */
	/* Requests carry no descriptors: close whatever came, but count it. */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			close(fd);
			m.nfds++;
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		m.nfds = m.nfds ? m.nfds : 1;
	m.size = (size_t)n;
	m.trunc = mh.msg_flags & MSG_TRUNC;
	m.hdr = m.size >= sizeof(struct svc_hdr) ? (const struct svc_hdr *)buf : NULL;
	m.payload = buf + sizeof(struct svc_hdr);
	pthread_mutex_lock(&c->dispatch_lock);
	svc_dispatch(s, c, &m, out);
	pthread_mutex_unlock(&c->dispatch_lock);
	ret = send_out(c->fd, out);
	for (int k = 0; k < out->nfds; k++)
		close(out->fds[k]);
	if (ret) {
		/* Its socket is full: it does not read its replies. Never wait for it. */
		svc_log("pid %d: reply not sent (%s): connection dropped", (int)c->pid,
			strerror(-ret));
		return -1;
	}
	if (out->close) {
		svc_log("pid %d: malformed message (%zd bytes): connection closed", (int)c->pid, n);
		return -1;
	}
	if (c->attach_to) {
		/* Its client's notify channel from now on: no longer polled here. */
		svc_conn_set_notify(c->attach_to, c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/* k->kick of the service's kernel model. */
static void kick(struct sgx_kernel *k, void *data)
{
	(void)k;
	svc_kick_clients(data);
}

/* ---- start-up ---- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* What the daemon tells the process that started it. */
struct ready {
	int32_t status;
	int32_t pid;
};

static void report(int fd, int status)
{
	struct ready r = {.status = status, .pid = (int32_t)getpid()};

	if (fd >= 0 && write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		svc_log("could not report start-up: %m");
}

/*
 * Close every descriptor above stderr except @keep (@n of them): a daemon
 * that kept a pipe of whoever started it would make a shell's $(...) of
 * that command wait for the daemon's exit.
 */
static void close_others(const int *keep, unsigned int n)
{
	unsigned int lo = STDERR_FILENO + 1;

	for (;;) {
		unsigned int next = ~0u;

		for (unsigned int i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned int)keep[i] < next)
				next = (unsigned int)keep[i];
		if (next > lo)
			close_range(lo, next - 1, 0);
		if (next == ~0u)
			return;
		lo = next + 1;
	}
}

/*
 * Detach: fork, setsid, fork again (the daemon is no session leader, so it
 * never gets a controlling terminal), standard streams to /dev/null and the
 * log. Returns in the daemon with *@ready_fd the pipe to the first process;
 * the first process returns the daemon's status there and exits through
 * the caller.
 */
static int daemonize(const char *dir, int lock, int lfd, int *ready_fd, pid_t *pid)
{
	char log[256];
	int pfd[2], null, logfd;
	struct ready r;
	pid_t child;
	ssize_t n;

	if (svc_dir_file(dir, SVC_LOG_NAME, log, sizeof(log)))
		return -ENAMETOOLONG;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0)
		return -errno;
	if (child) {
		close(pfd[1]);
		waitpid(child, NULL, 0);
		do
			n = read(pfd[0], &r, sizeof(r));
		while (n < 0 && errno == EINTR);
		close(pfd[0]);
		if (n != (ssize_t)sizeof(r))
			return -ECHILD; /* the daemon died before it served */
		*pid = r.pid;
		return r.status ? r.status : 1;
	}
	close(pfd[0]);
	setsid();
	child = fork();
	if (child)
		_exit(child < 0 ? 1 : 0);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(logfd >= 0 ? logfd : null, STDERR_FILENO);
	}
	if (null > STDERR_FILENO)
		close(null);
	if (logfd > STDERR_FILENO)
		close(logfd);
	close_others((const int[]){lock, lfd, pfd[1]}, 3);
	/* Keep no directory busy; failing that is harmless. */
	if (chdir("/"))
		svc_log("chdir /: %m");
	*ready_fd = pfd[1];
	return 0;
}

/* Enclaves or vEPCs left in the platform (by a client gone, or kept open by a descriptor). */
static bool platform_holds_something(struct svc_server *s)
{
	unsigned int enclaves = 0, vepcs = 0;

	softsgx_get_usage(s->platform, NULL, 0, &enclaves, NULL, 0, &vepcs);
	return enclaves || vepcs;
}

static int serve(struct svc_server *s, int lfd)
{
	struct pollfd pfd[SVC_MAX_CONNS + 1];
	uint8_t *buf = malloc(SVC_MSG_MAX + 1);
	struct svc_out *out = malloc(sizeof(*out));
	sigset_t block, orig;

	if (!buf || !out) {
		free(buf);
		free(out);
		return -ENOMEM;
	}
	/* Signals are taken only inside ppoll(): no race with the stop check. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &orig);
	s->idle_since_ms = svc_now_ms();
	while (!s->stop) {
		uint64_t now = svc_now_ms();
		struct timespec tmo = {.tv_sec = 1};
		unsigned int n = s->nr_conns;

		/*
		 * The enclaves are counted only when no client is there: that
		 * walk takes the model's mm lock, and a busy service loops
		 * once per request (a fault's, every few microseconds).
		 */
		if (svc_clients(s, NULL) || platform_holds_something(s))
			s->idle_since_ms = now;
		else if (s->idle_timeout && now - s->idle_since_ms >= s->idle_timeout * 1000ull) {
			svc_log("idle for %u s: exiting", s->idle_timeout);
			break;
		}
		pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (unsigned int i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){.fd = s->conns[i]->fd, .events = POLLIN};
		if (ppoll(pfd, n + 1, &tmo, &orig) < 0) {
			if (errno != EINTR)
				break;
			if (got_signal) {
				svc_log("signal %d: exiting", (int)got_signal);
				break;
			}
			continue;
		}
		/* Back to front: conn_drop() moves the last connection into the hole. */
		for (unsigned int i = n; i-- > 0;) {
			if (!pfd[i + 1].revents)
				continue;
			if (serve_one(s, i, buf, out) < 0)
				conn_drop(s, i, "disconnected");
		}
		if (pfd[0].revents & POLLIN)
			accept_one(s, lfd);
	}
	while (s->nr_conns)
		conn_drop(s, s->nr_conns - 1, "disconnected at service exit");
	sigprocmask(SIG_SETMASK, &orig, NULL);
	free(buf);
	free(out);
	return 0;
}

int svc_server_start(const struct svc_server_opts *o, pid_t *pid)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct svc_server s = {.idle_timeout = o->idle_timeout,
			       .start_ms = svc_now_ms(),
			       .conns_lock = PTHREAD_MUTEX_INITIALIZER};
	char why[300], sock[256];
	int lock, lfd, ready = -1, ret;
	char desc[96];

	*pid = 0;
	ret = svc_dir_check(o->dir, true, why, sizeof(why));
	if (ret) {
		if (ret == -EPERM)
			fprintf(stderr, "softsgx platform: refusing the socket directory: %s\n",
				why);
		return ret;
	}
	lock = svc_lock_take(o->dir, pid);
	if (lock < 0)
		return lock;
	lfd = svc_listen(o->dir);
	if (lfd < 0) {
		close(lock);
		return lfd;
	}
	if (!o->foreground) {
		ret = daemonize(o->dir, lock, lfd, &ready, pid);
		if (ret) {
			/* The first process: the daemon keeps the lock and socket. */
			close(lfd);
			close(lock);
			return ret > 0 ? 0 : ret;
		}
	}
	s.pid = getpid();
	svc_lock_set_pid(lock, s.pid);
	svc_config_from(&s.cfg, &o->cfg);
	svc_log("booting the platform (%s)", svc_config_describe(&s.cfg, desc));
	/* The EPC's memfds stay open, to pass to clients (GET_EPC, hw/shm.h). */
	sgx_hw_keep_fds_default(true);
	s.platform = softsgx_platform_new(&o->cfg);
	if (!s.platform) {
		ret = -errno;
		svc_log("the platform did not boot: %s", strerror(errno));
		report(ready, ret);
		goto out;
	}
	/* The enclaves' threads run in the clients (ENCLU there, hw/hw.h views). */
	softsgx_kernel(s.platform)->lps_elsewhere = true;
	/* The model's IPI: a KICK to every client (svc_kick_clients()). */
	softsgx_kernel(s.platform)->kick_data = &s;
	softsgx_kernel(s.platform)->kick = kick;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	svc_dir_file(o->dir, SVC_SOCK_NAME, sock, sizeof(sock));
	svc_log("serving on %s (idle timeout %u s)", sock, s.idle_timeout);
	report(ready, 0);
	if (ready >= 0)
		close(ready);
	ready = -1;
	*pid = s.pid;
	ret = serve(&s, lfd);
	/* The socket goes before the lock, so nobody finds a socket we no longer serve. */
	unlink(sock);
	softsgx_platform_free(s.platform);
	svc_log("stopped");
out:
	close(lfd);
	/* An empty pid file: no service (the lock, released by close, says the same). */
	if (ftruncate(lock, 0))
		svc_log("could not clear the pid file: %m");
	close(lock);
	if (ready >= 0)
		close(ready);
	if (!o->foreground)
		_exit(ret ? 1 : 0);
	return ret;
}
