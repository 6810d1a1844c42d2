"""Cost model: estimated monthly AWS cost of 1 and 100 million user creations per stage, against
the original design's configuration, from list prices written down here with their date.

    make bench          # all benchmarks; this one alone: .venv/bin/python bench/cost.py

Inputs measured by the other benchmarks (build/bench/handlers.json, from bench/handler_timings.py): each
handler's warm CPU time, Archon's and the original's. Per-stage inputs from config/stages.yaml
(regions, memory, WAF) and each stage's synthesised templates (alarms, dashboards, keys, app clients).
Everything else is a stated assumption (ASSUMED below); change it and re-run.
"""

from __future__ import annotations

import json
import math
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from tools.report import publish

ROOT = Path(__file__).resolve().parent.parent

# us-east-1 list prices, USD, as published on the AWS pricing pages in 2025 (DynamoDB after its
# November 2024 on-demand and global-tables price cut). Free tiers ignored. Re-check before use.
PRICES_AS_OF = "2025 (us-east-1 list prices; DynamoDB after the November 2024 cut)"
PRICE: dict[str, Any] = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "api_gateway_rest_request": 3.50 / 1e6,  # first 333 million per month
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand WRU
    "dynamodb_replicated_write_unit": 0.625 / 1e6,  # on-demand rWRU, global tables
    "dynamodb_stream_read": 0.02 / 1e5,
    "pipes_request": 0.40 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "ses_email": 0.10 / 1e3,
    "logs_ingested_gb": 0.50,
    "xray_trace": 5.00 / 1e6,
    "waf_request": 0.60 / 1e6, "waf_web_acl_month": 5.00, "waf_rule_month": 1.00,
    "alarm_month": 0.10, "dashboard_month": 3.00, "kms_key_month": 1.00,
    # Cognito machine-to-machine (client-credentials) authorization, since 2024: per app client
    # per month, and per token issued (first tier).
    "cognito_m2m_client_month": 6.00, "cognito_m2m_token": 2.25 / 1e3,
    # Lambda SnapStart for Python: the cached snapshot, per GB of memory per second a version
    # exists, and each environment restored from it, per GB of memory.
    "snapstart_cache_gb_second": 0.0000015046, "snapstart_restore_gb": 0.0001397998,
}
ASSUMED: dict[str, Any] = {
    "dynamodb_single_call_ms": 6, "dynamodb_transaction_ms": 12, "sqs_send_ms": 8, "ses_send_ms": 25,
    "cpu_full_vcpu_at_mb": 1769,  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
    "clients_send_idempotency_key": True,
    "log_bytes_api_request": 1700,  # platform lines, "user created", EMF metrics, API access log
    "log_bytes_processed_message": 700,
    "log_bytes_original_request": 400, "log_bytes_original_message": 60,  # platform lines only
    "stream_shards": 1, "stream_polls_per_second": 4,  # the Pipe's poller, as Lambda's is documented
    "sqs_idle_polls_per_month": 5 * 3 * 60 * 24 * 30,  # 5 long-polling pollers, 20 s polls
    "xray_reservoir_per_second": 1, "xray_rate": 0.05,  # X-Ray's default sampling rule
    "waf_rules": 2,
    "batch_size": 10,
    "m2m_tokens_per_client_per_hour": 1,  # clients cache their 1-hour token, as the README asks
    "snapstart_restores_per_region_per_hour": 12,  # environments Lambda starts (idle gaps, recycling, scale-out)
}
SECONDS_PER_MONTH = 30 * 24 * 3600


@dataclass(frozen=True)
class Stage:
    name: str
    regions: int
    api_memory_mb: int
    processor_memory_mb: int
    waf: bool
    snap_start_mb: int  # memory of the functions with SnapStart, summed

    @property
    def restores_per_month(self) -> float:
        return self.regions * ASSUMED["snapstart_restores_per_region_per_hour"] * 24 * 30 if self.snap_start_mb else 0.0


