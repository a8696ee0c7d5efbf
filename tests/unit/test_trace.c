/* SPDX-License-Identifier: MIT */
/*
 * The tracer's events fed by hand: what the BPF program's records become,
 * the filter, the summary and its bound, and the TIME_WAIT ends the
 * library works out (the kernel reports none).
 */
#include <linux/types.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "socks.h"
#include "../../src/bpf/trace.h"

#define NETNS 4026531999ull
#define SEC 1000000000ull

static struct eph_trace_event ev(enum eph_trace_kind kind, uint16_t lport,
				 uint16_t rport, int err, uint64_t t,
				 const char *comm)
{
	struct eph_trace_event e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.boot_ns = t;
	e.netns = NETNS;
	e.proto = IPPROTO_TCP;
	e.family = AF_INET;
	v4(e.local, "10.0.0.1");
	v4(e.remote, "10.0.0.2");
	e.local_port = lport;
	e.remote_port = rport;
	e.err = err;
	e.flags = EPH_TRACE_OWNER;
	e.pid = 4242;
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	return e;
}

static void test_kinds_have_stable_codes(void **state)
{
	(void)state;
	assert_string_equal(eph_trace_kind_code(EPH_TRACE_CONNECT), "connect");
	assert_string_equal(eph_trace_kind_code(EPH_TRACE_CONNECT_FAILED),
			    "connect-failed");
	assert_string_equal(eph_trace_kind_code(EPH_TRACE_TIME_WAIT_END),
			    "time-wait-end");
	assert_string_equal(eph_trace_kind_code(EPH_TRACE__COUNT), "?");
	assert_true(eph_trace_kind_is_failure(EPH_TRACE_BIND_FAILED));
	assert_false(eph_trace_kind_is_failure(EPH_TRACE_BIND));
}

static void test_the_filter(void **state)
{
	struct eph_trace_filter f = { 0 };
	struct eph_trace_event c = ev(EPH_TRACE_CONNECT, 40000, 443, 0, 1, "a");
	struct eph_trace_event x =
		ev(EPH_TRACE_CONNECT_FAILED, 0, 443, EADDRNOTAVAIL, 1, "a");

	(void)state;
	assert_true(eph_trace_filter_match(&f, &c));
	f.port = 443; /* the remote port */
	assert_true(eph_trace_filter_match(&f, &c));
	f.port = 40000; /* the local one */
	assert_true(eph_trace_filter_match(&f, &c));
	f.port = 80;
	assert_false(eph_trace_filter_match(&f, &c));
	f.port = 0;
	f.failures = true;
	assert_false(eph_trace_filter_match(&f, &c));
	assert_true(eph_trace_filter_match(&f, &x));
	f.pid = 1;
	assert_false(eph_trace_filter_match(&f, &x));
	f.pid = 4242;
	assert_true(eph_trace_filter_match(&f, &x));
}

static void test_what_the_program_sends_becomes_an_event(void **state)
{
	struct ephtrace_event raw;
	struct eph_trace_event e;

	(void)state;
	memset(&raw, 0, sizeof(raw));
	raw.type = EPHTRACE_TIME_WAIT;
	raw.ts_ns = 10 * SEC;
	raw.opened_ns = 4 * SEC;
	raw.netns = 7;
	raw.pid = 99;
	raw.proto = IPPROTO_TCP;
	raw.family = AF_INET;
	raw.lport = 40000;
	raw.rport = 443;
	raw.flags = EPHTRACE_F_OWNER | EPHTRACE_F_BOUND_FIRST;
	memcpy(raw.comm, "0123456789abcdefXX", 16); /* no NUL */
	assert_true(tracer_convert(&raw, 5, &e));
	assert_int_equal(e.kind, EPH_TRACE_TIME_WAIT);
	assert_int_equal(e.wall_ns, 10 * SEC + 5);
	assert_int_equal(e.netns, 7);
	assert_int_equal(e.pid, 99);
	assert_int_equal(e.opened_boot_ns, 4 * SEC);
	assert_int_equal(e.flags, EPH_TRACE_OWNER | EPH_TRACE_BOUND_FIRST);
	assert_int_equal(strlen(e.comm), 15);
	/* Without an owner there is no process to name. */
	raw.flags = 0;
	raw.type = EPHTRACE_CONNECT;
	assert_true(tracer_convert(&raw, 0, &e));
	assert_int_equal(e.pid, -1);
	assert_int_equal(e.opened_boot_ns, 0);
	raw.type = 0;
	assert_false(tracer_convert(&raw, 0, &e));
	raw.type = 200;
	assert_false(tracer_convert(&raw, 0, &e));
}

