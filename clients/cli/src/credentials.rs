//! The token pair `commerce login` keeps for the other commands: in `COMMERCE_CREDENTIALS`, or
//! `$XDG_CONFIG_HOME/commerce/credentials.json` (`~/.config/…`), readable by its owner only.
//! A command without `--token` uses its access token, refreshed first when it is about to
//! expire (the refresh token is single-use: the new pair is written back at once).
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use commerce_client::{CommerceClient, TokenPair};
use serde::{Deserialize, Serialize};

/// What is kept.
#[derive(Serialize, Deserialize)]
pub struct Stored {
    /// The auth service that issued the pair (a refresh goes there).
    pub auth_api: String,
    pub email: String,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
}

/// Where the pair is kept.
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("COMMERCE_CREDENTIALS") {
        return Ok(PathBuf::from(path));
    }
    let config = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .context("no HOME to keep the credentials in: set COMMERCE_CREDENTIALS")?,
        )
        .join(".config"),
    };
    Ok(config.join("commerce").join("credentials.json"))
}

/// Keeps `pair` for `email`, issued by `auth_api`.
pub fn store(auth_api: &str, email: &str, pair: &TokenPair) -> anyhow::Result<PathBuf> {
    let stored = Stored {
        auth_api: auth_api.to_owned(),
        email: email.to_owned(),
        access_token: pair.access_token.clone(),
        access_expires_at: Utc::now() + Duration::seconds(pair.expires_in as i64),
        refresh_token: pair.refresh_token.clone(),
    };
    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(serde_json::to_string_pretty(&stored)?.as_bytes())?;
    Ok(path)
}

/// The kept pair, if any.
pub fn load() -> anyhow::Result<Option<Stored>> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Forgets the kept pair.
pub fn forget() -> anyhow::Result<()> {
    match std::fs::remove_file(path()?) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// The kept access token, refreshed when it expires within a minute; `None` without a sign-in.
pub async fn access_token(http: &CommerceClient) -> anyhow::Result<Option<String>> {
    let Some(stored) = load()? else {
        return Ok(None);
    };
    if stored.access_expires_at > Utc::now() + Duration::seconds(60) {
        return Ok(Some(stored.access_token));
    }
    let pair = http
        .with_auth_api(&stored.auth_api)
        .refresh(&stored.refresh_token)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the sign-in of {} has ended ({e}): run `commerce login`",
                stored.email
            )
        })?;
    store(&stored.auth_api, &stored.email, &pair)?;
    Ok(Some(pair.access_token))
}
