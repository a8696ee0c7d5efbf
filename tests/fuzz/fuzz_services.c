/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the services-file parser and the registry parser:
 * any bytes are read without a crash; every entry handed out has sound
 * ports, and a failure of the registry parser names its line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "compat.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_service(const struct services_line *l, void *data)
{
	(void)data;
	if (l->name) {
		if (l->name_len == 0 || l->port_lo > l->port_hi || l->error)
			abort();
	} else if (!l->error) {
		abort();
	}
	return 0;
}

static int check_entry(const struct eph_registry_entry *e, void *data)
{
	(void)data;
	if (e->port == 0 || !eph_registry_name_valid(e->name, strlen(e->name)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eph_ctx *ctx = ctx_new();

	if (services_parse((const char *)data, size, check_service, NULL) < 0)
		abort();
	if (ctx &&
	    eph_registry_parse(ctx, (const char *)data, size, check_entry,
			       NULL) < 0 &&
	    strncmp(eph_ctx_errmsg(ctx), "line ", 5) != 0)
		abort();
	eph_ctx_free(ctx);
	return 0;
}
