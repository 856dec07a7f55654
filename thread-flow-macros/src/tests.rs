//! Expansion snapshots and whole-pipeline checks of the derives.
//!
//! Snapshots live in `tests/snapshots/*.rs.snap`; regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test -p thread-flow-macros` and review the diff.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use syn::DeriveInput;

type Expand = fn(&DeriveInput) -> Result<TokenStream, TokenStream>;

fn pretty(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(e) => panic!("expansion does not parse as Rust items: {e}\n{tokens}"),
    }
}

fn expand_all(inputs: &[(Expand, DeriveInput)]) -> String {
    let mut out = String::new();
    for (expand, input) in inputs {
        match expand(input) {
            Ok(tokens) => out.push_str(&pretty(tokens)),
            Err(errors) => panic!("`{}` did not expand: {errors}", input.ident),
        }
        out.push('\n');
    }
    out
}

fn assert_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.rs.snap"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create snapshot dir");
        }
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing snapshot {}: {e}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "expansion of `{name}` differs from {} at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             review the change and rerun with UPDATE_SNAPSHOTS=1 to accept it\n\nfull actual \
             expansion:\n{actual}",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line),
        );
    }
}

#[test]
fn snapshot_simple() {
    let input: DeriveInput = syn::parse_quote! {
        /// A user.
        struct User {
            #[d1(primary_key)]
            id: i64,
            name: String,
            email: Option<String>,
        }
    };
    assert_snapshot("simple", &expand_all(&[(crate::row::expand, input)]));
}

#[test]
fn snapshot_composite_key_and_indexes() {
    let input: DeriveInput = syn::parse_quote! {
        #[d1(
            table = "symbols",
            primary_key(file, name, line),
            index(kind, line, where = "kind <> 'test'"),
            unique(file, qualified, name = "symbols_qualified"),
            without_rowid,
        )]
        struct Symbol {
            file: String,
            name: String,
            line: i64,
            kind: String,
            #[d1(index)]
            module: String,
            #[d1(unique)]
            qualified: String,
        }
    };
    assert_snapshot(
        "composite_key_indexes",
        &expand_all(&[(crate::row::expand, input)]),
    );
}

#[test]
fn snapshot_json_enum_renames() {
    let kind: DeriveInput = syn::parse_quote! {
        #[d1(rename_all = "snake_case")]
        enum SymbolKind {
            FreeFunction,
            #[d1(rename = "method")]
            AssociatedFunction,
        }
    };
    let level: DeriveInput = syn::parse_quote! {
        enum Level {
            Low = 1,
            High = 10,
        }
    };
    let id: DeriveInput = syn::parse_quote! {
        struct DocId(i64);
    };
    let doc: DeriveInput = syn::parse_quote! {
        #[d1(rename_all = "camelCase", strict = false, crate = "::tf")]
        struct DocEntry {
            #[d1(primary_key)]
            doc_id: DocId,
            kind: SymbolKind,
            level: Level,
            #[d1(rename = "Title")]
            title_text: String,
            #[d1(json)]
            tags: Vec<String>,
            #[d1(json)]
            extra: Option<std::collections::BTreeMap<String, String>>,
            #[d1(sql_type = "TEXT")]
            size_bytes: u64,
            #[d1(default = -1)]
            score: i32,
            #[d1(default_sql = "CURRENT_TIMESTAMP")]
            created_at: String,
            #[d1(skip)]
            cached: Vec<u8>,
        }
    };
    let out = expand_all(&[
        (crate::value::expand, kind),
        (crate::value::expand, level),
        (crate::value::expand, id),
        (crate::row::expand, doc),
    ]);
    assert_snapshot("json_enum_renames", &out);
}

/// Counts the `compile_error!` invocations in an error expansion.
fn error_messages(tokens: &TokenStream) -> Vec<String> {
    let text = tokens.to_string();
    text.split("compile_error !")
        .skip(1)
        .map(|s| {
            let s = s.trim().trim_start_matches('{').trim();
            s.split(" } ").next().unwrap_or(s).to_string()
        })
        .collect()
}

