variable "regions" {
  description = "modules/plan's azure output: names, CIDRs, tags and settings per region."
  type = map(object({
    location                 = string
    resource_group_name      = string
    vnet_name                = string
    vnet_cidr                = string
    services_subnet_cidr     = string
    endpoints_subnet_cidr    = string
    gateway_subnet_cidr      = string
    nsg_name                 = string
    cosmos_account_name      = string
    servicebus_namespace     = string
    queue_name               = string
    identity_name            = string
    delete_protection        = bool
    tags                     = map(string)
    max_delivery_count       = number
    message_retention_period = string
  }))
}

variable "servicebus_sku" {
  description = "Standard, or Premium to turn the namespace's public endpoint off and reach it through a private endpoint (Standard has no network isolation)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.servicebus_sku)
    error_message = "servicebus_sku must be Standard or Premium (Basic has no dead-lettering topics and no Entra-only auth guarantees we rely on)."
  }
}

variable "gateway_subnet" {
  description = "Create the GatewaySubnet for the cross-cloud VPN gateway (multi-cloud only)."
  type        = bool
  default     = false
}

variable "peer_cidrs" {
  description = "Ranges of the other clouds' networks (cross-cloud only) allowed to reach the service subnet over HTTPS."
  type        = list(string)
  default     = []
}
