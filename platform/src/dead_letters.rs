//! Dead-lettered messages: what `commerce dlq list|show|redrive` reads and moves. A message lands
//! in its queue's DLQ after 5 receives without a delete (a projector kept failing on it); once
//! the cause is fixed, redriving sends it back to its queue, where the projector's per-aggregate
//! sequence guard applies it once, however many copies arrive.
use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::MessagingConfig;
use crate::messaging::{QueueSpec, QUEUES};

/// How long a message shown or being moved stays hidden from other readers of the DLQ.
const HOLD: Duration = Duration::from_secs(30);

/// A queue's and its DLQ's addresses, looked up by name.
#[derive(Debug, Clone)]
pub struct QueuePair {
    pub name: &'static str,
    pub url: String,
    pub dlq_url: String,
}

/// The queue named `name` (`catalog`, `cart`, `orders`, `order-saga`) and its DLQ.
pub async fn queue_pair(
    sqs: &aws_sdk_sqs::Client,
    config: &MessagingConfig,
    name: &str,
) -> anyhow::Result<QueuePair> {
    let spec: &QueueSpec = QUEUES.iter().find(|q| q.name == name).with_context(|| {
        let names: Vec<_> = QUEUES.iter().map(|q| q.name).collect();
        format!("no queue {name:?}; one of {}", names.join(", "))
    })?;
    let url = |queue: String| async move {
        sqs.get_queue_url()
            .queue_name(&queue)
            .send()
            .await
            .with_context(|| format!("looking up queue {queue} (is it provisioned?)"))?
            .queue_url()
            .map(str::to_owned)
            .with_context(|| format!("queue {queue} has no URL"))
    };
    Ok(QueuePair {
        name: spec.name,
        url: url(spec.queue_name(config)).await?,
        dlq_url: url(spec.dlq_name(config)).await?,
    })
}

/// Messages waiting in a queue, and those received but not yet deleted.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Depth {
    pub visible: u64,
    pub in_flight: u64,
}

pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<Depth> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .with_context(|| format!("reading the depth of {url}"))?;
    let count = |name: QueueAttributeName| {
        answer
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Depth {
        visible: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    })
}

/// One dead-lettered message as an operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    /// The aggregate whose order the message kept (its FIFO group).
    pub group_id: Option<String>,
    /// Times it was received, in its queue and in the DLQ.
    pub receive_count: u32,
    pub sent_at: Option<DateTime<Utc>>,
    /// The message attributes (`aggregate_type`, `event_type`).
    pub attributes: HashMap<String, String>,
    /// The envelope as sent (or whatever the message held).
    pub body: String,
    #[serde(skip)]
    receipt_handle: String,
}

/// Up to `limit` messages of the DLQ at `dlq_url`, left in it (each is received, then made
/// visible again at once).
pub async fn peek(
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    limit: usize,
) -> anyhow::Result<Vec<DeadLetter>> {
    let letters = receive(sqs, dlq_url, limit).await?;
    for letter in &letters {
        // Release it for the next reader; if this fails it reappears after the hold anyway.
        let _ = sqs
            .change_message_visibility()
            .queue_url(dlq_url)
            .receipt_handle(&letter.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await;
    }
    Ok(letters)
}

/// Moves up to `limit` messages (all when `None`) from the pair's DLQ back to its queue, each
/// in its group, with its attributes; a message leaves the DLQ only once its queue took it.
/// Answers how many moved.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    pair: &QueuePair,
    limit: Option<usize>,
) -> anyhow::Result<usize> {
    let mut moved = 0;
    loop {
        let want = limit.map_or(10, |l| l.saturating_sub(moved).min(10));
        if want == 0 {
            return Ok(moved);
        }
        let letters = receive(sqs, &pair.dlq_url, want).await?;
        if letters.is_empty() {
            return Ok(moved);
        }
        for letter in letters {
            let mut send = sqs
                .send_message()
                .queue_url(&pair.url)
                .message_body(&letter.body)
                .message_group_id(letter.group_id.as_deref().unwrap_or("redriven"))
                // A new id: the queue would drop the original one for five minutes after it
                // first arrived. The projector's sequence guard drops copies instead.
                .message_deduplication_id(format!("redrive-{}", uuid::Uuid::now_v7()));
            for (name, value) in &letter.attributes {
                send = send.message_attributes(
                    name,
                    MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(value)
                        .build()?,
                );
            }
            send.send()
                .await
                .with_context(|| format!("sending {} back to {}", letter.message_id, pair.name))?;
            sqs.delete_message()
                .queue_url(&pair.dlq_url)
                .receipt_handle(&letter.receipt_handle)
                .send()
                .await
                .with_context(|| format!("removing {} from the DLQ", letter.message_id))?;
            tracing::info!(queue = pair.name, message_id = %letter.message_id, "redriven");
            moved += 1;
        }
    }
}

/// Receives up to `limit` messages, holding each for [`HOLD`].
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    limit: usize,
) -> anyhow::Result<Vec<DeadLetter>> {
    let mut letters = Vec::new();
    while letters.len() < limit {
        let batch = (limit - letters.len()).min(10) as i32;
        let answer = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(batch)
            .visibility_timeout(HOLD.as_secs() as i32)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .with_context(|| format!("receiving from {url}"))?;
        let messages = answer.messages();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let system = message.attributes();
            let system_attribute =
                |name: MessageSystemAttributeName| system.and_then(|a| a.get(&name)).cloned();
            letters.push(DeadLetter {
                message_id: message.message_id().unwrap_or_default().to_owned(),
                group_id: system_attribute(MessageSystemAttributeName::MessageGroupId),
                receive_count: system_attribute(
                    MessageSystemAttributeName::ApproximateReceiveCount,
                )
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
                sent_at: system_attribute(MessageSystemAttributeName::SentTimestamp)
                    .and_then(|ms| ms.parse::<i64>().ok())
                    .and_then(DateTime::from_timestamp_millis),
                attributes: message
                    .message_attributes()
                    .map(|attributes| {
                        attributes
                            .iter()
                            .filter_map(|(name, value)| {
                                Some((name.clone(), value.string_value()?.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                body: message.body().unwrap_or_default().to_owned(),
                receipt_handle: message.receipt_handle().unwrap_or_default().to_owned(),
            });
        }
    }
    Ok(letters)
}
