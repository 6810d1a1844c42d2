"""The users service's decisions (users.logic), cloud-free: what a create stores and counts, how
reads name a user, and how pages and their cursors go."""

from __future__ import annotations

import re

import pytest

from tests.domain.ports import ScriptedStore
from users import cursor
from users.errors import InvalidCursor, UserNotFound
from users.logic import WINDOW_SECONDS, UsersService, utc_now
from users.models import PAGE_DEFAULT, PAGE_MAX, NewUser, User
from users.ports import Quota

ID = "6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f"
OTHER_ID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
CREATED = "2026-01-01T00:00:00.000Z"
KEY, OLD_KEY = b"k" * 32, b"o" * 32


def service(store: ScriptedStore, **kwargs) -> UsersService:
    return UsersService(store=store, new_id=lambda: ID, clock=lambda: CREATED, cursor_keys=lambda: [KEY, OLD_KEY], **kwargs)


def user(user_id: str = ID, email: str = "ada@example.com") -> User:
    return User(user_id=user_id, name="Ada", email=email, created_at=CREATED)


def test_a_create_stores_the_new_user_under_its_mailboxs_key_and_returns_it():
    store = ScriptedStore()
    created = service(store).create(NewUser(name="Ada", email="Ada@EXAMPLE.com"), request_key="caller:key")
    assert created == User(user_id=ID, name="Ada", email="Ada@EXAMPLE.com", created_at=CREATED)
    assert store.named("insert") == [{"user": created, "email_key": "ada@example.com", "request_key": "caller:key"}]
    assert store.named("count_attempt") == []  # no limit configured


def test_a_retried_create_that_had_committed_returns_the_user_it_committed():
    store = ScriptedStore(insert_answer=OTHER_ID, users={OTHER_ID: user(OTHER_ID)})
    assert service(store).create(NewUser(name="Ada", email="ada@example.com"), request_key="caller:key") == user(OTHER_ID)


@pytest.mark.parametrize(("now", "start"), [(7200.0, 7200), (7200.0 + 3599.9, 7200), (7200.0 + 3600, 10800), (59.0, 0)])
def test_each_create_attempt_is_counted_in_its_callers_clock_hour_first(now, start):
    store = ScriptedStore()
    service(store, creates_per_caller_per_hour=5, epoch=lambda: now).create(NewUser(name="Ada", email="ada@example.com"), caller="client-1")
    assert store.calls[0] == ("count_attempt", {"quota": Quota(caller="client-1", window_start=start, window_end=start + 3600, limit=5)})
    assert WINDOW_SECONDS == 3600


def test_a_create_without_a_caller_counts_nothing():
    store = ScriptedStore()
    service(store, creates_per_caller_per_hour=5).create(NewUser(name="Ada", email="ada@example.com"))
    assert store.named("count_attempt") == []


def test_a_user_is_read_by_its_id_in_either_case():
    store = ScriptedStore(users={ID: user()})
    assert service(store).get(ID.upper()) == user()
    assert store.named("get") == [{"user_id": ID}]


@pytest.mark.parametrize("user_id", ["", "nope", ID + "0", ID.replace("-4b8c", "-5b8c"), f"{ID}\n"])
def test_an_id_that_is_not_a_user_id_is_not_found_without_asking_the_store(user_id):
    store = ScriptedStore(users={ID: user()})
    with pytest.raises(UserNotFound):
        service(store).get(user_id)
    assert store.calls == []


def test_a_page_passes_its_size_and_gives_a_cursor_to_the_next_under_the_signing_key():
    position = f"{CREATED}#{ID}"
    store = ScriptedStore(pages=[([user()], position)])
    page = service(store).list(limit=1)
    assert page.users == [user()]
    assert page.next_cursor is not None and cursor.decode(page.next_cursor, keys=[KEY]) == position
    with pytest.raises(InvalidCursor):
        cursor.decode(page.next_cursor, keys=[OLD_KEY])
    assert store.named("page") == [{"limit": 1, "after": None}]


def test_the_next_page_starts_after_the_cursors_position_and_the_last_page_has_no_cursor():
    position = f"{CREATED}#{ID}"
    store = ScriptedStore(pages=[([user(OTHER_ID)], None)])
    page = service(store).list(cursor_token=cursor.encode(position, key=OLD_KEY))  # issued before a rotation
    assert page.next_cursor is None and page.users == [user(OTHER_ID)]
    assert store.named("page") == [{"limit": PAGE_DEFAULT, "after": position}]


@pytest.mark.parametrize("limit", [1, PAGE_MAX])
def test_page_sizes_at_the_limits_are_taken(limit):
    store = ScriptedStore()
    service(store).list(limit=limit)
    assert store.named("page") == [{"limit": limit, "after": None}]


@pytest.mark.parametrize("limit", [0, PAGE_MAX + 1, -1])
def test_page_sizes_past_the_limits_are_refused_before_the_store_is_asked(limit):
    store = ScriptedStore()
    with pytest.raises(ValueError, match=f"^limit must be between 1 and {PAGE_MAX}$"):
        service(store).list(limit=limit)
    assert store.calls == []


def test_listing_without_cursor_keys_is_a_configuration_error():
    with pytest.raises(RuntimeError, match="^UsersService needs cursor_keys to list users$"):
        UsersService(store=ScriptedStore()).list()


def test_a_cursor_this_service_did_not_sign_is_refused_before_the_store_is_asked():
    store = ScriptedStore()
    with pytest.raises(InvalidCursor):
        service(store).list(cursor_token=cursor.encode(f"{CREATED}#{ID}", key=b"x" * 32))
    assert store.calls == []


def test_creation_times_are_utc_to_the_millisecond():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", utc_now())


def test_by_default_ids_are_fresh_uuid4s_and_times_are_now():
    store = ScriptedStore()
    plain = UsersService(store=store)
    first = plain.create(NewUser(name="Ada", email="ada@example.com"))
    second = plain.create(NewUser(name="Bob", email="bob@example.com"))
    assert first.user_id != second.user_id
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u.user_id) for u in (first, second))
    assert first.created_at[:4] >= "2026"
