// SPDX-License-Identifier: MIT
/*
 * EPC cgroups through the platform service (issue 17): clients charged to
 * the cgroup their HELLO names (SOFTSGX_CGROUP, as `softsgx run --cgroup`
 * exports it) or to their own cgroup v2 path, limits set with CGROUP_SET_MAX,
 * usage read back with CGROUP_LIST and CGROUP_READ, and the `softsgx cgroup`
 * command. Every test starts its own service (svc_fixture.h); the clients
 * are forked processes, each with its own connection, driven through shared
 * memory, or this process.
 *
 * The enclave-building helpers are those of test_remote.c (copied: that
 * file's are static and belong to its owner).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/service/remote_fixture.h"
#include "tests/service/svc_fixture.h"

/* ---- forked clients, driven through shared memory ---- */

enum { ST_START, ST_READY, ST_DONE };
enum kind { HOST_ENCLAVE, VMM_VEPC };

#define NR_SLOTS 4
struct slot {
	/* Set by the test before the fork. */
	char cgroup[128]; /* SOFTSGX_CGROUP; "" for the client's own */
	enum kind kind;
	uint64_t pages, rounds; /* rounds 0: until stop */
	/* The client's side. */
	_Atomic int state;
	_Atomic int64_t build_ret; /* remote_build()'s, or the vEPC mmap's */
	_Atomic uint64_t rounds_done, zaps, bad;
	_Atomic uint64_t touched, sigbus; /* VMM: vEPC pages faulted in, and refused */
	_Atomic int64_t enclave_ret;	  /* VMM: a small enclave built in its cgroup */
	/* The test's side. */
	_Atomic int go, stop, release;
};
static struct slot *slots;

static void wait_flag(_Atomic int *f)
{
	while (!atomic_load(f))
		usleep(1000);
}

static void vmm_main(struct slot *sl)
{
	static struct ek_enclave e __attribute__((aligned(4096)));
	void *addr = NULL;
	int h = svc_remote_open(SVC_OPEN_VEPC);

	CHILD_CHECK(h >= 0);
	atomic_store(&sl->build_ret, svc_remote_mmap(&addr, sl->pages * PAGE,
						     PROT_READ | PROT_WRITE, MAP_SHARED, h, 0));
	if (atomic_load(&sl->build_ret))
		return;
	/* Prefault as a VMM does: every page, in order; a refused one is SIGBUS. */
	for (uint64_t i = 0; i < sl->pages; i++) {
		if (try_write((volatile uint64_t *)((uint8_t *)addr + i * PAGE), i + 1))
			atomic_fetch_add(&sl->touched, 1);
		else
			atomic_fetch_add(&sl->sigbus, 1);
	}
	/* Its cgroup holds only vEPC pages now: even a SECS does not fit. */
	atomic_store(&sl->enclave_ret, remote_build(&e, 2));
}

static void __attribute__((noreturn)) client_main(struct svc_fx *fx, struct slot *sl)
{
	static struct ek_enclave e __attribute__((aligned(4096)));
	uint64_t tag = (uint64_t)(sl - slots + 1) << 40;

	if (sl->cgroup[0])
		setenv("SOFTSGX_CGROUP", sl->cgroup, 1);
	else
		unsetenv("SOFTSGX_CGROUP");
	CHILD_CHECK(svc_remote_connect(fx->dir, NULL, NULL) == 0);
	handler_install();
	if (sl->kind == VMM_VEPC) {
		vmm_main(sl);
		atomic_store(&sl->state, ST_READY);
		wait_flag(&sl->release);
		svc_remote_disconnect();
		_exit(0);
	}
	atomic_store(&sl->build_ret, remote_build(&e, sl->pages));
	if (!atomic_load(&sl->build_ret)) {
		atomic_store(&sl->bad, check_built(&e));
		/* Every page resident and mapped here once. */
		if (!atomic_load(&sl->bad))
			atomic_store(&sl->bad, pattern_round(&e, tag, 0));
	}
	atomic_store(&sl->zaps, svc_remote_zaps());
	atomic_store(&sl->state, ST_READY);
	wait_flag(&sl->go);
	for (uint64_t r = 1; !atomic_load(&sl->build_ret) && !atomic_load(&sl->bad) &&
			     (sl->rounds ? r <= sl->rounds : !atomic_load(&sl->stop));
	     r++) {
		atomic_store(&sl->bad, pattern_round(&e, tag, r));
		atomic_store(&sl->rounds_done, r);
		atomic_store(&sl->zaps, svc_remote_zaps());
	}
	atomic_store(&sl->zaps, svc_remote_zaps());
	atomic_store(&sl->state, ST_DONE);
	wait_flag(&sl->release);
	svc_remote_disconnect();
	_exit(0);
}

