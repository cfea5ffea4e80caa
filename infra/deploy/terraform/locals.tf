data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # Must match what the service derives from COMMERCE_TOPIC / COMMERCE_QUEUE_PREFIX.
  queue_prefix = "${var.name_prefix}-"
  topic_name   = "${var.name_prefix}-events.fifo"

  # Name of everything that is not part of the messaging contract (RDS, ElastiCache, ECS,
  # ALB, IAM roles, log groups): prefix + environment, lowercase.
  stack = lower(replace("${var.name_prefix}-${var.environment}", "_", "-"))

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Everything beyond messaging + IAM is switched on by giving a VPC (each can be forced).
  create_database = coalesce(var.create_database, var.vpc_id != null)
  create_redis    = coalesce(var.create_redis, var.vpc_id != null)
  create_ecs      = coalesce(var.create_ecs, var.vpc_id != null)
  create_logs_key = local.create_database || local.create_redis || local.create_ecs
  create_secrets  = local.create_database || local.create_redis

  # --------------------------------------------------------------------------------------
  # The components of the binary (`commerce serve <component>`), from the deployment
  # contract: listening port (the ops port for workers), the variable that sets the listen
  # address, whether the ALB routes to it, whether it uses Redis, the queue it consumes,
  # and how it scales. /readyz asks only about the component's own topic or queue, so no
  # role needs an account-wide permission.
  # --------------------------------------------------------------------------------------
  components = {
    "command-api"             = { port = 8080, addr_env = "COMMERCE_COMMAND_API_ADDR", public = true, redis = false, queue = null, scaling = "cpu", metrics = "outbox_backlog" }
    "read-api"                = { port = 8081, addr_env = "COMMERCE_READ_API_ADDR", public = true, redis = true, queue = null, scaling = "cpu", metrics = null }
    "auth"                    = { port = 8084, addr_env = "COMMERCE_AUTH_ADDR", public = true, redis = false, queue = null, scaling = "cpu", metrics = null }
    "catalog-projector"       = { port = 9090, addr_env = "COMMERCE_OPS_ADDR", public = false, redis = true, queue = "catalog", scaling = "queue", metrics = "projection_lag_seconds" }
    "cart-projector"          = { port = 9090, addr_env = "COMMERCE_OPS_ADDR", public = false, redis = true, queue = "cart", scaling = "queue", metrics = "projection_lag_seconds" }
    "orders-projector"        = { port = 9090, addr_env = "COMMERCE_OPS_ADDR", public = false, redis = false, queue = "orders", scaling = "queue", metrics = "projection_lag_seconds" }
    "analytics-projector"     = { port = 9090, addr_env = "COMMERCE_OPS_ADDR", public = false, redis = false, queue = "analytics", scaling = "queue", metrics = "projection_lag_seconds" }
    "notifications-projector" = { port = 9090, addr_env = "COMMERCE_OPS_ADDR", public = false, redis = false, queue = "notifications", scaling = "queue", metrics = "projection_lag_seconds" }
    "ledger-projector"        = { port = 9090, addr_env = "COMMERCE_OPS_ADDR", public = false, redis = false, queue = "ledger", scaling = "queue", metrics = "projection_lag_seconds" }
    "webhooks"                = { port = 9090, addr_env = "COMMERCE_OPS_ADDR", public = false, redis = false, queue = null, scaling = "fixed", metrics = null }
    "sagas"                   = { port = 8082, addr_env = "COMMERCE_SAGAS_ADDR", public = false, redis = false, queue = "order-saga", scaling = "queue", metrics = null }
  }

  # Every ECS task family: the long-running components plus the one-off `commerce migrate`.
  task_names = concat(keys(local.components), ["migrate"])

  consumers = { for name, c in local.components : name => c if c.queue != null }
  public    = { for name, c in local.components : name => c if c.public }

  default_task_sizes = {
    "command-api"             = { cpu = 1024, memory = 2048 }
    "read-api"                = { cpu = 512, memory = 1024 }
    "auth"                    = { cpu = 512, memory = 1024 }
    "catalog-projector"       = { cpu = 512, memory = 1024 }
    "cart-projector"          = { cpu = 512, memory = 1024 }
    "orders-projector"        = { cpu = 512, memory = 1024 }
    "analytics-projector"     = { cpu = 512, memory = 1024 }
    "notifications-projector" = { cpu = 512, memory = 1024 }
    "ledger-projector"        = { cpu = 512, memory = 1024 }
    "webhooks"                = { cpu = 256, memory = 512 }
    "sagas"                   = { cpu = 256, memory = 512 }
    "migrate"                 = { cpu = 512, memory = 1024 }
  }
  task_sizes = merge(local.default_task_sizes, var.task_sizes)

  default_scaling = {
    "command-api"             = { min = 2, max = 10 }
    "read-api"                = { min = 2, max = 10 }
    "auth"                    = { min = 2, max = 6 }
    "catalog-projector"       = { min = 1, max = 4 }
    "cart-projector"          = { min = 1, max = 4 }
    "orders-projector"        = { min = 1, max = 4 }
    "analytics-projector"     = { min = 1, max = 4 }
    "notifications-projector" = { min = 1, max = 4 }
    "ledger-projector"        = { min = 1, max = 4 }
    "webhooks"                = { min = 2, max = 2 }
    "sagas"                   = { min = 1, max = 4 }
  }
  scaling = merge(local.default_scaling, var.service_scaling)

  # --------------------------------------------------------------------------------------
  # Environment (non-secret) and secrets per component. The database URL carries no
  # password: ECS injects COMMERCE_DATABASE_PASSWORD from the RDS-managed secret's
  # "password" key and COMMERCE_REDIS_PASSWORD from the AUTH-token secret.
  # --------------------------------------------------------------------------------------
  database_address = try(module.postgres[0].address, null)
  redis_address    = try(module.redis[0].primary_endpoint_address, null)

  database_url = local.create_database ? format(
    "postgres://%s@%s:%d/%s?sslmode=verify-full&sslrootcert=%s",
    module.postgres[0].username, module.postgres[0].address, module.postgres[0].port,
    module.postgres[0].database_name, var.database_ca_cert_path,
  ) : null
  redis_url = local.create_redis ? "rediss://${module.redis[0].primary_endpoint_address}:6379" : null

  jwks_url = var.jwks_url != null ? var.jwks_url : (
    var.public_hostname != null ? "https://${var.public_hostname}/.well-known/jwks.json" : null
  )

  common_environment = {
    RUST_LOG                          = var.rust_log
    COMMERCE_AWS_REGION               = var.region
    COMMERCE_TOPIC                    = local.topic_name
    COMMERCE_QUEUE_PREFIX             = local.queue_prefix
    COMMERCE_DATABASE_URL             = local.database_url
    COMMERCE_DATABASE_MAX_CONNECTIONS = tostring(var.database_max_connections)
    # Every component reads the token settings at start (the binary parses all of its
    # configuration), so each gets them; only the HTTP services use them.
    COMMERCE_JWKS_URL               = local.jwks_url
    COMMERCE_JWT_ISSUER             = var.jwt_issuer
    COMMERCE_JWT_AUDIENCE           = var.jwt_audience
    COMMERCE_PAYMENT_SIMULATOR_ADDR = "off"
  }

  redis_environment = {
    COMMERCE_REDIS_URL    = local.redis_url
    COMMERCE_REDIS_PREFIX = var.redis_prefix
  }

  component_environment = {
    "command-api" = {
      COMMERCE_RUN_RELAY           = "true"
      COMMERCE_TOPIC_ARN           = aws_sns_topic.events.arn
      COMMERCE_TRUST_FORWARDED_FOR = "true"
    }
    "read-api" = { COMMERCE_TRUST_FORWARDED_FOR = "true" }
    "auth" = {
      COMMERCE_TRUST_FORWARDED_FOR = "true"
      # The auth service checks the tokens of its own admin routes against its own keys.
      COMMERCE_JWKS_URL = "http://127.0.0.1:8084/.well-known/jwks.json"
    }
    "sagas" = { COMMERCE_PAYMENT_URL = var.payment_url }
  }

  service_environment = {
    for name in local.task_names : name => {
      for key, value in merge(
        local.common_environment,
        try(local.components[name].redis, false) ? local.redis_environment : {},
        try({ (local.components[name].addr_env) = "0.0.0.0:${local.components[name].port}" }, {}),
        lookup(local.component_environment, name, {}),
        lookup(var.extra_environment, name, {}),
      ) : key => value if value != null
    }
  }

  database_secret_arn = try(module.postgres[0].master_user_secret_arn, null)
  redis_secret_arn    = try(module.redis[0].auth_token_secret_arn, null)

  service_secrets = {
    for name in local.task_names : name => merge(
      local.create_database ? { COMMERCE_DATABASE_PASSWORD = "${local.database_secret_arn}:password::" } : {},
      local.task_reads_redis_secret[name] ? { COMMERCE_REDIS_PASSWORD = local.redis_secret_arn } : {},
    )
  }

  # Secret ARNs (without the JSON-key suffix) each task's execution role may read. Built
  # from plan-time booleans so the list lengths are known before the ARNs are.
  task_reads_redis_secret = { for name in local.task_names : name => local.create_redis && try(local.components[name].redis, false) }
  task_has_secrets        = { for name in local.task_names : name => local.create_database || local.task_reads_redis_secret[name] }
  service_secret_arns = {
    for name in local.task_names : name => concat(
      local.create_database ? [local.database_secret_arn] : [],
      local.task_reads_redis_secret[name] ? [local.redis_secret_arn] : [],
    )
  }
}
