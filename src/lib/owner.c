/* SPDX-License-Identifier: MIT */
/*
 * Socket owners: which process holds a socket inode. sock_diag gives only
 * the inode; the owner is found the way ss -p and lsof find it, by reading
 * the links in /proc/PID/fd. That walk costs one readlink per open file on
 * the host, so it is done once for all the inodes a caller wants, and it
 * stops as soon as every one of them is found.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct eph_owners {
	struct eph_ctx *ctx;
	struct eph_owner *items; /* sorted by inode once resolved */
	size_t n, cap;
	size_t found;
	bool sorted;
	char proc[64];
};

EPH_EXPORT int eph_owners_new(struct eph_ctx *ctx, struct eph_owners **ret)
{
	struct eph_owners *o = calloc(1, sizeof(*o));

	if (!o)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	o->ctx = ctx;
	o->sorted = true;
	snprintf(o->proc, sizeof(o->proc), "/proc");
	*ret = o;
	return 0;
}

EPH_EXPORT void eph_owners_free(struct eph_owners *o)
{
	if (!o)
		return;
	free(o->items);
	free(o);
}

EPH_EXPORT void eph_owners_clear(struct eph_owners *o)
{
	o->n = 0;
	o->found = 0;
	o->sorted = true;
}

EPH_EXPORT int eph_owners_want(struct eph_owners *o, uint32_t inode)
{
	if (inode == 0)
		return 0;
	if (num_grow((void **)&o->items, &o->cap, o->n, sizeof(*o->items)) < 0)
		return ctx_error(o->ctx, -ENOMEM, "out of memory");
	memset(&o->items[o->n], 0, sizeof(o->items[0]));
	o->items[o->n].inode = inode;
	o->items[o->n].pid = -1;
	o->n++;
	o->sorted = false;
	return 0;
}

static int owner_cmp(const void *a, const void *b)
{
	const struct eph_owner *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static void sort_unique(struct eph_owners *o)
{
	size_t w = 0;

	if (o->sorted)
		return;
	if (o->n > 1)
		qsort(o->items, o->n, sizeof(*o->items), owner_cmp);
	for (size_t i = 0; i < o->n; i++)
		if (w == 0 || o->items[w - 1].inode != o->items[i].inode)
			o->items[w++] = o->items[i];
	o->n = w;
	o->sorted = true;
}

/* Returns the slot of INODE in the sorted table, or SIZE_MAX. */
static size_t lookup(const struct eph_owners *o, uint32_t inode)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->items[mid].inode == inode)
			return mid;
		if (o->items[mid].inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

void owner_read_comm(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t n = -1;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, size, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* A name is the process's own choice: keep it printable. */
	for (char *c = buf; *c; c++)
		if (!isprint((unsigned char)*c))
			*c = '?';
}

/*
 * Reads the cgroup v2 path of the process in PIDFD from its cgroup file:
 * the "0::PATH" line, present on unified and hybrid hosts alike.
 */
static void read_cgroup(int pidfd, char *buf, size_t size)
{
	char data[4096];
	ssize_t n = -1;
	const char *p;
	int fd = openat(pidfd, "cgroup", O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd >= 0) {
		n = read(fd, data, sizeof(data) - 1);
		close(fd);
	}
	if (n <= 0)
		return;
	data[n] = '\0';
	for (p = data; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "0::", 3) == 0) {
			size_t l = strcspn(p + 3, "\n");

			snprintf(buf, size, "%.*s", (int)l, p + 3);
			for (char *c = buf; *c; c++)
				if (!isprint((unsigned char)*c))
					*c = '?';
			return;
		}
	}
}

