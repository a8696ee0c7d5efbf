/* SPDX-License-Identifier: MIT */
/*
 * ephport reserve, unreserve and set-range: parse, let the library plan
 * and apply the change (eph_change_*), and render what it decided.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"

static const char reserve_help[] =
	"Usage: ephport reserve PORTS [--reason TEXT] [OPTIONS]\n"
	"       ephport unreserve PORTS [OPTIONS]\n"
	"       ephport set-range LOW HIGH [OPTIONS]\n"
	"\n"
	"reserve adds ports or ranges (\"8080,40000-40010\") to\n"
	"net.ipv4.ip_local_reserved_ports, keeping every entry already "
	"there,\n"
	"so that the kernel never hands them out to connect() or bind(0);\n"
	"unreserve removes only the ports it names; set-range changes\n"
	"net.ipv4.ip_local_port_range after checking it. Each changes the\n"
	"kernel now (and reads it back) and, for the namespace the system "
	"boots\n"
	"in, ephport's drop-in /etc/sysctl.d/99-zz-ephport.conf, which holds "
	"what\n"
	"a boot would apply with the change, and the reason and date of each\n"
	"reservation. It names every other file that sets the key, and the "
	"one\n"
	"that wins at boot.\n"
	"\n"
	"Refused without --force: a reservation or a range that leaves "
	"autobind\n"
	"under half of the range, or under 1000 ports when it has 1000 or "
	"more now\n"
	"(reserved ports and the ports of listeners and bound UDP sockets "
	"count as\n"
	"taken: reserving a server's port takes nothing), a range of one "
	"port, a\n"
	"range over listening ports. Always\n"
	"refused: a range below ip_unprivileged_port_start, unreserving ports\n"
	"reserved nowhere, and a drop-in or a boot value ephport cannot read.\n"
	"\n"
	"Options:\n"
	"      --reason TEXT   why (reserve, at most 200 characters): kept as "
	"a\n"
	"                      comment in the drop-in\n"
	"      --runtime-only  change the kernel only, not the drop-in\n"
	"      --persist-only  change the drop-in only, not the kernel\n"
	"      --dry-run       print the runtime change and the file diff; "
	"change\n"
	"                      nothing\n"
	"      --root DIR      read and write the sysctl.d files under DIR "
	"(an\n"
	"                      image, a chroot, a test tree; links resolve "
	"inside\n"
	"                      it) instead of /\n"
	"      --force         do what the refusals above marked --force "
	"refuse\n"
	"  -n, --netns NS      change network namespace NS; the drop-in only "
	"when\n"
	"                      NS is the one the system boots in, or with "
	"--root\n"
	"  -j, --json          print one JSON object, errors included\n"
	"  -h, --help          show this help\n"
	"\n"
	"Examples:\n"
	"  ephport reserve 36601 --reason 'api server'\n"
	"  ephport reserve 9000-9010 --dry-run\n"
	"  ephport unreserve 36601\n"
	"  ephport set-range 40000 60999\n"
	"\n"
	"Exit status: 0 done; 1 refused (nothing changed), or done but the\n"
	"drop-in's value is not what boots (another file wins); 2 could not\n"
	"(usage, permissions, I/O: nothing changed).\n";

enum { OPT_REASON, OPT_RUNTIME, OPT_PERSIST, OPT_DRY_RUN, OPT_ROOT, OPT_FORCE };

struct opts {
	const char *reason, *root;
	bool runtime_only, persist_only, dry_run, force;
	bool seen_reason, seen_root;
};

static int run(struct cli *cli, const struct opts *o,
	       const struct eph_change_request *base)
{
	struct eph_change_request req = *base;
	struct eph_change *c = NULL;
	int rc;

	rc = cli_apply_netns(cli);
	if (rc != EXIT_OK)
		return rc;
	if (o->root && eph_ctx_set_root(cli->ctx, o->root) < 0)
		return cli_fail(cli, NULL);
	req.reason = o->reason;
	req.flags = (o->persist_only ? 0 : EPH_CHANGE_RUNTIME) |
		    (o->runtime_only ? 0 : EPH_CHANGE_PERSIST) |
		    (o->force ? EPH_CHANGE_FORCE : 0) |
		    (o->dry_run ? EPH_CHANGE_DRY_RUN : 0);
	rc = change_do(cli, &req, &c);
	if (rc != EXIT_OK)
		return rc;
	if (cli->json) {
		struct json j;

		cli_json_begin(cli, &j);
		change_json_members(cli, &j, c);
		cli_json_finish(&j);
	} else {
		change_print_text(cli, c, stdout);
	}
	rc = change_boot_check(cli, c);
	eph_change_free(c);
	return rc;
}

static int reserve_opt(struct cli *cli, int id, const char *arg, void *data)
{
	struct opts *o = data;

	switch (id) {
	case OPT_REASON:
		if (strlen(arg) > EPH_CHANGE_REASON_MAX)
			return cli_usage_error(
				cli, "--reason: at most %u characters",
				EPH_CHANGE_REASON_MAX);
		o->reason = arg;
		return cli_once(cli, &o->seen_reason, "--reason");
	case OPT_RUNTIME:
		o->runtime_only = true;
		return EXIT_OK;
	case OPT_PERSIST:
		o->persist_only = true;
		return EXIT_OK;
	case OPT_DRY_RUN:
		o->dry_run = true;
		return EXIT_OK;
	case OPT_ROOT:
		if (arg[0] != '/')
			return cli_usage_error(cli, "--root must be an "
						    "absolute path");
		o->root = arg;
		return cli_once(cli, &o->seen_root, "--root");
	default:
		o->force = true;
		return EXIT_OK;
	}
}

static int parse_ports(struct cli *cli, const char *arg, struct eph_portset *ps)
{
	char q[96];

	if (eph_portset_parse(cli->ctx, ps, arg, strlen(arg)) < 0)
		return cli_usage_error(cli, "ports %s: %s",
				       cli_quote(arg, q, sizeof(q)),
				       eph_ctx_errmsg(cli->ctx));
	if (eph_portset_count(ps) == 0)
		return cli_usage_error(cli, "ports %s: no port given",
				       cli_quote(arg, q, sizeof(q)));
	if (eph_portset_has(ps, 0))
		return cli_usage_error(cli, "port 0 cannot be reserved");
	return EXIT_OK;
}

static int change_main(struct cli *cli, int argc, char **argv,
		       enum eph_change_kind kind)
{
	static const struct cli_opt opts[] = {
		{ "reason", 0, true, OPT_REASON },
		{ "runtime-only", 0, false, OPT_RUNTIME },
		{ "persist-only", 0, false, OPT_PERSIST },
		{ "dry-run", 0, false, OPT_DRY_RUN },
		{ "root", 0, true, OPT_ROOT },
		{ "force", 0, false, OPT_FORCE },
		{ 0 },
	};
	struct eph_change_request req = { .kind = kind };
	struct eph_portset *ps = NULL;
	struct opts o = { 0 };
	int first, want = kind == EPH_CHANGE_SET_RANGE ? 2 : 1, rc;
	uint64_t v;

	rc = cli_parse(cli, argc, argv, opts, true, reserve_help, reserve_opt,
		       &o, &first);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	if (argc - first != want)
		return cli_usage_error(cli, "%s",
				       want == 2 ? "give LOW and HIGH"
						 : "give the ports (\"8080,"
						   "40000-40010\")");
	if (o.reason && kind != EPH_CHANGE_RESERVE)
		return cli_usage_error(cli, "--reason is for reserve");
	if (o.runtime_only && o.persist_only)
		return cli_usage_error(cli, "--runtime-only and --persist-only "
					    "exclude each other");
	if (kind == EPH_CHANGE_SET_RANGE) {
		if (eph_num_parse_str(cli->ctx, argv[first], 1, EPH_PORT_MAX,
				      "LOW", &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		req.low = (uint16_t)v;
		if (eph_num_parse_str(cli->ctx, argv[first + 1], 1,
				      EPH_PORT_MAX, "HIGH", &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		req.high = (uint16_t)v;
		if (req.low > req.high)
			return cli_usage_error(cli, "LOW %u is above HIGH %u",
					       req.low, req.high);
		return run(cli, &o, &req);
	}
	if (eph_portset_new(&ps) < 0)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	rc = parse_ports(cli, argv[first], ps);
	if (rc == EXIT_OK) {
		req.ports = ps;
		rc = run(cli, &o, &req);
	}
	eph_portset_free(ps);
	return rc;
}

int cmd_reserve(struct cli *cli, int argc, char **argv)
{
	return change_main(cli, argc, argv, EPH_CHANGE_RESERVE);
}

int cmd_unreserve(struct cli *cli, int argc, char **argv)
{
	return change_main(cli, argc, argv, EPH_CHANGE_UNRESERVE);
}

int cmd_set_range(struct cli *cli, int argc, char **argv)
{
	return change_main(cli, argc, argv, EPH_CHANGE_SET_RANGE);
}
