// SPDX-License-Identifier: MIT
/*
 * service/socket_dir.c: the directory's name and checks (mode, owner,
 * symlinks), the lock and pid file, and a stale socket replaced.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"
#include "service/socket_dir.h"

static char tmp[128];

static int setup(void **state)
{
	(void)state;
	cli_tmpdir_make(tmp, sizeof(tmp), "svcdir");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cli_tmpdir_remove(tmp);
	return 0;
}

static void test_path(void **state)
{
	char buf[256], out[256];

	(void)state;
	setenv("SOFTSGX_RUNTIME_DIR", "/x/y", 1);
	assert_int_equal(svc_dir_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/y");
	unsetenv("SOFTSGX_RUNTIME_DIR");
	setenv("XDG_RUNTIME_DIR", "/run/user/5", 1);
	assert_int_equal(svc_dir_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/5/softsgx");
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(svc_dir_path(buf, sizeof(buf)), 0);
	snprintf(buf + 128, 64, "/tmp/softsgx-%u", (unsigned int)geteuid());
	assert_string_equal(buf, buf + 128);
	assert_int_equal(svc_dir_path(buf, 8), -ENAMETOOLONG);
	/* A socket path longer than sun_path. */
	memset(buf, 'a', 200);
	buf[0] = '/';
	buf[200] = '\0';
	assert_int_equal(svc_dir_file(buf, SVC_SOCK_NAME, out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(svc_dir_file("/d", SVC_SOCK_NAME, out, sizeof(out)), 0);
	assert_string_equal(out, "/d/platform.sock");
}

static void test_create_and_modes(void **state)
{
	char d[256], why[300];
	struct stat st;

	(void)state;
	snprintf(d, sizeof(d), "%s/rt", tmp);
	assert_int_equal(svc_dir_check(d, false, why, sizeof(why)), -ENOENT);
	assert_int_equal(svc_dir_check(d, true, why, sizeof(why)), 0);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Wider modes are refused, each with the reason. */
	assert_int_equal(chmod(d, 0755), 0);
	assert_int_equal(svc_dir_check(d, true, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "mode 0755; it must be 0700"));
	assert_int_equal(chmod(d, 0710), 0);
	assert_int_equal(svc_dir_check(d, true, why, sizeof(why)), -EPERM);
	assert_int_equal(chmod(d, 0700), 0);
	assert_int_equal(svc_dir_check(d, false, NULL, 0), 0);
}

static void test_symlink_and_file(void **state)
{
	char d[256], l[256], f[256], why[300];
	FILE *fp;

	(void)state;
	snprintf(d, sizeof(d), "%s/real", tmp);
	snprintf(l, sizeof(l), "%s/link", tmp);
	snprintf(f, sizeof(f), "%s/file", tmp);
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(symlink(d, l), 0);
	assert_int_equal(svc_dir_check(l, true, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "symbolic link"));
	fp = fopen(f, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(svc_dir_check(f, true, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "not a directory"));
}

static void test_other_owner(void **state)
{
	char d[256], why[300];

	(void)state;
	if (geteuid() != 0) {
		printf("skip: giving a directory to another uid needs root\n");
		skip();
	}
	snprintf(d, sizeof(d), "%s/theirs", tmp);
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(chown(d, 65534, 65534), 0);
	assert_int_equal(svc_dir_check(d, true, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "belongs to uid 65534"));
}

static void test_lock(void **state)
{
	pid_t holder = 1, child;
	int fd, status, pipefd[2];
	char c;

	(void)state;
	assert_int_equal(svc_lock_holder(tmp), 0);
	fd = svc_lock_take(tmp, &holder);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	assert_int_equal(svc_lock_holder(tmp), -1); /* held, no pid yet */
	assert_int_equal(svc_lock_set_pid(fd, 4242), 0);
	/* flock() conflicts between open file descriptions: a second open is refused. */
	assert_int_equal(svc_lock_take(tmp, &holder), -EALREADY);
	assert_int_equal(holder, 4242);
	assert_int_equal(svc_lock_holder(tmp), 4242);
	close(fd);
	assert_int_equal(svc_lock_holder(tmp), 0);
	/* A holder that dies lets go, whatever its pid file says. */
	assert_int_equal(pipe(pipefd), 0);
	child = fork();
	if (!child) {
		pid_t h;
		int lfd = svc_lock_take(tmp, &h);

		svc_lock_set_pid(lfd, getpid());
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(svc_lock_holder(tmp), child);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	assert_int_equal(svc_lock_holder(tmp), 0);
	fd = svc_lock_take(tmp, &holder);
	assert_true(fd >= 0);
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void test_stale_socket(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = sa.sun_path;
	int old, fd, c;

	(void)state;
	assert_int_equal(svc_dir_file(tmp, SVC_SOCK_NAME, sa.sun_path, sizeof(sa.sun_path)), 0);
	/* A socket bound and closed: connect() is refused, as after SIGKILL. */
	old = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(old, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(old);
	fd = svc_listen(tmp);
	assert_true(fd >= 0);
	c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(c);
	/* A live listener there is not ours to replace. */
	assert_int_equal(svc_listen(tmp), -EADDRINUSE);
	close(fd);
	/* Nor is a file that is no socket. */
	unlink(path);
	fclose(fopen(path, "w"));
	assert_int_equal(svc_listen(tmp), -EEXIST);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test_setup_teardown(test_create_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_and_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
