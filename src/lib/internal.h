/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared between the library's own files; nothing here is
 * exported. Cross-file symbols carry their file's name as prefix. Tests and
 * fuzzers link the static library and may call these too.
 */
#ifndef EPHPORT_INTERNAL_H
#define EPHPORT_INTERNAL_H

#include <stdarg.h>

#include "ephport/ephport.h"

#define EPH_EXPORT __attribute__((visibility("default")))

#if defined(__GNUC__)
#define EPH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EPH_PRINTF(a, b)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- assignments.c ---- */

/*
 * Parses a store of assignments from BUF[0..LEN): "NAME PORT DATE" lines,
 * blank lines and "#" comments skipped. Anything else, or a name or a port
 * given twice, is an error naming the line (-EBADMSG). Calls CB for each
 * entry, in order, with its line number. Pure: no I/O. Returns 0, -ENOMEM,
 * or the first negative value CB returned.
 */
int assignments_parse(struct eph_ctx *ctx, const char *buf, size_t len,
		      int (*cb)(const struct eph_assignment *e,
				unsigned int line, void *data),
		      void *data);

/* ---- ctx.c ---- */

/*
 * Records a failure detail in CTX (which may be NULL) and returns ERR, a
 * negative errno, so that callers can write `return ctx_error(...)`.
 */
int ctx_error(struct eph_ctx *ctx, int err, const char *fmt, ...)
	EPH_PRINTF(3, 4);

/* Copies FROM's failure (detail and errno) into TO; returns the errno. */
int ctx_error_copy(struct eph_ctx *to, const struct eph_ctx *from);

/*
 * A new context on the same namespace, /proc/sys and root, for a second
 * thread (a context is not shared between threads). NULL when out of
 * memory.
 */
struct eph_ctx *ctx_clone(const struct eph_ctx *ctx);

/* Clears the failure detail at the start of a public operation. */
void ctx_clear_error(struct eph_ctx *ctx);

/*
 * Enters the context's target namespace (no-op when it has none or it is
 * the caller's own) and leaves it again. Every successful enter must be
 * paired with a leave. leave returns a negative errno when the caller's
 * namespace could not be restored.
 */
int ctx_netns_enter(struct eph_ctx *ctx);
int ctx_netns_leave(struct eph_ctx *ctx);

/* The root of /proc/sys for this context, never NULL. */
const char *ctx_proc_sys_root(const struct eph_ctx *ctx);

/*
 * Reads the sysctl NAME ("net.ipv4.ip_local_port_range") of the context's
 * namespace with one read(2) from offset 0 into a buffer owned by the
 * context, valid until the next call. The caller must already be inside
 * the namespace (ctx_netns_enter). Returns 0 and sets *RET_BUF, *RET_LEN;
 * -ENOENT when the file does not exist; another negative errno otherwise.
 * A failure leaves a detail naming the file.
 */
int ctx_sysctl_read(struct eph_ctx *ctx, const char *name, const char **ret_buf,
		    size_t *ret_len);

/*
 * Writes VALUE to the sysctl NAME of the context's namespace (one write).
 * Returns 0, or a negative errno with a detail (-EPERM: no CAP_NET_ADMIN
 * there; -EINVAL: the kernel refused the value).
 */
int ctx_sysctl_write(struct eph_ctx *ctx, const char *name, const char *value);

/* ---- fileio.c: files under the context's root ---- */

/*
 * Opens PATH, an absolute path, under the context's root: symbolic links
 * are resolved inside the root (openat2 RESOLVE_IN_ROOT), never on the
 * host. FLAGS are open(2)'s; O_CLOEXEC is added. Returns the descriptor,
 * or a negative errno with a detail naming the whole path.
 */
int fileio_open(struct eph_ctx *ctx, const char *path, int flags, int mode);

/* The path as the user sees it: ROOT/PATH, or PATH when the root is "/". */
const char *fileio_display(const struct eph_ctx *ctx, const char *path,
			   char *buf, size_t size);

