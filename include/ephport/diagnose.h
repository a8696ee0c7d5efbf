/* SPDX-License-Identifier: MIT */
/* Diagnose: can PORT be bound now, and if not, who holds it and what to do. */
#ifndef EPHPORT_DIAGNOSE_H
#define EPHPORT_DIAGNOSE_H

#include "common.h"
#include "owners.h"
#include "scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a socket on the port is. */
enum eph_holder_kind {
	EPH_HOLDER_LISTENER,	     /* a TCP listener */
	EPH_HOLDER_BOUND,	     /* bound to the port, not listening */
	EPH_HOLDER_BOUND_CONNECTION, /* a connection that bound it first */
	EPH_HOLDER_OUTGOING,	     /* a connection the kernel gave it to */
	EPH_HOLDER_ACCEPTED,	     /* a connection a listener accepted */
	EPH_HOLDER_ACCEPTING,	     /* a connection being accepted */
	EPH_HOLDER_TIME_WAIT_CLIENT, /* the TIME_WAIT of an outgoing one */
	EPH_HOLDER_TIME_WAIT_SERVER, /* the TIME_WAIT of an accepted one */
	EPH_HOLDER_UDP_BOUND,	     /* a UDP socket bound to the port */
	EPH_HOLDER_UDP_AUTO,	     /* a UDP socket the kernel gave it to */
	EPH_HOLDER__COUNT
};

/*
 * The stable code of KIND for scripts ("listener", "bound",
 * "bound-connection", "outgoing", "accepted", "accepting",
 * "time-wait-client", "time-wait-server", "udp-bound", "udp-autobound").
 */
const char *eph_holder_kind_code(enum eph_holder_kind kind);

/*
 * What a record made when the socket was bound, accepted or closed (the
 * tracer's) knows about it.
 */
struct eph_history_entry {
	int32_t pid; /* the process that made the connection, -1: unknown */
	char comm[16];
	uint64_t cgroup_id;
	uint32_t age_seconds; /* since it was opened */
	bool accepted;	      /* accepted by a listener (server side) */
	bool bound_first;     /* bound before connect(): blocks its port */
	bool timestamps;      /* used TCP timestamps (TIME_WAIT reuse) */
};

/*
 * A source of history: LOOKUP fills *RET for socket S (matched by cookie,
 * or by 4-tuple for a TIME_WAIT) and returns 0, or -ENOENT when it does
 * not know the socket.
 */
struct eph_history {
	int (*lookup)(void *data, const struct eph_sock *s,
		      struct eph_history_entry *ret);
	void *data;
};

/* A socket on the port. */
struct eph_diag_holder {
	struct eph_sock sock;
	enum eph_holder_kind kind;
	bool kind_certain;	/* false: told apart by a rule of thumb (an
				   accepted connection whose listener is gone
				   looks like an outgoing one); a history
				   source makes it certain */
	bool conflicts;		/* conflicts with the bind asked for */
	const char *netns;	/* NULL in the target namespace; else the
				   label of the other namespace it is in */
	struct eph_owner owner; /* pid -1: not found (looked_up false: not
				   looked up); procs: every process holding
				   it, parents first, as long as the diagnosis
				   lives */
	uint32_t seconds_left;	/* TIME_WAIT: until it ends */
	bool has_history;	/* HISTORY is filled */
	struct eph_history_entry history;
};

/* One bind test: protocol x family x SO_REUSEADDR. */
struct eph_diag_probe {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	int family;    /* AF_INET, or AF_INET6 (dual stack) */
	bool reuseaddr;
	bool ran; /* false: the family is off in the namespace */
	int err;  /* bind()'s errno, 0 when it bound */
};

enum eph_diag_cause {
	EPH_CAUSE_NONE,		  /* it can be bound as asked */
	EPH_CAUSE_HELD,		  /* sockets hold it: see cause_kind */
	EPH_CAUSE_PRIVILEGED,	  /* EACCES: below ip_unprivileged_port_start
				     without CAP_NET_BIND_SERVICE */
	EPH_CAUSE_ADDR_NOT_LOCAL, /* EADDRNOTAVAIL: the address asked for is
				     not on this host */
	EPH_CAUSE_UNSEEN,	  /* EADDRINUSE, but no socket on the port
				     was seen (gone meanwhile, or hidden) */
	EPH_CAUSE_ERRNO,	  /* another errno: see cause_errno */
};

/* What to do; the front end words it. */
enum eph_remedy_code {
	EPH_REMEDY_STOP_PROCESS, /* stop every process of PROCS, which hold
				    the port (LOOKED_UP false: they were not
				    looked up; ask again with owners) */
	EPH_REMEDY_STOP_CLIENT,	 /* stop the PROCS behind the outgoing
				    connections: their ports then stay in
				    TIME_WAIT SECONDS */
	EPH_REMEDY_FIND_OWNER,	 /* a process was not found: look again
				    with the rights to see every process */
	EPH_REMEDY_WAIT,	 /* the TIME_WAITs end in SECONDS */
	EPH_REMEDY_REUSEADDR,	 /* set SO_REUSEADDR on the server: the
				    bind test with it succeeded */
	EPH_REMEDY_RESERVE,	 /* reserve PORT so that the kernel never
				    hands it out again (PERSISTENT: also
				    across reboots) */
	EPH_REMEDY_MOVE,	 /* use another port, outside the range
				    RANGE_LOW-RANGE_HIGH (ephport pick) */
	EPH_REMEDY_CAPABILITY,	 /* give the server CAP_NET_BIND_SERVICE */
	EPH_REMEDY_UNPRIVILEGED, /* lower ip_unprivileged_port_start to
				    PORT in this namespace */
	EPH_REMEDY_ADD_ADDRESS,	 /* put the address on an interface, or
				    bind with IP_FREEBIND */
	EPH_REMEDY_RETRY,	 /* ask again: the holder may be gone */
	EPH_REMEDY__COUNT
};

