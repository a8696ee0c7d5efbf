/* SPDX-License-Identifier: MIT */
/* The shapes every front end prints (see shapes.h). */
#include <inttypes.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "shapes.h"

const char *shape_family(uint8_t family)
{
	return family == AF_INET6 ? "ipv6" : "ipv4";
}

const char *shape_user(uint32_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid((uid_t)uid);

	if (pw)
		snprintf(buf, size, "%s", pw->pw_name);
	else
		snprintf(buf, size, "%u", uid);
	return buf;
}

const char *shape_endpoint(const uint8_t addr[16], uint16_t port, char *buf,
			   size_t size)
{
	char a[64];
	bool v6 = memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0;

	eph_addr_format(addr, a, sizeof(a));
	snprintf(buf, size, v6 ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

void shape_procs_put(FILE *f, const struct eph_owner_proc *p, size_t n,
		     size_t max)
{
	size_t shown = n < max ? n : max;

	/* Processes of one name side by side: "nginx[100, 101], sshd[5]". */
	for (size_t i = 0; i < shown; i++) {
		bool same = i && !strcmp(p[i].comm, p[i - 1].comm);
		bool last = i + 1 == shown || strcmp(p[i].comm, p[i + 1].comm);

		fprintf(f, "%s%s%s%d%s", i ? ", " : "", same ? "" : p[i].comm,
			same ? "" : "[", p[i].pid, last ? "]" : "");
	}
	if (n > shown)
		fprintf(f, " and %zu more", n - shown);
}

const char *shape_procs(const struct eph_owner_proc *p, size_t n, size_t max,
			char *buf, size_t size)
{
	FILE *f = fmemopen(buf, size, "w");

	buf[0] = '\0';
	if (!f)
		return buf;
	/* A list too long for BUF is cut, as snprintf() would. */
	setvbuf(f, NULL, _IONBF, 0);
	shape_procs_put(f, p, n, max);
	fclose(f);
	buf[size - 1] = '\0';
	return buf;
}

const char *shape_process(const struct eph_owner *o, uint32_t uid, char *buf,
			  size_t size)
{
	if (o && o->nprocs)
		return shape_procs(o->procs, o->nprocs, 4, buf, size);
	if (o && o->pid >= 0)
		snprintf(buf, size, "%s[%d]", o->comm, o->pid);
	else if (o && !o->looked_up)
		snprintf(buf, size, "uid %u (not looked up)", uid);
	else
		snprintf(buf, size, "uid %u (process not found)", uid);
	return buf;
}

const char *shape_cgroup_short(const char *path, char *buf, size_t size)
{
	struct eph_container c;

	if (!path || !path[0])
		return NULL;
	if (eph_cgroup_container(path, &c))
		return eph_container_name(&c, buf, size);
	/* Straight into BUF: a unit name is cut at SIZE, not at a copy's. */
	return eph_cgroup_unit(path, buf, size);
}

const char *shape_cgroup_text(const char *path, char *buf, size_t size)
{
	struct eph_container c;
	char unit[256], name[128];

	if (!path || !path[0] || !strcmp(path, "/"))
		return NULL;
	if (eph_cgroup_container(path, &c))
		snprintf(buf, size, "container %s%s%s",
			 eph_container_name(&c, name, sizeof(name)),
			 c.pod[0] ? " of pod " : "", c.pod);
	else if (eph_cgroup_unit(path, unit, sizeof(unit)))
		snprintf(buf, size, "unit %s", unit);
	else
		snprintf(buf, size, "cgroup %s", path);
	return buf;
}

/* The "unit" and "container" members of cgroup PATH (NULL: unknown). */
static void shape_cgroup_members(struct json *j, const char *path)
{
	struct eph_container c;
	char unit[256];

	json_str(j, "unit",
		 path ? eph_cgroup_unit(path, unit, sizeof(unit)) : NULL);
	if (!path || !eph_cgroup_container(path, &c)) {
		json_null(j, "container");
		return;
	}
	json_obj(j, "container");
	json_str(j, "runtime", c.runtime);
	json_str(j, "id", c.id);
	json_str(j, "pod", c.pod[0] ? c.pod : NULL);
	json_obj_end(j);
}

void shape_owner(struct json *j, const char *key, const struct eph_owner *o,
		 bool has_uid, uint32_t uid)
{
	char user[64];
	bool known = o && o->pid >= 0;

	json_obj(j, key);
	if (known) {
		json_int(j, "pid", o->pid);
		json_str(j, "command", o->comm);
	} else {
		json_null(j, "pid");
		json_null(j, "command");
	}
	if (has_uid) {
		json_str(j, "user", shape_user(uid, user, sizeof(user)));
		json_uint(j, "uid", uid);
	} else {
		json_null(j, "user");
		json_null(j, "uid");
	}
	json_str(j, "cgroup", known && o->cgroup[0] ? o->cgroup : NULL);
	shape_cgroup_members(j, known && o->cgroup[0] ? o->cgroup : NULL);
	shape_procs_json(j, "processes", o ? o->procs : NULL,
			 o ? o->nprocs : 0);
	json_bool(j, "parent_first", o && o->parent_first);
	if (o)
		json_bool(j, "looked_up", o->looked_up);
	else
		json_null(j, "looked_up");
	json_obj_end(j);
}

void shape_procs_json(struct json *j, const char *key,
		      const struct eph_owner_proc *p, size_t n)
{
	json_arr(j, key);
	for (size_t i = 0; i < n; i++) {
		json_obj(j, NULL);
		json_int(j, "pid", p[i].pid);
		if (p[i].ppid >= 0)
			json_int(j, "ppid", p[i].ppid);
		else
			json_null(j, "ppid");
		json_str(j, "command", p[i].comm);
		json_obj_end(j);
	}
	json_arr_end(j);
}

void shape_sock_members(struct json *j, const struct eph_sock *s)
{
	char a[64];

	json_str(j, "proto", eph_proto_name(s->proto));
	json_str(j, "family", shape_family(s->family));
	json_str(j, "state",
		 s->proto == IPPROTO_UDP
			 ? (s->state == EPH_TCP_ESTABLISHED ? "CONNECTED"
							    : "BOUND")
			 : eph_tcp_state_name(s->state));
	json_str(j, "local", eph_addr_format(s->local, a, sizeof(a)));
	json_uint(j, "local_port", s->local_port);
	json_str(j, "remote", eph_addr_format(s->remote, a, sizeof(a)));
	json_uint(j, "remote_port", s->remote_port);
	json_bool(j, "explicit", s->flags & EPH_SOCK_PORT_LOCKED);
	json_uint(j, "inode", s->inode);
	json_uint(j, "cgroup_id", s->cgroup_id);
}

/* ---- Policy ---- */

void shape_policy(struct json *j, const struct eph_policy *p, bool with_os)
{
	const struct eph_portset *res = eph_policy_reserved(p);
	uint32_t in = eph_policy_reserved_in_range(p);
	char *list = eph_portset_to_string(res);
	uint16_t lo, hi;
	int64_t x;

	eph_policy_range(p, &lo, &hi);
	json_obj(j, "range");
	json_uint(j, "low", lo);
	json_uint(j, "high", hi);
	json_uint(j, "size", eph_policy_range_size(p));
	json_obj_end(j);
	json_obj(j, "reserved");
	json_str(j, "ports", list ? list : "");
	free(list);
	json_uint(j, "count", eph_portset_count(res));
	json_uint(j, "in_range", in);
	json_uint(j, "outside_range", eph_portset_count(res) - in);
	json_obj_end(j);
	json_uint(j, "available", eph_policy_available(p));
	for (int k = 0; k < EPH_KNOB__COUNT; k++) {
		/* "net.ipv4.tcp_tw_reuse" is reported as "tcp_tw_reuse". */
		const char *key = eph_knob_name((enum eph_knob)k) + 9;

		if (k == EPH_KNOB_UNPRIVILEGED_PORT_START)
			key = "unprivileged_port_start";
		if (eph_policy_knob(p, (enum eph_knob)k, &x) == 0)
			json_int(j, key, x);
		else
			json_null(j, key);
	}
	json_uint(j, "time_wait_seconds", 60);
	json_arr(j, "warnings");
	for (size_t i = 0; i < eph_policy_warning_count(p); i++) {
		const struct eph_warning *w = eph_policy_warning(p, i);

		json_obj(j, NULL);
		json_str(j, "code", w->code);
		json_str(j, "severity",
			 w->severity == EPH_SEV_WARNING ? "warning" : "info");
		json_str(j, "message", w->message);
		json_obj_end(j);
	}
	json_arr_end(j);
	if (!with_os)
		return;
	json_arr(j, "os");
	for (size_t i = 0; i < eph_os_count(); i++) {
		const struct eph_os *os = eph_os_get(i);

		json_obj(j, NULL);
		json_str(j, "name", os->name);
		json_str(j, "label", os->label);
		json_uint(j, "low", os->low);
		json_uint(j, "high", os->high);
		json_bool(j, "legacy", os->legacy);
		json_bool(j, "overlaps",
			  eph_ranges_overlap(lo, hi, os->low, os->high));
		json_uint(j, "shared_ports",
			  eph_ranges_shared(lo, hi, os->low, os->high));
		json_str(j, "where", os->where[0] ? os->where : NULL);
		json_str(j, "note", os->note);
		json_obj_end(j);
	}
	json_arr_end(j);
}

void shape_policy_text(const struct eph_policy *p, FILE *f)
{
	const struct eph_portset *res = eph_policy_reserved(p);
	uint32_t in = eph_policy_reserved_in_range(p);
	uint32_t out = eph_portset_count(res) - in;
	char text[512], *list;
	uint16_t lo, hi;

	eph_policy_range(p, &lo, &hi);
	fprintf(f, "  %-11s %u-%u (%u ports)\n", "range", lo, hi,
		eph_policy_range_size(p));
	list = eph_portset_to_string(res);
	if (!list || !list[0])
		snprintf(text, sizeof(text), "none");
	else if (out)
		snprintf(text, sizeof(text), "%.400s (%u in range, %u outside)",
			 list, in, out);
	else
		snprintf(text, sizeof(text), "%.400s (%u in range)", list, in);
	free(list);
	cli_wrap(f, "  reserved    ", text);
	fprintf(f, "  %-11s %u ports for connect() and bind(0)\n", "available",
		eph_policy_available(p));
	fprintf(f, "  %-11s ports below %u need CAP_NET_BIND_SERVICE\n",
		"privileged", eph_policy_unprivileged_start(p));
}

void shape_warnings_text(const struct eph_policy *p, FILE *f)
{
	size_t n = eph_policy_warning_count(p);

	if (n == 0)
		return;
	cli_section(f, "Warnings");
	for (size_t i = 0; i < n; i++) {
		const struct eph_warning *w = eph_policy_warning(p, i);
		bool warning = w->severity == EPH_SEV_WARNING;

		fprintf(f, "  %s%s%s [%s]\n",
			color_start(f, warning ? COLOR_WARN : COLOR_DIM),
			warning ? "warning" : "note", color_end(f), w->code);
		cli_wrap(f, "    ", w->message);
	}
}

/* ---- Usage ---- */

/* One UDP budget: member KEY, or an array element for address LOCAL. */
static void shape_udp(struct json *j, const char *key, const char *local,
		      const struct eph_usage_udp *u)
{
	json_obj(j, key);
	if (local)
		json_str(j, "local", local);
	json_uint(j, "sockets", u->sockets);
	json_uint(j, "used", u->used);
	json_uint(j, "capacity", u->capacity);
	json_uint(j, "free", u->free);
	json_fixed(j, "percent", eph_usage_udp_percent(u), 2);
	json_obj_end(j);
}

void shape_usage(struct json *j, const struct eph_snapshot *s)
{
	const struct eph_usage *u = eph_snapshot_usage(s);
	const struct eph_usage_summary *sum = eph_usage_summary(u);
	size_t nb = eph_usage_blocker_count(u);
	char a[64];

	json_obj(j, "range");
	json_uint(j, "low", sum->range_low);
	json_uint(j, "high", sum->range_high);
	json_uint(j, "size", sum->range_size);
	json_uint(j, "reserved", sum->reserved);
	json_bool(j, "same_parity", sum->same_parity);
	json_uint(j, "capacity", sum->capacity);
	json_uint(j, "capacity_min", sum->capacity_min);
	json_obj_end(j);
	json_uint(j, "blocked_ports", sum->blocked);
	json_arr(j, "blocked");
	for (size_t i = 0; i < nb; i++) {
		const struct eph_usage_blocker *b = eph_usage_blocker(u, i);

		json_obj(j, NULL);
		json_uint(j, "port", b->port);
		json_str(j, "state", eph_tcp_state_name(b->state));
		json_str(j, "local", eph_addr_format(b->local, a, sizeof(a)));
		json_uint(j, "sockets", b->sockets);
		json_uint(j, "inode", b->inode);
		json_uint(j, "cgroup_id", b->cgroup_id);
		shape_owner(j, "owner", eph_snapshot_owner(s, b->inode), true,
			    b->uid);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj(j, "tcp");
	json_uint(j, "sockets", sum->tcp_sockets);
	json_uint(j, "ports", sum->tcp_ports);
	json_uint(j, "destinations", sum->tuples);
	json_uint(j, "on_blocked_ports", sum->tcp_on_blocked);
	json_uint(j, "on_reserved_ports", sum->tcp_on_reserved);
	json_obj(j, "states");
	/* Some states share ss's name (CLOSE and BOUND_INACTIVE are both
	 * UNCONN): one member per name, with their sum. */
	for (uint8_t st = 1; st < EPH_TCP_MAX_STATES; st++) {
		const char *name = eph_tcp_state_name(st);
		uint64_t n = 0;
		bool first = true;

		for (uint8_t o = 1; o < EPH_TCP_MAX_STATES; o++) {
			if (strcmp(eph_tcp_state_name(o), name) != 0)
				continue;
			first &= o >= st;
			n += sum->tcp_by_state[o];
		}
		if (first && n)
			json_uint(j, name, n);
	}
	json_obj_end(j);
	json_obj_end(j);
	json_obj(j, "udp");
	json_uint(j, "sockets", sum->udp_sockets);
	shape_udp(j, "ipv4", NULL, &sum->udp4);
	shape_udp(j, "ipv6", NULL, &sum->udp6);
	shape_udp(j, "ipv6only", NULL, &sum->udp6only);
	shape_udp(j, "ipv4_address", NULL, &sum->udp4_addr);
	shape_udp(j, "ipv6_address", NULL, &sum->udp6_addr);
	json_arr(j, "addresses");
	for (size_t i = 0; i < eph_usage_udp_addr_count(u); i++) {
		const struct eph_usage_udp_addr *ua = eph_usage_udp_addr(u, i);

		shape_udp(j, NULL, eph_addr_format(ua->local, a, sizeof(a)),
			  &ua->udp);
	}
	json_arr_end(j);
	json_obj_end(j);
}

/* ---- Consumers ---- */

/* Long hex ids (container ids in unit names and cgroup paths) cut to
 * their first 12 digits and "...", as container tools show them. */
static void short_ids(char *s)
{
	char *p = s, *w = s;

	while (*p) {
		size_t n = strspn(p, "0123456789abcdef");

		if (n >= 32) {
			memmove(w, p, 12);
			memcpy(w + 12, "...", 3);
			w += 15;
		} else {
			memmove(w, p, n ? n : 1);
			w += n ? n : 1;
		}
		p += n ? n : 1;
	}
	*w = '\0';
}

const char *shape_consumer_label(enum eph_by by, const struct eph_consumer *x,
				 char *buf, size_t size)
{
	shape_consumer_name(by, x, buf, size);
	short_ids(buf);
	return buf;
}

const char *shape_consumer_name(enum eph_by by, const struct eph_consumer *x,
				char *buf, size_t size)
{
	switch (x->kind) {
	case EPH_CONSUMER_TIME_WAIT:
		snprintf(buf, size, "(TIME_WAIT, closed)");
		break;
	case EPH_CONSUMER_GONE:
		snprintf(buf, size, "(exited, uid %u)", x->uid);
		break;
	case EPH_CONSUMER_OUTSIDE:
		/* In no unit or container: its cgroup says where it is. */
		if (x->name[0])
			snprintf(buf, size, "cgroup %s", x->name);
		else
			snprintf(buf, size, "(cgroup unknown)");
		break;
	default:
		if (by == EPH_BY_USER)
			return shape_user(x->uid, buf, size);
		if (by == EPH_BY_PROCESS)
			snprintf(buf, size, "%s[%d]", x->name, x->pid);
		else
			snprintf(buf, size, "%s", x->name);
	}
	return buf;
}

static const char *const consumer_kinds[] = {
	[EPH_CONSUMER_NAMED] = "named",
	[EPH_CONSUMER_OUTSIDE] = "outside",
	[EPH_CONSUMER_TIME_WAIT] = "time_wait",
	[EPH_CONSUMER_GONE] = "gone",
};

void shape_consumer(struct json *j, enum eph_by by,
		    const struct eph_consumer *x, const uint32_t *share)
{
	bool named = x->kind == EPH_CONSUMER_NAMED;
	char buf[320];

	json_obj(j, NULL);
	json_str(j, "kind", consumer_kinds[x->kind]);
	/* Outside a unit or container: the cgroup's path, or null. */
	json_str(j, "name",
		 named ? shape_consumer_name(by, x, buf, sizeof(buf))
		 : x->kind == EPH_CONSUMER_OUTSIDE && x->name[0] ? x->name
								 : NULL);
	switch (by) {
	case EPH_BY_USER:
		json_str(j, "user", named ? buf : NULL);
		if (named)
			json_uint(j, "uid", x->uid);
		else
			json_null(j, "uid");
		break;
	case EPH_BY_PROCESS:
		if (named) {
			json_int(j, "pid", x->pid);
			json_str(j, "command", x->name);
		} else {
			json_null(j, "pid");
			json_null(j, "command");
		}
		json_str(j, "cgroup", x->cgroup[0] ? x->cgroup : NULL);
		shape_cgroup_members(j, x->cgroup[0] ? x->cgroup : NULL);
		break;
	case EPH_BY_CONTAINER:
		if (!named) {
			json_null(j, "container");
			break;
		}
		json_obj(j, "container");
		json_str(j, "runtime", x->container.runtime);
		json_str(j, "id", x->container.id);
		json_str(j, "pod",
			 x->container.pod[0] ? x->container.pod : NULL);
		json_obj_end(j);
		break;
	default:
		json_str(j, "cgroup", x->cgroup[0] ? x->cgroup : NULL);
		break;
	}
	if (share) {
		json_uint(j, "sockets", *share);
	} else {
		json_uint(j, "sockets", x->sockets);
		json_uint(j, "destinations", x->destinations);
	}
	json_obj_end(j);
}

void shape_consumers(struct json *j, const struct shape_by *by, size_t top)
{
	size_t n = eph_consumers_count(by->c);
	uint64_t rest = 0;

	json_str(j, "by", eph_by_name(by->by));
	json_arr(j, "consumers");
	for (size_t i = 0; i < n; i++) {
		const struct eph_consumer *x = eph_consumers_get(by->c, i);

		if (top && i >= top)
			rest += x->sockets;
		else
			shape_consumer(j, by->by, x, NULL);
	}
	json_arr_end(j);
	json_obj(j, "other_consumers");
	json_uint(j, "consumers", top && n > top ? n - top : 0);
	json_uint(j, "sockets", rest);
	json_obj_end(j);
}

void shape_consumers_text(const struct shape_by *by, size_t top, FILE *f)
{
	size_t n = eph_consumers_count(by->c), shown = top && top < n ? top : n;
	int w = 8;
	char name[320], svc[96];
	uint64_t rest = 0;

	fprintf(f, "Ports held by %s, toward every destination\n",
		eph_by_name(by->by));
	if (!n) {
		fprintf(f,
			"  none: no connection holds a port of the range.\n");
		return;
	}
	for (size_t i = 0; i < shown; i++) {
		int l = (int)strlen(shape_consumer_label(
			by->by, eph_consumers_get(by->c, i), name,
			sizeof(name)));

		w = l > w ? l : w;
	}
	w = w > 60 ? 60 : w;
	fprintf(f, "  %-*s %7s %12s%s\n", w,
		by->by == EPH_BY_PROCESS     ? "PROCESS"
		: by->by == EPH_BY_USER	     ? "USER"
		: by->by == EPH_BY_UNIT	     ? "UNIT"
		: by->by == EPH_BY_CONTAINER ? "CONTAINER"
					     : "CGROUP",
		"PORTS", "DESTINATIONS",
		by->by == EPH_BY_PROCESS ? "  SERVICE" : "");
	for (size_t i = 0; i < n; i++) {
		const struct eph_consumer *x = eph_consumers_get(by->c, i);

		if (i >= shown) {
			rest += x->sockets;
			continue;
		}
		fprintf(f, "  %-*.*s %7" PRIu64 " %12u", w, w,
			shape_consumer_label(by->by, x, name, sizeof(name)),
			x->sockets, x->destinations);
		if (by->by == EPH_BY_PROCESS)
			fprintf(f, "  %s",
				shape_cgroup_short(x->cgroup, svc, sizeof(svc))
					? svc
					: "-");
		fputc('\n', f);
	}
	if (shown < n)
		fprintf(f, "  ... %zu more holding %" PRIu64 " ports\n",
			n - shown, rest);
}

/* "held by: A 412, B 3, 2 more 7" under a destination row. */
static void shape_shares_text(const struct shape_by *by,
			      const struct eph_rank_row *row,
			      const char *indent, FILE *f)
{
	const struct eph_consumer_share *sh;
	size_t n = eph_consumers_of(by->c, by->snaps[row->source], row->tuple,
				    &sh);
	size_t shown = n < by->per_dest ? n : by->per_dest;
	char line[1024], name[320];
	size_t len;
	uint32_t rest = 0;

	if (!n)
		return;
	len = (size_t)snprintf(line, sizeof(line), "held by: ");
	for (size_t i = 0; i < n; i++) {
		if (i >= shown) {
			rest += sh[i].sockets;
			continue;
		}
		len += (size_t)snprintf(
			line + len, sizeof(line) - len, "%s%s %u",
			i ? ", " : "",
			shape_consumer_label(
				by->by,
				eph_consumers_get(by->c, sh[i].consumer), name,
				sizeof(name)),
			sh[i].sockets);
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
	}
	if (shown < n)
		snprintf(line + len, sizeof(line) - len, ", %zu more %u",
			 n - shown, rest);
	cli_wrap(f, indent, line);
}

void shape_tuple(struct json *j, const struct eph_rank_row *row,
		 const char *netns, const struct shape_by *by)
{
	json_obj(j, NULL);
	shape_tuple_members(j, row, netns);
	if (by) {
		const struct eph_consumer_share *sh;
		size_t n = eph_consumers_of(by->c, by->snaps[row->source],
					    row->tuple, &sh);

		json_arr(j, "consumers");
		for (size_t i = 0; i < n; i++)
			shape_consumer(j, by->by,
				       eph_consumers_get(by->c, sh[i].consumer),
				       &sh[i].sockets);
		json_arr_end(j);
	}
	json_obj_end(j);
}

void shape_tuple_members(struct json *j, const struct eph_rank_row *row,
			 const char *netns)
{
	const struct eph_usage_tuple *t = row->tuple;
	char a[64];

	if (netns)
		json_str(j, "netns", netns);
	json_str(j, "proto", eph_proto_name(t->proto));
	json_str(j, "family", shape_family(t->family));
	json_str(j, "local", eph_addr_format(t->local, a, sizeof(a)));
	json_str(j, "remote", eph_addr_format(t->remote, a, sizeof(a)));
	json_uint(j, "remote_port", t->remote_port);
	json_uint(j, "established", t->established);
	json_uint(j, "time_wait", t->time_wait);
	json_uint(j, "other", t->other);
	json_uint(j, "tw_reusable", t->tw_reusable);
	json_uint(j, "used", t->used);
	json_uint(j, "capacity", t->capacity);
	json_uint(j, "free", t->free);
	json_uint(j, "free_min", t->free_min);
	json_fixed(j, "percent", row->percent, 2);
	json_str(j, "level", eph_level_name(row->level));
}

/* Blocked ports grouped by the process that holds them. */
struct group {
	const struct eph_owner *o;
	uint32_t uid;
	uint32_t ports;
	uint16_t first[3];
};

static int group_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int32_t px = x->o ? x->o->pid : -1, py = y->o ? y->o->pid : -1;

	if (x->ports != y->ports)
		return x->ports > y->ports ? -1 : 1;
	return px < py ? -1 : px > py;
}

static size_t group_blockers(const struct eph_snapshot *s, struct group *g,
			     size_t max)
{
	const struct eph_usage *u = eph_snapshot_usage(s);
	size_t n = 0;

	for (size_t i = 0; i < eph_usage_blocker_count(u); i++) {
		const struct eph_usage_blocker *b = eph_usage_blocker(u, i);
		const struct eph_owner *o = eph_snapshot_owner(s, b->inode);
		size_t k;

		for (k = 0; k < n; k++)
			if (o ? g[k].o && g[k].o->pid == o->pid
			      : !g[k].o && g[k].uid == b->uid)
				break;
		if (k == n) {
			if (n == max)
				continue;
			memset(&g[n], 0, sizeof(g[n]));
			g[n].o = o;
			g[n].uid = b->uid;
			n++;
		}
		if (g[k].ports < 3)
			g[k].first[g[k].ports] = b->port;
		g[k].ports++;
	}
	if (n > 1)
		qsort(g, n, sizeof(*g), group_cmp);
	return n;
}

void shape_usage_text(const struct eph_snapshot *s, const char *indent, FILE *f)
{
	const struct eph_usage_summary *sum =
		eph_usage_summary(eph_snapshot_usage(s));
	char line[1024], first[64], name[64];
	struct group g[64];
	size_t n = 0, ng;

	snprintf(line, sizeof(line),
		 "Range %u-%u (%u ports): %u reserved, %u blocked for every "
		 "destination: %u per destination%s.",
		 sum->range_low, sum->range_high, sum->range_size,
		 sum->reserved, sum->blocked, sum->capacity,
		 sum->same_parity ? " (bounds of one parity: each connect() "
				    "misses one port, so the last may fail)"
				  : "");
	cli_wrap(f, indent, line);
	ng = group_blockers(s, g, sizeof(g) / sizeof(g[0]));
	for (size_t i = 0; i < ng && i < 3; i++) {
		n += (size_t)snprintf(
			line + n, sizeof(line) - n, "%s%s %u port%s (",
			i ? "; " : "",
			shape_process(g[i].o, g[i].uid, name, sizeof(name)),
			g[i].ports, g[i].ports == 1 ? "" : "s");
		for (uint32_t k = 0; k < g[i].ports && k < 3; k++)
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      "%s%u", k ? ", " : "",
					      g[i].first[k]);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s)",
				      g[i].ports > 3 ? ", ..." : "");
	}
	if (ng > 3)
		snprintf(line + n, sizeof(line) - n, "; %zu more holders",
			 ng - 3);
	if (ng) {
		snprintf(first, sizeof(first), "%sBlocked by: ", indent);
		cli_wrap(f, first, line);
	}
	snprintf(line, sizeof(line),
		 "%u TCP sockets on %u ports of the range: %u established, "
		 "%u TIME_WAIT, %u other; %u on blocked ports, %u on reserved "
		 "ports.",
		 sum->tcp_sockets, sum->tcp_ports,
		 sum->tcp_by_state[EPH_TCP_ESTABLISHED],
		 sum->tcp_by_state[EPH_TCP_TIME_WAIT],
		 sum->tcp_sockets - sum->tcp_by_state[EPH_TCP_ESTABLISHED] -
			 sum->tcp_by_state[EPH_TCP_TIME_WAIT],
		 sum->tcp_on_blocked, sum->tcp_on_reserved);
	cli_wrap(f, indent, line);
	snprintf(line, sizeof(line),
		 "UDP: IPv4 %u of %u ports in use (%.1f%%), %u free; IPv6 "
		 "%u of %u (%.1f%%), %u free; every UDP socket takes a port "
		 "of its own.",
		 sum->udp4.used, sum->udp4.capacity,
		 eph_usage_udp_percent(&sum->udp4), sum->udp4.free,
		 sum->udp6.used, sum->udp6.capacity,
		 eph_usage_udp_percent(&sum->udp6), sum->udp6.free);
	cli_wrap(f, indent, line);
}

