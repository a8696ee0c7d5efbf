/* SPDX-License-Identifier: MIT */
/*
 * Consumers: who holds each destination's ports. sock_diag hands every
 * socket's cgroup id and user over with the rest, so counting by unit,
 * container, cgroup or user costs a hash update per socket and one
 * lookup per distinct cgroup; counting by process costs one walk of /proc
 * for every socket counted, linear in the descriptors of the host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define NO_INDEX UINT32_MAX

/* What a count's key is. */
enum what {
	W_KEY,	     /* a cgroup id, a user or a socket inode, per BY */
	W_TIME_WAIT, /* a TIME_WAIT nobody knows the maker of */
	W_PID,	     /* by process: a pid the history gave */
};

struct dest {
	uintptr_t source; /* the context of the usage that counted it */
	uint16_t rport;
	uint8_t local[16], remote[16];
	uint32_t first, n; /* its shares, once resolved */
};

struct count {
	uint32_t dest;
	uint8_t what;
	uint64_t key;
	uint32_t uid; /* by process: hints for the walk */
	uint64_t cgroup_id;
	char comm[16]; /* W_PID: from the history */
	uint32_t n;
	uint32_t consumer; /* once resolved */
};

struct eph_consumers {
	struct eph_ctx *ctx;
	enum eph_by by;
	const struct eph_history *history;
	/* One observer watches every snapshot and fleet given. */
	struct usage_observer obs;
	struct usage_watches watches;
	struct dest *dests;
	size_t ndests, dests_cap;
	uint32_t *dest_index; /* open addressing: dest number */
	size_t dest_index_cap;
	struct count *counts;
	size_t ncounts, counts_cap;
	uint32_t *count_index; /* open addressing: count number */
	size_t count_index_cap;
	struct eph_consumer *consumers;
	size_t nconsumers, consumers_cap;
	uint32_t *consumer_index; /* open addressing: consumer number */
	size_t consumer_index_cap;
	struct eph_consumer_share *shares;
	size_t nshares;
};

static void watch_begin(void *data, struct eph_ctx *ctx);
static void watch_sock(void *data, struct eph_ctx *ctx,
		       const struct eph_sock *s);

static const char *const by_names[] = {
	[EPH_BY_UNIT] = "unit",	      [EPH_BY_CONTAINER] = "container",
	[EPH_BY_CGROUP] = "cgroup",   [EPH_BY_USER] = "user",
	[EPH_BY_PROCESS] = "process",
};

EPH_EXPORT const char *eph_by_name(enum eph_by by)
{
	return (unsigned int)by < ARRAY_SIZE(by_names) ? by_names[by] : "?";
}

EPH_EXPORT int eph_by_parse(const char *s, enum eph_by *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(by_names); i++)
		if (strcmp(s, by_names[i]) == 0) {
			*ret = (enum eph_by)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- What a cgroup path says ---- */

/* The path component [*P, end), and *P moved past it. */
static bool next_part(const char **p, const char **ret, size_t *ret_len)
{
	while (**p == '/')
		(*p)++;
	if (!**p)
		return false;
	*ret = *p;
	*ret_len = strcspn(*p, "/");
	*p += *ret_len;
	return true;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t l = strlen(suffix);

	return len >= l && memcmp(s + len - l, suffix, l) == 0;
}

EPH_EXPORT const char *eph_cgroup_unit(const char *path, char *buf, size_t size)
{
	const char *p = path, *part, *slice = NULL;
	size_t len, slice_len = 0;

	while (next_part(&p, &part, &len)) {
		if (ends_with(part, len, ".service") ||
		    ends_with(part, len, ".scope")) {
			snprintf(buf, size, "%.*s", (int)len, part);
			return buf;
		}
		if (ends_with(part, len, ".slice")) {
			slice = part;
			slice_len = len;
		}
	}
	if (!slice)
		return NULL;
	snprintf(buf, size, "%.*s", (int)slice_len, slice);
	return buf;
}

/* Is S[0..LEN) a container id: 12 to 64 lowercase hex digits? */
static bool is_id(const char *s, size_t len)
{
	if (len < 12 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "PREFIX<id>SUFFIX" (SUFFIX may be ""): the id into RET->id. */
static bool id_between(const char *part, size_t len, const char *prefix,
		       const char *suffix, struct eph_container *ret)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);

	if (len <= pl + sl || memcmp(part, prefix, pl) != 0 ||
	    !ends_with(part, len, suffix) || !is_id(part + pl, len - pl - sl))
		return false;
	snprintf(ret->id, sizeof(ret->id), "%.*s", (int)(len - pl - sl),
		 part + pl);
	return true;
}

/* A Kubernetes pod's UID in "kubepods-...-pod<uid>.slice" or "pod<uid>". */
static void pod_of(const char *part, size_t len, struct eph_container *ret)
{
	const char *pod = NULL;
	size_t n;

	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(part + i, "pod", 3) == 0 &&
		    (i == 0 || part[i - 1] == '-'))
			pod = part + i + 3;
	if (!pod)
		return;
	n = (size_t)(part + len - pod);
	if (ends_with(pod, n, ".slice"))
		n -= 6;
	if (n == 0 || n >= sizeof(ret->pod))
		return;
	/* The systemd driver writes the UID's dashes as underscores. */
	for (size_t i = 0; i < n; i++)
		ret->pod[i] = pod[i] == '_' ? '-' : pod[i];
	ret->pod[n] = '\0';
}

