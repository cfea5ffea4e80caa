# ElastiCache Redis 7 for the read models (projections of the event store).
#
# ------------------------------------------------------------------------------------------
# AUTH token: how the secret is kept out of the configuration and out of the state
# ------------------------------------------------------------------------------------------
# The aws provider's `auth_token` argument is a plain (sensitive) argument, not write-only:
# whatever Terraform passes is stored in the state. There is no `auth_token_wo` and no
# ephemeral-resource path for this resource in provider 5.x, and ElastiCache AUTH tokens have
# no Secrets Manager managed rotation. So:
#
#  1. Terraform creates the replication group with a BOOTSTRAP token, uuid(), generated at
#     apply time. It is in the state and must be treated as known to anyone who can read the
#     state; it exists only to create the group with AUTH required from the first second.
#     `lifecycle { ignore_changes = [auth_token] }` keeps Terraform from ever sending a token
#     again (so it never resets the real one, and plans stay clean).
#  2. Terraform creates the Secrets Manager secret `<name>/redis-auth-token` (encrypted with
#     the secrets CMK) WITHOUT a value. The ECS tasks that use Redis get
#     COMMERCE_REDIS_PASSWORD injected from it; they cannot start until it has a value.
#  3. Out of band, after the first apply (and the migrate task), then for every rotation, run
#     scripts/rotate-redis-auth-token.sh (in the root configuration), which
#       a) generates a token with `aws secretsmanager get-random-password` (alphanumeric,
#          64 characters: ElastiCache accepts 16-128 printable characters without / " @),
#       b) `aws elasticache modify-replication-group --auth-token <new>
#          --auth-token-update-strategy ROTATE --apply-immediately` (old and new both valid),
#       c) `aws secretsmanager put-secret-value` with the new token,
#       d) forces a new deployment of the ECS services that use Redis and waits for them,
#       e) `modify-replication-group --auth-token <new> --auth-token-update-strategy SET`
#          so only the new token is accepted (the bootstrap one stops working).
#     The token only ever travels from Secrets Manager's generator to ElastiCache and the
#     secret, through the operator's shell memory (passed to the CLI as a file:// parameter
#     from a pipe, not on the command line). Terraform never sees it.
#
# Consequence: `terraform apply` alone leaves the Redis users (read-api, catalog-projector,
# cart-projector) unable to start until step 3 has run once. That is deliberate: the
# alternative (Terraform generating the real token) puts it in the state in clear text.
# ------------------------------------------------------------------------------------------

resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "Private subnets of ${var.name} Redis"
  subnet_ids  = var.subnet_ids
}

# The description is the one of earlier versions: changing it would replace the group.
resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "Redis for ${var.name}"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "from_security_groups" {
  for_each = toset(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "Redis TLS from allowed security group ${each.value}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_ingress_rule" "from_cidrs" {
  for_each = toset(var.allowed_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "Redis TLS from allowed CIDR ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
}

# Created empty on purpose: see the comment block at the top of this file.
resource "aws_secretsmanager_secret" "auth_token" {
  #checkov:skip=CKV2_AWS_57:ElastiCache AUTH tokens have no managed rotation; scripts/rotate-redis-auth-token.sh rotates token and secret together (ROTATE then SET)
  name                    = "${var.name}/redis-auth-token"
  description             = "AUTH token of the ${var.name} Redis replication group (set and rotated by scripts/rotate-redis-auth-token.sh, never by Terraform)"
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["slow-log", "engine-log"])

  name              = "/aws/elasticache/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "Read models for ${var.name}"

  engine               = "redis"
  engine_version       = var.engine_version
  parameter_group_name = "default.redis7"
  node_type            = var.node_type
  num_cache_clusters   = var.num_cache_clusters
  port                 = 6379

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.this.id]

  # A primary and at least one replica in another AZ; ElastiCache promotes a replica on failure.
  automatic_failover_enabled = true
  multi_az_enabled           = true

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  # Bootstrap only, replaced out of band (see the top of this file).
  auth_token                 = uuid()
  auth_token_update_strategy = "ROTATE"

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.this["slow-log"].name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.this["engine-log"].name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "engine-log"
  }

  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 3
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:05:00-sun:06:00"

  lifecycle {
    ignore_changes = [auth_token, auth_token_update_strategy]
  }
}
