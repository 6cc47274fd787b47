"""``python scripts/lint_policies.py [DIR]``: parliament on every IAM policy that scripts/render.py wrote.

Runs parliament (its own checks and its community auditors, which flag permissions-management actions such
as ``logs:PutResourcePolicy``) on every ``<root>/policies/<kind>/*.json`` under DIR (default
``.work/rendered``). A finding passes only when an entry of ``tests/lint/parliament.yaml`` accepts it by
name: its issue code, and what it is about (the policy's kind, its file, the actions it names, its
detail), with a written reason. Every other finding is printed and fails the run; so does an entry that no
finding matched, so that no acceptance outlives what it was written for.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RENDERED = ROOT / ".work" / "rendered"
ACCEPTED = ROOT / "tests" / "lint" / "parliament.yaml"
KINDS = ("identity", "trust", "resource")

# service:Action, with wildcards; not a condition key or an ARN (those have more colons).
_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$")


@dataclass(frozen=True)
class Finding:
    """One parliament finding on one policy file."""

    issue: str
    severity: str
    kind: str
    #: The policy file, relative to the rendered directory (``<root>/policies/<kind>/<name>.json``).
    path: str
    detail: Any
    location: Mapping[str, Any]

    @property
    def actions(self) -> set[str]:
        """Every action the finding names, in its detail or location, lower case."""
        return {a.lower() for a in _actions(self.detail)} | {a.lower() for a in _actions(dict(self.location))}

    def describe(self) -> str:
        line = self.location.get("line") or self.location.get("lineno")
        where = f"{self.path}:{line}" if line else self.path
        return f"{self.severity} {self.issue} in {where}: {self.detail}"


def _actions(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from (token.strip(",.'\"") for token in value.split() if _ACTION.match(token.strip(",.'\"")))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _actions(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _actions(item)


@dataclass(frozen=True)
class Acceptance:
    """An entry of the accepted-findings file: which findings it matches, and why they pass."""

    issue: str
    reason: str
    kind: str | None = None
    file: str | None = None
    actions: tuple[str, ...] = ()
    detail: str | None = None

    def matches(self, finding: Finding) -> bool:
        if finding.issue != self.issue or (self.kind is not None and finding.kind != self.kind):
            return False
        if self.file is not None and not fnmatch.fnmatchcase(Path(finding.path).name, self.file):
            return False
        if self.detail is not None and self.detail not in str(finding.detail):
            return False
        if self.actions:
            named = finding.actions
            patterns = [p.lower() for p in self.actions]
            return bool(named) and all(any(fnmatch.fnmatchcase(a, p) for p in patterns) for a in named)
        return True

    def describe(self) -> str:
        scope = [
            f"{k} {v}" for k, v in (("kind", self.kind), ("file", self.file), ("detail", self.detail)) if v
        ]
        scope += [f"actions {', '.join(self.actions)}"] if self.actions else []
        return f"{self.issue} ({'; '.join(scope) or 'everywhere'})"


class AcceptedFileError(ValueError):
    """The accepted-findings file is not a list of well-formed entries."""


def load_accepted(path: Path) -> list[Acceptance]:
    entries = yaml.safe_load(path.read_text()) or []
    if not isinstance(entries, list):
        raise AcceptedFileError(f"{path}: expected a list of entries")
    accepted = []
    allowed = {"issue", "reason", "kind", "file", "actions", "detail"}
    for index, entry in enumerate(entries):
        where = f"{path.name} entry {index + 1}"
        if not isinstance(entry, dict) or not {"issue", "reason"} <= set(entry):
            raise AcceptedFileError(f"{where}: every entry needs an issue and a reason")
        if set(entry) - allowed:
            raise AcceptedFileError(f"{where}: unknown field(s) {', '.join(sorted(set(entry) - allowed))}")
        if not str(entry["reason"]).strip():
            raise AcceptedFileError(f"{where}: the reason is empty")
        if entry.get("kind") is not None and entry["kind"] not in KINDS:
            raise AcceptedFileError(f"{where}: kind must be one of {', '.join(KINDS)}")
        actions = entry.get("actions") or ()
        accepted.append(
            Acceptance(
                issue=entry["issue"],
                reason=" ".join(str(entry["reason"]).split()),
                kind=entry.get("kind"),
                file=entry.get("file"),
                actions=tuple([actions] if isinstance(actions, str) else actions),
                detail=entry.get("detail"),
            )
        )
    return accepted


def policy_files(rendered: Path) -> list[tuple[str, Path]]:
    """(kind, file) of every policy under ``rendered``, in a stable order."""
    return [(path.parent.name, path) for path in sorted(rendered.glob("*/policies/*/*.json"))]


def analyze(files: Sequence[tuple[str, Path]], rendered: Path) -> list[Finding]:
    """Every parliament finding on ``files``, community auditors included, at every severity."""
    import parliament

    # The community auditors' issue codes (severity, title) are known only once their config is merged in,
    # as parliament's own command line does with --include-community-auditors.
    parliament.override_config(
        Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"
    )
    found = []
    for kind, path in files:
        relative = str(path.relative_to(rendered))
        policy = parliament.analyze_policy_string(
            path.read_text(), filepath=relative, include_community_auditors=True
        )
        for raw in policy.findings:
            finding = parliament.enhance_finding(raw)
            location = {k: v for k, v in dict(finding.location).items() if k != "filepath"}
            found.append(Finding(finding.issue, finding.severity, kind, relative, finding.detail, location))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rendered", nargs="?", type=Path, default=RENDERED, help="default .work/rendered")
    parser.add_argument("--accepted", type=Path, default=ACCEPTED, help="default tests/lint/parliament.yaml")
    args = parser.parse_args(argv)

    accepted = load_accepted(args.accepted)
    files = policy_files(args.rendered)
    if not files:
        print(
            f"lint_policies: no policies under {args.rendered}: run scripts/render.py first", file=sys.stderr
        )
        return 1
    findings = analyze(files, args.rendered)

    used: dict[Acceptance, int] = dict.fromkeys(accepted, 0)
    refused = []
    for finding in findings:
        entry = next((a for a in accepted if a.matches(finding)), None)
        if entry is None:
            refused.append(finding)
        else:
            used[entry] += 1
    for finding in refused:
        print(f"FAIL  {finding.describe()}")
    stale = [entry for entry, count in used.items() if count == 0]
    for entry in stale:
        print(
            f"FAIL  accepted finding {entry.describe()} matched nothing: remove it from {args.accepted.name}"
        )
    for entry, count in used.items():
        if count:
            print(f"ok    {count:3} x {entry.describe()}")
    print(
        f"parliament: {len(files)} policies, {len(findings)} findings,"
        f" {len(findings) - len(refused)} accepted by name, {len(refused)} refused"
    )
    return 1 if refused or stale else 0


if __name__ == "__main__":
    sys.exit(main())
