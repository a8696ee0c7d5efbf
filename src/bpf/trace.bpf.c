// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ephport's tracer: every port a socket gets or binds, every failure of
 * bind() and connect() to get one, and the connections that close into
 * TIME_WAIT, with the process behind each.
 *
 * This kernel runs tracepoints but neither kprobes nor fentry, so the
 * program uses two tracepoints only, and does as little as it can in
 * them: whatever it costs, the traced program pays.
 * - syscalls:sys_exit_{connect,bind}: the process and the outcome; the
 *   arguments (the descriptor, the address asked for) are read from the
 *   task's saved registers, and only when the outcome is of interest.
 * - sock:inet_sock_set_state, raw (its arguments, not the record the
 *   kernel would build for every change). CLOSE -> SYN_SENT runs inside
 *   connect(): it says whether the socket had its port already (bound
 *   first) or will be given one, remembers the maker, and hands the socket
 *   to the call's exit through the task's storage. Listeners, accepted
 *   connections and closes follow; those often run in softirq context,
 *   where the current task is not the socket's owner: the owner is
 *   remembered per socket (or, for an accepted connection, per listening
 *   port) and taken from there.
 * Filters are read-only data set before the program is loaded. Events that
 * find the ring buffer full are counted in LOST, never dropped silently.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "trace.h"

/*
 * Reads through a socket, a file or a task are direct loads, checked by
 * the verifier against the kernel's BTF, rather than a helper call each:
 * the difference is most of the program's cost (Linux 6.2 or later).
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define CAST(type, p)                                                          \
	((type *)bpf_rdonly_cast((const void *)(p),                            \
				 bpf_core_type_id_kernel(type)))

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

#define EAGAIN 11
#define EACCES 13
#define EPERM 1
#define EADDRINUSE 98
#define EADDRNOTAVAIL 99
#define EINPROGRESS 115

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* TCP states, as the kernel numbers them. */
enum {
	ST_ESTABLISHED = 1,
	ST_SYN_SENT,
	ST_SYN_RECV,
	ST_FIN_WAIT1,
	ST_FIN_WAIT2,
	ST_TIME_WAIT,
	ST_CLOSE,
	ST_CLOSE_WAIT,
	ST_LAST_ACK,
	ST_LISTEN,
	ST_CLOSING,
};

/* 0: every namespace; else the inode of the only one traced. */
const volatile __u32 target_netns = 0;
/* Display filters, applied here when nothing is recorded. */
const volatile __u16 filter_port = 0;
const volatile __s32 filter_pid = 0;
const volatile bool failures_only = false;
/* The closes of bound-first and accepted connections matter to the record
 * only. */
const volatile bool emit_close = false;
/* Wake the reader once this much is waiting; it also polls on a timer. */
const volatile __u64 wakeup_bytes = 256 * 1024;

/* Events the ring buffer had no room for. */
__u64 lost = 0;

/*
 * Set by a reader about to wait with no time limit (eph_tracer_arm()):
 * the next event wakes it, and clears this. Without it, a reader is woken
 * for a batch only, and reads on a timer of its own.
 */
__u32 wake_reader = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 * 1024 * 1024);
} events SEC(".maps");

/* Who made a connection: kept from connect() or accept until it closes. */
struct owner {
	__u64 opened_ns;
	__u64 cgroup_id;
	__s32 pid;
	__u32 uid;
	__u32 flags;
	char comm[EPHTRACE_COMM_LEN];
};

/*
 * An LRU: an entry is never deleted (that would cost every close a map
 * operation); it is replaced when a socket at the same address connects
 * or is accepted, or evicted, oldest first, when the map is full.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64); /* struct sock * */
	__type(value, struct owner);
} owners SEC(".maps");

/* The process that last started listening on a port, per namespace. */
struct listen_key {
	__u32 netns;
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct listen_key);
	__type(value, struct owner);
} listeners SEC(".maps");

/* A TCP connect() under way: its socket, from CLOSE -> SYN_SENT. */
struct call {
	__u64 sk;
	__u8 bound_first; /* the socket had its port before connect() */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call);
} calls SEC(".maps");

static __always_inline bool netns_wanted(__u32 netns)
{
	return target_netns == 0 || netns == target_netns;
}

