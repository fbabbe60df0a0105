#!/usr/bin/env bash
# Runs a command with the emulator on a free loopback port (MOTO_URL) and the expanded template
# (RAPPORT_SAM_FUNCTIONS), and stops the emulator after.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$root/target/moto-test-$port.log"
mkdir -p "$root/target"
# What each function is given in AWS (environment, IAM policy, event rules), from the template as SAM expands it.
"$root/.venv/bin/python" "$root/infra/local/expand_template.py" "$root/infra/template.yaml" "$root/target/sam-functions.json"
export RAPPORT_SAM_FUNCTIONS="$root/target/sam-functions.json"
"$root/.venv/bin/python" "$root/infra/local/emulator.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; wait $moto 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 $moto 2>/dev/null; then echo "the emulator did not start; see $log" >&2; exit 1; fi
  sleep 0.1
done
export MOTO_URL="http://127.0.0.1:$port"
"$@"
