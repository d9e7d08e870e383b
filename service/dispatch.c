// SPDX-License-Identifier: MIT
/*
 * The service's request handlers (server.h: svc_dispatch()). Every message
 * goes through svc_msg_check() first; a handler sees only well-formed
 * requests and writes its reply into the caller's buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/api_internal.h"
#include "kernel/epc_cgroup.h"
#include "hw/hw.h"
#include "service/server.h"

unsigned int svc_clients(const struct svc_server *s, const struct svc_conn *except)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->nr_conns; i++) {
		const struct svc_conn *c = s->conns[i];

		if (c != except && c->hello && !c->control)
			n++;
	}
	return n;
}

void *svc_reply_start(struct svc_out *out, const struct svc_hdr *req, unsigned int type,
			 int status)
{
	struct svc_hdr *h = (struct svc_hdr *)out->buf;
	struct svc_reply_hdr *r = (struct svc_reply_hdr *)(h + 1);

	memset(h, 0, sizeof(*h) + sizeof(*r));
	h->magic = SVC_MAGIC;
	h->version = SVC_VERSION;
	h->type = (uint16_t)((type & ~SVC_REPLY) | SVC_REPLY);
	h->seq = req ? req->seq : 0;
	h->len = sizeof(*r);
	r->status = status;
	out->len = sizeof(*h) + sizeof(*r);
	return r + 1;
}

void svc_reply_body(struct svc_out *out, size_t len)
{
	struct svc_hdr *h = (struct svc_hdr *)out->buf;

	out->len += len;
	h->len = (uint32_t)(out->len - sizeof(*h));
}

static void do_hello(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *req,
		     const struct svc_hello_req *h, struct svc_out *out)
{
	/* svc_msg_check() let only a NUL-terminated path (or nothing) follow. */
	const char *cgroup = req->len > sizeof(*h) ? (const char *)(h + 1) : NULL;
	struct svc_hello_rep *rep;
	int status = 0;

	if (c->hello)
		status = -EINVAL; /* one HELLO per connection */
	else if (!(h->flags & SVC_HELLO_ANY_CONFIG) && !svc_config_equal(&h->cfg, &s->cfg))
		status = -EBUSY;
	rep = svc_reply_start(out, req, SVC_HELLO, status);
	if (status == -EINVAL)
		return;
	memset(rep, 0, sizeof(*rep));
	rep->service_pid = (uint32_t)s->pid;
	rep->version = SVC_VERSION;
	rep->cfg = s->cfg;
	svc_reply_body(out, sizeof(*rep));
	if (status) {
		char want[96], have[96];

		svc_log("pid %d (%s) wants %s; refused, the platform runs with %s", (int)c->pid,
			h->program, svc_config_describe(&h->cfg, want),
			svc_config_describe(&s->cfg, have));
		return;
	}
	if (!(h->flags & SVC_HELLO_CONTROL)) {
		/* Its EPC is charged to its cgroup from the first page (issue 17). */
		struct sgx_epc_cgroup *cg = svc_client_cgroup(s, c, cgroup, &status);

		if (!cg || svc_conn_attach_mm(c)) {
			svc_reply_start(out, req, SVC_HELLO, cg ? -ENOMEM : status);
			return;
		}
		sgx_mm_set_cgroup(c->mm, cg);
		rep->notify_token = c->notify_token;
	}
	c->hello = true;
	c->control = h->flags & SVC_HELLO_CONTROL;
	snprintf(c->program, sizeof(c->program), "%s", h->program);
	if (!c->control)
		svc_log("client pid %d (%s) connected", (int)c->pid, c->program);
}

struct platform_counts {
	struct softsgx_stats st;
	unsigned int enclaves, vepcs;
};

static void counts(struct svc_server *s, struct platform_counts *pc)
{
	softsgx_get_stats(s->platform, &pc->st);
	softsgx_get_usage(s->platform, NULL, 0, &pc->enclaves, NULL, 0, &pc->vepcs);
}

/*
 * How far ksgxd's sanitization is (kernel/sanitize.c): each section's first
 * pass has looked at san_next of the san_end pages that may hold EPCM
 * state, under the section's lock; sgx_sanitize_done() after both passes.
 */