/*
 * Reads the file PATH (relative to DIRFD, or AT_FDCWD) whole into a new
 * NUL-terminated buffer, opened with O_RDONLY | O_CLOEXEC | OFLAGS. A file
 * over MAX bytes is an error (-EFBIG). SHOWN names it in messages (NULL:
 * PATH). Returns 0, or a negative errno (-ENOENT when it does not exist).
 */
int fileio_read(struct eph_ctx *ctx, int dirfd, const char *path,
		const char *shown, int oflags, size_t max, char **ret_buf,
		size_t *ret_len);

/* Reads FD whole, as fileio_read() does; FD stays open. */
int fileio_read_fd(struct eph_ctx *ctx, int fd, const char *shown, size_t max,
		   char **ret_buf, size_t *ret_len);

/*
 * Locks directory DIRFD against other ephport writers (flock, waiting);
 * the lock lasts until the descriptor is closed. Returns 0 or a negative
 * errno.
 */
int fileio_lock(struct eph_ctx *ctx, int dirfd, const char *shown);

/*
 * Opens and locks directory DIR (a host path), creating it when CREATE.
 * Returns the descriptor, or a negative errno.
 */
int fileio_lock_dir(struct eph_ctx *ctx, const char *dir, bool create);

/*
 * Replaces NAME in the locked directory DIRFD with CONTENT: written to a
 * temporary file beside it, fsync'd, renamed over NAME, and the directory
 * fsync'd (once renamed, the new file stands even if that last sync
 * fails). Temporary files that a killed writer left are removed first.
 * On failure NAME is as it was. Returns 0 or a negative errno.
 */
int fileio_replace(struct eph_ctx *ctx, int dirfd, const char *name,
		   const char *content, size_t len);

/* ---- portset.c ---- */

/* Internal to the port set: lets others embed one by value. */
struct eph_portset {
	uint64_t bits[EPH_PORT_COUNT / 64];
};

static inline void portset_set(struct eph_portset *ps, uint16_t port)
{
	ps->bits[port >> 6] |= 1ull << (port & 63);
}

static inline bool portset_has(const struct eph_portset *ps, uint16_t port)
{
	return (ps->bits[port >> 6] >> (port & 63)) & 1;
}

/* ---- num.c ---- */

/*
 * Hands out the next line of BUF[0..LEN) from *POS on, without its
 * newline, and moves *POS past it. Returns false at the end.
 */
bool num_next_line(const char *buf, size_t len, size_t *pos,
		   const char **ret_line, size_t *ret_len);

/* Trims one trailing newline from S[0..*LEN). */
void num_trim_newline(const char *s, size_t *len);

/* Quotes S[0..LEN) for an error message into BUF (cut at SIZE). */
const char *num_quote(const char *s, size_t len, char *buf, size_t size);

/* A growing array: makes room for one more element of SIZE bytes. */
int num_grow(void **items, size_t *cap, size_t n, size_t size);

/* Today's date (UTC) as YYYY-MM-DD into BUF (11 bytes). */
void num_today(char buf[11]);

/* ---- policy.c ---- */

/*
 * Parses the two numbers of ip_local_port_range ("32768\t60999\n") from
 * S[0..LEN). Returns 0, -EINVAL or -ERANGE (bounds above 65535, or LOW >
 * HIGH).
 */
int policy_range_parse(struct eph_ctx *ctx, const char *s, size_t len,
		       uint16_t *ret_low, uint16_t *ret_high);

#define POLICY_KEY_RANGE "net.ipv4.ip_local_port_range"
#define POLICY_KEY_RESERVED "net.ipv4.ip_local_reserved_ports"

/* ---- sockdiag.c ---- */

#define SOCKDIAG_MAX_PORTS 32

