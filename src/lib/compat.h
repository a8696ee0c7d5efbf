/* SPDX-License-Identifier: MIT */
/* Transitional exports (see compat.c); not installed. */
#ifndef EPHPORT_COMPAT_H
#define EPHPORT_COMPAT_H

#include "ephport/ephport.h"

int eph_file_read(struct eph_ctx *ctx, int dirfd, const char *path, int oflags,
		  size_t max, char **ret_buf, size_t *ret_len);
int eph_dir_lock(struct eph_ctx *ctx, const char *dir, bool create);
int eph_file_replace(struct eph_ctx *ctx, int dirfd, const char *name,
		     const char *content, size_t len);

#define EPH_REGISTRY_NAME_MAX 64

/* One line of ephport's registry of picked ports: "NAME PORT DATE". */
struct eph_registry_entry {
	char name[EPH_REGISTRY_NAME_MAX + 1];
	uint16_t port;
	char date[11];
	unsigned int line;
};

bool eph_registry_name_valid(const char *name, size_t len);
int eph_registry_parse(struct eph_ctx *ctx, const char *buf, size_t len,
		       int (*cb)(const struct eph_registry_entry *e,
				 void *data),
		       void *data);

#endif
