"""Loads and validates config/stages.yaml, the one configuration file.

A bad config never synthesises: every problem raises ConfigError with one line that names the
file, the key and what is allowed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import regress
import yaml

from cdk_app.naming import StageNames
from users import contract

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = ROOT / "config" / "stages.yaml"
SCHEMA_FILE = ROOT / "config" / "stages.schema.json"
SERVICE_NAME = "archon-serverless-api"


class ConfigError(Exception):
    """A configuration problem, phrased for the person who edits the file."""


API_GATEWAY_TIMEOUT_SECONDS = 29  # REST APIs' integration timeout


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every region of every AWS partition, from the SDK's own endpoint data."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(r for partition in session.get_available_partitions()
                     for r in session.get_available_regions("dynamodb", partition_name=partition))


@dataclass(frozen=True, kw_only=True)
class FunctionConfig:
    memory_mb: int
    timeout_seconds: int
    # Callers invoke an alias on a published version restored from a snapshot of its initialised
    # environment, instead of $LATEST initialised on each cold start.
    snap_start: bool = False


@dataclass(frozen=True, kw_only=True)
class ApiConfig:
    throttle_rate_limit: float
    throttle_burst_limit: int
    cors_origins: tuple[str, ...]
    creates_per_caller_per_hour: int  # users one caller (token subject) may create in a clock hour


# The API's OAuth scopes, as the stage's user pool's resource server defines them: the words
# config uses, and what each lets a caller do.
SCOPES = contract.SCOPES


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    name: str
    scopes: tuple[str, ...]  # keys of SCOPES


@dataclass(frozen=True, kw_only=True)
class WafConfig:
    enabled: bool
    rate_limit: int  # requests per IP address per 5 minutes


@dataclass(frozen=True, kw_only=True)
class MonitoringConfig:
    alarms: bool  # the alarms, their topic and its email subscription
    dashboard: bool


@dataclass(frozen=True, kw_only=True)
class DomainConfig:
    name: str
    hosted_zone_id: str
    hosted_zone_name: str


AUDIT_RETENTION_DEFAULT_DAYS = 365
# Without a `waf` key, prod gets a web ACL and the other stages do not.
DEFAULT_WAF_RATE_LIMIT = 2000


@dataclass(frozen=True, kw_only=True)
class GcpFunctionConfig:
    memory_mb: int
    timeout_seconds: int
    max_instances: int
    min_instances: int = 0


@dataclass(frozen=True, kw_only=True)
class GcpConfig:
    """The service on GCP (terraform/modules/gcp-service reads the same keys)."""

    project_id: str
    issuer: str
    jwks_url: str
    audience: str | None
    client_ids: tuple[str, ...]
    smtp_host: str
    smtp_port: int
    smtp_tls: str
    smtp_username: str | None
    domain: str | None
    functions: dict[str, GcpFunctionConfig]
    rate_limit_per_minute: int


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    name: str
    account: str | None
    shares_account: bool  # prod only: accepts sharing its AWS account with other stages
    cloud_provider: str  # the primary cloud, where the whole service runs: aws (this app) or gcp (terraform/)
    aws_regions: tuple[str, ...]
    write_region: str  # where every create commits (one of aws_regions; the primary by default)
    gcp_regions: tuple[str, ...]
    azure_regions: tuple[str, ...]
    retain_data: bool
    log_retention_days: int
    # The audit trail's logs (the users API's function log and the API's access log): a year or
    # more, and kept when the stage's stack is deleted.
    audit_log_retention_days: int
    users_api: FunctionConfig
    notifications: FunctionConfig
    api: ApiConfig
    mfa_required: bool
    clients: tuple[ClientConfig, ...]  # machine clients of the user pool (client credentials)
    sender: str
    alarm_email: str | None
    monitoring: MonitoringConfig
    waf: WafConfig
    domain: DomainConfig | None
    gcp: GcpConfig | None = None

    @property
    def primary_region(self) -> str:
        return self.aws_regions[0]

    @property
    def cdk_qualifier(self) -> str:
        """The stage's own CDK bootstrap qualifier (CDK allows 10 characters): its own deploy
        roles, asset bucket and execution policy, also where stages share an account."""
        return f"arc{self.name}"[:10]

    @property
    def names(self) -> StageNames:
        """Every name the stage's resources carry (cdk_app/naming.py)."""
        return StageNames(self.name)

    @property
    def table_name(self) -> str:
        return self.names.table

    @property
    def queue_name(self) -> str:
        return self.names.queue


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed(error: jsonschema.ValidationError) -> str:
    """The 'x-allowed' sentence of the innermost schema that failed, or of its nearest parent."""
    for candidate in (error.schema, *(e.schema for e in error.context or ())):
        if isinstance(candidate, dict) and "x-allowed" in candidate:
            return candidate["x-allowed"]
    return "see config/stages.schema.json"


