/* SPDX-License-Identifier: MIT */
/*
 * The picker: every rule's verdict, with its numbers, on a chosen port,
 * under a policy built by setters, a services fixture and an assignments
 * fixture; the stable choice; keep-or-move; the refusals. The in-use and
 * bindable rules run against this process's own sockets.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

static char services[512], common[512], store_path[512];
static struct eph_assignments *store;
static struct eph_policy *policy;

/* Linux's range, 20001 reserved, ports below 1024 privileged. */
static int pick_setup(void **state)
{
	struct eph_portset *res = ps_new();

	if (setup(state) < 0 || !res)
		return -1;
	policy = policy_new();
	if (!policy || eph_policy_set_range(policy, 32768, 60999) < 0 ||
	    eph_policy_set_knob(policy, EPH_KNOB_UNPRIVILEGED_PORT_START,
				1024) < 0)
		return -1;
	eph_portset_add(res, 20001, 20001);
	eph_policy_set_reserved(policy, res);
	eph_portset_free(res);
	snprintf(services, sizeof(services), "%s/services/iana-sample",
		 FIXTURES);
	snprintf(common, sizeof(common), "%s/services/small", FIXTURES);
	snprintf(store_path, sizeof(store_path), "%s/assignments/ports",
		 FIXTURES);
	/* Read only: the picker never writes the store. */
	return eph_assignments_open(ctx, store_path, false, &store) < 0 ? -1
									: 0;
}

static int pick_teardown(void **state)
{
	eph_assignments_free(store);
	eph_policy_free(policy);
	return teardown(state);
}

static uint64_t systems(const char *list)
{
	uint64_t mask = 0;

	assert_int_equal(eph_os_parse_list(ctx, list, &mask), 0);
	return mask;
}

static uint64_t bit(const char *name)
{
	for (size_t i = 0; i < eph_os_count(); i++)
		if (strcmp(eph_os_get(i)->name, name) == 0)
			return 1ull << i;
	fail_msg("no system %s", name);
	return 0;
}

/* The usual options: Linux and IANA, ports 20000-20999. */
static struct eph_pick_options options(void)
{
	struct eph_pick_options o = { 0 };

	o.systems = systems("linux,iana");
	o.range_low = 20000;
	o.range_high = 20999;
	o.services_path = services;
	o.common_path = common;
	o.policy = policy;
	o.assignments = store;
	return o;
}

static struct eph_pick *picker(const struct eph_pick_options *o)
{
	struct eph_pick *p = NULL;

	assert_int_equal(eph_pick_new(ctx, o, &p), 0);
	assert_non_null(p);
	return p;
}

static struct eph_pick_verdict verdict(struct eph_pick *p, uint16_t port,
				       enum eph_pick_rule rule,
				       const char *name, int want)
{
	struct eph_pick_verdict v;

	memset(&v, 0xa5, sizeof(v));
	assert_int_equal(eph_pick_check(p, port, rule, name, &v), want);
	assert_int_equal(v.rule, rule);
	assert_int_equal(v.pass, want == 1);
	return v;
}

/* A TCP listener on the first free port of LO..HI; its port in *PORT. */
static int listener(uint16_t lo, uint16_t hi, uint16_t *port)
{
	for (uint32_t p = lo; p <= hi; p++) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons((uint16_t)p) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		assert_true(fd >= 0);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(fd, 1) == 0) {
			*port = (uint16_t)p;
			return fd;
		}
		close(fd);
	}
	fail_msg("no free port in %u-%u", lo, hi);
	return -1;
}

static void test_rule_names(void **state)
{
	(void)state;
	assert_string_equal(eph_pick_rule_name(EPH_PICK_RULE_PRIVILEGED),
			    "privileged");
	assert_string_equal(eph_pick_rule_name(EPH_PICK_RULE_BROWSER),
			    "browser-blocked");
	assert_string_equal(eph_pick_rule_name(EPH_PICK_RULE_BINDABLE),
			    "bindable");
	assert_null(eph_pick_rule_name(EPH_PICK_RULE__COUNT));
}

