/* SPDX-License-Identifier: MIT */
/* The exporter's scans: one namespace or the fleet, and the forecast. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "collect.h"
#include "tracing.h"

/* Scans a namespace may miss before its error counter is dropped: its
 * series must not outlive it for ever (pid labels come and go). */
#define ABSENT_MAX 10

struct collector {
	struct eph_ctx *ctx;
	struct collector_opts o;
	struct eph_snapshot *snap; /* one namespace */
	struct eph_fleet *fleet;   /* or all of them */
	struct eph_forecast *fc;
	struct eph_consumers *consumers;
	struct view_ns *ns;
	size_t n, cap;
	const struct eph_snapshot **snaps; /* for the overall ranking */
	struct eph_ranking *rank;
	struct tracing *tracing;
	struct eph_trace_counter *failures;
	size_t failures_cap;
	struct view view;
};

static double now_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int collector_new(struct eph_ctx *ctx, const char *netns,
		  const struct collector_opts *o, struct collector **ret)
{
	struct collector *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->ctx = ctx;
	c->o = *o;
	if (o->all_netns)
		r = eph_fleet_new(ctx, &c->fleet);
	else
		r = eph_snapshot_new(ctx, &c->snap);
	if (r >= 0 && o->forecast)
		r = eph_forecast_new(ctx, 0, &c->fc);
	if (r >= 0 && o->by_set) {
		r = eph_consumers_new(ctx, o->by, NULL, &c->consumers);
		if (r >= 0)
			r = c->fleet ? eph_consumers_watch_fleet(c->consumers,
								 c->fleet)
				     : eph_consumers_watch(c->consumers,
							   c->snap);
	}
	if (r < 0) {
		collector_free(c);
		return r;
	}
	c->view.label_netns = o->all_netns;
	c->view.netns = netns;
	c->view.fc = c->fc;
	c->view.by = o->by;
	c->view.version = EPHPORT_VERSION;
	c->view.interval = o->interval;
	*ret = c;
	return 0;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		eph_ranking_free(c->ns[i].rank);
	free(c->ns);
	free(c->snaps);
	eph_ranking_free(c->rank);
	free(c->failures);
	eph_consumers_free(c->consumers);
	eph_forecast_free(c->fc);
	eph_snapshot_free(c->snap);
	eph_fleet_free(c->fleet);
	free(c);
}

/* The entry of namespace SOURCE, made if new; NULL when out of memory. */
static struct view_ns *ns_of(struct collector *c, uint64_t source)
{
	struct view_ns *n;

	for (size_t i = 0; i < c->n; i++)
		if (c->ns[i].source == source)
			return &c->ns[i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;

		n = realloc(c->ns, cap * sizeof(*n));
		if (!n)
			return NULL;
		c->ns = n;
		c->cap = cap;
	}
	n = &c->ns[c->n++];
	memset(n, 0, sizeof(*n));
	n->source = source;
	return n;
}

static void ns_fail(struct view_ns *n, int err, const char *msg)
{
	n->snap = NULL;
	n->err = err;
	n->errors++;
	snprintf(n->error, sizeof(n->error), "%s",
		 msg && *msg ? msg : strerror(-err));
}

static int scan_one(struct collector *c)
{
	struct view_ns *n = c->n ? &c->ns[0] : ns_of(c, 0);
	int r;

	if (!n)
		return -ENOMEM;
	if (c->fc) {
		n->source = eph_forecast_source(c->fc);
		r = eph_forecast_take(c->fc, c->snap, c->o.flags);
	} else {
		r = eph_snapshot_take(c->snap, c->o.flags);
	}
	snprintf(n->label, sizeof(n->label), "%s",
		 c->view.netns ? c->view.netns : "");
	if (r < 0) {
		ns_fail(n, r, eph_ctx_errmsg(c->ctx));
		return r;
	}
	n->snap = c->snap;
	n->err = 0;
	n->error[0] = '\0';
	return 0;
}

