/* SPDX-License-Identifier: MIT */
/* ephport why PORT: can PORT be bound now, and if not, who holds it. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	"on PORT, with every process holding it (a socket shared after fork(),\n"
	"as a prefork server's, is held by the master and each worker: all are\n"
	"named), or for a TIME_WAIT the seconds it has left; the port's place in\n"
	"the ephemeral range; a verdict for each protocol that fails, naming\n"
	"every holder (the text names five per protocol and counts the rest;\n"
	"--json names all); and the remedies that fit, as commands to paste (they\n"
	"name the namespace inspected; one kill stops every process that must\n"
	"go, the parent first).\n"
	"\n"
	"Options:\n"
	"      --tcp          TCP only (default: TCP and UDP)\n"
	"      --udp          UDP only\n"
	"      --addr IP      bind to IP instead of the wildcards; only sockets\n"
	"                     that conflict with a bind on IP are blamed\n"
	"  -a, --all-netns    also list holders of PORT in every other namespace\n"
	"      --no-owners    do not look up the processes behind the sockets\n"
	"                     (they are said to be \"not looked up\", and the stop\n"
	"                     remedy is the command that names them)\n"
	"  -n, --netns NS     check network namespace NS (name, path or pid:PID)\n"
	"  -j, --json         print one JSON object\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  ephport why 36601\n"
	"  ephport why 8080 --tcp --addr 127.0.0.1\n"
	"  ephport --netns web why 5432 --json | jq .holders\n"
	"  ephport why 8080 --tcp --json | jq '.holders[].owner.processes'\n"
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
	/* The words, made before anything is printed. */
	char *verdict;	   /* the text's, or JSON's (every holder) */
	char **cmd, **why; /* per remedy; cmd "" when there is none */
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
	char l[80], r[80], text[768], user[64], proc[160], cg[320];
	bool named = x->owner.nprocs || x->owner.pid >= 0;
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
	if (named && !is_tw(x->kind))
		n += (size_t)snprintf(
			text + n, sizeof(text) - n, "%s, ",
			shape_process(&x->owner, s->uid, proc, sizeof(proc)));
	if (!is_tw(x->kind))
		n += (size_t)snprintf(text + n, sizeof(text) - n, "user %s%s",
				      shape_user(s->uid, user, sizeof(user)),
				      named ? ""
				      : x->owner.looked_up
					      ? ", process not found"
					      : ", process not looked up "
						"(--no-owners)");
	if (named && shape_cgroup_text(x->owner.cgroup, cg, sizeof(cg)))
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

/* "the listener of python3[100, 101]", every process of it. */
static void name_holder(FILE *f, const struct eph_diag_holder *x)
{
	fprintf(f, "%s of ", kind_short(x->kind));
	if (x->owner.nprocs)
		shape_procs_put(f, x->owner.procs, x->owner.nprocs, SIZE_MAX);
	else if (x->owner.pid >= 0)
		fprintf(f, "%s[%d]", x->owner.comm, x->owner.pid);
	else
		fputs(x->owner.looked_up
			      ? "a process not found"
			      : "a process not looked up (--no-owners)",
		      f);
}

/*
 * What holds the port for the protocol of V, as the library judged it:
 * its holders named (the first MAX, the count of the rest), its
 * TIME_WAITs counted, and why the kernel let it happen.
 */
