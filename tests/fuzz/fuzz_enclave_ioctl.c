// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: /dev/sgx_enclave through the embedding API, driven by a
 * byte stream of operations on a small platform (6 to 37 EPC pages, no
 * ksgxd, so reclaim happens when the harness or an allocation asks for it).
 *
 * Operations: open/close/dup of the device files; ENCLAVE_CREATE with a SECS
 * that is a valid template patched by the input or raw input bytes;
 * ADD_PAGES with fuzzed offset, length, flags, SECINFO and source (among
 * them NULL, wild and half-unreadable pointers: the model reads user memory
 * with process_vm_readv, so they give EFAULT); INIT with a SIGSTRUCT signed
 * over the measurement the harness tracks (so INIT can succeed), patched or
 * raw; PROVISION with good and bad descriptors; mmap/munmap/mprotect with
 * fuzzed ranges; the page-fault path (EAUG past the added pages of an
 * initialized enclave); forced reclaim; a pending signal; the SGX2 ioctls
 * RESTRICT_PERMISSIONS, MODIFY_TYPES and REMOVE_PAGES (op_sgx2).
 *
 * Addresses the model really maps (MAP_FIXED, munmap) stay inside an arena
 * the harness reserves, so the input never unmaps the fuzzer's own memory.
 * After every operation: the EPC accounting invariant, and every error is one
 * docs/errno.md documents for the call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kernel/api_internal.h"
#include "kernel/epc_cgroup.h"
#include "tests/fuzz/harness.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

#define MAX_OPS	     64
#define NR_SLOTS     8
#define MAX_ENCLAVES 16
#define MAX_MAPS     16
/* The arena: where MAP_FIXED and munmap may land, and every fuzzed ELRANGE. */
#define ARENA_PAGES 64
#define ARENA_SIZE  (ARENA_PAGES * SGX_PAGE_SIZE)
/* Source pages for ADD_PAGES: a TCS, then patterned pages, then a PROT_NONE page. */
#define SRC_PAGES 8
#define ATTRS	  (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)
/* A page-aligned address nobody maps (the top of the lower half). */
#define WILD_ADDR 0x7ffffffff000ULL

/* What the harness knows of an enclave, to sign a SIGSTRUCT INIT accepts. */
struct encl_track {
	bool created, measure_known;
	uint64_t attributes, xfrm, base;
	uint32_t miscselect;
	struct sgx_measurement m;
	/* Source page + 1 of each REG page added at offset n pages, 0: unknown. */
	uint8_t content[ARENA_PAGES];
};

struct mapping {
	uint64_t start, len; /* len 0: slot free */
};

struct run {
	struct fz in;
	struct softsgx_platform *p;
	int fd[NR_SLOTS];
	int encl_of[NR_SLOTS];	/* index into encl[], -1 when untracked */
	bool is_encl[NR_SLOTS]; /* opened as /dev/sgx_enclave (or a dup of one) */
	struct encl_track encl[MAX_ENCLAVES];
	unsigned int nr_encl;
	struct mapping maps[MAX_MAPS]; /* kernel-chosen mappings outside the arena */
	/* Enclave index + 1 of the MAP_FIXED mapping over each arena page, 0: none. */
	uint8_t owner[ARENA_PAGES];
	uint8_t *arena;
	uint8_t *src;	  /* SRC_PAGES readable pages + 1 PROT_NONE page */
	uint8_t *ro_page; /* made read-only around a call: an argument the model cannot write */
	bool signal;
	long last; /* the last call's result, for FZ_TRACE */
};

static EVP_PKEY *signer;

/* The run the kernel's signal hook reads (one platform at a time). */
static struct run *current;

static bool pending(struct sgx_kernel *k)
{
	(void)k;
	return current && current->signal;
}

static int slot(struct run *r)
{
	return fz_u8(&r->in) % NR_SLOTS;
}

/* A descriptor operand: mostly a slot's, sometimes any number. */
static int fd_operand(struct run *r)
{
	uint8_t b = fz_u8(&r->in);

	if (b < 0xF0)
		return r->fd[b % NR_SLOTS];
	return (int)fz_u32(&r->in);
}

/*
 * A user pointer: @good mostly, else NULL, an unmapped page, the last bytes
 * before the unreadable source page, or any 64-bit value. Only ever read by
 * the model, or written where the caller made sure writing is harmless.
 */
static uint64_t ptr_operand(struct run *r, void *good)
{
	uint8_t b = fz_u8(&r->in);

	if (b < 0xE0)
		return (uintptr_t)good;
	switch (b & 3) {
	case 0:
		return 0;
	case 1:
		return WILD_ADDR;
	case 2:
		return (uintptr_t)r->src + SRC_PAGES * SGX_PAGE_SIZE - 8;
	default:
		return fz_u64(&r->in);
	}
}

/* The arena's page @n (wrapping), the arena's usual operand. */
static uint64_t arena_addr(struct run *r, uint8_t n)
{
	return (uintptr_t)r->arena + (uint64_t)(n % ARENA_PAGES) * SGX_PAGE_SIZE;
}