/* The scan filter with the knobs only the library's own scans use. */
struct sockdiag_filter {
	struct eph_scan_filter f;
	bool auto_only; /* only sockets the kernel's AUTO test passes */
	/* Local ports left out, whatever else matches. */
	uint16_t skip_ports[SOCKDIAG_MAX_PORTS];
	uint32_t nskip_ports;
	/* With explicit_only: local ports taken as well, explicit or not;
	 * their records are not marked EPH_SOCK_PORT_LOCKED. */
	uint16_t also_ports[SOCKDIAG_MAX_PORTS];
	uint32_t nalso_ports;
};

int sockdiag_run(struct eph_scan *scan, const struct sockdiag_filter *filter,
		 const struct eph_scan_ops *ops, void *data);

/*
 * Parses one received chunk of a sock_diag dump reply: a sequence of
 * netlink messages that must all be complete, carry SEQ and PORTID (0
 * skips those checks) and hold well-formed inet_diag messages with valid
 * attributes. Calls OPS->sock for each socket. Pure: no I/O.
 * Returns 0 when more chunks follow, 1 when the chunk ended the dump
 * (NLMSG_DONE), or a negative errno (-EPROTO for malformed input, the
 * kernel's error for NLMSG_ERROR). *RET_INTR is set when a message carried
 * NLM_F_DUMP_INTR.
 */
int sockdiag_parse(struct eph_ctx *ctx, const void *buf, size_t len,
		   uint8_t proto, uint32_t seq, uint32_t portid,
		   const struct eph_scan_ops *ops, void *data, bool *ret_intr);

/*
 * Test hook: copies every chunk a scan receives to FD (a 4-byte length in
 * host order, then the bytes), to record fixtures. -1 turns it off.
 */
void sockdiag_set_tap(struct eph_scan *scan, int fd);

/* Is ADDR (16 bytes, as in struct eph_sock) a v4-mapped IPv4 address? */
bool sockdiag_addr_is_mapped(const uint8_t addr[16]);

/* Is ADDR a loopback address (127.0.0.0/8 or ::1)? */
bool sockdiag_addr_is_loopback(const uint8_t addr[16]);

/* Is ADDR the wildcard (0.0.0.0 mapped, or ::)? */
bool sockdiag_addr_is_any(const uint8_t addr[16]);

/* ---- cgroup.c ---- */

/* Where the cgroup v2 hierarchy is mounted, into BUF; -ENOENT: nowhere. */
int cgroup_mount(char *buf, size_t size);
/* The same from the mount table MOUNTINFO (a fixture in tests). */
int cgroup_mount_in(const char *mountinfo, char *buf, size_t size);

/*
 * Opens the directory of cgroup ID (its inode, as sock_diag reports it)
 * on the hierarchy mounted at MOUNTFD, without walking the tree
 * (open_by_handle_at: needs CAP_DAC_READ_SEARCH). Returns the descriptor,
 * or a negative errno (-ESTALE when the cgroup is gone).
 */
int cgroup_open(int mountfd, uint64_t id, int flags);

/* The path of cgroup ID below the hierarchy's root ("/a/b"), into BUF. */
int cgroup_path(int mountfd, const char *mount, uint64_t id, char *buf,
		size_t size);

/* The processes in cgroup ID, into a new array. Returns 0 or -errno. */
int cgroup_pids(int mountfd, uint64_t id, int32_t **ret, size_t *ret_n);

/* ---- owner.c ---- */

/* The readlinks the last resolve cost: the tests check the shortcuts. */
size_t owner_readlinks(const struct eph_owners *o);

/*
 * Reads a process's name from PATH (its comm file, relative to DIRFD) into
 * BUF, made printable; "?" when the process is gone.
 */
void owner_read_comm(int dirfd, const char *path, char *buf, size_t size);

/*
 * Puts the N processes P parents first (a process after every one of its
 * ancestors among them), by pid among those as deep. Returns how many
 * have no parent among them (1: the first is an ancestor of all the
 * others), or 0 when out of memory (the order is left as it was).
 */
