/* SPDX-License-Identifier: MIT */
/*
 * History: the tracer's record of the sockets a socket dump cannot tell
 * apart (see history.h), and the same table used to follow TIME_WAITs to
 * their end.
 *
 * One table of fixed-size entries keyed by (namespace, 4-tuple), with
 * - a hash index (open addressing, linear probing, backward-shift
 *   deletion), so that every event and every lookup costs O(1);
 * - two eviction lists in age order: INFO (TIME_WAITs kept only to name
 *   their process) and KEEP (what usage needs), INFO evicted first;
 * - a list of the TIME_WAITs in the order they began, to drop them after
 *   their 60 s.
 * The entries sit right after the file's header in one block, in the
 * layout the file has, so that writing the record is one write of that
 * block; a removed entry's slot is filled with the last one, so the block
 * stays dense. Memory is bounded by the entry limit: about 120 bytes per
 * entry with the lists and the index.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "internal.h"

#define NIL UINT32_MAX
#define TIME_WAIT_NS (60ull * 1000000000ull)
/* A dirty record is written at most this often. */
#define FLUSH_NS (500ull * 1000000ull)

static const char magic[8] = { 'E', 'P', 'H', 'H', 'I', 'S', 'T', '\n' };
#define VERSION 1u

/* Entry flags. */
#define E_BOUND_FIRST (1u << 0)
#define E_ACCEPTED (1u << 1)
#define E_TIMESTAMPS (1u << 2)
#define E_OWNER (1u << 3)
#define E_TIME_WAIT (1u << 4)
#define E_KEEP (1u << 5) /* matters to usage: evicted last */
#define E_KNOWN                                                                \
	(E_BOUND_FIRST | E_ACCEPTED | E_TIMESTAMPS | E_OWNER | E_TIME_WAIT |   \
	 E_KEEP)

/* Header flags. */
#define H_ALL_NETNS (1u << 0)

/* The file's layout, in the host's byte order: the file never leaves it. */
struct rec_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint32_t entry_size;
	uint32_t count;
	uint32_t capacity;
	uint32_t flags;
	uint64_t netns;
	uint8_t boot_id[16];
	int64_t created, since, written; /* wall clock, s */
	uint64_t since_boot_ns, written_boot_ns;
	uint64_t lost, evicted;
	int32_t writer_pid;
	uint32_t reserved;
	uint64_t checksum; /* of the header (this field 0) and the entries */
};

struct rec_entry {
	uint32_t netns;
	uint8_t proto, family, flags, reserved0;
	uint16_t lport, rport;
	int32_t pid;
	uint32_t uid;
	uint8_t laddr[16], raddr[16];
	char comm[16];
	uint32_t reserved1;
	uint64_t cgroup_id;
	uint64_t opened_boot_ns, tw_boot_ns;
};

_Static_assert(sizeof(struct rec_header) == EPH_RECORD_HEADER_SIZE,
	       "the record's header has the size history.h documents");
_Static_assert(sizeof(struct rec_entry) == EPH_RECORD_ENTRY_SIZE,
	       "a record entry has the size history.h documents");

enum { CLS_INFO, CLS_KEEP, NCLS };

struct link {
	uint32_t prev, next;
};

struct eph_record {
	struct eph_ctx *ctx;
	enum history_mode mode;
	uint64_t view_netns; /* lookups are in this namespace */
	uint64_t now_boot;   /* the latest time seen */

	/* The header and the entries, as written. */
	uint8_t *buf;
	struct rec_header *h;
	struct rec_entry *e;
	uint32_t n, alloc, limit;

	struct link *cls_link, *tw_link;
	uint32_t head[NCLS], tail[NCLS];
	uint32_t tw_head, tw_tail;
	uint32_t *index;
	size_t index_cap;

	uint16_t keep_lo, keep_hi; /* accepted on these ports: KEEP */
	uint64_t evicted_info;
	bool dirty;

	/* An entry leaves (FOLLOW mode): expired, reused or evicted. */
	void (*on_end)(void *data, const struct history_end *end);
	void *end_data;

	/* Reading: what was found. */
	enum eph_record_state state;
	char detail[256];
	uint64_t bytes;
	struct eph_history source;

	/* Writing. */
	int lock_fd, dir_fd;
	char name[NAME_MAX + 1];
	uint64_t flushed_boot;
};

/* ---- Keys and the index ---- */

static bool same_key(const struct rec_entry *a, const struct rec_entry *b)
{
	return a->netns == b->netns && a->lport == b->lport &&
	       a->rport == b->rport && memcmp(a->laddr, b->laddr, 16) == 0 &&
	       memcmp(a->raddr, b->raddr, 16) == 0;
}