static void sanitize_progress(struct svc_server *s, struct svc_status_rep *r)
{
	struct sgx_kernel *k = softsgx_kernel(s->platform);

	for (unsigned int i = 0; i < k->nr_sections; i++) {
		struct sgx_epc_section *sec = &k->sections[i];

		pthread_mutex_lock(&sec->lock);
		r->sanitized_pages += sec->san_next < sec->san_end ? sec->san_next : sec->san_end;
		r->sanitize_total_pages += sec->san_end;
		pthread_mutex_unlock(&sec->lock);
	}
	if (sgx_sanitize_done(k))
		r->flags |= SVC_STATUS_SANITIZED;
}

static void do_status(struct svc_server *s, const struct svc_hdr *req, struct svc_out *out)
{
	struct svc_status_rep *r = svc_reply_start(out, req, SVC_STATUS, 0);
	struct platform_counts pc;

	counts(s, &pc);
	memset(r, 0, sizeof(*r));
	r->total_pages = pc.st.total_pages;
	r->free_pages = pc.st.free_pages;
	r->in_use_pages = pc.st.in_use_pages;
	r->leaked_pages = pc.st.leaked_pages;
	r->zombie_pages = pc.st.zombie_pages;
	r->evictions = pc.st.evictions;
	r->reloads = pc.st.reloads;
	r->clients = svc_clients(s, NULL);
	r->enclaves = pc.enclaves;
	r->vepcs = pc.vepcs;
	r->service_pid = (uint32_t)s->pid;
	r->uptime_ms = svc_now_ms() - s->start_ms;
	sanitize_progress(s, r);
	r->cfg = s->cfg;
	svc_reply_body(out, sizeof(*r));
}

/* Appends to the TOP reply; false once the buffer is full. */
struct jbuf {
	char *p;
	size_t len, cap;
	bool full;
};

static void __attribute__((format(printf, 2, 3))) jprintf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->full = true;
	else
		b->len += (size_t)n;
}

