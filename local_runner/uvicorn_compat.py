"""Every use of uvicorn's internals, in one module: the runner's HTTP/1.1 protocol extends
uvicorn's private httptools protocol (uvicorn.protocols.http.httptools_impl), whose hooks are
written against one uvicorn version (PINNED_UVICORN). Its limits and the header names as sent are
part of what the local run promises (API Gateway keeps both), so on another uvicorn the runner
refuses to start and says which version to install, rather than serve without them."""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus
from importlib import metadata
from typing import Any

PINNED_UVICORN = "0.54.0"
# API Gateway's limit on the request line and headers together; a count and a deadline that no
# client of this API comes near, so that a slow or endless request cannot hold a connection.
MAX_HEADER_BYTES = 10 * 1024
MAX_HEADERS = 100
REQUEST_TIMEOUT_SECONDS = 10.0


class UnsupportedUvicorn(RuntimeError):
    pass


def check_uvicorn_version() -> None:
    found = metadata.version("uvicorn")
    if found != PINNED_UVICORN:
        raise UnsupportedUvicorn(
            f"the local run's HTTP protocol (CaseKeepingHttp, local_runner/uvicorn_compat.py) extends uvicorn {PINNED_UVICORN}'s "
            f"private httptools protocol and found uvicorn {found}: install uvicorn=={PINNED_UVICORN} (make setup), or check "
            f"the protocol against {found} (tests/runner/test_server.py) and move PINNED_UVICORN")


def case_keeping_http(*, request_timeout: float, server_name: bytes) -> type:
    """The protocol class uvicorn.Config takes as `http`, with this server's deadline and name."""
    check_uvicorn_version()
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class _HeadersTooLarge(Exception):
        """Raised inside the parser, which reports it as a parse error (send_400_response)."""

    class CaseKeepingHttp(HttpToolsProtocol):
        """uvicorn's HTTP/1.1 protocol with the limits API Gateway keeps and uvicorn does not: request
        line and headers of at most MAX_HEADER_BYTES and MAX_HEADERS, and the whole request, body
        included, read within request_timeout seconds of its first byte (REQUEST_TIMEOUT_SECONDS but in
        tests), else 431 or 408 and the connection closed. A pipelined request waits unread behind the
        one before it (uvicorn stops reading), so its deadline is not kept.

        It also keeps header names as sent: uvicorn lowercases them, as ASGI asks, but API Gateway's
        REST proxy event keeps them as the client sent them. They ride along in the scope's extensions."""

        _request_timer: Any = None
        request_timeout: float = REQUEST_TIMEOUT_SECONDS
        server_name: bytes = b"uvicorn"

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._start_request_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_request_timer()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            # uvicorn answers any parser error so; the parser reports the limits' exceptions as one.
            self._stop_request_timer()
            if getattr(self, "_too_large", False):
                _reject(self.transport, self.server_name, 431, "headers_too_large",
                        f"The request line and headers must stay within {MAX_HEADER_BYTES} bytes and {MAX_HEADERS} headers.")
            else:
                _reject(self.transport, self.server_name, 400, "bad_request", "The request is not valid HTTP/1.1.")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_names: list[bytes] = []
            self._header_bytes = 0
            scope: dict[str, Any] = self.scope  # type: ignore[assignment]
            scope["extensions"] = {"archon.header_names": self._header_names}
            self._start_request_timer()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            if len(self._header_names) >= MAX_HEADERS:
                self._too_large = True
                raise _HeadersTooLarge()
            super().on_header(name, value)
            self._header_names.append(name)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            if self.pipeline:  # queued behind an answer still being made: uvicorn reads it later
                self._stop_request_timer()

        def on_message_complete(self) -> None:
            self._stop_request_timer()
            super().on_message_complete()

        def _count(self, size: int) -> None:
            self._header_bytes = getattr(self, "_header_bytes", 0) + size
            if self._header_bytes > MAX_HEADER_BYTES:
                self._too_large = True
                raise _HeadersTooLarge()

        def _start_request_timer(self) -> None:
            self._stop_request_timer()
            self._request_timer = self.loop.call_later(self.request_timeout, self._request_timed_out)

        def _stop_request_timer(self) -> None:
            if self._request_timer is not None:
                self._request_timer.cancel()
                self._request_timer = None

        def _request_timed_out(self) -> None:
            self._request_timer = None
            # Still waiting for (the rest of) a request's headers, or for its body.
            if self.cycle is None or self.cycle.response_complete or self.cycle.more_body:
                _reject(self.transport, self.server_name, 408, "request_timeout", f"Send the whole request, body included, within {self.request_timeout:g} seconds.")

    return type("CaseKeepingHttp", (CaseKeepingHttp,), {"request_timeout": request_timeout, "server_name": server_name})


def _reject(transport: Any, server_name: bytes, status: int, code: str, message: str) -> None:
    """An answer written straight to the connection, before any request exists, then closed."""
    if transport.is_closing():
        return
    body = error_body(code, message)
    transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n"
                    b"content-length: %d\r\nconnection: close\r\nserver: %s\r\n\r\n%s"
                    % (status, HTTPStatus(status).phrase.encode(), len(body), server_name, body))
    transport.close()


def error_body(code: str, message: str) -> bytes:
    """The error contract's body, for what the front door answers by itself."""
    return json.dumps({"error": {"code": code, "message": message, "details": []}, "request_id": str(uuid.uuid4())}).encode()
