#!/usr/bin/env bash
# `make dev` as a new user meets it: it starts from nothing, serves the seeded jobs, takes a job from the
# printed recruiter token (and an admin-only report from the printed admin token), keeps it across a restart,
# and stops everything it started on SIGINT/SIGTERM.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export PORT="$(free_port)" MOTO_PORT="$(free_port)"
work="$(mktemp -d)"
export RAPPORT_DATA_DIR="$work/data"
unset MOTO_URL
log="$work/dev.log"
base="http://127.0.0.1:$PORT"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "dev-smoke: $*" >&2; echo "--- make dev said:" >&2; cat "$log" >&2 || true; exit 1; }

start() {
  RESET="${1:-0}" make --no-print-directory dev >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q "Rapport is running" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "make dev exited early"
    sleep 0.5
  done
  fail "make dev did not start"
}

stop() {
  local signal="$1"
  # make runs cargo, which runs the stack: signal the stack itself, as a terminal's Ctrl-C would.
  pkill "-$signal" -f "target/debug/rapport-local" || true
  wait "$pid" 2>/dev/null || true
  pid=""
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" || return 0
    sleep 0.1
  done
  fail "the emulator is still running after $signal"
}

# Build first, so the start-up wait below measures starting, not compiling.
cargo build --quiet -p rapport-local --bin rapport-local
start 1
token="$(sed -n 's/^  export TOKEN=//p' "$log")"
[ -n "$token" ] || fail "no recruiter token printed"
open_jobs="$(curl -fsS "$base/careers/jobs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
[ "$open_jobs" -ge 3 ] || fail "expected seeded open jobs, got $open_jobs"

job_id="$(curl -fsS -X POST "$base/api/jobs" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"title":"Smoke Test Engineer","department":"QA","location":{"city":"Oslo","region":"Oslo","country":"NO"},
       "workplace":"remote","employment_type":"contract","description_html":"<p>Kept across restarts.</p>"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
code="$(curl -s -o /dev/null -w '%{http_code}' "$base/api/jobs")"
[ "$code" = 401 ] || fail "no token gave $code"
# The printed admin token opens what only admins may see (the README's privacy tour uses it).
admin_token="$(sed -n 's/^  export ADMIN_TOKEN=//p' "$log")"
[ -n "$admin_token" ] || fail "no admin token printed"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin_token" "$base/api/reports/demographics")"
[ "$code" = 200 ] || fail "the admin token gave $code for the demographics report"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/api/reports/demographics")"
[ "$code" = 403 ] || fail "the recruiter token gave $code for the demographics report"
# An application's confirmation comes from the events function, which make dev feeds from the table's
# stream every second: it arrives without anyone asking for it (waited for, at most a minute).
open_job="$(curl -fsS "$base/careers/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"
applicant="smoke.$(date +%s%N)@example.com"
# The demo data applied from this address a moment ago: a 429 (the per-minute window) is waited out.
for _ in $(seq 1 90); do
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/careers/jobs/$open_job/applications" \
    -H 'content-type: application/json' \
    -d "{\"first_name\":\"Smoke\",\"last_name\":\"Test\",\"email\":\"$applicant\",\"consent\":{\"processing\":true}}")"
  [ "$code" = 429 ] || break
  sleep 1
done
[ "$code" = 201 ] || fail "applying gave $code"
confirmed=0
for _ in $(seq 1 120); do
  if curl -fsS "$base/_local/emails" | grep -q "$applicant"; then confirmed=1; break; fi
  sleep 0.5
done
[ "$confirmed" = 1 ] || fail "no confirmation reached $applicant from the stream"
stop INT

start 0
token2="$(sed -n 's/^  export TOKEN=//p' "$log")"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/api/jobs/$job_id")"
[ "$code" = 200 ] || fail "the job made before the restart is gone ($code)"
total="$(curl -fsS -H "Authorization: Bearer $token2" "$base/api/jobs?limit=100" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
[ "$total" = 7 ] || fail "expected 6 seeded jobs and 1 created, once each; got $total"
stop TERM
echo "dev-smoke: 1 passed, 0 failed"
