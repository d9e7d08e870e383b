/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between the platform service (service/server.c) and its
 * clients (service/client.c): AF_UNIX SOCK_SEQPACKET, so one send() is one
 * message (no framing of our own to get wrong) and descriptors travel with
 * SCM_RIGHTS. docs/architecture.md, "Platform service", has the table.
 *
 * Every message is a struct svc_hdr and @len payload bytes. A reply has the
 * request's type with SVC_REPLY set, the request's seq, and a payload that
 * starts with struct svc_reply_hdr (status 0 or -errno) followed by the
 * type's reply payload. All integers are in host byte order: both ends are
 * on the same machine, and the version field covers any change of layout.
 */
#ifndef SOFTSGX_SERVICE_PROTO_H
#define SOFTSGX_SERVICE_PROTO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "softsgx/softsgx.h"

#define SVC_MAGIC   0x58475353u /* "SSGX" in memory on little-endian */
#define SVC_VERSION 1

/* The largest message either side sends or accepts, header included. */
#define SVC_MSG_MAX (256 * 1024)
/* Descriptors one message may carry (GET_EPC: two per EPC section). */
#define SVC_MAX_FDS (2 * SOFTSGX_MAX_SECTIONS)

enum svc_type {
	SVC_HELLO = 1,
	SVC_STATUS = 2,
	SVC_TOP = 3,
	SVC_SHUTDOWN = 4,
	SVC_GET_EPC = 5,
	/*
	 * The kernel's work for a client process (remote.h): its notify
	 * channel, then what Linux does in a system call or a page fault.
	 */
	SVC_NOTIFY_ATTACH = 6,
	SVC_OPEN = 7,
	SVC_CLOSE = 8,
	SVC_IOCTL = 9,
	SVC_MMAP = 10,
	SVC_MUNMAP = 11,
	SVC_MPROTECT = 12,
	SVC_FAULT = 13,
	/* Service -> client, on the notify channel; the reply is the ack. */
	SVC_ZAP = 14,
	/*
	 * EPC cgroups (issue 17, kernel/epc_cgroup.h): the misc files of a
	 * cgroup of the service's own hierarchy, its limit, rmdir, and the
	 * usage of every cgroup. Any connection past HELLO, control ones too.
	 */
	SVC_CGROUP_READ = 15,
	SVC_CGROUP_SET_MAX = 16,
	SVC_CGROUP_REMOVE = 17,
	SVC_CGROUP_LIST = 18,
	/*
	 * A forked child's request after its own HELLO and NOTIFY_ATTACH: its
	 * mm becomes a copy of its parent's (sgx_mm_fork(): the same enclaves,
	 * vEPCs and handles, as Linux's fork() shares them).
	 */
	SVC_FORK = 19,
	/*
	 * Service -> client, on the notify channel: the model's IPI (k->kick).
	 * No payload; the client makes its threads inside an enclave take an
	 * AEX (svc_remote_set_kick()), then acknowledges with an empty reply.
	 */
	SVC_KICK = 20,
	/*
	 * A client's fault channel (struct svc_fchan): its FAULTs in shared
	 * memory instead of on its socket. No payload; the reply carries one
	 * descriptor, a sealed memfd holding the channel.
	 */
	SVC_FAULT_CHANNEL = 21,
	SVC_TYPE_MAX = SVC_FAULT_CHANNEL,
};
#define SVC_REPLY 0x8000u /* set in the type of a reply */

struct svc_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len; /* payload bytes after the header */
	uint32_t seq; /* chosen by the client; echoed in the reply */
};
_Static_assert(sizeof(struct svc_hdr) == 16, "svc_hdr layout");

struct svc_reply_hdr {
	int32_t status; /* 0 or -errno */
	uint32_t reserved;
};
_Static_assert(sizeof(struct svc_reply_hdr) == 8, "svc_reply_hdr layout");

