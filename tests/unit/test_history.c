/* SPDX-License-Identifier: MIT */
/*
 * The tracer's record fed by hand: what each event leaves in it, its
 * bound and the order it evicts in, TIME_WAITs leaving after 60 s, the
 * lookups usage and diagnose make, its file read back, a corrupt record
 * refused, and a recorder that restarts.
 */
#include <fcntl.h>
#include <time.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socks.h"

#define NETNS 4026531999ull
#define SEC 1000000000ull

static struct eph_trace_event ev(enum eph_trace_kind kind, const char *local,
				 uint16_t lport, const char *remote,
				 uint16_t rport, uint32_t flags, uint64_t t)
{
	struct eph_trace_event e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.boot_ns = t;
	e.netns = NETNS;
	e.proto = IPPROTO_TCP;
	e.family = AF_INET;
	v4(e.local, local);
	v4(e.remote, remote);
	e.local_port = lport;
	e.remote_port = rport;
	e.flags = flags | EPH_TRACE_OWNER;
	e.pid = 4242;
	snprintf(e.comm, sizeof(e.comm), "java");
	e.uid = 1000;
	e.cgroup_id = 77;
	e.opened_boot_ns = t ? t - 1 : 0;
	return e;
}

static struct eph_record *fresh(uint32_t limit)
{
	struct eph_record *r = NULL;

	assert_int_equal(
		history_new(ctx, HISTORY_RECORD, NETNS, NETNS, limit, &r), 0);
	return r;
}

static void add(struct eph_record *r, struct eph_trace_event e)
{
	assert_int_equal(history_add(r, &e), 0);
}

/* Looks S up; returns 0 or -ENOENT. */
static int look(const struct eph_record *r, struct eph_sock s,
		struct eph_history_entry *h)
{
	const struct eph_history *src;
	struct eph_history_entry tmp;

	/* A record made by hand is usable; lookups go through the source. */
	src = eph_record_history(r);
	assert_non_null(src);
	return src->lookup(src->data, &s, h ? h : &tmp);
}

static void
test_a_bound_first_connection_is_kept_and_its_time_wait_too(void **state)
{
	struct eph_record *r = fresh(16);
	struct eph_history_entry h;

	(void)state;
	add(r, ev(EPH_TRACE_CONNECT, "10.0.0.1", 40000, "10.0.0.2", 443,
		  EPH_TRACE_BOUND_FIRST, 5 * SEC));
	assert_int_equal(history_count(r), 1);
	assert_int_equal(look(r,
			      sk("10.0.0.1", 40000, "10.0.0.2", 443,
				 EPH_TCP_ESTABLISHED),
			      &h),
			 0);
	assert_true(h.bound_first);
	assert_false(h.accepted);
	assert_int_equal(h.pid, 4242);
	assert_string_equal(h.comm, "java");
	/* Its TIME_WAIT answers for the TIME_WAIT only. */
	add(r, ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", 40000, "10.0.0.2", 443,
		  EPH_TRACE_TIMESTAMPS, 9 * SEC));
	assert_int_equal(history_count(r), 1);
	assert_int_equal(look(r,
			      sk("10.0.0.1", 40000, "10.0.0.2", 443,
				 EPH_TCP_ESTABLISHED),
			      NULL),
			 -ENOENT);
	assert_int_equal(look(r, tw("10.0.0.1", 40000, "10.0.0.2", 443, 0), &h),
			 0);
	assert_true(h.bound_first);
	assert_true(h.timestamps);
	assert_int_equal(h.age_seconds, 4);
	/* A plain connection leaves nothing; another namespace's socket is
	 * not this one's. */
	add(r, ev(EPH_TRACE_CONNECT, "10.0.0.1", 40001, "10.0.0.2", 443, 0,
		  10 * SEC));
	assert_int_equal(history_count(r), 1);
	history_free(r);
}

