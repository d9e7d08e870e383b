// SPDX-License-Identifier: MIT
/*
 * What the kernel and the dynamic loader will do with a program, decided
 * before `softsgx run` execs it, so that a program the shim cannot reach
 * is refused with a plain reason instead of running without SGX devices.
 *
 * - The kernel follows "#!" lines (up to BINPRM's 4 levels plus the
 *   program), the interpreter path taken as written.
 * - An ELF without PT_INTERP (static, static-pie) has no dynamic loader.
 * - A 32-bit ELF's loader refuses the 64-bit shim ("wrong ELF class").
 * - Linux makes the exec secure (AT_SECURE; commoncap.c) when the new
 *   effective IDs differ from the caller's effective or real IDs, or when
 *   file capabilities raise a non-root caller's; then glibc's loader
 *   ignores LD_PRELOAD entries that contain a slash. Set-ID bits have no
 *   effect on a nosuid mount or under no_new_privs.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tools/run_reach.h"

#define MAX_INTERP 5

/* execvp's search: @prog with a slash as is, else the first executable in PATH. */
static bool find_program(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(prog, '/'))
		return (size_t)snprintf(out, len, "%s", prog) < len;
	/* glibc's default when PATH is unset (confstr(_CS_PATH)). */
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int dlen = (int)(end - p);

		/* An empty entry is the current directory. */
		if ((size_t)snprintf(out, len, "%.*s%s%s", dlen, p, dlen ? "/" : "", prog) < len &&
		    !access(out, X_OK) && !stat(out, &st) && S_ISREG(st.st_mode))
			return true;
		if (!*end)
			return false;
		p = end;
	}
}

/* The interpreter of a "#!" line in @buf (@n bytes), into @out. */
static bool shebang(const char *buf, size_t n, char *out, size_t len)
{
	size_t i = 2, start;

	while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	start = i;
	while (i < n && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\0')
		i++;
	if (i == start || i - start >= len)
		return false;
	memcpy(out, buf + start, i - start);
	out[i - start] = '\0';
	return true;
}

/* An ELF file @fd: NULL when the shim can be preloaded, else why not. */
static const char *elf_problem(int fd, const unsigned char *ident)
{
	Elf64_Ehdr eh;

	if (ident[EI_CLASS] == ELFCLASS32)
		return "is a 32-bit program, which cannot load the 64-bit shim library";
	if (ident[EI_CLASS] != ELFCLASS64 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
		return NULL;
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return NULL;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			return NULL;
		if (ph.p_type == PT_INTERP)
			return NULL;
	}
	return "is statically linked: it has no dynamic loader to load the shim library";
}

/* Whether exec of @path (@st) runs in the loader's secure mode. */
static const char *secure_exec(const char *path, const struct stat *st)
{
	uid_t euid = geteuid(), new_euid = euid;
	gid_t egid = getegid(), new_egid = egid;
	struct statvfs vfs;

	if (!statvfs(path, &vfs) && (vfs.f_flag & ST_NOSUID))
		return NULL;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return NULL;
	if (st->st_mode & S_ISUID)
		new_euid = st->st_uid;
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP))
		new_egid = st->st_gid;
	if (new_euid != euid || new_euid != getuid())
		return "is set-user-ID to another user: the dynamic loader runs it in secure mode, "
		       "which ignores the shim library in LD_PRELOAD";
	if (new_egid != egid || new_egid != getgid())
		return "is set-group-ID to another group: the dynamic loader runs it in secure "
		       "mode, which ignores the shim library in LD_PRELOAD";
	if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
		return "has file capabilities: the dynamic loader runs it in secure mode, which "
		       "ignores the shim library in LD_PRELOAD";
	return NULL;
}

int run_reach_check(const char *prog, char *path, size_t path_len, char *why, size_t why_len)
{
	char cur[PATH_MAX], next[PATH_MAX];
	const char *problem = NULL;
	unsigned char buf[256];
	struct stat st;
	ssize_t n;
	int fd;

	if (!find_program(prog, cur, sizeof(cur)))
		return 0;
	for (int depth = 0; depth < MAX_INTERP; depth++) {
		fd = open(cur, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 0;
		n = pread(fd, buf, sizeof(buf), 0);
		if (n < 0 || fstat(fd, &st)) {
			close(fd);
			return 0;
		}
		if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
			close(fd);
			/* The kernel ignores set-ID bits of scripts: the interpreter's count. */
			if (!shebang((const char *)buf, (size_t)n, next, sizeof(next)))
				return 0;
			strcpy(cur, next);
			continue;
		}
		if (n >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG))
			problem = elf_problem(fd, buf);
		close(fd);
		/* Anything else: execvp hands it to /bin/sh, or exec reports it. */
		if (!problem)
			problem = secure_exec(cur, &st);
		break;
	}
	if (!problem)
		return 0;
	snprintf(path, path_len, "%s", cur);
	snprintf(why, why_len, "%s", problem);
	return 1;
}
