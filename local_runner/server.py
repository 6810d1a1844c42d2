"""The HTTP front door: the users API at `/`, and the runner's own endpoints under `/_local/`
(tokens, outbox, queue depths, dead letters and their redrive, status), which exist only locally.

uvicorn serves it, with the httptools (llhttp) parser and uvloop, which cost far less per request
than http.server (docs/benchmarks.md). The app calls the gateway inline on the event loop: the
runner runs one invocation at a time anyway, and a thread hop would only add latency.
"""

from __future__ import annotations

import asyncio
import functools

import base64
import json
import socket
import sys
import time
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn

from local_runner import pages
from local_runner.loopback import is_loopback_address, is_loopback_host
from local_runner.gateway import MAX_PAYLOAD_BYTES, GatewayFailure
from local_runner.runner import LocalService
from users import contract
from local_runner.uvicorn_compat import REQUEST_TIMEOUT_SECONDS, case_keeping_http, error_body

LOCAL_PREFIX = "/_local/"
SERVER_NAME = b"archon-local"
KEEP_ALIVE_SECONDS = 60  # idle keep-alive connections, closer to API Gateway's than uvicorn's 5 s


class AccessLog:
    """One line per API request: on the console for a person (method, path, status, time,
    caller), or as JSON lines in a file for tools (bench/runner.py reads the server-side ms)."""

    def __init__(self, destination: str = "-") -> None:
        self._file = None if destination == "-" else open(destination, "w", buffering=1, encoding="utf-8")  # noqa: SIM115 - for the process's life
        self._console = sys.stdout

    def __call__(self, method: str, path: str, status: int, ms: float, caller: str | None) -> None:
        if self._file is not None:
            self._file.write(json.dumps({"httpMethod": method, "path": path, "status": status, "ms": ms, "caller": caller}) + "\n")
        else:
            print(f"{method} {path} {status} {ms:.1f} ms {caller or '-'}", file=self._console, flush=True)


# What every answer of the runner's own carries, as every answer of the API does.
LOCAL_HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
PAGE_FOLDERS = ("docs", "mailbox")