static void test_accepted_connections_and_their_close(void **state)
{
	struct eph_record *r = fresh(16);
	struct eph_history_entry h;

	(void)state;
	add(r, ev(EPH_TRACE_ACCEPT, "10.0.0.1", 40005, "10.0.0.9", 51000,
		  EPH_TRACE_ACCEPTED, SEC));
	add(r, ev(EPH_TRACE_ACCEPT, "10.0.0.1", 40005, "10.0.0.9", 51001,
		  EPH_TRACE_ACCEPTED, SEC));
	assert_int_equal(look(r,
			      sk("10.0.0.1", 40005, "10.0.0.9", 51000,
				 EPH_TCP_ESTABLISHED),
			      &h),
			 0);
	assert_true(h.accepted);
	add(r, ev(EPH_TRACE_CLOSE, "10.0.0.1", 40005, "10.0.0.9", 51000,
		  EPH_TRACE_ACCEPTED, 2 * SEC));
	assert_int_equal(history_count(r), 1);
	assert_int_equal(look(r,
			      sk("10.0.0.1", 40005, "10.0.0.9", 51000,
				 EPH_TCP_ESTABLISHED),
			      NULL),
			 -ENOENT);
	history_free(r);
}

static void test_time_waits_leave_after_60_s_or_when_reused(void **state)
{
	struct eph_record *r = fresh(16);

	(void)state;
	add(r, ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", 40000, "10.0.0.2", 80, 0,
		  10 * SEC));
	add(r, ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", 40001, "10.0.0.2", 80,
		  EPH_TRACE_TIMESTAMPS, 20 * SEC));
	assert_int_equal(history_count(r), 2);
	history_expire(r, 69 * SEC);
	assert_int_equal(history_count(r), 2);
	history_expire(r, 70 * SEC);
	assert_int_equal(history_count(r), 1);
	/* A new connection on the same 4-tuple took the TIME_WAIT over. */
	add(r, ev(EPH_TRACE_CONNECT, "10.0.0.1", 40001, "10.0.0.2", 80, 0,
		  71 * SEC));
	assert_int_equal(history_count(r), 0);
	history_free(r);
}

static void test_the_bound_holds_and_plain_time_waits_go_first(void **state)
{
	struct eph_record *r = fresh(8);
	struct eph_record_info info;
	const void *buf;
	size_t len;

	(void)state;
	/* Four that matter: two bound first, one without timestamps, one
	 * accepted. */
	add(r, ev(EPH_TRACE_CONNECT, "10.0.0.1", 41000, "10.0.0.2", 80,
		  EPH_TRACE_BOUND_FIRST, SEC));
	add(r, ev(EPH_TRACE_CONNECT, "10.0.0.1", 41001, "10.0.0.2", 80,
		  EPH_TRACE_BOUND_FIRST, SEC));
	add(r,
	    ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", 41002, "10.0.0.2", 80, 0, SEC));
	add(r, ev(EPH_TRACE_ACCEPT, "10.0.0.1", 41003, "10.0.0.2", 80,
		  EPH_TRACE_ACCEPTED, SEC));
	/* Then churn: a thousand plain TIME_WAITs that used timestamps. */
	for (uint16_t i = 0; i < 1000; i++)
		add(r,
		    ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", (uint16_t)(42000 + i),
		       "10.0.0.3", 443, EPH_TRACE_TIMESTAMPS, 2 * SEC));
	assert_int_equal(history_count(r), 8);
	assert_int_equal(history_evicted_info(r), 996);
	eph_record_info(r, &info);
	assert_int_equal(info.evicted, 0);
	assert_true(info.complete);
	/* The ones that matter are all there; of the churn, the newest. */
	assert_int_equal(
		look(r,
		     sk("10.0.0.1", 41001, "10.0.0.2", 80, EPH_TCP_ESTABLISHED),
		     NULL),
		0);
	assert_int_equal(
		look(r, tw("10.0.0.1", 41002, "10.0.0.2", 80, 0), NULL), 0);
	assert_int_equal(
		look(r, tw("10.0.0.1", 42999, "10.0.0.3", 443, 0), NULL), 0);
	assert_int_equal(
		look(r, tw("10.0.0.1", 42000, "10.0.0.3", 443, 0), NULL),
		-ENOENT);
	/* Churn that matters evicts the oldest that matter, and says so. */
	for (uint16_t i = 0; i < 10; i++)
		add(r, ev(EPH_TRACE_CONNECT, "10.0.0.1", (uint16_t)(43000 + i),
			  "10.0.0.3", 443, EPH_TRACE_BOUND_FIRST, 3 * SEC));
	assert_int_equal(history_count(r), 8);
	eph_record_info(r, &info);
	assert_int_equal(info.evicted, 6);
	assert_false(info.complete);
	assert_int_equal(
		look(r,
		     sk("10.0.0.1", 41000, "10.0.0.2", 80, EPH_TCP_ESTABLISHED),
		     NULL),
		-ENOENT);
	/* Its file never exceeds the bound either. */
	assert_int_equal(history_format(r, &buf, &len), 0);
	assert_int_equal(len,
			 EPH_RECORD_HEADER_SIZE + 8 * EPH_RECORD_ENTRY_SIZE);
	history_free(r);
}