static pid_t spawn(struct svc_fx *fx, unsigned int i, const char *cgroup, enum kind kind,
		   uint64_t pages, uint64_t rounds)
{
	struct slot *sl = &slots[i];
	pid_t pid;

	memset(sl, 0, sizeof(*sl));
	snprintf(sl->cgroup, sizeof(sl->cgroup), "%s", cgroup);
	sl->kind = kind;
	sl->pages = pages;
	sl->rounds = rounds;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		client_main(fx, sl);
	return pid;
}

/* Wait for slot @i to reach @state (60 s at most: ASan builds page slowly). */
static void wait_state(unsigned int i, int state)
{
	for (uint64_t end = fx_now_ms() + 60000; fx_now_ms() < end; usleep(2000))
		if (atomic_load(&slots[i].state) >= state)
			return;
	fail_msg("client %u did not reach state %d", i, state);
}

static int exit_status(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void finish(unsigned int i, pid_t pid)
{
	atomic_store(&slots[i].go, 1);
	atomic_store(&slots[i].release, 1);
	assert_int_equal(exit_status(pid), 0);
}

/* ---- the service's view ---- */

static void control(struct svc_fx *fx, struct svc_client *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(svc_connect(c, fx->dir, NULL, SVC_HELLO_CONTROL, NULL), 0);
}

static void set_max(struct svc_fx *fx, const char *path, uint64_t max, int want)
{
	struct svc_client c;

	control(fx, &c);
	assert_int_equal(svc_cgroup_set_max(&c, path, max), want);
	svc_close(&c);
}

/* @path's entry of a CGROUP_LIST; false when there is none. */
static bool cg_get(struct svc_fx *fx, const char *path, struct svc_cgroup_entry *out)
{
	struct svc_cgroup_list_rep *rep;
	const struct svc_cgroup_entry *e;
	struct svc_client c;
	bool found = false;

	control(fx, &c);
	assert_int_equal(svc_cgroup_list(&c, &rep), 0);
	svc_close(&c);
	e = (const void *)(rep + 1);
	assert_int_equal(rep->nr, rep->total);
	/* Pre-order, the root first; a limited cgroup at or under its limit unless it said why. */
	assert_string_equal(e[0].path, "/");
	for (uint32_t i = 0; i < rep->nr; i++) {
		if (!strcmp(e[i].path, path)) {
			*out = e[i];
			found = true;
		}
		assert_true(e[i].current <= e[i].max || e[i].events > 0 || e[i].max < 2 * PAGE);
	}
	free(rep);
	return found;
}

static struct svc_cgroup_entry cg(struct svc_fx *fx, const char *path)
{
	struct svc_cgroup_entry e;

	if (!cg_get(fx, path, &e))
		fail_msg("no cgroup %s", path);
	return e;
}

/* Every enclave and vEPC released (clients gone), within 5 s. */
static void wait_released(struct svc_fx *fx)
{
	struct svc_status_rep st;

	for (uint64_t end = fx_now_ms() + 5000; fx_now_ms() < end; usleep(10000)) {
		fx_status(fx, &st);
		if (!st.enclaves && !st.vepcs && !st.clients)
			break;
	}
	assert_int_equal(st.enclaves, 0);
	assert_int_equal(st.vepcs, 0);
	assert_int_equal(st.free_pages, st.total_pages);
}

static int setup(void **state)
{
	struct svc_fx *fx = malloc(sizeof(*fx));

	if (!fx)
		return -1;
	fx_init(fx, "cgsvc");
	*state = fx;
	slots = mmap(NULL, NR_SLOTS * sizeof(*slots), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return slots == MAP_FAILED ? -1 : 0;
}

static int teardown(void **state)
{
	struct svc_fx *fx = *state;

	svc_remote_disconnect();
	handler_remove();
	unsetenv("SOFTSGX_CGROUP");
	fx_fini(fx);
	free(fx);
	munmap(slots, NR_SLOTS * sizeof(*slots));
	return 0;
}

#define KIB(n) ((uint64_t)(n) << 10)

/* ---- tests ---- */

/*
 * Two clients in two cgroups, each limited below its enclave's size, page
 * against their own limits at the same time: both stay correct, each
 * cgroup counts max events, and neither goes past its limit.
 */
static void test_two_cgroups_contend(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_cgroup_entry a, b;
	pid_t pa, pb;

	fx_start(fx, CLI_ARGS("--epc", "2M", "--sections", "1"));
	set_max(fx, "/a", KIB(512), 0);
	set_max(fx, "/b", KIB(512), 0);
	pa = spawn(fx, 0, "/a", HOST_ENCLAVE, 160, 3);
	pb = spawn(fx, 1, "/b", HOST_ENCLAVE, 160, 3);
	wait_state(0, ST_READY);
	wait_state(1, ST_READY);
	atomic_store(&slots[0].go, 1);
	atomic_store(&slots[1].go, 1);
	wait_state(0, ST_DONE);
	wait_state(1, ST_DONE);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&slots[i].build_ret), 0);
		assert_int_equal(atomic_load(&slots[i].bad), 0);
		assert_int_equal(atomic_load(&slots[i].rounds_done), 3);
		assert_true(atomic_load(&slots[i].zaps) > 0);
	}
	a = cg(fx, "/a");
	b = cg(fx, "/b");
	printf("/a: current %" PRIu64 " peak %" PRIu64 " events %" PRIu64 "; /b: current %" PRIu64
	       " peak %" PRIu64 " events %" PRIu64 "\n",
	       a.current, a.peak, a.events, b.current, b.peak, b.events);
	assert_int_equal(a.nr_clients, 1);
	assert_int_equal(b.nr_clients, 1);
	assert_true(a.peak <= KIB(512) && b.peak <= KIB(512));
	assert_true(a.events > 0 && b.events > 0);
	finish(0, pa);
	finish(1, pb);
	wait_released(fx);
}

