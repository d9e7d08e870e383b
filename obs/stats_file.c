// SPDX-License-Identifier: MIT
/*
 * Writer and reader of the stats file (stats_file.h): publication under a
 * temporary name and rename, the sequence counter, and the scan that finds
 * every live platform and deletes the files of processes that are gone.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "obs/stats_file.h"

_Static_assert(sizeof(struct sgx_stats_snapshot) % sizeof(uint64_t) == 0,
	       "the snapshot is copied in 64-bit words");
_Static_assert(offsetof(struct sgx_stats_file, snap) % sizeof(uint64_t) == 0,
	       "the snapshot is copied in 64-bit words");

/* Attempts of a reader before it gives up on a writer stuck mid-write. */
#define READ_ATTEMPTS 1000

int sgx_stats_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	/* A runtime directory that does not exist (a container, su) is as good as none. */
	if (xdg && xdg[0] == '/' && !stat(xdg, &st) && S_ISDIR(st.st_mode))
		n = snprintf(buf, len, "%s/softsgx", xdg);
	else
		n = snprintf(buf, len, "/tmp/softsgx-%u", (unsigned int)getuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* State letter and start time (fields 3 and 22) of /proc/@pid/stat. */
static int proc_stat(pid_t pid, char *state, uint64_t *ticks)
{
	char path[64], buf[1024], *p, *save = NULL;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and ')': skip to its last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p = strtok_r(p + 1, " ", &save);
	for (int field = 3; p; field++, p = strtok_r(NULL, " ", &save)) {
		if (field == 3)
			*state = p[0];
		if (field == 22) {
			*ticks = strtoull(p, NULL, 10);
			return 0;
		}
	}
	return -EIO;
}

int sgx_stats_proc_start(pid_t pid, uint64_t *ticks)
{
	char state;

	return proc_stat(pid, &state, ticks);
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Our own directory: not a symlink, owned by us, writable by nobody else. */
static int check_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

int sgx_stats_writer_open(struct sgx_stats_writer *w, const char *dir, pid_t pid,
			  const char *program)
{
	char tmp[sizeof(w->path)];
	struct sgx_stats_file *f;
	uint64_t start = 0;
	int fd, ret;

	w->file = NULL;
	ret = check_dir(dir);
	if (ret)
		return ret;
	if (snprintf(w->path, sizeof(w->path), "%s/%d.stats", dir, (int)pid) >=
		    (int)sizeof(w->path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%d.stats.tmp", dir, (int)pid) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(*f))) {
		ret = -errno;
		goto err_unlink;
	}
	f = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED) {
		ret = -errno;
		goto err_unlink;
	}
	/* A pid whose /proc entry cannot be read gets 0: readers skip the reuse check. */
	sgx_stats_proc_start(pid, &start);
	f->hdr.magic = SGX_STATS_MAGIC;
	f->hdr.version = SGX_STATS_VERSION;
	f->hdr.file_size = sizeof(*f);
	f->hdr.pid = (uint64_t)pid;
	f->hdr.proc_start = start;
	f->hdr.start_realtime_ns = now_ns(CLOCK_REALTIME);
	f->hdr.start_monotonic_ns = now_ns(CLOCK_MONOTONIC);
	snprintf(f->hdr.program, sizeof(f->hdr.program), "%s", program ? program : "");
	/* Complete before anyone can open it under its name. */
	if (rename(tmp, w->path)) {
		ret = -errno;
		munmap(f, sizeof(*f));
		goto err_unlink;
	}
	close(fd);
	w->file = f;
	return 0;

err_unlink:
	unlink(tmp);
	close(fd);
	return ret;
}

void sgx_stats_write_begin(struct sgx_stats_writer *w)
{
	uint64_t seq = __atomic_load_n(&w->file->hdr.seq, __ATOMIC_RELAXED);

	/*
	 * Odd: a reader that sees this retries. The words that follow are
	 * stored with release, so a reader that sees any of them sees this
	 * too (no fences: ThreadSanitizer does not model them).
	 */
	__atomic_store_n(&w->file->hdr.seq, seq + 1, __ATOMIC_RELAXED);
}

void sgx_stats_write_end(struct sgx_stats_writer *w)
{
	uint64_t seq = __atomic_load_n(&w->file->hdr.seq, __ATOMIC_RELAXED);

	__atomic_store_n(&w->file->hdr.seq, seq + 1, __ATOMIC_RELEASE);
}

void sgx_stats_writer_publish(struct sgx_stats_writer *w, const struct sgx_stats_snapshot *snap)
{
	uint64_t *dst = (uint64_t *)&w->file->snap;
	const uint64_t *src = (const uint64_t *)snap;
	uint64_t updates = __atomic_load_n(&w->file->snap.updates, __ATOMIC_RELAXED) + 1;
	uint64_t updated = now_ns(CLOCK_MONOTONIC);

	sgx_stats_write_begin(w);
	for (size_t i = 0; i < sizeof(*snap) / sizeof(uint64_t); i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELEASE);
	__atomic_store_n(&w->file->snap.updated_ns, updated, __ATOMIC_RELEASE);
	__atomic_store_n(&w->file->snap.updates, updates, __ATOMIC_RELEASE);
	sgx_stats_write_end(w);
}

void sgx_stats_writer_close(struct sgx_stats_writer *w, bool remove)
{
	if (!w->file)
		return;
	if (remove)
		unlink(w->path);
	munmap(w->file, sizeof(*w->file));
	w->file = NULL;
}

/* Copy a consistent snapshot out of @f; 0 or -EAGAIN. */
static int read_snapshot(const struct sgx_stats_file *f, struct sgx_stats_snapshot *snap,
			 uint64_t *seq_out)
{
	const uint64_t *src = (const uint64_t *)&f->snap;
	uint64_t *dst = (uint64_t *)snap;

	for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		uint64_t seq = __atomic_load_n(&f->hdr.seq, __ATOMIC_ACQUIRE);

		if (seq & 1) {
			sched_yield();
			continue;
		}
		/* Acquire: the second look at seq cannot move before these loads. */
		for (size_t i = 0; i < sizeof(*snap) / sizeof(uint64_t); i++)
			dst[i] = __atomic_load_n(&src[i], __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&f->hdr.seq, __ATOMIC_RELAXED) == seq) {
			*seq_out = seq;
			return 0;
		}
	}
	return -EAGAIN;
}

