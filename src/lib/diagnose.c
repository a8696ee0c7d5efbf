/* SPDX-License-Identifier: MIT */
/*
 * Diagnose: "Address already in use", explained. The kernel's own answer
 * comes first (bind tests that leave nothing behind); then every socket on
 * the port, told apart by what it is; then the cause and the remedies that
 * fit it, as codes and numbers.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define MAX_PROBES 8

struct eph_diagnosis {
	struct eph_policy *policy;
	struct eph_diag_request req;
	int req_family; /* with addr_set: the family of the address */
	struct eph_diag_probe probes[MAX_PROBES];
	size_t nprobes;
	struct eph_diag_holder *holders;
	size_t nholders, cap;
	/* Labels of other namespaces, owned here (holders point to them). */
	char **labels;
	size_t nlabels, labels_cap;
	/* One remedy of each code at most: never more than this. */
	struct eph_remedy remedies[EPH_REMEDY__COUNT];
	size_t nremedies;
	/* The holders' processes (each holder has room for one more, for
	 * the process a history record names). */
	struct eph_owner_proc *procs;
	size_t nprocs, procs_cap;
	/* The processes each STOP_* remedy lists. */
	struct eph_owner_proc *stop[2];
	size_t nstop[2], stop_cap[2];
	struct eph_diag_verdict verdicts[2];
	size_t nverdicts;
	size_t *named; /* what the verdicts' named point into */
	struct eph_diag_netns_error *errors;
	size_t nerrors, errors_cap;
	enum eph_diag_cause cause;
	enum eph_holder_kind cause_kind;
	uint8_t cause_proto;
	int cause_errno;
	bool persistent;
	char service_tcp[64], service_udp[64];
};

static const char *const kind_codes[EPH_HOLDER__COUNT] = {
	[EPH_HOLDER_LISTENER] = "listener",
	[EPH_HOLDER_BOUND] = "bound",
	[EPH_HOLDER_BOUND_CONNECTION] = "bound-connection",
	[EPH_HOLDER_OUTGOING] = "outgoing",
	[EPH_HOLDER_ACCEPTED] = "accepted",
	[EPH_HOLDER_ACCEPTING] = "accepting",
	[EPH_HOLDER_TIME_WAIT_CLIENT] = "time-wait-client",
	[EPH_HOLDER_TIME_WAIT_SERVER] = "time-wait-server",
	[EPH_HOLDER_UDP_BOUND] = "udp-bound",
	[EPH_HOLDER_UDP_AUTO] = "udp-autobound",
};

static const char *const remedy_codes[EPH_REMEDY__COUNT] = {
	[EPH_REMEDY_STOP_PROCESS] = "stop-process",
	[EPH_REMEDY_STOP_CLIENT] = "stop-client",
	[EPH_REMEDY_FIND_OWNER] = "find-owner",
	[EPH_REMEDY_WAIT] = "wait",
	[EPH_REMEDY_REUSEADDR] = "reuseaddr",
	[EPH_REMEDY_RESERVE] = "reserve",
	[EPH_REMEDY_MOVE] = "move",
	[EPH_REMEDY_CAPABILITY] = "capability",
	[EPH_REMEDY_UNPRIVILEGED] = "unprivileged-port-start",
	[EPH_REMEDY_ADD_ADDRESS] = "add-address",
	[EPH_REMEDY_RETRY] = "retry",
};

/*
 * Which holder matters most, for the cause: the longest-lived first (a
 * listener stays until its service stops; a TIME_WAIT ends by itself).
 */
static const int kind_rank[EPH_HOLDER__COUNT] = {
	[EPH_HOLDER_LISTENER] = 0,	   [EPH_HOLDER_BOUND] = 1,
	[EPH_HOLDER_BOUND_CONNECTION] = 2, [EPH_HOLDER_UDP_BOUND] = 3,
	[EPH_HOLDER_ACCEPTING] = 4,	   [EPH_HOLDER_ACCEPTED] = 5,
	[EPH_HOLDER_OUTGOING] = 6,	   [EPH_HOLDER_UDP_AUTO] = 7,
	[EPH_HOLDER_TIME_WAIT_SERVER] = 8, [EPH_HOLDER_TIME_WAIT_CLIENT] = 9,
};

EPH_EXPORT const char *eph_holder_kind_code(enum eph_holder_kind kind)
{
	return (unsigned int)kind < EPH_HOLDER__COUNT ? kind_codes[kind] : "?";
}

EPH_EXPORT const char *eph_remedy_code_name(enum eph_remedy_code code)
{
	return (unsigned int)code < EPH_REMEDY__COUNT ? remedy_codes[code]
						      : "?";
}

