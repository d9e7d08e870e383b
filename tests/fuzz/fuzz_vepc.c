// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: /dev/sgx_vepc and the model guest, driven by a byte
 * stream of operations on a small host platform (no ksgxd).
 *
 * Host side (the VMM): open/close of vEPC instances, mmap of them (shared,
 * private, with offsets; kernel-chosen addresses, and MAP_FIXED only over the
 * harness's own earlier mappings), partial and whole munmap, faults,
 * SGX_IOC_VEPC_REMOVE_ALL with good and bad arguments, a vCPU entering or
 * leaving whatever TCS a vEPC page holds (hw_enclave_enter), host enclaves
 * that compete for EPC, reclaim.
 *
 * Guest side: softsgx_guest_boot on one or two of the mappings, enclaves
 * built inside the guest (CREATE, ADD, INIT signed over their measurement,
 * mmap and faults), then a guest reset (state left in the vEPC) or a clean
 * shutdown, and boots again on whatever the VMM left.
 *
 * After every step: the EPC invariant on the host (and in the guest), and
 * every error one docs/errno.md and docs/vepc.md document.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel/api_internal.h"
#include "tests/fuzz/harness.h"
#include "hw/hw.h"
#include "kernel/virt.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

#define MAX_OPS	   48
#define NR_VEPC	   4
#define MAX_MAPS   8
#define MAX_INSIDE 4
/* ELRANGE of guest and host enclaves: an arena the harness reserves. */
#define ARENA_PAGES 16
#define ARENA_SIZE  (ARENA_PAGES * SGX_PAGE_SIZE)
#define ATTRS	    (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)

struct mapping {
	uint64_t start, len; /* len 0: free */
	unsigned int gen;    /* changes whenever what backs the range may change */
};

struct run {
	struct fz in;
	struct softsgx_platform *host, *guest;
	int vepc[NR_VEPC];
	struct mapping maps[MAX_MAPS];
	void *inside[MAX_INSIDE]; /* TCS pages a vCPU entered */
	int host_encl;		  /* a host enclave's descriptor, or -1 */
	uint8_t *guest_arena, *host_arena;
	uint8_t *page; /* a page-aligned scratch page: TCS and REG sources, SECS */
	long last;
	unsigned int next_gen;
	/* The sections of the last guest reset (EPCM state left in them). */
	unsigned int reset_nr, reset_gen[2];
	unsigned int guest_nr;
	/*
	 * The guest booted on other vEPC than a reset guest left dirty: a SECS
	 * there may keep children outside its EPC, which its sanitization
	 * cannot remove and reports leaked, as Linux does. The VMM should have
	 * run REMOVE_ALL first.
	 */
	bool guest_may_leak;
	/*
	 * The VMM pulled EPC state from under the running guest: two guest EPC
	 * pages are the same host page (sections that map the same vEPC
	 * pages), so the guest's allocator hands one page out twice, or
	 * REMOVE_ALL ran while the guest was up. The guest's ENCLS then fail
	 * (e.g. EPA of a valid page: CREATE gives EFAULT, as on Linux) and it
	 * leaks what it cannot remove. VMM errors the model survives; the
	 * checks relax to that.
	 */
	bool guest_disturbed;
};

static struct mapping *mapping(struct run *r)
{
	struct mapping *m = &r->maps[fz_u8(&r->in) % MAX_MAPS];

	return m->len ? m : NULL;
}

/* The mappings a live guest runs on (its EPC sections) stay as they are. */
static bool guest_uses(struct run *r, struct mapping *m)
{
	return r->guest && (m == &r->maps[0] || m == &r->maps[1]);
}

static void check_all(struct run *r, const char *after)
{
	struct softsgx_stats st;

	fz_check_invariant(r->host, after);
	if (!r->guest)
		return;
	softsgx_get_stats(r->guest, &st);
	FZ_CHECK(st.free_pages + st.in_use_pages + st.leaked_pages + st.zombie_pages ==
			 st.total_pages,
		 "guest, after %s: EPC pages do not add up", after);
	if (!r->guest_may_leak)
		fz_check_invariant(r->guest, after);
}

static void op_open(struct run *r)
{
	int s = fz_u8(&r->in) % NR_VEPC;
	int fd = softsgx_open(r->host, "/dev/sgx_vepc", O_RDWR);

	r->last = fd;
	fz_check_errno(fd, "open", EMFILE);
	if (fd < 0)
		return;
	if (r->vepc[s] >= 0)
		softsgx_close(r->host, r->vepc[s]);
	r->vepc[s] = fd;
}

static void op_close(struct run *r)
{
	int s = fz_u8(&r->in) % NR_VEPC;

	r->last = softsgx_close(r->host, r->vepc[s]);
	fz_check_errno(r->last, "close", EBADF);
	r->vepc[s] = -1;
}

static void op_mmap(struct run *r)
{
	static const int flag_choices[] = {MAP_SHARED, MAP_SHARED, MAP_SHARED_VALIDATE,
					   MAP_PRIVATE};
	uint8_t b = fz_u8(&r->in);
	int fd = r->vepc[fz_u8(&r->in) % NR_VEPC];
	uint64_t len = (uint64_t)(fz_u8(&r->in) % 24 + 1) * SGX_PAGE_SIZE;
	uint64_t offset = (uint64_t)(fz_u8(&r->in) % 8) * SGX_PAGE_SIZE;
	int prot = PROT_READ | PROT_WRITE;
	int flags = flag_choices[b & 3];
	struct mapping *over = NULL;
	void *addr = NULL;

	if (b & 4)
		offset = fz_u64(&r->in);
	if (b & 8)
		prot = fz_u8(&r->in) & 7;
	if (b & 0x10) {
		/* MAP_FIXED, only ever over a part of one of our own mappings. */
		over = mapping(r);
		if (!over || guest_uses(r, over))
			return;
		addr = (void *)(uintptr_t)(over->start +
					   (fz_u8(&r->in) % (over->len / SGX_PAGE_SIZE)) *
						   SGX_PAGE_SIZE);
		if ((uintptr_t)addr + len > over->start + over->len)
			len = over->start + over->len - (uintptr_t)addr;
		flags |= MAP_FIXED;
	}
	r->last = softsgx_mmap(r->host, &addr, len, prot, flags, fd, offset);
	fz_check_errno(r->last, "mmap", EBADF, EINVAL, ENOMEM);
	if (r->last == -ENOMEM && over)
		mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		     -1, 0);
	if (over)
		over->gen = ++r->next_gen;
	if (r->last || over)
		return;
	for (unsigned int i = 0; i < MAX_MAPS; i++) {
		if (!r->maps[i].len) {
			r->maps[i].start = (uintptr_t)addr;
			r->maps[i].len = len;
			r->maps[i].gen = ++r->next_gen;
			return;
		}
	}
	FZ_CHECK(!softsgx_munmap(r->host, addr, len), "munmap of a fresh mapping");
}

