/* SPDX-License-Identifier: MIT */
/*
 * Forecast: a short series of snapshots per destination, the net rate at
 * which its free ports shrink (a least-squares fit, so that one noisy scan
 * does not swing it) and the time until none is left at that rate; and
 * the connections opened toward it.
 *
 * Connections opened: every socket a scan counts toward a destination
 * carries a cookie that stays the same for the socket's whole life,
 * TIME_WAIT included, and is never given to another socket before a
 * reboot. A cookie that no earlier scan saw is a connection opened since.
 * One table holds every cookie with the round it was last seen in and its
 * namespace. A cookie that the last read of its namespace did not see is
 * stale: seen again, it counts as new. Stale cookies are dropped only when
 * the table would otherwise grow, so that a round costs one lookup per
 * socket and nothing more, and the table grows with the sockets there
 * are, not with those there were. A connection that comes and goes
 * between two scans without a TIME_WAIT on this side (the peer closed
 * first) is not seen; the first scan counts every connection there is.
 *
 * Or the connections opened come from a tracer's connect() events
 * (eph_forecast_set_opened()), which miss none: then no cookie is kept.
 * A tracer's reader hands them over from a thread of its own, while the
 * forecast's thread scans, so they wait in a table of their own under a
 * lock, one count per destination, until the end of the next round folds
 * them in; the range of each namespace's last read, kept there too, tells
 * the connections from a port of the range (those a scan would count)
 * from the others.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NO_INDEX UINT32_MAX

struct dest {
	uint8_t local[16], remote[16];
	uint16_t remote_port;
	uint32_t seen_round; /* the last round a snapshot showed it */
	uint32_t head, n;    /* its points: a ring, the oldest at head */
	uint64_t opened;
	uint32_t opened_last, pending;
};

struct source {
	uint64_t ino;
	bool live;	     /* the slot is in use */
	bool read;	     /* added in this round */
	uint32_t seen_round; /* the last round it was read in */
	struct dest *dests;
	struct eph_sample *ring; /* WINDOW points per destination */
	size_t n, cap;
	uint32_t *index; /* open addressing: destination number or NO_INDEX */
	size_t index_cap;
	uint64_t opened;
};

struct cookie {
	uint64_t cookie; /* 0: an empty slot (the kernel never gives 0) */
	uint32_t round;
	uint32_t source;
};

/* Sockets the observer holds until it looks them up together. */
#define BATCH 64

struct seen {
	uint64_t cookie;
	uint16_t remote_port;
	uint8_t local[16], remote[16];
};

/* Connections a tracer saw toward a destination, waiting for a round's
 * end; COUNT 0 is an empty slot. */
struct pend {
	uint64_t source;
	uint8_t local[16], remote[16];
	uint16_t remote_port;
	uint32_t count;
};

/* The range of a namespace's last read: a connection from a port outside
 * it takes nothing from a destination's budget. */
struct pend_range {
	uint64_t source;
	uint16_t lo, hi;
};

struct eph_forecast {
	struct eph_ctx *ctx;
	uint32_t window;
	enum eph_forecast_opened from;
	uint32_t round;
	struct source *src;
	size_t nsrc;
	struct cookie *cookies;
	size_t ncookies, cookie_cap;
	/* The namespace of the context the observer saw last: a scan
	 * calls it many times with one context. */
	const struct eph_ctx *cur_ctx;
	uint32_t cur_src;
	int err; /* the observer's: out of memory */
	struct usage_observer observer;
	struct usage_watches watches;
	/* Cookies are looked up BATCH at a time, every slot prefetched
	 * first: a scan of many sockets then waits on memory once per
	 * batch instead of once per socket. */
	struct seen batch[BATCH];
	size_t nbatch;

	/* What eph_forecast_add_event() gives, from any thread. */
	pthread_mutex_t lock;
	struct pend *pend;
	size_t npend, pend_cap;
	struct pend_range *ranges;
	size_t nranges;
};

/* ---- The fit ---- */

