// SPDX-License-Identifier: MIT
/*
 * service/server.c and service/dispatch.c, driven as users drive them: the
 * service started by `softsgx platform start` in a private socket
 * directory, reached through the client library, the command and raw
 * sockets (malformed messages).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/json_check.h"
#include "tests/service/svc_fixture.h"

static int setup(void **state)
{
	struct svc_fx *fx = calloc(1, sizeof(*fx));

	fx_init(fx, "svc");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_fini(*state);
	free(*state);
	return 0;
}

static void run_cmd(struct cli_result *r, const char *const *args)
{
	cli_exec(r, args);
}

static void test_start_status_stop(void **state)
{
	struct svc_fx *fx = *state;
	struct cli_result r;
	char *log;

	fx_start(fx, CLI_ARGS("--epc", "8M", "--sections", "2", "--idle-timeout", "0"));
	run_cmd(&r, CLI_ARGS("platform", "status"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "platform service: running");
	cli_assert_contains(r.out, "--epc 8M --sections 2");
	cli_assert_contains(r.out, "2048 pages (8 MiB): 2048 free, 0 in use, 0 leaked, 0 zombie");
	cli_assert_contains(r.out, "clients   0");
	/* A fresh EPC: nothing can hold EPCM state, sanitization is over at once. */
	cli_assert_contains(r.out, "sanitize  done (0 pages");
	cli_result_free(&r);

	run_cmd(&r, CLI_ARGS("platform", "status", "--json"));
	cli_assert_status(&r, 0);
	assert_true(cli_json_is_object(r.out));
	cli_assert_contains(r.out, "\"running\": true");
	cli_assert_contains(r.out, "\"total_pages\": 2048");
	cli_assert_contains(r.out, "\"sanitization\": {\"done\": true");
	cli_result_free(&r);

	run_cmd(&r, CLI_ARGS("platform", "stop"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "stopped");
	cli_result_free(&r);
	assert_int_equal(fx_wait_exit(fx->pid, 5000), 0);
	fx->pid = 0;
	log = fx_log(fx);
	cli_assert_contains(log, "serving on");
	cli_assert_contains(log, "stop requested");
	free(log);

	/* Not running: status says so with exit 1, stop succeeds. */
	run_cmd(&r, CLI_ARGS("platform", "status"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.out, "not running");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "status", "--json"));
	cli_assert_status(&r, 1);
	assert_true(cli_json_is_object(r.out));
	cli_assert_contains(r.out, "\"running\": false");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "stop"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "not running");
	cli_result_free(&r);
}

