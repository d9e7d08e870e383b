// SPDX-License-Identifier: MIT
/*
 * The protocol's checks and small helpers (service/proto.h). Both ends run
 * every message they receive through svc_msg_check() before looking at a
 * field, so the rules of the wire format are written once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "service/proto.h"

uint64_t svc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

uint64_t svc_now_ms(void)
{
	return svc_now_ns() / 1000000;
}

void svc_futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
			      .tv_nsec = (long)(timeout_ns % 1000000000u)};

	/* Not FUTEX_PRIVATE_FLAG: the word is in memory two processes map. */
	syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}

void svc_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

#define PAGE 4096u

/* A config a client asks for: what softsgx_platform_new() could boot. */
static bool config_valid(const struct svc_config *c)
{
	if (c->nr_sections < 1 || c->nr_sections > SOFTSGX_MAX_SECTIONS)
		return false;
	if (c->flags & ~SVC_CFG_SGX1)
		return false;
	for (unsigned int i = 0; i < SOFTSGX_MAX_SECTIONS; i++) {
		uint64_t sz = c->section_size[i];

		if (i < c->nr_sections ? !sz || sz % PAGE : sz != 0)
			return false;
	}
	return true;
}

static bool string_terminated(const char *s, size_t max)
{
	return memchr(s, '\0', max) != NULL;
}

bool svc_cgroup_path_valid(const char *path, size_t max)
{
	size_t len = strnlen(path, max), comp = 0;
	unsigned int depth = 0;

	if (len == max || path[0] != '/')
		return false;
	if (len == 1)
		return true; /* the root */
	for (size_t i = 1; i <= len; i++) {
		unsigned char ch = (unsigned char)path[i];

		if (ch == '/' || !ch) {
			/* Empty, ".", "..", or past the kernel model's bounds. */
			if (!comp || comp > 255 || ++depth > 64)
				return false;
			if (path[i - 1] == '.' && (comp == 1 || (comp == 2 && path[i - 2] == '.')))
				return false;
			comp = 0;
			continue;
		}
		if (ch < 0x20 || ch == 0x7f)
			return false;
		comp++;
	}
	return true;
}

/* HELLO's optional tail: a cgroup path ("" too), NUL-terminated, nothing after it. */
static bool hello_cgroup_valid(const char *tail, size_t len)
{
	if (!len)
		return true;
	if (len > SVC_CGROUP_PATH_MAX || tail[len - 1] || strlen(tail) != len - 1)
		return false;
	return !tail[0] || svc_cgroup_path_valid(tail, len);
}

static bool file_name_valid(const char *f)
{
	size_t len = strnlen(f, SVC_CGROUP_FILE_MAX);

	if (len == SVC_CGROUP_FILE_MAX)
		return false;
	for (size_t i = len; i < SVC_CGROUP_FILE_MAX; i++)
		if (f[i])
			return false; /* what follows the name is zero, as every unused field */
	for (size_t i = 0; i < len; i++)
		if (!((f[i] >= 'a' && f[i] <= 'z') || f[i] == '.'))
			return false;
	return true;
}

static int check_cgroup_req(const struct svc_cgroup_req *r, unsigned int type, size_t len)
{
	if (len != sizeof(*r) || !svc_cgroup_path_valid(r->path, sizeof(r->path)) ||
	    !file_name_valid(r->file))
		return -EINVAL;
	if ((type == SVC_CGROUP_READ) != (r->file[0] != '\0'))
		return -EINVAL;
	if (type != SVC_CGROUP_SET_MAX && r->max)
		return -EINVAL;
	return 0;
}

static int check_cgroup_list(const struct svc_cgroup_list_rep *r, size_t body)
{
	const struct svc_cgroup_entry *e = (const void *)(r + 1);

	if (body < sizeof(*r) || r->nr > SVC_CGROUP_LIST_MAX || r->nr > r->total)
		return -EINVAL;
	if (body != sizeof(*r) + r->nr * sizeof(*e))
		return -EINVAL;
	for (uint32_t i = 0; i < r->nr; i++)
		if (e[i].reserved || !svc_cgroup_path_valid(e[i].path, sizeof(e[i].path)))
			return -EINVAL;
	return 0;
}

#define PROT_ALL 0x7 /* PROT_READ | PROT_WRITE | PROT_EXEC */
#define FAULT_ENCLAVE_MODE 0x100 /* kernel/driver.h SGX_FAULT_ENCLAVE_MODE */
#define FAULT_OPERAND	   0x200 /* kernel/driver.h SGX_FAULT_OPERAND */

/*
 * @n windows and their data in @len bytes at @w: lengths that add up,
 * no window empty, wrapping or overlapping another (a pointer then has
 * one meaning), at most SVC_IOCTL_MAX_DATA bytes in all.
 */
