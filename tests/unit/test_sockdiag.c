/* SPDX-License-Identifier: MIT */
/*
 * The sock_diag reply parser against recorded kernel replies (fixtures
 * made by tests/tools/sockdump --record from tests/e2e/sockets.py), and
 * against truncated and hostile variants of them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"
#include "../helpers.h"
#include "unit.h"

struct rec {
	unsigned char *buf[16];
	size_t len[16];
	size_t n;
};

static void rec_load(struct rec *r, const char *name)
{
	char path[512];
	FILE *f;
	uint32_t l;

	snprintf(path, sizeof(path), "%s/netlink/%s", FIXTURES, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	r->n = 0;
	while (r->n < 16 && fread(&l, sizeof(l), 1, f) == 1) {
		r->buf[r->n] = malloc(l);
		assert_non_null(r->buf[r->n]);
		assert_int_equal(fread(r->buf[r->n], 1, l, f), l);
		r->len[r->n++] = l;
	}
	fclose(f);
	assert_true(r->n > 0);
}

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->buf[i]);
}

struct tally {
	unsigned int n, by_state[EPH_TCP_MAX_STATES];
	unsigned int mapped, v6only, tw_with_owner, locked;
	uint32_t tw_expires;
};

static int count_sock(const struct eph_sock *s, void *data)
{
	struct tally *t = data;
	char a[64];

	t->n++;
	if (s->state < EPH_TCP_MAX_STATES)
		t->by_state[s->state]++;
	if (s->family == AF_INET6 &&
	    strcmp(eph_addr_format(s->remote, a, sizeof(a)), "127.0.0.1") == 0)
		t->mapped++;
	if (s->flags & EPH_SOCK_V6ONLY)
		t->v6only++;
	if (s->state == EPH_TCP_TIME_WAIT) {
		t->tw_expires = s->expires_ms;
		if (s->inode || s->uid)
			t->tw_with_owner++;
	}
	return 0;
}

static const struct eph_scan_ops count_ops = { NULL, count_sock };

/* Feeds every chunk; returns the last result. */
static int feed(struct rec *r, struct tally *t)
{
	int res = 0;

	for (size_t i = 0; i < r->n; i++) {
		res = sockdiag_parse(ctx, r->buf[i], r->len[i], IPPROTO_TCP, 0,
				     0, &count_ops, t, NULL);
		if (res != 0)
			break;
	}
	return res;
}

static void parses_a_recorded_tcp_dump(void **state)
{
	struct rec r;
	struct tally t = { 0 };

	(void)state;
	rec_load(&r, "tcp-mixed.rec");
	assert_int_equal(feed(&r, &t), 1); /* ends with NLMSG_DONE */
	assert_int_equal(t.n, 15);
	assert_int_equal(t.by_state[EPH_TCP_LISTEN], 2);
	assert_int_equal(t.by_state[EPH_TCP_ESTABLISHED], 10);
	assert_int_equal(t.by_state[EPH_TCP_TIME_WAIT], 1);
	/* Bound but idle sockets (6.8+) are reported as CLOSE. */
	assert_int_equal(t.by_state[EPH_TCP_CLOSE], 2);
	/* The v4-mapped client and the dual-stack side of its peer. */
	assert_true(t.mapped >= 1);
	assert_int_equal(t.v6only, 1);
	assert_int_equal(t.tw_with_owner, 0);
	assert_true(t.tw_expires > 0 && t.tw_expires <= 60000);
	rec_free(&r);
}

static void parses_a_recorded_udp_dump(void **state)
{
	struct rec r;
	struct tally t = { 0 };

	(void)state;
	rec_load(&r, "udp-mixed.rec");
	assert_int_equal(feed(&r, &t), 1);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.by_state[EPH_TCP_ESTABLISHED], 1);
	assert_int_equal(t.by_state[EPH_TCP_CLOSE], 1);
	rec_free(&r);
}

/* Every prefix of a chunk either parses to a message boundary or is
 * refused as malformed; none crashes or reads past its end (ASan). */
static void every_truncation_is_refused_or_clean(void **state)
{
	struct rec r;

	(void)state;
	rec_load(&r, "tcp-mixed.rec");
	for (size_t i = 0; i < r.n; i++) {
		for (size_t cut = 0; cut < r.len[i]; cut++) {
			struct tally t = { 0 };
			unsigned char *copy = malloc(cut ? cut : 1);
			int res;

			assert_non_null(copy);
			memcpy(copy, r.buf[i], cut);
			res = sockdiag_parse(ctx, copy, cut, IPPROTO_TCP, 0, 0,
					     &count_ops, &t, NULL);
			if (res < 0)
				assert_true(eph_ctx_errmsg(ctx)[0] != '\0');
			free(copy);
		}
	}
	rec_free(&r);
}

