// SPDX-License-Identifier: MIT
/*
 * service/proto.c: svc_msg_check() on every rule of the wire format, and
 * the config helpers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "service/proto.h"

struct buf {
	struct svc_hdr h;
	uint8_t payload[512];
} __attribute__((aligned(8)));

static struct svc_msg msg(struct buf *b, unsigned int type, size_t len)
{
	b->h = (struct svc_hdr){.magic = SVC_MAGIC,
				.version = SVC_VERSION,
				.type = (uint16_t)type,
				.len = (uint32_t)len,
				.seq = 7};
	return (struct svc_msg){.hdr = &b->h, .payload = b->payload, .size = sizeof(b->h) + len};
}

static void good_hello(struct buf *b)
{
	struct svc_hello_req *h = (void *)b->payload;
	struct softsgx_config cfg;

	memset(h, 0, sizeof(*h));
	softsgx_default_config(&cfg);
	svc_config_from(&h->cfg, &cfg);
	h->pid = 1;
	h->version = SVC_VERSION;
	strcpy(h->program, "test");
}

static void test_framing(void **state)
{
	struct buf b = {0};
	struct svc_msg m;

	(void)state;
	m = msg(&b, SVC_STATUS, 0);
	assert_int_equal(svc_msg_check(&m), 0);
	m.hdr = NULL; /* short */
	m.size = 8;
	assert_int_equal(svc_msg_check(&m), -EPROTO);
	m = msg(&b, SVC_STATUS, 0);
	b.h.magic ^= 1;
	assert_int_equal(svc_msg_check(&m), -EPROTO);
	m = msg(&b, SVC_STATUS, 0);
	b.h.version = SVC_VERSION + 1;
	assert_int_equal(svc_msg_check(&m), -EPROTO);
	m = msg(&b, SVC_STATUS, 0);
	b.h.len = 1u << 30; /* huge: not what arrived */
	assert_int_equal(svc_msg_check(&m), -EPROTO);
	m = msg(&b, SVC_STATUS, 0);
	m.trunc = true;
	assert_int_equal(svc_msg_check(&m), -EPROTO);
	m = msg(&b, SVC_STATUS, 0);
	m.size = SVC_MSG_MAX + 1;
	assert_int_equal(svc_msg_check(&m), -EPROTO);
	assert_true(svc_framing_error(-EPROTO));
	assert_false(svc_framing_error(-EINVAL));
}

static void test_requests(void **state)
{
	struct buf b = {0};
	struct svc_hello_req *h = (void *)b.payload;
	struct svc_msg m;

	(void)state;
	m = msg(&b, 0, 0);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = msg(&b, SVC_TYPE_MAX + 1, 0);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = msg(&b, SVC_STATUS | SVC_REPLY, 0);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = msg(&b, SVC_TOP, 4);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = msg(&b, SVC_GET_EPC, 0);
	m.nfds = 1; /* descriptors where none belong */
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m.nfds = SVC_MAX_FDS + 1;
	assert_int_equal(svc_msg_check(&m), -EPROTO);

	good_hello(&b);
	m = msg(&b, SVC_HELLO, sizeof(struct svc_hello_req));
	assert_int_equal(svc_msg_check(&m), 0);
	m = msg(&b, SVC_HELLO, sizeof(struct svc_hello_req) - 1);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	memset(h->program, 'x', sizeof(h->program)); /* no NUL */
	m = msg(&b, SVC_HELLO, sizeof(*h));
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	good_hello(&b);
	h->flags = 0x80;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	good_hello(&b);
	h->cfg.section_size[0] = 4095;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	h->flags = SVC_HELLO_ANY_CONFIG; /* the config is not looked at */
	assert_int_equal(svc_msg_check(&m), 0);
	good_hello(&b);
	h->cfg.nr_sections = 0;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	good_hello(&b);
	h->cfg.section_size[7] = 4096; /* beyond nr_sections */
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	good_hello(&b);
	h->cfg.flags = 2;
	assert_int_equal(svc_msg_check(&m), -EINVAL);

	m = msg(&b, SVC_SHUTDOWN, sizeof(struct svc_shutdown_req));
	memset(b.payload, 0, sizeof(struct svc_shutdown_req));
	assert_int_equal(svc_msg_check(&m), 0);
	((struct svc_shutdown_req *)b.payload)->flags = SVC_SHUTDOWN_FORCE;
	assert_int_equal(svc_msg_check(&m), 0);
	((struct svc_shutdown_req *)b.payload)->flags = 2;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = msg(&b, SVC_SHUTDOWN, 0);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
}

