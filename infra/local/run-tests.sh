#!/usr/bin/env bash
# Every test: `make dev` itself as a new user runs it (seeded jobs, a printed token that works, data kept
# across a restart), then unit and property tests and the black-box tests against the stack. The test
# runner's summary is the last thing printed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/tests/dev-smoke.sh"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
