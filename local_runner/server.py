"""The HTTP front door: the users API at `/`, and the runner's own endpoints under `/_local/`
(demo token, outbox, queue depths, dead letters and their redrive, status), which exist only locally.

uvicorn serves it, with the httptools (llhttp) parser and uvloop: a third of the per-request cost
of http.server, whose header parsing alone took a tenth of a GET. The app calls the gateway inline on the event
loop: the runner runs one invocation at a time anyway, and a thread hop would only add latency.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import asdict
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from local_runner.gateway import MAX_PAYLOAD_BYTES
from local_runner.runner import LocalService

LOCAL_PREFIX = "/_local/"
SERVER_NAME = b"archon-local"
KEEP_ALIVE_SECONDS = 60  # idle keep-alive connections, closer to API Gateway's than uvicorn's 5 s
access_log = logging.getLogger("archon.local.access")


class CaseKeepingHttp(HttpToolsProtocol):
    """uvicorn lowercases header names, as ASGI asks; API Gateway's REST proxy event keeps them
    as the client sent them. The names as sent ride along in the scope's extensions."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_names: list[bytes] = []
        scope: dict[str, Any] = self.scope  # type: ignore[assignment]
        scope["extensions"] = {"archon.header_names": self._header_names}

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._header_names.append(name)


class LocalApp:
    """The ASGI app: HTTP in, the gateway (or a local endpoint), HTTP out."""

    def __init__(self, service: LocalService | None = None) -> None:
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        raw = scope["headers"]
        names = scope.get("extensions", {}).get("archon.header_names") or [name for name, _ in raw]
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, (_, value) in zip(names, raw)]
        lower = {name: value for name, value in raw}
        if b"chunked" in lower.get(b"transfer-encoding", b"").lower():
            await _send(send, 411, [("Content-Type", "application/json")], b'{"message": "Send a Content-Length; chunked bodies are not accepted"}', close=True)
            return
        if int(lower.get(b"content-length") or 0) > MAX_PAYLOAD_BYTES:  # the parser has checked it is a number
            await _send(send, 413, [("Content-Type", "application/json")], b'{"message": "Request Too Long"}', close=True)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: no one to answer
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["raw_path"].decode("latin-1")
        method = scope["method"]
        if path.startswith(LOCAL_PREFIX):
            status, payload = self._local(method, path[len(LOCAL_PREFIX):])
            await _send(send, status, [("Content-Type", "application/json")], json.dumps(payload).encode())
            return
        target = path + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
        assert self.service is not None  # set before serving starts
        response = self.service.api.handle(method=method, target=target, headers=headers, body=body, source_ip=scope["client"][0])
        await _send(send, response.status, response.headers, response.body)
        access_log.info(json.dumps({"httpMethod": method, "path": path, "status": response.status,
                                    "ms": round((time.perf_counter() - started) * 1000, 2)}))

    def _local(self, method: str, name: str) -> tuple[int, Any]:
        service = self.service
        assert service is not None
        if name == "token" and method == "POST":
            return 200, {"token": service.token()}
        if name == "outbox" and method == "GET":
            return 200, {"emails": [asdict(e) for e in service.outbox()]}
        if name == "queues" and method == "GET":
            return 200, service.queue_depths()
        if name == "status" and method == "GET":
            return 200, service.status()
        if name == "dead-letters" and method == "GET":
            return 200, service.dead_letters()
        if name == "redrive" and method == "POST":
            return 200, {"moved": service.redrive()}
        return 404, {"message": "local endpoints: POST /_local/token, GET /_local/outbox, GET /_local/queues, GET /_local/dead-letters, "
                                "POST /_local/redrive, GET /_local/status"}


async def _send(send: Any, status: int, headers: list[tuple[str, str]], body: bytes, close: bool = False) -> None:
    out = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers
           if name.lower() not in ("content-length", "connection", "transfer-encoding", "server")]
    out += [(b"content-length", str(len(body)).encode()), (b"server", SERVER_NAME)]
    if close:
        out.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})  # uvicorn leaves it out for HEAD


class LocalHttpServer:
    """Binds at once (a busy port fails before the slow start), serves once the service is set."""

    def __init__(self, host: str, port: int) -> None:
        self.socket = _listen(host, port)
        self.server_address = self.socket.getsockname()
        self.app = LocalApp()
        # log_config=None: uvicorn's own lines go where the runner's logging goes (the log file).
        # proxy_headers=False: a client's X-Forwarded-For must not become the event's sourceIp.
        config = uvicorn.Config(self.app, http=CaseKeepingHttp, loop="auto", lifespan="off", log_config=None,
                                log_level="warning", access_log=False, server_header=False, proxy_headers=False,
                                timeout_keep_alive=KEEP_ALIVE_SECONDS, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)

    def serve_forever(self) -> None:
        self._server.run(sockets=[self.socket])

    def shutdown(self) -> None:
        self._server.should_exit = True

    def server_close(self) -> None:
        self.socket.close()


def _listen(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP, not create_server's 0: asyncio sets TCP_NODELAY only on sockets that
    # say they are TCP, and without it every keep-alive answer waited ~40 ms for a delayed ACK.
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def make_server(service: LocalService | None, host: str, port: int) -> LocalHttpServer:
    server = LocalHttpServer(host, port)
    server.app.service = service
    return server
