//! Cloudflare D1 over HTTP: `POST .../raw` with a `batch` body, retries and backoff.
//!
//! One request is one HTTP request carrying every statement of one transaction as
//! `{"batch": [{"sql", "params"}, ..]}`. Transient failures (429, 5xx, dropped connections,
//! timeouts, D1's retryable messages) are retried with exponential backoff and jitter within
//! a total deadline ([`RetryPolicy`]); concurrency is bounded by a semaphore and, optionally,
//! requests per time window by a client-side [`RateLimit`].
//!
//! Safety rules: the base URL must be `https://` (plain `http://` only to a loopback host),
//! redirects are never followed (the token would go along), and a response body is read into
//! memory only up to [`HttpConfig::max_response_bytes`].

mod retry;
mod wire;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument as _;

pub use retry::{RateLimit, RetryPolicy};

use crate::client::{
    BoxFuture, Idempotency, RequestOutcome, RetryStop, Transport, retryable_message,
};
use crate::sql::{Encoding, Statement, WriteOptions};
use crate::{DatabaseErrorKind, Error, Result, Secret};

/// Cloudflare's API host.
pub const CLOUDFLARE_API_BASE: &str = "https://api.cloudflare.com";

/// What to do about an authentication failure.
pub const AUTH_HINT: &str = "check CLOUDFLARE_API_TOKEN has D1 edit permission \
    (Account > D1 > Edit) for this account";

/// Default cap of one response body: 128 MiB. D1 runs each query in a Worker isolate with
/// 128 MB of memory, and its per-row, per-value and per-statement limits (2 MB, 100 KB) are far
/// below this, so no genuine D1 answer comes near it; a larger body is a misbehaving endpoint.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 128 * 1024 * 1024;

/// Connection settings for the HTTP transport.
///
/// ```
/// use std::time::Duration;
/// use thread_flow::client::http::{HttpConfig, RetryPolicy};
///
/// let config = HttpConfig::new("http://127.0.0.1:8787", "account", "database", "s3cr3t")
///     .with_request_timeout(Duration::from_secs(10))
///     .with_max_concurrency(4)
///     .with_retry(RetryPolicy::default().with_max_attempts(3));
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// API base URL (no trailing `/client/v4`). `https://`, or `http://` to a loopback host
    /// (`127.0.0.0/8`, `::1`, `localhost`) only.
    pub base_url: String,
    /// Cloudflare account id.
    pub account_id: String,
    /// D1 database id.
    pub database_id: String,
    /// API token (never printed).
    pub token: Secret,
    /// Time limit of one attempt, response body included (default 30 s, D1's own limit).
    pub request_timeout: Duration,
    /// Time limit for opening a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Requests in flight at once per database handle (default 6).
    pub max_concurrency: usize,
    /// Retries, backoff and the total deadline of one request.
    pub retry: RetryPolicy,
    /// Client-side request budget (default: Cloudflare's 1200 per 5 minutes); `None` disables it.
    pub rate_limit: Option<RateLimit>,
    /// Largest response body read into memory, in bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]); a larger one ends the request with
    /// [`Error::ResponseTooLarge`].
    pub max_response_bytes: u64,
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
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_concurrency: 6,
            retry: RetryPolicy::default(),
            rate_limit: Some(RateLimit::CLOUDFLARE),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Sets [`HttpConfig::request_timeout`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`HttpConfig::connect_timeout`].
    pub fn with_connect_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`HttpConfig::max_concurrency`] (at least 1).
    pub fn with_max_concurrency(mut self, requests: usize) -> HttpConfig {
        self.max_concurrency = requests.max(1);
        self
    }

    /// Sets [`HttpConfig::retry`].
    pub fn with_retry(mut self, retry: RetryPolicy) -> HttpConfig {
        self.retry = retry;
        self
    }

    /// Sets [`HttpConfig::rate_limit`].
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> HttpConfig {
        self.rate_limit = limit;
        self
    }

    /// Sets [`HttpConfig::max_response_bytes`] (at least 1 KiB).
    pub fn with_max_response_bytes(mut self, bytes: u64) -> HttpConfig {
        self.max_response_bytes = bytes.max(1024);
        self
    }

    /// The `/raw` endpoint URL, after checking the settings.
    fn endpoint(&self) -> Result<String> {
        let base = checked_base_url(&self.base_url)?;
        for (what, id) in [
            ("account id", &self.account_id),
            ("database id", &self.database_id),
        ] {
            let ok = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(Error::Config(format!(
                    "Cloudflare {what} `{id}` is empty or has characters other than letters, \
                     digits, `-` and `_`"
                )));
            }
        }
        if self.token.expose().trim().is_empty() {
            return Err(Error::Config("the Cloudflare API token is empty".into()));
        }
        Ok(format!(
            "{base}/client/v4/accounts/{}/d1/database/{}/raw",
            self.account_id, self.database_id
        ))
    }
}

