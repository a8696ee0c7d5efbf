/* SPDX-License-Identifier: MIT */
/*
 * Transitional exports: helpers the command still calls while the pick and
 * change modules move into the library. Each goes when its last caller in
 * src/cli does; none is in an installed header.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "internal.h"

EPH_EXPORT int eph_file_read(struct eph_ctx *ctx, int dirfd, const char *path,
			     int oflags, size_t max, char **ret_buf,
			     size_t *ret_len)
{
	return fileio_read(ctx, dirfd, path, NULL, oflags, max, ret_buf,
			   ret_len);
}

EPH_EXPORT int eph_dir_lock(struct eph_ctx *ctx, const char *dir, bool create)
{
	return fileio_lock_dir(ctx, dir, create);
}

EPH_EXPORT int eph_dropin_lock(struct eph_ctx *ctx, bool create)
{
	char dir[4096];

	return fileio_lock_dir(
		ctx, fileio_display(ctx, "/etc/sysctl.d", dir, sizeof(dir)),
		create);
}

EPH_EXPORT int eph_file_replace(struct eph_ctx *ctx, int dirfd,
				const char *name, const char *content,
				size_t len)
{
	return fileio_replace(ctx, dirfd, name, content, len);
}

EPH_EXPORT int eph_sysctl_write(struct eph_ctx *ctx, const char *name,
				const char *value)
{
	return ctx_sysctl_write(ctx, name, value);
}

EPH_EXPORT int eph_range_parse(struct eph_ctx *ctx, const char *s, size_t len,
			       uint16_t *ret_low, uint16_t *ret_high)
{
	return policy_range_parse(ctx, s, len, ret_low, ret_high);
}

struct line_cb {
	int (*cb)(const struct eph_sysctld_line *l, void *data);
	void *data;
};

static int one_line(const struct sysctld_line *l, void *data)
{
	struct line_cb *c = data;
	struct eph_sysctld_line e = { l->line,	l->key,	      l->key_len,
				      l->value, l->value_len, l->ignore_failure,
				      l->error };

	return c->cb(&e, c->data);
}

EPH_EXPORT int eph_sysctld_parse(const char *buf, size_t len,
				 int (*cb)(const struct eph_sysctld_line *l,
					   void *data),
				 void *data)
{
	struct line_cb c = { cb, data };

	return sysctld_parse(buf, len, one_line, &c);
}

EPH_EXPORT bool eph_sysctld_key_is(const char *key, size_t len,
				   const char *name)
{
	return sysctld_key_is(key, len, name);
}
