"""End-to-end fixtures: one local AWS per pytest worker, and Terraform roots applied to it.

Under ``pytest -n 2 --dist loadgroup`` each worker is its own process with its own session, so each starts
its own local AWS on a free port; tests on one worker share it. Every deployment gets names unique to its
test (``unique_name``), so deployments that coexist on one local AWS never collide. Tests that share one
applied root (``scripted_limit_one``) carry ``xdist_group("scripted")`` so they run on the same worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest

from harness import aws
from harness.deployment import Deployment
from harness.executions import unique_name
from harness.localaws_admin import REAL_MINUTE, configure_events
from harness.terraform import TerraformError, VarValue
from localaws.process import LocalAwsProcess

FIXTURES = Path(__file__).resolve().parent / "fixtures"


class Deploy(Protocol):
    def __call__(self, source: Path, variables: Mapping[str, VarValue], apply: bool = True) -> Deployment: ...


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAwsProcess]:
    """The local AWS of this pytest worker; its log is localaws.log under the pytest tmp dir, each Lambda
    function's output lambda/<function name>.log beside it."""
    log_dir = tmp_path_factory.mktemp("localaws")
    with LocalAwsProcess(log_path=log_dir / "localaws.log", lambda_log_dir=log_dir / "lambda") as process:
        yield process


@pytest.fixture(scope="session")
def lambda_output(local_aws: LocalAwsProcess) -> Callable[[str], list[str]]:
    """``lambda_output(function_name)``: every line the function has printed so far (its log stream)."""

    def read(function_name: str) -> list[str]:
        assert local_aws.lambda_log_dir is not None
        path = local_aws.lambda_log_dir / f"{function_name}.log"
        return path.read_text().splitlines() if path.exists() else []

    return read


@pytest.fixture(scope="session")
def endpoint(local_aws: LocalAwsProcess) -> str:
    return local_aws.endpoint


@pytest.fixture(scope="session")
def sfn(endpoint: str) -> Any:
    return aws.client("stepfunctions", endpoint)


@pytest.fixture(scope="session")
def dynamodb(endpoint: str) -> Any:
    return aws.client("dynamodb", endpoint)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Test-only Terraform roots (tests/e2e/fixtures/)."""
    return FIXTURES


def _destroy_all(deployments: list[Deployment]) -> None:
    """Destroy every deployment (newest first); report all failures together."""
    failures = []
    for deployment in reversed(deployments):
        try:
            deployment.destroy()
        except TerraformError as error:
            failures.append(f"{deployment.source} in {deployment.workdir}:\n{error.stderr}")
    if failures:
        pytest.fail("terraform destroy failed:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture
def deploy(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deploy]:
    """Factory: ``deploy(root, variables)`` prepares, inits and applies a root; destroyed at teardown.

    With ``apply=False`` the root is only prepared and initialized (the test drives plan and apply). A failed
    destroy at teardown is reported as an error of the test.
    """
    deployments: list[Deployment] = []

    def _deploy(source: Path, variables: Mapping[str, VarValue], apply: bool = True) -> Deployment:
        deployment = Deployment.prepare(source, endpoint, tmp_path_factory.mktemp("terraform"), variables)
        deployments.append(deployment)
        if apply:
            deployment.apply()
        return deployment

    yield _deploy
    _destroy_all(deployments)


@pytest.fixture
def events_config(endpoint: str) -> Iterator[None]:
    """Puts the local AWS's events switches back as AWS behaves (no drops, real minutes) after the test."""
    yield
    configure_events(endpoint, drop=0.0, minute_seconds=REAL_MINUTE)


@pytest.fixture(scope="session")
def scripted_limit_one(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """tests/e2e/fixtures/scripted applied once with limit 1 and a 1 s acquire wait.

    The lock name comes from the execution input ("lock"), so each test using it contends on a lock of
    its own. Mark those tests ``xdist_group("scripted")`` so one worker applies it once.
    """
    deployment = Deployment.prepare(
        FIXTURES / "scripted",
        endpoint,
        tmp_path_factory.mktemp("terraform"),
        {"name": unique_name("scripted"), "concurrency_limit": 1, "acquire_wait_seconds": 1},
    )
    try:
        deployment.apply()
        yield deployment
    finally:
        _destroy_all([deployment])


@pytest.fixture
def lock_name() -> Callable[[str], str]:
    """Factory for lock names unique to this test (for roots that take the lock name from the input)."""
    return unique_name
