variable "region" {
  description = "AWS region for every resource (also the service's COMMERCE_AWS_REGION)."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name. The topic is \"<prefix>-events.fifo\" and queues \"<prefix>-<name>.fifo\", so the service's COMMERCE_QUEUE_PREFIX is \"<prefix>-\". Use e.g. \"commerce-staging\" to share an account between environments."
  type        = string
  default     = "commerce"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 characters of letters, digits, '-' or '_'."
  }
}

variable "environment" {
  description = "Environment name, used in tags (e.g. staging, production)."
  type        = string
  default     = "production"
}

variable "tags" {
  description = "Extra tags applied to every resource."
  type        = map(string)
  default     = {}
}

# --------------------------------------------------------------------------------------
# Messaging
# --------------------------------------------------------------------------------------

variable "queues" {
  description = "Consumer queues: short name => the aggregate types delivered to it and, optionally, only these event types of them (the subscription filter policy). Add a consumer by adding an entry. Must match platform/src/messaging.rs QUEUES, because `commerce up` provisions the same queues idempotently."
  type = map(object({
    aggregate_types = list(string)
    event_types     = optional(list(string), [])
  }))
  default = {
    catalog       = { aggregate_types = ["Product", "Inventory"] }
    cart          = { aggregate_types = ["Cart"] }
    orders        = { aggregate_types = ["Order"] }
    analytics     = { aggregate_types = ["Order", "Cart", "Product", "Inventory"] }
    notifications = { aggregate_types = ["Order"] }
    "order-saga"  = { aggregate_types = ["Order"], event_types = ["OrderPlaced", "OrderCancelled"] }
  }

  validation {
    condition     = alltrue([for name, queue in var.queues : can(regex("^[A-Za-z0-9_-]+$", name)) && length(queue.aggregate_types) > 0])
    error_message = "Queue names may contain letters, digits, '-' and '_', and each queue needs at least one aggregate type."
  }
}

# The three settings below must equal the constants in platform/src/messaging.rs
# (MAX_RECEIVES, VISIBILITY_TIMEOUT_SECS, retention): the service calls CreateQueue with them
# and AWS rejects CreateQueue on an existing queue whose attributes differ.
variable "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  type        = number
  default     = 5
}

variable "visibility_timeout_seconds" {
  description = "SQS visibility timeout of the consumer queues."
  type        = number
  default     = 30
}

variable "message_retention_seconds" {
  description = "Retention of the queues and DLQs (14 days, the SQS maximum)."
  type        = number
  default     = 1209600
}

variable "create_app_policy" {
  description = "Create an IAM policy with exactly the SNS/SQS permissions the service uses (attach it to the pods' IRSA / Pod Identity role)."
  type        = bool
  default     = true
}

# --------------------------------------------------------------------------------------
# Optional data stores (off by default)
# --------------------------------------------------------------------------------------

variable "create_database" {
  description = "Create an RDS PostgreSQL instance (modules/postgres)."
  type        = bool
  default     = false
}

variable "create_redis" {
  description = "Create an ElastiCache Redis replication group (modules/redis)."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "VPC for RDS / ElastiCache. Required when create_database or create_redis is true."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets (at least two AZs) for RDS / ElastiCache."
  type        = list(string)
  default     = []
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to reach Postgres / Redis (e.g. the EKS node or pod security group)."
  type        = list(string)
  default     = []
}

variable "allowed_cidr_blocks" {
  description = "CIDR blocks allowed to reach Postgres / Redis."
  type        = list(string)
  default     = []
}

variable "database_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "database_allocated_storage" {
  description = "RDS storage in GiB."
  type        = number
  default     = 50
}

variable "database_multi_az" {
  description = "Run RDS Multi-AZ."
  type        = bool
  default     = true
}

variable "database_deletion_protection" {
  description = "Protect the RDS instance from deletion."
  type        = bool
  default     = true
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_num_cache_clusters" {
  description = "Nodes in the Redis replication group (1 = no replica; 2+ enables automatic failover)."
  type        = number
  default     = 2
}

variable "high_throughput_fifo" {
  description = "Enable SQS high-throughput FIFO on the consumer queues (deduplication per message group, throughput limit per message group id)."
  type        = bool
  default     = false
}
