/* SPDX-License-Identifier: MIT */
/*
 * The verdict of `why`, fed with the bind tests' results and the sockets
 * on the port by hand: who is blamed, what the cause is, and that every
 * remedy fits it.
 */
#include <errno.h>

#include "socks.h"

static struct eph_policy *pol;

static int setup_diag(void **state)
{
	if (setup(state) < 0)
		return -1;
	pol = policy_new();
	if (!pol)
		return -1;
	/* The story's namespace: a four-port range. */
	eph_policy_set_range(pol, 40000, 40003);
	return 0;
}

static int teardown_diag(void **state)
{
	eph_policy_free(pol);
	return teardown(state);
}

/* Bind tests on TCP (IPv4, IPv6) with results ERR and, with SO_REUSEADDR,
 * REUSE_ERR; UDP binds. */
static size_t probes(struct eph_diag_probe *p, int err, int reuse_err)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	size_t n = 0;

	for (int proto = 0; proto < 2; proto++)
		for (int f = 0; f < 2; f++)
			for (int reuse = 0; reuse < 2; reuse++) {
				p[n].proto = proto ? IPPROTO_UDP : IPPROTO_TCP;
				p[n].family = fams[f];
				p[n].reuseaddr = reuse;
				p[n].ran = true;
				p[n].err = proto ? 0 : reuse ? reuse_err : err;
				n++;
			}
	return n;
}

/* A history source that knows sockets by inode (or cookie for TIME_WAIT). */
struct known {
	uint64_t key;
	struct eph_history_entry e;
};

static struct known known[8];
static size_t nknown;

static int lookup(void *data, const struct eph_sock *s,
		  struct eph_history_entry *ret)
{
	(void)data;
	for (size_t i = 0; i < nknown; i++)
		if (known[i].key == (s->inode ? s->inode : s->cookie)) {
			*ret = known[i].e;
			return 0;
		}
	return -ENOENT;
}

static const struct eph_history history = { lookup, NULL };

static void know(uint64_t key, int32_t pid, const char *comm, bool accepted)
{
	known[nknown].key = key;
	memset(&known[nknown].e, 0, sizeof(known[nknown].e));
	known[nknown].e.pid = pid;
	snprintf(known[nknown].e.comm, sizeof(known[nknown].e.comm), "%s",
		 comm);
	known[nknown].e.accepted = accepted;
	nknown++;
}

/* The diagnosis of PORT with sockets S, whose OWNERS (or NULL: none
 * found) were looked up. */
static struct eph_diagnosis *decide_owned(uint16_t port,
					  const struct eph_sock *s, size_t n,
					  const struct eph_owner *owners,
					  int err, int reuse_err,
					  bool persistent)
{
	struct eph_diag_request req = { 0 };
	struct eph_diag_probe p[8];
	struct eph_diagnosis *d = NULL;

	req.port = port;
	req.history = &history;
	req.owners = true;
	assert_int_equal(diagnose_decide(&req, pol, persistent, p,
					 probes(p, err, reuse_err), s, n,
					 owners, &d),
			 0);
	return d;
}

static struct eph_diagnosis *decide(uint16_t port, const struct eph_sock *s,
				    size_t n, int err, int reuse_err,
				    bool persistent)
{
	return decide_owned(port, s, n, NULL, err, reuse_err, persistent);
}

/* How many remedies of CODE, and the first one. */
static size_t remedies(const struct eph_diagnosis *d, enum eph_remedy_code code,
		       const struct eph_remedy **first)
{
	size_t n = 0;

	*first = NULL;
	for (size_t i = 0; i < eph_diagnosis_remedy_count(d); i++)
		if (eph_diagnosis_remedy(d, i)->code == code) {
			if (!n)
				*first = eph_diagnosis_remedy(d, i);
			n++;
		}
	return n;
}

