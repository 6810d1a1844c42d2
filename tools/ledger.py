"""The ledger: create N users against the local runner under injected faults, then account for
every one of them over HTTP only.

  every 2xx user exists, and has exactly one welcome email or exactly one dead letter;
  no user has two emails;
  every failed request left nothing behind (its email can be registered afterwards).

`make chaos` runs it with N=1000 and writes its section of docs/reliability.md;
tests/e2e/test_ledger.py runs a short bounded version inside `make test`. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.arguments import number_in
from tools.runner_client import Reply, Runner, start_runner, stop_runner

# 10% of API calls and 10% of processor calls fail, spread over every kind of fault we inject.
FAULTS = ("dynamodb.throttle=0.05", "dynamodb.conflict=0.05", "ses.throttle=0.04", "ses.reject=0.03", "processor.crash=0.03")
# Every client of the ledger creates with one token (one caller): lift the hourly create limit.
RUNNER_ARGS = ("--batching-window", "0", "--redelivery-seconds", "0", "--creates-per-caller", "1000000")
# On GCP's emulators: the relay and the processor crash (before or after their work), Pub/Sub
# delivers a message twice, and the mail provider refuses a third of the emails, often enough that
# some messages use up their five deliveries and are dead-lettered.
GCP_FAULTS = ("relay.crash=0.05", "processor.crash=0.05", "pubsub.duplicate=0.05", "mail.reject=0.35")
GCP_RUNNER_ARGS = ("--cloud", "gcp", "--creates-per-caller", "1000000")
RETRYABLE = {409, 429, 500, 502, 503}
CLIENT_BUDGET_SECONDS = 60
DUPLICATE_EVERY = 10


@dataclass
class Ledger:
    attempted: int = 0
    created: dict[str, str] = field(default_factory=dict)  # email -> id
    failed: dict[str, int] = field(default_factory=dict)  # email -> status
    statuses: Counter[int] = field(default_factory=Counter)
    emailed: Counter[str] = field(default_factory=Counter)  # id -> emails sent
    dead_lettered: Counter[str] = field(default_factory=Counter)  # id -> dead letters
    missing: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)  # no final answer within the client's budget
    duplicates: int = 0  # registrations of an already-registered email (must be 409 email_taken)
    duplicates_accepted: list[str] = field(default_factory=list)
    changed_by_duplicate: list[str] = field(default_factory=list)
    faults_fired: dict[str, int] = field(default_factory=dict)
    redriven: int = 0  # dead letters moved back to their queue after the first accounting
    after_redrive: list[str] = field(default_factory=list)
    redrive_outcome: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        found = []
        for email, user_id in self.created.items():
            outcome = (self.emailed[user_id], self.dead_lettered[user_id])
            # (1, 1): the email went out, then the batch it was in crashed and Lambda retried the
            # whole batch until the receives ran out (as on AWS); a redrive sends nothing more.
            if outcome not in ((1, 0), (0, 1), (1, 1)):
                found.append(f"{email} ({user_id}): {outcome[0]} emails, {outcome[1]} dead letters")
        both = self._emailed_and_dead_lettered()
        if len(both) > self.faults_fired.get("processor.crash", 0):
            found.append(f"{len(both)} users were emailed and dead-lettered, more than the {self.faults_fired.get('processor.crash', 0)} "
                         "crashed batches that can explain it")
        found += [f"{u}: created (2xx) but not found" for u in self.missing]
        found += [f"{e}: request failed but left something behind" for e in self.left_behind]
        found += self.unanswered + self.duplicates_accepted
        found += [f"{u}: changed by a rejected duplicate" for u in self.changed_by_duplicate]
        return found + self.after_redrive

    def _emailed_and_dead_lettered(self) -> list[str]:
        return [u for u in self.created.values() if self.emailed[u] == 1 and self.dead_lettered[u] == 1]

    def summary(self) -> dict[str, Any]:
        emailed_once = sum(1 for u in self.created.values() if self.emailed[u] == 1 and not self.dead_lettered[u])
        dead_once = sum(1 for u in self.created.values() if self.dead_lettered[u] == 1 and not self.emailed[u])
        return {
            "users_attempted": self.attempted, "created_2xx": len(self.created), "failed": len(self.failed),
            "statuses_seen_incl_retries": dict(sorted(self.statuses.items())), "welcome_emails_exactly_once": emailed_once,
            "dead_lettered_exactly_once": dead_once, "emailed_once_then_dead_lettered": len(self._emailed_and_dead_lettered()),
            "users_with_two_emails": sum(1 for c in self.emailed.values() if c > 1),
            "created_but_missing": len(self.missing), "failed_but_left_behind": len(self.left_behind),
            "no_final_answer": len(self.unanswered), "duplicate_registrations": self.duplicates,
            "duplicates_not_rejected": len(self.duplicates_accepted), "users_changed_by_a_duplicate": len(self.changed_by_duplicate),
            "dead_letters_redriven": self.redriven, "after_the_redrive": self.redrive_outcome,
            "faults_fired": self.faults_fired, "problems": len(self.problems), "seconds": round(self.seconds, 1),
        }


def _unfinished(reply: Reply) -> bool:
    """An answer that asks the client to retry: a 5xx, or 409 request_in_progress."""
    return reply.status >= 500 or (reply.status == 409 and b"request_in_progress" in reply.body)


def _persist(call, attempts: int = 20) -> Reply:
    """Retry a read or a fresh registration past injected throttles, as a client would."""
    reply = call()
    for _ in range(attempts):
        if reply.status not in RETRYABLE - {409}:
            return reply
        time.sleep(0.05)
        reply = call()
    return reply


def _wait_until_drained(runner: Runner, timeout: float) -> None:
    """Until the pipeline is quiet: nothing visible or in flight in the notifications queue."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        queues = runner.local("queues")
        busy = any(q["visible"] or q["in_flight"] for name, q in queues.items() if not name.endswith("-dlq"))
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 2:
            return
        time.sleep(0.25)
    raise AssertionError(f"the pipeline did not drain in {timeout}s: {runner.local('queues')}")


