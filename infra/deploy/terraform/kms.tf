# Customer-managed KMS keys, one per purpose. Why five and not one:
#  - each key policy names only the AWS service principals that purpose needs (SNS and
#    CloudWatch for messaging, CloudWatch Logs for logs), so e.g. the logs service can never
#    use the key that protects the events;
#  - IAM grants stay narrow: the ECS execution roles may decrypt with the secrets key only
#    (and only through Secrets Manager), the consumers with the messaging key only;
#  - a key can be disabled or its deletion scheduled for one data set without touching the
#    others, and CloudTrail shows per key who used it.
# Every key rotates yearly. The first statement of each policy delegates to IAM in this
# account (the standard "Enable IAM policies" statement): RDS, ElastiCache and Secrets
# Manager use their keys through grants made with the caller's IAM permissions, so they
# need no statement of their own.

locals {
  kms_root_statement = {
    Sid       = "EnableIamPoliciesOfThisAccount"
    Effect    = "Allow"
    Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
    Action    = "kms:*"
    Resource  = "*"
  }
}

# SNS topic (events), the SQS queues and DLQs, and the alarm topic.
resource "aws_kms_key" "messaging" {
  description             = "${local.stack}: SNS topics and SQS queues"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      local.kms_root_statement,
      {
        # SNS encrypts with this key when it delivers to the KMS-encrypted queues; the queue
        # policies only accept the events topic, and the topic only accepts this account.
        Sid       = "AllowSnsToDeliverToEncryptedQueues"
        Effect    = "Allow"
        Principal = { Service = "sns.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
      },
      {
        # CloudWatch alarms publish to the encrypted alarm topic.
        Sid       = "AllowCloudWatchAlarmsToPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "messaging" {
  name          = "alias/${local.stack}-messaging"
  target_key_id = aws_kms_key.messaging.key_id
}

# Every CloudWatch log group created here (ECS tasks, RDS and ElastiCache exports, WAF,
# ECS Exec, the metrics sidecar's EMF group).
resource "aws_kms_key" "logs" {
  count = local.create_logs_key ? 1 : 0

  description             = "${local.stack}: CloudWatch Logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      local.kms_root_statement,
      {
        Sid       = "AllowCloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "logs" {
  count = local.create_logs_key ? 1 : 0

  name          = "alias/${local.stack}-logs"
  target_key_id = aws_kms_key.logs[0].key_id
}

# RDS storage, automated backups/snapshots and Performance Insights.
resource "aws_kms_key" "rds" {
  count = local.create_database ? 1 : 0

  description             = "${local.stack}: RDS storage and Performance Insights"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.kms_root_statement]
  })
}

resource "aws_kms_alias" "rds" {
  count = local.create_database ? 1 : 0

  name          = "alias/${local.stack}-rds"
  target_key_id = aws_kms_key.rds[0].key_id
}

# ElastiCache at rest (nodes' disks during sync/backup, snapshots).
resource "aws_kms_key" "elasticache" {
  count = local.create_redis ? 1 : 0

  description             = "${local.stack}: ElastiCache at rest"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.kms_root_statement]
  })
}

resource "aws_kms_alias" "elasticache" {
  count = local.create_redis ? 1 : 0

  name          = "alias/${local.stack}-elasticache"
  target_key_id = aws_kms_key.elasticache[0].key_id
}

# Secrets Manager: the RDS-managed master secret and the Redis AUTH token secret. The ECS
# execution roles may use it for kms:Decrypt through Secrets Manager only.
resource "aws_kms_key" "secrets" {
  count = local.create_secrets ? 1 : 0

  description             = "${local.stack}: Secrets Manager secrets"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.kms_root_statement]
  })
}

resource "aws_kms_alias" "secrets" {
  count = local.create_secrets ? 1 : 0

  name          = "alias/${local.stack}-secrets"
  target_key_id = aws_kms_key.secrets[0].key_id
}

locals {
  logs_kms_key_arn    = try(aws_kms_key.logs[0].arn, null)
  secrets_kms_key_arn = try(aws_kms_key.secrets[0].arn, null)
}
