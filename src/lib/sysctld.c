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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* No sysctl.d file needs more; a bigger one is not read. */
#define FILE_MAX (1024 * 1024)

static const char *const conf_dirs[] = {
	"/etc/sysctl.d",     "/run/sysctl.d", "/usr/local/lib/sysctl.d",
	"/usr/lib/sysctl.d", "/lib/sysctl.d",
};

/* A value longer than this is reported, not kept. */
#define SYSCTLD_VALUE_MAX 8191

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int sysctld_parse(const char *buf, size_t len,
		  int (*cb)(const struct sysctld_line *l, void *data),
		  void *data)
{
	size_t pos = 0;
	unsigned int line = 0;
	const char *s;
	size_t n;

	while (num_next_line(buf, len, &pos, &s, &n)) {
		struct sysctld_line l = { 0 };
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

bool sysctld_key_is(const char *key, size_t len, const char *name)
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
	struct eph_sysctld_setting *settings;
	size_t n, cap;
	struct eph_sysctld_setting *bad; /* lines systemd-sysctl ignores */
	size_t nbad, capbad;
	const char *const *keys; /* the keys collected */
	size_t nkeys;
};

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

/* Adds the *.conf files of directory DIR that no earlier one masks. */
static int list_dir(struct eph_ctx *ctx, const char *dir,
		    struct conf_file **files, size_t *n, size_t *cap)
{
	struct dirent *de;
	DIR *dh;
	int fd;

	fd = fileio_open(ctx, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return ctx_error(ctx, fd, "cannot list %s",
				 eph_ctx_errmsg(ctx));
	dh = fdopendir(fd);
	if (!dh) {
		close(fd);
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
		for (size_t i = 0; i < *n; i++)
			if (strcmp((*files)[i].name, de->d_name) == 0)
				seen = true;
		if (seen)
			continue;
		if (num_grow((void **)files, cap, *n, sizeof(**files)) < 0) {
			closedir(dh);
			return ctx_error(ctx, -ENOMEM, "out of memory");
		}
		snprintf((*files)[*n].name, sizeof((*files)[*n].name), "%s",
			 de->d_name);
		snprintf((*files)[*n].path, sizeof((*files)[*n].path), "%s/%s",
			 dir, de->d_name);
		(*files)[*n].masked = is_mask(dirfd(dh), de->d_name);
		(*n)++;
	}
	closedir(dh);
	return 0;
}

static int list_files(struct eph_ctx *ctx, struct conf_file **ret,
		      size_t *ret_n)
{
	struct conf_file *files = NULL;
	size_t n = 0, cap = 0;

	for (size_t d = 0; d < ARRAY_SIZE(conf_dirs); d++) {
		int r = list_dir(ctx, conf_dirs[d], &files, &n, &cap);

		if (r < 0) {
			free(files);
			return r;
		}
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
};

static int push(struct eph_sysctld_setting **v, size_t *n, size_t *cap,
		const struct eph_sysctld_setting *set, const char *value,
		size_t value_len)
{
	struct eph_sysctld_setting *s;

	if (num_grow((void **)v, cap, *n, sizeof(**v)) < 0)
		return -ENOMEM;
	s = &(*v)[*n];
	*s = *set;
	s->file = strdup(set->file);
	s->value = strndup(value, value_len);
	if (!s->file || !s->value) {
		free((char *)s->file);
		free((char *)s->value);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static int collect_line(const struct sysctld_line *l, void *data)
{
	struct collect *c = data;
	struct eph_sysctld_setting set = { 0 };
	char big[64];

	set.file = c->path;
	set.line = l->line;
	set.order = c->order;
	if (!l->key)
		return push(&c->s->bad, &c->s->nbad, &c->s->capbad, &set,
			    l->error, strlen(l->error));
	for (size_t k = 0; k < c->s->nkeys; k++) {
		if (!sysctld_key_is(l->key, l->key_len, c->s->keys[k]))
			continue;
		set.key = c->s->keys[k];
		if (l->value_len > SYSCTLD_VALUE_MAX) {
			set.too_long = true;
			snprintf(big, sizeof(big), "(a value of %zu bytes)",
				 l->value_len);
			return push(&c->s->settings, &c->s->n, &c->s->cap, &set,
				    big, strlen(big));
		}
		return push(&c->s->settings, &c->s->n, &c->s->cap, &set,
			    l->value, l->value_len);
	}
	return 0;
}

static int read_one(struct eph_ctx *ctx, struct eph_sysctld *s, const char *rel,
		    int order)
{
	struct collect c = { s, rel, order };
	char shown[PATH_MAX], *buf;
	size_t len;
	int fd, r;

	fd = fileio_open(ctx, rel, O_RDONLY, 0);
	if (fd == -ENOENT)
		return 0; /* a dangling link, or gone meanwhile */
	if (fd < 0)
		return ctx_error(ctx, fd, "cannot read %s",
				 eph_ctx_errmsg(ctx));
	fileio_display(ctx, rel, shown, sizeof(shown));
	r = fileio_read_fd(ctx, fd, shown, FILE_MAX, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	r = sysctld_parse(buf, len, collect_line, &c);
	free(buf);
	return r < 0 ? ctx_error(ctx, r, "out of memory") : 0;
}

EPH_EXPORT int eph_sysctld_read(struct eph_ctx *ctx, const char *const *keys,
				size_t nkeys, struct eph_sysctld **ret)
{
	struct eph_sysctld *s = calloc(1, sizeof(*s));
	struct conf_file *files = NULL;
	size_t n = 0;
	int order = 0, r;

	ctx_clear_error(ctx);
	if (!s)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	s->keys = keys;
	s->nkeys = nkeys;
	r = list_files(ctx, &files, &n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (!files[i].masked)
			r = read_one(ctx, s, files[i].path, order++);
	/* sysctl --system applies /etc/sysctl.conf after everything. */
	if (r >= 0)
		r = read_one(ctx, s, "/etc/sysctl.conf", order);
	free(files);
	if (r < 0) {
		eph_sysctld_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static void free_settings(struct eph_sysctld_setting *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].file);
		free((char *)v[i].value);
	}
	free(v);
}

EPH_EXPORT void eph_sysctld_free(struct eph_sysctld *s)
{
	if (!s)
		return;
	free_settings(s->settings, s->n);
	free_settings(s->bad, s->nbad);
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
