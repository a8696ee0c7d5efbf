/* SPDX-License-Identifier: MIT */
/*
 * Sockets of this very test: the holders of a port, the bind probe, the
 * owner found in /proc, and this namespace in the list of namespaces. They
 * run in the caller's namespace and change nothing but their own sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

static int lst = -1;
static uint16_t port;

/* A listener on 127.0.0.1, on a port of its own choosing. */
static int setup_owners(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	if (setup(state) < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lst = socket(AF_INET, SOCK_STREAM, 0);
	if (lst < 0 || bind(lst, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lst, 1) < 0 ||
	    getsockname(lst, (struct sockaddr *)&a, &len) < 0)
		return -1;
	port = ntohs(a.sin_port);
	return 0;
}

static int teardown_owners(void **state)
{
	close(lst);
	return teardown(state);
}

static void test_the_listener_is_found_with_its_owner(void **state)
{
	struct eph_holders *h = NULL;
	struct eph_owners *o = NULL;
	const struct eph_sock *s;
	const struct eph_owner *found;

	(void)state;
	assert_int_equal(eph_holders_new(ctx, &h), 0);
	assert_int_equal(eph_holders_scan(h, EPH_PROTO_TCP, port), 1);
	s = eph_holders_get(h, 0);
	assert_int_equal(s->state, EPH_TCP_LISTEN);
	assert_int_equal(s->local_port, port);
	assert_true(s->inode != 0);
	assert_null(eph_holders_get(h, 1));
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	assert_int_equal(eph_owners_want(o, s->inode), 0);
	assert_int_equal(eph_owners_want(o, 0), 0); /* ignored */
	assert_int_equal(eph_owners_resolve(o), 1);
	found = eph_owners_find(o, s->inode);
	assert_non_null(found);
	assert_int_equal(found->pid, getpid());
	/* This process alone holds it, and was looked for. */
	assert_true(found->looked_up);
	assert_int_equal(found->nprocs, 1);
	assert_int_equal(found->procs[0].pid, getpid());
	assert_int_equal(found->procs[0].ppid, getppid());
	assert_false(found->parent_first);
	assert_string_equal(found->comm, found->procs[0].comm);
	assert_null(eph_owners_find(o, s->inode + 1));
	/* Cleared: nothing is found until the next resolve ends. */
	eph_owners_clear(o);
	assert_null(eph_owners_find(o, s->inode));
	assert_int_equal(eph_owners_want(o, s->inode), 0);
	assert_null(eph_owners_find(o, s->inode));
	/* Compact: the same holder, read without an eph_owner. */
	owner_set_compact(o, true);
	assert_int_equal(eph_owners_resolve(o), 1);
	assert_null(eph_owners_find(o, s->inode));
	{
		const char *cgroup = NULL;
		const struct eph_owner_proc *p =
			owner_first(o, s->inode, &cgroup);

		assert_non_null(p);
		assert_int_equal(p->pid, getpid());
		assert_non_null(cgroup);
		assert_null(owner_first(o, s->inode + 1, &cgroup));
	}
	eph_owners_free(o);
	eph_holders_free(h);
}

static void test_the_bind_probe_sees_it_and_leaves_nothing(void **state)
{
	struct eph_bind_probe p = { 0 };
	struct eph_holders *h = NULL;
	int err = -1;

	(void)state;
	p.proto = IPPROTO_TCP;
	p.family = AF_INET;
	p.port = port;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), 0);
	assert_int_equal(err, EADDRINUSE);
	/* SO_REUSEADDR does not get past a listener either. */
	p.reuseaddr = true;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), 0);
	assert_int_equal(err, EADDRINUSE);
	/* UDP has a port space of its own. */
	p.proto = IPPROTO_UDP;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), 0);
	assert_int_equal(err, 0);
	/* And the probe left no socket behind. */
	assert_int_equal(eph_holders_new(ctx, &h), 0);
	assert_int_equal(eph_holders_scan(h, EPH_PROTO_UDP, port), 0);
	eph_holders_free(h);
	p.proto = 99;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), -EINVAL);
}

