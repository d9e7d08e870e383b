// SPDX-License-Identifier: MIT
/*
 * The device nodes and sysfs files of an SGX host, as a namespace laid
 * over the host's: path resolution, stat and access. Which file a path
 * names is decided the kernel's way, walking the components against the
 * host (lstat, readlink) and against this namespace, so "/dev/../dev/
 * sgx_enclave", "//dev//sgx_enclave", "sgx_enclave" relative to a dirfd of
 * /dev or to a cwd of /dev, and "/dev/sgx/enclave" (a link to
 * ../sgx_enclave) all reach /dev/sgx_enclave.
 *
 * What the nodes look like (docs/architecture.md, "Device nodes"):
 * - Linux registers the three devices as misc devices (major 10) with
 *   dynamic minors; the minors here are fixed at 125 (sgx_enclave, the
 *   number real hosts commonly show), 124 (sgx_provision) and 123
 *   (sgx_vepc), handed out downwards in registration order as the misc
 *   driver's dynamic minors were.
 * - Mode, owner and group are those of systemd's 50-udev-default.rules
 *   (sgx_enclave and sgx_vepc: root, group "sgx", 0660) and of Intel's
 *   rules shipped with its SGX packages for sgx_provision (group "sgx_prv",
 *   0660) and the /dev/sgx/enclave and /dev/sgx/provision links. A group
 *   missing from /etc/group is reported as root's (gid 0), as udev leaves
 *   a node whose GROUP= it cannot resolve.
 * - Times are the host's boot time, as devtmpfs nodes made at boot show.
 * - nodeN/x86/sgx_total_bytes exists for every NUMA node the host has
 *   (Linux shows the x86/ group on every node once SGX is up), mode 0444;
 *   all EPC sections of the model are on node 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "shim/devfs.h"
#include "shim/thread.h"
#include "shim/shim.h"

_Static_assert(sizeof(struct stat) == 144, "struct stat is the kernel's on x86-64");

#define MISC_MAJOR 10
/* Inode numbers of our nodes: far above what devtmpfs and sysfs hand out. */
#define DEVFS_INO 0x5347000u
#define MAX_LINKS 40 /* Linux's MAXSYMLINKS */

static const struct chr_dev {
	const char *path;
	enum sgx_file_type type;
	unsigned int minor;
	const char *group;
} chr_devs[] = {
	{"/dev/sgx_enclave", SGX_FILE_ENCLAVE, 125, "sgx"},
	{"/dev/sgx_provision", SGX_FILE_PROVISION, 124, "sgx_prv"},
	{"/dev/sgx_vepc", SGX_FILE_VEPC, 123, "sgx"},
};

static const struct dev_link {
	const char *path;
	const char *target;
} dev_links[] = {
	{"/dev/sgx/enclave", "../sgx_enclave"},
	{"/dev/sgx/provision", "../sgx_provision"},
};

#define SYS_NODE "/sys/devices/system/node/node"

long devfs_sys(long nr, long a, long b, long c, long d, long e, long f)
{
	return shim_raw_syscall6(nr, a, b, c, d, e, f);
}