static void test_a_listener_and_three_time_waits_are_all_named(void **state)
{
	struct eph_sock s[] = {
		sk("0.0.0.0", 8080, "0.0.0.0", 0, EPH_TCP_LISTEN),
		tw("127.0.0.1", 8080, "127.0.0.1", 40001, 10000),
		tw("127.0.0.1", 8080, "127.0.0.1", 40002, 20000),
		tw("127.0.0.1", 8080, "127.0.0.1", 40003, 30000),
	};
	const struct eph_diag_verdict *v;
	struct eph_diagnosis *d;
	const struct eph_remedy *r;

	(void)state;
	nknown = 0;
	know(8080, 100, "nginx", false);
	d = decide(8080, s, 4, EADDRINUSE, EADDRINUSE, true);
	assert_false(eph_diagnosis_bindable(d));
	assert_int_equal(eph_diagnosis_cause(d), EPH_CAUSE_HELD);
	assert_int_equal(eph_diagnosis_cause_kind(d), EPH_HOLDER_LISTENER);
	assert_int_equal(eph_diagnosis_holder_count(d), 4);
	/* With the listener on the port, its TIME_WAITs are server side. */
	for (size_t i = 1; i < 4; i++) {
		assert_int_equal(eph_diagnosis_holder(d, i)->kind,
				 EPH_HOLDER_TIME_WAIT_SERVER);
		assert_true(eph_diagnosis_holder(d, i)->conflicts);
	}
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_PROCESS, &r), 1);
	assert_int_equal(r->pid, 100);
	assert_string_equal(r->comm, "nginx");
	assert_int_equal(remedies(d, EPH_REMEDY_WAIT, &r), 1);
	assert_int_equal(r->seconds, 50);
	/* SO_REUSEADDR does not get past a listener: not offered. */
	assert_int_equal(remedies(d, EPH_REMEDY_REUSEADDR, &r), 0);
	/* Outside the range: a reservation would change nothing. */
	assert_int_equal(remedies(d, EPH_REMEDY_RESERVE, &r), 0);
	assert_int_equal(remedies(d, EPH_REMEDY_MOVE, &r), 1);
	/* The verdict names the listener and counts the TIME_WAITs. */
	v = eph_diagnosis_verdict(d, 0);
	assert_int_equal(v->nnamed, 1);
	assert_int_equal(v->named[0], 0);
	assert_int_equal(v->time_waits, 3);
	assert_int_equal(v->time_wait_seconds, 50);
	eph_diagnosis_free(d);
}

static void test_an_outgoing_connection_leaves_a_time_wait(void **state)
{
	struct eph_sock s =
		sk("127.0.0.1", 40001, "127.0.0.1", 5000, EPH_TCP_ESTABLISHED);
	struct eph_diagnosis *d;
	const struct eph_remedy *r;

	(void)state;
	nknown = 0;
	know(40001, 200, "python3", false);
	d = decide(40001, &s, 1, EADDRINUSE, EADDRINUSE, false);
	assert_int_equal(eph_diagnosis_cause_kind(d), EPH_HOLDER_OUTGOING);
	/* Killing the client is not enough: its side waits 60 s. */
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_CLIENT, &r), 1);
	assert_int_equal(r->pid, 200);
	assert_int_equal(r->seconds, 60);
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_PROCESS, &r), 0);
	/* Inside the range, unreserved: keep the kernel off it. Not a boot
	 * namespace: the reservation would not survive a reboot. */
	assert_int_equal(remedies(d, EPH_REMEDY_RESERVE, &r), 1);
	assert_int_equal(r->port, 40001);
	assert_false(r->persistent);
	assert_int_equal(remedies(d, EPH_REMEDY_REUSEADDR, &r), 0);
	eph_diagnosis_free(d);
}

