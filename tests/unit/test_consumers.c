/* SPDX-License-Identifier: MIT */
/*
 * Consumers: the unit and the container a cgroup path names (paths as
 * systemd, docker, containerd, Kubernetes, CRI-O, podman, LXC and nspawn
 * write them), and the counts by user, cgroup, unit and process of
 * usages fed by hand, with real cgroups made under the hierarchy and a
 * real socket for the process walk.
 */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "socks.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void unit_is(const char *path, const char *want)
{
	char buf[256];
	const char *got = eph_cgroup_unit(path, buf, sizeof(buf));

	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void test_units(void **state)
{
	(void)state;
	unit_is("/system.slice/nginx.service", "nginx.service");
	unit_is("/system.slice/nginx.service/worker", "nginx.service");
	/* The outermost unit: a user's manager, not what runs under it. */
	unit_is("/user.slice/user-1000.slice/user@1000.service/app.slice/"
		"app-gnome-firefox-1234.scope",
		"user@1000.service");
	unit_is("/user.slice/user-1000.slice/session-3.scope",
		"session-3.scope");
	unit_is("/system.slice/docker-" ID64 ".scope", "docker-" ID64 ".scope");
	/* No service or scope: the innermost slice. */
	unit_is("/kubepods.slice/kubepods-burstable.slice",
		"kubepods-burstable.slice");
	unit_is("/", NULL);
	unit_is("", NULL);
	unit_is("/mygroup/sub", NULL);
	unit_is("//system.slice//cron.service//", "cron.service");
	/* A name ending like a unit only at the end counts. */
	unit_is("/not.servicex", NULL);
}

static void container_is(const char *path, const char *runtime, const char *id,
			 const char *pod)
{
	struct eph_container c;

	if (!runtime) {
		assert_false(eph_cgroup_container(path, &c));
		return;
	}
	assert_true(eph_cgroup_container(path, &c));
	assert_string_equal(c.runtime, runtime);
	assert_string_equal(c.id, id);
	assert_string_equal(c.pod, pod);
}

static void test_containers(void **state)
{
	(void)state;
	/* docker, systemd and cgroupfs drivers */
	container_is("/system.slice/docker-" ID64 ".scope", "docker", ID64, "");
	container_is("/docker/" ID64, "docker", ID64, "");
	/* Kubernetes with containerd, systemd driver: the pod's UID with its
	 * dashes back */
	container_is("/kubepods.slice/kubepods-burstable.slice/"
		     "kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_"
		     "b5c6d7e8f901.slice/cri-containerd-" ID64 ".scope",
		     "containerd", ID64,
		     "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901");
	/* Kubernetes, cgroupfs driver: the runtime is not in the path */
	container_is("/kubepods/besteffort/pod1b2c3d4e-5f60-7182-93a4-"
		     "b5c6d7e8f901/" ID64,
		     "kubernetes", ID64,
		     "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901");
	container_is("/kubepods.slice/kubepods-podabc.slice/crio-" ID64
		     ".scope",
		     "cri-o", ID64, "abc");
	container_is("/machine.slice/libpod-" ID64 ".scope", "podman", ID64,
		     "");
	container_is("/user.slice/user-1000.slice/user@1000.service/"
		     "user.slice/libpod-" ID64 ".scope/container",
		     "podman", ID64, "");
	container_is("/libpod_parent/libpod-" ID64, "podman", ID64, "");
	container_is("/lxc.payload.web1", "lxc", "web1", "");
	container_is("/lxc/web1", "lxc", "web1", "");
	container_is("/machine.slice/machine-debian.scope", "nspawn", "debian",
		     "");
	/* nerdctl (containerd), systemd and cgroupfs; containerd's
	 * namespaces; docker's moby; CRI-O under cgroupfs */
	container_is("/system.slice/nerdctl-" ID64 ".scope", "containerd", ID64,
		     "");
	container_is("/default/" ID64, "containerd", ID64, "");
	container_is("/k8s.io/" ID64, "containerd", ID64, "");
	container_is("/moby/" ID64, "docker", ID64, "");
	container_is("/kubepods/burstable/podabc/crio-" ID64, "cri-o", ID64,
		     "abc");
	/* systemd machines, their names unescaped: libvirt's VMs and LXC
	 * domains apart from nspawn */
	container_is("/machine.slice/machine-qemu\\x2d1\\x2dwin10.scope",
		     "libvirt", "1-win10", "");
	container_is("/machine.slice/machine-lxc\\x2d2\\x2dweb.scope",
		     "libvirt-lxc", "2-web", "");
	container_is("/machine.slice/machine-my\\x2dbox.scope", "nspawn",
		     "my-box", "");
	/* Not containers */
	container_is("/system.slice/containerd.service", NULL, NULL, NULL);
	container_is("/system.slice/docker.service", NULL, NULL, NULL);
	container_is("/docker", NULL, NULL, NULL);
	container_is("/system.slice/docker-notanid.scope", NULL, NULL, NULL);
	container_is("/", NULL, NULL, NULL);
	container_is("/user.slice/user-1000.slice", NULL, NULL, NULL);
	/* Uppercase hex is no id the runtimes write */
	container_is("/docker/0123456789ABCDEF", NULL, NULL, NULL);
}

static void test_container_names(void **state)
{
	struct eph_container c = { "docker", ID64, "" };
	char buf[128];

	(void)state;
	assert_string_equal(eph_container_name(&c, buf, sizeof(buf)),
			    "docker:0123456789ab");
	snprintf(c.runtime, sizeof(c.runtime), "lxc");
	snprintf(c.id, sizeof(c.id), "web-frontend-1");
	assert_string_equal(eph_container_name(&c, buf, sizeof(buf)),
			    "lxc:web-frontend-1");
}

static void test_by_names(void **state)
{
	enum eph_by by;

	(void)state;
	for (int i = EPH_BY_UNIT; i <= EPH_BY_PROCESS; i++) {
		assert_int_equal(eph_by_parse(eph_by_name((enum eph_by)i), &by),
				 0);
		assert_int_equal(by, i);
	}
	assert_int_equal(eph_by_parse("units", &by), -EINVAL);
	assert_int_equal(eph_by_parse("", &by), -EINVAL);
}

/* ---- Counting ---- */

static struct eph_policy *range20(void)
{
	struct eph_policy *p = policy_new();

	assert_non_null(p);
	assert_int_equal(eph_policy_set_range(p, 40000, 40019), 0);
	return p;
}

/* A snapshot around a usage the test feeds itself. */
static struct eph_snapshot *wrap(struct eph_usage **u)
{
	struct eph_snapshot *s = NULL;

	assert_int_equal(eph_usage_new(ctx, u), 0);
	assert_int_equal(snapshot_wrap(ctx, range20(), *u, &s), 0);
	return s;
}

static struct eph_sock conn(uint16_t lport, uint16_t rport, uint32_t uid,
			    uint64_t cgroup)
{
	struct eph_sock s =
		sk("10.0.0.1", lport, "10.0.0.2", rport, EPH_TCP_ESTABLISHED);

	s.uid = uid;
	s.cgroup_id = cgroup;
	return s;
}

static struct eph_usage_tuple dest(uint16_t rport)
{
	struct eph_usage_tuple t;

	memset(&t, 0, sizeof(t));
	v4(t.local, "10.0.0.1");
	v4(t.remote, "10.0.0.2");
	t.remote_port = rport;
	return t;
}

static int lookup(void *data, const struct eph_sock *s,
		  struct eph_history_entry *ret)
{
	(void)data;
	if (s->cookie != 7)
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	ret->pid = 4242;
	snprintf(ret->comm, sizeof(ret->comm), "curl");
	ret->cgroup_id = 0;
	return 0;
}

static const struct eph_consumer *share(const struct eph_consumers *c,
					const struct eph_snapshot *s,
					uint16_t rport, size_t i,
					uint32_t *sockets)
{
	const struct eph_consumer_share *sh;
	struct eph_usage_tuple t = dest(rport);
	size_t n = eph_consumers_of(c, s, &t, &sh);

	assert_true(i < n);
	*sockets = sh[i].sockets;
	return eph_consumers_get(c, sh[i].consumer);
}

/* On policy P: uid 0 four connections to :80 (cgroup CG_A); uid 1000
 * two to :80 and one to :443 (cgroup CG_B); two TIME_WAITs to :443, the
 * one of cookie 7 known to the history. */
static void feed_on(struct eph_usage *u, const struct eph_policy *p,
		    uint64_t cg_a, uint64_t cg_b)
{
	struct eph_sock t1 = tw("10.0.0.1", 40010, "10.0.0.2", 443, 1000);
	struct eph_sock t2 = tw("10.0.0.1", 40011, "10.0.0.2", 443, 1000);
	struct eph_sock so;

	t1.cookie = 7;
	t2.cookie = 8;
	assert_int_equal(eph_usage_begin(u, p), 0);
	for (uint16_t k = 0; k < 4; k++) {
		so = conn((uint16_t)(40000 + k), 80, 0, cg_a);
		assert_int_equal(eph_usage_add(u, &so), 0);
	}
	for (uint16_t k = 4; k < 6; k++) {
		so = conn((uint16_t)(40000 + k), 80, 1000, cg_b);
		assert_int_equal(eph_usage_add(u, &so), 0);
	}
	so = conn(40006, 443, 1000, cg_b);
	assert_int_equal(eph_usage_add(u, &so), 0);
	assert_int_equal(eph_usage_add(u, &t1), 0);
	assert_int_equal(eph_usage_add(u, &t2), 0);
	assert_int_equal(eph_usage_end(u), 0);
}

static void test_by_user(void **state)
{
	struct eph_history h = { lookup, NULL };
	struct eph_consumers *c = NULL;
	struct eph_usage *u;
	struct eph_snapshot *s = wrap(&u);
	const struct eph_consumer *x;
	uint32_t n;

	(void)state;
	assert_int_equal(eph_consumers_new(ctx, EPH_BY_USER, &h, &c), 0);
	assert_int_equal(eph_consumers_watch(c, s), 0);
	/* Twice: the counts start again with each feed, never doubled. */
	for (int round = 0; round < 2; round++) {
		feed_on(u, eph_snapshot_policy(s), 0, 0);
		assert_int_equal(eph_consumers_resolve(c), 3);
		x = eph_consumers_get(c, 0);
		assert_int_equal(x->kind, EPH_CONSUMER_NAMED);
		assert_int_equal(x->uid, 0);
		assert_int_equal(x->sockets, 4);
		assert_int_equal(x->destinations, 1);
		x = eph_consumers_get(c, 1);
		assert_int_equal(x->uid, 1000);
		assert_int_equal(x->sockets, 3);
		assert_int_equal(x->destinations, 2);
		/* By user, a record's pid says nothing: both TIME_WAITs are
		 * the kernel's. */
		x = eph_consumers_get(c, 2);
		assert_int_equal(x->kind, EPH_CONSUMER_TIME_WAIT);
		assert_int_equal(x->sockets, 2);
		assert_null(eph_consumers_get(c, 3));
		/* Per destination, fullest first. */
		x = share(c, s, 443, 0, &n);
		assert_int_equal(x->kind, EPH_CONSUMER_TIME_WAIT);
		assert_int_equal(n, 2);
		x = share(c, s, 443, 1, &n);
		assert_int_equal(x->uid, 1000);
		assert_int_equal(n, 1);
	}
	{
		const struct eph_consumer_share *sh;
		struct eph_usage_tuple t = dest(22);

		assert_int_equal(eph_consumers_of(c, s, &t, &sh), 0);
	}
	eph_consumers_free(c);
	/* Freed first, the watch is gone: the snapshot feeds on alone. */
	feed_on(u, eph_snapshot_policy(s), 0, 0);
	eph_snapshot_free(s);
}

/* A cgroup made for the test under the hierarchy; its id. */
static uint64_t make_cgroup(char *path, size_t size, const char *mount,
			    const char *rel)
{
	struct stat st;

	/* A path cut short would be some other directory. */
	if ((size_t)snprintf(path, size, "%s%s", mount, rel) >= size)
		return 0;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return 0;
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* The test's cgroups, removed whatever happens. */
static char a[4200], b[4200], top[4200];

static int cgroups_teardown(void **state)
{
	(void)state;
	rmdir(a);
	rmdir(b);
	rmdir(top);
	return 0;
}

static void test_by_cgroup_and_unit(void **state)
{
	char mount[4096], rel[128];
	struct eph_consumers *byc = NULL, *byu = NULL;
	struct eph_usage *u;
	struct eph_snapshot *s;
	const struct eph_consumer *x;
	uint64_t ida, idb;
	uint32_t n;

	(void)state;
	if (cgroup_mount(mount, sizeof(mount)) < 0 || geteuid() != 0) {
		skip();
		return;
	}
	snprintf(rel, sizeof(rel), "/ephport-test-%d.service", (int)getpid());
	if (!make_cgroup(top, sizeof(top), mount, rel)) {
		skip();
		return;
	}
	ida = make_cgroup(a, sizeof(a), top, "/a");
	idb = make_cgroup(b, sizeof(b), top, "/b");
	assert_true(ida && idb);
	s = wrap(&u);
	assert_int_equal(eph_consumers_new(ctx, EPH_BY_CGROUP, NULL, &byc), 0);
	assert_int_equal(eph_consumers_new(ctx, EPH_BY_UNIT, NULL, &byu), 0);
	assert_int_equal(eph_consumers_watch(byc, s), 0);
	assert_int_equal(eph_consumers_watch(byu, s), 0);
	/* Watching twice counts once. */
	assert_int_equal(eph_consumers_watch(byu, s), 0);
	feed_on(u, eph_snapshot_policy(s), ida, idb);

	/* By cgroup: each directory by its path. */
	assert_int_equal(eph_consumers_resolve(byc), 3);
	x = eph_consumers_get(byc, 0);
	assert_int_equal(x->kind, EPH_CONSUMER_NAMED);
	assert_int_equal(x->sockets, 4);
	assert_non_null(strstr(x->name, rel));
	assert_string_equal(x->name + strlen(x->name) - 2, "/a");
	x = eph_consumers_get(byc, 1);
	assert_int_equal(x->sockets, 3);
	assert_string_equal(x->name + strlen(x->name) - 2, "/b");

	/* By unit: both are the test's service. */
	assert_int_equal(eph_consumers_resolve(byu), 2);
	x = eph_consumers_get(byu, 0);
	assert_int_equal(x->kind, EPH_CONSUMER_NAMED);
	assert_int_equal(x->sockets, 7);
	assert_int_equal(x->destinations, 2);
	assert_string_equal(x->name, rel + 1);
	x = share(byu, s, 80, 0, &n);
	assert_int_equal(n, 6);
	x = eph_consumers_get(byu, 1);
	assert_int_equal(x->kind, EPH_CONSUMER_TIME_WAIT);

	/* By container: none of them is one. */
	{
		struct eph_consumers *byk = NULL;

		assert_int_equal(
			eph_consumers_new(ctx, EPH_BY_CONTAINER, NULL, &byk),
			0);
		assert_int_equal(eph_consumers_watch(byk, s), 0);
		feed_on(u, eph_snapshot_policy(s), ida, idb);
		/* Each cgroup by its path, outside any container. */
		assert_int_equal(eph_consumers_resolve(byk), 3);
		x = eph_consumers_get(byk, 0);
		assert_int_equal(x->kind, EPH_CONSUMER_OUTSIDE);
		assert_int_equal(x->sockets, 4);
		assert_string_equal(x->name + strlen(x->name) - 2, "/a");
		assert_string_equal(x->cgroup, x->name);
		x = eph_consumers_get(byk, 1);
		assert_int_equal(x->kind, EPH_CONSUMER_OUTSIDE);
		assert_int_equal(x->sockets, 3);
		eph_consumers_free(byk);
	}

	/* A cgroup removed since the dump: unknown, not a guess. */
	feed_on(u, eph_snapshot_policy(s), ida, idb);
	assert_int_equal(rmdir(b), 0);
	assert_int_equal(eph_consumers_resolve(byc), 3);
	x = eph_consumers_get(byc, 1);
	assert_int_equal(x->kind, EPH_CONSUMER_OUTSIDE);
	assert_int_equal(x->sockets, 3);
	assert_string_equal(x->name, "");

	eph_consumers_free(byc);
	eph_consumers_free(byu);
	eph_snapshot_free(s);
}

/* A child holding a socket: its pid, and the socket's inode in *INODE. */
static pid_t child_with_socket(uint32_t *inode)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct stat st;
		uint32_t ino = 0;

		if (fd >= 0 && fstat(fd, &st) == 0)
			ino = (uint32_t)st.st_ino;
		if (write(p[1], &ino, sizeof(ino)) != sizeof(ino))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], inode, sizeof(*inode)), sizeof(*inode));
	close(p[0]);
	assert_true(*inode != 0);
	return pid;
}

