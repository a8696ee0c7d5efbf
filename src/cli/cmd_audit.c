/* SPDX-License-Identifier: MIT */
/*
 * ephport audit: server ports (listening now, or planned) that sit where
 * the kernel may hand them to an outgoing connection, and the reservation
 * that fixes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "compat.h"

static const char audit_help[] =
	"Usage: ephport audit [--ports LIST] [--file FILE] [--os LIST]\n"
	"                     [--no-owners] [--netns NS] [--json]\n"
	"\n"
	"Server ports at risk: every listening TCP socket and bound UDP "
	"socket\n"
	"whose port is inside the ephemeral range and not reserved (each is a\n"
	"restart away from \"Address already in use\", when an outgoing "
	"connection\n"
	"takes the port in the gap), and planned ports checked the same way, "
	"and\n"
	"against other systems' ranges with --os. Then the one merged\n"
	"ip_local_reserved_ports value that protects them, and the command "
	"that\n"
	"applies it.\n"
	"\n"
	"Options:\n"
	"  -p, --ports LIST   planned ports: \"8080,9000-9010\"\n"
	"  -f, --file FILE    planned ports, one port, range or list per "
	"line,\n"
	"                     '#' comments\n"
	"  -o, --os LIST      also check against these systems' default "
	"ranges\n"
	"                     (names from 'ephport ranges --os', comma-"
	"separated,\n"
	"                     or 'all')\n"
	"      --no-owners    do not look up the processes behind listeners\n"
	"  -n, --netns NS     check network namespace NS (name, path or "
	"pid:PID)\n"
	"  -j, --json         print one JSON object\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  ephport audit\n"
	"  ephport audit --ports 8080,9000-9010 --os windows,freebsd\n"
	"  ephport audit --file ports.txt --json | jq -r .reserve\n"
	"\n"
	"Exit status: 0 nothing at risk, 1 something at risk (or a failure),\n"
	"2 usage error.\n";

/* Planned files are lists of ports: a megabyte is more than any needs. */
#define AUDIT_FILE_MAX (1024 * 1024)

struct risk {
	uint16_t port;
	uint8_t proto;	/* IPPROTO_TCP, IPPROTO_UDP, or 0 for planned */
	uint32_t inode; /* 0 for planned */
	char reason[256];
	bool here; /* inside this host's range: a reservation fixes it */
};

struct audit {
	struct cli *cli;
	const struct eph_policy *policy;
	struct eph_portset *planned;
	const struct eph_os *os[32];
	size_t nos;
	bool owners;
	struct risk *risks;
	size_t n, cap;
	struct eph_owners *own;
	struct eph_portset *fix; /* current reserved + ports to protect */
};

static struct risk *risk_add(struct audit *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct risk *r = realloc(a->risks, cap * sizeof(*r));

		if (!r)
			return NULL;
		a->risks = r;
		a->cap = cap;
	}
	memset(&a->risks[a->n], 0, sizeof(a->risks[0]));
	return &a->risks[a->n++];
}

static bool at_risk_here(const struct audit *a, uint16_t port)
{
	uint16_t lo, hi;

	eph_policy_range(a->policy, &lo, &hi);
	return port >= lo && port <= hi &&
	       !eph_portset_has(eph_policy_reserved(a->policy), port);
}

/* Records why PORT is at risk, if it is. Returns 0 or -ENOMEM. */
static int check_port(struct audit *a, uint16_t port, uint8_t proto,
		      uint32_t inode)
{
	uint16_t lo, hi;
	char others[512];
	size_t n = 0;
	struct risk *r;
	bool here = at_risk_here(a, port);

	others[0] = '\0';
	for (size_t i = 0; i < a->nos; i++)
		if (port >= a->os[i]->low && port <= a->os[i]->high)
			n += (size_t)snprintf(
				others + n,
				n < sizeof(others) ? sizeof(others) - n : 0,
				"%s%s %u-%u", n ? ", " : "", a->os[i]->name,
				a->os[i]->low, a->os[i]->high);
	if (!here && n == 0)
		return 0;
	r = risk_add(a);
	if (!r)
		return -ENOMEM;
	r->port = port;
	r->proto = proto;
	r->inode = inode;
	r->here = here;
	eph_policy_range(a->policy, &lo, &hi);
	if (here)
		snprintf(r->reason, sizeof(r->reason),
			 "inside the ephemeral range %u-%u, not reserved%s%.180s",
			 lo, hi, n ? "; also inside " : "", others);
	else
		snprintf(r->reason, sizeof(r->reason),
			 "inside other systems' ranges: %.220s", others);
	if (here)
		eph_portset_add(a->fix, port, port);
	return 0;
}

