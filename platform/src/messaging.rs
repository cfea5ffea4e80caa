//! SNS/SQS: clients and the topology every deployment shares.
//!
//! One SNS FIFO topic carries every event; each consumer owns an SQS FIFO queue subscribed with a
//! filter on `aggregate_type` and raw delivery, and a dead-letter queue that takes a message after
//! [`MAX_RECEIVES`] failed receives. Provisioning is idempotent and is the same code for the local
//! emulator and for AWS.
use std::collections::HashMap;

use anyhow::{anyhow, Context};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::config::MessagingConfig;

/// Receives before SQS moves a message to the consumer's DLQ.
pub const MAX_RECEIVES: u32 = 5;

/// Seconds a received message stays invisible to other consumers before SQS offers it again.
pub const VISIBILITY_TIMEOUT_SECS: u32 = 30;

/// SDK clients for the configured endpoint.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl AwsClients {
    /// Real AWS (default credential chain) unless `endpoint` points at the local emulator, which
    /// takes any static credentials.
    pub async fn connect(config: &MessagingConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()));
        if let Some(endpoint) = &config.endpoint {
            loader = loader
                .endpoint_url(endpoint)
                .credentials_provider(Credentials::new("test", "test", None, None, "local"));
        }
        let sdk = loader.load().await;
        Self {
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
        }
    }
}

/// One consumer's queue and which events it receives.
#[derive(Debug, Clone, Copy)]
pub struct QueueSpec {
    /// Short name; the queue is `{prefix}{name}.fifo`, its DLQ `{prefix}{name}-dlq.fifo`.
    pub name: &'static str,
    /// Aggregate types delivered to the queue (the subscription's filter policy).
    pub aggregate_types: &'static [&'static str],
    /// When not empty, only these event types of those aggregates are delivered.
    pub event_types: &'static [&'static str],
}

/// The catalog projector's queue: products, stock for their `available` count, and vendors
/// (profiles, and hiding a suspended vendor's products).
pub const CATALOG_QUEUE: QueueSpec = QueueSpec {
    name: "catalog",
    aggregate_types: &["Product", "Inventory", "Vendor"],
    event_types: &[],
};

/// The cart projector's queue.
pub const CART_QUEUE: QueueSpec = QueueSpec {
    name: "cart",
    aggregate_types: &["Cart"],
    event_types: &[],
};

/// The orders projector's queue.
pub const ORDERS_QUEUE: QueueSpec = QueueSpec {
    name: "orders",
    aggregate_types: &["Order"],
    event_types: &[],
};

/// The analytics projector's queue: orders (sales), carts (the funnel), products (their
/// categories) and stock (vendors' low-stock alerts). Every event of those aggregates, not only the counted ones: the projector
/// checks each aggregate's sequence, and a filtered stream would look like gaps.
pub const ANALYTICS_QUEUE: QueueSpec = QueueSpec {
    name: "analytics",
    aggregate_types: &["Order", "Cart", "Product", "Inventory"],
    event_types: &[],
};

/// The notifications projector's queue: every Order event (it checks each order's sequence).
pub const NOTIFICATIONS_QUEUE: QueueSpec = QueueSpec {
    name: "notifications",
    aggregate_types: &["Order"],
    event_types: &[],
};

/// The ledger projector's queue: vendors' sales and payouts (balances, statements, what a payout
/// run may release and pay), and every Order event for the sub-orders' shipments (it checks each
/// aggregate's sequence, so the Order stream comes whole).
pub const LEDGER_QUEUE: QueueSpec = QueueSpec {
    name: "ledger",
    aggregate_types: &["VendorSale", "VendorPayouts", "Order"],
    event_types: &[],
};

/// The order-fulfilment saga's queue: an order placed starts a saga, an order cancelled by
/// someone else stops or reverses one, a return accepted is refunded. Nothing else of the
/// stream concerns it.
pub const ORDER_SAGA_QUEUE: QueueSpec = QueueSpec {
    name: "order-saga",
    aggregate_types: &["Order"],
    event_types: &["OrderPlaced", "OrderCancelled", "ReturnAccepted"],
};

/// Every queue the system consumes from.
pub const QUEUES: &[QueueSpec] = &[
    CATALOG_QUEUE,
    CART_QUEUE,
    ORDERS_QUEUE,
    ANALYTICS_QUEUE,
    NOTIFICATIONS_QUEUE,
    LEDGER_QUEUE,
    ORDER_SAGA_QUEUE,
];

impl QueueSpec {
    pub fn queue_name(&self, config: &MessagingConfig) -> String {
        format!("{}{}.fifo", config.queue_prefix, self.name)
    }

    pub fn dlq_name(&self, config: &MessagingConfig) -> String {
        format!("{}{}-dlq.fifo", config.queue_prefix, self.name)
    }

    fn filter_policy(&self) -> String {
        if self.event_types.is_empty() {
            return serde_json::json!({ "aggregate_type": self.aggregate_types }).to_string();
        }
        serde_json::json!({
            "aggregate_type": self.aggregate_types,
            "event_type": self.event_types,
        })
        .to_string()
    }
}

