/* SPDX-License-Identifier: MIT */
/*
 * ephport pick: a server port that nothing will take, here and on the
 * systems the service will also run on; stable per service name. The
 * library applies the rules and keeps the assignments; this file parses
 * the options and words the verdicts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "pick_words.h"

#define COUNT_MAX 1000

static const char pick_help[] =
	"Usage: ephport pick [NAME] [--os LIST] [--count N] [--range "
	"LOW-HIGH]\n"
	"                    [--privileged] [--allow-registered] "
	"[--avoid-common]\n"
	"                    [--reserve] [--assignments FILE] [--netns NS] "
	"[--json]\n"
	"       ephport pick --explain PORT [NAME] [--os LIST] [...]\n"
	"       ephport pick --list | --release NAME [--assignments FILE]\n"
	"\n"
	"Prints a server port that passes every rule: outside the ephemeral\n"
	"range of this host and of every system in --os; not below\n"
	"ip_unprivileged_port_start (unless --privileged); not registered "
	"for\n"
	"TCP or UDP in the IANA registry (unless --allow-registered); not a "
	"port\n"
	"browsers refuse; not reserved, not used by any socket in any state, "
	"and\n"
	"bindable now on TCP and UDP, IPv4 and IPv6 (real bind tests that "
	"leave\n"
	"nothing behind); not assigned to another name; with --avoid-common, "
	"not\n"
	"among the ports nmap finds open most often.\n"
	"\n"
	"With NAME the choice is stable: a hash of NAME picks the first\n"
	"candidate, so the same service gets the same port wherever it is "
	"free,\n"
	"and the assignments file keeps it; later calls return it while it\n"
	"passes.\n"
	"\n"
	"Options:\n"
	"  -o, --os LIST          target systems (names from 'ephport ranges "
	"--os',\n"
	"                         comma-separated); given twice, the lists add "
	"up;\n"
	"                         default: linux,freebsd,macos,windows,iana. "
	"'all'\n"
	"                         and 'current' include OpenBSD (1024-49151) "
	"and\n"
	"                         FreeBSD (10000-65535), which leave no port\n"
	"      --count N          N ports, 1-1000 (without NAME)\n"
	"  -r, --range LOW-HIGH   only ports in LOW-HIGH\n"
	"      --privileged       allow ports below "
	"ip_unprivileged_port_start\n"
	"      --allow-registered allow ports in the IANA registry\n"
	"      --avoid-common     avoid nmap's 1000 most often open ports\n"
	"      --reserve          also reserve the ports, as 'ephport reserve' "
	"does\n"
	"                         (its report follows pick's)\n"
	"      --assignments FILE the assignments (default " EPH_ASSIGNMENTS_DEFAULT
	")\n"
	"      --registry FILE    its former name, still accepted\n"
	"  -e, --explain PORT     every rule for PORT, pass or fail, and why\n"
	"      --list             the assignments\n"
	"      --release NAME     drop NAME's assignment\n"
	"  -n, --netns NS         check network namespace NS\n"
	"  -j, --json             print one JSON object\n"
	"  -h, --help             show this help\n"
	"\n"
	"Examples:\n"
	"  ephport pick api-server\n"
	"  ephport pick --count 3 --os linux,windows\n"
	"  ephport pick --explain 8080\n"
	"  ephport pick metrics --reserve --range 9000-9999\n"
	"  ephport pick --list\n"
	"\n"
	"Exit status: 0 picked (--explain: the port passes every rule), 1 no "
	"port\n"
	"passes (--explain: it fails a rule; --release: NAME has no "
	"assignment;\n"
	"--reserve: the reservation was refused), 2 ephport could not answer "
	"(a\n"
	"usage error, an unreadable namespace or assignments file).\n";

enum {
	O_OS = 'o',
	O_RANGE = 'r',
	O_EXPLAIN = 'e',
	O_COUNT = 256,
	O_PRIVILEGED,
	O_ALLOW_REGISTERED,
	O_AVOID_COMMON,
	O_RESERVE,
	O_ASSIGNMENTS,
	O_RELEASE,
	O_LIST,
};

struct args {
	const char *name, *store, *release;
	uint64_t systems;
	uint32_t count;
	uint16_t lo, hi, explain;
	bool os_seen, count_seen, range_seen, store_seen, explain_seen;
	bool release_seen, list, privileged, allow_registered, avoid_common;
	bool reserve;
};

/* ---- Results ---- */

