/* SPDX-License-Identifier: MIT */
/*
 * The client side of the platform service: used by `softsgx platform` and,
 * in a later stage, by the shim. Every call returns 0 (or a count) or
 * -errno, and none waits for ever: a reply that does not come within the
 * client's timeout is -ETIMEDOUT, a service that dies is -ECONNRESET
 * (or -EPIPE when it was gone before the request was sent).
 */
#ifndef SOFTSGX_SERVICE_CLIENT_H
#define SOFTSGX_SERVICE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "service/proto.h"

#define SVC_DEFAULT_TIMEOUT_MS 10000 /* a reply; a 1 TiB platform boots before its first */
#define SVC_START_TIMEOUT_MS   5000  /* svc_connect_or_start(): the socket to appear */

struct svc_client {
	int fd;
	uint32_t seq;
	int timeout_ms; /* per reply */
	/*
	 * Set before svc_connect() of a client: the EPC cgroup its HELLO names
	 * (`softsgx run --cgroup`; NULL or "": the service takes the
	 * process's own cgroup v2 path).
	 */
	const char *cgroup;
};

/*
 * Connect to the service of @dir (socket_dir.h; NULL: the default) and say
 * HELLO with @cfg (NULL: take the platform in force) and @flags
 * (SVC_HELLO_CONTROL for a command that only looks or stops). -ENOENT or
 * -ECONNREFUSED: no service runs. -EBUSY: the platform runs with another
 * config, in @info->cfg. -EPERM: the socket belongs to another user. On
 * success @info describes the service.
 */
int svc_connect(struct svc_client *c, const char *dir, const struct softsgx_config *cfg,
		unsigned int flags, struct svc_hello_rep *info);

/*
 * svc_connect(); when no service runs, start one first: fork and exec
 * `@bin platform start` with @cfg as options (@bin NULL: /proc/self/exe,
 * which is right only inside the softsgx command: the shim must pass the
 * command's path, e.g. one `softsgx run` exports), then connect, for at most
 * SVC_START_TIMEOUT_MS (-ETIMEDOUT). -ECHILD: the start command failed (it
 * said why on stderr).
 */
int svc_connect_or_start(struct svc_client *c, const char *dir, const char *bin,
			 const struct softsgx_config *cfg, unsigned int flags,
			 struct svc_hello_rep *info);

void svc_close(struct svc_client *c);

/*
 * A client's second connection, its notify channel (remote.h): dial the
 * service of @dir and attach to the client whose HELLO reply gave @token.
 * From then on @n receives ZAP requests, which the caller acknowledges.
 */
int svc_attach_notify(struct svc_client *n, const char *dir, uint64_t token);

/*
 * One request and its reply: the reply's status (0 or -errno from the
 * service) or a transport -errno. The reply payload after the status goes
 * to @rep (at most @cap bytes; *@rep_len gets its size). Descriptors that
 * came with it go to @fds (up to SVC_MAX_FDS, *@nfds their count; NULL:
 * they are closed).
 */
int svc_call(struct svc_client *c, unsigned int type, const void *req, size_t req_len, void *rep,
	     size_t cap, size_t *rep_len, int *fds, int *nfds);

int svc_status(struct svc_client *c, struct svc_status_rep *st);
/* The TOP JSON as a NUL-terminated string (free() it). */
int svc_top(struct svc_client *c, char **json);
/* -EBUSY with *@clients when clients are connected and !@force. */
int svc_shutdown(struct svc_client *c, bool force, unsigned int *clients);
/* The EPC sections and a descriptor of each (@fds: SVC_MAX_FDS entries). */
int svc_get_epc(struct svc_client *c, struct svc_get_epc_rep *rep, int *fds);
/* The client's fault channel (proto.h: struct svc_fchan): *@fd its memfd, to map. */
int svc_fault_channel(struct svc_client *c, int *fd);

/*
 * EPC cgroups (proto.h CGROUP_*). svc_cgroup_read(): the text of @file of
 * the cgroup at @path, NUL-terminated in @buf (-ENOBUFS when @cap is too
 * small). svc_cgroup_set_max(): SVC_CGROUP_MAX for "max"; -EBUSY when the
 * limit is set but the usage stays above it. svc_cgroup_list(): every
 * cgroup (free() *@rep).
 */
int svc_cgroup_read(struct svc_client *c, const char *path, const char *file, char *buf,
		    size_t cap);
int svc_cgroup_set_max(struct svc_client *c, const char *path, uint64_t max);
int svc_cgroup_remove(struct svc_client *c, const char *path);
int svc_cgroup_list(struct svc_client *c, struct svc_cgroup_list_rep **rep);

#endif /* SOFTSGX_SERVICE_CLIENT_H */
