# Least-privilege IAM per component (the deployment contract's table), used three ways:
#  - aws_iam_policy.component[<component>]: the AWS calls that component makes, nothing else.
#    ECS task roles attach it; output component_policy_arns lets EKS (IRSA / Pod Identity)
#    attach the same documents; optional IRSA roles (every component and the migrate Job,
#    plus the KEDA operator) are created below.
#  - per task family, an ECS task EXECUTION role (used by the ECS agent, never visible to the
#    container): pull the image, write the task's own log group, read exactly the secrets
#    injected into that task (+ kms:Decrypt through Secrets Manager only).
#  - read-api and auth make no AWS call: no policy, and no task role at all unless the
#    metrics sidecar runs in them (it does not). On EKS they still get an IRSA role, which only
#    reads their mounted secrets.
#
# What each component calls (source: platform/src/messaging.rs, platform/src/http.rs,
# command-api relay, projections consumers, webhooks, sagas):
#   command-api   sns:Publish(Batch) on the topic (+ KMS data key for the encrypted topic);
#                 its /readyz reads the topic's attributes: sns:GetTopicAttributes on it
#   <x>-projector sqs:GetQueueUrl / ReceiveMessage / DeleteMessage(Batch) /
#                 ChangeMessageVisibility on its own queue (+ kms:Decrypt through SQS)
#   sagas         the same on the order-saga queue (its /readyz looks its queue up)
#   webhooks      sqs:GetQueueUrl + SendMessage on the notifications DLQ (+ KMS data key)

locals {
  policy_components = {
    for name, c in local.components : name => c
    if c.queue != null || name == "command-api" || name == "webhooks"
  }

  sqs_via = "sqs.${var.region}.amazonaws.com"
  sns_via = "sns.${var.region}.amazonaws.com"

  all_queue_arns = concat(
    [for q in aws_sqs_queue.consumer : q.arn],
    [for q in aws_sqs_queue.dlq : q.arn],
  )

  # The consumers' queues must exist in var.queues (enforced by its validation).
  consumer_queue_arn = { for name, c in local.consumers : name => aws_sqs_queue.consumer[c.queue].arn }
}

data "aws_iam_policy_document" "component" {
  for_each = local.policy_components

  dynamic "statement" {
    for_each = each.key == "command-api" ? [1] : []
    content {
      sid       = "PublishToTheEventsTopic"
      actions   = ["sns:Publish", "sns:GetTopicAttributes"]
      resources = [aws_sns_topic.events.arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "command-api" ? [1] : []
    content {
      sid       = "DataKeyForTheEncryptedTopic"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [aws_kms_key.messaging.arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.sns_via]
      }
    }
  }

  dynamic "statement" {
    for_each = each.value.queue != null ? [each.key] : []
    content {
      sid       = "ConsumeOwnQueue"
      actions   = ["sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      resources = [local.consumer_queue_arn[statement.value]]
    }
  }

  dynamic "statement" {
    for_each = each.value.queue != null ? [1] : []
    content {
      sid       = "DecryptOwnQueue"
      actions   = ["kms:Decrypt"]
      resources = [aws_kms_key.messaging.arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.sqs_via]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "webhooks" ? [1] : []
    content {
      sid       = "DeadLetterUndeliverableWebhooks"
      actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq["notifications"].arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "webhooks" ? [1] : []
    content {
      sid       = "DataKeyForTheEncryptedDeadLetterQueue"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [aws_kms_key.messaging.arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.sqs_via]
      }
    }
  }

}

resource "aws_iam_policy" "component" {
  for_each = local.policy_components

  name        = "${local.stack}-${each.key}"
  description = "AWS calls of the commerce ${each.key} component (${var.environment})."
  policy      = data.aws_iam_policy_document.component[each.key].json
}

# --------------------------------------------------------------------------------------
# ECS task roles (what the application's AWS SDK uses)
# --------------------------------------------------------------------------------------

locals {
  metrics_components = { for name, c in local.components : name => c if var.enable_metrics_sidecar && c.metrics != null }

  task_role_components = local.create_ecs ? toset(concat(keys(local.policy_components), keys(local.metrics_components))) : toset([])

  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:${var.region}:${local.account_id}:*" }
      }
    }]
  })
}

