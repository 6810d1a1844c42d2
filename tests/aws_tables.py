"""The users table for tests on moto, from the shared contract (users.contract) rather than a
synth: tests/infra/test_service_stack.py holds every stage's template to the same spec."""

from __future__ import annotations

from typing import Any


def create_users_table(client: Any, spec: Any, name: str | None = None, *, stream: bool = False) -> None:
    """The users table of `spec` (keys, index and its projection, TTL) on moto, under `name` if given."""
    name = name or spec.name
    create: dict[str, Any] = dict(TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=spec.attributes,
                                  KeySchema=spec.key_schema, GlobalSecondaryIndexes=spec.indexes)
    if stream:
        create["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view}
    client.create_table(**create)
    if spec.ttl_attribute:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute})


def contract_table_spec(name: str) -> Any:
    """The users table from the shared contract, as the local runner reads one from a template."""
    from local_runner.wiring import TableSpec
    from users import contract

    attribute_names = (contract.PARTITION_KEY, contract.LIST_INDEX_PARTITION, contract.LIST_INDEX_SORT)
    return TableSpec(
        logical_id="Table",
        name=name,
        attributes=[{"AttributeName": attribute, "AttributeType": "S"} for attribute in attribute_names],
        key_schema=[{"AttributeName": contract.PARTITION_KEY, "KeyType": "HASH"}],
        indexes=[{"IndexName": contract.LIST_INDEX,
                  "KeySchema": [{"AttributeName": contract.LIST_INDEX_PARTITION, "KeyType": "HASH"},
                                {"AttributeName": contract.LIST_INDEX_SORT, "KeyType": "RANGE"}],
                  "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(contract.USER_FIELDS)}}],
        stream_view="NEW_AND_OLD_IMAGES",
        ttl_attribute=contract.TTL_ATTRIBUTE,
    )
