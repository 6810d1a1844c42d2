"""The API fuzz, short and bounded: the same schemathesis run as `make fuzz`, fewer examples."""

from __future__ import annotations

import pytest

from tools import fuzz


@pytest.mark.slow
def test_schemathesis_finds_nothing_against_the_local_runner(launch):
    runner = launch()
    result = fuzz.run(runner, max_examples=25, seed=3, timeout=600)
    assert result.exit_code == 0, result.summary
    assert result.server_errors == 0, result.served
    # It really ran: requests of every kind reached the API, valid and invalid.
    assert result.requests >= 150, result.served
    assert {200, 201, 400} <= set(result.served), result.served
