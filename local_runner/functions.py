"""The template's Lambda functions, loaded from their synthesised code assets and invoked in-process.

Each function gets the environment its template gives it (references resolved to the local
resources) plus what the Lambda runtime adds. They share one process, so one invocation runs at a
time, with that function's environment in place: like one warm container per function.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from local_runner.provisioning import LocalResources
from local_runner.faults import InjectedCrash
from local_runner.wiring import ACCOUNT, FunctionSpec, Wiring, WiringError


class FunctionError(Exception):
    """The function raised or timed out; `request_id` is its invocation id."""

    def __init__(self, function: str, request_id: str, reason: str) -> None:
        super().__init__(f"{function} ({request_id}): {reason}")
        self.request_id = request_id


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class LoadedFunction:
    spec: FunctionSpec
    environment: dict[str, str]
    module: ModuleType
    entry: Callable[[dict[str, Any], Any], Any]


class FunctionHost:
    def __init__(self, *, wiring: Wiring, resources: LocalResources, extra_environment: dict[str, str] | None = None,
                 overrides: dict[str, str] | None = None) -> None:
        """`overrides` replace template values, for the functions whose template sets them."""
        self.lock = threading.RLock()
        self._applied: dict[str, str] | None = None  # whose environment os.environ holds
        self._functions: dict[str, LoadedFunction] = {}
        self._all_keys: set[str] = set()
        code_dirs = {spec.code_dir for spec in wiring.functions.values()}
        for code_dir in code_dirs:
            if not code_dir.is_dir():
                raise WiringError(f"code asset {code_dir} is missing: run make synth STAGE=dev again")
            # Lambda's /var/task: the asset's packages come first, and any of them this process
            # imported already (the runner reads users.contract, as the CDK app does) is imported
            # again from the asset, so the functions run the code that was synthesised.
            sys.path.insert(0, str(code_dir))
            shipped = {p.stem for p in code_dir.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
            for name in [m for m in sys.modules if m.partition(".")[0] in shipped]:
                del sys.modules[name]
        for spec in wiring.functions.values():
            env = {key: resources.resolve(value, wiring, f"{spec.logical_id} environment {key}") for key, value in spec.environment.items()}
            env.update({key: value for key, value in (overrides or {}).items() if key in env})
            env.update({
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_REGION": wiring.region,
                # Lambda's own: the X-Ray SDK then samples locally, where outside Lambda it creates
                # an X-Ray client for centralised sampling at import.
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
                **(extra_environment or {}),
            })
            self._all_keys |= env.keys()
            self._functions[spec.logical_id] = self._load(spec, env)

    def _load(self, spec: FunctionSpec, env: dict[str, str]) -> LoadedFunction:
        module_name, _, attribute = spec.handler.rpartition(".")
        with self.lock:
            self._apply(env)
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                raise WiringError(f"{spec.logical_id}: importing {module_name} failed: {exc.__class__.__name__}: {exc}") from exc
        entry = getattr(module, attribute, None)
        if not callable(entry):
            raise WiringError(f"{spec.logical_id}: handler {spec.handler} is not a function in {module.__file__}")
        return LoadedFunction(spec=spec, environment=env, module=module, entry=entry)

    def _apply(self, env: dict[str, str]) -> None:
        if env is self._applied:  # the same function again: its environment is in place
            return
        for key in self._all_keys - env.keys():
            os.environ.pop(key, None)
        os.environ.update(env)
        self._applied = env

    def module(self, logical_id: str) -> ModuleType:
        return self._functions[logical_id].module

    def invoke(self, logical_id: str, event: dict[str, Any], request_id: str | None = None) -> Any:
        function = self._functions[logical_id]
        spec = function.spec
        request_id = request_id or str(uuid.uuid4())
        context = LambdaContext(
            function_name=spec.name, memory_limit_in_mb=spec.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{os.environ['AWS_REGION']}:{ACCOUNT}:function:{spec.name}",
            aws_request_id=request_id, deadline=time.monotonic() + spec.timeout_seconds,
            log_group_name=f"/aws/lambda/{spec.name}")
        with self.lock:
            self._apply(function.environment)
            started = time.monotonic()
            try:
                result = function.entry(event, context)
            except (Exception, InjectedCrash) as exc:
                raise FunctionError(spec.name, request_id, f"{exc.__class__.__name__}: {exc}") from exc
            if time.monotonic() - started > spec.timeout_seconds:
                raise FunctionError(spec.name, request_id, f"ran past its {spec.timeout_seconds} s timeout; Lambda would have stopped it")
        return result
