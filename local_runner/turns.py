"""Who runs next in the one local process: API requests first, the pollers in the gaps.

On AWS the Pipe and the processor have their own compute, so a burst of sign-ups does not slow
the API. Here they share one interpreter (one GIL, one invocation at a time), and a processor
batch holds it for a while. So the pollers (the Pipe, the event source) take a turn once the API
has been quiet for QUIET_SECONDS, and never wait longer than MAX_WAIT_SECONDS: under a sustained
load they still move one batch a second, and the welcome emails catch up when the load stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

QUIET_SECONDS = 0.05
MAX_WAIT_SECONDS = 1.0


class ApiFirst:
    def __init__(self, *, quiet: float = QUIET_SECONDS, max_wait: float = MAX_WAIT_SECONDS) -> None:
        self.quiet, self.max_wait = quiet, max_wait
        self._lock = threading.Lock()
        self._active = 0
        self._last_request = 0.0  # monotonic time the last request ended
        self.deferred = 0  # turns that had to wait for the API, for /_local/status

    @contextmanager
    def request(self) -> Iterator[None]:
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                self._last_request = time.monotonic()

    def _quiet_for(self) -> float:
        with self._lock:
            return 0.0 if self._active else time.monotonic() - self._last_request

    def wait_turn(self, stop: threading.Event) -> None:
        """Returns once the API has been quiet for `quiet` seconds, `max_wait` has passed, or
        the runner is stopping."""
        deadline = time.monotonic() + self.max_wait
        waited = False
        while not stop.is_set():
            quiet_for = self._quiet_for()
            left = deadline - time.monotonic()
            if quiet_for >= self.quiet or left <= 0:
                break
            waited = True
            stop.wait(min(left, self.quiet - quiet_for))
        if waited:
            with self._lock:
                self.deferred += 1