/*
 * In a child: N sockets (the limit on descriptors raised to allow them),
 * permuted among their descriptors with SHUFFLE (so no order holds).
 * Returns the K-th one's inode, or 0.
 */
static uint32_t child_sockets(int n, int k, bool shuffle)
{
	int *socks = calloc((size_t)n, sizeof(*socks));
	struct rlimit rl;
	struct stat st;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; socks && i < n; i++)
		socks[i] = socket(AF_INET, SOCK_STREAM, 0);
	if (!socks || fstat(socks[k], &st) < 0)
		return 0;
	for (int i = n - 1; shuffle && i > 0; i--) {
		/* Swap two descriptors' sockets through a spare. */
		int j = rand() % (i + 1), tmp = dup(socks[i]);

		dup2(socks[j], socks[i]);
		dup2(tmp, socks[j]);
		close(tmp);
	}
	return (uint32_t)st.st_ino;
}

/*
 * A child holding N sockets, the K-th of which is the one to find; with
 * SHUFFLE its descriptors are permuted first (so no order holds). Returns
 * its pid and the inode wanted.
 */
static pid_t holder(int n, int k, bool shuffle, uint32_t *ret_inode)
{
	int fds[2];
	pid_t pid;
	uint32_t inode = 0;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Never outlives a test killed half way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		inode = child_sockets(n, k, shuffle);
		if (!inode ||
		    write(fds[1], &inode, sizeof(inode)) != sizeof(inode))
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &inode, sizeof(inode)), sizeof(inode));
	close(fds[0]);
	*ret_inode = inode;
	return pid;
}

static void test_the_owner_is_exact_among_big_processes(void **state)
{
	struct eph_owners *o = NULL;
	const struct eph_owner *f;
	uint32_t in[3];
	pid_t pid[3];

	(void)state;
	/* Three processes of 3,000 descriptors; the socket is in each in
	 * turn. One holds its sockets in opening order, where bisection
	 * finds them; one has them shuffled, where only the whole walk
	 * can. */
	pid[0] = holder(3000, 2100, false, &in[0]);
	pid[1] = holder(3000, 1500, true, &in[1]);
	pid[2] = holder(3000, 10, false, &in[2]);
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	for (int i = 0; i < 3; i++) {
		eph_owners_clear(o);
		assert_int_equal(eph_owners_want(o, in[i]), 0);
		assert_int_equal(eph_owners_resolve(o), 1);
		f = eph_owners_find(o, in[i]);
		assert_non_null(f);
		assert_int_equal(f->pid, pid[i]);
	}
	/* In opening order, bisection reads a few dozen links, not 3,000
	 * per process. */
	eph_owners_clear(o);
	assert_int_equal(eph_owners_want(o, in[0]), 0);
	assert_int_equal(eph_owners_resolve(o), 1);
	assert_true(owner_readlinks(o) < 1000);
	/* All three at once, each in its own process. */
	eph_owners_clear(o);
	for (int i = 0; i < 3; i++)
		assert_int_equal(eph_owners_want(o, in[i]), 0);
	assert_int_equal(eph_owners_resolve(o), 3);
	for (int i = 0; i < 3; i++) {
		f = eph_owners_find(o, in[i]);
		assert_int_equal(f->pid, pid[i]);
		/* Siblings that made their own sockets share none. */
		assert_int_equal(f->nprocs, 1);
	}
	eph_owners_free(o);
	for (int i = 0; i < 3; i++) {
		kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
	}
}

/*
 * A child holding N sockets, shuffled, every one wanted: their inodes in
 * INODES (N of them). Returns its pid.
 */
