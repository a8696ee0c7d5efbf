/* SPDX-License-Identifier: MIT */
/*
 * The forecast: fits of synthetic series whose answer is known, and rounds
 * of usages fed by hand (sockets with cookies) for the connections opened,
 * the window, and destinations and namespaces that come and go.
 */
#include <math.h>
#include <pthread.h>

#include "socks.h"

#define SEC 1000000000ull

/* dabs() without libm. */
static double dabs(double x)
{
	return x < 0 ? -x : x;
}

static void test_fit_linear(void **state)
{
	struct eph_sample s[8];
	struct eph_trend t;

	(void)state;
	/* 1000 free at t=0, 5 fewer every second. */
	for (int i = 0; i < 8; i++)
		s[i] = (struct eph_sample){ 7 * SEC + (uint64_t)i * SEC,
					    (uint32_t)(1000 - 5 * i) };
	eph_trend_fit(s, 8, &t);
	assert_int_equal(t.samples, 8);
	assert_true(dabs(t.span_s - 7.0) < 1e-9);
	assert_true(dabs(t.rate - 5.0) < 1e-9);
	assert_int_equal(t.free, 965);
	assert_true(dabs(t.seconds_left - 965.0 / 5.0) < 1e-6);
	assert_int_equal(t.opened, 0);
}

static void test_fit_uneven_and_noisy(void **state)
{
	struct eph_sample s[16];
	struct eph_trend t;
	uint64_t time = 0;

	(void)state;
	/* 2.5 ports a second, sampled at uneven times, with a few ports of
	 * noise that cancels out: the fit finds the rate within 5 %. */
	for (int i = 0; i < 16; i++) {
		static const int noise[] = { 3, -2, 0, 1, -3, 2, -1, 0 };

		time += (uint64_t)(1 + i % 3) * SEC / 2;
		s[i] = (struct eph_sample){
			time,
			(uint32_t)(20000 - (int)(2.5 * (double)time / SEC) +
				   noise[i % 8])
		};
	}
	eph_trend_fit(s, 16, &t);
	assert_true(dabs(t.rate - 2.5) < 2.5 * 0.05);
	assert_true(t.seconds_left > 0.95 * t.free / 2.5 &&
		    t.seconds_left < 1.05 * t.free / 2.5);
}

static void test_fit_not_shrinking(void **state)
{
	struct eph_sample flat[3] = { { 0, 50 }, { SEC, 50 }, { 2 * SEC, 50 } };
	struct eph_sample grow[3] = { { 0, 40 }, { SEC, 45 }, { 2 * SEC, 50 } };
	struct eph_sample empty[2] = { { 0, 1 }, { SEC, 0 } };
	struct eph_sample one[1] = { { 5, 0 } };
	struct eph_sample same_time[2] = { { SEC, 10 }, { SEC, 5 } };
	struct eph_trend t;

	(void)state;
	eph_trend_fit(flat, 3, &t);
	assert_true(t.rate == 0 && isinf(t.seconds_left));
	eph_trend_fit(grow, 3, &t);
	assert_true(dabs(t.rate + 5.0) < 1e-9);
	assert_true(isinf(t.seconds_left));
	/* None free now: no time left, whatever the rate. */
	eph_trend_fit(empty, 2, &t);
	assert_true(t.seconds_left == 0 && dabs(t.rate - 1.0) < 1e-9);
	eph_trend_fit(one, 1, &t);
	assert_true(t.rate == 0 && t.seconds_left == 0 && t.samples == 1);
	eph_trend_fit(one, 0, &t);
	assert_true(t.samples == 0 && isinf(t.seconds_left));
	/* No time between the points: no rate. */
	eph_trend_fit(same_time, 2, &t);
	assert_true(t.rate == 0 && isinf(t.seconds_left));
}

static void test_new_window(void **state)
{
	struct eph_forecast *f = NULL;

	(void)state;
	assert_int_equal(eph_forecast_new(ctx, 1, &f), -EINVAL);
	assert_null(f);
	assert_int_equal(eph_forecast_new(ctx, EPH_FORECAST_WINDOW_MAX + 1, &f),
			 -EINVAL);
	assert_int_equal(eph_forecast_new(ctx, 0, &f), 0);
	eph_forecast_free(f);
	eph_forecast_free(NULL);
}

