"""boto3 clients for the local AWS (test credentials, the local region, the given endpoint)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from localaws.server import REGION

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)

#: The access key id of clients that only watch (the benchmark's lock sampler): the benchmark's billing
#: meter keeps their requests apart, so the benchmark can leave them out of what a mode costs.
OBSERVER_ACCESS_KEY_ID = "observer"


def client(service: str, endpoint: str, access_key_id: str = "test") -> Any:
    """A boto3 client for ``service`` on the local AWS at ``endpoint`` (thread-safe to call, per boto3)."""
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key="test",
        region_name=REGION,
    )
    return session.client(service, endpoint_url=endpoint, config=_CONFIG)
