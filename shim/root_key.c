// SPDX-License-Identifier: MIT
/*
 * The platform's root key (what real CPUs fuse in) lives in the user's state
 * directory, so sealing keys and report keys stay the same across runs, as
 * on one machine. Deleting the file regenerates it at the next run.
 *
 * Location: $SOFTSGX_STATE_DIR, else $XDG_STATE_HOME/softsgx, else
 * ~/.local/state/softsgx; file "root-key", 16 bytes, mode 0600. The XDG
 * defaults are created as the XDG spec asks (missing parents too, 0700); a
 * SOFTSGX_STATE_DIR only as its last component, so that a typo does not make
 * a tree of directories (`softsgx run` checks it before the program starts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/shim.h"

/* @*explicit: the directory is SOFTSGX_STATE_DIR, not a default. */
static int state_dir(char *out, size_t len, bool *explicit)
{
	const char *dir = getenv("SOFTSGX_STATE_DIR");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	*explicit = dir && *dir;
	if (*explicit)
		n = snprintf(out, len, "%s", dir);
	else if (xdg && *xdg)
		n = snprintf(out, len, "%s/softsgx", xdg);
	else if (home && *home)
		n = snprintf(out, len, "%s/.local/state/softsgx", home);
	else
		return -ENOENT;
	return n < (int)len ? 0 : -ENAMETOOLONG;
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return mkdir(path, 0700) && errno != EEXIST ? -errno : 0;
}

static int read_key(const char *file, uint8_t key[SGX_ROOT_KEY_SIZE])
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, key, SGX_ROOT_KEY_SIZE);
	close(fd);
	return n == SGX_ROOT_KEY_SIZE ? 0 : -EINVAL;
}

/* Create @file with @key; a concurrent first run may win, then use its key. */
static int write_key(const char *file, const uint8_t key[SGX_ROOT_KEY_SIZE])
{
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, key, SGX_ROOT_KEY_SIZE);
	if (close(fd) || n != SGX_ROOT_KEY_SIZE) {
		unlink(file);
		return -EIO;
	}
	return 0;
}

void shim_root_key_load(struct sgx_hw *hw)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	uint8_t key[SGX_ROOT_KEY_SIZE];
	bool explicit;
	int ret;

	ret = state_dir(dir, sizeof(dir), &explicit);
	if (!ret && explicit)
		ret = mkdir(dir, 0700) && errno != EEXIST ? -errno : 0;
	else if (!ret)
		ret = make_dirs(dir);
	if (ret)
		goto ephemeral;
	snprintf(file, sizeof(file), "%s/root-key", dir);
	ret = read_key(file, key);
	if (ret == -ENOENT) {
		hw_get_root_key(hw, key);
		ret = write_key(file, key);
		if (ret == -EEXIST)
			ret = read_key(file, key);
	}
	if (ret)
		goto ephemeral;
	hw_set_root_key(hw, key);
	memset(key, 0, sizeof(key));
	return;
ephemeral:
	fprintf(stderr, "softsgx: no usable root key in the state directory (%s); "
			"sealing keys will differ between runs\n",
		strerror(-ret));
}
