//! The global event stream (`GET /v1/events`, `commerce events replay`): every committed event
//! once, in an order where a transaction that commits late comes after what was already read.
use commerce_platform::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::TestSystem;

const INSERT: &str = "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload, metadata, event_id) VALUES ('Probe', $1, 1, 'Probed', '1.0', $2, '{}', $3) \
     RETURNING global_position";

/// One event of its own aggregate, committed at once; its global position.
async fn probe(system: &TestSystem, label: &str) -> i64 {
    sqlx::query_scalar(INSERT)
        .bind(Uuid::new_v4().to_string())
        .bind(json!({ "label": label }))
        .bind(Uuid::now_v7())
        .fetch_one(&system.pool)
        .await
        .expect("append a probe event")
}

/// Every page of `GET /v1/events` after `after`, `limit` at a time: the labels of the probe
/// events in the order served, and the last `next_after`.
async fn read_all(
    system: &TestSystem,
    token: &str,
    mut after: i64,
    limit: u32,
) -> (Vec<String>, i64) {
    let mut labels = Vec::new();
    loop {
        let (status, page) = system
            .read(
                &format!("/v1/events?after={after}&limit={limit}&aggregate_type=Probe"),
                token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().expect("items").clone();
        for item in &items {
            labels.push(item["payload"]["label"].as_str().expect("label").to_owned());
        }
        let next = page["next_after"].as_i64().expect("next_after");
        if items.is_empty() {
            assert_eq!(next, after, "an empty page keeps the cursor");
            return (labels, after);
        }
        after = next;
    }
}

/// [`read_all`] until `expected` labels have come (the horizon is the whole cluster's: another
/// test's open transaction may hold it back a moment), at most 10 s.
async fn read_expected(
    system: &TestSystem,
    token: &str,
    after: i64,
    limit: u32,
    expected: usize,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut labels = Vec::new();
    let mut cursor = after;
    while labels.len() < expected && tokio::time::Instant::now() < deadline {
        let (more, next) = read_all(system, token, cursor, limit).await;
        labels.extend(more);
        cursor = next;
        if labels.len() < expected {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    labels
}

#[tokio::test]
async fn an_event_committed_late_is_delivered_after_what_was_read_and_nothing_is_skipped() {
    let system = TestSystem::start().await;
    let analyst = system.token(Role::Analyst, None);
    probe(&system, "before").await;

    // A transaction takes a position and holds it; others take later positions and commit.
    let mut held = system.pool.begin().await.expect("begin");
    let held_position: i64 = sqlx::query_scalar(INSERT)
        .bind(Uuid::new_v4().to_string())
        .bind(json!({ "label": "held" }))
        .bind(Uuid::now_v7())
        .fetch_one(&mut *held)
        .await
        .expect("append in the held transaction");
    let after_held = probe(&system, "after-1").await;
    probe(&system, "after-2").await;
    assert!(after_held > held_position);

    // While it is open, the stream stops before it: reading "after-1" now would move the
    // cursor past the held position, and the held event would never be read.
    let (mut seen, cursor) = read_all(&system, &analyst, 0, 2).await;
    assert!(
        seen.len() <= 1,
        "nothing after the held position yet: {seen:?}"
    );

    held.commit().await.expect("commit the held transaction");
    seen.extend(read_expected(&system, &analyst, cursor, 2, 4 - seen.len()).await);
    let expected = ["before", "held", "after-1", "after-2"];
    assert_eq!(seen, expected, "the held event once, in order");
    let all = read_expected(&system, &analyst, 0, 1, 4).await;
    assert_eq!(all, expected);
    system.stop().await;
}

#[tokio::test]
async fn a_transaction_that_began_first_but_wrote_last_is_read_in_its_place() {
    let system = TestSystem::start().await;
    let ops = system.token(Role::Ops, None);
    // It takes its transaction id first, then waits while another commits, then writes.
    let mut early = system.pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *early)
        .await
        .expect("take a transaction id");
    probe(&system, "later-id").await;
    let (seen, cursor) = read_all(&system, &ops, 0, 10).await;
    assert!(
        seen.is_empty(),
        "nothing after an open older transaction: {seen:?}"
    );
    sqlx::query(INSERT)
        .bind(Uuid::new_v4().to_string())
        .bind(json!({ "label": "early-id" }))
        .bind(Uuid::now_v7())
        .execute(&mut *early)
        .await
        .expect("append in the early transaction");
    early.commit().await.expect("commit");
    let rest = read_expected(&system, &ops, cursor, 10, 2).await;
    assert_eq!(
        rest,
        ["early-id", "later-id"],
        "by transaction, then position"
    );
    system.stop().await;
}

#[tokio::test]
async fn the_stream_is_paged_filtered_and_only_for_analysts_and_ops() {
    let system = TestSystem::start().await;
    let analyst = system.token(Role::Analyst, None);
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    let product = system.published_product(&vendor, 1999).await;
    for label in ["a", "b", "c", "d", "e"] {
        probe(&system, label).await;
    }

    let page = page_with(&system, &analyst, "limit=3&aggregate_type=Product", 2).await;
    let items = page["items"].as_array().expect("items");
    let types: Vec<&str> = items
        .iter()
        .filter_map(|i| i["event_type"].as_str())
        .collect();
    assert_eq!(types, ["ProductCreated", "ProductPublished"]);
    let created = &items[0];
    assert_eq!(created["aggregate_id"], product.to_string());
    assert_eq!(created["sequence"], 1);
    assert_eq!(created["payload"]["data"]["sku"], "TEE-001", "{created}");
    for field in [
        "event_id",
        "global_position",
        "event_version",
        "occurred_at",
        "correlation_id",
    ] {
        assert!(!created[field].is_null(), "{field} in {created}");
    }
    let page = page_with(&system, &analyst, "event_type=ProductPublished", 1).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));

    // Pages of 2 from every cursor give exactly what follows it.
    let all = read_expected(&system, &analyst, 0, 2, 5).await;
    assert_eq!(all, ["a", "b", "c", "d", "e"]);
    for (i, position) in positions(&system).await.iter().enumerate() {
        let rest = read_expected(&system, &analyst, *position, 2, 4 - i).await;
        assert_eq!(rest, all[i + 1..], "after {position}");
    }

    for role in [Role::Customer, Role::Admin] {
        let token = system.token(role, None);
        let (status, problem) = system.read("/v1/events", &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {problem}");
    }
    let (status, _) = system.read("/v1/events?after=-1", &analyst).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    system.stop().await;
}

/// The first page of `GET /v1/events?{query}` once it holds `items` events (another test's open
/// transaction may hold the horizon back a moment), at most 10 s.
async fn page_with(system: &TestSystem, token: &str, query: &str, items: usize) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, page) = system.read(&format!("/v1/events?{query}"), token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let count = page["items"].as_array().map_or(0, Vec::len);
        if count >= items || tokio::time::Instant::now() >= deadline {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The probe events' positions, in stream order.
async fn positions(system: &TestSystem) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT global_position FROM es.events WHERE aggregate_type = 'Probe' \
         ORDER BY transaction_id, global_position",
    )
    .fetch_all(&system.pool)
    .await
    .expect("positions")
}

