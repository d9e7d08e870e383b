// SPDX-License-Identifier: MIT
/*
 * The client side of the platform service (client.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service/client.h"
#include "service/socket_dir.h"

extern char **environ;

void svc_close(struct svc_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Wait up to the client's timeout for a message; 0, -ETIMEDOUT or -errno. */
static int wait_readable(struct svc_client *c)
{
	uint64_t deadline = svc_now_ms() + (uint64_t)c->timeout_ms;
	struct pollfd p = {.fd = c->fd, .events = POLLIN};

	for (;;) {
		uint64_t now = svc_now_ms();
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0; /* data, or a hang-up that recvmsg() reports */
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

int svc_call(struct svc_client *c, unsigned int type, const void *req, size_t req_len, void *rep,
	     size_t cap, size_t *rep_len, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SVC_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct svc_hdr h = {.magic = SVC_MAGIC,
			    .version = SVC_VERSION,
			    .type = (uint16_t)type,
			    .len = (uint32_t)req_len,
			    .seq = ++c->seq};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)req, req_len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = req_len ? 2 : 1};
	int got[SVC_MAX_FDS], ngot = 0, ret;
	struct svc_msg m = {.reply = true};
	const struct svc_reply_hdr *r;
	uint8_t *buf;
	ssize_t n;

	if (c->fd < 0)
		return -ENOTCONN;
	if (req_len > SVC_MSG_MAX - sizeof(h))
		return -EMSGSIZE;
	if (sendmsg(c->fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EAGAIN)
			return -ETIMEDOUT; /* SO_SNDTIMEO: the service reads nothing */
		return errno == ECONNRESET || errno == ENOTCONN ? -EPIPE : -errno;
	}
	buf = malloc(SVC_MSG_MAX + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ret = wait_readable(c);
		if (ret)
			goto out;
		iov[0] = (struct iovec){buf, SVC_MSG_MAX + 1};
		mh = (struct msghdr){.msg_iov = iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf)};
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			/* The service closed the connection or died: say so, never wait more. */
			ret = n == 0 || errno == ECONNRESET ? -ECONNRESET : -errno;
			goto out;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				if (ngot < SVC_MAX_FDS)
					got[ngot++] = fd;
				else
					close(fd);
			}
		}
		m.hdr = (size_t)n >= sizeof(h) ? (const struct svc_hdr *)buf : NULL;
		m.payload = buf + sizeof(h);
		m.size = (size_t)n;
		m.trunc = mh.msg_flags & MSG_TRUNC;
		m.nfds = (mh.msg_flags & MSG_CTRUNC) ? SVC_MAX_FDS + 1 : ngot;
		ret = svc_msg_check(&m);
		if (!ret && (m.hdr->seq != h.seq || (m.hdr->type & ~SVC_REPLY) != type))
			ret = -EPROTO; /* a reply to something we did not ask now */
		if (ret) {
			/* A service that speaks nonsense is not trusted further. */
			close_fds(got, ngot);
			svc_close(c);
			ret = -EPROTO;
			goto out;
		}
		break;
	}
	r = m.payload;
	ret = r->status;
	n = (ssize_t)(m.hdr->len - sizeof(*r));
	if (rep_len)
		*rep_len = (size_t)n;
	if (rep)
		memcpy(rep, r + 1, (size_t)n < cap ? (size_t)n : cap);
	if (fds && nfds) {
		memcpy(fds, got, sizeof(int) * (size_t)ngot);
		*nfds = ngot;
	} else {
		close_fds(got, ngot);
	}
out:
	free(buf);
	return ret;
}

