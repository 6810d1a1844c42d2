"""The domain runs with no cloud SDK: in a Python where boto3, botocore, Google's and Azure's
libraries, Powertools and moto cannot be imported, every domain module imports and a create, a
page and a welcome email run against stand-ins of the ports."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from cdk_app.config import ROOT

CLOUD_LIBRARIES = ("boto3", "botocore", "google", "azure", "aws_lambda_powertools", "moto")

SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys

    class NoCloud:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is a cloud library")
            return None

    # Namespace packages a .pth file sets up at start (google's) are there before any import.
    preloaded = set(sys.modules)
    sys.meta_path.insert(0, NoCloud())
    import users
    for module in pkgutil.iter_modules(users.__path__):
        importlib.import_module(f"users.{module.name}")

    from tests.domain.ports import RecordingMailer, ScriptedOutbox, ScriptedStore
    from users import contract
    from users.logic import UsersService
    from users.models import NewUser
    from users.welcome import Outcome, WelcomeEmails, WelcomeMessage

    store = ScriptedStore()
    service = UsersService(store=store, cursor_keys=lambda: [b"k" * 32], creates_per_caller_per_hour=5)
    user = service.create(NewUser(name="Ada", email="ada@example.com"), caller="c")
    assert service.list().users == []
    mailer = RecordingMailer()
    sent = WelcomeEmails(outbox=ScriptedOutbox(), mailer=mailer, lease_seconds=60).deliver(
        WelcomeMessage(type=contract.WELCOME_MESSAGE_TYPE, user_id=user.user_id, email=user.email))
    assert sent is Outcome.SENT and len(mailer.sent) == 1
    print(sorted({name.split(".")[0] for name in set(sys.modules) - preloaded} & set(BLOCKED)))
""")


def test_the_domain_imports_and_runs_without_any_cloud_library():
    script = f"BLOCKED = {CLOUD_LIBRARIES!r}\n" + SCRIPT
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'lambda_src'}", "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