static __always_inline void v4_mapped(__u8 out[16], __u32 v4)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &v4, 4);
}

/* The local and remote ends of SK as the kernel holds them now. */
static __always_inline void sk_ends(const struct sock *sk, __u8 family,
				    struct ephtrace_event *e)
{
	if (family == AF_INET) {
		v4_mapped(e->laddr, sk->__sk_common.skc_rcv_saddr);
		v4_mapped(e->raddr, sk->__sk_common.skc_daddr);
	} else {
		__builtin_memcpy(
			e->laddr,
			sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(e->raddr,
				 sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8,
				 16);
	}
	/* inet_sport, not skc_num: a connection's TIME_WAIT takes the port
	 * over, and skc_num is 0 by the time its socket closes. */
	e->lport = bpf_ntohs(CAST(struct inet_sock, sk)->inet_sport);
	e->rport = bpf_ntohs(sk->__sk_common.skc_dport);
}

/* The socket behind descriptor FD of the current process, or NULL. */
static __always_inline struct sock *fd_sock(struct task_struct *task,
					    unsigned long fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *f = NULL;
	struct socket *sock;

	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]) || !f)
		return NULL;
	f = CAST(struct file, f);
	if ((f->f_inode->i_mode & S_IFMT) != S_IFSOCK || !f->private_data)
		return NULL;
	sock = CAST(struct socket, f->private_data);
	return sock->sk ? CAST(struct sock, sock->sk) : NULL;
}

static __always_inline bool wanted(const struct ephtrace_event *e, bool failure)
{
	if (failures_only && !failure)
		return false;
	if (filter_pid && e->pid != filter_pid)
		return false;
	if (filter_port && e->lport != filter_port && e->rport != filter_port)
		return false;
	return true;
}

static __always_inline struct ephtrace_event *reserve(__u64 now)
{
	struct ephtrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	return e;
}

static __always_inline void submit(struct ephtrace_event *e, bool failure)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!wanted(e, failure)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	/* Waking the reader for every event would cost more than the event:
	 * it wakes for a batch, and otherwise reads on its own timer. */
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	/*
	 * The flag is read after the submit, whose commit is a full barrier:
	 * a reader that set it and then read what was waiting has either
	 * seen this event or is woken for it here. The wake-up rides on a
	 * record too short to be an event, which the reader skips; two CPUs
	 * both waking it cost one spare wake-up.
	 */
	if (flags != BPF_RB_FORCE_WAKEUP && *(volatile __u32 *)&wake_reader) {
		__u64 *w;

		wake_reader = 0;
		w = bpf_ringbuf_reserve(&events, sizeof(*w), 0);
		if (w) {
			*w = 0;
			bpf_ringbuf_submit(w, BPF_RB_FORCE_WAKEUP);
		}
	}
}

static __always_inline void current_owner(struct owner *o, __u64 now)
{
	__u64 id = bpf_get_current_pid_tgid();

	o->pid = (__s32)(id >> 32);
	o->uid = (__u32)bpf_get_current_uid_gid();
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->opened_ns = now;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

static __always_inline void fill_owner(struct ephtrace_event *e,
				       const struct owner *o)
{
	e->pid = o->pid;
	e->uid = o->uid;
	e->cgroup_id = o->cgroup_id;
	e->opened_ns = o->opened_ns;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	e->flags |= EPHTRACE_F_OWNER;
}

/* The address the caller asked for, from its memory; false if none. */
static __always_inline bool asked(__u64 user, __u64 len, __u8 addr[16],
				  __u16 *port)
{
	struct sockaddr_in6 sa = {};
	const void *uaddr = (const void *)user;

	if (!uaddr || len < sizeof(struct sockaddr_in))
		return false;
	if (len >= sizeof(struct sockaddr_in6))
		bpf_probe_read_user(&sa, sizeof(struct sockaddr_in6), uaddr);
	else
		bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), uaddr);
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;

		v4_mapped(addr, in->sin_addr.s_addr);
		*port = bpf_ntohs(in->sin_port);
		return true;
	}
	if (sa.sin6_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		__builtin_memcpy(addr, sa.sin6_addr.in6_u.u6_addr8, 16);
		*port = bpf_ntohs(sa.sin6_port);
		return true;
	}
	return false;
}

