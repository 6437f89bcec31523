#!/usr/bin/env bash
# Starts (or stops) a private RabbitMQ node from Debian on 127.0.0.1 to compare
# this broker's behaviour with: the reference when the spec and clients disagree.
# Not used by the tests. Usage: conformance/reference-rabbitmq.sh start|stop|install|foreground [port]
# (install: only install it from Debian; foreground: run it in this process, for bench/compare.ts)
# Everything lives under $REFERENCE_DIR (default /tmp/reference-rabbitmq); the
# system rabbitmq-server service is left alone.
set -euo pipefail

action=${1:-start}
port=${2:-5673}
dir=${REFERENCE_DIR:-/tmp/reference-rabbitmq}
node="reference${port}@localhost"

export HOME="$dir/home" ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port"
export RABBITMQ_DIST_PORT=$((port + 20000))
export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
export RABBITMQ_PID_FILE="$dir/rabbit.pid"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

if [ "$action" = stop ]; then
  /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" stop "$RABBITMQ_PID_FILE" || kill "$(cat "$RABBITMQ_PID_FILE")"
  exit 0
fi

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server
fi
[ "$action" = install ] && exit 0
mkdir -p "$HOME" "$RABBITMQ_LOG_BASE"
# Loopback only, guest allowed from loopback, no plugins: the plain AMQP 0-9-1 broker.
printf 'listeners.tcp.1 = 127.0.0.1:%s\nloopback_users = none\n' "$port" > "$RABBITMQ_CONFIG_FILE"
echo '[].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
[ "$action" = foreground ] && exec /usr/lib/rabbitmq/bin/rabbitmq-server
# The sbin wrapper switches user and logs to /var/log; the lib script runs as we are.
nohup /usr/lib/rabbitmq/bin/rabbitmq-server > "$RABBITMQ_LOG_BASE/stdout.log" 2>&1 &
for _ in $(seq 1 60); do
  if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "RabbitMQ reference on amqp://guest:guest@127.0.0.1:$port (pid $(cat "$RABBITMQ_PID_FILE" 2>/dev/null))"
    exit 0
  fi
  sleep 1
done
echo "RabbitMQ did not come up within 60 s; see $RABBITMQ_LOG_BASE" >&2
exit 1
