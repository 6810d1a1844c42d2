"""The AWS emulator: moto, in this process or as its HTTP server (provisioning.py creates the
template's resources in it; tokens.py issues the user pool's tokens).

`memory` runs moto inside this process (fast, private); `server` starts moto's HTTP server on
loopback so the AWS CLI and other processes can look at the same state.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from local_runner import moto_compat
from local_runner.wiring import WiringError


class Emulator:
    def __init__(self, *, backend: str, region: str, moto_port: int = 0) -> None:
        if backend not in ("memory", "server"):
            raise WiringError(f"unknown backend '{backend}': use memory or server")
        self.backend, self.region = backend, region
        self.endpoint_url: str | None = None
        self._mock: Any = None
        self._server: Any = None
        self._moto_port = moto_port
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": region, "AWS_REGION": region}.items():
            os.environ[key] = value
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)

    def start(self) -> None:
        if self.backend == "server":
            # moto's server binds in its own thread, and a taken port there leaves this process
            # waiting for a server that never comes: take the port here first, so that the
            # failure is an OSError the command reports.
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.bind(("127.0.0.1", self._moto_port))
            finally:
                probe.close()
        moto_compat.install(in_process=self.backend == "memory")
        if self.backend == "memory":
            from moto import mock_aws

            self._mock = mock_aws()
            self._mock.start()
            # moto never checks a signature, and in this process nothing else can see the call:
            # the clients (the functions' too: they use the default session) skip computing
            # SigV4, a cost on every call. The server backend keeps signing, for the account.
            boto3.setup_default_session()
            boto3.DEFAULT_SESSION.events.register("choose-signer", _unsigned)
        else:
            from moto.server import ThreadedMotoServer

            # werkzeug logs each request moto's server answers at INFO, the pollers' several a
            # second: the console is one line per API request, so only its warnings show there.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._moto_port, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url  # every boto3 client, the functions' too

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
            moto_compat.uninstall(in_process=True)
        if self._server is not None:
            self._server.stop()
            self._server = None
            moto_compat.uninstall(in_process=False)

    def client(self, service: str) -> Any:
        """A client of the emulator. Creating one reads all of os.environ, which the function host
        swaps for each function it runs: create clients before the workers start, or under the
        host's lock, never beside a running function."""
        # Stream ARNs would otherwise route to an account-specific endpoint that moto does not serve.
        return boto3.client(service, region_name=self.region, config=Config(account_id_endpoint_mode="disabled"))

    def sent_emails(self, since: int = 0) -> list[Any]:
        """SES's outbox from the `since`-th email on; moto keeps it in this process in both backends."""
        return moto_compat.sent_emails(self.region)[since:]


def _unsigned(**_: Any) -> Any:
    return UNSIGNED