size_t owner_order_procs(struct eph_owner_proc *p, size_t n);

/*
 * A compact lookup keeps 24 bytes a wanted socket instead of a whole
 * eph_owner (300): eph_owners_find() then finds nothing, and
 * owner_first() says who holds each (usage --by process, which wants
 * every socket of a host).
 */
void owner_set_compact(struct eph_owners *o, bool compact);
/* The first process holding INODE after a resolve, and its cgroup path
 * in *CGROUP ("" when unknown); NULL when none was found. Valid until the
 * lookup is cleared, resolved again or freed. */
const struct eph_owner_proc *owner_first(const struct eph_owners *o,
					 uint32_t inode, const char **cgroup);

/* ---- sysctld.c ---- */

/* One meaningful line of a sysctl.d file. */
struct sysctld_line {
	unsigned int line; /* 1-based */
	const char *key;   /* NULL for a line that is not an assignment */
	size_t key_len;	   /* without the leading '-' */
	const char *value; /* trimmed */
	size_t value_len;
	bool ignore_failure; /* the key began with '-' */
	const char *error;   /* why a line is bad, when key is NULL */
};

/*
 * Parses a sysctl.d file from BUF[0..LEN): blank lines and lines starting
 * with '#' or ';' are skipped; every other line is passed to CB, bad ones
 * (no '=', no key, a space inside the key) with key NULL and an error, as
 * systemd-sysctl reports and skips them. Pure: no I/O. Returns 0, or the
 * first negative value CB returned.
 */
int sysctld_parse(const char *buf, size_t len,
		  int (*cb)(const struct sysctld_line *l, void *data),
		  void *data);

/*
 * Does KEY[0..LEN) name sysctl NAME ("net.ipv4.ip_local_port_range")?
 * Both spellings count: "net/ipv4/..." and "net.ipv4....".
 */
bool sysctld_key_is(const char *key, size_t len, const char *name);

/* ---- services.c ---- */

/* One line of a services file (/etc/services, Wireshark's, nmap's). */
struct services_line {
	unsigned int line;
	const char *name; /* NULL for a bad line */
	size_t name_len;
	uint16_t port_lo, port_hi; /* "6000-6063/tcp" is a range */
	uint32_t protos;	   /* EPH_PROTO_* */
	bool has_frequency;	   /* nmap-services' third field */
	double frequency;
	const char *error; /* why a line is bad */
};

/*
 * Parses a services file from BUF[0..LEN). Comments and blank lines are
 * skipped; every other line goes to CB, bad ones with name NULL and an
 * error. Pure. Returns 0, or the first negative value CB returned.
 */
int services_parse(const char *buf, size_t len,
		   int (*cb)(const struct services_line *l, void *data),
		   void *data);

/*
 * Splits S[0..LEN) at blanks into at most MAX tokens. Returns how many.
 */
size_t services_tokens(const char *s, size_t len, const char **tok,
		       size_t *tlen, size_t max);

/* ---- audit.c ---- */

/*
 * Dumps the servers on ports LO..HI: listening TCP sockets, then UDP
 * sockets bound to a port they named. OPS->begin is called for the first
 * dump only. Returns the second dump's count, or a negative errno.
 */
int audit_scan_servers(struct eph_scan *scan, uint16_t lo, uint16_t hi,
		       const struct eph_scan_ops *ops, void *data);

/*
 * The audit of the servers SOCKS (as the scan would find them) and the
 * planned ports of REQ under P, without I/O: tests feed it by hand.
 */
int audit_decide(const struct eph_policy *p,
		 const struct eph_audit_request *req,
		 const struct eph_sock *socks, size_t n,
		 struct eph_audit **ret);

/* Asks O for the owner of risk R, with what the dump said about it. */
int audit_want_owner(struct eph_owners *o, const struct eph_risk *r);

