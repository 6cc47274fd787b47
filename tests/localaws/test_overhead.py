"""localaws.patches.overhead: the emulator's own costs go, its answers stay the same."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

import localaws.patches.overhead as overhead

ITEM = {
    "k": {"S": "lock"},
    "n": {"N": "1.50"},
    "b": {"B": b"\x00\x01"},
    "bs": {"BS": [b"x", b"y"]},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "m": {"M": {"l": {"L": [{"S": "q"}, {"N": "2"}, {"M": {"y": {"B": b"zz"}}}]}, "e": {"M": {}}}},
    "queue": {
        "L": [{"M": {"id": {"S": f"arn:aws:states:::execution:m:{n}"}, "w": {"N": "1"}}} for n in range(3)]
    },
}


@pytest.fixture
def table(moto_table: Any) -> Any:
    overhead.apply()
    moto_table.put_item(TableName="t", Item=ITEM)
    return moto_table


def _read(client: Any) -> tuple[Any, Any]:
    """The item as GetItem and as an UpdateItem's ALL_NEW return it (without the counter it bumps)."""
    got = client.get_item(TableName="t", Key={"k": {"S": "lock"}}, ConsistentRead=True)["Item"]
    updated = client.update_item(
        TableName="t",
        Key={"k": {"S": "lock"}},
        UpdateExpression="ADD version :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    got.pop("version", None)
    updated.pop("version")
    return got, updated


def test_items_read_the_same_with_and_without_the_plain_value_shortcut(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _read(table)
    monkeypatch.setattr(overhead, "is_plain_attribute_value", lambda value: False)  # moto's own walk only
    slow = _read(table)
    assert fast == slow
    assert fast[0] == ITEM, "and both are the item as written, binary values included"


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"S": "x"}, True),
        ({"N": "12"}, True),
        ({"BOOL": False}, True),
        ({"SS": ["a"]}, True),
        ({"L": [{"S": "x"}, {"M": {"a": {"NULL": True}}}]}, True),
        ({"B": "AAE="}, False),
        ({"L": [{"S": "x"}, {"B": b"\x00"}]}, False),
        ({"S": "x", "N": "1"}, False),
        ({"N": 12}, False),
        ({"M": {"a": object()}}, False),
    ],
)
def test_only_values_already_in_wire_form_are_plain(value: Any, plain: bool) -> None:
    assert overhead.is_plain_attribute_value(value) is plain


DEFINITION = json.dumps(
    {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Result": {"n": 1}, "Next": "B"}, "B": {"Type": "Succeed"}},
    }
)


def test_each_definition_is_parsed_once_and_each_execution_gets_its_own_program() -> None:
    overhead.apply()
    other = DEFINITION.replace('"n": 1', '"n": 2')
    first, tree = AmazonStateLanguageParser.parse(DEFINITION)
    second, same_tree = AmazonStateLanguageParser.parse(DEFINITION)
    assert same_tree is tree, "the syntax tree is kept"
    assert second is not first, "the evaluation components are built afresh"
    assert AmazonStateLanguageParser.parse(other)[1] is not tree


def test_the_syntax_tree_cache_is_bounded() -> None:
    trees = overhead.SyntaxTrees(capacity=2)
    for name in ("a", "b", "c"):
        trees.put(name, object())
    assert len(trees) == 2 and trees.get("a") is None and trees.get("c") is not None


# --- connections kept open between requests ----------------------------------------------------------------


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

    httpd = make_server("127.0.0.1", 0, _app, threaded=True, request_handler=overhead.KeepAliveRequestHandler)
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

    overhead.apply()
    assert threaded_moto_server.MotoRequestHandler is overhead.KeepAliveRequestHandler