def stages() -> list[Stage]:
    from cdk_app.config import load_stages

    return [Stage(name=s.name, regions=len(s.aws_regions), api_memory_mb=s.users_api.memory_mb,
                  processor_memory_mb=s.notifications.memory_mb, waf=s.waf.enabled,
                  snap_start_mb=sum(f.memory_mb for f in (s.users_api, s.notifications) if f.snap_start)) for s in load_stages()]


COUNTED = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::KMS::Key", "AWS::Cognito::UserPoolClient")


def template_counts() -> dict[str, dict[str, int]]:
    """Per stage, the resources that cost by the month, summed over its regions' templates (one
    synth of the app, as `cdk synth` makes it)."""
    import aws_cdk as cdk

    from cdk_app.app import build_app

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=context, outdir=str(ROOT / "build" / "bench" / "cost.out"))
    built = build_app(app)
    assembly = app.synth()
    counts: dict[str, dict[str, int]] = {}
    for stack in built:
        kinds = [r["Type"] for r in assembly.get_stack_artifact(stack.artifact_id).template["Resources"].values()]
        stage = counts.setdefault(stack.node.id.split("-", 1)[0], dict.fromkeys(COUNTED, 0))
        for kind in COUNTED:
            stage[kind] += kinds.count(kind)
    return counts


def idle(stage: Stage, counts: dict[str, int]) -> dict[str, float]:
    """What a stage costs a month with no traffic at all, before free tiers."""
    return {
        "alarms": counts["AWS::CloudWatch::Alarm"] * PRICE["alarm_month"],
        "dashboards": counts["AWS::CloudWatch::Dashboard"] * PRICE["dashboard_month"],
        "KMS keys": counts["AWS::KMS::Key"] * PRICE["kms_key_month"],
        "Cognito M2M app clients": counts["AWS::Cognito::UserPoolClient"] * PRICE["cognito_m2m_client_month"],
        "stream polling (the Pipe)": stage.regions * ASSUMED["stream_shards"] * ASSUMED["stream_polls_per_second"]
        * SECONDS_PER_MONTH * PRICE["dynamodb_stream_read"],
        "queue polling (the event source)": stage.regions * ASSUMED["sqs_idle_polls_per_month"] * PRICE["sqs_request"],
        "WAF web ACL and rules": stage.regions * (PRICE["waf_web_acl_month"] + ASSUMED["waf_rules"] * PRICE["waf_rule_month"]) if stage.waf else 0.0,
        # One version per function: a replaced one is deleted with its snapshot (cdk_app/functions.py).
        "SnapStart snapshots": stage.regions * stage.snap_start_mb / 1024 * SECONDS_PER_MONTH * PRICE["snapstart_cache_gb_second"],
    }


def lambda_cost(cpu_seconds: float, calls_ms: float, memory_mb: int, arch: str, invocations: float) -> float:
    """The cost of `invocations` invocations, each doing cpu_seconds of work (on a full core) and
    waiting calls_ms on AWS calls, billed by the millisecond."""
    scale = max(1.0, ASSUMED["cpu_full_vcpu_at_mb"] / memory_mb)
    billed_ms = math.ceil(cpu_seconds * 1000 * scale + calls_ms)
    gb_seconds = memory_mb / 1024 * billed_ms / 1000
    return invocations * (PRICE["lambda_request"] + gb_seconds * PRICE["lambda_gb_second"][arch])


def traces(per_second: float) -> float:
    reservoir = min(per_second, ASSUMED["xray_reservoir_per_second"])
    return (reservoir + (per_second - reservoir) * ASSUMED["xray_rate"]) * SECONDS_PER_MONTH


