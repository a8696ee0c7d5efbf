/* SPDX-License-Identifier: MIT */
/*
 * Constructors that return the object or NULL, for tests and fuzzers, where
 * a failure to allocate simply fails the test.
 */
#ifndef EPHPORT_TEST_HELPERS_H
#define EPHPORT_TEST_HELPERS_H

#include "ephport/ephport.h"

static inline struct eph_ctx *ctx_new(void)
{
	struct eph_ctx *c = NULL;

	return eph_ctx_new(&c) == 0 ? c : NULL;
}

static inline struct eph_portset *ps_new(void)
{
	struct eph_portset *p = NULL;

	return eph_portset_new(&p) == 0 ? p : NULL;
}

static inline struct eph_policy *policy_new(void)
{
	struct eph_policy *p = NULL;

	return eph_policy_new(&p) == 0 ? p : NULL;
}

/*
 * Reads CTX's policy into *P, replacing it on success; on failure *P stays
 * as it was. Returns what eph_policy_read() returned.
 */
static inline int policy_reread(struct eph_ctx *c, struct eph_policy **p)
{
	struct eph_policy *n = NULL;
	int r = eph_policy_read(c, &n);

	if (r == 0) {
		eph_policy_free(*p);
		*p = n;
	}
	return r;
}

#endif
