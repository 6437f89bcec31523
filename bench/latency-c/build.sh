#!/usr/bin/env bash
# Builds one of the C programs here (latency, the default, or cpu-stalls) into
# bench/latency-c/build/<name>; for latency, installs Debian's librabbitmq-dev
# first when its header is missing. Does nothing when the binary is newer than
# its source and this script. Prints the binary's path on stdout; everything
# else goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=${1:-latency}
case "$name" in
  latency) libs=(-lrabbitmq -lm) ;;
  cpu-stalls) libs=() ;;
  *) echo "unknown program '$name': latency or cpu-stalls" >&2; exit 2 ;;
esac
src="$here/$name.c"
out="$here/build/$name"

if [ -x "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "${BASH_SOURCE[0]}" ]; then
  echo "$out"
  exit 0
fi

# librabbitmq 0.11 (Debian 12) installs amqp.h at the top level; 0.12 and later under rabbitmq-c/.
if [ "$name" = latency ] && [ ! -f /usr/include/amqp.h ] && [ ! -f /usr/include/rabbitmq-c/amqp.h ]; then
  echo "installing librabbitmq-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be stale or missing on a fresh image: update and retry once.
  apt-get install -y -qq librabbitmq-dev >&2 || { apt-get update -qq >&2 && apt-get install -y -qq librabbitmq-dev >&2; }
fi

mkdir -p "$here/build"
gcc -O2 -Wall -Wextra -o "$out.tmp" "$src" "${libs[@]}" >&2
mv "$out.tmp" "$out"
echo "$out"
