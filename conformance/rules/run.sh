#!/usr/bin/env bash
# Runs the specification-rule tests (conformance/rules/*.test.ts) against the
# broker at the given amqp:// URL, or against embedded brokers when no URL is
# given. Prints "rules covered X/139" from rules.json and, last, one line
# "N passed, N failed" counting test cases. Tests marked todo (known gaps of
# this broker, listed in rules.json under "gap") count as neither.
#   conformance/rules/run.sh [amqp://guest:guest@127.0.0.1:5672]
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ $# -ge 1 ] && [ -n "$1" ]; then export AMQP_URL="$1"; else unset AMQP_URL; fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
npx tap --reporter=tap --disable-coverage --allow-incomplete-coverage conformance/rules/*.test.ts >"$out" 2>&1
status=$?
[ -n "${RULES_VERBOSE:-}" ] && cat "$out"

# Test cases sit one level inside each file's subtest: four spaces of indentation.
passed=$(grep -E '^    ok [0-9]+' "$out" | grep -vc '# TODO')
failed=$(grep -E '^    not ok [0-9]+' "$out" | grep -vc '# TODO')
todo=$(grep -cE '^    (not )?ok [0-9]+.*# TODO' "$out")
grep -E '^    not ok [0-9]+' "$out" | grep -v '# TODO' | sed 's/^    /failed: /'
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A file failed outside any test case (a type error, a crash): show it and count it.
  grep -E '^not ok' "$out"
  failed=1
fi

node -e '
  const { rules } = JSON.parse(require("fs").readFileSync("conformance/rules/rules.json", "utf8"));
  const tested = rules.filter((r) => (r.tests ?? []).length > 0);
  console.log(`rules covered ${tested.length}/${rules.length}`);
  const gaps = tested.filter((r) => r.gap).map((r) => r.id);
  if (gaps.length > 0) console.log(`known gaps of this broker (their tests are todo when run against it): ${gaps.join(", ")}`);
'
echo "${todo} todo"
echo "${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
