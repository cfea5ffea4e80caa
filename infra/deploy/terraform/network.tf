# Security groups of the ECS path. One group per task family, so each rule names exactly one
# component. Egress is limited to what the components need:
#   443/tcp  anywhere      AWS APIs over their public endpoints (ECR, Secrets Manager,
#                          CloudWatch Logs, SNS, SQS), the JWKS URL, vendors' webhook URLs,
#                          the payment provider (through the NAT gateway or VPC endpoints)
#   5432/tcp Postgres SG   every task
#   6379/tcp Redis SG      read-api, catalog-projector, cart-projector
# DNS to the VPC resolver is not subject to security groups.

resource "aws_security_group" "task" {
  for_each = local.create_ecs ? toset(local.task_names) : toset([])

  name        = "${local.stack}-${each.key}"
  description = "ECS tasks of ${local.stack} ${each.key}"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  for_each = aws_security_group.task

  security_group_id = each.value.id
  description       = "HTTPS to AWS service endpoints, the JWKS URL and external HTTPS endpoints"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "task_postgres" {
  for_each = { for name, sg in aws_security_group.task : name => sg if local.create_database }

  security_group_id            = each.value.id
  description                  = "PostgreSQL (TLS) to the RDS instance"
  referenced_security_group_id = module.postgres[0].security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_egress_rule" "task_redis" {
  for_each = { for name, sg in aws_security_group.task : name => sg if local.create_redis && try(local.components[name].redis, false) }

  security_group_id            = each.value.id
  description                  = "Redis (TLS) to the ElastiCache replication group"
  referenced_security_group_id = module.redis[0].security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  for_each = { for name, c in local.public : name => c if local.create_ecs }

  security_group_id            = aws_security_group.task[each.key].id
  description                  = "HTTP ${each.value.port} from the ALB (TLS ends at the ALB)"
  referenced_security_group_id = aws_security_group.alb[0].id
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_security_group" "alb" {
  count = local.create_ecs ? 1 : 0

  name        = "${local.stack}-alb"
  description = "Public ALB of ${local.stack}: 443 (and 80, redirect only) in, the API tasks out"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = local.create_ecs ? toset(var.alb_ingress_cidrs) : toset([])

  security_group_id = aws_security_group.alb[0].id
  description       = "HTTPS from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  # Port 80 only answers a 301 redirect to HTTPS (aws_lb_listener.http).
  for_each = local.create_ecs ? toset(var.alb_ingress_cidrs) : toset([])

  security_group_id = aws_security_group.alb[0].id
  description       = "HTTP from ${each.value}, redirected to HTTPS by the listener"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  for_each = { for name, c in local.public : name => c if local.create_ecs }

  security_group_id            = aws_security_group.alb[0].id
  description                  = "HTTP ${each.value.port} to the ${each.key} tasks"
  referenced_security_group_id = aws_security_group.task[each.key].id
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}
