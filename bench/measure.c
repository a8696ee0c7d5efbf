// SPDX-License-Identifier: MIT
/*
 * measure: runs a command several times and reports its wall time, CPU time
 * and peak resident set size, without needing GNU time.
 *
 *   measure [-n RUNS] [-w WARMUP] [-o FILE] [-q] -- COMMAND [ARG...]
 *
 * Each run is one fork() and execvp(); the wall time is taken around fork()
 * and wait4(), and wait4() gives the child's rusage. That rusage also covers
 * the descendants the child waited for (RUSAGE_BOTH in the kernel), so for
 * "sh -c 'a | b'" the peak RSS is that of the largest of sh, a and b (not
 * their sum) and the CPU time is all of theirs together.
 *
 * The command's standard output goes to FILE (truncated at each run), or to
 * /dev/null. Every measured run prints one line
 *
 *   run I wall_ms W cpu_ms C maxrss_kib R
 *
 * (unless -q), and the end prints
 *
 *   runs N wall_ms_median W wall_ms_min W cpu_ms_median C maxrss_kib R
 *
 * where maxrss_kib is the largest of all runs. The exit status is 0 when
 * every run exited 0, and 1 otherwise (the command's status is reported).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#define MAX_RUNS 1000

struct sample {
	double wall_ms;
	double cpu_ms;
	long maxrss_kib;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: measure [-n RUNS] [-w WARMUP] [-o FILE] [-q] -- "
		   "COMMAND [ARG...]\n");
}

static int parse_count(const char *s, unsigned long min, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > MAX_RUNS)
		return -1;
	*ret = v;
	return 0;
}

static double ts_ms(const struct timespec *ts)
{
	return (double)ts->tv_sec * 1e3 + (double)ts->tv_nsec / 1e6;
}

static double tv_ms(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned long n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs the command once. Returns 0 when it exited 0. */
static int run_once(char **cmd, const char *out, struct sample *s)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return -1;
	}
	if (pid == 0) {
		int fd = open(out ? out : "/dev/null",
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
			perror("measure: output file");
			_exit(127);
		}
		execvp(cmd[0], cmd);
		fprintf(stderr, "measure: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("measure: wait4");
			return -1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->wall_ms = ts_ms(&t1) - ts_ms(&t0);
	s->cpu_ms = tv_ms(&ru.ru_utime) + tv_ms(&ru.ru_stime);
	s->maxrss_kib = ru.ru_maxrss;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		fprintf(stderr, "measure: %s exited with status %d\n", cmd[0],
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "measure: %s killed by signal %d\n", cmd[0],
			WTERMSIG(status));
	return -1;
}

int main(int argc, char **argv)
{
	unsigned long runs = 5, warmup = 0, i;
	const char *out = NULL;
	struct sample *s;
	double *wall, *cpu, wall_min;
	long maxrss = 0;
	int quiet = 0, opt;

	while ((opt = getopt(argc, argv, "+n:w:o:qh")) != -1) {
		switch (opt) {
		case 'n':
			if (parse_count(optarg, 1, &runs) < 0) {
				fprintf(stderr,
					"measure: -n: '%s' is not a number "
					"from 1 to %d\n",
					optarg, MAX_RUNS);
				return 2;
			}
			break;
		case 'w':
			if (parse_count(optarg, 0, &warmup) < 0) {
				fprintf(stderr,
					"measure: -w: '%s' is not a number "
					"from 0 to %d\n",
					optarg, MAX_RUNS);
				return 2;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}

	s = calloc(runs, sizeof(*s));
	wall = calloc(runs, sizeof(*wall));
	cpu = calloc(runs, sizeof(*cpu));
	if (!s || !wall || !cpu) {
		perror("measure: calloc");
		return 1;
	}
	for (i = 0; i < warmup; i++) {
		struct sample w;

		if (run_once(argv + optind, out, &w) < 0)
			return 1;
	}
	for (i = 0; i < runs; i++) {
		if (run_once(argv + optind, out, &s[i]) < 0)
			return 1;
		if (!quiet)
			printf("run %lu wall_ms %.3f cpu_ms %.3f maxrss_kib "
			       "%ld\n",
			       i + 1, s[i].wall_ms, s[i].cpu_ms,
			       s[i].maxrss_kib);
		wall[i] = s[i].wall_ms;
		cpu[i] = s[i].cpu_ms;
		if (s[i].maxrss_kib > maxrss)
			maxrss = s[i].maxrss_kib;
	}
	wall_min = wall[0];
	for (i = 1; i < runs; i++)
		if (wall[i] < wall_min)
			wall_min = wall[i];
	printf("runs %lu wall_ms_median %.3f wall_ms_min %.3f cpu_ms_median "
	       "%.3f maxrss_kib %ld\n",
	       runs, median(wall, runs), wall_min, median(cpu, runs), maxrss);
	free(s);
	free(wall);
	free(cpu);
	return 0;
}
