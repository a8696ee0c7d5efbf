/* SPDX-License-Identifier: MIT */
/* ephport why PORT: can PORT be bound now, and if not, who holds it. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "json.h"
#include "shapes.h"

static const char why_help[] =
	"Usage: ephport why PORT [--tcp] [--udp] [--addr IP] [--all-netns]\n"
	"                        [--no-owners] [--netns NS] [--json]\n"
	"\n"
	"Can PORT be bound right now, and if not, exactly who or what holds it.\n"
	"The answer comes from the kernel itself: ephport tries bind(2) on PORT\n"
	"(IPv4 and IPv6, without and with SO_REUSEADDR) and closes the socket at\n"
	"once, never listening, so the check changes nothing. Then every socket\n"
	"on PORT, with its process, or for a TIME_WAIT the seconds it has left;\n"
	"the port's place in the ephemeral range; a verdict naming every holder;\n"
	"and the remedies that fit, as commands to paste (they name the\n"
	"namespace inspected).\n"
	"\n"
	"Options:\n"
	"      --tcp          TCP only (default: TCP and UDP)\n"
	"      --udp          UDP only\n"
	"      --addr IP      bind to IP instead of the wildcards; only sockets\n"
	"                     that conflict with a bind on IP are blamed\n"
	"  -a, --all-netns    also list holders of PORT in every other namespace\n"
	"      --no-owners    do not look up the processes behind the sockets\n"
	"  -n, --netns NS     check network namespace NS (name, path or pid:PID)\n"
	"  -j, --json         print one JSON object\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  ephport why 36601\n"
	"  ephport why 8080 --tcp --addr 127.0.0.1\n"
	"  ephport --netns web why 5432 --json | jq .holders\n"
	"\n"
	"Exit status: 0 PORT can be bound as asked, 1 it cannot, 2 ephport could\n"
	"not answer (a usage error, an unreadable namespace).\n";

enum { OPT_TCP, OPT_UDP, OPT_ADDR, OPT_ALL, OPT_NO_OWNERS };

struct why {
	struct cli *cli;
	struct eph_diag_request req;
	bool seen_addr, no_owners;
	const char *addr_text;
	struct eph_diagnosis *d;
	struct eph_record *rec; /* the tracer's, when it is there */
	char prefix[320];	/* "ephport [--netns NS] " */
};

static int why_opt(struct cli *cli, int id, const char *arg, void *data)
{
	struct why *w = data;
	int family;

	switch (id) {
	case OPT_TCP:
		w->req.protos |= EPH_PROTO_TCP;
		return EXIT_OK;
	case OPT_UDP:
		w->req.protos |= EPH_PROTO_UDP;
		return EXIT_OK;
	case OPT_ADDR:
		if (cli_once(cli, &w->seen_addr, "--addr") != EXIT_OK)
			return EXIT_ERROR;
		if (eph_addr_parse(cli->ctx, arg, w->req.addr, &family) < 0)
			return cli_usage_error(cli, "--addr: %s",
					       eph_ctx_errmsg(cli->ctx));
		w->req.addr_set = true;
		w->addr_text = arg;
		return EXIT_OK;
	case OPT_ALL:
		w->req.all_netns = true;
		return EXIT_OK;
	default:
		w->no_owners = true;
		return EXIT_OK;
	}
}

/* ---- Words ---- */

static const char *kind_words(enum eph_holder_kind k)
{
	switch (k) {
	case EPH_HOLDER_LISTENER:
		return "a listener";
	case EPH_HOLDER_BOUND:
		return "a socket bound to this port that is not listening";
	case EPH_HOLDER_BOUND_CONNECTION:
		return "a connection whose program bound this port first";
	case EPH_HOLDER_OUTGOING:
		return "an outgoing connection: the kernel gave it this port "
		       "as its source port";
	case EPH_HOLDER_ACCEPTED:
		return "a connection accepted on this port";
	case EPH_HOLDER_ACCEPTING:
		return "a connection being accepted";
	case EPH_HOLDER_TIME_WAIT_CLIENT:
		return "the TIME_WAIT of an outgoing connection (closed; no "
		       "process owns it)";
	case EPH_HOLDER_TIME_WAIT_SERVER:
		return "the TIME_WAIT of a connection accepted on this port "
		       "(closed by the server; no process owns it)";
	case EPH_HOLDER_UDP_BOUND:
		return "a UDP socket bound to this port";
	default:
		return "a UDP socket given this port by the kernel";
	}
}

