"""A bad config never synthesises: one line naming the file, the key and what is allowed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cdk_app.config import CONFIG_FILE, ROOT, ConfigError, load_stages


def _broken(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(CONFIG_FILE.read_text())
    mutate(data)
    path = tmp_path / "stages.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _set(path: str, value):
    def mutate(data):
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


_DELETE = object()

CASES = {
    "unknown stage": (_set("stages.qa", {}), "stages.qa", "dev, staging, prod"),
    "malformed region": (_set("stages.dev.aws_regions", ["us-east-one"]), "stages.dev.aws_regions[0]", "AWS region code such as us-east-1"),
    "missing sender": (_set("stages.staging.email", {}), "stages.staging.email.sender", "sender address"),
    "throttle of zero": (_set("stages.prod.api.throttle_rate_limit", 0), "stages.prod.api.throttle_rate_limit", "above 0"),
    "duplicate region": (_set("stages.prod.aws_regions", ["us-east-1", "us-east-1"]), "stages.prod.aws_regions", "distinct AWS region codes"),
    "wildcard cors": (_set("stages.dev.api.cors_origins", ["*"]), "stages.dev.api.cors_origins[0]", "never *"),
    # JSON Schema's patterns are ECMA-262: $ is the end of the value, not also before a final newline.
    "origin with a line break after it": (_set("stages.dev.api.cors_origins", ["http://localhost:3000\n"]), "stages.dev.api.cors_origins[0]", "never *"),
    "account with a line break after it": (_set("stages.prod.account", "123456789012\n"), "stages.prod.account", "12-digit AWS account id"),
    "region with a line break after it": (_set("stages.dev.aws_regions", ["us-east-1\n"]), "stages.dev.aws_regions[0]", "AWS region code such as us-east-1"),
    "bad retention": (_set("stages.dev.log_retention_days", 10), "stages.dev.log_retention_days", "CloudWatch Logs retention"),
    "prod destroys data": (_set("stages.prod.data_protection", "destroy"), "stages.prod.data_protection", "prod keeps its data"),
    "http origin in prod": (_set("stages.prod.api.cors_origins", ["http://app.example.com"]), "stages.prod.api.cors_origins[0]", "https origins only"),
    "write region outside the stage": (_set("stages.prod.write_region", "ap-south-1"), "stages.prod.write_region", "one of the stage's aws_regions (us-east-1, eu-west-1)"),
    "waf rate limit too low": (_set("stages.prod.waf.rate_limit", 10), "stages.prod.waf.rate_limit", "from 100 to"),
    "waf without enabled": (_set("stages.staging.waf", {"rate_limit": 500}), "stages.staging.waf.enabled", "true or false"),
    "bad alarm email": (_set("stages.dev.alarm_email", "oncall"), "stages.dev.alarm_email", "oncall@example.com"),
    "alarms off with an alarm email": (_set("stages.prod.monitoring", {"alarms": False}), "stages.prod.monitoring.alarms", "where alarm_email is set"),
    "snap_start not a boolean": (_set("stages.prod.functions.users_api.snap_start", "yes"), "stages.prod.functions.users_api.snap_start",
                                 "true to publish a version with Lambda SnapStart"),
    "snap_start misspelt": (_set("stages.dev.functions.notifications", {"memory_mb": 256, "timeout_seconds": 30, "snapstart": True}),
                            "stages.dev.functions.notifications.snapstart", "memory_mb, timeout_seconds and snap_start"),
    "monitoring misspelt": (_set("stages.staging.monitoring", {"alarm": False}), "stages.staging.monitoring.alarm", "alarms and dashboard"),
    "domain outside its zone": (
        _set("stages.prod.domain", {"name": "api.other.example", "hosted_zone_id": "Z123ABC", "hosted_zone_name": "archon.example.com"}),
        "stages.prod.domain.name", "inside the hosted zone 'archon.example.com'"),
    "azure as the primary cloud": (_set("stages.dev.cloud_provider", "azure"), "stages.dev.cloud_provider", "Azure does not serve yet"),
    "gcp primary without its settings": (_set("stages.dev.cloud_provider", "gcp"), "stages.dev.gcp", "project_id, auth, email, domain, functions"),
    "bad gcp project": (_set("stages.dev.gcp", {
        "project_id": "X", "auth": {"issuer": "https://issuer.example.com/", "jwks_url": "https://issuer.example.com/jwks", "audience": "api"},
        "email": {"smtp_host": "smtp.example.com", "smtp_tls": "implicit"}, "domain": "api.example.com",
        "functions": {n: {"memory_mb": 256, "timeout_seconds": 10, "max_instances": 2} for n in ("users_api", "welcome_relay", "welcome_email")}}),
        "stages.dev.gcp.project_id", "GCP project id"),
    "bad hosted zone id": (
        _set("stages.prod.domain", {"name": "api.archon.example.com", "hosted_zone_id": "archon", "hosted_zone_name": "archon.example.com"}),
        "stages.prod.domain.hosted_zone_id", "Route 53 public hosted zone id"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_config_names_file_key_and_allowed(tmp_path, case):
    mutate, key, allowed = CASES[case]
    path = _broken(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_stages(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}:"), message
    assert allowed in message, message


def test_unknown_stage_selected():
    with pytest.raises(ConfigError, match=r"^config/stages.yaml: stages.qa: no such stage; allowed: dev, staging, prod$"):
        load_stages(only="qa")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_stages(tmp_path / "nope.yaml")


_SHIPPED = CONFIG_FILE.read_bytes()


def _line(text: bytes) -> int:
    """The shipped config's line (from 1) that holds text first."""
    return _SHIPPED[:_SHIPPED.index(text)].count(b"\n") + 1


