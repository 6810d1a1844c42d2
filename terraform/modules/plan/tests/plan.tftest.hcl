# Names, labels, the CIDR plan and prod protections, as modules/gcp and modules/azure receive them.
variables {
  config              = yamldecode(file("../../../config/stages.yaml"))
  environment         = "prod"
  multi_cloud_enabled = true
}

run "names_follow_the_contract" {
  command = plan

  assert {
    condition     = output.gcp["us-central1"].subnet_name == "archon-prod-us-central1" && output.gcp["us-central1"].network_name == "archon-prod"
    error_message = "GCP subnetworks are archon-{stage}-{region} in the stage's one network"
  }
  assert {
    condition     = output.azure["West Europe"].queue_name == "notifications-prod" && output.azure["West Europe"].resource_group_name == "rg-archon-prod-westeurope"
    error_message = "the Service Bus queue is notifications-{stage}, inside a per-region namespace"
  }
  assert {
    condition     = alltrue([for a in values(output.azure) : a.max_delivery_count == 5 && a.message_retention_period == "P14D"])
    error_message = "delivery is bounded at 5 attempts, like the SQS redrive, and Azure keeps messages 14 days"
  }
  assert {
    condition     = alltrue([for g in values(output.gcp) : !contains(keys(g), "firestore_database")]) && output.gcp_service == null
    error_message = "the landing zone holds no users database per region: a stage's users live in its primary cloud's one database (gcp_service)"
  }
}

run "labels_name_service_stage_and_region" {
  command = plan

  assert {
    condition = alltrue(concat(
      [for r, g in output.gcp : g.labels.service == "archon-serverless-api" && g.labels.stage == "prod" && g.labels.region == r],
      [for r, a in output.azure : a.tags.service == "archon-serverless-api" && a.tags.stage == "prod" && a.tags.region == lower(replace(r, " ", ""))],
    ))
    error_message = "every region's labels and tags name the service, stage and region"
  }
}

run "prod_is_delete_protected_and_dev_is_not" {
  command = plan

  assert {
    condition     = alltrue([for a in values(output.azure) : a.delete_protection])
    error_message = "prod (data_protection: retain) protects its databases"
  }
}

run "dev_is_not_delete_protected" {
  command = plan
  variables {
    environment = "dev"
  }

  assert {
    condition     = !anytrue([for a in values(output.azure) : a.delete_protection])
    error_message = "dev (data_protection: destroy) tears down"
  }
}

run "cidr_plan_is_disjoint_and_carved_from_the_supernet" {
  command = plan

  assert {
    condition = jsonencode(output.cidr_plan) == jsonencode({
      "gcp/us-central1"   = "10.96.0.0/20"
      "gcp/europe-west1"  = "10.96.16.0/20"
      "azure/East US"     = "10.97.0.0/20"
      "azure/West Europe" = "10.97.16.0/20"
    })
    error_message = "GCP takes /20 slots 0-15 and Azure 16-31 of 10.96.0.0/12"
  }
  assert {
    condition = (output.azure["East US"].services_subnet_cidr == "10.97.0.0/22"
      && output.azure["East US"].endpoints_subnet_cidr == "10.97.4.0/24"
    && output.azure["East US"].gateway_subnet_cidr == "10.97.5.0/27")
    error_message = "each VNet is split into services, private endpoints and the VPN gateway subnet"
  }
}

run "pinned_cidr_replaces_the_plan" {
  command = plan
  variables {
    network_cidrs = { "gcp/us-central1" = "10.200.0.0/20" }
  }

  assert {
    condition     = output.gcp["us-central1"].subnet_cidr == "10.200.0.0/20" && output.gcp["europe-west1"].subnet_cidr == "10.96.16.0/20"
    error_message = "a pin replaces only its own region's range"
  }
}

run "regions_passed_in_override_one_cloud" {
  command = plan
  variables {
    regions = { azure = ["North Europe"] }
  }

  assert {
    condition     = output.regions["azure"] == tolist(["North Europe"]) && output.regions["gcp"] == tolist(["us-central1", "europe-west1"])
    error_message = "a cloud passed in replaces that cloud's list; the others come from config/stages.yaml"
  }
  expect_failures = [check.every_region_is_paired]
}
