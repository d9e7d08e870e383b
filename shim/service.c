// SPDX-License-Identifier: MIT
/*
 * Service mode (`softsgx run --service`, SOFTSGX_SERVICE=1; issue 16): the
 * process boots no platform of its own. Its SGX descriptors stand for
 * handles of the per-user platform service, and what the wrappers of
 * syscalls.c and the SIGSEGV handler would give the kernel model goes to
 * the service through service/remote.c.
 *
 * The descriptor table here mirrors fdtable.c's (a memfd placeholder per
 * descriptor, its identity checked before use), with an open file that
 * holds a service handle: descriptors made by dup() share it, and the last
 * close closes the handle, as Linux's last fput() releases the file.
 * Descriptors closed behind the wrappers' back are dropped when their
 * number is next used; the service releases whatever is left when the
 * process exits (its connection closes).
 *
 * fork(): as on Linux, the child shares its parent's enclaves and vEPCs.
 * Its handler connects on its own and sends FORK with the parent's notify
 * token (svc_remote_fork_child()): the service gives it copies of the
 * parent's SGX VMAs and handles, so the inherited descriptors keep their
 * handles (the table below is the parent's, copied by fork()) and the
 * inherited ranges fault their pages back in through the child's own mm.
 * The parent waits in its own handler until the child's FORK is done (or
 * the child is gone, or SVC_DEFAULT_TIMEOUT_MS passed), with the model
 * lock held (shim/fork.c), so no thread of it changes its SGX mappings or
 * descriptors in between: the copy is the one at fork(), as Linux's is.
 * Every shim_svc_* entry takes the model lock shared, so no call of the
 * client library is half done at the fork. A parent with no SGX
 * descriptor and no SGX range has nothing to share: its child connects
 * at its first open() (a fork to exec costs no connection then). When
 * FORK fails (the parent is gone: -ESRCH), the child says so once on
 * stderr and its inherited descriptors give EIO and its inherited ranges
 * SIGBUS, as with no fork path at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim/devfs.h"
#include "hw/hw.h"
#include "service/client.h"
#include "service/proto.h"
#include "service/remote.h"
#include "shim/shim.h"
#include "shim/thread.h"
#include "softsgx/sgx_uapi.h"

struct svc_ofile {
	_Atomic unsigned int refs;
	int handle;
	enum sgx_file_type type; /* what fstat() and /proc/self/fd show it as */
	unsigned int gen; /* the connection it belongs to (see conn_gen) */
};

struct svc_fd {
	struct svc_ofile *_Atomic f;
	dev_t dev;
	ino_t ino;
};

static struct svc_fd table[SHIM_MAX_FD];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int mode = -1; /* -1: not read yet */
/* 1 connected; 0 not yet (a forked child); -errno: the connection failed. */
static _Atomic int conn_state;
/* Bumped in a forked child: handles of an older connection are the parent's. */
static _Atomic unsigned int conn_gen;

bool shim_service_mode(void)
{
	int m = atomic_load(&mode);

	if (m < 0) {
		const char *v = getenv("SOFTSGX_SERVICE");

		m = v && !strcmp(v, "1");
		atomic_store(&mode, m);
	}
	return m;
}

/* The platform configuration asked for: the run's --epc, --sections, --sgx1. */
static int config(struct softsgx_config *cfg)
{
	struct sgx_hw_config hw;
	int ret = shim_config_from_env(&hw);

	if (ret)
		return ret;
	softsgx_default_config(cfg);
	cfg->nr_sections = hw.nr_sections;
	for (unsigned int i = 0; i < SOFTSGX_MAX_SECTIONS; i++)
		cfg->section_size[i] = i < hw.nr_sections ? hw.section_size[i] : 0;
	cfg->sgx2 = hw.sgx2;
	return 0;
}

