/* SPDX-License-Identifier: MIT */
/*
 * Files: whole reads with a size bound, opens confined to the context's
 * root, directory locks, and atomic replacement. Every file ephport writes
 * goes through fileio_replace(): a temporary file in the same directory,
 * fsync'd and renamed over the target under a lock, so that a reader (or
 * a boot) sees the old file or the new one, never a part.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "internal.h"

const char *fileio_display(const struct eph_ctx *ctx, const char *path,
			   char *buf, size_t size)
{
	const char *root = eph_ctx_root(ctx);

	snprintf(buf, size, "%s%s", strcmp(root, "/") ? root : "", path);
	return buf;
}

int fileio_open(struct eph_ctx *ctx, const char *path, int flags, int mode)
{
	struct open_how how = { 0 };
	char shown[PATH_MAX];
	int rootfd, fd, e;

	fileio_display(ctx, path, shown, sizeof(shown));
	if (strcmp(eph_ctx_root(ctx), "/") == 0) {
		fd = open(path, flags | O_CLOEXEC, mode);
		if (fd < 0)
			return ctx_error(ctx, -errno, "%s: %s", shown,
					 strerror(errno));
		return fd;
	}
	rootfd = open(eph_ctx_root(ctx), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return ctx_error(ctx, -errno, "root %s: %s", eph_ctx_root(ctx),
				 strerror(errno));
	/* Links inside the root point inside it, as in a chroot. */
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? (uint64_t)mode : 0;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	while (*path == '/')
		path++;
	fd = (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how,
			  sizeof(how));
	e = errno;
	close(rootfd);
	if (fd < 0)
		return ctx_error(ctx, -e, "%s: %s%s", shown, strerror(e),
				 e == ENOSYS ? " (--root needs Linux 5.6 or "
					       "later)"
					     : "");
	return fd;
}

int fileio_read_fd(struct eph_ctx *ctx, int fd, const char *shown, size_t max,
		   char **ret_buf, size_t *ret_len)
{
	size_t len = 0;
	ssize_t got;
	char *buf;
	int e;

	buf = malloc(max + 1);
	if (!buf)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	/* One byte more than MAX tells a file that is too large. */
	while ((got = read(fd, buf + len, max + 1 - len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)got;
		if (len > max)
			break;
	}
	e = got < 0 ? errno : 0;
	if (e || len > max) {
		free(buf);
		return ctx_error(
			ctx, e ? -e : -EFBIG, "cannot read %s: %s", shown,
			e ? strerror(e) : "larger than expected (corrupt?)");
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int fileio_read(struct eph_ctx *ctx, int dirfd, const char *path,
		const char *shown, int oflags, size_t max, char **ret_buf,
		size_t *ret_len)
{
	int fd, r;

	ctx_clear_error(ctx);
	if (!shown)
		shown = path;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | oflags);
	if (fd < 0)
		return ctx_error(ctx, -errno, "cannot read %s: %s%s", shown,
				 strerror(errno),
				 errno == ELOOP && (oflags & O_NOFOLLOW)
					 ? " (a symbolic link; ephport "
					   "writes its own files only)"
					 : "");
	r = fileio_read_fd(ctx, fd, shown, max, ret_buf, ret_len);
	close(fd);
	return r;
}

int fileio_lock(struct eph_ctx *ctx, int dirfd, const char *shown)
{
	/* One writer at a time: the lock is on the directory itself. */
	while (flock(dirfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return ctx_error(ctx, -errno, "cannot lock %s: %s",
					 shown, strerror(errno));
	return 0;
}

int fileio_lock_dir(struct eph_ctx *ctx, const char *dir, bool create)
{
	int fd, r;

	ctx_clear_error(ctx);
	if (create && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return ctx_error(ctx, -errno, "cannot create %s: %s", dir,
				 strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ctx_error(ctx, -errno, "cannot open %s: %s", dir,
				 strerror(errno));
	r = fileio_lock(ctx, fd, dir);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Removes ".NAME.PID.N" files of writers that died before their rename:
 * the caller holds the directory's lock, so none of them is in progress.
 */
static void remove_stale(int dirfd, const char *name)
{
	char prefix[NAME_MAX + 2];
	size_t plen;
	struct dirent *de;
	DIR *d;
	int fd;

	plen = (size_t)snprintf(prefix, sizeof(prefix), ".%.200s.", name);
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, plen) == 0)
			(void)unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

int fileio_replace(struct eph_ctx *ctx, int dirfd, const char *name,
		   const char *content, size_t len)
{
	char tmp[NAME_MAX + 1];
	size_t off = 0;
	int fd, r = 0;

	remove_stale(dirfd, name);
	/* A hidden name of our own, in the same directory, so that the
	 * rename is atomic; the caller holds the lock. */
	for (int tries = 0;; tries++) {
		snprintf(tmp, sizeof(tmp), ".%.200s.%ld.%d", name,
			 (long)getpid(), tries);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    0644);
		if (fd >= 0 || errno != EEXIST || tries > 100)
			break;
	}
	if (fd < 0)
		return ctx_error(ctx, -errno, "cannot write %s: %s%s", name,
				 strerror(errno),
				 errno == EROFS ? " (a read-only file system)"
				 : errno == EACCES ? " (run as root)"
						   : "");
	while (off < len) {
		ssize_t w = write(fd, content + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = ctx_error(ctx, w < 0 ? -errno : -EIO,
				      "cannot write %s: %s", tmp,
				      strerror(w < 0 ? errno : EIO));
			break;
		}
		off += (size_t)w;
	}
	if (r == 0 && fsync(fd) < 0)
		r = ctx_error(ctx, -errno, "cannot sync %s: %s", tmp,
			      strerror(errno));
	if (close(fd) < 0 && r == 0)
		r = ctx_error(ctx, -errno, "cannot close %s: %s", tmp,
			      strerror(errno));
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = ctx_error(ctx, -errno, "cannot rename %s to %s: %s", tmp,
			      name, strerror(errno));
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	/*
	 * The rename is durable once the directory is. If that sync fails,
	 * the new file is in place all the same and cannot be taken back:
	 * report success, as a failure would claim NAME is unchanged.
	 */
	(void)fsync(dirfd);
	return 0;
}
