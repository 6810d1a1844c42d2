"""The runner's HTTP front door (uvicorn) in front of a stand-in gateway: what reaches the
gateway, and what the front door answers by itself."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from local_runner.gateway import MAX_PAYLOAD_BYTES, GatewayFailure, HttpResponse
from local_runner.server import REQUEST_TIMEOUT_SECONDS, LocalHttpServer, make_server
from tools.runner_client import ROOT


class StandInApi:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.refused: list[str] = []

    def handle(self, **request: Any) -> HttpResponse:
        self.seen.append(request)
        return HttpResponse(201, [("Location", "/users/1"), ("Content-Type", "application/json")], b'{"ok": true}')

    def refuse(self, failure: GatewayFailure, headers: list[tuple[str, str]]) -> HttpResponse:
        self.refused.append(failure.response_type)
        return HttpResponse(413, [("Content-Type", "application/json")], b'{"refused": true}')


@contextmanager
def serving(**limits: float) -> Iterator[tuple[LocalHttpServer, StandInApi]]:
    api = StandInApi()
    server = make_server(SimpleNamespace(api=api), "127.0.0.1", 0, **limits)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, api
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def front() -> Iterator[tuple[LocalHttpServer, StandInApi]]:
    with serving() as served:
        yield served


def connect(server: LocalHttpServer) -> http.client.HTTPConnection:
    """The socket listens from make_server on: a connection waits in its backlog until uvicorn serves."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.connect()
    return connection


def answer_until_closed(client: socket.socket) -> str:
    """Everything the server sends before it closes the connection (its head and body may come in
    separate writes); a reset after the answer, for what it left unread, ends it too."""
    answer = b""
    try:
        while chunk := client.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer.decode()


def test_the_gateway_gets_headers_as_sent_and_the_real_client_address(front: tuple[LocalHttpServer, StandInApi]) -> None:
    server, api = front
    connection = connect(server)
    connection.request("POST", "/users?limit=2", body=b'{"a": 1}', headers={
        "Content-Type": "application/json", "Idempotency-Key": "k-1", "X-Forwarded-For": "203.0.113.9"})
    reply = connection.getresponse()
    assert reply.status == 201 and reply.read() == b'{"ok": true}'
    assert reply.getheader("Location") == "/users/1"
    [seen] = api.seen
    assert seen["method"] == "POST" and seen["target"] == "/users?limit=2" and seen["body"] == b'{"a": 1}'
    names = [name for name, _ in seen["headers"]]
    assert "Content-Type" in names and "Idempotency-Key" in names  # as API Gateway's REST proxy event has them
    assert seen["source_ip"] == "127.0.0.1"  # not the forwarded address a client claims


def test_keep_alive_serves_many_requests_on_one_connection(front: tuple[LocalHttpServer, StandInApi]) -> None:
    server, api = front
    connection = connect(server)
    for _ in range(5):
        connection.request("GET", "/users/1")
        assert connection.getresponse().read() == b'{"ok": true}'
    assert len(api.seen) == 5


def test_head_answers_without_a_body(front: tuple[LocalHttpServer, StandInApi]) -> None:
    connection = connect(front[0])
    connection.request("HEAD", "/users/1")
    reply = connection.getresponse()
    assert reply.status == 201 and reply.read() == b""


def test_a_body_over_the_payload_limit_is_413_before_it_is_read(front: tuple[LocalHttpServer, StandInApi]) -> None:
    server, api = front
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as client:
        client.sendall(f"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_PAYLOAD_BYTES + 1}\r\n\r\n".encode())
        answer = answer_until_closed(client)
    # Answered unread, by the gateway's response for it (the template's, on a real runner).
    assert answer.startswith("HTTP/1.1 413") and answer.endswith('{"refused": true}')
    assert api.seen == [] and api.refused == ["REQUEST_TOO_LARGE"]


def test_a_chunked_body_reaches_the_gateway_whole(front: tuple[LocalHttpServer, StandInApi]) -> None:
    server, api = front
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as client:
        client.sendall(b"POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"9\r\n{\"name\": \r\n6\r\n\"Ada\"}\r\n0\r\n\r\n")
        answer = client.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 201")
    assert [request["body"] for request in api.seen] == [b'{"name": "Ada"}']


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"deflate, chunked"])
def test_a_transfer_coding_other_than_chunked_is_501(front: tuple[LocalHttpServer, StandInApi], coding: bytes) -> None:
    server, api = front
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as client:
        client.sendall(b"POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n2\r\n{}\r\n0\r\n\r\n" % coding)
        answer = answer_until_closed(client)
    assert answer.startswith("HTTP/1.1 501")
    error = json.loads(answer.split("\r\n\r\n", 1)[1])["error"]
    assert error["code"] == "not_implemented" and "chunked" in error["message"]
    assert api.seen == []