EPH_EXPORT void eph_trend_fit(const struct eph_sample *s, size_t n,
			      struct eph_trend *ret)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0;

	memset(ret, 0, sizeof(*ret));
	ret->seconds_left = INFINITY;
	ret->samples = (uint32_t)n;
	if (n == 0)
		return;
	ret->free = s[n - 1].free;
	if (ret->free == 0)
		ret->seconds_left = 0;
	if (n < 2)
		return;
	/* Times relative to the first point, in seconds, keep the sums
	 * well within a double's precision. */
	for (size_t i = 0; i < n; i++) {
		mx += (double)(int64_t)(s[i].time_ns - s[0].time_ns) / 1e9;
		my += s[i].free;
	}
	mx /= (double)n;
	my /= (double)n;
	for (size_t i = 0; i < n; i++) {
		double dx =
			(double)(int64_t)(s[i].time_ns - s[0].time_ns) / 1e9 -
			mx;

		sxx += dx * dx;
		sxy += dx * ((double)s[i].free - my);
	}
	ret->span_s = (double)(int64_t)(s[n - 1].time_ns - s[0].time_ns) / 1e9;
	if (sxx <= 0)
		return;
	ret->rate = -sxy / sxx;
	if (ret->rate < 1e-9 && ret->rate > -1e-9)
		ret->rate = 0;
	if (ret->free > 0 && ret->rate > 0)
		ret->seconds_left = ret->free / ret->rate;
}

/* ---- Namespaces and destinations ---- */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static bool dest_is(const struct dest *d, const uint8_t local[16],
		    const uint8_t remote[16], uint16_t rport)
{
	return d->remote_port == rport && memcmp(d->local, local, 16) == 0 &&
	       memcmp(d->remote, remote, 16) == 0;
}

static uint32_t dest_find(const struct source *s, const uint8_t local[16],
			  const uint8_t remote[16], uint16_t rport)
{
	size_t mask = s->index_cap - 1, i;

	if (!s->index_cap)
		return NO_INDEX;
	for (i = usage_tuple_hash(local, remote, rport) & mask;
	     s->index[i] != NO_INDEX; i = (i + 1) & mask)
		if (dest_is(&s->dests[s->index[i]], local, remote, rport))
			return s->index[i];
	return NO_INDEX;
}

/* Rebuilds S's index over its destinations, CAP slots (a power of 2). */
static int index_build(struct source *s, size_t cap)
{
	uint32_t *idx = malloc(cap * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	memset(idx, 0xff, cap * sizeof(*idx));
	for (size_t k = 0; k < s->n; k++) {
		const struct dest *d = &s->dests[k];
		size_t i =
			usage_tuple_hash(d->local, d->remote, d->remote_port) &
			(cap - 1);

		while (idx[i] != NO_INDEX)
			i = (i + 1) & (cap - 1);
		idx[i] = (uint32_t)k;
	}
	free(s->index);
	s->index = idx;
	s->index_cap = cap;
	return 0;
}

/* The destination of S toward REMOTE:RPORT from LOCAL, made if new. */
static struct dest *dest_get(struct eph_forecast *f, struct source *s,
			     const uint8_t local[16], const uint8_t remote[16],
			     uint16_t rport)
{
	uint32_t k = dest_find(s, local, remote, rport);
	struct dest *d;
	size_t slot;

	if (k != NO_INDEX)
		return &s->dests[k];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct dest *nd = realloc(s->dests, cap * sizeof(*nd));
		struct eph_sample *nr;

		if (!nd)
			return NULL;
		s->dests = nd;
		nr = realloc(s->ring, cap * f->window * sizeof(*nr));
		if (!nr)
			return NULL;
		s->ring = nr;
		s->cap = cap;
	}
	if ((s->n + 1) * 2 > s->index_cap &&
	    index_build(s, s->index_cap ? s->index_cap * 2 : 32) < 0)
		return NULL;
	d = &s->dests[s->n];
	memset(d, 0, sizeof(*d));
	memcpy(d->local, local, 16);
	memcpy(d->remote, remote, 16);
	d->remote_port = rport;
	d->seen_round = f->round;
	/* The index has room: it was grown above when needed. */
	for (slot = usage_tuple_hash(local, remote, rport) & (s->index_cap - 1);
	     s->index[slot] != NO_INDEX; slot = (slot + 1) & (s->index_cap - 1))
		;
	s->index[slot] = (uint32_t)s->n++;
	return d;
}