static void test_accepted_outside_the_range_make_room_first(void **state)
{
	struct eph_record *r = fresh(2);
	struct eph_record_info info;

	(void)state;
	history_set_keep_range(r, 40000, 40100);
	add(r, ev(EPH_TRACE_ACCEPT, "10.0.0.1", 40010, "10.0.0.9", 5000,
		  EPH_TRACE_ACCEPTED, SEC));
	add(r, ev(EPH_TRACE_ACCEPT, "10.0.0.1", 443, "10.0.0.9", 5001,
		  EPH_TRACE_ACCEPTED, 2 * SEC));
	add(r, ev(EPH_TRACE_ACCEPT, "10.0.0.1", 443, "10.0.0.9", 5002,
		  EPH_TRACE_ACCEPTED, 3 * SEC));
	eph_record_info(r, &info);
	assert_int_equal(info.evicted, 0);
	assert_int_equal(look(r,
			      sk("10.0.0.1", 40010, "10.0.0.9", 5000,
				 EPH_TCP_ESTABLISHED),
			      NULL),
			 0);
	history_free(r);
}

/* A record with one entry of each kind, formatted. */
static struct eph_record *sample(void)
{
	struct eph_record *r = fresh(64);
	struct eph_trace_event e;

	add(r, ev(EPH_TRACE_CONNECT, "10.0.0.1", 40000, "10.0.0.2", 443,
		  EPH_TRACE_BOUND_FIRST, 5 * SEC));
	add(r, ev(EPH_TRACE_ACCEPT, "10.0.0.1", 40001, "10.0.0.3", 6000,
		  EPH_TRACE_ACCEPTED, 6 * SEC));
	add(r, ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", 40002, "10.0.0.2", 443,
		  EPH_TRACE_TIMESTAMPS, 7 * SEC));
	/* An IPv6 TIME_WAIT whose maker is unknown. */
	e = ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", 40003, "10.0.0.2", 443, 0,
	       8 * SEC);
	e.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", e.local), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", e.remote), 1);
	e.flags = 0;
	e.pid = -1;
	add(r, e);
	history_expire(r, 9 * SEC);
	return r;
}

/* The bytes of R as a writer would write them at 10 s. */
static void bytes_of(struct eph_record *r, uint8_t **ret, size_t *len)
{
	const void *buf;

	history_stamp(r, 1000, SEC, 1010, 10 * SEC);
	assert_int_equal(history_format(r, &buf, len), 0);
	*ret = malloc(*len);
	assert_non_null(*ret);
	memcpy(*ret, buf, *len);
}

