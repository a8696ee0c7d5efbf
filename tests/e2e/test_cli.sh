#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The command line: help, version, and every kind of bad input gets a clear
# message, the documented exit code, and changes nothing.
. "$(dirname "$0")/lib.sh"

run "$EPHPORT" --help
expect_rc "--help exits 0" 0
expect_in "--help lists the ranges command" "ranges" "$OUT"
expect_in "--help documents the exit status" "Exit status, for every command: 0 yes or done, 1 the answer is no" "$OUT"
run "$EPHPORT" ranges --help
expect_rc "ranges --help exits 0" 0
expect_in "ranges --help documents --os" "--os" "$OUT"
expect_in "ranges --help has examples" "Examples:" "$OUT"
run "$EPHPORT" --version
expect_rc "--version exits 0" 0
expect_in "--version prints the version" "ephport 0." "$OUT"

run "$EPHPORT" --frobnicate
expect_rc "an unknown global option is a usage error" 2
expect_in "it is named" "unknown option '--frobnicate'" "$ERR"
run "$EPHPORT" ranges --frobnicate
expect_rc "an unknown command option is a usage error" 2
expect_in "it is named with the command" "ranges: unknown option '--frobnicate'" "$ERR"
expect_in "the message points at help" "Try 'ephport ranges --help'" "$ERR"
run "$EPHPORT" pick --co 2
expect_rc "an abbreviation of two options is a usage error" 2
expect_in "it says which two, the global one too" "pick: option '--co' is ambiguous: --color, --count" "$ERR"
run "$EPHPORT" pick --cou 1 --json
expect_rc "one that fits one option alone works" 0
run "$EPHPORT" ranges -z
expect_rc "an unknown short option is a usage error" 2
expect_in "it is named" "unknown option '-z'" "$ERR"
run "$EPHPORT" bogus
expect_rc "an unknown command is a usage error" 2
expect_in "it is named" "unknown command 'bogus'" "$ERR"
run "$EPHPORT" range
expect_rc "commands match exactly, not by prefix" 2
run "$EPHPORT" --netns
expect_rc "--netns without a value is a usage error" 2
expect_in "the message says a value is missing" "needs a value" "$ERR"
run "$EPHPORT" ranges --netns
expect_rc "ranges --netns without a value is a usage error" 2
expect_in "a long option is named as typed" "option '--netns' needs a value" "$ERR"
run "$EPHPORT" ranges -n
expect_in "a short option is named as typed" "option '-n' needs a value" "$ERR"
run "$EPHPORT" ranges extra
expect_rc "a stray argument is a usage error" 2
expect_in "it is named" "unexpected argument 'extra'" "$ERR"
expect_eq "usage errors print nothing on stdout" "$OUT" ""

run "$EPHPORT" --netns no-such-namespace-$$ ranges
expect_rc "a missing namespace cannot be answered (2)" 2
expect_in "the message names it and why" "no-such-namespace-$$\": /run/netns/no-such-namespace-$$: No such file or directory" "$ERR"
expect_eq "and prints nothing on stdout" "$OUT" ""
run "$EPHPORT" --netns /etc/hostname ranges
expect_rc "a file that is not a namespace cannot be answered (2)" 2
expect_in "the message says so" "is not a network namespace" "$ERR"
run "$EPHPORT" --netns pid:abc ranges
expect_rc "a malformed pid cannot be answered (2)" 2
expect_in "the message quotes it" "\"abc\" is not a number" "$ERR"
run "$EPHPORT" --netns pid:0 ranges
expect_rc "pid 0 is refused (2)" 2
run "$EPHPORT" --netns pid:4194305 ranges
expect_rc "pid out of range is refused (2)" 2
expect_in "the message gives the bounds" "out of range" "$ERR"
run "$EPHPORT" --netns .. ranges
expect_rc "'..' is not a namespace name (2)" 2
run "$EPHPORT" --netns /proc/self/ns/uts ranges
expect_rc "another kind of namespace is refused (2)" 2
expect_in "the message says it is not a network namespace" "is not a network namespace" "$ERR"

