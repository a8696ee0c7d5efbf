/* SPDX-License-Identifier: MIT */
/*
 * The socket scanner: NETLINK_SOCK_DIAG dumps the libmnl way. A caller-owned
 * scan keeps one netlink socket (opened inside the target namespace) and
 * one receive buffer for its whole life; records stream to a callback, so
 * memory grows with what the caller keeps, never with the number of
 * sockets. Every reply is validated: message chain, sequence, port id,
 * payload sizes, every attribute.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "internal.h"

/* A dump that keeps being interrupted is given up after this many tries. */
#define SCAN_TRIES 4
/* The kernel sends dump replies in chunks of up to 32 KiB. */
#define SCAN_BUF_SIZE (32u * 1024u)

struct eph_scan {
	struct eph_ctx *ctx;
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *buf;
	size_t buf_size;
	int tap_fd; /* when >= 0, every received chunk is copied here */
};

void sockdiag_set_tap(struct eph_scan *scan, int fd)
{
	scan->tap_fd = fd;
}

/* Appends one chunk as a 4-byte host-order length and the bytes. */
static void tap_write(int fd, const void *buf, size_t len)
{
	uint32_t l = (uint32_t)len;

	if (write(fd, &l, sizeof(l)) != (ssize_t)sizeof(l) ||
	    write(fd, buf, len) != (ssize_t)len)
		return; /* a test tool's capture; nothing to recover */
}

EPH_EXPORT const char *eph_tcp_state_name(uint8_t state)
{
	static const char *const names[EPH_TCP_MAX_STATES] = {
		[0] = "UNKNOWN",
		[EPH_TCP_ESTABLISHED] = "ESTAB",
		[EPH_TCP_SYN_SENT] = "SYN-SENT",
		[EPH_TCP_SYN_RECV] = "SYN-RECV",
		[EPH_TCP_FIN_WAIT1] = "FIN-WAIT-1",
		[EPH_TCP_FIN_WAIT2] = "FIN-WAIT-2",
		[EPH_TCP_TIME_WAIT] = "TIME-WAIT",
		[EPH_TCP_CLOSE] = "UNCONN",
		[EPH_TCP_CLOSE_WAIT] = "CLOSE-WAIT",
		[EPH_TCP_LAST_ACK] = "LAST-ACK",
		[EPH_TCP_LISTEN] = "LISTEN",
		[EPH_TCP_CLOSING] = "CLOSING",
		[EPH_TCP_NEW_SYN_RECV] = "SYN-RECV",
		[EPH_TCP_BOUND_INACTIVE] = "UNCONN",
	};

	return state < EPH_TCP_MAX_STATES ? names[state] : "UNKNOWN";
}

bool sockdiag_addr_is_mapped(const uint8_t addr[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0,    0,
					    0, 0, 0, 0, 0xff, 0xff };

	return memcmp(addr, mapped, sizeof(mapped)) == 0;
}

bool sockdiag_addr_is_loopback(const uint8_t a[16])
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	if (sockdiag_addr_is_mapped(a))
		return a[12] == 127;
	return memcmp(a, v6lo, sizeof(v6lo)) == 0;
}

bool sockdiag_addr_is_any(const uint8_t a[16])
{
	static const uint8_t any6[16] = { 0 };

	if (sockdiag_addr_is_mapped(a))
		return !a[12] && !a[13] && !a[14] && !a[15];
	return memcmp(a, any6, sizeof(any6)) == 0;
}

EPH_EXPORT const char *eph_proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP   ? "tcp"
	       : proto == IPPROTO_UDP ? "udp"
				      : "?";
}

