#!/usr/bin/env bash
# Every test: `make dev` itself as a new user runs it (seeded jobs, a printed token that works, data kept
# across a restart); the heavy tests (minutes of load each), alone and on an emulator of their own; then
# unit, property and black-box tests against the stack. Afterwards every AWS call the functions made
# is checked against their policies (infra/local/iam-report.py). The test runner's summary closes the run.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
command -v cargo-nextest >/dev/null || { echo "cargo-nextest is needed: cargo install --locked cargo-nextest" >&2; exit 1; }
# The nextest test group `heavy` (.config/nextest.toml) names them; this is the same set.
heavy='test(=recount::every_report_equals_a_recount_of_a_long_random_history) | test(=feeds::ten_thousand_jobs_build_one_query_a_page_with_flat_memory) | test(=crm::imports::fifty_thousand_rows_import_a_page_at_a_time_with_flat_memory)'

"$root/tests/dev-smoke.sh" || exit 1
# The functions' own binaries, which the Runtime API tests start.
cargo build --quiet --workspace --bins || exit 1

export RAPPORT_IAM_LOG="$root/target/iam-calls.jsonl"
rm -f "$RAPPORT_IAM_LOG"
status=0

echo "== heavy tests, one at a time on their own emulator"
"$root/infra/local/with-emulator.sh" cargo nextest run --workspace --no-fail-fast --test-threads 1 -E "$heavy" \
  2>&1 | tee "$root/target/heavy-tests.log" || status=1
echo "== heavy test durations"
grep -E '^\s*(PASS|FAIL|SLOW|TIMEOUT) \[' "$root/target/heavy-tests.log" | sed 's/^ */  /' || true

echo "== every other test"
cargo nextest run --workspace --no-fail-fast -E "not ($heavy)" || status=1

"$root/.venv/bin/python" "$root/infra/local/iam-report.py" "$RAPPORT_IAM_LOG" "$RAPPORT_SAM_FUNCTIONS" || status=1
exit $status