/* ---- The bind tests ---- */

static int run_probes(struct eph_ctx *ctx, struct eph_diagnosis *d)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const uint32_t bits[] = { EPH_PROTO_TCP, EPH_PROTO_UDP };

	for (size_t p = 0; p < 2; p++) {
		if (!(d->req.protos & bits[p]))
			continue;
		for (int fam = 0; fam < 2; fam++) {
			int family = fam ? AF_INET6 : AF_INET;

			if (d->req.addr_set && family != d->req_family)
				continue;
			for (int reuse = 0; reuse < 2; reuse++) {
				struct eph_diag_probe *x =
					&d->probes[d->nprobes++];
				struct eph_bind_probe pr = { 0 };
				int r;

				x->proto = protos[p];
				x->family = family;
				x->reuseaddr = reuse;
				pr.proto = protos[p];
				pr.family = family;
				pr.port = d->req.port;
				pr.reuseaddr = reuse;
				pr.addr_set = d->req.addr_set;
				memcpy(pr.addr, d->req.addr, 16);
				r = eph_bind_probe(ctx, &pr, &x->err);
				if (r == -EAFNOSUPPORT)
					continue; /* the family is off */
				if (r < 0)
					return r;
				x->ran = true;
			}
		}
	}
	return 0;
}

static const struct eph_diag_probe *
find_probe(const struct eph_diagnosis *d, uint8_t proto, int family, bool reuse)
{
	for (size_t i = 0; i < d->nprobes; i++)
		if (d->probes[i].proto == proto &&
		    d->probes[i].family == family &&
		    d->probes[i].reuseaddr == reuse)
			return &d->probes[i];
	return NULL;
}

static bool probe_failed(const struct eph_diag_probe *x)
{
	return x->ran && !x->reuseaddr && x->err != 0;
}

static bool proto_failed(const struct eph_diagnosis *d, uint8_t proto)
{
	for (size_t i = 0; i < d->nprobes; i++)
		if (d->probes[i].proto == proto && probe_failed(&d->probes[i]))
			return true;
	return false;
}

/* Does SO_REUSEADDR get past every failing bind? */
static bool reuse_helps(const struct eph_diagnosis *d)
{
	bool any = false;

	for (size_t i = 0; i < d->nprobes; i++) {
		const struct eph_diag_probe *x = &d->probes[i], *y;

		if (!probe_failed(x))
			continue;
		y = find_probe(d, x->proto, x->family, true);
		if (!y || !y->ran || y->err)
			return false;
		any = true;
	}
	return any;
}

/* ---- The holders ---- */

/*
 * Was this connection accepted by a listener rather than made by
 * connect()? A listener on the port says so; without one (it may have
 * closed), the ports tell: an accepted connection's local port is the
 * server's, usually outside the ephemeral range, and its remote port the
 * client's, usually inside it. A guess either way.
 */
static bool looks_accepted(const struct eph_policy *p, const struct eph_sock *s,
			   bool listener, bool *certain)
{
	*certain = listener;
	if (listener)
		return true;
	return !eph_policy_in_range(p, s->local_port) &&
	       eph_policy_in_range(p, s->remote_port);
}

static enum eph_holder_kind classify(const struct eph_policy *p,
				     const struct eph_sock *s, bool listener,
				     bool *certain)
{
	bool locked = s->flags & EPH_SOCK_PORT_LOCKED;

	*certain = true;
	if (s->proto == IPPROTO_UDP)
		return locked ? EPH_HOLDER_UDP_BOUND : EPH_HOLDER_UDP_AUTO;
	switch (s->state) {
	case EPH_TCP_LISTEN:
		return EPH_HOLDER_LISTENER;
	case EPH_TCP_CLOSE:
	case EPH_TCP_BOUND_INACTIVE:
		return EPH_HOLDER_BOUND;
	case EPH_TCP_SYN_RECV:
	case EPH_TCP_NEW_SYN_RECV:
		return EPH_HOLDER_ACCEPTING;
	case EPH_TCP_TIME_WAIT:
		return looks_accepted(p, s, listener, certain)
			       ? EPH_HOLDER_TIME_WAIT_SERVER
			       : EPH_HOLDER_TIME_WAIT_CLIENT;
	default:
		/* The kernel clears an accepted connection's port lock. */
		if (locked)
			return EPH_HOLDER_BOUND_CONNECTION;
		return looks_accepted(p, s, listener, certain)
			       ? EPH_HOLDER_ACCEPTED
			       : EPH_HOLDER_OUTGOING;
	}
}

