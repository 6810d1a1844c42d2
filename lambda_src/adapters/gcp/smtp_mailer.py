"""The mailer (users.ports.Mailer) over SMTP, for GCP, where no mail service of Google's sends
email: any provider's SMTP relay (SendGrid, Mailgun, Amazon SES's own SMTP endpoint), over TLS.
The password is read from a file: Cloud Run mounts the Secret Manager secret there, so it is in
no environment variable, Terraform variable or state."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from users.ports import EmailContent, MailerError

TIMEOUT_SECONDS = 10


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    tls: str  # implicit (SMTPS), starttls, or none: loopback sinks only (handlers.settings refuses it elsewhere)
    username: str | None  # None: the provider takes mail without AUTH (a relay that trusts the sender's network)
    password: str


class SmtpMailer:
    def __init__(self, *, settings: SmtpSettings, sender: str, context: ssl.SSLContext | None = None) -> None:
        """context: the TLS context (the system's trusted roots, hostnames checked, by default)."""
        self._settings = settings
        self._sender = sender
        self._context = context or ssl.create_default_context()

    def send(self, *, to: str, content: EmailContent) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._sender, to, content.subject
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        message.set_content(content.text)
        s = self._settings
        try:
            if s.tls == "implicit":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=TIMEOUT_SECONDS, context=self._context)
            else:
                connection = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT_SECONDS)
            with connection:
                if s.tls == "starttls":
                    connection.starttls(context=self._context)
                if s.username:
                    connection.login(s.username, s.password)
                connection.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raise MailerError(f"smtp_{exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused:
            raise MailerError("smtp_recipient_refused") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailerError(f"smtp_{type(exc).__name__}") from None