/* The short form, for the verdict. */
static const char *kind_short(enum eph_holder_kind k)
{
	static const char *const s[EPH_HOLDER__COUNT] = {
		"the listener",
		"the bound socket",
		"the bound-first connection",
		"the outgoing connection",
		"the accepted connection",
		"the connection being accepted",
		"a TIME_WAIT of an outgoing connection",
		"a TIME_WAIT of an accepted connection",
		"the bound UDP socket",
		"the autobound UDP socket",
	};

	return (unsigned int)k < EPH_HOLDER__COUNT ? s[k] : "a socket";
}

static bool is_tw(enum eph_holder_kind k)
{
	return k == EPH_HOLDER_TIME_WAIT_CLIENT ||
	       k == EPH_HOLDER_TIME_WAIT_SERVER;
}

static const char *errno_name(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "error";
}

static void holder_text(const struct why *w, const struct eph_diag_holder *x)
{
	const struct eph_sock *s = &x->sock;
	char l[80], r[80], text[768], user[64], proc[64], cg[320];
	size_t n = 0;

	printf("  %s%s%s%s %-10s %s -> %s\n", x->netns ? "[" : "",
	       x->netns ? x->netns : "", x->netns ? "] " : "",
	       eph_proto_name(s->proto),
	       s->proto == IPPROTO_UDP
		       ? (s->state == EPH_TCP_ESTABLISHED ? "CONNECTED"
							  : "BOUND")
		       : eph_tcp_state_name(s->state),
	       shape_endpoint(s->local, s->local_port, l, sizeof(l)),
	       shape_endpoint(s->remote, s->remote_port, r, sizeof(r)));
	/* A TIME_WAIT's maker, when known, is named by its history below. */
	if (x->owner.pid >= 0 && !is_tw(x->kind))
		n += (size_t)snprintf(
			text + n, sizeof(text) - n, "%s, ",
			shape_process(&x->owner, s->uid, proc, sizeof(proc)));
	if (!is_tw(x->kind))
		n += (size_t)snprintf(text + n, sizeof(text) - n, "user %s%s",
				      shape_user(s->uid, user, sizeof(user)),
				      x->owner.pid < 0 ? ", process not found"
						       : "");
	if (x->owner.pid >= 0 &&
	    shape_cgroup_text(x->owner.cgroup, cg, sizeof(cg)))
		n += (size_t)snprintf(text + n, sizeof(text) - n, ", %s", cg);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s%s",
			      n ? ": " : "", kind_words(x->kind),
			      x->kind_certain ? "" : " (likely)");
	if (is_tw(x->kind))
		n += (size_t)snprintf(text + n, sizeof(text) - n, "; %u s left",
				      x->seconds_left);
	if (x->has_history && x->history.pid >= 0)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "; opened by pid %d (%s) to %s, %u s ago",
				      x->history.pid, x->history.comm, r,
				      x->history.age_seconds);
	if (!x->netns && !x->conflicts)
		snprintf(text + n, sizeof(text) - n,
			 "; does not conflict with a bind on %s",
			 w->addr_text ? w->addr_text : "the address asked");
	cli_wrap(stdout, "      ", text);
}

