#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport serve --trace`: the exporter runs the real tracer, loaded into
# the running kernel, on a throw-away namespace. Failures of connect() and
# bind() counted by errno and command; connections that open and close
# between two scrapes counted (socket cookies would miss them); the record
# it keeps read by `why` and `usage`, and by a `serve` without --trace; a
# second recorder refused; no CPU while nothing happens; a clean stop that
# leaves the record readable. promtool check metrics on every exposition.
#
# Skips (TAP's "1..0 # SKIP", saying why) only when the kernel cannot load
# the tracer.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
command -v jq >/dev/null || skip_all "needs jq"
. "$(dirname "$0")/serve_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
export EPHPORT_RECORD="$TMP/record/history"

ns=$(ns_add traced)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40009"

# py NS NAME CODE: Python CODE in namespace NS, as a process named NAME
# (what the kernel reports as its command).
py() {
	ip netns exec "$1" python3 -c "
import ctypes, errno, socket, struct, sys, time
sys.path.insert(0, '$HERE')
ctypes.CDLL(None).prctl(15, b'$2', 0, 0, 0)
$3"
}

# Can this kernel load the tracer at all? (As test_trace.sh decides.)
run "$EPHPORT" --netns "$ns" trace --duration 0 --json
if [ "$RC" -ne 0 ]; then
	code=$(jq -r '.error.code // empty' <<<"$OUT" 2>/dev/null)
	case "$code:$ERR" in
	EPERM:* | ENOSYS:* | EOPNOTSUPP:*)
		skip_all "the kernel cannot load BPF programs here: $ERR" ;;
	*"cannot load"* | *"cannot attach"*)
		[ -e /sys/kernel/btf/vmlinux ] ||
			skip_all "the kernel has no BTF (/sys/kernel/btf/vmlinux): $ERR"
		IFS=. read -r major minor _ <<<"$(uname -r)"
		[ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "${minor%%[!0-9]*}" -ge 2 ]; } ||
			skip_all "the tracer needs Linux 6.2 or later, this is $(uname -r): $ERR" ;;
	esac
fi
"$EPHPORT" serve --help | grep -q -- --trace || skip_all "ephport built without the tracer"

# The exporter's CPU time (clock ticks) and context switches, all threads.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
switches() {
	cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }'
}

# ---- Starting, and a second recorder refused ----
serve_start 8730 --netns "$ns" serve --listen 127.0.0.1:8730 --interval 1 --trace
check "serve --trace starts and answers /healthz" test $? -eq 0
main_pid=$SERVE_PID
expect_in "it says it traces" "listening on http://127.0.0.1:8730/ (a scan at most every 1 s, tracing)" \
	"$(cat "$SERVE_OUT")"
fetch_scan http://127.0.0.1:8730/metrics
m=$OUT
promtool_ok "promtool check metrics: tracing, nothing happened yet" "$m"
expect_eq "no event lost" "$(metric "$m" ephport_trace_events_lost_total)" 0
expect_eq "the scans use the record serve keeps" "$(metric "$m" ephport_history_used)" 1
check "and say for how long it has been kept" test -n "$(metric "$m" ephport_history_seconds)"
expect_eq "no failure yet, no series" \
	"$(grep -c '^ephport_\(bind\|connect\)_failures_total' <<<"$m")" 0

run "$EPHPORT" --netns "$ns" trace --record --duration 0 --json
expect_eq "trace --record is refused while serve --trace keeps the record: EBUSY" \
	"$RC:$(jq -r '.error.code' <<<"$OUT")" "2:EBUSY"
run ip netns exec "$CLI_NS" "$EPHPORT" --netns "$ns" serve --listen 127.0.0.1:8731 --trace
expect_rc "a second serve --trace cannot start: exit 2" 2
expect_in "saying why, and what to do" \
	"another recorder keeps $EPHPORT_RECORD already: stop that recorder" "$ERR"

# ---- Idle: nothing happens in the namespace, nothing runs ----
sleep 1 # the record's last write, at most half a second after a change
c0=$(cpu_ticks "$main_pid")
s0=$(switches "$main_pid")
sleep 3
c1=$(cpu_ticks "$main_pid")
s1=$(switches "$main_pid")
expect_eq "idle for 3 s: no CPU, not one wake-up of any thread" \
	"$((c1 - c0)) ticks, $((s1 - s0)) switches" "0 ticks, 0 switches"

# ---- Failures, by errno and command ----
py "$ns" ephtest-exhaust '
l = socket.socket(); l.bind(("127.0.0.1", 5000)); l.listen(64)
keep = []
while True:
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", 5000))
    except OSError as e:
        assert e.errno == errno.EADDRNOTAVAIL
        break
    keep.append(c)
for _ in range(2):
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", 5000))
    except OSError as e:
        assert e.errno == errno.EADDRINUSE
# Closed with a reset: no TIME_WAIT keeps the ten ports.
for c in keep:
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
'
fetch_scan http://127.0.0.1:8730/metrics
m=$OUT
promtool_ok "promtool check metrics: with failures" "$m"
expect_eq "the range exhausted: one connect() failed with EADDRNOTAVAIL, by its command" \
	"$(metric "$m" ephport_connect_failures_total 'errno="EADDRNOTAVAIL",command="ephtest-exhaust"')" 1
expect_eq "two bind() calls failed with EADDRINUSE, by their command" \
	"$(metric "$m" ephport_bind_failures_total 'errno="EADDRINUSE",command="ephtest-exhaust"')" 2