/*
 * A cgroup at its max reclaims from itself only: with room in the EPC, the
 * client of an unlimited cgroup keeps every page resident (no zap reaches
 * it) while the limited one pages.
 */
static void test_limit_evicts_own_pages(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_cgroup_entry lim, quiet;
	struct svc_status_rep st;
	pid_t pq, pl;

	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	set_max(fx, "/limited", KIB(512), 0);
	pq = spawn(fx, 0, "/quiet", HOST_ENCLAVE, 150, 1);
	wait_state(0, ST_READY);
	pl = spawn(fx, 1, "/limited", HOST_ENCLAVE, 200, 3);
	wait_state(1, ST_READY);
	atomic_store(&slots[1].go, 1);
	wait_state(1, ST_DONE);
	/* The quiet one now reads and writes its pages: all still resident. */
	atomic_store(&slots[0].go, 1);
	wait_state(0, ST_DONE);
	assert_int_equal(atomic_load(&slots[1].bad), 0);
	assert_int_equal(atomic_load(&slots[0].bad), 0);
	lim = cg(fx, "/limited");
	quiet = cg(fx, "/quiet");
	fx_status(fx, &st);
	printf("limited: %" PRIu64 " zaps, %" PRIu64 " events; quiet: %" PRIu64
	       " zaps; evictions %" PRIu64 "\n",
	       atomic_load(&slots[1].zaps), lim.events, atomic_load(&slots[0].zaps), st.evictions);
	assert_true(atomic_load(&slots[1].zaps) > 0);
	assert_true(lim.events > 0);
	assert_true(lim.peak <= KIB(512));
	assert_int_equal(atomic_load(&slots[0].zaps), 0);
	assert_int_equal(quiet.events, 0);
	/* Its 150 pages, a TCS and a SECS at least, charged where it runs. */
	assert_true(quiet.current >= 152 * PAGE);
	assert_true(st.evictions > 0);
	finish(0, pq);
	finish(1, pl);
	wait_released(fx);
}

/*
 * A VMM's cgroup filled with vEPC pages, which nothing reclaims: its
 * faults past the limit are SIGBUS and its next allocation (a SECS) is
 * ENOMEM, while a host enclave in another cgroup keeps working. TOP shows
 * both cgroups.
 */
