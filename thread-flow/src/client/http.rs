//! Cloudflare D1 over HTTP: `POST .../raw` with a `batch` body, retries and backoff.

use crate::client::RequestOutcome;
use crate::sql::Statement;
use crate::{Result, Secret};

/// Cloudflare's API host.
pub const CLOUDFLARE_API_BASE: &str = "https://api.cloudflare.com";

/// Connection settings for the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// API base URL (no trailing `/client/v4`).
    pub base_url: String,
    /// Cloudflare account id.
    pub account_id: String,
    /// D1 database id.
    pub database_id: String,
    /// API token (never printed).
    pub token: Secret,
}

impl HttpConfig {
    /// Settings with default timeouts, concurrency and retries.
    pub fn new(
        base_url: impl Into<String>,
        account_id: impl Into<String>,
        database_id: impl Into<String>,
        token: impl Into<Secret>,
    ) -> HttpConfig {
        HttpConfig {
            base_url: base_url.into(),
            account_id: account_id.into(),
            database_id: database_id.into(),
            token: token.into(),
        }
    }
}

/// The HTTP transport.
#[derive(Debug)]
pub struct HttpD1 {}

impl HttpD1 {
    /// Builds the client.
    pub fn new(_config: HttpConfig) -> Result<HttpD1> {
        todo!()
    }

    /// Sends one request (one transaction), retrying transient failures.
    pub async fn request(&self, _statements: Vec<Statement>) -> Result<RequestOutcome> {
        todo!()
    }
}
