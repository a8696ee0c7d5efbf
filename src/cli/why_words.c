/* SPDX-License-Identifier: MIT */
/* The words of ephport why (see why_words.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "color.h"
#include "json.h"
#include "shapes.h"
#include "why_words.h"

/* The text names a few holders per protocol; JSON's verdict names all. */
#define TEXT_NAMED 5

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

bool why_is_tw(enum eph_holder_kind k)
{
	return k == EPH_HOLDER_TIME_WAIT_CLIENT ||
	       k == EPH_HOLDER_TIME_WAIT_SERVER;
}

const char *why_errno_name(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "error";
}

void why_holder_text(const struct why *w, const struct eph_diag_holder *x)
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
	if (named && !why_is_tw(x->kind))
		n += (size_t)snprintf(
			text + n, sizeof(text) - n, "%s, ",
			shape_process(&x->owner, s->uid, proc, sizeof(proc)));
	if (!why_is_tw(x->kind))
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
	if (why_is_tw(x->kind))
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
			why_errno_name(eph_diagnosis_cause_errno(d)));
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
					why_errno_name(v->err));
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
uint32_t why_doubts(const struct eph_diagnosis *d)
{
	for (size_t i = 0; i < eph_diagnosis_holder_count(d); i++) {
		const struct eph_diag_holder *x = eph_diagnosis_holder(d, i);

		if (!x->kind_certain || (why_is_tw(x->kind) && !x->has_history))
			return HISTORY_DOUBT_KINDS;
	}
	return 0;
}

const char *why_probe_words(const struct eph_diag_probe *x, char *buf,
			    size_t size)
{
	if (!x || !x->ran)
		snprintf(buf, size, "-");
	else if (x->err == 0)
		snprintf(buf, size, "bindable");
	else
		snprintf(buf, size, "%s (%s)", strerror(x->err),
			 why_errno_name(x->err));
	return buf;
}

/* A bind test that worked in green, one that failed in red. */
const char *why_probe_color(const struct eph_diag_probe *x)
{
	if (!x || !x->ran)
		return "";
	return color_start(stdout, x->err == 0 ? COLOR_OK : COLOR_CRIT);
}

void why_free_words(struct why *w)
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
bool why_make_words(struct why *w)
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
