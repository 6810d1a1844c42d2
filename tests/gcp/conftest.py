"""The service on GCP, against the real Firestore and Pub/Sub emulators: one runner per test file
(`make run CLOUD=gcp`, in a subprocess). Where the emulators are not installed, every test here
is reported skipped as NOT RUN, with what to install, never as passed."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

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
