#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport pick`: ports that pass every rule, stable per name, an
# assignments file that parallel callers share without collisions; the
# refusals, the usage errors and the examples of --help and the man page.
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
run "$EPHPORT" --netns "$ns" pick --count 5 --assignments "$REG"
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
run "$EPHPORT" --netns "$ns" pick api-server --assignments "$TMP/r1/ports"
p1=$OUT
run "$EPHPORT" --netns "$ns2" pick api-server --assignments "$TMP/r2/ports"
expect_eq "the same name, the same port, on two fresh namespaces" "$OUT" "$p1"
run "$EPHPORT" --netns "$ns" pick web --assignments "$TMP/r1/ports"
expect_eq "another name, another port" "$([ "$OUT" != "$p1" ] && echo differs)" differs
expect_eq "the assignments file records both" "$(awk '!/^#/ {print $1, $2}' "$TMP/r1/ports" | sort | paste -sd, -)" \
	"$(printf 'api-server %s\nweb %s\n' "$p1" "$OUT" | sort | paste -sd, -)"
run "$EPHPORT" --netns "$ns" pick api-server --assignments "$TMP/r1/ports" --json
expect_eq "asking again returns the kept port" "$(jq -c '[.ports[0], .kept]' <<<"$OUT")" "[$p1,true]"

# A busy port is skipped, and --explain says why: a listener...
say listen 0.0.0.0 "$p1"
run "$EPHPORT" --netns "$ns" pick api-server --assignments "$TMP/r1/ports"
expect_eq "a kept port stays kept while its service listens on it" "$OUT" "$p1"
run "$EPHPORT" --netns "$ns" pick api-server --assignments "$TMP/r1/ports" --range 2000-2999
expect_rc "a kept port outside --range: pick still succeeds" 0
expect_eq "with another port" "$([ "$OUT" != "$p1" ] && echo moved)" moved
expect_in "and says why it moved" "no longer passes (outside --range)" "$ERR"
run "$EPHPORT" --netns "$ns" pick --explain "$p1" --assignments "$TMP/r1/ports"
expect_rc "--explain on a busy port: exit 1" 1
expect_in "--explain names the rule" "FAIL in-use" "$OUT"
run "$EPHPORT" --netns "$ns2" pick api-server --assignments "$TMP/r3/ports"
expect_eq "another namespace still gives the first port" "$OUT" "$p1"
# ...a TIME_WAIT...
run "$EPHPORT" --netns "$ns" pick tw-test --assignments "$TMP/r4/ports"
ptw=$OUT
say listen 127.0.0.1 5000
say bindconnect "$ptw" 127.0.0.1 5000
say closeclients
run "$EPHPORT" --netns "$ns" pick --explain "$ptw"
expect_in "a TIME_WAIT makes the port fail" "FAIL in-use" "$OUT"
run "$EPHPORT" --netns "$ns" pick tw-test --assignments "$TMP/r5/ports"
expect_eq "and pick skips it" "$([ "$OUT" != "$ptw" ] && echo skipped)" skipped
# ...a reservation.
run "$EPHPORT" --netns "$ns2" pick resv --assignments "$TMP/r6/ports"
pr=$OUT
"$EPHPORT" --netns "$ns2" reserve "$pr" --runtime-only >/dev/null
run "$EPHPORT" --netns "$ns2" pick --explain "$pr"
expect_in "a reservation makes the port fail" "FAIL reserved" "$OUT"
run "$EPHPORT" --netns "$ns2" pick resv --assignments "$TMP/r7/ports"
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
run "$EPHPORT" --netns "$ns2" pick svc --reserve --assignments "$TMP/r8/ports"
expect_rc "pick --reserve succeeds" 0
psvc=$(head -n 1 <<<"$OUT")
expect_in "the port is reserved in the namespace" "$psvc" \
	"$(ip netns exec "$ns2" cat /proc/sys/net/ipv4/ip_local_reserved_ports)"
expect_eq "stdout holds the port alone" "$(wc -l <<<"$OUT")" 1
expect_in "the reservation is reported beside it, on stderr" \
	"Changed net.ipv4.ip_local_reserved_ports" "$ERR"
run "$EPHPORT" --netns "$ns2" pick svc2 --reserve --assignments "$TMP/r8/ports" --json
expect_eq "--json: one object, the reservation inside it" \
	"$(jq -s -c '[length, (.[0].ports | length), .[0].reservation.action, .[0].reservation.runtime.changed]' <<<"$OUT")" \
	'[1,1,"reserve",true]' 