def archon(stage: Stage, creations: float, cpu: dict[str, float], counts: dict[str, int]) -> dict[str, float]:
    """Cost at a volume: usage, then the stage's idle cost."""
    batch = ASSUMED["batch_size"]
    idem_calls = 2 if ASSUMED["clients_send_idempotency_key"] else 0
    api = lambda_cost(cpu["users_api POST /users"], ASSUMED["dynamodb_transaction_ms"] + idem_calls * ASSUMED["dynamodb_single_call_ms"],
                         stage.api_memory_mb, "arm64", creations)
    per_message_ms = 2 * ASSUMED["dynamodb_single_call_ms"] + ASSUMED["ses_send_ms"]
    processor = lambda_cost(cpu["notifications per message (batches of 10)"] * batch, per_message_ms * batch,
                               stage.processor_memory_mb, "arm64", creations / batch)
    # user, email guard and the caller's hourly quota in one transaction (2 WRU each), the
    # idempotency record's two writes, the email lease claim and sent mark; every one of them
    # replicated to each other region.
    writes = 3 * 2 + idem_calls + 2
    replicated = (3 + idem_calls + 2) * (stage.regions - 1)
    per_second = creations / SECONDS_PER_MONTH
    log_gb = creations * (ASSUMED["log_bytes_api_request"] + ASSUMED["log_bytes_processed_message"]) / 1e9
    tokens = counts["AWS::Cognito::UserPoolClient"] * ASSUMED["m2m_tokens_per_client_per_hour"] * 24 * 30
    return {
        "API Gateway": creations * PRICE["api_gateway_rest_request"],
        "WAF requests": creations * PRICE["waf_request"] if stage.waf else 0.0,
        "Lambda: users API": api,
        "Lambda: processor": processor,
        "DynamoDB writes (incl. replicas)": writes * creations * PRICE["dynamodb_write_unit"] + replicated * creations * PRICE["dynamodb_replicated_write_unit"],
        "EventBridge Pipes": creations * PRICE["pipes_request"],
        "SQS": creations * (1 + 2 / batch) * PRICE["sqs_request"],
        "SES": creations * PRICE["ses_email"],
        "CloudWatch Logs": log_gb * PRICE["logs_ingested_gb"],
        "X-Ray": (traces(per_second) + traces(per_second / batch)) * PRICE["xray_trace"],
        "Cognito M2M tokens": tokens * PRICE["cognito_m2m_token"],
        "SnapStart restores": stage.restores_per_month * stage.snap_start_mb / 1024 * PRICE["snapstart_restore_gb"],
        "idle (alarms, dashboard, keys, app clients, polling, WAF ACL, snapshots)": sum(idle(stage, counts).values()),
    }


def original(creations: float, cpu: dict[str, float]) -> dict[str, float]:
    """The original design: one region, x86, 512 MB API and 256 MB processor, a PutItem and an SQS
    send per create, a send per message; no replicas, Pipe, tracing, alarms or WAF."""
    batch = ASSUMED["batch_size"]
    api = lambda_cost(cpu["users_api POST /users"], ASSUMED["dynamodb_single_call_ms"] + ASSUMED["sqs_send_ms"], 512, "x86_64", creations)
    processor = lambda_cost(cpu["notifications per message (batches of 10)"] * batch, ASSUMED["ses_send_ms"] * batch, 256, "x86_64", creations / batch)
    log_gb = creations * (ASSUMED["log_bytes_original_request"] + ASSUMED["log_bytes_original_message"]) / 1e9
    return {
        "API Gateway": creations * PRICE["api_gateway_rest_request"],
        "Lambda: users API": api,
        "Lambda: processor": processor,
        "DynamoDB writes (incl. replicas)": creations * PRICE["dynamodb_write_unit"],
        "SQS": creations * (1 + 2 / batch) * PRICE["sqs_request"],
        "SES": creations * PRICE["ses_email"],
        "CloudWatch Logs": log_gb * PRICE["logs_ingested_gb"],
        "idle (alarms, dashboard, keys, app clients, polling, WAF ACL, snapshots)": ASSUMED["sqs_idle_polls_per_month"] * PRICE["sqs_request"],
    }


