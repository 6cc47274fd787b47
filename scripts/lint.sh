#!/usr/bin/env bash
# Static checks, fastest first; stops at the first failing gate and says which.
set -euo pipefail
cd "$(dirname "$0")/.."
TF=.tools/bin/terraform
PY=.venv/bin/python

# Each gate's heading, with the seconds the previous gate took (CI has a time budget: see where it goes).
usec() { echo "${EPOCHREALTIME/./}"; }
seconds_since() { local d=$(( $(usec) - $1 )); printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000)); }
started=$(usec); last=
step() {
  [ -z "$last" ] || echo "   ($(seconds_since "$last") s)"
  last=$(usec)
  printf '\n== %s\n' "$*"
}

step "terraform fmt"
$TF fmt -check -recursive -diff .

step "terraform validate (root, modules, examples)"
for dir in . modules/* examples/*; do
  [ -f "$dir/main.tf" ] || continue
  data_dir=$PWD/.work/tf-validate/$(echo "$dir" | tr '/' '_')
  TF_DATA_DIR=$data_dir $TF -chdir="$dir" init -backend=false -input=false -no-color >/dev/null
  TF_DATA_DIR=$data_dir $TF -chdir="$dir" validate -no-color >/dev/null || {
    TF_DATA_DIR=$data_dir $TF -chdir="$dir" validate -no-color; exit 1; }
  echo "ok  $dir"
done

step "ruff"
$PY -m ruff check .
$PY -m ruff format --check .

step "mypy (strict on lambdas/)"
# Once lambdas/ exists mypy must check it: with no Python files under it, mypy itself fails.
if [ -d lambdas ]; then
  $PY -m mypy --strict lambdas
else
  echo "skipped: no lambdas/ yet"
fi

step "README tables"
$PY scripts/tfdocs.py --check

if [ -f scripts/bundle.py ]; then
  step "Lambda bundles match their sources"
  $PY scripts/bundle.py --check
fi

step "checkov (root, every sub-module, every example)"
# One scan per directory, so each is checked as a root with its own defaults. The repository root is scanned
# alone, with the sub-modules it calls (each sub-module also gets a scan of its own): without the skips,
# checkov would see it only through the examples and tests that call it. Each scan spends most of its ~2 s
# starting up, so they run side by side (one per core, at most 4); the results are printed in order, and any
# failed check fails the gate.
checkov_dirs=(.)
for dir in modules/* examples/*; do
  compgen -G "$dir/*.tf" >/dev/null && checkov_dirs+=("$dir")
done
checkov_out=$(mktemp -d)
trap 'rm -rf "$checkov_out"' EXIT
checkov_one() {
  local i=$1 dir=${checkov_dirs[$1]} extra=()
  [ "$dir" != . ] || extra=(--skip-path examples --skip-path tests --skip-path bench --skip-path modules)
  local rc=0
  .venv-checkov/bin/checkov -d "$dir" "${extra[@]}" --framework terraform --skip-download --compact --quiet \
    >"$checkov_out/$i" 2>&1 || rc=$?
  echo "$rc" >"$checkov_out/$i.rc"
}
jobs=$(nproc 2>/dev/null || echo 2); jobs=$(( jobs > 4 ? 4 : jobs ))
running=0
for i in "${!checkov_dirs[@]}"; do
  checkov_one "$i" &
  if (( ++running >= jobs )); then wait -n || true; running=$((running - 1)); fi
done
wait
checkov_failed=0
for i in "${!checkov_dirs[@]}"; do
  if [ "$(cat "$checkov_out/$i.rc")" = 0 ]; then
    echo "ok  ${checkov_dirs[$i]} ($(grep -o 'Passed checks: .*' "$checkov_out/$i"))"
  else
    cat "$checkov_out/$i"
    echo "checkov failed in ${checkov_dirs[$i]}"
    checkov_failed=1
  fi
done
[ "$checkov_failed" = 0 ]

step "done"
echo "lint: all gates passed in $(seconds_since "$started") s"