/* Put a PROT_NONE reservation back over [start, start + len) ∩ arena. */
static void arena_restore(struct run *r, uint64_t start, uint64_t len)
{
	uint64_t a = (uintptr_t)r->arena, end = start + len;

	if (end < start)
		end = UINT64_MAX;
	if (start < a)
		start = a;
	if (end > a + ARENA_SIZE)
		end = a + ARENA_SIZE;
	start &= ~(SGX_PAGE_SIZE - 1);
	if (start >= end)
		return;
	FZ_CHECK(mmap((void *)(uintptr_t)start, end - start, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED,
		 "arena reservation lost");
}

static void op_open(struct run *r)
{
	static const char *const paths[] = {"/dev/sgx_enclave",
					    "/dev/sgx_enclave",
					    "/dev/sgx_enclave",
					    "/dev/sgx_provision",
					    "/dev/sgx_vepc",
					    "/dev/sgx/enclave",
					    "",
					    NULL};
	int s = slot(r);
	const char *path = paths[fz_u8(&r->in) % 8];
	int fd = softsgx_open(r->p, path, O_RDWR);

	r->last = fd;
	fz_check_errno(fd, "open", ENOENT, EFAULT, EMFILE);
	if (fd < 0)
		return;
	if (r->fd[s] >= 0)
		softsgx_close(r->p, r->fd[s]);
	r->fd[s] = fd;
	r->encl_of[s] = -1;
	r->is_encl[s] = path && !strcmp(path, "/dev/sgx_enclave");
	if (r->is_encl[s] && r->nr_encl < MAX_ENCLAVES) {
		r->encl_of[s] = (int)r->nr_encl;
		memset(&r->encl[r->nr_encl++], 0, sizeof(r->encl[0]));
	}
}

static void op_close(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	int s = b % NR_SLOTS;
	int fd = b >= 0xF0 ? (int)fz_u32(&r->in) : r->fd[s];
	int ret = softsgx_close(r->p, fd);

	r->last = ret;
	fz_check_errno(ret, "close", EBADF);
	/* Forget the number everywhere: open may hand it out again. */
	for (int i = 0; i < NR_SLOTS; i++) {
		if (r->fd[i] == fd) {
			r->fd[i] = -1;
			r->encl_of[i] = -1;
			r->is_encl[i] = false;
		}
	}
}

static void op_dup(struct run *r)
{
	int from = slot(r), to = slot(r);
	int fd = softsgx_dup(r->p, r->fd[from]);

	r->last = fd;
	fz_check_errno(fd, "dup", EBADF, EMFILE);
	if (fd < 0)
		return;
	if (to == from)
		to = (to + 1) % NR_SLOTS;
	if (r->fd[to] >= 0)
		softsgx_close(r->p, r->fd[to]);
	r->fd[to] = fd;
	r->encl_of[to] = r->encl_of[from];
	r->is_encl[to] = r->is_encl[from];
}

static struct encl_track *track(struct run *r, int s)
{
	return r->encl_of[s] >= 0 ? &r->encl[r->encl_of[s]] : NULL;
}

static void op_create(struct run *r)
{
	static struct sgx_secs secs __attribute__((aligned(4096)));
	struct sgx_enclave_create create;
	struct encl_track *t;
	uint8_t mode = fz_u8(&r->in);
	int s = slot(r);
	long ret;

	memset(&secs, 0, sizeof(secs));
	if (mode & 1) {
		/* Raw: the input's bytes, the rest zero. */
		fz_bytes(&r->in, &secs, 64 + fz_u8(&r->in));
	} else {
		secs.size = (2ULL << (fz_u8(&r->in) % 6)) * SGX_PAGE_SIZE;
		secs.base = (uintptr_t)r->arena;
		secs.ssa_frame_size = 1;
		secs.attributes = ATTRS;
		secs.xfrm = 3;
		/* A few patched bytes anywhere in the page. */
		for (unsigned int i = (mode >> 1) & 3; i; i--) {
			uint16_t off = fz_u16(&r->in) % sizeof(secs);

			((uint8_t *)&secs)[off] = fz_u8(&r->in);
		}
	}
	create.src = ptr_operand(r, &secs);
	ret = softsgx_ioctl(r->p, r->fd[s], SGX_IOC_ENCLAVE_CREATE,
			    (void *)(uintptr_t)ptr_operand(r, &create));
	r->last = ret;
	fz_check_errno(ret, "ENCLAVE_CREATE", EBADF, EBUSY, ENOTTY, EINVAL, EFAULT, ENOMEM, EIO);
	t = track(r, s);
	FZ_CHECK(ret || r->is_encl[s], "CREATE succeeded on a file that is no enclave");
	if (ret == 0 && t) {
		t->created = true;
		/* From a wild pointer that happened to be readable: unknown SECS. */
		t->measure_known = create.src == (uintptr_t)&secs;
		t->attributes = secs.attributes;
		t->xfrm = secs.xfrm;
		t->miscselect = secs.miscselect;
		t->base = create.src == (uintptr_t)&secs ? secs.base : UINT64_MAX;
		sgx_measure_ecreate(&t->m, secs.ssa_frame_size, secs.size);
	}
}

static void fill_src(struct run *r)
{
	struct sgx_tcs *tcs = (struct sgx_tcs *)r->src;

	memset(tcs, 0, SGX_PAGE_SIZE);
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	for (unsigned int i = 1; i < SRC_PAGES; i++)
		memset(r->src + i * SGX_PAGE_SIZE, 0x11 * i, SGX_PAGE_SIZE);
}

static void op_add(struct run *r)
{
	static const uint64_t secinfo_flags[] = {
		SGX_SECINFO_TCS,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X,
		SGX_SECINFO_REG | SGX_SECINFO_R,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X,
		SGX_SECINFO_REG | SGX_SECINFO_W,
		SGX_SECINFO_TCS | SGX_SECINFO_R,
	};
	struct sgx_secinfo secinfo __attribute__((aligned(64)));
	struct sgx_enclave_add_pages add, *arg;
	uint8_t b = fz_u8(&r->in);
	int s = slot(r);
	struct encl_track *t;
	uint64_t src_page;
	uint64_t arg_ptr;
	long ret;

	memset(&secinfo, 0, sizeof(secinfo));
	if (b & 0x80)
		fz_bytes(&r->in, &secinfo, sizeof(secinfo));
	else
		secinfo.flags = secinfo_flags[(b >> 3) % 7];
	src_page = fz_u8(&r->in) % (SRC_PAGES + 1);
	add.src = ptr_operand(r, r->src + src_page * SGX_PAGE_SIZE);
	if (b & 0x40) {
		add.offset = fz_u64(&r->in);
		add.length = fz_u64(&r->in);
	} else {
		add.offset = (uint64_t)(fz_u8(&r->in) % ARENA_PAGES) * SGX_PAGE_SIZE;
		add.length = (uint64_t)(fz_u8(&r->in) % 4) * SGX_PAGE_SIZE;
	}
	add.secinfo = ptr_operand(r, &secinfo);
	add.flags = (b & 4) ? fz_u64(&r->in) : (b & 1) ? SGX_PAGE_MEASURE : 0;
	add.count = UINT64_MAX;
	arg = &add;
	arg_ptr = (uintptr_t)&add;
	if ((b & 6) == 2) {
		/* Readable but not writable: count cannot be written back. */
		memcpy(r->ro_page, &add, sizeof(add));
		mprotect(r->ro_page, SGX_PAGE_SIZE, PROT_READ);
		arg_ptr = (uintptr_t)r->ro_page;
		arg = NULL;
	} else if ((b & 6) == 6 && (fz_u8(&r->in) & 1)) {
		arg_ptr = (fz_u8(&r->in) & 1) ? 0 : WILD_ADDR;
		arg = NULL;
	}
	ret = softsgx_ioctl(r->p, r->fd[s], SGX_IOC_ENCLAVE_ADD_PAGES, (void *)(uintptr_t)arg_ptr);
	mprotect(r->ro_page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE);
	r->last = ret;
	fz_check_errno(ret, "ENCLAVE_ADD_PAGES", EBADF, EBUSY, ENOTTY, EINVAL, EFAULT, EINTR, EIO,
		       ENOMEM);
	t = track(r, s);
	if (!t || !t->created)
		return;
	if (!arg) {
		/* Unknown count: the pages added are unknown. */
		t->measure_known = false;
		return;
	}
	if (add.count == UINT64_MAX)
		return; /* the page loop did not run */
	FZ_CHECK(add.count <= add.length && !(add.count & (SGX_PAGE_SIZE - 1)),
		 "ADD_PAGES count %llu for length %llu", (unsigned long long)add.count,
		 (unsigned long long)add.length);
	FZ_CHECK(ret < 0 || add.count == add.length, "ADD_PAGES succeeded with count %llu < %llu",
		 (unsigned long long)add.count, (unsigned long long)add.length);
	if (!add.count)
		return;
	/* Only the harness's own source pages and SECINFO can be measured again here. */
	if (add.secinfo != (uintptr_t)&secinfo || add.src < (uintptr_t)r->src ||
	    add.src + add.count > (uintptr_t)r->src + SRC_PAGES * SGX_PAGE_SIZE) {
		t->measure_known = false;
		return;
	}
	for (uint64_t o = 0; o < add.count; o += SGX_PAGE_SIZE) {
		uint64_t n = (add.offset + o) / SGX_PAGE_SIZE;

		if (n < ARENA_PAGES && SGX_SECINFO_PAGE_TYPE(secinfo.flags) == SGX_PAGE_TYPE_REG)
			t->content[n] =
				(uint8_t)(1 + (add.src + o - (uintptr_t)r->src) / SGX_PAGE_SIZE);
		sgx_measure_eadd(&t->m, add.offset + o, &secinfo);
		if (add.flags & SGX_PAGE_MEASURE)
			for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += SGX_EEXTEND_CHUNK)
				sgx_measure_eextend(&t->m, add.offset + o + c,
						    (uint8_t *)(uintptr_t)add.src + o + c);
	}
}