expect_eq "one series each: no other command, no \"other\"" \
	"$(grep -c '^ephport_\(bind\|connect\)_failures_total' <<<"$m")" 2
expect_eq "the ten connections that exhausted it were opened" \
	"$(metric "$m" ephport_connections_opened_total)" 10
fetch http://127.0.0.1:8730/api/v1/snapshot
expect_eq "the API: the failures, and the record used" \
	"$(jq -c '[.trace.events_lost, [.trace.failures[] | [.call, .errno, .command, .count]], .namespaces[0].history.used]' <<<"$OUT")" \
	'[0,[["connect","EADDRNOTAVAIL","ephtest-exhaust",1],["bind","EADDRINUSE","ephtest-exhaust",2]],true]'

# ---- Connections that open and close between two scrapes ----
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40999"
# A scan reads the new range: connections from its ports count.
fetch_scan http://127.0.0.1:8730/metrics
coproc BURST { py "$ns" ephtest-burst '
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 7000)); l.listen(512)
kept = socket.create_connection(("127.0.0.1", 7000)); peer = l.accept()[0]
print("READY", flush=True)
for line in sys.stdin:
    n = int(line)
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", 7000))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s = l.accept()[0]
        c.close(); s.close()
    print("DONE", flush=True)
'; }
OTHER_PIDS+=("$BURST_PID")
read -r reply <&"${BURST[0]}"
expect_eq "a connection toward :7000 stays open" "$reply" READY
dest='remote="127.0.0.1",remote_port="7000"'
fetch_scan http://127.0.0.1:8730/metrics
m=$OUT
promtool_ok "promtool check metrics: before the burst" "$m"
before=$(metric "$m" ephport_destination_connections_opened_total "$dest")
expect_eq "the connection that stays was counted when it opened" "$before" 1
echo 50 >&"${BURST[1]}"
read -r reply <&"${BURST[0]}"
fetch_scan http://127.0.0.1:8730/metrics
m=$OUT
promtool_ok "promtool check metrics: after the burst" "$m"
expect_eq "50 connections opened and closed between two scrapes: opened grows by 50" \
	"$(metric "$m" ephport_destination_connections_opened_total "$dest")" "$((before + 50))"
expect_eq "though no scan could see them (a cookie would miss them): 1 used, no TIME_WAIT" \
	"$(metric "$m" ephport_destination_used_ports "$dest,state=\"established\""),$(metric "$m" ephport_destination_used_ports "$dest,state=\"time_wait\"")" "1,0"
fetch http://127.0.0.1:8730/api/v1/snapshot
expect_eq "the API: the forecast's opened, and opened by the last scan" \
	"$(jq -c '.tuples[] | select(.remote_port == 7000) | [.forecast.opened, .forecast.opened_last]' <<<"$OUT")" \
	"[$((before + 50)),50]"

# ---- The record, read by other processes while serve runs ----
port=$(py "$ns" ephtest-tw '
from sockutil import close_client_first
l = socket.socket(); l.bind(("127.0.0.1", 5001)); l.listen()
c = socket.create_connection(("127.0.0.1", 5001))
print(c.getsockname()[1])
close_client_first(c, l.accept()[0])
')
sleep 0.7 # the record is written at most twice a second
run "$EPHPORT" --netns "$ns" why "$port" --json
expect_eq "why, another process, names the TIME_WAIT's maker from serve's record" \
	"$(jq -c '[.history.used, .history.recorder_pid, (.holders[] | select(.state == "TIME-WAIT") | .history.command)]' <<<"$OUT")" \
	"[true,$main_pid,\"ephtest-tw\"]"
run "$EPHPORT" --netns "$ns" usage
expect_in "usage says whose record it uses" "kept by pid $main_pid" "$(tr -s ' \n' ' ' <<<"$OUT")"
serve_start 8732 --netns "$ns" serve --listen 127.0.0.1:8732
fetch http://127.0.0.1:8732/metrics
promtool_ok "promtool check metrics: serve without --trace" "$OUT"
expect_eq "serve without --trace reads the record too" "$(metric "$OUT" ephport_history_used)" 1
expect_eq "but counts no failures: not tracing" \
	"$(grep -c '^# TYPE ephport_\(bind\|connect\)_failures_total\|^# TYPE ephport_trace_events_lost' <<<"$OUT")" 0
fetch http://127.0.0.1:8732/api/v1/snapshot
expect_eq "its API: the history it used, no trace" \
	"$(jq -c '[.namespaces[0].history.state, .namespaces[0].history.recorder_pid, .trace]' <<<"$OUT")" \
	"[\"usable\",$main_pid,null]"
serve_stop "$SERVE_PID"

# ---- A clean stop, and the record left readable ----
serve_stop "$main_pid"
expect_rc "SIGTERM: a clean exit 0" 0
expect_eq "nothing said on the way out" "$(grep -v '^ephport serve: listening' "$TMP/serve-8730.out")" ""
run "$EPHPORT" --netns "$ns" usage --json
expect_eq "the record is left whole: its recorder stopped, nothing refused" \
	"$(jq -c '[.history.state, .history.recorder_pid, .history.detail]' <<<"$OUT")" \
	"[\"stopped\",$main_pid,null]"
run "$EPHPORT" --netns "$ns" trace --record --duration 0 --json
expect_eq "a recorder started after it takes the record over, trusting it" \
	"$(jq -c 'select(.tracing) | [.tracing.record.entries >= 1, .tracing.record.discarded]' <<<"$OUT")" \
	'[true,null]'

finish
