//! `commerce vendors apply|approve|suspend|reinstate|show|list`: a seller's admission to the
//! marketplace and the admins' decisions on it, through `commerce-client`.
use clap::{Subcommand, ValueEnum};
use commerce_client::{
    Accepted, VendorApplication, VendorCreated, VendorPage, VendorProfile, VendorQuery,
};
use commerce_domain::{ContactEmail, Reason, ValidationError, VendorName};
use uuid::Uuid;

use crate::output::{fields, shorten, Table};
use crate::render;
use crate::storefront::{describe, parse_id, Session};

/// Names longer than this are cut in tables.
const NAME_WIDTH: usize = 40;

#[derive(Debug, Subcommand)]
pub enum VendorsCommand {
    /// Apply to sell on the marketplace (any signed-in user): the vendor waits, pending, for an
    /// admin's approval. An admin may admit it at once (--approve --reason).
    Apply {
        /// The name buyers see, 1 to 120 characters.
        #[arg(long, value_parser = checked(VendorName::parse))]
        name: String,
        /// Where the marketplace reaches the vendor, such as sales@example.com (never shown in
        /// the catalog).
        #[arg(long, value_parser = checked(ContactEmail::parse))]
        contact_email: String,
        /// Admit the vendor at once, without an application to decide (admins only; needs
        /// --reason).
        #[arg(long, requires = "reason")]
        approve: bool,
        /// Why the vendor is admitted at once, 1 to 500 characters (only with --approve).
        #[arg(long, requires = "approve", value_parser = checked(Reason::parse))]
        reason: Option<String>,
        /// Register a vendor that already sells under this id instead of a new one (admins
        /// only).
        #[arg(long, value_parser = parse_id)]
        vendor_id: Option<Uuid>,
    },
    /// Admit a pending vendor (admins): it may then list and publish products.
    Approve {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
        /// Why, for the vendor's history: 1 to 500 characters.
        #[arg(long, value_parser = checked(Reason::parse))]
        reason: String,
    },
    /// Stop an approved vendor selling (admins): the catalog hides its products; its open
    /// orders are still shipped.
    Suspend {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
        /// Why, for the vendor's history: 1 to 500 characters.
        #[arg(long, value_parser = checked(Reason::parse))]
        reason: String,
    },
    /// Let a suspended vendor sell again (admins): its published products return to the
    /// catalog.
    Reinstate {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
        /// Why, for the vendor's history: 1 to 500 characters.
        #[arg(long, value_parser = checked(Reason::parse))]
        reason: String,
    },
    /// One vendor's profile (read API); its applicant, the vendor itself and admins also see
    /// who applied and every decision with its reason.
    Show {
        /// The vendor's id.
        #[arg(value_parser = parse_id)]
        vendor_id: Uuid,
        /// Wait (at most 2 s) until the profile has this version (the `version` a vendor
        /// command answered).
        #[arg(long)]
        min_version: Option<i64>,
    },
    /// Vendors in application order (admins): `--status pending` lists the applications to
    /// decide.
    List {
        /// Only vendors in this status.
        #[arg(long, value_enum)]
        status: Option<VendorStatus>,
        /// Page size, 1 to 100 (default 20).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// A vendor's standing, to list by.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VendorStatus {
    /// Applied, waiting for an admin's decision.
    Pending,
    /// Admitted: lists and publishes products.
    Approved,
    /// Stopped by an admin: its products are hidden.
    Suspended,
}

impl VendorStatus {
    fn as_str(self) -> &'static str {
        match self {
            VendorStatus::Pending => "pending",
            VendorStatus::Approved => "approved",
            VendorStatus::Suspended => "suspended",
        }
    }
}

/// An argument checked by the domain's own rule before anything is sent, refused in the API's
/// words; the text is sent as given (the API checks it again).
fn checked<T: 'static>(
    parse: fn(&str) -> Result<T, ValidationError>,
) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static {
    move |text: &str| parse(text).map(|_| text.to_owned()).map_err(|e| e.reason)
}

