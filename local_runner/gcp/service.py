"""The GCP service put together locally, in the order a `terraform apply` creates it: the
emulators, the topics and the push subscription with its dead-letter policy, the Eventarc
trigger, the functions (functions-framework apps of the functions' own main.py), and the front
door. It answers the runner's /_local/ endpoints as the AWS run does (local_runner.server)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import functions_framework
from werkzeug.serving import make_server
from werkzeug.test import run_wsgi_app

from local_runner.faults import Faults
from local_runner.gateway import GatewayFailure, HttpResponse
from local_runner.gcp.emulators import Emulator, die_with_parent, free_port, start_emulators, stop_session
from local_runner.gcp.issuer import LocalIssuer
from local_runner.gcp.mail_sink import MailSink
from local_runner.runner import SentEmail
from local_runner.uvicorn_compat import error_body
from users import contract

ROOT = Path(__file__).resolve().parents[2]
ENTRY_FILE = ROOT / "lambda_src" / "handlers" / "gcp" / "main.py"
PROJECT = "archon-local"
DATABASE = "(default)"  # the emulator's; a deployed stage has its own named database
RELAY_PATH = "/functions/"  # where the Firestore emulator posts document events
PROCESSOR_PATH = "/welcome-email"
MAX_DELIVERY_ATTEMPTS = 5  # then the dead-letter topic, as the sidecar configures it
EVENTARC_ATTEMPTS = 30
LEASE_SECONDS = 60


@dataclass
class GcpOptions:
    stage: str = "dev"
    creates_per_caller: int | None = None
    cors_origins: tuple[str, ...] = ()
    creates_per_caller_per_hour: int | None = None
    sender: str = "welcome@archon.example.com"
    clients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    log_dir: Path = Path("build/local/gcp")
    faults: Faults = field(default_factory=Faults)
    api_instances: int = 4


def options_from_config(stage: str, *, creates_per_caller: int | None = None, log_dir: Path = Path("build/local/gcp"),
                        faults: Faults | None = None) -> GcpOptions:
    from cdk_app.config import load_stages

    (config,) = load_stages(only=stage)
    scope_words = {"read": contract.READ_SCOPE, "create": contract.CREATE_SCOPE}
    return GcpOptions(stage=stage, cors_origins=tuple(config.api.cors_origins),
                      creates_per_caller_per_hour=creates_per_caller or config.api.creates_per_caller_per_hour,
                      sender=config.sender, clients={f"archon-{stage}-{c.name}": tuple(scope_words[s] for s in c.scopes) for c in config.clients},
                      log_dir=log_dir, faults=faults or Faults())


class _Functions:
    """The relay and the processor on one loopback HTTP server, as their Cloud Run services, with
    what the deployed platform adds around them: Eventarc retries a failed relay event
    (RETRY_POLICY_RETRY; the Firestore emulator posts an event once), and the injected faults.
    It also keeps the books a queue metric would: which messages were published and settled."""

    def __init__(self, faults: Faults) -> None:
        self.relay: Any = None
        self.processor: Any = None
        self.faults = faults
        self.invocations: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._published: set[str] = set()  # users whose welcome message the relay put on the topic
        self._acknowledged: set[str] = set()  # users whose message the processor acknowledged
        self.last_call = time.monotonic()
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.port = int(self._server.server_address[1])

    def _call(self, name: str, app: Any, environ: dict[str, Any], body: bytes, user_id: str) -> tuple[str, list[tuple[str, str]], bytes]:
        """One invocation: the app's status, headers and body, or a crash injected before or after it."""
        crash = self.faults.fire(f"{name}.crash")
        crash_after = crash and self.faults.fire_after(f"{name}.crash")
        worked = False
        if crash and not crash_after:
            status, headers, out = "500 INTERNAL SERVER ERROR", [], b"crashed before its work (injected)"
        else:
            iterable, status, header_map = run_wsgi_app(app, {**environ, "wsgi.input": io.BytesIO(body)})
            out, headers = b"".join(iterable), list(header_map.items())
            worked = status.startswith("2")
            if crash_after:  # did its work (published; sent and marked), then died before answering
                status, out = "500 INTERNAL SERVER ERROR", b"crashed after its work (injected)"
        with self._lock:
            self.invocations[name] += 1
            self.last_call = time.monotonic()
            if not status.startswith("2"):
                self.failures[name] += 1
            if worked and name == "relay":
                self._published.add(user_id)
            if status.startswith("2") and name == "processor":
                self._acknowledged.add(user_id)
        return status, headers, out

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if path.startswith(RELAY_PATH) and self.relay is not None:
            user_id = environ.get("HTTP_CE_DOCUMENT", "").rpartition("/")[2]
            # Eventarc's retries, shortened: the deployed trigger retries for up to 24 hours.
            for attempt in range(EVENTARC_ATTEMPTS):
                status, headers, out = self._call("relay", self.relay, environ, body, user_id)
                if status.startswith("2"):
                    break
                time.sleep(min(1.0, 0.02 * 2 ** attempt))
            start_response(status, headers)
            return [out]
        if path == PROCESSOR_PATH and self.processor is not None:
            user_id = _user_of_push(body)
            status, headers, out = self._call("processor", self.processor, environ, body, user_id)
            if status.startswith("2") and self.faults.fire("pubsub.duplicate"):
                self._call("processor", self.processor, environ, body, user_id)  # the same message again: at-least-once
            start_response(status, headers)
            return [out]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such function"]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="GcpFunctions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if hasattr(self, "_thread"):  # shutdown() waits for a serve_forever that must have begun
            self._server.shutdown()
        self._server.server_close()

    def unsettled(self, dead_lettered: set[str]) -> int:
        """Users whose welcome message is on the topic, neither acknowledged nor dead-lettered."""
        with self._lock:
            return len(self._published - self._acknowledged - dead_lettered)

    def redriven(self, user_ids: set[str]) -> None:
        """Messages put back on the topic (a redrive): theirs to settle again."""
        with self._lock:
            self._published |= user_ids
            self._acknowledged -= user_ids


