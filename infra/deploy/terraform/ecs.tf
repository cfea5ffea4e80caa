# ECS on Fargate: one service per component (`commerce serve <component>`), plus the one-off
# `commerce migrate` task definition. Tasks run in the private subnets without public IPs,
# as uid/gid 10001 with a read-only root filesystem (a task-local volume on /tmp), no Linux
# capabilities, logs to a KMS-encrypted group. Secrets are injected by ECS from Secrets
# Manager (never in the task definition); everything else is plain environment
# (locals.tf: service_environment).
#
# First deployment, in order:
#   1. terraform apply
#   2. run the migrate task once (output migrate_run_task_command); again before each rollout
#   3. scripts/rotate-redis-auth-token.sh: gives the Redis AUTH token secret its value and
#      redeploys the Redis users (read-api, catalog-projector, cart-projector)
#   4. the other services converge on their own once the schema exists (ECS retries); if a
#      deployment's circuit breaker gave up meanwhile, `aws ecs update-service
#      --force-new-deployment` restarts it.

resource "aws_cloudwatch_log_group" "task" {
  for_each = local.create_ecs ? toset(local.task_names) : toset([])

  name              = "/ecs/${local.stack}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.logs_kms_key_arn
}

resource "aws_cloudwatch_log_group" "exec" {
  count = local.create_ecs ? 1 : 0

  name              = "/ecs/${local.stack}/execute-command"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.logs_kms_key_arn
}

# Where the metrics sidecar writes EMF records; CloudWatch extracts the metrics (namespace
# Commerce) from them.
resource "aws_cloudwatch_log_group" "metrics" {
  count = local.create_ecs && var.enable_metrics_sidecar ? 1 : 0

  name              = "/ecs/${local.stack}/metrics"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.logs_kms_key_arn
}