EPH_EXPORT int eph_addr_parse(struct eph_ctx *ctx, const char *s,
			      uint8_t ret_addr[16], int *ret_family)
{
	uint8_t a[16] = { 0 };
	char q[64];

	ctx_clear_error(ctx);
	if (inet_pton(AF_INET, s, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		*ret_family = AF_INET;
	} else if (inet_pton(AF_INET6, s, a) == 1) {
		*ret_family = AF_INET6;
	} else {
		return ctx_error(ctx, -EINVAL,
				 "%s is not an IPv4 or IPv6 address",
				 num_quote(s, strlen(s), q, sizeof(q)));
	}
	memcpy(ret_addr, a, 16);
	return 0;
}

EPH_EXPORT const char *eph_addr_format(const uint8_t addr[16], char *buf,
				       size_t size)
{
	if (sockdiag_addr_is_mapped(addr)) {
		if (!inet_ntop(AF_INET, addr + 12, buf, (socklen_t)size))
			snprintf(buf, size, "?");
	} else if (!inet_ntop(AF_INET6, addr, buf, (socklen_t)size)) {
		snprintf(buf, size, "?");
	}
	return buf;
}

static void store_addr(uint8_t dst[16], uint8_t family, const __be32 src[4])
{
	if (family == AF_INET) {
		memset(dst, 0, 10);
		dst[10] = 0xff;
		dst[11] = 0xff;
		memcpy(dst + 12, &src[0], 4);
	} else {
		memcpy(dst, src, 16);
	}
}

/* Validates the attributes of one inet_diag message and takes the few the
 * analyses use. Unknown attributes are skipped: newer kernels add some. */
static int parse_attrs(struct eph_ctx *ctx, const struct nlmsghdr *nlh,
		       struct eph_sock *s)
{
	size_t off = MNL_ALIGN(sizeof(struct inet_diag_msg));
	size_t payload = mnl_nlmsg_get_payload_len(nlh);
	const struct nlattr *attr;
	size_t rem;

	if (payload <= off)
		return 0;
	attr = (const struct nlattr *)((const char *)mnl_nlmsg_get_payload(
					       nlh) +
				       off);
	rem = payload - off;
	while (mnl_attr_ok(attr, (int)rem)) {
		size_t step = MNL_ALIGN(attr->nla_len);
		int r = 0;

		switch (mnl_attr_get_type(attr)) {
		case INET_DIAG_SKV6ONLY:
			r = mnl_attr_validate(attr, MNL_TYPE_U8);
			if (r == 0 && mnl_attr_get_u8(attr))
				s->flags |= EPH_SOCK_V6ONLY;
			break;
		case INET_DIAG_CGROUP_ID:
			r = mnl_attr_validate(attr, MNL_TYPE_U64);
			if (r == 0)
				s->cgroup_id = mnl_attr_get_u64(attr);
			break;
		case INET_DIAG_SOCKOPT: {
			struct inet_diag_sockopt opt;

			r = mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
					       sizeof(opt));
			if (r == 0) {
				memcpy(&opt, mnl_attr_get_payload(attr),
				       sizeof(opt));
				if (opt.bind_address_no_port)
					s->flags |= EPH_SOCK_BIND_NO_PORT;
			}
			break;
		}
		default:
			break;
		}
		if (r < 0)
			return ctx_error(ctx, -EPROTO,
					 "sock_diag: attribute %u has a bad "
					 "length (%u)",
					 mnl_attr_get_type(attr),
					 attr->nla_len);
		if (step >= rem) {
			rem = 0;
			break;
		}
		rem -= step;
		attr = (const struct nlattr *)((const char *)attr + step);
	}
	if (rem != 0)
		return ctx_error(ctx, -EPROTO,
				 "sock_diag: truncated attribute (%zu bytes "
				 "left)",
				 rem);
	return 0;
}

