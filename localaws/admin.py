"""``/localaws/...`` HTTP routes for switches and counters of the local AWS, beside moto's ``/moto-api``.

- ``GET /localaws/config`` returns every section's settings; ``POST /localaws/config`` with
  ``{"SECTION": {...}}`` changes the named settings and returns the result (HTTP 400 on a bad value).
- ``GET /localaws/stats`` returns every section's counters.

A patch registers a section with ``register_section``; ``install`` wraps moto's
``DomainDispatcherApplication`` once, so the routes sit in front of every moto service and anything that does
not start with ``/localaws/`` reaches moto unchanged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

PREFIX = "/localaws/"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class InvalidConfigError(ValueError):
    """A ``POST /localaws/config`` body names an unknown section or setting, or a bad value."""


@dataclass(frozen=True)
class Section:
    """One subsystem's settings and counters."""

    get_config: Callable[[], dict[str, Any]]
    set_config: Callable[[dict[str, Any]], None]
    get_stats: Callable[[], dict[str, Any]]


_SECTIONS: dict[str, Section] = {}
_LOCK = threading.Lock()
_INSTALLED = False


def register_section(name: str, section: Section) -> None:
    with _LOCK:
        _SECTIONS[name] = section


def install() -> None:
    """Put the ``/localaws/`` routes in front of moto's dispatcher (idempotent)."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        original = DomainDispatcherApplication.__call__

        def dispatch(self: DomainDispatcherApplication, environ: dict[str, Any], start: StartResponse) -> Any:
            if str(environ.get("PATH_INFO", "")).startswith(PREFIX):
                return application(environ, start)
            return original(self, environ, start)

        DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]
        _INSTALLED = True


def application(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
    """The WSGI application behind ``/localaws/``."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    route = str(environ.get("PATH_INFO", ""))[len(PREFIX) :].strip("/")
    try:
        if route == "config" and method == "GET":
            return _reply(start, 200, _config())
        if route == "config" and method == "POST":
            _update_config(_read_json(environ))
            return _reply(start, 200, _config())
        if route == "stats" and method == "GET":
            return _reply(start, 200, _stats())
    except InvalidConfigError as error:
        return _reply(start, 400, {"error": str(error)})
    return _reply(start, 404, {"error": f"no route {method} {PREFIX}{route}"})


def _sections() -> dict[str, Section]:
    with _LOCK:
        return dict(_SECTIONS)


def _config() -> dict[str, Any]:
    return {name: section.get_config() for name, section in _sections().items()}


def _stats() -> dict[str, Any]:
    return {name: section.get_stats() for name, section in _sections().items()}


def _update_config(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidConfigError("the body must be a JSON object of sections")
    sections = _sections()
    unknown = sorted(set(body) - set(sections))
    if unknown:
        raise InvalidConfigError(f"unknown section(s) {unknown}; known: {sorted(sections)}")
    for name, values in body.items():
        if not isinstance(values, dict):
            raise InvalidConfigError(f"section {name!r} must be a JSON object")
        sections[name].set_config(values)


def _read_json(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError as error:
        raise InvalidConfigError(f"the body is not JSON: {error}") from error


def _reply(start: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found"}
    data = json.dumps(body, sort_keys=True).encode()
    start(
        f"{status} {reasons[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
