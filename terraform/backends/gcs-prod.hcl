# terraform init -reconfigure -backend-config=backends/gcs-prod.hcl
# A bucket per stage, readable only by the prod stage's deploy identity (README, "State"): whoever
# reads one stage's state reads its VPN pre-shared keys, and no other stage's.
bucket = "archon-tfstate-prod"
prefix = "sidecar"
