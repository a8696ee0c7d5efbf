/* SPDX-License-Identifier: MIT */
/* Textfile: the metrics file node_exporter's textfile collector reads. */
#include <unistd.h>

#include "internal.h"

EPH_EXPORT int eph_textfile_write(struct eph_ctx *ctx, const char *dir,
				  const char *content, size_t len)
{
	int fd, r;

	ctx_clear_error(ctx);
	fd = fileio_lock_dir(ctx, dir, false);
	if (fd < 0)
		return fd;
	r = fileio_replace(ctx, fd, EPH_TEXTFILE_NAME, content, len);
	close(fd);
	/* The replacement names files by their names in DIR: say which. */
	if (r < 0)
		return ctx_error(ctx, r, "%s/%s: %s", dir, EPH_TEXTFILE_NAME,
				 eph_ctx_errmsg(ctx));
	return r;
}