/* Copies the owners O found into the risks of A. */
void audit_fill_owners(struct eph_audit *a, const struct eph_owners *o);

/* ---- diagnose.c ---- */

/*
 * The decision half of eph_diagnose(), from facts gathered elsewhere (the
 * bind tests' results, the sockets on the port in the target namespace,
 * and with REQ->owners their OWNERS, one per socket, pid -1 for none):
 * tests feed it by hand. Returns 0 or a negative errno.
 */
int diagnose_decide(const struct eph_diag_request *req,
		    const struct eph_policy *p, bool persistent,
		    const struct eph_diag_probe *probes, size_t nprobes,
		    const struct eph_sock *socks, size_t nsocks,
		    const struct eph_owner *owners, struct eph_diagnosis **ret);

/* ---- usage.c ---- */

/*
 * Sees every socket a usage counts toward a destination, as it is counted
 * (in the thread that calls the scan), and begin() whenever what was
 * counted is dropped and counted again (a new round, a redone dump, a
 * second pass): an observer then drops what it gathered from that usage
 * since its last begin(). CTX is the usage's context: one observer may
 * watch the usages of many namespaces. begin may be NULL.
 */
struct usage_observer {
	void (*begin)(void *data, struct eph_ctx *ctx);
	void (*sock)(void *data, struct eph_ctx *ctx, const struct eph_sock *s);
	void *data;
};

#define USAGE_OBSERVERS 4

/* The hash of a destination (LOCAL, REMOTE, RPORT), for the open-addressed
 * tables kept per destination (the usage's, the forecast's, the
 * consumers'). */
uint64_t usage_tuple_hash(const uint8_t local[16], const uint8_t remote[16],
			  uint16_t rport);

/* Has O watch U's scans and hand feeds (once, however often asked);
 * unobserve stops it. Returns 0 or -ENOSPC. */
int usage_observe(struct eph_usage *u, const struct usage_observer *o);
void usage_unobserve(struct eph_usage *u, const struct usage_observer *o);

/* ---- snapshot.c ---- */

/*
 * A snapshot made of policy P and usage U (both taken over, and freed
 * with it), for tests that feed the usage by hand. Returns 0 or -ENOMEM.
 */
int snapshot_wrap(struct eph_ctx *ctx, struct eph_policy *p,
		  struct eph_usage *u, struct eph_snapshot **ret);

/*
 * Has O watch the usage of S (made now if need be), or of every
 * namespace of F, those read already and those found later; at the start
 * of each scan of F, O's begin() is called with no context (members may
 * have gone). Returns 0, -ENOSPC or -ENOMEM. Unobserve stops it.
 */
int snapshot_observe(struct eph_snapshot *s, const struct usage_observer *o);
void snapshot_unobserve(struct eph_snapshot *s, const struct usage_observer *o);
int fleet_observe(struct eph_fleet *f, const struct usage_observer *o);
void fleet_unobserve(struct eph_fleet *f, const struct usage_observer *o);

/* The context S was made with. */
struct eph_ctx *snapshot_ctx(const struct eph_snapshot *s);

/*
 * Has namespace NS, listed by eph_netns_list(), gone away since: it is a
 * process's and /proc/PID/ns/net is gone or names another namespace now?
 * A named namespace never has (it was asked about by being named).
 */
bool fleet_netns_gone(const struct eph_netns *ns);

/*
 * The snapshots and fleets one observer watches, so that its owner can
 * stop watching them all when it is freed (before them, or after).
 */
struct usage_watches {
	struct eph_snapshot **snaps;
	size_t nsnaps, snaps_cap;
	struct eph_fleet **fleets;
	size_t nfleets, fleets_cap;
};

/* Has O watch S (or every member of F) and remembers it, once however
 * often asked. Returns 0, -ENOSPC or -ENOMEM, with CTX's error set. */
