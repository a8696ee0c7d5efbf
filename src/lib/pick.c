/* SPDX-License-Identifier: MIT */
/*
 * Picking a server port: the rules a port must pass to be safe as a
 * server's (outside every ephemeral range that matters, unregistered,
 * free, bindable), each returning its verdict with the numbers behind it,
 * and the choice itself, stable per service name.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct eph_pick {
	struct eph_ctx *ctx;
	struct eph_pick_options o;
	struct eph_policy *policy;
	uint32_t unpriv;
	uint16_t host_lo, host_hi;
	uint16_t lo, hi; /* the window */
	struct eph_services *services;
	struct eph_portset *common;
	uint16_t sockets[EPH_PORT_COUNT]; /* per local port, saturating */
};

static const char *const rule_names[EPH_PICK_RULE__COUNT] = {
	[EPH_PICK_RULE_PRIVILEGED] = "privileged",
	[EPH_PICK_RULE_HOST_RANGE] = "host-range",
	[EPH_PICK_RULE_OS_RANGE] = "os-range",
	[EPH_PICK_RULE_REGISTERED] = "registered",
	[EPH_PICK_RULE_BROWSER] = "browser-blocked",
	[EPH_PICK_RULE_COMMON] = "common",
	[EPH_PICK_RULE_RESERVED] = "reserved",
	[EPH_PICK_RULE_ASSIGNED] = "assigned",
	[EPH_PICK_RULE_IN_USE] = "in-use",
	[EPH_PICK_RULE_BINDABLE] = "bindable",
};

EPH_EXPORT const char *eph_pick_rule_name(enum eph_pick_rule rule)
{
	return (unsigned int)rule < EPH_PICK_RULE__COUNT ? rule_names[rule]
							 : NULL;
}

/* ---- Loading what the rules need ---- */

static int count_begin(void *data)
{
	struct eph_pick *p = data;

	memset(p->sockets, 0, sizeof(p->sockets));
	return 0;
}

static int count_sock(const struct eph_sock *s, void *data)
{
	struct eph_pick *p = data;

	if (p->sockets[s->local_port] < UINT16_MAX)
		p->sockets[s->local_port]++;
	return 0;
}

/* Every socket in every state: a port anything holds is taken. */
static int scan_sockets(struct eph_pick *p)
{
	static const struct eph_scan_ops ops = { count_begin, count_sock };
	struct eph_scan *scan = NULL;
	int r;

	r = eph_scan_new(p->ctx, &scan);
	if (r < 0)
		return r;
	r = eph_scan_run(scan, NULL, &ops, p);
	eph_scan_free(scan);
	return r < 0 ? r : 0;
}

/* The IANA registry where the system has it, else /etc/services. */
static int load_services(struct eph_pick *p)
{
	char first[256];
	int r;

	if (p->o.services_path)
		return eph_services_read(p->ctx, p->o.services_path,
					 &p->services);
	r = eph_services_read(p->ctx, EPH_SERVICES_IANA, &p->services);
	if (r == 0)
		return 0;
	snprintf(first, sizeof(first), "%s", eph_ctx_errmsg(p->ctx));
	r = eph_services_read(p->ctx, EPH_SERVICES_ETC, &p->services);
	if (r == 0)
		return 0;
	if (p->o.allow_registered) {
		/* Nothing to check against, and nothing to check. */
		ctx_clear_error(p->ctx);
		return 0;
	}
	return ctx_error(p->ctx, r, "no registry of ports: %s; %s", first,
			 eph_ctx_errmsg(p->ctx));
}

static int load_common(struct eph_pick *p)
{
	struct eph_services *nmap = NULL;
	int r;

	r = eph_services_read(
		p->ctx, p->o.common_path ? p->o.common_path : EPH_SERVICES_NMAP,
		&nmap);
	if (r < 0)
		return ctx_error(p->ctx, r, "nmap's table of open ports: %s",
				 eph_ctx_errmsg(p->ctx));
	r = eph_portset_new(&p->common);
	if (r == 0)
		r = eph_services_common(nmap, EPH_PICK_COMMON_TOP, p->common);
	eph_services_free(nmap);
	return r < 0 ? ctx_error(p->ctx, -ENOMEM, "out of memory") : 0;
}

