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

#include "proto.h"

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

	m = reply(&b, SVC_GET_EPC, 0, sizeof(*e));
	e->nr_sections = 2;
	m.nfds = 2;
	assert_int_equal(svc_msg_check(&m), 0);
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	e->nr_sections = SOFTSGX_MAX_SECTIONS + 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
	m = reply(&b, SVC_STATUS, 0, sizeof(struct svc_status_rep));
	m.nfds = 1;
	assert_int_equal(svc_msg_check(&m), -EINVAL);
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
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
