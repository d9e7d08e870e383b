// SPDX-License-Identifier: MIT
/*
 * The test enclave's operations (test_enclave.h): freestanding C running on
 * the enclave's own stack, called from encl_entry.S. No libc, no relocations:
 * everything is reached PC-relative, so the image works at any base.
 */
#include <stddef.h>
#include <stdint.h>

#include "softsgx/sgx_arch.h"
#include "test_enclave.h"

#define ENCLU ".byte 0x0f, 0x01, 0xd7"

/* Bounds of the enclave image, from enclave.lds. */
extern char __encl_start[] __attribute__((visibility("hidden")));
extern char __encl_end[] __attribute__((visibility("hidden")));
extern char __encl_stack[] __attribute__((visibility("hidden")));

struct encl_result {
	uint64_t status;
	uint64_t value;
};

struct encl_result enclave_main(uint64_t op, uint64_t arg1, uint64_t arg2);

static uint8_t encl_buffer[TEST_ENCL_BUFFER_SIZE] __attribute__((aligned(64)));
static volatile uint64_t encl_magic = TEST_ENCL_MAGIC;

/* The compiler may emit calls to these for struct copies; there is no libc. */
void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

/* A memset the compiler may not drop as a dead store: for secrets. */
static void wipe(void *p, size_t n)
{
	volatile uint8_t *d = p;

	while (n--)
		*d++ = 0;
}

/* [addr, addr + len) lies entirely outside the enclave image. */
static int outside_enclave(uint64_t addr, uint64_t len)
{
	uint64_t start = (uintptr_t)__encl_start, end = (uintptr_t)__encl_end;

	if (addr + len < addr)
		return 0;
	return addr + len <= start || addr >= end;
}

/* [addr, addr + len) lies entirely inside the enclave image. */
static int inside_enclave(uint64_t addr, uint64_t len)
{
	uint64_t start = (uintptr_t)__encl_start, end = (uintptr_t)__encl_end;

	if (addr + len < addr)
		return 0;
	return addr >= start && addr + len <= end;
}

static struct encl_result result(uint64_t status, uint64_t value)
{
	struct encl_result r = {status, value};

	return r;
}

static struct encl_result op_copy(int in, uint64_t host, uint64_t len)
{
	if (len > sizeof(encl_buffer) || !outside_enclave(host, len))
		return result(TEST_ENCL_BAD_ARG, 0);
	if (in)
		memcpy(encl_buffer, (const void *)(uintptr_t)host, len);
	else
		memcpy((void *)(uintptr_t)host, encl_buffer, len);
	return result(TEST_ENCL_OK, 0);
}

static struct encl_result op_read(uint64_t addr)
{
	if (!inside_enclave(addr, sizeof(uint64_t)))
		return result(TEST_ENCL_BAD_ARG, 0);
	return result(TEST_ENCL_OK, *(volatile uint64_t *)(uintptr_t)addr);
}

static struct encl_result op_write(uint64_t addr, uint64_t value)
{
	if (!inside_enclave(addr, sizeof(uint64_t)))
		return result(TEST_ENCL_BAD_ARG, 0);
	*(volatile uint64_t *)(uintptr_t)addr = value;
	return result(TEST_ENCL_OK, 0);
}

static void raise_ud(void)
{
	asm volatile("ud2" ::: "memory");
}

static void raise_de(void)
{
	uint64_t rax = 1, rdx = 0, divisor = 0;

	asm volatile("div %2" : "+a"(rax), "+d"(rdx) : "r"(divisor) : "cc", "memory");
}

/* CPUID is illegal in enclave mode: #UD on hardware. */
static struct encl_result op_cpuid(uint64_t leaf, uint64_t subleaf)
{
	uint32_t eax = (uint32_t)leaf, ebx, ecx = (uint32_t)subleaf, edx;

	asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx) : : "memory");
	return result(TEST_ENCL_OK, (uint64_t)ebx << 32 | eax);
}

/* So is SYSCALL: an enclave cannot ask the kernel for anything directly. */
static struct encl_result op_syscall(uint64_t nr)
{
	uint64_t rax = nr;

	asm volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
	return result(TEST_ENCL_OK, rax);
}

/*
 * A busy loop for asynchronous events to interrupt. The sum lives in RBX and
 * R12-R15 (the AEX saves them in the SSA frame and replaces them with the
 * synthetic state; ERESUME must bring them back) and in memory at the same
 * time; any difference is a lost or corrupted register.
 */
static struct encl_result op_spin(uint64_t host_flag, uint64_t max)
{
	static volatile uint64_t mem_sum[TEST_ENCL_NR_TCS];
	volatile uint64_t *flag = (volatile uint64_t *)(uintptr_t)host_flag;
	volatile uint64_t *ms;
	uint64_t n = 0, bad = 0;
	uint64_t slot;