RETENTION, DEV, STAGING = _line(b"log_retention_days: 14"), _line(b"  dev:\n"), _line(b"  staging:\n")
# Files no mapping of keys to values describes: each is refused with where and why, on one line.
UNREADABLE = {
    "a key given twice": (_SHIPPED.replace(b"log_retention_days: 14", b"log_retention_days: 14\n    log_retention_days: 30", 1),
                          rf"line {RETENTION + 1}, column 5: not valid YAML \('log_retention_days' appears twice in one mapping \(first at line {RETENTION}\); keep one\)"),
    "a stage given twice": (_SHIPPED.replace(b"  staging:\n", b"  dev:\n", 1),
                            rf"line {STAGING}, column 3: not valid YAML \('dev' appears twice in one mapping \(first at line {DEV}\); keep one\)"),
    "not UTF-8": (_SHIPPED.replace(b"# The one", b"# The \xe9 one", 1), r"byte 7: not UTF-8 text"),
    "a NUL character": (b"service: archon-serverless-api\x00\n", r"character 31: not valid YAML \(#x0000 is not allowed in YAML\)"),
    "a tab for indentation": (_SHIPPED.replace(b"log_retention_days: 14", b"log_retention_days:\t14", 1),
                              rf"line {RETENTION}, column 24: not valid YAML \(.*'\\t'.*\)"),
    "an unclosed list": (_SHIPPED.replace(b"    log_retention_days: 14", b"    log_retention_days: [14", 1),
                         rf"line {RETENTION + 1}, column \d+: not valid YAML \(.*expected ',' or '\]'.*\)"),
    "an empty file": (b"", r"the file is empty"),
    "a misspelt key": (_SHIPPED.replace(b"log_retention_days: 14", b"log_retension_days: 14", 1),
                       r"stages.dev.log_retension_days: is not a known key; allowed: the keys account, .*log_retention_days, .*monitoring.*"),
    "an unknown top-level key": (_SHIPPED + b"\nservices: x\n", r"services: is not a known key; allowed: the keys service, delivery and stages"),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_a_file_that_is_not_a_config_is_refused_with_where_and_why(tmp_path, case):
    text, problem = UNREADABLE[case]
    path = tmp_path / "stages.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigError) as err:
        load_stages(path)
    message = str(err.value)
    assert "\n" not in message
    assert re.fullmatch(rf"{re.escape(str(path))}: {problem}(; allowed: .*)?", message), message


def test_shipped_config_loads_with_the_original_regions():
    stages = {s.name: s for s in load_stages()}
    assert list(stages) == ["dev", "staging", "prod"]
    assert stages["prod"].aws_regions == ("us-east-1", "eu-west-1")
    assert stages["prod"].gcp_regions == ("us-central1", "europe-west1")
    assert stages["prod"].azure_regions == ("East US", "West Europe")
    assert stages["prod"].retain_data and not stages["dev"].retain_data


@pytest.mark.slow
@pytest.mark.parametrize(("context", "error"), [
    ({"stage": "prd"}, "error: config/stages.yaml: stages.prd: no such stage; allowed: dev, staging, prod"),
    ({"config": "{path}"}, "error: {path}: stages.prod.api.throttle_burst_limit: 0 is not allowed; allowed: a whole number of requests above 0, at most 5000"),
])
def test_cdk_app_stops_with_one_line_on_a_bad_config_before_the_cdk_starts(tmp_path, context, error):
    """What `cdk synth` runs: the app exits non-zero and prints one error line, without waiting
    for the jsii runtime (no Node on PATH here: had the app imported aws_cdk, it would fail on that)."""
    path = _broken(tmp_path, _set("stages.prod.api.throttle_burst_limit", 0))
    context = {k: v.format(path=path) for k, v in context.items()}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path / "out"), "PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [error.format(path=path)], result.stderr
    assert not (tmp_path / "out").exists()


