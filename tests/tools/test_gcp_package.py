"""The GCP functions' source archive: reproducible, complete, and importable as Cloud Run
functions import it (main.py at the root, the packages beside it)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from scripts import gcp_package


def test_the_same_sources_give_the_same_bytes(tmp_path: Path) -> None:
    assert gcp_package.build(tmp_path / "a.zip") == gcp_package.build(tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {gcp_package.EPOCH} and not any("__pycache__" in i.filename for i in infos)


def test_it_holds_the_entry_file_the_packages_and_the_pinned_requirements(tmp_path: Path) -> None:
    gcp_package.build(tmp_path / "f.zip")
    with zipfile.ZipFile(tmp_path / "f.zip") as archive:
        names = set(archive.namelist())
        requirements = archive.read("requirements.txt").decode()
    assert {"main.py", "requirements.txt", "users/logic.py", "adapters/gcp/firestore_users.py", "handlers/gcp/users_api.py"} <= names
    assert requirements == gcp_package.REQUIREMENTS.read_text()
    pins = [line for line in requirements.splitlines() if "==" in line and not line.startswith("#")]
    assert pins and all("--hash=" in requirements for _ in pins), "every pin is hash-checked"
    assert "functions-framework==" in requirements and "google-cloud-firestore==" in requirements


def test_the_functions_import_from_the_archive_as_cloud_run_loads_them(tmp_path: Path) -> None:
    gcp_package.build(tmp_path / "f.zip")
    with zipfile.ZipFile(tmp_path / "f.zip") as archive:
        archive.extractall(tmp_path / "source")
    script = ("import functions_framework\n"
              "for target, kind in (('users_api', 'http'), ('welcome_relay', 'cloudevent'), ('welcome_email', 'cloudevent')):\n"
              "    functions_framework.create_app(target, 'main.py', kind)\n"
              "import os, adapters.gcp.firestore_users, handlers.gcp.routes, users.logic\n"
              "assert all(m.__file__.startswith(os.getcwd()) for m in (adapters.gcp.firestore_users, handlers.gcp.routes, users.logic))\n"
              "print('ok')")
    # Only the archive's own directory on the path, not this repository's packages.
    result = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); exec({script!r})"],
                            cwd=tmp_path / "source", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
