# The users service on GCP, for a stage whose primary cloud is gcp: the same API contract and
# guarantees as the AWS stacks, on Cloud Run functions, Firestore and Pub/Sub. Every decision
# (names, the database location, sizes, grants) is made by modules/plan; this module creates.
data "google_project" "this" {
  project_id = local.project
}

data "google_storage_project_service_account" "this" {
  project = local.project
}

locals {
  s       = var.settings
  project = var.settings.project_id
  labels  = var.settings.labels
  fn      = var.settings.functions
  primary = var.settings.primary_region
  prefix  = "archon-${var.settings.stage}"

  pubsub_agent    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  firestore_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-firestore.iam.gserviceaccount.com"
  storage_agent   = "serviceAccount:${data.google_storage_project_service_account.this.email_address}"

  # The environment each function reads (users.contract names the variables; handlers.settings checks them).
  common_env = {
    STAGE                        = local.s.stage
    POWERTOOLS_SERVICE_NAME      = local.prefix
    POWERTOOLS_METRICS_NAMESPACE = "Archon"
    GCP_PROJECT_ID               = local.project
    FIRESTORE_DATABASE           = local.s.database
  }
  env = {
    users_api = merge(local.common_env, {
      CORS_ORIGINS                = join(",", local.s.cors_origins)
      CREATES_PER_CALLER_PER_HOUR = tostring(local.s.creates_per_caller_per_hour)
      CURSOR_KEY_FILE             = "/etc/secrets/cursor/key.json"
      TOKEN_ISSUER                = local.s.auth.issuer
      TOKEN_JWKS_URL              = local.s.auth.jwks_url
      TOKEN_AUDIENCE              = coalesce(local.s.auth.audience, "")
      TOKEN_CLIENT_IDS            = join(",", local.s.auth.client_ids)
      FUNCTION_TIMEOUT_SECONDS    = tostring(local.fn.users_api.timeout_seconds)
    })
    welcome_relay = merge(local.common_env, {
      WELCOME_TOPIC = google_pubsub_topic.topic["welcome"].id
    })
    welcome_email = merge(local.common_env, {
      SENDER_ADDRESS         = local.s.sender
      DELIVERY_LEASE_SECONDS = tostring(local.s.delivery_lease_seconds)
      SMTP_HOST              = local.s.smtp.host
      SMTP_PORT              = tostring(local.s.smtp.port)
      SMTP_TLS               = local.s.smtp.tls
      SMTP_USERNAME          = coalesce(local.s.smtp.username, "")
      SMTP_PASSWORD_FILE     = local.s.smtp.username == null ? "" : "/etc/secrets/smtp/password"
    })
  }
  # Secrets reach a function as files, never as environment variables, Terraform variables or state.
  secret_mounts = {
    users_api     = { mount_path = "/etc/secrets/cursor", secret = "cursor_key", path = "key.json" }
    welcome_email = { mount_path = "/etc/secrets/smtp", secret = "smtp_password", path = "password" }
  }
  alarms = local.s.alarms
}

resource "google_project_service" "required" {
  for_each = toset([
    "artifactregistry.googleapis.com", "cloudbuild.googleapis.com", "cloudfunctions.googleapis.com", "cloudkms.googleapis.com",
    "compute.googleapis.com", "eventarc.googleapis.com", "firestore.googleapis.com", "iam.googleapis.com", "logging.googleapis.com",
    "monitoring.googleapis.com", "pubsub.googleapis.com", "run.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com",
  ])

  project            = local.project
  service            = each.value
  disable_on_destroy = false
}

# --- keys: customer-managed, where the data is -------------------------------------------------

resource "google_kms_key_ring" "data" {
  project  = local.project
  name     = "${local.s.key_ring}-data"
  location = local.s.database_key_location

  depends_on = [google_project_service.required]
}

resource "google_kms_crypto_key" "data" {
  #checkov:skip=CKV_GCP_82:GCP never deletes a crypto key (destroy only schedules its versions, restorable for 24 h), and prevent_destroy cannot be per stage
  name            = "users"
  key_ring        = google_kms_key_ring.data.id
  rotation_period = "7776000s" # 90 days
  labels          = local.labels
}