static void op_munmap(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	struct mapping *m = mapping(r);
	uint64_t start, len;

	if (!m || guest_uses(r, m))
		return;
	if (b & 1) {
		r->last = softsgx_munmap(r->host, (void *)(uintptr_t)m->start, m->len);
		FZ_CHECK(r->last == 0, "munmap of a whole mapping: %ld", r->last);
		m->len = 0;
		return;
	}
	/* A part: the hole gets a reservation back, so the whole range stays ours. */
	start = m->start + (fz_u8(&r->in) % (m->len / SGX_PAGE_SIZE)) * SGX_PAGE_SIZE;
	len = (uint64_t)(fz_u8(&r->in) % 4 + 1) * SGX_PAGE_SIZE;
	if (start + len > m->start + m->len)
		len = m->start + m->len - start;
	r->last = softsgx_munmap(r->host, (void *)(uintptr_t)start, len);
	FZ_CHECK(r->last == 0, "munmap of a part of a mapping: %ld", r->last);
	m->gen = ++r->next_gen;
	FZ_CHECK(mmap((void *)(uintptr_t)start, len, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED,
		 "reservation lost");
}

static void op_fault(struct run *r)
{
	static const int access[] = {PROT_READ, PROT_WRITE, PROT_EXEC, PROT_READ};
	uint8_t b = fz_u8(&r->in);
	struct mapping *m = mapping(r);
	uint64_t addr;

	if (!m)
		return;
	addr = m->start + fz_u16(&r->in) % (m->len / SGX_PAGE_SIZE) * SGX_PAGE_SIZE;
	r->last = softsgx_handle_fault(r->host, (void *)(uintptr_t)addr, access[b & 3]);
}

static void op_remove_all(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	int fd = r->vepc[b % NR_VEPC];
	void *arg = (b & 0x80) ? (void *)(uintptr_t)fz_u64(&r->in) : NULL;

	r->last = softsgx_ioctl(r->host, fd, (b & 0x40) ? fz_u32(&r->in) : SGX_IOC_VEPC_REMOVE_ALL,
				arg);
	/* Pages it removed may be the running guest's (any instance, to keep it simple). */
	if (r->guest && (r->last >= 0 || r->last == -EBUSY)) {
		r->guest_disturbed = true;
		r->guest_may_leak = true;
	}
	fz_check_errno(r->last, "SGX_IOC_VEPC_REMOVE_ALL", EBADF, EINVAL, EBUSY, ENOTTY);
}

/* A vCPU enters the TCS a vEPC page may hold, or leaves one it entered. */
static void op_enter_leave(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	void **slot = &r->inside[b % MAX_INSIDE];
	struct mapping *m;

	if (*slot) {
		hw_enclave_leave(softsgx_hw(r->host), *slot);
		*slot = NULL;
		r->last = 0;
		return;
	}
	m = mapping(r);
	if (!m || !r->guest)
		return;
	*slot = (void *)(uintptr_t)(m->start +
				    fz_u8(&r->in) % (m->len / SGX_PAGE_SIZE) * SGX_PAGE_SIZE);
	r->last = hw_enclave_enter(softsgx_hw(r->host), *slot);
	if (r->last != SGX_SUCCESS)
		*slot = NULL;
}

static void leave_all(struct run *r)
{
	for (unsigned int i = 0; i < MAX_INSIDE; i++) {
		if (r->inside[i])
			hw_enclave_leave(softsgx_hw(r->host), r->inside[i]);
		r->inside[i] = NULL;
	}
}

/*
 * The guest kernel's IPI: its vCPUs leave the enclave (an AEX). Without it a
 * vCPU the guest cannot interrupt stays inside forever, and the guest's EWB
 * fails NOT_TRACKED and leaks the page, as Linux would.
 */
static void guest_kick(struct sgx_kernel *k, void *data)
{
	(void)k;
	leave_all(data);
}

static int by_addr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* True when two pages of the guest's sections are one host EPC page. */
static bool sections_alias(struct run *r, unsigned int nr, void *const base[], const size_t size[])
{
	uintptr_t pages[2 * 24];
	unsigned int n = 0;

	for (unsigned int i = 0; i < nr; i++)
		for (size_t off = 0; off < size[i] && n < 2 * 24; off += SGX_PAGE_SIZE)
			pages[n++] = (uintptr_t)sgx_vepc_lookup(softsgx_kernel(r->host),
								(uintptr_t)base[i] + off);
	qsort(pages, n, sizeof(pages[0]), by_addr);
	for (unsigned int i = 1; i < n; i++)
		if (pages[i] == pages[i - 1])
			return true;
	return false;
}

static void op_guest_boot(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	unsigned int nr = 1 + (b & 1);
	void *base[2];
	size_t size[2];

	if (r->guest)
		return;
	/* Sections: the first one or two mappings, as the VMM set them up. */
	for (unsigned int i = 0; i < nr; i++) {
		if (!r->maps[i].len)
			return;
		base[i] = (void *)(uintptr_t)r->maps[i].start;
		size[i] = r->maps[i].len;
	}
	/*
	 * Sticky: a guest that cannot clean what another left (children in
	 * vEPC it does not have) leaves it for the next one too.
	 */
	r->guest_may_leak |= r->reset_nr && r->reset_nr != nr;
	for (unsigned int i = 0; i < nr && i < r->reset_nr; i++)
		r->guest_may_leak |= r->maps[i].gen != r->reset_gen[i];
	r->guest_nr = nr;
	r->guest = softsgx_guest_boot(r->host, nr, base, size);
	r->last = r->guest ? 0 : -errno;
	FZ_TRACE("guest boot on %u sections (%llu + %llu pages), may leak %d\n", nr,
		 (unsigned long long)size[0] / SGX_PAGE_SIZE,
		 nr > 1 ? (unsigned long long)size[1] / SGX_PAGE_SIZE : 0ULL, r->guest_may_leak);
	if (r->guest) {
		struct sgx_kernel *k = softsgx_kernel(r->guest);

		r->guest_disturbed = sections_alias(r, nr, base, size);
		r->guest_may_leak |= r->guest_disturbed;
		FZ_TRACE("guest sections alias: %d\n", r->guest_disturbed);
		/* Deterministic runs: the guest reclaims only when asked or when full. */
		sgx_kernel_stop_ksgxd(k);
		k->kick = guest_kick;
		k->kick_data = r;
	}
	/* Booting needs every page: EPC the host cannot give is a boot failure. */
	fz_check_errno(r->last, "softsgx_guest_boot", ENOMEM, EINVAL, EFAULT, EIO, ENOSPC);
}

static void op_guest_down(struct run *r)
{
	uint8_t b = fz_u8(&r->in);

	if (!r->guest)
		return;
	/* Its vCPUs stop first, whether it shuts down or is reset. */
	leave_all(r);
	if (b & 1) {
		softsgx_guest_reset(r->guest);
		r->reset_nr = r->guest_nr;
		for (unsigned int i = 0; i < r->guest_nr; i++)
			r->reset_gen[i] = r->maps[i].gen;
	} else {
		softsgx_platform_free(r->guest);
	}
	r->guest = NULL;
	r->guest_disturbed = false;
	/* Its enclave mappings went with it: reserve the arena again. */
	FZ_CHECK(mmap(r->guest_arena, ARENA_SIZE, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED,
		 "arena lost");
}

static void tcs_page(uint8_t *page)
{
	struct sgx_tcs *tcs = (struct sgx_tcs *)page;

	memset(page, 0, SGX_PAGE_SIZE);
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
}

static long add_page(struct run *r, struct softsgx_platform *p, int fd, uint64_t offset,
		     uint64_t flags, struct sgx_measurement *m)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = flags};
	struct sgx_enclave_add_pages add = {
		.src = (uintptr_t)r->page,
		.offset = offset,
		.length = SGX_PAGE_SIZE,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};
	long ret = softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);

	fz_check_errno(ret, "ENCLAVE_ADD_PAGES", EINTR, EBUSY, EFAULT, EIO, ENOMEM);
	FZ_CHECK(ret != -EIO || (p == r->guest && r->guest_disturbed), "ADD_PAGES: EIO");
	if (!ret) {
		sgx_measure_eadd(m, offset, &secinfo);
		for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += SGX_EEXTEND_CHUNK)
			sgx_measure_eextend(m, offset + c, r->page + c);
	}
	return ret;
}

