variable "name" {
  description = "Replication group id (lowercase, hyphens, at most 40 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.name))
    error_message = "name must start with a letter and be at most 40 lowercase letters, digits or hyphens."
  }
}

variable "vpc_id" {
  description = "VPC of the replication group."
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets for the cache nodes (at least two availability zones)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Multi-AZ needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 6379 (static list; add rules for computed groups on security_group_id from the caller)."
  type        = list(string)
  default     = []
}

variable "allowed_cidr_blocks" {
  description = "CIDR blocks allowed to connect on 6379."
  type        = list(string)
  default     = []
}

variable "node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "num_cache_clusters" {
  description = "Nodes: a primary plus replicas (at least 2 for Multi-AZ with automatic failover)."
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 2
    error_message = "Multi-AZ with automatic failover needs at least 2 nodes."
  }
}

variable "engine_version" {
  description = "Redis engine version (7.x; major.minor)."
  type        = string
  default     = "7.1"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for encryption at rest."
  type        = string
  nullable    = false
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key of the AUTH token secret."
  type        = string
  nullable    = false
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key of the slow-log / engine-log groups."
  type        = string
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the log groups."
  type        = number
  default     = 365
}
