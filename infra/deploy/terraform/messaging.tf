# SNS FIFO topic -> one SQS FIFO queue (+ DLQ) per consumer, filtered by aggregate type.
#
# This mirrors platform/src/messaging.rs exactly (QueueSpec filter policies incl. the saga's
# event_type filter, MAX_RECEIVES, VISIBILITY_TIMEOUT_SECS, 14-day retention, raw delivery,
# the queue policy). On AWS the services only look these up (COMMERCE_TOPIC_ARN, GetQueueUrl);
# `commerce up` / `commerce infra provision` would create the same resources idempotently, and
# AWS only treats CreateTopic / CreateQueue / Subscribe as no-ops when the attributes they pass
# match. Encryption is SSE-KMS with the messaging CMK (kms.tf); the service passes no
# encryption attribute, so that does not conflict.

resource "aws_sns_topic" "events" {
  name                        = local.topic_name
  fifo_topic                  = true
  content_based_deduplication = false # the relay sets an explicit deduplication id per event
  kms_master_key_id           = aws_kms_key.messaging.arn
}

resource "aws_sqs_queue" "dlq" {
  for_each = var.queues

  name                        = "${local.queue_prefix}${each.key}-dlq.fifo"
  fifo_queue                  = true
  content_based_deduplication = false
  message_retention_seconds   = var.message_retention_seconds

  kms_master_key_id                 = aws_kms_key.messaging.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "consumer" {
  for_each = var.queues

  name                        = "${local.queue_prefix}${each.key}.fifo"
  fifo_queue                  = true
  content_based_deduplication = false
  visibility_timeout_seconds  = var.visibility_timeout_seconds
  message_retention_seconds   = var.message_retention_seconds

  kms_master_key_id                 = aws_kms_key.messaging.arn
  kms_data_key_reuse_period_seconds = 300

  # High-throughput FIFO (see README): per-message-group throughput and deduplication.
  deduplication_scope   = var.high_throughput_fifo ? "messageGroup" : "queue"
  fifo_throughput_limit = var.high_throughput_fifo ? "perMessageGroupId" : "perQueue"

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the matching consumer queue may use each DLQ (and redrive back into it).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.consumer[each.key].arn]
  })
}

# Let the topic (and only the topic) deliver to the queue. Same document the service sets.
resource "aws_sqs_queue_policy" "consumer" {
  for_each = var.queues

  queue_url = aws_sqs_queue.consumer[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.consumer[each.key].arn
      Condition = {
        ArnEquals = { "aws:SourceArn" = aws_sns_topic.events.arn }
      }
    }]
  })
}

resource "aws_sns_topic_subscription" "consumer" {
  for_each = var.queues

  topic_arn            = aws_sns_topic.events.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.consumer[each.key].arn
  raw_message_delivery = true
  # Matches the `aggregate_type` (and `event_type`) message attributes the outbox relay sets on
  # every publish.
  filter_policy = jsonencode(merge(
    { aggregate_type = each.value.aggregate_types },
    length(each.value.event_types) > 0 ? { event_type = each.value.event_types } : {}
  ))

  depends_on = [aws_sqs_queue_policy.consumer]
}