def test_two_stages_cannot_share_a_domain(tmp_path):
    domain = {"name": "api.archon.example.com", "hosted_zone_id": "Z123ABC", "hosted_zone_name": "archon.example.com"}

    def mutate(data):
        data["stages"]["staging"]["domain"] = dict(domain)
        data["stages"]["prod"]["domain"] = dict(domain)

    with pytest.raises(ConfigError, match=r"stages\.(prod|staging)\.domain\.name: .*no other stage uses \(stages\.(staging|prod) has it\)"):
        load_stages(_broken(tmp_path, mutate))


def test_waf_defaults_to_on_for_prod_only(tmp_path):
    def mutate(data):
        for stage in data["stages"].values():
            stage.pop("waf", None)

    stages = {s.name: s for s in load_stages(_broken(tmp_path, mutate))}
    assert stages["prod"].waf.enabled and stages["prod"].waf.rate_limit == 2000
    assert not stages["dev"].waf.enabled and not stages["staging"].waf.enabled


def test_the_write_region_defaults_to_the_primary_and_can_be_moved(tmp_path):
    assert {s.name: s.write_region for s in load_stages()} == {s.name: s.aws_regions[0] for s in load_stages()}
    moved = _broken(tmp_path, _set("stages.prod.write_region", "eu-west-1"))
    (prod,) = load_stages(moved, only="prod")
    assert prod.write_region == "eu-west-1" and prod.primary_region == "us-east-1"


EXAMPLE_GCP = ROOT / "config" / "examples" / "stages-gcp.yaml"


def test_a_gcp_stage_open_to_any_client_of_its_issuer_is_refused(tmp_path):
    data = yaml.safe_load(EXAMPLE_GCP.read_text())
    del data["stages"]["dev"]["gcp"]["auth"]["audience"]
    path = tmp_path / "stages.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"stages\.dev\.gcp\.auth: no audience and no client_ids is not allowed"):
        load_stages(path)


def test_the_example_gcp_stage_loads_with_its_service_settings():
    (stage,) = load_stages(EXAMPLE_GCP)
    assert stage.cloud_provider == "gcp" and stage.gcp is not None
    assert stage.gcp.smtp_port == 465 and set(stage.gcp.functions) == {"users_api", "welcome_relay", "welcome_email"}
    assert all(s.cloud_provider == "aws" and s.gcp is None for s in load_stages())


@pytest.mark.slow
def test_the_cdk_app_has_no_stack_for_a_gcp_stage_and_says_so_when_asked_for_one(tmp_path):
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"stage": "dev", "config": str(EXAMPLE_GCP)}), "CDK_OUTDIR": str(tmp_path / "out"),
           "PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and not (tmp_path / "out").exists()
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "its primary cloud is gcp" in line and "Terraform sidecar deploys it" in line and "make run CLOUD=gcp" in line
