// SPDX-License-Identifier: MIT
/*
 * Which real descriptors stand for SGX device files. Placeholders are real
 * (memfd) descriptors, so descriptor numbers, select/poll on them, and
 * close-on-exec behave as the program expects.
 *
 * A program can close or replace a placeholder where the wrappers do not
 * see it (a raw system call, fclose() of an fdopen()ed stream, a library's
 * own close). Each entry therefore records the identity (st_dev, st_ino)
 * of its memfd, and the number is checked against it (one fstat) before
 * the table's answer is used; an entry whose descriptor is gone or is now
 * another file is dropped, so the new file is not taken for the enclave.
 * A thread of ours checks the entries every SCAN_PERIOD_MS too, so an
 * enclave whose last descriptor went that way is released, as Linux
 * releases it on the last fput, without waiting for the number's next use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "shim/devfs.h"
#include "shim/shim.h"

#define SCAN_PERIOD_MS 50

struct fd_entry {
	struct sgx_file *_Atomic f;
	dev_t dev;
	ino_t ino;
};

static struct fd_entry table[SHIM_MAX_FD];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
/* Entries in use and one past the highest number used: the scan's bounds. */
static _Atomic unsigned int nr_entries, fd_limit;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool running; /* in this process: a forked child starts its own */
	struct sgx_file *dead[64];
	unsigned int nr_dead;
} scan = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, {0}, 0};
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static bool identity(int fd, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (devfs_sys(SYS_fstat, fd, (long)&st, 0, 0, 0, 0))
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* Under table_lock: clear @fd's entry, returning its reference. */
static struct sgx_file *clear_locked(int fd)
{
	struct sgx_file *f = atomic_load(&table[fd].f);

	if (f) {
		atomic_store(&table[fd].f, NULL);
		nr_entries--;
	}
	return f;
}

static void put_file(struct sgx_file *f)
{
	shim_model_get();
	sgx_file_put(f);
	shim_model_put();
}

/*
 * Drop @fd's entry if it still is @f and no longer its memfd. Returns the
 * reference the caller must put, or NULL.
 */
static struct sgx_file *drop_if_stale(int fd, struct sgx_file *f, dev_t dev, ino_t ino)
{
	struct sgx_file *old = NULL;
	dev_t d;
	ino_t i;

	if (identity(fd, &d, &i) && d == dev && i == ino)
		return NULL;
	pthread_mutex_lock(&table_lock);
	if (atomic_load(&table[fd].f) == f && table[fd].dev == dev && table[fd].ino == ino)
		old = clear_locked(fd);
	pthread_mutex_unlock(&table_lock);
	return old;
}

/* Check every entry; put the references of those gone. */
static void scan_all(void)
{
	for (unsigned int fd = 0; fd < fd_limit && fd < SHIM_MAX_FD; fd++) {
		struct sgx_file *f, *old;
		dev_t dev;
		ino_t ino;

		if (!atomic_load(&table[fd].f))
			continue;
		pthread_mutex_lock(&table_lock);
		f = atomic_load(&table[fd].f);
		dev = table[fd].dev;
		ino = table[fd].ino;
		pthread_mutex_unlock(&table_lock);
		if (!f)
			continue;
		/* Inside the model like any other entry: fork() waits for us. */
		shim_model_get();
		old = drop_if_stale((int)fd, f, dev, ino);
		shim_model_put();
		if (old)
			put_file(old);
	}
}

static void *scanner(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&scan.lock);
	for (;;) {
		/* References dropped where putting them was not safe. */
		while (scan.nr_dead) {
			struct sgx_file *f = scan.dead[--scan.nr_dead];

			pthread_mutex_unlock(&scan.lock);
			put_file(f);
			pthread_mutex_lock(&scan.lock);
		}
		pthread_mutex_unlock(&scan.lock);
		if (atomic_load(&nr_entries))
			scan_all();
		pthread_mutex_lock(&scan.lock);
		if (scan.nr_dead)
			continue;
		if (nr_entries) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += SCAN_PERIOD_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&scan.wake, &scan.lock, &until);
		} else {
			pthread_cond_wait(&scan.wake, &scan.lock);
		}
	}
	return NULL;
}

/*
 * A forked child has neither the thread nor, safely, the locks some other
 * thread may have held at the fork; its queued references are the
 * parent's business.
 */
static void in_child(void)
{
	pthread_mutex_init(&table_lock, NULL);
	pthread_mutex_init(&scan.lock, NULL);
	pthread_cond_init(&scan.wake, NULL);
	scan.nr_dead = 0;
	scan.running = false;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, in_child);
}

/* The scan thread of this process, started with the first entry. */
static void scanner_start(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&scan.lock);
	if (scan.running) {
		pthread_cond_signal(&scan.wake);
		pthread_mutex_unlock(&scan.lock);
		return;
	}
	/* No signal of the program's, nor the shim's kick, is ever delivered here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (!pthread_create(&t, &attr, scanner, NULL)) {
		pthread_setname_np(t, "softsgx-fds");
		scan.running = true;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&scan.lock);
}

/* Put @f's reference on the scan thread, outside whatever the caller holds. */
static void put_later(struct sgx_file *f)
{
	pthread_mutex_lock(&scan.lock);
	if (scan.nr_dead < sizeof(scan.dead) / sizeof(scan.dead[0])) {
		scan.dead[scan.nr_dead++] = f;
		f = NULL;
		pthread_cond_signal(&scan.wake);
	}
	pthread_mutex_unlock(&scan.lock);
	/* Queue full: leak the reference rather than release in a bad place. */
	(void)f;
}

