"""Mutation testing of the domain and each cloud's adapters (make mutation), with mutmut.

mutmut makes one small change at a time in a file (a comparison, a number, a string, a keyword)
and runs the tests meant for that file; a change no test notices is a survivor. Each file runs in
a copy of its own under build/mutation/ (mutmut edits files in place), the files side by side.

A run is incremental: a file is run again only when it or its tests changed since its last run
here (build/mutation/results.json), or, with --base REF, when they changed since REF (CI's pull
requests); --full runs every file. A survivor that no test can kill (it changes nothing a user
could see) is listed with its reason in tools/mutation_equivalents.toml and counts as neither
killed nor mutant. The report (--report) is docs/reliability.md's mutation section; the run fails
when a file scores under --min-score.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.arguments import number_in

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
RESULTS = WORK / "results.json"
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.toml"
MUTMUT = ROOT / ".tools" / "mutation" / "bin" / "mutmut"
ATTEMPTS, ATTEMPT_SECONDS = 4, 600
# What the targets' tests may use besides their own files: the domain's stand-ins, the adapters'
# emulator and table.
SHARED_TEST_FILES = ("tests/__init__.py", "tests/aws_tables.py", "tests/domain/__init__.py", "tests/domain/ports.py",
                     "tests/adapters/__init__.py", "tests/adapters/aws/__init__.py", "tests/adapters/aws/conftest.py",
                     "tests/adapters/gcp/__init__.py", "tests/gcp/__init__.py", "tests/gcp/conftest.py")


def shared_files(target: str) -> tuple[str, ...]:
    """The shared test files a target's tests can reach: a change elsewhere does not run it again."""
    tier = "tests/adapters/" if target.startswith("lambda_src/adapters/") else "tests/domain/"
    return tuple(f for f in SHARED_TEST_FILES if f.startswith(tier) or f == "tests/__init__.py"
                 or (f.startswith("tests/gcp/") and tier == "tests/adapters/")
                 or (f == "tests/aws_tables.py" and tier == "tests/adapters/"))
# Each file under test and the tests that exercise it: the domain's against stand-ins of its
# ports (tests/domain), each adapter against its cloud's emulator (tests/adapters).
# The example tests come first: with -x, most mutants fall to them before the property tests run.
TARGETS: dict[str, tuple[str, ...]] = {
    "lambda_src/users/identity.py": ("tests/domain/test_rules.py", "tests/domain/test_email_identity.py",
                                     "tests/domain/test_validation_properties.py"),
    "lambda_src/users/rules.py": ("tests/domain/test_rules.py", "tests/domain/test_validation_properties.py",
                                  "tests/domain/test_email_identity.py"),
    "lambda_src/users/cursor.py": ("tests/domain/test_cursor.py", "tests/domain/test_validation_properties.py"),
    "lambda_src/users/logic.py": ("tests/domain/test_logic.py",),
    "lambda_src/users/welcome.py": ("tests/domain/test_welcome.py",),
    "lambda_src/adapters/aws/users_table.py": ("tests/adapters/aws/test_users_table.py",),
    "lambda_src/adapters/aws/welcome_outbox.py": ("tests/adapters/aws/test_welcome_outbox.py",),
    "lambda_src/adapters/aws/mailer.py": ("tests/adapters/aws/test_welcome_outbox.py",),
    # The GCP adapters' tests start a Firestore emulator of their own (tests/gcp/conftest.py).
    "lambda_src/adapters/gcp/firestore_users.py": ("tests/gcp/test_firestore_users.py",),
    "lambda_src/adapters/gcp/firestore_outbox.py": ("tests/gcp/test_firestore_outbox.py",),
    "lambda_src/adapters/gcp/firestore_idempotency.py": ("tests/gcp/test_firestore_outbox.py",),
    "lambda_src/adapters/gcp/smtp_mailer.py": ("tests/adapters/gcp/test_smtp_mailer.py",),
    "lambda_src/adapters/gcp/welcome_topic.py": ("tests/adapters/gcp/test_welcome_topic.py",),
}


@dataclass
class Survivor:
    line: str  # the line as written
    mutant: str  # the line as mutmut changed it
    diff: str
    why_equivalent: str | None = None


@dataclass
class FileResult:
    target: str
    digest: str
    mutants: int = 0
    killed: int = 0  # a test failed, or the tests ran out of time
    survivors: list[Survivor] = field(default_factory=list)

    @property
    def equivalent(self) -> int:
        return sum(1 for s in self.survivors if s.why_equivalent)

    @property
    def unexplained(self) -> list[Survivor]:
        return [s for s in self.survivors if not s.why_equivalent]

    @property
    def score(self) -> float:
        """Killed among the mutants a test could kill (the equivalent ones left out)."""
        detectable = self.mutants - self.equivalent
        return 100.0 * self.killed / detectable if detectable else 100.0


