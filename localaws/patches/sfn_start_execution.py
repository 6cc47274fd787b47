"""The optimized ``states:startExecution`` integration maps its parameters onto the API, as on AWS.

moto's copy of LocalStack's interpreter stubs ``StateTaskService._normalise_parameters`` and
``_normalise_response`` (they do nothing), so a ``arn:aws:states:::states:startExecution`` task hands its
PascalCase parameters (``StateMachineArn``, ``Name``, ``Input``) straight to a boto3 client that expects
``stateMachineArn``, ``name``, ``input``: botocore fails with ``KeyError('StateMachineArn')`` and the task
fails with States.Runtime. This maps the parameters onto the API's shape and the response back to
PascalCase (``ExecutionArn``, ``StartDate``), as AWS and LocalStack do. examples/stream-relay starts its
successor this way.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore import xform_name
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn

from localaws.patches import patch

_MODEL = botocore.session.get_session().get_service_model("stepfunctions")


def _operation(task: Any, service_action_name: str | None) -> Any:
    """The botocore operation model of the task's action (start_execution, describe_execution, ...)."""
    action = task._get_boto_service_action(service_action_name)
    by_snake_name = {xform_name(name): name for name in _MODEL.operation_names}
    name = by_snake_name.get(action)
    return _MODEL.operation_model(name) if name else None


@patch
def apply() -> None:
    task_class = state_task_service_sfn.StateTaskServiceSfn
    original_parameters = task_class._normalise_parameters

    def normalise_parameters(
        self: Any, parameters: dict, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        original_parameters(self, parameters, boto_service_name, service_action_name)
        operation = _operation(self, service_action_name)
        if operation is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def normalise_response(
        self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        operation = _operation(self, service_action_name)
        if operation is not None:
            self._from_boto_response(response, operation.output_shape)
        if isinstance(response, dict):
            for key, value in list(response.items()):
                if hasattr(value, "timestamp"):
                    response[key] = int(value.timestamp() * 1000)

    task_class._normalise_parameters = normalise_parameters
    task_class._normalise_response = normalise_response