static void jstring(struct jbuf *b, const char *s)
{
	jprintf(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			jprintf(b, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			jprintf(b, "\\u%04x", ch);
		else
			jprintf(b, "%c", ch);
	}
	jprintf(b, "\"");
}

/*
 * The machine as issue 16 item 6 describes it: the EPC and one entry per
 * client process. Enclaves and vEPCs belong to no client yet (the shim does
 * not forward to the service in this stage), so the lists are empty.
 */
/* Every enclave and vEPC of the platform, for TOP (the service's thread only). */
#define TOP_MAX_INSTANCES 1024
static struct top_usage {
	struct softsgx_enclave_usage encls[TOP_MAX_INSTANCES];
	struct softsgx_vepc_usage vepcs[TOP_MAX_INSTANCES];
	unsigned int nr_encls, nr_vepcs;
} top_usage;

/*
 * The enclaves and vEPCs @mm has open or mapped, with their pages
 * (resident and evicted): `softsgx top`'s per-process lists. Instances are
 * shared after fork(), so one may appear under several processes.
 */
static void top_instances(struct jbuf *b, struct sgx_mm *mm, const struct top_usage *u)
{
	uint64_t ids[64];
	unsigned int n = mm ? sgx_mm_usage_ids(mm, ids, 64) : 0;
	bool first = true;

	if (n > 64)
		n = 64;
	jprintf(b, ", \"enclaves\": [");
	for (unsigned int i = 0; i < u->nr_encls && i < TOP_MAX_INSTANCES; i++) {
		const struct softsgx_enclave_usage *e = &u->encls[i];

		for (unsigned int j = 0; j < n; j++) {
			if (ids[j] != e->id)
				continue;
			jprintf(b,
				"%s{\"id\": %" PRIu64 ", \"base\": %" PRIu64 ", \"size\": %" PRIu64
				", \"epc_pages\": %" PRIu64 ", \"va_pages\": %" PRIu64
				", \"evicted_pages\": %" PRIu64 ", \"added_pages\": %" PRIu64 "}",
				first ? "" : ", ", e->id, e->base, e->size, e->epc_pages, e->va_pages,
				e->evicted_pages, e->added_pages);
			first = false;
		}
	}
	jprintf(b, "], \"vepcs\": [");
	first = true;
	for (unsigned int i = 0; i < u->nr_vepcs && i < TOP_MAX_INSTANCES; i++) {
		const struct softsgx_vepc_usage *v = &u->vepcs[i];

		for (unsigned int j = 0; j < n; j++) {
			if (ids[j] != v->id)
				continue;
			jprintf(b,
				"%s{\"id\": %" PRIu64 ", \"epc_pages\": %" PRIu64
				", \"mapped_bytes\": %" PRIu64 "}",
				first ? "" : ", ", v->id, v->epc_pages, v->mapped_bytes);
			first = false;
		}
	}
	jprintf(b, "]");
}

/* The EPC cgroup @mm charges. */
static void top_cgroup_of(struct jbuf *b, struct svc_server *s, struct sgx_mm *mm)
{
	char path[SVC_CGROUP_PATH_MAX];

	if (!mm)
		return;
	sgx_epc_cgroup_path(sgx_mm_cgroup(softsgx_kernel(s->platform), mm), path, sizeof(path));
	jprintf(b, ", \"cgroup\": ");
	jstring(b, path);
}

/*
 * Every EPC cgroup (issue 17): its path, usage and peak in bytes, max in
 * bytes or null for "max", max events (hierarchical, misc.events), the
 * bytes on its own LRU, and the clients attached.
 */
static void top_cgroups(struct jbuf *b, struct svc_server *s)
{
	struct sgx_epc_cgroup_usage *u;
	size_t n = svc_cgroup_usage(s, &u);

	jprintf(b, ",\n \"cgroups\": [");
	for (size_t i = 0; u && i < n; i++) {
		jprintf(b, "%s\n  {\"path\": ", i ? "," : "");
		jstring(b, u[i].path);
		jprintf(b, ", \"current\": %" PRIu64 ", \"max\": ", u[i].current);
		if (u[i].max == SGX_EPC_CG_MAX)
			jprintf(b, "null");
		else
			jprintf(b, "%" PRIu64, u[i].max);
		jprintf(b,
			", \"peak\": %" PRIu64 ", \"events\": %" PRIu64
			", \"reclaimable\": %" PRIu64 ", \"clients\": %lu}",
			u[i].peak, u[i].events, u[i].reclaimable, u[i].nr_mms);
	}
	free(u);
	jprintf(b, "]");
}

static void do_top(struct svc_server *s, const struct svc_hdr *req, struct svc_out *out)
{
	char *body = svc_reply_start(out, req, SVC_TOP, 0);
	struct jbuf b = {.p = body, .cap = sizeof(out->buf) - out->len};
	struct top_usage *u = &top_usage;
	struct platform_counts pc;
	bool first = true;

	/* One walk of the registry gives the counts and the rows. */
	softsgx_get_stats(s->platform, &pc.st);
	softsgx_get_usage(s->platform, u->encls, TOP_MAX_INSTANCES, &u->nr_encls, u->vepcs,
			  TOP_MAX_INSTANCES, &u->nr_vepcs);
	pc.enclaves = u->nr_encls;
	pc.vepcs = u->nr_vepcs;
	jprintf(&b,
		"{\"service_pid\": %d, \"uptime_s\": %.3f,\n \"epc\": {\"total_pages\": %" PRIu64
		", \"free_pages\": %" PRIu64 ", \"in_use_pages\": %" PRIu64
		", \"leaked_pages\": %" PRIu64 ", \"zombie_pages\": %" PRIu64
		", \"enclaves\": %u, \"vepcs\": %u},\n \"processes\": [",
		(int)s->pid, (double)(svc_now_ms() - s->start_ms) / 1000.0, pc.st.total_pages,
		pc.st.free_pages, pc.st.in_use_pages, pc.st.leaked_pages, pc.st.zombie_pages,
		pc.enclaves, pc.vepcs);
	for (unsigned int i = 0; i < s->nr_conns; i++) {
		const struct svc_conn *c = s->conns[i];

		if (!c->hello || c->control)
			continue;
		jprintf(&b, "%s\n  {\"pid\": %d, \"program\": ", first ? "" : ",", (int)c->pid);
		jstring(&b, c->program);
		top_cgroup_of(&b, s, c->mm);
		top_instances(&b, c->mm, u);
		jprintf(&b, "}");
		first = false;
	}
	jprintf(&b, "]");
	top_cgroups(&b, s);
	jprintf(&b, "}\n");
	if (b.full) {
		svc_reply_start(out, req, SVC_TOP, -ENOBUFS);
		return;
	}
	svc_reply_body(out, b.len);
}

static void do_shutdown(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *req,
			const struct svc_shutdown_req *r, struct svc_out *out)
{
	unsigned int clients = svc_clients(s, c);
	bool refuse = clients && !(r->flags & SVC_SHUTDOWN_FORCE);
	struct svc_shutdown_rep *rep = svc_reply_start(out, req, SVC_SHUTDOWN, refuse ? -EBUSY : 0);

	memset(rep, 0, sizeof(*rep));
	rep->clients = clients;
	svc_reply_body(out, sizeof(*rep));
	if (refuse) {
		svc_log("stop refused: %u client%s connected", clients, clients == 1 ? "" : "s");
		return;
	}
	svc_log("stop requested by pid %d%s", (int)c->pid, clients ? " (forced)" : "");
	s->stop = true;
}

/*
 * GET_EPC: copies of the platform's descriptors (two per section, closed
 * once sent) and what the client's view of the CPU model needs to run
 * ENCLU itself. The owner token is the connection's, given once.
 */
static void do_get_epc(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *req,
		       struct svc_out *out)
{
	struct sgx_hw *hw = softsgx_hw(s->platform);
	struct svc_get_epc_rep *rep = svc_reply_start(out, req, SVC_GET_EPC, 0);
	int own[2 * SGX_HW_MAX_SECTIONS];
	unsigned int n = 0;
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = sgx_hw_share_get(hw, &rep->share, own);
	if (ret == -ENOENT)
		ret = -EOPNOTSUPP; /* a platform that keeps no descriptors */
	/* The sections as the share describes them, each with its two descriptors. */
	for (; !ret && n < rep->share.cfg.nr_sections && n < SOFTSGX_MAX_SECTIONS; n++) {
		for (unsigned int k = 0; k < 2 && !ret; k++) {
			int fd = fcntl(own[2 * n + k], F_DUPFD_CLOEXEC, 0);

			if (fd < 0)
				ret = -errno;
			else
				out->fds[out->nfds++] = fd;
		}
		rep->section[n].phys = rep->share.section_phys[n];
		rep->section[n].size = rep->share.cfg.section_size[n];
	}
	if (ret) {
		for (int i = 0; i < out->nfds; i++)
			close(out->fds[i]);
		out->nfds = 0;
		svc_reply_start(out, req, SVC_GET_EPC, ret);
		return;
	}
	if (!c->hw_owner) {
		if (s->next_owner < 2) /* 0: none; 1: the platform's own threads */
			s->next_owner = 2;
		c->hw_owner = s->next_owner++;
		c->hw = hw;
	}
	rep->owner = c->hw_owner;
	rep->nr_sections = n;
	svc_reply_body(out, sizeof(*rep));
}

void svc_dispatch(struct svc_server *s, struct svc_conn *c, const struct svc_msg *m,
		  struct svc_out *out)
{
	const struct svc_hdr *h = m->hdr;
	int ret;

	out->nfds = 0;
	out->close = false;
	ret = svc_msg_check(m);
	if (ret) {
		/* A header too short to trust gets a reply with type and seq 0. */
		bool hdr_ok = h && m->size >= sizeof(*h);

		svc_reply_start(out, hdr_ok ? h : NULL, hdr_ok ? h->type : 0, ret);
		out->close = svc_framing_error(ret);
		return;
	}
	/* A notify channel's one request comes before (instead of) HELLO. */
	if (h->type != SVC_HELLO && h->type != SVC_NOTIFY_ATTACH && !c->hello) {
		svc_reply_start(out, h, h->type, -ENOTCONN);
		return;
	}
	switch (h->type) {
	case SVC_HELLO:
		do_hello(s, c, h, m->payload, out);
		break;
	case SVC_STATUS:
		do_status(s, h, out);
		break;
	case SVC_TOP:
		do_top(s, h, out);
		break;
	case SVC_SHUTDOWN:
		do_shutdown(s, c, h, m->payload, out);
		break;
	case SVC_GET_EPC:
		do_get_epc(s, c, h, out);
		break;
	case SVC_CGROUP_READ:
	case SVC_CGROUP_SET_MAX:
	case SVC_CGROUP_REMOVE:
	case SVC_CGROUP_LIST:
		svc_dispatch_cgroup(s, c, m, out);
		break;
	default:
		svc_dispatch_mm(s, c, m, out);
		break;
	}
}
