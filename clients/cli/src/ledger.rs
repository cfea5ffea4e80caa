//! `commerce ledger balance|statement|payouts|income` read the vendors' ledger through
//! `commerce-client` (the vendor itself or an admin; the income is for admins);
//! `commerce ledger check` proves the books from the database itself (`es.events` against the
//! read model), as ops commands do, and exits non-zero when they do not balance.
use std::future::Future;

use clap::{Args, Subcommand};
use commerce_client::{
    ClientError, CommissionIncome, Money, PayoutPage, StatementEntry, StatementPage, VendorBalance,
};
use commerce_platform::config::DatabaseConfig;
use commerce_projections::ledger::{check_books, Books};
use serde::Serialize;
use uuid::Uuid;

use crate::output::{plural, Output, Table};
use crate::storefront::{describe, parse_id, ApiTarget};

/// The read API's largest page: `--all` asks for pages this size unless `--limit` says otherwise.
const LARGEST_PAGE: u32 = 100;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// A vendor's balances per currency: pending (not released yet), available (what the next
    /// payout run pays) and paid out (the vendor itself, admins).
    Balance {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
    },
    /// A vendor's ledger entries, newest first: each sale credited, release, return and payout
    /// with what it moved on each account (the vendor itself, admins).
    Statement {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
        #[command(flatten)]
        pages: PageArgs,
    },
    /// A vendor's payouts, newest first; an open one is finished by the next payout run (the
    /// vendor itself, admins).
    Payouts {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
        #[command(flatten)]
        pages: PageArgs,
    },
    /// The marketplace's commission income per currency, and where the rest of the customers'
    /// money stands: owed to vendors (pending, available) and paid out (admins).
    Income,
    /// Prove the books from the event store: per currency the ledger's entries sum to zero,
    /// payments captured minus refunded equal the vendors' balances, payouts and commission,
    /// and the read model agrees. Exits non-zero when they do not balance. Reads
    /// COMMERCE_DATABASE_URL.
    Check,
}

/// Which part of a vendor's list to read.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Entries per page, 1 to 100 (default 20; with --all, 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[arg(long, value_parser = parse_id)]
    pub cursor: Option<Uuid>,
    /// Every page, from the newest (or from --cursor) to the oldest.
    #[arg(long)]
    pub all: bool,
}

impl PageArgs {
    fn page_size(&self) -> Option<u32> {
        self.limit.or(self.all.then_some(LARGEST_PAGE))
    }
}

pub async fn ledger(
    target: &ApiTarget,
    command: LedgerCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        LedgerCommand::Check => check(&DatabaseConfig::from_env()?, output).await,
        LedgerCommand::Balance { vendor_id } => {
            let client = target.authenticated_client().await?;
            let balance = client.vendor_balance(vendor_id).await.map_err(describe)?;
            output.print(&balance, render_balance)
        }
        LedgerCommand::Statement { vendor_id, pages } => {
            let client = target.authenticated_client().await?;
            let limit = pages.page_size();
            let (items, next_cursor) = fetch_pages(pages.all, pages.cursor, |cursor| {
                let client = &client;
                async move {
                    let page = client.vendor_statement(vendor_id, cursor, limit).await?;
                    Ok((page.items, page.next_cursor))
                }
            })
            .await?;
            let page = StatementPage { items, next_cursor };
            output.print(&page, |page| render_statement(vendor_id, page))
        }
        LedgerCommand::Payouts { vendor_id, pages } => {
            let client = target.authenticated_client().await?;
            let limit = pages.page_size();
            let (items, next_cursor) = fetch_pages(pages.all, pages.cursor, |cursor| {
                let client = &client;
                async move {
                    let page = client.vendor_payouts(vendor_id, cursor, limit).await?;
                    Ok((page.items, page.next_cursor))
                }
            })
            .await?;
            let page = PayoutPage { items, next_cursor };
            output.print(&page, |page| render_payouts(vendor_id, page))
        }
        LedgerCommand::Income => {
            let client = target.authenticated_client().await?;
            let income = client.commission_income().await.map_err(describe)?;
            output.print(&income, render_income)
        }
    }
}

