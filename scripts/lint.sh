#!/usr/bin/env bash
# Static checks, fastest first; stops at the first failing gate and says which.
set -euo pipefail
cd "$(dirname "$0")/.."
TF=.tools/bin/terraform
PY=.venv/bin/python

step() { printf '\n== %s\n' "$*"; }

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
if compgen -G "lambdas/*/*.py" >/dev/null; then
  $PY -m mypy --strict lambdas
fi

step "README tables"
$PY scripts/tfdocs.py --check

if [ -f scripts/bundle.py ]; then
  step "Lambda bundles match their sources"
  $PY scripts/bundle.py --check
fi
echo
echo "lint: all gates passed"