/* Does socket S stand in the way of a bind as asked? */
static bool conflicts(const struct eph_diagnosis *d, const struct eph_sock *s)
{
	bool any = sockdiag_addr_is_any(s->local);

	if (!(d->req.protos &
	      (s->proto == IPPROTO_UDP ? EPH_PROTO_UDP : EPH_PROTO_TCP)))
		return false;
	/* The wildcards of both families overlap every address. */
	if (!d->req.addr_set)
		return true;
	if (d->req_family == AF_INET) {
		if (s->family == AF_INET || sockdiag_addr_is_mapped(s->local))
			return any || !memcmp(s->local, d->req.addr, 16);
		/* [::] without IPV6_V6ONLY takes IPv4 too. */
		return any && !(s->flags & EPH_SOCK_V6ONLY);
	}
	if (s->family == AF_INET || sockdiag_addr_is_mapped(s->local))
		return false;
	return any || !memcmp(s->local, d->req.addr, 16);
}

/* Adds the N sockets S of one namespace (NETNS NULL: the target's). */
static int add_socks(struct eph_diagnosis *d, const struct eph_policy *p,
		     const struct eph_sock *socks, size_t n, const char *netns)
{
	bool listener = false;

	for (size_t i = 0; i < n; i++)
		listener |= socks[i].state == EPH_TCP_LISTEN;
	for (size_t i = 0; i < n; i++) {
		const struct eph_sock *s = &socks[i];
		struct eph_diag_holder *x;

		if (num_grow((void **)&d->holders, &d->cap, d->nholders,
			     sizeof(*x)) < 0)
			return -ENOMEM;
		x = &d->holders[d->nholders++];
		memset(x, 0, sizeof(*x));
		x->sock = *s;
		x->kind = classify(p, s, listener, &x->kind_certain);
		x->netns = netns;
		x->conflicts = !netns && conflicts(d, s);
		x->owner.pid = -1;
		x->owner.inode = s->inode;
		if (s->proto == IPPROTO_TCP && s->state == EPH_TCP_TIME_WAIT)
			x->seconds_left = (s->expires_ms + 999) / 1000;
	}
	return 0;
}

static int add_holders(struct eph_diagnosis *d, const struct eph_policy *p,
		       const struct eph_holders *h, const char *netns)
{
	size_t n = eph_holders_count(h);

	return add_socks(d, p, n ? eph_holders_get(h, 0) : NULL, n, netns);
}

struct others {
	struct eph_diagnosis *d;
};

static int other_netns(struct eph_ctx *nctx, const struct eph_netns *ns,
		       void *data)
{
	struct others *o = data;
	struct eph_diagnosis *d = o->d;
	struct eph_holders *h = NULL;
	struct eph_policy *p = NULL;
	int r = eph_ctx_errno(nctx);

	if (r >= 0)
		r = eph_policy_read(nctx, &p);
	if (r >= 0)
		r = eph_holders_new(nctx, &h);
	if (r >= 0)
		r = eph_holders_scan(h, d->req.protos, d->req.port);
	if (r >= 0 && eph_holders_count(h)) {
		char *label = NULL;

		if (num_grow((void **)&d->labels, &d->labels_cap, d->nlabels,
			     sizeof(*d->labels)) < 0 ||
		    !(label = strdup(ns->label))) {
			r = -ENOMEM;
		} else {
			d->labels[d->nlabels++] = label;
			r = add_holders(d, p, h, label);
		}
		if (r == -ENOMEM)
			goto out;
	} else if (r < 0 && r != -ENOMEM) {
		struct eph_diag_netns_error *e;

		/* One unreadable namespace does not stop the others. */
		if (num_grow((void **)&d->errors, &d->errors_cap, d->nerrors,
			     sizeof(*e)) < 0) {
			r = -ENOMEM;
			goto out;
		}
		e = &d->errors[d->nerrors++];
		snprintf(e->label, sizeof(e->label), "%s", ns->label);
		e->err = r;
		snprintf(e->message, sizeof(e->message), "%s",
			 eph_ctx_errmsg(nctx));
		r = 0;
	}
out:
	eph_holders_free(h);
	eph_policy_free(p);
	if (r == -ENOMEM)
		return ctx_error(nctx, r, "out of memory");
	return r < 0 ? 0 : r;
}

/*
 * Copies each holder's owner (FOUND[i], or NULL) into D, processes and
 * all, so that it outlives the lookup; LOOKED_UP says a lookup ran. Each
 * holder gets room for one process more, which a history record may
 * name. Returns 0 or -ENOMEM.
 */