static void print_ports(struct cli *cli, const struct args *a,
			const struct eph_pick *pk, const uint16_t *ports,
			const struct eph_pick_result *r,
			const struct eph_change *reserved)
{
	struct json j;

	if (r->keep == EPH_PICK_MOVED)
		fprintf(stderr,
			"ephport: pick: %s's port %u no longer passes (%s); "
			"moved to %u\n",
			a->name, r->previous.port,
			r->outside_window ? "outside --range"
					  : eph_pick_rule_name(r->moved_by),
			ports[0]);
	if (!cli->json) {
		for (uint32_t i = 0; i < r->found; i++) {
			color_printf(stdout, COLOR_OK, "%u", ports[i]);
			putchar('\n');
		}
		/* Standard output is the port; the reservation's report
		 * goes beside it. */
		if (reserved)
			change_print_text(cli, reserved, stderr);
		return;
	}
	cli_json_begin(cli, &j);
	json_str(&j, "name", a->name);
	if (reserved) {
		json_obj(&j, "reservation");
		change_json_members(cli, &j, reserved);
		json_obj_end(&j);
	} else {
		json_null(&j, "reservation");
	}
	json_arr(&j, "ports");
	for (uint32_t i = 0; i < r->found; i++)
		json_uint(&j, NULL, ports[i]);
	json_arr_end(&j);
	json_bool(&j, "kept", r->keep == EPH_PICK_KEPT);
	if (r->keep == EPH_PICK_MOVED) {
		json_obj(&j, "moved");
		json_uint(&j, "from", r->previous.port);
		json_str(&j, "because",
			 r->outside_window ? "outside-range"
					   : eph_pick_rule_name(r->moved_by));
		json_obj_end(&j);
	} else {
		json_null(&j, "moved");
	}
	json_str(&j, "assignments_file", a->name ? a->store : NULL);
	json_str(&j, "services", eph_pick_services_path(pk));
	json_arr(&j, "os");
	for (size_t i = 0; i < eph_os_count(); i++)
		if (a->systems >> i & 1)
			json_str(&j, NULL, eph_os_get(i)->name);
	json_arr_end(&j);
	json_bool(&j, "reserve", a->reserve);
	cli_json_finish(&j);
}

static int do_explain(struct cli *cli, const struct args *a,
		      const struct pick_words *w, struct eph_pick *pk)
{
	struct eph_pick_verdict v[EPH_PICK_RULE__COUNT];
	char text[512], first[40];
	struct json j;
	int fails;

	fails = eph_pick_explain(pk, a->explain, a->name, v);
	if (fails < 0)
		return cli_fail(cli, NULL);
	if (cli->json) {
		cli_json_begin(cli, &j);
		json_uint(&j, "port", a->explain);
		json_arr(&j, "rules");
	} else {
		printf("Port %u\n", a->explain);
	}
	for (int i = 0; i < EPH_PICK_RULE__COUNT; i++) {
		pick_why(w, &v[i], a->explain, text, sizeof(text));
		if (cli->json) {
			json_obj(&j, NULL);
			json_str(&j, "rule", eph_pick_rule_name(v[i].rule));
			json_bool(&j, "pass", v[i].pass);
			json_str(&j, "why", text);
			pick_verdict_json(&j, &v[i]);
			json_obj_end(&j);
			continue;
		}
		printf("  %s%-4s%s ",
		       color_start(stdout, v[i].pass ? COLOR_OK : COLOR_CRIT),
		       v[i].pass ? "pass" : "FAIL", color_end(stdout));
		snprintf(first, sizeof(first), "%-16s ",
			 eph_pick_rule_name(v[i].rule));
		fputs(first, stdout);
		cli_wrap_at(stdout, 2 + 4 + 1 + strlen(first), text);
	}
	if (cli->json) {
		json_arr_end(&j);
		json_bool(&j, "pass", fails == 0);
		cli_json_finish(&j);
	} else {
		color_puts(stdout, fails == 0 ? COLOR_OK : COLOR_CRIT,
			   fails == 0 ? "Port passes every rule."
				      : "Port fails: see FAIL above.");
		putchar('\n');
	}
	return fails == 0 ? EXIT_OK : EXIT_NO;
}

