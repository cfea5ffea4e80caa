output "replication_group_id" {
  description = "Replication group id."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint_address" {
  description = "Primary endpoint (TLS)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "url" {
  description = "Value for COMMERCE_REDIS_URL (TLS, no credentials: COMMERCE_REDIS_PASSWORD comes from the AUTH token secret)."
  value       = "rediss://${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
}

output "member_clusters" {
  description = "Node (cache cluster) ids, for per-node CloudWatch alarms."
  value       = aws_elasticache_replication_group.this.member_clusters
}

output "auth_token_secret_arn" {
  description = "Secrets Manager secret that holds the AUTH token (empty until scripts/rotate-redis-auth-token.sh runs)."
  value       = aws_secretsmanager_secret.auth_token.arn
}

output "security_group_id" {
  description = "Security group of the replication group (add ingress rules for client groups)."
  value       = aws_security_group.this.id
}
