"""The Terraform sidecar (terraform/), tested as far as a machine without provider binaries allows:
fmt, validate and `terraform test` on the provider-free plan module, checkov, and structural
checks of the resource modules with python-hcl2. The checks that need providers run in
test_provider_tests.py, and are reported as not run where providers cannot be installed."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from cdk_app.config import ROOT, load_stages

from .conftest import PROVIDER_FREE, SIDECAR, blocks, load_hcl, resources, terraform

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
RESOURCE_MODULES = [SIDECAR / "modules" / m for m in ("gcp", "gcp-service", "azure", "cross-cloud")]
ALL_MODULES = [SIDECAR, *RESOURCE_MODULES]


def test_there_are_provider_free_modules_with_tests():
    assert SIDECAR / "modules" / "plan" in PROVIDER_FREE


def test_fmt_check_on_the_whole_sidecar():
    result = terraform("fmt", "-check", "-recursive", "-diff", "-no-color", cwd=SIDECAR)
    assert result.returncode == 0, "terraform fmt would change:\n" + result.stdout + result.stderr


@pytest.fixture(scope="module", params=PROVIDER_FREE, ids=lambda p: p.name)
def initialised(request) -> Path:
    module: Path = request.param
    result = terraform("init", "-backend=false", "-input=false", "-no-color", cwd=module)
    assert result.returncode == 0, result.stdout + result.stderr
    return module


def test_provider_free_modules_need_no_provider(initialised):
    result = terraform("providers", "-no-color", cwd=initialised)
    assert result.returncode == 0, result.stderr
    assert "provider[" not in result.stdout, f"{initialised.name} must stay provider-free:\n{result.stdout}"


def test_validate_provider_free_modules(initialised):
    result = terraform("validate", "-no-color", cwd=initialised)
    assert result.returncode == 0 and "Success" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
def test_terraform_test_provider_free_modules(initialised):
    result = terraform("test", "-no-color", cwd=initialised)
    summary = re.search(r"(Success|Failure)! (\d+) passed, (\d+) failed(?:, (\d+) skipped)?", result.stdout)
    assert summary, result.stdout + result.stderr
    assert result.returncode == 0 and summary.group(3) == "0", result.stdout[-6000:] + result.stderr
    assert summary.group(4) in (None, "0"), "no run may be skipped:\n" + result.stdout
    assert int(summary.group(2)) >= 30, summary.group(0)


def test_every_validation_has_an_expect_failures_run():
    """Each validation of the plan module is exercised by at least one expect_failures run."""
    plan = SIDECAR / "modules" / "plan"
    targets = set()
    for tftest in (plan / "tests").glob("*.tftest.hcl"):
        targets |= set(re.findall(r"expect_failures\s*=\s*\[([^\]]+)\]", tftest.read_text()))
    expected = {t.strip() for group in targets for t in group.split(",")}
    variables = {name for block in load_hcl(plan / "variables.tf")["variable"] for name, body in block.items() if "validation" in body}
    outputs = {name for block in load_hcl(plan / "outputs.tf")["output"] for name, body in block.items() if "precondition" in body}
    missing = {f"var.{v}" for v in variables} | {f"output.{o}" for o in outputs}
    missing -= expected
    assert not missing, f"validations without an expect_failures test: {sorted(missing)}"


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_sidecar_regions_equal_config_stages_yaml(stage):
    """The plan, fed the real config/stages.yaml, yields exactly that file's GCP/Azure/AWS regions."""
    config = yaml.safe_load((ROOT / "config" / "stages.yaml").read_text())
    plan = SIDECAR / "modules" / "plan"
    assert terraform("init", "-backend=false", "-input=false", cwd=plan).returncode == 0
    with tempfile.TemporaryDirectory() as tmp:
        tfvars = Path(tmp) / "vars.tfvars.json"
        tfvars.write_text(json.dumps({"config": config, "environment": stage, "multi_cloud_enabled": True}))
        result = terraform(
            "console", f"-var-file={tfvars}", cwd=plan, stdin="jsonencode(local.regions)\n"
        )
    assert result.returncode == 0, result.stderr
    regions = json.loads(json.loads(result.stdout.strip()))
    wanted = config["stages"][stage]
    assert regions == {
        "aws": wanted["aws_regions"],
        "gcp": wanted["gcp_regions"],
        "azure": wanted["azure_regions"],
    }