resource "aws_ecs_cluster" "this" {
  count = local.create_ecs ? 1 : 0

  name = local.stack

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS Exec stays disabled on every service; should an operator enable it, sessions are
  # encrypted and logged.
  configuration {
    execute_command_configuration {
      kms_key_id = local.logs_kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec[0].name
      }
    }
  }

  lifecycle {
    precondition {
      condition     = local.create_database && local.create_redis
      error_message = "create_ecs needs the database and Redis of this configuration (create_database and create_redis)."
    }
    precondition {
      condition     = var.container_image != null
      error_message = "create_ecs needs container_image."
    }
    precondition {
      condition     = length(var.subnet_ids) >= 2 && length(var.public_subnet_ids) >= 2
      error_message = "create_ecs needs subnet_ids (private) and public_subnet_ids (for the ALB), each in at least two availability zones."
    }
    precondition {
      condition     = var.certificate_arn != null
      error_message = "create_ecs needs certificate_arn (ACM certificate for the HTTPS listener)."
    }
    precondition {
      condition     = local.jwks_url != null
      error_message = "create_ecs needs public_hostname (or jwks_url): the APIs fetch the auth service's keys from it."
    }
    precondition {
      condition     = var.payment_url != null
      error_message = "create_ecs needs payment_url (COMMERCE_PAYMENT_URL of the sagas)."
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  count = local.create_ecs ? 1 : 0

  cluster_name       = aws_ecs_cluster.this[0].name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  # GET /healthz on the component's own port, spoken through bash's /dev/tcp (the runtime
  # image has no curl).
  health_check_script = "exec 3<>/dev/tcp/127.0.0.1/%d && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"

  # AWS Distro for OpenTelemetry: scrape the component's /metrics every 30 s, publish the
  # alarmed metrics as CloudWatch EMF under namespace Commerce with dimension `component`.
  metrics_sidecar_config = {
    for name, c in local.metrics_components : name => yamlencode({
      receivers = {
        prometheus = {
          config = {
            scrape_configs = [{
              job_name        = "commerce"
              scrape_interval = "30s"
              scrape_timeout  = "10s"
              metrics_path    = "/metrics"
              static_configs = [{
                targets = ["127.0.0.1:${c.port}"]
                labels  = { component = name }
              }]
            }]
          }
        }
      }
      exporters = {
        awsemf = {
          namespace               = "Commerce"
          log_group_name          = try(aws_cloudwatch_log_group.metrics[0].name, "")
          log_stream_name         = name
          region                  = var.region
          dimension_rollup_option = "NoDimensionRollup"
          metric_declarations = [{
            dimensions            = [["component"]]
            metric_name_selectors = ["^${c.metrics}"]
          }]
        }
      }
      service = {
        pipelines = {
          metrics = {
            receivers = ["prometheus"]
            exporters = ["awsemf"]
          }
        }
      }
    })
  }

  container_definitions = {
    for name in local.task_names : name => concat(
      [merge(
        {
          name                   = "commerce"
          image                  = var.container_image
          essential              = true
          command                = name == "migrate" ? ["migrate"] : ["serve", name]
          user                   = "10001:10001"
          readonlyRootFilesystem = true
          privileged             = false
          environment            = [for key in sort(keys(local.service_environment[name])) : { name = key, value = local.service_environment[name][key] }]
          secrets                = [for key in sort(keys(local.service_secrets[name])) : { name = key, valueFrom = local.service_secrets[name][key] }]
          mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
          linuxParameters        = { capabilities = { drop = ["ALL"] } }
          stopTimeout            = 30
          logConfiguration = {
            logDriver = "awslogs"
            options = {
              awslogs-group         = "/ecs/${local.stack}/${name}"
              awslogs-region        = var.region
              awslogs-stream-prefix = "commerce"
            }
          }
        },
        # Long-running components listen and are health-checked; migrate only runs and exits.
        {
          for key, value in {
            portMappings = [{ containerPort = try(local.components[name].port, 0), protocol = "tcp" }]
            healthCheck = {
              command     = ["CMD", "bash", "-c", format(local.health_check_script, try(local.components[name].port, 0))]
              interval    = 15
              timeout     = 5
              retries     = 3
              startPeriod = 60
            }
          } : key => value if name != "migrate"
        },
      )],
      contains(keys(local.metrics_components), name) ? [{
        name                   = "metrics"
        image                  = var.metrics_sidecar_image
        essential              = false
        readonlyRootFilesystem = true
        privileged             = false
        environment            = [{ name = "AOT_CONFIG_CONTENT", value = lookup(local.metrics_sidecar_config, name, "") }]
        mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
        linuxParameters        = { capabilities = { drop = ["ALL"] } }
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = "/ecs/${local.stack}/${name}"
            awslogs-region        = var.region
            awslogs-stream-prefix = "metrics"
          }
        }
      }] : [],
    )
  }
}

resource "aws_ecs_task_definition" "this" {
  for_each = local.create_ecs ? toset(local.task_names) : toset([])

  family                   = "${local.stack}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(local.task_sizes[each.key].cpu)
  memory                   = tostring(local.task_sizes[each.key].memory)
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = contains(local.task_role_components, each.key) ? aws_iam_role.task[each.key].arn : null
  container_definitions    = jsonencode(local.container_definitions[each.key])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Task-local scratch space for /tmp (the root filesystem is read-only).
  volume {
    name = "tmp"
  }

  depends_on = [aws_cloudwatch_log_group.task, aws_iam_role_policy.execution]
}

resource "aws_ecs_service" "this" {
  for_each = { for name, c in local.components : name => c if local.create_ecs }

  name             = each.key
  cluster          = aws_ecs_cluster.this[0].id
  task_definition  = aws_ecs_task_definition.this[each.key].arn
  desired_count    = local.scaling[each.key].min
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  enable_execute_command  = false
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = each.value.public ? 60 : null

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.task[each.key].id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.value.public ? [each.value.port] : []
    content {
      target_group_arn = aws_lb_target_group.this[each.key].arn
      container_name   = "commerce"
      container_port   = load_balancer.value
    }
  }

  # Autoscaling owns the running count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [
    aws_lb_listener.https,
    aws_iam_role_policy_attachment.task_component,
    aws_iam_role_policy_attachment.task_metrics,
  ]
}
