// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ephport's tracer: every port a socket gets or binds, every failure of
 * bind() and connect() to get one, and the connections that close into
 * TIME_WAIT, with the process behind each.
 *
 * This kernel runs tracepoints but neither kprobes nor fentry, so the
 * program uses two kinds only:
 * - syscalls:sys_{enter,exit}_{connect,bind}: the process, the address
 *   asked for and the outcome. At the entry the socket is found from the
 *   descriptor; whether it had a local port before connect() is what tells
 *   a bound-first socket from one the kernel gives a port.
 * - sock:inet_sock_set_state: listeners, accepted connections and closes.
 *   These often run in softirq context, where the current task is not the
 *   socket's owner: the owner is remembered per socket when a syscall made
 *   it (or, for an accepted connection, per listening port) and taken from
 *   there.
 * Filters are read-only data set before the program is loaded. Events that
 * find the ring buffer full are counted in LOST, never dropped silently.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "trace.h"

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 * 1024 * 1024);
} events SEC(".maps");

/* Who made a connection: kept from the syscall until it closes. */
struct owner {
	__u64 opened_ns;
	__u64 cgroup_id;
	__s32 pid;
	__u32 uid;
	__u32 flags;
	char comm[EPHTRACE_COMM_LEN];
};

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

/* A bind() or connect() under way, from its entry to its exit. */
struct pending {
	__u64 sk;
	__u8 addr[16];
	__u16 port;	   /* asked for */
	__u16 port_before; /* the socket's local port at the entry */
	__u32 netns;
	__u8 family; /* of the socket */
	__u8 proto;
	__u8 asked; /* an address came with the call */
	__u8 pad;
};

/* LRU: an entry whose exit never came (a thread killed in the call) must
 * not fill the map for good. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct pending);
} pendings SEC(".maps");

static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

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
		v4_mapped(e->laddr,
			  BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		v4_mapped(e->raddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		BPF_CORE_READ_INTO(&e->laddr, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* The socket behind descriptor FD of the current process, or NULL. */
