#!/usr/bin/env bash
# The clients' common scenario (see README.md), as far as the command-line
# programs of rabbitmq-c (Debian: amqp-tools) can go. Their gaps, each worked
# around here:
# - no exchange.declare: the predeclared amq.direct, amq.fanout, amq.topic and
#   amq.headers stand in for declared exchanges of each type;
# - no publisher confirms: amqp-publish is fire-and-forget (it does close its
#   channel and connection with the close handshake, so the broker has taken
#   the message when it exits);
# - bindings only through amqp-consume, which binds the auto-delete queue it
#   declares with a non-empty routing key and no arguments: the headers
#   binding has no x-match arguments, which matches every message;
# - amqp-consume prints bodies only, not the exchange or routing key.
# Manual acks: amqp-consume acks each message once its command succeeds; with
# a prefetch of 1 the broker sends the next message only after that ack.
# Usage: bash conformance/clients/amqp-tools-round-trip.sh [amqp-url]
set -euo pipefail

url=${1:-amqp://guest:guest@127.0.0.1:5672/%2F}
work=$(mktemp -d)
consumers=()
cleanup() {
  for pid in "${consumers[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "$*" >&2
  exit 1
}

# Waits up to 10 s for a line in a consumer's output file.
wait_for_line() { # file line
  for _ in $(seq 100); do
    grep -qxF "$2" "$1" && return 0
    sleep 0.1
  done
  return 1
}

# Queue declare, publish through the default exchange, basic.get, queue delete.
queue=amqp-tools-$$
declared=$(amqp-declare-queue --url "$url" -q "$queue" 2>&1) || fail "amqp-declare-queue failed: $declared"
[ "$declared" = "$queue" ] || fail "queue.declare returned '$declared', not $queue"
amqp-publish --url "$url" -r "$queue" -b "hello via the default exchange"
got=$(amqp-get --url "$url" -q "$queue") || fail "basic.get found no message in $queue"
[ "$got" = "hello via the default exchange" ] || fail "basic.get returned '$got'"
amqp-delete-queue --url "$url" -q "$queue" >/dev/null
echo "declared queue $queue, got \"$got\" from it and deleted it"

# kind exchange binding-key routing-key [header]
routes=(
  "direct amq.direct greeting greeting"
  "fanout amq.fanout anything anything"
  "topic amq.topic greetings.* greetings.en"
  "headers amq.headers any any lang:en"
)
for route in "${routes[@]}"; do
  read -r kind exchange binding_key _ <<<"$route"
  echo "using predeclared $kind exchange $exchange"
  # Each message runs the command with its body on stdin; the ack follows its exit 0.
  amqp-consume --url "$url" -q "$queue-$kind" -e "$exchange" -r "$binding_key" -p 1 -- \
    sh -c 'cat; echo' >"$work/$kind" 2>"$work/$kind.err" &
  consumers+=($!)
done

# The binding is in place once a marker published through it comes back;
# markers sent before the consumer was ready are dropped as unroutable.
for route in "${routes[@]}"; do
  read -r kind exchange _ routing_key header <<<"$route"
  for _ in $(seq 5); do
    amqp-publish --url "$url" -e "$exchange" -r "$routing_key" ${header:+-H "${header/:/: }"} -b marker
    wait_for_line "$work/$kind" marker && break
  done
  grep -qxF marker "$work/$kind" || fail "no binding of $queue-$kind to $exchange: $(cat "$work/$kind.err")"
done
echo "bound queues $queue-* to ${#routes[@]} exchanges"

for route in "${routes[@]}"; do
  read -r kind exchange _ routing_key header <<<"$route"
  amqp-publish --url "$url" -e "$exchange" -r "$routing_key" ${header:+-H "${header/:/: }"} -b "hello via $exchange"
done
echo "published ${#routes[@]} messages (amqp-tools has no publisher confirms)"

for route in "${routes[@]}"; do
  read -r kind exchange _ <<<"$route"
  wait_for_line "$work/$kind" "hello via $exchange" || fail "no message via $exchange: $(cat "$work/$kind" "$work/$kind.err")"
  echo "received \"hello via $exchange\" exchange=$exchange"
done
echo "acked ${#routes[@]} messages, each after the markers before it (prefetch 1)"

for pid in "${consumers[@]}"; do kill "$pid"; done
for pid in "${consumers[@]}"; do wait "$pid" 2>/dev/null || true; done
consumers=()
echo "stopped the consumers (amqp-consume runs until it is killed)"
