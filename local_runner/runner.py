"""Puts the local service together: emulator, the template's resources, functions, Pipe, event
source and API, in the order a deployment would create them."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_runner.emulator import Emulator
from local_runner.provisioning import LocalResources, provision
from local_runner.tokens import client_credentials_token, local_token
from local_runner.event_source import QueueEventSource
from local_runner.faults import Faults
from local_runner.functions import FunctionHost
from local_runner.gateway import RestApi
from local_runner.pipe import StreamPipe
from local_runner.turns import ApiFirst
from local_runner.wiring import Wiring, load_wiring
from users import contract


@dataclass
class Options:
    assembly: Path = Path("cdk.out")
    stage: str = "dev"
    backend: str = "memory"
    moto_port: int = 0
    batching_window: float | None = None
    redelivery_seconds: int | None = None
    creates_per_caller: int | None = None  # replaces the template's hourly limit (load tools, tests)
    faults: Faults = field(default_factory=Faults)


@dataclass
class SentEmail:
    to: list[str]
    subject: str
    sent_at: str
    sender: str
    body: str


class LocalService:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.wiring: Wiring = load_wiring(options.assembly, options.stage)
        self.emulator = Emulator(backend=options.backend, region=self.wiring.region, moto_port=options.moto_port)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._outbox: list[SentEmail] = []
        self._outbox_lock = threading.Lock()

    def start(self, *, workers: bool = True) -> None:
        self.emulator.start()
        self.resources: LocalResources = provision(self.emulator, self.wiring)
        self._sqs = self.emulator.client("sqs")  # for the /_local endpoints, made before any function runs
        self.options.faults.install()
        overrides = {contract.ENV_CREATES_PER_CALLER_PER_HOUR: str(self.options.creates_per_caller)} if self.options.creates_per_caller else None
        self.host = FunctionHost(wiring=self.wiring, resources=self.resources, overrides=overrides,
                                 extra_environment={"AWS_ENDPOINT_URL": self.emulator.endpoint_url} if self.emulator.endpoint_url else None)
        for source in self.wiring.event_sources:
            self.options.faults.wrap_processor(self.host.module(source.function_logical_id))
        api_functions = {m.function_logical_id for methods in self.wiring.routes.values() for m in methods.values() if m.function_logical_id}
        for logical_id in api_functions:
            self.options.faults.wrap_api(self.host.module(logical_id))
        self.turns = ApiFirst()
        self.api = RestApi(wiring=self.wiring, resources=self.resources, host=self.host, turns=self.turns)
        lock = self.host.lock
        self.pipes = [StreamPipe(spec=spec, emulator=self.emulator, resources=self.resources, lock=lock, turns=self.turns)
                      for spec in self.wiring.pipes]
        self.event_sources = [
            QueueEventSource(spec=spec, wiring=self.wiring, emulator=self.emulator, resources=self.resources, host=self.host, lock=lock,
                             turns=self.turns, batching_window=self.options.batching_window, redelivery_seconds=self.options.redelivery_seconds,
                             after_batch=self._collect_emails)
            for spec in self.wiring.event_sources]
        if workers:
            self.start_workers(self.pipes)
            self.start_workers(self.event_sources)

    def start_workers(self, workers: list[Any]) -> None:
        """Starts pollers (the Pipes, the event sources). start(workers=False) leaves them to the
        caller: the drain benchmark queues a backlog before the processor starts."""
        for worker in workers:
            thread = threading.Thread(target=worker.run, args=(self._stop,), name=type(worker).__name__, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.emulator.stop()

    def _collect_emails(self) -> None:
        """Stamps the emails SES accepted since the last batch with the time they were sent."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        with self._outbox_lock:
            for message in self.emulator.sent_emails(since=len(self._outbox)):
                self._outbox.append(SentEmail(to=list(message.destinations.get("ToAddresses", [])), subject=message.subject,
                                             sent_at=now, sender=message.source, body=message.body))

    def _emails_sent(self) -> int:
        self._collect_emails()
        with self._outbox_lock:
            return len(self._outbox)

    def outbox(self) -> list[SentEmail]:
        self._collect_emails()
        with self._outbox_lock:
            return list(self._outbox)

    def queue_depths(self) -> dict[str, dict[str, int]]:
        sqs = self._sqs
        depths = {}
        with self.host.lock:
            for logical_id, url in self.resources.queue_urls.items():
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                depths[self.wiring.queues[logical_id].name] = {
                    "visible": int(attributes["ApproximateNumberOfMessages"]), "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"])}
        return depths

    def dead_letters(self) -> dict[str, list[str]]:
        """The bodies waiting in every dead-letter queue, left in place (visible again at once)."""
        sqs = self._sqs
        found: dict[str, list[str]] = {}
        with self.host.lock:
            for logical_id, url in self.resources.queue_urls.items():
                name = self.wiring.queues[logical_id].name
                if not name.endswith("-dlq"):
                    continue
                held = []
                while True:
                    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
                    if not batch:
                        break
                    held += batch
                for message in held:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
                found[name] = [m["Body"] for m in held]
        return found

    def redrive(self) -> dict[str, int]:
        """Moves every dead letter back to the queue it came from, as `aws sqs
        start-message-move-task` does after a fix (docs/operations.md); moto has no move task.
        Returns how many left each dead-letter queue."""
        sqs = self._sqs
        moved: dict[str, int] = {}
        with self.host.lock:
            for spec in self.wiring.queues.values():
                if not spec.dead_letter_logical_id:
                    continue
                source, dead = self.resources.queue_urls[spec.logical_id], self.resources.queue_urls[spec.dead_letter_logical_id]
                count = 0
                while batch := sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                                   MessageAttributeNames=["All"]).get("Messages", []):
                    sqs.send_message_batch(QueueUrl=source, Entries=[
                        {"Id": str(i), "MessageBody": m["Body"], **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})}
                        for i, m in enumerate(batch)])
                    sqs.delete_message_batch(QueueUrl=dead, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
                    count += len(batch)
                moved[self.wiring.queues[spec.dead_letter_logical_id].name] = count
        return moved

    def token(self, scopes: list[str] | None = None) -> dict[str, Any]:
        """An access token with `scopes` (by default every scope of the broadest client); raises
        TokenRefused when no client of the template may have them."""
        return local_token(self.resources, scopes)

    def clients(self) -> list[dict[str, Any]]:
        names = {c.logical_id: c.name for c in self.wiring.user_pool.clients}
        return [{"name": names[logical_id], "client_id": c.client_id, "client_secret": c.secret, "scopes": list(c.scopes)}
                for logical_id, c in self.resources.clients.items()]

    def oauth_token(self, *, client_id: str, secret: str | None, scope: str | None) -> dict[str, Any]:
        """The pool's token endpoint (client-credentials grant), as a deployed client calls it."""
        return client_credentials_token(self.resources, client_id=client_id, secret=secret, scope=scope)

    def status(self) -> dict[str, Any]:
        return {
            "stack": self.wiring.stack_name, "region": self.wiring.region, "backend": self.options.backend,
            "endpoint_url": self.emulator.endpoint_url,
            "pipes": {p.spec.name: {"forwarded": p.forwarded, "dead_lettered": p.dead_lettered, "poll_errors": p.poll_errors}
                      for p in self.pipes},
            "event_sources": {self.wiring.functions[e.spec.function_logical_id].name: {"invocations": e.invocations, "failed_invocations": e.failed_invocations, "poll_errors": e.poll_errors,
                                                           "batching_window_seconds": e.batching_window} for e in self.event_sources},
            "poller_turns_deferred": self.turns.deferred,
            # How many welcome emails went out, without the outbox's every email (make outbox lists them).
            "emails_sent": self._emails_sent(),
            "faults_fired": dict(self.options.faults.fired),
            "api_responses": {str(status): count for status, count in sorted(self.api.answered.items())},
        }
