"""The welcome outbox (users.ports.WelcomeOutbox) on Firestore: the lease and the sent mark are
fields of the user's document, changed by writes preconditioned on the document's update time
(compare-and-set): two workers that read the same state cannot both take the lease."""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from adapters.gcp.firestore_users import TRANSIENT
from users import contract
from users.ports import Claim, OutboxError

SENT_FIELD = "welcome_email_sent_at"
TOKEN_FIELD, UNTIL_FIELD = "welcome_lease_token", "welcome_lease_until"
# A lost compare-and-set means another worker wrote the document in between: read it again.
CAS_ATTEMPTS = 3


def _failure(exc: Exception) -> OutboxError:
    return OutboxError(f"firestore_{type(exc).__name__}", transient=isinstance(exc, TRANSIENT))


class FirestoreWelcomeOutbox:
    def __init__(self, *, client: firestore.Client) -> None:
        self._db = client
        self._users = client.collection(contract.USERS_COLLECTION)

    def claim(self, user_id: str, *, token: str, now: int, lease_until: int) -> Claim:
        document = self._users.document(user_id)
        for _ in range(CAS_ATTEMPTS):
            try:
                snapshot = document.get()
                if not snapshot.exists:
                    return Claim.NO_USER
                fields = snapshot.to_dict() or {}
                if SENT_FIELD in fields:
                    return Claim.ALREADY_SENT
                if fields.get(UNTIL_FIELD, 0) >= now:
                    return Claim.IN_PROGRESS
                document.update({TOKEN_FIELD: token, UNTIL_FIELD: lease_until},
                                option=self._db.write_option(last_update_time=snapshot.update_time))
                return Claim.TAKEN
            except gexc.FailedPrecondition:
                continue
            except gexc.GoogleAPICallError as exc:
                raise _failure(exc) from None
        return Claim.IN_PROGRESS

    def release(self, user_id: str, *, token: str) -> None:
        try:
            self._if_lease_is(user_id, token, {TOKEN_FIELD: firestore.DELETE_FIELD, UNTIL_FIELD: firestore.DELETE_FIELD})
        except (gexc.GoogleAPICallError, OutboxError):
            pass  # the lease expires on its own; the retry waits for it

    def mark_sent(self, user_id: str, *, token: str, sent_at: str) -> None:
        try:
            self._if_lease_is(user_id, token, {SENT_FIELD: sent_at, TOKEN_FIELD: firestore.DELETE_FIELD,
                                               UNTIL_FIELD: firestore.DELETE_FIELD})
        except gexc.GoogleAPICallError as exc:
            raise _failure(exc) from None

    def _if_lease_is(self, user_id: str, token: str, changes: dict[str, Any]) -> None:
        document = self._users.document(user_id)
        for _ in range(CAS_ATTEMPTS):
            snapshot = document.get()
            if not snapshot.exists or (snapshot.to_dict() or {}).get(TOKEN_FIELD) != token:
                raise OutboxError("lease_lost", transient=False)
            try:
                document.update(changes, option=self._db.write_option(last_update_time=snapshot.update_time))
                return
            except gexc.FailedPrecondition:
                continue
        raise OutboxError("firestore_contention", transient=True)
