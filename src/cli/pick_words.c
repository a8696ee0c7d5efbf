/* SPDX-License-Identifier: MIT */
/*
 * The words of ephport pick: what each rule's verdict means, what covers
 * the candidates when none is left, and what relaxes the rule that
 * eliminated the most. The library gives the codes and the numbers; the
 * sentences are made here, and only here.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "json.h"
#include "pick_words.h"
#include "shapes.h"

static const char *family_name(int family)
{
	return family == AF_INET6 ? "[::]" : "0.0.0.0";
}

void pick_why(const struct pick_words *w, const struct eph_pick_verdict *v,
	      uint16_t port, char *buf, size_t size)
{
	char pre[256];
	int n = 0;

	switch (v->rule) {
	case EPH_PICK_RULE_PRIVILEGED:
		snprintf(buf, size, "%s ip_unprivileged_port_start (%u)%s",
			 v->allowed ? "below"
			 : v->pass  ? "not below"
				    : "below",
			 v->unprivileged_start,
			 v->allowed ? ", allowed by --privileged"
			 : v->pass  ? ""
				    : ": binding needs CAP_NET_BIND_SERVICE");
		return;
	case EPH_PICK_RULE_HOST_RANGE:
		snprintf(buf, size, "%s this host's ephemeral range %u-%u",
			 v->pass ? "outside" : "inside", v->host_low,
			 v->host_high);
		return;
	case EPH_PICK_RULE_OS_RANGE:
		if (!v->pass) {
			n = snprintf(buf, size, "inside ");
			shape_systems(v->systems, buf + n, size - (size_t)n);
			return;
		}
		n = __builtin_popcountll(w->systems);
		snprintf(buf, size, "outside the ranges of %d target system%s",
			 n, n == 1 ? "" : "s");
		return;
	case EPH_PICK_RULE_REGISTERED:
		if (!v->services_path)
			snprintf(buf, size,
				 "not checked: no registry could be "
				 "read (--allow-registered)");
		else if (!v->allowed && v->pass)
			snprintf(buf, size, "not registered in %s",
				 v->services_path);
		else
			snprintf(buf, size, "registered as \"%s\" in %s%s",
				 v->service ? v->service : "?",
				 v->services_path,
				 v->allowed ? ", allowed by --allow-registered"
					    : "");
		return;
	case EPH_PICK_RULE_BROWSER:
		snprintf(buf, size, "%s",
			 v->pass ? "browsers connect to it"
				 : "browsers refuse it (the Fetch standard's "
				   "bad ports)");
		return;
	case EPH_PICK_RULE_COMMON:
		if (v->skipped)
			snprintf(buf, size, "not checked (no --avoid-common)");
		else
			snprintf(buf, size,
				 "%samong nmap's %u most often open ports",
				 v->pass ? "not " : "", v->common_top);
		return;
	case EPH_PICK_RULE_RESERVED:
		snprintf(buf, size, "%s",
			 v->pass ? "not in ip_local_reserved_ports"
				 : "in ip_local_reserved_ports (reserved for "
				   "someone)");
		return;
	case EPH_PICK_RULE_ASSIGNED:
		if (v->pass)
			snprintf(buf, size,
				 "not assigned to another name in %s",
				 w->store);
		else
			snprintf(buf, size, "assigned to \"%s\" in %s since %s",
				 v->assignment.name, w->store,
				 v->assignment.date);
		return;
	case EPH_PICK_RULE_IN_USE:
		if (v->pass)
			snprintf(buf, size, "no TCP or UDP socket uses it");
		else
			snprintf(buf, size,
				 "%u socket%s use%s it now ('%swhy %u')",
				 v->sockets, v->sockets == 1 ? "" : "s",
				 v->sockets == 1 ? "s" : "",
				 cli_prefix(w->cli, pre, sizeof(pre)), port);
		return;
	case EPH_PICK_RULE_BINDABLE:
		if (!v->pass)
			snprintf(buf, size, "bind %s %s: %s",
				 v->bind_proto == IPPROTO_UDP ? "UDP" : "TCP",
				 family_name(v->bind_family),
				 strerror(v->bind_errno));
		else if (v->families & EPH_FAMILY_IPV6)
			snprintf(buf, size,
				 "TCP and UDP, IPv4 and IPv6 bind now");
		else
			snprintf(buf, size,
				 "TCP and UDP bind now on IPv4 (IPv6 "
				 "is off here)");
		return;
	default:
		snprintf(buf, size, "?");
	}
}

/* What relaxes RULE when it eliminated the most candidates. */
static void relax(const struct pick_words *w, enum eph_pick_rule rule,
		  char *buf, size_t size)
{
	char pre[256];

	cli_prefix(w->cli, pre, sizeof(pre));
	switch (rule) {
	case EPH_PICK_RULE_PRIVILEGED:
		snprintf(buf, size, "--privileged");
		break;
	case EPH_PICK_RULE_HOST_RANGE:
		snprintf(
			buf, size,
			"a --range outside this host's range, or '%sset-range'",
			pre);
		break;
	case EPH_PICK_RULE_OS_RANGE:
		snprintf(buf, size, "fewer systems in --os");
		break;
	case EPH_PICK_RULE_REGISTERED:
		snprintf(buf, size, "--allow-registered");
		break;
	case EPH_PICK_RULE_COMMON:
		snprintf(buf, size, "no --avoid-common");
		break;
	case EPH_PICK_RULE_RESERVED:
		snprintf(buf, size, "'%sunreserve PORTS', or a wider --range",
			 pre);
		break;
	case EPH_PICK_RULE_ASSIGNED:
		snprintf(buf, size,
			 "'%spick --release NAME%s%s' for a name "
			 "no longer used",
			 pre, w->store_given ? " --assignments " : "",
			 w->store_given ? w->store : "");
		break;
	default:
		snprintf(buf, size, "a wider --range");
	}
}