static int do_pick(struct cli *cli, const struct args *a,
		   const struct pick_words *w, struct eph_assignments *store,
		   struct eph_pick *pk)
{
	uint16_t *ports = calloc(a->count, sizeof(*ports));
	struct eph_change *reserved = NULL;
	struct eph_pick_result r;
	int rc = EXIT_OK;

	if (!ports)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	if (eph_pick_run(pk, a->name, a->count, ports, &r) < 0)
		rc = cli_fail(cli, NULL);
	else if (r.outcome == EPH_PICK_COVERED)
		rc = pick_say_covered(w, pk, &r);
	else if (r.outcome == EPH_PICK_SHORT)
		rc = pick_say_short(w, a->count, &r);
	if (rc != EXIT_OK)
		goto out;
	/* Reserved first: a refused reservation records nothing. */
	if (a->reserve) {
		struct eph_change_request req = { 0 };
		struct eph_portset *ps = NULL;
		char reason[128];

		if (eph_portset_new(&ps) < 0) {
			rc = cli_error(cli, "ENOMEM", EXIT_ERROR,
				       "out of memory");
			goto out;
		}
		for (uint32_t i = 0; i < r.found; i++)
			eph_portset_add(ps, ports[i], ports[i]);
		snprintf(reason, sizeof(reason), "picked for %s",
			 a->name ? a->name : "a service");
		req.kind = EPH_CHANGE_RESERVE;
		req.ports = ps;
		req.reason = reason;
		req.flags = EPH_CHANGE_RUNTIME | EPH_CHANGE_PERSIST;
		rc = change_do(cli, &req, &reserved);
		eph_portset_free(ps);
		if (rc != EXIT_OK)
			goto out;
	}
	print_ports(cli, a, pk, ports, &r, reserved);
	if (reserved)
		rc = change_boot_check(cli, reserved);
	if (a->name && r.keep != EPH_PICK_KEPT &&
	    (eph_assignments_set(store, a->name, ports[0]) < 0 ||
	     eph_assignments_commit(store) < 0))
		rc = cli_fail(cli, NULL);
out:
	eph_change_free(reserved);
	free(ports);
	return rc;
}

