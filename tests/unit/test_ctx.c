/* SPDX-License-Identifier: MIT */
/*
 * The context and the file helpers: namespaces refused with a reason,
 * roots that must be absolute, symbolic links resolved inside the root,
 * bounded reads, and a replacement that leaves the old file or the new.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

static char dir[64];

static int setup_ctx(void **state)
{
	if (setup(state) < 0 || !unit_tmpdir(dir, sizeof(dir), "test-ctx"))
		return -1;
	return 0;
}

static int teardown_ctx(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	return teardown(state);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_namespaces_are_refused_with_a_reason(void **state)
{
	uint64_t dev, ino;

	(void)state;
	assert_int_equal(eph_ctx_set_netns(ctx, "no-such-namespace-ephport"),
			 -ENOENT);
	assert_non_null(strstr(eph_ctx_errmsg(ctx),
			       "/run/netns/no-such-namespace-ephport"));
	assert_int_equal(eph_ctx_errno(ctx), -ENOENT);
	assert_int_equal(eph_ctx_set_netns(ctx, ".."), -EINVAL);
	assert_int_equal(eph_ctx_set_netns(ctx, "pid:0"), -ERANGE);
	assert_int_equal(eph_ctx_set_netns(ctx, "/proc/self/ns/uts"), -EINVAL);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "not a network namespace"));
	/* Failures leave the context as it was: its own namespace. */
	assert_null(eph_ctx_netns(ctx));
	assert_int_equal(eph_ctx_set_netns(ctx, "/proc/self/ns/net"), 0);
	assert_string_equal(eph_ctx_netns(ctx), "/proc/self/ns/net");
	assert_int_equal(eph_ctx_errno(ctx), 0);
	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &ino), 0);
	assert_true(ino != 0);
	assert_int_equal(eph_ctx_set_netns(ctx, NULL), 0);
}

static void test_a_copy_is_aimed_where_the_original_is(void **state)
{
	uint64_t dev, ino, dev2, ino2;
	struct eph_ctx *c = NULL;

	(void)state;
	assert_int_equal(eph_ctx_set_netns(ctx, "/proc/self/ns/net"), 0);
	assert_int_equal(eph_ctx_set_record_path(ctx, "/tmp/ephport-h"), 0);
	assert_int_equal(eph_ctx_set_netns(ctx, "no-such-namespace-ephport"),
			 -ENOENT);
	assert_int_equal(eph_ctx_dup(ctx, &c), 0);
	assert_string_equal(eph_ctx_netns(c), "/proc/self/ns/net");
	assert_string_equal(eph_ctx_record_path(c), "/tmp/ephport-h");
	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &ino), 0);
	assert_int_equal(eph_ctx_netns_id(c, &dev2, &ino2), 0);
	assert_true(dev == dev2 && ino == ino2);
	/* Its own: the original's failure is not its, nor its settings. */
	assert_int_equal(eph_ctx_errno(c), 0);
	assert_int_equal(eph_ctx_set_netns(ctx, NULL), 0);
	assert_int_equal(eph_ctx_set_record_path(ctx, NULL), 0);
	assert_string_equal(eph_ctx_netns(c), "/proc/self/ns/net");
	eph_ctx_free(c);
}

static void test_the_boot_namespace_is_init_s(void **state)
{
	struct stat self, init;
	int r;

	(void)state;
	r = eph_ctx_netns_is_boot(ctx);
	assert_true(r == 0 || r == 1);
	assert_int_equal(stat("/proc/self/ns/net", &self), 0);
	if (stat("/proc/1/ns/net", &init) == 0)
		assert_int_equal(r, self.st_ino == init.st_ino);
	else /* pid 1 hidden: the caller's own namespace stands for it */
		assert_int_equal(r, 1);
}

static void test_roots_must_be_absolute(void **state)
{
	(void)state;
	assert_string_equal(eph_ctx_root(ctx), "/");
	assert_int_equal(eph_ctx_set_root(ctx, "relative/dir"), -EINVAL);
	assert_string_equal(eph_ctx_root(ctx), "/");
	assert_int_equal(eph_ctx_set_root(ctx, "/srv/image///"), 0);
	assert_string_equal(eph_ctx_root(ctx), "/srv/image");
	assert_int_equal(eph_ctx_set_root(ctx, "/"), 0);
	assert_string_equal(eph_ctx_root(ctx), "/");
	assert_int_equal(eph_ctx_set_root(ctx, NULL), 0);
}