#[tokio::test]
async fn commerce_events_replay_writes_every_event_as_a_json_line_as_the_read_only_role() {
    let system = TestSystem::start().await;
    let vendor = system.vendor_token(Uuid::new_v4()).await;
    system.published_product(&vendor, 1999).await;
    for label in ["a", "b", "c"] {
        probe(&system, label).await;
    }
    // Run off the test's runtime: the services run on it, and one blocked in the middle of a
    // transaction would hold the stream's horizon back for as long as the replay waits.
    let replay = |args: &[&str]| {
        let mut command = system.commerce();
        command.args(["events", "replay"]).args(args);
        async move {
            let output = tokio::task::spawn_blocking(move || command.output())
                .await
                .expect("join")
                .expect("run commerce events replay");
            assert!(output.status.success(), "{output:?}");
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
                .collect::<Vec<_>>()
        }
    };
    let expected: i64 = sqlx::query_scalar("SELECT count(*) FROM es.events")
        .fetch_one(&system.pool)
        .await
        .expect("count");
    // Another test's open transaction may hold the horizon back a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut everything = replay(&[]).await;
    while (everything.len() as i64) < expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        everything = replay(&[]).await;
    }
    assert_eq!(everything.len() as i64, expected);
    let probes = replay(&["--aggregate-type", "Probe"]).await;
    let labels: Vec<&str> = probes
        .iter()
        .filter_map(|e| e["payload"]["label"].as_str())
        .collect();
    assert_eq!(labels, ["a", "b", "c"]);
    let first = probes[0]["global_position"].as_i64().expect("position");
    let after_first = replay(&["--aggregate-type", "Probe", "--after", &first.to_string()]).await;
    assert_eq!(after_first, probes[1..]);
    let published = replay(&["--event-type", "ProductPublished", "--event-type", "Probed"]).await;
    assert_eq!(published.len(), 4);
    let none = replay(&["--to", "2000-01-01"]).await;
    assert!(none.is_empty());

    // The reader's role reads events and nothing else, and writes nothing.
    let reader = commerce_platform::database::connect_reader(&system.config.command_api.database)
        .await
        .expect("connect as the reader");
    let refused = sqlx::query("SELECT count(*) FROM es.outbox")
        .execute(&reader)
        .await;
    assert!(refused.is_err(), "the reader may not read the outbox");
    let refused = sqlx::query("CREATE TABLE es.scratch (x int)")
        .execute(&reader)
        .await;
    assert!(refused.is_err(), "the reader writes nothing");
    reader.close().await;
    system.stop().await;
}

#[tokio::test]
async fn replay_with_follow_keeps_streaming_events_committed_after_it_started() {
    use std::io::BufRead;
    let system = TestSystem::start().await;
    probe(&system, "first").await;
    let mut child = system
        .commerce()
        .args(["events", "replay", "--follow", "--aggregate-type", "Probe"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the replay");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let received = std::sync::Arc::new(std::sync::Mutex::new(received));
    let next_label = || {
        let received = received.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let line = received
                    .lock()
                    .expect("receiver")
                    .recv_timeout(std::time::Duration::from_secs(15))
                    .expect("a line within 15 s")
                    .expect("readable");
                let event: Value = serde_json::from_str(&line).expect("a JSON line");
                event["payload"]["label"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .await
            .expect("join")
        }
    };
    assert_eq!(next_label().await, "first");
    probe(&system, "second").await;
    assert_eq!(next_label().await, "second", "streamed after it caught up");
    child.kill().expect("stop the replay");
    let _ = child.wait();
    system.stop().await;
}