resource "aws_iam_role" "task" {
  for_each = local.task_role_components

  name               = "${local.stack}-${each.key}-task"
  description        = "ECS task role of commerce ${each.key}"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy_attachment" "task_component" {
  for_each = { for name, c in local.policy_components : name => c if local.create_ecs }

  role       = aws_iam_role.task[each.key].name
  policy_arn = aws_iam_policy.component[each.key].arn
}

# The ADOT sidecar writes EMF records (outbox_backlog, projection_lag_seconds) to its group.
data "aws_iam_policy_document" "metrics_sidecar" {
  count = local.create_ecs && var.enable_metrics_sidecar ? 1 : 0

  statement {
    sid       = "WriteEmbeddedMetricFormatRecords"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.metrics[0].arn}:*"]
  }
}

resource "aws_iam_policy" "metrics_sidecar" {
  count = local.create_ecs && var.enable_metrics_sidecar ? 1 : 0

  name        = "${local.stack}-metrics-sidecar"
  description = "Lets the ADOT sidecar publish the service's Prometheus metrics as CloudWatch EMF."
  policy      = data.aws_iam_policy_document.metrics_sidecar[0].json
}

resource "aws_iam_role_policy_attachment" "task_metrics" {
  for_each = { for name, c in local.metrics_components : name => c if local.create_ecs }

  role       = aws_iam_role.task[each.key].name
  policy_arn = aws_iam_policy.metrics_sidecar[0].arn
}

# --------------------------------------------------------------------------------------
# ECS task execution roles (used by the ECS agent: image, logs, injected secrets)
# --------------------------------------------------------------------------------------

locals {
  # ECR repository of var.container_image, when it is an ECR image.
  ecr_image_match = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+)", var.container_image), null)
  ecr_repository_arn = local.ecr_image_match == null ? null : format(
    "arn:%s:ecr:%s:%s:repository/%s", local.partition, local.ecr_image_match[1], local.ecr_image_match[0], local.ecr_image_match[2],
  )
}

resource "aws_iam_role" "execution" {
  for_each = local.create_ecs ? toset(local.task_names) : toset([])

  name               = "${local.stack}-${each.key}-exec"
  description        = "ECS task execution role of commerce ${each.key}"
  assume_role_policy = local.ecs_tasks_trust
}

