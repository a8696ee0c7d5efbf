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

# spawn NAME: another socket maker in the namespace, driven by "tell NAME
# COMMAND" (sets $REPLY); its pid in ${pid_of[NAME]}. It and the children
# it makes are killed on exit, by pid (disowned: their end is expected).
spawned=()
declare -A pid_of in_of out_of
spawn() {
	local fd
	mkfifo "$TMP/$1.in" "$TMP/$1.out"
	ip netns exec "$ns" python3 "$SOCKCTL" <"$TMP/$1.in" >"$TMP/$1.out" &
	spawned+=("$!")
	pid_of[$1]=$!
	disown "$!"
	exec {fd}>"$TMP/$1.in"
	in_of[$1]=$fd
	exec {fd}<"$TMP/$1.out"
	out_of[$1]=$fd
}
tell() {
	local in=${in_of[$1]} out=${out_of[$1]}
	shift
	echo "$*" >&"$in"
	read -r REPLY <&"$out"
	# Children it made are ours to end too.
	case "$1 $REPLY" in
	"fork OK "* | "children OK "*) read -ra more <<<"${REPLY#OK }" && spawned+=("${more[@]}") ;;
	esac
}
# shellcheck disable=SC2317 # called by the trap
stop_spawned() {
	[ "${#spawned[@]}" -eq 0 ] || kill -KILL "${spawned[@]}" 2>/dev/null
	cleanup
}
trap stop_spawned EXIT
# gone PORT: waits until nothing listens on PORT in the namespace (ss
# reads the kernel's table; a bounded wait, never a fixed sleep).
# shellcheck disable=SC2317 # called by check
gone() {
	for _ in $(seq 500); do
		[ -z "$(ip netns exec "$ns" ss -Htln "sport = :$1")" ] && return 0
		sleep 0.01
	done
	return 1
}

# The socket maker's own pid (the coproc's is the shell around it).
say pid
sock_pid=${REPLY#OK }

# A service listens on 40001, inside the range.
say listen 127.0.0.1 5000
say listen 0.0.0.0 40001
expect_eq "the service listens on 40001" "$REPLY" OK

run "$EPHPORT" --netns "$ns" audit
expect_rc "audit: a listener inside the range is at risk (exit 1)" 1
expect_in "audit names the port and its process" "40001  tcp      python3[" "$OUT"
expect_in "audit gives the command that fixes it, in the namespace audited" "ephport --netns $ns reserve 40001" "$OUT"
expect_in "and does not promise what a reboot will not keep" "not across reboots" "$(tr -s ' \n' ' ' <<<"$OUT")"
run "$EPHPORT" --netns "$ns" audit --no-owners
expect_in "audit --no-owners says the process was not looked up, whole" "40001  tcp      uid 0 (not looked up)  " "$OUT"
run "$EPHPORT" --netns "$ns" audit --no-owners --json
expect_eq "audit --no-owners --json: no pid, and looked_up false" \
	"$(jq -c '[.at_risk[0].owner | .pid, .looked_up]' <<<"$OUT")" '[null,false]'
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
expect_in "stop-client: kill the client, as printed" "$(printf '  kill %s\n      # closes the outgoing connections of python3[%s]; the port then stays' "$sock_pid" "$sock_pid")" "$OUT"
expect_in "and it says killing alone does not free the port" "TIME_WAIT for 60 s, so this alone does not free it" "$(tr -s ' \n' ' ' <<<"$OUT")"
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
	"$(jq -c '[.holders[] | [.state, .owner.pid, .owner.processes]]' <<<"$OUT")" '[["TIME-WAIT",null,[]]]'
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

# A prefork server: the master and two workers share one listener after
# fork(). Every one is named, and the one remedy that stops them all,
# pasted as printed, frees the port.
spawn pre
tell pre listen 0.0.0.0 7100
tell pre fork 2
workers=${REPLY#OK }
run "$EPHPORT" --netns "$ns" why 7100 --tcp --json
expect_rc "why 7100: the prefork server holds it (exit 1)" 1
expect_eq "the listener's owner lists the master and both workers, the master first" \
	"$(jq -r '.holders[0].owner | [.processes[].pid] | join(" ")' <<<"$OUT")" "${pid_of[pre]} $workers"
expect_eq "the master is the parent of the others" \
	"$(jq -c '.holders[0].owner | [.pid, .parent_first, ([.processes[1:][].ppid] | unique)]' <<<"$OUT")" "[${pid_of[pre]},true,[${pid_of[pre]}]]"
expect_eq "one stop remedy: every process, the master first" \
	"$(jq -c '[.remedies[] | select(.code == "stop-process") | .command]' <<<"$OUT")" "[\"kill ${pid_of[pre]} $workers\"]"
run "$EPHPORT" --netns "$ns" why 7100 --tcp
expect_in "the verdict names all three" "held by the listener of python3[${pid_of[pre]}, ${workers// /, }]" "$(sed -n '/^Verdict/,/^$/p' <<<"$OUT" | tr -s ' \n' ' ')"
expect_in "the remedy says every one must go, the master first" "the port is free only when all 3 are gone" "$(tr -s ' \n' ' ' <<<"$OUT")"
cmd=$(sed -n '/^Remedies/{n;p;}' <<<"$OUT" | sed 's/^  //')
expect_eq "the first remedy is the kill of all three" "$cmd" "kill ${pid_of[pre]} $workers"
# Without the lookup: said so, never "not found".
run "$EPHPORT" --netns "$ns" why 7100 --tcp --no-owners
expect_in "--no-owners: the process was not looked up" "user root, process not looked up (--no-owners)" "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_in "and the stop remedy is the command that names it" "$(printf '  ephport --netns %s why 7100\n      # stop the process holding the port' "$ns")" "$OUT"
expect_in "run without --no-owners" "run this, without --no-owners, to name it" "$(tr -s ' \n' ' ' <<<"$OUT")"
run "$EPHPORT" --netns "$ns" why 7100 --tcp --no-owners --json
expect_eq "--no-owners --json: looked_up false, no pid, no find-owner" \
	"$(jq -c '[.holders[0].owner | .pid, .looked_up] + [[.remedies[].code] | index("find-owner")] + [.remedies[0] | .command, .looked_up]' <<<"$OUT")" \
	"[null,false,null,\"ephport --netns $ns why 7100\",false]"
eval "$cmd"
check "pasted, the kill frees the port" gone 7100
run "$EPHPORT" --netns "$ns" why 7100 --tcp
expect_rc "why 7100: bindable once all three are gone (exit 0)" 0

# Sixty processes, each with its own SO_REUSEPORT listener on one port:
# every remedy is kept, and JSON's verdict names every process.
spawn many
tell many children 60 0.0.0.0 7200
read -ra sixty <<<"${REPLY#OK }"
expect_eq "sixty listeners" "${#sixty[@]}" 60
run "$EPHPORT" --netns "$ns" why 7200 --tcp --json
expect_rc "why 7200: held (exit 1)" 1
expect_eq "sixty holders, and the remedies: one stop for all sixty, and move" \
	"$(jq -c '[(.holders | length), [.remedies[].code], (.remedies[0].processes | length)]' <<<"$OUT")" \
	'[60,["stop-process","move"],60]'
v=$(jq -r .verdict <<<"$OUT")
missing=0
for p in "${sixty[@]}"; do
	case "$v" in *"[$p]"* | *" $p,"* | *" $p]"*) ;; *) missing=$((missing + 1)) ;; esac
