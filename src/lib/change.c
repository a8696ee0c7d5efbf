/* SPDX-License-Identifier: MIT */
/*
 * Changes to the port policy (reserve, unreserve, set-range): planned
 * under ephport's locks from what the kernel, the sysctl.d files and the
 * drop-in hold, then applied so that nothing is left half changed.
 *
 * The persistent value is merged with what a boot applies today: the
 * drop-in sorts last among the usual files, and so it must hold everyone
 * else's reservations too, or it would drop them at the next boot. The
 * plan says, as data, whether its value is what boots (another file may
 * sort after it, and `sysctl --system` reads /etc/sysctl.conf last).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Serialises ephport's read-modify-write of the kernel's values. */
#define RUNTIME_LOCK_DIR "/run/ephport"
/* No drop-in ephport writes comes near this. */
#define DROPIN_FILE_MAX (1024 * 1024)
/* Past this many cells the diff is "all removed, all added". */
#define DIFF_CELLS_MAX (4u * 1024u * 1024u)

static const char sysctl_conf[] = "/etc/sysctl.conf";

struct note {
	struct eph_change_note pub; /* first: handed out as is */
	char *file, *value;
	struct eph_portset *ports;
};

struct eph_change {
	/*
	 * The plan's own context, a copy of the caller's made when planning:
	 * applying changes what was read, whatever the caller's context is
	 * aimed at by then. Failures are reported in USER, the caller's.
	 */
	struct eph_ctx *ctx;
	struct eph_ctx *user;
	enum eph_change_kind kind;
	uint32_t flags;
	const char *key;
	struct eph_portset ports; /* asked for */
	uint16_t low, high;	  /* asked for */
	char reason[EPH_CHANGE_REASON_MAX + 1];
	bool configured; /* the sysctl.d files set up this namespace */
	bool applied;

	int rt_lock, dir_fd; /* -1 when not held */
	struct eph_policy *policy;
	struct eph_sysctld *sd;	  /* NULL when not configured */
	char *old_content;	  /* the drop-in as read, or NULL */
	bool have_drop;		  /* DROP parsed (strictly) */
	struct dropin drop, next; /* the drop-in as read and as written */
	char *new_content;
	char path[PATH_MAX];

	struct eph_portset before, after; /* the kernel's reserved ports */
	struct eph_change_runtime rt;
	struct eph_change_persist ps;

	bool refused;
	struct eph_change_refusal refusal;
	struct eph_portset refusal_ports;
	char refusal_file[PATH_MAX];
	char refusal_detail[PATH_MAX + 1024];

	struct note *notes;
	size_t nnotes, capnotes;
	struct eph_change_diff *diff;
	size_t ndiff;
};

EPH_EXPORT const char *
eph_change_refusal_name(enum eph_change_refusal_code code)
{
	static const char *const names[] = {
		[EPH_CHANGE_REFUSED_NONE] = "none",
		[EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT] = "too-little-left",
		[EPH_CHANGE_REFUSED_ONE_PORT] = "one-port-range",
		[EPH_CHANGE_REFUSED_BELOW_UNPRIVILEGED] = "below-unprivileged",
		[EPH_CHANGE_REFUSED_LISTENERS] = "listeners",
		[EPH_CHANGE_REFUSED_NOT_RESERVED] = "not-reserved",
		[EPH_CHANGE_REFUSED_DROPIN_FOREIGN] = "dropin-foreign",
		[EPH_CHANGE_REFUSED_BOOT_VALUE_BAD] = "boot-value-bad",
	};

	if ((unsigned int)code >= ARRAY_SIZE(names))
		return "?";
	return names[code];
}

EPH_EXPORT const char *eph_change_note_name(enum eph_change_note_code code)
{
	static const char *const names[] = {
		[EPH_CHANGE_NOTE_NOT_PERSISTED] = "not-persisted",
		[EPH_CHANGE_NOTE_FILE_LOSES] = "file-loses",
		[EPH_CHANGE_NOTE_FILE_WINS] = "file-wins",
		[EPH_CHANGE_NOTE_SYSCTL_CONF_WINS] = "sysctl-conf-wins",
		[EPH_CHANGE_NOTE_BAD_LINE] = "bad-line",
		[EPH_CHANGE_NOTE_RUNTIME_ONLY] = "runtime-only",
		[EPH_CHANGE_NOTE_NOT_RESERVED] = "not-reserved",
		[EPH_CHANGE_NOTE_SAME_PARITY] = "same-parity",
		[EPH_CHANGE_NOTE_LISTENERS_INSIDE] = "listeners-inside",
		[EPH_CHANGE_NOTE_LITTLE_LEFT] = "little-left",
	};

	if ((unsigned int)code >= ARRAY_SIZE(names))
		return "?";
	return names[code];
}

/* ---- Notes and refusals ---- */

static int add_note(struct eph_change *c, const struct eph_change_note *n)
{
	struct note *t;

	if (num_grow((void **)&c->notes, &c->capnotes, c->nnotes,
		     sizeof(*c->notes)) < 0)
		return ctx_error(c->ctx, -ENOMEM, "out of memory");
	t = &c->notes[c->nnotes];
	memset(t, 0, sizeof(*t));
	t->pub = *n;
	if ((n->file && !(t->file = strdup(n->file))) ||
	    (n->value && !(t->value = strdup(n->value))) ||
	    (n->ports && eph_portset_new(&t->ports) < 0)) {
		free(t->file);
		free(t->value);
		return ctx_error(c->ctx, -ENOMEM, "out of memory");
	}
	if (n->ports)
		eph_portset_copy(t->ports, n->ports);
	t->pub.file = t->file;
	t->pub.value = t->value;
	t->pub.ports = t->ports;
	c->nnotes++;
	return 0;
}