/* The platform a client wants, or the one in force. */
#define SVC_CFG_SGX1 0x1u /* SGX1 only */
struct svc_config {
	uint32_t nr_sections;
	uint32_t flags; /* SVC_CFG_* */
	uint64_t section_size[SOFTSGX_MAX_SECTIONS];
};
_Static_assert(sizeof(struct svc_config) == 72, "svc_config layout");

/* Flags of HELLO. */
#define SVC_HELLO_ANY_CONFIG 0x1u /* take the platform as it is (status, stop, top) */
#define SVC_HELLO_CONTROL    0x2u /* a control connection: not a client of the platform */
#define SVC_HELLO_FLAGS	     (SVC_HELLO_ANY_CONFIG | SVC_HELLO_CONTROL)

#define SVC_PROGRAM_MAX 64
struct svc_hello_req {
	uint32_t pid;
	uint32_t version; /* SVC_VERSION of the client */
	uint32_t flags;	  /* SVC_HELLO_* */
	uint32_t reserved;
	struct svc_config cfg;
	char program[SVC_PROGRAM_MAX]; /* NUL-terminated */
};

/*
 * A HELLO may go on after struct svc_hello_req with the client's EPC cgroup
 * path (`softsgx run --cgroup`), NUL-terminated, at most
 * SVC_CGROUP_PATH_MAX bytes with the NUL. Without one (or with ""), the
 * service charges the client to its cgroup v2 path, which it reads itself
 * from /proc/PID/cgroup of the SO_PEERCRED pid (server-side: one cgroup
 * namespace for every client, the service's; a containerized client would
 * see its own cgroup as "/"). The service's hierarchy is its own: a path
 * names a cgroup there, nothing is written to the host's cgroupfs.
 */
#define SVC_CGROUP_PATH_MAX 1024
/*
 * A cgroup path on the wire: "/" or "/a/b", NUL-terminated within @max
 * bytes; no empty component (no "//", no trailing "/"), no "." or "..",
 * components of at most 255 bytes, at most 64 levels, no control bytes.
 */
bool svc_cgroup_path_valid(const char *path, size_t max);

/* Also the payload of a -EBUSY HELLO reply: the config in force. */
struct svc_hello_rep {
	uint32_t service_pid;
	uint32_t version;
	struct svc_config cfg;
	/* A client's second connection names it in NOTIFY_ATTACH (0 for control). */
	uint64_t notify_token;
};

struct svc_status_rep {
	uint64_t total_pages, free_pages, in_use_pages, leaked_pages, zombie_pages;
	uint32_t clients, enclaves, vepcs, service_pid;
	uint64_t uptime_ms;
	/*
	 * Sanitization (kernel/sanitize.c, ksgxd in the background): of the
	 * pages that may hold EPCM state (sanitize_total_pages; 0 on a fresh
	 * EPC), the first pass has looked at sanitized_pages.
	 * SVC_STATUS_SANITIZED once both passes are over.
	 */
	uint64_t sanitized_pages, sanitize_total_pages;
	struct svc_config cfg;
	uint32_t flags; /* SVC_STATUS_* */
	uint32_t reserved;
	/* Pages the reclaimer wrote out (EWB) and faults loaded back (ELDU), ever. */
	uint64_t evictions, reloads;
};
#define SVC_STATUS_SANITIZED 0x1u

#define SVC_SHUTDOWN_FORCE 0x1u
struct svc_shutdown_req {
	uint32_t flags;
	uint32_t reserved;
};

/* SHUTDOWN reply payload (with 0 or -EBUSY): the clients connected. */
struct svc_shutdown_rep {
	uint32_t clients;
	uint32_t reserved;
};

/*
 * GET_EPC reply: with SCM_RIGHTS two descriptors per section, in order: its
 * memory, then its EPCM (fds[2 * i], fds[2 * i + 1] of struct sgx_hw_share),
 * and what a view of the CPU model needs (sgx_hw_attach()) to run ENCLU in
 * the client: @share, and @owner, the token its threads' TCS pages carry,
 * unique among the service's clients (sgx_hw_owner_gone() at its exit).
 */