static void test_the_file_reads_back_the_same(void **state)
{
	struct eph_record *r = sample(), *back = NULL;
	struct eph_history_entry h;
	const void *again;
	uint8_t *buf;
	size_t len, len2;

	(void)state;
	bytes_of(r, &buf, &len);
	assert_int_equal(len,
			 EPH_RECORD_HEADER_SIZE + 4 * EPH_RECORD_ENTRY_SIZE);
	assert_int_equal(history_parse(ctx, buf, len, NULL, NETNS, &back), 0);
	assert_int_equal(history_count(back), 4);
	assert_int_equal(history_format(back, &again, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
	assert_int_equal(look(back,
			      sk("10.0.0.1", 40001, "10.0.0.3", 6000,
				 EPH_TCP_ESTABLISHED),
			      &h),
			 0);
	assert_true(h.accepted);
	assert_int_equal(
		look(back, tw("10.0.0.1", 40002, "10.0.0.2", 443, 0), &h), 0);
	assert_true(h.timestamps);
	assert_string_equal(h.comm, "java");
	history_free(back);
	/* A record that lists another namespace does not answer for this
	 * one. */
	assert_int_equal(history_parse(ctx, buf, len, NULL, NETNS + 1, &back),
			 0);
	assert_int_equal(
		look(back, tw("10.0.0.1", 40002, "10.0.0.2", 443, 0), NULL),
		-ENOENT);
	history_free(back);
	free(buf);
	history_free(r);
}

static void expect_refused(const uint8_t *buf, size_t len, const char *why)
{
	struct eph_record *r = NULL;

	assert_int_equal(history_parse(ctx, buf, len, NULL, NETNS, &r),
			 -EBADMSG);
	assert_null(r);
	if (!strstr(eph_ctx_errmsg(ctx), why))
		fail_msg("refused for '%s', wanted '%s'", eph_ctx_errmsg(ctx),
			 why);
}

static void test_a_corrupt_record_is_refused(void **state)
{
	struct eph_record *r = sample(), *back = NULL;
	uint8_t *buf, *bad, boot[16] = { 1 };
	size_t len;

	(void)state;
	bytes_of(r, &buf, &len);
	bad = malloc(len);
	assert_non_null(bad);

	expect_refused(buf, 100, "shorter than its header");
	expect_refused(buf, len - 1, "cut short");
	expect_refused(buf, len - EPH_RECORD_ENTRY_SIZE, "cut short");
	memcpy(bad, buf, len);
	bad[0] = 'X';
	expect_refused(bad, len, "not an ephport record");
	/* One bit flipped anywhere: the checksum says so. */
	for (size_t at = EPH_RECORD_HEADER_SIZE; at < len; at += 37) {
		memcpy(bad, buf, len);
		bad[at] ^= 0x10;
		expect_refused(bad, len, "checksum");
	}
	/* A count beyond the capacity. */
	memcpy(bad, buf, len);
	bad[20] = 0xff;
	bad[21] = 0xff;
	expect_refused(bad, len, "beyond its bound");
	/* Another boot's record is refused as such. */
	assert_int_equal(history_parse(ctx, buf, len, boot, NETNS, &back),
			 -ESTALE);
	assert_null(back);
	free(bad);
	free(buf);
	history_free(r);
}

/* Entries that are well sealed but make no sense are refused too. */
static void test_a_well_sealed_nonsense_entry_is_refused(void **state)
{
	struct eph_record *r = fresh(4);
	struct eph_trace_event e;
	uint8_t *buf;
	size_t len;
	struct eph_record *back = NULL;

	(void)state;
	/* A port 0 cannot be written through the events: a TIME_WAIT with a
	 * local port of 0 is what a corrupt file would hold. */
	e = ev(EPH_TRACE_TIME_WAIT, "10.0.0.1", 0, "10.0.0.2", 443, 0, SEC);
	add(r, e);
	bytes_of(r, &buf, &len);
	assert_int_equal(history_parse(ctx, buf, len, NULL, NETNS, &back),
			 -EBADMSG);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "entry 1"));
	free(buf);
	history_free(r);
}

static char dir[64];

static void path_of(char *buf, size_t size)
{
	snprintf(buf, size, "%s/history", dir);
}

static uint64_t own_netns(void)
{
	uint64_t dev, ino;

	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &ino), 0);
	return ino;
}

