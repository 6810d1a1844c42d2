"""The runner's wiring comes from the synthesised template, and what it cannot run stops it
with one clear line."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from local_runner.__main__ import base_url, token_command
from local_runner.pipe import render
from local_runner.wiring import WiringError, load_wiring
from tests.conftest import Synthesised
from tools.runner_client import ROOT, Runner, runner_env
from users import contract


def _template_file(assembly: Path) -> Path:
    return assembly / "dev-us-east-1.template.json"


def test_wiring_is_the_dev_templates(synth: Synthesised) -> None:
    wiring = load_wiring(synth.outdir, "dev")
    template = synth.template("dev")
    assert wiring.region == synth.stages["dev"].primary_region
    assert wiring.stack_name == "archon-dev-us-east-1"
    assert wiring.table.name == "users-dev" and wiring.table.stream_view == "NEW_AND_OLD_IMAGES"
    assert [i["IndexName"] for i in wiring.table.indexes] == [contract.LIST_INDEX]
    queue = next(q for q in wiring.queues.values() if q.name == "notifications-dev")
    assert (queue.visibility_timeout, queue.max_receive_count) == (180, 5)
    [source] = wiring.event_sources
    assert (source.batch_size, source.batching_window_seconds, source.report_batch_item_failures) == (10, 5, True)
    [pipe] = wiring.pipes
    assert pipe.filters == [p["Pattern"] for r in template["Resources"].values() if r["Type"] == "AWS::Pipes::Pipe"
                            for p in r["Properties"]["SourceParameters"]["FilterCriteria"]["Filters"]]
    assert set(wiring.routes) == {"/", "/users", "/users/{user_id}"}
    assert set(wiring.routes["/users"]) == {"GET", "POST", "OPTIONS"}
    post = wiring.routes["/users"]["POST"]
    assert post.authorization == "COGNITO_USER_POOLS" and post.validate_body
    assert post.request_models["application/json"]["required"] == ["name", "email"]
    api = wiring.function_by_name("archon-users-api-dev")
    assert api.handler == "handlers.users_api.handler" and (api.code_dir / "handlers" / "users_api.py").is_file()


def test_the_input_template_renders_the_original_message() -> None:
    record = {"dynamodb": {"NewImage": {"user_id": {"S": "u-1"}, "email": {"S": 'a"b@example.com'}}}}
    template = f'{{"type": "{contract.WELCOME_MESSAGE_TYPE}", "user_id": "<$.dynamodb.NewImage.user_id.S>", "email": "<$.dynamodb.NewImage.email.S>"}}'
    assert json.loads(render(template, record)) == {"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "u-1", "email": 'a"b@example.com'}


@pytest.fixture
def assembly_copy(synth: Synthesised, tmp_path: Path) -> Path:
    copy = tmp_path / "cdk.out"
    shutil.copytree(synth.outdir, copy, ignore=shutil.ignore_patterns("staging-*", "prod-*"))
    return copy


def _edit(assembly: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = _template_file(assembly)
    template = json.loads(path.read_text())
    change(template)
    path.write_text(json.dumps(template))


def test_a_change_to_the_template_is_followed(assembly_copy: Path) -> None:
    def change(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Lambda::EventSourceMapping":
                resource["Properties"]["BatchSize"] = 3
            if resource["Type"] == "AWS::SQS::Queue" and resource["Properties"].get("RedrivePolicy"):
                resource["Properties"]["VisibilityTimeout"] = 42

    _edit(assembly_copy, change)
    wiring = load_wiring(assembly_copy, "dev")
    assert wiring.event_sources[0].batch_size == 3
    assert {q.visibility_timeout for q in wiring.queues.values() if q.dead_letter_logical_id} == {42}


def test_an_unsupported_resource_is_named(assembly_copy: Path) -> None:
    _edit(assembly_copy, lambda t: t["Resources"].update({"Workflow": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}}}))
    with pytest.raises(WiringError, match=r"Workflow: the local runner cannot emulate AWS::StepFunctions::StateMachine"):
        load_wiring(assembly_copy, "dev")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local_runner", *args], cwd=ROOT, env=runner_env(),
                          capture_output=True, text=True, timeout=60)


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return _cli("serve", *args)


def _start_serving(synth: Synthesised, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """`serve` left running, its stdout and stderr piped, for tests that signal it."""
    return subprocess.Popen([sys.executable, "-m", "local_runner", "serve", *args, "--assembly", str(synth.outdir),
                             "--log-file", str(tmp_path / "log")], cwd=ROOT, env=runner_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_missing_assembly_fails_with_one_line(tmp_path: Path) -> None:
    result = _serve("--port", "0", "--assembly", str(tmp_path / "nowhere"), "--log-file", str(tmp_path / "log"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nowhere'}/manifest.json not found: synthesise first (make synth STAGE=dev)"]


@pytest.mark.slow
def test_unsupported_template_fails_with_one_line(assembly_copy: Path, tmp_path: Path) -> None:
    _edit(assembly_copy, lambda t: t["Resources"].update({"Workflow": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}}}))
    result = _serve("--port", "0", "--assembly", str(assembly_copy), "--log-file", str(tmp_path / "log"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "Workflow" in result.stderr and "AWS::StepFunctions::StateMachine" in result.stderr


@pytest.mark.slow
def test_unwritable_log_file_fails_with_one_line(synth: Synthesised, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the log's folder would go")
    log = tmp_path / "taken" / "functions.log"
    result = _serve("--port", "0", "--assembly", str(synth.outdir), "--log-file", str(log))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: cannot write the function log {log}: File exists; give a writable path with --log-file"]


@contextlib.contextmanager
def _busy_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


@pytest.mark.slow
def test_port_in_use_fails_with_one_line(synth: Synthesised, tmp_path: Path) -> None:
    with _busy_port() as port:
        result = _serve("--port", str(port), "--assembly", str(synth.outdir), "--log-file", str(tmp_path / "log"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: the port is already in use; stop the other process or set PORT="]


def test_token_without_a_runner_says_how_to_reach_one() -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = _cli("token", "--url", f"http://127.0.0.1:{port}")
    assert result.returncode == 1 and result.stdout == ""  # nothing a `TOKEN=$(make -s token)` would take for a token
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: no local runner answers at http://127.0.0.1:{port} (")
    assert line.endswith("start it with make run, or give the port it serves on (make token PORT=N)")


@pytest.mark.slow
def test_bad_fault_spec_fails_with_one_line(synth: Synthesised, tmp_path: Path) -> None:
    result = _serve("--port", "0", "--assembly", str(synth.outdir), "--fault", "disk.full=0.1")
    assert result.returncode == 1 and "unknown fault 'disk.full'" in result.stderr


def _usage_error(main: Callable[[list[str]], Any], argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """argparse's exit for a usage error (2), and its last line, the one naming the argument."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize(("argv", "environment", "error"), [
    (["serve", "--port", "abc"], {}, "argument --port: 'abc' is not a port: give a whole number from 0 to 65535"),
    (["serve", "--port", "70000"], {}, "argument --port: '70000' is not a port"),
    (["serve"], {"PORT": "abc"}, "argument --port: 'abc' is not a port"),  # make run PORT=abc
    (["serve", "--moto-port", "-1"], {}, "argument --moto-port: '-1' is not a port"),
    (["token", "--url", "http://127.0.0.1:abc"], {}, "argument --url: 'http://127.0.0.1:abc' has no valid port"),
    (["token"], {"PORT": "abc"}, "argument --url: 'http://127.0.0.1:abc' has no valid port"),
    (["outbox", "--url", "127.0.0.1:3000"], {}, "argument --url: '127.0.0.1:3000' is not a runner's URL"),
    (["serve", "--batching-window", "-1"], {}, "'-1' is not a batching window: give a number from 0 to 300"),
    (["serve", "--batching-window", "nan"], {}, "'nan' is not a batching window"),
    (["serve", "--redelivery-seconds", "-5"], {}, "'-5' is not a visibility timeout: give a whole number from 0 to 43200"),
    (["serve", "--creates-per-caller", "0"], {}, "'0' is not an hourly limit: give a whole number of at least 1"),
    (["serve", "--fault-limit", "0"], {}, "'0' is not a fault limit: give a whole number of at least 1"),
    (["serve", "--fault-seed", "x"], {}, "'x' is not a fault seed: give a whole number of at least 0"),
])
def test_a_bad_port_url_or_setting_is_a_usage_error_naming_the_fix(argv: list[str], environment: dict[str, str], error: str,
                                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import local_runner.__main__ as cli
    from local_runner.__main__ import main

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "serve", lambda args: pytest.fail(f"started serving with {args}"))
    assert error in _usage_error(main, argv, capsys)