	if (!outside_enclave(host_flag, sizeof(*flag)))
		return result(TEST_ENCL_BAD_ARG, 0);
	/* Our own stack tells which TCS we run on: one slot each. */
	slot = ((uintptr_t)&n - (uintptr_t)__encl_stack) / TEST_ENCL_STACK_SIZE;
	if (slot >= TEST_ENCL_NR_TCS)
		return result(TEST_ENCL_BAD_ARG, 0);
	ms = &mem_sum[slot];
	*ms = 0;
	while (!*flag && (!max || n < max)) {
		asm volatile("mov %[s], %%r12\n\t"
			     "mov %[s], %%r13\n\t"
			     "mov %[s], %%r14\n\t"
			     "mov %[s], %%r15\n\t"
			     "mov %[s], %%rbx\n\t"
			     "mov $64, %%ecx\n"
			     "1:\tadd $3, %%r12\n\t"
			     "add $3, %%r13\n\t"
			     "add $3, %%r14\n\t"
			     "add $3, %%r15\n\t"
			     "add $3, %%rbx\n\t"
			     "dec %%ecx\n\t"
			     "jnz 1b\n\t"
			     "cmp %%r12, %%r13\n\t"
			     "jne 2f\n\t"
			     "cmp %%r12, %%r14\n\t"
			     "jne 2f\n\t"
			     "cmp %%r12, %%r15\n\t"
			     "jne 2f\n\t"
			     "cmp %%r12, %%rbx\n\t"
			     "jne 2f\n\t"
			     "mov %%r12, %[s]\n\t"
			     "jmp 3f\n"
			     "2:\tincq %[bad]\n"
			     "3:"
			     : [s] "+m"(*ms), [bad] "+m"(bad)
			     :
			     : "rbx", "rcx", "r12", "r13", "r14", "r15", "cc", "memory");
		n++;
		if (bad || *ms != n * 64 * 3)
			return result(TEST_ENCL_BAD_STATE, n);
	}
	return result(TEST_ENCL_OK, n);
}

static uint8_t xsave_slots[TEST_ENCL_XSAVE_SLOTS][TEST_ENCL_XSAVE_SLOT_SIZE]
	__attribute__((aligned(64)));

/* XSAVE64 / XRSTOR64 of a slot, as a runtime does around an OCALL. */
static struct encl_result op_xsave(int save, uint64_t mask, uint64_t arg)
{
	uint64_t slot = arg >> 32, size = arg & 0xffffffff;
	uint8_t *area;
	uint32_t lo = (uint32_t)mask, hi = (uint32_t)(mask >> 32);

	if (slot >= TEST_ENCL_XSAVE_SLOTS || size < 576 || size > TEST_ENCL_XSAVE_SLOT_SIZE)
		return result(TEST_ENCL_BAD_ARG, 0);
	area = xsave_slots[slot];
	if (!save) {
		asm volatile("xrstor64 %0" : : "m"(*area), "a"(lo), "d"(hi) : "memory");
		return result(TEST_ENCL_OK, 0);
	}
	memset(area, TEST_ENCL_XSAVE_FILL, TEST_ENCL_XSAVE_SLOT_SIZE);
	/* The XSAVE header must start out zero for a later XRSTOR. */
	memset(area + 512, 0, 64);
	asm volatile("xsave64 %0" : "+m"(*area) : "a"(lo), "d"(hi) : "memory");
	for (uint64_t i = size; i < TEST_ENCL_XSAVE_SLOT_SIZE; i++)
		if (((volatile uint8_t *)area)[i] != TEST_ENCL_XSAVE_FILL)
			return result(TEST_ENCL_OVERRUN, i);
	return result(TEST_ENCL_OK, *(volatile uint64_t *)(area + 512));
}

/* Past the image, where the kernel adds pages at run time (SGX2). */
static int past_image(uint64_t addr, uint64_t len)
{
	uint64_t end = (uintptr_t)__encl_end;

	return addr + len >= addr && addr >= end;
}

/* A 64-byte aligned SECINFO with @flags and nothing else. */
struct encl_secinfo {
	uint64_t flags;
	uint8_t reserved[56];
} __attribute__((aligned(64)));

/* ENCLU[EACCEPT] (5) or ENCLU[EMODPE] (6): RBX = SECINFO, RCX = the page. */
static struct encl_result op_page_leaf(uint64_t leaf, uint64_t page, uint64_t flags)
{
	struct encl_secinfo si;
	uint64_t rax = leaf;

	memset(&si, 0, sizeof(si));
	si.flags = flags;
	asm volatile(ENCLU : "+a"(rax) : "b"(&si), "c"(page) : "cc", "memory");
	if (leaf == 5 && rax)
		return result(TEST_ENCL_SGX_ERROR, rax);
	return result(TEST_ENCL_OK, rax);
}

/* ENCLU[EACCEPTCOPY] (7): RBX = SECINFO, RCX = pending page, RDX = source. */
static struct encl_result op_eacceptcopy(uint64_t page, uint64_t src_flags)
{
	struct encl_secinfo si;
	uint64_t rax = 7;