pub async fn vendors(session: &Session, command: VendorsCommand) -> anyhow::Result<()> {
    let Session {
        client,
        options,
        output,
    } = session;
    match command {
        VendorsCommand::Apply {
            name,
            contact_email,
            approve,
            reason,
            vendor_id,
        } => {
            let application = VendorApplication {
                name,
                contact_email,
                status: approve.then(|| "approved".to_owned()),
                reason,
                vendor_id,
            };
            let created = client
                .apply_vendor(&application, options.clone())
                .await
                .map_err(describe)?;
            output.print(&created, |created| {
                render_created(created, &application.name, approve)
            })
        }
        VendorsCommand::Approve { vendor_id, reason } => {
            let accepted = client
                .approve_vendor(vendor_id, &reason, options.clone())
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                render::accepted(&format!("Vendor {vendor_id} is approved ({reason})"), a)
            })
        }
        VendorsCommand::Suspend { vendor_id, reason } => {
            let accepted = client
                .suspend_vendor(vendor_id, &reason, options.clone())
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                let what = format!(
                    "Vendor {vendor_id} is suspended ({reason}); the catalog hides its products \
                     once the profile shows this version"
                );
                render::accepted(&what, a)
            })
        }
        VendorsCommand::Reinstate { vendor_id, reason } => {
            let accepted = client
                .reinstate_vendor(vendor_id, &reason, options.clone())
                .await
                .map_err(describe)?;
            output.print(&accepted, |a| {
                let what = format!(
                    "Vendor {vendor_id} is reinstated ({reason}); its published products return \
                     to the catalog once the profile shows this version"
                );
                render::accepted(&what, a)
            })
        }
        VendorsCommand::Show {
            vendor_id,
            min_version,
        } => {
            let profile = client
                .get_vendor(vendor_id, min_version)
                .await
                .map_err(describe)?;
            output.print(&profile, render_profile)
        }
        VendorsCommand::List {
            status,
            limit,
            cursor,
        } => {
            let query = VendorQuery {
                status: status.map(|s| s.as_str().to_owned()),
                cursor,
                limit,
            };
            let page = client.list_vendors(&query).await.map_err(describe)?;
            output.print(&page, render_page)
        }
    }
}

/// The new vendor's id, where it stands, and the read that shows it.
fn render_created(created: &VendorCreated, name: &str, approved: bool) -> String {
    let id = created.vendor_id;
    let what = if approved {
        format!("Vendor {id} ({name}) is admitted: approved")
    } else {
        format!("Vendor {id} ({name}) applied: pending until an admin approves it")
    };
    let answer = Accepted {
        aggregate_type: Some("Vendor".into()),
        aggregate_id: id.to_string(),
        version: created.version,
        read_with: Some("min_version".into()),
    };
    render::accepted(&what, &answer)
}

fn status_line(status: &str) -> String {
    match status {
        "pending" => "pending (waiting for an admin's approval)".into(),
        "suspended" => "suspended (its products are hidden from the catalog)".into(),
        other => other.to_owned(),
    }
}

fn render_profile(profile: &VendorProfile) -> String {
    let mut out = fields(&[
        ("vendor", profile.vendor_id.to_string()),
        ("name", profile.name.clone()),
        ("status", status_line(&profile.status)),
        ("version", profile.version.to_string()),
        (
            "applicant",
            profile
                .applicant_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        ),
        (
            "applied",
            profile
                .applied_at
                .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
        ),
    ]);
    let mut history = Table::new(&[("DECISION", false), ("AT", false), ("REASON", false)]);
    for decision in profile.history.iter().flatten() {
        history.row(vec![
            decision.decision.clone(),
            decision.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            decision.reason.clone(),
        ]);
    }
    if !history.is_empty() {
        out.push_str("\n\n");
        out.push_str(&history.render());
    }
    out
}