/*
 * An enclave of a TCS and @nr_reg pages at @base (a power-of-two size), on
 * the guest or the host; with @init, signed, initialized and mapped, its
 * pages faulted in. The descriptor stays open; -1 when CREATE failed.
 */
static int build_enclave(struct run *r, struct softsgx_platform *p, uint8_t *base,
			 unsigned int nr_reg, bool init, uint8_t touch)
{
	struct sgx_secs *secs = (struct sgx_secs *)r->page;
	struct sgx_enclave_create create = {.src = (uintptr_t)r->page};
	struct sgx_sign_enclave desc = {
		.attributes = ATTRS,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 3,
		.xfrm_mask = 3,
		.date = 0x20261130,
	};
	static struct sgx_sigstruct sig __attribute__((aligned(4096)));
	struct sgx_enclave_init ei = {.sigstruct = (uintptr_t)&sig};
	struct sgx_measurement m;
	uint64_t size = 2 * SGX_PAGE_SIZE;
	void *addr = base;
	int fd = softsgx_open(p, "/dev/sgx_enclave", O_RDWR);
	long ret;

	fz_check_errno(fd, "open", EMFILE);
	if (fd < 0)
		return -1;
	while (size < (nr_reg + 1) * SGX_PAGE_SIZE)
		size *= 2;
	memset(secs, 0, sizeof(*secs));
	secs->base = (uintptr_t)base;
	secs->size = size;
	secs->ssa_frame_size = 1;
	secs->attributes = ATTRS;
	secs->xfrm = 3;
	ret = softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_CREATE, &create);
	fz_check_errno(ret, "ENCLAVE_CREATE", ENOMEM, EIO, EFAULT);
	FZ_CHECK(ret != -EFAULT || (p == r->guest && r->guest_disturbed), "CREATE: EFAULT");
	if (ret) {
		softsgx_close(p, fd);
		return -1;
	}
	sgx_measure_ecreate(&m, 1, size);
	tcs_page(r->page);
	if (add_page(r, p, fd, 0, SGX_SECINFO_TCS, &m))
		return fd;
	for (unsigned int i = 1; i <= nr_reg; i++) {
		memset(r->page, (int)i, SGX_PAGE_SIZE);
		if (add_page(r, p, fd, i * SGX_PAGE_SIZE,
			     SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, &m))
			return fd;
	}
	if (!init)
		return fd;
	sgx_measure_final(&m, desc.mrenclave);
	FZ_CHECK(!sgx_sign_sigstruct(&desc, fz_signer(), &sig), "signing failed");
	ret = softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_INIT, &ei);
	fz_check_errno(ret, "ENCLAVE_INIT", EINTR, EPERM);
	FZ_CHECK(ret != -EPERM || (p == r->guest && r->guest_disturbed), "INIT: EPERM");
	if (ret)
		return fd;
	ret = softsgx_mmap(p, &addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	fz_check_errno(ret, "mmap", ENOMEM);
	for (unsigned int i = 0; !ret && i <= nr_reg; i++)
		if (touch & (1u << i))
			softsgx_handle_fault(p, base + i * SGX_PAGE_SIZE, PROT_WRITE);
	return fd;
}

