/* SPDX-License-Identifier: MIT */
/* The audited number parser: what it accepts, refuses and says. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ephport/ephport.h"
#include "unit.h"

static void accepts_plain_decimal_within_bounds(void **state)
{
	uint64_t v = 99;

	(void)state;
	assert_int_equal(eph_num_parse_str(ctx, "0", 0, 10, "n", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(eph_num_parse_str(ctx, "65535", 0, 65535, "n", &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(eph_num_parse_str(ctx, "007", 0, 10, "n", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(eph_num_parse_str(ctx, "18446744073709551615", 0,
					   UINT64_MAX, "n", &v),
			 0);
	assert_true(v == UINT64_MAX);
}

static void parses_only_the_given_length(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(eph_num_parse(ctx, "1234xyz", 4, 0, 9999, "n", &v), 0);
	assert_int_equal(v, 1234);
}

static void refuses_anything_but_digits(void **state)
{
	static const char *bad[] = { "",     " 1",  "1 ",  "+1",  "-1", "1x",
				     "0x10", "1e3", "1.0", "\t5", "５" };
	uint64_t v = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			eph_num_parse_str(ctx, bad[i], 0, 100000, "port", &v),
			-EINVAL);
		assert_int_equal(v, 42); /* untouched on failure */
		assert_non_null(strstr(eph_ctx_errmsg(ctx), "port"));
	}
}

static void refuses_out_of_bounds_and_overflow(void **state)
{
	uint64_t v = 42;

	(void)state;
	assert_int_equal(eph_num_parse_str(ctx, "70000", 0, 65535, "port", &v),
			 -ERANGE);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "\"70000\""));
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "0-65535"));
	assert_int_equal(eph_num_parse_str(ctx, "0", 1, 5, "pid", &v), -ERANGE);
	assert_int_equal(eph_num_parse_str(ctx, "99999999999999999999999", 0,
					   UINT64_MAX, "n", &v),
			 -ERANGE);
	assert_int_equal(v, 42);
}

static void quotes_hostile_bytes_safely(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(eph_num_parse(ctx, "1\n\"\x01", 4, 0, 9, "n", &v),
			 -EINVAL);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "\\x0a"));
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "\\\""));
}

/* Regression: a long run of non-ASCII bytes overflowed the quoting buffer
 * (found by fuzz_portset, corpus file regress-quote-overflow). */
static void quotes_long_hostile_input_within_bounds(void **state)
{
	char in[300];
	uint64_t v;

	(void)state;
	for (size_t fill = 0; fill < 3; fill++) {
		memset(in,
		       fill == 0   ? '\xfe'
		       : fill == 1 ? '"'
				   : 'x',
		       sizeof(in));
		in[sizeof(in) - 1] = '\xc7';
		assert_int_equal(
			eph_num_parse(ctx, in, sizeof(in), 0, 9, "n", &v),
			-EINVAL);
		assert_non_null(strstr(eph_ctx_errmsg(ctx), "...\""));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_plain_decimal_within_bounds),
		cmocka_unit_test(parses_only_the_given_length),
		cmocka_unit_test(refuses_anything_but_digits),
		cmocka_unit_test(refuses_out_of_bounds_and_overflow),
		cmocka_unit_test(quotes_hostile_bytes_safely),
		cmocka_unit_test(quotes_long_hostile_input_within_bounds),
	};

	return cmocka_run_group_tests_name("num", tests, setup, teardown);
}