static __always_inline struct sock *fd_sock(unsigned long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	struct socket *sock;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
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

static __always_inline struct ephtrace_event *reserve(void)
{
	struct ephtrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
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
}

static __always_inline void current_owner(struct owner *o)
{
	__u64 id = bpf_get_current_pid_tgid();

	o->pid = (__s32)(id >> 32);
	o->uid = (__u32)bpf_get_current_uid_gid();
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->opened_ns = bpf_ktime_get_boot_ns();
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

/* ---- bind() and connect() ---- */

static __always_inline int enter(struct trace_event_raw_sys_enter *ctx)
{
	unsigned long fd = ctx->args[0], len = ctx->args[2];
	const void *uaddr = (const void *)ctx->args[1];
	__u64 id = bpf_get_current_pid_tgid();
	struct pending p = {};
	struct sockaddr_in6 sa = {};
	struct sock *sk;
	__u16 proto;

	sk = fd_sock(fd);
	if (!sk)
		return 0;
	p.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (p.family != AF_INET && p.family != AF_INET6)
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	p.netns = sk_netns(sk);
	if (!netns_wanted(p.netns))
		return 0;
	p.proto = (__u8)proto;
	p.sk = (__u64)sk;
	p.port_before = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (uaddr && len >= sizeof(struct sockaddr_in)) {
		if (len >= sizeof(struct sockaddr_in6))
			bpf_probe_read_user(&sa, sizeof(struct sockaddr_in6),
					    uaddr);
		else
			bpf_probe_read_user(&sa, sizeof(struct sockaddr_in),
					    uaddr);
		if (sa.sin6_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&sa;

			v4_mapped(p.addr, in->sin_addr.s_addr);
			p.port = bpf_ntohs(in->sin_port);
			p.asked = 1;
		} else if (sa.sin6_family == AF_INET6 &&
			   len >= sizeof(struct sockaddr_in6)) {
			__builtin_memcpy(p.addr, sa.sin6_addr.in6_u.u6_addr8,
					 16);
			p.port = bpf_ntohs(sa.sin6_port);
			p.asked = 1;
		}
	}
	bpf_map_update_elem(&pendings, &id, &p, BPF_ANY);
	return 0;
}

/* The errors that are about ports; the rest are not this tool's business. */
static __always_inline bool port_error(long ret)
{
	return ret == -EADDRINUSE || ret == -EADDRNOTAVAIL || ret == -EAGAIN ||
	       ret == -EACCES || ret == -EPERM;
}

static __always_inline int exit_call(struct trace_event_raw_sys_exit *ctx,
				     bool is_connect)
{
	__u64 id = bpf_get_current_pid_tgid();
	long ret = ctx->ret;
	struct pending *p = bpf_map_lookup_elem(&pendings, &id);
	struct sock *sk;
	struct ephtrace_event *e;
	struct owner o = {};
	bool ok;

	if (!p)
		return 0;
	sk = (struct sock *)p->sk;
	ok = ret == 0 || (is_connect && ret == -EINPROGRESS);
	/* What the filters drop needs no work at all: a connection of
	 * another process will not be shown when it closes either. */
	if ((ok && failures_only) ||
	    (filter_pid && (__s32)(id >> 32) != filter_pid))
		goto out;
	/* A connect() that failed for a reason other than its port (the
	 * peer refused, no route) says nothing about ports; nor does a
	 * UDP connect() that only set the peer of a socket with a port. */
	if ((!ok && !port_error(ret)) || (ok && is_connect && !p->asked))
		goto out;
	e = reserve();
	if (!e)
		goto out;
	current_owner(&o);
	fill_owner(e, &o);
	e->netns = p->netns;
	e->family = p->family;
	e->proto = p->proto;
	if (!ok) {
		e->type =
			is_connect ? EPHTRACE_CONNECT_FAIL : EPHTRACE_BIND_FAIL;
		e->err = (__s32)-ret;
		sk_ends(sk, p->family, e);
		if (is_connect) {
			__builtin_memcpy(e->raddr, p->addr, 16);
			e->rport = p->port;
		} else {
			__builtin_memcpy(e->laddr, p->addr, 16);
			e->lport = p->port;
		}
		submit(e, true);
		goto out;
	}
	sk_ends(sk, p->family, e);
	if (is_connect) {
		e->type = EPHTRACE_CONNECT;
		if (p->port_before && p->proto == IPPROTO_TCP)
			e->flags |= EPHTRACE_F_BOUND_FIRST;
	} else {
		e->type = EPHTRACE_BIND;
		if (p->port == 0)
			e->flags |= EPHTRACE_F_ANY_PORT;
		if (e->lport == 0)
			e->flags |= EPHTRACE_F_NO_PORT;
	}
	o.flags = e->flags & EPHTRACE_F_BOUND_FIRST;
	submit(e, false);
	/* A TCP connection remembers its maker until it closes. */
	if (is_connect && p->proto == IPPROTO_TCP)
		bpf_map_update_elem(&owners, &p->sk, &o, BPF_ANY);
out:
	bpf_map_delete_elem(&pendings, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, true);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int bind_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exit_call(ctx, false);
}

/* ---- State changes ---- */

static __always_inline void
state_ends(struct trace_event_raw_inet_sock_set_state *ctx,
	   struct ephtrace_event *e)
{
	e->family = (__u8)ctx->family;
	e->proto = IPPROTO_TCP;
	e->lport = ctx->sport;
	e->rport = ctx->dport;
	/* The verifier refuses loads at a computed offset into the context:
	 * the address arrays are copied with a probe read. */
	if (ctx->family == AF_INET) {
		__u32 s = 0, d = 0;

		bpf_probe_read_kernel(&s, 4, ctx->saddr);
		bpf_probe_read_kernel(&d, 4, ctx->daddr);
		v4_mapped(e->laddr, s);
		v4_mapped(e->raddr, d);
	} else {
		bpf_probe_read_kernel(e->laddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->raddr, 16, ctx->daddr_v6);
	}
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	int old = ctx->oldstate, new = ctx->newstate;
	const struct sock *sk = ctx->skaddr;
	__u64 key = (__u64)sk;
	struct listen_key lk = {};
	struct ephtrace_event *e;
	struct owner o = {}, *found;
	__u32 netns;

	/* Most changes are of no interest: leave before reading anything. */
	if (ctx->protocol != IPPROTO_TCP || failures_only)
		return 0;
	if (filter_port && ctx->sport != filter_port &&
	    ctx->dport != filter_port)
		return 0;
	if (new != ST_LISTEN &&new != ST_CLOSE &&
	    !(old == ST_SYN_RECV && new == ST_ESTABLISHED))
		return 0;
	if (old == ST_LISTEN && new == ST_CLOSE)
		return 0;
	netns = sk_netns(sk);
	if (!netns_wanted(netns))
		return 0;

	if (new == ST_LISTEN) {
		/* listen() runs in its caller's context: the owner is here. */
		current_owner(&o);
		lk.netns = netns;
		lk.port = ctx->sport;
		bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY);
		e = reserve();
		if (!e)
			return 0;
		fill_owner(e, &o);
		e->type = EPHTRACE_LISTEN;
		e->netns = netns;
		state_ends(ctx, e);
		submit(e, false);
		return 0;
	}

	if (new == ST_ESTABLISHED) {
		/* A connection accepted on a listener's port, in softirq: its
		 * owner is the listener's. */
		lk.netns = netns;
		lk.port = ctx->sport;
		found = bpf_map_lookup_elem(&listeners, &lk);
		if (found) {
			o = *found;
		} else {
			o.pid = -1;
		}
		o.opened_ns = bpf_ktime_get_boot_ns();
		o.flags = EPHTRACE_F_ACCEPTED;
		bpf_map_update_elem(&owners, &key, &o, BPF_ANY);
		e = reserve();
		if (!e)
			return 0;
		if (found)
			fill_owner(e, &o);
		else
			e->pid = -1;
		e->flags |= EPHTRACE_F_ACCEPTED;
		e->type = EPHTRACE_ACCEPT;
		e->netns = netns;
		state_ends(ctx, e);
		submit(e, false);
		return 0;
	}

	/* new == CLOSE. The TIME_WAIT socket is made silently when FIN_WAIT2
	 * or CLOSING ends without an error (a reset sets sk_err first). */
	found = bpf_map_lookup_elem(&owners, &key);
	if (found)
		o = *found;
	else
		o.pid = -1;
	if (found)
		bpf_map_delete_elem(&owners, &key);
	if ((old == ST_FIN_WAIT2 || old == ST_CLOSING) &&
	    BPF_CORE_READ(sk, sk_err) == 0) {
		const struct tcp_sock *tp = (const struct tcp_sock *)sk;

		e = reserve();
		if (!e)
			return 0;
		e->type = EPHTRACE_TIME_WAIT;
		if (BPF_CORE_READ(tp, rx_opt.ts_recent_stamp) != 0)
			e->flags |= EPHTRACE_F_TIMESTAMPS;
	} else if (emit_close && found &&
		   (o.flags & (EPHTRACE_F_BOUND_FIRST | EPHTRACE_F_ACCEPTED))) {
		e = reserve();
		if (!e)
			return 0;
		e->type = EPHTRACE_CLOSE;
	} else {
		return 0;
	}
	if (found)
		fill_owner(e, &o);
	else
		e->pid = -1;
	e->flags |= o.flags & (EPHTRACE_F_BOUND_FIRST | EPHTRACE_F_ACCEPTED);
	e->netns = netns;
	state_ends(ctx, e);
	submit(e, false);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