static void test_unreclaimable_cgroup(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_cgroup_entry vm;
	struct cli_result r;
	pid_t pv, ph;

	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	set_max(fx, "/vm", KIB(256), 0);
	pv = spawn(fx, 0, "/vm", VMM_VEPC, 128, 0);
	wait_state(0, ST_READY);
	assert_int_equal(atomic_load(&slots[0].build_ret), 0);
	printf("vEPC: %" PRIu64 " pages faulted in, %" PRIu64 " SIGBUS; enclave: %" PRId64 "\n",
	       atomic_load(&slots[0].touched), atomic_load(&slots[0].sigbus),
	       atomic_load(&slots[0].enclave_ret));
	assert_int_equal(atomic_load(&slots[0].touched), 64);
	assert_int_equal(atomic_load(&slots[0].sigbus), 64);
	assert_int_equal(atomic_load(&slots[0].enclave_ret), -ENOMEM);
	vm = cg(fx, "/vm");
	assert_int_equal(vm.current, KIB(256));
	assert_int_equal(vm.reclaimable, 0);
	assert_true(vm.events >= 65);

	ph = spawn(fx, 1, "/host", HOST_ENCLAVE, 100, 3);
	wait_state(1, ST_READY);
	atomic_store(&slots[1].go, 1);
	wait_state(1, ST_DONE);
	assert_int_equal(atomic_load(&slots[1].build_ret), 0);
	assert_int_equal(atomic_load(&slots[1].bad), 0);
	assert_int_equal(atomic_load(&slots[1].rounds_done), 3);

	cli_exec(&r, CLI_ARGS("top", "--once", "--json", "--interval", "0.1"));
	cli_assert_status(&r, 0);
	assert_true(cli_json_is_object(r.out));
	cli_assert_contains(r.out, "\"cgroups\": [");
	cli_assert_contains(r.out, "{\"path\": \"/vm\", \"current\": 262144, \"max\": 262144, ");
	cli_assert_contains(r.out, "{\"path\": \"/host\", \"current\": ");
	cli_assert_contains(r.out, "\"cgroup\": \"/vm\"");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("top", "--once", "--interval", "0.1"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "  cgroup /vm ");
	cli_result_free(&r);
	finish(0, pv);
	finish(1, ph);
	wait_released(fx);
}

/*
 * A parent's limit bounds its children: two clients in /p/c1 and /p/c2
 * (no limits of their own) share /p's 512 KiB; the max events are /p's.
 */
static void test_hierarchical_limit(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_cgroup_entry p, c1, c2;
	pid_t p1, p2;

	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	set_max(fx, "/p", KIB(512), 0);
	p1 = spawn(fx, 0, "/p/c1", HOST_ENCLAVE, 100, 3);
	p2 = spawn(fx, 1, "/p/c2", HOST_ENCLAVE, 100, 3);
	wait_state(0, ST_READY);
	wait_state(1, ST_READY);
	atomic_store(&slots[0].go, 1);
	atomic_store(&slots[1].go, 1);
	wait_state(0, ST_DONE);
	wait_state(1, ST_DONE);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&slots[i].build_ret), 0);
		assert_int_equal(atomic_load(&slots[i].bad), 0);
	}
	p = cg(fx, "/p");
	c1 = cg(fx, "/p/c1");
	c2 = cg(fx, "/p/c2");
	printf("/p: peak %" PRIu64 " events %" PRIu64 "; c1 %" PRIu64 ", c2 %" PRIu64 "\n", p.peak,
	       p.events, c1.current, c2.current);
	assert_true(p.peak <= KIB(512));
	assert_true(p.events > 0);
	assert_int_equal(c1.max, SVC_CGROUP_MAX);
	assert_true(c1.current + c2.current <= p.current);
	assert_true(c1.current > 0 && c2.current > 0);
	assert_int_equal(p.nr_clients, 0);
	finish(0, p1);
	finish(1, p2);
	wait_released(fx);
}

/*
 * A limit lowered below the usage reclaims down to it at once; the data
 * comes back on access. A limit below what cannot be reclaimed (the VA
 * pages holding the evicted pages' versions) stays set, and the command
 * says the usage could not follow.
 */
