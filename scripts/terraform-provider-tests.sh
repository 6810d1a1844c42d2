#!/usr/bin/env bash
# The sidecar checks that need provider binaries: `terraform validate` on the root and on each
# resource module, and the root's mocked `terraform test` (provider_tests/). They need
# registry.terraform.io (or a provider mirror); no cloud account is used.
set -euo pipefail
cd "$(dirname "$0")/../terraform"
for dir in . modules/gcp modules/gcp-service modules/azure modules/cross-cloud; do
  echo "== terraform validate: $dir"
  terraform -chdir="$dir" init -backend=false -input=false -no-color >/dev/null
  terraform -chdir="$dir" validate -no-color
done
echo "== terraform test: provider_tests (mocked providers)"
# The GCP-primary run uploads the functions' archive: build it first.
(cd .. && make --no-print-directory gcp-package)
terraform test -test-directory=provider_tests -no-color