long devfs_ret(long ret)
{
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

static long sys_lstat(const char *path, struct stat *st)
{
	return devfs_sys(SYS_newfstatat, AT_FDCWD, (long)path, (long)st, AT_SYMLINK_NOFOLLOW, 0, 0);
}

static long sys_readlink(const char *path, char *buf, size_t len)
{
	return devfs_sys(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf, (long)len, 0, 0);
}

bool devfs_maybe(const char *path)
{
	if (!path)
		return false;
	/* Or a descriptor's link, which may be an SGX descriptor's. */
	return strstr(path, "sgx") ||
	       ((!strncmp(path, "/proc/", 6) || !strncmp(path, "/dev/fd/", 8)) &&
		strstr(path, "fd/"));
}

static _Atomic int nr_vdirs; /* close() and lookups look only when there are some */
static bool vdir_fd(int fd);

bool devfs_maybe_at(int dirfd, const char *path)
{
	/* Relative to one of our directories, any name may be ours. */
	return devfs_maybe(path) || (path && path[0] != '/' && vdir_fd(dirfd));
}

/* Set once; computing twice is harmless, so no lock (async-signal safety). */
static struct {
	_Atomic bool done;
	struct timespec boot;
	dev_t dev_dev, sys_dev;
	gid_t gid_sgx, gid_sgx_prv;
} facts;

/* gid of @name in /etc/group, read with raw calls; 0 when it has none. */
static gid_t group_gid(const char *name)
{
	size_t nlen = strlen(name), cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	gid_t gid = 0;
	long fd, n;

	if (!buf)
		return 0;
	fd = devfs_sys(SYS_openat, AT_FDCWD, (long)"/etc/group", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		goto out;
	while (len < cap &&
	       (n = devfs_sys(SYS_read, fd, (long)(buf + len), (long)(cap - len), 0, 0, 0)) > 0)
		len += (size_t)n;
	devfs_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	buf[len] = '\0';
	/* name:password:gid:members */
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char *p;

		if (strncmp(line, name, nlen) || line[nlen] != ':')
			continue;
		p = strchr(line + nlen + 1, ':');
		if (p)
			gid = (gid_t)strtoul(p + 1, NULL, 10);
		break;
	}
out:
	free(buf);
	return gid;
}

static void load_facts(void)
{
	struct timespec real, boot;
	struct stat st;

	if (atomic_load(&facts.done))
		return;
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	/* The boot time to the second, so it does not drift between calls. */
	facts.boot.tv_sec = real.tv_sec - boot.tv_sec;
	facts.boot.tv_nsec = 0;
	facts.dev_dev = sys_lstat("/dev", &st) ? 0 : st.st_dev;
	facts.sys_dev = sys_lstat("/sys", &st) ? 0 : st.st_dev;
	facts.gid_sgx = group_gid("sgx");
	facts.gid_sgx_prv = group_gid("sgx_prv");
	atomic_store(&facts.done, true);
}

static const struct chr_dev *chr_of_type(enum sgx_file_type type)
{
	for (size_t i = 0; i < sizeof(chr_devs) / sizeof(chr_devs[0]); i++)
		if (chr_devs[i].type == type)
			return &chr_devs[i];
	return &chr_devs[0];
}

const char *devfs_dev_path(enum sgx_file_type type)
{
	return chr_of_type(type)->path;
}

void devfs_node_of_type(enum sgx_file_type type, struct devfs_node *node)
{
	const struct chr_dev *c = chr_of_type(type);

	memset(node, 0, sizeof(*node));
	node->kind = DEVFS_CHR;
	node->type = type;
	node->ino = DEVFS_INO + c->minor;
}

/* NUMA node @nid exists on the host. */
static bool host_node(int nid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), SYS_NODE "%d", nid);
	return !devfs_sys(SYS_newfstatat, AT_FDCWD, (long)path, (long)&st, 0, 0, 0) &&
	       S_ISDIR(st.st_mode);
}

/* "nodeN" + @rest at @p: N, or -1. */
static int parse_node(const char *p, const char *rest)
{
	char *end;
	long n;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	n = strtol(p, &end, 10);
	if (n < 0 || n > 4095 || strcmp(end, rest))
		return -1;
	return (int)n;
}

