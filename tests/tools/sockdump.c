/* SPDX-License-Identifier: MIT */
/*
 * sockdump: prints what the library's scanner sees, one socket a line, so
 * that the end-to-end tests can hold it against ss(8); and records raw
 * replies as fixtures.
 *
 *   sockdump [--netns NS] [--tcp|--udp] [--range LO-HI] [--explicit]
 *            [--record FILE]
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "../helpers.h"
#include "internal.h"

static int print_sock(const struct eph_sock *s, void *data)
{
	char l[64], r[64];

	(void)data;
	printf("%s %s %s %u %s %u inode=%u uid=%u expires=%u flags=%u\n",
	       s->proto == IPPROTO_TCP ? "tcp" : "udp",
	       eph_tcp_state_name(s->state), eph_addr_format(s->local, l, 64),
	       s->local_port, eph_addr_format(s->remote, r, 64), s->remote_port,
	       s->inode, s->uid, s->expires_ms, s->flags);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "tcp", no_argument, NULL, 't' },
		{ "udp", no_argument, NULL, 'u' },
		{ "range", required_argument, NULL, 'r' },
		{ "explicit", no_argument, NULL, 'e' },
		{ "auto", no_argument, NULL, 'a' },
		{ "skip", required_argument, NULL, 's' },
		{ "also", required_argument, NULL, 'A' },
		{ "record", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockdiag_filter f = { 0 };
	struct eph_scan_ops ops = { NULL, print_sock };
	struct eph_ctx *ctx = ctx_new();
	struct eph_scan *scan;
	const char *netns = NULL, *record = NULL;
	int c, n, fd = -1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			netns = optarg;
			break;
		case 't':
			f.f.protos |= EPH_PROTO_TCP;
			break;
		case 'u':
			f.f.protos |= EPH_PROTO_UDP;
			break;
		case 'r': {
			unsigned int lo, hi;

			if (sscanf(optarg, "%u-%u", &lo, &hi) != 2 ||
			    hi > 65535) {
				fprintf(stderr, "bad range\n");
				return 2;
			}
			f.f.port_range = true;
			f.f.port_lo = (uint16_t)lo;
			f.f.port_hi = (uint16_t)hi;
			break;
		}
		case 'e':
			f.f.explicit_only = true;
			break;
		case 'a':
			f.auto_only = true;
			break;
		case 's':
		case 'A': {
			unsigned int port;

			if (sscanf(optarg, "%u", &port) != 1 || port > 65535) {
				fprintf(stderr, "bad port\n");
				return 2;
			}
			if (c == 's' && f.nskip_ports < SOCKDIAG_MAX_PORTS)
				f.skip_ports[f.nskip_ports++] = (uint16_t)port;
			else if (c == 'A' && f.nalso_ports < SOCKDIAG_MAX_PORTS)
				f.also_ports[f.nalso_ports++] = (uint16_t)port;
			break;
		}
		case 'w':
			record = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!ctx || (netns && eph_ctx_set_netns(ctx, netns) < 0)) {
		fprintf(stderr, "sockdump: %s\n", eph_ctx_errmsg(ctx));
		return 1;
	}
	if (eph_scan_new(ctx, &scan) < 0) {
		fprintf(stderr, "sockdump: %s\n", eph_ctx_errmsg(ctx));
		return 1;
	}
	if (record) {
		fd = open(record, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(record);
			return 1;
		}
		sockdiag_set_tap(scan, fd);
	}
	n = sockdiag_run(scan, &f, &ops, NULL);
	if (n < 0)
		fprintf(stderr, "sockdump: %s\n", eph_ctx_errmsg(ctx));
	if (fd >= 0)
		close(fd);
	eph_scan_free(scan);
	eph_ctx_free(ctx);
	return n < 0 ? 1 : 0;
}
