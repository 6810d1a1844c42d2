"""The ledger on GCP's emulators, short and bounded: 40 users under injected relay and processor
crashes, duplicate deliveries and mail provider refusals, every one accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gcp.conftest import emulators_missing
from tools import ledger
from tools.runner_client import start_runner, stop_runner

pytestmark = pytest.mark.slow


def test_forty_users_under_gcp_faults_are_all_accounted_for(tmp_path: Path) -> None:
    missing = emulators_missing()
    if missing:
        pytest.skip(missing)
    runner = start_runner(Path("cdk.out"), tmp_path / "functions.log", *[a for f in ledger.GCP_FAULTS for a in ("--fault", f)],
                          *ledger.GCP_RUNNER_ARGS, "--fault-seed", "5")
    try:
        result = ledger.run(runner, users=40, workers=4, drain_timeout=120)
    finally:
        stop_runner(runner)
    assert result.problems == [], result.problems
    assert len(result.created) == 40 and result.duplicates == 4
    fired = result.faults_fired
    assert fired.get("relay.crash", 0) + fired.get("processor.crash", 0) + fired.get("mail.reject", 0) > 0, fired
