/* SPDX-License-Identifier: MIT */
/* ephport audit: server ports the kernel may take, and the fix. */
#include <string.h>

#include "cli.h"
#include "json.h"
#include "shapes.h"

static const char audit_help[] =
	"Usage: ephport audit [--ports LIST] [--file FILE] [--os LIST]\n"
	"                     [--no-owners] [--netns NS] [--json]\n"
	"\n"
	"Server ports at risk: every listening TCP socket and bound UDP socket\n"
	"whose port is inside the ephemeral range and not reserved (each is a\n"
	"restart away from \"Address already in use\", when an outgoing connection\n"
	"takes the port in the gap), and planned ports checked the same way, and\n"
	"against other systems' ranges with --os. Then the one merged\n"
	"ip_local_reserved_ports value that protects them, and the command that\n"
	"applies it in the namespace audited.\n"
	"\n"
	"Options:\n"
	"  -p, --ports LIST   planned ports: \"8080,9000-9010\" (repeatable)\n"
	"  -f, --file FILE    planned ports, one port, range or list per line,\n"
	"                     '#' comments (repeatable; a file without a port\n"
	"                     is an error)\n"
	"  -o, --os LIST      also check against these systems' default ranges\n"
	"                     (names from 'ephport ranges --os', comma-separated,\n"
	"                     or 'all'; repeated lists add up)\n"
	"      --no-owners    do not look up the processes behind listeners\n"
	"  -n, --netns NS     check network namespace NS (name, path or pid:PID)\n"
	"  -j, --json         print one JSON object\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  ephport audit\n"
	"  ephport audit --ports 8080,9000-9010 --os windows,freebsd\n"
	"  ephport audit --file ports.txt --json | jq -r .reserve\n"
	"\n"
	"Exit status: 0 nothing at risk, 1 something at risk, 2 ephport could not\n"
	"answer (a usage error, an unreadable namespace or file).\n";

enum { OPT_PORTS, OPT_FILE, OPT_OS, OPT_NO_OWNERS };

struct audit_opts {
	struct eph_portset *planned, *tmp;
	uint64_t os;
	bool no_owners;
};

static int audit_opt(struct cli *cli, int id, const char *arg, void *data)
{
	struct audit_opts *o = data;
	char q[96];
	uint64_t mask;

	switch (id) {
	case OPT_PORTS:
	case OPT_FILE:
		if (!o->planned && (eph_portset_new(&o->planned) < 0 ||
				    eph_portset_new(&o->tmp) < 0))
			return cli_fail(cli, "out of memory");
		if (id == OPT_FILE &&
		    eph_portset_read_file(cli->ctx, o->tmp, arg) < 0)
			return cli_fail(cli, "--file");
		/* A file of nothing is a mistake, as an empty --ports is. */
		if (id == OPT_FILE && eph_portset_count(o->tmp) == 0)
			return cli_usage_error(cli,
					       "--file %s: an empty list (no "
					       "port in the file)",
					       arg);
		if (id == OPT_PORTS && (eph_portset_parse(cli->ctx, o->tmp, arg,
							  strlen(arg)) < 0 ||
					eph_portset_count(o->tmp) == 0))
			return cli_usage_error(cli, "--ports %s: %s",
					       cli_quote(arg, q, sizeof(q)),
					       *arg ? eph_ctx_errmsg(cli->ctx)
						    : "an empty list");
		eph_portset_union(o->planned, o->tmp);
		return EXIT_OK;
	case OPT_OS:
		if (eph_os_parse_list(cli->ctx, arg, &mask) < 0)
			return cli_usage_error(cli, "--os: %s",
					       eph_ctx_errmsg(cli->ctx));
		o->os |= mask;
		return EXIT_OK;
	default:
		o->no_owners = true;
		return EXIT_OK;
	}
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "ports", 'p', true, OPT_PORTS },
		{ "file", 'f', true, OPT_FILE },
		{ "os", 'o', true, OPT_OS },
		{ "no-owners", 0, false, OPT_NO_OWNERS },
		{ 0 },
	};
	struct audit_opts o = { 0 };
	struct eph_policy *p = NULL;
	struct eph_audit *a = NULL;
	struct eph_audit_request req = { 0 };
	int first, rc;
	char q[96], prefix[320];
	bool risk;

	rc = cli_parse(cli, argc, argv, opts, false, audit_help, audit_opt, &o,
		       &first);
	if (rc == CLI_DONE) {
		rc = EXIT_OK;
		goto out;
	}
	if (rc != EXIT_OK)
		goto out;
	if (first < argc) {
		rc = cli_usage_error(cli, "unexpected argument %s",
				     cli_quote(argv[first], q, sizeof(q)));
		goto out;
	}
	rc = cli_apply_netns(cli);
	if (rc != EXIT_OK)
		goto out;
	req.planned = o.planned;
	req.os_mask = o.os;
	req.owners = !o.no_owners;
	if (eph_policy_read(cli->ctx, &p) < 0 ||
	    eph_audit_run(cli->ctx, p, &req, &a) < 0) {
		rc = cli_fail(cli, NULL);
		goto out;
	}
	risk = eph_audit_count(a) > 0;
	if (cli->json) {
		struct json j;

		cli_json_begin(cli, &j);
		shape_audit(&j, a, p);
		cli_json_finish(&j);
	} else {
		cli_heading(cli, "Server ports at risk");
		shape_audit_text(
			a, p, o.os, eph_ctx_netns_is_boot(cli->ctx) > 0,
			cli_prefix(cli, prefix, sizeof(prefix)), stdout);
	}
	rc = risk ? EXIT_NO : EXIT_OK;
out:
	eph_audit_free(a);
	eph_policy_free(p);
	eph_portset_free(o.planned);
	eph_portset_free(o.tmp);
	return rc;
}