void shape_table_text(const struct eph_ranking *r, const char *const *labels,
		      bool with_ns, const struct shape_by *by, FILE *f)
{
	size_t n = eph_ranking_count(r), shown = eph_ranking_shown(r);
	const struct eph_rollup *rest = eph_ranking_rest_total(r);
	int wn = 5, wl = 5, wr = 6;
	char a[80], b[80];

	if (n == 0) {
		fputs("No TCP connections from ports of the range: every "
		      "destination has the full capacity.\n",
		      f);
		return;
	}
	for (size_t i = 0; i < shown; i++) {
		const struct eph_rank_row *row = eph_ranking_get(r, i);
		const struct eph_usage_tuple *t = row->tuple;
		int l;

		l = (int)strlen(eph_addr_format(t->local, a, sizeof(a)));
		wl = l > wl ? l : wl;
		l = (int)strlen(shape_endpoint(t->remote, t->remote_port, b,
					       sizeof(b)));
		wr = l > wr ? l : wr;
		if (with_ns) {
			l = (int)strlen(labels[row->source]);
			wn = l > wn ? l : wn;
		}
	}
	if (with_ns)
		fprintf(f, "%-*s ", wn, "NETNS");
	fprintf(f, "%-5s %-*s %-*s %7s %7s %6s %8s %8s %7s %6s\n", "PROTO", wl,
		"LOCAL", wr, "REMOTE", "ESTAB", "TW", "OTHER", "TW-REUSE",
		"CAPACITY", "FREE", "USED%");
	for (size_t i = 0; i < shown; i++) {
		const struct eph_rank_row *row = eph_ranking_get(r, i);
		const struct eph_usage_tuple *t = row->tuple;
		char free[24];

		/* A row at a threshold is coloured whole, as its level. */
		if (row->level == EPH_LEVEL_CRITICAL)
			fputs(color_start(f, COLOR_CRIT), f);
		else if (row->level == EPH_LEVEL_WARNING)
			fputs(color_start(f, COLOR_WARN), f);
		if (with_ns)
			fprintf(f, "%-*s ", wn, labels[row->source]);
		/* With bounds of one parity the last port may be missed. */
		if (t->free_min != t->free)
			snprintf(free, sizeof(free), "%u-%u", t->free_min,
				 t->free);
		else
			snprintf(free, sizeof(free), "%u", t->free);
		fprintf(f, "%-5s %-*s %-*s %7u %7u %6u %8u %8u %7s %5.1f%s%s\n",
			"tcp", wl, eph_addr_format(t->local, a, sizeof(a)), wr,
			shape_endpoint(t->remote, t->remote_port, b, sizeof(b)),
			t->established, t->time_wait, t->other, t->tw_reusable,
			t->capacity, free, row->percent,
			row->level == EPH_LEVEL_CRITICAL  ? "  CRITICAL"
			: row->level == EPH_LEVEL_WARNING ? "  WARNING"
							  : "",
			row->level == EPH_LEVEL_CRITICAL ||
					row->level == EPH_LEVEL_WARNING
				? color_end(f)
				: "");
		if (by)
			shape_shares_text(by, row, "      ", f);
	}
	if (shown < n)
		fprintf(f,
			"... %u more destination%s with %" PRIu64
			" ports in use, the fullest %.1f%% used (--top 0 "
			"shows all)\n",
			rest->tuples, rest->tuples == 1 ? "" : "s", rest->used,
			rest->max_percent);
}

