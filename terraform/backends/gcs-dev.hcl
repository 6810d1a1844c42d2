# terraform init -reconfigure -backend-config=backends/gcs-dev.hcl
# A bucket per stage, readable only by the dev stage's deploy identity (README, "State"): whoever
# reads one stage's state reads its VPN pre-shared keys, and no other stage's.
bucket = "archon-tfstate-dev"
prefix = "sidecar"