/* The blocking holders, named one by one (TIME_WAITs counted). */
static void verdict(const struct why *w, char *buf, size_t size)
{
	const struct eph_diagnosis *d = w->d;
	const struct eph_policy *p = eph_diagnosis_policy(d);
	uint16_t port = w->req.port, lo, hi;
	enum eph_holder_kind ck = eph_diagnosis_cause_kind(d);
	uint32_t tw = 0, tw_left = 0;
	size_t n = 0, named = 0;
	char proc[64];

	eph_policy_range(p, &lo, &hi);
	switch (eph_diagnosis_cause(d)) {
	case EPH_CAUSE_NONE:
		snprintf(buf, size, "Port %u can be bound now%s.", port,
			 eph_diagnosis_holder_count(d)
				 ? " (the sockets above do not stand in the "
				   "way of a bind as asked)"
				 : "");
		return;
	case EPH_CAUSE_PRIVILEGED:
		snprintf(buf, size,
			 "Port %u cannot be bound: it is below "
			 "ip_unprivileged_port_start (%u) and this process "
			 "lacks CAP_NET_BIND_SERVICE.",
			 port, eph_policy_unprivileged_start(p));
		return;
	case EPH_CAUSE_ADDR_NOT_LOCAL:
		snprintf(buf, size,
			 "Port %u cannot be bound on %s: that address is not "
			 "on any interface of this namespace (EADDRNOTAVAIL).",
			 port, w->addr_text ? w->addr_text : "it");
		return;
	case EPH_CAUSE_UNSEEN:
		snprintf(
			buf, size,
			"Port %u was in use during the bind test (EADDRINUSE), "
			"but no socket on it was seen afterwards: it was "
			"probably released in between.",
			port);
		return;
	case EPH_CAUSE_ERRNO:
		snprintf(buf, size, "Port %u cannot be bound: %s (%s).", port,
			 strerror(eph_diagnosis_cause_errno(d)),
			 errno_name(eph_diagnosis_cause_errno(d)));
		return;
	case EPH_CAUSE_HELD:
		break;
	}
	n += (size_t)snprintf(buf + n, size - n,
			      "Port %u cannot be bound (%s): held by ", port,
			      eph_proto_name(eph_diagnosis_cause_proto(d)));
	for (size_t i = 0; i < eph_diagnosis_holder_count(d) && n < size; i++) {
		const struct eph_diag_holder *x = eph_diagnosis_holder(d, i);

		if (!x->conflicts)
			continue;
		if (is_tw(x->kind) && !x->has_history) {
			tw++;
			tw_left = x->seconds_left > tw_left ? x->seconds_left
							    : tw_left;
			continue;
		}
		n += (size_t)snprintf(
			buf + n, size - n, "%s%s of %s", named ? ", " : "",
			kind_short(x->kind),
			x->owner.pid >= 0 ? shape_process(&x->owner, 0, proc,
							  sizeof(proc))
					  : "a process not found");
		named++;
	}
	if (tw && n < size)
		n += (size_t)snprintf(buf + n, size - n,
				      "%s%u TIME_WAIT%s (%u s left at most)",
				      named ? " and " : "", tw,
				      tw == 1 ? "" : "s", tw_left);
	if (n >= size)
		return;
	if (ck == EPH_HOLDER_LISTENER)
		snprintf(buf + n, size - n,
			 ". SO_REUSEADDR does not get past a listener.");
	else if ((ck == EPH_HOLDER_OUTGOING ||
		  ck == EPH_HOLDER_TIME_WAIT_CLIENT ||
		  ck == EPH_HOLDER_UDP_AUTO) &&
		 eph_policy_in_range(p, port) &&
		 !eph_portset_has(eph_policy_reserved(p), port))
		snprintf(buf + n, size - n,
			 ". The kernel could give it away because it is "
			 "inside the ephemeral range %u-%u and not reserved.",
			 lo, hi);
	else if (ck == EPH_HOLDER_TIME_WAIT_SERVER)
		snprintf(buf + n, size - n,
			 ". A server that sets SO_REUSEADDR binds past them "
			 "when the old one set it too.");
	else
		snprintf(buf + n, size - n, ".");
}

