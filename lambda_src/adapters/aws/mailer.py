"""The mailer (users.ports.Mailer) on Amazon SES (API v2)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from adapters.aws.users_table import error_code
from users.ports import EmailContent, MailerError


class SesMailer:
    def __init__(self, *, client: Any, sender: str) -> None:
        self._ses = client
        self._sender = sender

    def send(self, *, to: str, content: EmailContent) -> None:
        try:
            self._ses.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [to]},
                Content={"Simple": {
                    "Subject": {"Data": content.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": content.text, "Charset": "UTF-8"}},
                }},
            )
        except ClientError as exc:
            raise MailerError(f"ses_{error_code(exc)}") from None