def run(runner: Runner, users: int, workers: int = 4, drain_timeout: float = 300) -> Ledger:
    ledger = Ledger(attempted=users)
    started = time.monotonic()

    def post(body: dict[str, str], key: str) -> Reply:
        # A well-behaved client: on 5xx or "in progress" it retries with the same Idempotency-Key
        # until it gets a final answer. "In progress" lasts until the first attempt's invocation
        # would have timed out (the function's 10 s) when that attempt lost its answer, and that
        # can happen twice in a row under these fault rates, so the budget is CLIENT_BUDGET.
        deadline = time.monotonic() + CLIENT_BUDGET_SECONDS
        while True:
            reply = runner.request("POST", "/users", body, headers={"Idempotency-Key": key})
            ledger.statuses[reply.status] += 1
            if not _unfinished(reply) or time.monotonic() > deadline:
                return reply
            time.sleep(0.2)

    def create(index: int) -> tuple[str, Reply, Reply | None]:
        email = f"ledger-{index}-{uuid.uuid4().hex[:8]}@example.com"
        reply = post({"name": f"Ledger {index}", "email": email}, uuid.uuid4().hex)
        # Every DUPLICATE_EVERY-th user is then claimed again by someone else (another key, the
        # address in capitals): a request that must fail and change nothing.
        duplicate = None
        if index % DUPLICATE_EVERY == 0 and 200 <= reply.status < 300:
            duplicate = post({"name": "Impostor", "email": email.upper()}, uuid.uuid4().hex)
        return email, reply, duplicate

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for email, reply, duplicate in pool.map(create, range(users)):
            if 200 <= reply.status < 300:
                ledger.created[email] = reply.json()["user_id"]
            elif _unfinished(reply):
                ledger.unanswered.append(f"{email}: still {reply.status} after {CLIENT_BUDGET_SECONDS} s of retries")
            else:
                ledger.failed[email] = reply.status
            if duplicate is not None:
                ledger.duplicates += 1
                if _unfinished(duplicate):
                    ledger.unanswered.append(f"{email.upper()} (duplicate): still {duplicate.status} after {CLIENT_BUDGET_SECONDS} s")
                elif duplicate.status != 409 or b"email_taken" not in duplicate.body:
                    ledger.duplicates_accepted.append(f"{email.upper()}: duplicate answered {duplicate.status} {duplicate.body[:120]!r}")

    _wait_until_drained(runner, drain_timeout)
    ledger.emailed, ledger.dead_lettered = _emails_and_dead_letters(runner, ledger.created)
    for email, user_id in ledger.created.items():
        fetched = _persist(lambda: runner.request("GET", f"/users/{user_id}"))
        if fetched.status != 200:
            ledger.missing.append(user_id)
        elif fetched.json()["name"] != f"Ledger {email.split('-')[1]}" or fetched.json()["email"] != email:
            ledger.changed_by_duplicate.append(user_id)
    for email in ledger.failed:
        again = _persist(lambda: runner.request("POST", "/users", {"name": "Retry", "email": email},
                                               headers={"Idempotency-Key": uuid.uuid4().hex}))
        if again.status == 409:
            ledger.left_behind.append(f"{email} (first {ledger.failed[email]}, then {again.body[:120]!r})")
    ledger.faults_fired = runner.local("status")["faults_fired"]
    if sum(ledger.dead_lettered.values()):
        _redrive(runner, ledger, drain_timeout)
    ledger.seconds = time.monotonic() - started
    return ledger