static void op_init(struct run *r)
{
	static struct sgx_sigstruct sig __attribute__((aligned(4096)));
	struct sgx_sign_enclave desc;
	struct sgx_enclave_init init;
	uint8_t mode = fz_u8(&r->in);
	int s = slot(r);
	struct encl_track *t = track(r, s);
	long ret;

	memset(&sig, 0, sizeof(sig));
	if (mode & 1) {
		fz_bytes(&r->in, &sig, 16 + fz_u16(&r->in) % sizeof(sig));
	} else {
		memset(&desc, 0, sizeof(desc));
		if (t && t->created && t->measure_known)
			sgx_measure_final(&t->m, desc.mrenclave);
		desc.attributes = t ? t->attributes : ATTRS;
		desc.attributes_mask = ~(uint64_t)SGX_ATTR_INIT;
		desc.xfrm = t ? t->xfrm : 3;
		desc.xfrm_mask = 3;
		desc.miscselect = t ? t->miscselect : 0;
		desc.date = 0x20261130;
		if (mode & 2) {
			/* Fuzzed body fields the signature still covers. */
			desc.attributes ^= fz_u64(&r->in);
			desc.attributes_mask = fz_u64(&r->in);
			desc.xfrm_mask = fz_u64(&r->in);
			desc.misc_mask = fz_u32(&r->in);
			desc.vendor = (mode & 4) ? 0x8086 : fz_u32(&r->in);
			desc.isvprodid = fz_u16(&r->in);
		}
		/* The signer refuses some fuzzed fields (a vendor it does not know...). */
		if (sgx_sign_sigstruct(&desc, signer, &sig))
			memset(&sig, 0, sizeof(sig));
		/* A few patched bytes after signing. */
		for (unsigned int i = (mode >> 3) & 3; i; i--) {
			uint16_t off = fz_u16(&r->in) % sizeof(sig);

			((uint8_t *)&sig)[off] ^= fz_u8(&r->in) | 1;
		}
	}
	init.sigstruct = ptr_operand(r, &sig);
	ret = softsgx_ioctl(r->p, r->fd[s], SGX_IOC_ENCLAVE_INIT,
			    (void *)(uintptr_t)ptr_operand(r, &init));
	r->last = ret;
	fz_check_errno(ret, "ENCLAVE_INIT", EBADF, EBUSY, ENOTTY, EINVAL, EFAULT, EACCES, EPERM,
		       EINTR);
}

