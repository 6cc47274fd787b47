"""The local AWS runs a deployed Lambda function's real handler, warm, and reports failures as AWS does.

One server for the module (``localaws.process``), functions deployed from zips built here, and the effects
checked where they land: DynamoDB items written by handlers, Step Functions histories, worker processes.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import subprocess
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from localaws.lambda_environment import FunctionSpec
from localaws.lambda_pool import LambdaRuntime
from localaws.process import LocalAwsProcess

pytestmark = pytest.mark.xdist_group("localaws-lambda")

REGION = "us-east-1"

BASIC_PY = """
import os
import time

MARK = "{mark}"
INVOCATIONS = 0


class MyCustomError(Exception):
    pass


def count(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    print("counted", INVOCATIONS, "marker", event.get("marker"))
    return {{"count": INVOCATIONS, "pid": os.getpid(), "mark": MARK}}


def describe(event, context):
    return {{
        "env": dict(os.environ),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "cwd": os.getcwd(),
    }}


def fail(event, context):
    raise MyCustomError(f"no slot for {{event.get('id')}}")


def nap(event, context):
    started = time.time()
    pid_dir = os.environ.get("PID_DIR")
    if pid_dir:
        with open(os.path.join(pid_dir, event["id"]), "w") as out:
            out.write(str(os.getpid()))
    time.sleep(event.get("seconds", 0))
    return {{"id": event.get("id"), "pid": os.getpid(), "start": started, "end": time.time()}}
"""

STORE_PY = """
import json
import os

import boto3

DYNAMODB = boto3.client("dynamodb")


def put(event, context):
    item = {"pk": {"S": event["id"]}, "request_id": {"S": context.aws_request_id}}
    if "token" in event:
        item["token"] = {"S": event["token"]}
    DYNAMODB.put_item(TableName=os.environ["TABLE_NAME"], Item=item)
    return {"stored": event["id"]}


def grant_now(event, context):
    boto3.client("stepfunctions").send_task_success(
        taskToken=event["token"], output=json.dumps({"granted": event["id"]})
    )
    return {"sent": True}
"""


def bundle(mark: str = "v1") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/__init__.py", "")
        archive.writestr("handlers/basic.py", textwrap.dedent(BASIC_PY.format(mark=mark)))
        archive.writestr("handlers/store.py", textwrap.dedent(STORE_PY))
    return buffer.getvalue()


class Aws:
    """Clients for one local AWS plus the helpers the tests share."""

    def __init__(self, server: LocalAwsProcess, log_dir: Path) -> None:
        self.server = server
        self.endpoint = server.endpoint
        self.log_dir = log_dir
        self.pids: set[int] = set()
        kwargs: dict[str, Any] = {
            "endpoint_url": server.endpoint,
            "region_name": REGION,
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        self.lambda_ = boto3.client("lambda", **kwargs)
        self.dynamodb = boto3.client("dynamodb", **kwargs)
        self.sfn = boto3.client("stepfunctions", **kwargs)
        iam = boto3.client("iam", **kwargs)
        self.role = iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")[
            "Role"
        ]["Arn"]
        self.table = f"items-{uuid.uuid4().hex[:8]}"
        self.dynamodb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def function(
        self, handler: str, timeout: int = 10, env: dict[str, str] | None = None, **extra: Any
    ) -> str:
        name = f"fn-{handler.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:8]}"
        variables = {"TABLE_NAME": self.table, **(env or {})}
        return str(
            self.lambda_.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=self.role,
                Handler=handler,
                Code={"ZipFile": bundle()},
                Timeout=timeout,
                MemorySize=256,
                Environment={"Variables": variables},
                **extra,
            )["FunctionArn"]
        )

    def invoke(self, function: str, payload: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        response = self.lambda_.invoke(FunctionName=function, Payload=json.dumps(payload or {}), **extra)
        body = response["Payload"].read()
        response["Body"] = json.loads(body) if body else None
        if isinstance(response["Body"], dict) and "pid" in response["Body"]:
            self.pids.add(response["Body"]["pid"])
        return dict(response)

    def item(self, key: str) -> dict[str, Any] | None:
        found = self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        item: dict[str, Any] | None = found.get("Item")
        return item

    def token(self, key: str) -> str:
        """The task token a parking handler stored under ``key``."""
        item = self.item(key)
        assert item is not None, f"no item {key}"
        return str(item["token"]["S"])

    def state_machine(self, definition: dict[str, Any]) -> str:
        return str(
            self.sfn.create_state_machine(
                name=f"sm-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=self.role
            )["stateMachineArn"]
        )

    def start(self, machine: str, payload: dict[str, Any]) -> str:
        execution = self.sfn.start_execution(
            stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps(payload)
        )
        return str(execution["executionArn"])

    def finish(self, execution: str, timeout: float = 20) -> dict[str, Any]:
        def done() -> bool:
            return bool(self.sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")

        assert wait_until(done, timeout), f"{execution} still running after {timeout} s"
        return dict(self.sfn.describe_execution(executionArn=execution))

    def history(self, execution: str) -> list[dict[str, Any]]:
        return list(self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"])


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def running(pids: set[int]) -> set[int]:
    """The pids of ``pids`` that ps still shows as live (not zombie) processes."""
    if not pids:
        return set()
    listed = subprocess.run(
        ["ps", "-o", "pid=,stat=", "-p", ",".join(map(str, sorted(pids)))], capture_output=True, text=True
    ).stdout
    return {
        int(pid) for pid, stat in (line.split() for line in listed.splitlines()) if not stat.startswith("Z")
    }


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    log_dir = tmp_path_factory.mktemp("lambda-logs")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCALAWS_LAMBDA_LOG_DIR", str(log_dir))
        server = LocalAwsProcess(log_path=log_dir / "server.log").start()
    try:
        state = Aws(server, log_dir)
        yield state
    finally:
        server.stop()
    assert wait_until(lambda: not running(state.pids), 5), f"workers left behind: {running(state.pids)}"


def test_handler_writes_to_dynamodb_through_the_local_endpoint(aws: Aws) -> None:
    function = aws.function("handlers.store.put")

    response = aws.invoke(function, {"id": "written-by-handler"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["Body"] == {"stored": "written-by-handler"}
    item = aws.item("written-by-handler")
    assert item is not None
    assert item["request_id"]["S"]


def test_handler_sees_its_environment_and_context(aws: Aws) -> None:
    function = aws.function("handlers.basic.describe", timeout=7, env={"LOCK_NAME": "ocr"})

    body = aws.invoke(function)["Body"]

    env = body["env"]
    name = function.rsplit(":", 1)[-1]
    assert env["LOCK_NAME"] == "ocr"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert body["function_name"] == name
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == function
    assert body["memory_limit_in_mb"] == "256"
    assert body["log_group_name"] == f"/aws/lambda/{name}"
    assert body["aws_request_id"]
    assert 5000 < body["remaining_ms"] <= 7000
    assert env["LAMBDA_TASK_ROOT"] == body["cwd"]


def test_handler_exception_is_reported_with_its_class_name(aws: Aws) -> None:
    function = aws.function("handlers.basic.fail")

    response = aws.invoke(function, {"id": "job-7"})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"
    assert response["Body"]["errorType"] == "MyCustomError"
    assert response["Body"]["errorMessage"] == "no slot for job-7"
    assert any("basic.py" in frame and "in fail" in frame for frame in response["Body"]["stackTrace"])


def test_init_failure_is_reported_as_the_runtime_does(aws: Aws) -> None:
    function = aws.function("handlers.missing.handler")

    response = aws.invoke(function)

    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Runtime.ImportModuleError"
    assert "handlers.missing" in response["Body"]["errorMessage"]


def test_timeout_kills_the_handler_and_reports_sandbox_timedout(aws: Aws) -> None:
    function = aws.function("handlers.basic.nap", timeout=1)
    first_pid = aws.invoke(function, {"id": "quick"})["Body"]["pid"]

    started = time.monotonic()
    response = aws.invoke(function, {"id": "slow", "seconds": 4})
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Sandbox.Timedout"
    assert response["Body"]["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert 1.0 <= elapsed < 3.0
    assert not running({first_pid}), "the timed-out environment must be killed"
    assert aws.invoke(function, {"id": "after"})["Body"]["pid"] != first_pid


def test_environment_stays_warm_until_code_or_configuration_changes(aws: Aws) -> None:
    function = aws.function("handlers.basic.count")

    warm = [aws.invoke(function)["Body"] for _ in range(3)]
    assert [b["count"] for b in warm] == [1, 2, 3]
    assert len({b["pid"] for b in warm}) == 1

    aws.lambda_.update_function_code(FunctionName=function, ZipFile=bundle(mark="v2"))
    after_code = aws.invoke(function)["Body"]
    assert (after_code["count"], after_code["mark"]) == (1, "v2")
    assert after_code["pid"] != warm[0]["pid"]
    assert aws.invoke(function)["Body"]["count"] == 2

    aws.lambda_.update_function_configuration(FunctionName=function, Environment={"Variables": {"X": "1"}})
    after_config = aws.invoke(function)["Body"]
    assert after_config["count"] == 1
    assert after_config["pid"] != after_code["pid"]
    assert wait_until(lambda: not running({warm[0]["pid"], after_code["pid"]}), 5)


def test_deleting_a_function_stops_its_environments(aws: Aws) -> None:
    function = aws.function("handlers.basic.count")
    pid = aws.invoke(function)["Body"]["pid"]

    aws.lambda_.delete_function(FunctionName=function)

    assert wait_until(lambda: not running({pid}), 5)


def test_idle_environments_are_reclaimed_and_the_next_call_is_cold(tmp_path: Path) -> None:
    spec = FunctionSpec(
        function_name="idle",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:idle",
        version="$LATEST",
        region=REGION,
        handler="handlers.basic.count",
        runtime="python3.12",
        code_sha256="idle-test",
        timeout_seconds=3,
        memory_mb=128,
        environment=(),
        revision="1",
        code_zip=bundle(),
    )
    runtime = LambdaRuntime(
        tmp_path / "work", lambda: "http://127.0.0.1:9", tmp_path / "logs", idle_seconds=0.3
    )
    try:
        first = json.loads(runtime.invoke(spec, 2, "r1", b"{}", spec.function_arn).payload)
        again = json.loads(runtime.invoke(spec, 2, "r2", b"{}", spec.function_arn).payload)
        assert (again["count"], again["pid"]) == (2, first["pid"])

        assert wait_until(lambda: not running({first["pid"]}), 5), "the idle environment was not reclaimed"
        cold = runtime.invoke(spec, 2, "r3", b"{}", spec.function_arn)
        assert cold.init_ms is not None
        assert json.loads(cold.payload)["count"] == 1
    finally:
        runtime.shutdown()
    assert not (tmp_path / "work").exists()


def test_a_published_version_runs_with_its_qualifier(aws: Aws) -> None:
    function = aws.function("handlers.basic.describe")
    version = aws.lambda_.publish_version(FunctionName=function)["Version"]

    body = aws.invoke(function, Qualifier=version)["Body"]

    assert body["function_version"] == version
    assert body["invoked_function_arn"] == f"{function}:{version}"
    unqualified = aws.invoke(function, {"qualifier": "no-such-version"})["Body"]
    assert unqualified["function_version"] == "$LATEST"


def test_handler_output_goes_to_the_function_log_file(aws: Aws) -> None:
    function = aws.function("handlers.basic.count")
    marker = uuid.uuid4().hex

    aws.invoke(function, {"marker": marker})

    log = aws.log_dir / f"{function.rsplit(':', 1)[-1]}.log"
    assert wait_until(lambda: log.exists() and marker in log.read_text(), 5)
    assert marker not in (aws.log_dir / "server.log").read_text()


def test_concurrent_invocations_run_in_parallel_environments(aws: Aws) -> None:
    function = aws.function("handlers.basic.nap")
    ids = [f"call-{i}" for i in range(4)]

    with ThreadPoolExecutor(len(ids)) as pool:
        bodies = list(pool.map(lambda i: aws.invoke(function, {"id": i, "seconds": 0.8})["Body"], ids))

    assert [b["id"] for b in bodies] == ids
    assert len({b["pid"] for b in bodies}) == len(ids)
    overlap = min(b["end"] for b in bodies) - max(b["start"] for b in bodies)
    assert overlap > 0.4, f"handlers overlapped for only {overlap:.2f} s"


def test_reserved_concurrency_bounds_the_environments_and_queues_the_rest(aws: Aws) -> None:
    function = aws.function("handlers.basic.nap")
    aws.lambda_.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    ids = [f"queued-{i}" for i in range(3)]

    with ThreadPoolExecutor(len(ids)) as pool:
        bodies = list(pool.map(lambda i: aws.invoke(function, {"id": i, "seconds": 0.2})["Body"], ids))

    assert sorted(b["id"] for b in bodies) == ids
    assert len({b["pid"] for b in bodies}) == 1
    spans = sorted((b["start"], b["end"]) for b in bodies)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))

    aws.lambda_.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    with pytest.raises(aws.lambda_.exceptions.TooManyRequestsException):
        aws.invoke(function, {"id": "throttled"})


def test_event_invocation_runs_in_the_background_and_dry_run_runs_nothing(aws: Aws) -> None:
    store = aws.function("handlers.store.put")
    counter = aws.function("handlers.basic.count")

    queued = aws.lambda_.invoke(
        FunctionName=store, InvocationType="Event", Payload=json.dumps({"id": "async"})
    )
    dry = aws.lambda_.invoke(FunctionName=counter, InvocationType="DryRun", Payload="{}")

    assert queued["StatusCode"] == 202
    assert wait_until(lambda: aws.item("async") is not None, 10)
    assert dry["StatusCode"] == 204
    assert aws.invoke(counter)["Body"]["count"] == 1


def test_step_functions_catch_and_retry_match_the_handler_error_name(aws: Aws) -> None:
    failing = aws.function("handlers.basic.fail")
    to_wrong = {"ErrorEquals": ["States.ALL"], "ResultPath": "$.wrong", "Next": "Wrong"}
    machine = aws.state_machine(
        {
            "StartAt": "Integration",
            "States": {
                "Integration": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": failing, "Payload": {"id.$": "$.id"}},
                    "Retry": [
                        {
                            "ErrorEquals": ["MyCustomError"],
                            "IntervalSeconds": 1,
                            "MaxAttempts": 1,
                            "BackoffRate": 1,
                        }
                    ],
                    "Catch": [
                        {"ErrorEquals": ["MyCustomError"], "ResultPath": "$.integration", "Next": "PlainArn"},
                        to_wrong,
                    ],
                    "End": True,
                },
                "PlainArn": {
                    "Type": "Task",
                    "Resource": failing,
                    "Catch": [
                        {"ErrorEquals": ["MyCustomError"], "ResultPath": "$.plain", "Next": "Done"},
                        to_wrong,
                    ],
                    "End": True,
                },
                "Done": {"Type": "Succeed"},
                "Wrong": {"Type": "Fail", "Error": "WrongCatch"},
            },
        }
    )

    execution = aws.start(machine, {"id": "job-9"})
    described = aws.finish(execution)

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    for caught in (output["integration"], output["plain"]):
        assert caught["Error"] == "MyCustomError"
        cause = json.loads(caught["Cause"])
        assert (cause["errorType"], cause["errorMessage"]) == ("MyCustomError", "no slot for job-9")
    events = aws.history(execution)
    task_failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in task_failures] == ["MyCustomError", "MyCustomError"], (
        "one retry, then the catch"
    )
    lambda_failures = [
        e["lambdaFunctionFailedEventDetails"] for e in events if e["type"] == "LambdaFunctionFailed"
    ]
    assert [f["error"] for f in lambda_failures] == ["MyCustomError"]


def token_task(function: str, **timeouts: int) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": function, "Payload": {"id.$": "$.id", "token.$": "$$.Task.Token"}},
        **timeouts,
    }


def catching_token_machine(aws: Aws, function: str) -> str:
    task = token_task(function, TimeoutSeconds=60, HeartbeatSeconds=30)
    task["Catch"] = [{"ErrorEquals": ["MyCustomError"], "ResultPath": "$.failure", "Next": "Refused"}]
    task["End"] = True
    return aws.state_machine(
        {"StartAt": "Park", "States": {"Park": task, "Refused": {"Type": "Pass", "End": True}}}
    )


def test_wait_for_task_token_resumes_on_send_task_success_and_failure(aws: Aws) -> None:
    machine = catching_token_machine(aws, aws.function("handlers.store.put"))
    failing = catching_token_machine(aws, aws.function("handlers.basic.fail"))

    granted = aws.start(machine, {"id": "waiter-1"})
    refused = aws.start(machine, {"id": "waiter-2"})
    crashed = aws.start(failing, {"id": "waiter-3"})
    assert wait_until(lambda: aws.item("waiter-1") and aws.item("waiter-2"), 15), (
        "the handler never stored its token"
    )
    assert aws.sfn.describe_execution(executionArn=granted)["status"] == "RUNNING"
    aws.sfn.send_task_success(taskToken=aws.token("waiter-1"), output=json.dumps({"granted": True}))
    aws.sfn.send_task_failure(taskToken=aws.token("waiter-2"), error="MyCustomError", cause="full")

    succeeded = aws.finish(granted)
    assert succeeded["status"] == "SUCCEEDED"
    assert json.loads(succeeded["output"]) == {"granted": True}
    caught = aws.finish(refused)
    assert caught["status"] == "SUCCEEDED"
    assert json.loads(caught["output"])["failure"]["Error"] == "MyCustomError"
    handler_failure = json.loads(aws.finish(crashed)["output"])["failure"]
    assert handler_failure["Error"] == "MyCustomError", "a failing handler fails the task by its errorType"
    assert json.loads(handler_failure["Cause"])["errorMessage"] == "no slot for waiter-3"


def test_wait_for_task_token_sees_a_callback_sent_during_the_invoke(aws: Aws) -> None:
    grant = aws.function("handlers.store.grant_now")
    task = token_task(grant, TimeoutSeconds=30, HeartbeatSeconds=5)
    task["End"] = True
    machine = aws.state_machine({"StartAt": "Grant", "States": {"Grant": task}})

    described = aws.finish(aws.start(machine, {"id": "instant"}))

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"granted": "instant"}
    assert (described["stopDate"] - described["startDate"]).total_seconds() < 5


def test_wait_for_task_token_still_times_out(aws: Aws) -> None:
    park = aws.function("handlers.store.put")
    catch_timeouts = [
        {
            "ErrorEquals": ["States.Timeout", "States.HeartbeatTimeout"],
            "ResultPath": "$.timeout",
            "Next": "Late",
        }
    ]
    machine = aws.state_machine(
        {
            "StartAt": "Route",
            "States": {
                "Route": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.heartbeat", "BooleanEquals": True, "Next": "Heartbeat"}],
                    "Default": "Timeout",
                },
                "Timeout": {**token_task(park, TimeoutSeconds=1), "Catch": catch_timeouts, "End": True},
                "Heartbeat": {
                    **token_task(park, TimeoutSeconds=30, HeartbeatSeconds=1),
                    "Catch": catch_timeouts,
                    "End": True,
                },
                "Late": {"Type": "Pass", "End": True},
            },
        }
    )

    executions = [aws.start(machine, {"id": f"late-{kind}", "heartbeat": kind}) for kind in (False, True)]

    for execution in executions:
        described = aws.finish(execution, timeout=15)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"])["timeout"]["Error"] in (
            "States.Timeout",
            "States.HeartbeatTimeout",
        )
        assert (described["stopDate"] - described["startDate"]).total_seconds() < 10


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_no_worker_outlives_the_server(tmp_path: Path, how: str) -> None:
    server = LocalAwsProcess(log_path=tmp_path / "server.log").start()
    workers: set[int] = set()
    try:
        aws = Aws(server, tmp_path)
        function = aws.function("handlers.basic.nap", timeout=60, env={"PID_DIR": str(tmp_path)})
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda i: aws.invoke(function, {"id": f"idle-{i}", "seconds": 0.3}), range(2)))
        aws.lambda_.invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps({"id": "busy", "seconds": 60})
        )
        assert wait_until(lambda: (tmp_path / "busy").exists() and (tmp_path / "busy").read_text(), 10)
        workers = {int((tmp_path / name).read_text()) for name in ("idle-0", "idle-1", "busy")}
        assert running(workers) == workers
    finally:
        if how == "kill" and server._proc is not None:
            os.kill(server._proc.pid, signal.SIGKILL)
        server.stop()

    assert wait_until(lambda: not running(workers), 5), f"workers left behind: {running(workers)}"
