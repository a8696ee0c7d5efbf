/* SPDX-License-Identifier: MIT */
/*
 * Trace: every port a socket is given or binds, every failure of bind()
 * and connect() to get one, and the connections that close into TIME_WAIT,
 * with the process behind each, as they happen. An eBPF program on the
 * kernel's tracepoints (syscalls:sys_exit_{bind,connect} and
 * sock:inet_sock_set_state) sees them; the library turns what it sends
 * into events, filters and sums them, and can keep the record of the
 * sockets that matter (history.h).
 */
#ifndef EPHPORT_TRACE_H
#define EPHPORT_TRACE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum eph_trace_kind {
	EPH_TRACE_CONNECT,	  /* connect() went ahead with a source port:
				     chosen by the kernel, or the one the
				     socket had (EPH_TRACE_BOUND_FIRST) */
	EPH_TRACE_BIND,		  /* bind() succeeded (EPH_TRACE_ANY_PORT:
				     bind(0), the kernel chose LOCAL_PORT) */
	EPH_TRACE_LISTEN,	  /* a socket started listening */
	EPH_TRACE_ACCEPT,	  /* a connection a listener accepted is up;
				     the process is the listener's */
	EPH_TRACE_CONNECT_FAILED, /* connect() failed for want of a port
				     (EADDRNOTAVAIL, or EAGAIN for UDP);
				     REMOTE is the address asked for */
	EPH_TRACE_BIND_FAILED,	  /* bind() failed (EADDRINUSE, EACCES...);
				     LOCAL is the address asked for */
	EPH_TRACE_TIME_WAIT,	  /* a connection closed into TIME_WAIT; the
				     process is the one that made it */
	EPH_TRACE_TIME_WAIT_END,  /* its TIME_WAIT ended: 60 s passed, or a
				     new connection took over its 4-tuple
				     (EPH_TRACE_REUSED). The kernel does not
				     say so: the library works it out */
	EPH_TRACE_CLOSE,	  /* a bound-first or accepted connection
				     closed without TIME_WAIT (reported
				     while the record is kept) */
	EPH_TRACE__COUNT
};

/*
 * The stable code of KIND for scripts: "connect", "bind", "listen",
 * "accept", "connect-failed", "bind-failed", "time-wait",
 * "time-wait-end", "close"; "?" for anything else.
 */
const char *eph_trace_kind_code(enum eph_trace_kind kind);

/* Is KIND a failure (connect-failed, bind-failed)? */
bool eph_trace_kind_is_failure(enum eph_trace_kind kind);

/* What an event's FLAGS say. */
#define EPH_TRACE_BOUND_FIRST                                                  \
	(1u << 0)		     /* the socket had its port before         \
					connect(): it blocks the port for      \
					every destination */
#define EPH_TRACE_ACCEPTED (1u << 1) /* a listener accepted it */
#define EPH_TRACE_TIMESTAMPS                                                   \
	(1u << 2) /* the connection used TCP                                   \
		     timestamps: its TIME_WAIT may be                          \
		     reused (tcp_tw_reuse) */
#define EPH_TRACE_OWNER                                                        \
	(1u << 3)		     /* PID, COMM, UID and CGROUP_ID name      \
					the process; else PID is -1 */
#define EPH_TRACE_ANY_PORT (1u << 4) /* bind() asked for port 0 */
#define EPH_TRACE_NO_PORT                                                      \
	(1u << 5)		   /* bound without a port, which              \
				      connect() will choose                    \
				      (IP_BIND_ADDRESS_NO_PORT) */
#define EPH_TRACE_REUSED (1u << 6) /* TIME_WAIT_END: taken over */

/*
 * One event. Addresses are 16 bytes, IPv4 ones v4-mapped, as in struct
 * eph_sock; ports in host order.
 */
struct eph_trace_event {
	enum eph_trace_kind kind;
	uint64_t boot_ns; /* when, CLOCK_BOOTTIME */
	int64_t wall_ns;  /* when, CLOCK_REALTIME */
	uint64_t netns;	  /* the inode of the socket's network namespace */
	uint8_t proto;	  /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;	  /* AF_INET or AF_INET6: the socket's */
	uint16_t local_port, remote_port;
	uint8_t local[16], remote[16];
	int32_t pid; /* the process (thread group id), -1 when unknown */
	char comm[16];
	uint32_t uid;
	uint64_t cgroup_id;	 /* the inode of its cgroup v2 directory */
	int err;		 /* failures: the errno, positive */
	uint32_t flags;		 /* EPH_TRACE_* */
	uint64_t opened_boot_ns; /* TIME_WAIT, TIME_WAIT_END, CLOSE: when
				    the connection was made (0: unknown) */
	uint64_t tw_boot_ns;	 /* TIME_WAIT_END: when the TIME_WAIT began */
};