static void test_config_rules(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick *p = picker(&o);
	struct eph_pick_verdict v;
	uint16_t lo, hi;

	(void)state;
	eph_pick_window(p, &lo, &hi);
	assert_int_equal(lo, 20000);
	assert_int_equal(hi, 20999);
	assert_string_equal(eph_pick_services_path(p), services);

	v = verdict(p, 80, EPH_PICK_RULE_PRIVILEGED, NULL, 0);
	assert_int_equal(v.unprivileged_start, 1024);
	assert_false(v.allowed);
	v = verdict(p, 1024, EPH_PICK_RULE_PRIVILEGED, NULL, 1);

	v = verdict(p, 40000, EPH_PICK_RULE_HOST_RANGE, NULL, 0);
	assert_int_equal(v.host_low, 32768);
	assert_int_equal(v.host_high, 60999);
	verdict(p, 32767, EPH_PICK_RULE_HOST_RANGE, NULL, 1);

	v = verdict(p, 40000, EPH_PICK_RULE_OS_RANGE, NULL, 0);
	assert_int_equal(v.systems, bit("linux"));
	v = verdict(p, 61000, EPH_PICK_RULE_OS_RANGE, NULL, 0);
	assert_int_equal(v.systems, bit("iana"));
	v = verdict(p, 50000, EPH_PICK_RULE_OS_RANGE, NULL, 0);
	assert_int_equal(v.systems, bit("linux") | bit("iana"));
	v = verdict(p, 20000, EPH_PICK_RULE_OS_RANGE, NULL, 1);
	assert_int_equal(v.systems, 0);

	v = verdict(p, 8080, EPH_PICK_RULE_REGISTERED, NULL, 0);
	assert_string_equal(v.service, "http-alt");
	assert_string_equal(v.services_path, services);
	v = verdict(p, 20002, EPH_PICK_RULE_REGISTERED, NULL, 0);
	assert_string_equal(v.service, "udp-only");
	v = verdict(p, 20004, EPH_PICK_RULE_REGISTERED, NULL, 1);
	assert_null(v.service);
	assert_string_equal(v.services_path, services);

	verdict(p, 6667, EPH_PICK_RULE_BROWSER, NULL, 0);
	verdict(p, 10080, EPH_PICK_RULE_BROWSER, NULL, 0);
	verdict(p, 8080, EPH_PICK_RULE_BROWSER, NULL, 1);

	v = verdict(p, 443, EPH_PICK_RULE_COMMON, NULL, 1);
	assert_true(v.skipped);

	v = verdict(p, 20001, EPH_PICK_RULE_RESERVED, NULL, 0);
	verdict(p, 20003, EPH_PICK_RULE_RESERVED, NULL, 1);

	v = verdict(p, 20005, EPH_PICK_RULE_ASSIGNED, NULL, 0);
	assert_string_equal(v.assignment.name, "api");
	assert_int_equal(v.assignment.port, 20005);
	assert_string_equal(v.assignment.date, "2026-01-01");
	v = verdict(p, 20005, EPH_PICK_RULE_ASSIGNED, "web", 0);
	assert_string_equal(v.assignment.name, "api");
	/* A name's own port is no obstacle to it. */
	v = verdict(p, 20005, EPH_PICK_RULE_ASSIGNED, "api", 1);
	assert_string_equal(v.assignment.name, "");
	verdict(p, 20006, EPH_PICK_RULE_ASSIGNED, NULL, 1);

	assert_int_equal(
		eph_pick_check(p, 20000, EPH_PICK_RULE__COUNT, NULL, &v),
		-EINVAL);
	eph_pick_free(p);
}

