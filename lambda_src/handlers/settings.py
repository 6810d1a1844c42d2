"""Each function's settings, read once from its environment (the stack sets it; users.contract
names the variables) and checked: a missing or malformed one stops the init with a message that
names it, instead of a KeyError or a ValueError from deep inside the first request.

Plain dataclasses rather than a validation library: the processor never loads pydantic, which was
the largest part of its cold start, and a handful of strings need no more.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from users import contract


class SettingsError(RuntimeError):
    """The function's environment lacks a setting or holds a malformed one."""


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: the stack sets it on the function (cdk_app/stack.py)")
    return value


def _whole_number(environ: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < minimum:
        raise SettingsError(f"{name} is {text!r}: give a whole number of at least {minimum}")
    return int(text)


@dataclass(frozen=True, kw_only=True)
class UsersApiSettings:
    table_name: str
    region: str
    write_region: str  # where creates commit; this region's replica serves reads
    cors_origins: tuple[str, ...]
    creates_per_caller_per_hour: int | None  # None: no per-caller limit
    cursor_key_secret: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> UsersApiSettings:
        region = _required(environ, "AWS_REGION")
        return cls(
            table_name=_required(environ, contract.ENV_TABLE_NAME),
            region=region,
            write_region=environ.get(contract.ENV_WRITE_REGION, "").strip() or region,
            cors_origins=tuple(o for o in environ.get(contract.ENV_CORS_ORIGINS, "").split(",") if o),
            creates_per_caller_per_hour=_whole_number(environ, contract.ENV_CREATES_PER_CALLER_PER_HOUR, minimum=1),
            cursor_key_secret=_required(environ, contract.ENV_CURSOR_KEY_SECRET),
        )


@dataclass(frozen=True, kw_only=True)
class NotificationsSettings:
    table_name: str
    sender: str
    lease_seconds: int  # a delivery's lease: longer than any invocation holding it

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> NotificationsSettings:
        lease = _whole_number(environ, contract.ENV_DELIVERY_LEASE_SECONDS, minimum=1)
        if lease is None:
            raise SettingsError(f"{contract.ENV_DELIVERY_LEASE_SECONDS} is not set: the stack sets it on the function (cdk_app/notifications.py)")
        return cls(table_name=_required(environ, contract.ENV_TABLE_NAME), sender=_required(environ, contract.ENV_SENDER_ADDRESS),
                   lease_seconds=lease)
