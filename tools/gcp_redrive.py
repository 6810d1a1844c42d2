"""Moves a GCP stage's dead-lettered welcome messages back to the welcome topic, after a fix
(docs/operations.md, "On GCP"): Pub/Sub has no move task like SQS's, so this pulls them from the
dead-letter topic's holding subscription, publishes each to the topic, and acknowledges it only
once the topic has it. Redriving a user who was emailed sends nothing (users/welcome.py).

    python -m tools.gcp_redrive --project P --stage dev [--dry-run]

make run CLOUD=gcp's POST /_local/redrive runs the same function against the emulator.
"""

from __future__ import annotations

import argparse
from typing import Any

# Pub/Sub's own attributes on a dead letter: not the message's, so not published again.
DEAD_LETTER_ATTRIBUTE_PREFIX = "CloudPubSubDeadLetter"
BATCH = 100


def redrive(*, subscriber: Any, publisher: Any, hold_subscription: str, topic: str, dry_run: bool = False,
            return_immediately: bool = False) -> int:
    """Moves every message held in `hold_subscription` to `topic`; returns how many.
    return_immediately: an empty pull answers at once (the emulator honours it; Pub/Sub may answer
    empty while messages wait, so against a project a pull waits up to its timeout instead)."""
    moved = 0
    while True:
        reply = subscriber.pull(request={"subscription": hold_subscription, "max_messages": BATCH,
                                         **({"return_immediately": True} if return_immediately else {})}, timeout=30)
        if not reply.received_messages:
            return moved
        if dry_run:
            subscriber.modify_ack_deadline(request={"subscription": hold_subscription, "ack_ids": [m.ack_id for m in reply.received_messages],
                                                    "ack_deadline_seconds": 0})
            return len(reply.received_messages)
        for received in reply.received_messages:
            attributes = {k: v for k, v in received.message.attributes.items() if not k.startswith(DEAD_LETTER_ATTRIBUTE_PREFIX)}
            publisher.publish(topic, received.message.data, **attributes).result(timeout=30)
            subscriber.acknowledge(request={"subscription": hold_subscription, "ack_ids": [received.ack_id]})
            moved += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, help="the stage's GCP project (config: gcp.project_id)")
    parser.add_argument("--stage", required=True, help="dev, staging or prod")
    parser.add_argument("--dry-run", action="store_true", help="count the first batch waiting, move nothing")
    args = parser.parse_args(argv)
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

    prefix = f"archon-{args.stage}-welcome"
    moved = redrive(subscriber=SubscriberClient(), publisher=PublisherClient(),
                    hold_subscription=f"projects/{args.project}/subscriptions/{prefix}-dead-letters-hold",
                    topic=f"projects/{args.project}/topics/{prefix}", dry_run=args.dry_run)
    print(f"{'waiting' if args.dry_run else 'moved'}: {moved}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
