//! `commerce payouts run`: an admin runs the payout run now, through `commerce-client`: sales past
//! their hold are released and every vendor is paid its available balance, once.
use std::time::Duration;

use clap::Subcommand;
use commerce_client::{ClientError, Money, PayoutRunReport};

use crate::output::{plural, Table};
use crate::storefront::{describe, Session};

/// How long `payouts run` waits for its answer: the run answers once every vendor's transfer is
/// done, which takes as long as the payment provider does.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Subcommand)]
pub enum PayoutsCommand {
    /// Run the payout run now (admins): release every sale whose sub-order shipped longer ago
    /// than the hold period, finish payouts an earlier run left open, and pay each vendor its
    /// available balance per currency. Exits non-zero when a vendor could not be paid (the next
    /// run pays it; nobody is paid twice).
    Run,
}

pub async fn payouts(session: &Session, command: PayoutsCommand) -> anyhow::Result<()> {
    let Session {
        client,
        options,
        output,
    } = session;
    match command {
        PayoutsCommand::Run => {
            let report = client.run_payouts(options).await.map_err(lost_answer)?;
            output.print(&report, render_report)?;
            anyhow::ensure!(
                report.failures.is_empty(),
                "{} vendor(s) could not be paid; the next payout run pays them",
                report.failures.len()
            );
            Ok(())
        }
    }
}

/// A run whose answer never came goes on in the server: say where to see what it did.
fn lost_answer(error: ClientError) -> anyhow::Error {
    let timed_out = matches!(&error, ClientError::Transport(e) if e.is_timeout());
    let described = describe(error);
    if timed_out {
        described.context(
            "no answer from the payout run; it goes on in the server (`commerce audit --action \
             payout_run` shows it once over), and running it again pays nobody twice",
        )
    } else {
        described
    }
}

fn render_report(report: &PayoutRunReport) -> String {
    let mut out = format!(
        "Payout run {}: {} released, {} made, {}.",
        report.run_id,
        plural(report.released, "sale", "sales"),
        plural(report.payouts.len() as u64, "payout", "payouts"),
        plural(report.failures.len() as u64, "failure", "failures"),
    );
    if !report.payouts.is_empty() {
        let mut table = Table::new(&[
            ("VENDOR", false),
            ("PAYOUT", false),
            ("AMOUNT", true),
            ("SALES", true),
        ]);
        for payout in &report.payouts {
            table.row(vec![
                payout.vendor_id.to_string(),
                payout.payout_id.to_string(),
                Money::new(payout.amount_minor, payout.currency.as_str()).to_string(),
                payout.sales.to_string(),
            ]);
        }
        out.push_str("\n\n");
        out.push_str(&table.render());
    }
    if !report.failures.is_empty() {
        let mut table = Table::new(&[("VENDOR", false), ("ERROR", false)]);
        for failure in &report.failures {
            table.row(vec![failure.vendor_id.to_string(), failure.error.clone()]);
        }
        out.push_str("\n\nNot paid (the next run pays them):\n");
        out.push_str(&table.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use commerce_client::{PayoutFailure, PayoutMade};
    use uuid::Uuid;

    use super::*;
    use crate::output::squeeze;

    #[derive(Parser)]
    struct Payouts {
        #[command(subcommand)]
        command: PayoutsCommand,
    }

    #[test]
    fn run_takes_no_arguments() {
        assert!(Payouts::try_parse_from(["payouts", "run"]).is_ok());
        assert!(Payouts::try_parse_from(["payouts", "run", "now"]).is_err());
        assert!(Payouts::try_parse_from(["payouts"]).is_err());
    }

    #[test]
    fn a_report_lists_each_payout_with_its_amount_and_each_vendor_left_unpaid() {
        let report = PayoutRunReport {
            run_id: Uuid::from_u128(9),
            released: 3,
            payouts: vec![
                PayoutMade {
                    vendor_id: Uuid::from_u128(1),
                    payout_id: Uuid::from_u128(2),
                    currency: "EUR".into(),
                    amount_minor: 4500,
                    sales: 2,
                },
                PayoutMade {
                    vendor_id: Uuid::from_u128(1),
                    payout_id: Uuid::from_u128(4),
                    currency: "JPY".into(),
                    amount_minor: 1500,
                    sales: 1,
                },
            ],
            failures: vec![PayoutFailure {
                vendor_id: Uuid::from_u128(3),
                error: "the provider refused the transfer".into(),
            }],
        };
        let shown = squeeze(&render_report(&report));
        assert!(
            shown.starts_with(&format!(
                "Payout run {}: 3 sales released, 2 payouts made, 1 failure.",
                Uuid::from_u128(9)
            )),
            "{shown}"
        );
        assert!(
            shown.contains(&format!(
                "{} {} 45.00 EUR 2",
                Uuid::from_u128(1),
                Uuid::from_u128(2)
            )),
            "{shown}"
        );
        assert!(shown.contains("1500 JPY 1"), "{shown}");
        assert!(
            shown.ends_with(&format!(
                "Not paid (the next run pays them):\nVENDOR ERROR\n{} the provider refused the \
                 transfer",
                Uuid::from_u128(3)
            )),
            "{shown}"
        );
        let quiet = render_report(&PayoutRunReport {
            run_id: Uuid::nil(),
            released: 1,
            ..PayoutRunReport::default()
        });
        assert_eq!(
            quiet,
            format!(
                "Payout run {}: 1 sale released, 0 payouts made, 0 failures.",
                Uuid::nil()
            )
        );
    }
}
