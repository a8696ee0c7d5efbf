/* SPDX-License-Identifier: MIT */
/*
 * Thresholds, alert levels, and the ranking of destinations across
 * namespaces with what is past the top summed, fed with usages made by
 * hand; then the snapshot and the fleet against the kernel, in a network
 * namespace of the test's own (when it may make one): a listener in the
 * range, a connection to it, and every namespace of the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "socks.h"

/* The test runs in a network namespace of its own (needs root). */
static bool private_netns;

static void test_thresholds(void **state)
{
	struct eph_threshold t;

	(void)state;
	assert_int_equal(eph_threshold_parse(ctx, "66.7%", &t), 0);
	assert_true(t.percent && t.pct > 66.69 && t.pct < 66.71);
	assert_int_equal(eph_threshold_parse(ctx, "100%", &t), 0);
	assert_int_equal(eph_threshold_parse(ctx, "0.125%", &t), 0);
	assert_int_equal(eph_threshold_parse(ctx, "1000", &t), 0);
	assert_false(t.percent);
	assert_int_equal(t.free, 1000);
	assert_int_equal(eph_threshold_parse(ctx, "101%", &t), -EINVAL);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "\"101%\""));
	assert_int_equal(eph_threshold_parse(ctx, "1.2345%", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "5.%", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "%", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "65537", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "-1", &t), -EINVAL);
}

static void test_levels(void **state)
{
	struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;

	(void)state;
	assert_int_equal(eph_level_of(&th, 66.6, 10), EPH_LEVEL_OK);
	assert_int_equal(eph_level_of(&th, 66.7, 10), EPH_LEVEL_WARNING);
	assert_int_equal(eph_level_of(&th, 90.0, 10), EPH_LEVEL_CRITICAL);
	th.warn = (struct eph_threshold){ false, 0, 100 };
	th.crit = (struct eph_threshold){ false, 0, 10 };
	assert_int_equal(eph_level_of(&th, 99, 100), EPH_LEVEL_OK);
	assert_int_equal(eph_level_of(&th, 0, 99), EPH_LEVEL_WARNING);
	assert_int_equal(eph_level_of(&th, 0, 9), EPH_LEVEL_CRITICAL);
	assert_string_equal(eph_level_name(EPH_LEVEL_UNKNOWN), "UNKNOWN");
}

/* A snapshot whose usage holds USED connections toward each port of
 * RPORTS (20-port range), and UDP sockets on UDP ports. */
static struct eph_snapshot *snap(const uint16_t *rports, const uint32_t *used,
				 size_t n, uint32_t udp)
{
	struct eph_policy *p = policy_new();
	struct eph_usage *u = NULL;
	struct eph_snapshot *s = NULL;

	assert_non_null(p);
	assert_int_equal(eph_policy_set_range(p, 40000, 40019), 0);
	assert_int_equal(eph_usage_new(ctx, &u), 0);
	assert_int_equal(eph_usage_begin(u, p), 0);
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < used[i]; k++) {
			struct eph_sock so =
				sk("10.0.0.1", (uint16_t)(40000 + k),
				   "10.0.0.2", rports[i], EPH_TCP_ESTABLISHED);

			assert_int_equal(eph_usage_add(u, &so), 0);
		}
	for (uint32_t k = 0; k < udp; k++) {
		struct eph_sock so = sk("0.0.0.0", (uint16_t)(40000 + k),
					"0.0.0.0", 0, EPH_TCP_CLOSE);

		so.proto = IPPROTO_UDP;
		assert_int_equal(eph_usage_add(u, &so), 0);
	}
	assert_int_equal(eph_usage_end(u), 0);
	assert_int_equal(snapshot_wrap(ctx, p, u, &s), 0);
	return s;
}

