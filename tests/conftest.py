"""Fixtures shared by every test directory: where things are, and a fast failure when setup has not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.terraform import TERRAFORM

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    if not TERRAFORM.exists():
        raise pytest.UsageError(f"{TERRAFORM} is missing: run `make setup` first")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root, which is also the Terraform module under test."""
    return ROOT


@pytest.fixture(scope="session")
def examples_dir(repo_root: Path) -> Path:
    return repo_root / "examples"
