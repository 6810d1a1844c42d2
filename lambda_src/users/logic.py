"""What the users API does, independent of HTTP, of the function platform and of the cloud."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from users import cursor
from users.errors import UserNotFound
from users.identity import email_key
from users.models import PAGE_DEFAULT, PAGE_MAX, NewUser, User, UserPage
from users.ports import Quota, UserStore
from users.rules import is_user_id

WINDOW_SECONDS = 3600  # creates are counted per caller per clock hour


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UsersService:
    def __init__(
        self,
        *,
        store: UserStore,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        clock: Callable[[], str] = utc_now,
        creates_per_caller_per_hour: int | None = None,
        epoch: Callable[[], float] = time.time,
        cursor_keys: Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        """cursor_keys: the keys that sign and verify page cursors, the signing one first (the
        stage's cursor key and the one it replaced)."""
        self._store = store
        self._new_id = new_id
        self._clock = clock
        self._limit = creates_per_caller_per_hour
        self._epoch = epoch
        self._cursor_keys = cursor_keys

    def create(self, new_user: NewUser, *, request_key: str | None = None, caller: str | None = None) -> User:
        """Creates the user, unless the caller has used up its create attempts for this hour
        (every attempt counts, a refused duplicate too, and is counted first) or another user has
        the same mailbox (users.identity). A retry carrying the request_key of a create that
        committed gets that user back rather than an email conflict."""
        if self._limit is not None and caller is not None:
            start = int(self._epoch()) // WINDOW_SECONDS * WINDOW_SECONDS
            self._store.count_attempt(Quota(caller=caller, window_start=start, window_end=start + WINDOW_SECONDS, limit=self._limit))
        user = User(user_id=self._new_id(), name=new_user.name, email=new_user.email, created_at=self._clock())
        stored_id = self._store.insert(user, email_key=email_key(user.email), request_key=request_key)
        if stored_id != user.user_id:
            return self._store.get(stored_id)
        return user

    def get(self, user_id: str) -> User:
        # A UUID's hex digits are case-insensitive on input (RFC 9562): clients whose UUID type
        # prints upper case (Swift's uuidString, for one) name the same user.
        user_id = user_id.lower()
        if not is_user_id(user_id):
            raise UserNotFound()
        return self._store.get(user_id)

    def list(self, *, limit: int = PAGE_DEFAULT, cursor_token: str | None = None) -> UserPage:
        if not 1 <= limit <= PAGE_MAX:
            raise ValueError(f"limit must be between 1 and {PAGE_MAX}")
        if self._cursor_keys is None:
            raise RuntimeError("UsersService needs cursor_keys to list users")
        keys = self._cursor_keys()
        after = cursor.decode(cursor_token, keys=keys) if cursor_token is not None else None
        users, next_position = self._store.page(limit=limit, after=after)
        return UserPage(
            users=users,
            next_cursor=cursor.encode(next_position, key=keys[0]) if next_position else None,
        )
