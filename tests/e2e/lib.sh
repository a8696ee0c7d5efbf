# SPDX-License-Identifier: MIT
# Shared helpers for the end-to-end tests: TAP output, throw-away network
# namespaces (removed on exit, whatever happens), and checks on the command.
set -u

: "${EPHPORT:?EPHPORT must name the ephport binary}"
TAP_N=0
TAP_FAILED=0
NS_PREFIX="ephtest-$$"
TMP=$(mktemp -d)

tap_ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

tap_not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	shift
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

# check DESCRIPTION COMMAND...: one case, passing when COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@" >"$TMP/check.out" 2>&1; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "command: $*" "$(head -c 2000 "$TMP/check.out")"
	fi
}

# run CMD...: runs CMD, keeping stdout, stderr and the exit code in
# $OUT, $ERR and $RC for the checks that follow.
run() {
	"$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

# expect_rc DESC CODE: the last run exited with CODE.
expect_rc() {
	if [ "$RC" -eq "$2" ]; then
		tap_ok "$1"
	else
		tap_not_ok "$1" "exit $RC, wanted $2" "stdout: $OUT" "stderr: $ERR"
	fi
}

# expect_in DESC TEXT HAYSTACK: HAYSTACK contains TEXT.
expect_in() {
	case "$3" in
	*"$2"*) tap_ok "$1" ;;
	*) tap_not_ok "$1" "wanted to find: $2" "in: $3" ;;
	esac
}

# expect_eq DESC GOT WANTED
expect_eq() {
	if [ "$2" = "$3" ]; then
		tap_ok "$1"
	else
		tap_not_ok "$1" "got:    $2" "wanted: $3"
	fi
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root for network namespaces"
	ip netns list >/dev/null 2>&1 || skip_all "ip netns does not work here"
}

# ns_add NAME: a fresh namespace with loopback up; prints its full name.
ns_add() {
	local ns="$NS_PREFIX-$1"
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up || return 1
	echo "$ns"
}

# ns_sysctl NS KEY VALUE: sets a sysctl inside NS only.
ns_sysctl() {
	ip netns exec "$1" sh -c 'printf "%s\n" "$2" > "/proc/sys/$(echo "$1" | tr . /)"' sh "$2" "$3"
}

cleanup() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$ns" in "$NS_PREFIX"-*) ip netns del "$ns" ;; esac
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
	exit $?
}