/* One range of a cover, for the message. */
struct part {
	uint32_t low;
	char text[64];
};

static void part_add(struct part *parts, size_t *n, uint32_t low,
		     const char *text)
{
	size_t i = *n;

	/* In the order of the ports they start at: they read as a chain. */
	for (; i > 0 && parts[i - 1].low > low; i--)
		parts[i] = parts[i - 1];
	parts[i].low = low;
	snprintf(parts[i].text, sizeof(parts[i].text), "%s", text);
	(*n)++;
}

int pick_say_covered(const struct pick_words *w, const struct eph_pick *pk,
		     const struct eph_pick_result *r)
{
	struct part parts[66];
	char text[64], what[1024], pre[256];
	size_t n = 0, len = 0;
	uint16_t lo, hi;

	if (r->floor) {
		snprintf(text, sizeof(text), "the privileged ports (below %u)",
			 r->floor);
		part_add(parts, &n, 0, text);
	}
	if (r->host_covers) {
		eph_policy_range(eph_pick_policy(pk), &lo, &hi);
		snprintf(text, sizeof(text), "this host's range %u-%u", lo, hi);
		part_add(parts, &n, lo, text);
	}
	for (size_t i = 0; i < eph_os_count(); i++)
		if (r->systems_covering >> i & 1) {
			const struct eph_os *os = eph_os_get(i);

			snprintf(text, sizeof(text), "%s %u-%u", os->name,
				 os->low, os->high);
			part_add(parts, &n, os->low, text);
		}
	what[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(what); i++)
		len += (size_t)snprintf(what + len, sizeof(what) - len, "%s%s",
					i == 0	     ? ""
					: i + 1 == n ? " or "
						     : ", ",
					parts[i].text);
	cli_error(w->cli, "ranges-cover-all", EXIT_NO,
		  "no port in %u-%u can pass: each lies within %s",
		  r->window_low, r->window_high, what);
	/* What uncovers a port: each of the ranges named, or another one. */
	cli_prefix(w->cli, pre, sizeof(pre));
	fputs("To leave a port free: ", stderr);
	if (r->floor)
		fputs("--privileged, or ", stderr);
	if (r->systems_covering)
		fprintf(stderr,
			"fewer systems in --os (see '%sranges --os'), "
			"or ",
			pre);
	if (r->host_covers)
		fprintf(stderr, "another range here ('%sset-range'), or ", pre);
	fputs("a --range they leave free.\n", stderr);
	return EXIT_NO;
}

int pick_say_short(const struct pick_words *w, uint32_t count,
		   const struct eph_pick_result *r)
{
	uint32_t total = (uint32_t)r->window_high - r->window_low + 1;
	char hint[512];

	if (r->found)
		cli_error(
			w->cli, "too-few", EXIT_NO,
			"only %u port%s in %u-%u pass%s every rule, %u asked.",
			r->found, r->found == 1 ? "" : "s", r->window_low,
			r->window_high, r->found == 1 ? "es" : "", count);
	else
		cli_error(w->cli, "too-few", EXIT_NO,
			  "no port in %u-%u passes every rule.", r->window_low,
			  r->window_high);
	fprintf(stderr, "Of the %u candidates, the first rule each fails:\n",
		total);
	for (int i = 0; i < EPH_PICK_RULE__COUNT; i++)
		if (r->tally[i])
			fprintf(stderr, "  %-16s %u\n",
				eph_pick_rule_name((enum eph_pick_rule)i),
				r->tally[i]);
	relax(w, r->worst, hint, sizeof(hint));
	fprintf(stderr, "To relax the biggest one (%s): %s.\n",
		eph_pick_rule_name(r->worst), hint);
	return EXIT_NO;
}

/* The data behind a verdict, as JSON members. */
void pick_verdict_json(struct json *j, const struct eph_pick_verdict *v)
{
	switch (v->rule) {
	case EPH_PICK_RULE_PRIVILEGED:
		json_uint(j, "unprivileged_port_start", v->unprivileged_start);
		json_bool(j, "allowed", v->allowed);
		break;
	case EPH_PICK_RULE_HOST_RANGE:
		json_uint(j, "low", v->host_low);
		json_uint(j, "high", v->host_high);
		break;
	case EPH_PICK_RULE_OS_RANGE:
		json_arr(j, "systems");
		for (size_t i = 0; i < eph_os_count(); i++)
			if (v->systems >> i & 1)
				json_str(j, NULL, eph_os_get(i)->name);
		json_arr_end(j);
		break;
	case EPH_PICK_RULE_REGISTERED:
		json_str(j, "service", v->service);
		json_str(j, "file", v->services_path);
		json_bool(j, "allowed", v->allowed);
		break;
	case EPH_PICK_RULE_COMMON:
		json_bool(j, "checked", !v->skipped);
		json_uint(j, "top", v->common_top);
		break;
	case EPH_PICK_RULE_ASSIGNED:
		json_str(j, "assigned_to", v->pass ? NULL : v->assignment.name);
		json_str(j, "since", v->pass ? NULL : v->assignment.date);
		break;
	case EPH_PICK_RULE_IN_USE:
		json_uint(j, "sockets", v->sockets);
		break;
	case EPH_PICK_RULE_BINDABLE:
		if (v->pass) {
			json_null(j, "error");
			break;
		}
		json_obj(j, "error");
		json_str(j, "protocol", eph_proto_name(v->bind_proto));
		json_str(j, "family",
			 v->bind_family == AF_INET6 ? "ipv6" : "ipv4");
		json_str(j, "errno", strerrorname_np(v->bind_errno));
		json_obj_end(j);
		break;
	default:
		break;
	}
}
