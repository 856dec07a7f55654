//! The HTTP transport against the in-process fake D1: request shape, retries on every
//! transient fault (ending with exactly the expected rows), typed final errors, limits,
//! and no token anywhere in output.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use thread_flow::Statement;
use thread_flow::client::http::{HttpConfig, RateLimit, RetryPolicy};
use thread_flow::client::{Idempotency, RequestOutcome, RetryStop};
use thread_flow::{Connection, D1Database, Error, Value};
use thread_flow_suite::fake_d1::{FakeD1, Fault, FaultPlan, RETRYABLE_MESSAGE};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS \"items\" (\"id\" INTEGER PRIMARY KEY, \"name\" TEXT NOT NULL) STRICT";
const UPSERT: &str = "INSERT INTO \"items\" (\"id\", \"name\") VALUES (?, ?), (?, ?), (?, ?) \
    ON CONFLICT (\"id\") DO UPDATE SET \"name\" = excluded.\"name\"";

fn upsert_three(base: i64) -> Statement {
    let mut params = Vec::new();
    for i in base..base + 3 {
        params.push(Value::Integer(i));
        params.push(Value::Text(format!("item {i} ✓")));
    }
    Statement::new(UPSERT, params)
}

fn expected_rows(bases: &[i64]) -> Vec<Vec<Value>> {
    let mut ids: Vec<i64> = bases.iter().flat_map(|b| *b..*b + 3).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .map(|i| vec![Value::Integer(i), Value::Text(format!("item {i} ✓"))])
        .collect()
}

fn rows(fake: &FakeD1) -> Vec<Vec<Value>> {
    fake.query("SELECT \"id\", \"name\" FROM \"items\" ORDER BY \"id\"")
}

async fn setup(fake: &FakeD1, db: &D1Database) {
    db.request(vec![Statement::raw(CREATE)])
        .await
        .expect("create table");
    fake.set_faults(FaultPlan::None);
}

/// Sends `upsert_three(1)` with the given script and checks the final table.
async fn survives(
    script: Vec<Option<Fault>>,
    config: impl FnOnce(HttpConfig) -> HttpConfig,
) -> (RequestOutcome, FakeD1) {
    let fake = FakeD1::start();
    let db = D1Database::http_with(config(fake.http_config())).unwrap();
    setup(&fake, &db).await;
    fake.set_faults(FaultPlan::script(script));
    let outcome = db
        .request(vec![upsert_three(1)])
        .await
        .expect("request survives the faults");
    assert_eq!(
        rows(&fake),
        expected_rows(&[1]),
        "exactly the expected rows"
    );
    (outcome, fake)
}

#[tokio::test]
async fn one_request_carries_the_batch_body_and_bearer_token() {
    let fake = FakeD1::start();
    let db = fake.database();
    let outcome = db
        .request(vec![
            Statement::raw(CREATE),
            upsert_three(1),
            Statement::new(
                "SELECT \"id\", \"name\", ? AS \"n\", ? AS \"r\" FROM \"items\" WHERE \"id\" >= ? ORDER BY \"id\"",
                vec![Value::Null, Value::Real(2.5), Value::Integer(2)],
            ),
        ])
        .await
        .unwrap();
    let stats = fake.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.committed, 1);
    assert_eq!(stats.statements, 3);
    assert_eq!(outcome.attempts, 1);
    let recorded = fake.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path,
        format!(
            "/client/v4/accounts/{}/d1/database/{}/raw",
            fake.account_id(),
            fake.database_id()
        )
    );
    assert_eq!(
        r.authorization.as_deref(),
        Some(format!("Bearer {}", fake.token()).as_str())
    );
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(outcome.bytes_sent, r.body_bytes as u64);
    assert_eq!(stats.bytes_received, r.body_bytes as u64);
    assert_eq!(
        r.body,
        json!({"batch": [
            {"sql": CREATE, "params": []},
            {"sql": UPSERT, "params": [1, "item 1 ✓", 2, "item 2 ✓", 3, "item 3 ✓"]},
            {"sql": "SELECT \"id\", \"name\", ? AS \"n\", ? AS \"r\" FROM \"items\" WHERE \"id\" >= ? ORDER BY \"id\"",
             "params": [null, 2.5, 2]}
        ]})
    );
    assert_eq!(outcome.results.len(), 3);
    assert_eq!(outcome.results[1].changes, 3);
    let select = &outcome.results[2];
    assert_eq!(select.columns, ["id", "name", "n", "r"]);
    assert_eq!(
        select.rows,
        vec![
            vec![
                Value::Integer(2),
                Value::Text("item 2 ✓".into()),
                Value::Null,
                Value::Real(2.5)
            ],
            vec![
                Value::Integer(3),
                Value::Text("item 3 ✓".into()),
                Value::Null,
                Value::Real(2.5)
            ],
        ]
    );
}

