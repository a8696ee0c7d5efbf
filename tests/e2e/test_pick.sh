#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport pick`: ports that pass every rule, stable per name, a registry
# that parallel callers share without collisions.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
SOCKCTL="$(dirname "$0")/sockctl.py"
SERVICES=/usr/share/wireshark/services
[ -r "$SERVICES" ] || SERVICES=/etc/services

registered() { # registered PORT: is it in the services file, tcp or udp?
	grep -v '^#' "$SERVICES" | awk -v p="$1" '{ split($2, a, "/"); split(a[1], r, "-");
		lo = r[1] + 0; hi = (r[2] == "" ? lo : r[2] + 0)
		if (p >= lo && p <= hi && $2 ~ /\/(tcp|udp)/) f = 1 } END { exit !f }'
}

ns=$(ns_add a)
ns2=$(ns_add b)
REG=$TMP/reg/ports
run "$EPHPORT" --netns "$ns" pick --count 5 --registry "$REG"
expect_rc "pick --count 5 succeeds" 0
ports=$OUT
expect_eq "five distinct ports" "$(sort -u <<<"$ports" | wc -l)" 5
bad=
for p in $ports; do
	# outside the host's range and Linux, FreeBSD, macOS, Windows, IANA
	if ((p >= 32768 && p <= 60999)) || ((p >= 10000)) || ((p < 1024)); then bad="$bad $p(range)"; fi
	registered "$p" && bad="$bad $p(registered)"
done
expect_eq "every picked port is outside the ranges and not registered" "$bad" ""
coproc S { ip netns exec "$ns" python3 "$SOCKCTL"; }
say() { echo "$*" >&"${S[1]}"; read -r REPLY <&"${S[0]}"; }
fails=
for p in $ports; do
	say trybind 0.0.0.0 "$p"
	[ "$REPLY" = OK ] || fails="$fails $p"
done
expect_eq "every picked port is bindable" "$fails" ""

# The same NAME gives the same port in two fresh namespaces.
run "$EPHPORT" --netns "$ns" pick api-server --registry "$TMP/r1/ports"
p1=$OUT
run "$EPHPORT" --netns "$ns2" pick api-server --registry "$TMP/r2/ports"
expect_eq "the same name, the same port, on two fresh namespaces" "$OUT" "$p1"
run "$EPHPORT" --netns "$ns" pick web --registry "$TMP/r1/ports"
expect_eq "another name, another port" "$([ "$OUT" != "$p1" ] && echo differs)" differs
expect_eq "the registry records both" "$(awk '!/^#/ {print $1, $2}' "$TMP/r1/ports" | sort | paste -sd, -)" \
	"$(printf 'api-server %s\nweb %s\n' "$p1" "$OUT" | sort | paste -sd, -)"
run "$EPHPORT" --netns "$ns" pick api-server --registry "$TMP/r1/ports" --json
expect_eq "asking again returns the kept port" "$(jq -c '[.ports[0], .kept]' <<<"$OUT")" "[$p1,true]"

# A busy port is skipped, and --explain says why: a listener...
say listen 0.0.0.0 "$p1"
run "$EPHPORT" --netns "$ns" pick api-server --registry "$TMP/r1/ports"
expect_eq "a kept port stays kept while its service listens on it" "$OUT" "$p1"
run "$EPHPORT" --netns "$ns" pick api-server --registry "$TMP/r1/ports" --range 2000-2999
expect_rc "a kept port outside --range: pick still succeeds" 0
expect_eq "with another port" "$([ "$OUT" != "$p1" ] && echo moved)" moved
expect_in "and says why it moved" "no longer passes (outside --range)" "$ERR"
run "$EPHPORT" --netns "$ns" pick --explain "$p1" --registry "$TMP/r1/ports"
expect_rc "--explain on a busy port: exit 1" 1
expect_in "--explain names the rule" "FAIL in-use" "$OUT"
run "$EPHPORT" --netns "$ns2" pick api-server --registry "$TMP/r3/ports"
expect_eq "another namespace still gives the first port" "$OUT" "$p1"
# ...a TIME_WAIT...
run "$EPHPORT" --netns "$ns" pick tw-test --registry "$TMP/r4/ports"
ptw=$OUT
say listen 127.0.0.1 5000
say bindconnect "$ptw" 127.0.0.1 5000
say closeclients
run "$EPHPORT" --netns "$ns" pick --explain "$ptw"
expect_in "a TIME_WAIT makes the port fail" "FAIL in-use" "$OUT"
run "$EPHPORT" --netns "$ns" pick tw-test --registry "$TMP/r5/ports"
expect_eq "and pick skips it" "$([ "$OUT" != "$ptw" ] && echo skipped)" skipped
# ...a reservation.
run "$EPHPORT" --netns "$ns2" pick resv --registry "$TMP/r6/ports"
pr=$OUT
"$EPHPORT" --netns "$ns2" reserve "$pr" --runtime-only >/dev/null
run "$EPHPORT" --netns "$ns2" pick --explain "$pr"
expect_in "a reservation makes the port fail" "FAIL reserved" "$OUT"
run "$EPHPORT" --netns "$ns2" pick resv --registry "$TMP/r7/ports"
expect_eq "and pick skips it" "$([ "$OUT" != "$pr" ] && echo skipped)" skipped