/* ---- Audit ---- */

static const char *risk_proto(const struct eph_risk *r)
{
	return r->proto ? eph_proto_name(r->proto) : "planned";
}

const char *shape_systems(uint64_t mask, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < eph_os_count() && n < size; i++) {
		const struct eph_os *os = eph_os_get(i);

		if (mask >> i & 1)
			n += (size_t)snprintf(buf + n, size - n, "%s%s %u-%u",
					      n ? ", " : "", os->name, os->low,
					      os->high);
	}
	return buf;
}

/* Why risk R is one, in words, into BUF. */
static const char *risk_reason(const struct eph_risk *r,
			       const struct eph_policy *p, char *buf,
			       size_t size)
{
	char os[512];
	uint16_t lo, hi;

	eph_policy_range(p, &lo, &hi);
	shape_systems(r->os_mask, os, sizeof(os));
	if (r->in_range)
		snprintf(
			buf, size,
			"inside the ephemeral range %u-%u, not reserved%s%.512s",
			lo, hi, os[0] ? "; also inside " : "", os);
	else
		snprintf(buf, size, "inside other systems' ranges: %.512s", os);
	return buf;
}

void shape_audit(struct json *j, const struct eph_audit *a,
		 const struct eph_policy *p)
{
	char why[640];

	char *need = eph_portset_to_string(eph_audit_fix(a));
	char *merged = eph_portset_to_string(eph_audit_merged(a));

	json_arr(j, "at_risk");
	for (size_t i = 0; i < eph_audit_count(a); i++) {
		const struct eph_risk *r = eph_audit_get(a, i);

		json_obj(j, NULL);
		json_uint(j, "port", r->port);
		json_str(j, "proto", risk_proto(r));
		json_bool(j, "in_this_range", r->in_range);
		json_str(j, "reason", risk_reason(r, p, why, sizeof(why)));
		json_arr(j, "other_systems");
		for (size_t k = 0; k < eph_os_count(); k++)
			if (r->os_mask >> k & 1)
				json_str(j, NULL, eph_os_get(k)->name);
		json_arr_end(j);
		if (r->proto) {
			shape_owner(j, "owner", &r->owner, true, r->uid);
			json_uint(j, "inode", r->inode);
			json_uint(j, "cgroup_id", r->cgroup_id);
		} else {
			json_null(j, "owner");
		}
		json_obj_end(j);
	}
	json_arr_end(j);
	json_str(j, "reserve", merged ? merged : "");
	json_str(j, "reserve_ports", need && need[0] ? need : NULL);
	free(need);
	free(merged);
}