static void test_ranking_keeps_the_top_and_sums_the_rest(void **state)
{
	static const uint16_t a_ports[] = { 1, 2, 3 };
	static const uint32_t a_used[] = { 19, 5, 1 };
	static const uint16_t b_ports[] = { 4, 5 };
	static const uint32_t b_used[] = { 12, 2 };
	struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	const struct eph_snapshot *snaps[3];
	struct eph_ranking *r;
	const struct eph_rollup *rest;

	(void)state;
	snaps[0] = snap(a_ports, a_used, 3, 0);
	snaps[1] = NULL; /* a namespace that could not be read */
	snaps[2] = snap(b_ports, b_used, 2, 15);
	assert_int_equal(eph_ranking_new(snaps, 3, &th, 2, &r), 0);
	assert_int_equal(eph_ranking_count(r), 5);
	assert_int_equal(eph_ranking_shown(r), 2);
	assert_int_equal(eph_ranking_get(r, 0)->source, 0);
	assert_int_equal(eph_ranking_get(r, 0)->tuple->remote_port, 1);
	assert_int_equal(eph_ranking_get(r, 0)->level, EPH_LEVEL_CRITICAL);
	assert_int_equal(eph_ranking_get(r, 1)->source, 2);
	assert_int_equal(eph_ranking_get(r, 1)->tuple->remote_port, 4);
	assert_int_equal(eph_ranking_get(r, 1)->level, EPH_LEVEL_OK);
	/* Past the top: ports 2 and 3 of the first, 5 of the last. */
	rest = eph_ranking_rest(r, 0);
	assert_int_equal(rest->tuples, 2);
	assert_int_equal(rest->used, 6);
	assert_int_equal(rest->min_free, 15);
	assert_int_equal(eph_ranking_rest(r, 1)->tuples, 0);
	assert_int_equal(eph_ranking_rest(r, 2)->tuples, 1);
	assert_int_equal(eph_ranking_rest_total(r)->tuples, 3);
	assert_int_equal(eph_ranking_rest_total(r)->used, 8);
	assert_int_equal(eph_ranking_level(r), EPH_LEVEL_CRITICAL);
	eph_ranking_free(r);

	/* UDP counts too: 15 of 20 is a warning. */
	assert_int_equal(eph_ranking_new(snaps + 2, 1, &th, 0, &r), 0);
	assert_int_equal(eph_ranking_shown(r), 2);
	assert_int_equal(eph_ranking_level(r), EPH_LEVEL_WARNING);
	{
		const struct eph_usage_udp *udp;
		size_t src;

		eph_ranking_udp_fullest(r, &src, &udp);
		assert_int_equal(src, 0);
		assert_int_equal(udp->used, 15);
	}
	eph_ranking_free(r);
	eph_snapshot_free((struct eph_snapshot *)snaps[0]);
	eph_snapshot_free((struct eph_snapshot *)snaps[2]);
}

/* The port the test listens on, inside the range it sets. */
#define LISTEN_PORT 40010

/* Brings up lo and sets a 20-port range, in the test's namespace. */
static void netns_prepare(void)
{
	static const char range[] = "40000 40019\n";
	int fd;

	unit_lo_up();
	fd = open("/proc/sys/net/ipv4/ip_local_port_range",
		  O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, range, sizeof(range) - 1),
			 (ssize_t)sizeof(range) - 1);
	close(fd);
}

/* The sockets: a listener on LISTEN_PORT, a connection to it from a port
 * of the range, and the connection it accepted. */
static int socks[3] = { -1, -1, -1 };

