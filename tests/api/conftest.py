"""The API suite: black-box tests of any stage's API, over HTTP only, with a token from the
stage's user pool by the client-credentials grant.

    make e2e URL=https://.../prod/     # a deployed stage: reads ARCHON_TOKEN_URL, ARCHON_CLIENT_ID, ARCHON_CLIENT_SECRET
    make test                          # here: against a local runner, through its token endpoint

Against a runner, the credentials are those of its emulated pool's e2e client, and the token URL
its stand-in for the pool's domain: the same grant, the same requests.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from tests.api.client import Api, SetupError
from tools.runner_client import start_runner, stop_runner


@pytest.fixture(scope="session")
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    if os.environ.get("ARCHON_API_URL"):
        # A wrong URL or credentials stop the run with one line, not the same failure in every test.
        try:
            api = Api.from_environment()
            api.token()
        except (SetupError, AssertionError) as exc:
            pytest.exit(f"make e2e: {exc} (README: Testing a deployed stage)", returncode=2)
        yield api
        return
    synth = request.getfixturevalue("synth")
    runner = start_runner(synth.outdir, tmp_path_factory.mktemp("api-runner") / "functions.log")
    try:
        (client,) = [c for c in runner.local("clients")["clients"] if c["name"].endswith("-e2e")]
        yield Api(url=runner.url, token_url=f"{runner.url}/_local/oauth2/token", client_id=client["client_id"],
                  client_secret=client["client_secret"], origin="http://localhost:3000")
    finally:
        stop_runner(runner)
