// SPDX-License-Identifier: MIT
/*
 * Enclave execution. ENCLU (0F 01 D7) cannot run here: a CPU without SGX
 * raises #UD (SIGILL); one that has SGX in silicon but not enabled for this
 * process (a guest whose hypervisor hides it, SGX off in the firmware) may
 * raise #GP or, for EENTER and ERESUME, a #PF on the TCS (SIGSEGV). Either
 * way the shim hands the signal context to the CPU model's
 * leaf and writes the result back, so the thread resumes inside the enclave
 * (EENTER, ERESUME) or outside it (EEXIT). An exception inside the enclave
 * becomes an AEX: state into the SSA, the synthetic state out, then Linux's
 * behaviour — the vDSO's exception fixup, or a signal to the program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "shim/shim.h"
#include "shim/thread.h"
#include "shim/vdso.h"

static bool mmu_translate(void *ctx, uint64_t linaddr, int access, void **epc,
			  uint32_t *pf_errcode)
{
	const struct shim_cpu *cpu = ctx;
	int prot = (access & HW_MMU_EXEC) ? PROT_EXEC : (access & HW_MMU_WRITE) ? PROT_WRITE
										 : PROT_READ;
	int ret = cpu->translate(linaddr, prot, epc);

	/* x86 page tables cannot express write-only: a writable page is readable. */
	if (ret == -EACCES && prot == PROT_READ)
		ret = cpu->translate(linaddr, PROT_WRITE, epc);

	if (!ret)
		return true;
	*pf_errcode = X86_PF_USER | ((access & HW_MMU_WRITE) ? X86_PF_WRITE : 0) |
		      ((access & HW_MMU_EXEC) ? X86_PF_INSTR : 0) |
		      (ret == -EACCES ? X86_PF_PROT : 0);
	return false;
}

static const int gregs_index[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8,	 REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

/*
 * The registers of @uc into @regs, the extended state only with @xstate:
 * of the ENCLU leaves only ERESUME reads or writes it (AEX aside), and the
 * copy of a frame's XSAVE image, kilobytes with AVX-512, is the largest
 * part of an emulated EEXIT.
 */
static void regs_from_uc_x(struct sgx_cpu_regs *regs, const ucontext_t *uc,
			   const struct shim_thread *t, bool xstate)
{
	uint64_t *gpr = &regs->rax;

	for (int i = 0; i < 16; i++)
		gpr[i] = (uint64_t)uc->uc_mcontext.gregs[gregs_index[i]];
	regs->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	regs->rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	regs->fsbase = t->lp.inside ? t->enclave_fs : t->host_fs;
	regs->gsbase = t->lp.inside ? t->enclave_gs : t->host_gs;
	if (xstate)
		shim_xstate_from_uc(regs, uc);
}

static void regs_from_uc(struct sgx_cpu_regs *regs, const ucontext_t *uc,
			 const struct shim_thread *t)
{
	regs_from_uc_x(regs, uc, t, true);
}

static void regs_to_uc_x(ucontext_t *uc, const struct sgx_cpu_regs *regs, struct shim_thread *t,
			 bool xstate)
{
	const uint64_t *gpr = &regs->rax;

	for (int i = 0; i < 16; i++)
		uc->uc_mcontext.gregs[gregs_index[i]] = (greg_t)gpr[i];
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)regs->rip;
	uc->uc_mcontext.gregs[REG_EFL] = (greg_t)regs->rflags;
	if (xstate)
		shim_xstate_to_uc(uc, regs);
	if (t->lp.inside) {
		t->enclave_fs = regs->fsbase;
		t->enclave_gs = regs->gsbase;
	}
}

static void regs_to_uc(ucontext_t *uc, const struct sgx_cpu_regs *regs, struct shim_thread *t)
{
	regs_to_uc_x(uc, regs, t, true);
}

static bool at_enclu(const ucontext_t *uc)
{
	const uint8_t *ip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];

	return ip && ip[0] == SGX_ENCLU_OPCODE_0 && ip[1] == SGX_ENCLU_OPCODE_1 &&
	       ip[2] == SGX_ENCLU_OPCODE_2;
}

/*
 * The instruction bytes at @rip of enclave code, read from the EPC page as
 * the CPU would fetch them, not through the process's mapping, which the
 * reclaimer may have zapped since the instruction ran: the fault taken
 * there, inside the enclave, would have to load the page back while this
 * very thread keeps the reclaim's tracking cycle open (shim_enclave_insn()
 * tries the mapping first, with a load whose fault is skipped). False when
 * the page is not resident right now.
 */