/* The runtime a cgroupfs parent directory names: docker's, and
 * containerd's namespaces (nerdctl's "default", Kubernetes' "k8s.io",
 * docker's "moby"). */
static const char *parent_runtime(const char *prev, size_t len)
{
	static const struct {
		const char *dir, *runtime;
	} parents[] = {
		{ "docker", "docker" },
		{ "moby", "docker" },
		{ "default", "containerd" },
		{ "k8s.io", "containerd" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(parents); i++)
		if (strlen(parents[i].dir) == len &&
		    !memcmp(prev, parents[i].dir, len))
			return parents[i].runtime;
	return NULL;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* A systemd machine's NAME[0..LEN), unescaped, into C. */
static void machine(const char *name, size_t len, struct eph_container *c)
{
	char un[sizeof(c->id)];
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < sizeof(un); i++) {
		if (name[i] == '\\' && i + 3 < len && name[i + 1] == 'x' &&
		    hex_digit(name[i + 2]) >= 0 &&
		    hex_digit(name[i + 3]) >= 0) {
			un[n++] = (char)(hex_digit(name[i + 2]) * 16 +
					 hex_digit(name[i + 3]));
			i += 3;
		} else {
			un[n++] = name[i];
		}
	}
	un[n] = '\0';
	if (!strncmp(un, "qemu-", 5) || !strncmp(un, "lxc-", 4)) {
		snprintf(c->runtime, sizeof(c->runtime), "%s",
			 un[0] == 'q' ? "libvirt" : "libvirt-lxc");
		snprintf(c->id, sizeof(c->id), "%s", strchr(un, '-') + 1);
		return;
	}
	snprintf(c->runtime, sizeof(c->runtime), "nspawn");
	snprintf(c->id, sizeof(c->id), "%s", un);
}

EPH_EXPORT bool eph_cgroup_container(const char *path,
				     struct eph_container *ret)
{
	static const struct {
		const char *prefix, *suffix, *runtime;
	} scopes[] = {
		{ "docker-", ".scope", "docker" },
		{ "cri-containerd-", ".scope", "containerd" },
		{ "crio-", ".scope", "cri-o" },
		{ "libpod-", ".scope", "podman" },
		{ "libpod-", "", "podman" },
		{ "nerdctl-", ".scope", "containerd" },
		/* CRI-O under the cgroupfs driver: no .scope. */
		{ "crio-", "", "cri-o" },
	};
	const char *p = path, *part, *prev = NULL;
	size_t len, prev_len = 0;
	struct eph_container c;

	memset(&c, 0, sizeof(c));
	while (next_part(&p, &part, &len)) {
		if (memcmp(part, "kubepods", len < 8 ? len : 8) == 0 ||
		    (len > 3 && memcmp(part, "pod", 3) == 0))
			pod_of(part, len, &c);
		for (size_t i = 0; i < ARRAY_SIZE(scopes); i++)
			if (id_between(part, len, scopes[i].prefix,
				       scopes[i].suffix, &c)) {
				snprintf(c.runtime, sizeof(c.runtime), "%s",
					 scopes[i].runtime);
				goto found;
			}
		/* cgroupfs drivers: /docker/<id>, /kubepods/.../pod<uid>/<id>
		 * (whose runtime the path does not say), and
		 * /libpod_parent/libpod-<id> (above). */
		if (prev && is_id(part, len)) {
			const char *rt = parent_runtime(prev, prev_len);

			if (!rt && c.pod[0])
				rt = "kubernetes";

			if (rt) {
				snprintf(c.runtime, sizeof(c.runtime), "%s",
					 rt);
				snprintf(c.id, sizeof(c.id), "%.*s", (int)len,
					 part);
				goto found;
			}
		}
		/* LXC: /lxc.payload.<name> (4.0+) or /lxc/<name>. */
		if (len > 12 && !memcmp(part, "lxc.payload.", 12)) {
			snprintf(c.runtime, sizeof(c.runtime), "lxc");
			snprintf(c.id, sizeof(c.id), "%.*s", (int)(len - 12),
				 part + 12);
			goto found;
		}
		if (prev && prev_len == 3 && !memcmp(prev, "lxc", 3)) {
			snprintf(c.runtime, sizeof(c.runtime), "lxc");
			snprintf(c.id, sizeof(c.id), "%.*s", (int)len, part);
			goto found;
		}
		/* systemd machines: machine-<name>.scope, the name escaped
		 * as systemd does ("\x2d" for "-"): libvirt's VMs and LXC
		 * domains ("qemu-1-win10", "lxc-1-web"), else nspawn. */
		if (len > 14 && !memcmp(part, "machine-", 8) &&
		    ends_with(part, len, ".scope")) {
			machine(part + 8, len - 14, &c);
			goto found;
		}
		prev = part;
		prev_len = len;
	}
	return false;
found:
	*ret = c;
	return true;
}

EPH_EXPORT const char *eph_container_name(const struct eph_container *c,
					  char *buf, size_t size)
{
	/* Hex ids are shown by their first 12 digits, as the runtimes'
	 * own tools do; names (LXC, nspawn) whole. */
	if (is_id(c->id, strlen(c->id)))
		snprintf(buf, size, "%s:%.12s", c->runtime, c->id);
	else
		snprintf(buf, size, "%s:%s", c->runtime, c->id);
	return buf;
}

/* ---- Counting ---- */

EPH_EXPORT int eph_consumers_new(struct eph_ctx *ctx, enum eph_by by,
				 const struct eph_history *history,
				 struct eph_consumers **ret)
{
	struct eph_consumers *c;

	if ((unsigned int)by >= ARRAY_SIZE(by_names))
		return ctx_error(ctx, -EINVAL, "consumers: unknown kind %d",
				 (int)by);
	c = calloc(1, sizeof(*c));
	if (!c)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	c->ctx = ctx;
	c->by = by;
	c->history = history;
	c->obs.begin = watch_begin;
	c->obs.sock = watch_sock;
	c->obs.data = c;
	*ret = c;
	return 0;
}

EPH_EXPORT void eph_consumers_free(struct eph_consumers *c)
{
	if (!c)
		return;
	usage_watches_free(&c->watches, &c->obs);
	free(c->consumer_index);
	free(c->dests);
	free(c->dest_index);
	free(c->counts);
	free(c->count_index);
	free(c->consumers);
	free(c->shares);
	free(c);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

static uint64_t dest_hash(uintptr_t source, const uint8_t local[16],
			  const uint8_t remote[16], uint16_t rport)
{
	return mix(usage_tuple_hash(local, remote, rport), source);
}

static bool dest_is(const struct dest *d, uintptr_t source,
		    const uint8_t local[16], const uint8_t remote[16],
		    uint16_t rport)
{
	return d->source == source && d->rport == rport &&
	       !memcmp(d->local, local, 16) && !memcmp(d->remote, remote, 16);
}

/* The slot of the destination in the index, or of the empty slot where
 * it would go. */
static size_t dest_slot(const struct eph_consumers *c, uintptr_t source,
			const uint8_t local[16], const uint8_t remote[16],
			uint16_t rport)
{
	size_t slot = dest_hash(source, local, remote, rport) &
		      (c->dest_index_cap - 1);

	while (c->dest_index[slot] != NO_INDEX &&
	       !dest_is(&c->dests[c->dest_index[slot]], source, local, remote,
			rport))
		slot = (slot + 1) & (c->dest_index_cap - 1);
	return slot;
}

static uint64_t count_hash(const struct count *k)
{
	return mix(mix(mix(0x27d4eb2f165667c5ull, k->dest), k->what), k->key);
}

/* Rebuilds both indexes at CAP slots each (a power of two). */
static int reindex(struct eph_consumers *c, size_t dcap, size_t ccap)
{
	uint32_t *di = malloc(dcap * sizeof(*di));
	uint32_t *ci = malloc(ccap * sizeof(*ci));

	if (!di || !ci) {
		free(di);
		free(ci);
		return -ENOMEM;
	}
	memset(di, 0xff, dcap * sizeof(*di));
	memset(ci, 0xff, ccap * sizeof(*ci));
	free(c->dest_index);
	free(c->count_index);
	c->dest_index = di;
	c->dest_index_cap = dcap;
	c->count_index = ci;
	c->count_index_cap = ccap;
	for (size_t i = 0; i < c->ndests; i++) {
		const struct dest *d = &c->dests[i];

		di[dest_slot(c, d->source, d->local, d->remote, d->rport)] =
			(uint32_t)i;
	}
	for (size_t i = 0; i < c->ncounts; i++) {
		size_t slot = count_hash(&c->counts[i]) & (ccap - 1);

		while (ci[slot] != NO_INDEX)
			slot = (slot + 1) & (ccap - 1);
		ci[slot] = (uint32_t)i;
	}
	return 0;
}

static int grow_indexes(struct eph_consumers *c)
{
	size_t dcap = c->dest_index_cap ? c->dest_index_cap : 256;
	size_t ccap = c->count_index_cap ? c->count_index_cap : 1024;

	while ((c->ndests + 1) * 2 > dcap)
		dcap *= 2;
	while ((c->ncounts + 1) * 2 > ccap)
		ccap *= 2;
	if (dcap == c->dest_index_cap && ccap == c->count_index_cap)
		return 0;
	return reindex(c, dcap, ccap);
}

/* Counts socket S of SOURCE. Returns 0 or -ENOMEM. */
static int count_sock(struct eph_consumers *c, uintptr_t source,
		      const struct eph_sock *s)
{
	struct eph_history_entry h;
	struct count k = { 0 }, *n;
	size_t slot;
	uint32_t d;

	if (grow_indexes(c) < 0)
		return -ENOMEM;
	slot = dest_slot(c, source, s->local, s->remote, s->remote_port);
	if (c->dest_index[slot] == NO_INDEX) {
		struct dest *nd;

		if (num_grow((void **)&c->dests, &c->dests_cap, c->ndests,
			     sizeof(*c->dests)) < 0)
			return -ENOMEM;
		nd = &c->dests[c->ndests];
		memset(nd, 0, sizeof(*nd));
		nd->source = source;
		nd->rport = s->remote_port;
		memcpy(nd->local, s->local, 16);
		memcpy(nd->remote, s->remote, 16);
		c->dest_index[slot] = (uint32_t)c->ndests++;
	}
	d = c->dest_index[slot];
	k.dest = d;
	k.uid = s->uid;
	k.cgroup_id = s->cgroup_id;
	if (s->state == EPH_TCP_TIME_WAIT) {
		/* No process or cgroup owns a TIME_WAIT: a record may know
		 * who made it. */
		k.what = W_TIME_WAIT;
		if (c->history && c->history->lookup &&
		    c->history->lookup(c->history->data, s, &h) == 0) {
			if (c->by == EPH_BY_PROCESS && h.pid >= 0) {
				k.what = W_PID;
				k.key = (uint64_t)h.pid;
				memcpy(k.comm, h.comm, sizeof(k.comm));
			} else if (c->by <= EPH_BY_CGROUP && h.cgroup_id) {
				k.what = W_KEY;
				k.key = h.cgroup_id;
			}
		}
	} else {
		k.what = W_KEY;
		k.key = c->by == EPH_BY_USER	  ? s->uid
			: c->by == EPH_BY_PROCESS ? s->inode
						  : s->cgroup_id;
	}
	slot = count_hash(&k) & (c->count_index_cap - 1);
	while (c->count_index[slot] != NO_INDEX) {
		n = &c->counts[c->count_index[slot]];
		if (n->dest == k.dest && n->what == k.what && n->key == k.key) {
			n->n++;
			return 0;
		}
		slot = (slot + 1) & (c->count_index_cap - 1);
	}
	if (num_grow((void **)&c->counts, &c->counts_cap, c->ncounts,
		     sizeof(*c->counts)) < 0)
		return -ENOMEM;
	k.n = 1;
	c->counts[c->ncounts] = k;
	c->count_index[slot] = (uint32_t)c->ncounts++;
	return 0;
}

static void watch_sock(void *data, struct eph_ctx *ctx,
		       const struct eph_sock *s)
{
	/* Out of memory here loses a count, never the scan: the counts are
	 * a courtesy beside the usage's own numbers. */
	(void)count_sock(data, (uintptr_t)ctx, s);
}

/* Drops what the usage of CTX counted (every usage's, CTX NULL): it
 * counts it all again. */
static void watch_begin(void *data, struct eph_ctx *ctx)
{
	struct eph_consumers *c = data;
	uintptr_t source = (uintptr_t)ctx;
	size_t kept = 0, dkept = 0;
	uint32_t *newd;

	if (!ctx) {
		c->ndests = c->ncounts = 0;
		if (c->dest_index_cap)
			(void)reindex(c, c->dest_index_cap, c->count_index_cap);
		return;
	}
	newd = malloc((c->ndests ? c->ndests : 1) * sizeof(*newd));
	if (!newd)
		return;
	for (size_t i = 0; i < c->ndests; i++) {
		newd[i] = NO_INDEX;
		if (c->dests[i].source == source)
			continue;
		newd[i] = (uint32_t)dkept;
		c->dests[dkept++] = c->dests[i];
	}
	for (size_t i = 0; i < c->ncounts; i++) {
		uint32_t d = newd[c->counts[i].dest];

		if (d == NO_INDEX)
			continue;
		c->counts[kept] = c->counts[i];
		c->counts[kept++].dest = d;
	}
	free(newd);
	if (kept == c->ncounts && dkept == c->ndests)
		return;
	c->ncounts = kept;
	c->ndests = dkept;
	if (c->dest_index_cap)
		(void)reindex(c, c->dest_index_cap, c->count_index_cap);
}

EPH_EXPORT int eph_consumers_watch(struct eph_consumers *c,
				   struct eph_snapshot *s)
{
	return usage_watch_snapshot(&c->watches, c->ctx, s, &c->obs);
}

EPH_EXPORT int eph_consumers_watch_fleet(struct eph_consumers *c,
					 struct eph_fleet *f)
{
	return usage_watch_fleet(&c->watches, c->ctx, f, &c->obs);
}

/* ---- Naming ---- */

static uint64_t consumer_hash(const struct eph_consumer *x)
{
	uint64_t h =
		mix(mix(mix(0x165667b19e3779f9ull, x->kind), (uint32_t)x->pid),
		    x->uid);

	for (const char *p = x->name; *p; p++)
		h = mix(h, (uint8_t)*p);
	return h;
}

static bool consumer_is(const struct eph_consumer *x,
			const struct eph_consumer *want)
{
	return x->kind == want->kind && x->pid == want->pid &&
	       x->uid == want->uid && !strcmp(x->name, want->name);
}

/* A consumer, found or added. Returns its index, or NO_INDEX. */
static uint32_t consumer_of(struct eph_consumers *c,
			    const struct eph_consumer *want)
{
	size_t slot, mask;

	if ((c->nconsumers + 1) * 2 > c->consumer_index_cap) {
		size_t cap =
			c->consumer_index_cap ? c->consumer_index_cap * 2 : 64;
		uint32_t *n = malloc(cap * sizeof(*n));

		if (!n)
			return NO_INDEX;
		memset(n, 0xff, cap * sizeof(*n));
		for (size_t i = 0; i < c->nconsumers; i++) {
			slot = consumer_hash(&c->consumers[i]) & (cap - 1);
			while (n[slot] != NO_INDEX)
				slot = (slot + 1) & (cap - 1);
			n[slot] = (uint32_t)i;
		}
		free(c->consumer_index);
		c->consumer_index = n;
		c->consumer_index_cap = cap;
	}
	mask = c->consumer_index_cap - 1;
	slot = consumer_hash(want) & mask;
	while (c->consumer_index[slot] != NO_INDEX) {
		if (consumer_is(&c->consumers[c->consumer_index[slot]], want))
			return c->consumer_index[slot];
		slot = (slot + 1) & mask;
	}
	if (num_grow((void **)&c->consumers, &c->consumers_cap, c->nconsumers,
		     sizeof(*c->consumers)) < 0)
		return NO_INDEX;
	c->consumers[c->nconsumers] = *want;
	c->consumers[c->nconsumers].sockets = 0;
	c->consumers[c->nconsumers].destinations = 0;
	c->consumer_index[slot] = (uint32_t)c->nconsumers;
	return (uint32_t)c->nconsumers++;
}

/* The cgroup paths of the ids counted: one lookup each. */
struct paths {
	uint64_t *ids;
	char (*path)[256];
	size_t n;
};

static const char *path_of(const struct paths *p, uint64_t id)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->ids[i] == id)
			return p->path[i][0] ? p->path[i] : NULL;
	return NULL;
}

