/* SPDX-License-Identifier: MIT */
/*
 * Where the platform service lives: one directory per user, private to that
 * user, holding the socket (platform.sock), the lock and pid file
 * (platform.pid) and the daemon's log (service.log).
 *
 * The directory: $SOFTSGX_RUNTIME_DIR when set (tests), else
 * $XDG_RUNTIME_DIR/softsgx, else /tmp/softsgx-$UID. It must be a directory
 * (not a symlink) owned by the effective uid with no group or other
 * permission bits: in a shared /tmp anyone could create the fallback name
 * first, so an existing one is checked, never trusted.
 */
#ifndef SOFTSGX_SERVICE_SOCKET_DIR_H
#define SOFTSGX_SERVICE_SOCKET_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SVC_SOCK_NAME "platform.sock"
#define SVC_LOCK_NAME "platform.pid"
#define SVC_LOG_NAME  "service.log"

/* The directory's path into @buf. 0 or -ENAMETOOLONG. */
int svc_dir_path(char *buf, size_t len);

/*
 * Check the directory (creating it 0700 first when @create and it is
 * missing). 0; -ENOENT when it is missing and !@create; -EPERM when it is a
 * symlink, not a directory, owned by another uid or open to group or others
 * (@why, when not NULL, gets a sentence saying which); other -errno.
 */
int svc_dir_check(const char *dir, bool create, char *why, size_t whylen);

/* @dir/@name into @buf, short enough for sun_path. 0 or -ENAMETOOLONG. */
int svc_dir_file(const char *dir, const char *name, char *buf, size_t len);

/*
 * Take the service lock (flock on platform.pid): the descriptor holding it,
 * or -EALREADY when another process holds it (*@holder: its pid from the
 * file, 0 when not yet written), or another -errno.
 */
int svc_lock_take(const char *dir, pid_t *holder);
/* Record @pid in the lock file behind @fd. 0 or -errno. */
int svc_lock_set_pid(int fd, pid_t pid);
/*
 * The pid of the service holding the lock; 0 when none does; -1 when one
 * does but its pid is not (or no longer) in the file: starting or exiting.
 */
pid_t svc_lock_holder(const char *dir);

/*
 * With the lock held: a listening SOCK_SEQPACKET socket at
 * @dir/platform.sock. A socket left by a killed service (connect() refused)
 * is removed first; any other file there is an error (-EEXIST). Returns the
 * descriptor (close-on-exec, non-blocking) or -errno.
 */
int svc_listen(const char *dir);

#endif /* SOFTSGX_SERVICE_SOCKET_DIR_H */
