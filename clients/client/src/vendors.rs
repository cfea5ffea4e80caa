//! Vendors: a seller's application and the admins' decisions on it (command API), and vendors'
//! profiles (read API).
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::{endpoint, single_read_url, QueryString};
use crate::{Accepted, ClientError, CommandOptions, CommerceClient};

/// A seller's application to sell on the marketplace; it starts `pending` unless an admin admits
/// it at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorApplication {
    /// The name buyers see, 1 to 120 characters.
    pub name: String,
    /// Where the marketplace reaches the vendor (`name@example.com`); personal data, never shown
    /// in the catalog.
    pub contact_email: String,
    /// `pending` (the server's default) or, for admins, `approved`: admitted at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why an admin admits the vendor at once; required with `approved`, refused without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Admins only: register a vendor that already sells under this id instead of a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
}

/// The answer to [`CommerceClient::apply_vendor`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorCreated {
    pub vendor_id: Uuid,
    pub aggregate_id: String,
    /// Pass as `min_version` to [`CommerceClient::get_vendor`] to read the new vendor.
    pub version: i64,
}

/// A vendor's profile. Everyone reads an admitted vendor's public part; the applicant, the vendor
/// itself and admins also read who applied, when, and the decisions taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorProfile {
    pub vendor_id: Uuid,
    #[serde(default)]
    pub name: String,
    /// `pending`, `approved` or `suspended`.
    #[serde(default)]
    pub status: String,
    /// The consistency token of vendor commands: compare with their `version`.
    pub version: i64,
    /// Who applied (a user id); for the vendor, its applicant and admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant_id: Option<Uuid>,
    /// For the vendor, its applicant and admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<DateTime<Utc>>,
    /// Every admin decision, oldest first; for the vendor, its applicant and admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<VendorDecision>>,
}

/// One admin decision on a vendor, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorDecision {
    /// `approved`, `suspended` or `reinstated`.
    pub decision: String,
    #[serde(default)]
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The vendor's version this decision made.
    pub version: i64,
}

/// One page of vendors, oldest application first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorPage {
    #[serde(default)]
    pub items: Vec<VendorProfile>,
    /// Put into [`VendorQuery::cursor`] for the next page; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Filters for [`CommerceClient::list_vendors`]; unset ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorQuery {
    /// Only vendors in this status: `pending` (the applications to decide), `approved` or
    /// `suspended`.
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (the server's default is 20).
    pub limit: Option<u32>,
}

#[derive(Serialize)]
struct DecisionBody<'a> {
    reason: &'a str,
}

impl CommerceClient {
    /// `POST /v1/vendors` (any signed-in user; admins may admit at once and name the id).
    pub async fn apply_vendor(
        &self,
        application: &VendorApplication,
        options: CommandOptions,
    ) -> Result<VendorCreated, ClientError> {
        self.command(Method::POST, "/v1/vendors", application, &options)
            .await
    }

    /// `POST /v1/vendors/{id}/approve` (admin): admits a pending vendor, which may then list and
    /// publish products.
    pub async fn approve_vendor(
        &self,
        vendor_id: Uuid,
        reason: &str,
        options: CommandOptions,
    ) -> Result<Accepted, ClientError> {
        self.vendor_decision(vendor_id, "approve", reason, &options)
            .await
    }

    /// `POST /v1/vendors/{id}/suspend` (admin): the catalog hides the vendor's products; once
    /// the profile reaches the answered `version`, they are hidden.
    pub async fn suspend_vendor(
        &self,
        vendor_id: Uuid,
        reason: &str,
        options: CommandOptions,
    ) -> Result<Accepted, ClientError> {
        self.vendor_decision(vendor_id, "suspend", reason, &options)
            .await
    }

    /// `POST /v1/vendors/{id}/reinstate` (admin): a suspended vendor sells again; its published
    /// products return to the catalog.
    pub async fn reinstate_vendor(
        &self,
        vendor_id: Uuid,
        reason: &str,
        options: CommandOptions,
    ) -> Result<Accepted, ClientError> {
        self.vendor_decision(vendor_id, "reinstate", reason, &options)
            .await
    }

    /// `GET /v1/vendors/{id}`, waiting up to 2 s for `min_version` (then 409). A pending vendor
    /// is a 404 to anyone but its applicant, the vendor itself and admins.
    pub async fn get_vendor(
        &self,
        vendor_id: Uuid,
        min_version: Option<i64>,
    ) -> Result<VendorProfile, ClientError> {
        self.read(vendor_url(self.read_api_base(), vendor_id, min_version))
            .await
    }

