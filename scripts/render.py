"""``python scripts/render.py``: every state machine and IAM policy the repository's roots create, as files.

Starts one local AWS, applies each root of ``roots()`` to it (two at a time: the machine has two cores),
reads the applied state (``terraform show -json``), writes every ``aws_sfn_state_machine`` definition and
every IAM policy document in it to a file, and destroys the root:

    .work/rendered/<root>/state-machines/<resource address>.asl.json
    .work/rendered/<root>/policies/<kind>/<resource address>.<attribute>.json

``kind`` is ``identity`` (role inline and managed policies), ``trust`` (a role's assume-role policy) or
``resource`` (KMS key policies and other policies attached to a resource, which name a Principal).

Documents are read from the applied state rather than from a plan because the definitions and policies
name ARNs that only an apply knows. ``make lint`` then validates the files (scripts/lint.sh). A root that
fails to apply (the local AWS refuses an invalid definition at CreateStateMachine, as AWS does) is reported
with Terraform's error and makes the exit status 1; the other roots are still rendered.

``render.py ROOT...`` renders only the named roots (``--list`` prints them).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.deployment import Deployment  # noqa: E402
from harness.terraform import TerraformError, VarValue  # noqa: E402
from localaws.process import LocalAwsProcess  # noqa: E402

OUTPUT = ROOT / ".work" / "rendered"
SCRATCH = ROOT / ".work" / "render"

#: Two roots at a time: one per core. Each apply also spends ~5 s in the provider's fixed wait after
#: creating a Lambda function, which the other one's work fills.
PARALLEL = 2

PolicyKind = Literal["identity", "trust", "resource"]


@dataclass(frozen=True)
class Root:
    """One apply: a Terraform root (a directory of the repository) with values for its variables."""

    id: str
    source: str
    variables: Mapping[str, VarValue] = field(default_factory=dict)


#: Parents whose every directory with .tf files is a root, applied with its defaults: a new example is
#: rendered without a change here.
ROOT_PARENTS = ("examples", "bench/roots")

#: Values for variables a root declares without a default, by root directory.
REQUIRED_VARIABLES: Mapping[str, Mapping[str, VarValue]] = {
    "bench/roots/baseline": {"concurrency_limit": 4, "work_seconds": 1},
    "bench/roots/poll": {"concurrency_limit": 4, "work_seconds": 1},
    "bench/roots/queue": {"concurrency_limit": 4, "work_seconds": 1},
}

#: Roots applied with other values than their defaults: each renders a machine that no default renders.
VARIANTS = (
    Root("basic-wait-1", "examples/basic", {"acquire_wait_seconds": 1}),
    Root("queue-warmup", "examples/queue", {"warmup_tps_limit": 2}),
    Root(
        "queue-per-key-weight-2",
        "examples/queue",
        {"lock_name_path": "$.customerId", "per_item_concurrency": 2},
    ),
    # map_state as a Distributed Map (and the role's statement for its child executions), in queue mode.
    Root(
        "map-throttled-distributed-queue",
        "examples/map-throttled",
        {"map_mode": "DISTRIBUTED", "acquire_mode": "queue"},
    ),
    # A machine of a user's own that embeds the plain fragments and map_state, in each mode.
    Root("embedded-poll", "tests/lint/fixtures/embedded", {"acquire_mode": "poll"}),
    Root("embedded-queue", "tests/lint/fixtures/embedded", {"acquire_mode": "queue"}),
)


def root_id(source: str) -> str:
    """``examples/basic`` -> ``basic``, ``bench/roots/poll`` -> ``bench-poll``."""
    parent, name = source.rsplit("/", 1)
    return name if parent == "examples" else f"{parent.split('/')[0]}-{name}"


def roots(repository: Path = ROOT) -> list[Root]:
    """Every root to render: each directory under ROOT_PARENTS with its defaults, then the VARIANTS."""
    found = []
    for parent in ROOT_PARENTS:
        for directory in sorted((repository / parent).iterdir()):
            if directory.is_dir() and any(directory.glob("*.tf")):
                source = f"{parent}/{directory.name}"
                found.append(Root(root_id(source), source, REQUIRED_VARIABLES.get(source, {})))
    return found + list(VARIANTS)


_VARIABLE_BLOCK = re.compile(r'^variable\s+"([^"]+)"', re.MULTILINE)


def naming_variables(source: Path, root: str) -> dict[str, VarValue]:
    """A name of the root's own for each naming variable it declares (``name``, ``name_prefix``).

    Variants of one example would otherwise create resources of the same default names side by side on the
    one local AWS.
    """
    declared = {m.group(1) for tf in source.glob("*.tf") for m in _VARIABLE_BLOCK.finditer(tf.read_text())}
    return {variable: f"lint-{root}" for variable in ("name", "name_prefix") if variable in declared}


# --- what a state holds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One definition or policy document found in a state, and where it came from."""

    address: str
    attribute: str
    #: ``definition`` for a state machine, otherwise the policy's kind.
    kind: PolicyKind | Literal["definition"]
    document: Mapping[str, Any]

    @property
    def relative_path(self) -> Path:
        if self.kind == "definition":
            return Path("state-machines") / f"{_file_name(self.address)}.asl.json"
        return Path("policies") / self.kind / f"{_file_name(self.address)}.{_file_name(self.attribute)}.json"


