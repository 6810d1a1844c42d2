# The users service on GCP, decided here, provider-free: names, the database's location, each
# function's settings and identity, and every grant, for modules/gcp-service to create.
locals {
  deploy_gcp_service = local.primary == "gcp"
  gcp_settings       = try(local.stage.gcp, null)

  # One Firestore database per stage, the write authority for all its users. Where every region
  # of the stage lies in one multi-region (nam5: the United States; eur3: Europe), the database is
  # that multi-region: synchronous replicas across regions, 99.999% availability, and no region's
  # loss takes the users with it. Otherwise its location is the stage's first (primary) GCP
  # region, and functions in the other regions use it across regions, as AWS stages write in
  # their one write region.
  gcp_all_us     = length(local.unique.gcp) > 0 && alltrue([for r in local.unique.gcp : startswith(r, "us-")])
  gcp_all_europe = length(local.unique.gcp) > 0 && alltrue([for r in local.unique.gcp : startswith(r, "europe-")])
  database_location = (local.gcp_all_us ? "nam5" : local.gcp_all_europe ? "eur3"
  : try(local.regions.gcp[0], null))
  # A CMEK key must sit where the data does: the multi-region's key location, or the region.
  database_key_location = local.database_location == "nam5" ? "us" : local.database_location == "eur3" ? "europe" : local.database_location

  gcp_prefix = "archon-${var.environment}"
  gcp_functions = {
    for name, fn in try(local.gcp_settings.functions, {}) : name => {
      name               = "${local.gcp_prefix}-${replace(name, "_", "-")}"
      entry_point        = name
      service_account_id = "${local.gcp_prefix}-${lookup({ users_api = "api", welcome_relay = "relay", welcome_email = "mail" }, name, name)}"
      memory_mb          = fn.memory_mb
      timeout_seconds    = fn.timeout_seconds
      min_instances      = try(fn.min_instances, 0)
      max_instances      = fn.max_instances
      # The API answers in every GCP region of the stage (a serverless NEG each, behind one load
      # balancer); the relay and the mail processor run beside the database.
      regions = name == "users_api" ? local.unique.gcp : [local.gcp_primary_region]
    }
  }
  gcp_primary_region = try(local.regions.gcp[0], null)

  gcp_service = {
    project_id            = try(local.gcp_settings.project_id, null)
    stage                 = var.environment
    labels                = { service = local.service, stage = var.environment, managed-by = "terraform" }
    primary_region        = local.gcp_primary_region
    regions               = local.unique.gcp
    database              = "${local.gcp_prefix}-users"
    database_location     = local.database_location
    database_key_location = local.database_key_location
    key_ring              = local.gcp_prefix
    delete_protection     = local.is_prod
    functions             = local.gcp_functions
    # The trigger's and the push subscription's identity: may invoke the relay and the processor, nothing else.
    invoker_account_id = "${local.gcp_prefix}-invoker"
    topic              = "${local.gcp_prefix}-welcome"
    dead_letter_topic  = "${local.gcp_prefix}-welcome-dead-letters"
    subscription       = "${local.gcp_prefix}-welcome-email"
    dead_letter_hold   = "${local.gcp_prefix}-welcome-dead-letters-hold"
    # 14 days on the topics (the SQS queue's retention); a subscription keeps at most 7.
    topic_retention        = "1209600s"
    subscription_retention = "604800s"
    max_delivery_attempts  = 5
    # Pub/Sub waits this long for the processor's answer before redelivering: its timeout and a margin.
    ack_deadline_seconds = min(600, try(local.gcp_functions.welcome_email.timeout_seconds, 30) + 30)
    # A lease outlives any invocation holding it, so a crashed one frees the email (as on AWS).
    delivery_lease_seconds = try(local.gcp_functions.welcome_email.timeout_seconds, 30) * 2
    secrets = {
      cursor_key    = "${local.gcp_prefix}-cursor-key"
      smtp_password = "${local.gcp_prefix}-smtp-password"
    }
    source_bucket = "${try(local.gcp_settings.project_id, "project")}-${local.gcp_prefix}-functions"
    log_bucket    = "${local.gcp_prefix}-logs"
    domain        = try(local.gcp_settings.domain, null)
    auth = {
      issuer     = try(local.gcp_settings.auth.issuer, null)
      jwks_url   = try(local.gcp_settings.auth.jwks_url, null)
      audience   = try(local.gcp_settings.auth.audience, null)
      client_ids = try(tolist(local.gcp_settings.auth.client_ids), [])
    }
    smtp = {
      host     = try(local.gcp_settings.email.smtp_host, null)
      tls      = try(local.gcp_settings.email.smtp_tls, null)
      port     = try(local.gcp_settings.email.smtp_port, try(local.gcp_settings.email.smtp_tls, "") == "implicit" ? 465 : 587)
      username = try(local.gcp_settings.email.smtp_username, null)
    }
    sender                      = try(local.stage.email.sender, null)
    cors_origins                = try(tolist(local.stage.api.cors_origins), [])
    creates_per_caller_per_hour = try(local.stage.api.creates_per_caller_per_hour, null)
    rate_limit_per_minute       = try(local.gcp_settings.armor.rate_limit_per_minute, 600)
    log_retention_days          = try(local.stage.log_retention_days, 30)
    audit_log_retention_days    = try(local.stage.audit_log_retention_days, 365)
    alarm_email                 = try(local.stage.alarm_email, null)
    alarms                      = try(local.stage.monitoring.alarms, true)
    # Every grant of the service, least privilege: Firestore's role is project-wide, so an IAM
    # condition narrows it to the stage's database; the rest are on one resource each.
    grants = concat(
      [for name in ["users_api", "welcome_relay", "welcome_email"] : { identity = name, role = "roles/datastore.user", on = "database" }],
      [
        { identity = "users_api", role = "roles/secretmanager.secretAccessor", on = "secret:cursor_key" },
        { identity = "welcome_relay", role = "roles/pubsub.publisher", on = "topic" },
        { identity = "welcome_email", role = "roles/secretmanager.secretAccessor", on = "secret:smtp_password" },
        { identity = "invoker", role = "roles/run.invoker", on = "function:welcome_relay" },
        { identity = "invoker", role = "roles/run.invoker", on = "function:welcome_email" },
        { identity = "invoker", role = "roles/eventarc.eventReceiver", on = "project" },
        { identity = "pubsub_agent", role = "roles/pubsub.publisher", on = "dead_letter_topic" },
        { identity = "pubsub_agent", role = "roles/pubsub.subscriber", on = "subscription" },
        { identity = "pubsub_agent", role = "roles/iam.serviceAccountTokenCreator", on = "invoker" },
      ],
    )
  }

  gcp_service_problems = !local.deploy_gcp_service ? [] : concat(
    local.gcp_settings == null ? ["stage ${var.environment}'s primary cloud is gcp but config/stages.yaml gives it no gcp block (project_id, auth, email, functions): see config/examples/stages-gcp.yaml"] : [],
    length(local.unique.gcp) == 0 ? ["stage ${var.environment}'s primary cloud is gcp but it lists no gcp_regions"] : [],
    local.gcp_settings == null ? [] : [for fn in ["users_api", "welcome_relay", "welcome_email"] : "gcp.functions.${fn} is missing" if !contains(keys(local.gcp_functions), fn)],
    [for name, fn in local.gcp_functions : "service account id ${fn.service_account_id} is longer than 30 characters: shorten the stage name" if length(fn.service_account_id) > 30],
    length("${local.gcp_prefix}-invoker") > 30 ? ["service account id ${local.gcp_prefix}-invoker is longer than 30 characters: shorten the stage name"] : [],
    local.gcp_settings != null && try(local.gcp_settings.auth.audience, null) == null && length(try(local.gcp_settings.auth.client_ids, [])) == 0 ? ["gcp.auth needs an audience or client_ids: without either, any client of the issuer could call the API"] : [],
    local.gcp_settings != null && try(local.gcp_settings.domain, null) == null ? ["gcp.domain is missing: the load balancer's Google-managed certificate names the API's domain"] : [],
    try(local.gcp_functions.users_api.timeout_seconds, 0) > 300 ? ["gcp.functions.users_api.timeout_seconds is over 300: an HTTP function behind the load balancer answers within 300 s or not at all"] : [],
  )
}

output "deploy_gcp_service" {
  description = "Whether the users service runs on GCP (the stage's primary cloud is gcp)."
  value       = local.deploy_gcp_service
}

output "primary_cloud" {
  description = "The stage's primary cloud: config/stages.yaml's cloud_provider (or -var cloud_provider where the file names none)."
  value       = local.primary

  precondition {
    condition     = !local.cloud_conflict
    error_message = "config/stages.yaml makes ${local.configured_cloud == null ? "" : local.configured_cloud} the primary cloud of stage ${var.environment}, but -var cloud_provider=${var.cloud_provider == null ? "" : var.cloud_provider} says otherwise. A stage names its primary cloud once: change cloud_provider in config/stages.yaml (the CDK app reads it too), and drop the -var."
  }
}

output "gcp_service" {
  description = "The users service on GCP for modules/gcp-service: names, the database location, functions, identities and grants (null where GCP is not the primary cloud)."
  value       = local.deploy_gcp_service ? local.gcp_service : null

  precondition {
    condition     = length(local.gcp_service_problems) == 0
    error_message = "The service on GCP: ${join("; ", local.gcp_service_problems)}."
  }
}