bool shape_audit_text(const struct eph_audit *a, const struct eph_policy *p,
		      uint64_t os_mask, bool persistent, const char *prefix,
		      FILE *f)
{
	char proc[160], first[320], why[640], svc[96], *need, *merged;
	bool any_here = false;
	int width = 22;
	uint16_t lo, hi;

	(void)os_mask;
	eph_policy_range(p, &lo, &hi);
	if (eph_audit_count(a) == 0) {
		snprintf(why, sizeof(why),
			 "none: no listener or bound UDP socket sits in the "
			 "ephemeral range %u-%u unreserved.",
			 lo, hi);
		cli_wrap(f, "  ", why);
		return false;
	}
	/* The PROCESS column as wide as its longest entry: never cut. */
	for (size_t i = 0; i < eph_audit_count(a); i++) {
		const struct eph_risk *r = eph_audit_get(a, i);
		int len =
			r->proto
				? (int)strlen(shape_process(&r->owner, r->uid,
							    proc, sizeof(proc)))
				: 1;

		width = len > width ? len : width;
	}
	fprintf(f, "  %-6s %-8s %-*s %-20s %s\n", "PORT", "PROTO", width,
		"PROCESS", "SERVICE", "WHY");
	for (size_t i = 0; i < eph_audit_count(a); i++) {
		const struct eph_risk *r = eph_audit_get(a, i);

		if (!r->proto)
			snprintf(proc, sizeof(proc), "-");
		else
			shape_process(&r->owner, r->uid, proc, sizeof(proc));
		if (!r->proto || r->owner.pid < 0 ||
		    !shape_cgroup_short(r->owner.cgroup, svc, sizeof(svc)))
			snprintf(svc, sizeof(svc), "-");
		risk_reason(r, p, why, sizeof(why));
		snprintf(first, sizeof(first), "  %-6u %-8s %-*s %-20.20s ",
			 r->port, risk_proto(r), width, proc, svc);
		/* In this host's range: the kernel may take it now. */
		cli_wrap_role(f, r->in_range ? COLOR_CRIT : COLOR_WARN, first,
			      why);
		any_here |= r->in_range;
	}
	if (!any_here) {
		char text[1024];

		snprintf(text, sizeof(text),
			 "This host's range is not the problem: choose ports "
			 "outside those systems' ranges ('%sranges --os' lists "
			 "them; '%spick' finds one).",
			 prefix, prefix);
		fputc('\n', f);
		cli_wrap(f, "", text);
		return true;
	}
	need = eph_portset_to_string(eph_audit_fix(a));
	merged = eph_portset_to_string(eph_audit_merged(a));
	fprintf(f,
		"\n%sFix:%s reserve %s, so that autobind never hands %s out (a "
		"server's explicit\nbind still works), %s:\n"
		"  %s%sreserve %s%s\n"
		"The value it sets keeps what is reserved now:\n"
		"  net.ipv4.ip_local_reserved_ports = %s\n",
		color_start(f, COLOR_HEADING), color_end(f), need ? need : "?",
		need && (strchr(need, ',') || strchr(need, '-')) ? "them"
								 : "it",
		persistent ? "now and across reboots"
			   : "now (this namespace is not configured by "
			     "/etc/sysctl.d, so not across reboots)",
		color_start(f, COLOR_OK), prefix, need ? need : "?",
		color_end(f), merged ? merged : "?");
	free(need);
	free(merged);
	return true;
}

