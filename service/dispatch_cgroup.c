// SPDX-License-Identifier: MIT
/*
 * EPC cgroups through the service (issue 17; kernel/epc_cgroup.h): the
 * cgroup a client is charged to, attached at its HELLO, and the requests
 * behind `softsgx cgroup` (CGROUP_READ, _SET_MAX, _REMOVE, _LIST). The
 * hierarchy is the kernel model's, the service's own: a path here names a
 * cgroup in it and nothing is written to the host's cgroupfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/api_internal.h"
#include "kernel/epc_cgroup.h"
#include "service/server.h"
#include "kernel/sgx.h"

/*
 * The cgroup v2 path of @pid: the "0::/..." line of /proc/PID/cgroup.
 * Read here, by the service, for the SO_PEERCRED pid rather than sent by
 * the client: the path is then the one of the service's cgroup namespace
 * for every client (a client in a container of its own sees "/"), and a
 * client that names nothing needs no code for it. The pid is alive: it
 * waits for this HELLO's reply. false when there is no v2 line (a v1-only
 * host) or the path is not one the protocol takes.
 */
static bool proc_cgroup(pid_t pid, char *buf, size_t len)
{
	char file[64], data[4096];
	const char *line;
	ssize_t n;
	size_t plen;
	int fd;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return false;
	data[n] = '\0';
	for (line = data; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "0::", 3))
			continue;
		line += 3;
		plen = strcspn(line, "\n");
		if (plen >= len)
			return false;
		memcpy(buf, line, plen);
		buf[plen] = '\0';
		return svc_cgroup_path_valid(buf, len);
	}
	return false;
}

struct sgx_epc_cgroup *svc_client_cgroup(struct svc_server *s, const struct svc_conn *c,
					 const char *path, int *err)
{
	struct sgx_kernel *k = softsgx_kernel(s->platform);
	char own[SVC_CGROUP_PATH_MAX];
	struct sgx_epc_cgroup *cg;

	*err = 0;
	if (!path || !path[0]) {
		path = own;
		if (!proc_cgroup(c->pid, own, sizeof(own)))
			snprintf(own, sizeof(own), "/");
	}
	cg = sgx_epc_cgroup_create(k, path, err);
	if (!cg && !*err)
		*err = -ENOMEM;
	return cg;
}

static void do_read(struct sgx_kernel *k, const struct svc_hdr *h, const struct svc_cgroup_req *r,
		    struct svc_out *out)
{
	struct sgx_epc_cgroup *cg = sgx_epc_cgroup_find(k, r->path);
	char *text = svc_reply_start(out, h, h->type, 0);
	size_t cap = sizeof(out->buf) - out->len;
	int n;

	if (!cg) {
		svc_reply_start(out, h, h->type, -ENOENT);
		return;
	}
	n = sgx_epc_cgroup_read(cg, r->file, text, cap);
	if (n < 0 || (size_t)n >= cap) {
		svc_reply_start(out, h, h->type, n < 0 ? n : -ENOBUFS);
		return;
	}
	svc_reply_body(out, (size_t)n);
}

static int do_set_max(struct svc_server *s, struct svc_conn *c, const struct svc_cgroup_req *r)
{
	struct sgx_kernel *k = softsgx_kernel(s->platform);
	struct sgx_epc_cgroup *cg;
	int err = 0;

	if (!strcmp(r->path, "/"))
		return -EINVAL; /* misc.max does not exist at the root */
	cg = sgx_epc_cgroup_create(k, r->path, &err);
	if (!cg)
		return err ? err : -ENOMEM;
	/*
	 * Reclaims down to a lowered limit here, on the service's thread, as a
	 * write to misc.max does in the writer's context. Zaps go to the
	 * clients' notify threads, which do not need this loop.
	 */
	err = sgx_epc_cgroup_set_max(cg, r->max);
	if (err == -EBUSY)
		svc_log("pid %d set %s's limit below what can be reclaimed", (int)c->pid, r->path);
	return err;
}

/* A cgroup's usage into a list entry; false when its path does not fit the protocol. */
static bool entry_from(struct svc_cgroup_entry *e, const struct sgx_epc_cgroup_usage *u)
{
	memset(e, 0, sizeof(*e));
	if (strlen(u->path) >= sizeof(e->path))
		return false;
	strcpy(e->path, u->path);
	e->current = u->current;
	e->max = u->max == SGX_EPC_CG_MAX ? SVC_CGROUP_MAX : u->max;
	e->peak = u->peak;
	e->events = u->events;
	e->reclaimable = u->reclaimable;
	e->nr_clients = (uint32_t)u->nr_mms;
	return true;
}

size_t svc_cgroup_usage(struct svc_server *s, struct sgx_epc_cgroup_usage **out)
{
	struct sgx_kernel *k = softsgx_kernel(s->platform);
	size_t n, cap = 16;

	/* Each entry carries a 4 KiB path: on the heap, and sized by a count first. */
	for (;;) {
		*out = calloc(cap, sizeof(**out));
		if (!*out)
			return 0;
		n = sgx_epc_cgroup_usage(k, *out, cap);
		if (n <= cap)
			return n;
		free(*out);
		cap = n + 16; /* created meanwhile: ksgxd and faults never create, but be safe */
	}
}

static void do_list(struct svc_server *s, const struct svc_hdr *h, struct svc_out *out)
{
	struct svc_cgroup_list_rep *rep = svc_reply_start(out, h, h->type, 0);
	struct svc_cgroup_entry *e = (struct svc_cgroup_entry *)(rep + 1);
	struct sgx_epc_cgroup_usage *u;
	size_t n = svc_cgroup_usage(s, &u);

	if (!u) {
		svc_reply_start(out, h, h->type, -ENOMEM);
		return;
	}
	memset(rep, 0, sizeof(*rep));
	rep->total = (uint32_t)n;
	for (size_t i = 0; i < n && rep->nr < SVC_CGROUP_LIST_MAX; i++)
		if (entry_from(&e[rep->nr], &u[i]))
			rep->nr++;
	free(u);
	svc_reply_body(out, sizeof(*rep) + rep->nr * sizeof(*e));
}

void svc_dispatch_cgroup(struct svc_server *s, struct svc_conn *c, const struct svc_msg *m,
			 struct svc_out *out)
{
	struct sgx_kernel *k = softsgx_kernel(s->platform);
	const struct svc_hdr *h = m->hdr;
	const struct svc_cgroup_req *r = m->payload;

	switch (h->type) {
	case SVC_CGROUP_READ:
		do_read(k, h, r, out);
		break;
	case SVC_CGROUP_SET_MAX:
		svc_reply_start(out, h, h->type, do_set_max(s, c, r));
		break;
	case SVC_CGROUP_REMOVE:
		svc_reply_start(out, h, h->type, sgx_epc_cgroup_remove(k, r->path));
		break;
	case SVC_CGROUP_LIST:
		do_list(s, h, out);
		break;
	default:
		svc_reply_start(out, h, h->type, -EINVAL);
		break;
	}
}
