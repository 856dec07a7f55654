//! What every section shares: the row type, deterministic rows, the raw rusqlite baseline's
//! statements, scratch folders, timing and number formatting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use thread_flow::D1Target;
use thread_flow::sql::ddl;

/// The benchmark row: text key, two integers, a real, a text and a nullable text.
#[derive(D1Target, Debug, Clone, PartialEq)]
#[d1(table = "bench_rows")]
pub(crate) struct BenchRow {
    #[d1(primary_key)]
    pub(crate) id: String,
    pub(crate) seq: i64,
    pub(crate) version: i64,
    pub(crate) score: f64,
    pub(crate) body: String,
    pub(crate) note: Option<String>,
}

/// Rows a user passes per `D1Table::upsert` call on the local database.
pub(crate) const LOCAL_CHUNK: usize = 10_000;

/// The key of row `i`.
pub(crate) fn key(i: u64) -> String {
    format!("row-{i:09}")
}

/// Row `i` at `version` (a later version changes every value column). About 100 bytes.
pub(crate) fn row(i: u64, version: i64) -> BenchRow {
    BenchRow {
        id: key(i),
        seq: i as i64,
        version,
        score: i as f64 * 0.25 + version as f64,
        body: format!("row {i} v{version}: the quick brown fox jumps over the lazy dog"),
        note: (!i.is_multiple_of(3)).then(|| format!("note {i}")),
    }
}

/// Rows `range` at `version`.
pub(crate) fn rows(range: std::ops::Range<u64>, version: i64) -> Vec<BenchRow> {
    range.map(|i| row(i, version)).collect()
}

/// The benchmark's own folder: `<target>/bench`.
pub(crate) fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(target)
    };
    target.join("bench")
}

/// A fresh, empty scratch folder `<target>/bench/tmp/<name>`.
pub(crate) fn scratch(name: &str) -> std::io::Result<PathBuf> {
    let dir = bench_dir().join("tmp").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `n / d` seconds, 0 for an empty duration.
pub(crate) fn per_second(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// The median of a non-empty list.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// `1234567.8` -> `1,234,568`.
pub(crate) fn thousands(x: f64) -> String {
    let n = x.round() as i128;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

// -------------------------------------------------------------------------------------------
// The raw rusqlite baseline: what a user who knows SQLite well writes by hand.

/// Opens `path` with the local D1 transport's file settings (WAL, `synchronous = NORMAL`,
/// foreign keys on) but none of D1's limits, so the raw writer may use large statements.
pub(crate) fn raw_open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Creates the table with exactly the DDL thread-flow runs (STRICT, same columns and key).
pub(crate) fn raw_create(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&ddl::create_table(BenchRow::schema()))
}

/// `INSERT INTO bench_rows (...) VALUES (?,...),... [ON CONFLICT (id) DO UPDATE SET ...]`
/// with `rows` row groups.
pub(crate) fn raw_insert_sql(rows: usize, upsert: bool) -> String {
    let mut sql =
        String::from("INSERT INTO bench_rows (id, seq, version, score, body, note) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?)");
    }
    if upsert {
        sql.push_str(
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, version = excluded.version, \
             score = excluded.score, body = excluded.body, note = excluded.note",
        );
    }
    sql
}

/// `DELETE FROM bench_rows WHERE id IN (?,...)` with `keys` placeholders.
pub(crate) fn raw_delete_sql(keys: usize) -> String {
    let mut sql = String::from("DELETE FROM bench_rows WHERE id IN (");
    for k in 0..keys {
        if k > 0 {
            sql.push(',');
        }
        sql.push('?');
    }
    sql.push(')');
    sql
}

/// Binds `rows` into a statement of `rows.len()` groups and runs it.
fn raw_bind_rows(stmt: &mut rusqlite::Statement<'_>, rows: &[BenchRow]) -> rusqlite::Result<()> {
    let mut p = 1;
    for r in rows {
        stmt.raw_bind_parameter(p, r.id.as_str())?;
        stmt.raw_bind_parameter(p + 1, r.seq)?;
        stmt.raw_bind_parameter(p + 2, r.version)?;
        stmt.raw_bind_parameter(p + 3, r.score)?;
        stmt.raw_bind_parameter(p + 4, r.body.as_str())?;
        stmt.raw_bind_parameter(p + 5, r.note.as_deref())?;
        p += 6;
    }
    stmt.raw_execute()?;
    Ok(())
}

/// Writes `rows` with one prepared multi-row statement of `per_statement` rows, reused (the
/// tail gets its own statement), inside the caller's transaction.
pub(crate) fn raw_write_rows(
    conn: &rusqlite::Connection,
    rows: &[BenchRow],
    per_statement: usize,
    upsert: bool,
) -> rusqlite::Result<()> {
    let mut full = conn.prepare(&raw_insert_sql(per_statement, upsert))?;
    let mut chunks = rows.chunks_exact(per_statement);
    for chunk in &mut chunks {
        raw_bind_rows(&mut full, chunk)?;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut stmt = conn.prepare(&raw_insert_sql(tail.len(), upsert))?;
        raw_bind_rows(&mut stmt, tail)?;
    }
    Ok(())
}

/// Deletes `keys` with one prepared multi-key statement of `per_statement` keys, reused.
pub(crate) fn raw_delete_keys(
    conn: &rusqlite::Connection,
    keys: &[String],
    per_statement: usize,
) -> rusqlite::Result<()> {
    let run = |stmt: &mut rusqlite::Statement<'_>, keys: &[String]| -> rusqlite::Result<()> {
        for (i, k) in keys.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, k.as_str())?;
        }
        stmt.raw_execute()?;
        Ok(())
    };
    let mut full = conn.prepare(&raw_delete_sql(per_statement))?;
    let mut chunks = keys.chunks_exact(per_statement);
    for chunk in &mut chunks {
        run(&mut full, chunk)?;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut stmt = conn.prepare(&raw_delete_sql(tail.len()))?;
        run(&mut stmt, tail)?;
    }
    Ok(())
}

/// Creates the table in a new file at `path` and fills it with `rows` (setup, not timed).
pub(crate) fn raw_populate(path: &Path, rows: &[BenchRow]) -> rusqlite::Result<()> {
    let mut conn = raw_open(path)?;
    raw_create(&conn)?;
    let tx = conn.transaction()?;
    raw_write_rows(&tx, rows, 100, false)?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

/// Rows in the table of the file at `path`.
pub(crate) fn raw_count(path: &Path) -> rusqlite::Result<u64> {
    let conn = rusqlite::Connection::open(path)?;
    conn.query_row("SELECT COUNT(*) FROM bench_rows", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
}
