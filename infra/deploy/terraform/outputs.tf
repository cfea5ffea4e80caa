# ---------------------------------------------------------------------------------------
# Messaging
# ---------------------------------------------------------------------------------------

output "topic_arn" {
  description = "ARN of the SNS FIFO topic (COMMERCE_TOPIC_ARN of command-api)."
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

# ---------------------------------------------------------------------------------------
# Configuration of the components
# ---------------------------------------------------------------------------------------

output "service_environment" {
  description = "Non-secret environment per component (and the one-off `migrate`): the ECS task definitions use exactly this; deploy.yml fills the Kubernetes ConfigMaps' COMMERCE_DATABASE_URL / COMMERCE_REDIS_URL placeholders from it. COMMERCE_AWS_ENDPOINT stays unset on AWS."
  value       = local.service_environment
}

output "service_secrets" {
  description = "Secret environment per component: variable => Secrets Manager reference (\"<arn>:password::\" selects the JSON key of the RDS-managed secret). No secret value is in the state."
  value       = local.service_secrets
}

output "database_master_user_secret_arn" {
  description = "Secrets Manager secret (JSON {username, password}, managed and rotated by RDS) behind COMMERCE_DATABASE_PASSWORD (ECS: valueFrom \"<arn>:password::\"; Kubernetes: the CSI SecretProviderClasses mount its password key, deploy.yml fills in the ARN)."
  value       = local.database_secret_arn
}

output "redis_auth_token_secret_arn" {
  description = "Secrets Manager secret behind COMMERCE_REDIS_PASSWORD (ECS) and COMMERCE_REDIS_PASSWORD_FILE (Kubernetes, mounted through the CSI driver; deploy.yml fills in the ARN); empty until scripts/rotate-redis-auth-token.sh runs (see modules/redis/main.tf)."
  value       = local.redis_secret_arn
}

output "database_address" {
  description = "RDS hostname (null unless the database is created)."
  value       = local.database_address
}

output "database_port" {
  description = "RDS port (null unless the database is created)."
  value       = try(module.postgres[0].port, null)
}

output "database_url" {
  description = "COMMERCE_DATABASE_URL without password (TLS verify-full); the password comes from COMMERCE_DATABASE_PASSWORD."
  value       = local.database_url
}

output "redis_replication_group_id" {
  description = "ElastiCache replication group id (argument of scripts/rotate-redis-auth-token.sh)."
  value       = try(module.redis[0].replication_group_id, null)
}

output "redis_primary_endpoint" {
  description = "ElastiCache primary endpoint (TLS on 6379)."
  value       = local.redis_address
}

output "redis_url" {
  description = "COMMERCE_REDIS_URL (rediss://, no credentials); the AUTH token comes from COMMERCE_REDIS_PASSWORD."
  value       = local.redis_url
}

# ---------------------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------------------

output "component_policy_arns" {
  description = "Least-privilege IAM policy per component that calls AWS (read-api and auth need none). Attached to the ECS task roles and, with eks_oidc_provider_arn, to the IRSA roles (done here); usable for an EKS Pod Identity role too."
  value       = { for name, p in aws_iam_policy.component : name => p.arn }
}

output "irsa_role_arns" {
  description = "IRSA role per component and for `migrate` (deploy.yml puts each into the eks.amazonaws.com/role-arn annotation of ServiceAccount commerce-<name>); empty unless eks_oidc_provider_arn is set."
  value       = { for name, r in aws_iam_role.irsa : name => r.arn }
}

output "keda_operator_role_arn" {
  description = "IRSA role of the KEDA operator (its Helm value podIdentity.aws.irsa.roleArn); null unless eks_oidc_provider_arn and keda_operator_service_account are set."
  value       = try(aws_iam_role.keda_operator[0].arn, null)
}

output "ecs_task_role_arns" {
  description = "ECS task role per component (only components that call AWS or run the metrics sidecar have one)."
  value       = { for name, r in aws_iam_role.task : name => r.arn }
}

output "ecs_execution_role_arns" {
  description = "ECS task execution role per task family."
  value       = { for name, r in aws_iam_role.execution : name => r.arn }
}

output "app_policy_arn" {
  description = "Legacy all-in-one policy for `commerce up` (null unless create_app_policy)."
  value       = try(aws_iam_policy.app[0].arn, null)
}

output "kms_key_arns" {
  description = "Customer-managed KMS keys by purpose."
  value = {
    messaging   = aws_kms_key.messaging.arn
    logs        = local.logs_kms_key_arn
    rds         = try(aws_kms_key.rds[0].arn, null)
    elasticache = try(aws_kms_key.elasticache[0].arn, null)
    secrets     = local.secrets_kms_key_arn
  }
}

# ---------------------------------------------------------------------------------------
# ECS / ALB / alarms
# ---------------------------------------------------------------------------------------

output "alb_dns_name" {
  description = "DNS name of the ALB (point public_hostname at it, or let route53_zone_id do it)."
  value       = try(aws_lb.this[0].dns_name, null)
}

output "alb_zone_id" {
  description = "Hosted zone id of the ALB, for an alias record elsewhere."
  value       = try(aws_lb.this[0].zone_id, null)
}

output "ecs_cluster_name" {
  description = "ECS cluster name."
  value       = try(aws_ecs_cluster.this[0].name, null)
}

output "ecs_service_names" {
  description = "ECS service per component."
  value       = { for name, s in aws_ecs_service.this : name => s.name }
}

output "migrate_task_definition_arn" {
  description = "Task definition of the one-off `commerce migrate`."
  value       = try(aws_ecs_task_definition.this["migrate"].arn, null)
}

output "migrate_run_task_command" {
  description = "AWS CLI command that runs the migrations once (before a rollout); wait for the task to stop with exit code 0."
  value = local.create_ecs ? join(" ", [
    "aws ecs run-task --region ${var.region}",
    "--cluster ${aws_ecs_cluster.this[0].name}",
    "--launch-type FARGATE",
    "--task-definition ${aws_ecs_task_definition.this["migrate"].family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.subnet_ids)}],securityGroups=[${aws_security_group.task["migrate"].id}],assignPublicIp=DISABLED}'",
  ]) : null
}

# deploy.yml (DEPLOY_TARGET=ecs) runs the migrations from this after a targeted apply of the
# cluster, the migrate task definition and the migrate security group. It refers only to those
# resources, so Terraform updates it in that targeted apply too.
output "migrate_run_task" {
  description = "Arguments of `aws ecs run-task` for the one-off `commerce migrate`: cluster, task definition ARN (this revision) and the network configuration as the CLI's JSON. null unless create_ecs."
  value = local.create_ecs ? {
    cluster             = aws_ecs_cluster.this[0].name
    task_definition_arn = aws_ecs_task_definition.this["migrate"].arn
    network_configuration = {
      awsvpcConfiguration = {
        subnets        = var.subnet_ids
        securityGroups = [aws_security_group.task["migrate"].id]
        assignPublicIp = "DISABLED"
      }
    }
  } : null
}

output "container_image" {
  description = "Image the ECS task definitions run (container_image; null on the EKS path). terraform-plan.yml plans pull requests with the deployed one, so their plans show no image change."
  value       = var.container_image
}

output "alarm_topic_arn" {
  description = "SNS topic (KMS-encrypted) that every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}
