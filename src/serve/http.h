/* SPDX-License-Identifier: MIT */
/*
 * The exporter's HTTP side (libmicrohttpd): /metrics, /api/v1/snapshot,
 * the live page and /healthz, served from the last scan; a scan runs when
 * a request finds the last one older than the interval, and every request
 * that arrives meanwhile waits for that same scan.
 */
#ifndef EPHPORT_SERVE_HTTP_H
#define EPHPORT_SERVE_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "collect.h"

struct serve_config {
	struct sockaddr_storage addr; /* where to listen */
	socklen_t addrlen;
	char url[96];		 /* "http://127.0.0.1:8720/", for messages */
	uint32_t interval;	 /* seconds: scans at most this often */
	uint32_t client_timeout; /* seconds a silent client is kept */
	const char *tls_cert, *tls_key; /* PEM files, or NULL */
	const char *basic_auth;		/* user:hash file, or NULL */
	struct collector_opts scan;
	const char *netns; /* --netns as given, or NULL */
	/* Called once listening; then again for each SIGHUP reload. */
	void (*notice)(void *data, const char *what, const char *detail);
	void *data;
};

/* Why serve_run() failed: a stable code and a message. */
struct serve_error {
	const char *code;
	char message[512];
};

/*
 * Runs the exporter on CTX (already aimed at --netns) until SIGTERM or
 * SIGINT; SIGHUP reads the basic-auth file again and forgets the last
 * scan. Returns 0 after a clean stop, or a negative errno with ERR filled.
 */
int serve_run(struct eph_ctx *ctx, const struct serve_config *cfg,
	      struct serve_error *err);

#endif
