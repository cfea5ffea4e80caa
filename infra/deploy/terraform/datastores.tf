# Managed data stores: on when vpc_id is set (create_database / create_redis override it).
# Both take connections over TLS only; see modules/postgres and modules/redis for the
# encryption and secret design. The ECS tasks' security groups get ingress rules here
# (network.tf creates the groups), so the modules' for_each stays on static inputs.

module "postgres" {
  source = "./modules/postgres"
  count  = local.create_database ? 1 : 0

  name                           = local.stack
  vpc_id                         = var.vpc_id
  subnet_ids                     = var.subnet_ids
  allowed_security_group_ids     = var.allowed_security_group_ids
  allowed_cidr_blocks            = var.allowed_cidr_blocks
  instance_class                 = var.database_instance_class
  allocated_storage              = var.database_allocated_storage
  multi_az                       = var.database_multi_az
  deletion_protection            = var.database_deletion_protection
  backup_retention_period        = var.database_backup_retention_days
  kms_key_arn                    = aws_kms_key.rds[0].arn
  master_user_secret_kms_key_arn = aws_kms_key.secrets[0].arn
  logs_kms_key_arn               = aws_kms_key.logs[0].arn
  log_retention_days             = var.log_retention_days
}

module "redis" {
  source = "./modules/redis"
  count  = local.create_redis ? 1 : 0

  name                       = local.stack
  vpc_id                     = var.vpc_id
  subnet_ids                 = var.subnet_ids
  allowed_security_group_ids = var.allowed_security_group_ids
  allowed_cidr_blocks        = var.allowed_cidr_blocks
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_num_cache_clusters
  kms_key_arn                = aws_kms_key.elasticache[0].arn
  secrets_kms_key_arn        = aws_kms_key.secrets[0].arn
  logs_kms_key_arn           = aws_kms_key.logs[0].arn
  log_retention_days         = var.log_retention_days
}

# Every ECS task reaches Postgres (the one-off migrate task included).
resource "aws_vpc_security_group_ingress_rule" "postgres_from_tasks" {
  for_each = local.create_ecs && local.create_database ? toset(local.task_names) : toset([])

  security_group_id            = module.postgres[0].security_group_id
  description                  = "PostgreSQL (TLS) from the ${each.key} ECS tasks"
  referenced_security_group_id = aws_security_group.task[each.key].id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

# Only the Redis users (read-api, catalog-projector, cart-projector) reach Redis.
resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  for_each = local.create_ecs && local.create_redis ? toset([for name, c in local.components : name if c.redis]) : toset([])

  security_group_id            = module.redis[0].security_group_id
  description                  = "Redis (TLS) from the ${each.key} ECS tasks"
  referenced_security_group_id = aws_security_group.task[each.key].id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}
