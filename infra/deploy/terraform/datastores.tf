# Optional managed data stores, off by default (create_database / create_redis).
#
# NOTE: the current commerce build has no TLS support in its Postgres (sqlx) and Redis
# clients, so these stores accept plain TCP from inside the VPC only (security groups below).
# Once TLS is enabled in the service, set force_ssl / transit encryption on.

locals {
  store_name = lower(replace("${var.name_prefix}-${var.environment}", "_", "-"))
}

module "postgres" {
  source = "./modules/postgres"
  count  = var.create_database ? 1 : 0

  name                       = local.store_name
  vpc_id                     = var.vpc_id
  subnet_ids                 = var.subnet_ids
  allowed_security_group_ids = var.allowed_security_group_ids
  allowed_cidr_blocks        = var.allowed_cidr_blocks
  instance_class             = var.database_instance_class
  allocated_storage          = var.database_allocated_storage
  multi_az                   = var.database_multi_az
  deletion_protection        = var.database_deletion_protection
}

module "redis" {
  source = "./modules/redis"
  count  = var.create_redis ? 1 : 0

  name                       = local.store_name
  vpc_id                     = var.vpc_id
  subnet_ids                 = var.subnet_ids
  allowed_security_group_ids = var.allowed_security_group_ids
  allowed_cidr_blocks        = var.allowed_cidr_blocks
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_num_cache_clusters
}