static void test_the_summary_counts_and_orders(void **state)
{
	struct eph_trace_summary *s = NULL;
	const struct eph_trace_row *r;
	struct eph_trace_event e;

	(void)state;
	assert_int_equal(eph_trace_summary_new(&s), 0);
	for (int i = 0; i < 3; i++) {
		e = ev(EPH_TRACE_CONNECT_FAILED, 0, 443, EADDRNOTAVAIL, 1,
		       "curl");
		assert_int_equal(eph_trace_summary_add(s, &e), 0);
	}
	e = ev(EPH_TRACE_BIND_FAILED, 8080, 0, EADDRINUSE, 1, "nginx");
	assert_int_equal(eph_trace_summary_add(s, &e), 0);
	e = ev(EPH_TRACE_CONNECT_FAILED, 0, 443, EADDRNOTAVAIL, 1, "java");
	assert_int_equal(eph_trace_summary_add(s, &e), 0);
	for (int i = 0; i < 5; i++) {
		e = ev(EPH_TRACE_CONNECT, (uint16_t)(40000 + i), 443, 0, 1,
		       "a");
		assert_int_equal(eph_trace_summary_add(s, &e), 0);
	}
	e = ev(EPH_TRACE_CONNECT, 40010, 80, 0, 1, "a");
	assert_int_equal(eph_trace_summary_add(s, &e), 0);

	assert_int_equal(eph_trace_summary_kind(s, EPH_TRACE_CONNECT), 6);
	assert_int_equal(eph_trace_summary_kind(s, EPH_TRACE_CONNECT_FAILED),
			 4);
	assert_int_equal(eph_trace_summary_count(s, EPH_TRACE_BY_ERRNO), 2);
	r = eph_trace_summary_row(s, EPH_TRACE_BY_ERRNO, 0);
	assert_int_equal(r->err, EADDRNOTAVAIL);
	assert_int_equal(r->count, 4);
	assert_int_equal(eph_trace_summary_count(s, EPH_TRACE_BY_COMMAND), 3);
	r = eph_trace_summary_row(s, EPH_TRACE_BY_COMMAND, 0);
	assert_string_equal(r->comm, "curl");
	assert_int_equal(r->count, 3);
	/* Ties: by errno, then by command. */
	r = eph_trace_summary_row(s, EPH_TRACE_BY_COMMAND, 1);
	assert_int_equal(r->err, EADDRINUSE);
	r = eph_trace_summary_row(s, EPH_TRACE_BY_COMMAND, 2);
	assert_string_equal(r->comm, "java");
	assert_null(eph_trace_summary_row(s, EPH_TRACE_BY_COMMAND, 3));
	r = eph_trace_summary_row(s, EPH_TRACE_BY_DESTINATION, 0);
	assert_int_equal(r->remote_port, 443);
	assert_int_equal(r->count, 5);
	/* Counting after reading goes on where it was. */
	e = ev(EPH_TRACE_CONNECT, 40011, 80, 0, 1, "a");
	assert_int_equal(eph_trace_summary_add(s, &e), 0);
	r = eph_trace_summary_row(s, EPH_TRACE_BY_DESTINATION, 1);
	assert_int_equal(r->remote_port, 80);
	assert_int_equal(r->count, 2);
	eph_trace_summary_free(s);
}

static void test_the_summary_has_a_bound(void **state)
{
	struct eph_trace_summary *s = NULL;
	struct eph_trace_event e;

	(void)state;
	assert_int_equal(eph_trace_summary_new(&s), 0);
	for (uint32_t i = 0; i < EPH_TRACE_SUMMARY_ROWS + 10; i++) {
		e = ev(EPH_TRACE_CONNECT, 40000, (uint16_t)(1 + i), 0, 1, "a");
		assert_int_equal(eph_trace_summary_add(s, &e), 0);
	}
	assert_int_equal(eph_trace_summary_count(s, EPH_TRACE_BY_DESTINATION),
			 EPH_TRACE_SUMMARY_ROWS);
	assert_int_equal(eph_trace_summary_other(s, EPH_TRACE_BY_DESTINATION),
			 10);
	eph_trace_summary_free(s);
}

