/* SPDX-License-Identifier: MIT */
/*
 * What the tracer's BPF program (trace.bpf.c) and its loader (trace.c)
 * share: the record of one event, as it travels through the ring buffer,
 * and its codes. Fixed-width types only: the BPF side includes vmlinux.h,
 * the user side <linux/types.h>.
 */
#ifndef EPHPORT_BPF_TRACE_H
#define EPHPORT_BPF_TRACE_H

#define EPHTRACE_COMM_LEN 16

/* What happened; the library maps these onto enum eph_trace_kind. */
enum ephtrace_type {
	EPHTRACE_CONNECT = 1, /* connect() went ahead: a source port is set */
	EPHTRACE_BIND,	      /* bind() succeeded */
	EPHTRACE_LISTEN,      /* a socket started listening */
	EPHTRACE_ACCEPT,      /* a connection a listener accepted is up */
	EPHTRACE_CONNECT_FAIL,
	EPHTRACE_BIND_FAIL,
	EPHTRACE_TIME_WAIT, /* a connection closed into TIME_WAIT */
	EPHTRACE_CLOSE,	    /* a bound-first or accepted one closed without */
};

#define EPHTRACE_F_BOUND_FIRST                                                 \
	(1u << 0)			/* it had its port before connect()    \
					 */
#define EPHTRACE_F_ACCEPTED (1u << 1)	/* a listener accepted it */
#define EPHTRACE_F_TIMESTAMPS (1u << 2) /* the connection used timestamps */
#define EPHTRACE_F_OWNER (1u << 3)	/* pid and comm: who made it */
#define EPHTRACE_F_ANY_PORT (1u << 4)	/* bind() asked for port 0 */
#define EPHTRACE_F_NO_PORT                                                     \
	(1u << 5) /* bound without a port (left to                             \
		  connect(): IP_BIND_ADDRESS_NO_PORT) */

/*
 * One event. Ports are in host order; addresses are 16 bytes, IPv4 ones
 * v4-mapped, as struct eph_sock keeps them. For a failure, the remote
 * address and port of connect() and the local ones of bind() are those
 * asked for.
 */
struct ephtrace_event {
	__u64 ts_ns;	 /* CLOCK_BOOTTIME */
	__u64 opened_ns; /* TIME_WAIT, CLOSE: when the connection was made,
			    0 when unknown */
	__u64 cgroup_id;
	__u32 netns; /* inode of the socket's network namespace */
	__s32 pid;   /* tgid, -1 when unknown */
	__u32 uid;
	__s32 err; /* failures: the errno, positive */
	__u16 lport, rport;
	__u8 type, family, proto, flags;
	__u8 laddr[16], raddr[16];
	char comm[EPHTRACE_COMM_LEN];
};

#endif
