/* SPDX-License-Identifier: MIT */
/*
 * Transitional exports: helpers the command still calls while the pick
 * module moves into the library (pick and audit read and write their
 * files with them). Each goes when its last caller in src/cli does; none
 * is in an installed header.
 */
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

EPH_EXPORT int eph_file_replace(struct eph_ctx *ctx, int dirfd,
				const char *name, const char *content,
				size_t len)
{
	return fileio_replace(ctx, dirfd, name, content, len);
}