static int load(struct eph_pick *p)
{
	int64_t unpriv;
	int r;

	r = p->o.policy ? eph_policy_dup(p->o.policy, &p->policy)
			: eph_policy_read(p->ctx, &p->policy);
	if (r < 0)
		return r;
	/* The knob is absent before Linux 4.11, which had it fixed at 1024. */
	if (eph_policy_knob(p->policy, EPH_KNOB_UNPRIVILEGED_PORT_START,
			    &unpriv) < 0)
		unpriv = 1024;
	p->unpriv = unpriv < 0 ? 0 : unpriv > 65535 ? 65535 : (uint32_t)unpriv;
	eph_policy_range(p->policy, &p->host_lo, &p->host_hi);
	if (p->o.range_low || p->o.range_high) {
		p->lo = p->o.range_low;
		p->hi = p->o.range_high;
	} else {
		p->lo = p->o.privileged || p->unpriv < 1 ? 1
							 : (uint16_t)p->unpriv;
		p->hi = EPH_PORT_MAX;
	}
	r = load_services(p);
	if (r == 0 && p->o.avoid_common)
		r = load_common(p);
	if (r == 0)
		r = scan_sockets(p);
	return r;
}

EPH_EXPORT int eph_pick_new(struct eph_ctx *ctx,
			    const struct eph_pick_options *opts,
			    struct eph_pick **ret)
{
	struct eph_pick *p;
	int r;

	ctx_clear_error(ctx);
	if ((opts->range_low || opts->range_high) &&
	    (opts->range_low == 0 || opts->range_low > opts->range_high))
		return ctx_error(ctx, -EINVAL,
				 "the range %u-%u is empty or holds port 0",
				 opts->range_low, opts->range_high);
	if (eph_os_count() < 64 && opts->systems >> eph_os_count())
		return ctx_error(ctx, -EINVAL, "unknown systems in the mask");
	p = calloc(1, sizeof(*p));
	if (!p)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	p->ctx = ctx;
	p->o = *opts;
	r = load(p);
	if (r < 0) {
		eph_pick_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

EPH_EXPORT void eph_pick_free(struct eph_pick *p)
{
	if (!p)
		return;
	eph_policy_free(p->policy);
	eph_services_free(p->services);
	eph_portset_free(p->common);
	free(p);
}

EPH_EXPORT const struct eph_policy *eph_pick_policy(const struct eph_pick *p)
{
	return p->policy;
}

EPH_EXPORT const char *eph_pick_services_path(const struct eph_pick *p)
{
	return p->services ? eph_services_path(p->services) : NULL;
}

EPH_EXPORT void eph_pick_window(const struct eph_pick *p, uint16_t *ret_low,
				uint16_t *ret_high)
{
	*ret_low = p->lo;
	*ret_high = p->hi;
}

/* ---- The rules ---- */

/*
 * TCP and UDP, IPv4 and IPv6 (dual stack, so that the IPv6 bind also
 * meets IPv4 holders): a port that passes can serve either.
 */
static int check_bindable(struct eph_pick *p, uint16_t port,
			  struct eph_pick_verdict *v)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const int fams[] = { AF_INET, AF_INET6 };

	v->protos = EPH_PROTO_TCP | EPH_PROTO_UDP;
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		for (size_t k = 0; k < ARRAY_SIZE(fams); k++) {
			struct eph_bind_probe pr = { 0 };
			int err = 0, r;

			pr.proto = protos[i];
			pr.family = fams[k];
			pr.port = port;
			r = eph_bind_probe(p->ctx, &pr, &err);
			if (r == -EAFNOSUPPORT) {
				/* IPv6 is off in this namespace. */
				ctx_clear_error(p->ctx);
				continue;
			}
			if (r < 0)
				return r;
			v->families |= k ? EPH_FAMILY_IPV6 : EPH_FAMILY_IPV4;
			if (err) {
				v->bind_proto = protos[i];
				v->bind_family = fams[k];
				v->bind_errno = err;
				return 0;
			}
		}
	return 1;
}

/*
 * Applies RULE; fills V when it is not NULL (a fast path for the walks,
 * which need only the answer). Returns 1, 0 or a negative errno.
 */
static int check(struct eph_pick *p, uint16_t port, enum eph_pick_rule rule,
		 const char *name, struct eph_pick_verdict *v)
{
	struct eph_pick_verdict scratch;
	const struct eph_assignment *e;
	bool hit;

	if (!v)
		v = &scratch;
	switch (rule) {
	case EPH_PICK_RULE_PRIVILEGED:
		v->unprivileged_start = p->unpriv;
		hit = port < p->unpriv;
		v->allowed = hit && p->o.privileged;
		return !hit || p->o.privileged;
	case EPH_PICK_RULE_HOST_RANGE:
		v->host_low = p->host_lo;
		v->host_high = p->host_hi;
		return port < p->host_lo || port > p->host_hi;
	case EPH_PICK_RULE_OS_RANGE:
		v->systems = eph_os_holding(p->o.systems, port);
		return v->systems == 0;
	case EPH_PICK_RULE_REGISTERED:
		hit = p->services &&
		      eph_services_registered(p->services, port,
					      EPH_PROTO_TCP | EPH_PROTO_UDP);
		if (v != &scratch) {
			v->services_path = eph_pick_services_path(p);
			v->service = hit ? eph_services_name(p->services, port)
					 : NULL;
		}
		v->allowed = hit && p->o.allow_registered;
		return !hit || p->o.allow_registered;
	case EPH_PICK_RULE_BROWSER:
		return !eph_port_browser_blocked(port);
	case EPH_PICK_RULE_COMMON:
		v->common_top = EPH_PICK_COMMON_TOP;
		v->skipped = !p->o.avoid_common;
		return !p->common || !portset_has(p->common, port);
	case EPH_PICK_RULE_RESERVED:
		return !portset_has(eph_policy_reserved(p->policy), port);
	case EPH_PICK_RULE_ASSIGNED:
		e = p->o.assignments
			    ? eph_assignments_find_port(p->o.assignments, port)
			    : NULL;
		if (!e || (name && strcmp(e->name, name) == 0))
			return 1;
		v->assignment = *e;
		return 0;
	case EPH_PICK_RULE_IN_USE:
		v->sockets = p->sockets[port];
		return p->sockets[port] == 0;
	case EPH_PICK_RULE_BINDABLE:
		return check_bindable(p, port, v);
	default:
		return ctx_error(p->ctx, -EINVAL, "unknown rule %d", (int)rule);
	}
}

EPH_EXPORT int eph_pick_check(struct eph_pick *p, uint16_t port,
			      enum eph_pick_rule rule, const char *name,
			      struct eph_pick_verdict *ret)
{
	struct eph_pick_verdict v = { 0 };
	int r;