/* The stable code of a remedy for scripts ("stop-process", ...). */
const char *eph_remedy_code_name(enum eph_remedy_code code);

/*
 * One remedy of each code at most: the holders that one fits are merged
 * into it (every process to stop in one STOP_PROCESS).
 */
struct eph_remedy {
	enum eph_remedy_code code;
	int32_t pid; /* STOP_*: the first of PROCS, -1 when none is named */
	char comm[16];
	uint16_t port;
	uint32_t seconds;		/* WAIT, STOP_CLIENT */
	uint16_t range_low, range_high; /* MOVE */
	bool persistent;		/* RESERVE */
	bool elevate; /* FIND_OWNER: the walk could not read every process;
			 as root it can (else the owner is gone or hidden) */
	/*
	 * STOP_*: every process to stop, parents first; the port is free
	 * only when all of them are gone. PROCS lives as long as the
	 * diagnosis.
	 */
	size_t nprocs;
	const struct eph_owner_proc *procs;
	bool parent_first; /* procs[0] is the parent (or an ancestor) of all
			      the others: stop it first, a prefork server's
			      workers stop with it */
	bool looked_up;	   /* STOP_*: false when some holder's process was
			      not looked up (owners off): ask again with
			      them to name it */
};

/*
 * The verdict for one protocol tested: what keeps it from binding, and
 * who to name for it.
 */
struct eph_diag_verdict {
	uint8_t proto;			 /* IPPROTO_TCP or IPPROTO_UDP */
	enum eph_diag_cause cause;	 /* EPH_CAUSE_NONE: it binds as asked */
	int err;			 /* the failing bind's errno, else 0 */
	enum eph_holder_kind cause_kind; /* HELD: the kind that matters
					    most */
	/* HELD: the holders to name (indexes for eph_diagnosis_holder()),
	 * the longest-lived kinds first; NAMED lives as long as the
	 * diagnosis. */
	size_t nnamed;
	const size_t *named;
	uint32_t processes;	    /* distinct processes behind them */
	uint32_t time_waits;	    /* TIME_WAITs no record names: counted,
				       not named */
	uint32_t time_wait_seconds; /* the longest of them has left */
};

struct eph_diag_request {
	uint16_t port;
	uint32_t protos; /* EPH_PROTO_*; 0: both */
	bool addr_set;	 /* else the wildcards of both families */
	uint8_t addr[16];
	bool all_netns; /* also list the holders in every other namespace */
	bool owners;	/* look up the processes */
	const struct eph_history *history; /* or NULL */
};

/* A namespace --all-netns could not read. */
struct eph_diag_netns_error {
	char label[256];
	int err; /* negative errno */
	char message[512];
};

struct eph_diagnosis;

/*
 * Diagnoses REQ->port in CTX's namespace: bind tests (bound and closed at
 * once, never listening, so nothing is left behind), every socket on the
 * port told apart, the cause and the remedies. Returns 0 or a negative
 * errno (the namespace or its sockets could not be read).
 */
int eph_diagnose(struct eph_ctx *ctx, const struct eph_diag_request *req,
		 struct eph_diagnosis **ret);
void eph_diagnosis_free(struct eph_diagnosis *d);

/* Can the port be bound as asked (every protocol, every family)? */
bool eph_diagnosis_bindable(const struct eph_diagnosis *d);
enum eph_diag_cause eph_diagnosis_cause(const struct eph_diagnosis *d);
/* With EPH_CAUSE_HELD: the kind of the holder that matters most. */
enum eph_holder_kind eph_diagnosis_cause_kind(const struct eph_diagnosis *d);
/* The protocol whose bind failed first (TCP before UDP), and its errno. */
uint8_t eph_diagnosis_cause_proto(const struct eph_diagnosis *d);
int eph_diagnosis_cause_errno(const struct eph_diagnosis *d);
/*
 * The verdict of each protocol tested, TCP first: one or two. A pointer
 * into D, valid as long as it lives; NULL past the end.
 */
size_t eph_diagnosis_verdict_count(const struct eph_diagnosis *d);
const struct eph_diag_verdict *
eph_diagnosis_verdict(const struct eph_diagnosis *d, size_t i);

size_t eph_diagnosis_probe_count(const struct eph_diagnosis *d);
const struct eph_diag_probe *eph_diagnosis_probe(const struct eph_diagnosis *d,
						 size_t i);
/* Holders: the target namespace's first, listeners first. */
size_t eph_diagnosis_holder_count(const struct eph_diagnosis *d);
const struct eph_diag_holder *
eph_diagnosis_holder(const struct eph_diagnosis *d, size_t i);
/* The remedies, in the order to try them; at most one of each code. */
size_t eph_diagnosis_remedy_count(const struct eph_diagnosis *d);
const struct eph_remedy *eph_diagnosis_remedy(const struct eph_diagnosis *d,
					      size_t i);
size_t eph_diagnosis_netns_error_count(const struct eph_diagnosis *d);
const struct eph_diag_netns_error *
eph_diagnosis_netns_error(const struct eph_diagnosis *d, size_t i);

/* The port's place: the policy of the namespace it was diagnosed in. */
const struct eph_policy *eph_diagnosis_policy(const struct eph_diagnosis *d);
/* The service names /etc/services gives the port, or NULL. */
const char *eph_diagnosis_service(const struct eph_diagnosis *d, uint8_t proto);

#ifdef __cplusplus
}
#endif

#endif