# The other rules, through --explain.
run "$EPHPORT" --netns "$ns" pick --explain 8080 --json
expect_eq "8080: registered" "$(jq -r '.rules[] | select(.rule == "registered") | .pass' <<<"$OUT")" false
run "$EPHPORT" --netns "$ns" pick --explain 6667
expect_in "6667: browsers refuse it" "FAIL browser-blocked" "$OUT"
run "$EPHPORT" --netns "$ns" pick --explain 50000
expect_in "50000: inside the host's range" "FAIL host-range" "$OUT"
expect_in "and IANA's, Windows' and FreeBSD's" "iana 49152-65535" "$OUT"
run "$EPHPORT" --netns "$ns" pick --explain 80
expect_in "80: privileged" "FAIL privileged" "$OUT"
if [ -r /usr/share/nmap/nmap-services ]; then
	run "$EPHPORT" --netns "$ns" pick --explain 8080 --avoid-common
	expect_in "--avoid-common: 8080 is often open" "FAIL common" "$OUT"
fi

# --reserve reserves it as well.
run "$EPHPORT" --netns "$ns2" pick svc --reserve --registry "$TMP/r8/ports"
expect_rc "pick --reserve succeeds" 0
expect_in "the port is reserved in the namespace" "$OUT" \
	"$(ip netns exec "$ns2" cat /proc/sys/net/ipv4/ip_local_reserved_ports)"
expect_eq "stdout is the port alone" "$(grep -c . <<<"$OUT")" 1
psvc=$OUT
run "$EPHPORT" --netns "$ns2" pick svc --registry "$TMP/r8/ports"
expect_eq "its own reservation does not move it" "$OUT" "$psvc"
run "$EPHPORT" --netns "$ns2" pick --count 2 --range 1024-1027
expect_rc "too few ports for --count: exit 1" 1
expect_in "saying how many there were" "asked." "$ERR"

# Impossible constraints: a clear message, exit 1.
run "$EPHPORT" --netns "$ns" pick --os all
expect_rc "no port passes with every system's range: exit 1" 1
expect_in "naming the rule to relax" "To relax the biggest one (os-range)" "$ERR"

# A corrupt registry is reported, not overwritten.
mkdir -p "$TMP/bad"
printf 'api 8080 2026-01-01\nweb 8080 2026-01-02\n' >"$TMP/bad/ports"
sum=$(sha256sum <"$TMP/bad/ports")
run "$EPHPORT" --netns "$ns" pick other --registry "$TMP/bad/ports"
expect_rc "a registry with one port twice: exit 1" 1
expect_in "naming the line" "line 2" "$ERR"
expect_eq "and left as it was" "$(sha256sum <"$TMP/bad/ports")" "$sum"
printf 'api eighty 2026-01-01\n' >"$TMP/bad/ports"
run "$EPHPORT" --netns "$ns" pick other --registry "$TMP/bad/ports"
expect_rc "a registry with a bad port: exit 1" 1

# Twenty parallel picks for twenty names: twenty ports, an intact registry.
pids=()
for i in $(seq 1 20); do
	"$EPHPORT" --netns "$ns2" pick "svc-$i" --registry "$TMP/par/ports" >"$TMP/par-$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "20 parallel picks: 20 distinct ports" "$(cat "$TMP"/par-* | sort -u | grep -c '^[0-9]')" 20
expect_eq "and 20 lines in the registry, one per name" \
	"$(awk '!/^#/ {print $1}' "$TMP/par/ports" | sort -u | wc -l)" 20
run "$EPHPORT" pick --list --registry "$TMP/par/ports" --json
expect_eq "--list shows them" "$(jq '.assignments | length' <<<"$OUT")" 20
run "$EPHPORT" pick --release svc-7 --registry "$TMP/par/ports"
expect_rc "--release succeeds" 0
expect_eq "and drops only that name" "$(grep -c '^svc-' "$TMP/par/ports")" 19
run "$EPHPORT" pick --release svc-7 --registry "$TMP/par/ports"
expect_rc "releasing an unknown name: exit 1" 1

# Usage errors.
run "$EPHPORT" pick --explain 70000
expect_rc "--explain 70000: usage error" 2
run "$EPHPORT" pick --range 9000-8000
expect_rc "an inverted --range: usage error" 2
run "$EPHPORT" pick 'bad name'
expect_rc "a name with a space: usage error" 2
run "$EPHPORT" pick --count 0
expect_rc "--count 0: usage error" 2
run "$EPHPORT" pick --os plan9
expect_rc "an unknown system: usage error" 2
run "$EPHPORT" pick api --count 2
expect_rc "--count with NAME: usage error" 2

echo quit >&"${S[1]}"
wait "$S_PID" 2>/dev/null
finish