static int parse_sock(struct eph_ctx *ctx, const struct nlmsghdr *nlh,
		      uint8_t proto, const struct eph_scan_ops *ops, void *data)
{
	const struct inet_diag_msg *m;
	struct eph_sock s;
	int r;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return ctx_error(ctx, -EPROTO,
				 "sock_diag: message of %u bytes is too short",
				 nlh->nlmsg_len);
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return ctx_error(ctx, -EPROTO,
				 "sock_diag: unexpected address family %u",
				 m->idiag_family);
	memset(&s, 0, sizeof(s));
	s.family = m->idiag_family;
	s.proto = proto;
	s.state = m->idiag_state;
	s.timer = m->idiag_timer;
	s.local_port = ntohs(m->id.idiag_sport);
	s.remote_port = ntohs(m->id.idiag_dport);
	store_addr(s.local, s.family, m->id.idiag_src);
	store_addr(s.remote, s.family, m->id.idiag_dst);
	s.ifindex = m->id.idiag_if;
	s.inode = m->idiag_inode;
	s.uid = m->idiag_uid;
	s.expires_ms = m->idiag_expires;
	s.cookie = (uint64_t)m->id.idiag_cookie[0] |
		   (uint64_t)m->id.idiag_cookie[1] << 32;
	r = parse_attrs(ctx, nlh, &s);
	if (r < 0)
		return r;
	return ops && ops->sock ? ops->sock(&s, data) : 0;
}

/* The parser behind eph_sockdiag_parse(); counts delivered records. */
static int parse_chunk(struct eph_ctx *ctx, const void *buf, size_t len,
		       uint8_t proto, uint32_t seq, uint32_t portid,
		       const struct eph_scan_ops *ops, void *data, bool *intr,
		       unsigned int *count)
{
	const struct nlmsghdr *nlh = buf;
	int rem = len > INT32_MAX ? INT32_MAX : (int)len;
	int r;

	if (len == 0)
		return ctx_error(ctx, -EPROTO, "sock_diag: empty reply");
	while (mnl_nlmsg_ok(nlh, rem)) {
		/* mnl_nlmsg_ok() compares the length as an int: one of 2 GiB
		 * or more turns negative and passes. */
		if (nlh->nlmsg_len > (uint32_t)rem)
			break;
		if (!mnl_nlmsg_seq_ok(nlh, seq) ||
		    !mnl_nlmsg_portid_ok(nlh, portid))
			return ctx_error(ctx, -EPROTO,
					 "sock_diag: reply with sequence %u "
					 "port %u does not match the request",
					 nlh->nlmsg_seq, nlh->nlmsg_pid);
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			*intr = true;
		switch (nlh->nlmsg_type) {
		case NLMSG_DONE: {
			int32_t err = 0;

			if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err))
				memcpy(&err, mnl_nlmsg_get_payload(nlh),
				       sizeof(err));
			if (err < 0)
				return ctx_error(ctx, err,
						 "sock_diag: dump failed: %s",
						 strerror(-err));
			return 1;
		}
		case NLMSG_ERROR: {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				return ctx_error(ctx, -EPROTO,
						 "sock_diag: truncated error "
						 "message");
			if (e->error >= 0)
				return ctx_error(ctx, -EPROTO,
						 "sock_diag: unexpected "
						 "acknowledgement");
			return ctx_error(ctx, e->error,
					 "sock_diag: the kernel refused the "
					 "request: %s",
					 strerror(-e->error));
		}
		case NLMSG_NOOP:
			break;
		case SOCK_DIAG_BY_FAMILY:
		case TCPDIAG_GETSOCK:
			r = parse_sock(ctx, nlh, proto, ops, data);
			if (r < 0)
				return r;
			(*count)++;
			break;
		default:
			return ctx_error(ctx, -EPROTO,
					 "sock_diag: unexpected message type "
					 "%u",
					 nlh->nlmsg_type);
		}
		nlh = mnl_nlmsg_next(nlh, &rem);
	}
	if (rem != 0)
		return ctx_error(ctx, -EPROTO,
				 "sock_diag: truncated reply (%d bytes left "
				 "over)",
				 rem);
	return 0;
}

int sockdiag_parse(struct eph_ctx *ctx, const void *buf, size_t len,
		   uint8_t proto, uint32_t seq, uint32_t portid,
		   const struct eph_scan_ops *ops, void *data, bool *ret_intr)
{
	unsigned int count = 0;
	bool intr = false;
	int r;

	ctx_clear_error(ctx);
	r = parse_chunk(ctx, buf, len, proto, seq, portid, ops, data, &intr,
			&count);
	if (ret_intr)
		*ret_intr = intr;
	return r;
}