static int note_ports(struct eph_change *c, enum eph_change_note_code code,
		      const struct eph_portset *ports)
{
	struct eph_change_note n = { .code = code, .ports = ports };

	return add_note(c, &n);
}

/* A note about a line of another file. */
static int note_setting(struct eph_change *c, enum eph_change_note_code code,
			const struct eph_sysctld_setting *s)
{
	struct eph_change_note n = { .code = code, .line = s->line };
	char shown[PATH_MAX];

	n.file = fileio_display(c->ctx, s->file, shown, sizeof(shown));
	n.value = s->value;
	return add_note(c, &n);
}

static void refuse(struct eph_change *c, enum eph_change_refusal_code code,
		   bool force_overrides)
{
	c->refused = true;
	c->refusal.code = code;
	c->refusal.force_overrides = force_overrides;
}

/* Refuses for a line of a file; DETAIL names it. */
static void refuse_file(struct eph_change *c, enum eph_change_refusal_code code,
			const char *shown, unsigned int line,
			const char *detail)
{
	refuse(c, code, false);
	snprintf(c->refusal_file, sizeof(c->refusal_file), "%s", shown);
	snprintf(c->refusal_detail, sizeof(c->refusal_detail), "%s", detail);
	c->refusal.file = c->refusal_file;
	c->refusal.line = line;
	c->refusal.detail = c->refusal_detail;
}

/*
 * Does the change leave autobind too little of LO..HI, with TAKEN out?
 * Under half of it; or under EPH_CHANGE_MIN_LEFT ports when autobind had
 * at least that many before (LEFT_BEFORE): a range already that small
 * was chosen so, and only the half rule holds there.
 */
static bool too_little_left(const struct eph_portset *taken, uint16_t lo,
			    uint16_t hi, uint32_t left_before,
			    uint32_t *ret_left, uint32_t *ret_size)
{
	uint32_t size = (uint32_t)hi - lo + 1;
	uint32_t left = size - eph_portset_count_range(taken, lo, hi);

	*ret_left = left;
	*ret_size = size;
	return left < size / 2 || (left < EPH_CHANGE_MIN_LEFT &&
				   left_before >= EPH_CHANGE_MIN_LEFT);
}

/* Refuses TOO_LITTLE_LEFT, or notes it when forced. */
static int check_left(struct eph_change *c, const struct eph_portset *taken,
		      uint16_t lo, uint16_t hi, uint32_t left_before)
{
	struct eph_change_note n = { .code = EPH_CHANGE_NOTE_LITTLE_LEFT };

	if (!too_little_left(taken, lo, hi, left_before, &n.left, &n.size))
		return 0;
	n.low = lo;
	n.high = hi;
	if (c->flags & EPH_CHANGE_FORCE)
		return add_note(c, &n);
	refuse(c, EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT, true);
	c->refusal.left = n.left;
	c->refusal.size = n.size;
	c->refusal.low = lo;
	c->refusal.high = hi;
	c->refusal.left_before = left_before;
	return 0;
}

/* ---- Who sets the key, and who wins ---- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* A setting in ephport's drop-in (in whichever directory: one masks the
 * others). */
static bool is_ours(const struct eph_sysctld_setting *s)
{
	return strcmp(base_name(s->file), DROPIN_NAME) == 0;
}

static bool is_sysctl_conf(const struct eph_sysctld_setting *s)
{
	return strcmp(s->file, sysctl_conf) == 0;
}

/* Is S in a file that systemd-sysctl applies after the drop-in? */
static bool sorts_after(const struct eph_sysctld_setting *s)
{
	return !is_sysctl_conf(s) && !is_ours(s) &&
	       strcmp(base_name(s->file), DROPIN_NAME) > 0;
}

/*
 * The settings of KEY that beat a value in the drop-in: the last one in a
 * file read after it (systemd-sysctl), and /etc/sysctl.conf's last one
 * (`sysctl --system`). Either may be NULL.
 */
static void beaten_by(const struct eph_change *c, const char *key,
		      const struct eph_sysctld_setting **ret_later,
		      const struct eph_sysctld_setting **ret_conf)
{
	*ret_later = NULL;
	*ret_conf = NULL;
	for (size_t i = 0; i < eph_sysctld_count(c->sd); i++) {
		const struct eph_sysctld_setting *s = eph_sysctld_get(c->sd, i);

		if (strcmp(s->key, key) != 0)
			continue;
		if (sorts_after(s))
			*ret_later = s;
		else if (is_sysctl_conf(s))
			*ret_conf = s;
	}
}

/* Does a value the drop-in sets for KEY hold at boot, both ways? */
static bool key_wins(const struct eph_change *c, const char *key)
{
	const struct eph_sysctld_setting *later, *conf;

	beaten_by(c, key, &later, &conf);
	return !later && !conf;
}

/*
 * The reserved ports a boot applies today (under systemd-sysctl), into
 * RET. Returns 0, 1 when the value cannot be read (refused when REFUSE),
 * or -ENOMEM.
 */
