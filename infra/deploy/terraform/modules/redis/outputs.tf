output "primary_endpoint_address" {
  value = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "url" {
  description = "Value for COMMERCE_REDIS_URL."
  value       = "${var.transit_encryption ? "rediss" : "redis"}://${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
}

output "security_group_id" {
  value = aws_security_group.this.id
}