/* Which events to show. Zeroed: all. */
struct eph_trace_filter {
	uint16_t port; /* 0: every port; else the local, the remote or
			  the asked-for port must be PORT */
	int32_t pid;   /* 0: every process */
	bool failures; /* failures only */
};

/* Does E pass F? */
bool eph_trace_filter_match(const struct eph_trace_filter *f,
			    const struct eph_trace_event *e);

/* ---- The summary: failures per errno and command, allocations per
 * destination ---- */

enum eph_trace_table {
	EPH_TRACE_BY_ERRNO,	  /* failures per errno */
	EPH_TRACE_BY_COMMAND,	  /* failures per errno and command */
	EPH_TRACE_BY_DESTINATION, /* connect()s per destination (protocol,
				     remote address and port) */
	EPH_TRACE_TABLE__COUNT
};

/* One row of a table; the fields the table is not keyed on are zero. */
struct eph_trace_row {
	int err;
	char comm[16];
	uint8_t proto;
	uint8_t remote[16];
	uint16_t remote_port;
	uint64_t count;
};

/* Rows a table keeps at most; the rest are summed in its "other" count. */
#define EPH_TRACE_SUMMARY_ROWS 1024u

struct eph_trace_summary;

/* Makes an empty summary. Returns 0 or -ENOMEM. */
int eph_trace_summary_new(struct eph_trace_summary **ret);
void eph_trace_summary_free(struct eph_trace_summary *s);

/* Counts E. Returns 0 or -ENOMEM. */
int eph_trace_summary_add(struct eph_trace_summary *s,
			  const struct eph_trace_event *e);

/* Events of KIND counted. */
uint64_t eph_trace_summary_kind(const struct eph_trace_summary *s,
				enum eph_trace_kind kind);

/*
 * The rows of table T, the most counted first (ties: by errno, command,
 * address and port). Pointers stay valid until the next add or the free.
 * Returns NULL past the end.
 */
size_t eph_trace_summary_count(struct eph_trace_summary *s,
			       enum eph_trace_table t);
const struct eph_trace_row *eph_trace_summary_row(struct eph_trace_summary *s,
						  enum eph_trace_table t,
						  size_t i);
/* What table T counted beyond its EPH_TRACE_SUMMARY_ROWS rows. */
uint64_t eph_trace_summary_other(const struct eph_trace_summary *s,
				 enum eph_trace_table t);

/* ---- Failure counters, for an exporter ---- */

/*
 * One counter: failures of bind() or connect() with one errno in one
 * namespace, of one command, or of the others of its group.
 */
struct eph_trace_counter {
	uint64_t netns;		  /* the inode of the namespace */
	enum eph_trace_kind kind; /* EPH_TRACE_BIND_FAILED or
				     EPH_TRACE_CONNECT_FAILED */
	int err;		  /* the errno, positive */
	bool other;		  /* the commands without a counter of their
				     own */
	char comm[16];		  /* the command; "" for the others */
	uint64_t count;
};

/* Commands followed at most, every namespace, call and errno together
 * (and as many groups of them). */
#define EPH_TRACE_COUNTERS_COMMANDS 4096u

struct eph_trace_counters;

/*
 * Makes empty counters of failures per (namespace, call, errno), a group,
 * and command within it, for an exporter: monotonic, as counters must be,
 * and bounded. The TOP commands of a group by failures get a counter of
 * their own, made when they enter the top and kept for good (a counter
 * that vanished, or an "other" that gave back what a command took away,
 * would not be a counter); so a group has at most 2 x TOP of them, and the
 * rest of its failures sum into its "other" counter. A counter holds the
 * failures that came after it was made, "other" those of the commands
 * that had none yet: the first TOP commands of a group get theirs at
 * their first failure, so theirs hold every one. Past
 * EPH_TRACE_COUNTERS_COMMANDS commands followed, new ones count in
 * "other". Returns 0, -EINVAL (TOP 0 or past that bound) or -ENOMEM.
 */
int eph_trace_counters_new(uint32_t top, struct eph_trace_counters **ret);
void eph_trace_counters_free(struct eph_trace_counters *c);