/* Whether canonical absolute @path is one of ours. */
static bool virtual_node(const char *path, struct devfs_node *node)
{
	int nid;

	memset(node, 0, sizeof(*node));
	for (size_t i = 0; i < sizeof(chr_devs) / sizeof(chr_devs[0]); i++) {
		if (!strcmp(path, chr_devs[i].path)) {
			devfs_node_of_type(chr_devs[i].type, node);
			return true;
		}
	}
	if (!strcmp(path, "/dev/sgx")) {
		node->kind = DEVFS_DIR;
		node->ino = DEVFS_INO + 1;
		return true;
	}
	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		if (!strcmp(path, dev_links[i].path)) {
			node->kind = DEVFS_LNK;
			node->link = dev_links[i].target;
			node->ino = DEVFS_INO + 2 + (unsigned int)i;
			return true;
		}
	}
	if (strncmp(path, SYS_NODE, strlen(SYS_NODE)))
		return false;
	path += strlen(SYS_NODE);
	nid = parse_node(path, "/x86");
	if (nid >= 0 && host_node(nid)) {
		node->kind = DEVFS_DIR;
		node->sys = true;
		node->numa_node = nid;
		node->ino = DEVFS_INO + 0x1000 + 2 * (unsigned int)nid;
		return true;
	}
	nid = parse_node(path, "/x86/sgx_total_bytes");
	if (nid >= 0 && host_node(nid)) {
		node->kind = DEVFS_REG;
		node->sys = true;
		node->numa_node = nid;
		node->ino = DEVFS_INO + 0x1001 + 2 * (unsigned int)nid;
		return true;
	}
	return false;
}

/*
 * Descriptors of our directories (shim/devdir.c): each is a descriptor of
 * an empty, already removed host directory, known by its identity, which
 * stands for the path it was opened as.
 */
#define MAX_VDIRS 64
static struct vdir {
	_Atomic int fd; /* -1: free */
	dev_t dev;
	ino_t ino;
	char path[96];
} vdirs[MAX_VDIRS] = {[0 ... MAX_VDIRS - 1] = {.fd = -1}};
static pthread_mutex_t vdirs_lock = PTHREAD_MUTEX_INITIALIZER;

static bool vdir_fd(int fd)
{
	if (fd < 0 || !atomic_load(&nr_vdirs))
		return false;
	for (int i = 0; i < MAX_VDIRS; i++)
		if (atomic_load(&vdirs[i].fd) == fd)
			return true;
	return false;
}

bool devfs_vdir_register(int fd, const char *path)
{
	struct stat st;
	bool done = false;

	if (devfs_sys(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) ||
	    strlen(path) >= sizeof(vdirs[0].path))
		return false;
	pthread_mutex_lock(&vdirs_lock);
	for (int i = 0; i < MAX_VDIRS && !done; i++) {
		if (atomic_load(&vdirs[i].fd) >= 0 && atomic_load(&vdirs[i].fd) != fd)
			continue;
		if (atomic_load(&vdirs[i].fd) < 0)
			atomic_fetch_add(&nr_vdirs, 1);
		vdirs[i].dev = st.st_dev;
		vdirs[i].ino = st.st_ino;
		strcpy(vdirs[i].path, path);
		atomic_store(&vdirs[i].fd, fd);
		done = true;
	}
	pthread_mutex_unlock(&vdirs_lock);
	return done;
}

void devfs_vdir_unregister(int fd)
{
	if (!atomic_load(&nr_vdirs))
		return;
	pthread_mutex_lock(&vdirs_lock);
	for (int i = 0; i < MAX_VDIRS; i++) {
		if (atomic_load(&vdirs[i].fd) == fd) {
			atomic_store(&vdirs[i].fd, -1);
			atomic_fetch_sub(&nr_vdirs, 1);
		}
	}
	pthread_mutex_unlock(&vdirs_lock);
}

void devfs_vdir_dup(int oldfd, int newfd)
{
	char path[PATH_MAX];

	if (oldfd == newfd || !atomic_load(&nr_vdirs))
		return;
	if (devfs_vdir_path(oldfd, path))
		devfs_vdir_register(newfd, path);
	else
		devfs_vdir_unregister(newfd);
}

/* The path of our directory open at @fd, into @out; false when @fd is none. */
bool devfs_vdir_path(int fd, char *out)
{
	struct stat st;
	bool found = false;

	if (!vdir_fd(fd) || devfs_sys(SYS_fstat, fd, (long)&st, 0, 0, 0, 0))
		return false;
	pthread_mutex_lock(&vdirs_lock);
	for (int i = 0; i < MAX_VDIRS && !found; i++) {
		if (atomic_load(&vdirs[i].fd) != fd || vdirs[i].dev != st.st_dev ||
		    vdirs[i].ino != st.st_ino)
			continue;
		strcpy(out, vdirs[i].path);
		found = true;
	}
	pthread_mutex_unlock(&vdirs_lock);
	return found;
}

