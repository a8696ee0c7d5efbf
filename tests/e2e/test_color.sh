#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Colour: --color=always colours severities and verdicts where they are
# printed; --color=auto (the default) only on a terminal (script(1) gives
# the command a real one), never in a pipe; NO_COLOR wins over auto, not
# over always; TERM=dumb turns auto off; JSON and usage --check's status
# line never have colour, whatever is asked.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
command -v script >/dev/null || skip_all "needs script(1) (util-linux) for a terminal"

# The caller's environment must not decide for the tests.
unset NO_COLOR
export TERM=xterm
ESC=$'\033'
RED="$ESC[1;31m"
YELLOW="$ESC[33m"
GREEN="$ESC[32m"
BOLD="$ESC[1m"
RESET="$ESC[0m"

# has_escape TEXT: does TEXT hold any escape character?
has_escape() {
	case "$1" in *"$ESC"*) return 0 ;; *) return 1 ;; esac
}
# no_escape DESC TEXT
no_escape() {
	if has_escape "$2"; then
		tap_not_ok "$1" "escape codes in: $(cat -v <<<"$2" | head -5)"
	else
		tap_ok "$1"
	fi
}
# on_tty CMD...: runs CMD on a terminal of its own (stdout and stderr), as
# run does, without the terminal's carriage returns.
on_tty() {
	local cmd
	printf -v cmd '%q ' "$@"
	script -qec "$cmd" /dev/null >"$TMP/out" 2>"$TMP/err" </dev/null
	RC=$?
	OUT=$(tr -d '\r' <"$TMP/out")
	ERR=$(cat "$TMP/err")
}