static bool enclave_code(const struct shim_cpu *cpu, uint64_t rip, uint8_t *buf, unsigned int len)
{
	for (unsigned int i = 0; i < len;) {
		uint64_t addr = rip + i;
		unsigned int chunk = SGX_PAGE_SIZE - (unsigned int)(addr & (SGX_PAGE_SIZE - 1));
		void *epc;

		if (cpu->translate(addr & ~(uint64_t)(SGX_PAGE_SIZE - 1), PROT_EXEC, &epc))
			return false;
		if (chunk > len - i)
			chunk = len - i;
		memcpy(buf + i, (uint8_t *)epc + (addr & (SGX_PAGE_SIZE - 1)), chunk);
		i += chunk;
	}
	return true;
}

/*
 * The three bytes at RDI through the process's mapping, little-endian in
 * RAX, or ~0 when a load faults: the fault's handler, nested in the one
 * that asked, moves RIP to shim_insn_probe_fail and does nothing else
 * (shim_insn_probe_fixup()), so a page the reclaimer zapped is never
 * brought back from here.
 */
extern uint64_t shim_insn_probe(uint64_t addr);
extern const char shim_insn_probe_end[], shim_insn_probe_fail[];
__asm__(".text\n"
	".globl shim_insn_probe\n"
	".hidden shim_insn_probe\n"
	".type shim_insn_probe, @function\n"
	"shim_insn_probe:\n"
	"	movzbl (%rdi), %eax\n"
	"	movzbl 1(%rdi), %ecx\n"
	"	shl $8, %ecx\n"
	"	or %ecx, %eax\n"
	"	movzbl 2(%rdi), %ecx\n"
	".globl shim_insn_probe_end\n"
	".hidden shim_insn_probe_end\n"
	"shim_insn_probe_end:\n"
	"	shl $16, %ecx\n"
	"	or %ecx, %eax\n"
	"	ret\n"
	".globl shim_insn_probe_fail\n"
	".hidden shim_insn_probe_fail\n"
	"shim_insn_probe_fail:\n"
	"	mov $-1, %rax\n"
	"	ret\n"
	".size shim_insn_probe, .-shim_insn_probe\n");

bool shim_insn_probe_fixup(ucontext_t *uc)
{
	uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

	if (rip < (uintptr_t)shim_insn_probe || rip >= (uintptr_t)shim_insn_probe_end)
		return false;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)shim_insn_probe_fail;
	return true;
}

int shim_enclave_insn(ucontext_t *uc, struct shim_thread *t, uint8_t buf[3])
{
	const struct shim_cpu *cpu = shim_cpu();
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];

	if (!cpu || !t->lp.inside)
		return -1;
	/*
	 * First through the mapping enclave code was just fetched through,
	 * a plain load (the EPC page's translation costs as much as a
	 * third of an emulated EEXIT); inside ELRANGE only, where it maps
	 * the enclave's pages or faults.
	 */
	if (rip >= t->lp.cr.base && rip + 3 <= t->lp.cr.base + t->lp.cr.size) {
		uint64_t bytes = shim_insn_probe(rip);

		if (bytes != ~0ULL) {
			buf[0] = (uint8_t)bytes;
			buf[1] = (uint8_t)(bytes >> 8);
			buf[2] = (uint8_t)(bytes >> 16);
			return 0;
		}
	}
	if (enclave_code(cpu, rip, buf, 3))
		return 0;
	/*
	 * Not resident: as if an interrupt came just before the instruction.
	 * The AEX lets the reclaimer finish; the AEP's ERESUME runs the
	 * instruction again, after the page fault that brings it back.
	 */
	shim_enclave_interrupted(uc, t, false);
	return 1;
}

int shim_pf_access(uint64_t err)
{
	return (err & X86_PF_INSTR) ? PROT_EXEC : (err & X86_PF_WRITE) ? PROT_WRITE : PROT_READ;
}

/*
 * The error code of a #PF that enclave code took natively at @addr. The
 * model's PTE is a duplicate mapping of the EPC page that the host fills on
 * first touch, so the host may report "not present" (0x6) for a page whose
 * PTE Linux would have present (0x7 for a write to a page mprotect made
 * read-only): the model's page table says which, as the CPU's walk would.
 */
