/* SPDX-License-Identifier: MIT */
/*
 * sysctl.d: what a reboot applies, and ephport's own drop-in.
 *
 * systemd-sysctl and `sysctl --system` read every *.conf file of
 * /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d
 * and /lib/sysctl.d; a file name found in an earlier directory masks the
 * same name in later ones (a link to /dev/null masks it away); the files
 * are applied in order of their names, and a later assignment to a key
 * wins. `sysctl --system` then applies /etc/sysctl.conf last (Debian's
 * 99-sysctl.conf links to it, which is how systemd-sysctl sees it).
 *
 * The parser is a pure function over bytes; the rest reads the files under
 * a root (/ or a test tree) and writes the drop-in atomically.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* No sysctl.d file needs more; a bigger one is not read. */
#define FILE_MAX (1024 * 1024)

static const char *const conf_dirs[] = {
	"etc/sysctl.d",	    "run/sysctl.d", "usr/local/lib/sysctl.d",
	"usr/lib/sysctl.d", "lib/sysctl.d",
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

EPH_EXPORT int eph_sysctld_parse(const char *buf, size_t len,
				 int (*cb)(const struct eph_sysctld_line *l,
					   void *data),
				 void *data)
{
	size_t pos = 0;
	unsigned int line = 0;
	const char *s;
	size_t n;

	while (num_next_line(buf, len, &pos, &s, &n)) {
		struct eph_sysctld_line l = { 0 };
		const char *eq;
		size_t b = 0, e = n, k;
		int r;

		line++;
		while (b < e && is_space(s[b]))
			b++;
		while (e > b && is_space(s[e - 1]))
			e--;
		if (b == e || s[b] == '#' || s[b] == ';')
			continue;
		l.line = line;
		if (memchr(s + b, '\0', e - b)) {
			l.error = "a NUL byte in the line";
		} else if (!(eq = memchr(s + b, '=', e - b))) {
			l.error = "not an assignment (no '=')";
		} else {
			k = (size_t)(eq - (s + b));
			while (k > 0 && is_space(s[b + k - 1]))
				k--;
			l.key = s + b;
			l.key_len = k;
			if (k > 0 && l.key[0] == '-') {
				l.ignore_failure = true;
				l.key++;
				l.key_len--;
			}
			l.value = eq + 1;
			l.value_len = (size_t)(s + e - l.value);
			while (l.value_len && is_space(l.value[0])) {
				l.value++;
				l.value_len--;
			}
			if (l.key_len == 0) {
				l.key = NULL;
				l.error = "an assignment without a key";
			} else {
				for (size_t i = 0; i < l.key_len; i++)
					if (is_space(l.key[i])) {
						l.key = NULL;
						l.error = "a space inside the "
							  "key";
						break;
					}
			}
		}
		r = cb(&l, data);
		if (r < 0)
			return r;
	}
	return 0;
}

EPH_EXPORT bool eph_sysctld_key_is(const char *key, size_t len,
				   const char *name)
{
	/*
	 * "net/ipv4/x" names the same as "net.ipv4.x": when the first
	 * separator is '/', '/' separates and '.' is literal (sysctl.d(5)).
	 */
	size_t first = 0;
	bool slash;

	while (first < len && key[first] != '.' && key[first] != '/')
		first++;
	slash = first < len && key[first] == '/';

	if (strlen(name) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = key[i];

		if (slash)
			c = c == '/' ? '.' : (c == '.' ? '/' : c);
		if (c != name[i])
			return false;
	}
	return true;
}

/* ---- Reading every file under a root ---- */

struct conf_file {
	char name[NAME_MAX + 1]; /* the basename, which orders and masks */
	char path[PATH_MAX];	 /* relative to the root, for messages */
	bool masked;		 /* a link to /dev/null */
};

struct eph_sysctld {
	char *root;
	struct eph_sysctld_setting *settings;
	size_t n, cap;
	struct eph_sysctld_setting *bad; /* lines systemd-sysctl ignores */
	size_t nbad, capbad;
	const char **keys; /* the keys collected */
	size_t nkeys;
};

static int push(struct eph_sysctld_setting **v, size_t *n, size_t *cap,
		const struct eph_sysctld_setting *s)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct eph_sysctld_setting *m = realloc(*v, c * sizeof(*m));

		if (!m)
			return -ENOMEM;
		*v = m;
		*cap = c;
	}
	(*v)[(*n)++] = *s;
	return 0;
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct conf_file *)a)->name,
		      ((const struct conf_file *)b)->name);
}