def _with_key_lists(schema: Any) -> Any:
    """The schema with an 'x-allowed' sentence on every closed mapping that lacks one, listing
    its keys from its own properties: the list an error quotes is the list the schema accepts."""
    if isinstance(schema, dict):
        for value in schema.values():
            _with_key_lists(value)
        keys = list(schema.get("properties", {}))
        if keys and schema.get("additionalProperties") is False and "x-allowed" not in schema:
            schema["x-allowed"] = "the keys " + (", ".join(keys[:-1]) + " and " + keys[-1] if len(keys) > 1 else keys[0])
    elif isinstance(schema, list):
        for value in schema:
            _with_key_lists(value)
    return schema


def _schema_error(error: jsonschema.ValidationError, source: str) -> ConfigError:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        path.append(missing)
        what = "is missing"
        prop = error.schema.get("properties", {}).get(missing, {})
        if "x-allowed" in prop:
            return ConfigError(f"{source}: {_path(path)}: {what}; allowed: {prop['x-allowed']}")
    elif error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        path.append(next(key for key in error.instance if key not in known))
        what = "is not a known key"
    elif "propertyNames" in error.schema_path:
        path.append(error.instance)
        what = "is not a known key"
    elif error.validator == "uniqueItems":
        what = "has a duplicate entry"
    else:
        what = f"{error.instance!r} is not allowed"
    return ConfigError(f"{source}: {_path(path)}: {what}; allowed: {_allowed(error)}")


def _check_semantics(name: str, stage: dict[str, Any], source: str) -> None:
    if stage.get("cloud_provider") == "gcp" and not stage["gcp_regions"]:
        raise ConfigError(f"{source}: stages.{name}.gcp_regions: [] is not allowed; allowed: at least one GCP region where "
                          "cloud_provider is gcp (the service's functions run there)")
    auth = stage.get("gcp", {}).get("auth", {})
    if "gcp" in stage and not (auth.get("audience") or auth.get("client_ids")):
        raise ConfigError(f"{source}: stages.{name}.gcp.auth: no audience and no client_ids is not allowed; allowed: an audience, "
                          "client_ids, or both (without either, any client of the issuer could call the API)")
    if name == "prod" and stage["data_protection"] != "retain":
        raise ConfigError(
            f"{source}: stages.prod.data_protection: 'destroy' is not allowed; allowed: retain (prod keeps its data)"
        )
    if name == "prod":
        for i, origin in enumerate(stage["api"]["cors_origins"]):
            if not origin.startswith("https://"):
                raise ConfigError(
                    f"{source}: stages.prod.api.cors_origins[{i}]: {origin!r} is not allowed; "
                    "allowed: https origins only in prod"
                )
    domain = stage.get("domain")
    if domain and not domain["name"].endswith("." + domain["hosted_zone_name"]):
        raise ConfigError(
            f"{source}: stages.{name}.domain.name: {domain['name']!r} is not allowed; "
            f"allowed: a name inside the hosted zone {domain['hosted_zone_name']!r}, such as api.{domain['hosted_zone_name']}"
        )
    for i, region in enumerate(stage["aws_regions"]):
        if region not in aws_regions():
            raise ConfigError(
                f"{source}: stages.{name}.aws_regions[{i}]: {region!r} is not allowed; "
                "allowed: a region AWS has (from the SDK's endpoint data), such as us-east-1 or eu-west-1"
            )
    if stage["functions"]["users_api"]["timeout_seconds"] > API_GATEWAY_TIMEOUT_SECONDS:
        raise ConfigError(
            f"{source}: stages.{name}.functions.users_api.timeout_seconds: {stage['functions']['users_api']['timeout_seconds']} is not allowed; "
            f"allowed: at most {API_GATEWAY_TIMEOUT_SECONDS} (API Gateway stops waiting for the function after {API_GATEWAY_TIMEOUT_SECONDS} s)"
        )
    if "write_region" in stage and stage["write_region"] not in stage["aws_regions"]:
        raise ConfigError(
            f"{source}: stages.{name}.write_region: {stage['write_region']!r} is not allowed; "
            f"allowed: one of the stage's aws_regions ({', '.join(stage['aws_regions'])})"
        )
    alarms = stage.get("monitoring", {}).get("alarms", True)
    if not alarms and "domain" in stage and len(stage["aws_regions"]) > 1:
        raise ConfigError(
            f"{source}: stages.{name}.monitoring.alarms: false is not allowed; allowed: true where a domain routes "
            "between regions (each region's health check is its API 5XX alarm)"
        )
    if not alarms and stage.get("alarm_email"):
        raise ConfigError(
            f"{source}: stages.{name}.monitoring.alarms: false is not allowed; allowed: true where alarm_email is set "
            "(or remove alarm_email)"
        )
    if stage["api"]["throttle_burst_limit"] < stage["api"]["throttle_rate_limit"]:
        raise ConfigError(
            f"{source}: stages.{name}.api.throttle_burst_limit: {stage['api']['throttle_burst_limit']} is not allowed; "
            "allowed: a burst at least as large as throttle_rate_limit"
        )