static int adopt_owners(struct eph_diagnosis *d,
			const struct eph_owner *const *found, bool looked_up)
{
	size_t total = d->nholders;

	for (size_t i = 0; found && i < d->nholders; i++)
		total += found[i] ? found[i]->nprocs : 0;
	free(d->procs);
	d->nprocs = 0;
	d->procs = malloc((total ? total : 1) * sizeof(*d->procs));
	if (!d->procs)
		return -ENOMEM;
	d->procs_cap = total;
	for (size_t i = 0; i < d->nholders; i++) {
		struct eph_diag_holder *x = &d->holders[i];
		const struct eph_owner *f = found ? found[i] : NULL;

		if (f && (f->pid >= 0 || f->nprocs)) {
			x->owner = *f;
			x->owner.inode = x->sock.inode;
			x->owner.procs = d->procs + d->nprocs;
			if (f->nprocs) {
				memcpy(d->procs + d->nprocs, f->procs,
				       f->nprocs * sizeof(*d->procs));
			} else {
				/* One process, named without a list. */
				struct eph_owner_proc *p = &d->procs[d->nprocs];

				p->pid = f->pid;
				p->ppid = -1;
				memcpy(p->comm, f->comm, sizeof(p->comm));
				x->owner.nprocs = 1;
			}
			d->nprocs += x->owner.nprocs;
		}
		x->owner.looked_up = looked_up;
	}
	return 0;
}

static int resolve_owners(struct eph_ctx *ctx, struct eph_diagnosis *d)
{
	const struct eph_owner **found = NULL;
	struct eph_owners *o = NULL;
	bool ok = false;
	int r;

	found = calloc(d->nholders ? d->nholders : 1, sizeof(*found));
	if (!found || eph_owners_new(ctx, &o) < 0) {
		free(found);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->nholders; i++)
		if (eph_owners_want_sock(o, &d->holders[i].sock) < 0)
			goto out;
	/* Owners are a courtesy: without them the verdict stands. */
	if (eph_owners_resolve(o) < 0)
		goto out;
	ok = true;
	for (size_t i = 0; i < d->nholders; i++)
		found[i] =
			d->holders[i].sock.inode
				? eph_owners_find(o, d->holders[i].sock.inode)
				: NULL;
out:
	r = adopt_owners(d, ok ? found : NULL, ok);
	eph_owners_free(o);
	free(found);
	return r;
}

static void ask_history(struct eph_diagnosis *d)
{
	const struct eph_history *h = d->req.history;

	for (size_t i = 0; h && h->lookup && i < d->nholders; i++) {
		struct eph_diag_holder *x = &d->holders[i];

		if (h->lookup(h->data, &x->sock, &x->history) != 0)
			continue;
		x->has_history = true;
		/* The record says what the dump could only guess. */
		if (x->kind == EPH_HOLDER_TIME_WAIT_CLIENT ||
		    x->kind == EPH_HOLDER_TIME_WAIT_SERVER)
			x->kind = x->history.accepted
					  ? EPH_HOLDER_TIME_WAIT_SERVER
					  : EPH_HOLDER_TIME_WAIT_CLIENT;
		else if (x->kind == EPH_HOLDER_ACCEPTED ||
			 x->kind == EPH_HOLDER_OUTGOING)
			x->kind = x->history.accepted ? EPH_HOLDER_ACCEPTED
				  : x->history.bound_first
					  ? EPH_HOLDER_BOUND_CONNECTION
					  : EPH_HOLDER_OUTGOING;
		x->kind_certain = true;
		/* The room adopt_owners() left for it. */
		if (x->owner.pid < 0 && x->history.pid >= 0 && d->procs &&
		    d->nprocs < d->procs_cap) {
			struct eph_owner_proc *p = &d->procs[d->nprocs++];

			p->pid = x->history.pid;
			p->ppid = -1;
			memcpy(p->comm, x->history.comm, sizeof(p->comm));
			x->owner.pid = p->pid;
			memcpy(x->owner.comm, p->comm, sizeof(x->owner.comm));
			x->owner.procs = p;
			x->owner.nprocs = 1;
		}
	}
}

/* ---- The verdict ---- */

/* Is holder X one that keeps the failing bind from succeeding? */
static bool blocking(const struct eph_diagnosis *d,
		     const struct eph_diag_holder *x)
{
	return x->conflicts && proto_failed(d, x->sock.proto);
}

/* The cause that bind errno ERR stands for (HELD: sockets were seen). */
static enum eph_diag_cause cause_of(int err)
{
	switch (err) {
	case 0:
		return EPH_CAUSE_NONE;
	case EACCES:
		return EPH_CAUSE_PRIVILEGED;
	case EADDRNOTAVAIL:
		return EPH_CAUSE_ADDR_NOT_LOCAL;
	case EADDRINUSE:
		return EPH_CAUSE_HELD;
	default:
		return EPH_CAUSE_ERRNO;
	}
}

