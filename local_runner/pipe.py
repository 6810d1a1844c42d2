"""The EventBridge Pipe from the table's stream to the queue, as the template configures it:
its filters (matched by moto's EventBridge pattern engine), batch size, retries, dead-letter
queue and input template."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from typing import Any


from local_runner import moto_compat
from local_runner.emulator import Emulator
from local_runner.provisioning import LocalResources
from local_runner.turns import ApiFirst
from local_runner.wiring import PipeSpec, WiringError

log = logging.getLogger("archon.local.pipe")
_PLACEHOLDER = re.compile(r"<(\$[^>]*)>")
_DOTTED = re.compile(r"^\$(\.[A-Za-z0-9_-]+)+$")
POLL_SECONDS = 0.25  # Pipes polls each stream shard about four times a second
SHARD_REFRESH_SECONDS = 5.0


class TemplateError(Exception):
    pass


def check_template(template: str, pipe: str) -> None:
    for path in _PLACEHOLDER.findall(template):
        if not _DOTTED.match(path):
            raise WiringError(f"pipe {pipe}: input template path {path} is not emulated (only dotted paths like $.a.b are)")


def render(template: str, record: dict[str, Any]) -> str:
    """Pipes' input template: `<$.path>` replaced by the value; inside quotes, as string content."""

    def lookup(path: str) -> Any:
        value: Any = record
        for part in path[2:].split("."):
            if not isinstance(value, dict) or part not in value:
                raise TemplateError(f"{path} is not in the record")
            value = value[part]
        return value

    def substitute(match: re.Match[str]) -> str:
        value = lookup(match.group(1))
        quoted = match.start() > 0 and template[match.start() - 1] == '"' and template[match.end():match.end() + 1] == '"'
        if quoted:
            return json.dumps(value if isinstance(value, str) else json.dumps(value))[1:-1]
        return json.dumps(value)

    return _PLACEHOLDER.sub(substitute, template)


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the stream's JSON carries it (creation time as epoch seconds)."""
    def default(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.timestamp()
        return str(value)

    return json.loads(json.dumps(record, default=default))


class StreamPipe:
    def __init__(self, *, spec: PipeSpec, emulator: Emulator, resources: LocalResources, lock: threading.RLock,
                 turns: ApiFirst | None = None) -> None:
        if spec.input_template:
            check_template(spec.input_template, spec.name)
        self.spec = spec
        self._patterns = [moto_compat.event_pattern(p) for p in spec.filters]
        self._streams = emulator.client("dynamodbstreams")
        self._sqs = emulator.client("sqs")
        self._stream_arn = resources.stream_arn
        self._target = resources.queue_urls[spec.target_queue_logical_id]
        self._dead_letter = resources.queue_urls.get(spec.dead_letter_logical_id or "")
        self._lock = lock
        self._turns = turns or ApiFirst()
        self._positions: dict[str, str] = {}  # shard id -> last sequence number read
        self._shards: list[dict[str, Any]] = []
        self._shards_refresh = 0.0
        self.forwarded = 0
        self.poll_errors = 0
        self.dead_lettered = 0

    def matches(self, record: dict[str, Any]) -> bool:
        return not self._patterns or any(matches(record) for matches in self._patterns)

    def poll_once(self) -> int:
        """Reads each shard once; returns how many records it read.

        The pipe keeps its position as a sequence number and asks for a fresh iterator each
        poll, as Pipes does after an iterator's 15 minutes: an iterator is never kept."""
        with self._lock:
            if time.monotonic() >= self._shards_refresh:
                self._shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
                self._shards_refresh = time.monotonic() + SHARD_REFRESH_SECONDS
            batches = []
            for shard in self._shards:
                shard_id = shard["ShardId"]
                position = self._positions.get(shard_id)
                # The table starts empty with the runner, so LATEST and TRIM_HORIZON start alike.
                where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position} if position else {"ShardIteratorType": "TRIM_HORIZON"}
                iterator = self._streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, **where)["ShardIterator"]
                records = self._streams.get_records(ShardIterator=iterator, Limit=self.spec.batch_size)["Records"]
                if records:
                    self._positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                batches.append(records)
        seen = 0
        for records in batches:
            seen += len(records)
            for record in map(_jsonable, records):
                if self.matches(record):
                    self._forward(record)
        return seen

    def _forward(self, record: dict[str, Any]) -> None:
        try:
            body = render(self.spec.input_template, record) if self.spec.input_template else json.dumps(record)
        except TemplateError as exc:
            self._dead_letter_record(record, str(exc))
            return
        attempts = max(self.spec.maximum_retry_attempts, 0) + 1
        for attempt in range(attempts):
            try:
                with self._lock:
                    self._sqs.send_message(QueueUrl=self._target, MessageBody=body)
                self.forwarded += 1
                return
            except Exception as exc:  # the target refused: retry like Pipes, then dead-letter
                reason = exc.__class__.__name__
                time.sleep(min(0.05 * 2**attempt, 1.0))
        self._dead_letter_record(record, reason)

    def _dead_letter_record(self, record: dict[str, Any], reason: str) -> None:
        if not self._dead_letter:
            return
        # Pipes dead-letters a pointer to the stream batch, not the record's data.
        detail = {"context": {"pipeArn": self.spec.name, "condition": reason},
                  "DDBStreamBatchInfo": {"streamArn": self._stream_arn,
                                         "startSequenceNumber": record.get("dynamodb", {}).get("SequenceNumber"),
                                         "batchSize": 1}}
        with self._lock:
            self._sqs.send_message(QueueUrl=self._dead_letter, MessageBody=json.dumps(detail))
        self.dead_lettered += 1

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._turns.wait_turn(stop)
            started = time.monotonic()
            try:
                read = self.poll_once()
            except Exception:  # a poller must outlive one bad poll, as Pipes retries
                log.exception("pipe %s: poll failed; retrying", self.spec.name)
                self.poll_errors += 1
                read = 0
            # A full batch means a backlog: read on at once. Otherwise wait for the next poll, as
            # Pipes does, so records that arrive meanwhile share one read.
            if read < self.spec.batch_size:
                stop.wait(max(0.0, POLL_SECONDS - (time.monotonic() - started)))
