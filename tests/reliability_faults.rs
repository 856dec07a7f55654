//! Issue 7, parts 1 and 2, over HTTP against the in-process fake D1.
//!
//! 1. Fault soak: 20,000 upserts and 5,000 deletes through `D1Table::write` while the fake
//!    injects a fault at 25% of requests (seeded): 429 with and without `retry-after`,
//!    500 (JSON) / 502 / 503 (HTML bodies), connection reset before processing, connection reset
//!    after the commit (response lost), a response slower than the client timeout, and D1's
//!    retryable "Network connection lost". The final table equals the model exactly. Then, with
//!    every request failing, each kind of failure ends within the deadline with a typed error
//!    naming the table, the first key of the failed batch, the last D1 code and message, and the
//!    number of attempts.
//! 2. Concurrent writers: 8 tasks write overlapping keys through one `D1Database`; each key ends
//!    with the value of its last completed write, and the fake never sees more requests in
//!    flight than the HTTP concurrency limit, nor more requests per window than the rate limit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thread_flow::WriteOptions;
use thread_flow::client::RetryStop;
use thread_flow::client::http::{RateLimit, RetryPolicy};
use thread_flow::sql::render_key;
use thread_flow::{D1Database, D1Target, Error, Value};
use thread_flow_suite::fake_d1::{FakeD1, Fault, FaultPlan, RETRYABLE_MESSAGE};

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "soak")]
struct SoakRow {
    #[d1(primary_key)]
    id: i64,
    name: String,
    score: f64,
    data: Vec<u8>,
    note: Option<String>,
    version: i64,
}

impl SoakRow {
    fn values(&self) -> Vec<Value> {
        vec![
            Value::Integer(self.id),
            Value::Text(self.name.clone()),
            Value::Real(self.score),
            Value::Blob(self.data.clone()),
            self.note.clone().map_or(Value::Null, Value::Text),
            Value::Integer(self.version),
        ]
    }
}

/// Key `k` of the soak's key space, spread over the whole i64 range (beyond ±2^53 too).
fn soak_id(k: u64) -> i64 {
    let k = k as i64;
    match k % 4 {
        0 => k,
        1 => i64::MAX - k,
        2 => i64::MIN + k,
        _ => (1 << 53) + k * 1_000_003,
    }
}

/// Retries for writes under transient faults: up to 40 attempts, 2..40 ms apart, until
/// `deadline`.
fn transient_retry(deadline: Duration) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(40)
        .with_backoff(Duration::from_millis(2), Duration::from_millis(40))
        .with_deadline(deadline)
}

