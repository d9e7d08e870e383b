// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the platform service's message checks and dispatcher
 * (svc_msg_check() and svc_dispatch() of service/), without sockets. The
 * input is a sequence of messages on four simulated connections to one
 * service on a small platform:
 *
 *   u8  conn (bits 0-1), FIX (bit 2: write a valid magic, version and len
 *       into the header, so mutations get past framing), TRUNC (bit 3: as
 *       if recvmsg() reported MSG_TRUNC); bits 4-6: descriptors "attached"
 *   u16 size, then that many bytes: the message as received
 *
 * After every message: the reply is one well-formed message (header, seq,
 * type), its status is an errno the protocol documents for the request, a
 * request svc_msg_check() refused gets exactly that error (and a framing
 * error closes the connection), a reply to an accepted request passes the
 * client's check, a TOP reply is valid JSON, and the EPC invariant holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/harness.h"
#include "tests/common/json_check.h"
#include "kernel/api_internal.h"
#include "kernel/epc_cgroup.h"
#include "service/server.h"

#define NR_CONNS 4
#define MAX_MSGS 64

static struct svc_server s;

/*
 * The EPCM's chunks hang off an mmap()ed table, which LeakSanitizer does
 * not scan: the platform goes before its check at exit.
 */
static void server_free(void)
{
	softsgx_platform_free(s.platform);
	s.platform = NULL;
}

static struct svc_server *server(void)
{
	static bool booted;
	struct softsgx_config cfg;

	if (!booted) {
		softsgx_default_config(&cfg);
		cfg.nr_sections = 1;
		cfg.section_size[0] = 32 * 4096;
		cfg.section_size[1] = 0;
		cfg.no_ksgxd = true;
		s.platform = softsgx_platform_new(&cfg);
		FZ_CHECK(s.platform, "platform did not boot");
		svc_config_from(&s.cfg, &cfg);
		s.pid = getpid();
		s.start_ms = svc_now_ms();
		svc_log_to(-1);
		atexit(server_free);
		booted = true;
	}
	return &s;
}

static bool documented(int status, unsigned int type)
{
	/* The kernel's work answers as Linux's system calls do: any errno of theirs. */
	if (type >= SVC_OPEN && type <= SVC_FAULT)
		return status <= 0 && status >= -4095;
	switch (status) {
	case 0:
	case -EPROTO:
	case -EINVAL:
	case -ENOTCONN:
		return true;
	case -EBUSY:
		/*
		 * SET_MAX: the limit is set, usage stays above it; REMOVE: in use;
		 * FORK: not the child's first request; FAULT_CHANNEL: the second.
		 */
		return type == SVC_HELLO || type == SVC_SHUTDOWN || type == SVC_CGROUP_SET_MAX ||
		       type == SVC_CGROUP_REMOVE || type == SVC_FORK || type == SVC_FAULT_CHANNEL;
	case -ESRCH:
		return type == SVC_FORK; /* no client with that token */
	case -ENOMEM:
		/* no memory for the client's mm (a forked one's too), a cgroup, the list, a channel */
		return type == SVC_HELLO || type == SVC_FORK || type == SVC_FAULT_CHANNEL ||
		       (type >= SVC_CGROUP_READ && type <= SVC_CGROUP_LIST);
	case -ENOBUFS:
		return type == SVC_TOP || type == SVC_CGROUP_READ;
	case -EOPNOTSUPP:
		return type == SVC_GET_EPC;
	case -ENOENT:
		return type == SVC_GET_EPC || type == SVC_NOTIFY_ATTACH ||
		       type == SVC_CGROUP_READ || type == SVC_CGROUP_REMOVE;
	case -EPERM:
		return type == SVC_NOTIFY_ATTACH || type == SVC_FORK;
	}
	return false;
}

