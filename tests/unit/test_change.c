/* SPDX-License-Identifier: MIT */
/*
 * Planning and applying changes against fixture trees: the refusals, the
 * merge with the value a boot applies, the notes about other files, and
 * the drop-in written (or not) as planned. Sysctls come from /proc/sys
 * fixtures, sysctl.d files from trees under tests/fixtures/change; the
 * listener checks of set-range run in a private network namespace when
 * the test may make one.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#define ALL (EPH_CHANGE_RUNTIME | EPH_CHANGE_PERSIST)
#define DRY (ALL | EPH_CHANGE_DRY_RUN)

/* In a network namespace of our own: no one else's listeners. */
static bool private_netns;

static struct eph_portset *ports(const char *s)
{
	static struct eph_portset *ps[8];
	static size_t next;
	struct eph_portset **p = &ps[next++ % ARRAY_SIZE(ps)];

	eph_portset_free(*p);
	*p = ps_new();
	assert_non_null(*p);
	assert_int_equal(eph_portset_parse(ctx, *p, s, strlen(s)), 0);
	return *p;
}

static void assert_ports(const struct eph_portset *ps, const char *want)
{
	char *got;

	assert_non_null(ps);
	got = eph_portset_to_string(ps);
	assert_string_equal(got, want);
	free(got);
}

/* Plans REQ with the sysctl.d files of ROOT and the sysctls of PROCSYS. */
static int plan_at(const char *root, const char *procsys,
		   const struct eph_change_request *req, struct eph_change **c)
{
	int r;

	assert_int_equal(eph_ctx_set_root(ctx, root), 0);
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, procsys), 0);
	r = eph_change_plan(ctx, req, c);
	assert_int_equal(eph_ctx_set_root(ctx, NULL), 0);
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, NULL), 0);
	return r;
}

/* The same with the fixtures TREE (under change/) and PROCSYS. */
static struct eph_change *plan_fix(const char *tree, const char *procsys,
				   enum eph_change_kind kind, const char *list,
				   uint16_t low, uint16_t high, uint32_t flags)
{
	struct eph_change_request req = { .kind = kind,
					  .low = low,
					  .high = high,
					  .reason = "api server",
					  .flags = flags };
	char root[PATH_MAX], sys[PATH_MAX];
	struct eph_change *c = NULL;

	snprintf(root, sizeof(root), "%s/change/%s", FIXTURES, tree);
	snprintf(sys, sizeof(sys), "%s/procsys/%s", FIXTURES, procsys);
	if (list)
		req.ports = ports(list);
	if (plan_at(root, sys, &req, &c) < 0)
		fail_msg("plan: %s", eph_ctx_errmsg(ctx));
	return c;
}

static const struct eph_change_note *find_note(const struct eph_change *c,
					       enum eph_change_note_code code)
{
	for (size_t i = 0; i < eph_change_note_count(c); i++)
		if (eph_change_note(c, i)->code == code)
			return eph_change_note(c, i);
	return NULL;
}

/* The note CODE, which must be there (never NULL, for the compiler). */
static const struct eph_change_note *note(const struct eph_change *c,
					  enum eph_change_note_code code)
{
	static const struct eph_change_note none;
	const struct eph_change_note *n = find_note(c, code);

	if (!n)
		fail_msg("no note %s", eph_change_note_name(code));
	return n ? n : &none;
}

/* The refusal, which must be there. */
static const struct eph_change_refusal *refusal(const struct eph_change *c)
{
	static const struct eph_change_refusal none;
	const struct eph_change_refusal *r = eph_change_refusal(c);

	if (!r)
		fail_msg("not refused");
	return r ? r : &none;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && strcmp(s + a - b, tail) == 0;
}

static bool diff_has(const struct eph_change *c, enum eph_change_diff_op op,
		     const char *line)
{
	for (size_t i = 0; i < eph_change_diff_count(c); i++) {
		const struct eph_change_diff *d = eph_change_diff(c, i);

		if (d->op == op && d->len == strlen(line) &&
		    memcmp(d->text, line, d->len) == 0)
			return true;
	}
	return false;
}

