//! `commerce events replay`: the global event stream as JSON lines (one envelope per line) on
//! stdout, for analysts, with a progress bar on stderr. Reads as the read-only role, in large
//! pages, the next page fetched while the current one is written.
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use commerce_platform::config::DatabaseConfig;
use commerce_platform::event_stream::{self, StreamCursor, StreamFilter, StreamedEvent};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;

/// Events per page: large enough that a round trip is a small share of a page's time.
const PAGE: i64 = 5_000;
/// How often `--follow` looks for new events once it has caught up.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

/// What to replay.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Start after this global position (0: from the beginning).
    pub after: i64,
    pub filter: StreamFilter,
    /// Keep streaming new events once caught up, until interrupted.
    pub follow: bool,
}

/// `--from`/`--to`: an RFC 3339 instant, or a date (its start, or with `end_of_day` the start of
/// the next day, so `--to 2026-11-30` includes that day).
pub fn parse_instant(text: &str, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.to_utc());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        format!(
            "`{text}` is neither a date (2026-11-30) nor an RFC 3339 time (2026-11-30T12:00:00Z)"
        )
    })?;
    let date = if end_of_day {
        date.succ_opt()
            .ok_or_else(|| format!("`{text}` is too late"))?
    } else {
        date
    };
    Ok(date.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// Streams the events to `out`; answers how many were written.
pub async fn replay(
    database: &DatabaseConfig,
    replay: &Replay,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let pool = commerce_platform::database::connect_reader(database).await?;
    let cursor = event_stream::cursor_at(&pool, replay.after).await?;
    let estimate = event_stream::remaining_estimate(&pool, cursor).await?;
    let progress = progress_bar(estimate, replay.follow);
    let written = stream(&pool, cursor, replay, out, &progress).await;
    progress.finish_and_clear();
    pool.close().await;
    let written = written?;
    eprintln!("{written} events");
    Ok(written)
}

fn progress_bar(estimate: u64, follow: bool) -> ProgressBar {
    let bar = ProgressBar::new(estimate);
    let template = if follow {
        "{spinner} {pos} events, {per_sec}, following"
    } else {
        "{bar:40} {pos}/~{len} events, {per_sec}, ETA {eta}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

async fn stream(
    pool: &PgPool,
    mut cursor: StreamCursor,
    replay: &Replay,
    out: &mut impl Write,
    progress: &ProgressBar,
) -> anyhow::Result<u64> {
    let fetch = |cursor: StreamCursor| {
        let pool = pool.clone();
        let filter = replay.filter.clone();
        tokio::spawn(async move { event_stream::read_page(&pool, cursor, &filter, PAGE).await })
    };
    // The page being fetched while the previous one is written.
    let mut next = Some(fetch(cursor));
    let mut written = 0_u64;
    let mut line = String::with_capacity(1024);
    loop {
        let fetching = next.take().unwrap_or_else(|| fetch(cursor));
        let page: Vec<StreamedEvent> = fetching.await.context("reading the event stream")??;
        let caught_up = (page.len() as i64) < PAGE;
        if let Some(last) = page.last() {
            cursor = last.cursor;
        }
        if !caught_up {
            next = Some(fetch(cursor));
        }
        for event in &page {
            line.clear();
            line.push_str(&event.envelope_json()?);
            line.push('\n');
            if let Err(e) = out.write_all(line.as_bytes()) {
                // A reader that went away (`| head`) ends the replay quietly.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(written);
                }
                return Err(e).context("writing the events");
            }
        }
        written += page.len() as u64;
        progress.inc(page.len() as u64);
        if caught_up {
            out.flush().context("writing the events")?;
            if !replay.follow {
                return Ok(written);
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_bound_the_replay() {
        let start = parse_instant("2026-11-30", false).expect("a date");
        assert_eq!(start.to_rfc3339(), "2026-11-30T00:00:00+00:00");
        let end = parse_instant("2026-11-30", true).expect("a date");
        assert_eq!(end.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        let instant = parse_instant("2026-11-30T12:30:00+01:00", true).expect("a time");
        assert_eq!(instant.to_rfc3339(), "2026-11-30T11:30:00+00:00");
        assert!(parse_instant("30/11/2026", false)
            .unwrap_err()
            .contains("neither a date"));
    }
}
