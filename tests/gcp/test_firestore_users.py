"""The user store on Firestore (adapters.gcp.firestore_users), against the Firestore emulator."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any
from unittest import mock

import pytest
from google.api_core import exceptions as gexc

from adapters.gcp.firestore_users import FirestoreUserStore, digest
from users import contract
from users.errors import CreateLimitReached, EmailAlreadyRegistered, TemporarilyUnavailable, UserNotFound
from users.models import User
from users.ports import Quota

pytestmark = pytest.mark.slow


def _user(n: int = 0, email: str | None = None) -> User:
    return User(user_id=str(uuid.uuid4()), name=f"User {n}", email=email or f"user{n}-{uuid.uuid4().hex[:6]}@example.com",
                created_at=f"2026-12-04T10:00:{n:02d}.000Z")


def test_a_user_and_its_guard_are_stored_together_and_read_back(firestore_client: Any) -> None:
    store, user = FirestoreUserStore(client=firestore_client), _user()
    assert store.insert(user, email_key="ada@example.com") == user.user_id
    assert store.get(user.user_id) == user
    stored = firestore_client.collection(contract.USERS_COLLECTION).document(user.user_id).get().to_dict()
    assert stored == {"user_id": user.user_id, "name": user.name, "email": user.email, "created_at": user.created_at,
                      "created_key": f"{user.created_at}#{user.user_id}", "email_key": "ada@example.com"}
    guard = firestore_client.collection(contract.EMAIL_GUARDS_COLLECTION).document(digest("ada@example.com")).get().to_dict()
    assert guard == {"user_id": user.user_id, "created_at": user.created_at, "email_key": "ada@example.com"}


def test_a_taken_mailbox_is_refused_and_the_refused_user_is_not_stored(firestore_client: Any) -> None:
    store, first, second = FirestoreUserStore(client=firestore_client), _user(1), _user(2)
    store.insert(first, email_key="key/with/slashes@example.com")
    with pytest.raises(EmailAlreadyRegistered):
        store.insert(second, email_key="key/with/slashes@example.com")
    with pytest.raises(UserNotFound):
        store.get(second.user_id)


def test_a_retry_of_a_committed_create_gets_its_user_and_another_request_does_not(firestore_client: Any) -> None:
    store, first = FirestoreUserStore(client=firestore_client), _user(1)
    store.insert(first, email_key="k@example.com", request_key="caller:key-1")
    assert store.insert(_user(2), email_key="k@example.com", request_key="caller:key-1") == first.user_id
    with pytest.raises(EmailAlreadyRegistered):
        store.insert(_user(3), email_key="k@example.com", request_key="caller:key-2")
    with pytest.raises(EmailAlreadyRegistered):
        store.insert(_user(4), email_key="k@example.com")


def test_racing_inserts_of_one_mailbox_store_one_user(firestore_client: Any) -> None:
    store = FirestoreUserStore(client=firestore_client)
    users = [_user(n) for n in range(10)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(users))

    def insert(user: User) -> None:
        barrier.wait()
        try:
            outcomes.append(store.insert(user, email_key="race@example.com"))
        except EmailAlreadyRegistered:
            outcomes.append("taken")

    threads = [threading.Thread(target=insert, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o != "taken"]
    assert len(winners) == 1 and outcomes.count("taken") == 9
    assert len(list(firestore_client.collection(contract.USERS_COLLECTION).stream())) == 1


def test_pages_follow_creation_order_without_repeats(firestore_client: Any) -> None:
    store = FirestoreUserStore(client=firestore_client)
    users = [_user(n) for n in range(5)]
    for user in reversed(users):
        store.insert(user, email_key=user.email)
    first, after = store.page(limit=2, after=None)
    second, after2 = store.page(limit=2, after=after)
    third, last = store.page(limit=2, after=after2)
    assert first + second + third == users and last is None
    assert after == f"{users[1].created_at}#{users[1].user_id}"
    assert store.page(limit=5, after=None) == (users, None)


def test_a_caller_gets_its_limit_of_attempts_per_window_then_429_with_the_wait(firestore_client: Any) -> None:
    store = FirestoreUserStore(client=firestore_client)
    now = int(time.time())
    quota = Quota(caller="client/with:odd#chars", window_start=now - 10, window_end=now + 100, limit=3)
    for _ in range(3):
        store.count_attempt(quota)
    with pytest.raises(CreateLimitReached) as refused:
        store.count_attempt(quota)
    assert 90 <= refused.value.retry_after_seconds <= 100
    ending = int(time.time())  # a window that ends now: the caller may try again in a second, not at once
    ended = Quota(caller="late", window_start=ending - 3600, window_end=ending, limit=1)
    store.count_attempt(ended)
    with pytest.raises(CreateLimitReached) as late:
        store.count_attempt(ended)
    assert late.value.retry_after_seconds == 1
    store.count_attempt(Quota(caller="another", window_start=now - 10, window_end=now + 100, limit=3))  # its own count
    store.count_attempt(Quota(caller=quota.caller, window_start=now + 100, window_end=now + 200, limit=3))  # the next window
    (document,) = [d for d in firestore_client.collection(contract.QUOTAS_COLLECTION).stream() if d.id.endswith(f"_{now - 10}")
                   and d.to_dict()["creates"] == 4]
    assert document.to_dict()[contract.EXPIRES_AT_FIELD].timestamp() == now + 100 + 3600


@pytest.mark.parametrize("failure", [gexc.ServiceUnavailable("down"), gexc.DeadlineExceeded("slow"), gexc.Aborted("contention"),
                                     gexc.ResourceExhausted("quota")])
def test_transient_failures_are_503_with_retry_after(firestore_client: Any, failure: Exception) -> None:
    store, user = FirestoreUserStore(client=firestore_client), _user()
    with mock.patch("google.cloud.firestore_v1.batch.WriteBatch.commit", side_effect=failure), pytest.raises(TemporarilyUnavailable) as busy:
        store.insert(user, email_key="x@example.com")
    assert busy.value.retry_after_seconds == 1
    with mock.patch("google.cloud.firestore_v1.document.DocumentReference.get", side_effect=failure), pytest.raises(TemporarilyUnavailable):
        store.get(user.user_id)
    with mock.patch("google.cloud.firestore_v1.document.DocumentReference.set", side_effect=failure), pytest.raises(TemporarilyUnavailable):
        store.count_attempt(Quota(caller="c", window_start=0, window_end=3600, limit=1))
    with mock.patch("google.cloud.firestore_v1.query.Query.stream", side_effect=failure), pytest.raises(TemporarilyUnavailable):
        store.page(limit=1, after=None)


def test_a_permanent_failure_is_not_hidden_as_busy(firestore_client: Any) -> None:
    store = FirestoreUserStore(client=firestore_client)
    with mock.patch("google.cloud.firestore_v1.batch.WriteBatch.commit", side_effect=gexc.PermissionDenied("no")), \
            pytest.raises(gexc.PermissionDenied):
        store.insert(_user(), email_key="y@example.com")