/* ---- bind() and connect() ---- */

/* The errors that are about ports; the rest are not this tool's business. */
static __always_inline bool port_error(long ret)
{
	return ret == -EADDRINUSE || ret == -EADDRNOTAVAIL || ret == -EAGAIN ||
	       ret == -EACCES || ret == -EPERM;
}

static __always_inline int exit_call(struct trace_event_raw_sys_exit *ctx,
				     bool is_connect)
{
	struct task_struct *task = bpf_get_current_task_btf();
	long ret = ctx->ret;
	struct call *c, call = {};
	struct ephtrace_event *e;
	struct pt_regs *regs;
	struct owner o = {};
	struct sock *sk;
	__u8 family, addr[16];
	__u16 proto, port = 0;
	__u32 netns;
	__u64 now;
	bool ok;

	/* What CLOSE -> SYN_SENT left for this call, taken whatever comes
	 * (only failures are traced: that program is not attached). */
	if (is_connect && !failures_only) {
		c = bpf_task_storage_get(&calls, task, 0, 0);
		if (c && c->sk) {
			call = *c;
			c->sk = 0;
		}
	}
	ok = ret == 0 || (is_connect && ret == -EINPROGRESS);
	/* A connect() that failed for a reason other than its port (the
	 * peer refused, no route) says nothing about ports. */
	if ((!ok && !port_error(ret)) || (ok && failures_only))
		return 0;
	if (filter_pid &&
	    (__s32)(bpf_get_current_pid_tgid() >> 32) != filter_pid)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	/* A TCP connect() found its socket on the way; the rest look it up
	 * from the descriptor. */
	if (call.sk)
		sk = CAST(struct sock, call.sk);
	else
		sk = fd_sock(task, PT_REGS_PARM1_CORE_SYSCALL(regs));
	if (!sk)
		return 0;
	family = (__u8)sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	proto = sk->sk_protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	netns = sk->__sk_common.skc_net.net->ns.inum;
	if (!netns_wanted(netns))
		return 0;
	now = bpf_ktime_get_boot_ns();
	e = reserve(now);
	if (!e)
		return 0;
	current_owner(&o, now);
	fill_owner(e, &o);
	e->netns = netns;
	e->family = family;
	e->proto = (__u8)proto;
	sk_ends(sk, family, e);
	if (!ok) {
		e->type =
			is_connect ? EPHTRACE_CONNECT_FAIL : EPHTRACE_BIND_FAIL;
		e->err = (__s32)-ret;
		if (asked(PT_REGS_PARM2_CORE_SYSCALL(regs),
			  PT_REGS_PARM3_CORE_SYSCALL(regs), addr, &port)) {
			if (is_connect) {
				__builtin_memcpy(e->raddr, addr, 16);
				e->rport = port;
			} else {
				__builtin_memcpy(e->laddr, addr, 16);
				e->lport = port;
			}
		}
		submit(e, true);
		return 0;
	}
	if (is_connect) {
		/* A UDP connect() to AF_UNSPEC only forgets its peer. */
		if (!e->rport) {
			bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
			return 0;
		}
		e->type = EPHTRACE_CONNECT;
		if (call.bound_first)
			e->flags |= EPHTRACE_F_BOUND_FIRST;
		/* A TCP connection remembers its maker until it closes. */
		if (proto == IPPROTO_TCP) {
			o.flags = e->flags & EPHTRACE_F_BOUND_FIRST;
			bpf_map_update_elem(&owners, &call.sk, &o, BPF_ANY);
		}
	} else {
		e->type = EPHTRACE_BIND;
		if (asked(PT_REGS_PARM2_CORE_SYSCALL(regs),
			  PT_REGS_PARM3_CORE_SYSCALL(regs), addr, &port) &&
		    port == 0)
			e->flags |= EPHTRACE_F_ANY_PORT;
		if (e->lport == 0)
			e->flags |= EPHTRACE_F_NO_PORT;
	}
	submit(e, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, true);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, false);
}

/* ---- State changes ---- */