data "aws_iam_policy_document" "execution" {
  for_each = local.create_ecs ? toset(local.task_names) : toset([])

  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.task[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn != null ? [1] : []
    content {
      sid       = "EcrAuthorization"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn != null ? [local.ecr_repository_arn] : []
    content {
      sid       = "PullTheImage"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.task_has_secrets[each.key] ? [1] : []
    content {
      sid       = "ReadInjectedSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.service_secret_arns[each.key]
    }
  }

  dynamic "statement" {
    for_each = local.task_has_secrets[each.key] ? [1] : []
    content {
      sid       = "DecryptInjectedSecrets"
      actions   = ["kms:Decrypt"]
      resources = [local.secrets_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${var.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.create_ecs ? toset(local.task_names) : toset([])

  name   = "pull-log-secrets"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# --------------------------------------------------------------------------------------
# Optional (eks_oidc_provider_arn): IRSA roles for infra/deploy/kubernetes
# --------------------------------------------------------------------------------------
# One role per pod identity of the manifests: every component (ServiceAccount
# commerce-<component> in workloads/<component>.yaml) and the migrate Job (commerce-migrate in
# job-migrate.yaml), named <stack>-<name>-irsa. Each role gets
#  - the component's AWS policy, when it has one (the same document as the ECS task role);
#  - read access to exactly the secrets its pods mount through the Secrets Store CSI driver
#    (kubernetes/secretproviderclasses.yaml), which are the secrets ECS injects into the same
#    task family (local.service_secret_arns): the RDS-managed master secret for all, the Redis
#    AUTH secret for read-api, catalog-projector and cart-projector; kms:Decrypt with the
#    secrets key only through Secrets Manager. The CSI driver's AWS provider reads with the
#    pod's role (GetSecretValue on mount). Its optional rotation reconciler also calls
#    secretsmanager:DescribeSecret, which is not granted: the binary reads the files at start.
# Plus one role for the KEDA operator (keda_operator_service_account), which reads the depth of
# the consumer queues for the ScaledObjects in kubernetes/keda/.

locals {
  create_irsa     = var.eks_oidc_provider_arn != null
  eks_oidc_issuer = var.eks_oidc_provider_arn == null ? null : element(split("oidc-provider/", var.eks_oidc_provider_arn), 1)

  irsa_names = local.create_irsa ? toset(local.task_names) : toset([])

  # The queues the ScaledObjects of kubernetes/keda/ name: each consumer's own queue.
  keda_queue_arns  = [for name, c in local.consumers : aws_sqs_queue.consumer[c.queue].arn]
  create_keda_irsa = local.create_irsa && var.keda_operator_service_account != null
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa_names

  name        = "${local.stack}-${each.key}-irsa"
  description = "IRSA role of commerce ${each.key} (service account ${var.eks_namespace}/commerce-${each.key})"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = var.eks_oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.eks_oidc_issuer}:sub" = "system:serviceaccount:${var.eks_namespace}:commerce-${each.key}"
          "${local.eks_oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "irsa" {
  for_each = { for name, c in local.policy_components : name => c if local.create_irsa }

  role       = aws_iam_role.irsa[each.key].name
  policy_arn = aws_iam_policy.component[each.key].arn
}

data "aws_iam_policy_document" "irsa_secrets" {
  for_each = toset([for name in local.irsa_names : name if local.task_has_secrets[name]])

  statement {
    sid       = "ReadMountedSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.service_secret_arns[each.key]
  }

  statement {
    sid       = "DecryptMountedSecrets"
    actions   = ["kms:Decrypt"]
    resources = [local.secrets_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "irsa_secrets" {
  for_each = data.aws_iam_policy_document.irsa_secrets

  name   = "read-mounted-secrets"
  role   = aws_iam_role.irsa[each.key].id
  policy = each.value.json
}

# The KEDA operator (installed once per cluster; its Helm values
# podIdentity.aws.irsa.enabled=true and podIdentity.aws.irsa.roleArn=<output keda_operator_role_arn>)
# scales the consumers on queue depth with its own identity (TriggerAuthentication
# podIdentity.provider aws, identityOwner keda). It reads queue attributes only, which needs no
# KMS permission even on the SSE-KMS queues.
resource "aws_iam_role" "keda_operator" {
  count = local.create_keda_irsa ? 1 : 0

  name        = "${local.stack}-keda-operator-irsa"
  description = "IRSA role of the KEDA operator (service account ${var.keda_operator_service_account}): depth of the commerce consumer queues"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = var.eks_oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.eks_oidc_issuer}:sub" = "system:serviceaccount:${var.keda_operator_service_account}"
          "${local.eks_oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

data "aws_iam_policy_document" "keda_operator" {
  count = local.create_keda_irsa ? 1 : 0

  statement {
    sid       = "ReadConsumerQueueDepth"
    actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = local.keda_queue_arns
  }
}

resource "aws_iam_role_policy" "keda_operator" {
  count = local.create_keda_irsa ? 1 : 0

  name   = "read-queue-depth"
  role   = aws_iam_role.keda_operator[0].id
  policy = data.aws_iam_policy_document.keda_operator[0].json
}

# --------------------------------------------------------------------------------------
# Legacy: one policy for `commerce up` (every component in one process, which also
# provisions the topic, queues and subscriptions at start). Off by default.
# --------------------------------------------------------------------------------------

data "aws_iam_policy_document" "app" {
  count = var.create_app_policy ? 1 : 0

  statement {
    sid       = "PublishAndProvisionTopic"
    actions   = ["sns:Publish", "sns:GetTopicAttributes", "sns:CreateTopic", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:SetSubscriptionAttributes"]
    resources = [aws_sns_topic.events.arn]
  }

  statement {
    sid = "ConsumeAndProvisionQueues"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:SendMessage",
      "sqs:CreateQueue",
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
      "sqs:SetQueueAttributes",
    ]
    resources = local.all_queue_arns
  }

  statement {
    sid       = "EncryptedTopicAndQueues"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.messaging.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.sns_via, local.sqs_via]
    }
  }

}

resource "aws_iam_policy" "app" {
  count = var.create_app_policy ? 1 : 0

  name        = "${var.name_prefix}-app-messaging"
  description = "SNS/SQS permissions of `commerce up` (all components in one process, ${var.environment})."
  policy      = data.aws_iam_policy_document.app[0].json
}
