"""Each function's settings (handlers/settings.py): what the stack sets reads back, and a missing
or malformed variable stops the init naming it."""

from __future__ import annotations

import pytest

from handlers.settings import NotificationsSettings, SettingsError, UsersApiSettings
from users import contract

API = {"AWS_REGION": "eu-west-1", contract.ENV_TABLE_NAME: "users-dev", contract.ENV_CURSOR_KEY_SECRET: "archon/dev/cursor-key"}


def test_the_users_api_reads_what_the_stack_sets():
    settings = UsersApiSettings.from_environ({**API, contract.ENV_WRITE_REGION: "us-east-1", contract.ENV_CORS_ORIGINS: "https://a.example,https://b.example",
                                              contract.ENV_CREATES_PER_CALLER_PER_HOUR: "500"})
    assert settings == UsersApiSettings(table_name="users-dev", region="eu-west-1", write_region="us-east-1",
                                        cors_origins=("https://a.example", "https://b.example"), creates_per_caller_per_hour=500,
                                        cursor_key_secret="archon/dev/cursor-key")


def test_without_a_write_region_creates_commit_here_and_without_a_limit_there_is_none():
    settings = UsersApiSettings.from_environ(API)
    assert settings.write_region == "eu-west-1" and settings.creates_per_caller_per_hour is None and settings.cors_origins == ()


@pytest.mark.parametrize(("environ", "says"), [
    ({k: v for k, v in API.items() if k != contract.ENV_TABLE_NAME}, r"^TABLE_NAME is not set: the stack sets it"),
    ({**API, contract.ENV_CURSOR_KEY_SECRET: " "}, r"^CURSOR_KEY_SECRET is not set"),
    ({**API, contract.ENV_CREATES_PER_CALLER_PER_HOUR: "many"}, r"^CREATES_PER_CALLER_PER_HOUR is 'many': give a whole number of at least 1$"),
    ({**API, contract.ENV_CREATES_PER_CALLER_PER_HOUR: "0"}, r"^CREATES_PER_CALLER_PER_HOUR is '0'"),
])
def test_a_missing_or_malformed_setting_is_named(environ, says):
    with pytest.raises(SettingsError, match=says):
        UsersApiSettings.from_environ(environ)


def test_the_processor_reads_what_the_stack_sets_and_names_what_is_missing():
    environ = {contract.ENV_TABLE_NAME: "users-dev", contract.ENV_SENDER_ADDRESS: "welcome@example.com", contract.ENV_DELIVERY_LEASE_SECONDS: "60"}
    assert NotificationsSettings.from_environ(environ) == NotificationsSettings(table_name="users-dev", sender="welcome@example.com", lease_seconds=60)
    with pytest.raises(SettingsError, match=r"^DELIVERY_LEASE_SECONDS is not set"):
        NotificationsSettings.from_environ({k: v for k, v in environ.items() if k != contract.ENV_DELIVERY_LEASE_SECONDS})
    with pytest.raises(SettingsError, match=r"^SENDER_ADDRESS is not set"):
        NotificationsSettings.from_environ({**environ, contract.ENV_SENDER_ADDRESS: ""})
