// SPDX-License-Identifier: MIT
/*
 * loadgen: fills the current network namespace with TCP sockets for the
 * benchmark of 'ephport usage'.
 *
 *   loadgen --conns N --dests K --time-wait M [--ready-file F]
 *
 * It listens on K loopback destinations (127.0.0.1, 127.0.0.2, ... port
 * 5000), opens N connections spread evenly over them and accepts them all,
 * so 2N sockets are ESTABLISHED; then it opens M more, closes the client side
 * first and the server side next, which leaves M client sockets in TIME_WAIT
 * on their ephemeral ports. Then it writes the ready file (or prints READY)
 * and waits for SIGTERM or SIGINT.
 *
 * 2N sockets need 2N file descriptors. loadgen raises RLIMIT_NOFILE to that
 * (root may go up to fs.nr_open); where it cannot (no CAP_SYS_RESOURCE, as
 * in some containers) it splits the connections over as many worker
 * processes as the hard limit requires. The workers inherit the listeners
 * and each accepts as many connections as it opened, whichever they are.
 *
 * TIME_WAIT lasts a fixed 60 s. SIGUSR1 asks for a fresh set: loadgen waits
 * until the previous set has expired (so that the count is exactly M again,
 * never a mix of old and new), makes M new ones and rewrites the ready file
 * with the next generation number.
 *
 * It must run inside a network namespace made for it: it fills that
 * namespace's port space, and the caller sets ip_local_port_range there.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define DEST_PORT 5000
#define MAX_DESTS 1024
#define MAX_CONNS 1000000UL
#define MAX_WORKERS 1024
/* Descriptors a process needs besides its connections. */
#define SPARE_FDS 64
/*
 * Connections issued but not yet accepted, over all processes. It stays
 * well below the namespace's default somaxconn (4096) per listener, so no
 * accept queue overflows and no handshake has to be retried.
 */
#define WINDOW_PER_DEST 2048
#define MAX_WINDOW 1024
#define MIN_WINDOW 32
/* TIME_WAIT sockets are made in batches, so few orphans exist at once. */
#define TW_BATCH 1000
/* Give up when no connection completes for this long. */
#define STALL_MS 10000
/*
 * Use at most this share of the port range toward one destination. connect()
 * scans the ports of one parity first, advancing its start by two ports per
 * connection toward the same destination; past half the range each search
 * walks over the used half, and past this share it slows to a crawl.
 */
#define RANGE_SHARE_PCT 90

struct dest {
	struct sockaddr_in sa;
	int lfd;
};

struct lg {
	struct dest *dests;
	unsigned int ndests;
	int ep;
	unsigned long window;
	unsigned long issued_total; /* round-robin position over dests */
};

struct worker {
	pid_t pid;
	int rfd; /* reads one byte when the worker's share is in place */
};

static struct worker *workers;
static unsigned long nworkers;
/* Set by SIGTERM or SIGINT in the parent while it builds. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: loadgen --conns N --dests K --time-wait M "
		   "[--ready-file F]\n"
		   "Run it inside a network namespace of its own.\n");
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max,
		       const char *name, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		goto bad;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		goto bad;
	*ret = v;
	return 0;
bad:
	fprintf(stderr, "loadgen: %s: '%s' is not a number from %lu to %lu\n",
		name, s, min, max);
	return -1;
}

/* Reads "low high" from the range sysctl with one read() from offset 0. */
static int read_port_range(unsigned long *ret_low, unsigned long *ret_high)
{
	const char *path = "/proc/sys/net/ipv4/ip_local_port_range";
	unsigned long low, high;
	char buf[64], *p, *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	low = strtoul(buf, &end, 10);
	if (errno || end == buf)
		return -1;
	p = end;
	high = strtoul(p, &end, 10);
	if (errno || end == p || low > 65535 || high > 65535 || low > high)
		return -1;
	*ret_low = low;
	*ret_high = high;
	return 0;
}

static unsigned long read_nr_open(void)
{
	char buf[32], *end;
	unsigned long v;
	ssize_t n;
	int fd;

	fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1048576;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1048576;
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf)
		return 1048576;
	return v;
}

