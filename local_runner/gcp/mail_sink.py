"""The mail provider, locally: aiosmtpd's SMTP server on loopback, keeping what it accepts. A
fault rate makes it refuse a share of messages with a transient 451, as a provider under load
does, so the processor's retries and dead letters are exercised."""

from __future__ import annotations

import datetime as dt
import random
import threading
from email import message_from_bytes, policy
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller

from local_runner.gcp.emulators import free_port
from local_runner.runner import SentEmail


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self._sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:  # noqa: N802
        if address in self._sink.unknown_mailboxes:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        return self._sink.accept(envelope)


class MailSink:
    def __init__(self, *, refuses: Callable[[], bool] = lambda: False, **smtp: Any) -> None:
        """refuses: whether to refuse the next message (the run's injected mail.reject faults).
        smtp: aiosmtpd's own settings (ssl_context for implicit TLS, tls_context and
        require_starttls, authenticator), for the mailer's tests."""
        self.sent: list[SentEmail] = []
        self.unknown_mailboxes: set[str] = set()  # refused at RCPT, as a provider refuses a mailbox it knows is gone
        self.refused = 0
        self._lock = threading.Lock()
        self._refuses = refuses
        self.fault_rate = 0.0  # a share refused on top, set while the run serves (POST /_local/faults)
        self._random = random.Random()
        self.port = free_port()  # aiosmtpd's start connects to its port to check it: a real one, not 0
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **smtp)
        self._controller.start()

    def accept(self, envelope: Any) -> str:
        with self._lock:
            if self._refuses() or (self.fault_rate and self._random.random() < self.fault_rate):
                self.refused += 1
                return "451 4.3.0 local sink: injected provider fault, try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            body = message.get_body(("plain",))
            self.sent.append(SentEmail(to=list(envelope.rcpt_tos), subject=str(message["Subject"]),
                                       sent_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                                       sender=envelope.mail_from, body=body.get_content().replace("\r\n", "\n") if body is not None else ""))
        return "250 OK"

    def emails(self) -> list[SentEmail]:
        with self._lock:
            return list(self.sent)

    def stop(self) -> None:
        self._controller.stop()
