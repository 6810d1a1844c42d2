"""The local runner's scheduling: API requests first, the pollers in the gaps, never starved."""

from __future__ import annotations

import threading

from local_runner.turns import ApiFirst


def poller(turns: ApiFirst, stop: threading.Event | None = None) -> threading.Event:
    """A poller waiting for its turn; the returned event is set once it has it."""
    turned = threading.Event()

    def run() -> None:
        turns.wait_turn(stop or threading.Event())
        turned.set()

    threading.Thread(target=run, daemon=True).start()
    return turned


def test_a_poller_waits_while_a_request_runs_and_goes_once_it_ends() -> None:
    turns = ApiFirst(quiet=0.05, max_wait=60)
    with turns.request():
        turned = poller(turns)
        assert not turned.wait(0.5)  # the request still runs: the poller holds back
    assert turned.wait(10)
    assert turns.deferred == 1


def test_a_sustained_load_does_not_starve_the_pollers() -> None:
    turns = ApiFirst(quiet=0.05, max_wait=0.3)
    with turns.request():  # the API never goes quiet
        turned = poller(turns)
        assert turned.wait(10)  # the poller went anyway, after at most max_wait
    assert turns.deferred == 1


def test_an_idle_api_does_not_hold_pollers_back() -> None:
    turns = ApiFirst(quiet=0.05, max_wait=60)
    assert poller(turns).wait(10)
    assert turns.deferred == 0


def test_stopping_the_runner_releases_a_waiting_poller() -> None:
    turns, stop = ApiFirst(quiet=0.05, max_wait=60), threading.Event()
    with turns.request():
        turned = poller(turns, stop)
        stop.set()
        assert turned.wait(10)
