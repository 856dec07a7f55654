//! Issue 7, part 3: the bad input matrix. Every case runs on the local transport (embedded
//! SQLite) and on the HTTP transport (the in-process fake D1), through the same public path as
//! typed tables and ReCoco (`migrate_table` + `write_rows`), and ends one of three ways:
//!
//! - stored: the table holds exactly the expected rows, read back through the transport (and,
//!   over HTTP, straight from the fake's SQLite too: byte-exact storage);
//! - refused: a typed error before anything is sent (zero requests reach the fake during the
//!   write; the table stays empty);
//! - nothing to send: an empty write sends no request.
//!
//! The test prints one line per case and transport (`cargo test --test reliability_inputs --
//! --nocapture`).

use thread_flow::MigrationOptions;
use thread_flow::sql::{quote_ident, select};
use thread_flow::{Column, D1Database, Error, SqlType, TableSchema, Value};
use thread_flow_suite::fake_d1::FakeD1;

const MAX_SAFE: i64 = (1 << 53) - 1;

/// How a case must end.
enum Expect {
    /// The table holds exactly these rows (schema column order, any row order).
    Stored(Vec<Vec<Value>>),
    /// The write is refused with this error, before anything is sent.
    Refused(&'static str, fn(&Error) -> bool),
    /// The schema is refused (by the migration and by the write), before anything is sent.
    SchemaRefused(&'static str),
    /// An empty write: no request at all.
    NothingSent,
}

struct Case {
    name: &'static str,
    schema: TableSchema,
    upserts: Vec<Vec<Value>>,
    deletes: Vec<Vec<Value>>,
    expect: Expect,
}

fn schema(name: &str, columns: &[(&str, SqlType, bool)], key: &[&str]) -> TableSchema {
    let mut t = TableSchema::new(name);
    t.columns = columns
        .iter()
        .map(|(n, ty, nullable)| Column::new(*n, *ty).nullable(*nullable))
        .collect();
    t.primary_key = key.iter().map(|k| (*k).to_owned()).collect();
    t
}

/// `k TEXT` key, then nullable INTEGER, REAL, TEXT and BLOB columns.
fn values_table() -> TableSchema {
    schema(
        "values",
        &[
            ("k", SqlType::Text, false),
            ("i", SqlType::Integer, true),
            ("r", SqlType::Real, true),
            ("s", SqlType::Text, true),
            ("b", SqlType::Blob, true),
        ],
        &["k"],
    )
}

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// A row of [`values_table`].
fn vrow(k: &str, i: Option<i64>, r: Option<f64>, s: Option<&str>, b: Option<&[u8]>) -> Vec<Value> {
    vec![
        t(k),
        i.map_or(Value::Null, Value::Integer),
        r.map_or(Value::Null, Value::Real),
        s.map_or(Value::Null, t),
        b.map_or(Value::Null, |b| Value::Blob(b.to_vec())),
    ]
}

fn texts(strings: &[&str]) -> Vec<Vec<Value>> {
    strings
        .iter()
        .enumerate()
        .map(|(n, s)| vrow(&format!("k{n}"), None, None, Some(s), None))
        .collect()
}

fn bind_error(column: &'static str) -> fn(&Error) -> bool {
    match column {
        "r" => {
            |e| matches!(e, Error::Bind { column, message, .. } if column.as_deref() == Some("r") && message.contains("finite"))
        }
        "k" => {
            |e| matches!(e, Error::Bind { column, message, .. } if column.as_deref() == Some("k") && message.contains("NULL"))
        }
        "i" => {
            |e| matches!(e, Error::Bind { column, message, .. } if column.as_deref() == Some("i") && message.contains("INTEGER"))
        }
        _ => |e| matches!(e, Error::Bind { message, .. } if message.contains("values but")),
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name, schema, upserts, deletes, expect| {
        cases.push(Case {
            name,
            schema,
            upserts,
            deletes,
            expect,
        });
    };

    // Floats JSON cannot carry.
    for (name, x) in [
        ("NaN in a REAL column", f64::NAN),
        ("+inf in a REAL column", f64::INFINITY),
        ("-inf in a REAL column", f64::NEG_INFINITY),
    ] {
        add(
            name,
            values_table(),
            vec![
                vrow("ok", None, Some(1.0), None, None),
                vrow("bad", None, Some(x), None, None),
            ],
            vec![],
            Expect::Refused("Bind error on column r", bind_error("r")),
        );
    }
    let floats = [
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        0.1 + 0.2,
        -1e-300,
        1e300,
    ];
    let rows: Vec<_> = floats
        .iter()
        .enumerate()
        .map(|(n, x)| vrow(&format!("f{n}"), None, Some(*x), None, None))
        .collect();
    add(
        "extreme finite floats",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );

    // Integers beyond JSON's exact range.
    let ints = [
        MAX_SAFE,
        MAX_SAFE + 1,
        MAX_SAFE + 2,
        -MAX_SAFE,
        -MAX_SAFE - 1,
        -MAX_SAFE - 2,
        0,
    ];
    let rows: Vec<_> = ints
        .iter()
        .map(|i| vrow(&i.to_string(), Some(*i), None, None, None))
        .collect();
    add(
        "integers around ±2^53",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let rows = vec![
        vrow("max", Some(i64::MAX), None, None, None),
        vrow("min", Some(i64::MIN), None, None, None),
        vrow("max-1", Some(i64::MAX - 1), None, None, None),
        vrow("min+1", Some(i64::MIN + 1), None, None, None),
    ];
    add(
        "i64::MIN and i64::MAX",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let int_key = schema(
        "big keys",
        &[("id", SqlType::Integer, false), ("v", SqlType::Text, false)],
        &["id"],
    );
    let keys = [
        i64::MAX,
        i64::MIN,
        1 << 53,
        (1 << 53) + 1,
        -(1 << 53) - 1,
        1,
    ];
    add(
        "big integer keys stay distinct (2^53 vs 2^53+1); delete by i64::MIN",
        int_key,
        keys.iter()
            .map(|k| vec![Value::Integer(*k), t(&format!("v{k}"))])
            .collect(),
        vec![vec![Value::Integer(i64::MIN)]],
        Expect::Stored(
            keys.iter()
                .filter(|k| **k != i64::MIN)
                .map(|k| vec![Value::Integer(*k), t(&format!("v{k}"))])
                .collect(),
        ),
    );

    // Strings stored byte-exact.
    let rows = vec![
        vrow("nul\0key", None, None, Some("a\0b"), None),
        vrow("k2", None, None, Some("\0"), None),
        vrow("k3", None, None, Some("\0\0 trailing\0"), None),
    ];
    add(
        "text with NUL characters (value and key)",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let rows = texts(&["🦀", "👩‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "𝕳𝖊𝖑𝖑𝖔", "\u{10FFFF}"]);
    add(
        "emoji, ZWJ sequences, astral plane",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let rows = texts(&[
        "e\u{301}\u{302}\u{303}\u{304}",
        "Z\u{351}\u{34b}\u{36b}a\u{33e}l\u{35b}g\u{310}o\u{30f}",
        "\u{301}leading mark",
    ]);
    add(
        "combining marks (zalgo, leading mark)",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let forms = [
        "\u{e9}",
        "e\u{301}",
        "\u{c5}",
        "A\u{30a}",
        "\u{212b}",
        "\u{1e9b}\u{323}",
        "\u{17f}\u{323}\u{307}",
    ];
    let rows: Vec<_> = forms
        .iter()
        .map(|f| vrow(f, None, None, Some(f), Some(f.as_bytes())))
        .collect();
    add(
        "NFC, NFD and compatibility forms are distinct keys, stored byte-exact",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let rows = texts(&[
        "\u{feff}bom",
        "\u{202e}rtl override",
        "zero\u{200b}width",
        "line\u{2028}para\u{2029}",
        "\u{1}\u{1f}\t\r\n\u{7f}",
        "back\\slash \\u0000 \\n",
        "\"quoted\" 'single'",
    ]);
    add(
        "BOM, bidi overrides, separators, control characters, escapes",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let rows = vec![
        vrow("empty", Some(0), Some(0.0), Some(""), Some(&[])),
        vrow("null", None, None, None, None),
        vrow("", Some(1), None, Some("NULL"), None),
        vrow(" ", None, None, Some("   "), None),
    ];
    add(
        "empty string, empty BLOB, empty key, the text 'NULL' are not NULL",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let all: Vec<u8> = (0..=255).collect();
    let rows = vec![
        vrow("bytes", None, None, None, Some(&all)),
        vrow(
            "rev",
            None,
            None,
            None,
            Some(&all.iter().rev().copied().collect::<Vec<_>>()),
        ),
    ];
    add(
        "BLOB with every byte value",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );

    // Sizes.
    let big = "x".repeat(2_000_001);
    add(
        "a TEXT value of 2,000,001 bytes",
        values_table(),
        vec![vrow("big", None, None, Some(&big), None)],
        vec![],
        Expect::Refused(
            "LimitExceeded bytes per value (column s)",
            |e| matches!(e, Error::LimitExceeded { limit: "bytes per value", column: Some(c), actual: 2_000_001, .. } if c == "s"),
        ),
    );
    add(
        "a BLOB of 2,000,001 bytes",
        values_table(),
        vec![vrow("big", None, None, None, Some(&vec![7u8; 2_000_001]))],
        vec![],
        Expect::Refused(
            "LimitExceeded bytes per value (column b)",
            |e| matches!(e, Error::LimitExceeded { limit: "bytes per value", column: Some(c), .. } if c == "b"),
        ),
    );
    let half = "y".repeat(1_000_001);
    add(
        "a row of 2,000,002 bytes over two values",
        values_table(),
        vec![vrow("wide", None, None, Some(&half), Some(half.as_bytes()))],
        vec![],
        Expect::Refused(
            "LimitExceeded bytes per row",
            |e| matches!(e, Error::LimitExceeded { limit: "bytes per row", key: Some(k), .. } if k.contains("wide")),
        ),
    );
    let near = "é".repeat(950_000); // 1,900,000 bytes
    let rows = vec![vrow("near", Some(1), None, Some(&near), None)];
    add(
        "a TEXT value of 1,900,000 bytes",
        values_table(),
        rows.clone(),
        vec![],
        Expect::Stored(rows),
    );
    let long_names: Vec<String> = (0..90)
        .map(|c| format!("{c:02}{}", "n".repeat(598)))
        .collect();
    let mut long = TableSchema::new("long names");
    long.columns = long_names
        .iter()
        .map(|n| Column::new(n.clone(), SqlType::Integer))
        .collect();
    long.primary_key = vec![long_names[0].clone()];
    add(
        "a row whose upsert cannot fit 100,000 bytes of SQL",
        long,
        vec![(0..90).map(Value::Integer).collect()],
        vec![],
        Expect::Refused(
            "LimitExceeded bytes of SQL per statement",
            |e| matches!(e, Error::LimitExceeded { limit: "bytes of SQL per statement", actual, .. } if *actual >= 100_000),
        ),
    );

    // Identifiers: quoted correctly, round trip.
    let ident_cases: [(&'static str, &str, [&str; 4]); 5] = [
        (
            "SQL keywords as table and column names",
            "order",
            ["select", "from", "where", "group"],
        ),
        (
            "identifiers containing quotes",
            "q\"uo'te\"\"",
            ["a\"b", "it's", "\"\"", "'"],
        ),
        (
            "identifiers with spaces and dots",
            "my table.v2",
            ["first name", "a.b", " lead", "trail "],
        ),
        (
            "unicode identifiers",
            "données_表_🦀",
            ["名前", "Ünïcödé", "e\u{301}", "🔑"],
        ),
        (
            "identifiers with brackets, backticks, comments, placeholders",
            "t; DROP TABLE x; --",
            ["[x]", "`y`", "/*z*/", "?1 $a :b @c"],
        ),
    ];
    for (name, table, cols) in ident_cases {
        let s = schema(
            table,
            &[
                (cols[0], SqlType::Text, false),
                (cols[1], SqlType::Integer, false),
                (cols[2], SqlType::Blob, true),
                (cols[3], SqlType::Real, true),
            ],
            &[cols[0], cols[1]],
        );
        let mut s = s;
        s.indexes.push(thread_flow::Index {
            name: format!("{table} by {}", cols[3]),
            columns: vec![cols[3].to_owned(), cols[2].to_owned()],
            unique: false,
            where_clause: None,
        });
        let rows: Vec<Vec<Value>> = (0..5)
            .map(|i| {
                vec![
                    t(&format!("{} {i}", cols[0])),
                    Value::Integer(i),
                    Value::Blob(cols[2].as_bytes().to_vec()),
                    Value::Real(i as f64 + 0.5),
                ]
            })
            .collect();
        add(
            name,
            s,
            rows.clone(),
            vec![vec![t(&format!("{} 4", cols[0])), Value::Integer(4)]],
            Expect::Stored(rows[..4].to_vec()),
        );
    }

    // Schemas D1 refuses.
    let mut reserved = values_table();
    reserved.name = "_cf_KV".into();
    add(
        "table name starting with _cf_",
        reserved,
        vec![vrow("a", None, None, None, None)],
        vec![],
        Expect::SchemaRefused("_cf_"),
    );
    let mut reserved = values_table();
    reserved.name = "SQLite_stat9".into();
    add(
        "table name starting with sqlite_ (any case)",
        reserved,
        vec![vrow("a", None, None, None, None)],
        vec![],
        Expect::SchemaRefused("sqlite_"),
    );
    let wide = |n: usize| {
        let mut s = TableSchema::new(format!("wide{n}"));
        s.columns = (0..n)
            .map(|c| Column::new(format!("c{c}"), SqlType::Integer))
            .collect();
        s.primary_key = vec!["c0".into()];
        s
    };
    add(
        "101 columns",
        wide(101),
        vec![(0..101).map(Value::Integer).collect()],
        vec![],
        Expect::SchemaRefused("101 columns"),
    );
    let row100: Vec<Value> = (0..100)
        .map(|c| Value::Integer(c * 1_000_000_000_007))
        .collect();
    add(
        "100 columns (the limit) round trip",
        wide(100),
        vec![row100.clone()],
        vec![],
        Expect::Stored(vec![row100]),
    );

    // Write shapes.
    add(
        "empty write (no rows, no keys)",
        values_table(),
        vec![],
        vec![],
        Expect::NothingSent,
    );
    add(
        "duplicate keys in one write: the last wins",
        values_table(),
        vec![
            vrow("dup", Some(1), None, Some("first"), None),
            vrow("other", Some(2), None, None, None),
            vrow("dup", Some(3), None, Some("second"), None),
            vrow("dup", Some(4), None, None, Some(b"last")),
        ],
        vec![],
        Expect::Stored(vec![
            vrow("dup", Some(4), None, None, Some(b"last")),
            vrow("other", Some(2), None, None, None),
        ]),
    );
    add(
        "a key upserted and deleted in one write ends deleted",
        values_table(),
        vec![
            vrow("gone", Some(1), None, None, None),
            vrow("kept", Some(2), None, None, None),
        ],
        vec![vec![t("gone")], vec![t("never existed")], vec![t("gone")]],
        Expect::Stored(vec![vrow("kept", Some(2), None, None, None)]),
    );
    let cased: Vec<_> = ["Key", "key", "KEY", "kEy", "straße", "STRASSE"]
        .iter()
        .enumerate()
        .map(|(n, k)| vrow(k, Some(n as i64), None, None, None))
        .collect();
    add(
        "keys differing only in case are distinct rows",
        values_table(),
        cased.clone(),
        vec![vec![t("KEY")]],
        Expect::Stored(cased.into_iter().filter(|r| r[0] != t("KEY")).collect()),
    );
    let injections = [
        "'); DROP TABLE \"values\"; --",
        "\" OR 1=1 --",
        "x'; DELETE FROM \"values\" WHERE '1'='1",
        "? ?1 ?100 :name @p $v",
        "1; SELECT * FROM sqlite_schema",
        "Robert'); DROP TABLE Students;--",
        "\\'; \\\"; \\\\",
    ];
    let rows: Vec<_> = injections
        .iter()
        .map(|s| vrow(s, None, None, Some(s), Some(s.as_bytes())))
        .collect();
    add(
        "values and keys that look like SQL injection are stored verbatim",
        values_table(),
        rows.clone(),
        vec![vec![t(injections[2])]],
        Expect::Stored(
            rows.into_iter()
                .filter(|r| r[0] != t(injections[2]))
                .collect(),
        ),
    );
    let composite = schema(
        "composite",
        &[
            ("name", SqlType::Text, false),
            ("n", SqlType::Integer, false),
            ("raw", SqlType::Blob, false),
            ("v", SqlType::Text, true),
        ],
        &["name", "n", "raw"],
    );
    let crows: Vec<Vec<Value>> = vec![
        vec![
            t("a'b"),
            Value::Integer(i64::MAX),
            Value::Blob(vec![0, 255]),
            t("1"),
        ],
        vec![
            t("a'b"),
            Value::Integer(i64::MAX),
            Value::Blob(vec![0, 254]),
            t("2"),
        ],
        vec![
            t("a'b"),
            Value::Integer(i64::MAX - 1),
            Value::Blob(vec![0, 255]),
            t("3"),
        ],
        vec![
            t("\0"),
            Value::Integer(i64::MIN),
            Value::Blob(vec![]),
            Value::Null,
        ],
    ];
    add(
        "composite keys with big integers and BLOB parts; delete one exactly",
        composite,
        crows.clone(),
        vec![vec![
            t("a'b"),
            Value::Integer(i64::MAX),
            Value::Blob(vec![0, 254]),
        ]],
        Expect::Stored(vec![crows[0].clone(), crows[2].clone(), crows[3].clone()]),
    );
    add(
        "an INTEGER value into a REAL column is stored as REAL",
        values_table(),
        vec![vec![
            t("int"),
            Value::Null,
            Value::Integer(3),
            Value::Null,
            Value::Null,
        ]],
        vec![],
        Expect::Stored(vec![vrow("int", None, Some(3.0), None, None)]),
    );

    // Rows the planner refuses.
    add(
        "a NULL key",
        values_table(),
        vec![vec![
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ]],
        vec![],
        Expect::Refused("Bind error on column k (NULL)", bind_error("k")),
    );
    add(
        "a TEXT value in an INTEGER column",
        values_table(),
        vec![vec![t("k"), t("12"), Value::Null, Value::Null, Value::Null]],
        vec![],
        Expect::Refused("Bind error on column i (type)", bind_error("i")),
    );
    add(
        "a row with too few values",
        values_table(),
        vec![vec![t("k"), Value::Integer(1)]],
        vec![],
        Expect::Refused("Bind error (arity)", bind_error("arity")),
    );
    cases
}

/// Sorts rows by their debug rendering (exact for every value kind), for order-free equality.
fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by_cached_key(|r| format!("{r:?}"));
    rows
}

fn short(e: &Error) -> String {
    let s = e.to_string();
    if s.len() > 140 {
        format!("{}…", s.chars().take(140).collect::<String>())
    } else {
        s
    }
}

/// Runs one case on one transport; returns the line to print.
async fn run(case: &Case, db: &D1Database, fake: Option<&FakeD1>) -> String {
    let sent = || fake.map(|f| f.stats().requests);
    let options = MigrationOptions::default();
    if let Expect::SchemaRefused(needle) = &case.expect {
        let before = sent();
        let migrate = db.migrate_table(&case.schema, &options).await.unwrap_err();
        let write = db
            .write_rows(&case.schema, case.upserts.clone(), case.deletes.clone())
            .await
            .unwrap_err();
        for e in [&migrate, &write] {
            match e {
                Error::InvalidSchema { table, problems } => {
                    assert_eq!(table, &case.schema.name);
                    assert!(
                        problems.iter().any(|p| p.to_string().contains(needle)),
                        "{}: {problems:?}",
                        case.name
                    );
                }
                other => panic!("{}: unexpected {other:?}", case.name),
            }
        }
        assert_eq!(sent(), before, "{}: nothing sent", case.name);
        return format!("refused before sending: {}", short(&write));
    }
    db.migrate_table(&case.schema, &options)
        .await
        .unwrap_or_else(|e| panic!("{}: migrate: {e}", case.name));
    let before = sent();
    let written = db
        .write_rows(&case.schema, case.upserts.clone(), case.deletes.clone())
        .await;
    let read = || async {
        let encoding = db.encoding();
        let outcome = db
            .request(vec![select::select_all(&case.schema, encoding)])
            .await
            .unwrap();
        let rows = outcome.results.into_iter().next().unwrap().rows;
        rows.into_iter()
            .map(|r| select::decode_row(&case.schema, r, encoding).unwrap())
            .collect::<Vec<_>>()
    };
    match &case.expect {
        Expect::Stored(want) => {
            let report = written.unwrap_or_else(|e| panic!("{}: write: {e}", case.name));
            let want = sorted(want.clone());
            let back = sorted(read().await);
            assert!(
                back == want,
                "{}: read back\n{back:?}\nwant\n{want:?}",
                case.name
            );
            if let Some(fake) = fake {
                let raw = sorted(
                    fake.query(&format!("SELECT * FROM {}", quote_ident(&case.schema.name))),
                );
                assert!(
                    raw == want,
                    "{}: stored\n{raw:?}\nwant\n{want:?}",
                    case.name
                );
            }
            format!(
                "stored exactly: {} rows in {} request(s)",
                want.len(),
                report.requests
            )
        }
        Expect::Refused(what, check) => {
            let e = written.expect_err(case.name);
            assert!(check(&e), "{}: expected {what}, got {e:?}", case.name);
            assert_eq!(sent(), before, "{}: nothing sent", case.name);
            // Counted, not selected: over HTTP a select of every column can itself pass D1's
            // 100,000-byte SQL limit (the long-names case), while a count cannot.
            assert_eq!(
                db.count_rows(&case.schema.name).await.unwrap(),
                0,
                "{}: table still empty",
                case.name
            );
            format!("refused before sending ({what}): {}", short(&e))
        }
        Expect::NothingSent => {
            let report = written.unwrap();
            assert_eq!((report.requests, report.rows), (0, 0), "{}", case.name);
            assert_eq!(sent(), before, "{}: nothing sent", case.name);
            "no request sent".into()
        }
        Expect::SchemaRefused(_) => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_matrix_on_local_and_http() {
    let cases = cases();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    let mut lines = Vec::new();
    for case in &cases {
        let local = D1Database::in_memory().unwrap();
        let on_local = run(case, &local, None).await;
        let fake = FakeD1::start();
        let on_http = run(case, &fake.database(), Some(&fake)).await;
        println!(
            "- {}\n    local: {on_local}\n    http:  {on_http}",
            case.name
        );
        lines.push(case.name);
    }
    println!("{} cases, each on both transports", lines.len());
}
