output "topic_arn" {
  description = "ARN of the SNS FIFO topic."
  value       = aws_sns_topic.events.arn
}

output "topic_name" {
  description = "Value for COMMERCE_TOPIC."
  value       = aws_sns_topic.events.name
}

output "queue_urls" {
  description = "Consumer queue URLs by short name."
  value       = { for name, q in aws_sqs_queue.consumer : name => q.url }
}

output "queue_arns" {
  description = "Consumer queue ARNs by short name."
  value       = { for name, q in aws_sqs_queue.consumer : name => q.arn }
}

output "dlq_urls" {
  description = "Dead-letter queue URLs by consumer name."
  value       = { for name, q in aws_sqs_queue.dlq : name => q.url }
}

output "dlq_arns" {
  description = "Dead-letter queue ARNs by consumer name."
  value       = { for name, q in aws_sqs_queue.dlq : name => q.arn }
}

output "subscription_arns" {
  description = "SNS subscription ARNs by consumer name."
  value       = { for name, s in aws_sns_topic_subscription.consumer : name => s.arn }
}

output "app_policy_arn" {
  description = "IAM policy to attach to the service's role (null when create_app_policy = false)."
  value       = try(aws_iam_policy.app[0].arn, null)
}

output "service_environment" {
  description = "Non-secret settings for the service's ConfigMap (COMMERCE_AWS_ENDPOINT stays unset on AWS)."
  value = {
    COMMERCE_AWS_REGION   = var.region
    COMMERCE_TOPIC        = aws_sns_topic.events.name
    COMMERCE_QUEUE_PREFIX = local.queue_prefix
  }
}

output "database_address" {
  description = "RDS hostname (null unless create_database)."
  value       = try(module.postgres[0].address, null)
}

output "database_port" {
  value = try(module.postgres[0].port, null)
}

output "database_master_user_secret_arn" {
  description = "Secrets Manager ARN of the RDS master password; build COMMERCE_DATABASE_URL from it."
  value       = try(module.postgres[0].master_user_secret_arn, null)
}

output "redis_url" {
  description = "Value for COMMERCE_REDIS_URL (null unless create_redis)."
  value       = try(module.redis[0].url, null)
}
