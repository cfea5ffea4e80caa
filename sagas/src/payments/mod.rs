//! TEMPORARY interface stub; replaced by the provider module.
use commerce_domain::Money;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("declined: {reason}")]
    Declined { reason: String },
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    #[error("provider refused the request: {0}")]
    Rejected(String),
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    async fn authorize(
        &self,
        payment_id: Uuid,
        token: &str,
        amount: &Money,
    ) -> Result<(), ProviderError>;
    async fn capture(&self, payment_id: Uuid, amount: &Money) -> Result<(), ProviderError>;
    async fn void(&self, payment_id: Uuid) -> Result<(), ProviderError>;
    async fn refund(
        &self,
        payment_id: Uuid,
        refund_id: Uuid,
        amount: &Money,
    ) -> Result<(), ProviderError>;
}

pub struct HttpPaymentProvider;
impl HttpPaymentProvider {
    pub fn new(_base_url: &str, _timeout: std::time::Duration) -> anyhow::Result<Self> {
        Ok(Self)
    }
}
#[async_trait::async_trait]
impl PaymentProvider for HttpPaymentProvider {
    async fn authorize(&self, _: Uuid, _: &str, _: &Money) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn capture(&self, _: Uuid, _: &Money) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn void(&self, _: Uuid) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn refund(&self, _: Uuid, _: Uuid, _: &Money) -> Result<(), ProviderError> {
        Ok(())
    }
}