static int dial(const char *dir, int timeout_ms, int *out)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[256];
	int fd, ret;

	if (!dir) {
		ret = svc_dir_path(path, sizeof(path));
		if (ret)
			return ret;
		dir = path;
	}
	ret = svc_dir_file(dir, SVC_SOCK_NAME, sa.sun_path, sizeof(sa.sun_path));
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * Bounds connect() on a full listen backlog and a send to a service
	 * that stopped reading (AF_UNIX waits for either with the send timeout).
	 */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
		return ret;
	}
	/* The other end must be our own user's service, not someone's socket. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	*out = fd;
	return 0;
}

static void program_name(char *buf, size_t len)
{
	char path[256];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	const char *base;

	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	path[n] = '\0';
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	/* Truncated to the protocol's field, as the kernel truncates comm. */
	n = (ssize_t)strnlen(base, len - 1);
	memcpy(buf, base, (size_t)n);
	buf[n] = '\0';
}

int svc_connect(struct svc_client *c, const char *dir, const struct softsgx_config *cfg,
		unsigned int flags, struct svc_hello_rep *info)
{
	/* The request and, when the client names one, its cgroup path after it. */
	struct {
		struct svc_hello_req h;
		char cgroup[SVC_CGROUP_PATH_MAX];
	} msg = {.h = {.pid = (uint32_t)getpid(), .version = SVC_VERSION, .flags = flags}};
	struct svc_hello_req *hp = &msg.h;
	size_t len = 0, req_len = sizeof(msg.h);
	struct svc_hello_rep rep;
	int ret;

	c->fd = -1;
	c->seq = 0;
	if (!c->timeout_ms)
		c->timeout_ms = SVC_DEFAULT_TIMEOUT_MS;
	if (cfg)
		svc_config_from(&hp->cfg, cfg);
	else
		hp->flags |= SVC_HELLO_ANY_CONFIG;
	program_name(hp->program, sizeof(hp->program));
	if (!(flags & SVC_HELLO_CONTROL) && c->cgroup && c->cgroup[0]) {
		size_t n = strlen(c->cgroup) + 1;

		if (n > sizeof(msg.cgroup) || !svc_cgroup_path_valid(c->cgroup, sizeof(msg.cgroup)))
			return -EINVAL;
		memcpy(msg.cgroup, c->cgroup, n);
		req_len += n;
	}
	ret = dial(dir, c->timeout_ms, &c->fd);
	if (ret)
		return ret;
	memset(&rep, 0, sizeof(rep));
	ret = svc_call(c, SVC_HELLO, &msg, req_len, &rep, sizeof(rep), &len, NULL, NULL);
	if ((!ret || ret == -EBUSY) && info)
		*info = rep;
	if (ret)
		svc_close(c);
	return ret;
}

int svc_attach_notify(struct svc_client *n, const char *dir, uint64_t token)
{
	struct svc_notify_attach_req r = {.token = token};
	int ret;

	n->fd = -1;
	n->seq = 0;
	if (!n->timeout_ms)
		n->timeout_ms = SVC_DEFAULT_TIMEOUT_MS;
	ret = dial(dir, n->timeout_ms, &n->fd);
	if (ret)
		return ret;
	ret = svc_call(n, SVC_NOTIFY_ATTACH, &r, sizeof(r), NULL, 0, NULL, NULL, NULL);
	if (ret)
		svc_close(n);
	return ret;
}

/* The start command's environment: ours, with SOFTSGX_RUNTIME_DIR=@dir. */
static char **start_env(const char *dir)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (dir && !strncmp(environ[i], "SOFTSGX_RUNTIME_DIR=", 20))
			continue;
		/*
		 * Started by the shim of a program under `softsgx run --service`:
		 * the service itself runs without the shim (which would make it a
		 * client of itself) and without what else was preloaded there.
		 */
		if (!strncmp(environ[i], "LD_PRELOAD=", 11) ||
		    !strncmp(environ[i], "SOFTSGX_SERVICE=", 16))
			continue;
		env[k++] = environ[i];
	}
	if (dir && asprintf(&env[k++], "SOFTSGX_RUNTIME_DIR=%s", dir) < 0) {
		free(env);
		return NULL;
	}
	return env;
}

