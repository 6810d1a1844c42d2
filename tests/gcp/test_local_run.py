"""make run CLOUD=gcp as a user meets it: the start lines, one line naming what to install where
the emulators are missing, and nothing left running after the run, however it ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdk_app.config import ROOT
from tests.gcp.conftest import emulators_missing
from tools.runner_client import runner_env, start_runner

pytestmark = pytest.mark.slow


def _listening(host: str) -> bool:
    address, port = host.rsplit(":", 1)
    try:
        socket.create_connection((address, int(port)), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_without_the_emulators_one_line_says_what_to_install(tmp_path: Path) -> None:
    env = {**runner_env(), "CLOUDSDK_ROOT_DIR": str(tmp_path / "no-sdk")}
    result = subprocess.run([sys.executable, "-m", "local_runner", "serve", "--cloud", "gcp", "--port", "0",
                             "--log-file", str(tmp_path / "functions.log")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "make run CLOUD=gcp needs the GCP emulators" in line and "cloud-firestore-emulator" in line and "Java 17" in line


def test_a_killed_run_leaves_no_emulator_or_function_instance_behind(tmp_path: Path) -> None:
    missing = emulators_missing()
    if missing:
        pytest.skip(missing)
    runner = start_runner(Path("cdk.out"), tmp_path / "functions.log", "--cloud", "gcp")
    assert any("Firestore emulator on" in line for line in runner.start_lines), runner.start_lines
    status = runner.local("status")
    children = subprocess.run(["pgrep", "-P", str(runner.process.pid)], capture_output=True, text=True).stdout.split()
    assert _listening(status["firestore_emulator"]) and _listening(status["pubsub_emulator"]) and children
    os.kill(runner.process.pid, signal.SIGKILL)  # no shutdown code runs
    runner.process.wait(timeout=10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (_listening(status["firestore_emulator"]) or _listening(status["pubsub_emulator"])
                                           or any(Path(f"/proc/{pid}").exists() for pid in children)):
        time.sleep(0.2)
    assert not _listening(status["firestore_emulator"]) and not _listening(status["pubsub_emulator"])
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