static void test_by_process(void **state)
{
	struct eph_history h = { lookup, NULL };
	struct eph_consumers *c = NULL;
	struct eph_usage *u;
	struct eph_snapshot *s = wrap(&u);
	const struct eph_consumer *x;
	struct eph_sock so;
	struct stat st;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint32_t alive_ino, gone_ino;
	pid_t alive = child_with_socket(&alive_ino);
	pid_t gone = child_with_socket(&gone_ino);
	bool self = false, child = false, record = false;
	size_t ngone = 0, ntw = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(eph_consumers_new(ctx, EPH_BY_PROCESS, &h, &c), 0);
	assert_int_equal(eph_consumers_watch(c, s), 0);
	/* The "dump": two sockets of this process (one real inode, counted
	 * twice as two sockets would be), one of a child, one of a child
	 * about to exit, two TIME_WAITs. */
	assert_int_equal(eph_usage_begin(u, eph_snapshot_policy(s)), 0);
	so = conn(40000, 80, getuid(), 0);
	so.inode = (uint32_t)st.st_ino;
	assert_int_equal(eph_usage_add(u, &so), 0);
	so = conn(40001, 80, getuid(), 0);
	so.inode = (uint32_t)st.st_ino;
	assert_int_equal(eph_usage_add(u, &so), 0);
	so = conn(40002, 80, getuid(), 0);
	so.inode = alive_ino;
	assert_int_equal(eph_usage_add(u, &so), 0);
	so = conn(40005, 80, 4321, 0);
	so.inode = gone_ino;
	assert_int_equal(eph_usage_add(u, &so), 0);
	so = tw("10.0.0.1", 40003, "10.0.0.2", 80, 1000);
	so.cookie = 7;
	assert_int_equal(eph_usage_add(u, &so), 0);
	so = tw("10.0.0.1", 40004, "10.0.0.2", 80, 1000);
	so.cookie = 8;
	assert_int_equal(eph_usage_add(u, &so), 0);
	assert_int_equal(eph_usage_end(u), 0);

	/* The process exits between the dump and the walk. */
	kill(gone, SIGKILL);
	assert_int_equal(waitpid(gone, NULL, 0), gone);

	assert_int_equal(eph_consumers_resolve(c), 5);
	for (size_t i = 0; i < eph_consumers_count(c); i++) {
		x = eph_consumers_get(c, i);
		switch (x->kind) {
		case EPH_CONSUMER_NAMED:
			if (x->pid == getpid()) {
				assert_int_equal(x->sockets, 2);
				assert_int_equal(i, 0);
				self = true;
			} else if (x->pid == alive) {
				assert_int_equal(x->sockets, 1);
				child = true;
			} else {
				/* The record names the TIME_WAIT's maker. */
				assert_int_equal(x->pid, 4242);
				assert_string_equal(x->name, "curl");
				assert_int_equal(x->sockets, 1);
				record = true;
			}
			break;
		case EPH_CONSUMER_GONE:
			/* Never pinned on a process: said gone, with its
			 * user. */
			assert_int_equal(x->pid, -1);
			assert_int_equal(x->uid, 4321);
			assert_int_equal(x->sockets, 1);
			ngone++;
			break;
		case EPH_CONSUMER_TIME_WAIT:
			assert_int_equal(x->pid, -1);
			assert_int_equal(x->sockets, 1);
			ntw++;
			break;
		default:
			fail();
		}
	}
	assert_true(self && child && record);
	assert_int_equal(ngone, 1);
	assert_int_equal(ntw, 1);
	kill(alive, SIGKILL);
	waitpid(alive, NULL, 0);
	close(fd);
	eph_consumers_free(c);
	eph_snapshot_free(s);
}

