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
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Where a wanted socket's owner is likely to be. */
struct hint {
	uint32_t uid;
	bool has_uid;
	uint64_t cgroup_id;
};

#define NONE UINT32_MAX

/* A process found holding a wanted socket, read once. */
struct holder {
	struct eph_owner_proc p;
	int32_t sid; /* its session, -1 when unknown */
	char cgroup[256];
};

/* Process HOLDER holds the wanted socket in SLOT. */
struct claim {
	uint32_t slot, holder;
	uint32_t next; /* the slot's next claim, or NONE */
};

/*
 * A wanted socket, and what was found of it: small, since usage --by
 * process wants every socket of a host (the eph_owner a find returns is
 * made from it, unless the lookup is compact).
 */
struct item {
	uint32_t inode;
	int32_t pid;	 /* procs[0]'s; -1: none found */
	uint32_t nprocs; /* 0 when none was found */
	uint32_t first;	 /* its first process in procs[] */
	uint32_t holder; /* procs[0]'s holder entry, or NONE */
	bool parent_first, looked_up;
};

struct eph_owners {
	struct eph_ctx *ctx;
	struct item *items;	/* sorted by inode once resolved */
	struct eph_owner *full; /* beside each item, what a find returns
				   (none when compact) */
	size_t full_cap, nfull; /* FULL holds NFULL (0 until a resolve
				   ends) */
	bool compact;
	struct hint *hint; /* beside each item */
	size_t n, cap, hint_cap;
	size_t found;
	size_t readlinks; /* the last resolve's cost */
	bool sorted;
	bool nomem;	 /* a find could not be recorded */
	bool first_only; /* no search for the other holders */
	char proc[64];
	/* What the last resolve found. */
	struct holder *holders;
	size_t nholders, holders_cap;
	struct claim *claims;
	size_t nclaims, claims_cap;
	uint32_t *head; /* per slot: its last claim, or NONE */
	size_t head_cap;
	struct eph_owner_proc *procs; /* per slot, side by side, parents
					 first: from items[].first, what
					 full[].procs point to */
	size_t procs_cap;
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
	free(o->full);
	free(o->hint);
	free(o->holders);
	free(o->claims);
	free(o->head);
	free(o->procs);
	free(o);
}

EPH_EXPORT void eph_owners_clear(struct eph_owners *o)
{
	o->n = 0;
	o->nfull = 0;
	o->found = 0;
	o->sorted = true;
	o->nholders = 0;
	o->nclaims = 0;
}

/* Adds INODE with hint H (NULL: none). */
static int want(struct eph_owners *o, uint32_t inode, const struct hint *h)
{
	size_t hcap = o->hint_cap;

	if (inode == 0)
		return 0;
	if (num_grow((void **)&o->items, &o->cap, o->n, sizeof(*o->items)) <
		    0 ||
	    num_grow((void **)&o->hint, &hcap, o->n, sizeof(*o->hint)) < 0)
		return ctx_error(o->ctx, -ENOMEM, "out of memory");
	o->hint_cap = hcap;
	memset(&o->items[o->n], 0, sizeof(o->items[0]));
	o->items[o->n].inode = inode;
	o->items[o->n].pid = -1;
	if (h)
		o->hint[o->n] = *h;
	else
		memset(&o->hint[o->n], 0, sizeof(o->hint[0]));
	o->n++;
	o->sorted = false;
	return 0;
}

EPH_EXPORT int eph_owners_want(struct eph_owners *o, uint32_t inode)
{
	return want(o, inode, NULL);
}

EPH_EXPORT int eph_owners_want_sock(struct eph_owners *o,
				    const struct eph_sock *s)
{
	struct hint h = { s->uid, true, s->cgroup_id };

	return want(o, s->inode, &h);
}

size_t owner_readlinks(const struct eph_owners *o)
{
	return o->readlinks;
}

/* An item with its hint, for sorting them together. */
struct pair {
	struct item item;
	struct hint hint;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	return x->item.inode < y->item.inode ? -1
					     : x->item.inode > y->item.inode;
}