/// Addresses of one provisioned queue pair.
#[derive(Debug, Clone)]
pub struct ProvisionedQueue {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
}

/// What provisioning created (or found).
#[derive(Debug, Clone)]
pub struct Topology {
    pub topic_arn: String,
    pub queues: HashMap<&'static str, ProvisionedQueue>,
}

/// Creates the topic, every queue with its DLQ, and the filtered subscriptions. Safe to repeat.
#[tracing::instrument(skip_all, fields(topic = %config.topic))]
pub async fn provision(clients: &AwsClients, config: &MessagingConfig) -> anyhow::Result<Topology> {
    let topic_arn = ensure_topic(clients, config).await?;
    let mut queues = HashMap::new();
    for spec in QUEUES {
        let queue = ensure_queue(clients, config, spec, &topic_arn).await?;
        queues.insert(spec.name, queue);
    }
    tracing::info!(queues = queues.len(), "messaging topology provisioned");
    Ok(Topology { topic_arn, queues })
}

/// Creates (or finds) the FIFO topic and returns its ARN.
pub async fn ensure_topic(
    clients: &AwsClients,
    config: &MessagingConfig,
) -> anyhow::Result<String> {
    if !config.topic.ends_with(".fifo") {
        return Err(anyhow!("topic name {:?} must end in .fifo", config.topic));
    }
    let out = clients
        .sns
        .create_topic()
        .name(&config.topic)
        .attributes("FifoTopic", "true")
        .attributes("ContentBasedDeduplication", "false")
        .send()
        .await
        .with_context(|| format!("creating SNS topic {}", config.topic))?;
    out.topic_arn
        .ok_or_else(|| anyhow!("CreateTopic returned no ARN"))
}

async fn ensure_queue(
    clients: &AwsClients,
    config: &MessagingConfig,
    spec: &QueueSpec,
    topic_arn: &str,
) -> anyhow::Result<ProvisionedQueue> {
    let dlq_name = spec.dlq_name(config);
    let dlq_url = create_fifo_queue(clients, &dlq_name, HashMap::new()).await?;
    let dlq_arn = queue_arn(clients, &dlq_url).await?;

    let name = spec.queue_name(config);
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVES.to_string(),
    });
    let attributes = HashMap::from([
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        (
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_TIMEOUT_SECS.to_string(),
        ),
    ]);
    let url = create_fifo_queue(clients, &name, attributes).await?;
    let arn = queue_arn(clients, &url).await?;

    // On AWS the topic may deliver only if the queue's policy allows it.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": topic_arn } }
        }]
    });
    clients
        .sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .with_context(|| format!("setting the policy of {name}"))?;

    ensure_subscription(clients, topic_arn, &arn, &spec.filter_policy())
        .await
        .with_context(|| format!("subscribing {name} to the topic"))?;

    Ok(ProvisionedQueue { url, arn, dlq_url })
}

/// Subscribes the queue with raw delivery and `filter_policy`. An existing subscription keeps its
/// ARN and gets the current filter (Subscribe refuses to change attributes), so a new release that
/// widens a queue's filter provisions over an old deployment.
async fn ensure_subscription(
    clients: &AwsClients,
    topic_arn: &str,
    queue_arn: &str,
    filter_policy: &str,
) -> anyhow::Result<()> {
    let mut next_token = None;
    loop {
        let page = clients
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .set_next_token(next_token)
            .send()
            .await?;
        let existing = page
            .subscriptions()
            .iter()
            .find(|s| s.endpoint() == Some(queue_arn))
            .and_then(|s| s.subscription_arn().map(str::to_owned));
        if let Some(subscription_arn) = existing {
            for (name, value) in [
                ("FilterPolicy", filter_policy),
                ("RawMessageDelivery", "true"),
            ] {
                clients
                    .sns
                    .set_subscription_attributes()
                    .subscription_arn(&subscription_arn)
                    .attribute_name(name)
                    .attribute_value(value)
                    .send()
                    .await?;
            }
            return Ok(());
        }
        match page.next_token() {
            Some(token) => next_token = Some(token.to_owned()),
            None => break,
        }
    }
    clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .attributes("FilterPolicy", filter_policy)
        .return_subscription_arn(true)
        .send()
        .await?;
    Ok(())
}

async fn create_fifo_queue(
    clients: &AwsClients,
    name: &str,
    mut attributes: HashMap<QueueAttributeName, String>,
) -> anyhow::Result<String> {
    attributes.insert(QueueAttributeName::FifoQueue, "true".into());
    attributes.insert(QueueAttributeName::MessageRetentionPeriod, "1209600".into());
    let out = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .with_context(|| format!("creating SQS queue {name}"))?;
    out.queue_url
        .ok_or_else(|| anyhow!("CreateQueue {name} returned no URL"))
}