/*
 * Finds the directories of the ids not opened by handle (a caller
 * without CAP_DAC_READ_SEARCH), by walking the hierarchy once.
 */
static void walk_paths(int dfd, const char *rel, struct paths *p, int depth)
{
	struct dirent *de;
	DIR *d;

	if (depth > 32)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[256];
		struct stat st;
		int fd;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		/* A path too long to keep is left unknown, never cut. */
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", rel,
				     de->d_name) >= sizeof(sub))
			continue;
		for (size_t i = 0; i < p->n; i++)
			if (p->ids[i] == (uint64_t)st.st_ino && !p->path[i][0])
				snprintf(p->path[i], sizeof(p->path[i]), "%s",
					 sub);
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			walk_paths(fd, sub, p, depth + 1);
	}
	closedir(d);
}

static int cgroup_paths(struct eph_consumers *c, struct paths *p)
{
	char mount[4096];
	bool missing = false;
	int mfd;

	p->ids = calloc(c->ncounts ? c->ncounts : 1, sizeof(*p->ids));
	p->path = calloc(c->ncounts ? c->ncounts : 1, sizeof(*p->path));
	if (!p->ids || !p->path)
		return -ENOMEM;
	for (size_t i = 0; i < c->ncounts; i++) {
		uint64_t id = c->counts[i].what == W_KEY ? c->counts[i].key : 0;
		bool seen = false;

		for (size_t k = 0; k < p->n && id; k++)
			seen |= p->ids[k] == id;
		if (id && !seen)
			p->ids[p->n++] = id;
	}
	if (cgroup_mount(mount, sizeof(mount)) < 0)
		return 0; /* no cgroup v2: every socket is outside */
	mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		/* The root's id has no handle to open: it is "/". */
		struct stat st;

		if (fstat(mfd, &st) == 0 && (uint64_t)st.st_ino == p->ids[i])
			snprintf(p->path[i], sizeof(p->path[i]), "/");
		else if (cgroup_path(mfd, mount, p->ids[i], p->path[i],
				     sizeof(p->path[i])) < 0)
			missing = true;
	}
	if (missing)
		walk_paths(fcntl(mfd, F_DUPFD_CLOEXEC, 0), "", p, 0);
	close(mfd);
	return 0;
}