static bool is_time_wait(enum eph_holder_kind k)
{
	return k == EPH_HOLDER_TIME_WAIT_CLIENT ||
	       k == EPH_HOLDER_TIME_WAIT_SERVER;
}

static int pid_cmp(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The verdict of protocol V->proto: its first failing bind, and for
 * EADDRINUSE the holders that stand in the way, the longest-lived kinds
 * first, TIME_WAITs no record names counted apart. NAMED has room for
 * every holder. Returns 0 or -ENOMEM.
 */
static int judge(struct eph_diagnosis *d, struct eph_diag_verdict *v,
		 size_t *named)
{
	int32_t *pids = NULL;
	size_t npids = 0;
	int best = -1;

	for (size_t i = 0; i < d->nprobes && !v->err; i++)
		if (d->probes[i].proto == v->proto &&
		    probe_failed(&d->probes[i]))
			v->err = d->probes[i].err;
	v->cause = cause_of(v->err);
	v->named = named;
	if (v->cause != EPH_CAUSE_HELD)
		return 0;
	/* The longest-lived kinds first, each in the order found. */
	for (int rank = 0; rank < EPH_HOLDER__COUNT; rank++) {
		for (size_t i = 0; i < d->nholders; i++) {
			const struct eph_diag_holder *x = &d->holders[i];

			if (!x->conflicts || x->sock.proto != v->proto ||
			    kind_rank[x->kind] != rank)
				continue;
			if (best < 0)
				best = (int)x->kind;
			if (is_time_wait(x->kind) && !x->has_history) {
				v->time_waits++;
				if (x->seconds_left > v->time_wait_seconds)
					v->time_wait_seconds = x->seconds_left;
				continue;
			}
			named[v->nnamed++] = i;
			npids += x->owner.nprocs;
		}
	}
	if (best < 0) {
		/* EADDRINUSE with nothing on the port: gone meanwhile. */
		v->cause = EPH_CAUSE_UNSEEN;
		return 0;
	}
	v->cause_kind = (enum eph_holder_kind)best;
	/* The distinct processes behind them. */
	pids = malloc((npids ? npids : 1) * sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	npids = 0;
	for (size_t k = 0; k < v->nnamed; k++) {
		const struct eph_owner *o = &d->holders[named[k]].owner;

		for (uint32_t p = 0; p < o->nprocs; p++)
			pids[npids++] = o->procs[p].pid;
	}
	if (npids > 1)
		qsort(pids, npids, sizeof(*pids), pid_cmp);
	for (size_t k = 0; k < npids; k++)
		v->processes += !k || pids[k] != pids[k - 1];
	free(pids);
	return 0;
}

/* The verdict of each protocol tested, and the diagnosis's cause: the
 * first failing bind's (TCP before UDP). Returns 0 or -ENOMEM. */
static int find_cause(struct eph_diagnosis *d)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const uint32_t bits[] = { EPH_PROTO_TCP, EPH_PROTO_UDP };
	const struct eph_diag_verdict *first = NULL;

	free(d->named);
	d->named =
		malloc((d->nholders ? d->nholders : 1) * 2 * sizeof(*d->named));
	if (!d->named)
		return -ENOMEM;
	d->nverdicts = 0;
	for (size_t p = 0; p < 2; p++) {
		struct eph_diag_verdict *v = &d->verdicts[d->nverdicts];
		bool ran = false;
		int r;

		for (size_t i = 0; i < d->nprobes; i++)
			ran |= d->probes[i].proto == protos[p] &&
			       d->probes[i].ran;
		if (!(d->req.protos & bits[p]) || !ran)
			continue;
		memset(v, 0, sizeof(*v));
		v->proto = protos[p];
		r = judge(d, v, d->named + p * d->nholders);
		if (r < 0)
			return r;
		d->nverdicts++;
	}
	/* The diagnosis's cause is that of the first bind that failed. */
	for (size_t i = 0; i < d->nprobes && !first; i++) {
		if (!probe_failed(&d->probes[i]))
			continue;
		for (size_t k = 0; k < d->nverdicts; k++)
			if (d->verdicts[k].proto == d->probes[i].proto)
				first = &d->verdicts[k];
	}
	if (!first) {
		d->cause = EPH_CAUSE_NONE;
		return 0;
	}
	d->cause = first->cause;
	d->cause_proto = first->proto;
	d->cause_errno = first->err;
	d->cause_kind = first->cause == EPH_CAUSE_HELD ? first->cause_kind
						       : EPH_HOLDER_LISTENER;
	return 0;
}

/*
 * The remedy of CODE, made the first time it is asked for: one of each
 * code, so the fixed array always has room and none is ever dropped.
 */
static struct eph_remedy *remedy(struct eph_diagnosis *d,
				 enum eph_remedy_code code)
{
	struct eph_remedy *r;

	for (size_t i = 0; i < d->nremedies; i++)
		if (d->remedies[i].code == code)
			return &d->remedies[i];
	r = &d->remedies[d->nremedies++];
	memset(r, 0, sizeof(*r));
	r->code = code;
	r->pid = -1;
	r->port = d->req.port;
	eph_policy_range(d->policy, &r->range_low, &r->range_high);
	r->persistent = d->persistent;
	r->looked_up = code == EPH_REMEDY_STOP_PROCESS ||
		       code == EPH_REMEDY_STOP_CLIENT;
	return r;
}

/* Stop the processes behind X, or find them first. */
static int stop_remedy(struct eph_diagnosis *d, const struct eph_diag_holder *x)
{
	bool client = x->kind == EPH_HOLDER_OUTGOING ||
		      x->kind == EPH_HOLDER_BOUND_CONNECTION;
	enum eph_remedy_code code =
		client ? EPH_REMEDY_STOP_CLIENT : EPH_REMEDY_STOP_PROCESS;
	struct eph_remedy *r;
	size_t *n = &d->nstop[client];

	if (x->owner.nprocs == 0 && x->owner.looked_up) {
		if (x->sock.inode)
			remedy(d, EPH_REMEDY_FIND_OWNER)->elevate =
				geteuid() != 0;
		return 0;
	}
	r = remedy(d, code);
	/* Whoever closes a connection first keeps its port 60 s. */
	if (x->sock.proto == IPPROTO_TCP && x->kind != EPH_HOLDER_LISTENER &&
	    x->kind != EPH_HOLDER_BOUND)
		r->seconds = 60;
	if (x->owner.nprocs == 0) {
		/* Nobody looked: ask again, with the lookup, to name it. */
		r->looked_up = false;
		return 0;
	}
	for (uint32_t p = 0; p < x->owner.nprocs; p++) {
		if (num_grow((void **)&d->stop[client], &d->stop_cap[client],
			     *n, sizeof(*d->stop[client])) < 0)
			return -ENOMEM;
		d->stop[client][(*n)++] = x->owner.procs[p];
	}
	return 0;
}

/* A process listed twice in one remedy (holding two sockets) once. */
static size_t unique_procs(struct eph_owner_proc *p, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		/* Few processes hold a port: a linear look is enough. */
		for (size_t k = 0; k < w && !seen; k++)
			seen = p[k].pid == p[i].pid;
		if (!seen)
			p[w++] = p[i];
	}
	return w;
}