/// Checks a D1 base URL and returns it normalised (`scheme://host[:port][/path]`, no trailing
/// `/` or `/client/v4`): `https://` anywhere, `http://` only to a loopback host, no user
/// name, password, query or fragment. The error never repeats a password.
pub(crate) fn checked_base_url(base_url: &str) -> Result<String> {
    let trimmed = base_url.trim();
    let url = Url::parse(trimmed).map_err(|e| {
        Error::Config(format!(
            "the D1 base URL is not an absolute URL ({e}); expected something like \
             {CLOUDFLARE_API_BASE}"
        ))
    })?;
    let shown = || {
        let mut u = url.clone();
        let _ = u.set_password(None);
        let _ = u.set_username("");
        u.set_query(None);
        u.set_fragment(None);
        u.to_string()
    };
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(Error::Config(format!(
            "the D1 base URL `{}` has no host",
            shown()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "the D1 base URL `{}` carries a user name or password; remove it (the API token is \
             sent in the Authorization header)",
            shown()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "the D1 base URL `{}` has a query or fragment; give only scheme, host, port and path",
            shown()
        )));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "the D1 base URL `{}` uses plain http:// to a host that is not this machine: the \
                 API token would travel in clear text. Use https://, or http:// only for a server \
                 on a loopback address (127.0.0.0/8, ::1, localhost)",
                shown()
            )));
        }
        other => {
            return Err(Error::Config(format!(
                "the D1 base URL `{}` has scheme `{other}`; it must start with https:// (or \
                 http:// for a server on a loopback address)",
                shown()
            )));
        }
    }
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/client/v4").unwrap_or(path);
    Ok(format!("{origin}{path}"))
}

/// `127.0.0.0/8`, `::1` (also as `::ffff:127.x.y.z`) or the name `localhost`.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => bare.eq_ignore_ascii_case("localhost") || bare.eq_ignore_ascii_case("localhost."),
    }
}

/// The HTTP transport, used through [`crate::D1Database`].
///
/// One handle serves every Tokio runtime of the process: the concurrency limit and the rate
/// limiter are shared, while the connection pool (whose connections belong to the runtime that
/// opened them) is kept per runtime.
pub(crate) struct HttpD1 {
    clients: RuntimeClients,
    endpoint: String,
    auth: HeaderValue,
    request_timeout: Duration,
    retry: RetryPolicy,
    permits: Semaphore,
    max_concurrency: usize,
    rate: Option<retry::RateLimiter>,
    max_response_bytes: u64,
}

