//! Inventory: stock receipts, the only inventory command a client sends (reservations are made
//! by the checkout saga).
use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::{Accepted, ClientError, CommandOptions, CommerceClient};

#[derive(Serialize)]
struct ReceiptBody {
    quantity: u32,
}

impl CommerceClient {
    /// `POST /v1/inventory/{product_id}/receipts` (owning vendor, admin): adds `quantity` units to
    /// the product's stock. Use an idempotency key: a blind retry would otherwise count the
    /// units twice.
    pub async fn receive_stock(
        &self,
        product_id: Uuid,
        quantity: u32,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/inventory/{product_id}/receipts");
        self.command(Method::POST, &path, &ReceiptBody { quantity }, options)
            .await
    }
}
