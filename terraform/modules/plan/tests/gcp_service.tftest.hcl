# The users service on GCP: one database per stage and where it lives, names, each function's
# identity and settings, every grant, and the refusals.
variables {
  config      = yamldecode(file("../../../config/examples/stages-gcp.yaml"))
  environment = "dev"
}

run "one_database_per_stage_in_its_primary_region_when_the_regions_span_continents" {
  command = plan

  assert {
    condition     = output.gcp_service.database == "archon-dev-users" && output.gcp_service.database_location == "us-central1" && output.gcp_service.database_key_location == "us-central1"
    error_message = "us-central1 and europe-west1 share no multi-region: the database is in the primary (first) region, its key beside it"
  }
  assert {
    condition     = strcontains(output.summary, "Firestore archon-dev-users in us-central1")
    error_message = "the summary names the database and where it lives"
  }
}

run "a_us_stage_gets_the_nam5_multi_region" {
  command = plan
  variables {
    regions = { gcp = ["us-east1", "us-central1", "us-west1"] }
  }

  assert {
    condition     = output.gcp_service.database_location == "nam5" && output.gcp_service.database_key_location == "us" && output.gcp_service.primary_region == "us-east1"
    error_message = "every region in the US: nam5, its CMEK key in the us multi-region"
  }
}

run "a_european_stage_gets_the_eur3_multi_region" {
  command = plan
  variables {
    regions = { gcp = ["europe-west1", "europe-west4"] }
  }

  assert {
    condition     = output.gcp_service.database_location == "eur3" && output.gcp_service.database_key_location == "europe"
    error_message = "every region in Europe: eur3, its key in the europe multi-region"
  }
}

run "a_single_region_stage_keeps_its_data_there" {
  command = plan
  variables {
    regions = { gcp = ["asia-northeast1"] }
  }

  assert {
    condition     = output.gcp_service.database_location == "asia-northeast1"
    error_message = "one region outside the US and Europe: the database is in it"
  }
}

run "functions_identities_and_settings" {
  command = plan

  assert {
    condition = (output.gcp_service.functions.users_api.name == "archon-dev-users-api"
      && output.gcp_service.functions.users_api.service_account_id == "archon-dev-api"
      && output.gcp_service.functions.welcome_relay.service_account_id == "archon-dev-relay"
    && output.gcp_service.functions.welcome_email.service_account_id == "archon-dev-mail")
    error_message = "each function has its own service account"
  }
  assert {
    condition     = output.gcp_service.functions.users_api.regions == tolist(["us-central1", "europe-west1"]) && output.gcp_service.functions.welcome_email.regions == tolist(["us-central1"])
    error_message = "the API answers in every region; the relay and the processor run in the primary"
  }
  assert {
    condition     = output.gcp_service.functions.users_api.max_instances == 20 && output.gcp_service.functions.users_api.min_instances == 0 && output.gcp_service.functions.welcome_relay.min_instances == 0
    error_message = "instances come from config (min_instances 0 when omitted)"
  }
  assert {
    condition     = output.gcp_service.ack_deadline_seconds == 60 && output.gcp_service.delivery_lease_seconds == 60 && output.gcp_service.max_delivery_attempts == 5
    error_message = "Pub/Sub waits the processor's timeout plus 30 s; the lease is twice the timeout; five deliveries, then the dead-letter topic"
  }
  assert {
    condition     = output.gcp_service.topic_retention == "1209600s" && output.gcp_service.smtp.port == 465 && output.gcp_service.sender == "welcome@archon.example.com"
    error_message = "14 days on the topics; implicit TLS on 465 by default; the stage's sender"
  }
}

run "every_grant_is_on_one_resource_and_firestores_is_the_stages_database" {
  command = plan

  assert {
    condition     = length([for g in output.gcp_service.grants : g if g.role == "roles/datastore.user" && g.on != "database"]) == 0 && length([for g in output.gcp_service.grants : g if g.role == "roles/datastore.user"]) == 3
    error_message = "datastore.user only on the stage's database, for the three functions"
  }
  assert {
    condition     = length([for g in output.gcp_service.grants : g if g.on == "project" && g.role != "roles/eventarc.eventReceiver"]) == 0
    error_message = "no project-wide grant but the trigger's event receiver role"
  }
  assert {
    condition     = [for g in output.gcp_service.grants : g.on if g.identity == "users_api" && g.role == "roles/secretmanager.secretAccessor"] == ["secret:cursor_key"] && [for g in output.gcp_service.grants : g.on if g.identity == "welcome_relay" && g.role != "roles/datastore.user"] == ["topic"]
    error_message = "the API reads only the cursor key; the relay only publishes to the topic"
  }
  assert {
    condition     = alltrue([for g in output.gcp_service.grants : !contains(["roles/owner", "roles/editor", "roles/viewer"], g.role)])
    error_message = "no primitive role"
  }
}

run "a_gcp_stage_without_its_gcp_block_is_refused" {
  command = plan
  variables {
    config = {
      service = "archon-serverless-api"
      stages  = { dev = { data_protection = "destroy", cloud_provider = "gcp", gcp_regions = ["us-central1"] } }
    }
  }
  expect_failures = [output.gcp_service]
}

run "an_api_open_to_any_client_of_the_issuer_is_refused" {
  command = plan
  variables {
    config = {
      service = "archon-serverless-api"
      stages = { dev = {
        data_protection = "destroy", cloud_provider = "gcp", gcp_regions = ["us-central1"]
        gcp = {
          project_id = "archon-dev-gcp"
          auth       = { issuer = "https://issuer.example.com/", jwks_url = "https://issuer.example.com/jwks.json" }
          email      = { smtp_host = "smtp.example.com", smtp_tls = "implicit" }
          functions = {
            users_api     = { memory_mb = 512, timeout_seconds = 10, max_instances = 5 }
            welcome_relay = { memory_mb = 256, timeout_seconds = 30, max_instances = 5 }
            welcome_email = { memory_mb = 256, timeout_seconds = 30, max_instances = 5 }
          }
        }
      } }
    }
  }
  expect_failures = [output.gcp_service]
}

run "a_minus_var_that_contradicts_the_config_file_is_refused" {
  command = plan
  variables {
    cloud_provider = "aws"
  }
  expect_failures = [output.primary_cloud]
}

run "an_aws_stage_plans_no_service_here" {
  command = plan
  variables {
    config = yamldecode(file("../../../config/stages.yaml"))
  }

  assert {
    condition     = output.primary_cloud == "aws" && output.gcp_service == null && !output.deploy_gcp_service
    error_message = "an AWS-primary stage's service is the CDK app's"
  }
}
