/* SPDX-License-Identifier: MIT */
/*
 * Holders: every socket on one local port, each marked when it named its
 * port (an explicit binder) rather than being given it by the kernel. Two
 * dumps, both filtered to the port in the kernel: all sockets, and beside
 * it (in a second thread, with its own netlink socket) the explicit
 * binders, matched by socket cookie. Each dump walks the whole socket
 * table; side by side they take the time of one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cookies {
	uint64_t *v;
	size_t n, cap;
};

struct eph_holders {
	struct eph_ctx *ctx;
	struct eph_scan *scan;
	struct eph_ctx *ctx2;
	struct eph_scan *scan2;
	struct eph_scan_filter f2;
	struct eph_sock *socks;
	size_t n, cap;
	struct cookies locked;
	int result2;
};

EPH_EXPORT int eph_holders_new(struct eph_ctx *ctx, struct eph_holders **ret)
{
	struct eph_holders *h = calloc(1, sizeof(*h));

	if (!h)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	h->ctx = ctx;
	*ret = h;
	return 0;
}

EPH_EXPORT void eph_holders_free(struct eph_holders *h)
{
	if (!h)
		return;
	eph_scan_free(h->scan);
	eph_scan_free(h->scan2);
	eph_ctx_free(h->ctx2);
	free(h->socks);
	free(h->locked.v);
	free(h);
}

static int all_begin(void *data)
{
	((struct eph_holders *)data)->n = 0;
	return 0;
}

static int all_sock(const struct eph_sock *s, void *data)
{
	struct eph_holders *h = data;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct eph_sock *n = realloc(h->socks, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		h->socks = n;
		h->cap = cap;
	}
	h->socks[h->n++] = *s;
	return 0;
}

static int locked_begin(void *data)
{
	((struct eph_holders *)data)->locked.n = 0;
	return 0;
}

static int locked_sock(const struct eph_sock *s, void *data)
{
	struct cookies *c = &((struct eph_holders *)data)->locked;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		uint64_t *n = realloc(c->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->v = n;
		c->cap = cap;
	}
	c->v[c->n++] = s->cookie;
	return 0;
}

static void *locked_run(void *data)
{
	static const struct eph_scan_ops ops = { locked_begin, locked_sock };
	struct eph_holders *h = data;

	h->result2 = eph_scan_run(h->scan2, &h->f2, &ops, h);
	return NULL;
}

static int cookie_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Listeners first, then by protocol, state and remote end. */
static int sock_cmp(const void *a, const void *b)
{
	const struct eph_sock *x = a, *y = b;
	int lx = x->state == EPH_TCP_LISTEN, ly = y->state == EPH_TCP_LISTEN;

	if (lx != ly)
		return ly - lx;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->state != y->state)
		return x->state - y->state;
	if (memcmp(x->remote, y->remote, 16))
		return memcmp(x->remote, y->remote, 16);
	return x->remote_port - y->remote_port;
}

EPH_EXPORT int eph_holders_scan(struct eph_holders *h, uint32_t protos,
				uint16_t port)
{
	static const struct eph_scan_ops ops = { all_begin, all_sock };
	struct eph_scan_filter f = { 0 };
	pthread_t thread;
	bool threaded;
	int r;

	ctx_clear_error(h->ctx);
	if (!h->scan && (r = eph_scan_new(h->ctx, &h->scan)) < 0)
		return r;
	if (!h->ctx2 && !(h->ctx2 = ctx_clone(h->ctx)))
		return ctx_error(h->ctx, -ENOMEM, "out of memory");
	if (!h->scan2 && eph_scan_new(h->ctx2, &h->scan2) < 0)
		return ctx_error_copy(h->ctx, h->ctx2);
	f.protos = protos;
	f.port_range = true;
	f.port_lo = f.port_hi = port;
	h->f2 = f;
	h->f2.explicit_only = true;
	threaded = pthread_create(&thread, NULL, locked_run, h) == 0;
	if (!threaded)
		locked_run(h);
	r = eph_scan_run(h->scan, &f, &ops, h);
	if (threaded)
		pthread_join(thread, NULL);
	if (r < 0)
		return r;
	if (h->result2 < 0)
		return ctx_error_copy(h->ctx, h->ctx2);
	if (h->locked.n > 1)
		qsort(h->locked.v, h->locked.n, sizeof(uint64_t), cookie_cmp);
	for (size_t i = 0; i < h->n; i++)
		if (h->locked.n &&
		    bsearch(&h->socks[i].cookie, h->locked.v, h->locked.n,
			    sizeof(uint64_t), cookie_cmp))
			h->socks[i].flags |= EPH_SOCK_PORT_LOCKED;
	if (h->n > 1)
		qsort(h->socks, h->n, sizeof(*h->socks), sock_cmp);
	return (int)h->n;
}

EPH_EXPORT size_t eph_holders_count(const struct eph_holders *h)
{
	return h->n;
}

EPH_EXPORT const struct eph_sock *eph_holders_get(const struct eph_holders *h,
						  size_t i)
{
	return i < h->n ? &h->socks[i] : NULL;
}
