"""Drives the API through a client that openapi-python-client generated from docs/openapi.json.

Runs in the generator's own venv (.tools/openapi-client, which has the generated client's
dependencies), with the generated package's folder on PYTHONPATH; tests/e2e/test_generated_client.py
starts it and checks what it reports. Prints one JSON object: what each step saw.

    PYTHONPATH=GENERATED_DIR python generated_client_driver.py URL TOKEN READ_ONLY_TOKEN LIMITED_URL LIMITED_TOKEN
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any


def main(url: str, token: str, read_only: str, limited_url: str, limited_token: str) -> dict[str, Any]:
    from archon_client import AuthenticatedClient, Client
    from archon_client.api.users import create_user, get_user, list_users
    from archon_client.models import ErrorResponse, NewUser, User, UserPage
    from archon_client.types import UNSET

    client = AuthenticatedClient(base_url=url, token=token)
    seen: dict[str, Any] = {}

    def error(response: Any) -> dict[str, Any]:
        parsed = response.parsed
        assert isinstance(parsed, ErrorResponse), (response.status_code, response.content)
        return {"status": int(response.status_code), "code": parsed.error.code, "request_id": bool(parsed.request_id),
                "details": [{"field": d.field if d.field is not UNSET else None, "issue": d.issue} for d in parsed.error.details],
                "retry_after": response.headers.get("retry-after")}

    # Create, with the Idempotency-Key left out (a generated client must be able to omit it).
    tag = uuid.uuid4().hex[:8]
    created = create_user.sync_detailed(client=client, body=NewUser(name="Ada Lovelace", email=f"ada-{tag}@example.com"))
    user = created.parsed
    assert isinstance(user, User)
    seen["create"] = {"status": int(created.status_code), "user_id_is_uuid": isinstance(user.user_id, uuid.UUID),
                      "created_at_is_datetime": type(user.created_at).__name__ == "datetime",
                      "location": created.headers.get("location")}
    # Read it back by id, and by following Location.
    fetched = get_user.sync(client=client, user_id=str(user.user_id))
    followed = client.get_httpx_client().get(created.headers["location"])
    seen["read"] = {"same": isinstance(fetched, User) and fetched.to_dict() == user.to_dict(),
                    "location_leads_to_the_user": followed.status_code == 200 and User.from_dict(followed.json()).to_dict() == user.to_dict()}

    # List with paging: five more users, then every page of two until next_cursor is absent.
    mine = [str(user.user_id)] + [str(create_user.sync(client=client, body=NewUser(name=f"Page {i}", email=f"page-{i}-{tag}@example.com")).user_id)
                                  for i in range(5)]
    ids, pages, cursor = [], 0, UNSET
    while True:
        page = list_users.sync(client=client, limit=2, cursor=cursor)
        assert isinstance(page, UserPage)
        ids += [str(u.user_id) for u in page.users]
        pages += 1
        if page.next_cursor is UNSET:
            break
        cursor = page.next_cursor
    seen["list"] = {"pages": pages, "mine_in_order": [i for i in ids if i in mine] == mine, "no_repeats": len(ids) == len(set(ids))}

    # Idempotency: the same key and body answer the first user; another body with it is 422.
    key = f"key-{tag}"
    body = NewUser(name="Idem", email=f"idem-{tag}@example.com")
    first = create_user.sync(client=client, body=body, idempotency_key=key)
    again = create_user.sync(client=client, body=body, idempotency_key=key)
    reused = create_user.sync_detailed(client=client, body=NewUser(name="Other", email=f"other-{tag}@example.com"), idempotency_key=key)
    seen["idempotency"] = {"same_user": first.to_dict() == again.to_dict(), "reused": error(reused)}

    # Every error a typed client can provoke, parsed as the contract's ErrorResponse.
    seen["errors"] = {
        "bad_email": error(create_user.sync_detailed(client=client, body=NewUser(name="Bad", email="not-an-email"))),
        "taken": error(create_user.sync_detailed(client=client, body=NewUser(name="Twin", email=f"ADA-{tag}@EXAMPLE.com"))),
        "unknown_user": error(get_user.sync_detailed(client=client, user_id=str(uuid.uuid4()))),
        "bad_cursor": error(list_users.sync_detailed(client=client, cursor="not-a-cursor")),
        "limit_out_of_range": error(list_users.sync_detailed(client=client, limit=101)),
        "no_token": error(list_users.sync_detailed(client=Client(base_url=url))),
        "read_only_creates": error(create_user.sync_detailed(client=AuthenticatedClient(base_url=url, token=read_only),
                                                             body=NewUser(name="No", email=f"no-{tag}@example.com"))),
    }
    limited = AuthenticatedClient(base_url=limited_url, token=limited_token)
    for i in range(2):
        create_user.sync(client=limited, body=NewUser(name="L", email=f"limited-{i}-{tag}@example.com"))
    seen["errors"]["rate_limited"] = error(create_user.sync_detailed(client=limited, body=NewUser(name="L", email=f"limited-x-{tag}@example.com")))
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:6])))