bool devfs_vdir_node(int fd, struct devfs_node *node)
{
	char path[PATH_MAX];

	return fd >= 0 && devfs_vdir_path(fd, path) && virtual_node(path, node);
}

int devfs_dir_entries(const char *dir, struct devfs_dirent *out, int max)
{
	static const char *const names[] = {"sgx_enclave", "sgx_provision",  "sgx_vepc",
					    "sgx",	   "enclave",	     "provision",
					    "x86",	   "sgx_total_bytes"};
	static const unsigned char types[] = {[DEVFS_CHR] = DT_CHR,
					      [DEVFS_DIR] = DT_DIR,
					      [DEVFS_LNK] = DT_LNK,
					      [DEVFS_REG] = DT_REG};
	char path[PATH_MAX];
	struct devfs_node node;
	int n = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < max; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path) ||
		    !virtual_node(path, &node))
			continue;
		out[n].name = names[i];
		out[n].type = types[node.kind];
		out[n].ino = node.ino;
		n++;
	}
	return n;
}

/* The directory @dirfd names (or the cwd), "" for the root; false if none. */
static bool base_path(int dirfd, char *out)
{
	char link[32];
	long n;

	if (dirfd >= 0 && devfs_vdir_path(dirfd, out))
		return true;
	if (dirfd == AT_FDCWD) {
		n = devfs_sys(SYS_getcwd, (long)out, PATH_MAX, 0, 0, 0, 0);
		if (n <= 0 || out[0] != '/')
			return false;
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = sys_readlink(link, out, PATH_MAX - 1);
		if (n <= 0 || n >= PATH_MAX - 1 || out[0] != '/')
			return false;
		out[n] = '\0';
	}
	if (!strcmp(out, "/"))
		out[0] = '\0';
	return true;
}

/* Replace what is left to resolve by @target followed by @rest. */
static bool splice_link(char *work, size_t size, const char *target, const char *rest)
{
	char tmp[PATH_MAX * 2];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s%s", target, rest) >= size)
		return false;
	strcpy(work, tmp);
	return true;
}

