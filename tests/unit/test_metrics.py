"""The Lambdas' metrics as CloudWatch Embedded Metric Format lines: the shape, and off by default."""

from __future__ import annotations

import json

import pytest
from semaphore_core import metrics

ON = {metrics.NAMESPACE_ENV: "SfnSemaphore", metrics.SEMAPHORE_ENV: "orders-db"}


def test_a_document_declares_every_count_as_a_metric_of_the_one_dimension() -> None:
    document = metrics.emf_document(
        "SfnSemaphore", "orders-db", {"Resumes": 2, "Queued": 0}, 1_700_000_000_123, {"lockName": "L"}
    )
    assert document == {
        "lockName": "L",
        "_aws": {
            "Timestamp": 1_700_000_000_123,
            "CloudWatchMetrics": [
                {
                    "Namespace": "SfnSemaphore",
                    "Dimensions": [["Semaphore"]],
                    "Metrics": [{"Name": "Resumes", "Unit": "Count"}, {"Name": "Queued", "Unit": "Count"}],
                }
            ],
        },
        "Semaphore": "orders-db",
        "Resumes": 2,
        "Queued": 0,
    }


def test_emit_prints_one_compact_json_line_when_a_namespace_is_set() -> None:
    lines: list[str] = []
    document = metrics.emit({"Releases": 1}, environ=ON, clock=lambda: 42, write=lines.append)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert json.loads(lines[0]) == document
    assert document is not None and document["Releases"] == 1 and document["Semaphore"] == "orders-db"


@pytest.mark.parametrize("environ", [{}, {metrics.NAMESPACE_ENV: ""}], ids=["unset", "empty"])
def test_emit_prints_nothing_without_a_namespace(environ: dict[str, str]) -> None:
    lines: list[str] = []
    assert metrics.emit({"Releases": 1}, environ=environ, write=lines.append) is None
    assert lines == []


@pytest.mark.parametrize(
    ("counts", "properties"),
    [
        ({}, None),
        (dict.fromkeys(map(str, range(101)), 1), None),
        ({"Semaphore": 1}, None),
        ({"L": 1}, {"L": 2}),
    ],
    ids=["none", "over-100", "dimension-name", "property-name"],
)
def test_documents_cloudwatch_would_reject_or_misread_are_refused(
    counts: dict[str, int], properties: dict[str, object] | None
) -> None:
    with pytest.raises(ValueError):
        metrics.emf_document("N", "S", counts, 0, properties)
