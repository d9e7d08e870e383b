// SPDX-License-Identifier: MIT
/*
 * The requests that do a client's kernel work (server.h: svc_dispatch_mm()):
 * open, close, ioctl, mmap, munmap, mprotect of an SGX descriptor and a
 * fault on an SGX VMA, each run by the kernel model for the client's mm
 * (the *_mm() calls of kernel/driver.h), and the attachment of its notify
 * channel. A request sets a struct svc_req_ctx for the mm's operations
 * (client_mm.c): the user memory it carries, and room in the reply for the
 * PTE operations it makes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel/api_internal.h"
#include "kernel/mm.h"
#include "service/server.h"

/* The reply of MMAP, MUNMAP, MPROTECT and FAULT, with its PTE operations. */
struct mm_reply {
	struct svc_mm_rep *rep;
	struct svc_req_ctx req;
};

static void mm_reply_begin(struct mm_reply *r, struct svc_conn *c, struct svc_out *out,
			   const struct svc_hdr *h)
{
	r->rep = svc_reply_start(out, h, h->type, 0);
	memset(r->rep, 0, sizeof(*r->rep));
	memset(&r->req, 0, sizeof(r->req));
	r->req.mm = c->mm;
	r->req.ops = (struct svc_pte_op *)(r->rep + 1);
	r->req.cap_ops = SVC_MAX_PTE_OPS;
	svc_req_begin(&r->req);
}

static void mm_reply_end(struct mm_reply *r, struct svc_out *out, int status)
{
	struct svc_reply_hdr *rh = (struct svc_reply_hdr *)(out->buf + sizeof(struct svc_hdr));

	svc_req_end();
	rh->status = status;
	r->rep->nr_ops = r->req.nr_ops;
	svc_reply_body(out, sizeof(*r->rep) + r->req.nr_ops * sizeof(struct svc_pte_op));
}

static void do_attach(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *h,
		      const struct svc_notify_attach_req *r, struct svc_out *out)
{
	int status = -ENOENT;

	/* Only as a connection's first message, for a client of the same process. */
	if (c->hello || c->attach_to) {
		status = -EINVAL;
	} else {
		for (unsigned int i = 0; i < s->nr_conns; i++) {
			struct svc_conn *t = s->conns[i];

			if (t == c || !t->hello || !t->mm || !t->notify_init ||
			    t->notify_token != r->token)
				continue;
			if (t->pid != c->pid || t->uid != c->uid || t->notify_fd != -1) {
				status = -EPERM;
				break;
			}
			c->attach_to = t;
			status = 0;
			break;
		}
	}
	svc_reply_start(out, h, SVC_NOTIFY_ATTACH, status);
}

/*
 * FORK: this client is a forked child; its mm becomes a copy of its
 * parent's (sgx_mm_fork(): the VMAs on the same files, the same handles,
 * the cgroup, and the enclaves list the child's mm too), as Linux's fork()
 * shares enclaves and vEPC mappings. The parent is named by its notify
 * token, which it shares with nobody but its own children. The copy is
 * taken now, not at the child's fork(): what the parent changed in between
 * the child sees changed (docs/platform-service.md).
 */
static void do_fork(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *h,
		    const struct svc_fork_req *r, struct svc_out *out)
{
	struct svc_conn *p = NULL;
	struct sgx_mm *mm, *old = c->mm;
	int status = 0;

	for (unsigned int i = 0; i < s->nr_conns; i++) {
		struct svc_conn *t = s->conns[i];

		if (t != c && t->hello && t->mm && t->notify_init &&
		    t->notify_token == r->parent_token) {
			p = t;
			break;
		}
	}
	if (!p) {
		status = -ESRCH;
	} else if (p->uid != c->uid) {
		status = -EPERM;
	} else if (c->next_handle != 3 || old->nr_vmas) {
		status = -EBUSY;
	} else {
		mm = sgx_mm_fork(p->mm, &svc_client_mm_ops, c, &status);
		if (mm) {
			c->mm = mm;
			c->next_handle = p->next_handle;
			sgx_mm_exit(old);
			pthread_rwlock_wrlock(&old->lock);
			old->ops_data = NULL;
			pthread_rwlock_unlock(&old->lock);
			sgx_mm_put(old);
			svc_log("pid %d forked from pid %d: shares its enclaves and vEPCs",
				(int)c->pid, (int)p->pid);
		}
	}
	svc_reply_start(out, h, SVC_FORK, status);
}