static void test_config_mismatch(void **state)
{
	struct svc_fx *fx = *state;
	struct softsgx_config cfg;
	struct svc_hello_rep info;
	struct svc_client c = {0};
	struct cli_result r;

	fx_start(fx, NULL);
	run_cmd(&r, CLI_ARGS("platform", "start", "--epc", "8M", "--sections", "1"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "platform already running with --epc 4M --sections 1");
	cli_assert_contains(r.err, "stop it first");
	cli_result_free(&r);
	/* The same platform: already running, success. */
	run_cmd(&r, CLI_ARGS("platform", "start", "--epc", "4M", "--sections", "1"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "already running");
	cli_result_free(&r);
	/* Through the client: -EBUSY and the config in force. */
	fx_config(&cfg, 16);
	assert_int_equal(svc_connect(&c, fx->dir, &cfg, 0, &info), -EBUSY);
	assert_int_equal(c.fd, -1);
	assert_int_equal(info.cfg.nr_sections, 1);
	assert_int_equal(info.cfg.section_size[0], 4u << 20);
	cfg.sgx2 = false;
	fx_config(&cfg, 4);
	cfg.sgx2 = false;
	assert_int_equal(svc_connect(&c, fx->dir, &cfg, 0, &info), -EBUSY);
	fx_config(&cfg, 4);
	assert_int_equal(svc_connect(&c, fx->dir, &cfg, 0, &info), 0);
	assert_int_equal((pid_t)info.service_pid, fx->pid);
	svc_close(&c);
}

/* Two foreground starts at once: exactly one serves, the other says who does. */
static void test_start_race(void **state)
{
	struct svc_fx *fx = *state;

	for (int round = 0; round < 3; round++) {
		pid_t a = fx_spawn(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
		pid_t b = fx_spawn(fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
		struct svc_hello_rep info;
		pid_t winner, loser = 0;
		int status = -1;
		uint64_t end = fx_now_ms() + 10000;

		while (fx_now_ms() < end) {
			if ((status = fx_wait_exit(a, 10)) >= 0) {
				loser = a;
				break;
			}
			if ((status = fx_wait_exit(b, 10)) >= 0) {
				loser = b;
				break;
			}
		}
		assert_true(loser != 0);
		assert_int_equal(status, 1);
		winner = loser == a ? b : a;
		fx->pid = winner;
		fx_wait_serving(fx, &info);
		assert_int_equal((pid_t)info.service_pid, winner);
		assert_int_equal(fx_wait_exit(winner, 100), -1);
		kill(winner, SIGTERM);
		assert_int_equal(fx_wait_exit(winner, 5000), 0);
		fx->pid = 0;
	}
	{
		char *log = fx_log(fx);

		cli_assert_contains(log, "a platform service already runs (pid");
		free(log);
	}
}

static void test_stop_refused_with_client(void **state)
{
	struct svc_fx *fx = *state;
	struct softsgx_config cfg;
	struct svc_status_rep st;
	struct svc_client c = {0};
	struct cli_result r;

	fx_start(fx, NULL);
	fx_config(&cfg, 4);
	assert_int_equal(svc_connect(&c, fx->dir, &cfg, 0, NULL), 0);
	assert_int_equal(svc_status(&c, &st), 0);
	assert_int_equal(st.clients, 1);
	run_cmd(&r, CLI_ARGS("platform", "stop"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "1 client is connected; use --force");
	cli_result_free(&r);
	assert_int_equal(fx_wait_exit(fx->pid, 100), -1);
	assert_int_equal(svc_status(&c, &st), 0);

	run_cmd(&r, CLI_ARGS("platform", "stop", "--force"));
	cli_assert_status(&r, 0);
	cli_result_free(&r);
	assert_int_equal(fx_wait_exit(fx->pid, 5000), 0);
	fx->pid = 0;
	/* The client learns at its next call, with an errno. */
	{
		int ret = svc_status(&c, &st);

		assert_true(ret == -ECONNRESET || ret == -EPIPE);
	}
	svc_close(&c);
}

static void test_idle_exit(void **state)
{
	struct svc_fx *fx = *state;
	struct softsgx_config cfg;
	struct svc_client c = {0}, ctl = {0};
	char *log;

	fx_start(fx, CLI_ARGS("--epc", "4M", "--sections", "1", "--idle-timeout", "1"));
	fx_config(&cfg, 4);
	assert_int_equal(svc_connect(&c, fx->dir, &cfg, 0, NULL), 0);
	/* A control connection (status, stop) does not keep it up. */
	assert_int_equal(svc_connect(&ctl, fx->dir, NULL, SVC_HELLO_CONTROL, NULL), 0);
	assert_int_equal(fx_wait_exit(fx->pid, 2000), -1);
	svc_close(&c);
	assert_int_equal(fx_wait_exit(fx->pid, 4000), 0);
	fx->pid = 0;
	svc_close(&ctl);
	log = fx_log(fx);
	cli_assert_contains(log, "idle for 1 s: exiting");
	free(log);
	assert_int_equal(svc_lock_holder(fx->dir), 0);
}

static void test_stale_socket_replaced(void **state)
{
	struct svc_fx *fx = *state;
	struct cli_result r;
	char sock[256];
	struct stat st;

	fx_start(fx, NULL);
	kill(fx->pid, SIGKILL);
	assert_int_equal(fx_wait_exit(fx->pid, 5000), 128 + SIGKILL);
	fx->pid = 0;
	svc_dir_file(fx->dir, SVC_SOCK_NAME, sock, sizeof(sock));
	assert_int_equal(lstat(sock, &st), 0); /* left behind */
	run_cmd(&r, CLI_ARGS("platform", "status"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.out, "not running");
	cli_result_free(&r);
	fx_start(fx, NULL);
	run_cmd(&r, CLI_ARGS("platform", "status"));
	cli_assert_status(&r, 0);
	cli_result_free(&r);
}

static void test_dir_refused(void **state)
{
	struct svc_fx *fx = *state;
	struct cli_result r;

	assert_int_equal(chmod(fx->dir, 0755), 0);
	run_cmd(&r, CLI_ARGS("platform", "start", "--foreground"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "mode 0755; it must be 0700");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "status"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "refusing the socket directory");
	cli_result_free(&r);
	assert_int_equal(chmod(fx->dir, 0700), 0);
}

struct killer {
	pid_t pid;
	unsigned int delay_ms;
	uint64_t killed_at;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_ms * 1000);
	k->killed_at = fx_now_ms();
	kill(k->pid, SIGKILL);
	return NULL;
}

/* The service dies while a call waits for its reply: an errno, at once. */
static void test_killed_mid_call(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_status_rep st;
	struct svc_client c = {0};
	struct killer k;
	pthread_t t;
	int ret;

	fx_start(fx, NULL);
	assert_int_equal(svc_connect(&c, fx->dir, NULL, 0, NULL), 0);
	/* Stopped: the request is sent and no reply comes. */
	kill(fx->pid, SIGSTOP);
	c.timeout_ms = 300;
	assert_int_equal(svc_status(&c, &st), -ETIMEDOUT);
	/* A late reply to the timed-out call is not taken for the next one's. */
	kill(fx->pid, SIGCONT);
	ret = svc_status(&c, &st);
	assert_int_equal(ret, -EPROTO);
	svc_close(&c);

	assert_int_equal(svc_connect(&c, fx->dir, NULL, 0, NULL), 0);
	c.timeout_ms = 30000;
	kill(fx->pid, SIGSTOP);
	k = (struct killer){.pid = fx->pid, .delay_ms = 200};
	assert_int_equal(pthread_create(&t, NULL, kill_later, &k), 0);
	ret = svc_status(&c, &st);
	pthread_join(t, NULL);
	assert_int_equal(ret, -ECONNRESET);
	assert_true(fx_now_ms() - k.killed_at < 1000);
	/* And the next call fails at once too. */
	ret = svc_status(&c, &st);
	assert_true(ret == -EPIPE || ret == -ECONNRESET);
	svc_close(&c);
	assert_int_equal(fx_wait_exit(fx->pid, 5000), 128 + SIGKILL);
	fx->pid = 0;
}

/* ---- malformed messages, on raw sockets ---- */

static int raw_connect(struct svc_fx *fx)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_int_equal(svc_dir_file(fx->dir, SVC_SOCK_NAME, sa.sun_path, sizeof(sa.sun_path)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send @len bytes (with @sendfd attached when >= 0); the reply's status. */
static int raw_call(int fd, const void *msg, size_t len, int sendfd, uint32_t *seq)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct {
		struct svc_hdr h;
		struct svc_reply_hdr r;
		uint8_t rest[4096];
	} rep;
	ssize_t n;

	if (sendfd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
	}
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
	n = recv(fd, &rep, sizeof(rep), 0);
	assert_true(n >= (ssize_t)(sizeof(rep.h) + sizeof(rep.r)));
	assert_int_equal(rep.h.magic, SVC_MAGIC);
	assert_true(rep.h.type & SVC_REPLY);
	assert_int_equal(rep.h.len, (size_t)n - sizeof(rep.h));
	if (seq)
		*seq = rep.h.seq;
	return rep.r.status;
}

static void assert_closed(int fd)
{
	char b[64];

	assert_int_equal(recv(fd, b, sizeof(b), 0), 0);
}

static struct svc_hdr hdr(unsigned int type, uint32_t len, uint32_t seq)
{
	return (struct svc_hdr){.magic = SVC_MAGIC,
				.version = SVC_VERSION,
				.type = (uint16_t)type,
				.len = len,
				.seq = seq};
}

static void assert_still_serving(struct svc_fx *fx)
{
	struct svc_status_rep st;
	struct svc_client c = {0};

	assert_int_equal(svc_connect(&c, fx->dir, NULL, SVC_HELLO_CONTROL, NULL), 0);
	assert_int_equal(svc_status(&c, &st), 0);
	assert_int_equal((pid_t)st.service_pid, fx->pid);
	svc_close(&c);
}

static void test_malformed(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_client good = {0};
	struct svc_status_rep st;
	struct svc_hdr h;
	uint32_t seq;
	int fd;

	fx_start(fx, NULL);
	/* A well-behaved client connected all along keeps its service. */
	assert_int_equal(svc_connect(&good, fx->dir, NULL, 0, NULL), 0);

	/* Bad magic: -EPROTO, then the connection is closed. */
	fd = raw_connect(fx);
	h = hdr(SVC_STATUS, 0, 5);
	h.magic = 0x12345678;
	assert_int_equal(raw_call(fd, &h, sizeof(h), -1, &seq), -EPROTO);
	assert_int_equal(seq, 5);
	assert_closed(fd);
	close(fd);
	assert_still_serving(fx);

	/* Short: no header at all. */
	fd = raw_connect(fx);
	assert_int_equal(raw_call(fd, "\x53\x53\x47\x58\x01", 5, -1, &seq), -EPROTO);
	assert_int_equal(seq, 0);
	assert_closed(fd);
	close(fd);

	/* A huge length field. */
	fd = raw_connect(fx);
	h = hdr(SVC_STATUS, 0xfffffff0u, 6);
	assert_int_equal(raw_call(fd, &h, sizeof(h), -1, NULL), -EPROTO);
	assert_closed(fd);
	close(fd);

	/* Another version. */
	fd = raw_connect(fx);
	h = hdr(SVC_STATUS, 0, 6);
	h.version = 99;
	assert_int_equal(raw_call(fd, &h, sizeof(h), -1, NULL), -EPROTO);
	assert_closed(fd);
	close(fd);

	/* Well framed but not acceptable: an error, and the connection stays. */
	fd = raw_connect(fx);
	h = hdr(SVC_STATUS, 0, 7);
	assert_int_equal(raw_call(fd, &h, sizeof(h), -1, &seq), -ENOTCONN); /* before HELLO */
	assert_int_equal(seq, 7);
	h = hdr(77, 0, 8);
	assert_int_equal(raw_call(fd, &h, sizeof(h), -1, &seq), -EINVAL); /* unknown type */
	assert_int_equal(seq, 8);
	{
		struct {
			struct svc_hdr h;
			struct svc_hello_req r;
		} hello = {.h = hdr(SVC_HELLO, sizeof(struct svc_hello_req), 9)};

		hello.r.version = SVC_VERSION;
		hello.r.flags = SVC_HELLO_ANY_CONFIG;
		strcpy(hello.r.program, "raw");
		assert_int_equal(raw_call(fd, &hello, sizeof(hello), -1, NULL), 0);
		/* A second HELLO on the same connection. */
		assert_int_equal(raw_call(fd, &hello, sizeof(hello), -1, NULL), -EINVAL);
		/* A payload size wrong for the type. */
		hello.h.len = 10;
		assert_int_equal(raw_call(fd, &hello, sizeof(hello.h) + 10, -1, NULL), -EINVAL);
	}
	/* A descriptor where none belongs: refused, and closed by the service. */
	h = hdr(SVC_STATUS, 0, 10);
	assert_int_equal(raw_call(fd, &h, sizeof(h), STDIN_FILENO, NULL), -EINVAL);
	h = hdr(SVC_STATUS, 0, 11);
	assert_int_equal(raw_call(fd, &h, sizeof(h), -1, &seq), 0);
	assert_int_equal(seq, 11);
	close(fd);

	/* A client that connects and says nothing holds nobody up. */
	fd = raw_connect(fx);
	assert_still_serving(fx);
	close(fd);

	assert_int_equal(svc_status(&good, &st), 0);
	/* "good", and the raw HELLO unless its close was seen first. */
	assert_in_range(st.clients, 1, 2);
	svc_close(&good);
	{
		char *log = fx_log(fx);

		cli_assert_contains(log, "malformed message");
		free(log);
	}
}

/* A client that sends and never reads is dropped; the others are served. */
static void test_flood(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_hdr h = hdr(SVC_STATUS, 0, 1);
	uint64_t end;
	int fd, err = 0;
	char *log;

	fx_start(fx, NULL);
	fd = raw_connect(fx);
	end = fx_now_ms() + 10000;
	while (!err && fx_now_ms() < end) {
		if (send(fd, &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN)
				usleep(100);
			else
				err = errno;
		}
	}
	assert_true(err == EPIPE || err == ECONNRESET);
	close(fd);
	assert_still_serving(fx);
	log = fx_log(fx);
	cli_assert_contains(log, "connection dropped");
	free(log);
}

static void test_top(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_client c = {0}, ctl = {0};
	char *json, pid[32];

	fx_start(fx, NULL);
	assert_int_equal(svc_connect(&c, fx->dir, NULL, 0, NULL), 0);
	assert_int_equal(svc_connect(&ctl, fx->dir, NULL, SVC_HELLO_CONTROL, NULL), 0);
	assert_int_equal(svc_top(&ctl, &json), 0);
	assert_true(json_valid(json, strlen(json)));
	cli_assert_contains(json, "\"epc\": {\"total_pages\": 1024, \"free_pages\": 1024");
	snprintf(pid, sizeof(pid), "{\"pid\": %d,", (int)getpid());
	cli_assert_contains(json, pid);
	cli_assert_contains(json, "\"program\": \"test_server\"");
	cli_assert_contains(json, "\"enclaves\": [], \"vepcs\": []");
	/* The control connection is not a process of the platform. */
	assert_null(strstr(strstr(json, pid) + strlen(pid), "\"pid\""));
	free(json);
	svc_close(&c);
	svc_close(&ctl);
}

static void test_get_epc(void **state)
{
	struct svc_fx *fx = *state;
	struct svc_get_epc_rep rep;
	struct svc_client c = {0};
	int fds[SVC_MAX_FDS], ret;

	fx_start(fx, CLI_ARGS("--epc", "8M", "--sections", "2"));
	assert_int_equal(svc_connect(&c, fx->dir, NULL, 0, NULL), 0);
	/* No privilege needed: the service keeps its memfds (hw/shm.h). */
	ret = svc_get_epc(&c, &rep, fds);
	assert_int_equal(ret, 0);
	assert_int_equal(rep.nr_sections, 2);
	assert_true(rep.owner >= 2);
	for (unsigned int i = 0; i < 2; i++) {
		struct stat st;
		uint8_t *p;

		assert_int_equal(rep.section[i].size, 4u << 20);
		assert_int_equal(fstat(fds[2 * i], &st), 0);
		assert_true((uint64_t)st.st_size >= rep.section[i].size);
		/* The section's memory, shared with the service. */
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fds[2 * i], 0);
		assert_true(p != MAP_FAILED);
		munmap(p, 4096);
		/* Its EPCM, which a view of the CPU model maps too. */
		assert_int_equal(fstat(fds[2 * i + 1], &st), 0);
		assert_true(st.st_size > 0);
		close(fds[2 * i]);
		close(fds[2 * i + 1]);
	}
	/* The same owner token for a second GET_EPC of the same client. */
	{
		struct svc_get_epc_rep again;

		assert_int_equal(svc_get_epc(&c, &again, fds), 0);
		assert_int_equal(again.owner, rep.owner);
		for (unsigned int i = 0; i < 4; i++)
			close(fds[i]);
	}
	svc_close(&c);
}

#define CAP_SYS_ADMIN_BIT	   21
#define CAP_CHECKPOINT_RESTORE_BIT 40

/* Bit @cap of the effective capabilities of @pid (/proc/PID/status); -1 when unknown. */
static int cap_effective(pid_t pid, unsigned int cap)
{
	char path[64], line[256];
	unsigned long long eff;
	int ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			ret = (int)((eff >> cap) & 1);
	fclose(f);
	return ret;
}

/*
 * In a child: without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (dropped
 * from the bounding set, so the service exec()ed from here has neither,
 * root or not), a service passes its EPC memfds all the same. Returns the
 * exit status: 0, or the number of the failed step.
 */
static int get_epc_without_caps(struct svc_fx *fx)
{
	struct svc_get_epc_rep rep;
	struct svc_client c = {0};
	int fds[SVC_MAX_FDS], ret = 0, log;
	uint64_t end;
	pid_t svc;

	/* Without CAP_SETPCAP (not root) there is nothing to drop: none is held. */
	prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN_BIT, 0, 0, 0);
	prctl(PR_CAPBSET_DROP, CAP_CHECKPOINT_RESTORE_BIT, 0, 0, 0);
	log = open(fx->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	svc = fork();
	if (svc < 0)
		return 1;
	if (!svc) {
		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		execl(cli_bin(), cli_bin(), "platform", "start", "--foreground", "--epc", "8M",
		      "--sections", "2", (char *)NULL);
		_exit(127);
	}
	for (end = fx_now_ms() + 10000; svc_connect(&c, fx->dir, NULL, 0, NULL); usleep(10000)) {
		if (fx_now_ms() > end) {
			ret = 2;
			goto out;
		}
	}
	if (cap_effective(svc, CAP_SYS_ADMIN_BIT) != 0 ||
	    cap_effective(svc, CAP_CHECKPOINT_RESTORE_BIT) != 0) {
		ret = 3;
		goto out;
	}
	if (svc_get_epc(&c, &rep, fds) || rep.nr_sections != 2) {
		ret = 4;
		goto out;
	}
	for (unsigned int i = 0; i < rep.nr_sections; i++) {
		void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fds[i], 0);

		if (p == MAP_FAILED)
			ret = 5;
		else
			munmap(p, 4096);
		close(fds[i]);
	}
out:
	svc_close(&c);
	kill(svc, SIGTERM);
	waitpid(svc, NULL, 0);
	return ret;
}

static void test_get_epc_unprivileged(void **state)
{
	struct svc_fx *fx = *state;
	pid_t child = fork();
	int status;

	assert_true(child >= 0);
	if (!child)
		_exit(get_epc_without_caps(fx));
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Another user: the 0700 directory keeps them out; with the directory and
 * socket opened up, the service's SO_PEERCRED check refuses them.
 */
static void test_other_uid(void **state)
{
	struct svc_fx *fx = *state;
	char sock[256];
	pid_t child;
	int status;
	char *log;

	if (geteuid() != 0) {
		printf("skip: connecting as another user needs root (setuid)\n");
		skip();
	}
	fx_start(fx, NULL);
	svc_dir_file(fx->dir, SVC_SOCK_NAME, sock, sizeof(sock));
	for (int open_up = 0; open_up < 2; open_up++) {
		if (open_up) {
			assert_int_equal(chmod(fx->dir, 0711), 0);
			assert_int_equal(chmod(sock, 0666), 0);
		}
		child = fork();
		if (!child) {
			struct sockaddr_un sa = {.sun_family = AF_UNIX};
			struct timeval tv = {.tv_sec = 5};
			struct svc_hdr h = hdr(SVC_STATUS, 0, 1);
			int fd;
			char b[256];

			if (setgid(65534) || setuid(65534))
				_exit(10);
			memcpy(sa.sun_path, sock, strlen(sock) + 1);
			fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
				_exit(errno == EACCES ? 20 : 11);
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			send(fd, &h, sizeof(h), MSG_NOSIGNAL);
			/* Closed by the service without a reply. */
			_exit(recv(fd, b, sizeof(b), 0) <= 0 ? 21 : 12);
		}
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), open_up ? 21 : 20);
	}
	assert_int_equal(chmod(fx->dir, 0700), 0);
	log = fx_log(fx);
	cli_assert_contains(log, "refused: uid 65534 is not ours");
	free(log);
	assert_still_serving(fx);
}

/*
 * Started without --foreground: the command returns once the daemon serves,
 * and the daemon keeps none of its starter's descriptors (a shell's $(...)
 * of the command ends at once, not when the daemon exits).
 */
static void test_daemon_detaches(void **state)
{
	struct svc_fx *fx = *state;
	struct pollfd p;
	struct cli_result r;
	char out[512] = "";
	size_t len = 0;
	int pfd[2], extra;
	pid_t cmd, daemon;
	uint64_t end;
	ssize_t n;

	assert_int_equal(pipe(pfd), 0);
	/* A descriptor without close-on-exec, as a shell would leave one. */
	extra = dup(pfd[1]);
	cmd = cli_start(&(struct cli_cmd){.argv = CLI_ARGS(cli_bin(), "platform", "start", "--epc",
							   "4M", "--sections", "1")},
			-1, pfd[1], pfd[1]);
	close(pfd[1]);
	close(extra);
	p = (struct pollfd){.fd = pfd[0], .events = POLLIN};
	end = fx_now_ms() + 5000;
	for (;;) {
		assert_true(fx_now_ms() < end);
		assert_true(poll(&p, 1, 100) >= 0);
		n = read(pfd[0], out + len, sizeof(out) - 1 - len);
		if (n == 0)
			break; /* every writer gone */
		if (n > 0)
			len += (size_t)n;
	}
	close(pfd[0]);
	out[len] = '\0';
	assert_int_equal(cli_wait(cmd), 0);
	cli_assert_contains(out, "started (pid");
	daemon = svc_lock_holder(fx->dir);
	assert_true(daemon > 0);
	run_cmd(&r, CLI_ARGS("platform", "status"));
	cli_assert_status(&r, 0);
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "stop"));
	cli_assert_status(&r, 0);
	cli_result_free(&r);
	assert_int_equal(svc_lock_holder(fx->dir), 0);
}

static void test_usage(void **state)
{
	struct cli_result r;

	(void)state;
	cli_assert_help("platform");
	run_cmd(&r, CLI_ARGS("platform", "start", "--help"));
	cli_assert_usage(&r, "Usage: softsgx platform start");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "stop", "-h"));
	cli_assert_usage(&r, "Usage: softsgx platform stop");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "status", "--help"));
	cli_assert_usage(&r, "Usage: softsgx platform status");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform"));
	cli_assert_usage_error(&r, "platform", "missing action");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "restart"));
	cli_assert_usage_error(&r, "platform", "unknown action 'restart'");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "start", "--idle-timeout", "soon"));
	cli_assert_usage_error(&r, "platform start", "--idle-timeout 'soon'");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "start", "--epc", "3"));
	cli_assert_usage_error(&r, "platform start", "does not split");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "stop", "--bogus"));
	cli_assert_usage_error(&r, "platform stop", "--bogus");
	cli_result_free(&r);
	run_cmd(&r, CLI_ARGS("platform", "status", "extra"));
	cli_assert_usage_error(&r, "platform status", "extra");
	cli_result_free(&r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		T(test_start_status_stop),
		T(test_config_mismatch),
		T(test_start_race),
		T(test_stop_refused_with_client),
		T(test_idle_exit),
		T(test_stale_socket_replaced),
		T(test_dir_refused),
		T(test_killed_mid_call),
		T(test_malformed),
		T(test_flood),
		T(test_top),
		T(test_get_epc),
		T(test_get_epc_unprivileged),
		T(test_other_uid),
		T(test_daemon_detaches),
		T(test_usage),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, NULL, NULL);
}
