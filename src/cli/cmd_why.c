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
#include "why_words.h"

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
		       why_probe_color(x), why_probe_words(x, b1, sizeof(b1)),
		       color_end(stdout), why_probe_color(y),
		       why_probe_words(y, b2, sizeof(b2)), color_end(stdout));
	}
	snprintf(line, sizeof(line), "Sockets on port %u", port);
	cli_section(stdout, line);
	if (eph_diagnosis_holder_count(d) == 0)
		printf("  none\n");
	for (size_t i = 0; i < eph_diagnosis_holder_count(d); i++)
		why_holder_text(w, eph_diagnosis_holder(d, i));
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
	if (eph_record_history(w->rec) || why_doubts(d))
		shape_history_text(stdout, "  ", w->rec, why_doubts(d));
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
		json_str(j, "errno", why_errno_name(v->err));
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
		shape_owner(&j, "owner", &x->owner, !why_is_tw(x->kind),
			    x->sock.uid);
		if (why_is_tw(x->kind))
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
			if (why_is_tw(x->kind))
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
		json_str(&j, "code", why_errno_name(-e->err));
		json_str(&j, "message", e->message);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	shape_history(&j, w->rec, why_doubts(d));
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
	if (!why_make_words(&w))
		rc = cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	else if (cli->json)
		print_json(&w);
	else
		print_text(&w);
	if (rc == EXIT_OK)
		rc = eph_diagnosis_bindable(w.d) ? EXIT_OK : EXIT_NO;
	why_free_words(&w);
	eph_diagnosis_free(w.d);
	eph_record_free(w.rec);
	return rc;
}
