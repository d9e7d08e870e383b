// SPDX-License-Identifier: MIT
/*
 * /proc/cpuinfo and nodeN/x86/sgx_total_bytes as an SGX host shows them.
 * Each open gets a read-only descriptor of a memfd holding the contents
 * made at that moment: the host's /proc/cpuinfo with "sgx" and "sgx_lc"
 * added to every flags line, or the node's EPC size from the kernel model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/devfs.h"
#include "shim/shim.h"

#define MAX_FLAGS 1024

/*
 * Linux prints the flags in feature-word order (cpufeatures.h). SGX is
 * word 9 bit 2 (CPUID.7.0:EBX), between tsc_adjust (bit 1) and bmi1
 * (bit 3); SGX_LC is word 16 bit 30 (CPUID.7.0:ECX), after enqcmd (bit
 * 29), the last flag of that word that /proc/cpuinfo names before it.
 */
static const char *const sgx_after[] = {"fsgsbase", "tsc_adjust", NULL};
static const char *const sgx_before[] = {"bmi1",     "hle",    "avx2", "smep", "bmi2",	"erms",
					 "invpcid",  "rtm",    "cqm",  "mpx",  "rdt_a", "avx512f",
					 "avx512dq", "rdseed", "adx",  "smap", NULL};
static const char *const sgx_lc_after[] = {
	"avx512vbmi",
	"umip",
	"pku",
	"ospke",
	"waitpkg",
	"avx512_vbmi2",
	"gfni",
	"vaes",
	"vpclmulqdq",
	"avx512_vnni",
	"avx512_bitalg",
	"tme",
	"avx512_vpopcntdq",
	"la57",
	"rdpid",
	"bus_lock_detect",
	"cldemote",
	"movdiri",
	"movdir64b",
	"enqcmd",
	NULL,
};

struct token {
	const char *s;
	size_t len;
};

static bool in_list(const struct token *t, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == t->len && !memcmp(*list, t->s, t->len))
			return true;
	return false;
}

static bool is(const struct token *t, const char *name)
{
	return strlen(name) == t->len && !memcmp(name, t->s, t->len);
}

/*
 * Where @name goes among @tok[0..n): after the last token of @after, else
 * before the first of @before, else at the end.
 */
static int place(const struct token *tok, int n, const char *const *after,
		 const char *const *before)
{
	int at = -1;

	for (int i = 0; i < n; i++)
		if (in_list(&tok[i], after))
			at = i + 1;
	if (at >= 0)
		return at;
	for (int i = 0; before && i < n; i++)
		if (in_list(&tok[i], before))
			return i;
	return n;
}

/* Append the flag list @list (one line, no newline) with our two flags to @out. */
static size_t edit_flags(const char *list, size_t len, char *out)
{
	struct token tok[MAX_FLAGS];
	bool has_sgx = false, has_lc = false;
	int n = 0, at_sgx, at_lc;
	size_t o = 0;

	for (size_t i = 0; i < len && n < MAX_FLAGS;) {
		while (i < len && list[i] == ' ')
			i++;
		if (i >= len)
			break;
		tok[n].s = list + i;
		while (i < len && list[i] != ' ')
			i++;
		tok[n].len = (size_t)(list + i - tok[n].s);
		has_sgx |= is(&tok[n], "sgx");
		has_lc |= is(&tok[n], "sgx_lc");
		n++;
	}
	at_sgx = has_sgx ? -1 : place(tok, n, sgx_after, sgx_before);
	at_lc = has_lc ? -1 : place(tok, n, sgx_lc_after, NULL);
	for (int i = 0; i <= n; i++) {
		if (i == at_sgx)
			o += (size_t)sprintf(out + o, "%ssgx", o ? " " : "");
		if (i == at_lc)
			o += (size_t)sprintf(out + o, "%ssgx_lc", o ? " " : "");
		if (i == n)
			break;
		o += (size_t)sprintf(out + o, "%s%.*s", o ? " " : "", (int)tok[i].len, tok[i].s);
	}
	return o;
}

