/* SPDX-License-Identifier: MIT */
/*
 * The services-file parser (three dialects), the loaded table and the
 * browsers' bad ports.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

struct got {
	char names[8][32];
	unsigned int lo[8], hi[8], protos[8], lines[8];
	double freq[8];
	const char *errors[8];
	size_t n;
};

static int keep(const struct services_line *l, void *data)
{
	struct got *g = data;

	assert_true(g->n < 8);
	if (l->name)
		snprintf(g->names[g->n], 32, "%.*s", (int)l->name_len, l->name);
	g->lo[g->n] = l->port_lo;
	g->hi[g->n] = l->port_hi;
	g->protos[g->n] = l->protos;
	g->freq[g->n] = l->frequency;
	g->lines[g->n] = l->line;
	g->errors[g->n] = l->error;
	g->n++;
	return 0;
}

static void test_dialects(void **state)
{
	static const char text[] =
		"# /etc/services\n"
		"http\t\t80/tcp\t\twww\t# WorldWideWeb HTTP\n"
		"x11\t\t6000-6063/tcp/udp\t# wireshark's ranges\n"
		"discard\t\t9/tcp/udp/sctp/dccp\n"
		"tcpmux\t1/udp\t0.001236\t# nmap frequency\n"
		"lonely\n"
		"bad\t70000/tcp\n"
		"noproto\t42\n"
		"sctponly\t2905/sctp\n";
	struct got g = { 0 };

	(void)state;
	assert_int_equal(services_parse(text, sizeof(text) - 1, keep, &g), 0);
	assert_int_equal(g.n, 8);
	assert_string_equal(g.names[0], "http");
	assert_int_equal(g.lo[0], 80);
	assert_int_equal(g.protos[0], EPH_PROTO_TCP);
	assert_int_equal(g.lo[1], 6000);
	assert_int_equal(g.hi[1], 6063);
	assert_int_equal(g.protos[1], EPH_PROTO_TCP | EPH_PROTO_UDP);
	assert_int_equal(g.protos[2], EPH_PROTO_TCP | EPH_PROTO_UDP);
	assert_true(g.freq[3] > 0.0012 && g.freq[3] < 0.0013);
	assert_non_null(g.errors[4]);
	assert_int_equal(g.lines[4], 6);
	assert_non_null(g.errors[5]);
	assert_non_null(g.errors[6]);
	assert_null(g.errors[7]);
	assert_int_equal(g.protos[7], 0);
}

static void test_table(void **state)
{
	char path[512];
	struct eph_services *db;
	struct eph_portset *common = ps_new();

	(void)state;
	snprintf(path, sizeof(path), "%s/services/small", FIXTURES);
	assert_int_equal(eph_services_read(ctx, path, &db), 0);
	assert_non_null(common);
	assert_true(eph_services_registered(db, 80, EPH_PROTO_TCP));
	assert_false(eph_services_registered(db, 80, EPH_PROTO_UDP));
	assert_true(eph_services_registered(db, 6010, EPH_PROTO_UDP));
	assert_false(eph_services_registered(db, 6064, EPH_PROTO_TCP));
	assert_string_equal(eph_services_name(db, 6010), "x11");
	assert_null(eph_services_name(db, 81));
	assert_int_equal(eph_services_bad_lines(db), 1);
	assert_int_equal(eph_services_common(db, 2, common), 2);
	assert_true(eph_portset_has(common, 443));
	assert_true(eph_portset_has(common, 80));
	assert_false(eph_portset_has(common, 22));
	eph_portset_free(common);
	eph_services_free(db);
	assert_int_equal(eph_services_read(ctx, "/nonexistent/services", &db),
			 -ENOENT);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "/nonexistent/services"));
}

static void test_browser_ports(void **state)
{
	(void)state;
	assert_true(eph_port_browser_blocked(6667));
	assert_true(eph_port_browser_blocked(10080));
	assert_true(eph_port_browser_blocked(22));
	assert_false(eph_port_browser_blocked(8080));
	assert_false(eph_port_browser_blocked(443));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dialects),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_browser_ports),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