static int collect_sock(const struct eph_sock *s, void *data)
{
	struct audit *a = data;

	/* One row per port and protocol: a dual-stack pair is one service. */
	for (size_t i = 0; i < a->n; i++)
		if (a->risks[i].port == s->local_port &&
		    a->risks[i].proto == s->proto)
			return 0;
	return check_port(a, s->local_port, s->proto, s->inode);
}

static int restart(void *data)
{
	struct audit *a = data;

	a->n = 0;
	eph_portset_copy(a->fix, eph_policy_reserved(a->policy));
	return 0;
}

/* Listening TCP sockets and bound UDP sockets in the namespace. */
static int scan_servers(struct audit *a)
{
	static const struct eph_scan_ops ops = { restart, collect_sock };
	struct eph_scan_filter f = { 0 };
	struct eph_scan *scan;
	int r;

	if (eph_scan_new(a->cli->ctx, &scan) < 0)
		return -1;
	/* A dump of listeners alone walks only the listening hash. */
	f.protos = EPH_PROTO_TCP;
	f.states = 1u << EPH_TCP_LISTEN;
	r = eph_scan_run(scan, &f, &ops, a);
	if (r >= 0) {
		/* Bound UDP sockets: those that named their port. */
		static const struct eph_scan_ops udp_ops = { NULL,
							     collect_sock };

		f.protos = EPH_PROTO_UDP;
		f.states = 0;
		f.explicit_only = true;
		r = eph_scan_run(scan, &f, &udp_ops, a);
	}
	eph_scan_free(scan);
	return r < 0 ? -1 : 0;
}

static int planned_ports(struct audit *a)
{
	int32_t p;

	if (!a->planned)
		return 0;
	for (p = eph_portset_next(a->planned, 0); p >= 0;
	     p = eph_portset_next(a->planned, (uint32_t)p + 1)) {
		bool listed = false;

		for (size_t i = 0; i < a->n; i++)
			if (a->risks[i].port == p)
				listed = true;
		if (!listed && check_port(a, (uint16_t)p, 0, 0) < 0)
			return -1;
	}
	return 0;
}

static int risk_cmp(const void *x, const void *y)
{
	const struct risk *a = x, *b = y;

	if (a->port != b->port)
		return a->port - b->port;
	return a->proto - b->proto;
}

static const char *risk_proto(const struct risk *r)
{
	return r->proto == IPPROTO_TCP	 ? "tcp"
	       : r->proto == IPPROTO_UDP ? "udp"
					 : "planned";
}

/* The ports of this host's range that a reservation would protect, as a
 * new string (NULL when out of memory). */
static char *fix_list(const struct audit *a)
{
	struct eph_portset *need = NULL;

	eph_portset_new(&need);
	char *s;

	if (!need)
		return NULL;
	for (size_t i = 0; i < a->n; i++)
		if (a->risks[i].here)
			eph_portset_add(need, a->risks[i].port,
					a->risks[i].port);
	s = eph_portset_to_string(need);
	eph_portset_free(need);
	return s;
}