/* Names the consumer of count K by cgroup: unit, container or path. */
static void name_by_cgroup(const struct eph_consumers *c, const struct paths *p,
			   const struct count *k, struct eph_consumer *x)
{
	const char *path = k->what == W_KEY ? path_of(p, k->key) : NULL;

	/* Outside any unit or container: named by its path ("" when the
	 * cgroup is unknown or gone). */
	x->kind = EPH_CONSUMER_OUTSIDE;
	if (!path)
		return;
	snprintf(x->cgroup, sizeof(x->cgroup), "%s", path);
	snprintf(x->name, sizeof(x->name), "%s", path);
	switch (c->by) {
	case EPH_BY_UNIT:
		if (eph_cgroup_unit(path, x->name, sizeof(x->name)))
			x->kind = EPH_CONSUMER_NAMED;
		break;
	case EPH_BY_CONTAINER:
		if (eph_cgroup_container(path, &x->container)) {
			x->kind = EPH_CONSUMER_NAMED;
			eph_container_name(&x->container, x->name,
					   sizeof(x->name));
		}
		break;
	default:
		x->kind = EPH_CONSUMER_NAMED;
		snprintf(x->name, sizeof(x->name), "%s", path);
		break;
	}
}

/* By process: one walk for every socket counted. */
static int name_by_process(struct eph_consumers *c)
{
	struct eph_owners *o = NULL;
	int r;

	r = eph_owners_new(c->ctx, &o);
	/* A socket counts once, toward the first process found with it;
	 * every socket of the host may be wanted: compact. */
	if (r >= 0) {
		eph_owners_set_first_only(o, true);
		owner_set_compact(o, true);
	}
	for (size_t i = 0; r >= 0 && i < c->ncounts; i++) {
		const struct count *k = &c->counts[i];
		struct eph_sock s = { 0 };

		if (k->what != W_KEY)
			continue;
		s.inode = (uint32_t)k->key;
		s.uid = k->uid;
		s.cgroup_id = k->cgroup_id;
		r = eph_owners_want_sock(o, &s);
	}
	if (r >= 0)
		r = eph_owners_resolve(o);
	for (size_t i = 0; r >= 0 && i < c->ncounts; i++) {
		struct count *k = &c->counts[i];
		const struct eph_owner_proc *f;
		const char *cgroup;
		struct eph_consumer x;

		memset(&x, 0, sizeof(x));
		x.pid = -1;
		if (k->what == W_TIME_WAIT) {
			x.kind = EPH_CONSUMER_TIME_WAIT;
		} else if (k->what == W_PID) {
			x.kind = EPH_CONSUMER_NAMED;
			x.pid = (int32_t)k->key;
			snprintf(x.name, sizeof(x.name), "%s", k->comm);
		} else if ((f = owner_first(o, (uint32_t)k->key, &cgroup))) {
			x.kind = EPH_CONSUMER_NAMED;
			x.pid = f->pid;
			snprintf(x.name, sizeof(x.name), "%s", f->comm);
			snprintf(x.cgroup, sizeof(x.cgroup), "%s", cgroup);
		} else {
			/* Exited between the dump and the walk: said so,
			 * never pinned on whoever took its pid. */
			x.kind = EPH_CONSUMER_GONE;
			x.uid = k->uid;
		}
		k->consumer = consumer_of(c, &x);
		if (k->consumer == NO_INDEX)
			r = -ENOMEM;
	}
	eph_owners_free(o);
	return r < 0 ? r : 0;
}