static uint64_t key_hash(const struct rec_entry *k)
{
	uint64_t w[4], h = 0x9e3779b97f4a7c15ull ^ k->netns;

	memcpy(w, k->laddr, 16);
	memcpy(w + 2, k->raddr, 16);
	h ^= ((uint64_t)k->lport << 16 | k->rport) * 0xc2b2ae3d27d4eb4full;
	for (int i = 0; i < 4; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h;
}

static size_t home(const struct eph_record *r, const struct rec_entry *k)
{
	return key_hash(k) & (r->index_cap - 1);
}

static uint32_t find(const struct eph_record *r, const struct rec_entry *k)
{
	size_t i;

	if (!r->index_cap)
		return NIL;
	for (i = home(r, k); r->index[i] != NIL;
	     i = (i + 1) & (r->index_cap - 1))
		if (same_key(&r->e[r->index[i]], k))
			return r->index[i];
	return NIL;
}

/* The index position that holds SLOT. */
static size_t index_pos(const struct eph_record *r, uint32_t slot)
{
	size_t i = home(r, &r->e[slot]);

	while (r->index[i] != slot)
		i = (i + 1) & (r->index_cap - 1);
	return i;
}

static void index_put(struct eph_record *r, uint32_t slot)
{
	size_t i = home(r, &r->e[slot]);

	while (r->index[i] != NIL)
		i = (i + 1) & (r->index_cap - 1);
	r->index[i] = slot;
}

/* Backward-shift deletion keeps every probe sequence unbroken. */
static void index_del(struct eph_record *r, uint32_t slot)
{
	size_t mask = r->index_cap - 1, i = index_pos(r, slot), j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (r->index[j] == NIL)
			break;
		k = home(r, &r->e[r->index[j]]);
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && k <= i && k > j)) {
			r->index[i] = r->index[j];
			i = j;
		}
	}
	r->index[i] = NIL;
}