/* ---- Reserve ---- */

static void test_reserve_merges_boot_value(void **state)
{
	struct eph_change *c;
	const struct eph_change_runtime *rt;
	const struct eph_change_persist *ps;
	const struct eph_change_note *n;
	char today[11], line[128], path[PATH_MAX];

	(void)state;
	c = plan_fix("merge", "reserved", EPH_CHANGE_RESERVE, "36601", 0, 0,
		     DRY);
	assert_null(eph_change_refusal(c));
	assert_string_equal(eph_change_key(c),
			    "net.ipv4.ip_local_reserved_ports");
	rt = eph_change_runtime(c);
	assert_true(rt->enabled);
	assert_true(rt->changed);
	assert_ports(rt->before, "8080,40000-40002");
	assert_ports(rt->after, "8080,36601,40000-40002");

	ps = eph_change_persist(c);
	assert_true(ps->enabled);
	assert_true(ps->changed);
	snprintf(path, sizeof(path),
		 "%s/change/merge/etc/sysctl.d/99-zz-ephport.conf", FIXTURES);
	assert_string_equal(ps->path, path);
	assert_non_null(ps->old_content);
	/* The value a boot applies today (the drop-in's, which holds
	 * 50-app.conf's too), plus the new port. */
	assert_non_null(strstr(ps->new_content,
			       "\nnet.ipv4.ip_local_reserved_ports = "
			       "8090,9000,36601\n"));
	assert_non_null(strstr(ps->new_content,
			       "# reserved 9000 on 2026-01-01: old\n"));
	num_today(today);
	snprintf(line, sizeof(line), "# reserved 36601 on %s: api server\n",
		 today);
	assert_non_null(strstr(ps->new_content, line));
	assert_non_null(strstr(ps->new_content, "wins at boot"));
	assert_true(ps->wins);
	assert_true(ps->wins_system);
	assert_null(ps->winner);
	assert_true(eph_change_boots(c));

	n = note(c, EPH_CHANGE_NOTE_FILE_LOSES);
	assert_true(ends_with(n->file, "/usr/lib/sysctl.d/50-app.conf"));
	assert_int_equal(n->line, 1);
	assert_string_equal(n->value, "8090");
	n = note(c, EPH_CHANGE_NOTE_BAD_LINE);
	assert_true(ends_with(n->file, "/etc/sysctl.d/10-bad.conf"));
	assert_int_equal(n->line, 1);
	/* The kernel's own entries are in no file: a reboot drops them. */
	n = note(c, EPH_CHANGE_NOTE_RUNTIME_ONLY);
	assert_ports(n->ports, "8080,40000-40002");
	assert_null(find_note(c, EPH_CHANGE_NOTE_FILE_WINS));

	assert_true(diff_has(c, EPH_CHANGE_DIFF_REMOVED,
			     "net.ipv4.ip_local_reserved_ports = 8090,9000"));
	line[strlen(line) - 1] = '\0';
	assert_true(diff_has(c, EPH_CHANGE_DIFF_ADDED, line));
	assert_true(diff_has(c, EPH_CHANGE_DIFF_SAME,
			     "# reserved 9000 on 2026-01-01: old"));
	assert_int_equal(eph_change_apply(c), -EINVAL);
	eph_change_free(c);
}

static void test_reserve_again_changes_no_file(void **state)
{
	struct eph_change *c;

	(void)state;
	c = plan_fix("merge", "reserved", EPH_CHANGE_RESERVE, "9000", 0, 0,
		     DRY);
	assert_false(eph_change_persist(c)->changed);
	assert_string_equal(eph_change_persist(c)->new_content,
			    eph_change_persist(c)->old_content);
	/* The kernel lacks it, though. */
	assert_true(eph_change_runtime(c)->changed);
	eph_change_free(c);
}