#[test]
fn every_error_is_reported_in_one_pass() {
    let input: DeriveInput = syn::parse_quote! {
        #[d1(tabel = "x", index(nope))]
        struct Broken {
            #[d1(skip, primary_key)]
            a: i64,
            #[d1(json, sql_type = "TEXT")]
            b: Vec<String>,
            #[d1(sql_type = "TXT")]
            c: String,
            big: u64,
        }
    };
    let errors = match crate::row::expand(&input) {
        Ok(_) => panic!("a broken struct expanded"),
        Err(e) => error_messages(&e),
    };
    let expected = [
        "unknown d1 attribute `tabel`",
        "index names unknown field `nope`",
        "`skip` and `primary_key` cannot be combined",
        "`json` and `sql_type` cannot be combined",
        "unknown sql_type \\\"TXT\\\"; did you mean `TEXT`?",
        "`u64` does not fit",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "no error containing {want:?} in:\n{}",
            errors.join("\n")
        );
    }
    assert_eq!(
        errors.len(),
        expected.len(),
        "errors:\n{}",
        errors.join("\n")
    );
}

#[test]
fn a_valid_struct_has_no_error() {
    let input: DeriveInput = syn::parse_quote! {
        struct Ok1 { #[d1(primary_key)] id: i64 }
    };
    assert!(crate::row::expand(&input).is_ok());
}

/// The names of the `fn by_..` items in an expansion, in order.
fn lookup_names(tokens: &TokenStream) -> Vec<String> {
    let file: syn::File = syn::parse2(tokens.clone()).expect("expansion parses");
    let mut names = Vec::new();
    for item in file.items {
        if let syn::Item::Impl(i) = item
            && i.trait_.is_none()
        {
            for it in i.items {
                if let syn::ImplItem::Fn(f) = it {
                    names.push(f.sig.ident.to_string());
                }
            }
        }
    }
    names
}

#[test]
fn lookups_cover_every_key_and_index_prefix_once() {
    let input: DeriveInput = syn::parse_quote! {
        #[d1(table = "symbols", primary_key(file, start_line, name), index(kind, name),
             unique(file, kind), index(file, start_line, r#type))]
        struct SymbolRow {
            file: String,
            start_line: i64,
            #[d1(index)]
            name: String,
            #[d1(rename = "symbol_kind")]
            kind: String,
            r#type: String,
            #[d1(unique)]
            qualified: String,
            doc: Option<String>,
        }
    };
    let tokens = crate::row::expand(&input).expect("expands");
    assert_eq!(
        lookup_names(&tokens),
        [
            "by_file",
            "by_file_start_line",
            "by_file_start_line_name",
            "by_kind",
            "by_kind_name",
            "by_file_kind",
            "by_file_start_line_type",
            "by_name",
            "by_qualified",
        ]
    );
    // Renamed columns are looked up under their column name.
    assert!(tokens.to_string().contains("\"symbol_kind\""));
}

#[test]
fn a_table_without_indexes_gets_key_lookups_only() {
    let input: DeriveInput = syn::parse_quote! {
        struct Note { #[d1(primary_key)] id: i64, text: String }
    };
    let tokens = crate::row::expand(&input).expect("expands");
    assert_eq!(lookup_names(&tokens), ["by_id"]);
}

#[test]
fn lookups_whose_names_collide_are_an_error() {
    let input: DeriveInput = syn::parse_quote! {
        #[d1(primary_key(a_b, c), index(a, b_c))]
        struct Clash { a_b: i64, c: i64, a: i64, b_c: i64 }
    };
    let errors = match crate::row::expand(&input) {
        Ok(_) => panic!("colliding lookups expanded"),
        Err(e) => error_messages(&e),
    };
    assert_eq!(errors.len(), 1, "errors:\n{}", errors.join("\n"));
    assert!(
        errors[0].contains(
            "the lookup on fields `a`, `b_c` and the lookup on fields `a_b`, `c` would both be \
             named `by_a_b_c`"
        ),
        "{}",
        errors[0]
    );
}

mod fragments {
    //! The rules for SQL strings (`default_sql`, an index's `where`), the same cases the
    //! runtime's SQLite probe (`thread_flow::schema::probe`) accepts and refuses.

    use crate::fragment::{WhereScope, default_problems, where_problems};

    const COLUMNS: &[&str] = &["id", "name"];

    fn scope(has_rowid: bool) -> WhereScope<'static> {
        WhereScope {
            table: "t",
            columns: COLUMNS,
            renamed: &[],
            has_rowid,
        }
    }

    /// Asserts each fragment gets exactly one problem, containing the expected text.
    fn refused(problems: impl Fn(&str) -> Vec<String>, cases: &[(&str, &str)]) {
        for (sql, want) in cases {
            let got = problems(sql);
            assert!(
                got.len() == 1 && got[0].contains(want),
                "{sql:?}: expected one problem containing {want:?}, got {got:#?}"
            );
        }
    }

    #[test]
    fn defaults_sqlite_accepts_pass() {
        for sql in [
            "CURRENT_TIMESTAMP",
            "CURRENT_DATE",
            "'x'",
            "X'00'",
            "-1",
            "+1.5",
            "NULL",
            "TRUE",
            "lower('A')",
            "(1 + 2)",
            "'a;b'",
            "'it''s'",
            "'x' COLLATE NOCASE",
            "'a' -- note\n || 'b'",
            "random()",
            "randomblob(4)",
            "date('now')",
            "strftime('%s', 'now')",
            "max(1, 2)",
            "1 IN (1, 2)",
            "CAST(1 AS TEXT)",
            "CASE WHEN 1 > 0 THEN 'a' ELSE 'b' END",
            "abs(-1) /* block */",
            "1 /**/",
            "  'padded'  ",
        ] {
            let got = default_problems(sql);
            assert!(got.is_empty(), "{sql:?}: {got:#?}");
        }
    }

    #[test]
    fn defaults_that_are_not_one_constant_expression_are_refused() {
        refused(
            default_problems,
            &[
                ("1; DROP TABLE t", "`;` follows the expression"),
                ("1); DROP TABLE x; --", "`)` follows the expression"),
                (
                    r#"X'00', "pwned" TEXT DEFAULT 'x'"#,
                    "`,` follows the expression",
                ),
                ("1), \"pwned\" TEXT, (\"x\"", "`)` follows the expression"),
                ("'a' || 'b' -- trailing\n", "comment that is not closed"),
                ("1 --", "comment that is not closed"),
                ("1 /*", "comment that is not closed"),
                ("1 /*/", "comment that is not closed"),
                ("(1", "not one SQL expression"),
                ("1)", "`)` follows the expression"),
                ("1 +", "not one SQL expression"),
                ("'unterminated", "not valid SQL"),
                ("", "empty"),
                ("name", "cannot read column `name`"),
                ("id + 1", "cannot read column `id`"),
                ("t.id", "cannot read column `t.id`"),
                ("\"x\"", "write text in single quotes"),
                ("(SELECT 1)", "a subquery is not allowed in a default"),
                ("EXISTS (SELECT 1)", "a subquery"),
                ("?", "the parameter `?`"),
                ("count(1)", "the aggregate function `count`"),
                ("max(1)", "the aggregate function `max`"),
            ],
        );
    }

    #[test]
    fn conditions_sqlite_accepts_pass() {
        for sql in [
            "\"name\" IS NOT NULL",
            "name > 'a'",
            "length(\"name\") > 0 AND id > 1",
            "name <> ')'",
            "id /* comment */ > 0",
            "NAME = 'a'",
            "[name] = 'a'",
            "`name` = 'a'",
            "t.id > 0",
            "T.ID > 0",
            "main.t.id > 0",
            "rowid > 0",
            "date(name) > '2020-01-01'",
            "julianday(name) > 1",
            "abs(id) > 1",
            "max(id, 1) > 1",
            "name GLOB 'a*'",
            "id << 1 > 2",
            "id IS NOT 1",
            "id NOTNULL",
            "name ->> '$.a' = 1",
            "id == 1",
            "name LIKE 'a%'",
            "name IS 'a'",
            "id IN (1, 2)",
            "id BETWEEN 1 AND 2",
            "CASE WHEN id > 1 THEN 1 END",
            "CAST(id AS TEXT) = '1'",
            "iif(id > 1, 1, 0)",
            "name COLLATE NOCASE = 'a'",
            "typeof(id) = 'integer'",
            "json_extract(name, '$.a') = 1",
            "NOT id",
            "id % 2 = 0",
            "name || 'x' = 'ax'",
            "TRUE",
        ] {
            let got = where_problems(sql, &scope(true));
            assert!(got.is_empty(), "{sql:?}: {got:#?}");
        }
    }

    #[test]
    fn conditions_sqlite_refuses_are_refused() {
        refused(
            |sql| where_problems(sql, &scope(true)),
            &[
                ("1; DROP TABLE t", "`;` follows the expression"),
                ("1); DROP TABLE x; --", "`)` follows the expression"),
                ("id > 0) WHERE (1", "`)` follows the expression"),
                ("id > 0 --", "comment that is not closed"),
                ("id > 0, 1", "`,` follows the expression"),
                (
                    "1) FROM t; DROP TABLE t; SELECT (1",
                    "`)` follows the expression",
                ),
                ("\"nope\" > 0", "unknown column `nope` (double quotes"),
                ("nmae > 0", "unknown column `nmae`; did you mean `name`?"),
                ("other.id > 0", "`other.id` is not a column of table `t`"),
                ("id > (SELECT 1)", "a subquery is not allowed"),
                ("EXISTS (SELECT 1 FROM t)", "a subquery"),
                ("id IN (SELECT id FROM t)", "a subquery"),
                ("random() > 0", "`random` gives another value"),
                ("changes() > 0", "`changes` gives another value"),
                (
                    "CURRENT_TIMESTAMP > name",
                    "`current_timestamp` gives another value",
                ),
                ("date('now') > name", "`date` of 'now'"),
                ("count(id) > 1", "the aggregate function `count`"),
                ("id > ?", "the parameter `?`"),
                ("id > :key", "the parameter `:key`"),
            ],
        );
    }

    #[test]
    fn rowid_only_in_a_rowid_table() {
        let got = where_problems("rowid > 0", &scope(false));
        assert!(
            got.len() == 1 && got[0].contains("unknown column `rowid`"),
            "{got:#?}"
        );
    }

    #[test]
    fn every_unknown_column_is_named() {
        let got = where_problems("a > 0 AND b > 0 AND id > 0", &scope(true));
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].contains("`a`") && got[1].contains("`b`"), "{got:#?}");
    }
}