# A namespace with a range of 10 ports: 9 connections toward :5000 (90%,
# CRITICAL), 7 toward :5001 (70%, WARNING), and a listener on 40005 that
# audit finds at risk.
ns=$(ns_add color)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40009"
coproc SK { ip netns exec "$ns" python3 -c '
import socket, sys
keep = []
for port in (5000, 5001, 40005):
    l = socket.socket()
    l.bind(("127.0.0.1", port))
    l.listen(64)
    keep.append(l)
for port, n in ((5000, 8), (5001, 7)):
    for _ in range(n):
        keep.append(socket.create_connection(("127.0.0.1", port)))
print("READY", flush=True)
sys.stdin.read()
'; }
read -r ready <&"${SK[0]}"
expect_eq "the sockets are made" "$ready" "READY"
# The listener on 40005 leaves 9 ports: 8 of 9 used is CRITICAL (88.9%
# would not be: 90% is the default), so count what usage says.
run "$EPHPORT" --netns "$ns" usage --json
expect_eq "one destination CRITICAL, one WARNING" \
	"$(jq -c '[.tuples[] | [.remote_port, .percent >= 90, .percent >= 66.7]]' <<<"$OUT")" \
	'[[5000,false,true],[5001,false,true]]'
# Thresholds that make one of each: critical at 8 used of 9, warning at 7.
TH=(--warning 70% --critical 85%)

# usage: the levels and their rows.
run "$EPHPORT" --netns "$ns" usage "${TH[@]}" --color=always
expect_rc "usage --color=always succeeds" 0
row=$(grep ':5000 ' <<<"$OUT")
expect_in "a CRITICAL row is red from its start" "$RED""tcp " "$row"
expect_in "and to its end, the level included" "CRITICAL$RESET" "$row"
row=$(grep ':5001 ' <<<"$OUT")
expect_in "a WARNING row is yellow" "$YELLOW""tcp " "$row"
expect_in "to its level" "WARNING$RESET" "$row"
expect_in "the heading is bold" "${BOLD}Ephemeral port usage (netns $ns)$RESET" "$OUT"
expect_eq "the columns are where they are without colour" \
	"$(sed "s/$ESC\[[0-9;]*m//g" <<<"$OUT")" \
	"$("$EPHPORT" --netns "$ns" usage "${TH[@]}" --color=never)"

run timeout 1.5 "$EPHPORT" --netns "$ns" usage "${TH[@]}" --watch 1 --color=always
expect_in "usage --watch: a CRITICAL row is red" "$RED""127.0.0.1 " "$(grep ':5000 ' <<<"$OUT")"
expect_in "a WARNING row yellow" "$YELLOW""127.0.0.1 " "$(grep ':5001 ' <<<"$OUT")"

# auto: colour on a terminal only.
on_tty "$EPHPORT" --netns "$ns" usage "${TH[@]}"
expect_in "auto on a terminal colours the CRITICAL row" "$RED""tcp " "$OUT"
run "$EPHPORT" --netns "$ns" usage "${TH[@]}"
no_escape "auto into a file: no colour" "$OUT"
on_tty sh -c '"$@" | cat' sh "$EPHPORT" --netns "$ns" usage "${TH[@]}"
expect_in "auto into a pipe, on a terminal: the table is there" "CRITICAL" "$OUT"
no_escape "and has no colour" "$OUT"
on_tty env NO_COLOR=1 "$EPHPORT" --netns "$ns" usage "${TH[@]}"
no_escape "NO_COLOR wins over auto" "$OUT"
on_tty env NO_COLOR= "$EPHPORT" --netns "$ns" usage "${TH[@]}"
expect_in "an empty NO_COLOR is no NO_COLOR" "$RED" "$OUT"
run env NO_COLOR=1 "$EPHPORT" --netns "$ns" usage "${TH[@]}" --color=always
expect_in "--color=always wins over NO_COLOR" "$RED" "$OUT"
on_tty env TERM=dumb "$EPHPORT" --netns "$ns" usage "${TH[@]}"
no_escape "TERM=dumb: no colour under auto" "$OUT"
run env TERM=dumb "$EPHPORT" --netns "$ns" usage "${TH[@]}" --color=always
expect_in "TERM=dumb, --color=always: colour" "$RED" "$OUT"
on_tty "$EPHPORT" --netns "$ns" usage "${TH[@]}" --color=never
no_escape "--color=never on a terminal: none" "$OUT"
on_tty "$EPHPORT" --color never --netns "$ns" usage "${TH[@]}" --color=always
expect_in "given twice, before and after the command: the last wins" "$RED" "$OUT"

# Never in JSON, never in the check's status line.
run "$EPHPORT" --netns "$ns" usage "${TH[@]}" --json --color=always
expect_rc "--json --color=always succeeds" 0
no_escape "--json never has colour" "$OUT"
on_tty "$EPHPORT" --netns "$ns" --json
no_escape "--json on a terminal: none either" "$OUT"
run "$EPHPORT" --netns "$ns" usage "${TH[@]}" --check --color=always
expect_rc "usage --check: CRITICAL (2)" 2
expect_in "the status line says so" "EPHPORT USAGE CRITICAL - " "$OUT"
no_escape "usage --check's status line never has colour" "$OUT"
on_tty "$EPHPORT" --netns "$ns" usage "${TH[@]}" --check
no_escape "not on a terminal either" "$OUT"
run "$EPHPORT" --netns "$ns" usage --check --warning 1x --color=always
expect_rc "usage --check UNKNOWN (3)" 3
no_escape "an UNKNOWN status line has none" "$OUT"

# The overview's headings, audit's rows and its Fix line.
run "$EPHPORT" --netns "$ns" --color=always
expect_in "the overview's headings are bold" "${BOLD}Fullest destinations$RESET" "$OUT"
expect_in "and its title" "${BOLD}ephport host overview (netns $ns)$RESET" "$OUT"
run "$EPHPORT" --netns "$ns" audit --ports 12000 --os freebsd --color=always
expect_rc "audit: ports at risk (1)" 1
expect_in "a listener in this range is red" "$RED  40005  tcp" "$OUT"
expect_in "a port in another system's range only is yellow" "$YELLOW  12000  planned" "$OUT"
expect_in "the Fix line is marked" "${BOLD}Fix:$RESET reserve 40005" "$OUT"
expect_in "with its command in green" "  ${GREEN}ephport --netns $ns reserve 40005$RESET" "$OUT"

# why: the verdict, green or red.
run "$EPHPORT" --netns "$ns" why 5000 --tcp --color=always
expect_rc "why: a listener's port cannot be bound (1)" 1
expect_in "its verdict is red" "$RED  Port 5000 cannot be bound" "$OUT"
expect_in "and its bind test" "$RED""Address already in use" "$OUT"
run "$EPHPORT" --netns "$ns" why 6000 --tcp --color=always
expect_rc "why: a free port can be bound (0)" 0
expect_in "its verdict is green" "$GREEN  Port 6000 can be bound now." "$OUT"

# ranges: warnings, yellow.
run "$EPHPORT" --netns "$ns" ranges --color=always
expect_in "a range warning is yellow" "  ${YELLOW}warning$RESET [range-small]" "$OUT"

# pick: the port chosen, green on a terminal, plain in $(...).
store="$TMP/assignments"
on_tty "$EPHPORT" --netns "$ns" pick color-test --assignments "$store"
expect_rc "pick on a terminal succeeds" 0
port=$(sed "s/$ESC\[[0-9;]*m//g" <<<"$OUT")
expect_eq "the port picked is green" "$OUT" "$GREEN$port$RESET"
expect_eq "in \$(...) it is the bare number" \
	"$("$EPHPORT" --netns "$ns" pick color-test --assignments "$store")" "$port"
run "$EPHPORT" --netns "$ns" pick --explain 5000 --color=always
expect_in "a rule failed is red" "  ${RED}FAIL$RESET " "$OUT"

# reserve: a refusal, red on stderr; a warning, yellow.
mkdir -p "$TMP/root/etc/sysctl.d"
run "$EPHPORT" --netns "$ns" unreserve 7777 --root "$TMP/root" --color=always
expect_rc "unreserve of a port reserved nowhere is refused (1)" 1
expect_in "the refusal is red" "ephport: unreserve: ${RED}refused: 7777 is not reserved" "$ERR"
run "$EPHPORT" --netns "$ns" unreserve 7777 --root "$TMP/root"
no_escape "into a file, the refusal has no colour" "$ERR"
run "$EPHPORT" --netns "$ns" set-range 50000 52000 --dry-run --runtime-only --color=always
expect_in "a change's warning is yellow" "$YELLOW""warning: bounds of the same parity" "$OUT"

# --version: yes in green.
run "$EPHPORT" --version --color=always
expect_in "--version's yes is green" "sock_diag TCP       ${GREEN}yes$RESET" "$OUT"

# trace: failures in red. Failed binds are made until it stops, so some
# come after the program is loaded, however long that takes.
if "$EPHPORT" trace --help >/dev/null 2>&1; then
	"$EPHPORT" --netns "$ns" trace --failures --duration 3 --color=always \
		>"$TMP/trace.out" 2>"$TMP/trace.err" &
	tracer=$!
	while kill -0 "$tracer" 2>/dev/null; do
		ip netns exec "$ns" python3 -c '
import socket
try:
    socket.socket().bind(("127.0.0.1", 5000))
except OSError:
    pass
'
		sleep 0.2
	done
	wait "$tracer"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "cannot load\|cannot attach\|not permitted" "$TMP/trace.err"; then
		tap_ok "# SKIP the kernel cannot load the tracer: $(head -1 "$TMP/trace.err")"
	else
		expect_in "trace: a failed bind is red" "$RED" \
			"$(grep ' bind-failed ' "$TMP/trace.out" | head -1)"
		expect_in "to the end of its line" "EADDRINUSE" \
			"$(grep ' bind-failed ' "$TMP/trace.out" | head -1)"
	fi
fi

# A bad value is a usage error.
run "$EPHPORT" --color=sometimes ranges
expect_rc "--color=sometimes is a usage error (2)" 2
expect_in "saying what is expected" "--color 'sometimes': expected auto, always or never" "$ERR"
run "$EPHPORT" ranges --color
expect_rc "--color without a value is a usage error (2)" 2

exec {SK[1]}>&-
wait "$SK_PID" 2>/dev/null
finish
