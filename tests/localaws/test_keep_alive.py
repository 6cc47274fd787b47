"""localaws.patches.keep_alive: one connection serves request after request, as AWS's endpoints do."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import localaws.patches.keep_alive as keep_alive


def _app(environ: dict[str, Any], start: Any) -> list[bytes]:
    """Answers with the client's port; reads the body only when asked to; fails when asked to."""
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("the application failed")
    body = environ["wsgi.input"].read() if path == "/echo" else b""
    payload = json.dumps({"port": environ["REMOTE_PORT"], "body": body.decode()}).encode()
    start("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [payload]


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    from werkzeug.serving import make_server

    httpd = make_server(
        "127.0.0.1", 0, _app, threaded=True, request_handler=keep_alive.KeepAliveRequestHandler
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_address[1]
    finally:
        httpd.shutdown()


def _ask(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[http.client.HTTPResponse, bytes]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response, response.read()


def test_one_connection_serves_request_after_request(server: tuple[str, int]) -> None:
    connection = http.client.HTTPConnection(*server, timeout=5)
    ports = set()
    for _ in range(3):
        response, payload = _ask(connection, "GET", "/")
        assert response.status == 200 and response.getheader("Connection") is None
        ports.add(json.loads(payload)["port"])
    assert len(ports) == 1  # the same client socket every time: nothing was reconnected


def test_a_body_the_application_left_unread_does_not_reach_the_next_request(server: tuple[str, int]) -> None:
    connection = http.client.HTTPConnection(*server, timeout=5)
    response, _ = _ask(connection, "POST", "/", body=b"GET /echo HTTP/1.1\r\n\r\n" * 50)
    assert response.status == 200
    response, payload = _ask(connection, "POST", "/echo", body=b"second")
    assert response.status == 200 and json.loads(payload)["body"] == "second"


def test_head_declares_the_length_and_sends_no_body(server: tuple[str, int]) -> None:
    connection = http.client.HTTPConnection(*server, timeout=5)
    response, payload = _ask(connection, "HEAD", "/")
    assert response.status == 200 and payload == b"" and int(response.getheader("Content-Length")) > 0
    response, payload = _ask(connection, "GET", "/")
    assert response.status == 200 and payload


def test_a_client_that_asks_to_close_gets_a_closed_connection(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):  # ends only when the server closes the connection
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b"Connection: close" in received


def test_a_failing_application_answers_500_and_closes(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=5) as raw:
        raw.sendall(b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 500") and b"Connection: close" in received


def test_the_moto_server_uses_the_keep_alive_handler() -> None:
    from moto.moto_server import threaded_moto_server

    keep_alive.apply()
    assert threaded_moto_server.MotoRequestHandler is keep_alive.KeepAliveRequestHandler
