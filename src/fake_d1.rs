//! An in-process fake of Cloudflare D1's HTTP API, for what a real server cannot do: count
//! requests and inject faults.
//!
//! [`FakeD1`] speaks HTTP/1.1 over raw TCP (so every fault is under the test's control) on
//! `127.0.0.1`, serves `POST /client/v4/accounts/{account}/d1/database/{db}/raw` and `/query`
//! with Cloudflare's envelope, and runs each request's statements as one transaction on a real
//! SQLite database (rusqlite). SQL errors are HTTP 400 with code 7500, a wrong token is 401
//! with code 10000, like hosted D1. Integers beyond ±(2^53-1) come back as (lossy) JSON
//! floats, as from hosted D1, so a client that forgets to select them as text is caught.
//!
//! Faults come from a [`FaultPlan`]: a script (request by request), a seeded random rate, or
//! always. [`FakeD1::stats`] counts requests, bytes, committed transactions, statements and
//! the largest number of requests in flight at once.
//!
//! ```no_run
//! use std::time::Duration;
//! use thread_flow_suite::fake_d1::{Fault, FaultPlan, FakeD1};
//!
//! let fake = FakeD1::builder()
//!     .faults(FaultPlan::script([Some(Fault::RateLimited { retry_after: Some(Duration::from_millis(50)) })]))
//!     .start();
//! let db = fake.database(); // a thread_flow::D1Database over HTTP with fast retries
//! # drop(db);
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use rusqlite;
use rusqlite::types::ValueRef;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use thread_flow::client::http::{HttpConfig, RetryPolicy};
use thread_flow::{D1Database, Value};

/// The token a [`FakeD1`] accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "fake-d1-test-token-6b1f0c";
/// The account id in a [`FakeD1`]'s URL unless told otherwise.
pub const DEFAULT_ACCOUNT: &str = "fake-account";
/// The database id in a [`FakeD1`]'s URL unless told otherwise.
pub const DEFAULT_DATABASE: &str = "fake-database";

/// The message D1 sends for a transient storage failure (a retryable message).
pub const RETRYABLE_MESSAGE: &str = "D1_ERROR: Network connection lost.";

/// One injected fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// HTTP 429 with a `retry-after` header (in seconds, fractional allowed) when given.
    /// Nothing is executed.
    RateLimited {
        /// The `retry-after` value.
        retry_after: Option<Duration>,
    },
    /// An HTTP error status (500, 502, 503, ...); with `json: false` the body is an HTML page
    /// like a proxy's. Nothing is executed.
    ServerError {
        /// HTTP status.
        status: u16,
        /// Whether the body is a Cloudflare JSON envelope.
        json: bool,
    },
    /// The connection is reset (TCP RST) after the request was read, before anything runs.
    ResetBeforeProcessing,
    /// The request runs and commits, then the connection is reset: the response is lost.
    ResetAfterCommit,
    /// The request runs and commits, and the answer comes only after `delay` (set it beyond
    /// the client's request timeout).
    SlowResponse {
        /// How long to hold the answer back.
        delay: Duration,
    },
    /// HTTP 400, code 7500, with D1's retryable "Network connection lost" message. Nothing
    /// is executed.
    RetryableMessage,
    /// HTTP 401, code 10000 ("Authentication error"). Nothing is executed.
    Unauthorized,
    /// HTTP 403, code 10000 (a token without D1 permission on the account). Nothing is
    /// executed.
    Forbidden,
    /// An HTTP redirect (`status` 301, 302, 307 or 308) to `location`. Nothing is executed.
    Redirect {
        /// HTTP status.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// The request runs and commits, then the answer (a valid envelope) is preceded by
    /// `padding` bytes of JSON whitespace. With `content_length: false` the body has no
    /// `content-length` and ends when the connection closes.
    OversizedBody {
        /// Whitespace bytes before the envelope.
        padding: usize,
        /// Whether a `content-length` header is sent.
        content_length: bool,
    },
    /// The request's statements run in its transaction up to statement `index` (0-based),
    /// which fails with a SQL error (HTTP 400, code 7500): the transaction rolls back, as
    /// when D1 aborts a batch midway. Not retryable. A request with fewer statements runs
    /// normally.
    FailAtStatement {
        /// The statement that fails.
        index: usize,
    },
}

