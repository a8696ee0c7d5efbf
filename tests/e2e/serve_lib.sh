# SPDX-License-Identifier: MIT
# Helpers for the exporter's tests (source after lib.sh). The exporters
# listen, and every client (curl, Prometheus, the browser) runs, in a
# namespace of their own, so that fixed ports collide with nothing on the
# host; the namespaces they scan are others.
command -v curl >/dev/null || skip_all "needs curl"
"$EPHPORT" serve --help >/dev/null 2>&1 || skip_all "ephport built without serve"
CLI_NS=$(ns_add client) || skip_all "cannot make a namespace"
SERVE_PIDS=()
OTHER_PIDS=()

# in_cli CMD...: runs CMD in the client namespace.
in_cli() {
	ip netns exec "$CLI_NS" "$@"
}

serve_cleanup() {
	local p
	for p in "${SERVE_PIDS[@]}" "${OTHER_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${SERVE_PIDS[@]}" "${OTHER_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	cleanup
}
trap serve_cleanup EXIT

# wait_http URL [SECONDS]: until URL answers at all (any status).
wait_http() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		in_cli curl -sk -o /dev/null "$1" && return 0
		sleep 0.05
	done
	return 1
}

# wait_notice FILE TEXT N: waits (up to 5 s) until the exporter's output
# FILE holds N lines with TEXT: what it says once it has done something.
wait_notice() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c -- "$2" "$1")" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

# fetch_scan URL ARGS...: fetch URL until the answer comes from a scan
# made after the call (ephport_scans_total grew), so that it shows the
# sockets made before it; the interval decides when that is.
fetch_scan() {
	local i before
	fetch "$@"
	before=$(metric "$OUT" ephport_scans_total)
	for ((i = 0; i < 100; i++)); do
		sleep 0.05
		fetch "$@"
		[ "$(metric "$OUT" ephport_scans_total)" -gt "${before:-0}" ] && return 0
	done
	return 1
}

# serve_start PORT ARGS...: `ephport ARGS` in the client namespace,
# listening on 127.0.0.1:PORT (ARGS name it); waits for /healthz. Sets
# SERVE_PID and SERVE_OUT.
serve_start() {
	local port=$1 scheme=http
	shift
	case " $* " in *" --tls-key "*) scheme=https ;; esac
	SERVE_OUT=$TMP/serve-$port.out
	# Not through in_cli: $! must be ephport's own pid (ip execs it).
	ip netns exec "$CLI_NS" "$EPHPORT" "$@" >"$SERVE_OUT" 2>&1 &
	SERVE_PID=$!
	SERVE_PIDS+=("$SERVE_PID")
	wait_http "$scheme://127.0.0.1:$port/healthz" 10
}

# serve_stop PID: SIGTERM, and the exit status in $RC.
serve_stop() {
	kill -TERM "$1"
	wait "$1"
	RC=$?
}

# fetch URL [CURL ARGS...]: the body in $OUT, the status in $CODE.
fetch() {
	local url=$1
	shift
	OUT=$(in_cli curl -sk -o - -w '\n%{http_code}' "$@" "$url")
	CODE=${OUT##*$'\n'}
	OUT=${OUT%$'\n'*}
}

# metric TEXT NAME LABELS: the value of the sample NAME{LABELS} (LABELS
# as a substring of the label set, in the exporter's order).
metric() {
	# Through the environment: awk -v would unescape the labels' \".
	NAME=$2 LABELS=${3-} awk '
		BEGIN { name = ENVIRON["NAME"]; labels = ENVIRON["LABELS"] }
		index($0, name) == 1 && substr($0, length(name) + 1, 1) ~ /[{ ]/ &&
		index($0, labels) { print $NF; exit }' <<<"$1"
}

# promtool_ok DESC TEXT: promtool check metrics finds nothing to say.
promtool_ok() {
	if ! command -v promtool >/dev/null; then
		tap_ok "$1 # SKIP no promtool"
		return
	fi
	local said
	said=$(promtool check metrics <<<"$2" 2>&1)
	if [ $? -eq 0 ] && [ -z "$said" ]; then
		tap_ok "$1"
	else
		tap_not_ok "$1" "$said"
	fi
}
