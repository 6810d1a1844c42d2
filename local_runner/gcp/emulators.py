"""Starts the Google Cloud SDK's Firestore and Pub/Sub emulators on loopback ports, each a Java
process in a session of its own (stopped with everything it started)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_SECONDS = 90
PR_SET_PDEATHSIG = 1
INSTALL = ("install the Google Cloud SDK with its emulator components (gcloud components install cloud-firestore-emulator "
           "pubsub-emulator; on Debian: apt-get install google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator) "
           "and Java 17 or newer")


class EmulatorsMissing(RuntimeError):
    """What is missing, and what to install."""


@dataclass(frozen=True)
class EmulatorCommands:
    firestore: Path
    pubsub: Path

    def firestore_command(self, port: int, *, functions_port: int | None = None) -> list[str]:
        """Java itself, as the SDK's launcher runs it (which does not exec, so a signal to it
        would not reach the emulator)."""
        jar = self.firestore.parent / "cloud-firestore-emulator.jar"
        return ["java", "-Duser.language=en", "-cp", str(jar), "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "--host", "127.0.0.1", "--port", str(port),
                *(["--functions_emulator", f"127.0.0.1:{functions_port}"] if functions_port else [])]


def sdk_platform() -> Path | None:
    root = os.environ.get("CLOUDSDK_ROOT_DIR")
    if root:
        return Path(root) / "platform"
    gcloud = shutil.which("gcloud")
    return Path(gcloud).resolve().parent.parent / "platform" if gcloud else None


def find_emulators() -> EmulatorCommands:
    """The two emulators' launchers; raises EmulatorsMissing naming what to install."""
    platform = sdk_platform()
    if platform is None:
        raise EmulatorsMissing(f"the Google Cloud SDK (gcloud) is not on PATH: {INSTALL}")
    commands = EmulatorCommands(firestore=platform / "cloud-firestore-emulator" / "cloud_firestore_emulator",
                                pubsub=platform / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator")
    missing = [name for name, path in (("the Firestore emulator", commands.firestore.parent / "cloud-firestore-emulator.jar"),
                                       ("the Pub/Sub emulator", commands.pubsub)) if not path.is_file()]
    if missing:
        raise EmulatorsMissing(f"{' and '.join(missing)} not found under {platform}: {INSTALL}")
    if shutil.which("java") is None:
        raise EmulatorsMissing(f"java is not on PATH: the emulators run on it; {INSTALL}")
    return commands


def die_with_parent() -> None:
    """A child's preexec_fn: on Linux the kernel sends it SIGTERM when the runner dies, however it
    dies (SIGKILL included), so no emulator or function instance outlives its run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Emulator:
    def __init__(self, name: str, command: list[str], port: int, log: Path) -> None:
        self.name, self.port = name, port
        self.host = f"127.0.0.1:{port}"
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "w")  # noqa: SIM115 - open for the emulator's life
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509 - async-signal-safe: one prctl

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmulatorsMissing(f"the {self.name} emulator exited ({self._process.returncode}); its log: {self._log.name}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/", timeout=2) as reply:  # noqa: S310 - loopback
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise EmulatorsMissing(f"the {self.name} emulator did not answer within {START_TIMEOUT_SECONDS}s; its log: {self._log.name}")

    def stop(self) -> None:
        stop_session(self._process)
        self._log.close()


def stop_session(process: subprocess.Popen[bytes]) -> None:
    """Stops a child started in a session of its own, and everything it started: SIGTERM to the
    session's group, SIGKILL if it has not exited within 10 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def start_emulators(*, functions_port: int, log_dir: Path) -> tuple[Emulator, Emulator]:
    """Firestore (posting document events to the functions' port, as the Firebase CLI has it do)
    and Pub/Sub, started side by side and ready."""
    commands = find_emulators()
    firestore_port, pubsub_port = free_port(), free_port()
    firestore = Emulator("Firestore", commands.firestore_command(firestore_port, functions_port=functions_port), firestore_port,
                         log_dir / "firestore.log")
    pubsub = Emulator("Pub/Sub", [str(commands.pubsub), "--host=127.0.0.1", f"--port={pubsub_port}"], pubsub_port, log_dir / "pubsub.log")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    try:
        firestore.wait_ready(deadline)
        pubsub.wait_ready(deadline)
    except BaseException:
        firestore.stop()
        pubsub.stop()
        raise
    return firestore, pubsub