impl Fault {
    /// A short stable name, used as the key of [`FakeStats::faults`].
    pub fn name(&self) -> &'static str {
        match self {
            Fault::RateLimited { .. } => "rate_limited",
            Fault::ServerError { .. } => "server_error",
            Fault::ResetBeforeProcessing => "reset_before_processing",
            Fault::ResetAfterCommit => "reset_after_commit",
            Fault::SlowResponse { .. } => "slow_response",
            Fault::RetryableMessage => "retryable_message",
            Fault::Unauthorized => "unauthorized",
            Fault::Forbidden => "forbidden",
            Fault::FailAtStatement { .. } => "fail_at_statement",
            Fault::Redirect { .. } => "redirect",
            Fault::OversizedBody { .. } => "oversized_body",
        }
    }

    /// Every kind of transient fault, with the given slow-response delay and a short
    /// retry-after: the mix issue 7's fault soak injects.
    pub fn transient_mix(slow: Duration) -> Vec<Fault> {
        vec![
            Fault::RateLimited {
                retry_after: Some(Duration::from_millis(20)),
            },
            Fault::RateLimited { retry_after: None },
            Fault::ServerError {
                status: 500,
                json: true,
            },
            Fault::ServerError {
                status: 502,
                json: false,
            },
            Fault::ServerError {
                status: 503,
                json: false,
            },
            Fault::ResetBeforeProcessing,
            Fault::ResetAfterCommit,
            Fault::SlowResponse { delay: slow },
            Fault::RetryableMessage,
        ]
    }
}

/// Which requests get which fault.
#[derive(Debug, Clone, Default)]
pub enum FaultPlan {
    /// No faults.
    #[default]
    None,
    /// Request `i` (0-based, counting every API request) gets `script[i]`; requests past the
    /// end get none.
    Script(Vec<Option<Fault>>),
    /// Each request gets a fault with probability `rate`, chosen uniformly from `faults`,
    /// drawn from a RNG seeded with `seed` (deterministic for sequential clients).
    Random {
        /// Probability of a fault per request, 0.0 to 1.0.
        rate: f64,
        /// RNG seed.
        seed: u64,
        /// Faults to choose from.
        faults: Vec<Fault>,
    },
    /// Every request gets this fault.
    Always(Fault),
}

impl FaultPlan {
    /// A script, request by request.
    pub fn script(faults: impl IntoIterator<Item = Option<Fault>>) -> FaultPlan {
        FaultPlan::Script(faults.into_iter().collect())
    }

    /// Faults at `rate` from `faults`, seeded.
    pub fn random(rate: f64, seed: u64, faults: Vec<Fault>) -> FaultPlan {
        FaultPlan::Random { rate, seed, faults }
    }
}

/// Counters of a [`FakeD1`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeStats {
    /// API requests received (faulted ones included).
    pub requests: u64,
    /// Request body bytes received.
    pub bytes_received: u64,
    /// Transactions committed.
    pub committed: u64,
    /// Statements executed in committed transactions.
    pub statements: u64,
    /// Requests answered with a SQL error (rolled back).
    pub sql_errors: u64,
    /// Requests refused for a bad token (injected faults excluded).
    pub auth_failures: u64,
    /// Largest number of requests in flight at once.
    pub max_in_flight: u64,
    /// Injected faults by [`Fault::name`].
    pub faults: BTreeMap<&'static str, u64>,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// When it arrived (complete).
    pub at: Instant,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body parsed as JSON (`Json::Null` when it is not JSON).
    pub body: Json,
    /// Body size in bytes.
    pub body_bytes: usize,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
}

/// Settings of a [`FakeD1`]; start it with [`FakeD1Builder::start`].
#[derive(Debug, Clone)]
pub struct FakeD1Builder {
    token: String,
    account: String,
    database: String,
    delay: Duration,
    faults: FaultPlan,
    path: Option<PathBuf>,
}

impl FakeD1Builder {
    /// The accepted API token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The account and database ids in the URL.
    pub fn ids(mut self, account: impl Into<String>, database: impl Into<String>) -> Self {
        self.account = account.into();
        self.database = database.into();
        self
    }