static int boot_reserved(struct eph_change *c, struct eph_portset *ret,
			 bool refuse_bad)
{
	const struct eph_sysctld_setting *w;
	char shown[PATH_MAX], detail[PATH_MAX + 1024];

	eph_portset_clear(ret);
	w = eph_sysctld_winner(c->sd, POLICY_KEY_RESERVED, false);
	if (!w)
		return 0;
	if (is_ours(w) && c->have_drop) {
		eph_portset_copy(ret, &c->drop.reserved);
		return 0;
	}
	if (!w->too_long &&
	    eph_portset_parse(c->ctx, ret, w->value, strlen(w->value)) == 0)
		return 0;
	if (!refuse_bad) {
		ctx_clear_error(c->ctx);
		return 1;
	}
	fileio_display(c->ctx, w->file, shown, sizeof(shown));
	snprintf(detail, sizeof(detail), "%s:%u: %s: %s", shown, w->line,
		 POLICY_KEY_RESERVED,
		 w->too_long ? "a value too long to check"
			     : eph_ctx_errmsg(c->ctx));
	ctx_clear_error(c->ctx);
	refuse_file(c, EPH_CHANGE_REFUSED_BOOT_VALUE_BAD, shown, w->line,
		    detail);
	return 1;
}

/* ---- Reading ---- */