static int index_rebuild(struct eph_record *r, size_t cap)
{
	uint32_t *idx = malloc(cap * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	memset(idx, 0xff, cap * sizeof(*idx));
	free(r->index);
	r->index = idx;
	r->index_cap = cap;
	for (uint32_t s = 0; s < r->n; s++)
		index_put(r, s);
	return 0;
}

/* ---- Lists ---- */

static void list_append(struct link *l, uint32_t *head, uint32_t *tail,
			uint32_t s)
{
	l[s].prev = *tail;
	l[s].next = NIL;
	if (*tail != NIL)
		l[*tail].next = s;
	else
		*head = s;
	*tail = s;
}

static void list_unlink(struct link *l, uint32_t *head, uint32_t *tail,
			uint32_t s)
{
	if (l[s].prev != NIL)
		l[l[s].prev].next = l[s].next;
	else
		*head = l[s].next;
	if (l[s].next != NIL)
		l[l[s].next].prev = l[s].prev;
	else
		*tail = l[s].prev;
}

/* Points the neighbours of an entry moved from FROM to TO at TO. */
static void list_moved(struct link *l, uint32_t *head, uint32_t *tail,
		       uint32_t from, uint32_t to)
{
	l[to] = l[from];
	if (l[to].prev != NIL)
		l[l[to].prev].next = to;
	else if (*head == from)
		*head = to;
	if (l[to].next != NIL)
		l[l[to].next].prev = to;
	else if (*tail == from)
		*tail = to;
}

static int cls_of(const struct rec_entry *e)
{
	return (e->flags & E_KEEP) ? CLS_KEEP : CLS_INFO;
}

/* ---- The table ---- */

static int grow(struct eph_record *r)
{
	uint32_t cap = r->alloc ? r->alloc * 2 : 256;
	struct link *cl, *tl;
	uint8_t *buf;

	if (cap > r->limit)
		cap = r->limit;
	buf = realloc(r->buf, EPH_RECORD_HEADER_SIZE +
				      (size_t)cap * sizeof(struct rec_entry));
	if (!buf)
		return -ENOMEM;
	r->buf = buf;
	r->h = (struct rec_header *)buf;
	r->e = (struct rec_entry *)(buf + EPH_RECORD_HEADER_SIZE);
	cl = realloc(r->cls_link, cap * sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	r->cls_link = cl;
	tl = realloc(r->tw_link, cap * sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	r->tw_link = tl;
	r->alloc = cap;
	/* A load under a half keeps probes short. */
	if ((size_t)cap * 2 > r->index_cap) {
		size_t ic = 1024;

		while (ic < (size_t)cap * 2)
			ic *= 2;
		return index_rebuild(r, ic);
	}
	return 0;
}

static void end_of(struct eph_record *r, uint32_t s, enum history_end_why why,
		   uint64_t when)
{
	struct history_end end;
	const struct rec_entry *x = &r->e[s];

	if (!r->on_end || !(x->flags & E_TIME_WAIT))
		return;
	memset(&end, 0, sizeof(end));
	end.why = why;
	end.boot_ns = when;
	end.netns = x->netns;
	end.family = x->family;
	end.local_port = x->lport;
	end.remote_port = x->rport;
	memcpy(end.local, x->laddr, 16);
	memcpy(end.remote, x->raddr, 16);
	end.pid = x->pid;
	memcpy(end.comm, x->comm, sizeof(end.comm));
	end.uid = x->uid;
	end.cgroup_id = x->cgroup_id;
	end.flags = x->flags;
	end.opened_boot_ns = x->opened_boot_ns;
	end.tw_boot_ns = x->tw_boot_ns;
	r->on_end(r->end_data, &end);
}

static void remove_slot(struct eph_record *r, uint32_t s)
{
	uint32_t last = r->n - 1;
	int c = cls_of(&r->e[s]);

	list_unlink(r->cls_link, &r->head[c], &r->tail[c], s);
	if (r->e[s].flags & E_TIME_WAIT)
		list_unlink(r->tw_link, &r->tw_head, &r->tw_tail, s);
	index_del(r, s);
	if (s != last) {
		int lc = cls_of(&r->e[last]);
		size_t pos = index_pos(r, last);

		r->e[s] = r->e[last];
		r->index[pos] = s;
		list_moved(r->cls_link, &r->head[lc], &r->tail[lc], last, s);
		if (r->e[s].flags & E_TIME_WAIT)
			list_moved(r->tw_link, &r->tw_head, &r->tw_tail, last,
				   s);
	}
	r->n--;
	r->dirty = true;
}

/* Makes room for one more entry: the oldest INFO goes, else a KEEP. */
static void evict_one(struct eph_record *r)
{
	uint32_t s = r->head[CLS_INFO];

	if (s != NIL) {
		r->evicted_info++;
	} else {
		s = r->head[CLS_KEEP];
		r->h->evicted++;
	}
	end_of(r, s, HISTORY_END_EVICTED, r->now_boot);
	remove_slot(r, s);
}

/* Adds entry X (its key not in the table). Returns 0 or -ENOMEM. */
static int insert(struct eph_record *r, const struct rec_entry *x)
{
	uint32_t s;
	int c;

	if (r->n == r->limit)
		evict_one(r);
	if (r->n == r->alloc) {
		int err = grow(r);

		if (err < 0)
			return err;
	}
	s = r->n++;
	r->e[s] = *x;
	index_put(r, s);
	c = cls_of(x);
	list_append(r->cls_link, &r->head[c], &r->tail[c], s);
	if (x->flags & E_TIME_WAIT)
		list_append(r->tw_link, &r->tw_head, &r->tw_tail, s);
	r->dirty = true;
	return 0;
}

/* ---- Events ---- */

static void key_of(const struct eph_trace_event *ev, struct rec_entry *k)
{
	memset(k, 0, sizeof(*k));
	k->netns = (uint32_t)ev->netns;
	k->proto = IPPROTO_TCP;
	k->family = ev->family;
	k->lport = ev->local_port;
	k->rport = ev->remote_port;
	memcpy(k->laddr, ev->local, 16);
	memcpy(k->raddr, ev->remote, 16);
	k->pid = -1;
}

static void owner_of(const struct eph_trace_event *ev, struct rec_entry *x)
{
	if (!(ev->flags & EPH_TRACE_OWNER) || ev->pid < 0)
		return;
	x->flags |= E_OWNER;
	x->pid = ev->pid;
	x->uid = ev->uid;
	x->cgroup_id = ev->cgroup_id;
	memcpy(x->comm, ev->comm, sizeof(x->comm));
	/* One canonical form: nothing after the name's end. */
	x->comm[sizeof(x->comm) - 1] = '\0';
	for (size_t i = strnlen(x->comm, sizeof(x->comm)); i < sizeof(x->comm);
	     i++)
		x->comm[i] = '\0';
}

static bool keep_accepted(const struct eph_record *r, uint16_t port)
{
	return r->keep_hi == 0 || (port >= r->keep_lo && port <= r->keep_hi);
}

/* Does a TIME_WAIT entry matter to usage? */
static bool tw_keep(const struct eph_record *r, const struct rec_entry *x)
{
	if (x->flags & E_BOUND_FIRST)
		return true;
	if ((x->flags & E_ACCEPTED) && keep_accepted(r, x->lport))
		return true;
	return !(x->flags & E_TIMESTAMPS);
}

static int add_live(struct eph_record *r, const struct eph_trace_event *ev,
		    uint8_t flags, bool keep)
{
	struct rec_entry x;
	uint32_t s;

	key_of(ev, &x);
	owner_of(ev, &x);
	x.flags |= flags | (keep ? E_KEEP : 0);
	x.opened_boot_ns = ev->boot_ns;
	s = find(r, &x);
	if (s != NIL) {
		end_of(r, s, HISTORY_END_REUSED, ev->boot_ns);
		remove_slot(r, s);
	}
	return insert(r, &x);
}

static int add_time_wait(struct eph_record *r, const struct eph_trace_event *ev)
{
	struct rec_entry x;
	uint32_t s;

	key_of(ev, &x);
	s = find(r, &x);
	if (s != NIL && !(r->e[s].flags & E_TIME_WAIT)) {
		/* The live entry becomes its TIME_WAIT, keeping its maker. */
		x = r->e[s];
		remove_slot(r, s);
	} else {
		if (s != NIL) {
			end_of(r, s, HISTORY_END_REUSED, ev->boot_ns);
			remove_slot(r, s);
		}
		owner_of(ev, &x);
		x.opened_boot_ns = ev->opened_boot_ns;
		if (ev->flags & EPH_TRACE_BOUND_FIRST)
			x.flags |= E_BOUND_FIRST;
		if (ev->flags & EPH_TRACE_ACCEPTED)
			x.flags |= E_ACCEPTED;
	}
	x.flags &= (uint8_t) ~(E_KEEP | E_TIMESTAMPS);
	x.flags |= E_TIME_WAIT;
	if (ev->flags & EPH_TRACE_TIMESTAMPS)
		x.flags |= E_TIMESTAMPS;
	if (r->mode == HISTORY_RECORD && tw_keep(r, &x))
		x.flags |= E_KEEP;
	x.tw_boot_ns = ev->boot_ns ? ev->boot_ns : 1;
	return insert(r, &x);
}

int history_add(struct eph_record *r, const struct eph_trace_event *ev)
{
	struct rec_entry k;
	uint32_t s;

	if (ev->proto != IPPROTO_TCP)
		return 0;
	if (ev->boot_ns > r->now_boot)
		r->now_boot = ev->boot_ns;
	switch (ev->kind) {
	case EPH_TRACE_CONNECT:
		if (r->mode == HISTORY_RECORD &&
		    (ev->flags & EPH_TRACE_BOUND_FIRST))
			return add_live(r, ev, E_BOUND_FIRST, true);
		/* A new connection on a TIME_WAIT's 4-tuple took it over. */
		key_of(ev, &k);
		s = find(r, &k);
		if (s != NIL) {
			end_of(r, s, HISTORY_END_REUSED, ev->boot_ns);
			remove_slot(r, s);
		}
		return 0;
	case EPH_TRACE_ACCEPT:
		if (r->mode != HISTORY_RECORD)
			return 0;
		return add_live(r, ev, E_ACCEPTED,
				keep_accepted(r, ev->local_port));
	case EPH_TRACE_TIME_WAIT:
		return add_time_wait(r, ev);
	case EPH_TRACE_CLOSE:
		key_of(ev, &k);
		s = find(r, &k);
		if (s != NIL && !(r->e[s].flags & E_TIME_WAIT))
			remove_slot(r, s);
		return 0;
	default:
		return 0;
	}
}

void history_expire(struct eph_record *r, uint64_t now_boot)
{
	if (now_boot > r->now_boot)
		r->now_boot = now_boot;
	while (r->tw_head != NIL &&
	       r->e[r->tw_head].tw_boot_ns + TIME_WAIT_NS <= r->now_boot) {
		uint32_t s = r->tw_head;

		end_of(r, s, HISTORY_END_EXPIRED,
		       r->e[s].tw_boot_ns + TIME_WAIT_NS);
		remove_slot(r, s);
	}
}

void history_set_keep_range(struct eph_record *r, uint16_t lo, uint16_t hi)
{
	r->keep_lo = lo;
	r->keep_hi = hi;
}

void history_set_lost(struct eph_record *r, uint64_t lost)
{
	if (r->h->lost != lost)
		r->dirty = true;
	r->h->lost = lost;
}

void history_stamp(struct eph_record *r, int64_t since, uint64_t since_boot,
		   int64_t now, uint64_t now_boot)
{
	if (!r->h->created || r->h->created > since)
		r->h->created = since;
	r->h->since = since;
	r->h->since_boot_ns = since_boot;
	r->h->written = now;
	r->h->written_boot_ns = now_boot;
	r->h->writer_pid = (int32_t)getpid();
	if (now_boot > r->now_boot)
		r->now_boot = now_boot;
}

uint64_t history_due(const struct eph_record *r)
{
	uint64_t due = UINT64_MAX;

	if (r->tw_head != NIL)
		due = r->e[r->tw_head].tw_boot_ns + TIME_WAIT_NS;
	/* A change written at once unless the last write was too recent:
	 * then it waits for its turn, which must come without an event. */
	if (r->dir_fd >= 0 && r->dirty && r->flushed_boot + FLUSH_NS < due)
		due = r->flushed_boot + FLUSH_NS;
	return due;
}

uint32_t history_count(const struct eph_record *r)
{
	return r->n;
}

uint64_t history_evicted_info(const struct eph_record *r)
{
	return r->evicted_info;
}

/* ---- Making one ---- */

static int lookup(void *data, const struct eph_sock *s,
		  struct eph_history_entry *ret);

static void reset_lists(struct eph_record *r)
{
	for (int c = 0; c < NCLS; c++)
		r->head[c] = r->tail[c] = NIL;
	r->tw_head = r->tw_tail = NIL;
}

static struct eph_record *record_alloc(struct eph_ctx *ctx,
				       enum history_mode mode, uint32_t limit)
{
	struct eph_record *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ctx = ctx;
	r->mode = mode;
	r->limit = limit;
	r->lock_fd = r->dir_fd = -1;
	r->source.lookup = lookup;
	r->source.data = r;
	reset_lists(r);
	r->buf = calloc(1, EPH_RECORD_HEADER_SIZE);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	r->h = (struct rec_header *)r->buf;
	r->e = (struct rec_entry *)(r->buf + EPH_RECORD_HEADER_SIZE);
	return r;
}

int history_new(struct eph_ctx *ctx, enum history_mode mode,
		uint64_t view_netns, uint64_t scope_netns, uint32_t limit,
		struct eph_record **ret)
{
	struct eph_record *r;

	if (limit == 0 || limit > EPH_RECORD_ENTRIES_MAX)
		return ctx_error(ctx, -EINVAL,
				 "a record holds 1 to %u entries, not %u",
				 EPH_RECORD_ENTRIES_MAX, limit);
	r = record_alloc(ctx, mode, limit);
	if (!r)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	r->view_netns = view_netns;
	memcpy(r->h->magic, magic, sizeof(magic));
	r->h->version = VERSION;
	r->h->header_size = EPH_RECORD_HEADER_SIZE;
	r->h->entry_size = EPH_RECORD_ENTRY_SIZE;
	r->h->capacity = limit;
	r->h->netns = scope_netns;
	r->h->flags = scope_netns ? 0 : H_ALL_NETNS;
	r->state = EPH_RECORD_USABLE;
	*ret = r;
	return 0;
}

void history_set_on_end(struct eph_record *r,
			void (*cb)(void *data, const struct history_end *end),
			void *data)
{
	r->on_end = cb;
	r->end_data = data;
}

/* ---- The file ---- */

static uint64_t checksum(const uint8_t *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ len;

	/* Header and entries are whole 8-byte words. */
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, buf + i, 8);
		if (i == offsetof(struct rec_header, checksum))
			w = 0;
		h ^= w;
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

void history_seal(void *buf, size_t len)
{
	struct rec_header *h = buf;

	if (len >= sizeof(*h))
		h->checksum = checksum(buf, len);
}

int history_format(struct eph_record *r, const void **ret_buf, size_t *ret_len)
{
	size_t len = EPH_RECORD_HEADER_SIZE + (size_t)r->n * sizeof(*r->e);

	r->h->count = r->n;
	r->h->capacity = r->limit;
	history_seal(r->buf, len);
	*ret_buf = r->buf;
	*ret_len = len;
	return 0;
}

static bool zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool comm_ok(const char comm[16])
{
	size_t l = strnlen(comm, 16);

	if (l == 16)
		return false;
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)comm[i] < 0x20 || comm[i] == 0x7f)
			return false;
	return zero(comm + l, 16 - l);
}

/* Why entry X is malformed, or NULL. */
static const char *entry_bad(const struct rec_header *h,
			     const struct rec_entry *x)
{
	if (x->proto != IPPROTO_TCP)
		return "not a TCP socket";
	if (x->family != AF_INET && x->family != AF_INET6)
		return "an unknown address family";
	if (x->flags & ~E_KNOWN)
		return "unknown flags";
	if (x->reserved0 || x->reserved1)
		return "reserved bytes set";
	if (!x->lport || !x->rport || !x->netns)
		return "a port or the namespace is 0";
	if (h->netns && x->netns != h->netns)
		return "a namespace the record does not cover";
	if (x->family == AF_INET && (!sockdiag_addr_is_mapped(x->laddr) ||
				     !sockdiag_addr_is_mapped(x->raddr)))
		return "an IPv4 address that is not v4-mapped";
	if (x->flags & E_OWNER) {
		if (x->pid < 0 || !comm_ok(x->comm))
			return "a malformed process";
	} else if (x->pid != -1 || x->uid || x->cgroup_id ||
		   !zero(x->comm, sizeof(x->comm))) {
		return "a process without the flag that says so";
	}
	if (!(x->flags & E_TIME_WAIT) != !x->tw_boot_ns)
		return "a TIME_WAIT time that does not match its state";
	if (x->tw_boot_ns > h->written_boot_ns ||
	    x->opened_boot_ns > h->written_boot_ns)
		return "a time after the record was written";
	if (!(x->flags & E_TIME_WAIT) &&
	    !(x->flags & (E_BOUND_FIRST | E_ACCEPTED)))
		return "a live connection that is neither bound first nor "
		       "accepted";
	return NULL;
}

static const char *header_bad(const struct rec_header *h, size_t len)
{
	if (memcmp(h->magic, magic, sizeof(magic)) != 0)
		return "not an ephport record";
	if (h->version != VERSION)
		return "a version this ephport does not read";
	if (h->header_size != EPH_RECORD_HEADER_SIZE ||
	    h->entry_size != EPH_RECORD_ENTRY_SIZE)
		return "sizes this ephport does not read";
	if (h->capacity == 0 || h->capacity > EPH_RECORD_ENTRIES_MAX ||
	    h->count > h->capacity)
		return "a count beyond its bound";
	if (len !=
	    EPH_RECORD_HEADER_SIZE + (size_t)h->count * EPH_RECORD_ENTRY_SIZE)
		return "a length that does not match its count (cut short?)";
	if (h->flags & ~H_ALL_NETNS || !(h->flags & H_ALL_NETNS) != !!h->netns)
		return "unknown flags";
	if (h->reserved)
		return "reserved bytes set";
	if (h->created > h->since || h->since > h->written ||
	    h->since_boot_ns > h->written_boot_ns || h->writer_pid <= 0)
		return "times or a writer that make no sense";
	return NULL;
}

/* Orders slots by the time their entry came: the lists' order. */
static int by_time(const void *a, const void *b, void *data)
{
	const struct rec_entry *e = data;
	const struct rec_entry *x = &e[*(const uint32_t *)a];
	const struct rec_entry *y = &e[*(const uint32_t *)b];
	uint64_t tx = x->tw_boot_ns ? x->tw_boot_ns : x->opened_boot_ns;
	uint64_t ty = y->tw_boot_ns ? y->tw_boot_ns : y->opened_boot_ns;

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int history_parse(struct eph_ctx *ctx, const void *buf, size_t len,
		  const uint8_t boot_id[16], uint64_t view_netns,
		  struct eph_record **ret)
{
	const struct rec_header *h = buf;
	struct eph_record *r = NULL;
	const char *why;
	uint32_t *order = NULL;
	int err = -EBADMSG;

	if (len < EPH_RECORD_HEADER_SIZE)
		return ctx_error(ctx, -EBADMSG,
				 "record: shorter than its header");
	if ((why = header_bad(h, len)) != NULL)
		return ctx_error(ctx, -EBADMSG, "record: %s", why);
	if (checksum(buf, len) != h->checksum)
		return ctx_error(ctx, -EBADMSG,
				 "record: its checksum does not match "
				 "(damaged)");
	if (boot_id && memcmp(boot_id, h->boot_id, 16) != 0)
		return ctx_error(ctx, -ESTALE,
				 "record: made before this system booted");
	r = record_alloc(ctx, HISTORY_RECORD, h->capacity);
	if (!r)
		goto nomem;
	r->view_netns = view_netns;
	/* The table takes the file's block as it is. */
	while (r->alloc < h->count)
		if (grow(r) < 0)
			goto nomem;
	if (!r->index_cap && index_rebuild(r, 1024) < 0)
		goto nomem;
	memcpy(r->buf, buf, len);
	r->n = h->count;
	r->now_boot = h->written_boot_ns;
	order = malloc((r->n ? r->n : 1) * sizeof(*order));
	if (!order)
		goto nomem;
	for (uint32_t s = 0; s < r->n; s++) {
		if ((why = entry_bad(r->h, &r->e[s])) != NULL) {
			err = ctx_error(ctx, -EBADMSG, "record: entry %u: %s",
					s + 1, why);
			goto fail;
		}
		if (find(r, &r->e[s]) != NIL) {
			err = ctx_error(ctx, -EBADMSG,
					"record: entry %u: a socket given "
					"twice",
					s + 1);
			goto fail;
		}
		index_put(r, s);
		order[s] = s;
	}
	qsort_r(order, r->n, sizeof(*order), by_time, r->e);
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t s = order[i];
		int c = cls_of(&r->e[s]);

		list_append(r->cls_link, &r->head[c], &r->tail[c], s);
		if (r->e[s].flags & E_TIME_WAIT)
			list_append(r->tw_link, &r->tw_head, &r->tw_tail, s);
	}
	free(order);
	r->state = EPH_RECORD_USABLE;
	r->bytes = len;
	*ret = r;
	return 0;
nomem:
	err = ctx_error(ctx, -ENOMEM, "out of memory");
fail:
	free(order);
	history_free(r);
	return err;
}

/* ---- Lookups: the history source ---- */

static int lookup(void *data, const struct eph_sock *s,
		  struct eph_history_entry *ret)
{
	const struct eph_record *r = data;
	struct rec_entry k;
	const struct rec_entry *x;
	uint32_t slot;

	if (s->proto != IPPROTO_TCP || !s->local_port || !s->remote_port)
		return -ENOENT;
	memset(&k, 0, sizeof(k));
	k.netns = (uint32_t)r->view_netns;
	k.lport = s->local_port;
	k.rport = s->remote_port;
	memcpy(k.laddr, s->local, 16);
	memcpy(k.raddr, s->remote, 16);
	slot = find(r, &k);
	if (slot == NIL)
		return -ENOENT;
	x = &r->e[slot];
	/* A TIME_WAIT answers for a TIME_WAIT only, a live one for a live
	 * one: the same 4-tuple may have been used again since. */
	if (!(x->flags & E_TIME_WAIT) != (s->state != EPH_TCP_TIME_WAIT))
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	ret->pid = (x->flags & E_OWNER) ? x->pid : -1;
	memcpy(ret->comm, x->comm, sizeof(ret->comm));
	ret->cgroup_id = x->cgroup_id;
	if (x->opened_boot_ns && r->now_boot > x->opened_boot_ns)
		ret->age_seconds =
			(uint32_t)((r->now_boot - x->opened_boot_ns) /
				   1000000000ull);
	ret->accepted = x->flags & E_ACCEPTED;
	ret->bound_first = x->flags & E_BOUND_FIRST;
	ret->timestamps = x->flags & E_TIMESTAMPS;
	return 0;
}

EPH_EXPORT const struct eph_history *
eph_record_history(const struct eph_record *r)
{
	return r && r->state == EPH_RECORD_USABLE ? &r->source : NULL;
}

/* ---- Reading it ---- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int history_boot_id(struct eph_ctx *ctx, uint8_t ret[16])
{
	char *text = NULL;
	size_t len, n = 0;
	int r;

	r = fileio_read(ctx, AT_FDCWD, "/proc/sys/kernel/random/boot_id", NULL,
			0, 64, &text, &len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < len && n < 32; i++) {
		char c = text[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;

		if (v < 0)
			continue;
		if (n % 2 == 0)
			ret[n / 2] = (uint8_t)(v << 4);
		else
			ret[n / 2] |= (uint8_t)v;
		n++;
	}
	free(text);
	if (n != 32)
		return ctx_error(ctx, -EINVAL, "the boot id is malformed");
	return 0;
}

/* Is a recorder holding the lock of the record at PATH? */
static bool writer_alive(const char *path)
{
	char lock[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;
	bool alive;

	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >=
	    sizeof(lock))
		return false;
	fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* An open file description lock is only looked at, never taken: a
	 * reader cannot get in a starting recorder's way. */
	alive = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return alive;
}

static uint64_t ctx_netns_ino(struct eph_ctx *ctx)
{
	uint64_t dev, ino;

	return eph_ctx_netns_id(ctx, &dev, &ino) == 0 ? ino : 0;
}

/* A record object that stands for a state only. */
static int record_state(struct eph_ctx *ctx, enum eph_record_state state,
			const char *detail, struct eph_record **ret)
{
	struct eph_record *r = record_alloc(ctx, HISTORY_RECORD, 1);

	if (!r)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	r->state = state;
	snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
	*ret = r;
	return 0;
}

EPH_EXPORT int eph_record_read(struct eph_ctx *ctx, const char *path,
			       struct eph_record **ret)
{
	uint8_t boot[16];
	struct eph_record *r;
	char *buf = NULL;
	size_t len;
	int err;

	ctx_clear_error(ctx);
	if (!path)
		path = eph_ctx_record_path(ctx);
	err = fileio_read(ctx, AT_FDCWD, path, NULL, O_NOFOLLOW,
			  EPH_RECORD_HEADER_SIZE +
				  (size_t)EPH_RECORD_ENTRIES_MAX *
					  EPH_RECORD_ENTRY_SIZE,
			  &buf, &len);
	if (err == -ENOMEM)
		return err;
	if (err < 0)
		return record_state(ctx,
				    err == -ENOENT ? EPH_RECORD_MISSING
						   : EPH_RECORD_CORRUPT,
				    err == -ENOENT ? NULL : eph_ctx_errmsg(ctx),
				    ret);
	err = history_boot_id(ctx, boot);
	if (err >= 0)
		err = history_parse(ctx, buf, len, boot, ctx_netns_ino(ctx),
				    &r);
	free(buf);
	if (err == -ENOMEM)
		return err;
	/* A record that cannot be trusted is a state, not a failure. */
	if (err < 0)
		return record_state(ctx, EPH_RECORD_CORRUPT,
				    eph_ctx_errmsg(ctx), ret);
	r->now_boot = clock_ns(CLOCK_BOOTTIME);
	if (!writer_alive(path))
		r->state = EPH_RECORD_STOPPED;
	else if (r->h->netns && r->h->netns != r->view_netns)
		r->state = EPH_RECORD_OTHER_NETNS;
	ctx_clear_error(ctx);
	*ret = r;
	return 0;
}

EPH_EXPORT void eph_record_info(const struct eph_record *r,
				struct eph_record_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->state = r->state;
	snprintf(ret->detail, sizeof(ret->detail), "%s", r->detail);
	if (r->state == EPH_RECORD_MISSING || r->state == EPH_RECORD_CORRUPT)
		return;
	ret->created = r->h->created;
	ret->since = r->h->since;
	ret->written = r->h->written;
	ret->netns = r->h->netns;
	ret->writer_pid = r->h->writer_pid;
	ret->entries = r->n;
	ret->capacity = r->limit;
	ret->lost = r->h->lost;
	ret->evicted = r->h->evicted;
	ret->complete = !r->h->lost && !r->h->evicted;
	ret->bytes = r->bytes ? r->bytes
			      : EPH_RECORD_HEADER_SIZE +
					(uint64_t)r->n * EPH_RECORD_ENTRY_SIZE;
}

EPH_EXPORT const char *eph_record_state_code(enum eph_record_state state)
{
	static const char *const codes[] = { "usable", "missing", "stopped",
					     "other-netns", "corrupt" };

	return (unsigned int)state < ARRAY_SIZE(codes) ? codes[state] : "?";
}

/* ---- Writing it ---- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int history_open_writer(struct eph_ctx *ctx, const char *path, uint32_t limit,
			uint64_t scope_netns, struct eph_record **ret)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char dir[PATH_MAX], lock[PATH_MAX];
	struct eph_record *r = NULL, *old = NULL;
	uint8_t boot[16];
	const char *slash;
	char *buf = NULL;
	size_t len;
	int err, lock_fd = -1, dir_fd = -1;
	char discarded[256] = "";
	uint64_t now_boot = clock_ns(CLOCK_BOOTTIME);
	int64_t now_wall = (int64_t)(clock_ns(CLOCK_REALTIME) / 1000000000ull);

	slash = strrchr(path, '/');
	if (!slash || !slash[1] || (size_t)(slash - path) >= sizeof(dir) ||
	    strlen(slash + 1) > NAME_MAX - 16 ||
	    (size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >=
		    sizeof(lock))
		return ctx_error(ctx, -EINVAL,
				 "record: '%s' is not a file's absolute path",
				 path);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	err = history_boot_id(ctx, boot);
	if (err < 0)
		return err;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return ctx_error(ctx, -errno, "cannot create %s: %s", dir,
				 strerror(errno));
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return ctx_error(ctx, -errno, "cannot open %s: %s", dir,
				 strerror(errno));
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (lock_fd < 0) {
		err = ctx_error(ctx, -errno, "cannot open %s: %s", lock,
				strerror(errno));
		goto fail;
	}
	if (fcntl(lock_fd, F_OFD_SETLK, &fl) < 0) {
		err = errno == EAGAIN || errno == EACCES
			      ? ctx_error(ctx, -EBUSY,
					  "another recorder keeps %s already",
					  path)
			      : ctx_error(ctx, -errno, "cannot lock %s: %s",
					  lock, strerror(errno));
		goto fail;
	}
	err = history_new(ctx, HISTORY_RECORD, scope_netns, scope_netns, limit,
			  &r);
	if (err < 0)
		goto fail;
	memcpy(r->h->boot_id, boot, 16);
	r->h->created = now_wall;
	/* What a recorder that ran before left: kept if it can be trusted,
	 * its TIME_WAITs over by now dropped. */
	err = fileio_read(ctx, dir_fd, base_name(path), path, O_NOFOLLOW,
			  EPH_RECORD_HEADER_SIZE +
				  (size_t)EPH_RECORD_ENTRIES_MAX *
					  EPH_RECORD_ENTRY_SIZE,
			  &buf, &len);
	if (err == -ENOMEM)
		goto fail;
	if (err >= 0) {
		err = history_parse(ctx, buf, len, boot, scope_netns, &old);
		if (err == -ENOMEM)
			goto fail;
		if (err < 0)
			snprintf(discarded, sizeof(discarded), "%s",
				 eph_ctx_errmsg(ctx));
	} else if (err != -ENOENT) {
		snprintf(discarded, sizeof(discarded), "%s",
			 eph_ctx_errmsg(ctx));
	}
	if (old) {
		r->h->created = old->h->created;
		for (uint32_t i = 0; i < NCLS; i++)
			for (uint32_t s = old->head[i]; s != NIL;
			     s = old->cls_link[s].next) {
				const struct rec_entry *x = &old->e[s];

				if (scope_netns && x->netns != scope_netns)
					continue;
				if ((x->flags & E_TIME_WAIT) &&
				    x->tw_boot_ns + TIME_WAIT_NS <= now_boot)
					continue;
				if (insert(r, x) < 0)
					goto nomem;
			}
		/* The entries are older than the lists' order says; the
		 * INFO list before KEEP keeps eviction order. */
		history_free(old);
		old = NULL;
	}
	history_stamp(r, now_wall, now_boot, now_wall, now_boot);
	r->lock_fd = lock_fd;
	r->dir_fd = dir_fd;
	snprintf(r->name, sizeof(r->name), "%s", base_name(path));
	snprintf(r->detail, sizeof(r->detail), "%s", discarded);
	r->dirty = true;
	err = history_flush(r, true);
	if (err < 0) {
		history_free(r);
		free(buf);
		return err;
	}
	free(buf);
	ctx_clear_error(ctx);
	*ret = r;
	return 0;
nomem:
	err = ctx_error(ctx, -ENOMEM, "out of memory");
fail:
	/* What R took over it closes itself; the rest is closed here (read
	 * before R is freed). */
	if (lock_fd >= 0 && (!r || r->lock_fd != lock_fd))
		close(lock_fd);
	if (dir_fd >= 0 && (!r || r->dir_fd != dir_fd))
		close(dir_fd);
	history_free(old);
	history_free(r);
	free(buf);
	return err;
}

