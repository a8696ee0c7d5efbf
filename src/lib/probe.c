/* SPDX-License-Identifier: MIT */
/*
 * The ground truth about a port: try bind(2) on it in the target namespace
 * and close the socket at once. A socket that was bound but never listened
 * or connected leaves nothing behind (no TIME_WAIT, no bind bucket), so the
 * check changes nothing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

EPH_EXPORT int eph_bind_probe(struct eph_ctx *ctx,
			      const struct eph_bind_probe *probe,
			      int *ret_errno)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, r, err = 0, serr;
	int type = probe->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;

	ctx_clear_error(ctx);
	if (probe->proto != IPPROTO_TCP && probe->proto != IPPROTO_UDP)
		return ctx_error(ctx, -EINVAL, "bind probe: unknown protocol");
	memset(&ss, 0, sizeof(ss));
	if (probe->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(probe->port);
		if (probe->addr_set)
			memcpy(&sin->sin_addr, probe->addr + 12, 4);
		len = sizeof(*sin);
	} else if (probe->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(probe->port);
		if (probe->addr_set)
			memcpy(&sin6->sin6_addr, probe->addr, 16);
		len = sizeof(*sin6);
	} else {
		return ctx_error(ctx, -EINVAL, "bind probe: unknown family");
	}

	/* A socket belongs to the namespace it was made in. */
	r = ctx_netns_enter(ctx);
	if (r < 0)
		return r;
	fd = socket(probe->family, type | SOCK_CLOEXEC, 0);
	serr = fd < 0 ? errno : 0;
	r = ctx_netns_leave(ctx);
	if (fd < 0)
		return ctx_error(ctx, -serr,
				 "bind probe: cannot make an %s socket: %s",
				 probe->family == AF_INET ? "IPv4" : "IPv6",
				 strerror(serr));
	if (r < 0)
		goto out;
	if (probe->reuseaddr &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		r = ctx_error(ctx, -errno, "bind probe: SO_REUSEADDR: %s",
			      strerror(errno));
		goto out;
	}
	if (probe->family == AF_INET6) {
		int v6only = probe->v6only ? 1 : 0;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			       sizeof(v6only)) < 0) {
			r = ctx_error(ctx, -errno,
				      "bind probe: IPV6_V6ONLY: %s",
				      strerror(errno));
			goto out;
		}
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		err = errno;
	*ret_errno = err;
	r = 0;
out:
	close(fd);
	return r;
}