	ctx_clear_error(p->ctx);
	v.rule = rule;
	r = check(p, port, rule, name, &v);
	if (r < 0)
		return r;
	v.pass = r == 1;
	*ret = v;
	return r;
}

EPH_EXPORT int eph_pick_explain(struct eph_pick *p, uint16_t port,
				const char *name, struct eph_pick_verdict *ret)
{
	int fails = 0;

	for (int i = 0; i < EPH_PICK_RULE__COUNT; i++) {
		int r = eph_pick_check(p, port, (enum eph_pick_rule)i, name,
				       &ret[i]);

		if (r < 0)
			return r;
		fails += r == 0;
	}
	return fails;
}

/*
 * The first of rules FROM..TO-1 that PORT fails, EPH_PICK_RULE__COUNT when
 * it passes them all, or a negative errno.
 */
static int first_failure(struct eph_pick *p, uint16_t port, const char *name,
			 int from, int to)
{
	for (int i = from; i < to; i++) {
		int r = check(p, port, (enum eph_pick_rule)i, name, NULL);

		if (r <= 0)
			return r < 0 ? r : i;
	}
	return EPH_PICK_RULE__COUNT;
}

/* ---- Picking ---- */

/* FNV-1a: a stable hash, the same on every host and every version. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/*
 * Do the privileged floor, this host's range and the systems' ranges leave
 * any port of the window? If not, no rule can be relaxed short of those:
 * say which of them cover it. From the lowest port not yet covered, the
 * range that holds it and reaches furthest is taken, so that the cover
 * found is a smallest one (greedy is optimal for intervals): "openbsd and
 * freebsd" rather than every system that overlaps.
 */
static int covered(struct eph_pick *p, struct eph_pick_result *res)
{
	bool floor = false, host = false;
	uint64_t systems = 0;
	uint32_t pos = p->lo;

	while (pos <= p->hi) {
		/* One past the chosen range's end, and its start. */
		uint32_t reach = 0, start = 0;
		int chosen = -3;

		if (!p->o.privileged && pos < p->unpriv) {
			reach = p->unpriv;
			chosen = -2;
		}
		if (pos >= p->host_lo && pos <= p->host_hi &&
		    p->host_hi + 1u > reach) {
			reach = p->host_hi + 1u;
			start = p->host_lo;
			chosen = -1;
		}
		/* Of two that reach as far, the wider names the culprit. */
		for (size_t i = 0; i < eph_os_count(); i++) {
			const struct eph_os *os = eph_os_get(i);

			if (!(p->o.systems >> i & 1) || pos < os->low ||
			    pos > os->high || os->high + 1u < reach ||
			    (os->high + 1u == reach && os->low >= start))
				continue;
			reach = os->high + 1u;
			start = os->low;
			chosen = (int)i;
		}
		if (chosen == -3)
			return 0; /* POS is left: a candidate */
		if (chosen == -2)
			floor = true;
		else if (chosen == -1)
			host = true;
		else
			systems |= 1ull << chosen;
		pos = reach;
	}
	res->outcome = EPH_PICK_COVERED;
	res->floor = floor ? p->unpriv : 0;
	res->host_covers = host;
	res->systems_covering = systems;
	return 1;
}

/* For each rule, the ports of the window that fail it first. */
static int tally(struct eph_pick *p, const char *name,
		 struct eph_pick_result *res)
{
	int worst = -1;

