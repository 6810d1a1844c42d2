"""The ledger, short and bounded: 60 users under ~10% injected faults, every one accounted for.
`make chaos` runs the long version (1,000 users) and writes docs/reliability.md."""

from __future__ import annotations

import pytest

from tools import ledger


@pytest.mark.slow
def test_every_user_is_accounted_for_under_injected_faults(launch):
    runner = launch(*[a for f in ledger.FAULTS for a in ("--fault", f)], *ledger.RUNNER_ARGS, "--fault-seed", "11")
    result = ledger.run(runner, users=60, workers=4, drain_timeout=120)
    summary = result.summary()
    assert result.problems == [], summary
    # The run proves something only if the faults fired and most users still made it.
    fired = summary["faults_fired"]
    assert {"dynamodb.throttle", "dynamodb.conflict", "ses.throttle"} <= set(fired), fired
    assert sum(fired.values()) >= 10, fired
    assert summary["created_2xx"] >= 50, summary
    assert summary["duplicate_registrations"] >= 5, summary
    assert (summary["welcome_emails_exactly_once"] + summary["dead_lettered_exactly_once"]
            + summary["emailed_once_then_dead_lettered"]) == summary["created_2xx"]
    # Every dead letter was redriven (and the checks after it held: problems is empty).
    assert summary["dead_letters_redriven"] == summary["dead_lettered_exactly_once"] + summary["emailed_once_then_dead_lettered"]