static enum sgx_file_type file_type(uint32_t t)
{
	return t == SVC_OPEN_ENCLAVE ? SGX_FILE_ENCLAVE
	       : t == SVC_OPEN_VEPC  ? SGX_FILE_VEPC
				     : SGX_FILE_PROVISION;
}

static void do_open(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *h,
		    const struct svc_open_req *r, struct svc_out *out)
{
	struct sgx_kernel *k = softsgx_kernel(s->platform);
	struct svc_open_rep *rep;
	struct sgx_file *f;
	int err = 0, fd;

	f = sgx_file_open_mm(k, c->mm, file_type(r->type), &err);
	if (!f) {
		svc_reply_start(out, h, SVC_OPEN, err ? err : -ENOMEM);
		return;
	}
	/* Numbers are never reused while the client lives: a stale one is -EBADF. */
	do {
		fd = c->next_handle++;
		if (fd < 3 || c->next_handle < 0) {
			sgx_file_put(f);
			svc_reply_start(out, h, SVC_OPEN, -EMFILE);
			return;
		}
		err = sgx_mm_fd_install(c->mm, fd, f);
	} while (err == -EBUSY);
	if (err) {
		sgx_file_put(f);
		svc_reply_start(out, h, SVC_OPEN, err);
		return;
	}
	rep = svc_reply_start(out, h, SVC_OPEN, 0);
	memset(rep, 0, sizeof(*rep));
	rep->handle = fd;
	svc_reply_body(out, sizeof(*rep));
}

static void do_close(struct svc_conn *c, const struct svc_hdr *h, const struct svc_close_req *r,
		     struct svc_out *out)
{
	svc_reply_start(out, h, SVC_CLOSE, sgx_mm_fd_close(c->mm, r->handle));
}

/*
 * The ioctl runs on a copy of the windows (copy_to_user() writes into it);
 * the reply carries the windows written, for the client to copy back.
 */
static void do_ioctl(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *h,
		     const struct svc_ioctl_req *r, struct svc_out *out)
{
	const struct svc_window *win = (const void *)(r + 1);
	const uint8_t *src = (const uint8_t *)(win + r->nr_windows);
	struct svc_req_ctx req = {.mm = c->mm, .nr_win = r->nr_windows};
	size_t total = h->len - sizeof(*r) - r->nr_windows * sizeof(*win);
	struct svc_ioctl_rep *rep;
	struct sgx_file *f;
	uint8_t *copy, *p;
	long ret;

	(void)s;
	copy = malloc(total ? total : 1);
	if (!copy) {
		svc_reply_start(out, h, SVC_IOCTL, -ENOMEM);
		return;
	}
	memcpy(copy, src, total);
	for (uint32_t i = 0, off = 0; i < r->nr_windows; off += (uint32_t)win[i].len, i++) {
		req.win[i] = win[i];
		req.data[i] = copy + off;
	}
	f = sgx_mm_fget(c->mm, r->handle);
	if (!f) {
		ret = -EBADF;
	} else {
		svc_req_begin(&req);
		ret = sgx_file_ioctl_mm(f, c->mm, (unsigned long)r->cmd, (unsigned long)r->arg);
		svc_req_end();
		sgx_file_put(f);
	}
	if (ret > 0 || ret < -4095)
		ret = -EIO; /* no SGX ioctl returns anything else */
	rep = svc_reply_start(out, h, SVC_IOCTL, (int)ret);
	memset(rep, 0, sizeof(*rep));
	p = (uint8_t *)(rep + 1);
	for (uint32_t i = 0; i < req.nr_win; i++)
		if (req.dirty[i])
			rep->nr_windows++;
	/* The windows, then their data: both fit, they came in a message of the same bound. */
	for (uint32_t i = 0; i < req.nr_win; i++) {
		if (!req.dirty[i])
			continue;
		memcpy(p, &req.win[i], sizeof(req.win[i]));
		p += sizeof(req.win[i]);
	}
	for (uint32_t i = 0; i < req.nr_win; i++) {
		if (!req.dirty[i])
			continue;
		memcpy(p, req.data[i], req.win[i].len);
		p += req.win[i].len;
	}
	svc_reply_body(out, (size_t)(p - (uint8_t *)rep));
	free(copy);
}

