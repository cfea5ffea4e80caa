//! The marketplace's commission rules (command API, admins): what it takes of each order line, set
//! as one document and read back as the rules in force. The command API answers the read itself,
//! from the schedule, so an admin reads what it just set without waiting for a projection.
use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::endpoint;
use crate::{Accepted, ClientError, CommandOptions, CommerceClient};

const RULES_PATH: &str = "/v1/commission-rules";

/// One rule: a percentage of the line's total and/or a flat fee per line, held between an
/// optional floor and cap. Amounts are minor units of the line's currency (a line in EUR takes
/// cents, in JPY yen). The server refuses a rule with neither `percent_bp` nor `flat`, and a floor
/// above its cap (422).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommissionRule {
    /// Basis points of the line total, 0 to 10,000 (1,000 = 10 %), rounded half to even to the
    /// minor unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_bp: Option<u32>,
    /// A fee per line, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat: Option<i64>,
    /// The least taken of a line, in minor units (never more than the line itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<i64>,
    /// The most taken of a line, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<i64>,
}

/// Every commission rule of the marketplace: the body of
/// [`CommerceClient::set_commission_rules`], which replaces them all. A vendor's rule beats its
/// products' category's, which beats the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionRules {
    /// What applies when neither the vendor nor the category has a rule.
    pub default: CommissionRule,
    /// Per vendor id.
    #[serde(default)]
    pub vendors: BTreeMap<Uuid, CommissionRule>,
    /// Per category slug (`apparel`); a key that is not a slug is refused (422).
    #[serde(default)]
    pub categories: BTreeMap<String, CommissionRule>,
}

/// The rules in force, as [`CommerceClient::commission_rules`] answers them: the shape
/// [`CommerceClient::set_commission_rules`] takes, plus the schedule's version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionRulesDocument {
    #[serde(flatten)]
    pub rules: CommissionRules,
    /// The version the last accepted change answered; 0 when the rules were never set (the
    /// default then takes nothing).
    pub version: i64,
}

impl CommerceClient {
    /// `GET /v1/commission-rules` (admins): the rules in force, read from the schedule itself.
    pub async fn commission_rules(&self) -> Result<CommissionRulesDocument, ClientError> {
        self.read(endpoint(self.command_api_base(), RULES_PATH))
            .await
    }

    /// `PUT /v1/commission-rules` (admins): replaces every rule. Orders confirmed from now on
    /// have their lines' commission fixed under them; orders confirmed before keep theirs. Setting
    /// the rules already in force answers the unchanged version.
    pub async fn set_commission_rules(
        &self,
        rules: &CommissionRules,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        self.command(Method::PUT, RULES_PATH, rules, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_body_leaves_out_the_parts_a_rule_does_not_have() {
        let vendor = Uuid::from_u128(3);
        let rules = CommissionRules {
            default: CommissionRule {
                percent_bp: Some(1000),
                ..CommissionRule::default()
            },
            vendors: BTreeMap::from([(
                vendor,
                CommissionRule {
                    flat: Some(50),
                    ..CommissionRule::default()
                },
            )]),
            categories: BTreeMap::from([(
                "books".to_owned(),
                CommissionRule {
                    percent_bp: Some(800),
                    floor: Some(200),
                    cap: Some(5000),
                    ..CommissionRule::default()
                },
            )]),
        };
        assert_eq!(
            serde_json::to_value(&rules).expect("serialises"),
            serde_json::json!({
                "default": {"percent_bp": 1000},
                "vendors": {vendor.to_string(): {"flat": 50}},
                "categories": {"books": {"percent_bp": 800, "floor": 200, "cap": 5000}}
            })
        );
    }

    #[test]
    fn the_document_reads_the_rules_and_their_version_and_tolerates_new_fields() {
        let vendor = Uuid::from_u128(4);
        let document: CommissionRulesDocument = serde_json::from_value(serde_json::json!({
            "default": {"percent_bp": 1000, "currency_hint": "EUR"},
            "vendors": {vendor.to_string(): {"percent_bp": 300}},
            "categories": {"luxury": {"percent_bp": 1500, "cap": 5000}},
            "version": 2,
            "updated_by": "root"
        }))
        .expect("decodes");
        assert_eq!(document.version, 2);
        assert_eq!(document.rules.default.percent_bp, Some(1000));
        assert_eq!(document.rules.vendors[&vendor].percent_bp, Some(300));
        assert_eq!(document.rules.categories["luxury"].cap, Some(5000));
        assert_eq!(document.rules.categories["luxury"].floor, None);
        // Never set: the default takes nothing, and there are no overrides.
        let unset: CommissionRulesDocument = serde_json::from_value(serde_json::json!({
            "default": {"percent_bp": 0}, "vendors": {}, "categories": {}, "version": 0
        }))
        .expect("decodes");
        assert!(unset.rules.vendors.is_empty() && unset.rules.categories.is_empty());
        // Printed again, it is the shape the server answered (what `--json` shows).
        assert_eq!(
            serde_json::to_value(&unset).expect("serialises"),
            serde_json::json!({
                "default": {"percent_bp": 0}, "vendors": {}, "categories": {}, "version": 0
            })
        );
    }
}
