/* SPDX-License-Identifier: MIT */
/* Transitional exports (see compat.c); not installed. */
#ifndef EPHPORT_COMPAT_H
#define EPHPORT_COMPAT_H

#include "ephport/ephport.h"

struct eph_sysctld_line {
	unsigned int line;
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	bool ignore_failure;
	const char *error;
};

int eph_file_read(struct eph_ctx *ctx, int dirfd, const char *path, int oflags,
		  size_t max, char **ret_buf, size_t *ret_len);
int eph_dir_lock(struct eph_ctx *ctx, const char *dir, bool create);
int eph_dropin_lock(struct eph_ctx *ctx, bool create);
int eph_file_replace(struct eph_ctx *ctx, int dirfd, const char *name,
		     const char *content, size_t len);
int eph_sysctl_write(struct eph_ctx *ctx, const char *name, const char *value);
int eph_range_parse(struct eph_ctx *ctx, const char *s, size_t len,
		    uint16_t *ret_low, uint16_t *ret_high);
int eph_sysctld_parse(const char *buf, size_t len,
		      int (*cb)(const struct eph_sysctld_line *l, void *data),
		      void *data);
bool eph_sysctld_key_is(const char *key, size_t len, const char *name);

#endif
