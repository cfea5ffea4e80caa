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
    catalog       = { aggregate_types = ["Product", "Inventory", "Vendor"] }
    cart          = { aggregate_types = ["Cart"] }
    orders        = { aggregate_types = ["Order"] }
    analytics     = { aggregate_types = ["Order", "Cart", "Product", "Inventory"] }
    notifications = { aggregate_types = ["Order"] }
    ledger        = { aggregate_types = ["VendorSale", "VendorPayouts", "Order"] }
    "order-saga"  = { aggregate_types = ["Order"], event_types = ["OrderPlaced", "OrderCancelled", "ReturnAccepted"] }
  }

  validation {
    condition     = alltrue([for name, queue in var.queues : can(regex("^[A-Za-z0-9_-]+$", name)) && length(queue.aggregate_types) > 0])
    error_message = "Queue names may contain letters, digits, '-' and '_', and each queue needs at least one aggregate type."
  }

  validation {
    condition     = alltrue([for name in ["catalog", "cart", "orders", "analytics", "notifications", "ledger", "order-saga"] : contains(keys(var.queues), name)])
    error_message = "var.queues must keep the seven queues the components consume (catalog, cart, orders, analytics, notifications, ledger, order-saga); add others next to them."
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

variable "high_throughput_fifo" {
  description = "Enable SQS high-throughput FIFO on the consumer queues (deduplication per message group, throughput limit per message group id)."
  type        = bool
  default     = false
}

variable "create_app_policy" {
  description = "Also create the legacy all-in-one policy for `commerce up` (one process running every component, which also provisions the topology at start). The per-component policies (output component_policy_arns) are the least-privilege alternative and what the ECS path uses."
  type        = bool
  default     = false
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled KMS key deletion takes effect."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group created here (at least a year)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365 days."
  }
}

# --------------------------------------------------------------------------------------
# Network. Setting vpc_id switches on the data stores and the ECS path by default.
# --------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC for RDS, ElastiCache and the ECS services. When set, create_database, create_redis and create_ecs default to true."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets (at least two AZs, with a route to a NAT gateway or VPC endpoints) for RDS, ElastiCache and the ECS tasks."
  type        = list(string)
  default     = []
}

variable "public_subnet_ids" {
  description = "Public subnets (at least two AZs) for the internet-facing ALB. Required when create_ecs."
  type        = list(string)
  default     = []
}

variable "allowed_security_group_ids" {
  description = "Extra security groups allowed to reach Postgres / Redis (e.g. an EKS node or pod security group, a bastion). The ECS tasks' groups are added automatically."
  type        = list(string)
  default     = []
}

variable "allowed_cidr_blocks" {
  description = "Extra CIDR blocks allowed to reach Postgres / Redis."
  type        = list(string)
  default     = []
}

# --------------------------------------------------------------------------------------
# Data stores
# --------------------------------------------------------------------------------------

variable "create_database" {
  description = "Create the RDS PostgreSQL instance (modules/postgres). null = create when vpc_id is set."
  type        = bool
  default     = null
}

variable "create_redis" {
  description = "Create the ElastiCache Redis replication group (modules/redis). null = create when vpc_id is set."
  type        = bool
  default     = null
}

variable "database_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "database_allocated_storage" {
  description = "RDS storage in GiB (autoscaling up to four times this)."
  type        = number
  default     = 50
}

variable "database_multi_az" {
  description = "Run RDS Multi-AZ (a synchronous standby in another AZ)."
  type        = bool
  default     = true
}

variable "database_deletion_protection" {
  description = "Protect the RDS instance from deletion."
  type        = bool
  default     = true
}

variable "database_backup_retention_days" {
  description = "Days of RDS automated backups (point-in-time recovery window)."
  type        = number
  default     = 14

  validation {
    condition     = var.database_backup_retention_days >= 7 && var.database_backup_retention_days <= 35
    error_message = "database_backup_retention_days must be between 7 and 35."
  }
}