/* Opens and locks the drop-in's directory under the root. */
static int lock_dropin_dir(struct eph_change *c, bool create)
{
	char shown[PATH_MAX];
	int fd, r;

	fileio_display(c->ctx, DROPIN_DIR, shown, sizeof(shown));
	if (create) {
		int etc =
			fileio_open(c->ctx, "/etc", O_RDONLY | O_DIRECTORY, 0);

		if (etc < 0)
			return etc;
		r = mkdirat(etc, "sysctl.d", 0755) < 0 && errno != EEXIST
			    ? -errno
			    : 0;
		close(etc);
		if (r < 0)
			return ctx_error(c->ctx, r, "cannot create %s: %s",
					 shown, strerror(-r));
	}
	fd = fileio_open(c->ctx, DROPIN_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	r = fileio_lock(c->ctx, fd, shown);
	if (r < 0) {
		close(fd);
		return r;
	}
	c->dir_fd = fd;
	return 0;
}

static int take_locks(struct eph_change *c)
{
	bool dry = c->flags & EPH_CHANGE_DRY_RUN;
	bool persist = c->flags & EPH_CHANGE_PERSIST;
	int r;

	/*
	 * Always in this order: the kernel's lock (whatever the root), then
	 * the drop-in's directory. Without the right to take the first,
	 * the write will be refused as well, with the clearer message.
	 */
	if ((c->flags & EPH_CHANGE_RUNTIME) && !dry) {
		r = fileio_lock_dir(c->ctx, RUNTIME_LOCK_DIR, true);
		if (r == -EACCES || r == -EPERM || r == -EROFS)
			ctx_clear_error(c->ctx);
		else if (r < 0)
			return r;
		else
			c->rt_lock = r;
	}
	if (!c->configured)
		return 0;
	r = lock_dropin_dir(c, persist && !dry);
	if (r == -ENOENT && !(persist && !dry)) {
		ctx_clear_error(c->ctx);
		return 0;
	}
	return r;
}

/* Reads the sysctl.d files and the drop-in. */
static int read_files(struct eph_change *c)
{
	static const char *const keys[] = { POLICY_KEY_RESERVED,
					    POLICY_KEY_RANGE };
	unsigned int line = 0;
	size_t len;
	int r;

	r = eph_sysctld_read(c->ctx, keys, ARRAY_SIZE(keys), &c->sd);
	if (r < 0)
		return r;
	if (c->dir_fd < 0)
		return 0;
	r = fileio_read(c->ctx, c->dir_fd, DROPIN_NAME, c->path, O_NOFOLLOW,
			DROPIN_FILE_MAX, &c->old_content, &len);
	if (r == -ENOENT) {
		ctx_clear_error(c->ctx);
		return 0;
	}
	if (r < 0)
		return r;
	r = dropin_parse(c->ctx, c->old_content, len, c->path, &c->drop, &line);
	if (r == -ENOMEM)
		return r;
	if (r == 0) {
		c->have_drop = true;
	} else if (c->flags & EPH_CHANGE_PERSIST) {
		/* Refused: ephport rewrites only what it can read back. */
		refuse_file(c, EPH_CHANGE_REFUSED_DROPIN_FOREIGN, c->path, line,
			    eph_ctx_errmsg(c->ctx));
	}
	ctx_clear_error(c->ctx);
	return 0;
}

/* Listening TCP ports and bound UDP ports within LO..HI, into RET. */
static int add_sock(const struct eph_sock *s, void *data)
{
	eph_portset_add(data, s->local_port, s->local_port);
	return 0;
}

/* The ports of LO..HI that TCP listeners and bound UDP sockets hold: the
 * servers audit looks at, which autobind cannot take either. */
static int listeners_in(struct eph_change *c, uint16_t lo, uint16_t hi,
			struct eph_portset *ret)
{
	static const struct eph_scan_ops ops = { NULL, add_sock };
	struct eph_scan *scan;
	int r;

	r = eph_scan_new(c->ctx, &scan);
	if (r < 0)
		return r;
	r = audit_scan_servers(scan, lo, hi, &ops, ret);
	eph_scan_free(scan);
	return r < 0 ? r : 0;
}

/* What autobind has of LO..HI with the ports of TAKEN out. */
static uint32_t left_of(const struct eph_portset *taken, uint16_t lo,
			uint16_t hi)
{
	return (uint32_t)hi - lo + 1 - eph_portset_count_range(taken, lo, hi);
}

/* What autobind has now: the range as it is, less what is reserved and
 * what servers hold in it (UINT32_MAX when they cannot be read: the
 * stricter rule then holds). */
static uint32_t left_now(struct eph_change *c)
{
	struct eph_portset now = { 0 };
	uint16_t lo, hi;

	eph_policy_range(c->policy, &lo, &hi);
	if (listeners_in(c, lo, hi, &now) < 0)
		return UINT32_MAX;
	eph_portset_union(&now, &c->before);
	return left_of(&now, lo, hi);
}

/* ---- Deciding ---- */

static int plan_reserve(struct eph_change *c)
{
	struct eph_portset servers = { 0 }, before, after;
	uint16_t lo, hi;
	int r;

	eph_policy_range(c->policy, &lo, &hi);
	eph_portset_union(&c->after, &c->ports);
	/*
	 * Autobind cannot take a port a server holds either: reserving a
	 * listener's port (what audit advises) takes nothing from it. Only
	 * a change that takes more of the range can leave too little.
	 */
	r = listeners_in(c, lo, hi, &servers);
	if (r < 0)
		return ctx_error(c->ctx, r, "listening sockets: %s",
				 eph_ctx_errmsg(c->ctx));
	eph_portset_copy(&before, &c->before);
	eph_portset_union(&before, &servers);
	eph_portset_copy(&after, &c->after);
	eph_portset_union(&after, &servers);
	if (left_of(&after, lo, hi) < left_of(&before, lo, hi))
		return check_left(c, &after, lo, hi, left_of(&before, lo, hi));
	return 0;
}

static int plan_unreserve(struct eph_change *c)
{
	struct eph_portset anywhere, missing;

	eph_portset_subtract(&c->after, &c->ports);
	/* Reserved anywhere: in the kernel, or in any file. */
	eph_portset_copy(&anywhere, &c->before);
	if (c->have_drop)
		eph_portset_union(&anywhere, &c->drop.reserved);
	for (size_t i = 0; c->sd && i < eph_sysctld_count(c->sd); i++) {
		const struct eph_sysctld_setting *s = eph_sysctld_get(c->sd, i);
		struct eph_portset v;

		if (strcmp(s->key, POLICY_KEY_RESERVED) != 0 || s->too_long ||
		    eph_portset_parse(NULL, &v, s->value, strlen(s->value)) < 0)
			continue;
		eph_portset_union(&anywhere, &v);
	}
	eph_portset_copy(&missing, &c->ports);
	eph_portset_subtract(&missing, &anywhere);
	if (eph_portset_equal(&missing, &c->ports)) {
		refuse(c, EPH_CHANGE_REFUSED_NOT_RESERVED, false);
		eph_portset_copy(&c->refusal_ports, &c->ports);
		c->refusal.ports = &c->refusal_ports;
		return 0;
	}
	if (eph_portset_count(&missing))
		return note_ports(c, EPH_CHANGE_NOTE_NOT_RESERVED, &missing);
	return 0;
}

static int plan_set_range(struct eph_change *c)
{
	struct eph_change_note n = { 0 };
	struct eph_portset listeners = { 0 }, taken;
	uint32_t unpriv = eph_policy_unprivileged_start(c->policy);
	bool force = c->flags & EPH_CHANGE_FORCE;
	int r;

	if (c->low < unpriv) {
		refuse(c, EPH_CHANGE_REFUSED_BELOW_UNPRIVILEGED, false);
		c->refusal.low = c->low;
		c->refusal.high = c->high;
		c->refusal.unprivileged = unpriv;
		return 0;
	}
	if (c->low == c->high && !force) {
		refuse(c, EPH_CHANGE_REFUSED_ONE_PORT, true);
		c->refusal.low = c->low;
		c->refusal.high = c->high;
		return 0;
	}
	r = listeners_in(c, c->low, c->high, &listeners);
	if (r < 0)
		return ctx_error(c->ctx, r, "listening sockets: %s",
				 eph_ctx_errmsg(c->ctx));
	/* Reserved listeners are safe: autobind never takes them. */
	eph_portset_copy(&taken, &listeners);
	eph_portset_subtract(&listeners, &c->before);
	if (eph_portset_count(&listeners)) {
		if (!force) {
			refuse(c, EPH_CHANGE_REFUSED_LISTENERS, true);
			eph_portset_copy(&c->refusal_ports, &listeners);
			c->refusal.ports = &c->refusal_ports;
			c->refusal.low = c->low;
			c->refusal.high = c->high;
			return 0;
		}
		r = note_ports(c, EPH_CHANGE_NOTE_LISTENERS_INSIDE, &listeners);
		if (r < 0)
			return r;
	}
	eph_portset_union(&taken, &c->before);
	r = check_left(c, &taken, c->low, c->high, left_now(c));
	if (r < 0 || c->refused)
		return r;
	if ((c->low & 1) == (c->high & 1)) {
		/* A range one port shorter has bounds of different parity;
		 * a one-port range has no such range inside it. */
		n.code = EPH_CHANGE_NOTE_SAME_PARITY;
		if (c->high > c->low) {
			n.low = c->low;
			n.high = (uint16_t)(c->high - 1);
		}
		return add_note(c, &n);
	}
	return 0;
}

/* The notes about other files that set the key, and bad lines. */
static int note_files(struct eph_change *c)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < eph_sysctld_count(c->sd); i++) {
		const struct eph_sysctld_setting *s = eph_sysctld_get(c->sd, i);

		if (strcmp(s->key, c->key) != 0 || is_ours(s))
			continue;
		r = note_setting(c,
				 is_sysctl_conf(s)
					 ? EPH_CHANGE_NOTE_SYSCTL_CONF_WINS
				 : sorts_after(s) ? EPH_CHANGE_NOTE_FILE_WINS
						  : EPH_CHANGE_NOTE_FILE_LOSES,
				 s);
	}
	for (size_t i = 0; r == 0 && i < eph_sysctld_bad_count(c->sd); i++)
		r = note_setting(c, EPH_CHANGE_NOTE_BAD_LINE,
				 eph_sysctld_bad(c->sd, i));
	return r;
}