impl std::fmt::Debug for HttpD1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpD1")
            .field("endpoint", &self.endpoint)
            .field("token", &"[redacted]")
            .field("request_timeout", &self.request_timeout)
            .field("max_concurrency", &self.max_concurrency)
            .field("retry", &self.retry)
            .field("rate_limited", &self.rate.is_some())
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    /// The server answered with an error.
    Api {
        status: u16,
        code: Option<i64>,
        message: String,
        retryable: bool,
        retry_after: Option<Duration>,
        hint: Option<String>,
    },
    /// No usable answer: connection error, reset, timeout, unreadable body.
    Transport {
        message: String,
        /// Whether the request may have reached the server (`false` only when the connection
        /// could not be opened or the attempt never started).
        sent: bool,
        /// Whether the retry deadline, not the server, ended the attempt (its time was cut to
        /// what was left of the deadline, or none was left).
        cut_by_deadline: bool,
    },
    /// The answer's body was larger than the cap.
    TooLarge { status: u16, max: u64 },
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Api { retryable, .. } => *retryable,
            Failure::Transport { .. } => true,
            Failure::TooLarge { .. } => false,
        }
    }

    /// Whether this failure proves D1 did not run the request, so that even a
    /// non-idempotent request may be sent again: the connection could not be opened, or D1
    /// refused the request before running it (HTTP 429: the API rate limit or an overloaded
    /// database; D1's "overloaded" message: too many requests queued). A timeout, a reset,
    /// a 5xx or "Network connection lost" prove nothing: D1 may have committed.
    fn proves_not_run(&self) -> bool {
        match self {
            Failure::Api {
                status, message, ..
            } => *status == 429 || message.contains("overloaded"),
            Failure::Transport { sent, .. } => !sent,
            Failure::TooLarge { .. } => false,
        }
    }

    fn cut_by_deadline(&self) -> bool {
        matches!(
            self,
            Failure::Transport {
                cut_by_deadline: true,
                ..
            }
        )
    }

    fn sent(&self) -> bool {
        match self {
            Failure::Transport { sent, .. } => *sent,
            Failure::Api { .. } | Failure::TooLarge { .. } => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Api {
                status,
                code,
                message,
                ..
            } => match code {
                Some(c) => format!("HTTP {status}, code {c}: {message}"),
                None => format!("HTTP {status}: {message}"),
            },
            Failure::Transport { message, .. } => message.clone(),
            Failure::TooLarge { status, max } => {
                format!("HTTP {status} with a body over the {max}-byte cap")
            }
        }
    }

    /// The final error, after `attempts` attempts, with why retrying stopped.
    fn into_error(self, attempts: u32, stopped: RetryStop) -> Error {
        match self {
            Failure::Api {
                status,
                code,
                message,
                hint,
                ..
            } => {
                let hint = hint.or_else(|| {
                    match (status, code) {
                    (401 | 403, _) | (_, Some(10000)) => Some(AUTH_HINT.to_owned()),
                    (404, _) => Some(
                        "check CLOUDFLARE_ACCOUNT_ID, D1_DATABASE_ID and the base URL (D1_BASE_URL)"
                            .to_owned(),
                    ),
                    (429, _) => Some(RATE_HINT.to_owned()),
                    _ => None,
                }
                });
                Error::Api {
                    status: Some(status),
                    kind: http_kind(status, code, &message),
                    code,
                    message,
                    table: None,
                    first_key: None,
                    attempts,
                    hint,
                    stopped: Some(stopped),
                    source: None,
                }
            }
            Failure::Transport { message, .. } => Error::Transport {
                message,
                table: None,
                first_key: None,
                attempts,
                stopped: Some(stopped),
            },
            Failure::TooLarge { status, max } => Error::ResponseTooLarge {
                max,
                status,
                table: None,
            },
        }
    }
}

/// How many runtimes' connection pools a handle keeps (the oldest is dropped beyond this).
const POOLS_KEPT: usize = 8;

/// One `reqwest::Client` (one connection pool) per Tokio runtime. A pooled connection is
/// driven by a task of the runtime that opened it; once that runtime is gone the connection is
/// dead, so each runtime gets its own pool.
struct RuntimeClients {
    build: Box<dyn Fn() -> reqwest::Result<reqwest::Client> + Send + Sync>,
    by_runtime: std::sync::Mutex<Vec<(tokio::runtime::Id, reqwest::Client)>>,
}

impl RuntimeClients {
    fn new(
        build: impl Fn() -> reqwest::Result<reqwest::Client> + Send + Sync + 'static,
    ) -> Result<RuntimeClients> {
        // Build one now so that a bad setting is reported by `HttpD1::new`.
        let first =
            build().map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let by_runtime = tokio::runtime::Handle::try_current()
            .map(|h| vec![(h.id(), first)])
            .unwrap_or_default();
        Ok(RuntimeClients {
            build: Box::new(build),
            by_runtime: std::sync::Mutex::new(by_runtime),
        })
    }

