"""Fixtures for the static gates that need a local AWS (the IAM check applies each example to it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localaws.process import LocalAwsProcess


@pytest.fixture(scope="session")
def static_local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAwsProcess]:
    """A local AWS for this pytest worker's static checks; stopped at the end of the session."""
    log_path = tmp_path_factory.mktemp("localaws-static") / "localaws.log"
    with LocalAwsProcess(log_path=log_path) as process:
        yield process
