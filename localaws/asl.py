"""Is a state machine definition one that AWS accepts? The one way into ``asl-validator`` for this project.

``validate(definition)`` returns the findings (empty: valid) that the maintained npm validator
``asl-validator`` (pinned in package.json / package-lock.json, installed by scripts/setup.sh) reports, each
worded as the validator words it, plus the findings of the few rules below that AWS enforces and the
validator lacks (each measured against asl-validator 4.0.0; tests/localaws/test_definition_validation.py):

- **Transitions stay in their scope.** AWS: "Each branch must be self-contained. A state in one branch of a
  Parallel state must not have a Next field that targets a field outside of that branch, nor can any other
  state outside the branch transition into that branch" (Step Functions guide, state-parallel.html); a Map's
  ``ItemProcessor`` / ``Iterator`` is scoped the same way. The validator checks only transitions out of
  Parallel branches and out of a Map's ``Iterator``: a ``Next``, ``Default`` or ``Catch`` leaving an
  ``ItemProcessor``, a ``Catch`` leaving a branch from a nested Parallel or Map, and any transition *into* a
  branch pass it. Worded as AWS words an unknown target ("MISSING_TRANSITION_TARGET: Missing 'Next'
  target: pass3 at /States/pass1/Next"), not repeated where the validator already reports the same target.
- **Fail's ErrorPath and CausePath.** AWS takes a reference path or one of seven intrinsic functions there
  (state-fail.html: States.Format, JsonToString, ArrayGetItem, Base64Encode, Base64Decode, Hash, UUID); the
  validator takes any text, an unknown function included. Checked with the validator's own path grammar.
- **A state name twice in one ``States`` object.** JSON parsers keep the last of two equal names, so the
  validator never sees the first; AWS refuses such a definition (the ASL spec: "state names MUST be unique
  within the scope of the whole state machine"; awslabs/statelint#39). Reported as AWS reports a duplicate
  name ("DUPLICATE_STATE_NAME: Duplicate State name: X at /States/X", Step Functions Local).

One defect of the validator is worked around: it searches the whole document for the names ``States``,
``StartAt``, ``Next``, ``Default``, ``Branches`` and ``Iterator``, so a payload that uses one as a plain key
(``"Parameters": {"Payload": {"Next": "tomorrow"}}``, which AWS accepts) was refused as a missing
transition target or crashed it. Such keys inside payload fields are renamed in the copy the validator
sees, and the mark taken out of its findings again.

AWS refuses an invalid definition with ``InvalidDefinition`` (HTTP 400) and a message that joins its
findings: ``Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The value for the field
'outputPath.$' must be a valid JSONPath or a valid intrinsic function call at /States/TestTask/Parameters'``
(serverless-step-functions#399), several joined by ", " (localstack#12487). ``refusal_message`` builds that
text; ``localaws.patches.sfn_definitions`` raises it from CreateStateMachine and UpdateStateMachine.

The validator runs in one long-lived Node process (``asl_validator.js``), started on first use and shared
by the threads of the process: about 80 ms a definition, nearly all of it the validator compiling its JSON
schemas again on every call.

``python -m localaws.asl FILE...`` prints each file's findings and exits 1 if any file is invalid.
"""

from __future__ import annotations

import argparse
import atexit
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).with_name("asl_validator.js")
PACKAGE = ROOT / "node_modules" / "asl-validator" / "package.json"

#: What a Fail state's ErrorPath / CausePath may call besides a reference path (AWS, state-fail.html).
FAIL_PATH_INTRINSICS = frozenset(
    {
        "States.Format",
        "States.JsonToString",
        "States.ArrayGetItem",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.UUID",
    }
)

#: Fields whose value is free-form JSON (a payload), not states: the validator must not read structure there.
_PAYLOAD_FIELDS = frozenset(
    {"Parameters", "Result", "ResultSelector", "ItemSelector", "Arguments", "Output", "Assign", "BatchInput"}
)
#: The names the validator looks for anywhere in the document.
_STRUCTURE_NAMES = frozenset({"States", "StartAt", "Next", "Default", "Branches", "Iterator"})
#: Appended to such a name inside a payload (an invisible separator: no real key ends with it).
_MARK = "\u2063"
_FUNCTION = re.compile(r"\s*(States\.[A-Za-z0-9]+)\s*\(")


class ValidatorError(RuntimeError):
    """The validator could not judge a definition: Node or the package is missing, or the validator threw."""


