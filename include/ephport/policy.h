/* SPDX-License-Identifier: MIT */
/* Host policy: the sysctls that decide which ports the kernel hands out. */
#ifndef EPHPORT_POLICY_H
#define EPHPORT_POLICY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum eph_knob {
	EPH_KNOB_UNPRIVILEGED_PORT_START, /* ip_unprivileged_port_start */
	EPH_KNOB_TCP_TW_REUSE,		  /* net.ipv4.tcp_tw_reuse */
	EPH_KNOB_TCP_TW_REUSE_DELAY,	  /* tcp_tw_reuse_delay, 6.14+ */
	EPH_KNOB_TCP_TIMESTAMPS,	  /* net.ipv4.tcp_timestamps */
	EPH_KNOB_TCP_MAX_TW_BUCKETS,	  /* net.ipv4.tcp_max_tw_buckets */
	EPH_KNOB_TCP_FIN_TIMEOUT,	  /* net.ipv4.tcp_fin_timeout */
	EPH_KNOB_BINDV6ONLY, /* net.ipv6.bindv6only; absent without IPv6 */
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

/* Makes a policy holding Linux's defaults. Returns 0 or -ENOMEM. */
int eph_policy_new(struct eph_policy **ret);
void eph_policy_free(struct eph_policy *p);

/*
 * Reads the policy of CTX's namespace into a new *RET and evaluates the
 * warnings. Knobs that this kernel lacks (tcp_tw_reuse_delay before 6.14)
 * are marked absent; any other missing or malformed sysctl is an error
 * naming the file. Returns 0, or a negative errno.
 */
int eph_policy_read(struct eph_ctx *ctx, struct eph_policy **ret);

/* Makes a copy of P. Returns 0 or -ENOMEM. */
int eph_policy_dup(const struct eph_policy *p, struct eph_policy **ret);

void eph_policy_range(const struct eph_policy *p, uint16_t *ret_low,
		      uint16_t *ret_high);
/* The number of ports in the range. */
uint32_t eph_policy_range_size(const struct eph_policy *p);
/* Is PORT inside the range? */
bool eph_policy_in_range(const struct eph_policy *p, uint16_t port);
const struct eph_portset *eph_policy_reserved(const struct eph_policy *p);
/* Reserved ports inside the range. */
uint32_t eph_policy_reserved_in_range(const struct eph_policy *p);
/* Ports of the range that autobind may hand out: range minus reserved. */
uint32_t eph_policy_available(const struct eph_policy *p);
/* ip_unprivileged_port_start (1024 when the knob is absent). */
uint32_t eph_policy_unprivileged_start(const struct eph_policy *p);

/*
 * Returns KNOB's value in *RET. Returns 0, -ENOENT when this kernel lacks
 * the knob, -EINVAL for an unknown knob.
 */
int eph_policy_knob(const struct eph_policy *p, enum eph_knob knob,
		    int64_t *ret);

/*
 * Setters, for planning ("what if the range were ...") and tests. They do
 * not touch the kernel. Each re-evaluates the warnings. set_range returns
 * -EINVAL when LOW > HIGH; set_knob when VALUE is out of the knob's range.
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

/* ---- Other systems' default ephemeral ranges ---- */

struct eph_os {
	const char *name;  /* stable short name, for --os lists */
	const char *label; /* human name */
	uint16_t low, high;
	bool legacy;	   /* an old default, shown by --os all */
	const char *where; /* where that system keeps its range */
	const char *note;  /* NULL or a remark */
};

/* The number of rows in the table (at most 64). */
size_t eph_os_count(void);
/* Returns row I, or NULL past the end. */
const struct eph_os *eph_os_get(size_t i);
/* Returns the row named NAME (case-insensitive), or NULL. */
const struct eph_os *eph_os_find(const char *name);

/*
 * A set of systems, as a mask of their rows (bit I is row I), parsed from
 * a comma-separated LIST of names, "all" (every row) or "current" (the
 * rows that are not legacy). Duplicates are allowed and count once; an
 * empty list, an empty item or an unknown name is an error naming it.
 * Returns 0, or -EINVAL.
 */
int eph_os_parse_list(struct eph_ctx *ctx, const char *list,
		      uint64_t *ret_mask);

/* The rows of MASK whose range holds PORT, as a mask. */
uint64_t eph_os_holding(uint64_t mask, uint16_t port);

/* Returns true when LO1..HI1 and LO2..HI2 share a port. */
bool eph_ranges_overlap(uint16_t lo1, uint16_t hi1, uint16_t lo2, uint16_t hi2);

/* Returns how many ports LO1..HI1 and LO2..HI2 share. */
uint32_t eph_ranges_shared(uint16_t lo1, uint16_t hi1, uint16_t lo2,
			   uint16_t hi2);

#ifdef __cplusplus
}
#endif

#endif
