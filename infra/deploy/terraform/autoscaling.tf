# Service autoscaling (Application Auto Scaling on ecs:service:DesiredCount), min/max per
# component from local.scaling (var.service_scaling over the defaults in locals.tf):
#  - command-api, read-api, auth: target tracking on the service's average CPU;
#  - each projector and sagas: target tracking on the backlog per task, i.e. the queue's
#    ApproximateNumberOfMessagesVisible divided by the service's RunningTaskCount (Container
#    Insights), with metric math in the customized metric specification;
#  - webhooks: fixed count (min), since deliveries are claimed with SKIP LOCKED and more
#    senders mostly add contention.

locals {
  autoscaled = { for name, c in local.components : name => c if local.create_ecs && c.scaling != "fixed" }
}

resource "aws_appautoscaling_target" "this" {
  for_each = local.autoscaled

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this[0].name}/${aws_ecs_service.this[each.key].name}"
  min_capacity       = local.scaling[each.key].min
  max_capacity       = local.scaling[each.key].max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each = { for name, c in local.autoscaled : name => c if c.scaling == "cpu" }

  name               = "${local.stack}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_cpu_target_percent
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "backlog" {
  for_each = { for name, c in local.autoscaled : name => c if c.scaling == "queue" }

  name               = "${local.stack}-${each.key}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.queue_backlog_per_task_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      metrics {
        id          = "backlog_per_task"
        label       = "Visible messages of ${aws_sqs_queue.consumer[each.value.queue].name} per running ${each.key} task"
        expression  = "visible / IF(running < 1, 1, running)"
        return_data = true
      }

      metrics {
        id          = "visible"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"

            dimensions {
              name  = "QueueName"
              value = aws_sqs_queue.consumer[each.value.queue].name
            }
          }
        }
      }

      metrics {
        id          = "running"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this[0].name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.this[each.key].name
            }
          }
        }
      }
    }
  }
}
