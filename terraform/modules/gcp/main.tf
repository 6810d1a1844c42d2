# One stage's GCP landing zone: a private network per region and its firewall baseline. The
# users service (its one database, queue and functions) is modules/gcp-service, where GCP is the
# stage's primary cloud.

resource "google_project_service" "required" {
  for_each = toset(["compute.googleapis.com"])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# --- network ------------------------------------------------------------------------------------

resource "google_compute_network" "this" {
  project                         = var.project_id
  name                            = var.network_name
  auto_create_subnetworks         = false # custom mode: only the planned ranges exist
  routing_mode                    = "GLOBAL"
  delete_default_routes_on_create = false

  depends_on = [google_project_service.required]
}

resource "google_compute_subnetwork" "region" {
  for_each = var.regions

  project                  = var.project_id
  name                     = each.value.subnet_name
  region                   = each.key
  network                  = google_compute_network.this.id
  ip_cidr_range            = each.value.subnet_cidr
  private_ip_google_access = true # Firestore and Pub/Sub without public IPs

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# GCP already denies ingress implicitly; an explicit, logged rule makes the baseline visible and
# auditable, and anything allowed must sit above it.
resource "google_compute_firewall" "deny_all_ingress" {
  project   = var.project_id
  name      = "${var.network_name}-deny-all-ingress"
  network   = google_compute_network.this.name
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }
  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "allow_peer_https" {
  count = length(var.peer_cidrs) > 0 ? 1 : 0

  project   = var.project_id
  name      = "${var.network_name}-allow-peer-https"
  network   = google_compute_network.this.name
  direction = "INGRESS"
  priority  = 1000

  allow {
    protocol = "tcp"
    ports    = ["443"]
  }
  source_ranges = var.peer_cidrs

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
