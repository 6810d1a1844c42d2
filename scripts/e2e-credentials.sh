#!/usr/bin/env bash
# Prints the variables make e2e reads for one deployed (stage, region), as export lines:
#   eval "$(bash scripts/e2e-credentials.sh archon-dev-us-east-1 us-east-1)"; make e2e URL="$ARCHON_API_URL"
# The e2e machine client's secret comes from Cognito (cognito-idp:DescribeUserPoolClient); it is
# printed only to this shell. In GitHub Actions (GITHUB_ENV set) it is masked and written there instead.
set -euo pipefail
stack=${1:?usage: e2e-credentials.sh STACK REGION}
region=${2:?usage: e2e-credentials.sh STACK REGION}
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text
}
api_url=$(output ApiUrl)
token_url=$(output TokenUrl)
pool_id=$(output UserPoolId)
client_id=$(output ClientIdE2e)
for pair in "ApiUrl=$api_url" "TokenUrl=$token_url" "UserPoolId=$pool_id" "ClientIdE2e=$client_id"; do
  if [[ -z "${pair#*=}" || "${pair#*=}" == "None" ]]; then
    echo "e2e-credentials: $stack has no ${pair%%=*} output (is the e2e client in config/stages.yaml's auth.clients?)" >&2
    exit 1
  fi
done
secret=$(aws cognito-idp describe-user-pool-client --region "$region" --user-pool-id "$pool_id" \
  --client-id "$client_id" --query UserPoolClient.ClientSecret --output text)
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