done
expect_eq "JSON's verdict names every one of the sixty" "$missing" 0
expect_eq "the verdict's data: sixty holders of sixty processes" \
	"$(jq -c '.verdicts[0] | [(.holders | length), .processes]' <<<"$OUT")" '[60,60]'
run "$EPHPORT" --netns "$ns" why 7200 --tcp
expect_in "the text names five and counts the rest" "and 55 more sockets (60 processes in all)" "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_in "the move remedy is printed" "ephport --netns $ns pick" "$OUT"
kill -KILL "${sixty[@]}" "${pid_of[many]}" 2>/dev/null
check "the sixty are gone" gone 7200

# A TCP listener and a bound UDP socket on one port: each protocol's
# verdict names its own holder.
say listen 0.0.0.0 7400
say udp 0.0.0.0 7400
run "$EPHPORT" --netns "$ns" why 7400
verdict=$(sed -n '/^Verdict/,/^$/p' <<<"$OUT" | tr -s ' \n' ' ')
expect_in "TCP: the listener" "TCP: held by the listener of python3[$sock_pid]. SO_REUSEADDR does not get past a listener." "$verdict"
expect_in "UDP: the bound UDP socket" "UDP: held by the bound UDP socket of python3[$sock_pid]." "$verdict"
run "$EPHPORT" --netns "$ns" why 7400 --json
expect_eq "the verdicts' holders are each protocol's own" \
	"$(jq -c '. as $d | [.verdicts[] | [.proto, [.holders[] | $d.holders[.].kind]]]' <<<"$OUT")" \
	'[["tcp",["listener"]],["udp",["udp-bound"]]]'

# A server-side TIME_WAIT: the server closed its accepted connections
# first, then stopped listening. SO_REUSEADDR on the server is the fix,
# not the client.
say listen 0.0.0.0 7300
say connect 127.0.0.1 7300 2
say closepeers
expect_eq "the server's ends are in TIME_WAIT" "$REPLY" OK
say unlisten 7300
run "$EPHPORT" --netns "$ns" why 7300 --tcp --json
expect_rc "why 7300: the TIME_WAITs hold it (exit 1)" 1
expect_eq "two server-side TIME_WAITs; remedies: wait, then SO_REUSEADDR" \
	"$(jq -c '[([.holders[].kind] | unique), [.remedies[].code]]' <<<"$OUT")" \
	'[["time-wait-server"],["wait","reuseaddr"]]'
run "$EPHPORT" --netns "$ns" why 7300 --tcp
expect_in "the remedy as printed" "set SO_REUSEADDR on the server's socket before bind(): the bind test with it succeeded" "$(tr -s ' \n' ' ' <<<"$OUT")"
say trybind 0.0.0.0 7300 reuseaddr
expect_eq "and a server that sets it does bind" "$REPLY" OK

