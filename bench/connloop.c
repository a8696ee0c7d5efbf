// SPDX-License-Identifier: MIT
/*
 * connloop: connect/close pairs on loopback, for the tracer's benchmark
 * (bench/trace.sh).
 *
 *   connloop --pairs N [--dests K] [--rate R]
 *
 * It listens on K loopback destinations (127.0.0.1, 127.0.0.2, ... port
 * 5000) and makes N connections in turn, spread over them: connect(),
 * accept(), the client closes first (its side goes to TIME_WAIT, as an
 * HTTP client's does), then the server. With --rate it paces itself to R
 * pairs a second; without, it goes as fast as it can. It prints the wall
 * time of the loop in microseconds ("us=...") and exits.
 *
 * Run it in a namespace of its own with a wide ip_local_port_range: each
 * pair leaves a TIME_WAIT for 60 s, so K destinations carry up to K times
 * the range in a minute.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DEST_PORT 5000
#define MAX_DESTS 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned long number(const char *name, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max) {
		fprintf(stderr, "connloop: %s: '%s' is not 1 to %lu\n", name, s,
			max);
		exit(2);
	}
	return v;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pairs", required_argument, NULL, 'n' },
		{ "dests", required_argument, NULL, 'k' },
		{ "rate", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long pairs = 0, dests = 4, rate = 0;
	struct sockaddr_in addr[MAX_DESTS];
	int lst[MAX_DESTS], c;
	uint64_t start, next;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			pairs = number("--pairs", optarg, 100000000);
			break;
		case 'k':
			dests = number("--dests", optarg, MAX_DESTS);
			break;
		case 'r':
			rate = number("--rate", optarg, 1000000);
			break;
		default:
			fprintf(stderr, "usage: connloop --pairs N [--dests K] "
					"[--rate R]\n");
			return 2;
		}
	}
	if (!pairs) {
		fprintf(stderr, "connloop: --pairs is needed\n");
		return 2;
	}
	for (unsigned long i = 0; i < dests; i++) {
		int one = 1;

		memset(&addr[i], 0, sizeof(addr[i]));
		addr[i].sin_family = AF_INET;
		addr[i].sin_port = htons(DEST_PORT);
		addr[i].sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)i);
		lst[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lst[i] < 0 ||
		    setsockopt(lst[i], SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) < 0 ||
		    bind(lst[i], (struct sockaddr *)&addr[i], sizeof(addr[i])) <
			    0 ||
		    listen(lst[i], 128) < 0)
			die("listener");
	}
	start = now_ns();
	next = start;
	for (unsigned long i = 0; i < pairs; i++) {
		int d = (int)(i % dests), cl, peer;

		if (rate) {
			struct timespec ts;

			next += 1000000000ull / rate;
			ts.tv_sec = (time_t)(next / 1000000000ull);
			ts.tv_nsec = (long)(next % 1000000000ull);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
					       &ts, NULL) == EINTR)
				;
		}
		cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cl < 0)
			die("socket");
		if (connect(cl, (struct sockaddr *)&addr[d], sizeof(addr[d])) <
		    0)
			die("connect");
		peer = accept(lst[d], NULL, NULL);
		if (peer < 0)
			die("accept");
		/* The client first: its side keeps the TIME_WAIT. */
		close(cl);
		close(peer);
	}
	printf("us=%llu\n", (unsigned long long)((now_ns() - start) / 1000));
	return 0;
}