/* Failures of COMM, N times, with ERR, in namespace NETNS. */
static void fail_n(struct eph_trace_counters *c, uint64_t netns,
		   enum eph_trace_kind kind, int err, const char *comm, int n)
{
	struct eph_trace_event e = ev(kind, 0, 443, err, 1, comm);

	e.netns = netns;
	for (int i = 0; i < n; i++)
		assert_int_equal(eph_trace_counters_add(c, &e), 1);
}

static void test_failure_counters_are_monotonic_and_bounded(void **state)
{
	struct eph_trace_counters *c = NULL;
	const struct eph_trace_counter *r;
	struct eph_trace_event e;

	(void)state;
	assert_int_equal(eph_trace_counters_new(0, &c), -EINVAL);
	assert_int_equal(eph_trace_counters_new(1, &c), 0);
	e = ev(EPH_TRACE_CONNECT, 40000, 443, 0, 1, "curl");
	assert_int_equal(eph_trace_counters_add(c, &e), 0);
	assert_int_equal(eph_trace_counters_count(c), 0);
	/* The first command of a group gets its counter at once. */
	fail_n(c, NETNS, EPH_TRACE_CONNECT_FAILED, EADDRNOTAVAIL, "a", 2);
	/* b is not in the top 1 yet (a has more): "other". */
	fail_n(c, NETNS, EPH_TRACE_CONNECT_FAILED, EADDRNOTAVAIL, "b", 1);
	assert_int_equal(eph_trace_counters_count(c), 2);
	r = eph_trace_counters_get(c, 1);
	assert_true(r->other && r->count == 1 && r->comm[0] == '\0');
	/* Level with a: in the top, a counter of its own from now on; what
	 * came before stays in "other", which never goes down. */
	fail_n(c, NETNS, EPH_TRACE_CONNECT_FAILED, EADDRNOTAVAIL, "b", 2);
	/* The group has 2 x top counters: c, however many its failures,
	 * sums into "other". */
	fail_n(c, NETNS, EPH_TRACE_CONNECT_FAILED, EADDRNOTAVAIL, "c", 10);
	/* Other groups: an errno, a call, a namespace. */
	fail_n(c, NETNS, EPH_TRACE_CONNECT_FAILED, EAGAIN, "c", 1);
	fail_n(c, NETNS, EPH_TRACE_BIND_FAILED, EADDRINUSE, "nginx", 3);
	fail_n(c, NETNS - 1, EPH_TRACE_BIND_FAILED, EADDRINUSE, "nginx", 1);
	assert_int_equal(eph_trace_counters_count(c), 6);
	r = eph_trace_counters_get(c, 0);
	assert_true(r->netns == NETNS - 1 && r->count == 1);
	r = eph_trace_counters_get(c, 1);
	assert_true(r->kind == EPH_TRACE_CONNECT_FAILED && r->err == EAGAIN &&
		    strcmp(r->comm, "c") == 0 && r->count == 1);
	r = eph_trace_counters_get(c, 2);
	assert_true(r->err == EADDRNOTAVAIL && strcmp(r->comm, "a") == 0 &&
		    r->count == 2 && !r->other);
	r = eph_trace_counters_get(c, 3);
	assert_true(strcmp(r->comm, "b") == 0 && r->count == 2);
	r = eph_trace_counters_get(c, 4);
	assert_true(r->other && r->err == EADDRNOTAVAIL && r->count == 11);
	r = eph_trace_counters_get(c, 5);
	assert_true(r->kind == EPH_TRACE_BIND_FAILED &&
		    strcmp(r->comm, "nginx") == 0 && r->count == 3);
	assert_null(eph_trace_counters_get(c, 6));
	/* A command's name ends at its NUL, whatever follows. */
	e = ev(EPH_TRACE_CONNECT_FAILED, 0, 443, EADDRNOTAVAIL, 1, "a");
	memcpy(e.comm + 2, "junk", 5);
	assert_int_equal(eph_trace_counters_add(c, &e), 1);
	r = eph_trace_counters_get(c, 2);
	assert_true(strcmp(r->comm, "a") == 0 && r->count == 3);
	eph_trace_counters_free(c);
	eph_trace_counters_free(NULL);
}