/* Until the client listens for zaps, nothing of it may be mapped. */
static bool can_map(struct svc_conn *c)
{
	bool ok;

	pthread_mutex_lock(&c->notify_lock); /* ksgxd may be finding the client gone */
	ok = c->notify_fd >= 0;
	pthread_mutex_unlock(&c->notify_lock);
	return ok;
}

static void do_mmap(struct svc_conn *c, const struct svc_hdr *h, const struct svc_mmap_req *r,
		    struct svc_out *out)
{
	struct mm_reply mr;
	struct sgx_file *f;
	uint64_t addr = r->addr;
	int ret;

	mm_reply_begin(&mr, c, out, h);
	f = sgx_mm_fget(c->mm, r->handle);
	if (!can_map(c))
		ret = -ENOTCONN;
	else if (!f)
		ret = -EBADF;
	else if (!(r->flags & MAP_FIXED) || (r->flags & MAP_FIXED_NOREPLACE))
		ret = -EINVAL; /* the client reserved the range: its address is the one */
	else
		ret = sgx_file_mmap_mm(f, c->mm, &addr, r->len, r->prot, r->flags, r->offset);
	if (f)
		sgx_file_put(f);
	if (!ret)
		mr.rep->addr = addr;
	mm_reply_end(&mr, out, ret);
}

static void do_munmap(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *h,
		      const struct svc_munmap_req *r, struct svc_out *out)
{
	struct mm_reply mr;
	int ret;

	mm_reply_begin(&mr, c, out, h);
	ret = sgx_munmap_mm(softsgx_kernel(s->platform), c->mm, r->addr, r->len);
	mm_reply_end(&mr, out, ret);
}

static void do_mprotect(struct svc_conn *c, const struct svc_hdr *h,
			const struct svc_mprotect_req *r, struct svc_out *out)
{
	struct mm_reply mr;
	int ret;

	mm_reply_begin(&mr, c, out, h);
	ret = sgx_mprotect_mm(c->mm, r->addr, r->len, r->prot);
	mm_reply_end(&mr, out, ret);
}

static void do_fault(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *h,
		     const struct svc_fault_req *r, struct svc_out *out)
{
	struct mm_reply mr;

	mm_reply_begin(&mr, c, out, h);
	mr.rep->verdict =
		sgx_handle_fault_mm(softsgx_kernel(s->platform), c->mm, r->addr, (int)r->access);
	mm_reply_end(&mr, out, 0);
}

/*
 * FAULT_CHANNEL: the client's faults through shared memory from now on
 * (fault_chan.c); the reply passes the channel's memfd. -EBUSY for a
 * second one.
 */
static void do_fault_channel(struct svc_server *s, struct svc_conn *c, const struct svc_hdr *h,
			     struct svc_out *out)
{
	int fd = -1, status = svc_fchan_open(s, c, &fd);

	svc_reply_start(out, h, SVC_FAULT_CHANNEL, status);
	if (!status)
		out->fds[out->nfds++] = fd;
}

void svc_dispatch_mm(struct svc_server *s, struct svc_conn *c, const struct svc_msg *m,
		     struct svc_out *out)
{
	const struct svc_hdr *h = m->hdr;

	if (h->type == SVC_NOTIFY_ATTACH) {
		do_attach(s, c, h, m->payload, out);
		return;
	}
	/* The kernel's work is for clients: a control connection has no mm. */
	if (!c->mm || h->type == SVC_ZAP) {
		svc_reply_start(out, h, h->type, -EINVAL);
		return;
	}
	switch (h->type) {
	case SVC_OPEN:
		do_open(s, c, h, m->payload, out);
		break;
	case SVC_CLOSE:
		do_close(c, h, m->payload, out);
		break;
	case SVC_IOCTL:
		do_ioctl(s, c, h, m->payload, out);
		break;
	case SVC_MMAP:
		do_mmap(c, h, m->payload, out);
		break;
	case SVC_MUNMAP:
		do_munmap(s, c, h, m->payload, out);
		break;
	case SVC_MPROTECT:
		do_mprotect(c, h, m->payload, out);
		break;
	case SVC_FAULT:
		do_fault(s, c, h, m->payload, out);
		break;
	case SVC_FORK:
		do_fork(s, c, h, m->payload, out);
		break;
	case SVC_FAULT_CHANNEL:
		do_fault_channel(s, c, h, out);
		break;
	default:
		svc_reply_start(out, h, h->type, -EINVAL);
		break;
	}
}