static struct sgx_file *fget(int fd, bool may_release)
{
	struct sgx_file *f, *old;
	dev_t dev;
	ino_t ino;

	if (fd < 0 || fd >= SHIM_MAX_FD || !atomic_load(&table[fd].f))
		return NULL;
	shim_model_get();
	pthread_mutex_lock(&table_lock);
	f = atomic_load(&table[fd].f);
	dev = table[fd].dev;
	ino = table[fd].ino;
	if (f)
		sgx_file_get(f);
	pthread_mutex_unlock(&table_lock);
	shim_model_put();
	if (!f)
		return NULL;
	old = drop_if_stale(fd, f, dev, ino);
	if (!old && atomic_load(&table[fd].f) == f)
		return f;
	/* The number is another file now (or nothing): not SGX. */
	if (old) {
		if (may_release)
			put_file(old);
		else
			put_later(old);
	}
	if (may_release)
		put_file(f);
	else
		put_later(f);
	return NULL;
}

struct sgx_file *shim_fget(int fd)
{
	return fget(fd, true);
}

struct sgx_file *shim_fget_nested(int fd)
{
	return fget(fd, false);
}

bool shim_fd_present(int fd)
{
	if (shim_service_mode())
		return shim_svc_fd_present(fd);
	return fd >= 0 && fd < SHIM_MAX_FD && atomic_load(&table[fd].f);
}

void shim_fd_install(int fd, struct sgx_file *f)
{
	struct sgx_file *old;
	dev_t dev = 0;
	ino_t ino = 0;

	shim_model_get();
	if (fd < 0 || fd >= SHIM_MAX_FD) {
		sgx_file_put(f);
		shim_model_put();
		return;
	}
	identity(fd, &dev, &ino);
	pthread_mutex_lock(&table_lock);
	old = clear_locked(fd);
	table[fd].dev = dev;
	table[fd].ino = ino;
	atomic_store(&table[fd].f, f);
	nr_entries++;
	if ((unsigned int)fd >= fd_limit)
		fd_limit = (unsigned int)fd + 1;
	pthread_mutex_unlock(&table_lock);
	/* A dup2() onto one of ours closed it. Release outside the lock. */
	if (old)
		sgx_file_put(old);
	shim_model_put();
	scanner_start();
}

struct sgx_file *shim_fd_remove(int fd)
{
	struct sgx_file *f;

	if (fd < 0 || fd >= SHIM_MAX_FD || !atomic_load(&table[fd].f))
		return NULL;
	shim_model_get();
	pthread_mutex_lock(&table_lock);
	f = clear_locked(fd);
	pthread_mutex_unlock(&table_lock);
	shim_model_put();
	return f;
}

void shim_fd_forget_range(unsigned int first, unsigned int last, bool check)
{
	if (shim_service_mode()) {
		shim_svc_forget_range(first, last, check);
		return;
	}
	if (last >= SHIM_MAX_FD)
		last = SHIM_MAX_FD - 1;
	for (unsigned int fd = first; fd <= last && fd < fd_limit; fd++) {
		struct sgx_file *f;

		if (!atomic_load(&table[fd].f))
			continue;
		if (check) {
			/* fget drops it when it is gone. */
			f = shim_fget((int)fd);
		} else {
			f = shim_fd_remove((int)fd);
		}
		if (f)
			put_file(f);
	}
}

/*
 * A number the table does not know may still be an SGX descriptor: a copy
 * made by a raw dup (or inherited that way). Its memfd identity @st (from
 * the caller's fstat) tells: when an entry has the same, @fd becomes one
 * more entry for that file, as a dup() through the wrappers would have
 * made it. Returns the file with a reference, or NULL.
 */
struct sgx_file *shim_fget_by_identity(int fd, const struct stat *st)
{
	struct sgx_file *f = NULL;

	if (fd < 0 || fd >= SHIM_MAX_FD || !atomic_load(&nr_entries))
		return NULL;
	shim_model_get();
	pthread_mutex_lock(&table_lock);
	for (unsigned int i = 0; i < fd_limit && i < SHIM_MAX_FD; i++) {
		struct sgx_file *g = atomic_load(&table[i].f);

		if (g && table[i].dev == st->st_dev && table[i].ino == st->st_ino) {
			f = g;
			break;
		}
	}
	if (f)
		sgx_file_get(f);
	pthread_mutex_unlock(&table_lock);
	shim_model_put();
	if (!f)
		return NULL;
	/* The entry for @fd holds its own reference; ours goes to the caller. */
	shim_model_get();
	sgx_file_get(f);
	shim_model_put();
	shim_fd_install(fd, f);
	return f;
}

struct sgx_file *shim_fget_untracked(int fd)
{
	struct stat st;

	if (!atomic_load(&nr_entries) || devfs_sys(SYS_fstat, fd, (long)&st, 0, 0, 0, 0))
		return NULL;
	return shim_fget_by_identity(fd, &st);
}
