"""The sweeper's pure helpers: acquiredAt parsing, execution ARN to state machine, status classification."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from sweeper.executions import State, execution_state, state_machine_of
from sweeper.timestamps import parse_timestamp_ms

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20Z", T0),
        ("2023-11-14T22:13:20.000Z", T0),
        ("2023-11-14T22:13:20.123Z", T0 + 123),
        ("2023-11-14T22:13:20.1Z", T0 + 100),
        ("2023-11-14T22:13:20.123456+00:00", T0 + 123),
        ("2023-11-14T22:13:20.123456789+00:00", T0 + 123),
        ("2023-11-14 22:13:20+00:00", T0),
        ("2023-11-14T23:13:20+01:00", T0),
        ("2023-11-14T21:43:20-0030", T0),
        ("2023-11-14T22:13:20z", T0),
    ],
)
def test_acquired_at_parses_in_every_format_writers_use(text: str, expected: int) -> None:
    assert parse_timestamp_ms(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2023-11-14T22:13:20",
        "2023-11-14",
        "yesterday",
        "",
        "2023-13-40T22:13:20Z",
        "2023-11-14T22:13:20+25:00",
        None,
        17,
    ],
)
def test_a_time_without_a_zone_or_not_a_time_has_no_age(text: Any) -> None:
    assert parse_timestamp_ms(text) is None


def test_the_state_machine_of_an_execution() -> None:
    assert (
        state_machine_of("arn:aws-cn:states:cn-north-1:123456789012:execution:orders-db:run-1")
        == "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:orders-db"
    )
    assert (
        state_machine_of("arn:aws:states:us-east-1:123456789012:express:orders-db:run-1:ab12")
        == "arn:aws:states:us-east-1:123456789012:stateMachine:orders-db"
    )
    assert state_machine_of("arn:aws:states:us-east-1:123456789012:stateMachine:orders-db") is None
    assert state_machine_of("arn:garbage") is None


class _Sfn:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def describe_execution(self, **kwargs: Any) -> dict[str, Any]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return {"status": self.answer}


ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e1"


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "DescribeExecution")


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ("RUNNING", State.RUNNING),
        ("PENDING_REDRIVE", State.RUNNING),
        ("SUCCEEDED", State.ENDED),
        ("FAILED", State.ENDED),
        ("TIMED_OUT", State.ENDED),
        ("ABORTED", State.ENDED),
        ("", State.UNKNOWN),
        (_client_error("ExecutionDoesNotExist"), State.GONE),
        (_client_error("ThrottlingException"), State.UNKNOWN),
        (_client_error("AccessDeniedException"), State.UNKNOWN),
        (EndpointConnectionError(endpoint_url="https://states"), State.UNKNOWN),
    ],
)
def test_execution_states(answer: Any, state: State) -> None:
    assert execution_state(_Sfn(answer), ARN).state is state


def test_express_executions_and_non_execution_arns_are_unknown_without_a_call() -> None:
    never = _Sfn(AssertionError("DescribeExecution must not be called"))
    express = "arn:aws:states:us-east-1:123456789012:express:m:run-1:ab12"
    assert execution_state(never, express).state is State.UNKNOWN
    assert (
        execution_state(never, "arn:aws:states:us-east-1:123456789012:stateMachine:m").state is State.UNKNOWN
    )