static int connect_now(bool quiet)
{
	struct softsgx_config cfg;
	const char *bin = getenv("SOFTSGX_BIN_PATH");
	int ret = config(&cfg);

	if (ret) {
		fprintf(stderr, "softsgx: bad platform configuration in the environment\n");
		return ret;
	}
	ret = svc_remote_connect(NULL, bin && *bin ? bin : NULL, &cfg);
	if (ret == -EALREADY)
		ret = 0;
	if (ret && !quiet) {
		if (ret == -EBUSY)
			fprintf(stderr, "softsgx: the platform service runs with another "
					"configuration (softsgx platform status)\n");
		else
			fprintf(stderr, "softsgx: cannot reach the platform service: %s\n",
				strerror(-ret));
	}
	return ret;
}

/* ---- fork ---- */

/* Set in the parent's prepare handler, read by both sides after fork(). */
static bool fork_share;
/*
 * The child's "FORK done" channel: the parent waits for a byte or the end
 * of file. A socket pair, not a pipe: the child of a parent killed
 * meanwhile sends with MSG_NOSIGNAL, where a pipe would SIGPIPE it.
 */
static int fork_chan[2] = {-1, -1};
/* A child whose FORK failed: a fault on what is not in its mm is SIGBUS, as before. */
static _Atomic bool fork_orphan;

/* Whether this process holds anything of the service a child could share. */
static bool has_sgx_state(void)
{
	if (svc_remote_maps(NULL, SIZE_MAX))
		return true;
	for (unsigned int fd = 0; fd < SHIM_MAX_FD; fd++)
		if (atomic_load(&table[fd].f))
			return true;
	return false;
}

static void close_raw(int *fd)
{
	if (*fd >= 0)
		devfs_sys(SYS_close, *fd, 0, 0, 0, 0, 0);
	*fd = -1;
}

/* After shim/fork.c's prepare: no shim_svc_* call is in flight (the model lock). */
static void fork_prepare(void)
{
	fork_share = atomic_load(&conn_state) == 1 && has_sgx_state();
	fork_chan[0] = fork_chan[1] = -1;
	/* Without the channel the parent just does not wait (the copy is then FORK's). */
	if (fork_share && devfs_sys(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    (long)fork_chan, 0, 0))
		fork_chan[0] = fork_chan[1] = -1;
}

/* Before shim/fork.c's: the model stays locked until the child has its copy. */
static void fork_parent(void)
{
	uint64_t now = svc_now_ms(), end = now + SVC_DEFAULT_TIMEOUT_MS;
	char b;

	if (fork_chan[0] < 0)
		return;
	close_raw(&fork_chan[1]);
	/* The program's signals interrupt the wait, not the deadline. */
	for (; now < end; now = svc_now_ms()) {
		struct pollfd p = {.fd = fork_chan[0], .events = POLLIN};
		long n = devfs_sys(SYS_poll, (long)&p, 1, (long)(end - now), 0, 0, 0);

		if (n > 0) {
			/* A byte when FORK is done; end of file when the child is gone. */
			devfs_sys(SYS_read, fork_chan[0], (long)&b, 1, 0, 0, 0);
			break;
		}
		if (n < 0 && n != -EINTR)
			break;
	}
	close_raw(&fork_chan[0]);
}

/* The child: the parent's connection is not ours to use; share its enclaves through our own. */
static void fork_child(void)
{
	static const char done = 1;
	int ret;

	pthread_mutex_init(&table_lock, NULL);
	pthread_mutex_init(&conn_lock, NULL);
	close_raw(&fork_chan[0]);
	if (!fork_share) {
		/* Nothing to share: the first open() connects. */
		svc_remote_forget();
		atomic_fetch_add(&conn_gen, 1);
		atomic_store(&conn_state, 0);
		return;
	}
	ret = svc_remote_fork_child(NULL);
	if (ret) {
		/* Not connected (a failed connect), or connected without the parent's mm. */
		fprintf(stderr,
			"softsgx: fork: the child cannot share its parent's enclaves (%s): its "
			"inherited SGX descriptors give EIO, its inherited mappings SIGBUS\n",
			strerror(-ret));
		atomic_fetch_add(&conn_gen, 1);
		atomic_store(&fork_orphan, true);
		/* Connected already (-EALREADY) or now; else the first open() tries again. */
		ret = svc_remote_connect(NULL, NULL, NULL);
		atomic_store(&conn_state, !ret || ret == -EALREADY);
	} else {
		atomic_store(&conn_state, 1);
	}
	if (fork_chan[1] >= 0)
		devfs_sys(SYS_sendto, fork_chan[1], (long)&done, 1, MSG_NOSIGNAL, 0, 0);
	close_raw(&fork_chan[1]);
}

