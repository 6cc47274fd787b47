"""Point a Terraform root at the local AWS without editing it.

The examples are plain AWS roots a user applies with real credentials. To apply one locally, ``prepare``
copies its ``*.tf`` files into a scratch directory, makes its relative module sources (``../..``) absolute
so they still resolve from there, and adds a provider configuration for the local AWS:

- if the root configures ``provider "aws"``, as a Terraform override file (``localaws_override.tf``), which
  Terraform merges into that block (endpoints, test credentials, no account or region look-ups);
- otherwise (a bare module such as the repository root) as an ordinary ``localaws_provider.tf``.

The original directory is never written to; ``terraform init`` then runs in the copy.

The offline aws provider (3.39) validates Lambda runtimes against a list that ends at python3.8, while the
module defaults to a current runtime: a third file (``localaws_runtime_override.tf``) sets the root's own
``lambda_runtime`` default and every call of the repository's root module to python3.8.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from localaws.server import REGION

#: Every service endpoint the module and its examples use (plus sqs and kms for later features).
ENDPOINT_SERVICES = (
    "dynamodb",
    "iam",
    "lambda",
    "stepfunctions",
    "cloudwatchevents",
    "cloudwatchlogs",
    "sts",
    "sqs",
    "kms",
)

OVERRIDE_FILE = "localaws_override.tf"
PROVIDER_FILE = "localaws_provider.tf"
RUNTIME_OVERRIDE_FILE = "localaws_runtime_override.tf"

#: The newest Lambda runtime the offline aws provider 3.39 accepts.
LOCAL_LAMBDA_RUNTIME = "python3.8"
#: The repository root: the module whose calls get LOCAL_LAMBDA_RUNTIME.
MODULE_ROOT = Path(__file__).resolve().parent.parent
_MODULE_CALL = re.compile(r'^module\s+"([^"]+)"\s*\{', re.MULTILINE)
_SOURCE = re.compile(r'^\s*source\s*=\s*"([^"]*)"', re.MULTILINE)
_LAMBDA_RUNTIME_VARIABLE = re.compile(r'^variable\s+"lambda_runtime"\s*\{', re.MULTILINE)

# A module source that is a relative path: `source = "../.."`, `source = "./modules/x"`.
_RELATIVE_SOURCE = re.compile(r'^(\s*source\s*=\s*")(\.\.?(?:/[^"]*)?)(")', re.MULTILINE)
_AWS_PROVIDER_BLOCK = re.compile(r'^\s*provider\s+"aws"\s*\{', re.MULTILINE)


class WorkspaceError(RuntimeError):
    """The directory is not a Terraform root this module can prepare."""


def provider_config(endpoint: str, region: str = REGION) -> str:
    """A ``provider "aws"`` block that sends every API call to ``endpoint`` with test credentials."""
    width = max(len(service) for service in ENDPOINT_SERVICES)
    endpoints = "\n".join(f'    {service:<{width}} = "{endpoint}"' for service in ENDPOINT_SERVICES)
    return f"""# Written by harness.workspace: this copy of the root talks to the local AWS at {endpoint}.
provider "aws" {{
  region                      = "{region}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  skip_get_ec2_platforms      = true

  endpoints {{
{endpoints}
  }}
}}
"""


def absolutize_module_sources(text: str, base: Path) -> str:
    """Rewrite relative module sources in ``text`` (a .tf file from ``base``) to absolute paths."""

    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)}{(base / match.group(2)).resolve()}{match.group(3)}"

    return _RELATIVE_SOURCE.sub(replace, text)


def prepare(source: Path, endpoint: str, parent: Path, include: Sequence[str] = ()) -> Path:
    """Copy the root at ``source`` into a new directory under ``parent``, pointed at ``endpoint``.

    ``include`` names extra files or directories (relative to ``source``) to copy as they are, for roots
    that read files through ``path.module`` (the repository root's ``templates/``). Returns the new
    directory, ready for ``terraform init``.
    """
    source = source.resolve()
    tf_files = sorted(source.glob("*.tf"))
    if not tf_files:
        raise WorkspaceError(f"{source} has no .tf files")
    parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{source.name}-", dir=parent))

    configures_aws = False
    for tf_file in tf_files:
        if tf_file.name.endswith("_override.tf") or tf_file.name == "override.tf":
            raise WorkspaceError(f"{tf_file} is an override file: the local AWS override would clash with it")
        text = tf_file.read_text()
        configures_aws = configures_aws or bool(_AWS_PROVIDER_BLOCK.search(text))
        (workdir / tf_file.name).write_text(absolutize_module_sources(text, source))

    for name in include:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, workdir / name)
        else:
            shutil.copy2(path, workdir / name)

    target = OVERRIDE_FILE if configures_aws else PROVIDER_FILE
    (workdir / target).write_text(provider_config(endpoint))
    runtime_override = lambda_runtime_override(sorted(workdir.glob("*.tf")))
    if runtime_override:
        (workdir / RUNTIME_OVERRIDE_FILE).write_text(runtime_override)
    return workdir


def lambda_runtime_override(tf_files: Sequence[Path]) -> str:
    """Override blocks giving the module's Lambda functions a runtime the offline provider accepts.

    ``tf_files`` are the prepared copies (module sources already absolute). Empty when the root neither
    declares ``lambda_runtime`` nor calls the repository's root module.
    """
    blocks = []
    for tf_file in tf_files:
        text = tf_file.read_text()
        if _LAMBDA_RUNTIME_VARIABLE.search(text):
            blocks.append(f'variable "lambda_runtime" {{\n  default = "{LOCAL_LAMBDA_RUNTIME}"\n}}\n')
        calls = list(_MODULE_CALL.finditer(text))
        for index, call in enumerate(calls):
            end = calls[index + 1].start() if index + 1 < len(calls) else len(text)
            source = _SOURCE.search(text, call.end(), end)
            if source and Path(source.group(1)).resolve() == MODULE_ROOT:
                runtime = f'lambda_runtime = "{LOCAL_LAMBDA_RUNTIME}"'
                blocks.append(f'module "{call.group(1)}" {{\n  {runtime}\n}}\n')
    if not blocks:
        return ""
    header = "# Written by harness.workspace: aws provider 3.39 knows Lambda runtimes up to python3.8 only.\n"
    return header + "\n".join(blocks)
