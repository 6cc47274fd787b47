"""Poll mode's acquirer Lambda (warmup_tps_limit), read from plans of the module root (no AWS: the endpoint
is a closed port): it gets the metrics settings the other functions get."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.terraform import Terraform, created_resources

GOOD = {
    "name": "ocr",
    "concurrency_limit": 3,
    "warmup_tps_limit": 2.5,
    "work_definition": json.dumps({"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}),
}
ACQUIRER = "module.acquirer[0].aws_lambda_function.this"


def _acquirer_environment(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> dict[str, str]:
    function = created_resources(terraform.planned({**GOOD, **values}, tmp_path))[ACQUIRER]
    variables: dict[str, str] = function["environment"][0]["variables"]
    return variables


def test_metrics_namespace_reaches_the_acquirer(module_root: Terraform, tmp_path: Path) -> None:
    variables = _acquirer_environment(module_root, tmp_path, {"metrics_namespace": "Team/Semaphores"})
    assert (variables["METRICS_NAMESPACE"], variables["METRICS_SEMAPHORE"]) == ("Team/Semaphores", "ocr")


def test_the_acquirer_reports_no_metrics_by_default(module_root: Terraform, tmp_path: Path) -> None:
    variables = _acquirer_environment(module_root, tmp_path, {})
    assert variables == {
        "LOCK_TABLE_NAME": "ocr-locks",
        "LOCK_ID_ATTRIBUTE": "LockName",
        "METRICS_NAMESPACE": "",
        "METRICS_SEMAPHORE": "ocr",
    }
