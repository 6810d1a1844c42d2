"""The GCP deploy workflow's first check: a dispatch for a stage that does not run on GCP stops."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import gcp_stage


def test_an_aws_stage_is_refused_naming_its_cloud(capsys: pytest.CaptureFixture[str]) -> None:
    assert gcp_stage.main(["dev"]) == 1
    assert "primary cloud is aws" in capsys.readouterr().err


def test_a_gcp_stage_passes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cdk_app import config

    example = Path(config.ROOT / "config" / "examples" / "stages-gcp.yaml")
    monkeypatch.setattr(gcp_stage, "load_stages", lambda only: config.load_stages(example, only=only))
    assert gcp_stage.main(["dev"]) == 0 and "project archon-dev-gcp" in capsys.readouterr().out


def test_an_unknown_stage_or_no_stage_is_refused() -> None:
    assert gcp_stage.main(["qa"]) == 1 and gcp_stage.main([]) == 2
