//! `commerce commissions show|set`: the marketplace's commission rules through `commerce-client`
//! (admins). `set` reads the whole rules document from a file and refuses a bad one before
//! anything is sent: a misspelt field would otherwise be dropped, and a rule sent without its cap.
use std::path::{Path, PathBuf};

use clap::Subcommand;
use commerce_client::{Accepted, CommissionRule, CommissionRules, CommissionRulesDocument};
use commerce_domain::Category;
use serde_json::{Map, Value};

use crate::output::{plural, Output, Table};
use crate::render;
use crate::storefront::{describe, ApiTarget, Session, UsageError};

#[derive(Debug, Subcommand)]
pub enum CommissionsCommand {
    /// The commission rules in force (admins): the default, each vendor's and each category's
    /// rule, and the version of the last change.
    Show,
    /// Replace every commission rule (admins); orders confirmed from now on take the new rules,
    /// orders confirmed before keep their commission. The file is checked before it is sent.
    Set {
        /// The rules as JSON: {"default": RULE, "vendors": {VENDOR_ID: RULE}, "categories":
        /// {SLUG: RULE}}, each RULE {"percent_bp": 0..10000, "flat": N, "floor": N, "cap": N}
        /// with amounts in minor units (the body of PUT /v1/commission-rules); `-` reads stdin.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

pub async fn commissions(
    target: &ApiTarget,
    command: CommissionsCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        CommissionsCommand::Show => {
            let client = target.authenticated_client().await?;
            let document = client.commission_rules().await.map_err(describe)?;
            output.print(&document, render_rules)
        }
        CommissionsCommand::Set { file } => {
            // Before signing in: a file that cannot be sent is a usage error, and nothing is sent.
            let rules = read_rules(&file)?;
            let Session {
                client,
                options,
                output,
            } = target.session(output).await?;
            let accepted = client
                .set_commission_rules(&rules, &options)
                .await
                .map_err(describe)?;
            output.print(&accepted, |accepted| render_set(&rules, accepted))
        }
    }
}

/// The rules in `file` (`-`: stdin), or a usage error naming the file and what is wrong.
fn read_rules(file: &Path) -> Result<CommissionRules, UsageError> {
    let from_stdin = file == Path::new("-");
    let shown = if from_stdin {
        "- (stdin)".to_owned()
    } else {
        file.display().to_string()
    };
    let text = if from_stdin {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| UsageError(format!("--file {shown}: cannot read it: {e}")))?;
    parse_rules(&text).map_err(|reason| UsageError(format!("--file {shown}: {reason}")))
}

/// The PUT body from JSON text, refused in words: it must read as [`CommissionRules`] with no
/// field left over, and each rule and category must pass the checks the API applies (the
/// domain's own), so the refusal comes before anything is sent.
pub fn parse_rules(text: &str) -> Result<CommissionRules, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let rules: CommissionRules =
        serde_json::from_str(text).map_err(|e| format!("not a commission rules document: {e}"))?;
    let unknown = unknown_fields(&value);
    if !unknown.is_empty() {
        return Err(format!(
            "unknown field(s) {}: the document's fields are {}; a rule's are {}",
            unknown.join(", "),
            field_names(&CommissionRules::default()).join(", "),
            field_names(&every_part()).join(", ")
        ));
    }
    check_rules(&rules)?;
    Ok(rules)
}

/// A rule with every part set: its JSON names every field a rule has.
fn every_part() -> CommissionRule {
    CommissionRule {
        percent_bp: Some(0),
        flat: Some(0),
        floor: Some(0),
        cap: Some(0),
    }
}

