variable "name" {
  description = "Replication group id (lowercase, hyphens, at most 40 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.name))
    error_message = "name must start with a letter and be at most 40 lowercase letters, digits or hyphens."
  }
}

variable "vpc_id" {
  type     = string
  nullable = false
}

variable "subnet_ids" {
  description = "Private subnets for the cache nodes."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "At least one subnet is required."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 6379."
  type        = list(string)
  default     = []
}

variable "allowed_cidr_blocks" {
  description = "CIDR blocks allowed to connect on 6379."
  type        = list(string)
  default     = []
}

variable "node_type" {
  type    = string
  default = "cache.t4g.small"
}

variable "num_cache_clusters" {
  description = "1 = a single node; 2+ adds replicas with automatic failover."
  type        = number
  default     = 2
}

variable "engine_version" {
  type    = string
  default = "7.1"
}

variable "transit_encryption" {
  description = "TLS in transit (rediss://). Keep false until the service's Redis client is built with TLS."
  type        = bool
  default     = false
}