static void test_two_processes_are_both_named(void **state)
{
	const struct eph_diag_verdict *v;
	struct eph_sock s[] = {
		sk("127.0.0.1", 40002, "127.0.0.1", 5000, EPH_TCP_ESTABLISHED),
		sk("127.0.0.2", 40002, "127.0.0.1", 5001, EPH_TCP_ESTABLISHED),
		tw("127.0.0.1", 40002, "127.0.0.1", 5002, 1000),
	};
	struct eph_diagnosis *d;
	const struct eph_remedy *r;

	(void)state;
	s[1].inode = 77;
	nknown = 0;
	know(40002, 300, "curl", false);
	know(77, 301, "wget", false);
	d = decide(40002, s, 3, EADDRINUSE, EADDRINUSE, true);
	/* One remedy that stops both: neither alone frees the port. */
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_CLIENT, &r), 1);
	assert_int_equal(r->pid, 300);
	assert_int_equal(r->nprocs, 2);
	assert_int_equal(r->procs[0].pid, 300);
	assert_int_equal(r->procs[1].pid, 301);
	assert_string_equal(r->procs[1].comm, "wget");
	assert_false(r->parent_first);
	assert_int_equal(r->seconds, 60);
	/* And the verdict names both connections and counts the
	 * TIME_WAIT. */
	v = eph_diagnosis_verdict(d, 0);
	assert_int_equal(v->proto, IPPROTO_TCP);
	assert_int_equal(v->nnamed, 2);
	assert_int_equal(v->processes, 2);
	assert_int_equal(v->time_waits, 1);
	assert_int_equal(v->time_wait_seconds, 59);
	assert_int_equal(remedies(d, EPH_REMEDY_WAIT, &r), 1);
	assert_int_equal(remedies(d, EPH_REMEDY_RESERVE, &r), 1);
	assert_true(r->persistent);
	eph_diagnosis_free(d);
}

static void test_an_unknown_owner_is_never_pid_minus_one(void **state)
{
	struct eph_sock s = sk("0.0.0.0", 9000, "0.0.0.0", 0, EPH_TCP_LISTEN);
	struct eph_diagnosis *d;
	const struct eph_remedy *r;

	(void)state;
	nknown = 0;
	d = decide(9000, &s, 1, EADDRINUSE, EADDRINUSE, true);
	assert_int_equal(eph_diagnosis_holder(d, 0)->owner.pid, -1);
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_PROCESS, &r), 0);
	assert_int_equal(remedies(d, EPH_REMEDY_FIND_OWNER, &r), 1);
	eph_diagnosis_free(d);
}

static void test_server_side_time_wait_is_fixed_by_reuseaddr(void **state)
{
	/* The listener on 8443 is gone; its accepted connections closed
	 * first and wait in TIME_WAIT toward the clients' ports. */
	struct eph_sock s[] = {
		tw("10.0.0.1", 8443, "10.0.0.9", 40002, 5000),
		tw("10.0.0.1", 8443, "10.0.0.9", 40003, 9000),
	};
	struct eph_diagnosis *d;
	const struct eph_remedy *r;

	(void)state;
	nknown = 0;
	d = decide(8443, s, 2, EADDRINUSE, 0, true);
	assert_int_equal(eph_diagnosis_cause_kind(d),
			 EPH_HOLDER_TIME_WAIT_SERVER);
	assert_false(eph_diagnosis_holder(d, 0)->kind_certain);
	assert_int_equal(remedies(d, EPH_REMEDY_REUSEADDR, &r), 1);
	assert_int_equal(remedies(d, EPH_REMEDY_WAIT, &r), 1);
	assert_int_equal(r->seconds, 55);
	/* Not the client's doing: no "stop the client", no reservation. */
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_CLIENT, &r), 0);
	assert_int_equal(remedies(d, EPH_REMEDY_RESERVE, &r), 0);
	eph_diagnosis_free(d);
}

static void test_history_makes_a_time_wait_certain(void **state)
{
	struct eph_sock s = tw("127.0.0.1", 40001, "127.0.0.1", 5000, 19000);
	struct eph_diagnosis *d;
	const struct eph_diag_holder *x;

	(void)state;
	s.cookie = 4242;
	nknown = 0;
	know(4242, 4242, "java", false);
	d = decide(40001, &s, 1, EADDRINUSE, EADDRINUSE, true);
	x = eph_diagnosis_holder(d, 0);
	assert_true(x->has_history);
	assert_true(x->kind_certain);
	assert_int_equal(x->kind, EPH_HOLDER_TIME_WAIT_CLIENT);
	assert_int_equal(x->owner.pid, 4242);
	assert_string_equal(x->owner.comm, "java");
	assert_int_equal(x->seconds_left, 41);
	eph_diagnosis_free(d);
}

