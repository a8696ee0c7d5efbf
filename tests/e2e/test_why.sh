#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport why` and `ephport audit`: the "Address already in use" story,
# replayed in a namespace with a four-port range, and the cases around it.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
SOCKCTL="$(dirname "$0")/sockctl.py"

ns=$(ns_add story)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40003"
coproc S { ip netns exec "$ns" python3 "$SOCKCTL"; }
# say COMMAND: sends one command to the socket maker, sets $REPLY.
say() {
	echo "$*" >&"${S[1]}"
	read -r REPLY <&"${S[0]}"
}

# A service listens on 40001, inside the range.
say listen 127.0.0.1 5000
say listen 0.0.0.0 40001
expect_eq "the service listens on 40001" "$REPLY" OK

run "$EPHPORT" --netns "$ns" audit
expect_rc "audit: a listener inside the range is at risk (exit 1)" 1
expect_in "audit names the port and its process" "40001  tcp      python3[" "$OUT"
expect_in "audit gives the command that fixes it, in the namespace audited" "ephport --netns $ns reserve 40001" "$OUT"
expect_in "and does not promise what a reboot will not keep" "not across reboots" "$(tr -s ' \n' ' ' <<<"$OUT")"
run "$EPHPORT" --netns "$ns" audit --json
expect_eq "audit --json: at_risk and the merged reservation" \
	"$(jq -c '[[.at_risk[] | [.port, .proto, .owner.command]], .reserve]' <<<"$OUT")" \
	'[[[40001,"tcp","python3"]],"40001"]'
run "$EPHPORT" --netns "$ns"
expect_in "the overview lists the ports at risk" "Server ports at risk" "$OUT"
expect_in "with the port" "40001" "$(sed -n '/^Server ports at risk/,$p' <<<"$OUT")"
run "$EPHPORT" --netns "$ns" --json
expect_eq "the overview's JSON lists them" "$(jq -c '[.at_risk[].port]' <<<"$OUT")" '[40001]'
run "$EPHPORT" --netns "$ns" why 40001
expect_rc "why: a listener holds it (exit 1)" 1
expect_in "why: the verdict names the listener" "python3[" "$(sed -n '/^Verdict/,/^$/p' <<<"$OUT")"