static int scan_fleet(struct collector *c)
{
	size_t w = 0, read = 0;
	int r;

	for (size_t i = 0; i < c->n; i++) {
		c->ns[i].absent++;
		c->ns[i].netns = NULL;
		c->ns[i].snap = NULL;
	}
	r = c->fc ? eph_forecast_scan(c->fc, c->fleet, c->o.flags)
		  : eph_fleet_scan(c->fleet, c->o.flags);
	if (r < 0) {
		/* Not even the list: every namespace known counts it. */
		for (size_t i = 0; i < c->n; i++)
			ns_fail(&c->ns[i], r, eph_ctx_errmsg(c->ctx));
		return r;
	}
	for (size_t i = 0; i < eph_fleet_count(c->fleet); i++) {
		const struct eph_netns *ns = eph_fleet_netns(c->fleet, i);
		struct view_ns *n = ns_of(c, ns->ino);

		if (!n)
			return -ENOMEM;
		n->absent = 0;
		n->netns = ns;
		snprintf(n->label, sizeof(n->label), "%s", ns->label);
		n->snap = eph_fleet_snapshot(c->fleet, i);
		if (!n->snap) {
			ns_fail(n, eph_fleet_errno(c->fleet, i),
				eph_fleet_error(c->fleet, i));
			continue;
		}
		n->err = 0;
		n->error[0] = '\0';
		read++;
	}
	/* Namespaces gone for a while go, their counters with them. */
	for (size_t i = 0; i < c->n; i++) {
		if (c->ns[i].absent > ABSENT_MAX) {
			eph_ranking_free(c->ns[i].rank);
			continue;
		}
		c->ns[w++] = c->ns[i];
	}
	c->n = w;
	return read ? 0 : -ENODATA;
}

static int rank(struct collector *c)
{
	const struct eph_snapshot **s;
	size_t k = 0;

	s = realloc(c->snaps, (c->n ? c->n : 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	c->snaps = s;
	for (size_t i = 0; i < c->n; i++) {
		struct view_ns *n = &c->ns[i];

		eph_ranking_free(n->rank);
		n->rank = NULL;
		s[k++] = n->snap;
		if (n->snap && eph_ranking_new(&n->snap, 1, &c->o.th, c->o.top,
					       &n->rank) < 0)
			return -ENOMEM;
	}
	eph_ranking_free(c->rank);
	c->rank = NULL;
	return eph_ranking_new(s, k, &c->o.th, c->o.top, &c->rank);
}

int collector_scan(struct collector *c)
{
	double start = now_s(CLOCK_MONOTONIC);
	int r, q;

	c->view.scan_time = now_s(CLOCK_REALTIME);
	/* Every connect() made before the scan joins its forecast. */
	if (c->tracing)
		tracing_sync(c->tracing);
	r = c->fleet ? scan_fleet(c) : scan_one(c);
	if (r == -ENOMEM)
		return r;
	q = rank(c);
	if (q < 0)
		return q;
	/* Who holds the ports: a courtesy; without it the numbers stand. */
	c->view.consumers =
		c->consumers && r >= 0 &&
				eph_consumers_resolve(c->consumers) >= 0
			? c->consumers
			: NULL;
	if (c->tracing &&
	    tracing_copy(c->tracing, &c->failures, &c->failures_cap,
			 &c->view.nfailures, &c->view.trace_lost) < 0)
		return -ENOMEM;
	c->view.failures = c->failures;
	c->view.scans++;
	c->view.scan_seconds = now_s(CLOCK_MONOTONIC) - start;
	c->view.ns = c->ns;
	c->view.n = c->n;
	c->view.rank = c->rank;
	return r;
}

const struct view *collector_view(const struct collector *c)
{
	return &c->view;
}

struct eph_forecast *collector_forecast(struct collector *c)
{
	return c->fc;
}

void collector_trace(struct collector *c, struct tracing *t)
{
	c->tracing = t;
	c->view.traced = t != NULL;
}