static void test_lowered_limit_reclaims(void **state)
{
	struct svc_fx *fx = *state;
	static struct ek_enclave e __attribute__((aligned(4096)));
	struct svc_cgroup_entry s;
	struct cli_result r;
	uint64_t zaps;

	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	setenv("SOFTSGX_CGROUP", "/shrink", 1);
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	handler_install();
	assert_int_equal(remote_build(&e, 200), 0);
	assert_int_equal(pattern_round(&e, 0x5A, 0), 0);
	s = cg(fx, "/shrink");
	assert_true(s.current >= 202 * PAGE);
	assert_int_equal(s.nr_clients, 1);
	zaps = svc_remote_zaps();
	set_max(fx, "/shrink", KIB(256), 0);
	s = cg(fx, "/shrink");
	assert_true(s.current <= KIB(256));
	assert_true(svc_remote_zaps() > zaps);
	/* Paged back in, under the limit, from a fresh thread too. */
	assert_int_equal(verify_round(&e, 0x5A, 0), 0);
	assert_true(cg(fx, "/shrink").peak >= 202 * PAGE);
	assert_true(cg(fx, "/shrink").current <= KIB(256));

	/* Everything but the VA pages goes (the SECS once its children are out). */
	cli_exec(&r, CLI_ARGS("cgroup", "/shrink", "--max", "0"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "softsgx cgroup: /shrink: limit set to 0 bytes, but the usage");
	cli_assert_contains(r.err, "could not be reclaimed under it");
	cli_result_free(&r);
	s = cg(fx, "/shrink");
	assert_int_equal(s.max, 0);
	assert_true(s.current > 0 && s.current <= 2 * PAGE);
	set_max(fx, "/shrink", SVC_CGROUP_MAX, 0);
	assert_int_equal(verify_round(&e, 0x5A, 0), 0);
	svc_remote_disconnect();
	wait_released(fx);
	assert_int_equal(cg(fx, "/shrink").current, 0);
}

static void *verify_thread(void *arg)
{
	return (void *)(uintptr_t)pattern_round(arg, 0x77, 1);
}

/*
 * Charges go back to zero when every client has ended, one of them
 * SIGKILLed while paging against its limit; the cgroups can then be removed.
 * A client that names no cgroup is charged to its own cgroup v2 path.
 */
static void test_charges_return_to_zero(void **state)
{
	struct svc_fx *fx = *state;
	static struct ek_enclave e __attribute__((aligned(4096)));
	char own[SVC_CGROUP_PATH_MAX] = "/", line[SVC_CGROUP_PATH_MAX + 8];
	struct svc_cgroup_entry z, me;
	struct svc_client c;
	pthread_t t;
	void *bad;
	FILE *f;
	pid_t pk, pb;

	fx_start(fx, CLI_ARGS("--epc", "2M", "--sections", "1"));
	set_max(fx, "/z", KIB(768), 0);
	pk = spawn(fx, 0, "/z/killed", HOST_ENCLAVE, 150, 0);
	pb = spawn(fx, 1, "/z/ends", HOST_ENCLAVE, 150, 4);
	wait_state(0, ST_READY);
	wait_state(1, ST_READY);
	atomic_store(&slots[0].go, 1);
	atomic_store(&slots[1].go, 1);
	while (atomic_load(&slots[0].rounds_done) < 1)
		usleep(2000);
	kill(pk, SIGKILL);
	assert_int_equal(exit_status(pk), 128 + SIGKILL);
	wait_state(1, ST_DONE);
	assert_int_equal(atomic_load(&slots[1].bad), 0);
	finish(1, pb);

	/* This process, naming no cgroup: its own v2 path (the root on a v1-only host). */
	unsetenv("SOFTSGX_CGROUP");
	f = fopen("/proc/self/cgroup", "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0::", 3) && svc_cgroup_path_valid(line + 3, sizeof(own)))
			strcpy(own, line + 3);
	}
	if (f)
		fclose(f);
	assert_int_equal(svc_remote_connect(fx->dir, NULL, NULL), 0);
	handler_install();
	assert_int_equal(remote_build(&e, 8), 0);
	assert_int_equal(pthread_create(&t, NULL, verify_thread, &e), 0);
	assert_int_equal(pthread_join(t, &bad), 0);
	assert_null(bad);
	me = cg(fx, own);
	printf("this process is charged to %s: %" PRIu64 " bytes\n", own, me.current);
	assert_true(me.nr_clients >= 1);
	assert_true(me.current >= 10 * PAGE);
	svc_remote_disconnect();

	wait_released(fx);
	z = cg(fx, "/z");
	assert_int_equal(z.current, 0);
	assert_int_equal(cg(fx, "/z/killed").current, 0);
	assert_int_equal(cg(fx, "/z/ends").current, 0);
	assert_int_equal(cg(fx, "/").current, 0);
	assert_true(z.events > 0);
	control(fx, &c);
	assert_int_equal(svc_cgroup_remove(&c, "/z"), -EBUSY); /* children */
	assert_int_equal(svc_cgroup_remove(&c, "/z/killed"), 0);
	assert_int_equal(svc_cgroup_remove(&c, "/z/ends"), 0);
	assert_int_equal(svc_cgroup_remove(&c, "/z"), 0);
	assert_int_equal(svc_cgroup_remove(&c, "/z"), -ENOENT);
	svc_close(&c);
	assert_false(cg_get(fx, "/z", &z));
}

