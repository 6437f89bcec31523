#!/usr/bin/env bash
# Runs rabbitmq/amqp091-go's own integration tests, unmodified, as Debian ships them,
# against the broker at the given URL. Counts each top-level Test function of the files
# built with the `integration` tag; the last line is "N passed, N failed".
# Usage: conformance/amqp091-go/run.sh amqp://guest:guest@127.0.0.1:5672/
set -uo pipefail
url=${1:?usage: run.sh <amqp-url>}
here=$(cd "$(dirname "$0")" && pwd)
pkg=github.com/rabbitmq/amqp091-go
src=/usr/share/gocode/src/$pkg

if ! command -v go > /dev/null || [ ! -d "$src" ] || [ ! -d /usr/share/gocode/src/go.uber.org/goleak ]; then
  echo "installing golang-go, golang-github-rabbitmq-amqp091-go-dev, golang-uber-goleak-dev"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      golang-go golang-github-rabbitmq-amqp091-go-dev golang-uber-goleak-dev; } > /dev/null \
    || { echo "could not install the Go packages"; echo "0 passed, 1 failed"; exit 1; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# No module proxy here: GOPATH mode over Debian's source tree; the build cache is thrown away.
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/go-cache" GOFLAGS=
if ! go test -c -tags integration -o "$work/amqp091.test" "$pkg" > "$work/build.log" 2>&1; then
  cat "$work/build.log"
  echo "0 passed, 1 failed"
  exit 1
fi

all=$(grep -l '^//go:build integration' "$src"/*_test.go | xargs sed -nE 's/^func (Test[A-Za-z0-9_]+)\(t \*testing\.T\).*/\1/p' | sort)
skipped=$(sed -nE 's/^(Test[A-Za-z0-9_]+) *\|.*/\1/p' "$here/skip-list.txt" | sort)
kept=$(comm -23 <(echo "$all") <(echo "$skipped"))

# Go 1.19 has no -test.skip: run the kept tests by name.
AMQP_URL="$url" "$work/amqp091.test" -test.v -test.count=1 -test.timeout=10m \
  -test.run "^($(paste -sd'|' <<< "$kept"))\$" > "$work/test.log" 2>&1
status=$?

passed=0 failed=0
for name in $kept; do
  result=$(sed -nE "s/^--- (PASS|FAIL|SKIP): $name \(.*/\1/p" "$work/test.log")
  case $result in
    PASS) passed=$((passed + 1)); echo "ok      $name" ;;
    SKIP) failed=$((failed + 1)); echo "FAIL    $name (skipped itself)" ;;
    FAIL) failed=$((failed + 1)); echo "FAIL    $name"
          awk -v t="$name" '$0 == "=== RUN   " t {p = 1; next} /^(=== RUN|--- )/ {p = 0} p' "$work/test.log" | head -20 ;;
    *)    failed=$((failed + 1)); echo "FAIL    $name (did not run to the end)" ;;
  esac
done
sed -nE 's/^(Test[A-Za-z0-9_]+) *\| *([^|]*[^ |]) *\| *(.*)$/skipped \1 (\2): \3/p' "$here/skip-list.txt"
echo "$(wc -l <<< "$all") integration tests, $(wc -l <<< "$kept") run, $(grep -cE '^Test' "$here/skip-list.txt") skipped (skip-list.txt)"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # Every test passed but the binary failed: goleak found leaked goroutines, or a panic.
  echo "FAIL    the test binary exited with status $status:"
  tail -20 "$work/test.log"
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
