/* SPDX-License-Identifier: MIT */
/*
 * The context: which network namespace and which /proc/sys a scan reads,
 * the buffers it reuses, and the detail of the last failure. It holds no
 * global state, so a daemon can keep one per namespace and scan again and
 * again without allocating.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "config.h"
#include "internal.h"

#define DEFAULT_PROC_SYS "/proc/sys"
/* The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger. */
#define PID_MAX_LIMIT 4194304

/*
 * The largest sysctl we read is ip_local_reserved_ports; its longest form,
 * every other port ("1,3,5,...,65535"), is under 192 KiB.
 */
#define SYSCTL_BUF_SIZE (256u * 1024u)

struct eph_ctx {
	char errmsg[512];
	int err; /* the negative errno of the last failure */
	char *proc_sys_root;
	char *root;	   /* NULL: "/" */
	char *record_path; /* NULL: EPH_RECORD_PATH */
	char *netns_spec;
	int netns_fd; /* target namespace, -1 for the caller's own */
	dev_t netns_dev;
	ino_t netns_ino;
	int saved_fd;	    /* the caller's namespace while inside the target */
	unsigned int depth; /* nesting of ctx_netns_enter() */
	char *buf;	    /* sysctl read buffer, allocated on first use */
};

EPH_EXPORT const char *eph_version(void)
{
	return EPHPORT_VERSION;
}

EPH_EXPORT int eph_ctx_new(struct eph_ctx **ret)
{
	struct eph_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->netns_fd = -1;
	ctx->saved_fd = -1;
	*ret = ctx;
	return 0;
}

EPH_EXPORT int eph_ctx_dup(const struct eph_ctx *ctx, struct eph_ctx **ret)
{
	struct eph_ctx *c = ctx_clone(ctx);

	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

EPH_EXPORT void eph_ctx_free(struct eph_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->saved_fd >= 0) {
		/* Freed while inside the target: go home before forgetting. */
		(void)setns(ctx->saved_fd, CLONE_NEWNET);
		close(ctx->saved_fd);
	}
	if (ctx->netns_fd >= 0)
		close(ctx->netns_fd);
	free(ctx->proc_sys_root);
	free(ctx->root);
	free(ctx->record_path);
	free(ctx->netns_spec);
	free(ctx->buf);
	free(ctx);
}

struct eph_ctx *ctx_clone(const struct eph_ctx *ctx)
{
	struct eph_ctx *c;

	if (eph_ctx_new(&c) < 0)
		return NULL;
	if ((ctx->proc_sys_root &&
	     !(c->proc_sys_root = strdup(ctx->proc_sys_root))) ||
	    (ctx->root && !(c->root = strdup(ctx->root))) ||
	    (ctx->record_path &&
	     !(c->record_path = strdup(ctx->record_path))) ||
	    (ctx->netns_spec && !(c->netns_spec = strdup(ctx->netns_spec))))
		goto fail;
	if (ctx->netns_fd >= 0) {
		c->netns_fd = fcntl(ctx->netns_fd, F_DUPFD_CLOEXEC, 0);
		if (c->netns_fd < 0)
			goto fail;
		c->netns_dev = ctx->netns_dev;
		c->netns_ino = ctx->netns_ino;
	}
	return c;
fail:
	eph_ctx_free(c);
	return NULL;
}

int ctx_error(struct eph_ctx *ctx, int err, const char *fmt, ...)
{
	char msg[sizeof(ctx->errmsg)];
	va_list ap;

	if (ctx) {
		/* The arguments may quote the previous message: format apart.
		 */
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		memcpy(ctx->errmsg, msg, sizeof(msg));
		ctx->err = err;
	}
	return err;
}

int ctx_error_copy(struct eph_ctx *to, const struct eph_ctx *from)
{
	int err = from->err ? from->err : -EIO;

	if (to != from) {
		memcpy(to->errmsg, from->errmsg, sizeof(to->errmsg));
		to->err = err;
	}
	return err;
}

void ctx_clear_error(struct eph_ctx *ctx)
{
	if (ctx) {
		ctx->errmsg[0] = '\0';
		ctx->err = 0;
	}
}

