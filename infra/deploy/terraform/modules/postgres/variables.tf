variable "name" {
  description = "Identifier of the instance and prefix of its companions (lowercase, hyphens)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the instance."
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets in at least two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (static list; add rules for computed groups on security_group_id from the caller)."
  type        = list(string)
  default     = []
}

variable "allowed_cidr_blocks" {
  description = "CIDR blocks allowed to connect on 5432."
  type        = list(string)
  default     = []
}

variable "engine_version" {
  description = "PostgreSQL major version (the service is tested against 15)."
  type        = string
  default     = "15"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB; autoscaling up to four times this."
  type        = number
  default     = 50
}

variable "multi_az" {
  description = "Run a synchronous standby in another availability zone."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the instance from deletion."
  type        = bool
  default     = true
}

variable "backup_retention_period" {
  description = "Days of automated backups."
  type        = number
  default     = 14
}

variable "database_name" {
  description = "Database created with the instance (`commerce migrate` also creates it if missing)."
  type        = string
  default     = "commerce"
}

variable "username" {
  description = "Master user name. Its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "commerce"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for storage, backups and Performance Insights."
  type        = string
  nullable    = false
}

variable "master_user_secret_kms_key_arn" {
  description = "Customer-managed KMS key of the RDS-managed master user secret."
  type        = string
  nullable    = false
}

variable "logs_kms_key_arn" {
  description = "Customer-managed KMS key of the exported log groups."
  type        = string
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the exported log groups."
  type        = number
  default     = 365
}

variable "monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds (1, 5, 10, 15, 30 or 60)."
  type        = number
  default     = 60
}