const KEYS: u64 = 9_000;
const UPSERTS: usize = 20_000;
const DELETES: usize = 5_000;
const CALLS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_soak_25_percent_ends_with_exactly_the_model() {
    let fake = FakeD1::start();
    let db = D1Database::http_with(
        // A timeout well above a normal answer's time on a loaded machine, so that only the
        // injected slow answers time out.
        fake.http_config()
            .with_request_timeout(Duration::from_millis(1_500))
            .with_retry(transient_retry(Duration::from_secs(300))),
    )
    .unwrap()
    // Small requests so the write spans hundreds of them; one at a time, so the seeded fault
    // sequence meets the same requests on every run.
    .with_write_options(
        WriteOptions::default()
            .with_max_request_bytes(6_000)
            .with_max_statements_per_request(4)
            .with_concurrency(1),
    );
    let table = db.table::<SoakRow>();
    table.migrate().await.unwrap();
    let mut faults = Fault::transient_mix(Duration::from_secs(30));
    faults.push(Fault::ServerError {
        status: 503,
        json: true,
    });
    fake.set_faults(FaultPlan::random(0.25, 0x005e_edd1, faults));
    let before = fake.stats();

    let mut rng = fastrand::Rng::with_seed(2024);
    let mut model: BTreeMap<i64, SoakRow> = BTreeMap::new();
    let (mut upserted, mut deleted, mut retries, mut requests) = (0usize, 0usize, 0u64, 0u64);
    for call in 0..CALLS {
        let upserts: Vec<SoakRow> = (0..UPSERTS / CALLS)
            .map(|i| {
                let id = soak_id(rng.u64(..KEYS));
                SoakRow {
                    id,
                    name: format!("row {id} call {call} ✓ \"é\" 🦀"),
                    score: rng.f64() * 1e6 - 5e5,
                    data: (0..rng.usize(..24)).map(|_| rng.u8(..)).collect(),
                    note: rng.bool().then(|| format!("note {i}")),
                    version: (call * 1000 + i) as i64,
                }
            })
            .collect();
        let deletes: Vec<i64> = (0..DELETES / CALLS)
            .map(|_| soak_id(rng.u64(..KEYS)))
            .collect();
        let report = table
            .write(&upserts, &deletes)
            .await
            .unwrap_or_else(|e| panic!("call {call}: {e}"));
        // Upserts (last of a key wins), then deletes.
        for row in upserts {
            model.insert(row.id, row);
        }
        for id in &deletes {
            model.remove(id);
        }
        upserted += UPSERTS / CALLS;
        deleted += DELETES / CALLS;
        retries += report.retries;
        requests += report.requests;
    }
    fake.set_faults(FaultPlan::None);
    assert_eq!((upserted, deleted), (UPSERTS, DELETES));

    let stats = fake.stats();
    let injected: u64 = stats.faults.values().sum::<u64>() - before.faults.values().sum::<u64>();
    let received = stats.requests - before.requests;
    println!(
        "soak: {requests} write requests, {received} received, {injected} faults injected, \
         {retries} retries; faults by kind: {:?}",
        stats.faults
    );
    for kind in [
        "rate_limited",
        "server_error",
        "reset_before_processing",
        "reset_after_commit",
        "slow_response",
        "retryable_message",
    ] {
        assert!(
            stats.faults.get(kind).copied().unwrap_or(0) >= 3,
            "fault {kind} was injected: {:?}",
            stats.faults
        );
    }
    assert!(
        (0.18..=0.32).contains(&(injected as f64 / received as f64)),
        "about 25% of requests faulted: {injected} / {received}"
    );
    assert!(
        retries >= injected,
        "each injected fault cost a retry ({retries} retries, {injected} faults)"
    );
    assert!(
        requests >= 300,
        "the write spanned many requests ({requests})"
    );

    // Exact, straight from the fake's SQLite ...
    let stored = fake.query(
        "SELECT \"id\", \"name\", \"score\", \"data\", \"note\", \"version\" FROM \"soak\" ORDER BY \"id\"",
    );
    let want: Vec<Vec<Value>> = model.values().map(SoakRow::values).collect();
    assert!(want.len() > 5_000, "{} rows in the model", want.len());
    assert_eq!(stored.len(), want.len(), "row count");
    assert_eq!(stored, want, "the table equals the model");
    // ... and read back over HTTP.
    let mut back = table.all().await.unwrap();
    back.sort_by_key(|r| r.id);
    assert!(back == model.values().cloned().collect::<Vec<_>>());
    println!("soak: final table = model ({} rows)", want.len());
}