static void test_later_file_wins(void **state)
{
	struct eph_change *c;
	const struct eph_change_persist *ps;
	const struct eph_change_note *n;

	(void)state;
	c = plan_fix("later", "reserved", EPH_CHANGE_RESERVE, "36602", 0, 0,
		     DRY);
	assert_null(eph_change_refusal(c));
	ps = eph_change_persist(c);
	assert_false(ps->wins);
	assert_false(ps->wins_system);
	assert_string_equal(ps->winner->file, "/etc/sysctl.d/zz-late.conf");
	assert_string_equal(ps->winner_system->file, "/etc/sysctl.conf");
	assert_false(eph_change_boots(c));
	/* The drop-in keeps what boots today and does not claim to win. */
	assert_non_null(strstr(ps->new_content,
			       "net.ipv4.ip_local_reserved_ports = 1,36602\n"));
	assert_null(strstr(ps->new_content, "wins at boot"));
	assert_non_null(strstr(ps->new_content, "It does not win at boot"));
	n = note(c, EPH_CHANGE_NOTE_FILE_WINS);
	assert_true(ends_with(n->file, "/etc/sysctl.d/zz-late.conf"));
	assert_string_equal(n->value, "1");
	n = note(c, EPH_CHANGE_NOTE_SYSCTL_CONF_WINS);
	assert_int_equal(n->line, 2);
	assert_string_equal(n->value, "2");
	/* zz-late.conf's "1" is what boots: the new port does not. */
	n = note(c, EPH_CHANGE_NOTE_RUNTIME_ONLY);
	assert_ports(n->ports, "8080,36602,40000-40002");
	eph_change_free(c);
}

static void test_runtime_only_notes(void **state)
{
	struct eph_change *c;
	const struct eph_change_note *n;

	(void)state;
	/* Only the kernel: the new port is not in the value a boot
	 * applies, and the drop-in is not touched. */
	c = plan_fix("merge", "reserved", EPH_CHANGE_RESERVE, "36601", 0, 0,
		     EPH_CHANGE_RUNTIME | EPH_CHANGE_DRY_RUN);
	assert_false(eph_change_persist(c)->enabled);
	assert_int_equal(eph_change_diff_count(c), 0);
	n = note(c, EPH_CHANGE_NOTE_RUNTIME_ONLY);
	assert_ports(n->ports, "8080,36601,40000-40002");
	assert_true(eph_change_boots(c));
	eph_change_free(c);
}

static void test_too_little_left(void **state)
{
	const struct eph_change_refusal *no;
	struct eph_change *c;
	const struct eph_change_note *n;

	(void)state;
	/* Range 40000-40099 with 40000-40049 reserved: one more leaves 49
	 * of 100. */
	c = plan_fix("empty", "heavy-reserved", EPH_CHANGE_RESERVE, "40060", 0,
		     0, DRY);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT);
	assert_true(no->force_overrides);
	assert_int_equal(no->left, 49);
	assert_int_equal(no->size, 100);
	assert_int_equal(no->low, 40000);
	assert_int_equal(no->high, 40099);
	assert_string_equal(eph_change_refusal_name(no->code),
			    "too-little-left");
	eph_change_free(c);

	c = plan_fix("empty", "heavy-reserved", EPH_CHANGE_RESERVE, "40060", 0,
		     0, DRY | EPH_CHANGE_FORCE);
	assert_null(eph_change_refusal(c));
	n = note(c, EPH_CHANGE_NOTE_LITTLE_LEFT);
	assert_int_equal(n->left, 49);
	eph_change_free(c);

	/* A range of 4 ports: 3 left is more than half; the 1000-port
	 * floor is for ranges that had that many. */
	c = plan_fix("empty", "small", EPH_CHANGE_RESERVE, "40001", 0, 0, DRY);
	assert_null(eph_change_refusal(c));
	eph_change_free(c);
	c = plan_fix("empty", "small", EPH_CHANGE_RESERVE, "40001-40002", 0, 0,
		     DRY);
	assert_null(eph_change_refusal(c));
	eph_change_free(c);
	c = plan_fix("empty", "small", EPH_CHANGE_RESERVE, "40001-40003", 0, 0,
		     DRY);
	assert_int_equal(refusal(c)->code, EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT);
	eph_change_free(c);

	/* Outside the range, nothing is taken from autobind. */
	c = plan_fix("empty", "heavy-reserved", EPH_CHANGE_RESERVE, "50001", 0,
		     0, DRY);
	assert_null(eph_change_refusal(c));
	eph_change_free(c);
}