static struct svc_msg reply(struct buf *b, unsigned int type, int status, size_t body)
{
	struct svc_msg m = msg(b, type | SVC_REPLY, sizeof(struct svc_reply_hdr) + body);
	struct svc_reply_hdr *r = (void *)b->payload;

	r->status = status;
	r->reserved = 0;
	m.reply = true;
	return m;
}

static void test_replies(void **state)
{
	struct buf b = {0};
	struct svc_msg m;
	struct svc_get_epc_rep *e = (void *)(b.payload + sizeof(struct svc_reply_hdr));

	(void)state;
	m = reply(&b, SVC_STATUS, 0, sizeof(struct svc_status_rep));
	assert_int_equal(svc_msg_check(&m), 0);
	m = reply(&b, SVC_STATUS, 0, 8);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_STATUS, 1, sizeof(struct svc_status_rep));
	assert_int_equal(svc_msg_check(&m), -EINVAL); /* positive status */
	m = reply(&b, SVC_STATUS, -ENOMEM, 0);
	assert_int_equal(svc_msg_check(&m), 0);
	m = reply(&b, SVC_HELLO, -EBUSY, sizeof(struct svc_hello_rep));
	assert_int_equal(svc_msg_check(&m), 0);
	m = reply(&b, SVC_HELLO, -EBUSY, 0);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_TOP, 0, 300);
	assert_int_equal(svc_msg_check(&m), 0);
	m = reply(&b, SVC_SHUTDOWN, -EBUSY, sizeof(struct svc_shutdown_rep));
	assert_int_equal(svc_msg_check(&m), 0);
	m = msg(&b, SVC_STATUS, 0); /* a request where a reply belongs */
	m.reply = true;
	assert_int_equal(svc_msg_check(&m), -EINVAL);

	/* Two descriptors per section (memory, EPCM) and a view's owner token from 2 up. */
	m = reply(&b, SVC_GET_EPC, 0, sizeof(*e));
	e->nr_sections = 2;
	e->owner = 2;
	m.nfds = 4;
	assert_int_equal(svc_msg_check(&m), 0);
	m.nfds = 2;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m.nfds = 4;
	e->owner = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	e->owner = 2;
	e->nr_sections = SOFTSGX_MAX_SECTIONS + 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_STATUS, 0, sizeof(struct svc_status_rep));
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
}

