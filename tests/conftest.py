"""Fixtures shared by every test directory: where things are, and a fast failure when setup has not run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

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


@pytest.fixture
def moto_table() -> Iterator[Any]:
    """A DynamoDB client of an in-process moto with an empty table "t" (hash key "k", a string), for the
    tests of the local AWS's patches and the benchmark's server plugins. A test applies the patch or plugin it
    checks itself: they change moto's classes, not this client."""
    with mock_aws():
        client = boto3.client(
            "dynamodb", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client