EPH_EXPORT int eph_ctx_errno(const struct eph_ctx *ctx)
{
	return ctx ? ctx->err : 0;
}

EPH_EXPORT const char *eph_ctx_errmsg(const struct eph_ctx *ctx)
{
	return ctx ? ctx->errmsg : "";
}

EPH_EXPORT const char *eph_ctx_netns(const struct eph_ctx *ctx)
{
	return ctx->netns_spec;
}

EPH_EXPORT int eph_ctx_set_proc_sys_root(struct eph_ctx *ctx, const char *root)
{
	char *copy = NULL;

	if (root) {
		copy = strdup(root);
		if (!copy)
			return ctx_error(ctx, -ENOMEM, "out of memory");
	}
	free(ctx->proc_sys_root);
	ctx->proc_sys_root = copy;
	return 0;
}

EPH_EXPORT int eph_ctx_set_root(struct eph_ctx *ctx, const char *root)
{
	char *copy = NULL;
	size_t len;

	ctx_clear_error(ctx);
	if (root) {
		if (root[0] != '/')
			return ctx_error(
				ctx, -EINVAL,
				"root \"%.200s\" is not an absolute path",
				root);
		len = strlen(root);
		while (len > 1 && root[len - 1] == '/')
			len--;
		if (len >= PATH_MAX / 2)
			return ctx_error(ctx, -ENAMETOOLONG,
					 "root \"%.200s...\" is too long",
					 root);
		if (!(len == 1 && root[0] == '/')) {
			copy = strndup(root, len);
			if (!copy)
				return ctx_error(ctx, -ENOMEM, "out of memory");
		}
	}
	free(ctx->root);
	ctx->root = copy;
	return 0;
}

EPH_EXPORT const char *eph_ctx_root(const struct eph_ctx *ctx)
{
	return ctx->root ? ctx->root : "/";
}

EPH_EXPORT int eph_ctx_set_record_path(struct eph_ctx *ctx, const char *path)
{
	char *copy = NULL;

	ctx_clear_error(ctx);
	if (path && (path[0] != '/' || strlen(path) >= PATH_MAX / 2))
		return ctx_error(ctx, -EINVAL,
				 "record \"%.200s\" is not an absolute path",
				 path);
	if (path && !(copy = strdup(path)))
		return ctx_error(ctx, -ENOMEM, "out of memory");
	free(ctx->record_path);
	ctx->record_path = copy;
	return 0;
}

EPH_EXPORT const char *eph_ctx_record_path(const struct eph_ctx *ctx)
{
	return ctx->record_path ? ctx->record_path : EPH_RECORD_PATH;
}

const char *ctx_proc_sys_root(const struct eph_ctx *ctx)
{
	return ctx->proc_sys_root ? ctx->proc_sys_root : DEFAULT_PROC_SYS;
}

/*
 * Quotes a --netns spec for a message: cut at 60 characters, as the
 * command cuts what it echoes, so that a long one does not bury the
 * error. BUF needs NETNS_QUOTE bytes.
 */
#define NETNS_QUOTE 66
static const char *netns_quote(const char *spec, char *buf)
{
	return num_quote(spec, strlen(spec), buf, NETNS_QUOTE);
}

/* Turns a --netns spec into the path of its namespace file. */
static int netns_path(struct eph_ctx *ctx, const char *spec, char *path,
		      size_t size)
{
	char q[NETNS_QUOTE];
	uint64_t pid;
	int r;

	if (strncmp(spec, "pid:", 4) == 0) {
		r = eph_num_parse_str(ctx, spec + 4, 1, PID_MAX_LIMIT, "pid",
				      &pid);
		if (r < 0)
			return ctx_error(ctx, r, "network namespace %s: %s",
					 netns_quote(spec, q),
					 eph_ctx_errmsg(ctx));
		snprintf(path, size, "/proc/%llu/ns/net",
			 (unsigned long long)pid);
		return 0;
	}
	if (strchr(spec, '/')) {
		if (strlen(spec) >= size)
			return ctx_error(ctx, -EINVAL,
					 "network namespace path is too long");
		snprintf(path, size, "%s", spec);
		return 0;
	}
	if (!spec[0] || strcmp(spec, ".") == 0 || strcmp(spec, "..") == 0 ||
	    strlen(spec) > NAME_MAX)
		return ctx_error(ctx, -EINVAL,
				 "%s is not a network namespace name",
				 netns_quote(spec, q));
	snprintf(path, size, "/run/netns/%s", spec);
	return 0;
}