def test_root_reads_config_stages_yaml_and_passes_it_to_the_plan():
    main = load_hcl(SIDECAR / "main.tf")
    config_local = next(block["config"] for block in main["locals"] if "config" in block)
    assert config_local == '${yamldecode(file(coalesce(var.config_file, "${path.module}/../config/stages.yaml")))}'
    plan = next(block["plan"] for block in main["module"] if "plan" in block)
    assert plan["config"] == "${local.config}"
    for name in ("environment", "cloud_provider", "multi_cloud_enabled", "regions"):
        assert plan[name] == f"${{var.{name}}}"
    service = next(block["gcp_service"] for block in main["module"] if "gcp_service" in block)
    assert service["settings"] == "${module.plan.gcp_service}" and service["count"] == "${module.plan.deploy_gcp_service ? 1 : 0}"


def test_root_module_wiring_follows_the_original_design():
    modules = {name: body for block in load_hcl(SIDECAR / "main.tf")["module"] for name, body in block.items()}
    assert modules["gcp_infrastructure"]["count"] == "${module.plan.deploy_gcp ? 1 : 0}"
    assert modules["azure_infrastructure"]["count"] == "${module.plan.deploy_azure ? 1 : 0}"
    assert modules["cross_cloud_networking"]["count"] == "${module.plan.deploy_cross_cloud ? 1 : 0}"
    plan_main = (SIDECAR / "modules" / "plan" / "main.tf").read_text()
    # The original design's switch, on the primary cloud that config/stages.yaml names.
    assert 'deploy_gcp         = local.primary == "gcp" || var.multi_cloud_enabled' in plan_main
    assert 'deploy_azure       = local.primary == "azure" || var.multi_cloud_enabled' in plan_main
    assert "deploy_cross_cloud = var.multi_cloud_enabled" in plan_main
    outputs = {name for block in load_hcl(SIDECAR / "outputs.tf")["output"] for name in block}
    assert {"gcp_vpc_names", "azure_vnet_ids", "tunnel_endpoints", "summary"} <= outputs


def test_cloud_provider_validation_as_originally_written():
    """The original message and values; null (the default) defers to config/stages.yaml."""
    for module in (SIDECAR, SIDECAR / "modules" / "plan"):
        variables = {n: b for block in load_hcl(module / "variables.tf")["variable"] for n, b in block.items()}
        cloud = variables["cloud_provider"]
        assert cloud["type"] == "${string}" or cloud["type"] == "string"
        assert cloud["default"] is None
        (validation,) = cloud["validation"]
        assert validation["condition"] == '${var.cloud_provider == null || contains(["aws", "gcp", "azure"], coalesce(var.cloud_provider, "aws"))}'
        assert validation["error_message"] == "Cloud provider must be aws, gcp, or azure."
        assert variables["multi_cloud_enabled"]["default"] is False


MAJOR_PINS = {"google": "~> 7.", "azurerm": "~> 5.", "aws": "~> 6.", "random": "~> 3."}


@pytest.mark.parametrize("module", ALL_MODULES, ids=lambda p: p.name)
def test_provider_pins_present(module):
    versions = load_hcl(module / "versions.tf")["terraform"][0]
    assert versions["required_version"].startswith(">= 1.11")
    pins = versions["required_providers"][0]
    used = {r[0].split("_")[0] for r in resources(module)} | {
        t.split("_")[0] for tf in module.glob("*.tf") for block in load_hcl(tf).get("data", []) for t in block
    }
    for provider in used:
        assert provider in pins, f"{module.name} uses {provider} without pinning it"
        assert pins[provider]["version"].startswith(MAJOR_PINS[provider]), (module.name, provider, pins[provider])
        assert pins[provider]["source"] == f"hashicorp/{provider}"


