/* SPDX-License-Identifier: MIT */
/*
 * The host policy: the sysctls of one network namespace that decide which
 * ports the kernel hands out, and the findings they lead to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WARN_MAX 16
#define IANA_LOW 49152u
#define IANA_HIGH 65535u
#define REGISTERED_LOW 1024u
#define REGISTERED_HIGH 49151u

struct eph_policy {
	uint16_t low, high;
	struct eph_portset reserved;
	int64_t knob[EPH_KNOB__COUNT];
	bool have[EPH_KNOB__COUNT];
	struct eph_warning warn[WARN_MAX];
	size_t nwarn;
};

static const struct knob_def {
	const char *name;
	uint64_t max;
	bool optional; /* newer than the oldest kernel we support */
	int64_t def;
} knobs[EPH_KNOB__COUNT] = {
	[EPH_KNOB_UNPRIVILEGED_PORT_START] = { "net.ipv4.ip_unprivileged_port_"
					       "start",
					       65536, false, 1024 },
	[EPH_KNOB_TCP_TW_REUSE] = { "net.ipv4.tcp_tw_reuse", 2, false, 2 },
	[EPH_KNOB_TCP_TW_REUSE_DELAY] = { "net.ipv4.tcp_tw_reuse_delay",
					  INT32_MAX, true, 1000 },
	[EPH_KNOB_TCP_TIMESTAMPS] = { "net.ipv4.tcp_timestamps", 2, false, 1 },
	[EPH_KNOB_TCP_MAX_TW_BUCKETS] = { "net.ipv4.tcp_max_tw_buckets",
					  INT32_MAX, false, 131072 },
	[EPH_KNOB_TCP_FIN_TIMEOUT] = { "net.ipv4.tcp_fin_timeout", INT32_MAX,
				       false, 60 },
	/* Absent when IPv6 is off. */
	[EPH_KNOB_BINDV6ONLY] = { "net.ipv6.bindv6only", 1, true, 0 },
};

EPH_EXPORT const char *eph_knob_name(enum eph_knob knob)
{
	if ((unsigned int)knob >= EPH_KNOB__COUNT)
		return NULL;
	return knobs[knob].name;
}

static void evaluate(struct eph_policy *p);

EPH_EXPORT int eph_policy_new(struct eph_policy **ret)
{
	struct eph_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->low = 32768;
	p->high = 60999;
	for (size_t i = 0; i < EPH_KNOB__COUNT; i++) {
		p->knob[i] = knobs[i].def;
		p->have[i] = true;
	}
	evaluate(p);
	*ret = p;
	return 0;
}

EPH_EXPORT int eph_policy_dup(const struct eph_policy *p,
			      struct eph_policy **ret)
{
	struct eph_policy *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	memcpy(c, p, sizeof(*c));
	*ret = c;
	return 0;
}

EPH_EXPORT void eph_policy_free(struct eph_policy *p)
{
	free(p);
}

int policy_range_parse(struct eph_ctx *ctx, const char *s, size_t len,
		       uint16_t *ret_low, uint16_t *ret_high)
{
	const char *what = POLICY_KEY_RANGE;
	char q[64];
	size_t i = 0, a;
	uint64_t lo, hi;
	int r;

	num_trim_newline(s, &len);
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	a = i;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (a == 0 || i == a || i == len)
		return ctx_error(ctx, -EINVAL,
				 "%s: %s is not two numbers \"LOW HIGH\"", what,
				 num_quote(s, len, q, sizeof(q)));
	r = eph_num_parse(ctx, s, a, 0, EPH_PORT_MAX, what, &lo);
	if (r < 0)
		return r;
	r = eph_num_parse(ctx, s + i, len - i, 0, EPH_PORT_MAX, what, &hi);
	if (r < 0)
		return r;
	if (lo > hi)
		return ctx_error(ctx, -ERANGE,
				 "%s: low bound %llu is above high bound %llu",
				 what, (unsigned long long)lo,
				 (unsigned long long)hi);
	*ret_low = (uint16_t)lo;
	*ret_high = (uint16_t)hi;
	return 0;
}

