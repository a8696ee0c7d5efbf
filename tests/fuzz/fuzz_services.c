/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the services-file parser: any bytes are read
 * without a crash, and every entry handed out has sound ports.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (services_parse((const char *)data, size, check_service, NULL) < 0)
		abort();
	return 0;
}