/* Is this directory entry a link to /dev/null (a mask)? */
static bool is_mask(int dfd, const char *name)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

	if (n <= 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "/dev/null") == 0;
}

static int list_files(struct eph_ctx *ctx, const char *root,
		      struct conf_file **ret, size_t *ret_n)
{
	struct conf_file *files = NULL;
	size_t n = 0, cap = 0;

	for (size_t d = 0; d < sizeof(conf_dirs) / sizeof(conf_dirs[0]); d++) {
		char dir[PATH_MAX];
		struct dirent *de;
		DIR *dh;

		snprintf(dir, sizeof(dir), "%s/%s", root, conf_dirs[d]);
		dh = opendir(dir);
		if (!dh) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			free(files);
			return ctx_error(ctx, -errno, "cannot list %s: %s", dir,
					 strerror(errno));
		}
		while ((de = readdir(dh)) != NULL) {
			size_t l = strlen(de->d_name);
			bool seen = false;

			if (l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0 ||
			    de->d_name[0] == '.')
				continue;
			/* An earlier directory's file of this name masks it. */
			for (size_t i = 0; i < n; i++)
				if (strcmp(files[i].name, de->d_name) == 0)
					seen = true;
			if (seen)
				continue;
			if (n == cap) {
				size_t c = cap ? cap * 2 : 32;
				struct conf_file *m =
					realloc(files, c * sizeof(*m));

				if (!m) {
					closedir(dh);
					free(files);
					return ctx_error(ctx, -ENOMEM,
							 "out of memory");
				}
				files = m;
				cap = c;
			}
			snprintf(files[n].name, sizeof(files[n].name), "%s",
				 de->d_name);
			snprintf(files[n].path, sizeof(files[n].path), "/%s/%s",
				 conf_dirs[d], de->d_name);
			files[n].masked = is_mask(dirfd(dh), de->d_name);
			n++;
		}
		closedir(dh);
	}
	if (n > 1)
		qsort(files, n, sizeof(*files), file_cmp);
	*ret = files;
	*ret_n = n;
	return 0;
}

struct collect {
	struct eph_sysctld *s;
	const char *path;
	int order; /* the file's place in the sequence */
	int err;
};

static int collect_line(const struct eph_sysctld_line *l, void *data)
{
	struct collect *c = data;
	struct eph_sysctld_setting set = { 0 };

	snprintf(set.file, sizeof(set.file), "%s", c->path);
	set.line = l->line;
	set.order = c->order;
	if (!l->key) {
		snprintf(set.value, sizeof(set.value), "%s", l->error);
		return push(&c->s->bad, &c->s->nbad, &c->s->capbad, &set);
	}
	for (size_t k = 0; k < c->s->nkeys; k++) {
		if (!eph_sysctld_key_is(l->key, l->key_len, c->s->keys[k]))
			continue;
		set.key = c->s->keys[k];
		if (l->value_len >= sizeof(set.value)) {
			snprintf(set.value, sizeof(set.value),
				 "(a value of %zu bytes)", l->value_len);
			set.too_long = true;
		} else {
			memcpy(set.value, l->value, l->value_len);
			set.value[l->value_len] = '\0';
		}
		return push(&c->s->settings, &c->s->n, &c->s->cap, &set);
	}
	return 0;
}