run "$EPHPORT" --netns "$ns2" pick svc --assignments "$TMP/r8/ports"
expect_eq "its own reservation does not move it" "$OUT" "$psvc"
run "$EPHPORT" --netns "$ns2" pick --count 2 --range 1024-1027
expect_rc "too few ports for --count: exit 1" 1
expect_in "saying how many there were" "asked." "$ERR"
run "$EPHPORT" --netns "$ns2" pick --range "$pr-$pr"
expect_rc "a reserved port alone: exit 1" 1
expect_in "the hint that relaxes it names the namespace" \
	"'ephport --netns $ns2 unreserve PORTS'" "$ERR"

# Impossible constraints: a clear message, exit 1. With every system,
# OpenBSD's range and FreeBSD's leave no port at all: that is said plainly,
# as a refusal, not as a tally of rules.
run "$EPHPORT" --netns "$ns" pick --os all
expect_rc "--os all: no port can pass, exit 1" 1
expect_in "naming the ranges that cover the candidates" \
	"each lies within openbsd 1024-49151 or freebsd 10000-65535" "$ERR"
expect_in "and what to do, in the namespace" "see 'ephport --netns $ns ranges --os'" "$ERR"
run "$EPHPORT" --netns "$ns" pick --os all --json
expect_eq "--os all --json: the refusal's code" "$(jq -r .error.code <<<"$OUT")" ranges-cover-all
run "$EPHPORT" --netns "$ns" pick --range 1-1023
expect_rc "only privileged ports: exit 1" 1
expect_in "and --privileged is named" "--privileged" "$ERR"
run "$EPHPORT" --netns "$ns" pick --range 1000-1100 --count 3
expect_rc "a few unprivileged ports left: they are picked" 0

# A corrupt assignments file is reported, not overwritten: ephport could
# not answer, exit 2.
mkdir -p "$TMP/bad"
printf 'api 8080 2026-01-01\nweb 8080 2026-01-02\n' >"$TMP/bad/ports"
sum=$(sha256sum <"$TMP/bad/ports")
run "$EPHPORT" --netns "$ns" pick other --assignments "$TMP/bad/ports"
expect_rc "an assignments file with one port twice: exit 2" 2
expect_in "naming the line" "line 2" "$ERR"
expect_eq "and left as it was" "$(sha256sum <"$TMP/bad/ports")" "$sum"
run "$EPHPORT" pick --list --assignments "$TMP/bad/ports" --json
expect_eq "--list --json on it: an error object" "$(jq -r .error.code <<<"$OUT")" corrupt
printf 'api eighty 2026-01-01\n' >"$TMP/bad/ports"
run "$EPHPORT" --netns "$ns" pick other --assignments "$TMP/bad/ports"
expect_rc "an assignments file with a bad port: exit 2" 2
run "$EPHPORT" --netns "$ns" pick other --assignments "$TMP/bad/"
expect_rc "a directory for a file: exit 2" 2
run "$EPHPORT" pick --release api --assignments /proc/version/ports
expect_rc "an unreadable assignments file: exit 2" 2

# Twenty parallel picks for twenty names: twenty ports, an intact registry.
pids=()
for i in $(seq 1 20); do
	"$EPHPORT" --netns "$ns2" pick "svc-$i" --assignments "$TMP/par/ports" >"$TMP/par-$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "20 parallel picks: 20 distinct ports" "$(cat "$TMP"/par-* | sort -u | grep -c '^[0-9]')" 20
expect_eq "and 20 lines in the registry, one per name" \
	"$(awk '!/^#/ {print $1}' "$TMP/par/ports" | sort -u | wc -l)" 20
run "$EPHPORT" pick --list --assignments "$TMP/par/ports" --json
expect_eq "--list shows them" "$(jq '.assignments | length' <<<"$OUT")" 20
expect_eq "--list names the file" "$(jq -r .assignments_file <<<"$OUT")" "$TMP/par/ports"
p7=$(awk '$1 == "svc-7" {print $2}' "$TMP/par/ports")
run "$EPHPORT" pick --release svc-7 --assignments "$TMP/par/ports" --json
expect_rc "--release succeeds" 0
expect_eq "--release --json says what it dropped" \
	"$(jq -c '[.released.name, .released.port]' <<<"$OUT")" "[\"svc-7\",$p7]"
