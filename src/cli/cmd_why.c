/* SPDX-License-Identifier: MIT */
/* ephport why PORT: can PORT be bound now, and if not, who holds it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "json.h"

static const char why_help[] =
	"Usage: ephport why PORT [--tcp] [--udp] [--addr IP] [--all-netns]\n"
	"                        [--netns NS] [--json]\n"
	"\n"
	"Can PORT be bound right now, and if not, exactly who or what holds "
	"it.\n"
	"The answer comes from the kernel itself: ephport tries bind(2) on "
	"PORT\n"
	"(IPv4 and IPv6, without and with SO_REUSEADDR) and closes the socket "
	"at\n"
	"once, never listening, so the check changes nothing. Then every "
	"socket\n"
	"on PORT, with its process, or for a TIME_WAIT the seconds it has "
	"left;\n"
	"the port's place in the ephemeral range; a verdict; and the "
	"remedies.\n"
	"\n"
	"Options:\n"
	"      --tcp          TCP only (default: TCP and UDP)\n"
	"      --udp          UDP only\n"
	"      --addr IP      bind to IP instead of the wildcards\n"
	"  -a, --all-netns    also list holders of PORT in every other "
	"namespace\n"
	"  -n, --netns NS     check network namespace NS (name, path or "
	"pid:PID)\n"
	"  -j, --json         print one JSON object\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  ephport why 36601\n"
	"  ephport why 8080 --tcp --addr 127.0.0.1\n"
	"  ephport --netns web why 5432 --json | jq .holders\n"
	"\n"
	"Exit status: 0 PORT can be bound as asked, 1 it cannot (or a "
	"failure),\n"
	"2 usage error.\n";

/* One bind attempt: protocol x family x SO_REUSEADDR. */
struct attempt {
	uint8_t proto;
	int family;
	bool reuse;
	bool done;   /* the probe ran */
	int err;     /* bind's errno, 0 when it bound */
	int sockerr; /* no socket could be made (family off) */
};

struct why {
	struct cli *cli;
	uint16_t port;
	uint32_t protos;
	bool addr_set;
	int addr_family;
	uint8_t addr[16];
	bool all;
	struct eph_policy *policy;
	struct attempt at[8];
	size_t nat;
	struct eph_holders *holders;
	struct eph_owners *owners;
	/* Holders in other namespaces (--all-netns). */
	struct other {
		char label[256];
		struct eph_sock s;
	} * others;
	size_t nothers;
};

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static void run_probes(struct why *w)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

	for (size_t p = 0; p < 2; p++) {
		if (!(w->protos & (p ? EPH_PROTO_UDP : EPH_PROTO_TCP)))
			continue;
		for (int fam = 0; fam < 2; fam++) {
			int family = fam ? AF_INET6 : AF_INET;

			if (w->addr_set && family != w->addr_family)
				continue;
			for (int reuse = 0; reuse < 2; reuse++) {
				struct attempt *a = &w->at[w->nat++];
				struct eph_bind_probe pr = { 0 };
				int r;

				a->proto = protos[p];
				a->family = family;
				a->reuse = reuse;
				pr.proto = protos[p];
				pr.family = family;
				pr.port = w->port;
				pr.reuseaddr = reuse;
				pr.addr_set = w->addr_set;
				memcpy(pr.addr, w->addr, 16);
				r = eph_bind_probe(w->cli->ctx, &pr, &a->err);
				a->done = r == 0;
				a->sockerr = r < 0 ? -r : 0;
			}
		}
	}
}

static const struct attempt *find_attempt(const struct why *w, uint8_t proto,
					  int family, bool reuse)
{
	for (size_t i = 0; i < w->nat; i++)
		if (w->at[i].proto == proto && w->at[i].family == family &&
		    w->at[i].reuse == reuse)
			return &w->at[i];
	return NULL;
}

/* Bindable as asked: every selected protocol, every family that exists. */
static bool bindable(const struct why *w)
{
	for (size_t i = 0; i < w->nat; i++)
		if (!w->at[i].reuse && w->at[i].done && w->at[i].err)
			return false;
	return true;
}