@pytest.mark.parametrize("host", ["notanip", "999.1.1.1", ""])
def test_a_host_that_is_no_address_is_one_line_naming_the_fix_and_leaves_collection_on(
        host: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Before, a mistyped HOST= was called "not a loopback address" (and, allowed, failed to bind)."""
    import gc

    from local_runner.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--host", host, "--port", "0"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: cannot bind {host!r}: it is neither an IP address nor a name this machine resolves; give an address such as 127.0.0.1 (make run HOST=...)"]
    assert gc.isenabled()  # paused for the start only


@pytest.mark.parametrize(("tool", "argv", "error"), [
    ("tools.ledger", ["--users", "0"], "'0' is not a number of users: give a whole number of at least 1"),
    ("tools.ledger", ["--workers", "100"], "'100' is not a number of client threads: give a whole number from 1 to 64"),
    ("tools.ledger", ["--seed", "-1"], "'-1' is not a fault seed: give a whole number of at least 0"),
    ("tools.fuzz", ["--max-examples", "-5"], "'-5' is not a number of examples"),
    ("tools.fuzz", ["--seed", "one"], "'one' is not a seed: give a whole number of at least 0"),
])
def test_the_chaos_and_fuzz_tools_refuse_a_bad_count_before_starting_anything(tool: str, argv: list[str], error: str,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    assert error in _usage_error(importlib.import_module(tool).main, argv, capsys)


def test_a_fault_seed_repeats_each_fault_however_the_threads_interleave() -> None:
    """With --fault-seed, the n-th SES call meets the same fate whether the API's DynamoDB calls
    drew before it or not (the API and the pollers run on their own threads)."""
    from local_runner.faults import Faults

    def ses_fates(dynamodb_calls_between: int) -> list[bool]:
        faults = Faults.parse(["ses.throttle=0.3", "dynamodb.throttle=0.3"], seed=11)
        fates = []
        for _ in range(50):
            for _ in range(dynamodb_calls_between):
                faults.fire("dynamodb.throttle")
            fates.append(faults.fire("ses.throttle"))
        return fates

    alone = ses_fates(0)
    assert any(alone) and not all(alone)
    assert ses_fates(1) == alone and ses_fates(3) == alone
    other_seed = Faults.parse(["ses.throttle=0.3"], seed=12)
    assert [other_seed.fire("ses.throttle") for _ in range(50)] != alone


class _FlakyStreams:
    """A streams client whose first call fails, as a dropped connection would."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def __getattr__(self, name: str) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("stream endpoint went away")
        return getattr(self.real, name)


def test_the_pipe_survives_a_failed_poll(synth: Synthesised) -> None:
    from moto import mock_aws

    from local_runner.emulator import Emulator
    from local_runner.provisioning import provision
    from local_runner.pipe import StreamPipe

    wiring = load_wiring(synth.outdir, "dev")
    with mock_aws():
        emulator = Emulator(backend="memory", region=wiring.region)
        resources = provision(emulator, wiring)
        pipe = StreamPipe(spec=wiring.pipes[0], emulator=emulator, resources=resources, lock=threading.RLock())
        pipe._streams = _FlakyStreams(pipe._streams)
        emulator.client("dynamodb").put_item(TableName=wiring.table.name, Item={
            contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"}, contract.LIST_INDEX_PARTITION: {"S": "user"}, "region": {"S": wiring.region},
            "user_id": {"S": "0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"}, "email": {"S": "a@example.com"}, contract.LIST_INDEX_SORT: {"S": "k"}})
        stop = threading.Event()
        worker = threading.Thread(target=pipe.run, args=(stop,), daemon=True)
        worker.start()
        deadline = time.monotonic() + 10
        while pipe.forwarded == 0 and time.monotonic() < deadline:
            stop.wait(0.05)
        stop.set()
        worker.join(5)
    assert pipe.poll_errors == 1 and pipe.forwarded == 1


@pytest.mark.slow
def test_banner_names_the_port_for_make_token_and_ctrl_c_stops_cleanly(synth: Synthesised, tmp_path: Path) -> None:
    process = _start_serving(synth, tmp_path, "--port", "0")
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("ready in"):
                break
        port = banner[-1].rsplit(":", 1)[1]
        # After make run PORT=N, a bare `make token` would ask port 3000: the banner says which to use.
        assert f"token: make token PORT={port}   (or curl -s -X POST http://127.0.0.1:{port}/_local/token)" in banner
        process.send_signal(signal.SIGINT)  # Ctrl-C
        # A bound on a hang, not a speed goal: under the whole suite's load the stop (the pollers'
        # joins, the emulator) has taken over 20 s.
        rest, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and rest.splitlines() == ["stopped"] and err == ""


# A Ctrl-C that lands the moment the port is bound, before anything else of the start has run.
CTRL_C_AS_THE_PORT_OPENS = """
import os, signal, sys
import local_runner.server as server
bind = server.make_server
def bind_then_ctrl_c(*args, **kwargs):
    bound = bind(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGINT)
    return bound
server.make_server = bind_then_ctrl_c
from local_runner.__main__ import main
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_ctrl_c_as_the_port_opens_stops_cleanly(synth: Synthesised, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", CTRL_C_AS_THE_PORT_OPENS, "serve", "--port", "0", "--assembly", str(synth.outdir),
                             "--log-file", str(tmp_path / "log")], cwd=ROOT, env=runner_env(), capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "stopped"


@pytest.mark.slow
def test_ctrl_c_during_the_start_stops_cleanly(synth: Synthesised, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = _start_serving(synth, tmp_path, "--port", str(port))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the port is bound before the slow start: Ctrl-C lands inside it
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert (process.returncode, err) == (0, "")  # no KeyboardInterrupt traceback, no poller left running
    assert out.splitlines()[-1] == "stopped"


@pytest.mark.parametrize(("host", "port", "base", "command"), [
    ("127.0.0.1", 3000, "http://127.0.0.1:3000", "make token"),
    ("127.0.0.1", 3711, "http://127.0.0.1:3711", "make token PORT=3711"),
    ("0.0.0.0", 3000, "http://0.0.0.0:3000", "make token"),  # every interface includes loopback
    ("::1", 3000, "http://[::1]:3000", ".venv/bin/python -m local_runner token --url http://[::1]:3000"),
    ("192.168.1.20", 3000, "http://192.168.1.20:3000", ".venv/bin/python -m local_runner token --url http://192.168.1.20:3000"),
])
def test_banner_urls_and_token_command_reach_the_runner(host: str, port: int, base: str, command: str) -> None:
    assert (base_url(host, port), token_command(host, port)) == (base, command)


@pytest.mark.slow
def test_an_assembly_older_than_the_code_is_refused_with_the_fix(assembly_copy: Path, tmp_path: Path) -> None:
    import os

    manifest = assembly_copy / "manifest.json"
    os.utime(manifest, (manifest.stat().st_atime, 1_000_000_000))  # synthesised in 2001
    result = _serve("--port", "0", "--assembly", str(assembly_copy), "--log-file", str(tmp_path / "log"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "was synthesised before the last change to" in result.stderr and "make run" in result.stderr


@pytest.mark.slow
def test_an_assembly_of_another_stage_is_refused_with_the_fix(synth: Synthesised, tmp_path: Path) -> None:
    only_prod = tmp_path / "cdk.out"  # what a plain `npx cdk synth -c stage=prod` leaves
    shutil.copytree(synth.outdir, only_prod, ignore=shutil.ignore_patterns("dev-*"))
    manifest = json.loads((only_prod / "manifest.json").read_text())
    manifest["artifacts"] = {k: v for k, v in manifest["artifacts"].items() if not k.startswith("dev-")}
    (only_prod / "manifest.json").write_text(json.dumps(manifest))
    result = _serve("--port", "0", "--assembly", str(only_prod), "--log-file", str(tmp_path / "log"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "no stack of stage 'dev'" in result.stderr and "make synth STAGE=dev" in result.stderr


@pytest.mark.slow
def test_a_taken_emulator_port_is_one_line_and_an_exit(synth: Synthesised, tmp_path: Path) -> None:
    with _busy_port() as port:
        started = time.monotonic()
        result = _serve("--port", "0", "--backend", "server", "--moto-port", str(port), "--assembly", str(synth.outdir),
                        "--log-file", str(tmp_path / "log"))
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert result.stderr.strip().splitlines() == [f"error: the emulator's port {port} is already in use; stop the other process or set MOTO_PORT="]


@pytest.mark.slow
def test_the_function_log_holds_only_the_functions_json_lines_fresh_each_run_and_the_console_a_line_per_request(
        synth: Synthesised, tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("a line from an earlier run\n")
    process = _start_serving(synth, tmp_path, "--port", "0", "--batching-window", "0")
    try:
        assert process.stdout is not None
        url = ""
        while not url:
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            if "ready in" in line:
                url = line.rsplit(" ", 1)[1].strip()
        runner = Runner(url=url, process=process)
        runner.token = runner.local("token", "POST")["token"]
        created = runner.request("POST", "/users", {"name": "Log", "email": "log@example.com"})
        assert created.status == 201
        assert runner.request("GET", "/users/not-a-user").status == 404
        console = [process.stdout.readline().strip() for _ in range(2)]
        assert runner.wait_for(lambda: "welcome email sent" in log.read_text())
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    caller = json.loads(__import__("base64").urlsafe_b64decode(runner.token.split(".")[1] + "==="))["sub"]
    assert console[0].startswith("POST /users 201 ") and console[0].endswith(f" ms {caller}")
    assert console[1].startswith("GET /users/not-a-user 404 ")
    lines = log.read_text().splitlines()
    assert lines and "an earlier run" not in log.read_text()
    for line in lines:
        entry = json.loads(line)  # nothing but JSON: no SDK, emulator or runner lines
        assert "timestamp" in entry or "Timestamp" in entry.get("_aws", {}), line


def test_a_function_behind_an_alias_is_run_for_its_callers(synth: Synthesised) -> None:
    """prod's API is SnapStart'ed: its methods invoke an alias, which the runner runs as its function."""
    wiring = load_wiring(synth.outdir, "prod")
    api = wiring.function_by_name("archon-users-api-prod")
    invoked = {method.function_logical_id for methods in wiring.routes.values() for method in methods.values()} - {None}
    assert invoked == {api.logical_id}
    [source] = wiring.event_sources
    assert source.function_logical_id == wiring.function_by_name("archon-notifications-prod").logical_id


# A fresh interpreter with the dev stage's service started in it, its pollers left off.
STARTED_SERVICE = """
import json, sys
from pathlib import Path
from local_runner.runner import LocalService, Options
from local_runner.faults import Faults
service = LocalService(Options(assembly=Path(sys.argv[1]), stage="dev", backend="memory", moto_port=0, batching_window=None,
                               redelivery_seconds=None, creates_per_caller=None, faults=Faults.parse([], limit=None, seed=None)))
service.start(workers=False)
"""
LAMBDA_ENVIRONMENT = STARTED_SERVICE + """
from aws_xray_sdk.core import xray_recorder
seen = {}
for spec in service.wiring.functions.values():
    seen[spec.logical_id] = [service.host._functions[spec.logical_id].environment.get("LAMBDA_TASK_ROOT"), str(spec.code_dir)]
service.stop()
print(json.dumps({"sampler": type(xray_recorder.sampler).__name__, "task_roots": seen}))
"""


def test_the_functions_run_in_lambdas_environment_where_the_xray_sdk_creates_no_client(synth: Synthesised) -> None:
    """Lambda sets LAMBDA_TASK_ROOT to the function's code; outside it the X-Ray SDK sets up
    centralised sampling at import, an X-Ray client each runner start would pay for."""
    result = subprocess.run([sys.executable, "-c", LAMBDA_ENVIRONMENT, str(synth.outdir)], cwd=ROOT, env=runner_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["sampler"] == "LocalSampler"
    assert seen["task_roots"] and all(root == code for root, code in seen["task_roots"].values())


CODE_LOADED = """
import json, sys
from users import contract  # imported before the service, as the runner's own modules do
from pathlib import Path
from local_runner.runner import LocalService, Options
from local_runner.faults import Faults
service = LocalService(Options(assembly=Path(sys.argv[1]), stage="dev", backend="memory", moto_port=0, batching_window=None,
                               redelivery_seconds=None, creates_per_caller=None, faults=Faults.parse([], limit=None, seed=None)))
service.start(workers=False)
code = {str(spec.code_dir) for spec in service.wiring.functions.values()}
files = {name: sys.modules[name].__file__ for name in ("users.logic", "users.contract", "handlers.users_api", "adapters.aws.users_table")}
service.stop()
print(json.dumps({"code": sorted(code), "files": files}))
"""


def test_the_functions_run_the_synthesised_code_asset_even_where_the_runner_read_the_contract_first(synth: Synthesised) -> None:
    """Lambda runs the asset; so must the runner, although its own modules import users.contract
    (from lambda_src) before any function is loaded."""
    result = subprocess.run([sys.executable, "-c", CODE_LOADED, str(synth.outdir)], cwd=ROOT, env=runner_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    (code,) = seen["code"]
    assert all(path.startswith(code + "/") for path in seen["files"].values()), seen


SERVE_ONE_MOMENT = """
import gc, json, sys
from local_runner import server
from local_runner.__main__ import main
made = server.make_server
def report_instead_of_serving(*args, **kwargs):
    http = made(*args, **kwargs)
    def serve_forever():
        print(json.dumps({"collector_enabled": gc.isenabled(), "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}),
              file=sys.stderr)
    http.serve_forever = serve_forever
    return http
server.make_server = report_instead_of_serving
main(["serve", "--port", "0", "--assembly", sys.argv[1], "--log-file", sys.argv[2]])
"""


def test_the_runner_serves_with_the_collector_on_and_its_start_frozen(synth: Synthesised, tmp_path: Path) -> None:
    """What the start made lives as long as the runner, so it is frozen out of the collector's way
    (a faster start); what serving makes is collected as usual, or a long local run would grow."""
    result = subprocess.run([sys.executable, "-c", SERVE_ONE_MOMENT, str(synth.outdir), str(tmp_path / "functions.log")],
                            cwd=ROOT, env=runner_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    state = json.loads(next(line for line in result.stderr.splitlines() if line.startswith("{")))
    assert state["collector_enabled"] is True
    assert state["tracked"] < 1000 < state["frozen"], state  # all the start made, the emulated resources too


LOCAL_ENDPOINTS_BESIDE_FUNCTIONS = STARTED_SERVICE + """
import threading
sys.setswitchinterval(1e-6)  # hand the GIL over often, as a loaded machine does
environments = [function.environment for function in service.host._functions.values()]
stop = threading.Event()
def run_functions():  # what invoking one function after the other does to os.environ
    while not stop.is_set():
        for environment in environments:
            with service.host.lock:
                service.host._apply(environment)
functions = threading.Thread(target=run_functions, daemon=True)
functions.start()
try:
    for _ in range(60):
        service.queue_depths(); service.dead_letters(); service.redrive()
finally:
    stop.set()
    functions.join()
print("ok")
"""


def test_the_local_endpoints_answer_while_functions_run(synth: Synthesised) -> None:
    """The function host swaps os.environ for each function it runs; an endpoint that created a
    boto3 client beside it (which reads all of os.environ) failed with a 500 now and then."""
    result = subprocess.run([sys.executable, "-c", LOCAL_ENDPOINTS_BESIDE_FUNCTIONS, str(synth.outdir)], cwd=ROOT, env=runner_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