/* ---- Unreserve ---- */

static void test_unreserve(void **state)
{
	const struct eph_change_refusal *no;
	struct eph_change *c;
	const struct eph_change_note *n;

	(void)state;
	/* Reserved only in the drop-in: removed from it and its note. */
	c = plan_fix("merge", "reserved", EPH_CHANGE_UNRESERVE, "9000", 0, 0,
		     DRY);
	assert_null(eph_change_refusal(c));
	assert_false(eph_change_runtime(c)->changed);
	assert_non_null(strstr(eph_change_persist(c)->new_content,
			       "net.ipv4.ip_local_reserved_ports = 8090\n"));
	assert_null(strstr(eph_change_persist(c)->new_content, "# reserved"));
	eph_change_free(c);

	/* Reserved nowhere: refused, whatever else is asked. */
	c = plan_fix("merge", "reserved", EPH_CHANGE_UNRESERVE, "7777", 0, 0,
		     DRY | EPH_CHANGE_FORCE);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_NOT_RESERVED);
	assert_false(no->force_overrides);
	assert_ports(no->ports, "7777");
	eph_change_free(c);
	c = plan_fix("merge", "reserved", EPH_CHANGE_UNRESERVE, "7777", 0, 0,
		     EPH_CHANGE_RUNTIME);
	assert_non_null(eph_change_refusal(c));
	assert_int_equal(eph_change_apply(c), -ECANCELED);
	eph_change_free(c);

	/* Some reserved, some not: done, with a note for the others. */
	c = plan_fix("merge", "reserved", EPH_CHANGE_UNRESERVE, "7777,8080", 0,
		     0, DRY);
	assert_null(eph_change_refusal(c));
	assert_ports(eph_change_runtime(c)->after, "40000-40002");
	n = note(c, EPH_CHANGE_NOTE_NOT_RESERVED);
	assert_ports(n->ports, "7777");
	eph_change_free(c);
}

/* ---- Files ephport will not rewrite ---- */

static void test_foreign_dropin(void **state)
{
	const struct eph_change_refusal *no;
	struct eph_change *c;

	(void)state;
	c = plan_fix("foreign", "reserved", EPH_CHANGE_RESERVE, "9000", 0, 0,
		     DRY);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_DROPIN_FOREIGN);
	assert_true(ends_with(no->file, "/etc/sysctl.d/99-zz-ephport.conf"));
	assert_int_equal(no->line, 2);
	assert_non_null(strstr(no->detail, "99-zz-ephport.conf:2: a key "
					   "ephport does not manage"));
	eph_change_free(c);
	/* The kernel alone may still be changed. */
	c = plan_fix("foreign", "reserved", EPH_CHANGE_RESERVE, "9000", 0, 0,
		     EPH_CHANGE_RUNTIME | EPH_CHANGE_DRY_RUN);
	assert_null(eph_change_refusal(c));
	eph_change_free(c);
}

static void test_bad_boot_value(void **state)
{
	const struct eph_change_refusal *no;
	struct eph_change *c;

	(void)state;
	c = plan_fix("badboot", "reserved", EPH_CHANGE_RESERVE, "9000", 0, 0,
		     DRY);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_BOOT_VALUE_BAD);
	assert_true(ends_with(no->file, "/usr/lib/sysctl.d/60-x.conf"));
	assert_int_equal(no->line, 1);
	eph_change_free(c);
}

/* An absolute link inside the root resolves inside it, never on the host
 * (where /etc/ephport-test-escape.conf does not exist). */
