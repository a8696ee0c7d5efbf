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

#endif
