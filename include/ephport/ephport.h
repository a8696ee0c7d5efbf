/* SPDX-License-Identifier: MIT */
/*
 * libephport: what a Linux host does with the port numbers it hands out by
 * itself. The library reads a network namespace's port policy and sockets,
 * and analyses them; it never prints, exits or aborts.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * errno value on failure, leaving a readable detail in the context
 * (eph_ctx_errmsg()). Output parameters (ret_*) are written only on success.
 * Every _free() accepts NULL.
 */
#ifndef EPHPORT_EPHPORT_H
#define EPHPORT_EPHPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EPH_PORT_MAX 65535u
#define EPH_PORT_COUNT 65536u

/* ------------------------------------------------------------------------ */
/* Context: target network namespace, root of /proc/sys, error detail.      */

struct eph_ctx;

/*
 * Returns a new context aimed at the caller's own network namespace and
 * /proc/sys, or NULL when out of memory. It does no I/O.
 */
struct eph_ctx *eph_ctx_new(void);
void eph_ctx_free(struct eph_ctx *ctx);

/*
 * Aims the context at another network namespace: a name under /run/netns, a
 * path to a namespace file (anything containing '/'), or "pid:PID". The
 * namespace is opened and checked at once; it is entered with setns(2) only
 * while a source is read, and the caller's own namespace is restored
 * afterwards. NULL aims it back at the caller's namespace.
 * Returns 0, or -ENOENT, -EACCES, -EINVAL (not a network namespace or a
 * malformed spec), -ENOMEM.
 */
int eph_ctx_set_netns(struct eph_ctx *ctx, const char *spec);

/*
 * The identity (nsfs device and inode) of the context's namespace, or of
 * the caller's own when none was set. Returns 0 or a negative errno.
 */
int eph_ctx_netns_id(const struct eph_ctx *ctx, uint64_t *ret_dev,
		     uint64_t *ret_ino);

/* Returns the namespace spec given to eph_ctx_set_netns(), or NULL. */
const char *eph_ctx_netns(const struct eph_ctx *ctx);

/*
 * Reads sysctls below ROOT instead of /proc/sys (fixture trees in tests, an
 * image's snapshot). Returns 0 or -ENOMEM; NULL restores /proc/sys.
 */
int eph_ctx_set_proc_sys_root(struct eph_ctx *ctx, const char *root);