    /// A fixed delay before each request is processed (to observe concurrency).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The fault plan.
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// Store the database in this SQLite file instead of memory.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on a background thread.
    ///
    /// # Panics
    /// When the port cannot be bound or the database cannot be opened (test support).
    pub fn start(self) -> FakeD1 {
        let conn = match &self.path {
            Some(p) => rusqlite::Connection::open(p),
            None => rusqlite::Connection::open_in_memory(),
        }
        .expect("fake D1: open SQLite");
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .expect("fake D1: pragma");
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("fake D1: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("fake D1: nonblocking");
        let addr = listener.local_addr().expect("fake D1: local addr");
        let shared = Arc::new(Shared {
            prefix: format!(
                "/client/v4/accounts/{}/d1/database/{}/",
                self.account, self.database
            ),
            token: self.token.clone(),
            db: Mutex::new(conn),
            control: Mutex::new(Control {
                delay: self.delay,
                plan: self.faults,
                rng: None,
                stats: FakeStats::default(),
                log: Vec::new(),
                next_index: 0,
            }),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicU64::new(0),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("fake-d1".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake D1: runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("fake D1: listener");
                    tokio::select! {
                        () = accept_loop(listener, server) => {}
                        _ = stop_rx => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("fake D1: thread");
        FakeD1 {
            base_url: format!("http://{addr}"),
            account: self.account,
            database: self.database,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

/// A running fake D1 server. Stops when dropped.
pub struct FakeD1 {
    base_url: String,
    account: String,
    database: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeD1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeD1")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeD1 {
    /// Settings with the default token and ids, no delay, no faults, in-memory database.
    pub fn builder() -> FakeD1Builder {
        FakeD1Builder {
            token: DEFAULT_TOKEN.into(),
            account: DEFAULT_ACCOUNT.into(),
            database: DEFAULT_DATABASE.into(),
            delay: Duration::ZERO,
            faults: FaultPlan::None,
            path: None,
        }
    }

    /// A fake with default settings.
    pub fn start() -> FakeD1 {
        FakeD1::builder().start()
    }

    /// `http://127.0.0.1:PORT` (give it to `D1Database::http`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The account id in the URL.
    pub fn account_id(&self) -> &str {
        &self.account
    }

    /// The database id in the URL.
    pub fn database_id(&self) -> &str {
        &self.database
    }

    /// The accepted token.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// An [`HttpConfig`] for this server with fast retries and generous time limits (a test
    /// machine may be loaded: no limit here is tight): 60 s request timeout, retries after
    /// 5 ms doubling up to 100 ms, 10 attempts within 300 s, no rate limit. Tests about
    /// timeouts set their own.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig::new(
            &self.base_url,
            &self.account,
            &self.database,
            self.shared.token.clone(),
        )
        .with_request_timeout(Duration::from_secs(60))
        .with_connect_timeout(Duration::from_secs(30))
        .with_rate_limit(None)
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(10)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(100))
                .with_deadline(Duration::from_secs(300)),
        )
    }

    /// A [`D1Database`] on [`FakeD1::http_config`].
    ///
    /// # Panics
    /// When the client cannot be built (test support).
    pub fn database(&self) -> D1Database {
        D1Database::http_with(self.http_config()).expect("fake D1: client")
    }

    /// Replaces the fault plan (the request index restarts at 0).
    pub fn set_faults(&self, plan: FaultPlan) {
        let mut c = self.shared.control();
        c.plan = plan;
        c.rng = None;
        c.next_index = 0;
    }

    /// Replaces the fixed per-request delay.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.control().delay = delay;
    }

    /// The counters so far.
    pub fn stats(&self) -> FakeStats {
        let mut stats = self.shared.control().stats.clone();
        stats.max_in_flight = self.shared.max_in_flight.load(Ordering::SeqCst);
        stats
    }

    /// Every API request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.control().log.clone()
    }

    /// Runs `f` on the fake's SQLite connection (between requests).
    pub fn with_connection<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> R) -> R {
        f(&self.shared.db())
    }

    /// Reads rows straight from the fake's SQLite, values exact (no JSON in between).
    ///
    /// # Panics
    /// On a SQL error (test support).
    pub fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        let db = self.shared.db();
        let mut stmt = db
            .prepare(sql)
            .unwrap_or_else(|e| panic!("fake D1 query `{sql}`: {e}"));
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                (0..columns)
                    .map(|i| {
                        row.get_ref(i).map(|v| match v {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(i) => Value::Integer(i),
                            ValueRef::Real(r) => Value::Real(r),
                            ValueRef::Text(t) => {
                                Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.unwrap_or_else(|e| panic!("fake D1 query `{sql}`: {e}"))
    }
}

impl Drop for FakeD1 {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Control {
    delay: Duration,
    plan: FaultPlan,
    rng: Option<fastrand::Rng>,
    stats: FakeStats,
    log: Vec<RecordedRequest>,
    next_index: usize,
}

impl Control {
    fn next_fault(&mut self) -> Option<Fault> {
        let index = self.next_index;
        self.next_index += 1;
        match &self.plan {
            FaultPlan::None => None,
            FaultPlan::Script(script) => script.get(index).cloned().flatten(),
            FaultPlan::Always(fault) => Some(fault.clone()),
            FaultPlan::Random { rate, seed, faults } => {
                let rng = self
                    .rng
                    .get_or_insert_with(|| fastrand::Rng::with_seed(*seed));
                (!faults.is_empty() && rng.f64() < *rate)
                    .then(|| faults[rng.usize(..faults.len())].clone())
            }
        }
    }
}

struct Shared {
    prefix: String,
    token: String,
    db: Mutex<rusqlite::Connection>,
    control: Mutex<Control>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicU64,
}

impl Shared {
    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn db(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
    }
}

struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request; `Ok(None)` when the peer closed the connection cleanly.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<HttpRequest>> {
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::other("request head too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = header_end + 4;
    while buf.len() < body_start + length {
        let mut chunk = vec![0u8; (body_start + length - buf.len()).min(1 << 20)];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Ok(Some(HttpRequest {
        method,
        path,
        headers,
        body,
    }))
}

/// What to send back for one request.
enum Reply {
    Respond {
        status: u16,
        body: Vec<u8>,
        extra: Vec<(String, String)>,
    },
    /// A body without `content-length`, ended by closing the connection.
    RespondThenClose {
        status: u16,
        body: Vec<u8>,
    },
    Reset,
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buf).await {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now as u64, Ordering::SeqCst);
        let reply = handle(&shared, request).await;
        // The request leaves the count before its answer goes out: once the client can read the
        // answer it may send its next request, which must not be counted alongside this one.
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        let keep_going = match reply {
            Reply::Reset => {
                let _ = stream.set_zero_linger();
                false
            }
            Reply::RespondThenClose { status, body } => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
                    reason(status)
                );
                let _ = async {
                    stream.write_all(head.as_bytes()).await?;
                    stream.write_all(&body).await?;
                    stream.flush().await?;
                    stream.shutdown().await
                }
                .await;
                false
            }
            Reply::Respond {
                status,
                body,
                extra,
            } => {
                let mut head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n",
                    reason(status),
                    body.len()
                );
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                if close {
                    head.push_str("connection: close\r\n");
                }
                head.push_str("\r\n");
                let written = async {
                    stream.write_all(head.as_bytes()).await?;
                    stream.write_all(&body).await?;
                    stream.flush().await
                }
                .await;
                written.is_ok() && !close
            }
        };
        if !keep_going {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn json_reply(status: u16, body: &Json) -> Reply {
    Reply::Respond {
        status,
        body: serde_json::to_vec(body).unwrap_or_default(),
        extra: vec![("content-type".into(), "application/json".into())],
    }
}

fn error_reply(status: u16, code: i64, message: &str) -> Reply {
    json_reply(
        status,
        &json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
    )
}

async fn handle(shared: &Shared, request: HttpRequest) -> Reply {
    let format = request
        .path
        .strip_prefix(shared.prefix.as_str())
        .filter(|f| matches!(*f, "raw" | "query"))
        .map(str::to_owned);
    let Some(format) = format else {
        return error_reply(
            404,
            7003,
            &format!(
                "Could not route to {}, perhaps your object identifier is invalid?",
                request.path
            ),
        );
    };
    let (fault, delay) = {
        let mut c = shared.control();
        let fault = c.next_fault();
        c.stats.requests += 1;
        c.stats.bytes_received += request.body.len() as u64;
        if let Some(f) = &fault {
            *c.stats.faults.entry(f.name()).or_default() += 1;
        }
        c.log.push(RecordedRequest {
            at: Instant::now(),
            method: request.method.clone(),
            path: request.path.clone(),
            authorization: request.header("authorization").map(str::to_owned),
            content_type: request.header("content-type").map(str::to_owned),
            body: serde_json::from_slice(&request.body).unwrap_or(Json::Null),
            body_bytes: request.body.len(),
            fault: fault.clone(),
        });
        (fault, c.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match &fault {
        Some(Fault::RateLimited { retry_after }) => {
            let mut reply = error_reply(
                429,
                971,
                "Please wait and consider throttling your request speed",
            );
            if let (Some(after), Reply::Respond { extra, .. }) = (retry_after, &mut reply) {
                extra.push(("retry-after".into(), format!("{}", after.as_secs_f64())));
            }
            return reply;
        }
        Some(Fault::ServerError { status, json: true }) => {
            return error_reply(*status, 7500, "Internal error");
        }
        Some(Fault::ServerError {
            status,
            json: false,
        }) => {
            return Reply::Respond {
                status: *status,
                body: format!(
                    "<html><body><h1>{status} {}</h1>cloudflare</body></html>",
                    reason(*status)
                )
                .into_bytes(),
                extra: vec![("content-type".into(), "text/html".into())],
            };
        }
        Some(Fault::ResetBeforeProcessing) => return Reply::Reset,
        Some(Fault::RetryableMessage) => return error_reply(400, 7500, RETRYABLE_MESSAGE),
        Some(Fault::Unauthorized) => return error_reply(401, 10000, "Authentication error"),
        Some(Fault::Forbidden) => return error_reply(403, 10000, "Authentication error"),
        Some(Fault::Redirect { status, location }) => {
            return Reply::Respond {
                status: *status,
                body: Vec::new(),
                extra: vec![("location".into(), location.clone())],
            };
        }
        Some(
            Fault::ResetAfterCommit
            | Fault::SlowResponse { .. }
            | Fault::FailAtStatement { .. }
            | Fault::OversizedBody { .. },
        )
        | None => {}
    }
    if request.method != "POST" {
        return error_reply(405, 10405, "Method not allowed");
    }
    let expected = format!("Bearer {}", shared.token);
    if request.header("authorization") != Some(expected.as_str()) {
        shared.control().stats.auth_failures += 1;
        return error_reply(401, 10000, "Authentication error");
    }
    let fail_at = match fault {
        Some(Fault::FailAtStatement { index }) => Some(index),
        _ => None,
    };
    let reply = match execute(shared, &request.body, &format, fail_at) {
        Ok((results, statements)) => {
            let mut c = shared.control();
            c.stats.committed += 1;
            c.stats.statements += statements;
            drop(c);
            json_reply(
                200,
                &json!({"success": true, "errors": [], "messages": [], "result": results}),
            )
        }
        Err(Problem::BadRequest(message)) => error_reply(400, 7400, &message),
        Err(Problem::Sql(message)) => {
            shared.control().stats.sql_errors += 1;
            error_reply(400, 7500, &message)
        }
    };
    match fault {
        Some(Fault::ResetAfterCommit) => Reply::Reset,
        Some(Fault::SlowResponse { delay }) => {
            tokio::time::sleep(delay).await;
            reply
        }
        Some(Fault::OversizedBody {
            padding,
            content_length,
        }) => match reply {
            Reply::Respond {
                status,
                body,
                extra,
            } => {
                let mut padded = vec![b' '; padding];
                padded.extend_from_slice(&body);
                if content_length {
                    Reply::Respond {
                        status,
                        body: padded,
                        extra,
                    }
                } else {
                    Reply::RespondThenClose {
                        status,
                        body: padded,
                    }
                }
            }
            other => other,
        },
        _ => reply,
    }
}

enum Problem {
    BadRequest(String),
    Sql(String),
}

/// D1's per-statement limits.
const MAX_PARAMS: usize = 100;
const MAX_SQL_BYTES: usize = 100_000;
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

fn execute(
    shared: &Shared,
    body: &[u8],
    format: &str,
    fail_at: Option<usize>,
) -> Result<(Vec<Json>, u64), Problem> {
    let body: Json = serde_json::from_slice(body)
        .map_err(|e| Problem::BadRequest(format!("Invalid JSON body: {e}")))?;
    let entries: Vec<&Json> = match body.get("batch") {
        Some(Json::Array(batch)) => batch.iter().collect(),
        Some(_) => return Err(Problem::BadRequest("`batch` must be an array".into())),
        None => vec![&body],
    };
    if entries.is_empty() {
        return Err(Problem::BadRequest("empty batch".into()));
    }
    let mut db = shared.db();
    let tx = db
        .transaction()
        .map_err(|e| Problem::Sql(sql_message(&e)))?;
    let mut results = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if fail_at == Some(i) {
            // Dropping `tx` rolls back what statements 0..i did.
            return Err(Problem::Sql(format!(
                "injected failure at statement {i} (fake D1 fault): SQLITE_ERROR"
            )));
        }
        let sql = entry
            .get("sql")
            .and_then(Json::as_str)
            .ok_or_else(|| Problem::BadRequest("each statement needs a `sql` string".into()))?;
        let params: &[Json] = match entry.get("params") {
            None | Some(Json::Null) => &[],
            Some(Json::Array(p)) => p,
            Some(_) => return Err(Problem::BadRequest("`params` must be an array".into())),
        };
        if sql.len() > MAX_SQL_BYTES {
            return Err(Problem::Sql("statement too long: SQLITE_TOOBIG".into()));
        }
        if params.len() > MAX_PARAMS {
            return Err(Problem::Sql("too many SQL variables: SQLITE_ERROR".into()));
        }
        results.push(run_statement(&tx, sql, params, format)?);
    }
    tx.commit().map_err(|e| Problem::Sql(sql_message(&e)))?;
    Ok((results, entries.len() as u64))
}

fn run_statement(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: &[Json],
    format: &str,
) -> Result<Json, Problem> {
    let before = tx.total_changes();
    let mut stmt = tx.prepare(sql).map_err(|e| Problem::Sql(sql_message(&e)))?;
    for (i, p) in params.iter().enumerate() {
        let value = match p {
            Json::Null => rusqlite::types::Value::Null,
            Json::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
            Json::Number(n) => match n.as_i64() {
                Some(i) => rusqlite::types::Value::Integer(i),
                None => rusqlite::types::Value::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => rusqlite::types::Value::Text(s.clone()),
            Json::Array(bytes) => rusqlite::types::Value::Blob(
                bytes
                    .iter()
                    .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect(),
            ),
            Json::Object(_) => {
                return Err(Problem::BadRequest(format!(
                    "parameter {} is an object",
                    i + 1
                )));
            }
        };
        stmt.raw_bind_parameter(i + 1, value)
            .map_err(|e| Problem::Sql(sql_message(&e)))?;
    }
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows_out = Vec::new();
    {
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(|e| Problem::Sql(sql_message(&e)))? {
            let mut cells = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                let cell = row.get_ref(i).map_err(|e| Problem::Sql(sql_message(&e)))?;
                cells.push(match cell {
                    ValueRef::Null => Json::Null,
                    // Hosted D1 answers through JavaScript numbers: exact only within 2^53.
                    ValueRef::Integer(i)
                        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) =>
                    {
                        json!(i as f64)
                    }
                    ValueRef::Integer(i) => json!(i),
                    ValueRef::Real(r) => json!(r),
                    ValueRef::Text(t) => Json::String(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Json::Array(b.iter().map(|x| json!(x)).collect()),
                });
            }
            rows_out.push(cells);
        }
    }
    drop(stmt);
    let changes = tx.total_changes() - before;
    let meta = json!({
        "served_by": "fake-d1",
        "duration": 0,
        "changes": changes,
        "last_row_id": tx.last_insert_rowid(),
        "changed_db": changes > 0,
        "rows_read": rows_out.len(),
        "rows_written": changes,
    });
    let results = if format == "raw" {
        json!({"columns": columns, "rows": rows_out})
    } else {
        Json::Array(
            rows_out
                .into_iter()
                .map(|row| Json::Object(columns.iter().cloned().zip(row).collect()))
                .collect(),
        )
    };
    Ok(json!({"results": results, "success": true, "meta": meta}))
}

/// SQLite's message with D1's `: SQLITE_CODE` suffix.
fn sql_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            let kind = match code.code {
                rusqlite::ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
                rusqlite::ErrorCode::TooBig => "SQLITE_TOOBIG",
                _ => "SQLITE_ERROR",
            };
            format!(
                "{}: {kind}",
                message.clone().unwrap_or_else(|| code.to_string())
            )
        }
        other => format!("{other}: SQLITE_ERROR"),
    }
}