def main() -> None:
    measured = ROOT / "build" / "bench" / "handlers.json"
    if not measured.exists():
        raise SystemExit("run bench/handler_timings.py first (make bench runs it before this)")
    data = json.loads(measured.read_text())
    counts = template_counts()
    volumes = (1e6, 100e6)
    lines = [
        f"Prices: {PRICES_AS_OF}. Handler CPU per request from `bench/handler_timings.py` on this machine "
        f"(Archon POST {data['archon']['users_api POST /users'] * 1e3:.2f} ms, per message "
        f"{data['archon']['notifications per message (batches of 10)'] * 1e3:.2f} ms; original POST "
        f"{data['original']['users_api POST /users'] * 1e3:.2f} ms, per message {data['original']['notifications per message (batches of 10)'] * 1e3:.2f} ms), "
        "scaled by Lambda's CPU share at each memory size, plus assumed AWS call latencies.", "",
        "| Stage (regions) | creations / month | Archon | original design | Archon / original | Archon without SES |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    breakdown_stage = None
    for stage in stages():
        for volume in volumes:
            ours, theirs = archon(stage, volume, data["archon"], counts[stage.name]), original(volume, data["original"])
            total, base = sum(ours.values()), sum(theirs.values())
            lines.append(f"| {stage.name} ({stage.regions}) | {volume / 1e6:.0f} M | ${total:,.2f} | ${base:,.2f} | {total / base:.2f}x | ${total - ours['SES']:,.2f} |")
            if stage.name == "prod" and volume == volumes[0]:
                breakdown_stage = (stage, ours, theirs)
    if breakdown_stage:
        stage, ours, theirs = breakdown_stage
        lines += ["", f"Breakdown, {stage.name}, 1 M creations / month:", "", "| Item | Archon | original design |", "| --- | --- | --- |"]
        for item in ours:
            lines.append(f"| {item} | ${ours[item]:,.2f} | {'$%s' % format(theirs[item], ',.2f') if item in theirs else '-'} |")
    lines += ["", "Idle: what each stage costs a month with no traffic (before free tiers, which would take most of the "
              "polling off one account's bill):", "", "| Stage | " + " | ".join(idle(stages()[0], counts["dev"])) + " | total |",
              "| --- |" + " --- |" * (len(idle(stages()[0], counts["dev"])) + 1)]
    for stage in stages():
        items = idle(stage, counts[stage.name])
        lines.append(f"| {stage.name} | " + " | ".join(f"${v:,.2f}" for v in items.values()) + f" | ${sum(items.values()):,.2f} |")
    lines += ["", "Assumptions: " + ", ".join(f"`{k}` = {v}" for k, v in ASSUMED.items()) + "."]
    publish("cost", "Cost model (AWS, per stage)", lines,
            "SES dominates both ($100 per million emails). Of the rest, Archon pays for what the original lacks: "
            "a second region's replica writes and stack in staging and prod, the email guard, quota and idempotency "
            "records, the outbox Pipe, X-Ray, WAF, alarms and a dashboard, and the machine clients' Cognito charges; "
            "it saves on Lambda by running on arm64 with shorter billed durations. The dev stage keeps its idle cost "
            "under $10 a month: one machine client (each costs $6 a month), no alarms (nobody is paged for dev) and "
            "no dashboard (config `monitoring`). Cognito's authorizer has no per-request charge; user-pool MAUs are "
            "not a per-creation cost and are left out, as are data transfer and the free tiers. SnapStart (config "
            "`functions.<name>.snap_start`, on for prod's API) adds its snapshot cache to the idle cost, per region, "
            "and a charge per environment restored, by an assumed rate of environment starts; publishing a version "
            "also bills its one init, left out.")


if __name__ == "__main__":
    main()