int devfs_lookup(int dirfd, const char *path, bool nofollow, struct devfs_node *node, char *canon)
{
	char cur[PATH_MAX], cand[PATH_MAX], target[PATH_MAX], work[PATH_MAX * 2];
	struct devfs_node here = {0}, vn;
	bool in_virtual = false, through = false, slash;
	size_t plen;
	int links = 0;
	char *p;

	if (canon)
		canon[0] = '\0';
	if (!path || !*path)
		return 0;
	/* /proc/self/fd/N of an SGX descriptor: a link to its device node. */
	if (!nofollow) {
		const char *dev = devfs_fd_link(dirfd, path);

		if (dev)
			path = dev;
	}
	plen = strlen(path);
	if (plen >= PATH_MAX)
		return 0;
	slash = path[plen - 1] == '/';
	if (path[0] == '/')
		cur[0] = '\0';
	else if (!base_path(dirfd, cur))
		return 0;
	/* Relative to one of our directories (shim/devdir.c). */
	if (cur[0] && virtual_node(cur, &here))
		in_virtual = through = true;
	strcpy(work, path);
	p = work;
	for (;;) {
		char *comp, *rest;
		size_t clen;
		bool last;
		struct stat st;
		long n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - comp);
		rest = p;
		while (*rest == '/')
			rest++;
		last = !*rest;
		rest = p;
		if (clen == 1 && comp[0] == '.')
			continue;
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			char *s = strrchr(cur, '/');

			if (s)
				*s = '\0';
			in_virtual = virtual_node(cur, &here);
			continue;
		}
		if ((size_t)snprintf(cand, sizeof(cand), "%s/%.*s", cur, (int)clen, comp) >=
		    sizeof(cand))
			return 0;
		if (in_virtual) {
			if (here.kind != DEVFS_DIR)
				return -ENOTDIR;
			if (!virtual_node(cand, &vn))
				return -ENOENT;
		} else if (!virtual_node(cand, &vn)) {
			/* A host file: the host's own answer for anything that fails. */
			if (sys_lstat(cand, &st))
				return 0;
			if (S_ISLNK(st.st_mode) && (!last || !nofollow || slash)) {
				n = sys_readlink(cand, target, sizeof(target) - 1);
				if (n <= 0 || ++links > MAX_LINKS)
					return 0;
				target[n] = '\0';
				if (target[0] == '/')
					cur[0] = '\0';
				if (!splice_link(work, sizeof(work), target, rest))
					return 0;
				p = work;
				continue;
			}
			if (!last && !S_ISDIR(st.st_mode))
				return 0;
			strcpy(cur, cand);
			continue;
		}
		through = true;
		if (vn.kind == DEVFS_LNK && (!last || !nofollow || slash)) {
			if (++links > MAX_LINKS)
				return -ELOOP;
			if (vn.link[0] == '/')
				cur[0] = '\0';
			if (!splice_link(work, sizeof(work), vn.link, rest))
				return -ENAMETOOLONG;
			p = work;
			continue;
		}
		strcpy(cur, cand);
		here = vn;
		in_virtual = true;
	}
	if (!in_virtual) {
		if (!canon)
			return 0;
		strcpy(canon, cur[0] ? cur : "/");
		/* "/dev/sgx/../null": the host knows it only by its own name. */
		return through ? 2 : 0;
	}
	if (slash && here.kind != DEVFS_DIR)
		return -ENOTDIR;
	*node = here;
	if (canon)
		strcpy(canon, cur);
	return 1;
}

static mode_t node_mode(const struct devfs_node *node)
{
	switch (node->kind) {
	case DEVFS_CHR:
		return S_IFCHR | 0660;
	case DEVFS_DIR:
		return S_IFDIR | 0755;
	case DEVFS_LNK:
		return S_IFLNK | 0777;
	default:
		return S_IFREG | 0444;
	}
}

static gid_t node_gid(const struct devfs_node *node)
{
	if (node->kind != DEVFS_CHR)
		return 0;
	return node->type == SGX_FILE_PROVISION ? facts.gid_sgx_prv : facts.gid_sgx;
}

static off_t node_size(const struct devfs_node *node)
{
	switch (node->kind) {
	case DEVFS_DIR:
		/* tmpfs counts 20 bytes per entry with . and ..; sysfs shows 0. */
		return node->sys ? 0 : 80;
	case DEVFS_LNK:
		return (off_t)strlen(node->link);
	case DEVFS_REG:
		return 4096; /* sysfs attributes all claim a page */
	default:
		return 0;
	}
}

void devfs_fill_stat(const struct devfs_node *node, struct stat *st)
{
	load_facts();
	memset(st, 0, sizeof(*st));
	st->st_dev = node->sys ? facts.sys_dev : facts.dev_dev;
	st->st_ino = node->ino;
	st->st_mode = node_mode(node);
	st->st_nlink = node->kind == DEVFS_DIR ? 2 : 1;
	st->st_uid = 0;
	st->st_gid = node_gid(node);
	if (node->kind == DEVFS_CHR)
		st->st_rdev = makedev(MISC_MAJOR, chr_of_type(node->type)->minor);
	st->st_size = node_size(node);
	st->st_blksize = 4096;
	st->st_blocks = 0;
	st->st_atim = facts.boot;
	st->st_mtim = facts.boot;
	st->st_ctim = facts.boot;
}