static uint32_t native_pf_errcode(const struct shim_cpu *cpu, uint64_t addr, uint32_t err)
{
	void *epc;

	if (!(err & X86_PF_PROT) &&
	    cpu->translate(addr & ~(uint64_t)(SGX_PAGE_SIZE - 1), shim_pf_access(err), &epc) == -EACCES)
		err |= X86_PF_PROT;
	return err;
}

/* hw_aex(), traced. */
static int aex(const struct shim_cpu *cpu, struct shim_thread *t, const struct hw_mmu *mmu,
	       unsigned int vector, uint32_t err, uint64_t addr)
{
	uint64_t t0 = shim_trace_begin(cpu->hw);
	int ret = hw_aex(cpu->hw, &t->lp, mmu, &t->regs, vector, err, addr);

	if (t0 && !ret)
		shim_trace_aex(cpu->hw, t, t0, vector, addr);
	return ret;
}

/*
 * Whether the kernel's page-fault path may resolve a #PF with error code
 * @err. An EPCM violation (X86_PF_SGX: not a TCS, wrong type or permissions
 * in the EPCM) never is, whatever the page tables say: Linux's
 * access_error() sends it straight to the signal (or the vDSO's fixup).
 * Asking sgx_handle_fault() instead answers "retry" for a present page, and
 * the leaf faults again forever.
 */
static bool pf_fixable(uint32_t err)
{
	return !(err & X86_PF_SGX);
}

/*
 * A #PF on an ENCLU operand (the leaf's own page walk failed) that the
 * kernel model resolved. Asked as SGX_FAULT_OPERAND, not ENCLAVE_MODE: the
 * leaf makes its own EPCM checks once the walk succeeds (EACCEPT of a
 * PENDING page must go on), and the host PTE the fault leaves allows no
 * more than the EPCM does, for the enclave code that may touch it next.
 */
static bool operand_fault_fixed(const struct shim_cpu *cpu, uint64_t addr, uint32_t err)
{
	return pf_fixable(err) &&
	       cpu->fault(addr, shim_pf_access(err) | SGX_FAULT_OPERAND) == SGX_FAULT_RETRY;
}

/*
 * An exception at the enclave state in @uc: AEX, then the vDSO's fixup or a
 * signal for the program (returns the signal to deliver, 0 for none).
 */
static int enclave_exception(const struct shim_cpu *cpu, struct shim_thread *t, ucontext_t *uc,
			     int sig, unsigned int vector, uint32_t err, uint64_t addr)
{
	struct hw_mmu mmu = { .translate = mmu_translate, .ctx = (void *)cpu };

	regs_from_uc(&t->regs, uc, t);
	if (aex(cpu, t, &mmu, vector, err, addr))
		return sig; /* not inside after all: an ordinary fault */
	regs_to_uc(uc, &t->regs, t);
	if (shim_vdso_fixup_exception(uc, vector, err, addr))
		return 0;
	return sig;
}

/*
 * A #PF at the enclave state in @uc: enclave code, or an ENCLU leaf inside
 * the enclave. As on hardware the thread leaves first (AEX): resolving the
 * fault may wait for the reclaimer, and the reclaimer may be waiting, with
 * the enclave locked, for every thread inside to leave (the kick). A fault
 * the kernel model resolves is resumed here with the ERESUME the AEP would
 * execute, so the program sees nothing of it but the SSA frame; an ERESUME
 * that cannot complete here is left to the AEP. Otherwise as
 * enclave_exception().
 */