/// What the last failed attempt should have reported.
enum Last {
    Api {
        status: u16,
        code: Option<i64>,
        message: &'static str,
    },
    Transport(&'static str),
}

/// What should stop the retries.
enum Stop {
    /// `RetryPolicy::max_attempts`, with this value.
    Attempts(u32),
    /// `RetryPolicy::deadline`.
    Deadline,
}

/// A write whose every request fails: the error names the table, the batch's first key, the
/// last failure (its own kind, whatever stopped the retries), the attempts and why retrying
/// stopped, and comes within the retry deadline.
async fn always_failing(
    label: &str,
    plan: FaultPlan,
    retry: RetryPolicy,
    request_timeout: Duration,
    last: Last,
    first_batch_committed: bool,
) {
    let stop = if retry.max_attempts < 100 {
        Stop::Attempts(retry.max_attempts)
    } else {
        Stop::Deadline
    };
    let fake = FakeD1::start();
    let deadline = retry.deadline;
    let db = D1Database::http_with(
        fake.http_config()
            .with_request_timeout(request_timeout)
            .with_retry(retry),
    )
    .unwrap()
    .with_write_options(
        WriteOptions::default()
            .with_max_request_bytes(2_000)
            .with_max_statements_per_request(2)
            .with_concurrency(1),
    );
    let table = db.table::<SoakRow>();
    table.migrate().await.unwrap();
    let rows: Vec<SoakRow> = (0..200)
        .map(|i| SoakRow {
            id: soak_id(4 * i + 1),
            name: format!("n{i}"),
            score: 0.5,
            data: vec![1, 2, 3],
            note: None,
            version: 1,
        })
        .collect();
    fake.set_faults(plan);
    let before = fake.stats().requests;
    let started = Instant::now();
    let err = table.upsert(&rows).await.unwrap_err();
    let elapsed = started.elapsed();
    let sent = fake.stats().requests - before;
    let first_key = render_key(&[Value::Integer(rows[0].id)]);
    let text = err.to_string();
    println!("{label}: {elapsed:?}, {sent} requests -> {text}");
    // A sanity bound only (retrying stops, nothing hangs): the deadline plus one request
    // timeout plus a generous margin for a loaded machine.
    assert!(
        elapsed < deadline + request_timeout + Duration::from_secs(30),
        "{label}: ended within its deadline ({elapsed:?})"
    );
    let attempts = match (&err, &last) {
        (
            Error::Api {
                status,
                code,
                message,
                table,
                first_key: key,
                attempts,
                ..
            },
            Last::Api {
                status: want_status,
                code: want_code,
                message: want_message,
            },
        ) => {
            assert_eq!(*status, Some(*want_status), "{label}");
            assert_eq!(code, want_code, "{label}");
            assert!(message.contains(want_message), "{label}: {message}");
            assert_eq!(table.as_deref(), Some("soak"), "{label}");
            assert_eq!(key.as_deref(), Some(first_key.as_str()), "{label}");
            *attempts
        }
        (
            Error::Transport {
                message,
                table,
                first_key: key,
                attempts,
                ..
            },
            Last::Transport(want_message),
        ) => {
            assert!(message.contains(want_message), "{label}: {message}");
            assert_eq!(table.as_deref(), Some("soak"), "{label}");
            assert_eq!(key.as_deref(), Some(first_key.as_str()), "{label}");
            *attempts
        }
        (other, _) => panic!("{label}: unexpected {other:?}"),
    };
    assert!(attempts >= 2, "{label}: retried ({attempts})");
    match (err.retry_stop(), &stop) {
        (Some(RetryStop::MaxAttempts { max }), Stop::Attempts(want)) => {
            assert_eq!(max, want, "{label}");
            assert_eq!(attempts, *want, "{label}");
        }
        (Some(RetryStop::Deadline), Stop::Deadline) => {}
        (other, _) => panic!("{label}: stopped by {other:?}"),
    }
    // An attempt abandoned at the deadline may still be on its way into the fake.
    let mut sent = sent;
    let waiting = Instant::now();
    while sent < u64::from(attempts) && waiting.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        sent = fake.stats().requests - before;
    }
    assert_eq!(
        u64::from(attempts),
        sent,
        "{label}: every attempt reached the server, and only the first batch was tried"
    );
    assert!(
        text.contains("soak") && text.contains(&first_key) && text.contains("attempts"),
        "{label}: {text}"
    );
    assert!(err.is_retryable(), "{label}");
    let stored = fake.query("SELECT count(*) FROM \"soak\"");
    if first_batch_committed {
        // Slow answers come after the commit: the first batch is in, nothing after it.
        let n = match stored[0][0] {
            Value::Integer(n) => n,
            ref other => panic!("{other:?}"),
        };
        assert!(n > 0 && n < rows.len() as i64, "{label}: {n} rows");
    } else {
        assert_eq!(
            stored,
            vec![vec![Value::Integer(0)]],
            "{label}: nothing written"
        );
    }
    if let (Error::Api { hint, .. }, Last::Api { status: 429, .. }) = (&err, &last) {
        let hint = hint.as_deref().unwrap_or_default();
        assert!(
            hint.contains("D1 is rate limiting"),
            "{label}: the hint says what to do: {hint}"
        );
    }
    let why = match stop {
        Stop::Attempts(_) => "RetryPolicy::max_attempts",
        Stop::Deadline => "RetryPolicy::deadline",
    };
    assert!(
        text.contains(why),
        "{label}: says why retrying stopped: {text}"
    );
}

fn until_deadline(deadline: Duration) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(10_000)
        .with_backoff(Duration::from_millis(10), Duration::from_millis(80))
        .with_deadline(deadline)
}

