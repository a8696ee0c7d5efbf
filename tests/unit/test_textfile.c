/* SPDX-License-Identifier: MIT */
/*
 * The textfile for node_exporter: written whole, replaced by a rename (a
 * reader holding the old file keeps reading it), no temporary file left,
 * and on failure the old file as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

static char dir[64], path[128];

static int dir_setup(void **state)
{
	if (!unit_tmpdir(dir, sizeof(dir), "textfile"))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, EPH_TEXTFILE_NAME);
	return setup(state);
}

/* Removes whatever the tests left in DIR, then DIR. */
static int dir_teardown(void **state)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
	return teardown(state);
}

/* The file's content, into BUF. */
static const char *slurp(const char *p, char *buf, size_t size)
{
	FILE *f = fopen(p, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* How many entries DIR holds, besides "." and "..". */
static size_t entries(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 &&
		     strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int put(const char *s)
{
	return eph_textfile_write(ctx, dir, s, strlen(s));
}

static void test_writes_and_replaces_by_rename(void **state)
{
	struct stat before, after;
	char buf[256];
	int old;

	(void)state;
	assert_int_equal(put("ephport_a 1\n"), 0);
	assert_string_equal(slurp(path, buf, sizeof(buf)), "ephport_a 1\n");
	assert_int_equal(entries(), 1);

	/* A reader of the old file: it must keep the old file whole. */
	old = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(old >= 0);
	assert_int_equal(fstat(old, &before), 0);
	assert_int_equal(put("ephport_b 2\n"), 0);
	assert_string_equal(slurp(path, buf, sizeof(buf)), "ephport_b 2\n");
	assert_int_equal(stat(path, &after), 0);
	/* A new file renamed over the old, not the old one rewritten. */
	assert_true(after.st_ino != before.st_ino);
	assert_int_equal(pread(old, buf, sizeof(buf) - 1, 0), 12);
	buf[12] = '\0';
	assert_string_equal(buf, "ephport_a 1\n");
	close(old);
	/* The collector reads every *.prom: nothing but the file is left. */
	assert_int_equal(entries(), 1);
}

static void test_removes_what_a_killed_writer_left(void **state)
{
	char stale[192];
	int fd;

	(void)state;
	snprintf(stale, sizeof(stale), "%s/.%s.99999.0", dir,
		 EPH_TEXTFILE_NAME);
	fd = open(stale, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(put("ephport_c 3\n"), 0);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(entries(), 1);
}

static void test_refuses_a_missing_directory(void **state)
{
	char missing[96];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no-such-dir", dir);
	assert_int_equal(eph_textfile_write(ctx, missing, "x 1\n", 4), -ENOENT);
	/* The whole path, and why. */
	assert_non_null(strstr(eph_ctx_errmsg(ctx), missing));
	assert_non_null(
		strstr(eph_ctx_errmsg(ctx), "No such file or directory"));
	/* It is not made: a typo must not start a directory nobody reads. */
	assert_int_equal(access(missing, F_OK), -1);
}

/*
 * A write that fails half-way (the file size limit stops it after 8
 * bytes, as a full disk would) leaves the old file as it was, and no
 * temporary file.
 */
static void test_a_failed_write_leaves_the_old_file(void **state)
{
	struct rlimit saved, small;
	char big[4096], buf[256];
	int r;

	(void)state;
	assert_int_equal(put("ephport_d 4\n"), 0);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 8;
	/* Past the limit write() fails with EFBIG instead of a signal. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	r = eph_textfile_write(ctx, dir, big, sizeof(big));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(r, -EFBIG);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), path));
	assert_string_equal(slurp(path, buf, sizeof(buf)), "ephport_d 4\n");
	assert_int_equal(entries(), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writes_and_replaces_by_rename),
		cmocka_unit_test(test_removes_what_a_killed_writer_left),
		cmocka_unit_test(test_refuses_a_missing_directory),
		cmocka_unit_test(test_a_failed_write_leaves_the_old_file),
	};

	return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