/* Sorts the wanted inodes, once each. Returns 0 or -ENOMEM. */
static int sort_unique(struct eph_owners *o)
{
	struct pair *p;
	size_t w = 0;

	if (o->sorted)
		return 0;
	p = malloc((o->n ? o->n : 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < o->n; i++) {
		p[i].item = o->items[i];
		p[i].hint = o->hint[i];
	}
	if (o->n > 1)
		qsort(p, o->n, sizeof(*p), pair_cmp);
	for (size_t i = 0; i < o->n; i++) {
		if (w && o->items[w - 1].inode == p[i].item.inode)
			continue;
		o->items[w] = p[i].item;
		o->hint[w++] = p[i].hint;
	}
	free(p);
	o->n = w;
	o->sorted = true;
	return 0;
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

/* The descriptors of one process, and what their links were found to be. */
struct fdtable {
	int pidfd, fdfd;
	int32_t pid;
	uint32_t holder; /* its entry among the holders, or NONE */
	int *fds;	 /* ascending, as /proc/PID/fd lists them */
	uint32_t *inode; /* 0: not read yet; NOT_SOCKET: not a socket */
	size_t n, cap;
	size_t readlinks; /* the walk's cost, for the tests */
};

#define NOT_SOCKET UINT32_MAX

static void fdtable_close(struct fdtable *t)
{
	if (t->fdfd >= 0)
		close(t->fdfd);
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->fdfd = t->pidfd = -1;
	t->n = 0;
}

/* Opens PID's directory and its fd directory into T, empty. Returns 0,
 * or -1 when it is gone or not ours. */
static int fdtable_start(struct fdtable *t, int procfd, const char *pid)
{
	t->n = 0;
	t->holder = NONE;
	t->pid = (int32_t)strtol(pid, NULL, 10);
	t->pidfd = openat(procfd, pid, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->pidfd < 0)
		return -1;
	t->fdfd = openat(t->pidfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->fdfd < 0) {
		fdtable_close(t);
		return -1;
	}
	return 0;
}

/* Room for T's N+1st descriptor. Returns false when out of memory. */
static bool fdtable_grow(struct fdtable *t)
{
	size_t c = t->cap ? t->cap * 2 : 256;
	int *f;
	uint32_t *in;

	if (t->n < t->cap)
		return true;
	f = realloc(t->fds, c * sizeof(*f));
	if (f)
		t->fds = f;
	in = f ? realloc(t->inode, c * sizeof(*in)) : NULL;
	if (in)
		t->inode = in;
	if (!f || !in)
		return false;
	t->cap = c;
	return true;
}

/*
 * Lists PID's descriptors. Returns 0, or -1 when it is gone or not ours.
 * The listing reads the directory's entries straight from the kernel
 * (getdents64 on the descriptor the links are read through): a DIR would
 * cost five more system calls per process, a third of what a small
 * process costs to read.
 */
static int fdtable_open(struct fdtable *t, int procfd, const char *pid)
{
	char buf[16384];
	ssize_t got;

	if (fdtable_start(t, procfd, pid) < 0)
		return -1;
	while ((got = getdents64(t->fdfd, buf, sizeof(buf))) > 0) {
		for (ssize_t at = 0; at < got;) {
			const struct dirent64 *de = (const void *)(buf + at);

			at += de->d_reclen;
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			if (!fdtable_grow(t))
				return 0; /* what was listed is walked */
			t->fds[t->n] = (int)strtol(de->d_name, NULL, 10);
			t->inode[t->n++] = 0;
		}
	}
	if (got < 0 && t->n == 0) {
		fdtable_close(t);
		return -1;
	}
	return 0;
}

/* The size of PID's descriptor table ("FDSize" in its status): every
 * descriptor is below it. Returns 0 when it cannot be read. */
static size_t fd_table_size(int pidfd)
{
	char data[4096], *p;
	ssize_t n = -1;
	uint64_t v;
	int fd = openat(pidfd, "status", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, data, sizeof(data) - 1);
		close(fd);
	}
	if (n <= 0)
		return 0;
	data[n] = '\0';
	p = strstr(data, "\nFDSize:");
	if (!p)
		return 0;
	p += strlen("\nFDSize:");
	p += strspn(p, " \t");
	if (eph_num_parse(NULL, p, strcspn(p, "\n"), 0, 1u << 24, "FDSize",
			  &v) < 0)
		return 0;
	return (size_t)v;
}

/*
 * Opens PID's descriptors without listing them: listing 20,000 costs the
 * kernel tens of milliseconds, more than the bisection it would serve.
 * Every number below the table's size stands for a descriptor; one that
 * is not open reads as no socket. Fit for bisection and spans only (a
 * whole walk lists). Returns 0, or -1 when it is gone or not ours.
 */
static int fdtable_open_unlisted(struct fdtable *t, int procfd, const char *pid,
				 uint64_t nfds)
{
	size_t size;

	if (fdtable_start(t, procfd, pid) < 0)
		return -1;
	size = fd_table_size(t->pidfd);
	if (size == 0) {
		fdtable_close(t);
		return -1;
	}
	/* Descriptors are handed out lowest first: with NFDS open, they sit
	 * below NFDS and a few gaps. Past that, a bisection would probe
	 * nothing (one that misses is left to the listed walk). */
	if (nfds && nfds + 64 < size)
		size = (size_t)nfds + 64;
	if (size > t->cap) {
		int *f = realloc(t->fds, size * sizeof(*f));
		uint32_t *in = f ? realloc(t->inode, size * sizeof(*in)) : NULL;

		if (f)
			t->fds = f;
		if (in)
			t->inode = in;
		if (!f || !in) {
			fdtable_close(t);
			return -1;
		}
		t->cap = size;
	}
	for (size_t i = 0; i < size; i++) {
		t->fds[i] = (int)i;
		t->inode[i] = 0;
	}
	t->n = size;
	return 0;
}

/* The socket inode descriptor I links to, or NOT_SOCKET; read once. */
static uint32_t fdtable_inode(struct fdtable *t, size_t i)
{
	char name[16], link[64];
	uint32_t inode;
	ssize_t n;

	if (t->inode[i])
		return t->inode[i];
	snprintf(name, sizeof(name), "%d", t->fds[i]);
	n = readlinkat(t->fdfd, name, link, sizeof(link));
	t->readlinks++;
	if (n <= 0 || (size_t)n >= sizeof(link) ||
	    !socket_inode(link, (size_t)n, &inode) || inode == 0 ||
	    inode == NOT_SOCKET)
		inode = NOT_SOCKET;
	return t->inode[i] = inode;
}

/*
 * Reads the parent and the session of the process in PIDFD from its stat
 * file: "PID (COMM) STATE PPID PGRP SESSION ...", after the last ')' since
 * the name may hold anything.
 */
static void read_stat(int pidfd, int32_t *ppid, int32_t *sid)
{
	char data[1024], *p, *end;
	ssize_t n = -1;
	int fd = openat(pidfd, "stat", O_RDONLY | O_CLOEXEC);

	*ppid = *sid = -1;
	if (fd >= 0) {
		n = read(fd, data, sizeof(data) - 1);
		close(fd);
	}
	if (n <= 0)
		return;
	data[n] = '\0';
	p = strrchr(data, ')');
	for (int field = 0; p && field < 4; field++) {
		uint64_t v;

		p += strspn(p, ") ");
		end = p + strcspn(p, " ");
		if (field != 0 && field != 2 &&
		    eph_num_parse(NULL, p, (size_t)(end - p), 0, INT32_MAX,
				  "pid", &v) == 0)
			*(field == 1 ? ppid : sid) = (int32_t)v;
		p = *end ? end : NULL;
	}
}

/* The entry of T's process among the holders, read at its first find. */
static uint32_t holder_of(struct eph_owners *o, struct fdtable *t)
{
	struct holder *h;

	if (t->holder != NONE)
		return t->holder;
	for (size_t i = 0; i < o->nholders; i++)
		if (o->holders[i].p.pid == t->pid)
			return t->holder = (uint32_t)i;
	if (o->nholders >= NONE ||
	    num_grow((void **)&o->holders, &o->holders_cap, o->nholders,
		     sizeof(*h)) < 0) {
		o->nomem = true;
		return NONE;
	}
	h = &o->holders[o->nholders];
	h->p.pid = t->pid;
	owner_read_comm(t->pidfd, "comm", h->p.comm, sizeof(h->p.comm));
	read_stat(t->pidfd, &h->p.ppid, &h->sid);
	read_cgroup(t->pidfd, h->cgroup, sizeof(h->cgroup));
	return t->holder = (uint32_t)o->nholders++;
}

/* Does the process of holder entry H already hold the socket in SLOT? */
static bool claimed(const struct eph_owners *o, size_t slot, uint32_t h)
{
	for (uint32_t c = o->head[slot]; c != NONE; c = o->claims[c].next)
		if (o->claims[c].holder == h)
			return true;
	return false;
}

/*
 * Records that T's process holds the wanted socket in SLOT (once).
 * Returns true when that is new.
 */
static bool claim(struct eph_owners *o, struct fdtable *t, size_t slot)
{
	uint32_t h = holder_of(o, t);
	struct claim *c;

	if (h == NONE || claimed(o, slot, h))
		return false;
	if (o->nclaims >= NONE || num_grow((void **)&o->claims, &o->claims_cap,
					   o->nclaims, sizeof(*c)) < 0) {
		o->nomem = true;
		return false;
	}
	c = &o->claims[o->nclaims];
	c->slot = (uint32_t)slot;
	c->holder = h;
	c->next = o->head[slot];
	o->head[slot] = (uint32_t)o->nclaims++;
	if (o->items[slot].nprocs++ == 0) {
		o->items[slot].pid = t->pid;
		o->found++;
	}
	return true;
}

/* Reads every descriptor of T until all wanted sockets are found. */
static void walk_all(struct eph_owners *o, struct fdtable *t)
{
	for (size_t i = 0; i < t->n && o->found < o->n; i++) {
		uint32_t inode = fdtable_inode(t, i);
		size_t slot;

		if (inode == NOT_SOCKET)
			continue;
		/* A socket found before may be shared with this process. */
		slot = lookup(o, inode);
		if (slot != SIZE_MAX)
			claim(o, t, slot);
	}
}

/* The index of a socket descriptor near I (looking after it first). */
static size_t near_socket(struct fdtable *t, size_t i, size_t lo, size_t hi)
{
	for (size_t k = 0; k < 8; k++) {
		if (i + k < hi && fdtable_inode(t, i + k) != NOT_SOCKET)
			return i + k;
		if (i >= lo + k + 1 &&
		    fdtable_inode(t, i - k - 1) != NOT_SOCKET)
			return i - k - 1;
	}
	return SIZE_MAX;
}

/*
 * Looks for INODE among T's descriptors by bisection. Socket inodes come
 * from a counter, so a process that opens sockets one after another holds
 * them, descriptor by descriptor, in rising order; where that holds, the
 * bisection finds a socket in a few dozen readlinks among 20,000. Where it
 * does not (descriptors reused, handed over), it just misses: a hit is
 * always a real one, read from the link, and a miss leaves the process
 * for the full walk. Returns the index, or SIZE_MAX.
 */
static size_t bisect(struct fdtable *t, uint32_t inode)
{
	size_t lo = 0, hi = t->n, pos, i;

	while (hi - lo > 16) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t at;

		pos = near_socket(t, mid, lo, hi);
		if (pos == SIZE_MAX)
			return SIZE_MAX;
		at = fdtable_inode(t, pos);
		if (at == inode)
			return pos;
		if (at < inode)
			lo = pos + 1;
		else
			hi = pos;
	}
	/* The last stretch, and a margin for the counter's per-CPU runs. */
	pos = lo;
	lo = pos > 32 ? pos - 32 : 0;
	hi = hi + 32 < t->n ? hi + 32 : t->n;
	for (i = lo; i < hi; i++)
		if (fdtable_inode(t, i) == inode)
			return i;
	return SIZE_MAX;
}

