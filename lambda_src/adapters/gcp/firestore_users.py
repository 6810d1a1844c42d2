"""The user store (users.ports.UserStore) on Firestore Native, in the stage's one database: the
write authority for its users, wherever the functions run.

  users/<user id>              the user; `created_key` orders the listing, `email_key` is its
                               identity key (users.identity); the outbox adds its lease and mark
  email_guards/<sha256(key)>   the guard that makes a mailbox unique. The identity key may hold
                               "/", which a document id may not: the id is its digest, the key
                               is kept in the document
  create_quotas/<caller digest>_<window start>  create attempts of one caller in one window

A create is one batch of preconditioned create()s (user and guard): Firestore commits a batch
atomically, so either both exist or neither. No read-then-write transaction: under contention on
one hot guard those abort, where a batch of creates simply finds the guard taken.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from users import contract
from users.errors import CreateLimitReached, EmailAlreadyRegistered, TemporarilyUnavailable, UserNotFound
from users.models import User
from users.ports import Quota

# Worth a retry after a pause: contention, an overloaded backend, a deadline, a lost connection.
TRANSIENT = (gexc.Aborted, gexc.ResourceExhausted, gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError)
RETRY_AFTER_SECONDS = 1
# A quota document outlives its window by this much, then the TTL policy removes it.
QUOTA_GRACE_SECONDS = 3600


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def expires_at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)


def _user_from(document: dict[str, Any]) -> User:
    return User(**{field: document[field] for field in contract.USER_FIELDS})


class FirestoreUserStore:
    def __init__(self, *, client: firestore.Client) -> None:
        self._db = client
        self._users = client.collection(contract.USERS_COLLECTION)
        self._guards = client.collection(contract.EMAIL_GUARDS_COLLECTION)
        self._quotas = client.collection(contract.QUOTAS_COLLECTION)

    def count_attempt(self, quota: Quota) -> None:
        """An increment the server applies, whose result comes back with the write: no read, so
        concurrent creates of one caller never abort each other. Attempts past the limit are
        counted too; they are refused all the same."""
        document = self._quotas.document(f"{digest(quota.caller)}_{quota.window_start}")
        try:
            result = document.set({"creates": firestore.Increment(1),
                                   contract.EXPIRES_AT_FIELD: expires_at(quota.window_end + QUOTA_GRACE_SECONDS)}, merge=True)
        except TRANSIENT:
            raise TemporarilyUnavailable(retry_after_seconds=RETRY_AFTER_SECONDS) from None
        if result.transform_results[0].integer_value > quota.limit:
            raise CreateLimitReached(retry_after_seconds=max(1, quota.window_end - int(time.time())))

    def insert(self, user: User, *, email_key: str, request_key: str | None = None) -> str:
        guard = self._guards.document(digest(email_key))
        batch = self._db.batch()
        batch.create(self._users.document(user.user_id), {
            **{field: getattr(user, field) for field in contract.USER_FIELDS},
            "created_key": f"{user.created_at}#{user.user_id}",
            "email_key": email_key,
        })
        batch.create(guard, {"user_id": user.user_id, "created_at": user.created_at, "email_key": email_key,
                             **({"request_key": request_key} if request_key else {})})
        try:
            batch.commit()
        except gexc.AlreadyExists:
            # A user id is a fresh UUIDv4: what exists is the guard.
            held = self._read(guard)
            if held is None:
                raise
            if request_key and held.get("request_key") == request_key:
                return str(held["user_id"])  # this same request committed before: its user
            raise EmailAlreadyRegistered() from None
        except TRANSIENT:
            raise TemporarilyUnavailable(retry_after_seconds=RETRY_AFTER_SECONDS) from None
        return user.user_id

    def get(self, user_id: str) -> User:
        document = self._read(self._users.document(user_id))
        if document is None:
            raise UserNotFound()
        return _user_from(document)

    def page(self, *, limit: int, after: str | None) -> tuple[list[User], str | None]:
        """A position is the created_key of the last user on the page."""
        query = self._users.order_by("created_key").limit(limit + 1)  # one extra tells whether another page exists
        if after is not None:
            query = query.start_after({"created_key": after})
        try:
            documents = [d.to_dict() or {} for d in query.stream()]
        except TRANSIENT:
            raise TemporarilyUnavailable(retry_after_seconds=RETRY_AFTER_SECONDS) from None
        users = [_user_from(d) for d in documents[:limit]]
        return users, (str(documents[limit - 1]["created_key"]) if len(documents) > limit else None)

    def _read(self, document: Any) -> dict[str, Any] | None:
        try:
            snapshot = document.get()
        except TRANSIENT:
            raise TemporarilyUnavailable(retry_after_seconds=RETRY_AFTER_SECONDS) from None
        return snapshot.to_dict() if snapshot.exists else None
