"""The service on GCP, against the real Firestore and Pub/Sub emulators: one runner per test file
(`make run CLOUD=gcp`, in a subprocess). Where the emulators are not installed, every test here
is reported skipped as NOT RUN, with what to install, never as passed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tools.runner_client import Runner, start_runner, stop_runner


def emulators_missing() -> str | None:
    from local_runner.gcp.emulators import EmulatorsMissing, find_emulators

    try:
        find_emulators()
    except EmulatorsMissing as exc:
        return f"NOT RUN: {exc}"
    return None


@pytest.fixture(scope="module")
def gcp_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    missing = emulators_missing()
    if missing:
        pytest.skip(missing)
    runner = start_runner(Path("cdk.out"), tmp_path_factory.mktemp("gcp-runner") / "functions.log", "--cloud", "gcp")
    try:
        yield runner
    finally:
        stop_runner(runner)


@pytest.fixture(scope="module")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Firestore emulator of this module's own (its host:port); each test takes a project of
    its own in it, which starts empty."""
    missing = emulators_missing()
    if missing:
        pytest.skip(missing)
    from local_runner.gcp.emulators import START_TIMEOUT_SECONDS, Emulator, find_emulators, free_port

    port = free_port()
    emulator = Emulator("Firestore", find_emulators().firestore_command(port), port, tmp_path_factory.mktemp("firestore") / "firestore.log")
    try:
        import time

        emulator.wait_ready(time.monotonic() + START_TIMEOUT_SECONDS)
        yield emulator.host
    finally:
        emulator.stop()


@pytest.fixture
def firestore_client(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    import uuid

    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    return firestore.Client(project=f"test-{uuid.uuid4().hex[:12]}", credentials=AnonymousCredentials())
