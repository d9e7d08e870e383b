// SPDX-License-Identifier: MIT
/*
 * make install into a staging tree: the files land where documented, a
 * program builds against the installed headers, library and pkg-config
 * data and runs, and the installed `softsgx run` finds its installed shim;
 * make uninstall removes exactly those files. And the build's own output:
 * a short line per step, the commands with V=1.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define STAGE "build/install-test"
#define ROOT STAGE "/usr"
/* make as a user runs it, not steered by the `make check` around us. */
#define MAKE_CLEAN "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory"
#define QUIET_OBJ  STAGE "/quiet/tools/cli.o"

static int sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int group_setup(void **state)
{
	(void)state;
	/* The environment of make check must not steer the install. */
	return sh("rm -rf " STAGE " && env -u MAKEFLAGS -u MFLAGS make -s install "
		  "DESTDIR=" STAGE " PREFIX=/usr >/dev/null");
}

static void test_files(void **state)
{
	static const char *const files[] = {
		ROOT "/bin/softsgx",
		ROOT "/lib/softsgx/libsoftsgx-preload.so",
		ROOT "/lib/libsoftsgx.so.0.2.0",
		ROOT "/lib/libsoftsgx.so.0",
		ROOT "/lib/libsoftsgx.so",
		ROOT "/lib/libsoftsgx.a",
		ROOT "/lib/pkgconfig/softsgx.pc",
		ROOT "/include/softsgx/softsgx.h",
		ROOT "/include/softsgx/sgx_uapi.h",
		ROOT "/include/softsgx/sgx_arch.h",
		ROOT "/include/softsgx/compiler.h",
		ROOT "/include/softsgx/loader.h",
		ROOT "/include/softsgx/sign.h",
		ROOT "/share/man/man1/softsgx.1",
		ROOT "/share/bash-completion/completions/softsgx",
	};
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (stat(files[i], &st))
			fail_msg("%s is missing", files[i]);
	assert_int_equal(sh("grep -qx 'prefix=/usr' " ROOT "/lib/pkgconfig/softsgx.pc"), 0);
	assert_int_equal(sh("grep -qx 'Libs: -L${libdir} -lsoftsgx' " ROOT
			    "/lib/pkgconfig/softsgx.pc"), 0);
	/* The soname is the major version. */
	assert_int_equal(sh("objdump -p " ROOT "/lib/libsoftsgx.so.0.2.0 | "
			    "grep -q 'SONAME *libsoftsgx.so.0'"), 0);
}

static void test_program_builds_against_install(void **state)
{
	FILE *f;

	(void)state;
	f = fopen(STAGE "/prog.c", "w");
	assert_non_null(f);
	fputs("#include <fcntl.h>\n"
	      "#include <stdio.h>\n"
	      "#include <softsgx/softsgx.h>\n"
	      "int main(void)\n"
	      "{\n"
	      "	struct softsgx_config cfg;\n"
	      "	struct softsgx_platform *p;\n"
	      "	int fd;\n"
	      "	softsgx_default_config(&cfg);\n"
	      "	p = softsgx_platform_new(&cfg);\n"
	      "	if (!p)\n"
	      "		return 1;\n"
	      "	fd = softsgx_open(p, \"/dev/sgx_enclave\", O_RDWR);\n"
	      "	printf(\"fd %d\\n\", fd);\n"
	      "	softsgx_platform_free(p);\n"
	      "	return fd < 0;\n"
	      "}\n",
	      f);
	assert_int_equal(fclose(f), 0);
	/* pkg-config with the staged prefix, as a distribution's build would. */
	assert_int_equal(sh("cd " STAGE " && cc prog.c -o prog "
			    "$(PKG_CONFIG_SYSROOT_DIR=$PWD PKG_CONFIG_LIBDIR=$PWD/usr/lib/pkgconfig "
			    "pkg-config --cflags --libs softsgx) -lcrypto -pthread"),
			 0);
	assert_int_equal(sh("LD_LIBRARY_PATH=" ROOT "/lib " STAGE "/prog | grep -q '^fd 0$'"), 0);
}