static pid_t holder_all(int n, uint32_t *inodes)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl;
		int *socks = calloc((size_t)n, sizeof(*socks));
		uint32_t *in = calloc((size_t)n, sizeof(*in));

		/* Never outlives a test killed half way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		for (int i = 0; socks && in && i < n; i++) {
			struct stat st;

			socks[i] = socket(AF_INET, SOCK_STREAM, 0);
			if (socks[i] < 0 || fstat(socks[i], &st) < 0)
				_exit(1);
			in[i] = (uint32_t)st.st_ino;
		}
		for (int i = n - 1; i > 0; i--) {
			int j = rand() % (i + 1), tmp = dup(socks[i]);

			dup2(socks[j], socks[i]);
			dup2(tmp, socks[j]);
			close(tmp);
		}
		if (!in || write(fds[1], in, (size_t)n * sizeof(*in)) !=
				   (ssize_t)((size_t)n * sizeof(*in)))
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	for (size_t got = 0; got < (size_t)n * sizeof(*inodes);) {
		ssize_t r = read(fds[0], (char *)inodes + got,
				 (size_t)n * sizeof(*inodes) - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	close(fds[0]);
	return pid;
}

/*
 * Every socket of three processes wanted at once (usage --by process):
 * more than the walk reads alone, so they are read side by side on every
 * CPU; each socket must still be named by its own process, with the
 * search for sharers or without it.
 */
static void test_every_socket_of_many_is_exact(void **state)
{
	enum { N = 2000, P = 3 };
	static uint32_t in[P][N];
	struct eph_owners *o = NULL;
	pid_t pid[P];

	(void)state;
	for (int i = 0; i < P; i++)
		pid[i] = holder_all(N, in[i]);
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	for (int first = 0; first < 2; first++) {
		eph_owners_clear(o);
		eph_owners_set_first_only(o, first);
		for (int i = 0; i < P; i++)
			for (int k = 0; k < N; k++)
				assert_int_equal(eph_owners_want(o, in[i][k]),
						 0);
		assert_int_equal(eph_owners_resolve(o), P * N);
		for (int i = 0; i < P; i++)
			for (int k = 0; k < N; k++) {
				const struct eph_owner *f =
					eph_owners_find(o, in[i][k]);

				assert_non_null(f);
				assert_int_equal(f->pid, pid[i]);
				assert_int_equal(f->nprocs, 1);
			}
	}
	eph_owners_free(o);
	for (int i = 0; i < P; i++) {
		kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
	}
}

#define SMALL_MAX 320
#define SMALL_SOCKS 20

/*
 * NPROCS children, each with SMALL_SOCKS sockets at its lowest
 * descriptors, made when told (through a pipe) in the order ORDER gives
 * (a permutation of the children): their pids in PID, the inode of each
 * child's second socket in INODE. Child LATE (or -1) makes its first
 * socket before everyone and the rest after everyone: its first socket
 * says nothing of when the wanted one was made.
 */
static void small_holders(int nprocs, const int *order, int late, pid_t *pid,
			  uint32_t *inode)
{
	static int go[SMALL_MAX][2];
	int back[2], ino;

	assert_true(nprocs <= SMALL_MAX);
	assert_int_equal(pipe(back), 0);
	for (int i = 0; i < nprocs; i++) {
		assert_int_equal(pipe(go[i]), 0);
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			int s[SMALL_SOCKS], me, k = 0;
			struct stat st;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			/* Its own pipes out of the way, the rest closed:
			 * its sockets take descriptors 3, 4, ... */
			if (dup2(go[i][0], 900) < 0 || dup2(back[1], 901) < 0 ||
			    close_range(3, 899, 0) < 0)
				_exit(1);
			/* Its turn comes on its own pipe (twice if late). */
			if (read(900, &me, sizeof(me)) != sizeof(me))
				_exit(1);
			if (i == late) {
				s[k++] = socket(AF_INET, SOCK_STREAM, 0);
				if (write(901, &me, sizeof(me)) != sizeof(me) ||
				    read(900, &me, sizeof(me)) != sizeof(me))
					_exit(1);
			}
			while (k < SMALL_SOCKS)
				s[k++] = socket(AF_INET, SOCK_STREAM, 0);
			if (fstat(s[1], &st) < 0)
				_exit(1);
			me = (int)st.st_ino;
			if (write(901, &me, sizeof(me)) != sizeof(me))
				_exit(1);
			pause();
			_exit(0);
		}
		close(go[i][0]);
	}
	if (late >= 0) {
		assert_int_equal(write(go[late][1], &late, sizeof(late)),
				 sizeof(late));
		assert_int_equal(read(back[0], &ino, sizeof(ino)), sizeof(ino));
	}
	for (int k = 0; k < nprocs; k++) {
		int who = order[k];

		if (who == late)
			continue;
		assert_int_equal(write(go[who][1], &who, sizeof(who)),
				 sizeof(who));
		assert_int_equal(read(back[0], &ino, sizeof(ino)), sizeof(ino));
		inode[who] = (uint32_t)ino;
	}
	if (late >= 0) {
		assert_int_equal(write(go[late][1], &late, sizeof(late)),
				 sizeof(late));
		assert_int_equal(read(back[0], &ino, sizeof(ino)), sizeof(ino));
		inode[late] = (uint32_t)ino;
	}
	for (int i = 0; i < nprocs; i++)
		close(go[i][1]);
	close(back[0]);
	close(back[1]);
}

