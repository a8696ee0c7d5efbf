/* SPDX-License-Identifier: MIT */
/* Basic authentication: the users file and crypt_r(). */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

struct user {
	char *name, *hash;
};

struct auth {
	struct user *u;
	size_t n;
};

void auth_free(struct auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->u[i].name);
		/* The hash is a secret of sorts: leave no copy behind. */
		explicit_bzero(a->u[i].hash, strlen(a->u[i].hash));
		free(a->u[i].hash);
	}
	free(a->u);
	free(a);
}

size_t auth_count(const struct auth *a)
{
	return a->n;
}

/* A hash crypt(3) can take as its setting: "$id$..." of a known kind. */
static bool hash_kind_known(const char *h, size_t len)
{
	static const char *const kinds[] = { "$6$", "$5$", "$y$", "$2b$",
					     "$2y$" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t k = strlen(kinds[i]);

		if (len > k && strncmp(h, kinds[i], k) == 0)
			return true;
	}
	return false;
}

static int bad(char *err, size_t size, unsigned int line, const char *why)
{
	snprintf(err, size, "line %u: %s", line, why);
	return -EINVAL;
}

/* Checks and adds one "user:hash" line L[0..LEN). */
static int add_line(struct auth *a, const char *l, size_t len,
		    unsigned int line, char *err, size_t errsize)
{
	const char *colon = memchr(l, ':', len);
	size_t ulen, hlen;
	struct user *n;

	if (!colon)
		return bad(err, errsize, line, "no ':' between user and hash");
	ulen = (size_t)(colon - l);
	hlen = len - ulen - 1;
	if (ulen == 0 || hlen == 0)
		return bad(err, errsize, line, "an empty user or hash");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)l[i] <= 0x20 || l[i] == 0x7f)
			return bad(err, errsize, line,
				   "a space or a control character");
	if (!hash_kind_known(colon + 1, hlen))
		return bad(err, errsize, line,
			   "not a crypt(3) hash of a known kind ($6$, $5$, "
			   "$y$, $2b$, $2y$)");
	for (size_t i = 0; i < a->n; i++)
		if (strlen(a->u[i].name) == ulen &&
		    memcmp(a->u[i].name, l, ulen) == 0)
			return bad(err, errsize, line, "a user given twice");
	n = realloc(a->u, (a->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	a->u = n;
	n[a->n].name = strndup(l, ulen);
	n[a->n].hash = strndup(colon + 1, hlen);
	if (!n[a->n].name || !n[a->n].hash) {
		free(n[a->n].name);
		free(n[a->n].hash);
		return -ENOMEM;
	}
	a->n++;
	return 0;
}

int auth_parse(const char *buf, size_t len, struct auth **ret, char *err,
	       size_t errsize)
{
	struct auth *a = calloc(1, sizeof(*a));
	unsigned int line = 0;
	size_t pos = 0;
	int r = 0;

	if (!a)
		return -ENOMEM;
	while (pos < len && r == 0) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;

		pos += n + (nl ? 1 : 0);
		line++;
		if (n && l[n - 1] == '\r')
			n--;
		if (n == 0 || l[0] == '#')
			continue;
		if (memchr(l, '\0', n)) {
			r = bad(err, errsize, line, "a NUL byte");
			break;
		}
		r = add_line(a, l, n, line, err, errsize);
	}
	if (r == 0 && a->n == 0)
		r = bad(err, errsize, line, "no user");
	if (r < 0) {
		auth_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

/* Compares two strings in a time that depends on their lengths only. */
static bool same(const char *x, const char *y)
{
	size_t lx = strlen(x), ly = strlen(y), n = lx > ly ? lx : ly;
	volatile unsigned char d = (unsigned char)(lx != ly);

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)((i < lx ? x[i] : 0) ^ (i < ly ? y[i] : 0));
	return d == 0;
}

bool auth_check(const struct auth *a, const char *user, const char *password)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const struct user *u = NULL;
	const char *out;
	bool ok;

	if (!cd)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->u[i].name, user) == 0)
			u = &a->u[i];
	/* An unknown user costs a hash too: the first user's setting. */
	out = crypt_r(password, u ? u->hash : a->u[0].hash, cd);
	ok = u && out && out[0] != '*' && same(out, u->hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int auth_verify_hashes(const struct auth *a, char *err, size_t errsize)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	int r = 0;

	if (!cd)
		return -ENOMEM;
	for (size_t i = 0; i < a->n && r == 0; i++) {
		/* A method this libcrypt lacks or has disabled, a malformed
		 * setting: crypt_checksalt() says so, and crypt_r() returns
		 * "*0" or "*1" instead of a hash. (Calling into libcrypt for
		 * more than crypt_r() also keeps it linked under ASan, whose
		 * runtime defines a crypt_r() of its own.) */
		int c = crypt_checksalt(a->u[i].hash);
		const char *out = crypt_r("", a->u[i].hash, cd);

		if (c == CRYPT_SALT_INVALID ||
		    c == CRYPT_SALT_METHOD_DISABLED || !out || out[0] == '*') {
			snprintf(err, errsize,
				 "user '%.64s': crypt(3) cannot use this hash",
				 a->u[i].name);
			r = -EINVAL;
		}
	}
	free(cd);
	return r;
}
