// SPDX-License-Identifier: MIT
/*
 * idle: N idle processes holding a few sockets each, for the benchmark of
 * 'ephport why': the owner lookup has to walk every process's descriptors,
 * and a busy host has many processes.
 *
 *   idle --procs N --socks S --ready-file F
 *
 * Each child opens S TCP listeners on ports the kernel picks (listen()
 * without bind) and sleeps. When all are up, the parent writes to F the
 * port of the last child's first listener (a port 'why' can look up) and
 * waits for SIGTERM or SIGINT, then kills the children.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long number(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "idle: %s must be %ld..%ld\n", what, lo, hi);
		exit(2);
	}
	return v;
}

/* The child: S listeners, then sleep until the parent goes. */
static void child(int socks, int wfd)
{
	unsigned short first = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int i = 0; i < socks; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || listen(fd, 1) < 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
			_exit(1);
		if (i == 0)
			first = ntohs(sa.sin_port);
	}
	if (write(wfd, &first, sizeof(first)) != sizeof(first))
		_exit(1);
	close(wfd);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "procs", required_argument, NULL, 'p' },
		{ "socks", required_argument, NULL, 's' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	long procs = 2000, socks = 3;
	const char *ready = NULL;
	unsigned short port = 0;
	pid_t *pids;
	int c, pfd[2];
	FILE *f;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			procs = number(optarg, 1, 20000, "--procs");
			break;
		case 's':
			socks = number(optarg, 1, 100, "--socks");
			break;
		case 'r':
			ready = optarg;
			break;
		default:
			fprintf(stderr, "usage: idle --procs N --socks S "
					"--ready-file F\n");
			return 2;
		}
	}
	if (!ready) {
		fprintf(stderr, "idle: --ready-file is required\n");
		return 2;
	}
	pids = calloc((size_t)procs, sizeof(*pids));
	if (!pids || pipe(pfd) < 0) {
		perror("idle");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (long i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("idle: fork");
			stop = 1;
			break;
		}
		if (pids[i] == 0) {
			close(pfd[0]);
			child((int)socks, pfd[1]);
		}
	}
	close(pfd[1]);
	/* Every child reports once; the last report names the port. */
	for (long i = 0; i < procs && !stop; i++)
		if (read(pfd[0], &port, sizeof(port)) != sizeof(port))
			break;
	f = fopen(ready, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0) {
		perror(ready);
		stop = 1;
	}
	while (!stop)
		pause();
	for (long i = 0; i < procs; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