/* One round's sockets: N toward 10.0.0.2:443 with cookies FIRST.., and
 * M toward 10.0.0.3:80 with cookies 1000... */
struct round {
	uint32_t first, n, m;
};

struct fixture {
	struct eph_forecast *f;
	struct eph_snapshot *snap;
	struct eph_usage *u;
	struct eph_policy *p;
	uint64_t src;
};

static void fixture_init(struct fixture *x, uint32_t window)
{
	uint64_t dev;

	memset(x, 0, sizeof(*x));
	x->p = policy_new();
	assert_non_null(x->p);
	assert_int_equal(eph_policy_set_range(x->p, 40000, 40999), 0);
	assert_int_equal(eph_usage_new(ctx, &x->u), 0);
	assert_int_equal(snapshot_wrap(ctx, x->p, x->u, &x->snap), 0);
	assert_int_equal(eph_forecast_new(ctx, window, &x->f), 0);
	assert_int_equal(eph_forecast_watch(x->f, x->snap), 0);
	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &x->src), 0);
}

static void fixture_free(struct fixture *x)
{
	eph_forecast_free(x->f);
	eph_snapshot_free(x->snap);
}

/* Feeds round R at second T; READ false leaves the namespace unread. */
static void feed(struct fixture *x, const struct round *r, uint64_t t,
		 bool read)
{
	eph_forecast_begin(x->f);
	assert_int_equal(eph_usage_begin(x->u, x->p), 0);
	for (uint32_t k = 0; k < r->n; k++) {
		struct eph_sock s = sk("10.0.0.1", (uint16_t)(40000 + k),
				       "10.0.0.2", 443, EPH_TCP_ESTABLISHED);

		s.cookie = r->first + k;
		assert_int_equal(eph_usage_add(x->u, &s), 0);
	}
	for (uint32_t k = 0; k < r->m; k++) {
		struct eph_sock s = sk("10.0.0.1", (uint16_t)(40500 + k),
				       "10.0.0.3", 80, EPH_TCP_TIME_WAIT);

		s.cookie = 1000 + k;
		assert_int_equal(eph_usage_add(x->u, &s), 0);
	}
	assert_int_equal(eph_usage_end(x->u), 0);
	if (read)
		assert_int_equal(
			forecast_add_usage(x->f, x->src, x->u, t * SEC), 0);
	eph_forecast_end(x->f);
}

/* The trend of the destination toward REMOTE:PORT in the last feed. */
static int trend(struct fixture *x, const char *remote, uint16_t port,
		 struct eph_trend *t)
{
	struct eph_usage_tuple key;

	memset(&key, 0, sizeof(key));
	v4(key.local, "10.0.0.1");
	v4(key.remote, remote);
	key.remote_port = port;
	return eph_forecast_get(x->f, x->src, &key, t);
}

static void test_opened_and_rate(void **state)
{
	struct fixture x;
	struct eph_trend t;

	(void)state;
	fixture_init(&x, 0);
	/* Ten more connections every second toward :443, kept open; five
	 * constant ones toward :80. */
	for (uint32_t i = 0; i < 6; i++) {
		struct round r = { 1, 10 * (i + 1), 5 };

		feed(&x, &r, 100 + i, true);
		assert_int_equal(trend(&x, "10.0.0.2", 443, &t), 0);
		assert_int_equal(t.opened, 10 * (i + 1));
		assert_int_equal(t.opened_last, 10);
		assert_int_equal(t.samples, i + 1);
		assert_int_equal(t.free, 1000 - 10 * (i + 1));
		if (i > 0) {
			assert_true(dabs(t.rate - 10.0) < 1e-6);
			assert_true(dabs(t.seconds_left - t.free / 10.0) <
				    1e-6);
		}
		assert_int_equal(trend(&x, "10.0.0.3", 80, &t), 0);
		assert_int_equal(t.opened, 5);
		assert_int_equal(t.opened_last, i == 0 ? 5 : 0);
		assert_true(isinf(t.seconds_left));
		assert_int_equal(eph_forecast_opened(x.f, x.src),
				 10 * (i + 1) + 5);
	}
	/* The first ten close and ten new ones open: ten more opened, the
	 * count of sockets the same. */
	{
		struct round r = { 11, 60, 5 };

		feed(&x, &r, 106, true);
		assert_int_equal(trend(&x, "10.0.0.2", 443, &t), 0);
		assert_int_equal(t.opened, 70);
		assert_int_equal(t.opened_last, 10);
	}
	/* The window keeps the last EPH_FORECAST_WINDOW points. */
	for (uint32_t i = 0; i < 5; i++) {
		struct round r = { 11, 60, 5 };

		feed(&x, &r, 107 + i, true);
	}
	assert_int_equal(trend(&x, "10.0.0.2", 443, &t), 0);
	assert_int_equal(t.samples, EPH_FORECAST_WINDOW);
	assert_true(dabs(t.span_s - (EPH_FORECAST_WINDOW - 1)) < 1e-9);
	assert_int_equal(t.opened, 70);
	assert_int_equal(t.opened_last, 0);
	fixture_free(&x);
}