static void op_guest_enclave(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	uint8_t touch = fz_u8(&r->in);
	int fd;

	if (!r->guest)
		return;
	/*
	 * The new enclave's mapping replaces the last one's, and the last one
	 * may be closed: its threads leave first, as a well-behaved guest
	 * process's would. (Releasing an enclave with a thread inside makes
	 * EREMOVE fail ENCLAVE_ACT and leaks the pages, on Linux as here.)
	 */
	leave_all(r);
	fd = build_enclave(r, r->guest, r->guest_arena, b % 8, b & 0x80, touch);
	r->last = fd;
	/* Left open (the guest goes down with it) or closed now. */
	if (fd >= 0 && (b & 0x40))
		softsgx_close(r->guest, fd);
}

static void op_host_enclave(struct run *r)
{
	uint8_t b = fz_u8(&r->in);

	if (r->host_encl >= 0) {
		softsgx_close(r->host, r->host_encl);
		r->host_encl = -1;
		return;
	}
	r->host_encl = build_enclave(r, r->host, r->host_arena, b % 12, false, 0);
	r->last = r->host_encl;
}

static void op_reclaim(struct run *r)
{
	uint8_t b = fz_u8(&r->in);

	r->last = softsgx_reclaim((b & 1) && r->guest ? r->guest : r->host);
}