# It stops; outgoing connections take every port of the range.
say unlisten 40001
say connect 127.0.0.1 5000 4
expect_eq "four connections take the four ports" \
	"$(tr ' ' '\n' <<<"${REPLY#OK }" | sort | paste -sd, -)" "40000,40001,40002,40003"
say trybind 0.0.0.0 40001
expect_eq "the service's bind now fails" "$REPLY" "ERR EADDRINUSE"

run "$EPHPORT" --netns "$ns" why 40001
expect_rc "why: not bindable (exit 1)" 1
expect_in "why names the outgoing connection" "an outgoing connection: the kernel gave it" "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_in "and its process" "python3[" "$(grep -A1 '127.0.0.1:40001 -> 127.0.0.1:5000' <<<"$OUT")"
expect_in "the verdict says why the kernel could take it" \
	"inside the ephemeral range 40000-40003 and not reserved" "$(sed -n '/^Verdict/,/^$/p' <<<"$OUT" | tr -s ' \n' ' ')"
expect_in "the remedies include the reservation, in this namespace" "ephport --netns $ns reserve 40001" "$OUT"
run "$EPHPORT" --netns "$ns" why 40001 --json
j=$OUT
check "why --json is one object" jq -e 'type == "object"' <<<"$j"
expect_eq "why --json: port, ok, in range, not reserved, not privileged" \
	"$(jq -c '[.port, .ok, .in_ephemeral_range, .reserved, .privileged]' <<<"$j")" '[40001,false,true,false,false]'
expect_eq "why --json: TCP not bindable, UDP bindable" \
	"$(jq -c '[.bindable.tcp.ipv4, .bindable.tcp.ipv6, .bindable.udp.ipv4]' <<<"$j")" '[false,false,true]'
expect_eq "why --json: the holder, autobound, with its process" \
	"$(jq -c '[.holders[] | [.proto, .state, .local_port, .remote_port, .explicit, .kind, .owner.command, .owner.user]]' <<<"$j")" \
	'[["tcp","ESTAB",40001,5000,false,"outgoing","python3","root"]]'

# The client closes first: its side waits in TIME_WAIT, with no owner.
say closeclients
run "$EPHPORT" --netns "$ns" why 40001 --json
expect_rc "why: a TIME_WAIT still holds it (exit 1)" 1
expect_eq "the holder is a TIME_WAIT with no process" \
	"$(jq -c '[.holders[] | [.state, .pid]]' <<<"$OUT")" '[["TIME-WAIT",null]]'
check "with 1 to 60 seconds left" jq -e '.holders[0].expires_seconds >= 1 and .holders[0].expires_seconds <= 60' <<<"$OUT"
check "and the remedy says how long to wait" jq -e '[.remedies[] | (.command // "") | startswith("sleep ")] | any' <<<"$OUT"
run "$EPHPORT" --netns "$ns" why 40001
expect_in "the text says so too" "the TIME_WAIT of an outgoing connection (closed; no process owns it)" "$(tr -s ' \n' ' ' <<<"$OUT")"

# A listener, with and without SO_REUSEPORT: a plain bind fails either way.
say listen 0.0.0.0 7000
say listen 0.0.0.0 7001 reuseport
for p in 7000 7001; do
	run "$EPHPORT" --netns "$ns" why "$p" --tcp --json
	expect_rc "why $p: a listener (exit 1)" 1
	expect_in "why $p: the verdict says SO_REUSEADDR does not help" "does not get past a listener" "$OUT"
done
expect_eq "the listener's port is not in the ephemeral range" \
	"$(jq -c '[.in_ephemeral_range, .reserved]' <<<"$OUT")" '[false,false]'

# An IPv6-only holder blocks IPv6 binds, not IPv4 ones.
say listen :: 7002 v6only
run "$EPHPORT" --netns "$ns" why 7002 --tcp --json
expect_rc "why: an IPv6-only listener (exit 1 for the dual bind)" 1
expect_eq "IPv4 bindable, IPv6 not" "$(jq -c '[.bindable.tcp.ipv4, .bindable.tcp.ipv6]' <<<"$OUT")" '[true,false]'
run "$EPHPORT" --netns "$ns" why 7002 --tcp --addr 127.0.0.1
expect_rc "why --addr 127.0.0.1: bindable there (exit 0)" 0

# Below the privileged threshold, for a process without the capability.
run ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$EPHPORT" why 80 --tcp
expect_rc "why 80 as nobody: not bindable (exit 1)" 1
expect_in "the verdict names the threshold and the capability" "CAP_NET_BIND_SERVICE" "$(tr -s ' \n' ' ' <<<"$OUT")"

run "$EPHPORT" --netns "$ns" why 7999
expect_rc "why: a free port (exit 0)" 0
expect_in "says it can be bound" "Port 7999 can be bound now." "$OUT"

run "$EPHPORT" why 70000
expect_rc "why 70000: a usage error" 2
expect_in "with a clear message" "70000" "$ERR"
run "$EPHPORT" why http
expect_rc "why with a word: a usage error" 2
run "$EPHPORT" why
expect_rc "why without a port: a usage error" 2
expect_in "that asks which port" "which port?" "$ERR"
run "$EPHPORT" why 80 --addr 300.1.1.1
expect_rc "a bad --addr: a usage error" 2

# audit: planned ports, files, other systems.
run "$EPHPORT" --netns "$ns" audit --ports 40002,9000 --json
expect_eq "a planned port inside the range is at risk, one outside is not" \
	"$(jq -c '[.at_risk[] | [.port, .proto]]' <<<"$OUT")" '[[40002,"planned"]]'
run "$EPHPORT" --netns "$ns" audit --ports 12000 --os freebsd,windows --json
expect_rc "a planned port inside FreeBSD's range is at risk (exit 1)" 1
expect_eq "for that system only; no reservation here fixes it" \
	"$(jq -c '[.at_risk[0].in_this_range, (.at_risk[0].reason | test("freebsd 10000-65535")), .reserve_ports]' <<<"$OUT")" '[false,true,null]'
printf '# planned services\n40003   # api\n\n 9000-9001\n' >"$TMP/ports"
run "$EPHPORT" --netns "$ns" audit --file "$TMP/ports" --json
expect_eq "--file: comments and blank lines skipped" "$(jq -c '[.at_risk[].port]' <<<"$OUT")" '[40003]'
printf '8080\n70000\n' >"$TMP/bad"
run "$EPHPORT" --netns "$ns" audit --file "$TMP/bad"
expect_rc "a corrupt port file is a usage error" 2
expect_in "naming the line" "line 2" "$ERR"
run "$EPHPORT" --netns "$ns" audit --ports 50000 --os windows,windows,windows,windows,windows,windows,windows,windows,windows,windows,windows,windows --os all --os macos --json
expect_rc "a long, repetitive --os list is taken once per system" 1
expect_eq "and named once each" \
	"$(jq -r '.at_risk[] | select(.port == 50000) | .reason' <<<"$OUT" | grep -o 'windows ' | wc -l)" 1
run "$EPHPORT" --netns "$ns" audit --os plan9
expect_rc "an unknown system is a usage error" 2
expect_in "pointing at the list" "ranges --os" "$ERR"

# A reserved port is safe, and the merged value keeps it.
ns2=$(ns_add reserved)
ns_sysctl "$ns2" net.ipv4.ip_local_port_range "40000 40003"
ns_sysctl "$ns2" net.ipv4.ip_local_reserved_ports 40002
run "$EPHPORT" --netns "$ns2" audit
expect_rc "audit: nothing at risk (exit 0)" 0
run "$EPHPORT" --netns "$ns2" audit --ports 40003 --json
expect_eq "the merged reservation keeps what was there" \
	"$(jq -r '.reserve' <<<"$OUT")" "40002-40003"
run "$EPHPORT" --netns "$ns2" why 40002 --json
expect_eq "why: a reserved port is said to be reserved" "$(jq .reserved <<<"$OUT")" true

# A bound UDP socket inside the range is at risk too.
say udp 0.0.0.0 40000
run "$EPHPORT" --netns "$ns" audit --json
expect_eq "audit: a bound UDP socket in the range" \
	"$(jq -c '[.at_risk[] | select(.proto == "udp") | [.port, .owner.command]]' <<<"$OUT")" '[[40000,"python3"]]'

# --all-netns finds the holders of a port in the other namespaces.
run "$EPHPORT" --netns "$ns2" why 7000 --tcp --all-netns --json
expect_rc "why --all-netns: free in this namespace (exit 0)" 0
expect_eq "and held by a listener in the other one, labelled" \
	"$(jq -c --arg ns "$ns" '[.holders[] | select(.netns == $ns) | [.state, .local_port, .owner.command, .conflicts]]' <<<"$OUT")" \
	'[["LISTEN",7000,"python3",false]]'

echo quit >&"${S[1]}"
wait "$S_PID" 2>/dev/null
finish