# Resource types that have no labels/tags argument at all, and why that is acceptable.
UNLABELLABLE = {
    "google_project_service": "an API switch, not a resource",
    "google_compute_network": "GCP VPCs take no labels (its name carries the stage)",
    "google_compute_subnetwork": "GCP subnetworks take no labels (the name carries stage and region)",
    "google_compute_firewall": "firewall rules take no labels",
    "google_kms_key_ring": "key rings take no labels (the name carries stage and region)",
    "google_firestore_database": "Firestore databases take no labels (the name carries the stage)",
    "google_firestore_field": "a field's TTL policy, inside the database",
    "google_compute_region_network_endpoint_group": "network endpoint groups take no labels (the name carries stage and region)",
    "google_compute_security_policy": "Cloud Armor policies take no labels (the name carries the stage)",
    "google_compute_backend_service": "backend services take no labels",
    "google_compute_url_map": "URL maps take no labels",
    "google_compute_managed_ssl_certificate": "certificates take no labels",
    "google_compute_ssl_policy": "SSL policies take no labels",
    "google_compute_target_https_proxy": "target proxies take no labels",
    "google_storage_bucket_object": "an object in a labelled bucket",
    "google_logging_project_bucket_config": "log buckets take no labels (the name carries the stage)",
    "google_logging_project_sink": "sinks take no labels",
    "google_logging_metric": "log-based metrics take no labels",
    "google_service_account": "service accounts take no labels (the description names what it is for)",
    "google_compute_ha_vpn_gateway": "HA VPN gateways take no labels",
    "google_compute_router": "Cloud Routers take no labels",
    "google_compute_router_interface": "a router's sub-resource",
    "google_compute_router_peer": "a router's sub-resource",
    "azurerm_subnet": "subnets take no tags (their VNet is tagged)",
    "azurerm_subnet_network_security_group_association": "an association",
    "azurerm_cosmosdb_sql_database": "a Cosmos DB sub-resource (the account is tagged)",
    "azurerm_cosmosdb_sql_container": "a Cosmos DB sub-resource",
    "azurerm_cosmosdb_sql_role_assignment": "a data-plane role assignment",
    "azurerm_servicebus_queue": "a namespace sub-resource (the namespace is tagged)",
    "azurerm_role_assignment": "role assignments take no tags",
    "azurerm_management_lock": "locks take no tags",
    "random_password": "not a cloud resource",
    "aws_vpn_gateway_route_propagation": "an association",
    "azurerm_monitor_diagnostic_setting": "diagnostic settings take no tags (the gateway they watch is tagged)",
}
IAM_BINDINGS = re.compile(r"_iam_(member|binding|policy)$")


@pytest.mark.parametrize("module", ALL_MODULES, ids=lambda p: p.name)
def test_every_resource_is_labelled_or_tagged(module):
    for rtype, name, body, _ in resources(module):
        if rtype in UNLABELLABLE or IAM_BINDINGS.search(rtype):
            continue
        key = "tags" if rtype.startswith(("azurerm_", "aws_")) else "user_labels" if rtype.startswith("google_monitoring_") else "labels"
        assert key in body, f"{rtype}.{name} has no {key}"


def _all_resources():
    return [r for module in ALL_MODULES for r in resources(module)]


# The one public binding: the users API is an internet API (its callers present the issuer's
# tokens, which the function checks), invokable only through the load balancer and Cloud Armor.
PUBLIC_BY_DESIGN = {("google_cloud_run_v2_service_iam_member", "api_is_public_behind_the_load_balancer")}


def test_no_public_members_and_no_primitive_or_wildcard_roles():
    for rtype, name, body, _ in _all_resources():
        member = str(body.get("member", "")) + str(body.get("members", ""))
        if (rtype, name) in PUBLIC_BY_DESIGN:
            assert body["role"] == "roles/run.invoker" and 'd.function == "users_api"' in body["for_each"]
            continue
        assert "allUsers" not in member and "allAuthenticatedUsers" not in member, f"{rtype}.{name} is public"
        role = str(body.get("role", ""))
        assert role not in {"roles/owner", "roles/editor", "roles/viewer"}, f"{rtype}.{name} grants primitive {role}"
        assert "*" not in role
        if rtype == "azurerm_role_assignment":
            assert body.get("role_definition_name") not in {"Owner", "Contributor", "Reader"}
            assert "subscription" not in str(body["scope"]) and "resource_group" not in str(body["scope"]), (
                f"{name} must be scoped to the resource, not wider"
            )
        if rtype == "google_project_iam_member" and body["role"] != "roles/eventarc.eventReceiver":
            # (Eventarc's receiver role holds one permission that exists only on the project.)
            assert "condition" in body, f"{name}: a project-level grant must be narrowed by an IAM condition"