static int enclave_page_fault(const struct shim_cpu *cpu, struct shim_thread *t, ucontext_t *uc,
			      int sig, uint32_t err, uint64_t addr, bool operand)
{
	struct hw_mmu mmu = { .translate = mmu_translate, .ctx = (void *)cpu };
	enum sgx_fault_result r = SGX_FAULT_NOT_OURS;
	int ret;

	regs_from_uc(&t->regs, uc, t);
	if (aex(cpu, t, &mmu, X86_TRAP_PF, err, addr))
		return sig; /* not inside after all: an ordinary fault */
	/*
	 * Enclave code's own access gets the EPCM check; an ENCLU operand's
	 * does not: the leaf checks the EPCM itself once the walk succeeds.
	 */
	if (pf_fixable(err))
		r = cpu->fault(addr, shim_pf_access(err) |
					     (operand ? SGX_FAULT_OPERAND : SGX_FAULT_ENCLAVE_MODE));
	if (r != SGX_FAULT_RETRY) {
		/*
		 * SGX2: the EPCM refused a page the kernel has (PENDING,
		 * MODIFIED, TRIM, restricted): the #PF the CPU raises after
		 * finding the PTE, with the SGX bit. (The SSA's EXINFO, if
		 * the enclave asked for it, keeps the walk's error code.)
		 */
		if (r == SGX_FAULT_EPCM) {
			err |= X86_PF_SGX | X86_PF_PROT;
			uc->uc_mcontext.gregs[REG_ERR] = err;
		}
		regs_to_uc(uc, &t->regs, t);
		if (shim_vdso_fixup_exception(uc, X86_TRAP_PF, err, addr))
			return 0;
		return sig;
	}
	/* RAX = ERESUME, RBX = TCS, RCX = AEP: the AEX's synthetic state. */
	do {
		uint64_t t0 = shim_trace_begin(cpu->hw);
		uint64_t tcs = t->regs.rbx;

		ret = enclu_eresume(cpu->hw, &t->lp, &mmu, &t->regs);
		if (t0)
			shim_trace_enclu(cpu->hw, t, t0, SGX_ERESUME, tcs, false, ret);
	} while (encls_faulted(ret) && ENCLS_TRAPNR(ret) == X86_TRAP_PF &&
		 operand_fault_fixed(cpu, t->lp.fault_addr, t->lp.fault_errcode));
	/* A faulting ERESUME changed nothing: the thread goes to the AEP. */
	regs_to_uc(uc, &t->regs, t);
	return 0;
}

int shim_enclave_fault(int sig, siginfo_t *si, ucontext_t *uc, struct shim_thread *t)
{
	const struct shim_cpu *cpu = shim_cpu();
	unsigned int vector = (unsigned int)uc->uc_mcontext.gregs[REG_TRAPNO];
	uint32_t err = (uint32_t)uc->uc_mcontext.gregs[REG_ERR];

	if (!cpu || !t || !t->lp.inside)
		return sig;
	if (sig == SIGSEGV && vector == X86_TRAP_PF)
		return enclave_page_fault(cpu, t, uc, sig,
					  native_pf_errcode(cpu, (uintptr_t)si->si_addr, err),
					  (uintptr_t)si->si_addr, false);
	if (sig == SIGILL)
		vector = X86_TRAP_UD;
	/*
	 * Only #PF has a fault address (CR2). For SIGILL and SIGFPE si_addr is
	 * the faulting instruction, which Linux's traps do not report: they pass
	 * 0 to the vDSO's exception fixup (run->exception_addr).
	 */
	return enclave_exception(cpu, t, uc, sig, vector, err,
				 vector == X86_TRAP_PF ? (uintptr_t)si->si_addr : 0);
}

bool shim_enclu_trapped(int sig, const siginfo_t *si, const ucontext_t *uc)
{
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];

	if (si->si_code <= 0) /* sent by kill() and the like */
		return false;
	if (sig == SIGILL)
		return at_enclu(uc);
	/*
	 * A SIGSEGV from fetching the instruction itself leaves nothing to read
	 * at RIP; any other was raised by an instruction the CPU decoded.
	 */
	if (sig != SIGSEGV ||
	    (si->si_code != SI_KERNEL && (uc->uc_mcontext.gregs[REG_ERR] & X86_PF_INSTR)) ||
	    (uint64_t)si->si_addr == rip)
		return false;
	return at_enclu(uc);
}

/*
 * The walks of one leaf, the last one remembered: EENTER and ERESUME walk
 * the SSA frame's XSAVE page and then its GPR area, one page when
 * SSAFRAMESIZE is 1, and a second walk within the same instruction finds
 * what the first found (a CPU's TLB holds it as well). Each walk of the
 * model costs some 0.15 µs. A leaf that walks again to see whether the OS
 * has unmapped the page meanwhile (an EPCM miss) flushes the memory first,
 * as a TLB shootdown would (struct hw_mmu's flush).
 */
struct leaf_mmu {
	const struct shim_cpu *cpu;
	uint64_t page;
	int access;
	void *epc;
};

