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
  description = "Security groups allowed to connect on 5432."
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
  type    = string
  default = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB; autoscaling up to four times this."
  type        = number
  default     = 50
}

variable "multi_az" {
  type    = bool
  default = true
}

variable "deletion_protection" {
  type    = bool
  default = true
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

variable "force_ssl" {
  description = "Set rds.force_ssl. Keep false until the service's Postgres client is built with TLS."
  type        = bool
  default     = false
}