static void test_failure_counters_follow_so_many_commands(void **state)
{
	struct eph_trace_counters *c = NULL;
	struct eph_trace_event e;
	char comm[16];

	(void)state;
	assert_int_equal(eph_trace_counters_new(10, &c), 0);
	/* Every command its own namespace, so its own group and counter. */
	for (uint32_t i = 0; i < EPH_TRACE_COUNTERS_COMMANDS; i++) {
		snprintf(comm, sizeof(comm), "c%u", i);
		fail_n(c, i + 1, EPH_TRACE_BIND_FAILED, EADDRINUSE, comm, 1);
	}
	assert_int_equal(eph_trace_counters_count(c),
			 EPH_TRACE_COUNTERS_COMMANDS);
	/* A known group's new command: "other"; a new group: refused. */
	fail_n(c, 1, EPH_TRACE_BIND_FAILED, EADDRINUSE, "new", 1);
	assert_int_equal(eph_trace_counters_count(c),
			 EPH_TRACE_COUNTERS_COMMANDS + 1);
	e = ev(EPH_TRACE_BIND_FAILED, 0, 443, EADDRINUSE, 1, "new");
	e.netns = 0;
	assert_int_equal(eph_trace_counters_add(c, &e), -ENOSPC);
	/* Those followed still count. */
	fail_n(c, 1, EPH_TRACE_BIND_FAILED, EADDRINUSE, "c0", 1);
	assert_int_equal(eph_trace_counters_get(c, 0)->count, 2);
	eph_trace_counters_free(c);
}

/* What a fed tracer hands over. */
static struct eph_trace_event seen[16];
static size_t nseen;

static int keep(const struct eph_trace_event *e, void *data)
{
	(void)data;
	if (nseen < 16)
		seen[nseen++] = *e;
	return 0;
}

static void test_time_wait_ends_are_worked_out(void **state)
{
	struct eph_tracer_opts o = { 0 };
	struct eph_tracer *t = NULL;
	struct eph_trace_event e;

	(void)state;
	o.all_netns = true;
	assert_int_equal(tracer_new_fed(ctx, &o, &t), 0);
	nseen = 0;
	e = ev(EPH_TRACE_TIME_WAIT, 40000, 443, 0, 10 * SEC, "java");
	e.flags |= EPH_TRACE_TIMESTAMPS;
	e.opened_boot_ns = 3 * SEC;
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	e = ev(EPH_TRACE_TIME_WAIT, 40001, 443, 0, 11 * SEC, "java");
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	assert_int_equal(nseen, 2);
	/* A connection that takes the second 4-tuple over ends it first. */
	e = ev(EPH_TRACE_CONNECT, 40001, 443, 0, 12 * SEC, "curl");
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	assert_int_equal(nseen, 4);
	assert_int_equal(seen[2].kind, EPH_TRACE_TIME_WAIT_END);
	assert_true(seen[2].flags & EPH_TRACE_REUSED);
	assert_int_equal(seen[2].local_port, 40001);
	assert_string_equal(seen[2].comm, "java");
	assert_int_equal(seen[3].kind, EPH_TRACE_CONNECT);
	/* The first ends 60 s after it began, with its maker. */
	assert_int_equal(tracer_tick(t, 69 * SEC, keep, NULL), 0);
	assert_int_equal(nseen, 4);
	assert_int_equal(tracer_tick(t, 70 * SEC, keep, NULL), 0);
	assert_int_equal(nseen, 5);
	assert_int_equal(seen[4].kind, EPH_TRACE_TIME_WAIT_END);
	assert_false(seen[4].flags & EPH_TRACE_REUSED);
	assert_true(seen[4].flags & EPH_TRACE_TIMESTAMPS);
	assert_int_equal(seen[4].boot_ns, 70 * SEC);
	assert_int_equal(seen[4].tw_boot_ns, 10 * SEC);
	assert_int_equal(seen[4].opened_boot_ns, 3 * SEC);
	assert_int_equal(seen[4].pid, 4242);
	assert_int_equal(eph_tracer_tw_untracked(t), 0);
	eph_tracer_free(t);
}