/* The command to paste, and what it does, for remedy R. */
static void remedy_words(const struct why *w, const struct eph_remedy *r,
			 char *cmd, size_t csize, char *why, size_t wsize)
{
	char ns[320];

	cmd[0] = '\0';
	switch (r->code) {
	case EPH_REMEDY_STOP_PROCESS:
		snprintf(cmd, csize, "kill %d", r->pid);
		snprintf(why, wsize,
			 "stops %s, which holds the port (or stop the service "
			 "it belongs to)%s",
			 r->comm,
			 r->seconds
				 ? "; its connections then stay in TIME_WAIT "
				   "up to 60 s"
				 : "");
		break;
	case EPH_REMEDY_STOP_CLIENT:
		snprintf(cmd, csize, "kill %d", r->pid);
		snprintf(why, wsize,
			 "closes %s's connection; the port then stays in "
			 "TIME_WAIT for %u s, so this alone does not free it",
			 r->comm, r->seconds);
		break;
	case EPH_REMEDY_FIND_OWNER:
		if (r->elevate)
			snprintf(cmd, csize, "sudo %swhy %u", w->prefix,
				 r->port);
		snprintf(why, wsize,
			 r->elevate
				 ? "the process was not found: as root, every "
				   "process's sockets can be seen"
				 : "no process holds the socket any more, or "
				   "it is hidden from this PID namespace");
		break;
	case EPH_REMEDY_WAIT:
		snprintf(cmd, csize, "sleep %u", r->seconds);
		snprintf(why, wsize, "the TIME_WAITs end by then");
		break;
	case EPH_REMEDY_REUSEADDR:
		snprintf(why, wsize,
			 "set SO_REUSEADDR on the server's socket before "
			 "bind(): the bind test with it succeeded");
		break;
	case EPH_REMEDY_RESERVE:
		snprintf(cmd, csize, "%sreserve %u", w->prefix, r->port);
		snprintf(
			why, wsize,
			r->persistent
				? "the kernel never hands it out again, now and "
				  "across reboots"
				: "the kernel never hands it out again; not "
				  "across reboots: /etc/sysctl.d does not set "
				  "up this namespace");
		break;
	case EPH_REMEDY_MOVE:
		snprintf(cmd, csize, "%spick", w->prefix);
		snprintf(why, wsize,
			 "or move the service to a port outside %u-%u and "
			 "other systems' ranges",
			 r->range_low, r->range_high);
		break;
	case EPH_REMEDY_CAPABILITY:
		snprintf(cmd, csize,
			 "setcap cap_net_bind_service=+ep /path/to/server");
		snprintf(why, wsize,
			 "or AmbientCapabilities=CAP_NET_BIND_SERVICE in its "
			 "systemd unit");
		break;
	case EPH_REMEDY_UNPRIVILEGED:
		snprintf(cmd, csize,
			 "%ssysctl -w net.ipv4.ip_unprivileged_port_start=%u",
			 cli_in_netns(w->cli, ns, sizeof(ns)), r->port);
		snprintf(why, wsize,
			 "lets every user bind ports from %u up, in this "
			 "namespace",
			 r->port);
		break;
	case EPH_REMEDY_ADD_ADDRESS:
		snprintf(why, wsize,
			 "put %s on an interface (ip addr add), or let the "
			 "server bind with IP_FREEBIND",
			 w->addr_text ? w->addr_text : "the address");
		break;
	case EPH_REMEDY_RETRY:
		snprintf(cmd, csize, "%swhy %u", w->prefix, r->port);
		snprintf(why, wsize, "ask again: the holder may be gone");
		break;
	default:
		snprintf(why, wsize, "-");
		break;
	}
}

/* ---- Output ---- */

/* What the holders' kinds leave unsure without a record. */
static uint32_t doubts(const struct eph_diagnosis *d)
{
	for (size_t i = 0; i < eph_diagnosis_holder_count(d); i++) {
		const struct eph_diag_holder *x = eph_diagnosis_holder(d, i);

		if (!x->kind_certain || (is_tw(x->kind) && !x->has_history))
			return HISTORY_DOUBT_KINDS;
	}
	return 0;
}

