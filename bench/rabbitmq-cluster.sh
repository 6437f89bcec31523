#!/usr/bin/env bash
# Starts (or stops) a private three-node RabbitMQ cluster from Debian on
# 127.0.0.1, for the replication bench to compare quorum queues with.
# Usage: bench/rabbitmq-cluster.sh start|stop [first-port]
# Node i (0, 1, 2) listens on first-port + i (default 5701-5703); each lives
# under $CLUSTER_DIR/node<i> (default /tmp/rabbitmq-cluster) and runs through
# conformance/reference-rabbitmq.sh, with one shared Erlang cookie.
set -euo pipefail

action=${1:-start}
first=${2:-5701}
base=${CLUSTER_DIR:-/tmp/rabbitmq-cluster}
here=$(cd "$(dirname "$0")" && pwd)
reference="$here/../conformance/reference-rabbitmq.sh"
ctl=/usr/lib/rabbitmq/bin/rabbitmqctl

if [ "$action" = stop ]; then
  for i in 2 1 0; do
    REFERENCE_DIR="$base/node$i" "$reference" stop $((first + i)) || true
  done
  exit 0
fi

REFERENCE_DIR="$base/node0" "$reference" install
cookie=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
for i in 0 1 2; do
  mkdir -p "$base/node$i/home"
  printf '%s' "$cookie" > "$base/node$i/home/.erlang.cookie"
  chmod 400 "$base/node$i/home/.erlang.cookie"
done
for i in 0 1 2; do
  REFERENCE_DIR="$base/node$i" "$reference" start $((first + i))
done
for i in 1 2; do
  export HOME="$base/node$i/home"
  node="reference$((first + i))@localhost"
  "$ctl" -n "$node" stop_app
  "$ctl" -n "$node" join_cluster "reference${first}@localhost"
  "$ctl" -n "$node" start_app
done
HOME="$base/node0/home" "$ctl" -n "reference${first}@localhost" cluster_status | grep -A4 'Running Nodes'