/* Where bisection pays: many descriptors, few sockets still wanted. */
static bool worth_bisecting(const struct fdtable *t, size_t left)
{
	return t->n > 512 && left <= 64;
}

/*
 * Bisects T for every socket still wanted. Returns true when it found
 * them all there, false when the process may hold more of them and is
 * left for the full walk.
 */
static bool probe(struct eph_owners *o, struct fdtable *t)
{
	for (size_t s = 0; s < o->n; s++) {
		size_t i;

		if (o->items[s].pid >= 0)
			continue;
		i = bisect(t, o->items[s].inode);
		if (i != SIZE_MAX)
			claim(o, t, s);
	}
	return o->found == o->n;
}

/* A process to look through, and what it costs to. */
struct candidate {
	char pid[16];
	int tier;      /* 0: in a wanted socket's cgroup; 1: in the target
			  namespace, running as a wanted socket's user; 2: in
			  the target namespace; 3: the others */
	uint64_t nfds; /* open descriptors, where the kernel says (6.2+) */
};

/*
 * Likeliest and cheapest first: a socket's owner is in the socket's
 * cgroup, usually runs as its user, and is usually in its namespace; among
 * equals, the fewest descriptors first, since each costs a readlink. The
 * order changes only how soon the walk can stop.
 */
static int candidate_cmp(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->nfds != y->nfds)
		return x->nfds < y->nfds ? -1 : 1;
	return strcmp(x->pid, y->pid);
}

