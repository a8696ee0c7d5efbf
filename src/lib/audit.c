/* SPDX-License-Identifier: MIT */
/*
 * Audit: every listening TCP socket and bound UDP socket whose port sits
 * where the kernel may give it to an outgoing connection (inside the
 * ephemeral range, not reserved), and planned ports checked the same way
 * and against other systems' ranges; then the one reservation that
 * protects them all.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct eph_audit {
	struct eph_risk *risks;
	size_t n, cap;
	struct eph_portset fix, merged;
	struct eph_owner_proc *procs; /* what the risks' owners point to */
};

int audit_scan_servers(struct eph_scan *scan, uint16_t lo, uint16_t hi,
		       const struct eph_scan_ops *ops, void *data)
{
	struct eph_scan_filter f = { 0 };
	struct eph_scan_ops udp = { NULL, ops->sock };
	int r;

	f.port_range = true;
	f.port_lo = lo;
	f.port_hi = hi;
	/* A dump of listeners alone walks only the listening hash. */
	f.protos = EPH_PROTO_TCP;
	f.states = 1u << EPH_TCP_LISTEN;
	r = eph_scan_run(scan, &f, ops, data);
	if (r < 0)
		return r;
	/* UDP servers: the sockets that named their port. An interrupted
	 * dump must not drop the listeners gathered above: no begin(). */
	f.protos = EPH_PROTO_UDP;
	f.states = 0;
	f.explicit_only = true;
	return eph_scan_run(scan, &f, &udp, data);
}

struct gather {
	struct eph_audit *a;
	const struct eph_policy *p;
	uint64_t os_mask;
	int err;
};

static struct eph_risk *risk_find(struct eph_audit *a, uint16_t port,
				  uint8_t proto)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->risks[i].port == port && a->risks[i].proto == proto)
			return &a->risks[i];
	return NULL;
}

/* Adds PORT as a risk when it is one; S is its socket or NULL. */
static int check_port(struct gather *g, uint16_t port, uint8_t proto,
		      const struct eph_sock *s)
{
	struct eph_audit *a = g->a;
	bool here = eph_policy_in_range(g->p, port) &&
		    !eph_portset_has(eph_policy_reserved(g->p), port);
	uint64_t os = eph_os_holding(g->os_mask, port);
	struct eph_risk *r;

	if (!here && !os)
		return 0;
	if (num_grow((void **)&a->risks, &a->cap, a->n, sizeof(*r)) < 0)
		return -ENOMEM;
	r = &a->risks[a->n++];
	memset(r, 0, sizeof(*r));
	r->port = port;
	r->proto = proto;
	r->in_range = here;
	r->os_mask = os;
	r->owner.pid = -1;
	if (s) {
		r->family = s->family;
		memcpy(r->local, s->local, 16);
		r->inode = s->inode;
		r->uid = s->uid;
		r->cgroup_id = s->cgroup_id;
		r->owner.inode = s->inode;
	}
	if (here)
		portset_set(&a->fix, port);
	return 0;
}

static int gather_begin(void *data)
{
	struct gather *g = data;

	g->a->n = 0;
	eph_portset_clear(&g->a->fix);
	return 0;
}

static int gather_sock(const struct eph_sock *s, void *data)
{
	struct gather *g = data;

	/* One row per port and protocol: a dual-stack pair is one service. */
	if (risk_find(g->a, s->local_port, s->proto))
		return 0;
	return check_port(g, s->local_port, s->proto, s);
}

static int risk_cmp(const void *x, const void *y)
{
	const struct eph_risk *a = x, *b = y;

	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return (int)a->proto - (int)b->proto;
}

void audit_fill_owners(struct eph_audit *a, const struct eph_owners *o)
{
	struct eph_owner_proc *procs;
	size_t total = 0, at = 0;

	for (size_t i = 0; i < a->n; i++) {
		const struct eph_owner *found =
			a->risks[i].inode
				? eph_owners_find(o, a->risks[i].inode)
				: NULL;

		total += found ? found->nprocs : 0;
	}
	/* The owners' processes are copied: O may go before the audit. */
	procs = malloc((total ? total : 1) * sizeof(*procs));
	free(a->procs);
	a->procs = procs;
	for (size_t i = 0; i < a->n; i++) {
		struct eph_owner *to = &a->risks[i].owner;
		const struct eph_owner *found =
			a->risks[i].inode
				? eph_owners_find(o, a->risks[i].inode)
				: NULL;

		if (!a->risks[i].proto)
			continue;
		if (found) {
			*to = *found;
			to->procs = NULL;
			to->nprocs = procs ? found->nprocs : 0;
			if (procs && found->nprocs) {
				memcpy(procs + at, found->procs,
				       found->nprocs * sizeof(*procs));
				to->procs = procs + at;
				at += found->nprocs;
			}
		}
		to->looked_up = true;
	}
}