static const char *probe_words(const struct eph_diag_probe *x, char *buf,
			       size_t size)
{
	if (!x || !x->ran)
		snprintf(buf, size, "-");
	else if (x->err == 0)
		snprintf(buf, size, "bindable");
	else
		snprintf(buf, size, "%s (%s)", strerror(x->err),
			 errno_name(x->err));
	return buf;
}

static void print_text(const struct why *w)
{
	const struct eph_diagnosis *d = w->d;
	const struct eph_policy *p = eph_diagnosis_policy(d);
	const char *svc = eph_diagnosis_service(d, IPPROTO_TCP);
	uint16_t lo, hi, port = w->req.port;
	uint32_t unpriv = eph_policy_unprivileged_start(p);
	bool in = eph_policy_in_range(p, port);
	bool res = eph_portset_has(eph_policy_reserved(p), port);
	char line[1024], b1[96], b2[96], ab[64], cmd[512], why[512];

	if (!svc)
		svc = eph_diagnosis_service(d, IPPROTO_UDP);
	cli_heading(w->cli, "Port");
	printf("  %u%s%s%s\n", port, svc ? " (" : "", svc ? svc : "",
	       svc ? ")" : "");
	printf("\nBind test (closed at once, never listening)\n");
	for (size_t i = 0; i + 1 < eph_diagnosis_probe_count(d); i += 2) {
		const struct eph_diag_probe *x = eph_diagnosis_probe(d, i);
		const struct eph_diag_probe *y = eph_diagnosis_probe(d, i + 1);

		printf("  %s %-15s %-36s with SO_REUSEADDR: %s\n",
		       eph_proto_name(x->proto),
		       w->req.addr_set
			       ? eph_addr_format(w->req.addr, ab, sizeof(ab))
		       : x->family == AF_INET ? "0.0.0.0"
					      : "[::]",
		       probe_words(x, b1, sizeof(b1)),
		       probe_words(y, b2, sizeof(b2)));
	}
	printf("\nSockets on port %u\n", port);
	if (eph_diagnosis_holder_count(d) == 0)
		printf("  none\n");
	for (size_t i = 0; i < eph_diagnosis_holder_count(d); i++)
		holder_text(w, eph_diagnosis_holder(d, i));
	for (size_t i = 0; i < eph_diagnosis_netns_error_count(d); i++) {
		const struct eph_diag_netns_error *e =
			eph_diagnosis_netns_error(d, i);

		snprintf(line, sizeof(line), "[%s] not read: %s", e->label,
			 e->message);
		cli_wrap(stdout, "  ", line);
	}
	printf("\nContext\n");
	eph_policy_range(p, &lo, &hi);
	snprintf(line, sizeof(line), "%s the ephemeral range %u-%u%s",
		 in ? "inside" : "outside", lo, hi,
		 !in   ? ": the kernel never hands it out"
		 : res ? ", and reserved: the kernel never hands it out"
		       : ", not reserved: the kernel may give it to any "
			 "outgoing connection");
	cli_wrap(stdout, "  ", line);
	snprintf(line, sizeof(line), "%s ip_unprivileged_port_start (%u)%s",
		 port < unpriv ? "below" : "not below", unpriv,
		 port < unpriv ? ": binding it needs CAP_NET_BIND_SERVICE"
			       : "");
	cli_wrap(stdout, "  ", line);
	snprintf(line, sizeof(line), "service: %s",
		 svc ? svc : "none in /etc/services");
	cli_wrap(stdout, "  ", line);
	if (eph_record_history(w->rec) || doubts(d))
		shape_history_text(stdout, "  ", w->rec, doubts(d));
	printf("\nVerdict\n");
	verdict(w, line, sizeof(line));
	cli_wrap(stdout, "  ", line);
	if (eph_diagnosis_remedy_count(d) == 0)
		return;
	printf("\nRemedies\n");
	for (size_t i = 0; i < eph_diagnosis_remedy_count(d); i++) {
		remedy_words(w, eph_diagnosis_remedy(d, i), cmd, sizeof(cmd),
			     why, sizeof(why));
		if (cmd[0]) {
			printf("  %s\n", cmd);
			cli_wrap(stdout, "      # ", why);
		} else {
			cli_wrap(stdout, "  # ", why);
		}
	}
}