# Two processes and three TIME_WAITs: all named in the verdict.
say listen 0.0.0.0 7500 reuseport
say connect 127.0.0.1 7500 3
say closepeers
spawn two
tell two listen 0.0.0.0 7500 reuseport
run "$EPHPORT" --netns "$ns" why 7500 --tcp
verdict=$(sed -n '/^Verdict/,/^$/p' <<<"$OUT" | tr -s ' \n' ' ')
expect_in "the verdict names the first process" "the listener of python3[$sock_pid]" "$verdict"
expect_in "and the second" "the listener of python3[${pid_of[two]}]" "$verdict"
expect_in "and counts the three TIME_WAITs after them" "] and 3 TIME_WAITs (" "$verdict"
run "$EPHPORT" --netns "$ns" why 7500 --tcp --json
expect_eq "one stop remedy for both" \
	"$(jq -c '[.remedies[] | select(.code == "stop-process") | [.processes[].pid] | sort]' <<<"$OUT")" "$(jq -c 'sort | [.]' <<<"[$sock_pid,${pid_of[two]}]")"

# Found by nobody: a root process's descriptors cannot be read, so the
# owner is not found, and the remedy says to look again as root.
run ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$EPHPORT" why 7000 --tcp
expect_rc "why 7000 as nobody: held (exit 1)" 1
expect_in "the holder's process is not found" "user root, process not found" "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_in "find-owner: look again as root" "$(printf '  sudo ephport why 7000\n      # the process was not found: as root' )" "$OUT"
run ip netns exec "$ns" "$EPHPORT" why 7000 --tcp
expect_in "as root, the same command names it" "python3[$sock_pid], user root" "$OUT"

# Below ip_unprivileged_port_start without the capability: the remedies
# name the capability, and the sysctl in this namespace, which works.
nocap=(setpriv --bounding-set=-net_bind_service --inh-caps=-net_bind_service)
run "${nocap[@]}" "$EPHPORT" --netns "$ns" why 80 --tcp --json
expect_rc "why 80 without CAP_NET_BIND_SERVICE: not bindable (exit 1)" 1
expect_eq "cause privileged; remedies: the capability and the sysctl" \
	"$(jq -c '[.cause, [.remedies[].code]]' <<<"$OUT")" '["privileged",["capability","unprivileged-port-start"]]'
cmd=$(jq -r '.remedies[] | select(.code == "unprivileged-port-start") | .command' <<<"$OUT")
expect_eq "the sysctl is set in the namespace inspected" "$cmd" "ip netns exec $ns sysctl -w net.ipv4.ip_unprivileged_port_start=80"
expect_eq "the capability, as printed" "$(jq -r '.remedies[0].command' <<<"$OUT")" "setcap cap_net_bind_service=+ep /path/to/server"
read -ra argv <<<"$cmd"
check "the sysctl, pasted, runs" "${argv[@]}"
run "${nocap[@]}" "$EPHPORT" --netns "$ns" why 80 --tcp
expect_rc "and port 80 can then be bound (exit 0)" 0
ns_sysctl "$ns" net.ipv4.ip_unprivileged_port_start 1024

# An address not on the host: EADDRNOTAVAIL, and the remedy to add it.
run "$EPHPORT" --netns "$ns" why 7600 --tcp --addr 10.9.0.1 --json
expect_rc "why --addr 10.9.0.1 (not here): not bindable (exit 1)" 1
expect_eq "cause addr-not-local; the one remedy: add the address" \
	"$(jq -c '[.cause, [.remedies[].code]]' <<<"$OUT")" '["addr-not-local",["add-address"]]'
run "$EPHPORT" --netns "$ns" why 7600 --tcp --addr 10.9.0.1
expect_in "the verdict says the address is not there" "that address is not on any interface of this namespace (EADDRNOTAVAIL)" "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_in "and the remedy names it" "put 10.9.0.1 on an interface (ip addr add)" "$(tr -s ' \n' ' ' <<<"$OUT")"
ip -n "$ns" addr add 10.9.0.1/32 dev lo
# With the address there, a socket on 127.0.0.1 is not blamed for it.
say listen 127.0.0.1 7600
run "$EPHPORT" --netns "$ns" why 7600 --tcp --addr 10.9.0.1 --json
expect_rc "why 7600 --addr 10.9.0.1: bindable there (exit 0)" 0
expect_eq "the listener on 127.0.0.1 does not conflict, and nothing is to stop" \
	"$(jq -c '[.holders[0].local, .holders[0].conflicts, [.remedies[].code]]' <<<"$OUT")" '["127.0.0.1",false,[]]'
run "$EPHPORT" --netns "$ns" why 7600 --tcp --addr 127.0.0.1
expect_rc "on 127.0.0.1 it is blamed (exit 1)" 1
expect_in "by name" "held by the listener of python3[$sock_pid]" "$(tr -s ' \n' ' ' <<<"$OUT")"

echo quit >&"${S[1]}"
wait "$S_PID" 2>/dev/null
finish