def validate(definition: str) -> list[str]:
    """The findings for one definition (the text CreateStateMachine receives); empty when it is valid."""
    if not definition.strip():
        return ["SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object"]
    try:
        machine = json.loads(definition, object_pairs_hook=_JsonObject.of, parse_constant=_no_constant)
    except ValueError as error:
        return [f"INVALID_JSON_DESCRIPTION: {error}"]
    if not isinstance(machine, dict):
        return ["SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object"]

    fail_paths = list(_fail_paths(machine))
    answer = _validator().ask(
        {
            "definition": _hide_payload_structure(machine),
            "paths": [[check.text, check.context] for check in fail_paths if check.text is not None],
        }
    )
    findings = [finding.replace(_MARK, "") for finding in answer["findings"]]
    findings += _transitions_out_of_scope(machine, findings)
    path_results = iter(answer["paths"])
    findings += [check.finding for check in fail_paths if check.text is None or not next(path_results)]
    findings += _repeated_state_names(machine)
    return list(dict.fromkeys(findings))


def refusal_message(findings: list[str]) -> str:
    """The message of AWS's InvalidDefinition error for these findings."""
    return f"Invalid State Machine Definition: '{', '.join(findings)}'"


def require_installed() -> None:
    """Raise ValidatorError unless Node and the pinned asl-validator are installed (scripts/setup.sh)."""
    if shutil.which("node") is None:
        raise ValidatorError("node is not on PATH: asl-validator needs Node.js")
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["asl-validator"]
    try:
        installed = json.loads(PACKAGE.read_text())["version"]
    except FileNotFoundError:
        raise ValidatorError("asl-validator is not installed: run scripts/setup.sh (npm ci)") from None
    if installed != pinned:
        raise ValidatorError(
            f"asl-validator {installed} is installed, package.json pins {pinned}: run scripts/setup.sh"
        )


# -- the rules the validator lacks ------------------------------------------------------------------------
class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the names it held more than once (``json`` keeps only the last)."""

    repeated: tuple[str, ...] = ()

    @classmethod
    def of(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            repeated: list[str] = []
            for name, _ in pairs:
                if name in seen and name not in repeated:
                    repeated.append(name)
                seen.add(name)
            obj.repeated = tuple(repeated)
        return obj


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class _Scope:
    """An object with ``StartAt`` and ``States``: the machine, a Parallel branch, a Map's processor."""

    location: str  # where it is, as AWS writes a location: "" for the machine, "/States/P/Branches/0"
    body: dict[str, Any]

    @property
    def states(self) -> dict[str, Any]:
        states = self.body.get("States")
        return states if isinstance(states, dict) else {}


def _scopes(machine: dict[str, Any]) -> Iterator[_Scope]:
    pending = [_Scope("", machine)]
    while pending:
        scope = pending.pop(0)
        yield scope
        for name, state in scope.states.items():
            if not isinstance(state, dict):
                continue
            here = f"{scope.location}/States/{name}"
            branches = state.get("Branches")
            if state.get("Type") == "Parallel" and isinstance(branches, list):
                pending += [
                    _Scope(f"{here}/Branches/{i}", b) for i, b in enumerate(branches) if isinstance(b, dict)
                ]
            for processor in ("ItemProcessor", "Iterator"):
                if state.get("Type") == "Map" and isinstance(state.get(processor), dict):
                    pending.append(_Scope(f"{here}/{processor}", state[processor]))


def _targets(scope: _Scope) -> Iterator[tuple[str, Any]]:
    """Every state name a scope's StartAt and its states' transitions name, with where each is written."""
    yield f"{scope.location}/StartAt", scope.body.get("StartAt")
    for name, state in scope.states.items():
        if not isinstance(state, dict):
            continue
        here = f"{scope.location}/States/{name}"
        for field in ("Next", "Default"):
            if field in state:
                yield f"{here}/{field}", state[field]
        for field in ("Choices", "Catch"):
            rules = state.get(field)
            for i, rule in enumerate(rules if isinstance(rules, list) else []):
                if isinstance(rule, dict) and "Next" in rule:
                    yield f"{here}/{field}/{i}/Next", rule["Next"]


def _transitions_out_of_scope(machine: dict[str, Any], reported: list[str]) -> list[str]:
    scopes = list(_scopes(machine))
    everywhere = {name for scope in scopes for name in scope.states}
    findings = []
    for scope in scopes:
        for location, target in _targets(scope):
            # A name that exists nowhere, the validator reports itself; one it already reports as an
            # outbound transition is not reported twice.
            if not isinstance(target, str) or target in scope.states or target not in everywhere:
                continue
            if any(finding.endswith(f"cannot transition to target: {target}") for finding in reported):
                continue
            findings.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {location}")
    return findings


