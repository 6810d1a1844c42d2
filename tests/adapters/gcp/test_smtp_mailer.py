"""The SMTP mailer against a real SMTP server (aiosmtpd, the local run's mail sink)."""

from __future__ import annotations

import datetime
import email
import ipaddress
import smtplib
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.gcp import smtp_mailer
from adapters.gcp.smtp_mailer import SmtpMailer, SmtpSettings
from local_runner.gcp.emulators import free_port
from local_runner.gcp.mail_sink import MailSink
from users.ports import EmailContent, MailerError

CONTENT = EmailContent(subject="Welcome to Archon", text="Hello,\n\nan account was created.\n")


@pytest.fixture(autouse=True)
def _short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider that does not answer is given up on within the timeout; here, 2 s instead of 10."""
    monkeypatch.setattr(smtp_mailer, "TIMEOUT_SECONDS", 2)


@pytest.fixture
def sink() -> Iterator[MailSink]:
    mail = MailSink()
    yield mail
    mail.stop()


def _mailer(port: int) -> SmtpMailer:
    return SmtpMailer(settings=SmtpSettings(host="127.0.0.1", port=port, tls="none", username=None, password=""), sender="welcome@archon.example.com")


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
    mailer = SmtpMailer(settings=SmtpSettings(host="127.0.0.1", port=sink.port, tls="starttls", username=None, password=""), sender="welcome@archon.example.com")
    with pytest.raises(MailerError) as refused:
        mailer.send(to="ada@example.com", content=CONTENT)
    assert refused.value.reason == "smtp_SMTPNotSupportedError" and sink.emails() == []


def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context and a client's that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    return server, client


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=auth_data.login == b"apikey" and auth_data.password == b"s3cret")


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_over_tls_with_the_providers_credentials(tmp_path: Path, mode: str) -> None:
    server, client = _tls(tmp_path)
    # aiosmtpd offers AUTH on implicit TLS only with auth_require_tls off (it counts STARTTLS alone as TLS).
    tls = ({"ssl_context": server, "auth_require_tls": False} if mode == "implicit"
           else {"tls_context": server, "require_starttls": True, "auth_require_tls": True})
    sink = MailSink(authenticator=_authenticator, **tls)
    try:
        mailer = SmtpMailer(settings=SmtpSettings(host="127.0.0.1", port=sink.port, tls=mode, username="apikey", password="s3cret"),
                            sender="welcome@archon.example.com", context=client)
        mailer.send(to="ada@example.com", content=CONTENT)
        (email,) = sink.emails()
        assert email.to == ["ada@example.com"]
    finally:
        sink.stop()


def test_refused_credentials_are_the_providers_code(sink: MailSink) -> None:
    """aiosmtpd hangs up on a failed AUTH after a pause; a provider answers 535, as smtplib raises it."""
    mailer = SmtpMailer(settings=SmtpSettings(host="127.0.0.1", port=sink.port, tls="none", username="apikey", password="guess"),
                        sender="welcome@archon.example.com")
    with mock.patch("smtplib.SMTP.login", side_effect=smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials")), \
            pytest.raises(MailerError) as refused:
        mailer.send(to="ada@example.com", content=CONTENT)
    assert refused.value.reason == "smtp_535" and sink.emails() == []


def test_a_server_whose_certificate_is_not_trusted_gets_nothing(tmp_path: Path) -> None:
    server, _ = _tls(tmp_path)
    sink = MailSink(ssl_context=server)
    try:
        mailer = SmtpMailer(settings=SmtpSettings(host="127.0.0.1", port=sink.port, tls="implicit", username=None, password=""), sender="welcome@archon.example.com")
        with pytest.raises(MailerError) as refused:
            mailer.send(to="ada@example.com", content=CONTENT)
        assert refused.value.reason == "smtp_SSLCertVerificationError" and sink.emails() == []
    finally:
        sink.stop()


def test_a_refused_recipient_is_named_so(sink: MailSink) -> None:
    sink.unknown_mailboxes.add("gone@example.com")
    with pytest.raises(MailerError) as refused:
        _mailer(sink.port).send(to="gone@example.com", content=CONTENT)
    assert refused.value.reason == "smtp_recipient_refused" and sink.emails() == []


def test_the_message_carries_an_id_of_the_senders_domain(sink: MailSink) -> None:
    seen: list[bytes] = []
    original = sink.accept

    def keep(envelope: Any) -> str:
        seen.append(envelope.content)
        return original(envelope)

    sink.accept = keep  # type: ignore[method-assign]
    _mailer(sink.port).send(to="ada@example.com", content=CONTENT)
    message = email.message_from_bytes(seen[0])
    assert message["Message-ID"].endswith("@archon.example.com>") and message["From"] == "welcome@archon.example.com"


def test_a_provider_that_never_answers_is_given_up_on() -> None:
    """Connected, but no greeting: the mailer fails within its timeout instead of holding the
    processor until the platform kills it."""
    listener = socket.create_server(("127.0.0.1", 0))
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            _mailer(listener.getsockname()[1]).send(to="ada@example.com", content=CONTENT)
        except BaseException as exc:  # noqa: BLE001 - whatever it is, the test reports it
            outcome.append(exc)

    try:
        worker = threading.Thread(target=send, daemon=True)
        worker.start()
        worker.join(8)
        assert not worker.is_alive(), "the mailer waited past its timeout"
    finally:
        listener.close()
    (error,) = outcome
    assert isinstance(error, MailerError) and error.reason == "smtp_SMTPServerDisconnected"  # smtplib words a timeout so
