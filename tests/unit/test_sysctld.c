/* SPDX-License-Identifier: MIT */
/*
 * The sysctl.d parser, the key matcher, and the order in which a boot
 * applies files, read from a fixture tree.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

struct seen {
	char keys[16][64];
	char values[16][64];
	unsigned int lines[16];
	char errors[16][64];
	size_t n;
};

static int record(const struct sysctld_line *l, void *data)
{
	struct seen *s = data;

	assert_true(s->n < 16);
	s->lines[s->n] = l->line;
	if (l->key) {
		snprintf(s->keys[s->n], 64, "%s%.*s",
			 l->ignore_failure ? "-" : "", (int)l->key_len, l->key);
		snprintf(s->values[s->n], 64, "%.*s", (int)l->value_len,
			 l->value);
	} else {
		snprintf(s->errors[s->n], 64, "%s", l->error);
	}
	s->n++;
	return 0;
}

static void test_parse_lines(void **state)
{
	static const char text[] = "# comment\n"
				   "; also a comment\n"
				   "\n"
				   "  net.ipv4.a = 1 2  \n"
				   "-net/ipv4/b=x\r\n"
				   "no equals sign\n"
				   " = empty key\n"
				   "key with space = 3\n"
				   "c =\n"
				   "d = last line without newline";
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(sysctld_parse(text, sizeof(text) - 1, record, &s), 0);
	assert_int_equal(s.n, 7);
	assert_string_equal(s.keys[0], "net.ipv4.a");
	assert_string_equal(s.values[0], "1 2");
	assert_int_equal(s.lines[0], 4);
	assert_string_equal(s.keys[1], "-net/ipv4/b");
	assert_string_equal(s.values[1], "x");
	assert_string_equal(s.errors[2], "not an assignment (no '=')");
	assert_int_equal(s.lines[2], 6);
	assert_string_equal(s.errors[3], "an assignment without a key");
	assert_string_equal(s.errors[4], "a space inside the key");
	assert_string_equal(s.keys[5], "c");
	assert_string_equal(s.values[5], "");
	assert_string_equal(s.values[6], "last line without newline");
	assert_int_equal(s.lines[6], 10);
}

static void test_key_spellings(void **state)
{
	static const char *name = "net.ipv4.ip_local_port_range";

	(void)state;
	assert_true(sysctld_key_is("net.ipv4.ip_local_port_range", 28, name));
	assert_true(sysctld_key_is("net/ipv4/ip_local_port_range", 28, name));
	assert_false(sysctld_key_is("net.ipv4.ip_local_port_rang", 27, name));
	/* With '/' first, a '.' is part of a name, not a separator. */
	assert_false(sysctld_key_is("net/ipv4.ip_local_port_range", 28, name));
	/* The length bounds the key: no reading past it. */
	assert_false(sysctld_key_is("net.ipv4.ip_local_port_rangeX", 28,
				    "net.ipv4.ip_local_port_rangeX"));
}

static void test_boot_order(void **state)
{
	static const char *const keys[] = {
		"net.ipv4.ip_local_reserved_ports",
		"net.ipv4.ip_local_port_range",
	};
	char root[PATH_MAX];
	struct eph_sysctld *sd;
	const struct eph_sysctld_setting *w;

	(void)state;
	snprintf(root, sizeof(root), "%s/sysctld/order", FIXTURES);
	assert_int_equal(eph_ctx_set_root(ctx, root), 0);
	assert_int_equal(eph_sysctld_read(ctx, keys, 2, &sd), 0);
	assert_int_equal(eph_ctx_set_root(ctx, NULL), 0);
	/* 50-vendor (/usr/lib masks /lib), 60-masked (/etc masks /usr/lib),
	 * 70-gone is a link to /dev/null, 80-run, then /etc/sysctl.conf. */
	assert_int_equal(eph_sysctld_count(sd), 5);
	assert_string_equal(eph_sysctld_get(sd, 0)->file,
			    "/usr/lib/sysctl.d/50-vendor.conf");
	assert_string_equal(eph_sysctld_get(sd, 0)->value, "1000");
	assert_string_equal(eph_sysctld_get(sd, 1)->value, "30000 40001");
	assert_string_equal(eph_sysctld_get(sd, 2)->file,
			    "/etc/sysctl.d/60-masked.conf");
	assert_string_equal(eph_sysctld_get(sd, 3)->value, "4000");
	w = eph_sysctld_winner(sd, keys[0], false);
	assert_non_null(w);
	assert_string_equal(w->file, "/run/sysctl.d/80-run.conf");
	assert_int_equal(w->line, 2);
	w = eph_sysctld_winner(sd, keys[0], true);
	assert_string_equal(w->file, "/etc/sysctl.conf");
	assert_string_equal(w->value, "5000");
	w = eph_sysctld_winner(sd, keys[1], true);
	assert_string_equal(w->value, "30000 40001");
	assert_int_equal(eph_sysctld_bad_count(sd), 1);
	assert_int_equal(eph_sysctld_bad(sd, 0)->line, 3);
	eph_sysctld_free(sd);
}

static void test_missing_root_is_empty(void **state)
{
	static const char *const keys[] = { "net.ipv4.ip_local_port_range" };
	struct eph_sysctld *sd = NULL;

	(void)state;
	assert_int_equal(eph_ctx_set_root(ctx, "/nonexistent-ephport-root"), 0);
	assert_int_equal(eph_sysctld_read(ctx, keys, 1, &sd), 0);
	assert_int_equal(eph_ctx_set_root(ctx, NULL), 0);
	assert_int_equal(eph_sysctld_count(sd), 0);
	assert_null(eph_sysctld_winner(sd, keys[0], true));
	eph_sysctld_free(sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_key_spellings),
		cmocka_unit_test(test_boot_order),
		cmocka_unit_test(test_missing_root_is_empty),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