def digest(target: str) -> str:
    sha = hashlib.sha256()
    for path in (target, *TARGETS[target], *shared_files(target), "tools/requirements-mutation.txt"):
        sha.update(path.encode() + b"\0" + (ROOT / path).read_bytes() + b"\0")
    return sha.hexdigest()


def changed_since(base: str) -> set[str]:
    names = subprocess.run(["git", "diff", "--name-only", f"{base}...HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    dirty = subprocess.run(["git", "diff", "--name-only", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(names.stdout.split()) | set(dirty.stdout.split())


def selected(args: argparse.Namespace, previous: dict[str, Any]) -> list[str]:
    targets = [t for t in TARGETS if not args.only or t in args.only]
    if args.full:
        return targets
    if args.base:
        changed = changed_since(args.base)
        return [t for t in targets if changed & {t, *TARGETS[t], *shared_files(t), "tools/mutation.py"}]
    return [t for t in targets if previous.get(t, {}).get("digest") != digest(t)]


def workspace(target: str) -> Path:
    """A copy of the functions' code and the target's tests, where mutmut may edit the target. A
    copy of the same code and tests is kept, with mutmut's record of the mutants it has tried, so
    an interrupted run resumes where it stopped."""
    work = WORK / "work" / re.sub(r"[^A-Za-z0-9]+", "-", target)
    marker = work / ".digest"
    if marker.exists() and marker.read_text() == digest(target):
        return work
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "lambda_src", work / "lambda_src", ignore=shutil.ignore_patterns("__pycache__", "requirements*"))
    for path in (*TARGETS[target], *SHARED_TEST_FILES):
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, work / path)
    (work / "tests" / "conftest.py").write_text("")  # the suite's session synth is not needed here
    shutil.copy2(ROOT / "pytest.ini", work / "pytest.ini")
    marker.write_text(digest(target))
    return work


def run_target(target: str) -> FileResult:
    work = workspace(target)
    python = ROOT / ".venv" / "bin" / "python"
    # -x: the first failing test kills the mutant; a fixed hypothesis seed, so a mutant is killed
    # or not the same way every run.
    runner = f"{python} -m pytest -x -q -p no:cacheprovider --hypothesis-seed=0 {' '.join(TARGETS[target])}"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # a mutant's bytecode must never be reused
    env.pop("PYTHONPYCACHEPREFIX", None)
    command = [str(MUTMUT), "run", "--paths-to-mutate", target, "--runner", runner, "--tests-dir", "tests", "--no-progress", "--simple-output"]
    for _ in range(ATTEMPTS):
        # mutmut 2 now and then stops between two mutants and waits for good: after a while
        # without an answer it is stopped, and a new run resumes from its record.
        with subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True) as run:
            try:
                output, _ = run.communicate(timeout=ATTEMPT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.communicate()
                backup = work / f"{target}.bak"  # mutmut's copy of the file while a mutant is applied
                if backup.exists():
                    (work / target).write_bytes(backup.read_bytes())
                continue
        if run.returncode & 1:  # mutmut's "fatal error": the tests fail without any mutant, say
            raise SystemExit(f"mutmut could not run on {target}:\n{output[-3000:]}")
        break
    else:
        raise SystemExit(f"mutmut did not finish {target} in {ATTEMPTS} attempts of {ATTEMPT_SECONDS} s")
    result = FileResult(target=target, digest=digest(target))
    ids: dict[str, list[str]] = {}
    for kind in ("killed", "timeout", "suspicious", "survived"):
        out = subprocess.run([str(MUTMUT), "result-ids", kind], cwd=work, env=env, capture_output=True, text=True)
        ids[kind] = out.stdout.split()
    result.killed = len(ids["killed"]) + len(ids["timeout"])
    result.mutants = result.killed + len(ids["suspicious"]) + len(ids["survived"])
    original = (work / target).read_bytes()
    for mutant_id in ids["suspicious"] + ids["survived"]:
        if not compiles(work, target, mutant_id, env):
            # mutmut 2 reports some mutants that are not Python (`*xs` as `/xs`) as survivors: the
            # module cannot even be imported, so every test of it fails.
            result.killed += 1
            (work / target).write_bytes(original)
            continue
        (work / target).write_bytes(original)
        diff = subprocess.run([str(MUTMUT), "show", mutant_id], cwd=work, env=env, capture_output=True, text=True).stdout
        removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
        added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
        result.survivors.append(Survivor(line="\n".join(removed).strip(), mutant="\n".join(added).strip(), diff=diff.strip()))
    return result


def compiles(work: Path, target: str, mutant_id: str, env: dict[str, str]) -> bool:
    """Whether the mutant is a module at all: applied to the copy, compiled, then imported. A
    mutant that cannot be imported (`A, B = None` at module level) fails every test of it, but
    pytest reports that as a collection error (exit code 2), which mutmut 2 counts as passing."""
    subprocess.run([str(MUTMUT), "apply", mutant_id], cwd=work, env=env, capture_output=True, text=True, check=True)
    try:
        compile((work / target).read_text(), target, "exec")
    except SyntaxError:
        return False
    module = ".".join(Path(target).relative_to("lambda_src").with_suffix("").parts)
    imported = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", f"import {module}"], cwd=work / "lambda_src",
                              env={**env, "PYTHONPATH": str(work / "lambda_src")}, capture_output=True, text=True, timeout=120)
    return imported.returncode == 0