/// The page at `cursor`, or with `all` it and every older one: their items, and the cursor of
/// the page after them (`None` once the oldest was read).
async fn fetch_pages<T, F, Fut>(
    all: bool,
    mut cursor: Option<Uuid>,
    mut fetch: F,
) -> anyhow::Result<(Vec<T>, Option<Uuid>)>
where
    F: FnMut(Option<Uuid>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<Uuid>), ClientError>>,
{
    let mut items = Vec::new();
    loop {
        let (page, next) = fetch(cursor).await.map_err(describe)?;
        items.extend(page);
        cursor = next;
        if !all || cursor.is_none() {
            return Ok((items, cursor));
        }
    }
}

/// What `commerce ledger check` prints as JSON: the books, and the verdict drawn from them.
#[derive(Debug, Serialize)]
pub struct CheckedBooks {
    #[serde(flatten)]
    pub books: Books,
    pub balanced: bool,
    /// [`Books::problems`]: why the books do not balance; empty when they do.
    pub problems: Vec<String>,
}

impl CheckedBooks {
    pub fn new(books: Books) -> Self {
        let problems = books.problems();
        Self {
            balanced: problems.is_empty(),
            problems,
            books,
        }
    }
}

/// `commerce ledger check`: one pool reads both the event store and the read model.
pub async fn check(database: &DatabaseConfig, output: Output) -> anyhow::Result<()> {
    let pool = commerce_platform::database::connect(database).await?;
    let books = check_books(&pool, &pool).await;
    pool.close().await;
    let checked = CheckedBooks::new(books?);
    output.print(&checked, render_books)?;
    anyhow::ensure!(
        checked.balanced,
        "the books do not balance: {} problem(s)",
        checked.problems.len()
    );
    Ok(())
}

fn money(minor: i64, currency: &str) -> String {
    Money::new(minor, currency).to_string()
}

/// A movement on an account: signed, and blank when nothing moved, so the table shows what did.
fn delta(minor: i64, currency: &str) -> String {
    match minor {
        0 => String::new(),
        positive if positive > 0 => format!("+{}", money(positive, currency)),
        negative => money(negative, currency),
    }
}

/// An entry's lines in a few words: `3 units, 2 lines`; nothing for releases and payouts.
fn lines_summary(entry: &StatementEntry) -> String {
    if entry.lines.is_empty() {
        return String::new();
    }
    let units: u64 = entry.lines.iter().map(|l| u64::from(l.quantity)).sum();
    format!(
        "{}, {}",
        plural(units, "unit", "units"),
        plural(entry.lines.len() as u64, "line", "lines")
    )
}

fn with_next_page(mut out: String, cursor: Option<Uuid>) -> String {
    if let Some(cursor) = cursor {
        out.push_str(&format!("\nMore: add --cursor {cursor} (or --all)"));
    }
    out
}

fn render_balance(balance: &VendorBalance) -> String {
    let vendor = balance.vendor_id;
    if balance.balances.is_empty() {
        return format!("Vendor {vendor} has no ledger entries yet.");
    }
    let mut table = Table::new(&[
        ("CURRENCY", false),
        ("PENDING", true),
        ("AVAILABLE", true),
        ("PAID OUT", true),
    ]);
    for b in &balance.balances {
        table.row(vec![
            b.currency.clone(),
            money(b.pending_minor, &b.currency),
            money(b.available_minor, &b.currency),
            money(b.paid_out_minor, &b.currency),
        ]);
    }
    format!("Vendor {vendor}\n{}", table.render())
}

fn render_statement(vendor_id: Uuid, page: &StatementPage) -> String {
    if page.items.is_empty() {
        return format!("No ledger entries for vendor {vendor_id}.");
    }
    let mut table = Table::new(&[
        ("DATE", false),
        ("REASON", false),
        ("ORDER", false),
        ("PENDING", true),
        ("AVAILABLE", true),
        ("PAID OUT", true),
        ("COMMISSION", true),
        ("LINES", false),
    ]);
    for entry in &page.items {
        let currency = entry.currency.as_str();
        table.row(vec![
            entry.at.format("%Y-%m-%d %H:%M").to_string(),
            entry.reason.clone(),
            entry.order_id.to_string(),
            delta(entry.pending_minor, currency),
            delta(entry.available_minor, currency),
            delta(entry.paid_out_minor, currency),
            delta(entry.commission_minor, currency),
            lines_summary(entry),
        ]);
    }
    with_next_page(table.render(), page.next_cursor)
}