static bool leaf_mmu_translate(void *ctx, uint64_t linaddr, int access, void **epc,
			       uint32_t *pf_errcode)
{
	struct leaf_mmu *m = ctx;
	uint64_t page = linaddr & ~(uint64_t)(SGX_PAGE_SIZE - 1);

	if (m->epc && m->page == page && m->access == access) {
		*epc = m->epc;
		return true;
	}
	if (!mmu_translate((void *)m->cpu, linaddr, access, epc, pf_errcode))
		return false;
	m->page = page;
	m->access = access;
	m->epc = *epc;
	return true;
}

/* The leaf walks again to see the OS's unmapping: forget the last walk. */
static void leaf_mmu_flush(void *ctx)
{
	((struct leaf_mmu *)ctx)->epc = NULL;
}

int shim_enclu_leaf(const struct shim_cpu *cpu, struct shim_thread *t, struct sgx_cpu_regs *regs,
		    bool trace_fault)
{
	struct leaf_mmu memo = { .cpu = cpu };
	struct hw_mmu mmu = { .translate = leaf_mmu_translate, .ctx = &memo, .flush = leaf_mmu_flush };
	uint32_t leaf = (uint32_t)regs->rax;
	uint64_t rbx = regs->rbx;
	bool was_inside = t->lp.inside;
	uint64_t t0 = shim_trace_begin(cpu->hw);
	int ret = enclu(cpu->hw, &t->lp, &mmu, regs);

	if (t0 && (trace_fault || !encls_faulted(ret)))
		shim_trace_enclu(cpu->hw, t, t0, leaf, rbx, was_inside, ret);
	if (!encls_faulted(ret) && leaf == SGX_EENTER) {
		shim_xstate_check_xfrm(t->lp.xfrm, hw_host_xcr0(cpu->hw));
		shim_vdso_direct_allow(cpu->hw);
	}
	return ret;
}

int shim_enclu_trap(int sig, ucontext_t *uc, struct shim_thread **tp)
{
	const struct shim_cpu *cpu = shim_cpu();
	struct shim_thread *t = *tp;
	bool xstate;
	int ret;

	if (!cpu)
		return sig;
	if (!t) {
		/* First ENCLU of this thread: outside an enclave, so FS is the host's. */
		t = shim_thread_self();
		*tp = t;
		if (!t)
			return sig;
	}
	xstate = (uint32_t)uc->uc_mcontext.gregs[REG_RAX] == SGX_ERESUME;
	regs_from_uc_x(&t->regs, uc, t, xstate);
	ret = shim_enclu_leaf(cpu, t, &t->regs, true);
	if (!encls_faulted(ret)) {
		regs_to_uc_x(uc, &t->regs, t, xstate);
		return 0;
	}
	/* Inside an enclave, a #PF on an operand leaves it first, as on hardware. */
	if (ENCLS_TRAPNR(ret) == X86_TRAP_PF && t->lp.inside)
		return enclave_page_fault(cpu, t, uc, SIGSEGV, t->lp.fault_errcode, t->lp.fault_addr,
					  true);
	/* #PF on an operand the kernel can bring in: retry the instruction. */
	if (ENCLS_TRAPNR(ret) == X86_TRAP_PF &&
	    operand_fault_fixed(cpu, t->lp.fault_addr, t->lp.fault_errcode))
		return 0;
	/* ENCLU itself faulted: inside an enclave that is an AEX. */
	if (t->lp.inside)
		return enclave_exception(cpu, t, uc, SIGSEGV, (unsigned int)ENCLS_TRAPNR(ret),
					 t->lp.fault_errcode, t->lp.fault_addr);
	if (shim_vdso_fixup_exception(uc, (unsigned int)ENCLS_TRAPNR(ret), t->lp.fault_errcode,
				      t->lp.fault_addr))
		return 0;
	return SIGSEGV;
}

void shim_enclave_interrupted(ucontext_t *uc, struct shim_thread *t, bool kick)
{
	const struct shim_cpu *cpu = shim_cpu();
	struct hw_mmu mmu = { .translate = mmu_translate, .ctx = (void *)cpu };

	if (cpu && t && t->lp.inside) {
		/*
		 * An interrupt: AEX to the AEP. There the thread executes
		 * ERESUME itself (the vDSO's AEP is its ENCLU), re-entering in
		 * a new epoch.
		 */
		regs_from_uc(&t->regs, uc, t);
		if (!aex(cpu, t, &mmu, X86_FIRST_INTERRUPT_VECTOR, 0, 0))
			regs_to_uc(uc, &t->regs, t);
	}
	if (kick && t)
		atomic_fetch_add(&t->kicks_done, 1);
}