static void test_nothing_counted(void **state)
{
	struct eph_consumers *c = NULL;
	struct eph_usage *u;
	struct eph_snapshot *s = wrap(&u);
	const struct eph_consumer_share *sh;
	struct eph_usage_tuple t = dest(80);

	(void)state;
	assert_int_equal(eph_consumers_new(ctx, EPH_BY_UNIT, NULL, &c), 0);
	/* Before any watch or take, and after an empty one. */
	assert_int_equal(eph_consumers_resolve(c), 0);
	assert_int_equal(eph_consumers_watch(c, s), 0);
	assert_int_equal(eph_usage_begin(u, eph_snapshot_policy(s)), 0);
	assert_int_equal(eph_usage_end(u), 0);
	assert_int_equal(eph_consumers_resolve(c), 0);
	assert_int_equal(eph_consumers_count(c), 0);
	assert_null(eph_consumers_get(c, 0));
	assert_int_equal(eph_consumers_of(c, s, &t, &sh), 0);
	eph_consumers_free(c);
	eph_snapshot_free(s);
}

static void test_unknown_kind(void **state)
{
	struct eph_consumers *c = NULL;

	(void)state;
	assert_int_equal(eph_consumers_new(ctx, (enum eph_by)99, NULL, &c),
			 -EINVAL);
	assert_null(c);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "unknown"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_container_names),
		cmocka_unit_test(test_by_names),
		cmocka_unit_test(test_by_user),
		cmocka_unit_test_teardown(test_by_cgroup_and_unit,
					  cgroups_teardown),
		cmocka_unit_test(test_by_process),
		cmocka_unit_test(test_nothing_counted),
		cmocka_unit_test(test_unknown_kind),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