/*
 * The service's KICK, on the client library's notify thread: the threads
 * of this process inside an enclave take an AEX, as private mode's
 * reclaimer makes them (shim/thread.c), before it is acknowledged.
 */
static void service_kick(void)
{
	shim_kick(NULL, NULL);
}

void shim_service_boot(void)
{
	int ret;

	svc_remote_set_kick(service_kick);
	ret = connect_now(false);

	atomic_store(&conn_state, ret ? ret : 1);
	shim_signals_init();
	/*
	 * Before the model lock's handlers: prepare handlers run in reverse
	 * order, the others in order, so ours run inside fork.c's (after its
	 * prepare took the lock, before its parent handler drops it).
	 */
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	shim_fork_init();
}

/* The connection, made now in a forked child: 0 or -errno. */
static int connected(void)
{
	int st = atomic_load(&conn_state);

	if (st == 1)
		return 0;
	if (st < 0)
		return -ENODEV; /* said at load; as with no platform at all */
	pthread_mutex_lock(&conn_lock);
	st = atomic_load(&conn_state);
	if (st == 0) {
		int ret = connect_now(false);

		st = ret ? ret : 1;
		atomic_store(&conn_state, st);
	}
	pthread_mutex_unlock(&conn_lock);
	return st == 1 ? 0 : -ENODEV;
}

/* ---- open files ---- */