static void test_links_resolve_inside_root(void **state)
{
	struct eph_change *c;
	const struct eph_change_note *n;

	(void)state;
	c = plan_fix("escape", "default", EPH_CHANGE_RESERVE, "9000", 0, 0,
		     DRY);
	assert_non_null(strstr(eph_change_persist(c)->new_content,
			       "net.ipv4.ip_local_reserved_ports = "
			       "4444,9000\n"));
	n = note(c, EPH_CHANGE_NOTE_FILE_LOSES);
	assert_true(ends_with(n->file, "/usr/lib/sysctl.d/50-link.conf"));
	assert_string_equal(n->value, "4444");
	eph_change_free(c);
}

/* ---- set-range ---- */

static void test_set_range_refusals(void **state)
{
	const struct eph_change_refusal *no;
	const struct eph_change_note *n;
	struct eph_change *c;

	(void)state;
	if (!private_netns)
		skip();
	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 500, 60000,
		     DRY | EPH_CHANGE_FORCE);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_BELOW_UNPRIVILEGED);
	assert_int_equal(no->unprivileged, 1024);
	assert_false(no->force_overrides);
	eph_change_free(c);

	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 40000,
		     40000, DRY);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_ONE_PORT);
	assert_true(no->force_overrides);
	eph_change_free(c);

	/* Forced, a one-port range has no range of different parity
	 * inside it to suggest. */
	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 40000,
		     40000, DRY | EPH_CHANGE_FORCE);
	assert_null(eph_change_refusal(c));
	n = note(c, EPH_CHANGE_NOTE_LITTLE_LEFT);
	assert_int_equal(n->left, 1);
	n = note(c, EPH_CHANGE_NOTE_SAME_PARITY);
	assert_int_equal(n->low, 0);
	assert_int_equal(n->high, 0);
	eph_change_free(c);

	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 40000,
		     40500, DRY);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT);
	assert_int_equal(no->left, 501);
	assert_int_equal(no->size, 501);
	eph_change_free(c);

	/* Three ports of one parity: the suggestion is not inverted. */
	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 40000,
		     40002, DRY | EPH_CHANGE_FORCE);
	n = note(c, EPH_CHANGE_NOTE_SAME_PARITY);
	assert_int_equal(n->low, 40000);
	assert_int_equal(n->high, 40001);
	eph_change_free(c);
}

static void test_set_range(void **state)
{
	const struct eph_change_runtime *rt;
	const struct eph_change_note *n;
	struct eph_change *c;

	(void)state;
	if (!private_netns)
		skip();
	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 40000,
		     50000, DRY);
	assert_null(eph_change_refusal(c));
	assert_string_equal(eph_change_key(c), "net.ipv4.ip_local_port_range");
	rt = eph_change_runtime(c);
	assert_true(rt->changed);
	assert_int_equal(rt->low_before, 32768);
	assert_int_equal(rt->high_before, 60999);
	assert_int_equal(rt->low_after, 40000);
	assert_int_equal(rt->high_after, 50000);
	assert_null(eph_change_persist(c)->old_content);
	assert_non_null(strstr(eph_change_persist(c)->new_content,
			       "\nnet.ipv4.ip_local_port_range = 40000 "
			       "50000\n"));
	n = note(c, EPH_CHANGE_NOTE_SAME_PARITY);
	assert_int_equal(n->low, 40000);
	assert_int_equal(n->high, 49999);
	eph_change_free(c);
}