EPH_EXPORT int eph_ctx_set_netns(struct eph_ctx *ctx, const char *spec)
{
	char path[PATH_MAX], q[NETNS_QUOTE];
	struct stat st;
	char *copy = NULL;
	int fd = -1, type, r;

	ctx_clear_error(ctx);
	if (ctx->depth > 0)
		return ctx_error(ctx, -EBUSY,
				 "cannot change namespace while inside one");
	if (spec) {
		r = netns_path(ctx, spec, path, sizeof(path));
		if (r < 0)
			return r;
		copy = strdup(spec);
		if (!copy)
			return ctx_error(ctx, -ENOMEM, "out of memory");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			ctx_error(ctx, r, "network namespace %s: %s: %s",
				  netns_quote(spec, q), path, strerror(errno));
			goto fail;
		}
		type = ioctl(fd, NS_GET_NSTYPE);
		if (type < 0 || type != CLONE_NEWNET) {
			r = -EINVAL;
			ctx_error(ctx, r,
				  "network namespace %s: %s is not a "
				  "network namespace%s",
				  netns_quote(spec, q), path,
				  type < 0 ? " (a stale file of a deleted "
					     "namespace?)"
					   : "");
			goto fail;
		}
		if (fstat(fd, &st) < 0) {
			r = -errno;
			ctx_error(ctx, r, "network namespace %s: %s",
				  netns_quote(spec, q), strerror(errno));
			goto fail;
		}
		ctx->netns_dev = st.st_dev;
		ctx->netns_ino = st.st_ino;
	}
	if (ctx->netns_fd >= 0)
		close(ctx->netns_fd);
	free(ctx->netns_spec);
	ctx->netns_fd = fd;
	ctx->netns_spec = copy;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

EPH_EXPORT int eph_ctx_netns_id(const struct eph_ctx *ctx, uint64_t *ret_dev,
				uint64_t *ret_ino)
{
	struct stat st;

	if (ctx->netns_fd >= 0) {
		*ret_dev = (uint64_t)ctx->netns_dev;
		*ret_ino = (uint64_t)ctx->netns_ino;
		return 0;
	}
	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return -errno;
	*ret_dev = (uint64_t)st.st_dev;
	*ret_ino = (uint64_t)st.st_ino;
	return 0;
}