/* Deep-copies the drop-in as read into NEXT, the one to write. */
static int copy_drop(struct eph_change *c)
{
	c->next = c->drop;
	c->next.notes = NULL;
	c->next.cap = 0;
	if (c->drop.nnotes == 0)
		return 0;
	c->next.notes = calloc(c->drop.nnotes, sizeof(*c->next.notes));
	if (!c->next.notes)
		return ctx_error(c->ctx, -ENOMEM, "out of memory");
	memcpy(c->next.notes, c->drop.notes,
	       c->drop.nnotes * sizeof(*c->next.notes));
	c->next.cap = c->drop.nnotes;
	return 0;
}

/* The new drop-in: what a boot applies today, changed. */
static int plan_persist(struct eph_change *c)
{
	const struct eph_sysctld_setting *later, *conf;
	struct eph_portset boot, added;
	char today[11];
	size_t len;
	int r;

	r = copy_drop(c);
	if (r < 0)
		return r;
	if (c->kind == EPH_CHANGE_SET_RANGE) {
		c->next.has_range = true;
		c->next.low = c->low;
		c->next.high = c->high;
	} else {
		if (boot_reserved(c, &boot, true) != 0)
			return 0; /* refused */
		eph_portset_union(&boot, &c->drop.reserved);
		if (c->kind == EPH_CHANGE_RESERVE) {
			eph_portset_copy(&added, &c->ports);
			eph_portset_subtract(&added, &boot);
			eph_portset_union(&boot, &c->ports);
			num_today(today);
			if (dropin_add_note(&c->next, &added, today,
					    c->reason) < 0)
				return ctx_error(c->ctx, -ENOMEM,
						 "out of memory");
		} else {
			eph_portset_subtract(&boot, &c->ports);
			dropin_remove_ports(&c->next, &c->ports);
		}
		eph_portset_copy(&c->next.reserved, &boot);
		/* Kept whenever another file sets the key: the drop-in's
		 * value, even empty, must override it. */
		c->next.has_reserved =
			c->drop.has_reserved || eph_portset_count(&boot) ||
			eph_sysctld_winner(c->sd, POLICY_KEY_RESERVED, true);
	}
	/* The header claims to win at boot only when it does, for every
	 * key it sets. */
	c->next.wins =
		(!c->next.has_reserved || key_wins(c, POLICY_KEY_RESERVED)) &&
		(!c->next.has_range || key_wins(c, POLICY_KEY_RANGE));
	r = dropin_format(&c->next, &c->new_content, &len);
	if (r < 0)
		return ctx_error(c->ctx, r, "out of memory");
	beaten_by(c, c->key, &later, &conf);
	c->ps.enabled = true;
	c->ps.path = c->path;
	c->ps.old_content = c->old_content;
	c->ps.new_content = c->new_content;
	c->ps.changed =
		!c->old_content || strcmp(c->old_content, c->new_content) != 0;
	c->ps.wins = !later;
	c->ps.wins_system = !later && !conf;
	c->ps.winner = later;
	c->ps.winner_system = conf ? conf : later;
	return note_files(c);
}

/* Reserved ports in the kernel that a boot will not reserve again. */
static int note_runtime_only(struct eph_change *c)
{
	struct eph_portset boot, only;

	if (c->ps.enabled && c->ps.wins)
		eph_portset_copy(&boot, &c->next.reserved);
	else if (boot_reserved(c, &boot, false) != 0)
		return 0; /* unknown: nothing to say */
	eph_portset_copy(&only, &c->after);
	eph_portset_subtract(&only, &boot);
	if (eph_portset_count(&only) == 0)
		return 0;
	return note_ports(c, EPH_CHANGE_NOTE_RUNTIME_ONLY, &only);
}

/* ---- The diff ---- */

struct lines {
	const char **s;
	size_t *len, n;
};

static int split_lines(const char *text, struct lines *l)
{
	size_t cap = 0;

	l->s = NULL;
	l->len = NULL;
	l->n = 0;
	for (const char *p = text; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (l->n == cap) {
			size_t c2 = cap ? cap * 2 : 32;
			const char **s = realloc(l->s, c2 * sizeof(*s));
			size_t *ln;

			if (!s)
				return -ENOMEM;
			l->s = s;
			ln = realloc(l->len, c2 * sizeof(*ln));
			if (!ln)
				return -ENOMEM;
			l->len = ln;
			cap = c2;
		}
		l->s[l->n] = p;
		l->len[l->n++] = n;
		p += n + (e ? 1 : 0);
	}
	return 0;
}

