#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every example the documentation shows runs as shown: the lines under
# "Examples:" in every --help, the shell examples of the README and the
# EXAMPLES of ephport(8). Each runs word for word, in a throw-away network
# namespace and a private mount namespace whose /etc/sysctl.d, /var/lib,
# /run/ephport and /run/netns are the test's own directories, so that
# nothing of the host is read as a namespace or written. They run in the
# order shown, sharing that state, so that "unreserve" follows "reserve"
# and "pick --release" a pick. An example must exit 0, or for a verdict
# (why, audit, pick --explain, usage --check) 0 or 1: never 2.
. "$(dirname "$0")/lib.sh"
require_root
command -v jq >/dev/null || skip_all "needs jq (the examples pipe into it)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"

# The examples, one per line, in the order found.
{
	"$EPHPORT" --help | awk '/^Examples:/{f=1;next} f&&/^$/{f=0} f'
	for c in $("$EPHPORT" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && /^  [a-z]/ {print $1}'); do
		"$EPHPORT" "$c" --help | awk '/^Examples:/{f=1;next} f&&/^$/{f=0} f'
	done
	awk '/^```sh/{f=1;next} /^```/{f=0} f && /^ephport/' "$SRC/README.md"
	sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$SRC/man/ephport.8" | grep '^ephport' |
		sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g"
} | sed -e 's/^ *//' -e 's/   .*$//' -e 's/ *# .*$//' | awk '!seen[$0]++' >"$TMP/examples"

ns=$(ns_add examples)
printf '# planned services\n40003\n9000-9001\n' >"$TMP/ports.txt"
cat >"$TMP/run-one" <<'SCRIPT'
set -u
# A private world: nothing written here reaches the host.
for d in /etc/sysctl.d /var/lib /run/ephport /run/netns; do
	mkdir -p "$d" "$WORK/state$d" &&
		mount --bind "$WORK/state$d" "$d" || exit 99
done
ip netns add web && ip -n web link set lo up || exit 99
mkdir -p "$HOME_BIN"
ln -sf "$EPHPORT" "$HOME_BIN/ephport"
export PATH="$HOME_BIN:$PATH"
cd "$WORK"
bash -o pipefail -c "$1"
rc=$?
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