static int name_counts(struct eph_consumers *c)
{
	struct paths p = { 0 };
	int r = 0;

	if (c->by == EPH_BY_PROCESS)
		return name_by_process(c);
	if (c->by != EPH_BY_USER)
		r = cgroup_paths(c, &p);
	for (size_t i = 0; r >= 0 && i < c->ncounts; i++) {
		struct count *k = &c->counts[i];
		struct eph_consumer x;

		memset(&x, 0, sizeof(x));
		x.pid = -1;
		if (k->what == W_TIME_WAIT) {
			x.kind = EPH_CONSUMER_TIME_WAIT;
		} else if (c->by == EPH_BY_USER) {
			x.kind = EPH_CONSUMER_NAMED;
			x.uid = (uint32_t)k->key;
		} else {
			/* One consumer per unit or container: the cgroups
			 * under it are merged, the first seen kept. */
			name_by_cgroup(c, &p, k, &x);
		}
		k->consumer = consumer_of(c, &x);
		if (k->consumer == NO_INDEX)
			r = -ENOMEM;
	}
	free(p.ids);
	free(p.path);
	return r;
}

static int share_cmp(const void *a, const void *b)
{
	const struct eph_consumer_share *x = a, *y = b;

	if (x->sockets != y->sockets)
		return x->sockets > y->sockets ? -1 : 1;
	return x->consumer < y->consumer ? -1 : x->consumer > y->consumer;
}

