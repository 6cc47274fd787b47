"""A thin wrapper over the Terraform CLI, run as a subprocess.

Not ``python-terraform``: its last release (0.10.1) predates Terraform 1.x, and several of its defaults
(positional ``init`` directories, ``-force`` on destroy, implicit plans on apply) no longer match the CLI.
Every command here is spelled out with the flags Terraform 1.x documents, run non-interactively
(``-input=false``, ``-no-color``, ``TF_IN_AUTOMATION=1``), and a failure raises ``TerraformError`` carrying
the command's stderr.

The default binary is ``.tools/bin/terraform``, which sets the project's offline CLI config (provider
mirror and shared plugin cache, written by ``scripts/setup.sh``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM = ROOT / ".tools" / "bin" / "terraform"

#: A value for ``-var``: strings pass as they are, everything else as an HCL/JSON literal.
VarValue = str | int | float | bool | list[Any] | dict[str, Any]


class TerraformError(RuntimeError):
    """A Terraform command exited with an error; ``stderr`` holds Terraform's own message."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args_list = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"terraform {' '.join(args)} exited with {returncode}:\n{stderr.strip()}")


def format_var(key: str, value: VarValue) -> str:
    """One ``-var`` argument. Numbers, booleans, lists and maps become literals Terraform parses."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        # JSON is valid HCL for lists and objects of strings, numbers and booleans.
        text = json.dumps(value)
    return f"{key}={text}"


@dataclass
class Terraform:
    """Terraform commands in one working directory (a root module)."""

    workdir: Path
    binary: Path = TERRAFORM
    #: Extra environment variables for every command (on top of this process's environment).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Seconds any single command may take before it is killed.
    timeout: float = 600.0

    def init(self) -> None:
        """``terraform init``: install providers (from the offline mirror) and modules."""
        self._run(["init", "-input=false", "-no-color"])

    def validate(self) -> None:
        """``terraform validate``."""
        self._run(["validate", "-no-color"])

    def plan(
        self,
        variables: Mapping[str, VarValue] | None = None,
        out: Path | None = None,
        lock: bool = True,
        var_files: Sequence[Path] = (),
    ) -> bool:
        """``terraform plan -detailed-exitcode``: True when the plan has changes, False when it has none."""
        args = [
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            *self._var_args(variables, var_files),
        ]
        if out is not None:
            args.append(f"-out={out}")
        if not lock:
            args.append("-lock=false")
        result = self._run(args, ok_codes=(0, 2))
        return result.returncode == 2

    def apply(self, variables: Mapping[str, VarValue] | None = None, var_files: Sequence[Path] = ()) -> None:
        """``terraform apply -auto-approve``."""
        args = ["apply", "-input=false", "-no-color", "-auto-approve"]
        self._run(args + self._var_args(variables, var_files))

    def destroy(
        self, variables: Mapping[str, VarValue] | None = None, var_files: Sequence[Path] = ()
    ) -> None:
        """``terraform destroy -auto-approve`` (pass the variables the root was applied with)."""
        args = [
            "destroy",
            "-input=false",
            "-no-color",
            "-auto-approve",
            *self._var_args(variables, var_files),
        ]
        self._run(args)

    def output(self) -> dict[str, Any]:
        """Every root output, by name, as its value (``terraform output -json``)."""
        raw = json.loads(self._run(["output", "-no-color", "-json"]).stdout or "{}")
        return {name: entry["value"] for name, entry in raw.items()}

    def show_plan_json(self, plan_file: Path) -> dict[str, Any]:
        """A saved plan as Terraform's JSON plan representation (``terraform show -json PLAN``)."""
        shown: dict[str, Any] = json.loads(self._run(["show", "-no-color", "-json", str(plan_file)]).stdout)
        return shown

    def planned(self, values: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
        """The JSON plan (``terraform show -json``) of a plan with ``values``, given in a ``.tfvars.json``
        file under ``scratch`` (not ``-var``: Terraform 1.0.3 parses a ``-var`` number so that
        ``floor(x) == x`` is false even for whole numbers)."""
        var_file = scratch / "case.tfvars.json"
        var_file.write_text(json.dumps(values))
        plan_file = scratch / "case.tfplan"
        self.plan(var_files=[var_file], out=plan_file, lock=False)
        return self.show_plan_json(plan_file)

    def refusal(self, values: Mapping[str, Any], scratch: Path) -> str:
        """The error of a plan with ``values`` that must fail, whitespace squashed (messages wrap)."""
        var_file = scratch / "case.tfvars.json"
        var_file.write_text(json.dumps(values))
        try:
            self.plan(var_files=[var_file], lock=False)
        except TerraformError as error:
            return " ".join(error.stderr.split())
        raise AssertionError(f"the plan with {dict(values)} succeeded")

    def show_state_json(self) -> dict[str, Any]:
        """The current state as Terraform's JSON state representation (``terraform show -json``)."""
        shown: dict[str, Any] = json.loads(self._run(["show", "-no-color", "-json"]).stdout)
        return shown

    @staticmethod
    def _var_args(variables: Mapping[str, VarValue] | None, var_files: Sequence[Path] = ()) -> list[str]:
        files = [f"-var-file={path}" for path in var_files]
        return files + [f"-var={format_var(k, v)}" for k, v in (variables or {}).items()]

    def _run(self, args: list[str], ok_codes: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, TF_IN_AUTOMATION="1", **self.env)
        result = subprocess.run(
            [str(self.binary), *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if result.returncode not in ok_codes:
            raise TerraformError(args, result.returncode, result.stdout, result.stderr)
        return result


def created_resources(plan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Resource address -> planned values of every resource a JSON plan creates (every module's)."""
    return {
        change["address"]: (change["change"].get("after") or {})
        for change in plan["resource_changes"]
        if "create" in change["change"]["actions"]
    }
