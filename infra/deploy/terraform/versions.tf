terraform {
  # 1.5: `check` blocks and `import` blocks; every other construct here is older.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.40+: target-tracking `metrics` (metric math) on aws_appautoscaling_policy,
      # `auth_token_update_strategy` on aws_elasticache_replication_group and
      # `rule_action_override` on WAFv2 managed rule groups are all present.
      version = "~> 5.40"
    }
  }

  # No backend is configured here on purpose. Add one per environment outside version
  # control or with partial configuration, e.g.
  #   terraform init -backend-config=backend.hcl
  # with an S3 bucket (SSE-KMS, versioned) + a lock table; never commit credentials.
  # The state holds no secret value (see modules/redis/main.tf for the one bootstrap value).
}
