#!/usr/bin/env bash
# Every test of the workspace: unit and property tests, then the black-box tests against the stack.
set -euo pipefail
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
# `make dev` itself, as a new user runs it: seeded jobs, a printed token that works, data kept across a restart.
"$(dirname "$0")/../../tests/dev-smoke.sh"