def test_no_ingress_from_anywhere_is_allowed():
    for rtype, name, body, _ in _all_resources():
        if rtype == "google_compute_firewall" and "allow" in body:
            assert "0.0.0.0/0" not in str(body.get("source_ranges")), f"{name} allows the internet"
        if rtype == "google_compute_firewall" and "deny" in body:
            assert body["priority"] == 65534 and body["direction"] == "INGRESS"
        if rtype == "azurerm_network_security_group":
            rules = blocks(body, "security_rule")
            allows = [r for r in rules if r.get("access") == "Allow"]
            allows += [d["content"][0] for d in blocks(body, "dynamic") if "security_rule" in d for d in [d["security_rule"]]]
            for rule in allows:
                assert rule.get("source_address_prefix") not in ("*", "Internet", "0.0.0.0/0"), name
            assert any(r["access"] == "Deny" and r["direction"] == "Inbound" and r["source_address_prefix"] == "*" for r in rules)


def _one(rtype: str) -> dict:
    (body,) = [b for t, _, b, _ in _all_resources() if t == rtype]
    return body


def test_azure_data_and_messaging_are_private_entra_only_and_tls12():
    cosmos = _one("azurerm_cosmosdb_account")
    assert cosmos["local_authentication_enabled"] is False
    assert cosmos["public_network_access_enabled"] is False
    assert cosmos["minimal_tls_version"] == "Tls12"
    assert cosmos["backup"][0]["type"] == "Continuous"
    assert "azurerm_private_endpoint" in {t for t, *_ in _all_resources()}
    container = _one("azurerm_cosmosdb_sql_container")
    assert container["name"] == "users" and container["unique_key"][0]["paths"] == ["/emailNormalised"]
    bus = _one("azurerm_servicebus_namespace")
    assert bus["local_auth_enabled"] is False and bus["minimum_tls_version"] == "1.2"
    assert bus["public_network_access_enabled"] == "${!local.premium_bus}"
    queue = _one("azurerm_servicebus_queue")
    assert queue["max_delivery_count"] == "${each.value.max_delivery_count}"
    assert queue["dead_lettering_on_message_expiration"] is True
    assert queue["default_message_ttl"] == "${each.value.message_retention_period}"


def test_gcp_landing_zone_network_settings():
    subnet = _one("google_compute_subnetwork")
    assert subnet["private_ip_google_access"] is True and subnet["log_config"]
    network = _one("google_compute_network")
    assert network["auto_create_subnetworks"] is False
    # No users data in the landing zone: a stage's users live in its primary cloud's one database.
    assert not {t for t, *_ in resources(SIDECAR / "modules" / "gcp")} & {"google_firestore_database", "google_pubsub_topic"}