/* Asks O for the owner of risk R, with what the dump said about it. */
int audit_want_owner(struct eph_owners *o, const struct eph_risk *r)
{
	struct eph_sock s = { 0 };

	s.inode = r->inode;
	s.uid = r->uid;
	s.cgroup_id = r->cgroup_id;
	return eph_owners_want_sock(o, &s);
}

/* Looks up the processes behind the sockets at risk, in one walk. */
static void resolve_owners(struct eph_ctx *ctx, struct eph_audit *a)
{
	struct eph_owners *o;

	if (eph_owners_new(ctx, &o) < 0)
		return;
	/* A holder names the server; the remedy (reserve) stops nobody. */
	eph_owners_set_first_only(o, true);
	for (size_t i = 0; i < a->n; i++)
		if (audit_want_owner(o, &a->risks[i]) < 0)
			goto out;
	/* Owners are a courtesy: without them the verdict stands. */
	if (eph_owners_resolve(o) >= 0)
		audit_fill_owners(a, o);
out:
	eph_owners_free(o);
}

/* Adds the planned ports, sorts, and computes the merged reservation. */
static int audit_finish(struct gather *g, const struct eph_audit_request *req)
{
	struct eph_audit *a = g->a;
	int r = 0;

	if (req && req->planned) {
		for (int32_t port = eph_portset_next(req->planned, 0);
		     port >= 0 && r >= 0;
		     port = eph_portset_next(req->planned,
					     (uint32_t)port + 1)) {
			bool listed = false;

			for (size_t i = 0; i < a->n; i++)
				listed |= a->risks[i].port == port;
			if (!listed)
				r = check_port(g, (uint16_t)port, 0, NULL);
		}
	}
	if (r < 0)
		return r;
	if (a->n > 1)
		qsort(a->risks, a->n, sizeof(*a->risks), risk_cmp);
	eph_portset_copy(&a->merged, eph_policy_reserved(g->p));
	eph_portset_union(&a->merged, &a->fix);
	return 0;
}

int audit_decide(const struct eph_policy *p,
		 const struct eph_audit_request *req,
		 const struct eph_sock *socks, size_t n, struct eph_audit **ret)
{
	struct eph_audit *a = calloc(1, sizeof(*a));
	struct gather g = { a, p, req ? req->os_mask : 0, 0 };
	int r = 0;

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = gather_sock(&socks[i], &g);
	if (r >= 0)
		r = audit_finish(&g, req);
	if (r < 0) {
		eph_audit_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

EPH_EXPORT int eph_audit_run(struct eph_ctx *ctx, const struct eph_policy *p,
			     const struct eph_audit_request *req,
			     struct eph_audit **ret)
{
	static const struct eph_scan_ops ops = { gather_begin, gather_sock };
	struct eph_audit *a = calloc(1, sizeof(*a));
	struct gather g = { a, p, req ? req->os_mask : 0, 0 };
	struct eph_scan *scan = NULL;
	int r;

	ctx_clear_error(ctx);
	if (!a)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	r = eph_scan_new(ctx, &scan);
	if (r >= 0)
		r = audit_scan_servers(scan, 0, EPH_PORT_MAX, &ops, &g);
	eph_scan_free(scan);
	if (r >= 0) {
		r = audit_finish(&g, req);
		if (r < 0)
			ctx_error(ctx, r, "out of memory");
	}
	if (r < 0) {
		eph_audit_free(a);
		return r;
	}
	if (req && req->owners && a->n)
		resolve_owners(ctx, a);
	*ret = a;
	return 0;
}

EPH_EXPORT void eph_audit_free(struct eph_audit *a)
{
	if (!a)
		return;
	free(a->risks);
	free(a->procs);
	free(a);
}

EPH_EXPORT size_t eph_audit_count(const struct eph_audit *a)
{
	return a->n;
}

EPH_EXPORT const struct eph_risk *eph_audit_get(const struct eph_audit *a,
						size_t i)
{
	return i < a->n ? &a->risks[i] : NULL;
}

EPH_EXPORT const struct eph_portset *eph_audit_fix(const struct eph_audit *a)
{
	return &a->fix;
}

EPH_EXPORT const struct eph_portset *eph_audit_merged(const struct eph_audit *a)
{
	return &a->merged;
}
