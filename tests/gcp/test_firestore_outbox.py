"""The welcome outbox and the idempotency records on Firestore, against the Firestore emulator."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any
from unittest import mock

import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError, IdempotencyValidationError
from google.api_core import exceptions as gexc

from adapters.gcp.firestore_idempotency import FirestorePersistenceLayer
from adapters.gcp.firestore_outbox import SENT_FIELD, FirestoreWelcomeOutbox
from adapters.gcp.firestore_users import FirestoreUserStore
from users import contract
from users.models import User
from users.ports import Claim, OutboxError

pytestmark = pytest.mark.slow


def _stored_user(client: Any) -> str:
    user = User(user_id=str(uuid.uuid4()), name="Ada", email=f"ada-{uuid.uuid4().hex[:6]}@example.com", created_at="2026-12-04T10:00:00.000Z")
    FirestoreUserStore(client=client).insert(user, email_key=user.email)
    return user.user_id


def test_one_lease_at_a_time_until_it_expires_then_the_mark_ends_it(firestore_client: Any) -> None:
    outbox, user_id = FirestoreWelcomeOutbox(client=firestore_client), _stored_user(firestore_client)
    assert outbox.claim(user_id, token="a", now=100, lease_until=160) is Claim.TAKEN
    assert outbox.claim(user_id, token="b", now=120, lease_until=180) is Claim.IN_PROGRESS
    assert outbox.claim(user_id, token="b", now=160, lease_until=220) is Claim.IN_PROGRESS  # the lease holds through its last second
    assert outbox.claim(user_id, token="b", now=161, lease_until=221) is Claim.TAKEN
    with pytest.raises(OutboxError) as lost:
        outbox.mark_sent(user_id, token="a", sent_at="2026-12-04T10:00:01Z")  # a's lease was taken over
    assert lost.value.reason == "lease_lost" and not lost.value.transient
    leased = firestore_client.collection(contract.USERS_COLLECTION).document(user_id).get().to_dict()
    # The user document's fields, as an operator reads them (docs/operations.md): the lease's
    # token and its end, then the sent mark alone.
    assert (leased["welcome_lease_token"], leased["welcome_lease_until"]) == ("b", 221) and "welcome_email_sent_at" not in leased
    outbox.mark_sent(user_id, token="b", sent_at="2026-12-04T10:00:02Z")
    fields = firestore_client.collection(contract.USERS_COLLECTION).document(user_id).get().to_dict()
    assert fields["welcome_email_sent_at"] == "2026-12-04T10:00:02Z" and "welcome_lease_token" not in fields and "welcome_lease_until" not in fields
    assert SENT_FIELD == "welcome_email_sent_at"
    assert outbox.claim(user_id, token="c", now=10_000, lease_until=10_060) is Claim.ALREADY_SENT


def test_no_user_and_a_released_lease(firestore_client: Any) -> None:
    outbox, user_id = FirestoreWelcomeOutbox(client=firestore_client), _stored_user(firestore_client)
    assert outbox.claim(str(uuid.uuid4()), token="a", now=1, lease_until=61) is Claim.NO_USER
    assert outbox.claim(user_id, token="a", now=1, lease_until=61) is Claim.TAKEN
    outbox.release(user_id, token="someone-else")  # not theirs: the lease stays
    assert outbox.claim(user_id, token="b", now=2, lease_until=62) is Claim.IN_PROGRESS
    outbox.release(user_id, token="a")
    assert outbox.claim(user_id, token="b", now=2, lease_until=62) is Claim.TAKEN


def test_racing_claims_take_one_lease(firestore_client: Any) -> None:
    outbox, user_id = FirestoreWelcomeOutbox(client=firestore_client), _stored_user(firestore_client)
    claims: list[Claim] = []
    barrier = threading.Barrier(8)

    def claim(n: int) -> None:
        barrier.wait()
        claims.append(outbox.claim(user_id, token=f"t{n}", now=100, lease_until=160))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert claims.count(Claim.TAKEN) == 1 and claims.count(Claim.IN_PROGRESS) == 7


def test_store_failures_are_reported_with_whether_a_retry_may_help(firestore_client: Any) -> None:
    outbox, user_id = FirestoreWelcomeOutbox(client=firestore_client), _stored_user(firestore_client)
    with mock.patch("google.cloud.firestore_v1.document.DocumentReference.get", side_effect=gexc.ServiceUnavailable("down")):
        with pytest.raises(OutboxError) as busy:
            outbox.claim(user_id, token="a", now=1, lease_until=61)
        outbox.release(user_id, token="a")  # best effort: never raises
    assert busy.value.reason == "firestore_ServiceUnavailable" and busy.value.transient
    assert outbox.claim(user_id, token="a", now=1, lease_until=61) is Claim.TAKEN
    with mock.patch("google.cloud.firestore_v1.document.DocumentReference.update", side_effect=gexc.PermissionDenied("no")), \
            pytest.raises(OutboxError) as denied:
        outbox.mark_sent(user_id, token="a", sent_at="2026-12-04T10:00:00Z")
    assert denied.value.reason == "firestore_PermissionDenied" and not denied.value.transient


def test_a_lost_compare_and_set_is_read_again(firestore_client: Any) -> None:
    outbox, user_id = FirestoreWelcomeOutbox(client=firestore_client), _stored_user(firestore_client)
    real = type(firestore_client.document("a/b")).update
    calls = []

    def first_loses(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise gexc.FailedPrecondition("the document changed")
        return real(self, *args, **kwargs)

    with mock.patch("google.cloud.firestore_v1.document.DocumentReference.update", first_loses):
        assert outbox.claim(user_id, token="a", now=1, lease_until=61) is Claim.TAKEN
    assert len(calls) == 2


def test_a_mark_that_keeps_losing_its_compare_and_set_is_a_transient_failure(firestore_client: Any) -> None:
    """Another writer changes the document between every read and write: after its attempts the
    mark fails as retryable (the domain retries it with backoff), having written nothing."""
    outbox, user_id = FirestoreWelcomeOutbox(client=firestore_client), _stored_user(firestore_client)
    assert outbox.claim(user_id, token="a", now=1, lease_until=61) is Claim.TAKEN
    attempts = []

    def always_lost(self: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        raise gexc.FailedPrecondition("the document changed")

    with mock.patch("google.cloud.firestore_v1.document.DocumentReference.update", always_lost), pytest.raises(OutboxError) as lost:
        outbox.mark_sent(user_id, token="a", sent_at="2026-12-04T10:00:00Z")
    assert (lost.value.reason, lost.value.transient, len(attempts)) == ("firestore_contention", True, 3)
    with mock.patch("google.cloud.firestore_v1.document.DocumentReference.update", always_lost):
        assert outbox.claim(str(user_id), token="b", now=100, lease_until=160) is Claim.IN_PROGRESS  # lost every time: someone else holds it
    assert len(attempts) == 6
    fields = firestore_client.collection(contract.USERS_COLLECTION).document(user_id).get().to_dict()
    assert "welcome_email_sent_at" not in fields and fields["welcome_lease_token"] == "a"


def _once(client: Any) -> Any:
    calls: list[str] = []
    config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body", expires_after_seconds=60)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=FirestorePersistenceLayer(client=client))
    def create(request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request["key"])
        return {"user_id": f"user-{len(calls)}"}

    return create, calls


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(firestore_client: Any) -> None:
    create, calls = _once(firestore_client)
    first = create(request={"key": "caller/1:key", "body": {"email": "a@example.com"}})
    assert create(request={"key": "caller/1:key", "body": {"email": "a@example.com"}}) == first == {"user_id": "user-1"}
    assert calls == ["caller/1:key"]
    with pytest.raises(IdempotencyValidationError):
        create(request={"key": "caller/1:key", "body": {"email": "b@example.com"}})
    assert create(request={"key": "caller/1:other", "body": {"email": "a@example.com"}}) == {"user_id": "user-2"}


def test_a_finished_record_holds_its_answer_its_payload_hash_and_its_expiry(firestore_client: Any) -> None:
    """The record as the TTL policy and an operator read it: expires_at is its expiry as a timestamp."""
    import datetime as dt

    create, _ = _once(firestore_client)
    create(request={"key": "caller:k", "body": {"email": "a@example.com"}})
    (record,) = [d.to_dict() for d in firestore_client.collection(contract.IDEMPOTENCY_COLLECTION).stream()]
    assert record["status"] == "COMPLETED" and json.loads(record["response_data"]) == {"user_id": "user-1"}
    assert record["payload_hash"] and isinstance(record["payload_hash"], str)
    assert record["expires_at"] == dt.datetime.fromtimestamp(record["expiry"], tz=dt.timezone.utc)
    assert record["expiry"] > time.time() + 50


def test_a_running_request_is_in_progress_until_its_lease_runs_out(firestore_client: Any) -> None:
    layer = FirestorePersistenceLayer(client=firestore_client)
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=60)
    layer.configure(config, function_name="create")
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    key = layer._get_hashed_idempotency_key({"key": "k"})
    now_ms = int(time.time() * 1000)
    layer._put_record(DataRecord(idempotency_key=key, status="INPROGRESS", expiry_timestamp=int(time.time()) + 60,
                                 in_progress_expiry_timestamp=now_ms + 60_000))
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError

    with pytest.raises(IdempotencyItemAlreadyExistsError):
        layer._put_record(DataRecord(idempotency_key=key, status="INPROGRESS", expiry_timestamp=int(time.time()) + 60,
                                     in_progress_expiry_timestamp=now_ms + 60_000))
    # The worker died: once its lease ran out, the next attempt takes the record over.
    firestore_client.collection(contract.IDEMPOTENCY_COLLECTION).document(next(
        d.id for d in firestore_client.collection(contract.IDEMPOTENCY_COLLECTION).stream())).update({"in_progress_expiry": now_ms - 1})
    layer._put_record(DataRecord(idempotency_key=key, status="INPROGRESS", expiry_timestamp=int(time.time()) + 60,
                                 in_progress_expiry_timestamp=now_ms + 90_000))
    (record,) = [d.to_dict() for d in firestore_client.collection(contract.IDEMPOTENCY_COLLECTION).stream()]
    assert record["in_progress_expiry"] == now_ms + 90_000 and record["key"] == key


def test_a_second_call_while_the_first_runs_is_told_it_is_in_progress(firestore_client: Any) -> None:
    import datetime as dt

    config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body", expires_after_seconds=60)
    started, release = threading.Event(), threading.Event()

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=FirestorePersistenceLayer(client=firestore_client))
    def slow(request: dict[str, Any]) -> dict[str, Any]:
        started.set()
        release.wait(10)
        return {"done": True}

    worker = threading.Thread(target=slow, kwargs={"request": {"key": "k", "body": "b"}})
    worker.start()
    try:
        assert started.wait(10)
        with pytest.raises(IdempotencyAlreadyInProgressError):
            slow(request={"key": "k", "body": "b"})
        # The record while the first runs: in progress, its expiry for the TTL policy, its payload's hash.
        (running,) = [d.to_dict() for d in firestore_client.collection(contract.IDEMPOTENCY_COLLECTION).stream()]
        assert running["status"] == "INPROGRESS" and running["expiry"] > time.time() + 50 and running["payload_hash"]
        assert running["expires_at"] == dt.datetime.fromtimestamp(running["expiry"], tz=dt.timezone.utc)
    finally:
        release.set()
        worker.join()
    assert slow(request={"key": "k", "body": "b"}) == {"done": True}


def test_a_record_is_read_back_and_a_missing_one_is_said_missing(firestore_client: Any) -> None:
    """What Powertools asks of the layer when a put is refused without the record (a takeover lost)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    layer = FirestorePersistenceLayer(client=firestore_client)
    layer._put_record(DataRecord(idempotency_key="fn#abc", status="INPROGRESS", expiry_timestamp=2_000_000_000,
                                 in_progress_expiry_timestamp=1_999_999_999_000))
    record = layer._get_record("fn#abc")
    assert (record.idempotency_key, record.status, record.expiry_timestamp, record.in_progress_expiry_timestamp) == (
        "fn#abc", "INPROGRESS", 2_000_000_000, 1_999_999_999_000)
    with pytest.raises(IdempotencyItemNotFoundError):
        layer._get_record("fn#nothing")


def test_a_taken_over_record_keeps_nothing_of_the_expired_one(firestore_client: Any) -> None:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    layer = FirestorePersistenceLayer(client=firestore_client)
    layer.configure(IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body"), function_name="create")
    document = firestore_client.collection(contract.IDEMPOTENCY_COLLECTION).document("old")
    with mock.patch.object(FirestorePersistenceLayer, "_document", return_value=document):
        document.set({"key": "fn#k", "status": "INPROGRESS", "expiry": 1, "in_progress_expiry": 5, "response_data": '{"user_id": "u-1"}',
                      "payload_hash": "h1"})
        layer._put_record(DataRecord(idempotency_key="fn#k", status="INPROGRESS", expiry_timestamp=2_000_000_000))
    fields = document.get().to_dict() or {}
    assert fields["status"] == "INPROGRESS" and fields["expiry"] == 2_000_000_000
    assert not {"response_data", "payload_hash", "in_progress_expiry"} & set(fields)