static pid_t spawn_start(const char *dir, const char *bin, const struct softsgx_config *cfg)
{
	char epc[32], sections[16];
	const char *argv[10];
	char **env;
	int i = 0;
	pid_t pid;

	argv[i++] = "softsgx";
	argv[i++] = "platform";
	argv[i++] = "start";
	if (cfg) {
		/* Options express only evenly split sections, as the command makes them. */
		for (unsigned int s = 1; s < cfg->nr_sections; s++)
			if (cfg->section_size[s] != cfg->section_size[0])
				return -EINVAL;
		snprintf(epc, sizeof(epc), "%llu",
			 (unsigned long long)(cfg->section_size[0] * cfg->nr_sections));
		snprintf(sections, sizeof(sections), "%u", cfg->nr_sections);
		argv[i++] = "--epc";
		argv[i++] = epc;
		argv[i++] = "--sections";
		argv[i++] = sections;
		if (!cfg->sgx2)
			argv[i++] = "--sgx1";
	}
	argv[i] = NULL;
	/* Everything the child needs is made before fork(): the caller may have threads. */
	env = start_env(dir);
	if (!env)
		return -ENOMEM;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* "started" is not the caller's output; errors stay on stderr. */
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		/* Only the standard streams: the caller's other descriptors are its own. */
		close_range(STDERR_FILENO + 1, ~0u, 0);
		execve(bin ? bin : "/proc/self/exe", (char *const *)argv, env);
		_exit(127);
	}
	if (dir)
		for (char **e = env; *e; e++)
			if (!strncmp(*e, "SOFTSGX_RUNTIME_DIR=", 20))
				free(*e);
	free(env);
	return pid < 0 ? -errno : pid;
}

int svc_connect_or_start(struct svc_client *c, const char *dir, const char *bin,
			 const struct softsgx_config *cfg, unsigned int flags,
			 struct svc_hello_rep *info)
{
	uint64_t deadline;
	pid_t pid;
	int ret, status;
	bool reaped = false;

	ret = svc_connect(c, dir, cfg, flags, info);
	if (ret != -ENOENT && ret != -ECONNREFUSED)
		return ret;
	pid = spawn_start(dir, bin, cfg);
	if (pid < 0)
		return pid;
	deadline = svc_now_ms() + SVC_START_TIMEOUT_MS;
	for (;;) {
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = true;
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				/* A start that lost a race to another still leaves a service. */
				ret = svc_connect(c, dir, cfg, flags, info);
				return ret == -ENOENT || ret == -ECONNREFUSED ? -ECHILD : ret;
			}
		}
		ret = svc_connect(c, dir, cfg, flags, info);
		if (ret != -ENOENT && ret != -ECONNREFUSED)
			break;
		if (svc_now_ms() >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		usleep(10000);
	}
	if (!reaped) {
		/* The start command returns once its daemon serves; do not leave a zombie. */
		while (svc_now_ms() < deadline && waitpid(pid, &status, WNOHANG) == 0)
			usleep(5000);
		if (waitpid(pid, &status, WNOHANG) == 0) {
			kill(pid, SIGTERM);
			waitpid(pid, &status, 0);
		}
	}
	return ret;
}

int svc_status(struct svc_client *c, struct svc_status_rep *st)
{
	memset(st, 0, sizeof(*st));
	return svc_call(c, SVC_STATUS, NULL, 0, st, sizeof(*st), NULL, NULL, NULL);
}

int svc_top(struct svc_client *c, char **json)
{
	char *buf = malloc(SVC_MSG_MAX + 1);
	size_t len = 0;
	int ret;

	*json = NULL;
	if (!buf)
		return -ENOMEM;
	ret = svc_call(c, SVC_TOP, NULL, 0, buf, SVC_MSG_MAX, &len, NULL, NULL);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len < SVC_MSG_MAX ? len : SVC_MSG_MAX] = '\0';
	*json = buf;
	return 0;
}