/* Gives the STOP_* remedies their processes, parents first. */
static void list_stops(struct eph_diagnosis *d)
{
	for (size_t i = 0; i < d->nremedies; i++) {
		struct eph_remedy *r = &d->remedies[i];
		int k = r->code == EPH_REMEDY_STOP_CLIENT ? 1 : 0;
		size_t roots = 1;

		if (r->code != EPH_REMEDY_STOP_PROCESS &&
		    r->code != EPH_REMEDY_STOP_CLIENT)
			continue;
		d->nstop[k] = unique_procs(d->stop[k], d->nstop[k]);
		if (d->nstop[k] > 1)
			roots = owner_order_procs(d->stop[k], d->nstop[k]);
		r->procs = d->stop[k];
		r->nprocs = d->nstop[k];
		r->parent_first = r->nprocs > 1 && roots == 1;
		if (r->nprocs) {
			r->pid = r->procs[0].pid;
			memcpy(r->comm, r->procs[0].comm, sizeof(r->comm));
		}
	}
}

static int advise(struct eph_diagnosis *d)
{
	bool open =
		eph_policy_in_range(d->policy, d->req.port) &&
		!eph_portset_has(eph_policy_reserved(d->policy), d->req.port);
	bool autobound = false, server = false;
	uint32_t wait = 0;

	switch (d->cause) {
	case EPH_CAUSE_NONE:
		/* Free now, but a connect() may take it next. */
		if (open)
			remedy(d, EPH_REMEDY_RESERVE);
		return 0;
	case EPH_CAUSE_PRIVILEGED:
		remedy(d, EPH_REMEDY_CAPABILITY);
		remedy(d, EPH_REMEDY_UNPRIVILEGED);
		return 0;
	case EPH_CAUSE_ADDR_NOT_LOCAL:
		remedy(d, EPH_REMEDY_ADD_ADDRESS);
		return 0;
	case EPH_CAUSE_UNSEEN:
		remedy(d, EPH_REMEDY_RETRY);
		return 0;
	case EPH_CAUSE_ERRNO:
		return 0;
	case EPH_CAUSE_HELD:
		break;
	}
	/* The longest-lived holders first, as the verdicts name them. */
	for (int rank = 0; rank < EPH_HOLDER__COUNT; rank++) {
		for (size_t i = 0; i < d->nholders; i++) {
			const struct eph_diag_holder *x = &d->holders[i];
			int r = 0;

			if (kind_rank[x->kind] != rank || !blocking(d, x))
				continue;
			switch (x->kind) {
			case EPH_HOLDER_TIME_WAIT_CLIENT:
			case EPH_HOLDER_TIME_WAIT_SERVER:
				if (x->seconds_left > wait)
					wait = x->seconds_left;
				autobound |=
					x->kind == EPH_HOLDER_TIME_WAIT_CLIENT;
				break;
			case EPH_HOLDER_OUTGOING:
			case EPH_HOLDER_UDP_AUTO:
				autobound = true;
				r = stop_remedy(d, x);
				break;
			default:
				server = true;
				r = stop_remedy(d, x);
				break;
			}
			if (r < 0)
				return r;
		}
	}
	list_stops(d);
	if (wait)
		remedy(d, EPH_REMEDY_WAIT)->seconds = wait;
	/* Only where the bind test with it succeeded: SO_REUSEADDR does not
	 * get past a listener, nor a client's socket that lacked it. */
	if (reuse_helps(d))
		remedy(d, EPH_REMEDY_REUSEADDR);
	/* The kernel gave the port away: keep it from doing so again. */
	if (autobound && open)
		remedy(d, EPH_REMEDY_RESERVE);
	if (server || (autobound && open))
		remedy(d, EPH_REMEDY_MOVE);
	return 0;
}

