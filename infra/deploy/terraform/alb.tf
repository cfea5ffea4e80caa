# Public entry: an internet-facing ALB in the public subnets. HTTPS only (443, TLS 1.3/1.2
# policy, ACM certificate); port 80 answers a redirect to 443. TLS ends at the ALB; the
# ALB -> task hop is HTTP inside the VPC, limited by security groups to the ALB's group.
#
# Routing (first match by priority; paths from the public HTTP API reference, API v1):
#   10  /metrics, /readyz                    -> 404 (operational endpoints stay internal;
#                                               ALB health checks go to targets directly)
#   20+ /v1/auth/*, /v1/users*, /v1/audit*, /.well-known/*          -> auth
#   30+ GET|HEAD /v1/catalog/*, /v1/carts/*, /v1/orders*, /v1/vendors/*, /vendor/dashboard*,
#       /v1/analytics/*, /v1/events*                                -> read-api
#   default (every other path and method, e.g. POST /v1/carts, /docs) -> command-api
# The rule to keep: reads (GET/HEAD) of read-model paths go to read-api, everything else to
# command-api. An ALB rule holds at most five condition values, so the path lists are split
# into rules of three.

locals {
  auth_paths = ["/v1/auth/*", "/v1/users*", "/v1/audit*", "/.well-known/*"]
  read_paths = ["/v1/catalog/*", "/v1/carts/*", "/v1/orders*", "/v1/vendors/*", "/vendor/dashboard*", "/v1/analytics/*", "/v1/events*"]

  auth_rules = { for i, paths in chunklist(local.auth_paths, 3) : tostring(i) => paths }
  read_rules = { for i, paths in chunklist(local.read_paths, 3) : tostring(i) => paths }

  target_group_suffix = { "command-api" = "cmd", "read-api" = "read", "auth" = "auth" }
}

# --------------------------------------------------------------------------------------
# Access logs bucket
# --------------------------------------------------------------------------------------

data "aws_elb_service_account" "this" {
  count = local.create_ecs ? 1 : 0
}

resource "aws_s3_bucket" "alb_logs" {
  #checkov:skip=CKV_AWS_145:ALB access logs can only be delivered to SSE-S3 (AES256) buckets, not SSE-KMS
  #checkov:skip=CKV_AWS_18:this bucket is the access-log destination itself; logging it into another bucket would recurse
  #checkov:skip=CKV_AWS_144:access logs are regional diagnostics kept 1 year; cross-region replication adds cost without a recovery need
  count = local.create_ecs ? 1 : 0

  bucket = "${local.stack}-alb-logs-${local.account_id}"
}

resource "aws_s3_bucket_ownership_controls" "alb_logs" {
  count = local.create_ecs ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  count = local.create_ecs ? 1 : 0

  bucket                  = aws_s3_bucket.alb_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "alb_logs" {
  count = local.create_ecs ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  count = local.create_ecs ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  count = local.create_ecs ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# Object-created events go to EventBridge (no consumer by default; lets security tooling
# subscribe without changing the bucket).
resource "aws_s3_bucket_notification" "alb_logs" {
  count = local.create_ecs ? 1 : 0

  bucket      = aws_s3_bucket.alb_logs[0].id
  eventbridge = true
}

resource "aws_s3_bucket_policy" "alb_logs" {
  count = local.create_ecs ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Regions older than August 2022 deliver with the regional ELB account ...
        Sid       = "ElbLogDeliveryRegionalAccount"
        Effect    = "Allow"
        Principal = { AWS = data.aws_elb_service_account.this[0].arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.alb_logs[0].arn}/alb/AWSLogs/${local.account_id}/*"
      },
      {
        # ... newer regions with the log delivery service principal.
        Sid       = "ElbLogDeliveryServicePrincipal"
        Effect    = "Allow"
        Principal = { Service = "logdelivery.elasticloadbalancing.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.alb_logs[0].arn}/alb/AWSLogs/${local.account_id}/*"
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.alb_logs[0].arn, "${aws_s3_bucket.alb_logs[0].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.alb_logs]
}

# --------------------------------------------------------------------------------------
# Load balancer, target groups, listeners, rules
# --------------------------------------------------------------------------------------

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_76:Log4j is covered by AWSManagedRulesKnownBadInputsRuleSet (waf.tf); the check also demands AnonymousIpList, which would block VPN users and vendors' cloud-hosted integrations
  count = local.create_ecs ? 1 : 0

  name                       = "${substr(local.stack, 0, 28)}-alb"
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb[0].id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  idle_timeout               = 60

  access_logs {
    bucket  = aws_s3_bucket.alb_logs[0].id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; the binary serves plain HTTP and the ALB -> task hop stays inside the VPC, restricted to the ALB's security group
  for_each = { for name, c in local.public : name => c if local.create_ecs }

  name                 = "${substr(local.stack, 0, 22)}-${local.target_group_suffix[each.key]}"
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = "/readyz"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  count = local.create_ecs ? 1 : 0

  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.alb_ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this["command-api"].arn
  }
}

resource "aws_lb_listener" "http" {
  count = local.create_ecs ? 1 : 0

  load_balancer_arn = aws_lb.this[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener_rule" "hide_operational_endpoints" {
  count = local.create_ecs ? 1 : 0

  listener_arn = aws_lb_listener.https[0].arn
  priority     = 10

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Not Found"
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = ["/metrics", "/readyz"]
    }
  }
}

resource "aws_lb_listener_rule" "auth" {
  for_each = local.create_ecs ? local.auth_rules : {}

  listener_arn = aws_lb_listener.https[0].arn
  priority     = 20 + tonumber(each.key)

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this["auth"].arn
  }

  condition {
    path_pattern {
      values = each.value
    }
  }
}

resource "aws_lb_listener_rule" "read_api" {
  for_each = local.create_ecs ? local.read_rules : {}

  listener_arn = aws_lb_listener.https[0].arn
  priority     = 30 + tonumber(each.key)

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this["read-api"].arn
  }

  condition {
    http_request_method {
      values = ["GET", "HEAD"]
    }
  }

  condition {
    path_pattern {
      values = each.value
    }
  }
}

resource "aws_route53_record" "public" {
  count = local.create_ecs && var.route53_zone_id != null && var.public_hostname != null ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.public_hostname
  type    = "A"

  alias {
    name                   = aws_lb.this[0].dns_name
    zone_id                = aws_lb.this[0].zone_id
    evaluate_target_health = true
  }
}
