/* SPDX-License-Identifier: MIT */
/*
 * The platform service: one platform (hw/ + kernel/) per user, served to
 * clients over the socket of socket_dir.h with the protocol of proto.h.
 *
 * One thread serves every connection with poll(): the requests of this
 * stage are short and never block on a client, so a single loop keeps the
 * connection table free of locks and a slow or hostile client cannot hold
 * the others up (every send is non-blocking; a peer whose socket is full is
 * dropped). The platform's own threads (ksgxd) run as in any process, and
 * so does one thread per fault channel (fault_chan.c), which serves its
 * client's faults in shared memory.
 */
#ifndef SOFTSGX_SERVICE_SERVER_H
#define SOFTSGX_SERVICE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "service/proto.h"
#include "softsgx/softsgx.h"

#define SVC_MAX_CONNS		 256
#define SVC_DEFAULT_IDLE_TIMEOUT 30 /* seconds */

struct svc_server_opts {
	struct softsgx_config cfg;
	unsigned int idle_timeout; /* seconds without clients, enclaves and vEPCs; 0: never */
	bool foreground;	   /* stay attached, log to stderr */
	const char *dir;	   /* socket directory (socket_dir.h) */
};

/*
 * Start a service and serve until it stops. In the foreground this returns
 * when the service exits (0 after SHUTDOWN, SIGTERM, SIGINT or the idle
 * timeout). Otherwise the service daemonizes and this returns 0 once it
 * serves, with *@pid its pid. -EALREADY: another service holds the
 * directory's lock (*@pid its pid, 0 when unknown). Other -errno: the
 * directory is refused (-EPERM), the platform did not boot...
 */
int svc_server_start(const struct svc_server_opts *o, pid_t *pid);

struct sgx_mm;

/* One connection as the dispatcher sees it. */
struct svc_conn {
	int fd;
	pid_t pid; /* SO_PEERCRED at accept */
	uid_t uid;
	bool hello;   /* HELLO accepted */
	bool control; /* SVC_HELLO_CONTROL: not counted as a client */
	char program[SVC_PROGRAM_MAX];
	/* The client's address space in the kernel model (client_mm.c); NULL for control. */
	struct sgx_mm *mm;
	/*
	 * The notify channel (client_mm.c): the client's second connection,
	 * named by @notify_token at NOTIFY_ATTACH. The mm's zap and unmap ops
	 * send on it from any thread (ksgxd, under an enclave's lock), one at
	 * a time under @notify_lock; -1 until attached and once the client is
	 * gone. Set up with the mm at HELLO (@notify_init).
	 */
	bool notify_init;
	int notify_fd;
	uint64_t notify_token;
	uint32_t notify_seq;
	bool notify_stalled; /* a ZAP went unacknowledged (client_mm.c) */
	pthread_mutex_t notify_lock;
	int next_handle; /* the next descriptor number OPEN gives */
	/* NOTIFY_ATTACH accepted: after the reply this connection becomes that one's channel. */
	struct svc_conn *attach_to;
	/*
	 * The owner token of this client's view of the CPU model (GET_EPC),
	 * 0 until asked: at its exit, the TCS pages its threads held are
	 * released (sgx_hw_owner_gone()).
	 */
	uint32_t hw_owner;
	struct sgx_hw *hw; /* the platform's CPU model, set with @hw_owner */
	/*
	 * Held while a request of this client is dispatched, by the serving
	 * thread or the fault channel's: a client's requests run one at a
	 * time, as they did with one thread, whichever way they came.
	 */
	pthread_mutex_t dispatch_lock;
	struct svc_fchan_srv *fchan; /* FAULT_CHANNEL given: fault_chan.c */
};

/* client_mm.c: the kernel model's mm of a client, made at its HELLO. 0 or -ENOMEM. */
int svc_conn_attach_mm(struct svc_conn *c);
/* The operations of a client's mm (client_mm.c): its PTEs and memory reached by messages. */
extern const struct sgx_mm_ops svc_client_mm_ops;
/* @fd is @c's notify channel from now on (NOTIFY_ATTACH). */
void svc_conn_set_notify(struct svc_conn *c, int fd);

/*
 * A request of a client being served (dispatch_mm.c) as the mm ops see it
 * (client_mm.c): the user memory the client sent for an ioctl, and the PTE
 * operations the request makes, returned in its reply. While it is set on
 * the dispatching thread, the ops of @mm read and write @win and record
 * reserve and install in @ops; anything else (another thread, another mm)
 * is no request of that client's.
 */