variable "database_ca_cert_path" {
  description = "Path, inside the image, of the RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) that sslmode=verify-full checks the server against."
  type        = string
  default     = "/etc/commerce/tls/rds-ca.pem"
}

variable "database_max_connections" {
  description = "COMMERCE_DATABASE_MAX_CONNECTIONS per process. Size the instance's max_connections for the sum over running tasks."
  type        = number
  default     = 16
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_num_cache_clusters" {
  description = "Nodes in the Redis replication group (a primary and replicas in other AZs; at least 2 for Multi-AZ with automatic failover)."
  type        = number
  default     = 2

  validation {
    condition     = var.redis_num_cache_clusters >= 2 && var.redis_num_cache_clusters <= 6
    error_message = "redis_num_cache_clusters must be between 2 and 6 (Multi-AZ with automatic failover needs a replica)."
  }
}

variable "redis_prefix" {
  description = "COMMERCE_REDIS_PREFIX (key prefix; lets environments share a cache). null = the binary's default."
  type        = string
  default     = null
}

# --------------------------------------------------------------------------------------
# ECS on Fargate + ALB
# --------------------------------------------------------------------------------------

variable "create_ecs" {
  description = "Create the ECS cluster, one Fargate service per component, the ALB, autoscaling and alarms. null = create when vpc_id is set. Needs the database and Redis from this configuration."
  type        = bool
  default     = null
}

variable "container_image" {
  description = "Image of the commerce binary, preferably pinned by digest (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/commerce@sha256:...). Required when create_ecs. ECR pull permissions are derived from it."
  type        = string
  default     = null
}

variable "cpu_architecture" {
  description = "CPU architecture the image is built for: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (in var.region) for the ALB's HTTPS listener, covering public_hostname. Required when create_ecs."
  type        = string
  default     = null
}

variable "public_hostname" {
  description = "Public DNS name of the API (on the certificate). The services fetch the auth service's keys from https://<public_hostname>/.well-known/jwks.json unless jwks_url is set. Required when create_ecs and jwks_url is null."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Optional Route 53 hosted zone in which to create an alias record public_hostname -> ALB."
  type        = string
  default     = null
}

variable "jwks_url" {
  description = "Override of COMMERCE_JWKS_URL for command-api, read-api and the workers (default https://<public_hostname>/.well-known/jwks.json)."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "COMMERCE_JWT_ISSUER: the `iss` the auth service writes and the APIs require."
  type        = string
  default     = "commerce-auth"
}

variable "jwt_audience" {
  description = "COMMERCE_JWT_AUDIENCE: the `aud` the auth service writes and the APIs require."
  type        = string
  default     = "commerce"
}

variable "payment_url" {
  description = "COMMERCE_PAYMENT_URL: the payment provider's base URL (HTTPS) that the sagas call. Required when create_ecs."
  type        = string
  default     = null
}

variable "rust_log" {
  description = "RUST_LOG of every task."
  type        = string
  default     = "info"
}

variable "extra_environment" {
  description = "Extra non-secret environment variables per component (e.g. { \"webhooks\" = { COMMERCE_WEBHOOK_TIMEOUT_MS = \"5000\" } }). Never put a secret here."
  type        = map(map(string))
  default     = {}
}

variable "alb_ingress_cidrs" {
  description = "IPv4 CIDRs allowed to reach the ALB on 443 (and 80, which only redirects). Must include the NAT gateways' addresses when the services fetch the JWKS through the public hostname."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = true
}

variable "alb_ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "create_waf" {
  description = "Attach a WAFv2 web ACL (AWS managed rule groups + a per-IP rate limit) to the ALB."
  type        = bool
  default     = true
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one IP address before the WAF blocks it."
  type        = number
  default     = 2000
}

variable "task_sizes" {
  description = "Fargate cpu/memory per task, by component (merged over the defaults in locals.tf; `migrate` is the one-off task)."
  type = map(object({
    cpu    = number
    memory = number
  }))
  default = {}
}

