"""The request body as the users API reads it: JSON in which each field is named once.

A field sent twice is refused, not settled by keeping one of its values: another reader on the way
(a proxy, a WAF rule, API Gateway's request model) may have kept the other, and then two parts of
one request would see two different users. The refusal is a validation error naming the field (its
path in nested objects), as the API reports any other.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterator

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError


class _Fields(dict[str, Any]):
    """A JSON object as parsed, with each name it gave more than once and all that name's values."""

    repeated: dict[str, list[Any]]


def _fields(pairs: list[tuple[str, Any]]) -> _Fields:
    fields = _Fields(pairs)
    fields.repeated = {name: [v for n, v in pairs if n == name] for name, count in Counter(n for n, _ in pairs).items() if count > 1}
    return fields


def _repeats(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], list[Any]]]:
    if isinstance(value, _Fields):
        yield from (((*path, name), values) for name, values in value.repeated.items())
        for name, inner in value.items():
            yield from _repeats(inner, (*path, name))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _repeats(inner, (*path, index))


def json_fields_once(text: str) -> Any:
    """Powertools' JSON body deserializer for the resolver (json_body_deserializer)."""
    body = json.loads(text, object_pairs_hook=_fields)
    repeated = [{"type": "repeated", "loc": ("body", *path), "msg": "was sent more than once", "input": values}
                for path, values in _repeats(body)]
    if repeated:
        raise RequestValidationError(repeated)
    return body