/* What the wanted sockets say about where their owners are. */
struct hints {
	bool have_ns;
	uint64_t dev, ino;
	uint32_t *uids;
	size_t nuids;
	int32_t *pids; /* the members of the wanted sockets' cgroups, sorted */
	size_t npids;
};

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int i32_cmp(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

/* Gathers the users and the cgroups' members of the wanted sockets. */
static void gather_hints(struct eph_owners *o, struct hints *h)
{
	char mount[4096];
	int mountfd = -1;
	uint64_t *ids = NULL;
	size_t nids = 0;

	h->uids = calloc(o->n ? o->n : 1, sizeof(*h->uids));
	for (size_t i = 0; h->uids && i < o->n; i++)
		if (o->hint[i].has_uid)
			h->uids[h->nuids++] = o->hint[i].uid;
	if (h->nuids > 1)
		qsort(h->uids, h->nuids, sizeof(*h->uids), u32_cmp);
	/* A cgroup lists its members: no walk needed to find them. It
	 * takes open_by_handle_at(), which needs CAP_DAC_READ_SEARCH; a
	 * caller without it simply walks in the other order. */
	if (cgroup_mount(mount, sizeof(mount)) == 0)
		mountfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Each cgroup once: its id among the sorted ids of all wanted. */
	ids = mountfd >= 0 ? calloc(o->n ? o->n : 1, sizeof(*ids)) : NULL;
	for (size_t i = 0; ids && i < o->n; i++)
		if (o->hint[i].cgroup_id)
			ids[nids++] = o->hint[i].cgroup_id;
	if (nids > 1)
		qsort(ids, nids, sizeof(*ids), u64_cmp);
	for (size_t i = 0; i < nids; i++) {
		uint64_t id = ids[i];
		int32_t *pids, *m;
		size_t n;

		if ((i > 0 && ids[i - 1] == id) ||
		    cgroup_pids(mountfd, id, &pids, &n) < 0)
			continue;
		m = realloc(h->pids, (h->npids + n + 1) * sizeof(*m));
		if (m) {
			h->pids = m;
			memcpy(h->pids + h->npids, pids, n * sizeof(*pids));
			h->npids += n;
		}
		free(pids);
	}
	free(ids);
	if (mountfd >= 0)
		close(mountfd);
	if (h->npids > 1)
		qsort(h->pids, h->npids, sizeof(*h->pids), i32_cmp);
}

/* Lists the processes of D, to be ranked. */
static int list_candidates(DIR *d, struct candidate **ret, size_t *ret_n)
{
	struct candidate *c = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    strlen(de->d_name) >= sizeof(c->pid))
			continue;
		if (num_grow((void **)&c, &cap, n, sizeof(*c)) < 0) {
			free(c);
			return -ENOMEM;
		}
		/* Checked above: the name fits, with its NUL. */
		memcpy(c[n].pid, de->d_name, strlen(de->d_name) + 1);
		c[n].tier = 3;
		c[n].nfds = 0;
		n++;
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

/* The number of PID's descriptors, where the kernel says (6.2+), and its
 * user (UINT32_MAX when unknown). */
static uint64_t fd_count(int procfd, const char *pid, uint32_t *uid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "%.15s/fd", pid);
	if (fstatat(procfd, path, &st, 0) < 0) {
		*uid = UINT32_MAX;
		return 0;
	}
	*uid = (uint32_t)st.st_uid;
	return (uint64_t)st.st_size;
}

/* Ranks the N candidates C by what the hints say (see candidate_cmp). */
static void rank_candidates(int procfd, const struct hints *h,
			    struct candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char path[64];
		struct stat st;
		int32_t pid;
		uint32_t uid;
		bool in_ns;

		pid = (int32_t)strtol(c[i].pid, NULL, 10);
		snprintf(path, sizeof(path), "%.15s/ns/net", c[i].pid);
		in_ns = h->have_ns && fstatat(procfd, path, &st, 0) == 0 &&
			(uint64_t)st.st_dev == h->dev &&
			(uint64_t)st.st_ino == h->ino;
		/* /proc/PID/fd reports its count as its size from 6.2;
		 * before, every size is 0 and the order is the pids'. Its
		 * owner is the process's user. */
		c[i].nfds = fd_count(procfd, c[i].pid, &uid);
		if (h->npids &&
		    bsearch(&pid, h->pids, h->npids, sizeof(*h->pids), i32_cmp))
			c[i].tier = 0;
		else if (in_ns && h->nuids &&
			 bsearch(&uid, h->uids, h->nuids, sizeof(*h->uids),
				 u32_cmp))
			c[i].tier = 1;
		else
			c[i].tier = in_ns ? 2 : 3;
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), candidate_cmp);
}

/* ---- The other holders of a socket found ---- */

/* A process to read, for the sockets that holder entry FROM holds. */
struct kin {
	int32_t pid;
	uint32_t from;
};

static int kin_cmp(const void *a, const void *b)
{
	const struct kin *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->from < y->from ? -1 : x->from > y->from;
}

/* Adds PID (if it is one) to look at for FROM's sockets. */
static void kin_add(struct eph_owners *o, struct kin **k, size_t *n,
		    size_t *cap, int32_t pid, uint32_t from)
{
	if (pid <= 0 || pid == o->holders[from].p.pid)
		return;
	if (num_grow((void **)k, cap, *n, sizeof(**k)) < 0) {
		o->nomem = true;
		return;
	}
	(*k)[*n].pid = pid;
	(*k)[(*n)++].from = from;
}

/* Adds every pid of the list in BUF (spaces or newlines between). */
static void kin_add_list(struct eph_owners *o, struct kin **k, size_t *n,
			 size_t *cap, const char *buf, uint32_t from)
{
	for (const char *p = buf; *p;) {
		size_t len;
		uint64_t v;

		p += strspn(p, " \n");
		len = strcspn(p, " \n");
		if (len &&
		    eph_num_parse(NULL, p, len, 1, INT32_MAX, "pid", &v) == 0)
			kin_add(o, k, n, cap, (int32_t)v, from);
		p += len;
	}
}

/* The children of every thread of PID, which fork() shared sockets with. */
static void add_children(struct eph_owners *o, int procfd, uint32_t from,
			 struct kin **k, size_t *n, size_t *cap)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "%d/task", o->holders[from].p.pid);
	fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char file[96], *buf = NULL;
		size_t len;

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    strlen(de->d_name) > 15)
			continue;
		snprintf(file, sizeof(file), "%s/children", de->d_name);
		if (fileio_read(NULL, dirfd(d), file, NULL, 0, 1u << 20, &buf,
				&len) == 0)
			kin_add_list(o, k, n, cap, buf, from);
		free(buf);
	}
	closedir(d);
}

/*
 * Has the session of holder entry H lost its leader? Workers whose
 * master exited keep the master's session, now led by no one; their
 * parent is then init or a subreaper, so the process tree no longer
 * links them, but their cgroup still holds them all.
 */
static bool orphaned(int procfd, const struct holder *h)
{
	char path[16];
	struct stat st;

	if (h->sid <= 0 || h->sid == h->p.pid || !h->cgroup[0])
		return false;
	snprintf(path, sizeof(path), "%d", h->sid);
	return fstatat(procfd, path, &st, 0) < 0 && errno == ENOENT;
}

/* The members of holder entry FROM's cgroup. */
static void add_cgroup(struct eph_owners *o, const char *mount, uint32_t from,
		       struct kin **k, size_t *n, size_t *cap)
{
	char path[4096 + 256 + 16], *buf = NULL;
	size_t len;

	if (!mount[0] ||
	    snprintf(path, sizeof(path), "%s%s/cgroup.procs", mount,
		     o->holders[from].cgroup) >= (int)sizeof(path))
		return;
	if (fileio_read(NULL, AT_FDCWD, path, NULL, 0, 16u << 20, &buf, &len) ==
	    0)
		kin_add_list(o, k, n, cap, buf, from);
	free(buf);
}

/*
 * Reads T for the sockets in SLOTS (MARK[slot] set for each) and claims
 * those it holds, by bisection first where that pays. Clears the marks.
 * Returns true when it claimed any.
 */