static void test_options_relax(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick_verdict v;
	struct eph_pick *p;

	(void)state;
	o.privileged = true;
	o.allow_registered = true;
	o.avoid_common = true;
	p = picker(&o);
	v = verdict(p, 80, EPH_PICK_RULE_PRIVILEGED, NULL, 1);
	assert_true(v.allowed);
	v = verdict(p, 1024, EPH_PICK_RULE_PRIVILEGED, NULL, 1);
	assert_false(v.allowed);
	v = verdict(p, 8080, EPH_PICK_RULE_REGISTERED, NULL, 1);
	assert_true(v.allowed);
	assert_string_equal(v.service, "http-alt");
	v = verdict(p, 443, EPH_PICK_RULE_COMMON, NULL, 0);
	assert_false(v.skipped);
	assert_int_equal(v.common_top, EPH_PICK_COMMON_TOP);
	verdict(p, 22, EPH_PICK_RULE_COMMON, NULL, 0);
	verdict(p, 8080, EPH_PICK_RULE_COMMON, NULL, 1);
	eph_pick_free(p);

	/* No other system at all: only this host's range is left. */
	o.systems = 0;
	p = picker(&o);
	v = verdict(p, 61000, EPH_PICK_RULE_OS_RANGE, NULL, 1);
	eph_pick_free(p);
}

static void test_missing_files(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick *p = NULL;

	(void)state;
	o.services_path = "/nonexistent/services";
	assert_int_equal(eph_pick_new(ctx, &o, &p), -ENOENT);
	assert_null(p);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "/nonexistent/services"));
	o = options();
	o.avoid_common = true;
	o.common_path = "/nonexistent/nmap-services";
	assert_int_equal(eph_pick_new(ctx, &o, &p), -ENOENT);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "nmap"));
	o = options();
	o.range_low = 2000;
	o.range_high = 1000;
	assert_int_equal(eph_pick_new(ctx, &o, &p), -EINVAL);
	assert_null(p);
}

static void test_runtime_rules(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick_verdict v;
	struct eph_pick *p;
	uint16_t port = 0;
	int fd = listener(20100, 20199, &port);

	(void)state;
	/* The picker's one scan sees the listener; the probes meet it. */
	p = picker(&o);
	v = verdict(p, port, EPH_PICK_RULE_IN_USE, NULL, 0);
	assert_true(v.sockets >= 1);
	v = verdict(p, port, EPH_PICK_RULE_BINDABLE, NULL, 0);
	assert_int_equal(v.bind_proto, IPPROTO_TCP);
	assert_int_equal(v.bind_family, AF_INET);
	assert_int_equal(v.bind_errno, EADDRINUSE);
	close(fd);
	/* Freed now, but the scan was before: in use until a new picker. */
	verdict(p, port, EPH_PICK_RULE_IN_USE, NULL, 0);
	v = verdict(p, port, EPH_PICK_RULE_BINDABLE, NULL, 1);
	assert_int_equal(v.protos, EPH_PROTO_TCP | EPH_PROTO_UDP);
	assert_true(v.families & EPH_FAMILY_IPV4);
	eph_pick_free(p);
	p = picker(&o);
	v = verdict(p, port, EPH_PICK_RULE_IN_USE, NULL, 1);
	assert_int_equal(v.sockets, 0);
	eph_pick_free(p);
}

static void test_explain(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick_verdict v[EPH_PICK_RULE__COUNT];
	struct eph_pick *p = picker(&o);

	(void)state;
	/* 20001: reserved, and nothing else. */
	assert_int_equal(eph_pick_explain(p, 20001, NULL, v), 1);
	for (int i = 0; i < EPH_PICK_RULE__COUNT; i++) {
		assert_int_equal(v[i].rule, i);
		assert_int_equal(v[i].pass, i != EPH_PICK_RULE_RESERVED);
	}
	/* 50000: the host's range, Linux's and IANA's. */
	assert_int_equal(eph_pick_explain(p, 50000, NULL, v) >= 2, 1);
	assert_false(v[EPH_PICK_RULE_HOST_RANGE].pass);
	assert_false(v[EPH_PICK_RULE_OS_RANGE].pass);
	assert_true(v[EPH_PICK_RULE_PRIVILEGED].pass);
	eph_pick_free(p);
}

/* FNV-1a, as the stable choice must keep computing it. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* What the stable choice must be: from the hashed candidate, the first
 * port that passes every rule. */