static int do_list(struct cli *cli, const struct args *a,
		   const struct eph_assignments *store)
{
	size_t n = eph_assignments_count(store);
	struct json j;

	if (!cli->json) {
		for (size_t i = 0; i < n; i++) {
			const struct eph_assignment *e =
				eph_assignments_get(store, i);

			printf("%-24s %5u  %s\n", e->name, e->port, e->date);
		}
		if (n == 0)
			printf("no assignments in %s\n", a->store);
		return EXIT_OK;
	}
	cli_json_begin(cli, &j);
	json_str(&j, "assignments_file", a->store);
	json_arr(&j, "assignments");
	for (size_t i = 0; i < n; i++) {
		const struct eph_assignment *e = eph_assignments_get(store, i);

		json_obj(&j, NULL);
		json_str(&j, "name", e->name);
		json_uint(&j, "port", e->port);
		json_str(&j, "date", e->date);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	cli_json_finish(&j);
	return EXIT_OK;
}

static int do_release(struct cli *cli, const struct args *a,
		      struct eph_assignments *store)
{
	const struct eph_assignment *e =
		eph_assignments_find(store, a->release);
	struct eph_assignment was;
	struct json j;

	if (!e)
		return cli_error(cli, "no-assignment", EXIT_NO,
				 "%s: no assignment for \"%s\"", a->store,
				 a->release);
	was = *e;
	if (eph_assignments_release(store, a->release) < 0 ||
	    eph_assignments_commit(store) < 0)
		return cli_fail(cli, NULL);
	if (!cli->json) {
		printf("Released %s: port %u (assigned %s)\n", was.name,
		       was.port, was.date);
		return EXIT_OK;
	}
	cli_json_begin(cli, &j);
	json_str(&j, "assignments_file", a->store);
	json_obj(&j, "released");
	json_str(&j, "name", was.name);
	json_uint(&j, "port", was.port);
	json_str(&j, "date", was.date);
	json_obj_end(&j);
	cli_json_finish(&j);
	return EXIT_OK;
}

/* ---- Options ---- */

static int parse_range(struct cli *cli, const char *arg, struct args *a)
{
	const char *dash = strchr(arg, '-');
	uint64_t lo, hi;
	char q[96];

	if (!dash ||
	    eph_num_parse(cli->ctx, arg, (size_t)(dash - arg), 1, 65535,
			  "--range LOW", &lo) < 0 ||
	    eph_num_parse_str(cli->ctx, dash + 1, 1, 65535, "--range HIGH",
			      &hi) < 0 ||
	    lo > hi)
		return cli_usage_error(cli,
				       "--range %s: want LOW-HIGH, 1 <= LOW <= "
				       "HIGH <= 65535",
				       cli_quote(arg, q, sizeof(q)));
	a->lo = (uint16_t)lo;
	a->hi = (uint16_t)hi;
	return EXIT_OK;
}

static int pick_opt(struct cli *cli, int id, const char *arg, void *data)
{
	struct args *a = data;
	uint64_t v = 0, mask = 0;
	char q[96];
	int rc;

	switch (id) {
	case O_OS:
		/* Given twice, the lists add up. */
		if (eph_os_parse_list(cli->ctx, arg, &mask) < 0)
			return cli_usage_error(cli, "--os: %s",
					       eph_ctx_errmsg(cli->ctx));
		a->systems = (a->os_seen ? a->systems : 0) | mask;
		a->os_seen = true;
		return EXIT_OK;
	case O_COUNT:
		rc = cli_once(cli, &a->count_seen, "--count");
		if (rc == EXIT_OK &&
		    eph_num_parse_str(cli->ctx, arg, 1, COUNT_MAX, "--count",
				      &v) < 0)
			rc = cli_usage_error(cli, "%s",
					     eph_ctx_errmsg(cli->ctx));
		a->count = (uint32_t)v;
		return rc;
	case O_RANGE:
		rc = cli_once(cli, &a->range_seen, "--range");
		return rc == EXIT_OK ? parse_range(cli, arg, a) : rc;
	case O_PRIVILEGED:
		a->privileged = true;
		return EXIT_OK;
	case O_ALLOW_REGISTERED:
		a->allow_registered = true;
		return EXIT_OK;
	case O_AVOID_COMMON:
		a->avoid_common = true;
		return EXIT_OK;
	case O_RESERVE:
		a->reserve = true;
		return EXIT_OK;
	case O_ASSIGNMENTS:
		a->store = arg;
		return cli_once(cli, &a->store_seen, "--assignments");
	case O_EXPLAIN:
		rc = cli_once(cli, &a->explain_seen, "--explain");
		if (rc == EXIT_OK &&
		    eph_num_parse_str(cli->ctx, arg, 1, 65535, "--explain PORT",
				      &v) < 0)
			rc = cli_usage_error(cli, "%s",
					     eph_ctx_errmsg(cli->ctx));
		a->explain = (uint16_t)v;
		return rc;
	case O_LIST:
		a->list = true;
		return EXIT_OK;
	case O_RELEASE:
		a->release = arg;
		rc = cli_once(cli, &a->release_seen, "--release");
		if (rc == EXIT_OK &&
		    !eph_assignment_name_valid(arg, strlen(arg)))
			rc = cli_usage_error(cli, "--release %s: not a name",
					     cli_quote(arg, q, sizeof(q)));
		return rc;
	default:
		return cli_usage_error(cli, "unknown option");
	}
}

/* Options that say nothing together are usage errors. */
static int contradictions(struct cli *cli, const struct args *a)
{
	bool picking = a->os_seen || a->range_seen || a->privileged ||
		       a->allow_registered || a->avoid_common;

	if (a->list && a->release)
		return cli_usage_error(cli, "--list or --release, not both");
	if ((a->list || a->release) && (a->name || a->explain_seen ||
					a->count_seen || a->reserve || picking))
		return cli_usage_error(cli,
				       "--%s takes no NAME and no option "
				       "but --assignments",
				       a->list ? "list" : "release");
	if (a->explain_seen && (a->count_seen || a->reserve || a->range_seen))
		return cli_usage_error(cli, "--explain checks one port: no "
					    "--count, --range or --reserve");
	if (a->name && a->count > 1)
		return cli_usage_error(cli, "--count is for unnamed picks");
	return EXIT_OK;
}

static int parse(struct cli *cli, int argc, char **argv, struct args *a)
{
	static const struct cli_opt opts[] = {
		{ "os", 'o', true, O_OS },
		{ "count", 0, true, O_COUNT },
		{ "range", 'r', true, O_RANGE },
		{ "privileged", 0, false, O_PRIVILEGED },
		{ "allow-registered", 0, false, O_ALLOW_REGISTERED },
		{ "avoid-common", 0, false, O_AVOID_COMMON },
		{ "reserve", 0, false, O_RESERVE },
		{ "assignments", 0, true, O_ASSIGNMENTS },
		{ "registry", 0, true, O_ASSIGNMENTS },
		{ "explain", 'e', true, O_EXPLAIN },
		{ "list", 0, false, O_LIST },
		{ "release", 0, true, O_RELEASE },
		{ 0 },
	};
	char q[96];
	int first, rc;

	rc = cli_parse(cli, argc, argv, opts, true, pick_help, pick_opt, a,
		       &first);
	if (rc != EXIT_OK)
		return rc;
	if (first < argc)
		a->name = argv[first++];
	if (first < argc)
		return cli_usage_error(cli, "unexpected argument %s",
				       cli_quote(argv[first], q, sizeof(q)));
	if (a->name && !eph_assignment_name_valid(a->name, strlen(a->name)))
		return cli_usage_error(cli,
				       "NAME %s: letters, digits, - _ . @ :, "
				       "at most %d",
				       cli_quote(a->name, q, sizeof(q)),
				       EPH_ASSIGNMENT_NAME_MAX);
	if (!a->os_seen && eph_os_parse_list(cli->ctx, EPH_PICK_SYSTEMS_DEFAULT,
					     &a->systems) < 0)
		return cli_fail(cli, NULL);
	return contradictions(cli, a);
}

/* The store could not be opened: corrupt, or unreadable. */
static int store_failed(struct cli *cli)
{
	if (eph_ctx_errno(cli->ctx) == -EBADMSG)
		return cli_error(
			cli, "corrupt", EXIT_ERROR,
			"%s; the file is corrupt and was left as it is",
			eph_ctx_errmsg(cli->ctx));
	return cli_fail(cli, NULL);
}

/* The picker could not load what the rules need. */
static int picker_failed(struct cli *cli, const struct args *a)
{
	bool missing = eph_ctx_errno(cli->ctx) == -ENOENT;

	cli_fail(cli, NULL);
	if (missing && !a->allow_registered)
		fprintf(stderr,
			"The IANA registry comes with libwireshark-data "
			"(or netbase's /etc/services); "
			"--allow-registered picks without it.\n");
	if (missing && a->avoid_common)
		fprintf(stderr, "--avoid-common reads nmap's table, from "
				"nmap-common.\n");
	return EXIT_ERROR;
}

int cmd_pick(struct cli *cli, int argc, char **argv)
{
	struct args a = { .store = EPH_ASSIGNMENTS_DEFAULT, .count = 1 };
	struct eph_pick_options o = { 0 };
	struct eph_assignments *store = NULL;
	struct pick_words w = { cli, 0, NULL, false };
	struct eph_pick *pk = NULL;
	int rc;

	rc = parse(cli, argc, argv, &a);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	/* A named pick writes the store: its directory may be new. */
	if (eph_assignments_open(cli->ctx, a.store, a.name && !a.explain_seen,
				 &store) < 0)
		return store_failed(cli);
	if (a.list) {
		rc = do_list(cli, &a, store);
		goto out;
	}
	if (a.release) {
		rc = do_release(cli, &a, store);
		goto out;
	}
	rc = cli_apply_netns(cli);
	if (rc != EXIT_OK)
		goto out;
	o.systems = a.systems;
	o.range_low = a.lo;
	o.range_high = a.hi;
	o.privileged = a.privileged;
	o.allow_registered = a.allow_registered;
	o.avoid_common = a.avoid_common;
	o.assignments = store;
	if (eph_pick_new(cli->ctx, &o, &pk) < 0) {
		rc = picker_failed(cli, &a);
		goto out;
	}
	w.systems = a.systems;
	w.store = a.store;
	w.store_given = a.store_seen;
	rc = a.explain_seen ? do_explain(cli, &a, &w, pk)
			    : do_pick(cli, &a, &w, store, pk);
out:
	eph_pick_free(pk);
	eph_assignments_free(store);
	return rc;
}