static void json_bindable(const struct why *w, struct json *j, bool reuse)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

	json_obj(j, reuse ? "bindable_reuseaddr" : "bindable");
	for (size_t p = 0; p < 2; p++) {
		bool asked =
			w->req.protos & (p ? EPH_PROTO_UDP : EPH_PROTO_TCP);

		if (!asked)
			continue;
		json_obj(j, eph_proto_name(protos[p]));
		for (int fam = 0; fam < 2; fam++) {
			const struct eph_diag_probe *x = NULL;

			for (size_t i = 0; i < eph_diagnosis_probe_count(w->d);
			     i++) {
				const struct eph_diag_probe *y =
					eph_diagnosis_probe(w->d, i);

				if (y->proto == protos[p] &&
				    y->family == (fam ? AF_INET6 : AF_INET) &&
				    y->reuseaddr == reuse)
					x = y;
			}
			if (!x || !x->ran)
				json_null(j, fam ? "ipv6" : "ipv4");
			else
				json_bool(j, fam ? "ipv6" : "ipv4", !x->err);
		}
		json_obj_end(j);
	}
	json_obj_end(j);
}

static const char *cause_code(enum eph_diag_cause c)
{
	static const char *const codes[] = { "none",	   "held",
					     "privileged", "addr-not-local",
					     "unseen",	   "errno" };

	return (unsigned int)c < 6 ? codes[c] : "?";
}