def _emails_and_dead_letters(runner: Runner, created: dict[str, str]) -> tuple[Counter[str], Counter[str]]:
    """Per user id: the welcome emails in the outbox, and the messages in the dead-letter queues."""
    emailed: Counter[str] = Counter(created[a] for sent in runner.local("outbox")["emails"] for a in sent["to"] if a in created)
    ids = set(created.values())
    dead: Counter[str] = Counter(u for bodies in runner.local("dead-letters").values() for body in bodies for u in ids if u in body)
    return emailed, dead


def _redrive(runner: Runner, ledger: Ledger, drain_timeout: float) -> None:
    """The runbook's redrive: the dead letters go back to their queue (the faults still on), and
    afterwards no user may have a second email, nor be left with neither an email nor a dead letter."""
    ledger.redriven = sum(runner.request("POST", "/_local/redrive").json()["moved"].values())
    _wait_until_drained(runner, drain_timeout)
    emailed, dead = _emails_and_dead_letters(runner, ledger.created)
    ids = set(ledger.created.values())
    redriven = [u for u in ids if ledger.dead_lettered[u]]
    ledger.redrive_outcome = {
        "emailed_now": sum(1 for u in redriven if not ledger.emailed[u] and emailed[u] == 1),
        "emailed_before_and_not_again": sum(1 for u in redriven if ledger.emailed[u] == 1 == emailed[u]),
        "dead_lettered_again": sum(1 for u in redriven if u in dead),
    }
    ledger.after_redrive = [f"{u}: {emailed[u]} emails after the redrive" for u in ids if emailed[u] > 1]
    ledger.after_redrive += [f"{u}: neither an email nor a dead letter after the redrive" for u in ids if not emailed[u] and u not in dead]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=number_in(1, what="a number of users"), default=1000)
    parser.add_argument("--workers", type=number_in(1, 64, what="a number of client threads"), default=4)
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--seed", type=number_in(0, what="a fault seed"), default=7, help="fault-injection seed (repeatable faults)")
    parser.add_argument("--report", type=Path, help="write the counts here as Markdown")
    parser.add_argument("--cloud", choices=["aws", "gcp"], default="aws", help="the service as on AWS (moto) or on GCP (its emulators)")
    args = parser.parse_args(argv)
    log = Path(f"build/local/chaos-{args.cloud}-functions.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    faults, runner_args = (GCP_FAULTS, GCP_RUNNER_ARGS) if args.cloud == "gcp" else (FAULTS, RUNNER_ARGS)
    fault_args = [a for f in faults for a in ("--fault", f)]
    runner = start_runner(args.assembly, log, *fault_args, *runner_args, "--fault-seed", str(args.seed))
    try:
        ledger = run(runner, args.users, args.workers, drain_timeout=max(300, args.users))
    finally:
        stop_runner(runner)
    summary = ledger.summary()
    print(json.dumps(summary, indent=2))
    for problem in ledger.problems[:20]:
        print("PROBLEM:", problem)
    if args.report:
        from tools.report import RELIABILITY_HEADER, write_section

        if args.cloud == "gcp":
            write_section("ledger-gcp", report_gcp(summary, args.users, args.workers, args.seed, ledger.problems), doc=args.report,
                          header=RELIABILITY_HEADER)
        else:
            write_section("ledger", report(summary, args.users, args.workers, args.seed, ledger.problems), doc=args.report, header=RELIABILITY_HEADER)
    return 1 if ledger.problems else 0


def report(summary: dict[str, Any], users: int, workers: int, seed: int, problems: list[str]) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in summary.items())
    listed = "".join(f"\n- {p}" for p in problems[:20]) or " none."
    return f"""## The ledger under injected faults

Command: `make chaos` (`python -m tools.ledger --users {users} --workers {workers} --seed {seed}`), against the
local runner (`make run`'s code) on 127.0.0.1 with faults: {", ".join(f"`{f}`" for f in FAULTS)}
(seeded), failed messages redelivered after 0 s, batching window 0 s. Clients retry 5xx and
"in progress" answers with the same Idempotency-Key for up to {CLIENT_BUDGET_SECONDS} s.

The claims, checked over HTTP only: every 2xx user exists and has exactly one welcome email or
exactly one dead letter (or both, see below, never more); no user has two emails; every failed request left nothing behind (its
email registers afterwards); every request got a final answer. Every {DUPLICATE_EVERY}th user's email is then
registered again by another client (other key, other case): each of those must fail with 409
email_taken and leave the first user as it was.

| Count | Value |
| --- | --- |
{rows}

Dead letters are expected under these faults: a message whose every delivery met an SES
rejection, or whose lease stayed held (its release was throttled) while the 0 s redelivery used
up the five receives. With the template's own visibility timeout (six times the processor's 30 s)
above the 60 s lease, the second cause does not arise; both are redriven from the DLQ.
A user can have both an email and a dead letter: the processor sent the email, then crashed on a
later record of the same batch, so Lambda (and the runner) put the whole batch back, and the
batch's later crashes used up that message's five receives. No crash, no such case: the ledger
fails if there are more of them than crashed batches. Redriving one sends nothing (the processor
finds the email already sent; docs/operations.md), and the ledger checks it: once counted, every
dead letter is redriven (`POST /_local/redrive`, the faults still on), and afterwards no user may
have two emails, nor be left with neither an email nor a dead letter.

Problems:{listed}

`make chaos` exits non-zero unless `problems` is 0. A short version (60 users, its own seed)
runs in `make test` (tests/e2e/test_ledger.py).
"""