expect_eq "and drops only that name" "$(grep -c '^svc-' "$TMP/par/ports")" 19
run "$EPHPORT" pick --release svc-7 --assignments "$TMP/par/ports"
expect_rc "releasing an unknown name: exit 1" 1
run "$EPHPORT" pick --release svc-7 --assignments "$TMP/par/ports" --json
expect_eq "under --json, an error object" "$(jq -r .error.code <<<"$OUT")" no-assignment
run "$EPHPORT" pick --list --registry "$TMP/par/ports"
expect_rc "--registry as the old name of --assignments" 0
expect_eq "list the same file" "$(grep -c '^svc-' <<<"$OUT")" 19
run "$EPHPORT" pick --list --assignments "$TMP/none/ports"
expect_rc "--list of a file not yet made: exit 0" 0
expect_in "saying so" "no assignments" "$OUT"
expect_eq "and making nothing" "$([ -e "$TMP/none" ] && echo made)" ""

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

# Option letters: -c is --check elsewhere, so --count has none; -l is
# serve's --listen, so --list has none.
run "$EPHPORT" --netns "$ns" pick -c 3
expect_rc "-c is not --count: usage error" 2
run "$EPHPORT" pick -l --assignments "$TMP/par/ports"
expect_rc "-l is not --list: usage error" 2
run "$EPHPORT" --netns "$ns" pick -o linux,windows -r 2000-2999 --json
expect_rc "-o is --os, -r is --range" 0
expect_eq "within the range, outside the systems'" \
	"$(jq -c '[(.ports[0] >= 2000 and .ports[0] <= 2999), .os]' <<<"$OUT")" '[true,["linux","windows"]]'
run "$EPHPORT" --netns "$ns" pick -e 80
expect_in "-e is --explain" "FAIL privileged" "$OUT"

# Contradictions are usage errors.
for args in "--list --release a" "--list api" "--release a api" \
	"--list --explain 8080" "--release a --count 2" "--list --os linux" \
	"--release a --release b" "--os=" "--explain 8080 --count 2" \
	"--explain 8080 --reserve" "--count 2 --count 3" "--list --reserve"; do
	# shellcheck disable=SC2086
	run "$EPHPORT" pick $args --assignments "$TMP/usage/ports"
	expect_rc "pick $args: usage error" 2
done
run "$EPHPORT" pick --list --release a --json
expect_eq "under --json, a usage error object" "$(jq -r .error.code <<<"$OUT")" usage
# Two --os lists add up.
run "$EPHPORT" --netns "$ns" pick --explain 50000 --os linux --os windows --json
expect_eq "two --os: the lists add up" \
	"$(jq -c '.rules[] | select(.rule == "os-range") | .systems' <<<"$OUT")" '["linux","windows"]'

# Exit codes: --explain 0 when the port passes.
run "$EPHPORT" --netns "$ns" pick --count 1 --range 2000-2999
pok=$OUT
run "$EPHPORT" --netns "$ns" pick --explain "$pok" --json
expect_rc "--explain on a passing port: exit 0" 0
expect_eq "and it says so" "$(jq .pass <<<"$OUT")" true
run "$EPHPORT" --netns "$ns" pick --explain "$p1" --assignments "$TMP/r1/ports" --json
expect_eq "an in-use hint names the namespace" \
	"$(jq -r '.rules[] | select(.rule == "in-use") | .why' <<<"$OUT")" \
	"1 socket uses it now ('ephport --netns $ns why $p1')"
run "$EPHPORT" pick --help
expect_in "--help states the exit codes" "2 ephport could not answer" "$OUT"

# Every example of pick --help and of the man page runs as shown, here in a
# throw-away namespace with a throw-away assignments file.
MAN="$(dirname "$0")/../../man/ephport-pick.8"
examples() {
	"$EPHPORT" pick --help | sed -n '/^Examples:/,/^$/s/^  \(ephport pick.*\)/\1/p'
	sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$MAN" | sed 's/\\-/-/g' | grep '^ephport pick'
}
ns3=$(ns_add c)
n=0
while read -r line; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	run "$EPHPORT" --netns "$ns3" ${line#ephport } --assignments "$TMP/ex/ports"
	case "$line" in
	# --explain of a port that fails a rule answers no: exit 1.
	*--explain*) check "example '$line' runs: $RC" [ "$RC" -le 1 ] ;;
	*) expect_rc "example '$line' runs" 0 ;;
	esac
done < <(examples)
[ "$n" -ge 8 ] && tap_ok "$n examples found in --help and the man page" ||
	tap_not_ok "examples found in --help and the man page: $n"

echo quit >&"${S[1]}"
wait "$S_PID" 2>/dev/null
finish
