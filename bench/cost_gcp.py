"""Cost model of a stage on GCP at the AWS model's volumes (bench/cost.py): the example GCP stage
(config/examples/stages-gcp.yaml, dev) against the same stage on AWS, from list prices written
down here with their date.

    make bench          # after bench/handler_timings.py and bench/cost.py; alone: .venv/bin/python bench/cost_gcp.py

The functions' CPU per request is the AWS handlers' measured CPU (build/bench/handlers.json): the
same domain code on the same resolver; Cloud Run's CPU share at each memory size and its billing
(per request, rounded up to 100 ms, one request per instance) turn it into a bill. Everything else
is a stated assumption (ASSUMED below).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench import cost as aws
from cdk_app.config import ROOT, load_stages
from tools.report import publish

PRICES_AS_OF = "2025 (us-central1 list prices: Cloud Run Tier 1, Firestore regional)"
PRICE: dict[str, float] = {
    "run_vcpu_second": 0.000024, "run_gib_second": 0.0000025, "run_request": 0.40 / 1e6,
    "firestore_read": 0.03 / 1e5, "firestore_write": 0.09 / 1e5, "firestore_delete": 0.01 / 1e5,  # regional; nam5/eur3 twice
    "pubsub_tib": 40.0,  # throughput, at least 1 KB per publish and per delivery
    "lb_forwarding_rule_hour": 0.025, "lb_data_gb": 0.008,
    "armor_policy_month": 5.0, "armor_rule_month": 1.0, "armor_request": 0.75 / 1e6,
    "secret_version_month": 0.06, "secret_access": 0.03 / 1e4, "kms_key_version_month": 0.06,
    "logging_gib": 0.50, "alert_condition_month": 0.10,
    "email": 0.10 / 1e3,  # the mail provider, priced as SES to compare like for like (providers vary)
}
# Cloud Run functions' CPU at each memory size (vCPU), as Google documents it.
VCPU_AT_MIB = {128: 0.083, 256: 0.167, 512: 0.333, 1024: 0.583, 2048: 1.0, 4096: 2.0, 8192: 2.0}
ASSUMED: dict[str, float] = {
    "firestore_batch_ms": 15, "firestore_single_ms": 8, "pubsub_publish_ms": 20, "smtp_send_ms": 300,
    "request_kb": 1.5, "message_kb": 1.0,
    "log_bytes_api_request": 1700, "log_bytes_relay": 300, "log_bytes_processed_message": 700,
    "armor_rules": 11, "alert_conditions": 5, "secrets": 2, "kms_keys": 2,
    # Firestore operations per creation: quota increment, user + guard, idempotency record and its
    # result, the lease and the mark (writes); the relay's, the claim's and the mark's reads; the
    # idempotency record's TTL delete.
    "firestore_writes": 7, "firestore_reads": 3, "firestore_deletes": 1,
}
SECONDS_PER_MONTH = 30 * 24 * 3600


def run_cost(cpu_seconds: float, calls_ms: float, memory_mib: int, invocations: float) -> float:
    """Request-based billing: each request's instance time, rounded up to 100 ms, at the memory's CPU share."""
    vcpu = VCPU_AT_MIB[memory_mib]
    billed_s = math.ceil((cpu_seconds / vcpu * 1000 + calls_ms) / 100) * 0.1
    return invocations * (PRICE["run_request"] + billed_s * (vcpu * PRICE["run_vcpu_second"] + memory_mib / 1024 * PRICE["run_gib_second"]))


def gcp(creations: float, cpu: dict[str, float], memory: dict[str, int], alarms: bool) -> dict[str, float]:
    a = ASSUMED
    api = run_cost(cpu["users_api POST /users"], a["firestore_batch_ms"] + 4 * a["firestore_single_ms"], memory["users_api"], creations)
    relay = run_cost(cpu["notifications per message (batches of 10)"], a["firestore_single_ms"] + a["pubsub_publish_ms"], memory["welcome_relay"], creations)
    mail = run_cost(cpu["notifications per message (batches of 10)"], 4 * a["firestore_single_ms"] + a["smtp_send_ms"], memory["welcome_email"], creations)
    idle = (PRICE["lb_forwarding_rule_hour"] * 24 * 30 + PRICE["armor_policy_month"] + a["armor_rules"] * PRICE["armor_rule_month"]
            + a["secrets"] * PRICE["secret_version_month"] + a["kms_keys"] * PRICE["kms_key_version_month"]
            + (a["alert_conditions"] * PRICE["alert_condition_month"] if alarms else 0.0))
    log_gib = creations * (a["log_bytes_api_request"] + a["log_bytes_relay"] + a["log_bytes_processed_message"]) / 2**30
    return {
        "Cloud Run functions: users API": api,
        "Cloud Run functions: relay": relay,
        "Cloud Run functions: welcome email": mail,
        "Firestore": creations * (a["firestore_writes"] * PRICE["firestore_write"] + a["firestore_reads"] * PRICE["firestore_read"]
                                  + a["firestore_deletes"] * PRICE["firestore_delete"]),
        "Pub/Sub": creations * 2 * a["message_kb"] * 1024 / 2**40 * PRICE["pubsub_tib"],
        "Load balancer data": creations * 2 * a["request_kb"] / 1e6 * PRICE["lb_data_gb"],
        "Cloud Armor requests": creations * PRICE["armor_request"],
        "Email provider": creations * PRICE["email"],
        "Cloud Logging": log_gib * PRICE["logging_gib"],
        "idle (forwarding rule, Cloud Armor policy and rules, secrets, keys, alert conditions)": idle,
    }


def main() -> None:
    measured = ROOT / "build" / "bench" / "handlers.json"
    if not measured.exists():
        raise SystemExit("run bench/handler_timings.py first (make bench runs it before this)")
    data = json.loads(measured.read_text())["archon"]
    (stage,) = load_stages(Path(ROOT / "config" / "examples" / "stages-gcp.yaml"), only="dev")
    assert stage.gcp is not None
    memory = {name: fn.memory_mb for name, fn in stage.gcp.functions.items()}
    counts = aws.template_counts()
    (aws_dev,) = [s for s in aws.stages() if s.name == "dev"]
    lines = [f"Prices: {PRICES_AS_OF}. The functions' CPU per request: the AWS handlers' (`bench/handler_timings.py`), "
             "at Cloud Run's CPU share for each function's memory; assumed Firestore, Pub/Sub and SMTP latencies.", "",
             "| Stage | creations / month | on GCP | on AWS (the same stage, `bench/cost.py`) | GCP / AWS | GCP without email |",
             "| --- | --- | --- | --- | --- | --- |"]
    breakdown: dict[str, float] = {}
    for volume in (1e6, 100e6):
        ours = gcp(volume, data, memory, stage.monitoring.alarms)
        theirs = sum(aws.archon(aws_dev, volume, data, counts["dev"]).values())
        total = sum(ours.values())
        lines.append(f"| dev, as in config/examples/stages-gcp.yaml | {volume / 1e6:.0f} M | ${total:,.2f} | ${theirs:,.2f} | "
                     f"{total / theirs:.2f}x | ${total - ours['Email provider']:,.2f} |")
        breakdown = breakdown or ours
    lines += ["", "Breakdown, 1 M creations / month:", "", "| Item | GCP |", "| --- | --- |"]
    lines += [f"| {item} | ${value:,.2f} |" for item, value in breakdown.items()]
    lines += ["", "Assumptions: " + ", ".join(f"`{k}` = {v}" for k, v in ASSUMED.items()) + "."]
    publish("cost-gcp", "Cost model (GCP, the example GCP stage)", lines,
            "Email dominates here too. What GCP bills differently: the load balancer's forwarding rule and Cloud Armor's policy "
            "are a fixed monthly floor where API Gateway and WAF bill per request; Cloud Run rounds each request up to 100 ms "
            "(one request per instance), which makes the processor's SMTP round trip the largest compute item; Firestore "
            "bills per document operation where DynamoDB bills per write unit. A stage whose regions share a multi-region "
            "(nam5, eur3) pays Firestore's multi-region prices, twice the regional ones. Free tiers, data transfer to the "
            "mail provider and Artifact Registry storage are left out. Produced by `bench/cost_gcp.py` (`make bench`).")


if __name__ == "__main__":
    main()