def explain(result: FileResult, equivalents: list[dict[str, str]]) -> None:
    for survivor in result.survivors:
        survivor.why_equivalent = next((e["why"] for e in equivalents if e["file"] == result.target
                                        and e["line"].strip() == survivor.line and e["mutant"].strip() == survivor.mutant), None)


def load_equivalents() -> list[dict[str, str]]:
    entries: list[dict[str, str]] = tomllib.loads(EQUIVALENTS.read_text())["equivalent"]
    return entries


def mutmut_version() -> str:
    return subprocess.run([str(MUTMUT), "version"], capture_output=True, text=True).stdout.strip()


def report(results: dict[str, FileResult], min_score: float) -> str:
    rows = "\n".join(
        f"| `{r.target}` | {r.mutants} | {r.killed} | {r.equivalent} | {len(r.unexplained)} | {r.score:.1f}% |"
        for r in (results[t] for t in TARGETS if t in results))
    equivalents = "\n".join(f"- `{r.target}`: `{s.line}` → `{s.mutant}`: {s.why_equivalent}"
                            for r in results.values() for s in r.survivors if s.why_equivalent) or "- none"
    unexplained = "\n".join(f"- `{r.target}`: `{s.line}` → `{s.mutant}`"
                            for r in results.values() for s in r.unexplained) or "- none"
    return f"""## Mutation testing

Command: `make mutation` (incremental; `make mutation FULL=1` runs every file), with {mutmut_version()}
(`tools/requirements-mutation.txt`), each file against its own tests (`tools/mutation.py`, `TARGETS`),
hypothesis seeded. A mutant is killed when a test fails or runs out of time. Score: killed among the
mutants a test could kill; the equivalent ones (below, each with why) are left out. Gate: at least
{min_score:g}% per file (CI: the changed files on pull requests, every file weekly).

| file | mutants | killed | equivalent | unexplained survivors | score |
|---|---|---|---|---|---|
{rows}

Equivalent mutants (`tools/mutation_equivalents.toml`):

{equivalents}

Unexplained survivors:

{unexplained}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="run every file, changed or not")
    parser.add_argument("--base", help="run the files whose code or tests changed since this git ref (CI: origin/main)")
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS), help="limit the run to these files")
    parser.add_argument("--jobs", type=number_in(1, 16, what="a number of jobs"), default=os.cpu_count() or 1, help="files run side by side")
    parser.add_argument("--min-score", type=number_in(0.0, 100.0, kind=float, what="a score"), default=90.0, help="the lowest score a file may have (default 90)")
    parser.add_argument("--report", type=Path, help="write the report into this Markdown file's mutation section")
    args = parser.parse_args(argv)
    if not MUTMUT.exists():
        print("error: mutmut is not installed; run `make mutation` (it installs .tools/mutation)", file=sys.stderr)
        return 2

    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    todo = selected(args, previous)
    if any(test.startswith("tests/gcp/") for target in todo for test in TARGETS[target]):
        from local_runner.gcp.emulators import EmulatorsMissing, find_emulators

        try:
            find_emulators()
        except EmulatorsMissing as exc:  # every test would skip, and every mutant survive
            print(f"error: the GCP adapters' tests need the Firestore emulator: {exc}", file=sys.stderr)
            return 2
    print(f"mutation: {len(todo)} of {len(TARGETS)} files to run ({', '.join(todo) or 'none changed'})", flush=True)
    results = {t: FileResult(**{**r, "survivors": [Survivor(**s) for s in r["survivors"]]}) for t, r in previous.items() if t in TARGETS}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for result in pool.map(run_target, todo):
            results[result.target] = result
            print(f"  {result.target}: {result.killed}/{result.mutants} killed, {len(result.survivors)} survived", flush=True)
    equivalents = load_equivalents()
    for result in results.values():
        explain(result, equivalents)
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({t: asdict(r) for t, r in results.items()}, indent=1))

    text = report(results, args.min_score)
    print(text)
    if args.report:
        if set(results) != set(TARGETS):
            print(f"not writing {args.report}: some files have no result yet (run with --full)", file=sys.stderr)
        else:
            from tools.report import RELIABILITY_HEADER, write_section

            write_section("mutation", text, doc=args.report, header=RELIABILITY_HEADER)
    under = [r for t, r in results.items() if t in todo and r.score < args.min_score]
    for r in under:
        print(f"FAIL {r.target}: {r.score:.1f}% is under {args.min_score:g}%", file=sys.stderr)
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main())