fn render_page(page: &VendorPage) -> String {
    if page.items.is_empty() {
        return "No vendors.".into();
    }
    let mut table = Table::new(&[
        ("VENDOR", false),
        ("NAME", false),
        ("STATUS", false),
        ("VERSION", true),
        ("APPLIED", false),
    ]);
    for vendor in &page.items {
        table.row(vec![
            vendor.vendor_id.to_string(),
            shorten(&vendor.name, NAME_WIDTH),
            vendor.status.clone(),
            vendor.version.to_string(),
            vendor
                .applied_at
                .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
        ]);
    }
    let mut out = table.render();
    if let Some(cursor) = &page.next_cursor {
        out.push_str(&format!("\nMore: add --cursor {cursor}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use commerce_client::VendorDecision;

    use super::*;
    use crate::output::squeeze;

    #[derive(Parser)]
    struct Vendors {
        #[command(subcommand)]
        command: VendorsCommand,
    }

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("time")
            .to_utc()
    }

    #[test]
    fn apply_needs_a_reason_exactly_when_it_admits() {
        let apply = |extra: &[&str]| {
            let mut args = vec![
                "vendors",
                "apply",
                "--name",
                "Acme",
                "--contact-email",
                "sales@acme.test",
            ];
            args.extend(extra);
            Vendors::try_parse_from(args)
        };
        assert!(apply(&[]).is_ok());
        assert!(apply(&["--approve", "--reason", "documents checked"]).is_ok());
        assert!(apply(&["--approve"]).is_err(), "--approve needs --reason");
        assert!(
            apply(&["--reason", "why"]).is_err(),
            "--reason needs --approve"
        );
        assert!(apply(&["--vendor-id", "nope"]).is_err());
        let bad_email = Vendors::try_parse_from([
            "vendors",
            "apply",
            "--name",
            "Acme",
            "--contact-email",
            "acme",
        ]);
        assert!(bad_email.is_err());
    }

    #[test]
    fn a_created_vendor_says_how_to_read_it_back() {
        let id = Uuid::from_u128(7);
        let created = VendorCreated {
            vendor_id: id,
            aggregate_id: id.to_string(),
            version: 1,
        };
        let shown = render_created(&created, "Acme", false);
        assert!(
            shown.contains(&format!("Vendor {id} (Acme) applied")),
            "{shown}"
        );
        assert!(
            shown.ends_with(&format!("commerce vendors show {id} --min-version 1")),
            "{shown}"
        );
    }

    #[test]
    fn a_profile_shows_its_status_and_history() {
        let profile = VendorProfile {
            vendor_id: Uuid::from_u128(1),
            name: "Acme".into(),
            status: "suspended".into(),
            version: 3,
            applicant_id: Some(Uuid::from_u128(2)),
            applied_at: Some(at("2026-11-01T09:00:00Z")),
            history: Some(vec![
                VendorDecision {
                    decision: "approved".into(),
                    reason: "documents checked".into(),
                    at: at("2026-11-02T10:00:00Z"),
                    version: 2,
                },
                VendorDecision {
                    decision: "suspended".into(),
                    reason: "chargebacks".into(),
                    at: at("2026-11-03T11:00:00Z"),
                    version: 3,
                },
            ]),
        };
        let shown = squeeze(&render_profile(&profile));
        assert!(shown.contains("name: Acme"), "{shown}");
        assert!(shown.contains("status: suspended"), "{shown}");
        assert!(shown.contains("version: 3"), "{shown}");
        assert!(
            shown.contains("approved 2026-11-02 10:00:00 documents checked"),
            "{shown}"
        );
        assert!(
            shown.contains("suspended 2026-11-03 11:00:00 chargebacks"),
            "{shown}"
        );
        let listed = squeeze(&render_page(&VendorPage {
            items: vec![profile],
            next_cursor: Some("abc".into()),
        }));
        assert!(
            listed.contains("Acme suspended 3 2026-11-01 09:00"),
            "{listed}"
        );
        assert!(listed.ends_with("More: add --cursor abc"), "{listed}");
    }
}
