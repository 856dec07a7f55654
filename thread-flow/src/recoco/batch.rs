//! The batching window: ReCoco calls `apply_mutation` once per source row, many at once. Each
//! table gathers the rows of concurrent calls for a few milliseconds (or until enough rows
//! wait), keeps the last operation per key, and writes them with one `write_rows` call (a few
//! requests instead of one per source row). Every caller awaits its batch's result.
//!
//! Writes to one table are serialised, in arrival order: a batch that waits for the previous
//! one to finish keeps collecting rows, so the batch size grows with the load.
//!
//! When a batch fails in a way some callers' rows may have caused (a constraint, a value too
//! large, a type mismatch), the bad callers are found by halving: the first half is written,
//! then the second (known to hold a bad row when the first half went through, so it is split
//! without being written whole), and so on. One bad row among `n` callers costs about
//! `2·log2(n)` more writes instead of `n`; every other caller gets `Ok`, the bad caller gets its
//! own typed error naming the table and its key. A failure that cannot come from the rows (no
//! such table, authentication, a transport failure after retries) fails every caller at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::sql::render_key;
use crate::{D1Database, DatabaseErrorKind, Error, TableSchema, Value};

/// Default batching window.
pub const DEFAULT_BATCH_WINDOW: Duration = Duration::from_millis(5);
/// Default row count that sends a batch before its window ends.
pub const DEFAULT_MAX_BATCH_ROWS: usize = 1000;

/// Counters of one table's writes since the process started.
#[derive(Debug, Default)]
pub struct TableStats {
    upserted: AtomicU64,
    deleted: AtomicU64,
    requests: AtomicU64,
    statements: AtomicU64,
    retries: AtomicU64,
    batches: AtomicU64,
    failed_rows: AtomicU64,
    failed_batches: AtomicU64,
}

/// A snapshot of one table's write counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStatsSnapshot {
    /// Rows upserted (after merging duplicate keys).
    pub upserted: u64,
    /// Keys deleted.
    pub deleted: u64,
    /// D1 requests sent.
    pub requests: u64,
    /// SQL statements sent.
    pub statements: u64,
    /// Retries made by the transport.
    pub retries: u64,
    /// Batches written (one per batching window; the writes that isolate a bad row within a
    /// batch are not counted again).
    pub batches: u64,
    /// Rows whose write failed (ReCoco re-sends them on the next update).
    pub failed_rows: u64,
    /// Failed batch writes.
    pub failed_batches: u64,
}

impl TableStats {
    /// The current counters.
    pub fn snapshot(&self) -> TableStatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TableStatsSnapshot {
            upserted: g(&self.upserted),
            deleted: g(&self.deleted),
            requests: g(&self.requests),
            statements: g(&self.statements),
            retries: g(&self.retries),
            batches: g(&self.batches),
            failed_rows: g(&self.failed_rows),
            failed_batches: g(&self.failed_batches),
        }
    }
}

/// A hashable image of a key (keys never hold REAL values, but stay total anyway).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyAtom {
    Null,
    Integer(i64),
    Real(u64),
    Text(String),
    Blob(Vec<u8>),
}

fn key_image(key: &[Value]) -> Vec<KeyAtom> {
    key.iter()
        .map(|v| match v {
            Value::Null => KeyAtom::Null,
            Value::Integer(i) => KeyAtom::Integer(*i),
            Value::Real(r) => KeyAtom::Real(r.to_bits()),
            Value::Text(s) => KeyAtom::Text(s.clone()),
            Value::Blob(b) => KeyAtom::Blob(b.clone()),
        })
        .collect()
}

/// One caller's rows: upserts (key values, full row) and deletes (key values).
#[derive(Debug, Default)]
pub(crate) struct Submission {
    pub upserts: Vec<(Vec<Value>, Vec<Value>)>,
    pub deletes: Vec<Vec<Value>>,
}

impl Submission {
    fn rows(&self) -> usize {
        self.upserts.len() + self.deletes.len()
    }

    fn first_key(&self) -> Option<&Vec<Value>> {
        self.upserts
            .first()
            .map(|(k, _)| k)
            .or(self.deletes.first())
    }
}

type Outcome = Result<(), Arc<Error>>;

