//! Database errors carry a kind a caller can match on ([`DatabaseErrorKind`]), D1's code and
//! message, and (locally) SQLite's own error as their source: the same SQL failures give the
//! same kinds on the local transport (SQLite through rusqlite) and over HTTP against the real
//! D1 engine (Miniflare); authentication, rate limits and oversized requests come from the
//! fake D1.

use std::error::Error as _;
use std::time::Duration;

use thread_flow::Statement;
use thread_flow::client::http::RetryPolicy;
use thread_flow::{D1Database, D1Target, DatabaseErrorKind, Error, Value};
use thread_flow_suite::fake_d1::{FakeD1, Fault, FaultPlan};
use thread_flow_suite::miniflare::LocalD1Server;

const SETUP: [&str; 4] = [
    "CREATE TABLE \"parent\" (\"id\" INTEGER PRIMARY KEY) STRICT",
    "CREATE TABLE \"child\" (\"id\" INTEGER PRIMARY KEY, \
     \"parent\" INTEGER NOT NULL REFERENCES \"parent\" (\"id\"), \
     \"n\" INTEGER CHECK (\"n\" > 0), \"u\" TEXT UNIQUE) STRICT",
    "INSERT INTO \"parent\" VALUES (1)",
    "INSERT INTO \"child\" VALUES (1, 1, 1, 'a')",
];

/// One failing statement, the kind it must have, the text SQLite's message must hold, and
/// (for the local transport) SQLite's extended result code.
struct Case {
    name: &'static str,
    sql: String,
    kind: DatabaseErrorKind,
    message: &'static str,
    extended_code: i32,
}

fn cases() -> Vec<Case> {
    use rusqlite::ffi;
    let case = |name, sql: &str, kind, message, extended_code| Case {
        name,
        sql: sql.to_owned(),
        kind,
        message,
        extended_code,
    };
    vec![
        case(
            "unique",
            "INSERT INTO \"child\" VALUES (2, 1, 1, 'a')",
            DatabaseErrorKind::UniqueViolation,
            "UNIQUE constraint failed: child.u",
            ffi::SQLITE_CONSTRAINT_UNIQUE,
        ),
        case(
            "primary key",
            "INSERT INTO \"parent\" VALUES (1)",
            DatabaseErrorKind::UniqueViolation,
            "UNIQUE constraint failed: parent.id",
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
        ),
        case(
            "not null",
            "INSERT INTO \"child\" VALUES (3, NULL, 1, 'c')",
            DatabaseErrorKind::NotNullViolation,
            "NOT NULL constraint failed: child.parent",
            ffi::SQLITE_CONSTRAINT_NOTNULL,
        ),
        case(
            "foreign key",
            "INSERT INTO \"child\" VALUES (4, 99, 1, 'd')",
            DatabaseErrorKind::ForeignKeyViolation,
            "FOREIGN KEY constraint failed",
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
        ),
        case(
            "check",
            "INSERT INTO \"child\" VALUES (5, 1, 0, 'e')",
            DatabaseErrorKind::CheckViolation,
            "CHECK constraint failed",
            ffi::SQLITE_CONSTRAINT_CHECK,
        ),
        case(
            "syntax",
            "SELEC 1",
            DatabaseErrorKind::Syntax,
            "syntax error",
            ffi::SQLITE_ERROR,
        ),
        case(
            "no such table",
            "SELECT * FROM \"missing\"",
            DatabaseErrorKind::NoSuchObject,
            "no such table: missing",
            ffi::SQLITE_ERROR,
        ),
        case(
            "no such column",
            // Unquoted: D1 takes a double-quoted unknown name for a string.
            "SELECT nope FROM \"parent\"",
            DatabaseErrorKind::NoSuchObject,
            "no such column: nope",
            ffi::SQLITE_ERROR,
        ),
    ]
}

async fn setup(db: &D1Database) {
    db.request(SETUP.iter().map(|s| Statement::raw(*s)).collect())
        .await
        .unwrap();
}

async fn fail(db: &D1Database, sql: &str) -> Error {
    db.request(vec![Statement::raw(sql)]).await.expect_err(sql)
}

/// What every transport keeps: the kind, D1's SQL error code and SQLite's message.
fn assert_kind(err: &Error, case: &Case) {
    assert_eq!(
        err.database_kind(),
        Some(case.kind),
        "{}: {err:?}",
        case.name
    );
    match err {
        Error::Api {
            code: Some(7500),
            message,
            kind,
            ..
        } => {
            assert_eq!(*kind, case.kind, "{}", case.name);
            assert!(message.contains(case.message), "{}: {message}", case.name);
        }
        other => panic!("{}: expected a SQL error, got {other:?}", case.name),
    }
    assert!(!err.is_retryable(), "{}: {err}", case.name);
}

