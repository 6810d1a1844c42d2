"""The SQS event source mapping: batches from the queue to the function, as the template says.

Like Lambda's poller it gathers up to the batch size or until the batching window closes,
deletes what succeeded, and leaves reported failures (or the whole batch, if the function
failed) on the queue, where the redrive policy dead-letters repeat failures.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any, Callable

from local_runner.emulator import Emulator
from local_runner.provisioning import LocalResources
from local_runner.functions import FunctionError, FunctionHost
from local_runner.turns import ApiFirst
from local_runner.wiring import EventSourceSpec, Wiring

log = logging.getLogger("archon.local.event_source")
IDLE_POLL_SECONDS = 0.1  # while a batching window is open
EMPTY_QUEUE_WAIT_SECONDS = 0.5  # Lambda long-polls an empty queue; here each poll costs emulator CPU


class QueueEventSource:
    def __init__(
        self,
        *,
        spec: EventSourceSpec,
        wiring: Wiring,
        emulator: Emulator,
        resources: LocalResources,
        host: FunctionHost,
        lock: threading.RLock,
        turns: ApiFirst | None = None,
        batching_window: float | None = None,
        redelivery_seconds: int | None = None,
        after_batch: Callable[[], None] = lambda: None,
    ) -> None:
        self.spec = spec
        self._sqs = emulator.client("sqs")
        self._url = resources.queue_urls[spec.queue_logical_id]
        self._arn = resources.queue_arns[spec.queue_logical_id]
        self._region = wiring.region
        self._host = host
        self._lock = lock
        self._turns = turns or ApiFirst()
        # Defaults are the template's: the batching window, and the queue's visibility timeout
        # before a failed message is seen again.
        self.batching_window = spec.batching_window_seconds if batching_window is None else batching_window
        self.redelivery_seconds = redelivery_seconds
        self._after_batch = after_batch
        self.invocations = 0
        self.failed_invocations = 0
        self.poll_errors = 0

    def _receive(self, wanted: int) -> list[dict[str, Any]]:
        with self._lock:
            return self._sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=min(10, wanted),
                AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])

    def gather(self, stop: threading.Event) -> list[dict[str, Any]]:
        batch = self._receive(self.spec.batch_size)
        if not batch:
            return []
        closes = time.monotonic() + self.batching_window
        while len(batch) < self.spec.batch_size and not stop.is_set():
            more = self._receive(self.spec.batch_size - len(batch))
            batch.extend(more)
            if time.monotonic() >= closes:
                break
            if not more:
                stop.wait(min(IDLE_POLL_SECONDS, max(0.0, closes - time.monotonic())))
        return batch

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [{
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self._region,
        } for m in messages]}

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        failed_ids = {m["MessageId"] for m in messages}
        self.invocations += 1
        try:
            response = self._host.invoke(self.spec.function_logical_id, self.event(messages))
        except FunctionError:
            self.failed_invocations += 1
        else:
            failed_ids = self._reported_failures(response, messages) if self.spec.report_batch_item_failures else set()
        finally:
            self._after_batch()
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages) if m["MessageId"] not in failed_ids]
        with self._lock:
            if done:  # one DeleteMessageBatch, as the event source mapping deletes
                self._sqs.delete_message_batch(QueueUrl=self._url, Entries=done)
            if self.redelivery_seconds is not None:
                for message in messages:
                    if message["MessageId"] in failed_ids:
                        self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"],
                                                           VisibilityTimeout=self.redelivery_seconds)

    @staticmethod
    def _reported_failures(response: Any, messages: list[dict[str, Any]]) -> set[str]:
        ids = {m["MessageId"] for m in messages}
        if response is None:
            return set()
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if failures is None:
            return set()
        reported = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
        if not reported <= ids:  # an unknown or empty id: Lambda treats the whole batch as failed
            return ids
        return {r for r in reported if r}

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._turns.wait_turn(stop)
                batch = self.gather(stop)
                if batch:
                    self._turns.wait_turn(stop)
                    self.deliver(batch)
                    continue
            except Exception:  # a poller must outlive one bad poll; messages stay on the queue
                log.exception("event source for %s: poll failed; retrying", self.spec.function_logical_id)
                self.poll_errors += 1
            stop.wait(EMPTY_QUEUE_WAIT_SECONDS)