    /// The client of the current runtime (made on first use).
    fn current(&self) -> std::result::Result<reqwest::Client, Failure> {
        let id = tokio::runtime::Handle::try_current().map(|h| h.id()).ok();
        let mut clients = self.by_runtime.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = id
            && let Some((_, c)) = clients.iter().find(|(r, _)| *r == id)
        {
            return Ok(c.clone());
        }
        let client = (self.build)().map_err(|e| Failure::Transport {
            message: format!("cannot build the HTTP client: {e}"),
            sent: false,
            cut_by_deadline: false,
        })?;
        if let Some(id) = id {
            if clients.len() >= POOLS_KEPT {
                clients.remove(0);
            }
            clients.push((id, client.clone()));
        }
        Ok(client)
    }
}

impl Transport for HttpD1 {
    fn request(
        &self,
        statements: Vec<Statement>,
        idempotency: Idempotency,
    ) -> BoxFuture<'_, Result<RequestOutcome>> {
        Box::pin(self.request_with(statements, idempotency))
    }

    /// Over HTTP every value travels as JSON (integers beyond ±(2^53-1) and BLOBs are sent so
    /// that they arrive exactly).
    fn encoding(&self) -> Encoding {
        Encoding::Json
    }

    fn default_write_options(&self) -> WriteOptions {
        WriteOptions::default()
    }
}

const RATE_HINT: &str = "D1 is rate limiting this token or the database is overloaded: \
    write fewer, larger batches, lower the concurrency or retry later";