/* Issue 19: a C++ program includes every installed header and links. */
static void test_cxx_program_builds_against_install(void **state)
{
	FILE *f;

	(void)state;
	if (sh("command -v c++ >/dev/null")) {
		print_message("skipped: no C++ compiler (c++) on this host\n");
		skip();
	}
	f = fopen(STAGE "/prog.cc", "w");
	assert_non_null(f);
	fputs("#include <cstring>\n"
	      "#include <softsgx/compiler.h>\n"
	      "#include <softsgx/sgx_arch.h>\n"
	      "#include <softsgx/sgx_uapi.h>\n"
	      "#include <softsgx/softsgx.h>\n"
	      "int main()\n"
	      "{\n"
	      "	return std::strcmp(softsgx_version(), SOFTSGX_VERSION) != 0;\n"
	      "}\n",
	      f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(sh("cd " STAGE " && c++ -std=c++17 -Wall -Wextra -Werror prog.cc -o progxx "
			    "$(PKG_CONFIG_SYSROOT_DIR=$PWD PKG_CONFIG_LIBDIR=$PWD/usr/lib/pkgconfig "
			    "pkg-config --cflags --libs softsgx)"),
			 0);
	assert_int_equal(sh("LD_LIBRARY_PATH=" ROOT "/lib " STAGE "/progxx"), 0);
}

static void test_installed_run_finds_shim(void **state)
{
	(void)state;
	assert_int_equal(sh("env -u SOFTSGX_PRELOAD " ROOT "/bin/softsgx run -- sh -c "
			    "'case $LD_PRELOAD in */lib/softsgx/libsoftsgx-preload.so) exit 0;; "
			    "esac; exit 1'"),
			 0);
}

/*
 * Every file install put is gone, nothing else is: a file of another
 * package in the same directories stays, and so do those directories.
 */
static void test_uninstall(void **state)
{
	(void)state;
	assert_int_equal(sh("touch " ROOT "/bin/other " ROOT "/lib/libother.so"), 0);
	assert_int_equal(sh(MAKE_CLEAN " -s uninstall DESTDIR=" STAGE " PREFIX=/usr"), 0);
	/* What is left: the two foreign files, and no softsgx file or link. */
	assert_int_equal(sh("test \"$(cd " ROOT " && find . ! -type d | sort | tr '\\n' ' ')\" = "
			    "'./bin/other ./lib/libother.so '"),
			 0);
	/* softsgx's own directories went with their files; shared ones stay. */
	assert_int_equal(sh("test ! -e " ROOT "/lib/softsgx && test ! -e " ROOT
			    "/include/softsgx && test -d " ROOT "/share/man/man1"),
			 0);
	/* Again: nothing left to remove is no error. */
	assert_int_equal(sh(MAKE_CLEAN " -s uninstall DESTDIR=" STAGE " PREFIX=/usr"), 0);
}

/*
 * `make` prints "  CC  TARGET" per step and no command; `make V=1` the
 * command and no such line. One object, built into a directory of its own.
 */
static void test_quiet_build(void **state)
{
	(void)state;
	assert_int_equal(sh("test \"$(" MAKE_CLEAN " -B CHECK_DIR=" STAGE "/quiet " QUIET_OBJ
			    " 2>&1)\" = '  CC  " QUIET_OBJ "'"),
			 0);
	assert_int_equal(sh("out=$(" MAKE_CLEAN " -B V=1 CHECK_DIR=" STAGE "/quiet " QUIET_OBJ
			    " 2>&1) && case $out in *'  CC  '*) exit 1;; "
			    "*' -c tools/cli.c -o " QUIET_OBJ "'*) exit 0;; esac; exit 1"),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_program_builds_against_install),
		cmocka_unit_test(test_cxx_program_builds_against_install),
		cmocka_unit_test(test_installed_run_finds_shim),
		cmocka_unit_test(test_quiet_build),
		/* Last: it removes what the others use. */
		cmocka_unit_test(test_uninstall),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
