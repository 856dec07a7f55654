//! Typed reads on [`D1Table`]: [`D1Table::get_many`], lookups on a declared index or key
//! prefix ([`Lookup`], [`D1Table::find`], [`D1Table::find_one`], [`D1Table::count_where`]),
//! keyset pages ([`D1Table::page`], [`Page`]), a streaming [`Scan`], and
//! [`D1Database::query_as`], which decodes any query's rows by column name.
//!
//! Every read stays within D1's limits over HTTP: statements bind at most 100 parameters,
//! a request asks for at most `READ_ROWS` (1000) rows (and the first row of the next page), and a
//! response larger than the transport's cap
//! ([`crate::client::http::HttpConfig::max_response_bytes`]) is asked for again in halves,
//! down to one row (a single row larger than the cap is [`Error::ResponseTooLarge`]).
//! Results are ordered by the primary key, and pages continue after the last key read
//! (keyset paging), so a page costs the same wherever it starts.
//!
//! What a page costs (D1 bills rows read): a page of the whole table, or of a lookup on a
//! prefix of the primary key (`by_file`, `by_file_start_line`), seeks in the key's index to
//! the cursor and reads about one page of rows. A lookup on another index (`by_name`) finds
//! its rows through that index, but SQLite must sort them by key, so each page reads every
//! match: a result of `m` rows read in pages of `p` costs about `m * m / p` rows read. Such
//! lookups are meant for selective columns; for a large result use larger pages.
//!
//! Step in struct -> schema -> SQL -> transport -> D1: this module turns typed arguments into
//! values (through the derive's codecs), asks the SQL builders (`sql::select`) for the statements and
//! decodes the rows it gets back; it builds no SQL itself.

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;

use tokio::task::JoinSet;

use crate::client::RequestOutcome;
use crate::sql::{MAX_PARAMS_PER_STATEMENT, render_key, render_row_key, select};
use crate::{ColumnError, D1Database, D1Table, D1Target, Error, Result, TableSchema, Value};

/// Rows asked for in one request by the reads of this module (pages, scans, `get_many`,
/// `find`): at most this many rows travel in one response, plus the first row of the next
/// page, which tells whether there is one. A response over the transport's byte cap is asked
/// for again in halves.
pub(crate) const READ_ROWS: usize = 1000;

/// An equality lookup on some columns of `T`'s table: the rows whose columns hold these
/// values. `#[derive(D1Target)]` generates one per declared index and per key prefix, as
/// associated functions of the row type named `by_<field>_<field>..` (see the derive's docs):
///
/// ```
/// use thread_flow::{D1Database, D1Target};
///
/// #[derive(Debug, Clone, PartialEq, D1Target)]
/// #[d1(table = "symbols", primary_key(file, line, name), index(kind, name))]
/// struct Symbol {
///     file: String,
///     line: i64,
///     #[d1(index)]
///     name: String,
///     kind: String,
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = D1Database::in_memory()?;
/// let symbols = db.table::<Symbol>();
/// symbols.migrate().await?;
/// let row = |file: &str, line, name: &str, kind: &str| Symbol {
///     file: file.into(), line, name: name.into(), kind: kind.into(),
/// };
/// symbols.upsert(&[
///     row("b.rs", 1, "main", "fn"),
///     row("a.rs", 9, "Config", "struct"),
///     row("a.rs", 3, "main", "fn"),
/// ]).await?;
///
/// // Results come in key order: (file, line, name).
/// let mains = symbols.find(Symbol::by_name("main")).await?;
/// assert_eq!(mains, [row("a.rs", 3, "main", "fn"), row("b.rs", 1, "main", "fn")]);
/// let in_a = symbols.count_where(Symbol::by_file("a.rs")).await?;
/// assert_eq!(in_a, 2);
/// let config = symbols.find_one(Symbol::by_kind_name("struct", "Config")).await?;
/// assert_eq!(config, Some(row("a.rs", 9, "Config", "struct")));
/// # Ok::<(), thread_flow::Error>(())
/// # }).unwrap();
/// ```
///
/// A NULL value matches NULL (`"c" IS NULL`). A lookup needs no index to be correct; the
/// generated ones follow the indexes so that D1 can answer them without reading the table.
pub struct Lookup<T> {
    /// Column names (after renames), in the order written.
    columns: Vec<String>,
    /// One value per column, as stored in the column; the error of the first value that
    /// failed to encode.
    values: std::result::Result<Vec<Value>, ColumnError>,
    _row: PhantomData<fn() -> T>,
}

