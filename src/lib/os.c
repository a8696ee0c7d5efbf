/* SPDX-License-Identifier: MIT */
/*
 * Other systems' default ephemeral ranges: where a port that is safe on this
 * host may still be handed out elsewhere. Immutable data, no state.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const struct eph_os os_table[] = {
	{ "iana", "IANA dynamic ports (RFC 6335)", 49152, 65535, false, "",
	  NULL },
	{ "linux", "Linux 4.2 and later", 32768, 60999, false,
	  "/proc/sys/net/ipv4/ip_local_port_range", NULL },
	{ "linux-2.4", "Linux 2.4 to 4.1", 32768, 61000, true,
	  "/proc/sys/net/ipv4/ip_local_port_range",
	  "small-memory hosts used a smaller range" },
	{ "linux-2.2", "Linux 2.2", 1024, 4999, true,
	  "/proc/sys/net/ipv4/ip_local_port_range", NULL },
	{ "freebsd", "FreeBSD", 10000, 65535, false,
	  "sysctl net.inet.ip.portrange.first/.last", NULL },
	{ "openbsd", "OpenBSD", 1024, 49151, false,
	  "sysctl net.inet.ip.portfirst/portlast",
	  "sockets that ask for high ports get 49152-65535 "
	  "(net.inet.ip.porthifirst/porthilast)" },
	{ "netbsd", "NetBSD", 49152, 65535, false,
	  "sysctl net.inet.ip.anonportmin/anonportmax", NULL },
	{ "macos", "macOS", 49152, 65535, false,
	  "sysctl net.inet.ip.portrange.first/.last", NULL },
	{ "windows", "Windows Vista/2008 and later", 49152, 65535, false,
	  "netsh int ipv4 show dynamicport tcp",
	  "Hyper-V and WinNAT also exclude port ranges unannounced "
	  "(netsh int ipv4 show excludedportrange protocol=tcp)" },
	{ "windows-xp", "Windows 2000/XP/2003", 1025, 5000, true,
	  "registry value MaxUserPort", NULL },
	{ "solaris", "Solaris / illumos", 32768, 65535, false,
	  "ndd /dev/tcp tcp_smallest_anon_port", NULL },
	{ "aix", "AIX", 32768, 65535, false, "no -a (tcp_ephemeral_low/high)",
	  NULL },
	{ "hpux", "HP-UX 11", 49152, 65535, false,
	  "ndd -get /dev/tcp tcp_smallest_anon_port", NULL },
};

EPH_EXPORT size_t eph_os_count(void)
{
	return ARRAY_SIZE(os_table);
}

EPH_EXPORT const struct eph_os *eph_os_get(size_t i)
{
	return i < eph_os_count() ? &os_table[i] : NULL;
}

EPH_EXPORT const struct eph_os *eph_os_find(const char *name)
{
	for (size_t i = 0; i < eph_os_count(); i++)
		if (strcasecmp(os_table[i].name, name) == 0)
			return &os_table[i];
	return NULL;
}

EPH_EXPORT bool eph_ranges_overlap(uint16_t lo1, uint16_t hi1, uint16_t lo2,
				   uint16_t hi2)
{
	return lo1 <= hi2 && lo2 <= hi1;
}

EPH_EXPORT uint32_t eph_ranges_shared(uint16_t lo1, uint16_t hi1, uint16_t lo2,
				      uint16_t hi2)
{
	uint16_t lo = lo1 > lo2 ? lo1 : lo2, hi = hi1 < hi2 ? hi1 : hi2;

	return lo <= hi ? (uint32_t)hi - lo + 1 : 0;
}

EPH_EXPORT int eph_os_parse_list(struct eph_ctx *ctx, const char *list,
				 uint64_t *ret_mask)
{
	uint64_t mask = 0;

	ctx_clear_error(ctx);
	if (strcmp(list, "all") == 0 || strcmp(list, "current") == 0) {
		for (size_t i = 0; i < eph_os_count(); i++)
			if (list[0] == 'a' || !os_table[i].legacy)
				mask |= 1ull << i;
		*ret_mask = mask;
		return 0;
	}
	if (!*list)
		return ctx_error(ctx, -EINVAL,
				 "an empty list of systems (see 'ephport "
				 "ranges --os')");
	for (const char *p = list;;) {
		size_t l = strcspn(p, ",");
		char q[48];
		size_t i;

		for (i = 0; i < eph_os_count(); i++)
			if (strlen(os_table[i].name) == l &&
			    strncasecmp(os_table[i].name, p, l) == 0)
				break;
		if (l == 0)
			return ctx_error(
				ctx, -EINVAL,
				"an empty name in the list of systems "
				"%s",
				num_quote(list, strlen(list), q, sizeof(q)));
		if (i == eph_os_count())
			return ctx_error(ctx, -EINVAL,
					 "unknown system %s (see 'ephport "
					 "ranges --os')",
					 num_quote(p, l, q, sizeof(q)));
		mask |= 1ull << i;
		if (!p[l])
			break;
		p += l + 1;
	}
	*ret_mask = mask;
	return 0;
}

EPH_EXPORT uint64_t eph_os_holding(uint64_t mask, uint16_t port)
{
	uint64_t r = 0;

	for (size_t i = 0; i < eph_os_count(); i++)
		if ((mask >> i & 1) && port >= os_table[i].low &&
		    port <= os_table[i].high)
			r |= 1ull << i;
	return r;
}