static void ofile_put(struct svc_ofile *f)
{
	if (atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	/* The last reference: the service releases the file (a parent's handle is not ours). */
	if (f->gen == atomic_load(&conn_gen))
		svc_remote_close(f->handle);
	free(f);
}

static bool identity(int fd, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (devfs_sys(SYS_fstat, fd, (long)&st, 0, 0, 0, 0))
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* Install @f (its reference moves to the table) at @fd. */
static void install(int fd, struct svc_ofile *f)
{
	struct svc_ofile *old;
	dev_t dev = 0;
	ino_t ino = 0;

	if (fd < 0 || fd >= SHIM_MAX_FD) {
		ofile_put(f);
		return;
	}
	identity(fd, &dev, &ino);
	pthread_mutex_lock(&table_lock);
	old = atomic_load(&table[fd].f);
	table[fd].dev = dev;
	table[fd].ino = ino;
	atomic_store(&table[fd].f, f);
	pthread_mutex_unlock(&table_lock);
	if (old)
		ofile_put(old);
}

static struct svc_ofile *remove_entry(int fd)
{
	struct svc_ofile *f;

	if (fd < 0 || fd >= SHIM_MAX_FD || !atomic_load(&table[fd].f))
		return NULL;
	pthread_mutex_lock(&table_lock);
	f = atomic_load(&table[fd].f);
	atomic_store(&table[fd].f, NULL);
	pthread_mutex_unlock(&table_lock);
	return f;
}

/* The open file of @fd with a reference, or NULL; an entry whose memfd is gone is dropped. */
static struct svc_ofile *fget(int fd)
{
	struct svc_ofile *f, *stale = NULL;
	dev_t dev, d;
	ino_t ino, i;

	if (fd < 0 || fd >= SHIM_MAX_FD || !atomic_load(&table[fd].f))
		return NULL;
	pthread_mutex_lock(&table_lock);
	f = atomic_load(&table[fd].f);
	dev = table[fd].dev;
	ino = table[fd].ino;
	if (f)
		atomic_fetch_add(&f->refs, 1);
	pthread_mutex_unlock(&table_lock);
	if (!f)
		return NULL;
	if (identity(fd, &d, &i) && d == dev && i == ino)
		return f;
	/* Closed or replaced where the wrappers did not see it: not SGX any more. */
	pthread_mutex_lock(&table_lock);
	if (atomic_load(&table[fd].f) == f && table[fd].dev == dev && table[fd].ino == ino) {
		stale = f;
		atomic_store(&table[fd].f, NULL);
	}
	pthread_mutex_unlock(&table_lock);
	if (stale)
		ofile_put(stale);
	ofile_put(f);
	return NULL;
}

/* A usable handle of @f, or -EIO for one inherited from a parent. */
static int handle_of(const struct svc_ofile *f)
{
	return f->gen == atomic_load(&conn_gen) ? f->handle : -EIO;
}

bool shim_svc_fd_present(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD && atomic_load(&table[fd].f);
}

static int open_file(enum sgx_file_type type, int flags)
{
	unsigned int svc_type = type == SGX_FILE_ENCLAVE ? SVC_OPEN_ENCLAVE
				: type == SGX_FILE_VEPC	  ? SVC_OPEN_VEPC
							  : SVC_OPEN_PROVISION;
	struct svc_ofile *f;
	int ret = connected(), fd, h;

	if (ret)
		return ret;
	if ((flags & O_CREAT) && (flags & O_EXCL))
		return -EEXIST;
	if (flags & O_DIRECTORY)
		return -ENOTDIR;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	h = svc_remote_open(svc_type);
	if (h < 0) {
		free(f);
		return h;
	}
	f->refs = 1;
	f->handle = h;
	f->type = type;
	f->gen = atomic_load(&conn_gen);
	/* A real descriptor number, so the program's bookkeeping holds. */
	fd = memfd_create(devfs_dev_path(type) + strlen("/dev/"),
			  (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	if (fd < 0) {
		ret = -errno;
		ofile_put(f);
		return ret;
	}
	install(fd, f);
	return fd;
}

/*
 * Each shim_svc_* entry holds the model lock shared (shim/fork.c), which
 * fork() takes exclusively: no call of the client library is half done at
 * a fork (its call lock, its page-table lock and its list of ranges are
 * never copied mid-change) and no reference of the table is held by a
 * thread the child does not have.
 */
bool shim_svc_fd_type(int fd, enum sgx_file_type *type)
{
	struct svc_ofile *f;

	if (!shim_svc_fd_present(fd))
		return false;
	shim_model_get();
	f = fget(fd);
	if (f) {
		*type = f->type;
		ofile_put(f);
	}
	shim_model_put();
	return f != NULL;
}

int shim_svc_open(enum sgx_file_type type, int flags)
{
	int r;

	shim_model_get();
	r = open_file(type, flags);
	shim_model_put();
	return r;
}

static void closed(int fd)
{
	struct svc_ofile *f = remove_entry(fd);

	if (f)
		ofile_put(f);
}

void shim_svc_closed(int fd)
{
	shim_model_get();
	closed(fd);
	shim_model_put();
}

static void dup_to(int oldfd, int newfd)
{
	struct svc_ofile *f = fget(oldfd);

	if (f)
		install(newfd, f);
	else
		closed(newfd);
}

void shim_svc_dup(int oldfd, int newfd)
{
	shim_model_get();
	dup_to(oldfd, newfd);
	shim_model_put();
}

static void forget_range(unsigned int first, unsigned int last, bool check)
{
	if (last >= SHIM_MAX_FD)
		last = SHIM_MAX_FD - 1;
	for (unsigned int fd = first; fd <= last; fd++) {
		struct svc_ofile *f;

		if (!atomic_load(&table[fd].f))
			continue;
		f = check ? fget((int)fd) : remove_entry((int)fd);
		if (f)
			ofile_put(f);
	}
}

void shim_svc_forget_range(unsigned int first, unsigned int last, bool check)
{
	shim_model_get();
	forget_range(first, last, check);
	shim_model_put();
}

/* ---- ioctl, mmap, munmap, mprotect ---- */

/* @len bytes of the program's @src, or false where Linux's copy_from_user() gives EFAULT. */
static bool copy_in(void *dst, unsigned long src, size_t len)
{
	struct iovec l = {dst, len}, r = {(void *)src, len};

	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)len;
}

static bool do_ioctl(int fd, unsigned long request, unsigned long arg, long *ret)
{
	struct svc_ofile *f = fget(fd), *pf;
	struct sgx_enclave_provision prov;
	int h;

	if (!f)
		return false;
	h = handle_of(f);
	if (h < 0) {
		*ret = h;
	} else if (request == SGX_IOC_ENCLAVE_PROVISION) {
		/* Its fd names a descriptor of this process: the service knows the handle. */
		if (!copy_in(&prov, arg, sizeof(prov))) {
			*ret = -EFAULT;
		} else {
			pf = prov.fd <= INT32_MAX ? fget((int)prov.fd) : NULL;
			if (!pf) {
				*ret = -EINVAL;
			} else {
				prov.fd = (uint64_t)handle_of(pf);
				*ret = (int64_t)prov.fd < 0 ? (long)(int64_t)prov.fd
							    : svc_remote_ioctl(h, request, &prov);
				ofile_put(pf);
			}
		}
	} else {
		*ret = svc_remote_ioctl(h, request, (void *)arg);
	}
	ofile_put(f);
	return true;
}

bool shim_svc_ioctl(int fd, unsigned long request, unsigned long arg, long *ret)
{
	bool r;

	shim_model_get();
	r = do_ioctl(fd, request, arg, ret);
	shim_model_put();
	return r;
}

static bool do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **out)
{
	struct svc_ofile *f = (flags & MAP_ANONYMOUS) ? NULL : fget(fd);
	int h, ret;

	if (!f)
		return false;
	h = handle_of(f);
	ret = h < 0 ? h : off < 0 ? -EINVAL : svc_remote_mmap(&addr, len, prot, flags, h, off);
	ofile_put(f);
	if (ret) {
		errno = -ret;
		*out = MAP_FAILED;
	} else {
		*out = addr;
	}
	return true;
}

bool shim_svc_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **out)
{
	bool r;

	shim_model_get();
	r = do_mmap(addr, len, prot, flags, fd, off, out);
	shim_model_put();
	return r;
}

static bool do_range(void *addr, size_t len, bool unmap, int prot, int *ret)
{
	long r;

	if (!svc_remote_maps(addr, len))
		return false;
	r = unmap ? svc_remote_munmap(addr, len) : svc_remote_mprotect(addr, len, prot);
	if (r < 0) {
		errno = (int)-r;
		*ret = -1;
	} else {
		*ret = 0;
	}
	return true;
}

bool shim_svc_range(void *addr, size_t len, bool unmap, int prot, int *ret)
{
	bool r;

	shim_model_get();
	r = do_range(addr, len, unmap, prot, ret);
	shim_model_put();
	return r;
}

/* ---- faults and ENCLU ---- */

static int do_fault(const siginfo_t *si, int access)
{
	if (si->si_code <= 0 || !svc_remote_maps(si->si_addr, 1))
		return SIGSEGV;
	switch (svc_remote_fault(si->si_addr, access)) {
	case SVC_FAULT_RETRY:
		return 0;
	case SVC_FAULT_SIGBUS:
		return SIGBUS;
	case SVC_FAULT_NOT_OURS:
		/* A range inherited from a parent whose enclaves we could not share. */
		return atomic_load(&fork_orphan) ? SIGBUS : SIGSEGV;
	default:
		return SIGSEGV;
	}
}

int shim_svc_fault(const siginfo_t *si, int access)
{
	int r;

	shim_model_get();
	r = do_fault(si, access);
	shim_model_put();
	return r;
}