if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
	ns=$(ns_add cli)
	# Not privileged: cannot enter, says what is missing.
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$EPHPORT" --netns "$ns" ranges
	expect_rc "entering a namespace without privilege cannot be answered (2)" 2
	expect_in "the message names the missing capability" "needs CAP_SYS_ADMIN" "$ERR"
	# The caller's own namespace needs no privilege.
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$EPHPORT" --netns /proc/self/ns/net ranges --json
	expect_rc "an unprivileged user can name its own namespace" 0

	# Every command printed names the namespace looked at.
	run "$EPHPORT" --netns "$ns"
	expect_in "the overview's closing hints name the namespace" \
		"'ephport --netns $ns usage'" "$(tr -s ' \n' ' ' <<<"$OUT")"
	run "$EPHPORT" --netns "$ns" audit --ports 12000 --os freebsd
	expect_rc "audit: a port in another system's range is at risk (1)" 1
	expect_in "audit's hints for other systems name the namespace" \
		"'ephport --netns $ns pick'" "$(tr -s ' \n' ' ' <<<"$OUT")"

	# Missing and corrupt sysctls, in a private mount namespace so that
	# the host's /proc is never touched.
	bad="$FIXTURES/procsys/corrupt-reserved/net/ipv4/ip_local_reserved_ports"
	run unshare -m sh -c 'mount --bind "$1" /proc/sys/net/ipv4/ip_local_reserved_ports && exec "$2" ranges' sh "$bad" "$EPHPORT"
	expect_rc "a corrupt reserved-ports value cannot be answered (2)" 2
	expect_in "the message names the sysctl and the bad item" "net.ipv4.ip_local_reserved_ports: port list: empty item" "$ERR"
	bad="$FIXTURES/procsys/corrupt-range/net/ipv4/ip_local_port_range"
	run unshare -m sh -c 'mount --bind "$1" /proc/sys/net/ipv4/ip_local_port_range && exec "$2" --json' sh "$bad" "$EPHPORT"
	expect_rc "a corrupt range cannot be answered (2)" 2
	expect_in "the message quotes the value" "net.ipv4.ip_local_port_range: \"abc\" is not two numbers" "$ERR"
	expect_eq "and --json prints only the error object" \
		"$(jq -c '[.error.code, (.error.message | test("is not two numbers")), (keys | sort)]' <<<"$OUT")" \
		'["EINVAL",true,["error","netns"]]' 
	run unshare -m sh -c 'mount -t tmpfs none /proc/sys/net/ipv4 && exec "$1" ranges' sh "$EPHPORT"
	expect_rc "a missing sysctl cannot be answered (2)" 2
	expect_in "the message names the file" "cannot read net.ipv4.ip_local_port_range (/proc/sys/net/ipv4/ip_local_port_range): No such file or directory" "$ERR"
else
	tap_ok "# SKIP privileged cases need root"
fi