/* A read-only descriptor (O_CLOEXEC from @flags) of a file holding @data. */
static int ro_file(const char *name, const char *data, size_t len, int flags)
{
	char path[32];
	long fd, ro;
	size_t done = 0;

	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len) {
		long n = devfs_sys(SYS_write, fd, (long)(data + done), (long)(len - done), 0, 0, 0);

		if (n <= 0) {
			devfs_sys(SYS_close, fd, 0, 0, 0, 0, 0);
			return n < 0 ? (int)n : -EIO;
		}
		done += (size_t)n;
	}
	/* Mode 0444 as the real file, and reopened read-only: a write is EBADF. */
	devfs_sys(SYS_fchmod, fd, 0444, 0, 0, 0, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
	ro = devfs_sys(SYS_openat, AT_FDCWD, (long)path,
		       O_RDONLY | (flags & (O_CLOEXEC | O_NONBLOCK)), 0, 0, 0);
	if (ro < 0) {
		devfs_sys(SYS_lseek, fd, 0, SEEK_SET, 0, 0, 0);
		if (!(flags & O_CLOEXEC))
			devfs_sys(SYS_fcntl, fd, F_SETFD, 0, 0, 0, 0);
		return (int)fd;
	}
	devfs_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	return (int)ro;
}

/* All of the host's /proc/cpuinfo (its size is 0 to stat: read to the end). */
static char *read_cpuinfo(size_t *len)
{
	size_t cap = 1 << 16, used = 0;
	char *buf = malloc(cap), *nb;
	long fd, n;

	if (!buf)
		return NULL;
	fd = devfs_sys(SYS_openat, AT_FDCWD, (long)"/proc/cpuinfo", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0) {
		free(buf);
		errno = (int)-fd;
		return NULL;
	}
	for (;;) {
		if (cap - used < 4096) {
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = devfs_sys(SYS_read, fd, (long)(buf + used), (long)(cap - used), 0, 0, 0);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	devfs_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	*len = used;
	return buf;
}

int procfs_open_cpuinfo(int flags)
{
	size_t len, o = 0, lines = 1;
	char *in, *out;
	int fd;

	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	in = read_cpuinfo(&len);
	if (!in)
		return -errno;
	for (size_t i = 0; i < len; i++)
		lines += in[i] == '\n';
	/* Each line may gain " sgx sgx_lc". */
	out = malloc(len + lines * 16 + 1);
	if (!out) {
		free(in);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len;) {
		const char *line = in + i, *eol = memchr(line, '\n', len - i), *colon;
		size_t llen = eol ? (size_t)(eol - line) : len - i;

		colon = memchr(line, ':', llen);
		/* "flags\t\t: fpu vme ..." (not "vmx flags", which also exists). */
		if (colon && !strncmp(line, "flags", 5) &&
		    strspn(line + 5, " \t") == (size_t)(colon - line - 5)) {
			size_t head = (size_t)(colon - line) + 1;

			memcpy(out + o, line, head);
			o += head;
			out[o++] = ' ';
			while (head < llen && line[head] == ' ')
				head++;
			o += edit_flags(line + head, llen - head, out + o);
		} else {
			memcpy(out + o, line, llen);
			o += llen;
		}
		if (eol)
			out[o++] = '\n';
		i += llen + (eol ? 1 : 0);
	}
	fd = ro_file("cpuinfo", out, o, flags);
	free(in);
	free(out);
	return fd;
}

unsigned long long procfs_sgx_total_bytes(int nid)
{
	const struct shim_cpu *cpu;

	shim_kernel(); /* boots the model, or connects to the service */
	cpu = shim_cpu();
	/* The model's EPC sections are all on node 0. */
	if (!cpu || nid != 0)
		return 0;
	return (unsigned long long)hw_epc_total_pages(cpu->hw) * 4096ull;
}

int procfs_open_node(const struct devfs_node *node, int flags)
{
	char buf[32];
	int len;

	if ((flags & O_CREAT) && (flags & O_EXCL))
		return -EEXIST;
	if (node->kind == DEVFS_DIR)
		return -EISDIR;
	if (flags & O_DIRECTORY)
		return -ENOTDIR;
	/* A sysfs attribute without a store method cannot be opened for writing. */
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	len = snprintf(buf, sizeof(buf), "%llu\n", procfs_sgx_total_bytes(node->numa_node));
	return ro_file("sgx_total_bytes", buf, (size_t)len, flags);
}
