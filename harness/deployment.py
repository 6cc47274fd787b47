"""Apply a Terraform root to the local AWS and destroy it again.

``Deployment.apply`` prepares a scratch copy of the root (``harness.workspace``), runs ``init`` and
``apply`` with the given variables and reads the outputs; ``destroy`` removes what was applied. ``deployed``
wraps both in a context manager for the demo and the benchmark; the tests use the two steps directly so a
failed destroy is reported on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import workspace
from harness.terraform import Terraform, VarValue


@dataclass
class Deployment:
    """One applied copy of a Terraform root."""

    source: Path
    workdir: Path
    terraform: Terraform
    variables: dict[str, VarValue] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    applied: bool = False

    @classmethod
    def prepare(
        cls,
        source: Path,
        endpoint: str,
        parent: Path,
        variables: Mapping[str, VarValue] | None = None,
        include: Sequence[str] = (),
    ) -> Deployment:
        """A scratch copy of ``source`` pointed at ``endpoint``, initialized, not yet applied."""
        workdir = workspace.prepare(source, endpoint, parent, include=include)
        terraform = Terraform(workdir)
        terraform.init()
        return cls(source=source, workdir=workdir, terraform=terraform, variables=dict(variables or {}))

    def apply(self) -> dict[str, Any]:
        """``terraform apply`` with this deployment's variables; returns (and keeps) the outputs."""
        # Marked applied first: a half-finished apply still leaves resources for destroy to remove.
        self.applied = True
        self.terraform.apply(self.variables)
        self.outputs = self.terraform.output()
        return self.outputs

    def destroy(self) -> None:
        """``terraform destroy`` (a no-op when nothing was applied)."""
        if self.applied:
            self.terraform.destroy(self.variables)
            self.applied = False


@contextmanager
def deployed(
    source: Path,
    endpoint: str,
    parent: Path,
    variables: Mapping[str, VarValue] | None = None,
    include: Sequence[str] = (),
) -> Iterator[Deployment]:
    """Apply ``source`` to the local AWS for the duration of the block, then destroy it."""
    deployment = Deployment.prepare(source, endpoint, parent, variables, include)
    try:
        deployment.apply()
        yield deployment
    finally:
        deployment.destroy()