static bool proto_blocked(const struct why *w, uint8_t proto)
{
	for (size_t i = 0; i < w->nat; i++)
		if (w->at[i].proto == proto && !w->at[i].reuse &&
		    w->at[i].done && w->at[i].err)
			return true;
	return false;
}

static const char *attempt_str(const struct attempt *a, char *buf, size_t size)
{
	if (!a || (!a->done && !a->sockerr))
		snprintf(buf, size, "-");
	else if (!a->done)
		snprintf(buf, size, "cannot test (%s)", strerror(a->sockerr));
	else if (a->err == 0)
		snprintf(buf, size, "bindable");
	else
		snprintf(buf, size, "%s (%s)", strerror(a->err),
			 a->err == EADDRINUSE	   ? "EADDRINUSE"
			 : a->err == EACCES	   ? "EACCES"
			 : a->err == EADDRNOTAVAIL ? "EADDRNOTAVAIL"
						   : "error");
	return buf;
}

static void user_name(uint32_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid((uid_t)uid);

	if (pw)
		snprintf(buf, size, "%s", pw->pw_name);
	else
		snprintf(buf, size, "%u", uid);
}

/*
 * The service name of PORT for PROTO, copied into BUF (getservbyport()
 * returns storage its next call reuses). Returns BUF, or NULL.
 */
static const char *service_name(uint16_t port, const char *proto, char *buf,
				size_t size)
{
	struct servent *se = getservbyport(htons(port), proto);

	if (!se)
		return NULL;
	snprintf(buf, size, "%s", se->s_name);
	return buf;
}

static bool in_range(const struct why *w)
{
	uint16_t lo, hi;

	eph_policy_range(w->policy, &lo, &hi);
	return w->port >= lo && w->port <= hi;
}

static bool is_reserved(const struct why *w)
{
	return eph_portset_has(eph_policy_reserved(w->policy), w->port);
}

static int64_t unpriv_start(const struct why *w)
{
	int64_t v = 1024;

	eph_policy_knob(w->policy, EPH_KNOB_UNPRIVILEGED_PORT_START, &v);
	return v;
}

static uint32_t seconds_left(const struct eph_sock *s)
{
	return (s->expires_ms + 999) / 1000;
}

static bool has_listener(const struct why *w)
{
	for (size_t i = 0; i < eph_holders_count(w->holders); i++)
		if (eph_holders_get(w->holders, i)->state == EPH_TCP_LISTEN)
			return true;
	return false;
}

/*
 * What kind of holder this is, in words. The connections a listener
 * accepted look like any connection the kernel gave a port (the kernel
 * clears their port lock): with a listener on the port, they are its.
 */
static const char *holder_kind(const struct eph_sock *s, bool listener)
{
	bool locked = s->flags & EPH_SOCK_PORT_LOCKED;

	if (s->proto == IPPROTO_UDP)
		return locked ? "a UDP socket bound to this port"
			      : "a UDP socket given this port by the kernel";
	switch (s->state) {
	case EPH_TCP_LISTEN:
		return "a listener";
	case EPH_TCP_TIME_WAIT:
		return "a TIME_WAIT (a closed connection; no process owns it)";
	case EPH_TCP_CLOSE:
	case EPH_TCP_BOUND_INACTIVE:
		return "a socket bound to this port that is not listening";
	case EPH_TCP_SYN_RECV:
	case EPH_TCP_NEW_SYN_RECV:
		return "a connection being accepted";
	default:
		if (locked)
			return "a connection whose program bound this port "
			       "first";
		if (listener)
			return "a connection the listener accepted";
		if (s->remote_port)
			return "an outgoing connection: the kernel gave it "
			       "this port as its source port";
		return "a socket";
	}
}