static void test_the_tracer_filters_what_it_hands_over(void **state)
{
	struct eph_tracer_opts o = { 0 };
	struct eph_tracer *t = NULL;
	struct eph_trace_event e;

	(void)state;
	o.filter.failures = true;
	assert_int_equal(tracer_new_fed(ctx, &o, &t), 0);
	assert_null(eph_tracer_record(t));
	nseen = 0;
	e = ev(EPH_TRACE_CONNECT, 40000, 443, 0, SEC, "a");
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	e = ev(EPH_TRACE_CONNECT_FAILED, 0, 443, EADDRNOTAVAIL, SEC, "a");
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	assert_int_equal(nseen, 1);
	assert_int_equal(seen[0].kind, EPH_TRACE_CONNECT_FAILED);
	eph_tracer_free(t);
}

static void test_the_tracer_says_when_it_has_work_without_events(void **state)
{
	struct eph_tracer_opts o = { 0 };
	struct eph_tracer *t = NULL;
	struct eph_trace_event e;

	(void)state;
	o.all_netns = true;
	assert_int_equal(tracer_new_fed(ctx, &o, &t), 0);
	/* Nothing followed: only an event can bring work, so a reader may
	 * sleep until one comes. */
	assert_int_equal(tracer_due(t), UINT64_MAX);
	assert_int_equal(eph_tracer_timeout(t), -1);
	assert_int_equal(eph_tracer_arm(t), 0);
	e = ev(EPH_TRACE_TIME_WAIT, 40000, 443, 0, 10 * SEC, "java");
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	e = ev(EPH_TRACE_TIME_WAIT, 40001, 443, 0, 12 * SEC, "java");
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	/* The first TIME_WAIT's end is due 60 s after it began. */
	assert_int_equal(tracer_due(t), 70 * SEC);
	/* Long past, by the boot clock: due now. */
	assert_int_equal(eph_tracer_timeout(t), 0);
	assert_int_equal(tracer_tick(t, 70 * SEC, keep, NULL), 0);
	assert_int_equal(tracer_due(t), 72 * SEC);
	assert_int_equal(tracer_tick(t, 72 * SEC, keep, NULL), 0);
	assert_int_equal(tracer_due(t), UINT64_MAX);
	assert_int_equal(eph_tracer_timeout(t), -1);
	eph_tracer_free(t);
}

static uint64_t boot_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void
test_a_change_of_the_record_waits_half_a_second_at_most(void **state)
{
	char dir[64], path[96];
	struct eph_tracer_opts o = { 0 };
	struct eph_tracer *t = NULL;
	struct eph_trace_event e;
	uint64_t now = boot_now(), due;
	int ms;

	(void)state;
	assert_non_null(unit_tmpdir(dir, sizeof(dir), "trace"));
	snprintf(path, sizeof(path), "%s/history", dir);
	o.all_netns = true;
	o.record = true;
	o.record_path = path;
	assert_int_equal(tracer_new_fed(ctx, &o, &t), 0);
	/* Just written, unchanged: nothing to do. */
	assert_int_equal(eph_tracer_timeout(t), -1);
	/* A bound-first connection matters to usage: the record changes,
	 * and the change may be written half a second after the last
	 * write at the latest. */
	e = ev(EPH_TRACE_CONNECT, 40000, 443, 0, now, "java");
	e.flags |= EPH_TRACE_BOUND_FIRST;
	assert_int_equal(tracer_feed(t, &e, keep, NULL), 0);
	due = tracer_due(t);
	assert_true(due > now - SEC && due <= boot_now() + SEC / 2);
	ms = eph_tracer_timeout(t);
	assert_true(ms >= 0 && ms <= 500);
	eph_tracer_free(t);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/history.lock", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_have_stable_codes),
		cmocka_unit_test(test_the_filter),
		cmocka_unit_test(test_what_the_program_sends_becomes_an_event),
		cmocka_unit_test(test_the_summary_counts_and_orders),
		cmocka_unit_test(test_the_summary_has_a_bound),
		cmocka_unit_test(
			test_failure_counters_are_monotonic_and_bounded),
		cmocka_unit_test(test_failure_counters_follow_so_many_commands),
		cmocka_unit_test(test_time_wait_ends_are_worked_out),
		cmocka_unit_test(test_the_tracer_filters_what_it_hands_over),
		cmocka_unit_test(
			test_the_tracer_says_when_it_has_work_without_events),
		cmocka_unit_test(
			test_a_change_of_the_record_waits_half_a_second_at_most),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