enum op {
	OP_OPEN,
	OP_CLOSE,
	OP_MMAP,
	OP_MUNMAP,
	OP_FAULT,
	OP_FAULT2,
	OP_REMOVE_ALL,
	OP_ENTER_LEAVE,
	OP_GUEST_BOOT,
	OP_GUEST_DOWN,
	OP_GUEST_ENCLAVE,
	OP_HOST_ENCLAVE,
	OP_RECLAIM,
	NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"open",	      "close",	    "mmap",	   "munmap",	 "fault",
	"fault",      "REMOVE_ALL", "enter/leave", "guest boot", "guest down",
	"guest encl", "host encl",  "reclaim",
};

static void run_op(struct run *r, enum op op)
{
	switch (op) {
	case OP_OPEN:
		op_open(r);
		break;
	case OP_CLOSE:
		op_close(r);
		break;
	case OP_MMAP:
		op_mmap(r);
		break;
	case OP_MUNMAP:
		op_munmap(r);
		break;
	case OP_FAULT:
	case OP_FAULT2:
		op_fault(r);
		break;
	case OP_REMOVE_ALL:
		op_remove_all(r);
		break;
	case OP_ENTER_LEAVE:
		op_enter_leave(r);
		break;
	case OP_GUEST_BOOT:
		op_guest_boot(r);
		break;
	case OP_GUEST_DOWN:
		op_guest_down(r);
		break;
	case OP_GUEST_ENCLAVE:
		op_guest_enclave(r);
		break;
	case OP_HOST_ENCLAVE:
		op_host_enclave(r);
		break;
	case OP_RECLAIM:
		op_reclaim(r);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run run;
	struct run *r = &run;
	struct softsgx_config cfg;
	uint8_t c;

	fz_trace_init();
	fz_signer();
	memset(r, 0, sizeof(*r));
	fz_init(&r->in, data, size);
	c = fz_u8(&r->in);
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1 + (c >> 7);
	cfg.section_size[0] = (uint64_t)(8 + (c & 63)) * SGX_PAGE_SIZE;
	cfg.section_size[1] = 8 * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true;
	r->host = softsgx_platform_new(&cfg);
	FZ_CHECK(r->host, "platform did not boot");
	for (int i = 0; i < NR_VEPC; i++)
		r->vepc[i] = -1;
	r->host_encl = -1;
	r->guest_arena = fz_arena_new(ARENA_SIZE);
	r->host_arena = fz_arena_new(ARENA_SIZE);
	r->page = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	FZ_CHECK(r->page, "no page");

	for (int n = 0; n < MAX_OPS && !fz_done(&r->in); n++) {
		enum op op = fz_u8(&r->in) % NR_OPS;

		r->last = 0;
		run_op(r, op);
		FZ_TRACE("%-11s -> %ld\n", op_names[op], r->last);
		check_all(r, op_names[op]);
	}
	leave_all(r);
	if (r->guest)
		softsgx_guest_reset(r->guest);
	softsgx_platform_free(r->host);
	munmap(r->guest_arena, ARENA_SIZE);
	munmap(r->host_arena, ARENA_SIZE);
	free(r->page);
	return 0;
}
