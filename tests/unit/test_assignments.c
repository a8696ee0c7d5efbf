/* SPDX-License-Identifier: MIT */
/*
 * The store of assignments: the strict parser (a name or a port twice is
 * corruption, named by its line), the names it takes, and a round trip
 * through a temporary directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

static int count(const struct eph_assignment *e, unsigned int line, void *data)
{
	(void)e;
	(void)line;
	(*(int *)data)++;
	return 0;
}

static void test_parse(void **state)
{
	static const char good[] = "# comment\n\napi 8123 2026-11-27\n"
				   "  web\t9001 2026-01-01  \n"
				   "svc-1.prod@eu:a_b 1 1999-12-31\r\n";
	static const char *const bad[] = {
		"api 8123\n",		   /* a field missing */
		"api 0 2026-11-27\n",	   /* port 0 */
		"api 70000 2026-11-27\n",  /* too big */
		"api 80x 2026-11-27\n",	   /* not a number */
		"a b 8123 2026-11-27\n",   /* four fields */
		"api/x 8123 2026-11-27\n", /* a bad name */
		"api 8123 yesterday\n",	   /* a bad date */
		"api 8123 2026-13-01\n",   /* no month 13 */
		"api 8123 2026-1-011\n",   /* dashes misplaced */
		"a\0b 8123 2026-11-27\n",  /* a NUL byte */
	};
	static const size_t bad_len[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 20 };
	int n = 0;

	(void)state;
	assert_int_equal(
		assignments_parse(ctx, good, sizeof(good) - 1, count, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t len = bad_len[i] ? bad_len[i] : strlen(bad[i]);

		n = 0;
		assert_int_equal(assignments_parse(ctx, bad[i], len, count, &n),
				 -EBADMSG);
		assert_int_equal(n, 0);
		assert_non_null(strstr(eph_ctx_errmsg(ctx), "line 1"));
	}
}

static void test_twice(void **state)
{
	static const char port[] = "api 8080 2026-01-01\n# x\n"
				   "web 8080 2026-01-02\n";
	static const char name[] = "api 8080 2026-01-01\n"
				   "api 8081 2026-01-02\n";
	int n = 0;

	(void)state;
	assert_int_equal(
		assignments_parse(ctx, port, sizeof(port) - 1, count, &n),
		-EBADMSG);
	assert_int_equal(n, 1);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "line 3"));
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "port 8080"));
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "line 1 has it"));
	n = 0;
	assert_int_equal(
		assignments_parse(ctx, name, sizeof(name) - 1, count, &n),
		-EBADMSG);
	assert_int_equal(n, 1);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "line 2"));
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "\"api\""));
}

static void test_names(void **state)
{
	char longest[EPH_ASSIGNMENT_NAME_MAX + 2];

	(void)state;
	memset(longest, 'a', sizeof(longest));
	assert_true(eph_assignment_name_valid("svc-1.prod@eu:a_b", 17));
	assert_true(
		eph_assignment_name_valid(longest, EPH_ASSIGNMENT_NAME_MAX));
	assert_false(eph_assignment_name_valid(longest,
					       EPH_ASSIGNMENT_NAME_MAX + 1));
	assert_false(eph_assignment_name_valid("", 0));
	assert_false(eph_assignment_name_valid("a b", 3));
	assert_false(eph_assignment_name_valid("a/b", 3));
	assert_false(eph_assignment_name_valid("#a", 2));
}