fn render_payouts(vendor_id: Uuid, page: &PayoutPage) -> String {
    if page.items.is_empty() {
        return format!("No payouts to vendor {vendor_id}.");
    }
    let mut table = Table::new(&[
        ("PAYOUT", false),
        ("AMOUNT", true),
        ("SALES", true),
        ("STARTED", false),
        ("COMPLETED", false),
    ]);
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    for payout in &page.items {
        table.row(vec![
            payout.payout_id.to_string(),
            money(payout.amount_minor, &payout.currency),
            payout.sales.to_string(),
            time(payout.started_at),
            payout
                .completed_at
                .map(time)
                .unwrap_or_else(|| "open (the next run finishes it)".into()),
        ]);
    }
    with_next_page(table.render(), page.next_cursor)
}

fn render_income(income: &CommissionIncome) -> String {
    if income.currencies.is_empty() {
        return "No commission income yet.".into();
    }
    let mut table = Table::new(&[
        ("CURRENCY", false),
        ("COMMISSION", true),
        ("CUSTOMER PAYMENTS", true),
        ("VENDORS PENDING", true),
        ("VENDORS AVAILABLE", true),
        ("VENDORS PAID OUT", true),
    ]);
    for c in &income.currencies {
        let currency = c.currency.as_str();
        table.row(vec![
            c.currency.clone(),
            money(c.commission_minor, currency),
            money(c.customer_payments_minor, currency),
            money(c.vendors_pending_minor, currency),
            money(c.vendors_available_minor, currency),
            money(c.vendors_paid_out_minor, currency),
        ]);
    }
    table.render()
}

