"""The proxy event, as the local gateway builds it: handlers.proxy_event in the emulated account."""

from __future__ import annotations

from typing import Any

from handlers.proxy_event import proxy_event as _proxy_event
from local_runner.wiring import ACCOUNT


def proxy_event(**fields: Any) -> dict[str, Any]:
    return _proxy_event(account=ACCOUNT, **fields)