/* Reads and parses every sysctl into P; the caller is in the namespace. */
static int read_all(struct eph_ctx *ctx, struct eph_policy *p)
{
	const char *buf;
	size_t len;
	uint64_t v;
	int r;

	r = ctx_sysctl_read(ctx, POLICY_KEY_RANGE, &buf, &len);
	if (r < 0)
		return r;
	r = policy_range_parse(ctx, buf, len, &p->low, &p->high);
	if (r < 0)
		return r;

	r = ctx_sysctl_read(ctx, POLICY_KEY_RESERVED, &buf, &len);
	if (r < 0)
		return r;
	r = eph_portset_parse(ctx, &p->reserved, buf, len);
	if (r < 0)
		return ctx_error(ctx, r, "net.ipv4.ip_local_reserved_ports: %s",
				 eph_ctx_errmsg(ctx));

	for (size_t i = 0; i < EPH_KNOB__COUNT; i++) {
		r = ctx_sysctl_read(ctx, knobs[i].name, &buf, &len);
		if (r == -ENOENT && knobs[i].optional) {
			p->have[i] = false;
			p->knob[i] = 0;
			continue;
		}
		if (r < 0)
			return r;
		num_trim_newline(buf, &len);
		r = eph_num_parse(ctx, buf, len, 0, knobs[i].max, knobs[i].name,
				  &v);
		if (r < 0)
			return r;
		p->have[i] = true;
		p->knob[i] = (int64_t)v;
	}
	return 0;
}

EPH_EXPORT int eph_policy_read(struct eph_ctx *ctx, struct eph_policy **ret)
{
	struct eph_policy *p;
	int r, r2;

	ctx_clear_error(ctx);
	p = calloc(1, sizeof(*p));
	if (!p)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	r = ctx_netns_enter(ctx);
	if (r < 0)
		goto out;
	r = read_all(ctx, p);
	r2 = ctx_netns_leave(ctx);
	if (r == 0)
		r = r2;
	if (r < 0)
		goto out;
	evaluate(p);
	*ret = p;
	return 0;
out:
	free(p);
	return r;
}

EPH_EXPORT void eph_policy_range(const struct eph_policy *p, uint16_t *ret_low,
				 uint16_t *ret_high)
{
	*ret_low = p->low;
	*ret_high = p->high;
}

EPH_EXPORT uint32_t eph_policy_range_size(const struct eph_policy *p)
{
	return (uint32_t)p->high - p->low + 1;
}

EPH_EXPORT bool eph_policy_in_range(const struct eph_policy *p, uint16_t port)
{
	return port >= p->low && port <= p->high;
}

EPH_EXPORT uint32_t eph_policy_unprivileged_start(const struct eph_policy *p)
{
	return p->have[EPH_KNOB_UNPRIVILEGED_PORT_START]
		       ? (uint32_t)p->knob[EPH_KNOB_UNPRIVILEGED_PORT_START]
		       : 1024u;
}

EPH_EXPORT const struct eph_portset *
eph_policy_reserved(const struct eph_policy *p)
{
	return &p->reserved;
}

EPH_EXPORT uint32_t eph_policy_reserved_in_range(const struct eph_policy *p)
{
	return eph_portset_count_range(&p->reserved, p->low, p->high);
}

EPH_EXPORT uint32_t eph_policy_available(const struct eph_policy *p)
{
	return eph_policy_range_size(p) - eph_policy_reserved_in_range(p);
}

EPH_EXPORT int eph_policy_knob(const struct eph_policy *p, enum eph_knob knob,
			       int64_t *ret)
{
	if ((unsigned int)knob >= EPH_KNOB__COUNT)
		return -EINVAL;
	if (!p->have[knob])
		return -ENOENT;
	*ret = p->knob[knob];
	return 0;
}

EPH_EXPORT int eph_policy_set_range(struct eph_policy *p, uint16_t low,
				    uint16_t high)
{
	if (low > high)
		return -EINVAL;
	p->low = low;
	p->high = high;
	evaluate(p);
	return 0;
}

EPH_EXPORT void eph_policy_set_reserved(struct eph_policy *p,
					const struct eph_portset *reserved)
{
	eph_portset_copy(&p->reserved, reserved);
	evaluate(p);
}

EPH_EXPORT int eph_policy_set_knob(struct eph_policy *p, enum eph_knob knob,
				   int64_t value)
{
	if ((unsigned int)knob >= EPH_KNOB__COUNT || value < 0 ||
	    (uint64_t)value > knobs[knob].max)
		return -EINVAL;
	p->knob[knob] = value;
	p->have[knob] = true;
	evaluate(p);
	return 0;
}

EPH_EXPORT size_t eph_policy_warning_count(const struct eph_policy *p)
{
	return p->nwarn;
}

EPH_EXPORT const struct eph_warning *
eph_policy_warning(const struct eph_policy *p, size_t i)
{
	return i < p->nwarn ? &p->warn[i] : NULL;
}

static void warn(struct eph_policy *p, const char *code, enum eph_severity sev,
		 const char *fmt, ...) EPH_PRINTF(4, 5);

static void warn(struct eph_policy *p, const char *code, enum eph_severity sev,
		 const char *fmt, ...)
{
	struct eph_warning *w;
	va_list ap;

	if (p->nwarn >= WARN_MAX)
		return;
	w = &p->warn[p->nwarn++];
	w->code = code;
	w->severity = sev;
	va_start(ap, fmt);
	vsnprintf(w->message, sizeof(w->message), fmt, ap);
	va_end(ap);
}