static uint16_t expected(struct eph_pick *p, const char *name)
{
	struct eph_pick_verdict v[EPH_PICK_RULE__COUNT];
	uint16_t cand[1000], lo, hi;
	uint32_t n = 0;

	eph_pick_window(p, &lo, &hi);
	for (uint32_t port = lo; port <= hi; port++) {
		bool ok = true;

		eph_pick_explain(p, (uint16_t)port, name, v);
		for (int i = 0; i < EPH_PICK_RULE__CONFIG; i++)
			ok = ok && v[i].pass;
		if (ok)
			cand[n++] = (uint16_t)port;
	}
	assert_true(n > 0 && n <= 1000);
	for (uint32_t i = 0; i < n; i++) {
		uint16_t port = cand[(fnv1a(name) + i) % n];

		if (eph_pick_explain(p, port, name, v) == 0)
			return port;
	}
	fail_msg("nothing passes");
	return 0;
}

static void test_stable(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick *p = picker(&o), *q;
	struct eph_pick_result r;
	struct eph_portset *seen = ps_new();
	uint16_t port, again;
	char name[32];

	(void)state;
	assert_int_equal(fnv1a("a"), 0xe40c292cu);
	/* The same name, the same port, from two pickers. */
	assert_int_equal(eph_pick_run(p, "api-server", 1, &port, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_DONE);
	assert_int_equal(r.found, 1);
	assert_int_equal(r.keep, EPH_PICK_NEW);
	assert_int_equal(r.window_low, 20000);
	assert_int_equal(r.window_high, 20999);
	assert_int_equal(port, expected(p, "api-server"));
	q = picker(&o);
	assert_int_equal(eph_pick_run(q, "api-server", 1, &again, &r), 0);
	assert_int_equal(again, port);
	eph_pick_free(q);

	/* Different names spread over the candidates. */
	assert_non_null(seen);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		assert_int_equal(eph_pick_run(p, name, 1, &port, &r), 0);
		assert_int_equal(r.outcome, EPH_PICK_DONE);
		assert_true(port >= 20000 && port <= 20999);
		eph_portset_add(seen, port, port);
	}
	assert_true(eph_portset_count(seen) >= 40);
	eph_portset_free(seen);

	/* Unnamed: COUNT distinct ports, each passing every rule. */
	{
		struct eph_pick_verdict v[EPH_PICK_RULE__COUNT];
		uint16_t ports[5];
		struct eph_portset *got = ps_new();

		assert_int_equal(eph_pick_run(p, NULL, 5, ports, &r), 0);
		assert_int_equal(r.outcome, EPH_PICK_DONE);
		assert_int_equal(r.found, 5);
		assert_int_equal(r.keep, EPH_PICK_UNNAMED);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(eph_pick_explain(p, ports[i], NULL, v),
					 0);
			eph_portset_add(got, ports[i], ports[i]);
		}
		assert_int_equal(eph_portset_count(got), 5);
		eph_portset_free(got);
	}
	assert_int_equal(eph_pick_run(p, "api", 2, &port, &r), -EINVAL);
	assert_int_equal(eph_pick_run(p, NULL, 0, &port, &r), -EINVAL);
	assert_int_equal(eph_pick_run(p, "a b", 1, &port, &r), -EINVAL);
	eph_pick_free(p);
}

static void test_keep_or_move(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick_result r;
	struct eph_pick *p;
	uint16_t port;
	int fd;

	(void)state;
	p = picker(&o);
	/* api's 20005 passes: kept. */
	assert_int_equal(eph_pick_run(p, "api", 1, &port, &r), 0);
	assert_int_equal(r.keep, EPH_PICK_KEPT);
	assert_int_equal(port, 20005);
	assert_string_equal(r.previous.date, "2026-01-01");
	/* old's 21500 lies outside the window: moved. */
	assert_int_equal(eph_pick_run(p, "old", 1, &port, &r), 0);
	assert_int_equal(r.keep, EPH_PICK_MOVED);
	assert_true(r.outside_window);
	assert_int_equal(r.previous.port, 21500);
	assert_true(port >= 20000 && port <= 20999 && port != 20005);
	eph_pick_free(p);

	/* web's 8080 is registered: moved, and the rule says so. */
	o.range_low = 8000;
	o.range_high = 8999;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, "web", 1, &port, &r), 0);
	assert_int_equal(r.keep, EPH_PICK_MOVED);
	assert_false(r.outside_window);
	assert_int_equal(r.moved_by, EPH_PICK_RULE_REGISTERED);
	assert_int_not_equal(port, 8080);
	eph_pick_free(p);

	/* A kept port stays kept while its own service listens on it. */
	o = options();
	o.range_low = 20005;
	o.range_high = 20005;
	fd = listener(20005, 20005, &port);
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, "api", 1, &port, &r), 0);
	assert_int_equal(r.keep, EPH_PICK_KEPT);
	assert_int_equal(port, 20005);
	eph_pick_free(p);
	close(fd);
}