/// A fixed number of attempts, with a deadline far beyond them.
fn attempts(max: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(max)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
        .with_deadline(Duration::from_secs(300))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_failing_ends_with_a_typed_error_within_the_deadline() {
    // Deadlines and timeouts generous relative to the work (a fake on this machine answers in
    // milliseconds): the error's kind never depends on timing, only the attempt count does.
    let deadline = Duration::from_secs(3);
    let timeout = Duration::from_secs(10);
    always_failing(
        "always 503 (JSON), until the deadline",
        FaultPlan::Always(Fault::ServerError {
            status: 503,
            json: true,
        }),
        until_deadline(deadline),
        timeout,
        Last::Api {
            status: 503,
            code: Some(7500),
            message: "Internal error",
        },
        false,
    )
    .await;
    always_failing(
        "always 502 (HTML), 4 attempts",
        FaultPlan::Always(Fault::ServerError {
            status: 502,
            json: false,
        }),
        attempts(4),
        timeout,
        Last::Api {
            status: 502,
            code: None,
            message: "Bad Gateway",
        },
        false,
    )
    .await;
    always_failing(
        "always 429 retry-after 0.1 s, until the deadline",
        FaultPlan::Always(Fault::RateLimited {
            retry_after: Some(Duration::from_millis(100)),
        }),
        until_deadline(deadline),
        timeout,
        Last::Api {
            status: 429,
            code: Some(971),
            message: "throttling",
        },
        false,
    )
    .await;
    always_failing(
        "always D1 'Network connection lost', 5 attempts",
        FaultPlan::Always(Fault::RetryableMessage),
        attempts(5),
        timeout,
        Last::Api {
            status: 400,
            code: Some(7500),
            message: RETRYABLE_MESSAGE,
        },
        false,
    )
    .await;
    always_failing(
        "always reset before processing, until the deadline",
        FaultPlan::Always(Fault::ResetBeforeProcessing),
        until_deadline(deadline),
        timeout,
        Last::Transport("connection"),
        false,
    )
    .await;
    always_failing(
        "always slower than the timeout, 3 attempts",
        FaultPlan::Always(Fault::SlowResponse {
            delay: Duration::from_secs(60),
        }),
        attempts(3),
        Duration::from_secs(1),
        Last::Transport("timeout"),
        true,
    )
    .await;
    // A different failure on every attempt: the error reports the last one.
    always_failing(
        "rotating failures, 6 attempts",
        FaultPlan::script([
            Some(Fault::ServerError {
                status: 500,
                json: true,
            }),
            Some(Fault::ResetBeforeProcessing),
            Some(Fault::RateLimited {
                retry_after: Some(Duration::from_millis(10)),
            }),
            Some(Fault::ServerError {
                status: 502,
                json: false,
            }),
            Some(Fault::ServerError {
                status: 503,
                json: false,
            }),
            Some(Fault::RetryableMessage),
        ]),
        RetryPolicy::default()
            .with_max_attempts(6)
            .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
            .with_deadline(Duration::from_secs(20)),
        timeout,
        Last::Api {
            status: 400,
            code: Some(7500),
            message: RETRYABLE_MESSAGE,
        },
        false,
    )
    .await;
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "contended")]
struct Contended {
    #[d1(primary_key)]
    key: String,
    writer: i64,
    write: i64,
    payload: String,
}

const WRITERS: usize = 8;
const WRITES_PER_WRITER: usize = 20;
const CONTENDED_KEYS: usize = 240;
const MAX_CONCURRENCY: usize = 3;
const RATE: u32 = 40;
const WINDOW: Duration = Duration::from_millis(800);