static bool windows_valid(const struct svc_window *w, uint32_t n, size_t len)
{
	uint64_t total = 0;

	if (n > SVC_MAX_WINDOWS || len < n * sizeof(*w))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (!w[i].len || w[i].len > SVC_IOCTL_MAX_DATA || w[i].addr + w[i].len < w[i].addr)
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (w[i].addr < w[j].addr + w[j].len && w[j].addr < w[i].addr + w[i].len)
				return false;
		total += w[i].len;
	}
	return total <= SVC_IOCTL_MAX_DATA && total == len - n * sizeof(*w);
}

static int check_ioctl_req(const struct svc_ioctl_req *r, size_t len)
{
	if (len < sizeof(*r))
		return -EINVAL;
	return windows_valid((const void *)(r + 1), r->nr_windows, len - sizeof(*r)) ? 0
										     : -EINVAL;
}

static int check_zap_req(const struct svc_zap_req *z, size_t len)
{
	const uint64_t *addr = (const void *)(z + 1);

	if (len < sizeof(*z) || (len - sizeof(*z)) % 8 || (len - sizeof(*z)) / 8 != z->n)
		return -EINVAL;
	if (z->kind == SVC_ZAP_PAGES) {
		if (!z->n || z->n > SVC_ZAP_MAX_PAGES || z->len)
			return -EINVAL;
	} else if (z->kind == SVC_ZAP_UNMAP) {
		if (z->n != 1 || !z->len || z->len % PAGE || addr[0] + z->len < addr[0])
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	for (uint32_t i = 0; i < z->n; i++)
		if (addr[i] % PAGE)
			return -EINVAL;
	return 0;
}

static int check_request(const struct svc_msg *m, unsigned int type, size_t len)
{
	const void *p = m->payload;

	/* Requests never carry descriptors: an fd from a client is refused, not kept. */
	if (m->nfds)
		return -EINVAL;
	switch (type) {
	case SVC_HELLO: {
		const struct svc_hello_req *h = p;

		if (len < sizeof(*h) ||
		    !hello_cgroup_valid((const char *)(h + 1), len - sizeof(*h)))
			return -EINVAL;
		if (h->flags & ~SVC_HELLO_FLAGS || h->reserved)
			return -EINVAL;
		if (!string_terminated(h->program, sizeof(h->program)))
			return -EINVAL;
		if (!(h->flags & SVC_HELLO_ANY_CONFIG) && !config_valid(&h->cfg))
			return -EINVAL;
		return 0;
	}
	case SVC_STATUS:
	case SVC_TOP:
	case SVC_GET_EPC:
	case SVC_FAULT_CHANNEL:
		return len ? -EINVAL : 0;
	case SVC_SHUTDOWN: {
		const struct svc_shutdown_req *r = p;

		if (len != sizeof(*r) || r->flags & ~SVC_SHUTDOWN_FORCE || r->reserved)
			return -EINVAL;
		return 0;
	}
	case SVC_NOTIFY_ATTACH:
		return len == sizeof(struct svc_notify_attach_req) ? 0 : -EINVAL;
	case SVC_FORK:
		return len == sizeof(struct svc_fork_req) ? 0 : -EINVAL;
	case SVC_OPEN: {
		const struct svc_open_req *r = p;

		if (len != sizeof(*r) || r->reserved || r->type < SVC_OPEN_ENCLAVE ||
		    r->type > SVC_OPEN_VEPC)
			return -EINVAL;
		return 0;
	}
	case SVC_CLOSE: {
		const struct svc_close_req *r = p;

		return len != sizeof(*r) || r->reserved ? -EINVAL : 0;
	}
	case SVC_IOCTL:
		return check_ioctl_req(p, len);
	case SVC_MMAP: {
		const struct svc_mmap_req *r = p;

		return len != sizeof(*r) || r->reserved ? -EINVAL : 0;
	}
	case SVC_MUNMAP:
		return len == sizeof(struct svc_munmap_req) ? 0 : -EINVAL;
	case SVC_MPROTECT: {
		const struct svc_mprotect_req *r = p;

		return len != sizeof(*r) || r->reserved ? -EINVAL : 0;
	}
	case SVC_FAULT: {
		const struct svc_fault_req *r = p;

		if (len != sizeof(*r) || r->reserved || r->access & ~(PROT_ALL | FAULT_ENCLAVE_MODE | FAULT_OPERAND) ||
		    ((r->access & FAULT_ENCLAVE_MODE) && (r->access & FAULT_OPERAND)))
			return -EINVAL;
		return 0;
	}
	case SVC_ZAP:
		return check_zap_req(p, len);
	case SVC_KICK:
		return len ? -EINVAL : 0;
	case SVC_CGROUP_READ:
	case SVC_CGROUP_SET_MAX:
	case SVC_CGROUP_REMOVE:
		return check_cgroup_req(p, type, len);
	case SVC_CGROUP_LIST:
		return len ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

static int check_ioctl_rep(const struct svc_ioctl_rep *r, size_t body)
{
	if (body < sizeof(*r) || r->reserved)
		return -EINVAL;
	return windows_valid((const void *)(r + 1), r->nr_windows, body - sizeof(*r)) ? 0
										      : -EINVAL;
}

static int check_mm_rep(const struct svc_mm_rep *r, size_t body)
{
	const struct svc_pte_op *op = (const void *)(r + 1);

	if (body < sizeof(*r) || r->verdict > SVC_FAULT_VERDICT_MAX || r->nr_ops > SVC_MAX_PTE_OPS)
		return -EINVAL;
	if (body != sizeof(*r) + r->nr_ops * sizeof(*op))
		return -EINVAL;
	for (uint32_t i = 0; i < r->nr_ops; i++) {
		if (op[i].addr % PAGE || op[i].prot & ~PROT_ALL || op[i].walk_prot & ~PROT_ALL)
			return -EINVAL;
		/* The walk finds at least what the host's PTE allows; RESERVE has no walk. */
		if ((uint32_t)op[i].prot & ~op[i].walk_prot)
			return -EINVAL;
		if (op[i].op == SVC_PTE_RESERVE) {
			if (!op[i].len || op[i].len % PAGE || op[i].addr + op[i].len < op[i].addr)
				return -EINVAL;
		} else if (op[i].op == SVC_PTE_INSTALL) {
			if (op[i].len != PAGE || op[i].section >= SOFTSGX_MAX_SECTIONS)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/* Replies whose payload may come with an error too (what was done before it). */
static bool body_with_error(unsigned int type)
{
	return type == SVC_IOCTL || type == SVC_MMAP || type == SVC_MUNMAP ||
	       type == SVC_MPROTECT || type == SVC_FAULT;
}

static int check_reply(const struct svc_msg *m, unsigned int type, size_t len)
{
	const struct svc_reply_hdr *r = m->payload;
	size_t body;

	if (!(type & SVC_REPLY) || len < sizeof(*r))
		return -EINVAL;
	type &= ~SVC_REPLY;
	if (type < SVC_HELLO || type > SVC_TYPE_MAX)
		return -EINVAL;
	if (r->status > 0 || r->status < -4095 || r->reserved)
		return -EINVAL;
	body = len - sizeof(*r);
	if (m->nfds && ((type != SVC_GET_EPC && type != SVC_FAULT_CHANNEL) || r->status))
		return -EINVAL;
	if (r->status) {
		/* A refused HELLO says which platform is in force. */
		if (type == SVC_HELLO && r->status == -EBUSY)
			return body == sizeof(struct svc_hello_rep) ? 0 : -EINVAL;
		/* A refused SHUTDOWN says how many clients kept it up. */
		if (type == SVC_SHUTDOWN && body == sizeof(struct svc_shutdown_rep))
			return 0;
		if (body && body_with_error(type))
			return type == SVC_IOCTL ? check_ioctl_rep((const void *)(r + 1), body)
						 : check_mm_rep((const void *)(r + 1), body);
		return body == 0 ? 0 : -EINVAL;
	}
	switch (type) {
	case SVC_HELLO:
		return body == sizeof(struct svc_hello_rep) ? 0 : -EINVAL;
	case SVC_STATUS:
		return body == sizeof(struct svc_status_rep) ? 0 : -EINVAL;
	case SVC_TOP:
	case SVC_CGROUP_READ:
		return 0;
	case SVC_CGROUP_SET_MAX:
	case SVC_CGROUP_REMOVE:
		return body == 0 ? 0 : -EINVAL;
	case SVC_CGROUP_LIST:
		return check_cgroup_list((const void *)(r + 1), body);
	case SVC_SHUTDOWN:
		return body == sizeof(struct svc_shutdown_rep) ? 0 : -EINVAL;
	case SVC_GET_EPC: {
		const struct svc_get_epc_rep *e = (const void *)(r + 1);

		if (body != sizeof(*e) || e->nr_sections > SOFTSGX_MAX_SECTIONS)
			return -EINVAL;
		/* Two per section: its memory and its EPCM. */
		if (m->nfds != 2 * (int)e->nr_sections || (e->nr_sections && e->owner < 2))
			return -EINVAL;
		return 0;
	}
	case SVC_FAULT_CHANNEL:
		return body == 0 && m->nfds == 1 ? 0 : -EINVAL;
	case SVC_NOTIFY_ATTACH:
	case SVC_CLOSE:
	case SVC_ZAP:
	case SVC_KICK:
	case SVC_FORK:
		return body == 0 ? 0 : -EINVAL;
	case SVC_OPEN: {
		const struct svc_open_rep *o = (const void *)(r + 1);

		return body == sizeof(*o) && o->handle >= 0 && !o->reserved ? 0 : -EINVAL;
	}
	case SVC_IOCTL:
		return check_ioctl_rep((const void *)(r + 1), body);
	case SVC_MMAP:
	case SVC_MUNMAP:
	case SVC_MPROTECT:
	case SVC_FAULT:
		return check_mm_rep((const void *)(r + 1), body);
	}
	return -EINVAL;
}

int svc_msg_check(const struct svc_msg *m)
{
	const struct svc_hdr *h = m->hdr;

	/* Framing: without these the message boundary itself is in doubt. */
	if (!h || m->size < sizeof(*h) || m->trunc || m->size > SVC_MSG_MAX)
		return -EPROTO;
	if (h->magic != SVC_MAGIC || h->version != SVC_VERSION)
		return -EPROTO;
	if (h->len != m->size - sizeof(*h))
		return -EPROTO;
	if (m->nfds < 0 || m->nfds > SVC_MAX_FDS)
		return -EPROTO;
	if (m->reply)
		return check_reply(m, h->type, h->len);
	return check_request(m, h->type, h->len);
}

void svc_config_from(struct svc_config *w, const struct softsgx_config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->nr_sections = cfg->nr_sections;
	w->flags = cfg->sgx2 ? 0 : SVC_CFG_SGX1;
	for (unsigned int i = 0; i < cfg->nr_sections && i < SOFTSGX_MAX_SECTIONS; i++)
		w->section_size[i] = cfg->section_size[i];
}

void svc_config_to(struct softsgx_config *cfg, const struct svc_config *w)
{
	softsgx_default_config(cfg);
	cfg->nr_sections = w->nr_sections;
	cfg->sgx2 = !(w->flags & SVC_CFG_SGX1);
	for (unsigned int i = 0; i < SOFTSGX_MAX_SECTIONS; i++)
		cfg->section_size[i] = w->section_size[i];
}

bool svc_config_equal(const struct svc_config *a, const struct svc_config *b)
{
	if (a->nr_sections != b->nr_sections || a->flags != b->flags)
		return false;
	for (unsigned int i = 0; i < SOFTSGX_MAX_SECTIONS; i++)
		if (a->section_size[i] != b->section_size[i])
			return false;
	return true;
}

uint64_t svc_config_epc_bytes(const struct svc_config *w)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < w->nr_sections && i < SOFTSGX_MAX_SECTIONS; i++)
		total += w->section_size[i];
	return total;
}

/* The shortest exact "64M" / "1G" / "12K" form, as --epc accepts it. */
static void size_arg(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes && !(bytes % 1024)) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)bytes, units[u]);
}

const char *svc_config_describe(const struct svc_config *w, char buf[96])
{
	char size[32];

	size_arg(svc_config_epc_bytes(w), size, sizeof(size));
	snprintf(buf, 96, "--epc %s --sections %u%s", size, w->nr_sections,
		 w->flags & SVC_CFG_SGX1 ? " --sgx1" : "");
	return buf;
}

const char *svc_type_name(unsigned int type)
{
	switch (type & ~SVC_REPLY) {
	case SVC_HELLO:
		return "HELLO";
	case SVC_STATUS:
		return "STATUS";
	case SVC_TOP:
		return "TOP";
	case SVC_SHUTDOWN:
		return "SHUTDOWN";
	case SVC_GET_EPC:
		return "GET_EPC";
	case SVC_NOTIFY_ATTACH:
		return "NOTIFY_ATTACH";
	case SVC_FORK:
		return "FORK";
	case SVC_OPEN:
		return "OPEN";
	case SVC_CLOSE:
		return "CLOSE";
	case SVC_IOCTL:
		return "IOCTL";
	case SVC_MMAP:
		return "MMAP";
	case SVC_MUNMAP:
		return "MUNMAP";
	case SVC_MPROTECT:
		return "MPROTECT";
	case SVC_FAULT:
		return "FAULT";
	case SVC_ZAP:
		return "ZAP";
	case SVC_KICK:
		return "KICK";
	case SVC_FAULT_CHANNEL:
		return "FAULT_CHANNEL";
	case SVC_CGROUP_READ:
		return "CGROUP_READ";
	case SVC_CGROUP_SET_MAX:
		return "CGROUP_SET_MAX";
	case SVC_CGROUP_REMOVE:
		return "CGROUP_REMOVE";
	case SVC_CGROUP_LIST:
		return "CGROUP_LIST";
	}
	return "unknown";
}