static void test_destination_comes_back(void **state)
{
	struct round with = { 1, 3, 2 }, without = { 1, 3, 0 };
	struct fixture x;
	struct eph_trend t;

	(void)state;
	fixture_init(&x, 4);
	feed(&x, &with, 1, true);
	feed(&x, &with, 2, true);
	assert_int_equal(trend(&x, "10.0.0.3", 80, &t), 0);
	assert_int_equal(t.samples, 2);
	/* Gone for a round: its series starts afresh, its count stays. */
	feed(&x, &without, 3, true);
	assert_int_equal(trend(&x, "10.0.0.3", 80, &t), -ENOENT);
	assert_int_equal(t.samples, 0);
	assert_true(isinf(t.seconds_left));
	feed(&x, &with, 4, true);
	assert_int_equal(trend(&x, "10.0.0.3", 80, &t), 0);
	assert_int_equal(t.samples, 1);
	/* The same cookies again after a round without them: the scan that
	 * missed them forgot them, so they count as opened again. */
	assert_int_equal(t.opened, 4);
	/* Gone for longer than the window: forgotten altogether. */
	for (uint64_t i = 5; i < 11; i++)
		feed(&x, &without, i, true);
	assert_int_equal(trend(&x, "10.0.0.3", 80, &t), -ENOENT);
	assert_int_equal(t.opened, 0);
	fixture_free(&x);
}

static void test_unread_namespace_keeps_cookies(void **state)
{
	struct round r = { 1, 20, 0 };
	struct fixture x;
	struct eph_trend t;

	(void)state;
	fixture_init(&x, 0);
	feed(&x, &r, 1, true);
	/* A round in which the namespace could not be read (the scan saw
	 * its sockets, then failed): nothing is forgotten, and the same
	 * sockets are not counted again when it is read next. */
	feed(&x, &r, 2, false);
	feed(&x, &r, 3, true);
	assert_int_equal(trend(&x, "10.0.0.2", 443, &t), 0);
	assert_int_equal(t.opened, 20);
	assert_int_equal(t.samples, 2);
	assert_int_equal(eph_forecast_opened(x.f, x.src), 20);
	assert_int_equal(eph_forecast_opened(x.f, x.src + 1), 0);
	fixture_free(&x);
}

static void test_many_destinations(void **state)
{
	struct eph_forecast *f = NULL;
	struct eph_policy *p = policy_new();
	struct eph_usage *u = NULL;
	struct eph_snapshot *snap = NULL;
	uint64_t dev, src;
	struct eph_trend t;

	(void)state;
	assert_non_null(p);
	assert_int_equal(eph_policy_set_range(p, 1024, 65535), 0);
	assert_int_equal(eph_usage_new(ctx, &u), 0);
	assert_int_equal(snapshot_wrap(ctx, p, u, &snap), 0);
	assert_int_equal(eph_forecast_new(ctx, 2, &f), 0);
	assert_int_equal(eph_forecast_watch(f, snap), 0);
	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &src), 0);
	/* 3000 destinations (ports 1..3000 of 10.0.0.2), 20,000 sockets:
	 * the tables grow, and every count stays exact. */
	for (uint32_t round = 0; round < 3; round++) {
		eph_forecast_begin(f);
		assert_int_equal(eph_usage_begin(u, p), 0);
		for (uint32_t k = 0; k < 20000 + round * 3000; k++) {
			struct eph_sock s =
				sk("10.0.0.1", (uint16_t)(2000 + k / 3000),
				   "10.0.0.2", (uint16_t)(1 + k % 3000),
				   EPH_TCP_ESTABLISHED);

			s.cookie = 1 + k;
			assert_int_equal(eph_usage_add(u, &s), 0);
		}
		assert_int_equal(eph_usage_end(u), 0);
		assert_int_equal(eph_usage_count(u), 3000);
		assert_int_equal(
			forecast_add_usage(f, src, u, (round + 1) * SEC), 0);
		eph_forecast_end(f);
	}
	for (uint16_t port = 1; port <= 3000; port += 997) {
		struct eph_usage_tuple key;

		memset(&key, 0, sizeof(key));
		v4(key.local, "10.0.0.1");
		v4(key.remote, "10.0.0.2");
		key.remote_port = port;
		assert_int_equal(eph_forecast_get(f, src, &key, &t), 0);
		/* 20,000 sockets over 3000 ports: 6 or 7 each, then one more
		 * per round; with a window of 2 the rate is 1 a second. */
		assert_int_equal(t.opened, (port <= 2000 ? 7 : 6) + 2);
		assert_int_equal(t.samples, 2);
		assert_true(dabs(t.rate - 1.0) < 1e-9);
	}
	assert_int_equal(eph_forecast_opened(f, src), 26000);
	eph_forecast_free(f);
	eph_snapshot_free(snap);
}