/*
 * Raises RLIMIT_NOFILE toward need: root may raise the hard limit up to
 * fs.nr_open, but only with CAP_SYS_RESOURCE. Without it, the soft limit
 * goes up to the hard one. Returns the limit now in force.
 */
static unsigned long raise_nofile(unsigned long need)
{
	unsigned long nr_open = read_nr_open();
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return rl.rlim_cur == RLIM_INFINITY ? need : rl.rlim_cur;
	if (need > nr_open)
		need = nr_open;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
		rl.rlim_cur = need;
	} else {
		struct rlimit want = { .rlim_cur = need, .rlim_max = need };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return need;
		fprintf(stderr,
			"loadgen: cannot raise RLIMIT_NOFILE above %lu (%s): "
			"using several processes\n",
			(unsigned long)rl.rlim_max, strerror(errno));
		rl.rlim_cur = rl.rlim_max;
	}
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	return rl.rlim_cur;
}

static void start_listeners(struct lg *lg)
{
	unsigned int i;
	int one = 1;

	for (i = 0; i < lg->ndests; i++) {
		struct dest *d = &lg->dests[i];

		memset(&d->sa, 0, sizeof(d->sa));
		d->sa.sin_family = AF_INET;
		d->sa.sin_port = htons(DEST_PORT);
		d->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK + i);
		d->lfd = socket(AF_INET,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (d->lfd < 0)
			die("socket");
		if (setsockopt(d->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) < 0)
			die("SO_REUSEADDR");
		if (bind(d->lfd, (struct sockaddr *)&d->sa, sizeof(d->sa)) < 0)
			die("bind listener");
		if (listen(d->lfd, 4096) < 0)
			die("listen");
	}
}

/* Each process makes its own epoll instance: one made before fork() would
 * be shared. Listeners are tagged with bit 32 set. */
static void listeners_watch(struct lg *lg, int op)
{
	struct epoll_event ev;
	unsigned int i;

	for (i = 0; i < lg->ndests; i++) {
		ev.events = EPOLLIN;
		ev.data.u64 = (1ULL << 32) | (uint32_t)lg->dests[i].lfd;
		if (epoll_ctl(lg->ep, op, lg->dests[i].lfd,
			      op == EPOLL_CTL_DEL ? NULL : &ev) < 0)
			die("epoll_ctl listener");
	}
}

static void stop_workers(void);

/* The parent ends its workers (and reaps them) before it goes. */
static void check_stop(void)
{
	if (!stop_requested)
		return;
	stop_workers();
	exit(0);
}

static void accept_some(struct lg *lg, int lfd, unsigned long n,
			unsigned long *accepted, int *sfds)
{
	while (*accepted < n) {
		int s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (s < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			die("accept4");
		}
		if (sfds)
			sfds[*accepted] = s;
		(*accepted)++;
	}
	/*
	 * This process has its share; the rest of the queue is the other
	 * processes'. A level-triggered listener it no longer reads would
	 * keep waking it up.
	 */
	listeners_watch(lg, EPOLL_CTL_DEL);
}

