#!/usr/bin/env bash
# Prints the variables make e2e reads for one deployed (stage, region), as export lines:
#   eval "$(bash scripts/e2e-credentials.sh archon-dev-us-east-1 us-east-1)"; make e2e URL="$ARCHON_API_URL"
# The e2e machine client's secret comes from the stage's secret (output E2eClientSecretArn), which
# only the stage's deploy role may read; it is printed only to this shell. In GitHub Actions
# (GITHUB_ENV set) it is masked and written there instead. The output names are the templates'
# (cdk_app/identity.py); tests/infra/test_outputs.py checks every name used here against them.
set -euo pipefail
stack=${1:?usage: e2e-credentials.sh STACK REGION}
region=${2:?usage: e2e-credentials.sh STACK REGION}
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text
}
api_url=$(output ApiUrl)
token_url=$(output TokenUrl)
client_id=$(output ClientIdE2e)
secret_arn=$(output E2eClientSecretArn)
for pair in "ApiUrl=$api_url" "TokenUrl=$token_url" "ClientIdE2e=$client_id" "E2eClientSecretArn=$secret_arn"; do
  if [[ -z "${pair#*=}" || "${pair#*=}" == "None" ]]; then
    echo "e2e-credentials: $stack has no ${pair%%=*} output (is the e2e client in config/stages.yaml's auth.clients?)" >&2
    exit 1
  fi
done
secret=$(aws secretsmanager get-secret-value --region "$region" --secret-id "$secret_arn" \
  --query SecretString --output text)
if [[ -n "${GITHUB_ENV:-}" ]]; then
  echo "::add-mask::$secret"
  {
    echo "ARCHON_API_URL=$api_url"
    echo "ARCHON_TOKEN_URL=$token_url"
    echo "ARCHON_CLIENT_ID=$client_id"
    echo "ARCHON_CLIENT_SECRET=$secret"
  } >> "$GITHUB_ENV"
  echo "e2e-credentials: ARCHON_* set for the next steps ($api_url)"
else
  printf 'export ARCHON_API_URL=%q ARCHON_TOKEN_URL=%q ARCHON_CLIENT_ID=%q ARCHON_CLIENT_SECRET=%q\n' \
    "$api_url" "$token_url" "$client_id" "$secret"
fi
