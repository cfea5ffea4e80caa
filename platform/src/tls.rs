//! The process's rustls crypto provider.
//!
//! Two are compiled in (aws-lc-rs for sqlx and the AWS SDK, ring for reqwest), so rustls cannot
//! choose one by itself, and whatever asks it for the process's provider panics ("no process-level
//! CryptoProvider") unless one was installed: the redis crate's `rediss://` connections do, and so
//! does sqlx's `sslmode=verify-ca`. Every Redis and Postgres connection installs aws-lc-rs first.
use std::sync::Once;

/// Installs aws-lc-rs (sqlx's and the AWS SDK's provider) as the process's; a no-op after the
/// first call, or when another provider was installed before (it serves as well).
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}
