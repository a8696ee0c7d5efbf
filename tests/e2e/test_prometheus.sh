#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real Prometheus scrapes two `ephport serve` every second, each
# exporting a namespace that stands for a host; connections opened in one
# of them must show in Prometheus's answers, the fleet recording rule
# included, and an exporter that stops must show as down.
. "$(dirname "$0")/lib.sh"
require_root
command -v prometheus >/dev/null || skip_all "needs prometheus (Debian's package)"
command -v promtool >/dev/null || skip_all "needs promtool"
. "$(dirname "$0")/serve_lib.sh"
E2E=$(dirname "$0")
RULES=$(cd "$E2E/../../contrib/prometheus" && pwd)/ephport.rules.yml

# Host A: a 1000-port range and a destination; host B: the defaults.
a=$(ns_add hosta)
b=$(ns_add hostb)
ns_sysctl "$a" net.ipv4.ip_local_port_range "40000 40999"
coproc SOCK { ip netns exec "$a" python3 "$E2E/sockctl.py"; }
OTHER_PIDS+=("$SOCK_PID")
sock() {
	echo "$*" >&"${SOCK[1]}"
	read -r REPLY <&"${SOCK[0]}"
}
sock listen 127.0.0.1 5000
sock connect 127.0.0.1 5000 30
expect_in "host A: 30 connections" "OK" "$REPLY"

serve_start 8721 --netns "$a" serve --listen 127.0.0.1:8721 --interval 1
a_pid=$SERVE_PID
serve_start 8722 --netns "$b" serve --listen 127.0.0.1:8722 --interval 1
b_pid=$SERVE_PID

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: ephport
    static_configs:
      - targets: ['127.0.0.1:8721']
        labels: {host: a}
      - targets: ['127.0.0.1:8722']
        labels: {host: b}
EOF
run promtool check config "$TMP/prometheus.yml"
expect_rc "promtool check config: the test's configuration with the rules" 0
ip netns exec "$CLI_NS" prometheus --config.file="$TMP/prometheus.yml" \
	--storage.tsdb.path="$TMP/tsdb" --web.listen-address=127.0.0.1:9090 \
	>"$TMP/prometheus.log" 2>&1 &
OTHER_PIDS+=($!)
wait_http http://127.0.0.1:9090/-/ready 20
check "Prometheus is ready" in_cli curl -sf -o /dev/null http://127.0.0.1:9090/-/ready

# query PROMQL: the first result's value, or "" when there is none.
query() {
	in_cli curl -s http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // ""'
}

# until PROMQL VALUE [SECONDS]: waits until the query gives VALUE; $GOT.
until_value() {
	local i
	for ((i = 0; i < ${3:-15} * 5; i++)); do
		GOT=$(query "$1")
		[ "$GOT" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

dest='remote="127.0.0.1",remote_port="5000"'
until_value 'sum(up{job="ephport"})' 2
expect_eq "both exporters are up" "$GOT" 2
until_value "ephport_destination_used_ports{host=\"a\",$dest,state=\"established\"}" 30
expect_eq "host A: 30 established toward the destination, through Prometheus" "$GOT" 30
until_value "ephport_destination_connections_opened_total{host=\"a\",$dest}" 30
expect_eq "host A: 30 connections opened" "$GOT" 30
expect_eq "host B has no such destination" \
	"$(query "count(ephport_destination_used_ports{host=\"b\",$dest})")" ""
expect_eq "host B: the default range" "$(query 'ephport_ephemeral_ports{host="b"}')" 28232
expect_eq "host A: its own range" "$(query 'ephport_ephemeral_ports{host="a"}')" 1000
until_value "ephport:destination_utilisation_ratio:topk10{host=\"a\",$dest}" 0.03
expect_eq "the fleet recording rule: host A's destination, 30 of 1000 ports" "$GOT" 0.03
expect_eq "the fleet view holds every host's destinations, fullest first" \
	"$(in_cli curl -s http://127.0.0.1:9090/api/v1/query --data-urlencode \
		'query=ephport:destination_utilisation_ratio:topk10' |
		jq -r '[.data.result[] | .value[1] | tonumber] | . == (sort | reverse)')" true

# Ten more: Prometheus follows.
sock connect 127.0.0.1 5000 10
until_value "ephport_destination_connections_opened_total{host=\"a\",$dest}" 40
expect_eq "ten more opened: 40" "$GOT" 40
until_value "ephport:destination_utilisation_ratio:topk10{host=\"a\",$dest}" 0.04
expect_eq "the recording rule follows: 0.04" "$GOT" 0.04
c="ephport_destination_connections_opened_total{host=\"a\",$dest}"
expect_eq "the counter went up by the ten, in Prometheus's own record" \
	"$(query "max_over_time($c[1m]) - min_over_time($c[1m])")" 10

# What Prometheus scraped passes promtool, from both.
for port in 8721 8722; do
	fetch "http://127.0.0.1:$port/metrics"
	promtool_ok "promtool check metrics: exporter on $port" "$OUT"
done
check "the alerting rules are loaded" bash -c \
	"ip netns exec '$CLI_NS' curl -s http://127.0.0.1:9090/api/v1/rules | jq -e '[.data.groups[].rules[].name] | index(\"EphportExporterDown\") and index(\"EphemeralPortsExhaustedSoon\")'"

# An exporter stops: Prometheus sees it down, the alert goes pending.
serve_stop "$b_pid"
expect_rc "host B's exporter stops cleanly" 0
until_value 'up{host="b"}' 0
expect_eq "Prometheus: host B down" "$GOT" 0
until_value 'count(ALERTS{alertname="EphportExporterDown",host="b",alertstate="pending"})' 1
expect_eq "EphportExporterDown pending for host B" "$GOT" 1
expect_eq "host A still up" "$(query 'up{host="a"}')" 1

finish