EPH_EXPORT int eph_file_read(struct eph_ctx *ctx, int dirfd, const char *path,
			     int oflags, size_t max, char **ret_buf,
			     size_t *ret_len)
{
	char *buf;
	size_t len = 0;
	ssize_t got;
	int fd, e;

	ctx_clear_error(ctx);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | oflags);
	if (fd < 0)
		return ctx_error(ctx, -errno, "cannot read %s: %s", path,
				 strerror(errno));
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return ctx_error(ctx, -ENOMEM, "out of memory");
	}
	/* One byte more than MAX tells a file that is too large. */
	while ((got = read(fd, buf + len, max + 1 - len)) > 0)
		len += (size_t)got;
	e = got < 0 ? errno : 0;
	close(fd);
	if (e || len > max) {
		free(buf);
		return ctx_error(ctx, e ? -e : -EFBIG, "cannot read %s: %s",
				 path,
				 e ? strerror(e) : "larger than expected");
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

static int read_one(struct eph_ctx *ctx, struct eph_sysctld *s, const char *rel,
		    int order)
{
	struct collect c = { s, rel, order, 0 };
	char path[PATH_MAX], *buf;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s%s", s->root, rel);
	r = eph_file_read(ctx, AT_FDCWD, path, 0, FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0; /* a dangling link, or gone meanwhile */
	if (r < 0)
		return r;
	r = eph_sysctld_parse(buf, len, collect_line, &c);
	free(buf);
	return r < 0 ? ctx_error(ctx, r, "out of memory") : 0;
}

EPH_EXPORT struct eph_sysctld *eph_sysctld_read(struct eph_ctx *ctx,
						const char *root,
						const char *const *keys,
						size_t nkeys)
{
	struct eph_sysctld *s = calloc(1, sizeof(*s));
	struct conf_file *files = NULL;
	size_t n = 0;
	int order = 0;

	ctx_clear_error(ctx);
	if (!s || !(s->root = strdup(root && strcmp(root, "/") ? root : ""))) {
		ctx_error(ctx, -ENOMEM, "out of memory");
		goto fail;
	}
	s->keys = (const char **)keys;
	s->nkeys = nkeys;
	if (list_files(ctx, s->root[0] ? s->root : "", &files, &n) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (!files[i].masked &&
		    read_one(ctx, s, files[i].path, order++) < 0)
			goto fail;
	/* sysctl --system applies /etc/sysctl.conf after everything. */
	if (read_one(ctx, s, "/etc/sysctl.conf", order) < 0)
		goto fail;
	free(files);
	return s;
fail:
	free(files);
	eph_sysctld_free(s);
	return NULL;
}

EPH_EXPORT void eph_sysctld_free(struct eph_sysctld *s)
{
	if (!s)
		return;
	free(s->settings);
	free(s->bad);
	free(s->root);
	free(s);
}

EPH_EXPORT size_t eph_sysctld_count(const struct eph_sysctld *s)
{
	return s->n;
}

EPH_EXPORT const struct eph_sysctld_setting *
eph_sysctld_get(const struct eph_sysctld *s, size_t i)
{
	return i < s->n ? &s->settings[i] : NULL;
}

EPH_EXPORT size_t eph_sysctld_bad_count(const struct eph_sysctld *s)
{
	return s->nbad;
}

EPH_EXPORT const struct eph_sysctld_setting *
eph_sysctld_bad(const struct eph_sysctld *s, size_t i)
{
	return i < s->nbad ? &s->bad[i] : NULL;
}

EPH_EXPORT const struct eph_sysctld_setting *
eph_sysctld_winner(const struct eph_sysctld *s, const char *key,
		   bool sysctl_system)
{
	const struct eph_sysctld_setting *w = NULL;

	/* Settings are in the order they are applied; the last one wins.
	 * systemd-sysctl does not read /etc/sysctl.conf by itself. */
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->settings[i].key, key) != 0)
			continue;
		if (!sysctl_system &&
		    strcmp(s->settings[i].file, "/etc/sysctl.conf") == 0)
			continue;
		w = &s->settings[i];
	}
	return w;
}

/* ---- Writing files: locked, atomic ---- */

EPH_EXPORT int eph_dir_lock(struct eph_ctx *ctx, const char *dir, bool create)
{
	int fd;

	ctx_clear_error(ctx);
	if (create && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return ctx_error(ctx, -errno, "cannot create %s: %s", dir,
				 strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ctx_error(ctx, -errno, "cannot open %s: %s", dir,
				 strerror(errno));
	/* One writer at a time: the lock is on the directory itself. */
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;

			close(fd);
			return ctx_error(ctx, -e, "cannot lock %s: %s", dir,
					 strerror(e));
		}
	}
	return fd;
}

EPH_EXPORT int eph_dropin_lock(struct eph_ctx *ctx, const char *root,
			       bool create)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/etc/sysctl.d",
		 root && strcmp(root, "/") ? root : "");
	return eph_dir_lock(ctx, dir, create);
}

EPH_EXPORT int eph_file_replace(struct eph_ctx *ctx, int dirfd,
				const char *name, const char *content,
				size_t len)
{
	char tmp[NAME_MAX + 1];
	size_t off = 0;
	int fd, r = 0;

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