static void held_by(const struct why *w, FILE *f,
		    const struct eph_diag_verdict *v, size_t max)
{
	const struct eph_diagnosis *d = w->d;
	const struct eph_policy *p = eph_diagnosis_policy(d);
	enum eph_holder_kind ck = v->cause_kind;
	uint16_t port = w->req.port, lo, hi;

	eph_policy_range(p, &lo, &hi);
	fputs("held by ", f);
	for (size_t k = 0; k < v->nnamed && k < max; k++) {
		fputs(k ? ", " : "", f);
		name_holder(f, eph_diagnosis_holder(d, v->named[k]));
	}
	if (v->nnamed > max)
		fprintf(f, " and %zu more sockets (%u processes in all)",
			v->nnamed - max, v->processes);
	if (v->time_waits)
		fprintf(f, "%s%u TIME_WAIT%s (%u s left at most)",
			v->nnamed ? " and " : "", v->time_waits,
			v->time_waits == 1 ? "" : "s", v->time_wait_seconds);
	if (ck == EPH_HOLDER_LISTENER)
		fputs(". SO_REUSEADDR does not get past a listener.", f);
	else if ((ck == EPH_HOLDER_OUTGOING ||
		  ck == EPH_HOLDER_TIME_WAIT_CLIENT ||
		  ck == EPH_HOLDER_UDP_AUTO) &&
		 eph_policy_in_range(p, port) &&
		 !eph_portset_has(eph_policy_reserved(p), port))
		fprintf(f,
			". The kernel could give it away because it is "
			"inside the ephemeral range %u-%u and not reserved.",
			lo, hi);
	else if (ck == EPH_HOLDER_TIME_WAIT_SERVER)
		fputs(". A server that sets SO_REUSEADDR binds past them "
		      "when the old one set it too.",
		      f);
	else
		fputs(".", f);
}

/*
 * The verdict, naming at most MAX holders per protocol (SIZE_MAX: all),
 * into a new string; NULL when out of memory.
 */