static void holder_line(const struct why *w, const struct eph_sock *s,
			const char *netns, FILE *f)
{
	const struct eph_owner *o =
		w->owners ? eph_owners_find(w->owners, s->inode) : NULL;
	char l[64], r[64], user[64], head[256], text[512];

	eph_addr_format(s->local, l, sizeof(l));
	eph_addr_format(s->remote, r, sizeof(r));
	snprintf(head, sizeof(head), "  %s%s%s %-10s %s:%u -> %s:%u  ",
		 netns ? netns : "", netns ? " " : "", proto_name(s->proto),
		 s->proto == IPPROTO_UDP
			 ? (s->state == EPH_TCP_ESTABLISHED ? "CONNECTED"
							    : "BOUND")
			 : eph_tcp_state_name(s->state),
		 l, s->local_port, r, s->remote_port);
	if (s->state == EPH_TCP_TIME_WAIT && s->proto == IPPROTO_TCP) {
		snprintf(text, sizeof(text), "%s; %u s left",
			 holder_kind(s, false), seconds_left(s));
	} else if (o) {
		user_name(s->uid, user, sizeof(user));
		snprintf(text, sizeof(text), "%s[%d] user %s: %s", o->comm,
			 o->pid, user,
			 holder_kind(s, netns ? false : has_listener(w)));
	} else {
		user_name(s->uid, user, sizeof(user));
		snprintf(text, sizeof(text), "user %s, process not found: %s",
			 user, holder_kind(s, netns ? false : has_listener(w)));
	}
	fputs(head, f);
	fputc('\n', f);
	cli_wrap(f, "      ", text);
}

/* The verdict and the remedies, as lines; also used for JSON. */
struct advice {
	char verdict[512];
	char remedy[8][256];
	size_t n;
};