def _user_of_push(body: bytes) -> str:
    """The user id of a pushed welcome message, for the books; "" where it is not one."""
    try:
        data = base64.b64decode((json.loads(body).get("message") or {}).get("data") or "")
    except (ValueError, AttributeError):
        return ""
    return _user_of_message(data.decode("utf-8", "replace"))


class Pusher:
    """Pub/Sub's push delivery to the processor, as the deployed push subscription makes it: each
    message POSTed in push format (what functions-framework turns into the CloudEvent), acknowledged
    on a 2xx, refused otherwise. The emulator's own push stalls once many pushes were refused
    (messages it neither redelivers nor dead-letters), so the runner pulls and pushes; the
    emulator still counts the deliveries and dead-letters a message after the fifth."""

    def __init__(self, *, subscriber: Any, subscription: str, endpoint: str, workers: int = 4) -> None:
        self._subscriber, self._subscription, self._endpoint = subscriber, subscription, endpoint
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"Pusher-{i}", daemon=True) for i in range(workers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=35)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                reply = self._subscriber.pull(request={"subscription": self._subscription, "max_messages": 1}, timeout=5)
            except Exception:  # noqa: BLE001 - a pull that timed out or failed is simply made again
                continue
            for received in reply.received_messages:
                ok = self._push(received)
                if ok:
                    self._subscriber.acknowledge(request={"subscription": self._subscription, "ack_ids": [received.ack_id]})
                else:  # refused: delivered again at once; the fifth refusal dead-letters it
                    self._subscriber.modify_ack_deadline(request={"subscription": self._subscription, "ack_ids": [received.ack_id],
                                                                  "ack_deadline_seconds": 0})

    def _push(self, received: Any) -> bool:
        message = received.message
        body = json.dumps({"subscription": self._subscription, "deliveryAttempt": received.delivery_attempt, "message": {
            "data": base64.b64encode(message.data).decode(), "attributes": dict(message.attributes),
            "messageId": message.message_id, "message_id": message.message_id,
            "publishTime": message.publish_time.isoformat(), "publish_time": message.publish_time.isoformat()}}).encode()
        request = urllib.request.Request(self._endpoint, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - loopback
                return 200 <= answer.status < 300
        except OSError:  # an HTTP error status or a dropped connection: not acknowledged
            return False


class _Instance:
    """One instance of the users API function: functions-framework's own server (gunicorn) in a
    process of its own, serving one request at a time (the function's concurrency of 1, as the
    sidecar deploys it: the resolver keeps the current request on itself)."""

    def __init__(self, *, log: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self._log = open(log, "a")  # noqa: SIM115 - open for the instance's life
        self._process = subprocess.Popen(
            [sys.executable, "-m", "functions_framework", "--target", "users_api", "--source", str(ENTRY_FILE),
             "--signature-type", "http", "--host", "127.0.0.1", "--port", str(self.port)],
            env={**env, "THREADS": "1", "WORKERS": "1"}, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509 - one prctl
        self._connection: http.client.HTTPConnection | None = None

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"a users API instance exited ({self._process.returncode}); its log: {self._log.name}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"a users API instance did not listen in time; its log: {self._log.name}")

    def call(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in range(2):  # a kept-alive connection the server closed is opened again, once
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self._connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    self._connection.putheader(name, value)
                self._connection.putheader("Content-Length", str(len(body)))
                self._connection.endheaders(body)
                reply = self._connection.getresponse()
                return reply.status, reply.getheaders(), reply.read()
            except (http.client.HTTPException, ConnectionError):
                self._connection.close()
                self._connection = None
                if attempt:
                    raise
        raise AssertionError("not reached")

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        stop_session(self._process)
        self._log.close()


class FrontDoor:
    """The load balancer in front of the users API function's instances: each request goes to an
    idle instance, or waits for one, as Cloud Run routes them; instances serve side by side."""

    concurrent = True

    def __init__(self, *, instances: int, log: Path, env: dict[str, str]) -> None:
        self._instances = [_Instance(log=log, env=env) for _ in range(instances)]
        self._idle: queue.Queue[_Instance] = queue.Queue()
        self.answered: Counter[int] = Counter()
        self._lock = threading.Lock()

    def start(self) -> None:
        deadline = time.monotonic() + 60
        for instance in self._instances:
            instance.wait_ready(deadline)
            self._idle.put(instance)

    def stop(self) -> None:
        for instance in self._instances:
            instance.stop()

    def handle(self, *, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str) -> HttpResponse:
        # What the load balancer adds: the client's address; a client's own X-Forwarded-For is not trusted.
        sent = [(k, v) for k, v in headers if k.lower() not in ("x-forwarded-for", "content-length", "connection", "transfer-encoding")]
        sent.append(("X-Forwarded-For", source_ip))
        instance = self._idle.get()
        try:
            status, reply_headers, data = instance.call(method, target, sent, body)
        finally:
            self._idle.put(instance)
        with self._lock:
            self.answered[status] += 1
        dropped = ("content-length", "connection", "server", "date", "transfer-encoding")
        return HttpResponse(status=status, headers=[(k, v) for k, v in reply_headers if k.lower() not in dropped], body=data)

    def refuse(self, failure: GatewayFailure, headers: list[tuple[str, str]]) -> HttpResponse:
        with self._lock:
            self.answered[413] += 1
        return HttpResponse(status=413, headers=[("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                                 ("X-Content-Type-Options", "nosniff")],
                            body=error_body("payload_too_large", "The body must be at most 10485760 bytes."))


class GcpLocalService:
    def __init__(self, options: GcpOptions) -> None:
        self.options = options
        self.stack_name = f"archon-{options.stage} (GCP)"
        self.topic = f"projects/{PROJECT}/topics/archon-{options.stage}-welcome"
        self.dead_topic = f"{self.topic}-dead-letters"
        self.subscription = f"projects/{PROJECT}/subscriptions/archon-{options.stage}-welcome-email"
        self.dead_subscription = f"{self.subscription}-dead-letters"

    def start(self) -> None:
        o = self.options
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per emulator call otherwise
        o.log_dir.mkdir(parents=True, exist_ok=True)
        self.functions = _Functions(o.faults)
        self.firestore, self.pubsub = start_emulators(functions_port=self.functions.port, log_dir=o.log_dir)
        self.issuer = LocalIssuer(clients=o.clients, audience=f"archon-{o.stage}-users-api")
        self.mail = MailSink(refuses=lambda: o.faults.fire("mail.reject"))
        key_file = o.log_dir / "cursor-key.json"
        key_file.write_text(json.dumps({"current": secrets.token_urlsafe(32)}))
        key_file.chmod(0o600)
        os.environ.update({
            "FIRESTORE_EMULATOR_HOST": self.firestore.host, "PUBSUB_EMULATOR_HOST": self.pubsub.host,
            "STAGE": o.stage, "POWERTOOLS_SERVICE_NAME": f"archon-{o.stage}", "POWERTOOLS_METRICS_NAMESPACE": "Archon",
            contract.ENV_GCP_PROJECT: PROJECT, contract.ENV_FIRESTORE_DATABASE: DATABASE,
            contract.ENV_CORS_ORIGINS: ",".join(o.cors_origins), contract.ENV_CURSOR_KEY_FILE: str(key_file.resolve()),
            contract.ENV_TOKEN_ISSUER: self.issuer.url, contract.ENV_TOKEN_JWKS_URL: self.issuer.jwks_url,
            contract.ENV_TOKEN_AUDIENCE: self.issuer.audience,
            contract.ENV_WELCOME_TOPIC: self.topic, contract.ENV_SENDER_ADDRESS: o.sender,
            contract.ENV_DELIVERY_LEASE_SECONDS: str(LEASE_SECONDS), contract.ENV_FUNCTION_TIMEOUT_SECONDS: "10",
            contract.ENV_SMTP_HOST: "127.0.0.1", contract.ENV_SMTP_PORT: str(self.mail.port), contract.ENV_SMTP_TLS: "none",
            **({contract.ENV_CREATES_PER_CALLER_PER_HOUR: str(o.creates_per_caller_per_hour)} if o.creates_per_caller_per_hour else {}),
        })
        # The API's instances are forked before any gRPC client exists here (gRPC warns on a fork
        # while its threads run); they start serving once their first request reaches them.
        self.api = FrontDoor(instances=o.api_instances, log=o.log_dir / "users-api.log", env=dict(os.environ))
        self._provision_queue()
        self.functions.relay = functions_framework.create_app("welcome_relay", str(ENTRY_FILE), "cloudevent")
        self.functions.processor = functions_framework.create_app("welcome_email", str(ENTRY_FILE), "cloudevent")
        self.functions.start()
        self._pusher = Pusher(subscriber=self._subscriber, subscription=self.subscription,
                              endpoint=f"http://127.0.0.1:{self.functions.port}{PROCESSOR_PATH}")
        self._pusher.start()
        self._register_trigger()
        self.api.start()

    def _provision_queue(self) -> None:
        from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
        from google.pubsub_v1.types import DeadLetterPolicy

        self._publisher = PublisherClient()
        self._subscriber = SubscriberClient()
        for topic in (self.topic, self.dead_topic):
            self._publisher.create_topic(name=topic)
        self._subscriber.create_subscription(request={"name": self.dead_subscription, "topic": self.dead_topic})
        self._subscriber.create_subscription(request={
            "name": self.subscription, "topic": self.topic, "ack_deadline_seconds": 30,
            "dead_letter_policy": DeadLetterPolicy(dead_letter_topic=self.dead_topic, max_delivery_attempts=MAX_DELIVERY_ATTEMPTS),
        })

    def _register_trigger(self) -> None:
        """What the Firebase CLI does for a 2nd gen Firestore trigger: the emulator then posts each
        created user document to the relay as an Eventarc CloudEvent."""
        body = json.dumps({"eventType": "google.cloud.firestore.document.v1.created", "database": DATABASE, "namespace": "(default)",
                           "document": {"value": f"{contract.USERS_COLLECTION}/{{user_id}}", "matchType": "PATH_PATTERN"}}).encode()
        request = urllib.request.Request(
            f"http://{self.firestore.host}/emulator/v1/projects/{PROJECT}/eventarcTrigger?eventarcTriggerId=welcome-relay",
            data=body, method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - loopback
            if reply.status != 200:
                raise RuntimeError(f"the Firestore emulator refused the trigger: {reply.status}")

    def stop(self) -> None:
        for part in ("_pusher", "api", "functions", "issuer", "mail"):
            if hasattr(self, part):
                getattr(self, part).stop()
        for emulator in (getattr(self, "firestore", None), getattr(self, "pubsub", None)):
            if isinstance(emulator, Emulator):
                emulator.stop()

    # The runner's /_local/ endpoints (local_runner.server), as the AWS run answers them.
    def token(self, scopes: list[str] | None = None) -> dict[str, Any]:
        return self.issuer.local_token(scopes)

    def oauth_token(self, *, client_id: str, secret: str | None, scope: str | None) -> dict[str, Any]:
        return self.issuer.token(client_id=client_id, secret=secret, scope=scope)

    def clients(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "client_id": c.client_id, "client_secret": c.secret, "scopes": list(c.scopes)} for c in self.issuer.clients]

    def outbox(self) -> list[SentEmail]:
        return self.mail.emails()

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """The welcome topic's backlog as the books have it (the Pub/Sub emulator keeps no
        metrics): users whose message was published and neither acknowledged nor dead-lettered;
        in flight while a function ran in the last second."""
        recent = time.monotonic() - self.functions.last_call < 1.0
        dead = {_user_of_message(body) for bodies in self.dead_letters().values() for body in bodies}
        return {self.topic.rsplit("/", 1)[1]: {"visible": self.functions.unsettled(dead), "in_flight": int(recent)}}

    def _pull_dead(self) -> list[Any]:
        held: list[Any] = []
        while True:
            # return_immediately: an empty pull on the emulator otherwise waits out its whole timeout.
            reply = self._subscriber.pull(request={"subscription": self.dead_subscription, "max_messages": 100, "return_immediately": True},
                                          timeout=10)
            if not reply.received_messages:
                return held
            held += reply.received_messages

    def dead_letters(self) -> dict[str, list[str]]:
        held = self._pull_dead()
        if held:  # left in place: visible again at once
            self._subscriber.modify_ack_deadline(request={"subscription": self.dead_subscription, "ack_ids": [m.ack_id for m in held],
                                                          "ack_deadline_seconds": 0})
        return {self.dead_topic.rsplit("/", 1)[1]: [m.message.data.decode("utf-8", "replace") for m in held]}

    def redrive(self) -> dict[str, int]:
        """Back to the welcome topic, as an operator does after a fix (tools/gcp_redrive.py, the same code)."""
        from tools.gcp_redrive import redrive

        held = [_user_of_message(body) for bodies in self.dead_letters().values() for body in bodies]
        self.functions.redriven(set(held))  # before they are on the topic: the processor may settle them at once
        moved, deadline = 0, time.monotonic() + 10
        # The emulator makes messages just released (by dead_letters()) pullable again a moment
        # later: pull until every one counted is moved.
        while moved < len(held) and time.monotonic() < deadline:
            moved += redrive(subscriber=self._subscriber, publisher=self._publisher, hold_subscription=self.dead_subscription,
                             topic=self.topic, return_immediately=True)
            if moved < len(held):
                time.sleep(0.1)
        return {self.dead_topic.rsplit("/", 1)[1]: moved}

    def publish(self, message: dict[str, Any]) -> dict[str, Any]:
        """Publishes `message` (as JSON) to the welcome topic, as the relay does: a duplicate or a
        poison message, for tests and for trying the processor by hand."""
        if isinstance(message.get("user_id"), str):
            self.functions.redriven({message["user_id"]})  # before it is on the topic, as for a redrive
        message_id = self._publisher.publish(self.topic, json.dumps(message).encode()).result(timeout=20)
        return {"message_id": message_id}

    def set_faults(self, asked: dict[str, Any]) -> dict[str, Any]:
        rate = asked.get("mail")
        if set(asked) != {"mail"} or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError('send {"mail": R}, R the share of emails the mail provider refuses, from 0 to 1')
        self.mail.fault_rate = float(rate)
        return {"mail": self.mail.fault_rate}

    def status(self) -> dict[str, Any]:
        return {
            "stack": self.stack_name, "cloud": "gcp", "firestore_emulator": self.firestore.host, "pubsub_emulator": self.pubsub.host,
            "functions": {name: {"invocations": self.functions.invocations[name], "failed_invocations": self.functions.failures[name]}
                          for name in ("relay", "processor")},
            "emails_sent": len(self.mail.emails()), "emails_refused_by_provider": self.mail.refused,
            "faults_fired": dict(self.options.faults.fired),
            "api_responses": {str(status): count for status, count in sorted(self.api.answered.items())},
        }


def _user_of_message(text: str) -> str:
    try:
        data = json.loads(text)
        return str(data.get("user_id", "")) if isinstance(data, dict) else ""
    except ValueError:
        return ""