static void test_links_are_resolved_inside_the_root(void **state)
{
	char path[256], shown[512];
	char *buf = NULL;
	size_t len;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/etc", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/etc/hostname", dir);
	write_file(path, "inside\n");
	/* An absolute link: in a chroot it means ROOT/etc/hostname. */
	snprintf(path, sizeof(path), "%s/etc/link", dir);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	/* One that climbs out: it stays at the root, as in a chroot. */
	snprintf(path, sizeof(path), "%s/etc/up", dir);
	assert_int_equal(symlink("../../../../etc/hostname", path), 0);
	assert_int_equal(eph_ctx_set_root(ctx, dir), 0);
	for (int i = 0; i < 2; i++) {
		fd = fileio_open(ctx, i ? "/etc/up" : "/etc/link", O_RDONLY, 0);
		assert_true(fd >= 0);
		assert_int_equal(
			fileio_read_fd(ctx, fd, "link", 100, &buf, &len), 0);
		close(fd);
		assert_string_equal(buf, "inside\n");
		free(buf);
	}
	/* Messages name the whole path. */
	assert_int_equal(fileio_open(ctx, "/etc/nothing", O_RDONLY, 0),
			 -ENOENT);
	snprintf(shown, sizeof(shown), "%s/etc/nothing", dir);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), shown));
	assert_int_equal(eph_ctx_set_root(ctx, NULL), 0);
}

static void test_reads_are_bounded(void **state)
{
	char path[256], *buf = NULL;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/ten", dir);
	write_file(path, "0123456789");
	assert_int_equal(
		fileio_read(ctx, AT_FDCWD, path, NULL, 0, 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	free(buf);
	assert_int_equal(
		fileio_read(ctx, AT_FDCWD, path, NULL, 0, 9, &buf, &len),
		-EFBIG);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), path));
}

static void test_replace_leaves_no_temporary_file(void **state)
{
	char path[256], *buf = NULL, stale[300];
	size_t len;
	int dfd;

	(void)state;
	snprintf(path, sizeof(path), "%s/store", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	dfd = fileio_lock_dir(ctx, path, false);
	assert_true(dfd >= 0);
	/* What a writer killed before its rename leaves behind. */
	snprintf(stale, sizeof(stale), "%s/.file.99999.0", path);
	write_file(stale, "half");
	assert_int_equal(fileio_replace(ctx, dfd, "file", "new\n", 4), 0);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(
		fileio_read(ctx, dfd, "file", NULL, 0, 100, &buf, &len), 0);
	assert_string_equal(buf, "new\n");
	free(buf);
	close(dfd);
	/* A directory that is not there is not made unless asked. */
	snprintf(path, sizeof(path), "%s/absent", dir);
	assert_int_equal(fileio_lock_dir(ctx, path, false), -ENOENT);
	dfd = fileio_lock_dir(ctx, path, true);
	assert_true(dfd >= 0);
	close(dfd);
}

static void test_sysctl_paths(void **state)
{
	char root[512];
	const char *buf;
	size_t len;

	(void)state;
	snprintf(root, sizeof(root), "%s/procsys/default", FIXTURES);
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, root), 0);
	assert_int_equal(ctx_sysctl_read(ctx, "net.ipv4.ip_local_port_range",
					 &buf, &len),
			 0);
	assert_true(len > 0 && buf[len - 1] == '\n');
	assert_int_equal(
		ctx_sysctl_read(ctx, "net.ipv4.no_such_knob", &buf, &len),
		-ENOENT);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "no_such_knob"));
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespaces_are_refused_with_a_reason),
		cmocka_unit_test(test_a_copy_is_aimed_where_the_original_is),
		cmocka_unit_test(test_the_boot_namespace_is_init_s),
		cmocka_unit_test(test_roots_must_be_absolute),
		cmocka_unit_test(test_links_are_resolved_inside_the_root),
		cmocka_unit_test(test_reads_are_bounded),
		cmocka_unit_test(test_replace_leaves_no_temporary_file),
		cmocka_unit_test(test_sysctl_paths),
	};

	return cmocka_run_group_tests(tests, setup_ctx, teardown_ctx);
}