int usage_watch_snapshot(struct usage_watches *w, struct eph_ctx *ctx,
			 struct eph_snapshot *s,
			 const struct usage_observer *o);
int usage_watch_fleet(struct usage_watches *w, struct eph_ctx *ctx,
		      struct eph_fleet *f, const struct usage_observer *o);
/* Stops O watching all of them and frees W's arrays. */
void usage_watches_free(struct usage_watches *w,
			const struct usage_observer *o);

/* ---- forecast.c ---- */

/*
 * eph_forecast_add() with the usage U (NULL: no destination) and the time
 * T_NS given, for tests that feed usages by hand. Returns 0 or -ENOMEM.
 */
int forecast_add_usage(struct eph_forecast *f, uint64_t source,
		       const struct eph_usage *u, uint64_t t_ns);

/* ---- netns.c ---- */

/*
 * Calls CB for every namespace eph_netns_list() finds (but the context's
 * own with SKIP_SELF), with a fresh context aimed at it. When it could not
 * be aimed there, NCTX carries the error (eph_ctx_errno() is negative) and
 * the callback decides. A negative return from CB stops the walk and is
 * returned. Returns 0, or a negative errno.
 */
int netns_walk(struct eph_ctx *ctx, bool skip_self,
	       int (*cb)(struct eph_ctx *nctx, const struct eph_netns *ns,
			 void *data),
	       void *data);

/* ---- dropin.c: ephport's sysctl.d drop-in ---- */

#define DROPIN_DIR "/etc/sysctl.d"
#define DROPIN_NAME "99-zz-ephport.conf"
/* The longest reason a note keeps. */
#define DROPIN_REASON_MAX 255u

/* A "# reserved PORTS on DATE: REASON" note. */
struct dropin_note {
	struct eph_portset ports;
	char date[11]; /* YYYY-MM-DD */
	char reason[DROPIN_REASON_MAX + 1];
};

/* The drop-in's content. */
struct dropin {
	bool wins; /* the header says that what it sets wins at boot */
	bool has_reserved;
	struct eph_portset reserved;
	bool has_range;
	uint16_t low, high;
	struct dropin_note *notes;
	size_t nnotes, cap;
};

/* An empty drop-in (that claims to win). */
void dropin_init(struct dropin *d);
/* Frees the notes; D itself is the caller's. */
void dropin_free(struct dropin *d);

/*
 * Parses the drop-in from BUF[0..LEN) into *RET, strictly: blank lines,
 * the header lines, notes and one assignment to each of the two keys are
 * all it may hold. Anything else is -EINVAL with a detail
 * "SHOWN:LINE: why" and the line in *RET_LINE (may be NULL); -ENOMEM.
 * Pure: no I/O. *RET is written only on success (dropin_free() it).
 */
int dropin_parse(struct eph_ctx *ctx, const char *buf, size_t len,
		 const char *shown, struct dropin *ret, unsigned int *ret_line);

/*
 * Formats D into a new NUL-terminated string (the caller frees it) that
 * dropin_parse() reads back the same; notes without ports are left out.
 * Returns 0 or -ENOMEM.
 */
int dropin_format(const struct dropin *d, char **ret, size_t *ret_len);

/*
 * Adds a note for PORTS (nothing when empty) dated DATE with REASON (may
 * be NULL), made one clean line: control characters become spaces,
 * blanks at either end go, and it is cut at DROPIN_REASON_MAX bytes.
 * Returns 0 or -ENOMEM.
 */
int dropin_add_note(struct dropin *d, const struct eph_portset *ports,
		    const char *date, const char *reason);

/* Removes PORTS from every note, dropping notes left without ports. */
void dropin_remove_ports(struct dropin *d, const struct eph_portset *ports);

/* ---- history.c: the record, and TIME_WAITs followed to their end ---- */

enum history_mode {
	HISTORY_RECORD, /* the record: what usage and diagnose need */
	HISTORY_FOLLOW, /* TIME_WAITs only, to report when each ends */
};