static void hostile_replies_are_refused(void **state)
{
	struct rec r;
	struct tally t = { 0 };
	struct nlmsghdr *nlh;
	unsigned char *b;
	struct nlattr *a;
	int res;

	(void)state;
	rec_load(&r, "tcp-mixed.rec");
	b = r.buf[0];
	nlh = (struct nlmsghdr *)b;

	/* A length that runs past the chunk. */
	nlh->nlmsg_len = (uint32_t)r.len[0] + 64;
	res = sockdiag_parse(ctx, b, r.len[0], IPPROTO_TCP, 0, 0, &count_ops,
			     &t, NULL);
	assert_int_equal(res, -EPROTO);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "truncated"));

	/* Regression: a length of 2 GiB or more passed libmnl's signed
	 * check and was read past the chunk (found by fuzz_sockdiag). */
	nlh->nlmsg_len = 0xfffffff0u;
	res = sockdiag_parse(ctx, b, r.len[0], IPPROTO_TCP, 0, 0, &count_ops,
			     &t, NULL);
	assert_int_equal(res, -EPROTO);

	/* A message too short to hold an inet_diag_msg. */
	nlh->nlmsg_len = NLMSG_HDRLEN + 8;
	res = sockdiag_parse(ctx, b, NLMSG_HDRLEN + 8, IPPROTO_TCP, 0, 0,
			     &count_ops, &t, NULL);
	assert_int_equal(res, -EPROTO);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "too short"));
	rec_free(&r);

	/* An attribute whose length overruns its message. */
	rec_load(&r, "tcp-mixed.rec");
	b = r.buf[0];
	nlh = (struct nlmsghdr *)b;
	a = (struct nlattr *)(b + NLMSG_HDRLEN +
			      NLMSG_ALIGN(sizeof(struct inet_diag_msg)));
	assert_true(nlh->nlmsg_len > (size_t)((unsigned char *)a - b) + 4);
	a->nla_len = (uint16_t)(nlh->nlmsg_len + 100);
	res = sockdiag_parse(ctx, b, nlh->nlmsg_len, IPPROTO_TCP, 0, 0,
			     &count_ops, &t, NULL);
	assert_int_equal(res, -EPROTO);
	rec_free(&r);

	/* A wrong sequence number: not our reply. */
	rec_load(&r, "tcp-mixed.rec");
	nlh = (struct nlmsghdr *)r.buf[0];
	res = sockdiag_parse(ctx, r.buf[0], r.len[0], IPPROTO_TCP,
			     nlh->nlmsg_seq + 1, 0, &count_ops, &t, NULL);
	assert_int_equal(res, -EPROTO);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "does not match"));

	/* An unknown message type. */
	nlh->nlmsg_type = 0x77;
	res = sockdiag_parse(ctx, r.buf[0], nlh->nlmsg_len, IPPROTO_TCP, 0, 0,
			     &count_ops, &t, NULL);
	assert_int_equal(res, -EPROTO);

	/* An unknown address family. */
	nlh->nlmsg_type = TCPDIAG_GETSOCK;
	((struct inet_diag_msg *)NLMSG_DATA(nlh))->idiag_family = AF_UNIX;
	res = sockdiag_parse(ctx, r.buf[0], nlh->nlmsg_len, IPPROTO_TCP, 0, 0,
			     &count_ops, &t, NULL);
	assert_int_equal(res, -EPROTO);
	rec_free(&r);
}

static void kernel_errors_and_interrupted_dumps_are_reported(void **state)
{
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} err = { 0 };
	struct {
		struct nlmsghdr h;
		int32_t v;
	} done = { 0 };
	bool intr = false;

	(void)state;
	err.h.nlmsg_len = sizeof(err);
	err.h.nlmsg_type = NLMSG_ERROR;
	err.e.error = -EPERM;
	assert_int_equal(sockdiag_parse(ctx, &err, sizeof(err), IPPROTO_TCP, 0,
					0, NULL, NULL, NULL),
			 -EPERM);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "refused"));

	done.h.nlmsg_len = sizeof(done);
	done.h.nlmsg_type = NLMSG_DONE;
	done.h.nlmsg_flags = NLM_F_DUMP_INTR;
	assert_int_equal(sockdiag_parse(ctx, &done, sizeof(done), IPPROTO_TCP,
					0, 0, NULL, NULL, &intr),
			 1);
	assert_true(intr);
	done.v = -ENOMEM;
	assert_int_equal(sockdiag_parse(ctx, &done, sizeof(done), IPPROTO_TCP,
					0, 0, NULL, NULL, NULL),
			 -ENOMEM);
	assert_int_equal(sockdiag_parse(ctx, &done, 0, IPPROTO_TCP, 0, 0, NULL,
					NULL, NULL),
			 -EPROTO);
}

static void formats_addresses_the_usual_way(void **state)
{
	uint8_t a[16] = { 0 };
	char buf[64];

	(void)state;
	a[10] = a[11] = 0xff;
	a[12] = 10;
	a[15] = 7;
	assert_string_equal(eph_addr_format(a, buf, sizeof(buf)), "10.0.0.7");
	memset(a, 0, sizeof(a));
	a[15] = 1;
	assert_string_equal(eph_addr_format(a, buf, sizeof(buf)), "::1");
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	assert_string_equal(eph_addr_format(a, buf, sizeof(buf)),
			    "2001:db8::1");
	assert_string_equal(eph_tcp_state_name(EPH_TCP_TIME_WAIT), "TIME-WAIT");
	assert_string_equal(eph_tcp_state_name(200), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_recorded_tcp_dump),
		cmocka_unit_test(parses_a_recorded_udp_dump),
		cmocka_unit_test(every_truncation_is_refused_or_clean),
		cmocka_unit_test(hostile_replies_are_refused),
		cmocka_unit_test(
			kernel_errors_and_interrupted_dumps_are_reported),
		cmocka_unit_test(formats_addresses_the_usual_way),
	};

	return cmocka_run_group_tests_name("sockdiag", tests, setup, teardown);
}