impl<T> Clone for Lookup<T> {
    fn clone(&self) -> Lookup<T> {
        Lookup {
            columns: self.columns.clone(),
            values: self.values.clone(),
            _row: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Lookup<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup")
            .field("columns", &self.columns)
            .field("values", &self.values)
            .finish()
    }
}

impl<T: D1Target> Lookup<T> {
    /// A lookup on `columns` (column names after renames) holding `values`, one per column,
    /// in the form the column stores them ([`Value::Text`] for an enum stored as text, the
    /// JSON text of a `#[d1(json)]` field, ...). For hand-written [`D1Target`] impls and for
    /// lookups the derive does not generate; prefer the derived `by_..` functions, which take
    /// typed arguments.
    ///
    /// Fails with [`Error::ColumnMismatch`] when a column is not in `T`'s table or is named
    /// twice, and with [`Error::Config`] when the numbers of columns and values differ.
    pub fn new(columns: &[&str], values: Vec<Value>) -> Result<Lookup<T>> {
        let schema = T::schema();
        if columns.len() != values.len() {
            return Err(Error::Config(format!(
                "a lookup on table `{}` got {} columns and {} values; give one value per column",
                schema.name,
                columns.len(),
                values.len()
            )));
        }
        let mut resolved: Vec<String> = Vec::with_capacity(columns.len());
        let mut unknown = Vec::new();
        for column in columns {
            match schema
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(column))
            {
                Some(c) if !resolved.contains(&c.name) => resolved.push(c.name.clone()),
                _ => unknown.push((*column).to_string()),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::ColumnMismatch {
                table: schema.name.clone(),
                missing: Vec::new(),
                unknown,
            });
        }
        Ok(Lookup {
            columns: resolved,
            values: Ok(values),
            _row: PhantomData,
        })
    }

    /// Built by derived code: the columns are checked at compile time.
    pub(crate) fn derived(
        columns: &[&'static str],
        values: Vec<std::result::Result<Value, ColumnError>>,
    ) -> Lookup<T> {
        Lookup {
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
            values: values.into_iter().collect(),
            _row: PhantomData,
        }
    }

    /// The columns compared, after renames, in the order of the lookup's arguments.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values compared, one per column, as stored; [`Error::Bind`] when an argument
    /// could not be encoded (a NaN in a REAL column, a JSON value that fails to serialize).
    pub fn values(&self) -> Result<&[Value]> {
        self.values.as_deref().map_err(|e| self.bind_error(e))
    }

    fn bind_error(&self, e: &ColumnError) -> Error {
        Error::Bind {
            table: T::schema().name.clone(),
            column: e.column.map(str::to_owned),
            key: None,
            message: format!("in a lookup on ({}): {}", self.columns.join(", "), e.error),
        }
    }

    /// `(column, value)` pairs for [`select`].
    fn filter(&self) -> Result<Vec<(&str, &Value)>> {
        let values = self.values()?;
        Ok(self
            .columns
            .iter()
            .map(String::as_str)
            .zip(values.iter())
            .collect())
    }
}

/// One keyset page of rows, in key order, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T: D1Target> {
    /// The rows, ordered by the primary key.
    pub rows: Vec<T>,
    /// The key to pass as `after` for the next page: the last row's key when more rows
    /// follow, `None` when this page ends the table (or the lookup).
    pub next: Option<T::Key>,
}

impl<T: D1Target> Page<T> {
    /// Whether rows follow this page.
    pub fn has_next(&self) -> bool {
        self.next.is_some()
    }
}

