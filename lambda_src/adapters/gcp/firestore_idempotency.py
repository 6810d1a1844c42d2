"""Powertools' idempotency records on Firestore: a persistence layer of its own (Powertools ships
DynamoDB, Redis and Cache ones; BasePersistenceLayer is its documented extension point), with the
same rules as its DynamoDB layer: a record is taken by a preconditioned create, and taken over
only once it expired or its in-progress lease ran out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from google.api_core import exceptions as gexc
from google.cloud import firestore

from adapters.gcp.firestore_users import digest, expires_at
from users import contract


# What a record holds only at times: a taken-over record must not keep its predecessor's.
OPTIONAL_FIELDS = ("in_progress_expiry", "response_data", "payload_hash")


class FirestorePersistenceLayer(BasePersistenceLayer):
    def __init__(self, *, client: firestore.Client) -> None:
        super().__init__()
        self._db = client
        self._records = client.collection(contract.IDEMPOTENCY_COLLECTION)

    def _document(self, idempotency_key: str) -> Any:
        return self._records.document(digest(idempotency_key))  # the key may hold "/"

    @staticmethod
    def _record(fields: dict[str, Any]) -> DataRecord:
        return DataRecord(idempotency_key=fields["key"], status=fields["status"], expiry_timestamp=fields["expiry"],
                          in_progress_expiry_timestamp=fields.get("in_progress_expiry"),
                          response_data=fields.get("response_data", ""), payload_hash=fields.get("payload_hash", ""))

    def _get_record(self, idempotency_key: str) -> DataRecord:
        snapshot = self._document(idempotency_key).get()
        if not snapshot.exists:
            raise IdempotencyItemNotFoundError
        return self._record(snapshot.to_dict() or {})

    def _put_record(self, data_record: DataRecord) -> None:
        fields: dict[str, Any] = {"key": data_record.idempotency_key, "status": data_record.status,
                                  "expiry": data_record.expiry_timestamp,
                                  contract.EXPIRES_AT_FIELD: expires_at(int(data_record.expiry_timestamp or 0))}
        if data_record.in_progress_expiry_timestamp is not None:
            fields["in_progress_expiry"] = data_record.in_progress_expiry_timestamp
        if self.payload_validation_enabled and data_record.payload_hash:
            fields["payload_hash"] = data_record.payload_hash
        document = self._document(data_record.idempotency_key)
        try:
            document.create(fields)
            return
        except gexc.AlreadyExists:
            pass
        snapshot = document.get()
        if snapshot.exists:
            old = self._record(snapshot.to_dict() or {})
            now = dt.datetime.now().timestamp()
            lease_ran_out = (old.status == STATUS_CONSTANTS["INPROGRESS"] and old.in_progress_expiry_timestamp is not None
                             and old.in_progress_expiry_timestamp < now * 1000)
            if not (old.is_expired or lease_ran_out):
                self._validate_payload(data_payload=data_record, stored_data_record=old)
                self._save_to_cache(data_record=old)
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
        try:
            if snapshot.exists:  # taken over only if nobody wrote it since it was read; what it held goes
                stale = {name: firestore.DELETE_FIELD for name in OPTIONAL_FIELDS if name not in fields}
                document.update({**fields, **stale}, option=self._db.write_option(last_update_time=snapshot.update_time))
            else:  # deleted (a failed request's record) since the create was refused
                document.create(fields)
        except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound):
            raise IdempotencyItemAlreadyExistsError() from None

    def _update_record(self, data_record: DataRecord) -> None:
        fields: dict[str, Any] = {"response_data": data_record.response_data, "status": data_record.status,
                                  "expiry": data_record.expiry_timestamp,
                                  contract.EXPIRES_AT_FIELD: expires_at(int(data_record.expiry_timestamp or 0))}
        if self.payload_validation_enabled:
            fields["payload_hash"] = data_record.payload_hash
        self._document(data_record.idempotency_key).update(fields)

    def _delete_record(self, data_record: DataRecord) -> None:
        self._document(data_record.idempotency_key).delete()