#[tokio::test]
async fn local_sql_errors_have_kinds_and_keep_the_sqlite_error_as_source() {
    let db = D1Database::in_memory().unwrap();
    setup(&db).await;
    for case in cases() {
        let err = fail(&db, &case.sql).await;
        assert_kind(&err, &case);
        assert!(matches!(err, Error::Api { status: None, .. }), "{err:?}");
        // The source chain reaches rusqlite's error, with SQLite's extended result code.
        let source = err.source().expect("a local SQL error keeps its source");
        let sqlite = source
            .downcast_ref::<rusqlite::Error>()
            .unwrap_or_else(|| panic!("{}: source is not rusqlite's: {source:?}", case.name));
        let extended_code = match sqlite {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
            rusqlite::Error::SqlInputError { error, .. } => Some(error.extended_code),
            _ => None,
        };
        assert_eq!(
            extended_code,
            Some(case.extended_code),
            "{}: {sqlite:?}",
            case.name
        );
    }
    // Beyond D1's 100,000 bytes of SQL per statement: SQLITE_TOOBIG.
    let long = format!("SELECT '{}'", "x".repeat(100_001));
    let err = fail(&db, &long).await;
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::TooLarge),
        "{err:?}"
    );
    let sqlite = err
        .source()
        .and_then(|s| s.downcast_ref::<rusqlite::Error>());
    assert_eq!(
        sqlite.and_then(rusqlite::Error::sqlite_error_code),
        Some(rusqlite::ErrorCode::TooBig)
    );
    // Over D1's 100 bound parameters.
    let sql = format!("SELECT {}", vec!["?"; 101].join(", "));
    let err = db
        .request(vec![Statement::new(&sql, vec![Value::Integer(1); 101])])
        .await
        .unwrap_err();
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::TooLarge),
        "{err:?}"
    );
    // Nothing of a failed statement was applied.
    let rows = db
        .execute("SELECT count(*) FROM \"child\"", vec![])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Integer(1)]]);
}

#[tokio::test]
async fn miniflare_sql_errors_have_the_same_kinds() {
    let server = LocalD1Server::start().unwrap_or_else(|e| panic!("{e}"));
    let db = server.database().unwrap();
    setup(&db).await;
    for case in cases() {
        let err = fail(&db, &case.sql).await;
        assert_kind(&err, &case);
        assert!(
            matches!(
                err,
                Error::Api {
                    status: Some(400),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.source().is_none(),
            "HTTP errors have D1's code and message only"
        );
    }
    // Beyond D1's 100,000 bytes of SQL per statement: SQLITE_TOOBIG, as on the local one.
    let long = format!("SELECT '{}'", "x".repeat(100_001));
    let err = fail(&db, &long).await;
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::TooLarge),
        "{err:?}"
    );
    match &err {
        Error::Api {
            status: Some(400),
            code: Some(7500),
            message,
            ..
        } => assert!(message.contains("SQLITE_TOOBIG"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    // Over D1's 100 bound parameters.
    let sql = format!("SELECT {}", vec!["?"; 101].join(", "));
    let err = db
        .request(vec![Statement::new(&sql, vec![Value::Integer(1); 101])])
        .await
        .unwrap_err();
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::TooLarge),
        "{err:?}"
    );
    let rows = db
        .execute("SELECT count(*) FROM \"child\"", vec![])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Integer(1)]]);
}

fn assert_no_token(err: &Error, token: &str) {
    assert!(!format!("{err}").contains(token), "{err}");
    assert!(!format!("{err:?}").contains(token), "{err:?}");
}

#[tokio::test]
async fn fake_d1_auth_rate_limit_and_too_large_have_kinds() {
    let fake = FakeD1::start();
    let db = D1Database::http_with(fake.http_config().with_retry(RetryPolicy::never())).unwrap();

    for (fault, status) in [(Fault::Unauthorized, 401), (Fault::Forbidden, 403)] {
        fake.set_faults(FaultPlan::Always(fault));
        let err = fail(&db, "SELECT 1").await;
        assert_eq!(
            err.database_kind(),
            Some(DatabaseErrorKind::Auth),
            "{err:?}"
        );
        match &err {
            Error::Api {
                status: Some(s),
                code: Some(10000),
                message,
                ..
            } => {
                assert_eq!(*s, status);
                assert_eq!(message, "Authentication error");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!err.is_retryable());
        assert_no_token(&err, fake.token());
    }

    fake.set_faults(FaultPlan::Always(Fault::RateLimited {
        retry_after: Some(Duration::from_millis(10)),
    }));
    let err = fail(&db, "SELECT 1").await;
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::RateLimited),
        "{err:?}"
    );
    assert!(
        matches!(
            err,
            Error::Api {
                status: Some(429),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_no_token(&err, fake.token());

    fake.set_faults(FaultPlan::Always(Fault::ServerError {
        status: 503,
        json: false,
    }));
    let err = fail(&db, "SELECT 1").await;
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::Unavailable),
        "{err:?}"
    );

    fake.set_faults(FaultPlan::None);
    // A statement beyond D1's 100,000 bytes: SQLITE_TOOBIG, code 7500.
    let long = format!("SELECT '{}'", "x".repeat(100_001));
    let err = fail(&db, &long).await;
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::TooLarge),
        "{err:?}"
    );
    match &err {
        Error::Api {
            status: Some(400),
            code: Some(7500),
            message,
            ..
        } => assert!(message.contains("SQLITE_TOOBIG"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_no_token(&err, fake.token());
    // Too many bound parameters.
    let sql = format!("SELECT {}", vec!["?"; 101].join(", "));
    let err = db
        .request(vec![Statement::new(&sql, vec![Value::Integer(1); 101])])
        .await
        .unwrap_err();
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::TooLarge),
        "{err:?}"
    );
}

