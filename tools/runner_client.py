"""A client for a local runner in a subprocess, over HTTP only: the end-to-end tests, the ledger
and the fuzz start runners and talk to them through it.

Each runner reads a synthesised cloud assembly, as `make run` reads cdk.out, and binds a free
loopback port that it prints on its ready line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Callable


ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"ready in [\d.]+s: (http://\S+)")
START_TIMEOUT = 60


@dataclass
class Reply:
    status: int
    headers: Message  # names match in any case, as HTTP says (the runner sends them lowercase)
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Runner:
    url: str
    process: subprocess.Popen[str]
    token: str = field(default="")
    stderr: Path | None = None
    start_lines: list[str] = field(default_factory=list)  # what it printed up to its ready line

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                auth: bool = True, raw: bytes | None = None) -> Reply:
        sent = dict(headers or {})
        if auth and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None and "Content-Type" not in sent:
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers, error.read())

    def local(self, name: str, method: str = "GET") -> Any:
        return self.request(method, f"/_local/{name}", auth=False).json()

    def wait_for(self, check: Callable[[], Any], timeout: float = 30, interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(interval)


def runner_env() -> dict[str, str]:
    # A clean environment: nothing of the unit tests' AWS settings leaks into the runner.
    # COVERAGE_*: coverage measures the runner too when the tests run under it (.coveragerc).
    # PYTHONPYCACHEPREFIX: its bytecode goes where make keeps it (build/pycache), not beside the sources.
    kept = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPYCACHEPREFIX")
    return {k: v for k, v in os.environ.items() if k in kept or k.startswith("COVERAGE_")}


def start_runner(assembly: Path, log_file: Path, *args: str) -> Runner:
    errors = log_file.with_suffix(".stderr")
    process = subprocess.Popen(
        [sys.executable, "-m", "local_runner", "serve", "--port", "0", "--assembly", str(assembly), "--log-file", str(log_file),
         "--access-log", str(log_file.with_name("access.log")), *args],
        cwd=ROOT, env=runner_env(), stdout=subprocess.PIPE, stderr=errors.open("w"), text=True)
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    printed: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"runner exited early: {process.wait()} {errors.read_text()}")
        printed.append(line.rstrip("\n"))
        matched = READY.search(line)
        if matched:
            runner = Runner(url=matched.group(1), process=process, stderr=errors, start_lines=printed)
            runner.token = runner.local("token", "POST")["token"]
            return runner
    process.kill()
    raise AssertionError("runner did not get ready in time")


def stop_runner(runner: Runner) -> None:
    stop_runners([runner])


def stop_runners(runners: list[Runner]) -> None:
    """SIGTERM to all at once, then each must exit within 10 s (they shut down side by side)."""
    for runner in runners:
        runner.process.terminate()
    stuck = []
    for runner in runners:
        try:
            runner.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            runner.process.kill()
            stuck.append(runner.url)
    if stuck:
        raise AssertionError(f"runners did not stop on SIGTERM: {', '.join(stuck)}")
