"""What counts as this machine's loopback: for the address the runner binds, the peer a request
comes from, and the Host a request names."""

from __future__ import annotations

import ipaddress
import re

_HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::[0-9]{1,5})?")


def is_loopback_address(address: str) -> bool:
    """127.0.0.0/8, ::1 or the name localhost."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str) -> bool:
    """Whether a Host header is exactly one name of this machine's loopback, with an optional
    port: 127.0.0.0/8, [::1] or localhost (a list, a path or anything after them is not)."""
    matched = _HOST.fullmatch(host)
    if matched is None:
        return False
    return is_loopback_address((matched.group("v6") or matched.group("name")).lower())
