locals {
  stage   = var.config.stages[var.environment]
  service = var.config.service
  is_prod = try(local.stage.data_protection, "retain") == "retain"

  # The stage's primary cloud, named once in config/stages.yaml; -var cloud_provider may only
  # repeat it (or choose where the file names none).
  configured_cloud = try(tostring(local.stage.cloud_provider), null)
  primary          = coalesce(var.cloud_provider, local.configured_cloud, "aws")
  cloud_conflict   = var.cloud_provider != null && local.configured_cloud != null && var.cloud_provider != local.configured_cloud

  # The original design's switch: GCP/Azure when primary or when multi-cloud; cross-cloud only
  # when multi-cloud. AWS belongs to the CDK app, so "aws" alone plans nothing here. The users
  # service itself runs in the primary cloud only (gcp_service.tf).
  deploy_gcp         = local.primary == "gcp" || var.multi_cloud_enabled
  deploy_azure       = local.primary == "azure" || var.multi_cloud_enabled
  deploy_cross_cloud = var.multi_cloud_enabled

  from_config = {
    aws   = tolist(try(local.stage.aws_regions, []))
    gcp   = tolist(try(local.stage.gcp_regions, []))
    azure = tolist(try(local.stage.azure_regions, []))
  }
  # A cloud's list passed in replaces that cloud's list from the config file; the others stay.
  regions = merge(local.from_config, { for k, v in coalesce(var.regions, {}) : k => v if contains(["aws", "gcp", "azure"], k) })
  # Maps are built from the distinct names, so a duplicate reaches the readable precondition on
  # output.regions instead of a "duplicate object key" error.
  unique = { for cloud, list in local.regions : cloud => distinct(list) }

  # Constant, so var.regions validation can use it without a cycle.
  region_patterns = {
    aws   = "^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$"
    gcp   = "^[a-z]+-[a-z]+[0-9]+$"
    azure = "^[A-Za-z][A-Za-z0-9 ]*[A-Za-z0-9]$"
  }
  # Azure accepts "West Europe" and "westeurope" for the same region: compare the canonical form.
  canonical = {
    for cloud, list in local.regions : cloud => [for r in list : lower(replace(r, " ", ""))]
  }
  region_problems = concat(
    flatten([
      for cloud, list in local.regions : [
        for r in list : "${cloud} region \"${r}\" is not a ${cloud} region name (expected e.g. ${cloud == "aws" ? "us-east-1" : cloud == "gcp" ? "us-central1" : "West Europe"})"
        if !can(regex(local.region_patterns[cloud], r))
      ] if contains(keys(local.region_patterns), cloud)
    ]),
    [for cloud, list in local.canonical : "${cloud} lists a region twice (${join(", ", local.regions[cloud])})" if length(distinct(list)) != length(list)],
    [for cloud, list in local.regions : "${cloud} lists ${length(list)} regions; the CIDR plan has room for 16" if length(list) > 16],
  )

  azure_slug = { for r in local.unique.azure : r => lower(replace(r, " ", "")) }

  labels = {
    for cloud, list in local.unique : cloud => {
      for r in list : r => {
        service    = local.service
        stage      = var.environment
        region     = cloud == "azure" ? local.azure_slug[r] : r
        managed-by = "terraform"
      }
    }
  }

  # CIDR plan: a /20 per cloud region out of one supernet, GCP in slots 0-15, Azure in 16-31,
  # so the clouds never overlap and a VPN between any two of them can route.
  supernet_bits = 20 - tonumber(split("/", var.network_supernet)[1])
  cidrs = {
    gcp   = { for i, r in local.unique.gcp : r => lookup(var.network_cidrs, "gcp/${r}", try(cidrsubnet(var.network_supernet, local.supernet_bits, i), null)) }
    azure = { for i, r in local.unique.azure : r => lookup(var.network_cidrs, "azure/${r}", try(cidrsubnet(var.network_supernet, local.supernet_bits, 16 + i), null)) }
  }
  unknown_pins = [for k in keys(var.network_cidrs) : k if !contains(concat([for r in local.regions.gcp : "gcp/${r}"], [for r in local.regions.azure : "azure/${r}"]), k)]

  # Every range that must stay apart: the deployed clouds' networks and the AWS VPCs of the AWS leg.
  ranges_in_use = merge(
    local.deploy_gcp ? { for r, c in local.cidrs.gcp : "gcp/${r}" => c } : {},
    local.deploy_azure ? { for r, c in local.cidrs.azure : "azure/${r}" => c } : {},
    local.deploy_cross_cloud ? { for r, c in var.aws_vpc_cidrs : "aws/${r}" => c } : {},
  )
  range_bounds = {
    for k, c in local.ranges_in_use : k => {
      start = sum([for i, octet in split(".", cidrhost(c, 0)) : tonumber(octet) * pow(256, 3 - i)])
      size  = pow(2, 32 - tonumber(split("/", c)[1]))
    }
  }
  range_keys = sort(keys(local.range_bounds))
  overlaps = flatten([
    for i, a in local.range_keys : [
      for j, b in local.range_keys : "${a} (${local.ranges_in_use[a]}) overlaps ${b} (${local.ranges_in_use[b]})"
      if i < j
      && local.range_bounds[a].start < local.range_bounds[b].start + local.range_bounds[b].size
      && local.range_bounds[b].start < local.range_bounds[a].start + local.range_bounds[a].size
    ]
  ])

  gcp = {
    for r in local.unique.gcp : r => {
      network_name = "archon-${var.environment}"
      subnet_name  = "archon-${var.environment}-${r}"
      subnet_cidr  = local.cidrs.gcp[r]
      labels       = local.labels.gcp[r]
    }
  }

  azure = {
    for r in local.unique.azure : r => {
      location                 = r
      resource_group_name      = "rg-archon-${var.environment}-${local.azure_slug[r]}"
      vnet_name                = "vnet-archon-${var.environment}-${local.azure_slug[r]}"
      vnet_cidr                = local.cidrs.azure[r]
      services_subnet_cidr     = cidrsubnet(local.cidrs.azure[r], 2, 0)
      endpoints_subnet_cidr    = cidrsubnet(local.cidrs.azure[r], 4, 4)
      gateway_subnet_cidr      = cidrsubnet(local.cidrs.azure[r], 7, 40)
      nsg_name                 = "nsg-archon-${var.environment}-${local.azure_slug[r]}"
      cosmos_account_name      = "cosmos-archon-${var.environment}-${local.azure_slug[r]}${var.name_suffix}"
      servicebus_namespace     = "sb-archon-${var.environment}-${local.azure_slug[r]}${var.name_suffix}"
      queue_name               = "notifications-${var.environment}"
      identity_name            = "id-archon-${var.environment}-${local.azure_slug[r]}"
      delete_protection        = local.is_prod
      tags                     = local.labels.azure[r]
      max_delivery_count       = 5
      message_retention_period = "P14D"
    }
  }
  azure_name_problems = concat(
    [for r, a in local.azure : "Cosmos DB account name ${a.cosmos_account_name} is longer than 44 characters" if length(a.cosmos_account_name) > 44],
    [for r, a in local.azure : "Service Bus namespace ${a.servicebus_namespace} is longer than 50 characters" if length(a.servicebus_namespace) > 50],
  )
  gcp_name_problems = concat(
    [for r, g in local.gcp : "subnetwork name ${g.subnet_name} is longer than 63 characters" if length(g.subnet_name) > 63],
  )

  # Cross-cloud: GCP is the hub. The i-th GCP region pairs with the i-th Azure region (HA VPN,
  # two tunnels to an active-active Azure gateway) and with the i-th AWS region when that
  # region has a VPC in aws_vpc_ids (HA VPN, four tunnels to two AWS VPN connections).
  pair_count = min(length(local.regions.gcp), length(local.regions.azure))
  asn = {
    gcp   = [for i in range(length(local.regions.gcp)) : 64600 + i]
    azure = [for i in range(length(local.regions.azure)) : 64700 + i]
    aws   = [for i in range(length(local.regions.aws)) : 64800 + i]
  }
  gcp_azure_pairs = !local.deploy_cross_cloud ? [] : [
    for i in range(local.pair_count) : {
      name         = "archon-${var.environment}-${local.regions.gcp[i]}-to-${local.azure_slug[local.regions.azure[i]]}"
      gcp_region   = local.regions.gcp[i]
      azure_region = local.regions.azure[i]
      gcp_asn      = local.asn.gcp[i]
      azure_asn    = local.asn.azure[i]
      # Azure only accepts BGP peer addresses in 169.254.21.0-169.254.22.255 (APIPA).
      tunnels = [
        for t in range(2) : {
          name          = "archon-${var.environment}-${local.regions.gcp[i]}-azure-${t}"
          gcp_interface = t
          inside_cidr   = "169.254.21.${i * 8 + t * 4}/30"
          gcp_bgp_ip    = cidrhost("169.254.21.${i * 8 + t * 4}/30", 1)
          azure_bgp_ip  = cidrhost("169.254.21.${i * 8 + t * 4}/30", 2)
        }
      ]
    }
  ]
  aws_legs = !local.deploy_cross_cloud ? [] : [
    for i, r in local.regions.aws : {
      name       = "archon-${var.environment}-${local.regions.gcp[i]}-to-${r}"
      aws_region = r
      gcp_region = local.regions.gcp[i]
      vpc_id     = var.aws_vpc_ids[r]
      vpc_cidr   = lookup(var.aws_vpc_cidrs, r, null)
      gcp_asn    = local.asn.gcp[i]
      aws_asn    = local.asn.aws[i]
      # Two AWS VPN connections (one per GCP HA VPN interface), two tunnels each.
      tunnels = [
        for k in range(4) : {
          name           = "archon-${var.environment}-${local.regions.gcp[i]}-aws-${k}"
          gcp_interface  = floor(k / 2)
          aws_connection = floor(k / 2)
          aws_tunnel     = k % 2 + 1
          inside_cidr    = "169.254.${100 + i}.${k * 4}/30"
          aws_bgp_ip     = cidrhost("169.254.${100 + i}.${k * 4}/30", 1)
          gcp_bgp_ip     = cidrhost("169.254.${100 + i}.${k * 4}/30", 2)
        }
      ]
    } if contains(keys(var.aws_vpc_ids), r) && i < length(local.regions.gcp)
  ]
  aws_leg_problems = concat(
    [for r in keys(var.aws_vpc_ids) : "aws_vpc_ids has ${r}, which is not one of this stage's AWS regions (${join(", ", local.regions.aws)})" if !contains(local.regions.aws, r)],
    [for r in keys(var.aws_vpc_ids) : "aws_vpc_ids has ${r} but aws_vpc_cidrs does not: give the VPC's CIDR so it is routed and checked for overlaps" if !contains(keys(var.aws_vpc_cidrs), r)],
    [for i, r in local.regions.aws : "aws region ${r} has a VPC in aws_vpc_ids but no GCP region at the same position to pair with" if contains(keys(var.aws_vpc_ids), r) && i >= length(local.regions.gcp)],
  )
  unpaired = !local.deploy_cross_cloud ? [] : concat(
    [for i, r in local.regions.gcp : "gcp/${r}" if i >= local.pair_count],
    [for i, r in local.regions.azure : "azure/${r}" if i >= local.pair_count],
  )
}