static bool examine(struct eph_owners *o, struct fdtable *t,
		    const uint32_t *slots, size_t nslots, uint8_t *mark)
{
	size_t left = nslots;
	bool any = false;

	if (t->n > 512 && nslots <= 64) {
		for (size_t s = 0; s < nslots; s++) {
			size_t i = bisect(t, o->items[slots[s]].inode);

			if (i == SIZE_MAX)
				continue;
			any |= claim(o, t, slots[s]);
			mark[slots[s]] = 0;
			left--;
		}
	}
	/* A miss is no proof: read the rest, until all are found. */
	for (size_t i = 0; i < t->n && left; i++) {
		uint32_t inode = fdtable_inode(t, i);
		size_t slot;

		if (inode == NOT_SOCKET)
			continue;
		slot = lookup(o, inode);
		if (slot == SIZE_MAX || !mark[slot])
			continue;
		any |= claim(o, t, slot);
		mark[slot] = 0;
		left--;
	}
	for (size_t s = 0; s < nslots; s++)
		mark[slots[s]] = 0;
	return any;
}

/*
 * Looks for the other holders of every socket found: the kin of each
 * holder (parent, children, and the cgroup of an orphan) are read for
 * that holder's sockets, and the kin of every new holder in turn, round
 * after round until one finds nothing new. Each round needs a new find,
 * and finds are finite, so it ends.
 */
static void find_sharers(struct eph_owners *o, int procfd)
{
	struct fdtable t = { .pidfd = -1, .fdfd = -1 };
	struct kin *k = NULL;
	uint32_t *gained = NULL, *slots = NULL;
	uint8_t *mark = calloc(o->n ? o->n : 1, 1);
	size_t nk, kcap = 0, ngained = 0, gcap = 0, scap = 0;
	char mount[4096] = "";

	if (cgroup_mount(mount, sizeof(mount)) < 0)
		mount[0] = '\0';
	/* The first round starts from every holder the walk found. */
	for (size_t i = 0; mark && i < o->nholders; i++) {
		if (num_grow((void **)&gained, &gcap, ngained,
			     sizeof(*gained)) < 0)
			break;
		gained[ngained++] = (uint32_t)i;
	}
	while (mark && ngained && !o->nomem) {
		size_t nnext = 0;

		nk = 0;
		for (size_t g = 0; g < ngained; g++) {
			const struct holder *h = &o->holders[gained[g]];

			kin_add(o, &k, &nk, &kcap, h->p.ppid, gained[g]);
			add_children(o, procfd, gained[g], &k, &nk, &kcap);
			if (orphaned(procfd, h))
				add_cgroup(o, mount, gained[g], &k, &nk, &kcap);
		}
		if (nk > 1)
			qsort(k, nk, sizeof(*k), kin_cmp);
		/* One read of each process, for the sockets of all the
		 * holders it is kin to. */
		for (size_t i = 0, j; i < nk; i = j) {
			char pid[16];
			size_t ns = 0;
			uint32_t self = NONE;

			for (j = i + 1; j < nk && k[j].pid == k[i].pid; j++)
				;
			for (size_t h = 0; h < o->nholders; h++)
				if (o->holders[h].p.pid == k[i].pid)
					self = (uint32_t)h;
			/* Their sockets this process is not known to hold. */
			for (size_t c = 0; c < o->nclaims && !o->nomem; c++) {
				uint32_t slot = o->claims[c].slot;
				bool kin = false;

				for (size_t g = i; g < j && !kin; g++)
					kin = o->claims[c].holder == k[g].from;
				if (!kin || mark[slot] ||
				    (self != NONE && claimed(o, slot, self)))
					continue;
				if (num_grow((void **)&slots, &scap, ns,
					     sizeof(*slots)) < 0) {
					o->nomem = true;
					break;
				}
				slots[ns++] = slot;
				mark[slot] = 1;
			}
			snprintf(pid, sizeof(pid), "%d", k[i].pid);
			if (ns == 0 || fdtable_open(&t, procfd, pid) < 0) {
				for (size_t s = 0; s < ns; s++)
					mark[slots[s]] = 0;
				continue;
			}
			t.holder = self;
			if (examine(o, &t, slots, ns, mark) &&
			    t.holder != NONE) {
				/* Its own kin may hold them too: next round. */
				if (num_grow((void **)&gained, &gcap, nnext,
					     sizeof(*gained)) < 0)
					o->nomem = true;
				else
					gained[nnext++] = t.holder;
			}
			o->readlinks += t.readlinks;
			t.readlinks = 0;
			fdtable_close(&t);
		}
		ngained = nnext;
	}
	if (!mark)
		o->nomem = true;
	free(t.fds);
	free(t.inode);
	free(k);
	free(gained);
	free(slots);
	free(mark);
}

/* A process of a socket, while they are put in order. */
struct place {
	uint32_t depth; /* how many of the others are above it */
	uint32_t order; /* its place before */
	struct eph_owner_proc p;
};

