//! Published outbox rows are removed after their retention; the events and anything unpublished
//! stay.
use std::time::Duration;

use commerce_command_api::outbox_retention::{remove_published, OutboxRetention};
use commerce_platform::Shutdown;
use uuid::Uuid;

use crate::support::{Options, TestSystem};

#[tokio::test]
async fn published_rows_past_their_retention_are_removed_in_batches_and_the_rest_stay() {
    // No relay: the test decides which rows count as published, and when.
    let system = TestSystem::start_with(Options {
        relay: false,
        ..Options::default()
    })
    .await;
    let token = system.vendor_token(Uuid::new_v4()).await;
    system.drop_vendor_outbox_rows().await;
    for price in 1..=5 {
        system.create_product(&token, price).await;
    }
    let positions: Vec<i64> =
        sqlx::query_scalar("SELECT global_position FROM es.outbox ORDER BY global_position")
            .fetch_all(&system.pool)
            .await
            .expect("outbox rows");
    assert_eq!(positions.len(), 5);
    let stamp = |position: i64, published_at: Option<&'static str>| {
        let pool = system.pool.clone();
        async move {
            sqlx::query(&format!(
                "UPDATE es.outbox SET created_at = now() - interval '3 hours', \
                 published_at = {} WHERE global_position = $1",
                published_at.unwrap_or("NULL")
            ))
            .bind(position)
            .execute(&pool)
            .await
            .expect("stamp a row");
        }
    };
    // Three published two hours ago, one published just now, one never published (however old).
    for &position in &positions[..3] {
        stamp(position, Some("now() - interval '2 hours'")).await;
    }
    stamp(positions[3], Some("now()")).await;
    stamp(positions[4], None).await;

    let retention = OutboxRetention {
        retention: Duration::from_secs(3600),
        batch_size: 2,
        ..OutboxRetention::default()
    };
    let removed = remove_published(&system.pool, &retention, &Shutdown::new())
        .await
        .expect("sweep");
    assert_eq!(removed, 3, "in batches of at most 2");
    let left: Vec<i64> =
        sqlx::query_scalar("SELECT global_position FROM es.outbox ORDER BY global_position")
            .fetch_all(&system.pool)
            .await
            .expect("outbox rows");
    assert_eq!(
        left,
        positions[3..].to_vec(),
        "recent and unpublished rows stay"
    );
    assert_eq!(system.event_count(None).await, 5, "every event stays");
    let again = remove_published(&system.pool, &retention, &Shutdown::new())
        .await
        .expect("sweep");
    assert_eq!(again, 0);
    system.stop().await;
}
