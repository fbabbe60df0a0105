#!/usr/bin/env bash
# The RustSec advisories that `make lint` checks Cargo.lock against, offline (cargo-deny cannot fetch them here).
#
#   infra/advisory-db/refresh.sh CHECKOUT   refresh from a full git checkout of the RustSec advisory-db:
#                                          keeps crates/<name>/*.md for every crate named in Cargo.lock,
#                                          the database's licences, the commit and its date (SNAPSHOT), and
#                                          the names of all the crates the database has advisories for
#                                          (all-crates.txt)
#   infra/advisory-db/refresh.sh --check   fail if Cargo.lock names a crate that has advisories in the
#                                          snapshot but none vendored here (run `refresh.sh CHECKOUT` again
#                                          after adding a dependency)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/../../Cargo.lock"

lock_names() { awk -F'"' '/^name = "/ { print $2 }' "$lock" | LC_ALL=C sort -u; }

if [ "${1:-}" = --check ]; then
  missing=()
  while read -r name; do
    [ -d "$here/crates/$name" ] || missing+=("$name")
  done < <(LC_ALL=C comm -12 <(lock_names) "$here/all-crates.txt")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Cargo.lock has crates with RustSec advisories not vendored in infra/advisory-db: ${missing[*]}" >&2
    echo "refresh them: infra/advisory-db/refresh.sh PATH-TO-ADVISORY-DB-CHECKOUT" >&2
    exit 1
  fi
  exit 0
fi

if [ $# -ne 1 ] || [ "${1:0:1}" = - ]; then
  echo "usage: $0 PATH-TO-ADVISORY-DB-CHECKOUT | --check" >&2
  exit 2
fi
src="$(cd "$1" && pwd -P)"
[ -d "$src/crates" ] || { echo "$src has no crates/ folder: not an advisory-db checkout" >&2; exit 1; }
[ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$src" ] \
  || { echo "$src is not the top of a git checkout (its commit and date are recorded)" >&2; exit 1; }
commit="$(git -C "$src" log -1 --format=%H)"
date="$(git -C "$src" log -1 --format=%cI)"

new="$(mktemp -d "$here/.refresh.XXXXXX")"
trap 'rm -rf "$new"' EXIT
mkdir "$new/crates"
(cd "$src/crates" && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\./||' | LC_ALL=C sort) > "$new/all-crates.txt"
kept=0
while read -r name; do
  mkdir "$new/crates/$name"
  cp "$src/crates/$name/"*.md "$new/crates/$name/"
  kept=$((kept + 1))
done < <(LC_ALL=C comm -12 <(lock_names) "$new/all-crates.txt")
cp "$src/LICENSE.txt" "$new/LICENSE.txt"
cp -R "$src/LICENSES" "$new/LICENSES"
printf 'commit %s\ndate %s\n' "$commit" "$date" > "$new/SNAPSHOT"

rm -rf "$here/crates" "$here/LICENSES"
mv "$new/crates" "$new/all-crates.txt" "$new/LICENSE.txt" "$new/LICENSES" "$new/SNAPSHOT" "$here/"
echo "advisories of $kept crates from $(wc -l < "$here/all-crates.txt") (advisory-db $commit, $date)"