impl HttpD1 {
    /// Builds the client.
    pub(crate) fn new(config: HttpConfig) -> Result<HttpD1> {
        let endpoint = config.endpoint()?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose().trim()))
            .map_err(|_| {
            Error::Config(
                "the Cloudflare API token has characters not allowed in an HTTP header".into(),
            )
        })?;
        auth.set_sensitive(true);
        let (connect_timeout, request_timeout) = (config.connect_timeout, config.request_timeout);
        let build = move || {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            reqwest::Client::builder()
                .default_headers(headers)
                .user_agent(concat!("thread-flow/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(connect_timeout)
                .timeout(request_timeout)
                .pool_idle_timeout(Duration::from_secs(30))
                // A redirect would carry the token to another address: never follow one.
                .redirect(reqwest::redirect::Policy::none())
                .build()
        };
        let clients = RuntimeClients::new(build)?;
        let max_concurrency = config.max_concurrency.max(1);
        Ok(HttpD1 {
            clients,
            endpoint,
            auth,
            request_timeout: config.request_timeout,
            retry: config.retry,
            permits: Semaphore::new(max_concurrency),
            max_concurrency,
            rate: config.rate_limit.map(retry::RateLimiter::new),
            max_response_bytes: config.max_response_bytes.max(1024),
        })
    }

    /// Sends one request (one transaction); which failures are retried follows `idempotency`.
    async fn request_with(
        &self,
        statements: Vec<Statement>,
        idempotency: Idempotency,
    ) -> Result<RequestOutcome> {
        if statements.is_empty() {
            return Ok(RequestOutcome::default());
        }
        let body = bytes::Bytes::from(wire::encode_batch(&statements)?);
        let span = tracing::debug_span!(
            "d1_http_request",
            statements = statements.len(),
            body_bytes = body.len(),
            idempotent = matches!(idempotency, Idempotency::Idempotent),
        );
        self.send_with_retries(body, statements.len(), idempotency)
            .instrument(span)
            .await
    }

    /// The retry loop. Whatever stops it, the error is the last failure the *server* caused
    /// (an API error keeps its status and code), with the attempt count and why it stopped:
    /// an attempt the deadline cut short is not a failure of its own, unless it is the only
    /// one or may have run a non-idempotent request.
    async fn send_with_retries(
        &self,
        body: bytes::Bytes,
        statements: usize,
        idempotency: Idempotency,
    ) -> Result<RequestOutcome> {
        let start = Instant::now();
        let deadline = start + self.retry.deadline;
        let idempotent = matches!(idempotency, Idempotency::Idempotent);
        let mut bytes_sent = 0u64;
        let mut attempts = 0u32;
        let mut last: Option<Failure> = None;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let result = if remaining.is_zero() {
                Err(Failure::Transport {
                    message: "no time left before the retry deadline".into(),
                    sent: false,
                    cut_by_deadline: true,
                })
            } else {
                self.attempt(&body, statements, remaining, &mut bytes_sent, &mut attempts)
                    .await
            };
            let failure = match result {
                Ok(results) => {
                    tracing::debug!(
                        attempts,
                        elapsed_ms = ms(start.elapsed()),
                        "D1 request done"
                    );
                    return Ok(RequestOutcome {
                        results,
                        attempts,
                        bytes_sent,
                    });
                }
                Err(failure) => failure,
            };
            if failure.cut_by_deadline() {
                // The deadline ended this attempt, not the server.
                let maybe_ran = failure.sent() && !idempotent;
                tracing::warn!(attempts, error = %failure.describe(), "D1 request stopped at the retry deadline");
                let (reported, stop) = match last {
                    _ if maybe_ran => (failure, RetryStop::OutcomeUnknown),
                    Some(previous) => (previous, RetryStop::Deadline),
                    None => (failure, RetryStop::Deadline),
                };
                return Err(reported.into_error(attempts, stop));
            }
            if !failure.retryable() {
                tracing::debug!(attempts, error = %failure.describe(), "D1 request failed, not retryable");
                return Err(failure.into_error(attempts, RetryStop::NotRetryable));
            }
            if !idempotent && !failure.proves_not_run() {
                tracing::warn!(
                    attempts,
                    error = %failure.describe(),
                    "D1 request failed after it may have run; not idempotent, so not retried"
                );
                return Err(failure.into_error(attempts, RetryStop::OutcomeUnknown));
            }
            if attempts >= self.retry.max_attempts {
                tracing::warn!(attempts, error = %failure.describe(), "D1 request failed, no attempts left");
                let stop = RetryStop::MaxAttempts {
                    max: self.retry.max_attempts,
                };
                return Err(failure.into_error(attempts, stop));
            }
            let retry_after = match &failure {
                Failure::Api { retry_after, .. } => *retry_after,
                Failure::Transport { .. } | Failure::TooLarge { .. } => None,
            };
            let delay = self.retry.delay(attempts.max(1), retry_after);
            if Instant::now() + delay >= deadline {
                tracing::warn!(
                    attempts,
                    delay_ms = ms(delay),
                    error = %failure.describe(),
                    "D1 request failed, the next retry would pass the deadline"
                );
                return Err(failure.into_error(attempts, RetryStop::Deadline));
            }
            tracing::warn!(
                attempts,
                delay_ms = ms(delay),
                error = %failure.describe(),
                "D1 request failed, retrying"
            );
            last = Some(failure);
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: waits for a concurrency permit and the rate limit, posts, reads the answer.
    /// Counts the attempt in `attempts` once the request is handed to the connection.
    async fn attempt(
        &self,
        body: &bytes::Bytes,
        statements: usize,
        remaining: Duration,
        bytes_sent: &mut u64,
        attempts: &mut u32,
    ) -> std::result::Result<Vec<crate::client::StatementResult>, Failure> {
        let waited_from = Instant::now();
        let admission = async {
            let permit = self.permits.acquire().await;
            if let Some(rate) = &self.rate {
                rate.acquire().await;
            }
            permit
        };
        let _permit = match tokio::time::timeout(remaining, admission).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => {
                return Err(Failure::Transport {
                    message: "the HTTP client was shut down".into(),
                    sent: false,
                    cut_by_deadline: false,
                });
            }
            Err(_) => {
                return Err(Failure::Transport {
                    message: format!(
                        "waited {:.1} s for a free request slot (concurrency or rate limit) \
                         until the retry deadline",
                        waited_from.elapsed().as_secs_f64()
                    ),
                    sent: false,
                    cut_by_deadline: true,
                });
            }
        };
        let left = deadline_left(waited_from, remaining);
        let timeout = self.request_timeout.min(left);
        let cut = timeout < self.request_timeout;
        if timeout.is_zero() {
            return Err(Failure::Transport {
                message: "no time left before the retry deadline".into(),
                sent: false,
                cut_by_deadline: true,
            });
        }
        *bytes_sent += body.len() as u64;
        *attempts += 1;
        let sent_at = Instant::now();
        let transport = |e: &reqwest::Error| Failure::Transport {
            message: describe_reqwest(e, timeout, cut),
            sent: !e.is_connect(),
            cut_by_deadline: cut && e.is_timeout(),
        };
        let response = self
            .clients
            .current()?
            .post(&self.endpoint)
            .header(AUTHORIZATION, self.auth.clone())
            .timeout(timeout)
            .body(body.clone())
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        let retry_after = parse_retry_after(response.headers());
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| shown_location(&self.endpoint, l));
        let bytes = read_capped(response, self.max_response_bytes)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => Failure::TooLarge {
                    status: status.as_u16(),
                    max: self.max_response_bytes,
                },
                ReadError::Http(e) => transport(&e),
            })?;
        tracing::debug!(
            status = status.as_u16(),
            response_bytes = bytes.len(),
            elapsed_ms = ms(sent_at.elapsed()),
            "D1 attempt answered"
        );
        if status.is_redirection() {
            return Err(redirected(status, location));
        }
        classify(status, retry_after, &bytes, statements)
    }
}

enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

/// Reads the body chunk by chunk, refusing to hold more than `max` bytes (checked against
/// `content-length` first, then as the chunks arrive).
async fn read_capped(
    mut response: reqwest::Response,
    max: u64,
) -> std::result::Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|len| len > max) {
        return Err(ReadError::TooLarge);
    }
    let initial = response.content_length().unwrap_or(0).min(max);
    let mut body = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        if (body.len() + chunk.len()) as u64 > max {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A redirect target as it may be shown: scheme, host, port and path; no user name,
/// password, query or fragment (they could hold someone's credentials).
fn shown_location(endpoint: &str, location: &str) -> String {
    let resolved = Url::parse(endpoint).and_then(|base| base.join(location));
    match resolved {
        Ok(url) if url.has_host() => {
            format!("{}{}", url.origin().ascii_serialization(), url.path())
        }
        _ => "an address that is not a valid URL".to_owned(),
    }
}

fn redirected(status: StatusCode, location: Option<String>) -> Failure {
    let to = location.unwrap_or_else(|| "an unspecified address (no Location header)".into());
    Failure::Api {
        status: status.as_u16(),
        code: None,
        message: format!(
            "the D1 endpoint redirected to {to}; redirects are not followed, so neither the \
             request nor the API token went there"
        ),
        retryable: false,
        retry_after: None,
        hint: Some(
            "set the base URL (D1_BASE_URL) to the address that serves the D1 API itself".into(),
        ),
    }
}

fn deadline_left(from: Instant, remaining: Duration) -> Duration {
    remaining.saturating_sub(from.elapsed())
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `retry-after` in seconds (integer or decimal). HTTP dates are ignored (backoff applies).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = text.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

fn describe_reqwest(e: &reqwest::Error, timeout: Duration, cut: bool) -> String {
    let kind = if e.is_timeout() {
        if cut {
            format!(
                "no answer within {:.1} s, the time left before the retry deadline (timeout)",
                timeout.as_secs_f64()
            )
        } else {
            format!("no answer within {:.1} s (timeout)", timeout.as_secs_f64())
        }
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else if e.is_body() || e.is_decode() {
        "the response body was cut off".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    // The source chain explains resets ("connection reset by peer"); URLs carry no secret.
    let mut out = kind;
    let mut source = std::error::Error::source(e);
    let mut seen = 0;
    while let Some(s) = source {
        if seen == 3 {
            break;
        }
        let _ = write!(out, ": {s}");
        source = s.source();
        seen += 1;
    }
    out
}

/// Turns an HTTP answer into results or a [`Failure`].
/// The kind of a D1 error answer: authentication (HTTP 401 / 403, code 10000) and the rate
/// limit (HTTP 429) by status and code; SQL errors (code 7500) by the SQLite message D1 passes
/// on; then a too-large body (413) or a server error (5xx, or a message D1 documents as
/// transient).
fn http_kind(status: u16, code: Option<i64>, message: &str) -> DatabaseErrorKind {
    if matches!(status, 401 | 403) || code == Some(10000) {
        return DatabaseErrorKind::Auth;
    }
    if status == 429 || message.contains("overloaded") {
        return DatabaseErrorKind::RateLimited;
    }
    if let Some(kind) = DatabaseErrorKind::from_sqlite_message(message) {
        return kind;
    }
    match status {
        413 => DatabaseErrorKind::TooLarge,
        500..=599 => DatabaseErrorKind::Unavailable,
        _ if retryable_message(message) => DatabaseErrorKind::Unavailable,
        _ => DatabaseErrorKind::Other,
    }
}

fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    statements: usize,
) -> std::result::Result<Vec<crate::client::StatementResult>, Failure> {
    let code_status = status.as_u16();
    let transient_status = code_status == 429 || status.is_server_error();
    match wire::parse_envelope(body) {
        Some(Ok(wire::Envelope::Success(results))) if status.is_success() => {
            if results.len() == statements {
                Ok(results)
            } else {
                Err(Failure::Api {
                    status: code_status,
                    code: None,
                    message: format!(
                        "D1 answered {} results for {statements} statements",
                        results.len()
                    ),
                    retryable: false,
                    retry_after: None,
                    hint: None,
                })
            }
        }
        Some(Ok(wire::Envelope::Failure { code, message })) => Err(Failure::Api {
            status: code_status,
            retryable: transient_status || retryable_message(&message),
            code,
            message,
            retry_after,
            hint: None,
        }),
        Some(Ok(wire::Envelope::Success(_))) => Err(Failure::Api {
            status: code_status,
            code: None,
            message: format!("HTTP {status} with a success envelope"),
            retryable: transient_status,
            retry_after,
            hint: None,
        }),
        Some(Err(problem)) => Err(Failure::Api {
            status: code_status,
            code: None,
            message: format!("unexpected D1 response: {problem}"),
            retryable: transient_status,
            retry_after,
            hint: None,
        }),
        None => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
            let text = text.trim();
            let message = match (status.canonical_reason(), text.is_empty()) {
                (Some(reason), true) => format!("{reason} (no JSON body)"),
                (Some(reason), false) => format!("{reason}: {text}"),
                (None, true) => "no JSON body".to_owned(),
                (None, false) => text.to_owned(),
            };
            Err(Failure::Api {
                status: code_status,
                code: None,
                retryable: transient_status || retryable_message(&message),
                message,
                retry_after,
                hint: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_and_validation() {
        let c = HttpConfig::new("https://api.cloudflare.com/", "acc", "db-1", "t");
        assert_eq!(
            c.endpoint().unwrap(),
            "https://api.cloudflare.com/client/v4/accounts/acc/d1/database/db-1/raw"
        );
        let c = HttpConfig::new("http://127.0.0.1:1/client/v4", "acc", "db", "t");
        assert_eq!(
            c.endpoint().unwrap(),
            "http://127.0.0.1:1/client/v4/accounts/acc/d1/database/db/raw"
        );
        assert!(matches!(
            HttpConfig::new("ftp://x", "a", "d", "t").endpoint(),
            Err(Error::Config(_))
        ));
        // Plain http only to loopback; no credentials, query or fragment in the URL.
        for refused in [
            "http://example.com",
            "http://192.168.1.10:8787",
            "http://[fe80::1]",
            "http://localhost.evil.example",
            "https://user:secret@example.com",
            "https://example.com/?token=x",
            "https://example.com/#x",
            "not a url",
        ] {
            match checked_base_url(refused) {
                Err(Error::Config(m)) => assert!(!m.contains("secret"), "{m}"),
                other => panic!("{refused}: {other:?}"),
            }
        }
        for (given, normalised) in [
            ("https://EXAMPLE.com/", "https://example.com"),
            (
                "https://example.com/d1/client/v4/",
                "https://example.com/d1",
            ),
            ("http://127.0.0.2:8787", "http://127.0.0.2:8787"),
            ("http://[::1]:8787/", "http://[::1]:8787"),
            ("http://[::ffff:127.0.0.1]:1", "http://[::ffff:7f00:1]:1"),
            ("http://localhost:8787", "http://localhost:8787"),
        ] {
            assert_eq!(checked_base_url(given).unwrap(), normalised, "{given}");
        }
        assert!(matches!(
            HttpConfig::new("https://x", "a/b", "d", "t").endpoint(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            HttpConfig::new("https://x", "a", "d", " ").endpoint(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn classification() {
        let sql = br#"{"success":false,"errors":[{"code":7500,"message":"no such table: t: SQLITE_ERROR"}]}"#;
        let f = classify(StatusCode::BAD_REQUEST, None, sql, 1).unwrap_err();
        assert!(!f.retryable());
        let lost = br#"{"success":false,"errors":[{"code":7500,"message":"D1_ERROR: Network connection lost."}]}"#;
        assert!(
            classify(StatusCode::BAD_REQUEST, None, lost, 1)
                .unwrap_err()
                .retryable()
        );
        assert!(
            classify(
                StatusCode::BAD_GATEWAY,
                None,
                b"<html>bad gateway</html>",
                1
            )
            .unwrap_err()
            .retryable()
        );
        assert!(
            classify(StatusCode::TOO_MANY_REQUESTS, None, b"", 1)
                .unwrap_err()
                .retryable()
        );
        let auth =
            br#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#;
        let f = classify(StatusCode::UNAUTHORIZED, None, auth, 1).unwrap_err();
        assert!(!f.retryable());
        match f.into_error(1, RetryStop::NotRetryable) {
            Error::Api {
                status: Some(401),
                code: Some(10000),
                hint: Some(h),
                ..
            } => {
                assert!(h.contains("CLOUDFLARE_API_TOKEN"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn d1_answers_are_classified_by_status_code_and_sqlite_message() {
        use DatabaseErrorKind as K;
        let cases: [(u16, Option<i64>, &str, K); 14] = [
            (401, Some(10000), "Authentication error", K::Auth),
            (403, Some(10000), "Authentication error", K::Auth),
            (400, Some(10000), "Authentication error", K::Auth),
            (
                429,
                None,
                "Too Many Requests (no JSON body)",
                K::RateLimited,
            ),
            (
                400,
                Some(7500),
                "D1 DB is overloaded. Requests queued for too long.",
                K::RateLimited,
            ),
            (
                400,
                Some(7500),
                "UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT",
                K::UniqueViolation,
            ),
            (
                400,
                Some(7500),
                "FOREIGN KEY constraint failed: SQLITE_CONSTRAINT",
                K::ForeignKeyViolation,
            ),
            (
                400,
                Some(7500),
                "NOT NULL constraint failed: t.a: SQLITE_CONSTRAINT",
                K::NotNullViolation,
            ),
            (
                400,
                Some(7500),
                "CHECK constraint failed: a > 0: SQLITE_CONSTRAINT",
                K::CheckViolation,
            ),
            (
                400,
                Some(7500),
                "statement too long: SQLITE_TOOBIG",
                K::TooLarge,
            ),
            (
                400,
                Some(7500),
                "near \"SELEC\": syntax error at offset 0: SQLITE_ERROR",
                K::Syntax,
            ),
            (
                400,
                Some(7500),
                "no such table: missing: SQLITE_ERROR",
                K::NoSuchObject,
            ),
            (
                400,
                Some(7500),
                "D1_ERROR: Network connection lost.",
                K::Unavailable,
            ),
            (
                502,
                None,
                "Bad Gateway: <html>bad gateway</html>",
                K::Unavailable,
            ),
        ];
        for (status, code, message, kind) in cases {
            assert_eq!(http_kind(status, code, message), kind, "{status} {message}");
        }
        assert_eq!(http_kind(413, None, "Payload Too Large"), K::TooLarge);
        assert_eq!(
            http_kind(404, Some(7404), "The database could not be found"),
            K::Other
        );
    }

    #[test]
    fn redirect_locations_are_shown_without_query_or_credentials() {
        let endpoint = "https://api.example.com/client/v4/accounts/a/d1/database/d/raw";
        assert_eq!(
            shown_location(endpoint, "https://u:p@other.example:8443/x/raw?sig=abc#f"),
            "https://other.example:8443/x/raw"
        );
        assert_eq!(
            shown_location(endpoint, "/elsewhere?token=1"),
            "https://api.example.com/elsewhere"
        );
    }

    #[test]
    fn retry_after_parsing() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn debug_never_shows_token() {
        let config = HttpConfig::new("https://x.example", "a", "d", "sekrit-token-123");
        let http = HttpD1::new(config.clone()).unwrap();
        assert!(!format!("{config:?}").contains("sekrit"));
        assert!(!format!("{http:?}").contains("sekrit"));
    }
}