static void check_reply(const struct svc_msg *req, int check, const struct svc_out *out)
{
	const struct svc_hdr *h = (const void *)out->buf;
	const struct svc_reply_hdr *r = (const void *)(h + 1);
	unsigned int type = req->hdr ? req->hdr->type : 0;
	struct svc_msg rep = {
		.hdr = h, .payload = r, .size = out->len, .nfds = out->nfds, .reply = true};

	FZ_CHECK(out->len >= sizeof(*h) + sizeof(*r) && out->len <= SVC_MSG_MAX,
		 "reply of %zu bytes", out->len);
	FZ_CHECK(h->magic == SVC_MAGIC && h->version == SVC_VERSION, "reply header");
	FZ_CHECK(h->len == out->len - sizeof(*h), "reply len %u of %zu", h->len, out->len);
	FZ_CHECK(h->type & SVC_REPLY, "reply type %#x", h->type);
	FZ_CHECK(h->seq == (req->hdr && req->size >= sizeof(*h) ? req->hdr->seq : 0), "reply seq");
	FZ_CHECK(documented(r->status, type), "status %d for type %u", r->status, type);
	if (check) {
		FZ_CHECK(r->status == check, "refused with %d, check said %d", r->status, check);
		FZ_CHECK(out->close == svc_framing_error(check), "close %d after %d", out->close,
			 check);
		FZ_CHECK(out->nfds == 0, "descriptors with an error");
		return;
	}
	FZ_CHECK(!out->close, "connection closed after an accepted request");
	FZ_CHECK(svc_msg_check(&rep) == 0, "the client would refuse the reply to type %u", type);
	if (type == SVC_TOP && r->status == 0)
		FZ_CHECK(json_valid((const char *)(r + 1), h->len - sizeof(*r)), "TOP JSON");
}

/*
 * Every client is gone: each cgroup is empty again, and goes (children
 * first: reverse pre-order), so the next input starts from the root alone.
 */
static void cgroups_reset(struct svc_server *s)
{
	struct sgx_kernel *k = softsgx_kernel(s->platform);
	struct sgx_epc_cgroup_usage *u;
	size_t n = svc_cgroup_usage(s, &u);

	FZ_CHECK(u, "cgroup usage");
	FZ_CHECK(sgx_epc_cgroup_check(k), "EPC cgroup sums at the end");
	for (size_t i = n; i-- > 1;) {
		FZ_CHECK(u[i].current == 0, "%s still charged %llu bytes with no client", u[i].path,
			 (unsigned long long)u[i].current);
		FZ_CHECK(sgx_epc_cgroup_remove(k, u[i].path) == 0, "rmdir %s", u[i].path);
	}
	free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct svc_out out;
	static uint8_t buf[SVC_MSG_MAX + 8] __attribute__((aligned(8)));
	struct svc_server *s = server();
	struct svc_conn conns[NR_CONNS];
	struct fz in;

	fz_trace_init();
	fz_init(&in, data, size);
	memset(conns, 0, sizeof(conns));
	for (unsigned int i = 0; i < NR_CONNS; i++) {
		conns[i].fd = -1;
		conns[i].pid = 1000 + (pid_t)i;
		s->conns[i] = &conns[i];
	}
	s->nr_conns = NR_CONNS;
	for (int n = 0; n < MAX_MSGS && !fz_done(&in); n++) {
		uint8_t ctl = fz_u8(&in);
		size_t len = fz_u16(&in);
		struct svc_conn *c = &conns[ctl & 3];
		struct svc_msg m = {0};
		int check;

		if (len > SVC_MSG_MAX)
			len = SVC_MSG_MAX;
		memset(buf, 0, len < 64 ? 64 : len);
		fz_bytes(&in, buf, len);
		if ((ctl & 4) && len >= sizeof(struct svc_hdr)) {
			struct svc_hdr *h = (void *)buf;

			h->magic = SVC_MAGIC;
			h->version = SVC_VERSION;
			h->len = (uint32_t)(len - sizeof(*h));
		}
		m.hdr = len >= sizeof(struct svc_hdr) ? (const void *)buf : NULL;
		m.payload = buf + sizeof(struct svc_hdr);
		m.size = len;
		m.trunc = ctl & 8;
		m.nfds = (ctl >> 4) & 7;
		check = svc_msg_check(&m);
		FZ_TRACE("msg %d conn %u len %zu type %u nfds %d: check %d\n", n, ctl & 3, len,
			 m.hdr ? m.hdr->type : 0, m.nfds, check);
		svc_dispatch(s, c, &m, &out);
		check_reply(&m, check, &out);
		for (int k = 0; k < out.nfds; k++)
			close(out.fds[k]);
		if (out.close) {
			svc_conn_release(c);
			*c = (struct svc_conn){.fd = -1, .pid = c->pid};
		}
		s->stop = false; /* SHUTDOWN only asks; the loop would stop */
		fz_check_invariant(s->platform, "a message");
		FZ_CHECK(sgx_epc_cgroup_check(softsgx_kernel(s->platform)),
			 "EPC cgroup sums after a message");
	}
	for (unsigned int i = 0; i < NR_CONNS; i++)
		svc_conn_release(&conns[i]);
	s->nr_conns = 0;
	cgroups_reset(s);
	return 0;
}
