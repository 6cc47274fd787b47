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

step "checkov over the whole repository, as a user runs it (checkov -d .)"
# One scan of everything, examples, bench roots and test fixtures included: 0 failed. Every skip is inline,
# with its reason (README, Security).
.venv-checkov/bin/checkov -d . --skip-download --compact --quiet

step "every state machine and IAM policy the roots create: applied to a local AWS (scripts/render.py)"
# The local AWS refuses an invalid definition at CreateStateMachine, as AWS does, so a root whose machine AWS
# would refuse fails here already.
$PY scripts/render.py

step "every rendered definition, validated (localaws.asl: asl-validator plus the AWS rules it lacks)"
shopt -s nullglob
definitions=(.work/rendered/*/state-machines/*.json)
shopt -u nullglob
[ "${#definitions[@]}" -gt 0 ] || { echo "no rendered definitions"; exit 1; }
$PY -m localaws.asl "${definitions[@]}" >/dev/null || $PY -m localaws.asl "${definitions[@]}"
echo "ok  ${#definitions[@]} definitions"
# And the project's own rule: every Lambda task retries AWS's transient Lambda errors and a timed-out call.
$PY scripts/lint_retriers.py

step "every rendered IAM policy, parliament (accepted findings by name: tests/lint/parliament.yaml)"
$PY scripts/lint_policies.py

step "done"
echo "lint: all gates passed in $(seconds_since "$started") s"