static void test_addr_blames_only_sockets_on_that_address(void **state)
{
	struct eph_diag_request req = { 0 };
	struct eph_diag_probe p[2] = {
		{ IPPROTO_TCP, AF_INET, false, true, 0 },
		{ IPPROTO_TCP, AF_INET, true, true, 0 },
	};
	struct eph_sock s[] = {
		sk("127.0.0.1", 7000, "0.0.0.0", 0, EPH_TCP_LISTEN),
		sk("0.0.0.0", 7000, "0.0.0.0", 0, EPH_TCP_CLOSE),
	};
	struct eph_diagnosis *d;

	(void)state;
	req.port = 7000;
	req.protos = EPH_PROTO_TCP;
	req.addr_set = true;
	v4(req.addr, "10.9.0.1");
	assert_int_equal(diagnose_decide(&req, pol, true, p, 2, s, 2, NULL, &d),
			 0);
	/* A socket on 127.0.0.1 does not stand in the way of 10.9.0.1; a
	 * wildcard one does. */
	assert_false(eph_diagnosis_holder(d, 0)->conflicts);
	assert_true(eph_diagnosis_holder(d, 1)->conflicts);
	assert_true(eph_diagnosis_bindable(d));
	eph_diagnosis_free(d);

	/* The address is not on the host: say so. */
	p[0].err = p[1].err = EADDRNOTAVAIL;
	assert_int_equal(
		diagnose_decide(&req, pol, true, p, 2, NULL, 0, NULL, &d), 0);
	assert_int_equal(eph_diagnosis_cause(d), EPH_CAUSE_ADDR_NOT_LOCAL);
	assert_int_equal(eph_diagnosis_remedy(d, 0)->code,
			 EPH_REMEDY_ADD_ADDRESS);
	assert_int_equal(eph_diagnosis_remedy_count(d), 1);
	eph_diagnosis_free(d);
}

static void test_privileged_port_offers_the_capability(void **state)
{
	struct eph_diagnosis *d;
	const struct eph_remedy *r;

	(void)state;
	nknown = 0;
	d = decide(80, NULL, 0, EACCES, EACCES, true);
	assert_int_equal(eph_diagnosis_cause(d), EPH_CAUSE_PRIVILEGED);
	assert_int_equal(remedies(d, EPH_REMEDY_CAPABILITY, &r), 1);
	assert_int_equal(remedies(d, EPH_REMEDY_UNPRIVILEGED, &r), 1);
	assert_int_equal(r->port, 80);
	assert_int_equal(eph_diagnosis_remedy_count(d), 2);
	eph_diagnosis_free(d);
}

static void test_a_free_port_in_the_range_is_worth_reserving(void **state)
{
	struct eph_diagnosis *d;
	const struct eph_remedy *r;
	struct eph_portset *res = ps_new();

	(void)state;
	d = decide(40003, NULL, 0, 0, 0, true);
	assert_true(eph_diagnosis_bindable(d));
	assert_int_equal(remedies(d, EPH_REMEDY_RESERVE, &r), 1);
	eph_diagnosis_free(d);
	/* Once reserved, nothing to do. */
	assert_non_null(res);
	eph_portset_add(res, 40003, 40003);
	eph_policy_set_reserved(pol, res);
	d = decide(40003, NULL, 0, 0, 0, true);
	assert_int_equal(eph_diagnosis_remedy_count(d), 0);
	eph_diagnosis_free(d);
	eph_portset_clear(res);
	eph_policy_set_reserved(pol, res);
	eph_portset_free(res);
}