/// The field names `value` serialises with, so the lists below follow the client's types.
fn field_names<T: serde::Serialize>(value: &T) -> Vec<String> {
    match serde_json::to_value(value) {
        Ok(Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The fields of a document (already read as [`CommissionRules`], so its shape is right) that
/// the typed rules would drop, by path: `categories.books.cpa`. Vendor ids and categories are
/// keys, so they are walked, not compared.
fn unknown_fields(document: &Value) -> Vec<String> {
    let (mut document_fields, rule_fields) = (
        field_names(&CommissionRules::default()),
        field_names(&every_part()),
    );
    // What `commissions show --json` adds: its output, edited, is a file `set` takes.
    document_fields.push("version".to_owned());
    let unknown_in = |object: &Map<String, Value>, known: &[String], path: &str| {
        object
            .keys()
            .filter(|key| !known.contains(key))
            .map(|key| format!("{path}{key}"))
            .collect::<Vec<_>>()
    };
    let Some(top) = document.as_object() else {
        return Vec::new();
    };
    let mut unknown = unknown_in(top, &document_fields, "");
    if let Some(rule) = top.get("default").and_then(Value::as_object) {
        unknown.extend(unknown_in(rule, &rule_fields, "default."));
    }
    for overrides in ["vendors", "categories"] {
        let rules = top.get(overrides).and_then(Value::as_object);
        for (key, rule) in rules.into_iter().flatten() {
            if let Some(rule) = rule.as_object() {
                unknown.extend(unknown_in(
                    rule,
                    &rule_fields,
                    &format!("{overrides}.{key}."),
                ));
            }
        }
    }
    unknown
}

/// Each rule's bounds and consistency, and each category key, as the API checks them and in its
/// words (`categories.books.floor: must not exceed the cap (100), got 500`).
fn check_rules(rules: &CommissionRules) -> Result<(), String> {
    let check = |field: String, rule: &CommissionRule| {
        commerce_domain::commission::CommissionRule::new(
            &field,
            rule.percent_bp,
            rule.flat,
            rule.floor,
            rule.cap,
        )
        .map(drop)
        .map_err(|refused| refused.to_string())
    };
    check("default".to_owned(), &rules.default)?;
    for (vendor, rule) in &rules.vendors {
        check(format!("vendors.{vendor}"), rule)?;
    }
    for (name, rule) in &rules.categories {
        Category::parse(name).map_err(|e| format!("categories.{name}: {}", e.reason))?;
        check(format!("categories.{name}"), rule)?;
    }
    Ok(())
}

/// Basis points as a percentage: 1000 is `10.00 %`.
fn percent(bp: u32) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

/// A rule's row: what it applies to, then its parts (`-` for a part it does not have).
fn rule_row(applies_to: String, rule: &CommissionRule) -> Vec<String> {
    let minor = |part: Option<i64>| part.map_or_else(|| "-".to_owned(), |n| n.to_string());
    vec![
        applies_to,
        rule.percent_bp.map_or_else(|| "-".to_owned(), percent),
        minor(rule.flat),
        minor(rule.floor),
        minor(rule.cap),
    ]
}

fn render_rules(document: &CommissionRulesDocument) -> String {
    let rules = &document.rules;
    let mut out = if document.version == 0 {
        "No commission rules set yet: the marketplace takes nothing.".to_owned()
    } else {
        format!("Commission rules in force (version {}).", document.version)
    };
    out.push_str(
        "\nA vendor's rule beats its category's, which beats the default. FLAT, FLOOR and CAP are \
         minor units of the line's currency (200 is 2.00 EUR).\n\n",
    );
    let mut table = Table::new(&[
        ("APPLIES TO", false),
        ("PERCENT", true),
        ("FLAT", true),
        ("FLOOR", true),
        ("CAP", true),
    ]);
    table.row(rule_row("default".to_owned(), &rules.default));
    for (vendor, rule) in &rules.vendors {
        table.row(rule_row(format!("vendor {vendor}"), rule));
    }
    for (category, rule) in &rules.categories {
        table.row(rule_row(format!("category {category}"), rule));
    }
    out.push_str(&table.render());
    if document.version == 0 {
        out.push_str("\n\nSet them: commerce commissions set --file rules.json");
    }
    out
}

/// What was set, the version, and the command that reads it back.
fn render_set(rules: &CommissionRules, accepted: &Accepted) -> String {
    let what = format!(
        "Commission rules set: the default, {} and {}; orders confirmed from now on take them",
        plural(rules.vendors.len() as u64, "vendor rule", "vendor rules"),
        plural(
            rules.categories.len() as u64,
            "category rule",
            "category rules"
        ),
    );
    render::accepted(&what, accepted)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use uuid::Uuid;

    use super::*;
    use crate::output::squeeze;

    #[derive(Parser)]
    struct Commissions {
        #[command(subcommand)]
        command: CommissionsCommand,
    }

    #[test]
    fn set_needs_a_file_and_show_takes_nothing() {
        assert!(Commissions::try_parse_from(["commissions", "show"]).is_ok());
        assert!(Commissions::try_parse_from(["commissions", "show", "now"]).is_err());
        assert!(Commissions::try_parse_from(["commissions", "set"]).is_err());
        let parsed = Commissions::try_parse_from(["commissions", "set", "--file", "-"])
            .expect("stdin is a file");
        assert!(
            matches!(parsed.command, CommissionsCommand::Set { file } if file == Path::new("-"))
        );
    }

    #[test]
    fn a_rules_file_reads_into_the_body_it_sends() {
        let vendor = Uuid::from_u128(3);
        let rules = parse_rules(&format!(
            r#"{{
                "default": {{"percent_bp": 1000}},
                "vendors": {{"{vendor}": {{"percent_bp": 300, "floor": null}}}},
                "categories": {{"books": {{"percent_bp": 800, "floor": 200}},
                                "luxury": {{"flat": 25, "cap": 5000}}}}
            }}"#
        ))
        .expect("a valid file");
        assert_eq!(rules.default.percent_bp, Some(1000));
        assert_eq!(rules.vendors[&vendor].percent_bp, Some(300));
        assert_eq!(rules.vendors[&vendor].floor, None);
        assert_eq!(rules.categories["books"].floor, Some(200));
        assert_eq!(rules.categories["luxury"].flat, Some(25));
        // Vendors and categories may be left out: only the default is required.
        let only_default = parse_rules(r#"{"default": {"flat": 7}}"#).expect("valid");
        assert!(only_default.vendors.is_empty() && only_default.categories.is_empty());
    }

    #[test]
    fn a_rules_file_is_refused_with_what_is_wrong_before_anything_is_sent() {
        let vendor = Uuid::from_u128(3);
        for (text, words) in [
            ("{\"default\": ", "not JSON"),
            (r#"{"vendors": {}}"#, "missing field `default`"),
            (
                r#"{"default": {"percent_bp": "10"}}"#,
                "not a commission rules",
            ),
            (
                r#"{"default": {"percent_bp": -1}}"#,
                "not a commission rules",
            ),
            (
                r#"{"default": {"percent_bp": 1000}, "vendors": {"acme": {"flat": 1}}}"#,
                "not a commission rules",
            ),
            // A misspelt part would be dropped, and the rule sent without it.
            (
                r#"{"default": {"percent_bp": 1000, "cpa": 500}}"#,
                "unknown field(s) default.cpa: the document's fields are categories, default, vendors; a rule's are cap, flat, floor, percent_bp",
            ),
            (
                r#"{"default": {"flat": 1}, "categories": {"books": {"flat": 1, "percent": 5}}}"#,
                "unknown field(s) categories.books.percent",
            ),
            // The API's own checks, in its words.
            (
                r#"{"default": {"percent_bp": 10001}}"#,
                "default.percent_bp: must be 0 to 10000, got 10001",
            ),
            (
                r#"{"default": {}}"#,
                "default: needs percent_bp, flat or both",
            ),
            (
                r#"{"default": {"percent_bp": 100, "floor": 500, "cap": 100}}"#,
                "default.floor: must not exceed the cap (100), got 500",
            ),
            (
                r#"{"default": {"flat": 1}, "categories": {"Not A Slug": {"flat": 1}}}"#,
                "categories.Not A Slug: ",
            ),
        ] {
            let refused = parse_rules(text).expect_err(text);
            assert!(refused.contains(words), "{text}: {refused}");
        }
        let refused = parse_rules(&format!(
            r#"{{"default": {{"flat": 1}}, "vendors": {{"{vendor}": {{"flat": -5}}}}}}"#
        ))
        .expect_err("a negative fee");
        assert!(
            refused.starts_with(&format!("vendors.{vendor}.flat: must be 0 to")),
            "{refused}"
        );
    }

    #[test]
    fn an_unreadable_file_is_a_usage_error_naming_it() {
        let refused = read_rules(Path::new("/nonexistent/rules.json")).expect_err("no such file");
        assert!(
            refused
                .0
                .starts_with("--file /nonexistent/rules.json: cannot read it:"),
            "{}",
            refused.0
        );
    }

    #[test]
    fn the_rules_show_each_rule_with_its_percentage_and_minor_units() {
        let vendor = Uuid::from_u128(3);
        let document: CommissionRulesDocument = serde_json::from_value(serde_json::json!({
            "default": {"percent_bp": 1000},
            "vendors": {vendor.to_string(): {"percent_bp": 250, "flat": 30}},
            "categories": {"books": {"percent_bp": 800, "floor": 200, "cap": 5000}},
            "version": 4
        }))
        .expect("a document");
        let shown = squeeze(&render_rules(&document));
        assert!(
            shown.starts_with("Commission rules in force (version 4)."),
            "{shown}"
        );
        assert!(
            shown.contains("minor units of the line's currency"),
            "{shown}"
        );
        assert!(
            shown.ends_with(&format!(
                "APPLIES TO PERCENT FLAT FLOOR CAP\n\
                 default 10.00 % - - -\n\
                 vendor {vendor} 2.50 % 30 - -\n\
                 category books 8.00 % - 200 5000"
            )),
            "{shown}"
        );
        let unset = squeeze(&render_rules(&CommissionRulesDocument {
            rules: CommissionRules {
                default: CommissionRule {
                    percent_bp: Some(0),
                    ..CommissionRule::default()
                },
                ..CommissionRules::default()
            },
            version: 0,
        }));
        assert!(
            unset.starts_with("No commission rules set yet: the marketplace takes nothing."),
            "{unset}"
        );
        assert!(unset.contains("\ndefault 0.00 % - - -\n"), "{unset}");
        assert!(
            unset.ends_with("Set them: commerce commissions set --file rules.json"),
            "{unset}"
        );
    }

    #[test]
    fn a_set_says_what_it_set_and_how_to_read_it_back() {
        let rules = parse_rules(
            r#"{"default": {"percent_bp": 1000}, "categories": {"books": {"flat": 5}}}"#,
        )
        .expect("valid");
        let accepted = Accepted {
            aggregate_type: Some("CommissionSchedule".into()),
            aggregate_id: "marketplace".into(),
            version: 5,
            read_with: None,
        };
        assert_eq!(
            render_set(&rules, &accepted),
            "Commission rules set: the default, 0 vendor rules and 1 category rule; orders \
             confirmed from now on take them (version 5).\n\
             Read it back: commerce commissions show"
        );
    }
}