static int print_text(struct audit *a)
{
	char proc[64], *need, *merged;
	bool any_here = false;

	cli_heading(a->cli, "Server ports at risk");
	if (a->n == 0) {
		printf("  none: no listener or bound UDP socket sits in the "
		       "ephemeral range unreserved%s.\n",
		       a->planned ? ", nor does any planned port" : "");
		return EXIT_OK;
	}
	printf("  %-6s %-8s %-22s %s\n", "PORT", "PROTO", "PROCESS", "WHY");
	for (size_t i = 0; i < a->n; i++) {
		const struct risk *r = &a->risks[i];
		const struct eph_owner *o =
			a->own && r->inode ? eph_owners_find(a->own, r->inode)
					   : NULL;
		char first[128];

		if (o)
			snprintf(proc, sizeof(proc), "%s[%d]", o->comm, o->pid);
		else
			snprintf(proc, sizeof(proc), "%s",
				 r->proto ? "?" : "-");
		snprintf(first, sizeof(first), "  %-6u %-8s %-22s ", r->port,
			 risk_proto(r), proc);
		cli_wrap(stdout, first, r->reason);
		any_here |= r->here;
	}
	if (!any_here) {
		printf("\nThis host's range is not the problem: choose ports "
		       "outside those systems'\nranges ('ephport ranges "
		       "--os' lists them).\n");
		return EXIT_OK;
	}
	need = fix_list(a);
	merged = eph_portset_to_string(a->fix);
	if (!need || !merged) {
		free(need);
		free(merged);
		return cli_fail(a->cli, "out of memory");
	}
	printf("\nFix: reserve %s, so that autobind never hands %s out (a "
	       "server's explicit\nbind still works), now and across "
	       "reboots:\n"
	       "  ephport reserve %s\n"
	       "The value it sets keeps what is reserved now:\n"
	       "  net.ipv4.ip_local_reserved_ports = %s\n",
	       need, strchr(need, ',') || strchr(need, '-') ? "them" : "it",
	       need, merged);
	free(need);
	free(merged);
	return EXIT_OK;
}

