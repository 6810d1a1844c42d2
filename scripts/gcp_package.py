"""The GCP functions' source archive (build/gcp/functions.zip), as Cloud Run functions build it:
the domain, the adapters and the handlers at the root, the entry file as main.py, and the pinned,
hash-checked requirements.txt (lambda_src/requirements-gcp.txt) that Cloud Build installs.

Reproducible: the same sources give the same bytes (sorted entries, one fixed timestamp and mode,
no bytecode), so Terraform uploads a new object, and the functions rebuild, only when the code or
a pin changed (terraform/modules/gcp-service names the object by its digest).

    python -m scripts.gcp_package [--output build/gcp/functions.zip]
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "lambda_src"
PACKAGES = ("users", "handlers", "adapters")
ENTRY = SOURCE / "handlers" / "gcp" / "main.py"
REQUIREMENTS = SOURCE / "requirements-gcp.txt"
DEFAULT_OUTPUT = ROOT / "build" / "gcp" / "functions.zip"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def entries() -> list[tuple[str, bytes]]:
    files = [(str(path.relative_to(SOURCE)), path.read_bytes()) for package in PACKAGES
             for path in (SOURCE / package).rglob("*.py") if "__pycache__" not in path.parts]
    return sorted([*files, ("main.py", ENTRY.read_bytes()), ("requirements.txt", REQUIREMENTS.read_bytes())])


def build(output: Path = DEFAULT_OUTPUT) -> str:
    """Writes the archive; returns its SHA-256."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in entries():
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    partial.replace(output)
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    digest = build(args.output)
    print(f"{args.output}: sha256 {digest}")


if __name__ == "__main__":
    main()