int svc_shutdown(struct svc_client *c, bool force, unsigned int *clients)
{
	struct svc_shutdown_req req = {.flags = force ? SVC_SHUTDOWN_FORCE : 0};
	struct svc_shutdown_rep rep = {0};
	int ret = svc_call(c, SVC_SHUTDOWN, &req, sizeof(req), &rep, sizeof(rep), NULL, NULL, NULL);

	if (clients)
		*clients = rep.clients;
	return ret;
}

int svc_get_epc(struct svc_client *c, struct svc_get_epc_rep *rep, int *fds)
{
	int nfds = 0, ret;

	memset(rep, 0, sizeof(*rep));
	ret = svc_call(c, SVC_GET_EPC, NULL, 0, rep, sizeof(*rep), NULL, fds, &nfds);
	if (!ret && nfds != 2 * (int)rep->nr_sections) {
		close_fds(fds, nfds);
		return -EPROTO;
	}
	return ret;
}

int svc_fault_channel(struct svc_client *c, int *fd)
{
	int fds[SVC_MAX_FDS], nfds = 0;
	int ret = svc_call(c, SVC_FAULT_CHANNEL, NULL, 0, NULL, 0, NULL, fds, &nfds);

	/* svc_msg_check() took the reply with exactly one descriptor. */
	if (!ret)
		*fd = fds[0];
	return ret;
}

/* A CGROUP_READ, _SET_MAX or _REMOVE request for @path; -EINVAL for a path the service would
 * refuse. */
static int cgroup_req(struct svc_cgroup_req *r, const char *path, const char *file, uint64_t max)
{
	memset(r, 0, sizeof(*r));
	if (strlen(path) >= sizeof(r->path) || !svc_cgroup_path_valid(path, sizeof(r->path)))
		return -EINVAL;
	if (file && strlen(file) >= sizeof(r->file))
		return -ENOENT;
	strcpy(r->path, path);
	if (file)
		strcpy(r->file, file);
	r->max = max;
	return 0;
}

int svc_cgroup_read(struct svc_client *c, const char *path, const char *file, char *buf, size_t cap)
{
	struct svc_cgroup_req r;
	size_t len = 0;
	int ret = cgroup_req(&r, path, file, 0);

	if (!ret && cap < 2)
		ret = -ENOBUFS;
	if (!ret)
		ret = svc_call(c, SVC_CGROUP_READ, &r, sizeof(r), buf, cap - 1, &len, NULL, NULL);
	if (!ret && len >= cap - 1)
		ret = -ENOBUFS; /* svc_call() keeps what fits; the text may have been longer */
	if (cap)
		buf[ret || len >= cap ? 0 : len] = '\0';
	return ret;
}

int svc_cgroup_set_max(struct svc_client *c, const char *path, uint64_t max)
{
	struct svc_cgroup_req r;
	int ret = cgroup_req(&r, path, NULL, max);

	return ret ? ret
		   : svc_call(c, SVC_CGROUP_SET_MAX, &r, sizeof(r), NULL, 0, NULL, NULL, NULL);
}

int svc_cgroup_remove(struct svc_client *c, const char *path)
{
	struct svc_cgroup_req r;
	int ret = cgroup_req(&r, path, NULL, 0);

	return ret ? ret : svc_call(c, SVC_CGROUP_REMOVE, &r, sizeof(r), NULL, 0, NULL, NULL, NULL);
}

int svc_cgroup_list(struct svc_client *c, struct svc_cgroup_list_rep **rep)
{
	void *buf = malloc(SVC_MSG_MAX);
	int ret;

	*rep = NULL;
	if (!buf)
		return -ENOMEM;
	ret = svc_call(c, SVC_CGROUP_LIST, NULL, 0, buf, SVC_MSG_MAX, NULL, NULL, NULL);
	if (ret) {
		free(buf);
		return ret;
	}
	*rep = buf;
	return 0;
}
