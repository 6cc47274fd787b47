"""Plan tests' shared fixture: the module root, copied and initialized once per module of tests.

Its provider points at a port nothing listens on: a plan that tried to call AWS would fail, which proves that
what these tests check is decided before any API call.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import workspace
from harness.terraform import Terraform
from localaws.server import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def module_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terraform]:
    workdir = workspace.prepare(
        ROOT,
        f"http://127.0.0.1:{free_port()}",
        tmp_path_factory.mktemp("plan"),
        include=("templates", "lambdas/dist"),
    )
    terraform = Terraform(workdir, timeout=120)
    terraform.init()
    yield terraform
