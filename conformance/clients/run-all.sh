#!/usr/bin/env bash
# Runs every client script of this folder against one broker, installing the
# Debian packages (and the npm devDependencies) they need when missing.
# Prints one line per client, "ok <client>" or "not ok <client>: <reason>"
# (followed by the tail of its output as "# " lines), and last
# "N passed, N failed". Exits non-zero when any client failed.
# Usage: conformance/clients/run-all.sh <amqp-url> [client...]
#   CLIENT_TIMEOUT=<seconds> bounds each client (default 120).
set -uo pipefail

url=${1:?usage: run-all.sh <amqp-url> [client...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
limit=${CLIENT_TIMEOUT:-120}
java_classpath=/usr/share/java/amqp-client.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar

all_clients=(python-pika python-amqp ruby-bunny php-amqplib java-amqp-client c-amqp-tools go-amqp091 node-amqplib node-amqp-client)
clients=("${@:-${all_clients[@]}}")

debian_packages() { # client
  case $1 in
    python-pika) echo python3-pika ;;
    python-amqp) echo python3-amqp ;;
    ruby-bunny) echo ruby-bunny ;;
    php-amqplib) echo php-cli php-amqplib ;;
    java-amqp-client) echo default-jdk-headless librabbitmq-client-java libslf4j-java ;;
    c-amqp-tools) echo amqp-tools ;;
    go-amqp091) echo golang-go golang-github-rabbitmq-amqp091-go-dev ;;
    node-amqplib | node-amqp-client) ;;
    *) return 1 ;;
  esac
}

client_command() { # client: sets the array "command"
  case $1 in
    # /usr/bin/python3: Debian's packages are not on the path of a pyenv or venv python.
    python-pika) command=(/usr/bin/python3 "$here/pika-round-trip.py") ;;
    python-amqp) command=(/usr/bin/python3 "$here/py-amqp-round-trip.py") ;;
    ruby-bunny) command=(ruby "$here/bunny-round-trip.rb") ;;
    php-amqplib) command=(php "$here/php-amqplib-round-trip.php") ;;
    # The single-file source launcher compiles the program in memory (javac's compiler, no class files).
    java-amqp-client) command=(java -cp "$java_classpath" "$here/java-amqp-client-round-trip.java") ;;
    c-amqp-tools) command=(bash "$here/amqp-tools-round-trip.sh") ;;
    # No Go module proxy here: GOPATH mode finds Debian's copy of the library.
    go-amqp091) command=(env GO111MODULE=off GOPATH=/usr/share/gocode "GOCACHE=${GOCACHE:-${HOME:-/tmp}/.cache/go-build}"
      go run "$here/go-amqp091-round-trip.go") ;;
    node-amqplib) command=(node "$here/node-amqplib-round-trip.mjs") ;;
    node-amqp-client) command=(node "$here/node-amqp-client-round-trip.mjs") ;;
  esac
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed'; }

missing=()
for client in "${clients[@]}"; do
  packages=$(debian_packages "$client") || { echo "unknown client $client (known: ${all_clients[*]})" >&2; exit 2; }
  for package in $packages; do installed "$package" || missing+=("$package"); done
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ]; then
  echo "# installing ${missing[*]}"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; }
  apt_install || { apt-get update -q >/dev/null 2>&1; apt_install; } || echo "# apt-get install failed"
fi
if ! (cd "$repo" && node -e "import('amqplib').then(() => import('@cloudamqp/amqp-client'))" 2>/dev/null); then
  echo "# installing the npm devDependencies"
  (cd "$repo" && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1) || echo "# npm install failed"
fi

passed=0
failed=0
output=$(mktemp)
trap 'rm -f "$output"' EXIT
for client in "${clients[@]}"; do
  not_installed=$(for package in $(debian_packages "$client"); do installed "$package" || printf ' %s' "$package"; done)
  if [ -n "$not_installed" ]; then
    echo "not ok $client: Debian packages not installed:$not_installed"
    failed=$((failed + 1))
    continue
  fi
  client_command "$client"
  # timeout signals its whole process group, so the client's own children
  # (amqp-consume, the program go run built) end with it.
  timeout -k 5 "$limit" "${command[@]}" "$url" >"$output" 2>&1 </dev/null
  status=$?
  if [ "$status" -eq 0 ] && grep -q '^acked ' "$output"; then
    echo "ok $client"
    passed=$((passed + 1))
  else
    # The first error line outside a stack trace, else the last line.
    reason=$(grep -m 1 -iE '^[^[:space:]].*(error|exception|refused|timed out|failed|nacked|returned|expected|did not|^no )' "$output" ||
      grep -v '^[[:space:]]*$' "$output" | tail -n 1)
    [ "$status" -eq 124 ] || [ "$status" -eq 137 ] && reason="timed out after ${limit} s"
    echo "not ok $client: ${reason:-exit status $status with no output}"
    tail -n 20 "$output" | sed 's/^/#   /'
    failed=$((failed + 1))
  fi
done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
