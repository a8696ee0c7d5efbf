#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport trace`: the real BPF program loaded into the running kernel,
# events made in throw-away namespaces. Then the record (--record) and
# what it changes: `why` names the process behind a TIME_WAIT, and `usage`
# is exact in the four blind spots of a socket dump, IPv4 and IPv6.
#
# Skips (TAP's "1..0 # SKIP", saying why) only when the kernel cannot load
# the program.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
command -v jq >/dev/null || skip_all "needs jq"
HERE=$(cd "$(dirname "$0")" && pwd)
export EPHPORT_RECORD="$TMP/record/history"

skip77() {
	skip_all "$1"
}

# py NS NAME CODE: runs Python CODE in namespace NS as a process named
# NAME (what the kernel reports as its command).
py() {
	ip netns exec "$1" python3 -c "
import ctypes, errno, socket, sys, time
ctypes.CDLL(None).prctl(15, b'$2', 0, 0, 0)
$3"
}

TRACE_PID=
# trace_start OUT ARGS...: ephport ARGS in the background, standard output
# to OUT; returns once it traces (its first JSON line), 1 if it failed.
trace_start() {
	local out=$1
	shift
	"$EPHPORT" "$@" >"$out" 2>"$out.err" &
	TRACE_PID=$!
	for _ in $(seq 200); do
		grep -q '"tracing"' "$out" 2>/dev/null && return 0
		kill -0 "$TRACE_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# trace_stop: SIGINT, as Ctrl-C; its exit code in TRACE_RC.
trace_stop() {
	sleep 0.4 # the reader batches events for up to 200 ms
	kill -INT "$TRACE_PID"
	wait "$TRACE_PID"
	TRACE_RC=$?
	TRACE_PID=
}

stop_all() {
	[ -n "$TRACE_PID" ] && kill -INT "$TRACE_PID" 2>/dev/null && wait "$TRACE_PID"
	cleanup
}
trap stop_all EXIT

ns=$(ns_add trace)
other=$(ns_add other)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40001"
inode=$(stat -L -c %i "/run/netns/$ns")
other_inode=$(stat -L -c %i "/run/netns/$other")

# Can this kernel load the program at all?
run "$EPHPORT" --netns "$ns" trace --duration 0 --json
if [ "$RC" -ne 0 ]; then
	code=$(jq -r '.error.code // empty' <<<"$OUT" 2>/dev/null)
	case "$code:$ERR" in
	EPERM:* | ENOSYS:* | EOPNOTSUPP:*)
		skip77 "the kernel cannot load BPF programs here: $ERR" ;;
	*"cannot load"* | *"cannot attach"*)
		[ -e /sys/kernel/btf/vmlinux ] ||
			skip77 "the kernel has no BTF (/sys/kernel/btf/vmlinux): $ERR"
		# The program reads through bpf_rdonly_cast(), from Linux 6.2.
		IFS=. read -r major minor _ <<<"$(uname -r)"
		[ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "${minor%%[!0-9]*}" -ge 2 ]; } ||
			skip77 "the tracer needs Linux 6.2 or later, this is $(uname -r): $ERR" ;;
	esac
fi
expect_rc "trace loads into the kernel and stops at once (--duration 0)" 0
expect_eq "it says what it traces first, then sums up" \
	"$(jq -sc '[.[0].tracing.netns_inode, .[0].tracing.all_netns, (.[1].summary | .events, .lost)]' <<<"$OUT")" \
	"[$inode,false,0,0]"

# tracefs is mounted by the library when it is missing, and it says so.
run unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; exec "$@"' sh \
	"$EPHPORT" --netns "$ns" trace --duration 0 --json
expect_eq "a missing tracefs is mounted, and the output says so" \
	"$(jq -sc '.[0].tracing.mounted_tracefs' <<<"$OUT")" true

# ---- Failures, with the process that met them ----
trace_start "$TMP/t1" --netns "$ns" trace --json || tap_not_ok "trace starts" "$(cat "$TMP/t1.err")"
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
b = socket.socket()
try:
    b.bind(("127.0.0.1", 5000))
except OSError as e:
    assert e.errno == errno.EADDRINUSE
# UDP runs out with EAGAIN: each socket needs a port of its own.
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.connect(("127.0.0.1", 5353))
    except OSError as e:
        assert e.errno == errno.EAGAIN
        break
    keep.append(u)
'
# The same in another namespace, which this trace must not show.
py "$other" ephtest-other '
s = socket.socket(); s.bind(("127.0.0.1", 5000)); s.listen()
b = socket.socket()
try:
    b.bind(("127.0.0.1", 5000))
except OSError:
    pass
c = socket.create_connection(("127.0.0.1", 5000))
'
trace_stop
ev=$(grep -v '"tracing"' "$TMP/t1" | grep -v '"summary"')
expect_eq "trace exits 1 when failures were seen" "$TRACE_RC" 1
expect_eq "connect() without a port left: EADDRNOTAVAIL, the address asked, the process" \
	"$(jq -c 'select(.event == "connect-failed" and .proto == "tcp") | [.errno, .remote, .remote_port, .command, .proto]' <<<"$ev")" \
	'["EADDRNOTAVAIL","127.0.0.1",5000,"ephtest-exhaust","tcp"]'