static void sockets_make(void)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(LISTEN_PORT);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socks[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(socks[0] >= 0);
	assert_int_equal(bind(socks[0], (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(socks[0], 8), 0);
	socks[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(socks[1] >= 0);
	assert_int_equal(connect(socks[1], (struct sockaddr *)&a, sizeof(a)),
			 0);
	socks[2] = accept4(socks[0], NULL, NULL, SOCK_CLOEXEC);
	assert_true(socks[2] >= 0);
}

static int group_teardown(void **state)
{
	for (int i = 0; i < 3; i++)
		if (socks[i] >= 0)
			close(socks[i]);
	return teardown(state);
}

static const struct eph_usage_blocker *blocker_on(const struct eph_usage *u,
						  uint16_t port)
{
	static const struct eph_usage_blocker none;

	for (size_t i = 0; i < eph_usage_blocker_count(u); i++)
		if (eph_usage_blocker(u, i)->port == port)
			return eph_usage_blocker(u, i);
	/* fail_msg() does not return: NONE only spares the caller a NULL. */
	fail_msg("port %u is not blocked", port);
	return &none;
}

/* One take sees the policy, the blocked port and the destination, the
 * risk, and the test's own pid behind both. */
static void test_snapshot_take_sees_the_kernel(void **state)
{
	struct eph_snapshot *s = NULL;
	const struct eph_usage *u;
	const struct eph_usage_blocker *b;
	const struct eph_usage_tuple *t;
	const struct eph_audit *a;
	const struct eph_risk *r;
	const struct eph_owner *o;
	uint8_t lo[16];
	uint16_t low, high;
	uint32_t inode;

	(void)state;
	if (!private_netns) {
		skip();
		return;
	}
	netns_prepare();
	sockets_make();
	assert_int_equal(eph_snapshot_new(ctx, &s), 0);
	assert_null(eph_snapshot_usage(s));
	assert_int_equal(
		eph_snapshot_take(s, EPH_SNAPSHOT_RISKS | EPH_SNAPSHOT_OWNERS),
		0);
	eph_policy_range(eph_snapshot_policy(s), &low, &high);
	assert_int_equal(low, 40000);
	assert_int_equal(high, 40019);

	/* The listener blocks its port for every destination. */
	u = eph_snapshot_usage(s);
	assert_non_null(u);
	b = blocker_on(u, LISTEN_PORT);
	assert_int_equal(b->state, EPH_TCP_LISTEN);
	inode = b->inode;
	o = eph_snapshot_owner(s, inode);
	assert_int_equal(o ? o->pid : -1, getpid());

	/* The connection is its destination's only one, of 19. */
	assert_int_equal(eph_usage_count(u), 1);
	t = eph_usage_get(u, 0);
	assert_non_null(t);
	v4(lo, "127.0.0.1");
	assert_memory_equal(t->remote, lo, 16);
	assert_int_equal(t->remote_port, LISTEN_PORT);
	assert_int_equal(t->established, 1);
	assert_int_equal(t->used, 1);
	assert_int_equal(t->capacity, 19);
	assert_int_equal(t->free, 18);

	/* The listener is a server the kernel may take the port of. */
	a = eph_snapshot_audit(s);
	assert_non_null(a);
	assert_int_equal(eph_audit_count(a), 1);
	r = eph_audit_get(a, 0);
	assert_int_equal(r->port, LISTEN_PORT);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_true(r->in_range);
	assert_int_equal(r->owner.pid, getpid());

	/* Taken again without flags: no audit, no owners. */
	assert_int_equal(eph_snapshot_take(s, 0), 0);
	assert_null(eph_snapshot_audit(s));
	assert_null(eph_snapshot_owner(s, inode));
	assert_int_equal(eph_usage_count(eph_snapshot_usage(s)), 1);
	eph_snapshot_free(s);
}

/* The fleet's member for the caller's own namespace, or N. */
static size_t current_of(const struct eph_fleet *f)
{
	size_t n = eph_fleet_count(f);

	for (size_t i = 0; i < n; i++)
		if (eph_fleet_netns(f, i)->current)
			return i;
	return n;
}

/* Every namespace: at least this one, read and labelled. */
static void test_fleet_scan_reads_this_namespace(void **state)
{
	struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	const struct eph_snapshot **snaps;
	struct eph_fleet *f = NULL;
	struct eph_ranking *rank;
	const struct eph_snapshot *s;
	const struct eph_netns *ns;
	char label[32];
	size_t i, n;
	int r;

	(void)state;
	assert_int_equal(eph_fleet_new(ctx, &f), 0);
	r = eph_fleet_scan(f, 0);
	assert_true(r >= 1);
	n = eph_fleet_count(f);
	assert_true((size_t)r <= n);
	i = current_of(f);
	assert_true(i < n);
	ns = eph_fleet_netns(f, i);
	s = eph_fleet_snapshot(f, i);
	assert_non_null(s);
	assert_non_null(eph_snapshot_usage(s));
	assert_int_equal(eph_fleet_errno(f, i), 0);
	assert_false(eph_fleet_vanished(f, i));
	assert_true(ns->label[0] != '\0' && ns->spec[0] != '\0');
	assert_true(eph_fleet_unread(f) <= n - (size_t)r);
	if (private_netns) {
		/* The test is the only process in its namespace. */
		snprintf(label, sizeof(label), "pid:%d", (int)getpid());
		assert_string_equal(ns->label, label);
		assert_false(ns->named);
		assert_int_equal(ns->pid, getpid());
		assert_int_equal(eph_usage_count(eph_snapshot_usage(s)), 1);
		assert_int_equal(
			eph_usage_get(eph_snapshot_usage(s), 0)->remote_port,
			LISTEN_PORT);
	}

	/* Everything read: the check's status is the ranking's level. */
	snaps = calloc(n, sizeof(*snaps));
	assert_non_null(snaps);
	for (size_t k = 0; k < n; k++)
		snaps[k] = eph_fleet_snapshot(f, k);
	assert_int_equal(eph_ranking_new(snaps, n, &th, 0, &rank), 0);
	if (eph_fleet_unread(f) == 0)
		assert_int_equal(eph_check_level(rank, f),
				 eph_ranking_level(rank));
	assert_int_equal(eph_check_level(rank, NULL), eph_ranking_level(rank));
	eph_ranking_free(rank);
	free(snaps);
	eph_fleet_free(f);
}

/*
 * A namespace that cannot be read is unread, and makes the check
 * UNKNOWN: in a mount namespace of the test's own, the test's
 * /proc/sys/net/ipv4 is hidden under an empty tmpfs, so that its policy
 * cannot be read (other namespaces' directories are other dentries, and
 * stay readable).
 */
static void test_fleet_counts_the_unread(void **state)
{
	struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	const struct eph_snapshot **snaps;
	struct eph_fleet *f = NULL;
	struct eph_ranking *rank;
	size_t i, n;

	(void)state;
	if (!private_netns || unshare(CLONE_NEWNS) < 0) {
		skip();
		return;
	}
	assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mount("none", "/proc/sys/net/ipv4", "tmpfs", 0, NULL),
			 0);
	assert_int_equal(eph_fleet_new(ctx, &f), 0);
	assert_true(eph_fleet_scan(f, 0) >= 0);
	n = eph_fleet_count(f);
	i = current_of(f);
	assert_true(i < n);
	assert_null(eph_fleet_snapshot(f, i));
	assert_int_equal(eph_fleet_errno(f, i), -ENOENT);
	assert_non_null(strstr(eph_fleet_error(f, i), "ip_local_port_range"));
	/* Not vanished: the test is alive and still in it. */
	assert_false(eph_fleet_vanished(f, i));
	assert_true(eph_fleet_unread(f) >= 1);
	snaps = calloc(n, sizeof(*snaps));
	assert_non_null(snaps);
	for (size_t k = 0; k < n; k++)
		snaps[k] = eph_fleet_snapshot(f, k);
	assert_int_equal(eph_ranking_new(snaps, n, &th, 0, &rank), 0);
	assert_int_equal(eph_check_level(rank, f), EPH_LEVEL_UNKNOWN);
	eph_ranking_free(rank);

	/* Shown again, the same fleet reads it on its next scan. */
	assert_int_equal(umount2("/proc/sys/net/ipv4", 0), 0);
	assert_true(eph_fleet_scan(f, 0) >= 1);
	i = current_of(f);
	assert_non_null(eph_fleet_snapshot(f, i));
	assert_int_equal(eph_fleet_errno(f, i), 0);
	free(snaps);
	eph_fleet_free(f);
}

/* A process's namespace is gone when its process is; a named one never. */
static void test_a_namespace_vanishes_with_its_process(void **state)
{
	struct eph_netns ns;
	struct stat st;
	char path[64], c;
	int p[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Waits until the test closes the pipe. */
		close(p[1]);
		_exit(read(p[0], &c, 1) < 0);
	}
	close(p[0]);
	memset(&ns, 0, sizeof(ns));
	ns.pid = (int32_t)pid;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	assert_int_equal(stat(path, &st), 0);
	ns.dev = (uint64_t)st.st_dev;
	ns.ino = (uint64_t)st.st_ino;
	assert_false(fleet_netns_gone(&ns));
	/* The pid in another namespace: not the one listed any more. */
	ns.ino++;
	assert_true(fleet_netns_gone(&ns));
	ns.ino--;
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(fleet_netns_gone(&ns));
	/* A namespace with a name was asked about, whatever happened. */
	ns.named = true;
	assert_false(fleet_netns_gone(&ns));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_ranking_keeps_the_top_and_sums_the_rest),
		cmocka_unit_test(test_snapshot_take_sees_the_kernel),
		cmocka_unit_test(test_fleet_scan_reads_this_namespace),
		cmocka_unit_test(test_fleet_counts_the_unread),
		cmocka_unit_test(test_a_namespace_vanishes_with_its_process),
	};

	/* A namespace of our own, when allowed: sockets of no one else, and
	 * a range the test may set. */
	private_netns = unshare(CLONE_NEWNET) == 0;
	return cmocka_run_group_tests(tests, setup, group_teardown);
}