int sgx_stats_read(const char *path, struct sgx_stats_header *hdr, struct sgx_stats_snapshot *snap)
{
	const struct sgx_stats_file *f;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof(*f)) {
		close(fd);
		return -EPROTO;
	}
	f = mmap(NULL, sizeof(*f), PROT_READ, MAP_SHARED, fd, 0);
	ret = f == MAP_FAILED ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	/* The header up to seq never changes once the file has its name. */
	memcpy(hdr, &f->hdr, offsetof(struct sgx_stats_header, seq));
	hdr->program[sizeof(hdr->program) - 1] = '\0';
	if (hdr->magic != SGX_STATS_MAGIC || hdr->version != SGX_STATS_VERSION ||
	    hdr->file_size != sizeof(*f))
		ret = -EPROTO;
	else
		ret = read_snapshot(f, snap, &hdr->seq);
	munmap((void *)f, sizeof(*f));
	return ret;
}

bool sgx_stats_writer_alive(const struct sgx_stats_header *hdr)
{
	pid_t pid = (pid_t)hdr->pid;
	uint64_t start;
	char state;

	if (pid <= 0 || (uint64_t)pid != hdr->pid)
		return false;
	if (kill(pid, 0) && errno != EPERM)
		return false;
	if (proc_stat(pid, &state, &start))
		return true; /* no /proc to ask: the pid exists, take it */
	/* A zombie or dead task publishes nothing again. */
	if (state == 'Z' || state == 'X' || state == 'x')
		return false;
	return !hdr->proc_start || start == hdr->proc_start;
}

/* "<digits>.stats": the pid, else 0. */
static pid_t stats_name_pid(const char *name)
{
	char *end;
	unsigned long v;

	if (name[0] < '0' || name[0] > '9')
		return 0;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno || v == 0 || v > INT_MAX || strcmp(end, ".stats"))
		return 0;
	return (pid_t)v;
}

int sgx_stats_scan(const char *dir, pid_t only_pid, sgx_stats_scan_fn fn, void *data)
{
	struct sgx_stats_snapshot *snap = malloc(sizeof(*snap));
	struct sgx_stats_header hdr;
	struct dirent *de;
	char path[4096];
	int ret = 0;
	DIR *d;

	if (!snap)
		return -ENOMEM;
	d = opendir(dir);
	if (!d) {
		ret = errno == ENOENT ? 0 : -errno;
		free(snap);
		return ret;
	}
	while (!ret && (de = readdir(d))) {
		pid_t pid = stats_name_pid(de->d_name);
		int err;

		if (!pid || (only_pid > 0 && pid != only_pid))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		err = sgx_stats_read(path, &hdr, snap);
		/* -EAGAIN still read the header: a writer that died mid-write is cleaned too. */
		if (err && err != -EAGAIN)
			continue;
		if (hdr.pid != (uint64_t)pid)
			continue;
		if (!sgx_stats_writer_alive(&hdr)) {
			unlink(path);
			continue;
		}
		if (!err)
			ret = fn(path, &hdr, snap, data);
	}
	closedir(d);
	free(snap);
	return ret;
}