/* Parses "socket:[12345]". */
static bool socket_inode(const char *link, size_t len, uint32_t *ret)
{
	uint64_t v = 0;
	size_t i = 8;

	if (len < 10 || memcmp(link, "socket:[", 8) != 0 ||
	    link[len - 1] != ']')
		return false;
	for (; i < len - 1; i++) {
		if (link[i] < '0' || link[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(link[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*ret = (uint32_t)v;
	return i > 8;
}

/* Looks through one process's descriptors. Returns owners newly found. */
static size_t scan_pid(struct eph_owners *o, int procfd, const char *pid)
{
	char link[64];
	struct dirent *de;
	size_t found = 0;
	int pidfd, fdfd;
	DIR *d;

	pidfd = openat(procfd, pid, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pidfd < 0)
		return 0;
	fdfd = openat(pidfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdfd >= 0 ? fdopendir(fdfd) : NULL;
	if (!d) {
		if (fdfd >= 0)
			close(fdfd);
		close(pidfd);
		return 0; /* gone, or not ours to read */
	}
	while ((de = readdir(d)) != NULL) {
		struct eph_owner *owner;
		uint32_t inode;
		size_t slot;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link));
		if (n <= 0 || (size_t)n >= sizeof(link) ||
		    !socket_inode(link, (size_t)n, &inode))
			continue;
		slot = lookup(o, inode);
		if (slot == SIZE_MAX || o->items[slot].pid >= 0)
			continue;
		owner = &o->items[slot];
		owner->pid = (int32_t)strtol(pid, NULL, 10);
		owner_read_comm(pidfd, "comm", owner->comm,
				sizeof(owner->comm));
		read_cgroup(pidfd, owner->cgroup, sizeof(owner->cgroup));
		found++;
		if (o->found + found == o->n)
			break;
	}
	closedir(d);
	close(pidfd);
	return found;
}

/* A process to look through, and what it costs to. */
struct candidate {
	char pid[16];
	bool in_ns;    /* in the target namespace */
	uint64_t nfds; /* open descriptors, where the kernel says (6.2+) */
};

/*
 * Cheapest first: the target namespace's processes before the others (a
 * socket's owner is usually in its namespace), and among them the ones
 * with the fewest descriptors, since each costs one readlink per
 * descriptor. The order changes only how soon the walk can stop.
 */
static int candidate_cmp(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->in_ns != y->in_ns)
		return x->in_ns ? -1 : 1;
	if (x->nfds != y->nfds)
		return x->nfds < y->nfds ? -1 : 1;
	return strcmp(x->pid, y->pid);
}

static int list_candidates(int procfd, DIR *d, bool have_ns, uint64_t dev,
			   uint64_t ino, struct candidate **ret, size_t *ret_n)
{
	struct candidate *c = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	while ((de = readdir(d)) != NULL) {
		char path[64];
		struct stat st;

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    strlen(de->d_name) >= sizeof(c->pid))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct candidate *m = realloc(c, nc * sizeof(*m));

			if (!m) {
				free(c);
				return -ENOMEM;
			}
			c = m;
			cap = nc;
		}
		/* Checked above: the name fits, with its NUL. */
		memcpy(c[n].pid, de->d_name, strlen(de->d_name) + 1);
		snprintf(path, sizeof(path), "%.15s/ns/net", c[n].pid);
		c[n].in_ns = have_ns && fstatat(procfd, path, &st, 0) == 0 &&
			     (uint64_t)st.st_dev == dev &&
			     (uint64_t)st.st_ino == ino;
		/* /proc/PID/fd reports its count as its size from 6.2;
		 * before, every size is 0 and the order is the pids'. */
		snprintf(path, sizeof(path), "%.15s/fd", c[n].pid);
		c[n].nfds = fstatat(procfd, path, &st, 0) == 0
				    ? (uint64_t)st.st_size
				    : 0;
		n++;
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

EPH_EXPORT int eph_owners_resolve(struct eph_owners *o)
{
	struct eph_ctx *ctx = o->ctx;
	struct candidate *c = NULL;
	uint64_t dev = 0, ino = 0;
	size_t n = 0;
	bool have_ns;
	DIR *d;
	int r;

	ctx_clear_error(ctx);
	sort_unique(o);
	o->found = 0;
	for (size_t i = 0; i < o->n; i++)
		o->items[i].pid = -1;
	if (o->n == 0)
		return 0;
	have_ns = eph_ctx_netns_id(ctx, &dev, &ino) == 0;
	d = opendir(o->proc);
	if (!d)
		return ctx_error(ctx, -errno, "cannot list %s: %s", o->proc,
				 strerror(errno));
	r = list_candidates(dirfd(d), d, have_ns, dev, ino, &c, &n);
	if (r < 0) {
		closedir(d);
		return ctx_error(ctx, r, "out of memory");
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), candidate_cmp);
	for (size_t i = 0; i < n && o->found < o->n; i++)
		o->found += scan_pid(o, dirfd(d), c[i].pid);
	free(c);
	closedir(d);
	return (int)o->found;
}

EPH_EXPORT const struct eph_owner *eph_owners_find(const struct eph_owners *o,
						   uint32_t inode)
{
	size_t slot;

	if (!o->sorted)
		return NULL;
	slot = lookup(o, inode);
	if (slot == SIZE_MAX || o->items[slot].pid < 0)
		return NULL;
	return &o->items[slot];
}