/* A tracer's connect() from 10.0.0.1:LPORT to REMOTE:RPORT in NETNS. */
static struct eph_trace_event connect_event(uint64_t netns, uint16_t lport,
					    const char *remote, uint16_t rport)
{
	struct eph_trace_event e;

	memset(&e, 0, sizeof(e));
	e.kind = EPH_TRACE_CONNECT;
	e.netns = netns;
	e.proto = IPPROTO_TCP;
	e.family = AF_INET;
	v4(e.local, "10.0.0.1");
	v4(e.remote, remote);
	e.local_port = lport;
	e.remote_port = rport;
	e.pid = 1;
	return e;
}

static void test_opened_from_events(void **state)
{
	struct round none = { 1, 0, 0 }, three = { 1, 3, 0 };
	struct eph_trace_event e;
	struct fixture x;
	struct eph_trend t;

	(void)state;
	fixture_init(&x, 0);
	assert_int_equal(eph_forecast_set_opened(x.f, 7), -EINVAL);
	/* Counting cookies, a forecast takes no events. */
	e = connect_event(x.src, 40000, "10.0.0.2", 443);
	assert_int_equal(eph_forecast_add_event(x.f, &e), 0);
	assert_int_equal(
		eph_forecast_set_opened(x.f, EPH_FORECAST_OPENED_EVENTS), 0);
	/* Before any read, the range is not known: every port counts. */
	e = connect_event(x.src, 5000, "10.0.0.2", 443);
	assert_int_equal(eph_forecast_add_event(x.f, &e), 1);
	/* Three sockets the scan sees: not counted by cookie any more. */
	feed(&x, &three, 1, true);
	assert_int_equal(trend(&x, "10.0.0.2", 443, &t), 0);
	assert_int_equal(t.opened, 1);
	assert_int_equal(t.opened_last, 1);
	/* 50 connections that opened and closed between two scans, which
	 * no scan sees; one from a port outside the range; events that are
	 * no TCP connect(). */
	for (uint16_t k = 0; k < 50; k++) {
		e = connect_event(x.src, (uint16_t)(40100 + k), "10.0.0.2",
				  443);
		assert_int_equal(eph_forecast_add_event(x.f, &e), 1);
	}
	e = connect_event(x.src, 5000, "10.0.0.2", 443);
	assert_int_equal(eph_forecast_add_event(x.f, &e), 0);
	e = connect_event(x.src, 40200, "10.0.0.2", 443);
	e.proto = IPPROTO_UDP;
	assert_int_equal(eph_forecast_add_event(x.f, &e), 0);
	e.proto = IPPROTO_TCP;
	e.kind = EPH_TRACE_CONNECT_FAILED;
	assert_int_equal(eph_forecast_add_event(x.f, &e), 0);
	/* Toward a destination no scan shows, in another namespace too. */
	e = connect_event(x.src, 40300, "10.0.0.4", 22);
	assert_int_equal(eph_forecast_add_event(x.f, &e), 1);
	e = connect_event(x.src + 1, 40300, "10.0.0.2", 443);
	assert_int_equal(eph_forecast_add_event(x.f, &e), 1);
	/* They wait for the round's end. */
	assert_int_equal(trend(&x, "10.0.0.2", 443, &t), 0);
	assert_int_equal(t.opened, 1);
	feed(&x, &three, 2, true);
	assert_int_equal(trend(&x, "10.0.0.2", 443, &t), 0);
	assert_int_equal(t.opened, 51);
	assert_int_equal(t.opened_last, 50);
	assert_int_equal(t.samples, 2);
	assert_int_equal(trend(&x, "10.0.0.4", 22, &t), -ENOENT);
	assert_int_equal(t.opened, 1);
	assert_int_equal(eph_forecast_opened(x.f, x.src), 52);
	assert_int_equal(eph_forecast_opened(x.f, x.src + 1), 1);
	/* A round without events opens nothing. */
	feed(&x, &none, 3, true);
	assert_int_equal(eph_forecast_opened(x.f, x.src), 52);
	fixture_free(&x);
}

