"""The SMTP mailer against a real SMTP server (aiosmtpd, the local run's mail sink)."""

from __future__ import annotations

from typing import Iterator

import pytest

from adapters.gcp.smtp_mailer import SmtpMailer, SmtpSettings
from local_runner.gcp.emulators import free_port
from local_runner.gcp.mail_sink import MailSink
from users.ports import EmailContent, MailerError

CONTENT = EmailContent(subject="Welcome to Archon", text="Hello,\n\nan account was created.\n")


@pytest.fixture
def sink() -> Iterator[MailSink]:
    mail = MailSink()
    yield mail
    mail.stop()


def _mailer(port: int) -> SmtpMailer:
    return SmtpMailer(settings=SmtpSettings(host="127.0.0.1", port=port, tls="none"), sender="welcome@archon.example.com")


def test_the_email_reaches_the_provider_as_sent(sink: MailSink) -> None:
    _mailer(sink.port).send(to="ada@example.com", content=CONTENT)
    (email,) = sink.emails()
    assert email.to == ["ada@example.com"] and email.sender == "welcome@archon.example.com"
    assert email.subject == CONTENT.subject and email.body == CONTENT.text


def test_a_provider_refusal_is_a_mailer_error_naming_its_code(sink: MailSink) -> None:
    sink.fault_rate = 1.0
    with pytest.raises(MailerError) as refused:
        _mailer(sink.port).send(to="ada@example.com", content=CONTENT)
    assert refused.value.reason == "smtp_451" and sink.emails() == []


def test_an_unreachable_provider_is_a_mailer_error() -> None:
    with pytest.raises(MailerError) as unreachable:
        _mailer(free_port()).send(to="ada@example.com", content=CONTENT)
    assert unreachable.value.reason == "smtp_ConnectionRefusedError"


def test_a_plain_connection_is_refused_when_starttls_is_required(sink: MailSink) -> None:
    """aiosmtpd here offers no STARTTLS: a mailer that requires it must fail, not send in clear."""
    mailer = SmtpMailer(settings=SmtpSettings(host="127.0.0.1", port=sink.port, tls="starttls"), sender="welcome@archon.example.com")
    with pytest.raises(MailerError) as refused:
        mailer.send(to="ada@example.com", content=CONTENT)
    assert refused.value.reason == "smtp_SMTPNotSupportedError" and sink.emails() == []