/* EPC cgroups (issue 17): paths, HELLO's optional path, the CGROUP_* messages. */
static void test_cgroup_msgs(void **state)
{
	static struct {
		struct svc_hdr h;
		uint8_t payload[sizeof(struct svc_cgroup_list_rep) +
				2 * sizeof(struct svc_cgroup_entry)];
	} __attribute__((aligned(8))) big;
	struct svc_cgroup_req *r = (void *)big.payload;
	struct svc_hello_req *h = (void *)big.payload;
	struct svc_reply_hdr *rh = (void *)big.payload;
	struct svc_cgroup_list_rep *l = (void *)(rh + 1);
	struct svc_cgroup_entry *e = (void *)(l + 1);
	char longname[300];
	struct svc_msg m;

	(void)state;
	assert_true(svc_cgroup_path_valid("/", 8));
	assert_true(svc_cgroup_path_valid("/a", 8));
	assert_true(svc_cgroup_path_valid("/a/b.c/..d", 16));
	assert_true(svc_cgroup_path_valid("/user.slice/app-1.scope", 64));
	assert_false(svc_cgroup_path_valid("", 8));
	assert_false(svc_cgroup_path_valid("a/b", 8));
	assert_false(svc_cgroup_path_valid("/a/", 8));
	assert_false(svc_cgroup_path_valid("//a", 8));
	assert_false(svc_cgroup_path_valid("/a//b", 8));
	assert_false(svc_cgroup_path_valid("/a/..", 8));
	assert_false(svc_cgroup_path_valid("/./a", 8));
	assert_false(svc_cgroup_path_valid("/a\nb", 8));
	assert_false(svc_cgroup_path_valid("/abcdefgh", 8)); /* not terminated within 8 */
	memset(longname, 'x', sizeof(longname));
	longname[0] = '/';
	longname[257] = '\0';
	assert_false(svc_cgroup_path_valid(longname, sizeof(longname))); /* a 256-byte name */
	longname[256] = '\0';
	assert_true(svc_cgroup_path_valid(longname, sizeof(longname)));

	/* HELLO: no path, "", a path; not terminated, junk after the NUL, a bad path. */
	memset(&big, 0, sizeof(big));
	{
		struct softsgx_config cfg;

		softsgx_default_config(&cfg);
		svc_config_from(&h->cfg, &cfg);
	}
	h->version = SVC_VERSION;
	strcpy(h->program, "t");
	m = (struct svc_msg){.hdr = &big.h, .payload = big.payload};
#define SET(ty, ln)                                                                                \
	do {                                                                                       \
		big.h = (struct svc_hdr){.magic = SVC_MAGIC,                                       \
					 .version = SVC_VERSION,                                   \
					 .type = (ty),                                             \
					 .len = (uint32_t)(ln)};                                   \
		m.size = sizeof(big.h) + (ln);                                                     \
	} while (0)
	SET(SVC_HELLO, sizeof(*h));
	assert_int_equal(svc_msg_check(&m), 0);
	SET(SVC_HELLO, sizeof(*h) + 1);
	assert_int_equal(svc_msg_check(&m), 0);
	strcpy((char *)(h + 1), "/vm");
	SET(SVC_HELLO, sizeof(*h) + 4);
	assert_int_equal(svc_msg_check(&m), 0);
	SET(SVC_HELLO, sizeof(*h) + 3);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	SET(SVC_HELLO, sizeof(*h) + 5);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	strcpy((char *)(h + 1), "/v/../m");
	SET(SVC_HELLO, sizeof(*h) + 8);
	assert_int_equal(svc_msg_check(&m), -EINVAL);

	/* CGROUP_READ needs a file; SET_MAX takes max; REMOVE neither; LIST no payload. */
	memset(&big, 0, sizeof(big));
	strcpy(r->path, "/a");
	strcpy(r->file, "misc.current");
	SET(SVC_CGROUP_READ, sizeof(*r));
	assert_int_equal(svc_msg_check(&m), 0);
	SET(SVC_CGROUP_REMOVE, sizeof(*r));
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	strcpy(r->file, "Misc");
	SET(SVC_CGROUP_READ, sizeof(*r));
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	memset(r->file, 0, sizeof(r->file));
	r->file[5] = 'x'; /* a byte after the (empty) name */
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	memset(r->file, 0, sizeof(r->file));
	assert_int_equal(svc_msg_check(&m), -EINVAL); /* READ of no file */
	r->max = 1 << 20;
	SET(SVC_CGROUP_SET_MAX, sizeof(*r));
	assert_int_equal(svc_msg_check(&m), 0);
	SET(SVC_CGROUP_REMOVE, sizeof(*r));
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	r->max = 0;
	assert_int_equal(svc_msg_check(&m), 0);
	SET(SVC_CGROUP_REMOVE, sizeof(*r) - 1);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	strcpy(r->path, "/a/");
	SET(SVC_CGROUP_REMOVE, sizeof(*r));
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	memset(r->path, 'a', sizeof(r->path)); /* not terminated */
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	SET(SVC_CGROUP_LIST, 0);
	assert_int_equal(svc_msg_check(&m), 0);
	SET(SVC_CGROUP_LIST, 8);
	assert_int_equal(svc_msg_check(&m), -EINVAL);

	/* The LIST reply: entries that add up, valid paths. */
	memset(&big, 0, sizeof(big));
	m.reply = true;
	l->nr = 2;
	l->total = 2;
	strcpy(e[0].path, "/");
	strcpy(e[1].path, "/a");
	SET(SVC_CGROUP_LIST | SVC_REPLY, sizeof(*rh) + sizeof(*l) + 2 * sizeof(*e));
	assert_int_equal(svc_msg_check(&m), 0);
	l->total = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	l->total = 3;
	e[1].path[2] = '/';
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	e[1].path[2] = '\0';
	SET(SVC_CGROUP_LIST | SVC_REPLY, sizeof(*rh) + sizeof(*l) + sizeof(*e));
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	SET(SVC_CGROUP_READ | SVC_REPLY, sizeof(*rh) + 20);
	assert_int_equal(svc_msg_check(&m), 0);
	SET(SVC_CGROUP_SET_MAX | SVC_REPLY, sizeof(*rh) + 8);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	rh->status = -EBUSY;
	SET(SVC_CGROUP_SET_MAX | SVC_REPLY, sizeof(*rh));
	assert_int_equal(svc_msg_check(&m), 0);
#undef SET
	assert_string_equal(svc_type_name(SVC_CGROUP_LIST), "CGROUP_LIST");
}