static void print_json(const struct why *w)
{
	const struct eph_diagnosis *d = w->d;
	const struct eph_policy *p = eph_diagnosis_policy(d);
	const char *svc = eph_diagnosis_service(d, IPPROTO_TCP);
	char line[1024], cmd[512], why[512];
	struct json j;
	uint16_t lo, hi;

	if (!svc)
		svc = eph_diagnosis_service(d, IPPROTO_UDP);
	eph_policy_range(p, &lo, &hi);
	cli_json_begin(w->cli, &j);
	json_uint(&j, "port", w->req.port);
	json_bool(&j, "ok", eph_diagnosis_bindable(d));
	json_bindable(w, &j, false);
	json_bindable(w, &j, true);
	json_bool(&j, "in_ephemeral_range",
		  eph_policy_in_range(p, w->req.port));
	json_obj(&j, "range");
	json_uint(&j, "low", lo);
	json_uint(&j, "high", hi);
	json_obj_end(&j);
	json_bool(&j, "reserved",
		  eph_portset_has(eph_policy_reserved(p), w->req.port));
	json_bool(&j, "privileged",
		  w->req.port < eph_policy_unprivileged_start(p));
	json_uint(&j, "unprivileged_port_start",
		  eph_policy_unprivileged_start(p));
	json_str(&j, "service", svc);
	json_str(&j, "cause", cause_code(eph_diagnosis_cause(d)));
	if (eph_diagnosis_cause(d) == EPH_CAUSE_HELD)
		json_str(&j, "cause_kind",
			 eph_holder_kind_code(eph_diagnosis_cause_kind(d)));
	else
		json_null(&j, "cause_kind");
	json_arr(&j, "holders");
	for (size_t i = 0; i < eph_diagnosis_holder_count(d); i++) {
		const struct eph_diag_holder *x = eph_diagnosis_holder(d, i);

		json_obj(&j, NULL);
		json_str(&j, "netns", x->netns);
		shape_sock_members(&j, &x->sock);
		json_str(&j, "kind", eph_holder_kind_code(x->kind));
		json_bool(&j, "kind_certain", x->kind_certain);
		json_bool(&j, "conflicts", x->conflicts);
		shape_owner(&j, "owner", &x->owner, !is_tw(x->kind),
			    x->sock.uid);
		if (is_tw(x->kind))
			json_uint(&j, "expires_seconds", x->seconds_left);
		else
			json_null(&j, "expires_seconds");
		if (x->has_history) {
			json_obj(&j, "history");
			json_int(&j, "pid", x->history.pid);
			json_str(&j, "command", x->history.comm);
			json_uint(&j, "age_seconds", x->history.age_seconds);
			json_bool(&j, "accepted", x->history.accepted);
			json_bool(&j, "bound_first", x->history.bound_first);
			if (is_tw(x->kind))
				json_bool(&j, "timestamps",
					  x->history.timestamps);
			json_obj_end(&j);
		} else {
			json_null(&j, "history");
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_arr(&j, "netns_errors");
	for (size_t i = 0; i < eph_diagnosis_netns_error_count(d); i++) {
		const struct eph_diag_netns_error *e =
			eph_diagnosis_netns_error(d, i);

		json_obj(&j, NULL);
		json_str(&j, "netns", e->label);
		json_str(&j, "code", errno_name(-e->err));
		json_str(&j, "message", e->message);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	shape_history(&j, w->rec, doubts(d));
	verdict(w, line, sizeof(line));
	json_str(&j, "verdict", line);
	json_arr(&j, "remedies");
	for (size_t i = 0; i < eph_diagnosis_remedy_count(d); i++) {
		const struct eph_remedy *r = eph_diagnosis_remedy(d, i);

		remedy_words(w, r, cmd, sizeof(cmd), why, sizeof(why));
		json_obj(&j, NULL);
		json_str(&j, "code", eph_remedy_code_name(r->code));
		json_str(&j, "command", cmd[0] ? cmd : NULL);
		json_str(&j, "why", why);
		if (r->pid >= 0)
			json_int(&j, "pid", r->pid);
		else
			json_null(&j, "pid");
		json_uint(&j, "seconds", r->seconds);
		json_bool(&j, "persistent", r->persistent);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	cli_json_finish(&j);
}

int cmd_why(struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "tcp", 0, false, OPT_TCP },
		{ "udp", 0, false, OPT_UDP },
		{ "addr", 0, true, OPT_ADDR },
		{ "all-netns", 'a', false, OPT_ALL },
		{ "no-owners", 0, false, OPT_NO_OWNERS },
		{ 0 },
	};
	struct why w = { .cli = cli };
	char q[96];
	uint64_t port;
	int first, rc;

	rc = cli_parse(cli, argc, argv, opts, true, why_help, why_opt, &w,
		       &first);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	if (first >= argc)
		return cli_usage_error(cli, "which port? (ephport why PORT)");
	if (first + 1 < argc)
		return cli_usage_error(
			cli, "unexpected argument %s",
			cli_quote(argv[first + 1], q, sizeof(q)));
	if (eph_num_parse_str(cli->ctx, argv[first], 1, 65535, "port", &port) <
	    0)
		return cli_usage_error(cli, "%s", eph_ctx_errmsg(cli->ctx));
	w.req.port = (uint16_t)port;
	w.req.owners = !w.no_owners;
	if (!w.req.protos)
		w.req.protos = EPH_PROTO_ALL;
	if (cli_apply_netns(cli) != EXIT_OK)
		return EXIT_ERROR;
	cli_prefix(cli, w.prefix, sizeof(w.prefix));
	/* The tracer's record makes holder kinds certain and names the
	 * process behind a TIME_WAIT, when it is there and current. */
	if (eph_record_read(cli->ctx, NULL, &w.rec) < 0)
		return cli_fail(cli, NULL);
	w.req.history = eph_record_history(w.rec);
	if (eph_diagnose(cli->ctx, &w.req, &w.d) < 0) {
		eph_record_free(w.rec);
		return cli_fail(cli, NULL);
	}
	if (cli->json)
		print_json(&w);
	else
		print_text(&w);
	rc = eph_diagnosis_bindable(w.d) ? EXIT_OK : EXIT_NO;
	eph_diagnosis_free(w.d);
	eph_record_free(w.rec);
	return rc;
}
