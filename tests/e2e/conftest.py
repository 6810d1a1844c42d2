"""End-to-end: the local runner in a subprocess, driven over HTTP only (tools/runner_client.py).

Each runner reads the session's synthesised cloud assembly (tests/conftest.py), as `make run`
reads cdk.out.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from tests.conftest import Synthesised
from tools.runner_client import Runner, start_runner, stop_runners


def _start(synth: Synthesised, tmp_path_factory: pytest.TempPathFactory, *args: str) -> Runner:
    return start_runner(synth.outdir, tmp_path_factory.mktemp("runner") / "functions.log", *args)


def _stop_running(runners: list[Runner]) -> None:
    stop_runners([runner for runner in runners if runner.process.poll() is None])


@pytest.fixture(scope="module")
def launch(synth: Synthesised, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Runner]]:
    """Starts runners with extra arguments; they stop when their test file is done (an idle runner
    still polls its queues)."""
    started: list[Runner] = []

    def _launch(*args: str) -> Runner:
        runner = _start(synth, tmp_path_factory, *args)
        started.append(runner)
        return runner

    yield _launch
    _stop_running(started)


@pytest.fixture(scope="session")
def runner(synth: Synthesised, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """A runner as `make run` starts it: the template's own batching window and timeouts."""
    runner = _start(synth, tmp_path_factory)
    yield runner
    _stop_running([runner])