struct svc_epc_section {
	uint64_t phys, size;
};
struct svc_get_epc_rep {
	uint32_t nr_sections;
	uint32_t owner;
	struct svc_epc_section section[SOFTSGX_MAX_SECTIONS];
	struct sgx_hw_share share;
};

/* TOP reply payload: JSON text (not NUL-terminated; the length is @len). */

/*
 * NOTIFY_ATTACH: the first and only request of a client's second
 * connection, from the same process (SO_PEERCRED) as the connection whose
 * HELLO reply gave @token. From then on the service sends ZAP on it and
 * waits (SVC_ZAP_TIMEOUT_MS) for each acknowledgement.
 */
struct svc_notify_attach_req {
	uint64_t token;
};

/*
 * FORK: the parent's notify token (its HELLO reply's), which only the
 * parent and the children it forked know. No reply payload. -ESRCH: no
 * such client (it exited); -EPERM: another user's; -EBUSY: this client has
 * opened or mapped something already (FORK must come first).
 */
struct svc_fork_req {
	uint64_t parent_token;
};

/* OPEN: /dev/sgx_enclave, /dev/sgx_provision or /dev/sgx_vepc. Reply: the handle. */
#define SVC_OPEN_ENCLAVE   1
#define SVC_OPEN_PROVISION 2
#define SVC_OPEN_VEPC	   3
struct svc_open_req {
	uint32_t type; /* SVC_OPEN_* */
	uint32_t reserved;
};
struct svc_open_rep {
	int32_t handle; /* the client's descriptor in its mm's table (sgx_mm_fd_install) */
	uint32_t reserved;
};

struct svc_close_req {
	int32_t handle;
	uint32_t reserved;
};

/*
 * IOCTL: the ioctl's @cmd and @arg (the client's pointer), and the user
 * memory the ioctl reads, as windows: @nr_windows struct svc_window, then
 * their bytes, in order. copy_from_user() reads from them, copy_to_user()
 * writes into them; any other address is -EFAULT, as Linux gives for a bad
 * user pointer. The reply's status is the ioctl's result; its payload is
 * struct svc_ioctl_rep and the windows written (struct svc_window each,
 * then their bytes), which the client copies back.
 */
#define SVC_MAX_WINDOWS	    8
#define SVC_IOCTL_BATCH_PAGES 32 /* ADD_PAGES source pages per message */
#define SVC_IOCTL_MAX_DATA    (SVC_IOCTL_BATCH_PAGES * 4096 + 8192)
struct svc_window {
	uint64_t addr, len;
};
struct svc_ioctl_req {
	int32_t handle;
	uint32_t nr_windows;
	uint64_t cmd;
	uint64_t arg;
	/* struct svc_window[nr_windows], then the data of each */
};
struct svc_ioctl_rep {
	uint32_t nr_windows; /* the windows written, each with its data */
	uint32_t reserved;
};

/*
 * MMAP: the client has reserved [addr, addr + len) PROT_NONE itself (the
 * kernel model's reserve op takes its address); the service records the
 * VMA. @flags as mmap(2)'s (MAP_SHARED, MAP_FIXED...).
 */
struct svc_mmap_req {
	int32_t handle;
	int32_t prot;
	int32_t flags;
	uint32_t reserved;
	uint64_t addr, len, offset;
};

struct svc_munmap_req {
	uint64_t addr, len;
};

struct svc_mprotect_req {
	uint64_t addr, len;
	int32_t prot;
	uint32_t reserved;
};

/* FAULT: a page fault of the client at @addr, @access PROT_* (| SGX_FAULT_ENCLAVE_MODE). */
struct svc_fault_req {
	uint64_t addr;
	uint32_t access;
	uint32_t reserved;
};

/*
 * What the request did to the client's page tables, for it to apply
 * before it returns (a fault: before its signal handler returns), in
 * order: RESERVE makes [addr, addr + len) not present (PROT_NONE), INSTALL
 * maps page @index of EPC section @section at @addr with @prot.
 */