#[tokio::test]
async fn big_integers_and_blobs_round_trip_through_cast_and_unhex() {
    let fake = FakeD1::start();
    let db = fake.database();
    let big = [i64::MAX, i64::MIN, (1 << 53) + 1, -(1 << 53) - 1];
    let mut statements = vec![Statement::raw(
        "CREATE TABLE \"big\" (\"id\" INTEGER PRIMARY KEY, \"b\" BLOB) STRICT",
    )];
    for (i, n) in big.iter().enumerate() {
        statements.push(Statement::new(
            "INSERT INTO \"big\" VALUES (CAST(? AS INTEGER), unhex(?))",
            vec![
                Value::Text(n.to_string()),
                Value::Text(format!("00ff{i:02x}")),
            ],
        ));
    }
    statements.push(Statement::raw(
        "SELECT CAST(\"id\" AS TEXT), hex(\"b\"), \"id\" FROM \"big\" ORDER BY \"id\"",
    ));
    let outcome = db.request(statements).await.unwrap();
    let mut sorted = big;
    sorted.sort_unstable();
    let stored = fake.query("SELECT \"id\" FROM \"big\" ORDER BY \"id\"");
    assert_eq!(
        stored,
        sorted
            .iter()
            .map(|n| vec![Value::Integer(*n)])
            .collect::<Vec<_>>()
    );
    let read = &outcome.results.last().unwrap().rows;
    for (row, n) in read.iter().zip(sorted) {
        assert_eq!(row[0], Value::Text(n.to_string()), "exact as text");
        // Read as a JSON number it would be rounded: the reason the SQL layer selects text.
        assert!(matches!(row[2], Value::Real(_)));
    }
    let blobs = fake.query("SELECT \"b\" FROM \"big\" WHERE \"id\" = 9223372036854775807");
    assert_eq!(blobs, vec![vec![Value::Blob(vec![0x00, 0xff, 0x00])]]);
}

#[tokio::test]
async fn values_json_cannot_carry_are_refused_before_sending() {
    let fake = FakeD1::start();
    let db = fake.database();
    for bad in [
        Value::Integer((1 << 53) + 1),
        Value::Integer(i64::MIN),
        Value::Real(f64::NAN),
        Value::Real(f64::INFINITY),
        Value::Blob(vec![1, 2, 3]),
    ] {
        let err = db
            .request(vec![Statement::new("SELECT ?", vec![bad.clone()])])
            .await
            .unwrap_err();
        match &err {
            Error::Parameter {
                statement,
                parameter,
                message,
                ..
            } => {
                assert_eq!((*statement, *parameter), (1, 1));
                assert!(
                    message.contains("CAST(? AS INTEGER)")
                        || message.contains("unhex(?)")
                        || message.contains("finite"),
                    "{message}"
                );
            }
            other => panic!("{bad:?}: unexpected {other:?}"),
        }
    }
    assert_eq!(fake.stats().requests, 0, "nothing was sent");
    // The edge of the safe range travels as a plain number.
    let ok = db
        .request(vec![Statement::new(
            "SELECT ?",
            vec![Value::Integer((1 << 53) - 1)],
        )])
        .await
        .unwrap();
    assert_eq!(
        ok.results[0].rows,
        vec![vec![Value::Integer((1 << 53) - 1)]]
    );
}

#[tokio::test]
async fn empty_request_sends_nothing() {
    let fake = FakeD1::start();
    let outcome = fake.database().request(Vec::new()).await.unwrap();
    assert!(outcome.results.is_empty());
    assert_eq!(fake.stats().requests, 0);
}

#[tokio::test]
async fn retries_429_after_retry_after() {
    let started = Instant::now();
    let (outcome, fake) = survives(
        vec![Some(Fault::RateLimited {
            retry_after: Some(Duration::from_millis(400)),
        })],
        |c| c,
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "waited for retry-after"
    );
    assert_eq!(outcome.attempts, 2);
    assert_eq!(fake.stats().requests, 3, "create + 2 attempts");
    assert_eq!(fake.stats().faults.get("rate_limited"), Some(&1));
    assert_eq!(
        outcome.bytes_sent,
        2 * fake.requests()[2].body_bytes as u64,
        "both attempts counted"
    );
}