fn contended_key(k: usize) -> String {
    // Keys differing only in case are distinct keys.
    if k.is_multiple_of(2) {
        format!("key-{k}")
    } else {
        format!("KEY-{}", k - 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_writers_on_overlapping_keys_keep_the_last_completed_write_within_limits() {
    let fake = FakeD1::builder().delay(Duration::from_millis(3)).start();
    let db = D1Database::http_with(
        fake.http_config()
            .with_max_concurrency(MAX_CONCURRENCY)
            .with_rate_limit(Some(RateLimit::new(RATE, WINDOW)))
            .with_retry(transient_retry(Duration::from_secs(120))),
    )
    .unwrap()
    // More write concurrency than the transport allows: the transport's limit must hold.
    .with_write_options(
        WriteOptions::default()
            .with_max_request_bytes(2_500)
            .with_max_statements_per_request(2)
            .with_concurrency(4),
    );
    let table = db.table::<Contended>();
    table.migrate().await.unwrap();
    // Transient faults too (no slow responses: an abandoned request stays in flight on the
    // server after the client has moved on, which is not the client exceeding its limit).
    fake.set_faults(FaultPlan::random(
        0.1,
        77,
        vec![
            Fault::RateLimited {
                retry_after: Some(Duration::from_millis(5)),
            },
            Fault::ServerError {
                status: 503,
                json: false,
            },
            Fault::ResetBeforeProcessing,
            Fault::ResetAfterCommit,
            Fault::RetryableMessage,
        ],
    ));

    // One lock per key, taken in key order for the span of a write: writes to the same key never
    // overlap, so "last completed" is well defined; writes to different keys run concurrently.
    let locks: Arc<Vec<Arc<tokio::sync::Mutex<()>>>> = Arc::new(
        (0..CONTENDED_KEYS)
            .map(|_| Arc::new(tokio::sync::Mutex::new(())))
            .collect(),
    );
    let model: Arc<Mutex<BTreeMap<String, Option<Contended>>>> = Arc::default();
    let completed = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let table = table.clone();
            let locks = Arc::clone(&locks);
            let model = Arc::clone(&model);
            let completed = Arc::clone(&completed);
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(writer as u64 + 1);
                for write in 0..WRITES_PER_WRITER {
                    let start = rng.usize(..CONTENDED_KEYS);
                    let len = rng.usize(10..70);
                    let mut span: Vec<usize> =
                        (start..start + len).map(|k| k % CONTENDED_KEYS).collect();
                    span.sort_unstable();
                    let mut guards = Vec::with_capacity(span.len());
                    for &k in &span {
                        guards.push(Arc::clone(&locks[k]).lock_owned().await);
                    }
                    let mut upserts = Vec::new();
                    let mut deletes = Vec::new();
                    for &k in &span {
                        if write % 4 == 3 && k % 3 == 0 {
                            deletes.push(contended_key(k));
                        } else {
                            upserts.push(Contended {
                                key: contended_key(k),
                                writer: writer as i64,
                                write: write as i64,
                                payload: format!("w{writer}/{write} 'x' ✓"),
                            });
                        }
                    }
                    table
                        .write(&upserts, &deletes)
                        .await
                        .unwrap_or_else(|e| panic!("writer {writer} write {write}: {e}"));
                    {
                        let mut m = model.lock().unwrap();
                        for row in upserts {
                            m.insert(row.key.clone(), Some(row));
                        }
                        for key in deletes {
                            m.insert(key, None);
                        }
                    }
                    completed.fetch_add(1, Ordering::SeqCst);
                    drop(guards);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    fake.set_faults(FaultPlan::None);
    assert_eq!(
        completed.load(Ordering::SeqCst),
        (WRITERS * WRITES_PER_WRITER) as u64
    );

    let stats = fake.stats();
    println!(
        "concurrent writers: {} requests, max in flight {}, faults {:?}",
        stats.requests, stats.max_in_flight, stats.faults
    );
    assert!(
        stats.max_in_flight <= MAX_CONCURRENCY as u64,
        "in flight {} > limit {MAX_CONCURRENCY}",
        stats.max_in_flight
    );
    assert_eq!(
        stats.max_in_flight, MAX_CONCURRENCY as u64,
        "the writers did run concurrently up to the limit"
    );
    // The rate limit, seen from the server: no window holds more than RATE requests. The window
    // is shortened by a margin (generous, for a loaded machine) for the time between the
    // client's admission and the arrival.
    let times: Vec<Instant> = fake.requests().iter().map(|r| r.at).collect();
    assert!(
        times.len() > 2 * RATE as usize,
        "the rate limit was binding"
    );
    let window = WINDOW - Duration::from_millis(350);
    let mut busiest = 0;
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < window)
            .count();
        busiest = busiest.max(in_window);
    }
    println!("busiest {window:?} window: {busiest} requests (limit {RATE} per {WINDOW:?})");
    assert!(busiest <= RATE as usize, "{busiest} requests in one window");

    let model = model.lock().unwrap().clone();
    let want: Vec<Vec<Value>> = model
        .values()
        .flatten()
        .map(|r| {
            vec![
                Value::Text(r.key.clone()),
                Value::Integer(r.writer),
                Value::Integer(r.write),
                Value::Text(r.payload.clone()),
            ]
        })
        .collect();
    let stored = fake.query(
        "SELECT \"key\", \"writer\", \"write\", \"payload\" FROM \"contended\" ORDER BY \"key\"",
    );
    assert!(want.len() > CONTENDED_KEYS / 2);
    assert_eq!(stored, want, "each key holds its last completed write");
}