static void issue(struct lg *lg, unsigned long *issued, unsigned long *est,
		  int *cfds)
{
	struct dest *d = &lg->dests[lg->issued_total % lg->ndests];
	struct epoll_event ev;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (cfds)
		cfds[*issued] = fd;
	(*issued)++;
	lg->issued_total++;
	if (connect(fd, (struct sockaddr *)&d->sa, sizeof(d->sa)) == 0) {
		(*est)++;
		return;
	}
	if (errno != EINPROGRESS) {
		fprintf(stderr, "loadgen: connect to %s:%d: %s\n",
			inet_ntoa(d->sa.sin_addr), DEST_PORT, strerror(errno));
		if (errno == EADDRNOTAVAIL)
			fprintf(stderr, "loadgen: the port range is "
					"exhausted: use more --dests\n");
		exit(1);
	}
	ev.events = EPOLLOUT;
	ev.data.u64 = (uint32_t)fd;
	if (epoll_ctl(lg->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl client");
}

/*
 * Opens n connections, round-robin over the destinations, and accepts n
 * (from the shared listeners, so not necessarily the same ones). The client
 * descriptors go to cfds[] and the accepted ones to sfds[] when those are
 * given; otherwise they are simply kept open.
 */
static void build(struct lg *lg, unsigned long n, int *cfds, int *sfds)
{
	unsigned long issued = 0, established = 0, accepted = 0;
	struct epoll_event evs[512];
	double last_progress = now_mono();

	if (n == 0)
		return;
	listeners_watch(lg, EPOLL_CTL_ADD);
	while (established < n || accepted < n) {
		int nev, i;

		while (issued < n && issued < accepted + lg->window)
			issue(lg, &issued, &established, cfds);

		nev = epoll_wait(lg->ep, evs, 512, 1000);
		if (nev < 0) {
			if (errno == EINTR) {
				check_stop();
				continue;
			}
			die("epoll_wait");
		}
		if (nev == 0 &&
		    (now_mono() - last_progress) * 1000 > STALL_MS) {
			fprintf(stderr,
				"loadgen: stalled: of %lu, %lu issued, %lu "
				"established, %lu accepted\n",
				n, issued, established, accepted);
			exit(1);
		}
		for (i = 0; i < nev; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			int err = 0;
			socklen_t len = sizeof(err);

			last_progress = now_mono();
			if (evs[i].data.u64 >> 32) {
				if (accepted < n)
					accept_some(lg, fd, n, &accepted, sfds);
				continue;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) <
			    0)
				die("SO_ERROR");
			if (err) {
				errno = err;
				die("connect");
			}
			if (epoll_ctl(lg->ep, EPOLL_CTL_DEL, fd, NULL) < 0)
				die("epoll_ctl del");
			established++;
		}
	}
}

/* Waits until the peer's FIN has arrived: read() then returns 0. */
static void wait_eof(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r == 0)
			return;
		if (r > 0) {
			fprintf(stderr, "loadgen: unexpected data\n");
			exit(1);
		}
		if (errno != EAGAIN && errno != EINTR)
			die("read");
		if (poll(&pfd, 1, STALL_MS) == 0) {
			fprintf(stderr, "loadgen: no FIN after %d ms\n",
				STALL_MS);
			exit(1);
		}
	}
}

/*
 * Makes m sockets in TIME_WAIT: the client closes first (FIN_WAIT2), the
 * server reads the FIN and then closes its CLOSE_WAIT end, and the client's
 * last ACK puts it into TIME_WAIT on its ephemeral port. Batches keep
 * orphans few.
 *
 * The process stays on one CPU meanwhile. Loopback queues each packet on
 * the sending CPU, so a process that moves between CPUs can have its
 * segments overtake each other; an old segment that reaches a TIME_WAIT
 * fails its PAWS check, the TIME_WAIT answers with an ACK, the closed peer
 * with a RST, and that RST kills the TIME_WAIT. That is the most likely
 * story of a run at 250,000 connections that kept 9,992 of 10,000
 * TIME_WAITs, with netstat's PAWSTimewait and OutRsts both at 8.
 */
static void make_time_wait(struct lg *lg, unsigned long m)
{
	int cfds[TW_BATCH], sfds[TW_BATCH];
	unsigned long done = 0;
	cpu_set_t saved, one;
	int cpu = sched_getcpu();
	bool pinned = false;

	if (cpu >= 0 && sched_getaffinity(0, sizeof(saved), &saved) == 0) {
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
	}
	while (done < m) {
		unsigned long b = m - done < TW_BATCH ? m - done : TW_BATCH;
		unsigned long i;

		build(lg, b, cfds, sfds);
		for (i = 0; i < b; i++)
			close(cfds[i]);
		for (i = 0; i < b; i++) {
			wait_eof(sfds[i]);
			close(sfds[i]);
		}
		done += b;
	}
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
}