static void add_remedy(struct advice *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_remedy(struct advice *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n == sizeof(a->remedy) / sizeof(a->remedy[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(a->remedy[a->n++], sizeof(a->remedy[0]), fmt, ap);
	va_end(ap);
}

/* The reservation: now, across reboots, keeping everyone else's. */
static void add_reservation(const struct why *w, struct advice *a,
			    const char *why)
{
	add_remedy(a, "ephport reserve %u   # %s", w->port, why);
}

static void advise(const struct why *w, struct advice *a)
{
	size_t n = eph_holders_count(w->holders);
	const struct eph_sock *listener = NULL, *client = NULL, *tw = NULL,
			      *udp = NULL, *bound = NULL;
	uint32_t tw_left = 0;
	const struct eph_owner *o;
	bool reuse_helps = false;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < n; i++) {
		const struct eph_sock *s = eph_holders_get(w->holders, i);

		if (s->proto == IPPROTO_UDP) {
			udp = udp ? udp : s;
		} else if (s->state == EPH_TCP_LISTEN) {
			listener = listener ? listener : s;
		} else if (s->state == EPH_TCP_TIME_WAIT) {
			tw = tw ? tw : s;
			if (seconds_left(s) > tw_left)
				tw_left = seconds_left(s);
		} else if (s->state == EPH_TCP_CLOSE ||
			   s->state == EPH_TCP_BOUND_INACTIVE) {
			bound = bound ? bound : s;
		} else if (!(s->flags & EPH_SOCK_PORT_LOCKED)) {
			client = client ? client : s;
		} else {
			bound = bound ? bound : s;
		}
	}
	for (size_t i = 0; i < w->nat; i++) {
		const struct attempt *x = &w->at[i];
		const struct attempt *y =
			find_attempt(w, x->proto, x->family, true);

		if (!x->reuse && x->done && x->err && y && y->done && !y->err)
			reuse_helps = true;
	}
	if (bindable(w)) {
		snprintf(a->verdict, sizeof(a->verdict),
			 "Port %u can be bound now%s.", w->port,
			 n ? " (the sockets above do not conflict with a bind "
			     "as asked)"
			   : "");
		if (in_range(w) && !is_reserved(w))
			add_reservation(w, a,
					"it is inside the ephemeral "
					"range: keep outgoing "
					"connections from taking it");
		return;
	}
	if (listener) {
		o = w->owners ? eph_owners_find(w->owners, listener->inode)
			      : NULL;
		snprintf(a->verdict, sizeof(a->verdict),
			 "Port %u cannot be bound: %s%s%d%s listens on it; "
			 "SO_REUSEADDR does not get past a listener.",
			 w->port, o ? o->comm : "a process", o ? "[" : " (pid ",
			 o ? o->pid : -1, o ? "]" : " unknown)");
		if (o)
			add_remedy(a,
				   "kill %d   # or stop the service that "
				   "owns it",
				   o->pid);
	} else if (client) {
		o = w->owners ? eph_owners_find(w->owners, client->inode)
			      : NULL;
		snprintf(a->verdict, sizeof(a->verdict),
			 "Port %u cannot be bound: an outgoing connection%s%s "
			 "got it from the kernel as its source port%s.",
			 w->port, o ? " of " : "", o ? o->comm : "",
			 in_range(w) && !is_reserved(w)
				 ? ", because it is inside the ephemeral range "
				   "and not reserved"
				 : "");
		if (o)
			add_remedy(a,
				   "kill %d   # or wait for %s to close the "
				   "connection",
				   o->pid, o->comm);
	} else if (tw) {
		snprintf(a->verdict, sizeof(a->verdict),
			 "Port %u cannot be bound: a TIME_WAIT holds it for "
			 "%u s more; no process owns it.",
			 w->port, tw_left);
		add_remedy(a, "sleep %u   # the TIME_WAIT then ends", tw_left);
	} else if (bound) {
		o = w->owners ? eph_owners_find(w->owners, bound->inode) : NULL;
		snprintf(a->verdict, sizeof(a->verdict),
			 "Port %u cannot be bound: %s%s%d%s bound it.", w->port,
			 o ? o->comm : "a process", o ? "[" : " (pid ",
			 o ? o->pid : -1, o ? "]" : " unknown)");
		if (o)
			add_remedy(a, "kill %d", o->pid);
	} else if (udp && proto_blocked(w, IPPROTO_UDP)) {
		o = w->owners ? eph_owners_find(w->owners, udp->inode) : NULL;
		snprintf(a->verdict, sizeof(a->verdict),
			 "Port %u cannot be bound for UDP: %s%s%d%s holds it.",
			 w->port, o ? o->comm : "a process", o ? "[" : " (pid ",
			 o ? o->pid : -1, o ? "]" : " unknown)");
		if (o)
			add_remedy(a, "kill %d", o->pid);
	} else {
		const struct attempt *x = NULL;

		for (size_t i = 0; i < w->nat && !x; i++)
			if (!w->at[i].reuse && w->at[i].done && w->at[i].err)
				x = &w->at[i];
		snprintf(a->verdict, sizeof(a->verdict),
			 "Port %u cannot be bound: %s.", w->port,
			 x ? strerror(x->err) : "unknown");
		if (x && x->err == EACCES)
			snprintf(a->verdict, sizeof(a->verdict),
				 "Port %u cannot be bound: it is below "
				 "ip_unprivileged_port_start (%lld) and this "
				 "process lacks CAP_NET_BIND_SERVICE.",
				 w->port, (long long)unpriv_start(w));
	}
	if (reuse_helps)
		add_remedy(a, "set SO_REUSEADDR on the server%s",
			   client || tw ? " (it works here because the holder "
					  "set it too)"
					: "");
	else if (client || tw)
		add_remedy(a, "set SO_REUSEADDR on both the server and the "
			      "client that took the port (one side is not "
			      "enough)");
	if (in_range(w) && !is_reserved(w))
		add_reservation(w, a,
				"keep the kernel from handing it out "
				"again");
	{
		uint16_t lo, hi;

		eph_policy_range(w->policy, &lo, &hi);
		add_remedy(a,
			   "or move the service outside %u-%u and other "
			   "systems' ranges (ephport ranges --os)",
			   lo, hi);
	}
}

static void print_text(const struct why *w, const struct advice *a)
{
	uint16_t lo, hi;
	char line[512], b1[96], b2[96];
	char tbuf[64], ubuf[64];
	const char *svc_tcp = service_name(w->port, "tcp", tbuf, sizeof(tbuf));
	const char *svc_udp = service_name(w->port, "udp", ubuf, sizeof(ubuf));
	size_t n = eph_holders_count(w->holders);

	cli_heading(w->cli, "Port");
	printf("  %u", w->port);
	if (svc_tcp || svc_udp)
		printf(" (%s)", svc_tcp ? svc_tcp : svc_udp);
	putchar('\n');
	printf("\nBind test (closed at once, never listening)\n");
	for (size_t i = 0; i < w->nat; i += 2) {
		const struct attempt *x = &w->at[i], *y = &w->at[i + 1];
		char where[80], ab[64];

		if (w->addr_set)
			snprintf(where, sizeof(where), "%s",
				 eph_addr_format(w->addr, ab, sizeof(ab)));
		else
			snprintf(where, sizeof(where), "%s",
				 x->family == AF_INET ? "0.0.0.0" : "[::]");
		printf("  %s %-15s %-36s with SO_REUSEADDR: %s\n",
		       proto_name(x->proto), where,
		       attempt_str(x, b1, sizeof(b1)),
		       attempt_str(y, b2, sizeof(b2)));
	}
	printf("\nSockets on port %u\n", w->port);
	if (n == 0 && w->nothers == 0)
		printf("  none\n");
	for (size_t i = 0; i < n; i++)
		holder_line(w, eph_holders_get(w->holders, i), NULL, stdout);
	for (size_t i = 0; i < w->nothers; i++)
		holder_line(w, &w->others[i].s, w->others[i].label, stdout);
	printf("\nContext\n");
	eph_policy_range(w->policy, &lo, &hi);
	snprintf(line, sizeof(line), "%s the ephemeral range %u-%u%s",
		 in_range(w) ? "inside" : "outside", lo, hi,
		 in_range(w) ? (is_reserved(w)
					? ", and reserved: the kernel never "
					  "hands it out"
					: ", not reserved: the kernel may give "
					  "it to any outgoing connection")
			     : ": the kernel never hands it out");
	cli_wrap(stdout, "  ", line);
	snprintf(line, sizeof(line), "%s ip_unprivileged_port_start (%lld)%s",
		 w->port < unpriv_start(w) ? "below" : "not below",
		 (long long)unpriv_start(w),
		 w->port < unpriv_start(w)
			 ? ": binding it needs CAP_NET_BIND_SERVICE"
			 : "");
	cli_wrap(stdout, "  ", line);
	snprintf(line, sizeof(line), "service: %s",
		 svc_tcp ? svc_tcp
			 : (svc_udp ? svc_udp : "none in /etc/services"));
	cli_wrap(stdout, "  ", line);
	printf("\nVerdict\n");
	cli_wrap(stdout, "  ", a->verdict);
	if (a->n) {
		printf("\nRemedies\n");
		for (size_t i = 0; i < a->n; i++)
			printf("  %s\n", a->remedy[i]);
	}
}

static void json_holder(const struct why *w, struct json *j,
			const struct eph_sock *s, const char *netns)
{
	const struct eph_owner *o =
		w->owners ? eph_owners_find(w->owners, s->inode) : NULL;
	char a[64], user[64];

	json_obj(j, NULL);
	if (netns)
		json_str(j, "netns", netns);
	json_str(j, "proto", proto_name(s->proto));
	json_str(j, "state", eph_tcp_state_name(s->state));
	json_str(j, "local", eph_addr_format(s->local, a, sizeof(a)));
	json_uint(j, "local_port", s->local_port);
	json_str(j, "remote", eph_addr_format(s->remote, a, sizeof(a)));
	json_uint(j, "remote_port", s->remote_port);
	json_bool(j, "explicit", s->flags & EPH_SOCK_PORT_LOCKED);
	json_str(j, "kind", holder_kind(s, netns ? false : has_listener(w)));
	if (o) {
		json_int(j, "pid", o->pid);
		json_str(j, "command", o->comm);
	} else {
		json_null(j, "pid");
		json_null(j, "command");
	}
	user_name(s->uid, user, sizeof(user));
	if (s->state == EPH_TCP_TIME_WAIT && s->proto == IPPROTO_TCP) {
		json_null(j, "user");
		json_uint(j, "expires_seconds", seconds_left(s));
	} else {
		json_str(j, "user", user);
		json_null(j, "expires_seconds");
	}
	json_uint(j, "inode", s->inode);
	json_obj_end(j);
}

static void json_bindable(const struct why *w, struct json *j, bool reuse)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

	json_obj(j, reuse ? "bindable_reuseaddr" : "bindable");
	for (size_t p = 0; p < 2; p++) {
		if (!(w->protos & (p ? EPH_PROTO_UDP : EPH_PROTO_TCP)))
			continue;
		json_obj(j, proto_name(protos[p]));
		for (int fam = 0; fam < 2; fam++) {
			const struct attempt *x = find_attempt(
				w, protos[p], fam ? AF_INET6 : AF_INET, reuse);
			const char *key = fam ? "ipv6" : "ipv4";

			if (!x || !x->done)
				json_null(j, key);
			else
				json_bool(j, key, x->err == 0);
		}
		json_obj_end(j);
	}
	json_obj_end(j);
}

static void print_json(const struct why *w, const struct advice *a)
{
	struct json j;
	char sbuf[64];
	const char *svc = service_name(w->port, "tcp", sbuf, sizeof(sbuf));
	uint16_t lo, hi;

	if (!svc)
		svc = service_name(w->port, "udp", sbuf, sizeof(sbuf));
	eph_policy_range(w->policy, &lo, &hi);
	cli_json_begin(w->cli, &j);
	json_uint(&j, "port", w->port);
	json_bool(&j, "ok", bindable(w));
	json_bindable(w, &j, false);
	json_bindable(w, &j, true);
	json_bool(&j, "in_ephemeral_range", in_range(w));
	json_obj(&j, "range");
	json_uint(&j, "low", lo);
	json_uint(&j, "high", hi);
	json_obj_end(&j);
	json_bool(&j, "reserved", is_reserved(w));
	json_bool(&j, "privileged", w->port < unpriv_start(w));
	json_int(&j, "unprivileged_port_start", unpriv_start(w));
	json_str(&j, "service", svc);
	json_arr(&j, "holders");
	for (size_t i = 0; i < eph_holders_count(w->holders); i++)
		json_holder(w, &j, eph_holders_get(w->holders, i), NULL);
	for (size_t i = 0; i < w->nothers; i++)
		json_holder(w, &j, &w->others[i].s, w->others[i].label);
	json_arr_end(&j);
	json_str(&j, "verdict", a->verdict);
	json_arr(&j, "remedies");
	for (size_t i = 0; i < a->n; i++)
		json_str(&j, NULL, a->remedy[i]);
	json_arr_end(&j);
	cli_json_finish(&j);
}

/* --all-netns: the holders of PORT in every other namespace. */
static int scan_others(struct why *w)
{
	struct eph_netns *list = NULL;
	uint64_t dev = 0, ino = 0;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (eph_netns_list(w->cli->ctx, &list, &n) < 0) {
		cli_fail(w->cli, NULL);
		return -EIO;
	}
	/* The target itself is listed above already. */
	if (eph_ctx_netns_id(w->cli->ctx, &dev, &ino) < 0)
		dev = ino = 0;
	for (size_t i = 0; i < n; i++) {
		struct eph_ctx *ctx;
		struct eph_holders *h;

		if (list[i].dev == dev && list[i].ino == ino)
			continue;
		if (eph_ctx_new(&ctx) < 0) {
			rc = -ENOMEM;
			break;
		}
		h = NULL;
		if (eph_holders_new(ctx, &h) == 0 &&
		    eph_ctx_set_netns(ctx, list[i].spec) == 0 &&
		    eph_holders_scan(h, w->protos, w->port) >= 0) {
			for (size_t k = 0; k < eph_holders_count(h); k++) {
				if (w->nothers == cap) {
					size_t nc = cap ? cap * 2 : 8;
					struct other *o = realloc(
						w->others, nc * sizeof(*o));

					if (!o) {
						rc = -ENOMEM;
						break;
					}
					w->others = o;
					cap = nc;
				}
				snprintf(w->others[w->nothers].label,
					 sizeof(w->others[0].label), "[%.250s]",
					 list[i].label);
				w->others[w->nothers++].s =
					*eph_holders_get(h, k);
			}
		}
		eph_holders_free(h);
		eph_ctx_free(ctx);
		if (rc < 0)
			break;
	}
	free(list);
	return rc;
}

static int why_main(struct why *w)
{
	struct advice a;
	int rc;

	rc = ranges_load(w->cli, &w->policy);
	if (rc != EXIT_OK)
		return rc;
	run_probes(w);
	for (size_t i = 0; i < w->nat; i++)
		if (!w->at[i].done && w->at[i].sockerr != EAFNOSUPPORT)
			return cli_fail(w->cli, "bind test");
	if (eph_holders_new(w->cli->ctx, &w->holders) < 0)
		return cli_fail(w->cli, "out of memory");
	if (eph_holders_scan(w->holders, w->protos, w->port) < 0)
		return cli_fail(w->cli, "socket scan");
	if (w->all) {
		rc = scan_others(w);
		if (rc == -ENOMEM)
			return cli_fail(w->cli, "out of memory");
		if (rc < 0)
			return EXIT_FAIL;
	}
	if (eph_owners_new(w->cli->ctx, &w->owners) == 0) {
		for (size_t i = 0; i < eph_holders_count(w->holders); i++)
			eph_owners_want(w->owners,
					eph_holders_get(w->holders, i)->inode);
		for (size_t i = 0; i < w->nothers; i++)
			eph_owners_want(w->owners, w->others[i].s.inode);
		if (eph_owners_resolve(w->owners) < 0) {
			eph_owners_free(w->owners);
			w->owners = NULL;
		}
	}
	advise(w, &a);
	if (w->cli->json)
		print_json(w, &a);
	else
		print_text(w, &a);
	return bindable(w) ? EXIT_OK : EXIT_FAIL;
}

int cmd_why(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tcp", no_argument, NULL, 'T' },
		{ "udp", no_argument, NULL, 'U' },
		{ "addr", required_argument, NULL, 'A' },
		{ "all-netns", no_argument, NULL, 'a' },
		CLI_COMMON_LONG,
	};
	struct why w = { .cli = cli };
	bool done = false;
	uint64_t port;
	int c, rc;

	/* No "+": options may follow PORT. */
	while ((c = getopt_long(argc, argv, "a" CLI_COMMON_SHORT, longopts,
				NULL)) != -1) {
		switch (c) {
		case 'T':
			w.protos |= EPH_PROTO_TCP;
			continue;
		case 'U':
			w.protos |= EPH_PROTO_UDP;
			continue;
		case 'A':
			if (inet_pton(AF_INET, optarg, w.addr + 12) == 1) {
				memset(w.addr, 0, 10);
				w.addr[10] = w.addr[11] = 0xff;
				w.addr_family = AF_INET;
			} else if (inet_pton(AF_INET6, optarg, w.addr) == 1) {
				w.addr_family = AF_INET6;
			} else {
				return cli_usage_error(
					cli,
					"--addr '%s' is not an IPv4 or IPv6 "
					"address",
					optarg);
			}
			w.addr_set = true;
			continue;
		case 'a':
			w.all = true;
			continue;
		default:
			break;
		}
		rc = cli_common_option(cli, c, why_help, &done);
		if (rc != EXIT_OK || done)
			return rc;
	}
	if (optind >= argc)
		return cli_usage_error(cli, "which port? (ephport why PORT)");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind + 1]);
	if (eph_num_parse_str(cli->ctx, argv[optind], 1, 65535, "port", &port) <
	    0)
		return cli_usage_error(cli, "%s", eph_ctx_errmsg(cli->ctx));
	w.port = (uint16_t)port;
	if (!w.protos)
		w.protos = EPH_PROTO_TCP | EPH_PROTO_UDP;
	rc = why_main(&w);
	eph_owners_free(w.owners);
	eph_holders_free(w.holders);
	eph_policy_free(w.policy);
	free(w.others);
	return rc;
}