expect_eq "bind() to a busy port: EADDRINUSE, with the address asked" \
	"$(jq -c 'select(.event == "bind-failed") | [.errno, .local, .local_port, .command]' <<<"$ev")" \
	'["EADDRINUSE","127.0.0.1",5000,"ephtest-exhaust"]'
expect_eq "UDP out of ports: EAGAIN from connect()" \
	"$(jq -c 'select(.event == "connect-failed" and .proto == "udp") | [.errno, .remote_port, .command]' <<<"$ev")" \
	'["EAGAIN",5353,"ephtest-exhaust"]'
expect_eq "the two source ports the kernel chose, before it ran out" \
	"$(jq -c 'select(.event == "connect" and .proto == "tcp") | .local_port' <<<"$ev" | sort | paste -sd, -)" "40000,40001"
expect_eq "a listener, and the connections it got" \
	"$(jq -c 'select(.event == "listen" or .event == "accept") | [.event, .local_port]' <<<"$ev" | sort | uniq -c | awk '{print $1 $2}' | paste -sd' ' -)" \
	'2["accept",5000] 1["listen",5000]'
expect_eq "nothing from the other namespace" \
	"$(jq -c 'select(.netns_inode != '"$inode"' or .command == "ephtest-other")' <<<"$ev")" ""
expect_eq "the summary: failures per errno and command, connects per destination" \
	"$(jq -c 'select(.summary) | .summary | [.failures_by_command, .connects_by_destination, .lost]' "$TMP/t1")" \
	'[[{"errno":"EAGAIN","command":"ephtest-exhaust","count":1},{"errno":"EADDRINUSE","command":"ephtest-exhaust","count":1},{"errno":"EADDRNOTAVAIL","command":"ephtest-exhaust","count":1}],[{"proto":"tcp","remote":"127.0.0.1","remote_port":5000,"count":2},{"proto":"udp","remote":"127.0.0.1","remote_port":5353,"count":2}],0]'

# ---- Every namespace, and the filters ----
trace_start "$TMP/t2" --netns "$ns" trace --all-netns --failures --port 5000 --json ||
	tap_not_ok "trace --all-netns starts" "$(cat "$TMP/t2.err")"
py "$other" ephtest-other '
s = socket.socket(); s.bind(("127.0.0.1", 5000)); s.listen()
b = socket.socket()
try:
    b.bind(("127.0.0.1", 5000))
except OSError:
    pass
b = socket.socket()
try:
    b.bind(("127.0.0.1", 5000 + 1))
    b2 = socket.socket(); b2.bind(("127.0.0.1", 5001))
except OSError:
    pass
'
trace_stop
# Other tests (and other users) may make events elsewhere meanwhile: only
# those of this test's namespaces are looked at.
expect_eq "--all-netns shows the other namespace's failure, --port and --failures keep only it" \
	"$(jq -c 'select(.event and (.netns_inode == '"$inode"' or .netns_inode == '"$other_inode"')) | [.event, .local_port, .command]' "$TMP/t2")" \
	'["bind-failed",5000,"ephtest-other"]'