/* A worker: opens and accepts its share, reports, then waits to be ended. */
static void worker_run(struct lg *lg, unsigned long base, unsigned long n,
		       int wfd, pid_t parent)
{
	unsigned int i;

	/* A worker has no workers; it simply dies of SIGTERM or SIGINT. */
	nworkers = 0;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (stop_requested)
		exit(0);
	/* Ends with the parent, however the parent ends. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		die("PR_SET_PDEATHSIG");
	if (getppid() != parent)
		exit(1);
	lg->ep = epoll_create1(EPOLL_CLOEXEC);
	if (lg->ep < 0)
		die("epoll_create1");
	lg->issued_total = base;
	build(lg, n, NULL, NULL);
	close(lg->ep);
	for (i = 0; i < lg->ndests; i++)
		close(lg->dests[i].lfd);
	if (write(wfd, "k", 1) != 1)
		die("write to parent");
	close(wfd);
	for (;;)
		pause();
}

static void stop_workers(void)
{
	unsigned long i;

	if (!workers)
		return;
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid > 0)
			kill(workers[i].pid, SIGTERM);
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid > 0)
			waitpid(workers[i].pid, NULL, 0);
}

static void start_workers(struct lg *lg, unsigned long n)
{
	unsigned long i, base = 0;
	pid_t self = getpid();

	if (nworkers == 0)
		return;
	workers = calloc(nworkers, sizeof(*workers));
	if (!workers)
		die("calloc");
	for (i = 0; i < nworkers; i++) {
		unsigned long share = n / nworkers + (i < n % nworkers);
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe2");
		fflush(NULL);
		workers[i].pid = fork();
		if (workers[i].pid < 0)
			die("fork");
		if (workers[i].pid == 0) {
			close(p[0]);
			worker_run(lg, base, share, p[1], self);
		}
		close(p[1]);
		workers[i].rfd = p[0];
		base += share;
	}
	for (i = 0; i < nworkers; i++) {
		ssize_t r;
		char c;

		do {
			r = read(workers[i].rfd, &c, 1);
			if (r < 0 && errno == EINTR)
				check_stop();
		} while (r < 0 && errno == EINTR);
		if (r != 1) {
			fprintf(stderr, "loadgen: worker %lu failed\n", i);
			stop_workers();
			exit(1);
		}
		close(workers[i].rfd);
	}
}

/* Writes the ready file atomically: a temporary file renamed over it. */
static void write_ready(const char *path, unsigned int gen, unsigned long n,
			unsigned int k, unsigned long m, double tw_done)
{
	char tmp[PATH_MAX];
	FILE *f;
	int len;

	if (!path) {
		printf("READY gen=%u\n", gen);
		fflush(stdout);
		return;
	}
	len = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (len < 0 || (size_t)len >= sizeof(tmp)) {
		fprintf(stderr, "loadgen: ready file name too long\n");
		exit(1);
	}
	f = fopen(tmp, "we");
	if (!f)
		die(tmp);
	fprintf(f,
		"gen=%u\nconns=%lu\ndests=%u\ntime_wait=%lu\n"
		"tw_done=%.3f\npid=%ld\nprocesses=%lu\n",
		gen, n, k, m, tw_done, (long)getpid(), nworkers + 1);
	if (fclose(f) != 0)
		die(tmp);
	if (rename(tmp, path) < 0)
		die("rename ready file");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "conns", required_argument, NULL, 'n' },
		{ "dests", required_argument, NULL, 'k' },
		{ "time-wait", required_argument, NULL, 'm' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long n = 0, k = 0, m = 0, low, high, per_dest, usable;
	unsigned long limit, per_proc;
	const char *ready = NULL;
	bool have_n = false, have_k = false, have_m = false;
	struct lg lg = { 0 };
	unsigned int gen = 1;
	double t0, t1, tw_done_mono, tw_done_real;
	struct sigaction sa;
	sigset_t set;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_ulong(optarg, 0, MAX_CONNS, "--conns", &n))
				return 2;
			have_n = true;
			break;
		case 'k':
			if (parse_ulong(optarg, 1, MAX_DESTS, "--dests", &k))
				return 2;
			have_k = true;
			break;
		case 'm':
			if (parse_ulong(optarg, 0, MAX_CONNS, "--time-wait",
					&m))
				return 2;
			have_m = true;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !have_n || !have_k || !have_m) {
		usage(stderr);
		return 2;
	}

	/*
	 * Every destination gets its share of both kinds of connection; a
	 * TIME_WAIT holds its 4-tuple just as an open connection does.
	 */
	if (read_port_range(&low, &high) < 0) {
		fprintf(stderr, "loadgen: cannot read ip_local_port_range\n");
		return 1;
	}
	per_dest = (n + k - 1) / k + (m + k - 1) / k;
	usable = (high - low + 1) * RANGE_SHARE_PCT / 100;
	if (per_dest > usable) {
		fprintf(stderr,
			"loadgen: %lu connections per destination, but the "
			"range %lu-%lu gives %lu (%d%%): use more --dests\n",
			per_dest, low, high, usable, RANGE_SHARE_PCT);
		return 1;
	}
	if (per_dest > (high - low + 1) / 2)
		fprintf(stderr,
			"loadgen: %lu connections per destination is over "
			"half the range %lu-%lu: connect() will slow down, "
			"use more --dests\n",
			per_dest, low, high);

	/* Each process holds both ends of its connections. */
	limit = raise_nofile(2 * n + 2 * TW_BATCH + k + SPARE_FDS);
	if (limit < 2 * TW_BATCH + k + SPARE_FDS) {
		fprintf(stderr, "loadgen: RLIMIT_NOFILE %lu is too low\n",
			limit);
		return 1;
	}
	per_proc = (limit - k - SPARE_FDS) / 2;
	nworkers = n ? (n + per_proc - 1) / per_proc : 0;
	if (nworkers > MAX_WORKERS) {
		fprintf(stderr,
			"loadgen: %lu connections would need %lu processes "
			"of %lu descriptors\n",
			n, nworkers, limit);
		return 1;
	}

	lg.ndests = (unsigned int)k;
	lg.dests = calloc(k, sizeof(*lg.dests));
	if (!lg.dests)
		die("calloc");
	lg.window = WINDOW_PER_DEST * k / (nworkers ? nworkers : 1);
	if (lg.window > MAX_WINDOW)
		lg.window = MAX_WINDOW;
	if (lg.window < MIN_WINDOW)
		lg.window = MIN_WINDOW;
	start_listeners(&lg);

	/*
	 * Until the signals are blocked below, SIGTERM and SIGINT interrupt
	 * the build (no SA_RESTART) and the parent reaps its workers.
	 */
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction");

	t0 = now_mono();
	start_workers(&lg, n);
	t1 = now_mono();
	fprintf(stderr,
		"loadgen: %lu connections (%lu sockets) in %.2f s, %lu "
		"process%s\n",
		n, 2 * n, t1 - t0, nworkers, nworkers == 1 ? "" : "es");

	lg.ep = epoll_create1(EPOLL_CLOEXEC);
	if (lg.ep < 0)
		die("epoll_create1");
	lg.window = MAX_WINDOW;
	lg.issued_total = n;

	/*
	 * Block the signals before the ready file exists, so that a SIGUSR1
	 * sent after it can never take the default action.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die("sigprocmask");
	check_stop();

	for (;;) {
		struct timespec wait;
		double left;
		int sig;

		/* TIME_WAIT last: no later connect() may reuse one. */
		t0 = now_mono();
		make_time_wait(&lg, m);
		tw_done_mono = now_mono();
		tw_done_real = now_real();
		fprintf(stderr, "loadgen: %lu TIME_WAIT in %.2f s\n", m,
			tw_done_mono - t0);
		write_ready(ready, gen, n, lg.ndests, m, tw_done_real);

		for (;;) {
			sig = sigwaitinfo(&set, NULL);
			if (sig < 0 && errno == EINTR)
				continue;
			if (sig < 0)
				die("sigwaitinfo");
			break;
		}
		if (sig != SIGUSR1)
			break;

		/* Let the previous set expire (60 s, plus a margin). */
		left = tw_done_mono + 61.0 - now_mono();
		while (left > 0) {
			wait.tv_sec = (time_t)left;
			wait.tv_nsec =
				(long)((left - (double)wait.tv_sec) * 1e9);
			sig = sigtimedwait(&set, NULL, &wait);
			if (sig == SIGTERM || sig == SIGINT)
				goto out;
			left = tw_done_mono + 61.0 - now_mono();
		}
		gen++;
	}
out:
	stop_workers();
	return 0;
}
