"""make diff: synthesise a base ref and the working tree, compare, print the report.

    python -m synth_review [--base REF] [--stage STAGE] [--format md|text] [--output FILE]
                           [--fail-on-destructive] [--allow-destructive]
                           [--fail-on-breaking-api] [--allow-breaking-api]
    python -m synth_review --base-assembly DIR --head-assembly DIR
                           [--base-openapi FILE] [--head-openapi FILE] [...]

The API contract (docs/openapi.json) is compared too: the base ref's committed document against
the working tree's, which must match the code; with --base-assembly only when --base-openapi
names the base document.

Exit codes: 0 reviewed; 1 could not review (one `error:` line); 3 destructive changes found
with --fail-on-destructive and neither --allow-destructive nor ALLOW_DESTRUCTIVE=true; 4 breaking
API changes found with --fail-on-breaking-api and neither --allow-breaking-api nor
ALLOW_BREAKING_API=true (destructive changes are reported first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from synth_review.api_contract import DOCUMENT, ApiChange, ContractError, compare_documents, document_at, stale_document
from synth_review.cdk_diff import cdk_diffs
from synth_review.compare import ReviewError, compare, load_assembly
from synth_review.report import findings_line, markdown, text

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "review"


# How much of a failed command's output the error repeats: enough for a traceback's cause.
FAILURE_LINES = 25


def _run(args: list[str], *, cwd: Path, what: str) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        # The whole reason, not only its last line (often just "Subprocess exited with error 1"),
        # without the Node version banner jsii prints.
        lines = [line for line in (result.stderr or result.stdout).splitlines()
                 if line.strip() and not line.lstrip("b'\"").startswith("!!")]
        shown = "".join(f"\n  {line}" for line in lines[-FAILURE_LINES:])
        raise ReviewError(f"{what} failed (exit {result.returncode})" + (f":{shown}" if shown else ""))
    return result.stdout


def synth(source: Path, out: Path, stage: str | None) -> None:
    if out.exists():
        shutil.rmtree(out)
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        raise ReviewError("the CDK CLI is not installed: run `make setup`")
    args = [str(cdk), "synth", "--quiet", "--app", f"{ROOT / '.venv' / 'bin' / 'python'} app.py", "--output", str(out)]
    if stage:
        args += ["-c", f"stage={stage}"]
    _run(args, cwd=source, what=f"cdk synth in {source.relative_to(ROOT) if source != ROOT else 'the working tree'}")


def synth_side_by_side(jobs: list[tuple[Path, Path]], stage: str | None) -> None:
    """Synthesises each (source, out) at once: each synth is processes of its own (the CDK CLI,
    Node, the app), so on several cores they run side by side.
    A failure is raised for the first job that failed, in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        running = [pool.submit(synth, source, out, stage) for source, out in jobs]
    for job in running:
        job.result()


def verify_ref(ref: str) -> None:
    _run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=ROOT,
         what=f"finding {ref!r} (set BASE=<ref>, e.g. BASE=HEAD~1; fetch origin/main first)")


def checkout(ref: str) -> Path:
    """The base ref (verified: verify_ref) as a detached worktree under build/review, sharing the
    working tree's layer."""
    source = WORK / "base-src"
    subprocess.run(["git", "worktree", "remove", "--force", str(source)], cwd=ROOT, capture_output=True)
    if source.exists():
        shutil.rmtree(source)
    subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)
    _run(["git", "worktree", "add", "--detach", "--quiet", str(source), ref], cwd=ROOT, what=f"checking out {ref}")
    (source / "build").mkdir(exist_ok=True)
    for name in ("layer", "layer.stamp"):
        target = source / "build" / name
        if not target.exists():
            target.symlink_to(ROOT / "build" / name)
    return source


def _flag(value: bool, variable: str) -> bool:
    return value or os.environ.get(variable, "").lower() in ("1", "true", "yes")