#[tokio::test]
async fn retries_5xx_with_and_without_json_bodies() {
    let (outcome, fake) = survives(
        vec![
            Some(Fault::ServerError {
                status: 502,
                json: false,
            }),
            Some(Fault::ServerError {
                status: 503,
                json: false,
            }),
            Some(Fault::ServerError {
                status: 500,
                json: true,
            }),
        ],
        |c| c,
    )
    .await;
    assert_eq!(outcome.attempts, 4);
    assert_eq!(
        fake.stats().committed,
        2,
        "create + the one successful attempt"
    );
}

#[tokio::test]
async fn retries_a_connection_reset_before_processing() {
    let (outcome, fake) = survives(
        vec![
            Some(Fault::ResetBeforeProcessing),
            Some(Fault::ResetBeforeProcessing),
        ],
        |c| c,
    )
    .await;
    assert_eq!(outcome.attempts, 3);
    assert_eq!(fake.stats().committed, 2);
}

#[tokio::test]
async fn retries_a_response_lost_after_commit_without_duplicating_rows() {
    let (outcome, fake) = survives(vec![Some(Fault::ResetAfterCommit)], |c| c).await;
    assert_eq!(outcome.attempts, 2);
    assert_eq!(
        fake.stats().committed,
        3,
        "the lost attempt committed too; the upsert is idempotent"
    );
}

#[tokio::test]
async fn retries_a_response_slower_than_the_request_timeout() {
    let (outcome, fake) = survives(
        // The slow answer comes long after the timeout, and the timeout is long enough for a
        // normal answer on a loaded machine.
        vec![Some(Fault::SlowResponse {
            delay: Duration::from_secs(60),
        })],
        |c| c.with_request_timeout(Duration::from_secs(3)),
    )
    .await;
    assert_eq!(outcome.attempts, 2);
    assert_eq!(fake.stats().faults.get("slow_response"), Some(&1));
}

#[tokio::test]
async fn retries_d1_retryable_messages() {
    let (outcome, _fake) = survives(
        vec![Some(Fault::RetryableMessage), Some(Fault::RetryableMessage)],
        |c| c,
    )
    .await;
    assert_eq!(outcome.attempts, 3);
}

#[tokio::test]
async fn random_faults_at_40_percent_leave_exactly_the_expected_rows() {
    let fake = FakeD1::start();
    let db = D1Database::http_with(
        fake.http_config()
            .with_request_timeout(Duration::from_secs(2))
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(30)
                    .with_backoff(Duration::from_millis(2), Duration::from_millis(20))
                    .with_deadline(Duration::from_secs(60)),
            ),
    )
    .unwrap();
    setup(&fake, &db).await;
    fake.set_faults(FaultPlan::random(
        0.4,
        7,
        Fault::transient_mix(Duration::from_secs(30)),
    ));
    let bases: Vec<i64> = (0..40).map(|i| i * 2).collect(); // overlapping keys
    let mut retries = 0;
    for base in &bases {
        retries += db
            .request(vec![upsert_three(*base)])
            .await
            .unwrap()
            .attempts
            - 1;
    }
    assert_eq!(rows(&fake), expected_rows(&bases));
    let stats = fake.stats();
    assert!(retries > 5, "faults were injected and retried ({retries})");
    assert_eq!(stats.faults.values().sum::<u64>(), u64::from(retries));
}