static void test_refusals(void **state)
{
	struct eph_pick_options o = options();
	struct eph_pick_result r;
	struct eph_pick *p;
	uint16_t ports[2];

	(void)state;
	/* Every system: OpenBSD and FreeBSD cover 1024-65535 together. */
	o.systems = systems("all");
	o.range_low = o.range_high = 0;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, "api-server", 1, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_COVERED);
	assert_int_equal(r.found, 0);
	assert_int_equal(r.window_low, 1024);
	assert_int_equal(r.window_high, 65535);
	/* The smallest cover: those two, nothing else. */
	assert_int_equal(r.floor, 0);
	assert_false(r.host_covers);
	assert_int_equal(r.systems_covering, bit("openbsd") | bit("freebsd"));
	eph_pick_free(p);
	/* OpenBSD's range and IANA's meet: no port either. */
	o.systems = systems("openbsd,iana,linux-2.2");
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, NULL, 1, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_COVERED);
	assert_int_equal(r.systems_covering, bit("openbsd") | bit("iana"));
	eph_pick_free(p);
	/* This host's range and IANA's cover 32768-65535 together. */
	o.systems = systems("iana,windows");
	o.range_low = 32768;
	o.range_high = 65535;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, NULL, 1, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_COVERED);
	assert_true(r.host_covers);
	assert_int_equal(r.systems_covering, bit("iana"));
	eph_pick_free(p);
	/* Linux and Windows leave plenty. */
	o.systems = systems("linux,windows");
	o.range_low = o.range_high = 0;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, NULL, 1, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_DONE);
	eph_pick_free(p);
	o.systems = systems("all");
	/* From port 1 on, the privileged floor covers the low end. */
	o.range_low = 1;
	o.range_high = 65535;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, NULL, 1, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_COVERED);
	assert_int_equal(r.floor, 1024);
	assert_int_equal(r.systems_covering, bit("openbsd") | bit("freebsd"));
	eph_pick_free(p);

	/* One candidate, reserved: short, and the tally says why. */
	o = options();
	o.range_low = o.range_high = 20001;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, NULL, 1, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_SHORT);
	assert_int_equal(r.found, 0);
	assert_int_equal(r.tally[EPH_PICK_RULE_RESERVED], 1);
	assert_int_equal(r.worst, EPH_PICK_RULE_RESERVED);
	eph_pick_free(p);

	/* x11's 64 ports, all registered; two ports asked of 6000-6064. */
	o.range_low = 6000;
	o.range_high = 6064;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, NULL, 2, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_SHORT);
	assert_int_equal(r.found, 1);
	assert_int_equal(ports[0], 6064);
	assert_int_equal(r.tally[EPH_PICK_RULE_REGISTERED], 64);
	assert_int_equal(r.worst, EPH_PICK_RULE_REGISTERED);
	eph_pick_free(p);

	/* Another name's port is never handed out. */
	o.range_low = o.range_high = 20005;
	p = picker(&o);
	assert_int_equal(eph_pick_run(p, "web", 1, ports, &r), 0);
	assert_int_equal(r.outcome, EPH_PICK_SHORT);
	assert_int_equal(r.tally[EPH_PICK_RULE_ASSIGNED], 1);
	eph_pick_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_names),
		cmocka_unit_test(test_config_rules),
		cmocka_unit_test(test_options_relax),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_runtime_rules),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_keep_or_move),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, pick_setup, pick_teardown);
}