/* `softsgx cgroup`: its formats, and its errors with exit 1 and 2. */
static void test_command(void **state)
{
	struct svc_fx *fx = *state;
	struct cli_result r;

	cli_assert_help("cgroup");
	cli_exec(&r, CLI_ARGS("cgroup"));
	cli_assert_status(&r, 1);
	assert_string_equal(
		r.err, "softsgx cgroup: no platform service running (softsgx platform start)\n");
	cli_result_free(&r);

	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	cli_exec(&r, CLI_ARGS("cgroup", "/t/u", "--max", "1M"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "/t/u: misc.max = sgx_epc 1 MiB\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t/u"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "misc.current:sgx_epc 0\n"
				   "misc.max:sgx_epc 1048576\n"
				   "misc.events:sgx_epc.max 0\n"
				   "misc.events.local:sgx_epc.max 0\n"
				   "misc.peak:sgx_epc 0\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "misc.max:sgx_epc max\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "misc.capacity:sgx_epc 4194304\n"
				   "misc.current:sgx_epc 0\n"
				   "misc.peak:sgx_epc 0\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t/u", "--json"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "{\"path\": \"/t/u\", \"current\": 0, \"max\": 1048576, "
				   "\"events\": 0, \"events_local\": 0, \"peak\": 0}\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "--json"));
	cli_assert_status(&r, 0);
	assert_true(cli_json_is_object(r.out));
	cli_assert_contains(r.out, "{\"path\": \"/t/u\", \"current\": 0, \"max\": 1048576, ");
	cli_assert_contains(r.out, "\"total\": 3}\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "CGROUP ");
	cli_assert_contains(r.out, "\n/t/u ");
	cli_assert_contains(r.out, "1 MiB");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t/u", "--max", "max"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "/t/u: misc.max = sgx_epc max\n");
	cli_result_free(&r);

	/* Runtime errors: exit 1. */
	cli_exec(&r, CLI_ARGS("cgroup", "/nope"));
	cli_assert_status(&r, 1);
	assert_string_equal(r.err, "softsgx cgroup: no cgroup /nope\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t", "--remove"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "/t is in use");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t/u", "--remove"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "/t/u: removed\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t/u", "--remove"));
	cli_assert_status(&r, 1);
	cli_result_free(&r);

	/* Usage errors: exit 2, nothing done. */
	cli_exec(&r, CLI_ARGS("cgroup", "/t/../u"));
	cli_assert_usage_error(&r, "cgroup", "'/t/../u' is not a cgroup path");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "t"));
	cli_assert_usage_error(&r, "cgroup", "'t' is not a cgroup path");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "--max", "1M"));
	cli_assert_usage_error(&r, "cgroup", "--max needs a cgroup PATH");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t", "--max", "lots"));
	cli_assert_usage_error(&r, "cgroup", "--max 'lots' is not a size");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/t", "--max", "1M", "--remove"));
	cli_assert_usage_error(&r, "cgroup", "--max and --remove exclude each other");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/", "--max", "1M"));
	cli_assert_usage_error(&r, "cgroup", "the root cgroup has no limit");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "/a", "/b"));
	cli_assert_status(&r, 2);
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("cgroup", "--bogus"));
	cli_assert_status(&r, 2);
	cli_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_cgroups_contend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_evicts_own_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreclaimable_cgroup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hierarchical_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lowered_limit_reclaims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_charges_return_to_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