/// Every bad SQL string of a struct is reported in one pass, each on its literal.
#[test]
fn every_bad_fragment_is_reported_in_one_pass() {
    let input: DeriveInput = syn::parse_quote! {
        #[d1(
            index(name, where = "nope IS NOT NULL"),
            index(id, name, where = "1); DROP TABLE x; --"),
            index(score, where = "score > 0")
        )]
        struct Doc {
            #[d1(primary_key)]
            id: i64,
            #[d1(default_sql = "id + 1")]
            name: String,
            #[d1(default_sql = "CURRENT_TIMESTAMP")]
            created: String,
            #[d1(rename = "points")]
            score: i64,
        }
    };
    let errors = match crate::row::expand(&input) {
        Ok(_) => panic!("a struct with bad SQL strings expanded"),
        Err(e) => error_messages(&e),
    };
    let expected = [
        "`where`: unknown column `nope`",
        "`where`: this is not one SQL expression: `)` follows the expression",
        "`where`: unknown column `score`: field `score` is stored as column `points`",
        "`default_sql`: a default cannot read column `id`",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "no error containing {want:?} in:\n{}",
            errors.join("\n")
        );
    }
    assert_eq!(
        errors.len(),
        expected.len(),
        "errors:\n{}",
        errors.join("\n")
    );
}