# A process that binds when told to: its pid is known before it acts.
coproc P { py "$ns" ephtest-pid '
print(__import__("os").getpid(), flush=True)
sys.stdin.readline()
b = socket.socket(); b.bind(("127.0.0.1", 0))
sys.stdin.readline()
'; }
read -r ppid <&"${P[0]}"
trace_start "$TMP/t3" --netns "$ns" trace --pid "$ppid" --json ||
	tap_not_ok "trace --pid starts" "$(cat "$TMP/t3.err")"
py "$ns" ephtest-noise 'c = socket.socket(); c.bind(("127.0.0.1", 0))'
echo go >&"${P[1]}"
sleep 0.2
trace_stop
echo done >&"${P[1]}"
expect_eq "--pid keeps the events of that process only" \
	"$(jq -c 'select(.event) | [.event, .pid == '"$ppid"', .command]' "$TMP/t3")" \
	'["bind",true,"ephtest-pid"]'
expect_eq "and trace exits 0 when no failure was seen" "$TRACE_RC" 0

# ---- TIME_WAIT, and the record that names its maker ----
ns2=$(ns_add record)
trace_start "$TMP/t4" --netns "$ns2" trace --record --json ||
	tap_not_ok "trace --record starts" "$(cat "$TMP/t4.err")"
expect_eq "the record is kept where EPHPORT_RECORD says" \
	"$(jq -c 'select(.tracing) | .tracing.record.path' "$TMP/t4")" "\"$EPHPORT_RECORD\""
port=$(py "$ns2" ephtest-tw '
sys.path.insert(0, "'"$HERE"'")
from sockutil import close_client_first
l = socket.socket(); l.bind(("127.0.0.1", 5000)); l.listen()
c = socket.create_connection(("127.0.0.1", 5000))
print(c.getsockname()[1])
close_client_first(c, l.accept()[0])
')
sleep 0.7 # the record is written at most twice a second
run "$EPHPORT" --netns "$ns2" why "$port" --json
expect_eq "why: the TIME_WAIT's maker, from the record" \
	"$(jq -c '[.history.used, (.holders[] | select(.state == "TIME-WAIT") | [.kind, .kind_certain, .history.command, .history.accepted, .history.bound_first])]' <<<"$OUT")" \
	'[true,["time-wait-client",true,"ephtest-tw",false,false]]'
run "$EPHPORT" --netns "$ns2" why "$port"
expect_in "why: \"opened by pid N (comm) to ADDR:PORT, N s ago\"" \
	"(ephtest-tw) to 127.0.0.1:5000, " "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_in "why says the history it used" "History: since" "$OUT"
trace_stop
expect_eq "trace shows the connection entering TIME_WAIT, with its maker" \
	"$(jq -c 'select(.event == "time-wait") | [.local_port, .remote_port, .command, .timestamps]' "$TMP/t4")" \
	"[$port,5000,\"ephtest-tw\",true]"
run "$EPHPORT" --netns "$ns2" why "$port" --json
expect_eq "a record whose recorder stopped is not used" \
	"$(jq -c '[.history.state, .history.used, ([.holders[].history] | map(select(. != null)) | length)]' <<<"$OUT")" \
	'["stopped",false,0]'
# It survives its own restart.
trace_start "$TMP/t5" --netns "$ns2" trace --record --duration 2 --json ||
	tap_not_ok "trace --record starts again" "$(cat "$TMP/t5.err")"
expect_eq "a restarted recorder reads the record back" \
	"$(jq -c 'select(.tracing) | [.tracing.record.entries >= 1, .tracing.record.discarded]' "$TMP/t5")" '[true,null]'
run "$EPHPORT" --netns "$ns2" why "$port" --json
expect_eq "and why names the maker again" \
	"$(jq -c '[.holders[] | select(.state == "TIME-WAIT") | .history.command]' <<<"$OUT")" '["ephtest-tw"]'
trace_stop

# ---- usage in the four blind spots of a socket dump, with the record ----
cases="bind0 bind0-tw accepted accepted-tw no-ts-tw ts-tw"
trace_start "$TMP/t6" trace --all-netns --record --json ||
	tap_not_ok "trace --all-netns --record starts" "$(cat "$TMP/t6.err")"
for fam in 4 6; do
	for c in $cases; do
		n=$(ns_add "bs$fam-$c")
		ns_sysctl "$n" net.ipv4.ip_local_port_range "40000 40009"
		mkfifo "$TMP/in-$fam-$c"
		ip netns exec "$n" python3 "$HERE/blindspot.py" "$EPHPORT" "$fam" "$c" \
			<"$TMP/in-$fam-$c" >"$TMP/out-$fam-$c" 2>&1 &
		exec {fd}>"$TMP/in-$fam-$c"
		eval "fd_${fam}_${c//-/_}=$fd"
	done
done
# Every case built, then a second and a bit: the TIME_WAITs are older than
# tcp_tw_reuse_delay, and the record has been written.
for fam in 4 6; do
	for c in $cases; do
		for _ in $(seq 100); do
			grep -q READY "$TMP/out-$fam-$c" && break
			sleep 0.05
		done
	done
done
sleep 1.2
for fam in 4 6; do
	for c in $cases; do
		fd_var="fd_${fam}_${c//-/_}"
		fd=${!fd_var}
		echo "check with $EPHPORT_RECORD" >&"$fd"
		echo "check without $TMP/no-such-record" >&"$fd"
		echo "exhaust" >&"$fd"
		echo "quit" >&"$fd"
		exec {fd}>&-
	done
done
wait_for_cases() {
	for _ in $(seq 200); do
		grep -q kernel= "$1" && return 0
		sleep 0.05
	done
}
for fam in 4 6; do
	for c in $cases; do
		wait_for_cases "$TMP/out-$fam-$c"
		out=$(tr '\n' ' ' <"$TMP/out-$fam-$c")
		with=$(sed -n 's/^with=//p' "$TMP/out-$fam-$c")
		without=$(sed -n 's/^without=//p' "$TMP/out-$fam-$c")
		kernel=$(sed -n 's/^kernel=//p' "$TMP/out-$fam-$c")
		expect_eq "IPv$fam $c: usage with the record predicts what the kernel grants ($out)" \
			"$with" "$kernel"
		if [ -n "$kernel" ] && [ "$without" != "$kernel" ]; then
			tap_ok "IPv$fam $c: without it usage is off ($without, not $kernel): the case is a blind spot"
		else
			tap_not_ok "IPv$fam $c: without it usage is off: the case is a blind spot" "$out"
		fi
	done
done
trace_stop
expect_eq "nothing was lost while recording" \
	"$(jq -c 'select(.summary) | .summary.lost' "$TMP/t6")" 0

finish
