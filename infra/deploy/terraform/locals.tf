locals {
  # Must match what the service derives from COMMERCE_TOPIC / COMMERCE_QUEUE_PREFIX.
  queue_prefix = "${var.name_prefix}-"
  topic_name   = "${var.name_prefix}-events.fifo"
}