#define SVC_PTE_RESERVE 1
#define SVC_PTE_INSTALL 2
struct svc_pte_op {
	uint32_t op;
	int32_t prot; /* the host PTE's: for an enclave page no more than the EPCM allows */
	uint64_t addr, len;
	uint32_t section;
	uint32_t walk_prot; /* INSTALL: what the CPU model's walk finds, prot's superset */
	uint64_t index;
};
_Static_assert(sizeof(struct svc_pte_op) == 40, "svc_pte_op layout");

/* Reply of MMAP, MUNMAP, MPROTECT and FAULT. */
#define SVC_FAULT_VERDICT_MAX 4 /* enum sgx_fault_result of kernel/driver.h */
struct svc_mm_rep {
	uint64_t addr;	  /* MMAP: the VMA's start */
	uint32_t verdict; /* FAULT: enum sgx_fault_result */
	uint32_t nr_ops;
	/* struct svc_pte_op[nr_ops] */
};
#define SVC_MAX_PTE_OPS                                                                            \
	((SVC_MSG_MAX - sizeof(struct svc_hdr) - sizeof(struct svc_reply_hdr) -                    \
	  sizeof(struct svc_mm_rep)) /                                                             \
	 sizeof(struct svc_pte_op))

/*
 * The fault channel of a client (FAULT_CHANNEL): one FAULT at a time in
 * memory both processes map, @state its futex word. A fault through the
 * socket costs four system calls beyond the wake-up (the client's send and
 * receive, the service's receive and send), each of them, in a VM, about a
 * third of the fault's own work; through the channel it costs the client's
 * FUTEX_WAKE, and nothing while the client waits for its reply (it spins
 * first, as for a socket reply).
 *
 *   IDLE -> REQ   the client wrote @req: a FAULT request as the socket
 *                 carries it (header and payload, @req_len bytes)
 *   REQ  -> REP   the service wrote @rep: the reply message, @rep_len bytes
 *   REP  -> IDLE  the client took the reply
 *   any  -> CLOSED the service no longer serves the channel
 *
 * The service copies a request out before it reads it and never reads
 * back what it wrote: the client can change the memory at any moment. A
 * client that sleeps for its reply sets @client_sleeps first (then looks
 * at @state again); the service wakes it when set.
 */
#define SVC_FCHAN_IDLE	  0
#define SVC_FCHAN_REQ	  1
#define SVC_FCHAN_REP	  2
#define SVC_FCHAN_CLOSED  3
#define SVC_FCHAN_REQ_MAX 64
struct svc_fchan {
	_Atomic uint32_t state;
	_Atomic uint32_t client_sleeps;
	uint32_t req_len;
	uint32_t rep_len;
	uint8_t req[SVC_FCHAN_REQ_MAX] __attribute__((aligned(8)));
	uint8_t rep[SVC_MSG_MAX] __attribute__((aligned(8)));
};
_Static_assert(sizeof(struct svc_hdr) + sizeof(struct svc_fault_req) <= SVC_FCHAN_REQ_MAX,
	       "a FAULT request fits the channel");
/* The channel's memfd: the struct in whole pages. */
#define SVC_FCHAN_SIZE ((sizeof(struct svc_fchan) + 4095) & ~(size_t)4095)

/*
 * ZAP (service -> client): drop the PTEs of @n pages at @addr[] (PAGES), or
 * unmap [addr[0], addr[0] + len) (UNMAP); the client acknowledges with an
 * empty reply once its page tables no longer have them, as a TLB shootdown
 * completes before EBLOCK.
 */
#define SVC_ZAP_PAGES	  1
#define SVC_ZAP_UNMAP	  2
#define SVC_ZAP_MAX_PAGES 512
#define SVC_ZAP_TIMEOUT_MS 1000
struct svc_zap_req {
	uint32_t kind;
	uint32_t n;
	uint64_t len;
	/* uint64_t addr[n] */
};