/* ---- The tracer's record ---- */

/* "10:41" today, else "2026-11-29 10:41", in local time. */
static const char *history_when(int64_t t, char *buf, size_t size)
{
	time_t s = (time_t)t, now = time(NULL);
	struct tm tm, today;

	localtime_r(&s, &tm);
	localtime_r(&now, &today);
	strftime(buf, size,
		 tm.tm_yday == today.tm_yday && tm.tm_year == today.tm_year
			 ? "%H:%M"
			 : "%Y-%m-%d %H:%M",
		 &tm);
	return buf;
}

static void doubts_text(char *buf, size_t size, uint32_t doubts)
{
	size_t n = 0;

	if (doubts & HISTORY_DOUBT_BLOCKING)
		n += (size_t)snprintf(
			buf + n, size - n,
			" Free counts may be too high: a connection that was "
			"bound first (bind(0), then connect()) or accepted by "
			"a listener that has since closed blocks its port for "
			"every destination, and looks like any other.");
	if ((doubts & HISTORY_DOUBT_TIMESTAMPS) && n < size)
		n += (size_t)snprintf(
			buf + n, size - n,
			" TIME_WAITs count as reusable by today's "
			"tcp_timestamps, not by whether each connection used "
			"timestamps.");
	if ((doubts & HISTORY_DOUBT_KINDS) && n < size)
		snprintf(buf + n, size - n,
			 " A TIME_WAIT's process is not known, and a "
			 "connection accepted by a listener that has closed "
			 "looks like an outgoing one.");
}