static int print_json(struct audit *a)
{
	char *need = fix_list(a), *merged = eph_portset_to_string(a->fix);
	struct json j;

	if (!need || !merged) {
		free(need);
		free(merged);
		return cli_fail(a->cli, "out of memory");
	}
	cli_json_begin(a->cli, &j);
	json_arr(&j, "at_risk");
	for (size_t i = 0; i < a->n; i++) {
		const struct risk *r = &a->risks[i];
		const struct eph_owner *o =
			a->own && r->inode ? eph_owners_find(a->own, r->inode)
					   : NULL;

		json_obj(&j, NULL);
		json_uint(&j, "port", r->port);
		json_str(&j, "proto", risk_proto(r));
		if (o) {
			json_obj(&j, "process");
			json_int(&j, "pid", o->pid);
			json_str(&j, "command", o->comm);
			json_obj_end(&j);
		} else {
			json_null(&j, "process");
		}
		json_bool(&j, "in_this_range", r->here);
		json_str(&j, "reason", r->reason);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_str(&j, "reserve", merged);
	json_str(&j, "reserve_ports", need[0] ? need : NULL);
	cli_json_finish(&j);
	free(need);
	free(merged);
	return EXIT_OK;
}

static int read_file(struct cli *cli, const char *path, struct eph_portset *ps)
{
	char *buf;
	size_t len;
	int rc = EXIT_OK;

	if (eph_file_read(cli->ctx, AT_FDCWD, path, 0, AUDIT_FILE_MAX, &buf,
			  &len) < 0)
		return cli_usage_error(cli, "--file: %s",
				       eph_ctx_errmsg(cli->ctx));
	if (eph_portset_parse_lines(cli->ctx, ps, buf, len) < 0)
		rc = cli_usage_error(cli, "--file %s: %s", path,
				     eph_ctx_errmsg(cli->ctx));
	free(buf);
	return rc;
}

/* Runs the audit once the policy is read; frees nothing. */
static int audit_run(struct audit *a)
{
	eph_portset_new(&a->fix);
	if (!a->fix)
		return cli_fail(a->cli, "out of memory");
	eph_portset_copy(a->fix, eph_policy_reserved(a->policy));
	if (scan_servers(a) < 0)
		return cli_fail(a->cli, "socket scan");
	if (planned_ports(a) < 0)
		return cli_fail(a->cli, "out of memory");
	if (a->n > 1)
		qsort(a->risks, a->n, sizeof(*a->risks), risk_cmp);
	if (a->owners && a->n) {
		eph_owners_new(a->cli->ctx, &a->own);
		for (size_t i = 0; a->own && i < a->n; i++)
			eph_owners_want(a->own, a->risks[i].inode);
		if (a->own && eph_owners_resolve(a->own) < 0) {
			eph_owners_free(a->own);
			a->own = NULL;
		}
	}
	return EXIT_OK;
}

static void audit_free(struct audit *a)
{
	eph_owners_free(a->own);
	eph_portset_free(a->fix);
	eph_portset_free(a->planned);
	free(a->risks);
}

int audit_overview(struct cli *cli, const struct eph_policy *p, struct json *j)
{
	struct audit a = { .cli = cli, .policy = p, .owners = true };
	int rc;

	rc = audit_run(&a);
	if (rc == EXIT_OK && j) {
		json_arr(j, "at_risk");
		for (size_t i = 0; i < a.n; i++) {
			const struct eph_owner *o =
				a.own ? eph_owners_find(a.own, a.risks[i].inode)
				      : NULL;

			json_obj(j, NULL);
			json_uint(j, "port", a.risks[i].port);
			json_str(j, "proto", risk_proto(&a.risks[i]));
			if (o)
				json_str(j, "command", o->comm);
			else
				json_null(j, "command");
			json_str(j, "reason", a.risks[i].reason);
			json_obj_end(j);
		}
		json_arr_end(j);
	} else if (rc == EXIT_OK) {
		printf("\n");
		rc = print_text(&a);
	}
	audit_free(&a);
	return rc;
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ports", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "os", required_argument, NULL, 'o' },
		{ "no-owners", no_argument, NULL, 'O' },
		CLI_COMMON_LONG,
	};
	struct audit a = { .cli = cli, .owners = true };
	struct eph_policy *policy = NULL;
	struct eph_portset *tmp = NULL;
	bool done = false;
	int c, rc = EXIT_OK;

	a.planned = NULL;
	while ((c = getopt_long(argc, argv, "+p:f:o:" CLI_COMMON_SHORT,
				longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'f':
			if (!a.planned)
				eph_portset_new(&a.planned);
			eph_portset_new(&tmp);
			if (!a.planned || !tmp) {
				rc = cli_fail(cli, "out of memory");
				goto out;
			}
			if (c == 'f') {
				rc = read_file(cli, optarg, tmp);
			} else if (eph_portset_parse(cli->ctx, tmp, optarg,
						     strlen(optarg)) < 0) {
				rc = cli_usage_error(cli, "--ports '%s': %s",
						     optarg,
						     eph_ctx_errmsg(cli->ctx));
			}
			if (rc == EXIT_OK)
				eph_portset_union(a.planned, tmp);
			eph_portset_free(tmp);
			tmp = NULL;
			if (rc != EXIT_OK)
				goto out;
			continue;
		case 'o':
			rc = cli_parse_os(cli, optarg, a.os, &a.nos, 32);
			if (rc != EXIT_OK)
				goto out;
			continue;
		case 'O':
			a.owners = false;
			continue;
		default:
			break;
		}
		rc = cli_common_option(cli, c, audit_help, &done);
		if (rc != EXIT_OK || done)
			goto out;
	}
	if (optind < argc) {
		rc = cli_usage_error(cli, "unexpected argument '%s'",
				     argv[optind]);
		goto out;
	}
	rc = ranges_load(cli, &policy);
	if (rc != EXIT_OK)
		goto out;
	a.policy = policy;
	rc = audit_run(&a);
	if (rc != EXIT_OK)
		goto out;
	rc = cli->json ? print_json(&a) : print_text(&a);
	if (rc == EXIT_OK && a.n)
		rc = EXIT_FAIL;
out:
	audit_free(&a);
	eph_policy_free(policy);
	return rc;
}