/*
 * CGROUP_READ (@file: "misc.current", "misc.max", "misc.events",
 * "misc.events.local", "misc.peak", "misc.capacity" at the root; reply: the
 * file's text, not NUL-terminated, -ENOENT for a cgroup or file that does
 * not exist), CGROUP_SET_MAX (@max bytes, SVC_CGROUP_MAX for "max"; creates
 * the cgroup and its ancestors; -EBUSY: the limit is set but usage could
 * not be reclaimed under it; -EINVAL at the root), CGROUP_REMOVE (rmdir:
 * -ENOENT, -EBUSY with children, clients or charges, -EINVAL at the root).
 * Fields a request does not use are zero.
 */
#define SVC_CGROUP_MAX	    UINT64_MAX
#define SVC_CGROUP_FILE_MAX 32
struct svc_cgroup_req {
	uint64_t max;
	char file[SVC_CGROUP_FILE_MAX];
	char path[SVC_CGROUP_PATH_MAX];
};
_Static_assert(sizeof(struct svc_cgroup_req) == 1064, "svc_cgroup_req layout");

/* CGROUP_LIST reply: @nr entries (pre-order, the root first) of @total live cgroups. */
struct svc_cgroup_entry {
	uint64_t current, max, peak, events; /* bytes, bytes (SVC_CGROUP_MAX), bytes, count */
	uint64_t reclaimable;		     /* bytes on its own LRU */
	uint32_t nr_clients;		     /* mms attached */
	uint32_t reserved;
	char path[SVC_CGROUP_PATH_MAX];
};
struct svc_cgroup_list_rep {
	uint32_t nr, total;
	/* struct svc_cgroup_entry[nr] */
};
#define SVC_CGROUP_LIST_MAX                                                                        \
	((SVC_MSG_MAX - sizeof(struct svc_hdr) - sizeof(struct svc_reply_hdr) -                    \
	  sizeof(struct svc_cgroup_list_rep)) /                                                    \
	 sizeof(struct svc_cgroup_entry))

/*
 * Nanoseconds and milliseconds of CLOCK_MONOTONIC: the timeouts of both
 * sides of the protocol (the service's and its clients').
 */
uint64_t svc_now_ns(void);
uint64_t svc_now_ms(void);

/*
 * A fault channel's futex (struct svc_fchan), shared between processes:
 * wait while *@word is @val, at most @timeout_ns (woken, changed, timed out
 * or interrupted: look again); wake every waiter. Async-signal-safe.
 */
void svc_futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns);
void svc_futex_wake(_Atomic uint32_t *word);

/* A received message as svc_msg_check() sees it. */
struct svc_msg {
	const struct svc_hdr *hdr; /* NULL when fewer than 16 bytes arrived */
	const void *payload;
	size_t size; /* bytes received, header included */
	bool trunc;  /* the message was larger than the buffer (MSG_TRUNC) */
	int nfds;    /* descriptors that came with it */
	bool reply;  /* a reply is expected here (the client side) */
};

/*
 * Validate every field of a received message, in one place. Returns 0,
 * -EPROTO for a framing error (short, truncated, bad magic or version, @len
 * not the bytes received: the connection must be closed), or -EINVAL for a
 * well-framed message the receiver cannot take (unknown type, payload size
 * wrong for the type, descriptors where none belong, bad flags or fields).
 */
int svc_msg_check(const struct svc_msg *m);
/* True for the errors of svc_msg_check() after which the connection is closed. */
static inline bool svc_framing_error(int err)
{
	return err == -EPROTO;
}

/* Config conversions and comparison. */
void svc_config_from(struct svc_config *w, const struct softsgx_config *cfg);
void svc_config_to(struct softsgx_config *cfg, const struct svc_config *w);
bool svc_config_equal(const struct svc_config *a, const struct svc_config *b);
uint64_t svc_config_epc_bytes(const struct svc_config *w);
/* "--epc 64M --sections 2" (plus " --sgx1"): how the platform was started. */
const char *svc_config_describe(const struct svc_config *w, char buf[96]);

/* A string of the message type, for logs. */
const char *svc_type_name(unsigned int type);

#endif /* SOFTSGX_SERVICE_PROTO_H */
