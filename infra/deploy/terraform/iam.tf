# Exactly what the service calls (platform/src/messaging.rs, command-api relay, projections):
#  - publish: sns:Publish (PublishBatch)
#  - consume: sqs:ReceiveMessage, sqs:DeleteMessage (DeleteMessageBatch), sqs:ChangeMessageVisibility
#  - provision at start-up (idempotent): sns:CreateTopic, sns:Subscribe, sqs:CreateQueue,
#    sqs:GetQueueUrl, sqs:GetQueueAttributes, sqs:SetQueueAttributes
#  - /readyz: sns:ListTopics, sqs:ListQueues (account-wide actions, resource "*")
# Attach it to the IAM role the pods assume (IRSA or EKS Pod Identity).

locals {
  all_queue_arns = concat(
    [for q in aws_sqs_queue.consumer : q.arn],
    [for q in aws_sqs_queue.dlq : q.arn],
  )
}

data "aws_iam_policy_document" "app" {
  count = var.create_app_policy ? 1 : 0

  statement {
    sid       = "PublishAndProvisionTopic"
    actions   = ["sns:Publish", "sns:CreateTopic", "sns:Subscribe"]
    resources = [aws_sns_topic.events.arn]
  }

  statement {
    sid = "ConsumeAndProvisionQueues"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:CreateQueue",
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
      "sqs:SetQueueAttributes",
    ]
    resources = local.all_queue_arns
  }

  statement {
    sid       = "ReadinessChecks"
    actions   = ["sns:ListTopics", "sqs:ListQueues"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "app" {
  count = var.create_app_policy ? 1 : 0

  name        = "${var.name_prefix}-app-messaging"
  description = "SNS/SQS permissions of the commerce service (${var.environment})."
  policy      = data.aws_iam_policy_document.app[0].json
}