def api_changes(args: argparse.Namespace, notes: list[str]) -> list[ApiChange] | None:
    """docs/openapi.json's changes from the base to the head; None when there is no base document."""
    if args.base_assembly and not args.base_openapi:
        return None  # nothing to compare the head's document with
    if args.head_openapi:
        head = args.head_openapi.read_text()
    else:
        stale = stale_document()
        if stale:
            raise ReviewError(f"{DOCUMENT} does not describe the code ({stale}); the API review compares it")
        head = (ROOT / DOCUMENT).read_text()
    if args.base_openapi:
        base = args.base_openapi.read_text()
    else:
        base = document_at(args.base)
        if base is None:
            notes.append(f"{DOCUMENT} is new since {args.base}: every operation is added.")
            base = json.dumps({"openapi": json.loads(head).get("openapi", "3.1.0"), "info": {}, "paths": {}})
    try:
        return compare_documents(base, head)
    except ContractError as exc:
        raise ReviewError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make diff", description="Offline synth review of BASE against the working tree.")
    parser.add_argument("--base", default="origin/main")
    parser.add_argument("--stage", help="only this stage: synthesised alone (faster), and the only one compared")
    parser.add_argument("--format", choices=("md", "text"), default="text")
    parser.add_argument("--output", type=Path, help="also write the report here")
    parser.add_argument("--fail-on-destructive", action="store_true")
    parser.add_argument("--allow-destructive", action="store_true")
    parser.add_argument("--fail-on-breaking-api", action="store_true")
    parser.add_argument("--allow-breaking-api", action="store_true")
    parser.add_argument("--base-openapi", type=Path, help="the base's OpenAPI document (default: BASE's docs/openapi.json)")
    parser.add_argument("--head-openapi", type=Path, help="the head's OpenAPI document (default: the working tree's)")
    parser.add_argument("--base-assembly", type=Path, help="compare this assembly instead of synthesising BASE")
    parser.add_argument("--head-assembly", type=Path, help="compare this assembly instead of synthesising the working tree")
    args = parser.parse_args(argv)
    allow = _flag(args.allow_destructive, "ALLOW_DESTRUCTIVE")
    allow_breaking = _flag(args.allow_breaking_api, "ALLOW_BREAKING_API")
    try:
        notes: list[str] = []
        if not args.base_assembly:
            verify_ref(args.base)
        api = api_changes(args, notes)  # a stale document fails before any synth
        synths: list[tuple[Path, Path]] = []
        if args.base_assembly:
            base_dir, base_name = args.base_assembly, str(args.base_assembly)
        else:
            base_dir, base_name = WORK / "base", args.base
            synths.append((checkout(args.base), base_dir))
            if subprocess.run(["git", "diff", "--quiet", args.base, "--", "lambda_src/requirements.txt"], cwd=ROOT).returncode:
                notes.append(f"lambda_src/requirements.txt changed since {args.base}: the dependency layer changes "
                             "(both sides are synthesised with the working tree's built layer).")
        if args.head_assembly:
            head_dir, head_name = args.head_assembly, str(args.head_assembly)
        else:
            head_dir, head_name = WORK / "head", "working tree"
            synths.append((ROOT, head_dir))
        synth_side_by_side(synths, args.stage)
        # A given assembly may hold every stage: --stage compares that stage's stacks only.
        base_stacks, head_stacks = load_assembly(base_dir, args.stage), load_assembly(head_dir, args.stage)
        if args.stage and not base_stacks and not head_stacks:  # a mistyped stage is not "no changes"
            raise ReviewError(f"no stacks of a stage {args.stage!r} on either side; the stages are the config's (STAGE= or --stage)")
        report = compare(base_stacks, head_stacks, base_name=base_name, head_name=head_name)
        report.api = api
        report.cdk_diff = cdk_diffs(base_dir, head_dir, [*report.changes, *report.stacks_added])
        report.notes += notes
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rendered = markdown(report) if args.format == "md" else text(report)
    print(rendered, end="")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown(report) if args.output.suffix == ".md" else rendered)
    if args.fail_on_destructive and report.destructive and not allow:
        print(f"error: destructive changes ({findings_line(report.destructive)}); "
              "label the pull request allow-destructive or pass --allow-destructive once reviewed", file=sys.stderr)
        return 3
    if args.fail_on_breaking_api and report.breaking_api and not allow_breaking:
        print(f"error: breaking API changes ({'; '.join(f'{c.where}: {c.description}' for c in report.breaking_api)}); "
              "label the pull request allow-breaking-api or pass --allow-breaking-api once clients are ready",
              file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
