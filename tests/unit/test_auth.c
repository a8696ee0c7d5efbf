/* SPDX-License-Identifier: MIT */
/*
 * The exporter's basic authentication: the users file, strictly parsed,
 * and passwords checked against hashes made elsewhere (openssl passwd,
 * htpasswd), so that the check does not only agree with itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/serve/auth.h"

/* openssl passwd -6 -salt 0123456789abcdef 'correct horse' */
#define SHA512                                                                 \
	"$6$0123456789abcdef$lDHzA5IdO41viXIs6llkDKq4Uh2VG9JXIYJ.taq2zlNFqBnK" \
	"Q0/fOUW0Zoz49ZnOpe2ACY.PoF6wosL.jL3Af0"
/* openssl passwd -5 -salt saltsalt battery */
#define SHA256 "$5$saltsalt$2vhkvr9hBXnDWnWPCdlC2B7pNMC3kgEFDgMiojEkw86"
/* htpasswd -nbB -C 5 bob staple */
#define BCRYPT "$2y$05$IcKtqE9FcBhJlmctByr/Xu3ezkBJz/U35w5tDpU3IRjx1fuTy5oxq"

static struct auth *parse(const char *text, int want, const char *why)
{
	struct auth *a = NULL;
	char err[256] = "";
	int r = auth_parse(text, strlen(text), &a, err, sizeof(err));

	assert_int_equal(r, want);
	if (why)
		assert_non_null(strstr(err, why));
	return a;
}

static void test_parse(void **state)
{
	struct auth *a;
	char err[256];

	(void)state;
	a = parse("# users of the exporter\n\nalice:" SHA512 "\r\n"
		  "carol:" SHA256 "\nbob:" BCRYPT,
		  0, NULL);
	assert_int_equal(auth_count(a), 3);
	assert_int_equal(auth_verify_hashes(a, err, sizeof(err)), 0);
	auth_free(a);
	parse("alice " SHA512 "\n", -EINVAL, "line 1: no ':'");
	parse("\n:" SHA512 "\n", -EINVAL, "line 2: an empty user");
	parse("alice:\n", -EINVAL, "an empty user or hash");
	parse("alice:$1$abc$def\n", -EINVAL, "not a crypt(3) hash");
	parse("alice:plain\n", -EINVAL, "not a crypt(3) hash");
	parse("alice:" SHA512 "\nalice:" SHA256 "\n", -EINVAL,
	      "line 2: a user given twice");
	parse("al ice:" SHA512 "\n", -EINVAL, "a space");
	parse("alice: " SHA512 "\n", -EINVAL, "a space");
	parse("# nobody\n", -EINVAL, "no user");
	parse("", -EINVAL, "no user");
	{
		const char nul[] = "alice:$6$a\0b\n";
		struct auth *b = NULL;

		assert_int_equal(
			auth_parse(nul, sizeof(nul) - 1, &b, err, sizeof(err)),
			-EINVAL);
		assert_non_null(strstr(err, "NUL"));
		assert_null(b);
	}
	auth_free(NULL);
}

static void test_check(void **state)
{
	struct auth *a;

	(void)state;
	a = parse("alice:" SHA512 "\ncarol:" SHA256 "\nbob:" BCRYPT "\n", 0,
		  NULL);
	assert_true(auth_check(a, "alice", "correct horse"));
	assert_true(auth_check(a, "carol", "battery"));
	assert_true(auth_check(a, "bob", "staple"));
	assert_false(auth_check(a, "alice", "correct horse "));
	assert_false(auth_check(a, "alice", "battery"));
	assert_false(auth_check(a, "alice", ""));
	assert_false(auth_check(a, "carol", "correct horse"));
	assert_false(auth_check(a, "mallory", "correct horse"));
	assert_false(auth_check(a, "", ""));
	assert_false(auth_check(a, "ALICE", "correct horse"));
	auth_free(a);
}

static void test_unusable_hash(void **state)
{
	struct auth *a;
	char err[256] = "";

	(void)state;
	/* A known kind, but a setting crypt(3) cannot use. */
	a = parse("dave:$2b$05$short\n", 0, NULL);
	assert_int_equal(auth_verify_hashes(a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "user 'dave'"));
	assert_false(auth_check(a, "dave", ""));
	auth_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_unusable_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