static char *verdict(const struct why *w, size_t max)
{
	const struct eph_diagnosis *d = w->d;
	const struct eph_policy *p = eph_diagnosis_policy(d);
	uint16_t port = w->req.port;
	size_t nfail = 0, len = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	switch (eph_diagnosis_cause(d)) {
	case EPH_CAUSE_NONE:
		fprintf(f, "Port %u can be bound now%s.", port,
			eph_diagnosis_holder_count(d)
				? " (the sockets above do not stand in the "
				  "way of a bind as asked)"
				: "");
		break;
	case EPH_CAUSE_PRIVILEGED:
		fprintf(f,
			"Port %u cannot be bound: it is below "
			"ip_unprivileged_port_start (%u) and this process "
			"lacks CAP_NET_BIND_SERVICE.",
			port, eph_policy_unprivileged_start(p));
		break;
	case EPH_CAUSE_ADDR_NOT_LOCAL:
		fprintf(f,
			"Port %u cannot be bound on %s: that address is not "
			"on any interface of this namespace (EADDRNOTAVAIL).",
			port, w->addr_text ? w->addr_text : "it");
		break;
	case EPH_CAUSE_UNSEEN:
		fprintf(f,
			"Port %u was in use during the bind test (EADDRINUSE), "
			"but no socket on it was seen afterwards: it was "
			"probably released in between.",
			port);
		break;
	case EPH_CAUSE_ERRNO:
		fprintf(f, "Port %u cannot be bound: %s (%s).", port,
			strerror(eph_diagnosis_cause_errno(d)),
			errno_name(eph_diagnosis_cause_errno(d)));
		break;
	case EPH_CAUSE_HELD:
		for (size_t i = 0; i < eph_diagnosis_verdict_count(d); i++)
			nfail += eph_diagnosis_verdict(d, i)->cause !=
				 EPH_CAUSE_NONE;
		/* One protocol fails: one sentence; both: one each. */
		fprintf(f, "Port %u cannot be bound", port);
		for (size_t i = 0; i < eph_diagnosis_verdict_count(d); i++) {
			const struct eph_diag_verdict *v =
				eph_diagnosis_verdict(d, i);
			const char *proto =
				v->proto == IPPROTO_UDP ? "UDP" : "TCP";

			if (v->cause == EPH_CAUSE_NONE)
				continue;
			if (nfail == 1)
				fprintf(f, " (%s): ", eph_proto_name(v->proto));
			else
				fprintf(f, "%s %s: ", i ? "" : ".", proto);
			if (v->cause == EPH_CAUSE_HELD)
				held_by(w, f, v, max);
			else if (v->cause == EPH_CAUSE_UNSEEN)
				fputs("in use during the bind test, but no "
				      "socket on it was seen afterwards.",
				      f);
			else
				fprintf(f, "%s (%s).", strerror(v->err),
					errno_name(v->err));
		}
		break;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* "kill PID PID ...": every process R lists, parents first. */
static void kill_command(FILE *cmd, const struct eph_remedy *r)
{
	fputs("kill", cmd);
	for (size_t i = 0; i < r->nprocs; i++)
		fprintf(cmd, " %d", r->procs[i].pid);
}

/* Stop the processes of R, all of them: one is never enough. */
static void stop_words(const struct why *w, const struct eph_remedy *r,
		       FILE *cmd, FILE *why)
{
	bool client = r->code == EPH_REMEDY_STOP_CLIENT;

	if (r->nprocs == 0) {
		/* Not looked up: the command that names them. */
		fprintf(cmd, "%swhy %u", w->prefix, r->port);
		fprintf(why,
			"stop the process%s; this run did not look it up: "
			"run this, without --no-owners, to name it",
			client ? " behind the outgoing connection"
			       : " holding the port");
		return;
	}
	kill_command(cmd, r);
	if (client) {
		fputs("closes the outgoing connections of ", why);
		shape_procs_put(why, r->procs, r->nprocs, SIZE_MAX);
		fprintf(why,
			"; the port then stays in TIME_WAIT for %u s, so this "
			"alone does not free it",
			r->seconds);
	} else if (r->nprocs == 1) {
		fprintf(why,
			"stops %s, which holds the port (or stop the service "
			"it belongs to)",
			r->comm);
	} else {
		fputs("stops ", why);
		shape_procs_put(why, r->procs, r->nprocs, SIZE_MAX);
		fprintf(why,
			": the port is free only when all %zu are gone (or "
			"stop the service they belong to)",
			r->nprocs);
		if (r->parent_first)
			fprintf(why,
				"; %d, the parent of the others, goes first: "
				"a prefork server's workers stop with it",
				r->pid);
	}
	if (!client && r->seconds)
		fputs("; its connections then stay in TIME_WAIT up to 60 s",
		      why);
	if (!r->looked_up)
		fprintf(why,
			"; other holders were not looked up (%swhy %u names "
			"them)",
			w->prefix, r->port);
}

/*
 * The command to paste (empty when there is none), and what it does, for
 * remedy R, into new strings. Returns false when out of memory.
 */
static bool remedy_words(const struct why *w, const struct eph_remedy *r,
			 char **ret_cmd, char **ret_why)
{
	char ns[320], *c = NULL, *y = NULL;
	size_t clen = 0, ylen = 0;
	FILE *cmd = open_memstream(&c, &clen);
	FILE *why = open_memstream(&y, &ylen);
	bool ok;

	if (cmd && why) {
		switch (r->code) {
		case EPH_REMEDY_STOP_PROCESS:
		case EPH_REMEDY_STOP_CLIENT:
			stop_words(w, r, cmd, why);
			break;
		case EPH_REMEDY_FIND_OWNER:
			if (r->elevate)
				fprintf(cmd, "sudo %swhy %u", w->prefix,
					r->port);
			fputs(r->elevate
				      ? "the process was not found: as root, "
					"every process's sockets can be seen"
				      : "no process holds the socket any more, "
					"or it is hidden from this PID "
					"namespace",
			      why);
			break;
		case EPH_REMEDY_WAIT:
			fprintf(cmd, "sleep %u", r->seconds);
			fputs("the TIME_WAITs end by then", why);
			break;
		case EPH_REMEDY_REUSEADDR:
			fputs("set SO_REUSEADDR on the server's socket before "
			      "bind(): the bind test with it succeeded",
			      why);
			break;
		case EPH_REMEDY_RESERVE:
			fprintf(cmd, "%sreserve %u", w->prefix, r->port);
			fputs(r->persistent
				      ? "the kernel never hands it out again, "
					"now and across reboots"
				      : "the kernel never hands it out again; "
					"not across reboots: /etc/sysctl.d "
					"does not set up this namespace",
			      why);
			break;
		case EPH_REMEDY_MOVE:
			fprintf(cmd, "%spick", w->prefix);
			fprintf(why,
				"or move the service to a port outside %u-%u "
				"and other systems' ranges",
				r->range_low, r->range_high);
			break;
		case EPH_REMEDY_CAPABILITY:
			fputs("setcap cap_net_bind_service=+ep "
			      "/path/to/server",
			      cmd);
			fputs("or AmbientCapabilities=CAP_NET_BIND_SERVICE in "
			      "its systemd unit",
			      why);
			break;
		case EPH_REMEDY_UNPRIVILEGED:
			fprintf(cmd,
				"%ssysctl -w "
				"net.ipv4.ip_unprivileged_port_start=%u",
				cli_in_netns(w->cli, ns, sizeof(ns)), r->port);
			fprintf(why,
				"lets every user bind ports from %u up, in "
				"this namespace",
				r->port);
			break;
		case EPH_REMEDY_ADD_ADDRESS:
			fprintf(why,
				"put %s on an interface (ip addr add), or let "
				"the server bind with IP_FREEBIND",
				w->addr_text ? w->addr_text : "the address");
			break;
		case EPH_REMEDY_RETRY:
			fprintf(cmd, "%swhy %u", w->prefix, r->port);
			fputs("ask again: the holder may be gone", why);
			break;
		default:
			fputs("-", why);
			break;
		}
	}
	ok = cmd && why;
	if (cmd && fclose(cmd) != 0)
		ok = false;
	if (why && fclose(why) != 0)
		ok = false;
	if (!ok) {
		free(c);
		free(y);
		return false;
	}
	*ret_cmd = c;
	*ret_why = y;
	return true;
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

/* A bind test that worked in green, one that failed in red. */
static const char *probe_color(const struct eph_diag_probe *x)
{
	if (!x || !x->ran)
		return "";
	return color_start(stdout, x->err == 0 ? COLOR_OK : COLOR_CRIT);
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
	char line[1024], b1[96], b2[96], ab[64];

	if (!svc)
		svc = eph_diagnosis_service(d, IPPROTO_UDP);
	cli_heading(w->cli, "Port");
	printf("  %u%s%s%s\n", port, svc ? " (" : "", svc ? svc : "",
	       svc ? ")" : "");
	cli_section(stdout, "Bind test (closed at once, never listening)");
	for (size_t i = 0; i + 1 < eph_diagnosis_probe_count(d); i += 2) {
		const struct eph_diag_probe *x = eph_diagnosis_probe(d, i);
		const struct eph_diag_probe *y = eph_diagnosis_probe(d, i + 1);

		printf("  %s %-15s %s%-36s%s with SO_REUSEADDR: %s%s%s\n",
		       eph_proto_name(x->proto),
		       w->req.addr_set
			       ? eph_addr_format(w->req.addr, ab, sizeof(ab))
		       : x->family == AF_INET ? "0.0.0.0"
					      : "[::]",
		       probe_color(x), probe_words(x, b1, sizeof(b1)),
		       color_end(stdout), probe_color(y),
		       probe_words(y, b2, sizeof(b2)), color_end(stdout));
	}
	snprintf(line, sizeof(line), "Sockets on port %u", port);
	cli_section(stdout, line);
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
	cli_section(stdout, "Context");
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
	cli_section(stdout, "Verdict");
	cli_wrap_role(stdout, eph_diagnosis_bindable(d) ? COLOR_OK : COLOR_CRIT,
		      "  ", w->verdict);
	if (eph_diagnosis_remedy_count(d) == 0)
		return;
	cli_section(stdout, "Remedies");
	for (size_t i = 0; i < eph_diagnosis_remedy_count(d); i++) {
		if (w->cmd[i][0]) {
			printf("  %s\n", w->cmd[i]);
			cli_wrap(stdout, "      # ", w->why[i]);
		} else {
			cli_wrap(stdout, "  # ", w->why[i]);
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

/* What the library judged for one protocol. */
static void json_verdict(struct json *j, const struct eph_diag_verdict *v)
{
	json_obj(j, NULL);
	json_str(j, "proto", eph_proto_name(v->proto));
	json_str(j, "cause", cause_code(v->cause));
	if (v->err)
		json_str(j, "errno", errno_name(v->err));
	else
		json_null(j, "errno");
	if (v->cause == EPH_CAUSE_HELD)
		json_str(j, "cause_kind", eph_holder_kind_code(v->cause_kind));
	else
		json_null(j, "cause_kind");
	json_arr(j, "holders");
	for (size_t k = 0; k < v->nnamed; k++)
		json_uint(j, NULL, v->named[k]);
	json_arr_end(j);
	json_uint(j, "processes", v->processes);
	json_uint(j, "time_waits", v->time_waits);
	json_uint(j, "time_wait_seconds", v->time_wait_seconds);
	json_obj_end(j);
}

static void print_json(const struct why *w)
{
	const struct eph_diagnosis *d = w->d;
	const struct eph_policy *p = eph_diagnosis_policy(d);
	const char *svc = eph_diagnosis_service(d, IPPROTO_TCP);
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
	json_arr(&j, "verdicts");
	for (size_t i = 0; i < eph_diagnosis_verdict_count(d); i++)
		json_verdict(&j, eph_diagnosis_verdict(d, i));
	json_arr_end(&j);
	json_str(&j, "verdict", w->verdict);
	json_arr(&j, "remedies");
	for (size_t i = 0; i < eph_diagnosis_remedy_count(d); i++) {
		const struct eph_remedy *r = eph_diagnosis_remedy(d, i);
		bool stop = r->code == EPH_REMEDY_STOP_PROCESS ||
			    r->code == EPH_REMEDY_STOP_CLIENT;

		json_obj(&j, NULL);
		json_str(&j, "code", eph_remedy_code_name(r->code));
		json_str(&j, "command", w->cmd[i][0] ? w->cmd[i] : NULL);
		json_str(&j, "why", w->why[i]);
		if (r->pid >= 0)
			json_int(&j, "pid", r->pid);
		else
			json_null(&j, "pid");
		if (stop) {
			shape_procs_json(&j, "processes", r->procs, r->nprocs);
			json_bool(&j, "parent_first", r->parent_first);
			json_bool(&j, "looked_up", r->looked_up);
		}
		json_uint(&j, "seconds", r->seconds);
		json_bool(&j, "persistent", r->persistent);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	cli_json_finish(&j);
}

/* The text names a few holders per protocol; JSON's verdict names all. */
#define TEXT_NAMED 5

static void free_words(struct why *w)
{
	size_t n = eph_diagnosis_remedy_count(w->d);

	for (size_t i = 0; i < n && w->cmd; i++)
		free(w->cmd[i]);
	for (size_t i = 0; i < n && w->why; i++)
		free(w->why[i]);
	free(w->cmd);
	free(w->why);
	free(w->verdict);
}

/* Words the verdict and every remedy. Returns false when out of memory. */
static bool make_words(struct why *w)
{
	size_t n = eph_diagnosis_remedy_count(w->d);

	w->verdict = verdict(w, w->cli->json ? SIZE_MAX : TEXT_NAMED);
	w->cmd = calloc(n ? n : 1, sizeof(*w->cmd));
	w->why = calloc(n ? n : 1, sizeof(*w->why));
	if (!w->verdict || !w->cmd || !w->why)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!remedy_words(w, eph_diagnosis_remedy(w->d, i), &w->cmd[i],
				  &w->why[i]))
			return false;
	return true;
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
	if (!make_words(&w))
		rc = cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	else if (cli->json)
		print_json(&w);
	else
		print_text(&w);
	if (rc == EXIT_OK)
		rc = eph_diagnosis_bindable(w.d) ? EXIT_OK : EXIT_NO;
	free_words(&w);
	eph_diagnosis_free(w.d);
	eph_record_free(w.rec);
	return rc;
}