struct Waiting {
    submission: Submission,
    done: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Pending {
    waiting: Vec<Waiting>,
    rows: usize,
    flush_scheduled: bool,
}

/// The write side of one exported table.
pub(crate) struct TableWriter {
    db: D1Database,
    schema: Arc<TableSchema>,
    window: Duration,
    max_rows: usize,
    pending: Mutex<Pending>,
    flush_now: Notify,
    write_lock: tokio::sync::Mutex<()>,
    stats: Arc<TableStats>,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("table", &self.schema.name)
            .field("window", &self.window)
            .field("max_rows", &self.max_rows)
            .finish_non_exhaustive()
    }
}

impl TableWriter {
    pub(crate) fn new(
        db: D1Database,
        schema: Arc<TableSchema>,
        window: Duration,
        max_rows: usize,
        stats: Arc<TableStats>,
    ) -> TableWriter {
        TableWriter {
            db,
            schema,
            window,
            max_rows: max_rows.max(1),
            pending: Mutex::new(Pending::default()),
            flush_now: Notify::new(),
            write_lock: tokio::sync::Mutex::new(()),
            stats,
        }
    }

    /// The database this table is written to (with the export's write options).
    #[cfg(feature = "testing")]
    pub(crate) fn database(&self) -> &D1Database {
        &self.db
    }

    /// Queues `submission` for the next batch; the receiver yields the batch's outcome.
    /// Must be called inside a Tokio runtime (it may spawn the batch's flush task).
    pub(crate) fn enqueue(self: &Arc<Self>, submission: Submission) -> oneshot::Receiver<Outcome> {
        let (done, rx) = oneshot::channel();
        if submission.rows() == 0 {
            let _ = done.send(Ok(()));
            return rx;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.rows += submission.rows();
        pending.waiting.push(Waiting { submission, done });
        if !pending.flush_scheduled {
            pending.flush_scheduled = true;
            let this = Arc::clone(self);
            tokio::spawn(async move { this.flush().await });
        } else if pending.rows >= self.max_rows {
            self.flush_now.notify_one();
        }
        rx
    }

    async fn flush(self: Arc<Self>) {
        tokio::select! {
            () = tokio::time::sleep(self.window) => {}
            () = self.flush_now.notified() => {}
        }
        // Batches of one table are written one at a time, in order. Rows arriving while the
        // previous batch is written join this one.
        let _turn = self.write_lock.lock().await;
        let waiting = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.flush_scheduled = false;
            pending.rows = 0;
            std::mem::take(&mut pending.waiting)
        };
        if waiting.is_empty() {
            return;
        }
        let (submissions, senders): (Vec<Submission>, Vec<oneshot::Sender<Outcome>>) =
            waiting.into_iter().map(|w| (w.submission, w.done)).unzip();
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let outcomes = self.write_isolating(&submissions).await;
        let mut failed_rows = 0u64;
        for (submission, outcome) in submissions.iter().zip(&outcomes) {
            if outcome.is_err() {
                failed_rows += submission.rows() as u64;
            }
        }
        if failed_rows > 0 {
            self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            self.stats
                .failed_rows
                .fetch_add(failed_rows, Ordering::Relaxed);
        }
        for (sender, outcome) in senders.into_iter().zip(outcomes) {
            let _ = sender.send(outcome);
        }
    }

