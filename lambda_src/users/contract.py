"""The facts the infrastructure, the functions, the local runner, the migrations and the tests
share: one home for each, imported by all of them. Plain constants, no imports, so the CDK app
and the Lambda runtime can both read it without loading the other's libraries."""

from __future__ import annotations

# The environment each function reads; the stack sets it, and so do the runner and the tests.
ENV_TABLE_NAME = "TABLE_NAME"
ENV_WRITE_REGION = "WRITE_REGION"
ENV_CORS_ORIGINS = "CORS_ORIGINS"
ENV_CREATES_PER_CALLER_PER_HOUR = "CREATES_PER_CALLER_PER_HOUR"
ENV_CURSOR_KEY_SECRET = "CURSOR_KEY_SECRET"
ENV_SENDER_ADDRESS = "SENDER_ADDRESS"
ENV_DELIVERY_LEASE_SECONDS = "DELIVERY_LEASE_SECONDS"

# The users table. One partition key; the kind of item is the key's prefix.
PARTITION_KEY = "pk"
USER_PREFIX = "user#"
EMAIL_PREFIX = "email#"  # the guard that makes a mailbox unique, keyed by users.identity's key
QUOTA_PREFIX = "quota#"  # quota#<caller>#<window start>: create attempts in one window
# What the users API writes (Powertools' idempotency records come under the function's name).
API_ITEM_PREFIXES = (USER_PREFIX, EMAIL_PREFIX, QUOTA_PREFIX)
# Users in creation order (GET /users): only user items carry the index's keys.
LIST_INDEX = "by_creation"
LIST_INDEX_PARTITION = "entity"
LIST_INDEX_SORT = "created_key"
USER_ENTITY = "user"
USER_FIELDS = ("user_id", "name", "email", "created_at")  # what the index projects and a user is
# Quota items and idempotency records expire by it; user items and email guards never carry it.
TTL_ATTRIBUTE = "expiration"
# The attribute each item records the region that wrote it in: the outbox forwards only its own.
REGION_ATTRIBUTE = "region"

# OAuth scopes, as tokens, API Gateway and the OpenAPI document spell them.
RESOURCE_SERVER = "users"
READ_SCOPE = f"{RESOURCE_SERVER}/read"
CREATE_SCOPE = f"{RESOURCE_SERVER}/create"
# The words config uses for them, and what each lets a caller do.
SCOPES = {"read": "read users (GET /users, GET /users/{user_id})", "create": "create users (POST /users)"}

# The welcome message the outbox sends and the processor reads: exactly these string fields.
WELCOME_MESSAGE_TYPE = "welcome_email"
WELCOME_MESSAGE_FIELDS = ("type", "user_id", "email")

# On GCP (adapters.gcp): the stage's one Firestore database holds these collections.
USERS_COLLECTION = "users"  # a user per document, its id the user id; the outbox's trigger watches it
EMAIL_GUARDS_COLLECTION = "email_guards"  # a guard per mailbox, its id the SHA-256 of the identity key
QUOTAS_COLLECTION = "create_quotas"  # a counter per caller and window
IDEMPOTENCY_COLLECTION = "idempotency"  # Powertools' idempotency records
# Firestore's TTL policy deletes quota and idempotency documents once this timestamp passes.
EXPIRES_AT_FIELD = "expires_at"
# The GCP functions' environment beyond the shared names above.
ENV_GCP_PROJECT = "GCP_PROJECT_ID"
ENV_FIRESTORE_DATABASE = "FIRESTORE_DATABASE"
ENV_WELCOME_TOPIC = "WELCOME_TOPIC"
ENV_TOKEN_ISSUER = "TOKEN_ISSUER"
ENV_TOKEN_JWKS_URL = "TOKEN_JWKS_URL"
ENV_TOKEN_AUDIENCE = "TOKEN_AUDIENCE"  # optional: the aud the issuer puts in the stage's tokens
ENV_TOKEN_CLIENT_IDS = "TOKEN_CLIENT_IDS"  # optional: the machine clients' ids, comma-separated
ENV_FUNCTION_TIMEOUT_SECONDS = "FUNCTION_TIMEOUT_SECONDS"
ENV_CURSOR_KEY_FILE = "CURSOR_KEY_FILE"  # Secret Manager's cursor key, mounted as a file
ENV_SMTP_HOST = "SMTP_HOST"
ENV_SMTP_PORT = "SMTP_PORT"
ENV_SMTP_USERNAME = "SMTP_USERNAME"
ENV_SMTP_PASSWORD_FILE = "SMTP_PASSWORD_FILE"  # Secret Manager's SMTP password, mounted as a file
ENV_SMTP_TLS = "SMTP_TLS"  # implicit (SMTPS, 465), starttls (587) or none (loopback sinks only)

# POST /users's request model (API Gateway's on AWS, the GCP entry point's check): the contract's
# NewUser schema, only these keywords of it (a JSON Schema draft-4 model takes no format, and a
# pattern's message would be the regex itself), and the one issue a body refused by it is told.
BODY_MODEL_KEYWORDS = ("type", "minLength", "maxLength")
BODY_MODEL_ISSUE = "send a JSON object with name and email, both strings, as docs/openapi.json describes"