    /// `GET /v1/vendors` (admin): vendors in application order.
    pub async fn list_vendors(&self, query: &VendorQuery) -> Result<VendorPage, ClientError> {
        self.read(list_vendors_url(self.read_api_base(), query))
            .await
    }

    async fn vendor_decision(
        &self,
        vendor_id: Uuid,
        decision: &str,
        reason: &str,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/vendors/{vendor_id}/{decision}");
        self.command(Method::POST, &path, &DecisionBody { reason }, options)
            .await
    }
}

fn vendor_url(base: &str, vendor_id: Uuid, min_version: Option<i64>) -> String {
    single_read_url(base, &format!("/v1/vendors/{vendor_id}"), min_version)
}

fn list_vendors_url(base: &str, query: &VendorQuery) -> String {
    QueryString::default()
        .param("status", query.status.as_deref())
        .param("cursor", query.cursor.as_deref())
        .param("limit", query.limit)
        .append_to(endpoint(base, "/v1/vendors"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_vendors_url_sends_only_what_is_set() {
        let query = VendorQuery {
            status: Some("pending".into()),
            cursor: Some("0190-abc".into()),
            limit: Some(10),
        };
        assert_eq!(
            list_vendors_url("http://reads.test/", &query),
            "http://reads.test/v1/vendors?status=pending&cursor=0190-abc&limit=10"
        );
        assert_eq!(
            list_vendors_url("http://reads.test", &VendorQuery::default()),
            "http://reads.test/v1/vendors"
        );
    }

    #[test]
    fn vendor_url_carries_min_version() {
        let id = Uuid::from_u128(2);
        assert_eq!(
            vendor_url("http://reads.test", id, Some(3)),
            format!("http://reads.test/v1/vendors/{id}?min_version=3")
        );
        assert_eq!(
            vendor_url("http://reads.test", id, None),
            format!("http://reads.test/v1/vendors/{id}")
        );
    }

    #[test]
    fn an_application_leaves_out_what_is_unset() {
        let application = VendorApplication {
            name: "Acme".into(),
            contact_email: "sales@acme.test".into(),
            ..VendorApplication::default()
        };
        assert_eq!(
            serde_json::to_value(&application).expect("serialises"),
            serde_json::json!({"name": "Acme", "contact_email": "sales@acme.test"})
        );
        let id = Uuid::from_u128(5);
        let admitted = VendorApplication {
            status: Some("approved".into()),
            reason: Some("documents checked".into()),
            vendor_id: Some(id),
            ..application
        };
        assert_eq!(
            serde_json::to_value(&admitted).expect("serialises"),
            serde_json::json!({"name": "Acme", "contact_email": "sales@acme.test",
                "status": "approved", "reason": "documents checked", "vendor_id": id})
        );
    }

    #[test]
    fn a_decision_body_carries_the_reason() {
        let json = serde_json::to_value(DecisionBody { reason: "fraud" }).expect("serialises");
        assert_eq!(json, serde_json::json!({"reason": "fraud"}));
    }

    #[test]
    fn vendor_created_reads_the_flattened_answer() {
        let id = Uuid::from_u128(6);
        let created: VendorCreated = serde_json::from_value(serde_json::json!({
            "vendor_id": id, "aggregate_type": "Vendor", "aggregate_id": id.to_string(),
            "version": 1, "read_with": "min_version"
        }))
        .expect("decodes");
        assert_eq!(created.vendor_id, id);
        assert_eq!(created.version, 1);
    }

    #[test]
    fn a_public_profile_has_no_history_and_an_insiders_has_it() {
        let id = Uuid::from_u128(7);
        let public: VendorProfile = serde_json::from_value(serde_json::json!({
            "vendor_id": id, "name": "Acme", "status": "approved", "version": 2
        }))
        .expect("decodes");
        assert_eq!(public.history, None);
        assert_eq!(public.applicant_id, None);
        let insider: VendorProfile = serde_json::from_value(serde_json::json!({
            "vendor_id": id, "name": "Acme", "status": "approved", "version": 2,
            "applicant_id": Uuid::from_u128(8), "applied_at": "2026-11-01T09:00:00Z",
            "history": [{"decision": "approved", "reason": "documents checked",
                "at": "2026-11-02T10:00:00Z", "version": 2}],
            "rating": 5
        }))
        .expect("decodes");
        let history = insider.history.expect("history");
        assert_eq!(history[0].decision, "approved");
        assert_eq!(history[0].version, 2);
        let page: VendorPage =
            serde_json::from_str(r#"{"items": [], "next_cursor": null}"#).expect("decodes");
        assert!(page.items.is_empty());
        assert_eq!(page.next_cursor, None);
    }
}