static void op_provision(struct run *r)
{
	struct sgx_enclave_provision prov;
	int s = slot(r);
	long ret;

	prov.fd = (fz_u8(&r->in) & 1) ? fz_u64(&r->in) : (uint64_t)(int64_t)fd_operand(r);
	ret = softsgx_ioctl(r->p, r->fd[s], SGX_IOC_ENCLAVE_PROVISION,
			    (void *)(uintptr_t)ptr_operand(r, &prov));
	r->last = ret;
	fz_check_errno(ret, "ENCLAVE_PROVISION", EBADF, EBUSY, ENOTTY, EFAULT, EINVAL);
}

/* Any command with a big writable argument: unknown and SGX2 commands. */
static void op_raw_ioctl(struct run *r)
{
	static uint8_t argbuf[1 << 14] __attribute__((aligned(4096)));
	static const unsigned long cmds[] = {
		SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
		SGX_IOC_ENCLAVE_MODIFY_TYPES,
		SGX_IOC_ENCLAVE_REMOVE_PAGES,
		SGX_IOC_VEPC_REMOVE_ALL,
		0,
	};
	uint8_t b = fz_u8(&r->in);
	int s = slot(r);
	unsigned long cmd = (b & 7) < 5 ? cmds[b & 7] : fz_u64(&r->in);

	struct encl_track *t = track(r, s);
	long ret;

	/* Known commands too: their argument is the input's, untracked. */
	fz_bytes(&r->in, argbuf, 48);
	ret = softsgx_ioctl(r->p, r->fd[s], cmd, argbuf);
	r->last = ret;
	fz_check_errno(ret, "ioctl (any command)", EBADF, EBUSY, ENOTTY, ENODEV, EINVAL, EFAULT,
		       ENOMEM, EIO, EINTR, EACCES, EPERM);
	if (t)
		t->measure_known = false;
}

/*
 * The SGX2 ioctls with arguments the harness builds (op_raw_ioctl sends
 * them raw bytes): RESTRICT_PERMISSIONS, MODIFY_TYPES, REMOVE_PAGES over a
 * few arena pages, with permissions and types from the legal set or any
 * value, result/count preset (nonzero is EINVAL), and the argument NULL,
 * wild or read-only. Pages grow by EAUG through op_fault on an initialized
 * enclave; the harness runs no enclave code, so pages stay PENDING or
 * MODIFIED and EPERM/EFAULT with a result are the usual answers.
 * Checked: the errno is one docs/errno.md lists, count is a page multiple no
 * larger than length and equals it on success, result is an SGX code only
 * where EMODPR/EMODT ran.
 */