enum history_end_why {
	HISTORY_END_EXPIRED, /* its 60 s are over */
	HISTORY_END_REUSED,  /* a new connection took its 4-tuple */
	HISTORY_END_EVICTED, /* dropped for room (the end is not known) */
};

/* A TIME_WAIT that leaves the table. */
struct history_end {
	enum history_end_why why;
	uint64_t boot_ns; /* when it ended */
	uint64_t netns;
	uint8_t family;
	uint16_t local_port, remote_port;
	uint8_t local[16], remote[16];
	int32_t pid;
	char comm[16];
	uint32_t uid;
	uint64_t cgroup_id;
	uint32_t flags; /* the entry's */
	uint64_t opened_boot_ns, tw_boot_ns;
};

/*
 * An empty table in MODE for events of namespace SCOPE_NETNS (0: every
 * one), answering lookups in VIEW_NETNS, holding LIMIT entries at most.
 * Returns 0, -EINVAL or -ENOMEM.
 */
int history_new(struct eph_ctx *ctx, enum history_mode mode,
		uint64_t view_netns, uint64_t scope_netns, uint32_t limit,
		struct eph_record **ret);
void history_free(struct eph_record *r);

/* Calls CB for each TIME_WAIT that leaves the table (FOLLOW mode). */
void history_set_on_end(struct eph_record *r,
			void (*cb)(void *data, const struct history_end *end),
			void *data);

/* Folds event EV into R. Returns 0 or -ENOMEM. */
int history_add(struct eph_record *r, const struct eph_trace_event *ev);

/* Drops the TIME_WAITs whose 60 s are over at NOW_BOOT (CLOCK_BOOTTIME). */
void history_expire(struct eph_record *r, uint64_t now_boot);

/*
 * Connections accepted on ports LO..HI matter to usage (they are inside
 * the ephemeral range); others are kept only while there is room. 0, 0:
 * every port.
 */
void history_set_keep_range(struct eph_record *r, uint16_t lo, uint16_t hi);

/* Events the tracer lost since the record began to be kept. */
void history_set_lost(struct eph_record *r, uint64_t lost);

/*
 * Sets the header's times: recorded without a break since SINCE (wall
 * clock, s) and SINCE_BOOT (CLOCK_BOOTTIME), written at NOW and NOW_BOOT,
 * by this process.
 */
void history_stamp(struct eph_record *r, int64_t since, uint64_t since_boot,
		   int64_t now, uint64_t now_boot);

/*
 * When R next has work to do without an event (CLOCK_BOOTTIME ns): its
 * oldest TIME_WAIT's 60 s end, or a change waits to be written
 * (history_flush() writes at most twice a second). UINT64_MAX: nothing.
 */
uint64_t history_due(const struct eph_record *r);

uint32_t history_count(const struct eph_record *r);
uint64_t history_evicted_info(const struct eph_record *r);

/*
 * The record's bytes as the file holds them (owned by R, valid until it
 * changes). Pure: the header's times are R's own. Returns 0.
 */
int history_format(struct eph_record *r, const void **ret_buf, size_t *ret_len);

/*
 * Parses a record file from BUF[0..LEN): every field checked, the
 * checksum, each entry, no socket twice; BOOT_ID (NULL: not checked) must
 * be the one it was made in. Pure: no I/O. Returns 0 and a new record
 * answering lookups in VIEW_NETNS, -EBADMSG (malformed: the detail says
 * why), -ESTALE (another boot) or -ENOMEM.
 */
int history_parse(struct eph_ctx *ctx, const void *buf, size_t len,
		  const uint8_t boot_id[16], uint64_t view_netns,
		  struct eph_record **ret);

/* Sets the checksum of the record in BUF[0..LEN) (tests and fuzzers). */
void history_seal(void *buf, size_t len);