struct svc_req_ctx {
	struct sgx_mm *mm;
	uint32_t nr_win;
	struct svc_window win[SVC_MAX_WINDOWS];
	uint8_t *data[SVC_MAX_WINDOWS];
	bool dirty[SVC_MAX_WINDOWS];
	struct svc_pte_op *ops;
	uint32_t nr_ops, cap_ops;
};
void svc_req_begin(struct svc_req_ctx *r);
void svc_req_end(void);
/* The connection is gone: its mm exits (its enclaves' and files' references go). */
void svc_conn_release(struct svc_conn *c);

struct svc_server {
	struct softsgx_platform *platform;
	struct svc_config cfg; /* in force */
	unsigned int idle_timeout;
	uint64_t start_ms, idle_since_ms;
	bool stop;
	pid_t pid;
	/*
	 * Written by the serving thread only, which reads them without a
	 * lock; it changes them under @conns_lock, which the kernel's kick
	 * (any thread: ksgxd) holds while it walks them (svc_kick_clients()).
	 * A connection leaves the table before it is released.
	 */
	pthread_mutex_t conns_lock;
	struct svc_conn *conns[SVC_MAX_CONNS];
	unsigned int nr_conns;
	/* The next owner token GET_EPC gives (2 up: 1 is the platform's own threads'). */
	uint32_t next_owner;
};

/*
 * fault_chan.c: the fault channel of @c (proto.h: struct svc_fchan), served
 * by a thread of its own until svc_fchan_close(): 0 with *@fd the memfd to
 * pass (the caller closes it after sending), -EBUSY when @c has one, or
 * -errno. Close: stop that thread and wait for it; nothing when none.
 */
int svc_fchan_open(struct svc_server *s, struct svc_conn *c, int *fd);
void svc_fchan_close(struct svc_conn *c);

/*
 * The kernel model's kick (k->kick, its IPI) in the service: a KICK on the
 * notify channel of every client, each acknowledged once the client's
 * threads inside an enclave have left it, all awaited at most
 * SVC_ZAP_TIMEOUT_MS together; a stalled client is skipped (client_mm.c).
 */
void svc_kick_clients(struct svc_server *s);

/* A reply being built: the whole message, and the descriptors to pass. */
struct svc_out {
	uint8_t buf[SVC_MSG_MAX] __attribute__((aligned(8)));
	size_t len;
	int fds[SVC_MAX_FDS]; /* the dispatcher's own; the caller closes them after sending */
	int nfds;
	bool close; /* close the connection after sending (framing error) */
};

/*
 * Check and answer one received message of @c (svc_msg_check(), then the
 * handler of its type). Always produces a reply in @out. Exposed for the
 * fuzz harness, which drives it without sockets.
 */
void svc_dispatch(struct svc_server *s, struct svc_conn *c, const struct svc_msg *m,
		  struct svc_out *out);

/* The reply header with @status; returns where the type's payload goes. */
void *svc_reply_start(struct svc_out *out, const struct svc_hdr *req, unsigned int type,
		      int status);
/* @len more payload bytes were written after the reply header. */
void svc_reply_body(struct svc_out *out, size_t len);

/* dispatch_mm.c: the requests of a client's kernel work (OPEN ... FAULT, NOTIFY_ATTACH). */
void svc_dispatch_mm(struct svc_server *s, struct svc_conn *c, const struct svc_msg *m,
		     struct svc_out *out);

/*
 * dispatch_cgroup.c: EPC cgroups (issue 17). The cgroup a client is
 * charged to from its HELLO: the one at @path (NULL or "": the client's
 * cgroup v2 path, read from /proc/PID/cgroup; the root when it has none),
 * created if missing; NULL with *@err -EINVAL or -ENOMEM. The CGROUP_*
 * requests. Every cgroup's usage into *@out (calloc()ed; free() it, NULL
 * without memory): their count.
 */
struct sgx_epc_cgroup;
struct sgx_epc_cgroup_usage;
struct sgx_epc_cgroup *svc_client_cgroup(struct svc_server *s, const struct svc_conn *c,
					 const char *path, int *err);
void svc_dispatch_cgroup(struct svc_server *s, struct svc_conn *c, const struct svc_msg *m,
			 struct svc_out *out);
size_t svc_cgroup_usage(struct svc_server *s, struct sgx_epc_cgroup_usage **out);

/* Clients (connections past HELLO, not control) other than @except. */
unsigned int svc_clients(const struct svc_server *s, const struct svc_conn *except);

/* "2026-12-06T05:50:01.123Z softsgx-service[PID]: ..." on stderr. */
void svc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Where svc_log() writes: a descriptor, or -1 for nowhere (the fuzz harness). */
void svc_log_to(int fd);

#endif /* SOFTSGX_SERVICE_SERVER_H */