	memset(&si, 0, sizeof(si));
	si.flags = (src_flags & 0xfff) | ((uint64_t)SGX_PAGE_TYPE_REG << 8);
	asm volatile(ENCLU
		     : "+a"(rax)
		     : "b"(&si), "c"(page), "d"(src_flags & ~0xfffULL)
		     : "cc", "memory");
	if (rax)
		return result(TEST_ENCL_SGX_ERROR, rax);
	return result(TEST_ENCL_OK, 0);
}

/* ENCLU[EREPORT]: RBX = TARGETINFO, RCX = REPORTDATA, RDX = REPORT, all in the enclave. */
static struct encl_result op_ereport(uint64_t host)
{
	struct test_encl_report_args *args = (struct test_encl_report_args *)(uintptr_t)host;
	struct sgx_targetinfo ti;
	uint8_t report_data[64] __attribute__((aligned(128)));
	struct sgx_report report __attribute__((aligned(SGX_REPORT_ALIGN)));
	uint64_t rax = SGX_EREPORT;

	if (!outside_enclave(host, sizeof(*args)))
		return result(TEST_ENCL_BAD_ARG, 0);
	memcpy(&ti, args->targetinfo, sizeof(ti));
	memcpy(report_data, args->report_data, sizeof(report_data));
	asm volatile(ENCLU : "+a"(rax) : "b"(&ti), "c"(report_data), "d"(&report) : "memory");
	memcpy(args->report, &report, sizeof(report));
	return result(TEST_ENCL_OK, 0);
}

/* ENCLU[EGETKEY]: RBX = KEYREQUEST, RCX = the 16-byte key; RAX = return code. */
static struct encl_result op_egetkey(uint64_t host_req, uint64_t host_key)
{
	struct sgx_keyrequest req;
	uint8_t key[16] __attribute__((aligned(16)));
	uint64_t rax = SGX_EGETKEY;

	if (!outside_enclave(host_req, sizeof(req)) || !outside_enclave(host_key, sizeof(key)))
		return result(TEST_ENCL_BAD_ARG, 0);
	memcpy(&req, (const void *)(uintptr_t)host_req, sizeof(req));
	asm volatile(ENCLU : "+a"(rax) : "b"(&req), "c"(key) : "cc", "memory");
	if (rax)
		return result(TEST_ENCL_SGX_ERROR, rax);
	memcpy((void *)(uintptr_t)host_key, key, sizeof(key));
	wipe(key, sizeof(key));
	return result(TEST_ENCL_OK, 0);
}

struct encl_result enclave_main(uint64_t op, uint64_t arg1, uint64_t arg2)
{
	switch (op) {
	case TEST_ENCL_OP_NOP:
		return result(TEST_ENCL_OK, 0);
	case TEST_ENCL_OP_COPY_IN:
		return op_copy(1, arg1, arg2);
	case TEST_ENCL_OP_COPY_OUT:
		return op_copy(0, arg1, arg2);
	case TEST_ENCL_OP_READ_U64:
		return op_read(arg1);
	case TEST_ENCL_OP_WRITE_U64:
		return op_write(arg1, arg2);
	case TEST_ENCL_OP_UD2:
		raise_ud();
		return result(TEST_ENCL_OK, 0);
	case TEST_ENCL_OP_DIV_ZERO:
		raise_de();
		return result(TEST_ENCL_OK, 0);
	case TEST_ENCL_OP_EREPORT:
		return op_ereport(arg1);
	case TEST_ENCL_OP_EGETKEY:
		return op_egetkey(arg1, arg2);
	case TEST_ENCL_OP_BUFFER:
		return result(TEST_ENCL_OK, (uintptr_t)encl_buffer);
	case TEST_ENCL_OP_MAGIC:
		return result(TEST_ENCL_OK, (uintptr_t)&encl_magic);
	case TEST_ENCL_OP_CPUID:
		return op_cpuid(arg1, arg2);
	case TEST_ENCL_OP_SYSCALL:
		return op_syscall(arg1);
	case TEST_ENCL_OP_SPIN:
		return op_spin(arg1, arg2);
	case TEST_ENCL_OP_XSAVE:
		return op_xsave(1, arg1, arg2);
	case TEST_ENCL_OP_XRSTOR:
		return op_xsave(0, arg1, arg2);
	case TEST_ENCL_OP_EACCEPT:
		return op_page_leaf(5, arg1, arg2);
	case TEST_ENCL_OP_EMODPE:
		return op_page_leaf(6, arg1, arg2);
	case TEST_ENCL_OP_EACCEPTCOPY:
		return op_eacceptcopy(arg1, arg2);
	case TEST_ENCL_OP_DYN_READ:
		if (!past_image(arg1, sizeof(uint64_t)))
			return result(TEST_ENCL_BAD_ARG, 0);
		return result(TEST_ENCL_OK, *(volatile uint64_t *)(uintptr_t)arg1);
	case TEST_ENCL_OP_DYN_WRITE:
		if (!past_image(arg1, sizeof(uint64_t)))
			return result(TEST_ENCL_BAD_ARG, 0);
		*(volatile uint64_t *)(uintptr_t)arg1 = arg2;
		return result(TEST_ENCL_OK, 0);
	default:
		return result(TEST_ENCL_BAD_OP, 0);
	}
}