def _file_name(text: str) -> str:
    # Addresses carry brackets and quotes (module.x["a"].aws_iam_role.this[0]).
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _resources(state: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every resource of a ``terraform show -json`` state, child modules included, in a stable order."""
    modules = [state.get("values", {}).get("root_module", {})]
    while modules:
        module = modules.pop(0)
        yield from module.get("resources", [])
        modules.extend(module.get("child_modules", []))


def _json_object(value: Any) -> Mapping[str, Any] | None:
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _is_policy(document: Mapping[str, Any]) -> bool:
    return "Statement" in document


def _names_principal(document: Mapping[str, Any]) -> bool:
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    return any(isinstance(s, dict) and ("Principal" in s or "NotPrincipal" in s) for s in statements)


def _attributes(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every attribute of a resource as (dotted path, value), into nested blocks
    (``inline_policy[0].policy``)."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _attributes(item, f"{path}[{index}].")
        elif isinstance(value, dict):
            yield from _attributes(value, f"{path}.")
        else:
            yield path, value


def documents(state: Mapping[str, Any]) -> list[Document]:
    """Every state machine definition and every IAM policy document of the managed resources in ``state``.

    Policies are found by content, not by a list of resource types, so no attribute that holds a policy is
    missed: any string attribute that is a JSON object with a ``Statement``. A role's ``assume_role_policy``
    is a trust policy; a document that names a Principal is a resource policy (a KMS key policy, a queue
    policy); every other one an identity policy. Data sources are left out: their documents are what the
    managed resources use. A document seen twice (a role's inline_policy echoing an aws_iam_role_policy) is
    kept once.
    """
    found: list[Document] = []
    seen: set[tuple[str, str]] = set()
    for resource in _resources(state):
        if resource.get("mode") != "managed":
            continue
        address, values = resource["address"], resource.get("values") or {}
        if resource["type"] == "aws_sfn_state_machine":
            definition = _json_object(values.get("definition"))
            if definition is not None:
                found.append(Document(address, "definition", "definition", definition))
            continue
        for attribute, value in _attributes(values):
            document = _json_object(value)
            if document is None or not _is_policy(document):
                continue
            kind: PolicyKind
            if attribute == "assume_role_policy":
                kind = "trust"
            elif _names_principal(document):
                kind = "resource"
            else:
                kind = "identity"
            key = (kind, json.dumps(document, sort_keys=True))
            if key in seen:
                continue
            seen.add(key)
            found.append(Document(address, attribute, kind, document))
    return found


def write(found: Sequence[Document], directory: Path) -> None:
    """Each document as indented JSON under ``directory`` (emptied first)."""
    shutil.rmtree(directory, ignore_errors=True)
    for document in found:
        path = directory / document.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document.document, indent=2) + "\n")


# --- applying ---------------------------------------------------------------------------------------------


@dataclass
class Rendered:
    root: Root
    seconds: float
    definitions: int = 0
    policies: int = 0
    error: str | None = None


def terraform_error(error: TerraformError) -> str:
    """Terraform's own error blocks (``Error: ...``), without the progress lines before them."""
    text = error.stderr.strip() or error.stdout.strip()
    start = text.find("Error:")
    return text[start:] if start >= 0 else text


def render(root: Root, endpoint: str, scratch: Path, output: Path) -> Rendered:
    """Apply ``root``, write its documents under ``output/<root id>``, destroy it."""
    started = time.monotonic()
    source = ROOT / root.source
    variables = {**naming_variables(source, root.id), **root.variables}
    deployment: Deployment | None = None
    result = Rendered(root, 0.0)
    try:
        deployment = Deployment.prepare(source, endpoint, scratch, variables)
        deployment.apply()
        found = documents(deployment.terraform.show_state_json())
        write(found, output / root.id)
        result.definitions = sum(d.kind == "definition" for d in found)
        result.policies = len(found) - result.definitions
    except TerraformError as error:
        result.error = f"terraform {error.args_list[0]} failed:\n{terraform_error(error)}"
    finally:
        if deployment is not None:
            try:
                deployment.destroy()
                shutil.rmtree(deployment.workdir, ignore_errors=True)
            except TerraformError as error:
                destroy_error = (
                    f"terraform destroy failed (work dir {deployment.workdir}):\n{terraform_error(error)}"
                )
                result.error = f"{result.error}\n{destroy_error}" if result.error else destroy_error
    result.seconds = time.monotonic() - started
    return result


def report(result: Rendered, lock: threading.Lock) -> None:
    with lock:
        if result.error is None:
            print(
                f"ok    {result.root.id:<24} {result.definitions} definitions, {result.policies} policies"
                f"  ({result.seconds:.1f} s)",
                flush=True,
            )
        else:
            print(f"FAIL  {result.root.id:<24} ({result.root.source}, {result.seconds:.1f} s)", flush=True)
            print("      " + result.error.replace("\n", "\n      "), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("roots", nargs="*", metavar="ROOT", help="render only these roots (default: all)")
    parser.add_argument("--list", action="store_true", help="print every root and what it applies, then exit")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default {OUTPUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)

    every = roots()
    if args.list:
        for root in every:
            values = ", ".join(f"{k} = {json.dumps(v)}" for k, v in root.variables.items())
            print(f"{root.id:<24} {root.source}" + (f"  ({values})" if values else ""))
        return 0
    by_id = {root.id: root for root in every}
    unknown = [name for name in args.roots if name not in by_id]
    if unknown:
        parser.error(f"unknown root(s) {', '.join(unknown)}: see --list")
    selected = [by_id[name] for name in args.roots] if args.roots else every

    output: Path = args.output.resolve()
    if not args.roots:
        # Files of a root no longer in the list must not be validated again.
        shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True, exist_ok=True)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="render-", dir=SCRATCH))
    started = time.monotonic()
    lock = threading.Lock()
    with (
        LocalAwsProcess(log_path=scratch / "localaws.log") as local_aws,
        ThreadPoolExecutor(max_workers=PARALLEL) as pool,
    ):
        futures = [pool.submit(render, root, local_aws.endpoint, scratch, output) for root in selected]
        results = []
        for future in futures:
            results.append(future.result())
            report(results[-1], lock)

    failed = [r for r in results if r.error is not None]
    definitions = sum(r.definitions for r in results)
    policies = sum(r.policies for r in results)
    print(
        f"render: {len(results) - len(failed)} of {len(results)} roots, {definitions} definitions and"
        f" {policies} policies in {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}"
        f" ({time.monotonic() - started:.1f} s)"
    )
    if failed:
        # Kept for a look: the local AWS's log and the work directories that failed to destroy.
        print(
            f"render: failed: {', '.join(r.root.id for r in failed)}"
            f" (local AWS log: {scratch / 'localaws.log'})"
        )
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