static bool same_line(const struct lines *a, size_t i, const struct lines *b,
		      size_t j)
{
	return a->len[i] == b->len[j] &&
	       memcmp(a->s[i], b->s[j], a->len[i]) == 0;
}

static void diff_push(struct eph_change *c, enum eph_change_diff_op op,
		      const char *s, size_t len)
{
	c->diff[c->ndiff].op = op;
	c->diff[c->ndiff].text = s;
	c->diff[c->ndiff].len = len;
	c->ndiff++;
}

/* A line diff of the old and the new drop-in (longest common subsequence). */
static int make_diff(struct eph_change *c)
{
	struct lines a = { 0 }, b = { 0 };
	uint32_t *t = NULL;
	size_t w;
	int r = -ENOMEM;

	if (split_lines(c->old_content, &a) < 0 ||
	    split_lines(c->new_content, &b) < 0)
		goto out;
	w = b.n + 1;
	c->diff = calloc(a.n + b.n + 1, sizeof(*c->diff));
	if (!c->diff)
		goto out;
	if ((a.n + 1) * w <= DIFF_CELLS_MAX) {
		t = calloc((a.n + 1) * w, sizeof(*t));
		if (!t)
			goto out;
	}
	/* T(i, j): the longest common subsequence of a[i..] and b[j..]. */
	for (size_t i = a.n; t && i-- > 0;)
		for (size_t j = b.n; j-- > 0;)
			t[i * w + j] = same_line(&a, i, &b, j)
					       ? t[(i + 1) * w + j + 1] + 1
				       : t[(i + 1) * w + j] > t[i * w + j + 1]
					       ? t[(i + 1) * w + j]
					       : t[i * w + j + 1];
	for (size_t i = 0, j = 0; i < a.n || j < b.n;) {
		if (t && i < a.n && j < b.n && same_line(&a, i, &b, j)) {
			diff_push(c, EPH_CHANGE_DIFF_SAME, b.s[j], b.len[j]);
			i++;
			j++;
		} else if (j < b.n &&
			   (i == a.n ||
			    (t && t[i * w + j + 1] > t[(i + 1) * w + j]))) {
			diff_push(c, EPH_CHANGE_DIFF_ADDED, b.s[j], b.len[j]);
			j++;
		} else if (i < a.n) {
			diff_push(c, EPH_CHANGE_DIFF_REMOVED, a.s[i], a.len[i]);
			i++;
		} else {
			diff_push(c, EPH_CHANGE_DIFF_ADDED, b.s[j], b.len[j]);
			j++;
		}
	}
	r = 0;
out:
	free(t);
	free(a.s);
	free(a.len);
	free(b.s);
	free(b.len);
	return r < 0 ? ctx_error(c->ctx, r, "out of memory") : 0;
}

/* ---- The plan ---- */

static int check_request(struct eph_ctx *ctx,
			 const struct eph_change_request *req)
{
	if (!req)
		return ctx_error(ctx, -EINVAL, "no change asked for");
	if (!(req->flags & (EPH_CHANGE_RUNTIME | EPH_CHANGE_PERSIST)))
		return ctx_error(ctx, -EINVAL,
				 "a change of neither the kernel nor the "
				 "drop-in");
	switch (req->kind) {
	case EPH_CHANGE_RESERVE:
	case EPH_CHANGE_UNRESERVE:
		if (!req->ports || eph_portset_count(req->ports) == 0)
			return ctx_error(ctx, -EINVAL, "no port given");
		if (eph_portset_has(req->ports, 0))
			return ctx_error(ctx, -EINVAL,
					 "port 0 cannot be reserved");
		break;
	case EPH_CHANGE_SET_RANGE:
		if (req->low > req->high)
			return ctx_error(ctx, -EINVAL,
					 "LOW %u is above HIGH %u", req->low,
					 req->high);
		if (req->low == 0)
			return ctx_error(ctx, -EINVAL,
					 "port 0 cannot start the range");
		break;
	default:
		return ctx_error(ctx, -EINVAL, "an unknown kind of change");
	}
	if (req->reason && strlen(req->reason) > EPH_CHANGE_REASON_MAX)
		return ctx_error(ctx, -EINVAL, "a reason longer than %u bytes",
				 EPH_CHANGE_REASON_MAX);
	return 0;
}

/*
 * Do the sysctl.d files under the context's root set up its namespace?
 * A root of the caller's choosing is taken to: it is an image or a tree
 * for that namespace. Otherwise only the namespace init runs in is.
 */