/*
 * Counts E when it is a failure (connect-failed, bind-failed). Returns 1
 * (counted), 0 (not a failure), -ENOSPC (a group past the bound: not
 * counted) or -ENOMEM.
 */
int eph_trace_counters_add(struct eph_trace_counters *c,
			   const struct eph_trace_event *e);

/*
 * The counters, by namespace, call, errno, then command, the others last.
 * Pointers stay valid until the next add or the free; NULL past the end.
 */
size_t eph_trace_counters_count(struct eph_trace_counters *c);
const struct eph_trace_counter *
eph_trace_counters_get(struct eph_trace_counters *c, size_t i);

/* ---- The tracer ---- */

struct eph_tracer_opts {
	struct eph_trace_filter filter; /* the events handed to the caller */
	bool all_netns; /* every namespace; else only the context's (the
			   others are filtered out in the kernel) */
	bool record;	/* keep the record (history.h) */
	const char *record_path; /* NULL: eph_ctx_record_path() */
	uint32_t record_entries; /* its bound; 0: EPH_RECORD_ENTRIES */
};

struct eph_tracer;

/*
 * Loads the tracer into the kernel and starts it, for CTX's namespace (or
 * every one). Mounts tracefs at /sys/kernel/tracing when it is not there
 * (eph_tracer_mounted() says so). With O->record, opens the record first:
 * see eph_tracer_record_*. Needs root (CAP_BPF and CAP_PERFMON, or
 * CAP_SYS_ADMIN). Returns 0, or -EOPNOTSUPP (the library was built
 * without the tracer), -EPERM, -EBUSY (another recorder is running), or
 * another negative errno with a detail naming what failed.
 */
int eph_tracer_new(struct eph_ctx *ctx, const struct eph_tracer_opts *o,
		   struct eph_tracer **ret);

/* Stops the tracer (and writes the record one last time). */
void eph_tracer_free(struct eph_tracer *t);

/* Did eph_tracer_new() mount tracefs? */
bool eph_tracer_mounted(const struct eph_tracer *t);

/* The inode of the namespace traced, 0 for every one. */
uint64_t eph_tracer_netns(const struct eph_tracer *t);

/*
 * Waits up to TIMEOUT_MS (-1: no limit) for events, then hands every one
 * that passes the filter to CB, in order, including the TIME_WAIT ends
 * that are due; the record (if kept) sees every event. The event is valid
 * only during the call. A negative return from CB stops the delivery and
 * is returned. Returns the number of events handed over, -EINTR when a
 * signal came, or another negative errno.
 */
int eph_tracer_poll(struct eph_tracer *t, int timeout_ms,
		    int (*cb)(const struct eph_trace_event *e, void *data),
		    void *data);

/*
 * A descriptor for a caller's own poll(2) loop; eph_tracer_poll(T, 0, ...)
 * reads what waits. The program makes it readable for a batch of events
 * (256 KiB), which costs the least when events are many: a reader polls
 * it with a timeout and reads when that ends. A reader that would rather
 * sleep until something happens arms the tracer first (eph_tracer_arm()).
 */
int eph_tracer_fd(const struct eph_tracer *t);

/*
 * Asks the program to make eph_tracer_fd() readable at its very next
 * event, once. A reader that means to wait with no time limit arms, then
 * reads what already waits (eph_tracer_poll(T, 0, ...): an event that came
 * before the arm wakes nobody), then waits; no event is left unread that
 * way, and an idle host costs the reader nothing. The arm holds until the
 * wake-up it asked for. Returns 0.
 */
int eph_tracer_arm(struct eph_tracer *t);

/*
 * How long a reader may wait for events before the tracer has work of its
 * own: the end of a TIME_WAIT to report (eph_tracer_poll() hands over
 * TIME_WAIT_END) or the record's next write (it is written at most twice
 * a second, so a change may wait for its turn). Milliseconds, rounded up;
 * 0 when due now; -1 when nothing is due, and only an event can bring
 * work. Call eph_tracer_poll(T, 0, ...) when it is over.
 */
int eph_tracer_timeout(const struct eph_tracer *t);

/*
 * Events lost: those the kernel found no room for in the ring buffer,
 * and the TIME_WAITs whose end could not be followed (more than
 * EPH_TRACER_TIME_WAITS at once).
 */
uint64_t eph_tracer_lost(const struct eph_tracer *t);
uint64_t eph_tracer_tw_untracked(const struct eph_tracer *t);

/* TIME_WAITs followed at most, to report their end. */
#define EPH_TRACER_TIME_WAITS 65536u

#ifdef __cplusplus
}
#endif

#endif