/* Warnings first, then remarks; stable within each severity. */
static void sort_warnings(struct eph_policy *p)
{
	struct eph_warning tmp[WARN_MAX];
	size_t n = 0;

	for (int sev = EPH_SEV_WARNING; sev >= EPH_SEV_INFO; sev--)
		for (size_t i = 0; i < p->nwarn; i++)
			if ((int)p->warn[i].severity == sev)
				tmp[n++] = p->warn[i];
	memcpy(p->warn, tmp, n * sizeof(tmp[0]));
}

static void evaluate(struct eph_policy *p)
{
	uint32_t size = eph_policy_range_size(p);
	uint32_t res_in = eph_policy_reserved_in_range(p);
	uint32_t res_out = eph_portset_count(&p->reserved) - res_in;
	uint32_t avail = size - res_in;
	int64_t reuse = p->knob[EPH_KNOB_TCP_TW_REUSE];

	p->nwarn = 0;
	if (size > 1 && p->low % 2 == p->high % 2)
		warn(p, EPH_WARN_RANGE_SAME_PARITY, EPH_SEV_WARNING,
		     "range %u-%u has bounds of the same parity: connect() "
		     "and bind(0) each miss one port per scan and can fail "
		     "while a port is still free (the kernel logs \"prefer "
		     "different parity for start/end values\"); use %u-%u",
		     p->low, p->high, p->low, p->high - 1u);
	if (res_in > 0 && (uint64_t)res_in * 100 >=
				  (uint64_t)size * EPH_RESERVED_LARGE_SHARE_PCT)
		warn(p, EPH_WARN_RESERVED_LARGE_SHARE, EPH_SEV_WARNING,
		     "%u of the range's %u ports (%u%%) are reserved; "
		     "autobind has %u left",
		     res_in, size,
		     (unsigned int)((uint64_t)res_in * 100 / size), avail);
	if (avail < EPH_SMALL_RANGE_PORTS)
		warn(p, EPH_WARN_RANGE_SMALL, EPH_SEV_WARNING,
		     "only %u ephemeral ports (fewer than IANA's %u): a busy "
		     "client can run out toward a single destination, as each "
		     "closed connection also holds its port for 60 s in "
		     "TIME_WAIT",
		     avail, EPH_SMALL_RANGE_PORTS);
	if (p->have[EPH_KNOB_TCP_TW_REUSE] && reuse == 0)
		warn(p, EPH_WARN_TW_REUSE_OFF, EPH_SEV_WARNING,
		     "tcp_tw_reuse=0: connect() never reuses a port in "
		     "TIME_WAIT, so every closed outgoing connection keeps its "
		     "port from that destination for 60 s; 2 (the default) "
		     "allows reuse toward loopback, 1 everywhere");
	if (p->have[EPH_KNOB_TCP_TIMESTAMPS] &&
	    p->knob[EPH_KNOB_TCP_TIMESTAMPS] == 0 && reuse != 0)
		warn(p, EPH_WARN_TIMESTAMPS_OFF, EPH_SEV_WARNING,
		     "tcp_timestamps=0: TIME_WAIT reuse needs timestamps, so "
		     "tcp_tw_reuse=%lld has no effect on new connections",
		     (long long)reuse);
	if (p->low < IANA_LOW) {
		uint32_t rlo =
			p->low > REGISTERED_LOW ? p->low : REGISTERED_LOW;
		uint32_t rhi =
			p->high < REGISTERED_HIGH ? p->high : REGISTERED_HIGH;

		if (rhi >= rlo)
			warn(p, EPH_WARN_RANGE_OUTSIDE_IANA, EPH_SEV_INFO,
			     "range %u-%u is not within IANA's dynamic ports "
			     "49152-65535 (RFC 6335): %u registered ports "
			     "(%u-%u) are ephemeral here, so a server on one "
			     "of them can find its port taken by an outgoing "
			     "connection",
			     p->low, p->high, rhi - rlo + 1, rlo, rhi);
		else
			warn(p, EPH_WARN_RANGE_OUTSIDE_IANA, EPH_SEV_INFO,
			     "range %u-%u is not within IANA's dynamic ports "
			     "49152-65535 (RFC 6335)",
			     p->low, p->high);
	}
	if (res_out > 0)
		warn(p, EPH_WARN_RESERVED_OUTSIDE_RANGE, EPH_SEV_INFO,
		     "%u reserved ports lie outside the range %u-%u: "
		     "autobind never picks them anyway, so those "
		     "reservations do nothing until the range grows",
		     res_out, p->low, p->high);
	sort_warnings(p);
}