variable "service_scaling" {
  description = "min/max task count per component (merged over the defaults in locals.tf). webhooks runs a fixed count (min) and is not autoscaled."
  type = map(object({
    min = number
    max = number
  }))
  default = {}
}

variable "api_cpu_target_percent" {
  description = "Target average CPU of command-api, read-api and auth (target tracking)."
  type        = number
  default     = 60
}

variable "queue_backlog_per_task_target" {
  description = "Target visible messages per running task for the consumers (each projector, sagas)."
  type        = number
  default     = 100
}

variable "enable_metrics_sidecar" {
  description = "Run an ADOT collector sidecar in command-api and the projectors that scrapes /metrics and publishes outbox_backlog and projection_lag_seconds to CloudWatch (namespace Commerce, EMF). Without it the two alarms stay in INSUFFICIENT_DATA unless something else publishes those metrics."
  type        = bool
  default     = true
}

variable "metrics_sidecar_image" {
  description = "AWS Distro for OpenTelemetry collector image (pin a version or digest)."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"
}

# --------------------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------------------

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alarm topic (confirm the subscription e-mail)."
  type        = string
  default     = null
}

variable "outbox_backlog_threshold" {
  description = "Alarm when outbox_backlog (unpublished outbox rows) stays above this for 5 minutes."
  type        = number
  default     = 1000
}

variable "projection_lag_threshold_seconds" {
  description = "Alarm when a projector's projection_lag_seconds stays above this for 5 minutes."
  type        = number
  default     = 60
}

variable "alb_5xx_threshold" {
  description = "Alarm when the ALB answers (or targets answer) more 5xx than this in 5 minutes."
  type        = number
  default     = 10
}

variable "alb_p99_latency_seconds" {
  description = "Alarm when the p99 target response time exceeds this (seconds) for 5 minutes."
  type        = number
  default     = 1
}

variable "rds_cpu_threshold_percent" {
  description = "Alarm when RDS CPU stays above this for 15 minutes."
  type        = number
  default     = 80
}

variable "rds_free_storage_threshold_bytes" {
  description = "Alarm when RDS free storage falls below this."
  type        = number
  default     = 5368709120
}

variable "redis_memory_threshold_percent" {
  description = "Alarm when a Redis node's DatabaseMemoryUsagePercentage stays above this for 15 minutes."
  type        = number
  default     = 80
}

# --------------------------------------------------------------------------------------
# Kubernetes (EKS) alternative
# --------------------------------------------------------------------------------------

variable "eks_oidc_provider_arn" {
  description = "Optional ARN of an EKS cluster's IAM OIDC provider. When set, an IRSA role <stack>-<name>-irsa per component and for the migrate Job trusts the service account system:serviceaccount:<eks_namespace>:commerce-<name> (infra/deploy/kubernetes), with the component's policy (if any) and read access to the secrets its pods mount; plus the KEDA operator's role (keda_operator_service_account)."
  type        = string
  default     = null
}

variable "eks_namespace" {
  description = "Kubernetes namespace of the IRSA service accounts."
  type        = string
  default     = "commerce"
}

variable "keda_operator_service_account" {
  description = "<namespace>:<name> of the KEDA operator's service account (the Helm chart's default in namespace keda). With eks_oidc_provider_arn set, an IRSA role for it may read the depth (sqs:GetQueueAttributes, sqs:GetQueueUrl) of the consumer queues the ScaledObjects of infra/deploy/kubernetes/keda name; null: no role (no KEDA, or its role is managed elsewhere)."
  type        = string
  default     = "keda:keda-operator"
  validation {
    condition     = var.keda_operator_service_account == null || can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$", var.keda_operator_service_account))
    error_message = "keda_operator_service_account is <namespace>:<service account name>, e.g. keda:keda-operator, or null."
  }
}