async fn queue_arn(clients: &AwsClients, url: &str) -> anyhow::Result<String> {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("reading the ARN of {url}"))?;
    out.attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| anyhow!("queue {url} has no ARN"))
}

/// The URL of an already provisioned queue.
pub async fn queue_url(clients: &AwsClients, name: &str) -> anyhow::Result<String> {
    let out = clients
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("looking up queue {name}; has `commerce infra provision` run?"))?;
    out.queue_url
        .ok_or_else(|| anyhow!("GetQueueUrl {name} returned no URL"))
}

/// The ARN of the configured topic: `COMMERCE_TOPIC_ARN` when set, else CreateTopic, which is
/// idempotent and the only lookup-by-name SNS offers (with identical attributes it changes
/// nothing, but the caller's role needs `sns:CreateTopic`).
pub async fn topic_arn(clients: &AwsClients, config: &MessagingConfig) -> anyhow::Result<String> {
    match &config.topic_arn {
        Some(arn) => configured_topic_arn(arn, &config.topic).map(str::to_owned),
        None => ensure_topic(clients, config).await,
    }
}

/// Checks that a configured ARN names the configured topic, so a deployment whose two settings
/// disagree stops at start instead of publishing to a topic no queue listens to.
fn configured_topic_arn<'a>(arn: &'a str, topic: &str) -> anyhow::Result<&'a str> {
    let named = arn.starts_with("arn:") && arn.rsplit(':').next() == Some(topic);
    if named {
        Ok(arn)
    } else {
        Err(anyhow!(
            "COMMERCE_TOPIC_ARN {arn:?} does not name the topic {topic:?} (COMMERCE_TOPIC)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_topic_arn_must_name_the_configured_topic() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:commerce-events.fifo";
        assert_eq!(
            configured_topic_arn(arn, "commerce-events.fifo").ok(),
            Some(arn)
        );
        assert!(configured_topic_arn(arn, "other-events.fifo").is_err());
        assert!(configured_topic_arn("commerce-events.fifo", "commerce-events.fifo").is_err());
    }

    /// With the ARN configured the relay needs no call but Publish: nothing listens at this
    /// endpoint, and the ARN is still there.
    #[tokio::test]
    async fn a_configured_topic_arn_is_used_without_asking_sns() {
        let arn = "arn:aws:sns:us-east-1:123456789012:commerce-events.fifo";
        let config = MessagingConfig {
            endpoint: Some("http://127.0.0.1:9".into()),
            topic_arn: Some(arn.into()),
            ..MessagingConfig::local()
        };
        let clients = AwsClients::connect(&config).await;
        assert_eq!(
            topic_arn(&clients, &config).await.ok().as_deref(),
            Some(arn)
        );
    }

    /// Against the local emulator (`COMMERCE_TEST_AWS_ENDPOINT`, default 127.0.0.1:4566).
    #[tokio::test]
    async fn provisioning_again_updates_an_existing_subscriptions_filter() {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let config = MessagingConfig {
            endpoint: Some(
                std::env::var("COMMERCE_TEST_AWS_ENDPOINT")
                    .unwrap_or_else(|_| "http://127.0.0.1:4566".into()),
            ),
            region: "us-east-1".into(),
            topic: format!("t-{id}-events.fifo"),
            queue_prefix: format!("t-{id}-"),
            topic_arn: None,
        };
        let clients = AwsClients::connect(&config).await;
        let topic = ensure_topic(&clients, &config).await.unwrap();
        let queue = create_fifo_queue(&clients, &format!("t-{id}-q.fifo"), HashMap::new())
            .await
            .unwrap();
        let arn = queue_arn(&clients, &queue).await.unwrap();

        ensure_subscription(&clients, &topic, &arn, r#"{"aggregate_type":["Product"]}"#)
            .await
            .unwrap();
        let wider = r#"{"aggregate_type":["Product","Inventory"]}"#;
        ensure_subscription(&clients, &topic, &arn, wider)
            .await
            .unwrap();

        let subscriptions = clients
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(&topic)
            .send()
            .await
            .unwrap();
        let ours: Vec<_> = subscriptions
            .subscriptions()
            .iter()
            .filter(|s| s.endpoint() == Some(arn.as_str()))
            .collect();
        assert_eq!(ours.len(), 1, "one subscription, updated in place");
        let attributes = clients
            .sns
            .get_subscription_attributes()
            .subscription_arn(ours[0].subscription_arn().unwrap())
            .send()
            .await
            .unwrap();
        let filter = attributes
            .attributes()
            .and_then(|a| a.get("FilterPolicy"))
            .cloned();
        let filter: serde_json::Value = serde_json::from_str(&filter.unwrap()).unwrap();
        assert_eq!(
            filter,
            serde_json::from_str::<serde_json::Value>(wider).unwrap()
        );

        let _ = clients.sqs.delete_queue().queue_url(&queue).send().await;
        let _ = clients.sns.delete_topic().topic_arn(&topic).send().await;
    }
}
