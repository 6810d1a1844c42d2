# One stage's GCP footprint: a private network, the users database, the notifications queue's
# twin and a service identity that can touch only those.
data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  # Seven days is the most a subscription keeps; the topics keep 14 (the SQS queue's retention),
  # so a subscription can be re-read up to 14 days back with a seek.
  topic_retention        = "1209600s"
  subscription_retention = "604800s"
}

resource "google_project_service" "required" {
  for_each = toset(["compute.googleapis.com", "firestore.googleapis.com", "pubsub.googleapis.com", "cloudkms.googleapis.com", "iam.googleapis.com"])

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

# --- encryption ---------------------------------------------------------------------------------

resource "google_kms_key_ring" "region" {
  for_each = var.regions

  project  = var.project_id
  name     = "archon-${each.value.labels.stage}-${each.key}"
  location = each.key

  depends_on = [google_project_service.required]
}

resource "google_kms_crypto_key" "messages" {
  #checkov:skip=CKV_GCP_82:GCP never deletes a crypto key (destroy only schedules its versions, restorable for 24 h), and prevent_destroy cannot be per stage: it would make dev impossible to tear down
  for_each = var.regions

  name            = "notifications"
  key_ring        = google_kms_key_ring.region[each.key].id
  rotation_period = "7776000s" # 90 days
  labels          = each.value.labels
}

resource "google_kms_crypto_key_iam_member" "pubsub_uses_key" {
  for_each = var.regions

  crypto_key_id = google_kms_crypto_key.messages[each.key].id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = local.pubsub_agent
}

# --- users database -----------------------------------------------------------------------------

resource "google_firestore_database" "users" {
  for_each = var.regions

  project                           = var.project_id
  name                              = each.value.firestore_database
  location_id                       = each.key
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = each.value.delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # prod keeps its data when the stack goes (RETAIN in the CDK app); dev and staging tear down.
  deletion_policy = each.value.delete_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.required]
}

# --- notifications: the SQS queue's twin --------------------------------------------------------

resource "google_pubsub_topic" "notifications" {
  for_each = var.regions

  project                    = var.project_id
  name                       = each.value.topic_name
  labels                     = each.value.labels
  kms_key_name               = google_kms_crypto_key.messages[each.key].id
  message_retention_duration = local.topic_retention

  message_storage_policy {
    allowed_persistence_regions = [each.key]
  }

  depends_on = [google_kms_crypto_key_iam_member.pubsub_uses_key]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = var.regions

  project                    = var.project_id
  name                       = each.value.dead_letter_topic
  labels                     = each.value.labels
  kms_key_name               = google_kms_crypto_key.messages[each.key].id
  message_retention_duration = local.topic_retention

  message_storage_policy {
    allowed_persistence_regions = [each.key]
  }

  depends_on = [google_kms_crypto_key_iam_member.pubsub_uses_key]
}

resource "google_pubsub_subscription" "processor" {
  for_each = var.regions

  project                    = var.project_id
  name                       = each.value.subscription_name
  topic                      = google_pubsub_topic.notifications[each.key].id
  labels                     = each.value.labels
  ack_deadline_seconds       = 180 # the SQS visibility timeout: six times the processor's 30 s
  message_retention_duration = local.subscription_retention

  expiration_policy {
    ttl = "" # never expires while idle
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.max_delivery_attempt
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# A dead-letter topic without a subscription drops what it receives: this one holds it.
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each = var.regions

  project                    = var.project_id
  name                       = each.value.dead_letter_hold
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = each.value.labels
  message_retention_duration = local.subscription_retention

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub forwards undeliverable messages as its own service agent, which needs exactly these two.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  for_each = var.regions

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_forwards_from_processor" {
  for_each = var.regions

  project      = var.project_id
  subscription = google_pubsub_subscription.processor[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# --- the service's identity: bound to this region's resources only -------------------------------

resource "google_service_account" "service" {
  for_each = var.regions

  project      = var.project_id
  account_id   = each.value.service_account_id
  display_name = "Archon users service (${each.value.labels.stage}, ${each.key})"
  description  = "Reads and writes ${each.value.firestore_database}, publishes to and consumes ${each.value.topic_name}."
}

resource "google_pubsub_topic_iam_member" "service_publishes" {
  for_each = var.regions

  project = var.project_id
  topic   = google_pubsub_topic.notifications[each.key].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.service[each.key].member
}

resource "google_pubsub_subscription_iam_member" "service_consumes" {
  for_each = var.regions

  project      = var.project_id
  subscription = google_pubsub_subscription.processor[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.service[each.key].member
}

# Firestore roles are granted on the project; the IAM condition narrows this one to one database.
resource "google_project_iam_member" "service_uses_its_database" {
  for_each = var.regions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.service[each.key].member

  condition {
    title       = "only-${each.value.firestore_database}"
    description = "Only the ${each.value.firestore_database} database"
    expression  = "resource.name == \"projects/${var.project_id}/databases/${each.value.firestore_database}\""
  }
}