resource "google_kms_key_ring" "regional" {
  project  = local.project
  name     = "${local.s.key_ring}-${local.primary}"
  location = local.primary

  depends_on = [google_project_service.required]
}

resource "google_kms_crypto_key" "regional" {
  #checkov:skip=CKV_GCP_82:GCP never deletes a crypto key (destroy only schedules its versions, restorable for 24 h), and prevent_destroy cannot be per stage
  name            = "messages-and-source"
  key_ring        = google_kms_key_ring.regional.id
  rotation_period = "7776000s"
  labels          = local.labels
}

resource "google_kms_crypto_key_iam_member" "firestore_uses_data_key" {
  crypto_key_id = google_kms_crypto_key.data.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = local.firestore_agent
}

resource "google_kms_crypto_key_iam_member" "regional_key_users" {
  for_each = { pubsub = local.pubsub_agent, storage = local.storage_agent }

  crypto_key_id = google_kms_crypto_key.regional.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}

# --- the users database: one per stage, the write authority -------------------------------------

resource "google_firestore_database" "users" {
  project                           = local.project
  name                              = local.s.database
  location_id                       = local.s.database_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = local.s.delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = local.s.delete_protection ? "ABANDON" : "DELETE"

  cmek_config {
    kms_key_name = google_kms_crypto_key.data.id
  }

  depends_on = [google_kms_crypto_key_iam_member.firestore_uses_data_key]
}