# The manuals document what --help offers, and render cleanly: ephport(8),
# assembled at build time (EPHPORT_MAN) from man/ephport.8.in and the
# commands' pages, man/ephport-COMMAND.8, which are the source of its text.
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
MAN=${EPHPORT_MAN:-}
commands=$("$EPHPORT" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && /^  [a-z]/ {print $1}')
want="ranges usage why audit reserve unreserve set-range pick"
"$EPHPORT" serve --help >/dev/null 2>&1 && want="$want serve metrics"
# The tracer is built where libbpf, bpftool and clang are (-Dbpf=auto).
"$EPHPORT" trace --help >/dev/null 2>&1 && want="$want trace"
want="$want help"
expect_eq "--help lists every command" "$(echo $commands)" "$want"
if [ -z "$MAN" ] || [ ! -f "$MAN" ]; then
	tap_ok "# SKIP EPHPORT_MAN names no built ephport(8) (meson test sets it)"
else
	helps=$("$EPHPORT" --help; for c in $commands; do "$EPHPORT" "$c" --help; done)
	missing=
	for opt in $(grep -oE -- '--[a-z][a-z-]+' <<<"$helps" | sort -u); do
		name=${opt#--}
		grep -qF -- "\\-\\-${name//-/\\-}" "$MAN" || missing="$missing $opt"
	done
	expect_eq "every option in --help is in ephport(8)" "$missing" ""
	missing=
	for code in $(grep -oE '[a-z]+(-[a-z]+)+' <<<"$("$EPHPORT" ranges --help | sed -n '/^Warning codes/,/^$/p')"); do
		grep -qF -- "$code" "$MAN" || missing="$missing $code"
	done
	expect_eq "every warning code is in ephport(8)" "$missing" ""
fi

# The pages as man(1) finds them once installed: a man tree with every page.
# man-db is there wherever lintian is (scripts/bootstrap --test).
if ! command -v man >/dev/null; then
	tap_ok "# SKIP the pages as installed need man(1) (man-db)"
else
	version=$("$EPHPORT" --version | awk '{ print $2; exit }')
	mt="$TMP/man"
	mkdir -p "$mt/man8"
	cp "$SRC"/man/ephport-*.8 "$mt/man8/"
	[ -n "$MAN" ] && [ -f "$MAN" ] && cp "$MAN" "$mt/man8/"
	for c in $commands; do
		[ "$c" = help ] && continue
		page="$SRC/man/ephport-$c.8"
		if [ ! -f "$page" ]; then
			tap_not_ok "ephport-$c(8) exists" "no $page"
			continue
		fi
		# unreserve and set-range are .so links to reserve's page.
		src=$page
		if so=$(sed -n '1s/^\.so man8\///p' "$page") && [ -n "$so" ]; then
			src="$SRC/man/$so"
		fi
		run env MANPATH="$mt" man -w ephport "$c"
		expect_eq "'man ephport $c' finds ephport-$c(8), as 'man git log' does" "$OUT" "$mt/man8/${src##*/}"
		run env MANPATH="$mt" MANWIDTH=80 man ephport "$c"
		missing=
		for sec in NAME SYNOPSIS DESCRIPTION OPTIONS 'EXIT STATUS' EXAMPLES 'SEE ALSO'; do
			grep -qx "$sec" <<<"$OUT" || missing="$missing '$sec'"
		done
		expect_eq "ephport-$c(8) has every section" "$missing" ""
		expect_in "ephport-$c(8) names $c" "ephport-$c" "$(sed -n '/^NAME/,/^$/p' <<<"$OUT")"
		missing=
		for opt in $("$EPHPORT" "$c" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
			name=${opt#--}
			grep -qF -- "\\-\\-${name//-/\\-}" "$src" || missing="$missing $opt"
		done
		expect_eq "every option of '$c --help' is in ephport-$c(8)" "$missing" ""
	done
	# Each page as lintian checks it (man --warnings), .so links resolved in
	# the tree; each names the version it documents.
	for page in "$mt"/man8/*.8 "$SRC/man/libephport.3"; do
		run sh -c 'cd "$1" && LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$2" >/dev/null' sh "$mt" "$page"
		expect_eq "${page##*/} renders without warnings" "$RC:$ERR" "0:"
		case "$page" in *.3) continue ;; esac
		grep -q '^\.so ' "$page" && continue
		expect_in "${page##*/} documents ephport $version" "\"ephport $version\"" "$(grep '^\.TH' "$page")"
	done
fi

# ephport help COMMAND: the page on a terminal, --help elsewhere.
run "$EPHPORT" help
expect_eq "'ephport help' prints the main help" "$OUT" "$("$EPHPORT" --help)"
for c in $commands; do
	run "$EPHPORT" help "$c"
	expect_eq "'ephport help $c' in a pipe prints '$c --help'" "$RC:$OUT" "0:$("$EPHPORT" "$c" --help)"
done
run "$EPHPORT" help bogus
expect_rc "'ephport help bogus' is a usage error (2)" 2
expect_in "naming it" "unknown command 'bogus'" "$ERR"
run "$EPHPORT" help why --json
expect_rc "help has no JSON (2)" 2
if command -v script >/dev/null; then
	# A man(1) that says what it was asked, found or not (FOUND=0/16).
	mkdir -p "$TMP/fakebin"
	cat >"$TMP/fakebin/man" <<-'EOF'
		#!/bin/sh
		echo "man $*" >>"$MANLOG"
		[ "$1" = -w ] && exit "$FOUND"
		echo "the manual of $1"
	EOF
	chmod +x "$TMP/fakebin/man"
	export MANLOG="$TMP/man.log"
	: >"$MANLOG"
	run env PATH="$TMP/fakebin:$PATH" FOUND=0 script -qec "$EPHPORT help why" /dev/null
	expect_in "on a terminal, 'ephport help why' opens ephport-why(8)" "the manual of ephport-why" "$OUT"
	expect_eq "asking man(1) for it by name first" "$(cat "$MANLOG")" "$(printf 'man -w ephport-why\nman ephport-why')"
	: >"$MANLOG"
	run env PATH="$TMP/fakebin:$PATH" FOUND=16 script -qec "$EPHPORT help why" /dev/null
	expect_in "where man(1) has no page, it prints '--help'" "Usage: ephport why PORT" "$OUT"
	: >"$MANLOG"
	run env PATH="$TMP/fakebin:$PATH" FOUND=0 "$EPHPORT" help why
	expect_eq "in a pipe man(1) is not asked" "$(cat "$MANLOG")" ""
	# The real man(1), on a terminal, with the man tree above.
	if command -v man >/dev/null; then
		run env MANPATH="$mt" MANPAGER=cat MANWIDTH=80 script -qec "$EPHPORT help unreserve" /dev/null
		expect_in "'ephport help unreserve' shows the page man shows" "EPHPORT-RESERVE(8)" "$OUT"
	fi
else
	tap_ok "# SKIP ephport help on a terminal needs script(1)"
fi

# Errors a script can trust (issue: advice that is safe to paste).
run "$EPHPORT" audit --ports
expect_rc "a missing value is a usage error (2)" 2
expect_in "named as typed, never by its letter" "option '--ports' needs a value" "$ERR"
run "$EPHPORT" audit --ports ""
expect_rc "an empty list is a usage error" 2
expect_in "and says so" "an empty list" "$ERR"
run "$EPHPORT" audit --os ""
expect_rc "an empty --os is a usage error" 2
run "$EPHPORT" --netns a ranges --netns b
expect_rc "two different --netns are a usage error" 2
expect_in "saying so" "--netns given twice" "$ERR"
long=$(printf 'x%.0s' $(seq 300))
run "$EPHPORT" ranges "$long"
expect_rc "a stray long argument is a usage error" 2
check "an argument echoed in an error is cut short" test "${#ERR}" -lt 250
expect_in "with a mark that it was" "...'" "$ERR"
# In the test's own namespace where there is one: the host's may hold
# ports at risk (other tests run beside this one).
where=()
[ -z "${ns-}" ] || where=(--netns "$ns")
run "$EPHPORT" "${where[@]}" usage --top=0 --warning=50% --critical=90% --json
expect_rc "--opt=value works (usage)" 0
run "$EPHPORT" "${where[@]}" audit --ports=9000 --os=windows --json
expect_rc "--opt=value works (audit)" 0
run "$EPHPORT" "${where[@]}" why 9999 --addr=127.0.0.1 --tcp --json
expect_rc "--opt=value works (why)" 0
run "$EPHPORT" --json ranges --bogus
expect_rc "a usage error under --json" 2
expect_eq "is a JSON object on stdout with a code and a message" \
	"$(jq -c '[.error.code, .error.command, (.error.message | test("bogus"))]' <<<"$OUT")" '["usage","ranges",true]'
expect_in "and the message on stderr too" "unknown option '--bogus'" "$ERR"
run "$EPHPORT" ranges --bogus --json
expect_eq "even when --json comes after the error" "$(jq -r .error.code <<<"$OUT")" usage
run "$EPHPORT" --netns no-such-ns-$$ usage --json
expect_rc "an unreadable namespace under --json" 2
expect_eq "is an error object naming the errno" "$(jq -r .error.code <<<"$OUT")" ENOENT
run "$EPHPORT" usage --check --bogus
expect_rc "usage --check: a usage error is UNKNOWN (3)" 3
expect_in "with a status line that says so" "EPHPORT USAGE UNKNOWN - unknown option '--bogus'" "$OUT"
run "$EPHPORT" --netns no-such-ns-$$ usage --check
expect_rc "usage --check: an unreadable namespace is UNKNOWN (3)" 3
expect_in "never OK" "EPHPORT USAGE UNKNOWN - network namespace" "$OUT"

# usage --check says UNKNOWN (3) for every usage error: the check is
# found in clusters of short flags and before a bad global option
# (review of issue 11).
run "$EPHPORT" usage -ac --bogus
expect_rc "usage -ac (a cluster with c) and a bad option: UNKNOWN (3)" 3
expect_in "with the status line" "EPHPORT USAGE UNKNOWN - unknown option '--bogus'" "$OUT"
run "$EPHPORT" --netns X usage -ac
expect_rc "--netns X usage -ac: UNKNOWN (3)" 3
expect_in "saying why" "EPHPORT USAGE UNKNOWN - --all-netns and --netns exclude each other" "$OUT"
run "$EPHPORT" --bogus usage --check
expect_rc "a bad global option before usage --check: UNKNOWN (3)" 3
expect_in "with the status line" "EPHPORT USAGE UNKNOWN - unknown option '--bogus'" "$OUT"
run "$EPHPORT" --netns a --netns b usage -c
expect_rc "two --netns before usage -c: UNKNOWN (3)" 3
run "$EPHPORT" usage --check=yes
expect_rc "usage --check=yes: UNKNOWN (3)" 3
expect_in "a flag given a value says so" "option '--check' takes no value" "$OUT"
run "$EPHPORT" usage --top 5 -- -c
expect_rc "-c after -- is no check: a plain usage error (2)" 2
run "$EPHPORT" usage --by -c
expect_rc "-c as the value of --by is no check (2)" 2
run "$EPHPORT" usage -Wc
expect_rc "c after W (which takes a value) is no check (2)" 2
run "$EPHPORT" --bogus usage
expect_rc "a bad global option before usage without --check: 2" 2
expect_eq "and no status line" "$OUT" ""

# --opt=value and options after the command, --watch's optional value
# included (review of issue 11).
run "$EPHPORT" ranges --os=1
expect_rc "a flag given a value is a usage error (2)" 2
expect_in "that says the flag takes none" "option '--os' takes no value" "$ERR"
run timeout 1.5 "$EPHPORT" usage --watch=1 --json
expect_eq "usage --watch=1 --json: every second" "$(head -1 <<<"$OUT" | jq -c '[.interval, (.tuples | type)]')" '[1,"array"]'
expect_eq "with nothing on stderr" "$ERR" ""
run timeout 1.5 "$EPHPORT" usage --watch 1 --json
expect_eq "usage --watch 1 --json: the number is --watch's" "$(head -1 <<<"$OUT" | jq -c .interval)" 1
run timeout 1.5 "$EPHPORT" usage -W3 --json
expect_eq "usage -W3 --json" "$(head -1 <<<"$OUT" | jq -c .interval)" 3
run timeout 1.5 "$EPHPORT" usage --json --watch
expect_eq "usage --json --watch: every 2 s by default" "$(head -1 <<<"$OUT" | jq -c .interval)" 2
run timeout 1.5 "$EPHPORT" usage --watch 1 --top 2
expect_in "usage --watch 1 --top 2 redraws every second" "every 1 s" "$OUT"
expect_eq "with nothing on stderr" "$ERR" ""
run "$EPHPORT" usage --watch 1 5
expect_rc "a second number after --watch is a usage error (2)" 2
expect_in "naming it" "unexpected argument '5'" "$ERR"
run "$EPHPORT" usage --watch 0
expect_rc "--watch 0 is out of range (2)" 2
run "$EPHPORT" ranges --version
expect_rc "--version after the command, as --help promises (0)" 0
expect_in "prints the version" "ephport 0." "$OUT"
run "$EPHPORT" audit --ports 9000 -V
expect_in "-V after a command's options too" "ephport 0." "$OUT"

# Smaller promises (review of issue 11).
run "$EPHPORT" --netns a --netns a ranges
expect_rc "the same --netns twice is a usage error (2)" 2
expect_in "saying so" "--netns given twice" "$ERR"
run "$EPHPORT" --netns "$long" ranges
expect_rc "a long namespace name cannot be answered (2)" 2
check "the namespace is cut short in the error" test "${#ERR}" -lt 250
expect_in "with a mark that it was" '..."' "$ERR"
run "$EPHPORT" --netns "x/$long" ranges
expect_in "a long namespace path is cut short where it is echoed" "network namespace \"x/${long:0:58}...\": x/" "$ERR"
run "$EPHPORT" audit --file /dev/null
expect_rc "audit --file of an empty file is a usage error (2)" 2
expect_in "naming the file" "--file /dev/null: an empty list" "$ERR"
printf '# planned: nothing yet\n\n' >"$TMP/ports.txt"
run "$EPHPORT" audit --ports 9000 --file "$TMP/ports.txt"
expect_rc "a file of only comments is empty too, whatever else is given (2)" 2
expect_in "naming it" "--file $TMP/ports.txt: an empty list" "$ERR"

# A closed stdout is a failure, not silence.
run sh -c '"$1" ranges >&-' sh "$EPHPORT"
expect_rc "a write error on stdout: ephport could not answer (2)" 2

finish