/* Reads PATH whole into BUF; returns its length. */
static size_t slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static void test_fixture(void **state)
{
	struct eph_assignments *a = NULL;
	const struct eph_assignment *e;
	char path[512], before[512], after[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/assignments/ports", FIXTURES);
	assert_int_equal(eph_assignments_open(ctx, path, false, &a), 0);
	assert_int_equal(eph_assignments_count(a), 3);
	e = eph_assignments_get(a, 2);
	assert_string_equal(e->name, "old");
	assert_int_equal(e->port, 21500);
	assert_string_equal(e->date, "2025-06-30");
	assert_null(eph_assignments_get(a, 3));
	assert_ptr_equal(eph_assignments_find(a, "web"),
			 eph_assignments_find_port(a, 8080));
	assert_null(eph_assignments_find(a, "nobody"));
	assert_null(eph_assignments_find_port(a, 8081));
	assert_string_equal(eph_assignments_path(a), path);
	eph_assignments_free(a);

	/* Corrupt stores are refused, named by line, and left alone. */
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = { "dup-port", "dup-name",
						     "bad-date" };

		a = NULL;
		snprintf(path, sizeof(path), "%s/assignments/%s", FIXTURES,
			 names[i]);
		slurp(path, before, sizeof(before));
		assert_int_equal(eph_assignments_open(ctx, path, false, &a),
				 -EBADMSG);
		assert_null(a);
		assert_non_null(strstr(eph_ctx_errmsg(ctx), path));
		assert_non_null(strstr(eph_ctx_errmsg(ctx), "line 2"));
		slurp(path, after, sizeof(after));
		assert_string_equal(before, after);
	}
}

static void test_round_trip(void **state)
{
	char dir[64], path[320], sub[96];
	char today[11], text[1024], want[256];
	struct eph_assignments *a = NULL;
	const struct eph_assignment *e;

	(void)state;
	assert_non_null(unit_tmpdir(dir, sizeof(dir), "test"));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(path, sizeof(path), "%s/ports", sub);
	num_today(today);

	/* Without CREATE, a missing directory is an empty store. */
	assert_int_equal(eph_assignments_open(ctx, path, false, &a), 0);
	assert_int_equal(eph_assignments_count(a), 0);
	assert_int_equal(eph_assignments_set(a, "api", 20005), 0);
	assert_int_equal(eph_assignments_commit(a), -ENOENT);
	eph_assignments_free(a);
	assert_int_equal(access(sub, F_OK), -1);

	/* With it, the directory is made and the file written. */
	assert_int_equal(eph_assignments_open(ctx, path, true, &a), 0);
	assert_int_equal(eph_assignments_set(a, "api", 20005), 0);
	assert_int_equal(eph_assignments_set(a, "web", 20006), 0);
	assert_int_equal(eph_assignments_set(a, "web2", 20005), -EEXIST);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "\"api\""));
	assert_int_equal(eph_assignments_set(a, "bad name", 20007), -EINVAL);
	assert_int_equal(eph_assignments_set(a, "zero", 0), -EINVAL);
	assert_int_equal(eph_assignments_count(a), 2);
	assert_int_equal(eph_assignments_commit(a), 0);
	eph_assignments_free(a);

	a = NULL;
	assert_int_equal(eph_assignments_open(ctx, path, false, &a), 0);
	assert_int_equal(eph_assignments_count(a), 2);
	e = eph_assignments_find(a, "api");
	assert_non_null(e);
	assert_int_equal(e->port, 20005);
	assert_string_equal(e->date, today);
	assert_string_equal(eph_assignments_find_port(a, 20006)->name, "web");

	/* A name moves; its old port is free again. */
	assert_int_equal(eph_assignments_set(a, "api", 20007), 0);
	assert_int_equal(eph_assignments_count(a), 2);
	assert_null(eph_assignments_find_port(a, 20005));
	assert_int_equal(eph_assignments_set(a, "web2", 20005), 0);
	assert_int_equal(eph_assignments_release(a, "web"), 0);
	assert_int_equal(eph_assignments_release(a, "web"), -ENOENT);
	assert_int_equal(eph_assignments_count(a), 2);
	assert_int_equal(eph_assignments_commit(a), 0);
	eph_assignments_free(a);

	/* The file: a comment, then the lines in order. */
	slurp(path, text, sizeof(text));
	assert_true(text[0] == '#');
	snprintf(want, sizeof(want), "\napi 20007 %s\nweb2 20005 %s\n", today,
		 today);
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "web "));

	a = NULL;
	assert_int_equal(eph_assignments_open(ctx, path, true, &a), 0);
	assert_int_equal(eph_assignments_count(a), 2);
	assert_string_equal(eph_assignments_get(a, 1)->name, "web2");
	eph_assignments_free(a);

	/* A directory is no store. */
	snprintf(path, sizeof(path), "%s/", sub);
	assert_int_equal(eph_assignments_open(ctx, path, true, &a), -EISDIR);

	snprintf(path, sizeof(path), "%s/ports", sub);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_twice),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