/* Returns the detail of the last failure; "" when there was none. */
const char *eph_ctx_errmsg(const struct eph_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Numbers: the one audited parser for every number from a user or a file.  */

/*
 * Parses the decimal number in S[0..LEN) (no sign, no spaces, no trailing
 * text) into *RET when MIN <= value <= MAX. WHAT names the value in the
 * error message. Returns 0, -EINVAL (not a number) or -ERANGE.
 */
int eph_num_parse(struct eph_ctx *ctx, const char *s, size_t len, uint64_t min,
		  uint64_t max, const char *what, uint64_t *ret);

/* The same for a NUL-terminated string. */
int eph_num_parse_str(struct eph_ctx *ctx, const char *s, uint64_t min,
		      uint64_t max, const char *what, uint64_t *ret);

/* ------------------------------------------------------------------------ */
/* Port sets: all 65,536 ports, with the kernel's list syntax.              */

struct eph_portset;

/* Returns a new empty set, or NULL when out of memory. */
struct eph_portset *eph_portset_new(void);
void eph_portset_free(struct eph_portset *ps);
void eph_portset_clear(struct eph_portset *ps);
void eph_portset_copy(struct eph_portset *dst, const struct eph_portset *src);

/* Adds or removes LO..HI inclusive; nothing happens when LO > HI. */
void eph_portset_add(struct eph_portset *ps, uint16_t lo, uint16_t hi);
void eph_portset_del(struct eph_portset *ps, uint16_t lo, uint16_t hi);
bool eph_portset_has(const struct eph_portset *ps, uint16_t port);

/* Returns how many ports the set holds, in all or within LO..HI. */
uint32_t eph_portset_count(const struct eph_portset *ps);
uint32_t eph_portset_count_range(const struct eph_portset *ps, uint16_t lo,
				 uint16_t hi);

/* DST := DST | SRC, DST := DST & ~SRC, DST := DST & SRC. */
void eph_portset_union(struct eph_portset *dst, const struct eph_portset *src);
void eph_portset_subtract(struct eph_portset *dst,
			  const struct eph_portset *src);
void eph_portset_intersect(struct eph_portset *dst,
			   const struct eph_portset *src);
bool eph_portset_equal(const struct eph_portset *a,
		       const struct eph_portset *b);

/*
 * Iteration: returns the first port >= FROM in the set, or -1 when none is.
 */
int32_t eph_portset_next(const struct eph_portset *ps, uint32_t from);

/*
 * Parses the kernel's list syntax ("8080,40000-40002") from S[0..LEN) and
 * replaces the set's contents with it. One trailing newline is accepted (as
 * the kernel prints it); an empty string or a lone newline is the empty set.
 * Empty items, inverted ranges, numbers above 65535, spaces and any other
 * text are errors naming the offending item. On failure the set is left as
 * it was. Returns 0, -EINVAL or -ERANGE.
 */
int eph_portset_parse(struct eph_ctx *ctx, struct eph_portset *ps,
		      const char *s, size_t len);

/*
 * Parses a list file: one port, range or port list per line, blank lines
 * and "#" comments ignored, spaces around items allowed. Errors name the
 * line. On failure the set is left as it was. Returns 0, -EINVAL or
 * -ERANGE.
 */
int eph_portset_parse_lines(struct eph_ctx *ctx, struct eph_portset *ps,
			    const char *s, size_t len);

/*
 * Writes the canonical form (ascending, merged, "a-b" for runs) into BUF,
 * NUL-terminated and truncated to SIZE like snprintf(). Returns the length
 * of the full form, excluding the NUL.
 */
size_t eph_portset_format(const struct eph_portset *ps, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Host policy: the sysctls that decide which ports the kernel hands out.   */

enum eph_knob {
	EPH_KNOB_UNPRIVILEGED_PORT_START, /* net.ipv4.ip_unprivileged_port_start
					   */
	EPH_KNOB_TCP_TW_REUSE,		  /* net.ipv4.tcp_tw_reuse */
	EPH_KNOB_TCP_TW_REUSE_DELAY, /* net.ipv4.tcp_tw_reuse_delay, 6.14+ */
	EPH_KNOB_TCP_TIMESTAMPS,     /* net.ipv4.tcp_timestamps */
	EPH_KNOB_TCP_MAX_TW_BUCKETS, /* net.ipv4.tcp_max_tw_buckets */
	EPH_KNOB_TCP_FIN_TIMEOUT,    /* net.ipv4.tcp_fin_timeout */
	EPH_KNOB__COUNT
};

/* Returns the sysctl name of KNOB ("net.ipv4.tcp_tw_reuse"), or NULL. */
const char *eph_knob_name(enum eph_knob knob);

enum eph_severity {
	EPH_SEV_INFO,
	EPH_SEV_WARNING,
};

/* A finding about the policy; CODE is stable and meant for scripts. */
struct eph_warning {
	const char *code;
	enum eph_severity severity;
	char message[320];
};

#define EPH_WARN_RANGE_SAME_PARITY "range-same-parity"
#define EPH_WARN_RESERVED_LARGE_SHARE "reserved-large-share"
#define EPH_WARN_RESERVED_OUTSIDE_RANGE "reserved-outside-range"
#define EPH_WARN_RANGE_OUTSIDE_IANA "range-outside-iana"
#define EPH_WARN_RANGE_SMALL "range-small"
#define EPH_WARN_TW_REUSE_OFF "tw-reuse-off"
#define EPH_WARN_TIMESTAMPS_OFF "timestamps-off"

/* Thresholds behind the warnings, so that front ends can explain them. */
#define EPH_SMALL_RANGE_PORTS 16384u /* the size of IANA's dynamic range */
#define EPH_RESERVED_LARGE_SHARE_PCT 25u

struct eph_policy;

/* Returns a new policy holding Linux's defaults, or NULL (out of memory). */
struct eph_policy *eph_policy_new(void);
void eph_policy_free(struct eph_policy *p);

/*
 * Reads the context's namespace's policy into P, replacing what P held, and
 * evaluates the warnings. Knobs that this kernel lacks (tcp_tw_reuse_delay
 * before 6.14) are marked absent; any other missing or malformed sysctl is
 * an error naming the file. On failure P is left as it was.
 * Returns 0, or a negative errno.
 */
int eph_policy_read(struct eph_ctx *ctx, struct eph_policy *p);

/*
 * Parses the two numbers of ip_local_port_range ("32768\t60999\n") from
 * S[0..LEN). Returns 0, -EINVAL or -ERANGE (bounds above 65535, or LOW >
 * HIGH).
 */
int eph_range_parse(struct eph_ctx *ctx, const char *s, size_t len,
		    uint16_t *ret_low, uint16_t *ret_high);

void eph_policy_range(const struct eph_policy *p, uint16_t *ret_low,
		      uint16_t *ret_high);
/* The number of ports in the range. */
uint32_t eph_policy_range_size(const struct eph_policy *p);
const struct eph_portset *eph_policy_reserved(const struct eph_policy *p);
/* Reserved ports inside the range. */
uint32_t eph_policy_reserved_in_range(const struct eph_policy *p);
/* Ports of the range that autobind may hand out: range minus reserved. */
uint32_t eph_policy_available(const struct eph_policy *p);

/*
 * Returns KNOB's value in *RET. Returns 0, -ENOENT when this kernel lacks
 * the knob, -EINVAL for an unknown knob.
 */
int eph_policy_knob(const struct eph_policy *p, enum eph_knob knob,
		    int64_t *ret);

/*
 * Setters, for planning ("what if the range were ...") and tests. They do
 * not touch the kernel. Each re-evaluates the warnings. set_range returns
 * -EINVAL when LOW > HIGH.
 */
int eph_policy_set_range(struct eph_policy *p, uint16_t low, uint16_t high);
void eph_policy_set_reserved(struct eph_policy *p,
			     const struct eph_portset *reserved);
int eph_policy_set_knob(struct eph_policy *p, enum eph_knob knob,
			int64_t value);

/* The warnings found by the last read or set, most severe first. */
size_t eph_policy_warning_count(const struct eph_policy *p);
const struct eph_warning *eph_policy_warning(const struct eph_policy *p,
					     size_t i);

/* ------------------------------------------------------------------------ */
/* Other systems' default ephemeral ranges.                                 */

struct eph_os {
	const char *name;  /* stable short name, for --os lists */
	const char *label; /* human name */
	uint16_t low, high;
	bool legacy;	   /* an old default, shown by --os all */
	const char *where; /* where that system keeps its range */
	const char *note;  /* NULL or a remark */
};

/* Returns the number of rows in the table. */
size_t eph_os_count(void);
/* Returns row I, or NULL past the end. */
const struct eph_os *eph_os_get(size_t i);
/* Returns the row named NAME (case-insensitive), or NULL. */
const struct eph_os *eph_os_find(const char *name);

/* Returns true when LO1..HI1 and LO2..HI2 share a port. */
bool eph_ranges_overlap(uint16_t lo1, uint16_t hi1, uint16_t lo2, uint16_t hi2);

/* Returns how many ports LO1..HI1 and LO2..HI2 share. */
uint32_t eph_ranges_shared(uint16_t lo1, uint16_t hi1, uint16_t lo2,
			   uint16_t hi2);

/* ------------------------------------------------------------------------ */
/* Sockets: a streaming scanner over NETLINK_SOCK_DIAG.                     */

/*
 * One socket, as compact as the analyses need. Addresses are 16 bytes in
 * network order; IPv4 addresses (and the IPv4 side of v4-mapped IPv6
 * sockets) are stored v4-mapped (::ffff:a.b.c.d), so that an IPv4 socket
 * and a v4-mapped IPv6 socket toward the same peer compare equal, as they
 * do in the kernel's tables.
 */
struct eph_sock {
	uint8_t family; /* AF_INET or AF_INET6, as the kernel reports it */
	uint8_t proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t state;	/* the kernel's TCP state numbers (UDP too) */
	uint8_t timer;	/* idiag_timer: 3 for TIME_WAIT */
	uint16_t local_port, remote_port;
	uint8_t local[16], remote[16];
	uint32_t ifindex;
	uint32_t inode; /* 0 for TIME_WAIT and request sockets */
	uint32_t uid;
	uint32_t expires_ms; /* time left on the socket's timer */
	uint32_t flags;	     /* EPH_SOCK_* */
	uint64_t cookie;     /* stable for the socket's life, TIME_WAIT too */
	uint64_t cgroup_id;  /* inode of its cgroup v2 directory, or 0 */
};

/* The socket set IP_BIND_ADDRESS_NO_PORT: its port is chosen at connect. */
#define EPH_SOCK_BIND_NO_PORT (1u << 0)
/* An IPv6 socket with IPV6_V6ONLY. */
#define EPH_SOCK_V6ONLY (1u << 1)
/* Found by a scan with explicit_only: bound to a port it named. */
#define EPH_SOCK_PORT_LOCKED (1u << 2)

/* Kernel TCP states, as sock_diag reports them. */
enum {
	EPH_TCP_ESTABLISHED = 1,
	EPH_TCP_SYN_SENT,
	EPH_TCP_SYN_RECV,
	EPH_TCP_FIN_WAIT1,
	EPH_TCP_FIN_WAIT2,
	EPH_TCP_TIME_WAIT,
	EPH_TCP_CLOSE,
	EPH_TCP_CLOSE_WAIT,
	EPH_TCP_LAST_ACK,
	EPH_TCP_LISTEN,
	EPH_TCP_CLOSING,
	EPH_TCP_NEW_SYN_RECV,
	EPH_TCP_BOUND_INACTIVE,
	EPH_TCP_MAX_STATES
};

/* Returns the name ss(8) uses for STATE ("ESTAB", "TIME-WAIT", ...). */
const char *eph_tcp_state_name(uint8_t state);

#define EPH_SCAN_TCP (1u << 0)
#define EPH_SCAN_UDP (1u << 1)
#define EPH_SCAN_MAX_PORTS 32
#define EPH_SCAN_IPV4 (1u << 0)
#define EPH_SCAN_IPV6 (1u << 1)

/*
 * What to ask the kernel for. Filters run in the kernel, so what they
 * reject is never copied to user space. Zeroed fields mean "all".
 */
struct eph_scan_filter {
	uint32_t protos;   /* EPH_SCAN_TCP | EPH_SCAN_UDP; 0: both */
	uint32_t families; /* EPH_SCAN_IPV4 | EPH_SCAN_IPV6; 0: both */
	uint32_t states;   /* bit (1 << state); 0: every state */
	bool port_range;   /* only local ports port_lo..port_hi */
	uint16_t port_lo, port_hi;
	bool explicit_only; /* only sockets bound to a port they named */
	bool auto_only;	    /* only the others (the kernel's AUTO test) */
	/* Local ports left out, whatever else matches. */
	uint16_t skip_ports[EPH_SCAN_MAX_PORTS];
	uint32_t nskip_ports;
	/* With explicit_only: local ports taken as well, explicit or not;
	 * their records are not marked EPH_SOCK_PORT_LOCKED. */
	uint16_t also_ports[EPH_SCAN_MAX_PORTS];
	uint32_t nalso_ports;
};

struct eph_scan;

/*
 * Opens a sock_diag socket in the context's network namespace; it stays
 * there, so the scan can be repeated cheaply. The context must outlive
 * the scan. Returns NULL and leaves a detail in CTX on failure.
 */
struct eph_scan *eph_scan_new(struct eph_ctx *ctx);
void eph_scan_free(struct eph_scan *scan);

/*
 * The callbacks of a scan. begin() is called before the first record and
 * again when an interrupted dump (NLM_F_DUMP_INTR) is redone, so that the
 * caller can drop what it gathered. sock() gets each record; the record is
 * valid only during the call. A negative return from either stops the scan
 * and is returned.
 */
struct eph_scan_ops {
	int (*begin)(void *data);
	int (*sock)(const struct eph_sock *sock, void *data);
};

/*
 * Dumps the sockets FILTER selects, calling OPS for each. An interrupted
 * dump is redone up to 3 times. Returns the number of records delivered,
 * or a negative errno: -EPROTO for a malformed or truncated reply, -EAGAIN
 * when the dump stayed interrupted.
 */
int eph_scan_run(struct eph_scan *scan, const struct eph_scan_filter *filter,
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
int eph_sockdiag_parse(struct eph_ctx *ctx, const void *buf, size_t len,
		       uint8_t proto, uint32_t seq, uint32_t portid,
		       const struct eph_scan_ops *ops, void *data,
		       bool *ret_intr);

/*
 * Formats ADDR (16 bytes as in struct eph_sock) the usual way: IPv4
 * dotted for v4-mapped addresses, IPv6 compressed otherwise. BUF needs
 * 46 bytes. Returns BUF.
 */
const char *eph_addr_format(const uint8_t addr[16], char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Usage: ephemeral ports used and left, per destination.                   */

/*
 * One destination: what connect() without a prior bind draws its source
 * port from. The kernel's budget is per (local address, remote address,
 * remote port): a port is free toward it unless it is reserved, held by
 * an explicit binder (which blocks it for every destination), or already
 * used by a socket with this same 4-tuple (a TIME_WAIT only while
 * connect() may not reuse it).
 */
struct eph_usage_tuple {
	uint8_t proto;	/* IPPROTO_TCP */
	uint8_t family; /* AF_INET (v4-mapped addresses) or AF_INET6 */
	uint16_t remote_port;
	uint8_t local[16], remote[16]; /* as in struct eph_sock */
	uint32_t established;	       /* sockets in each state that hold */
	uint32_t time_wait;	       /* a port of this budget */
	uint32_t other;		       /* SYN_SENT, FIN_WAIT*, CLOSE_WAIT... */
	uint32_t tw_reusable;	       /* TIME_WAIT connect() may take now */
	uint32_t used;		       /* established + time_wait + other */
	uint32_t capacity;	       /* ports this destination may get */
	uint32_t free;		       /* ports connect() would find now */
	uint32_t unreachable; /* free ports connect() never tries: 1 when
				 the range's bounds share a parity and its
				 low port is free here, else 0 */
};

/* Returns the share of T's capacity that is gone, 0 to 100. */
double eph_usage_tuple_percent(const struct eph_usage_tuple *t);

/* A port of the range blocked for every destination, and who holds it. */
struct eph_usage_blocker {
	uint16_t port;
	uint8_t state;	/* state of the first socket seen on it */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t local[16];
	uint32_t sockets; /* sockets seen on the port */
	uint32_t inode;	  /* of the first socket seen, 0 if unknown */
	uint32_t uid;
	uint64_t cookie;
};

/* The namespace as a whole. */
struct eph_usage_summary {
	uint16_t range_low, range_high;
	uint32_t range_size;
	uint32_t reserved; /* reserved ports inside the range */
	uint32_t blocked;  /* ports of the range, not reserved, blocked for
			      every destination by explicit binders */
	bool same_parity;  /* range bounds of one parity: connect() never
			      tries the low port (with a chance of 2 in
			      size - 1, the high one instead) */
	uint32_t capacity; /* per TCP destination: range - reserved -
			      blocked, less the port never tried */
	uint32_t tuples;
	uint32_t tcp_sockets; /* TCP sockets with a port in the range */
	uint32_t tcp_by_state[EPH_TCP_MAX_STATES];
	uint32_t tcp_on_blocked;  /* of them, on blocked ports */
	uint32_t tcp_on_reserved; /* of them, on reserved ports */
	uint32_t tcp_ports;	  /* distinct ports they hold */
	uint32_t udp_sockets;	  /* UDP sockets with a port in the range */
	uint32_t udp_used;	  /* distinct ports of them, not reserved */
	uint32_t udp_capacity;	  /* range minus reserved */
	uint32_t udp_free;
	uint32_t refeeds; /* second passes (see eph_usage_end) */
};

struct eph_usage;

/*
 * A usage accumulator for the context's namespace. It keeps its buffers
 * between scans, so a daemon can repeat eph_usage_scan() without
 * allocating once the table has grown to the number of destinations.
 * Returns NULL (out of memory).
 */
struct eph_usage *eph_usage_new(struct eph_ctx *ctx);
void eph_usage_free(struct eph_usage *u);

/*
 * Scans the namespace's TCP and UDP sockets with ports in P's range and
 * computes every destination's budget under P's rules. Two TCP dumps,
 * each filtered in the kernel to the range: the sockets bound to a port
 * they named (in a second thread, with a netlink socket of its own), and
 * beside it the rest; then one UDP dump. Returns the number of
 * destinations, or a negative errno (see eph_scan_run).
 */
int eph_usage_scan(struct eph_usage *u, const struct eph_policy *p);

/*
 * The same computation fed by hand (tests, a tracer replaying history):
 * begin with a policy, add sockets, end. Sockets flagged
 * EPH_SOCK_PORT_LOCKED, in state LISTEN or bound but idle block their port
 * for every destination. P must stay valid until eph_usage_end().
 * eph_usage_end() returns 0, or 1 when a socket already counted toward a
 * destination turned out to sit on a port found blocked later: feed
 * everything again after eph_usage_begin(u, p, true), which keeps the
 * blocked ports. begin returns 0 or -ENOMEM.
 */
int eph_usage_begin(struct eph_usage *u, const struct eph_policy *p,
		    bool keep_blocked);
int eph_usage_add(struct eph_usage *u, const struct eph_sock *s);
int eph_usage_end(struct eph_usage *u);

const struct eph_usage_summary *eph_usage_summary(const struct eph_usage *u);

/* Destinations, fullest first. Returns NULL past the end. */
size_t eph_usage_count(const struct eph_usage *u);
const struct eph_usage_tuple *eph_usage_get(const struct eph_usage *u,
					    size_t i);

/* Blocked ports, by port. Returns NULL past the end. */
size_t eph_usage_blocker_count(const struct eph_usage *u);
const struct eph_usage_blocker *eph_usage_blocker(const struct eph_usage *u,
						  size_t i);
/* The blocked ports as a set. */
const struct eph_portset *eph_usage_blocked(const struct eph_usage *u);

/* ------------------------------------------------------------------------ */
/* Bind probes: can this port be bound right now?                           */

struct eph_bind_probe {
	uint8_t proto;	  /* IPPROTO_TCP or IPPROTO_UDP */
	int family;	  /* AF_INET or AF_INET6 */
	bool addr_set;	  /* else the family's wildcard */
	uint8_t addr[16]; /* as in struct eph_sock (IPv4 v4-mapped) */
	uint16_t port;
	bool reuseaddr; /* set SO_REUSEADDR first */
	bool v6only;	/* IPv6: set IPV6_V6ONLY (else dual stack) */
};

/*
 * Makes a socket in the context's namespace, binds it as PROBE says and
 * closes it at once, never listening or connecting, so nothing is left
 * behind. Returns 0 with the bind's errno in *RET_ERRNO (0: it bound), or
 * a negative errno when no socket could be made (-EAFNOSUPPORT: the family
 * is off in that namespace).
 */
int eph_bind_probe(struct eph_ctx *ctx, const struct eph_bind_probe *probe,
		   int *ret_errno);

/* ------------------------------------------------------------------------ */
/* Holders: every socket on one port.                                      */

struct eph_holders;

/* Returns a holder lookup for CTX's namespace, or NULL (out of memory). */
struct eph_holders *eph_holders_new(struct eph_ctx *ctx);
void eph_holders_free(struct eph_holders *h);

/*
 * Finds every socket of PROTOS (EPH_SCAN_TCP | EPH_SCAN_UDP; 0: both)
 * whose local port is PORT, listeners first. Those that named their port
 * (explicit binders) are flagged EPH_SOCK_PORT_LOCKED; the others were
 * given it by the kernel. Returns the number found, or a negative errno.
 */
int eph_holders_scan(struct eph_holders *h, uint32_t protos, uint16_t port);
size_t eph_holders_count(const struct eph_holders *h);
/* Returns holder I of the last scan, or NULL past the end. */
const struct eph_sock *eph_holders_get(const struct eph_holders *h, size_t i);

/* ------------------------------------------------------------------------ */
/* sysctl.d: what a reboot applies, and ephport's drop-in.                 */

/* One meaningful line of a sysctl.d file. */
struct eph_sysctld_line {
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
int eph_sysctld_parse(const char *buf, size_t len,
		      int (*cb)(const struct eph_sysctld_line *l, void *data),
		      void *data);

/*
 * Does KEY[0..LEN) name sysctl NAME ("net.ipv4.ip_local_port_range")?
 * Both spellings count: "net/ipv4/..." and "net.ipv4....".
 */
bool eph_sysctld_key_is(const char *key, size_t len, const char *name);

#define EPH_SYSCTLD_VALUE_MAX 8192

/* An assignment to one of the keys asked for, or a bad line. */
struct eph_sysctld_setting {
	const char *key; /* one of the keys given to eph_sysctld_read() */
	char file[512];	 /* the path under the root */
	unsigned int line;
	int order; /* the file's place in the order of application */
	char value[EPH_SYSCTLD_VALUE_MAX]; /* for a bad line: why */
	bool too_long; /* the value did not fit (and is not checked) */
};

struct eph_sysctld;

/*
 * Reads every sysctl.d file under ROOT ("/" or a test tree) in the order
 * systemd-sysctl applies them, then /etc/sysctl.conf as `sysctl --system`
 * does, keeping the assignments to the NKEYS KEYS (which must outlive the
 * result) and the bad lines. Returns NULL with a detail in CTX on failure.
 */
struct eph_sysctld *eph_sysctld_read(struct eph_ctx *ctx, const char *root,
				     const char *const *keys, size_t nkeys);
void eph_sysctld_free(struct eph_sysctld *s);
/* The assignments, in the order they are applied. */
size_t eph_sysctld_count(const struct eph_sysctld *s);
const struct eph_sysctld_setting *eph_sysctld_get(const struct eph_sysctld *s,
						  size_t i);
/* Lines of any file that are not assignments (systemd skips them). */
size_t eph_sysctld_bad_count(const struct eph_sysctld *s);
const struct eph_sysctld_setting *eph_sysctld_bad(const struct eph_sysctld *s,
						  size_t i);
/*
 * The assignment to KEY a boot applies, or NULL: under systemd-sysctl
 * (SYSCTL_SYSTEM false) or `sysctl --system` (true), which reads
 * /etc/sysctl.conf last.
 */
const struct eph_sysctld_setting *
eph_sysctld_winner(const struct eph_sysctld *s, const char *key,
		   bool sysctl_system);

/*
 * Reads the file PATH (relative to DIRFD, or AT_FDCWD) whole into a new
 * NUL-terminated buffer, opened with O_RDONLY | O_CLOEXEC | OFLAGS. A file
 * over MAX bytes is an error (-EFBIG). Returns 0, or a negative errno
 * (-ENOENT when it does not exist) with a detail naming the file.
 */
int eph_file_read(struct eph_ctx *ctx, int dirfd, const char *path, int oflags,
		  size_t max, char **ret_buf, size_t *ret_len);

/*
 * Locks directory DIR (creating it when CREATE) against other ephport
 * writers; the lock lasts until the returned descriptor is closed.
 * Returns the descriptor, or a negative errno.
 */
int eph_dir_lock(struct eph_ctx *ctx, const char *dir, bool create);
/* The same for ROOT/etc/sysctl.d. */
int eph_dropin_lock(struct eph_ctx *ctx, const char *root, bool create);

/*
 * Replaces NAME in the locked directory DIRFD with CONTENT: written to a
 * temporary file beside it, fsync'd, renamed over NAME, and the directory
 * fsync'd (once renamed, the new file stands even if that last sync
 * fails). On failure NAME is as it was. Returns 0 or a negative errno.
 */
int eph_file_replace(struct eph_ctx *ctx, int dirfd, const char *name,
		     const char *content, size_t len);

/*
 * Writes VALUE to the sysctl NAME of the context's namespace (one write).
 * Returns 0, or a negative errno with a detail (-EPERM: no CAP_NET_ADMIN
 * there; -EINVAL: the kernel refused the value).
 */
int eph_sysctl_write(struct eph_ctx *ctx, const char *name, const char *value);

/* ------------------------------------------------------------------------ */
/* Port registries: services files, browsers' bad ports, picked ports.     */

/* One line of a services file (/etc/services, Wireshark's, nmap's). */
struct eph_service_line {
	unsigned int line;
	const char *name; /* NULL for a bad line */
	size_t name_len;
	uint16_t port_lo, port_hi; /* "6000-6063/tcp" is a range */
	uint32_t protos;	   /* EPH_SCAN_TCP | EPH_SCAN_UDP */
	bool has_frequency;	   /* nmap-services' third field */
	double frequency;
	const char *error; /* why a line is bad */
};

/*
 * Parses a services file from BUF[0..LEN): "name port[-port]/proto[/proto]
 * [aliases or frequency] [# comment]". Comments and blank lines are
 * skipped; every other line goes to CB, bad ones with name NULL and an
 * error. Pure. Returns 0, or the first negative value CB returned.
 */
int eph_services_parse(const char *buf, size_t len,
		       int (*cb)(const struct eph_service_line *l, void *data),
		       void *data);

struct eph_services;

/* Loads a services file. Returns NULL with a detail in CTX on failure. */
struct eph_services *eph_services_read(struct eph_ctx *ctx, const char *path);
void eph_services_free(struct eph_services *db);
/* Is PORT registered for one of PROTOS (EPH_SCAN_TCP | EPH_SCAN_UDP)? */
bool eph_services_registered(const struct eph_services *db, uint16_t port,
			     uint32_t protos);
/* The first name registered for PORT, or NULL. */
const char *eph_services_name(const struct eph_services *db, uint16_t port);
/*
 * Puts into RET the TOP ports with the highest frequency (nmap-services).
 * Returns how many, or -ENOMEM.
 */
int eph_services_common(const struct eph_services *db, size_t top,
			struct eph_portset *ret);
/* Lines the file had that were not entries. */
unsigned int eph_services_bad_lines(const struct eph_services *db);

/*
 * Is PORT one of the Fetch standard's bad ports, which Chromium and
 * Firefox refuse to connect to?
 */
bool eph_port_browser_blocked(uint16_t port);

#define EPH_REGISTRY_NAME_MAX 64

/* One line of ephport's registry of picked ports: "NAME PORT DATE". */
struct eph_registry_entry {
	char name[EPH_REGISTRY_NAME_MAX + 1];
	uint16_t port;
	char date[11];
	unsigned int line;
};

/* Is NAME[0..LEN) a valid service name (letters, digits, - _ . @ :)? */
bool eph_registry_name_valid(const char *name, size_t len);

/*
 * Parses the registry strictly: '#' comments and blank lines, else NAME
 * PORT DATE. Any other line is an error naming it (-EINVAL), so that a
 * corrupt registry is reported, never rewritten. Pure. Returns 0, -EINVAL
 * or the first negative value CB returned.
 */
int eph_registry_parse(struct eph_ctx *ctx, const char *buf, size_t len,
		       int (*cb)(const struct eph_registry_entry *e,
				 void *data),
		       void *data);

/* ------------------------------------------------------------------------ */
/* Network namespaces.                                                      */

struct eph_netns {
	char spec[256];	   /* for eph_ctx_set_netns(): a name or "pid:PID" */
	char label[256];   /* the name; "host" for pid 1's; else "pid:PID" */
	bool named;	   /* has a name under /run/netns */
	bool current;	   /* the caller's own namespace */
	int32_t pid;	   /* the lowest pid in it, or -1 */
	char comm[16];	   /* that process's name, or "" */
	uint64_t dev, ino; /* identity of the namespace */
};

/*
 * Lists every named network namespace and every distinct namespace of a
 * running process, each once, named ones first. The caller frees *RET.
 * Returns 0, or a negative errno.
 */
int eph_netns_list(struct eph_ctx *ctx, struct eph_netns **ret, size_t *ret_n);

/* ------------------------------------------------------------------------ */
/* Owners: which process holds a socket.                                   */

struct eph_owner {
	uint32_t inode;
	int32_t pid;   /* a process holding it (the first found; a socket
			  shared after fork() has several); -1: none */
	char comm[16]; /* its name, printable */
};

struct eph_owners;

/* Returns an empty lookup, or NULL (out of memory). */
struct eph_owners *eph_owners_new(void);
void eph_owners_free(struct eph_owners *o);
/* Forgets the inodes wanted, keeping the memory. */
void eph_owners_clear(struct eph_owners *o);
/* Adds a socket inode to look for (0 is ignored). Returns 0 or -ENOMEM. */
int eph_owners_want(struct eph_owners *o, uint32_t inode);
/*
 * Walks /proc/PID/fd once for every inode wanted, stopping when all are
 * found, cheapest processes first: those in CTX's network namespace (where
 * a socket's owner usually is) before the others, and among them those
 * with the fewest descriptors. Processes that vanish or cannot be read are
 * skipped. Returns the number of inodes found, or a negative errno when
 * /proc cannot be read.
 */
int eph_owners_resolve(struct eph_ctx *ctx, struct eph_owners *o);
/* Returns INODE's owner after a resolve, or NULL when none was found. */
const struct eph_owner *eph_owners_find(const struct eph_owners *o,
					uint32_t inode);

#ifdef __cplusplus
}
#endif

#endif
