# WAFv2 web ACL on the ALB: AWS managed rule groups (IP reputation, core rule set, known bad
# inputs incl. Log4j) and a per-IP rate limit. The core rule set's 8 KB body limit is only
# counted, because the API accepts bodies up to COMMERCE_MAX_BODY_BYTES (64 KiB by default)
# and enforces that itself (413).

resource "aws_wafv2_web_acl" "this" {
  count = local.create_ecs && var.create_waf ? 1 : 0

  name        = "${local.stack}-alb"
  description = "Managed rules and rate limit in front of the ${local.stack} API"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "aws-ip-reputation"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAmazonIpReputationList"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.stack}-ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-common"
    priority = 20

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"

        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.stack}-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.stack}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 40

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.stack}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.stack}-alb"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "alb" {
  count = local.create_ecs && var.create_waf ? 1 : 0

  resource_arn = aws_lb.this[0].arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}

# WAF requires the "aws-waf-logs-" prefix on its log group.
resource "aws_cloudwatch_log_group" "waf" {
  count = local.create_ecs && var.create_waf ? 1 : 0

  name              = "aws-waf-logs-${local.stack}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.logs_kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count = local.create_ecs && var.create_waf ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]

  # Never log credentials.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }
}