static void test_events_have_a_bound(void **state)
{
	struct round none = { 1, 0, 0 };
	struct eph_trace_event e;
	struct fixture x;
	uint32_t n = 0;

	(void)state;
	fixture_init(&x, 0);
	assert_int_equal(
		eph_forecast_set_opened(x.f, EPH_FORECAST_OPENED_EVENTS), 0);
	for (uint32_t a = 0; n < EPH_FORECAST_PENDING; a++) {
		char remote[32];

		snprintf(remote, sizeof(remote), "10.1.%u.%u", a / 256,
			 a % 256);
		for (uint32_t p = 1; p <= 1024 && n < EPH_FORECAST_PENDING;
		     p++, n++) {
			e = connect_event(x.src, 40000, remote, (uint16_t)p);
			assert_int_equal(eph_forecast_add_event(x.f, &e), 1);
		}
	}
	/* One destination more is refused; those waiting still count. */
	e = connect_event(x.src, 40000, "10.2.0.1", 443);
	assert_int_equal(eph_forecast_add_event(x.f, &e), -ENOSPC);
	e = connect_event(x.src, 40001, "10.1.0.0", 1);
	assert_int_equal(eph_forecast_add_event(x.f, &e), 1);
	feed(&x, &none, 1, true);
	assert_int_equal(eph_forecast_opened(x.f, x.src),
			 EPH_FORECAST_PENDING + 1);
	/* The round's end made room again. */
	e = connect_event(x.src, 40000, "10.2.0.1", 443);
	assert_int_equal(eph_forecast_add_event(x.f, &e), 1);
	fixture_free(&x);
}

/* Another thread's events, while the forecast's own scans. */
struct adder {
	struct eph_forecast *f;
	uint64_t src;
	uint32_t n;
};

static void *add_events(void *data)
{
	struct adder *a = data;

	for (uint32_t i = 0; i < a->n; i++) {
		struct eph_trace_event e =
			connect_event(a->src, (uint16_t)(40000 + i % 1000),
				      "10.0.0.2", (uint16_t)(443 + i % 3));

		if (eph_forecast_add_event(a->f, &e) != 1)
			return a;
	}
	return NULL;
}

static void test_events_from_another_thread(void **state)
{
	struct round three = { 1, 3, 0 };
	struct fixture x;
	struct adder a;
	pthread_t th;
	void *ret = &a;

	(void)state;
	fixture_init(&x, 0);
	assert_int_equal(
		eph_forecast_set_opened(x.f, EPH_FORECAST_OPENED_EVENTS), 0);
	a = (struct adder){ x.f, x.src, 200000 };
	assert_int_equal(pthread_create(&th, NULL, add_events, &a), 0);
	for (uint64_t t = 1; t < 200; t++)
		feed(&x, &three, t, true);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	feed(&x, &three, 200, true);
	assert_int_equal(eph_forecast_opened(x.f, x.src), 200000);
	fixture_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_linear),
		cmocka_unit_test(test_fit_uneven_and_noisy),
		cmocka_unit_test(test_fit_not_shrinking),
		cmocka_unit_test(test_new_window),
		cmocka_unit_test(test_opened_and_rate),
		cmocka_unit_test(test_destination_comes_back),
		cmocka_unit_test(test_unread_namespace_keeps_cookies),
		cmocka_unit_test(test_many_destinations),
		cmocka_unit_test(test_opened_from_events),
		cmocka_unit_test(test_events_have_a_bound),
		cmocka_unit_test(test_events_from_another_thread),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
