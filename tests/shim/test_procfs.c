// SPDX-License-Identifier: MIT
/*
 * /proc/cpuinfo and /sys/devices/system/node/nodeN/x86/sgx_total_bytes as
 * SGX-aware tools read them (grep sgx /proc/cpuinfo; the EPC size per
 * node), under `softsgx run --epc 8M --sections 2`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/shim/shim_test.h"

#define EPC_BYTES (8ull << 20)
#define NODE0	  "/sys/devices/system/node/node0"
#define TOTAL0	  NODE0 "/x86/sgx_total_bytes"

static bool has_flag(const char *flags, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = flags; (p = strstr(p, name)); p += n)
		if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* Every "flags" line has sgx and sgx_lc once, where Linux prints them. */
static void check_cpuinfo(FILE *fp)
{
	char line[8192];
	unsigned int processors = 0, flag_lines = 0;

	while (fgets(line, sizeof(line), fp)) {
		if (!strncmp(line, "processor", 9))
			processors++;
		if (strncmp(line, "flags", 5) || strspn(line + 5, " \t") + 5 != strcspn(line, ":"))
			continue;
		flag_lines++;
		assert_true(has_flag(line, "sgx"));
		assert_true(has_flag(line, "sgx_lc"));
		/* Once: not added beside a host's own. */
		if (strstr(line, " sgx "))
			assert_null(strstr(strstr(line, " sgx ") + 1, " sgx "));
		if (has_flag(line, "tsc_adjust"))
			assert_non_null(strstr(line, " tsc_adjust sgx "));
		if (has_flag(line, "movdir64b") && !has_flag(line, "enqcmd"))
			assert_non_null(strstr(line, " movdir64b sgx_lc"));
		/* Flags only: "vmx flags" lines are left alone. */
	}
	assert_true(processors > 0);
	assert_int_equal(flag_lines, processors);
}

static void test_cpuinfo_has_sgx_flags(void **state)
{
	FILE *fp = fopen("/proc/cpuinfo", "r");
	int fd, procfd;
	char c;

	(void)state;
	assert_non_null(fp);
	check_cpuinfo(fp);
	fclose(fp);

	/* open() and read(), and openat() relative to /proc. */
	fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	fp = fdopen(fd, "r");
	check_cpuinfo(fp);
	fclose(fp);
	procfd = open("/proc", O_RDONLY | O_DIRECTORY);
	assert_true(procfd >= 0);
	fd = openat(procfd, "cpuinfo", O_RDONLY);
	assert_true(fd >= 0);
	/* Read-only, as the real file. */
	assert_int_equal(write(fd, "x", 1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'p');
	close(fd);
	assert_int_equal(openat(procfd, "cpuinfo", O_RDWR), -1);
	assert_int_equal(errno, EACCES);
	close(procfd);
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
}

static void test_sgx_total_bytes(void **state)
{
	char buf[64], path[PATH_MAX], want[32];
	struct stat st;
	FILE *fp;

	(void)state;
	if (access(NODE0, F_OK)) {
		printf("skipped: the host kernel shows no NUMA nodes in sysfs (%s)\n", NODE0);
		skip();
	}
	snprintf(want, sizeof(want), "%llu\n", EPC_BYTES);
	read_file(TOTAL0, buf, sizeof(buf));
	assert_string_equal(buf, want);
	fp = fopen(TOTAL0, "re");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	assert_string_equal(buf, want);
	fclose(fp);
	/* Through /sys/bus/node, a link of the host's. */
	if (!access("/sys/bus/node/devices/node0", F_OK)) {
		read_file("/sys/bus/node/devices/node0/x86/sgx_total_bytes", buf, sizeof(buf));
		assert_string_equal(buf, want);
	}

	assert_int_equal(stat(TOTAL0, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal(st.st_size, 4096);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(stat(NODE0 "/x86", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(access(TOTAL0, R_OK), 0);
	assert_int_equal(access(NODE0 "/x86", X_OK), 0);
	assert_int_equal(open(TOTAL0, O_WRONLY), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(stat(NODE0 "/x86/nothing", &st), -1);
	assert_int_equal(errno, ENOENT);

	/* Every other node the host has shows the attribute, with no EPC. */
	for (int nid = 1; nid < 64; nid++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", nid);
		if (access(path, F_OK)) {
			strcat(path, "/x86/sgx_total_bytes");
			assert_int_equal(access(path, F_OK), -1);
			continue;
		}
		strcat(path, "/x86/sgx_total_bytes");
		read_file(path, buf, sizeof(buf));
		assert_string_equal(buf, "0\n");
	}
}

int main(int argc, char **argv)
{
	static const char *const run_options[] = {"--epc", "8M", "--sections", "2", NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpuinfo_has_sgx_flags),
		cmocka_unit_test(test_sgx_total_bytes),
	};

	shim_test_reexec(argc, argv, run_options);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
