"""The HTTP front door: the users API at `/`, and the runner's own endpoints under `/_local/`
(demo token, outbox, queue depths, status), which exist only locally."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_runner.gateway import MAX_PAYLOAD_BYTES
from local_runner.runner import LocalService

LOCAL_PREFIX = "/_local/"
access_log = logging.getLogger("archon.local.access")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway
    disable_nagle_algorithm = True  # otherwise every keep-alive reply waits ~40 ms for a delayed ACK
    wbufsize = -1  # buffered: status line, headers and body leave in one send when the request ends
    server_version = "archon-local"
    service: LocalService

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        access_log.debug(format, *args)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(411, [("Content-Type", "application/json")], b'{"message": "Send a Content-Length; chunked bodies are not accepted"}')
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self._send(413, [("Content-Type", "application/json")], b'{"message": "Request Too Long"}', close=True)
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, close: bool = False) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionError:  # the client left mid-answer (a load generator stopping): no one to tell
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()  # flushes the buffered answer
        except ConnectionError:  # the same client gone; the writer is closed, the reader is left
            self.rfile.close()

    def _serve(self) -> None:
        started = time.perf_counter()
        body = self._read_body()
        if body is None:
            return
        if self.path.startswith(LOCAL_PREFIX):
            status, payload = self._local(self.path[len(LOCAL_PREFIX):].split("?")[0])
            self._send(status, [("Content-Type", "application/json")], json.dumps(payload).encode())
            return
        response = self.service.api.handle(method=self.command, target=self.path, headers=list(self.headers.items()),
                                           body=body, source_ip=self.client_address[0])
        self._send(response.status, response.headers, response.body)
        access_log.info(json.dumps({"httpMethod": self.command, "path": self.path.split("?")[0], "status": response.status,
                                    "ms": round((time.perf_counter() - started) * 1000, 2)}))

    def _local(self, name: str) -> tuple[int, Any]:
        if name == "token" and self.command == "POST":
            return 200, {"token": self.service.token()}
        if name == "outbox" and self.command == "GET":
            return 200, {"emails": [asdict(e) for e in self.service.outbox()]}
        if name == "queues" and self.command == "GET":
            return 200, self.service.queue_depths()
        if name == "status" and self.command == "GET":
            return 200, self.service.status()
        if name == "dead-letters" and self.command == "GET":
            return 200, self.service.dead_letters()
        return 404, {"message": "local endpoints: POST /_local/token, GET /_local/outbox, GET /_local/queues, GET /_local/dead-letters, GET /_local/status"}

    def __getattr__(self, name: str) -> Any:
        # Every method, even one http.server does not know, goes to the gateway, which answers
        # undeclared ones as API Gateway does (not http.server's HTML 501).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True


def make_server(service: LocalService | None, host: str, port: int) -> LocalHttpServer:
    handler = type("Handler", (_Handler,), {"service": service})
    return LocalHttpServer((host, port), handler)