def test_a_chunked_body_past_the_payload_limit_is_413_and_stops_being_read(front: tuple[LocalHttpServer, StandInApi]) -> None:
    server, api = front
    host, port = server.server_address[:2]
    chunk = b"x" * 1_000_000
    with socket.create_connection((host, port), timeout=10) as client:
        client.sendall(b"POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(MAX_PAYLOAD_BYTES // len(chunk) + 2):
                client.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the runner answered and closed: what follows is refused
        answer = answer_until_closed(client)
    assert answer.startswith("HTTP/1.1 413") and answer.endswith('{"refused": true}')
    assert api.seen == [] and api.refused == ["REQUEST_TOO_LARGE"]


def test_answers_are_not_held_back_by_nagle() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose protocol says TCP; the first listener here
    (socket.create_server, protocol 0) left it off, and every keep-alive answer waited for the
    client's delayed ACK."""
    import asyncio

    from local_runner.server import _listen

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                seen.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        server = await loop.create_server(Probe, sock=_listen("127.0.0.1", 0))
        host, port = server.sockets[0].getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0


# What each client sends first, and then a byte now and then (trickling) or nothing (stalled).
UNFINISHED = {
    "headers, stalled": (b"GET /users HTTP/1.1\r\nHost: 127.0.0.1\r\n", None),
    "headers, trickling": (b"GET /users HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X"),  # an endless header name
    "body, stalled": (b"POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20\r\n\r\n{\"name\"", None),
    "chunked body, trickling": (b"POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\n \r\n"),
}


@pytest.mark.parametrize("client", UNFINISHED)
def test_a_request_that_never_ends_is_a_408_and_a_closed_connection(client: str) -> None:
    """Neither a client that stops mid-request (in its headers or its body) nor one that sends a
    byte now and then holds a connection past the request deadline (make run's is
    REQUEST_TIMEOUT_SECONDS; a shorter one here)."""
    first, trickle = UNFINISHED[client]
    timeout = 1.5
    with serving(request_timeout=timeout) as (server, api):
        host, port = server.server_address[:2]
        with socket.create_connection((host, port), timeout=timeout + 20) as conn:
            started = time.monotonic()
            conn.sendall(first)
            # A little more every quarter second, while no answer has come.
            while trickle and not select.select([conn], [], [], 0.25)[0] and time.monotonic() - started < timeout + 20:
                conn.sendall(trickle)
            answer = conn.recv(65536)
            elapsed = time.monotonic() - started
            rest = conn.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"cache-control: no-store" in head.lower() and b"x-content-type-options: nosniff" in head.lower()
    assert json.loads(body)["error"] == {"code": "request_timeout", "message": "Send the whole request, body included, within 1.5 seconds.",
                                         "details": []}
    assert timeout - 0.1 <= elapsed <= timeout + 15
    assert rest == b""  # closed
    assert api.seen == []


def test_the_deadline_is_for_receiving_the_request_not_for_answering_it() -> None:
    """An answer that takes longer than the deadline (a slow function) is not cut off, and the
    next request on the connection gets a deadline of its own."""
    timeout = 1.0
    with serving(request_timeout=timeout) as (server, api):
        slow = api.handle
        api.handle = lambda **request: (time.sleep(timeout * 2), slow(**request))[1]  # type: ignore[method-assign]
        connection = connect(server)
        for _ in range(2):
            connection.request("POST", "/users", body=b'{"name": "Ada"}', headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            assert answer.status == 201 and answer.read() == b'{"ok": true}'
        connection.close()
    assert [request["body"] for request in api.seen] == [b'{"name": "Ada"}'] * 2


def test_the_readme_gives_make_runs_limits() -> None:
    from local_runner.uvicorn_compat import MAX_HEADER_BYTES, MAX_HEADERS

    readme = " ".join((ROOT / "README.md").read_text().split())
    assert (f"a request line and headers over {MAX_HEADER_BYTES // 1024} KiB or over {MAX_HEADERS} headers (431), "
            f"requests not received whole within {REQUEST_TIMEOUT_SECONDS:g} s (408), and bodies over {MAX_PAYLOAD_BYTES // 1024**2} MB (413)") in readme


def _local_answer(client: tuple[str, int], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """What the runner's app answers a GET /_local/clients from `client` with `headers` (the ASGI
    app itself: no packet leaves this machine for the other address)."""
    import asyncio

    from local_runner.server import LocalApp

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/_local/clients", "raw_path": b"/_local/clients", "query_string": b"",
             "headers": headers, "client": client}
    asyncio.run(LocalApp(service=object())(scope, receive, send))  # type: ignore[arg-type]
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(("client", "hosts"), [
    (("192.0.2.10", 40000), [b"127.0.0.1"]),  # another machine that says it is loopback (ALLOW_NON_LOOPBACK)
    (("127.0.0.1", 40000), [b"127.0.0.1:3000, evil.example"]),
    (("127.0.0.1", 40000), [b"127.0.0.1", b"evil.example"]),  # two Host headers
    (("127.0.0.1", 40000), [b"127.0.0.1/x"]),
    (("127.0.0.1", 40000), []),
])
def test_local_endpoints_answer_a_loopback_peer_naming_one_loopback_host_only(client, hosts) -> None:
    status, body = _local_answer(client, [(b"host", h) for h in hosts])
    assert status == 403, body
    assert b"client_secret" not in body


def test_the_host_check_takes_every_loopback_spelling() -> None:
    from local_runner.loopback import is_loopback_host

    assert all(is_loopback_host(h) for h in ("127.0.0.1", "127.0.0.1:3000", "localhost", "LOCALHOST:80", "[::1]", "[::1]:3000", "127.8.9.10"))
    assert not any(is_loopback_host(h) for h in ("127.0.0.1:3000, evil.example", "evil.example", "127.0.0.1.nip.io", "0.0.0.0",
                                                 "127.0.0.1:", "[::1", "localhost.evil.example", ""))


def test_on_another_uvicorn_the_runner_refuses_to_start_and_names_the_protocol(monkeypatch):
    from local_runner import uvicorn_compat

    monkeypatch.setattr(uvicorn_compat.metadata, "version", lambda name: "0.99.0")
    with pytest.raises(uvicorn_compat.UnsupportedUvicorn, match=r"CaseKeepingHttp.*uvicorn 0\.54\.0's private httptools protocol "
                                                                r"and found uvicorn 0\.99\.0: install uvicorn==0\.54\.0"):
        uvicorn_compat.case_keeping_http(request_timeout=1.0, server_name=b"x")