# Quota counters and idempotency records expire by their expires_at (users.contract).
resource "google_firestore_field" "expires_at" {
  for_each = toset(["create_quotas", "idempotency"])

  project    = local.project
  database   = google_firestore_database.users.name
  collection = each.key
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

# --- the welcome queue: the SQS queue's twin ----------------------------------------------------

# The welcome topic and its dead-letter topic: alike but for their names.
resource "google_pubsub_topic" "topic" {
  for_each = { welcome = local.s.topic, dead_letters = local.s.dead_letter_topic }

  project                    = local.project
  name                       = each.value
  labels                     = local.labels
  kms_key_name               = google_kms_crypto_key.regional.id
  message_retention_duration = local.s.topic_retention

  message_storage_policy {
    allowed_persistence_regions = [local.primary]
  }

  depends_on = [google_kms_crypto_key_iam_member.regional_key_users]
}

# Pushes each message to the processor with an OIDC token of the invoker; after the last delivery,
# to the dead-letter topic. (A function's own Pub/Sub trigger makes a subscription that cannot dead-letter.)
resource "google_pubsub_subscription" "welcome_email" {
  project                    = local.project
  name                       = local.s.subscription
  topic                      = google_pubsub_topic.topic["welcome"].id
  labels                     = local.labels
  ack_deadline_seconds       = local.s.ack_deadline_seconds
  message_retention_duration = local.s.subscription_retention

  expiration_policy {
    ttl = "" # never expires while idle
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.function[local.processor_key].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.function[local.processor_key].service_config[0].uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["dead_letters"].id
    max_delivery_attempts = local.s.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# A dead-letter topic without a subscription drops what it receives: this one holds it for the redrive.
resource "google_pubsub_subscription" "dead_letter_hold" {
  project                    = local.project
  name                       = local.s.dead_letter_hold
  topic                      = google_pubsub_topic.topic["dead_letters"].id
  labels                     = local.labels
  message_retention_duration = local.s.subscription_retention

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  project = local.project
  topic   = google_pubsub_topic.topic["dead_letters"].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_forwards_from_the_subscription" {
  project      = local.project
  subscription = google_pubsub_subscription.welcome_email.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Pub/Sub signs each push's OIDC token as the invoker.
resource "google_service_account_iam_member" "agent_signs_as_the_invoker" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# --- secrets: created empty; their values are added once, outside Terraform (README) --------------

resource "google_secret_manager_secret" "secret" {
  for_each = local.s.secrets

  project   = local.project
  secret_id = each.value
  labels    = local.labels

  replication {
    user_managed {
      replicas {
        location = local.primary
      }
    }
  }

  depends_on = [google_project_service.required]
}

# --- identities: one per function, and the invoker the trigger and the subscription use ----------

resource "google_service_account" "function" {
  for_each = local.fn

  project      = local.project
  account_id   = each.value.service_account_id
  display_name = "Archon ${each.key} (${local.s.stage})"
  description  = "Runs the ${each.value.name} function: only the grants modules/plan lists for ${each.key}."
}

resource "google_service_account" "invoker" {
  project      = local.project
  account_id   = local.s.invoker_account_id
  display_name = "Archon invoker (${local.s.stage})"
  description  = "Delivers the Firestore trigger's events to the relay and Pub/Sub's pushes to the processor; may invoke those two only."
}

# Firestore's role is project-wide: the condition narrows it to the stage's database.
resource "google_project_iam_member" "functions_use_the_database" {
  for_each = local.fn

  project = local.project
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member

  condition {
    title       = "only-${local.s.database}"
    description = "Only the ${local.s.database} database"
    expression  = "resource.name == \"projects/${local.project}/databases/${local.s.database}\""
  }
}

resource "google_pubsub_topic_iam_member" "relay_publishes" {
  project = local.project
  topic   = google_pubsub_topic.topic["welcome"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["welcome_relay"].member
}

resource "google_secret_manager_secret_iam_member" "reads_its_secret" {
  for_each = local.secret_mounts

  project   = local.project
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.key].member
}

# The Firestore trigger delivers through Eventarc as the invoker, which must be allowed to receive
# events. The role carries only that permission, and it exists only on the project: no narrower
# resource to grant it on, and no resource attribute an IAM condition could narrow it by.
resource "google_project_iam_member" "invoker_receives_events" {
  project = local.project
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.invoker.member
}

# --- the functions' source: the archive `make gcp-package` built, uploaded by digest -------------

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:reads of the source archive are in Cloud Audit Logs (Data Access); a log bucket for one object's access would only duplicate them
  project                     = local.project
  name                        = local.s.source_bucket
  location                    = upper(local.primary)
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !local.s.delete_protection

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.regional.id
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 5
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.regional_key_users]
}

resource "google_storage_bucket_object" "source" {
  name   = "functions-${filesha256(var.source_archive)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.source_archive
}

# --- the functions ------------------------------------------------------------------------------

locals {
  # One deployed function per entry: the users API in each of its regions, the relay and the
  # processor in the primary region, all built from the one archive.
  deployed = merge(
    { for r in local.fn.users_api.regions : "users_api/${r}" => { function = "users_api", region = r } },
    { for f in ["welcome_relay", "welcome_email"] : "${f}/${local.primary}" => { function = f, region = local.primary } },
  )
  mounts = {
    users_api     = [local.secret_mounts.users_api]
    welcome_relay = []
    welcome_email = local.s.smtp.username == null ? [] : [local.secret_mounts.welcome_email]
  }
  relay_key     = "welcome_relay/${local.primary}"
  processor_key = "welcome_email/${local.primary}"
}

resource "google_cloudfunctions2_function" "function" {
  for_each = local.deployed

  project  = local.project
  name     = local.fn[each.value.function].name
  location = each.value.region
  labels   = local.labels

  build_config {
    runtime     = "python312"
    entry_point = local.fn[each.value.function].entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory   = "${local.fn[each.value.function].memory_mb}Mi"
    timeout_seconds    = local.fn[each.value.function].timeout_seconds
    min_instance_count = local.fn[each.value.function].min_instances
    max_instance_count = local.fn[each.value.function].max_instances
    # One request per instance at a time: the REST resolver keeps the current request on itself.
    max_instance_request_concurrency = 1
    # Only through the load balancer (and so Cloud Armor) for the API; only from inside Google
    # (Eventarc, Pub/Sub) for the relay and the processor.
    ingress_settings               = each.value.function == "users_api" ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.function[each.value.function].email
    environment_variables          = local.env[each.value.function]

    dynamic "secret_volumes" {
      for_each = local.mounts[each.value.function]
      content {
        mount_path = secret_volumes.value.mount_path
        project_id = local.project
        secret     = google_secret_manager_secret.secret[secret_volumes.value.secret].secret_id
        versions {
          version = "latest"
          path    = secret_volumes.value.path
        }
      }
    }
  }

  # The relay: each created user document; Eventarc retries a failed delivery (the relay is idempotent).
  dynamic "event_trigger" {
    for_each = each.value.function == "welcome_relay" ? [google_firestore_database.users.name] : []
    content {
      trigger_region        = local.s.database_location
      event_type            = "google.cloud.firestore.document.v1.created"
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.invoker.email

      event_filters {
        attribute = "database"
        value     = event_trigger.value
      }
      event_filters {
        attribute = "document"
        value     = "users/{user_id}"
        operator  = "match-path-pattern"
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.reads_its_secret, google_project_iam_member.functions_use_the_database,
    google_project_iam_member.invoker_receives_events, google_pubsub_topic_iam_member.relay_publishes,
  ]
}

# The invoker may call the relay and the processor, and nothing else.
resource "google_cloud_run_v2_service_iam_member" "invoker_calls" {
  for_each = { for key in [local.relay_key, local.processor_key] : key => google_cloudfunctions2_function.function[key] }

  project  = local.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = google_service_account.invoker.member
}

# The API is an internet API: callers present the issuer's OAuth token, which the function checks
# (as API Gateway's authorizer does on AWS). Its ingress admits only the load balancer, so every
# call passes Cloud Armor first.
resource "google_cloud_run_v2_service_iam_member" "api_is_public_behind_the_load_balancer" {
  for_each = { for key, d in local.deployed : d.region => google_cloudfunctions2_function.function[key] if d.function == "users_api" }

  project  = local.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- the front door: a global external Application Load Balancer, Cloud Armor, TLS 1.2+ ---------

resource "google_compute_region_network_endpoint_group" "api" {
  for_each = { for key, d in local.deployed : d.region => google_cloudfunctions2_function.function[key] if d.function == "users_api" }

  project               = local.project
  name                  = "${local.prefix}-api-${each.key}"
  region                = each.key
  network_endpoint_type = "SERVERLESS"

  cloud_function {
    function = each.value.name
  }
}

resource "google_compute_security_policy" "api" {
  project     = local.project
  name        = "${local.prefix}-api"
  description = "Archon ${local.s.stage}: a per-client rate limit and preconfigured WAF rules in front of the users API."
  type        = "CLOUD_ARMOR"

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  rule {
    action      = "throttle"
    priority    = 1000
    description = "At most ${local.s.rate_limit_per_minute} requests per client IP address per minute, then 429"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = local.s.rate_limit_per_minute
        interval_sec = 60
      }
    }
  }

  # Cloud Armor's preconfigured WAF rules, as the AWS stage's managed rule groups (common, known
  # bad inputs): Log4Shell, injection, traversal, remote code, scanners, protocol attacks.
  rule {
    action      = "deny(403)"
    priority    = 1500
    description = "Log4Shell (CVE-2021-44228) lookups in any header or body"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2000
    description = "Preconfigured WAF rule sqli-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('sqli-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2001
    description = "Preconfigured WAF rule xss-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('xss-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2002
    description = "Preconfigured WAF rule lfi-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('lfi-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2003
    description = "Preconfigured WAF rule rfi-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('rfi-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2004
    description = "Preconfigured WAF rule rce-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('rce-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2005
    description = "Preconfigured WAF rule methodenforcement-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('methodenforcement-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2006
    description = "Preconfigured WAF rule scannerdetection-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('scannerdetection-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2007
    description = "Preconfigured WAF rule protocolattack-v33-stable"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('protocolattack-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Everything the rules above let through"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "api" {
  project               = local.project
  name                  = "${local.prefix}-api"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.api.id

  log_config {
    enable      = true
    sample_rate = 1.0
  }

  dynamic "backend" {
    for_each = google_compute_region_network_endpoint_group.api
    content {
      group = backend.value.id
    }
  }
}

resource "google_compute_url_map" "api" {
  project         = local.project
  name            = "${local.prefix}-api"
  default_service = google_compute_backend_service.api.id
}

resource "google_compute_managed_ssl_certificate" "api" {
  project = local.project
  name    = "${local.prefix}-api"

  managed {
    domains = [local.s.domain]
  }
}

resource "google_compute_ssl_policy" "api" {
  project         = local.project
  name            = "${local.prefix}-api"
  profile         = "RESTRICTED"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "api" {
  project          = local.project
  name             = "${local.prefix}-api"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api.id]
  ssl_policy       = google_compute_ssl_policy.api.id
}

resource "google_compute_global_address" "api" {
  project = local.project
  name    = "${local.prefix}-api"
  labels  = local.labels
}

resource "google_compute_global_forwarding_rule" "api" {
  project               = local.project
  name                  = "${local.prefix}-api"
  target                = google_compute_target_https_proxy.api.id
  port_range            = "443"
  ip_address            = google_compute_global_address.api.id
  load_balancing_scheme = "EXTERNAL_MANAGED"
  labels                = local.labels
}

# --- logs: the functions' lines kept as long as the stage's audit trail ------------------------

resource "google_logging_project_bucket_config" "functions" {
  project        = local.project
  location       = "global"
  bucket_id      = local.s.log_bucket
  retention_days = local.s.audit_log_retention_days
  description    = "Archon ${local.s.stage}: the functions' logs (who read and created whom), kept ${local.s.audit_log_retention_days} days"
}

resource "google_logging_project_sink" "functions" {
  project                = local.project
  name                   = "${local.prefix}-functions"
  destination            = "logging.googleapis.com/${google_logging_project_bucket_config.functions.id}"
  filter                 = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^${local.prefix}-\""
  unique_writer_identity = true
}

# --- alerts: the AWS alarms' twins (docs/operations.md, "On GCP") --------------------------------

resource "google_logging_metric" "welcome_emails_failed" {
  project = local.project
  name    = "${local.prefix}-welcome-emails-failed"
  filter  = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.fn.welcome_email.name}\" AND jsonPayload.message=\"welcome email not sent\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "relay_failed" {
  project = local.project
  name    = "${local.prefix}-relay-failed"
  filter  = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.fn.welcome_relay.name}\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_monitoring_notification_channel" "email" {
  count = local.alarms && local.s.alarm_email != null ? 1 : 0

  project      = local.project
  display_name = "Archon ${local.s.stage} on-call"
  type         = "email"
  labels       = { email_address = local.s.alarm_email }
  user_labels  = local.labels
}

locals {
  alerts = {
    api-5xx = {
      what      = "the API answers 5xx"
      filter    = "resource.type = \"https_lb_rule\" AND metric.type = \"loadbalancing.googleapis.com/https/request_count\" AND metric.labels.response_code_class = 500 AND resource.labels.forwarding_rule_name = \"${local.prefix}-api\""
      threshold = 5
      aligner   = "ALIGN_SUM"
      period    = "300s"
    }
    dead-letters = {
      what      = "welcome messages wait in the dead-letter topic"
      filter    = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = \"${local.s.dead_letter_hold}\""
      threshold = 0
      aligner   = "ALIGN_MAX"
      period    = "60s"
    }
    delivery-lag = {
      what      = "the oldest welcome message waits over 10 minutes"
      filter    = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.labels.subscription_id = \"${local.s.subscription}\""
      threshold = 600
      aligner   = "ALIGN_MAX"
      period    = "60s"
    }
    relay-failures = {
      what      = "the relay fails (Eventarc retries it; users wait for their email)"
      filter    = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${local.prefix}-relay-failed\""
      threshold = 0
      aligner   = "ALIGN_SUM"
      period    = "300s"
    }
    email-failures = {
      what      = "welcome emails fail (the provider refuses or is unreachable)"
      filter    = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${local.prefix}-welcome-emails-failed\""
      threshold = 5
      aligner   = "ALIGN_SUM"
      period    = "300s"
    }
  }
}

resource "google_monitoring_alert_policy" "alert" {
  for_each = local.alarms ? local.alerts : {}

  project               = local.project
  display_name          = "${local.prefix} ${each.key}"
  combiner              = "OR"
  notification_channels = google_monitoring_notification_channel.email[*].id
  user_labels           = local.labels

  conditions {
    display_name = each.value.what
    condition_threshold {
      filter          = each.value.filter
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"
      aggregations {
        alignment_period   = each.value.period
        per_series_aligner = each.value.aligner
      }
    }
  }

  documentation {
    content   = "Archon ${local.s.stage}: ${each.value.what}. Runbook: docs/operations.md, \"On GCP\", gcp-${each.key}."
    mime_type = "text/markdown"
  }

  depends_on = [google_logging_metric.welcome_emails_failed, google_logging_metric.relay_failed]
}