    /// Writes every caller's rows and returns one outcome per caller. When the whole batch
    /// fails in a way some rows may have caused, the failing callers are isolated by halving
    /// (see the module docs); callers whose rows went through get `Ok`.
    async fn write_isolating(&self, submissions: &[Submission]) -> Vec<Outcome> {
        #[derive(Clone, Copy)]
        enum Known {
            /// Not known: write the group.
            Unknown,
            /// Holds a failing row if the group before it (`start..end`) all went through.
            FailingIfOk(usize, usize),
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; submissions.len()];
        // Groups of callers (start, end), last pushed first; earlier callers are written first.
        let mut work = vec![(0, submissions.len(), Known::Unknown)];
        while let Some((start, end, known)) = work.pop() {
            let group = &submissions[start..end];
            let failing = match known {
                Known::Unknown => false,
                Known::FailingIfOk(a, b) => {
                    outcomes[a..b].iter().all(|o| matches!(o, Some(Ok(()))))
                }
            };
            if !failing || group.len() == 1 {
                match self.write(group).await {
                    Ok(()) => {
                        outcomes[start..end].fill(Some(Ok(())));
                        continue;
                    }
                    Err(e) if group.len() == 1 || !may_be_caused_by_rows(&e) => {
                        self.log_failure(group, &e);
                        outcomes[start..end].fill(Some(Err(Arc::new(e))));
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(
                            table = %self.schema.name,
                            callers = group.len(),
                            error = %e,
                            "D1 batch failed; looking for the callers whose rows caused it"
                        );
                    }
                }
            }
            let mid = start + group.len() / 2;
            work.push((mid, end, Known::FailingIfOk(start, mid)));
            work.push((start, mid, Known::Unknown));
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(Arc::new(Error::Transport {
                        message: "internal error: a caller's rows were never written".into(),
                        table: None,
                        first_key: None,
                        attempts: 0,
                        stopped: None,
                    }))
                })
            })
            .collect()
    }

    fn log_failure(&self, group: &[Submission], e: &Error) {
        let first_key = group
            .iter()
            .find_map(Submission::first_key)
            .map(|k| render_key(k))
            .unwrap_or_default();
        let rows: usize = group.iter().map(Submission::rows).sum();
        tracing::error!(
            table = %self.schema.name,
            first_key = %first_key,
            rows,
            callers = group.len(),
            error = %e,
            "D1 write failed; ReCoco will send these rows again on the next update"
        );
    }

    /// Merges `submissions` in arrival order (the last operation on a key wins) and writes them.
    async fn write(&self, submissions: &[Submission]) -> Result<(), Error> {
        let mut slot_of: HashMap<Vec<KeyAtom>, usize> = HashMap::new();
        let mut ops: Vec<(Vec<Value>, Option<Vec<Value>>)> = Vec::new();
        let mut put = |key: &Vec<Value>, row: Option<&Vec<Value>>| {
            let image = key_image(key);
            match slot_of.get(&image) {
                Some(&i) => ops[i].1 = row.cloned(),
                None => {
                    slot_of.insert(image, ops.len());
                    ops.push((key.clone(), row.cloned()));
                }
            }
        };
        // Within one mutation ReCoco applies upserts, then deletes.
        for s in submissions {
            for (key, row) in &s.upserts {
                put(key, Some(row));
            }
            for key in &s.deletes {
                put(key, None);
            }
        }
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for (key, row) in ops {
            match row {
                Some(row) => upserts.push(row),
                None => deletes.push(key),
            }
        }
        let (n_up, n_del) = (upserts.len() as u64, deletes.len() as u64);
        match self.db.write_rows(&self.schema, upserts, deletes).await {
            Ok(report) => {
                self.stats.upserted.fetch_add(n_up, Ordering::Relaxed);
                self.stats.deleted.fetch_add(n_del, Ordering::Relaxed);
                self.stats
                    .requests
                    .fetch_add(report.requests, Ordering::Relaxed);
                self.stats
                    .statements
                    .fetch_add(report.statements, Ordering::Relaxed);
                self.stats
                    .retries
                    .fetch_add(report.retries, Ordering::Relaxed);
                tracing::debug!(
                    table = %self.schema.name,
                    upserts = n_up,
                    deletes = n_del,
                    callers = submissions.len(),
                    requests = report.requests,
                    "D1 batch written"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether some rows of a failed write may have caused `e`, so that writing fewer rows may
/// succeed: a bind or limit error, or a SQL error other than a missing table or column. Not a
/// retryable failure (it already was retried), an authentication or configuration error.
fn may_be_caused_by_rows(e: &Error) -> bool {
    match e {
        Error::Bind { .. } | Error::LimitExceeded { .. } => true,
        Error::Api {
            status,
            kind,
            message,
            ..
        } => {
            if e.is_retryable() || matches!(status, Some(404)) {
                return false;
            }
            match kind {
                DatabaseErrorKind::Auth
                | DatabaseErrorKind::NoSuchObject
                | DatabaseErrorKind::RateLimited
                | DatabaseErrorKind::Unavailable
                | DatabaseErrorKind::Busy => false,
                // SQLite's "attempt to write a readonly database" has no kind of its own.
                _ => !message.to_ascii_lowercase().contains("readonly"),
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_images_distinguish_types() {
        assert_ne!(
            key_image(&[Value::Integer(1)]),
            key_image(&[Value::Text("1".into())])
        );
        assert_eq!(
            key_image(&[Value::Text("a".into())]),
            key_image(&[Value::Text("a".into())])
        );
    }
}
