"""Fault injection for the local run: AWS errors answered in place of the emulator, and crashes.

AWS faults hook botocore's `before-call` on the functions' clients: the call returns the error
the SDK would raise once its retries were spent, and the emulator never sees it (so a rejected
email is not also "sent"). Opt-in only:
`--fault NAME=RATE` (RATE from 0 to 1), `--fault-limit N` caps how many times each one fires.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from local_runner import moto_compat

# name -> (botocore event, HTTP status, error code, message, extra fields): the error as the SDK
# hands it to the caller once its own retries are spent.
AWS_FAULTS: dict[str, tuple[str, int, str, str, dict[str, Any]]] = {
    "dynamodb.throttle": ("before-call.dynamodb", 400, "ProvisionedThroughputExceededException",
                          "Rate of requests exceeds the allowed throughput (injected).", {}),
    "dynamodb.conflict": ("before-call.dynamodb.TransactWriteItems", 400, "TransactionCanceledException",
                          "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
                          {"CancellationReasons": [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item (injected)"},
                                                   {"Code": "None"}]}),
    "ses.throttle": ("before-call.sesv2.SendEmail", 429, "TooManyRequestsException", "Maximum sending rate exceeded (injected).", {}),
    "ses.reject": ("before-call.sesv2.SendEmail", 400, "MessageRejected", "Email address is on the suppression list (injected).", {}),
}
CRASHES = ("processor.crash", "api.crash")
KNOWN = tuple(AWS_FAULTS) + CRASHES
# The GCP run's (local_runner/gcp/service.py): the relay or the processor crashes, before or after
# its work (as a process can die anywhere); Pub/Sub delivers a message twice; the mail provider
# refuses a message with a transient error.
GCP_KNOWN = ("relay.crash", "processor.crash", "pubsub.duplicate", "mail.reject")


class FaultSpecError(ValueError):
    pass


class InjectedCrash(BaseException):
    """A crash of the function process: BaseException, so no `except Exception` in the function
    swallows it, as no handler code survives a real crash."""


@dataclass
class Faults:
    rates: dict[str, float] = field(default_factory=dict)
    limit: int | None = None
    seed: int | None = None
    fired: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        # One stream of draws per fault: with a seed, the n-th SES call meets the same fate however
        # the API's and the pollers' threads interleave. One shared stream made the seed repeat
        # nothing under concurrency (the short ledger's SES throttling fired in some runs, not others).
        self._randoms = {name: random.Random(f"{self.seed}:{name}" if self.seed is not None else None) for name in self.rates}
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, specs: list[str], *, limit: int | None = None, seed: int | None = None,
              known: tuple[str, ...] = KNOWN) -> Faults:
        rates = {}
        for spec in specs:
            name, sep, rate = spec.partition("=")
            if name not in known:
                raise FaultSpecError(f"unknown fault '{name}': choose from {', '.join(known)}")
            try:
                value = float(rate) if sep else 1.0
            except ValueError:
                value = -1.0
            if not 0.0 <= value <= 1.0:
                raise FaultSpecError(f"fault '{spec}': the rate must be a number from 0 to 1, e.g. {name}=0.1")
            rates[name] = value
        return cls(rates=rates, limit=limit, seed=seed)

    def fire(self, name: str) -> bool:
        rate = self.rates.get(name, 0.0)
        if rate <= 0.0:
            return False
        with self._lock:
            if self.limit is not None and self.fired[name] >= self.limit:
                return False
            if self._randoms[name].random() >= rate:
                return False
            self.fired[name] += 1
            return True

    def fire_after(self, name: str) -> bool:
        """Where a fired crash strikes: after the function did its work (True) or before (False),
        even odds, from a seeded stream of its own."""
        with self._lock:
            stream = self._randoms.setdefault(f"{name}/after", random.Random(f"{self.seed}:{name}/after" if self.seed is not None else None))
            return stream.random() < 0.5

    def install(self) -> None:
        """Hooks the AWS faults into the default boto3 session, which the functions' clients use.
        Call before the function modules are imported."""
        if boto3.DEFAULT_SESSION is None:  # the emulator may have set it up already
            boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events
        for name, (event, status, code, message, extra) in AWS_FAULTS.items():
            if self.rates.get(name, 0.0) > 0.0:
                events.register_first(event, self._responder(name, status, code, message, extra))

    def _responder(self, name: str, status: int, code: str, message: str, extra: dict[str, Any]) -> Any:
        def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if not self.fire(name):
                return None
            metadata = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RequestId": "injected-fault"}
            return (AWSResponse("https://injected.local/", status, {}, moto_compat.raw_response(b"")),
                    {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata, **extra})

        return respond

    def wrap_processor(self, module: Any) -> None:
        """The processor crashes before a record, after the batch's earlier records were handled."""
        if self.rates.get("processor.crash", 0.0) <= 0.0:
            return
        original = module.record_handler

        def record_handler(record: Any) -> Any:
            if self.fire("processor.crash"):
                raise InjectedCrash("processor crashed mid-batch (injected)")
            return original(record)

        module.record_handler = record_handler

    def wrap_api(self, module: Any) -> None:
        """The users API's domain layer raises an unexpected error."""
        if self.rates.get("api.crash", 0.0) <= 0.0:
            return
        service = module.service
        for method in ("create", "get", "list"):
            original = getattr(service, method)

            def crashing(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                if self.fire("api.crash"):
                    raise RuntimeError("injected failure")
                return _original(*args, **kwargs)

            setattr(service, method, crashing)
