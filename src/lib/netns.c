/* SPDX-License-Identifier: MIT */
/*
 * Every network namespace of the host: the named ones under /run/netns
 * (ip netns add) and every distinct namespace a running process is in (a
 * container host's view), each once, named ones first.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "internal.h"

struct list {
	struct eph_netns *items;
	size_t n, cap;
};

static struct eph_netns *list_find(const struct list *l, const struct stat *st)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].dev == (uint64_t)st->st_dev &&
		    l->items[i].ino == (uint64_t)st->st_ino)
			return &l->items[i];
	return NULL;
}

static struct eph_netns *list_add(struct list *l, const struct stat *st)
{
	struct eph_netns *e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct eph_netns *n = realloc(l->items, cap * sizeof(*n));

		if (!n)
			return NULL;
		l->items = n;
		l->cap = cap;
	}
	e = &l->items[l->n++];
	memset(e, 0, sizeof(*e));
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
	e->pid = -1;
	return e;
}

static int add_named(struct list *l, const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		struct eph_netns *e;
		struct stat st;
		bool ok;
		int fd;

		if (de->d_name[0] == '.' ||
		    strlen(de->d_name) >= sizeof(e->spec))
			continue;
		/* A stale file of a deleted namespace is no namespace. */
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ok = ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET &&
		     fstat(fd, &st) == 0;
		close(fd);
		if (!ok || list_find(l, &st))
			continue;
		e = list_add(l, &st);
		if (!e) {
			closedir(d);
			return -ENOMEM;
		}
		e->named = true;
		snprintf(e->spec, sizeof(e->spec), "%s", de->d_name);
		snprintf(e->label, sizeof(e->label), "%s", de->d_name);
	}
	closedir(d);
	return 0;
}

static void read_comm(long pid, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	owner_read_comm(AT_FDCWD, path, buf, size);
}

static int add_processes(struct list *l)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	/* /proc lists pids in ascending order: the first seen is lowest. */
	while ((de = readdir(d)) != NULL) {
		char path[64];
		struct eph_netns *e;
		struct stat st;
		long pid;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT32_MAX)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		if (stat(path, &st) < 0)
			continue; /* gone, or a kernel thread */
		e = list_find(l, &st);
		if (e) {
			if (e->pid < 0) {
				e->pid = (int32_t)pid;
				read_comm(pid, e->comm, sizeof(e->comm));
			}
			continue;
		}
		e = list_add(l, &st);
		if (!e) {
			closedir(d);
			return -ENOMEM;
		}
		e->pid = (int32_t)pid;
		read_comm(pid, e->comm, sizeof(e->comm));
		snprintf(e->spec, sizeof(e->spec), "pid:%ld", pid);
		if (pid == 1)
			snprintf(e->label, sizeof(e->label), "host");
		else
			snprintf(e->label, sizeof(e->label), "pid:%ld", pid);
	}
	closedir(d);
	return 0;
}

EPH_EXPORT int eph_netns_list(struct eph_ctx *ctx, struct eph_netns **ret,
			      size_t *ret_n)
{
	struct list l = { 0 };
	struct stat self;
	int r;

	ctx_clear_error(ctx);
	r = add_named(&l, "/run/netns");
	if (r < 0) {
		ctx_error(ctx, r, "cannot list /run/netns: %s", strerror(-r));
		goto fail;
	}
	r = add_processes(&l);
	if (r < 0) {
		ctx_error(ctx, r, "cannot list processes in /proc: %s",
			  strerror(-r));
		goto fail;
	}
	if (stat("/proc/thread-self/ns/net", &self) == 0) {
		struct eph_netns *e = list_find(&l, &self);

		if (e)
			e->current = true;
	}
	*ret = l.items;
	*ret_n = l.n;
	return 0;
fail:
	free(l.items);
	return r;
}

int netns_walk(struct eph_ctx *ctx, bool skip_self,
	       int (*cb)(struct eph_ctx *nctx, const struct eph_netns *ns,
			 void *data),
	       void *data)
{
	struct eph_netns *list = NULL;
	uint64_t dev = 0, ino = 0;
	size_t n = 0;
	int r;

	r = eph_netns_list(ctx, &list, &n);
	if (r < 0)
		return r;
	if (eph_ctx_netns_id(ctx, &dev, &ino) < 0)
		dev = ino = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct eph_ctx *nctx;

		if (skip_self && list[i].dev == dev && list[i].ino == ino)
			continue;
		if (eph_ctx_new(&nctx) < 0) {
			r = ctx_error(ctx, -ENOMEM, "out of memory");
			break;
		}
		/* The record is the caller's wherever it looks. */
		(void)eph_ctx_set_record_path(nctx, eph_ctx_record_path(ctx));
		/* The callback sees a failure to aim at it in NCTX. */
		(void)eph_ctx_set_netns(nctx, list[i].spec);
		r = cb(nctx, &list[i], data);
		if (r < 0)
			ctx_error_copy(ctx, nctx);
		eph_ctx_free(nctx);
	}
	free(list);
	return r < 0 ? r : 0;
}