static void op_sgx2(struct run *r)
{
	static const unsigned long cmds[] = {
		SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
		SGX_IOC_ENCLAVE_MODIFY_TYPES,
		SGX_IOC_ENCLAVE_REMOVE_PAGES,
		SGX_IOC_ENCLAVE_MODIFY_TYPES,
	};
	static const uint64_t perms[] = {SGX_SECINFO_R, SGX_SECINFO_R | SGX_SECINFO_W, 0,
					 SGX_SECINFO_R | SGX_SECINFO_X};
	static const uint64_t types[] = {SGX_PAGE_TYPE_TRIM, SGX_PAGE_TYPE_TCS,
					 SGX_PAGE_TYPE_TRIM, SGX_PAGE_TYPE_REG};
	static union {
		struct sgx_enclave_restrict_permissions rp;
		struct sgx_enclave_modify_types mt;
		struct sgx_enclave_remove_pages rm;
		uint8_t bytes[64];
	} arg __attribute__((aligned(64)));
	uint8_t b = fz_u8(&r->in);
	int s = slot(r);
	unsigned long cmd = cmds[b & 3];
	uint64_t offset, length, *count, *result = NULL;
	uint64_t arg_ptr = (uintptr_t)&arg;
	struct encl_track *t;
	bool readback = true;
	long ret;

	memset(&arg, 0, sizeof(arg));
	if (b & 4) {
		offset = fz_u64(&r->in);
		length = fz_u64(&r->in);
	} else {
		offset = (uint64_t)(fz_u8(&r->in) % ARENA_PAGES) * SGX_PAGE_SIZE;
		length = (uint64_t)(fz_u8(&r->in) % 5) * SGX_PAGE_SIZE;
	}
	if (cmd == SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS) {
		arg.rp.offset = offset;
		arg.rp.length = length;
		arg.rp.permissions = (b & 8) ? fz_u64(&r->in) : perms[(b >> 4) & 3];
		count = &arg.rp.count;
		result = &arg.rp.result;
	} else if (cmd == SGX_IOC_ENCLAVE_MODIFY_TYPES) {
		arg.mt.offset = offset;
		arg.mt.length = length;
		arg.mt.page_type = (b & 8) ? fz_u64(&r->in) : types[(b >> 4) & 3];
		count = &arg.mt.count;
		result = &arg.mt.result;
	} else {
		arg.rm.offset = offset;
		arg.rm.length = length;
		count = &arg.rm.count;
	}
	if (b & 0x40) {
		/* Nonzero result/count on input: EINVAL (or ignored result for REMOVE). */
		*count = fz_u8(&r->in);
		if (result)
			*result = fz_u8(&r->in);
	}
	if (b & 0x80) {
		switch (fz_u8(&r->in) % 3) {
		case 0:
			arg_ptr = 0;
			break;
		case 1:
			arg_ptr = WILD_ADDR;
			break;
		default:
			/* Readable, not writable: the write-back faults. */
			memcpy(r->ro_page, &arg, sizeof(arg));
			mprotect(r->ro_page, SGX_PAGE_SIZE, PROT_READ);
			arg_ptr = (uintptr_t)r->ro_page;
			break;
		}
		readback = false;
	}
	ret = softsgx_ioctl(r->p, r->fd[s], cmd, (void *)(uintptr_t)arg_ptr);
	mprotect(r->ro_page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE);
	r->last = ret;
	fz_check_errno(ret, "SGX2 ioctl", EBADF, ENOTTY, ENODEV, EINVAL, EFAULT, EAGAIN, EPERM,
		       EBUSY);
	t = track(r, s);
	FZ_CHECK(ret || r->is_encl[s], "an SGX2 ioctl succeeded on a file that is no enclave");
	if (!readback)
		goto forget;
	FZ_CHECK(!(*count & (SGX_PAGE_SIZE - 1)) || (b & 0x40),
		 "SGX2 ioctl count %#llx not a page multiple", (unsigned long long)*count);
	if (ret == 0) {
		FZ_CHECK(*count == length, "SGX2 ioctl succeeded with count %#llx of %#llx",
			 (unsigned long long)*count, (unsigned long long)length);
		FZ_CHECK(!result || *result == 0, "SGX2 ioctl succeeded with result %#llx",
			 (unsigned long long)*result);
	} else if (!(b & 0x40)) {
		FZ_CHECK(*count <= length, "SGX2 ioctl count %#llx beyond length %#llx",
			 (unsigned long long)*count, (unsigned long long)length);
		/* result is an SGX code (EMODPR/EMODT), only with EFAULT. */
		FZ_CHECK(!result || *result == 0 ||
				 (ret == -EFAULT && (*result == SGX_PAGE_NOT_MODIFIABLE ||
						     *result == SGX_EPC_PAGE_CONFLICT)),
			 "SGX2 ioctl %ld with result %#llx", ret, (unsigned long long)*result);
	}
forget:
	/* Types, permissions and pages may have changed: content checks stop there. */
	if (t && !(offset & (SGX_PAGE_SIZE - 1)) && length <= ARENA_SIZE)
		for (uint64_t o = 0; o < length && offset / SGX_PAGE_SIZE + o / SGX_PAGE_SIZE < ARENA_PAGES;
		     o += SGX_PAGE_SIZE)
			t->content[offset / SGX_PAGE_SIZE + o / SGX_PAGE_SIZE] = 0;
	else if (t)
		memset(t->content, 0, sizeof(t->content));
}

