"""The optimized ``states:startExecution`` integration (patch ``sfn_start_execution``): a task starts another
execution with the API's parameters and returns AWS's PascalCase response, as examples/stream-relay relies on.
Without the patch the task fails with States.Runtime (moto hands ``StateMachineArn`` to boto3 unmapped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from harness import aws as clients
from harness.executions import unique_name, wait_for_executions
from localaws.process import LocalAwsProcess

ROLE = "arn:aws:iam::123456789012:role/relay"


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with LocalAwsProcess(log_path=tmp_path_factory.mktemp("localaws-start") / "server.log") as process:
        yield clients.client("stepfunctions", process.endpoint)


def test_a_task_starts_an_execution_and_gets_its_arn(sfn: Any) -> None:
    child = sfn.create_state_machine(
        name=unique_name("child"),
        roleArn=ROLE,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    parent = sfn.create_state_machine(
        name=unique_name("parent"),
        roleArn=ROLE,
        definition=json.dumps(
            {
                "StartAt": "Start child",
                "States": {
                    "Start child": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::states:startExecution",
                        "Parameters": {"StateMachineArn": child, "Name.$": "$.name", "Input": {"n": 1}},
                        "End": True,
                    }
                },
            }
        ),
    )["stateMachineArn"]
    name = unique_name("relay")
    run = sfn.start_execution(stateMachineArn=parent, name=unique_name("p"), input=json.dumps({"name": name}))
    result = wait_for_executions(sfn, [run["executionArn"]], timeout=30)[run["executionArn"]]
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    started = child.replace(":stateMachine:", ":execution:") + f":{name}"
    assert output["ExecutionArn"] == started and isinstance(output["StartDate"], int)
    assert json.loads(sfn.describe_execution(executionArn=started)["input"]) == {"n": 1}