SEC("raw_tracepoint/inet_sock_set_state")
int set_state(struct bpf_raw_tracepoint_args *ctx)
{
	int from = (int)ctx->args[1], to = (int)ctx->args[2];
	__u64 key = ctx->args[0], now;
	struct listen_key lk = {};
	struct ephtrace_event *e;
	struct owner o = {}, *found;
	const struct sock *sk;
	struct call *c;
	__u16 lport, rport;
	__u8 family;
	__u32 netns;
	bool tw;

	/* Most changes are of no interest: leave before reading anything. */
	if (failures_only)
		return 0;
	if (from == ST_CLOSE && to == ST_SYN_SENT) {
		/* Inside connect(), before a port is chosen: a port already
		 * there was bound first. The call's exit does the rest. */
		c = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (c) {
			c->sk = key;
			c->bound_first =
				CAST(struct sock, key)->__sk_common.skc_num !=
				0;
		}
		return 0;
	}
	tw = to == ST_CLOSE && (from == ST_FIN_WAIT2 || from == ST_CLOSING);
	/* A close that leaves no TIME_WAIT matters to the record only. */
	if (to != ST_LISTEN && !(from == ST_SYN_RECV && to == ST_ESTABLISHED) &&
	    !tw &&
	    !(emit_close && to == ST_CLOSE && from != ST_LISTEN &&
	      from != ST_CLOSE))
		return 0;
	sk = CAST(struct sock, key);
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	lport = bpf_ntohs(CAST(struct inet_sock, key)->inet_sport);
	rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (filter_port && lport != filter_port && rport != filter_port)
		return 0;
	netns = sk->__sk_common.skc_net.net->ns.inum;
	if (!netns_wanted(netns))
		return 0;
	family = (__u8)sk->__sk_common.skc_family;
	now = bpf_ktime_get_boot_ns();

	if (to == ST_LISTEN) {
		/* listen() runs in its caller's context: the owner is here. */
		current_owner(&o, now);
		lk.netns = netns;
		lk.port = lport;
		bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY);
		e = reserve(now);
		if (!e)
			return 0;
		fill_owner(e, &o);
		e->type = EPHTRACE_LISTEN;
		goto fill;
	}

	if (to == ST_ESTABLISHED) {
		/* A connection accepted on a listener's port, in softirq: its
		 * owner is the listener's. */
		lk.netns = netns;
		lk.port = lport;
		found = bpf_map_lookup_elem(&listeners, &lk);
		if (found)
			o = *found;
		else
			o.pid = -1;
		o.opened_ns = now;
		o.flags = EPHTRACE_F_ACCEPTED;
		bpf_map_update_elem(&owners, &key, &o, BPF_ANY);
		e = reserve(now);
		if (!e)
			return 0;
		if (o.pid >= 0)
			fill_owner(e, &o);
		else
			e->pid = -1;
		e->flags |= EPHTRACE_F_ACCEPTED;
		e->type = EPHTRACE_ACCEPT;
		goto fill;
	}

	/* to == CLOSE. The TIME_WAIT socket is made silently when FIN_WAIT2
	 * or CLOSING ends without an error (a reset sets sk_err first). */
	found = bpf_map_lookup_elem(&owners, &key);
	if (found)
		o = *found;
	if (tw && sk->sk_err == 0) {
		e = reserve(now);
		if (!e)
			return 0;
		e->type = EPHTRACE_TIME_WAIT;
		if (CAST(struct tcp_sock, key)->rx_opt.ts_recent_stamp != 0)
			e->flags |= EPHTRACE_F_TIMESTAMPS;
	} else if (emit_close && found &&
		   (o.flags & (EPHTRACE_F_BOUND_FIRST | EPHTRACE_F_ACCEPTED))) {
		e = reserve(now);
		if (!e)
			return 0;
		e->type = EPHTRACE_CLOSE;
	} else {
		return 0;
	}
	if (found && o.pid >= 0)
		fill_owner(e, &o);
	else
		e->pid = -1;
	/* The entry stays (see owners), saying it is over. */
	if (found) {
		found->flags = 0;
		found->pid = -1;
	}
	e->flags |= o.flags & (EPHTRACE_F_BOUND_FIRST | EPHTRACE_F_ACCEPTED);
fill:
	e->netns = netns;
	e->family = family;
	e->proto = IPPROTO_TCP;
	sk_ends(sk, family, e);
	submit(e, false);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