/* Record who is mapped over [addr, addr + len) of the arena. */
static void set_owner(struct run *r, uint64_t addr, uint64_t len, uint8_t owner)
{
	uint64_t a = (uintptr_t)r->arena;

	for (uint64_t p = addr & ~(SGX_PAGE_SIZE - 1); p < addr + len; p += SGX_PAGE_SIZE)
		if (p >= a && p < a + ARENA_SIZE)
			r->owner[(p - a) / SGX_PAGE_SIZE] = owner;
}

static uint8_t owner_of_fd(struct run *r, int fd)
{
	for (int i = 0; i < NR_SLOTS; i++)
		if (fd >= 0 && r->fd[i] == fd && r->encl_of[i] >= 0)
			return (uint8_t)(r->encl_of[i] + 1);
	return 0;
}

static void op_mmap(struct run *r)
{
	static const int flag_choices[] = {
		MAP_SHARED | MAP_FIXED,
		MAP_SHARED | MAP_FIXED,
		MAP_SHARED,
		MAP_SHARED_VALIDATE | MAP_FIXED,
		MAP_SHARED | MAP_FIXED_NOREPLACE,
		MAP_PRIVATE,
		MAP_PRIVATE | MAP_FIXED,
		MAP_SHARED | MAP_FIXED | MAP_POPULATE,
	};
	uint8_t b = fz_u8(&r->in);
	int fd = fd_operand(r);
	int flags = flag_choices[b & 7];
	uint64_t addr = arena_addr(r, fz_u8(&r->in));
	uint64_t len = (uint64_t)(fz_u8(&r->in) % (ARENA_PAGES + 1)) * SGX_PAGE_SIZE;
	int prot = fz_u8(&r->in) & (PROT_READ | PROT_WRITE | PROT_EXEC);
	uint64_t offset = 0;
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	void *a;
	int ret;

	if (b & 0x08)
		addr += fz_u8(&r->in); /* unaligned */
	if (b & 0x10)
		len = fz_u64(&r->in);
	if (b & 0x20)
		offset = fz_u64(&r->in);
	if (b & 0x40)
		prot = (int)fz_u32(&r->in);
	if (!fixed && (b & 0x80))
		addr = fz_u64(&r->in); /* a hint only */
	/* A fixed mapping must not leave the arena: that memory is the fuzzer's. */
	if (fixed && (addr + len < addr || addr + len > (uintptr_t)r->arena + ARENA_SIZE))
		len = (uintptr_t)r->arena + ARENA_SIZE - addr;
	a = (void *)(uintptr_t)addr;
	ret = softsgx_mmap(r->p, &a, len, prot, flags, fd, offset);
	r->last = ret;
	fz_check_errno(ret, "mmap", EBADF, ENODEV, EINVAL, ENOMEM, EEXIST, EACCES);
	if (ret == -ENOMEM && fixed) {
		arena_restore(r, addr, len); /* a failed MAP_FIXED unmapped the range */
		set_owner(r, addr, len, 0);
	}
	if (!ret && fixed)
		set_owner(r, addr, len, owner_of_fd(r, fd));
	if (ret || fixed)
		return;
	/* A place the kernel chose: remember it so munmap can target it. */
	for (unsigned int i = 0; i < MAX_MAPS; i++) {
		if (!r->maps[i].len) {
			r->maps[i].start = (uintptr_t)a;
			r->maps[i].len = (len + SGX_PAGE_SIZE - 1) & ~(SGX_PAGE_SIZE - 1);
			return;
		}
	}
	/* No room to remember it: unmap it now. */
	FZ_CHECK(softsgx_munmap(r->p, a, len) == 0, "munmap of a fresh mapping failed");
}

static void op_munmap(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	uint64_t addr, len;
	int ret;

	if (b & 1) {
		/* A whole kernel-chosen mapping, then forget it. */
		struct mapping *m = &r->maps[(b >> 1) % MAX_MAPS];

		if (!m->len)
			return;
		ret = softsgx_munmap(r->p, (void *)(uintptr_t)m->start, m->len);
		FZ_CHECK(ret == 0, "munmap of a whole mapping: %d", ret);
		m->len = 0;
		return;
	}
	addr = arena_addr(r, fz_u8(&r->in));
	len = (uint64_t)(fz_u8(&r->in) % (ARENA_PAGES + 1)) * SGX_PAGE_SIZE;
	if (b & 2)
		addr += fz_u8(&r->in) % 64;
	if (b & 4)
		len += fz_u8(&r->in);
	if (addr + len > (uintptr_t)r->arena + ARENA_SIZE)
		len = (uintptr_t)r->arena + ARENA_SIZE - addr;
	ret = softsgx_munmap(r->p, (void *)(uintptr_t)addr, len);
	r->last = ret;
	fz_check_errno(ret, "munmap", EINVAL);
	if (!ret)
		arena_restore(r, addr, len);
}