/* This boot's id (/proc/sys/kernel/random/boot_id) as 16 bytes. */
int history_boot_id(struct eph_ctx *ctx, uint8_t ret[16]);

/*
 * Opens the record at PATH for writing: takes its lock (-EBUSY when
 * another recorder holds it), reads back what a previous recorder left
 * when it can be trusted (else the detail of eph_record_info() says why
 * it was discarded) and writes it at once. Returns 0 or a negative errno.
 */
int history_open_writer(struct eph_ctx *ctx, const char *path, uint32_t limit,
			uint64_t scope_netns, struct eph_record **ret);

/*
 * Writes the record when it changed, at most twice a second (FORCE: now).
 * Returns 0 or a negative errno.
 */
int history_flush(struct eph_record *r, bool force);

/* ---- features.c ---- */

/* Where eph_features_probe() looks; tests point it at fixture trees. */
struct features_where {
	const char *btf;       /* the kernel's BTF */
	const char *tracefs;   /* where tracefs is, or would be, mounted */
	const char *mountinfo; /* this process's mount table */
	bool caps_set;	       /* take CAPS instead of asking the kernel */
	uint64_t caps;	       /* effective capabilities, bit (1 << CAP_*) */
};

/* eph_features_probe() looking where W says. Returns 0 or -ENOMEM. */
int features_probe_where(struct eph_ctx *ctx, const struct features_where *w,
			 struct eph_features **ret);

/* ---- tracer.c ---- */

struct ephtrace_event;

/*
 * Turns what the BPF program sent into an event (wall time from
 * WALL_OFFSET_NS, CLOCK_REALTIME - CLOCK_BOOTTIME). Returns false for a
 * record of an unknown type.
 */
bool tracer_convert(const struct ephtrace_event *raw, int64_t wall_offset_ns,
		    struct eph_trace_event *ret);

/*
 * A tracer with no program behind it, fed by hand with tracer_feed() and
 * tracer_tick() (tests). Returns 0 or a negative errno.
 */
int tracer_new_fed(struct eph_ctx *ctx, const struct eph_tracer_opts *o,
		   struct eph_tracer **ret);

/* Hands event E to T as if the kernel had sent it; CB gets what passes. */
int tracer_feed(struct eph_tracer *t, const struct eph_trace_event *e,
		int (*cb)(const struct eph_trace_event *e, void *data),
		void *data);

/* The TIME_WAIT ends due at NOW_BOOT, and the record's upkeep. */
int tracer_tick(struct eph_tracer *t, uint64_t now_boot,
		int (*cb)(const struct eph_trace_event *e, void *data),
		void *data);

/*
 * When T next has work to do without an event (CLOCK_BOOTTIME ns): a
 * TIME_WAIT's end, the record's next write. UINT64_MAX: nothing.
 */
uint64_t tracer_due(const struct eph_tracer *t);

/* ---- src/bpf/trace.c: the loader (only in a build with the tracer) ---- */

struct trace_config {
	uint32_t netns; /* 0: every namespace */
	uint16_t port;
	int32_t pid;
	bool failures;
	bool closes; /* report closes of bound-first and accepted connections
			(the record needs them) */
};

struct trace_loader;

/*
 * Opens, configures, loads and attaches the BPF program; CB gets each
 * record the ring buffer brings. Returns 0 or a negative errno.
 */
int trace_open(struct eph_ctx *ctx, const struct trace_config *c,
	       int (*cb)(void *data, const struct ephtrace_event *e),
	       void *data, struct trace_loader **ret);
/* Waits up to TIMEOUT_MS and reads what came. Returns a count or -errno. */
int trace_poll(struct trace_loader *l, int timeout_ms);
int trace_fd(const struct trace_loader *l);
/* Asks the program to wake the reader at its next event (once). */
void trace_arm(struct trace_loader *l);
uint64_t trace_lost(const struct trace_loader *l);
void trace_close(struct trace_loader *l);

#endif