static void test_a_recorder_restarts_where_it_left(void **state)
{
	struct eph_record *w = NULL, *w2 = NULL, *rd = NULL;
	struct eph_record_info info;
	struct eph_trace_event e;
	char path[256];
	uint64_t ns = own_netns();

	(void)state;
	assert_non_null(unit_tmpdir(dir, sizeof(dir), "history"));
	path_of(path, sizeof(path));
	assert_int_equal(eph_record_read(ctx, path, &rd), 0);
	eph_record_info(rd, &info);
	assert_int_equal(info.state, EPH_RECORD_MISSING);
	assert_null(eph_record_history(rd));
	eph_record_free(rd);

	assert_int_equal(history_open_writer(ctx, path, 100, ns, &w), 0);
	/* One recorder at a time. */
	assert_int_equal(history_open_writer(ctx, path, 100, ns, &w2), -EBUSY);
	e = ev(EPH_TRACE_CONNECT, "10.0.0.1", 40000, "10.0.0.2", 443,
	       EPH_TRACE_BOUND_FIRST, 0);
	e.netns = ns;
	/* Now, as the kernel's clock says. */
	{
		struct timespec ts;

		clock_gettime(CLOCK_BOOTTIME, &ts);
		e.boot_ns = (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
	}
	add(w, e);
	assert_int_equal(history_flush(w, true), 0);
	assert_int_equal(eph_record_read(ctx, path, &rd), 0);
	eph_record_info(rd, &info);
	assert_int_equal(info.state, EPH_RECORD_USABLE);
	assert_int_equal(info.entries, 1);
	assert_int_equal(info.capacity, 100);
	assert_int_equal(info.writer_pid, getpid());
	assert_non_null(eph_record_history(rd));
	assert_int_equal(look(rd,
			      sk("10.0.0.1", 40000, "10.0.0.2", 443,
				 EPH_TCP_ESTABLISHED),
			      NULL),
			 0);
	eph_record_free(rd);
	history_free(w);
	/* Its recorder gone, the record is stale: not used. */
	assert_int_equal(eph_record_read(ctx, path, &rd), 0);
	eph_record_info(rd, &info);
	assert_int_equal(info.state, EPH_RECORD_STOPPED);
	assert_null(eph_record_history(rd));
	eph_record_free(rd);
	/* A new recorder reads it back. */
	assert_int_equal(history_open_writer(ctx, path, 100, ns, &w), 0);
	assert_int_equal(history_count(w), 1);
	history_free(w);
	/* A recorder of another namespace: not this one's history. */
	assert_int_equal(history_open_writer(ctx, path, 100, ns + 1, &w), 0);
	assert_int_equal(history_count(w), 0);
	assert_int_equal(eph_record_read(ctx, path, &rd), 0);
	eph_record_info(rd, &info);
	assert_int_equal(info.state, EPH_RECORD_OTHER_NETNS);
	eph_record_free(rd);
	history_free(w);
}

static void test_a_corrupt_file_is_never_trusted(void **state)
{
	struct eph_record *w = NULL, *rd = NULL;
	struct eph_record_info info;
	char path[256];
	int fd;

	(void)state;
	path_of(path, sizeof(path));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "EPHHIST\ngarbage", 15), 15);
	close(fd);
	assert_int_equal(eph_record_read(ctx, path, &rd), 0);
	eph_record_info(rd, &info);
	assert_int_equal(info.state, EPH_RECORD_CORRUPT);
	assert_non_null(strstr(info.detail, "shorter than its header"));
	assert_null(eph_record_history(rd));
	eph_record_free(rd);
	/* A recorder starts anew, and says what it threw away. */
	assert_int_equal(history_open_writer(ctx, path, 10, own_netns(), &w),
			 0);
	eph_record_info(w, &info);
	assert_int_equal(info.entries, 0);
	assert_non_null(strstr(info.detail, "shorter than its header"));
	history_free(w);
	assert_int_equal(eph_record_read(ctx, path, &rd), 0);
	eph_record_info(rd, &info);
	assert_int_equal(info.state, EPH_RECORD_STOPPED);
	eph_record_free(rd);
}

static int cleanup(void **state)
{
	char path[256];

	/* Only what the tests made: the record, its lock, the directory. */
	if (strchr(dir, 'X') == NULL) {
		path_of(path, sizeof(path));
		unlink(path);
		strncat(path, ".lock", sizeof(path) - strlen(path) - 1);
		unlink(path);
		rmdir(dir);
	}
	return teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_a_bound_first_connection_is_kept_and_its_time_wait_too),
		cmocka_unit_test(test_accepted_connections_and_their_close),
		cmocka_unit_test(
			test_time_waits_leave_after_60_s_or_when_reused),
		cmocka_unit_test(
			test_the_bound_holds_and_plain_time_waits_go_first),
		cmocka_unit_test(
			test_accepted_outside_the_range_make_room_first),
		cmocka_unit_test(test_the_file_reads_back_the_same),
		cmocka_unit_test(test_a_corrupt_record_is_refused),
		cmocka_unit_test(test_a_well_sealed_nonsense_entry_is_refused),
		cmocka_unit_test(test_a_recorder_restarts_where_it_left),
		cmocka_unit_test(test_a_corrupt_file_is_never_trusted),
	};

	return cmocka_run_group_tests(tests, setup, cleanup);
}