#[tokio::test]
async fn errors_that_are_not_database_errors_have_no_kind() {
    let db = D1Database::in_memory().unwrap();
    let err = db
        .request(vec![Statement::new("SELECT ?", vec![])])
        .await
        .unwrap_err();
    // A wrong parameter count is D1's SQL error, without a more precise kind.
    assert_eq!(
        err.database_kind(),
        Some(DatabaseErrorKind::Other),
        "{err:?}"
    );
    let fake = FakeD1::start();
    let db = fake.database();
    let err = db
        .request(vec![Statement::new(
            "SELECT ?",
            vec![Value::Real(f64::NAN)],
        )])
        .await
        .unwrap_err();
    match &err {
        Error::Parameter {
            statement: 1,
            parameter: 1,
            table: None,
            message,
        } => assert!(message.contains("finite"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.database_kind(), None);
    assert_eq!(
        err.to_string(),
        "cannot send parameter ?1 of statement 1: NaN is not a finite number; D1 cannot \
         store NaN or infinity"
    );
}

#[tokio::test]
async fn a_failed_migration_file_keeps_the_database_error_as_its_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_init.sql"),
        "CREATE TABLE \"t\" (\"id\" INTEGER PRIMARY KEY) STRICT;\n\
         INSERT INTO \"t\" VALUES (1);\nINSERT INTO \"t\" VALUES (1);\n",
    )
    .unwrap();
    let db = D1Database::in_memory().unwrap();
    let err = db.apply_migrations(dir.path()).await.unwrap_err();
    let Error::MigrationFile { file, error, .. } = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(file, "0001_init.sql");
    let inner = error.as_deref().expect("the database's error");
    assert_eq!(
        inner.database_kind(),
        Some(DatabaseErrorKind::UniqueViolation)
    );
    // file -> database error -> rusqlite's error
    let chain: Vec<String> = std::iter::successors(err.source(), |e| (*e).source())
        .map(|e| format!("{e:?}"))
        .collect();
    // ... -> SQLite's result code, which rusqlite gives as its own source.
    assert_eq!(chain.len(), 3, "{chain:?}");
    let code = format!(
        "extended_code: {}",
        rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    );
    assert!(chain[2].contains(&code), "{chain:?}");
    let sqlite = err
        .source()
        .and_then(|e| e.source())
        .and_then(|e| e.downcast_ref::<rusqlite::Error>());
    assert_eq!(
        sqlite.and_then(rusqlite::Error::sqlite_error_code),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    );
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "people")]
struct Person {
    #[d1(primary_key)]
    id: i64,
    #[d1(unique)]
    email: String,
}

/// A table write that breaks a constraint: the error names the table and the first key of the
/// failed batch, and keeps its kind and source.
#[tokio::test]
async fn a_table_write_breaking_a_unique_index_names_the_table_and_keeps_the_kind() {
    let db = D1Database::in_memory().unwrap();
    let people = db.table::<Person>();
    people.migrate().await.unwrap();
    let person = |id: i64, email: &str| Person {
        id,
        email: email.to_owned(),
    };
    people.upsert(&[person(1, "a@example.com")]).await.unwrap();
    let rows: Vec<Person> = (2..=9)
        .map(|i| person(i, &format!("{i}@example.com")))
        .chain([person(10, "a@example.com")])
        .collect();
    let err = people.upsert(&rows).await.unwrap_err();
    match &err {
        Error::Api {
            table,
            first_key,
            kind: DatabaseErrorKind::UniqueViolation,
            message,
            ..
        } => {
            assert_eq!(table.as_deref(), Some("people"));
            assert_eq!(first_key.as_deref(), Some("2"), "the batch's first key");
            assert!(message.contains("people.email"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.source().is_some_and(|s| s.is::<rusqlite::Error>()));
}