/// The rows of a table (or of a [`Lookup`]) in key order, read a page at a time: never more
/// than one page is held or asked for. Made by [`D1Table::scan`] and
/// [`D1Table::scan_where`].
///
/// ```
/// # use thread_flow::{D1Database, D1Target};
/// # #[derive(Debug, Clone, D1Target)]
/// # struct Note { #[d1(primary_key)] id: i64, text: String }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let db = D1Database::in_memory()?;
/// let notes = db.table::<Note>();
/// # notes.migrate().await?;
/// # notes.upsert(&[Note { id: 1, text: "a".into() }, Note { id: 2, text: "b".into() }]).await?;
/// let mut scan = notes.scan().page_rows(500);
/// let mut seen = 0;
/// while let Some(note) = scan.next().await? {
///     seen += note.text.len();
/// }
/// assert_eq!(seen, 2);
/// # Ok::<(), thread_flow::Error>(())
/// # }).unwrap();
/// ```
///
/// Rows written while a scan runs appear in it when their key comes after the scan's
/// position; rows deleted before the scan reaches them do not. Each page is a separate read;
/// after an error, calling [`Scan::next`] again asks for the same page again.
pub struct Scan<T: D1Target> {
    table: D1Table<T>,
    lookup: Option<Lookup<T>>,
    /// The last key read (bound values in key order); `None` before the first page.
    after: Option<Vec<Value>>,
    buffer: VecDeque<T>,
    done: bool,
    page_rows: usize,
}

impl<T: D1Target> std::fmt::Debug for Scan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("table", &T::schema().name)
            .field("lookup", &self.lookup)
            .field("after", &self.after)
            .field("buffered", &self.buffer.len())
            .field("done", &self.done)
            .field("page_rows", &self.page_rows)
            .finish()
    }
}

impl<T: D1Target> Scan<T> {
    /// Rows per page (default 1000; at least 1). A page larger than 1000
    /// is still read at most 1000 + 1 rows per request.
    pub fn page_rows(mut self, rows: usize) -> Scan<T> {
        self.page_rows = rows.max(1);
        self
    }

    /// The next row, reading the next page when the current one is used up; `None` at the
    /// end.
    pub async fn next(&mut self) -> Result<Option<T>> {
        if self.buffer.is_empty() {
            match self.next_page().await? {
                Some(rows) => self.buffer.extend(rows),
                None => return Ok(None),
            }
        }
        Ok(self.buffer.pop_front())
    }

    /// The rest of the current page, or the next page; `None` at the end. Never empty.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>> {
        if !self.buffer.is_empty() {
            return Ok(Some(self.buffer.drain(..).collect()));
        }
        if self.done {
            return Ok(None);
        }
        let filter = match &self.lookup {
            Some(l) => l.filter()?,
            None => Vec::new(),
        };
        let (rows, more) = self
            .table
            .fetch(&filter, self.after.as_deref(), self.page_rows)
            .await?;
        self.done = !more;
        match rows.last() {
            Some(last) => self.after = Some(bind_key::<T>(&last.key())?),
            None => return Ok(None),
        }
        Ok(Some(rows))
    }

    /// Every remaining row. Loads them all: for bounded lookups and tests.
    pub async fn collect(mut self) -> Result<Vec<T>> {
        let mut all: Vec<T> = self.buffer.drain(..).collect();
        while let Some(rows) = self.next_page().await? {
            all.extend(rows);
        }
        Ok(all)
    }
}