def _check_account_sharing(stages: dict[str, Any], source: str) -> None:
    """Stages in one AWS account share its CDK bootstrap roles, so each one's pipeline can change
    the others: prod may share only where config says so."""
    prod = stages.get("prod")
    if prod is None:
        return
    sharing = [n for n, s in stages.items() if n != "prod" and s.get("account") == prod.get("account")]
    if sharing and not prod.get("shares_account"):
        where = f"account {prod['account']}" if prod.get("account") else "the same AWS account (none of them sets account)"
        raise ConfigError(
            f"{source}: stages.prod.account: prod shares {where} with {', '.join(sharing)}; allowed: an account of prod's own "
            "(account: '123456789012', the recommended setup), or shares_account: true to accept that their pipelines can change prod"
        )


@dataclass(frozen=True, kw_only=True)
class AccountGroup:
    """Stages deployed into one AWS account (or, without account ids, into the one account of
    whoever deploys): each group gets its own deploy identity."""

    account: str | None
    stages: tuple[StageConfig, ...]

    @property
    def name(self) -> str:
        return "-".join(s.name for s in self.stages)


def account_groups(stages: list[StageConfig]) -> list[AccountGroup]:
    accounts = list(dict.fromkeys(s.account for s in stages))
    return [AccountGroup(account=a, stages=tuple(s for s in stages if s.account == a)) for a in accounts]


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[jsonschema.ValidationError]:
    """`pattern` in JSON Schema's regex dialect (ECMA-262), as editors check the schema: Python's
    re also lets `$` match before a final newline, which passed "123456789012\\n" as an account."""
    if validator.is_type(instance, "string") and _regex(pattern).find(instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_regex = functools.cache(regress.Regex)
_SchemaValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _ecma_pattern})


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML with each mapping's keys given once. Plain YAML loaders, Terraform's yamldecode too,
    keep the last of two equal keys: a stage copied and not renamed would replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:  # an unhashable key: the base loader says so
                break
            if first is not key_node.start_mark:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} appears twice in one mapping (first at line {first.line + 1}); keep one",
                    key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_raw(path: Path = CONFIG_FILE) -> dict[str, Any]:
    source = _display(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found; allowed: a YAML file as described in config/stages.schema.json") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: {_yaml_problem(exc)}; allowed: YAML as in config/stages.yaml") from None
    if data is None:
        raise ConfigError(f"{source}: the file is empty; allowed: a YAML file as described in config/stages.schema.json")
    validator = _SchemaValidator(_with_key_lists(json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))))
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))))
    if errors:
        # An unknown key explains everything below it; otherwise the deepest error is the most
        # specific one ("aws_regions[1]" beats "stages.dev").
        unknown = [e for e in errors if e.validator == "additionalProperties" or "propertyNames" in e.schema_path]
        chosen = unknown[0] if unknown else max(errors, key=lambda e: len(list(e.absolute_path)))
        raise _schema_error(chosen, source)
    _check_account_sharing(data["stages"], source)
    domains: dict[str, str] = {}
    for name, stage in data["stages"].items():
        _check_semantics(name, stage, source)
        if "domain" in stage:
            other = domains.setdefault(stage["domain"]["name"], name)
            if other != name:
                raise ConfigError(
                    f"{source}: stages.{name}.domain.name: {stage['domain']['name']!r} is not allowed; "
                    f"allowed: a name no other stage uses (stages.{other} has it)"
                )
    return data


