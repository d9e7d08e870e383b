// SPDX-License-Identifier: MIT
/*
 * A program that holds EPC until told to stop, for tests of `softsgx top`:
 * run under `softsgx run`, it builds an enclave of a TCS and REG_PAGES
 * regular pages (ECREATE and ADD_PAGES only: no key, no EINIT) and maps
 * VEPC_PAGES of /dev/sgx_vepc, touching every other one, prints
 * "ready PID" on stdout and waits until stdin closes.
 *
 *   epc_holder [REG_PAGES [VEPC_PAGES [fork]]]     (defaults 100 and 8)
 *
 * With "fork", it first forks a child that exits at once through exit():
 * the child's exit must not take the parent's stats file with it.
 *
 * Exit status 0, or 1 with a message when a step fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

static uint8_t page_buf[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
static struct sgx_secs secs_buf __attribute__((aligned(4096)));

static void die(const char *what)
{
	fprintf(stderr, "epc_holder: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* An ELRANGE-aligned address range nothing else uses. */
static uint64_t free_base(uint64_t size)
{
	uint8_t *p = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return ((uintptr_t)p + size - 1) & ~(size - 1);
}

static void add(int fd, uint64_t offset, uint64_t flags)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = flags};
	struct sgx_enclave_add_pages a = {
		.src = (uintptr_t)page_buf,
		.offset = offset,
		.length = SGX_PAGE_SIZE,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};

	if (ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a))
		die("SGX_IOC_ENCLAVE_ADD_PAGES");
}

static void build_enclave(unsigned long nr_reg)
{
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs_buf};
	struct sgx_tcs *tcs = (struct sgx_tcs *)page_buf;
	uint64_t size = SGX_PAGE_SIZE;
	int fd;

	while (size < (nr_reg + 2) * SGX_PAGE_SIZE)
		size *= 2;
	fd = open("/dev/sgx_enclave", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/sgx_enclave");
	secs_buf.base = free_base(size);
	secs_buf.size = size;
	secs_buf.ssa_frame_size = 1;
	secs_buf.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs_buf.xfrm = 3;
	if (ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create))
		die("SGX_IOC_ENCLAVE_CREATE");
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	add(fd, 0, SGX_SECINFO_TCS);
	for (unsigned long i = 1; i <= nr_reg; i++) {
		memset(page_buf, (int)i, sizeof(page_buf));
		add(fd, i * SGX_PAGE_SIZE, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
	}
}

static void map_vepc(unsigned long nr)
{
	volatile uint8_t *v;
	int fd;

	if (!nr)
		return;
	fd = open("/dev/sgx_vepc", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/sgx_vepc");
	v = mmap(NULL, nr * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (v == MAP_FAILED)
		die("mmap /dev/sgx_vepc");
	for (unsigned long i = 0; i < nr; i += 2)
		v[i * SGX_PAGE_SIZE] = 1;
}

int main(int argc, char **argv)
{
	unsigned long nr_reg = argc > 1 ? strtoul(argv[1], NULL, 0) : 100;
	unsigned long nr_vepc = argc > 2 ? strtoul(argv[2], NULL, 0) : 8;
	char c;

	if (argc > 3 && !strcmp(argv[3], "fork")) {
		pid_t child = fork();
		int status;

		if (child < 0)
			die("fork");
		if (child == 0)
			exit(0);
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
			die("waitpid");
	}
	build_enclave(nr_reg);
	map_vepc(nr_vepc);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	return 0;
}