locals {
  deploys = compact([
    local.deploy_gcp_service ? "the users service on GCP (Firestore ${local.gcp_service.database} in ${coalesce(local.database_location, "?")}, the API in ${join(", ", local.unique.gcp)})" : "",
    local.deploy_gcp ? "GCP in ${join(", ", local.regions.gcp)}" : "",
    local.deploy_azure ? "Azure in ${join(", ", local.regions.azure)}" : "",
    local.deploy_cross_cloud ? "${length(local.gcp_azure_pairs)} GCP-Azure VPN pair(s) and ${length(local.aws_legs)} AWS leg(s)" : "",
  ])
  aws_only_summary = "cloud_provider = \"aws\": Terraform deploys nothing; the CDK app owns AWS (cdk deploy). Set cloud_provider to gcp or azure, or multi_cloud_enabled = true."
  summary          = length(local.deploys) == 0 ? local.aws_only_summary : "Stage ${var.environment}: ${join(", ", local.deploys)}."
}

# Unpaired regions still deploy; they just have no VPN to the other cloud. Say so at plan time.
check "every_region_is_paired" {
  assert {
    condition     = length(local.unpaired) == 0
    error_message = "These regions have no partner in the other cloud and get no cross-cloud VPN: ${join(", ", local.unpaired)}. List as many GCP as Azure regions to pair them."
  }
}