EPH_EXPORT int eph_scan_new(struct eph_ctx *ctx, struct eph_scan **ret)
{
	struct eph_scan *scan;
	int r, r2;

	ctx_clear_error(ctx);
	scan = calloc(1, sizeof(*scan));
	if (!scan)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	scan->ctx = ctx;
	scan->tap_fd = -1;
	/* Replies come in chunks of about 32 KiB: a larger buffer gains
	 * nothing (FACTS.md). */
	scan->buf_size = SCAN_BUF_SIZE;
	scan->buf = malloc(scan->buf_size);
	if (!scan->buf) {
		r = ctx_error(ctx, -ENOMEM, "out of memory");
		goto fail;
	}
	r = ctx_netns_enter(ctx);
	if (r < 0)
		goto fail;
	scan->nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	r = scan->nl ? 0 : -errno;
	if (scan->nl && mnl_socket_bind(scan->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		r = -errno;
	r2 = ctx_netns_leave(ctx);
	if (r < 0) {
		ctx_error(ctx, r, "cannot open a sock_diag socket: %s",
			  strerror(-r));
		goto fail;
	}
	if (r2 < 0) {
		r = r2;
		goto fail;
	}
	scan->portid = mnl_socket_get_portid(scan->nl);
	scan->seq = (uint32_t)time(NULL);
	*ret = scan;
	return 0;
fail:
	eph_scan_free(scan);
	return r;
}

EPH_EXPORT void eph_scan_free(struct eph_scan *scan)
{
	if (!scan)
		return;
	if (scan->nl)
		mnl_socket_close(scan->nl);
	free(scan->buf);
	free(scan);
}

/*
 * Builds the in-kernel filter. Each op is 4 bytes; a condition jumps by
 * `yes` when true and by `no` when false; running off the end accepts,
 * jumping 4 bytes past it rejects. A JMP always takes `no`. The kernel's
 * audit accepts a jump only to an op on the chain of `yes` jumps from the
 * start, so every test is written as "condition, then a JMP it falls
 * into": the JMP's `yes` of 4 keeps the next test on that chain.
 */
struct bc {
	struct inet_diag_bc_op *op;
	size_t n, total; /* ops written, ops in all */
};

static void bc_put(struct bc *b, uint8_t code, size_t yes, size_t no)
{
	b->op[b->n++] =
		(struct inet_diag_bc_op){ code, (uint8_t)yes, (uint16_t)no };
}

/* Bytes from the op about to be written to the end of the program. */
static size_t bc_left(const struct bc *b)
{
	return (b->total - b->n) * 4;
}

static void bc_port(struct bc *b, uint16_t port)
{
	b->op[b->n++] = (struct inet_diag_bc_op){ 0, 0, port };
}

static size_t build_bytecode(const struct sockdiag_filter *sf,
			     struct inet_diag_bc_op *op)
{
	const struct eph_scan_filter *f = &sf->f;
	struct bc b = { op, 0, 0 };

	if (f->port_range)
		b.total += 4;
	b.total += 3 * sf->nskip_ports;
	if (f->explicit_only)
		b.total += 3 * sf->nalso_ports + 2;
	if (sf->auto_only)
		b.total += 1;
	if (f->port_range) {
		/* Below LO or above HI: reject. */
		bc_put(&b, INET_DIAG_BC_S_GE, 8, bc_left(&b) + 4);
		bc_port(&b, f->port_lo);
		bc_put(&b, INET_DIAG_BC_S_LE, 8, bc_left(&b) + 4);
		bc_port(&b, f->port_hi);
	}
	for (uint32_t i = 0; i < sf->nskip_ports; i++) {
		/* On this port: fall into a JMP that rejects. */
		bc_put(&b, INET_DIAG_BC_S_EQ, 8, 12);
		bc_port(&b, sf->skip_ports[i]);
		bc_put(&b, INET_DIAG_BC_JMP, 4, bc_left(&b) + 4);
	}
	if (f->explicit_only) {
		for (uint32_t i = 0; i < sf->nalso_ports; i++) {
			/* On this port: fall into a JMP that accepts. */
			bc_put(&b, INET_DIAG_BC_S_EQ, 8, 12);
			bc_port(&b, sf->also_ports[i]);
			bc_put(&b, INET_DIAG_BC_JMP, 4, bc_left(&b));
		}
		/* Auto: fall into a JMP that rejects; else skip it. */
		bc_put(&b, INET_DIAG_BC_AUTO, 4, 8);
		bc_put(&b, INET_DIAG_BC_JMP, 4, bc_left(&b) + 4);
	}
	if (sf->auto_only) {
		/* Auto: fall through to accept; otherwise reject. */
		bc_put(&b, INET_DIAG_BC_AUTO, 4, bc_left(&b) + 4);
	}
	return b.n * sizeof(*op);
}

/* Sends one dump request. LEGACY asks TCP for both families at once. */
static int send_request(struct eph_scan *scan, const struct sockdiag_filter *sf,
			uint8_t proto, uint8_t family, bool legacy)
{
	char req[1024];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct inet_diag_bc_op bc[6 + 6 * SOCKDIAG_MAX_PORTS];
	uint32_t states = sf->f.states ? sf->f.states : ~0u;
	size_t bclen = build_bytecode(sf, bc);

	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++scan->seq;
	if (legacy) {
		struct inet_diag_req *r;

		nlh->nlmsg_type = TCPDIAG_GETSOCK;
		r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
		r->idiag_family = AF_UNSPEC;
		r->idiag_states = states;
	} else {
		struct inet_diag_req_v2 *r;

		nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
		r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
		r->sdiag_family = family;
		r->sdiag_protocol = proto;
		r->idiag_states = states;
	}
	if (bclen)
		mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, bclen, bc);
	if (mnl_socket_sendto(scan->nl, nlh, nlh->nlmsg_len) < 0)
		return ctx_error(scan->ctx, -errno,
				 "sock_diag: cannot send the request: %s",
				 strerror(errno));
	return 0;
}

/* Reads the replies to the last request until NLMSG_DONE. */
static int read_dump(struct eph_scan *scan, uint8_t proto,
		     const struct eph_scan_ops *ops, void *data, bool *intr,
		     unsigned int *count)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(scan->nl, scan->buf,
						scan->buf_size);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* Replies were lost: the dump is unusable. */
				*intr = true;
				return ctx_error(scan->ctx, -ENOBUFS,
						 "sock_diag: replies lost");
			}
			return ctx_error(scan->ctx, -errno,
					 "sock_diag: receive failed: %s",
					 strerror(errno));
		}
		if (n == 0)
			return ctx_error(scan->ctx, -EPROTO,
					 "sock_diag: the dump ended without "
					 "NLMSG_DONE");
		if (scan->tap_fd >= 0)
			tap_write(scan->tap_fd, scan->buf, (size_t)n);
		r = parse_chunk(scan->ctx, scan->buf, (size_t)n, proto,
				scan->seq, scan->portid, ops, data, intr,
				count);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

