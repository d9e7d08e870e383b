// SPDX-License-Identifier: MIT
/*
 * The service's directory, lock and listening socket (socket_dir.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "service/socket_dir.h"

int svc_dir_path(char *buf, size_t len)
{
	const char *env = getenv("SOFTSGX_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
		n = snprintf(buf, len, "%s/softsgx", env);
	else
		n = snprintf(buf, len, "/tmp/softsgx-%u", (unsigned int)geteuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int refuse(char *why, size_t len, const char *fmt, const char *dir, unsigned long v)
{
	if (why)
		snprintf(why, len, fmt, dir, v);
	return -EPERM;
}

int svc_dir_check(const char *dir, bool create, char *why, size_t whylen)
{
	struct stat st;

	if (why && whylen)
		why[0] = '\0';
	/* lstat: a symlink planted at the name must not redirect us. */
	if (lstat(dir, &st)) {
		if (errno != ENOENT || !create)
			return -errno;
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
		if (lstat(dir, &st))
			return -errno;
	}
	if (S_ISLNK(st.st_mode))
		return refuse(why, whylen, "%s is a symbolic link%.0lu", dir, 0);
	if (!S_ISDIR(st.st_mode))
		return refuse(why, whylen, "%s is not a directory%.0lu", dir, 0);
	if (st.st_uid != geteuid())
		return refuse(why, whylen, "%s belongs to uid %lu, not to us", dir,
			      (unsigned long)st.st_uid);
	if (st.st_mode & 077)
		return refuse(why, whylen, "%s has mode %04lo; it must be 0700", dir,
			      (unsigned long)(st.st_mode & 07777));
	return 0;
}

int svc_dir_file(const char *dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	/* sun_path is the tightest limit any of the files has. */
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static pid_t read_pid(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v < (1L << 22) ? (pid_t)v : 0;
}

int svc_lock_take(const char *dir, pid_t *holder)
{
	char path[256];
	int fd, ret;

	*holder = 0;
	ret = svc_dir_file(dir, SVC_LOCK_NAME, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EALREADY : -errno;
		*holder = read_pid(fd);
		close(fd);
		return ret;
	}
	return fd;
}

int svc_lock_set_pid(int fd, pid_t pid)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

pid_t svc_lock_holder(const char *dir)
{
	char path[256];
	pid_t pid = 0;
	int fd;

	if (svc_dir_file(dir, SVC_LOCK_NAME, path, sizeof(path)))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	/* A shared lock we can take means nobody holds the exclusive one. */
	if (flock(fd, LOCK_SH | LOCK_NB)) {
		pid = read_pid(fd);
		if (!pid)
			pid = -1;
	}
	close(fd);
	return pid;
}

/* 1 when a service answers at @path, 0 when the socket is stale, -errno. */
static int socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int ret;

	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 1;
	close(fd);
	if (ret == -ECONNREFUSED)
		return 0;
	return ret;
}

int svc_listen(const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	ret = svc_dir_file(dir, SVC_SOCK_NAME, sa.sun_path, sizeof(sa.sun_path));
	if (ret)
		return ret;
	if (!lstat(sa.sun_path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		/* We hold the lock, so a listener here would be a bug or an intruder. */
		ret = socket_alive(&sa);
		if (ret > 0)
			return -EADDRINUSE;
		if (ret < 0 && ret != -ENOENT)
			return ret;
		if (unlink(sa.sun_path) && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(sa.sun_path, 0600) ||
	    listen(fd, 64)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}