def _yaml_problem(exc: UnicodeDecodeError | yaml.YAMLError) -> str:
    """Where and why the file is not YAML, on one line."""
    if isinstance(exc, UnicodeDecodeError):
        return f"byte {exc.start + 1}: not UTF-8 text"
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        reason = " ".join(str(part) for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part)
    elif isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        where, reason = f"character {exc.position + 1}", f"#x{code:04x} is not allowed in YAML"
    else:
        where, reason = "(top level)", str(exc)
    return f"{where}: not valid YAML ({' '.join(reason.split())})"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _stage(name: str, raw: dict[str, Any]) -> StageConfig:
    fn = raw["functions"]
    return StageConfig(
        name=name,
        account=raw.get("account"),
        shares_account=bool(raw.get("shares_account", False)),
        cloud_provider=raw.get("cloud_provider", "aws"),
        gcp=_gcp(raw["gcp"]) if "gcp" in raw else None,
        aws_regions=tuple(raw["aws_regions"]),
        write_region=raw.get("write_region", raw["aws_regions"][0]),
        gcp_regions=tuple(raw["gcp_regions"]),
        azure_regions=tuple(raw["azure_regions"]),
        retain_data=raw["data_protection"] == "retain",
        log_retention_days=raw["log_retention_days"],
        audit_log_retention_days=raw.get("audit_log_retention_days", AUDIT_RETENTION_DEFAULT_DAYS),
        users_api=FunctionConfig(**fn["users_api"]),
        notifications=FunctionConfig(**fn["notifications"]),
        api=ApiConfig(
            throttle_rate_limit=raw["api"]["throttle_rate_limit"],
            throttle_burst_limit=raw["api"]["throttle_burst_limit"],
            cors_origins=tuple(raw["api"]["cors_origins"]),
            creates_per_caller_per_hour=raw["api"]["creates_per_caller_per_hour"],
        ),
        mfa_required=raw["auth"]["mfa"] == "required",
        clients=tuple(ClientConfig(name=n, scopes=tuple(c["scopes"])) for n, c in raw["auth"]["clients"].items()),
        sender=raw["email"]["sender"],
        alarm_email=raw.get("alarm_email"),
        monitoring=MonitoringConfig(alarms=raw.get("monitoring", {}).get("alarms", True),
                                    dashboard=raw.get("monitoring", {}).get("dashboard", True)),
        waf=WafConfig(
            enabled=raw.get("waf", {}).get("enabled", name == "prod"),
            rate_limit=raw.get("waf", {}).get("rate_limit", DEFAULT_WAF_RATE_LIMIT),
        ),
        domain=DomainConfig(**raw["domain"]) if "domain" in raw else None,
    )


GCP_DEFAULT_RATE_LIMIT_PER_MINUTE = 600
SMTP_DEFAULT_PORTS = {"implicit": 465, "starttls": 587}


def _gcp(raw: dict[str, Any]) -> GcpConfig:
    auth, email = raw["auth"], raw["email"]
    return GcpConfig(
        project_id=raw["project_id"], issuer=auth["issuer"], jwks_url=auth["jwks_url"], audience=auth.get("audience"),
        client_ids=tuple(auth.get("client_ids", ())), smtp_host=email["smtp_host"],
        smtp_port=email.get("smtp_port", SMTP_DEFAULT_PORTS[email["smtp_tls"]]), smtp_tls=email["smtp_tls"],
        smtp_username=email.get("smtp_username"), domain=raw.get("domain"),
        functions={name: GcpFunctionConfig(**fn) for name, fn in raw["functions"].items()},
        rate_limit_per_minute=raw.get("armor", {}).get("rate_limit_per_minute", GCP_DEFAULT_RATE_LIMIT_PER_MINUTE),
    )


def load_stages(path: Path = CONFIG_FILE, *, only: str | None = None) -> list[StageConfig]:
    """All stages in file order, or just `only` (an unknown name is a ConfigError)."""
    return stages_from(load_raw(path), path=path, only=only)


def stages_from(raw: dict[str, Any], *, path: Path, only: str | None = None) -> list[StageConfig]:
    """The stages of an already validated config (from load_raw), as load_stages gives them."""
    names = list(raw["stages"])
    if only is not None and only not in names:
        raise ConfigError(f"{_display(path)}: stages.{only}: no such stage; allowed: {', '.join(names)}")
    return [_stage(n, raw["stages"][n]) for n in names if only in (None, n)]