void shape_history_text(FILE *f, const char *indent,
			const struct eph_record *rec, uint32_t doubts)
{
	struct eph_record_info ri = { .state = EPH_RECORD_MISSING };
	char text[1536], why[1024] = "", t1[32];

	if (rec)
		eph_record_info(rec, &ri);
	if (ri.state == EPH_RECORD_USABLE) {
		snprintf(text, sizeof(text),
			 "History: since %s (kept by pid %d: 'ephport trace "
			 "--record' or 'serve --trace')%s",
			 history_when(ri.since, t1, sizeof(t1)), ri.writer_pid,
			 ri.complete ? "."
				     : "; incomplete: entries were dropped "
				       "for room or events lost, so some "
				       "sockets are not in it.");
		cli_wrap(f, indent, text);
		return;
	}
	doubts_text(why, sizeof(why), doubts);
	switch (ri.state) {
	case EPH_RECORD_STOPPED:
		snprintf(text, sizeof(text),
			 "No history: its recorder stopped at %s, so what "
			 "happened since is missing.%s",
			 history_when(ri.written, t1, sizeof(t1)), why);
		break;
	case EPH_RECORD_OTHER_NETNS:
		snprintf(text, sizeof(text),
			 "No history: the record is of another namespace.%s",
			 why);
		break;
	case EPH_RECORD_CORRUPT:
		snprintf(text, sizeof(text),
			 "No history: the record was refused (%s).%s",
			 ri.detail, why);
		break;
	default:
		snprintf(text, sizeof(text),
			 "No history ('ephport trace --record' keeps it).%s",
			 why);
		break;
	}
	cli_wrap(f, indent, text);
}

