"""python -m local_runner serve | token | outbox

`serve` runs a stage locally (make run; dev unless --stage says another); `token` prints a bearer token for the demo user
(make token); `outbox` lists the welcome emails sent so far (make outbox).
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.error
import warnings
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, NoReturn, TextIO

from tools.arguments import number_in, port
from local_runner.loopback import is_loopback_address
from users import contract

DEFAULT_PORT = 3000


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def _runner_url(text: str) -> str:
    url = urllib.parse.urlsplit(text)
    try:
        url.port  # noqa: B018 - raises on a port that is not a number or out of range
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} has no valid port: give the port the runner serves on, 0 to 65535 (make token PORT=N)") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not a runner's URL: give one like http://127.0.0.1:{DEFAULT_PORT}")
    return text.rstrip("/")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_runner", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a stage (dev by default) on loopback")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1, loopback only)")
    serve.add_argument("--allow-non-loopback", action="store_true", default=os.environ.get("ALLOW_NON_LOOPBACK", "") not in ("", "0"),
                       help="allow binding an address other machines can reach (the API is then open to them; /_local/ still answers loopback hosts only)")
    # String defaults: argparse converts them as it does the flag's, so a bad PORT= is a usage error too.
    serve.add_argument("--port", type=port, default=os.environ.get("PORT", str(DEFAULT_PORT)), help="0 picks a free port")
    serve.add_argument("--assembly", type=Path, default=Path("cdk.out"), help="cloud assembly to read (default cdk.out)")
    serve.add_argument("--stage", default="dev")
    serve.add_argument("--cloud", choices=["aws", "gcp"], default=os.environ.get("CLOUD") or "aws",
                       help="the cloud whose services run locally: aws (moto, the synthesised template) or gcp (the Firestore and Pub/Sub emulators)")
    serve.add_argument("--backend", choices=["memory", "server"], default=os.environ.get("BACKEND", "memory"),
                       help="memory: moto in this process; server: a moto server on loopback that the AWS CLI can reach")
    serve.add_argument("--moto-port", type=port, default=os.environ.get("MOTO_PORT", "5000"), help="the moto server's port with --backend server")
    serve.add_argument("--log-file", type=Path, default=Path("build/local/functions.log"),
                       help="where the functions' logs and metrics go, as CloudWatch Logs would hold them (written anew each run)")
    serve.add_argument("--access-log", default="-", help="a line per API request: - for the console (default), or a file of JSON lines")
    serve.add_argument("--batching-window", type=number_in(0.0, 300.0, kind=float, what="a batching window", note="seconds, as Lambda allows"),
                       help="override the event source's batching window in seconds (tests)")
    serve.add_argument("--redelivery-seconds", type=number_in(0, 43200, what="a visibility timeout", note="seconds, as SQS allows"),
                       help="seconds before a failed message is retried; default: the queue's visibility timeout")
    serve.add_argument("--creates-per-caller", type=number_in(1, what="an hourly limit"),
                       help="users one caller may create an hour; default: the template's (load tools and tests)")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME=RATE",
                       help="inject a fault: dynamodb.throttle, dynamodb.conflict, ses.throttle, ses.reject, processor.crash, api.crash")
    serve.add_argument("--fault-limit", type=number_in(1, what="a fault limit"), help="fire each fault at most this many times")
    serve.add_argument("--fault-seed", type=number_in(0, what="a fault seed"), help="seed for repeatable fault injection")
    for name in ("token", "outbox"):
        sub = commands.add_parser(name, help=f"ask a running runner for the {name}")
        sub.add_argument("--url", type=_runner_url, default=os.environ.get("URL", f"http://127.0.0.1:{os.environ.get('PORT', DEFAULT_PORT)}"))
        if name == "token":
            sub.add_argument("--scopes", default=os.environ.get("SCOPES", ""),
                             help=f"space-separated scopes, e.g. '{contract.READ_SCOPE}' (default: every scope of the broadest client: read and create)")
    return parser


def serve(args: argparse.Namespace) -> None:
    from local_runner.faults import Faults, FaultSpecError
    from local_runner.moto_compat import UnsupportedMoto
    from local_runner.runner import LocalService, Options
    from local_runner.server import AccessLog, make_server
    from local_runner.uvicorn_compat import UnsupportedUvicorn
    from local_runner.wiring import WiringError

    console: TextIO = sys.stdout
    from local_runner.faults import GCP_KNOWN, KNOWN

    try:
        faults = Faults.parse(args.fault, limit=args.fault_limit, seed=args.fault_seed,
                              known=GCP_KNOWN if args.cloud == "gcp" else KNOWN)
    except FaultSpecError as exc:
        _fail(str(exc))
    try:
        socket.getaddrinfo(args.host, args.port)
    except (socket.gaierror, UnicodeError):
        _fail(f"cannot bind {args.host!r}: it is neither an IP address nor a name this machine resolves; "
              "give an address such as 127.0.0.1 (make run HOST=...)")
    if not is_loopback_address(args.host) and not args.allow_non_loopback:
        _fail(f"{args.host} is not a loopback address: other machines could call the API. Bind 127.0.0.1 (the default), "
              "or pass --allow-non-loopback (make run HOST=... ALLOW_NON_LOOPBACK=1) if that is what you want")
    # Once the port is bound, Ctrl-C or SIGTERM asks for a stop instead of raising KeyboardInterrupt
    # mid-start (exit 130): the start finishes, serving ends at once, all stops. Held back until
    # the handlers are in place, so one that arrives as the port opens is not lost to that gap.
    # uvicorn catches both while it serves and hands them back here when it is done.
    stops = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        server = make_server(None, args.host, args.port)  # bound first: a busy port fails before the slow start
    except UnsupportedUvicorn as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot listen on {args.host}:{args.port}: {'the port is already in use; stop the other process or set PORT=' if exc.errno == errno.EADDRINUSE else exc.strerror}")

    def shut_down(*_: Any) -> None:
        server.shutdown()

    for stop in stops:
        signal.signal(stop, shut_down)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    started = time.perf_counter()
    try:
        args.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(args.log_file, "w", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the process's life
    except OSError as exc:
        _fail(f"cannot write the function log {args.log_file}: {exc.strerror or exc}; give a writable path with --log-file")
    try:
        server.app.access = AccessLog(args.access_log)  # before stdout becomes the function log
    except OSError as exc:
        _fail(f"cannot write the access log {args.access_log}: {exc.strerror or exc}")
    # Functions write logs and EMF metrics to stdout, which Lambda sends to CloudWatch; here, the
    # log file, and nothing else goes there: the runner's own warnings, the SDK's and the
    # emulator's go to the console (INFO chatter is dropped).
    sys.stdout = log
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    # A GET publishes no metric; Powertools says so on every one.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    if args.cloud == "gcp":
        service = _start_gcp(args, console, faults)
        server.app.service = service
        gc.freeze()
        gc.enable()
        injecting = [f"injecting faults: {', '.join(f'{k}={v}' for k, v in faults.rates.items())}"] if faults.rates else []
        _serve_banner_and_run(server, service, args, console, started, name=service.stack_name,
                              extra=[f"Firestore emulator on {service.firestore.host}, Pub/Sub emulator on {service.pubsub.host}", *injecting])
        return
    options = Options(assembly=args.assembly, stage=args.stage, backend=args.backend, moto_port=args.moto_port,
                      batching_window=args.batching_window, redelivery_seconds=args.redelivery_seconds,
                      creates_per_caller=args.creates_per_caller, faults=faults)
    try:
        service = LocalService(options)
        service.start()
    except (WiringError, UnsupportedMoto) as exc:
        sys.stdout = console
        _fail(str(exc))
    except OSError as exc:
        sys.stdout = console
        if exc.errno == errno.EADDRINUSE:
            _fail(f"the emulator's port {args.moto_port} is already in use; stop the other process or set MOTO_PORT=")
        _fail(f"the emulator could not start: {exc.strerror or exc}")
    server.app.service = service
    # What the start made (the libraries, the functions, the emulated resources) lives as long as
    # the process: out of the cycle collector's way from now on, as the functions' own init is.
    gc.freeze()
    gc.enable()
    extra = []
    if faults.rates:
        extra.append(f"injecting faults: {', '.join(f'{k}={v}' for k, v in faults.rates.items())}")
    if service.emulator.endpoint_url:
        extra.insert(0, f"moto server on {service.emulator.endpoint_url}; the AWS CLI sees the same state with "
                        f"{aws_cli_env(service.wiring.region)} aws --endpoint-url {service.emulator.endpoint_url} ...")
    _serve_banner_and_run(server, service, args, console, started, name=service.wiring.stack_name, extra=extra)


def _start_gcp(args: argparse.Namespace, console: TextIO, faults: Any) -> Any:
    from local_runner.gcp.emulators import EmulatorsMissing
    from local_runner.gcp.service import GcpLocalService, options_from_config

    try:
        service = GcpLocalService(options_from_config(args.stage, creates_per_caller=args.creates_per_caller, faults=faults,
                                                      log_dir=args.log_file.parent / "gcp"))
        service.start()
    except EmulatorsMissing as exc:
        sys.stdout = console
        _fail(f"make run CLOUD=gcp needs the GCP emulators: {exc}")
    except Exception:
        sys.stdout = console
        if "service" in locals():
            service.stop()
        raise
    return service


def _serve_banner_and_run(server: Any, service: Any, args: argparse.Namespace, console: TextIO, started: float, *, name: str,
                          extra: list[str] | None = None) -> None:
    host, port = server.server_address[:2]
    base = base_url(host, port)
    say = lambda line: print(line, file=console, flush=True)  # noqa: E731
    say(f"Archon {args.stage} ({name}) on {base}")
    say("state lives in this process: users, tokens and emails are gone when it stops (Ctrl-C), and the next run starts empty")
    for line in extra or []:
        say(line)
    say(f"function logs: {args.log_file}")
    if not is_loopback_address(host):
        print(f"warning: serving on {host}, reachable from other machines; anyone who can reach it can call the API "
              "with a token from this runner's pool (/_local/ answers loopback hosts only)", file=sys.stderr, flush=True)
    reaches_loopback = host in ("127.0.0.1", "0.0.0.0", "::") or is_loopback_address(host)
    local = base if is_loopback_address(host) else f"http://127.0.0.1:{port}"
    say(f"token: {token_command(host, port)}" + (f"   (or curl -s -X POST {local}/_local/token)" if reaches_loopback else ""))
    if reaches_loopback:
        say(f"API explorer: {local}/_local/docs/   mailbox: {local}/_local/mailbox/")
    say(f"ready in {time.perf_counter() - started:.1f}s: {base}")

    try:
        server.serve_forever()
    finally:
        server.server_close()
        service.stop()
        say("stopped")


def aws_cli_env(region: str) -> str:
    """The environment the AWS CLI needs to talk to the emulator: a region and credentials of
    any value (moto checks no signature), so no AWS account or profile is needed."""
    return f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION={region}"


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def token_command(host: str, port: int) -> str:
    """How to get a token from this runner: make token asks 127.0.0.1 on the default port."""
    if host not in ("127.0.0.1", "0.0.0.0", "::"):  # the bound address; binding every interface includes loopback
        return f".venv/bin/python -m local_runner token --url {base_url(host, port)}"  # 127.0.0.1 does not reach it
    return "make token" if port == DEFAULT_PORT else f"make token PORT={port}"


def _call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    # /_local/ answers requests addressed to a loopback host; this command is one, whichever
    # address the runner was bound to (a browser page cannot set Host, so it cannot do the same).
    headers = {"Host": f"localhost:{urllib.parse.urlsplit(url).port or 80}"}
    if data:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback runner
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
        _fail(answer.get("error_description") or answer.get("message") or f"the runner answered {exc.code}")
    except urllib.error.URLError as exc:
        _fail(f"no local runner answers at {url.rsplit('/_local', 1)[0]} ({getattr(exc, 'reason', exc)}): start it with make run, or give the port it serves on (make token PORT=N)")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        gc.disable()  # for the start: serve() freezes what the start made and resumes collection
        try:
            serve(args)
        except KeyboardInterrupt:  # Ctrl-C while it was still importing: nothing to stop yet
            sys.exit(130)
        finally:
            gc.enable()  # also where the start failed
    elif args.command == "token":
        scopes = args.scopes.split()
        print(_call(f"{args.url}/_local/token", "POST", {"scopes": scopes} if scopes else None)["token"])
    else:
        emails = _call(f"{args.url}/_local/outbox")["emails"]
        if not emails:
            print("no emails sent yet")
        for email in emails:
            print(f"{email['sent_at']}  {', '.join(email['to'])}  {email['subject']}")


if __name__ == "__main__":
    main()