/* KICK (service -> client): no payload either way, no descriptors. */
static void test_kick(void **state)
{
	struct buf b = {0};
	struct svc_msg m;

	(void)state;
	m = msg(&b, SVC_KICK, 0);
	assert_int_equal(svc_msg_check(&m), 0);
	m = msg(&b, SVC_KICK, 8);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = msg(&b, SVC_KICK, 0);
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_KICK, 0, 0);
	m.reply = true;
	assert_int_equal(svc_msg_check(&m), 0);
	m = reply(&b, SVC_KICK, 0, 8);
	m.reply = true;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	assert_string_equal(svc_type_name(SVC_KICK | SVC_REPLY), "KICK");
}

/* FAULT_CHANNEL: no payload; its reply carries exactly one descriptor, none with an error. */
static void test_fault_channel(void **state)
{
	struct buf b = {0};
	struct svc_msg m;

	(void)state;
	m = msg(&b, SVC_FAULT_CHANNEL, 0);
	assert_int_equal(svc_msg_check(&m), 0);
	m = msg(&b, SVC_FAULT_CHANNEL, 4);
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = msg(&b, SVC_FAULT_CHANNEL, 0);
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_FAULT_CHANNEL, 0, 0);
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), 0);
	m.nfds = 0;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m.nfds = 2;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_FAULT_CHANNEL, 0, 8);
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_FAULT_CHANNEL, -EBUSY, 0);
	assert_int_equal(svc_msg_check(&m), 0);
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	assert_string_equal(svc_type_name(SVC_FAULT_CHANNEL | SVC_REPLY), "FAULT_CHANNEL");
	/* The memfd is whole pages, the channel in them. */
	assert_int_equal(SVC_FCHAN_SIZE % 4096, 0);
	assert_true(SVC_FCHAN_SIZE >= sizeof(struct svc_fchan));
}

static void test_config(void **state)
{
	struct softsgx_config cfg, back;
	struct svc_config a, b;
	char buf[96];

	(void)state;
	softsgx_default_config(&cfg);
	svc_config_from(&a, &cfg);
	assert_int_equal(svc_config_epc_bytes(&a), 128ull << 20);
	assert_string_equal(svc_config_describe(&a, buf), "--epc 128M --sections 2");
	svc_config_to(&back, &a);
	svc_config_from(&b, &back);
	assert_true(svc_config_equal(&a, &b));
	cfg.sgx2 = false;
	svc_config_from(&b, &cfg);
	assert_false(svc_config_equal(&a, &b));
	assert_string_equal(svc_config_describe(&b, buf), "--epc 128M --sections 2 --sgx1");
	cfg.nr_sections = 1;
	cfg.section_size[0] = 1ull << 40;
	svc_config_from(&b, &cfg);
	assert_string_equal(svc_config_describe(&b, buf), "--epc 1T --sections 1 --sgx1");
	cfg.section_size[0] = 12288;
	svc_config_from(&b, &cfg);
	assert_string_equal(svc_config_describe(&b, buf), "--epc 12K --sections 1 --sgx1");
	assert_string_equal(svc_type_name(SVC_GET_EPC | SVC_REPLY), "GET_EPC");
	assert_string_equal(svc_type_name(99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing), cmocka_unit_test(test_requests),
		cmocka_unit_test(test_replies), cmocka_unit_test(test_cgroup_msgs),
		cmocka_unit_test(test_kick), cmocka_unit_test(test_fault_channel),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
