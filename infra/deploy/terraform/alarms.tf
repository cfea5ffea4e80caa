# CloudWatch alarms -> an SNS topic encrypted with the messaging CMK (the key policy lets
# cloudwatch.amazonaws.com use it). Subscribe an e-mail address with var.alarm_email, or
# attach any other subscriber (chat webhook, incident tool) to output alarm_topic_arn.
#
# outbox_backlog and projection_lag_seconds are Prometheus metrics of the service. On ECS the
# ADOT sidecar (ecs.tf, var.enable_metrics_sidecar) publishes them as CloudWatch metrics in
# namespace "Commerce" with one dimension, component = the component name
# (command-api for outbox_backlog, <x>-projector for projection_lag_seconds). Any other
# deployment (e.g. EKS with the CloudWatch agent or ADOT) must publish them the same way for
# these alarms to see data; until then they stay in INSUFFICIENT_DATA.

# The topic keeps its default access policy (this account's principals and CloudWatch alarms
# of this account may publish); the encryption key's policy lets cloudwatch.amazonaws.com use
# the key, which is what an encrypted topic additionally needs.
resource "aws_sns_topic" "alarms" {
  name              = "${local.stack}-alarms"
  kms_master_key_id = aws_kms_key.messaging.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email != null ? 1 : 0

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

# --------------------------------------------------------------------------------------
# Messaging and the service's own metrics
# --------------------------------------------------------------------------------------

# A message in a DLQ is an event a consumer failed MAX_RECEIVES times (or a webhook given up).
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = aws_sqs_queue.dlq

  alarm_name          = "${local.stack}-dlq-${each.key}-not-empty"
  alarm_description   = "Messages are waiting in ${each.value.name}: inspect with `commerce dlq` and redrive once fixed."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "outbox_backlog" {
  alarm_name          = "${local.stack}-outbox-backlog"
  alarm_description   = "More than ${var.outbox_backlog_threshold} outbox rows unpublished for 5 minutes: the relay (command-api) is down, throttled by SNS, or failing."
  namespace           = "Commerce"
  metric_name         = "outbox_backlog"
  dimensions          = { component = "command-api" }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.outbox_backlog_threshold
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "projection_lag" {
  for_each = { for name, c in local.components : name => c if c.metrics == "projection_lag_seconds" }

  alarm_name          = "${local.stack}-${each.key}-projection-lag"
  alarm_description   = "${each.key} is more than ${var.projection_lag_threshold_seconds}s behind the event stream for 5 minutes."
  namespace           = "Commerce"
  metric_name         = "projection_lag_seconds"
  dimensions          = { component = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.projection_lag_threshold_seconds
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --------------------------------------------------------------------------------------
# Load balancer
# --------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  for_each = local.create_ecs ? {
    elb    = "HTTPCode_ELB_5XX_Count"
    target = "HTTPCode_Target_5XX_Count"
  } : {}

  alarm_name          = "${local.stack}-alb-${each.key}-5xx"
  alarm_description   = "More than ${var.alb_5xx_threshold} ${each.value} in 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value
  dimensions          = { LoadBalancer = aws_lb.this[0].arn_suffix }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "alb_p99_latency" {
  count = local.create_ecs ? 1 : 0

  alarm_name          = "${local.stack}-alb-p99-latency"
  alarm_description   = "p99 target response time above ${var.alb_p99_latency_seconds}s for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = aws_lb.this[0].arn_suffix }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_p99_latency_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --------------------------------------------------------------------------------------
# Data stores
# --------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  count = local.create_database ? 1 : 0

  alarm_name          = "${local.stack}-rds-cpu"
  alarm_description   = "RDS CPU above ${var.rds_cpu_threshold_percent}% for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = module.postgres[0].identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.rds_cpu_threshold_percent
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "rds_free_storage" {
  count = local.create_database ? 1 : 0

  alarm_name          = "${local.stack}-rds-free-storage"
  alarm_description   = "RDS free storage below ${var.rds_free_storage_threshold_bytes} bytes (storage autoscaling may be at its maximum)."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = module.postgres[0].identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.rds_free_storage_threshold_bytes
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# One alarm per node; ElastiCache reports memory per cache cluster (node).
resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  count = local.create_redis ? var.redis_num_cache_clusters : 0

  alarm_name          = "${local.stack}-redis-memory-${count.index + 1}"
  alarm_description   = "Redis node memory above ${var.redis_memory_threshold_percent}% for 15 minutes (read models are evicted or writes fail next)."
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = sort(tolist(module.redis[0].member_clusters))[count.index] }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.redis_memory_threshold_percent
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
