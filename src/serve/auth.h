/* SPDX-License-Identifier: MIT */
/*
 * Basic authentication for the exporter: a file of "user:hash" lines, the
 * hashes made by crypt(3) (SHA-512 "$6$", SHA-256 "$5$", yescrypt "$y$",
 * bcrypt "$2b$"/"$2y$"), checked with crypt_r from libcrypt.
 */
#ifndef EPHPORT_SERVE_AUTH_H
#define EPHPORT_SERVE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth;

/*
 * Parses a basic-auth file from BUF[0..LEN): one "user:hash" per line,
 * blank lines and lines starting with '#' skipped, spaces around either
 * field refused. A line without ':', an empty user or hash, a user with a
 * control character, a hash that is not of a kind crypt(3) knows ("$id$"),
 * a user given twice, or no user at all is an error naming the line in
 * ERR. Pure: no I/O. Returns 0, -EINVAL or -ENOMEM.
 */
int auth_parse(const char *buf, size_t len, struct auth **ret, char *err,
	       size_t errsize);
void auth_free(struct auth *a);

/* The number of users. */
size_t auth_count(const struct auth *a);

/*
 * Is PASSWORD right for USER? crypt_r() of PASSWORD with the user's hash
 * as the setting must give the hash back, compared in constant time; an
 * unknown user is checked against a hash of the same kind all the same,
 * so that the time taken does not tell which users exist.
 */
bool auth_check(const struct auth *a, const char *user, const char *password);

/*
 * Checks that crypt(3) can use every hash (a libcrypt without that kind
 * says no). Returns 0, or -EINVAL with the user named in ERR.
 */
int auth_verify_hashes(const struct auth *a, char *err, size_t errsize);

#endif