static void test_a_udp_holder_blocks_udp_only(void **state)
{
	struct eph_sock s = sk("0.0.0.0", 40000, "0.0.0.0", 0, EPH_TCP_CLOSE);
	struct eph_diag_request req = { 0 };
	struct eph_diag_probe p[8];
	struct eph_diagnosis *d;
	size_t n = probes(p, 0, 0);

	(void)state;
	s.proto = IPPROTO_UDP;
	s.flags = EPH_SOCK_PORT_LOCKED;
	/* TCP binds; UDP does not. */
	for (size_t i = 0; i < n; i++)
		if (p[i].proto == IPPROTO_UDP)
			p[i].err = EADDRINUSE;
	req.port = 40000;
	assert_int_equal(
		diagnose_decide(&req, pol, true, p, n, &s, 1, NULL, &d), 0);
	assert_int_equal(eph_diagnosis_cause_proto(d), IPPROTO_UDP);
	assert_int_equal(eph_diagnosis_cause_kind(d), EPH_HOLDER_UDP_BOUND);
	assert_string_equal(eph_holder_kind_code(EPH_HOLDER_UDP_BOUND),
			    "udp-bound");
	eph_diagnosis_free(d);
}

/* An owner of N processes P, as a lookup finds them. */
static struct eph_owner owned(struct eph_owner_proc *p, uint32_t n)
{
	struct eph_owner o;

	memset(&o, 0, sizeof(o));
	o.pid = n ? p[0].pid : -1;
	if (n)
		memcpy(o.comm, p[0].comm, sizeof(o.comm));
	o.nprocs = n;
	o.procs = n ? p : NULL;
	o.looked_up = true;
	return o;
}

static struct eph_owner_proc proc(int32_t pid, int32_t ppid, const char *comm)
{
	struct eph_owner_proc p;

	memset(&p, 0, sizeof(p));
	p.pid = pid;
	p.ppid = ppid;
	snprintf(p.comm, sizeof(p.comm), "%s", comm);
	return p;
}

/*
 * Regression: a listener shared after fork() (a prefork server) was
 * named by one process, and "kill PID" did not free the port. Every
 * process is named, and the stop remedy lists them all, the master
 * first, even when the workers were found before it.
 */
static void test_a_shared_listener_names_every_process(void **state)
{
	struct eph_sock s = sk("0.0.0.0", 7100, "0.0.0.0", 0, EPH_TCP_LISTEN);
	struct eph_owner_proc p[3] = { proc(101, 100, "python3"),
				       proc(100, 1, "python3"),
				       proc(102, 100, "python3") };
	struct eph_owner o = owned(p, 3);
	const struct eph_diag_holder *x;
	const struct eph_diag_verdict *v;
	const struct eph_remedy *r;
	struct eph_diagnosis *d;

	(void)state;
	nknown = 0;
	d = decide_owned(7100, &s, 1, &o, EADDRINUSE, EADDRINUSE, true);
	x = eph_diagnosis_holder(d, 0);
	assert_int_equal(x->owner.nprocs, 3);
	assert_true(x->owner.looked_up);
	/* The diagnosis keeps its own copy of the processes. */
	assert_ptr_not_equal(x->owner.procs, p);
	assert_int_equal(x->owner.procs[2].pid, 102);
	v = eph_diagnosis_verdict(d, 0);
	assert_int_equal(v->cause, EPH_CAUSE_HELD);
	assert_int_equal(v->nnamed, 1);
	assert_int_equal(v->named[0], 0);
	assert_int_equal(v->processes, 3);
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_PROCESS, &r), 1);
	assert_int_equal(r->nprocs, 3);
	assert_true(r->parent_first);
	assert_int_equal(r->pid, 100);
	assert_int_equal(r->procs[0].pid, 100);
	assert_int_equal(r->procs[1].pid, 101);
	assert_int_equal(r->procs[2].pid, 102);
	assert_true(r->looked_up);
	eph_diagnosis_free(d);
}

/*
 * Regression: with many holders remedies were dropped silently (a fixed
 * array of 44): 60 processes, each with its own SO_REUSEPORT listener,
 * kept 44 "stop" remedies and lost "move". Now one remedy stops all 60,
 * and every other remedy is there.
 */