EPH_EXPORT int eph_ctx_netns_is_boot(const struct eph_ctx *ctx)
{
	uint64_t dev, ino;
	struct stat st;
	int r;

	r = eph_ctx_netns_id(ctx, &dev, &ino);
	if (r < 0)
		return r;
	/* init (pid 1 of our pid namespace) applies sysctl.d at boot. */
	if (stat("/proc/1/ns/net", &st) == 0)
		return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
	if (errno != EACCES && errno != EPERM)
		return -errno;
	/*
	 * Where init's namespace cannot be looked at (a sandbox that hides
	 * pid 1), the caller's own namespace stands for the host's: that is
	 * where an operator runs ephport without --netns.
	 */
	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return -errno;
	return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

int ctx_netns_enter(struct eph_ctx *ctx)
{
	char q[NETNS_QUOTE];
	struct stat st;
	int fd, r;

	if (ctx->netns_fd < 0 || ctx->depth > 0) {
		ctx->depth++;
		return 0;
	}
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctx_error(ctx, -errno,
				 "cannot open this thread's network namespace: "
				 "%s",
				 strerror(errno));
	if (fstat(fd, &st) == 0 && st.st_dev == ctx->netns_dev &&
	    st.st_ino == ctx->netns_ino) {
		/* Already there: no privilege needed, nothing to restore. */
		close(fd);
		ctx->depth++;
		return 0;
	}
	if (setns(ctx->netns_fd, CLONE_NEWNET) < 0) {
		r = -errno;
		close(fd);
		return ctx_error(ctx, r,
				 "cannot enter network namespace %s: %s%s",
				 netns_quote(ctx->netns_spec, q), strerror(-r),
				 r == -EPERM ? " (needs CAP_SYS_ADMIN)" : "");
	}
	ctx->saved_fd = fd;
	ctx->depth++;
	return 0;
}

int ctx_netns_leave(struct eph_ctx *ctx)
{
	int r = 0;

	if (ctx->depth == 0)
		return 0;
	if (--ctx->depth > 0 || ctx->saved_fd < 0)
		return 0;
	if (setns(ctx->saved_fd, CLONE_NEWNET) < 0)
		r = ctx_error(ctx, -errno,
			      "cannot return to the original network "
			      "namespace: %s",
			      strerror(errno));
	close(ctx->saved_fd);
	ctx->saved_fd = -1;
	return r;
}

/* The file of sysctl NAME: net.ipv4.x is ROOT/net/ipv4/x. */
static int sysctl_path(struct eph_ctx *ctx, const char *name, char *path,
		       size_t size)
{
	size_t n = (size_t)snprintf(path, size, "%s/", ctx_proc_sys_root(ctx));

	if (n >= size || strlen(name) >= size - n)
		return ctx_error(ctx, -ENAMETOOLONG, "%s: path too long", name);
	for (const char *c = name; *c; c++)
		path[n++] = *c == '.' ? '/' : *c;
	path[n] = '\0';
	return 0;
}

int ctx_sysctl_read(struct eph_ctx *ctx, const char *name, const char **ret_buf,
		    size_t *ret_len)
{
	char path[PATH_MAX];
	ssize_t got;
	int fd, r;

	r = sysctl_path(ctx, name, path, sizeof(path));
	if (r < 0)
		return r;

	if (!ctx->buf) {
		ctx->buf = malloc(SYSCTL_BUF_SIZE);
		if (!ctx->buf)
			return ctx_error(ctx, -ENOMEM, "out of memory");
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctx_error(ctx, -errno, "cannot read %s (%s): %s", name,
				 path, strerror(errno));
	/*
	 * One read from offset 0: the kernel formats the whole value on the
	 * first read and a second read at a non-zero offset returns EOF.
	 */
	do
		got = read(fd, ctx->buf, SYSCTL_BUF_SIZE);
	while (got < 0 && errno == EINTR);
	r = got < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return ctx_error(ctx, r, "cannot read %s (%s): %s", name, path,
				 strerror(-r));
	if ((size_t)got >= SYSCTL_BUF_SIZE)
		return ctx_error(ctx, -EFBIG, "%s (%s): value too long", name,
				 path);
	ctx->buf[got] = '\0';
	*ret_buf = ctx->buf;
	*ret_len = (size_t)got;
	return 0;
}

int ctx_sysctl_write(struct eph_ctx *ctx, const char *name, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	ssize_t w;
	int fd, r, e;

	ctx_clear_error(ctx);
	r = sysctl_path(ctx, name, path, sizeof(path));
	if (r < 0)
		return r;
	r = ctx_netns_enter(ctx);
	if (r < 0)
		return r;
	/* /proc/sys belongs to the namespace of the process that opens it. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	e = fd < 0 ? errno : 0;
	r = ctx_netns_leave(ctx);
	if (fd < 0)
		return ctx_error(ctx, -e, "cannot write %s: %s%s", name,
				 strerror(e),
				 e == EACCES || e == EPERM
					 ? " (needs CAP_NET_ADMIN in the "
					   "target namespace: run as root)"
					 : "");
	if (r < 0) {
		close(fd);
		return r;
	}
	/* One write from offset 0: the kernel parses the whole value. */
	do
		w = write(fd, value, len);
	while (w < 0 && errno == EINTR);
	e = w < 0 ? errno : (size_t)w == len ? 0 : EIO;
	close(fd);
	if (e)
		return ctx_error(ctx, -e, "%s: the kernel refused \"%s\": %s",
				 name, value, strerror(e));
	return 0;
}