static void source_clear(struct source *s)
{
	free(s->dests);
	free(s->ring);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

static uint32_t source_find(const struct eph_forecast *f, uint64_t ino)
{
	for (size_t i = 0; i < f->nsrc; i++)
		if (f->src[i].live && f->src[i].ino == ino)
			return (uint32_t)i;
	return NO_INDEX;
}

/* The namespace INO's slot, made if new; NO_INDEX when out of memory. */
static uint32_t source_get(struct eph_forecast *f, uint64_t ino)
{
	uint32_t i = source_find(f, ino);
	struct source *n;

	if (i != NO_INDEX)
		return i;
	for (i = 0; i < f->nsrc && f->src[i].live; i++)
		;
	if (i == f->nsrc) {
		n = realloc(f->src, (f->nsrc + 1) * sizeof(*n));
		if (!n)
			return NO_INDEX;
		f->src = n;
		f->nsrc++;
	}
	memset(&f->src[i], 0, sizeof(f->src[i]));
	f->src[i].live = true;
	f->src[i].ino = ino;
	/* Kept at least a window of rounds, even if never read. */
	f->src[i].seen_round = f->round;
	return i;
}

/* ---- Cookies ---- */

/* Moves the cookies KEEP accepts into a table of CAP slots. */
static int cookies_rehash(struct eph_forecast *f, size_t cap,
			  bool (*keep)(const struct eph_forecast *f,
				       const struct cookie *c))
{
	struct cookie *t = calloc(cap, sizeof(*t));
	size_t n = 0;

	if (!t)
		return -ENOMEM;
	for (size_t k = 0; k < f->cookie_cap; k++) {
		const struct cookie *c = &f->cookies[k];
		size_t i;

		if (!c->cookie || (keep && !keep(f, c)))
			continue;
		for (i = mix(c->cookie) & (cap - 1); t[i].cookie;
		     i = (i + 1) & (cap - 1))
			;
		t[i] = *c;
		n++;
	}
	free(f->cookies);
	f->cookies = t;
	f->cookie_cap = cap;
	f->ncookies = n;
	return 0;
}

/* A cookie stays while the last read of its namespace saw it, or while
 * that namespace has not been read since (it may come back). */
static bool cookie_keep(const struct eph_forecast *f, const struct cookie *c)
{
	const struct source *s =
		c->source < f->nsrc ? &f->src[c->source] : NULL;

	return s && s->live && c->round >= s->seen_round;
}

/* Makes room for N more cookies: drops the stale ones first, and grows
 * the table only when that is not enough. */
static int cookies_room(struct eph_forecast *f, size_t n)
{
	size_t cap = f->cookie_cap;

	if ((f->ncookies + n) * 2 <= cap)
		return 0;
	if (cap && cookies_rehash(f, cap, cookie_keep) < 0)
		return -ENOMEM;
	/* Grown when more than a quarter is still live: the next purge is
	 * then at least as many insertions away. */
	while ((f->ncookies + n) * 4 > cap)
		cap = cap ? cap * 2 : 1024;
	if (cap != f->cookie_cap && cookies_rehash(f, cap, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/* Finds COOKIE from slot I on, or adds it; the table has room. */
static struct cookie *cookie_put(struct eph_forecast *f, uint64_t cookie,
				 size_t i, bool *ret_fresh)
{
	size_t mask = f->cookie_cap - 1;

	for (;; i = (i + 1) & mask) {
		struct cookie *c = &f->cookies[i];

		if (c->cookie == cookie) {
			*ret_fresh = false;
			return c;
		}
		if (!c->cookie) {
			c->cookie = cookie;
			f->ncookies++;
			*ret_fresh = true;
			return c;
		}
	}
}

/* Looks up the sockets held back, all of the current namespace. */
static void flush(struct eph_forecast *f)
{
	size_t slot[BATCH], n = f->nbatch;
	struct source *src;

	f->nbatch = 0;
	if (n == 0 || f->err)
		return;
	if (cookies_room(f, n) < 0) {
		f->err = -ENOMEM;
		return;
	}
	for (size_t k = 0; k < n; k++) {
		slot[k] = mix(f->batch[k].cookie) & (f->cookie_cap - 1);
		__builtin_prefetch(&f->cookies[slot[k]], 1);
	}
	src = &f->src[f->cur_src];
	for (size_t k = 0; k < n; k++) {
		const struct seen *s = &f->batch[k];
		struct cookie *c;
		struct dest *d;
		bool fresh;

		c = cookie_put(f, s->cookie, slot[k], &fresh);
		/* Seen before, but not by the last read of its namespace: it
		 * went away for a scan, and counts as new, as it would once
		 * dropped. */
		if (!fresh && c->round < src->seen_round)
			fresh = true;
		c->round = f->round;
		c->source = f->cur_src;
		if (!fresh)
			continue;
		d = dest_get(f, src, s->local, s->remote, s->remote_port);
		if (!d) {
			f->err = -ENOMEM;
			return;
		}
		d->pending++;
	}
}

static void observe(void *data, struct eph_ctx *ctx, const struct eph_sock *s)
{
	struct eph_forecast *f = data;
	struct seen *b;

	if (!s->cookie || f->err || f->from == EPH_FORECAST_OPENED_EVENTS)
		return;
	if (ctx != f->cur_ctx) {
		uint64_t dev, ino;

		flush(f);
		if (eph_ctx_netns_id(ctx, &dev, &ino) < 0)
			return;
		f->cur_src = source_get(f, ino);
		if (f->cur_src == NO_INDEX) {
			f->err = -ENOMEM;
			return;
		}
		f->cur_ctx = ctx;
	}
	b = &f->batch[f->nbatch++];
	b->cookie = s->cookie;
	b->remote_port = s->remote_port;
	memcpy(b->local, s->local, 16);
	memcpy(b->remote, s->remote, 16);
	if (f->nbatch == BATCH)
		flush(f);
}

/* ---- The forecast ---- */

EPH_EXPORT int eph_forecast_new(struct eph_ctx *ctx, uint32_t window,
				struct eph_forecast **ret)
{
	struct eph_forecast *f;

	ctx_clear_error(ctx);
	if (window > EPH_FORECAST_WINDOW_MAX || window == 1)
		return ctx_error(ctx, -EINVAL,
				 "forecast window %u: give 2 to %u snapshots",
				 window, EPH_FORECAST_WINDOW_MAX);
	f = calloc(1, sizeof(*f));
	if (!f)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	f->ctx = ctx;
	f->window = window ? window : EPH_FORECAST_WINDOW;
	pthread_mutex_init(&f->lock, NULL);
	f->observer.sock = observe;
	f->observer.data = f;
	*ret = f;
	return 0;
}

EPH_EXPORT void eph_forecast_free(struct eph_forecast *f)
{
	if (!f)
		return;
	usage_watches_free(&f->watches, &f->observer);
	for (size_t i = 0; i < f->nsrc; i++)
		source_clear(&f->src[i]);
	free(f->src);
	free(f->cookies);
	free(f->pend);
	free(f->ranges);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

EPH_EXPORT int eph_forecast_set_opened(struct eph_forecast *f,
				       enum eph_forecast_opened from)
{
	if (from != EPH_FORECAST_OPENED_COOKIES &&
	    from != EPH_FORECAST_OPENED_EVENTS)
		return ctx_error(f->ctx, -EINVAL,
				 "no such source of opened connections: %d",
				 (int)from);
	pthread_mutex_lock(&f->lock);
	f->from = from;
	/* What the other way counted so far is not counted twice. */
	f->npend = 0;
	if (f->pend)
		memset(f->pend, 0, f->pend_cap * sizeof(*f->pend));
	pthread_mutex_unlock(&f->lock);
	free(f->cookies);
	f->cookies = NULL;
	f->ncookies = f->cookie_cap = 0;
	return 0;
}

static uint64_t pend_hash(uint64_t source, const uint8_t local[16],
			  const uint8_t remote[16], uint16_t rport)
{
	return mix(usage_tuple_hash(local, remote, rport) ^ source);
}

/* The slot of the destination from slot I on, or the empty one to use. */
static struct pend *pend_slot(struct pend *t, size_t cap, uint64_t source,
			      const uint8_t local[16], const uint8_t remote[16],
			      uint16_t rport)
{
	size_t mask = cap - 1, i;

	for (i = pend_hash(source, local, remote, rport) & mask; t[i].count;
	     i = (i + 1) & mask)
		if (t[i].source == source && t[i].remote_port == rport &&
		    memcmp(t[i].local, local, 16) == 0 &&
		    memcmp(t[i].remote, remote, 16) == 0)
			break;
	return &t[i];
}

/* Room for one more destination waiting; under the lock. */
static int pend_room(struct eph_forecast *f)
{
	size_t cap = f->pend_cap ? f->pend_cap * 2 : 64;
	struct pend *t;

	if ((f->npend + 1) * 2 <= f->pend_cap)
		return 0;
	if (f->npend >= EPH_FORECAST_PENDING)
		return -ENOSPC;
	t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t k = 0; k < f->pend_cap; k++)
		if (f->pend[k].count)
			*pend_slot(t, cap, f->pend[k].source, f->pend[k].local,
				   f->pend[k].remote, f->pend[k].remote_port) =
				f->pend[k];
	free(f->pend);
	f->pend = t;
	f->pend_cap = cap;
	return 0;
}

/* Is PORT outside the range of SOURCE's last read? Under the lock. */
static bool pend_outside(const struct eph_forecast *f, uint64_t source,
			 uint16_t port)
{
	for (size_t i = 0; i < f->nranges; i++)
		if (f->ranges[i].source == source)
			return port < f->ranges[i].lo || port > f->ranges[i].hi;
	return false;
}

EPH_EXPORT int eph_forecast_add_event(struct eph_forecast *f,
				      const struct eph_trace_event *e)
{
	struct pend *p;
	int r = 1;

	if (e->kind != EPH_TRACE_CONNECT || e->proto != IPPROTO_TCP)
		return 0;
	pthread_mutex_lock(&f->lock);
	if (f->from != EPH_FORECAST_OPENED_EVENTS ||
	    pend_outside(f, e->netns, e->local_port)) {
		r = 0;
		goto out;
	}
	p = f->pend_cap ? pend_slot(f->pend, f->pend_cap, e->netns, e->local,
				    e->remote, e->remote_port)
			: NULL;
	if (!p || !p->count) {
		r = pend_room(f);
		if (r < 0)
			goto out;
		p = pend_slot(f->pend, f->pend_cap, e->netns, e->local,
			      e->remote, e->remote_port);
		p->source = e->netns;
		memcpy(p->local, e->local, 16);
		memcpy(p->remote, e->remote, 16);
		p->remote_port = e->remote_port;
		f->npend++;
	}
	if (p->count < UINT32_MAX)
		p->count++;
	r = 1;
out:
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* Keeps the range of SOURCE's read for the events to come. */
static int pend_set_range(struct eph_forecast *f, uint64_t source,
			  const struct eph_usage *u)
{
	const struct eph_usage_summary *sum = u ? eph_usage_summary(u) : NULL;
	struct pend_range *n;
	size_t i;
	int r = 0;

	if (!sum)
		return 0;
	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->nranges && f->ranges[i].source != source; i++)
		;
	if (i == f->nranges) {
		n = realloc(f->ranges, (i + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			goto out;
		}
		f->ranges = n;
		f->nranges++;
	}
	f->ranges[i] =
		(struct pend_range){ source, sum->range_low, sum->range_high };
out:
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* The connections the events counted join their destinations' pending
 * counts, which the end of the round makes opened. */
static void pend_fold(struct eph_forecast *f)
{
	pthread_mutex_lock(&f->lock);
	for (size_t k = 0; k < f->pend_cap && f->npend; k++) {
		struct pend *p = &f->pend[k];
		uint32_t i;
		struct dest *d;

		if (!p->count)
			continue;
		i = source_get(f, p->source);
		d = i == NO_INDEX ? NULL
				  : dest_get(f, &f->src[i], p->local, p->remote,
					     p->remote_port);
		if (!d) {
			f->err = -ENOMEM;
			break;
		}
		d->pending += p->count;
		p->count = 0;
		f->npend--;
	}
	/* Out of memory: what could not be folded is dropped, the table
	 * left empty for the next round. */
	if (f->npend && f->pend)
		memset(f->pend, 0, f->pend_cap * sizeof(*f->pend));
	f->npend = 0;
	/* The ranges of namespaces the forecast has forgotten go too. */
	for (size_t i = 0; i < f->nranges;)
		if (source_find(f, f->ranges[i].source) == NO_INDEX)
			f->ranges[i] = f->ranges[--f->nranges];
		else
			i++;
	pthread_mutex_unlock(&f->lock);
}

EPH_EXPORT int eph_forecast_watch(struct eph_forecast *f,
				  struct eph_snapshot *s)
{
	return usage_watch_snapshot(&f->watches, f->ctx, s, &f->observer);
}

EPH_EXPORT int eph_forecast_watch_fleet(struct eph_forecast *f,
					struct eph_fleet *fl)
{
	return usage_watch_fleet(&f->watches, f->ctx, fl, &f->observer);
}

EPH_EXPORT void eph_forecast_begin(struct eph_forecast *f)
{
	f->round++;
	f->cur_ctx = NULL;
	f->nbatch = 0;
	f->err = 0;
	for (size_t i = 0; i < f->nsrc; i++)
		f->src[i].read = false;
}

static void push(struct eph_forecast *f, struct source *s, struct dest *d,
		 uint64_t time_ns, uint32_t free)
{
	struct eph_sample *ring = &s->ring[(size_t)(d - s->dests) * f->window];
	uint32_t last = (d->head + d->n + f->window - 1) % f->window;

	d->seen_round = f->round;
	/* The same snapshot added twice is one point. */
	if (d->n && ring[last].time_ns == time_ns) {
		ring[last].free = free;
		return;
	}
	if (d->n == f->window) {
		ring[d->head] = (struct eph_sample){ time_ns, free };
		d->head = (d->head + 1) % f->window;
		return;
	}
	ring[(d->head + d->n) % f->window] =
		(struct eph_sample){ time_ns, free };
	d->n++;
}

EPH_EXPORT int eph_forecast_add(struct eph_forecast *f, uint64_t source,
				const struct eph_snapshot *s)
{
	return forecast_add_usage(f, source, eph_snapshot_usage(s),
				  eph_snapshot_time_ns(s));
}

int forecast_add_usage(struct eph_forecast *f, uint64_t source,
		       const struct eph_usage *u, uint64_t t_ns)
{
	uint32_t k;
	struct source *src;

	flush(f);
	k = source_get(f, source);
	if (k == NO_INDEX || (f->from == EPH_FORECAST_OPENED_EVENTS &&
			      pend_set_range(f, source, u) < 0))
		return ctx_error(f->ctx, -ENOMEM, "out of memory");
	src = &f->src[k];
	src->read = true;
	src->seen_round = f->round;
	for (size_t i = 0; u && i < eph_usage_count(u); i++) {
		const struct eph_usage_tuple *t = eph_usage_get(u, i);
		struct dest *d =
			dest_get(f, src, t->local, t->remote, t->remote_port);

		if (!d)
			return ctx_error(f->ctx, -ENOMEM, "out of memory");
		push(f, src, d, t_ns, t->free);
	}
	return 0;
}

/*
 * Ends the round for namespace S: the connections counted become
 * opened; a destination the round did not show starts its series
 * afresh when it comes back, and one missing for a whole window is
 * forgotten.
 */
static void source_end(struct eph_forecast *f, struct source *s)
{
	size_t w = 0;

	for (size_t k = 0; k < s->n; k++) {
		struct dest *d = &s->dests[k];

		d->opened += d->pending;
		s->opened += d->pending;
		d->opened_last = d->pending;
		d->pending = 0;
		if (!s->read || d->seen_round == f->round)
			continue;
		d->n = 0;
		d->head = 0;
	}
	if (!s->read)
		return;
	for (size_t k = 0; k < s->n; k++) {
		if (s->dests[k].seen_round + f->window < f->round)
			continue;
		if (w != k) {
			s->dests[w] = s->dests[k];
			memcpy(&s->ring[w * f->window], &s->ring[k * f->window],
			       f->window * sizeof(*s->ring));
		}
		w++;
	}
	if (w != s->n) {
		s->n = w;
		/* Rebuilding into the same size cannot fail for lack of a
		 * bigger table; if malloc fails, the old index is stale, so
		 * drop it and let the next dest_get() rebuild. */
		if (index_build(s, s->index_cap ? s->index_cap : 32) < 0) {
			free(s->index);
			s->index = NULL;
			s->index_cap = 0;
		}
	}
}

EPH_EXPORT void eph_forecast_end(struct eph_forecast *f)
{
	flush(f);
	if (f->from == EPH_FORECAST_OPENED_EVENTS)
		pend_fold(f);
	for (size_t i = 0; i < f->nsrc; i++) {
		struct source *s = &f->src[i];

		if (!s->live)
			continue;
		source_end(f, s);
		/* A namespace unseen for a window of rounds is gone (its
		 * cookies with it, at the next purge). */
		if (!s->read && s->seen_round + f->window < f->round)
			source_clear(s);
	}
	f->cur_ctx = NULL;
}

EPH_EXPORT uint64_t eph_forecast_source(const struct eph_forecast *f)
{
	uint64_t dev, ino;

	return eph_ctx_netns_id(f->ctx, &dev, &ino) < 0 ? 0 : ino;
}

EPH_EXPORT int eph_forecast_take(struct eph_forecast *f, struct eph_snapshot *s,
				 uint32_t flags)
{
	int r = eph_forecast_watch(f, s);

	if (r < 0)
		return r;
	eph_forecast_begin(f);
	r = eph_snapshot_take(s, flags);
	if (r >= 0)
		r = eph_forecast_add(f, eph_forecast_source(f), s);
	eph_forecast_end(f);
	if (r >= 0 && f->err)
		r = ctx_error(f->ctx, f->err, "out of memory");
	return r;
}

EPH_EXPORT int eph_forecast_scan(struct eph_forecast *f, struct eph_fleet *fl,
				 uint32_t flags)
{
	int r = eph_forecast_watch_fleet(f, fl), a = 0;

	if (r < 0)
		return r;
	eph_forecast_begin(f);
	r = eph_fleet_scan(fl, flags);
	for (size_t i = 0; r >= 0 && a == 0 && i < eph_fleet_count(fl); i++)
		if (eph_fleet_snapshot(fl, i))
			a = eph_forecast_add(f, eph_fleet_netns(fl, i)->ino,
					     eph_fleet_snapshot(fl, i));
	eph_forecast_end(f);
	if (a < 0)
		return a;
	if (r >= 0 && f->err)
		r = ctx_error(f->ctx, f->err, "out of memory");
	return r;
}

EPH_EXPORT int eph_forecast_get(const struct eph_forecast *f, uint64_t source,
				const struct eph_usage_tuple *t,
				struct eph_trend *ret)
{
	struct eph_sample pts[EPH_FORECAST_WINDOW_MAX];
	uint32_t k = source_find(f, source), i;
	const struct source *s;
	const struct dest *d;

	eph_trend_fit(NULL, 0, ret);
	if (k == NO_INDEX)
		return -ENOENT;
	s = &f->src[k];
	i = dest_find(s, t->local, t->remote, t->remote_port);
	if (i == NO_INDEX)
		return -ENOENT;
	d = &s->dests[i];
	for (uint32_t p = 0; p < d->n; p++)
		pts[p] = s->ring[(size_t)i * f->window +
				 (d->head + p) % f->window];
	eph_trend_fit(pts, d->n, ret);
	ret->opened = d->opened;
	ret->opened_last = d->opened_last;
	return d->n ? 0 : -ENOENT;
}

EPH_EXPORT uint64_t eph_forecast_opened(const struct eph_forecast *f,
					uint64_t source)
{
	uint32_t k = source_find(f, source);

	return k == NO_INDEX ? 0 : f->src[k].opened;
}