static void test_many_holders_drop_no_remedy(void **state)
{
	struct eph_sock s[60];
	struct eph_owner_proc p[60];
	struct eph_owner o[60];
	const struct eph_diag_verdict *v;
	const struct eph_remedy *r;
	struct eph_diagnosis *d;

	(void)state;
	nknown = 0;
	for (int i = 0; i < 60; i++) {
		s[i] = sk("0.0.0.0", 7200, "0.0.0.0", 0, EPH_TCP_LISTEN);
		s[i].inode = 1000 + (uint32_t)i;
		p[i] = proc(2000 + i, 1, "server");
		o[i] = owned(&p[i], 1);
	}
	d = decide_owned(7200, s, 60, o, EADDRINUSE, EADDRINUSE, true);
	assert_int_equal(eph_diagnosis_holder_count(d), 60);
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_PROCESS, &r), 1);
	assert_int_equal(r->nprocs, 60);
	assert_false(r->parent_first);
	for (int i = 0; i < 60; i++)
		assert_int_equal(r->procs[i].pid, 2000 + i);
	assert_int_equal(remedies(d, EPH_REMEDY_MOVE, &r), 1);
	assert_int_equal(eph_diagnosis_remedy_count(d), 2);
	v = eph_diagnosis_verdict(d, 0);
	assert_int_equal(v->nnamed, 60);
	assert_int_equal(v->processes, 60);
	eph_diagnosis_free(d);
}

/*
 * Regression: without the lookup (--no-owners) a holder was "process not
 * found" and the remedy "no process holds the socket any more": untrue.
 * Not looked up is its own state, and the stop remedy asks for the
 * lookup instead of naming no one.
 */
static void test_not_looked_up_is_not_not_found(void **state)
{
	struct eph_sock s = sk("0.0.0.0", 9000, "0.0.0.0", 0, EPH_TCP_LISTEN);
	struct eph_diag_request req = { 0 };
	struct eph_diag_probe p[8];
	const struct eph_diag_holder *x;
	const struct eph_remedy *r;
	struct eph_diagnosis *d;

	(void)state;
	nknown = 0;
	req.port = 9000;
	req.history = &history;
	assert_int_equal(diagnose_decide(&req, pol, true, p,
					 probes(p, EADDRINUSE, EADDRINUSE), &s,
					 1, NULL, &d),
			 0);
	x = eph_diagnosis_holder(d, 0);
	assert_false(x->owner.looked_up);
	assert_int_equal(x->owner.pid, -1);
	assert_int_equal(remedies(d, EPH_REMEDY_FIND_OWNER, &r), 0);
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_PROCESS, &r), 1);
	assert_false(r->looked_up);
	assert_int_equal(r->nprocs, 0);
	assert_int_equal(r->pid, -1);
	eph_diagnosis_free(d);

	/* Looked up and not found: that is "find the owner". */
	d = decide(9000, &s, 1, EADDRINUSE, EADDRINUSE, true);
	assert_true(eph_diagnosis_holder(d, 0)->owner.looked_up);
	assert_int_equal(remedies(d, EPH_REMEDY_FIND_OWNER, &r), 1);
	assert_int_equal(remedies(d, EPH_REMEDY_STOP_PROCESS, &r), 0);
	eph_diagnosis_free(d);
}

/*
 * Regression: the verdict was labelled with one protocol and listed the
 * holders of both ("cannot be bound (tcp): held by the listener ..., the
 * bound UDP socket ..."). Each protocol has its own verdict and names
 * only its own holders.
 */
