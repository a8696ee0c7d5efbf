/* SPDX-License-Identifier: MIT */
/* What every unit test shares: one context for the whole group. */
#ifndef EPHPORT_TEST_UNIT_H
#define EPHPORT_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"
#include "../helpers.h"

static struct eph_ctx *ctx;

static int setup(void **state)
{
	(void)state;
	ctx = ctx_new();
	return ctx ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	eph_ctx_free(ctx);
	return 0;
}

#endif
