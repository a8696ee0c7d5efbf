#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every example the documentation shows runs as shown: the lines under
# "Examples:" in every --help, the shell examples of the README and the
# EXAMPLES of the manuals, ephport(8) and each command's page. Each runs
# word for word, in a throw-away network namespace and a private mount
# namespace whose /etc/sysctl.d, /var/lib, /run/ephport and /run/netns are
# the test's own directories, so that nothing of the host is read as a
# namespace or written. They run in the order shown, sharing that state, so
# that "unreserve" follows "reserve" and "pick --release" a pick. An
# example must exit 0, or for a verdict (why, audit, pick --explain, usage
# --check) 0 or 1: never 2. What runs until stopped (serve, usage --watch,
# trace without --duration) must still run after 2 s and exit 0 on SIGTERM
# or SIGINT; curl examples ask an exporter started for them.
. "$(dirname "$0")/lib.sh"
require_root
command -v jq >/dev/null || skip_all "needs jq (the examples pipe into it)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"

# The examples, one per line, in the order found.
commands=$("$EPHPORT" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && /^  [a-z]/ {print $1}')
{
	"$EPHPORT" --help | awk '/^Examples:/{f=1;next} f&&/^$/{f=0} f'
	for c in $commands; do
		"$EPHPORT" "$c" --help | awk '/^Examples:/{f=1;next} f&&/^$/{f=0} f'
	done
	awk '/^```sh/{f=1;next} /^```/{f=0} f && /^ephport/' "$SRC/README.md"
	# The manuals: ephport(8)'s own and each built command's page (the
	# .so links to reserve's page add nothing).
	for page in "$SRC/man/ephport.8.in" $(for c in $commands; do
		echo "$SRC/man/ephport-$c.8"; done); do
		[ -f "$page" ] || continue
		sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$page" | grep -E '^(ephport|curl) ' |
			sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\e/\\/g'
	done
} | sed -e 's/^ *//' -e 's/   .*$//' -e 's/ *# .*$//' | awk '!seen[$0]++' >"$TMP/examples"

ns=$(ns_add examples)
printf '# planned services\n40003\n9000-9001\n' >"$TMP/ports.txt"
# What the exporter's examples name: a users file, a certificate and key.
if grep -q -- '--basic-auth\|--tls-cert' "$TMP/examples"; then
	command -v openssl >/dev/null || skip_all "needs openssl for the exporter's examples"
	printf 'prom:%s\n' "$(openssl passwd -6 secret)" >"$TMP/users"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 ||
		skip_all "openssl could not make a certificate"
fi
cat >"$TMP/run-one" <<'SCRIPT'
set -u
# A private world: nothing written here reaches the host.
for d in /etc/sysctl.d /var/lib /run/ephport /run/netns; do
	mkdir -p "$d" "$WORK/state$d" &&
		mount --bind "$WORK/state$d" "$d" || exit 99
done
ip netns add web && ip -n web link set lo up || exit 99
# node_exporter's textfile directory, as its package makes it.
mkdir -p /var/lib/prometheus/node-exporter
mkdir -p "$HOME_BIN"
ln -sf "$EPHPORT" "$HOME_BIN/ephport"
export PATH="$HOME_BIN:$PATH"
cd "$WORK"
case "$1" in
curl*)
	# An exporter to ask, on the port the examples use.
	ephport serve --listen 127.0.0.1:8720 >/dev/null 2>&1 &
	srv=$!
	for _ in $(seq 100); do
		bash -c '</dev/tcp/127.0.0.1/8720' 2>/dev/null && break
		sleep 0.05
	done
	bash -o pipefail -c "$1" >/dev/null
	rc=$?
	kill "$srv"
	wait "$srv" || rc=98
	;;
*--duration*)
	bash -o pipefail -c "$1"
	rc=$?
	;;
*--watch* | "ephport serve"* | "ephport --netns "*" serve"* | "ephport trace"*)
	# Runs until stopped: still running after 2 s, then ends cleanly.
	bash -c "$1" >/dev/null &
	pid=$!
	sleep 2
	if kill -0 "$pid" 2>/dev/null; then
		pkill -TERM -P "$pid"
		kill -TERM "$pid" 2>/dev/null
		wait "$pid"
		rc=$?
		[ "$rc" -eq 143 ] && rc=0 # bash itself, when the command had gone
	else
		wait "$pid"
		rc=$?
		[ "$rc" -ne 0 ] || rc=97 # it stopped by itself
	fi
	;;
*)
	bash -o pipefail -c "$1"
	rc=$?
	;;
esac
ip netns del web
exit $rc
SCRIPT
n=0
while IFS= read -r ex; do
	[ -n "$ex" ] || continue
	n=$((n + 1))
	run ip netns exec "$ns" unshare -m env EPHPORT="$EPHPORT" \
		HOME_BIN="$TMP/bin" WORK="$TMP" bash "$TMP/run-one" "$ex"
	case "$ex" in
	*" why "* | *" audit"* | *--explain* | *--check*) verdict=1 ;;
	*) verdict=0 ;;
	esac
	if [ "$RC" -eq 0 ] || [ "$RC" -eq "$verdict" ]; then
		tap_ok "runs as shown: $ex"
	else
		tap_not_ok "runs as shown: $ex" "exit $RC" "stderr: $ERR"
	fi
done <"$TMP/examples"
expect_eq "the documentation shows examples (at least 30)" "$([ "$n" -ge 30 ] && echo yes)" yes
finish