static bool configured(struct eph_ctx *ctx)
{
	uint64_t dev, ino;
	struct stat st;
	int boot;

	if (strcmp(eph_ctx_root(ctx), "/") != 0)
		return true;
	boot = eph_ctx_netns_is_boot(ctx);
	if (boot >= 0)
		return boot == 1;
	/*
	 * Unknown: init's namespace cannot be read (a sandbox). The
	 * caller's own namespace is taken for the boot one, as a plain
	 * `sysctl -w` there would be; any other for not.
	 */
	if (eph_ctx_netns_id(ctx, &dev, &ino) < 0 ||
	    stat("/proc/thread-self/ns/net", &st) < 0)
		return eph_ctx_netns(ctx) == NULL;
	return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

static int plan(struct eph_change *c)
{
	char shown[PATH_MAX];
	uint16_t lo, hi;
	int r;

	if ((c->flags & EPH_CHANGE_PERSIST) && !c->configured) {
		struct eph_change_note n = {
			.code = EPH_CHANGE_NOTE_NOT_PERSISTED
		};

		if (!(c->flags & EPH_CHANGE_RUNTIME))
			return ctx_error(
				c->ctx, -EINVAL,
				"%s sets up the namespace the system boots "
				"in, not \"%s\": persisting needs a root of "
				"its own",
				fileio_display(c->ctx, DROPIN_DIR, shown,
					       sizeof(shown)),
				eph_ctx_netns(c->ctx) ? eph_ctx_netns(c->ctx)
						      : "this one");
		c->flags &= ~EPH_CHANGE_PERSIST;
		r = add_note(c, &n);
		if (r < 0)
			return r;
	}
	r = take_locks(c);
	if (r < 0)
		return r;
	r = eph_policy_read(c->ctx, &c->policy);
	if (r < 0)
		return r;
	eph_policy_range(c->policy, &lo, &hi);
	eph_portset_copy(&c->before, eph_policy_reserved(c->policy));
	eph_portset_copy(&c->after, &c->before);
	if (c->configured) {
		r = read_files(c);
		if (r < 0)
			return r;
	}
	if (!c->refused) {
		r = c->kind == EPH_CHANGE_RESERVE     ? plan_reserve(c)
		    : c->kind == EPH_CHANGE_UNRESERVE ? plan_unreserve(c)
						      : plan_set_range(c);
		if (r < 0)
			return r;
	}
	if (!c->refused && (c->flags & EPH_CHANGE_PERSIST)) {
		r = plan_persist(c);
		if (r < 0)
			return r;
	}
	if (c->refused)
		return 0;
	/* The kernel, before and after. */
	c->rt.enabled = c->flags & EPH_CHANGE_RUNTIME;
	if (!c->rt.enabled)
		eph_portset_copy(&c->after, &c->before);
	c->rt.before = &c->before;
	c->rt.after = &c->after;
	c->rt.low_before = c->rt.low_after = lo;
	c->rt.high_before = c->rt.high_after = hi;
	if (c->kind == EPH_CHANGE_SET_RANGE && c->rt.enabled) {
		c->rt.low_after = c->low;
		c->rt.high_after = c->high;
	}
	c->rt.changed = !eph_portset_equal(&c->before, &c->after) ||
			c->rt.low_after != lo || c->rt.high_after != hi;
	if (c->configured && c->kind != EPH_CHANGE_SET_RANGE) {
		r = note_runtime_only(c);
		if (r < 0)
			return r;
	}
	return c->ps.enabled ? make_diff(c) : 0;
}

EPH_EXPORT int eph_change_plan(struct eph_ctx *ctx,
			       const struct eph_change_request *req,
			       struct eph_change **ret)
{
	struct eph_change *c;
	int r;

	ctx_clear_error(ctx);
	r = check_request(ctx, req);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	c->user = ctx;
	c->ctx = ctx_clone(ctx);
	if (!c->ctx) {
		free(c);
		return ctx_error(ctx, -ENOMEM, "out of memory");
	}
	c->kind = req->kind;
	c->flags = req->flags;
	c->key = req->kind == EPH_CHANGE_SET_RANGE ? POLICY_KEY_RANGE
						   : POLICY_KEY_RESERVED;
	if (req->ports)
		eph_portset_copy(&c->ports, req->ports);
	c->low = req->low;
	c->high = req->high;
	if (req->reason && req->kind == EPH_CHANGE_RESERVE)
		snprintf(c->reason, sizeof(c->reason), "%s", req->reason);
	c->rt_lock = -1;
	c->dir_fd = -1;
	dropin_init(&c->drop);
	dropin_init(&c->next);
	fileio_display(c->ctx, EPH_DROPIN_PATH, c->path, sizeof(c->path));
	c->configured = configured(c->ctx);
	ctx_clear_error(c->ctx);
	r = plan(c);
	if (r < 0) {
		ctx_error(ctx, r, "%s", eph_ctx_errmsg(c->ctx));
		eph_change_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

EPH_EXPORT void eph_change_free(struct eph_change *c)
{
	if (!c)
		return;
	/* The drop-in's lock first: the reverse of the order taken. */
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	if (c->rt_lock >= 0)
		close(c->rt_lock);
	for (size_t i = 0; i < c->nnotes; i++) {
		free(c->notes[i].file);
		free(c->notes[i].value);
		eph_portset_free(c->notes[i].ports);
	}
	free(c->notes);
	free(c->diff);
	eph_policy_free(c->policy);
	eph_sysctld_free(c->sd);
	dropin_free(&c->drop);
	dropin_free(&c->next);
	free(c->old_content);
	free(c->new_content);
	eph_ctx_free(c->ctx);
	free(c);
}

/* ---- Applying ---- */

static int write_runtime(struct eph_change *c, bool after)
{
	char range[16], *list;
	int r;

	if (c->kind == EPH_CHANGE_SET_RANGE) {
		snprintf(range, sizeof(range), "%u %u",
			 after ? c->rt.low_after : c->rt.low_before,
			 after ? c->rt.high_after : c->rt.high_before);
		return ctx_sysctl_write(c->ctx, c->key, range);
	}
	list = eph_portset_to_string(after ? &c->after : &c->before);
	if (!list)
		return ctx_error(c->ctx, -ENOMEM, "out of memory");
	/* An empty write is no write: a lone newline clears the list. */
	r = ctx_sysctl_write(c->ctx, c->key, list[0] ? list : "\n");
	free(list);
	return r;
}

/* Does the kernel now hold what was written? */
static int read_back(struct eph_change *c)
{
	struct eph_policy *check;
	char want[32], got[32];
	uint16_t lo, hi;
	int r;

	r = eph_policy_read(c->ctx, &check);
	if (r < 0)
		return r;
	eph_policy_range(check, &lo, &hi);
	if (c->kind == EPH_CHANGE_SET_RANGE &&
	    (lo != c->rt.low_after || hi != c->rt.high_after)) {
		snprintf(want, sizeof(want), "%u %u", c->rt.low_after,
			 c->rt.high_after);
		snprintf(got, sizeof(got), "%u %u", lo, hi);
		r = ctx_error(c->ctx, -EIO,
			      "%s: read back \"%s\", not \"%s\" (another "
			      "writer?)",
			      c->key, got, want);
	} else if (c->kind != EPH_CHANGE_SET_RANGE &&
		   !eph_portset_equal(eph_policy_reserved(check), &c->after)) {
		r = ctx_error(c->ctx, -EIO,
			      "%s: the value read back is not the one "
			      "written (another writer?)",
			      c->key);
	}
	eph_policy_free(check);
	return r;
}

/* Puts the kernel's value back after FAILURE, keeping its detail. */
static int roll_back(struct eph_change *c, int failure)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", eph_ctx_errmsg(c->ctx));
	if (write_runtime(c, false) < 0)
		return ctx_error(c->ctx, failure,
				 "%s; and putting the old value back failed: "
				 "%s",
				 why, eph_ctx_errmsg(c->ctx));
	return ctx_error(c->ctx, failure, "%s (the old value is back)", why);
}

static int apply(struct eph_change *c)
{
	bool wrote = false;
	int r;

	if (c->refused)
		return ctx_error(c->ctx, -ECANCELED,
				 "the change was refused: nothing to apply");
	if (c->flags & EPH_CHANGE_DRY_RUN)
		return ctx_error(c->ctx, -EINVAL, "a dry run is not applied");
	if (c->applied)
		return ctx_error(c->ctx, -EALREADY, "already applied");
	if (c->rt.enabled && c->rt.changed) {
		r = write_runtime(c, true);
		if (r < 0)
			return r;
		wrote = true;
		r = read_back(c);
		if (r < 0)
			return roll_back(c, r);
	}
	if (c->ps.enabled && c->ps.changed) {
		r = fileio_replace(c->ctx, c->dir_fd, DROPIN_NAME,
				   c->new_content, strlen(c->new_content));
		if (r < 0)
			return wrote ? roll_back(c, r) : r;
	}
	c->applied = true;
	return 0;
}

EPH_EXPORT int eph_change_apply(struct eph_change *c)
{
	int r;

	ctx_clear_error(c->user);
	ctx_clear_error(c->ctx);
	r = apply(c);
	if (r < 0)
		return ctx_error(c->user, r, "%s", eph_ctx_errmsg(c->ctx));
	return 0;
}

EPH_EXPORT int eph_change_reserve(struct eph_ctx *ctx,
				  const struct eph_portset *ports,
				  const char *reason, uint32_t flags,
				  struct eph_change **ret)
{
	struct eph_change_request req = {
		.kind = EPH_CHANGE_RESERVE,
		.ports = ports,
		.reason = reason,
		.flags = flags,
	};
	struct eph_change *c;
	int r;

	r = eph_change_plan(ctx, &req, &c);
	if (r < 0)
		return r;
	if (c->refused) {
		*ret = c;
		return 1;
	}
	if (!(flags & EPH_CHANGE_DRY_RUN)) {
		r = eph_change_apply(c);
		if (r < 0) {
			eph_change_free(c);
			return r;
		}
	}
	*ret = c;
	return 0;
}

/* ---- Accessors ---- */

EPH_EXPORT enum eph_change_kind eph_change_kind(const struct eph_change *c)
{
	return c->kind;
}

EPH_EXPORT uint32_t eph_change_flags(const struct eph_change *c)
{
	return c->flags;
}

EPH_EXPORT const char *eph_change_key(const struct eph_change *c)
{
	return c->key;
}

EPH_EXPORT const struct eph_change_refusal *
eph_change_refusal(const struct eph_change *c)
{
	return c->refused ? &c->refusal : NULL;
}

EPH_EXPORT const struct eph_change_runtime *
eph_change_runtime(const struct eph_change *c)
{
	return &c->rt;
}

EPH_EXPORT const struct eph_change_persist *
eph_change_persist(const struct eph_change *c)
{
	return &c->ps;
}

EPH_EXPORT bool eph_change_boots(const struct eph_change *c)
{
	return !c->ps.enabled || (c->ps.wins && c->ps.wins_system);
}

EPH_EXPORT size_t eph_change_note_count(const struct eph_change *c)
{
	return c->nnotes;
}

EPH_EXPORT const struct eph_change_note *
eph_change_note(const struct eph_change *c, size_t i)
{
	return i < c->nnotes ? &c->notes[i].pub : NULL;
}

EPH_EXPORT size_t eph_change_diff_count(const struct eph_change *c)
{
	return c->ndiff;
}

EPH_EXPORT const struct eph_change_diff *
eph_change_diff(const struct eph_change *c, size_t i)
{
	return i < c->ndiff ? &c->diff[i] : NULL;
}