static void test_each_protocol_names_its_own_holders(void **state)
{
	struct eph_sock s[] = {
		sk("0.0.0.0", 7400, "0.0.0.0", 0, EPH_TCP_LISTEN),
		sk("0.0.0.0", 7400, "0.0.0.0", 0, EPH_TCP_CLOSE),
	};
	struct eph_diag_request req = { 0 };
	struct eph_diag_probe p[8];
	const struct eph_diag_verdict *tcp, *udp;
	struct eph_diagnosis *d;
	size_t n = probes(p, EADDRINUSE, EADDRINUSE);

	(void)state;
	s[1].proto = IPPROTO_UDP;
	s[1].flags = EPH_SOCK_PORT_LOCKED;
	s[1].inode = 7401;
	for (size_t i = 0; i < n; i++)
		if (p[i].proto == IPPROTO_UDP)
			p[i].err = EADDRINUSE;
	req.port = 7400;
	assert_int_equal(diagnose_decide(&req, pol, true, p, n, s, 2, NULL, &d),
			 0);
	assert_int_equal(eph_diagnosis_verdict_count(d), 2);
	tcp = eph_diagnosis_verdict(d, 0);
	udp = eph_diagnosis_verdict(d, 1);
	assert_null(eph_diagnosis_verdict(d, 2));
	assert_int_equal(tcp->proto, IPPROTO_TCP);
	assert_int_equal(tcp->cause_kind, EPH_HOLDER_LISTENER);
	assert_int_equal(tcp->nnamed, 1);
	assert_int_equal(tcp->named[0], 0);
	assert_int_equal(udp->proto, IPPROTO_UDP);
	assert_int_equal(udp->cause, EPH_CAUSE_HELD);
	assert_int_equal(udp->err, EADDRINUSE);
	assert_int_equal(udp->cause_kind, EPH_HOLDER_UDP_BOUND);
	assert_int_equal(udp->nnamed, 1);
	assert_int_equal(udp->named[0], 1);
	eph_diagnosis_free(d);

	/* UDP binds: its verdict says so, and names no one. */
	for (size_t i = 0; i < n; i++)
		if (p[i].proto == IPPROTO_UDP)
			p[i].err = 0;
	assert_int_equal(diagnose_decide(&req, pol, true, p, n, s, 1, NULL, &d),
			 0);
	udp = eph_diagnosis_verdict(d, 1);
	assert_int_equal(udp->cause, EPH_CAUSE_NONE);
	assert_int_equal(udp->nnamed, 0);
	eph_diagnosis_free(d);
}

static void test_codes_are_stable(void **state)
{
	(void)state;
	for (int k = 0; k < EPH_HOLDER__COUNT; k++)
		assert_string_not_equal(
			eph_holder_kind_code((enum eph_holder_kind)k), "?");
	for (int c = 0; c < EPH_REMEDY__COUNT; c++)
		assert_string_not_equal(
			eph_remedy_code_name((enum eph_remedy_code)c), "?");
	assert_string_equal(eph_remedy_code_name(EPH_REMEDY_STOP_CLIENT),
			    "stop-client");
	assert_string_equal(eph_holder_kind_code(EPH_HOLDER_TIME_WAIT_SERVER),
			    "time-wait-server");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_a_listener_and_three_time_waits_are_all_named),
		cmocka_unit_test(
			test_an_outgoing_connection_leaves_a_time_wait),
		cmocka_unit_test(test_two_processes_are_both_named),
		cmocka_unit_test(test_an_unknown_owner_is_never_pid_minus_one),
		cmocka_unit_test(
			test_server_side_time_wait_is_fixed_by_reuseaddr),
		cmocka_unit_test(test_history_makes_a_time_wait_certain),
		cmocka_unit_test(test_addr_blames_only_sockets_on_that_address),
		cmocka_unit_test(test_privileged_port_offers_the_capability),
		cmocka_unit_test(
			test_a_free_port_in_the_range_is_worth_reserving),
		cmocka_unit_test(test_a_udp_holder_blocks_udp_only),
		cmocka_unit_test(test_codes_are_stable),
		cmocka_unit_test(test_a_shared_listener_names_every_process),
		cmocka_unit_test(test_many_holders_drop_no_remedy),
		cmocka_unit_test(test_not_looked_up_is_not_not_found),
		cmocka_unit_test(test_each_protocol_names_its_own_holders),
	};

	return cmocka_run_group_tests(tests, setup_diag, teardown_diag);
}