int history_flush(struct eph_record *r, bool force)
{
	uint64_t now_boot = clock_ns(CLOCK_BOOTTIME);
	const void *buf;
	size_t len;
	int err;

	if (r->dir_fd < 0 || !r->dirty)
		return 0;
	if (!force && now_boot < r->flushed_boot + FLUSH_NS)
		return 0;
	r->h->written = (int64_t)(clock_ns(CLOCK_REALTIME) / 1000000000ull);
	if (r->h->written < r->h->since)
		r->h->written = r->h->since;
	r->h->written_boot_ns = now_boot > r->now_boot ? now_boot : r->now_boot;
	history_format(r, &buf, &len);
	err = fileio_replace(r->ctx, r->dir_fd, r->name, buf, len);
	if (err < 0)
		return err;
	r->bytes = len;
	r->dirty = false;
	r->flushed_boot = now_boot;
	return 0;
}

void history_free(struct eph_record *r)
{
	if (!r)
		return;
	if (r->dir_fd >= 0)
		close(r->dir_fd);
	/* Closing the lock's descriptor releases it. */
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->buf);
	free(r->cls_link);
	free(r->tw_link);
	free(r->index);
	free(r);
}

EPH_EXPORT void eph_record_free(struct eph_record *r)
{
	history_free(r);
}