static int sock_on(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static void test_set_range_listeners(void **state)
{
	const struct eph_change_refusal *no;
	const struct eph_change_note *n;
	struct eph_change *c;
	int tcp, udp, res;

	(void)state;
	if (!private_netns)
		skip();
	tcp = sock_on(SOCK_STREAM, 45000);
	udp = sock_on(SOCK_DGRAM, 45001);
	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 44000,
		     50001, DRY);
	no = refusal(c);
	assert_int_equal(no->code, EPH_CHANGE_REFUSED_LISTENERS);
	assert_true(no->force_overrides);
	assert_ports(no->ports, "45000-45001");
	eph_change_free(c);
	c = plan_fix("empty", "default", EPH_CHANGE_SET_RANGE, NULL, 44000,
		     50001, DRY | EPH_CHANGE_FORCE);
	assert_null(eph_change_refusal(c));
	n = note(c, EPH_CHANGE_NOTE_LISTENERS_INSIDE);
	assert_ports(n->ports, "45000-45001");
	assert_null(find_note(c, EPH_CHANGE_NOTE_SAME_PARITY));
	eph_change_free(c);
	close(tcp);
	close(udp);

	/*
	 * From the default range with 40000-40049 reserved, 40000-41049
	 * leaves 1000 ports: enough. A listener on a reserved port changes
	 * nothing; one more on a free port leaves 999, too few.
	 */
	res = sock_on(SOCK_STREAM, 40010);
	c = plan_fix("empty", "wide-reserved", EPH_CHANGE_SET_RANGE, NULL,
		     40000, 41049, DRY);
	assert_null(eph_change_refusal(c));
	assert_null(find_note(c, EPH_CHANGE_NOTE_LITTLE_LEFT));
	eph_change_free(c);
	tcp = sock_on(SOCK_STREAM, 41000);
	/* From a range already that small (100 ports, 50 reserved), the
	 * same 999 are more than autobind has now: only the half rule
	 * (forced past the listener, no note of too little left). */
	c = plan_fix("empty", "heavy-reserved", EPH_CHANGE_SET_RANGE, NULL,
		     40000, 41049, DRY | EPH_CHANGE_FORCE);
	assert_null(find_note(c, EPH_CHANGE_NOTE_LITTLE_LEFT));
	eph_change_free(c);
	c = plan_fix("empty", "wide-reserved", EPH_CHANGE_SET_RANGE, NULL,
		     40000, 41049, DRY | EPH_CHANGE_FORCE);
	n = note(c, EPH_CHANGE_NOTE_LITTLE_LEFT);
	assert_int_equal(n->left, 999);
	assert_int_equal(n->size, 1050);
	n = note(c, EPH_CHANGE_NOTE_LISTENERS_INSIDE);
	assert_ports(n->ports, "41000");
	eph_change_free(c);
	close(tcp);
	close(res);

	/*
	 * 40000-40099 with 40000-40049 reserved: reserving 40060 leaves 49
	 * of 100, refused; with a server on 40060 it takes nothing from
	 * autobind, and audit's advice is accepted as given.
	 */
	tcp = sock_on(SOCK_STREAM, 40060);
	c = plan_fix("empty", "heavy-reserved", EPH_CHANGE_RESERVE, "40060", 0,
		     0, DRY);
	assert_null(eph_change_refusal(c));
	assert_null(find_note(c, EPH_CHANGE_NOTE_LITTLE_LEFT));
	eph_change_free(c);
	close(tcp);
}

/* ---- Which namespace the files set up ---- */

static void test_not_persisted_outside_boot(void **state)
{
	struct eph_change_request req = { .kind = EPH_CHANGE_RESERVE,
					  .ports = ports("9000"),
					  .flags = DRY };
	struct eph_change *c = NULL;
	char spec[64];
	int mine;

	(void)state;
	if (!private_netns)
		skip();
	/*
	 * Aim at the namespace we are in, then leave it for another: it is
	 * neither init's nor the caller's, whether or not init's can be
	 * read here.
	 */
	mine = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(mine >= 0);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	snprintf(spec, sizeof(spec), "/proc/self/fd/%d", mine);
	assert_int_equal(eph_ctx_set_netns(ctx, spec), 0);
	/* No root of its own: /etc/sysctl.d is the boot namespace's. */
	assert_int_equal(eph_change_plan(ctx, &req, &c), 0);
	assert_false(eph_change_persist(c)->enabled);
	assert_false(eph_change_flags(c) & EPH_CHANGE_PERSIST);
	assert_non_null(find_note(c, EPH_CHANGE_NOTE_NOT_PERSISTED));
	assert_null(find_note(c, EPH_CHANGE_NOTE_RUNTIME_ONLY));
	eph_change_free(c);
	req.flags = EPH_CHANGE_PERSIST | EPH_CHANGE_DRY_RUN;
	assert_int_equal(eph_change_plan(ctx, &req, &c), -EINVAL);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "a root of its own"));
	assert_int_equal(eph_ctx_set_netns(ctx, NULL), 0);
	assert_int_equal(setns(mine, CLONE_NEWNET), 0);
	close(mine);
}

