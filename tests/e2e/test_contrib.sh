#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/: the Prometheus rules (checked, and their unit tests), the
# example scrape configuration, and the systemd unit (verified, and its
# exposure score no worse than the README says).
set -u
: "${EPHPORT:?EPHPORT must name the ephport binary}"
CONTRIB=$(cd "$(dirname "$0")/../../contrib" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
failed=0
# case DESC CMD...: one TAP line, with the command's output when it fails.
case_() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$TMP/out" 2>&1; then
		echo "ok $n - $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $desc"
		sed 's/^/#   /' "$TMP/out" | head -40
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

if command -v promtool >/dev/null; then
	case_ "promtool check rules: contrib/prometheus/ephport.rules.yml" \
		promtool check rules "$CONTRIB/prometheus/ephport.rules.yml"
	case_ "promtool test rules: the alerts and the fleet recording rule" \
		bash -c "cd '$CONTRIB/prometheus' && promtool test rules ephport.rules.test.yml"
	# The example as it is, its absolute paths pointed at files made here.
	sed -e "s|/etc/prometheus/|$TMP/|" "$CONTRIB/prometheus/scrape.yml" >"$TMP/scrape.yml"
	cp "$CONTRIB/prometheus/ephport.rules.yml" "$TMP/"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null \
		-out "$TMP/ephport-ca.pem" -subj /CN=ca -days 1 >/dev/null 2>&1
	echo secret >"$TMP/ephport.password"
	case_ "promtool check config: the example scrape configuration" \
		promtool check config "$TMP/scrape.yml"
else
	skip "promtool checks" "no promtool"
fi

if command -v systemd-analyze >/dev/null; then
	# verify wants the binary the unit runs, and man pages installed:
	# the built binary stands in, and the man page is ours (checked by
	# test_cli.sh), not installed.
	sed "s|/usr/sbin/ephport|$EPHPORT|" "$CONTRIB/ephport.service" >"$TMP/ephport.service"
	case_ "systemd-analyze verify contrib/ephport.service" \
		systemd-analyze verify --man=no "$TMP/ephport.service"
	score=$(systemd-analyze security --offline=yes "$TMP/ephport.service" 2>&1 |
		sed -n 's/.*Overall exposure level for ephport.service: \([0-9.]*\).*/\1/p')
	case_ "systemd-analyze security: exposure $score, at most 2.5" \
		awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.5) }'
else
	skip "systemd-analyze checks" "no systemd-analyze"
fi
echo "1..$n"
[ "$failed" -eq 0 ]