void shape_history(struct json *j, const struct eph_record *rec,
		   uint32_t doubts)
{
	struct eph_record_info ri = { .state = EPH_RECORD_MISSING };
	char buf[64];
	struct tm tm;
	time_t s;

	if (rec)
		eph_record_info(rec, &ri);
	json_obj(j, "history");
	json_str(j, "state", eph_record_state_code(ri.state));
	json_bool(j, "used", ri.state == EPH_RECORD_USABLE);
	if (ri.state == EPH_RECORD_USABLE || ri.state == EPH_RECORD_STOPPED ||
	    ri.state == EPH_RECORD_OTHER_NETNS) {
		s = (time_t)ri.since;
		gmtime_r(&s, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_str(j, "since", buf);
		json_int(j, "recorder_pid", ri.writer_pid);
		json_bool(j, "complete", ri.complete);
		json_uint(j, "entries", ri.entries);
	} else {
		json_null(j, "since");
		json_null(j, "recorder_pid");
		json_null(j, "complete");
		json_null(j, "entries");
	}
	json_str(j, "detail", ri.detail[0] ? ri.detail : NULL);
	json_arr(j, "doubts");
	if (ri.state != EPH_RECORD_USABLE) {
		if (doubts & HISTORY_DOUBT_BLOCKING)
			json_str(j, NULL, "bound-first-or-accepted");
		if (doubts & HISTORY_DOUBT_TIMESTAMPS)
			json_str(j, NULL, "time-wait-timestamps");
		if (doubts & HISTORY_DOUBT_KINDS)
			json_str(j, NULL, "holder-kinds");
	}
	json_arr_end(j);
	json_obj_end(j);
}

void shape_snapshot_history(struct json *j, const struct eph_snapshot *s)
{
	shape_history(j, eph_snapshot_record(s),
		      eph_usage_doubts(eph_snapshot_usage(s)));
}

void shape_snapshot_history_text(const struct eph_snapshot *s,
				 const char *indent, FILE *f)
{
	shape_history_text(f, indent, eph_snapshot_record(s),
			   eph_usage_doubts(eph_snapshot_usage(s)));
}