static void kill_all(int n, const pid_t *pid)
{
	for (int i = 0; i < n; i++) {
		kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
	}
}

/*
 * One socket among many small processes: the search is guided by each
 * process's first socket, then, where that misses, every process is read
 * side by side. Exact either way: children that made their sockets in
 * pid order, in reverse and shuffled; a child whose first socket is far
 * older than the wanted one (guided misses, the parallel walk finds it);
 * a big process whose sockets are shuffled (bisection misses, the whole
 * walk finds it).
 */
static void test_one_socket_among_many_processes(void **state)
{
	enum { N = 300 };
	static pid_t pid[N];
	static uint32_t inode[N];
	int order[N];
	struct eph_owners *o = NULL;
	uint32_t big_inode;
	pid_t big;

	(void)state;
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	for (int way = 0; way < 3; way++) {
		for (int i = 0; i < N; i++)
			order[i] = way == 1 ? N - 1 - i : i;
		for (int i = N - 1; way == 2 && i > 0; i--) {
			int j = rand() % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		small_holders(N, order, -1, pid, inode);
		for (int k = 0; k < N; k += 37) {
			const struct eph_owner *f;

			eph_owners_clear(o);
			assert_int_equal(eph_owners_want(o, inode[k]), 0);
			assert_int_equal(eph_owners_resolve(o), 1);
			f = eph_owners_find(o, inode[k]);
			assert_non_null(f);
			assert_int_equal(f->pid, pid[k]);
			/* Found from the first sockets: a readlink or so per
			 * process, not the 23 a whole walk reads. */
			assert_true(owner_readlinks(o) < (size_t)N * 10);
		}
		kill_all(N, pid);
	}
	/* A child's first socket far older than the wanted one. */
	for (int i = 0; i < N; i++)
		order[i] = i;
	small_holders(N, order, 123, pid, inode);
	eph_owners_clear(o);
	assert_int_equal(eph_owners_want(o, inode[123]), 0);
	assert_int_equal(eph_owners_resolve(o), 1);
	assert_int_equal(eph_owners_find(o, inode[123])->pid, pid[123]);
	/* Guided missed: the walk read the processes whole. */
	assert_true(owner_readlinks(o) > (size_t)N * 10);
	/* And a big process among them, its sockets shuffled. */
	big = holder(3000, 1777, true, &big_inode);
	eph_owners_clear(o);
	assert_int_equal(eph_owners_want(o, big_inode), 0);
	assert_int_equal(eph_owners_want(o, inode[40]), 0);
	assert_int_equal(eph_owners_resolve(o), 2);
	assert_int_equal(eph_owners_find(o, big_inode)->pid, big);
	assert_int_equal(eph_owners_find(o, inode[40])->pid, pid[40]);
	eph_owners_free(o);
	kill(big, SIGKILL);
	waitpid(big, NULL, 0);
	kill_all(N, pid);
}

/*
 * The cgroup a socket reports lists its owner: with a child moved into a
 * cgroup of its own, the walk starts there and reads one process.
 */
static void test_the_cgroup_is_looked_at_first(void **state)
{
	char mount[4096], dir[4200], procs[4300], pidtext[32];
	struct eph_owners *o = NULL;
	struct eph_sock s = { 0 };
	struct stat st;
	uint32_t in[2];
	pid_t pid[2];
	FILE *f;

	(void)state;
	if (cgroup_mount(mount, sizeof(mount)) < 0 || geteuid() != 0)
		skip();
	snprintf(dir, sizeof(dir), "%s/ephport-test-%d", mount, getpid());
	if (mkdir(dir, 0755) < 0)
		skip();
	/* Two big processes; the wanted socket is in the second, which is
	 * the one moved into the cgroup. */
	pid[0] = holder(3000, 5, true, &in[0]);
	pid[1] = holder(3000, 2999, true, &in[1]);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	f = fopen(procs, "w");
	assert_non_null(f);
	snprintf(pidtext, sizeof(pidtext), "%d\n", pid[1]);
	fputs(pidtext, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(stat(dir, &st), 0);
	s.inode = in[1];
	s.cgroup_id = st.st_ino;
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	assert_int_equal(eph_owners_want_sock(o, &s), 0);
	assert_int_equal(eph_owners_resolve(o), 1);
	assert_int_equal(eph_owners_find(o, in[1])->pid, pid[1]);
	assert_string_equal(eph_owners_find(o, in[1])->cgroup,
			    dir + strlen(mount));
	/* Shuffled, so bisection misses: one whole process (and a few
	 * probes), not two. */
	assert_true(owner_readlinks(o) < 3000 + 400);
	eph_owners_free(o);
	for (int i = 0; i < 2; i++) {
		kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

/*
 * A prefork server: a master of N descriptors (shuffled with SHUFFLE), the
 * K-th of which is the socket to find, then WORKERS children that share
 * every descriptor after fork(). The master leads a process group of its
 * own, so that killing it takes the workers too. Returns its pid.
 */
static pid_t prefork(int n, int k, bool shuffle, int workers,
		     pid_t *ret_workers, uint32_t *ret_inode)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint32_t inode;

		/* Never outlives a test killed half way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		setpgid(0, 0);
		inode = child_sockets(n, k, shuffle);
		if (!inode ||
		    write(fds[1], &inode, sizeof(inode)) != sizeof(inode))
			_exit(1);
		for (int w = 0; w < workers; w++) {
			pid_t c = fork();

			if (c == 0) {
				pause();
				_exit(0);
			}
			if (write(fds[1], &c, sizeof(c)) != sizeof(c))
				_exit(1);
		}
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], ret_inode, sizeof(*ret_inode)),
			 sizeof(*ret_inode));
	for (int w = 0; w < workers; w++)
		assert_int_equal(read(fds[0], &ret_workers[w], sizeof(pid_t)),
				 sizeof(pid_t));
	close(fds[0]);
	return pid;
}

static void kill_group(pid_t leader)
{
	kill(-leader, SIGKILL);
	waitpid(leader, NULL, 0);
}

/* Is PID among the N processes of owner F? */
static bool holds(const struct eph_owner *f, pid_t pid)
{
	for (uint32_t i = 0; i < f->nprocs; i++)
		if (f->procs[i].pid == pid)
			return true;
	return false;
}

/*
 * Regression: a socket shared after fork() was named by the first
 * process found only, so "kill PID" did not free the port. Every holder
 * is named, the master first, whether bisection finds the socket in the
 * workers (descriptors in opening order) or only their whole walk does.
 */
static void test_a_shared_socket_names_every_holder(void **state)
{
	struct eph_owners *o = NULL;
	const struct eph_owner *f;
	pid_t workers[3], master;
	uint32_t inode;

	(void)state;
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	for (int shuffle = 0; shuffle < 2; shuffle++) {
		master = prefork(3000, 2500, shuffle, 3, workers, &inode);
		eph_owners_clear(o);
		assert_int_equal(eph_owners_want(o, inode), 0);
		assert_int_equal(eph_owners_resolve(o), 1);
		f = eph_owners_find(o, inode);
		assert_non_null(f);
		assert_int_equal(f->nprocs, 4);
		assert_int_equal(f->pid, master);
		assert_int_equal(f->procs[0].pid, master);
		assert_true(f->parent_first);
		for (int w = 0; w < 3; w++) {
			assert_true(holds(f, workers[w]));
			assert_int_equal(f->procs[w + 1].ppid, master);
		}
		/* In opening order the four are found by bisection: a few
		 * hundred links, not 12,000. */
		if (!shuffle)
			assert_true(owner_readlinks(o) < 2000);
		kill_group(master);
	}
	eph_owners_free(o);
}

/*
 * Workers whose master has exited: their parent is now init and their
 * session has no leader, so the process tree no longer links them; their
 * cgroup does, and each is named.
 */
static void test_orphaned_workers_are_all_named(void **state)
{
	char mount[4096];
	struct eph_owners *o = NULL;
	const struct eph_owner *f;
	pid_t workers[2], leader;
	uint32_t inode;
	int fds[2];

	(void)state;
	if (cgroup_mount(mount, sizeof(mount)) < 0)
		skip();
	assert_int_equal(pipe(fds), 0);
	leader = fork();
	assert_true(leader >= 0);
	if (leader == 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct stat st;

		close(fds[0]);
		if (setsid() < 0 || s < 0 || fstat(s, &st) < 0)
			_exit(1);
		inode = (uint32_t)st.st_ino;
		if (write(fds[1], &inode, sizeof(inode)) != sizeof(inode))
			_exit(1);
		for (int w = 0; w < 2; w++) {
			pid_t c = fork();

			if (c == 0) {
				pause();
				_exit(0);
			}
			if (write(fds[1], &c, sizeof(c)) != sizeof(c))
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &inode, sizeof(inode)), sizeof(inode));
	for (int w = 0; w < 2; w++)
		assert_int_equal(read(fds[0], &workers[w], sizeof(pid_t)),
				 sizeof(pid_t));
	close(fds[0]);
	/* The master is gone: the workers are orphans. */
	waitpid(leader, NULL, 0);
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	assert_int_equal(eph_owners_want(o, inode), 0);
	assert_int_equal(eph_owners_resolve(o), 1);
	f = eph_owners_find(o, inode);
	assert_non_null(f);
	assert_int_equal(f->nprocs, 2);
	assert_true(holds(f, workers[0]));
	assert_true(holds(f, workers[1]));
	/* Siblings: neither is the other's parent. */
	assert_false(f->parent_first);
	eph_owners_free(o);
	kill(-leader, SIGKILL);
}

static void test_this_namespace_is_listed_once(void **state)
{
	struct eph_netns *list = NULL;
	size_t n = 0, current = 0;
	uint64_t dev, ino;

	(void)state;
	assert_int_equal(eph_netns_list(ctx, &list, &n), 0);
	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &ino), 0);
	for (size_t i = 0; i < n; i++) {
		if (list[i].current) {
			current++;
			assert_true(list[i].dev == dev && list[i].ino == ino);
		}
		for (size_t k = i + 1; k < n; k++)
			assert_false(list[i].dev == list[k].dev &&
				     list[i].ino == list[k].ino);
	}
	assert_int_equal(current, 1);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_listener_is_found_with_its_owner),
		cmocka_unit_test(
			test_the_bind_probe_sees_it_and_leaves_nothing),
		cmocka_unit_test(test_this_namespace_is_listed_once),
		cmocka_unit_test(test_the_owner_is_exact_among_big_processes),
		cmocka_unit_test(test_every_socket_of_many_is_exact),
		cmocka_unit_test(test_one_socket_among_many_processes),
		cmocka_unit_test(test_the_cgroup_is_looked_at_first),
		cmocka_unit_test(test_a_shared_socket_names_every_holder),
		cmocka_unit_test(test_orphaned_workers_are_all_named),
	};

	return cmocka_run_group_tests(tests, setup_owners, teardown_owners);
}