static int count_dest_cmp(const void *a, const void *b)
{
	const struct count *x = a, *y = b;

	if (x->dest != y->dest)
		return x->dest < y->dest ? -1 : 1;
	return x->consumer < y->consumer ? -1 : x->consumer > y->consumer;
}

EPH_EXPORT int eph_consumers_resolve(struct eph_consumers *c)
{
	uint32_t *perm = NULL;
	size_t ns = 0;
	int r;

	ctx_clear_error(c->ctx);
	c->nconsumers = 0;
	if (c->consumer_index)
		memset(c->consumer_index, 0xff,
		       c->consumer_index_cap * sizeof(*c->consumer_index));
	r = name_counts(c);
	if (r < 0)
		return ctx_error(c->ctx, r, "%s",
				 r == -ENOMEM ? "out of memory"
					      : eph_ctx_errmsg(c->ctx));
	/* Shares: per destination, per consumer, fullest first. */
	if (c->ncounts > 1)
		qsort(c->counts, c->ncounts, sizeof(*c->counts),
		      count_dest_cmp);
	free(c->shares);
	c->shares = calloc(c->ncounts ? c->ncounts : 1, sizeof(*c->shares));
	if (!c->shares)
		return ctx_error(c->ctx, -ENOMEM, "out of memory");
	for (size_t d = 0; d < c->ndests; d++)
		c->dests[d].n = 0;
	for (size_t i = 0; i < c->ncounts;) {
		const struct count *k = &c->counts[i];
		struct dest *d = &c->dests[k->dest];

		d->first = (uint32_t)ns;
		while (i < c->ncounts && c->counts[i].dest == k->dest) {
			size_t j = i;
			uint32_t n = 0;

			while (j < c->ncounts && c->counts[j].dest == k->dest &&
			       c->counts[j].consumer == c->counts[i].consumer)
				n += c->counts[j++].n;
			c->shares[ns].consumer = c->counts[i].consumer;
			c->shares[ns++].sockets = n;
			c->consumers[c->counts[i].consumer].sockets += n;
			c->consumers[c->counts[i].consumer].destinations++;
			d->n++;
			i = j;
		}
		qsort(c->shares + d->first, d->n, sizeof(*c->shares),
		      share_cmp);
	}
	c->nshares = ns;
	/* The consumers, fullest first; shares follow the new order. */
	perm = malloc((c->nconsumers ? c->nconsumers : 1) * sizeof(*perm));
	if (!perm)
		return ctx_error(c->ctx, -ENOMEM, "out of memory");
	{
		size_t *order = malloc((c->nconsumers ? c->nconsumers : 1) *
				       sizeof(*order));
		struct eph_consumer *sorted = malloc(
			(c->nconsumers ? c->nconsumers : 1) * sizeof(*sorted));

		if (!order || !sorted) {
			free(order);
			free(sorted);
			free(perm);
			return ctx_error(c->ctx, -ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < c->nconsumers; i++)
			order[i] = i;
		/* A small insertion sort keeps ties in first-seen order. */
		for (size_t i = 1; i < c->nconsumers; i++)
			for (size_t j = i;
			     j > 0 &&
			     c->consumers[order[j]].sockets >
				     c->consumers[order[j - 1]].sockets;
			     j--) {
				size_t t = order[j];

				order[j] = order[j - 1];
				order[j - 1] = t;
			}
		for (size_t i = 0; i < c->nconsumers; i++) {
			sorted[i] = c->consumers[order[i]];
			perm[order[i]] = (uint32_t)i;
		}
		if (c->nconsumers)
			memcpy(c->consumers, sorted,
			       c->nconsumers * sizeof(*c->consumers));
		free(order);
		free(sorted);
	}
	for (size_t i = 0; i < c->nshares; i++)
		c->shares[i].consumer = perm[c->shares[i].consumer];
	for (size_t i = 0; i < c->ncounts; i++)
		c->counts[i].consumer = perm[c->counts[i].consumer];
	free(perm);
	/* Counts moved: the indexes follow. */
	if (c->dest_index_cap)
		(void)reindex(c, c->dest_index_cap, c->count_index_cap);
	return (int)c->nconsumers;
}

EPH_EXPORT bool eph_consumers_named(const struct eph_consumers *c)
{
	for (size_t i = 0; i < c->nconsumers; i++)
		if (c->consumers[i].kind == EPH_CONSUMER_NAMED)
			return true;
	return false;
}

EPH_EXPORT size_t eph_consumers_count(const struct eph_consumers *c)
{
	return c->nconsumers;
}

EPH_EXPORT const struct eph_consumer *
eph_consumers_get(const struct eph_consumers *c, size_t i)
{
	return i < c->nconsumers ? &c->consumers[i] : NULL;
}

EPH_EXPORT size_t eph_consumers_of(const struct eph_consumers *c,
				   const struct eph_snapshot *s,
				   const struct eph_usage_tuple *t,
				   const struct eph_consumer_share **ret)
{
	size_t slot;
	const struct dest *d;

	*ret = NULL;
	if (!c->dest_index_cap)
		return 0;
	slot = dest_slot(c, (uintptr_t)snapshot_ctx(s), t->local, t->remote,
			 t->remote_port);
	if (c->dest_index[slot] == NO_INDEX)
		return 0;
	d = &c->dests[c->dest_index[slot]];
	*ret = c->shares + d->first;
	return d->n;
}