	for (uint32_t port = p->lo; port <= p->hi; port++) {
		int f = first_failure(p, (uint16_t)port, name, 0,
				      EPH_PICK_RULE__COUNT);

		if (f < 0)
			return f;
		if (f < EPH_PICK_RULE__COUNT)
			res->tally[f]++;
	}
	for (int i = 0; i < EPH_PICK_RULE__COUNT; i++)
		if (res->tally[i] &&
		    (worst < 0 || res->tally[i] > res->tally[worst]))
			worst = i;
	res->worst = worst < 0 ? EPH_PICK_RULE_PRIVILEGED
			       : (enum eph_pick_rule)worst;
	return 0;
}

/* Keeps NAME's assignment while it passes; returns 1 when kept. */
static int keep_or_move(struct eph_pick *p, const char *name, uint16_t *ports,
			struct eph_pick_result *res)
{
	const struct eph_assignment *e;
	int f;

	e = p->o.assignments ? eph_assignments_find(p->o.assignments, name)
			     : NULL;
	if (!e) {
		res->keep = EPH_PICK_NEW;
		return 0;
	}
	res->previous = *e;
	if (e->port < p->lo || e->port > p->hi) {
		res->keep = EPH_PICK_MOVED;
		res->outside_window = true;
		return 0;
	}
	/*
	 * Only the rules of configuration: its service may well listen on
	 * it, or have reserved it, by now; that is no reason to move it.
	 */
	f = first_failure(p, e->port, name, 0, EPH_PICK_RULE__CONFIG);
	if (f < 0)
		return f;
	if (f < EPH_PICK_RULE__CONFIG) {
		res->keep = EPH_PICK_MOVED;
		res->moved_by = (enum eph_pick_rule)f;
		return 0;
	}
	res->keep = EPH_PICK_KEPT;
	ports[0] = e->port;
	res->found = 1;
	return 1;
}

static uint32_t random_start(void)
{
	uint32_t start;

	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != sizeof(start))
		start = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	return start;
}

/* Walks the candidates from number START on, modulo their count. */
static int walk(struct eph_pick *p, const char *name, uint32_t start,
		uint32_t count, uint16_t *ports, struct eph_pick_result *res)
{
	uint16_t *cand = malloc(((uint32_t)p->hi - p->lo + 1) * sizeof(*cand));
	uint32_t n = 0;
	int r = 0;

	if (!cand)
		return ctx_error(p->ctx, -ENOMEM, "out of memory");
	for (uint32_t port = p->lo; port <= p->hi; port++) {
		r = first_failure(p, (uint16_t)port, name, 0,
				  EPH_PICK_RULE__CONFIG);
		if (r < 0)
			goto out;
		if (r == EPH_PICK_RULE__COUNT)
			cand[n++] = (uint16_t)port;
	}
	for (uint32_t i = 0; i < n && res->found < count; i++) {
		uint16_t port = cand[(start + i) % n];

		r = first_failure(p, port, name, EPH_PICK_RULE__CONFIG,
				  EPH_PICK_RULE__COUNT);
		if (r < 0)
			goto out;
		if (r == EPH_PICK_RULE__COUNT)
			ports[res->found++] = port;
	}
	r = 0;
out:
	free(cand);
	return r;
}

EPH_EXPORT int eph_pick_run(struct eph_pick *p, const char *name,
			    uint32_t count, uint16_t *ret_ports,
			    struct eph_pick_result *ret)
{
	struct eph_pick_result res = { 0 };
	int r;

	ctx_clear_error(p->ctx);
	if (count == 0 || count > EPH_PORT_MAX || (name && count > 1))
		return ctx_error(p->ctx, -EINVAL, "%u ports asked%s", count,
				 name && count > 1 ? " for one name" : "");
	if (name && !eph_assignment_name_valid(name, strlen(name)))
		return ctx_error(p->ctx, -EINVAL, "not a service name");
	res.window_low = p->lo;
	res.window_high = p->hi;
	res.keep = name ? EPH_PICK_NEW : EPH_PICK_UNNAMED;
	r = covered(p, &res);
	if (r != 0)
		goto out;
	if (name) {
		r = keep_or_move(p, name, ret_ports, &res);
		if (r != 0)
			goto out;
	}
	r = walk(p, name, name ? name_hash(name) : random_start(), count,
		 ret_ports, &res);
	if (r == 0 && res.found < count) {
		res.outcome = EPH_PICK_SHORT;
		r = tally(p, name, &res);
	}
out:
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}