class LocalApp:
    """The ASGI app: HTTP in, the gateway (or a local endpoint), HTTP out."""

    def __init__(self, service: LocalService | None = None, access: AccessLog | None = None) -> None:
        self.service = service
        self.access = access

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        raw = scope["headers"]
        names = scope.get("extensions", {}).get("archon.header_names") or [name for name, _ in raw]
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, (_, value) in zip(names, raw)]
        lower = {name: value for name, value in raw}
        assert self.service is not None  # set before serving starts
        coding = lower.get(b"transfer-encoding")
        if coding is not None and coding.strip().lower() != b"chunked":  # any other coding would reach the function undecoded
            await _send(send, 501, [("Content-Type", "application/json"), *LOCAL_HEADERS],
                        error_body("not_implemented", "Send the body as it is, with a Content-Length or chunked; "
                                    "other transfer codings are not accepted."), close=True)
            return
        # Over the payload limit, a body is refused in the template's gateway response for it, as API
        # Gateway answers: unread when its Content-Length says so, or once a chunked one grows past it.
        too_large = int(lower.get(b"content-length") or 0) > MAX_PAYLOAD_BYTES  # the parser has checked it is a number
        body = b""
        while not too_large:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: no one to answer
            body += message.get("body", b"")
            too_large = len(body) > MAX_PAYLOAD_BYTES
            if not message.get("more_body"):
                break
        if too_large:
            refused = self.service.api.refuse(GatewayFailure("REQUEST_TOO_LARGE", "Request Too Long"), headers)
            await _send(send, refused.status, refused.headers, refused.body, close=True)
            return
        path = scope["raw_path"].decode("latin-1")
        method = scope["method"]
        if path.startswith(LOCAL_PREFIX):
            host = lower.get(b"host", b"").decode("latin-1")
            origin = lower.get(b"origin", b"").decode("latin-1")
            name = path[len(LOCAL_PREFIX):]
            hosts = [v for k, v in scope["headers"] if k.lower() == b"host"]
            peer = (scope.get("client") or ("", 0))[0]
            if not is_loopback_address(peer):
                # Bound beyond loopback (ALLOW_NON_LOOPBACK): another machine may call the API,
                # never the runner's own endpoints, whatever Host it sends.
                status, payload = 403, {"message": "/_local/ answers this machine only (the connection came from elsewhere)"}
            elif len(hosts) != 1 or not is_loopback_host(host):
                # A page elsewhere that got a name to resolve to 127.0.0.1 (DNS rebinding) sends
                # its own name as Host: the runner's tokens and emails are not for it.
                status, payload = 403, {"message": "/_local/ answers requests addressed to a loopback host only (127.0.0.1, localhost, [::1])"}
            elif method == "POST" and origin and urlsplit(origin).netloc != host:
                # A form or fetch from another site's page (cross-site request forgery): only the
                # runner's own pages, and clients that send no Origin, may mint tokens or redrive.
                status, payload = 403, {"message": "/_local/ takes POSTs from the runner's own pages only (Origin must match Host)"}
            elif method in ("GET", "HEAD") and name in PAGE_FOLDERS:  # the pages' folders without their slash
                await _send(send, 308, [("Location", f"{LOCAL_PREFIX}{name}/"), *LOCAL_HEADERS], b"")
                return
            elif method in ("GET", "HEAD") and (page := self._page(name, host)) is not None:
                await _send(send, *page)  # uvicorn sends HEAD's headers only
                return
            else:
                status, payload = self._local(method, name, lower, body)
            await _send(send, status, [("Content-Type", "application/json"), *LOCAL_HEADERS], json.dumps(payload).encode())
            return
        target = path + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
        # A client that reset its connection has no address left: still answered (to nobody).
        client = scope.get("client") or ("0.0.0.0", 0)
        call = functools.partial(self.service.api.handle, method=method, target=target, headers=headers, body=body, source_ip=client[0])
        # The AWS run answers one request at a time (its moto backend is one process's state); a
        # front door that serves requests side by side, as Cloud Run does, runs them on threads.
        response = await asyncio.to_thread(call) if getattr(self.service.api, "concurrent", False) else call()
        await _send(send, response.status, response.headers, response.body)
        if self.access is not None:
            self.access(method, path, response.status, round((time.perf_counter() - started) * 1000, 2), response.caller)

    def _page(self, name: str, host: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """The explorer's and mailbox's files, and the OpenAPI document they read."""
        if name == "openapi.json":
            return 200, [("Content-Type", "application/json"), *LOCAL_HEADERS], pages.openapi_for(f"http://{host}")
        try:
            found = pages.static(name)
        except pages.PageMissing as missing:
            return 503, [("Content-Type", "text/plain; charset=utf-8"), *LOCAL_HEADERS], str(missing).encode()
        if found is None:
            return None
        content, media_type = found
        return 200, [("Content-Type", media_type), *pages.SECURITY_HEADERS], content

    def _local(self, method: str, name: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, Any]:
        from local_runner.tokens import TokenRefused

        service = self.service
        assert service is not None
        if name == "token" and method == "POST":
            try:
                asked = json.loads(body) if body.strip() else {}
                scopes = asked.get("scopes") if isinstance(asked, dict) else None
                if scopes is not None and not (isinstance(scopes, list) and all(isinstance(x, str) for x in scopes)):
                    return 400, {"error": "invalid_request", "error_description": f'send {{"scopes": ["{contract.READ_SCOPE}", ...]}} or no body'}
                return 200, service.token(scopes or None)
            except (ValueError, RecursionError):
                return 400, {"error": "invalid_request", "error_description": f'send {{"scopes": ["{contract.READ_SCOPE}", ...]}} or no body'}
            except TokenRefused as refused:
                return 400, {"error": refused.error, "error_description": refused.description}
        if name == "oauth2/token" and method == "POST":
            return self._oauth_token(headers, body)
        if name == "clients" and method == "GET":  # the emulated pool's throwaway ids and secrets, for trying the token endpoint
            return 200, {"clients": service.clients()}
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
        action = getattr(service, {"publish": "publish", "faults": "set_faults"}.get(name, ""), None)
        if action is not None and method == "POST":
            # The GCP run's: a message straight onto the welcome topic (a duplicate delivery, a
            # poison message), and the mail provider's fault rate changed while it runs.
            try:
                asked = json.loads(body)
            except (ValueError, RecursionError):
                return 400, {"message": "send a JSON object"}
            if not isinstance(asked, dict):
                return 400, {"message": "send a JSON object"}
            try:
                return 200, action(asked)
            except ValueError as exc:
                return 400, {"message": str(exc)}
        return 404, {"message": "local pages: GET /_local/docs/ (API explorer), GET /_local/mailbox/; local endpoints: POST /_local/token, POST /_local/oauth2/token, GET /_local/clients, GET /_local/outbox, GET /_local/queues, GET /_local/dead-letters, "
                                "POST /_local/redrive, GET /_local/status"}


    def _oauth_token(self, headers: dict[bytes, bytes], body: bytes) -> tuple[int, Any]:
        """The user pool's token endpoint, client-credentials grant (RFC 6749 4.4): the client
        authenticates with HTTP Basic or client_id and client_secret in the form body."""
        from local_runner.tokens import TokenRefused

        assert self.service is not None
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "only grant_type=client_credentials is offered"}
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = headers.get(b"authorization", b"")
        if basic[:6].lower() == b"basic ":
            try:
                client_id, _, secret = base64.b64decode(basic[6:].strip(), validate=True).decode("utf-8").partition(":")
            except ValueError:
                return 400, {"error": "invalid_client", "error_description": "the Basic credentials are not base64 of id:secret"}
        try:
            return 200, self.service.oauth_token(client_id=client_id, secret=secret, scope=form.get("scope"))
        except TokenRefused as refused:
            return (401 if refused.error == "invalid_client" else 400), {"error": refused.error, "error_description": refused.description}


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

    def __init__(self, host: str, port: int, *, request_timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.socket = _listen(host, port)
        self.server_address = self.socket.getsockname()
        self.app = LocalApp()
        # log_config=None: uvicorn's own lines go where the runner's logging goes (the console).
        # proxy_headers=False: a client's X-Forwarded-For must not become the event's sourceIp.
        http = case_keeping_http(request_timeout=request_timeout, server_name=SERVER_NAME)
        config = uvicorn.Config(self.app, http=http, loop="auto", lifespan="off", log_config=None,
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
    # say they are TCP, and without it every keep-alive answer waited for a delayed ACK.
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def make_server(service: LocalService | None, host: str, port: int, *, request_timeout: float = REQUEST_TIMEOUT_SECONDS) -> LocalHttpServer:
    server = LocalHttpServer(host, port, request_timeout=request_timeout)
    server.app.service = service
    return server