/* Drains whatever is left of an abandoned dump, so the next starts clean. */
static void drain(struct eph_scan *scan)
{
	while (recv(mnl_socket_get_fd(scan->nl), scan->buf, scan->buf_size,
		    MSG_DONTWAIT) > 0)
		;
}

static int run_once(struct eph_scan *scan, const struct sockdiag_filter *f,
		    const struct eph_scan_ops *ops, void *data, bool *intr,
		    unsigned int *count)
{
	uint32_t protos = f->f.protos ? f->f.protos : EPH_PROTO_ALL;
	uint32_t fams = f->f.families ? f->f.families : EPH_FAMILY_ALL;
	static const struct {
		uint32_t proto_bit;
		uint8_t proto;
	} protolist[] = { { EPH_PROTO_TCP, IPPROTO_TCP },
			  { EPH_PROTO_UDP, IPPROTO_UDP } };
	int r;

	for (size_t p = 0; p < 2; p++) {
		uint8_t proto = protolist[p].proto;

		if (!(protos & protolist[p].proto_bit))
			continue;
		/* One legacy request returns TCP of both families for less
		 * than two requests cost: both walk the same hash table. */
		if (proto == IPPROTO_TCP && fams == EPH_FAMILY_ALL) {
			r = send_request(scan, f, proto, AF_UNSPEC, true);
			if (r == 0)
				r = read_dump(scan, proto, ops, data, intr,
					      count);
			if (r < 0)
				return r;
			continue;
		}
		for (int fam = 0; fam < 2; fam++) {
			if (!(fams & (fam ? EPH_FAMILY_IPV6 : EPH_FAMILY_IPV4)))
				continue;
			r = send_request(scan, f, proto,
					 fam ? AF_INET6 : AF_INET, false);
			if (r == 0)
				r = read_dump(scan, proto, ops, data, intr,
					      count);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Marks records of an explicit-only scan before the caller sees them. */
struct mark {
	const struct eph_scan_ops *ops;
	void *data;
	const struct sockdiag_filter *f;
};

static int mark_locked(const struct eph_sock *s, void *data)
{
	struct mark *m = data;
	struct eph_sock copy = *s;

	/* Sockets taken for their port alone may not have named it. */
	for (uint32_t i = 0; i < m->f->nalso_ports; i++)
		if (s->local_port == m->f->also_ports[i])
			goto pass;
	copy.flags |= EPH_SOCK_PORT_LOCKED;
pass:
	return m->ops->sock ? m->ops->sock(&copy, m->data) : 0;
}

int sockdiag_run(struct eph_scan *scan, const struct sockdiag_filter *f,
		 const struct eph_scan_ops *ops, void *data)
{
	struct eph_scan_ops marked = { NULL, mark_locked };
	struct mark m = { ops, data, f };
	unsigned int count = 0;
	int r = 0;

	ctx_clear_error(scan->ctx);
	if (f->f.port_range && f->f.port_lo > f->f.port_hi)
		return ctx_error(scan->ctx, -EINVAL,
				 "scan: port range %u-%u is inverted",
				 f->f.port_lo, f->f.port_hi);
	if (f->nskip_ports > SOCKDIAG_MAX_PORTS ||
	    f->nalso_ports > SOCKDIAG_MAX_PORTS)
		return ctx_error(scan->ctx, -EINVAL,
				 "scan: at most %d ports to skip or add",
				 SOCKDIAG_MAX_PORTS);
	if (f->f.explicit_only && f->auto_only)
		return ctx_error(scan->ctx, -EINVAL,
				 "scan: explicit_only and auto_only exclude "
				 "each other");
	if (f->f.explicit_only) {
		ops = &marked;
		data = &m;
	}
	for (int tries = 0; tries < SCAN_TRIES; tries++) {
		bool intr = false;

		count = 0;
		if (m.ops && m.ops->begin) {
			r = m.ops->begin(m.data);
			if (r < 0)
				return r;
		}
		r = run_once(scan, f, ops, data, &intr, &count);
		if (r < 0 && r != -ENOBUFS) {
			drain(scan);
			return r;
		}
		if (!intr && r == 0)
			return (int)count;
		drain(scan);
	}
	return ctx_error(scan->ctx, -EAGAIN,
			 "sock_diag: the dump was interrupted %d times in a "
			 "row (sockets changing too fast); try again",
			 SCAN_TRIES);
}

EPH_EXPORT int eph_scan_run(struct eph_scan *scan,
			    const struct eph_scan_filter *filter,
			    const struct eph_scan_ops *ops, void *data)
{
	struct sockdiag_filter f = { 0 };

	if (filter)
		f.f = *filter;
	return sockdiag_run(scan, &f, ops, data);
}