static int place_cmp(const void *a, const void *b)
{
	const struct place *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	/* Among equals, by pid: the order the walk met them in depends on
	 * where it started. */
	if (x->p.pid != y->p.pid)
		return x->p.pid < y->p.pid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A pid and its place, to find a process's parent among the others. */
struct pidix {
	int32_t pid;
	uint32_t i;
};

static int pidix_cmp(const void *a, const void *b)
{
	const struct pidix *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

size_t owner_order_procs(struct eph_owner_proc *p, size_t n)
{
	struct place *pl = malloc((n ? n : 1) * sizeof(*pl));
	struct pidix *ix = malloc((n ? n : 1) * sizeof(*ix));
	size_t roots = 0;

	if (!pl || !ix) {
		free(pl);
		free(ix);
		return 0;
	}
	for (size_t a = 0; a < n; a++) {
		ix[a].pid = p[a].pid;
		ix[a].i = (uint32_t)a;
	}
	qsort(ix, n, sizeof(*ix), pidix_cmp);
	for (size_t a = 0; a < n; a++) {
		int32_t up = p[a].ppid;
		struct pidix key, *hit;

		pl[a].depth = 0;
		pl[a].order = (uint32_t)a;
		pl[a].p = p[a];
		/* At most N steps: a chain of parents cannot loop, but a pid
		 * reused between two reads could make one look so. */
		while (pl[a].depth < n) {
			key.pid = up;
			hit = bsearch(&key, ix, n, sizeof(*ix), pidix_cmp);
			if (!hit)
				break;
			pl[a].depth++;
			up = p[hit->i].ppid;
		}
		roots += pl[a].depth == 0;
	}
	qsort(pl, n, sizeof(*pl), place_cmp);
	for (size_t a = 0; a < n; a++)
		p[a] = pl[a].p;
	free(pl);
	free(ix);
	return roots;
}

/*
 * Lays out the processes of every socket found side by side, parents
 * first, and points each owner at its own. Returns 0 or -ENOMEM.
 */
static int finish(struct eph_owners *o)
{
	size_t *start = calloc(o->n + 1, sizeof(*start));
	size_t *cursor = calloc(o->n ? o->n : 1, sizeof(*cursor));
	int r = -ENOMEM;

	if (!start || !cursor)
		goto out;
	if (o->nclaims > o->procs_cap) {
		struct eph_owner_proc *p =
			realloc(o->procs, o->nclaims * sizeof(*p));

		if (!p)
			goto out;
		o->procs = p;
		o->procs_cap = o->nclaims;
	}
	for (size_t c = 0; c < o->nclaims; c++)
		start[o->claims[c].slot + 1]++;
	for (size_t i = 0; i < o->n; i++) {
		start[i + 1] += start[i];
		cursor[i] = start[i];
	}
	/* In the order they were found, then parents first. */
	for (size_t c = 0; c < o->nclaims; c++)
		o->procs[cursor[o->claims[c].slot]++] =
			o->holders[o->claims[c].holder].p;
	for (size_t i = 0; i < o->n; i++) {
		struct item *it = &o->items[i];
		size_t k = start[i + 1] - start[i], roots = 1;

		if (k == 0)
			continue;
		it->first = (uint32_t)start[i];
		it->nprocs = (uint32_t)k;
		if (k > 1)
			roots = owner_order_procs(&o->procs[start[i]], k);
		it->parent_first = k > 1 && roots == 1;
		it->pid = o->procs[start[i]].pid;
		it->holder = NONE;
		for (size_t h = 0; h < o->nholders; h++)
			if (o->holders[h].p.pid == it->pid)
				it->holder = (uint32_t)h;
	}
	r = 0;
out:
	free(start);
	free(cursor);
	return r;
}

/* ---- One socket among many processes: guided by its inode ---- */

/*
 * Socket inodes come from one counter: a socket's owner is usually a
 * process whose first socket was made shortly before it (a worker of a
 * prefork server with its listeners, a client with its connections). For
 * a few sockets wanted among many processes, each process's first socket
 * is read (one readlink of a low descriptor, without opening anything),
 * and the processes whose first socket comes closest below the wanted
 * inode are searched first: small ones whole, big ones by bisection of
 * their unlisted tables. A hit is read from a link, never inferred; a
 * miss (sockets made in another order, descriptors reused) leaves the
 * walk below to find it, having read GUIDED_TRIES processes more.
 */
#define GUIDED_MAX_WANTED 8
#define GUIDED_MIN_PROCS 64
#define GUIDED_TRIES 32

struct first_socket {
	uint32_t inode; /* its lowest socket descriptor's; 0: none found */
	uint32_t at;	/* the candidate */
};

/* The readlink of C's descriptor FD: 1 a socket (*INODE), 0 something
 * else, -1 not open, -2 not readable (gone, not ours). */
static int low_link(int procfd, const struct candidate *c, int fd,
		    uint32_t *inode, size_t *readlinks)
{
	char path[48], link[64];
	ssize_t len;

	snprintf(path, sizeof(path), "%s/fd/%d", c->pid, fd);
	len = readlinkat(procfd, path, link, sizeof(link));
	(*readlinks)++;
	if (len < 0)
		return errno == ENOENT ? -1 : -2;
	return socket_inode(link, (size_t)len, inode) ? 1 : 0;
}

/*
 * The inode of the first socket among C's low descriptors, or 0: past the
 * standard three, up to 7; in a big process (a load generator, whose
 * setup pipes come first), up to 63.
 */
static uint32_t first_socket_of(int procfd, const struct candidate *c,
				size_t *readlinks)
{
	uint32_t inode, uid;
	int fd, r;

	for (fd = 3; fd < 8; fd++) {
		r = low_link(procfd, c, fd, &inode, readlinks);
		if (r == 1)
			return inode;
		if (r == -2)
			return 0;
		/* Nothing open at all: a kernel thread. */
		if (fd == 3 && r == -1 &&
		    low_link(procfd, c, 0, &inode, readlinks) == -1)
			return 0;
	}
	if (fd_count(procfd, c->pid, &uid) <= 512)
		return 0;
	for (; fd < 64; fd++) {
		r = low_link(procfd, c, fd, &inode, readlinks);
		if (r == 1)
			return inode;
		if (r == -2)
			return 0;
	}
	return 0;
}

static int first_socket_cmp(const void *a, const void *b)
{
	const struct first_socket *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Searches candidate C for the wanted socket in SLOT. */
static void guided_visit(struct eph_owners *o, int procfd,
			 const struct candidate *c, size_t slot)
{
	struct fdtable t = { .pidfd = -1, .fdfd = -1 };
	uint32_t uid;
	uint64_t nfds = fd_count(procfd, c->pid, &uid);

	/* A big table is not listed: bisection needs a few links, not
	 * every name. One it misses is left to the walk, which reads it
	 * whole if it must. */
	if (nfds > 512) {
		if (fdtable_open_unlisted(&t, procfd, c->pid, nfds) == 0 &&
		    bisect(&t, o->items[slot].inode) != SIZE_MAX)
			claim(o, &t, slot);
	} else if (fdtable_open(&t, procfd, c->pid) == 0) {
		/* Before 6.2 the count is unknown (0): big by its listing. */
		if (t.n <= 512)
			walk_all(o, &t);
		else if (bisect(&t, o->items[slot].inode) != SIZE_MAX)
			claim(o, &t, slot);
	}
	o->readlinks += t.readlinks;
	fdtable_close(&t);
	free(t.fds);
	free(t.inode);
}

/* The first sockets of candidates [FROM, TO), read by one thread. */
struct sampling {
	int procfd;
	const struct candidate *c;
	struct first_socket *by;
	size_t from, to, readlinks;
};

static void *sample(void *arg)
{
	struct sampling *sm = arg;

	for (size_t i = sm->from; i < sm->to; i++) {
		sm->by[i].inode =
			first_socket_of(sm->procfd, &sm->c[i], &sm->readlinks);
		sm->by[i].at = (uint32_t)i;
	}
	return NULL;
}

static void guided(struct eph_owners *o, int procfd, const struct candidate *c,
		   size_t n)
{
	struct first_socket *by = malloc(n * sizeof(*by));
	struct sampling sm[2] = { { procfd, c, by, 0, n, 0 },
				  { procfd, c, by, n / 2, n, 0 } };
	pthread_t th;
	size_t m = 0;
	bool two;

	if (!by)
		return;
	/* One readlink or so per process: shared with a second thread
	 * where there is a second CPU to run it. */
	two = n >= 512 && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
	      pthread_create(&th, NULL, sample, &sm[1]) == 0;
	if (two)
		sm[0].to = n / 2;
	sample(&sm[0]);
	if (two)
		pthread_join(th, NULL);
	o->readlinks += sm[0].readlinks + (two ? sm[1].readlinks : 0);
	for (size_t i = 0; i < n; i++)
		if (by[i].inode)
			by[m++] = by[i];
	qsort(by, m, sizeof(*by), first_socket_cmp);
	for (size_t s = 0; s < o->n; s++) {
		uint32_t inode = o->items[s].inode;
		size_t lo = 0, hi = m;

		if (o->items[s].pid >= 0)
			continue;
		/* The first process whose first socket is above INODE. */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (by[mid].inode <= inode)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* Then down from there, closest first. */
		for (size_t k = 0;
		     k < GUIDED_TRIES && k < lo && o->items[s].pid < 0; k++)
			guided_visit(o, procfd, &c[by[lo - 1 - k].at], s);
	}
	free(by);
}

/* ---- Processes read side by side ---- */

/*
 * Each readlink costs the kernel some microseconds, and a busy host has
 * thousands of processes: the walk shares them out among threads, one per
 * CPU, which read descriptors side by side and record what they found one
 * process at a time, under a lock, stopping once every wanted socket is
 * found. When most sockets of a host are wanted (usage --by process),
 * every process is read whole. When few are (why), a big process is
 * bisected instead, and one bisection misses is left for a whole read
 * after the threads are done. Below PARALLEL_FEW candidates, threads
 * would not pay.
 */
#define PARALLEL_MIN 4096
#define PARALLEL_FEW 256
#define PARALLEL_MAX 8

struct par {
	struct eph_owners *o;
	int procfd;
	const struct candidate *c;
	size_t n, next;
	bool few;      /* bisect big processes; LATER gets the misses */
	size_t *later; /* indexes into C, N of room */
	size_t nlater;
	pthread_mutex_t lock;
};

/* Bisects T for the sockets P still wants. Called without the lock: the
 * wanted inodes are copied under it, and the hits recorded under it. */
static void par_probe(struct par *p, struct fdtable *t, size_t i)
{
	uint32_t inode[64], slot[64];
	size_t n = 0, hit[64], nhit = 0;
	bool all;

	pthread_mutex_lock(&p->lock);
	for (size_t s = 0; s < p->o->n && n < 64; s++)
		if (p->o->items[s].pid < 0) {
			inode[n] = p->o->items[s].inode;
			slot[n++] = (uint32_t)s;
		}
	pthread_mutex_unlock(&p->lock);
	for (size_t k = 0; k < n; k++)
		if (bisect(t, inode[k]) != SIZE_MAX)
			hit[nhit++] = k;
	pthread_mutex_lock(&p->lock);
	for (size_t k = 0; k < nhit; k++)
		claim(p->o, t, slot[hit[k]]);
	all = p->o->found == p->o->n;
	if (!all && nhit < n)
		p->later[p->nlater++] = i;
	pthread_mutex_unlock(&p->lock);
}

static void *par_walk(void *arg)
{
	struct par *p = arg;
	struct fdtable t = { .pidfd = -1, .fdfd = -1 };

	for (;;) {
		size_t i, left;
		bool done;

		pthread_mutex_lock(&p->lock);
		i = p->next++;
		done = i >= p->n || p->o->found >= p->o->n;
		left = p->o->n - p->o->found;
		pthread_mutex_unlock(&p->lock);
		if (done)
			break;
		if (fdtable_open(&t, p->procfd, p->c[i].pid) < 0)
			continue;
		if (p->few && worth_bisecting(&t, left)) {
			par_probe(p, &t, i);
		} else {
			/* The costly part, without the lock: every link
			 * read. Then the finds, recorded one process at a
			 * time from the links read (walk_all reads none
			 * again). */
			for (size_t k = 0; k < t.n; k++)
				fdtable_inode(&t, k);
			pthread_mutex_lock(&p->lock);
			walk_all(p->o, &t);
			pthread_mutex_unlock(&p->lock);
		}
		pthread_mutex_lock(&p->lock);
		p->o->readlinks += t.readlinks;
		pthread_mutex_unlock(&p->lock);
		t.readlinks = 0;
		fdtable_close(&t);
	}
	free(t.fds);
	free(t.inode);
	return NULL;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Walks the N candidates C on up to PARALLEL_MAX threads: whole, or with
 * FEW, big ones bisected and the misses put in LATER (*NLATER of them, in
 * C's order). Returns false when no thread could be started (the caller
 * walks alone).
 */
static bool walk_parallel(struct eph_owners *o, int procfd,
			  const struct candidate *c, size_t n, bool few,
			  size_t *later, size_t *nlater)
{
	struct par p = { .o = o,
			 .procfd = procfd,
			 .c = c,
			 .n = n,
			 .few = few,
			 .later = later };
	pthread_t th[PARALLEL_MAX - 1];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nth = 0, want;

	want = cpus > PARALLEL_MAX ? PARALLEL_MAX : cpus > 1 ? (size_t)cpus : 1;
	if (want < 2 || pthread_mutex_init(&p.lock, NULL) != 0)
		return false;
	while (nth + 1 < want &&
	       pthread_create(&th[nth], NULL, par_walk, &p) == 0)
		nth++;
	if (nth == 0) {
		pthread_mutex_destroy(&p.lock);
		return false;
	}
	par_walk(&p);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.nlater > 1)
		qsort(p.later, p.nlater, sizeof(*p.later), size_cmp);
	if (nlater)
		*nlater = p.nlater;
	return true;
}

/*
 * Makes what a find returns: an eph_owner beside each item, pointing at
 * its processes (none for a compact lookup). Returns 0 or -ENOMEM.
 */
static int publish(struct eph_owners *o)
{
	if (o->compact)
		return 0;
	if (o->n > o->full_cap) {
		struct eph_owner *f = realloc(o->full, o->n * sizeof(*f));

		if (!f)
			return -ENOMEM;
		o->full = f;
		o->full_cap = o->n;
	}
	for (size_t i = 0; i < o->n; i++) {
		const struct item *it = &o->items[i];
		struct eph_owner *f = &o->full[i];

		memset(f, 0, sizeof(*f));
		f->inode = it->inode;
		f->pid = it->pid;
		f->nprocs = it->nprocs;
		f->procs = it->nprocs ? &o->procs[it->first] : NULL;
		f->parent_first = it->parent_first;
		f->looked_up = it->looked_up;
		if (it->nprocs)
			memcpy(f->comm, f->procs[0].comm, sizeof(f->comm));
		if (it->holder != NONE)
			snprintf(f->cgroup, sizeof(f->cgroup), "%s",
				 o->holders[it->holder].cgroup);
	}
	o->nfull = o->n;
	return 0;
}

EPH_EXPORT void eph_owners_set_first_only(struct eph_owners *o, bool first)
{
	o->first_only = first;
}

EPH_EXPORT int eph_owners_resolve(struct eph_owners *o)
{
	struct eph_ctx *ctx = o->ctx;
	struct fdtable t = { .pidfd = -1, .fdfd = -1 };
	struct hints h = { 0 };
	struct candidate *c = NULL;
	size_t n = 0, *later = NULL, nlater = 0;
	DIR *d;
	int r;

	ctx_clear_error(ctx);
	o->nfull = 0;
	if (sort_unique(o) < 0)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	o->found = 0;
	o->readlinks = 0;
	o->nholders = 0;
	o->nclaims = 0;
	o->nomem = false;
	for (size_t i = 0; i < o->n; i++) {
		struct item *it = &o->items[i];

		it->pid = -1;
		it->nprocs = 0;
		it->first = 0;
		it->holder = NONE;
		it->parent_first = false;
		it->looked_up = false;
	}
	if (o->n == 0)
		return 0;
	if (o->n > o->head_cap) {
		uint32_t *hd = realloc(o->head, o->n * sizeof(*hd));

		if (!hd)
			return ctx_error(ctx, -ENOMEM, "out of memory");
		o->head = hd;
		o->head_cap = o->n;
	}
	for (size_t i = 0; i < o->n; i++)
		o->head[i] = NONE;
	h.have_ns = eph_ctx_netns_id(ctx, &h.dev, &h.ino) == 0;
	gather_hints(o, &h);
	d = opendir(o->proc);
	if (!d) {
		r = ctx_error(ctx, -errno, "cannot list %s: %s", o->proc,
			      strerror(errno));
		goto out;
	}
	r = list_candidates(d, &c, &n);
	if (r < 0) {
		ctx_error(ctx, r, "out of memory");
		goto out;
	}
	later = calloc(n ? n : 1, sizeof(*later));
	if (!later) {
		r = ctx_error(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	/* A few sockets among many processes: guided by their inodes,
	 * before anything else is read of each process; unless their
	 * cgroups hold few processes (a service in a unit of its own),
	 * which the ranked walk reads first. */
	if (o->n <= GUIDED_MAX_WANTED && n >= GUIDED_MIN_PROCS &&
	    (h.npids == 0 || h.npids > GUIDED_MIN_PROCS))
		guided(o, dirfd(d), c, n);
	/* Not all found so: the likeliest and cheapest processes first. */
	if (o->found < o->n)
		rank_candidates(dirfd(d), &h, c, n);
	else
		n = 0;
	/* Most sockets wanted: every process whole, side by side. */
	if (o->n >= PARALLEL_MIN &&
	    walk_parallel(o, dirfd(d), c, n, false, NULL, NULL))
		n = 0;
	/* A few: the first pass below, side by side. */
	if (o->found < o->n && n >= PARALLEL_FEW &&
	    walk_parallel(o, dirfd(d), c, n, true, later, &nlater))
		n = 0;
	/* First pass: small processes whole, big ones by bisection. */
	for (size_t i = 0; i < n && o->found < o->n; i++) {
		if (fdtable_open(&t, dirfd(d), c[i].pid) < 0)
			continue;
		if (worth_bisecting(&t, o->n - o->found)) {
			if (!probe(o, &t))
				later[nlater++] = i;
		} else {
			walk_all(o, &t);
		}
		o->readlinks += t.readlinks;
		t.readlinks = 0;
		fdtable_close(&t);
	}
	/* Second pass: the big ones bisection did not settle, whole. */
	for (size_t i = 0; i < nlater && o->found < o->n; i++) {
		if (fdtable_open(&t, dirfd(d), c[later[i]].pid) < 0)
			continue;
		walk_all(o, &t);
		o->readlinks += t.readlinks;
		t.readlinks = 0;
		fdtable_close(&t);
	}
	if (o->found && !o->first_only)
		find_sharers(o, dirfd(d));
	if (o->nomem || finish(o) < 0) {
		r = ctx_error(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < o->n; i++)
		o->items[i].looked_up = true;
	if (publish(o) < 0) {
		r = ctx_error(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	r = (int)o->found;
out:
	if (d)
		closedir(d);
	free(t.fds);
	free(t.inode);
	free(later);
	free(c);
	free(h.uids);
	free(h.pids);
	return r;
}

EPH_EXPORT const struct eph_owner *eph_owners_find(const struct eph_owners *o,
						   uint32_t inode)
{
	size_t slot;

	if (!o->sorted)
		return NULL;
	slot = lookup(o, inode);
	if (slot == SIZE_MAX || slot >= o->nfull || o->items[slot].nprocs == 0)
		return NULL;
	return &o->full[slot];
}

void owner_set_compact(struct eph_owners *o, bool compact)
{
	o->compact = compact;
}

const struct eph_owner_proc *owner_first(const struct eph_owners *o,
					 uint32_t inode, const char **cgroup)
{
	size_t slot = o->sorted ? lookup(o, inode) : SIZE_MAX;
	const struct item *it;

	if (slot == SIZE_MAX || o->items[slot].nprocs == 0)
		return NULL;
	it = &o->items[slot];
	*cgroup = it->holder != NONE ? o->holders[it->holder].cgroup : "";
	return &o->procs[it->first];
}
