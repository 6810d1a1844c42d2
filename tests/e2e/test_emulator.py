"""The emulator's shortcuts through moto's per-call plumbing keep moto's observable behaviour."""

from __future__ import annotations

import string

from local_runner.emulator import make_dispatch_cheap


def test_ids_keep_moto_alphabet_length_and_seed() -> None:
    make_dispatch_cheap()
    from moto.moto_api._internal import mock_random

    with_digits = "".join(mock_random.get_random_string(52) for _ in range(200))
    assert len(with_digits) == 52 * 200
    assert set(with_digits) == set(string.ascii_letters + string.digits)  # every character can appear
    letters = "".join(mock_random.get_random_string(30, include_digits=False) for _ in range(200))
    assert set(letters) == set(string.ascii_letters)
    assert mock_random.get_random_string(12, lower_case=True).islower()
    assert mock_random.get_random_string(0) == ""
    mock_random.seed(7)
    first = [mock_random.get_random_string(20) for _ in range(3)]
    mock_random.seed(7)
    assert [mock_random.get_random_string(20) for _ in range(3)] == first  # moto's seed API still holds
    assert len(set(first)) == 3


def test_action_names_still_map_to_moto_methods() -> None:
    make_dispatch_cheap()
    from moto.core import responses

    assert responses.camelcase_to_underscores("GetItem") == "get_item"
    assert responses.camelcase_to_underscores("TransactWriteItems") == "transact_write_items"
    assert responses.camelcase_to_underscores("") == ""