@dataclass(frozen=True)
class _PathCheck:
    """One Fail state path, checked by the validator's path grammar in ``context``."""

    text: str | None  # None: invalid whatever the grammar says
    context: str  # an asl-path-validator context: "reference_path" or "payload_template"
    finding: str  # what to report when it is not valid


def _fail_paths(machine: dict[str, Any]) -> Iterator[_PathCheck]:
    for scope in _scopes(machine):
        for name, state in scope.states.items():
            if not isinstance(state, dict) or state.get("Type") != "Fail":
                continue
            for field in ("ErrorPath", "CausePath"):
                text = state.get(field)
                if not isinstance(text, str):
                    continue  # absent, or the validator's schema already refuses its type
                where = f"{scope.location}/States/{name}/{field}"
                # AWS's words for a bad Fail path were not found; these follow its words for a ".$" field.
                invalid = (
                    f"SCHEMA_VALIDATION_FAILED: The value for the field '{field}' must be a valid JSONPath "
                    f"or a valid intrinsic function call at {where}"
                )
                function = _FUNCTION.match(text)
                if function is None:
                    yield _PathCheck(text, "reference_path", invalid)
                elif function.group(1) in FAIL_PATH_INTRINSICS:
                    # A payload template is a path or an intrinsic call: the grammar checks the whole call.
                    yield _PathCheck(text, "payload_template", invalid)
                else:
                    allowed = ", ".join(sorted(FAIL_PATH_INTRINSICS))
                    yield _PathCheck(
                        None,
                        "",
                        f"SCHEMA_VALIDATION_FAILED: The field '{field}' does not support the intrinsic "
                        f"function {function.group(1)} (only {allowed}) at {where}",
                    )


def _repeated_state_names(machine: dict[str, Any]) -> list[str]:
    return [
        f"DUPLICATE_STATE_NAME: Duplicate State name: {name} at {scope.location}/States/{name}"
        for scope in _scopes(machine)
        if isinstance(scope.body.get("States"), _JsonObject)
        for name in scope.body["States"].repeated
    ]


# -- the validator's view of the definition --------------------------------------------------------------
def _hide_payload_structure(value: Any) -> Any:
    """The definition with ``_STRUCTURE_NAMES`` keys inside payload fields marked (see the module doc)."""
    if isinstance(value, dict):
        return {
            k: _marked(v) if k in _PAYLOAD_FIELDS else _hide_payload_structure(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hide_payload_structure(v) for v in value]
    return value


def _marked(value: Any) -> Any:
    if isinstance(value, dict):
        # "Next" beside "Next.$" stays visible: the validator's duplicate-field check must see both.
        return {
            (k + _MARK if k in _STRUCTURE_NAMES and f"{k}.$" not in value else k): _marked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value


# -- the Node process ---------------------------------------------------------------------------------------
class _Validator:
    """One ``node asl_validator.js`` for this process, asked one definition at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        line = json.dumps(request) + "\n"
        with self._lock:
            for _ in range(2):  # a process that died (killed, out of memory) is started again once
                process = self._running()
                stdin, stdout = _pipes(process)
                try:
                    stdin.write(line)
                    stdin.flush()
                    reply = stdout.readline()
                except OSError:
                    reply = ""
                if reply:
                    answer: dict[str, Any] = json.loads(reply)
                    if "crash" in answer:
                        raise ValidatorError(f"asl-validator failed on this definition: {answer['crash']}")
                    return answer
                self.close()
        raise ValidatorError("the asl-validator process exited without answering (see its stderr)")

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            require_installed()
            self._process = subprocess.Popen(
                ["node", str(DRIVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        return self._process


def _pipes(process: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    assert process.stdin is not None and process.stdout is not None
    return process.stdin, process.stdout


_shared: _Validator | None = None
_shared_lock = threading.Lock()


def _validator() -> _Validator:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _Validator()
            atexit.register(_shared.close)
        return _shared


# -- command line -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localaws.asl",
        description="Validate state machine definitions as the local AWS does (asl-validator + AWS's rules).",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a definition (JSON)")
    args = parser.parse_args(argv)
    invalid = 0
    for file in args.files:
        try:
            findings = validate(file.read_text())
        except (OSError, ValidatorError) as error:
            print(f"{file}: {error}", file=sys.stderr)
            return 2
        print(f"{file}: {'invalid' if findings else 'valid'}")
        for finding in findings:
            print(f"  {finding}")
        invalid += bool(findings)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
