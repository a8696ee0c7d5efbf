#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport usage` against the kernel itself: in namespaces with tiny ranges,
# the predicted free count must equal, before every further connect, the
# number of connects that then succeed before EADDRNOTAVAIL (UDP: EAGAIN).
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
EXHAUST="$(dirname "$0")/exhaust.py"
MATRIX="$(dirname "$0")/matrix.py"

# exact NAME LINE: LINE is "STEP predicted=P0,...,Pn connected=N"; the
# model is right when Pk = N - k for every k.
exact() {
	local pred n want
	pred=$(sed -n 's/.*predicted=\([0-9,]*\).*/\1/p' <<<"$2")
	n=$(sed -n 's/.*connected=\([0-9]*\).*/\1/p' <<<"$2")
	want=$(seq "$n" -1 0 | paste -sd, -)
	expect_eq "$1 (connected $n)" "$pred" "$want"
}

# tiny NS: range 40000-40019 (20 ports, bounds of different parity).
tiny() {
	ns_sysctl "$1" net.ipv4.ip_local_port_range "40000 40019"
}

# 1. One reserved port, a listener and a bind-before-connect socket inside
# the range: 17 ports per destination, each destination its own 17.
ns=$(ns_add budget)
tiny "$ns"
ns_sysctl "$ns" net.ipv4.ip_local_reserved_ports 40005
coproc EX { ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" \
	listen:127.0.0.1:5000 listen:127.0.0.1:5001 listen:127.0.0.1:40010 \
	bbc:127.0.0.1:40012:127.0.0.1:5000 \
	tcp:127.0.0.1:5000 tcp:127.0.0.1:5001 udp:127.0.0.1:53 hold; }
read -r first <&"${EX[0]}"
read -r second <&"${EX[0]}"
read -r udp <&"${EX[0]}"
read -r hold <&"${EX[0]}"
exact "first destination: every prediction met by the kernel" "$first"
expect_in "first destination: 20 - 1 reserved - 2 blocked = 17" "connected=17" "$first"
exact "second destination keeps its own full budget" "$second"
expect_in "second destination: 17 as well" "connected=17" "$second"
exact "UDP until EAGAIN: every prediction met" "$udp"
expect_in "UDP: 20 - 1 reserved; TCP binders do not count" "connected=19" "$udp"
expect_eq "the socket maker holds its sockets" "$hold" "HOLD"

run "$EPHPORT" --netns "$ns" usage --json
expect_rc "usage --json succeeds" 0
j=$OUT
check "usage --json is one JSON object" jq -e 'type == "object"' <<<"$j"
expect_eq "blocked_ports: the listener and the bind-before-connect socket" \
	"$(jq -c '[.blocked_ports, [.blocked[].port]]' <<<"$j")" '[2,[40010,40012]]'
expect_eq "blocked ports name the process that holds them" \
	"$(jq -r '[.blocked[].owner.command] | unique | join(",")' <<<"$j")" "python3"
expect_eq "range: 20 ports, 1 reserved, capacity 17" \
	"$(jq -c '[.range.size, .range.reserved, .range.capacity]' <<<"$j")" '[20,1,17]'
expect_eq "two destinations, both full" \
	"$(jq -c '[.tuples[] | [.remote, .remote_port, .used, .capacity, .free, .percent]] | sort' <<<"$j")" \
	'[["127.0.0.1",5000,17,17,0,100],["127.0.0.1",5001,17,17,0,100]]'
check "every tuple has the documented members" \
	jq -e 'all(.tuples[]; has("proto") and has("local") and has("remote") and has("remote_port") and has("used") and has("time_wait") and has("capacity") and has("free") and has("percent"))' <<<"$j"
expect_eq "udp: used and capacity" "$(jq -c '[.udp.ipv4.used, .udp.ipv4.capacity, .udp.ipv4.free]' <<<"$j")" '[19,19,0]'

run "$EPHPORT" --netns "$ns" usage
expect_rc "the table succeeds" 0
expect_in "the host line counts blocked ports" "2 blocked for every destination" "$OUT"
expect_in "and names their holder" "python3[" "$OUT"
expect_in "a full destination is marked critical" "100.0  CRITICAL" "$OUT"
run "$EPHPORT" --netns "$ns" usage --top 1
expect_in "--top 1 sums the rest in one line" "... 1 more destination with 17 ports in use" "$OUT"
run "$EPHPORT" --netns "$ns" usage --top 1 --json
expect_eq "--top applies to JSON: one tuple, the rest in 'other'" \
	"$(jq -c '[(.tuples | length), .other.destinations, .other.used]' <<<"$OUT")" '[1,1,17]' 

run "$EPHPORT" --netns "$ns" usage --check
expect_rc "--check: a full destination is CRITICAL (2)" 2
expect_in "one status line" "EPHPORT USAGE CRITICAL - fullest 127.0.0.1 -> 127.0.0.1:500" "$OUT"
expect_in "with perfdata" "| tcp_used_pct=100.00%;66.7;90.0;0;100 tcp_free=0;;;0;17 destinations=2" "$OUT"
run "$EPHPORT" --netns "$ns" usage --check --warning 0 --critical 0
expect_rc "--check with counts of free ports: fewer than 0 free never alerts" 0
run "$EPHPORT" --netns "$ns" usage --check --warning 101% 
expect_rc "--check: a percentage over 100 is UNKNOWN (3)" 3
expect_in "with a message" '--warning "101%"' "$ERR"
run "$EPHPORT" --netns "$ns" usage --warning 1x
expect_rc "without --check a bad threshold is a usage error (2)" 2
run "$EPHPORT" --netns "$ns" usage --check --json
expect_rc "--check --json keeps the status exit code" 2
expect_eq "and says the status" "$(jq -r .status <<<"$OUT")" CRITICAL

run "$EPHPORT" --netns "$ns"
expect_rc "the overview succeeds" 0
expect_in "the overview shows the fullest destinations" "Fullest destinations" "$OUT"
expect_in "with the full one first" "127.0.0.1:500" "$(grep -A2 '^Fullest' <<<"$OUT" | tail -1)"
run "$EPHPORT" --netns "$ns" --json
expect_eq "the overview's JSON carries usage too" \
	"$(jq -c '[.usage.blocked_ports, (.usage.tuples | length), .usage.range.capacity]' <<<"$OUT")" '[2,2,17]'

# --all-netns sees this namespace, labelled.
run "$EPHPORT" usage --all-netns --json
expect_rc "--all-netns succeeds" 0
expect_eq "--all-netns labels the tuples of a named namespace" \
	"$(jq -c --arg ns "$ns" '[.tuples[] | select(.netns == $ns) | .remote_port] | sort' <<<"$OUT")" '[5000,5001]'
expect_eq "--all-netns lists the namespace once, as named" \
	"$(jq --arg ns "$ns" '[.namespaces[] | select(.label == $ns and .named)] | length' <<<"$OUT")" 1
check "--all-netns: no namespace is listed twice" \
	jq -e '[.namespaces[] | "\(.spec)"] | length == (unique | length)' <<<"$OUT"
run "$EPHPORT" usage --all-netns
expect_in "--all-netns table has a NETNS column" "NETNS" "$OUT"
run "$EPHPORT" --netns "$ns" usage --all-netns
expect_rc "--all-netns with --netns is a usage error" 2
exec {EX[1]}>&-
wait "$EX_PID" 2>/dev/null

# A listener inside the range, with the connections it accepted: one
# blocked port, stood for by the listener, however many sockets share it.
ns=$(ns_add accepted)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "4990 5009"
coproc EX { ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" \
	listen:127.0.0.1:5000 tcp:127.0.0.1:5000 hold; }
read -r line <&"${EX[0]}"
read -r hold <&"${EX[0]}"
exact "a listener in the range: every prediction met" "$line"
expect_in "a listener in the range: 20 - 1" "connected=19" "$line"
run "$EPHPORT" --netns "$ns" usage --json
expect_eq "its port is blocked once, as LISTEN" \
	"$(jq -c '[.blocked[] | [.port, .state, .sockets, .owner.command]]' <<<"$OUT")" '[[5000,"LISTEN",1,"python3"]]'
expect_eq "the connections it accepted are on a blocked port, no destination's" \
	"$(jq -c '[.tcp.on_blocked_ports, (.tuples | length), .tuples[0].used]' <<<"$OUT")" '[19,1,19]'
exec {EX[1]}>&-
wait "$EX_PID" 2>/dev/null

# 2. TIME_WAIT: with tcp_tw_reuse 0 it holds its port for the full 60 s.
ns=$(ns_add tw0)
tiny "$ns"
ns_sysctl "$ns" net.ipv4.tcp_tw_reuse 0
run ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" listen:127.0.0.1:5000 \
	tw:127.0.0.1:5000:5 sleep:1.2 tcp:127.0.0.1:5000
exact "tcp_tw_reuse=0: TIME_WAIT counted as taken" "$OUT"
expect_in "tcp_tw_reuse=0: 20 - 5 TIME_WAIT" "connected=15" "$OUT"

# With 2 (the default), loopback TIME_WAIT older than tcp_tw_reuse_delay
# is reused by connect()...
ns=$(ns_add tw2)
tiny "$ns"
ns_sysctl "$ns" net.ipv4.tcp_tw_reuse 2
run ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" listen:127.0.0.1:5000 \
	tw:127.0.0.1:5000:5 sleep:1.2 tcp:127.0.0.1:5000
exact "tcp_tw_reuse=2 on loopback: old TIME_WAIT counted as free" "$OUT"
expect_in "tcp_tw_reuse=2 on loopback: all 20" "connected=20" "$OUT"
# ...but not while younger than the delay,
run ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" listen:127.0.0.1:5002 \
	tw:127.0.0.1:5002:5 tcp:127.0.0.1:5002
exact "tcp_tw_reuse=2: young TIME_WAIT counted as taken" "$OUT"
# ...and not toward an address that is not loopback.
ns=$(ns_add tw2far)
tiny "$ns"
ip -n "$ns" addr add 10.255.0.1/32 dev lo
ns_sysctl "$ns" net.ipv4.tcp_tw_reuse 2
run ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" listen:10.255.0.1:5000 \
	tw:10.255.0.1:5000:5 sleep:1.2 tcp:10.255.0.1:5000
exact "tcp_tw_reuse=2 off loopback: TIME_WAIT counted as taken" "$OUT"
expect_in "tcp_tw_reuse=2 off loopback: 20 - 5" "connected=15" "$OUT"

# 3. One fixed case for each kind of scenario test_matrix.sh draws, so a
# regression names its case. proof DESC N SYSCTLS STEP...: in a fresh
# namespace with a 20-port range (SYSCTLS "key=value;..." on top) and
# 10.255.0.1, 10.255.0.2, fd00::1 and fd00::2 on lo (not loopback
# addresses), every prediction of the last step (see exhaust.py) is met
# exactly and N attempts succeed; N "~" checks free_min..free only.
proof() {
	local desc=$1 want=$2 sysctls=$3 ns kv
	shift 3
	ns=$(ns_add proof)
	tiny "$ns"
	IFS=';' read -ra kvs <<<"$sysctls"
	for kv in "${kvs[@]}"; do
		ns_sysctl "$ns" "${kv%%=*}" "${kv#*=}"
	done
	ip -n "$ns" addr add 10.255.0.1/32 dev lo
	ip -n "$ns" addr add 10.255.0.2/32 dev lo
	ip -n "$ns" addr add fd00::1/128 dev lo nodad
	ip -n "$ns" addr add fd00::2/128 dev lo nodad
	run ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" \
		"listen:[::]:5000" "listen:[::]:5001" "$@"
	ip netns del "$ns"
	if [ "$RC" -ne 0 ]; then
		tap_not_ok "$desc" "exhaust.py failed" "$ERR"
	elif [ "$want" = "~" ]; then
		check "$desc" python3 "$MATRIX" check bounds "$(tail -1 <<<"$OUT")"
	else
		check "$desc" python3 "$MATRIX" check exact "$(tail -1 <<<"$OUT")" "$want"
	fi
}

# TCP: IPv6, v4-mapped, chosen sources, other destinations, states.
proof "tcp ::1: 20 - reserved - a listener and a bound socket on [::1]" 17 \
	"net.ipv4.ip_local_reserved_ports=40005" \
	"listen:[::1]:40010" "bind:[::1]:40011" "tcp:[::1]:5000"
proof "tcp 127.0.0.1 after 3 over v4-mapped IPv6: one budget" 17 "" \
	"est:[::ffff:127.0.0.1]:5000:3" tcp:127.0.0.1:5000
proof "tcp over v4-mapped IPv6 after 3 over IPv4: one budget" 17 "" \
	est:127.0.0.1:5000:3 "tcp:[::ffff:127.0.0.1]:5000"
proof "tcp from a chosen source: the routing source's load is not its own" 20 "" \
	est:127.0.0.1:5000:4 tw:127.0.0.1:5000:3 tcp:127.0.0.1:5000:from=127.0.0.2
proof "tcp from the routing source: a chosen source's load is not its own" 20 "" \
	est:127.0.0.1:5000:4:from=127.0.0.2 tcp:127.0.0.1:5000
proof "tcp: another destination's load is not this one's" 20 "" \
	"est:[::1]:5001:5" "tw:[::1]:5001:3" "tcp:[::1]:5000"
proof "tcp: FIN_WAIT2 and CLOSE_WAIT hold their ports" 15 "" \
	fw2:127.0.0.1:5000:2 cw:127.0.0.1:5000:3 tcp:127.0.0.1:5000
proof "tcp to a listener inside the range: 20 - its port" 19 "" \
	listen:0.0.0.0:40010 tcp:127.0.0.1:40010
proof "tcp, bounds of one parity: between free_min and free" "~" \
	"net.ipv4.ip_local_port_range=40000 40020;net.ipv4.ip_local_reserved_ports=40020" \
	listen:127.0.0.1:40007 tw:127.0.0.1:5000:3 tcp:127.0.0.1:5000
# TIME_WAIT: tcp_tw_reuse 0, 1, 2, old (reuse delay 1 ms) or young
# (60 s), on loopback or on an address added to lo.
proof "tw_reuse=1, old, off loopback: reused" 20 \
	"net.ipv4.tcp_tw_reuse=1;net.ipv4.tcp_tw_reuse_delay=1" \
	tw:10.255.0.1:5000:4 sleep:0.05 tcp:10.255.0.1:5000
proof "tw_reuse=1, young: not reused" 16 \
	"net.ipv4.tcp_tw_reuse=1;net.ipv4.tcp_tw_reuse_delay=60000" \
	tw:10.255.0.1:5000:4 tcp:10.255.0.1:5000
proof "tw_reuse=2, old, ::1: reused" 20 \
	"net.ipv4.tcp_tw_reuse=2;net.ipv4.tcp_tw_reuse_delay=1" \
	"tw:[::1]:5000:4" sleep:0.05 "tcp:[::1]:5000"
proof "tw_reuse=2, old, fd00::1 to fd00::1: not loopback, not reused" 16 \
	"net.ipv4.tcp_tw_reuse=2;net.ipv4.tcp_tw_reuse_delay=1" \
	"tw:[fd00::1]:5000:4" sleep:0.05 "tcp:[fd00::1]:5000"
proof "tw_reuse=2, old, from 127.0.0.2 to 10.255.0.1: one end loopback, reused" 20 \
	"net.ipv4.tcp_tw_reuse=2;net.ipv4.tcp_tw_reuse_delay=1" \
	tw:10.255.0.1:5000:4:from=127.0.0.2 sleep:0.05 \
	tcp:10.255.0.1:5000:from=127.0.0.2
proof "tw_reuse=2, old, v4-mapped loopback: reused" 20 \
	"net.ipv4.tcp_tw_reuse=2;net.ipv4.tcp_tw_reuse_delay=1" \
	"tw:[::ffff:127.0.0.1]:5000:4" sleep:0.05 tcp:127.0.0.1:5000
proof "tw_reuse=0, old, loopback: not reused" 16 \
	"net.ipv4.tcp_tw_reuse=0;net.ipv4.tcp_tw_reuse_delay=1" \
	"tw:[::1]:5000:4" sleep:0.05 "tcp:[::1]:5000"

# UDP: which held sockets overlap which autobind. Held: IPv6-only on
# [::] (1) and on ::1 (2), dual stack on [::] (3), an SO_REUSEADDR pair
# on 0.0.0.0 (4), 127.0.0.1 (5), 10.255.0.1 (6), fd00::1 (7), v4-mapped
# 127.0.0.1 (8): ports 40000-40007, TCP sockets on 40008-40010.
held=("udpsock:[::]:40000:v6only" "udpsock:[::1]:40001"
	"udpsock:[::]:40002:dual" udpsock:0.0.0.0:40003:reuse
	udpsock:127.0.0.1:40004 udpsock:10.255.0.1:40005
	"udpsock:[fd00::1]:40006" "udpsock:[::ffff:127.0.0.1]:40007"
	listen:0.0.0.0:40008 "bind:[::]:40009" est:127.0.0.1:5000:1)
proof "udp IPv4 (0.0.0.0): all but the IPv6-only ones" 15 "" \
	"${held[@]}" udp:127.0.0.1:53
proof "udp IPv6 dual stack ([::]): every one" 12 "" \
	"${held[@]}" "udp:[::1]:53:dual"
proof "udp IPv6-only ([::] V6ONLY): the IPv6 ones not v4-mapped" 16 "" \
	"${held[@]}" "udp:[::1]:53:v6only"
proof "udp IPv6 by default under bindv6only=1: IPv6-only" 16 \
	"net.ipv6.bindv6only=1" "${held[@]}" "udp:[::1]:53"
proof "udp bound to ::1: [::] and ::1" 17 "" "${held[@]}" "udpbind:[::1]"
proof "udp bound to fd00::2, which no socket is on: [::] only" 18 "" \
	"${held[@]}" "udpbind:[fd00::2]"
proof "udp bound to 127.0.0.1: 0.0.0.0, dual [::], 127.0.0.1 and v4-mapped" 16 "" \
	"${held[@]}" udpbind:127.0.0.1
proof "udp connected from 127.0.0.2 (IP_BIND_ADDRESS_NO_PORT): its address's" 18 "" \
	"${held[@]}" udp:127.0.0.1:53:from=127.0.0.2
proof "udp bound to 127.0.0.6: connected IPv6 sockets are there too" 17 "" \
	"udpconn:[::1]:53:3" udpbind:127.0.0.6

# 4. Per-state counts equal what ss reports, on a known socket mix (ss 6.1
# cannot show bound idle sockets: those are compared apart).
ns=$(ns_add states)
coproc HOLD { ip netns exec "$ns" python3 "$(dirname "$0")/sockets.py"; }
read -r ready <&"${HOLD[0]}"
run "$EPHPORT" --netns "$ns" usage --json
range=$(jq -r '"\(.range.low) \(.range.high)"' <<<"$OUT")
ss_counts=$(ip netns exec "$ns" ss -Htan | awk -v lo="${range% *}" -v hi="${range#* }" '{
	n = split($4, l, ":"); if (l[n] >= lo && l[n] <= hi) c[$1]++ }
	END { for (s in c) print s, c[s] }' | sort)
ours=$(jq -r '.tcp.states | to_entries[] | select(.key != "UNCONN") | "\(.key) \(.value)"' <<<"$OUT" | sort)
expect_eq "per-state counts in the range equal ss's" "$ours" "$ss_counts"
expect_eq "plus the two bound idle sockets ss 6.1 does not show" \
	"$(jq '.tcp.states.UNCONN' <<<"$OUT")" 2
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null

# A namespace asked about that cannot be read: unprivileged, --all-netns
# reads its own namespace but cannot enter a named one. It prints what it
# could and exits 2; --check says UNKNOWN (review of issue 11).
ns=$(ns_add unread)
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$EPHPORT" "$@"; }
run nobody usage --all-netns
expect_rc "--all-netns with a namespace not read: could not answer (2)" 2
expect_in "after printing what it could read" "the namespace ephport runs in" "$OUT"
expect_in "and the one it could not" "$ns
  not read: cannot enter network namespace" "$OUT"
expect_in "saying on stderr that some were not read" "could not be read" "$ERR"
run nobody usage --all-netns --json
expect_rc "the same with --json (2)" 2
expect_eq "the object counts it, and it did not vanish" \
	"$(jq -c --arg ns "$ns" '[.unread >= 1, (.namespaces[] | select(.label == $ns) | .error | [.code, .vanished])]' <<<"$OUT")" \
	'[true,["EPERM",false]]'
run nobody usage --all-netns --check
expect_rc "--all-netns --check with a namespace not read: UNKNOWN (3)" 3
expect_in "one status line that says so" "could not be read |" "$OUT"
expect_in "as UNKNOWN" "EPHPORT USAGE UNKNOWN - " "$OUT"
ip netns del "$ns"

run "$EPHPORT" --netns "ephtest-no-such-ns" usage
expect_rc "a missing namespace fails (2)" 2
expect_in "naming it" "ephtest-no-such-ns" "$ERR"
run "$EPHPORT" --netns "ephtest-no-such-ns" usage --check
expect_rc "with --check a missing namespace is UNKNOWN (3)" 3
# Every namespace unreadable: in a private mount and pid namespace, the
# named ones hidden and this one's /proc/sys/net/ipv4 empty, the only
# namespace left cannot be read; --all-netns --check must not say OK.
run unshare -m -p -f --mount-proc sh -c 'mount -t tmpfs none /run/netns && mount -t tmpfs none /proc/sys/net/ipv4 && exec "$1" usage --all-netns --check' sh "$EPHPORT"
expect_rc "--all-netns --check with no namespace readable is UNKNOWN (3)" 3
expect_in "with the reason on the status line" "EPHPORT USAGE UNKNOWN - no network namespace could be read" "$OUT"

finish
