#!/usr/bin/env bash
# Smoke test of a deployed stack: its API answers, and answers 401 without a token (the
# authorizer is on). Usage: scripts/smoke.sh archon-dev-us-east-1 us-east-1
set -euo pipefail
stack=${1:?usage: smoke.sh STACK REGION}
region=${2:?usage: smoke.sh STACK REGION}
url=$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue | [0]" --output text)
if [[ -z "$url" || "$url" == "None" ]]; then
  echo "smoke: $stack has no ApiUrl output" >&2
  exit 1
fi
status=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 20 "${url%/}/users")
if [[ "$status" != "401" ]]; then
  echo "smoke: GET ${url%/}/users without a token answered $status, expected 401" >&2
  exit 1
fi
echo "smoke: $url is up and rejects unauthenticated calls (401)"