static void op_mprotect(struct run *r)
{
	uint8_t b = fz_u8(&r->in);
	uint64_t addr = arena_addr(r, fz_u8(&r->in));
	uint64_t len = (uint64_t)(fz_u8(&r->in) % (ARENA_PAGES + 1)) * SGX_PAGE_SIZE;
	int prot = fz_u8(&r->in) & (PROT_READ | PROT_WRITE | PROT_EXEC);
	int ret;

	if (b & 1)
		addr = fz_u64(&r->in);
	if (b & 2)
		len = fz_u64(&r->in);
	if (b & 4)
		prot = (int)fz_u32(&r->in);
	if (b & 8) {
		struct mapping *m = &r->maps[fz_u8(&r->in) % MAX_MAPS];

		if (m->len) {
			addr = m->start;
			len = m->len;
		}
	}
	ret = softsgx_mprotect(r->p, (void *)(uintptr_t)addr, len, prot);
	r->last = ret;
	fz_check_errno(ret, "mprotect", EINVAL, ENOMEM, EACCES);
}

/*
 * After a handled fault on an arena page of a known enclave: the page reads
 * back as the source page ADD_PAGES copied, however often it was evicted and
 * reloaded. Read with process_vm_readv: a fault answered "retry" without a
 * mapping (EPC busy) must not crash the harness.
 */
static void check_content(struct run *r, uint64_t addr)
{
	uint64_t a = (uintptr_t)r->arena, page = addr & ~(SGX_PAGE_SIZE - 1);
	struct encl_track *t;
	uint8_t buf[64];
	unsigned int n;
	struct iovec l = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct iovec rem = {.iov_base = (void *)(uintptr_t)page, .iov_len = sizeof(buf)};

	if (page < a || page >= a + ARENA_SIZE || !r->owner[(page - a) / SGX_PAGE_SIZE])
		return;
	t = &r->encl[r->owner[(page - a) / SGX_PAGE_SIZE] - 1];
	if (!t->created || page < t->base || page - t->base >= ARENA_SIZE)
		return;
	n = t->content[(page - t->base) / SGX_PAGE_SIZE];
	if (!n || process_vm_readv(getpid(), &l, 1, &rem, 1, 0) != sizeof(buf))
		return;
	FZ_CHECK(!memcmp(buf, r->src + (n - 1) * SGX_PAGE_SIZE, sizeof(buf)),
		 "enclave page at offset %#llx does not hold what ADD_PAGES put there",
		 (unsigned long long)(page - t->base));
	FZ_TRACE("content of enclave page %#llx checked\n", (unsigned long long)(page - t->base));
}

static void op_fault(struct run *r)
{
	static const int access[] = {PROT_READ, PROT_WRITE, PROT_EXEC, PROT_READ};
	uint8_t b = fz_u8(&r->in);
	uint64_t addr = arena_addr(r, fz_u8(&r->in)) + fz_u16(&r->in) % SGX_PAGE_SIZE;
	enum softsgx_fault res;

	if (b & 4) {
		struct mapping *m = &r->maps[fz_u8(&r->in) % MAX_MAPS];

		if (m->len)
			addr = m->start + fz_u32(&r->in) % m->len;
	}
	if ((b & 0x18) == 0x18)
		addr = fz_u64(&r->in);
	res = softsgx_handle_fault(r->p, (void *)(uintptr_t)addr, access[b & 3]);
	r->last = res;
	FZ_CHECK(res >= SOFTSGX_FAULT_NOT_OURS && res <= SOFTSGX_FAULT_SIGSEGV, "fault result %d",
		 (int)res);
	if (res == SOFTSGX_FAULT_RETRY)
		check_content(r, addr);
}

static void op_reclaim(struct run *r)
{
	unsigned int n = fz_u8(&r->in) % 4 + 1;

	r->last = 0;
	while (n--)
		r->last += softsgx_reclaim(r->p);
}

/*
 * EPC cgroups (kernel/epc_cgroup.h): move the model's process between a
 * few cgroups, set and lower their limits (reclaiming at once), remove
 * them, read their files. Every later allocation charges wherever the
 * process is; limits may make them fail with ENOMEM.
 */