def test_gcp_service_database_queue_and_functions():
    service = _module_resources("gcp-service")
    firestore = service[("google_firestore_database", "users")]
    assert "for_each" not in firestore and firestore["name"] == "${local.s.database}"  # one database per stage
    assert firestore["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert "DELETE_PROTECTION_ENABLED" in firestore["delete_protection_state"] and firestore["cmek_config"]
    push = service[("google_pubsub_subscription", "welcome_email")]
    assert push["dead_letter_policy"][0]["max_delivery_attempts"] == "${local.s.max_delivery_attempts}"
    assert push["push_config"][0]["oidc_token"][0]["service_account_email"] == "${google_service_account.invoker.email}"
    assert ("google_pubsub_subscription", "dead_letter_hold") in service
    (topics,) = [b for (t, _), b in service.items() if t == "google_pubsub_topic"]  # the welcome topic and its dead letters
    assert topics["for_each"] == {"welcome": "${local.s.topic}", "dead_letters": "${local.s.dead_letter_topic}"}
    assert topics["message_retention_duration"] == "${local.s.topic_retention}" and "kms_key_name" in topics
    (function,) = [b for (t, _), b in service.items() if t == "google_cloudfunctions2_function"]
    (config,) = function["service_config"]
    assert config["max_instance_request_concurrency"] == 1
    assert config["service_account_email"] == "${google_service_account.function[each.value.function].email}"
    assert config["ingress_settings"] == '${each.value.function == "users_api" ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"}'
    main = (SIDECAR / "modules" / "gcp-service" / "main.tf").read_text()
    # Secrets reach the functions as mounted files: no environment variable holds one.
    env_block = main[main.index("  env = {"):main.index("  # Secrets reach a function as files")]
    assert not re.search(r"^\s+\w*(PASSWORD|SECRET|KEY)\s+=", env_block, re.M)
    dynamic = {name: block for d in function["dynamic"] for name, block in d.items()}
    (trigger,) = dynamic["event_trigger"]["content"]
    assert trigger["event_type"] == "google.cloud.firestore.document.v1.created" and trigger["retry_policy"] == "RETRY_POLICY_RETRY"
    armor = service[("google_compute_security_policy", "api")]
    throttle = next(r for r in armor["rule"] if r["action"] == "throttle")
    assert throttle["rate_limit_options"][0]["exceed_action"] == "deny(429)" and throttle["rate_limit_options"][0]["enforce_on_key"] == "IP"
    assert service[("google_compute_ssl_policy", "api")]["min_tls_version"] == "TLS_1_2"


def test_gcp_functions_read_the_environment_the_contract_names():
    """Every variable the sidecar sets on a GCP function is one users.contract names (a typo would
    be a function that cannot start), and the settings' required ones are all set."""
    from users import contract

    main = (SIDECAR / "modules" / "gcp-service" / "main.tf").read_text()
    env_block = main[main.index("  common_env = {"):main.index("  # Secrets reach a function as files")]
    set_names = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", env_block, re.MULTILINE))
    known = {v for k, v in vars(contract).items() if k.startswith("ENV_")} | {"STAGE", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert set_names <= known, set_names - known
    required = {contract.ENV_GCP_PROJECT, contract.ENV_FIRESTORE_DATABASE, contract.ENV_TOKEN_ISSUER, contract.ENV_TOKEN_JWKS_URL,
                contract.ENV_CURSOR_KEY_FILE, contract.ENV_WELCOME_TOPIC, contract.ENV_SENDER_ADDRESS, contract.ENV_DELIVERY_LEASE_SECONDS,
                contract.ENV_SMTP_HOST}
    assert required <= set_names, required - set_names


@pytest.mark.slow
def test_checkov_passes_on_the_sidecar_with_reasoned_skips():
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run `make setup` (it builds .tools/checkov)")
    result = subprocess.run(
        [str(CHECKOV), "-d", str(SIDECAR), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True, text=True, cwd=ROOT,
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    assert summary["failed"] == 0, [c["check_id"] + " " + c["resource"] for c in report["results"]["failed_checks"]]
    assert summary["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert summary["passed"] >= 40
    for skipped in report["results"]["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 30, f"{skipped['check_id']} needs a reason"


def _module_resources(name: str) -> dict[tuple[str, str], dict]:
    module = next(m for m in ALL_MODULES if m.name == name)
    return {(rtype, rname): body for rtype, rname, body, _ in resources(module)}


def test_the_services_subnet_reaches_its_private_endpoints_and_nothing_more_is_opened():
    nsg = _module_resources("azure")[("azurerm_network_security_group", "region")]
    rules = {r["name"]: r for r in nsg["security_rule"]}
    allow = rules["allow-services-to-private-endpoints"]
    assert allow["access"] == "Allow" and allow["direction"] == "Inbound" and allow["protocol"] == "Tcp"
    assert allow["source_address_prefix"] == "${each.value.services_subnet_cidr}"
    assert allow["destination_address_prefix"] == "${each.value.endpoints_subnet_cidr}"
    assert sorted(allow["destination_port_ranges"]) == ["443", "5671"]
    deny = rules["deny-all-inbound"]
    assert allow["priority"] < deny["priority"]  # evaluated before the explicit deny
    assert set(rules) == {"allow-services-to-private-endpoints", "deny-all-inbound"}  # the peer rule is dynamic, HTTPS from peers only


STRONG = {"ike_encryption": "GCMAES256", "ike_integrity": "SHA384", "dh_group": "ECP384",
          "ipsec_encryption": "GCMAES256", "ipsec_integrity": "GCMAES256", "pfs_group": "ECP384"}


def test_vpn_tunnels_pin_strong_ike_and_ipsec_proposals_and_log():
    cross = _module_resources("cross-cloud")
    azure = cross[("azurerm_virtual_network_gateway_connection", "gcp")]
    (policy,) = azure["ipsec_policy"]
    assert {k: policy[k] for k in STRONG} == STRONG
    assert azure["connection_protocol"] == "IKEv2"
    aws = cross[("aws_vpn_connection", "gcp")]
    for tunnel in ("tunnel1", "tunnel2"):
        assert aws[f"{tunnel}_ike_versions"] == ["ikev2"]
        for phase in ("phase1", "phase2"):
            assert aws[f"{tunnel}_{phase}_encryption_algorithms"] == ["AES256-GCM-16"]
            assert aws[f"{tunnel}_{phase}_integrity_algorithms"] == ["SHA2-384"]
            assert aws[f"{tunnel}_{phase}_dh_group_numbers"] == [20]
        (options,) = aws[f"{tunnel}_log_options"]
        (cloudwatch,) = options["cloudwatch_log_options"]
        assert cloudwatch["log_enabled"] is True and "aws_cloudwatch_log_group.vpn" in cloudwatch["log_group_arn"]
    assert cross[("aws_cloudwatch_log_group", "vpn")]["retention_in_days"] >= 365
    diagnostics = cross[("azurerm_monitor_diagnostic_setting", "vpn")]
    assert "TunnelDiagnosticLog" in str(diagnostics) and "IKEDiagnosticLog" in str(diagnostics)
    assert "azurerm_virtual_network_gateway.vpn" in diagnostics["target_resource_id"]
    for gcp_tunnel in ("azure", "aws"):
        assert cross[("google_compute_vpn_tunnel", gcp_tunnel)]["ike_version"] == 2


def test_each_stage_keeps_its_state_in_a_backend_of_its_own():
    """Whoever reads one stage's state (it holds the VPN pre-shared keys) reads no other's."""
    backends = ROOT / "terraform" / "backends"
    stages = [s.name for s in load_stages()]
    for kind, store in (("gcs", "bucket"), ("azurerm", "storage_account_name")):
        stores = {stage: load_hcl(backends / f"{kind}-{stage}.hcl")[store] for stage in stages}
        assert len(set(stores.values())) == len(stages), (kind, stores)
        assert all(stage in value for stage, value in stores.items()), stores
    readme = (ROOT / "README.md").read_text()
    assert "gcloud storage buckets add-iam-policy-binding gs://archon-tfstate-dev" in readme
    assert "az role assignment create" in readme and "archontfstatedev" in readme


def test_every_gcp_alert_has_a_runbook_section_saying_what_it_means_how_to_look_and_what_to_do():
    main = (SIDECAR / "modules" / "gcp-service" / "main.tf").read_text()
    alerts_block = main[main.index("  alerts = {"):main.index('resource "google_monitoring_alert_policy"')]
    keys = re.findall(r"^    ([a-z0-9-]+) = \{", alerts_block, re.M)
    assert set(keys) == {"api-5xx", "dead-letters", "delivery-lag", "relay-failures", "email-failures"}
    runbook = (ROOT / "docs" / "operations.md").read_text()
    sections = dict(re.findall(r"^### ([a-z0-9-]+)\n(.*?)(?=^### |^## |\Z)", runbook, flags=re.M | re.S))
    for key in keys:
        section = sections.get(f"gcp-{key}")
        assert section, f"docs/operations.md has no '### gcp-{key}' section"
        assert all(part in section for part in ("**Means:**", "**Look:**", "**Do:**")), key