fn render_books(checked: &CheckedBooks) -> String {
    let books = &checked.books;
    let mut out = String::new();
    if !books.currencies.is_empty() {
        let mut table = Table::new(&[
            ("CURRENCY", false),
            ("CLEARING", true),
            ("COMMISSION", true),
            ("PENDING", true),
            ("AVAILABLE", true),
            ("PAID OUT", true),
            ("CAPTURED", true),
            ("REFUNDED", true),
        ]);
        for c in &books.currencies {
            let currency = c.currency.as_str();
            table.row(vec![
                c.currency.clone(),
                money(c.clearing_minor, currency),
                money(c.commission_minor, currency),
                money(c.pending_minor, currency),
                money(c.available_minor, currency),
                money(c.paid_out_minor, currency),
                money(c.payments_captured_minor, currency),
                money(c.payments_refunded_minor, currency),
            ]);
        }
        out.push_str(&table.render());
        out.push_str("\n\n");
        for c in books.currencies.iter().filter(|c| c.problems().is_empty()) {
            out.push_str(&format!("{}: balanced\n", c.currency));
        }
    }
    if checked.balanced {
        if books.currencies.is_empty() {
            out.push_str("No ledger entries yet: the books are balanced.");
        } else {
            out.push_str("The books are balanced.");
        }
    } else {
        out.push_str("The books do not balance:");
        for problem in &checked.problems {
            out.push_str(&format!("\n- {problem}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use commerce_client::{CurrencyBalance, CurrencyIncome, Payout, StatementLine};
    use commerce_projections::ledger::CurrencyBooks;

    use super::*;
    use crate::output::squeeze;

    #[derive(Parser)]
    struct Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    }

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("time")
            .to_utc()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_vendors_lists_take_a_page_size_a_cursor_or_every_page() {
        let vendor = id(1).to_string();
        let parse = |extra: &[&str]| {
            let mut args = vec!["ledger", "statement", vendor.as_str()];
            args.extend(extra);
            Ledger::try_parse_from(args)
        };
        let pages = |parsed: Result<Ledger, clap::Error>| match parsed.expect("parses").command {
            LedgerCommand::Statement { pages, .. } | LedgerCommand::Payouts { pages, .. } => pages,
            other => panic!("not a list: {other:?}"),
        };
        assert_eq!(pages(parse(&[])).page_size(), None);
        assert_eq!(pages(parse(&["--limit", "5"])).page_size(), Some(5));
        assert_eq!(pages(parse(&["--all"])).page_size(), Some(LARGEST_PAGE));
        assert_eq!(
            pages(parse(&["--all", "--limit", "7"])).page_size(),
            Some(7)
        );
        let cursor = id(2).to_string();
        assert_eq!(
            pages(parse(&["--cursor", &cursor])).cursor,
            Some(id(2)),
            "a cursor is an event id"
        );
        assert!(parse(&["--limit", "0"]).is_err());
        assert!(parse(&["--limit", "101"]).is_err());
        assert!(parse(&["--cursor", "yesterday"]).is_err());
        assert!(Ledger::try_parse_from(["ledger", "payouts", "not-a-vendor"]).is_err());
        assert!(Ledger::try_parse_from(["ledger", "balance"]).is_err());
        let payouts = Ledger::try_parse_from(["ledger", "payouts", vendor.as_str(), "--all"]);
        assert!(pages(payouts).all);
        for bare in ["income", "check"] {
            assert!(Ledger::try_parse_from(["ledger", bare]).is_ok(), "{bare}");
        }
    }

    #[tokio::test]
    async fn every_page_is_fetched_only_when_asked_for() {
        let fetched = std::sync::Mutex::new(Vec::new());
        let fetch = |cursor: Option<Uuid>| {
            fetched.lock().expect("lock").push(cursor);
            // Three pages: from the start, after 10, after 20.
            let page = match cursor.map(|c| c.as_u128()) {
                None => (vec![1, 2], Some(id(10))),
                Some(10) => (vec![3], Some(id(20))),
                _ => (vec![4], None),
            };
            async move { Ok::<_, ClientError>(page) }
        };
        assert_eq!(
            fetch_pages(false, None, fetch).await.expect("one page"),
            (vec![1, 2], Some(id(10)))
        );
        assert_eq!(
            fetch_pages(true, None, fetch).await.expect("every page"),
            (vec![1, 2, 3, 4], None)
        );
        assert_eq!(
            fetch_pages(true, Some(id(10)), fetch)
                .await
                .expect("from a cursor"),
            (vec![3, 4], None)
        );
        assert_eq!(
            *fetched.lock().expect("lock"),
            vec![
                None,
                None,
                Some(id(10)),
                Some(id(20)),
                Some(id(10)),
                Some(id(20))
            ]
        );
    }

    fn entry(reason: &str, pending: i64, available: i64, commission: i64) -> StatementEntry {
        StatementEntry {
            event_id: id(3),
            at: at("2026-11-26T10:00:00Z"),
            reason: reason.into(),
            order_id: id(4),
            return_id: None,
            payout_id: None,
            currency: "EUR".into(),
            pending_minor: pending,
            available_minor: available,
            paid_out_minor: 0,
            commission_minor: commission,
            customer_minor: 0,
            lines: Vec::new(),
        }
    }

    #[test]
    fn a_statement_shows_each_entrys_movements_signed_and_its_lines() {
        let credited = StatementEntry {
            lines: vec![
                StatementLine {
                    product_id: id(6),
                    quantity: 2,
                    line_total_minor: Some(5000),
                    refund_minor: None,
                    commission_minor: 500,
                },
                StatementLine {
                    product_id: id(7),
                    quantity: 1,
                    line_total_minor: Some(2500),
                    refund_minor: None,
                    commission_minor: 225,
                },
            ],
            customer_minor: 7500,
            ..entry("sale_credited", 6775, 0, 725)
        };
        let released = entry("funds_released", -6775, 6775, 0);
        let page = StatementPage {
            items: vec![released, credited],
            next_cursor: Some(id(3)),
        };
        let shown = squeeze(&render_statement(id(1), &page));
        let order = id(4);
        assert!(
            shown.starts_with("DATE REASON ORDER PENDING AVAILABLE PAID OUT COMMISSION LINES\n"),
            "{shown}"
        );
        assert!(
            shown.contains(&format!(
                "2026-11-26 10:00 funds_released {order} -67.75 EUR +67.75 EUR\n"
            )),
            "{shown}"
        );
        assert!(
            shown.contains(&format!(
                "2026-11-26 10:00 sale_credited {order} +67.75 EUR +7.25 EUR 3 units, 2 lines"
            )),
            "{shown}"
        );
        assert!(
            shown.ends_with(&format!("More: add --cursor {} (or --all)", id(3))),
            "{shown}"
        );
        let empty = StatementPage {
            items: Vec::new(),
            next_cursor: None,
        };
        assert_eq!(
            render_statement(id(1), &empty),
            format!("No ledger entries for vendor {}.", id(1))
        );
    }

    #[test]
    fn a_balance_payouts_and_income_show_amounts_with_their_currency() {
        let balance = VendorBalance {
            vendor_id: id(1),
            balances: vec![CurrencyBalance {
                currency: "EUR".into(),
                pending_minor: 0,
                available_minor: -250,
                paid_out_minor: 4500,
            }],
        };
        let shown = squeeze(&render_balance(&balance));
        assert_eq!(
            shown,
            format!(
                "Vendor {}\nCURRENCY PENDING AVAILABLE PAID OUT\nEUR 0.00 EUR -2.50 EUR 45.00 EUR",
                id(1)
            )
        );
        let page = PayoutPage {
            items: vec![
                Payout {
                    payout_id: id(2),
                    currency: "EUR".into(),
                    amount_minor: 4500,
                    sales: 2,
                    started_at: at("2026-11-26T10:00:00Z"),
                    completed_at: None,
                },
                Payout {
                    payout_id: id(5),
                    currency: "JPY".into(),
                    amount_minor: 1500,
                    sales: 1,
                    started_at: at("2026-11-20T10:00:00Z"),
                    completed_at: Some(at("2026-11-20T10:00:01Z")),
                },
            ],
            next_cursor: None,
        };
        let shown = squeeze(&render_payouts(id(1), &page));
        assert!(
            shown.contains(&format!(
                "{} 45.00 EUR 2 2026-11-26 10:00 open (the next run finishes it)",
                id(2)
            )),
            "{shown}"
        );
        assert!(
            shown.ends_with(&format!(
                "{} 1500 JPY 1 2026-11-20 10:00 2026-11-20 10:00",
                id(5)
            )),
            "{shown}"
        );
        let income = CommissionIncome {
            currencies: vec![CurrencyIncome {
                currency: "EUR".into(),
                commission_minor: 725,
                customer_payments_minor: 7250,
                vendors_pending_minor: 0,
                vendors_available_minor: 2025,
                vendors_paid_out_minor: 4500,
            }],
        };
        assert!(squeeze(&render_income(&income))
            .ends_with("EUR 7.25 EUR 72.50 EUR 0.00 EUR 20.25 EUR 45.00 EUR"));
    }

    fn eur_books() -> CurrencyBooks {
        CurrencyBooks {
            currency: "EUR".into(),
            clearing_minor: -7250,
            commission_minor: 725,
            pending_minor: 0,
            available_minor: 2025,
            paid_out_minor: 4500,
            payments_captured_minor: 10000,
            payments_refunded_minor: 2750,
            read_model: [-7250, 725, 0, 2025, 4500],
        }
    }

    #[test]
    fn balanced_books_say_so_per_currency() {
        let checked = CheckedBooks::new(Books {
            currencies: vec![eur_books()],
            unbalanced_events: Vec::new(),
        });
        assert!(checked.balanced);
        let shown = squeeze(&render_books(&checked));
        assert_eq!(
            shown,
            "CURRENCY CLEARING COMMISSION PENDING AVAILABLE PAID OUT CAPTURED REFUNDED\n\
             EUR -72.50 EUR 7.25 EUR 0.00 EUR 20.25 EUR 45.00 EUR 100.00 EUR 27.50 EUR\n\
             \n\
             EUR: balanced\n\
             The books are balanced."
        );
        let json = serde_json::to_value(&checked).expect("serialises");
        assert_eq!(json["balanced"], true);
        assert_eq!(json["currencies"][0]["commission_minor"], 725);
        assert_eq!(json["unbalanced_events"], serde_json::json!([]));
        assert_eq!(
            render_books(&CheckedBooks::new(Books::default())),
            "No ledger entries yet: the books are balanced."
        );
    }

    #[test]
    fn unbalanced_books_list_every_problem() {
        let behind = CurrencyBooks {
            currency: "USD".into(),
            read_model: [0; 5],
            ..eur_books()
        };
        let checked = CheckedBooks::new(Books {
            currencies: vec![eur_books(), behind],
            unbalanced_events: vec![id(8)],
        });
        assert!(!checked.balanced);
        assert_eq!(checked.problems.len(), 2, "{:?}", checked.problems);
        let shown = render_books(&checked);
        assert!(shown.contains("EUR: balanced\n"), "{shown}");
        assert!(!shown.contains("USD: balanced"), "{shown}");
        assert!(
            shown.contains("The books do not balance:\n- USD: the read model sums"),
            "{shown}"
        );
        assert!(
            shown.ends_with(&format!(
                "- ledger events whose entries do not sum to zero: [{}]",
                id(8)
            )),
            "{shown}"
        );
        let json = serde_json::to_value(&checked).expect("serialises");
        assert_eq!(json["balanced"], false);
        assert_eq!(json["problems"].as_array().map(Vec::len), Some(2));
    }
}