static void op_cgroup(struct run *r)
{
	static const char *const paths[] = { "/", "/a", "/a/b", "/c" };
	struct sgx_kernel *k = softsgx_kernel(r->p);
	uint8_t b = fz_u8(&r->in);
	const char *path = paths[(b >> 2) % 4];
	struct sgx_epc_cgroup *cg;
	char buf[64];
	int err = 0;

	switch (b & 3) {
	case 0:
		cg = sgx_epc_cgroup_create(k, path, &err);
		FZ_CHECK(cg, "cgroup %s not created: %d", path, err);
		sgx_mm_set_cgroup(&k->mm, cg);
		r->last = 0;
		break;
	case 1: {
		uint8_t v = fz_u8(&r->in);

		cg = sgx_epc_cgroup_create(k, path, &err);
		FZ_CHECK(cg, "cgroup %s not created: %d", path, err);
		r->last = sgx_epc_cgroup_set_max(cg, v == 0xff ? SGX_EPC_CG_MAX
							      : (uint64_t)(v % 24) * SGX_PAGE_SIZE);
		fz_check_errno(r->last, "misc.max", EBUSY, EINVAL);
		break;
	}
	case 2:
		r->last = sgx_epc_cgroup_remove(k, path);
		fz_check_errno(r->last, "rmdir", EBUSY, ENOENT, EINVAL);
		break;
	default:
		cg = sgx_epc_cgroup_find(k, path);
		r->last = cg ? sgx_epc_cgroup_read(cg, "misc.current", buf, sizeof(buf)) : 0;
		FZ_CHECK(r->last >= 0, "misc.current of %s: %ld", path, r->last);
		break;
	}
}

enum op {
	OP_OPEN,
	OP_CLOSE,
	OP_DUP,
	OP_CREATE,
	OP_ADD,
	OP_ADD2,
	OP_INIT,
	OP_PROVISION,
	OP_RAW_IOCTL,
	OP_MMAP,
	OP_MUNMAP,
	OP_MPROTECT,
	OP_FAULT,
	OP_FAULT2,
	OP_RECLAIM,
	OP_SIGNAL,
	OP_SGX2,
	OP_SGX2_B,
	OP_CGROUP,
	NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"open",	 "close", "dup",    "CREATE",	"ADD_PAGES", "ADD_PAGES", "INIT",    "PROVISION",
	"ioctl", "mmap",  "munmap", "mprotect", "fault",     "fault",	  "reclaim", "signal",
	"SGX2",	 "SGX2",  "cgroup",
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
	case OP_DUP:
		op_dup(r);
		break;
	case OP_CREATE:
		op_create(r);
		break;
	case OP_ADD:
	case OP_ADD2:
		op_add(r);
		break;
	case OP_INIT:
		op_init(r);
		break;
	case OP_PROVISION:
		op_provision(r);
		break;
	case OP_RAW_IOCTL:
		op_raw_ioctl(r);
		break;
	case OP_MMAP:
		op_mmap(r);
		break;
	case OP_MUNMAP:
		op_munmap(r);
		break;
	case OP_MPROTECT:
		op_mprotect(r);
		break;
	case OP_FAULT:
	case OP_FAULT2:
		op_fault(r);
		break;
	case OP_RECLAIM:
		op_reclaim(r);
		break;
	case OP_SIGNAL:
		r->signal = !r->signal;
		r->last = r->signal;
		break;
	case OP_SGX2:
	case OP_SGX2_B:
		op_sgx2(r);
		break;
	case OP_CGROUP:
		op_cgroup(r);
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

	if (!signer)
		signer = fz_signer();
	fz_trace_init();
	memset(r, 0, sizeof(*r));
	fz_init(&r->in, data, size);
	c = fz_u8(&r->in);
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1 + (c >> 7);
	cfg.section_size[0] = (uint64_t)(6 + (c & 31)) * SGX_PAGE_SIZE;
	cfg.section_size[1] = 4 * SGX_PAGE_SIZE;
	cfg.sgx2 = c & 0x20;
	cfg.flc = (c & 0x60) != 0x60;
	cfg.no_ksgxd = true;
	r->p = softsgx_platform_new(&cfg);
	FZ_CHECK(r->p, "platform did not boot");
	softsgx_kernel(r->p)->signal_pending = pending;
	current = r;
	for (int i = 0; i < NR_SLOTS; i++) {
		r->fd[i] = -1;
		r->encl_of[i] = -1;
	}
	r->arena = fz_arena_new(ARENA_SIZE);
	r->src = mmap(NULL, (SRC_PAGES + 1) * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->ro_page = mmap(NULL, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	FZ_CHECK(r->src != MAP_FAILED && r->ro_page != MAP_FAILED, "no source pages");
	fill_src(r);
	mprotect(r->src + SRC_PAGES * SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_NONE);

	fz_check_invariant(r->p, "boot");
	for (int n = 0; n < MAX_OPS && !fz_done(&r->in); n++) {
		enum op op = fz_u8(&r->in) % NR_OPS;

		run_op(r, op);
		FZ_TRACE("%-10s -> %ld\n", op_names[op], r->last);
		fz_check_invariant(r->p, op_names[op]);
		FZ_CHECK(sgx_epc_cgroup_check(softsgx_kernel(r->p)),
			 "EPC cgroup sums after %s", op_names[op]);
	}
	/* Whatever the input left open and mapped goes with the platform. */
	r->signal = false;
	softsgx_platform_free(r->p);
	current = NULL;
	munmap(r->arena, ARENA_SIZE);
	munmap(r->src, (SRC_PAGES + 1) * SGX_PAGE_SIZE);
	munmap(r->ro_page, SGX_PAGE_SIZE);
	return 0;
}
