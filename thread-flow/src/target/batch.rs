//! The batching window: ReCoco calls `apply_mutation` once per source row, many at once. Each
//! table gathers the rows of concurrent calls for a few milliseconds (or until enough rows
//! wait), keeps the last operation per key, and writes them with one `write_rows` call (a few
//! requests instead of one per source row). Every caller awaits its batch's result.
//!
//! Writes to one table are serialised, in arrival order: a batch that waits for the previous
//! one to finish keeps collecting rows, so the batch size grows with the load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::sql::render_key;
use crate::{D1Database, Error, TableSchema, Value};

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
    /// Batches written (one per batching window).
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
        match self.write(&submissions).await {
            Ok(()) => {
                for s in senders {
                    let _ = s.send(Ok(()));
                }
            }
            Err(e) if submissions.len() > 1 && !e.is_retryable() => {
                // One caller's rows may be the bad ones (too large, constraint): write each
                // caller's rows alone so the others still land.
                for (submission, sender) in submissions.into_iter().zip(senders) {
                    let outcome = self.write(std::slice::from_ref(&submission)).await;
                    let _ = sender.send(outcome.map_err(Arc::new));
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for s in senders {
                    let _ = s.send(Err(Arc::clone(&e)));
                }
            }
        }
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
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
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
            Err(e) => {
                self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .failed_rows
                    .fetch_add(n_up + n_del, Ordering::Relaxed);
                let first_key = submissions
                    .iter()
                    .find_map(Submission::first_key)
                    .map(|k| render_key(k))
                    .unwrap_or_default();
                tracing::error!(
                    table = %self.schema.name,
                    first_key = %first_key,
                    upserts = n_up,
                    deletes = n_del,
                    error = %e,
                    "D1 write failed; ReCoco will send these rows again on the next update"
                );
                Err(e)
            }
        }
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
