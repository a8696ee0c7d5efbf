/* SPDX-License-Identifier: MIT */
/*
 * ephport's drop-in: what it writes reads back the same, and anything it
 * would not have written is refused with the file and the line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static const char written[] =
	"# ephport's drop-in: 'ephport reserve', 'unreserve' and "
	"'set-range' rewrite it.\n"
	"# It sorts last, so what it sets wins at boot. Edit it with ephport.\n"
	"# reserved 36601,40000-40002 on 2026-11-27: api server\n"
	"# reserved 9000 on 2026-11-28\n"
	"net.ipv4.ip_local_reserved_ports = 8080,9000,36601,40000-40002\n"
	"net.ipv4.ip_local_port_range = 40000 60999\n";

static void test_parse_written(void **state)
{
	struct dropin d;
	char *list;

	(void)state;
	assert_int_equal(
		dropin_parse(ctx, written, sizeof(written) - 1, "f", &d, NULL),
		0);
	assert_true(d.wins);
	assert_true(d.has_reserved);
	list = eph_portset_to_string(&d.reserved);
	assert_string_equal(list, "8080,9000,36601,40000-40002");
	free(list);
	assert_true(d.has_range);
	assert_int_equal(d.low, 40000);
	assert_int_equal(d.high, 60999);
	assert_int_equal(d.nnotes, 2);
	assert_int_equal(eph_portset_count(&d.notes[0].ports), 4);
	assert_string_equal(d.notes[0].date, "2026-11-27");
	assert_string_equal(d.notes[0].reason, "api server");
	assert_string_equal(d.notes[1].date, "2026-11-28");
	assert_string_equal(d.notes[1].reason, "");
	dropin_free(&d);
}

/* What it writes is byte for byte what was parsed. */
static void test_round_trip(void **state)
{
	struct dropin d, again;
	char *text, *text2;
	size_t len, len2;

	(void)state;
	assert_int_equal(
		dropin_parse(ctx, written, sizeof(written) - 1, "f", &d, NULL),
		0);
	assert_int_equal(dropin_format(&d, &text, &len), 0);
	assert_string_equal(text, written);
	assert_int_equal(len, sizeof(written) - 1);
	/* The header's claim changes with the file's place. */
	d.wins = false;
	free(text);
	assert_int_equal(dropin_format(&d, &text, &len), 0);
	assert_null(strstr(text, "wins at boot"));
	assert_non_null(strstr(text, "It does not win at boot"));
	assert_int_equal(dropin_parse(ctx, text, len, "f", &again, NULL), 0);
	assert_false(again.wins);
	assert_int_equal(dropin_format(&again, &text2, &len2), 0);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	dropin_free(&d);
	dropin_free(&again);
}

/* Each case: a line ephport did not write, and the line it is on. */
static void test_foreign_lines(void **state)
{
	static const struct {
		const char *text;
		unsigned int line;
		const char *detail;
	} cases[] = {
		{ "net.ipv4.ip_local_reserved_ports = 8080\n"
		  "kernel.pid_max = 1\n",
		  2, "a key ephport does not manage" },
		{ "net.ipv4.ip_local_reserved_ports = 80-70\n", 1,
		  "net.ipv4.ip_local_reserved_ports" },
		{ "\n\nnet.ipv4.ip_local_port_range = 5000 4000\n", 3,
		  "above high bound" },
		{ "net.ipv4.ip_local_reserved_ports = 1\n"
		  "net/ipv4/ip_local_reserved_ports = 2\n",
		  2, "set twice" },
		{ "-net.ipv4.ip_local_reserved_ports = 1\n", 1, "'-'" },
		{ "# my own comment\n", 1, "a comment ephport did not write" },
		{ "; a comment\n", 1, "a comment ephport did not write" },
		{ "just words\n", 1, "no '='" },
		{ "# reserved 9000\n", 1, "without \" on DATE\"" },
		{ "# reserved 9000 on yesterday\n", 1, "without a date" },
		{ "# reserved  on 2026-01-01\n", 1, "without ports" },
		{ "# reserved 9000,,9 on 2026-01-01\n", 1, "a note's ports" },
		{ "# reserved 9000 on 2026-01-01 because\n", 1,
		  "\": REASON\"" },
		{ "# reserved 9000 on 2026-01-01: a\tb\n", 1, "control" },
	};
	char msg[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct dropin d;
		unsigned int line = 0;

		assert_int_equal(
			dropin_parse(ctx, cases[i].text, strlen(cases[i].text),
				     "/x/99-zz-ephport.conf", &d, &line),
			-EINVAL);
		assert_int_equal(line, cases[i].line);
		snprintf(msg, sizeof(msg),
			 "/x/99-zz-ephport.conf:%u: ", cases[i].line);
		assert_memory_equal(eph_ctx_errmsg(ctx), msg, strlen(msg));
		if (!strstr(eph_ctx_errmsg(ctx), cases[i].detail))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i,
				 eph_ctx_errmsg(ctx), cases[i].detail);
	}
}

/* What the parser lets through that ephport did not write byte for byte:
 * blank lines, the other spelling of a key, old reasons' blanks. */
static void test_tolerated(void **state)
{
	static const char text[] =
		"\n"
		"  # reserved 9000 on 2026-01-01:   spaced out   \r\n"
		"net/ipv4/ip_local_port_range=40000\t50000\n"
		"net.ipv4.ip_local_reserved_ports =\n";
	struct dropin d;

	(void)state;
	assert_int_equal(
		dropin_parse(ctx, text, sizeof(text) - 1, "f", &d, NULL), 0);
	assert_string_equal(d.notes[0].reason, "spaced out");
	assert_int_equal(d.low, 40000);
	assert_int_equal(d.high, 50000);
	assert_true(d.has_reserved);
	assert_int_equal(eph_portset_count(&d.reserved), 0);
	dropin_free(&d);
}

static void test_notes(void **state)
{
	struct eph_portset *p = ps_new();
	struct dropin d;
	char *text;
	size_t len;

	(void)state;
	dropin_init(&d);
	eph_portset_add(p, 9000, 9002);
	assert_int_equal(dropin_add_note(&d, p, "2026-01-01",
					 "  two\nlines\x7f and a tab\t "),
			 0);
	assert_string_equal(d.notes[0].reason, "two lines  and a tab");
	/* No ports, no note. */
	eph_portset_clear(p);
	assert_int_equal(dropin_add_note(&d, p, "2026-01-01", "x"), 0);
	assert_int_equal(d.nnotes, 1);
	eph_portset_add(p, 9001, 9001);
	dropin_remove_ports(&d, p);
	assert_int_equal(eph_portset_count(&d.notes[0].ports), 2);
	eph_portset_add(p, 9000, 9002);
	dropin_remove_ports(&d, p);
	assert_int_equal(d.nnotes, 0);
	assert_int_equal(dropin_format(&d, &text, &len), 0);
	assert_null(strstr(text, "# reserved"));
	free(text);
	dropin_free(&d);
	eph_portset_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_written),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_foreign_lines),
		cmocka_unit_test(test_tolerated),
		cmocka_unit_test(test_notes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