impl<T: D1Target> D1Table<T> {
    /// The rows with these keys, in the order of `keys` (a key given twice is returned once,
    /// at its first place; missing keys are left out).
    ///
    /// Keys are sent `floor(100 / key columns)` per statement (D1's 100 bound parameters) and
    /// at most 1000 per request, up to [`crate::WriteOptions::concurrency`]
    /// requests at once.
    pub async fn get_many(&self, keys: &[T::Key]) -> Result<Vec<T>> {
        let schema = T::schema();
        let encoding = self.database().encoding();
        let per_statement = (MAX_PARAMS_PER_STATEMENT / schema.primary_key.len().max(1)).max(1);
        let mut position: HashMap<Vec<KeyPart>, usize> = HashMap::with_capacity(keys.len());
        let mut bound: Vec<Vec<Value>> = Vec::with_capacity(keys.len());
        for key in keys {
            let values = bind_key::<T>(key)?;
            let repr = key_repr(&values);
            if let std::collections::hash_map::Entry::Vacant(slot) = position.entry(repr) {
                slot.insert(bound.len());
                bound.push(values);
            }
        }
        let mut found: Vec<Option<T>> = std::iter::repeat_with(|| None).take(bound.len()).collect();
        // Requests as ranges of `bound`, up to `concurrency` in flight; a response over the
        // byte cap is asked for again in two halves.
        let mut pending: VecDeque<std::ops::Range<usize>> = (0..bound.len())
            .step_by(READ_ROWS)
            .map(|start| start..(start + READ_ROWS).min(bound.len()))
            .collect();
        let concurrency = self.database().write_options().concurrency.max(1);
        let mut in_flight: JoinSet<(std::ops::Range<usize>, Result<RequestOutcome>)> =
            JoinSet::new();
        loop {
            while in_flight.len() < concurrency {
                let Some(range) = pending.pop_front() else {
                    break;
                };
                let statements: Vec<_> = bound[range.clone()]
                    .chunks(per_statement)
                    .map(|c| select::get_by_keys(schema, c.to_vec(), encoding))
                    .collect();
                let db = self.database().clone();
                in_flight.spawn(async move { (range, db.request(statements).await) });
            }
            let Some(joined) = in_flight.join_next().await else {
                break;
            };
            let (range, outcome) = joined.map_err(|e| Error::Transport {
                message: format!("a read task failed: {e}"),
                table: Some(schema.name.clone()),
                first_key: None,
                attempts: 1,
                stopped: None,
            })?;
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(Error::ResponseTooLarge { .. }) if range.len() > 1 => {
                    let middle = range.start + range.len() / 2;
                    pending.push_front(middle..range.end);
                    pending.push_front(range.start..middle);
                    continue;
                }
                Err(e) => {
                    return Err(e.in_table(&schema.name, Some(render_key(&bound[range.start]))));
                }
            };
            for result in outcome.results {
                for row in decode_rows::<T>(result.rows, encoding)? {
                    let repr = key_repr(&bind_key::<T>(&row.key())?);
                    match position.get(&repr) {
                        Some(&i) => found[i] = Some(row),
                        None => tracing::debug!(
                            table = %schema.name,
                            "get_many: a returned row's key matches none of the keys asked for"
                        ),
                    }
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Every row matching `lookup`, in key order. Read 1000 rows per request; for
    /// results too large to hold, use [`D1Table::scan_where`] or [`D1Table::page_where`].
    pub async fn find(&self, lookup: Lookup<T>) -> Result<Vec<T>> {
        self.scan_where(lookup).collect().await
    }

    /// The first row (in key order) matching `lookup`, if any. With a lookup on a unique
    /// index or the whole key, the only one.
    pub async fn find_one(&self, lookup: Lookup<T>) -> Result<Option<T>> {
        let filter = lookup.filter()?;
        let (rows, _) = self.fetch(&filter, None, 1).await?;
        Ok(rows.into_iter().next())
    }

    /// How many rows match `lookup`.
    pub async fn count_where(&self, lookup: Lookup<T>) -> Result<u64> {
        let schema = T::schema();
        let filter = lookup.filter()?;
        let statement = select::count_filtered(schema, &filter, self.database().encoding());
        let outcome = self
            .database()
            .request(vec![statement])
            .await
            .map_err(|e| e.in_table(&schema.name, None))?;
        crate::table::count_of(&schema.name, outcome)
    }

    /// Up to `limit` rows (at least 1) in key order, starting after the key `after` (from
    /// the start with `None`), and the key the next page starts after.
    ///
    /// ```
    /// # use thread_flow::{D1Database, D1Target};
    /// # #[derive(Debug, Clone, D1Target)]
    /// # struct Note { #[d1(primary_key)] id: i64, text: String }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = D1Database::in_memory()?;
    /// let notes = db.table::<Note>();
    /// # notes.migrate().await?;
    /// # let rows: Vec<Note> = (1..=5).map(|id| Note { id, text: String::new() }).collect();
    /// # notes.upsert(&rows).await?;
    /// let mut after = None;
    /// let mut ids = Vec::new();
    /// loop {
    ///     let page = notes.page(after.as_ref(), 2).await?;
    ///     ids.extend(page.rows.iter().map(|n| n.id));
    ///     match page.next {
    ///         Some(key) => after = Some(key),
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(ids, [1, 2, 3, 4, 5]);
    /// # Ok::<(), thread_flow::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn page(&self, after: Option<&T::Key>, limit: usize) -> Result<Page<T>> {
        self.page_filtered(&[], after, limit).await
    }

    /// [`D1Table::page`] over the rows matching `lookup`.
    pub async fn page_where(
        &self,
        lookup: &Lookup<T>,
        after: Option<&T::Key>,
        limit: usize,
    ) -> Result<Page<T>> {
        let filter = lookup.filter()?;
        self.page_filtered(&filter, after, limit).await
    }

    async fn page_filtered(
        &self,
        filter: &[(&str, &Value)],
        after: Option<&T::Key>,
        limit: usize,
    ) -> Result<Page<T>> {
        let after = after.map(bind_key::<T>).transpose()?;
        let (rows, more) = self.fetch(filter, after.as_deref(), limit.max(1)).await?;
        let next = if more { rows.last().map(T::key) } else { None };
        Ok(Page { rows, next })
    }

    /// Every row in key order, a page at a time (see [`Scan`]).
    pub fn scan(&self) -> Scan<T> {
        self.scan_lookup(None)
    }

    /// The rows matching `lookup` in key order, a page at a time (see [`Scan`]).
    pub fn scan_where(&self, lookup: Lookup<T>) -> Scan<T> {
        self.scan_lookup(Some(lookup))
    }

    fn scan_lookup(&self, lookup: Option<Lookup<T>>) -> Scan<T> {
        Scan {
            table: self.clone(),
            lookup,
            after: None,
            buffer: VecDeque::new(),
            done: false,
            page_rows: READ_ROWS,
        }
    }

    /// Every row, ordered by key. Read a page (1000 rows) per request, so it works
    /// on tables of any size over HTTP, but holds them all: prefer [`D1Table::scan`] for
    /// large tables.
    pub async fn all(&self) -> Result<Vec<T>> {
        self.scan().collect().await
    }

    /// Up to `limit` rows matching `filter` after the key `after`, in key order, and whether
    /// more follow. Asks at most 1000 + 1 rows per request, and half as many after a
    /// response over the transport's byte cap, down to one row.
    async fn fetch(
        &self,
        filter: &[(&str, &Value)],
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<(Vec<T>, bool)> {
        let schema = T::schema();
        let encoding = self.database().encoding();
        let mut rows: Vec<T> = Vec::new();
        let mut cursor: Option<Vec<Value>> = after.map(<[Value]>::to_vec);
        // A page of READ_ROWS and the row after it fit in one request.
        let mut chunk = READ_ROWS + 1;
        loop {
            let remaining = limit - rows.len();
            // One more row than needed tells whether more follow.
            let ask = chunk.min(remaining + 1);
            let statement = select::select_page(schema, filter, cursor.as_deref(), ask, encoding);
            let outcome = match self.database().request(vec![statement]).await {
                Ok(outcome) => outcome,
                Err(Error::ResponseTooLarge { .. }) if ask > 1 => {
                    chunk = ask / 2;
                    continue;
                }
                // Only the peek at the row after a full page was too large: more follow.
                Err(Error::ResponseTooLarge { .. }) if remaining == 0 => return Ok((rows, true)),
                Err(e) => {
                    return Err(e.in_table(&schema.name, cursor.as_deref().map(render_key)));
                }
            };
            let got = outcome
                .results
                .into_iter()
                .next()
                .map(|r| r.rows)
                .unwrap_or_default();
            let n = got.len();
            let mut decoded = decode_rows::<T>(got, encoding)?;
            if n < ask {
                rows.append(&mut decoded);
                return Ok((rows, false));
            }
            if ask > remaining {
                decoded.truncate(remaining);
                rows.append(&mut decoded);
                return Ok((rows, true));
            }
            rows.append(&mut decoded);
            cursor = match rows.last() {
                Some(last) => Some(bind_key::<T>(&last.key())?),
                None => return Ok((rows, false)),
            };
        }
    }
}

/// [`D1Database::query_as`].
pub(crate) async fn query_as<R: D1Target>(
    db: &D1Database,
    sql: impl AsRef<str>,
    params: Vec<Value>,
) -> Result<Vec<R>> {
    let schema = R::schema();
    let result = db
        .execute_idempotent(sql, params)
        .await
        .map_err(|e| e.in_table(&schema.name, None))?;
    decode_named::<R>(&result.columns, result.rows)
}

/// Decodes rows whose columns are named `columns` into `R` (see [`D1Database::query_as`]).
pub(crate) fn decode_named<R: D1Target>(
    columns: &[String],
    rows: Vec<Vec<Value>>,
) -> Result<Vec<R>> {
    let schema = R::schema();
    if columns.is_empty() && rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut slot: Vec<usize> = Vec::with_capacity(columns.len());
    let mut taken = vec![false; schema.columns.len()];
    let mut unknown = Vec::new();
    for name in columns {
        match schema
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
        {
            Some(i) if !taken[i] => {
                taken[i] = true;
                slot.push(i);
            }
            _ => unknown.push(name.clone()),
        }
    }
    let missing: Vec<String> = schema
        .columns
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(c, _)| c.name.clone())
        .collect();
    if !missing.is_empty() || !unknown.is_empty() {
        return Err(Error::ColumnMismatch {
            table: schema.name.clone(),
            missing,
            unknown,
        });
    }
    let key_indices = key_indices(schema);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut ordered = vec![Value::Null; schema.columns.len()];
        for (v, &i) in row.into_iter().zip(&slot) {
            ordered[i] = v;
        }
        let mut decoded = Vec::with_capacity(ordered.len());
        let mut failure = None;
        for (v, c) in ordered.iter().zip(&schema.columns) {
            match select::decode_value(c.sql_type, v.clone()) {
                Ok(v) => decoded.push(v),
                Err(message) => {
                    failure = Some((c.name.clone(), message));
                    decoded.push(Value::Null);
                }
            }
        }
        if let Some((column, message)) = failure {
            return Err(Error::Decode {
                table: schema.name.clone(),
                column: Some(column),
                key: Some(render_row_key(&ordered, &key_indices)),
                message,
            });
        }
        out.push(from_row::<R>(decoded, &key_indices)?);
    }
    Ok(out)
}

/// Positions of the key columns among the table's columns.
fn key_indices(schema: &TableSchema) -> Vec<usize> {
    schema
        .primary_key
        .iter()
        .filter_map(|k| schema.columns.iter().position(|c| c.name == *k))
        .collect()
}

/// Decodes rows read with a [`select`] statement (values in schema column order).
pub(crate) fn decode_rows<T: D1Target>(
    rows: Vec<Vec<Value>>,
    encoding: crate::sql::Encoding,
) -> Result<Vec<T>> {
    let schema = T::schema();
    let key_indices = key_indices(schema);
    rows.into_iter()
        .map(|row| {
            let rendered = render_row_key(&row, &key_indices);
            let values = select::decode_row(schema, row, encoding).map_err(|e| match e {
                Error::Decode {
                    table,
                    column,
                    message,
                    ..
                } => Error::Decode {
                    table,
                    column,
                    key: Some(rendered),
                    message,
                },
                other => other,
            })?;
            from_row::<T>(values, &key_indices)
        })
        .collect()
}

/// `T::from_row` with the table and the row's key in the error.
pub(crate) fn from_row<T: D1Target>(values: Vec<Value>, key_indices: &[usize]) -> Result<T> {
    let rendered = render_row_key(&values, key_indices);
    T::from_row(values).map_err(|e| Error::Decode {
        table: T::schema().name.clone(),
        column: e.column.map(str::to_owned),
        key: Some(rendered),
        message: e.error.to_string(),
    })
}

fn bind_key<T: D1Target>(key: &T::Key) -> Result<Vec<Value>> {
    crate::table::bind_key::<T>(key)
}

/// A key value that can be hashed (keys hold no floats, but a hand-written impl might).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyPart {
    Null,
    Integer(i64),
    Real(u64),
    Text(String),
    Blob(Vec<u8>),
}

fn key_repr(values: &[Value]) -> Vec<KeyPart> {
    values
        .iter()
        .map(|v| match v {
            Value::Null => KeyPart::Null,
            Value::Integer(i) => KeyPart::Integer(*i),
            Value::Real(r) => KeyPart::Real(r.to_bits()),
            Value::Text(s) => KeyPart::Text(s.clone()),
            Value::Blob(b) => KeyPart::Blob(b.clone()),
        })
        .collect()
}