/* ---- The whole ---- */

static void services(struct eph_diagnosis *d)
{
	struct servent se, *res = NULL;
	char buf[1024];

	if (getservbyport_r(htons(d->req.port), "tcp", &se, buf, sizeof(buf),
			    &res) == 0 &&
	    res)
		snprintf(d->service_tcp, sizeof(d->service_tcp), "%s",
			 res->s_name);
	res = NULL;
	if (getservbyport_r(htons(d->req.port), "udp", &se, buf, sizeof(buf),
			    &res) == 0 &&
	    res)
		snprintf(d->service_udp, sizeof(d->service_udp), "%s",
			 res->s_name);
}

static int diagnose(struct eph_ctx *ctx, struct eph_diagnosis *d)
{
	struct eph_holders *h = NULL;
	int r;

	r = eph_policy_read(ctx, &d->policy);
	if (r < 0)
		return r;
	r = eph_ctx_netns_is_boot(ctx);
	d->persistent = r > 0;
	r = run_probes(ctx, d);
	if (r < 0)
		return r;
	r = eph_holders_new(ctx, &h);
	if (r >= 0)
		r = eph_holders_scan(h, d->req.protos, d->req.port);
	if (r >= 0)
		r = add_holders(d, d->policy, h, NULL);
	eph_holders_free(h);
	if (r >= 0 && d->req.all_netns) {
		struct others o = { d };

		r = netns_walk(ctx, true, other_netns, &o);
	}
	if (r == -ENOMEM)
		return ctx_error(ctx, r, "out of memory");
	if (r < 0)
		return r;
	r = d->req.owners ? resolve_owners(ctx, d)
			  : adopt_owners(d, NULL, false);
	if (r >= 0) {
		ask_history(d);
		r = find_cause(d);
	}
	if (r >= 0)
		r = advise(d);
	if (r < 0)
		return ctx_error(ctx, r, "out of memory");
	services(d);
	return 0;
}

/* A diagnosis ready to be filled (port and protocols checked). */
static int diagnosis_alloc(const struct eph_diag_request *req,
			   struct eph_diagnosis **ret)
{
	struct eph_diagnosis *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->req = *req;
	if (!d->req.protos)
		d->req.protos = EPH_PROTO_ALL;
	d->req_family = sockdiag_addr_is_mapped(req->addr) ? AF_INET : AF_INET6;
	*ret = d;
	return 0;
}

