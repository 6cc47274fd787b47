"""CreateStateMachine and UpdateStateMachine refuse an invalid definition, as AWS does.

moto stores any definition its classic backend is given; the backend the server uses once executions run
(``moto.stepfunctions.parser.models.StepFunctionsParserBackend``) only tries to parse it, and refuses what
it cannot parse with an error whose code is empty (its ``InvalidDefinition`` sets no ``TYPE``), so neither
boto3 nor Terraform can tell it apart. A machine AWS refuses (duplicate state names across Parallel
branches, a ``Next`` out of its branch, an unknown intrinsic in a Fail path) was created and ran here.

Both actions now check the definition with ``localaws.asl`` (asl-validator plus the rules AWS enforces that
it lacks) before either backend sees the request, and refuse with AWS's error: ``InvalidDefinition``,
HTTP 400, ``Invalid State Machine Definition: '<findings, joined by ", ">'``. An update that is refused
changes nothing. A definition the validator cannot judge (it crashed) is refused too, saying so, rather
than let through unchecked. moto's own parse refusals now carry the ``InvalidDefinition`` code as well.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import AWSError
from moto.stepfunctions.parser import api as parser_api
from moto.stepfunctions.responses import StepFunctionResponse

from localaws import asl
from localaws.patches import patch


class InvalidDefinition(AWSError):
    TYPE = "InvalidDefinition"
    STATUS = 400


def check(definition: str | None) -> None:
    """Raise AWS's InvalidDefinition unless ``definition`` (None: not being changed) is valid."""
    if definition is None:
        return
    try:
        findings = asl.validate(definition)
    except asl.ValidatorError as error:
        raise InvalidDefinition(asl.refusal_message([f"localaws could not validate it: {error}"])) from error
    if findings:
        raise InvalidDefinition(asl.refusal_message(findings))


@patch
def apply() -> None:
    # A local AWS that cannot validate would accept what AWS refuses: refuse to start instead.
    asl.require_installed()
    create = StepFunctionResponse.create_state_machine
    update = StepFunctionResponse.update_state_machine

    def create_state_machine(self: StepFunctionResponse) -> Any:
        check(self._get_param("definition"))
        return create(self)

    def update_state_machine(self: StepFunctionResponse) -> Any:
        check(self._get_param("definition"))
        return update(self)

    StepFunctionResponse.create_state_machine = create_state_machine  # type: ignore[method-assign]
    StepFunctionResponse.update_state_machine = update_state_machine  # type: ignore[method-assign]
    parser_api.InvalidDefinition.TYPE = "InvalidDefinition"