static void test_bad_requests(void **state)
{
	struct eph_change_request req = { .kind = EPH_CHANGE_RESERVE,
					  .ports = ports("0,9000"),
					  .flags = DRY };
	char reason[EPH_CHANGE_REASON_MAX + 2];
	struct eph_change *c = NULL;

	(void)state;
	assert_int_equal(eph_change_plan(ctx, &req, &c), -EINVAL);
	req.ports = ports("");
	assert_int_equal(eph_change_plan(ctx, &req, &c), -EINVAL);
	req.ports = ports("9000");
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	req.reason = reason;
	assert_int_equal(eph_change_plan(ctx, &req, &c), -EINVAL);
	req.reason = NULL;
	req.flags = EPH_CHANGE_DRY_RUN;
	assert_int_equal(eph_change_plan(ctx, &req, &c), -EINVAL);
	req.kind = EPH_CHANGE_SET_RANGE;
	req.low = 5000;
	req.high = 4000;
	req.flags = DRY;
	assert_int_equal(eph_change_plan(ctx, &req, &c), -EINVAL);
	assert_null(c);
}

/* ---- Applying, in a scratch tree ---- */

static char scratch[64];

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch, rel);
	for (char *s = strchr(path + strlen(scratch) + 1, '/'); s;
	     s = strchr(s + 1, '/')) {
		*s = '\0';
		(void)mkdir(path, 0755);
		*s = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *get(const char *rel)
{
	static char buf[4096];
	char path[PATH_MAX];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int plan_scratch(const struct eph_change_request *req,
			struct eph_change **c)
{
	char root[PATH_MAX], sys[PATH_MAX];

	snprintf(root, sizeof(root), "%s/root", scratch);
	snprintf(sys, sizeof(sys), "%s/sys", scratch);
	return plan_at(root, sys, req, c);
}

static bool leftovers(void)
{
	char dir[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/root/etc/sysctl.d", scratch);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".99-zz-ephport.conf.", 20) == 0)
			found = true;
	closedir(d);
	return found;
}

static void test_apply(void **state)
{
	static const char *const knobs[] = {
		"ip_unprivileged_port_start",
		"tcp_fin_timeout",
		"tcp_max_tw_buckets",
		"tcp_timestamps",
		"tcp_tw_reuse",
		"tcp_tw_reuse_delay",
	};
	struct eph_change_request req = { .kind = EPH_CHANGE_RESERVE,
					  .ports = ports("36601"),
					  .reason = "api",
					  .flags = ALL };
	struct eph_change *c;
	struct rlimit lim, small;
	char path[PATH_MAX], *old;
	FILE *f;

	(void)state;
	/* Only where a mistake would change a namespace of our own. */
	if (!private_netns)
		skip();
	assert_non_null(unit_tmpdir(scratch, sizeof(scratch), "test-change"));
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		char rel[128], text[64];
		size_t n;

		snprintf(path, sizeof(path), "%s/procsys/default/net/ipv4/%s",
			 FIXTURES, knobs[i]);
		f = fopen(path, "r");
		assert_non_null(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
		snprintf(rel, sizeof(rel), "sys/net/ipv4/%s", knobs[i]);
		put(rel, text);
	}
	put("sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
	put("sys/net/ipv4/ip_local_reserved_ports", "8081\n");
	put("root/etc/sysctl.d/README", "");
	put("root/usr/lib/sysctl.d/50-app.conf",
	    "net.ipv4.ip_local_reserved_ports = 8080\n");

	/* Done: the kernel (a file here) and the drop-in. */
	assert_int_equal(plan_scratch(&req, &c), 0);
	if (eph_change_apply(c) < 0)
		fail_msg("apply: %s", eph_ctx_errmsg(ctx));
	assert_memory_equal(get("sys/net/ipv4/ip_local_reserved_ports"),
			    "8081,36601", 10);
	assert_string_equal(get("root/etc/sysctl.d/99-zz-ephport.conf"),
			    eph_change_persist(c)->new_content);
	assert_int_equal(eph_change_apply(c), -EALREADY);
	eph_change_free(c);

	/*
	 * A value that does not read back (a file keeps the longer old
	 * text, as another writer would) is put back and reported.
	 */
	req.kind = EPH_CHANGE_UNRESERVE;
	req.flags = EPH_CHANGE_RUNTIME;
	assert_int_equal(plan_scratch(&req, &c), 0);
	assert_int_equal(eph_change_apply(c), -EIO);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "read back"));
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "the old value is back"));
	assert_memory_equal(get("sys/net/ipv4/ip_local_reserved_ports"),
			    "8081,36601", 10);
	eph_change_free(c);

	/*
	 * A drop-in that cannot be written (files limited to 32 bytes)
	 * leaves the old one, no temporary file, and the kernel's value
	 * as it was.
	 */
	req.kind = EPH_CHANGE_SET_RANGE;
	req.low = 40000;
	req.high = 50001;
	req.flags = ALL | EPH_CHANGE_FORCE;
	old = strdup(get("root/etc/sysctl.d/99-zz-ephport.conf"));
	assert_int_equal(plan_scratch(&req, &c), 0);
	assert_true(eph_change_persist(c)->changed);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small = lim;
	small.rlim_cur = 32;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(eph_change_apply(c), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "the old value is back"));
	assert_string_equal(get("sys/net/ipv4/ip_local_port_range"),
			    "32768 60999\n");
	assert_string_equal(get("root/etc/sysctl.d/99-zz-ephport.conf"), old);
	assert_false(leftovers());
	free(old);
	eph_change_free(c);

	assert_int_equal(nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void test_reserve_in_one_call(void **state)
{
	char root[PATH_MAX], sys[PATH_MAX];
	struct eph_change *c = NULL;

	(void)state;
	snprintf(root, sizeof(root), "%s/change/empty", FIXTURES);
	snprintf(sys, sizeof(sys), "%s/procsys/heavy-reserved", FIXTURES);
	assert_int_equal(eph_ctx_set_root(ctx, root), 0);
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, sys), 0);
	assert_int_equal(eph_change_reserve(ctx, ports("40060"), "x", DRY, &c),
			 1);
	assert_int_equal(refusal(c)->code, EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT);
	eph_change_free(c);
	assert_int_equal(eph_change_reserve(ctx, ports("50001"), "x", DRY, &c),
			 0);
	assert_null(eph_change_refusal(c));
	eph_change_free(c);
	assert_int_equal(eph_ctx_set_root(ctx, NULL), 0);
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve_merges_boot_value),
		cmocka_unit_test(test_reserve_again_changes_no_file),
		cmocka_unit_test(test_later_file_wins),
		cmocka_unit_test(test_runtime_only_notes),
		cmocka_unit_test(test_too_little_left),
		cmocka_unit_test(test_unreserve),
		cmocka_unit_test(test_foreign_dropin),
		cmocka_unit_test(test_bad_boot_value),
		cmocka_unit_test(test_links_resolve_inside_root),
		cmocka_unit_test(test_set_range_refusals),
		cmocka_unit_test(test_set_range),
		cmocka_unit_test(test_set_range_listeners),
		cmocka_unit_test(test_not_persisted_outside_boot),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_reserve_in_one_call),
	};

	/* A namespace of our own, when allowed: sockets of no one else. */
	private_netns = unshare(CLONE_NEWNET) == 0;
	return cmocka_run_group_tests(tests, setup, teardown);
}