void devfs_fill_statx(const struct devfs_node *node, struct statx *stx)
{
	struct stat st;

	devfs_fill_stat(node, &st);
	memset(stx, 0, sizeof(*stx));
	stx->stx_mask = STATX_BASIC_STATS | STATX_BTIME;
	stx->stx_blksize = (uint32_t)st.st_blksize;
	stx->stx_nlink = (uint32_t)st.st_nlink;
	stx->stx_uid = st.st_uid;
	stx->stx_gid = st.st_gid;
	stx->stx_mode = (uint16_t)st.st_mode;
	stx->stx_ino = st.st_ino;
	stx->stx_size = (uint64_t)st.st_size;
	stx->stx_blocks = 0;
	stx->stx_atime.tv_sec = stx->stx_btime.tv_sec = stx->stx_ctime.tv_sec =
		stx->stx_mtime.tv_sec = st.st_mtim.tv_sec;
	stx->stx_rdev_major = major(st.st_rdev);
	stx->stx_rdev_minor = minor(st.st_rdev);
	stx->stx_dev_major = major(st.st_dev);
	stx->stx_dev_minor = minor(st.st_dev);
}

static bool in_groups(gid_t gid)
{
	gid_t list[256];
	int n = getgroups(256, list);

	for (int i = 0; i < n; i++)
		if (list[i] == gid)
			return true;
	return false;
}

/* generic_permission(): the owner's, the group's or the others' bits; root overrides. */
int devfs_access(const struct devfs_node *node, int mode, bool effective)
{
	uid_t uid = effective ? geteuid() : getuid();
	gid_t gid = effective ? getegid() : getgid();
	mode_t perm = node_mode(node) & 0777, bits;

	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	load_facts();
	if (mode == F_OK)
		return 0;
	if (uid == 0) {
		/* Root may execute only what someone may: a directory, or any x bit. */
		if ((mode & X_OK) && node->kind != DEVFS_DIR && !(perm & 0111))
			return -EACCES;
		return 0;
	}
	/* Our nodes belong to root: the group's bits, or the others'. */
	if (gid == node_gid(node) || in_groups(node_gid(node)))
		bits = (perm >> 3) & 7;
	else
		bits = perm & 7;
	return (mode & ~(int)bits) ? -EACCES : 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* "/proc/<our pid>/fd" or "/proc/<our pid>/task/<tid>/fd", with @tail after it. */
static const char *after_own_fd_dir(const char *path)
{
	char prefix[48];
	size_t len;

	if (!strncmp(path, "/proc/self/fd", 13))
		return path + 13;
	if (!strncmp(path, "/proc/thread-self/fd", 20))
		return path + 20;
	if (!strncmp(path, "/dev/fd", 7))
		return path + 7;
	len = (size_t)snprintf(prefix, sizeof(prefix), "/proc/%d/", (int)getpid());
	if (strncmp(path, prefix, len))
		return NULL;
	path += len;
	if (!strncmp(path, "task/", 5)) {
		path += 5;
		while (*path >= '0' && *path <= '9')
			path++;
		if (*path != '/')
			return NULL;
		path++;
	}
	return strncmp(path, "fd", 2) ? NULL : path + 2;
}

const char *devfs_fd_link(int dirfd, const char *path)
{
	char dir[PATH_MAX];
	const char *num = NULL, *s;
	struct sgx_file *f;
	enum sgx_file_type type;
	long fd;

	if (!path)
		return NULL;
	if (path[0] != '/' && dirfd != AT_FDCWD) {
		if (!all_digits(path) || !base_path(dirfd, dir))
			return NULL;
		s = after_own_fd_dir(dir);
		if (!s || *s)
			return NULL;
		num = path;
	} else {
		s = after_own_fd_dir(path);
		if (!s || *s != '/')
			return NULL;
		num = s + 1;
		if (!all_digits(num))
			return NULL;
	}
	fd = strtol(num, NULL, 10);
	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	if (shim_service_mode())
		return shim_svc_fd_type((int)fd, &type) ? devfs_dev_path(type) : NULL;
	f = shim_fget((int)fd);
	if (!f)
		return NULL;
	type = f->type;
	shim_model_get();
	sgx_file_put(f);
	shim_model_put();
	return devfs_dev_path(type);
}