#[tokio::test]
async fn sql_errors_are_typed_not_retried_and_roll_back_the_batch() {
    let fake = FakeD1::start();
    let db = fake.database();
    setup(&fake, &db).await;
    let err = db
        .request(vec![
            upsert_three(1),
            Statement::raw("INSERT INTO \"missing\" VALUES (1)"),
        ])
        .await
        .unwrap_err();
    match &err {
        Error::Api {
            status,
            code,
            message,
            attempts,
            ..
        } => {
            assert_eq!(*status, Some(400));
            assert_eq!(*code, Some(7500));
            assert!(message.contains("no such table: missing"), "{message}");
            assert_eq!(*attempts, 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(fake.stats().requests, 2, "create + one attempt");
    assert!(rows(&fake).is_empty(), "the whole batch rolled back");
}

#[tokio::test]
async fn bad_token_is_typed_with_a_hint_and_not_retried() {
    let fake = FakeD1::start();
    let token = "wrong-token-0b7a61";
    let db = D1Database::http(
        fake.base_url(),
        fake.account_id(),
        fake.database_id(),
        token,
    )
    .unwrap();
    let err = db
        .request(vec![Statement::raw("SELECT 1")])
        .await
        .unwrap_err();
    match &err {
        Error::Api {
            status,
            code,
            hint,
            attempts,
            ..
        } => {
            assert_eq!(*status, Some(401));
            assert_eq!(*code, Some(10000));
            assert_eq!(*attempts, 1);
            assert!(
                hint.as_deref()
                    .unwrap_or_default()
                    .contains("CLOUDFLARE_API_TOKEN has D1 edit permission")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(fake.stats().requests, 1);
    assert_eq!(fake.stats().auth_failures, 1);
    let shown = format!("{err} {err:?} {db:?}");
    assert!(!shown.contains(token), "{shown}");
}

#[tokio::test]
async fn wrong_database_id_is_a_typed_404() {
    let fake = FakeD1::start();
    let db =
        D1Database::http(fake.base_url(), fake.account_id(), "other-db", fake.token()).unwrap();
    match db
        .request(vec![Statement::raw("SELECT 1")])
        .await
        .unwrap_err()
    {
        Error::Api {
            status: Some(404),
            hint: Some(hint),
            attempts: 1,
            ..
        } => assert!(hint.contains("D1_DATABASE_ID")),
        other => panic!("unexpected {other:?}"),
    }
}

/// Waits (up to a generous minute) until the fake has counted `n` requests: a request the
/// client abandoned at its deadline may still be on its way into the fake.
async fn wait_for_requests(fake: &FakeD1, n: u64) -> u64 {
    let started = Instant::now();
    loop {
        let seen = fake.stats().requests;
        if seen >= n || started.elapsed() > Duration::from_secs(60) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Issue 10, section 8: which error a caller gets when retrying stops must not depend on
/// timing. Every answer is a 503 that takes 250 ms, so the deadline always falls inside an
/// attempt (or a backoff): before the fix the attempt cut short by the deadline became the
/// reported failure (`Transport { "no answer within 0.1 s" }` or "no time left before the
/// deadline"); now the error is the last 503 itself, with its code, the attempts, and
/// "deadline" as the reason.
#[tokio::test]
async fn always_failing_ends_at_the_deadline_with_the_last_api_error_whatever_the_timing() {
    let fake = FakeD1::builder()
        .faults(FaultPlan::Always(Fault::ServerError {
            status: 503,
            json: true,
        }))
        .delay(Duration::from_millis(250))
        .start();
    let deadline = Duration::from_millis(1_600);
    let db = D1Database::http_with(
        fake.http_config().with_retry(
            RetryPolicy::default()
                .with_max_attempts(1000)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
                .with_deadline(deadline),
        ),
    )
    .unwrap();
    let started = Instant::now();
    let err = db.request(vec![upsert_three(1)]).await.unwrap_err();
    let elapsed = started.elapsed();
    // Only a sanity bound (the deadline is enforced, nothing hangs); generous for a loaded
    // machine.
    assert!(elapsed < deadline + Duration::from_secs(30), "{elapsed:?}");
    match &err {
        Error::Api {
            status,
            code,
            message,
            attempts,
            hint,
            stopped,
            ..
        } => {
            assert_eq!(*status, Some(503));
            assert_eq!(*code, Some(7500));
            assert_eq!(message, "Internal error");
            assert!(*attempts >= 1, "{attempts}");
            let requests = wait_for_requests(&fake, u64::from(*attempts)).await;
            assert_eq!(u64::from(*attempts), requests, "every attempt is counted");
            assert!(matches!(stopped, Some(RetryStop::Deadline)), "{stopped:?}");
            assert_eq!(*hint, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("HTTP 503") && text.contains("RetryPolicy::deadline"),
        "{text}"
    );
    assert!(err.is_retryable());
    assert!(!err.outcome_unknown());
    assert_eq!(fake.stats().committed, 0);
}

/// The same rule when the attempts run out: the last 503 with its code, and why.
#[tokio::test]
async fn always_failing_ends_after_max_attempts_with_the_last_api_error() {
    let fake = FakeD1::builder()
        .faults(FaultPlan::Always(Fault::ServerError {
            status: 503,
            json: true,
        }))
        .start();
    let db = D1Database::http_with(
        fake.http_config().with_retry(
            RetryPolicy::default()
                .with_max_attempts(5)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        ),
    )
    .unwrap();
    match db.request(vec![upsert_three(1)]).await.unwrap_err() {
        Error::Api {
            status: Some(503),
            code: Some(7500),
            attempts: 5,
            stopped: Some(RetryStop::MaxAttempts { max: 5 }),
            ..
        } => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(fake.stats().requests, 5);
}

#[tokio::test]
async fn always_reset_ends_with_a_transport_error_after_max_attempts() {
    let fake = FakeD1::builder()
        .faults(FaultPlan::Always(Fault::ResetBeforeProcessing))
        .start();
    let db = D1Database::http_with(
        fake.http_config().with_retry(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        ),
    )
    .unwrap();
    let err = db.request(vec![upsert_three(1)]).await.unwrap_err();
    match &err {
        Error::Transport {
            message,
            attempts,
            stopped,
            ..
        } => {
            assert_eq!(*attempts, 4);
            assert_eq!(*stopped, Some(RetryStop::MaxAttempts { max: 4 }));
            assert!(message.contains("connection"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains("RetryPolicy::max_attempts = 4"),
        "{err}"
    );
    assert_eq!(fake.stats().requests, 4);
    assert_eq!(fake.stats().committed, 0);
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_fails_fast() {
    let fake = FakeD1::builder()
        .faults(FaultPlan::Always(Fault::RateLimited {
            retry_after: Some(Duration::from_secs(120)),
        }))
        .start();
    let db = D1Database::http_with(
        fake.http_config()
            .with_retry(RetryPolicy::default().with_deadline(Duration::from_secs(10))),
    )
    .unwrap();
    let started = Instant::now();
    match db.request(vec![upsert_three(1)]).await.unwrap_err() {
        Error::Api {
            status: Some(429),
            attempts: 1,
            hint: Some(hint),
            stopped: Some(RetryStop::Deadline),
            ..
        } => {
            assert!(hint.contains("rate limiting"), "{hint}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The server asked for 60 s (capped) and the deadline is 10 s: giving up at once is
    // far below either, even on a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "did not sleep into the deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_is_never_exceeded() {
    let fake = FakeD1::builder().delay(Duration::from_millis(300)).start();
    let db = D1Database::http_with(fake.http_config().with_max_concurrency(3)).unwrap();
    setup(&fake, &db).await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.request(vec![upsert_three(i * 3)]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fake.stats().max_in_flight, 3);
    assert_eq!(rows(&fake).len(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_rate_limit_holds_requests_per_window() {
    let fake = FakeD1::start();
    let window = Duration::from_millis(1_000);
    let db = D1Database::http_with(
        fake.http_config()
            .with_rate_limit(Some(RateLimit::new(4, window))),
    )
    .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.request(vec![Statement::new("SELECT ?", vec![Value::Integer(i)])])
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(
        started.elapsed() >= 2 * window,
        "10 requests at 4 per window need 3 windows"
    );
    let times: Vec<Instant> = fake.requests().iter().map(|r| r.at).collect();
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            // Arrival at the fake lags admission by the client's scheduling: allow half a
            // window of it.
            .filter(|u| u.duration_since(*t) < window / 2)
            .count();
        assert!(in_window <= 4, "{in_window} requests within one window");
    }
}

#[tokio::test]
async fn from_vars_selects_the_http_transport() {
    let fake = FakeD1::start();
    let vars = [
        ("CLOUDFLARE_ACCOUNT_ID", fake.account_id().to_owned()),
        ("D1_DATABASE_ID", fake.database_id().to_owned()),
        ("CLOUDFLARE_API_TOKEN", fake.token().to_owned()),
        ("D1_BASE_URL", fake.base_url().to_owned()),
    ];
    let connection =
        Connection::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
            .unwrap();
    assert!(
        matches!(connection, Connection::Http { .. }),
        "{connection:?}"
    );
    assert!(!format!("{connection:?}").contains(fake.token()));
    let db = D1Database::connect_with_token(&connection, fake.token()).unwrap();
    db.request(vec![Statement::raw(CREATE)]).await.unwrap();
    assert_eq!(fake.stats().committed, 1);

    let partial = [
        ("CLOUDFLARE_ACCOUNT_ID", "a"),
        ("CLOUDFLARE_API_TOKEN", "tok-abc-123"),
    ];
    let err = Connection::from_vars(|n| {
        partial
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(err.to_string().contains("D1_DATABASE_ID"));
    assert!(!err.to_string().contains("tok-abc-123"));
}

/// Captures everything tracing prints, at TRACE level, for the current thread.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_appears_in_logs_debug_display_or_errors() {
    let fake = FakeD1::start();
    let capture = Capture::default();
    let sink = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let config = fake.http_config();
    let db = D1Database::http_with(config.clone()).unwrap();
    setup(&fake, &db).await;
    fake.set_faults(FaultPlan::script([
        Some(Fault::RateLimited { retry_after: None }),
        Some(Fault::ServerError {
            status: 502,
            json: false,
        }),
        Some(Fault::ResetBeforeProcessing),
        Some(Fault::RetryableMessage),
        Some(Fault::ResetAfterCommit),
    ]));
    db.request(vec![upsert_three(1)]).await.unwrap();
    let mut shown = vec![
        format!("{config:?}"),
        format!("{db:?}"),
        format!("{:?}", config.token),
        config.token.to_string(),
    ];
    fake.set_faults(FaultPlan::Always(Fault::Unauthorized));
    let auth = db.request(vec![upsert_three(1)]).await.unwrap_err();
    fake.set_faults(FaultPlan::None);
    let sql = db
        .request(vec![Statement::raw("SELEC nonsense")])
        .await
        .unwrap_err();
    let bind = db
        .request(vec![Statement::new(
            "SELECT ?",
            vec![Value::Real(f64::NAN)],
        )])
        .await
        .unwrap_err();
    for e in [auth, sql, bind] {
        shown.push(format!("{e} {e:?}"));
    }
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the capture works: {logs}");
    assert!(!logs.contains(RETRYABLE_MESSAGE) || logs.contains("Network connection lost"));
    for text in shown.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(fake.token()), "token leaked in: {text}");
    }
    assert!(!logs.contains("item 1 ✓"), "parameters are not logged");
}

// ---- Issue 10, section 5: no token in clear text, no redirects, bounded answers ----

fn config_error(result: thread_flow::Result<D1Database>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        Err(other) => panic!("expected a Config error, got {other:?}"),
        Ok(db) => panic!("expected a Config error, got {db:?}"),
    }
}

#[tokio::test]
async fn plain_http_to_another_host_is_refused_before_any_request() {
    let token = "clear-text-token-41c2";
    for base in [
        "http://example.com",
        "http://example.com:8787/",
        "http://10.0.0.1",
        "http://[2001:db8::1]",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
    ] {
        let text = config_error(D1Database::http(base, "acc", "db", token));
        assert!(
            text.contains("plain http://") && text.contains("https://"),
            "{base}: {text}"
        );
        assert!(!text.contains(token));
        config_error(D1Database::http_with(HttpConfig::new(
            base, "acc", "db", token,
        )));
        let vars = [
            ("CLOUDFLARE_ACCOUNT_ID", "acc"),
            ("D1_DATABASE_ID", "db"),
            ("CLOUDFLARE_API_TOKEN", token),
            ("D1_BASE_URL", base),
        ];
        let err = Connection::from_vars(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("D1_BASE_URL"), "{err}");
        // A connection built by hand is checked when it is opened.
        let by_hand = Connection::Http {
            base_url: base.into(),
            account_id: "acc".into(),
            database_id: "db".into(),
            token: None,
        };
        config_error(D1Database::connect_with_token(&by_hand, token));
    }
    for base in [
        "ftp://example.com",
        "example.com",
        "https://user:pa55word@example.com",
        "https://example.com/?x=1",
    ] {
        let text = config_error(D1Database::http(base, "acc", "db", token));
        assert!(!text.contains("pa55word"), "{text}");
    }
    // https anywhere; plain http on loopback addresses only (construction does not connect).
    for base in [
        "https://example.com",
        "https://api.cloudflare.com/client/v4/",
        "http://127.0.0.1:1",
        "http://127.8.9.10:1",
        "http://[::1]:1",
        "http://LOCALHOST:1",
    ] {
        D1Database::http(base, "acc", "db", token).unwrap_or_else(|e| panic!("{base}: {e}"));
    }
}

#[tokio::test]
async fn plain_http_to_loopback_works_by_address_and_by_name() {
    let fake = FakeD1::start();
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    fake.database()
        .request(vec![Statement::raw(CREATE)])
        .await
        .unwrap();
    let by_name = fake.base_url().replace("127.0.0.1", "localhost");
    let db =
        D1Database::http(by_name, fake.account_id(), fake.database_id(), fake.token()).unwrap();
    // `localhost` may resolve to ::1 first; the fake listens on 127.0.0.1 only, and the
    // client falls back to it.
    db.request(vec![upsert_three(1)]).await.unwrap();
    assert_eq!(rows(&fake), expected_rows(&[1]));
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_token_never_reaches_its_target() {
    let target = FakeD1::start();
    let fake = FakeD1::start();
    let location = format!(
        "{}/client/v4/accounts/{}/d1/database/{}/raw?sig=hidden-signature",
        target.base_url(),
        target.account_id(),
        target.database_id()
    );
    for status in [301, 302, 307, 308] {
        fake.set_faults(FaultPlan::Always(Fault::Redirect {
            status,
            location: location.clone(),
        }));
        let before = fake.stats().requests;
        let err = fake
            .database()
            .request(vec![Statement::raw(CREATE)])
            .await
            .unwrap_err();
        match &err {
            Error::Api {
                status: got,
                message,
                attempts: 1,
                stopped: Some(RetryStop::NotRetryable),
                ..
            } => {
                assert_eq!(*got, Some(status));
                assert!(message.contains("redirected to"), "{message}");
                assert!(message.contains(target.base_url()), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(fake.stats().requests, before + 1, "not retried");
        let text = format!("{err} {err:?}");
        assert!(!text.contains(fake.token()), "{text}");
        assert!(!text.contains("hidden-signature"), "{text}");
        assert!(!err.is_retryable());
    }
    assert_eq!(
        target.stats().requests,
        0,
        "the redirect target saw nothing"
    );
    assert!(target.requests().is_empty());
}

#[tokio::test]
async fn an_oversized_response_is_a_typed_error_naming_the_cap() {
    let fake = FakeD1::start();
    let cap = 64 * 1024;
    let db = D1Database::http_with(fake.http_config().with_max_response_bytes(cap)).unwrap();
    setup(&fake, &db).await;
    // Within the cap the padded answer is read normally.
    fake.set_faults(FaultPlan::script([Some(Fault::OversizedBody {
        padding: 1_000,
        content_length: true,
    })]));
    db.request(vec![upsert_three(1)]).await.unwrap();
    for content_length in [true, false] {
        fake.set_faults(FaultPlan::Always(Fault::OversizedBody {
            padding: 4 * 1024 * 1024,
            content_length,
        }));
        let before = fake.stats().requests;
        let err = db.request(vec![upsert_three(1)]).await.unwrap_err();
        match &err {
            Error::ResponseTooLarge { max, status, .. } => {
                assert_eq!(*max, cap);
                assert_eq!(*status, 200);
            }
            other => panic!("content-length {content_length}: unexpected {other:?}"),
        }
        assert!(err.to_string().contains("65536-byte cap"), "{err}");
        assert!(err.to_string().contains("max_response_bytes"), "{err}");
        assert!(!err.is_retryable());
        assert_eq!(fake.stats().requests, before + 1, "not retried");
    }
    // A large read through the typed API names the table.
    fake.set_faults(FaultPlan::None);
    let big = "x".repeat(100_000);
    db.request(vec![Statement::new(
        "INSERT INTO \"items\" (\"id\", \"name\") VALUES (?, ?)",
        vec![Value::Integer(99), Value::Text(big)],
    )])
    .await
    .unwrap();
    let err = db
        .request(vec![Statement::raw("SELECT * FROM \"items\"")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { max, .. } if max == cap),
        "{err:?}"
    );
    assert_eq!(
        thread_flow::client::http::DEFAULT_MAX_RESPONSE_BYTES,
        HttpConfig::new("https://x", "a", "d", "t").max_response_bytes
    );
}

// ---- Issue 10, section 6: raw SQL is not retried after it may have run ----

const COUNTER: &str =
    "CREATE TABLE \"counter\" (\"id\" INTEGER PRIMARY KEY, \"n\" INTEGER NOT NULL) STRICT";
const BUMP: &str = "UPDATE \"counter\" SET \"n\" = \"n\" + 1 WHERE \"id\" = 1";

async fn counter(fake: &FakeD1) -> D1Database {
    let db = fake.database();
    db.execute(COUNTER, vec![]).await.unwrap();
    db.execute("INSERT INTO \"counter\" VALUES (1, 0)", vec![])
        .await
        .unwrap();
    fake.set_faults(FaultPlan::None);
    db
}

fn n(fake: &FakeD1) -> i64 {
    match fake.query("SELECT \"n\" FROM \"counter\"")[0][0] {
        Value::Integer(n) => n,
        ref other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn execute_runs_a_non_idempotent_statement_once_when_the_answer_is_lost() {
    let fake = FakeD1::start();
    let db = counter(&fake).await;
    let before = fake.stats().requests;
    fake.set_faults(FaultPlan::script([Some(Fault::ResetAfterCommit)]));
    let err = db.execute(BUMP, vec![]).await.unwrap_err();
    assert_eq!(n(&fake), 1, "n = n + 1 ran exactly once");
    assert_eq!(fake.stats().requests, before + 1, "sent once");
    match &err {
        Error::Transport {
            attempts: 1,
            stopped: Some(RetryStop::OutcomeUnknown),
            ..
        } => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.outcome_unknown());
    assert!(
        !err.is_retryable(),
        "a caller's generic retry must not resend it"
    );
    let text = err.to_string();
    assert!(
        text.contains("outcome unknown") && text.contains("execute_idempotent"),
        "{text}"
    );
}

#[tokio::test]
async fn raw_sql_is_not_resent_after_failures_that_do_not_prove_it_did_not_run() {
    let fake = FakeD1::start();
    let db = counter(&fake).await;
    let mut expected = 0;
    for (fault, ran) in [
        (Fault::ResetAfterCommit, true),
        (
            Fault::SlowResponse {
                delay: Duration::from_secs(60),
            },
            true,
        ),
        // Indistinguishable from a reset after the commit: not resent either.
        (Fault::ResetBeforeProcessing, false),
        (
            Fault::ServerError {
                status: 503,
                json: true,
            },
            false,
        ),
        (
            Fault::ServerError {
                status: 502,
                json: false,
            },
            false,
        ),
        (Fault::RetryableMessage, false),
    ] {
        let db = D1Database::http_with(
            fake.http_config()
                .with_request_timeout(Duration::from_secs(3)),
        )
        .unwrap();
        let before = fake.stats().requests;
        fake.set_faults(FaultPlan::script([Some(fault.clone())]));
        let err = db
            .batch(vec![Statement::raw(BUMP), Statement::raw(BUMP)])
            .await
            .unwrap_err();
        if ran {
            expected += 2;
        }
        assert_eq!(n(&fake), expected, "{fault:?}");
        assert_eq!(fake.stats().requests, before + 1, "{fault:?}: sent once");
        assert!(err.outcome_unknown(), "{fault:?}: {err:?}");
        assert_eq!(err.retry_stop(), Some(&RetryStop::OutcomeUnknown));
    }
    drop(db);
}

#[tokio::test]
async fn raw_sql_is_resent_after_failures_that_prove_it_did_not_run() {
    let fake = FakeD1::start();
    let db = counter(&fake).await;
    // 429 (rate limited / overloaded): D1 refused the request before running it.
    fake.set_faults(FaultPlan::script([
        Some(Fault::RateLimited {
            retry_after: Some(Duration::from_millis(10)),
        }),
        Some(Fault::RateLimited { retry_after: None }),
    ]));
    let outcome = db
        .request_with(vec![Statement::raw(BUMP)], Idempotency::NotIdempotent)
        .await
        .unwrap();
    assert_eq!(outcome.attempts, 3);
    assert_eq!(n(&fake), 1);
    // No connection at all: retried until the attempts run out, never "outcome unknown".
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nowhere = D1Database::http_with(
        HttpConfig::new(format!("http://127.0.0.1:{port}"), "a", "d", "t")
            .with_rate_limit(None)
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(3)
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
            ),
    )
    .unwrap();
    match nowhere.execute(BUMP, vec![]).await.unwrap_err() {
        Error::Transport {
            message,
            attempts: 3,
            stopped: Some(RetryStop::MaxAttempts { max: 3 }),
            ..
        } => assert!(message.contains("cannot connect"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn idempotent_raw_sql_is_retried_after_a_lost_answer() {
    let fake = FakeD1::start();
    let db = counter(&fake).await;
    let upsert = "INSERT INTO \"counter\" VALUES (2, 7) ON CONFLICT (\"id\") DO UPDATE SET \"n\" = excluded.\"n\"";
    fake.set_faults(FaultPlan::script([Some(Fault::ResetAfterCommit)]));
    let r = db.execute_idempotent(upsert, vec![]).await.unwrap();
    assert_eq!(r.changes, 1);
    fake.set_faults(FaultPlan::script([Some(Fault::ServerError {
        status: 503,
        json: true,
    })]));
    let results = db
        .batch_idempotent(vec![
            Statement::raw(upsert),
            Statement::raw("SELECT \"n\" FROM \"counter\" WHERE \"id\" = 2"),
        ])
        .await
        .unwrap();
    assert_eq!(results[1].rows, vec![vec![Value::Integer(7)]]);
    assert_eq!(
        fake.query("SELECT \"id\", \"n\" FROM \"counter\" ORDER BY \"id\""),
        vec![
            vec![Value::Integer(1), Value::Integer(0)],
            vec![Value::Integer(2), Value::Integer(7)]
        ]
    );
}