def report_gcp(summary: dict[str, Any], users: int, workers: int, seed: int, problems: list[str]) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in summary.items())
    listed = "".join(f"\n- {p}" for p in problems[:20]) or " none."
    return f"""## The ledger on GCP's emulators

Command: `make chaos CLOUD=gcp` (`python -m tools.ledger --cloud gcp --users {users} --workers {workers} --seed {seed}`),
against `make run CLOUD=gcp` on 127.0.0.1: the Firestore and Pub/Sub emulators, the functions in
functions-framework (the API in four instances, one request at a time each), an SMTP sink. Faults:
{", ".join(f"`{f}`" for f in GCP_FAULTS)} (seeded). A relay or processor crash strikes before or after the
function's work, at even odds: after it, the relay has published and the processor has sent and
marked, and the event or message is delivered again all the same (Eventarc's retries, emulated by
the runner; Pub/Sub's redelivery at once, the emulator counting deliveries and dead-lettering a
message after the fifth). `pubsub.duplicate` delivers an acknowledged message a second time.

The claims are the AWS ledger's, checked over HTTP only: every 2xx user exists and has exactly one
welcome email or exactly one dead letter, never two emails; every failed request left nothing
behind; every request got a final answer; every {DUPLICATE_EVERY}th email registered again (other key, other
case) is refused 409 email_taken and changes nothing. Dead letters are then redriven (`POST
/_local/redrive`, the faults still on) and no user may end with two emails, or with neither.

| Count | Value |
| --- | --- |
{rows}

Problems:{listed}

A short version (40 users, its own seed) runs in `make test` (tests/gcp/test_ledger.py).
"""


if __name__ == "__main__":
    sys.exit(main())