int diagnose_decide(const struct eph_diag_request *req,
		    const struct eph_policy *p, bool persistent,
		    const struct eph_diag_probe *probes, size_t nprobes,
		    const struct eph_sock *socks, size_t nsocks,
		    const struct eph_owner *owners, struct eph_diagnosis **ret)
{
	const struct eph_owner **found = NULL;
	struct eph_diagnosis *d;
	int r;

	if (nprobes > MAX_PROBES || diagnosis_alloc(req, &d) < 0)
		return -EINVAL;
	r = eph_policy_dup(p, &d->policy);
	if (r >= 0) {
		d->persistent = persistent;
		memcpy(d->probes, probes, nprobes * sizeof(*probes));
		d->nprobes = nprobes;
		r = add_socks(d, d->policy, socks, nsocks, NULL);
	}
	if (r >= 0 && req->owners && owners) {
		found = calloc(nsocks ? nsocks : 1, sizeof(*found));
		for (size_t i = 0; found && i < nsocks; i++)
			found[i] = &owners[i];
		r = found ? 0 : -ENOMEM;
	}
	if (r >= 0)
		r = adopt_owners(d, found, req->owners);
	free(found);
	if (r >= 0) {
		ask_history(d);
		r = find_cause(d);
	}
	if (r >= 0)
		r = advise(d);
	if (r < 0) {
		eph_diagnosis_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

EPH_EXPORT int eph_diagnose(struct eph_ctx *ctx,
			    const struct eph_diag_request *req,
			    struct eph_diagnosis **ret)
{
	struct eph_diagnosis *d;
	int r;

	ctx_clear_error(ctx);
	if (req->port == 0)
		return ctx_error(ctx, -EINVAL, "port 0 is not a port to bind");
	if (diagnosis_alloc(req, &d) < 0)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	r = diagnose(ctx, d);
	if (r < 0) {
		eph_diagnosis_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

EPH_EXPORT void eph_diagnosis_free(struct eph_diagnosis *d)
{
	if (!d)
		return;
	eph_policy_free(d->policy);
	free(d->holders);
	for (size_t i = 0; i < d->nlabels; i++)
		free(d->labels[i]);
	free(d->labels);
	free(d->errors);
	free(d->procs);
	free(d->stop[0]);
	free(d->stop[1]);
	free(d->named);
	free(d);
}

EPH_EXPORT bool eph_diagnosis_bindable(const struct eph_diagnosis *d)
{
	return d->cause == EPH_CAUSE_NONE;
}

EPH_EXPORT enum eph_diag_cause
eph_diagnosis_cause(const struct eph_diagnosis *d)
{
	return d->cause;
}

EPH_EXPORT enum eph_holder_kind
eph_diagnosis_cause_kind(const struct eph_diagnosis *d)
{
	return d->cause_kind;
}

EPH_EXPORT uint8_t eph_diagnosis_cause_proto(const struct eph_diagnosis *d)
{
	return d->cause_proto;
}

EPH_EXPORT int eph_diagnosis_cause_errno(const struct eph_diagnosis *d)
{
	return d->cause_errno;
}

EPH_EXPORT size_t eph_diagnosis_verdict_count(const struct eph_diagnosis *d)
{
	return d->nverdicts;
}

EPH_EXPORT const struct eph_diag_verdict *
eph_diagnosis_verdict(const struct eph_diagnosis *d, size_t i)
{
	return i < d->nverdicts ? &d->verdicts[i] : NULL;
}

EPH_EXPORT size_t eph_diagnosis_probe_count(const struct eph_diagnosis *d)
{
	return d->nprobes;
}

EPH_EXPORT const struct eph_diag_probe *
eph_diagnosis_probe(const struct eph_diagnosis *d, size_t i)
{
	return i < d->nprobes ? &d->probes[i] : NULL;
}

EPH_EXPORT size_t eph_diagnosis_holder_count(const struct eph_diagnosis *d)
{
	return d->nholders;
}

EPH_EXPORT const struct eph_diag_holder *
eph_diagnosis_holder(const struct eph_diagnosis *d, size_t i)
{
	return i < d->nholders ? &d->holders[i] : NULL;
}

EPH_EXPORT size_t eph_diagnosis_remedy_count(const struct eph_diagnosis *d)
{
	return d->nremedies;
}

EPH_EXPORT const struct eph_remedy *
eph_diagnosis_remedy(const struct eph_diagnosis *d, size_t i)
{
	return i < d->nremedies ? &d->remedies[i] : NULL;
}

EPH_EXPORT size_t eph_diagnosis_netns_error_count(const struct eph_diagnosis *d)
{
	return d->nerrors;
}

EPH_EXPORT const struct eph_diag_netns_error *
eph_diagnosis_netns_error(const struct eph_diagnosis *d, size_t i)
{
	return i < d->nerrors ? &d->errors[i] : NULL;
}

EPH_EXPORT const struct eph_policy *
eph_diagnosis_policy(const struct eph_diagnosis *d)
{
	return d->policy;
}

EPH_EXPORT const char *eph_diagnosis_service(const struct eph_diagnosis *d,
					     uint8_t proto)
{
	const char *s = proto == IPPROTO_UDP ? d->service_udp : d->service_tcp;

	return s[0] ? s : NULL;
}
